// The engine: formats, rules and causes loaded once (embedded data plus
// --rules/--kb folders) and shared, read-only, by every run and thread.
//
//   auto eng = Engine::load({});                    // Result<std::unique_ptr<Engine>>
//   if (!eng) { std::cerr << eng.error().message << '\n'; return 2; }
//   Report r = run_inputs(**eng, {"samples/seed-failing"}, {});   // pipeline/run.h
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kb/cause.h"
#include "parsers/format.h"
#include "rules/matcher.h"

namespace tpmdiag {

struct EngineOptions {
  std::vector<std::string> rules_dirs;  // extra rule files (override embedded ones by id)
  std::vector<std::string> kb_dirs;     // extra cause files (override embedded ones by id)
  bool rule_cache = true;               // rules/rule_cache.h, in RuleCache::default_dir()
  // Rules from the cache come without their samples unless asked (only
  // `rules test` reads them); rules parsed from JSON always have them.
  bool rule_samples = true;
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> load(const EngineOptions& opts);

  const FormatSet& formats() const { return formats_; }
  const Matcher& matcher() const { return matcher_; }
  const std::vector<Cause>& causes() const { return causes_; }
  const Cause* cause(std::string_view id) const;
  // Which knowledge this is, for a report to name: "kb 1a2b3c4d5e6f (57 rules,
  // 23 causes)"; the hex is a fingerprint of the rule, cause and format files
  // loaded (--rules/--kb included), so two reports made with the same knowledge
  // say the same.
  const std::string& knowledge() const { return knowledge_; }

 private:
  Engine(FormatSet f, Matcher m) : formats_(std::move(f)), matcher_(std::move(m)) {}
  FormatSet formats_;
  Matcher matcher_;
  std::vector<Cause> causes_;
  std::string knowledge_;
};

}  // namespace tpmdiag
