#include "pipeline/selftest.h"

#include <algorithm>

#include "common/text.h"
#include "pipeline/scanner.h"

namespace tpmdiag {

namespace {

// Runs one line through the scanner, the prefilter forced on (a sample is far
// smaller than the inputs it normally turns on for).
std::vector<Fact> run_line(const Matcher& m, const FormatSet& formats, const std::string& line) {
  ScanOptions opts;
  opts.force_prefilter = true;
  Scanner scanner(m, formats, opts);
  std::vector<Fact> facts;
  InputStats stats;
  std::string buf = line + "\n";
  scanner.scan_memory(buf.data(), buf.size(), "sample", 0, facts, stats);
  return facts;
}

}  // namespace

SelfTestResult test_rules(const Matcher& m, const FormatSet& formats) {
  SelfTestResult res;
  for (const auto& f : formats.self_test()) res.failures.push_back(f);
  for (const auto& fmt : formats.formats()) res.passed += fmt.samples.size();
  if (const Lexicon* lex = m.lexicon()) {
    for (const auto& f : lex->self_test()) res.failures.push_back(f);
    res.passed += lex->samples().size();
  }
  res.passed -= std::min(res.passed, res.failures.size());

  for (const auto& rule : m.rules()) {
    std::string where = rule.file + ": rule '" + rule.id + "': ";
    for (const auto& s : rule.match_samples) {
      auto facts = run_line(m, formats, s.line);
      auto it = std::find_if(facts.begin(), facts.end(), [&](const Fact& f) { return f.rule->id == rule.id; });
      if (it == facts.end()) {
        std::string why = "sample does not match";
        if (!rule.literals.empty() &&
            std::none_of(rule.literals.begin(), rule.literals.end(),
                         [&](const std::string& l) { return icontains(s.line, l); }))
          why += " (it contains none of the rule's \"literals\")";
        res.failures.push_back(where + why + ": \"" + s.line + "\"");
        continue;
      }
      bool ok = true;
      for (const auto& [name, want] : s.captures) {
        auto got = it->value(name);
        if (got != want) {
          res.failures.push_back(where + "capture '" + name + "' is '" + std::string(got) + "', expected '" +
                                 want + "' in \"" + s.line + "\"");
          ok = false;
        }
      }
      if (ok) ++res.passed;
    }
    for (const auto& line : rule.nomatch_samples) {
      auto facts = run_line(m, formats, line);
      if (std::any_of(facts.begin(), facts.end(), [&](const Fact& f) { return f.rule->id == rule.id; }))
        res.failures.push_back(where + "matches a line it must not match: \"" + line + "\"");
      else
        ++res.passed;
    }
  }
  return res;
}

}  // namespace tpmdiag
