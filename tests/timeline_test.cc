// The timeline (kb/timeline.h): vmkwarning.log repeats vmkernel.log's
// warnings, so a line read from both is one line of the timeline. Only the
// same line is dropped: same host, rule, time text and captured values.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "pipeline/run.h"
#include "support.h"

using namespace tpmdiag;

namespace {

size_t timeline_lines(const Report& r) {
  size_t n = 0;
  for (const auto& h : r.hosts)
    for (const auto& b : h.boots) n += b.facts.size();
  return n;
}

Report run_texts(std::vector<std::pair<std::string, std::string>> texts) {
  Run run(tpmdiag::testing::shared_engine(), {});
  run.add_texts(std::move(texts));
  return std::move(run).finish();
}

const std::string kAcpi =
    "2021-10-29T19:41:04.936Z cpu16:2097621)VMK_ACPI: 90: \\_SB_.TPM_: numRes 0 phys_addr 0xfed40000 size 0x5000\n";

}  // namespace

TEST_CASE("timeline: a line in vmkernel.log and vmkwarning.log is one line", "[timeline]") {
  Report both = run_texts({{"vmkernel.log", kAcpi}, {"vmkwarning.log", kAcpi}});
  REQUIRE(both.facts.size() == 2);
  CHECK(timeline_lines(both) == 1);

  // Another captured value, or another time: two lines.
  std::string other = kAcpi;
  other.replace(other.find("0x5000"), 6, "0x6000");
  CHECK(timeline_lines(run_texts({{"vmkernel.log", kAcpi}, {"vmkwarning.log", other}})) == 2);
  std::string later = kAcpi;
  later.replace(later.find("04.936Z"), 7, "04.937Z");
  CHECK(timeline_lines(run_texts({{"vmkernel.log", kAcpi}, {"vmkwarning.log", later}})) == 2);

  // Many lines, each in both files: each once, whatever the hashes meet.
  std::string many;
  for (int i = 0; i < 3000; ++i) {
    std::string l = kAcpi;
    l.replace(l.find("0x5000"), 6, "0x" + std::to_string(5000 + i));
    many += l;
  }
  Report r = run_texts({{"vmkernel.log", many}, {"vmkwarning.log", many}});
  CHECK(r.facts.size() == 6000);
  CHECK(timeline_lines(r) == 3000);
}
