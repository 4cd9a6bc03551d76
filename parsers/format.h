// Line formats as data (like lnav's format files): parsers/formats/*.json.
//
//   {"levels":   {"WARNING": "warning", "In": "info", ...},   level text -> severity
//    "programs": {"vmkernel": "vmkernel", "Hostd": "hostd", ...},  program -> kind
//    "formats": [{
//      "name": "esxi7-vmkernel",
//      "type": "line",                          line | envelope | fragment | json (default line)
//      "kind": "vmkernel",                      kind when the program names none
//      "pattern": "^(?P<ts>\\S+) cpu\\d+:\\d+\\)(?:(?P<level>WARNING|ALERT): )?(?P<message>.*)$",
//      "samples": [{"line": "...", "fields": {"kind": "vmkernel", "severity": "warning",
//                                             "component": "tpmDriver", "message": "..."}}]
//    }]}
//
// Capture names with a meaning: ts, level, pri (syslog PRI digits), program,
// pid, host, component, sd (RFC 5424 structured data: its `sub` parameter
// becomes the component), message. `-` in host/program/pid is syslog's NIL.
//
// Types, and the order they are tried in (file order within a type):
//   json      (only for lines starting with `{`) a JSON object from a forwarder;
//             no pattern: "keys" lists where message/host/time/program/severity
//             live. The message is parsed again as an envelope or a line.
//   line      an ESXi log line (vmkernel, hostd, vobd, vpxd, ... any version).
//   envelope  a syslog header (RFC 5424, RFC 3164, pre-8 hybrid, rsyslog file
//             templates); its message is parsed again as a line or fragment.
//             The header gives host; the program (tag) gives the kind when
//             `programs` knows it; the payload's own timestamp, severity and
//             component win over the header's (they are the original ones).
//   fragment  pasted text with a recognisable shape (esxcli prompt, PSOD, UI).
// A line no format matches is still an Event: kind unknown, message = the line.
// A message starting with `-->` (after the prefix) marks a continuation line;
// so does ESXi 8's `+` line marker (capture named cont). The scanner joins
// continuations to their parent record (pipeline/scanner.h).
//
// Loading runs every sample: a format whose samples do not parse to their
// fields (or are taken by another format) is a load error that names file,
// format, sample and field.
//
//   auto formats = load_formats(files);          // Result<FormatSet>
//   ParseScratch scratch;                        // one per thread, reused per line
//   Event ev; formats->parse(line, ev, scratch); // never fails
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <re2/re2.h>
#include <string>
#include <vector>

#include "common/error.h"
#include "parsers/envelope.h"
#include "parsers/event.h"
#include "parsers/head_match.h"
#include "common/data_files.h"

namespace tpmdiag {

struct FormatSample {
  std::string line;
  // kind, severity, host, component, message, ts ("none" or ISO), ts_text,
  // program, continuation ("true"/"false")
  std::map<std::string, std::string> fields;
};

enum class FormatType : uint8_t { json, line, envelope, fragment };

struct FormatGroups;  // a match's captures (format.cc)

struct Format {
  std::string name;
  std::string file;
  FormatType type = FormatType::line;
  SourceKind kind = SourceKind::unknown;
  std::string pattern;      // empty for json
  JsonKeys keys;            // json only
  std::vector<FormatSample> samples;

  // The pattern, compiled on first use (a paste meets few of the formats);
  // null if it does not compile, with `error` saying why. Then `re` and the
  // capture indexes below are set, and stay so.
  const RE2* compiled() const;
  // Matches the whole line; fills g[0, n) with the pattern's captures. By
  // default with the head when the pattern has one (trailing_any.h: the same
  // captures, faster), by its backtracker or else RE2; reference = the whole
  // pattern in RE2 only, for tests.
  // known: the whole pattern is known to match (FormatSet asked RE2::Set).
  bool match(std::string_view line, re2::StringPiece* g, int n, bool reference = false, bool known = false) const;
  mutable std::unique_ptr<RE2> re;
  // The pattern without a trailing `.*`, if exact, in RE2; compiled when a
  // line first matches the pattern and the backtracker cannot say.
  const RE2* compiled_head() const;
  mutable std::unique_ptr<RE2> head;
  // What the head's backtracker (head_match.h) alone says of the whole
  // pattern on a line: no (its head matches no start of the line), yes
  // (g[0, n) set as match() sets them), or unknown (RE2 must say).
  enum class Quick : uint8_t { no, yes, unknown };
  Quick quick(std::string_view line, re2::StringPiece* g, int n) const;
  // Set with `re` when the pattern splits (trailing_any.h); the head's
  // backtracker, when the head is in its subset.
  mutable std::string head_pattern;
  mutable std::unique_ptr<HeadMatcher> fast_head;
  mutable std::vector<int> head_spanning;  // its groups that end at the line's end
  // The head matched at the line's start (g[0, n)): true if the rest is
  // text `.*` matches, then g is the whole pattern's captures.
  bool spans_rest(std::string_view line, re2::StringPiece* g, int n) const;
  std::unique_ptr<std::once_flag> head_once = std::make_unique<std::once_flag>();
  mutable int ts = -1, level = -1, pri = -1, program = -1, pid = -1, host = -1, component = -1, sd = -1,
      cont = -1, message = -1;  // capture indexes
  mutable std::string error;
  std::unique_ptr<std::once_flag> once = std::make_unique<std::once_flag>();
};

// Per-thread parse state: the JSON parser and buffers for text that must be
// unescaped. Events parsed with it point into it until its next parse.
class ParseScratch {
 public:
  ParseScratch() = default;

 private:
  friend class FormatSet;
  JsonUnwrapper json_;
  std::string sd_;
  std::vector<int> set_hits_;
  // Lines still to send straight to RE2::Set, per depth (a line, a JSON
  // record's message, an envelope's payload): set when the fast heads could
  // not decide a line, or decided it late in the formats' order, since the
  // next lines are likely of that shape too.
  uint32_t set_first_[3] = {0, 0, 0};
};

class FormatSet {
 public:
  FormatSet();
  ~FormatSet();
  FormatSet(FormatSet&&) noexcept;
  FormatSet& operator=(FormatSet&&) noexcept;

  // Fills ev (everything but input/line) from one line (no trailing newline).
  // Auto-detects the format, or tries only `only` (a forced --input-format;
  // an envelope's or JSON's payload is still auto-detected). Returns the
  // outermost format that matched, or null (kind unknown, message = line).
  const Format* parse(std::string_view line, Event& ev, ParseScratch& scratch,
                      const Format* only = nullptr) const;

  // The same with a thread-local scratch: for tests and one-off lines.
  const Format* parse(std::string_view line, Event& ev) const;

  // A format by name, or null.
  const Format* find(std::string_view name) const;

  // How many lines are parsed before detect() compiles its set (default
  // 1000; 0: at once, UINT64_MAX: never). Set it before the first parse.
  void detect_after(uint64_t lines);
  // false: every line goes to detect() and the formats it names, none is
  // decided by the formats' fast heads asked in order (for tests).
  void quick_first(bool on) { quick_first_ = on; }

  // Checks every format's samples; returns one message per failure.
  std::vector<std::string> self_test() const;

  const std::vector<Format>& formats() const { return formats_; }

 private:
  friend Result<FormatSet> load_formats(const std::vector<DataFile>& files, bool check_samples);
  enum class Depth { top, json_payload, payload };
  const Format* parse_at(std::string_view line, Event& ev, ParseScratch& s, Depth depth,
                         const Format* only) const;
  // ev from a line format f matched with captures g.
  bool fill(const Format& f, std::string_view line, const FormatGroups& g, Event& ev, ParseScratch& s) const;
  void fill_regex(const Format& f, std::string_view line, const FormatGroups& g, Event& ev, ParseScratch& s) const;
  bool fill_envelope(const Format& f, const FormatGroups& g, Event& ev, ParseScratch& s) const;
  // Which formats' patterns match the whole line, in one pass of RE2::Set
  // (bit i: formats_[i]), once this set has parsed enough lines to pay for
  // compiling every pattern (a paste meets few formats); nullopt: ask each
  // format (not yet, more than 64 formats, or the set ran out of memory).
  std::optional<uint64_t> detect(std::string_view line, ParseScratch& s) const;
  struct Detect;
  std::unique_ptr<Detect> detect_;
  bool try_json(const Format& f, std::string_view line, Event& ev, ParseScratch& s) const;
  Severity level_of(std::string_view text) const;
  SourceKind kind_of_program(std::string_view program) const;

  bool quick_first_ = true;
  std::vector<Format> formats_;  // sorted by type (json, line, envelope, fragment), then file order
  std::map<std::string, Severity, std::less<>> levels_;
  std::map<std::string, SourceKind, std::less<>> programs_;
};

// check_samples=false leaves the samples to `tpmdiag rules test` (the build
// runs it on the embedded formats, so their samples cost no start-up).
Result<FormatSet> load_formats(const std::vector<DataFile>& files, bool check_samples = true);

}  // namespace tpmdiag
