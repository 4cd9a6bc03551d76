// Live receivers (issue 7): where messages come from.
//
//   Listener: a syslog receiver on UDP and TCP sockets. One thread runs an
//   epoll loop over non-blocking sockets: UDP datagrams are one message each
//   (recvmmsg, 64 at a time; kernel drops read from SO_RXQ_OVFL); each TCP
//   connection has its own StreamFramer (RFC 6587 octet counting or LF,
//   detected per frame) and keeps only its incomplete frame. A connection is
//   read at most once per loop turn, so a fast sender cannot starve others
//   and a silent one (half a frame, then nothing) costs only its buffer until
//   --idle-timeout closes it.
//
//   Follower: `tail -F` for files (rotation by rename, truncation, files that
//   appear later; polled every poll_interval) and a never-ending stdin.
//
// Both hand messages to a BatchBuilder and stop when stop() is called (safe
// from a signal handler): it sets the drain deadline shared with the
// processor; the receiver stops accepting, reads what the kernel already
// holds until then, hands the last batch over and returns from run(). The
// Listener counts what it does not hand over (IngestCounters): what the
// kernel still holds after the deadline is read and framed only to be counted
// (unread_datagrams, unread_frames; bytes left even then: unread_bytes), and
// the messages of connections refused over its cap (refused). The cap stays
// below the open-file limit, and running out of descriptors does not spin.
//
//   auto l = Listener::open(opts, counters, queue);   // binds; Result<...>
//   for (auto& a : (*l)->bound()) std::cerr << a << '\n';
//   std::thread t([&] { (*l)->run(); queue.close(); });
//   ... (*l)->stop();
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "live/processor.h"

namespace tpmdiag::live {

struct ListenOptions {
  std::vector<std::string> udp, tcp;  // ADDR:PORT, [ADDR6]:PORT or PORT (= 127.0.0.1:PORT)
  size_t max_frame = 64 * 1024;
  double idle_timeout = 300;          // seconds without a byte before a TCP connection is closed
  size_t max_connections = 4096;
  int udp_rcvbuf = 8 << 20;           // requested SO_RCVBUF (the kernel caps it at rmem_max)
  double drain_timeout = 0.8;         // seconds spent at stop() reading what the sockets still hold
};

class Listener {
 public:
  static Result<std::unique_ptr<Listener>> open(const ListenOptions& opts, IngestCounters& c, BatchQueue& q);
  ~Listener();
  // "udp 127.0.0.1:5514", "tcp 127.0.0.1:6514": the bound addresses (port 0 resolved).
  std::vector<std::string> bound() const;
  // The connection cap in force: --max-connections, lowered to stay below the
  // open-file limit (ulimit -n, raised to its hard limit when allowed).
  size_t max_connections() const;
  void run();
  // Async-signal-safe: sets the drain deadline (IngestCounters::request_stop)
  // and wakes run(), which reads what the sockets hold until then.
  void stop();

  struct Impl;

 private:
  explicit Listener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct WatchOptions {
  std::vector<std::string> paths;  // files; "-" = stdin
  size_t max_frame = 64 * 1024;
  double poll_interval = 0.2;      // seconds between checks of idle files
  bool from_end = false;           // skip what the files hold at start (tail -F); default: read it all
  std::string host;                // host for lines that do not name one (else: from the path)
  double drain_timeout = 0.8;      // seconds spent at stop() processing what was read
};

class Follower {
 public:
  Follower(const WatchOptions& opts, IngestCounters& c, BatchQueue& q);
  ~Follower();
  // Until stop(), or until stdin ends when stdin is the only input.
  void run();
  void stop();  // async-signal-safe, as Listener::stop()
  bool stopped() const;  // run() ended because of stop(), not end of input

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// SIGINT, SIGTERM and SIGHUP (unless ignored at start, as under nohup) call
// the receiver's stop(), so that it stops cleanly and the final stats are
// written; SIGPIPE is ignored (a closed stdout is seen as a write error and
// also stops the receiver).
void install_stop_signals(void (*stop)(void*), void* arg);
template <class Receiver>
void install_stop_signals(Receiver& r) {
  install_stop_signals([](void* p) { static_cast<Receiver*>(p)->stop(); }, &r);
}

}  // namespace tpmdiag::live
