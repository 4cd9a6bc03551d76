// A format head's captures in one backtracking pass, for the lines RE2
// would match with its DFA and then its capturing engine (~860 ns a line of
// ESXi's formats, most of what parsing it cost; this takes ~190 ns), and a
// quick no from the heads of the formats a line is not in.
//
//   auto h = HeadMatcher::compile("(?P<ts>\\S+) cpu(\\d+):");
//   re2::StringPiece g[3];
//   switch (h->match("2024-01-01T00:00:00Z cpu3:1234)x", g, 3)) {
//     case HeadMatcher::Result::match: ...     // g[0] "2024-...Z cpu3:", g[1] the time, g[2] "3"
//     case HeadMatcher::Result::no_match: ...  // as RE2 would say, ANCHOR_START
//     case HeadMatcher::Result::gave_up: ...   // ask RE2
//   }
//
// RE2 stays the reference. compile() returns null for a pattern outside the
// subset below, and match() gives up where the subset does not model what
// RE2 would do: a byte >= 0x80 or '\n' that a class must judge, more steps
// than the line's length allows (a pattern that backtracks badly), or more
// choices to go back to than it keeps (1024, on the stack: its memory does
// not grow with the line).
//
// The subset, in RE2's syntax and default options (UTF-8, leftmost-first,
// case-sensitive): ASCII literals, `.`, \d \D \s \S \w \W, \t \n \r \f \v and
// escaped punctuation, classes [...] of those and of ranges, groups (...),
// (?:...) and (?P<name>...), `|`, ? * + {n} {n,} {n,m} greedy or lazy, and
// ^ $ \A \z \b \B. Not: flags, \p, \x, \Q, POSIX classes, other bytes; a
// repetition of something that can match empty; a capture repeated (in a
// group under * + or {n,m} with m > 1). Within it, the first match a
// backtracker finds trying alternatives in order (Perl's) is the one RE2's
// leftmost-first semantics define, captures included.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <re2/stringpiece.h>

namespace tpmdiag {

class HeadMatcher {
 public:
  enum class Result : uint8_t { match, no_match, gave_up };

  // Null when the pattern is outside the subset (or not valid RE2 syntax).
  static std::unique_ptr<HeadMatcher> compile(std::string_view pattern);

  // The pattern matched at the start of text; on a match g[0, n) are set as
  // RE2::Match(text, 0, size, ANCHOR_START, g, n) sets them (unset groups
  // null), else g is left as it was.
  Result match(std::string_view text, re2::StringPiece* g, int n) const;

  int groups() const { return groups_; }  // capturing groups, as RE2 counts them

  // Instructions and classes are public for the compiler in head_match.cc.
  enum class Op : uint8_t { cls, lit, rep, split, jmp, save, assert, match };
  enum class Assert : uint8_t { text_start, text_end, word_boundary, not_word_boundary };
  struct Inst {
    Op op;
    bool greedy = true;
    uint16_t cls = 0;        // cls, rep: index into classes_; assert: \w's
    int32_t x = 0, y = 0;    // split: first and second choice; jmp: target; save: slot;
                             // assert: an Assert;
                             // lit: offset and length in lits_
    uint32_t min = 0, max = 0;  // rep: count bounds (max UINT32_MAX: unbounded)
  };
  // Per byte: 0 no, 1 yes, 2 give up.
  struct Class {
    uint8_t test[256];
  };
  // What the match can go on with from an instruction: the bytes it may
  // take first, and whether it may end without taking one. A choice whose
  // side cannot go on with the next byte is not tried (or kept to go back to).
  struct First {
    uint64_t bytes[4] = {};
    bool empty = false;
  };

 private:
  std::vector<Inst> prog_;
  std::vector<Class> classes_;
  std::vector<First> first_;
  std::string lits_;
  int groups_ = 0;
};

}  // namespace tpmdiag
