#include "kb/timeline.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <system_error>
#include <thread>
#include <tuple>

#include "common/hash.h"

namespace tpmdiag {

namespace {

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

Timeline build_timeline(std::vector<Fact>& facts) {
  Timeline tl;
  tl.first_ = facts.data();

  // Effective timestamps (see header), then timeline order. Sorted as small
  // keys (not indexes into the facts): a large log's facts come mostly in
  // order already, and each comparison reached into two 280-byte facts.
  struct Key {
    int64_t eff;
    uint32_t seq;
    uint64_t line;
    size_t idx;
  };
  std::vector<Key> keys(facts.size());
  for (size_t i = 0; i < facts.size(); ++i) keys[i] = {0, facts[i].input_seq, facts[i].line, i};
  auto sort_by = [&](auto less) {
    if (!std::is_sorted(keys.begin(), keys.end(), less)) std::sort(keys.begin(), keys.end(), less);
  };
  // Each input in line order: a line without a time takes the last time
  // above it, and an input's first lines the latest time of the inputs before.
  sort_by([](const Key& a, const Key& b) { return std::tie(a.seq, a.line, a.idx) < std::tie(b.seq, b.line, b.idx); });
  int64_t carry = INT64_MIN, max_before = INT64_MIN;
  for (size_t k = 0; k < keys.size(); ++k) {
    if (k > 0 && keys[k].seq != keys[k - 1].seq) carry = max_before;
    const Fact& f = facts[keys[k].idx];
    if (f.ts_ms) carry = *f.ts_ms;
    keys[k].eff = carry;
    max_before = std::max(max_before, carry);
  }
  sort_by([](const Key& a, const Key& b) {
    return std::tie(a.eff, a.seq, a.line, a.idx) < std::tie(b.eff, b.seq, b.line, b.idx);
  });
  std::vector<size_t> order(facts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = keys[i].idx;
  tl.rank_.resize(facts.size());
  for (size_t i = 0; i < order.size(); ++i) tl.rank_[order[i]] = i;

  // Lines that name no host belong to the run's only named host, if there is
  // exactly one (a pasted esxcli prompt names it; the pasted log lines do not).
  std::set<std::string> named;
  for (const auto& f : facts)
    if (!f.host.empty()) named.insert(f.host);
  if (named.size() == 1)
    for (auto& f : facts)
      if (f.host.empty()) f.host = *named.begin();

  // Per host, with vmkwarning/vmkernel duplicates dropped.
  std::map<std::string, std::vector<const Fact*>> hosts;
  // The same line: host, rule, time text and field values (by a hash, then
  // compared; a fact kept is the first of its line in timeline order).
  auto line_hash = [](const Fact& f) {
    uint64_t h = hash_bytes(f.rule->id, hash_bytes(f.host, hash_bytes(f.ts_text)));
    for (const auto& [k, v] : f.fields) h = hash_bytes(v, h);
    return h;
  };
  auto same_line = [](const Fact& a, const Fact& b) {
    if (a.rule->id != b.rule->id || a.host != b.host || a.ts_text != b.ts_text || a.fields.size() != b.fields.size())
      return false;
    for (size_t k = 0; k < a.fields.size(); ++k)
      if (a.fields[k].second != b.fields[k].second) return false;
    return true;
  };
  auto kernel_line = [](const Fact& f) {
    return f.ts_ms && (f.kind == SourceKind::vmkernel || f.kind == SourceKind::vmkwarning);
  };
  // The hashes first, on two threads for many facts: reading each fact's
  // strings (out of cache by now) is most of this step.
  std::vector<uint64_t> hashes(facts.size());
  auto hash_range = [&](size_t from, size_t to) {
    for (size_t i = from; i < to; ++i)
      if (kernel_line(facts[i])) hashes[i] = line_hash(facts[i]);
  };
  std::thread other;
  if (facts.size() >= 8192 && std::thread::hardware_concurrency() > 1) {
    try {
      other = std::thread(hash_range, facts.size() / 2, facts.size());
    } catch (const std::system_error&) {  // no thread to be had: this one hashes all
    }
  }
  hash_range(0, other.joinable() ? facts.size() / 2 : facts.size());
  if (other.joinable()) other.join();
  // The lines kept, by hash: open addressing in one array (a node per fact
  // in a std::unordered_multimap cost more than the rest of the timeline).
  size_t slots = 16;
  while (slots < 2 * facts.size()) slots *= 2;
  std::vector<std::pair<uint64_t, const Fact*>> seen(slots, {0, nullptr});
  auto seen_before = [&](const Fact& f, uint64_t h) {
    for (size_t i = h & (slots - 1);; i = (i + 1) & (slots - 1)) {
      auto& e = seen[i];
      if (!e.second) {
        e = {h, &f};
        return false;
      }
      if (e.first == h && same_line(*e.second, f)) return true;
    }
  };
  std::vector<const Fact*>* list = nullptr;  // the last fact's host's (most facts name the same host)
  const std::string* list_host = nullptr;
  for (size_t i : order) {
    const Fact& f = facts[i];
    if (kernel_line(f) && seen_before(f, hashes[i])) continue;
    if (!list || *list_host != f.host) {
      auto it = hosts.try_emplace(f.host).first;
      list = &it->second, list_host = &it->first;
    }
    list->push_back(&f);
  }

  // Per host, the boot (and service) windows.
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
    tl.hosts.push_back(std::move(hr));
  }
  return tl;
}

std::string_view marker_name(Marker m) {
  switch (m) {
    case Marker::symptom: return "symptom";
    case Marker::unexplained: return "unexplained";
    case Marker::harmless: return "harmless";
    case Marker::success: return "success";
    case Marker::context: break;
  }
  return "context";
}

namespace {

// One lane per source; vmkwarning repeats vmkernel, pasted text has none.
constexpr std::string_view kLanes[] = {"vmkernel", "hostd", "vpxa", "vobd", "vpxd", "syslog",
                                       "esxcli",   "bmc",   "ui",   "psod", "pasted"};

constexpr size_t kLaneCount = std::size(kLanes);

// An index into kLanes.
size_t lane_of(SourceKind k) {
  if (k == SourceKind::vmkwarning) return 0;
  if (k != SourceKind::unknown)
    for (size_t i = 0; i < kLaneCount; ++i)
      if (kLanes[i] == kind_name(k)) return i;
  return kLaneCount - 1;  // pasted
}

Marker marker_of(const Fact& f) {
  if (f.rule->fallback) return Marker::unexplained;
  switch (f.rule->role) {
    case RuleRole::symptom: return Marker::symptom;
    case RuleRole::benign: return Marker::harmless;
    case RuleRole::success: return Marker::success;
    case RuleRole::context: break;
  }
  return Marker::context;
}

}  // namespace

std::vector<HostTimeline> timeline_view(const Report& r) {
  std::set<const Fact*> proof;
  for (const auto& f : r.findings) proof.insert(f.resolved_by.begin(), f.resolved_by.end());
  std::vector<HostTimeline> out;
  for (const auto& h : r.hosts) {
    HostTimeline ht{&h, nullptr, {}, {}};
    for (const auto& f : r.findings)
      if (f.host == h.host) {
        ht.top = &f;
        break;
      }
    std::set<const Fact*> top;
    if (ht.top) top.insert(ht.top->evidence.begin(), ht.top->evidence.end());
    bool used[kLaneCount] = {};
    for (const auto& b : h.boots) {
      BootTimeline bt{&b, {}};
      bt.lines.reserve(b.facts.size());
      for (const Fact* f : b.facts) {
        size_t lane = lane_of(f->kind);
        used[lane] = true;
        bt.lines.push_back({f, marker_of(*f), kLanes[lane], top.count(f) > 0, proof.count(f) > 0});
      }
      ht.boots.push_back(std::move(bt));
    }
    for (size_t i = 0; i < kLaneCount; ++i)
      if (used[i]) ht.lanes.push_back(kLanes[i]);
    out.push_back(std::move(ht));
  }
  return out;
}

}  // namespace tpmdiag
