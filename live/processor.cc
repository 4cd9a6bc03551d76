#include "live/processor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ctime>

#include "pipeline/scanner.h"

namespace tpmdiag::live {

namespace {

// A ByteSource over a batch buffer (no copy).
class ViewSource : public ByteSource {
 public:
  ViewSource(const char* p, size_t n) : p_(p), n_(n) {}
  Result<size_t> read(char* buf, size_t cap) override {
    size_t k = std::min(cap, n_ - pos_);
    std::memcpy(buf, p_ + pos_, k);
    pos_ += k;
    return k;
  }
  uint64_t raw_bytes() const override { return pos_; }

 private:
  const char* p_;
  size_t n_, pos_ = 0;
};

// Messages are scanned in slices of about this many bytes (see process()).
constexpr size_t kSlice = 64 * 1024;
// After a stop: how long past the drain time the hosts still settling are
// diagnosed (the receiver counts the kernel's remainder as long).
constexpr auto kFinalReport = std::chrono::milliseconds(300);

int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);  // async-signal-safe, unlike std::chrono's now()
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

void IngestCounters::request_stop(double drain_seconds) {
  int64_t none = 0;
  deadline_ns.compare_exchange_strong(none, monotonic_ns() + static_cast<int64_t>(drain_seconds * 1e9));
}

bool IngestCounters::past_deadline() const {
  int64_t d = deadline_ns.load();
  return d != 0 && monotonic_ns() >= d;
}

std::chrono::steady_clock::time_point IngestCounters::deadline() const {
  int64_t d = deadline_ns.load();
  if (d == 0) return std::chrono::steady_clock::time_point::max();
  // By the offset from now: no reliance on steady_clock being CLOCK_MONOTONIC.
  auto now = std::chrono::steady_clock::now();
  return now + std::chrono::nanoseconds(d - monotonic_ns());
}

void Batch::clear() {
  buf.clear();
  segments.clear();
  sources.clear();
  closed.clear();
  errors.clear();
  messages = 0;
}

// ---- BatchQueue ----

bool BatchQueue::push(std::unique_ptr<Batch>& b, const IngestCounters& c) {
  std::unique_lock<std::mutex> lk(mu_);
  // A stop comes from a signal handler, which cannot notify: look every 20 ms.
  while (!(bytes_ < max_bytes_ || q_.empty())) {
    if (c.past_deadline()) return false;
    not_full_.wait_for(lk, std::chrono::milliseconds(20));
  }
  bytes_ += b->buf.size();
  q_.push_back(std::move(b));
  not_empty_.notify_one();
  return true;
}

std::unique_ptr<Batch> BatchQueue::pop(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lk(mu_);
  not_empty_.wait_until(lk, deadline, [&] { return !q_.empty() || closed_; });
  if (q_.empty()) return nullptr;
  auto b = std::move(q_.front());
  q_.pop_front();
  bytes_ -= b->buf.size();
  not_full_.notify_all();
  return b;
}

void BatchQueue::close() {
  std::lock_guard<std::mutex> lk(mu_);
  closed_ = true;
  not_empty_.notify_all();
}

bool BatchQueue::closed_and_empty() {
  std::lock_guard<std::mutex> lk(mu_);
  return closed_ && q_.empty();
}

std::unique_ptr<Batch> BatchQueue::recycled() {
  std::lock_guard<std::mutex> lk(mu_);
  if (free_.empty()) return std::make_unique<Batch>();
  auto b = std::move(free_.back());
  free_.pop_back();
  return b;
}

void BatchQueue::recycle(std::unique_ptr<Batch> b) {
  b->clear();
  std::lock_guard<std::mutex> lk(mu_);
  if (free_.size() < 8) free_.push_back(std::move(b));
}

// ---- BatchBuilder ----

BatchBuilder::BatchBuilder(BatchQueue& q, IngestCounters& c, size_t flush_bytes)
    : q_(q), c_(c), flush_bytes_(flush_bytes), b_(q.recycled()) {}

void BatchBuilder::source(uint64_t id, std::string name, std::string fallback_host) {
  next_line_[id] = 1;
  b_->sources.push_back({id, std::move(name), std::move(fallback_host)});
}

void BatchBuilder::close_source(uint64_t id) {
  next_line_.erase(id);
  b_->closed.push_back(id);
}

void BatchBuilder::message(uint64_t id, std::string_view text) {
  uint64_t& line = next_line_[id];
  if (line == 0) line = 1;
  uint64_t number = line++;
  if (text.empty()) return;  // an empty line of a file: counted, not scanned
  Batch& b = *b_;
  if (b.segments.empty() || b.segments.back().source != id ||
      b.segments.back().first_line + b.segments.back().count != number)
    b.segments.push_back({id, b.messages, 0, number});
  ++b.segments.back().count;
  ++b.messages;
  size_t at = b.buf.size();
  b.buf.append(text.data(), text.size());
  // One message, one line: embedded LF (RFC 5424 structured data, multi-line
  // submissions) and NUL become spaces.
  char* p = b.buf.data() + at;
  for (char* q = p; (q = static_cast<char*>(std::memchr(q, '\n', static_cast<size_t>(p + text.size() - q))));) *q = ' ';
  for (char* q = p; (q = static_cast<char*>(std::memchr(q, '\0', static_cast<size_t>(p + text.size() - q))));) *q = ' ';
  b.buf.push_back('\n');
  c_.messages.fetch_add(1, std::memory_order_relaxed);
  if (b.buf.size() >= flush_bytes_) flush();
}

void BatchBuilder::error(std::string message) { b_->errors.push_back(std::move(message)); }

void BatchBuilder::flush() {
  Batch& b = *b_;
  if (b.messages == 0 && b.sources.empty() && b.closed.empty() && b.errors.empty()) return;
  if (!q_.push(b_, c_)) {
    c_.unprocessed.fetch_add(b.messages, std::memory_order_relaxed);
    b.clear();
    return;
  }
  b_ = q_.recycled();
}

// ---- Processor ----

struct Processor::ScannerBox {
  ScannerBox(const Engine& e, size_t max_line) : scanner(e.matcher(), e.formats(), make_opts(max_line)) {}
  static ScanOptions make_opts(size_t max_line) {
    ScanOptions o;
    o.max_line = max_line + 16;
    // Every fact goes to the host table, which bounds them per host; a batch
    // (at most the queue's size) keeps up to max_facts, the rest are counted.
    o.keep_same = SIZE_MAX;
    // A batch's slices are scanned one by one, most under the size at which
    // a one-shot input skips the literal databases; a stream pays for them
    // once and then needs them (without: a plain search for every atom in
    // every line, 40% of the time in a profile).
    o.force_prefilter = true;
    return o;
  }
  Scanner scanner;
};

Processor::Processor(const Engine& engine, ProcessorOptions opts, IngestCounters& counters, Sink& sink)
    : opts_(std::move(opts)),
      c_(counters),
      sink_(sink),
      scanner_(std::make_unique<ScannerBox>(engine, opts_.max_frame)),
      table_(engine.causes(), opts_.limits) {
  start_ = last_stats_ = std::chrono::steady_clock::now();
  // A host evicted while its new facts wait to settle is diagnosed first:
  // under host churn (more hosts than --max-hosts within --settle) its
  // findings were otherwise lost without a word.
  table_.before_evict = [this](const std::string& host, bool dirty) {
    auto it = settling_.find(host);
    if (it == settling_.end() && !dirty) return;
    if (it != settling_.end()) settling_.erase(it);
    ++evicted_unsettled_;
    report_host(host);
  };
}

Processor::~Processor() = default;

void Processor::process(Batch& b) {
  for (auto& s : b.sources) sources_[s.id] = {std::move(s.name), std::move(s.fallback_host), next_seq_++};
  for (const auto& e : b.errors) write_error(e);
  // In slices, so that a stop is seen within one slice's time, not a whole
  // batch's (a second and more under a sanitizer).
  uint64_t first = 0;  // first message of the slice, in the batch
  for (size_t pos = 0; pos < b.buf.size() && first < b.messages;) {
    if (c_.past_deadline()) {
      c_.unprocessed.fetch_add(b.messages - first, std::memory_order_relaxed);
      break;
    }
    size_t end = std::min(pos + kSlice, b.buf.size());
    if (const void* lf = std::memchr(b.buf.data() + end - 1, '\n', b.buf.size() - end + 1))
      end = static_cast<size_t>(static_cast<const char*>(lf) - b.buf.data()) + 1;
    auto n = static_cast<uint64_t>(std::count(b.buf.data() + pos, b.buf.data() + end, '\n'));
    facts_.clear();
    ViewSource src(b.buf.data() + pos, end - pos);
    InputStats st;
    static const std::string kInput = "live";
    Status s = scanner_->scanner.scan(src, kInput, 0, facts_, st);
    (void)s;  // a memory view cannot fail
    messages_ += n;
    facts_dropped_ += st.dropped_facts;
    for (Fact& f : facts_) {
      // Batch line -> source and line within it.
      uint64_t idx = first + f.line - 1;
      auto it = std::upper_bound(b.segments.begin(), b.segments.end(), idx,
                                 [](uint64_t i, const Segment& sg) { return i < sg.first_message; });
      if (it == b.segments.begin()) continue;
      --it;
      auto src_it = sources_.find(it->source);
      if (src_it != sources_.end()) {
        f.input = src_it->second.name;
        f.input_seq = src_it->second.seq;
        if (f.host.empty()) f.host = src_it->second.fallback_host;
      }
      f.line = it->first_line + (idx - it->first_message);
      ++facts_total_;
      table_.add(std::move(f));
    }
    auto now = std::chrono::steady_clock::now();
    for (auto& host : table_.take_dirty()) settle(std::move(host), now);
    first += n;
    pos = end;
  }
  report_settled(false, c_.deadline());
  for (uint64_t id : b.closed) sources_.erase(id);
}

void Processor::settle(std::string host, std::chrono::steady_clock::time_point now) {
  auto quiet = std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(opts_.settle));
  auto [it, fresh] = settling_.try_emplace(std::move(host), Settling{now + quiet, now});
  Time due = std::min(now + quiet, it->second.first + 2 * quiet);
  if (!fresh && due == it->second.due) return;  // held at its latest time: no new entry
  it->second.due = due;
  settle_order_.emplace(due, it->first);
}

void Processor::report_settled(bool all, std::chrono::steady_clock::time_point until) {
  auto now = std::chrono::steady_clock::now();
  // The hosts due, in name order as the map gives them (the order of the
  // records); stale entries of the queue are dropped on the way.
  std::vector<std::map<std::string, Settling>::iterator> due;
  if (all) {
    for (auto it = settling_.begin(); it != settling_.end(); ++it) due.push_back(it);
    settle_order_ = {};
  } else {
    while (!settle_order_.empty() && settle_order_.top().first <= now) {
      auto it = settling_.find(settle_order_.top().second);
      if (it != settling_.end() && it->second.due == settle_order_.top().first) due.push_back(it);
      settle_order_.pop();
    }
    std::sort(due.begin(), due.end(), [](const auto& a, const auto& b) { return a->first < b->first; });
  }
  for (size_t i = 0; i < due.size(); ++i) {
    auto it = due[i];
    if (std::chrono::steady_clock::now() >= until) {
      if (all) {  // the last call: they will not be diagnosed
        unsettled_ += settling_.size();
        settling_.clear();
      } else {  // not reported yet: due again at the next call
        for (size_t j = i; j < due.size(); ++j) settle_order_.emplace(due[j]->second.due, due[j]->first);
      }
      break;
    }
    report_host(it->first);
    settling_.erase(it);
  }
}

void Processor::report_host(const std::string& host) {
  HostUpdate u = table_.update(host);
  for (const auto& ch : u.changes) {
    switch (ch.kind) {
      case Change::Kind::finding:
        sink_.finding(ch.finding, ch.rank);
        ++findings_;
        break;
      case Change::Kind::resolved:
        sink_.resolved(ch.finding);
        ++resolved_;
        break;
      case Change::Kind::update:
        sink_.update(host, ch.ranking);
        break;
    }
  }
}

std::chrono::steady_clock::time_point Processor::next_settle() {
  while (!settle_order_.empty()) {
    const auto& [due, host] = settle_order_.top();
    auto it = settling_.find(host);
    if (it != settling_.end() && it->second.due == due) return due;
    settle_order_.pop();  // stale: due later, or reported
  }
  return std::chrono::steady_clock::time_point::max();
}

void Processor::write_error(const std::string& message) {
  ++errors_;
  sink_.error(message);
}

void Processor::write_stats(bool final) {
  auto now = std::chrono::steady_clock::now();
  Stats st;
  st.mode = opts_.mode;
  st.final = final;
  st.interval_s = std::chrono::duration<double>(now - last_stats_).count();
  st.uptime_s = std::chrono::duration<double>(now - start_).count();
  uint64_t delta = messages_ - last_messages_;
  last_messages_ = messages_;
  last_stats_ = now;
  st.lines_per_s = st.interval_s > 0 ? std::llround(static_cast<double>(delta) / st.interval_s) : 0;
  st.messages = messages_;
  st.bytes = c_.bytes.load();
  st.hosts = table_.hosts();
  st.facts = table_.facts();
  st.facts_total = facts_total_;
  st.facts_dropped = facts_dropped_;
  st.findings = findings_;
  st.resolved = resolved_;
  st.open_problems = table_.open_problems();
  st.errors = errors_;
  st.udp_kernel = c_.udp_drops.load();
  st.partial_frames = c_.partial.load();
  st.shutdown_unread_datagrams = c_.unread_datagrams.load();
  st.shutdown_unread_frames = c_.unread_frames.load();
  st.shutdown_unread_bytes = c_.unread_bytes.load();
  st.shutdown_unprocessed = c_.unprocessed.load();
  st.refused_messages = c_.refused.load();
  st.unsettled_hosts = unsettled_;
  st.cut = c_.cut.load();
  st.evicted_hosts = table_.evicted_hosts();
  st.evicted_settled_early = evicted_unsettled_;
  st.evicted_facts = table_.evicted_facts();
  st.conn_open = c_.conn_open.load();
  st.conn_total = c_.conn_total.load();
  st.conn_rejected = c_.conn_rejected.load();
  st.conn_max = c_.conn_max.load();
  st.idle_timeouts = c_.idle_timeouts.load();
  st.octet_frames = c_.octet_frames.load();
  st.lf_frames = c_.lf_frames.load();
  sink_.stats(st);
}

bool Processor::run(BatchQueue& q) {
  bool ok = true;
  auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(opts_.stats_interval > 0 ? opts_.stats_interval : 1.0));
  auto next_stats = start_ + period;
  bool final_report = false;
  for (;;) {
    bool late = c_.past_deadline();
    if (late && !final_report) {
      // From the drain time on, batches are counted, not scanned: no host
      // can change any more, so the hosts still settling are diagnosed now,
      // while the receiver counts what the kernel still holds (as long).
      report_settled(true, c_.deadline() + kFinalReport);
      final_report = true;
    }
    auto b = q.pop(late ? next_stats : std::min({next_stats, next_settle(), c_.deadline()}));
    if (b && (late || c_.past_deadline())) {
      // The drain time is over: what is still queued is counted, not scanned.
      c_.unprocessed.fetch_add(b->messages, std::memory_order_relaxed);
      q.recycle(std::move(b));
    } else if (b) {
      process(*b);
      q.recycle(std::move(b));
    } else if (!late) {
      report_settled(false);
    }
    if (ok && !sink_.ok()) {
      ok = false;
      if (opts_.on_output_error) opts_.on_output_error();
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= next_stats) {
      if (opts_.stats_interval > 0) write_stats(false);
      while (next_stats <= now) next_stats += period;
    }
    if (!b && q.closed_and_empty()) break;
  }
  // The input ended: nothing more will come to change the hosts still
  // settling. After a stop that came to an end before the drain time, this
  // too ends soon after it.
  if (!final_report)
    report_settled(true, c_.stopping() ? c_.deadline() + kFinalReport : std::chrono::steady_clock::time_point::max());
  write_stats(true);
  return ok && sink_.ok();
}

}  // namespace tpmdiag::live
