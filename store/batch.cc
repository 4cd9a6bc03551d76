#include "store/batch.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>

#include "common/json_writer.h"
#include "common/text.h"
#include "kb/bundle_info.h"
#include "parsers/bundle_layout.h"
#include "parsers/timestamp.h"

namespace tpmdiag::batch {

namespace fs = std::filesystem;

namespace {

int64_t mtime_ns(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

std::string absolute(const std::string& p) {
  std::error_code ec;
  auto a = fs::absolute(p, ec);
  return (ec ? fs::path(p) : a).lexically_normal().string();
}

Job file_job(const std::string& name, const struct stat& st) {
  Job j;
  j.name = name;
  j.path = absolute(name);
  j.kind = is_archive_name(ascii_lower(fs::path(name).filename().string())) ? "archive" : "file";
  j.size = static_cast<uint64_t>(st.st_size);
  j.mtime_ns = mtime_ns(st);
  j.files = 1;
  return j;
}

Job folder_job(const std::string& name, std::vector<InputError>& errors) {
  Job j;
  j.name = name;
  j.path = absolute(name);
  j.kind = "folder";
  j.files = 0;
  walk_folder(
      name,
      [&](const fs::path& path, uint64_t size) {
        struct stat st;
        if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
        j.size += size;
        j.mtime_ns = std::max(j.mtime_ns, mtime_ns(st));
        ++j.files;
      },
      [&](const InputError& e) { errors.push_back(e); });
  return j;
}

void plan(const std::string& p, bool named, const SourceLimits& limits, std::vector<Job>& jobs,
          std::vector<InputError>& errors) {
  struct stat st;
  if (::stat(p.c_str(), &st) != 0) {
    if (named) errors.push_back({p, p + ": no such file or directory"});
    return;
  }
  if (S_ISREG(st.st_mode)) {
    // Found in a folder: only archives and what looks like a log.
    std::string base = fs::path(p).filename().string();
    if (!named && classify_member(base, static_cast<uint64_t>(st.st_size), limits) == MemberRole::skip) return;
    jobs.push_back(file_job(p, st));
    return;
  }
  if (!S_ISDIR(st.st_mode)) {
    if (named) errors.push_back({p, p + ": not a file or folder"});
    return;
  }
  if (is_bundle_folder(p)) {
    jobs.push_back(folder_job(p, errors));
    return;
  }
  std::error_code ec;
  std::vector<std::string> children;
  for (auto it = fs::directory_iterator(p, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->is_symlink(ec)) continue;
    children.push_back((fs::path(p) / it->path().filename()).string());
  }
  if (ec) {
    errors.push_back({p, p + ": cannot read folder: " + ec.message()});
    return;
  }
  std::sort(children.begin(), children.end());
  size_t before = jobs.size();
  for (const auto& c : children) plan(c, false, limits, jobs, errors);
  if (named && jobs.size() == before)
    errors.push_back({p, p + ": no bundle or log file in this folder (" +
                             (children.empty() ? std::string("it is empty") : "nothing named like a bundle or a log") + ")"});
}

}  // namespace

std::vector<Job> plan_jobs(const std::vector<std::string>& paths, std::vector<InputError>& errors,
                           const SourceLimits& limits) {
  std::vector<Job> jobs;
  for (const auto& p : paths) plan(p, true, limits, jobs, errors);
  // The same input named twice is one job.
  std::set<std::string> seen;
  jobs.erase(std::remove_if(jobs.begin(), jobs.end(), [&](const Job& j) { return !seen.insert(j.path).second; }),
             jobs.end());
  return jobs;
}

JobResult run_job(const Engine& engine, const RunOptions& opts, const Job& job, std::atomic<uint64_t>* progress) {
  auto t0 = std::chrono::steady_clock::now();
  JobResult r;
  r.job = job;
  Run run(engine, opts);
  auto spec = BundleSpec::builtin();
  static const BundleSpec empty_spec;
  BundleInfo info(spec ? **spec : empty_spec);
  if (!spec) r.errors.push_back(spec.error().message);
  run.watch_bundle(&info);

  if (job.kind == "folder") {
    run.add_path(job.name);
    r.raw_bytes = job.size;
    if (progress) *progress += job.size;
  } else {
    auto file = open_file(job.name);
    if (!file) {
      run.add_error({job.name, file.error().message});
    } else {
      uLong crc = crc32(0L, Z_NULL, 0);
      uint64_t raw = 0;
      auto counted = tap(std::move(*file), [&](const char* p, size_t n) {
        crc = crc32(crc, reinterpret_cast<const Bytef*>(p), static_cast<uInt>(n));
        raw += n;
        if (progress) *progress += n;
      });
      run.add_source(job.name, std::move(counted));
      r.raw_bytes = raw;
      if (raw == job.size) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "crc32:%08lx", static_cast<unsigned long>(crc));
        r.content_hash = buf;
      }
    }
  }
  r.streams = run.streams();

  info.add_facts(run.facts());
  r.bundle = info.fields();
  r.bundle_host = host_from_path(job.name);
  if (r.bundle_host.empty()) r.bundle_host = run.first_host();
  if (r.bundle_host.empty() && r.bundle.count("hostname")) {
    r.bundle_host = r.bundle["hostname"];
    for (auto& f : run.facts())
      if (f.host.empty()) f.host = r.bundle_host;
  }
  r.report = std::move(run).finish();
  for (const auto& in : r.report.inputs)
    if (!in.error.empty()) r.errors.push_back(in.error);
  r.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

void run_jobs(const Engine& engine, const RunOptions& opts, const std::vector<const Job*>& jobs, unsigned workers,
              std::atomic<uint64_t>& progress, const std::function<void(JobResult&&)>& on_result,
              const std::function<void()>& on_idle) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::condition_variable cv;
  std::deque<JobResult> results;
  auto one = [&](size_t i) {
    JobResult r;
    try {
      r = run_job(engine, opts, *jobs[i], &progress);
    } catch (const std::bad_alloc&) {  // past the per-input catch (pipeline/run.cc): this job only
      r = JobResult{};
      r.job = *jobs[i];
      r.errors.push_back(jobs[i]->name + ": out of memory while diagnosing; not stored in full (lower --jobs)");
    }
    return r;
  };
  std::vector<std::thread> pool;
  unsigned n = static_cast<unsigned>(std::min<size_t>(workers, jobs.size()));
  try {
    for (unsigned w = 0; w < n; ++w)
      pool.emplace_back([&] {
        for (size_t i; (i = next++) < jobs.size();) {
          JobResult r = one(i);
          std::lock_guard<std::mutex> lock(mu);
          results.push_back(std::move(r));
          cv.notify_one();
        }
      });
  } catch (const std::system_error&) {  // a thread limit: the workers started do the jobs
  }
  if (pool.empty()) {  // none: each job on this thread, stored as it ends
    for (size_t i; (i = next++) < jobs.size();) on_result(one(i));
    return;
  }
  for (size_t done = 0; done < jobs.size();) {
    std::optional<JobResult> r;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return !results.empty(); });
      if (!results.empty()) {
        r = std::move(results.front());
        results.pop_front();
      }
    }
    if (!r) {
      on_idle();
      continue;
    }
    ++done;
    on_result(std::move(*r));
  }
  for (auto& t : pool) t.join();
}

store::FindingRecord finding_record(const Finding& f, const std::string& host) {
  store::FindingRecord fr;
  fr.host = host;
  fr.cause = f.cause->id;
  fr.title = f.cause->title;
  fr.confidence = std::round(f.confidence * 100.0) / 100.0;
  fr.status = name(f.status);
  fr.boot = f.boot;
  fr.resolved_in = f.resolved_in;
  fr.ambiguous = f.ambiguous;
  fr.alternatives = f.alternatives;
  fr.fix = f.fix;
  for (const Fact* e : f.evidence) {
    store::EvidenceRecord ev;
    ev.input = e->input;
    ev.line = e->line;
    if (e->ts_ms) ev.timestamp = format_iso8601(*e->ts_ms);
    ev.rule = e->rule->id;
    ev.fact = e->rule->fact;
    ev.text = e->text;
    std::ostringstream fields;
    JsonWriter w(fields);
    w.begin_object();
    for (const auto& [k, v] : e->all_fields()) w.key(k).string(v);
    w.end_object();
    ev.fields_json = fields.str();
    fr.evidence.push_back(std::move(ev));
  }
  return fr;
}

store::InputRecord to_record(const JobResult& r) {
  store::InputRecord in;
  in.path = r.job.path;
  in.kind = r.job.kind;
  in.size = r.job.size;
  in.mtime_ns = r.job.mtime_ns;
  in.files = r.job.files;
  in.content_hash = r.content_hash;
  in.status = r.errors.empty() ? "ok" : "error";
  in.error = r.errors.empty() ? "" : r.errors.front();
  in.verdict = name(r.report.verdict);
  in.bytes_scanned = 0;
  for (const auto& i : r.report.inputs) in.bytes_scanned += i.bytes;
  in.streams = r.streams;
  in.duration_ms = r.duration_ms;
  // Logs that never name their host: the bundle's name (or hostname) does,
  // unless some other host of this input already has that name.
  std::string unnamed_as;
  if (!r.bundle_host.empty() &&
      std::none_of(r.report.hosts.begin(), r.report.hosts.end(), [&](const HostReport& h) { return h.host == r.bundle_host; }))
    unnamed_as = r.bundle_host;
  auto host_name = [&](const std::string& h) { return h.empty() && !unnamed_as.empty() ? unnamed_as : h; };
  // An input not read to its end: each host says so (incomplete: what was
  // read is kept; error: nothing was).
  std::string host_status = r.errors.empty() ? "ok" : r.report.any_input_read ? "incomplete" : "error";
  bool bundle_host_listed = false;
  for (const auto& h : r.report.hosts) {
    store::HostRecord hr;
    hr.host = host_name(h.host);
    hr.verdict = name(h.verdict);
    hr.status = host_status;
    hr.boots = static_cast<int>(h.boots.size());
    for (const auto& w : h.boots)
      hr.windows.push_back({w.index, w.first_ts ? format_iso8601(*w.first_ts) : "",
                            w.last_ts ? format_iso8601(*w.last_ts) : "", std::string(name(w.verdict))});
    if (hr.host == r.bundle_host || r.report.hosts.size() == 1) {
      hr.bundle = r.bundle;
      bundle_host_listed = true;
    }
    in.hosts.push_back(std::move(hr));
  }
  // Every input has a host row: a bundle whose logs hold no TPM line (with its
  // metadata), and one that could not be read at all (with its status).
  if (!bundle_host_listed && (in.hosts.empty() || !r.bundle.empty())) {
    store::HostRecord hr;
    hr.host = r.bundle_host;
    hr.verdict = host_status == "error" ? "error" : name(r.report.hosts.empty() ? r.report.verdict : Verdict::no_tpm_evidence);
    hr.status = host_status;
    hr.bundle = r.bundle;
    in.hosts.push_back(std::move(hr));
  }
  std::map<std::pair<std::string, int>, int> ranks;  // per host and boot, in the report's order (best first)
  for (const auto& f : r.report.findings) {
    auto fr = finding_record(f, host_name(f.host));
    fr.rank = ++ranks[{fr.host, fr.boot}];
    in.findings.push_back(std::move(fr));
  }
  return in;
}

}  // namespace tpmdiag::batch
