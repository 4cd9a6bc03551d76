#include "rules/keyfilter.h"

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
#define TPMDIAG_VBMI __attribute__((target("avx512f,avx512bw,avx512vbmi")))
#define TPMDIAG_AVX2 __attribute__((target("avx2")))

char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
char upper_ascii(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

uint32_t load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// How often each key's 4-byte windows occur in the sample: the rarest window
// makes the fewest candidates to check.
std::unordered_map<uint32_t, size_t> window_counts(const std::vector<KeyFilter::Key>& keys,
                                                   std::string_view sample) {
  std::unordered_map<uint32_t, size_t> counts;
  std::vector<bool> maybe(1 << 16);
  auto slot = [](uint32_t w) { return (w * 2654435761u) >> 16; };
  for (const auto& k : keys)
    for (size_t o = 0; o + kWindow <= k.text.size(); ++o) {
      uint32_t w = load32(k.text.data() + o);
      counts[w] = 0;
      maybe[slot(w)] = true;
    }
  for (size_t i = 0; i + kWindow <= sample.size(); ++i) {
    uint32_t w = load32(sample.data() + i);
    if (!maybe[slot(w)]) continue;
    auto it = counts.find(w);
    if (it != counts.end()) ++it->second;
  }
  return counts;
}

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
    if (lower_ascii(data[start + j]) != k.text[j]) return false;
  return true;
}

struct Found {
  const char* data;
  size_t n;
  std::vector<LineSpan>* out;
  size_t floor = 0;  // first byte not yet in an emitted line
};

// Emits the line around a key found at `at`; returns where scanning resumes.
size_t emit_line(Found& f, size_t at) {
  const void* nl = at > f.floor ? memrchr(f.data + f.floor, '\n', at - f.floor) : nullptr;
  size_t begin = nl ? static_cast<size_t>(static_cast<const char*>(nl) - f.data) + 1 : f.floor;
  const void* e = std::memchr(f.data + at, '\n', f.n - at);
  size_t end = e ? static_cast<size_t>(static_cast<const char*>(e) - f.data) : f.n;
  f.out->push_back({begin, end});
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

// A block's candidate mask without the positions past the text's end.
inline uint64_t in_text(uint64_t m, size_t rem) { return rem < 64 ? m & ((uint64_t{1} << rem) - 1) : m; }

// The candidates of one block at pos: bit i of m marks a position where the
// window of a key in one of the buckets bits[g][i] may start. Emits the line of
// each key really there; returns where scanning resumes.
size_t check_block(uint64_t m, size_t pos, size_t block, const uint8_t (*bits)[64], int groups,
                   const std::vector<std::vector<uint32_t>>& bucket, const std::vector<KeyFilter::Key>& keys,
                   Found& f) {
  while (m) {
    unsigned i = static_cast<unsigned>(__builtin_ctzll(m));
    m &= m - 1;
    size_t at = pos + i;
    bool hit = false;
    for (int g = 0; g < groups && !hit; ++g) {
      for (unsigned b = bits[g][i]; b && !hit; b &= b - 1) {
        for (uint32_t k : bucket[static_cast<size_t>(g) * 8 + static_cast<unsigned>(__builtin_ctz(b))]) {
          const auto& key = keys[k];
          if (at >= key.offset && key_at(key, f.data, f.n, at - key.offset)) {
            hit = true;
            break;
          }
        }
      }
    }
    if (!hit) continue;
    size_t resume = emit_line(f, at);
    if (resume >= pos + block) return resume;
    m &= ~uint64_t{0} << (resume - pos);
  }
  return pos + block;
}

// AVX-512: bucket bits of the windows that may start at each of the 64 bytes
// at p (p[0..67) readable), per group of 8 buckets in r; returns the byte mask.
template <int G>
TPMDIAG_VBMI inline uint64_t block512(const __m512i (&t)[G][kWindow], const char* p, __m512i (&r)[G]) {
  __m512i v0 = _mm512_loadu_si512(p), v1 = _mm512_loadu_si512(p + 1);
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

// AVX2: the same for the 32 bytes at p (p[0..35) readable), by nibbles.
template <int G>
TPMDIAG_AVX2 inline uint32_t block256(const __m256i (&lo)[G][kWindow], const __m256i (&hi)[G][kWindow],
                                      const char* p, __m256i (&r)[G]) {
  const __m256i nibble = _mm256_set1_epi8(0x0f);
  __m256i l[kWindow], h[kWindow];
  for (size_t j = 0; j < kWindow; ++j) {
    __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + j));
    l[j] = _mm256_and_si256(v, nibble);
    h[j] = _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble);
  }
  __m256i any = _mm256_setzero_si256();
  for (int g = 0; g < G; ++g) {
    __m256i x = _mm256_and_si256(_mm256_shuffle_epi8(lo[g][0], l[0]), _mm256_shuffle_epi8(hi[g][0], h[0]));
    for (size_t j = 1; j < kWindow; ++j)
      x = _mm256_and_si256(x, _mm256_and_si256(_mm256_shuffle_epi8(lo[g][j], l[j]), _mm256_shuffle_epi8(hi[g][j], h[j])));
    r[g] = x;
    any = _mm256_or_si256(any, x);
  }
  return ~static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(any, _mm256_setzero_si256())));
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

KeyFilter::KeyFilter(const std::vector<std::string>& keys, std::string_view sample_lower, Engine engine)
    : engine_(engine) {
  for (const auto& text : keys) {
    Key k;
    for (char c : text) k.text.push_back(lower_ascii(c));
    for (size_t j = 0; j < std::min<size_t>(8, k.text.size()); ++j) {
      auto c = static_cast<unsigned char>(k.text[j]);
      k.val |= uint64_t{c} << (8 * j);
      if (c >= 'a' && c <= 'z') k.fold |= uint64_t{0x20} << (8 * j);
      k.mask |= uint64_t{0xff} << (8 * j);
    }
    keys_.push_back(std::move(k));
  }
  auto counts = window_counts(keys_, sample_lower);
  for (auto& k : keys_) {
    size_t best = SIZE_MAX;
    for (size_t o = 0; o + kWindow <= k.text.size(); ++o) {
      size_t c = counts[load32(k.text.data() + o)];
      if (c < best) best = c, k.offset = o;
    }
  }
  // Keys with like windows share a bucket (fewer mixed windows match), in
  // groups of 8 buckets: one group for a handful of keys, else two (each
  // group costs a lookup per window byte; more keys per bucket cost little).
  groups_ = keys_.size() <= 8 ? 1 : 2;
  size_t buckets = static_cast<size_t>(groups_) * 8;
  std::vector<size_t> order;  // a key holding '\n' is in no line: in no bucket
  for (size_t i = 0; i < keys_.size(); ++i)
    if (keys_[i].text.find('\n') == std::string::npos) order.push_back(i);
  auto win = [&](size_t i) { return std::string_view(keys_[i].text).substr(keys_[i].offset, kWindow); };
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return win(a) < win(b); });
  bucket_.assign(buckets, {});
  for (size_t r = 0; r < order.size(); ++r) {
    size_t b = r * buckets / order.size();
    const Key& k = keys_[order[r]];
    bucket_[b].push_back(static_cast<uint32_t>(order[r]));
    auto bit = static_cast<uint8_t>(1u << (b % 8));
    for (size_t j = 0; j < kWindow; ++j) {
      auto& tab = table_[b / 8][j];
      auto& lo = low_[b / 8][j];
      auto& hi = high_[b / 8][j];
      if (k.offset + j >= k.text.size()) {  // a short key: any byte
        for (auto& e : tab) e |= bit;
        for (size_t x = 0; x < 16; ++x) lo[x] |= bit, hi[x] |= bit;
        continue;
      }
      for (char c : {lower_ascii(k.text[k.offset + j]), upper_ascii(k.text[k.offset + j])}) {
        auto u = static_cast<unsigned char>(c);
        tab[u & 63] |= bit;
        lo[u & 15] |= bit;
        hi[u >> 4] |= bit;
      }
    }
  }
}

namespace {

#if TPMDIAG_X86_ENGINES
template <int G>
TPMDIAG_VBMI void scan512(const uint8_t (&table)[2][4][64], const std::vector<std::vector<uint32_t>>& bucket,
                          const std::vector<KeyFilter::Key>& keys, Found& f) {
  __m512i t[G][kWindow];
  for (int g = 0; g < G; ++g)
    for (size_t j = 0; j < kWindow; ++j) t[g][j] = _mm512_loadu_si512(table[g][j]);
  alignas(64) char tail[128];
  alignas(64) uint8_t bits[G][64];
  for (size_t pos = 0; pos < f.n;) {
    __m512i r[G];
    uint64_t m = in_text(block512<G>(t, readable(f, pos, 64 + kWindow - 1, tail), r), f.n - pos);
    if (m) {
      for (int g = 0; g < G; ++g) _mm512_store_si512(bits[g], r[g]);
      pos = check_block(m, pos, 64, bits, G, bucket, keys, f);
    } else {
      pos += 64;
    }
  }
}

template <int G>
TPMDIAG_AVX2 void scan256(const uint8_t (&low)[2][4][16], const uint8_t (&high)[2][4][16],
                          const std::vector<std::vector<uint32_t>>& bucket, const std::vector<KeyFilter::Key>& keys,
                          Found& f) {
  __m256i lo[G][kWindow], hi[G][kWindow];
  for (int g = 0; g < G; ++g)
    for (size_t j = 0; j < kWindow; ++j) {  // PSHUFB looks up within each 16-byte lane
      lo[g][j] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(low[g][j])));
      hi[g][j] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(high[g][j])));
    }
  alignas(64) char tail[128];
  alignas(64) uint8_t bits[G][64];
  for (size_t pos = 0; pos < f.n;) {
    __m256i r[G];
    uint64_t m = in_text(block256<G>(lo, hi, readable(f, pos, 32 + kWindow - 1, tail), r), f.n - pos);
    if (m) {
      for (int g = 0; g < G; ++g) _mm256_store_si256(reinterpret_cast<__m256i*>(bits[g]), r[g]);
      pos = check_block(m, pos, 32, bits, G, bucket, keys, f);
    } else {
      pos += 32;
    }
  }
}

#endif  // TPMDIAG_X86_ENGINES

}  // namespace

void KeyFilter::reference_lines(const std::vector<std::string>& keys, const char* data, size_t n,
                                std::vector<LineSpan>& out) {
  std::string line;
  for (size_t begin = 0; begin < n;) {
    const void* nl = std::memchr(data + begin, '\n', n - begin);
    size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - data) : n;
    line.assign(data + begin, end - begin);
    for (char& c : line) c = lower_ascii(c);
    for (const auto& k : keys) {
      if (k.find('\n') != std::string::npos) continue;
      std::string lk;
      for (char c : k) lk.push_back(lower_ascii(c));
      if (line.find(lk) != std::string::npos) {
        out.push_back({begin, end});
        break;
      }
    }
    begin = end + 1;
  }
}

void KeyFilter::lines(const char* data, size_t n, std::vector<LineSpan>& out) const {
#if !TPMDIAG_X86_ENGINES
  // Never constructed here (supported() is false); the reference keeps it total.
  std::vector<std::string> texts;
  for (const auto& k : keys_) texts.push_back(k.text);
  reference_lines(texts, data, n, out);
#else
  Found f{data, n, &out};
  if (engine_ == Engine::avx512) {
    if (groups_ == 1)
      scan512<1>(table_, bucket_, keys_, f);
    else
      scan512<2>(table_, bucket_, keys_, f);
  } else {
    if (groups_ == 1)
      scan256<1>(low_, high_, bucket_, keys_, f);
    else
      scan256<2>(low_, high_, bucket_, keys_, f);
  }
#endif
}

}  // namespace tpmdiag
