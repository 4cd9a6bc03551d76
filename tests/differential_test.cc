// Differential test (RE2-style): the literal-prefiltered path must find exactly
// the facts of the slow reference path that parses and matches every line.
#include <catch2/catch.hpp>

#include <map>

#include <filesystem>
#include <random>
#include <set>
#include <sstream>
#include <fstream>
#include <unistd.h>

#include "pipeline/run.h"
#include "support.h"

using namespace tpmdiag;
using tpmdiag::testing::fact_keys;

namespace {

// Lines per rule and fields, counting the identical lines folded into a fact
// (where folding happens depends on how the input was cut into parts).
std::map<std::string, uint64_t> line_totals(const Report& r) {
  std::map<std::string, uint64_t> out;
  for (const auto& f : r.facts) {
    std::string k = f.input + " " + f.rule->id;
    for (const auto& [name, value] : f.fields) k += " " + name + "=" + value;
    out[k] += 1 + f.repeats;
  }
  return out;
}

// The samples are far smaller than the inputs the prefilter turns on for:
// force it on, or both runs would take the reference path.
Report run(const Engine& e, const std::vector<std::string>& paths, bool prefilter) {
  RunOptions o;
  o.scan.prefilter = prefilter;
  o.scan.force_prefilter = prefilter;
  return run_inputs(e, paths, o);
}

// Lines read and lines the prefilter passed on, over all inputs of a run.
std::pair<uint64_t, uint64_t> lines_and_candidates(const Report& r) {
  std::pair<uint64_t, uint64_t> n{0, 0};
  for (const auto& in : r.inputs) n.first += in.lines, n.second += in.candidates;
  return n;
}

}  // namespace

TEST_CASE("prefiltered and reference paths find the same facts on every sample", "[differential]") {
  auto engine = Engine::load({});
  REQUIRE(engine.ok());
  std::vector<std::string> dirs;
  for (const auto& entry : std::filesystem::directory_iterator(TPMDIAG_SOURCE_DIR "/samples"))
    if (entry.is_directory()) dirs.push_back(entry.path().string());
  REQUIRE(!dirs.empty());
  uint64_t lines = 0, candidates = 0;
  for (const auto& d : dirs) {
    INFO(d);
    auto fast = run(**engine, {d}, true);
    auto slow = run(**engine, {d}, false);
    CHECK(fact_keys(fast) == fact_keys(slow));
    CHECK(fast.verdict == slow.verdict);
    CHECK(fast.findings.size() == slow.findings.size());
    auto [l, c] = lines_and_candidates(fast);
    lines += l, candidates += c;
  }
  // The prefilter really ran: it passed on fewer lines than it read.
  CHECK(lines > 0);
  CHECK(candidates < lines);
}

TEST_CASE("prefiltered and reference paths agree on mutated lines", "[differential]") {
  auto engine = Engine::load({});
  REQUIRE(engine.ok());
  // Every rule sample, mutated: case flips, cut short, glued to noise.
  std::mt19937 rng(42);
  std::ostringstream text;
  for (const auto& rule : (*engine)->matcher().rules()) {
    std::vector<std::string> lines;
    for (const auto& s : rule.match_samples) lines.push_back(s.line);
    for (const auto& s : rule.nomatch_samples) lines.push_back(s);
    for (auto line : lines) {
      text << line << "\n";
      std::string flipped = line;
      for (auto& c : flipped)
        if (rng() % 7 == 0) c = static_cast<char>(std::isupper(static_cast<unsigned char>(c)) ? std::tolower(c) : std::toupper(c));
      text << flipped << "\n";
      text << line.substr(0, rng() % (line.size() + 1)) << "\n";
      text << "noise " << line << " trailing noise\r\n";
    }
  }
  auto dir = std::filesystem::temp_directory_path() / ("tpmdiag-diff-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto file = (dir / "mutated.log").string();
  {
    std::ofstream out(file, std::ios::binary);
    out << text.str();
  }
  auto fast = run(**engine, {file}, true);
  auto slow = run(**engine, {file}, false);
  CHECK(fact_keys(fast) == fact_keys(slow));
  CHECK(!fast.facts.empty());
  auto [lines, candidates] = lines_and_candidates(fast);
  CHECK(candidates < lines);  // the nomatch samples and cut lines hold no atom
  std::filesystem::remove_all(dir);
}

// Inputs the scanner fuzz target found (it compared only line counts before,
// and on inputs too small for the prefilter to run).
TEST_CASE("prefiltered and reference paths agree on records the fuzzer found", "[differential]") {
  auto engine = Engine::load({});
  REQUIRE(engine.ok());
  std::string filler;
  for (int i = 0; i < 20; ++i) filler += "2025-12-11T16:43:23.320Z In(166) Hostd[170001]: [Originator@6876 sub=Default] idle\n";
  const std::vector<std::pair<const char*, std::string>> cases = {
      // A continuation line past the look-ahead of its parent, which holds no
      // TPM word: a record of its own, not lost in the parent's.
      {"far continuation",
       "2025-12-11T16:43:23.320Z Er(163) Hostd[169797]: [Originator@6876 sub=Default] Task failed\n" + filler +
           "2025-12-11T16:43:23.314Z In(166) Hostd[169797]: --> Tpm2Cmd: CreatePrimary: (0x9a2) Unknown\n"},
      // A JSON record whose only TPM word is in the line's component, not its
      // message: the fallback rule's literal is looked for in both.
      {"json component",
       "{\"date\":1635536489.399,\"log\":\"<163>2021-10-29T19:41:29.399Z esx-fluentbit Hostd: error "
       "hostd[2099349] [Originator@6876 sub=Hostsvc.Tpm20Provider] Unable to provision default rsa endoremplate "
       "is not present in NV memory.\"}\n"},
      // A bare `-->` line after a line of no known shape (here a hostd line
      // whose sub= holds a stray byte): joined to it on both paths.
      {"bare continuation after an unknown line",
       "2021-10-29T19:41:29.398Z info hostd[2099349] [Originator@6876 sub=\xd4ibs] Provisioning the key :\n"
       "  --> Unable to provision default rsa endorsement key.\n"},
      // A bare `-->` line holding a byte that is not UTF-8 (Latin-1 text):
      // no format parses it, but it continues the line before as any `-->`
      // line does, on both paths.
      {"bare continuation that is not UTF-8",
       "2021-10-29T19:41:29.398Z error hostd[2099349] [Originator@6876 sub=Default] Provisioning the key:\n"
       "  --> Unable to read the TPM quote of h\xf4te-3\n"},
      // A bare `-->` line that needs normalising (curly quotes): read as its
      // normalised text, and still the continuation of the line before.
      {"bare continuation that needs normalising",
       "2021-10-29T19:41:29.398Z error hostd[2099349] [Originator@6876 sub=Default] Provisioning the key:\n"
       "  --> Unable to read the TPM quote of \xe2\x80\x9chost-3\xe2\x80\x9d\n"},
      // Five identical facts, the first from a record the prefiltered path
      // reaches only through its `-->` line (read after the block's other
      // lines: it needs normalising): the first four by line are kept on
      // both paths, the fifth is counted on the fourth.
      {"identical facts folded in line order",
       "2021-10-29T19:41:29.382Z info hostd[2099349] [Originator@6876 sub=Libs] Reading the index:\n"
       "  --> Tpm2Cmd: NV_ReadPublic: (0x9a2) Unknown \xe2\x80\x94 retrying\n" +
           [] {
             std::string s;
             for (int i = 0; i < 4; ++i)
               s += "2021-10-29T19:41:29.383Z error hostd[2099349] [Originator@6876 sub=Libs] Tpm2Cmd: NV_ReadPublic: "
                    "(0x9a2) Unknown - retrying\n";
             return s;
           }()},
      // A record joined to near kMaxJoinBytes, then a short one: the limit
      // is measured on each record alone (it read what the previous join
      // left, which depends on the path).
      {"join limit per record",
       "2021-10-29T19:41:29.300Z info hostd[2099349] [Originator@6876 sub=Default] Dump:\n" +
           [] {
             std::string s;
             for (int i = 0; i < 64; ++i) s += "   --> " + std::string(400, 'x') + "\n";
             return s;
           }() +
           "2021-10-29T19:41:29.398Z error hostd[2099349] [Originator@6876 sub=Default] Provisioning the key:\n"
           "   --> Unable to read the TPM quote " + std::string(20000, 'y') + "\n"},
      // A `-->` line 42 lines below its first line: joined on both paths
      // (join_forward takes up to kMaxJoinLines lines; the way back from the
      // continuation must reach as far).
      {"bare continuation far below its first line",
       "2021-10-29T19:41:29.398Z error hostd[2099349] [Originator@6876 sub=Default] Provisioning the key:\n" +
           [] {
             std::string s;
             for (int i = 0; i < 40; ++i) s += "   --> frame " + std::to_string(i) + "\n";
             return s;
           }() +
           "   --> Unable to read the TPM quote\n"},
      // A bare `-->` line after an ESXi 8 keyed continuation: joined, with
      // it, to their first line on both paths.
      {"bare continuation after a keyed continuation",
       "2025-12-11T16:43:23.320Z Er(163) Hostd[169797]: [Originator@6876 sub=Default] Provisioning the key:\n"
       "2025-12-11T16:43:23.320Z In(166) Hostd[169797]: --> Result:\n"
       "   --> Unable to read the TPM quote\n"},
      // A bare `-->` line after a JSON record: JSON records join nothing, so
      // it is a record of its own on both paths.
      {"bare continuation after a JSON record",
       "{\"message\":\"2021-10-29T19:41:29.398Z error hostd[2099349] [Originator@6876 sub=Default] Provisioning "
       "the key:\",\"hostname\":\"esx01\"}\n"
       "   --> Unable to read the TPM quote\n"
       "2021-10-29T19:41:29.399Z error hostd[2099349] [Originator@6876 sub=Default] TPM quote failed\n"},
      // A JSON record holding an ESXi 8 continuation of the line before: not
      // joined to it (JSON records join nothing) on either path.
      {"JSON record holding a keyed continuation",
       "2025-12-11T16:43:23.320Z Er(163) Hostd[169797]: [Originator@6876 sub=Default] Provisioning the key:\n"
       "{\"message\":\"2025-12-11T16:43:23.320Z In(166) Hostd[169797]: --> Unable to read the TPM quote\"}\n"},
      // A `-->` line that also parses as an ESXi 8 first line (a log line
      // glued to the marker), then a continuation of that writer: the `-->`
      // line continues the line before, and is no first line to the
      // continuation below it (the reference path built both records).
      {"bare continuation that parses as a first line",
       "2021-10-29T19:41:29.398Z error hostd[2099349] [Originator@6876 sub=Default] Dump:\n"
       "-->2025-12-11T16:43:23.320Z Er(163) Hostd[169797]: [Originator@6876 sub=Default] TPM quote:\n"
       "2025-12-11T16:43:23.320Z In(166) Hostd[169797]: --> request failed\n"},
  };
  auto dir = std::filesystem::temp_directory_path() / ("tpmdiag-diff-fz-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (const auto& [what, text] : cases) {
    INFO(what);
    auto file = (dir / "case.log").string();
    std::ofstream(file, std::ios::binary) << text;
    auto fast = run(**engine, {file}, true);
    auto slow = run(**engine, {file}, false);
    CHECK(!slow.facts.empty());
    CHECK(fact_keys(fast) == fact_keys(slow));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("a file scanned in parallel ranges gives the facts of one sequential scan", "[differential]") {
  auto engine = Engine::load({});
  REQUIRE(engine.ok());
  auto dir = std::filesystem::temp_directory_path() / ("tpmdiag-split-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto file = (dir / "big.log").string();
  {
    std::ofstream out(file, std::ios::binary);
    for (int i = 0; i < 300; ++i)
      for (const char* f : {"/samples/seed-failing/vmkernel.log", "/samples/seed-failing/hostd.log"}) {
        std::ifstream in(std::string(TPMDIAG_SOURCE_DIR) + f, std::ios::binary);
        out << in.rdbuf();
        out << "2021-10-29T19:41:05.032Z cpu16:2097621)noise line " << i << "\n";
        if (i == 150)  // a flood of one line, folded into a few facts, across the parts of a split
          for (int k = 0; k < 3000; ++k)
            out << "2021-10-29T19:41:30.000Z info hostd[2099349] [Originator@6876 sub=Hostsvc.Tpm20Provider] "
                   "Tpm2Cmd: DictionaryAttackLockReset: (0x921) TPM_RC_LOCKOUT\n";
        if (i % 7 == 0)  // longer than the small --max-line below, with TPM text on both sides of the cut
          out << "2021-10-29T19:41:05.032Z cpu0:2097152)tpmDriver: " << std::string(400 + i, 'x')
              << " Tpm2Cmd: CreatePrimary: (0x9a2)\n";
      }
  }
  RunOptions seq;  // read through a buffer
  seq.jobs = 1;
  seq.map_min = UINT64_MAX;
  RunOptions mapped;  // scanned in place
  mapped.jobs = 1;
  mapped.map_min = 1;
  RunOptions par;  // scanned in place by three threads
  par.jobs = 3;
  par.split_min = 1;
  par.map_min = 1;
  auto max_line = GENERATE(as<size_t>{}, 1u << 20, 300u);
  CAPTURE(max_line);
  for (RunOptions* o : {&seq, &mapped, &par}) o->scan.max_line = max_line;
  auto a = run_inputs(**engine, {file}, seq);
  for (RunOptions* o : {&mapped, &par}) {
    auto b = run_inputs(**engine, {file}, *o);
    if (o == &mapped) CHECK(fact_keys(a) == fact_keys(b));
    CHECK(line_totals(a) == line_totals(b));
    REQUIRE(a.inputs.size() == 1);
    REQUIRE(b.inputs.size() == 1);
    CHECK(a.inputs[0].lines == b.inputs[0].lines);
    CHECK(a.inputs[0].bytes == b.inputs[0].bytes);
    CHECK(a.inputs[0].cut_lines == b.inputs[0].cut_lines);
    CHECK(a.findings.size() == b.findings.size());
  }
  if (max_line == 300) CHECK(a.inputs[0].cut_lines > 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("prefilter keys avoid text common in the sample, and still cover every rule", "[differential]") {
  auto engine = Engine::load({});
  REQUIRE(engine.ok());
  std::string sample;
  for (int i = 0; i < 3000; ++i)
    sample += "2023-07-31T18:26:39.960Z warning hostd[2099567] [Originator@6876 sub=deviceStatsProvider] "
              "FillVirtualDeviceStats: Unable to locate sample for stat ID " + std::to_string(i) +
              " (internal reconfigure)\n";
  const Matcher& m = (*engine)->matcher();
  REQUIRE(m.compile(sample).ok());
  std::string common = "fillvirtualdevicestats: unable to locate sample for stat id (internal reconfigure)";
  for (const auto& k : m.keys()) CHECK(common.find(k) == std::string::npos);
  // Every requirement of every rule still has an atom holding a key (the
  // prefilter stays complete).
  for (const auto& reqs : m.requirements())
    for (const auto& req : reqs) {
      bool keyed = false;
      for (const auto& a : req)
        for (const auto& k : m.keys()) keyed = keyed || a.find(k) != std::string::npos;
      CHECK(keyed);
    }
}

TEST_CASE("keys are chosen again when one turns out common later, and nothing found changes", "[differential]") {
  auto engine = Engine::load({});
  REQUIRE(engine.ok());
  const Matcher& m = (*engine)->matcher();
  std::string base;
  for (const char* f : {"/samples/seed-failing/vmkernel.log", "/samples/seed-failing/hostd.log"}) {
    std::ifstream in(std::string(TPMDIAG_SOURCE_DIR) + f, std::ios::binary);
    base.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::string start;
  for (int i = 0; start.size() < (2u << 20); ++i)
    start += base + "2021-10-29T19:41:05.032Z cpu16:2097621)Net: noise line " + std::to_string(i) + "\n";
  REQUIRE(m.compile(start).ok());  // the keys, chosen from a start that lacks what comes later
  // A key that a line can hold with no atom: later, every other line holds it.
  const auto first_keys = m.keys();
  Matcher::Scratch scratch(m);
  std::string noise;
  for (const auto& k : first_keys) {
    std::string line = "2021-10-29T19:41:06.000Z cpu3:2097700)Net: port 7 " + k + " 42 now";
    std::vector<int> atoms;
    m.atoms_in(line, scratch, atoms);
    if (atoms.empty() && k.find('\n') == std::string::npos) {
      noise = line + "\n";
      break;
    }
  }
  REQUIRE(!noise.empty());
  CAPTURE(noise);
  auto dir = std::filesystem::temp_directory_path() / ("tpmdiag-adapt-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto file = (dir / "later.log").string();
  {
    std::ofstream out(file, std::ios::binary);
    out << start;
    for (size_t written = 0; written < (12u << 20);) {
      out << base;
      written += base.size();
      for (int k = 0; k < 2000; ++k, written += noise.size() * 2)
        out << noise << "2021-10-29T19:41:06.000Z cpu3:2097700)Net: other line " << k << "\n";
    }
  }
  RunOptions o;
  o.scan.force_prefilter = true;
  o.jobs = GENERATE(1u, 2u);
  o.split_min = 1;
  CAPTURE(o.jobs);
  auto fast = run_inputs(**engine, {file}, o);
  CHECK(m.key_changes() >= 1);
  const auto now = m.keys();
  std::string turned = noise.substr(noise.find("port 7 ") + 7);
  turned = turned.substr(0, turned.size() - 8);  // the key, without " 42 now\n"
  CHECK(std::find(now.begin(), now.end(), turned) == now.end());
  auto ref = run(**engine, {file}, false);
  CHECK(line_totals(fast) == line_totals(ref));
  CHECK(fast.findings.size() == ref.findings.size());
  CHECK(lines_and_candidates(fast).first == lines_and_candidates(ref).first);
  std::filesystem::remove_all(dir);
}


// Matcher::match keeps what the rules found on a line by its kind, atoms and
// message: a scratch that has seen the same message (with another kind or
// other atoms, or not) and many others must answer as a fresh one does.
TEST_CASE("rules' answers kept by a scratch are a fresh scratch's", "[differential]") {
  const Engine& e = tpmdiag::testing::shared_engine();
  const Matcher& m = e.matcher();
  std::vector<std::string> lines;
  for (const auto& r : m.rules())
    for (const auto& s : r.match_samples) lines.push_back(s.line);
  REQUIRE(lines.size() > 50);
  auto describe = [](const std::vector<Fact>& facts) {
    std::vector<std::string> out;
    for (const auto& f : facts) {
      std::string d = f.rule->id + " @" + std::to_string(f.line) + " " + f.text;
      for (const auto& [k, v] : f.all_fields()) d += " " + k + "=" + v;
      out.push_back(d);
    }
    return out;
  };
  std::mt19937 rng(2026);
  Matcher::Scratch kept(m);
  size_t answered = 0;
  for (int n = 0; n < 20000; ++n) {
    std::string line = lines[rng() % lines.size()];
    if (rng() % 2) line += " #" + std::to_string(rng() % 3000);  // more messages than the memo holds
    Event ev;
    e.formats().parse(line, ev);
    ev.line = static_cast<uint64_t>(n);
    if (rng() % 3 == 0) ev.kind = static_cast<SourceKind>(rng() % 4);  // the same message, another kind
    std::vector<int> atoms;
    m.atoms_in(rng() % 4 ? line : lines[rng() % lines.size()], kept, atoms);  // or another line's atoms
    if (rng() % 8 == 0 && !atoms.empty()) atoms.pop_back();
    std::vector<Fact> got, want;
    m.match(ev, &atoms, kept, got);
    Matcher::Scratch fresh(m);
    m.match(ev, &atoms, fresh, want);
    INFO(line << " kind " << static_cast<int>(ev.kind) << " atoms " << atoms.size());
    REQUIRE(describe(got) == describe(want));
    answered += !want.empty();
  }
  CHECK(answered > 5000);
}
