// Event: one log record, whatever format it came in (DESIGN.md §2 "parse").
//
// Every parsed line becomes an Event, even one with no recognisable prefix
// (kind `unknown`, message = the whole line), so a rule can still match a
// message pasted bare from a KB article or a forum post.
//
// Views point into the caller's line buffer, or into the parser's per-line
// scratch (JSON-unescaped text, joined multi-line records), and are valid only
// until that line buffer changes or the scratch parses the next line; copy
// what must outlive them (matcher.h's Fact does).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tpmdiag {

// Which log (or which kind of pasted text) a line comes from.
enum class SourceKind : uint8_t {
  unknown,     // no recognisable prefix: pasted bare message
  vmkernel,
  vmkwarning,
  hostd,
  vpxa,
  vobd,
  vpxd,
  syslog,      // another program's syslog line
  ui,          // vCenter UI / alarm sentence
  psod,        // purple-screen / boot console text
  esxcli,      // esxcli / vsish / script output
  bmc,         // platform firmware / BMC log
};

std::string_view kind_name(SourceKind k);
std::optional<SourceKind> kind_from_name(std::string_view name);

enum class Severity : uint8_t { none, debug, info, notice, warning, error, critical, alert, emergency };

std::string_view severity_name(Severity s);
std::optional<Severity> severity_from_name(std::string_view name);

struct Event {
  std::string_view input;      // input name (file path, "-", bundle!member)
  uint64_t line = 0;           // 1-based line number in that input
  SourceKind kind = SourceKind::unknown;
  std::string_view host;       // empty when the line does not say
  std::optional<int64_t> ts_ms;  // UTC milliseconds since the epoch; none if absent/placeholder
  std::string_view ts_text;    // the timestamp as written
  Severity severity = Severity::none;
  std::string_view component;  // tpmDriver, Hostsvc.Tpm20Provider, Libs, ...
  std::string_view message;    // text after the prefix: what rules match
  std::string_view raw;        // the whole line (a joined record: its lines, '\n'-separated)

  // Set by the parser for the scanner's joining of multi-line records
  // (pipeline/scanner.h): the writer's program and process/thread id as the
  // line names them, and whether the line continues an earlier record
  // (`-->` payload, or ESXi 8's `+` line marker).
  std::string_view program;
  std::string_view proc_id;
  bool continuation = false;
};

}  // namespace tpmdiag
