// Renderers: the report for people (text, HTML, Markdown) and for programs
// (JSON, JSON Lines).
// The JSON shape is documented in docs/json-report.md; keep it backward compatible.
#pragma once

#include <ostream>

#include "cli/report_parts.h"
#include "common/json_writer.h"
#include "kb/diagnose.h"
#include "pipeline/run.h"
#include "kb/rc.h"
#include "common/text.h"

namespace tpmdiag::cli {

// 2: incomplete, skipped, unexplained; findings[].resolved_by and .uncertain;
// inputs[].incomplete; live records: rank, update (docs/json-report.md).
constexpr int kSchemaVersion = 2;

struct TextStyle {
  bool color = false;
  int width = 80;  // cli/term.h output_width()
  bool verbose = false;  // fix steps of uncertain findings, files not read
  std::string filtered;  // filter_summary() (cli/filters.h) of a filtered run, said at the end
};

void render_text(const Report& r, std::ostream& out, const TextStyle& style);
// --brief: one line per host: host, verdict, top cause, confidence.
void render_brief(const Report& r, std::ostream& out, bool color);
// diagnose --timeline: per host and boot, one line per TPM line with its marker.
void render_timeline(const Report& r, std::ostream& out, const TextStyle& style);
// explain: every TPM line with its rule, decoded code and meaning.
void render_explain(const Report& r, std::ostream& out, const TextStyle& style);
void render_explain_json(const Report& r, std::ostream& out);

// The case report (docs/report.md): one self-contained HTML file (inline CSS
// and SVG, no script, nothing loaded from outside), and the same content as
// Markdown for a ticket. All log text is escaped.
void render_html(const Report& r, std::ostream& out, const ReportMeta& meta);
void render_md(const Report& r, std::ostream& out, const ReportMeta& meta);

// What --since/--until/--host did to a run, said in the JSON report.
struct FilterNote {
  const EventFilter& filter;
  FilterCounts counts;
};

// redacted: the run was redacted (--redact), said in the report; filtered:
// the run was filtered (the "filter" object; absent when null or inactive).
void render_json(const Report& r, std::ostream& out, bool pretty, bool redacted = false,
                 const FilterNote* filtered = nullptr);

// One entry of findings[] (also the body of a JSON Lines "finding" record).
void write_finding(JsonWriter& w, const Finding& f);
// A JSON Lines "finding" record (docs/live.md), on one line with its newline:
// live findings and `diagnose --format jsonl` share it. `time`: when written.
void write_finding_record(std::ostream& out, const Finding& f, int rank, const std::string& time);
// diagnose --format jsonl: one finding record per finding, best first; rank
// is the finding's place among its host's findings.
void render_jsonl(const Report& r, std::ostream& out);
// One evidence/context line.
void write_fact(JsonWriter& w, const Fact& f);
// A cause as `kb show --format json` prints it.
void write_cause(JsonWriter& w, const Cause& c, bool with_evidence_model);

// One decoded TPM response code as `tpmdiag rc --format json` prints it.
void write_rc(JsonWriter& w, const rc::Decoded& d, const std::vector<const rc::Context*>& ctx);

// Whether to use colour: --color always|never|auto (auto = stdout is a TTY,
// NO_COLOR unset, TERM not "dumb").
bool want_color(const std::string& mode);

}  // namespace tpmdiag::cli
