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

}  // namespace tpmdiag
