#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <filesystem>

#include "common/text.h"
#include "live/framing.h"
#include "live/receivers.h"
#include "parsers/bundle_layout.h"
#include "parsers/inputs.h"

namespace tpmdiag::live {

namespace {
constexpr size_t kReadChunk = 256 * 1024;
constexpr size_t kMaxPerTurn = 8u << 20;  // bytes read from one file before looking at the others
// The start of a followed file, kept to see a copytruncate that was refilled
// past the read offset between two looks (the size alone cannot show it).
constexpr size_t kHead = 1024;

const char* file_kind(mode_t m) {
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m) || S_ISBLK(m)) return "a device";
  if (S_ISDIR(m)) return "a directory";
  if (S_ISSOCK(m)) return "a socket";
  return "of an unknown kind";
}
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
    std::string head;  // the file's first bytes as read (up to kHead)
    bool stdin_ = false, eof = false;
    bool reported = false;  // why it cannot be followed was said (once until it can)
    bool first_open = true;
  };

  // A folder named on the command line: its log files are followed, those
  // that appear later too (looked for once a second).
  struct Folder {
    std::string path;
    std::chrono::steady_clock::time_point next_look{};
  };

  WatchOptions opts;
  IngestCounters& c;
  std::vector<Folder> folders;
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
      struct stat st {};
      if (p != "-" && ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        folders.push_back({p});
        continue;
      }
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
    feed_pending(*f.framer, f.pending, data, n, on);
    c.lf_frames.fetch_add(f.framer->lf_frames - l0, std::memory_order_relaxed);
    c.bytes.fetch_add(n, std::memory_order_relaxed);
  }

  void report_once(File& f, const std::string& why) {
    if (!f.reported) builder.error(f.path + ": " + why);
    f.reported = true;
    f.first_open = false;
  }

  // Only regular files are followed: a FIFO would block open() (and a signal
  // could not stop it) and a device such as /dev/zero never ends. O_NONBLOCK
  // keeps open() itself from blocking on a FIFO; fstat then tells.
  bool try_open(File& f) {
    int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
      report_once(f, std::string("cannot open (") + std::strerror(errno) + "); waiting for it to appear");
      return false;
    }
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      report_once(f, std::string("not a regular file (") + file_kind(st.st_mode) +
                         "): not followed; waiting for a regular file there");
      return false;
    }
    f.fd = fd;
    f.dev = st.st_dev;
    f.ino = st.st_ino;
    f.offset = (f.first_open && opts.from_end) ? st.st_size : 0;
    f.head.clear();
    f.first_open = false;
    f.reported = false;
    start_source(f);
    return true;
  }

  // Keeps the file's first bytes (as far as read); says whether the file
  // still starts with them.
  bool same_head(File& f) {
    char buf[kHead];
    size_t want = static_cast<size_t>(std::min<off_t>(f.offset, static_cast<off_t>(kHead)));
    if (want == 0) return true;
    ssize_t n = ::pread(f.fd, buf, want, 0);
    if (n < 0) return true;  // cannot tell
    size_t got = static_cast<size_t>(n);
    if (std::memcmp(buf, f.head.data(), std::min(got, f.head.size())) != 0) return false;
    if (got > f.head.size()) f.head.append(buf + f.head.size(), got - f.head.size());
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
    if (!same_head(f)) return restart(f);  // truncated and refilled since the last look
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
    if (now.st_size < f.offset) return restart(f);  // truncated (copytruncate)
    return 0;
  }

  // The file was truncated: start again at its beginning.
  size_t restart(File& f) {
    end_source(f, false);
    f.offset = 0;
    f.head.clear();
    start_source(f);
    return read_file(f) + 1;
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

  // New log files in the folders: plain logs only (rotated .gz files do not
  // grow; `diagnose` reads those), as the bundle layout names them.
  void look_in_folders(bool at_start) {
    auto now = std::chrono::steady_clock::now();
    for (auto& d : folders) {
      if (!at_start && now < d.next_look) continue;
      d.next_look = now + std::chrono::seconds(1);
      SourceLimits limits;
      walk_folder(
          d.path,
          [&](const std::filesystem::path& path, uint64_t size) {
            std::string name = path.string();
            if (is_archive_name(ascii_lower(path.filename().string())) || ends_with(ascii_lower(name), ".gz")) return;
            if (classify_member(name, size, limits) != MemberRole::scan) return;
            for (const auto& f : files)
              if (f.path == name) return;
            File f;
            f.path = name;
            f.first_open = at_start;  // a file that appears later is read from its start
            files.push_back(std::move(f));
          },
          [&](const InputError& e) {
            if (at_start) builder.error(e.message);
          });
    }
  }

  void run() {
    bool stopping = false, busy = false;
    bool have_files = !folders.empty(), have_stdin = false;
    look_in_folders(true);
    if (!folders.empty() && files.empty())
      for (const auto& d : folders) builder.error(d.path + ": no log files in the folder yet; waiting for them");
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
      look_in_folders(false);
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
  impl_->c.request_stop(impl_->opts.drain_timeout);
  uint64_t one = 1;
  ssize_t r = ::write(impl_->efd, &one, sizeof one);
  (void)r;
}
bool Follower::stopped() const { return impl_->signalled; }

}  // namespace tpmdiag::live

#include <csignal>

namespace tpmdiag::live {

namespace {
// Set before the handlers are installed, read only by them.
void (*g_stop)(void*) = nullptr;
void* g_stop_arg = nullptr;
extern "C" void on_stop_signal(int) {
  if (g_stop) g_stop(g_stop_arg);
}
}  // namespace

void install_stop_signals(void (*stop)(void*), void* arg) {
  g_stop = stop;
  g_stop_arg = arg;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // SIGHUP (the terminal went away, or a supervisor's "reload"): a clean stop
  // with the final stats too, unless it was ignored at start (nohup).
  struct sigaction old {};
  if (sigaction(SIGHUP, nullptr, &old) == 0 && old.sa_handler != SIG_IGN) sigaction(SIGHUP, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

}  // namespace tpmdiag::live
