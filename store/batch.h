// Batch scans: many vm-support bundles diagnosed one job each, in parallel,
// for `tpmdiag scan` and the fleet store (DESIGN.md §2 "sinks").
//
//   std::vector<InputError> errors;
//   auto jobs = plan_jobs({"bundles/"}, errors);      // one job per bundle / log file
//   JobResult r = run_job(engine, opts, jobs[0]);     // thread-safe: Engine is shared, read-only
//   store.record(scan_id, to_record(r));
//
// Jobs: each archive (.tgz/.tar/.zip/...), each bundle folder (a folder that
// holds commands/ or var/log, var/run/log) and each plain log file named or
// found is one job; other folders are walked recursively to find them.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "pipeline/run.h"
#include "store/store.h"

namespace tpmdiag::batch {

struct Job {
  std::string name;   // as the user named it (or found below what they named): shown in evidence
  std::string path;   // absolute, normalised: the key in the store
  std::string kind;   // archive | folder | file
  uint64_t size = 0;  // a folder: sum of its regular files
  int64_t mtime_ns = 0;
  uint64_t files = 1;
};

// Expands PATHs into jobs; a path that cannot be read is reported in errors
// (and is not a job). Loose files in a folder become jobs as classify_member
// decides with `limits` (--max-text-member).
std::vector<Job> plan_jobs(const std::vector<std::string>& paths, std::vector<InputError>& errors,
                           const SourceLimits& limits = {});


struct JobResult {
  Job job;
  Report report;
  std::string bundle_host;                    // from the names, else commands/ output; may be empty
  std::map<std::string, std::string> bundle;  // kb/bundle-metadata.json fields found
  std::vector<std::string> errors;            // one line each (inputs that failed, in part or whole)
  uint64_t raw_bytes = 0;                     // bytes read from disk
  uint64_t streams = 0;
  std::string content_hash;                   // crc32 of the file when read whole
  int64_t duration_ms = 0;
};

// Diagnoses one job. progress (optional) is advanced by the raw bytes read,
// as they are read.
JobResult run_job(const Engine& engine, const RunOptions& opts, const Job& job,
                  std::atomic<uint64_t>* progress = nullptr);

// Runs the jobs on `workers` threads; each result is handed to on_result on
// the calling thread (the one writer of the store), in the order they finish;
// on_idle is called about every 100 ms while waiting (progress display).
void run_jobs(const Engine& engine, const RunOptions& opts, const std::vector<const Job*>& jobs, unsigned workers,
              std::atomic<uint64_t>& progress, const std::function<void(JobResult&&)>& on_result,
              const std::function<void()>& on_idle);

// The store's view of a result: hosts with their bundle metadata, findings
// with evidence.
store::InputRecord to_record(const JobResult& r);

// One finding as the store keeps it (evidence copied; rank left to the caller,
// which knows the host's other findings).
store::FindingRecord finding_record(const Finding& f, const std::string& host);

}  // namespace tpmdiag::batch
