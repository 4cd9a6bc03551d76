#include "parsers/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <dlfcn.h>

#include <cerrno>
#include <cstring>
#include "common/text.h"

namespace tpmdiag {

namespace {

// libarchive is loaded with the first archive read (dlopen), not linked:
// with what it links in turn (libxml2, ICU, nettle, five compressors) it
// was 2.5 ms of every start (a one-line paste's quarter), archive or not.
// Only its header is used at build time.
#define TPMDIAG_LIBARCHIVE(X)                                                                                \
  X(archive_error_string) X(archive_set_error) X(archive_filter_count) X(archive_filter_bytes)             \
  X(archive_read_data_block) X(archive_read_new) X(archive_read_support_filter_all)                        \
  X(archive_read_support_format_raw) X(archive_read_support_format_tar) X(archive_read_support_format_gnutar) \
  X(archive_read_support_format_zip) X(archive_read_support_format_cpio) X(archive_read_open)              \
  X(archive_read_free) X(archive_format) X(archive_read_next_header) X(archive_entry_pathname)             \
  X(archive_entry_pathname_utf8) X(archive_entry_size_is_set) X(archive_entry_size) X(archive_entry_filetype) \
  X(archive_entry_hardlink) X(archive_entry_symlink)

struct Libarchive {
#define TPMDIAG_FIELD(f) decltype(&::f) f = nullptr;
  TPMDIAG_LIBARCHIVE(TPMDIAG_FIELD)
#undef TPMDIAG_FIELD
};

// The library, or null (why says why) when it cannot be loaded.
const Libarchive* load_libarchive(std::string* why = nullptr) {
  static std::string error;
  static const Libarchive* lib = []() -> const Libarchive* {
    void* h = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = dlerror();
      error = std::string("reading archives needs libarchive (Debian: libarchive13): ") + (e ? e : "not found");
      return nullptr;
    }
    auto* l = new Libarchive{};
#define TPMDIAG_LOAD(f)                                                   \
  l->f = reinterpret_cast<decltype(&::f)>(dlsym(h, #f));                  \
  if (!l->f) {                                                            \
    error = "libarchive.so.13 lacks " #f;                                  \
    delete l;                                                             \
    return nullptr;                                                       \
  }
    TPMDIAG_LIBARCHIVE(TPMDIAG_LOAD)
#undef TPMDIAG_LOAD
    return l;
  }();
  if (!lib && why) *why = error;
  return lib;
}

// Only once an archive was opened (ArchiveReader::open loaded it).
const Libarchive& la() { return *load_libarchive(); }

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// "name: message" -> "message" (the archive's name is said once, up front).
std::string strip_name(const std::string& msg, const std::string& name) {
  if (starts_with(msg, name + ": ")) return msg.substr(name.size() + 2);
  return msg;
}

// libarchive's messages may end in '\n' ("ZIP uncompressed data is wrong
// size (...)\n") and member paths may hold control characters: errors are
// one line, so trailing blanks go and control characters become '?'.
std::string trimmed_line(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.remove_suffix(1);
  return one_line(s);
}

std::string why_of(::archive* a, const char* fallback) {
  const char* why = la().archive_error_string(a);
  return trimmed_line(why ? why : fallback);
}

}  // namespace

Container sniff_container(std::string_view h) {
  auto b = [&](size_t i) { return i < h.size() ? static_cast<unsigned char>(h[i]) : 0u; };
  if (b(0) == 0x1f && b(1) == 0x8b) return Container::gzip;
  if (h.size() >= 262 && h.substr(257, 5) == "ustar") return Container::tar;
  if (starts_with(h, "PK\x03\x04") || starts_with(h, "PK\x05\x06")) return Container::zip;
  if (starts_with(h, "BZh") && h.size() > 3 && h[3] >= '1' && h[3] <= '9') return Container::compressed;
  if (starts_with(h, std::string_view("\xfd" "7zXZ\0", 6))) return Container::compressed;    // xz
  if (starts_with(h, "\x28\xb5\x2f\xfd")) return Container::compressed;                     // zstd
  if (starts_with(h, "\x04\x22\x4d\x18")) return Container::compressed;                     // lz4
  return Container::none;
}

struct ArchiveReader::Callbacks {
  static la_ssize_t read(::archive* a, void* self_, const void** out) {
    auto* self = static_cast<ArchiveReader*>(self_);
    auto n = self->src_->read(self->buf_.data(), self->buf_.size());
    if (!n) {
      self->source_error_ = trimmed_line(strip_name(n.error().message, self->name_));
      la().archive_set_error(a, EIO, "%s", self->source_error_.c_str());
      // A cut or damaged stream ends here, so libarchive still hands out the
      // data it holds (the readable prefix of the member); a limit stops at once.
      return n.error().kind == ErrorKind::limit ? -1 : 0;
    }
    // Compression libarchive undoes itself (bzip2, xz, ...): the bomb guard.
    if (la().archive_filter_count(a) > 1 && !self->charge_filtered()) {
      self->source_error_ = trimmed_line(strip_name(self->limits_.budget->error(self->name_).message, self->name_));
      la().archive_set_error(a, EFBIG, "%s", self->source_error_.c_str());
      return -1;
    }
    if (la().archive_filter_count(a) > 1 &&
        static_cast<uint64_t>(la().archive_filter_bytes(a, 0)) > self->limits_.max_decompressed) {
      self->source_error_ = "decompressed size exceeds --max-decompressed (" +
                            std::to_string(self->limits_.max_decompressed) + " bytes); possible bomb";
      la().archive_set_error(a, EFBIG, "%s", self->source_error_.c_str());
      return -1;
    }
    *out = self->buf_.data();
    return static_cast<la_ssize_t>(*n);
  }
};

class MemberSource : public ByteSource {
 public:
  MemberSource(ArchiveReader& ar, uint64_t generation) : ar_(ar), generation_(generation) {}
  Result<size_t> read(char* buf, size_t cap) override {
    if (generation_ != ar_.members_)
      return make_error(ar_.name_ + "!" + ar_.current_ + ": read after the archive moved on (internal error)");
    if (ar_.failed_) return make_error(ar_.name_ + ": archive already failed");
    la_ssize_t n = next_bytes(buf, cap);
    if (n < 0) {
      ar_.failed_ = true;
      // The stream's own error says why better than libarchive's "truncated".
      std::string why = ar_.source_error_.empty() ? why_of(ar_.a_, "read error") : ar_.source_error_;
      return make_error(ar_.name_ + ": archive truncated or corrupt in member '" + ar_.current_ + "' at byte " +
                            std::to_string(offset_) + " of the member: " + why,
                        ErrorKind::truncated);
    }
    offset_ += static_cast<uint64_t>(n);
    // A zip member is inflated by the format itself; tar and cpio members are
    // slices of a stream already charged.
    if (ar_.limits_.budget && ar_.compressed_members() && !ar_.limits_.budget->charge(static_cast<uint64_t>(n))) {
      ar_.failed_ = true;
      return ar_.limits_.budget->error(ar_.name_ + "!" + ar_.current_);
    }
    if (offset_ > ar_.limits_.max_decompressed)
      return make_error(ar_.name_ + "!" + ar_.current_ + ": member larger than --max-decompressed (" +
                        std::to_string(ar_.limits_.max_decompressed) + " bytes)");
    return static_cast<size_t>(n);
  }
  uint64_t raw_bytes() const override { return ar_.raw_bytes(); }

 private:
  // Block by block, not with archive_read_data(): that one drops the bytes it
  // has copied when a later block fails, so a cut member would lose its
  // readable start. Holes of sparse members read as zeros.
  la_ssize_t next_bytes(char* buf, size_t cap) {
    while (block_n_ == 0) {
      const void* p = nullptr;
      size_t n = 0;
      la_int64_t at = 0;
      int r = la().archive_read_data_block(ar_.a_, &p, &n, &at);
      if (r == ARCHIVE_EOF) return 0;
      if (r < ARCHIVE_WARN) return -1;
      block_ = static_cast<const char*>(p);
      block_n_ = n;
      hole_ = at > 0 && static_cast<uint64_t>(at) > offset_ ? static_cast<uint64_t>(at) - offset_ : 0;
    }
    if (hole_ > 0) {
      size_t k = static_cast<size_t>(std::min<uint64_t>(hole_, cap));
      std::memset(buf, 0, k);
      hole_ -= k;
      return static_cast<la_ssize_t>(k);
    }
    size_t k = std::min(block_n_, cap);
    std::memcpy(buf, block_, k);
    block_ += k;
    block_n_ -= k;
    return static_cast<la_ssize_t>(k);
  }

  ArchiveReader& ar_;
  uint64_t generation_;
  uint64_t offset_ = 0;
  const char* block_ = nullptr;  // the rest of libarchive's current block
  size_t block_n_ = 0;
  uint64_t hole_ = 0;            // zeros still to give before it (sparse members)
};

Result<std::unique_ptr<ArchiveReader>> ArchiveReader::open(std::string name, std::unique_ptr<ByteSource> src,
                                                           const SourceLimits& limits, bool raw) {
  std::unique_ptr<ArchiveReader> ar(new ArchiveReader());
  ar->name_ = std::move(name);
  ar->src_ = std::move(src);
  ar->limits_ = limits;
  ar->raw_ = raw;
  ar->buf_.resize(1 << 18);
  std::string why;
  if (!load_libarchive(&why)) return make_error(ar->name_ + ": " + why);
  ar->a_ = la().archive_read_new();
  if (!ar->a_) return make_error(ar->name_ + ": cannot initialise libarchive");
  la().archive_read_support_filter_all(ar->a_);
  if (raw) {
    la().archive_read_support_format_raw(ar->a_);
  } else {
    la().archive_read_support_format_tar(ar->a_);
    la().archive_read_support_format_gnutar(ar->a_);
    la().archive_read_support_format_zip(ar->a_);
    la().archive_read_support_format_cpio(ar->a_);
  }
  if (la().archive_read_open(ar->a_, ar.get(), nullptr, &Callbacks::read, nullptr) != ARCHIVE_OK) {
    return make_error(ar->name_ + ": not a readable archive: " + why_of(ar->a_, "unknown format"));
  }
  return ar;
}

ArchiveReader::~ArchiveReader() {
  if (a_) la().archive_read_free(a_);
}

uint64_t ArchiveReader::raw_bytes() const { return src_ ? src_->raw_bytes() : 0; }

bool ArchiveReader::charge_filtered() {
  if (!limits_.budget) return true;
  auto now = static_cast<uint64_t>(la().archive_filter_bytes(a_, 0));
  uint64_t grew = now > filtered_ ? now - filtered_ : 0;
  filtered_ = std::max(filtered_, now);
  return limits_.budget->charge(grew);
}

bool ArchiveReader::compressed_members() const {
  return (la().archive_format(a_) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_ZIP;
}

Result<std::optional<ArchiveMember>> ArchiveReader::next() {
  if (failed_) return make_error(name_ + ": archive already failed");
  struct archive_entry* e = nullptr;
  int r = la().archive_read_next_header(a_, &e);
  if (r == ARCHIVE_EOF) return std::optional<ArchiveMember>{};
  if (r < ARCHIVE_WARN) {
    failed_ = true;
    std::string why = source_error_.empty() ? why_of(a_, "read error") : source_error_;
    std::string where = members_ == 0
                            ? "archive truncated or corrupt before its first member"
                            : "archive truncated or corrupt after member '" + current_ + "' (" +
                                  std::to_string(members_) + " members read, archive byte " +
                                  std::to_string(la().archive_filter_bytes(a_, 0)) + ")";
    return make_error(name_ + ": " + where + ": " + why);
  }
  ++members_;
  ArchiveMember m;
  const char* p = la().archive_entry_pathname(e);
  if (!p) p = la().archive_entry_pathname_utf8(e);
  m.path = p ? p : "(unnamed member " + std::to_string(members_) + ")";
  if (raw_) m.path = "data";
  m.size = la().archive_entry_size_is_set(e) ? static_cast<uint64_t>(la().archive_entry_size(e)) : 0;
  m.regular = raw_ || (la().archive_entry_filetype(e) == AE_IFREG && la().archive_entry_hardlink(e) == nullptr &&
                       la().archive_entry_symlink(e) == nullptr);
  current_ = trimmed_line(m.path);  // for messages only
  return std::optional<ArchiveMember>(std::move(m));
}

std::unique_ptr<ByteSource> ArchiveReader::data() { return std::make_unique<MemberSource>(*this, members_); }

}  // namespace tpmdiag
