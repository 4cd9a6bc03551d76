// Level 1 of the prefilter on x86 CPUs with AVX2 or AVX-512 VBMI: finds the
// lines that hold any of a few caseless keys (rules/matcher.h has the levels).
//
// Why not Vectorscan here: for the ~30 keys our rules need, it picks its FDR
// engine, about 2.5 GB/s per core, which made the key search 60 % of a
// diagnosis. This is a bucketed 4-byte fingerprint search in the manner of
// Teddy (Hyperscan's small-set engine, also used by ripgrep), sized for that
// case: each key gets a 4-byte window (the rarest in the sample text) and a
// bucket; for every byte position, table lookups per window byte and group of
// 8 buckets give the buckets whose window may start there. With AVX-512 VBMI
// one VPERMB looks up the low 6 bits of 64 bytes at once (~10 GB/s per core);
// with AVX2 one PSHUFB looks up the low nibble of 32 bytes (and for the
// window's first byte a second its high nibble), two registers a step (a
// looser test, so about one 64-byte step in three has a candidate: the
// positions of 64 steps are gathered without a branch, then checked; ~8 GB/s
// per core).
// Windows are chosen and buckets filled so that the lookups pass few
// positions (by the sample's bytes and byte pairs; keys under 4 bytes, which pass
// any byte past their end, get a bucket of their own). A candidate's 4 bytes
// must then hash to a slot some window took (one multiply) before its
// buckets' keys are compared whole. Other CPUs keep Vectorscan.
// As it reads every byte, it also counts the lines (a compare per 64 bytes),
// so that the lines it returns come numbered and the scanner need not read
// the text a second time for line numbers. It prefetches 4 KiB ahead: a large
// file is searched in place in its mapping, whose pages come from memory.
//
//   KeyFilter f(keys, sample_lower);   // keys: any case and length (under 4 bytes
//                                      // they make more candidates to check)
//   TextCounts c = f.lines(data, n, spans);  // appends each line holding a key,
//                                      // once, with its index; c: data's lines
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/cpu.h"
#include "common/text.h"  // LineSpan

namespace tpmdiag {

// Byte frequencies of a sample, to steer key windows and buckets; and how
// often each byte follows another, as what a lookup passes at one window byte
// depends on what it passed at the one before: mixing the windows "st t" and
// "seal" in a bucket passes "stat", far more common in logs than its bytes
// taken one by one make it.
struct ByteFreqs {
  explicit ByteFreqs(std::string_view sample);
  double freq[256];       // share of bytes of each value
  double freq6[64] = {};  // share of bytes of each low-6-bit value
  // The chance of the next byte's low 6 bits (AVX-512) or low nibble (AVX2)
  // given this byte's low 6 bits, byte, or low nibble.
  std::vector<double> next6;      // [64 * 64]
  std::vector<double> next_lo;    // [256 * 16], after a byte
  std::vector<double> next_lolo;  // [16 * 16], after a low nibble
};

class KeyFilter {
 public:
  enum class Engine { avx512, avx2 };
  static bool supported(Engine e);
  // The engine to use: the best this CPU supports, or the one
  // TPMDIAG_PREFILTER names (avx512, avx2); none when it says vectorscan or
  // names one the CPU lacks (for comparisons and tests).
  static std::optional<Engine> best();
  static bool usable() { return best().has_value(); }
  static const char* name(Engine e) { return e == Engine::avx512 ? "AVX-512 VBMI" : "AVX2"; }

  // keys: any case; one holding '\n' is in no line and is ignored.
  // sample_lower: lowercase text like the input, to pick rare windows (may be
  // empty); it steers speed only, never which lines are found.
  // engine must be supported().
  KeyFilter(const std::vector<std::string>& keys, std::string_view sample_lower, Engine engine);

  // Appends [begin, end) and the index of each line of data[0..n) that holds
  // a key, in order and once; end is at the '\n' or n. Returns what it
  // counted over all of data on the way (the search reads every byte: this
  // saves a second pass for line numbers). stats, when given, counts the work
  // (for tests and tuning).
  struct Stats {
    size_t candidates = 0;  // positions the table lookups passed
    size_t confirmed = 0;   // of those, positions whose keys were compared
  };
  TextCounts lines(const char* data, size_t n, std::vector<LineSpan>& out, Stats* stats = nullptr) const;

  // The same answer the slow way (each line lowercased and searched), for tests.
  static TextCounts reference_lines(const std::vector<std::string>& keys, const char* data, size_t n,
                              std::vector<LineSpan>& out);

  // The share of positions of text like the sample where the lookups of one
  // bucket holding these 4-byte windows (any case) pass, as estimated to fill
  // the buckets; for tests of the estimate against a count.
  static double pass_rate(const std::vector<std::string>& windows, const ByteFreqs& bf, Engine e);

  // The window of each key, for `rules prefilter`: offset into the key.
  size_t window(size_t key) const { return keys_[key].offset; }
  Engine engine() const { return engine_; }

  // Window bytes whose high nibble the AVX2 test looks up too (the first):
  // the low nibble alone passes more positions, but the lookups, not the
  // candidates they pass, are most of the search's time.
  static constexpr size_t kHighNibbles = 1;

  struct Key {
    std::string text;     // lowercase
    size_t offset = 0;    // of the 4-byte window in text
    uint64_t val = 0, fold = 0, mask = 0;  // first 8 bytes: caseless compare
  };

 private:
  std::vector<std::pair<size_t, size_t>> assign_buckets(const ByteFreqs& bf, Engine e, size_t buckets,
                                                        const std::vector<size_t>& order) const;
  std::vector<Key> keys_;
  Engine engine_;
  int groups_ = 1;                              // of 8 buckets: 1 or 2
  std::vector<std::vector<uint32_t>> bucket_;   // bucket -> keys
  std::vector<uint64_t> slots_;                 // 2^16 bits: hash slots of the windows
  unsigned short_bits_ = 0;                     // group 0's bucket of keys under 4 bytes
  // -> bucket bits, per [group][window byte]: by the byte's low 6 bits (AVX-512),
  // by its low nibble and, for the first kHighNibbles window bytes, its high
  // nibble (AVX2: a byte may start a window if both do).
  alignas(64) uint8_t table_[2][4][64] = {};
  alignas(64) uint8_t low_[2][4][16] = {}, high_[2][kHighNibbles][16] = {};
};

}  // namespace tpmdiag
