#include "cli/report_parts.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "common/text.h"
#include "kb/bundle_info.h"
#include "parsers/timestamp.h"
#include "pipeline/redact.h"

namespace tpmdiag::cli {

ReportMeta report_meta(const std::string& knowledge, const Redactor* red) {
  ReportMeta m{knowledge, report_time(), red != nullptr, {}};
  if (red) m.redactions = red->counts();
  return m;
}

std::string report_time() {
  if (const char* e = std::getenv("SOURCE_DATE_EPOCH"); e && *e) {
    char* end = nullptr;
    long long s = std::strtoll(e, &end, 10);
    if (end && !*end && s >= 0) return format_iso8601(s * 1000);
  }
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return format_iso8601(std::chrono::duration_cast<std::chrono::seconds>(now).count() * 1000);
}

std::string rc_text(const Fact& f) {
  if (f.field("rc").empty()) return "";
  static const DecodedRc kNone;
  const DecodedRc& d = f.rc ? *f.rc : kNone;  // a capture that is no code: shown as written
  std::string_view written = f.field("rc");
  if (f.rc && written.substr(0, 3) != "0x" && written.substr(0, 1) != "(" && iequals(written, d.name)) written = d.hex;
  std::string rc = std::string(written) + " = " + (d.name.empty() ? "(no name)" : d.name);
  if (d.kind == "handle" || d.kind == "session" || d.kind == "parameter") rc += ", " + d.kind + " " + std::to_string(d.index);
  else if (!d.kind.empty()) rc += ", " + d.kind;
  return rc + ": " + d.description;
}

std::vector<EvidenceRun> fold_evidence(const std::vector<const Fact*>& ev) {
  std::vector<EvidenceRun> out;
  auto end_of = [](const Fact* x) { return std::make_pair(x->input_seq, x->repeats ? x->last_line : x->line); };
  for (size_t i = 0; i < ev.size();) {
    const Fact& e = *ev[i];
    EvidenceRun run{&e, e.repeats, &e, 0};
    size_t j = i + 1;
    for (; j < ev.size() && !e.rule->fallback && ev[j]->rule == e.rule && ev[j]->fields == e.fields; ++j) {
      run.more += 1 + ev[j]->repeats;
      if (end_of(ev[j]) > end_of(run.last)) run.last = ev[j];
    }
    run.last_line = end_of(run.last).second;
    out.push_back(run);
    i = j;
  }
  return out;
}

std::vector<std::vector<const Finding*>> findings_by_cause(const Report& r, const std::string& host) {
  std::vector<std::vector<const Finding*>> groups;
  for (const auto& f : r.findings) {
    if (f.host != host) continue;
    auto g = std::find_if(groups.begin(), groups.end(), [&](const auto& list) { return list.front()->cause == f.cause; });
    if (g == groups.end()) groups.push_back({&f});
    else g->push_back(&f);
  }
  return groups;
}

std::string other_boots(const std::vector<const Finding*>& group) {
  std::string s;
  for (size_t i = 1; i < group.size(); ++i) {
    s += " · also in boot " + std::to_string(group[i]->boot);
    if (group[i]->status == FindingStatus::resolved) s += " (resolved in " + std::to_string(group[i]->resolved_in) + ")";
  }
  return s;
}

std::string alternatives_note(const Finding& f) {
  if (!f.ambiguous) return "";
  std::string alts;
  for (const auto& a : f.alternatives) alts += (alts.empty() ? "" : ", ") + a;
  return "The same lines also fit " + alts + "; the check below tells them apart.";
}

std::string more_lines(uint64_t more) {
  return "… and " + std::to_string(more) + (more == 1 ? " more line" : " more lines") + " like it, the last at ";
}

std::vector<HarmlessGroup> harmless_groups(const Report& r, size_t* normal) {
  std::vector<HarmlessGroup> out;
  size_t n = 0;
  for (const Fact* f : r.context) {
    if (f->rule->role != RuleRole::benign) {
      ++n;
      continue;
    }
    auto g = std::find_if(out.begin(), out.end(), [&](const HarmlessGroup& h) { return h.rule == f->rule; });
    if (g == out.end()) out.push_back({f->rule, {f}});
    else g->lines.push_back(f);
  }
  if (normal) *normal = n;
  return out;
}

std::vector<std::pair<std::string, std::string>> host_fact_rows(const HostReport& h) {
  std::vector<std::pair<std::string, std::string>> rows;
  if (h.bundle.empty()) return rows;
  auto spec = BundleSpec::builtin();
  if (!spec) return rows;
  for (const auto& f : (*spec)->fields())
    if (auto it = h.bundle.find(f.name); it != h.bundle.end())
      rows.emplace_back(f.title.empty() ? f.name : f.title, it->second);
  return rows;
}

std::string host_title(const std::string& host) {
  return host.empty() ? "Host (not named in the input)" : "Host " + host;
}

std::string verdict_words(Verdict v) {
  switch (v) {
    case Verdict::problem: return "PROBLEM";
    case Verdict::resolved: return "RESOLVED";
    case Verdict::healthy: return "HEALTHY";
    case Verdict::no_tpm_evidence: break;
  }
  return "NO TPM EVIDENCE";
}

std::string verdict_summary(const Report& r) {
  char conf[16];
  if (!r.findings.empty()) {
    const Finding& top = r.findings.front();
    std::snprintf(conf, sizeof conf, "%.2f", top.confidence);
    if (top.status == FindingStatus::resolved)
      return "The cause " + top.cause->id + " (" + top.cause->title + ") was found in boot " +
             std::to_string(top.boot) + " and its fix proven in boot " + std::to_string(top.resolved_in) + ".";
    std::string s = "Likeliest cause: " + top.cause->id + " — " + top.cause->title + " (confidence " + conf + ").";
    if (uncertain(top)) s += " Uncertain: check what tells the candidates apart before any fix.";
    return s;
  }
  if (r.verdict == Verdict::healthy) return "No TPM fault, and a line proves the TPM works.";
  if (r.hosts.empty()) return "No TPM-related lines found.";
  return "No TPM fault found, but no line proves the TPM works.";
}

std::string footer_text(const ReportMeta& meta) {
  std::string s = std::string("Made by tpmdiag ") + TPMDIAG_VERSION + " with knowledge " + meta.knowledge + " on " +
                  meta.generated_at + ".";
  if (meta.redacted) {
    s += " Redacted:";
    std::string sep = " ";
    for (const auto& [kind, n] : meta.redactions) {
      s += sep + std::to_string(n) + " " + kind;
      sep = ", ";
    }
    s += meta.redactions.empty() ? " nothing found to replace." : " values replaced.";
  }
  if (!meta.filtered.empty()) s += " " + meta.filtered;
  return s + " Only what the logs and tpmdiag's knowledge base say is shown; each cause cites its public sources.";
}

std::string when(const Fact& f) { return f.ts_ms ? format_iso8601(*f.ts_ms) : "no timestamp"; }

}  // namespace tpmdiag::cli
