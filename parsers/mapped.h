// A regular file mapped read-only into memory, to read it without copying it:
// the rule cache's file, and a large log, whose slices keys are chosen from
// and split points found in, and whose parts are then scanned in place
// (pipeline/run.cc). The catch with mappings is a file that
// shrinks while mapped: touching a page past the new end raises SIGBUS. A
// process-wide SIGBUS handler therefore covers every live MappedFile: a fault
// inside one maps a zero page over the missing page, marks the file as
// shrunk, and lets the reader go on; shrank() then turns that into an error
// naming the file. Faults anywhere else keep the default action.
//
//   auto m = MappedFile::open(fd, "vmkernel.log");  // Result<std::unique_ptr<MappedFile>>
//   use(std::string_view((*m)->data(), (*m)->size()));
//   if ((*m)->shrank()) report((*m)->name() + ": file shrank while being read");
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "common/error.h"

namespace tpmdiag {

class MappedFile {
 public:
  // Maps the whole of a regular file (fd is not kept). Fails for other file
  // types and for empty files.
  static Result<std::unique_ptr<MappedFile>> open(int fd, const std::string& name);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const char* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& name() const { return name_; }
  // True once a page past the file's end was touched (the file shrank).
  bool shrank() const;
  // Drops the pages wholly inside [from, to) from this process's memory (the
  // page cache keeps them): a scan that releases what it has read keeps its
  // resident size small however large the file.
  void release(const char* from, const char* to) const;
  // For a look at [from, to) out of scan order (a sample, a search for a
  // cut point): drops the pages around it too. A fault maps the whole folio
  // the page cache holds (up to 2 MiB for a file written in large writes),
  // and release() would keep what lies outside [from, to).
  void release_around(const char* from, const char* to) const;

 private:
  MappedFile(const char* data, size_t size, std::string name, int slot);
  const char* data_;
  size_t size_;
  std::string name_;
  int slot_;  // index in the handler's table
};

}  // namespace tpmdiag
