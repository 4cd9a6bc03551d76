#include "pipeline/engine.h"

#include <algorithm>
#include <cstdio>
#include <string_view>

#include "common/embedded.h"
#include "common/hash.h"
#include "common/json_read.h"
#include "kb/rc_fact.h"
#include "rules/rule_cache.h"

#include <re2/re2.h>

namespace tpmdiag {

namespace {

// rules/prefilter/common-text.json: text and key shapes the prefilter avoids.
Status avoid_common_keys(Matcher& m) {
  const std::string path = "rules/prefilter/common-text.json";
  simdjson::dom::parser parser;
  auto parsed = parse_json_object(parser, path, std::string(find_embedded(path)));
  if (!parsed) return parsed.error();
  simdjson::dom::object o = *parsed;
  JsonFields f{path};
  if (auto s = f.only_keys(o, {"about", "text", "key_patterns"}); !s) return s;
  std::vector<std::string> text, patterns;
  if (auto s = f.opt_strings(o, "text", text); !s) return s;
  if (auto s = f.opt_strings(o, "key_patterns", patterns); !s) return s;
  for (const auto& p : patterns)
    if (!RE2(p, RE2::Quiet).ok()) return f.err("key_patterns", "invalid RE2 pattern '" + p + "'");
  m.avoid_keys_in(std::move(text), patterns);
  return ok_status();
}

// A hash of the files' names and texts (common/hash.h), 48 bits shown; the
// rule files' by RuleCache::files_hash, which a cached run has without
// reading them.
std::string fingerprint(const std::vector<const std::vector<DataFile>*>& sets, uint64_t rules_hash) {
  uint64_t h = 0;
  for (const auto* set : sets)
    for (const auto& f : *set) h = hash_bytes(f.text, hash_bytes(f.path, h));
  h = hash_bytes(std::string_view(reinterpret_cast<const char*>(&rules_hash), sizeof rules_hash), h);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%012llx", static_cast<unsigned long long>(h & 0xffffffffffffull));
  return buf;
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::load(const EngineOptions& opts) {
  auto format_files = collect_data_files("parsers/formats/", {});
  if (!format_files) return format_files.error();
  // Formats and the lexicon are embedded only: `tpmdiag rules test` checks
  // their samples, and the build runs it on the binary it links
  // (CMakeLists.txt), so a binary whose own data fails them is not built.
  // Checking them here cost about a third of a paste's start-up.
  auto formats = load_formats(*format_files, false);
  if (!formats) return formats.error();

  // Stat'ed, read only if the cache does not hold their rules.
  auto rule_files = collect_data_files("rules/", opts.rules_dirs, false);
  if (!rule_files) return rule_files.error();
  // A previous run's rules of these files, with what compiling them taught
  // it (issue 21): no JSON to parse, and each pattern compiles when a line
  // first reaches it.
  RuleCache cache = RuleCache::open(opts.rule_cache ? RuleCache::default_dir() : "", *rule_files, opts.rule_samples);
  auto rules = cache.rules(*rule_files);
  if (!rules) return rules.error();
  auto lexicon_files = collect_data_files("rules/lexicon/", {});
  if (!lexicon_files) return lexicon_files.error();
  auto lexicon = load_lexicon(*lexicon_files, false);
  if (!lexicon) return lexicon.error();
  // The facts the rules name, sorted and unique (a std::set of them was
  // 0.4 M instructions with 991 rules).
  std::vector<std::string_view> fact_names;
  fact_names.reserve(rules->size());
  for (const auto& r : *rules) fact_names.push_back(r.fact);
  std::sort(fact_names.begin(), fact_names.end());
  fact_names.erase(std::unique(fact_names.begin(), fact_names.end()), fact_names.end());
  std::vector<std::string> facts(fact_names.begin(), fact_names.end());
  size_t rule_count = rules->size();
  auto matcher = Matcher::build(std::move(*rules), rc::fact_decoder(), std::make_unique<Lexicon>(std::move(*lexicon)),
                                &cache);
  if (!matcher) return matcher.error();

  auto cause_files = collect_data_files("kb/causes/", opts.kb_dirs);
  if (!cause_files) return cause_files.error();
  auto causes = load_causes(*cause_files, facts);
  if (!causes) return causes.error();

  if (auto s = avoid_common_keys(*matcher); !s) return s.error();
  std::unique_ptr<Engine> e(new Engine(std::move(*formats), std::move(*matcher)));
  e->causes_ = std::move(*causes);
  e->knowledge_ = "kb " + fingerprint({&*format_files, &*lexicon_files, &*cause_files}, cache.files_hash()) + " (" +
                  std::to_string(rule_count) + " rules, " + std::to_string(e->causes_.size()) + " causes)";
  return e;
}

const Cause* Engine::cause(std::string_view id) const {
  for (const auto& c : causes_)
    if (c.id == id) return &c;
  return nullptr;
}

}  // namespace tpmdiag
