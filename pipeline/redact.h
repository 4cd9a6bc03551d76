// Redaction (--redact): host names, addresses, serial numbers, UUIDs, user
// and vCenter names replaced by stable tokens (host-1, ip-1, mac-1, serial-1,
// uuid-1, user-1, vc-1) as lines are read, before framing and parsing, so no
// stage after it (facts, bundle metadata, input names, reports) sees the
// originals. Which text is an identifier is data: pipeline/redact.json, RE2
// patterns whose first capture is the value, each with samples that must come
// out as written (checked when the file is loaded, like a format's samples).
//
//   auto spec = RedactSpec::builtin();            // Result<const RedactSpec*>
//   auto red = std::make_shared<Redactor>(**spec);
//   opts.redactor = red;                          // pipeline/run.h: every stream
//   Report r = run_inputs(engine, paths, opts);
//   red->map();                                   // {{"host-1", "esx01.corp.local"}, ...}
//
// Tokens are stable within one Redactor: the same value always gives the same
// token, and different values different tokens, so hosts, boots and findings
// come out as without redaction. A value once found is replaced wherever it
// appears as a whole word later in the run, and, in what the report keeps
// (evidence, names, fix steps), also before: Run sweeps them again at the end.
// A bare mention of a value that no pattern ever recognises stays
// (docs/report.md "Limits").
// Thread-safe: the sources of one run may be read from several threads.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <re2/re2.h>
#include <re2/set.h>

#include "common/error.h"
#include "parsers/source.h"

namespace tpmdiag {

class RedactSpec {
 public:
  struct Pattern {
    std::string id, kind;                // kind: the token's prefix (host, ip, ...)
    std::shared_ptr<re2::RE2> re;        // capture 1 is the value
    std::shared_ptr<re2::RE2> not_after; // the value is kept when the text before it ends so
  };
  struct Sample {
    std::string where;                   // "pattern 'ipv4' sample 2"
    std::string line, expect;
  };

  static Result<RedactSpec> parse(std::string_view json, const std::string& where);
  // pipeline/redact.json as embedded (parsed and self-tested once; thread-safe).
  static Result<const RedactSpec*> builtin();

  const std::vector<Pattern>& patterns() const { return patterns_; }
  bool keep(std::string_view value) const;
  const RE2::Set& set() const { return *set_; }
  size_t min_word() const { return min_word_; }

 private:
  Status self_test(const std::string& where) const;
  std::vector<Pattern> patterns_;
  std::vector<Sample> samples_;
  std::vector<std::string> keep_, keep_suffix_;
  std::shared_ptr<RE2::Set> set_;
  size_t min_word_ = 3;
};

class Redactor {
 public:
  explicit Redactor(const RedactSpec& spec) : spec_(spec) {}

  // One line (no '\n'), redacted.
  std::string line(std::string_view text);
  // An input name (a path, archive!member): the host a bundle's name carries
  // and every value found so far, plus what the patterns find in it.
  std::string name(std::string_view path, std::string_view host_in_path);
  // Text already redacted, swept again for the values found since (a host
  // name a later line revealed): for what a report keeps, at the end of a run.
  std::string again(std::string_view text);
  // A host name given as such (--host, a bundle's name): its token.
  std::string host(std::string_view host);
  // A source that yields src's lines redacted; src must outlive it.
  std::unique_ptr<ByteSource> source(ByteSource& src);

  // token -> value, by kind then number.
  std::vector<std::pair<std::string, std::string>> map() const;
  // Values replaced, per kind.
  std::map<std::string, size_t> counts() const;

 private:
  struct Span {
    size_t begin, end;
    std::string kind;
  };
  std::string token(const std::string& kind, std::string_view value);  // mu_ held
  std::string apply(std::string_view text, std::vector<Span>& spans);  // mu_ held
  void known_words(std::string_view text, std::vector<Span>& spans);    // mu_ held

  const RedactSpec& spec_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::string> token_of_;  // value -> token
  std::map<std::string, size_t> next_;                     // kind -> tokens given
  std::vector<std::pair<std::string, std::string>> order_; // token, value as given
  std::vector<int> hits_;                                  // scratch for the set match
};

}  // namespace tpmdiag
