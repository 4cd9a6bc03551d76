#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <map>
#include <sstream>

#include "cli/render.h"
#include "cli/report_parts.h"
#include "kb/timeline.h"
#include "parsers/timestamp.h"

namespace tpmdiag::cli {

namespace {

struct Paint {
  bool on;
  std::string operator()(const char* code, std::string_view s) const {
    if (!on) return std::string(s);
    return std::string("\x1b[") + code + "m" + std::string(s) + "\x1b[0m";
  }
};

// "[N] id". Built with append: `"[" + std::to_string(n)` trips GCC 12's
// -Wrestrict false positive at -O3 (-Werror in CI).
std::string numbered(int n, const std::string& id) {
  return std::string("[").append(std::to_string(n)).append("] ").append(id);
}

// Word-wraps text to width, each line starting with indent.
void wrap(std::ostream& out, std::string_view text, size_t indent, size_t width) {
  std::string pad(indent, ' ');
  std::istringstream words{std::string(text)};
  std::string word, line;
  while (words >> word) {
    if (!line.empty() && indent + line.size() + 1 + word.size() > width) {
      out << pad << line << '\n';
      line.clear();
    }
    if (!line.empty()) line += ' ';
    line += word;
  }
  if (!line.empty()) out << pad << line << '\n';
}

std::string verdict_word(Verdict v, const Paint& p) {
  const char* code = v == Verdict::problem ? "1;31" : v == Verdict::resolved ? "1;33" : v == Verdict::healthy ? "1;32" : "1";
  return p(code, verdict_words(v));
}

std::string host_label(const std::string& h) { return h.empty() ? "(host not named in the input)" : visible(h); }

std::string where(const Fact& f) { return visible(f.input) + ":" + std::to_string(f.line); }

std::string pct(double c) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.2f", c);
  return buf;
}

// A fact's line as shown: trailing blanks dropped, control bytes made visible.
std::string shown_text(const Fact& f) {
  std::string_view t = f.text;
  while (!t.empty() && (t.back() == '\r' || t.back() == ' ')) t.remove_suffix(1);
  return visible(t);
}

void evidence_line(std::ostream& out, const Fact& f, const Paint& p, size_t width) {
  out << "      " << p("36", where(f)) << '\n';
  out << "        " << shown_text(f) << '\n';
  if (!f.field("rc").empty()) {
    std::string rc = rc_text(f);
    out << "        " << p("33", "decoded: ") ;
    std::ostringstream tmp;
    wrap(tmp, rc, 0, width > 20 ? width - 17 : width);
    std::string s = tmp.str();
    // keep the first line beside "decoded:", indent the rest
    size_t nl = s.find('\n');
    out << s.substr(0, nl) << '\n';
    if (nl != std::string::npos && nl + 1 < s.size()) wrap(out, s.substr(nl + 1), 17, width);
    if (f.rc && !f.rc->context.empty()) {
      out << "        " << p("33", "on ESXi: ");
      std::ostringstream ctx;
      wrap(ctx, f.rc->context, 17, width);
      std::string c = ctx.str();
      out << c.substr(17);
    }
  }
}

// The lines that prove a fix, under a resolved finding.
void proof_lines(std::ostream& out, const Finding& f, const Paint& p, size_t width) {
  if (f.resolved_by.empty()) return;
  out << "\n    " << p("1", "Proof of the fix (boot " + std::to_string(f.resolved_in) + ")") << "\n";
  for (const Fact* e : f.resolved_by) evidence_line(out, *e, p, width);
}

void full_finding(std::ostream& out, const Finding& f, int n, const Paint& p, const TextStyle& style) {
  const size_t width = static_cast<size_t>(style.width);
  const Cause& c = *f.cause;
  // An open finding that is not certain: what tells the candidates apart
  // comes first, its fix steps are folded.
  const bool unsure = f.status == FindingStatus::problem && uncertain(f);
  out << p("1", numbered(n, c.id)) << " — " << c.title << "\n";
  out << "    confidence " << pct(f.confidence) << ", boot " << f.boot;
  if (f.status == FindingStatus::resolved) out << ", " << p("33", "resolved in boot " + std::to_string(f.resolved_in));
  out << "\n";
  if (f.ambiguous) {
    std::string alts;
    for (const auto& a : f.alternatives) alts += (alts.empty() ? "" : ", ") + a;
    out << "    " << p("33", "ambiguous:") << " the same lines also fit " << alts
        << "; the check below tells them apart\n";
  }
  if (unsure) {
    out << "\n    " << p("1;33", "UNCERTAIN — check this before any fix") << "\n";
    wrap(out, c.check, 6, width);
  }
  out << "\n    " << p("1", "Evidence") << "\n";
  // Copies of one line (same rule and fields) are shown once, with a count.
  for (const EvidenceRun& run : fold_evidence(f.evidence)) {
    evidence_line(out, *run.fact, p, width);
    if (run.more > 0)
      out << "        " << p("2", "... and " + std::to_string(run.more) + " more line" + (run.more == 1 ? "" : "s") +
                                     " like it, the last at " + visible(run.last->input) + ":" + std::to_string(run.last_line))
          << "\n";
  }
  proof_lines(out, f, p, width);
  out << "\n    " << p("1", "What it means") << "\n";
  wrap(out, c.meaning, 6, width);
  if (unsure && !style.verbose) {
    out << "\n    " << p("1", "Fix") << "\n";
    wrap(out,
         std::to_string(f.fix.size()) + " steps, not shown while the cause is uncertain: do the check above "
         "first (--verbose shows them).",
         6, width);
  } else {
    out << "\n    " << p("1", "Fix") << "\n";
  }
  int i = 1;
  for (const auto& s : unsure && !style.verbose ? std::vector<std::string>{} : f.fix) {
    std::ostringstream tmp;
    wrap(tmp, s, 9, width);
    std::string t = tmp.str();
    std::string num = std::to_string(i++) + ".";
    t.replace(6, num.size(), num);
    out << t;
  }
  if (!unsure) {
    out << "\n    " << p("1", "How to confirm") << "\n";
    wrap(out, c.check, 6, width);
  }
  if (!c.vendor_notes.empty()) {
    out << "\n    " << p("1", "Vendor notes") << "\n";
    for (const auto& v : c.vendor_notes) wrap(out, v.vendor + ": " + v.note, 6, width);
  }
  out << "\n    " << p("1", "References") << "\n";
  for (const auto& r : c.references) out << "      " << r.url << (r.title.empty() ? "" : "  (" + r.title + ")") << "\n";
  if (!c.inference.empty()) {
    out << "\n    " << p("2", "Our inference, not a source's:") << "\n";
    for (const auto& s : c.inference) wrap(out, "- " + s, 6, width);
  }
  out << "\n";
}

void short_finding(std::ostream& out, const Finding& f, int n, const Paint& p, size_t width) {
  const Cause& c = *f.cause;
  out << p("1", numbered(n, c.id)) << " — " << c.title << "  (confidence "
      << pct(f.confidence) << ", boot " << f.boot;
  if (f.status == FindingStatus::resolved) out << ", resolved in boot " << f.resolved_in;
  out << ")\n";
  std::string lines;
  for (const Fact* e : f.evidence) lines += (lines.empty() ? "" : ", ") + where(*e);
  wrap(out, "evidence: " + lines, 6, width);
  if (!f.resolved_by.empty()) {
    std::string proof;
    for (const Fact* e : f.resolved_by) proof += (proof.empty() ? "" : ", ") + where(*e);
    wrap(out, "fix proven by: " + proof, 6, width);
  }
  wrap(out, "tell apart: " + c.check, 6, width);
}

}  // namespace

bool want_color(const std::string& mode) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  const char* nc = std::getenv("NO_COLOR");
  if (nc && *nc) return false;
  const char* term = std::getenv("TERM");
  if (term && std::strcmp(term, "dumb") == 0) return false;
  return isatty(STDOUT_FILENO) != 0;
}

void render_text(const Report& r, std::ostream& out, const TextStyle& style) {
  Paint p{style.color};
  size_t width = static_cast<size_t>(style.width);
  out << "tpmdiag: " << verdict_word(r.verdict, p) << " — " << r.hosts.size()
      << (r.hosts.size() == 1 ? " host" : " hosts") << ", " << r.findings.size()
      << (r.findings.size() == 1 ? " finding" : " findings") << "\n";
  if (!r.findings.empty() && r.findings.front().status == FindingStatus::problem && uncertain(r.findings.front())) {
    const Finding& top = r.findings.front();
    out << p("1;33", "UNCERTAIN") << ": the likeliest cause, " << top.cause->id << " (" << pct(top.confidence)
        << "), " << (top.ambiguous ? "is not the only one these lines fit" : "is below " + pct(kCertainFrom))
        << "; check what tells the candidates apart before any fix.\n";
  }
  if (r.incomplete()) {
    size_t bad = 0;
    for (const auto& in : r.inputs) bad += !in.error.empty();
    out << p("1;31", "INCOMPLETE") << ": " << bad << " of " << r.inputs.size()
        << (r.inputs.size() == 1 ? " input" : " inputs")
        << " not read or not kept in full; this report holds only what was:\n";
    for (const auto& in : r.inputs)
      if (!in.error.empty()) out << "  " << p("31", visible(in.error)) << "\n";
  }

  for (const auto& h : r.hosts) {
    out << "\n" << p("1", "Host " + host_label(h.host)) << ": " << verdict_word(h.verdict, p) << " ("
        << h.boots.size() << (h.boots.size() == 1 ? " boot window" : " boot windows") << ")\n";
    for (const auto& b : h.boots) {
      out << "  boot " << b.index << ": ";
      if (b.first_ts) out << format_iso8601(*b.first_ts) << " .. " << format_iso8601(*b.last_ts);
      else out << "no timestamps";
      out << ", " << line_count(b.facts) << " TPM lines, " << (b.verdict == Verdict::no_tpm_evidence ? "nothing proves the TPM works" : name(b.verdict)) << "\n";
    }
    out << "\n";
    // One block per cause; the same cause in other boots is listed, not repeated.
    auto groups = findings_by_cause(r, h.host);
    int n = 0;
    for (const auto& g : groups) {
      ++n;
      if (n == 1) full_finding(out, *g.front(), n, p, style);
      else short_finding(out, *g.front(), n, p, width);
      if (g.size() > 1) {
        std::string also;
        for (size_t i = 1; i < g.size(); ++i) {
          also += (also.empty() ? "" : ", ") + std::to_string(g[i]->boot);
          if (g[i]->status == FindingStatus::resolved) also += " (resolved in " + std::to_string(g[i]->resolved_in) + ")";
        }
        out << "    also found in boot" << (g.size() > 2 ? "s " : " ") << also << "\n";
      }
    }
    if (n > 1) out << "\n";
  }

  // Lines about the TPM that read like failures but that no rule explains:
  // shown whole, never summarised away.
  if (!r.unexplained.empty()) {
    out << p("1;31", "Lines no rule explains") << "\n";
    wrap(out, kUnexplainedIntro, 2, width);
    for (const Fact* f : r.unexplained) out << "  " << p("36", where(*f)) << "\n      " << shown_text(*f) << "\n";
    out << "\n";
  }

  // Harmless lines that look alarming are explained one by one, so nobody
  // chases them; the many normal lines are only counted (see `tpmdiag explain`).
  size_t normal = 0;
  auto harmless = harmless_groups(r, &normal);
  if (!harmless.empty()) {
    out << p("1", "Harmless lines: seen on healthy hosts too, do not chase them") << "\n";
    for (const auto& g : harmless) {
      const Fact& first = *g.lines.front();
      out << "  " << p("36", where(first));
      if (g.lines.size() > 1) out << " (and " << g.lines.size() - 1 << " more like it)";
      out << "\n      " << shown_text(first) << "\n";
      wrap(out, first.rule->meaning, 6, width);
    }
    out << "\n";
  }
  if (normal > 0)
    out << normal << " other TPM lines are normal activity (driver start, hostd provider start, ...); "
        << "'tpmdiag explain' annotates every line.\n\n";

  uint64_t lines = 0, read = 0, tpm = 0;
  for (const auto& in : r.inputs) {
    lines += in.lines;
    if (in.error.empty()) ++read;
  }
  for (const auto& f : r.facts) tpm += 1 + f.repeats;
  out << p("2", "Read " + std::to_string(read) + " of " + std::to_string(r.inputs.size()) + " inputs, " +
                    std::to_string(lines) + " lines, " + std::to_string(tpm) + " TPM-related")
      << "\n";
  if (!r.skipped.empty()) {
    out << p("2", "  " + std::to_string(r.skipped.size()) + (r.skipped.size() == 1 ? " file" : " files") +
                      " not read: not logs by name or place (core dumps, images, VM files, ...)" +
                      (style.verbose ? ":" : "; --verbose names them"))
        << "\n";
    if (style.verbose)
      for (const auto& s : r.skipped) out << "    " << visible(s) << "\n";
  }
  for (const auto& in : r.inputs) {
    if (!in.error.empty()) out << p("31", "  not fully read: " + visible(in.error)) << "\n";
    if (in.cut_lines) out << "  " << visible(in.name) << ": " << in.cut_lines << " over-long lines cut at --max-line\n";
    if (in.dropped_facts)
      out << p("31", "  " + visible(in.name) + ": " + std::to_string(in.dropped_facts) +
                         " TPM lines not kept (over --max-facts); the diagnosis may miss them")
          << "\n";
  }
}

namespace {

// A line of the timeline: its first line when a record was joined from several.
std::string one_record_line(const Fact& f) {
  std::string t = shown_text(f);
  size_t nl = t.find('\n');
  return nl == std::string::npos ? t : t.substr(0, nl) + " ...";
}

}  // namespace

void render_timeline(const Report& r, std::ostream& out, const TextStyle& style) {
  Paint p{style.color};
  out << "tpmdiag: " << verdict_word(r.verdict, p) << " — " << verdict_summary(r) << "\n";
  out << p("2", "Markers: ! symptom, ? no rule explains it, ~ harmless, + success, . context; "
                "* evidence of the top finding, FIX proves the fix")
      << "\n";
  static const std::map<Marker, std::pair<const char*, const char*>> kSign = {
      {Marker::symptom, {"!", "31"}}, {Marker::unexplained, {"?", "31"}}, {Marker::harmless, {"~", "2"}},
      {Marker::success, {"+", "32"}}, {Marker::context, {".", "0"}}};
  for (const auto& h : timeline_view(r)) {
    out << "\n" << p("1", visible(host_title(h.host->host))) << ": " << verdict_word(h.host->verdict, p) << "\n";
    for (const auto& b : h.boots) {
      out << "  " << p("1", "boot " + std::to_string(b.boot->index)) << "  ";
      if (b.boot->first_ts) out << format_iso8601(*b.boot->first_ts) << " .. " << format_iso8601(*b.boot->last_ts);
      else out << "no timestamps";
      out << "  " << verdict_word(b.boot->verdict, p) << "\n";
      for (const auto& l : b.lines) {
        const auto& [sign, code] = kSign.at(l.marker);
        std::string mark = std::string(sign) + (l.top_evidence ? "*" : " ") + (l.proof ? " FIX" : "    ");
        std::string time = l.fact->ts_ms ? format_iso8601(*l.fact->ts_ms) : "-";
        time.resize(std::max<size_t>(time.size(), 24), ' ');
        std::string lane(l.lane);
        lane.resize(std::max<size_t>(lane.size(), 8), ' ');
        out << "    " << p(code, mark) << " " << time << " " << lane << " " << p("36", where(*l.fact)) << "  "
            << one_record_line(*l.fact);
        if (l.fact->repeats) out << p("2", " (and " + std::to_string(l.fact->repeats) + " more like it)");
        out << "\n";
      }
    }
  }
  if (r.hosts.empty()) out << "\nNo TPM-related lines found.\n";
}

void render_explain(const Report& r, std::ostream& out, bool color) {
  Paint p{color};
  std::map<const Fact*, std::vector<std::string>> evidence_of;
  for (const auto& f : r.findings)
    for (const Fact* e : f.evidence) evidence_of[e].push_back(f.cause->id);
  for (const auto& h : r.hosts) {
    for (const auto& b : h.boots) {
      out << "== host " << (h.host.empty() ? "(not named)" : visible(h.host)) << ", boot " << b.index << " ==\n";
      for (const Fact* f : b.facts) {
        out << p("36", where(*f)) << "  " << visible(f->text) << "\n";
        out << "    rule " << f->rule->id << " (" << role_name(f->rule->role) << "): " << f->rule->meaning << "\n";
        if (!f->field("rc").empty()) {
          static const DecodedRc kNone;
          const DecodedRc& d = f->rc ? *f->rc : kNone;
          // Streamed piece by piece: `" " + std::string(...)` trips GCC 12's
          // -Wrestrict false positive at -O3 (-Werror in CI).
          out << "    rc " << f->field("rc") << " = " << d.name << " (" << d.kind;
          if (f->rc && d.index != 0) out << ' ' << d.index;
          out << "): " << d.description << "\n";
        }
        auto it = evidence_of.find(f);
        if (it != evidence_of.end()) {
          std::string ids;
          for (const auto& id : it->second) ids += (ids.empty() ? "" : ", ") + id;
          out << "    evidence for: " << ids << "\n";
        }
      }
    }
  }
  if (r.hosts.empty()) out << "No TPM-related lines found.\n";
}

void render_explain_json(const Report& r, std::ostream& out) {
  JsonWriter w(out, 2);
  w.begin_array();
  for (const auto& h : r.hosts)
    for (const auto& b : h.boots)
      for (const Fact* f : b.facts) write_fact(w, *f);
  w.end_array();
}

}  // namespace tpmdiag::cli
