// How the two-level prefilter is built (rules/matcher.h tells what it does):
// which literals become level-1 keys, which are too common in the input to
// be keys, and the Vectorscan databases. Internal to rules/; the matcher is
// its only user.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/text.h"

struct hs_database;

namespace tpmdiag::prefilter {

constexpr size_t kSampleBytes = 512 << 10;  // text used to reject common keys

// 4 bytes at p as one number (this machine's order): windows, atoms' heads.
inline uint32_t load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// A prefilter requirement: a line that may match the rule holds at least one
// of these atoms.
using Requirement = std::vector<std::string>;

// How surprising a literal is in log text, in bits: rare letters, digits and
// punctuation score high, "e", "t" and spaces low.
double rarity(std::string_view s);

// Chooses few, rare keys such that every requirement has an atom containing
// one; keys for which too_common() holds are avoided.
std::vector<std::string> choose_keys(const std::vector<Requirement>& reqs,
                                     const std::function<bool(const std::string&)>& too_common);

// Compiles caseless literals into a Vectorscan block-mode database.
Result<hs_database*> compile_literals(const std::vector<std::string>& lits);

// Whether a key is so common in real text that searching for it would pass
// many lines to the second level: more than 1 line in 100 of the sample (the
// start of the first large input) holds it. Rarity above is only a guess from
// letters; this catches what it cannot know ("unable to", "internal" and
// "configur" are letters-rare but everywhere in hostd logs).
class CommonCheck {
 public:
  explicit CommonCheck(std::string_view sample) : text_(ascii_lower(sample)) {
    // Lines holding each 3 bytes (hashed: a collision only raises a count),
    // and the lines, in one pass.
    slots_.assign(kSlots, {0, 0});
    uint32_t line = 1;
    const char* p = text_.data();
    const size_t n = text_.size();
    size_t i = 0;
    auto count = [&](uint32_t bytes3) {
      Slot& s = slots_[slot(bytes3)];
      if (s.line != line) s.line = line, ++s.lines;
    };
    for (; i + 4 <= n; ++i) {
      if (p[i] == '\n') {
        ++line;
        continue;
      }
      if constexpr (std::endian::native == std::endian::little) {
        count(load32(p + i) & 0xffffffu);  // one load for the three bytes
      } else {
        count(bytes3(p + i));
      }
    }
    for (; i < n; ++i) {
      if (p[i] == '\n') {
        ++line;
        continue;
      }
      if (i + 3 <= n) count(bytes3(p + i));
    }
    lines_ = line - 1;
  }
  const std::string& text() const { return text_; }
  bool operator()(const std::string& key) const {
    if (lines_ < kMinLines) return false;  // too little text to judge
    size_t limit = std::max<size_t>(lines_ / 100, 5), hits = 0;
    // A key is in no more lines than its rarest 3 bytes: most keys stop here.
    size_t bound = SIZE_MAX;
    for (size_t i = 0; i + 3 <= key.size(); ++i) bound = std::min<size_t>(bound, slots_[slot(bytes3(key.data() + i))].lines);
    if (bound <= limit) return false;
    const char* end = text_.data() + text_.size();
    for (const char* at = text_.data();;) {
      at = static_cast<const char*>(memmem(at, static_cast<size_t>(end - at), key.data(), key.size()));
      if (!at) return false;
      if (++hits > limit) return true;
      at = static_cast<const char*>(std::memchr(at, '\n', static_cast<size_t>(end - at)));  // count lines, not occurrences
      if (!at) return false;
    }
  }

 private:
  static constexpr size_t kMinLines = 500, kSlots = size_t{1} << 17;
  struct Slot {
    uint32_t line, lines;  // the last line counted, lines counted
  };
  static uint32_t bytes3(const char* p) {
    return static_cast<uint32_t>(static_cast<unsigned char>(p[0])) |
           static_cast<uint32_t>(static_cast<unsigned char>(p[1])) << 8 |
           static_cast<uint32_t>(static_cast<unsigned char>(p[2])) << 16;
  }
  static size_t slot(uint32_t bytes3) { return (bytes3 * 2654435761u) >> 15; }
  std::string text_;
  size_t lines_ = 0;
  std::vector<Slot> slots_;
};

// Judges the keys by the lines they pass that hold no atom (wasted work), over
// windows of the input (all threads, all inputs of a matcher), and says which
// keys turned out common after they were chosen from a sample: the matcher
// then chooses again without them. A window is busy when its wasted lines
// are more than one per 16 KiB; a key is then blamed when, alone, it passes
// more than one wasted line per 32 KiB of the block at hand.
struct KeyWatch {
  static constexpr size_t kWindow = 4 << 20;      // bytes judged at once
  static constexpr size_t kMinBlock = 64 << 10;   // smaller blocks (single lines) are not counted
  static constexpr size_t kWastedEvery = 16 << 10;

  static bool busy(size_t bytes, size_t wasted) { return wasted * kWastedEvery > bytes; }
  // The keys (of `keys`, lowercase) to avoid, by the wasted lines of one
  // block of n bytes; may be none.
  static std::vector<std::string> blame(const char* data, size_t n, const std::vector<LineSpan>& wasted,
                                        const std::vector<std::string>& keys);
};

}  // namespace tpmdiag::prefilter
