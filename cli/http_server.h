// A small HTTP/1.1 server for `tpmdiag serve` that holds under slow and
// hostile clients, as nginx does (issue 20). Boost.Beast parses, Boost.Asio
// does the I/O; neither shows in this header.
//
//   HttpServer::Options o;                  // limits and deadlines, below
//   o.threads = 4;                          // workers for the slow handler
//   HttpServer srv(o);
//   srv.handle({
//       // I/O thread, as soon as the header is read (no body yet); must not
//       // block. Answer now, or std::nullopt: read the body, then call `full`.
//       .header = [](const HttpRequest& r) -> std::optional<HttpResponse> {
//         if (r.path == "/healthz") return HttpResponse{200, "text/plain", "ok\n"};
//         return std::nullopt;
//       },
//       // a worker thread, with the body read (at most max_body bytes)
//       .full = [](HttpRequest& r) { return HttpResponse{200, "text/plain", std::move(r.body)}; },
//       // the body of the server's own refusals (400, 408, 413, 421, 431, 503, 500)
//       .error = [](int status, const std::string& msg) { return HttpResponse{status, "text/plain", msg}; },
//   });
//   if (auto port = srv.bind("127.0.0.1", 0); !port) fail(port.error().message);
//   srv.run();                              // until SIGINT/SIGTERM or stop()
//
// One I/O thread (the caller of run()) accepts, reads, parses, keeps the
// timers, writes, and runs `header`; so the page and /healthz never wait for
// the workers. Per connection it enforces:
//   - a header deadline (from the connection's start, or the end of its last
//     answer, to the end of the header): a slow header gets 408, a silent
//     connection is closed;
//   - at most max_header_bytes of header (request line included): 431 as
//     soon as it is passed; at most max_headers fields: 431 (bounded by the
//     size, so counted once the header is in);
//   - the Host header names this server (bind() adds the loopback names and
//     the bound address with its port; allow_hosts adds more): else 421;
//   - a Content-Length over max_body: 413 before any of the body is read; a
//     chunked body is counted as it arrives: 413 when it passes max_body;
//   - a body deadline: the whole body within body_timeout, else 408; the
//     answer must be taken within it too.
// Connections: kept alive between requests (HEAD answered as GET without the
// body); at most max_connections. At the cap, the connection idle longest
// (waiting for a header, or draining) is closed to make room, so slow or idle
// clients cannot lock others out; when none is idle, the new one is closed.
// Bodies: at most 2 x threads requests hold a body (reading it, queued or
// running); the others wait, header read, without reading their body, and
// get 503 after body_timeout. A refused request's unread body is drained for
// up to 3 s before closing, so the client reads the answer, not a reset.
// Everything refused is counted in stats().
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace tpmdiag::cli {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...; answer "HEAD" as "GET": the server sends no body
  std::string target;  // as sent: "/api/rc/%280x9a2%29?command=X"
  std::string path;    // its path, percent-decoded: "/api/rc/(0x9a2)"
  std::vector<std::pair<std::string, std::string>> params;   // the query, decoded ('+' is a space)
  std::vector<std::pair<std::string, std::string>> headers;  // in the order sent
  std::string body;    // empty in `header`
  std::string remote;  // the client's address
  bool has_body = false;       // a Content-Length above 0, or chunked
  uint64_t body_bytes = 0;     // the body's size as read (or as announced when not read)

  // The first header or parameter of that name (headers: any case), or "".
  std::string_view header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  std::string_view param(std::string_view name) const;
  bool has_param(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type, -Length, Connection
};

class HttpServer {
 public:
  struct Options {
    size_t max_body = size_t{32} << 20;  // bytes of request body
    int header_timeout_sec = 10;         // the whole header within this
    int body_timeout_sec = 30;           // the whole body within this; also to send the answer
    size_t max_header_bytes = 16 << 10;  // request line and header fields together
    unsigned max_headers = 100;          // header fields
    unsigned max_connections = 512;      // open at once (see above)
    unsigned threads = 4;                // workers running `full`
    std::vector<std::string> allow_hosts;  // more Host names: "NAME" (any port) or "NAME:PORT"
    // Called on the I/O thread once each answer is sent (or fails to be);
    // a request refused before its header was parsed has an empty method.
    std::function<void(const HttpRequest&, const HttpResponse&)> log;
  };
  struct Handlers {
    std::function<std::optional<HttpResponse>(const HttpRequest&)> header;
    std::function<HttpResponse(HttpRequest&)> full;  // may take the body
    std::function<HttpResponse(int status, const std::string& message)> error;
  };
  // Read from the I/O thread (a `header` handler) or after run().
  struct Stats {
    uint64_t requests = 0;          // answers sent
    uint64_t open = 0;              // connections open now
    uint64_t refused = 0;           // closed at once at max_connections
    uint64_t evicted = 0;           // closed at max_connections to make room
    uint64_t header_timeouts = 0;   // header not complete in time
    uint64_t body_timeouts = 0;     // body not complete (or answer not taken) in time
    uint64_t too_large = 0;         // 413 and 431
    uint64_t wrong_host = 0;        // 421
    uint64_t busy = 0;              // 503: no body slot in time
    uint64_t in_flight = 0;         // requests holding a body slot now
  };

  explicit HttpServer(Options options);
  ~HttpServer();  // joins the workers
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void handle(Handlers handlers);
  // Listens on HOST:PORT (a name, IPv4 or IPv6 address; port 0 for any free
  // one); returns the port.
  Result<int> bind(const std::string& host, int port);
  // Serves until SIGINT or SIGTERM (or stop()). Then closes every connection
  // and waits at most 0.5 s for running `full` handlers; returns how many
  // still run. If not 0, end the process (std::_Exit) without destroying the
  // server or what those handlers use: they cannot be interrupted.
  size_t run();
  // From the I/O thread (a handler) or a signal: stop serving.
  void stop();
  Stats stats() const;

  class Impl;  // http_server.cc

 private:
  std::unique_ptr<Impl> impl_;
};

// Whether a Host header value names this server: one of `names` ("NAME"
// matches any port, "NAME:PORT" that port), or one of `names_with_port`
// with `port` (a Host without a port means port 80). Names in any case;
// IPv6 in brackets: "[::1]:8080".
bool host_allowed(std::string_view host, const std::vector<std::string>& names,
                  const std::vector<std::string>& names_with_port, int port);

// "%2Fa+b" -> "/a b" (plus_is_space) or "/a+b"; a bad escape is kept as is.
std::string percent_decode(std::string_view s, bool plus_is_space);

}  // namespace tpmdiag::cli
