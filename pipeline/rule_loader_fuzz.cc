// libFuzzer target (in pipeline/: it runs the rule self-tests, so it links that layer):
// rule and cause file loading (rules/rule.h load_rules,
// kb/cause.h load_causes) on fuzzed JSON text, as from --rules DIR / --kb DIR.
//
// The input is one file's text. It is loaded as a rule file after the
// embedded ones (so it can override them by id); when that succeeds the rules
// are compiled (Matcher::build: RE2 + the literal prefilter) and their samples
// run (test_rules). It is also loaded as a cause file, with the embedded rules'
// facts as the known facts. Checked: no crash, no hang, and every error is one
// line (DESIGN.md: "Errors in a rule file name the file, the rule id and the
// field") that names the file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "kb/cause.h"
#include "parsers/format.h"
#include "rules/matcher.h"
#include "rules/rule.h"
#include "pipeline/selftest.h"

using namespace tpmdiag;

namespace {

struct Setup {
  std::vector<DataFile> rule_files;
  std::vector<std::string> facts;
  FormatSet formats;
};

const Setup& setup() {
  static const Setup* s = [] {
    auto rf = collect_data_files("rules/", {});
    auto ff = collect_data_files("parsers/formats/", {});
    if (!rf || !ff) std::abort();
    auto rules = load_rules(*rf);
    auto formats = load_formats(*ff);
    if (!rules || !formats) std::abort();
    std::set<std::string> facts;
    for (const auto& r : *rules) facts.insert(r.fact);
    return new Setup{std::move(*rf), std::vector<std::string>(facts.begin(), facts.end()),
                     std::move(*formats)};
  }();
  return *s;
}

constexpr const char* kName = "fuzz/input.json";

void check_error(const Error& e) {
  // One line, naming the file.
  if (e.message.find('\n') != std::string::npos) std::abort();
  if (e.message.find(kName) == std::string::npos) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Setup& s = setup();
  std::string text(reinterpret_cast<const char*>(data), size);

  // Alone (fast path: no matcher build for the embedded rules).
  auto alone = load_rules({{kName, text}});
  if (!alone) {
    check_error(alone.error());
  } else if (!alone->empty() && alone->size() <= 8) {
    auto m = Matcher::build(std::move(*alone));
    if (m) {
      SelfTestResult r = test_rules(*m, s.formats);
      (void)r;
    } else if (m.error().message.find('\n') != std::string::npos) {
      std::abort();
    }
  }

  // After the embedded rules (overrides by id).
  std::vector<DataFile> files = s.rule_files;
  files.push_back({kName, text});
  auto all = load_rules(files);
  if (!all) check_error(all.error());

  // As a cause file, with and without known facts.
  auto causes = load_causes({{kName, text}}, s.facts);
  if (!causes) check_error(causes.error());
  auto loose = load_causes({{kName, text}}, {});
  if (!loose) check_error(loose.error());
  return 0;
}
