// The live records as JSON Lines (docs/live.md): one object per line,
// flushed as it is written, each with the time it was written.
//
//   cli::JsonLinesSink sink(std::cout);
//   live::Processor proc(engine, opts, counters, sink);
#pragma once

#include <condition_variable>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>

#include "live/processor.h"
#include "live/sink.h"

namespace tpmdiag::cli {

class JsonLinesSink : public live::Sink {
 public:
  explicit JsonLinesSink(std::ostream& out) : out_(out) {}
  void finding(const Finding& f, int rank) override;
  void update(const std::string& host, const std::vector<const Finding*>& ranking) override;
  void resolved(const Finding& f) override;
  void error(const std::string& message) override;
  void stats(const live::Stats& s) override;
  bool ok() const override { return static_cast<bool>(out_); }

 private:
  std::ostream& out_;
};

// After a stop, returns only if there was none; else exits with `code` at
// once, the final record written: freeing the per-host facts one by one
// (hundreds of MB under a many-host load) took a good part of the second the
// exit is due in.
int exit_after_stop(int code, const live::IngestCounters& c);

// After a stop, the final stats record is due within the drain time + 1 s. A
// stdout that nobody reads would block its writing for ever: then one line on
// stderr and exit 2 (as for a closed stdout) rather than hang.
//
//   StopWatchdog w("listen", counters);   // until the end of the scope
class StopWatchdog {
 public:
  StopWatchdog(std::string command, const live::IngestCounters& c);
  ~StopWatchdog();

 private:
  std::string command_;
  const live::IngestCounters& c_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread t_;
};

}  // namespace tpmdiag::cli
