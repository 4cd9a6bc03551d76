// Inputs: what the user named (files, folders, .gz, archives, "-") turned into
// the log streams to scan (DESIGN.md §2 "sources").
//
//   walk_inputs({"bundle-dir", "esx-h1-2024-01-01--10.00-123.tgz", "-"}, limits,
//               [&](const StreamInfo& info, ByteSource& src) { scan(info, src); },
//               [&](const InputError& e) { record(e); });
//
//   // An upload held in memory (the web page): same detection and recursion.
//   walk_source("upload.tgz", memory_source(std::move(bytes)), limits, on_stream, on_error);
//
// What a stream is, is decided by its first bytes, not its name: gzip is
// inflated and looked at again (a .gz log, or a .tgz); tar, zip and cpio
// archives (also bzip2/xz/zstd compressed) are read member by member with
// libarchive, never extracted to disk, recursively (a rotated vmkernel.3.gz
// inside a .tgz; host bundles inside a vCenter .zip) up to
// SourceLimits::max_depth levels (a compressed archive, .tgz or .tar.xz, is
// one level; so is a .gz). Archive members are named "archive!member"
// ("esx-h1-….tgz!esx-h1-…/var/run/log/vmkernel.log"); member paths are only
// names, never used to open or write anything.
//
// Which files of a folder or members of an archive are scanned is the bundle
// layout's call (parsers/bundle_layout.h: classify_member); command outputs
// get kind_hint = esxcli. Folders, symlinks, hard links and devices never are.
//
// Order: folders are walked recursively (symlinks are not followed) and their
// files read in timeline_key order, so a log's rotations `name.N.gz` …
// `name.0.gz` come before `name.log`. Archive members can only be read in
// archive order; each stream's `order` is its arrival number, and a consumer
// that needs timeline order across the streams of one input renumbers them
// with TimelineOrder once the walk is done (the scan command does).
//
// Errors: a failing input is reported through on_error (one line naming it)
// and the walk goes on with the rest; inside a folder, so is each subfolder or
// file that cannot be read (the rest of the folder is still walked). A stream that fails while being read
// (a truncated .gz, a truncated archive member) reports it through its
// ByteSource::read, after the data read so far; the archive then stops there,
// the members before it counted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "parsers/bundle_layout.h"
#include "parsers/event.h"
#include "parsers/source.h"

namespace tpmdiag {

struct StreamInfo {
  std::string name;    // shown in evidence: path, "-", or "bundle.tgz!member"
  std::string host;    // host taken from the path (esx-HOST-DATE... folders); may be empty
  uint64_t order = 0;  // arrival order of the stream in the walk (see above)
  SourceKind kind_hint = SourceKind::unknown;  // kind for lines no format recognises
                                               // (esxcli for a bundle's commands/*.txt)
};

struct InputError {
  std::string input;
  std::string message;  // one line, names the input
};

using StreamFn = std::function<void(const StreamInfo&, ByteSource&)>;
using ErrorFn = std::function<void(const InputError&)>;
// A file of a folder or member of an archive that is not read (no log: see
// parsers/bundle_layout.h), by name; so a report can count them.
using SkipFn = std::function<void(const std::string& name)>;

void walk_inputs(const std::vector<std::string>& paths, const SourceLimits& limits,
                 const StreamFn& on_stream, const ErrorFn& on_error, const SkipFn& on_skip = {});

// Walks one named source: sniffs gzip/tar/zip/... and recurses (see above).
// `next_order`, when given, numbers the streams (and is advanced); otherwise
// they are numbered from 0.
void walk_source(const std::string& name, std::unique_ptr<ByteSource> src, const SourceLimits& limits,
                 const StreamFn& on_stream, const ErrorFn& on_error, uint64_t* next_order = nullptr,
                 const SkipFn& on_skip = {});

// Walks a folder tree (symlinks not followed; devices, FIFOs and sockets
// skipped) and calls on_file for each regular file with its size; an
// unreadable subfolder is one on_error and the rest is still walked.
using FileFn = std::function<void(const std::filesystem::path&, uint64_t size)>;
void walk_folder(const std::string& top, const FileFn& on_file, const ErrorFn& on_error);

// Renumbers the streams of one input in timeline order once they have all
// arrived (archive members come in archive order):
//   TimelineOrder t;  ... on each stream: t.add(info);
//   auto rank = t.ranks();  for (auto& f : facts) f.input_seq = rank.at(f.input_seq);
class TimelineOrder {
 public:
  void add(const StreamInfo& info) { streams_.push_back({timeline_key(info.name), info.order}); }
  // order -> position in timeline order (ties keep arrival order).
  std::unordered_map<uint64_t, uint32_t> ranks() const;

 private:
  std::vector<std::pair<std::string, uint64_t>> streams_;
};

// A source over bytes held in memory (pasted text, an upload).
std::unique_ptr<ByteSource> memory_source(std::string data);

}  // namespace tpmdiag
