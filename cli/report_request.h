// What POST /api/diagnose answers besides the JSON report (issue 17): the
// HTML case report (?format=html, the file `diagnose --format html` writes)
// and redaction (?redact=1, as --redact). Kept apart from the HTTP code, so
// the server only asks for the options and the body.
//
//   ReportRequest rq = report_request(req.get_param_value("format"), req.get_param_value("redact"));
//   if (!rq.error.empty()) -> 400 with rq.error
//   Run run(engine, rq.run_options(opts.run));
//   ...
//   ReportBody b = report_body(rq, report, engine);   // b.text, b.content_type, b.filename
#pragma once

#include <memory>
#include <string>

#include "pipeline/run.h"

namespace tpmdiag::cli {

struct ReportRequest {
  std::string format = "json";  // json | html
  std::shared_ptr<Redactor> redactor;  // set for redact=1
  std::string error;            // a bad value: one line for a 400 answer

  // opts with this request's redactor.
  RunOptions run_options(const RunOptions& opts) const;
};

// format: "", "json" or "html"; redact: "", "0" or "1".
ReportRequest report_request(const std::string& format, const std::string& redact);

struct ReportBody {
  std::string text, content_type, filename;  // filename: "" for JSON (shown, not saved)
};
ReportBody report_body(const ReportRequest& rq, const Report& r, const Engine& engine);

}  // namespace tpmdiag::cli
