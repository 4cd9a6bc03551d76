// Sources: byte streams with a name (DESIGN.md §2 "sources").
//
// Every input — a file, stdin, a .gz, an archive member — is a ByteSource that
// fills caller buffers with read(), so an input of any size streams in
// constant memory. A plain regular file may instead be mapped by the caller
// (file_rest(), parsers/mapped.h), which saves copying it.
//
//   auto src = open_path("vmkernel.0.gz");   // gzip detected by magic bytes
//   if (!src) { report(src.error()); }
//   char buf[1 << 16];
//   for (;;) { auto n = (*src)->read(buf, sizeof buf); if (!n) fail; if (*n == 0) break; ... }
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
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
  // When the rest of this stream is exactly a regular file from some offset to
  // its end (a plain file, or stdin redirected from one), that file and offset,
  // so the caller may map it instead of reading it; the source is then not read.
  struct FileRest {
    int fd;
    uint64_t offset;
  };
  virtual std::optional<FileRest> file_rest() const { return std::nullopt; }
};

// What all decompression of one run may produce together (one diagnose run,
// one scanned input, one serve request): every level charges it — a .gz, the
// stream of a .tgz, a zip member, a .gz inside a member — so a small archive
// of many bombs stops here, not after each has filled max_decompressed.
// Shared by the sources of a run, across threads.
//
//   limits.budget = std::make_shared<DecompressionBudget>(4ull << 30);
//   if (!budget.charge(n)) return budget.error(name);   // over: stop reading
class DecompressionBudget {
 public:
  explicit DecompressionBudget(uint64_t limit) : limit_(limit) {}
  // Counts n more bytes; false once the total is over the limit.
  bool charge(uint64_t n) { return used_.fetch_add(n, std::memory_order_relaxed) + n <= limit_; }
  uint64_t limit() const { return limit_; }
  bool exhausted() const { return used_.load(std::memory_order_relaxed) > limit_; }
  // The one-line error for the stream `name` that went over.
  Error error(const std::string& name) const;

 private:
  uint64_t limit_;
  std::atomic<uint64_t> used_{0};
};

struct SourceLimits {
  uint64_t max_decompressed = 64ull << 30;  // per input; a gzip bomb stops here with an error
                                            // (for an archive: per member, and for the whole
                                            // uncompressed archive stream)
  uint64_t max_total_decompressed = 0;      // all decompression of a run; 0: 4 x max_decompressed
  std::shared_ptr<DecompressionBudget> budget;  // the run's (pipeline/run.h makes it); none if null
  int max_depth = 4;                        // archives/.gz nested deeper than this are an error
  uint64_t max_text_member = 256ull << 20;  // bundle members outside log folders (commands/*.txt)
                                            // larger than this are skipped
};

// Reads from a file descriptor it does not own (stdin).
std::unique_ptr<ByteSource> fd_source(int fd, std::string name);

// Opens a regular file; wraps it in a gzip inflater when it starts with the
// gzip magic bytes.
Result<std::unique_ptr<ByteSource>> open_path(const std::string& path, const SourceLimits& limits = {});

// Inflates a gzip stream (all members) read from inner.
std::unique_ptr<ByteSource> gunzip(std::unique_ptr<ByteSource> inner, std::string name,
                                   const SourceLimits& limits);

// Wraps a source whose first bytes were already read (for magic sniffing);
// head must be the bytes just read from rest.
std::unique_ptr<ByteSource> prepend(std::string head, std::unique_ptr<ByteSource> rest);

// Opens a regular file as raw bytes (no gzip detection; see walk_source in
// parsers/inputs.h for the detecting walk).
Result<std::unique_ptr<ByteSource>> open_file(const std::string& path);

// Reads up to n bytes (fewer only at end of stream). Use with prepend() to
// sniff magic bytes without losing them:
//   auto head = read_head(*src, 512); if (!head) fail;
//   src = prepend(*head, std::move(src));
Result<std::string> read_head(ByteSource& src, size_t n);

// Calls fn on every chunk as the caller reads it (hashing, progress,
// extracting metadata on the side). The chunk is only valid during the call.
using TapFn = std::function<void(const char* data, size_t n)>;
std::unique_ptr<ByteSource> tap(std::unique_ptr<ByteSource> inner, TapFn fn);

// A non-owning view of a source (to wrap a source one does not own in tap()).
std::unique_ptr<ByteSource> borrow(ByteSource& src);

}  // namespace tpmdiag
