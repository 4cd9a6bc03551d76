// tpmdiag serve: a web page to paste logs into, and its JSON API (issue 10).
// The HTTP routes live in cli/serve_app.{h,cc}; this file is the command:
// options, binding, and a clean stop on SIGINT/SIGTERM.
#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <cctype>
#include <mutex>
#include <thread>

#include "cli/common.h"
#include "cli/serve_app.h"

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
code, 403 a cross-site request from a browser, 408 body too slow, 413 body
over --max-body. See docs/web.md.

Safety: logs are untrusted text. The page shows every piece of it as text
(never as HTML) and the server sends a Content-Security-Policy that allows
only its own script. Uploads are processed in memory and dropped with the
response: nothing is written to disk or kept. There is no login and no TLS,
so the default address is 127.0.0.1 (this machine only); bind another
address only on a network you trust.

SIGINT/SIGTERM (Ctrl+C) stop the server: exit 0.
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

}  // namespace

int cmd_serve(const Args& args) {
  CommonOptions common;
  ServeOptions so;
  so.run.limits.max_decompressed = uint64_t{1} << 30;
  std::string listen = "127.0.0.1:8080";
  unsigned threads = 4;
  bool quiet = false;
  po::options_description d(kServeHelp);
  d.add_options()
      ("listen", po::value(&listen)->default_value(listen),
       "HOST:PORT to serve on; PORT alone means 127.0.0.1:PORT; port 0 picks a free one")
      ("timeout", po::value(&so.timeout_sec)->default_value(so.timeout_sec),
       "SECONDS: a read may stall this long and a request body must arrive within it; else 408");
  LimitOptions lim;
  lim.size(d, "max-body", so.max_body, 1 << 10, uint64_t{16} << 30,
           "SIZE: largest request body; larger requests get 413", "32MiB");
  lim.count(d, "threads", threads, 1, 256, "N: requests handled at once (each may hold up to --max-body in memory)");
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
    std::cout << d << '\n';
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
  if (so.timeout_sec < 1) return usage("--timeout must be at least 1 second");

  auto engine = load_engine(common);  // once: every request shares it (read-only)
  if (!engine) return 2;

  // Signals go to one thread that stops the server; block them everywhere
  // else (the pool threads inherit this mask).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  httplib::Server svr;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // httplib's default also sets SO_REUSEPORT, which lets a second server bind
  // the same port and take half the connections; keep only SO_REUSEADDR.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  install_routes(svr, *engine, so);
  std::mutex log_mutex;
  if (!quiet)
    svr.set_logger([&log_mutex](const httplib::Request& req, const httplib::Response& res) {
      std::lock_guard<std::mutex> lock(log_mutex);
      // Never the content: logs may hold host names and secrets.
      std::string in = req.has_header("Content-Length") ? req.get_header_value("Content-Length") : "0";
      std::cerr << "tpmdiag serve: " << req.remote_addr << " " << req.method << " " << req.path << " "
                << res.status << " (" << in << " bytes in, " << res.body.size() << " out)\n";
    });

  int port = where.port;
  if (port == 0) port = svr.bind_to_any_port(where.host);
  else if (!svr.bind_to_port(where.host, port)) port = -1;
  if (port <= 0) {
    std::cerr << "tpmdiag serve: error: cannot listen on " << listen
              << ": address in use or not available (try another port, or port 0 for any free one)\n";
    return 2;
  }
  std::string shown = where.host.find(':') != std::string::npos ? "[" + where.host + "]" : where.host;
  std::cerr << "tpmdiag serve: listening on http://" << shown << ":" << port << "/ (Ctrl+C to stop)\n";
  if (!is_loopback(where.host))
    std::cerr << "tpmdiag serve: warning: " << where.host
              << " is reachable from other machines; there is no login and no TLS\n";

  std::thread stopper([&svr, &stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    svr.stop();
  });
  bool ok = svr.listen_after_bind();
  // listen_after_bind returns on stop(); if it returned on its own, wake the stopper.
  pthread_kill(stopper.native_handle(), SIGTERM);
  stopper.join();
  std::cerr << "tpmdiag serve: stopped\n";
  return ok ? 0 : 2;
}

TPMDIAG_COMMAND("serve", "[--listen H:P]", "web page to paste logs into, and a JSON API", cmd_serve, 28)

}  // namespace tpmdiag::cli
