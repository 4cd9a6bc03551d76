// Reliability, round two (issue 20): caps and layouts must never change a
// verdict silently. Each case reproduces a failure seen before the fix.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "parsers/bundle_layout.h"
#include "pipeline/run.h"
#include "store/batch.h"
#include "support.h"

using namespace tpmdiag;
namespace fs = std::filesystem;

namespace {

const Engine& engine() { return testing::shared_engine(); }
std::string file_text(const std::string& rel) { return testing::read_text(std::string(TPMDIAG_SOURCE_DIR) + "/" + rel); }

std::string seed() { return file_text("samples/seed-failing/vmkernel.log") + file_text("samples/seed-failing/hostd.log"); }

// N distinct harmless driver lines, then the seed's failure.
std::string flood_then_seed(int n) {
  std::string s;
  for (int i = 0; i < n; ++i)
    s += "2021-10-29T19:41:04.936Z cpu16:2097621)tpmDriver: Tpm2Init:1859: Activated locality " + std::to_string(i) + "\n";
  return s + seed();
}

Report run_text(const std::string& text, RunOptions opts = {}) {
  Run run(engine(), std::move(opts));
  run.add_texts({{"flood.log", text}});
  return std::move(run).finish();
}

}  // namespace

TEST_CASE("max-facts: harmless lines past the cap do not hide the failure after them", "[reliability]") {
  RunOptions o;
  o.scan.max_facts = 20000;
  Report r = run_text(flood_then_seed(20001), o);
  CHECK(r.verdict == Verdict::problem);
  REQUIRE(!r.findings.empty());
  CHECK(r.findings.front().cause->id == "tpm_firmware_outdated");
  CHECK(r.inputs.at(0).dropped_facts > 0);  // the context lines past the cap are counted
  CHECK_FALSE(r.incomplete());              // nothing a verdict rests on was dropped
}

TEST_CASE("max-facts: when lines a verdict rests on are dropped, the input is incomplete", "[reliability]") {
  RunOptions o;
  o.scan.max_facts = 1;  // 4 needed facts at most: the seed has more
  Report r = run_text(seed(), o);
  CHECK(r.incomplete());
  CHECK(exit_code(r) == 2);
  CHECK(r.inputs.at(0).error.find("--max-facts") != std::string::npos);
}

TEST_CASE("scan finds compressed logs whatever their name: syslog.gz, messages-20240101.gz", "[reliability]") {
  SourceLimits limits;
  CHECK(classify_member("logs/syslog.gz", 10 << 20, limits) == MemberRole::scan);
  CHECK(classify_member("logs/messages-20240101.gz", 10 << 20, limits) == MemberRole::scan);
  CHECK(classify_member("logs/vmkernel.3.gz", 10 << 20, limits) == MemberRole::scan);
  CHECK(classify_member("logs/picture.png", 10, limits) == MemberRole::skip);
  CHECK(classify_member("logs/notes.txt", limits.max_text_member + 1, limits) == MemberRole::skip);

  const fs::path dir = fs::temp_directory_path() / ("tpmdiag-rel-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const char* name : {"syslog.gz", "messages-20240101.gz"}) {
    // gzip by hand is not needed: a plain text under a .gz name is sniffed as text
    std::ofstream(dir / name, std::ios::binary) << seed();
  }
  std::vector<InputError> errors;
  auto jobs = batch::plan_jobs({dir.string()}, errors);
  CHECK(errors.empty());
  CHECK(jobs.size() == 2);
  Report r = run_inputs(engine(), {dir.string()}, {});
  CHECK(r.verdict == Verdict::problem);
  CHECK(r.inputs.size() == 2);
  fs::remove_all(dir);
}

TEST_CASE("decompression: one budget per run stops an archive of many bombs", "[reliability][archive]") {
  // 40 members, each a .gz of 4 MiB of newlines: every one is under the
  // per-member limit (8 MiB), together 160 MiB. The run's total (16 MiB) stops them.
  std::string lines(4u << 20, '\n');
  std::string bomb = testing::gz(lines);
  for (const char* format : {"tgz", "zip"}) {
    std::vector<testing::Member> members;
    for (int i = 0; i < 40; ++i) members.push_back({"b/var/run/log/vmkernel." + std::to_string(i) + ".gz", bomb});
    // A zip also inflates its members itself: plain members of 4 MiB each.
    if (std::string(format) == "zip")
      for (int i = 0; i < 40; ++i) members.push_back({"b/var/run/log/hostd." + std::to_string(i) + ".log", lines});
    std::string archive = testing::make_archive(members, format);
    RunOptions o;
    o.limits.max_decompressed = 8u << 20;
    o.limits.max_total_decompressed = 16u << 20;
    Run run(engine(), o);
    run.add_source(std::string("bombs.") + format, memory_source(archive));
    Report r = std::move(run).finish();
    uint64_t bytes = 0;
    std::string errors;
    for (const auto& in : r.inputs) {
      bytes += in.bytes;
      errors += in.error;
    }
    INFO(format << ": " << errors);
    CHECK(bytes <= (16u << 20) + (1u << 20));  // a read buffer past the limit at most
    CHECK(errors.find("--max-total-decompressed") != std::string::npos);
    CHECK(r.incomplete());
  }
}

TEST_CASE("decompression: the default total is 4 x --max-decompressed, per run", "[reliability][archive]") {
  std::string bomb = testing::gz(std::string(3u << 20, '\n'));
  RunOptions o;
  o.limits.max_decompressed = 4u << 20;  // each bomb fits; 4 x 4 MiB = 16 MiB in all: 5 fit
  Run run(engine(), o);
  std::vector<std::pair<std::string, std::string>> texts;
  for (int i = 0; i < 8; ++i) texts.emplace_back("b" + std::to_string(i) + ".gz", bomb);
  run.add_texts(std::move(texts));
  Report r = std::move(run).finish();
  int over = 0;
  for (const auto& in : r.inputs) over += in.error.find("--max-total-decompressed") != std::string::npos;
  CHECK(over >= 2);
  CHECK(over <= 3);
  // A new run has its own budget.
  Run again(engine(), o);
  again.add_texts({{"b.gz", bomb}});
  CHECK_FALSE(std::move(again).finish().incomplete());
}
