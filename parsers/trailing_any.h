// A pattern that ends in `.*` (often `(?P<message>.*)`) makes RE2's capturing
// engines walk every byte of the line's message, one step per byte: most of
// the cost of parsing a line. The same captures come from the pattern without
// that `.*`, matched at the start of the line, when what follows its match is
// text `.` matches: the groups around the `.*` then end at the line's end.
//
//   auto t = split_trailing_any("(?P<ts>\\S+) (?P<message>(?:(?P<c>\\w+): )?.*)");
//   // t->head == "(?P<ts>\\S+) (?P<message>(?:(?P<c>\\w+): )?)", t->spanning == {2}
//
// Only when the split is exact: the `.*` is not escaped, not in a class, and
// no group around it (nor the pattern) holds a `|` of its own, so every match
// of the pattern is a match of head followed by `.*`. Otherwise nullopt, and
// the whole pattern is used.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tpmdiag {

struct TrailingAny {
  std::string head;          // the pattern without its trailing `.*`
  std::vector<int> spanning;  // capture groups (1-based) around the `.*`
};

std::optional<TrailingAny> split_trailing_any(std::string_view pattern);

// Whether `.` (RE2, UTF-8, without the s flag) matches every byte of text:
// checked simply, for ASCII without '\n' (else the caller uses the whole pattern).
bool any_matches_all(std::string_view text);

}  // namespace tpmdiag
