// tpmdiag scan: diagnose many vm-support bundles in parallel into the fleet
// store (SQLite; docs/store.md).
#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "cli/common.h"
#include "cli/filters.h"
#include "cli/render.h"
#include "cli/term.h"
#include "store/batch.h"
#include "store/store.h"

namespace tpmdiag::cli {

namespace {

const char* kScanHelp = R"(Usage: tpmdiag scan [OPTIONS] --db FILE PATH...

Diagnoses every vm-support bundle under PATH, in parallel, and records each in
a SQLite fleet store, so 'tpmdiag db' (or sqlite3) can answer questions such as
"which hosts have pcr_bank_sha1_only?".

Inputs (any mix):
  BUNDLE.tgz    a vm-support bundle: .tgz, .tar, .tar.gz, .zip (also .tar.bz2,
                .tar.xz), read as a stream, never extracted; rotated .gz logs
                inside are read too, oldest first
  FOLDER        an extracted bundle (it holds commands/ or var/run/log/), or a
                folder of bundles and logs, walked recursively
  FILE          a log file or a single .gz log
Each archive, bundle folder or log file is one job. From a bundle are read the
logs under var/run/log/ and var/log/ and the command outputs commands/*.txt
(host name, ESXi build, BIOS, board, TPM VIBs, TPM vendor); see docs/store.md.

An input unchanged since the store last saw it (same size and modification
time) is not read again; --force reads it anyway. --prune forgets stored
inputs whose files are gone (moved or deleted bundles). --since/--until read
every input again and show the diagnosis of the lines they keep, without
storing it (the store keeps whole bundles); --host GLOB picks the hosts shown,
the store keeps all.

Output: a table (host, verdict, top cause, confidence, input), or --format
json. A progress bar is drawn on stderr when it is a terminal.

Exit codes:
  0  no open TPM problem in the inputs (healthy, resolved, no TPM lines)
  1  a TPM problem was found on at least one host (also for unchanged inputs)
  2  usage error, none of the inputs could be read in full, or a PATH names
     nothing to read (does not exist, or a folder with no bundle or log:
     nothing is stored for it; the other PATHs are still scanned)
     (unreadable inputs are listed on stderr, one line each, and recorded
     with status error; the others are still scanned)

Limits (docs/limits.md): SIZE is bytes, or with K, M, G (1M = 1048576).

Options)";

struct Row {
  std::string host, verdict, cause, input, scan;  // scan: new | unchanged | error | not stored
  double confidence = -1;
  std::string status = "ok";  // ok | incomplete | error: how much of the input was read
  std::string cause_status{};  // (initialisers: rows are built from the first five fields)
  std::map<std::string, std::string> bundle{};  // kb/bundle-metadata.json fields
};

std::string fmt_bytes_rate(double bytes, double secs) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MB/s", secs > 0 ? bytes / 1e6 / secs : 0.0);
  return buf;
}

class Progress {
 public:
  Progress(bool on, size_t total, uint64_t total_bytes)
      : on_(on), total_(total), total_bytes_(total_bytes), t0_(std::chrono::steady_clock::now()) {}
  void draw(size_t done, uint64_t bytes) {
    if (!on_) return;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    double rate = secs > 0 ? static_cast<double>(bytes) / secs : 0;
    int width = 24;
    double frac = total_bytes_ ? std::min(1.0, static_cast<double>(bytes) / static_cast<double>(total_bytes_))
                               : (total_ ? static_cast<double>(done) / static_cast<double>(total_) : 1.0);
    int fill = static_cast<int>(frac * width);
    std::string bar(static_cast<size_t>(fill), '#');
    bar.resize(static_cast<size_t>(width), '.');
    char eta[32] = "--:--";
    if (rate > 0 && total_bytes_ > bytes) {
      auto left = static_cast<long>((static_cast<double>(total_bytes_ - bytes)) / rate);
      std::snprintf(eta, sizeof eta, "%ld:%02ld", left / 60, left % 60);
    }
    std::fprintf(stderr, "\r\x1b[K[%s] %zu/%zu bundles  %s  ETA %s", bar.c_str(), done, total_,
                 fmt_bytes_rate(static_cast<double>(bytes), secs).c_str(), eta);
    std::fflush(stderr);
  }
  void clear() {
    if (on_) std::fprintf(stderr, "\r\x1b[K");
  }

 private:
  bool on_;
  size_t total_;
  uint64_t total_bytes_;
  std::chrono::steady_clock::time_point t0_;
};

// The host's first finding as stored (best first, open problems first).
void top_of(const store::InputRecord& rec, const std::string& host, Row& row) {
  for (const auto& f : rec.findings)
    if (f.host == host) {
      row.cause = f.cause;
      row.confidence = f.confidence;
      row.cause_status = f.status;
      return;
    }
}

// What one scan did, for its summary.
struct Summary {
  std::string db_path;
  int64_t scan_id;
  store::ScanCounts counts;
  bool any_problem;
  uint64_t bytes;
  double secs;
  size_t not_stored;  // counted in counts.failed too
  std::vector<std::string> pruned{};  // --prune: inputs forgotten because their files are gone
};

void print_json(std::ostream& out, const Summary& s, const std::vector<Row>& rows,
                const std::vector<std::string>& error_lines) {
  JsonWriter w(out, 2);
  w.begin_object();
  w.key("schema_version").integer(kSchemaVersion);
  if (s.db_path.empty()) w.key("db").null().key("scan_id").null();  // --since/--until: not stored
  else w.key("db").string(s.db_path).key("scan_id").integer(s.scan_id);
  w.key("verdict").string(s.any_problem ? "problem" : "ok");
  w.key("stats").begin_object();
  w.key("inputs").integer(s.counts.total).key("scanned").integer(s.counts.scanned);
  w.key("unchanged").integer(s.counts.unchanged).key("errors").integer(s.counts.failed);
  w.key("not_stored").integer(static_cast<int64_t>(s.not_stored));
  w.key("bytes").integer(static_cast<int64_t>(s.bytes));
  w.key("seconds").number(std::round(s.secs * 1000) / 1000);
  w.end_object();
  w.key("hosts").begin_array();
  for (const auto& r : rows) {
    w.begin_object();
    w.key("host").string(r.host);
    w.key("verdict").string(r.verdict);
    if (r.cause.empty()) w.key("top_cause").null(); else w.key("top_cause").string(r.cause);
    if (r.confidence < 0) w.key("confidence").null(); else w.key("confidence").number(std::round(r.confidence * 100) / 100);
    if (r.cause_status.empty()) w.key("cause_status").null(); else w.key("cause_status").string(r.cause_status);
    w.key("input").string(r.input);
    w.key("status").string(r.status);
    w.key("scan").string(r.scan);
    w.key("bundle").begin_object();
    for (const auto& [k, v] : r.bundle) w.key(k).string(v);
    w.end_object();
    w.end_object();
  }
  w.end_array();
  w.key("errors").begin_array();
  for (const auto& e : error_lines) w.string(e);
  w.end_array();
  w.key("pruned").begin_array();
  for (const auto& p : s.pruned) w.string(p);
  w.end_array();
  w.end_object();
  out << '\n';
}

void print_table(std::ostream& out, const Summary& s, std::vector<Row> rows) {
  std::map<std::string, int> verdicts, statuses;
  for (const auto& r : rows) ++verdicts[r.verdict];
  for (const auto& r : rows)
    if (r.status != "ok") ++statuses[r.status];
  for (auto& r : rows) r.host = visible(r.host), r.input = visible(r.input);  // names from bundles
  size_t hw = 4, vw = 7, cw = 9;
  for (const auto& r : rows) {
    hw = std::max(hw, r.host.empty() ? 1 : r.host.size());
    vw = std::max(vw, r.verdict.size());
    cw = std::max(cw, r.cause.empty() ? 1 : r.cause.size());
  }
  auto pad = [](std::string t, size_t w) {
    t.resize(std::max(t.size(), w), ' ');
    return t;
  };
  out << pad("HOST", hw) << "  " << pad("VERDICT", vw) << "  " << pad("TOP CAUSE", cw) << "  CONF  INPUT\n";
  for (const auto& r : rows) {
    char conf[16] = "   -";
    if (r.confidence >= 0) std::snprintf(conf, sizeof conf, "%.2f", r.confidence);
    std::string notes;
    if (r.status == "incomplete") notes += "incomplete";
    if (r.scan == "unchanged" || r.scan == "not stored") notes += (notes.empty() ? "" : ", ") + r.scan;
    out << pad(r.host.empty() ? "-" : r.host, hw) << "  " << pad(r.verdict, vw) << "  "
              << pad(r.cause.empty() ? "-" : r.cause, cw) << "  " << conf << "  " << r.input
              << (notes.empty() ? "" : "  (" + notes + ")") << "\n";
  }
  out << counted(s.counts.total, "input") << ": " << s.counts.scanned << " scanned, " << s.counts.unchanged
      << " unchanged, " << counted(s.counts.failed, "error");
  if (s.not_stored) out << " (" << s.not_stored << " not stored)";
  out << "; " << counted(rows.size(), "host") << ":";
  bool first = true;
  for (const auto& [v, n] : verdicts) {
    out << (first ? " " : ", ") << n << " " << v;
    first = false;
  }
  for (const auto& [st, n] : statuses)
    if (st != "error") out << " (" << n << " " << st << ")";  // error hosts are a verdict of their own
  char tail[96];
  std::snprintf(tail, sizeof tail, "; %.1f MB in %.2f s (%s)", static_cast<double>(s.bytes) / 1e6, s.secs,
                fmt_bytes_rate(static_cast<double>(s.bytes), s.secs).c_str());
  out << tail << (s.db_path.empty() ? "; not stored (--since/--until)" : "; store " + s.db_path) << "\n";
  for (const auto& p : s.pruned) out << "forgot " << visible(p) << " (gone)\n";
}

}  // namespace

int cmd_scan(const Args& args) {
  CommonOptions common;
  RunOptions run;
  std::string db_path;
  unsigned jobs_n = 0;
  bool force = false, prune = false;
  std::vector<std::string> paths;
  po::options_description d(kScanHelp);
  add_output_options(d, common, "text|json: summary format");
  OutputFile out;
  add_output_file_option(d, out.path);
  d.add_options()
      ("db", po::value(&db_path), "FILE: the SQLite store (created if missing; default $TPMDIAG_DB)")
      ("force", po::bool_switch(&force), "scan inputs again even if unchanged since the last scan")
      ("prune", po::bool_switch(&prune), "forget stored inputs whose files are gone (as 'tpmdiag db prune')");
  LimitOptions lim;
  lim.count(d, "jobs,j", jobs_n, 1, 1024, "N: bundles scanned at once (default: number of cores)", "");
  add_input_limit_options(d, lim, run);
  FilterOptions filter;
  add_filter_options(d, filter);
  d.add_options()
      ("min-confidence", po::value(&run.diagnose.min_confidence)->default_value(0.2, "0.2"),
       "X: record findings with confidence >= X (0..1)")
      ("help,h", "show this help");
  add_data_options(d, common);
  po::options_description all;
  all.add(d).add_options()("path", po::value(&paths)->composing(), "input");
  po::positional_options_description pos;
  pos.add("path", -1);
  po::variables_map vm;
  if (!parse_args("scan", args, all, &pos, vm)) return 2;
  if (vm.count("help")) {
    print_help(d);
    return 0;
  }
  if (!lim.apply("scan", vm) || !check_min_confidence("scan", run.diagnose.min_confidence)) return 2;
  if (!apply_filter_options("scan", filter, run.filter)) return 2;
  // --host picks the rows shown (the store keeps every host). --since/--until
  // change the diagnosis: every input is read again, and nothing is stored
  // (stored, a window's verdict would stand for the whole bundle, and the
  // next scan would find the bundle unchanged and keep it).
  std::string host_glob = std::exchange(run.filter.host_glob, "");
  const bool keep = !run.filter.active();
  if (!keep) force = true;
  if (!keep && prune) {
    std::cerr << "tpmdiag scan: error: --prune writes the store, which --since/--until do not: drop one of them\n";
    return 2;
  }
  if (db_path.empty()) {
    if (const char* e = std::getenv("TPMDIAG_DB")) db_path = e;
  }
  if (db_path.empty()) {
    std::cerr << "tpmdiag scan: error: no store: give --db FILE (or set TPMDIAG_DB) (see 'tpmdiag scan --help')\n";
    return 2;
  }
  if (paths.empty()) {
    std::cerr << "tpmdiag scan: error: no input: name bundles, folders or log files (see 'tpmdiag scan --help')\n";
    return 2;
  }
  if (!out.open("scan", paths)) return 2;  // before any work: a bad -o FILE fails at once
  if (jobs_n == 0) jobs_n = std::max(1u, std::thread::hardware_concurrency());

  auto engine = load_engine(common);
  if (!engine) return 2;
  // Planned before the store is opened: a typo or an empty folder stores
  // nothing, and when nothing is left to read the store is not even created.
  std::vector<InputError> plan_errors;
  auto jobs = batch::plan_jobs(paths, plan_errors, run.limits);
  if (jobs.empty()) {
    for (const auto& e : plan_errors) print_error(e.message);
    return 2;
  }
  std::unique_ptr<store::Store> st;
  Result<int64_t> scan_id = int64_t{0};
  if (keep) {
    auto opened = store::Store::open(db_path);
    if (!opened) {
      print_error(opened.error().message);
      return 2;
    }
    st = std::move(*opened);
    std::string command = "tpmdiag scan";
    for (const auto& a : args) command += " " + a;
    scan_id = st->begin_scan(command);
    if (!scan_id) {
      print_error(scan_id.error().message);
      return 2;
    }
  }

  store::ScanCounts counts;
  counts.total = static_cast<int64_t>(jobs.size() + plan_errors.size());
  std::vector<std::string> error_lines;
  std::vector<Row> rows;
  bool any_problem = false;
  int64_t readable = 0;

  for (const auto& e : plan_errors) {  // not stored, no host row: the path named nothing to read
    error_lines.push_back(e.message);
    ++counts.failed;
  }

  // Unchanged inputs are not read again; their stored rows are reported.
  std::vector<const batch::Job*> todo;
  std::vector<std::string> unchanged_paths;
  std::map<std::string, std::string> name_of;
  for (const auto& j : jobs) {
    name_of[j.path] = j.name;
    if (!keep) {
      todo.push_back(&j);
      continue;
    }
    auto old = st->find_input(j.path);
    if (!old) {
      print_error(old.error().message);
      return 2;
    }
    if (!force && *old && (*old)->size == j.size && (*old)->mtime_ns == j.mtime_ns && (*old)->files == j.files &&
        (*old)->kind == j.kind) {
      // Its stored host rows are listed below (once each, with their status).
      unchanged_paths.push_back(j.path);
      if ((*old)->status == "ok") {
        ++counts.unchanged;
        ++readable;
      } else {
        ++counts.failed;  // still an input with errors, as when it was scanned
        error_lines.push_back((*old)->error + " (unchanged since " + (*old)->scanned_at + ")");
      }
      if ((*old)->verdict == "problem") any_problem = true;
      continue;
    }
    todo.push_back(&j);
  }

  // Workers diagnose; this thread is the one writer of the store.
  uint64_t total_bytes = 0;
  for (const auto* j : todo) total_bytes += j->size;
  Progress progress(isatty(STDERR_FILENO) != 0 && !todo.empty(), todo.size(), total_bytes);
  std::atomic<uint64_t> bytes_done{0};
  auto t0 = std::chrono::steady_clock::now();
  std::string store_error;
  size_t done = 0, not_stored = 0;
  batch::run_jobs(*engine, run, todo, jobs_n, bytes_done, [&](batch::JobResult&& res) {
    const batch::JobResult* r = &res;
    ++done;
    auto rec = batch::to_record(*r);
    // A write that fails (a full disk) loses this input's rows: it counts as
    // an error, never as scanned; its diagnosis is still shown.
    Status stored = keep ? st->record(*scan_id, rec) : ok_status();
    if (!stored) {
      ++not_stored;
      if (store_error.empty()) store_error = stored.error().message;
    }
    // Read in full, as a rescan counts it (an unchanged input with errors is
    // not): a lone cut bundle exits 2 on its first scan and on every rescan.
    if (rec.status != "error" && (r->report.any_input_read || r->report.inputs.empty())) ++readable;
    if (rec.status == "error" || !stored) ++counts.failed;
    else ++counts.scanned;
    if (rec.status == "error")
      for (const auto& e : r->errors) error_lines.push_back(e);
    std::string how = !stored ? "not stored" : rec.status == "error" ? "error" : "new";
    for (const auto& h : rec.hosts) {
      Row row{h.host, h.verdict, "", r->job.name, how};
      row.status = h.status;
      top_of(rec, h.host, row);
      row.bundle = h.bundle;
      if (h.verdict == "problem") any_problem = true;
      rows.push_back(std::move(row));
    }
    if (rec.hosts.empty())
      rows.push_back({r->bundle_host, rec.status == "error" ? "error" : rec.verdict, "", r->job.name, stored ? "error" : how});
    progress.draw(done, bytes_done);
  }, [&] { progress.draw(done, bytes_done); });
  progress.clear();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  if (!unchanged_paths.empty()) {
    auto stored = st->hosts({}, unchanged_paths);
    if (!stored) {
      print_error(stored.error().message);
      return 2;
    }
    for (const auto& h : *stored) {
      Row row{h.host, h.verdict, h.top_cause, name_of.count(h.input) ? name_of[h.input] : h.input, "unchanged"};
      row.status = h.status;
      row.confidence = h.top_cause.empty() ? -1 : h.top_confidence;
      row.cause_status = h.top_status;
      row.bundle = h.bundle;
      if (h.verdict == "problem") any_problem = true;
      rows.push_back(std::move(row));
    }
  }
  if (keep)
    if (auto s = st->end_scan(*scan_id, counts); !s && store_error.empty()) store_error = s.error().message;

  if (not_stored > 0)
    error_lines.push_back(st->path() + ": " + std::to_string(not_stored) + " of " + std::to_string(done) +
                          " inputs diagnosed but not stored: " + store_error);
  else if (!store_error.empty())
    error_lines.push_back(store_error);
  for (const auto& e : error_lines) print_error(e);

  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    auto rank = [](const std::string& v) {
      return v == "problem" ? 0 : v == "error" ? 1 : v == "resolved" ? 2 : v == "healthy" ? 3 : 4;
    };
    if (rank(a.verdict) != rank(b.verdict)) return rank(a.verdict) < rank(b.verdict);
    return a.input < b.input;
  });

  if (!host_glob.empty()) {
    std::erase_if(rows, [&](const Row& r) { return fnmatch(host_glob.c_str(), r.host.c_str(), 0) != 0; });
    any_problem = std::any_of(rows.begin(), rows.end(), [](const Row& r) { return r.verdict == "problem"; });
  }
  Summary sum{keep ? st->path() : "", *scan_id, counts, any_problem, bytes_done.load(), secs, not_stored};
  if (prune) {
    auto gone = st->prune();
    if (gone) {
      sum.pruned = std::move(*gone);
    } else {
      print_error(gone.error().message);
      if (store_error.empty()) store_error = gone.error().message;  // exit 2
    }
  }
  if (filter.quiet) {
  } else if (filter.brief) {
    for (const auto& r : rows) {  // one line per host, as diagnose --brief
      char conf[16] = "-";
      if (r.confidence >= 0) std::snprintf(conf, sizeof conf, "%.2f", r.confidence);
      // As db hosts: a verdict from an input not read in full says so.
      std::string verdict = r.status == "ok" ? r.verdict : r.verdict + " (" + r.status + ")";
      out.stream() << (r.host.empty() ? "-" : visible(r.host)) << "  " << verdict << "  "
                   << (r.cause.empty() ? "-" : r.cause) << "  " << conf << "\n";
    }
  } else if (common.format == "json")
    print_json(out.stream(), sum, rows, error_lines);
  else
    print_table(out.stream(), sum, rows);
  if (!out.close("scan")) return 2;
  if (!store_error.empty()) return 2;
  if (!plan_errors.empty()) return 2;  // a path named nothing to read (a typo?), as rg does
  if (any_problem) return 1;
  if (readable == 0) return 2;
  return 0;
}

TPMDIAG_COMMAND("scan", "--db FILE PATH...", "diagnose many bundles in parallel into a SQLite fleet store", cmd_scan, 22)

}  // namespace tpmdiag::cli
