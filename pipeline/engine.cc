#include "pipeline/engine.h"

#include <set>

#include "kb/rc_fact.h"

namespace tpmdiag {

Result<std::unique_ptr<Engine>> Engine::load(const EngineOptions& opts) {
  auto format_files = collect_data_files("parsers/formats/", {});
  if (!format_files) return format_files.error();
  auto formats = load_formats(*format_files);
  if (!formats) return formats.error();

  auto rule_files = collect_data_files("rules/", opts.rules_dirs);
  if (!rule_files) return rule_files.error();
  auto rules = load_rules(*rule_files);
  if (!rules) return rules.error();
  auto lexicon_files = collect_data_files("rules/lexicon/", {});
  if (!lexicon_files) return lexicon_files.error();
  auto lexicon = load_lexicon(*lexicon_files);
  if (!lexicon) return lexicon.error();
  std::set<std::string> facts;
  for (const auto& r : *rules) facts.insert(r.fact);
  auto matcher = Matcher::build(std::move(*rules), rc::fact_decoder(), std::make_unique<Lexicon>(std::move(*lexicon)));
  if (!matcher) return matcher.error();

  auto cause_files = collect_data_files("kb/causes/", opts.kb_dirs);
  if (!cause_files) return cause_files.error();
  auto causes = load_causes(*cause_files, std::vector<std::string>(facts.begin(), facts.end()));
  if (!causes) return causes.error();

  std::unique_ptr<Engine> e(new Engine(std::move(*formats), std::move(*matcher)));
  e->causes_ = std::move(*causes);
  return e;
}

const Cause* Engine::cause(std::string_view id) const {
  for (const auto& c : causes_)
    if (c.id == id) return &c;
  return nullptr;
}

}  // namespace tpmdiag
