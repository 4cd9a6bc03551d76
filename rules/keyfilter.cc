#include "rules/keyfilter.h"

#include "rules/newlines.h"
#include "rules/prefilter_build.h"

#if TPMDIAG_X86_ENGINES
#include <immintrin.h>
#endif

// GCC 12 warns inside its own _mm512_permutexvar_epi8 (an "undefined" source
// vector it never reads); nothing here is uninitialised.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <unordered_map>


namespace tpmdiag {

namespace {

constexpr size_t kWindow = 4;
constexpr size_t kHighNibbles = KeyFilter::kHighNibbles;
#define TPMDIAG_VBMI __attribute__((target("avx512f,avx512bw,avx512vbmi")))
#define TPMDIAG_AVX2 __attribute__((target("avx2")))

using prefilter::load32;

// How often each key's 4-byte windows occur in the sample: the rarest window
// makes the fewest candidates to check.
std::unordered_map<uint32_t, size_t> window_counts(const std::vector<KeyFilter::Key>& keys,
                                                   std::string_view sample) {
  std::unordered_map<uint32_t, size_t> counts;
  std::vector<uint64_t> maybe((1 << 16) / 64);  // a bit per slot: most windows stop here
  auto slot = [](uint32_t w) { return (w * 2654435761u) >> 16; };
  for (const auto& k : keys)
    for (size_t o = 0; o + kWindow <= k.text.size(); ++o) {
      uint32_t w = load32(k.text.data() + o);
      counts[w] = 0;
      maybe[slot(w) >> 6] |= uint64_t{1} << (slot(w) & 63);
    }
  for (size_t i = 0; i + kWindow <= sample.size(); ++i) {
    uint32_t w = load32(sample.data() + i);
    if (!(maybe[slot(w) >> 6] >> (slot(w) & 63) & 1)) continue;
    auto it = counts.find(w);
    if (it != counts.end()) ++it->second;
  }
  return counts;
}

// The slot of a 4-byte window in the second confirmation (window_maybe):
// every engine builds the table, the x86 ones read it.
inline uint32_t window_slot(uint32_t w) { return ((w | 0x20202020u) * 0x9E3779B1u) >> (32 - 16); }

#if TPMDIAG_X86_ENGINES
// Whether key k occurs at data[start..): caseless for ASCII letters, exact
// otherwise (as Vectorscan's caseless flag).
bool key_at(const KeyFilter::Key& k, const char* data, size_t n, size_t start) {
  size_t len = k.text.size();
  if (start + len > n) return false;
  if (len <= 8 && start + 8 <= n) {
    uint64_t v;
    std::memcpy(&v, data + start, 8);
    return ((v | k.fold) & k.mask) == k.val;
  }
  for (size_t j = 0; j < len; ++j)
    if (ascii_lower(data[start + j]) != k.text[j]) return false;
  return true;
}

struct Found {
  const char* data;
  size_t n;
  std::vector<LineSpan>* out;
  size_t floor = 0;  // first byte not yet in an emitted line
  KeyFilter::Stats* stats = nullptr;
  TextCounts counts;  // of data before the batch being scanned
};

constexpr size_t kBlocks = 64;  // steps of 64 bytes gathered before their candidates are checked

// The '\n' bytes of a batch of blocks: a mask per block, and how many are in
// the blocks before each.
struct Newlines {
  uint64_t mask[kBlocks];
  uint32_t before[kBlocks + 1] = {0};
  void add(size_t b, uint64_t m) {
    mask[b] = m;
    before[b + 1] = before[b] + static_cast<uint32_t>(__builtin_popcountll(m));
  }
  // How many are before offset o of the batch.
  uint32_t at(size_t o) const {
    return before[o / 64] + static_cast<uint32_t>(__builtin_popcountll(mask[o / 64] & ((uint64_t{1} << (o % 64)) - 1)));
  }
};

// Where the batch after one of `blocks` blocks at base starts: its end, or
// past an emitted line that ran beyond it. The search skips that line's
// rest, so it is counted here (its '\n', and any byte >= 0x80).
inline size_t next_batch(Found& f, size_t base, size_t blocks, const Newlines& nl) {
  size_t end = base + blocks * 64;
  f.counts.newlines += nl.before[blocks];
  if (f.floor <= end) return end;
  f.counts.newlines += count_newlines(f.data + end, std::min(f.floor, f.n) - end, &f.counts.high);
  return f.floor;
}

// Emits the line around a key found at `at`, with `index` '\n' bytes before
// it; returns where scanning resumes.
size_t emit_line(Found& f, size_t at, uint64_t index) {
  const void* nl = at > f.floor ? memrchr(f.data + f.floor, '\n', at - f.floor) : nullptr;
  size_t begin = nl ? static_cast<size_t>(static_cast<const char*>(nl) - f.data) + 1 : f.floor;
  const void* e = std::memchr(f.data + at, '\n', f.n - at);
  size_t end = e ? static_cast<size_t>(static_cast<const char*>(e) - f.data) : f.n;
  f.out->push_back({begin, end, index});
  f.floor = end + 1;
  return f.floor;
}

// The bytes from pos, `need` of them readable: in place, or for the last bytes
// a zero-padded copy in tail (128 bytes).
inline const char* readable(const Found& f, size_t pos, size_t need, char* tail) {
  size_t rem = f.n - pos;
  if (rem >= need) return f.data + pos;
  std::memset(tail, 0, 128);
  std::memcpy(tail, f.data + pos, rem);
  return tail;
}

// The second confirmation, before a candidate's buckets are walked: whether
// the 4 bytes at p, folded (| 0x20 maps each letter to lower case, and other
// bytes so that equal-ignoring-case bytes stay equal), hash to a slot that some
// key's window took. The table lookups pass windows made of any mix of their
// buckets' bytes; most of those fail here for the price of a multiply.
inline bool window_maybe(const uint64_t* slots, const char* p) {
  uint32_t h = window_slot(load32(p));
  return (slots[h >> 6] >> (h & 63)) & 1;
}

// The bytes 4 KiB ahead of the step at pos, to prefetch. A large file is
// scanned in place in its mapping (pipeline/run.cc), whose pages come from
// memory: left to the hardware's prefetcher, the search waited for them
// (~5 GB/s a core against ~10 on bytes in cache). 1 KiB ahead was 3 % slower
// on the 1 GiB mixes; 2 to 8 KiB measured alike. The prefetch is written at
// each loop: a helper holding only a prefetch has no effect GCC can see, and
// its calls were dropped.
inline const char* ahead(const Found& f, size_t pos) { return f.data + std::min(pos + 4096, f.n - 1); }

// A block's candidate mask without the positions past the text's end.
inline uint64_t in_text(uint64_t m, size_t rem) { return rem < 64 ? m & ((uint64_t{1} << rem) - 1) : m; }

// What a candidate's check needs besides the text.
struct Buckets {
  const std::vector<std::vector<uint32_t>>& keys_of;  // bucket -> keys
  const std::vector<KeyFilter::Key>& keys;
  const uint64_t* slots;  // window_maybe's bitmap
  unsigned short_bits;    // bits of group 0's buckets holding keys under 4 bytes (no slot)
};

// Whether a key of the buckets at a candidate position `at` is there:
// b[g * stride] holds the position's bucket bits in group g.
inline bool key_from(size_t at, const uint8_t* b, size_t stride, int groups, const Buckets& bk, Found& f) {
  // A window that fits in the text and is no short key's: its slot first.
  if (!(b[0] & bk.short_bits) && at + kWindow <= f.n && !window_maybe(bk.slots, f.data + at)) return false;
  if (f.stats) ++f.stats->confirmed;
  for (int g = 0; g < groups; ++g)
    for (unsigned bits = b[static_cast<size_t>(g) * stride]; bits; bits &= bits - 1)
      for (uint32_t k : bk.keys_of[static_cast<size_t>(g) * 8 + static_cast<unsigned>(__builtin_ctz(bits))]) {
        const auto& key = bk.keys[k];
        if (at >= key.offset && key_at(key, f.data, f.n, at - key.offset)) return true;
      }
  return false;
}

// Appends base + the index of each bit set in m to out, which has room for
// 2 more than are set; returns how many. Without a branch for up to 2 bits
// (as simdjson's flatten_bits does for 8).
inline size_t positions(uint64_t m, uint32_t base, uint32_t* out) {
  auto count = static_cast<size_t>(__builtin_popcountll(m));
  for (int i = 0; i < 2; ++i) {
    out[i] = base + static_cast<uint32_t>(__builtin_ctzll(m | uint64_t{1} << 63));  // past the last: unread
    m &= m - 1;
  }
  for (out += 2; m; m &= m - 1) *out++ = base + static_cast<uint32_t>(__builtin_ctzll(m));
  return count;
}

// AVX-512: bucket bits of the windows that may start at each of the 64 bytes
// at p (p[0..67) readable), per group of 8 buckets in r; returns the byte mask.
// Its '\n' bytes go to nl, and its bytes are ORed into seen.
template <int G>
TPMDIAG_VBMI inline uint64_t block512(const __m512i (&t)[G][kWindow], const char* p, __m512i (&r)[G], uint64_t& nl,
                                      __m512i& seen) {
  __m512i v0 = _mm512_loadu_si512(p), v1 = _mm512_loadu_si512(p + 1);
  nl = _mm512_cmpeq_epi8_mask(v0, _mm512_set1_epi8('\n'));
  seen = _mm512_or_si512(seen, v0);
  __m512i v2 = _mm512_loadu_si512(p + 2), v3 = _mm512_loadu_si512(p + 3);
  __m512i any = _mm512_setzero_si512();
  for (int g = 0; g < G; ++g) {
    __m512i x = _mm512_permutexvar_epi8(v0, t[g][0]);
    x = _mm512_and_si512(x, _mm512_permutexvar_epi8(v1, t[g][1]));
    x = _mm512_and_si512(x, _mm512_permutexvar_epi8(v2, t[g][2]));
    x = _mm512_and_si512(x, _mm512_permutexvar_epi8(v3, t[g][3]));
    r[g] = x;
    any = _mm512_or_si512(any, x);
  }
  return _mm512_test_epi8_mask(any, any);
}

// AVX2: the same for the 64 bytes at p (p[0..67) readable), by nibbles, in
// two registers (r0: bytes 0-31, r1: 32-63). Window byte by window byte, each
// table register serving both halves; with the high nibble looked up for the
// first byte only, the tables (5 per group) stay in the 16 ymm registers.
// Its '\n' bytes go to nl, and its bytes are ORed into seen.
template <int G>
TPMDIAG_AVX2 inline uint64_t block256(const __m256i (&lo)[G][kWindow], const __m256i (&hi)[G][kHighNibbles],
                                      const char* p, __m256i (&r0)[G], __m256i (&r1)[G], uint64_t& nl,
                                      __m256i& seen) {
  const __m256i nibble = _mm256_set1_epi8(0x0f);
  // Unrolled (GCC at -O2 keeps these loops, and r0/r1 in memory, otherwise).
#pragma GCC unroll 4
  for (size_t j = 0; j < kWindow; ++j) {
    __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + j));
    __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 + j));
    __m256i la = _mm256_and_si256(a, nibble), lb = _mm256_and_si256(b, nibble), ha = la, hb = lb;
    if (j == 0) {
      const __m256i newline = _mm256_set1_epi8('\n');
      nl = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, newline))) |
           uint64_t{static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, newline)))} << 32;
      seen = _mm256_or_si256(seen, _mm256_or_si256(a, b));
    }
    if (j < kHighNibbles) {
      ha = _mm256_and_si256(_mm256_srli_epi16(a, 4), nibble);
      hb = _mm256_and_si256(_mm256_srli_epi16(b, 4), nibble);
    }
#pragma GCC unroll 2
    for (int g = 0; g < G; ++g) {
      __m256i xa = _mm256_shuffle_epi8(lo[g][j], la), xb = _mm256_shuffle_epi8(lo[g][j], lb);
      if (j < kHighNibbles) {
        xa = _mm256_and_si256(xa, _mm256_shuffle_epi8(hi[g][j], ha));
        xb = _mm256_and_si256(xb, _mm256_shuffle_epi8(hi[g][j], hb));
      }
      r0[g] = j ? _mm256_and_si256(r0[g], xa) : xa;
      r1[g] = j ? _mm256_and_si256(r1[g], xb) : xb;
    }
  }
  __m256i a = r0[0], b = r1[0];
  for (int g = 1; g < G; ++g) a = _mm256_or_si256(a, r0[g]), b = _mm256_or_si256(b, r1[g]);
  const __m256i zero = _mm256_setzero_si256();
  auto none_a = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, zero)));
  auto none_b = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, zero)));
  return ~(uint64_t{none_a} | uint64_t{none_b} << 32);
}

#endif  // TPMDIAG_X86_ENGINES

}  // namespace

bool KeyFilter::supported([[maybe_unused]] Engine e) {
#if !TPMDIAG_X86_ENGINES
  return false;
#else
  __builtin_cpu_init();
  if (e == Engine::avx2) return __builtin_cpu_supports("avx2");
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vbmi");
#endif
}

std::optional<KeyFilter::Engine> KeyFilter::best() {
  static const std::optional<Engine> chosen = []() -> std::optional<Engine> {
    const char* env = std::getenv("TPMDIAG_PREFILTER");
    std::string_view want = env ? env : "";
    for (Engine e : {Engine::avx512, Engine::avx2}) {
      bool named = want == (e == Engine::avx512 ? "avx512" : "avx2");
      if ((want.empty() || named) && supported(e)) return e;
    }
    return std::nullopt;
  }();
  return chosen;
}

ByteFreqs::ByteFreqs(std::string_view sample) : next6(64 * 64), next_lo(256 * 16), next_lolo(16 * 16) {
  uint32_t seen[256] = {};
  std::vector<uint32_t> pairs(256 * 256);
  for (size_t i = 0; i < sample.size(); ++i) {
    auto c = static_cast<unsigned char>(sample[i]);
    ++seen[c];
    if (i + 1 < sample.size()) ++pairs[c * 256u + static_cast<unsigned char>(sample[i + 1])];
  }
  for (int x = 0; x < 256; ++x) freq[x] = 1.0 + seen[x];  // a byte unseen in the sample is rare, not absent
  for (int c = 'A'; c <= 'Z'; ++c) freq[c] = freq[c - 'A' + 'a'] / 4;  // the sample is lowercased
  double total = 0;
  for (double x : freq) total += x;
  for (double& x : freq) x /= total;
  for (unsigned x = 0; x < 256; ++x) freq6[x & 63] += freq[x];
  double lo[16] = {};
  for (unsigned x = 0; x < 256; ++x) lo[x & 15] += freq[x];

  // Pairs, as freq: a letter of the lowercased sample is upper case a fifth
  // of the time.
  struct Variant {
    unsigned byte[2];
    double weight[2];
    int n;
  };
  auto variants = [](unsigned c) {
    if (c >= 'a' && c <= 'z') return Variant{{c, c - 32}, {0.8, 0.2}, 2};
    return Variant{{c, c}, {1, 0}, 1};
  };
  std::vector<double> p6(64 * 64), pbl(256 * 16), pll(16 * 16);
  double c6[64] = {}, cb[256] = {}, cl[16] = {};
  for (unsigned a = 0; a < 256; ++a)
    for (unsigned b = 0; b < 256; ++b) {
      uint32_t n = pairs[a * 256 + b];
      if (!n) continue;
      Variant va = variants(a), vb = variants(b);
      for (int i = 0; i < va.n; ++i)
        for (int k = 0; k < vb.n; ++k) {
          unsigned x = va.byte[i], y = vb.byte[k];
          double w = n * va.weight[i] * vb.weight[k];
          p6[(x & 63) * 64 + (y & 63)] += w, c6[x & 63] += w;
          pbl[x * 16 + (y & 15)] += w, cb[x] += w;
          pll[(x & 15) * 16 + (y & 15)] += w, cl[x & 15] += w;
        }
    }
  // One pseudo-pair per first byte, split as the next byte's marginal: a byte
  // rare in the sample is followed as bytes are on the whole.
  for (unsigned s = 0; s < 64; ++s)
    for (unsigned t = 0; t < 64; ++t) next6[s * 64 + t] = (p6[s * 64 + t] + freq6[t]) / (c6[s] + 1);
  for (unsigned x = 0; x < 256; ++x)
    for (unsigned t = 0; t < 16; ++t) next_lo[x * 16 + t] = (pbl[x * 16 + t] + lo[t]) / (cb[x] + 1);
  for (unsigned s = 0; s < 16; ++s)
    for (unsigned t = 0; t < 16; ++t) next_lolo[s * 16 + t] = (pll[s * 16 + t] + lo[t]) / (cl[s] + 1);
}

namespace {

// Which bytes a bucket's lookups pass at each window byte: by the low 6 bits
// (AVX-512) or by each nibble (AVX2, which passes every low-high mix, and any
// high nibble past the first kHighNibbles bytes).
struct Passes {
  uint64_t six[kWindow] = {};
  uint16_t lo[kWindow] = {}, hi[kWindow] = {};
  void add(const KeyFilter::Key& k) { add(k.text.data() + k.offset); }
  void add(const char* window) {  // its kWindow bytes
    for (size_t j = 0; j < kWindow; ++j)
      for (char c : {ascii_lower(window[j]), ascii_upper(window[j])}) {
        auto u = static_cast<unsigned char>(c);
        six[j] |= uint64_t{1} << (u & 63);
        lo[j] = static_cast<uint16_t>(lo[j] | 1u << (u & 15));
        hi[j] = static_cast<uint16_t>(j < kHighNibbles ? hi[j] | 1u << (u >> 4) : 0xffff);
      }
  }
  // The share of positions where the bucket's lookups pass: what passes at
  // each window byte, chained by how often each byte follows the one before.
  double rate(const ByteFreqs& bf, KeyFilter::Engine e) const {
    static_assert(kHighNibbles == 1, "the AVX2 chain looks up the first byte whole, then low nibbles");
    double v[64] = {}, nv[64] = {};
    if (e == KeyFilter::Engine::avx512) {
      for (uint64_t m = six[0]; m; m &= m - 1) v[__builtin_ctzll(m)] = bf.freq6[__builtin_ctzll(m)];
      for (size_t j = 1; j < kWindow; ++j) {
        for (uint64_t m = six[j]; m; m &= m - 1) {
          auto t = static_cast<unsigned>(__builtin_ctzll(m));
          double x = 0;
          for (uint64_t p = six[j - 1]; p; p &= p - 1) x += v[__builtin_ctzll(p)] * bf.next6[__builtin_ctzll(p) * 64 + t];
          nv[t] = x;
        }
        for (uint64_t m = six[j - 1]; m; m &= m - 1) v[__builtin_ctzll(m)] = 0;
        for (uint64_t m = six[j]; m; m &= m - 1) v[__builtin_ctzll(m)] = nv[__builtin_ctzll(m)];
      }
      double r = 0;
      for (uint64_t m = six[kWindow - 1]; m; m &= m - 1) r += v[__builtin_ctzll(m)];
      return r;
    }
    for (unsigned h = hi[0]; h; h &= h - 1)
      for (unsigned l = lo[0]; l; l &= l - 1) {
        unsigned x = static_cast<unsigned>(__builtin_ctz(h)) * 16 + static_cast<unsigned>(__builtin_ctz(l));
        for (unsigned t = lo[1]; t; t &= t - 1) v[__builtin_ctz(t)] += bf.freq[x] * bf.next_lo[x * 16 + __builtin_ctz(t)];
      }
    for (size_t j = 2; j < kWindow; ++j) {
      for (unsigned t = lo[j]; t; t &= t - 1) {
        double x = 0;
        for (unsigned p = lo[j - 1]; p; p &= p - 1) x += v[__builtin_ctz(p)] * bf.next_lolo[__builtin_ctz(p) * 16 + __builtin_ctz(t)];
        nv[__builtin_ctz(t)] = x;
      }
      for (unsigned t = 0; t < 16; ++t) v[t] = lo[j] >> t & 1 ? nv[t] : 0;
    }
    double r = 0;
    for (unsigned t = lo[kWindow - 1]; t; t &= t - 1) r += v[__builtin_ctz(t)];
    return r;
  }
};

}  // namespace

double KeyFilter::pass_rate(const std::vector<std::string>& windows, const ByteFreqs& bf, Engine e) {
  Passes p;
  for (const auto& w : windows)
    if (w.size() == kWindow) p.add(w.data());
  return p.rate(bf, e);
}

// Keys into buckets so that the lookups pass few positions: most common
// window first, each into the bucket whose candidates it adds least to, by
// the sample's bytes and byte pairs (a key sharing bytes with a bucket's keys
// adds little; mixing unlike windows passes their cross products).
std::vector<std::pair<size_t, size_t>> KeyFilter::assign_buckets(const ByteFreqs& bf, Engine e, size_t buckets,
                                                                 const std::vector<size_t>& order) const {
  std::vector<std::pair<double, size_t>> by_rate;
  for (size_t i : order) {
    Passes one;
    one.add(keys_[i]);
    by_rate.emplace_back(one.rate(bf, e), i);
  }
  std::stable_sort(by_rate.begin(), by_rate.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<Passes> passes(buckets);
  std::vector<double> rates(buckets, 0);
  std::vector<std::pair<size_t, size_t>> out;
  for (auto [alone, i] : by_rate) {
    size_t best = 0;
    double best_add = 0;
    Passes best_pass;
    for (size_t b = 0; b < buckets; ++b) {
      Passes p = passes[b];
      p.add(keys_[i]);
      double add = p.rate(bf, e) - rates[b];
      if (b == 0 || add < best_add) best = b, best_add = add, best_pass = p;
    }
    passes[best] = best_pass;
    rates[best] += best_add;
    out.emplace_back(best, i);
  }
  return out;
}

KeyFilter::KeyFilter(const std::vector<std::string>& keys, std::string_view sample_lower, Engine engine)
    : engine_(engine) {
  for (const auto& text : keys) {
    Key k;
    for (char c : text) k.text.push_back(ascii_lower(c));
    for (size_t j = 0; j < std::min<size_t>(8, k.text.size()); ++j) {
      auto c = static_cast<unsigned char>(k.text[j]);
      k.val |= uint64_t{c} << (8 * j);
      if (c >= 'a' && c <= 'z') k.fold |= uint64_t{0x20} << (8 * j);
      k.mask |= uint64_t{0xff} << (8 * j);
    }
    keys_.push_back(std::move(k));
  }
  auto counts = window_counts(keys_, sample_lower);
  const ByteFreqs bf(sample_lower);
  // The rarest window in the sample; among windows as rare (most are absent
  // from it), the one this engine's lookups pass least.
  for (auto& k : keys_) {
    std::pair<size_t, double> best{SIZE_MAX, 0};
    for (size_t o = 0; o + kWindow <= k.text.size(); ++o) {
      Passes one;
      one.add(k.text.data() + o);
      std::pair<size_t, double> c{counts[load32(k.text.data() + o)], one.rate(bf, engine)};
      if (c < best) best = c, k.offset = o;
    }
  }
  // Keys with like windows share a bucket (fewer mixed windows match), in
  // groups of 8 buckets: one group for a handful of keys, else two (each
  // group costs a lookup per window byte; more keys per bucket cost little).
  // Keys under 4 bytes match any byte past their end: they get bucket 0 to
  // themselves, so the other buckets keep all 4 bytes selective, and have no
  // slot in the second confirmation.
  std::vector<size_t> order, shorts;  // a key holding '\n' is in no line: in no bucket
  for (size_t i = 0; i < keys_.size(); ++i)
    if (keys_[i].text.find('\n') == std::string::npos) (keys_[i].text.size() < kWindow ? shorts : order).push_back(i);
  const size_t reserved = shorts.empty() ? 0 : 1;
  groups_ = order.size() + reserved <= 8 ? 1 : 2;
  size_t buckets = static_cast<size_t>(groups_) * 8;
  slots_.assign((size_t{1} << 16) / 64, 0);
  for (size_t i : order) {
    uint32_t h = window_slot(load32(keys_[i].text.data() + keys_[i].offset));
    slots_[h >> 6] |= uint64_t{1} << (h & 63);
  }
  short_bits_ = reserved ? 1u : 0u;
  bucket_.assign(buckets, {});
  std::vector<std::pair<size_t, size_t>> placed;  // (bucket, key)
  for (size_t i : shorts) placed.emplace_back(0, i);
  for (auto [b, ki] : assign_buckets(bf, engine, buckets - reserved, order))
    placed.emplace_back(reserved + b, ki);
  for (auto [b, ki] : placed) {
    const Key& k = keys_[ki];
    bucket_[b].push_back(static_cast<uint32_t>(ki));
    auto bit = static_cast<uint8_t>(1u << (b % 8));
    for (size_t j = 0; j < kWindow; ++j) {
      auto& tab = table_[b / 8][j];
      auto& lo = low_[b / 8][j];
      auto& hi = high_[b / 8][std::min(j, kHighNibbles - 1)];  // only the first's are read
      if (k.offset + j >= k.text.size()) {  // a short key: any byte
        for (auto& e : tab) e |= bit;
        for (size_t x = 0; x < 16; ++x) lo[x] |= bit;
        if (j < kHighNibbles)
          for (size_t x = 0; x < 16; ++x) hi[x] |= bit;
        continue;
      }
      for (char c : {ascii_lower(k.text[k.offset + j]), ascii_upper(k.text[k.offset + j])}) {
        auto u = static_cast<unsigned char>(c);
        tab[u & 63] |= bit;
        lo[u & 15] |= bit;
        if (j < kHighNibbles) hi[u >> 4] |= bit;
      }
    }
  }
}

namespace {

#if TPMDIAG_X86_ENGINES
// The candidates of 64 steps are gathered before they are checked, as with
// AVX2 below, and their bucket bits looked up again in the tables: fewer than
// one step in ten has a candidate on most logs, but one in three on a log full
// of boot lines, and a branch per step on it mispredicts.
template <int G>
TPMDIAG_VBMI void scan512(const uint8_t (&table)[2][4][64], const Buckets& bk, Found& f) {
  __m512i t[G][kWindow];
  for (int g = 0; g < G; ++g)
    for (size_t j = 0; j < kWindow; ++j) t[g][j] = _mm512_loadu_si512(table[g][j]);
  alignas(64) char tail[128];
  uint32_t at[kBlocks * 64 + 2];
  Newlines nl;
  __m512i seen = _mm512_setzero_si512();
  for (size_t base = 0; base < f.n;) {
    size_t blocks = std::min(kBlocks, (f.n - base + 63) / 64), found = 0;
    for (size_t b = 0; b < blocks; ++b) {
      size_t pos = base + b * 64;
      _mm_prefetch(ahead(f, pos), _MM_HINT_T0);
      __m512i r[G];
      uint64_t m_nl;
      uint64_t m = in_text(block512<G>(t, readable(f, pos, 64 + kWindow - 1, tail), r, m_nl, seen), f.n - pos);
      nl.add(b, m_nl);  // the padding past the text holds none
      found += positions(m, static_cast<uint32_t>(b * 64), at + found);
    }
    if (f.stats) f.stats->candidates += found;
    for (size_t k = 0; k < found; ++k) {
      size_t pos = base + at[k];
      if (pos < f.floor) continue;  // in a line already emitted
      uint8_t bits[G];
      for (int g = 0; g < G; ++g) {
        unsigned x = 0xff;
        for (size_t j = 0; j < kWindow; ++j)
          x &= table[g][j][(pos + j < f.n ? static_cast<unsigned char>(f.data[pos + j]) : 0u) & 63];
        bits[g] = static_cast<uint8_t>(x);
      }
      if (key_from(pos, bits, 1, G, bk, f)) emit_line(f, pos, f.counts.newlines + nl.at(at[k]));
    }
    base = next_batch(f, base, blocks, nl);
  }
  if (_mm512_movepi8_mask(seen)) f.counts.high = true;
}

// 64 bytes a step, as two registers. The candidates of 64 steps are gathered
// before they are checked, with their bucket bits (stored each step: cheaper
// here than looking them up again): with the looser nibble test about one
// step in three has a candidate, and a branch per step on it mispredicts.
template <int G>
TPMDIAG_AVX2 void scan256(const uint8_t (&low)[2][4][16], const uint8_t (&high)[2][kHighNibbles][16],
                          const Buckets& bk, Found& f) {
  __m256i lo[G][kWindow], hi[G][kHighNibbles];
  for (int g = 0; g < G; ++g) {  // PSHUFB looks up within each 16-byte lane
    for (size_t j = 0; j < kWindow; ++j)
      lo[g][j] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(low[g][j])));
    for (size_t j = 0; j < kHighNibbles; ++j)
      hi[g][j] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(high[g][j])));
  }
  alignas(64) char tail[128];
  alignas(64) uint8_t bits[kBlocks][G][64];
  uint32_t at[kBlocks * 64 + 2];
  Newlines nl;
  __m256i seen = _mm256_setzero_si256();
  for (size_t base = 0; base < f.n;) {
    size_t blocks = std::min(kBlocks, (f.n - base + 63) / 64), found = 0;
    for (size_t b = 0; b < blocks; ++b) {
      size_t pos = base + b * 64;
      _mm_prefetch(ahead(f, pos), _MM_HINT_T0);
      __m256i r0[G], r1[G];
      const char* p = readable(f, pos, 64 + kWindow - 1, tail);
      uint64_t m_nl;
      uint64_t m = in_text(block256<G>(lo, hi, p, r0, r1, m_nl, seen), f.n - pos);
      nl.add(b, m_nl);  // the padding past the text holds none
      for (int g = 0; g < G; ++g) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(bits[b][g]), r0[g]);
        _mm256_store_si256(reinterpret_cast<__m256i*>(bits[b][g] + 32), r1[g]);
      }
      found += positions(m, static_cast<uint32_t>(b * 64), at + found);
    }
    if (f.stats) f.stats->candidates += found;
    for (size_t k = 0; k < found; ++k) {
      size_t pos = base + at[k];
      if (pos >= f.floor && key_from(pos, &bits[at[k] / 64][0][at[k] % 64], 64, G, bk, f))
        emit_line(f, pos, f.counts.newlines + nl.at(at[k]));
    }
    base = next_batch(f, base, blocks, nl);
  }
  if (_mm256_movemask_epi8(seen)) f.counts.high = true;
}

#endif  // TPMDIAG_X86_ENGINES

}  // namespace

TextCounts KeyFilter::reference_lines(const std::vector<std::string>& keys, const char* data, size_t n,
                                      std::vector<LineSpan>& out) {
  TextCounts counts;
  std::string line;
  for (size_t begin = 0; begin < n;) {
    const void* nl = std::memchr(data + begin, '\n', n - begin);
    size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - data) : n;
    line.assign(data + begin, end - begin);
    for (char& c : line) {
      if (static_cast<unsigned char>(c) >= 0x80) counts.high = true;
      c = ascii_lower(c);
    }
    for (const auto& k : keys) {
      if (k.find('\n') != std::string::npos) continue;
      std::string lk;
      for (char c : k) lk.push_back(ascii_lower(c));
      if (line.find(lk) != std::string::npos) {
        out.push_back({begin, end, counts.newlines});
        break;
      }
    }
    if (nl) ++counts.newlines;
    begin = end + 1;
  }
  return counts;
}

TextCounts KeyFilter::lines(const char* data, size_t n, std::vector<LineSpan>& out,
                            [[maybe_unused]] Stats* stats) const {
#if !TPMDIAG_X86_ENGINES
  // Never constructed here (supported() is false); the reference keeps it total.
  std::vector<std::string> texts;
  for (const auto& k : keys_) texts.push_back(k.text);
  return reference_lines(texts, data, n, out);
#else
  Found f{data, n, &out, 0, stats, {}};
  Buckets bk{bucket_, keys_, slots_.data(), short_bits_};
  if (engine_ == Engine::avx512) {
    if (groups_ == 1)
      scan512<1>(table_, bk, f);
    else
      scan512<2>(table_, bk, f);
  } else {
    if (groups_ == 1)
      scan256<1>(low_, high_, bk, f);
    else
      scan256<2>(low_, high_, bk, f);
  }
  return f.counts;
#endif
}

}  // namespace tpmdiag
