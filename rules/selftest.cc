#include "rules/selftest.h"

#include <algorithm>

namespace tpmdiag {

namespace {

// Runs one line through prefilter + parse + match, like the scanner does.
std::vector<Fact> run_line(const Matcher& m, const FormatSet& formats, Matcher::Scratch& scratch,
                           const std::string& line) {
  std::vector<Fact> facts;
  std::string buf = line + "\n";
  m.prefilter(buf.data(), buf.size(), scratch, [&](std::string_view text, const std::vector<int>& atoms) {
    Event ev;
    formats.parse(text, ev);
    ev.input = "sample";
    ev.line = 1;
    m.match(ev, &atoms, scratch, facts);
  });
  return facts;
}

bool contains_ci(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

}  // namespace

SelfTestResult test_rules(const Matcher& m, const FormatSet& formats) {
  SelfTestResult res;
  Matcher::Scratch scratch(m);
  for (const auto& f : formats.self_test()) res.failures.push_back(f);
  for (const auto& fmt : formats.formats()) res.passed += fmt.samples.size();
  res.passed -= std::min(res.passed, res.failures.size());

  for (const auto& rule : m.rules()) {
    std::string where = rule.file + ": rule '" + rule.id + "': ";
    for (const auto& s : rule.match_samples) {
      auto facts = run_line(m, formats, scratch, s.line);
      auto it = std::find_if(facts.begin(), facts.end(), [&](const Fact& f) { return f.rule->id == rule.id; });
      if (it == facts.end()) {
        std::string why = "sample does not match";
        if (!rule.literals.empty() &&
            std::none_of(rule.literals.begin(), rule.literals.end(),
                         [&](const std::string& l) { return contains_ci(s.line, l); }))
          why += " (it contains none of the rule's \"literals\")";
        res.failures.push_back(where + why + ": \"" + s.line + "\"");
        continue;
      }
      bool ok = true;
      for (const auto& [name, want] : s.captures) {
        auto got = it->field(name);
        if (got != want) {
          res.failures.push_back(where + "capture '" + name + "' is '" + std::string(got) + "', expected '" +
                                 want + "' in \"" + s.line + "\"");
          ok = false;
        }
      }
      if (ok) ++res.passed;
    }
    for (const auto& line : rule.nomatch_samples) {
      auto facts = run_line(m, formats, scratch, line);
      if (std::any_of(facts.begin(), facts.end(), [&](const Fact& f) { return f.rule->id == rule.id; }))
        res.failures.push_back(where + "matches a line it must not match: \"" + line + "\"");
      else
        ++res.passed;
    }
  }
  return res;
}

}  // namespace tpmdiag
