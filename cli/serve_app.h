// The routes of `tpmdiag serve` (issues 10, 20): the paste-your-logs page and
// its JSON API, on the small server of cli/http_server.h.
//
//   auto engine = Engine::load({});                // once, at start
//   ServeOptions opts;                             // limits: body, header, time, connections
//   HttpServer srv(opts.http);
//   install_routes(srv, **engine, opts);           // engine must outlive srv
//   srv.bind("127.0.0.1", 8080);
//   srv.run();
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
//   GET  /healthz           {"status": "ok", ...} with the server's counters
// HEAD works wherever GET does. The page, /api/rc and /healthz are answered
// on the server's I/O thread at once; only diagnoses wait for a worker.
//
// Errors are JSON: {"error": "one line that says what and how to fix", "status": N}
// with 400 (bad code, empty or unreadable input), 403 (cross-origin POST),
// 404, 405 (a known path, another method), 408 (header or body too slow),
// 413 (body over max_body), 421 (Host not this server), 431 (header too
// large), 500, 503 (every worker busy for too long).
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

#include "cli/http_server.h"
#include "kb/rc.h"
#include "pipeline/run.h"

namespace tpmdiag::cli {

struct ServeOptions {
  HttpServer::Options http;  // body size, deadlines, header limits, connections, threads, hosts
  RunOptions run;            // scan, diagnose and decompression limits
};

// The JSON of `tpmdiag rc --format json [--command COMMAND] CODE` for one code;
// context is kb/rc_context.json as rc::load_context() read it.
std::string rc_json(uint32_t code, const std::vector<rc::Context>& context, const std::string& command);

// {"error": message, "status": status}
std::string error_json(const std::string& message, int status);

void install_routes(HttpServer& srv, const Engine& engine, const ServeOptions& opts);

}  // namespace tpmdiag::cli
