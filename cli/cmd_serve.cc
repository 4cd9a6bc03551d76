// tpmdiag serve: a web page to paste logs into, and its JSON API (issue 10).
// The HTTP routes live in cli/serve_app.{h,cc}, the server (deadlines,
// limits, the worker pool) in cli/http_server.{h,cc}; this file is the
// command: options, binding, the access log, and the stop.
#include <sys/resource.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "cli/common.h"
#include "cli/serve_app.h"
#include "common/text.h"

namespace tpmdiag::cli {

namespace {

const char* kServeHelp = R"(Usage: tpmdiag serve [OPTIONS]

Serves a web page where you paste ESXi log lines (or drop log files, rotated
.gz logs) and get the diagnosis: the causes as cards with their confidence,
the evidence lines (file:line) with TPM return codes decoded, the fix steps,
the public references, the harmless TPM lines explained, and the raw JSON.
Drop a vm-support .tgz too, if it is under --max-body.
The page, its script and style are inside the binary: no CDN, no fonts, no
network access needed. Open the printed address in a browser.

  tpmdiag serve                          # http://127.0.0.1:8080/
  tpmdiag serve --listen 127.0.0.1:0     # any free port (printed on stderr)
  tpmdiag serve --listen 0.0.0.0:8080    # reachable from the network: see Safety

The same diagnosis as JSON, for programs (the body of `tpmdiag diagnose
--format json`; HTTP 200 whatever the verdict, which is also in the header
X-Tpmdiag-Verdict):

  curl --data-binary @hostd.log http://127.0.0.1:8080/api/diagnose
  curl --data-binary @vmkernel.0.gz 'http://127.0.0.1:8080/api/diagnose?name=vmkernel.0.gz'
  curl -F file=@vmkernel.log -F file=@hostd.log http://127.0.0.1:8080/api/diagnose
  curl http://127.0.0.1:8080/api/rc/0x9a2     # as `tpmdiag rc --format json 0x9a2`
  curl http://127.0.0.1:8080/healthz

Use --data-binary (not -d, which drops line breaks). A raw body is one input
named "pasted" (or ?name=NAME); multipart file parts keep their file names,
and a part named "text" is pasted text. Each input may be plain text, a .gz,
or an archive (.tgz, .tar, .zip: a vm-support bundle), told apart by its
first bytes; archive members show as "bundle.tgz!var/run/log/hostd.log".
Errors are JSON {"error", "status"}: 400 empty or unreadable input or a bad
code, 403 a cross-site request from a browser, 405 another method on a known
path, 408 header or body too slow, 413 body over --max-body, 421 a Host that
does not name this server, 431 header over --max-header-size or
--max-headers, 503 every worker busy for --timeout. See docs/web.md.

Safety: logs are untrusted text. The page shows every piece of it as text
(never as HTML) and the server sends a Content-Security-Policy that allows
only its own script. Uploads are processed in memory and dropped with the
response: nothing is written to disk or kept. There is no login and no TLS,
so the default address is 127.0.0.1 (this machine only); bind another
address only on a network you trust. A request must name the server in its
Host header (127.0.0.1, localhost or [::1] with the port, the bound address,
or a name given with --allow-host), so a web page cannot reach it through DNS
rebinding.

Slow or hostile clients: a connection must send each request header within
--header-timeout and its body within --timeout; past --max-connections the
connection idle the longest is closed to make room. The page, /api/rc and
/healthz never wait for diagnoses (--threads of them run at once).

SIGINT/SIGTERM (Ctrl+C) stop the server at once: connections are closed, a
diagnosis still running after 0.5 s is abandoned; exit 0.
Exit codes: 0 stopped cleanly, 2 usage error, bad rule/cause file, or the
address could not be bound.

Limits (docs/limits.md, docs/web.md): SIZE is bytes, or with K, M, G
(1M = 1048576).

Options)";

struct Listen {
  std::string host;
  int port = 0;
};

// "HOST:PORT", "[V6]:PORT", or "PORT" alone (host 127.0.0.1).
bool parse_listen(const std::string& s, Listen& out, std::string& err) {
  std::string host = "127.0.0.1", port = s;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find("]:");
    if (close == std::string::npos) {
      err = "--listen '" + s + "': an IPv6 address needs brackets and a port, e.g. [::1]:8080";
      return false;
    }
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else if (auto colon = s.rfind(':'); colon != std::string::npos) {
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.empty()) host = "127.0.0.1";
  }
  bool digits = !port.empty() && port.size() <= 5 &&
                std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); });
  if (!digits || std::stoi(port) > 65535) {
    err = "--listen '" + s + "': expected HOST:PORT with a port 0..65535, e.g. 127.0.0.1:8080";
    return false;
  }
  out.host = host;
  out.port = std::stoi(port);
  return true;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// A Host name or address, with an optional port: no spaces, controls or paths.
bool plausible_host(const std::string& h) {
  return !h.empty() && std::none_of(h.begin(), h.end(), [](unsigned char c) {
    return c <= ' ' || c == 0x7f || c == '/' || c == '?' || c == '#' || c == '@';
  });
}

// Each connection is a descriptor: keep --max-connections under the limit on
// open files (raising it if allowed), with room for the listener, stdio and
// the engine's files; else accept() fails and room cannot be made.
void fit_open_files(unsigned& max_connections) {
  constexpr rlim_t kReserve = 64;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlim_t need = rlim_t{max_connections} + kReserve;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? need : std::min(need, rl.rlim_max);
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
    unsigned fit = rl.rlim_cur > kReserve + 1 ? static_cast<unsigned>(rl.rlim_cur - kReserve) : 1;
    std::cerr << "tpmdiag serve: warning: --max-connections " << max_connections << " is above the open-file limit ("
              << rl.rlim_cur << ", ulimit -n); using " << fit << '\n';
    max_connections = fit;
  }
}

}  // namespace

int cmd_serve(const Args& args) {
  CommonOptions common;
  ServeOptions so;
  so.run.limits.max_decompressed = uint64_t{1} << 30;
  std::string listen = "127.0.0.1:8080";
  bool quiet = false;
  auto& http = so.http;
  po::options_description d(kServeHelp);
  d.add_options()
      ("listen", po::value(&listen)->default_value(listen),
       "HOST:PORT to serve on; PORT alone means 127.0.0.1:PORT; port 0 picks a free one")
      ("allow-host", po::value(&http.allow_hosts)->value_name("NAME"),
       "NAME: also answer requests whose Host is NAME (any port) or NAME:PORT, e.g. the name a reverse "
       "proxy or DNS gives the server; repeatable")
      ("header-timeout", po::value(&http.header_timeout_sec)->default_value(http.header_timeout_sec),
       "SECONDS: each request header must arrive within this (from the connection's start or the previous "
       "answer); else 408, or the connection is closed if it sent nothing")
      ("timeout", po::value(&http.body_timeout_sec)->default_value(http.body_timeout_sec),
       "SECONDS: each request body must arrive within this, and the answer be taken; else 408");
  LimitOptions lim;
  lim.size(d, "max-body", http.max_body, 1 << 10, uint64_t{16} << 30,
           "SIZE: largest request body; a larger Content-Length gets 413 at once, a chunked body when it passes",
           "32MiB");
  lim.size(d, "max-header-size", http.max_header_bytes, 1 << 10, 1 << 20,
           "SIZE: request line and header fields together; more gets 431", "16KiB");
  lim.count(d, "max-headers", http.max_headers, 1, 10000, "N: header fields per request; more gets 431");
  lim.count(d, "max-connections", http.max_connections, 1, 1 << 20,
            "N: connections open at once; past it the one idle the longest is closed, or the new one");
  lim.count(d, "threads", http.threads, 1, 256,
            "N: diagnoses run at once; 2 x N requests may hold a body (up to --max-body each), others wait");
  add_input_limit_options(d, lim, so.run);
  d.add_options()
      ("min-confidence", po::value(&so.run.diagnose.min_confidence)->default_value(0.2, "0.2"),
       "X: report findings with confidence >= X (0..1)")
      ("quiet,q", po::bool_switch(&quiet), "do not log requests on stderr")
      ("help,h", "show this help");
  add_data_options(d, common);
  po::variables_map vm;
  if (!parse_args("serve", args, d, nullptr, vm)) return 2;
  if (vm.count("help")) {
    print_help(d);
    return 0;
  }
  auto usage = [](const std::string& msg) {
    std::cerr << "tpmdiag serve: error: " << msg << " (see 'tpmdiag serve --help')\n";
    return 2;
  };
  Listen where;
  std::string err;
  if (!lim.apply("serve", vm) || !check_min_confidence("serve", so.run.diagnose.min_confidence)) return 2;
  if (!parse_listen(listen, where, err)) return usage(err);
  if (http.header_timeout_sec < 1 || http.header_timeout_sec > 86400)
    return usage("--header-timeout must be 1 to 86400 seconds");
  if (http.body_timeout_sec < 1 || http.body_timeout_sec > 86400)
    return usage("--timeout must be 1 to 86400 seconds");
  for (const auto& h : http.allow_hosts)
    if (!plausible_host(h)) return usage("--allow-host '" + visible(h) + "': expected a host name or address, e.g. tpm.example.com");
  fit_open_files(http.max_connections);

  if (!quiet)
    http.log = [](const HttpRequest& req, const HttpResponse& res) {
      // Never the content: logs may hold host names and secrets. The path is
      // decoded, so escaped: %0A must not start a forged line, nor %1b reach
      // the terminal.
      auto shown = [](const std::string& s) { return s.empty() ? std::string("-") : visible(s); };
      std::cerr << "tpmdiag serve: " << shown(req.remote) << " " << shown(req.method) << " " << shown(req.path) << " "
                << res.status << " (" << req.body_bytes << " bytes in, " << res.body.size() << " out)\n";
    };
  // First, so that SIGINT/SIGTERM while the engine loads stop the server
  // cleanly once it runs, rather than kill it.
  HttpServer srv(http);
  auto engine = load_engine(common);  // once: every request shares it (read-only)
  if (!engine) return 2;
  install_routes(srv, *engine, so);
  auto port = srv.bind(where.host, where.port);
  if (!port) {
    std::cerr << "tpmdiag serve: error: cannot listen on " << visible(listen) << ": " << port.error().message
              << " (try another port, or port 0 for any free one)\n";
    return 2;
  }
  std::string shown = where.host.find(':') != std::string::npos ? "[" + where.host + "]" : where.host;
  std::cerr << "tpmdiag serve: listening on http://" << shown << ":" << *port << "/ (Ctrl+C to stop)\n";
  if (!is_loopback(where.host))
    std::cerr << "tpmdiag serve: warning: " << where.host
              << " is reachable from other machines; there is no login and no TLS. Clients must use a Host the "
                 "server knows: the bound address, or a name given with --allow-host\n";

  size_t running = srv.run();
  auto st = srv.stats();
  std::cerr << "tpmdiag serve: stopped (" << st.requests << " answers; connections refused at --max-connections "
            << st.refused << ", closed to make room " << st.evicted << "; header timeouts " << st.header_timeouts
            << ", body timeouts " << st.body_timeouts << ")\n";
  if (running > 0) {
    // A diagnosis cannot be interrupted; end the process instead of waiting.
    std::cerr << "tpmdiag serve: " << running << " diagnoses still running were abandoned\n";
    std::_Exit(0);
  }
  return 0;
}

TPMDIAG_COMMAND("serve", "[--listen H:P]", "web page to paste logs into, and a JSON API", cmd_serve, 28)

}  // namespace tpmdiag::cli
