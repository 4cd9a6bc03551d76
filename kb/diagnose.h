// Diagnosis: facts grouped per host and per boot window, scored against the
// causes of kb/ (DESIGN.md §2 "evidence" and "diagnose").
//
//   Report r = diagnose(std::move(facts), causes, {});
//   r.verdict;        // Verdict::problem, resolved, healthy or no_tpm_evidence (kb/verdict.h)
//   r.findings;       // best first; each with evidence facts, fix, references
//
// How facts are ordered and cut into boot windows: kb/timeline.h. The
// Report's types: kb/report.h.
#pragma once

#include <vector>

#include "kb/cause.h"
#include "kb/report.h"

namespace tpmdiag {

struct DiagnoseOptions {
  double min_confidence = 0.2;  // findings below this are not reported
};

Report diagnose(std::vector<Fact> facts, const std::vector<Cause>& causes,
                const DiagnoseOptions& opts);

// Exit code for a report (DESIGN.md §5): 2 if any input could not be read
// to its end (or at all), else 1 if a problem is open, otherwise 0.
int exit_code(const Report& r);

}  // namespace tpmdiag
