// The live records as JSON Lines (docs/live.md): one object per line,
// flushed as it is written, each with the time it was written.
//
//   cli::JsonLinesSink sink(std::cout);
//   live::Processor proc(engine, opts, counters, sink);
#pragma once

#include <ostream>

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

}  // namespace tpmdiag::cli
