// The lexicon (rules/lexicon.h): loading, the two regexes, self-test.
#include "rules/lexicon.h"

#include <algorithm>
#include <mutex>

#include <re2/re2.h>

#include "common/json_read.h"
#include "common/text.h"

namespace tpmdiag {

struct Lexicon::Regexes {
  std::once_flag once;
  std::unique_ptr<RE2> tpm, failure;
  std::unique_ptr<RE2> ignore;  // null when no file lists a span to ignore
  std::string error;
};

const Lexicon::Regexes& Lexicon::regexes() const {
  std::call_once(re_->once, [this] {
    RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_never_capture(true);
    Regexes& r = *re_;
    for (auto [terms, re] : {std::pair{&tpm_, &r.tpm}, std::pair{&failure_, &r.failure}}) {
      *re = std::make_unique<RE2>(lexicon_pattern(*terms), opts);
      if (!(*re)->ok() && r.error.empty()) r.error = "lexicon: terms do not compile: " + (*re)->error();
    }
    std::string any;
    for (const auto& p : ignore_) any += (any.empty() ? "(?:" : "|(?:") + p + ")";
    if (any.empty()) return;
    r.ignore = std::make_unique<RE2>(any, opts);
    if (!r.ignore->ok() && r.error.empty()) r.error = "lexicon: an 'ignore' pattern does not compile: " + r.ignore->error();
  });
  return *re_;
}

// Whether re matches text once the spans to ignore are blanked out.
bool Lexicon::holds(const RE2& re, std::string_view text) const {
  const Regexes& r = regexes();
  if (!r.ignore || !RE2::PartialMatch(text, *r.ignore)) return RE2::PartialMatch(text, re);
  std::string rest(text);
  RE2::GlobalReplace(&rest, *r.ignore, " ");
  return RE2::PartialMatch(rest, re);
}

Lexicon::Lexicon() : re_(std::make_unique<Regexes>()) {}
Lexicon::Lexicon(Lexicon&&) noexcept = default;
Lexicon& Lexicon::operator=(Lexicon&&) noexcept = default;
Lexicon::~Lexicon() = default;

namespace {

// Boundaries: a letter or digit may not touch a whole word. RE2's \b counts
// '_' as a word character, which would hide the TPM in "VMB_TPM".
constexpr const char* kBefore = "(?:^|[^A-Za-z0-9])";
constexpr const char* kAfter = "(?:$|[^A-Za-z0-9])";

bool has_alnum(std::string_view s) {
  for (char c : s)
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return false;
}

Status parse_terms(simdjson::dom::object root, const char* key, const JsonFields& f, const std::string& path,
                   std::vector<LexiconTerm>& out) {
  simdjson::dom::element e;
  if (root[key].get(e)) return ok_status();  // a file may give only one of the lists
  simdjson::dom::array list;
  if (e.get(list)) return f.err(key, "must be a list of terms");
  size_t i = 0;
  for (auto item : list) {
    std::string field = std::string(key) + "[" + std::to_string(i++) + "]";
    LexiconTerm t;
    t.file = path;
    std::string_view sv;
    simdjson::dom::object o;
    if (!item.get(sv)) {
      t.text.assign(sv);
    } else if (!item.get(o)) {
      JsonFields tf = f.nested(field);
      if (auto s = tf.only_keys(o, {"text", "match", "case", "prefilter", "note"}); !s) return s;
      if (auto s = tf.opt_bool(o, "prefilter", t.prefilter); !s) return s;
      std::string match = "word", cs = "any";
      if (auto s = tf.req_string(o, "text", t.text); !s) return s;
      if (auto s = tf.opt_string(o, "match", match); !s) return s;
      if (auto s = tf.opt_string(o, "case", cs); !s) return s;
      if (match == "word") t.match = LexiconTerm::Match::word;
      else if (match == "prefix") t.match = LexiconTerm::Match::prefix;
      else if (match == "anywhere") t.match = LexiconTerm::Match::anywhere;
      else return tf.err("match", "must be word, prefix or anywhere, not '" + match + "'");
      if (cs == "exact") t.exact_case = true;
      else if (cs != "any") return tf.err("case", "must be any or exact, not '" + cs + "'");
    } else {
      return f.err(field, "must be a string or {\"text\", \"match\", \"case\"}");
    }
    if (!has_alnum(t.text)) return f.err(field, "'" + t.text + "' needs at least one letter or digit");
    if (t.text.size() < 2) return f.err(field, "'" + t.text + "' is shorter than 2 characters");
    out.push_back(std::move(t));
  }
  return ok_status();
}

Status parse_ignore(simdjson::dom::object root, const JsonFields& f, std::vector<std::string>& out) {
  simdjson::dom::element e;
  if (root["ignore"].get(e)) return ok_status();
  simdjson::dom::array list;
  if (e.get(list)) return f.err("ignore", "must be a list of {\"pattern\", \"note\"}");
  size_t i = 0;
  for (auto item : list) {
    JsonFields jf = f.nested("ignore[" + std::to_string(i++) + "]");
    simdjson::dom::object o;
    if (item.get(o)) return f.err("ignore", "items must be {\"pattern\", \"note\"} objects");
    if (auto s = jf.only_keys(o, {"pattern", "note"}); !s) return s;
    std::string p;
    if (auto s = jf.req_string(o, "pattern", p); !s) return s;
    out.push_back(std::move(p));  // compiled with the term lists (regexes()), which report a bad one
  }
  return ok_status();
}

Status parse_samples(simdjson::dom::object root, const JsonFields& f, const std::string& path,
                     std::vector<LexiconSample>& out) {
  simdjson::dom::array list;
  if (root["samples"].get(list)) return f.err("samples", "missing: a lexicon file ships lines with expected answers");
  size_t i = 0;
  for (auto item : list) {
    JsonFields sf = f.nested("samples[" + std::to_string(i++) + "]");
    simdjson::dom::object o;
    if (item.get(o)) return f.err("samples", "items must be {\"line\", \"tpm\", \"failure\"} objects");
    if (auto s = sf.only_keys(o, {"line", "severity", "tpm", "failure", "note"}); !s) return s;
    LexiconSample ls;
    ls.file = path;
    std::string sev = "none";
    if (auto s = sf.req_string(o, "line", ls.line); !s) return s;
    if (auto s = sf.opt_string(o, "severity", sev); !s) return s;
    auto sv = severity_from_name(sev);
    if (!sv) return sf.err("severity", "unknown severity '" + sev + "'");
    ls.severity = *sv;
    for (auto [key, dst] : {std::pair{"tpm", &ls.tpm}, std::pair{"failure", &ls.failure}}) {
      if (o[key].get(*dst)) return sf.err(key, "missing or not true/false");
    }
    out.push_back(std::move(ls));
  }
  if (out.empty()) return f.err("samples", "needs at least one sample");
  return ok_status();
}

}  // namespace

std::string lexicon_pattern(const std::vector<LexiconTerm>& terms) {
  std::string p;
  for (const auto& t : terms) {
    if (!p.empty()) p += '|';
    std::string lit = RE2::QuoteMeta(t.text);
    if (!t.exact_case) lit = "(?i:" + lit + ")";
    switch (t.match) {
      case LexiconTerm::Match::word: p += kBefore + lit + kAfter; break;
      case LexiconTerm::Match::prefix: p += kBefore + lit; break;
      case LexiconTerm::Match::anywhere: p += lit; break;
    }
  }
  return p;
}

std::vector<std::string> Lexicon::prefilter_terms() const {
  std::vector<std::string> out;
  for (const auto& t : tpm_)
    if (t.prefilter && !t.exact_case && t.text.size() >= 3) out.push_back(ascii_lower(t.text));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  // A term holding another ("hosttpm" holds "tpm") adds nothing to a substring search.
  std::vector<std::string> kept;
  for (const auto& t : out)
    if (std::none_of(out.begin(), out.end(), [&](const std::string& o) { return o != t && t.find(o) != std::string::npos; }))
      kept.push_back(t);
  return kept;
}

bool Lexicon::mentions_tpm(std::string_view text) const { return holds(*regexes().tpm, text); }

bool Lexicon::has_failure_word(std::string_view text) const {
  return holds(*regexes().failure, text);
}

bool Lexicon::failure_like(std::string_view text, Severity sev) const {
  return sev >= Severity::warning || has_failure_word(text);
}

std::vector<std::string> Lexicon::self_test() const {
  std::vector<std::string> out;
  auto yes = [](bool b) { return b ? "true" : "false"; };
  for (const auto& s : samples_) {
    bool tpm = mentions_tpm(s.line);
    bool failure = failure_like(s.line, s.severity);
    std::string line = s.line;
    for (char& c : line)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    if (tpm != s.tpm)
      out.push_back(s.file + ": sample '" + line + "': mentions_tpm is " + yes(tpm) + ", expected " + yes(s.tpm));
    if (failure != s.failure)
      out.push_back(s.file + ": sample '" + line + "': failure_like is " + yes(failure) + ", expected " +
                    yes(s.failure));
  }
  return out;
}

Result<Lexicon> load_lexicon(const std::vector<DataFile>& files, bool check_samples) {
  Lexicon lex;
  simdjson::dom::parser parser;
  for (const auto& file : files) {
    auto parsed = parse_json_object(parser, file.path, file.text);
    if (!parsed) return parsed.error();
    simdjson::dom::object root = *parsed;
    JsonFields f{file.path};
    if (auto s = f.only_keys(root, {"lexicon", "description", "sources", "tpm", "failure", "ignore", "samples"}); !s)
      return s.error();
    std::string name;
    if (auto s = f.req_string(root, "lexicon", name); !s) return s.error();
    if (auto s = parse_terms(root, "tpm", f, file.path, lex.tpm_); !s) return s.error();
    if (auto s = parse_terms(root, "failure", f, file.path, lex.failure_); !s) return s.error();
    if (auto s = parse_ignore(root, f, lex.ignore_); !s) return s.error();
    if (auto s = parse_samples(root, f, file.path, lex.samples_); !s) return s.error();
  }
  if (lex.tpm_.empty()) return make_error("lexicon: no file lists a 'tpm' term");
  if (lex.failure_.empty()) return make_error("lexicon: no file lists a 'failure' term");

  if (!check_samples) return lex;  // the regexes too compile on first use
  if (const auto& re = lex.regexes(); !re.error.empty()) return make_error(re.error);
  if (auto failures = lex.self_test(); !failures.empty()) return make_error(failures.front());
  return lex;
}

}  // namespace tpmdiag
