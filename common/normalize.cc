// Text normalisation (common/normalize.h).
#include "common/normalize.h"

#include <cstdint>
#include <cstring>

namespace tpmdiag {

namespace {

constexpr char kDrop = '\0';

// If p[0..left) starts with a mapped UTF-8 sequence, returns its length (2 or
// 3) and sets *to to its replacement (kDrop: nothing); else returns 0.
// p[0] is known to be >= 0x80.
size_t mapped(const unsigned char* p, size_t left, char* to) {
  switch (p[0]) {
    case 0xC2:  // U+0080..U+00BF
      if (left < 2) return 0;
      if (p[1] == 0xA0) { *to = ' '; return 2; }    // U+00A0 no-break space
      if (p[1] == 0xAD) { *to = kDrop; return 2; }  // U+00AD soft hyphen
      return 0;
    case 0xE2:  // U+2000..U+2FFF
      if (left < 3) return 0;
      if (p[1] == 0x80) {  // U+2000..U+203F
        unsigned c = p[2];
        if (c >= 0x80 && c <= 0x8A) { *to = ' '; return 3; }    // U+2000..U+200A spaces
        if (c >= 0x8B && c <= 0x8D) { *to = kDrop; return 3; }  // U+200B..U+200D zero-width
        if (c >= 0x90 && c <= 0x95) { *to = '-'; return 3; }    // U+2010..U+2015 hyphens, dashes
        if (c >= 0x98 && c <= 0x9B) { *to = '\''; return 3; }   // U+2018..U+201B single quotes
        if (c >= 0x9C && c <= 0x9F) { *to = '"'; return 3; }    // U+201C..U+201F double quotes
        if (c == 0xAF) { *to = ' '; return 3; }                 // U+202F narrow no-break space
        return 0;
      }
      if (p[1] == 0x81) {  // U+2040..U+207F
        if (p[2] == 0x9F) { *to = ' '; return 3; }    // U+205F medium mathematical space
        if (p[2] == 0xA0) { *to = kDrop; return 3; }  // U+2060 word joiner
        return 0;
      }
      if (p[1] == 0x88 && p[2] == 0x92) { *to = '-'; return 3; }  // U+2212 minus sign
      return 0;
    case 0xE3:  // U+3000 ideographic space
      if (left >= 3 && p[1] == 0x80 && p[2] == 0x80) { *to = ' '; return 3; }
      return 0;
    case 0xEF:  // U+FEFF byte-order mark / zero-width no-break space
      if (left >= 3 && p[1] == 0xBB && p[2] == 0xBF) { *to = kDrop; return 3; }
      return 0;
    default:
      return 0;
  }
}

// Index of the first byte >= 0x80 at or after `from`, or s.size().
size_t next_high(std::string_view s, size_t from) {
  const char* d = s.data();
  size_t n = s.size(), i = from;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, d + i, 8);
    if (w & 0x8080808080808080ULL) break;
  }
  for (; i < n; ++i)
    if (static_cast<unsigned char>(d[i]) >= 0x80) return i;
  return n;
}

}  // namespace

bool needs_normalize(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  char to;
  for (size_t i = next_high(s, 0); i < s.size(); i = next_high(s, i + 1))
    if (mapped(p + i, s.size() - i, &to)) return true;
  return false;
}

std::string_view normalize_text(std::string_view in, std::string& buf) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  size_t first = in.size();
  char to;
  for (size_t i = next_high(in, 0); i < in.size(); i = next_high(in, i + 1))
    if (mapped(p + i, in.size() - i, &to)) {
      first = i;
      break;
    }
  if (first == in.size()) return in;

  buf.clear();
  buf.reserve(in.size());
  buf.append(in.data(), first);
  size_t i = first;
  while (i < in.size()) {
    size_t h = next_high(in, i);
    buf.append(in.data() + i, h - i);
    if (h == in.size()) break;
    if (size_t len = mapped(p + h, in.size() - h, &to)) {
      if (to != kDrop) buf.push_back(to);
      i = h + len;
    } else {
      buf.push_back(in[h]);  // not mapped, or not valid UTF-8: as is
      i = h + 1;
    }
  }
  return buf;
}

}  // namespace tpmdiag
