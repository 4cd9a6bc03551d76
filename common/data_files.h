// Data files to load: those embedded in the binary (common/embedded.h) and
// the *.json of folders named on the command line (--rules DIR, --kb DIR).
//
//   auto files = collect_data_files("rules/", {"/etc/tpmdiag/rules"});   // Result<...>
//   for (const DataFile& f : *files) parse(f.path, f.text);
//
// A cache of what was made from the files can name them by their stat
// instead (as make and git do), and read them only when it must:
//
//   auto files = collect_data_files("rules/", dirs, /*read=*/false);  // listed and stat'ed
//   if (!cached(*files)) { if (auto s = read_data_files(*files); !s) ...; parse(*files); }
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace tpmdiag {

// What stat said of a file, as a cache keyed by it needs: a change of the
// file's bytes changes ctime (which no one can set back) unless it falls in
// the same tick of the file system's clock (rules/rule_cache.h).
struct FileStamp {
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;

  bool operator==(const FileStamp&) const = default;
};

// A named text to load (an embedded file or a file read from --rules DIR).
struct DataFile {
  std::string path;
  std::string text;
  bool on_disk = false;  // from a directory: `stamp` is its stat
  bool loaded = true;    // `text` holds its bytes
  FileStamp stamp = {};
  int64_t stat_ns = 0;  // when: the clock just before the stat (ns since the epoch)
};

// Data files directly in `prefix` ("rules/", "kb/causes/"; not in its
// subfolders, as rules/lexicon/) embedded in the binary, followed by the
// *.json files of each extra directory (sorted by name). read=false leaves
// the directories' files unread (loaded false), stat'ed only.
Result<std::vector<DataFile>> collect_data_files(std::string_view prefix,
                                                 const std::vector<std::string>& extra_dirs, bool read = true);

// Reads the files collect_data_files(..., false) left unread.
Status read_data_files(std::vector<DataFile>& files);

// The bytes of a regular file, in one read of its size: false (out
// unspecified) if it cannot be opened or read.
bool read_whole_file(const std::string& path, std::string& out);

}  // namespace tpmdiag
