// Inputs: what the user named (files, folders, .gz, "-") turned into the log
// streams to scan (DESIGN.md §2 "sources").
//
//   walk_inputs({"bundle-dir", "-"}, limits,
//               [&](const StreamInfo& info, ByteSource& src) { scan(info, src); },
//               [&](const InputError& e) { record(e); });
//
// Folders are walked recursively (symlinks are not followed). Each stream gets
// an `order` key so that timelines read oldest first: a log's rotations
// `name.N.gz` ... `name.0.gz` come before `name.log`. A failing input is
// reported through on_error and the walk goes on with the rest.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "parsers/event.h"
#include "parsers/source.h"

namespace tpmdiag {

struct StreamInfo {
  std::string name;    // shown in evidence: path, "-", or "bundle.tgz!member"
  std::string host;    // host taken from the path (esx-HOST-DATE... folders); may be empty
  uint64_t order = 0;  // timeline order of the stream within the run (see above)
  SourceKind kind_hint = SourceKind::unknown;  // kind for lines no format recognises
                                               // (e.g. esxcli for a bundle's commands/*.txt)
};

struct InputError {
  std::string input;
  std::string message;  // one line, names the input
};

using StreamFn = std::function<void(const StreamInfo&, ByteSource&)>;
using ErrorFn = std::function<void(const InputError&)>;

void walk_inputs(const std::vector<std::string>& paths, const SourceLimits& limits,
                 const StreamFn& on_stream, const ErrorFn& on_error);

// Host name from a vm-support style path component `esx-HOST-YYYY-MM-DD--HH.MM-PID`.
std::string host_from_path(std::string_view path);

// Sort key that puts rotated logs oldest first (see above).
std::string timeline_key(std::string_view path);

// A source over bytes held in memory (pasted text, an upload).
std::unique_ptr<ByteSource> memory_source(std::string data);

}  // namespace tpmdiag
