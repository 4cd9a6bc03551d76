// libFuzzer target: the whole per-stream pipeline (pipeline/scanner.h):
// framing, literal prefilter, format parsing, multi-line joining and rule
// matching, with the embedded formats and rules, as `tpmdiag diagnose` runs it.
//
// The first byte picks max_line (small, so cut lines are common), whether the
// prefilter is on, and a forced input format; the rest is the stream, read
// through a source that returns it in small uneven pieces. Checked: no crash,
// no hang, no sanitizer report; with the prefilter on and off the same facts
// are found when no line was cut (the differential property the prefilter
// promises, checked with the prefilter forced on: these inputs are too small to
// turn it on by themselves); facts name the input and a line inside it; scanning the bytes in
// place (scan_memory, as for a mapped file) counts the same lines and cut lines.
//
// Scanners are built once per set of options and reused from input to input,
// as a worker thread reuses its Scanner over the parts of a file (run.cc): no
// state may carry from one input into the next, and no Vectorscan scratch or
// read buffer is built per input.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <unistd.h>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "pipeline/run.h"
#include "pipeline/scanner.h"

using namespace tpmdiag;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

// Built from the rule cache (rules/rule_cache.h), as a second run finds it:
// each rule compiles when a line first reaches it, the path the cache and
// lazy compiling add (issue 21).
const Engine& engine() {
  static const Engine* e = [] {
    std::string dir = "/tmp/tpmdiag-fuzz-cache-" + std::to_string(::getpid());
    ::setenv("TPMDIAG_CACHE_DIR", dir.c_str(), 1);
    if (!Engine::load({})) std::abort();  // compiles every rule, writes the cache
    auto r = Engine::load({});
    std::filesystem::remove_all(dir);
    if (!r || (*r)->matcher().compiled_rules() != 0) std::abort();
    return r->release();
  }();
  return *e;
}

// Returns the data in pieces of 1..step bytes.
class PieceSource : public ByteSource {
 public:
  PieceSource(std::string_view d, size_t step) : d_(d), step_(step) {}
  Result<size_t> read(char* buf, size_t cap) override {
    size_t n = d_.size() - at_;
    size_t want = 1 + (k_++ * 7919) % step_;
    if (n > want) n = want;
    if (n > cap) n = cap;
    std::memcpy(buf, d_.data() + at_, n);
    at_ += n;
    return n;
  }
  uint64_t raw_bytes() const override { return at_; }

 private:
  std::string_view d_;
  size_t step_, at_ = 0, k_ = 0;
};

// The Scanner for these options (the first byte's choices), built on first use.
Scanner& scanner(const ScanOptions& opts) {
  static std::map<std::tuple<size_t, std::string, bool, bool>, std::unique_ptr<Scanner>> made;
  auto& sc = made[{opts.max_line, opts.input_format, opts.prefilter, opts.force_prefilter}];
  if (!sc) sc = std::make_unique<Scanner>(engine().matcher(), engine().formats(), opts);
  return *sc;
}

std::vector<std::string> run(std::string_view stream, const ScanOptions& opts, size_t step, InputStats& stats) {
  std::vector<Fact> facts;
  PieceSource src(stream, step);
  Status s = scanner(opts).scan(src, "fuzz.log", 0, facts, stats);
  check(s.ok());
  std::vector<std::string> out;
  uint64_t lines = 1;
  for (char c : stream) lines += c == '\n';
  for (const Fact& f : facts) {
    check(f.rule != nullptr);
    check(f.input == "fuzz.log");
    check(f.line >= 1 && f.line <= lines);
    out.push_back(f.rule->id + "@" + std::to_string(f.line));
  }
  // As a multiset: lines that need normalising are matched after the rest
  // of their block, and blocks may end elsewhere on the two paths.
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const Engine& e = engine();
  uint8_t ctl = data[0];
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  ScanOptions opts;
  static const size_t kMaxLine[] = {64, 200, 4096, 1 << 20};
  opts.max_line = kMaxLine[ctl & 3];
  size_t step = 1 + ((ctl >> 2) & 7) * 97;
  if (ctl & 0x20) {
    const auto& fs = e.formats().formats();
    if (!fs.empty()) opts.input_format = fs[(ctl >> 6) % fs.size()].name;
  }
  // Inputs here are far below the size that turns the prefilter on by
  // itself: force it, or both runs would take the reference path. Every
  // other input takes the path of a paste instead, the prefilter not forced
  // (atoms by a plain search, Matcher::atoms_in), checked the same way.
  opts.force_prefilter = size % 2 == 0;
  InputStats with, without;
  auto a = run(stream, opts, step, with);
  opts.prefilter = false;
  auto b = run(stream, opts, step, without);
  check(with.lines == without.lines);
  if (with.cut_lines == 0) check(a == b);
  // Scanned in place (a mapped file): the same lines, and the same lines cut.
  opts.prefilter = true;
  opts.force_prefilter = true;
  std::vector<Fact> facts;
  InputStats mem;
  scanner(opts).scan_memory(stream.data(), stream.size(), "fuzz.log", 0, facts, mem);
  check(mem.lines == with.lines);
  check(mem.cut_lines == with.cut_lines);
  return 0;
}
