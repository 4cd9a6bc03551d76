#include "kb/diagnose.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include "common/text.h"
#include "kb/timeline.h"

namespace tpmdiag {

namespace {

bool fact_matches(const Condition& c, const Fact& f) {
  if (f.rule->fact != c.fact) return false;
  for (const auto& [field, values] : c.where) {
    std::string v = f.value(field);
    if (std::none_of(values.begin(), values.end(), [&](const std::string& w) { return iequals(v, w); }))
      return false;
  }
  return true;
}

// A window's facts by fact name: a condition looks only at the facts of its
// name (each cause is scored in every window; a boot-heavy log has thousands).
class ByFact {
 public:
  explicit ByFact(const std::vector<const Fact*>& facts) {
    list_.reserve(facts.size());
    for (const Fact* f : facts) list_.emplace_back(f->rule->fact, f);
    std::stable_sort(list_.begin(), list_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  // The fact names in the window, each once.
  std::vector<std::string_view> names() const {
    std::vector<std::string_view> out;
    for (const auto& e : list_)
      if (out.empty() || out.back() != e.first) out.push_back(e.first);
    return out;
  }
  template <typename Fn>
  void each(std::string_view fact, Fn&& fn) const {
    auto it = std::lower_bound(list_.begin(), list_.end(), fact, [](const auto& e, std::string_view k) { return e.first < k; });
    for (; it != list_.end() && it->first == fact; ++it) fn(it->second);
  }

 private:
  std::vector<std::pair<std::string_view, const Fact*>> list_;
};

// Whether c holds in the window; appends the facts that made it hold.
bool holds(const Condition& c, const ByFact& facts, std::vector<const Fact*>* why) {
  if (!c.all.empty()) {
    std::vector<const Fact*> got;
    for (const auto& sub : c.all)
      if (!holds(sub, facts, &got)) return false;
    if (why) why->insert(why->end(), got.begin(), got.end());
    return true;
  }
  bool any = false;
  facts.each(c.fact, [&](const Fact* f) {
    if (!fact_matches(c, *f)) return;
    any = true;
    if (why) why->push_back(f);
  });
  return any;
}

struct Scored {
  double confidence = 0;
  std::vector<const Fact*> evidence;
  std::vector<const Fact*> trigger_facts;
};

std::optional<Scored> score(const Cause& cause, const ByFact& facts) {
  Scored s;
  double miss = 1.0, firm = 0.0;
  bool triggered = false;
  for (const auto& c : cause.trigger) {
    if (holds(c, facts, &s.trigger_facts)) {
      triggered = true;
      miss *= 1.0 - c.weight;
      if (c.firm) firm = std::max(firm, c.weight);
    }
  }
  if (!triggered) return std::nullopt;
  s.evidence = s.trigger_facts;
  for (const auto& c : cause.support)
    if (holds(c, facts, &s.evidence)) miss *= 1.0 - c.weight;
  double keep = 1.0;
  for (const auto& c : cause.contradict)
    if (holds(c, facts, nullptr)) keep *= 1.0 - c.weight;
  s.confidence = std::max((1.0 - miss) * keep, firm);
  // Each line once (the caller puts them in timeline order).
  std::sort(s.evidence.begin(), s.evidence.end());
  s.evidence.erase(std::unique(s.evidence.begin(), s.evidence.end()), s.evidence.end());
  std::sort(s.trigger_facts.begin(), s.trigger_facts.end());
  s.trigger_facts.erase(std::unique(s.trigger_facts.begin(), s.trigger_facts.end()), s.trigger_facts.end());
  return s;
}

std::string fill(const FixStep& step, const std::vector<const Fact*>& facts) {
  std::string out;
  const std::string& t = step.text;
  for (size_t i = 0; i < t.size();) {
    if (t[i] == '{') {
      size_t close = t.find('}', i);
      if (close != std::string::npos) {
        std::string name = t.substr(i + 1, close - i - 1);
        std::string value;
        for (const Fact* f : facts)
          if (!(value = f->value(name)).empty()) break;
        if (value.empty()) return step.otherwise.empty() ? step.text : step.otherwise;
        out += value;
        i = close + 1;
        continue;
      }
    }
    out.push_back(t[i++]);
  }
  return out;
}

// The causes a fact can trigger, by its name: a cause none of whose
// trigger conditions names a fact of the window cannot be found there.
class TriggeredBy {
 public:
  explicit TriggeredBy(const std::vector<Cause>& causes) {
    for (size_t i = 0; i < causes.size(); ++i)
      for (const auto& c : causes[i].trigger) add(c, i);
  }
  // The causes to score in a window, ascending.
  std::vector<size_t> causes(const ByFact& facts) const {
    std::vector<size_t> out;
    for (std::string_view name : facts.names())
      if (auto it = by_name_.find(name); it != by_name_.end()) out.insert(out.end(), it->second.begin(), it->second.end());
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

 private:
  void add(const Condition& c, size_t cause) {
    if (c.all.empty()) {
      auto& list = by_name_[c.fact];
      if (list.empty() || list.back() != cause) list.push_back(cause);
    }
    for (const auto& sub : c.all) add(sub, cause);
  }
  std::unordered_map<std::string_view, std::vector<size_t>> by_name_;  // views of the causes' names
};

// Scores every cause that a fact of the window can trigger; found causes best first.
std::vector<Finding> find_in_window(const std::string& host, const Window& win, const ByFact& by_fact,
                                    const std::vector<Cause>& causes, const TriggeredBy& triggered,
                                    const DiagnoseOptions& opts, const Timeline& tl) {
  std::vector<std::pair<const Cause*, Scored>> found;
  for (size_t ci : triggered.causes(by_fact)) {
    const Cause& cause = causes[ci];
    auto s = score(cause, by_fact);
    // A tiny epsilon: 1 - (1 - 0.2) is 0.19999... in binary floating point.
    if (!s || s->confidence + 1e-9 < opts.min_confidence) continue;
    found.push_back({&cause, std::move(*s)});
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    if (a.second.confidence != b.second.confidence) return a.second.confidence > b.second.confidence;
    if (a.first->prior != b.first->prior) return a.first->prior > b.first->prior;
    return a.first->id < b.first->id;
  });
  std::vector<Finding> out;
  for (const auto& [cause, s] : found) {
    Finding fd;
    fd.cause = cause;
    fd.confidence = s.confidence;
    fd.host = host;
    fd.boot = win.index;
    fd.evidence = s.evidence;
    std::sort(fd.evidence.begin(), fd.evidence.end(), [&](const Fact* a, const Fact* b) { return tl.before(a, b); });
    // Ambiguous: other causes triggered by exactly the same lines.
    for (const auto& [other, os] : found)
      if (other != cause && os.trigger_facts == s.trigger_facts) fd.alternatives.push_back(other->id);
    fd.ambiguous = !fd.alternatives.empty();
    for (const auto& step : cause->fix) fd.fix.push_back(fill(step, win.facts));
    out.push_back(std::move(fd));
  }
  return out;
}

// A line of a `success` rule (driver initialised, endorsement key provisioned,
// attestation passed, ...) is positive evidence; context lines are not.
bool proves_working(const Window& win) {
  return std::any_of(win.facts.begin(), win.facts.end(), [](const Fact* f) { return f->rule->role == RuleRole::success; });
}

// Resolved: a later window shows a line the cause names as proof of the fix.
void mark_resolved(Finding& fd, const std::vector<Window>& boots, const std::vector<ByFact>& by_fact,
                   const Timeline& tl) {
  for (size_t wi = static_cast<size_t>(fd.boot); wi < boots.size(); ++wi) {
    const auto& win = boots[wi];
    for (const Condition& c : fd.cause->resolved_by) {
      if (!holds(c, by_fact[wi], &fd.resolved_by)) continue;
      fd.status = FindingStatus::resolved;
      fd.resolved_in = win.index;
      std::sort(fd.resolved_by.begin(), fd.resolved_by.end(), [&](const Fact* a, const Fact* b) { return tl.before(a, b); });
      fd.resolved_by.erase(std::unique(fd.resolved_by.begin(), fd.resolved_by.end()), fd.resolved_by.end());
      return;
    }
  }
}

}  // namespace

Report diagnose(std::vector<Fact> facts, const std::vector<Cause>& causes, const DiagnoseOptions& opts) {
  Report r;
  r.facts = std::move(facts);
  Timeline tl = build_timeline(r.facts);

  const TriggeredBy triggered(causes);
  std::vector<char> used(r.facts.size(), 0);  // by index in r.facts
  for (auto& hr : tl.hosts) {
    // Findings per window: a cause found in three boots is three findings.
    std::vector<Finding> found_here;
    hr.verdict = Verdict::no_tpm_evidence;
    std::vector<ByFact> by_fact;
    by_fact.reserve(hr.boots.size());
    for (const auto& win : hr.boots) by_fact.emplace_back(win.facts);
    for (size_t wi = 0; wi < hr.boots.size(); ++wi) {
      auto& win = hr.boots[wi];
      auto found = find_in_window(hr.host, win, by_fact[wi], causes, triggered, opts, tl);
      // No finding is healthy only with a line that proves the TPM works.
      win.verdict = !found.empty() ? Verdict::problem : proves_working(win) ? Verdict::healthy : Verdict::no_tpm_evidence;
      if (found.empty()) hr.verdict = worse(hr.verdict, win.verdict);
      std::move(found.begin(), found.end(), std::back_inserter(found_here));
    }
    for (auto& fd : found_here) {
      mark_resolved(fd, hr.boots, by_fact, tl);
      for (const Fact* f : fd.evidence) used[static_cast<size_t>(f - r.facts.data())] = 1;
    }
    for (auto& fd : found_here) {
      hr.verdict = worse(hr.verdict, fd.status == FindingStatus::problem ? Verdict::problem : Verdict::resolved);
      r.findings.push_back(std::move(fd));
    }
    r.verdict = worse(r.verdict, hr.verdict);
  }

  std::stable_sort(r.findings.begin(), r.findings.end(), [](const Finding& a, const Finding& b) {
    if (a.status != b.status) return a.status == FindingStatus::problem;
    if (a.confidence != b.confidence) return a.confidence > b.confidence;
    if (a.cause->prior != b.cause->prior) return a.cause->prior > b.cause->prior;
    return a.boot > b.boot;  // the most recent first
  });
  for (const auto& hr : tl.hosts)
    for (const auto& win : hr.boots)
      for (const Fact* f : win.facts) {
        if (!used[static_cast<size_t>(f - r.facts.data())]) r.context.push_back(f);
        if (f->rule->fallback) r.unexplained.push_back(f);
      }
  r.hosts = std::move(tl.hosts);
  return r;
}

int exit_code(const Report& r) {
  if (r.incomplete()) return 2;  // as grep and rg do: an error wins, the report still stands
  if (r.verdict == Verdict::problem) return 1;
  return 0;
}

}  // namespace tpmdiag
