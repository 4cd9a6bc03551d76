// tpmdiag listen: a syslog receiver that reports TPM findings as they happen (issue 7).
#include <thread>

#include "cli/common.h"
#include "live/receivers.h"

namespace tpmdiag::cli {

namespace {

const char* kListenHelp = R"(Usage: tpmdiag listen [OPTIONS] [--udp ADDR:PORT] [--tcp ADDR:PORT]

Receives syslog from ESXi hosts or a forwarder (rsyslog, syslog-ng, Vector,
Fluent Bit) and writes JSON Lines to stdout as things happen: a `finding`
record once per host, boot and cause when the evidence is enough, a
`resolved` record when a later line shows it fixed, `stats` records every
--stats-interval seconds and at shutdown, `error` records. See docs/live.md.

  UDP   one message per datagram (RFC 5426)
  TCP   RFC 6587 octet counting ("LEN SP MSG") or LF-terminated messages,
        detected per frame; an invalid count falls back to LF framing

ADDR:PORT defaults to address 127.0.0.1 when only PORT is given; use
0.0.0.0:PORT (or [::]:PORT) to accept from the network. Port 0 picks a free
port; the bound addresses are printed on stderr ("listening on udp ...").
Without --udp/--tcp: --udp 127.0.0.1:5514 --tcp 127.0.0.1:5514.

SIGINT/SIGTERM: stop accepting, process what was received, write the final
stats record, exit 0.

Exit codes: 0 clean shutdown, 2 usage error or a socket could not be bound.

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
      ("max-frame", po::value(&lo.max_frame)->default_value(lo.max_frame),
       "BYTES: longer messages are cut here (counted in stats `cut`)")
      ("idle-timeout", po::value(&lo.idle_timeout)->default_value(lo.idle_timeout),
       "SECONDS: close a TCP connection silent this long (0 = never)")
      ("max-connections", po::value(&lo.max_connections)->default_value(lo.max_connections),
       "N: refuse TCP connections beyond N open ones")
      ("udp-rcvbuf", po::value(&lo.udp_rcvbuf)->default_value(lo.udp_rcvbuf),
       "BYTES: SO_RCVBUF to ask for on UDP sockets (capped by net.core.rmem_max)")
      ("max-hosts", po::value(&po_.limits.max_hosts)->default_value(po_.limits.max_hosts),
       "N: hosts kept; the least recently active one is evicted beyond N")
      ("max-facts-per-host", po::value(&po_.limits.max_facts_per_host)->default_value(po_.limits.max_facts_per_host),
       "N: TPM facts kept per host; the oldest is evicted beyond N")
      ("min-confidence", po::value(&po_.limits.diagnose.min_confidence)->default_value(0.2, "0.2"),
       "X: report findings with confidence >= X (0..1)")
      ("stats-interval", po::value(&po_.stats_interval)->default_value(10),
       "SECONDS: write a stats record this often (0 = only at shutdown)")
      ("help,h", "show this help");
  add_data_options(d, common);
  po::variables_map vm;
  if (!parse_args("listen", args, d, nullptr, vm)) return 2;
  if (vm.count("help")) {
    std::cout << d << '\n';
    return 0;
  }
  if (lo.udp.empty() && lo.tcp.empty()) {
    lo.udp.push_back("127.0.0.1:5514");
    lo.tcp.push_back("127.0.0.1:5514");
  }
  if (lo.max_frame < 64) {
    std::cerr << "tpmdiag listen: error: --max-frame must be at least 64\n";
    return 2;
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
  live::install_stop_signals(listener.stop_fd());
  po_.on_output_error = [&] { listener.stop(); };
  live::Processor proc(*engine, po_, counters, std::cout);
  std::thread io([&] {
    listener.run();
    queue.close();
  });
  bool ok = proc.run(queue);
  io.join();
  return ok ? 0 : 2;
}

TPMDIAG_COMMAND("listen", "[--udp|--tcp A:P]", "syslog receiver: findings as JSON Lines as they happen", cmd_listen, 27)

}  // namespace tpmdiag::cli
