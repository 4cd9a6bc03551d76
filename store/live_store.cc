#include "store/live_store.h"

#include <algorithm>

#include "store/batch.h"

namespace tpmdiag::store {

Result<std::unique_ptr<LiveStore>> LiveStore::open(const std::string& path, const std::string& command) {
  auto db = Store::open(path);
  if (!db) return db.error();
  std::unique_ptr<LiveStore> ls(new LiveStore());
  ls->db_ = std::move(*db);
  auto scan = ls->db_->begin_scan(command);
  if (!scan) return scan.error();
  ls->scan_id_ = *scan;
  ls->writer_ = std::thread([p = ls.get()] { p->write_loop(); });
  return ls;
}

LiveStore::~LiveStore() { (void)close(); }

Status LiveStore::status() {
  std::lock_guard<std::mutex> lk(mu_);
  return status_;
}

void LiveStore::write_loop() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || !pending_.empty(); });
    if (pending_.empty()) return;  // stopped, everything written
    auto batch = std::move(pending_);
    pending_.clear();
    bool failed = !status_;
    lk.unlock();
    Status st = ok_status();
    if (!failed) {
      // One transaction for all of them: one commit per host took a second
      // and more when thousands of hosts changed at once (BENCHMARKS.md,
      // "Live throughput").
      std::vector<const InputRecord*> ptrs;
      ptrs.reserve(batch.size());
      for (const auto& [host, r] : batch) ptrs.push_back(&r);
      st = db_->record(scan_id_, ptrs);
    }
    lk.lock();
    if (!st && status_) status_ = st;
  }
}

Status LiveStore::finding(const Finding& f, int rank) {
  auto& h = hosts_[f.host];
  h.findings[{f.cause->id, f.boot}] = batch::finding_record(f, f.host);
  if (rank > 0) h.live_rank[f.cause->id] = rank;
  dirty_.insert(f.host);
  return flush();
}

Status LiveStore::update(const std::string& host, const std::vector<const Finding*>& ranking) {
  auto& h = hosts_[host];
  h.live_rank.clear();
  int rank = 0;
  for (const Finding* f : ranking) h.live_rank[f->cause->id] = ++rank;
  dirty_.insert(host);
  return flush();
}

Status LiveStore::resolved(const Finding& f) {
  auto& h = hosts_[f.host];
  h.findings[{f.cause->id, f.boot}] = batch::finding_record(f, f.host);
  h.live_rank.erase(f.cause->id);
  dirty_.insert(f.host);
  return flush();
}

InputRecord LiveStore::record_of(const std::string& host, const HostState& h) const {
  InputRecord in;
  in.path = input_path(host);
  in.kind = "live";
  in.mtime_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();  // the latest of its host
  in.files = 0;
  for (const auto& [key, f] : h.findings) in.findings.push_back(f);
  // As a report orders them: open causes first in the live ranking, then the
  // rest by confidence; rank is numbered per boot in that order.
  auto order = [&](const FindingRecord& f) {
    auto r = h.live_rank.find(f.cause);
    return std::make_tuple(f.status != "problem", r == h.live_rank.end() ? 1 << 30 : r->second, -f.confidence);
  };
  std::stable_sort(in.findings.begin(), in.findings.end(),
                   [&](const FindingRecord& a, const FindingRecord& b) { return order(a) < order(b); });
  std::map<int, int> ranks;
  bool open = false;
  std::set<int> boots;
  for (auto& f : in.findings) {
    f.rank = ++ranks[f.boot];
    open = open || f.status == "problem";
    boots.insert(f.boot);
  }
  in.verdict = open ? "problem" : in.findings.empty() ? "no_tpm_evidence" : "resolved";
  HostRecord hr;
  hr.host = host;
  hr.verdict = in.verdict;
  hr.boots = static_cast<int>(boots.size());
  for (int b : boots) {
    bool b_open = std::any_of(in.findings.begin(), in.findings.end(),
                              [&](const FindingRecord& f) { return f.boot == b && f.status == "problem"; });
    hr.windows.push_back({b, "", "", b_open ? "problem" : "no_tpm_evidence"});
  }
  in.hosts.push_back(std::move(hr));
  return in;
}

Status LiveStore::flush(bool force) {
  if (dirty_.empty() || closed_) return status();
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_flush_ < std::chrono::seconds(1)) return status();
  last_flush_ = now;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (const auto& host : dirty_) pending_[host] = record_of(host, hosts_[host]);
  }
  cv_.notify_one();
  dirty_.clear();
  return status();
}

Status LiveStore::close() {
  if (closed_) return status();
  (void)flush(true);
  closed_ = true;
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  if (writer_.joinable()) writer_.join();
  ScanCounts c;
  c.total = c.scanned = static_cast<int64_t>(hosts_.size());
  std::lock_guard<std::mutex> lk(mu_);
  if (auto st = db_->end_scan(scan_id_, c); !st && status_) status_ = st;
  return status_;
}

}  // namespace tpmdiag::store
