// Bundle metadata: what a vm-support bundle says about its host besides the
// logs — host name, ESXi version/build, BIOS, board, TPM presence, TPM VIBs,
// TPM vendor and firmware. Where to find each field is data
// (kb/bundle-metadata.json: files under commands/, RE2 patterns, or a rule's
// fact), not C++, because those command outputs are partly inference.
//
//   auto spec = BundleSpec::builtin();          // Result<const BundleSpec*>
//   BundleInfo info(**spec);
//   Run run(engine, opts);                      // pipeline/run.h
//   run.watch_bundle(&info);                    // each stream read through info.watch()
//   run.add_path("esx-h1-2024-01-01--10.00-123.tgz");
//   info.add_facts(run.facts());                // tpm_vendor from "Vendor ID: IFX"
//   info.fields();                              // {"esxi_build": "19193900", ...}
//
// Extraction costs nothing for streams that are not metadata sources (watch()
// returns a plain pass-through), and reads at most max_bytes_per_file of
// each source file.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "parsers/source.h"
#include "rules/fact.h"

namespace re2 {
class RE2;
}

namespace tpmdiag {

// An RE2 compiled on first use, once, from any thread: a paste reads no
// bundle, and compiling the spec's ~40 patterns at start was a sixth of a
// one-line paste's instructions.
class LazyRegex {
 public:
  explicit LazyRegex(std::string pattern);
  ~LazyRegex();
  const re2::RE2& get() const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  mutable std::once_flag once_;
  mutable std::unique_ptr<re2::RE2> re_;
};

class BundleSpec {
 public:
  enum class Type { string, list, boolean, presence };
  enum class Decode { none, hex_ascii, hex_u16_pair };
  struct Source {
    std::string file;                    // glob on the end of the stream path (file sources)
    std::shared_ptr<const LazyRegex> pattern;  // first capture group is the value
    std::shared_ptr<const LazyRegex> section;  // optional: pattern counts only `within` lines after this
    int within = 0;
    Decode decode = Decode::none;
    std::string fact, capture;           // fact sources
  };
  struct Field {
    std::string name, title;
    Type type = Type::string;
    std::vector<Source> sources;         // in priority order
  };

  // Parses the JSON text; errors name `where`, the field and the key. The
  // patterns compile now and are checked, unless `check_patterns` is false:
  // then they compile when a file of theirs is first read (check() tells).
  static Result<BundleSpec> parse(std::string_view json, const std::string& where, bool check_patterns = true);
  // kb/bundle-metadata.json as embedded in the binary (parsed once; thread-safe),
  // its patterns compiled on first use: `tpmdiag rules test` checks them
  // when the binary is built.
  static Result<const BundleSpec*> builtin();
  // Compiles every pattern: fails on one that is not valid RE2 or has no
  // capture group (the value).
  Status check() const;

  const std::vector<Field>& fields() const { return fields_; }
  uint64_t max_bytes_per_file() const { return max_bytes_; }
  // Whether any file source matches this stream name.
  bool wants(std::string_view stream_name) const;

 private:
  std::vector<Field> fields_;
  uint64_t max_bytes_ = 8 << 20;
};

// Whether `glob` (segments separated by '/', '*' within a segment) matches the
// end of `path` (segments separated by '/' or an archive's '!').
bool path_tail_matches(std::string_view path, std::string_view glob);

// One bundle's metadata, filled as its streams are read. Not thread-safe: one
// per job.
class BundleInfo {
 public:
  explicit BundleInfo(const BundleSpec& spec) : spec_(spec) {}

  // A source reading through src; when `name` is a metadata file, its lines
  // are matched as the caller reads them. src must outlive the result.
  std::unique_ptr<ByteSource> watch(const std::string& name, ByteSource& src);
  // Feeds a whole file's lines directly (tests, callers that already hold text).
  void add_text(const std::string& name, std::string_view text);
  // Fact sources: the last matching fact (in input_seq, line order) wins.
  void add_facts(const std::vector<Fact>& facts);
  void add_facts(const std::vector<const Fact*>& facts);  // (one host's facts)
  const BundleSpec& spec() const { return spec_; }

  // Field name -> value, for the fields found.
  std::map<std::string, std::string> fields() const;

 private:
  friend class WatchSource;
  struct Found {
    size_t priority = 0;  // index of the source that gave it
    std::string value;
    std::vector<std::string> list;
  };
  struct FileState;
  std::shared_ptr<FileState> begin_file(const std::string& name);
  void line(FileState& st, std::string_view text);
  void set(const BundleSpec::Field& f, size_t priority, std::string value);

  const BundleSpec& spec_;
  std::map<std::string, Found> found_;
  std::set<std::string> presence_seen_;  // presence fields whose file was read
};

}  // namespace tpmdiag
