#include "parsers/source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace tpmdiag {

namespace {

class FdSource : public ByteSource {
 public:
  FdSource(int fd, std::string name, bool owned) : fd_(fd), name_(std::move(name)), owned_(owned) {}
  ~FdSource() override {
    if (owned_) ::close(fd_);
  }
  Result<size_t> read(char* buf, size_t cap) override {
    for (;;) {
      ssize_t n = ::read(fd_, buf, cap);
      if (n >= 0) {
        raw_ += static_cast<uint64_t>(n);
        return static_cast<size_t>(n);
      }
      if (errno == EINTR) continue;
      return make_error(name_ + ": read error: " + std::strerror(errno));
    }
  }
  uint64_t raw_bytes() const override { return raw_; }

 private:
  int fd_;
  std::string name_;
  bool owned_;
  uint64_t raw_ = 0;
};

class PrependSource : public ByteSource {
 public:
  PrependSource(std::string head, std::unique_ptr<ByteSource> rest)
      : head_(std::move(head)), rest_(std::move(rest)) {}
  Result<size_t> read(char* buf, size_t cap) override {
    if (pos_ < head_.size()) {
      size_t n = std::min(cap, head_.size() - pos_);
      std::memcpy(buf, head_.data() + pos_, n);
      pos_ += n;
      return n;
    }
    return rest_->read(buf, cap);
  }
  uint64_t raw_bytes() const override { return rest_->raw_bytes(); }

 private:
  std::string head_;
  size_t pos_ = 0;
  std::unique_ptr<ByteSource> rest_;
};

class GzipSource : public ByteSource {
 public:
  GzipSource(std::unique_ptr<ByteSource> inner, std::string name, const SourceLimits& limits)
      : inner_(std::move(inner)), name_(std::move(name)), limits_(limits), in_(1 << 18) {
    std::memset(&zs_, 0, sizeof zs_);
    ok_ = inflateInit2(&zs_, 15 + 32) == Z_OK;  // +32: gzip or zlib header
  }
  ~GzipSource() override { inflateEnd(&zs_); }

  Result<size_t> read(char* buf, size_t cap) override {
    if (!ok_) return make_error(name_ + ": cannot initialise the gzip inflater");
    if (done_) return size_t{0};
    zs_.next_out = reinterpret_cast<Bytef*>(buf);
    zs_.avail_out = static_cast<uInt>(std::min<size_t>(cap, 1u << 30));
    while (zs_.avail_out > 0 && !done_) {
      if (between_members_ && zs_.avail_in < 2) {
        // Another member, or the end: look at the next two bytes.
        size_t have = zs_.avail_in;
        if (have) std::memmove(in_.data(), zs_.next_in, have);
        auto n = inner_->read(in_.data() + have, in_.size() - have);
        if (!n) return n.error();
        zs_.next_in = reinterpret_cast<Bytef*>(in_.data());
        zs_.avail_in = static_cast<uInt>(have + *n);
        if (*n == 0) {
          done_ = true;  // end of data (a lone trailing byte is ignored, as gzip does)
          break;
        }
        continue;
      }
      if (between_members_) {
        if (zs_.next_in[0] == 0x1f && zs_.next_in[1] == 0x8b) {
          inflateReset(&zs_);  // a .gz may hold several members
          between_members_ = false;
        } else {
          done_ = true;  // trailing padding (tar writers pad to a block): ignored, as gzip does
          break;
        }
      }
      if (zs_.avail_in == 0) {
        auto n = inner_->read(in_.data(), in_.size());
        if (!n) return n.error();
        if (*n == 0) {
          if (member_started_) return make_error(name_ + ": truncated gzip data (unexpected end of file)");
          done_ = true;
          break;
        }
        zs_.next_in = reinterpret_cast<Bytef*>(in_.data());
        zs_.avail_in = static_cast<uInt>(*n);
      }
      member_started_ = true;
      int rc = inflate(&zs_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        member_started_ = false;
        between_members_ = true;
      } else if (rc == Z_BUF_ERROR) {
        continue;  // needs more input
      } else if (rc != Z_OK) {
        return make_error(name_ + ": corrupt gzip data (" + (zs_.msg ? zs_.msg : "inflate error") +
                          ") after " + std::to_string(out_ + static_cast<uint64_t>(
                                           reinterpret_cast<char*>(zs_.next_out) - buf)) +
                          " decompressed bytes");
      }
    }
    size_t produced = static_cast<size_t>(reinterpret_cast<char*>(zs_.next_out) - buf);
    out_ += produced;
    if (out_ > limits_.max_decompressed)
      return make_error(name_ + ": decompressed size exceeds --max-decompressed (" +
                        std::to_string(limits_.max_decompressed) + " bytes); possible gzip bomb");
    return produced;
  }
  uint64_t raw_bytes() const override { return inner_->raw_bytes(); }

 private:
  std::unique_ptr<ByteSource> inner_;
  std::string name_;
  SourceLimits limits_;
  std::vector<char> in_;
  z_stream zs_;
  bool ok_ = false, done_ = false, member_started_ = false, between_members_ = false;
  uint64_t out_ = 0;
};

class TapSource : public ByteSource {
 public:
  TapSource(std::unique_ptr<ByteSource> inner, TapFn fn) : inner_(std::move(inner)), fn_(std::move(fn)) {}
  Result<size_t> read(char* buf, size_t cap) override {
    auto n = inner_->read(buf, cap);
    if (n && *n > 0) fn_(buf, *n);
    return n;
  }
  uint64_t raw_bytes() const override { return inner_->raw_bytes(); }

 private:
  std::unique_ptr<ByteSource> inner_;
  TapFn fn_;
};

class BorrowedSource : public ByteSource {
 public:
  explicit BorrowedSource(ByteSource& src) : src_(src) {}
  Result<size_t> read(char* buf, size_t cap) override { return src_.read(buf, cap); }
  uint64_t raw_bytes() const override { return src_.raw_bytes(); }

 private:
  ByteSource& src_;
};

}  // namespace

std::unique_ptr<ByteSource> tap(std::unique_ptr<ByteSource> inner, TapFn fn) {
  return std::make_unique<TapSource>(std::move(inner), std::move(fn));
}

std::unique_ptr<ByteSource> borrow(ByteSource& src) { return std::make_unique<BorrowedSource>(src); }

Result<std::string> read_head(ByteSource& src, size_t n) {
  std::string head(n, '\0');
  size_t got = 0;
  while (got < n) {
    auto r = src.read(head.data() + got, n - got);
    if (!r) return r.error();
    if (*r == 0) break;
    got += *r;
  }
  head.resize(got);
  return head;
}

Result<std::unique_ptr<ByteSource>> open_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return make_error(path + ": is a directory");
  }
  return std::unique_ptr<ByteSource>(std::make_unique<FdSource>(fd, path, true));
}

std::unique_ptr<ByteSource> fd_source(int fd, std::string name) {
  return std::make_unique<FdSource>(fd, std::move(name), false);
}

std::unique_ptr<ByteSource> prepend(std::string head, std::unique_ptr<ByteSource> rest) {
  return std::make_unique<PrependSource>(std::move(head), std::move(rest));
}

std::unique_ptr<ByteSource> gunzip(std::unique_ptr<ByteSource> inner, std::string name,
                                   const SourceLimits& limits) {
  return std::make_unique<GzipSource>(std::move(inner), std::move(name), limits);
}

Result<std::unique_ptr<ByteSource>> open_path(const std::string& path, const SourceLimits& limits) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return make_error(path + ": is a directory");
  }
  std::unique_ptr<ByteSource> src = std::make_unique<FdSource>(fd, path, true);
  char magic[2];
  size_t got = 0;
  while (got < 2) {
    auto n = src->read(magic + got, 2 - got);
    if (!n) return n.error();
    if (*n == 0) break;
    got += *n;
  }
  src = prepend(std::string(magic, got), std::move(src));
  if (got == 2 && static_cast<unsigned char>(magic[0]) == 0x1f &&
      static_cast<unsigned char>(magic[1]) == 0x8b)
    return gunzip(std::move(src), path, limits);
  return src;
}

}  // namespace tpmdiag
