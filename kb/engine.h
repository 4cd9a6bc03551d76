// The engine: formats, rules and causes loaded once (embedded data plus
// --rules/--kb folders), and a whole diagnosis run over named inputs.
//
//   auto eng = Engine::load({});                    // Result<std::unique_ptr<Engine>>
//   Report r = run_inputs(**eng, {"samples/seed-failing"}, {});
//   return exit_code(r);
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kb/cause.h"
#include "kb/diagnose.h"
#include "parsers/format.h"
#include "parsers/inputs.h"
#include "parsers/scanner.h"
#include "rules/matcher.h"

namespace tpmdiag {

struct EngineOptions {
  std::vector<std::string> rules_dirs;  // extra rule files (override embedded ones by id)
  std::vector<std::string> kb_dirs;     // extra cause files (override embedded ones by id)
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> load(const EngineOptions& opts);

  const FormatSet& formats() const { return formats_; }
  const Matcher& matcher() const { return matcher_; }
  const std::vector<Cause>& causes() const { return causes_; }
  const Cause* cause(std::string_view id) const;

 private:
  Engine(FormatSet f, Matcher m) : formats_(std::move(f)), matcher_(std::move(m)) {}
  FormatSet formats_;
  Matcher matcher_;
  std::vector<Cause> causes_;
};

struct RunOptions {
  unsigned jobs = 0;                 // threads for one large plain file (0: one per core)
  uint64_t split_min = 64ull << 20;  // plain files at least this big are split across them
  uint64_t map_min = 256 << 10;      // plain files at least this big are mapped, not read
  ScanOptions scan;
  DiagnoseOptions diagnose;
  SourceLimits limits;
};

// Collects facts and per-input reports from streams, then diagnoses them
// together. One Collector per job; for parallel jobs use one per thread and
// merge() them.
class Collector {
 public:
  Collector(const Engine& engine, RunOptions opts);

  // Scans a whole stream. Read errors are recorded; the facts found before
  // them are kept.
  void scan(const StreamInfo& info, ByteSource& src);
  void error(const InputError& e);
  void merge(Collector&& other);

  std::vector<Fact>& facts() { return facts_; }
  const std::vector<InputReport>& inputs() const { return inputs_; }
  Report finish() &&;

 private:
  // Maps a plain regular file (or its rest) and scans it in place, in
  // parallel byte ranges when large; false if the stream is not one.
  bool scan_mapped(const StreamInfo& info, ByteSource& src);

  const Engine& engine_;
  RunOptions opts_;
  std::vector<Fact> facts_;
  std::vector<InputReport> inputs_;
  bool any_read_ = false;
};

// Scans every input (errors are recorded per input, the rest still scanned)
// and diagnoses the facts together.
Report run_inputs(const Engine& engine, const std::vector<std::string>& paths, const RunOptions& opts);

}  // namespace tpmdiag
