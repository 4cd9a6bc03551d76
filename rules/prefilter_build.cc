#include "rules/prefilter_build.h"

#include <hs/hs.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <unordered_map>

#include "common/text.h"

namespace tpmdiag::prefilter {

// How surprising a literal is in log text, in bits: rare letters, digits and
// punctuation score high, "e", "t" and spaces low. Only a heuristic for
// choosing among literals that are all correct; rough English/log frequencies.
double rarity(std::string_view s) {
  static const auto bits_of = [] {
    std::array<double, 256> t{};
    for (int b = 0; b < 256; ++b) {
      char c = static_cast<char>(b >= 'A' && b <= 'Z' ? b - 'A' + 'a' : b);
      double p;
      switch (c) {
        case ' ': p = 0.15; break;
        case 'e': p = 0.10; break;
        case 't': case 'a': case 'o': case 'i': case 'n': p = 0.07; break;
        case 's': case 'r': p = 0.06; break;
        case 'l': case 'd': case 'h': case 'c': case 'u': p = 0.035; break;
        case 'm': case 'p': case 'f': case 'g': case 'w': case 'y': p = 0.02; break;
        case 'b': case 'v': case '.': case ':': p = 0.012; break;
        case 'k': case '0': case '1': case '2': p = 0.008; break;
        default: p = (c >= '0' && c <= '9') ? 0.005 : 0.003; break;
      }
      t[static_cast<size_t>(b)] = -std::log2(p);
    }
    return t;
  }();
  double bits = 0;
  for (char ch : s) bits += bits_of[static_cast<unsigned char>(ch)];
  return bits;
}

namespace {

constexpr size_t kMinKey = 3, kMaxKey = 8;

// Every candidate key (a substring of an atom, kMinKey..kMaxKey bytes, or a
// shorter atom whole) with the requirements it meets, in flat arrays: hundreds
// of rules make ~10^5 of them, and this runs at every start-up.
struct CandidateKeys {
  struct Cand {
    const char* text;
    uint32_t len;
    uint32_t atom_len;               // of the atom it was first found in
    uint32_t last_req = UINT32_MAX;  // while filling: the last requirement counted
    uint32_t first = 0, count = 0;   // its requirements: reqs_of[first, first + count)
  };
  std::vector<Cand> cands;
  std::vector<uint32_t> reqs_of;             // per candidate, ascending
  std::vector<uint32_t> cands_at, cands_of;  // requirement r -> cands_of[cands_at[r], cands_at[r + 1])

  explicit CandidateKeys(const std::vector<Requirement>& reqs) {
    std::vector<std::pair<uint32_t, uint32_t>> pairs;  // (candidate, requirement)
    size_t expect = 0;
    for (const auto& req : reqs)
      for (const auto& a : req) expect += a.size() * (kMaxKey - kMinKey + 1);
    pairs.reserve(expect);
    // The table holds each candidate's packed text, so a probe reads one line.
    slots_.assign(std::bit_ceil(std::max<size_t>(expect / 4, 1024)), Slot{});  // ~1 in 8 is new
    for (uint32_t r = 0; r < reqs.size(); ++r) {
      auto add = [&](const char* p, uint64_t v, size_t len, size_t atom_len) {
        uint32_t c = find(p, v, len, atom_len);
        if (cands[c].last_req == r) return;
        cands[c].last_req = r;
        ++cands[c].count;
        pairs.emplace_back(c, r);
      };
      for (const auto& a : reqs[r]) {
        if (a.size() < kMinKey) add(a.data(), pack(a.data(), a.size()), a.size(), a.size());
        for (size_t at = 0; at + kMinKey <= a.size(); ++at) {
          uint64_t v = 0;  // a[at, at + len), packed one byte at a time
          for (size_t len = 1; len <= std::min(kMaxKey, a.size() - at); ++len) {
            v |= uint64_t{static_cast<unsigned char>(a[at + len - 1])} << (8 * (len - 1));
            if (len >= kMinKey) add(a.data() + at, v, len, a.size());
          }
        }
      }
    }
    slots_ = {};
    uint32_t at = 0;
    for (auto& c : cands) c.first = at, at += c.count, c.count = 0;
    reqs_of.resize(pairs.size());
    cands_at.assign(reqs.size() + 1, 0);
    for (const auto& [c, r] : pairs) {
      reqs_of[cands[c].first + cands[c].count++] = r;
      ++cands_at[r + 1];
    }
    for (size_t r = 0; r < reqs.size(); ++r) cands_at[r + 1] += cands_at[r];
    cands_of.resize(pairs.size());
    std::vector<uint32_t> fill(cands_at.begin(), cands_at.end() - 1);
    for (const auto& [c, r] : pairs) cands_of[fill[r]++] = c;
  }

 private:
  static_assert(kMaxKey <= 8);
  struct Slot {
    uint64_t v = 0;     // the text, packed (len <= 8: v is the text)
    uint32_t len = 0;
    uint32_t cand = 0;  // candidate + 1; 0: empty
  };
  std::vector<Slot> slots_;  // open addressing, at most half full

  static uint64_t pack(const char* p, size_t len) {
    uint64_t v = 0;
    std::memcpy(&v, p, len);
    return v;
  }
  uint32_t find(const char* p, uint64_t v, size_t len, size_t atom_len) {
    size_t mask = slots_.size() - 1;
    for (size_t i = hash(v, len) & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.cand == 0) {
        s = {v, static_cast<uint32_t>(len), static_cast<uint32_t>(cands.size() + 1)};
        cands.push_back({p, static_cast<uint32_t>(len), static_cast<uint32_t>(atom_len)});
        if (2 * cands.size() > slots_.size()) grow();
        return static_cast<uint32_t>(cands.size() - 1);
      }
      if (s.v == v && s.len == len) return s.cand - 1;
    }
  }
  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.cand == 0) continue;
      size_t i = hash(s.v, s.len) & mask;
      while (slots_[i].cand != 0) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }
  static size_t hash(uint64_t v, size_t len) {  // every bit of v counts (MurmurHash3's finaliser)
    uint64_t h = v ^ (len * 0x9e3779b97f4a7c15ull);
    h = (h ^ (h >> 33)) * 0xff51afd7ed558ccdull;
    h = (h ^ (h >> 33)) * 0xc4ceb9fe1a85ec53ull;
    return static_cast<size_t>(h ^ (h >> 33));
  }
};

}  // namespace

// Chooses few, rare keys such that every requirement has an atom containing
// one (greedy set cover: a key's value is how rare it looks plus how many
// requirements it satisfies). Keys only decide speed, never correctness.
std::vector<std::string> choose_keys(const std::vector<Requirement>& reqs,
                                     const std::function<bool(const std::string&)>& too_common) {
  CandidateKeys all(reqs);
  auto key = [&](size_t c) { return std::string_view(all.cands[c].text, all.cands[c].len); };
  std::vector<double> bits(all.cands.size());
  std::vector<uint32_t> open(all.cands.size());  // requirements met that no chosen key meets yet
  std::vector<bool> common(all.cands.size());    // too common in the sample
  for (size_t c = 0; c < all.cands.size(); ++c) bits[c] = rarity(key(c)), open[c] = all.cands[c].count;
  std::vector<double> bonus(reqs.size() + 1, 0.0);  // for covering n requirements at once
  for (size_t n = 1; n < bonus.size(); ++n) bonus[n] = 8.0 * std::log2(static_cast<double>(n));
  std::vector<bool> done(reqs.size(), false);
  std::vector<std::string> keys;
  // Common keys are skipped while other keys can cover; what is left is then
  // covered by the best keys, common or not (every requirement needs a key).
  auto value = [&](size_t c) { return bits[c] + bonus[open[c]]; };
  // Lazy greedy: values only fall as keys are chosen, so a popped candidate
  // whose value is still current is the best one.
  auto worse = [&](const std::pair<double, size_t>& a, const std::pair<double, size_t>& b) {
    if (a.first != b.first) return a.first < b.first;
    return key(a.second) > key(b.second);  // ties: the smaller key first
  };

  // A key that meets one requirement and can be longer within its atom
  // never wins: the longer one meets the same requirement, looks rarer, and
  // is in no more lines. Leaving such keys out makes the heap several times
  // smaller.
  auto dominated = [&](size_t c) {
    const auto& k = all.cands[c];
    return k.count == 1 && k.len < std::min<size_t>(kMaxKey, k.atom_len);
  };
  for (bool skip_common : {true, false}) {
    std::vector<std::pair<double, size_t>> heap;
    for (size_t c = 0; c < all.cands.size(); ++c)
      if (open[c] > 0 && !dominated(c)) heap.emplace_back(value(c), c);
    std::make_heap(heap.begin(), heap.end(), worse);
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), worse);
      auto [v, c] = heap.back();
      heap.pop_back();
      if (open[c] == 0 || (skip_common && common[c])) continue;
      if (v != value(c)) {
        heap.emplace_back(value(c), c);
        std::push_heap(heap.begin(), heap.end(), worse);
        continue;
      }
      if (skip_common && too_common(std::string(key(c)))) {
        common[c] = true;  // not in this round; the next best covers its requirements
        continue;
      }
      keys.emplace_back(key(c));
      const auto& cand = all.cands[c];
      for (uint32_t i = cand.first; i < cand.first + cand.count; ++i) {
        uint32_t r = all.reqs_of[i];
        if (done[r]) continue;
        done[r] = true;
        for (uint32_t j = all.cands_at[r]; j < all.cands_at[r + 1]; ++j) --open[all.cands_of[j]];
      }
    }

  }
  return keys;
}

// Compiles caseless literals into a Vectorscan block-mode database.
Result<hs_database_t*> compile_literals(const std::vector<std::string>& lits) {
  std::vector<const char*> exprs;
  std::vector<size_t> lens;
  std::vector<unsigned> flags, ids;
  for (size_t i = 0; i < lits.size(); ++i) {
    exprs.push_back(lits[i].data());
    lens.push_back(lits[i].size());
    flags.push_back(HS_FLAG_CASELESS);
    ids.push_back(static_cast<unsigned>(i));
  }
  hs_compile_error_t* err = nullptr;
  hs_database_t* db = nullptr;
  if (hs_compile_lit_multi(exprs.data(), flags.data(), ids.data(), lens.data(),
                           static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &db,
                           &err) != HS_SUCCESS) {
    std::string msg = err && err->message ? err->message : "unknown error";
    hs_free_compile_error(err);
    return make_error("rules: cannot build the literal prefilter: " + msg);
  }
  return db;
}

std::vector<std::string> KeyWatch::blame(const char* data, size_t n, const std::vector<LineSpan>& wasted,
                                         const std::vector<std::string>& keys) {
  std::vector<size_t> hits(keys.size(), 0);  // a line may hold several keys
  for (const LineSpan& l : wasted) {
    std::string_view line(data + l.begin, l.end - l.begin);
    for (size_t k = 0; k < keys.size(); ++k)
      if (icontains(line, keys[k])) ++hits[k];
  }
  std::vector<std::string> common;
  for (size_t k = 0; k < keys.size(); ++k)
    if (hits[k] >= 16 && hits[k] * 2 * kWastedEvery > n) common.push_back(keys[k]);
  return common;
}

}  // namespace tpmdiag::prefilter
