// Timestamps without strptime or locale: the hot path parses ISO 8601 / RFC 3339
// by hand.
//
//   parse_iso8601("2021-10-29T19:41:04.933Z")      -> 1635536464933
//   parse_iso8601("2020-04-14T12:48:16.306-06:00") -> UTC ms (offset applied)
//   parse_iso8601("YYYY-MM-DDTHH:MM:SS.007Z")      -> nullopt (KB placeholder)
//   format_iso8601(1635536464933)                  -> "2021-10-29T19:41:04.933Z"
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tpmdiag {

// Parses `YYYY-MM-DD[T ]hh:mm[:ss[.fraction]][Z|±hh:mm|±hhmm]` at the start of
// text. A missing zone means UTC (ESXi writes UTC). Returns milliseconds since
// the Unix epoch, or nullopt when text is not such a timestamp. `consumed`, if
// given, receives the number of characters parsed.
std::optional<int64_t> parse_iso8601(std::string_view text, size_t* consumed = nullptr);

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);

std::string format_iso8601(int64_t ms);
// The same text in a buffer of its own, for writers that copy it at once
// (a report writes two per fact; the string did not fit in place).
struct IsoText {
  char text[96];
  size_t size;
  std::string_view view() const { return {text, size}; }
};
IsoText iso8601_text(int64_t ms);

// RFC 3164 (BSD syslog) timestamp `Mmm dd hh:mm:ss[.fraction]` (day may be
// space-padded: `Nov  6`), month names parsed by hand (English, as the RFC
// fixes them; no locale). It has no year and no zone, so it is not an
// absolute time: callers keep it as text and give the event no timestamp
// unless a year can be justified (see docs/formats.md).
//
//   parse_rfc3164("Nov 26 07:33:25 esx01 ...", &n) -> {11, 26, 7, 33, 25, 0}, n = 15
struct Rfc3164Time {
  int month = 0, day = 0, hour = 0, minute = 0, second = 0, ms = 0;
};
std::optional<Rfc3164Time> parse_rfc3164(std::string_view text, size_t* consumed = nullptr);

// UTC milliseconds of an RFC 3164 time in a given year (when the caller knows it).
int64_t rfc3164_to_ms(const Rfc3164Time& t, int year);

// Epoch number from a forwarder (seconds, milliseconds or microseconds; told
// apart by magnitude: < 1e11 seconds, < 1e14 ms, else µs) -> UTC ms.
std::optional<int64_t> epoch_to_ms(double value);

}  // namespace tpmdiag
