// The matcher: compiled rules, the literal prefilter, and rule matching
// (DESIGN.md §2 "prefilter" and "match").
//
// Speed comes from never looking at most lines. Each rule's pattern yields
// "atoms" (literals a match must contain, via RE2's FilteredRE2); where one
// atom is necessary for every match, that atom alone stands for the rule.
// Scanning for a hundred literals at once is slow (Vectorscan's FDR, ~2 GB/s),
// scanning for a few short ones can be fast, so the prefilter has two levels:
// a few short "keys" (chosen so that every requirement has an atom containing
// one, rare by their letters and not common in the first text scanned) are
// searched caseless over the raw buffer (rules/keyfilter.h on CPUs with AVX2
// or AVX-512 VBMI, 5-10 GB/s; Vectorscan elsewhere); only lines holding a key are
// then searched for the exact atoms (atoms_in: one pass, atoms looked up by
// their first four bytes). Only lines with an atom are parsed, and only the
// rules of the atoms found are run on them.
//
//   auto m = Matcher::build(std::move(rules));      // Result<Matcher>
//   Matcher::Scratch scratch(*m);                   // one per thread
//   m->prefilter(buf, len, scratch, [&](std::string_view line, uint64_t index, const std::vector<int>& atoms) {
//     Event ev; formats.parse(line, ev); ...
//     m->match(ev, &atoms, scratch, facts);         // appends Facts
//   });
//
// Keys are chosen from a sample of the input; should one turn out common later
// (more lines holding it than the atoms confirm), the keys are chosen again
// without it, from the text where it turned common, and the scan goes on with
// them (prefilter_build.h, KeyWatch). Keys decide speed, never what is found.
//
// match(ev, nullptr, facts) tries every rule: the reference path that
// differential tests compare the prefiltered path with. It owes nothing to the
// literals: one RE2::Set of all the patterns says which rules match the line,
// and those run as on the prefiltered path (each rule's RE2 in turn, should
// the set not compile or run out of memory).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "parsers/event.h"
#include "common/text.h"
#include "rules/fact.h"
#include "rules/lexicon.h"
#include "rules/rule.h"

namespace re2 {
class FilteredRE2;
class RE2;
}
struct hs_database;
struct hs_scratch;

namespace tpmdiag {

class KeyFilter;
class RuleCache;

// A line that holds an atom: its text, its index in the buffer (the '\n'
// bytes before it), the atoms' ids.
using CandidateFn = std::function<void(std::string_view line, uint64_t index, const std::vector<int>& atoms)>;

class Matcher {
 public:
  // Builds the matcher. Fails, naming file, rule and field, on a bad pattern, a
  // pattern with more than 15 capture groups, or a pattern with no literal to
  // prefilter on (and no "literals" declared). `decode_rc`, when given, decodes
  // each capture named `rc` into Fact::rc before `when`/`unless` are checked.
  // `lexicon` decides for "fallback" rules (rule.h), and is needed if any.
  //
  // With a cache (rules/rule_cache.h) whose rules() these are, a rule it
  // knows is not compiled here but when a line first reaches it (start-up
  // that does not grow with the rule set); the rules compiled here are added
  // to it.
  static Result<Matcher> build(std::vector<Rule> rules, RcDecoder decode_rc = {},
                               std::unique_ptr<Lexicon> lexicon = nullptr, RuleCache* cache = nullptr);

  Matcher(Matcher&&) noexcept;
  Matcher& operator=(Matcher&&) noexcept;
  ~Matcher();

  class Scratch {
   public:
    explicit Scratch(const Matcher& m);
    ~Scratch();
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;

   private:
    friend class Matcher;
    std::shared_ptr<const void> keys_;  // the Keys keys_hs_ was made for
    std::vector<LineSpan> wasted_;       // lines with a key and no atom, in the last block
    hs_scratch* keys_hs_ = nullptr;
    std::vector<int> atoms_;
    std::vector<int> potentials_;
    std::vector<int> set_hits_;
    std::vector<LineSpan> lines_;
    std::string lower_;
    struct Memo;                   // match()'s answers by line content
    std::unique_ptr<Memo> memo_;
  };

  // Calls fn for each line of data[0..n) that contains an atom, in order, once
  // per line, with the ids of the atoms found in it. n must end at a line end.
  // Returns data's counts (its line count, for line numbers without a
  // second pass over it).
  TextCounts prefilter(const char* data, size_t n, Scratch& scratch, const CandidateFn& fn) const;

  // The atoms in text (any case), as prefilter() finds them in a line; also
  // for inputs too small to be worth choosing keys (a paste), so that only
  // the rules of the atoms found are compiled and run. Appends to out, which
  // stays sorted and without repeats.
  void atoms_in(std::string_view text, Scratch& scratch, std::vector<int>& out) const;

  // Runs the rules that may match (all of them when atoms is null) on ev and
  // appends a Fact for each match. Facts get input/line/host/ts from ev.
  // With atoms, what the rules found is kept in the scratch by what decides
  // it (kind, atoms, message): a log repeats its messages (a host's every
  // boot logs the same TPM lines), and a repeat is answered without RE2.
  // atoms == nullptr is the reference path and keeps nothing.
  void match(const Event& ev, const std::vector<int>* atoms, Scratch& scratch,
             std::vector<Fact>& out) const;

  const std::vector<Rule>& rules() const { return rules_; }
  const Lexicon* lexicon() const { return lexicon_.get(); }
  // Text that fills ordinary logs (lower case): no prefilter key is taken
  // from inside it. Set before the first use; keys decide speed, never what
  // is found.
  // `patterns` (RE2, whole key): keys of these shapes are avoided too ("0x1").
  void avoid_keys_in(std::vector<std::string> text, const std::vector<std::string>& patterns);
  const std::vector<std::string>& atoms() const { return atom_list_; }
  // The level-1 keys now (they change when one turns out common).
  std::vector<std::string> keys() const;
  // The level-1 search when this CPU runs it (else Vectorscan does); its keys
  // are keys() unless they changed since.
  std::shared_ptr<const KeyFilter> key_filter() const;
  // How many times the keys were chosen again (see above).
  int key_changes() const;
  const std::vector<int>& atom_rules(size_t atom) const { return atom_rules_[atom]; }
  // Rules whose pattern has been compiled (at build, or since by a line).
  size_t compiled_rules() const;
  // Per rule, what the prefilter stands on: requirements, one of which every
  // line the rule matches meets; each is a list of atoms that are all in
  // every line meeting it, so any one of them can stand for it.
  const std::vector<std::vector<std::vector<std::string>>>& requirements() const { return rule_reqs_; }

  // Compiles the literal databases now (they are otherwise compiled on first
  // use, with the first text prefiltered as the sample); fails only if
  // Vectorscan rejects a literal. Keys common in `sample` (typical input) are
  // avoided; without a sample, keys are chosen by letter rarity alone.
  Status compile(std::string_view sample = {}) const;

  // Matches one rule against a message, for rule self-tests.
  bool match_rule(size_t rule_index, std::string_view message,
                  std::vector<std::pair<std::string, std::string>>* fields) const;

 private:
  Matcher();
  struct DbFree {
    void operator()(hs_database* db) const;
  };
  using Db = std::unique_ptr<hs_database, DbFree>;

  std::vector<Rule> rules_;
  RcDecoder decode_rc_;
  std::unique_ptr<Lexicon> lexicon_;
  std::vector<std::string> common_text_;
  std::vector<std::shared_ptr<const re2::RE2>> common_keys_;
  struct Regex;                       // per rule: its RE2, compiled at build or on first use
  std::unique_ptr<Regex[]> res_;
  const re2::RE2& regex(size_t rule) const;
  // Per rule, its literal requirements (see requirements()).
  std::vector<std::vector<std::vector<std::string>>> rule_reqs_;
  std::vector<std::vector<std::pair<std::string, int>>> groups_;  // per rule: named captures
  std::vector<std::string> atom_list_;        // level-2 literals: distinct, lowercase
  std::vector<std::vector<int>> atom_rules_;  // atom -> rules it stands for
  // atoms_in()'s index: atoms by a 16-bit hash of their first 4 bytes: a
  // bit per hash that some atom has, and the atoms of each bucket
  // (atoms[from[k] .. from[k + 1]) for bucket k = the hash's top 12 bits).
  // Atoms under 4 bytes (a few) are searched for as they are.
  struct AtomIndex {
    static constexpr uint32_t kBuckets = 4096;
    static uint32_t bucket(uint32_t hash) { return hash >> 4; }
    bool may_start(uint32_t hash) const { return seen[hash >> 6] >> (hash & 63) & 1; }
    std::vector<uint64_t> seen;
    std::vector<uint32_t> from;
    std::vector<int> atoms;
  };
  AtomIndex quad_;
  std::vector<int> short_atoms_;
  void index_atoms();
  struct Keys {                                 // level 1
    std::vector<std::string> list;
    Db db;                                      // unless fast
    std::shared_ptr<const KeyFilter> fast;      // on AVX2 / AVX-512 VBMI
  };
  struct Lazy {
    std::once_flag once;
    std::string error;
    std::mutex mu;                              // guards the three below
    std::shared_ptr<const Keys> keys;
    std::vector<std::string> avoid;             // keys that turned out common in the input
    int changes = 0;
    // The window the keys are judged over (prefilter_build.h, KeyWatch).
    std::atomic<size_t> watched_bytes{0}, wasted_lines{0};
  };
  const Lazy& compiled(std::string_view sample = {}) const;
  std::shared_ptr<const Keys> current_keys() const;
  // Keys for sample (any case), avoiding `avoid` and what the matcher knows
  // fills logs; null (with *error) if Vectorscan rejects one.
  std::shared_ptr<const Keys> choose(std::string_view sample, const std::vector<std::string>& avoid,
                                     std::string* error) const;
  // After a block: chooses the keys again if one turned out common in it.
  void watch_keys(const char* data, size_t n, Scratch& scratch) const;
  std::unique_ptr<Lazy> lazy_;
  struct Reference;                   // the reference path's RE2::Set, built on first use
  std::unique_ptr<Reference> ref_;
  // The rules that may match text on the reference path, ascending: false
  // when the set cannot say (every rule must then be tried).
  bool reference_candidates(std::string_view text, Scratch& scratch, std::vector<int>& out) const;
  // match()'s rule loop over candidate rules (ascending); returns the first
  // fallback rule among them that applies to ev's kind, if any.
  const Rule* run_rules(const Event& ev, const std::vector<int>& cand, std::vector<Fact>& out) const;
  const Rule* match_atoms(const Event& ev, const std::vector<int>& atoms, Scratch& scratch,
                          std::vector<Fact>& out) const;
};

}  // namespace tpmdiag
