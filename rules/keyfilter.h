// Level 1 of the prefilter on CPUs with AVX-512 VBMI: finds the lines that hold
// any of a few caseless keys, at memory speed (rules/matcher.h has the levels).
//
// Why not Vectorscan here: for the ~30 keys our rules need, it picks its FDR
// engine, about 2.5 GB/s per core, which made the key search 60 % of a
// diagnosis. This is a bucketed 4-byte fingerprint search in the manner of
// Teddy (Hyperscan's small-set engine, also used by ripgrep), sized for that
// case: each key gets a 4-byte window (the rarest in the sample text) and a
// bucket; for every byte position one VPERMB table lookup per window byte and
// bucket group gives the buckets whose window may start there; candidates are
// then checked against the whole key. Other CPUs keep Vectorscan.
//
//   KeyFilter f(keys, sample_lower);   // keys lowercase, 3+ bytes
//   f.lines(data, n, spans);           // appends each line holding a key, once
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tpmdiag {

struct LineSpan;

class KeyFilter {
 public:
  // Whether this CPU can run it (AVX-512 BW and VBMI), and the environment does
  // not ask for Vectorscan (TPMDIAG_PREFILTER=vectorscan, for comparisons).
  static bool usable();

  // keys: any case; one holding '\n' is in no line and is ignored.
  // sample_lower: lowercase text like the input, to pick rare windows (may be
  // empty); it steers speed only, never which lines are found.
  KeyFilter(const std::vector<std::string>& keys, std::string_view sample_lower);

  // Appends [begin, end) of each line of data[0..n) that holds a key, in order
  // and once; end is at the '\n' or n.
  void lines(const char* data, size_t n, std::vector<LineSpan>& out) const;

  // The same answer the slow way (each line lowercased and searched), for tests.
  static void reference_lines(const std::vector<std::string>& keys, const char* data, size_t n,
                              std::vector<LineSpan>& out);

  // The window of each key, for `rules prefilter`: offset into the key.
  size_t window(size_t key) const { return keys_[key].offset; }
  int bucket_groups() const { return groups_; }

  struct Key {
    std::string text;     // lowercase
    size_t offset = 0;    // of the 4-byte window in text
    uint64_t val = 0, fold = 0, mask = 0;  // first 8 bytes: caseless compare
  };

 private:
  std::vector<Key> keys_;
  int groups_ = 1;                              // of 8 buckets: 1, 2 or 4
  std::vector<std::vector<uint32_t>> bucket_;   // bucket -> keys
  alignas(64) uint8_t table_[4][4][64] = {};    // [group][window byte][byte & 63] -> bucket bits
};

}  // namespace tpmdiag
