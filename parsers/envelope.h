// Envelopes: the wrappers a relay or forwarder puts around an ESXi line, for
// the parts that are not practical as a regex (DESIGN.md §2 "parse").
//
// The syslog headers themselves (RFC 5424, RFC 3164, ESXi's pre-8 hybrid,
// rsyslog's file templates) are regexes in parsers/formats/syslog.json. What
// lives here is what a regex cannot do:
//   * JSON Lines from forwarders (Vector, Fluent Bit, rsyslog jsonf, syslog-ng
//     format-json, journald): a JSON object must be parsed and its strings
//     unescaped, which needs storage; the key names are data (json.json).
//   * RFC 5424 structured-data parameters: values carry `\"`, `\\` and `\]`
//     escapes that must be removed, again into storage.
//   * PRI arithmetic (severity = PRI mod 8).
//
//   JsonUnwrapper json;                            // one per thread; reuse it
//   JsonRecord rec;
//   if (json.unwrap(keys, line, rec)) use(rec.message, rec.host, rec.time_ms);
//
// Views in a JsonRecord point into the unwrapper's buffers and stay valid
// until its next unwrap(); after warm-up unwrap() does not allocate.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parsers/event.h"

namespace tpmdiag {

// Which JSON keys hold what, in order of preference. A key may be a dotted
// path ("host.name"): tried as a literal key first, then as nested objects.
// A host key whose value is an object yields its "name" (or "hostname").
struct JsonKeys {
  std::vector<std::string> message, host, time, program, severity;
};

struct JsonRecord {
  std::string_view message;
  std::string_view host;
  std::string_view program;
  std::string_view time_text;       // the time as written (string, or the number's digits)
  std::optional<int64_t> time_ms;   // ISO 8601 string, or epoch s/ms/µs number (or digit string)
  std::string_view severity_text;   // a level word ("error"), or empty
  int severity_num = -1;            // a syslog severity number 0..7 (journald PRIORITY), or -1
};

class JsonUnwrapper {
 public:
  JsonUnwrapper();
  ~JsonUnwrapper();
  JsonUnwrapper(const JsonUnwrapper&) = delete;
  JsonUnwrapper& operator=(const JsonUnwrapper&) = delete;

  // True when line is a JSON object with a string under one of keys.message.
  // Never throws; malformed JSON is simply not unwrapped.
  bool unwrap(const JsonKeys& keys, std::string_view line, JsonRecord& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Value of parameter `name` in RFC 5424 structured data (`[id k="v" ...]...`),
// first element that has it. Escapes are removed into storage (only when the
// value has any; otherwise the result is a view into sd). Empty if absent.
std::string_view sd_param(std::string_view sd, std::string_view name, std::string& storage);

// Severity of a syslog PRI ("166" -> info); none when not a number 0..191.
Severity severity_from_pri(std::string_view pri);

// Syslog severity number 0..7 -> Severity.
Severity severity_from_syslog(int n);

}  // namespace tpmdiag
