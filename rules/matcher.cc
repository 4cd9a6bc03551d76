#include "rules/matcher.h"

#include <hs/hs.h>
#include <re2/filtered_re2.h>
#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <array>
#include <bit>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "common/embedded.h"
#include "rules/keyfilter.h"
#include "rules/newlines.h"
#include "rules/prefilter_build.h"
#include "rules/rule_cache.h"
#include "common/text.h"

namespace tpmdiag {

using prefilter::compile_literals;
using prefilter::choose_keys;
using prefilter::CommonCheck;
using prefilter::Requirement;
using prefilter::kSampleBytes;
using prefilter::load32;
using prefilter::rarity;

namespace {

constexpr int kMinAtomLen = 4;
constexpr size_t kMaxFactText = 4096;
constexpr int kMaxCaptures = 15;  // capture groups a pattern may have (match_rule() reads up to this one)

struct KeyScan {
  const char* data;
  size_t n;
  std::vector<LineSpan>* lines;
};

// Level 1: collects each line holding a key, once.
int on_key(unsigned int /*id*/, unsigned long long /*from*/, unsigned long long to, unsigned int /*flags*/,
           void* ctx) {
  auto& st = *static_cast<KeyScan*>(ctx);
  size_t end = static_cast<size_t>(to);
  if (!st.lines->empty() && end <= st.lines->back().end) return 0;
  size_t floor = st.lines->empty() ? 0 : st.lines->back().end + 1;
  size_t pos = end - 1;  // a byte of the key: its line holds it
  const void* nl = pos > floor ? memrchr(st.data + floor, '\n', pos - floor) : nullptr;
  size_t begin = nl ? static_cast<size_t>(static_cast<const char*>(nl) - st.data) + 1 : floor;
  const void* e = memchr(st.data + end, '\n', st.n - end);
  st.lines->push_back({begin, e ? static_cast<size_t>(static_cast<const char*>(e) - st.data) : st.n});
  return 0;
}

}  // namespace

void Matcher::avoid_keys_in(std::vector<std::string> text, const std::vector<std::string>& patterns) {
  for (auto& t : text) t = ascii_lower(t);
  common_text_ = std::move(text);
  common_keys_.clear();
  for (const auto& p : patterns) common_keys_.push_back(std::make_shared<const RE2>(p));
}

// One RE2::Set of every pattern but the fallback rules' (decided by the
// lexicon): a line costs one DFA pass instead of one search per rule.
struct Matcher::Reference {
  std::once_flag once;
  std::unique_ptr<RE2::Set> set;  // null: it did not build, try every rule
  std::vector<int> rule_of;       // set index -> rule
  std::vector<int> always;        // fallback rules: candidates on every line
};

Matcher::Matcher() = default;
Matcher::Matcher(Matcher&&) noexcept = default;
Matcher& Matcher::operator=(Matcher&&) noexcept = default;
Matcher::~Matcher() = default;
void Matcher::DbFree::operator()(hs_database* db) const { hs_free_database(db); }

namespace {

RE2::Options rule_options() {
  RE2::Options opts;
  opts.set_log_errors(false);
  return opts;
}

// One rule compiled: its regex, and what the prefilter needs to know of it.
struct Compiled {
  std::unique_ptr<re2::FilteredRE2> re;  // its one regex is the rule's (RE2 compiles once)
  RuleAnalysis a;
  std::string error;
};

Compiled compile_rule(const Rule& r) {
  Compiled c;
  RE2::Options opts = rule_options();
  c.re = std::make_unique<re2::FilteredRE2>(kMinAtomLen);
  re2::FilteredRE2& filter = *c.re;
  int id = 0;
  if (filter.Add(r.pattern, opts, &id) != RE2::NoError) {
    std::string why = one_line(RE2(r.pattern, opts).error());  // it quotes the pattern, which may hold a newline
    c.error = r.file + ": rule '" + r.id + "': field 'pattern': invalid RE2 regex: " + why;
    return c;
  }
  c.a.captures = filter.GetRE2(id).NumberOfCapturingGroups();
  if (c.a.captures > kMaxCaptures) {
    c.error = r.file + ": rule '" + r.id + "': field 'pattern': more than " + std::to_string(kMaxCaptures) +
              " capture groups (use (?:...) for groups that need no capture)";
    return c;
  }
  for (const auto& [name, idx] : filter.GetRE2(id).NamedCapturingGroups()) c.a.groups.emplace_back(name, idx);

  // The literals that stand for this rule in the prefilter.
  std::vector<std::string> atoms;
  filter.Compile(&atoms);
  std::vector<int> none, passed;
  filter.AllPotentials(none, &passed);
  if (!passed.empty()) {  // passes with no atom at all: nothing to prefilter on
    if (r.literals.empty()) {
      c.error = r.file + ": rule '" + r.id +
                "': field 'pattern': no literal of 4+ characters that every match contains, "
                "so the prefilter cannot find its lines; add a \"literals\" list";
      return c;
    }
    // Alternatives: a line the rule matches holds at least one of them.
    for (const auto& l : r.literals) c.a.reqs.push_back({ascii_lower(l)});
    return c;
  }
  // An atom is necessary if the rule cannot pass without it: any one
  // necessary atom finds all its lines. Without one, every atom is needed.
  Requirement necessary;
  if (atoms.size() == 1) necessary = atoms;  // it passed with none, so this one is needed
  for (size_t i = 0; atoms.size() > 1 && i < atoms.size(); ++i) {
    std::vector<int> rest;
    for (size_t j = 0; j < atoms.size(); ++j)
      if (j != i) rest.push_back(static_cast<int>(j));
    filter.AllPotentials(rest, &passed);
    if (passed.empty()) necessary.push_back(atoms[i]);
  }
  if (!necessary.empty()) {
    c.a.reqs.push_back(necessary);
  } else {
    for (const auto& at : atoms) c.a.reqs.push_back({at});
  }
  return c;
}

}  // namespace

struct Matcher::Regex {
  std::unique_ptr<re2::FilteredRE2> filter;  // compiled at build: its one RE2
  std::once_flag once;                       // else compiled on first use
  std::unique_ptr<RE2> re;
};

const RE2& Matcher::regex(size_t i) const {
  Regex& x = res_[i];
  if (x.filter) return x.filter->GetRE2(0);
  std::call_once(x.once, [&] { x.re = std::make_unique<RE2>(rules_[i].pattern, rule_options()); });
  return *x.re;
}

size_t Matcher::compiled_rules() const {
  size_t n = 0;
  for (size_t i = 0; i < rules_.size(); ++i) n += res_[i].filter || res_[i].re;
  return n;
}

Result<Matcher> Matcher::build(std::vector<Rule> rules, RcDecoder decode_rc, std::unique_ptr<Lexicon> lexicon,
                               RuleCache* cache) {
  Matcher m;
  m.rules_ = std::move(rules);
  m.decode_rc_ = std::move(decode_rc);
  m.lexicon_ = std::move(lexicon);
  for (Rule& r : m.rules_) {
    if (!r.fallback) continue;
    if (!m.lexicon_) return make_error(r.file + ": rule '" + r.id + "': a fallback rule needs the lexicon (rules/lexicon/)");
    if (r.literals.empty()) r.literals = m.lexicon_->prefilter_terms();
  }
  // Rules the cache knows wait for their first line; the others compile
  // now, independently: on all cores when there are many (start-up time
  // matters for a paste, and --rules folders can hold hundreds).
  std::vector<Compiled> done(m.rules_.size());
  std::vector<size_t> todo;
  for (size_t i = 0; i < m.rules_.size(); ++i)
    if (!cache || !cache->take(i, done[i].a)) todo.push_back(i);
  unsigned threads = todo.size() < 64 ? 1u : std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t t; (t = next++) < todo.size();) done[todo[t]] = compile_rule(m.rules_[todo[t]]);
  };
  std::vector<std::thread> pool;
  try {
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  } catch (const std::system_error&) {  // a thread limit: this one compiles what the others do not
  }
  work();
  for (auto& t : pool) t.join();
  m.res_ = std::make_unique<Regex[]>(m.rules_.size());
  m.groups_.reserve(done.size());
  m.rule_reqs_.reserve(done.size());
  for (size_t i = 0; i < done.size(); ++i) {
    Compiled& c = done[i];
    if (!c.error.empty()) return make_error(c.error);  // the first bad rule in file order
    if (c.re && cache) cache->add(i, c.a);
    m.res_[i].filter = std::move(c.re);
    m.groups_.push_back(std::move(c.a.groups));
    m.rule_reqs_.push_back(std::move(c.a.reqs));
  }
  if (cache) cache->save();
  // Level-2 atoms: per requirement, its rarest atom (every atom of a
  // requirement is in each line it stands for).
  std::unordered_map<std::string_view, int> atom_ids;  // views of rule_reqs_, unchanged meanwhile
  atom_ids.reserve(m.rules_.size() * 2);
  for (size_t i = 0; i < m.rule_reqs_.size(); ++i) {
    for (const auto& req : m.rule_reqs_[i]) {
      const std::string* best = &req.front();
      double best_rarity = req.size() > 1 ? rarity(*best) : 0;  // one atom: nothing to compare
      for (size_t k = 1; k < req.size(); ++k)
        if (double r = rarity(req[k]); r > best_rarity) best = &req[k], best_rarity = r;
      auto [it, fresh] = atom_ids.emplace(*best, static_cast<int>(m.atom_list_.size()));
      if (fresh) {
        m.atom_list_.push_back(*best);
        m.atom_rules_.emplace_back();
      }
      auto& list = m.atom_rules_[static_cast<size_t>(it->second)];
      if (list.empty() || list.back() != static_cast<int>(i)) list.push_back(static_cast<int>(i));
    }
  }
  m.index_atoms();
  m.lazy_ = std::make_unique<Lazy>();
  m.ref_ = std::make_unique<Reference>();
  return m;
}

namespace {
// 16 bits of 4 bytes: the index's bit, and its bucket (the top 12).
uint32_t quad_hash(uint32_t v) { return (v * 0x9E3779B1u) >> 16; }
}  // namespace

void Matcher::index_atoms() {
  // Atoms of 4 bytes or more by their first 4; the few shorter ones are
  // searched for as they are.
  std::vector<std::pair<uint32_t, int>> quad;  // (hash, atom)
  for (size_t i = 0; i < atom_list_.size(); ++i) {
    const std::string& a = atom_list_[i];
    if (a.size() >= 4) quad.emplace_back(quad_hash(load32(a.data())), static_cast<int>(i));
    else short_atoms_.push_back(static_cast<int>(i));
  }
  AtomIndex& x = quad_;
  x.seen.assign((1u << 16) / 64, 0);
  x.from.assign(AtomIndex::kBuckets + 1, 0);
  for (auto [h, a] : quad) {
    x.seen[h >> 6] |= uint64_t{1} << (h & 63);
    ++x.from[AtomIndex::bucket(h) + 1];
  }
  for (size_t k = 1; k < x.from.size(); ++k) x.from[k] += x.from[k - 1];
  x.atoms.assign(quad.size(), 0);
  std::vector<uint32_t> at(x.from.begin(), x.from.end() - 1);
  for (auto [h, a] : quad) x.atoms[at[AtomIndex::bucket(h)]++] = a;
}

// One pass over the line: at each position, a bit says whether an atom may
// start with its 4 bytes (most positions stop at it); only then are the atoms
// in the bucket of those bytes compared (a search per atom cost a pass per atom).
void Matcher::atoms_in(std::string_view text, Scratch& scratch, std::vector<int>& out) const {
  std::string& low = scratch.lower_;
  ascii_lower(text, low);
  const size_t before = out.size();
  for (int a : short_atoms_)
    if (low.find(atom_list_[static_cast<size_t>(a)]) != std::string::npos) out.push_back(a);
  const char* p = low.data();
  const size_t n = low.size();
  const AtomIndex& x = quad_;
  if (!x.atoms.empty())
    for (size_t i = 0; i + 4 <= n; ++i) {
      uint32_t h = quad_hash(load32(p + i));
      if (!x.may_start(h)) continue;
      for (uint32_t j = x.from[AtomIndex::bucket(h)], e = x.from[AtomIndex::bucket(h) + 1]; j < e; ++j) {
        const std::string& a = atom_list_[static_cast<size_t>(x.atoms[j])];
        if (a.size() <= n - i && std::memcmp(p + i, a.data(), a.size()) == 0) out.push_back(x.atoms[j]);
      }
    }
  if (out.size() - before <= 1 && (before == 0 || out.size() == before)) return;  // nothing to order
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
}

// Keys are chosen on first use: a paste small enough for the reference path
// never pays for them. A candidate line's atoms are found by atoms_in(): a
// Vectorscan database of the atoms cost ~14 ms to compile before the first
// byte was scanned, and saved little per line (45 M against 55 M
// instructions for 20,000 lines of the boot-heavy mix).
const Matcher::Lazy& Matcher::compiled(std::string_view sample) const {
  std::call_once(lazy_->once, [this, sample] {
    Lazy& l = *lazy_;
    if (atom_list_.empty()) return;
    l.keys = choose(sample, {}, &l.error);
  });
  return *lazy_;
}

std::shared_ptr<const Matcher::Keys> Matcher::choose(std::string_view sample, const std::vector<std::string>& avoid,
                                                     std::string* error) const {
  std::vector<Requirement> all;
  for (const auto& rr : rule_reqs_) all.insert(all.end(), rr.begin(), rr.end());
  CommonCheck common(sample.substr(0, kSampleBytes));
  auto k = std::make_shared<Keys>();
  // Keys in text known to fill ordinary logs are avoided too: the input's
  // start may lack what fills the rest of it. A part of a key that turned
  // out common is at least as common.
  k->list = choose_keys(all, [&](const std::string& key) {
    for (const auto& a : avoid)
      if (a.find(key) != std::string::npos) return true;
    for (const auto& t : common_text_)
      if (t.find(key) != std::string::npos) return true;
    for (const auto& re : common_keys_)
      if (RE2::FullMatch(key, *re)) return true;
    return common(key);
  });
  if (auto engine = KeyFilter::best()) {
    k->fast = std::make_shared<KeyFilter>(k->list, common.text(), *engine);
  } else {
    auto db = compile_literals(k->list);
    if (!db) {
      *error = db.error().message;
      return nullptr;
    }
    k->db.reset(*db);
  }
  return k;
}

std::shared_ptr<const Matcher::Keys> Matcher::current_keys() const {
  compiled();
  std::lock_guard<std::mutex> lock(lazy_->mu);
  return lazy_->keys;
}

std::vector<std::string> Matcher::keys() const {
  auto k = current_keys();
  return k ? k->list : std::vector<std::string>{};
}

std::shared_ptr<const KeyFilter> Matcher::key_filter() const {
  auto k = current_keys();
  return k ? k->fast : nullptr;
}

int Matcher::key_changes() const {
  std::lock_guard<std::mutex> lock(lazy_->mu);
  return lazy_->changes;
}

void Matcher::watch_keys(const char* data, size_t n, Scratch& scratch) const {
  using prefilter::KeyWatch;
  constexpr int kMaxChanges = 8;  // a bound, should inputs keep changing
  Lazy& l = *lazy_;
  l.wasted_lines += scratch.wasted_.size();
  if (l.watched_bytes.fetch_add(n) + n < KeyWatch::kWindow) return;
  std::lock_guard<std::mutex> lock(l.mu);  // once a window: one thread judges it
  size_t bytes = l.watched_bytes.exchange(0), wasted = l.wasted_lines.exchange(0);
  if (bytes < KeyWatch::kWindow || !KeyWatch::busy(bytes, wasted)) return;
  if (l.keys != scratch.keys_ || l.changes >= kMaxChanges) return;  // keys changed since this block
  const auto& keys = *static_cast<const Keys*>(scratch.keys_.get());
  std::vector<std::string> turned = KeyWatch::blame(data, n, scratch.wasted_, keys.list);
  if (turned.empty()) return;
  std::vector<std::string> avoid = l.avoid;
  avoid.insert(avoid.end(), turned.begin(), turned.end());
  std::string error;
  // The block is where the keys turned common: the sample to choose by.
  auto fresh = choose(std::string_view(data, n), avoid, &error);
  if (!fresh) return;  // Vectorscan rejected a key: keep the ones that work
  l.avoid = std::move(avoid);
  l.keys = std::move(fresh);
  ++l.changes;
}

Status Matcher::compile(std::string_view sample) const {
  const Lazy& l = compiled(sample);
  if (!l.error.empty()) return make_error(l.error);
  return ok_status();
}

// Rules' answers by what decides them: the line's kind, its atoms (which
// rules are tried) and its message (what they match). Bounded: a log of
// ever-new messages empties it now and then.
struct Matcher::Scratch::Memo {
  static constexpr size_t kEntries = 4096, kMaxMessage = 1024;
  struct Entry {
    std::vector<std::pair<size_t, Fact>> facts;  // rule index, fields and rc
    const Rule* fallback = nullptr;
  };
  std::unordered_map<std::string, Entry> entries;
  std::string key;
};

Matcher::Scratch::Scratch(const Matcher&) : memo_(std::make_unique<Memo>()) {}

Matcher::Scratch::~Scratch() {
  if (keys_hs_) hs_free_scratch(keys_hs_);
}

TextCounts Matcher::prefilter(const char* data, size_t n, Scratch& scratch, const CandidateFn& fn) const {
  TextCounts counts;
  if (n == 0) return counts;
  const Lazy& db = compiled(std::string_view(data, n));
  std::shared_ptr<const Keys> keys = atom_list_.empty() ? nullptr : current_keys();
  if (!keys) {
    // Cannot happen with valid literals; say so once and find nothing rather than crash.
    if (!atom_list_.empty()) {
      static std::once_flag told;
      std::call_once(told, [&] { std::fprintf(stderr, "tpmdiag: error: %s\n", db.error.c_str()); });
    }
    counts.newlines = count_newlines(data, n, &counts.high);
    return counts;
  }
  if (scratch.keys_ != keys) {
    scratch.keys_ = keys;
    if (keys->db) hs_alloc_scratch(keys->db.get(), &scratch.keys_hs_);
  }
  auto& lines = scratch.lines_;
  lines.clear();
  if (keys->fast) {
    counts = keys->fast->lines(data, n, lines);
  } else {
    KeyScan st{data, n, &lines};
    // Vectorscan takes an unsigned length: callers pass blocks far below 4 GiB.
    hs_scan(keys->db.get(), data, static_cast<unsigned>(n), 0, scratch.keys_hs_, on_key, &st);
    size_t counted = 0;
    for (LineSpan& line : lines) {
      counts.newlines += count_newlines(data + counted, line.begin - counted, &counts.high);
      line.index = counts.newlines;
      counted = line.begin;
    }
    counts.newlines += count_newlines(data + counted, n - counted, &counts.high);
  }
  const bool watched = n >= prefilter::KeyWatch::kMinBlock;
  scratch.wasted_.clear();
  for (const LineSpan& line : lines) {
    auto& atoms = scratch.atoms_;
    atoms.clear();
    atoms_in(std::string_view(data + line.begin, line.end - line.begin), scratch, atoms);
    if (atoms.empty()) {
      if (watched) scratch.wasted_.push_back(line);
      continue;
    }
    fn(std::string_view(data + line.begin, line.end - line.begin), line.index, atoms);
  }
  if (watched) watch_keys(data, n, scratch);
  return counts;
}

bool Matcher::match_rule(size_t i, std::string_view msg,
                         std::vector<std::pair<std::string, std::string>>* fields) const {
  const RE2& re = regex(i);
  re2::StringPiece groups[kMaxCaptures + 1];
  // Only the named groups are read, so no more are asked for: with none, RE2
  // answers from one DFA pass (group 0 would cost a second, backwards); with
  // a few, its one-pass engine may take them (it takes up to 4).
  int ngroups = 0;
  if (fields)
    for (const auto& g : groups_[i]) ngroups = std::max(ngroups, std::min(g.second, kMaxCaptures) + 1);
  if (!re.Match(re2::StringPiece(msg.data(), msg.size()), 0, msg.size(), RE2::UNANCHORED, groups,
                ngroups))
    return false;
  if (fields) {
    for (const auto& [name, idx] : groups_[i])
      if (idx < ngroups && groups[idx].data())
        fields->emplace_back(name, std::string(groups[idx].data(), groups[idx].size()));
  }
  return true;
}

namespace {
// The rule and where the line is, from the event.
void where_from(Fact& f, const Rule& r, const Event& ev) {
  f.rule = &r;
  f.input = ev.input;
  f.line = ev.line;
  f.host = ev.host;
  f.ts_ms = ev.ts_ms;
  f.ts_text = ev.ts_text;
  f.kind = ev.kind;
  f.severity = ev.severity;
  f.text = ev.raw.substr(0, kMaxFactText);
}
}  // namespace

bool Matcher::reference_candidates(std::string_view text, Scratch& scratch, std::vector<int>& out) const {
  Reference& r = *ref_;
  std::call_once(r.once, [&] {
    RE2::Options o = rule_options();
    o.set_max_mem(64 << 20);  // a hundred patterns in one DFA
    auto set = std::make_unique<RE2::Set>(o, RE2::UNANCHORED);
    for (size_t i = 0; i < rules_.size(); ++i) {
      if (rules_[i].fallback) {
        r.always.push_back(static_cast<int>(i));
        continue;
      }
      if (set->Add(rules_[i].pattern, nullptr) < 0) return;
      r.rule_of.push_back(static_cast<int>(i));
    }
    if (!r.rule_of.empty() && set->Compile()) r.set = std::move(set);
  });
  if (!r.set) return false;
  auto& hits = scratch.set_hits_;
  hits.clear();
  RE2::Set::ErrorInfo err{};
  if (!r.set->Match(re2::StringPiece(text.data(), text.size()), &hits, &err) &&
      err.kind != RE2::Set::kNoError)
    return false;  // out of memory on this line: the caller tries every rule
  for (int h : hits) out.push_back(r.rule_of[static_cast<size_t>(h)]);
  out.insert(out.end(), r.always.begin(), r.always.end());
  std::sort(out.begin(), out.end());
  return true;
}

const Rule* Matcher::run_rules(const Event& ev, const std::vector<int>& cand, std::vector<Fact>& out) const {
  const Rule* fallback = nullptr;
  for (int ri : cand) {
    const Rule& r = rules_[static_cast<size_t>(ri)];
    if (!r.applies_to(ev.kind)) continue;
    if (r.fallback) {
      if (!fallback) fallback = &r;
      continue;
    }
    Fact f;
    if (!match_rule(static_cast<size_t>(ri), ev.message, &f.fields)) continue;
    if (decode_rc_) {
      if (auto rc = f.field("rc"); !rc.empty())
        if (auto d = decode_rc_(rc, f.field("command"))) f.rc = std::make_shared<const DecodedRc>(std::move(*d));
    }
    if (!r.accepts(f)) continue;
    out.push_back(std::move(f));
    where_from(out.back(), r, ev);
  }
  return fallback;
}

// The prefiltered path: the rules of the line's atoms, or what they found
// before on a line of the same kind, atoms and message.
const Rule* Matcher::match_atoms(const Event& ev, const std::vector<int>& atoms, Scratch& scratch,
                                 std::vector<Fact>& out) const {
  Scratch::Memo& memo = *scratch.memo_;
  const bool keep = ev.message.size() <= Scratch::Memo::kMaxMessage;
  if (keep) {
    memo.key.assign(1, static_cast<char>(ev.kind));
    memo.key.append(reinterpret_cast<const char*>(atoms.data()), atoms.size() * sizeof(int));
    (memo.key += '\0') += ev.message;  // atoms are whole ints: where the message starts is clear
    if (auto it = memo.entries.find(memo.key); it != memo.entries.end()) {
      for (const auto& [ri, proto] : it->second.facts) {
        out.push_back(proto);
        where_from(out.back(), rules_[ri], ev);
      }
      return it->second.fallback;
    }
  }
  auto& cand = scratch.potentials_;
  cand.clear();
  for (int a : atoms) {
    const auto& rs = atom_rules_[static_cast<size_t>(a)];
    cand.insert(cand.end(), rs.begin(), rs.end());
  }
  std::sort(cand.begin(), cand.end());
  cand.erase(std::unique(cand.begin(), cand.end()), cand.end());
  const size_t before = out.size();
  const Rule* fallback = run_rules(ev, cand, out);
  if (keep) {
    if (memo.entries.size() >= Scratch::Memo::kEntries) memo.entries.clear();
    Scratch::Memo::Entry e;
    e.fallback = fallback;
    for (size_t i = before; i < out.size(); ++i) {
      Fact proto;
      proto.fields = out[i].fields;
      proto.rc = out[i].rc;
      e.facts.emplace_back(static_cast<size_t>(out[i].rule - rules_.data()), std::move(proto));
    }
    memo.entries.emplace(memo.key, std::move(e));
  }
  return fallback;
}

void Matcher::match(const Event& ev, const std::vector<int>* atoms, Scratch& scratch,
                    std::vector<Fact>& out) const {
  const size_t before = out.size();
  const Rule* fallback = nullptr;
  if (atoms) {
    fallback = match_atoms(ev, *atoms, scratch, out);
  } else {
    auto& cand = scratch.potentials_;
    cand.clear();
    if (!reference_candidates(ev.message, scratch, cand)) {
      cand.clear();
      for (size_t i = 0; i < rules_.size(); ++i) cand.push_back(static_cast<int>(i));
    }
    fallback = run_rules(ev, cand, out);
  }
  // A line no rule explains, but that talks about the TPM and a failure. A
  // pasted line of no known log shape must also match the rule's pattern (the
  // shape of a log message, so that prose about the TPM is not taken for one).
  if (fallback && out.size() == before && lexicon_) {
    std::string text;
    if (!ev.component.empty()) (text.assign(ev.component) += ' ');
    text += ev.message;
    // One of its literals must be in the line, as the prefilter requires, so
    // the reference path finds what the prefiltered one does.
    // (Checked last: one RE2 pass each for the lexicon is cheaper than a
    // caseless search per literal, and most lines fail it.)
    auto has_literal = [&](const std::string& l) { return icontains(ev.raw, l) || icontains(ev.message, l); };
    if (lexicon_->mentions_tpm(text) && lexicon_->failure_like(text, ev.severity) &&
        std::any_of(fallback->literals.begin(), fallback->literals.end(), has_literal) &&
        (ev.kind != SourceKind::unknown || match_rule(static_cast<size_t>(fallback - rules_.data()), ev.message, nullptr))) {
      out.emplace_back();
      where_from(out.back(), *fallback, ev);
    }
  }
}

}  // namespace tpmdiag
