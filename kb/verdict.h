// Verdicts and finding statuses as values; their names (the strings in the
// JSON report, the store and the text banner's words) are given here only.
//
//   Verdict v = Verdict::no_tpm_evidence;
//   v = worse(v, host_verdict);            // problem > resolved > healthy > no_tpm_evidence
//   w.key("verdict").string(name(v));      // "problem"
#pragma once

#include <string_view>

namespace tpmdiag {

// In rising order of concern: a run's verdict is its hosts' worst.
enum class Verdict { no_tpm_evidence, healthy, resolved, problem };

// Whether a finding's cause is still present or a later boot shows it fixed.
enum class FindingStatus { problem, resolved };

inline std::string_view name(Verdict v) {
  switch (v) {
    case Verdict::problem: return "problem";
    case Verdict::resolved: return "resolved";
    case Verdict::healthy: return "healthy";
    case Verdict::no_tpm_evidence: break;
  }
  return "no_tpm_evidence";
}

inline std::string_view name(FindingStatus s) { return s == FindingStatus::resolved ? "resolved" : "problem"; }

inline Verdict worse(Verdict a, Verdict b) { return a < b ? b : a; }

}  // namespace tpmdiag
