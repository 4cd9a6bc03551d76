#include "cli/filters.h"

#include <chrono>
#include <iostream>
#include <tuple>

#include "cli/term.h"
#include "common/text.h"
#include "parsers/timestamp.h"

namespace tpmdiag::cli {

namespace po = boost::program_options;

void add_filter_options(po::options_description& d, FilterOptions& f, bool modes) {
  d.add_options()
      ("since", po::value(&f.since),
       "TIME: only TPM lines at or after TIME: a timestamp as the logs print it (2021-10-29T19:41:05Z), "
       "a date (2021-10-29, from 00:00 UTC), or a time ago (30m, 2h, 3d, 1w); a line without a time "
       "takes the time of the TPM line before it, and is kept when none came before")
      ("until", po::value(&f.until), "TIME: only TPM lines at or before TIME (as for --since)")
      ("host", po::value(&f.host),
       "GLOB: only the TPM lines of hosts matching GLOB (shell pattern: esx0*, *.lab); to name the host of "
       "lines that carry none, use --host-name");
  if (!modes) return;
  d.add_options()
      ("quiet,q", po::bool_switch(&f.quiet), "print nothing: the exit code says it (0 no problem, 1 problem, 2 error)")
      ("brief", po::bool_switch(&f.brief), "one line per host: host, verdict, top cause, confidence");
}

std::optional<int64_t> parse_time_bound(std::string_view text, int64_t now_ms) {
  if (text.empty()) return std::nullopt;
  // 30m, 2h, ...: counted back from now.
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits > 0 && digits <= 9 && digits + 1 == text.size()) {
    int64_t n = std::stoll(std::string(text.substr(0, digits)));
    int64_t unit = 0;
    switch (text.back()) {
      case 's': unit = 1000; break;
      case 'm': unit = 60'000; break;
      case 'h': unit = 3'600'000; break;
      case 'd': unit = 86'400'000; break;
      case 'w': unit = 7 * 86'400'000LL; break;
      default: return std::nullopt;
    }
    return now_ms - n * unit;
  }
  size_t used = 0;
  if (auto ms = parse_iso8601(text, &used); ms && used == text.size()) return ms;
  // A date alone: YYYY-MM-DD.
  auto num = [&](size_t at, size_t len, unsigned& v) {
    v = 0;
    for (size_t i = at; i < at + len; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      v = v * 10 + static_cast<unsigned>(text[i] - '0');
    }
    return true;
  };
  unsigned y, m, d;
  if (text.size() == 10 && text[4] == '-' && text[7] == '-' && num(0, 4, y) && num(5, 2, m) && num(8, 2, d) &&
      m >= 1 && m <= 12 && d >= 1 && d <= 31)
    return days_from_civil(y, m, d) * 86'400'000;
  return std::nullopt;
}

bool apply_filter_options(const std::string& cmd, const FilterOptions& f, EventFilter& out) {
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  for (auto [name, text, bound] : {std::tuple{"since", &f.since, &out.since_ms}, {"until", &f.until, &out.until_ms}}) {
    if (text->empty()) continue;
    *bound = parse_time_bound(*text, now);
    if (!*bound) {
      std::cerr << "tpmdiag " << cmd << ": error: --" << name << " '" << visible(*text)
                << "' is not a time (a timestamp such as 2021-10-29T19:41:05Z, a date such as 2021-10-29, "
                   "or a time ago: 30m, 2h, 3d, 1w)\n";
      return false;
    }
  }
  if (out.since_ms && out.until_ms && *out.since_ms > *out.until_ms) {
    std::cerr << "tpmdiag " << cmd << ": error: --since " << format_iso8601(*out.since_ms) << " is after --until "
              << format_iso8601(*out.until_ms) << "\n";
    return false;
  }
  out.host_glob = f.host;
  if (f.quiet && f.brief) {
    std::cerr << "tpmdiag " << cmd << ": error: --quiet prints nothing; --brief prints a line per host: give one\n";
    return false;
  }
  return true;
}

std::string filter_summary(const EventFilter& f, const FilterCounts& c) {
  if (!f.active()) return "";
  std::string by;
  if (f.since_ms) by += " --since " + format_iso8601(*f.since_ms);
  if (f.until_ms) by += " --until " + format_iso8601(*f.until_ms);
  if (!f.host_glob.empty()) by += " --host " + visible(f.host_glob);
  std::string s = "Filtered by" + by + ": " + counted(c.dropped, "TPM line") + " left out";
  if (c.untimed_kept) s += ", " + std::to_string(c.untimed_kept) + " kept with no time in them or before them in their input";
  return s + "; this report is about the lines kept.";
}

void hint_host_name(const std::string& cmd, const FilterCounts& c, bool nothing_kept) {
  if (c.dropped_unnamed == 0 || !nothing_kept) return;
  std::cerr << "tpmdiag " << cmd << ": note: --host left out " << c.dropped_unnamed
            << (c.dropped_unnamed == 1 ? " TPM line that names" : " TPM lines that name")
            << " no host; to give such lines a host name, use --host-name NAME\n";
}

}  // namespace tpmdiag::cli
