// Archives (tar, zip, cpio; any compression libarchive knows) read as streams:
// nothing is extracted to disk, and member paths are only names — they are
// never used to open, create or follow anything (`../../x`, absolute paths and
// symlink members are harmless).
//
//   auto ar = ArchiveReader::open("bundle.tgz", gunzip(std::move(file), "bundle.tgz", limits), limits);
//   if (!ar) { report(ar.error()); return; }
//   for (;;) {
//     auto m = (*ar)->next();                 // Result<std::optional<ArchiveMember>>
//     if (!m) { report(m.error()); break; }   // truncated/corrupt: names the last member and offset
//     if (!*m) break;                         // end of the archive
//     if (!(*m)->regular) continue;           // symlinks, hard links, folders: names only
//     auto data = (*ar)->data();              // ByteSource over this member, until next()
//     scan((*m)->path, *data);
//   }
//
// walk_source() in parsers/inputs.h does the sniffing and recursion (a .gz
// member inside a .tgz, a host bundle inside a vCenter .zip); use it rather
// than this class unless you need the members one by one.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "parsers/source.h"

struct archive;  // libarchive

namespace tpmdiag {

// What the first bytes of a stream say it is.
enum class Container {
  none,        // plain data (a log, text)
  gzip,        // 1f 8b: a .gz log or a .tgz (look again after inflating)
  compressed,  // bzip2, xz, zstd, lz4: inflate with libarchive, then look again
  tar,         // "ustar" at offset 257
  zip,         // "PK\3\4" (or an empty zip)
};

// Bytes to read before calling sniff_container (a tar header block).
constexpr size_t kSniffBytes = 512;

// Classifies a stream by its first bytes (fewer than kSniffBytes at end of data is fine).
Container sniff_container(std::string_view head);

struct ArchiveMember {
  std::string path;      // as stored in the archive: a name, never a place on disk
  uint64_t size = 0;     // declared size; 0 if the format does not say
  bool regular = false;  // a regular file (not a folder, symlink, hard link or device)
};

class ArchiveReader {
 public:
  // Reads an archive from src. `name` prefixes every error message.
  // With raw = true the data is a single compressed file (log.xz), presented
  // as one member named "data".
  static Result<std::unique_ptr<ArchiveReader>> open(std::string name, std::unique_ptr<ByteSource> src,
                                                     const SourceLimits& limits, bool raw = false);
  ~ArchiveReader();
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;

  // The next member header, or nullopt at the end. On a truncated or corrupt
  // archive: one line naming the archive, the last member read and the offset.
  Result<std::optional<ArchiveMember>> next();

  // The current member's bytes. Valid until next() or the reader's end. A read
  // error names the archive, the member and the byte offset inside it.
  std::unique_ptr<ByteSource> data();

  // Whether reading a member's data failed (the archive cannot go on).
  bool failed() const { return failed_; }
  uint64_t members() const { return members_; }
  // Raw (compressed) bytes taken from the underlying source so far.
  uint64_t raw_bytes() const;

 private:
  ArchiveReader() = default;
  friend class MemberSource;
  struct Callbacks;
  // Charges limits_.budget with what libarchive's own filters (bzip2, xz, ...)
  // produced since the last call; false once over.
  bool charge_filtered();
  // Whether members are compressed one by one (zip), not slices of the stream.
  bool compressed_members() const;

  std::string name_;
  std::unique_ptr<ByteSource> src_;
  SourceLimits limits_;
  ::archive* a_ = nullptr;
  std::string buf_;
  std::string source_error_;  // last error of src_, without the name prefix
  std::string current_;       // current member path
  uint64_t members_ = 0;
  uint64_t filtered_ = 0;     // archive_filter_bytes already charged
  bool failed_ = false;
  bool raw_ = false;
};

}  // namespace tpmdiag
