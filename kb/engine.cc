#include "kb/engine.h"

#include <set>

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
  std::set<std::string> facts;
  for (const auto& r : *rules) facts.insert(r.fact);
  auto matcher = Matcher::build(std::move(*rules));
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

Report run_inputs(const Engine& engine, const std::vector<std::string>& paths, const RunOptions& opts) {
  std::vector<InputError> errors;
  auto inputs = expand_inputs(paths, errors);
  std::vector<Fact> facts;
  std::vector<InputReport> reports;
  bool any_read = false;
  for (const auto& e : errors) reports.push_back({e.input, 0, 0, 0, 0, e.message});
  uint32_t seq = 0;
  for (const auto& in : inputs) {
    InputReport ir;
    ir.name = in.name;
    auto src = open_input(in, opts.limits);
    if (!src) {
      ir.error = src.error().message;
      reports.push_back(std::move(ir));
      continue;
    }
    ScanOptions so = opts.scan;
    if (so.host.empty()) so.host = in.host;
    Scanner scanner(engine.matcher(), engine.formats(), so);
    InputStats stats;
    Status s = scanner.scan(**src, in.name, seq++, facts, stats);
    ir.bytes = stats.bytes;
    ir.lines = stats.lines;
    ir.candidates = stats.candidates;
    ir.cut_lines = stats.cut_lines;
    if (!s) ir.error = s.error().message;
    if (stats.bytes > 0 || s) any_read = true;
    reports.push_back(std::move(ir));
  }
  Report r = diagnose(std::move(facts), engine.causes(), opts.diagnose);
  r.inputs = std::move(reports);
  r.any_input_read = any_read;
  return r;
}

}  // namespace tpmdiag
