// Metamorphic test (issue 16): what people paste differs from the log in ways
// that must not change the diagnosis. For every scenario with a finding, each
// variant of its text files below must give the same top cause:
//   - every space a no-break space (U+00A0), as a web page or HTML mail gives;
//   - a BOM at the start and a zero-width space after every space;
//   - each line without its time/cpu/process header (the message as a KB or
//     ticket quotes it, component kept), for scenarios within one boot window
//     (across boots, only the headers' timestamps order lines of several files);
//   - straight quotes turned curly;
//   - for a scenario of a single line, the bare key sentence: the line without
//     its 'tpmDriver: Function:NNN:' style prefix.
// Compressed inputs (.gz, .tgz) are copied unchanged.
#include <catch2/catch.hpp>
#include <simdjson.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <re2/re2.h>
#include <sstream>

#include "pipeline/run.h"
#include "support.h"

using namespace tpmdiag;
namespace fs = std::filesystem;

namespace {

const Engine& engine() { return testing::shared_engine(); }
std::string read_all(const fs::path& p) { return testing::read_text(p); }

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size()) s.replace(at, from.size(), to);
  return s;
}

// Applies fn to each line (without its '\n').
std::string per_line(const std::string& text, const std::function<std::string(std::string_view)>& fn) {
  std::string out;
  for (size_t at = 0; at < text.size();) {
    size_t nl = text.find('\n', at);
    size_t end = nl == std::string::npos ? text.size() : nl;
    out += fn(std::string_view(text).substr(at, end - at));
    if (nl != std::string::npos) out += '\n';
    at = end + 1;
  }
  return out;
}

// The line as a ticket quotes it: the message after the format's header, with
// the component in front when the header held it (hostd's sub=...).
std::string without_header(std::string_view line) {
  Event ev;
  engine().formats().parse(line, ev);
  std::string m(ev.message);
  if (!ev.component.empty() && m.find(ev.component) == std::string::npos) m = std::string(ev.component) + ": " + m;
  return m;
}

// A key sentence without 'tpmDriver: Tpm2Init:1881: ' / 'VMB_TPM: 99: ' style prefixes.
std::string bare_sentence(std::string_view line) {
  std::string m = without_header(line);
  static const RE2 prefix(R"(^(?:[A-Za-z_][\w.]*:\s*)?(?:[A-Za-z_]\w*:\d+:\s*|\d+:\s*))");
  RE2::Replace(&m, prefix, "");
  return m;
}

struct Variant {
  const char* name;
  std::function<std::string(const std::string&)> apply;
  bool single_line_only = false;
  bool one_boot_only = false;
};

const std::vector<Variant>& variants() {
  static const std::vector<Variant> v = {
      {"no-break spaces", [](const std::string& t) { return replace_all(t, " ", "\xC2\xA0"); }},
      {"BOM and zero-width spaces",
       [](const std::string& t) { return "\xEF\xBB\xBF" + replace_all(t, " ", " \xE2\x80\x8B"); }},
      {"lines without their header", [](const std::string& t) { return per_line(t, without_header); }, false, true},
      {"curly quotes",
       [](const std::string& t) {
         return replace_all(replace_all(t, "'", "\xE2\x80\x99"), "\"", "\xE2\x80\x9D");
       }},
      {"the bare sentence", [](const std::string& t) { return per_line(t, bare_sentence); }, true},
  };
  return v;
}

bool text_file(const fs::path& p) {
  auto ext = p.extension().string();
  return ext != ".gz" && ext != ".tgz" && ext != ".zip" && p.filename() != "expect.json";
}

std::string top_cause(const std::string& dir, size_t* boots = nullptr) {
  Report r = run_inputs(engine(), {dir}, {});
  if (boots) {
    *boots = 0;
    for (const auto& h : r.hosts) *boots = std::max(*boots, h.boots.size());
  }
  return r.findings.empty() ? std::string("(none)") : r.findings.front().cause->id;
}

}  // namespace

TEST_CASE("metamorphic: pasted variants of every scenario keep its top cause", "[metamorphic]") {
  const fs::path root = fs::path(TPMDIAG_SOURCE_DIR) / "samples" / "scenarios";
  const fs::path tmp = fs::temp_directory_path() / ("tpmdiag-meta-" + std::to_string(::getpid()));
  int checked = 0, failed = 0;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  for (const auto& dir : dirs) {
    size_t boots = 0;
    std::string want = top_cause(dir.string(), &boots);
    if (want == "(none)") continue;
    std::vector<fs::path> files;
    size_t lines = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir))
      if (e.is_regular_file() && e.path().filename() != "expect.json") {
        files.push_back(e.path());
        if (text_file(e.path())) {
          std::string t = read_all(e.path());
          lines += static_cast<size_t>(std::count(t.begin(), t.end(), '\n')) + (!t.empty() && t.back() != '\n');
        }
      }
    for (const auto& v : variants()) {
      if ((v.single_line_only && lines != 1) || (v.one_boot_only && boots > 1)) continue;
      // The copy keeps the scenario's own name: bundle names carry the host.
      fs::path out = tmp / dir.filename();
      fs::remove_all(out);
      for (const auto& f : files) {
        fs::path dest = out / fs::relative(f, dir);
        fs::create_directories(dest.parent_path());
        std::ofstream o(dest, std::ios::binary);
        o << (text_file(f) ? v.apply(read_all(f)) : read_all(f));
      }
      std::string got = top_cause(out.string());
      ++checked;
      if (got != want) {
        ++failed;
        std::cout << "FAIL " << dir.filename().string() << " (" << v.name << "): top cause " << got << ", expected "
                  << want << "\n";
      }
    }
  }
  fs::remove_all(tmp);
  std::cout << "metamorphic: " << checked - failed << " passed, " << failed << " failed" << std::endl;
  CHECK(checked > 200);
  CHECK(failed == 0);
}
