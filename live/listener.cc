#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/sock_diag.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "live/framing.h"
#include "live/receivers.h"

namespace tpmdiag::live {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kReadChunk = 256 * 1024;
constexpr unsigned kUdpBatch = 64;
constexpr uint64_t kStopTag = ~0ull;
// Descriptors kept free beyond the connection cap: stdio, the reserve, what
// libraries open later.
constexpr size_t kFdReserve = 16;
// What is read from a refused connection to count its messages.
constexpr size_t kRefuseBudget = 1u << 20;
// After the drain, what the kernel still holds is read and counted, not
// processed, for this long at most (a sender that never stops cannot hold
// the exit). Enough to frame the socket buffers of a few busy connections
// (6 MiB each, and as much again from the sender's) on a loaded machine.
constexpr auto kCountTime = std::chrono::milliseconds(300);
constexpr auto kQuiet = std::chrono::milliseconds(30);

// Descriptors open in this process now.
size_t open_fds() {
  size_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
    return n - 1;  // the directory's own
  }
  return 64;  // no /proc: a guess on the safe side
}

// The connection cap: --max-connections, but below the open-file limit
// (raised to its hard limit first when allowed), so that accept() does not
// run out of descriptors in normal operation.
size_t connection_cap(size_t wanted) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return wanted;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit up = rl;
    up.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &up) == 0) rl = up;
  }
  if (rl.rlim_cur == RLIM_INFINITY) return wanted;
  size_t used = open_fds() + kFdReserve;
  size_t room = rl.rlim_cur > used ? static_cast<size_t>(rl.rlim_cur) - used : 1;
  return std::max<size_t>(1, std::min(wanted, room));
}

std::string addr_text(const sockaddr_storage& ss, bool with_port) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
    // append, not `"[" + ...`: GCC 12 -Wrestrict false positive at -O3.
    if (with_port) return std::string("[").append(host).append("]:").append(std::to_string(port));
  }
  return with_port ? std::string(host) + ":" + std::to_string(port) : std::string(host);
}

// "ADDR:PORT", "[ADDR6]:PORT", ":PORT" or "PORT" (address defaults to 127.0.0.1).
Result<sockaddr_storage> parse_addr(const std::string& spec, int socktype, socklen_t& len) {
  std::string host = "127.0.0.1", port = spec;
  if (!spec.empty() && spec[0] == '[') {
    auto close = spec.find(']');
    if (close == std::string::npos || close + 1 >= spec.size() || spec[close + 1] != ':')
      return make_error("bad address '" + spec + "': use [ADDR6]:PORT");
    host = spec.substr(1, close - 1);
    port = spec.substr(close + 2);
  } else if (auto colon = spec.rfind(':'); colon != std::string::npos) {
    if (colon > 0) host = spec.substr(0, colon);
    port = spec.substr(colon + 1);
  }
  if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535)
    return make_error("bad address '" + spec + "': the port must be a number 0-65535 (ADDR:PORT)");
  addrinfo hints{};
  hints.ai_socktype = socktype;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return make_error("bad address '" + spec + "': " + gai_strerror(rc));
  sockaddr_storage ss{};
  std::memcpy(&ss, res->ai_addr, res->ai_addrlen);
  len = static_cast<socklen_t>(res->ai_addrlen);
  freeaddrinfo(res);
  return ss;
}

}  // namespace

struct Listener::Impl {
  struct Socket {
    int fd = -1;
    bool tcp = false;
    std::string name;
    uint32_t drops = 0;  // the kernel's drop count for the socket, as last seen
  };
  struct Conn {
    int fd = -1;
    uint64_t id = 0;
    StreamFramer framer;
    std::string pending;
    Clock::time_point last;
    Conn(size_t max_frame) : framer(StreamFramer::Mode::syslog_tcp, max_frame) {}
  };

  ListenOptions opts;
  IngestCounters& c;
  BatchQueue& q;
  BatchBuilder builder;
  int ep = -1, efd = -1;
  int reserve_fd = -1;  // given up to accept() when out of descriptors
  size_t cap = 0;       // connections at most
  bool accept_paused = false;
  Clock::time_point resume_accept;
  std::vector<Socket> sockets;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns;  // by id (epoll tag)
  std::unordered_map<std::string, uint64_t> udp_peers;        // peer address -> source id
  uint64_t next_id = 1;
  std::vector<char> scratch;
  // recvmmsg buffers
  std::vector<char> ubuf;
  std::vector<mmsghdr> msgs;
  std::vector<iovec> iovs;
  std::vector<sockaddr_storage> peers;
  std::vector<char> ctrl;
  size_t ubuf_each = 0, ctrl_each = 0;

  Impl(const ListenOptions& o, IngestCounters& cc, BatchQueue& qq) : opts(o), c(cc), q(qq), builder(qq, cc) {}
  ~Impl() {
    for (auto& [id, cn] : conns) ::close(cn->fd);
    for (auto& s : sockets) ::close(s.fd);
    if (ep >= 0) ::close(ep);
    if (efd >= 0) ::close(efd);
    if (reserve_fd >= 0) ::close(reserve_fd);
  }

  Status bind_one(const std::string& spec, bool tcp) {
    socklen_t len = 0;
    auto addr = parse_addr(spec, tcp ? SOCK_STREAM : SOCK_DGRAM, len);
    if (!addr) return addr.error();
    int fd = ::socket(addr->ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return make_error(std::string("socket: ") + std::strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (!tcp) {
      setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
      int rb = opts.udp_rcvbuf;
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&*addr), len) != 0) {
      int e = errno;
      ::close(fd);
      return make_error(std::string(tcp ? "tcp " : "udp ") + spec + ": cannot bind: " + std::strerror(e));
    }
    if (tcp && ::listen(fd, 1024) != 0) {
      int e = errno;
      ::close(fd);
      return make_error("tcp " + spec + ": cannot listen: " + std::strerror(e));
    }
    sockaddr_storage got{};
    socklen_t gl = sizeof got;
    getsockname(fd, reinterpret_cast<sockaddr*>(&got), &gl);
    sockets.push_back({fd, tcp, std::string(tcp ? "tcp " : "udp ") + addr_text(got, true), 0});
    return ok_status();
  }

  Status setup() {
    ep = epoll_create1(EPOLL_CLOEXEC);
    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ep < 0 || efd < 0) return make_error(std::string("epoll/eventfd: ") + std::strerror(errno));
    for (const auto& s : opts.udp)
      if (auto st = bind_one(s, false); !st) return st;
    for (const auto& s : opts.tcp)
      if (auto st = bind_one(s, true); !st) return st;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kStopTag;
    epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
    for (size_t i = 0; i < sockets.size(); ++i) {
      ev.data.u64 = i;  // socket index; connections use ids >= 1<<32
      epoll_ctl(ep, EPOLL_CTL_ADD, sockets[i].fd, &ev);
    }
    scratch.resize(kReadChunk);
    ubuf_each = std::min<size_t>(opts.max_frame, 65535) + 1;
    ctrl_each = CMSG_SPACE(sizeof(uint32_t));
    ubuf.resize(ubuf_each * kUdpBatch);
    ctrl.resize(ctrl_each * kUdpBatch);
    msgs.resize(kUdpBatch);
    iovs.resize(kUdpBatch);
    peers.resize(kUdpBatch);
    reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    cap = connection_cap(opts.max_connections);
    c.conn_max.store(cap);
    return ok_status();
  }

  static constexpr uint64_t kConnBase = 1ull << 32;

  void accept_all(Socket& s) {
    for (int i = 0; i < 64; ++i) {
      sockaddr_storage peer{};
      socklen_t pl = sizeof peer;
      int fd = accept4(s.fd, reinterpret_cast<sockaddr*>(&peer), &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if ((errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) && refuse_without_fd(s))
          continue;
        return;  // EAGAIN, or accepting is paused
      }
      if (conns.size() >= cap) {
        refuse(fd, false);
        continue;
      }
      auto cn = std::make_unique<Conn>(opts.max_frame);
      cn->fd = fd;
      cn->id = kConnBase + next_id++;
      cn->last = Clock::now();
      builder.source(cn->id, "tcp:" + addr_text(peer, true), addr_text(peer, false));
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.u64 = cn->id;
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
      conns.emplace(cn->id, std::move(cn));
      c.conn_open.fetch_add(1);
      c.conn_total.fetch_add(1);
    }
  }

  // Reads what the kernel holds for a stream (up to `budget` bytes, until
  // `until`) and frames it only to count the messages; returns them. At the
  // end of the stream the last unterminated line counts too; `eof` tells.
  uint64_t count_stream(int fd, StreamFramer& fr, std::string& pending, size_t budget, bool& eof,
                        Clock::time_point until = Clock::time_point::max()) {
    uint64_t n = 0;
    auto on = [&](std::string_view, bool) { ++n; };
    eof = false;
    while (budget > 0 && Clock::now() < until) {
      ssize_t got = ::read(fd, scratch.data(), std::min(scratch.size(), budget));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        eof = got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
        break;
      }
      c.bytes.fetch_add(static_cast<uint64_t>(got), std::memory_order_relaxed);
      budget -= static_cast<size_t>(got);
      feed_pending(fr, pending, scratch.data(), static_cast<size_t>(got), on);
    }
    if (eof) {
      fr.finish(pending.data(), pending.size(), on);
      c.partial.fetch_add(fr.partial_frames, std::memory_order_relaxed);
      pending.clear();
    }
    return n;
  }

  // A connection not taken (over the cap, or still in the backlog at stop):
  // what it already sent is read and its messages counted (refused, or
  // shutdown_unread_frames); a half-sent frame counts as one. Closed with
  // nothing unread, so the peer sees an orderly close.
  void refuse(int fd, bool at_stop) {
    StreamFramer fr(StreamFramer::Mode::syslog_tcp, opts.max_frame);
    std::string pending;
    bool eof = false;
    uint64_t n = count_stream(fd, fr, pending, kRefuseBudget, eof);
    if (!eof && !pending.empty()) ++n;
    (at_stop ? c.unread_frames : c.refused).fetch_add(n, std::memory_order_relaxed);
    if (at_stop) c.unread_bytes.fetch_add(queued_bytes(fd), std::memory_order_relaxed);
    c.conn_rejected.fetch_add(1);
    ::close(fd);
  }

  // Out of descriptors, accept() fails with the connection left in the
  // backlog, and the listening socket stays readable: epoll would wake at once,
  // for ever (a spin). The classic way out: give the reserve descriptor up,
  // accept, refuse, take the reserve back. When even that fails (the whole
  // system is out of files), accepting is paused for 100 ms.
  bool refuse_without_fd(Socket& s) {
    if (reserve_fd >= 0) {
      ::close(reserve_fd);
      int fd = accept4(s.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) refuse(fd, false);
      reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd >= 0 && reserve_fd >= 0) return true;
    }
    for (auto& l : sockets)
      if (l.tcp) epoll_ctl(ep, EPOLL_CTL_DEL, l.fd, nullptr);
    accept_paused = true;
    resume_accept = Clock::now() + std::chrono::milliseconds(100);
    return false;
  }

  void resume_accepting() {
    accept_paused = false;
    for (size_t i = 0; i < sockets.size(); ++i)
      if (sockets[i].tcp) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = i;
        epoll_ctl(ep, EPOLL_CTL_ADD, sockets[i].fd, &ev);
      }
  }

  void frame(Conn& cn, const char* data, size_t n) {
    auto on = [&](std::string_view m, bool cut) {
      if (cut) c.cut.fetch_add(1, std::memory_order_relaxed);
      builder.message(cn.id, m);
    };
    uint64_t o0 = cn.framer.octet_frames, l0 = cn.framer.lf_frames;
    feed_pending(cn.framer, cn.pending, data, n, on);
    if (cn.pending.capacity() > 4 * kReadChunk && cn.pending.size() < kReadChunk) cn.pending.shrink_to_fit();
    c.octet_frames.fetch_add(cn.framer.octet_frames - o0, std::memory_order_relaxed);
    c.lf_frames.fetch_add(cn.framer.lf_frames - l0, std::memory_order_relaxed);
  }

  // Closes a connection; eof = the peer ended the stream (deliver an
  // unterminated last line), otherwise its incomplete frame is dropped.
  void close_conn(uint64_t id, bool eof) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    Conn& cn = *it->second;
    if (eof) {
      uint64_t l0 = cn.framer.lf_frames;
      cn.framer.finish(cn.pending.data(), cn.pending.size(),
                       [&](std::string_view m, bool) { builder.message(cn.id, m); });
      c.lf_frames.fetch_add(cn.framer.lf_frames - l0);
      c.partial.fetch_add(cn.framer.partial_frames);
    } else if (!cn.pending.empty()) {
      c.partial.fetch_add(1);
    }
    builder.close_source(cn.id);
    epoll_ctl(ep, EPOLL_CTL_DEL, cn.fd, nullptr);
    ::close(cn.fd);
    conns.erase(it);
    c.conn_open.fetch_sub(1);
  }

  // One read; returns whether bytes came (the connection may be closed after).
  bool read_conn(Conn& cn) {
    ssize_t n = ::read(cn.fd, scratch.data(), scratch.size());
    if (n > 0) {
      c.bytes.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      cn.last = Clock::now();
      frame(cn, scratch.data(), static_cast<size_t>(n));
      return true;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return false;
    close_conn(cn.id, n == 0);
    return false;
  }

  // The kernel's drop count for a UDP socket (sk_drops) comes with each
  // datagram read (SO_RXQ_OVFL), as it was when that datagram was queued:
  // drops after the last one queued are seen only by asking (SO_MEMINFO).
  void note_drops(Socket& s, uint32_t total) {
    if (total > s.drops) c.udp_drops.fetch_add(total - s.drops);
    s.drops = std::max(s.drops, total);
  }
  void ask_drops() {
    for (auto& s : sockets)
      if (!s.tcp && s.fd >= 0) {
        uint32_t mem[SK_MEMINFO_VARS] = {};
        socklen_t len = sizeof mem;
        if (getsockopt(s.fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 && len > SK_MEMINFO_DROPS * sizeof(uint32_t))
          note_drops(s, mem[SK_MEMINFO_DROPS]);
      }
  }

  // Reads up to `rounds` recvmmsg batches; returns datagrams read. With
  // `discard` (the drain at stop is over) they are only counted as unread.
  size_t read_udp(Socket& s, int rounds, bool discard = false) {
    size_t total = 0;
    for (int r = 0; r < rounds; ++r) {
      for (unsigned i = 0; i < kUdpBatch; ++i) {
        iovs[i] = {ubuf.data() + i * ubuf_each, ubuf_each};
        msgs[i].msg_hdr = {};
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &peers[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        msgs[i].msg_hdr.msg_control = ctrl.data() + i * ctrl_each;
        msgs[i].msg_hdr.msg_controllen = ctrl_each;
      }
      int got = recvmmsg(s.fd, msgs.data(), kUdpBatch, MSG_DONTWAIT, nullptr);
      if (got <= 0) break;
      for (int i = 0; i < got; ++i) {
        auto& h = msgs[i].msg_hdr;
        for (cmsghdr* cm = CMSG_FIRSTHDR(&h); cm; cm = CMSG_NXTHDR(&h, cm)) {
          if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_RXQ_OVFL) {
            uint32_t v;
            std::memcpy(&v, CMSG_DATA(cm), sizeof v);
            note_drops(s, v);
          }
        }
        if (discard) {
          c.unread_datagrams.fetch_add(1, std::memory_order_relaxed);
          c.bytes.fetch_add(msgs[i].msg_len, std::memory_order_relaxed);
          continue;
        }
        size_t len = msgs[i].msg_len;
        bool cut = (h.msg_flags & MSG_TRUNC) || len > opts.max_frame;
        if (len > opts.max_frame) len = opts.max_frame;
        if (cut) c.cut.fetch_add(1, std::memory_order_relaxed);
        c.bytes.fetch_add(msgs[i].msg_len, std::memory_order_relaxed);
        const char* p = static_cast<const char*>(iovs[i].iov_base);
        while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r' || p[len - 1] == '\0')) --len;
        if (len == 0) continue;
        std::string peer = addr_text(peers[i], false);
        auto it = udp_peers.find(peer);
        if (it == udp_peers.end()) {
          if (udp_peers.size() >= 65536) {
            for (auto& [k, id] : udp_peers) builder.close_source(id);
            udp_peers.clear();
          }
          uint64_t id = kConnBase + next_id++;
          builder.source(id, "udp:" + peer, peer);
          it = udp_peers.emplace(peer, id).first;
        }
        builder.message(it->second, std::string_view(p, len));
      }
      total += static_cast<size_t>(got);
      if (got < static_cast<int>(kUdpBatch)) break;
    }
    return total;
  }

  void expire_idle() {
    if (opts.idle_timeout <= 0) return;
    auto now = Clock::now();
    auto limit = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opts.idle_timeout));
    std::vector<uint64_t> idle;
    for (auto& [id, cn] : conns)
      if (now - cn->last > limit) idle.push_back(id);
    for (uint64_t id : idle) {
      c.idle_timeouts.fetch_add(1);
      close_conn(id, false);
    }
  }

  // Bytes the kernel holds for a TCP socket, not yet read (FIONREAD).
  static uint64_t queued_bytes(int fd) {
    int n = 0;
    return ioctl(fd, FIONREAD, &n) == 0 && n > 0 ? static_cast<uint64_t>(n) : 0;
  }

  // At stop: until the drain deadline, read what the kernel already holds and
  // have it processed; then, for kCountTime at most, read the rest only to
  // count it; what is left after that is counted in bytes. Connections still
  // in the accept backlog are refused, their messages counted.
  void drain() {
    epoll_ctl(ep, EPOLL_CTL_DEL, efd, nullptr);  // stays readable: it would wake every wait below
    auto deadline = c.deadline();
    auto backlog_until = std::max(deadline, Clock::now()) + kCountTime;
    for (auto& s : sockets)
      if (s.tcp) {
        while (Clock::now() < backlog_until) {
          int fd = accept4(s.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0 && (errno == EMFILE || errno == ENFILE) && reserve_fd >= 0) {
            ::close(std::exchange(reserve_fd, -1));
            continue;
          }
          if (fd < 0) break;
          refuse(fd, true);
        }
        ::close(s.fd);
        s.fd = -1;
      }
    // Round robin until the deadline: each UDP socket and each connection
    // one read a turn, so that a flood on one does not starve the others.
    for (bool more = true; more && Clock::now() < deadline;) {
      more = false;
      for (auto& s : sockets)
        if (!s.tcp) more = read_udp(s, 4) > 0 || more;
      std::vector<uint64_t> ids;
      for (auto& [id, cn] : conns) ids.push_back(id);
      for (uint64_t id : ids) {
        auto it = conns.find(id);
        if (it != conns.end() && Clock::now() < deadline) more = read_conn(*it->second) || more;
      }
      builder.flush();
    }
    // Past the deadline: count what is still there. Reading a connection lets
    // its sender's kernel send what it still held, which comes a moment
    // later: every socket is read dry, then again as more comes, until none
    // has had anything for kQuiet.
    auto count_until = Clock::now() + kCountTime;
    auto count = [&](uint64_t tag) {
      if (tag < kConnBase) {
        if (!sockets[tag].tcp) read_udp(sockets[tag], 16, true);
        return;
      }
      auto it = conns.find(tag);
      if (it == conns.end()) return;
      bool eof = false;
      Conn& cn = *it->second;
      c.unread_frames.fetch_add(count_stream(cn.fd, cn.framer, cn.pending, 16u << 20, eof, count_until));
      if (eof) close_conn(tag, false);
    };
    for (size_t i = 0; i < sockets.size(); ++i) count(i);
    std::vector<uint64_t> ids;
    for (auto& [id, cn] : conns) ids.push_back(id);
    for (uint64_t id : ids) count(id);
    std::vector<epoll_event> evs(256);
    for (auto now = Clock::now(); now < count_until; now = Clock::now()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(count_until - now).count();
      int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()),
                         static_cast<int>(std::min<int64_t>(kQuiet.count(), left + 1)));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      for (int i = 0; i < n; ++i) count(evs[i].data.u64);
    }
    for (auto& [id, cn] : conns) c.unread_bytes.fetch_add(queued_bytes(cn->fd));
    ids.clear();
    for (auto& [id, cn] : conns) ids.push_back(id);
    for (uint64_t id : ids) close_conn(id, false);
    ask_drops();  // every drop until now, including those after the last datagram read
    for (auto& s : sockets)
      if (s.fd >= 0) {
        ::close(s.fd);
        s.fd = -1;
      }
    builder.flush();
  }

  void run() {
    std::vector<epoll_event> evs(256);
    auto next_idle = Clock::now() + std::chrono::seconds(1);
    bool stopping = false;
    while (!stopping) {
      auto wake = accept_paused ? std::min(next_idle, resume_accept) : next_idle;
      int timeout = static_cast<int>(
          std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(wake - Clock::now()).count()));
      int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), timeout);
      if (n < 0 && errno != EINTR) break;
      // A stop is seen before the other events of the same turn: from then
      // on, drain() alone reads, within its bounds.
      for (int i = 0; i < n; ++i) stopping = stopping || evs[i].data.u64 == kStopTag;
      if (stopping) break;
      for (int i = 0; i < n; ++i) {
        uint64_t tag = evs[i].data.u64;
        if (tag < kConnBase) {
          Socket& s = sockets[tag];
          if (s.tcp) accept_all(s);
          else read_udp(s, 4);
          continue;
        }
        auto it = conns.find(tag);
        if (it == conns.end()) continue;
        if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read_conn(*it->second);
      }
      builder.flush();
      if (accept_paused && Clock::now() >= resume_accept) resume_accepting();
      if (Clock::now() >= next_idle) {
        ask_drops();
        expire_idle();
        builder.flush();
        next_idle = Clock::now() + std::chrono::seconds(1);
      }
    }
    drain();
  }
};

Result<std::unique_ptr<Listener>> Listener::open(const ListenOptions& opts, IngestCounters& c, BatchQueue& q) {
  auto impl = std::make_unique<Impl>(opts, c, q);
  if (auto s = impl->setup(); !s) return s.error();
  return std::unique_ptr<Listener>(new Listener(std::move(impl)));
}

Listener::Listener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Listener::~Listener() = default;

std::vector<std::string> Listener::bound() const {
  std::vector<std::string> out;
  for (const auto& s : impl_->sockets) out.push_back(s.name);
  return out;
}

void Listener::run() { impl_->run(); }

size_t Listener::max_connections() const { return impl_->cap; }

void Listener::stop() {
  impl_->c.request_stop(impl_->opts.drain_timeout);
  uint64_t one = 1;
  ssize_t r = ::write(impl_->efd, &one, sizeof one);
  (void)r;
}


}  // namespace tpmdiag::live
