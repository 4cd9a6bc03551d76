// libFuzzer target: HeadMatcher (head_match.h) against RE2 on any pattern and
// text. The input is the pattern, a NUL, then the text. Checked: a pattern
// the matcher compiles is one RE2 reads with as many groups; on every text
// the matcher answers as RE2::Match(ANCHOR_START) does, captures included,
// or gives up; and no crash or sanitizer report.
//
//   cmake --build build-fuzz --target fuzz_head_match_fuzz && build-fuzz/fuzz_head_match_fuzz CORPUS/
//   (tests/fuzz.sh runs every target with seeded corpora)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <re2/re2.h>
#include <string_view>
#include <vector>

#include "parsers/head_match.h"

using namespace tpmdiag;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  size_t nul = all.find('\0');
  if (nul == std::string_view::npos || nul > 512) return 0;
  std::string_view pattern = all.substr(0, nul), text = all.substr(nul + 1);
  auto h = HeadMatcher::compile(pattern);
  if (!h) return 0;
  RE2::Options o;
  o.set_log_errors(false);
  RE2 re(re2::StringPiece(pattern.data(), pattern.size()), o);
  if (!re.ok()) return 0;  // the subset is looser than RE2 in places RE2 rejects anyway
  if (h->groups() != re.NumberOfCapturingGroups()) std::abort();
  int n = std::min(h->groups() + 1, 32);
  std::vector<re2::StringPiece> fast(static_cast<size_t>(n)), ref(static_cast<size_t>(n));
  auto got = h->match(text, fast.data(), n);
  if (got == HeadMatcher::Result::gave_up) return 0;
  bool want = re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), RE2::ANCHOR_START, ref.data(), n);
  if ((got == HeadMatcher::Result::match) != want) std::abort();
  for (int g = 0; want && g < n; ++g)
    if (fast[static_cast<size_t>(g)].data() != ref[static_cast<size_t>(g)].data() ||
        fast[static_cast<size_t>(g)].size() != ref[static_cast<size_t>(g)].size())
      std::abort();
  return 0;
}
