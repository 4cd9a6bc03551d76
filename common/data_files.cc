#include "common/data_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "common/embedded.h"

namespace tpmdiag {

Result<std::vector<DataFile>> collect_data_files(std::string_view prefix,
                                                 const std::vector<std::string>& extra_dirs, bool read) {
  std::vector<DataFile> out;
  for (const auto& f : embedded_files())
    if (f.path.substr(0, prefix.size()) == prefix && f.path.find('/', prefix.size()) == std::string_view::npos &&
        f.path.size() > 5 && f.path.substr(f.path.size() - 5) == ".json")
      out.push_back({std::string(f.path), std::string(f.data)});
  for (const auto& dir : extra_dirs) {
    // readdir and fstatat, not std::filesystem: its paths parse themselves
    // at each step (0.9 M instructions for 81 files, a tenth of a paste's
    // cached start-up with them).
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
      if (errno == ENOENT || errno == ENOTDIR) return make_error(dir + ": not a directory");
      return make_error(dir + ": " + std::strerror(errno));
    }
    std::vector<std::string> names;
    errno = 0;
    while (const dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n.size() > 5 && n.substr(n.size() - 5) == ".json") names.emplace_back(n);
    }
    const int err = errno;
    if (err != 0) {
      ::closedir(d);
      return make_error(dir + ": " + std::strerror(err));
    }
    std::sort(names.begin(), names.end());
    struct timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    const int64_t stat_ns = static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
    const std::string sep = !dir.empty() && dir.back() == '/' ? "" : "/";
    for (const auto& name : names) {
      DataFile& f = out.emplace_back();
      f.path = dir + sep + name;
      f.on_disk = true;
      f.loaded = false;
      f.stat_ns = stat_ns;
      struct stat st;
      // As read_whole_file would: a file that is not regular cannot be read.
      if (::fstatat(::dirfd(d), name.c_str(), &st, 0) != 0 || !S_ISREG(st.st_mode)) {
        ::closedir(d);
        return make_error(f.path + ": cannot read");
      }
      f.stamp = {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                 static_cast<uint64_t>(st.st_size),
                 static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
                 static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec};
    }
    ::closedir(d);
  }
  if (read)
    if (auto s = read_data_files(out); !s) return s.error();
  return out;
}

Status read_data_files(std::vector<DataFile>& files) {
  for (auto& f : files) {
    if (f.loaded) continue;
    if (!read_whole_file(f.path, f.text)) return make_error(f.path + ": cannot read");
    f.loaded = true;
  }
  return ok_status();
}

bool read_whole_file(const std::string& path, std::string& out) {
  // O_NONBLOCK: a FIFO in its place neither blocks open() nor is read.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return false;
  struct stat st;
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (ok) {
    // The size fstat saw and a byte more, to see the end in the same read;
    // a file that grows meanwhile is read to its end.
    out.resize(static_cast<size_t>(st.st_size) + 1);
    size_t got = 0;
    for (;;) {
      if (got == out.size()) out.resize(got + 4096 + got / 2);
      ssize_t n = ::read(fd, out.data() + got, out.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ok = n == 0;
        break;
      }
      got += static_cast<size_t>(n);
    }
    out.resize(got);
  }
  ::close(fd);
  return ok;
}

}  // namespace tpmdiag
