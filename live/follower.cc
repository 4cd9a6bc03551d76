#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "live/framing.h"
#include "live/receivers.h"
#include "parsers/inputs.h"

namespace tpmdiag::live {

namespace {
constexpr size_t kReadChunk = 256 * 1024;
constexpr size_t kMaxPerTurn = 8u << 20;  // bytes read from one file before looking at the others
}  // namespace

struct Follower::Impl {
  struct File {
    std::string path;
    int fd = -1;
    dev_t dev = 0;
    ino_t ino = 0;
    off_t offset = 0;
    uint64_t id = 0;
    std::unique_ptr<StreamFramer> framer;
    std::string pending;
    bool stdin_ = false, eof = false;
    bool reported_missing = false;
    bool first_open = true;
  };

  WatchOptions opts;
  IngestCounters& c;
  BatchBuilder builder;
  int efd = -1;
  std::vector<File> files;
  uint64_t next_id = 1;
  std::vector<char> scratch;
  bool signalled = false;

  Impl(const WatchOptions& o, IngestCounters& cc, BatchQueue& q) : opts(o), c(cc), builder(q, cc) {
    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    scratch.resize(kReadChunk);
    for (const auto& p : opts.paths) {
      File f;
      f.path = p;
      f.stdin_ = p == "-";
      if (f.stdin_) {
        f.fd = STDIN_FILENO;
        start_source(f);
      }
      files.push_back(std::move(f));
    }
  }
  ~Impl() {
    for (auto& f : files)
      if (f.fd >= 0 && !f.stdin_) ::close(f.fd);
    if (efd >= 0) ::close(efd);
  }

  void start_source(File& f) {
    f.id = next_id++;
    f.framer = std::make_unique<StreamFramer>(StreamFramer::Mode::lines, opts.max_frame);
    f.pending.clear();
    std::string host = opts.host.empty() && !f.stdin_ ? host_from_path(f.path) : opts.host;
    builder.source(f.id, f.path, host);
  }

  void end_source(File& f, bool deliver_tail) {
    if (deliver_tail) {
      uint64_t l0 = f.framer->lf_frames;
      f.framer->finish(f.pending.data(), f.pending.size(), [&](std::string_view m, bool) { builder.message(f.id, m); });
      c.lf_frames.fetch_add(f.framer->lf_frames - l0);
    }
    f.pending.clear();
    builder.close_source(f.id);
  }

  void frame(File& f, const char* data, size_t n) {
    auto on = [&](std::string_view m, bool cut) {
      if (cut) c.cut.fetch_add(1, std::memory_order_relaxed);
      builder.message(f.id, m);
    };
    uint64_t l0 = f.framer->lf_frames;
    if (f.pending.empty()) {
      size_t used = f.framer->feed(data, n, on);
      f.pending.assign(data + used, n - used);
    } else {
      f.pending.append(data, n);
      size_t used = f.framer->feed(f.pending.data(), f.pending.size(), on);
      f.pending.erase(0, used);
    }
    c.lf_frames.fetch_add(f.framer->lf_frames - l0, std::memory_order_relaxed);
    c.bytes.fetch_add(n, std::memory_order_relaxed);
  }

  bool try_open(File& f) {
    int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (!f.reported_missing) {
        builder.error(f.path + ": cannot open (" + std::strerror(errno) + "); waiting for it to appear");
        f.reported_missing = true;
      }
      f.first_open = false;
      return false;
    }
    struct stat st {};
    fstat(fd, &st);
    f.fd = fd;
    f.dev = st.st_dev;
    f.ino = st.st_ino;
    f.offset = (f.first_open && opts.from_end) ? st.st_size : 0;
    f.first_open = false;
    f.reported_missing = false;
    start_source(f);
    return true;
  }

  // Reads what is new; returns bytes read.
  size_t read_file(File& f) {
    size_t total = 0;
    while (total < kMaxPerTurn) {
      ssize_t n = ::pread(f.fd, scratch.data(), scratch.size(), f.offset);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      f.offset += n;
      total += static_cast<size_t>(n);
      frame(f, scratch.data(), static_cast<size_t>(n));
    }
    return total;
  }

  // One look at a file: read, then detect rotation and truncation at EOF.
  size_t check_file(File& f) {
    if (f.fd < 0 && !try_open(f)) return 0;
    size_t got = read_file(f);
    if (got > 0) return got;
    struct stat now {};
    if (::stat(f.path.c_str(), &now) != 0) return 0;  // renamed away, new one not there yet: keep the old
    if (now.st_dev != f.dev || now.st_ino != f.ino) {
      // Rotated by rename: the old file is read to its end (above); follow the new one.
      end_source(f, true);
      ::close(f.fd);
      f.fd = -1;
      if (try_open(f)) return read_file(f) + 1;
      return 0;
    }
    if (now.st_size < f.offset) {
      // Truncated (copytruncate): start again at the beginning.
      end_source(f, false);
      f.offset = 0;
      start_source(f);
      return read_file(f) + 1;
    }
    return 0;
  }

  size_t read_stdin(File& f) {
    ssize_t n = ::read(STDIN_FILENO, scratch.data(), scratch.size());
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    if (n <= 0) {
      if (n < 0) builder.error(std::string("-: read error: ") + std::strerror(errno));
      end_source(f, true);
      f.eof = true;
      return 0;
    }
    frame(f, scratch.data(), static_cast<size_t>(n));
    return static_cast<size_t>(n);
  }

  void run() {
    bool stopping = false, busy = false;
    bool have_files = false, have_stdin = false;
    for (auto& f : files) (f.stdin_ ? have_stdin : have_files) = true;
    while (!stopping) {
      pollfd pf[2];
      int npf = 0;
      pf[npf++] = {efd, POLLIN, 0};
      File* in = nullptr;
      for (auto& f : files)
        if (f.stdin_ && !f.eof) {
          in = &f;
          pf[npf++] = {STDIN_FILENO, POLLIN, 0};
        }
      if (have_stdin && !in && !have_files) break;  // stdin ended and nothing else to follow
      size_t progress = 0;
      // Poll with no wait when a file had data last turn.
      int timeout = busy ? 0 : static_cast<int>(opts.poll_interval * 1000);
      int r = ::poll(pf, static_cast<nfds_t>(npf), timeout);
      if (r > 0 && (pf[0].revents & POLLIN)) stopping = signalled = true;
      if (in && npf > 1 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR))) {
        progress += read_stdin(*in);  // one read: poll said it will not block
      }
      for (auto& f : files)
        if (!f.stdin_) progress += check_file(f);
      busy = progress > 0;
      builder.flush();
    }
    // Stop: what is already in the files and the stdin pipe is read, bounded.
    for (auto& f : files) {
      if (f.stdin_) {
        if (!f.eof) {
          int fl = fcntl(STDIN_FILENO, F_GETFL);
          fcntl(STDIN_FILENO, F_SETFL, fl | O_NONBLOCK);
          for (int i = 0; i < 64 && !f.eof; ++i)
            if (read_stdin(f) == 0) break;
          if (!f.eof) {
            if (!f.pending.empty()) c.partial.fetch_add(1);
            builder.close_source(f.id);
          }
        }
      } else if (f.fd >= 0) {
        read_file(f);
        if (!f.pending.empty()) c.partial.fetch_add(1);
        builder.close_source(f.id);
      }
    }
    builder.flush();
  }
};

Follower::Follower(const WatchOptions& opts, IngestCounters& c, BatchQueue& q)
    : impl_(std::make_unique<Impl>(opts, c, q)) {}
Follower::~Follower() = default;
void Follower::run() { impl_->run(); }
void Follower::stop() {
  uint64_t one = 1;
  ssize_t r = ::write(impl_->efd, &one, sizeof one);
  (void)r;
}
int Follower::stop_fd() const { return impl_->efd; }
bool Follower::stopped() const { return impl_->signalled; }

}  // namespace tpmdiag::live

#include <csignal>

namespace tpmdiag::live {

namespace {
volatile sig_atomic_t g_stop_fd = -1;
extern "C" void on_stop_signal(int) {
  int fd = g_stop_fd;
  if (fd < 0) return;
  uint64_t one = 1;
  ssize_t r = ::write(fd, &one, sizeof one);
  (void)r;
}
}  // namespace

void install_stop_signals(int fd) {
  g_stop_fd = fd;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

}  // namespace tpmdiag::live
