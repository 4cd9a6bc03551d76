#include "parsers/trailing_any.h"

#include <cstring>

namespace tpmdiag {

std::optional<TrailingAny> split_trailing_any(std::string_view p) {
  size_t closing = 0;  // the ')' after the `.*`
  while (closing < p.size() && p[p.size() - 1 - closing] == ')') ++closing;
  if (p.size() < closing + 2 || p.compare(p.size() - closing - 2, 2, ".*") != 0) return std::nullopt;
  const size_t dot = p.size() - closing - 2;

  struct Open {
    int capture;  // 0: not capturing
    bool alt;     // holds a `|` of its own
  };
  std::vector<Open> open{{0, false}};  // [0]: the pattern itself
  std::vector<Open> around;            // open at the `.*`
  int captures = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (i == dot) around = open;
    char c = p[i];
    if (c == '\\') {
      if (i + 1 >= p.size() || p[i + 1] == 'Q') return std::nullopt;  // \Q...\E: not modelled
      if (i + 1 == dot) return std::nullopt;                         // `\.*`: an escaped dot
      ++i;
    } else if (c == '[') {  // a class: up to its closing ']'
      size_t j = i + 1;
      if (j < p.size() && p[j] == '^') ++j;
      if (j < p.size() && p[j] == ']') ++j;
      for (; j < p.size() && p[j] != ']'; ++j) {
        if (p[j] == '\\') ++j;
        else if (p[j] == '[' && j + 1 < p.size() && p[j + 1] == ':') {
          auto end = p.find(":]", j + 2);
          if (end == std::string_view::npos) return std::nullopt;
          j = end + 1;
        }
      }
      if (j >= p.size()) return std::nullopt;
      if (i < dot && dot <= j) return std::nullopt;  // the `.*` is in the class
      i = j;
    } else if (c == '(') {
      bool capturing = i + 1 >= p.size() || p[i + 1] != '?' ||
                       p.compare(i + 1, 3, "?P<") == 0 || p.compare(i + 1, 2, "?<") == 0;
      open.push_back({capturing ? ++captures : 0, false});
    } else if (c == ')') {
      if (open.size() < 2) return std::nullopt;
      open.pop_back();
    } else if (c == '|') {
      open.back().alt = true;
    }
  }
  if (open.size() != 1 || around.size() != closing + 1) return std::nullopt;
  TrailingAny t;
  for (const Open& o : around) {
    if (o.alt) return std::nullopt;
    if (o.capture) t.spanning.push_back(o.capture);
  }
  t.head = std::string(p.substr(0, dot)) + std::string(closing, ')');
  return t;
}

bool any_matches_all(std::string_view text) {
  for (char c : text)
    if (static_cast<unsigned char>(c) >= 0x80 || c == '\n') return false;
  return true;
}

}  // namespace tpmdiag
