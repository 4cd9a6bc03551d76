// --since/--until values (cli/filters.h) and the run's filter on the lines'
// own times (pipeline/run.h EventFilter).
#include <catch2/catch.hpp>

#include "cli/filters.h"
#include "parsers/timestamp.h"
#include "pipeline/engine.h"

using tpmdiag::parse_iso8601;
using tpmdiag::cli::parse_time_bound;

TEST_CASE("time bounds: timestamps as logs print them, dates, times ago", "[filters]") {
  const int64_t now = *parse_iso8601("2026-01-10T12:00:00Z");
  CHECK(parse_time_bound("2021-10-29T19:41:05.032Z", now) == parse_iso8601("2021-10-29T19:41:05.032Z"));
  CHECK(parse_time_bound("2020-04-14T12:48:16.306-06:00", now) == parse_iso8601("2020-04-14T18:48:16.306Z"));
  CHECK(parse_time_bound("2021-10-29 19:41", now) == parse_iso8601("2021-10-29T19:41:00Z"));
  CHECK(parse_time_bound("2021-10-29", now) == parse_iso8601("2021-10-29T00:00:00Z"));
  CHECK(parse_time_bound("90s", now) == now - 90'000);
  CHECK(parse_time_bound("30m", now) == now - 30 * 60'000);
  CHECK(parse_time_bound("2h", now) == now - 2 * 3'600'000);
  CHECK(parse_time_bound("3d", now) == parse_iso8601("2026-01-07T12:00:00Z"));
  CHECK(parse_time_bound("1w", now) == parse_iso8601("2026-01-03T12:00:00Z"));
  for (const char* bad : {"", "h", "2", "2y", "-2h", "2h ago", "2021-10-29T19:41:05Zx", "2021-13-01", "2021-10-32",
                          "yesterday", "1234567890h"})
    CHECK_FALSE(parse_time_bound(bad, now));
}

TEST_CASE("the run keeps the lines in range; an untimed line takes the time before it", "[filters]") {
  auto eng = tpmdiag::Engine::load({});
  REQUIRE(eng);
  const std::string failing = std::string(TPMDIAG_SOURCE_DIR) + "/samples/seed-failing";
  const std::string fixed = std::string(TPMDIAG_SOURCE_DIR) + "/samples/seed-fixed";
  tpmdiag::RunOptions opts;
  opts.filter.since_ms = parse_iso8601("2021-10-29T19:41:29.300Z");
  tpmdiag::Run run(**eng, opts);
  run.add_path(failing);
  run.add_path(fixed);
  tpmdiag::Report r = std::move(run).finish();
  // Kept: the failing host's lines from 19:41:29.300 on, and the fixed logs'
  // lines, which carry no time and cannot be placed.
  for (const auto& f : r.facts) {
    if (f.ts_ms) CHECK(*f.ts_ms >= *opts.filter.since_ms);
    else CHECK(f.input.find("seed-fixed") != std::string::npos);
  }
  CHECK(run.filtered().untimed_kept == 7);
  CHECK(run.filtered().dropped > 0);
  uint64_t kept = 0;
  for (const auto& f : r.facts) kept += 1 + f.repeats;
  CHECK(kept + run.filtered().dropped == 26);  // all TPM lines of the seed, failing and fixed
}
