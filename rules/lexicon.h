// The lexicon: words that talk about the TPM or attestation, and words that
// say something failed (issue 16, "nothing hidden"). It is data:
// rules/lexicon/*.json, embedded like the rules, with samples checked at load.
//
// Rules explain the lines someone has written a rule for. The lexicon finds
// the others: a line that mentions the TPM and reads like a failure, but that
// no rule matched, is an "unexplained" TPM line and must be shown.
//
//   auto files = collect_data_files("rules/lexicon/", {});
//   auto lex = load_lexicon(*files);                      // Result<Lexicon>
//   if (!lex) { std::cerr << lex.error().message << '\n'; return 2; }
//   std::string buf;
//   std::string_view text = normalize_text(ev.raw, buf);  // common/normalize.h
//   if (facts_of_this_line.empty() && lex->mentions_tpm(text) &&
//       lex->failure_like(text, ev.severity))
//     unexplained.push_back(...);
//
//   CHECK(lex->mentions_tpm("WARNING: tpmDriver: TpmWaitReady:402: TPM not ready after 750 ms"));
//   CHECK(lex->failure_like("TPM not ready after 750 ms", Severity::none));  // "not ready"
//   CHECK(lex->failure_like("Tpm20Provider created.", Severity::error));    // the level says so
//   CHECK_FALSE(lex->mentions_tpm("ACME corp texture peak"));               // no ACM, TXT, EK
//
// Pass the whole line (or component and message): hostd puts the component
// (`sub=Hostsvc.Tpm20Provider`) outside the message, and that may be the only
// place the line names the TPM.
//
// File format (one or more files; their term lists are merged):
//
//   {"lexicon": "tpm",
//    "description": "...", "sources": ["https://..."],
//    "tpm":     [TERM, ...],     what talks about the TPM or attestation
//    "failure": [TERM, ...],     what says something failed
//    "ignore":  [{"pattern": RE2, "note": "why"}, ...]   optional: spans of a
//               line no term is looked for in (binary blobs whose letters
//               may spell a term by chance)
//    "samples": [{"line": "...", "severity": "warning",     severity optional
//                 "tpm": true, "failure": true}, ...]}       expected answers
//   TERM: "text" (a whole word, any letter case) or
//         {"text": "EK", "match": "word|prefix|anywhere", "case": "any|exact",
//          "prefilter": true, "note": "why"}
//     prefilter a term the prefilter searches for (see prefilter_terms())
//     word      the text is a whole word: no letter or digit right before or
//               after it ('_', '.', '-', ':' and spaces are boundaries, so
//               "VMB_TPM" holds the word TPM, "texture" does not hold TXT)
//     prefix    the text starts a word: "tpm" in "tpmDriver", "Tpm2Cmd"
//     anywhere  the text anywhere, inside words too
//     exact     letter case must match: "EK" but not "ek"/"Ek" in other words
//
// Loading checks every field (errors name file and field) and then every
// sample of every file against the merged lists; the first sample whose
// answer differs is the load error, naming file, sample and predicate.
//
// A Lexicon is immutable after load and safe to use from many threads.
// Matching uses one RE2 per list (all terms in one alternation).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "parsers/event.h"
#include "rules/rule.h"  // DataFile

namespace re2 {
class RE2;
}

namespace tpmdiag {

struct LexiconTerm {
  enum class Match : uint8_t { word, prefix, anywhere };
  std::string text;
  Match match = Match::word;
  bool exact_case = false;
  bool prefilter = false;  // searched for to find lines no rule's literal brings in
  std::string file;  // where it was loaded from
};

struct LexiconSample {
  std::string line;
  Severity severity = Severity::none;
  bool tpm = false, failure = false;
  std::string file;
};

class Lexicon {
 public:
  Lexicon(Lexicon&&) noexcept;
  Lexicon& operator=(Lexicon&&) noexcept;
  ~Lexicon();

  // True iff text holds a TPM/attestation term.
  bool mentions_tpm(std::string_view text) const;
  // True iff sev is warning or worse, or text holds a failure term.
  bool failure_like(std::string_view text, Severity sev) const;
  // True iff text holds a failure term (the severity left aside).
  bool has_failure_word(std::string_view text) const;

  // Checks every sample; one message per wrong answer (empty: all pass).
  std::vector<std::string> self_test() const;

  const std::vector<LexiconTerm>& tpm_terms() const { return tpm_; }
  // The TPM terms the prefilter searches for, lower case: those marked
  // "prefilter" (of 3+ characters, any case). Every such term is a key to
  // search the whole input for, so only the few that name the TPM in most
  // lines are marked (TPM itself, endorsement, attest...). A TPM line that
  // names none of them and holds no rule's literal is not seen.
  std::vector<std::string> prefilter_terms() const;
  const std::vector<LexiconTerm>& failure_terms() const { return failure_; }
  const std::vector<LexiconSample>& samples() const { return samples_; }

 private:
  Lexicon();
  friend Result<Lexicon> load_lexicon(const std::vector<DataFile>& files, bool check_samples);
  std::vector<LexiconTerm> tpm_, failure_;
  std::vector<LexiconSample> samples_;
  std::vector<std::string> ignore_;  // RE2 patterns of spans no term is looked for in
  bool holds(const re2::RE2& re, std::string_view text) const;
  // The two regexes, compiled on first use when the samples were not
  // checked at load (a paste that needs no lexicon does not pay for them).
  struct Regexes;
  std::unique_ptr<Regexes> re_;
  const Regexes& regexes() const;
};

// Parses lexicon files (see above), builds the two regexes, runs the samples.
// Fails, naming file and field or sample, on any mistake; fails too when no
// file gives a term of either list.
// check_samples=false leaves the samples to `tpmdiag rules test` (as
// load_formats: the build runs it on the embedded lexicon).
Result<Lexicon> load_lexicon(const std::vector<DataFile>& files, bool check_samples = true);

// The RE2 pattern load_lexicon() builds for a list of terms (for tests and
// `tpmdiag rules` output).
std::string lexicon_pattern(const std::vector<LexiconTerm>& terms);

}  // namespace tpmdiag
