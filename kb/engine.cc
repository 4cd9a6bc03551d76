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

Collector::Collector(const Engine& engine, RunOptions opts) : engine_(engine), opts_(std::move(opts)) {}

void Collector::scan(const StreamInfo& info, ByteSource& src) {
  InputReport ir;
  ir.name = info.name;
  ScanOptions so = opts_.scan;
  if (so.host.empty()) so.host = info.host;
  so.kind_hint = info.kind_hint;
  Scanner scanner(engine_.matcher(), engine_.formats(), so);
  InputStats stats;
  Status s = scanner.scan(src, info.name, static_cast<uint32_t>(info.order), facts_, stats);
  ir.bytes = stats.bytes;
  ir.lines = stats.lines;
  ir.candidates = stats.candidates;
  ir.cut_lines = stats.cut_lines;
  if (!s) ir.error = s.error().message;
  if (stats.bytes > 0 || s) any_read_ = true;
  inputs_.push_back(std::move(ir));
}

void Collector::error(const InputError& e) { inputs_.push_back({e.input, 0, 0, 0, 0, e.message}); }

void Collector::merge(Collector&& other) {
  std::move(other.facts_.begin(), other.facts_.end(), std::back_inserter(facts_));
  std::move(other.inputs_.begin(), other.inputs_.end(), std::back_inserter(inputs_));
  any_read_ = any_read_ || other.any_read_;
}

Report Collector::finish() && {
  Report r = diagnose(std::move(facts_), engine_.causes(), opts_.diagnose);
  r.inputs = std::move(inputs_);
  r.any_input_read = any_read_;
  return r;
}

Report run_inputs(const Engine& engine, const std::vector<std::string>& paths, const RunOptions& opts) {
  Collector c(engine, opts);
  walk_inputs(
      paths, opts.limits, [&](const StreamInfo& info, ByteSource& src) { c.scan(info, src); },
      [&](const InputError& e) { c.error(e); });
  return std::move(c).finish();
}

}  // namespace tpmdiag
