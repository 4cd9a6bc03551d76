// Live processing (issue 7): receivers frame messages into Batches; one
// processing thread scans each batch with the pipeline's Scanner (prefilter,
// parse, match: the same path as `diagnose`), files the facts per host
// (HostTable), and hands records to a Sink (live/sink.h) as they happen.
//
//   receiver thread(s)                      processing thread
//   ------------------                      -----------------
//   BatchBuilder b(queue)                   Processor p(engine, opts, counters, sink)
//   b.source(id, "tcp:1.2.3.4:5", host)     p.run(queue)   // until queue closed
//   b.message(id, text, cut)                  -> finding / resolved / stats / error
//   b.flush()   // hand the batch over
//   queue.close()  // at shutdown
//
// A batch is one buffer of messages separated by LF (embedded LFs and NULs
// replaced by spaces, so one message is one line for the Scanner) plus runs
// ("segments") naming which source each message came from. Batches are
// recycled, and the queue is bounded in bytes: when processing falls behind,
// flush() blocks, so TCP senders are slowed down (never dropped) and the
// kernel drops UDP datagrams (counted from SO_RXQ_OVFL).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <queue>
#include <map>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "live/host_table.h"
#include "live/sink.h"
#include "pipeline/engine.h"

namespace tpmdiag::live {

// Where messages come from: a TCP connection, a UDP peer, a file, stdin.
struct SourceDecl {
  uint64_t id = 0;
  std::string name;           // evidence `input`: "tcp:10.0.0.5:51234", "udp:10.0.0.5", a path, "-"
  std::string fallback_host;  // host for messages that do not name one (peer address, --host)
};

struct Segment {
  uint64_t source = 0;
  uint64_t first_message = 0;  // index in the batch (0-based)
  uint64_t count = 0;
  uint64_t first_line = 0;     // line number of the first message within its source (1-based)
};

struct Batch {
  std::string buf;                 // messages, each followed by '\n'
  std::vector<Segment> segments;
  std::vector<SourceDecl> sources;  // sources first seen in this batch
  std::vector<uint64_t> closed;     // sources that ended (their state can go)
  std::vector<std::string> errors;  // error records to write
  uint64_t messages = 0;
  void clear();
};

// Counters the receivers update; the processor reads them for stats records.
struct IngestCounters {
  std::atomic<uint64_t> bytes{0};          // bytes read from sockets, files, stdin
  std::atomic<uint64_t> messages{0};       // messages framed (processed ones: see stats)
  std::atomic<uint64_t> cut{0};            // messages cut at --max-frame
  std::atomic<uint64_t> partial{0};        // incomplete frames dropped (peer closed, timeout, shutdown)
  std::atomic<uint64_t> udp_drops{0};      // datagrams the kernel dropped on our sockets (SO_RXQ_OVFL, SO_MEMINFO)
  std::atomic<uint64_t> unread_datagrams{0};  // UDP datagrams read and discarded after the drain at stop
  std::atomic<uint64_t> unread_frames{0};     // TCP messages read and discarded after the drain at stop
  std::atomic<uint64_t> unread_bytes{0};      // bytes the kernel still held when even that ended
  std::atomic<uint64_t> unprocessed{0};    // messages received but not processed when the drain ended
  std::atomic<uint64_t> refused{0};        // messages sent on connections refused (read and discarded)
  std::atomic<uint64_t> conn_open{0};
  std::atomic<uint64_t> conn_total{0};
  std::atomic<uint64_t> conn_rejected{0};  // over the connection cap, or not yet accepted at stop
  std::atomic<uint64_t> conn_max{0};       // the connection cap in force (below the open-file limit)
  std::atomic<uint64_t> idle_timeouts{0};
  std::atomic<uint64_t> octet_frames{0};   // TCP messages framed by octet count
  std::atomic<uint64_t> lf_frames{0};      // TCP/file messages framed by LF

  // Shutdown. 0 while running; then the CLOCK_MONOTONIC time (ns) after which
  // nothing more is processed: messages still queued are counted in
  // `unprocessed`. Set from a signal handler, so async-signal-safe; the first
  // call wins.
  std::atomic<int64_t> deadline_ns{0};
  void request_stop(double drain_seconds);
  bool stopping() const { return deadline_ns.load() != 0; }
  bool past_deadline() const;
  std::chrono::steady_clock::time_point deadline() const;  // max() while running
};

class BatchQueue {
 public:
  explicit BatchQueue(size_t max_bytes) : max_bytes_(max_bytes) {}
  // Blocks while the queue holds more than max_bytes (backpressure), but not
  // past the drain deadline: then returns false and the batch is not queued.
  bool push(std::unique_ptr<Batch>& b, const IngestCounters& c);
  // Waits until a batch arrives, the queue is closed and empty (returns null),
  // or the deadline passes (returns null, closed() false).
  std::unique_ptr<Batch> pop(std::chrono::steady_clock::time_point deadline);
  void close();
  bool closed_and_empty();
  std::unique_ptr<Batch> recycled();  // an empty batch (reused buffers)
  void recycle(std::unique_ptr<Batch> b);

 private:
  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<std::unique_ptr<Batch>> q_;
  std::vector<std::unique_ptr<Batch>> free_;
  size_t bytes_ = 0, max_bytes_;
  bool closed_ = false;
};

// Builds batches on a receiver thread and hands them to the queue.
class BatchBuilder {
 public:
  BatchBuilder(BatchQueue& q, IngestCounters& c, size_t flush_bytes = 1 << 20);
  void source(uint64_t id, std::string name, std::string fallback_host);
  void close_source(uint64_t id);
  void message(uint64_t id, std::string_view text);
  void error(std::string message);
  // Hands the current batch over, if it holds anything; past the drain
  // deadline its messages are counted as unprocessed instead.
  void flush();

 private:
  BatchQueue& q_;
  IngestCounters& c_;
  size_t flush_bytes_;
  std::unique_ptr<Batch> b_;
  std::unordered_map<uint64_t, uint64_t> next_line_;  // per open source
};

struct ProcessorOptions {
  HostLimits limits;
  size_t max_frame = 64 * 1024;
  double stats_interval = 10;  // seconds; 0 = only the final stats record
  // Seconds a host must be quiet before its findings are diagnosed and
  // reported, so lines arriving one by one give batch's ranking (0: at once);
  // a host that never falls quiet (a driver logging an error every second)
  // is reported at the latest twice as long after its first new fact.
  double settle = 0;
  std::string mode;            // "listen" or "watch" (in stats records)
  std::function<void()> on_output_error;  // the sink failed (closed pipe): ask the receivers to stop
};

class Processor {
 public:
  Processor(const Engine& engine, ProcessorOptions opts, IngestCounters& counters, Sink& sink);
  ~Processor();

  // Processes batches until the queue is closed and drained, writing records
  // as they happen and stats every stats_interval; ends with a final stats
  // record. Returns false if the sink failed (closed pipe).
  bool run(BatchQueue& q);

  // Processes one batch (tests call this directly); hosts quiet for
  // `settle` seconds are reported.
  void process(Batch& b);
  // Reports the hosts that have settled, or all of them, until `until` (for
  // all: the hosts left then are counted in stats `unsettled_hosts`).
  void report_settled(bool all, std::chrono::steady_clock::time_point until = std::chrono::steady_clock::time_point::max());
  void write_stats(bool final);

  uint64_t messages() const { return messages_; }
  const HostTable& hosts() const { return table_; }

 private:
  void write_error(const std::string& message);
  void report_host(const std::string& host);  // diagnoses it and writes what changed

  ProcessorOptions opts_;
  IngestCounters& c_;
  Sink& sink_;
  struct Src {
    std::string name, fallback_host;
    uint32_t seq = 0;
  };
  std::unordered_map<uint64_t, Src> sources_;
  uint32_t next_seq_ = 0;
  struct ScannerBox;
  std::unique_ptr<ScannerBox> scanner_;
  HostTable table_;
  using Time = std::chrono::steady_clock::time_point;
  struct Settling {
    Time due, first;  // when it is reported; its first unreported new fact
  };
  std::map<std::string, Settling> settling_;
  // The same (due, host), earliest first, stale entries included (a host due
  // later since, or reported): finding the hosts due is then no walk over
  // every settling host per batch (10,000 hosts: a tenth of the time in a
  // profile).
  std::priority_queue<std::pair<Time, std::string>, std::vector<std::pair<Time, std::string>>, std::greater<>>
      settle_order_;
  void settle(std::string host, std::chrono::steady_clock::time_point now);
  std::chrono::steady_clock::time_point next_settle();
  std::vector<Fact> facts_;
  uint64_t messages_ = 0, facts_total_ = 0, facts_dropped_ = 0, findings_ = 0, resolved_ = 0, errors_ = 0;
  uint64_t unsettled_ = 0;
  uint64_t evicted_unsettled_ = 0;  // hosts evicted with new facts: diagnosed before they went
  uint64_t last_messages_ = 0;
  std::chrono::steady_clock::time_point start_, last_stats_;
};

}  // namespace tpmdiag::live
