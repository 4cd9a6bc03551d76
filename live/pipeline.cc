#include "live/pipeline.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cli/render.h"
#include "parsers/scanner.h"
#include "parsers/timestamp.h"

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

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void Batch::clear() {
  buf.clear();
  segments.clear();
  sources.clear();
  closed.clear();
  errors.clear();
  messages = 0;
}

// ---- BatchQueue ----

void BatchQueue::push(std::unique_ptr<Batch> b) {
  std::unique_lock<std::mutex> lk(mu_);
  not_full_.wait(lk, [&] { return bytes_ < max_bytes_ || q_.empty(); });
  bytes_ += b->buf.size();
  q_.push_back(std::move(b));
  not_empty_.notify_one();
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
  q_.push(std::move(b_));
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
    return o;
  }
  Scanner scanner;
};

Processor::Processor(const Engine& engine, ProcessorOptions opts, IngestCounters& counters, std::ostream& out)
    : opts_(std::move(opts)),
      c_(counters),
      out_(out),
      scanner_(std::make_unique<ScannerBox>(engine, opts_.max_frame)),
      table_(engine.causes(), opts_.limits) {
  start_ = last_stats_ = std::chrono::steady_clock::now();
}

Processor::~Processor() = default;

void Processor::process(Batch& b) {
  for (auto& s : b.sources) sources_[s.id] = {std::move(s.name), std::move(s.fallback_host), next_seq_++};
  for (const auto& e : b.errors) write_error(e);
  if (b.messages > 0) {
    facts_.clear();
    ViewSource src(b.buf.data(), b.buf.size());
    InputStats st;
    static const std::string kInput = "live";
    Status s = scanner_->scanner.scan(src, kInput, 0, facts_, st);
    (void)s;  // a memory view cannot fail
    messages_ += b.messages;
    facts_dropped_ += st.dropped_facts;
    for (Fact& f : facts_) {
      // Batch line -> source and line within it.
      uint64_t idx = f.line - 1;
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
    for (const auto& host : table_.take_dirty()) {
      HostUpdate u = table_.update(host);
      for (const auto& ch : u.changes) {
        JsonWriter w(out_);
        w.begin_object();
        if (ch.kind == Change::Kind::finding) {
          w.key("type").string("finding");
          cli::write_finding(w, ch.finding);
          ++findings_;
        } else {
          w.key("type").string("resolved");
          w.key("host").string(ch.finding.host);
          w.key("cause").string(ch.finding.cause->id);
          w.key("title").string(ch.finding.cause->title);
          w.key("boot").integer(ch.finding.boot);
          w.key("resolved_in_boot").integer(ch.finding.resolved_in);
          ++resolved_;
        }
        w.key("time").string(format_iso8601(now_ms()));
        w.end_object();
        out_ << '\n';
        out_.flush();
      }
    }
  }
  for (uint64_t id : b.closed) sources_.erase(id);
}

void Processor::write_error(const std::string& message) {
  ++errors_;
  JsonWriter w(out_);
  w.begin_object();
  w.key("type").string("error");
  w.key("message").string(message);
  w.key("time").string(format_iso8601(now_ms()));
  w.end_object();
  out_ << '\n';
  out_.flush();
}

void Processor::write_stats(bool final) {
  auto now = std::chrono::steady_clock::now();
  double interval = std::chrono::duration<double>(now - last_stats_).count();
  double uptime = std::chrono::duration<double>(now - start_).count();
  uint64_t delta = messages_ - last_messages_;
  last_messages_ = messages_;
  last_stats_ = now;
  uint64_t udp_drops = c_.udp_drops.load(), partial = c_.partial.load(), unread = c_.unread_datagrams.load();
  JsonWriter w(out_);
  w.begin_object();
  w.key("type").string("stats");
  w.key("mode").string(opts_.mode);
  w.key("final").boolean(final);
  w.key("time").string(format_iso8601(now_ms()));
  w.key("uptime_s").number(std::round(uptime * 1000) / 1000);
  w.key("interval_s").number(std::round(interval * 1000) / 1000);
  w.key("lines_per_s").integer(interval > 0 ? std::llround(static_cast<double>(delta) / interval) : 0);
  w.key("messages").integer(static_cast<int64_t>(messages_));
  w.key("bytes").integer(static_cast<int64_t>(c_.bytes.load()));
  w.key("hosts").integer(static_cast<int64_t>(table_.hosts()));
  w.key("facts").integer(static_cast<int64_t>(table_.facts()));
  w.key("facts_total").integer(static_cast<int64_t>(facts_total_));
  w.key("facts_dropped").integer(static_cast<int64_t>(facts_dropped_));
  w.key("findings").integer(static_cast<int64_t>(findings_));
  w.key("resolved").integer(static_cast<int64_t>(resolved_));
  w.key("open_problems").integer(static_cast<int64_t>(table_.open_problems()));
  w.key("errors").integer(static_cast<int64_t>(errors_));
  // TCP bytes left unread cannot be counted as messages without framing
  // them, so `drops` (messages) adds only the UDP datagrams.
  w.key("drops").integer(static_cast<int64_t>(udp_drops + partial + unread));
  w.key("drop_detail").begin_object();
  w.key("udp_kernel").integer(static_cast<int64_t>(udp_drops));
  w.key("partial_frames").integer(static_cast<int64_t>(partial));
  w.key("shutdown_unread_datagrams").integer(static_cast<int64_t>(unread));
  w.key("shutdown_unread_bytes").integer(static_cast<int64_t>(c_.unread_bytes.load()));
  w.end_object();
  w.key("cut").integer(static_cast<int64_t>(c_.cut.load()));
  w.key("evictions").begin_object();
  w.key("hosts").integer(static_cast<int64_t>(table_.evicted_hosts()));
  w.key("facts").integer(static_cast<int64_t>(table_.evicted_facts()));
  w.end_object();
  w.key("connections").begin_object();
  w.key("open").integer(static_cast<int64_t>(c_.conn_open.load()));
  w.key("total").integer(static_cast<int64_t>(c_.conn_total.load()));
  w.key("rejected").integer(static_cast<int64_t>(c_.conn_rejected.load()));
  w.key("idle_timeouts").integer(static_cast<int64_t>(c_.idle_timeouts.load()));
  w.end_object();
  w.key("framing").begin_object();
  w.key("octet_counted").integer(static_cast<int64_t>(c_.octet_frames.load()));
  w.key("lf").integer(static_cast<int64_t>(c_.lf_frames.load()));
  w.end_object();
  w.end_object();
  out_ << '\n';
  out_.flush();
}

bool Processor::run(BatchQueue& q) {
  bool ok = true;
  auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(opts_.stats_interval > 0 ? opts_.stats_interval : 1.0));
  auto next_stats = start_ + period;
  for (;;) {
    auto b = q.pop(next_stats);
    if (b) {
      process(*b);
      q.recycle(std::move(b));
    }
    if (ok && !out_) {
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
  write_stats(true);
  return ok && static_cast<bool>(out_);
}

}  // namespace tpmdiag::live
