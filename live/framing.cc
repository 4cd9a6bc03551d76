#include "live/framing.h"

namespace tpmdiag::live {

StreamFramer::Count StreamFramer::parse_count(const char* p, size_t n, size_t& header, size_t& len) const {
  // MSG-LEN = NONZERO-DIGIT *DIGIT (RFC 6587 3.4.1); 9 digits is far beyond any frame cap.
  if (n == 0) return Count::more;
  if (p[0] < '1' || p[0] > '9') return Count::no;
  size_t v = 0, i = 0;
  for (; i < n && i < 10; ++i) {
    char c = p[i];
    if (c == ' ') break;
    if (c < '0' || c > '9') return Count::no;
    v = v * 10 + static_cast<size_t>(c - '0');
  }
  if (i == n) return i < 10 ? Count::more : Count::no;
  if (i >= 10) return Count::no;
  header = i + 1;
  len = v;
  return Count::yes;
}

}  // namespace tpmdiag::live
