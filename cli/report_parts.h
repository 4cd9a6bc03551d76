// What the text, HTML and Markdown reports share: the pieces of a Report
// each shows in its own markup, computed once here.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kb/report.h"

namespace tpmdiag {
class Redactor;
}

namespace tpmdiag::cli {

// What a case report says about itself (HTML, Markdown footer).
struct ReportMeta {
  std::string knowledge;     // Engine::knowledge()
  std::string generated_at;  // UTC, ISO 8601
  bool redacted = false;
  std::map<std::string, size_t> redactions;  // kind -> values replaced
  std::string filtered;  // filter_summary() (cli/filters.h) of a filtered run, or ""
};

// The meta of a report made now with this knowledge (Engine::knowledge()),
// redacted by `red` when it is set.
ReportMeta report_meta(const std::string& knowledge, const Redactor* red);

// Now, or $SOURCE_DATE_EPOCH when set (reproducible reports, golden tests).
std::string report_time();

// "0x9a2 = TPM_RC_BAD_AUTH, session 1: authorization failure ..." for a line
// with an `rc` capture; "" otherwise. A code quoted by name is shown by number.
std::string rc_text(const Fact& f);

// Copies of one line (same rule and fields) in a row of evidence, shown once.
struct EvidenceRun {
  const Fact* fact;
  uint64_t more = 0;            // lines like it after it
  const Fact* last = nullptr;   // where the last of them is (fact itself when more == 0)
  uint64_t last_line = 0;
};
std::vector<EvidenceRun> fold_evidence(const std::vector<const Fact*>& evidence);

// A host's findings, one group per cause (best first); the same cause in
// other boots follows its first.
std::vector<std::vector<const Finding*>> findings_by_cause(const Report& r, const std::string& host);

// " · also in boot 3 (resolved in 4)" for the other findings of a group.
std::string other_boots(const std::vector<const Finding*>& group);
// "The same lines also fit a, b; the check below tells them apart." or "".
std::string alternatives_note(const Finding& f);
// "… and 3 more lines like it, the last at " (the place follows).
std::string more_lines(uint64_t more);

// Harmless lines (rule role benign) by rule, in order of first appearance;
// `normal` counts the other context lines.
struct HarmlessGroup {
  const Rule* rule;
  std::vector<const Fact*> lines;
};
std::vector<HarmlessGroup> harmless_groups(const Report& r, size_t* normal = nullptr);

// A host's bundle facts as (title, value) in kb/bundle-metadata.json order.
std::vector<std::pair<std::string, std::string>> host_fact_rows(const HostReport& h);

// "Host esx01" or "Host (not named in the input)".
std::string host_title(const std::string& host);

// "PROBLEM", "RESOLVED", "HEALTHY", "NO TPM EVIDENCE".
std::string verdict_words(Verdict v);

// One sentence under the verdict: the likeliest cause, or what the verdict
// rests on.
std::string verdict_summary(const Report& r);

// Sentences every report says the same way.
inline constexpr const char* kNoHostFacts =
    "The input names no ESXi version, server model, BIOS or TPM firmware for this host.";
inline constexpr const char* kUnexplainedIntro =
    "These lines talk about the TPM and read like failures, but tpmdiag has no rule for them. Read them yourself; "
    "search their exact text in the VMware/Broadcom knowledge base and the server vendor's documentation.";
inline constexpr const char* kRedactedNote =
    "Redacted: host names, addresses, serial numbers, UUIDs, user and vCenter names are replaced by tokens "
    "(host-1, ip-1, …).";
// "Made by tpmdiag 0.1.0 with knowledge kb … on …. Redacted: 3 host, 2 ip values replaced. ..."
std::string footer_text(const ReportMeta& meta);

// "2021-10-29T19:41:04.933Z" or "no timestamp".
std::string when(const Fact& f);

}  // namespace tpmdiag::cli
