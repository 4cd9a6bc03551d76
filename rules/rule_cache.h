// A rule set as loaded and analysed, kept on disk so that the next run with
// the same rule files neither parses their JSON nor compiles their patterns
// (issue 21: start-up that does not grow with the rule set). With the
// analysis at hand (captures, named groups, prefilter requirements), a
// rule's RE2 is compiled only when a line holding one of its literals
// reaches it.
//
//   auto files = collect_data_files("rules/", dirs, false);  // stat'ed, not read
//   RuleCache cache = RuleCache::open(RuleCache::default_dir(), *files);  // never fails
//   auto rules = cache.rules(*files);   // cached, or read_data_files + load_rules
//   for each rule i: if (!cache.take(i, a)) { a = analyse(rule i); cache.add(i, a); }
//   cache.save();                       // only if the rules were not cached (or to restamp)
//
// The file is named by a hash of the rule files and of the tpmdiag binary
// (its size, time and inode: how rules are read and analysed may change
// between builds of one version, and a stale analysis could hide a rule's
// lines). A file from a --rules folder counts by its path and stat (device,
// inode, size, mtime and ctime, in ns), as make and git tell a changed file,
// so a cached run reads none of them; an embedded one by its bytes. Writing
// a file changes its ctime, which cannot be set back, except within one tick
// of its file system's clock: a file changed less than 3 s before the cache
// was written ("racy", as git says) could change again unseen, so for it the
// files are read and must hash to what the cache was written from, else the
// cache is not used (and is restamped, once no file is racy any more, so
// later runs trust the stats again). The cache's time is that of the
// oldest stat (DataFile::stat_ns).
//
// The cache file holds its key and a hash of its contents: a changed file
// or binary reads another file. A file whose key or hash differs, that
// does not decode whole (cut, damaged, another format) or that another user
// owns is not used at all, and save() rewrites it. save() writes a new file
// and renames it into place, so concurrent runs never read a half-written
// one; the last writer wins, and each writer's file is whole. The folder
// keeps the 16 newest files (prune()): one per rule set and build of
// tpmdiag would otherwise pile up.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/data_files.h"
#include "rules/rule.h"

namespace tpmdiag {

struct RuleAnalysis {
  int captures = 0;                                 // capturing groups
  std::vector<std::pair<std::string, int>> groups;  // named captures
  // Prefilter requirements (Matcher::requirements()): one of them is met by
  // every line the rule matches; each lists atoms all such lines hold.
  std::vector<std::vector<std::string>> reqs;

  bool operator==(const RuleAnalysis&) const = default;
};

// When a rule cache file was written (the time of its files' oldest stat, or
// RuleCache::open()'s; ns since the epoch) and from which bytes
// (RuleCache::files_hash).
struct RuleCacheWritten {
  int64_t at_ns = 0;
  uint64_t files_hash = 0;
  bool operator==(const RuleCacheWritten&) const = default;
};

class RuleCache {
 public:
  // $TPMDIAG_CACHE_DIR, else $XDG_CACHE_HOME/tpmdiag, else ~/.cache/tpmdiag;
  // empty (no cache) when TPMDIAG_CACHE_DIR is set but empty, or no home.
  static std::string default_dir();
  // The cache of the rule set in these files, in dir ("" = none: nothing
  // is found and save() writes nothing).
  // samples=false leaves the cached rules' samples out (only `rules test`
  // reads them: a third of the file, and of the time to read it).
  // Reads the files (read_data_files) only when the cache is racy.
  static RuleCache open(const std::string& dir, std::vector<DataFile>& files, bool samples = true);

  // The files' rules (the same files as open()'s): the cached ones when the
  // file holds them, else load_rules(files) after reading them.
  Result<std::vector<Rule>> rules(std::vector<DataFile>& files);
  // files_hash() of the rule files, once rules() returned them: the cache's
  // record of it when they were not read.
  uint64_t files_hash() const { return files_hash_; }
  // Whether the rules came from the cache.
  bool hit() const { return hit_; }
  // What compiling rule i of rules() taught a previous run, moved into out:
  // only when the rules came from the cache, once per rule.
  bool take(size_t i, RuleAnalysis& out);
  // Rule i's analysis, for save() (rules() parsed the files).
  void add(size_t i, RuleAnalysis a);
  // Writes the rules and their analyses when rules() parsed the files and
  // every rule's analysis was added; errors are ignored (a cache).
  void save() const;
  // After save() writes a new file: keeps the kKeep newest cache files of
  // dir and removes half-written ones older than ten minutes.
  static void prune(const std::string& dir);
  static constexpr size_t kKeep = 16;
  static constexpr int64_t kStaleTmpNs = int64_t{600} * 1'000'000'000;
  static bool is_cache_name(std::string_view name);  // "rules-" and 16 hex digits

  // A hash of the files' names and bytes (loaded).
  static uint64_t files_hash(const std::vector<DataFile>& files);

  using Written = RuleCacheWritten;
  // The file's bytes for a rule set, and back (decode: false, and nothing
  // in the outputs to use, unless the bytes are a whole file of this key).
  static std::string encode(uint64_t key, const std::vector<Rule>& rules, const std::vector<RuleAnalysis>& analyses,
                            Written written = {});
  static bool decode(std::string_view bytes, uint64_t key, std::vector<Rule>& rules,
                     std::vector<RuleAnalysis>& analyses, bool samples = true, Written* written = nullptr);

 private:
  std::string path_;
  uint64_t key_ = 0, files_hash_ = 0;
  int64_t at_ns_ = 0;
  std::string restamp_;  // a racy hit's file, to write again with at_ns_
  bool hit_ = false, taken_ = false;
  std::vector<Rule> rules_;  // decoded, until rules(); or a copy of the parsed ones, for save()
  std::vector<RuleAnalysis> analyses_;  // per rule
  std::vector<bool> added_;             // per rule, when parsed
};

}  // namespace tpmdiag
