#include "rules/matcher.h"

#include <hs/hs.h>
#include <re2/filtered_re2.h>
#include <re2/re2.h>

#include <algorithm>
#include <cstring>

#include "kb/rc.h"

namespace tpmdiag {

namespace {

constexpr int kMinAtomLen = 4;
constexpr size_t kMaxFactText = 4096;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

struct ScanState {
  const char* data;
  size_t n;
  const std::vector<std::string>* atoms;
  const CandidateFn* fn;
  std::vector<int>* line_atoms;
  size_t line_begin = 0, line_end = 0;
  bool have_line = false;

  void flush() {
    if (!have_line) return;
    std::sort(line_atoms->begin(), line_atoms->end());
    line_atoms->erase(std::unique(line_atoms->begin(), line_atoms->end()), line_atoms->end());
    (*fn)(std::string_view(data + line_begin, line_end - line_begin), *line_atoms);
    line_atoms->clear();
    have_line = false;
  }
};

int on_hs_match(unsigned int id, unsigned long long /*from*/, unsigned long long to,
                unsigned int /*flags*/, void* ctx) {
  auto& st = *static_cast<ScanState*>(ctx);
  size_t end = static_cast<size_t>(to);
  if (st.have_line && end <= st.line_end) {
    st.line_atoms->push_back(static_cast<int>(id));
    return 0;
  }
  size_t floor = st.have_line ? st.line_end + 1 : 0;
  st.flush();
  size_t start = end - (*st.atoms)[id].size();
  const void* nl = start > floor ? memrchr(st.data + floor, '\n', start - floor) : nullptr;
  st.line_begin = nl ? static_cast<size_t>(static_cast<const char*>(nl) - st.data) + 1 : floor;
  const void* e = memchr(st.data + end, '\n', st.n - end);
  st.line_end = e ? static_cast<size_t>(static_cast<const char*>(e) - st.data) : st.n;
  st.have_line = true;
  st.line_atoms->push_back(static_cast<int>(id));
  return 0;
}

}  // namespace

std::string_view Fact::field(std::string_view name) const {
  for (const auto& [k, v] : fields)
    if (k == name) return v;
  return {};
}

void decode_rc_field(std::vector<std::pair<std::string, std::string>>& fields) {
  for (const auto& [k, v] : fields) {
    if (k != "rc") continue;
    auto code = rc::parse_code(v);
    if (!code) return;
    auto d = rc::decode(*code);
    fields.emplace_back("rc_name", d.name);
    fields.emplace_back("rc_kind", std::string(rc::kind_name(d.kind)));
    fields.emplace_back("rc_index", std::to_string(d.index));
    fields.emplace_back("rc_layer", d.layer_name);
    fields.emplace_back("rc_description", d.description);
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
  m.filter_ = std::make_unique<re2::FilteredRE2>(kMinAtomLen);
  RE2::Options opts;
  opts.set_log_errors(false);
  for (size_t i = 0; i < m.rules_.size(); ++i) {
    const Rule& r = m.rules_[i];
    int id = -1;
    auto code = m.filter_->Add(r.pattern, opts, &id);
    if (code != RE2::NoError) {
      RE2 probe(r.pattern, opts);  // for the error text
      return make_error(r.file + ": rule '" + r.id + "': field 'pattern': invalid RE2 regex: " +
                        probe.error());
    }
    std::vector<std::pair<std::string, int>> groups;
    for (const auto& [name, idx] : m.filter_->GetRE2(id).NamedCapturingGroups())
      groups.emplace_back(name, idx);
    m.groups_.push_back(std::move(groups));
  }
  if (!m.rules_.empty()) m.filter_->Compile(&m.atoms_);
  m.derived_atoms_ = m.atoms_.size();

  // Rules that pass the filter with no atom at all have no usable literal.
  std::vector<int> none, unfiltered;
  if (!m.rules_.empty()) m.filter_->AllPotentials(none, &unfiltered);
  m.unfiltered_.assign(m.rules_.size(), false);
  for (int u : unfiltered) {
    const Rule& r = m.rules_[static_cast<size_t>(u)];
    if (r.literals.empty())
      return make_error(r.file + ": rule '" + r.id +
                        "': field 'pattern': no literal of 4+ characters that every match contains, "
                        "so the prefilter cannot find its lines; add a \"literals\" list");
    m.unfiltered_[static_cast<size_t>(u)] = true;
  }
  for (size_t i = 0; i < m.rules_.size(); ++i) {
    if (!m.unfiltered_[i]) continue;
    for (const auto& lit : m.rules_[i].literals) {
      m.atoms_.push_back(lower(lit));
      m.literal_rules_.push_back({static_cast<int>(i)});
    }
  }

  if (!m.atoms_.empty()) {
    std::vector<const char*> exprs;
    std::vector<size_t> lens;
    std::vector<unsigned> flags, ids;
    for (size_t i = 0; i < m.atoms_.size(); ++i) {
      exprs.push_back(m.atoms_[i].data());
      lens.push_back(m.atoms_[i].size());
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
    m.db_.reset(db);
  }
  return m;
}

Matcher::Scratch::Scratch(const Matcher& m) {
  if (m.db_) hs_alloc_scratch(m.db_.get(), &hs_);
}

Matcher::Scratch::~Scratch() {
  if (hs_) hs_free_scratch(hs_);
}

void Matcher::prefilter(const char* data, size_t n, Scratch& scratch, const CandidateFn& fn) const {
  if (!db_ || n == 0) return;
  ScanState st{data, n, &atoms_, &fn, &scratch.atoms_};
  scratch.atoms_.clear();
  // Vectorscan takes an unsigned length: feed blocks below 4 GiB.
  hs_scan(db_.get(), data, static_cast<unsigned>(n), 0, scratch.hs_, on_hs_match, &st);
  st.flush();
}

bool Matcher::match_rule(size_t i, std::string_view msg,
                         std::vector<std::pair<std::string, std::string>>* fields) const {
  const RE2& re = filter_->GetRE2(static_cast<int>(i));
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
    std::vector<int> derived;
    for (int a : *atoms) {
      if (static_cast<size_t>(a) < derived_atoms_) derived.push_back(a);
      else for (int r : literal_rules_[static_cast<size_t>(a) - derived_atoms_]) cand.push_back(r);
    }
    std::vector<int> passed;
    filter_->AllPotentials(derived, &passed);
    for (int r : passed)
      if (!unfiltered_[static_cast<size_t>(r)]) cand.push_back(r);
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
