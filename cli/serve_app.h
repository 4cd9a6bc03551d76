// The HTTP side of `tpmdiag serve` (issue 10): the paste-your-logs page and
// its JSON API, on cpp-httplib.
//
//   auto engine = Engine::load({});                // once, at start
//   httplib::Server svr;
//   ServeOptions opts;                             // limits: body size, time
//   install_routes(svr, **engine, opts);           // engine must outlive svr
//   svr.listen("127.0.0.1", 8080);
//
// Routes:
//   GET  /                  web/index.html (embedded in the binary)
//   GET  /NAME              web/NAME: app.js, style.css, favicon.svg
//   POST /api/diagnose      body: raw log text (or a .gz), or multipart/form-data
//                           with file parts (any field name) and an optional
//                           "text" part; answers with the JSON report of
//                           `tpmdiag diagnose --format json`, status 200 whatever
//                           the verdict (header X-Tpmdiag-Verdict carries it)
//   GET  /api/rc/CODE       JSON of `tpmdiag rc --format json CODE`
//                           (?command=CreatePrimary narrows the ESXi context)
//   GET  /healthz           {"status": "ok", ...}
//
// Errors are JSON: {"error": "one line that says what and how to fix", "status": N}
// with 400 (bad code, empty or unreadable input), 403 (cross-origin POST),
// 404, 408 (body too slow), 413 (body over max_body), 500.
//
// Safety: every response carries a Content-Security-Policy that allows only
// this origin's own script and style (no inline script, no external source),
// nosniff, no-referrer and no-store. Request bodies are read into memory up to
// max_body and dropped with the response: nothing is written to disk, nothing
// is kept between requests. Handlers share only the const Engine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/run.h"
#include "kb/rc.h"

namespace httplib {
class Server;
}

namespace tpmdiag::cli {

struct ServeOptions {
  size_t max_body = size_t{32} << 20;  // bytes of request body; more is refused with 413
  int timeout_sec = 30;                // a read may stall this long, and the whole body
                                       // must arrive within it; then 408
  RunOptions run;                      // scan, diagnose and decompression limits
};

// The JSON of `tpmdiag rc --format json [--command COMMAND] CODE` for one code;
// context is kb/rc_context.json as rc::load_context() read it.
std::string rc_json(uint32_t code, const std::vector<rc::Context>& context, const std::string& command);

// {"error": message, "status": status}
std::string error_json(const std::string& message, int status);

void install_routes(httplib::Server& svr, const Engine& engine, const ServeOptions& opts);

}  // namespace tpmdiag::cli
