#include "rules/matcher.h"

#include <hs/hs.h>
#include <re2/filtered_re2.h>
#include <re2/re2.h>

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
#include <thread>

#include "common/embedded.h"
#include "kb/rc.h"
#include "rules/keyfilter.h"

namespace tpmdiag {

namespace {

constexpr int kMinAtomLen = 4;
constexpr size_t kMaxFactText = 4096;
constexpr size_t kMinKey = 3, kMaxKey = 8;
constexpr size_t kSampleBytes = 512 << 10;  // text used to reject common keys

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// How surprising a literal is in log text, in bits: rare letters, digits and
// punctuation score high, "e", "t" and spaces low. Only a heuristic for
// choosing among literals that are all correct; rough English/log frequencies.
double rarity(std::string_view s) {
  static const auto bits_of = [] {
    std::array<double, 256> t{};
    for (int b = 0; b < 256; ++b) {
      char c = static_cast<char>(b >= 'A' && b <= 'Z' ? b - 'A' + 'a' : b);
      double p;
      switch (c) {
        case ' ': p = 0.15; break;
        case 'e': p = 0.10; break;
        case 't': case 'a': case 'o': case 'i': case 'n': p = 0.07; break;
        case 's': case 'r': p = 0.06; break;
        case 'l': case 'd': case 'h': case 'c': case 'u': p = 0.035; break;
        case 'm': case 'p': case 'f': case 'g': case 'w': case 'y': p = 0.02; break;
        case 'b': case 'v': case '.': case ':': p = 0.012; break;
        case 'k': case '0': case '1': case '2': p = 0.008; break;
        default: p = (c >= '0' && c <= '9') ? 0.005 : 0.003; break;
      }
      t[static_cast<size_t>(b)] = -std::log2(p);
    }
    return t;
  }();
  double bits = 0;
  for (char ch : s) bits += bits_of[static_cast<unsigned char>(ch)];
  return bits;
}

// A prefilter requirement: a line that may match the rule holds at least one
// of these atoms.
using Requirement = std::vector<std::string>;

// Every candidate key (a substring of an atom, kMinKey..kMaxKey bytes, or a
// shorter atom whole) with the requirements it meets, in flat arrays: hundreds
// of rules make ~10^5 of them, and this runs at every start-up.
struct CandidateKeys {
  struct Cand {
    const char* text;
    uint32_t len;
    uint32_t atom_len;               // of the atom it was first found in
    uint32_t last_req = UINT32_MAX;  // while filling: the last requirement counted
    uint32_t first = 0, count = 0;   // its requirements: reqs_of[first, first + count)
  };
  std::vector<Cand> cands;
  std::vector<uint32_t> reqs_of;             // per candidate, ascending
  std::vector<uint32_t> cands_at, cands_of;  // requirement r -> cands_of[cands_at[r], cands_at[r + 1])

  explicit CandidateKeys(const std::vector<Requirement>& reqs) {
    std::vector<std::pair<uint32_t, uint32_t>> pairs;  // (candidate, requirement)
    size_t expect = 0;
    for (const auto& req : reqs)
      for (const auto& a : req) expect += a.size() * (kMaxKey - kMinKey + 1);
    pairs.reserve(expect);
    // The table holds each candidate's packed text, so a probe reads one line.
    slots_.assign(std::bit_ceil(std::max<size_t>(expect / 4, 1024)), Slot{});  // ~1 in 8 is new
    for (uint32_t r = 0; r < reqs.size(); ++r) {
      auto add = [&](const char* p, uint64_t v, size_t len, size_t atom_len) {
        uint32_t c = find(p, v, len, atom_len);
        if (cands[c].last_req == r) return;
        cands[c].last_req = r;
        ++cands[c].count;
        pairs.emplace_back(c, r);
      };
      for (const auto& a : reqs[r]) {
        if (a.size() < kMinKey) add(a.data(), pack(a.data(), a.size()), a.size(), a.size());
        for (size_t at = 0; at + kMinKey <= a.size(); ++at) {
          uint64_t v = 0;  // a[at, at + len), packed one byte at a time
          for (size_t len = 1; len <= std::min(kMaxKey, a.size() - at); ++len) {
            v |= uint64_t{static_cast<unsigned char>(a[at + len - 1])} << (8 * (len - 1));
            if (len >= kMinKey) add(a.data() + at, v, len, a.size());
          }
        }
      }
    }
    slots_ = {};
    uint32_t at = 0;
    for (auto& c : cands) c.first = at, at += c.count, c.count = 0;
    reqs_of.resize(pairs.size());
    cands_at.assign(reqs.size() + 1, 0);
    for (const auto& [c, r] : pairs) {
      reqs_of[cands[c].first + cands[c].count++] = r;
      ++cands_at[r + 1];
    }
    for (size_t r = 0; r < reqs.size(); ++r) cands_at[r + 1] += cands_at[r];
    cands_of.resize(pairs.size());
    std::vector<uint32_t> fill(cands_at.begin(), cands_at.end() - 1);
    for (const auto& [c, r] : pairs) cands_of[fill[r]++] = c;
  }

 private:
  static_assert(kMaxKey <= 8);
  struct Slot {
    uint64_t v = 0;     // the text, packed (len <= 8: v is the text)
    uint32_t len = 0;
    uint32_t cand = 0;  // candidate + 1; 0: empty
  };
  std::vector<Slot> slots_;  // open addressing, at most half full

  static uint64_t pack(const char* p, size_t len) {
    uint64_t v = 0;
    std::memcpy(&v, p, len);
    return v;
  }
  uint32_t find(const char* p, uint64_t v, size_t len, size_t atom_len) {
    size_t mask = slots_.size() - 1;
    for (size_t i = hash(v, len) & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.cand == 0) {
        s = {v, static_cast<uint32_t>(len), static_cast<uint32_t>(cands.size() + 1)};
        cands.push_back({p, static_cast<uint32_t>(len), static_cast<uint32_t>(atom_len)});
        if (2 * cands.size() > slots_.size()) grow();
        return static_cast<uint32_t>(cands.size() - 1);
      }
      if (s.v == v && s.len == len) return s.cand - 1;
    }
  }
  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.cand == 0) continue;
      size_t i = hash(s.v, s.len) & mask;
      while (slots_[i].cand != 0) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }
  static size_t hash(uint64_t v, size_t len) {  // every bit of v counts (MurmurHash3's finaliser)
    uint64_t h = v ^ (len * 0x9e3779b97f4a7c15ull);
    h = (h ^ (h >> 33)) * 0xff51afd7ed558ccdull;
    h = (h ^ (h >> 33)) * 0xc4ceb9fe1a85ec53ull;
    return static_cast<size_t>(h ^ (h >> 33));
  }
};

// Chooses few, rare keys such that every requirement has an atom containing
// one (greedy set cover: a key's value is how rare it looks plus how many
// requirements it satisfies). Keys only decide speed, never correctness.
std::vector<std::string> choose_keys(const std::vector<Requirement>& reqs,
                                     const std::function<bool(const std::string&)>& too_common) {
  CandidateKeys all(reqs);
  auto key = [&](size_t c) { return std::string_view(all.cands[c].text, all.cands[c].len); };
  std::vector<double> bits(all.cands.size());
  std::vector<uint32_t> open(all.cands.size());  // requirements met that no chosen key meets yet
  std::vector<bool> common(all.cands.size());    // too common in the sample
  for (size_t c = 0; c < all.cands.size(); ++c) bits[c] = rarity(key(c)), open[c] = all.cands[c].count;
  std::vector<double> bonus(reqs.size() + 1, 0.0);  // for covering n requirements at once
  for (size_t n = 1; n < bonus.size(); ++n) bonus[n] = 8.0 * std::log2(static_cast<double>(n));
  std::vector<bool> done(reqs.size(), false);
  std::vector<std::string> keys;
  // Common keys are skipped while other keys can cover; what is left is then
  // covered by the best keys, common or not (every requirement needs a key).
  auto value = [&](size_t c) { return bits[c] + bonus[open[c]]; };
  // Lazy greedy: values only fall as keys are chosen, so a popped candidate
  // whose value is still current is the best one.
  auto worse = [&](const std::pair<double, size_t>& a, const std::pair<double, size_t>& b) {
    if (a.first != b.first) return a.first < b.first;
    return key(a.second) > key(b.second);  // ties: the smaller key first
  };

  // A key that meets one requirement and can be longer within its atom
  // never wins: the longer one meets the same requirement, looks rarer, and
  // is in no more lines. Leaving such keys out makes the heap several times
  // smaller.
  auto dominated = [&](size_t c) {
    const auto& k = all.cands[c];
    return k.count == 1 && k.len < std::min<size_t>(kMaxKey, k.atom_len);
  };
  for (bool skip_common : {true, false}) {
    std::vector<std::pair<double, size_t>> heap;
    for (size_t c = 0; c < all.cands.size(); ++c)
      if (open[c] > 0 && !dominated(c)) heap.emplace_back(value(c), c);
    std::make_heap(heap.begin(), heap.end(), worse);
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), worse);
      auto [v, c] = heap.back();
      heap.pop_back();
      if (open[c] == 0 || (skip_common && common[c])) continue;
      if (v != value(c)) {
        heap.emplace_back(value(c), c);
        std::push_heap(heap.begin(), heap.end(), worse);
        continue;
      }
      if (skip_common && too_common(std::string(key(c)))) {
        common[c] = true;  // not in this round; the next best covers its requirements
        continue;
      }
      keys.emplace_back(key(c));
      const auto& cand = all.cands[c];
      for (uint32_t i = cand.first; i < cand.first + cand.count; ++i) {
        uint32_t r = all.reqs_of[i];
        if (done[r]) continue;
        done[r] = true;
        for (uint32_t j = all.cands_at[r]; j < all.cands_at[r + 1]; ++j) --open[all.cands_of[j]];
      }
    }

  }
  return keys;
}

// Whether a key is so common in real text that searching for it would pass
// many lines to the second level: more than 1 line in 100 of the sample (the
// start of the first large input) holds it. Rarity above is only a guess from
// letters; this catches what it cannot know ("unable to", "internal" and
// "configur" are letters-rare but everywhere in hostd logs).
class CommonCheck {
 public:
  explicit CommonCheck(std::string_view sample) : text_(lower(sample)) {
    lines_ = static_cast<size_t>(std::count(text_.begin(), text_.end(), '\n'));
    if (lines_ < kMinLines) return;
    // Lines holding each 3 bytes (hashed: a collision only raises a count).
    slots_.assign(kSlots, {0, 0});
    uint32_t line = 1;
    for (size_t i = 0; i + 3 <= text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        continue;
      }
      Slot& s = slots_[slot(text_.data() + i)];
      if (s.line != line) s.line = line, ++s.lines;
    }
  }
  const std::string& text() const { return text_; }
  bool operator()(const std::string& key) const {
    if (lines_ < kMinLines) return false;  // too little text to judge
    size_t limit = std::max<size_t>(lines_ / 100, 5), hits = 0;
    // A key is in no more lines than its rarest 3 bytes: most keys stop here.
    size_t bound = SIZE_MAX;
    for (size_t i = 0; i + 3 <= key.size(); ++i) bound = std::min<size_t>(bound, slots_[slot(key.data() + i)].lines);
    if (bound <= limit) return false;
    std::boyer_moore_horspool_searcher search(key.begin(), key.end());
    for (auto it = text_.begin();;) {
      it = std::search(it, text_.end(), search);
      if (it == text_.end()) return false;
      if (++hits > limit) return true;
      auto eol = std::find(it, text_.end(), '\n');  // count lines, not occurrences
      if (eol == text_.end()) return false;
      it = eol;
    }
  }

 private:
  static constexpr size_t kMinLines = 500, kSlots = size_t{1} << 17;
  struct Slot {
    uint32_t line, lines;  // the last line counted, lines counted
  };
  static size_t slot(const char* p) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(p[0])) |
                 static_cast<uint32_t>(static_cast<unsigned char>(p[1])) << 8 |
                 static_cast<uint32_t>(static_cast<unsigned char>(p[2])) << 16;
    return (v * 2654435761u) >> 15;
  }
  std::string text_;
  size_t lines_ = 0;
  std::vector<Slot> slots_;
};

// Compiles caseless literals into a Vectorscan block-mode database.
Result<hs_database_t*> compile_literals(const std::vector<std::string>& lits) {
  std::vector<const char*> exprs;
  std::vector<size_t> lens;
  std::vector<unsigned> flags, ids;
  for (size_t i = 0; i < lits.size(); ++i) {
    exprs.push_back(lits[i].data());
    lens.push_back(lits[i].size());
    flags.push_back(HS_FLAG_CASELESS);
    ids.push_back(static_cast<unsigned>(i));
  }
  hs_compile_error_t* err = nullptr;
  hs_database_t* db = nullptr;
  if (hs_compile_lit_multi(exprs.data(), flags.data(), ids.data(), lens.data(),
                           static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &db,
                           &err) != HS_SUCCESS) {
    std::string msg = err && err->message ? err->message : "unknown error";
    hs_free_compile_error(err);
    return make_error("rules: cannot build the literal prefilter: " + msg);
  }
  return db;
}

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

// Level 2: the exact atoms in one line.
int on_atom(unsigned int id, unsigned long long /*from*/, unsigned long long /*to*/, unsigned int /*flags*/,
            void* ctx) {
  static_cast<std::vector<int>*>(ctx)->push_back(static_cast<int>(id));
  return 0;
}

}  // namespace

std::string_view Fact::field(std::string_view name) const {
  for (const auto& [k, v] : fields)
    if (k == name) return v;
  return {};
}

namespace {
// ESXi context for response codes (kb/rc_context.json), loaded once.
const std::vector<rc::Context>& rc_contexts() {
  static const std::vector<rc::Context> all = [] {
    auto ctx = rc::load_context(find_embedded("kb/rc_context.json"));
    return ctx ? *ctx : std::vector<rc::Context>{};
  }();
  return all;
}
}  // namespace

void decode_rc_field(std::vector<std::pair<std::string, std::string>>& fields) {
  std::string command;
  for (const auto& [k, v] : fields)
    if (k == "command") command = v;
  for (const auto& [k, v] : fields) {
    if (k != "rc") continue;
    auto code = rc::parse_code(v);
    if (!code) return;
    auto d = rc::decode(*code);
    std::string context;
    for (const rc::Context* c : rc::find_context(rc_contexts(), *code, command))
      context += (context.empty() ? "" : " | ") + c->context;
    fields.emplace_back("rc_name", d.name);
    fields.emplace_back("rc_kind", std::string(rc::kind_name(d.kind)));
    fields.emplace_back("rc_index", std::to_string(d.index));
    fields.emplace_back("rc_layer", d.layer_name);
    fields.emplace_back("rc_description", d.description);
    if (!context.empty()) fields.emplace_back("rc_context", context);
    return;
  }
}

Matcher::Matcher() = default;
Matcher::Matcher(Matcher&&) noexcept = default;
Matcher& Matcher::operator=(Matcher&&) noexcept = default;
Matcher::~Matcher() = default;
void Matcher::DbFree::operator()(hs_database* db) const { hs_free_database(db); }

namespace {

// One rule compiled: its regex, named groups and prefilter requirements.
struct Compiled {
  std::unique_ptr<re2::FilteredRE2> re;  // its one regex is the rule's (RE2 compiles once)
  std::vector<std::pair<std::string, int>> groups;
  std::vector<Requirement> reqs;  // all must be met
  std::string error;
};

Compiled compile_rule(const Rule& r) {
  Compiled c;
  RE2::Options opts;
  opts.set_log_errors(false);
  c.re = std::make_unique<re2::FilteredRE2>(kMinAtomLen);
  re2::FilteredRE2& filter = *c.re;
  int id = 0;
  if (filter.Add(r.pattern, opts, &id) != RE2::NoError) {
    std::string why = RE2(r.pattern, opts).error();  // quotes the pattern, which may hold a newline: keep one line
    for (char& ch : why)
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';
    c.error = r.file + ": rule '" + r.id + "': field 'pattern': invalid RE2 regex: " + why;
    return c;
  }
  for (const auto& [name, idx] : filter.GetRE2(id).NamedCapturingGroups()) c.groups.emplace_back(name, idx);

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
    Requirement req;
    for (const auto& l : r.literals) req.push_back(lower(l));
    c.reqs.push_back(req);
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
    c.reqs.push_back(necessary);
  } else {
    for (const auto& at : atoms) c.reqs.push_back({at});
  }
  return c;
}

}  // namespace

Result<Matcher> Matcher::build(std::vector<Rule> rules) {
  Matcher m;
  m.rules_ = std::move(rules);
  // Rules compile independently: on all cores when there are many (start-up
  // time matters for a paste, and --rules folders can hold hundreds).
  std::vector<Compiled> done(m.rules_.size());
  unsigned threads = m.rules_.size() < 64 ? 1u : std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next++) < done.size();) done[i] = compile_rule(m.rules_[i]);
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  for (auto& c : done) {
    if (!c.error.empty()) return make_error(c.error);  // the first bad rule in file order
    m.res_.push_back(std::move(c.re));
    m.groups_.push_back(std::move(c.groups));
    m.rule_reqs_.push_back(std::move(c.reqs));
  }
  m.lazy_ = std::make_unique<Lazy>();
  return m;
}

// Keys, atoms and the literal databases are made on first use: a paste small
// enough for the reference path never pays for them.
const Matcher::Lazy& Matcher::compiled(std::string_view sample) const {
  std::call_once(lazy_->once, [this, sample] {
    Lazy& l = *lazy_;
    std::vector<Requirement> all;
    for (const auto& rr : rule_reqs_) all.insert(all.end(), rr.begin(), rr.end());
    // Level-2 atoms: per requirement, its rarest atom. Every atom of a
    // requirement is in each line it stands for, and one of them holds a key,
    // so the atoms need not wait for the keys: their database compiles while
    // the keys are chosen.
    std::map<std::string, int> atom_ids;
    for (size_t i = 0; i < rule_reqs_.size(); ++i) {
      for (const auto& req : rule_reqs_[i]) {
        const std::string* best = &req.front();
        for (const auto& a : req)
          if (rarity(a) > rarity(*best)) best = &a;
        auto [it, fresh] = atom_ids.emplace(*best, static_cast<int>(l.atom_list.size()));
        if (fresh) {
          l.atom_list.push_back(*best);
          l.atom_rules.emplace_back();
        }
        auto& list = l.atom_rules[static_cast<size_t>(it->second)];
        if (list.empty() || list.back() != static_cast<int>(i)) list.push_back(static_cast<int>(i));
      }
    }
    if (l.atom_list.empty()) return;
    Result<hs_database_t*> atoms = make_error("");
    std::thread other([&] { atoms = compile_literals(l.atom_list); });
    CommonCheck common(sample.substr(0, kSampleBytes));
    l.key_list = choose_keys(all, std::cref(common));
    Result<hs_database_t*> keys = nullptr;
    if (auto engine = KeyFilter::best())
      l.fast_keys = std::make_unique<KeyFilter>(l.key_list, common.text(), *engine);
    else
      keys = compile_literals(l.key_list);
    other.join();
    if (!keys || !atoms) {
      lazy_->error = !keys ? keys.error().message : atoms.error().message;
      return;
    }
    lazy_->keys.reset(*keys);
    lazy_->atoms.reset(*atoms);
  });
  return *lazy_;
}

Status Matcher::compile(std::string_view sample) const {
  const Lazy& l = compiled(sample);
  if (!l.error.empty()) return make_error(l.error);
  return ok_status();
}

Matcher::Scratch::Scratch(const Matcher&) {}

Matcher::Scratch::~Scratch() {
  if (keys_hs_) hs_free_scratch(keys_hs_);
  if (atoms_hs_) hs_free_scratch(atoms_hs_);
}

void Matcher::prefilter(const char* data, size_t n, Scratch& scratch, const CandidateFn& fn) const {
  if (n == 0) return;
  const Lazy& db = compiled(std::string_view(data, n));
  if (db.atom_list.empty()) return;
  if (!db.keys && !db.fast_keys) {
    // Cannot happen with valid literals; say so once and find nothing rather than crash.
    static std::once_flag told;
    std::call_once(told, [&] { std::fprintf(stderr, "tpmdiag: error: %s\n", db.error.c_str()); });
    return;
  }
  if (!scratch.keys_hs_ && db.keys) hs_alloc_scratch(db.keys.get(), &scratch.keys_hs_);
  if (!scratch.atoms_hs_) hs_alloc_scratch(db.atoms.get(), &scratch.atoms_hs_);
  auto& lines = scratch.lines_;
  lines.clear();
  if (db.fast_keys) {
    db.fast_keys->lines(data, n, lines);
  } else {
    KeyScan st{data, n, &lines};
    // Vectorscan takes an unsigned length: callers pass blocks far below 4 GiB.
    hs_scan(db.keys.get(), data, static_cast<unsigned>(n), 0, scratch.keys_hs_, on_key, &st);
  }
  for (const LineSpan& line : lines) {
    auto& atoms = scratch.atoms_;
    atoms.clear();
    hs_scan(db.atoms.get(), data + line.begin, static_cast<unsigned>(line.end - line.begin), 0,
            scratch.atoms_hs_, on_atom, &atoms);
    if (atoms.empty()) continue;
    std::sort(atoms.begin(), atoms.end());
    atoms.erase(std::unique(atoms.begin(), atoms.end()), atoms.end());
    fn(std::string_view(data + line.begin, line.end - line.begin), atoms);
  }
}

bool Matcher::match_rule(size_t i, std::string_view msg,
                         std::vector<std::pair<std::string, std::string>>* fields) const {
  const RE2& re = res_[i]->GetRE2(0);
  constexpr int kMaxGroups = 16;
  re2::StringPiece groups[kMaxGroups];
  int ngroups = std::min(re.NumberOfCapturingGroups() + 1, kMaxGroups);
  if (!re.Match(re2::StringPiece(msg.data(), msg.size()), 0, msg.size(), RE2::UNANCHORED, groups,
                ngroups))
    return false;
  if (fields) {
    for (const auto& [name, idx] : groups_[i])
      if (idx < ngroups && groups[idx].data())
        fields->emplace_back(name, std::string(groups[idx].data(), groups[idx].size()));
    decode_rc_field(*fields);
  }
  return true;
}

void Matcher::match(const Event& ev, const std::vector<int>* atoms, Scratch& scratch,
                    std::vector<Fact>& out) const {
  auto& cand = scratch.potentials_;
  cand.clear();
  if (atoms == nullptr) {
    for (size_t i = 0; i < rules_.size(); ++i) cand.push_back(static_cast<int>(i));
  } else {
    for (int a : *atoms) {
      const auto& rs = lazy_->atom_rules[static_cast<size_t>(a)];
      cand.insert(cand.end(), rs.begin(), rs.end());
    }
    std::sort(cand.begin(), cand.end());
    cand.erase(std::unique(cand.begin(), cand.end()), cand.end());
  }
  for (int ri : cand) {
    const Rule& r = rules_[static_cast<size_t>(ri)];
    if (!r.applies_to(ev.kind)) continue;
    std::vector<std::pair<std::string, std::string>> fields;
    if (!match_rule(static_cast<size_t>(ri), ev.message, &fields) || !r.accepts(fields)) continue;
    Fact f;
    f.rule = &r;
    f.input = ev.input;
    f.line = ev.line;
    f.host = ev.host;
    f.ts_ms = ev.ts_ms;
    f.ts_text = ev.ts_text;
    f.kind = ev.kind;
    f.severity = ev.severity;
    f.text = ev.raw.substr(0, kMaxFactText);
    f.fields = std::move(fields);
    out.push_back(std::move(f));
  }
}

}  // namespace tpmdiag
