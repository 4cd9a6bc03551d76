// --since, --until, --host GLOB, -q/--quiet and --brief of diagnose, explain
// and scan (issue 19). The filter itself is applied in the pipeline
// (pipeline/run.h EventFilter); this reads the options into it.
#pragma once

#include <boost/program_options.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pipeline/run.h"

namespace tpmdiag::cli {

struct FilterOptions {
  std::string since, until, host;
  bool quiet = false, brief = false;
};

// --since, --until, --host (and with `modes`, -q/--quiet and --brief).
void add_filter_options(boost::program_options::options_description& d, FilterOptions& f, bool modes = true);

// Reads the options into `out`; at a bad one prints "tpmdiag CMD: error:
// ..." (one line) and returns false.
bool apply_filter_options(const std::string& cmd, const FilterOptions& f, EventFilter& out);

// A time bound as the user writes it, in UTC ms: a timestamp as the logs print
// it (2021-10-29T19:41:05.032Z, with an offset, or "2021-10-29 19:41"), a date
// (2021-10-29: its start, 00:00 UTC), or a time before `now_ms`: 90s, 30m,
// 2h, 3d, 1w. nullopt when it is none of these.
std::optional<int64_t> parse_time_bound(std::string_view text, int64_t now_ms);

// "Filtered by --since 2021-10-29T19:42:00.000Z: 19 TPM lines left out, ...":
// what the filter did, said by every report of a filtered run; "" when none.
std::string filter_summary(const EventFilter& f, const FilterCounts& c);

// After a run: when --host left out lines that name no host, says on stderr
// that assigning a name is --host-name (the meaning --host had before).
void hint_host_name(const std::string& cmd, const FilterCounts& c, bool nothing_kept);

}  // namespace tpmdiag::cli
