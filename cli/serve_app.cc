#include "cli/serve_app.h"

#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "cli/http_multipart.h"
#include "cli/render.h"
#include "cli/report_request.h"
#include "common/embedded.h"
#include "common/json_writer.h"

namespace tpmdiag::cli {

namespace {

// Only this origin's own files; no inline script or style, nothing external.
constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

constexpr const char* kJson = "application/json; charset=utf-8";

// On every answer, errors included.
HttpResponse secured(HttpResponse r) {
  static const std::pair<std::string, std::string> kHeaders[] = {
      {"Content-Security-Policy", kCsp},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Cross-Origin-Opener-Policy", "same-origin"},
      {"Cross-Origin-Resource-Policy", "same-origin"},
      {"Cache-Control", "no-store"},
  };
  r.headers.insert(r.headers.begin(), std::begin(kHeaders), std::end(kHeaders));
  return r;
}

HttpResponse json(int status, std::string body) { return HttpResponse{status, kJson, std::move(body), {}}; }

HttpResponse error(int status, const std::string& message) { return json(status, error_json(message, status)); }

HttpResponse not_allowed(const HttpRequest& req, const char* allow) {
  HttpResponse r = error(405, "method not allowed: " + req.method + " " + req.path + " (use " + allow + ")");
  r.headers.emplace_back("Allow", allow);
  return r;
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

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

// "/NAME" of a page file: [A-Za-z0-9][A-Za-z0-9._-]*, or "/" alone.
bool page_path(std::string_view path) {
  if (!path.starts_with('/')) return false;
  std::string_view name = path.substr(1);
  auto word = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return name.empty() || (word(name.front()) && std::all_of(name.begin(), name.end(), [&](char c) {
                            return word(c) || c == '.' || c == '_' || c == '-';
                          }));
}

// A browser sends Origin on a cross-site POST; refuse those (CSRF). curl and
// other programs send none.
bool cross_origin(const HttpRequest& req) {
  if (!req.has_header("Origin")) return false;
  std::string_view origin = req.header("Origin");
  std::string host(req.header("Host"));
  return host.empty() || (origin != "http://" + host && origin != "https://" + host);
}

std::string healthz_json(const Engine& engine, const ServeOptions& opts, const HttpServer::Stats& st) {
  std::ostringstream out;
  JsonWriter w(out);
  w.begin_object();
  w.key("status").string("ok");
  w.key("version").string(TPMDIAG_VERSION);
  w.key("causes").integer(static_cast<int64_t>(engine.causes().size()));
  w.key("max_body").integer(static_cast<int64_t>(opts.http.max_body));
  auto n = [](uint64_t v) { return static_cast<int64_t>(v); };
  w.key("requests").integer(n(st.requests));
  w.key("diagnosing").integer(n(st.in_flight));
  w.key("connections").begin_object();
  w.key("open").integer(n(st.open));
  w.key("refused").integer(n(st.refused));
  w.key("evicted").integer(n(st.evicted));
  w.key("header_timeouts").integer(n(st.header_timeouts));
  w.key("body_timeouts").integer(n(st.body_timeouts));
  w.key("too_large").integer(n(st.too_large));
  w.key("wrong_host").integer(n(st.wrong_host));
  w.key("busy").integer(n(st.busy));
  w.end_object();
  w.end_object();
  out << '\n';
  return out.str();
}

// The uploads of a request, named: file parts by their file names, the
// "text" part or a raw body as "pasted" (or ?name=). nullopt: malformed.
std::optional<std::vector<std::pair<std::string, std::string>>> uploads_of(HttpRequest& req, std::string& err) {
  std::vector<std::pair<std::string, std::string>> uploads;
  std::string pasted;
  std::string_view type = req.header("Content-Type");
  if (is_multipart(type)) {
    auto parts = parse_multipart(type, req.body, err);
    if (!parts) return std::nullopt;
    // The largest file keeps the body's buffer, cut in place; the others are
    // copied. So a request holds about one body, not two.
    std::optional<size_t> largest;
    for (size_t i = 0; i < parts->size(); ++i)
      if (!(*parts)[i].filename.empty() && (!largest || (*parts)[i].content.size() > (*parts)[*largest].content.size()))
        largest = i;
    std::optional<size_t> slot;  // the largest file's place in uploads
    for (size_t i = 0; i < parts->size(); ++i) {
      const auto& p = (*parts)[i];
      if (p.filename.empty()) {
        if (p.name == "text") pasted.append(p.content);
        continue;
      }
      if (i == largest) slot = uploads.size();
      uploads.emplace_back(p.filename, i == largest ? std::string() : std::string(p.content));
    }
    if (slot) {
      std::string_view content = (*parts)[*largest].content;
      size_t offset = static_cast<size_t>(content.data() - req.body.data()), size = content.size();
      std::string& own = uploads[*slot].second;
      own = std::move(req.body);
      own.erase(0, offset);
      own.resize(size);
    }
    req.body = std::string();
  } else {
    pasted = std::move(req.body);
  }
  if (!blank(pasted)) {
    std::string name(req.param("name"));
    uploads.emplace_back(name.empty() ? "pasted" : name, std::move(pasted));
  }
  return uploads;
}

HttpResponse diagnose(const Engine& engine, const ServeOptions& opts, HttpRequest& req) {
  // ?format=html: the case report file; ?redact=1: as --redact (cli/report_request.h).
  ReportRequest rq = report_request(std::string(req.param("format")), std::string(req.param("redact")));
  if (!rq.error.empty()) return error(400, rq.error);
  std::string err;
  auto uploads = uploads_of(req, err);
  if (!uploads) return error(400, "could not read the request body: " + err);
  if (uploads->empty())
    return error(400, "nothing to diagnose: send log lines as the body, or files as multipart/form-data");
  // Diagnosed together, as `tpmdiag diagnose` does a folder: each upload is
  // sniffed by its first bytes (text, .gz, .tgz/.tar/.zip), all in memory.
  Run run(engine, rq.run_options(opts.run));
  run.add_texts(std::move(*uploads));
  Report r = std::move(run).finish();
  if (!r.any_input_read) {
    std::string why;
    for (const auto& in : r.inputs)
      if (!in.error.empty()) why += (why.empty() ? "" : "; ") + in.error;
    return error(400, "no input could be read: " + why);
  }
  ReportBody body = report_body(rq, r, engine);
  HttpResponse res{200, body.content_type, std::move(body.text), {}};
  res.headers.emplace_back("X-Tpmdiag-Verdict", std::string(name(r.verdict)));
  if (!body.filename.empty())
    res.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + body.filename + "\"");
  return res;
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

void install_routes(HttpServer& srv, const Engine& engine, const ServeOptions& opts) {
  // Context for /api/rc is a nice-to-have, as in `tpmdiag rc`: decode without it.
  auto context = std::make_shared<std::vector<rc::Context>>();
  if (std::string_view text = find_embedded("kb/rc_context.json"); !text.empty()) {
    auto loaded = rc::load_context(text);
    if (loaded) *context = std::move(*loaded);
    else std::cerr << "tpmdiag serve: warning: " << loaded.error().message << '\n';
  }

  // On the I/O thread: everything but a diagnosis is answered here, at once.
  auto route = [&engine, &opts, &srv, context](const HttpRequest& req) -> std::optional<HttpResponse> {
    const std::string& path = req.path;
    bool get = req.method == "GET" || req.method == "HEAD";
    if (path == "/api/diagnose") {
      if (req.method != "POST") return not_allowed(req, "POST");
      if (cross_origin(req))
        return error(403, "cross-origin request refused: use the page served by this server, or a program such as curl");
      return std::nullopt;  // read the body, diagnose on a worker
    }
    if (path == "/healthz") {
      if (!get) return not_allowed(req, "GET");
      return json(200, healthz_json(engine, opts, srv.stats()));
    }
    if (path.starts_with("/api/rc/") && path.size() > 8) {
      if (!get) return not_allowed(req, "GET");
      auto code = rc::parse_code(path.substr(8));
      if (!code) return error(400, code.error().message + " (use hex like 0x9a2, decimal like 2466, or (0x9a2))");
      return json(200, rc_json(*code, *context, std::string(req.param("command"))));
    }
    if (page_path(path)) {  // the page: web/NAME from the binary; "/" is index.html
      std::string name = path == "/" ? "index.html" : path.substr(1);
      std::string_view data = find_embedded("web/" + name);
      if (data.empty()) return error(404, "not found: /" + name);
      if (!get) return not_allowed(req, "GET");
      return HttpResponse{200, content_type_of(name), std::string(data), {}};
    }
    return error(404, "not found: " + req.method + " " + path);
  };

  srv.handle({
      .header = [route](const HttpRequest& req) -> std::optional<HttpResponse> {
        auto r = route(req);
        if (r) return secured(std::move(*r));
        return r;
      },
      .full = [&engine, &opts](HttpRequest& req) { return secured(diagnose(engine, opts, req)); },
      .error = [](int status, const std::string& message) { return secured(error(status, message)); },
  });
}

}  // namespace tpmdiag::cli
