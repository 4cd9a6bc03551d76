#include "rules/matcher.h"

#include <hs/hs.h>
#include <re2/filtered_re2.h>
#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <set>

#include "common/embedded.h"
#include "kb/rc.h"

namespace tpmdiag {

namespace {

constexpr int kMinAtomLen = 4;
constexpr size_t kMaxFactText = 4096;
constexpr size_t kMinKey = 3, kMaxKey = 8;

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
  double bits = 0;
  for (char ch : s) {
    char c = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
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
    bits += -std::log2(p);
  }
  return bits;
}

// A prefilter requirement: a line that may match the rule holds at least one
// of these atoms.
using Requirement = std::vector<std::string>;

// Chooses few, rare keys such that every requirement has an atom containing
// one (greedy set cover: a key's value is how rare it looks plus how many
// requirements it satisfies). Keys only decide speed, never correctness.
std::vector<std::string> choose_keys(const std::vector<Requirement>& reqs) {
  // Every candidate key (a substring of an atom) with the requirements it meets.
  std::unordered_map<std::string, std::vector<size_t>> meets;
  for (size_t i = 0; i < reqs.size(); ++i) {
    std::set<std::string> seen;
    for (const auto& a : reqs[i]) {
      if (a.size() < kMinKey) seen.insert(a);
      for (size_t len = kMinKey; len <= std::min(kMaxKey, a.size()); ++len)
        for (size_t at = 0; at + len <= a.size(); ++at) seen.insert(a.substr(at, len));
    }
    for (const auto& k : seen) meets[k].push_back(i);
  }
  struct Candidate {
    const std::string* key;
    const std::vector<size_t>* reqs;
    double bits;
    size_t open;  // requirements it meets that no chosen key meets yet
  };
  std::vector<Candidate> cands;
  for (const auto& [k, list] : meets) cands.push_back({&k, &list, rarity(k), list.size()});
  std::vector<bool> done(reqs.size(), false);
  std::vector<std::string> keys;
  for (;;) {
    const Candidate* best = nullptr;
    double best_value = -1;
    for (const auto& c : cands) {
      if (c.open == 0) continue;
      double v = c.bits + 8.0 * std::log2(static_cast<double>(c.open));
      if (v > best_value || (v == best_value && *c.key < *best->key)) {
        best_value = v;
        best = &c;
      }
    }
    if (!best) break;
    keys.push_back(*best->key);
    std::vector<bool> newly(reqs.size(), false);
    for (size_t r : *best->reqs)
      if (!done[r]) done[r] = newly[r] = true;
    for (auto& c : cands)
      for (size_t r : *c.reqs)
        if (newly[r]) --c.open;
  }
  return keys;
}

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

Result<Matcher> Matcher::build(std::vector<Rule> rules) {
  Matcher m;
  m.rules_ = std::move(rules);
  RE2::Options opts;
  opts.set_log_errors(false);
  std::vector<std::vector<Requirement>> rule_reqs;  // per rule: all must be met
  for (size_t i = 0; i < m.rules_.size(); ++i) {
    const Rule& r = m.rules_[i];
    auto re = std::make_unique<RE2>(r.pattern, opts);
    if (!re->ok()) {
      std::string why = re->error();  // quotes the pattern, which may hold a newline: keep one line
      for (char& c : why)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
      return make_error(r.file + ": rule '" + r.id + "': field 'pattern': invalid RE2 regex: " + why);
    }
    std::vector<std::pair<std::string, int>> groups;
    for (const auto& [name, idx] : re->NamedCapturingGroups()) groups.emplace_back(name, idx);
    m.groups_.push_back(std::move(groups));
    m.res_.push_back(std::move(re));

    // The literals that stand for this rule in the prefilter.
    re2::FilteredRE2 filter(kMinAtomLen);
    int id = 0;
    filter.Add(r.pattern, opts, &id);
    std::vector<std::string> atoms;
    filter.Compile(&atoms);
    std::vector<int> none, passed;
    filter.AllPotentials(none, &passed);
    if (!passed.empty()) {  // passes with no atom at all: nothing to prefilter on
      if (r.literals.empty())
        return make_error(r.file + ": rule '" + r.id +
                          "': field 'pattern': no literal of 4+ characters that every match contains, "
                          "so the prefilter cannot find its lines; add a \"literals\" list");
      Requirement req;
      for (const auto& l : r.literals) req.push_back(lower(l));
      rule_reqs.push_back({req});
      continue;
    }
    // An atom is necessary if the rule cannot pass without it: any one
    // necessary atom finds all its lines. Without one, every atom is needed.
    Requirement necessary;
    for (size_t a = 0; a < atoms.size(); ++a) {
      std::vector<int> rest;
      for (size_t b = 0; b < atoms.size(); ++b)
        if (b != a) rest.push_back(static_cast<int>(b));
      filter.AllPotentials(rest, &passed);
      if (passed.empty()) necessary.push_back(atoms[a]);
    }
    if (!necessary.empty()) {
      rule_reqs.push_back({necessary});
    } else {
      std::vector<Requirement> each;
      for (const auto& a : atoms) each.push_back({a});
      rule_reqs.push_back(each);
    }
  }

  m.rule_reqs_ = std::move(rule_reqs);
  m.lazy_ = std::make_unique<Lazy>();
  return m;
}

// Keys, atoms and the literal databases are made on first use: a paste small
// enough for the reference path never pays for them.
const Matcher::Lazy& Matcher::compiled() const {
  std::call_once(lazy_->once, [this] {
    Lazy& l = *lazy_;
    std::vector<Requirement> all;
    for (const auto& rr : rule_reqs_) all.insert(all.end(), rr.begin(), rr.end());
    l.key_list = choose_keys(all);
    // Level-2 atoms: per requirement, the rarest of its atoms that holds a key.
    std::map<std::string, int> atom_ids;
    for (size_t i = 0; i < rule_reqs_.size(); ++i) {
      for (const auto& req : rule_reqs_[i]) {
        std::string best;
        for (const auto& a : req) {
          bool keyed = std::any_of(l.key_list.begin(), l.key_list.end(),
                                   [&](const std::string& k) { return a.find(k) != std::string::npos; });
          if (keyed && rarity(a) > rarity(best)) best = a;
        }
        auto [it, fresh] = atom_ids.emplace(best, static_cast<int>(l.atom_list.size()));
        if (fresh) {
          l.atom_list.push_back(best);
          l.atom_rules.emplace_back();
        }
        auto& list = l.atom_rules[static_cast<size_t>(it->second)];
        if (list.empty() || list.back() != static_cast<int>(i)) list.push_back(static_cast<int>(i));
      }
    }
    if (l.atom_list.empty()) return;
    auto keys = compile_literals(l.key_list);
    auto atoms = compile_literals(l.atom_list);
    if (!keys || !atoms) {
      lazy_->error = !keys ? keys.error().message : atoms.error().message;
      return;
    }
    lazy_->keys.reset(*keys);
    lazy_->atoms.reset(*atoms);
  });
  return *lazy_;
}

Status Matcher::compile() const {
  const Lazy& l = compiled();
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
  const Lazy& db = compiled();
  if (db.atom_list.empty()) return;
  if (!db.keys) {
    // Cannot happen with valid literals; say so once and find nothing rather than crash.
    static std::once_flag told;
    std::call_once(told, [&] { std::fprintf(stderr, "tpmdiag: error: %s\n", db.error.c_str()); });
    return;
  }
  if (!scratch.keys_hs_) hs_alloc_scratch(db.keys.get(), &scratch.keys_hs_);
  if (!scratch.atoms_hs_) hs_alloc_scratch(db.atoms.get(), &scratch.atoms_hs_);
  auto& lines = scratch.lines_;
  lines.clear();
  KeyScan st{data, n, &lines};
  // Vectorscan takes an unsigned length: callers pass blocks far below 4 GiB.
  hs_scan(db.keys.get(), data, static_cast<unsigned>(n), 0, scratch.keys_hs_, on_key, &st);
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
  const RE2& re = *res_[i];
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
