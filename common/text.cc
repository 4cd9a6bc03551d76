#include "common/text.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace tpmdiag {

std::string ascii_lower(std::string_view s) {
  std::string out;
  ascii_lower(s, out);
  return out;
}

void ascii_lower(std::string_view s, std::string& out) {
  out.assign(s);
  char* p = out.data();
  size_t i = 0;
  // 8 bytes at a time (key choice lowers a 512 KiB sample): per byte, the
  // high bit of h + 0x3f says h >= 'A', of h + 0x25 that h > 'Z', where h is
  // the byte without its high bit (no carry crosses bytes); bytes >= 0x80
  // stay as they are.
  constexpr uint64_t k7f = 0x7f7f7f7f7f7f7f7full, k80 = 0x8080808080808080ull;
  for (; i + 8 <= out.size(); i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    uint64_t h = v & k7f;
    uint64_t upper = (h + 0x3f3f3f3f3f3f3f3full) & ~(h + 0x2525252525252525ull) & ~v & k80;
    v |= upper >> 2;
    std::memcpy(p + i, &v, 8);
  }
  for (; i < out.size(); ++i) p[i] = ascii_lower(p[i]);
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

// memchr finds where the first byte (in either case) may start a match: the
// lexicon and the fallback rule ask this of every line a rule leaves.
bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  const char lo = ascii_lower(needle[0]);
  const char up = lo >= 'a' && lo <= 'z' ? static_cast<char>(lo - 'a' + 'A') : lo;
  const char* p = hay.data();
  const char* end = p + hay.size();
  while (static_cast<size_t>(end - p) >= needle.size()) {
    const char* last = end - needle.size() + 1;  // a match starts before this
    auto* a = static_cast<const char*>(std::memchr(p, lo, static_cast<size_t>(last - p)));
    auto* b = up == lo ? nullptr : static_cast<const char*>(std::memchr(p, up, static_cast<size_t>((a ? a : last) - p)));
    const char* at = b ? b : a;
    if (!at) return false;
    size_t k = 1;
    while (k < needle.size() && ascii_lower(at[k]) == ascii_lower(needle[k])) ++k;
    if (k == needle.size()) return true;
    p = at + 1;
  }
  return false;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string one_line(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

std::string visible(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<std::string_view> path_segments(std::string_view path, std::string_view separators) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find_first_of(separators, i);
    if (j == std::string_view::npos) j = path.size();
    auto seg = path.substr(i, j - i);
    if (!seg.empty() && seg != ".") out.push_back(seg);
    i = j + 1;
  }
  return out;
}

namespace {

// Optimal string alignment distance, ASCII case folded.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = ascii_lower(a[i - 1]) == ascii_lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && ascii_lower(a[i - 1]) == ascii_lower(b[j - 2]) &&
          ascii_lower(a[i - 2]) == ascii_lower(b[j - 1]))
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

}  // namespace

std::string nearest(std::string_view word, const std::vector<std::string>& candidates) {
  if (word.size() > 256) return "";
  std::string best;
  size_t best_d = std::max<size_t>(1, (word.size() + 2) / 3) + 1;
  for (const auto& c : candidates) {
    if (c.size() > 256) continue;
    size_t d = edit_distance(word, c);
    // A prefix of a long name is a near miss too ("diag" for "diagnose").
    if (c.size() > word.size() && word.size() >= 3 && iequals(std::string_view(c).substr(0, word.size()), word))
      d = std::min<size_t>(d, 1);
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
size_t utf8_len(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  if (n == 2 && c < 0xC2) return 0;                                  // overlong
  if (n == 3) {
    unsigned c1 = b(i + 1);
    if (c == 0xE0 && c1 < 0xA0) return 0;                            // overlong
    if (c == 0xED && c1 >= 0xA0) return 0;                           // surrogate
  }
  if (n == 4) {
    unsigned c1 = b(i + 1);
    if (c == 0xF0 && c1 < 0x90) return 0;                            // overlong
    if (c > 0xF4 || (c == 0xF4 && c1 >= 0x90)) return 0;             // > U+10FFFF
  }
  return n;
}

}  // namespace tpmdiag
