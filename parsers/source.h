// Sources: byte streams with a name (DESIGN.md §2 "sources").
//
// Every input — a file, stdin, a .gz, an archive member — is a ByteSource that
// fills caller buffers with read(); nothing is mapped or loaded whole, so an
// input of any size streams in constant memory.
//
//   auto src = open_path("vmkernel.0.gz");   // gzip detected by magic bytes
//   if (!src) { report(src.error()); }
//   char buf[1 << 16];
//   for (;;) { auto n = (*src)->read(buf, sizeof buf); if (!n) fail; if (*n == 0) break; ... }
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/error.h"

namespace tpmdiag {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to cap bytes; 0 means end of stream. Errors name the input.
  virtual Result<size_t> read(char* buf, size_t cap) = 0;
  // Bytes taken from the underlying file so far (compressed bytes for .gz).
  virtual uint64_t raw_bytes() const = 0;
};

struct SourceLimits {
  uint64_t max_decompressed = 64ull << 30;  // per input; a gzip bomb stops here with an error
};

// Reads from a file descriptor it does not own (stdin).
std::unique_ptr<ByteSource> fd_source(int fd, std::string name);

// Opens a regular file; wraps it in a gzip inflater when it starts with the
// gzip magic bytes.
Result<std::unique_ptr<ByteSource>> open_path(const std::string& path, const SourceLimits& limits = {});

// Inflates a gzip stream (all members) read from inner.
std::unique_ptr<ByteSource> gunzip(std::unique_ptr<ByteSource> inner, std::string name,
                                   const SourceLimits& limits);

// Wraps a source whose first bytes were already read (for magic sniffing).
std::unique_ptr<ByteSource> prepend(std::string head, std::unique_ptr<ByteSource> rest);

}  // namespace tpmdiag
