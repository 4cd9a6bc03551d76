// The case report as one HTML file (docs/report.md): inline CSS and SVG, no
// script, nothing loaded from outside (a Content-Security-Policy in the page
// says so to the browser too), a print stylesheet that opens every folded part.
// Every string from a log or a file name goes through esc().
#include <algorithm>
#include <cstdio>
#include <map>

#include "cli/render.h"
#include "cli/term.h"
#include "kb/timeline.h"
#include "parsers/timestamp.h"

namespace tpmdiag::cli {

namespace {

// Text made safe for HTML: markup characters as entities, control bytes as
// \xNN (common/text.h visible), invalid UTF-8 as U+FFFD.
std::string esc(std::string_view raw) {
  std::string s = visible(raw), out;
  out.reserve(s.size() + 16);
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    size_t n = utf8_len(s, i);
    if (n) {
      out.append(s, i, n);
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

std::string num(double d, const char* fmt = "%.1f") {
  char buf[32];
  std::snprintf(buf, sizeof buf, fmt, d);
  return buf;
}

std::string loc(const Fact& f) { return f.input + ":" + std::to_string(f.line); }

std::string verdict_class(Verdict v) { return "v-" + std::string(name(v)); }

const char* kStyle = R"css(
:root{--fg:#1b1f23;--muted:#57606a;--line:#d0d7de;--bg:#fff;--soft:#f6f8fa;--red:#c62828;--amber:#b26a00;--green:#2e7d32;--blue:#0550ae}
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:1040px;padding:24px}
h1{font-size:28px;margin:0}h2{font-size:21px;border-bottom:1px solid var(--line);padding-bottom:4px;margin-top:32px}h3{font-size:17px;margin:20px 0 6px}h4{font-size:15px;margin:14px 0 4px}
code,pre,.mono{font-family:ui-monospace,"DejaVu Sans Mono","Liberation Mono",Menlo,monospace;font-size:13px}
pre{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:8px 10px;margin:4px 0;white-space:pre-wrap;overflow-wrap:anywhere}
.verdict{border-radius:8px;padding:16px 20px;color:#fff;margin-bottom:8px}
.verdict p{margin:6px 0 0;font-size:16px}
.v-problem{background:var(--red)}.v-resolved{background:var(--amber)}.v-healthy{background:var(--green)}.v-no_tpm_evidence{background:#57606a}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;color:#fff;vertical-align:middle}
.notice{border-left:4px solid var(--amber);background:#fff8e1;padding:8px 12px;margin:8px 0}
.notice.bad{border-color:var(--red);background:#ffebee}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top}th{background:var(--soft)}
td.text{font-family:ui-monospace,"DejaVu Sans Mono",monospace;overflow-wrap:anywhere}
tr.top td{background:#fff3c4}tr.proof td{background:#e3f5e6}
.finding{border:1px solid var(--line);border-radius:8px;padding:4px 16px 12px;margin:14px 0}
.finding.first{border-width:2px;border-color:var(--fg)}
.meta{color:var(--muted)}
.loc{color:var(--blue);font-family:ui-monospace,monospace;font-size:13px}
.rc{margin:2px 0 8px 12px;font-size:13px}.rc b{color:var(--amber)}
.timeline{width:100%;height:auto;border:1px solid var(--line);border-radius:6px;background:#fff}
.legend{font-size:13px;color:var(--muted)}.legend svg{vertical-align:middle}
details{margin:6px 0}summary{cursor:pointer;color:var(--blue)}
footer{margin-top:36px;border-top:1px solid var(--line);padding-top:8px;color:var(--muted);font-size:13px}
@media print{
 body{max-width:none;padding:0;font-size:11pt}
 details::details-content{content-visibility:visible;display:block}
 details>summary{list-style:none;color:var(--fg);font-weight:600}
 .verdict,.badge,tr.top td,tr.proof td{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 .finding,svg,tr,pre{break-inside:avoid}
 h2,h3{break-after:avoid}
 a{color:var(--fg)}a[href^="http"]::after{content:" (" attr(href) ")";font-size:9pt;color:var(--muted)}
}
)css";

// --- timeline SVG -----------------------------------------------------------

struct Shape {
  const char* name;
  const char* color;
};
Shape shape_of(Marker m) {
  switch (m) {
    case Marker::symptom: return {"symptom", "#c62828"};
    case Marker::unexplained: return {"no rule explains it", "#c62828"};
    case Marker::harmless: return {"harmless", "#8c959f"};
    case Marker::success: return {"success", "#2e7d32"};
    case Marker::context: break;
  }
  return {"context", "#6e7781"};
}

// One marker centred at (x, y).
std::string marker_svg(Marker m, double x, double y) {
  std::string c = shape_of(m).color, X = num(x), Y = num(y);
  switch (m) {
    case Marker::symptom: return "<circle cx=\"" + X + "\" cy=\"" + Y + "\" r=\"5.5\" fill=\"" + c + "\"/>";
    case Marker::unexplained:
      return "<rect x=\"" + num(x - 5) + "\" y=\"" + num(y - 5) + "\" width=\"10\" height=\"10\" fill=\"#fff\" stroke=\"" +
             c + "\" stroke-width=\"2\"/>";
    case Marker::harmless:
      return "<polygon points=\"" + X + "," + num(y - 6) + " " + num(x + 6) + "," + Y + " " + X + "," + num(y + 6) + " " +
             num(x - 6) + "," + Y + "\" fill=\"" + c + "\"/>";
    case Marker::success:
      return "<polygon points=\"" + X + "," + num(y - 6) + " " + num(x + 6) + "," + num(y + 5) + " " + num(x - 6) + "," +
             num(y + 5) + "\" fill=\"" + c + "\"/>";
    case Marker::context: break;
  }
  return "<circle cx=\"" + X + "\" cy=\"" + Y + "\" r=\"3\" fill=\"" + c + "\"/>";
}

std::string short_time(int64_t ms) { return format_iso8601(ms).substr(11, 8); }

void timeline_svg(std::ostream& out, const HostTimeline& h) {
  const double W = 1000, left = 84, right = 16, top = 40, lane_h = 26;
  const size_t nb = std::max<size_t>(1, h.boots.size());
  const double H = top + lane_h * static_cast<double>(h.lanes.size()) + 30;
  const double seg = (W - left - right) / static_cast<double>(nb);
  out << "<svg class=\"timeline\" viewBox=\"0 0 " << num(W, "%.0f") << ' ' << num(H, "%.0f")
      << "\" role=\"img\" aria-label=\"" << esc("Timeline of " + host_title(h.host->host)) << "\" font-size=\"12\" "
      << "font-family=\"system-ui,sans-serif\">\n";
  for (size_t i = 0; i < h.lanes.size(); ++i) {
    double y = top + lane_h * (static_cast<double>(i) + 0.5);
    out << "<text x=\"8\" y=\"" << num(y + 4) << "\" fill=\"#57606a\">" << esc(h.lanes[i]) << "</text>"
        << "<line x1=\"" << num(left) << "\" x2=\"" << num(W - right) << "\" y1=\"" << num(y) << "\" y2=\"" << num(y)
        << "\" stroke=\"#eaeef2\"/>\n";
  }
  for (size_t bi = 0; bi < h.boots.size(); ++bi) {
    const auto& b = h.boots[bi];
    const Window& w = *b.boot;
    double x0 = left + seg * static_cast<double>(bi), inner = seg - 24;
    const char* vc = w.verdict == Verdict::problem ? "#c62828" : w.verdict == Verdict::healthy ? "#2e7d32" : "#57606a";
    out << "<line x1=\"" << num(x0) << "\" x2=\"" << num(x0) << "\" y1=\"6\" y2=\"" << num(H - 6)
        << "\" stroke=\"#8c959f\" stroke-dasharray=\"4 3\"/>"
        << "<text x=\"" << num(x0 + 6) << "\" y=\"18\" font-weight=\"600\" fill=\"" << vc << "\">boot " << w.index << " · "
        << esc(name(w.verdict)) << "</text>\n";
    if (w.first_ts)
      out << "<text x=\"" << num(x0 + 6) << "\" y=\"" << num(H - 10) << "\" fill=\"#57606a\">"
          << format_iso8601(*w.first_ts).substr(0, 10) << ' ' << short_time(*w.first_ts) << "</text>"
          << "<text x=\"" << num(x0 + seg - 6) << "\" y=\"" << num(H - 10) << "\" fill=\"#57606a\" text-anchor=\"end\">"
          << short_time(*w.last_ts) << "</text>\n";
    // Lines in timeline order, evenly spaced: a boot's lines come in bursts
    // (the driver's at boot, hostd's half a minute later), so a time scale
    // would pile them up. Times are in each marker's tooltip and the table.
    for (size_t i = 0; i < b.lines.size(); ++i) {
      const TimelineLine& l = b.lines[i];
      double frac = (static_cast<double>(i) + 0.5) / static_cast<double>(b.lines.size());
      double x = x0 + 12 + inner * frac;
      size_t lane = static_cast<size_t>(std::find(h.lanes.begin(), h.lanes.end(), l.lane) - h.lanes.begin());
      double y = top + lane_h * (static_cast<double>(lane) + 0.5);
      out << "<g><title>" << esc(when(*l.fact) + " · " + std::string(l.lane) + " · " + shape_of(l.marker).name +
                                 (l.top_evidence ? " · evidence of the top finding" : "") +
                                 (l.proof ? " · proves the fix" : "") + "\n" + loc(*l.fact) + "\n" + l.fact->text)
          << "</title>";
      if (l.top_evidence)
        out << "<circle cx=\"" << num(x) << "\" cy=\"" << num(y) << "\" r=\"10\" fill=\"none\" stroke=\"#e3a008\" "
            << "stroke-width=\"3\"/>";
      if (l.proof)
        out << "<circle cx=\"" << num(x) << "\" cy=\"" << num(y) << "\" r=\"11\" fill=\"#e3f5e6\" stroke=\"#2e7d32\" "
            << "stroke-width=\"2\"/><text x=\"" << num(x) << "\" y=\"" << num(y - 14)
            << "\" text-anchor=\"middle\" font-weight=\"700\" fill=\"#2e7d32\">fix proven</text>";
      out << marker_svg(l.marker, x, y) << "</g>\n";
    }
  }
  out << "</svg>\n";
}

void legend(std::ostream& out) {
  out << "<p class=\"legend\">";
  for (Marker m : {Marker::symptom, Marker::unexplained, Marker::harmless, Marker::success, Marker::context})
    out << "<svg width=\"16\" height=\"16\" viewBox=\"0 0 16 16\" aria-hidden=\"true\">" << marker_svg(m, 8, 9)
        << "</svg> " << shape_of(m).name << " &nbsp; ";
  out << "<svg width=\"24\" height=\"24\" viewBox=\"0 0 24 24\" aria-hidden=\"true\"><circle cx=\"12\" cy=\"12\" r=\"10\" "
         "fill=\"none\" stroke=\"#e3a008\" stroke-width=\"3\"/></svg> evidence of the top finding &nbsp; "
      << "<svg width=\"24\" height=\"24\" viewBox=\"0 0 24 24\" aria-hidden=\"true\"><circle cx=\"12\" cy=\"12\" r=\"10\" "
         "fill=\"#e3f5e6\" stroke=\"#2e7d32\" stroke-width=\"2\"/></svg> the line that proves the fix</p>\n";
}

void timeline_table(std::ostream& out, const BootTimeline& b) {
  out << "<details><summary>Boot " << b.boot->index << ": all " << counted(b.lines.size(), "TPM line") << "</summary>\n"
      << "<table><thead><tr><th>Time (UTC)</th><th>Source</th><th>Marker</th><th>Where</th><th>Line</th></tr></thead>"
      << "<tbody>\n";
  for (const auto& l : b.lines) {
    out << "<tr" << (l.proof ? " class=\"proof\"" : l.top_evidence ? " class=\"top\"" : "") << "><td class=\"mono\">"
        << esc(when(*l.fact)) << "</td><td>" << esc(l.lane) << "</td><td>" << shape_of(l.marker).name
        << (l.top_evidence ? ", top evidence" : "") << (l.proof ? ", <b>proves the fix</b>" : "") << "</td><td class=\"loc\">"
        << esc(loc(*l.fact)) << "</td><td class=\"text\">" << esc(l.fact->text);
    if (l.fact->repeats) out << " <span class=\"meta\">(and " << l.fact->repeats << " more like it)</span>";
    out << "</td></tr>\n";
  }
  out << "</tbody></table></details>\n";
}

// --- findings -----------------------------------------------------------------

void evidence_html(std::ostream& out, const Fact& f) {
  out << "<div class=\"loc\">" << esc(loc(f)) << "</div><pre>" << esc(f.text) << "</pre>\n";
  std::string rc = rc_text(f);
  if (!rc.empty()) {
    out << "<div class=\"rc\"><b>decoded:</b> " << esc(rc);
    if (f.rc && !f.rc->context.empty()) out << "<br><b>on ESXi:</b> " << esc(f.rc->context);
    out << "</div>\n";
  }
}

void finding_html(std::ostream& out, const std::vector<const Finding*>& group, int n) {
  const Finding& f = *group.front();
  const Cause& c = *f.cause;
  const bool unsure = f.status == FindingStatus::problem && uncertain(f);
  out << "<article class=\"finding" << (n == 1 ? " first" : "") << "\" id=\"finding-" << n << "\">\n<h3>[" << n
      << "] <code>" << esc(c.id) << "</code> — " << esc(c.title) << "</h3>\n<p class=\"meta\">confidence "
      << num(f.confidence, "%.2f") << " · boot " << f.boot;
  if (f.status == FindingStatus::resolved)
    out << " · <span class=\"badge v-resolved\">RESOLVED</span> in boot " << f.resolved_in;
  out << esc(other_boots(group)) << "</p>\n";
  if (f.ambiguous) out << "<p class=\"notice\">" << esc(alternatives_note(f)) << "</p>\n";
  if (unsure) out << "<div class=\"notice\"><b>UNCERTAIN — check this before any fix.</b> " << esc(c.check) << "</div>\n";
  out << "<h4>Evidence</h4>\n";
  for (const EvidenceRun& run : fold_evidence(f.evidence)) {
    evidence_html(out, *run.fact);
    if (run.more)
      out << "<p class=\"meta\">" << more_lines(run.more) << "<span class=\"loc\">" << esc(run.last->input + ":" + std::to_string(run.last_line))
          << "</span></p>\n";
  }
  if (!f.resolved_by.empty()) {
    out << "<h4>Proof of the fix (boot " << f.resolved_in << ")</h4>\n";
    for (const Fact* e : f.resolved_by) evidence_html(out, *e);
  }
  out << "<h4>What it means</h4>\n<p>" << esc(c.meaning) << "</p>\n";
  if (unsure) out << "<details><summary>Fix: " << counted(f.fix.size(), "step") << ", for after the check above</summary>\n";
  else out << "<h4>Fix</h4>\n";
  out << "<ol>\n";
  for (const auto& s : f.fix) out << "<li>" << esc(s) << "</li>\n";
  out << "</ol>\n";
  if (unsure) out << "</details>\n";
  else out << "<h4>How to confirm</h4>\n<p>" << esc(c.check) << "</p>\n";
  if (!c.vendor_notes.empty()) {
    out << "<h4>Vendor notes</h4>\n<ul>\n";
    for (const auto& v : c.vendor_notes) out << "<li><b>" << esc(v.vendor) << ":</b> " << esc(v.note) << "</li>\n";
    out << "</ul>\n";
  }
  out << "<h4>References</h4>\n<ul>\n";
  for (const auto& r : c.references) {
    out << "<li><a href=\"" << esc(r.url) << "\" rel=\"noreferrer\">" << esc(r.title.empty() ? r.url : r.title) << "</a>";
    if (!r.note.empty()) out << " — " << esc(r.note);
    out << "</li>\n";
  }
  out << "</ul>\n";
  if (!c.inference.empty()) {
    out << "<h4>Our inference, not a source's</h4>\n<ul>\n";
    for (const auto& s : c.inference) out << "<li>" << esc(s) << "</li>\n";
    out << "</ul>\n";
  }
  out << "</article>\n";
}

void inputs_html(std::ostream& out, const Report& r) {
  out << "<h2 id=\"inputs\">Inputs read</h2>\n<table><thead><tr><th>Input</th><th>Lines</th><th>TPM lines</th>"
         "<th>Status</th></tr></thead><tbody>\n";
  std::map<std::string, uint64_t> tpm;
  for (const auto& f : r.facts) tpm[f.input] += 1 + f.repeats;
  for (const auto& in : r.inputs) {
    out << "<tr><td class=\"loc\">" << esc(in.name) << "</td><td>" << in.lines << "</td><td>" << tpm[in.name]
        << "</td><td>";
    if (!in.error.empty()) out << "<span class=\"badge v-problem\">INCOMPLETE</span> " << esc(in.error);
    else out << "read in full";
    if (in.cut_lines) out << "; " << in.cut_lines << " over-long lines cut";
    if (in.dropped_facts) out << "; " << counted(in.dropped_facts, "TPM line") << " not kept (over --max-facts)";
    out << "</td></tr>\n";
  }
  out << "</tbody></table>\n";
  if (!r.skipped.empty()) {
    out << "<details><summary>" << counted(r.skipped.size(), "file") << " not read: not logs by name or place</summary><ul>\n";
    for (const auto& s : r.skipped) out << "<li class=\"loc\">" << esc(s) << "</li>\n";
    out << "</ul></details>\n";
  }
}

}  // namespace

void render_html(const Report& r, std::ostream& out, const ReportMeta& meta) {
  std::string top = r.findings.empty() ? "" : " — " + r.findings.front().cause->id;
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      << "<meta name=\"generator\" content=\"tpmdiag " << TPMDIAG_VERSION << "\">\n"
      << "<title>tpmdiag: " << verdict_words(r.verdict) << esc(top) << "</title>\n<style>" << kStyle
      << "</style>\n</head>\n<body>\n";

  out << "<header class=\"verdict " << verdict_class(r.verdict) << "\" id=\"verdict\">\n<h1>" << verdict_words(r.verdict)
      << "</h1>\n<p>" << r.hosts.size() << (r.hosts.size() == 1 ? " host, " : " hosts, ") << r.findings.size()
      << (r.findings.size() == 1 ? " finding. " : " findings. ") << esc(verdict_summary(r)) << "</p>\n</header>\n";
  if (r.incomplete())
    out << "<p class=\"notice bad\"><b>INCOMPLETE:</b> some inputs were not read in full; this report holds only what "
           "was (see Inputs read).</p>\n";
  if (meta.redacted)
    out << "<p class=\"notice\">" << esc(kRedactedNote) << "</p>\n";

  for (const auto& h : timeline_view(r)) {
    out << "<section class=\"host\">\n<h2>" << esc(host_title(h.host->host)) << " <span class=\"badge "
        << verdict_class(h.host->verdict) << "\">" << verdict_words(h.host->verdict) << "</span></h2>\n";
    auto rows = host_fact_rows(*h.host);
    if (rows.empty()) {
      out << "<p class=\"meta\">" << kNoHostFacts << "</p>\n";
    } else {
      out << "<dl class=\"facts\">\n";
      for (const auto& [k, v] : rows) out << "<dt>" << esc(k) << "</dt><dd>" << esc(v) << "</dd>\n";
      out << "</dl>\n";
    }
    out << "<h3>Timeline</h3>\n";
    timeline_svg(out, h);
    legend(out);
    for (const auto& b : h.boots) timeline_table(out, b);
    out << "</section>\n";
  }

  if (!r.findings.empty()) {
    out << "<h2 id=\"findings\">Findings</h2>\n";
    int n = 0;
    for (const auto& h : r.hosts) {
      if (r.hosts.size() > 1) out << "<h3>" << esc(host_title(h.host)) << "</h3>\n";
      for (const auto& g : findings_by_cause(r, h.host)) finding_html(out, g, ++n);
    }
  }

  size_t normal = 0;
  auto harmless = harmless_groups(r, &normal);
  if (!harmless.empty()) {
    out << "<h2 id=\"harmless\">Harmless lines: seen on healthy hosts too, do not chase them</h2>\n";
    for (const auto& g : harmless) {
      evidence_html(out, *g.lines.front());
      if (g.lines.size() > 1) out << "<p class=\"meta\">and " << g.lines.size() - 1 << " more like it</p>\n";
      out << "<p>" << esc(g.rule->meaning) << "</p>\n";
    }
  }
  if (normal)
    out << "<p class=\"meta\">" << counted_are(normal, "other TPM line") << " normal activity (driver start, hostd provider start, "
        << "…); they are on the timeline.</p>\n";

  if (!r.unexplained.empty()) {
    out << "<h2 id=\"unexplained\">Lines no rule explains</h2>\n<p>" << esc(kUnexplainedIntro) << "</p>\n";
    for (const Fact* f : r.unexplained) evidence_html(out, *f);
  }

  inputs_html(out, r);
  out << "<footer>" << esc(footer_text(meta)) << "</footer>\n"
      << "</body>\n</html>\n";
}

}  // namespace tpmdiag::cli
