// Start-up paths (issue 21): a matcher built from the rule cache (the rules
// as parsed, no JSON read) compiles each rule when a line first reaches it,
// and inputs too small for the literal databases find their atoms by a plain
// search. Both must find exactly what the reference path (every rule on every
// line) finds, and the cache must hand back exactly the rules of the files.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <thread>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/run.h"
#include "support.h"
#include "rules/rule_cache.h"

using namespace tpmdiag;
using tpmdiag::testing::fact_keys;

namespace {

enum class Path { reference, small, prefiltered };

Report run(const Engine& e, const std::vector<std::string>& paths, Path p) {
  RunOptions o;
  o.scan.prefilter = p != Path::reference;
  o.scan.force_prefilter = p == Path::prefiltered;
  return run_inputs(e, paths, o);
}

// A cache folder of the test's own, used by Engine::load while it lives.
struct CacheDir {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("tpmdiag-cache-" + std::to_string(::getpid()));
  CacheDir() {
    std::filesystem::remove_all(dir);
    ::setenv("TPMDIAG_CACHE_DIR", dir.c_str(), 1);
  }
  ~CacheDir() {
    ::unsetenv("TPMDIAG_CACHE_DIR");
    std::filesystem::remove_all(dir);
  }
  std::vector<std::filesystem::path> files() const {
    std::vector<std::filesystem::path> out;
    if (std::filesystem::exists(dir))
      for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path());
    return out;
  }
};

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> sample_dirs() {
  std::vector<std::string> dirs;
  for (const auto& entry : std::filesystem::directory_iterator(TPMDIAG_SOURCE_DIR "/samples"))
    if (entry.is_directory()) dirs.push_back(entry.path().string());
  return dirs;
}

// Every rule's sample lines, and a copy of each in other letter case: each
// rule meets lines of its own.
std::string rule_lines(const Engine& e) {
  std::string text;
  for (const auto& rule : e.matcher().rules()) {
    for (const auto& s : rule.match_samples) text += s.line + "\n" + ascii_lower(s.line) + "\n";
    for (const auto& s : rule.nomatch_samples) text += s + "\n";
  }
  return text;
}

}  // namespace

TEST_CASE("a matcher from the rule cache compiles rules on first use and finds what one compiled at load does",
          "[startup][differential]") {
  CacheDir cache;
  auto cold = Engine::load({});  // compiles every rule, and writes the cache
  REQUIRE(cold.ok());
  const Matcher& cm = (*cold)->matcher();
  REQUIRE(cm.compiled_rules() == cm.rules().size());
  REQUIRE(cache.files().size() == 1);

  auto warm = Engine::load({});
  REQUIRE(warm.ok());
  const Matcher& wm = (*warm)->matcher();
  CHECK(wm.compiled_rules() == 0);  // nothing compiled before a line needs it
  CHECK(wm.rules() == cm.rules());  // no JSON read: the cached rules, each field as parsed
  CHECK(wm.requirements() == cm.requirements());
  CHECK(wm.atoms() == cm.atoms());

  auto dirs = sample_dirs();
  REQUIRE(!dirs.empty());
  for (const auto& d : dirs) {
    INFO(d);
    auto want = fact_keys(run(**cold, {d}, Path::reference));
    CHECK(fact_keys(run(**warm, {d}, Path::small)) == want);
    CHECK(fact_keys(run(**cold, {d}, Path::small)) == want);
    CHECK(fact_keys(run(**warm, {d}, Path::prefiltered)) == want);
  }
  // The samples reach only some rules: the others were never compiled.
  CHECK(wm.compiled_rules() > 0);
  CHECK(wm.compiled_rules() < wm.rules().size());

  // Every rule's own lines, on the small path of the warm engine: all
  // compiled on the way, facts as the reference's.
  auto file = (cache.dir / "rules.log").string();
  std::ofstream(file, std::ios::binary) << rule_lines(**cold);
  auto want = run(**cold, {file}, Path::reference);
  CHECK(!want.facts.empty());
  CHECK(fact_keys(run(**warm, {file}, Path::small)) == fact_keys(want));
  CHECK(fact_keys(run(**warm, {file}, Path::prefiltered)) == fact_keys(want));
}

TEST_CASE("a damaged, cut or stale rule cache is ignored and rewritten", "[startup]") {
  CacheDir cache;
  auto first = Engine::load({});
  REQUIRE(first.ok());
  const std::vector<Rule>& want = (*first)->matcher().rules();
  auto files = cache.files();
  REQUIRE(files.size() == 1);
  const auto path = files.front();
  const std::string whole = read_file(path);
  REQUIRE(whole.size() > 100);
  // Where the body starts: after the first line (magic), the key and the
  // sum; the rules after its time and files' hash.
  const size_t body = whole.find('\n') + 1 + 16;
  auto flipped = [&](size_t at) {
    std::string s = whole;
    s[at] = static_cast<char>(s[at] ^ 0x20);
    return s;
  };
  auto stale = [&] {  // another rule set's key: the file of other rule files
    std::string s = whole;
    s[body - 16] = static_cast<char>(s[body - 16] ^ 1);
    return s;
  };
  const std::vector<std::pair<const char*, std::string>> damaged = {
      {"cut", whole.substr(0, whole.size() / 2)},
      {"one byte short", whole.substr(0, whole.size() - 1)},
      {"one byte more", whole + "x"},
      {"garbage", std::string(whole.size(), '\x7f')},
      {"a rule count too large", std::string(whole).replace(body + 16, 4, "\xff\xff\xff\x7f", 4)},
      {"a letter changed in a rule", flipped(whole.size() / 2)},
      {"a letter changed in the last rule", flipped(whole.size() - 20)},
      {"another key", stale()},
      {"another format", "tpmdiag-rule-cache 1 " TPMDIAG_VERSION "\nK 3\nabc\n"},
      {"empty", ""},
  };
  for (const auto& [what, text] : damaged) {
    INFO(what);
    REQUIRE(text != whole);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    auto e = Engine::load({});
    REQUIRE(e.ok());
    // Nothing taken from the damaged file: every rule parsed and compiled at load.
    CHECK((*e)->matcher().compiled_rules() == (*e)->matcher().rules().size());
    CHECK((*e)->matcher().rules() == want);
    // Rewritten: the same but for its time (and so its sum).
    const std::string again = read_file(path);
    CHECK(again.substr(0, body - 8) == whole.substr(0, body - 8));
    CHECK(again.substr(body + 8) == whole.substr(body + 8));
  }
}

TEST_CASE("a rule cache file of another user's is not used", "[startup]") {
  if (::geteuid() != 0) return;  // only root can give a file away
  CacheDir cache;
  REQUIRE(Engine::load({}).ok());
  auto files = cache.files();
  REQUIRE(files.size() == 1);
  REQUIRE(::chown(files.front().c_str(), 4242, 4242) == 0);
  auto e = Engine::load({});
  REQUIRE(e.ok());
  CHECK((*e)->matcher().compiled_rules() == (*e)->matcher().rules().size());
  auto again = Engine::load({});  // rewritten, ours again
  REQUIRE(again.ok());
  CHECK((*again)->matcher().compiled_rules() == 0);
}

TEST_CASE("engines loading at once share the rule cache safely", "[startup]") {
  CacheDir cache;
  const auto want = tpmdiag::testing::shared_engine().matcher().rules();
  for (int round = 0; round < 3; ++round) {
    std::vector<std::thread> threads;
    std::atomic<int> good{0};
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&] {
        auto e = Engine::load({});
        if (e.ok() && (*e)->matcher().rules() == want) ++good;
      });
    for (auto& t : threads) t.join();
    CHECK(good == 4);
    std::set<std::string> names;
    for (const auto& f : cache.files()) names.insert(f.filename().string());
    CHECK(names.size() == 1);  // no temporary file left
  }
  auto e = Engine::load({});
  REQUIRE(e.ok());
  CHECK((*e)->matcher().compiled_rules() == 0);
}

TEST_CASE("a cached rule set is the files' rules, and serves only the same files", "[startup]") {
  CacheDir cache;
  auto files = collect_data_files("rules/", {});
  REQUIRE(files.ok());
  auto parsed = load_rules(*files);
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() > 20);
  // Analyses that differ rule by rule, to see each come back to its rule.
  auto analysis = [](size_t i) {
    return RuleAnalysis{static_cast<int>(i % 7), {{"g" + std::to_string(i), 1}}, {{"atom" + std::to_string(i)}}};
  };
  {
    auto rc = RuleCache::open(cache.dir.string(), *files);
    CHECK(!rc.hit());
    auto rules = rc.rules(*files);
    REQUIRE(rules.ok());
    CHECK(*rules == *parsed);
    RuleAnalysis a;
    CHECK(!rc.take(0, a));
    for (size_t i = 0; i + 1 < rules->size(); ++i) rc.add(i, analysis(i));
    rc.save();  // one rule without its analysis: nothing written
    CHECK(cache.files().empty());
    rc.add(rules->size() - 1, analysis(rules->size() - 1));
    rc.save();
    CHECK(cache.files().size() == 1);
  }
  {
    auto rc = RuleCache::open(cache.dir.string(), *files);
    CHECK(rc.hit());
    auto rules = rc.rules(*files);
    REQUIRE(rules.ok());
    CHECK(*rules == *parsed);
    for (size_t i = 0; i < rules->size(); ++i) {
      RuleAnalysis a;
      REQUIRE(rc.take(i, a));
      CHECK(a == analysis(i));
    }
    RuleAnalysis a;
    CHECK(!rc.take(rules->size(), a));
  }
  {
    // Without samples: the same rules but for their samples, the same analyses.
    auto rc = RuleCache::open(cache.dir.string(), *files, false);
    CHECK(rc.hit());
    auto rules = rc.rules(*files);
    REQUIRE(rules.ok());
    REQUIRE(rules->size() == parsed->size());
    size_t had_samples = 0;
    for (size_t i = 0; i < rules->size(); ++i) {
      Rule want = (*parsed)[i];
      had_samples += !want.match_samples.empty() || !want.nomatch_samples.empty();
      want.match_samples.clear();
      want.nomatch_samples.clear();
      CHECK((*rules)[i] == want);
      RuleAnalysis a;
      REQUIRE(rc.take(i, a));
      CHECK(a == analysis(i));
    }
    CHECK(had_samples > 20);
  }
  // Other files read another cache file: one letter of a rule's meaning, a
  // file's name, one file more or less.
  auto changed = *files;
  auto& text = changed.front().text;
  const size_t at = text.find("\"meaning\": \"") + 12;
  REQUIRE(at > 12);
  text[at] = text[at] == 'x' ? 'y' : 'x';
  auto renamed = *files;
  renamed.back().path += ".json";
  auto fewer = *files;
  fewer.pop_back();
  auto more = *files;
  more.push_back(more.front());
  more.back().path = "extra/" + more.back().path;
  for (auto other : {changed, renamed, fewer, more}) {
    auto rc = RuleCache::open(cache.dir.string(), other);
    CHECK(!rc.hit());
    auto rules = rc.rules(other);
    REQUIRE(rules.ok());
    CHECK(*rules == *load_rules(other));
  }
  // No folder: nothing found, nothing written.
  auto none = RuleCache::open("", *files);
  CHECK(none.rules(*files).ok());
  none.add(0, RuleAnalysis{});
  none.save();
  CHECK(!none.hit());
}

TEST_CASE("the rule cache's bytes decode to what was encoded, and only whole", "[startup]") {
  const auto& rules = tpmdiag::testing::shared_engine().matcher().rules();
  std::vector<RuleAnalysis> analyses(rules.size());
  for (size_t i = 0; i < rules.size(); ++i) analyses[i] = {static_cast<int>(i % 5), {{"n", 1}}, {{"x"}, {"y", "z"}}};
  const std::string bytes = RuleCache::encode(42, rules, analyses);
  std::vector<Rule> r;
  std::vector<RuleAnalysis> a;
  REQUIRE(RuleCache::decode(bytes, 42, r, a));
  CHECK(r == rules);
  CHECK(a == analyses);
  CHECK(!RuleCache::decode(bytes, 43, r, a));
  CHECK((r.empty() && a.empty()));
  // Every cut fails (a sample of them: the file is large).
  for (size_t n = 0; n < bytes.size(); n += 1 + n / 8) {
    INFO(n);
    CHECK(!RuleCache::decode(std::string_view(bytes).substr(0, n), 42, r, a));
  }
}

namespace {

// A --rules file of one rule matching `word`: the same size for words of
// the same length.
std::string probe_rules(const std::string& word) {
  return R"({"family": "extra", "rules": [{"id": "extra.probe", "title": "probe", "source": ["hostd"],
               "pattern": ")" + word + R"(", "fact": "tpm_manager_created", "severity": "info",
               "role": "context", "meaning": "m",
               "samples": {"match": ["x )" + word + R"("], "nomatch": ["nothing"]}}]})";
}

std::string probe_pattern(const std::vector<Rule>& rules) {
  for (const auto& r : rules)
    if (r.id == "extra.probe") return r.pattern;
  return {};
}

// The time a rule cache file says it was written, set to `at` when given.
int64_t cache_written_at(const std::filesystem::path& file, std::optional<int64_t> at = std::nullopt) {
  const uint64_t key = std::stoull(file.filename().string().substr(6), nullptr, 16);  // "rules-<key>"
  std::vector<Rule> r;
  std::vector<RuleAnalysis> a;
  RuleCache::Written w;
  REQUIRE(RuleCache::decode(read_file(file), key, r, a, true, &w));
  if (at) {
    w.at_ns = *at;
    std::ofstream(file, std::ios::binary | std::ios::trunc) << RuleCache::encode(key, r, a, w);
  }
  return w.at_ns;
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// A --rules folder whose file changes between runs: the second run must see
// the change, not the first run's cached rules.
TEST_CASE("a rule file changed between runs is read again, not taken from the cache", "[startup][differential]") {
  CacheDir cache;
  const auto dir = cache.dir / "rules";
  std::filesystem::create_directories(dir);
  auto write_rule = [&](const std::string& pattern) {
    std::ofstream(dir / "extra.json", std::ios::binary | std::ios::trunc) << probe_rules(pattern);
  };
  const auto log = (cache.dir / "probe.log").string();
  std::ofstream(log, std::ios::binary)
      << "2021-10-29T19:41:29.231Z info hostd[2099349] [Originator@6876 sub=Hostsvc] ProbeAlpha seen\n"
         "2021-10-29T19:41:30.231Z info hostd[2099349] [Originator@6876 sub=Hostsvc] ProbeBravo seen\n";
  EngineOptions o;
  o.rules_dirs = {dir.string()};
  auto probe_lines = [&](const Engine& e, Path p) {
    std::set<uint64_t> lines;
    for (const auto& f : run(e, {log}, p).facts)
      if (f.rule->id == "extra.probe") lines.insert(f.line);
    return lines;
  };
  for (const auto& [pattern, line] : {std::pair{"ProbeAlpha", 1}, std::pair{"ProbeBravo", 2}}) {
    INFO(pattern);
    write_rule(pattern);
    for (int round = 0; round < 2; ++round) {  // the second run reads its own cache
      auto e = Engine::load(o);
      REQUIRE(e.ok());
      const Matcher& m = (*e)->matcher();
      CHECK(m.compiled_rules() == (round == 0 ? m.rules().size() : 0));
      auto uncached = load_rules(*collect_data_files("rules/", o.rules_dirs));
      REQUIRE(uncached.ok());
      for (Rule& r : *uncached)  // as Matcher::build completes them
        if (r.fallback && r.literals.empty()) r.literals = m.lexicon()->prefilter_terms();
      CHECK(m.rules() == *uncached);
      const std::set<uint64_t> want = {static_cast<uint64_t>(line)};
      CHECK(probe_lines(**e, Path::reference) == want);
      CHECK(probe_lines(**e, Path::small) == want);
      CHECK(probe_lines(**e, Path::prefiltered) == want);
    }
  }
}

// A cached run reads no --rules file (the cache is keyed by their stat): a
// file rewritten at once to the same size, its mtime set back, must still
// be seen (its ctime changed; and, changed so recently, it is racy and its
// bytes are compared).
TEST_CASE("a rule file rewritten to the same size and mtime is read again", "[startup][differential]") {
  CacheDir cache;
  const auto dir = cache.dir / "rules";
  std::filesystem::create_directories(dir);
  const auto path = dir / "extra.json";
  std::ofstream(path, std::ios::binary) << probe_rules("ProbeAlpha");
  struct stat before;
  REQUIRE(::stat(path.c_str(), &before) == 0);
  EngineOptions o;
  o.rules_dirs = {dir.string()};
  auto first = Engine::load(o);  // writes the cache
  REQUIRE(first.ok());
  auto second = Engine::load(o);
  REQUIRE(second.ok());
  CHECK((*second)->matcher().compiled_rules() == 0);  // cached
  CHECK(probe_pattern((*second)->matcher().rules()) == "ProbeAlpha");
  // The knowledge named in reports: the same cached or not.
  CHECK((*second)->knowledge() == (*first)->knowledge());
  EngineOptions uncached = o;
  uncached.rule_cache = false;
  CHECK((*Engine::load(uncached))->knowledge() == (*first)->knowledge());

  std::ofstream(path, std::ios::binary | std::ios::trunc) << probe_rules("ProbeBravo");
  const struct timespec times[2] = {before.st_atim, before.st_mtim};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
  struct stat after;
  REQUIRE(::stat(path.c_str(), &after) == 0);
  REQUIRE(after.st_size == before.st_size);
  REQUIRE(after.st_mtim.tv_sec == before.st_mtim.tv_sec);
  REQUIRE(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
  auto e = Engine::load(o);
  REQUIRE(e.ok());
  const Matcher& m = (*e)->matcher();
  CHECK(m.compiled_rules() == m.rules().size());  // parsed, not cached
  CHECK(probe_pattern(m.rules()) == "ProbeBravo");
  CHECK((*e)->knowledge() != (*first)->knowledge());
  CHECK((*e)->knowledge() == (*Engine::load(uncached))->knowledge());
}

// The rule cache with the files' stats made up (long ago), and its own time
// set to make them racy: what stats alone decide, and what the bytes do.
TEST_CASE("the rule cache trusts unchanged stats, and the files' bytes when they are racy", "[startup]") {
  CacheDir cache;
  const auto dir = cache.dir / "rules", cdir = cache.dir / "cache";
  std::filesystem::create_directories(dir);
  const auto path = dir / "extra.json";
  std::ofstream(path, std::ios::binary) << probe_rules("ProbeAlpha");
  const int64_t long_ago = 1'000'000'000'000'000'000;  // 2001
  const int64_t start = now_ns();
  struct Opened {
    bool hit = false, read = false;  // read: open() read the files
    std::string pattern;
    uint64_t hash = 0;
  };
  auto open = [&](std::optional<int64_t> stat_ns = std::nullopt) {
    auto files = collect_data_files("rules/", {dir.string()}, false);
    REQUIRE(files.ok());
    REQUIRE(files->back().on_disk);
    REQUIRE(!files->back().loaded);
    REQUIRE(files->back().stat_ns >= start);
    files->back().stamp.mtime_ns = files->back().stamp.ctime_ns = long_ago;
    if (stat_ns) files->back().stat_ns = *stat_ns;
    auto rc = RuleCache::open(cdir.string(), *files);
    Opened o{rc.hit(), files->back().loaded, {}, 0};
    auto rules = rc.rules(*files);
    REQUIRE(rules.ok());
    o.pattern = probe_pattern(*rules);
    o.hash = rc.files_hash();
    for (size_t i = 0; i < rules->size(); ++i) rc.add(i, {});
    rc.save();
    return o;
  };
  auto cache_file = [&] {
    std::vector<std::filesystem::path> out;
    for (const auto& e : std::filesystem::directory_iterator(cdir)) out.push_back(e.path());
    REQUIRE(out.size() == 1);
    return out.front();
  };
  // The file's time, set to `at` when given.
  auto written = [&](std::optional<int64_t> at = std::nullopt) { return cache_written_at(cache_file(), at); };

  auto files_hash = [&] { return RuleCache::files_hash(*collect_data_files("rules/", {dir.string()})); };
  Opened o = open();  // written
  CHECK((!o.hit && o.pattern == "ProbeAlpha"));
  CHECK(written() >= start);
  const uint64_t alpha = files_hash();
  CHECK(o.hash == alpha);
  o = open();
  CHECK((o.hit && !o.read && o.pattern == "ProbeAlpha"));
  CHECK(o.hash == alpha);  // the cache's record

  // Bytes changed under a stat that did not: believed, as make and git do
  // (a real change changes ctime, or is racy).
  std::ofstream(path, std::ios::binary | std::ios::trunc) << probe_rules("ProbeBravo");
  o = open();
  CHECK((o.hit && !o.read && o.pattern == "ProbeAlpha"));
  // Written within 3 s of the files' change: racy, the bytes decide.
  written(long_ago + 1'000'000'000);
  o = open();
  CHECK((!o.hit && o.read && o.pattern == "ProbeBravo"));
  CHECK(o.hash == files_hash());
  CHECK(o.hash != alpha);
  CHECK(written() >= start);  // rewritten, not racy
  o = open();
  CHECK((o.hit && !o.read && o.pattern == "ProbeBravo"));
  // Racy with the same bytes: used, and restamped for the next run.
  written(long_ago + 2'000'000'000);
  o = open();
  CHECK((o.hit && o.read && o.pattern == "ProbeBravo"));
  CHECK(o.hash == files_hash());
  CHECK(written() >= start);
  o = open();
  CHECK((o.hit && !o.read && o.pattern == "ProbeBravo"));
  // Changed after the cache was written (a clock set back): racy too.
  written(long_ago - 60'000'000'000);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << probe_rules("ProbeDelta");
  o = open();
  CHECK((!o.hit && o.read && o.pattern == "ProbeDelta"));
  // Stat'ed a second after the change, the cache written only now (a run
  // stalled between): dated by the stat, so racy; restamped once read.
  std::filesystem::remove_all(cdir);
  o = open(long_ago + 1'000'000'000);
  CHECK((!o.hit && o.pattern == "ProbeDelta"));
  CHECK(written() == long_ago + 1'000'000'000);
  o = open();
  CHECK((o.hit && o.read && o.pattern == "ProbeDelta"));
  CHECK(written() >= start);
}

// The built-in rule files copied to a --rules folder (each overrides its
// embedded rules), the cache then dated after their change: a run trusts
// their stats and reads none of them, and finds what parsing them finds.
TEST_CASE("rules cached by their files' stats find what the parsed files find", "[startup][differential]") {
  CacheDir cache;
  const auto dir = cache.dir / "rules";
  std::filesystem::create_directories(dir);
  auto embedded = collect_data_files("rules/", {});
  REQUIRE(embedded.ok());
  for (const auto& f : *embedded)
    std::ofstream(dir / std::filesystem::path(f.path).filename(), std::ios::binary) << f.text;
  EngineOptions o;
  o.rules_dirs = {dir.string()};
  auto cold = Engine::load(o);  // parses the files, writes the cache
  REQUIRE(cold.ok());
  std::vector<std::filesystem::path> written;
  for (const auto& f : cache.files())
    if (f.filename().string().rfind("rules-", 0) == 0) written.push_back(f);
  REQUIRE(written.size() == 1);
  const int64_t later = now_ns() + 60'000'000'000;  // no file racy against it
  cache_written_at(written.front(), later);
  auto warm = Engine::load(o);
  REQUIRE(warm.ok());
  const Matcher& cm = (*cold)->matcher();
  const Matcher& wm = (*warm)->matcher();
  CHECK(wm.compiled_rules() == 0);
  CHECK(cache_written_at(written.front()) == later);  // a racy hit would have restamped it
  CHECK(wm.rules() == cm.rules());
  CHECK(wm.requirements() == cm.requirements());
  CHECK((*warm)->knowledge() == (*cold)->knowledge());
  for (const auto& d : sample_dirs()) {
    INFO(d);
    auto want = fact_keys(run(**cold, {d}, Path::reference));
    CHECK(fact_keys(run(**warm, {d}, Path::small)) == want);
    CHECK(fact_keys(run(**warm, {d}, Path::prefiltered)) == want);
    CHECK(fact_keys(run(**warm, {d}, Path::reference)) == want);
  }
}

// atoms_in() looks atoms up by a hash of their first four bytes (a bit, then
// a bucket), in one pass over the line; a search for each atom in turn is
// its reference. Timestamps among the pieces: digits once shared a bucket
// with letters ("40" with "tp").
TEST_CASE("atoms_in finds what a search for each atom finds", "[startup][differential]") {
  const Matcher& m = tpmdiag::testing::shared_engine().matcher();
  const auto& atoms = m.atoms();
  REQUIRE(atoms.size() > 20);
  auto naive = [&](std::string_view text) {
    std::vector<int> out;
    std::string low = ascii_lower(text);
    for (size_t a = 0; a < atoms.size(); ++a)
      if (low.find(atoms[a]) != std::string::npos) out.push_back(static_cast<int>(a));
    return out;
  };
  std::vector<std::string> texts = {"", "x", "tp", rule_lines(tpmdiag::testing::shared_engine())};
  uint64_t seed = 7;
  auto rnd = [&] { return seed = seed * 6364136223846793005ULL + 1442695040888963407ULL, seed >> 33; };
  for (int n = 0; n < 3000; ++n) {
    // Atoms at the start, the end, overlapping, cut short, in upper case,
    // amid noise.
    std::string t;
    for (int k = 0, parts = static_cast<int>(rnd() % 6); k < parts; ++k) {
      const std::string& a = atoms[rnd() % atoms.size()];
      switch (rnd() % 6) {
        case 0: t += a; break;
        case 1:
          for (char c : a) t += c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
          break;
        case 2: t += a.substr(0, a.size() - 1); break;
        case 3: t += a.substr(1); break;
        case 4: t += rnd() % 2 ? "2023-05-26T10:26:34.183Z cpu0:2099240)" : " x "; break;
        default: t += static_cast<char>(rnd() % 256); break;
      }
    }
    texts.push_back(t);
  }
  Matcher::Scratch scratch(m);
  for (const auto& t : texts) {
    INFO(t);
    std::vector<int> got;
    m.atoms_in(t, scratch, got);
    CHECK(got == naive(t));
    // Appending to atoms found before keeps the list ordered and unique.
    std::vector<int> twice = got;
    m.atoms_in(t, scratch, twice);
    CHECK(twice == got);
  }
}

// Every rule set and build writes a cache file of its own: the folder keeps
// the newest RuleCache::kKeep, drops half-written files whose writer is long
// gone, and leaves anything else alone.
TEST_CASE("the rule cache folder keeps its newest files and not every one ever written", "[startup]") {
  CacheDir cache;
  std::filesystem::create_directories(cache.dir);
  auto make = [&](const std::string& name, int minutes_old) {
    auto p = cache.dir / name;
    std::ofstream(p) << "x";
    std::filesystem::last_write_time(p, std::filesystem::file_time_type::clock::now() -
                                            std::chrono::minutes(minutes_old));
    return p;
  };
  std::vector<std::filesystem::path> old;
  for (int i = 0; i < 30; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "rules-%016x", 0x1000 + i);
    old.push_back(make(name, 60 * (i + 1)));  // rules-...1000 is the newest of them
  }
  auto dead_tmp = make("rules-00000000000000aa.tmp.1.0", 60);
  auto live_tmp = make("rules-00000000000000bb.tmp.2.0", 0);
  auto other = make("notes.txt", 60 * 24 * 365);
  auto odd = make("rules-not-a-cache", 60 * 24 * 365);

  auto e = Engine::load({});  // writes the built-in rule set's file, then prunes
  REQUIRE(e.ok());
  size_t caches = 0;
  for (const auto& p : cache.files()) caches += RuleCache::is_cache_name(p.filename().string());
  CHECK(caches == RuleCache::kKeep);
  for (size_t i = 0; i < old.size(); ++i) {
    INFO(old[i]);
    CHECK(std::filesystem::exists(old[i]) == (i + 1 < RuleCache::kKeep));  // the new file is one of the kept
  }
  CHECK_FALSE(std::filesystem::exists(dead_tmp));
  CHECK(std::filesystem::exists(live_tmp));
  CHECK(std::filesystem::exists(other));
  CHECK(std::filesystem::exists(odd));
  // The new file is used by the next run.
  auto again = Engine::load({});
  REQUIRE(again.ok());
  CHECK((*again)->matcher().compiled_rules() < (*again)->matcher().rules().size());
}
