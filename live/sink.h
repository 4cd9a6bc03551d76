// Where the live processor's records go. live/ decides what happened (a
// finding, a resolution, an error, the counters); how it is written is the
// caller's: cli/ writes JSON Lines (cli/live_sink.h), tests collect records.
//
//   class Collect : public live::Sink { ... };
//   Collect sink;
//   live::Processor p(engine, opts, counters, sink);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kb/diagnose.h"

namespace tpmdiag::live {

// The counters of a stats record; docs/live.md names each.
struct Stats {
  std::string mode;  // "listen" or "watch"
  bool final = false;
  double uptime_s = 0, interval_s = 0;
  int64_t lines_per_s = 0;
  uint64_t messages = 0, bytes = 0, hosts = 0, facts = 0, facts_total = 0, facts_dropped = 0;
  uint64_t findings = 0, resolved = 0, open_problems = 0, errors = 0;
  uint64_t udp_kernel = 0, partial_frames = 0, shutdown_unread_datagrams = 0, shutdown_unread_frames = 0;
  uint64_t shutdown_unread_bytes = 0, shutdown_unprocessed = 0, refused_messages = 0, unsettled_hosts = 0;
  uint64_t cut = 0, evicted_hosts = 0, evicted_facts = 0;
  uint64_t evicted_settled_early = 0;  // of evicted_hosts: with new facts, diagnosed before they went
  uint64_t conn_open = 0, conn_total = 0, conn_rejected = 0, conn_max = 0, idle_timeouts = 0;
  // Messages received and not processed, each counted once: the `drops` field.
  uint64_t drops() const {
    return udp_kernel + partial_frames + shutdown_unread_datagrams + shutdown_unread_frames + shutdown_unprocessed +
           refused_messages;
  }
  uint64_t octet_frames = 0, lf_frames = 0;
};

class Sink {
 public:
  virtual ~Sink() = default;
  // A cause newly found for a host (or new evidence for it); rank is its place
  // among the host's open causes (1 = the likeliest), 0 when already resolved.
  virtual void finding(const Finding& f, int rank) = 0;
  // The order of a host's open causes changed since it was last reported.
  virtual void update(const std::string& host, const std::vector<const Finding*>& ranking) = 0;
  // A reported cause that a later boot shows fixed (f.resolved_in).
  virtual void resolved(const Finding& f) = 0;
  virtual void error(const std::string& message) = 0;
  virtual void stats(const Stats& s) = 0;
  // False once writing failed (a closed pipe): the receivers are then stopped.
  virtual bool ok() const = 0;
};

}  // namespace tpmdiag::live
