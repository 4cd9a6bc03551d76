// The scanner: framing, prefilter, parse and match for one input stream
// (DESIGN.md §2 from "framing" to "match").
//
// It reads a ByteSource into one reusable buffer, hands runs of whole lines to
// the matcher's prefilter, and parses only the candidate lines it reports. No
// per-line allocation happens for lines that cannot matter, and none for
// candidates once its buffers are warm.
//
// Multi-line records. hostd/vpxa/vpxd write a record over several lines,
// continued with `-->` (6.x/7.x: bare `   --> text` lines right after the
// first; 8.x: `TS In(166) Hostd[TID]: --> text`, possibly interleaved with
// other threads' lines), and ESXi 8 marks continuation lines with `+` after
// the severity. The scanner joins a record into one Event (message and raw
// text joined with '\n'; line number of the first line), whichever of its
// lines the prefilter found:
//   * a candidate first line takes the continuations that follow it: bare
//     `-->` lines only while adjacent (to it or to a line it took); keyed
//     lines (same host, program and process id) across up to kLookahead
//     lines of other writers, until a line names the same writer without a
//     continuation marker (its next record); all within kLookback lines;
//   * a candidate continuation looks back (up to kLookback lines) for its
//     first line and joins the whole record from there (from a bare line
//     after a keyed continuation, the keyed one's first line); a JSON record
//     is never a first line;
//   * a record is emitted once even when several of its lines are candidates.
// Both paths build each record by these rules, so the prefiltered path,
// which reaches a record from any of its candidate lines, finds the record
// the reference path builds from its first line.
// Limit: joining sees only the current read buffer (about 1 MiB of whole
// lines); a record split across two buffers is matched as two parts, and a
// continuation whose first line is out of reach is an Event of its own.
// Repeated lines. A log can hold the same TPM error a million times; keeping
// each as a fact would cost memory linearly. The scanner keeps the first
// keep_same facts with the same host, rule and fields in a window (reset at every
// line of a rule marked "window", so each boot keeps its own copies), and
// counts the later ones on the last copy (Fact::repeats, last_line), in line
// order whatever order the records were found in. At most
// max_facts facts are kept per input; more are counted as dropped, except
// symptoms, proofs of a fix and window marks (what a verdict rests on), kept up
// to kNeededFactor x max_facts; when even those are dropped, the input is
// marked incomplete, so the verdict never changes silently.
// Text copied from web pages and mail (no-break spaces, zero-width
// characters, curly quotes) is matched as its normalised text
// (common/normalize.h); evidence keeps the bytes as read. Such a line is
// found by a check fused into the newline count, prefiltered as normalised
// text after the block's other lines, and joined into records as any line is
// (multi-line joining reads every line as its normalised text).
// JSON records are never joined (each is one record). Joined records, and
// messages that are not a substring of the line (JSON-unescaped), are
// prefiltered again on the text the rules will see.
//
//   Scanner sc(matcher, formats, opts);
//   std::vector<Fact> facts; InputStats stats;
//   Status s = sc.scan(*src, "vmkernel.log", 0, facts, stats);   // facts kept even on error
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "parsers/format.h"
#include "parsers/source.h"
#include "rules/fact.h"
#include "rules/matcher.h"

namespace tpmdiag {

struct ScanOptions {
  size_t max_line = 1 << 20;  // longer lines are cut here, matched on their start, flagged
  bool prefilter = true;      // false: parse and match every line (the reference path)
  bool force_prefilter = false;  // prefilter inputs below the size at which it pays off
                                 // too (self-tests, differential tests)
  std::string host;           // host for lines that do not name one
  SourceKind kind_hint = SourceKind::unknown;  // kind for lines no format recognises
  std::string input_format;   // a format name (--input-format) to force, or "" / "auto"
  size_t keep_same = 4;        // identical facts kept per window before they are only counted
  size_t max_facts = 20000;    // facts kept per input; more are counted as dropped
};

struct InputStats {
  uint64_t bytes = 0;       // decompressed bytes scanned
  uint64_t lines = 0;
  uint64_t candidates = 0;  // lines the prefilter passed to the parser
  uint64_t cut_lines = 0;   // lines longer than max_line
  uint64_t repeated_facts = 0;  // matches folded into an identical earlier fact
  uint64_t dropped_facts = 0;   // matches not kept: over max_facts
  uint64_t dropped_needed = 0;  // of those, symptoms, proofs or window marks (over
                                // kNeededFactor x max_facts): the input is incomplete
};

class Scanner {
 public:
  Scanner(const Matcher& matcher, const FormatSet& formats, ScanOptions opts);

  Status scan(ByteSource& src, const std::string& input, uint32_t input_seq,
              std::vector<Fact>& facts, InputStats& stats);
  // The same over bytes already in memory (a mapped file, or a range of one
  // that starts at a line start); nothing is copied. `done`, if set, is told
  // after each block how far the bytes are no longer needed (for releasing
  // mapped pages as the scan goes).
  void scan_memory(const char* data, size_t n, const std::string& input, uint32_t input_seq,
                   std::vector<Fact>& facts, InputStats& stats,
                   const std::function<void(const char* upto)>& done = {});

 private:
  struct Cand {
    size_t begin, end;         // the line in the block
    uint64_t index;            // the '\n' bytes before it in the block
    size_t atoms_at, atoms_n;  // its atoms in cand_atoms_
  };
  uint64_t cut_long_lines(const char* data, size_t n);
  // Scans whole lines [data, data + n); returns the number of '\n' in them.
  uint64_t block(const char* data, size_t n, uint64_t first_line, const std::string& input,
             uint32_t input_seq, std::vector<Fact>& facts, InputStats& stats);
  // One record from the line [begin, end) of the block, read as `text` (the
  // line, or its normalised text) holding the atoms line_atoms.
  void record(const char* data, size_t n, size_t begin, size_t end, std::string_view text,
              std::span<const int> line_atoms, uint64_t number, const std::string& input,
              uint32_t input_seq, std::vector<Fact>& facts);
  // Parses a line as its normalised text; ev.raw keeps the bytes.
  const Format* parse_line(std::string_view raw, Event& ev, ParseScratch& scratch, std::string& buf);
  // The first line of the record the continuation at `at` (a bare `-->`
  // line, or a line of cont's writer) belongs to, up to `budget` lines above.
  bool find_parent(const char* data, size_t at, const Event& cont, bool bare, size_t& parent, int budget);
  bool look_up(const char* data, size_t at, const Event& cont, bool bare, size_t& parent, int budget, int& dist);
  void join_forward(const char* data, size_t n, size_t parent_end, Event& ev);
  void emit(Event& ev, const std::vector<int>* atoms, const std::string& input, uint32_t input_seq,
            std::vector<Fact>& facts);
  void normalized_lines(const char* data, size_t n, uint64_t first_line, const std::string& input,
                        uint32_t input_seq, std::vector<Fact>& facts, InputStats& stats);
  void fold(std::vector<Fact>& facts, uint64_t upto);
  size_t keep_new(std::vector<Fact>& facts, size_t before, size_t to);
  void start_input(std::vector<Fact>& facts, InputStats& stats);
  void end_input();

  const Matcher& matcher_;
  const FormatSet& formats_;
  ScanOptions opts_;
  const Format* forced_ = nullptr;
  Matcher::Scratch scratch_;
  std::unique_ptr<char[]> buf_;  // read buffer of scan(): grows, never zero-filled
  size_t buf_cap_ = 0;
  bool prefilter_ = true;  // this scan uses the prefilter (not for tiny inputs)
  // Reused per block / per record (no per-line allocation once warm).
  ParseScratch head_, look_, hop_;
  std::vector<Cand> cands_;
  std::vector<int> cand_atoms_, atoms_;
  // Line starts in the block, sorted: continuation lines joined into an
  // emitted record, first lines of emitted records; and the lines the last
  // join_forward joined.
  std::vector<size_t> covered_, emitted_, joined_;
  std::vector<int> norm_atoms_;
  // The last find_parent of a bare and of a keyed continuation in the block.
  struct ParentMemo {
    size_t at = SIZE_MAX;  // the continuation searched from
    int budget = 0;        // lines searched up to
    bool found = false;
    size_t parent = 0;
    int dist = 0;  // lines from `at` up to parent
    std::string program, proc_id, host;  // keyed: the writer
  };
  ParentMemo bare_memo_, keyed_memo_;
  std::string join_msg_, join_raw_, norm_, norm_parent_, norm_look_, norm_hop_, norm_msg_;
  // Facts of the current input: identical ones seen in the current window
  // (signature -> index of the last kept copy, copies kept), and the count.
  std::unordered_map<std::string, std::pair<size_t, size_t>> same_;
  std::string sig_;
  size_t first_fact_ = 0;
  size_t pending_ = 0;  // facts of the block from here on are not folded yet
  InputStats* stats_ = nullptr;
};

// Past max_facts, facts a verdict rests on are still kept, up to this many
// times max_facts (see "Repeated lines" above).
inline constexpr size_t kNeededFactor = 4;

// Limits of multi-line joining (see above).
inline constexpr int kLookahead = 16;     // lines after a record's last line searched for more
inline constexpr int kMaxJoinLines = 64;  // continuation lines joined into one record
// Lines a record spans below its first, and so lines before a continuation
// searched for its first line: a continuation further down is a record of
// its own (on both paths: the prefiltered one reaches a record from it).
inline constexpr int kLookback = kMaxJoinLines + kLookahead;
inline constexpr size_t kMaxJoinBytes = 64 * 1024;


}  // namespace tpmdiag
