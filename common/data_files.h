// Data files to load: those embedded in the binary (common/embedded.h) and
// the *.json of folders named on the command line (--rules DIR, --kb DIR).
//
//   auto files = collect_data_files("rules/", {"/etc/tpmdiag/rules"});   // Result<...>
//   for (const DataFile& f : *files) parse(f.path, f.text);
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace tpmdiag {

// A named text to load (an embedded file or a file read from --rules DIR).
struct DataFile {
  std::string path;
  std::string text;
};

// Data files directly in `prefix` ("rules/", "kb/causes/"; not in its
// subfolders, as rules/lexicon/) embedded in the binary, followed by the
// *.json files of each extra directory (sorted by name).
Result<std::vector<DataFile>> collect_data_files(std::string_view prefix,
                                                 const std::vector<std::string>& extra_dirs);

// The bytes of a regular file, in one read of its size: false (out
// unspecified) if it cannot be opened or read.
bool read_whole_file(const std::string& path, std::string& out);

}  // namespace tpmdiag
