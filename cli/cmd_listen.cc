// tpmdiag listen: a syslog receiver that reports TPM findings as they happen (issue 7).
#include <pthread.h>
#include <signal.h>

#include <thread>

#include "cli/common.h"
#include "cli/live_sink.h"
#include "cli/live_store_sink.h"
#include "live/receivers.h"

namespace tpmdiag::cli {

namespace {

const char* kListenHelp = R"(Usage: tpmdiag listen [OPTIONS] [--udp ADDR:PORT] [--tcp ADDR:PORT]

Receives syslog from ESXi hosts or a forwarder (rsyslog, syslog-ng, Vector,
Fluent Bit) and writes JSON Lines to stdout as things happen: a `finding`
record once per host, boot and cause when the evidence is enough, a
`resolved` record when a later line shows it fixed, `stats` records every
--stats-interval seconds and at shutdown, `error` records. See docs/live.md.
On a terminal it writes one line per event instead (time, host, verdict,
cause, confidence, where); --format jsonl|text chooses.

  UDP   one message per datagram (RFC 5426)
  TCP   RFC 6587 octet counting ("LEN SP MSG") or LF-terminated messages,
        detected per frame; an invalid count falls back to LF framing

ADDR:PORT defaults to address 127.0.0.1 when only PORT is given; use
0.0.0.0:PORT (or [::]:PORT) to accept from the network. Port 0 picks a free
port; the bound addresses are printed on stderr ("listening on udp ...").
Without --udp/--tcp: --udp 127.0.0.1:5514 --tcp 127.0.0.1:5514.

SIGINT/SIGTERM/SIGHUP: stop accepting, process what was received and what
the sockets still hold for up to --drain-timeout, write the final stats record
(what was not processed is counted in it), exit 0 (within --drain-timeout + 1 s).

TCP connections are capped below the open-file limit (ulimit -n): those over
the cap are closed at once, what they had sent counted in the stats.

Exit codes: 0 clean shutdown, 2 usage error, a socket could not be bound, or
stdout closed or blocked (nobody reading it) at shutdown.

Limits (docs/limits.md): SIZE is bytes, or with K, M, G (64K = 65536).

Options)";

}  // namespace

int cmd_listen(const Args& args) {
  CommonOptions common;
  live::ListenOptions lo;
  live::ProcessorOptions po_;
  po_.mode = "listen";
  po::options_description d(kListenHelp);
  d.add_options()
      ("udp", po::value(&lo.udp)->composing(), "ADDR:PORT: receive UDP datagrams here (repeatable)")
      ("tcp", po::value(&lo.tcp)->composing(), "ADDR:PORT: accept TCP connections here (repeatable)")
      ("idle-timeout", po::value(&lo.idle_timeout)->default_value(lo.idle_timeout),
       "SECONDS: close a TCP connection silent this long (0 = never)")
      ("drain-timeout", po::value(&lo.drain_timeout)->default_value(lo.drain_timeout, "0.8"),
       "SECONDS: at SIGINT/SIGTERM/SIGHUP, read and process what the sockets still hold for this "
       "long; what is left is counted in stats drop_detail.shutdown_*");
  LimitOptions lim;
  lim.size(d, "max-frame", lo.max_frame, 64, uint64_t{1} << 30,
           "SIZE: longer messages are cut here (counted in stats `cut`)");
  lim.count(d, "max-connections", lo.max_connections, 1, 1 << 20, "N: refuse TCP connections beyond N open ones");
  lim.size(d, "udp-rcvbuf", lo.udp_rcvbuf, 4 << 10, uint64_t{1} << 30,
           "SIZE: SO_RCVBUF to ask for on UDP sockets (capped by net.core.rmem_max)");
  add_host_limit_options(d, lim, po_.limits);
  d.add_options()
      ("min-confidence", po::value(&po_.limits.diagnose.min_confidence)->default_value(0.2, "0.2"),
       "X: report findings with confidence >= X (0..1)")
      ("stats-interval", po::value(&po_.stats_interval)->default_value(10),
       "SECONDS: write a stats record this often (0 = only at shutdown)")
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
  po::variables_map vm;
  if (!parse_args("listen", args, d, nullptr, vm)) return 2;
  if (vm.count("help")) {
    print_help(d);
    return 0;
  }
  output.open();
  if (!lim.apply("listen", vm) || !check_min_confidence("listen", po_.limits.diagnose.min_confidence)) return 2;
  if (!(lo.idle_timeout >= 0 && lo.drain_timeout >= 0 && lo.drain_timeout <= 60 && po_.stats_interval >= 0 &&
        po_.settle >= 0 && po_.settle <= 3600)) {
    std::cerr << "tpmdiag listen: error: --idle-timeout and --stats-interval must be at least 0, "
                 "--drain-timeout 0 to 60, --settle 0 to 3600\n";
    return 2;
  }
  if (lo.udp.empty() && lo.tcp.empty()) {
    lo.udp.push_back("127.0.0.1:5514");
    lo.tcp.push_back("127.0.0.1:5514");
  }
  po_.max_frame = lo.max_frame;
  auto engine = load_engine(common);
  if (!engine) return 2;

  live::IngestCounters counters;
  live::BatchQueue queue(32u << 20);
  auto l = live::Listener::open(lo, counters, queue);
  if (!l) {
    std::cerr << "tpmdiag listen: error: " << l.error().message << '\n';
    return 2;
  }
  live::Listener& listener = **l;
  for (const auto& a : listener.bound()) std::cerr << "tpmdiag listen: listening on " << a << '\n';
  if (listener.max_connections() < lo.max_connections)
    std::cerr << "tpmdiag listen: at most " << listener.max_connections()
              << " TCP connections (--max-connections " << lo.max_connections
              << " is above what the open-file limit, ulimit -n, leaves)\n";
  live::install_stop_signals(listener);
  po_.on_output_error = [&] { listener.stop(); };
  auto sink = StoreTeeSink::open("listen", db_path, args, output.sink());
  if (!sink) return 2;
  live::Processor proc(*engine, po_, counters, *sink);
  // The stop signals are handled on the receiving thread only: its epoll_wait
  // then returns at once and the stop is seen before anything else is read
  // (drain() alone reads after it, within --drain-timeout).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  StopWatchdog watchdog("listen", counters);
  std::thread io([&] {
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
    listener.run();
    queue.close();
  });
  bool ok = proc.run(queue);
  io.join();
  return exit_after_stop(ok ? 0 : 2, counters);
}

TPMDIAG_COMMAND("listen", "[--udp|--tcp A:P]", "syslog receiver: findings as they happen", cmd_listen, 27)

}  // namespace tpmdiag::cli
