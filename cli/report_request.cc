#include "cli/report_request.h"

#include <sstream>

#include "cli/render.h"
#include "pipeline/redact.h"

namespace tpmdiag::cli {

RunOptions ReportRequest::run_options(const RunOptions& opts) const {
  RunOptions o = opts;
  o.redactor = redactor;
  return o;
}

ReportRequest report_request(const std::string& format, const std::string& redact) {
  ReportRequest rq;
  if (!format.empty()) rq.format = format;
  if (rq.format != "json" && rq.format != "html")
    rq.error = "unknown format '" + visible(format) + "': use json or html";
  else if (redact != "" && redact != "0" && redact != "1")
    rq.error = "unknown redact '" + visible(redact) + "': use 1 (replace host names, addresses, ... by tokens) or 0";
  if (!rq.error.empty() || redact != "1") return rq;
  auto spec = RedactSpec::builtin();
  if (!spec) rq.error = spec.error().message;
  else rq.redactor = std::make_shared<Redactor>(**spec);
  return rq;
}

ReportBody report_body(const ReportRequest& rq, const Report& r, const Engine& engine) {
  std::ostringstream out;
  if (rq.format == "html") {
    render_html(r, out, report_meta(engine.knowledge(), rq.redactor.get()));
    return {out.str(), "text/html; charset=utf-8", "tpmdiag-report.html"};
  }
  render_json(r, out, true, rq.redactor != nullptr);
  return {out.str(), "application/json; charset=utf-8", ""};
}

}  // namespace tpmdiag::cli
