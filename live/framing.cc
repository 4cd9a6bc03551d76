#include "live/framing.h"

namespace tpmdiag::live {

StreamFramer::Count StreamFramer::parse_count(const char* p, size_t n, size_t& header, size_t& len) const {
  // MSG-LEN = NONZERO-DIGIT *DIGIT (RFC 6587 3.4.1), at most 10 digits.
  if (n == 0) return Count::more;
  if (p[0] < '1' || p[0] > '9') return Count::no;
  constexpr size_t kDigits = 10;
  size_t v = 0, i = 0;
  for (; i < n && i <= kDigits; ++i) {
    char c = p[i];
    if (c == ' ') break;
    if (c < '0' || c > '9') return Count::no;
    v = v * 10 + static_cast<size_t>(c - '0');
  }
  if (i == n) return i <= kDigits ? Count::more : Count::no;
  if (i > kDigits) return Count::no;
  // A count far beyond the frame cap is no sender's frame: skipping that many
  // bytes would swallow the messages after it. Read it as an LF message.
  if (v > max_frame_ * kMaxCountFactor) return Count::no;
  header = i + 1;
  len = v;
  return Count::yes;
}

}  // namespace tpmdiag::live
