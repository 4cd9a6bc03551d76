// The scanner: framing, prefilter, parse and match for one input stream
// (DESIGN.md §2 from "framing" to "match").
//
// It reads a ByteSource into one reusable buffer, hands runs of whole lines to
// the matcher's prefilter, and parses only the candidate lines it reports. No
// per-line allocation happens for lines that cannot matter.
//
//   Scanner sc(matcher, formats, opts);
//   std::vector<Fact> facts; InputStats stats;
//   Status s = sc.scan(*src, "vmkernel.log", 0, facts, stats);   // facts kept even on error
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "parsers/format.h"
#include "parsers/source.h"
#include "rules/matcher.h"

namespace tpmdiag {

struct ScanOptions {
  size_t max_line = 1 << 20;  // longer lines are cut here, matched on their start, flagged
  bool prefilter = true;      // false: parse and match every line (the reference path)
  std::string host;           // host for lines that do not name one
  SourceKind kind_hint = SourceKind::unknown;  // kind for lines no format recognises
};

struct InputStats {
  uint64_t bytes = 0;       // decompressed bytes scanned
  uint64_t lines = 0;
  uint64_t candidates = 0;  // lines the prefilter passed to the parser
  uint64_t cut_lines = 0;   // lines longer than max_line
};

class Scanner {
 public:
  Scanner(const Matcher& matcher, const FormatSet& formats, ScanOptions opts);

  Status scan(ByteSource& src, const std::string& input, uint32_t input_seq,
              std::vector<Fact>& facts, InputStats& stats);

 private:
  void block(const char* data, size_t n, uint64_t first_line, const std::string& input,
             uint32_t input_seq, std::vector<Fact>& facts, InputStats& stats);
  void line(std::string_view text, uint64_t number, const std::vector<int>* atoms,
            const std::string& input, uint32_t input_seq, std::vector<Fact>& facts);

  const Matcher& matcher_;
  const FormatSet& formats_;
  ScanOptions opts_;
  Matcher::Scratch scratch_;
  std::vector<char> buf_;
};

// Number of '\n' bytes in [p, p + n).
uint64_t count_newlines(const char* p, size_t n);

}  // namespace tpmdiag
