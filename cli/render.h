// Renderers: the report for people (text) and for programs (JSON, JSON Lines).
// The JSON shape is documented in docs/json-report.md; keep it backward compatible.
#pragma once

#include <ostream>

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
  int width = 100;
  bool verbose = false;  // fix steps of uncertain findings, files not read
};

void render_text(const Report& r, std::ostream& out, const TextStyle& style);

void render_json(const Report& r, std::ostream& out, bool pretty);

// One entry of findings[] (also the body of a JSON Lines "finding" record).
void write_finding(JsonWriter& w, const Finding& f);
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
