// A fast 64-bit hash of bytes, 16 at a time (wyhash's multiply-and-fold),
// for naming what was made from files: the rule cache (rules/rule_cache.h).
// Not cryptographic: it tells texts apart, it does not resist someone who
// chooses them.
//
//   uint64_t h = hash_bytes(path);
//   h = hash_bytes(text, h);         // chained: the seed carries what came before
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace tpmdiag {

// The 128-bit product of a and b, its halves folded.
inline uint64_t hash_fold(uint64_t a, uint64_t b) {
  const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

inline uint64_t hash_bytes(std::string_view s, uint64_t seed = 0) {
  constexpr uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull, k2 = 0x8ebc6af09c88c6e3ull;
  const char* p = s.data();
  size_t n = s.size();
  uint64_t h = hash_fold(seed ^ k0, s.size() ^ k1);
  for (; n >= 16; p += 16, n -= 16) {
    uint64_t a, b;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + 8, 8);
    h = hash_fold(a ^ k1, b ^ h);
  }
  uint64_t a = 0, b = 0;  // the last 0..15 bytes, zero-filled (the length is in h)
  if (n > 0) std::memcpy(&a, p, n < 8 ? n : 8);
  if (n > 8) std::memcpy(&b, p + 8, n - 8);
  return hash_fold(h ^ k2, hash_fold(a ^ k1, b ^ k0));
}

}  // namespace tpmdiag
