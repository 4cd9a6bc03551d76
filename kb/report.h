// What a diagnosis says (kb/diagnose.h makes it): the verdict, hosts with
// their boot windows, findings with evidence, and the inputs read. Findings,
// windows and context point into Report::facts, so a Report is move-only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kb/cause.h"
#include "kb/verdict.h"
#include "rules/fact.h"

namespace tpmdiag {

struct Finding {
  const Cause* cause = nullptr;
  double confidence = 0;
  std::string host;
  int boot = 0;                          // 1-based window index within the host
                                         // (one finding per host, boot and cause)
  FindingStatus status = FindingStatus::problem;
  int resolved_in = 0;                   // window that showed it fixed
  std::vector<const Fact*> resolved_by;  // the lines there that prove the fix
  bool ambiguous = false;                // other causes fit the same evidence
  std::vector<std::string> alternatives; // their ids, best first
  std::vector<const Fact*> evidence;
  std::vector<std::string> fix;          // steps with placeholders filled
};

// Below this confidence, or when other causes fit the same lines, a finding is
// uncertain: what tells the candidates apart comes before any fix.
inline constexpr double kCertainFrom = 0.6;
inline bool uncertain(const Finding& f) { return f.ambiguous || f.confidence < kCertainFrom; }

// Lines the facts stand for: each fact, plus the identical lines folded into it.
inline uint64_t line_count(const std::vector<const Fact*>& facts) {
  uint64_t n = 0;
  for (const Fact* f : facts) n += 1 + f->repeats;
  return n;
}

struct Window {
  int index = 0;
  std::optional<int64_t> first_ts, last_ts;
  std::vector<const Fact*> facts;
  // problem (a finding), healthy (none, and a line proves the TPM works) or
  // no_tpm_evidence (none, and nothing proves it works)
  Verdict verdict = Verdict::no_tpm_evidence;
};

struct HostReport {
  std::string host;     // "" when no input named it
  Verdict verdict = Verdict::no_tpm_evidence;
  std::vector<Window> boots;
  // What the host's bundle files and lines say about it: ESXi version and
  // build, server model, BIOS, TPM vendor and firmware (kb/bundle-metadata.json
  // field -> value; pipeline/run.h fills it).
  std::map<std::string, std::string> bundle;
};

struct InputReport {
  std::string name;
  uint64_t bytes = 0, lines = 0, candidates = 0, cut_lines = 0;
  uint64_t repeated_facts = 0, dropped_facts = 0;  // see pipeline/scanner.h
  std::string error;  // empty when the input was read to the end; else why not
                      // (what came before the error was read and counts)
};

// Move-only: findings and context point into facts.
struct Report {
  Report() = default;
  Report(Report&&) = default;
  Report& operator=(Report&&) = default;
  Report(const Report&) = delete;
  Report& operator=(const Report&) = delete;

  Verdict verdict = Verdict::no_tpm_evidence;
  std::vector<HostReport> hosts;
  std::vector<Finding> findings;       // best first
  std::vector<const Fact*> context;    // TPM lines that are not evidence of a finding
  std::vector<const Fact*> unexplained;  // TPM lines that read like failures, no rule explains
                                         // (a "fallback" rule's facts), in timeline order
  std::vector<InputReport> inputs;
  std::vector<std::string> skipped;    // files and members not read: no log (bundle layout)
  std::vector<Fact> facts;             // owns what the pointers above point to
  bool any_input_read = false;

  // Some input was not read to its end (or not at all): the report holds what
  // was read before the error, and says so.
  bool incomplete() const {
    for (const auto& in : inputs)
      if (!in.error.empty()) return true;
    return false;
  }
};

}  // namespace tpmdiag
