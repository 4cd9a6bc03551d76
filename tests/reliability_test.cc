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
