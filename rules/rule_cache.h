// What the matcher learns by compiling a rule's pattern, kept on disk so that
// the next run need not compile it (issue 21: start-up that does not grow with
// the rule set). Compiling ~90 RE2 patterns to find their literals was most of
// a paste's start-up; with the analysis at hand, a rule's RE2 is compiled only
// when a line holding one of its literals reaches it.
//
//   RuleCache cache = RuleCache::open(RuleCache::default_dir(), rules);  // never fails
//   if (const RuleAnalysis* a = cache.find(rule)) { ...use a... }
//   else { RuleAnalysis a = analyse(rule); cache.add(rule, a); }
//   cache.save();                    // only if something was added
//
// An entry is found only for the same pattern and literals, byte for byte, and
// the same tpmdiag binary (its size, time and inode name the file: how the
// analysis is computed may change between builds of one version, and a
// stale analysis could hide a rule's lines): a stale entry cannot be used. A file that does not
// parse is ignored (and rewritten by save()). save() writes a new file and
// renames it into place, so concurrent runs never read a half-written one;
// the last writer wins, and each writer's file is whole.
#pragma once

#include <string>
#include <map>
#include <utility>
#include <vector>

#include "rules/rule.h"

namespace tpmdiag {

struct RuleAnalysis {
  int captures = 0;                                 // capturing groups
  std::vector<std::pair<std::string, int>> groups;  // named captures
  // Prefilter requirements (Matcher::requirements()): one of them is met by
  // every line the rule matches; each lists atoms all such lines hold.
  std::vector<std::vector<std::string>> reqs;
};

class RuleCache {
 public:
  // $TPMDIAG_CACHE_DIR, else $XDG_CACHE_HOME/tpmdiag, else ~/.cache/tpmdiag;
  // empty (no cache) when TPMDIAG_CACHE_DIR is set but empty, or no home.
  static std::string default_dir();
  // The cache of this rule set in dir ("" = none: find() finds nothing and
  // save() writes nothing).
  static RuleCache open(const std::string& dir, const std::vector<Rule>& rules);

  const RuleAnalysis* find(const Rule& r) const;
  void add(const Rule& r, RuleAnalysis a);
  // Writes the file if entries were added; errors are ignored (a cache).
  void save() const;

  static std::string key(const Rule& r);  // pattern and literals

 private:
  std::string path_;
  std::map<std::string, RuleAnalysis> entries_;  // sorted: the same rules, the same file
  bool dirty_ = false;
};

}  // namespace tpmdiag
