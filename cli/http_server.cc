#include "cli/http_server.h"

#include <signal.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "common/text.h"

namespace tpmdiag::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto kLinger = std::chrono::seconds(3);       // draining a refused request's rest
constexpr auto kAcceptPause = std::chrono::milliseconds(100);  // out of descriptors
constexpr auto kStopGrace = std::chrono::milliseconds(500);    // for running `full` handlers
constexpr size_t kReadAhead = 64 << 10;                  // what one read may add to a buffer

std::string human_bytes(uint64_t n) {
  if (n >= (uint64_t{1} << 20) && n % (uint64_t{1} << 20) == 0) return std::to_string(n >> 20) + " MiB";
  if (n >= (uint64_t{1} << 10) && n % (uint64_t{1} << 10) == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + " bytes";
}

// "NAME[:PORT]" or "[V6][:PORT]" -> name, port (-1: none; -2: malformed).
std::pair<std::string_view, int> split_host(std::string_view host) {
  std::string_view name = host, port;
  bool has_port = false;
  if (host.starts_with('[')) {
    auto close = host.find(']');
    if (close == std::string_view::npos) return {host, -2};
    name = host.substr(0, close + 1);
    std::string_view rest = host.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return {host, -2};
    has_port = !rest.empty();
    if (has_port) port = rest.substr(1);
  } else if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
    name = host.substr(0, colon);
    port = host.substr(colon + 1);
    has_port = true;
  }
  if (!has_port || port.empty()) return {name, -1};  // "name:" is "name" (RFC 3986)
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return {name, -2};
  return {name, std::stoi(std::string(port))};
}

// Runs `full` handlers; a fixed set of threads and a queue the server bounds.
class Workers {
 public:
  explicit Workers(unsigned n) {
    for (unsigned i = 0; i < n; ++i) threads_.emplace_back([this] { loop(); });
  }
  ~Workers() {
    drop_queued();
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void post(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }
  // The jobs are destroyed outside the lock: that may close connections.
  void drop_queued() {
    std::deque<std::function<void()>> dropped;
    std::lock_guard<std::mutex> lock(mu_);
    dropped.swap(jobs_);
  }
  // Waits up to `d` for the running jobs; returns how many still run.
  size_t wait_idle(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(mu_);
    idle_.wait_for(lock, d, [this] { return running_ == 0; });
    return running_;
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
        if (stop_) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
        ++running_;
      }
      job();
      job = nullptr;
      {
        std::lock_guard<std::mutex> lock(mu_);
        --running_;
      }
      idle_.notify_all();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_, idle_;
  std::deque<std::function<void()>> jobs_;
  size_t running_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

class Conn;

}  // namespace

class HttpServer::Impl {
 public:
  explicit Impl(Options o) : opt(std::move(o)), workers(std::max(1u, opt.threads)) {
    signals.add(SIGINT);
    signals.add(SIGTERM);
  }

  void accept();
  void do_stop();
  // A body slot was given back: let the next waiting request read its body.
  void release_slot();
  size_t max_slots() const { return 2 * size_t{std::max(1u, opt.threads)}; }
  HttpResponse error(int status, const std::string& message) const {
    if (h.error) return h.error(status, message);
    return HttpResponse{status, "text/plain; charset=utf-8", message + "\n", {}};
  }

  Options opt;
  Handlers h;
  Stats stats;
  std::vector<std::string> names_with_port;  // loopback names and the bound address
  int port = 0;
  bool stopping = false;

  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  asio::signal_set signals{ioc};
  asio::steady_timer accept_pause{ioc};
  std::unordered_set<Conn*> conns;             // open
  std::list<Conn*> idle;                       // waiting for a header or draining, oldest first
  std::deque<std::shared_ptr<Conn>> admission;  // header read, waiting for a body slot
  size_t slots_used = 0;
  Workers workers;  // last: joined before the rest goes
};

namespace {

// One connection, from accept to close; every method runs on the I/O thread
// except the `full` handler (see dispatch()).
class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(HttpServer::Impl& s, tcp::socket sock)
      : s_(s), sock_(std::move(sock)), timer_(s.ioc), buf_(s.opt.max_header_bytes + kReadAhead) {
    error_code ec;
    auto ep = sock_.remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string();
    sock_.set_option(tcp::no_delay(true), ec);
  }
  ~Conn() { close(); }

  void start() {
    s_.conns.insert(this);
    s_.stats.open = s_.conns.size();
    read_header();
  }

  // Idempotent; gives back what the connection held.
  void close() {
    if (closed_) return;
    closed_ = true;
    leave_idle();
    give_back_slot();
    ++gen_;
    timer_.cancel();
    error_code ec;
    sock_.shutdown(tcp::socket::shutdown_both, ec);
    sock_.close(ec);
    s_.conns.erase(this);
    s_.stats.open = s_.conns.size();
  }

  bool closed() const { return closed_; }

  // From the admission queue: a body slot is now this request's.
  void admitted() {
    holds_slot_ = true;
    disarm();
    read_body();
  }

 private:
  enum class Phase { header, admission, body, send, linger };

  std::shared_ptr<Conn> self() { return shared_from_this(); }

  // One timer per connection, re-armed for each phase; a stale expiry (from
  // an earlier arm) is told apart by its generation.
  void arm(Phase phase, std::chrono::steady_clock::duration d) {
    phase_ = phase;
    timed_out_ = false;
    timer_.expires_after(d);
    timer_.async_wait([self = self(), gen = ++gen_](error_code ec) {
      if (!ec && gen == self->gen_ && !self->closed_) self->on_timeout();
    });
  }
  void disarm() {
    ++gen_;
    timer_.cancel();
  }
  void on_timeout() {
    timed_out_ = true;
    error_code ec;
    switch (phase_) {
      case Phase::header:
      case Phase::body:
      case Phase::send:
        sock_.cancel(ec);  // the pending operation ends with operation_aborted
        break;
      case Phase::linger:
        close();
        break;
      case Phase::admission: {
        auto& q = s_.admission;
        q.erase(std::remove(q.begin(), q.end(), self()), q.end());
        ++s_.stats.busy;
        refuse(503, "server busy: every worker is diagnosing and " + std::to_string(q.size() + 1) +
                        " requests were waiting; try again in a moment (tpmdiag serve --threads)");
        break;
      }
    }
  }

  void enter_idle() {
    if (!in_idle_) idle_it_ = s_.idle.insert(s_.idle.end(), this);
    in_idle_ = true;
  }
  void leave_idle() {
    if (in_idle_) s_.idle.erase(idle_it_);
    in_idle_ = false;
  }
  void give_back_slot() {
    if (!holds_slot_) return;
    holds_slot_ = false;
    s_.release_slot();
  }

  void read_header() {
    req_ = HttpRequest{};
    req_.remote = remote_;
    resp_ = HttpResponse{};
    head_only_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(std::min<size_t>(s_.opt.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(s_.opt.max_body);
    if (buf_.size() == 0) buf_.shrink_to_fit();  // an idle connection holds no buffer
    enter_idle();
    arm(Phase::header, std::chrono::seconds(s_.opt.header_timeout_sec));
    http::async_read_header(sock_, buf_, *parser_,
                            [self = self()](error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(error_code ec) {
    leave_idle();
    disarm();
    if (closed_) return;
    if (ec) {
      if (timed_out_) {
        ++s_.stats.header_timeouts;
        if (buf_.size() == 0 && !parser_->got_some()) return close();  // silent or idle: nothing to answer
        return refuse(408, "request header not received within " + std::to_string(s_.opt.header_timeout_sec) +
                               " s (tpmdiag serve --header-timeout)");
      }
      if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
        ++s_.stats.too_large;
        return refuse(431, "request header too large: the limit is " + human_bytes(s_.opt.max_header_bytes) +
                               " with the request line (tpmdiag serve --max-header-size)");
      }
      if (ec == http::error::body_limit) {  // Content-Length over max_body: before reading any of it
        fill_request();
        return refuse_too_large();
      }
      if (ec == http::error::end_of_stream || ec == http::error::partial_message || !parser_->got_some())
        return close();  // the client went away
      return refuse(400, "malformed request: " + ec.message());
    }
    fill_request();
    auto& msg = parser_->get();
    if (size_t n = std::distance(msg.begin(), msg.end()); n > s_.opt.max_headers) {
      ++s_.stats.too_large;
      return refuse(431, "too many request header fields: " + std::to_string(n) + ", the limit is " +
                             std::to_string(s_.opt.max_headers) + " (tpmdiag serve --max-headers)");
    }
    std::string_view host = req_.header("Host");
    if (host.empty() && msg.version() >= 11) return refuse(400, "malformed request: HTTP/1.1 needs a Host header");
    if (!host.empty() && !host_allowed(host, s_.opt.allow_hosts, s_.names_with_port, s_.port)) {
      ++s_.stats.wrong_host;
      return refuse(421, "request for host '" + visible(host) + "' refused: this server answers to 127.0.0.1:" +
                             std::to_string(s_.port) + ", localhost:" + std::to_string(s_.port) +
                             " and its bound address (tpmdiag serve --allow-host NAME adds a name; this guards "
                             "against DNS rebinding)");
    }
    std::optional<HttpResponse> now;
    try {
      now = s_.h.header ? s_.h.header(req_) : std::nullopt;
    } catch (const std::exception& e) {
      now = s_.error(500, std::string("internal error: ") + e.what());
    } catch (...) {
      now = s_.error(500, "internal error");
    }
    if (now) return respond(std::move(*now), !req_.has_body);
    if (!s_.h.full) return respond(s_.error(404, "not found: " + req_.method + " " + req_.path), !req_.has_body);
    if (s_.slots_used < s_.max_slots()) {
      ++s_.slots_used;
      holds_slot_ = true;
      return read_body();
    }
    s_.admission.push_back(self());
    arm(Phase::admission, std::chrono::seconds(s_.opt.body_timeout_sec));
  }

  void fill_request() {
    auto& msg = parser_->get();
    req_.method = std::string(msg.method_string());
    head_only_ = msg.method() == http::verb::head;
    req_.target = std::string(msg.target());
    std::string_view target = req_.target;
    auto q = target.find('?');
    req_.path = percent_decode(target.substr(0, q), false);
    if (q != std::string_view::npos) {
      std::string_view query = target.substr(q + 1);
      while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (item.empty()) continue;
        auto eq = item.find('=');
        req_.params.emplace_back(percent_decode(item.substr(0, eq), true),
                                 eq == std::string_view::npos ? "" : percent_decode(item.substr(eq + 1), true));
      }
    }
    for (const auto& f : msg) req_.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    if (parser_->is_header_done()) {
      auto length = parser_->content_length();
      req_.has_body = parser_->chunked() || (length && *length > 0);
      req_.body_bytes = length.value_or(0);
    } else {  // refused as the header ended (a Content-Length over max_body): what it announced
      auto length = msg[http::field::content_length];
      req_.has_body = true;
      std::from_chars(length.data(), length.data() + length.size(), req_.body_bytes);
    }
    keep_alive_ = msg.keep_alive();
    http10_ = msg.version() < 11;
    auto expect = msg[http::field::expect];
    continue_ = iequals(std::string_view(expect.data(), expect.size()), "100-continue");
  }

  void read_body() {
    if (!req_.has_body) return dispatch();
    arm(Phase::body, std::chrono::seconds(s_.opt.body_timeout_sec));
    auto read = [self = self()] {
      http::async_read(self->sock_, self->buf_, *self->parser_,
                       [self](error_code ec, size_t) { self->on_body(ec); });
    };
    if (!continue_) return read();
    static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(sock_, asio::buffer(k100.data(), k100.size()),
                      [self = self(), read](error_code ec, size_t) {
                        if (ec) return self->on_body(ec);
                        read();
                      });
  }

  void on_body(error_code ec) {
    disarm();
    if (closed_) return;
    if (ec) {
      if (timed_out_) {
        ++s_.stats.body_timeouts;
        return refuse(408, "request body not received within " + std::to_string(s_.opt.body_timeout_sec) +
                               " s (tpmdiag serve --timeout)");
      }
      if (ec == http::error::body_limit) return refuse_too_large();
      if (ec == http::error::end_of_stream || ec == http::error::partial_message) return close();
      return refuse(400, "could not read the request body: " + ec.message());
    }
    req_.body = std::move(parser_->get().body());
    req_.body_bytes = req_.body.size();
    dispatch();
  }

  // The `full` handler on a worker. The connection is not read meanwhile, so
  // req_ is the worker's alone until the answer is posted back.
  void dispatch() {
    parser_.reset();
    s_.workers.post([self = self(), &s = s_]() mutable {
      HttpResponse r;
      try {
        r = s.h.full(self->req_);
      } catch (const std::bad_alloc&) {
        r = s.error(500, "out of memory while diagnosing; send less input at once");
      } catch (const std::exception& e) {
        r = s.error(500, std::string("internal error: ") + e.what());
      } catch (...) {  // a worker thread must not end the process
        r = s.error(500, "internal error");
      }
      asio::post(s.ioc, [self = std::move(self), r = std::move(r)]() mutable {
        self->req_.body = std::string();
        self->give_back_slot();
        self->respond(std::move(r), true);
      });
    });
  }

  void refuse_too_large() {
    ++s_.stats.too_large;
    refuse(413, "request body too large: the limit is " + human_bytes(s_.opt.max_body) +
                    " (tpmdiag serve --max-body); send fewer or smaller files, or run 'tpmdiag diagnose' on them");
  }

  // Answers and closes; what is left of the request is drained first.
  void refuse(int status, const std::string& message) {
    give_back_slot();
    respond(s_.error(status, message), false);
  }

  static void add_header(std::string& head, std::string_view name, std::string_view value) {
    auto clean = [&head](std::string_view s) {  // no header splitting, whatever a handler put in
      for (char c : s) head += (c == '\r' || c == '\n') ? ' ' : c;
    };
    clean(name);
    head += ": ";
    clean(value);
    head += "\r\n";
  }

  // `complete`: the whole request was read, so the connection may be kept.
  void respond(HttpResponse r, bool complete) {
    if (closed_) return;
    resp_ = std::move(r);
    close_after_ = !complete || !keep_alive_ || s_.stopping;
    drain_after_ = !complete;
    auto reason = http::obsolete_reason(http::int_to_status(static_cast<unsigned>(resp_.status)));
    head_ = "HTTP/1.1 " + std::to_string(resp_.status) + " " + std::string(reason.data(), reason.size()) + "\r\n";
    if (!resp_.content_type.empty()) add_header(head_, "Content-Type", resp_.content_type);
    for (const auto& [k, v] : resp_.headers) add_header(head_, k, v);
    add_header(head_, "Content-Length", std::to_string(resp_.body.size()));
    if (close_after_) add_header(head_, "Connection", "close");
    else if (http10_) add_header(head_, "Connection", "keep-alive");
    head_ += "\r\n";
    std::array<asio::const_buffer, 2> out{asio::buffer(head_),
                                          asio::buffer(resp_.body.data(), head_only_ ? 0 : resp_.body.size())};
    arm(Phase::send, std::chrono::seconds(s_.opt.body_timeout_sec));
    asio::async_write(sock_, out, [self = self()](error_code ec, size_t) { self->on_sent(ec); });
  }

  void on_sent(error_code ec) {
    disarm();
    ++s_.stats.requests;
    if (s_.opt.log) s_.opt.log(req_, resp_);
    if (closed_) return;
    if (ec) {
      if (timed_out_) ++s_.stats.body_timeouts;
      return close();
    }
    if (!close_after_) return read_header();
    if (drain_after_) return linger();
    close();
  }

  // As nginx's lingering close: a client still sending would get a reset on
  // close, losing the answer; read and drop its rest for a while first.
  void linger() {
    error_code ec;
    sock_.shutdown(tcp::socket::shutdown_send, ec);
    enter_idle();  // may be closed at once to make room
    arm(Phase::linger, kLinger);
    drain();
  }
  void drain() {
    buf_.consume(buf_.size());
    sock_.async_read_some(buf_.prepare(16 << 10), [self = self()](error_code ec, size_t n) {
      if (ec || self->closed_) return self->close();
      self->buf_.commit(n);
      self->drain();
    });
  }

  HttpServer::Impl& s_;
  tcp::socket sock_;
  asio::steady_timer timer_;
  beast::flat_buffer buf_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest req_;
  HttpResponse resp_;
  std::string head_, remote_;
  Phase phase_ = Phase::header;
  uint64_t gen_ = 0;
  bool timed_out_ = false, closed_ = false, holds_slot_ = false, in_idle_ = false;
  bool keep_alive_ = false, http10_ = false, continue_ = false, head_only_ = false;
  bool close_after_ = true, drain_after_ = false;
  std::list<Conn*>::iterator idle_it_;
};

}  // namespace

void HttpServer::Impl::accept() {
  acceptor.async_accept([this](error_code ec, tcp::socket sock) {
    if (stopping) return;
    if (ec) {
      // Out of descriptors (EMFILE, ENFILE) or memory: wait, do not spin.
      accept_pause.expires_after(kAcceptPause);
      accept_pause.async_wait([this](error_code e) {
        if (!e && !stopping) accept();
      });
      return;
    }
    if (conns.size() >= opt.max_connections) {
      if (idle.empty()) {
        ++stats.refused;
        error_code ignored;
        sock.close(ignored);
        return accept();
      }
      ++stats.evicted;
      idle.front()->close();
    }
    std::make_shared<Conn>(*this, std::move(sock))->start();
    accept();
  });
}

void HttpServer::Impl::release_slot() {
  --slots_used;
  while (!stopping && slots_used < max_slots() && !admission.empty()) {
    auto next = std::move(admission.front());
    admission.pop_front();
    if (next->closed()) continue;
    ++slots_used;
    next->admitted();
  }
}

void HttpServer::Impl::do_stop() {
  if (stopping) return;
  stopping = true;
  error_code ec;
  acceptor.close(ec);
  signals.cancel(ec);
  accept_pause.cancel();
  admission.clear();
  workers.drop_queued();
  std::vector<Conn*> open(conns.begin(), conns.end());
  for (Conn* c : open) c->close();
}

// --- HttpServer ------------------------------------------------------------------

HttpServer::HttpServer(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpServer::~HttpServer() = default;

void HttpServer::handle(Handlers handlers) { impl_->h = std::move(handlers); }

Result<int> HttpServer::bind(const std::string& host, int port) {
  auto& s = *impl_;
  error_code ec;
  tcp::resolver resolver(s.ioc);
  auto found = resolver.resolve(host, std::to_string(port), tcp::resolver::numeric_service, ec);
  if (ec) return make_error(host + ": " + ec.message(), ErrorKind::io);
  std::string why = "no address";
  for (const auto& entry : found) {
    tcp::acceptor a(s.ioc);
    // SO_REUSEADDR only: a restarted server binds at once, and no second
    // server can share the port (SO_REUSEPORT would let it take half).
    a.open(entry.endpoint().protocol(), ec);
    if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) a.bind(entry.endpoint(), ec);
    if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      why = ec.message();
      continue;
    }
    s.port = a.local_endpoint().port();
    s.acceptor = std::move(a);
    s.names_with_port = {"127.0.0.1", "localhost", "[::1]"};
    auto add = [&s](std::string name) {
      if (std::find_if(s.names_with_port.begin(), s.names_with_port.end(),
                       [&](const std::string& n) { return iequals(n, name); }) == s.names_with_port.end())
        s.names_with_port.push_back(std::move(name));
    };
    auto addr = entry.endpoint().address();
    if (!addr.is_unspecified()) {  // 0.0.0.0 is no name: --allow-host says which names to answer
      add(addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string());
      if (host.find(':') == std::string::npos) add(host);
    }
    return s.port;
  }
  return make_error(host + ":" + std::to_string(port) + ": " + why, ErrorKind::io);
}

size_t HttpServer::run() {
  auto& s = *impl_;
  s.signals.async_wait([&s](error_code ec, int) {
    if (!ec) s.do_stop();
  });
  s.accept();
  s.ioc.run();
  return s.workers.wait_idle(kStopGrace);
}

void HttpServer::stop() {
  asio::post(impl_->ioc, [s = impl_.get()] { s->do_stop(); });
}

HttpServer::Stats HttpServer::stats() const {
  Stats out = impl_->stats;
  out.in_flight = impl_->slots_used;
  return out;
}

// --- requests and helpers ---------------------------------------------------------

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

bool HttpRequest::has_header(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); });
}

std::string_view HttpRequest::param(std::string_view name) const {
  for (const auto& [k, v] : params)
    if (k == name) return v;
  return {};
}

bool HttpRequest::has_param(std::string_view name) const {
  return std::any_of(params.begin(), params.end(), [&](const auto& p) { return p.first == name; });
}

bool host_allowed(std::string_view host, const std::vector<std::string>& names,
                  const std::vector<std::string>& names_with_port, int port) {
  auto [name, host_port] = split_host(host);
  if (host_port == -2 || name.empty()) return false;
  for (const auto& n : names) {
    auto [allowed, allowed_port] = split_host(n);
    if (iequals(name, allowed) && (allowed_port < 0 || allowed_port == (host_port < 0 ? 80 : host_port)))
      return true;
  }
  int p = host_port < 0 ? 80 : host_port;
  // A copy to capture: clang before 16 cannot capture a structured binding.
  std::string_view host_name = name;
  return p == port && std::any_of(names_with_port.begin(), names_with_port.end(),
                                  [&](const std::string& n) { return iequals(host_name, n); });
}

std::string percent_decode(std::string_view s, bool plus_is_space) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += plus_is_space && s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

}  // namespace tpmdiag::cli
