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

#include <string_view>
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

// The timeline as a report shows it (diagnose --timeline, HTML, Markdown):
// per host and boot, each TPM line with its marker, on the lane of its source.
//
//   for (const HostTimeline& h : timeline_view(report))
//     for (const BootTimeline& b : h.boots)
//       for (const TimelineLine& l : b.lines) ... l.marker, l.lane, l.top_evidence, l.proof
enum class Marker { symptom, unexplained, harmless, success, context };
std::string_view marker_name(Marker m);  // "symptom", "unexplained", "harmless", "success", "context"

struct TimelineLine {
  const Fact* fact;
  Marker marker;
  std::string_view lane;     // vmkernel (with vmkwarning), hostd, vpxa, vobd, vpxd, esxcli, ...
  bool top_evidence = false; // evidence of the host's top finding
  bool proof = false;        // a line that proves a finding's fix (Finding::resolved_by)
};
struct BootTimeline {
  const Window* boot;
  std::vector<TimelineLine> lines;  // in timeline order
};
struct HostTimeline {
  const HostReport* host;
  const Finding* top = nullptr;         // the host's first finding, if any
  std::vector<std::string_view> lanes;  // the lanes that have lines, in a fixed order
  std::vector<BootTimeline> boots;
};
std::vector<HostTimeline> timeline_view(const Report& r);

}  // namespace tpmdiag
