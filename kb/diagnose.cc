#include "kb/diagnose.h"

#include <algorithm>
#include <map>
#include <set>
#include "common/text.h"

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

// Whether c holds in the window; appends the facts that made it hold.
bool holds(const Condition& c, const std::vector<const Fact*>& facts, std::vector<const Fact*>* why) {
  if (!c.all.empty()) {
    std::vector<const Fact*> got;
    for (const auto& sub : c.all)
      if (!holds(sub, facts, &got)) return false;
    if (why) why->insert(why->end(), got.begin(), got.end());
    return true;
  }
  bool any = false;
  for (const Fact* f : facts)
    if (fact_matches(c, *f)) {
      any = true;
      if (why) why->push_back(f);
    }
  return any;
}

struct Scored {
  double confidence = 0;
  std::vector<const Fact*> evidence;
  std::vector<const Fact*> trigger_facts;
};

std::optional<Scored> score(const Cause& cause, const std::vector<const Fact*>& facts) {
  Scored s;
  double miss = 1.0;
  bool triggered = false;
  for (const auto& c : cause.trigger) {
    if (holds(c, facts, &s.trigger_facts)) {
      triggered = true;
      miss *= 1.0 - c.weight;
    }
  }
  if (!triggered) return std::nullopt;
  s.evidence = s.trigger_facts;
  for (const auto& c : cause.support)
    if (holds(c, facts, &s.evidence)) miss *= 1.0 - c.weight;
  double keep = 1.0;
  for (const auto& c : cause.contradict)
    if (holds(c, facts, nullptr)) keep *= 1.0 - c.weight;
  s.confidence = (1.0 - miss) * keep;
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

// Whether f starts a new boot/service window after the facts of the current one.
// A boot marker does when the window shows an earlier boot: the same marker, a
// line of a running system (hostd, vobd, ...), or timestamped kernel lines with
// no boot marker (the start of that boot was not seen). Kernel lines after a
// different boot marker (the boot loader's VMB_TPM lines before 'Loading
// module tpmdriver') and undated pasted text stay. A service marker (a hostd
// start) opens a window when the window already saw that same service start.
bool opens_window(const Fact& f, const std::vector<const Fact*>& window) {
  if (f.rule->window == WindowMark::none || window.empty()) return false;
  auto same_rule = [&](const Fact* g) { return g->rule == f.rule; };
  if (f.rule->window == WindowMark::service) return std::any_of(window.begin(), window.end(), same_rule);
  auto kernel = [](const Fact* g) { return g->kind == SourceKind::vmkernel || g->kind == SourceKind::vmkwarning; };
  auto running = [](const Fact* g) {
    switch (g->kind) {
      case SourceKind::hostd: case SourceKind::vpxa: case SourceKind::vobd: case SourceKind::vpxd:
      case SourceKind::syslog: return true;
      default: return false;
    }
  };
  bool has_boot = std::any_of(window.begin(), window.end(),
                              [](const Fact* g) { return g->rule->window == WindowMark::boot; });
  bool dated_kernel = std::any_of(window.begin(), window.end(),
                                  [&](const Fact* g) { return kernel(g) && g->ts_ms.has_value(); });
  return std::any_of(window.begin(), window.end(), same_rule) ||
         std::any_of(window.begin(), window.end(), running) || (!has_boot && dated_kernel);
}

}  // namespace

Report diagnose(std::vector<Fact> facts, const std::vector<Cause>& causes, const DiagnoseOptions& opts) {
  Report r;
  r.facts = std::move(facts);

  // Effective timestamps (see header), then timeline order.
  std::map<uint32_t, std::vector<size_t>> by_input;
  for (size_t i = 0; i < r.facts.size(); ++i) by_input[r.facts[i].input_seq].push_back(i);
  std::vector<int64_t> eff(r.facts.size(), 0);
  int64_t max_before = INT64_MIN;
  for (auto& [seq, idx] : by_input) {
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return r.facts[a].line < r.facts[b].line; });
    int64_t carry = max_before;
    int64_t max_here = max_before;
    for (size_t i : idx) {
      if (r.facts[i].ts_ms) carry = *r.facts[i].ts_ms;
      eff[i] = carry;
      max_here = std::max(max_here, carry);
    }
    max_before = max_here;
  }
  std::vector<size_t> order(r.facts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (eff[a] != eff[b]) return eff[a] < eff[b];
    if (r.facts[a].input_seq != r.facts[b].input_seq) return r.facts[a].input_seq < r.facts[b].input_seq;
    return r.facts[a].line < r.facts[b].line;
  });
  std::vector<size_t> rank(r.facts.size());
  for (size_t i = 0; i < order.size(); ++i) rank[order[i]] = i;
  auto by_time = [&](const Fact* a, const Fact* b) {
    return rank[static_cast<size_t>(a - r.facts.data())] < rank[static_cast<size_t>(b - r.facts.data())];
  };

  // Lines that name no host belong to the run's only named host, if there is
  // exactly one (a pasted esxcli prompt names it; the pasted log lines do not).
  std::set<std::string> named;
  for (const auto& f : r.facts)
    if (!f.host.empty()) named.insert(f.host);
  if (named.size() == 1)
    for (auto& f : r.facts)
      if (f.host.empty()) f.host = *named.begin();

  // Per host, with vmkwarning/vmkernel duplicates dropped.
  std::map<std::string, std::vector<const Fact*>> hosts;
  std::set<std::string> seen;
  for (size_t i : order) {
    const Fact& f = r.facts[i];
    if (f.ts_ms && (f.kind == SourceKind::vmkernel || f.kind == SourceKind::vmkwarning)) {
      std::string key = f.host + '\x1f' + f.rule->id + '\x1f' + f.ts_text;
      for (const auto& [k, v] : f.fields) key += '\x1f' + v;
      if (!seen.insert(key).second) continue;
    }
    hosts[f.host].push_back(&f);
  }

  std::set<const Fact*> used;
  for (auto& [host, list] : hosts) {
    HostReport hr;
    hr.host = host;
    Window w;
    w.index = 1;
    for (const Fact* f : list) {
      if (opens_window(*f, w.facts)) {
        hr.boots.push_back(std::move(w));
        w = Window{};
        w.index = static_cast<int>(hr.boots.size()) + 1;
      }
      w.facts.push_back(f);
      if (f->ts_ms) {
        if (!w.first_ts) w.first_ts = f->ts_ms;
        w.last_ts = f->ts_ms;
      }
      if (f->repeats && f->last_ts_ms && (!w.last_ts || *w.last_ts < *f->last_ts_ms)) w.last_ts = f->last_ts_ms;
    }
    if (!w.facts.empty()) hr.boots.push_back(std::move(w));

    // Findings per window: a cause found in three boots is three findings.
    std::vector<Finding> found_here;
    std::vector<std::vector<std::pair<const Cause*, Scored>>> per_window(hr.boots.size());
    for (size_t wi = 0; wi < hr.boots.size(); ++wi) {
      auto& win = hr.boots[wi];
      for (const auto& cause : causes) {
        auto s = score(cause, win.facts);
        // A tiny epsilon: 1 - (1 - 0.2) is 0.19999... in binary floating point.
        if (!s || s->confidence + 1e-9 < opts.min_confidence) continue;
        per_window[wi].push_back({&cause, std::move(*s)});
      }
      auto& found = per_window[wi];
      std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
        if (a.second.confidence != b.second.confidence) return a.second.confidence > b.second.confidence;
        if (a.first->prior != b.first->prior) return a.first->prior > b.first->prior;
        return a.first->id < b.first->id;
      });
      win.verdict = found.empty() ? Verdict::healthy : Verdict::problem;
      for (const auto& [cause, s] : found) {
        Finding fd;
        fd.cause = cause;
        fd.confidence = s.confidence;
        fd.host = host;
        fd.boot = win.index;
        fd.evidence = s.evidence;
        std::sort(fd.evidence.begin(), fd.evidence.end(), by_time);
        // Ambiguous: other causes triggered by exactly the same lines.
        for (const auto& [other, os] : found)
          if (other != cause && os.trigger_facts == s.trigger_facts) fd.alternatives.push_back(other->id);
        fd.ambiguous = !fd.alternatives.empty();
        for (const auto& step : cause->fix) fd.fix.push_back(fill(step, win.facts));
        found_here.push_back(std::move(fd));
      }
    }
    // Resolved: a later window shows a line the cause names as proof of the fix.
    for (auto& fd : found_here) {
      for (size_t wi = static_cast<size_t>(fd.boot); wi < hr.boots.size(); ++wi) {
        const auto& win = hr.boots[wi];
        bool fixed = std::any_of(fd.cause->resolved_by.begin(), fd.cause->resolved_by.end(),
                                 [&](const Condition& c) { return holds(c, win.facts, nullptr); });
        if (fixed) {
          fd.status = FindingStatus::resolved;
          fd.resolved_in = win.index;
          break;
        }
      }
      for (const Fact* f : fd.evidence) used.insert(f);
    }
    hr.verdict = Verdict::healthy;
    for (auto& fd : found_here) {
      hr.verdict = worse(hr.verdict, fd.status == FindingStatus::problem ? Verdict::problem : Verdict::resolved);
      r.findings.push_back(std::move(fd));
    }
    r.verdict = worse(r.verdict, hr.verdict);
    r.hosts.push_back(std::move(hr));
  }

  std::stable_sort(r.findings.begin(), r.findings.end(), [](const Finding& a, const Finding& b) {
    if (a.status != b.status) return a.status == FindingStatus::problem;
    if (a.confidence != b.confidence) return a.confidence > b.confidence;
    if (a.cause->prior != b.cause->prior) return a.cause->prior > b.cause->prior;
    return a.boot > b.boot;  // the most recent first
  });
  for (const auto& [host, list] : hosts)
    for (const Fact* f : list)
      if (!used.count(f)) r.context.push_back(f);
  return r;
}

int exit_code(const Report& r) {
  if (r.verdict == Verdict::problem) return 1;
  if (!r.any_input_read && !r.inputs.empty()) return 2;
  return 0;
}

}  // namespace tpmdiag
