// libFuzzer target: the key search (rules/keyfilter.h), with each engine this
// CPU has, against its slow reference. Input: one byte giving the key count (1..48), then each key
// as a length byte (0..15) and its bytes, then the text. The text is scanned
// from a buffer of exactly its size, so reading past it is caught by ASan.
// On a CPU with neither AVX2 nor AVX-512 VBMI there is nothing to check.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "rules/keyfilter.h"
#include "rules/matcher.h"

using namespace tpmdiag;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t count = 1 + data[0] % 48, at = 1;
  std::vector<std::string> keys;
  while (keys.size() < count && at < size) {
    size_t len = data[at++] % 16;
    len = std::min(len, size - at);
    keys.emplace_back(reinterpret_cast<const char*>(data + at), len);
    at += len;
  }
  size_t n = size - at;
  std::unique_ptr<char[]> text(new char[n ? n : 1]);
  std::copy(data + at, data + size, text.get());
  std::vector<LineSpan> slow;
  TextCounts want = KeyFilter::reference_lines(keys, text.get(), n, slow);
  if (want.newlines != static_cast<uint64_t>(std::count(text.get(), text.get() + n, '\n'))) std::abort();
  for (auto e : {KeyFilter::Engine::avx512, KeyFilter::Engine::avx2}) {
    if (!KeyFilter::supported(e)) continue;
    KeyFilter f(keys, std::string_view(text.get(), n), e);
    std::vector<LineSpan> fast;
    TextCounts got = f.lines(text.get(), n, fast);
    if (fast.size() != slow.size() || got.newlines != want.newlines || got.high != want.high) std::abort();
    for (size_t i = 0; i < fast.size(); ++i)
      if (fast[i].begin != slow[i].begin || fast[i].end != slow[i].end || fast[i].index != slow[i].index)
        std::abort();
  }
  return 0;
}
