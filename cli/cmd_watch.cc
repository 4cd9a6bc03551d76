// tpmdiag watch: follow log files (tail -F) or a never-ending stdin and report
// TPM findings as they happen (issue 7).
#include <unistd.h>

#include <thread>

#include "cli/common.h"
#include "cli/live_sink.h"
#include "cli/live_store_sink.h"
#include "live/receivers.h"

namespace tpmdiag::cli {

namespace {

const char* kWatchHelp = R"(Usage: tpmdiag watch [OPTIONS] [FILE...|FOLDER...|-]

Follows log files like `tail -F` (a file renamed away by rotation is read to
its end, then the new file is followed; a truncated file is read again from
the start; a file that does not exist yet is waited for) and/or reads a
never-ending stdin (rsyslog omprog, a forwarder's lines or JSON Lines).
Writes JSON Lines to stdout as things happen: `finding` once per host, boot
and cause, `resolved` when a later line shows it fixed, `stats` every
--stats-interval seconds and at the end, `error`. See docs/live.md.
On a terminal it writes one line per event instead (time, host, verdict,
cause, confidence, where); --format jsonl|text chooses.

Files are read from their beginning (the current boot's TPM lines are usually
near the top of vmkernel.log); --from-end skips what they hold at start.

A FOLDER (e.g. /var/run/log, or an extracted vm-support bundle) is watched
for its log files (*.log and the bundle's log names, in subfolders too), and
those that appear later are followed from their start; rotated .gz files are
not followed (they do not grow: 'tpmdiag diagnose' reads them).
Only regular files are followed: a FIFO or a device at a path gets one error
record and is not read (a FIFO: pipe it into '-').

Ends on SIGINT/SIGTERM/SIGHUP (what was read is processed for up to 0.8 s,
the rest counted), or when stdin ends if stdin is the only input; the final
stats record is written either way.

Exit codes: 0 ended cleanly (signal), or stdin ended with no open problem;
1 stdin ended with a TPM problem open; 2 usage error, or stdout closed or
blocked (nobody reading it) at shutdown.

Limits (docs/limits.md): SIZE is bytes, or with K, M, G (64K = 65536).

Options)";

}  // namespace

int cmd_watch(const Args& args) {
  CommonOptions common;
  live::WatchOptions wo;
  live::ProcessorOptions po_;
  po_.mode = "watch";
  po::options_description d(kWatchHelp);
  d.add_options()
      ("host-name", po::value(&wo.host), "NAME: host name for lines that do not carry one")
      ("from-end", po::bool_switch(&wo.from_end), "skip what the files already hold (like tail -F)")
      ("poll-interval", po::value(&wo.poll_interval)->default_value(0.2, "0.2"),
       "SECONDS: how often idle files are checked for new lines, rotation and truncation");
  LimitOptions lim;
  lim.size(d, "max-frame", wo.max_frame, 64, uint64_t{1} << 30, "SIZE: longer lines are cut here (counted in stats `cut`)");
  add_host_limit_options(d, lim, po_.limits);
  d.add_options()
      ("min-confidence", po::value(&po_.limits.diagnose.min_confidence)->default_value(0.2, "0.2"),
       "X: report findings with confidence >= X (0..1)")
      ("stats-interval", po::value(&po_.stats_interval)->default_value(10),
       "SECONDS: write a stats record this often (0 = only at the end)")
      ("settle", po::value(&po_.settle)->default_value(0.5, "0.5"),
       "SECONDS: report a host's findings once it has been quiet this long (at the latest twice this long "
       "after its first new fact), so that lines arriving one by one are ranked as 'diagnose' ranks them "
       "(0 = at once)")
      ("help,h", "show this help");
  LiveOutput output;
  add_live_output_options(d, output);
  add_data_options(d, common);
  std::string db_path;
  add_live_db_option(d, db_path);
  po::options_description all;
  all.add(d).add_options()("path", po::value(&wo.paths)->composing(), "input");
  po::positional_options_description pos;
  pos.add("path", -1);
  po::variables_map vm;
  if (!parse_args("watch", args, all, &pos, vm)) return 2;
  if (vm.count("help")) {
    print_help(d);
    return 0;
  }
  output.open();
  if (!lim.apply("watch", vm) || !check_min_confidence("watch", po_.limits.diagnose.min_confidence)) return 2;
  if (wo.paths.empty()) {
    if (isatty(STDIN_FILENO)) {
      std::cerr << "tpmdiag watch: error: no input: name log files, or pipe lines into '-' (see 'tpmdiag watch --help')\n";
      return 2;
    }
    wo.paths.push_back("-");
  }
  // (NaN fails every comparison; 1e-9 would spin, 1e10 or inf overflow the sleep)
  if (!(wo.poll_interval >= 0.01 && wo.poll_interval <= 3600 && po_.stats_interval >= 0 && po_.settle >= 0 &&
        po_.settle <= 3600)) {
    std::cerr << "tpmdiag watch: error: --poll-interval must be 0.01 to 3600 seconds, --stats-interval at least 0, "
                 "--settle 0 to 3600\n";
    return 2;
  }
  po_.max_frame = wo.max_frame;
  auto engine = load_engine(common);
  if (!engine) return 2;

  live::IngestCounters counters;
  live::BatchQueue queue(32u << 20);
  live::Follower follower(wo, counters, queue);
  live::install_stop_signals(follower);
  po_.on_output_error = [&] { follower.stop(); };
  auto sink = StoreTeeSink::open("watch", db_path, args, output.sink());
  if (!sink) return 2;
  live::Processor proc(*engine, po_, counters, *sink);
  StopWatchdog watchdog("watch", counters);
  std::thread io([&] {
    follower.run();
    queue.close();
  });
  bool ok = proc.run(queue);
  io.join();
  if (!ok) return exit_after_stop(2, counters);
  bool only_stdin = wo.paths.size() == 1 && wo.paths[0] == "-";
  if (only_stdin && !follower.stopped() && proc.hosts().open_problems() > 0) return 1;
  return exit_after_stop(0, counters);
}

TPMDIAG_COMMAND("watch", "[FILE...|FOLDER...|-]", "follow logs (tail -F) or stdin: findings as they happen", cmd_watch, 26)

}  // namespace tpmdiag::cli
