// Start-up paths (issue 21): a matcher built from the rule cache compiles
// each rule when a line first reaches it, and inputs too small for the
// literal databases find their atoms by a plain search. Both must find
// exactly what the reference path (every rule on every line) finds.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
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

TEST_CASE("a damaged or cut rule cache is ignored and rewritten", "[startup]") {
  CacheDir cache;
  REQUIRE(Engine::load({}).ok());
  auto files = cache.files();
  REQUIRE(files.size() == 1);
  const auto path = files.front();
  std::string whole;
  {
    std::ifstream in(path, std::ios::binary);
    whole.assign(std::istreambuf_iterator<char>(in), {});
  }
  REQUIRE(whole.size() > 100);
  const std::vector<std::pair<const char*, std::string>> damaged = {
      {"cut", whole.substr(0, whole.size() / 2)},
      {"garbage", std::string(whole.size(), '\x7f')},
      {"a length too long", std::string(whole).replace(whole.find("K ") + 2, 1, "9")},
      {"empty", ""},
  };
  for (const auto& [what, text] : damaged) {
    INFO(what);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    auto e = Engine::load({});
    REQUIRE(e.ok());
    // Nothing taken from the damaged file: every rule compiled at load.
    CHECK((*e)->matcher().compiled_rules() == (*e)->matcher().rules().size());
    std::ifstream in(path, std::ios::binary);
    std::string now(std::istreambuf_iterator<char>(in), {});
    CHECK(now == whole);
  }
}

TEST_CASE("a cache entry serves only the same pattern and literals", "[startup]") {
  CacheDir cache;
  Rule a;
  a.id = "a";
  a.pattern = "Tpm2Cmd: (?P<command>\\w+): \\((?P<rc>0x[0-9a-f]+)\\)";
  Rule b = a;
  b.pattern += "x";
  Rule c = a;
  c.literals = {"tpm2cmd"};
  auto rc = RuleCache::open(cache.dir.string(), {a});
  rc.add(a, RuleAnalysis{2, {{"command", 1}, {"rc", 2}}, {{"tpm2cmd"}}});
  rc.save();
  auto again = RuleCache::open(cache.dir.string(), {a});
  REQUIRE(again.find(a) != nullptr);
  CHECK(again.find(a)->captures == 2);
  CHECK(again.find(a)->groups.size() == 2);
  CHECK(again.find(b) == nullptr);
  CHECK(again.find(c) == nullptr);
  // Another rule set reads another file.
  CHECK(RuleCache::open(cache.dir.string(), {b}).find(a) == nullptr);
  // No folder: nothing found, nothing written.
  auto none = RuleCache::open("", {a});
  none.add(a, RuleAnalysis{});
  none.save();
  CHECK(none.find(a) == nullptr);
}

// atoms_in() looks atoms up by a bucket of their first two bytes, in one
// pass over the line; a search for each atom in turn is its reference.
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
  for (int n = 0; n < 300; ++n) {
    // Atoms at the start, the end, overlapping, cut short, in upper case,
    // amid noise.
    std::string t;
    for (int k = 0, parts = static_cast<int>(rnd() % 6); k < parts; ++k) {
      const std::string& a = atoms[rnd() % atoms.size()];
      switch (rnd() % 5) {
        case 0: t += a; break;
        case 1:
          for (char c : a) t += c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
          break;
        case 2: t += a.substr(0, a.size() - 1); break;
        case 3: t += a.substr(1); break;
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
