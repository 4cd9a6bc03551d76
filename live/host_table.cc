#include "live/host_table.h"

#include <algorithm>
#include <functional>

namespace tpmdiag::live {

HostTable::HostTable(const std::vector<Cause>& causes, HostLimits limits)
    : causes_(causes), limits_(limits) {
  limits_.max_hosts = std::max<size_t>(limits_.max_hosts, 1);
  limits_.max_facts_per_host = std::max<size_t>(limits_.max_facts_per_host, 1);
}

void HostTable::add(Fact fact) {
  auto it = hosts_.find(fact.host);
  if (it == hosts_.end()) {
    if (hosts_.size() >= limits_.max_hosts) {
      const std::string victim = lru_.back();
      if (before_evict) before_evict(victim, dirty_set_.count(victim) > 0);
      auto v = hosts_.find(victim);
      facts_ -= v->second.facts.size();
      remember(victim, v->second.causes);
      if (dirty_set_.erase(victim))
        dirty_.erase(std::remove(dirty_.begin(), dirty_.end(), victim), dirty_.end());
      hosts_.erase(v);
      lru_.pop_back();
      ++evicted_hosts_;
    }
    it = hosts_.emplace(fact.host, Host{}).first;
    restore(fact.host, it->second.causes);
    lru_.push_front(fact.host);
    it->second.lru = lru_.begin();
  } else if (it->second.lru != lru_.begin()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  Host& h = it->second;
  if (h.facts.size() >= limits_.max_facts_per_host) {
    uint64_t gone = h.seq.front();
    h.facts.pop_front();
    h.seq.pop_front();
    --facts_;
    ++evicted_facts_;
    for (auto& [id, cs] : h.causes) cs.reported.erase(cs.reported.begin(), cs.reported.upper_bound(gone));
  }
  if (dirty_set_.insert(fact.host).second) dirty_.push_back(fact.host);
  h.facts.push_back(std::move(fact));
  h.seq.push_back(next_seq_++);
  ++facts_;
}

std::vector<std::string> HostTable::take_dirty() {
  dirty_set_.clear();
  return std::exchange(dirty_, {});
}

void HostTable::remember(const std::string& host, const std::map<std::string, CauseState, std::less<>>& causes) {
  std::vector<uint16_t> open;
  for (const auto& [id, cs] : causes)
    if (cs.open)
      for (size_t i = 0; i < causes_.size() && i <= UINT16_MAX; ++i)
        if (causes_[i].id == id) open.push_back(static_cast<uint16_t>(i));
  if (open.empty()) return;
  size_t cap = std::min(limits_.kRememberFactor * limits_.max_hosts, limits_.kRememberMax);
  while (evicted_.size() >= cap) {  // forget the longest evicted
    auto old = evicted_.find(evicted_order_.back());
    evicted_open_ -= old->second.open.size();
    evicted_.erase(old);
    evicted_order_.pop_back();
  }
  uint64_t key = std::hash<std::string>{}(host);
  evicted_order_.push_front(key);
  evicted_open_ += open.size();
  evicted_[key] = {evicted_order_.begin(), std::move(open)};
}

void HostTable::restore(const std::string& host, std::map<std::string, CauseState, std::less<>>& causes) {
  auto it = evicted_.find(std::hash<std::string>{}(host));
  if (it == evicted_.end()) return;
  for (uint16_t i : it->second.open) {
    CauseState& cs = causes[causes_[i].id];
    cs.open = cs.restored = true;
  }
  evicted_open_ -= it->second.open.size();
  evicted_order_.erase(it->second.order);
  evicted_.erase(it);
}

uint64_t HostTable::open_problems() const {
  uint64_t n = evicted_open_;
  for (const auto& [name, h] : hosts_)
    for (const auto& [id, cs] : h.causes) n += cs.open;
  return n;
}

HostUpdate HostTable::update(const std::string& host) {
  HostUpdate u;
  auto it = hosts_.find(host);
  if (it == hosts_.end()) return u;
  Host& h = it->second;
  std::vector<Fact> copy(h.facts.begin(), h.facts.end());
  u.report = diagnose(std::move(copy), causes_, limits_.diagnose);
  const Fact* base = u.report.facts.data();
  auto seq_of = [&](const Fact* f) { return h.seq[static_cast<size_t>(f - base)]; };

  // The host's open causes, best first (findings are sorted so), each once.
  std::vector<const Finding*> open;
  std::vector<std::string> ranking;
  for (const Finding& fd : u.report.findings)
    if (fd.status == FindingStatus::problem &&
        std::find(ranking.begin(), ranking.end(), fd.cause->id) == ranking.end()) {
      open.push_back(&fd);
      ranking.push_back(fd.cause->id);
    }
  auto rank_of = [&](const Finding& fd) {
    auto at = std::find(ranking.begin(), ranking.end(), fd.cause->id);
    return fd.status == FindingStatus::problem && at != ranking.end() ? static_cast<int>(at - ranking.begin()) + 1 : 0;
  };

  std::vector<Change> resolved;
  for (const Finding& fd : u.report.findings) {
    CauseState& cs = h.causes[fd.cause->id];
    bool seen = std::any_of(fd.evidence.begin(), fd.evidence.end(),
                            [&](const Fact* f) { return cs.reported.count(seq_of(f)) > 0; });
    if (!seen && !std::exchange(cs.restored, false)) {
      // New: report it (even when the same batch already shows it fixed,
      // so that a consumer sees the finding before its resolution).
      u.changes.push_back({Change::Kind::finding, fd, rank_of(fd), {}});
      cs.open = true;
    }
    for (const Fact* f : fd.evidence) cs.reported.insert(seq_of(f));
    if (fd.status == FindingStatus::resolved && cs.open) {
      resolved.push_back({Change::Kind::resolved, fd, 0, {}});
      cs.open = false;
    } else if (fd.status == FindingStatus::problem && !seen) {
      cs.open = true;
    }
  }
  for (auto& c : resolved) u.changes.push_back(std::move(c));
  // A ranking reported before that no longer holds: say so.
  if (ranking != h.ranking && !h.ranking.empty() && !ranking.empty())
    u.changes.push_back({Change::Kind::update, Finding{}, 0, open});
  if (!ranking.empty() || !h.ranking.empty()) h.ranking = std::move(ranking);
  return u;
}

}  // namespace tpmdiag::live
