#include "rules/rule_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <functional>
#include <map>

#include "common/hash.h"
#include "parsers/mapped.h"

namespace tpmdiag {

namespace {

// Bump when Rule, RuleAnalysis, the encoding or how an analysis is computed
// changes (the binary's stat in the key covers rebuilds, not a copied binary).
constexpr std::string_view kMagic = "tpmdiag-rule-set 2 " TPMDIAG_VERSION "\n";

// Numbers in this machine's order (the key names the binary that wrote
// them), strings and lists after their u32 length.
struct Writer {
  std::string out;
  bool ok = true;

  template <typename T>
  void num(T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void size(size_t n) {
    if (n > std::numeric_limits<uint32_t>::max()) ok = false;
    num(static_cast<uint32_t>(n));
  }
  void str(std::string_view s) {
    size(s.size());
    out += s;
  }
  void strs(const std::vector<std::string>& v) {
    size(v.size());
    for (const auto& s : v) str(s);
  }
  void lists(const std::map<std::string, std::vector<std::string>>& m) {
    size(m.size());
    for (const auto& [k, v] : m) {
      str(k);
      strs(v);
    }
  }
};

// Reads what Writer wrote; any surprise (a length past the end, a value out
// of range, bytes left over) makes the whole file unusable.
struct Reader {
  std::string_view in;
  bool ok = true;

  template <typename T>
  T num() {
    T v{};
    if (in.size() < sizeof v) {
      ok = false;
      return v;
    }
    std::memcpy(&v, in.data(), sizeof v);
    in.remove_prefix(sizeof v);
    return v;
  }
  // A count of items of at least `least` bytes each: never more than the
  // bytes left can hold, so a damaged count cannot make a huge reserve.
  size_t count(size_t least) {
    size_t n = num<uint32_t>();
    if (n > in.size() / least) ok = false;
    return ok ? n : 0;
  }
  std::string str() {
    size_t n = count(1);
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
  void skip_str() { in.remove_prefix(count(1)); }
  void strs(std::vector<std::string>& v) {
    size_t n = count(sizeof(uint32_t));
    v.reserve(n);
    for (size_t i = 0; i < n && ok; ++i) v.push_back(str());
  }
  // The next key of a map, which Writer wrote in order: a key out of order
  // or repeated is a file Writer did not write.
  template <typename M>
  typename M::iterator key(M& m) {
    std::string k = str();
    if (!m.empty() && !(m.rbegin()->first < k)) ok = false;
    return m.emplace_hint(m.end(), std::move(k), typename M::mapped_type{});
  }
  void lists(std::map<std::string, std::vector<std::string>>& m) {
    for (size_t i = 0, n = count(2 * sizeof(uint32_t)); i < n && ok; ++i) strs(key(m)->second);
  }
  // An enum written as its byte, checked by `valid`.
  template <typename E, typename F>
  E byte(F valid) {
    auto v = static_cast<E>(num<uint8_t>());
    if (!valid(v)) ok = false;
    return v;
  }
};

void put_rule(Writer& w, const Rule& r, const RuleAnalysis& a) {
  w.str(r.id);
  w.str(r.title);
  w.str(r.file);
  w.size(r.sources.size());
  for (SourceKind k : r.sources) w.num(static_cast<uint8_t>(k));
  w.str(r.pattern);
  w.strs(r.literals);
  w.str(r.fact);
  w.num(static_cast<uint8_t>(r.severity));
  w.num(static_cast<uint8_t>(r.role));
  w.num(static_cast<uint8_t>(r.window));
  w.num(static_cast<uint8_t>(r.fallback));
  w.str(r.meaning);
  w.lists(r.when);
  w.lists(r.unless);
  w.size(r.match_samples.size());
  for (const auto& s : r.match_samples) {
    w.str(s.line);
    w.size(s.captures.size());
    for (const auto& [k, v] : s.captures) {
      w.str(k);
      w.str(v);
    }
  }
  w.strs(r.nomatch_samples);
  w.num(static_cast<int32_t>(a.captures));
  w.size(a.groups.size());
  for (const auto& [name, idx] : a.groups) {
    w.str(name);
    w.num(static_cast<int32_t>(idx));
  }
  w.size(a.reqs.size());
  for (const auto& req : a.reqs) w.strs(req);
}

// The byte values that name a log kind (parsers/event.h): those a name maps back to.
bool valid_kind(SourceKind k) {
  static const std::array<bool, 256> valid = [] {
    std::array<bool, 256> v{};
    for (unsigned b = 0; b < v.size(); ++b) {
      auto k = static_cast<SourceKind>(b);
      v[b] = kind_from_name(kind_name(k)) == k;
    }
    return v;
  }();
  return valid[static_cast<uint8_t>(k)];
}

// samples=false skips the rule's samples (only `rules test` reads them).
void get_rule(Reader& rd, Rule& r, RuleAnalysis& a, bool samples) {
  r.id = rd.str();
  r.title = rd.str();
  r.file = rd.str();
  size_t n_sources = rd.count(1);
  r.sources.reserve(n_sources);
  for (size_t i = 0; i < n_sources && rd.ok; ++i) r.sources.push_back(rd.byte<SourceKind>(valid_kind));
  r.pattern = rd.str();
  rd.strs(r.literals);
  r.fact = rd.str();
  r.severity = rd.byte<Severity>(
      [](Severity s) { return s != Severity::none && severity_from_name(severity_name(s)) == s; });
  r.role = rd.byte<RuleRole>([](RuleRole x) { return x <= RuleRole::success; });
  r.window = rd.byte<WindowMark>([](WindowMark x) { return x <= WindowMark::service; });
  r.fallback = rd.byte<uint8_t>([](uint8_t b) { return b <= 1; }) != 0;
  r.meaning = rd.str();
  rd.lists(r.when);
  rd.lists(r.unless);
  size_t n_samples = rd.count(2 * sizeof(uint32_t));
  if (samples) r.match_samples.reserve(n_samples);
  for (size_t i = 0; i < n_samples && rd.ok; ++i) {
    if (!samples) {
      rd.skip_str();
      for (size_t j = 0, m = rd.count(2 * sizeof(uint32_t)); j < m && rd.ok; ++j) rd.skip_str(), rd.skip_str();
      continue;
    }
    RuleSample& s = r.match_samples.emplace_back();
    s.line = rd.str();
    for (size_t j = 0, m = rd.count(2 * sizeof(uint32_t)); j < m && rd.ok; ++j) {
      auto it = rd.key(s.captures);  // the key first: `x = y` reads y first
      it->second = rd.str();
    }
  }
  if (samples) {
    rd.strs(r.nomatch_samples);
  } else {
    for (size_t i = 0, m = rd.count(sizeof(uint32_t)); i < m && rd.ok; ++i) rd.skip_str();
  }
  a.captures = rd.num<int32_t>();
  if (a.captures < 0) rd.ok = false;
  size_t n_groups = rd.count(2 * sizeof(uint32_t));
  a.groups.reserve(n_groups);
  for (size_t i = 0; i < n_groups && rd.ok; ++i) {
    std::string name = rd.str();
    int idx = rd.num<int32_t>();
    if (idx < 0) rd.ok = false;
    a.groups.emplace_back(std::move(name), idx);
  }
  size_t n_reqs = rd.count(sizeof(uint32_t));
  a.reqs.reserve(n_reqs);
  for (size_t i = 0; i < n_reqs && rd.ok; ++i) {
    auto& req = a.reqs.emplace_back();
    rd.strs(req);
    if (req.empty()) rd.ok = false;  // a requirement names at least one atom
    for (const auto& atom : req)
      if (atom.empty()) rd.ok = false;
  }
}

template <typename T>
uint64_t hash_value(const T& v, uint64_t h) {
  return hash_bytes(std::string_view(reinterpret_cast<const char*>(&v), sizeof v), h);
}

// The key of a rule set: the files and the binary that reads them. A file
// from a directory counts by its stat (its bytes are not read for it), an
// embedded one by its bytes (at hand).
uint64_t set_key(const std::vector<DataFile>& files, const struct stat& self) {
  uint64_t h = hash_bytes(kMagic);
  for (uint64_t v : {static_cast<uint64_t>(self.st_size), static_cast<uint64_t>(self.st_mtim.tv_sec),
                     static_cast<uint64_t>(self.st_mtim.tv_nsec), static_cast<uint64_t>(self.st_ino)})
    h = hash_value(v, h);
  for (const auto& f : files) {
    h = hash_value(f.on_disk, hash_bytes(f.path, h));
    h = f.on_disk ? hash_value(f.stamp, h) : hash_bytes(f.text, h);
  }
  return h;
}

// Changed this close to the time its stat was taken for a cache (or after
// it), a file may change again within the same tick of its file system's
// clock (a second on some, two on FAT) and keep its stat: only its bytes
// tell. Git calls such an index entry "racily clean".
constexpr int64_t kRacyNs = 3'000'000'000;

bool racy(const std::vector<DataFile>& files, int64_t at_ns) {
  for (const auto& f : files)
    if (f.on_disk && std::max(f.stamp.mtime_ns, f.stamp.ctime_ns) > at_ns - kRacyNs) return true;
  return false;
}

int64_t now_ns() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

std::string RuleCache::default_dir() {
  if (const char* d = std::getenv("TPMDIAG_CACHE_DIR")) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x == '/') return std::string(x) + "/tpmdiag";
  if (const char* h = std::getenv("HOME"); h && *h == '/') return std::string(h) + "/.cache/tpmdiag";
  return {};
}

uint64_t RuleCache::files_hash(const std::vector<DataFile>& files) {
  uint64_t h = 0;
  for (const auto& f : files) h = hash_bytes(f.text, hash_bytes(f.path, h));
  return h;
}

std::string RuleCache::encode(uint64_t key, const std::vector<Rule>& rules, const std::vector<RuleAnalysis>& analyses,
                              Written written) {
  if (rules.size() != analyses.size()) return {};
  Writer w;
  w.num(written.at_ns);
  w.num(written.files_hash);
  w.size(rules.size());
  for (size_t i = 0; i < rules.size(); ++i) put_rule(w, rules[i], analyses[i]);
  if (!w.ok) return {};
  Writer head;
  head.out = kMagic;
  head.num(key);
  head.num(hash_bytes(w.out));
  return head.out + w.out;
}

bool RuleCache::decode(std::string_view bytes, uint64_t key, std::vector<Rule>& rules,
                       std::vector<RuleAnalysis>& analyses, bool samples, Written* written) {
  rules.clear();
  analyses.clear();
  if (bytes.substr(0, kMagic.size()) != kMagic) return false;
  Reader rd{bytes.substr(kMagic.size())};
  if (rd.num<uint64_t>() != key || !rd.ok) return false;
  // A byte changed inside a string would still decode: the sum finds it.
  const auto sum = rd.num<uint64_t>();
  if (!rd.ok || sum != hash_bytes(rd.in)) return false;
  Written w;
  w.at_ns = rd.num<int64_t>();
  w.files_hash = rd.num<uint64_t>();
  // A rule takes at least its 14 lengths and 4 bytes.
  const size_t n = rd.count(14 * sizeof(uint32_t) + 4);
  rules.resize(n);
  analyses.resize(n);
  for (size_t i = 0; i < n && rd.ok; ++i) get_rule(rd, rules[i], analyses[i], samples);
  if (rd.ok && rd.in.empty()) {
    if (written) *written = w;
    return true;
  }
  rules.clear();  // a cut or damaged file: none of it
  analyses.clear();
  return false;
}

RuleCache RuleCache::open(const std::string& dir, std::vector<DataFile>& files, bool samples) {
  RuleCache c;
  if (dir.empty()) return c;
  struct stat self;
  if (::stat("/proc/self/exe", &self) != 0) return c;  // which binary wrote it is unknown: no cache
  // The cache's time: that of the oldest stat, so that a file changed
  // after it was stat'ed is racy for a cache written now.
  c.at_ns_ = now_ns();
  for (const auto& f : files)
    if (f.on_disk) c.at_ns_ = std::min(c.at_ns_, f.stat_ns);
  c.key_ = set_key(files, self);
  char name[40];
  std::snprintf(name, sizeof name, "/rules-%016llx", static_cast<unsigned long long>(c.key_));
  c.path_ = dir + name;
  // Mapped, not read: decoded where it lies. Writers rename a whole file
  // into place; one cut meanwhile (SIGBUS guarded by MappedFile) is not used.
  int fd = ::open(c.path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return c;
  // Only a file of this user's: in a folder others can write (a shared
  // TPMDIAG_CACHE_DIR), theirs could hold any rules.
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_uid != ::geteuid()) {
    ::close(fd);
    return c;
  }
  auto mapped = MappedFile::open(fd, c.path_);
  ::close(fd);
  if (!mapped) return c;
  const MappedFile& m = **mapped;
  const std::string_view bytes(m.data(), m.size());
  Written w;
  c.hit_ = decode(bytes, c.key_, c.rules_, c.analyses_, samples, &w) && !m.shrank();
  if (c.hit_ && racy(files, w.at_ns)) {
    // The stats match but may hide a change: the bytes decide.
    c.hit_ = read_data_files(files).ok() && files_hash(files) == w.files_hash && !m.shrank();
    // Settled since: written again with this run's time, the next run
    // trusts the stats.
    if (c.hit_ && !racy(files, c.at_ns_)) c.restamp_ = std::string(bytes);
  }
  if (c.hit_) {
    c.files_hash_ = w.files_hash;
  } else {
    c.rules_.clear();
    c.analyses_.clear();
  }
  return c;
}

Result<std::vector<Rule>> RuleCache::rules(std::vector<DataFile>& files) {
  if (hit_ && !taken_) {
    taken_ = true;
    return std::move(rules_);
  }
  hit_ = false;
  if (auto s = read_data_files(files); !s) return s.error();
  files_hash_ = files_hash(files);
  auto parsed = load_rules(files);
  if (parsed && !path_.empty()) {
    rules_ = *parsed;
    analyses_.assign(rules_.size(), RuleAnalysis{});
    added_.assign(rules_.size(), false);
  }
  return parsed;
}

bool RuleCache::take(size_t i, RuleAnalysis& out) {
  if (!hit_ || i >= analyses_.size()) return false;
  out = std::move(analyses_[i]);
  return true;
}

void RuleCache::add(size_t i, RuleAnalysis a) {
  if (hit_ || i >= added_.size()) return;
  analyses_[i] = std::move(a);
  added_[i] = true;
}

void RuleCache::save() const {
  std::string out;
  if (hit_) {
    if (restamp_.empty()) return;
    // The same file but for its time (and so its sum).
    out = restamp_;
    const size_t head = kMagic.size() + sizeof key_, sum_at = head, body = head + sizeof(uint64_t);
    std::memcpy(out.data() + body, &at_ns_, sizeof at_ns_);
    const uint64_t sum = hash_bytes(std::string_view(out).substr(body));
    std::memcpy(out.data() + sum_at, &sum, sizeof sum);
  } else {
    if (path_.empty() || added_.empty()) return;
    for (bool a : added_)
      if (!a) return;
    out = encode(key_, rules_, analyses_, {at_ns_, files_hash_});
    if (out.empty()) return;
  }
  std::error_code ec;
  const std::filesystem::path path(path_);
  std::filesystem::create_directories(path.parent_path(), ec);
  // A name of its own, then rename: readers see the old file or the new one.
  // (Engines loading on two threads of one process write two names.)
  static std::atomic<unsigned> serial{0};
  std::string tmp = path_ + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(serial++);
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return;
    f.write(out.data(), static_cast<std::streamsize>(out.size()));
    if (!f.flush()) {
      f.close();
      std::filesystem::remove(tmp, ec);
      return;
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return;
  }
  if (!hit_) prune(path.parent_path().string());
}

// Each rule set and each build of tpmdiag writes a file of its own: without
// pruning, the folder would grow with every upgrade and every --rules folder
// ever used. The newest kKeep cache files stay (a rule set in use is written
// again after it was pruned: one run pays); a half-written file whose writer
// is gone for ten minutes goes. Only this user's regular files named as the
// cache names them are touched.
void RuleCache::prune(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  const uid_t me = ::geteuid();
  const int64_t now = now_ns();
  std::vector<std::pair<int64_t, std::string>> caches;  // (mtime, name)
  while (const dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    bool cache = is_cache_name(name), tmp = !cache && name.substr(0, 6) == "rules-" && name.find(".tmp.") != name.npos;
    if (!cache && !tmp) continue;
    struct stat st;
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) || st.st_uid != me)
      continue;
    int64_t mtime = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
    if (cache) caches.emplace_back(mtime, std::string(name));
    else if (now - mtime > kStaleTmpNs) ::unlinkat(::dirfd(d), e->d_name, 0);
  }
  if (caches.size() > kKeep) {
    std::sort(caches.begin(), caches.end(), std::greater<>());
    for (size_t i = kKeep; i < caches.size(); ++i) ::unlinkat(::dirfd(d), caches[i].second.c_str(), 0);
  }
  ::closedir(d);
}

bool RuleCache::is_cache_name(std::string_view name) {
  if (name.size() != 6 + 16 || name.substr(0, 6) != "rules-") return false;
  return std::all_of(name.begin() + 6, name.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace tpmdiag
