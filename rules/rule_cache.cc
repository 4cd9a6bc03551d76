#include "rules/rule_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tpmdiag {

namespace {

// Bump when RuleAnalysis or how it is computed changes.
constexpr std::string_view kMagic = "tpmdiag-rule-cache 1 " TPMDIAG_VERSION "\n";

void put(std::string& out, char tag, std::string_view s) {
  out += tag;
  out += ' ';
  out += std::to_string(s.size());
  out += '\n';
  out += s;
  out += '\n';
}

// Reads what put() wrote; any surprise makes the whole file unusable.
struct Reader {
  std::string_view in;
  bool ok = true;

  bool at(char tag) const { return ok && !in.empty() && in.front() == tag; }
  long number() {
    long v = 0;
    auto [p, ec] = std::from_chars(in.data(), in.data() + in.size(), v);
    if (ec != std::errc() || v < 0) {
      ok = false;
      return 0;
    }
    in.remove_prefix(static_cast<size_t>(p - in.data()));
    return v;
  }
  void expect(char c) {
    if (in.empty() || in.front() != c) ok = false;
    else in.remove_prefix(1);
  }
  std::string take(char tag) {
    expect(tag);
    expect(' ');
    long n = number();
    expect('\n');
    if (!ok || in.size() < static_cast<size_t>(n) + 1) {
      ok = false;
      return {};
    }
    std::string s(in.substr(0, static_cast<size_t>(n)));
    in.remove_prefix(static_cast<size_t>(n));
    expect('\n');
    return s;
  }
};

// FNV-1a: names the file of one rule set.
uint64_t fnv(std::string_view s, uint64_t h = 14695981039346656037ull) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

std::string RuleCache::key(const Rule& r) {
  std::string k = r.pattern;
  for (const auto& l : r.literals) (k += '\0') += l;
  return k;
}

std::string RuleCache::default_dir() {
  if (const char* d = std::getenv("TPMDIAG_CACHE_DIR")) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x == '/') return std::string(x) + "/tpmdiag";
  if (const char* h = std::getenv("HOME"); h && *h == '/') return std::string(h) + "/.cache/tpmdiag";
  return {};
}

RuleCache RuleCache::open(const std::string& dir, const std::vector<Rule>& rules) {
  RuleCache c;
  if (dir.empty()) return c;
  uint64_t h = fnv(kMagic);
  struct stat self;
  if (::stat("/proc/self/exe", &self) != 0) return c;  // which binary wrote it is unknown: no cache
  for (uint64_t v : {static_cast<uint64_t>(self.st_size), static_cast<uint64_t>(self.st_mtim.tv_sec),
                     static_cast<uint64_t>(self.st_mtim.tv_nsec), static_cast<uint64_t>(self.st_ino)})
    h = fnv(std::string_view(reinterpret_cast<const char*>(&v), sizeof v), h);
  for (const auto& r : rules) h = fnv(key(r), fnv("\n", h));
  char name[40];
  std::snprintf(name, sizeof name, "/rules-%016llx", static_cast<unsigned long long>(h));
  c.path_ = dir + name;

  std::ifstream f(c.path_, std::ios::binary);
  if (!f) return c;
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  Reader rd{text};
  if (rd.in.substr(0, kMagic.size()) != kMagic) return c;
  rd.in.remove_prefix(kMagic.size());
  std::map<std::string, RuleAnalysis> entries;
  while (rd.at('K')) {
    std::string k = rd.take('K');
    RuleAnalysis a;
    rd.expect('C');
    rd.expect(' ');
    a.captures = static_cast<int>(rd.number());
    rd.expect('\n');
    while (rd.at('G')) {
      std::string name = rd.take('G');
      rd.expect('I');
      rd.expect(' ');
      int idx = static_cast<int>(rd.number());
      rd.expect('\n');
      a.groups.emplace_back(std::move(name), idx);
    }
    while (rd.at('R')) {
      rd.take('R');
      auto& req = a.reqs.emplace_back();
      while (rd.at('A')) req.push_back(rd.take('A'));
      if (req.empty()) rd.ok = false;
    }
    rd.expect('E');
    rd.expect('\n');
    if (!rd.ok) return c;
    entries.emplace(std::move(k), std::move(a));
  }
  if (!rd.ok || !rd.in.empty()) return c;  // a cut or damaged file: none of it
  c.entries_ = std::move(entries);
  return c;
}

const RuleAnalysis* RuleCache::find(const Rule& r) const {
  auto it = entries_.find(key(r));
  return it == entries_.end() ? nullptr : &it->second;
}

void RuleCache::add(const Rule& r, RuleAnalysis a) {
  if (path_.empty()) return;
  entries_.insert_or_assign(key(r), std::move(a));
  dirty_ = true;
}

void RuleCache::save() const {
  if (!dirty_ || path_.empty()) return;
  std::string out(kMagic);
  for (const auto& [k, a] : entries_) {
    put(out, 'K', k);
    out += "C " + std::to_string(a.captures) + "\n";
    for (const auto& [name, idx] : a.groups) {
      put(out, 'G', name);
      out += "I " + std::to_string(idx) + "\n";
    }
    for (const auto& req : a.reqs) {
      put(out, 'R', "");
      for (const auto& atom : req) put(out, 'A', atom);
    }
    out += "E\n";
  }
  std::error_code ec;
  const std::filesystem::path path(path_);
  std::filesystem::create_directories(path.parent_path(), ec);
  // A name of its own, then rename: readers see the old file or the new one.
  std::string tmp = path_ + ".tmp." + std::to_string(::getpid());
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
  if (ec) std::filesystem::remove(tmp, ec);
}

}  // namespace tpmdiag
