// libFuzzer target: line format detection and Event parsing (FormatSet::parse)
// on the embedded formats (parsers/formats/*.json), auto-detected and forced.
//
//   cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang -DTPMDIAG_FUZZ=ON
//   cmake --build build-fuzz --target fuzz_format_fuzz && build-fuzz/fuzz_format_fuzz CORPUS/
//   (tests/fuzz.sh runs every target with seeded corpora)
//
// The input is split at LF; every line is parsed auto-detected and then with
// each format forced in turn (as --input-format does). Checked: no crash, no
// sanitizer report, the Event's views point into the line or the scratch, and
// a format's head (trailing_any.h) captures what its whole pattern captures.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <string_view>

#include "parsers/format.h"

using namespace tpmdiag;

namespace {

const FormatSet& formats() {
  static const FormatSet* set = [] {
    auto files = collect_data_files("parsers/formats/", {});
    if (!files) std::abort();
    auto f = load_formats(*files);
    if (!f) std::abort();
    return new FormatSet(std::move(*f));
  }();
  return *set;
}

void parse_line(std::string_view line, ParseScratch& scratch) {
  const FormatSet& fs = formats();
  Event ev;
  fs.parse(line, ev, scratch);
  // Touch every view so ASan sees a dangling one.
  volatile size_t sink = 0;
  for (std::string_view v : {ev.message, ev.host, ev.component, ev.program, ev.proc_id, ev.ts_text})
    for (char c : v) sink = sink + static_cast<unsigned char>(c);
  for (const Format& f : fs.formats()) {
    if (f.compiled() && f.compiled_head()) {
      re2::StringPiece fast[24], ref[24];
      int n = std::min(f.re->NumberOfCapturingGroups() + 1, 24);
      bool a = f.match(line, fast, n), b = f.match(line, ref, n, true);
      if (a != b) std::abort();
      for (int g = 0; a && g < n; ++g)
        if (fast[g].data() != ref[g].data() || fast[g].size() != ref[g].size()) std::abort();
    }
    Event forced;
    fs.parse(line, forced, scratch, &f);
    for (char c : forced.message) sink = sink + static_cast<unsigned char>(c);
  }
  (void)sink;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ParseScratch scratch;
  std::string_view all(reinterpret_cast<const char*>(data), size);
  parse_line(all, scratch);  // the whole input as one (possibly multi-line) text
  size_t start = 0;
  int lines = 0;
  while (start < all.size() && lines < 64) {
    size_t nl = all.find('\n', start);
    if (nl == std::string_view::npos) nl = all.size();
    parse_line(all.substr(start, nl - start), scratch);
    start = nl + 1;
    ++lines;
  }
  return 0;
}
