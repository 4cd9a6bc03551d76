// Per-host live state (issue 7): the facts seen for each host, kept in bounded
// memory, and the findings already reported for it.
//
// After new facts arrive for a host, update() re-runs kb's diagnose() on that
// host's facts and compares the result with what was already reported:
//   - a finding (cause, status problem) whose evidence lines were never part
//     of a reported finding of the same cause is new: emit a `finding` record;
//   - a reported, still open cause that diagnose() now calls resolved (a later
//     window holds a line the cause names as proof of the fix): emit a
//     `resolved` record.
//   - when the order of the host's open causes differs from the order last
//     reported (a later line made another cause the likeliest): an `update`
//     record with the new ranking. Every finding carries its rank (1 = top).
// Identity by evidence lines rather than by boot index keeps a finding from
// being reported twice when evicting old facts renumbers the boot windows.
// A host evicted (over max_hosts) with causes still open is remembered,
// compactly and bounded: when it comes back, its next finding of such a cause
// is taken as the one already reported (a flood of hosts cycling through a
// small table would otherwise report the same findings over and over), and
// the cause's resolution is still reported.
//
//   HostTable t(engine.causes(), {});
//   t.add(std::move(fact));                 // any host; evicts when over the caps
//   for (auto& host : t.take_dirty()) for (auto& rec : t.update(host)) write(rec);
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "kb/diagnose.h"

namespace tpmdiag::live {

struct HostLimits {
  size_t max_hosts = 4096;          // least recently active host evicted beyond this
  size_t max_facts_per_host = 256;  // oldest fact of the host evicted beyond this
  DiagnoseOptions diagnose;
  // Evicted hosts with open causes remembered: kRememberFactor x max_hosts, at most kRememberMax.
  static constexpr size_t kRememberFactor = 4, kRememberMax = size_t{1} << 20;
};

// What update() found; the Report owns the Finding's facts.
struct Change {
  enum class Kind { finding, resolved, update } kind;
  Finding finding;  // for resolved: cause, host, boot (of the problem), resolved_in
  int rank = 0;     // finding: its place among the host's open causes (1 = top)
  std::vector<const Finding*> ranking;  // update: the host's open causes, best first
};

struct HostUpdate {
  Report report;                // keeps the Facts the changes point to alive
  std::vector<Change> changes;  // findings first (best first), then resolutions
};

class HostTable {
 public:
  HostTable(const std::vector<Cause>& causes, HostLimits limits);

  // Adds one fact to its host (fact.host). Marks the host dirty.
  void add(Fact fact);

  // Called with the host about to be evicted (over max_hosts), while it is
  // still in the table, and whether it had facts since the last
  // take_dirty(): its owner may update() it first, so that facts not yet
  // diagnosed are not lost with it.
  std::function<void(const std::string& host, bool dirty)> before_evict;

  // Hosts with facts added since the last call, in the order they became dirty.
  std::vector<std::string> take_dirty();

  // Diagnoses one host and returns what changed since the last update.
  HostUpdate update(const std::string& host);

  size_t hosts() const { return hosts_.size(); }
  uint64_t facts() const { return facts_; }
  uint64_t evicted_hosts() const { return evicted_hosts_; }
  uint64_t evicted_facts() const { return evicted_facts_; }
  // Causes reported as findings and not yet resolved, over all hosts (the
  // evicted ones remembered too).
  uint64_t open_problems() const;

 private:
  struct CauseState {
    std::set<uint64_t> reported;  // arrival numbers of evidence lines already reported
    bool open = false;            // a finding was reported and not resolved since
    bool restored = false;        // open before the host was evicted: its next finding was reported then
  };
  struct Evicted {
    std::list<uint64_t>::iterator order;
    std::vector<uint16_t> open;  // indices in causes_ of the causes open at eviction
  };
  void remember(const std::string& host, const std::map<std::string, CauseState, std::less<>>& causes);
  void restore(const std::string& host, std::map<std::string, CauseState, std::less<>>& causes);
  struct Host {
    std::deque<Fact> facts;
    std::deque<uint64_t> seq;  // arrival number of each fact
    std::map<std::string, CauseState, std::less<>> causes;
    std::vector<std::string> ranking;  // open causes as last reported, best first
    std::list<std::string>::iterator lru;
  };

  const std::vector<Cause>& causes_;
  HostLimits limits_;
  std::unordered_map<std::string, Host> hosts_;
  std::list<std::string> lru_;  // front = most recently active
  std::vector<std::string> dirty_;
  std::set<std::string> dirty_set_;
  uint64_t next_seq_ = 1;
  uint64_t facts_ = 0;
  uint64_t evicted_hosts_ = 0, evicted_facts_ = 0;
  std::unordered_map<uint64_t, Evicted> evicted_;  // by hash of the host name
  std::list<uint64_t> evicted_order_;               // front = evicted most recently
  uint64_t evicted_open_ = 0;                       // causes open over evicted_
};

}  // namespace tpmdiag::live
