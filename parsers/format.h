// Line formats as data (like lnav's format files): parsers/formats/*.json.
//
//   {"levels":   {"WARNING": "warning", "In": "info", ...},   level text -> severity
//    "programs": {"vmkernel": "vmkernel", "Hostd": "hostd", ...},  program -> kind
//    "formats": [{
//      "name": "esxi7-vmkernel",
//      "kind": "vmkernel",                      kind when the pattern has no `program`
//      "pattern": "^(?P<ts>\\S+) cpu\\d+:\\d+\\)(?:(?P<level>WARNING|ALERT): )?(?P<message>.*)$",
//      "samples": [{"line": "...", "fields": {"kind": "vmkernel", "severity": "warning",
//                                             "component": "tpmDriver", "message": "..."}}]
//    }]}
//
// Capture names with a meaning: ts, level, program, host, component, message.
// Formats are tried in file order; the first full match wins. A line no format
// matches is still an Event: kind unknown, message = the whole line.
//
//   auto formats = load_formats(files);          // Result<FormatSet>
//   Event ev; formats->parse(line, ev);          // never fails
#pragma once

#include <memory>
#include <re2/re2.h>
#include <string>
#include <vector>

#include "common/error.h"
#include "parsers/event.h"
#include "rules/rule.h"  // DataFile

namespace tpmdiag {

struct FormatSample {
  std::string line;
  std::map<std::string, std::string> fields;  // kind, severity, host, component, message, ts
};

struct Format {
  std::string name;
  std::string file;
  SourceKind kind = SourceKind::unknown;
  std::unique_ptr<RE2> re;
  int ts = -1, level = -1, program = -1, host = -1, component = -1, message = -1;  // capture indexes
  std::vector<FormatSample> samples;
};

class FormatSet {
 public:
  // Fills ev (everything but input/line) from one line (no trailing newline).
  void parse(std::string_view line, Event& ev) const;

  // Checks every format's samples; returns one message per failure.
  std::vector<std::string> self_test() const;

  const std::vector<Format>& formats() const { return formats_; }

 private:
  friend Result<FormatSet> load_formats(const std::vector<DataFile>& files);
  bool try_format(const Format& f, std::string_view line, Event& ev) const;

  std::vector<Format> formats_;
  std::map<std::string, Severity, std::less<>> levels_;
  std::map<std::string, SourceKind, std::less<>> programs_;
  int max_groups_ = 0;
};

Result<FormatSet> load_formats(const std::vector<DataFile>& files);

}  // namespace tpmdiag
