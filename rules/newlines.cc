#include "rules/newlines.h"

#include <algorithm>

#include "common/cpu.h"
#include "rules/keyfilter.h"

#if TPMDIAG_X86_ENGINES
#include <immintrin.h>
#endif

namespace tpmdiag {

namespace {

uint64_t count_plain(const char* p, size_t n, bool* high) {
  uint64_t c = 0;
  unsigned char any = 0;
  for (size_t i = 0; i < n; ++i) c += p[i] == '\n', any |= static_cast<unsigned char>(p[i]);
  if (high && (any & 0x80)) *high = true;
  return c;
}

#if TPMDIAG_X86_ENGINES
// Compare 32 bytes at a time, add the 0/-1 results into byte counters, and
// fold those with psadbw before they can overflow. (CPUs without AVX2 take
// the plain loop.)
__attribute__((target("avx2"))) uint64_t count_avx2(const char* p, size_t n, bool* high) {
  uint64_t total = 0;
  size_t i = 0;
  const __m256i nl = _mm256_set1_epi8('\n');
  __m256i any = _mm256_setzero_si256();  // OR of every byte: is any >= 0x80?
  while (n - i >= 32) {
    __m256i acc = _mm256_setzero_si256();
    size_t stop = i + std::min<size_t>((n - i) / 32, 255) * 32;
    for (; i < stop; i += 32) {
      __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
      acc = _mm256_sub_epi8(acc, _mm256_cmpeq_epi8(v, nl));
      any = _mm256_or_si256(any, v);
    }
    __m256i sums = _mm256_sad_epu8(acc, _mm256_setzero_si256());
    total += static_cast<uint64_t>(_mm256_extract_epi64(sums, 0)) + static_cast<uint64_t>(_mm256_extract_epi64(sums, 1)) +
             static_cast<uint64_t>(_mm256_extract_epi64(sums, 2)) + static_cast<uint64_t>(_mm256_extract_epi64(sums, 3));
  }
  if (high && _mm256_movemask_epi8(any) != 0) *high = true;
  return total + count_plain(p + i, n - i, high);
}

// The same with AVX-512: a mask per 64 bytes, counted by popcount.
__attribute__((target("avx512f,avx512bw,popcnt"))) uint64_t count_avx512(const char* p, size_t n, bool* high) {
  uint64_t total = 0;
  size_t i = 0;
  const __m512i nl = _mm512_set1_epi8('\n');
  __mmask64 any = 0;  // bytes >= 0x80
  for (; n - i >= 64; i += 64) {
    __m512i v = _mm512_loadu_si512(p + i);
    total += static_cast<uint64_t>(_mm_popcnt_u64(_mm512_cmpeq_epi8_mask(v, nl)));
    any |= _mm512_movepi8_mask(v);
  }
  if (high && any) *high = true;
  return total + count_plain(p + i, n - i, high);
}
#endif

}  // namespace

uint64_t count_newlines(const char* p, size_t n, bool* high) {
#if TPMDIAG_X86_ENGINES
  // AVX-512 where the key search uses it too, so that a run with
  // TPMDIAG_PREFILTER=avx2 stands for an AVX2-only CPU.
  static const int engine = KeyFilter::best() == KeyFilter::Engine::avx512 && __builtin_cpu_supports("avx512bw")
                                ? 2
                                : __builtin_cpu_supports("avx2") ? 1 : 0;
  return engine == 2 ? count_avx512(p, n, high) : engine == 1 ? count_avx2(p, n, high) : count_plain(p, n, high);
#else
  return count_plain(p, n, high);
#endif
}

}  // namespace tpmdiag
