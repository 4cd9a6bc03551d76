// Counting lines at memory speed. The prefilter reads every byte of a block
// once; the line numbers of the lines it returns, the block's line count and
// whether any byte is >= 0x80 (text that may need normalising) are counted on
// that same pass (rules/keyfilter.h, Matcher::prefilter), and by this where
// the search cannot count them itself (Vectorscan, a part of a block it skips).
//
//   TextCounts c;
//   c.newlines += count_newlines(p, n, &c.high);
#pragma once

#include <cstddef>
#include <cstdint>

namespace tpmdiag {

// Number of '\n' bytes in [p, p + n); when `high` is given, it is also set
// if any byte is >= 0x80 (and left as it was otherwise).
uint64_t count_newlines(const char* p, size_t n, bool* high = nullptr);

}  // namespace tpmdiag
