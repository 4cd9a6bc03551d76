#!/usr/bin/env python3
"""Load benchmark of `tpmdiag listen` (issue 7). Not a unit test: run it by hand.

  python3 bench/live_load.py --bin build/tpmdiag [--lines 5000000] [--udp-lines 1000000]

What it measures (python3 stdlib only; the generator runs in its own process):
  1. baseline: the generator writing the same frames to a null TCP sink
     (a process that only reads), to know what this machine and the generator
     can do at all, in the same run (the machine is shared and noisy).
  2. TCP: --lines frames (RFC 5424, octet-counted, fixed length, 1000 hosts,
     one TPM line per 1000) to `tpmdiag listen`; sustained rate, loss (sent vs
     the final stats record's `messages`: must be 0), RSS sampled every 0.25 s
     (must stay flat).
  3. SIGTERM under load: a generator sends without end; SIGTERM after 2 s;
     tpmdiag must exit 0 within 2 s, and its final stats must account for every
     byte it received: bytes == messages * frame_length + the bytes of at most
     one incomplete frame per connection (counted in drop_detail.partial_frames).
  4. UDP: --udp-lines datagrams with sequence numbers as fast as the generator
     can; reports what arrived, tpmdiag's SO_RXQ_OVFL drop count, and the
     /proc/net/snmp Udp InErrors/RcvbufErrors deltas (UDP loses datagrams under
     overload by design; the numbers are reported, not judged).
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

FRAME_HOSTS = 1000


def build_block(n_frames, start_seq=0):
    """n_frames octet-counted RFC 5424 frames, all of the same length."""
    frames = []
    for i in range(n_frames):
        seq = start_seq + i
        host = "esx-%04d" % (seq % FRAME_HOSTS)
        if seq % 1000 == 999:
            host = "esx-%04d" % ((seq // 1000) % FRAME_HOSTS)
            text = ("error hostd[2099349] [Originator@6876 sub=Libs] "
                    "Tpm2Cmd: DictionaryAttackLockReset: (0x921) TPM_RC_LOCKOUT")
        else:
            text = ("info hostd[2099349] [Originator@6876 sub=Vimsvc.TaskManager] "
                    "Task Completed : haTask-ha-host-vim.HostSystem.retrieveInternalCapability-%09d" % seq)
        msg = "<166>1 2024-05-01T10:00:00.000Z %s Hostd 2099349 - - %s" % (host, text)
        msg = msg.ljust(200)[:200]  # fixed length: bytes accounting in test 3
        frames.append(("%d %s" % (len(msg), msg)).encode())
    return b"".join(frames), len(frames[0])


def gen_tcp(port, lines):
    block, flen = build_block(10000)
    per = len(block) // flen
    s = socket.create_connection(("127.0.0.1", port))
    sent = 0
    t0 = time.time()
    try:
        while lines == 0 or sent < lines:
            k = per if lines == 0 else min(per, lines - sent)
            s.sendall(block[: k * flen])
            sent += k
    except OSError:
        pass
    dt = time.time() - t0
    try:
        s.close()
    except OSError:
        pass
    print(json.dumps({"sent": sent, "seconds": dt, "frame": flen}), flush=True)


def gen_udp(port, lines):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dst = ("127.0.0.1", port)
    t0 = time.time()
    for seq in range(lines):
        s.sendto(b"<14>1 2024-05-01T10:00:00Z esx-udp bench - - - seq=%d filler filler filler" % seq, dst)
    print(json.dumps({"sent": lines, "seconds": time.time() - t0}), flush=True)


def sink(port_out):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port_out.write("%d\n" % srv.getsockname()[1])
    port_out.flush()
    c, _ = srv.accept()
    buf = bytearray(1 << 20)
    total = 0
    while True:
        n = c.recv_into(buf)
        if n == 0:
            break
        total += n
    print(total, flush=True)


def run_gen(kind, port, lines):
    return subprocess.Popen([sys.executable, __file__, "--gen", kind, str(port), str(lines)],
                            stdout=subprocess.PIPE, text=True)


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def udp_snmp():
    with open("/proc/net/snmp") as f:
        rows = [l.split() for l in f if l.startswith("Udp:")]
    return dict(zip(rows[0][1:], map(int, rows[1][1:])))


class Listener:
    def __init__(self, binary, extra=()):
        self.p = subprocess.Popen([binary, "listen", "--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0",
                                   "--stats-interval", "0.25", *extra],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.tcp = self.udp = None
        while self.tcp is None or self.udp is None:
            line = self.p.stderr.readline()
            if not line:
                raise SystemExit("tpmdiag listen did not start")
            if "listening on tcp" in line:
                self.tcp = int(line.rsplit(":", 1)[1])
            if "listening on udp" in line:
                self.udp = int(line.rsplit(":", 1)[1])
        self.stats = []
        self.other = 0
        self.rss = []
        self.done = False
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._sample, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            rec = json.loads(line)
            if rec["type"] == "stats":
                rec["_t"] = time.time()
                self.stats.append(rec)
            else:
                self.other += 1
        self.done = True

    def _sample(self):
        while self.p.poll() is None:
            r = rss_kb(self.p.pid)
            if r:
                self.rss.append(r)
            time.sleep(0.25)

    def messages(self):
        return self.stats[-1]["messages"] if self.stats else 0

    def wait_messages(self, n, timeout):
        end = time.time() + timeout
        while time.time() < end and self.messages() < n:
            time.sleep(0.05)
        for s in self.stats:
            if s["messages"] >= n:
                return s["_t"]
        return None

    def term(self):
        t0 = time.time()
        self.p.send_signal(signal.SIGTERM)
        rc = self.p.wait(10)
        dt = time.time() - t0
        while not self.done:
            time.sleep(0.01)
        final = [s for s in self.stats if s["final"]]
        return rc, dt, final[-1] if final else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="build/tpmdiag")
    ap.add_argument("--lines", type=int, default=5_000_000)
    ap.add_argument("--udp-lines", type=int, default=1_000_000)
    ap.add_argument("--gen", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.gen:
        kind, port, lines = a.gen
        (gen_tcp if kind == "tcp" else gen_udp)(int(port), int(lines))
        return 0
    if a.sink:
        sink(sys.stdout)
        return 0
    ok = True
    print("machine: %d CPUs, load average %s" % (os.cpu_count(), open("/proc/loadavg").read().split()[:3]))

    # 1. Baseline: generator -> null sink.
    sk = subprocess.Popen([sys.executable, __file__, "--sink"], stdout=subprocess.PIPE, text=True)
    port = int(sk.stdout.readline())
    t0 = time.time()
    g = run_gen("tcp", port, a.lines)
    gres = json.loads(g.stdout.readline())
    g.wait()
    got = int(sk.stdout.readline())
    sk.wait()
    base_dt = time.time() - t0
    base_rate = a.lines / base_dt
    print("baseline  generator -> null TCP sink: %d lines (%d bytes) in %.2f s = %.0f lines/s"
          % (a.lines, got, base_dt, base_rate))

    # 2. TCP load.
    L = Listener(a.bin)
    t0 = time.time()
    g = run_gen("tcp", L.tcp, a.lines)
    gres = json.loads(g.stdout.readline())
    g.wait()
    t_done = L.wait_messages(a.lines, 120)
    rss_during = list(L.rss)
    rc, dt, final = L.term()
    rate = a.lines / ((t_done or time.time()) - t0)
    lost = a.lines - (final["messages"] if final else 0)
    rss_n = len(rss_during)
    early = rss_during[rss_n // 5: rss_n // 2] or rss_during
    late = rss_during[rss_n // 2:] or rss_during
    print("tcp       generator -> tpmdiag listen: %d lines in %.2f s = %.0f lines/s end to end "
          "(%.0f%% of baseline); sender finished in %.2f s" % (a.lines, (t_done or time.time()) - t0, rate,
                                                           100 * rate / base_rate, gres["seconds"]))
    print("          final stats: messages %s, lost %d, facts_total %s, findings %s, hosts %s, evictions %s, "
          "drops %s" % (final and final["messages"], lost, final and final["facts_total"],
                        final and final["findings"], final and final["hosts"], final and final["evictions"],
                        final and final["drops"]))
    print("          RSS (MB): min %.1f, max %.1f, mean of first half %.1f, mean of second half %.1f "
          "(%d samples)" % (min(rss_during) / 1024, max(rss_during) / 1024, sum(early) / len(early) / 1024,
                            sum(late) / len(late) / 1024, rss_n))
    print("          SIGTERM after the load: exit %d in %.2f s" % (rc, dt))
    ok &= lost == 0 and rc == 0 and rate >= 200_000 and max(late) <= 1.25 * max(early) + 8 * 1024

    # 3. SIGTERM during the load.
    L = Listener(a.bin)
    g = run_gen("tcp", L.tcp, 0)
    time.sleep(2)
    before = L.messages()
    rc, dt, final = L.term()
    gres = json.loads(g.stdout.readline())
    g.wait()
    flen = gres["frame"]
    if final:
        rest = final["bytes"] - final["messages"] * flen
        accounted = 0 <= rest < flen and (rest == 0) == (final["drop_detail"]["partial_frames"] == 0)
    else:
        rest, accounted = None, False
    print("sigterm   under load: exit %d in %.2f s; received %s bytes = %s messages x %d + %s bytes of one "
          "incomplete frame (partial_frames %s); %s lines processed before the signal's last stats, "
          "sender had written %d" % (rc, dt, final and final["bytes"], final and final["messages"], flen, rest,
                                     final and final["drop_detail"]["partial_frames"], before, gres["sent"]))
    print("          every received line accounted for: %s" % ("yes" if accounted else "NO"))
    ok &= rc == 0 and dt < 2 and accounted

    # 4. UDP.
    L = Listener(a.bin)
    snmp0 = udp_snmp()
    g = run_gen("udp", L.udp, a.udp_lines)
    gres = json.loads(g.stdout.readline())
    g.wait()
    time.sleep(1)
    rc, dt, final = L.term()
    snmp1 = udp_snmp()
    recv = final["messages"] if final else 0
    print("udp       %d datagrams sent in %.2f s (%.0f/s); tpmdiag received %d, missing %d (%.2f%%); "
          "SO_RXQ_OVFL drops %s; /proc/net/snmp InErrors +%d, RcvbufErrors +%d"
          % (a.udp_lines, gres["seconds"], a.udp_lines / gres["seconds"], recv, a.udp_lines - recv,
             100.0 * (a.udp_lines - recv) / a.udp_lines, final and final["drop_detail"]["udp_kernel"],
             snmp1["InErrors"] - snmp0["InErrors"], snmp1["RcvbufErrors"] - snmp0["RcvbufErrors"]))
    ok &= rc == 0
    print("RESULT: %s" % ("pass" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
