// The evidence stage: facts put in timeline order and grouped per host and
// per boot window, before any cause is scored (kb/diagnose.h scores them).
//
//   Timeline tl = build_timeline(facts);     // may fill in hosts (see below)
//   for (const HostReport& h : tl.hosts)     // by host name
//     for (const Window& w : h.boots) ...    // w.facts in timeline order
//
// Timeline: facts are ordered by timestamp; a fact without one inherits the
// last timestamp seen before it in its input, and an input that starts without
// timestamps is placed after the inputs named before it. Lines that name no
// host belong to the run's only named host, when there is exactly one. A line
// of a rule marked "window": "boot" opens a new window unless the current one
// holds only kernel lines of the same boot after another boot marker;
// "window": "service" (a hostd start) opens one when the current window
// already saw that same service start (a restart). vmkwarning.log repeats
// vmkernel.log: the same rule, timestamp and fields count once.
#pragma once

#include <vector>

#include "kb/report.h"

namespace tpmdiag {

struct Timeline {
  std::vector<HostReport> hosts;  // verdicts not yet set

  // Whether a comes before b in timeline order (both facts of the vector
  // the timeline was built from).
  bool before(const Fact* a, const Fact* b) const {
    return rank_[static_cast<size_t>(a - first_)] < rank_[static_cast<size_t>(b - first_)];
  }

 private:
  friend Timeline build_timeline(std::vector<Fact>& facts);
  const Fact* first_ = nullptr;
  std::vector<size_t> rank_;  // per fact: its place in timeline order
};

// The facts must not move while the timeline is in use.
Timeline build_timeline(std::vector<Fact>& facts);

}  // namespace tpmdiag
