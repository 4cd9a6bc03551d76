#include "parsers/source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <isa-l/igzip_lib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

namespace tpmdiag {

Error DecompressionBudget::error(const std::string& name) const {
  return make_error(name + ": decompressed data of this run exceeds --max-total-decompressed (" +
                        std::to_string(limit_) + " bytes); not read further (possible decompression bomb)",
                    ErrorKind::limit);
}

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
  std::optional<FileRest> file_rest() const override {
    struct stat st;
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    off_t at = ::lseek(fd_, 0, SEEK_CUR);
    if (at < 0) return std::nullopt;
    return FileRest{fd_, static_cast<uint64_t>(at)};
  }

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
  std::optional<FileRest> file_rest() const override {
    auto r = rest_->file_rest();
    size_t unread = head_.size() - pos_;
    if (!r || r->offset < unread) return std::nullopt;
    return FileRest{r->fd, r->offset - unread};
  }

 private:
  std::string head_;
  size_t pos_ = 0;
  std::unique_ptr<ByteSource> rest_;
};

// Inflates with Intel's ISA-L (libisal): several times faster than zlib on
// x86, which keeps .gz logs from being the bottleneck of a scan.
class GzipSource : public ByteSource {
 public:
  GzipSource(std::unique_ptr<ByteSource> inner, std::string name, const SourceLimits& limits)
      : inner_(std::move(inner)), name_(std::move(name)), limits_(limits), in_(1 << 18) {
    isal_inflate_init(&st_);
    st_.crc_flag = ISAL_GZIP;
  }

  // Bytes inflated before an error are returned first; the error comes with
  // the next read (a truncated .gz gives its readable prefix, as zcat does).
  Result<size_t> read(char* buf, size_t cap) override {
    if (pending_) return *pending_;
    auto r = inflate_some(buf, cap);
    if (r || r.error().kind == ErrorKind::limit || st_.next_out == reinterpret_cast<uint8_t*>(buf)) return r;
    pending_ = r.error();
    return static_cast<size_t>(reinterpret_cast<char*>(st_.next_out) - buf);
  }

  Result<size_t> inflate_some(char* buf, size_t cap) {
    if (done_) return size_t{0};
    st_.next_out = reinterpret_cast<uint8_t*>(buf);
    st_.avail_out = static_cast<uint32_t>(std::min<size_t>(cap, 1u << 30));
    while (st_.avail_out > 0 && !done_) {
      if (between_members_ && st_.avail_in < 2) {
        // Another member, or the end: look at the next two bytes.
        size_t have = st_.avail_in;
        if (have) std::memmove(in_.data(), st_.next_in, have);
        auto n = inner_->read(in_.data() + have, in_.size() - have);
        if (!n) return n.error();
        st_.next_in = reinterpret_cast<uint8_t*>(in_.data());
        st_.avail_in = static_cast<uint32_t>(have + *n);
        if (*n == 0) {
          done_ = true;  // end of data (a lone trailing byte is ignored, as gzip does)
          break;
        }
        continue;
      }
      if (between_members_) {
        if (st_.next_in[0] == 0x1f && st_.next_in[1] == 0x8b) {
          uint8_t* next = st_.next_in;
          uint32_t avail = st_.avail_in;
          uint8_t* out = st_.next_out;
          uint32_t room = st_.avail_out;
          isal_inflate_reset(&st_);  // a .gz may hold several members
          st_.crc_flag = ISAL_GZIP;
          st_.next_in = next;
          st_.avail_in = avail;
          st_.next_out = out;
          st_.avail_out = room;
          between_members_ = false;
        } else {
          done_ = true;  // trailing padding (tar writers pad to a block): ignored, as gzip does
          break;
        }
      }
      bool at_end = false;
      if (st_.avail_in == 0) {
        auto n = inner_->read(in_.data(), in_.size());
        if (!n) return n.error();
        st_.next_in = reinterpret_cast<uint8_t*>(in_.data());
        st_.avail_in = static_cast<uint32_t>(*n);
        at_end = *n == 0;
        if (at_end && !member_started_) {
          done_ = true;
          break;
        }
      }
      member_started_ = true;
      uint32_t room_before = st_.avail_out;
      int rc = isal_inflate(&st_);
      if (rc < 0)
        return make_error(name_ + ": corrupt gzip data (" + error_text(rc) + ") after " +
                              std::to_string(out_ + (reinterpret_cast<char*>(st_.next_out) - buf)) +
                              " decompressed bytes",
                          ErrorKind::corrupt);
      if (st_.block_state == ISAL_BLOCK_FINISH) {
        member_started_ = false;
        between_members_ = true;
      } else if (at_end && st_.avail_out == room_before) {
        return make_error(name_ + ": truncated gzip data (unexpected end of file)", ErrorKind::truncated);
      }
    }
    size_t produced = static_cast<size_t>(reinterpret_cast<char*>(st_.next_out) - buf);
    out_ += produced;
    if (limits_.budget && !limits_.budget->charge(produced)) return limits_.budget->error(name_);
    if (out_ > limits_.max_decompressed)
      return make_error(name_ + ": decompressed size exceeds --max-decompressed (" +
                            std::to_string(limits_.max_decompressed) + " bytes); possible gzip bomb",
                        ErrorKind::limit);
    return produced;
  }
  uint64_t raw_bytes() const override { return inner_->raw_bytes(); }

 private:
  static std::string error_text(int rc) {
    switch (rc) {
      case ISAL_INVALID_BLOCK: return "invalid deflate block";
      case ISAL_INVALID_SYMBOL: return "invalid deflate symbol";
      case ISAL_INVALID_LOOKBACK: return "invalid distance";
      case ISAL_INVALID_WRAPPER: return "invalid gzip header";
      case ISAL_UNSUPPORTED_METHOD: return "unsupported compression method";
      case ISAL_INCORRECT_CHECKSUM: return "incorrect checksum";
      default: return "inflate error " + std::to_string(rc);
    }
  }

  std::unique_ptr<ByteSource> inner_;
  std::string name_;
  SourceLimits limits_;
  std::vector<char> in_;
  inflate_state st_;
  bool done_ = false, member_started_ = false, between_members_ = false;
  std::optional<Error> pending_;
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
  std::optional<FileRest> file_rest() const override { return src_.file_rest(); }

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
  auto src = open_file(path);
  if (!src) return src.error();
  auto magic = read_head(**src, 2);
  if (!magic) return magic.error();
  bool gz = magic->size() == 2 && static_cast<unsigned char>((*magic)[0]) == 0x1f &&
            static_cast<unsigned char>((*magic)[1]) == 0x8b;
  auto rest = prepend(std::move(*magic), std::move(*src));
  if (gz) return gunzip(std::move(rest), path, limits);
  return rest;
}

}  // namespace tpmdiag
