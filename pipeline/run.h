// A run: the one place that turns named inputs into a Report (DESIGN.md §2):
// inputs → framing → prefilter → parse → match → fold facts → timeline →
// diagnose. Every command that diagnoses (diagnose, explain, scan, serve, the
// rule self-tests) goes through it; live modes use its Scanner stage with
// their own per-host state (live/).
//
//   auto eng = Engine::load({});
//   Run run(**eng, opts);
//   run.add_path("samples/seed-failing");     // a file, folder, archive or "-"
//   run.add_path("samples/seed-fixed");
//   Report r = std::move(run).finish();
//   return exit_code(r);
//
//   Report r = run_inputs(**eng, {"a.log", "b.tgz"}, opts);   // the same, for a list
//
// Each add_*() is one input group. Within a group (a folder, an archive whose
// members arrive in archive order, the uploads of one request) streams are
// put in timeline order, rotated logs oldest first; groups keep the order
// they were added in. Read errors are recorded per input in the Report, and
// the facts read before them are kept.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kb/diagnose.h"
#include "parsers/inputs.h"
#include "pipeline/engine.h"
#include "pipeline/scanner.h"

namespace tpmdiag {

class BundleInfo;
class Redactor;

// Which TPM lines a run keeps (--since, --until, --host GLOB of diagnose,
// explain and scan). Applied to the lines read, before they are diagnosed:
// boots, verdicts and findings see only what was kept.
//   Time: a line's own timestamp, in [since, until] (UTC ms, both ends
//   included). A line with none (a record's continuation, an output under
//   commands/) takes the time of the TPM line before it in the same input; a
//   line before any timestamp of its input cannot be placed and is kept
//   (pasted bare lines, logs written without timestamps).
//   Host: the host the line is of, matched as a shell glob (fnmatch); lines
//   of no named host match as "". A redacted run matches the real names.
struct EventFilter {
  std::optional<int64_t> since_ms, until_ms;
  std::string host_glob;  // "" = every host
  bool active() const { return since_ms || until_ms || !host_glob.empty(); }
};

// What an active filter left out.
struct FilterCounts {
  uint64_t dropped = 0;          // TPM lines outside the filter
  uint64_t dropped_unnamed = 0;  // of them, lines of no named host left out by the host glob
  uint64_t untimed_kept = 0;     // lines kept because they could not be placed in time
};

struct RunOptions {
  unsigned jobs = 0;                 // threads for one large plain file (0: one per core)
  uint64_t split_min = 64ull << 20;  // plain files at least this big are split across them
  uint64_t map_min = 256 << 10;      // plain files at least this big are sampled across (keys) and
                                     // scanned in place in a mapping (scan_file), not as a stream
  ScanOptions scan;
  DiagnoseOptions diagnose;
  SourceLimits limits;
  EventFilter filter;
  // When set, every stream, input name and host name is redacted as it is
  // read (pipeline/redact.h); the caller keeps it for the token map.
  std::shared_ptr<Redactor> redactor;
};

class Run {
 public:
  Run(const Engine& engine, RunOptions opts);
  ~Run();  // (BundleInfo is complete in run.cc)

  // A file, folder, archive, or "-" for stdin.
  void add_path(const std::string& path);
  // An open source (a file read through a tap, an upload), sniffed like a file.
  void add_source(const std::string& name, std::unique_ptr<ByteSource> src);
  // Named texts held in memory, as one group (the uploads of one request).
  void add_texts(std::vector<std::pair<std::string, std::string>> texts);
  // An input that could not be opened at all.
  void add_error(const InputError& e);

  // Every stream is also read through `info` (vm-support metadata,
  // kb/bundle_info.h); it must outlive the adds. Without it, each group gets
  // its own, and finish() gives each host what its groups say
  // (HostReport::bundle).
  void watch_bundle(BundleInfo* info) { bundle_ = info; }

  uint64_t streams() const { return streams_; }
  // The host the path of the first stream names (esx-HOST-DATE...), or "".
  const std::string& first_host() const { return first_host_; }
  // The facts so far, in timeline order (callers may fill in hosts).
  std::vector<Fact>& facts() { return facts_; }
  // What RunOptions::filter left out (complete after finish()).
  const FilterCounts& filtered() const { return filtered_; }

  Report finish() &&;

 private:
  template <typename Walk>
  void group(Walk&& walk);
  void scan(const StreamInfo& info, ByteSource& src);
  void read_stream(const StreamInfo& info, ByteSource& src, BundleInfo* bundle);
  void host_facts(Report& r) const;
  void apply_filter();
  void redact_again(Report& r) const;
  // A name or message, redacted when the run redacts (path: the input it names).
  std::string redacted(const std::string& text, const std::string& path = "") const;
  // Scans a plain regular file (or its rest) in place in a mapping, in
  // parallel parts when large, after choosing keys from slices across it;
  // false if the stream is not one.
  bool scan_file(const StreamInfo& info, ByteSource& src);

  const Engine& engine_;
  RunOptions opts_;
  BundleInfo* bundle_ = nullptr;
  std::vector<std::unique_ptr<BundleInfo>> group_bundles_;  // per group, when bundle_ is not set
  std::vector<Fact> facts_;
  std::vector<InputReport> inputs_;
  std::vector<std::string> skipped_;
  bool any_read_ = false;
  uint32_t groups_ = 0;
  uint64_t streams_ = 0;
  std::string first_host_;
  FilterCounts filtered_;
};

// Scans every input (errors are recorded per input, the rest still scanned)
// and diagnoses the facts together: one group per path.
Report run_inputs(const Engine& engine, const std::vector<std::string>& paths, const RunOptions& opts);

}  // namespace tpmdiag
