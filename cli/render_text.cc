#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <map>
#include <unordered_set>
#include <sstream>

#include "cli/render.h"
#include "cli/report_parts.h"
#include "cli/term.h"
#include "kb/timeline.h"
#include "parsers/timestamp.h"

namespace tpmdiag::cli {

namespace {

// Inputs not read or not kept in full (the INCOMPLETE line counts them).
size_t inputs_with_errors(const Report& r) {
  size_t n = 0;
  for (const auto& in : r.inputs) n += !in.error.empty();
  return n;
}

// Short places for the inputs of a report (issue 19): each input by the
// shortest tail of its name, in path components ('/', and '!' between an
// archive and its member), that no other input of the report ends with, so
// that a line in a bundle reads `vmkernel.0.gz:6847`, not the ~150 characters
// of its full name; the folder is named once per host (`files under`).
class Places {
 public:
  explicit Places(const Report& r) {
    // Views into the report: a run may keep a million lines of a few inputs.
    std::unordered_set<std::string_view> seen;
    std::vector<std::string> names;
    auto add = [&](const std::string& n) {
      if (seen.insert(n).second) names.push_back(n);
    };
    for (const auto& in : r.inputs) add(in.name);
    for (const auto& f : r.facts) add(f.input);
    std::map<std::string, int> tails;  // tail -> how many inputs end with it
    for (const auto& n : names)
      for (size_t k : cuts(n)) ++tails[n.substr(k)];
    for (const auto& n : names) {
      std::string best = n;
      for (size_t k : cuts(n)) {  // shortest first
        if (tails[n.substr(k)] == 1) {
          best = n.substr(k);
          break;
        }
      }
      short_[n] = best;
    }
  }
  std::string name(const std::string& input) const {
    auto it = short_.find(input);
    return visible(it == short_.end() ? input : it->second);
  }
  // The folder the host's inputs share, as far as their short names leave it out.
  std::string folder(const std::vector<const Fact*>& facts) const {
    std::string common;
    bool first = true;
    const std::string* last = nullptr;
    for (const Fact* f : facts) {
      if (last && *last == f->input) continue;  // runs of one input: looked up once
      last = &f->input;
      auto it = short_.find(f->input);
      if (it == short_.end()) continue;
      std::string dir = f->input.substr(0, f->input.size() - it->second.size());
      if (first) common = dir;
      else common = common.substr(0, std::mismatch(common.begin(), common.end(), dir.begin(), dir.end()).first - common.begin());
      first = false;
    }
    // Whole components only: "a/seed-failing/" and "a/seed-fixed/" share "a/".
    size_t end = common.find_last_of("/!");
    return visible(end == std::string::npos ? "" : common.substr(0, end + 1));
  }

 private:
  // Where each tail of the name starts, shortest tail first.
  static std::vector<size_t> cuts(const std::string& n) {
    std::vector<size_t> out;
    for (size_t i = n.size(); i-- > 0;)
      if ((n[i] == '/' || n[i] == '!') && i + 1 < n.size()) out.push_back(i + 1);
    out.push_back(0);
    return out;
  }
  std::map<std::string, std::string> short_;
};

// "  files under samples/seed-failing/": where a host's inputs are, named once
// (their places are short).
void files_under(std::ostream& out, const Places& places, const HostReport& h, const std::string& pad) {
  std::vector<const Fact*> lines;
  for (const auto& b : h.boots) lines.insert(lines.end(), b.facts.begin(), b.facts.end());
  if (std::string dir = places.folder(lines); !dir.empty()) out << pad << "files under " << dir << "\n";
}

// Colours (when on) and the places of the report being rendered.
struct Paint {
  bool on;
  const Places* places = nullptr;
  std::string operator()(const char* code, std::string_view s) const {
    if (!on) return std::string(s);
    return std::string("\x1b[") + code + "m" + std::string(s) + "\x1b[0m";
  }
  std::string where(const std::string& input, uint64_t line) const {
    return (places ? places->name(input) : visible(input)) + ":" + std::to_string(line);
  }
  std::string where(const Fact& f) const { return where(f.input, f.line); }
};


// "[N] id". Built with append: `"[" + std::to_string(n)` trips GCC 12's
// -Wrestrict false positive at -O3 (-Werror in CI).
std::string numbered(int n, const std::string& id) {
  return std::string("[").append(std::to_string(n)).append("] ").append(id);
}

// `label rest`, wrapped with `first` columns before its first line (spaces,
// or `lead` when given) and `indent` spaces before the others, the label
// painted with `code`.
void labelled(std::ostream& out, const Paint& p, const char* code, const std::string& label, const std::string& rest,
              size_t first, size_t indent, size_t width, const std::string& lead = "") {
  std::ostringstream tmp;
  hang(tmp, label + rest, first, indent, width);
  std::string s = tmp.str();
  out << (lead.empty() ? s.substr(0, first) : lead) << p(code, label) << s.substr(first + label.size());
}

const char* verdict_code(Verdict v) {
  return v == Verdict::problem ? "1;31" : v == Verdict::resolved ? "1;33" : v == Verdict::healthy ? "1;32" : "1";
}

std::string verdict_word(Verdict v, const Paint& p) {
  return p(verdict_code(v), verdict_words(v));
}

std::string host_label(const std::string& h) { return h.empty() ? "(host not named in the input)" : visible(h); }

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
  out << "      " << p("36", p.where(f)) << '\n';
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
  labelled(out, p, "1", numbered(n, c.id), " — " + c.title, 0, 4, width);
  out << "    confidence " << pct(f.confidence) << ", boot " << f.boot;
  if (f.status == FindingStatus::resolved) out << ", " << p("33", "resolved in boot " + std::to_string(f.resolved_in));
  out << "\n";
  if (f.ambiguous) {
    std::string alts;
    for (const auto& a : f.alternatives) alts += (alts.empty() ? "" : ", ") + a;
    labelled(out, p, "33", "ambiguous:", " the same lines also fit " + alts + "; the check below tells them apart", 4,
             6, width);
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
      labelled(out, p, "2", "... and " + counted(run.more, "more line"),
               " like it, the last at " + p.where(run.last->input, run.last_line), 8, 10, width);
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
  for (const auto& r : c.references) reference(out, r.url, r.title, 6, width);
  if (!c.inference.empty()) {
    out << "\n    " << p("2", "Our inference, not a source's:") << "\n";
    for (const auto& s : c.inference) hang(out, "- " + s, 6, 8, width);
  }
  out << "\n";
}

void short_finding(std::ostream& out, const Finding& f, int n, const Paint& p, size_t width) {
  const Cause& c = *f.cause;
  std::string rest = " — " + c.title + "  (confidence " + pct(f.confidence) + ", boot " + std::to_string(f.boot);
  if (f.status == FindingStatus::resolved) rest += ", resolved in boot " + std::to_string(f.resolved_in);
  labelled(out, p, "1", numbered(n, c.id), rest + ")", 0, 4, width);
  std::string lines;
  for (const Fact* e : f.evidence) lines += (lines.empty() ? "" : ", ") + p.where(*e);
  wrap(out, "evidence: " + lines, 6, width);
  if (!f.resolved_by.empty()) {
    std::string proof;
    for (const Fact* e : f.resolved_by) proof += (proof.empty() ? "" : ", ") + p.where(*e);
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
  Places places(r);
  Paint p{style.color, &places};
  size_t width = static_cast<size_t>(style.width);
  out << "tpmdiag: " << verdict_word(r.verdict, p) << " — " << r.hosts.size()
      << (r.hosts.size() == 1 ? " host" : " hosts") << ", " << r.findings.size()
      << (r.findings.size() == 1 ? " finding" : " findings") << "\n";
  if (!r.findings.empty() && r.findings.front().status == FindingStatus::problem && uncertain(r.findings.front())) {
    const Finding& top = r.findings.front();
    labelled(out, p, "1;33", "UNCERTAIN",
             ": the likeliest cause, " + top.cause->id + " (" + pct(top.confidence) + "), " +
                 (top.ambiguous ? "is not the only one these lines fit" : "is below " + pct(kCertainFrom)) +
                 "; check what tells the candidates apart before any fix.",
             0, 2, width);
  }
  if (r.incomplete()) {
    size_t bad = inputs_with_errors(r);
    labelled(out, p, "1;31", "INCOMPLETE",
             ": " + std::to_string(bad) + " of " + counted(r.inputs.size(), "input") +
                 " not read or not kept in full; this report holds only what was:",
             0, 2, width);
    for (const auto& in : r.inputs)
      if (!in.error.empty()) out << "  " << p("31", visible(in.error)) << "\n";
  }

  for (const auto& h : r.hosts) {
    std::string title = "Host " + host_label(h.host), rest = " (" + counted(h.boots.size(), "boot window") + ")";
    out << "\n";
    if (text_columns(title + ": " + verdict_words(h.verdict) + rest) <= width)
      out << p("1", title) << ": " << verdict_word(h.verdict, p) << rest << "\n";
    else
      labelled(out, p, "1", title, ": " + verdict_words(h.verdict) + rest, 0, 2, width);
    files_under(out, places, h, "  ");
    for (const auto& b : h.boots) {
      std::string line = "boot " + std::to_string(b.index) + ": ";
      line += b.first_ts ? format_iso8601(*b.first_ts) + " .. " + format_iso8601(*b.last_ts) : "no timestamps";
      line += ", " + counted(line_count(b.facts), "TPM line") + ", " +
              (b.verdict == Verdict::no_tpm_evidence ? "nothing proves the TPM works" : std::string(name(b.verdict)));
      hang(out, line, 2, 4, width);
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
    for (const Fact* f : r.unexplained) out << "  " << p("36", p.where(*f)) << "\n      " << shown_text(*f) << "\n";
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
      out << "  " << p("36", p.where(first));
      if (g.lines.size() > 1) out << " (and " << g.lines.size() - 1 << " more like it)";
      out << "\n      " << shown_text(first) << "\n";
      wrap(out, first.rule->meaning, 6, width);
    }
    out << "\n";
  }
  if (normal > 0) {
    wrap(out,
         counted_are(normal, "other TPM line") +
             " normal activity (driver start, hostd provider start, ...); 'tpmdiag explain' annotates every line.",
         0, width);
    out << "\n";
  }

  uint64_t lines = 0, read = 0, tpm = 0;
  for (const auto& in : r.inputs) {
    lines += in.lines;
    if (in.error.empty()) ++read;
  }
  for (const auto& f : r.facts) tpm += 1 + f.repeats;
  out << p("2", "Read " + std::to_string(read) + " of " + counted(r.inputs.size(), "input") + ", " +
                    counted(lines, "line") + ", " + std::to_string(tpm) + " TPM-related")
      << "\n";
  // A filtered report says so: a verdict on part of the logs is not one on all.
  if (!style.filtered.empty()) {
    std::ostringstream note;
    hang(note, style.filtered, 2, 4, width);
    out << p("2", note.str().substr(0, note.str().size() - 1)) << "\n";
  }
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
    if (in.cut_lines) out << "  " << visible(in.name) << ": " << counted(in.cut_lines, "over-long line") << " cut at --max-line\n";
    if (in.dropped_facts)
      out << p("31", "  " + visible(in.name) + ": " + counted(in.dropped_facts, "TPM line") +
                         " not kept (over --max-facts); the diagnosis may miss them")
          << "\n";
  }
}

void render_brief(const Report& r, std::ostream& out, bool color) {
  Paint p{color};
  struct Row {
    std::string host, verdict, cause, confidence;
    Verdict v;
  };
  std::vector<Row> rows;
  size_t wh = 0, wv = 0, wc = 0;
  for (const auto& h : r.hosts) {
    Row row{h.host.empty() ? "(not named)" : visible(h.host), verdict_words(h.verdict), "-", "-", h.verdict};
    for (const auto& f : r.findings)  // best first
      if (f.host == h.host) {
        row.cause = f.cause->id;
        row.confidence = pct(f.confidence);
        break;
      }
    wh = std::max(wh, text_columns(row.host));
    wv = std::max(wv, text_columns(row.verdict));
    wc = std::max(wc, row.cause.size());
    rows.push_back(std::move(row));
  }
  auto pad = [](std::string s, size_t w) { return s + std::string(w > text_columns(s) ? w - text_columns(s) : 0, ' '); };
  for (const auto& row : rows)
    out << pad(row.host, wh) << "  " << verdict_word(row.v, p) << std::string(wv - text_columns(row.verdict), ' ') << "  "
        << pad(row.cause, wc) << "  " << row.confidence << "\n";
  if (rows.empty()) out << "(no TPM lines)  " << verdict_word(r.verdict, p) << "\n";
  // A verdict from a cut bundle is no verdict on the host: say so, as the
  // full report does at its top (the errors themselves went to stderr).
  if (r.incomplete()) {
    size_t bad = inputs_with_errors(r);
    out << p("1;31", "INCOMPLETE") << ": " << bad << " of " << counted(r.inputs.size(), "input")
        << " not read or not kept in full; the lines above hold only what was\n";
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
  Places places(r);
  Paint p{style.color, &places};
  const size_t width = static_cast<size_t>(style.width);
  labelled(out, p, verdict_code(r.verdict), verdict_words(r.verdict), " — " + verdict_summary(r), 9, 2, width,
           "tpmdiag: ");
  std::ostringstream markers;
  wrap(markers,
       "Markers: ! symptom, ? no rule explains it, ~ harmless, + success, . context; * evidence of the top finding, "
       "FIX proves the fix",
       0, width);
  out << p("2", markers.str().substr(0, markers.str().size() - 1)) << "\n";
  static const std::map<Marker, std::pair<const char*, const char*>> kSign = {
      {Marker::symptom, {"!", "31"}}, {Marker::unexplained, {"?", "31"}}, {Marker::harmless, {"~", "2"}},
      {Marker::success, {"+", "32"}}, {Marker::context, {".", "0"}}};
  for (const auto& h : timeline_view(r)) {
    out << "\n" << p("1", visible(host_title(h.host->host))) << ": " << verdict_word(h.host->verdict, p) << "\n";
    files_under(out, places, *h.host, "  ");
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
        out << "    " << p(code, mark) << " " << time << " " << lane << " " << p("36", p.where(*l.fact)) << "  "
            << one_record_line(*l.fact);
        if (l.fact->repeats) out << p("2", " (and " + std::to_string(l.fact->repeats) + " more like it)");
        out << "\n";
      }
    }
  }
  if (r.hosts.empty()) out << "\nNo TPM-related lines found.\n";
}

void render_explain(const Report& r, std::ostream& out, const TextStyle& style) {
  Places places(r);
  Paint p{style.color, &places};
  const size_t width = static_cast<size_t>(style.width);
  std::map<const Fact*, std::vector<std::string>> evidence_of;
  for (const auto& f : r.findings)
    for (const Fact* e : f.evidence) evidence_of[e].push_back(f.cause->id);
  for (const auto& h : r.hosts) {
    for (const auto& b : h.boots) {
      out << "== host " << (h.host.empty() ? "(not named)" : visible(h.host)) << ", boot " << b.index << " ==\n";
      if (&b == &h.boots.front()) files_under(out, places, h, "");
      for (const Fact* f : b.facts) {
        out << p("36", p.where(*f)) << "\n  " << visible(f->text) << "\n";
        hang(out, "rule " + f->rule->id + " (" + std::string(role_name(f->rule->role)) + "): " + f->rule->meaning, 4, 6,
             width);
        if (!f->field("rc").empty()) {
          static const DecodedRc kNone;
          const DecodedRc& d = f->rc ? *f->rc : kNone;
          // Streamed piece by piece: `" " + std::string(...)` trips GCC 12's
          // -Wrestrict false positive at -O3 (-Werror in CI).
          std::ostringstream rc;
          rc << "rc " << f->field("rc") << " = " << d.name << " (" << d.kind;
          if (f->rc && d.index != 0) rc << ' ' << d.index;
          rc << "): " << d.description;
          hang(out, rc.str(), 4, 6, width);
        }
        auto it = evidence_of.find(f);
        if (it != evidence_of.end()) {
          std::string ids;
          for (const auto& id : it->second) ids += (ids.empty() ? "" : ", ") + id;
          hang(out, "evidence for: " + ids, 4, 6, width);
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
