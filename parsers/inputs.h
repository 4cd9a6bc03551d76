// Inputs: what the user named (files, folders, .gz, "-") turned into the
// ordered list of log streams to scan (DESIGN.md §2 "sources").
//
//   auto list = expand_inputs({"bundle-dir", "-"}, errors);   // never throws
//   for (auto& in : list) { auto src = open_input(in, limits); ... }
//
// Folders are walked recursively (symlinks are not followed); the streams are
// ordered so that timelines read oldest first: a log's rotations
// `name.N.gz` ... `name.0.gz` come before `name.log`.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "parsers/source.h"

namespace tpmdiag {

struct InputRef {
  std::string name;   // shown in evidence (path, "-", or "bundle.tgz!member")
  std::string path;   // what to open ("-" = stdin)
  std::string host;   // host taken from the path (esx-HOST-DATE... folders), may be empty
};

struct InputError {
  std::string input;
  std::string message;  // one line, names the input
};

std::vector<InputRef> expand_inputs(const std::vector<std::string>& paths, std::vector<InputError>& errors);

Result<std::unique_ptr<ByteSource>> open_input(const InputRef& in, const SourceLimits& limits);

// Host name from a vm-support style path component `esx-HOST-YYYY-MM-DD--HH.MM-PID`.
std::string host_from_path(std::string_view path);

// Sort key that puts rotated logs oldest first (see above).
std::string timeline_key(std::string_view path);

}  // namespace tpmdiag
