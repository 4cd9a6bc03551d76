// The case report as Markdown (docs/report.md), to paste into a ticket: the
// content of the HTML report, the timeline as a table. Log text only ever
// stands in code spans and fenced blocks whose fences are longer than any
// backtick run inside, so no line can end them or become markup; other
// text is escaped (md_text).
#include <algorithm>
#include <cstdio>
#include <map>

#include "cli/render.h"
#include "cli/term.h"
#include "kb/timeline.h"
#include "parsers/timestamp.h"

namespace tpmdiag::cli {

namespace {

bool alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// Prose (causes' text, and values from logs filled into it) on one line,
// with every character that could start markup escaped.
std::string md_text(std::string_view raw) {
  std::string s = visible(raw), out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\n' || c == '\t') c = ' ';
    bool special = std::string_view("\\`*<>[]|~#&!").find(c) != std::string_view::npos;
    if (c == '_') special = i == 0 || i + 1 == s.size() || !alnum(s[i - 1]) || !alnum(s[i + 1]);
    if ((c == '-' || c == '+' || c == '=') && out.empty()) special = true;  // not a list item or heading line
    if (special) out += '\\';
    out += c;
  }
  // "1. text" at the start would open an ordered list
  size_t d = 0;
  while (d < out.size() && out[d] >= '0' && out[d] <= '9') ++d;
  if (d > 0 && d < out.size() && (out[d] == '.' || out[d] == ')')) out.insert(d, "\\");
  return out;
}

size_t longest_backtick_run(std::string_view s) {
  size_t best = 0, run = 0;
  for (char c : s) {
    run = c == '`' ? run + 1 : 0;
    best = std::max(best, run);
  }
  return best;
}

// A code span on one line; in a table cell, '|' is escaped as GFM asks.
std::string md_code(std::string_view raw, bool in_table = false) {
  std::string s = visible(raw);
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\t', ' ');
  if (in_table) {
    std::string t;
    for (char c : s) {
      if (c == '|') t += '\\';
      t += c;
    }
    s = std::move(t);
  }
  std::string fence(longest_backtick_run(s) + 1, '`');
  bool pad = s.empty() || s.front() == '`' || s.back() == '`' || s.front() == ' ' || s.back() == ' ';
  return fence + (pad ? " " : "") + s + (pad ? " " : "") + fence;
}

// A fenced block: the text as read, control bytes made visible.
std::string md_block(std::string_view raw) {
  std::string s = visible(raw);
  std::string fence(std::max<size_t>(3, longest_backtick_run(s) + 1), '`');
  return fence + "text\n" + s + "\n" + fence + "\n";
}

std::string loc(const Fact& f) { return f.input + ":" + std::to_string(f.line); }

void evidence_md(std::ostream& out, const Fact& f) {
  out << md_code(loc(f)) << "\n\n" << md_block(f.text);
  std::string rc = rc_text(f);
  if (!rc.empty()) {
    out << "\n*decoded:* " << md_text(rc);
    if (f.rc && !f.rc->context.empty()) out << "\\\n*on ESXi:* " << md_text(f.rc->context);  // "\": a line break
    out << "\n";
  }
  out << "\n";
}

void timeline_md(std::ostream& out, const HostTimeline& h) {
  out << "| Boot | Time (UTC) | Source | Marker | Where | Line |\n|---|---|---|---|---|---|\n";
  for (const auto& b : h.boots)
    for (const auto& l : b.lines) {
      std::string mark(marker_name(l.marker));
      if (l.top_evidence) mark += ", **top evidence**";
      if (l.proof) mark += ", **FIX PROVEN**";
      std::string text = l.fact->text;
      if (l.fact->repeats) text += " (and " + std::to_string(l.fact->repeats) + " more like it)";
      out << "| " << b.boot->index << " (" << name(b.boot->verdict) << ") | " << when(*l.fact) << " | " << l.lane
          << " | " << mark << " | " << md_code(loc(*l.fact), true) << " | " << md_code(text, true) << " |\n";
    }
  out << "\n";
}

void finding_md(std::ostream& out, const std::vector<const Finding*>& group, int n) {
  const Finding& f = *group.front();
  const Cause& c = *f.cause;
  const bool unsure = f.status == FindingStatus::problem && uncertain(f);
  char conf[16];
  std::snprintf(conf, sizeof conf, "%.2f", f.confidence);
  out << "### " << n << ". " << md_code(c.id) << " — " << md_text(c.title) << "\n\nconfidence " << conf << " · boot "
      << f.boot;
  if (f.status == FindingStatus::resolved) out << " · **RESOLVED** in boot " << f.resolved_in;
  out << other_boots(group) << "\n\n";
  if (f.ambiguous) out << "> " << md_text(alternatives_note(f)) << "\n\n";
  if (unsure) out << "> **UNCERTAIN — check this before any fix.** " << md_text(c.check) << "\n\n";
  out << "**Evidence**\n\n";
  for (const EvidenceRun& run : fold_evidence(f.evidence)) {
    evidence_md(out, *run.fact);
    if (run.more)
      out << more_lines(run.more) << md_code(run.last->input + ":" + std::to_string(run.last_line)) << "\n\n";
  }
  if (!f.resolved_by.empty()) {
    out << "**Proof of the fix (boot " << f.resolved_in << ")**\n\n";
    for (const Fact* e : f.resolved_by) evidence_md(out, *e);
  }
  out << "**What it means**\n\n" << md_text(c.meaning) << "\n\n";
  out << (unsure ? "**Fix** (for after the check above)\n\n" : "**Fix**\n\n");
  int i = 0;
  for (const auto& s : f.fix) out << ++i << ". " << md_text(s) << "\n";
  out << "\n";
  if (!unsure) out << "**How to confirm**\n\n" << md_text(c.check) << "\n\n";
  if (!c.vendor_notes.empty()) {
    out << "**Vendor notes**\n\n";
    for (const auto& v : c.vendor_notes) out << "- **" << md_text(v.vendor) << ":** " << md_text(v.note) << "\n";
    out << "\n";
  }
  out << "**References**\n\n";
  for (const auto& r : c.references)
    out << "- <" << r.url << ">" << (r.title.empty() ? "" : " " + md_text(r.title))
        << (r.note.empty() ? "" : " — " + md_text(r.note)) << "\n";
  out << "\n";
  if (!c.inference.empty()) {
    out << "**Our inference, not a source's**\n\n";
    for (const auto& s : c.inference) out << "- " << md_text(s) << "\n";
    out << "\n";
  }
}

}  // namespace

void render_md(const Report& r, std::ostream& out, const ReportMeta& meta) {
  out << "# tpmdiag: " << verdict_words(r.verdict) << "\n\n**" << r.hosts.size()
      << (r.hosts.size() == 1 ? " host, " : " hosts, ") << r.findings.size()
      << (r.findings.size() == 1 ? " finding.** " : " findings.** ") << md_text(verdict_summary(r)) << "\n\n";
  if (r.incomplete())
    out << "> **INCOMPLETE:** some inputs were not read in full; this report holds only what was (see Inputs read).\n\n";
  if (meta.redacted)
    out << "> " << md_text(kRedactedNote) << "\n\n";

  for (const auto& h : timeline_view(r)) {
    out << "## " << (h.host->host.empty() ? "Host (not named in the input)" : "Host " + md_code(h.host->host)) << ": "
        << verdict_words(h.host->verdict) << "\n\n";
    auto rows = host_fact_rows(*h.host);
    if (rows.empty()) {
      out << kNoHostFacts << "\n\n";
    } else {
      out << "| Fact | Value |\n|---|---|\n";
      for (const auto& [k, v] : rows) out << "| " << md_text(k) << " | " << md_code(v, true) << " |\n";
      out << "\n";
    }
    out << "### Timeline\n\n";
    for (const auto& b : h.boots) {
      out << "- boot " << b.boot->index << ": ";
      if (b.boot->first_ts) out << format_iso8601(*b.boot->first_ts) << " .. " << format_iso8601(*b.boot->last_ts);
      else out << "no timestamps";
      out << ", " << counted(b.lines.size(), "TPM line") << ", " << name(b.boot->verdict) << "\n";
    }
    out << "\n";
    timeline_md(out, h);
  }

  if (!r.findings.empty()) {
    out << "## Findings\n\n";
    int n = 0;
    for (const auto& h : r.hosts) {
      if (r.hosts.size() > 1)
        out << "#### " << (h.host.empty() ? "Host (not named in the input)" : "Host " + md_code(h.host)) << "\n\n";
      for (const auto& g : findings_by_cause(r, h.host)) finding_md(out, g, ++n);
    }
  }

  size_t normal = 0;
  auto harmless = harmless_groups(r, &normal);
  if (!harmless.empty()) {
    out << "## Harmless lines: seen on healthy hosts too, do not chase them\n\n";
    for (const auto& g : harmless) {
      evidence_md(out, *g.lines.front());
      if (g.lines.size() > 1) out << "and " << g.lines.size() - 1 << " more like it\n\n";
      out << md_text(g.rule->meaning) << "\n\n";
    }
  }
  if (normal)
    out << counted_are(normal, "other TPM line") << " normal activity (driver start, hostd provider start, …); they are on the "
        << "timeline.\n\n";
  if (!r.unexplained.empty()) {
    out << "## Lines no rule explains\n\n" << md_text(kUnexplainedIntro) << "\n\n";
    for (const Fact* f : r.unexplained) evidence_md(out, *f);
  }

  out << "## Inputs read\n\n| Input | Lines | TPM lines | Status |\n|---|---|---|---|\n";
  std::map<std::string, uint64_t> tpm;
  for (const auto& f : r.facts) tpm[f.input] += 1 + f.repeats;
  for (const auto& in : r.inputs) {
    out << "| " << md_code(in.name, true) << " | " << in.lines << " | " << tpm[in.name] << " | ";
    if (!in.error.empty()) out << "**INCOMPLETE:** " << md_code(in.error, true);
    else out << "read in full";
    if (in.cut_lines) out << "; " << in.cut_lines << " over-long lines cut";
    if (in.dropped_facts) out << "; " << counted(in.dropped_facts, "TPM line") << " not kept (over \\-\\-max-facts)";
    out << " |\n";
  }
  out << "\n";
  if (!r.skipped.empty()) out << counted(r.skipped.size(), "file") << " not read: not logs by name or place.\n\n";
  out << "---\n\n" << md_text(footer_text(meta)) << "\n";
}

}  // namespace tpmdiag::cli
