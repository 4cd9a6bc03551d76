#include "cli/serve_app.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <sstream>

#include "cli/render.h"
#include "common/embedded.h"
#include "common/json_writer.h"

namespace tpmdiag::cli {

namespace {

using Clock = std::chrono::steady_clock;

// Only this origin's own files; no inline script or style, nothing external.
constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

constexpr const char* kJson = "application/json; charset=utf-8";

void send_error(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(error_json(message, status), kJson);
}

std::string content_type_of(std::string_view name) {
  auto ends = [&](std::string_view ext) { return name.ends_with(ext); };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".json")) return kJson;
  return "application/octet-stream";
}

std::string human_bytes(uint64_t n) {
  if (n >= (uint64_t{1} << 20) && n % (uint64_t{1} << 20) == 0) return std::to_string(n >> 20) + " MiB";
  if (n >= (uint64_t{1} << 10) && n % (uint64_t{1} << 10) == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + " bytes";
}

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

// A browser sends Origin on a cross-site POST; refuse those (CSRF). curl and
// other programs send none.
bool cross_origin(const httplib::Request& req) {
  if (!req.has_header("Origin")) return false;
  std::string origin = req.get_header_value("Origin");
  std::string host = req.get_header_value("Host");
  return host.empty() || (origin != "http://" + host && origin != "https://" + host);
}

void handle_diagnose(const Engine& engine, const ServeOptions& opts, const httplib::Request& req,
                     httplib::Response& res, const httplib::ContentReader& reader) {
  if (cross_origin(req)) {
    send_error(res, 403, "cross-origin request refused: use the page served by this server, or a program such as curl");
    return;
  }
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::seconds(opts.timeout_sec);
  size_t total = 0;
  bool too_big = false, too_slow = false;
  auto take = [&](size_t n) {
    total += n;
    if (total > opts.max_body) too_big = true;
    else if (Clock::now() > deadline) too_slow = true;
    return !too_big && !too_slow;
  };

  std::vector<std::pair<std::string, std::string>> uploads;  // name (shown in evidence), bytes
  std::string pasted;
  bool ok = true;
  // RFC 9112 6.3: a request with neither Content-Length nor Transfer-Encoding
  // has no body (httplib would wait for one until the timeout).
  if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) {
    // nothing to read
  } else if (req.is_multipart_form_data()) {
    std::vector<httplib::MultipartFormData> parts;
    ok = reader(
        [&](const httplib::MultipartFormData& h) {
          parts.push_back({h.name, {}, h.filename, h.content_type});
          return true;
        },
        [&](const char* d, size_t n) {
          if (!take(n)) return false;
          parts.back().content.append(d, n);
          return true;
        });
    for (auto& p : parts) {
      if (!p.filename.empty()) uploads.push_back({p.filename, std::move(p.content)});
      else if (p.name == "text") pasted += p.content;
    }
  } else {
    ok = reader([&](const char* d, size_t n) {
      if (!take(n)) return false;
      pasted.append(d, n);
      return true;
    });
  }
  if (!ok || too_big || too_slow) {
    if (too_big || res.status == 413)
      send_error(res, 413, "request body too large: the limit is " + human_bytes(opts.max_body) +
                               " (tpmdiag serve --max-body); send fewer or smaller files, or run "
                               "'tpmdiag diagnose' on them");
    else if (too_slow || Clock::now() - start >= std::chrono::seconds(opts.timeout_sec))
      send_error(res, 408, "request body not received within " + std::to_string(opts.timeout_sec) +
                               " s (tpmdiag serve --timeout)");
    else
      send_error(res, 400, "could not read the request body: malformed multipart/form-data, or the "
                           "connection closed early");
    res.set_header("Connection", "close");
    return;
  }

  if (!blank(pasted)) {
    std::string name = req.has_param("name") ? req.get_param_value("name") : "pasted";
    uploads.push_back({name.empty() ? "pasted" : name, std::move(pasted)});
  }
  if (uploads.empty()) {
    send_error(res, 400, "nothing to diagnose: send log lines as the body, or files as multipart/form-data");
    return;
  }
  // Diagnosed together, as `tpmdiag diagnose` does a folder: each upload is
  // sniffed by its first bytes (text, .gz, .tgz/.tar/.zip), all in memory.
  Run run(engine, opts.run);
  run.add_texts(std::move(uploads));
  Report r = std::move(run).finish();
  if (!r.any_input_read) {
    std::string why;
    for (const auto& in : r.inputs)
      if (!in.error.empty()) why += (why.empty() ? "" : "; ") + in.error;
    send_error(res, 400, "no input could be read: " + why);
    return;
  }
  std::ostringstream out;
  render_json(r, out, true);
  res.status = 200;
  res.set_header("X-Tpmdiag-Verdict", std::string(name(r.verdict)));
  res.set_content(out.str(), kJson);
}

}  // namespace

std::string error_json(const std::string& message, int status) {
  std::ostringstream out;
  JsonWriter w(out);
  w.begin_object().key("error").string(message).key("status").integer(status).end_object();
  out << '\n';
  return out.str();
}

std::string rc_json(uint32_t code, const std::vector<rc::Context>& context, const std::string& command) {
  // The shape of `tpmdiag rc --format json`: one writer for both.
  std::ostringstream out;
  JsonWriter w(out, 2);
  w.begin_array();
  write_rc(w, rc::decode(code), rc::find_context(context, code, command));
  w.end_array();
  out << '\n';
  return out.str();
}

void install_routes(httplib::Server& svr, const Engine& engine, const ServeOptions& opts) {
  // Context for /api/rc is a nice-to-have, as in `tpmdiag rc`: decode without it.
  auto context = std::make_shared<std::vector<rc::Context>>();
  if (std::string_view text = find_embedded("kb/rc_context.json"); !text.empty()) {
    auto loaded = rc::load_context(text);
    if (loaded) *context = std::move(*loaded);
    else std::cerr << "tpmdiag serve: warning: " << loaded.error().message << '\n';
  }

  svr.set_default_headers({
      {"Content-Security-Policy", kCsp},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Cross-Origin-Opener-Policy", "same-origin"},
      {"Cross-Origin-Resource-Policy", "same-origin"},
      {"Cache-Control", "no-store"},
  });
  svr.set_payload_max_length(opts.max_body);
  svr.set_read_timeout(opts.timeout_sec, 0);
  svr.set_write_timeout(opts.timeout_sec, 0);

  // No expect-100-continue handler: httplib 0.11 leaves the connection open
  // after refusing one and then reads the body as the next request. With the
  // default one the client sends the body and the reader below stops at
  // max_body with 413, closing the connection.

  svr.Get("/healthz", [&engine, &opts](const httplib::Request&, httplib::Response& res) {
    std::ostringstream out;
    JsonWriter w(out);
    w.begin_object();
    w.key("status").string("ok");
    w.key("version").string(TPMDIAG_VERSION);
    w.key("causes").integer(static_cast<int64_t>(engine.causes().size()));
    w.key("max_body").integer(static_cast<int64_t>(opts.max_body));
    w.end_object();
    out << '\n';
    res.set_content(out.str(), kJson);
  });

  svr.Get(R"(/api/rc/(.+))", [context](const httplib::Request& req, httplib::Response& res) {
    auto code = rc::parse_code(req.matches[1].str());
    if (!code) {
      send_error(res, 400, code.error().message + " (use hex like 0x9a2, decimal like 2466, or (0x9a2))");
      return;
    }
    std::string command = req.has_param("command") ? req.get_param_value("command") : "";
    res.set_content(rc_json(*code, *context, command), kJson);
  });

  svr.Post("/api/diagnose",
           [&engine, &opts](const httplib::Request& req, httplib::Response& res,
                            const httplib::ContentReader& reader) { handle_diagnose(engine, opts, req, res, reader); });

  // The page: web/NAME from the binary; "/" is index.html.
  svr.Get(R"(/([A-Za-z0-9][A-Za-z0-9._-]*)?)", [](const httplib::Request& req, httplib::Response& res) {
    std::string name = req.matches[1].str();
    if (name.empty()) name = "index.html";
    std::string_view data = find_embedded("web/" + name);
    if (data.empty()) {
      send_error(res, 404, "not found: /" + name);
      return;
    }
    res.set_content(data.data(), data.size(), content_type_of(name));
  });

  // Whatever httplib itself refuses (no route, bad request line, 413 before a
  // handler ran) gets a JSON body too; handlers' own errors are left alone.
  svr.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req,
                                                                httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string msg;
    switch (res.status) {
      case 404: msg = "not found: " + req.method + " " + req.path; break;
      case 405: msg = "method not allowed: " + req.method + " " + req.path; break;
      case 408: msg = "request not received in time"; break;
      case 413: msg = "request body too large (tpmdiag serve --max-body)"; break;
      case 414: msg = "request URI too long"; break;
      default: msg = "request refused (HTTP " + std::to_string(res.status) + ")"; break;
    }
    send_error(res, res.status, msg);
    return httplib::Server::HandlerResponse::Handled;
  }));

  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::bad_alloc&) {
      what = "out of memory while diagnosing; send less input at once";
    } catch (const std::exception& e) {
      what = std::string("internal error: ") + e.what();
    } catch (...) {
    }
    send_error(res, 500, what);
  });
}

}  // namespace tpmdiag::cli
