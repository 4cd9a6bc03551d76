// The live records as JSON Lines (docs/live.md): one object per line,
// flushed as it is written, each with the time it was written; or as text for
// people, one (coloured) line per event.
//
//   cli::JsonLinesSink sink(std::cout);
//   live::Processor proc(engine, opts, counters, sink);
#pragma once

#include <boost/program_options.hpp>
#include <condition_variable>
#include <memory>
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

// For people (listen/watch --format text): one line per event: time, host,
// verdict, cause, confidence, where. The time is the log's (the last line of
// the evidence, or the proof of a fix), else when it was written. Only the
// final stats record is shown, as one line.
class TextLinesSink : public live::Sink {
 public:
  TextLinesSink(std::ostream& out, bool color) : out_(out), color_(color) {}
  void finding(const Finding& f, int rank) override;
  void update(const std::string& host, const std::vector<const Finding*>& ranking) override;
  void resolved(const Finding& f) override;
  void error(const std::string& message) override;
  void stats(const live::Stats& s) override;
  bool ok() const override { return static_cast<bool>(out_); }

 private:
  void line(const std::string& time, const std::string& host, const char* verdict, const char* code,
            const std::string& rest);
  std::ostream& out_;
  bool color_;
};

// --host GLOB of listen and watch: passes on the events of matching hosts
// (errors and stats always).
class HostFilterSink : public live::Sink {
 public:
  HostFilterSink(live::Sink& inner, std::string glob) : inner_(inner), glob_(std::move(glob)) {}
  void finding(const Finding& f, int rank) override {
    if (match(f.host)) inner_.finding(f, rank);
  }
  void update(const std::string& host, const std::vector<const Finding*>& ranking) override {
    if (match(host)) inner_.update(host, ranking);
  }
  void resolved(const Finding& f) override {
    if (match(f.host)) inner_.resolved(f);
  }
  void error(const std::string& message) override { inner_.error(message); }
  void stats(const live::Stats& s) override { inner_.stats(s); }
  bool ok() const override { return inner_.ok(); }

 private:
  bool match(const std::string& host) const;
  live::Sink& inner_;
  std::string glob_;
};

// The live commands' output options: --format text|jsonl (text on a
// terminal, else JSON Lines), --color, --host GLOB, --host-name NAME.
struct LiveOutput {
  std::string format, color = "auto", host_glob;
  // Picks the output (parse_args has checked the values); then sink() is
  // what to write to.
  void open();
  live::Sink& sink();

 private:
  std::unique_ptr<live::Sink> base_, filter_;
};
void add_live_output_options(boost::program_options::options_description& d, LiveOutput& o);

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
