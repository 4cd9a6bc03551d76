// Small text helpers that every layer needs, written once.
//
//   ascii_lower("Tpm2Cmd")                 == "tpm2cmd"
//   iequals("TPM_RC_LOCKOUT", "tpm_rc_lockout")
//   icontains("WARNING: tpmDriver: ...", "TPMDRIVER")
//   one_line("bad\nname")                  == "bad?name"     // errors stay one line
//   visible("\x1b[31mred")                 == "\\x1b[31mred" // safe on a terminal
//   path_segments("a//b/./c!d", "/!")      == {"a", "b", "c", "d"}
//
// Case folding is ASCII only: log keywords are ASCII, and folding other bytes
// would change UTF-8 text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tpmdiag {

// A line in a buffer: [begin, end) offsets, end at the '\n' or the buffer end;
// index: the '\n' bytes before it in the buffer (0 for its first line).
struct LineSpan {
  size_t begin, end;
  uint64_t index = 0;
};

// What a pass over a whole buffer counted on its way: its '\n' bytes, and
// whether any byte is >= 0x80 (text that may need normalising).
struct TextCounts {
  uint64_t newlines = 0;
  bool high = false;
};

inline char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
inline char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }
std::string ascii_lower(std::string_view s);
void ascii_lower(std::string_view s, std::string& out);  // into out, reusing its memory
bool iequals(std::string_view a, std::string_view b);
bool icontains(std::string_view hay, std::string_view needle);
bool ends_with(std::string_view s, std::string_view suffix);

// Control bytes (below 0x20, and 0x7f) replaced by '?', so a message built
// from file names or quoted input stays one line.
std::string one_line(std::string_view s);

// Text from logs made safe for a terminal: control bytes (ESC, CR, NUL...,
// not tab) as \xNN, so a hostile line cannot move the cursor or recolour.
std::string visible(std::string_view s);

// Length of the valid UTF-8 sequence starting at s[i] (1 for ASCII), or 0
// if it is not one (overlong, surrogate, cut, beyond U+10FFFF).
size_t utf8_len(std::string_view s, size_t i);

// The non-empty segments of a path between any of `separators`, "." dropped.
std::vector<std::string_view> path_segments(std::string_view path, std::string_view separators = "/");

// The candidate closest to `word` for a "did you mean" hint (git's and
// cargo's: case-insensitive edit distance, a swap of neighbours counting
// one), or "" when none is within about a third of its length.
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace tpmdiag
