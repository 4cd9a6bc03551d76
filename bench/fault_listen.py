#!/usr/bin/env python3
"""Load-and-fault run against `tpmdiag listen` (issue 20, points 9-11).

  python3 bench/fault_listen.py --bin build/tpmdiag [--seconds 60] [--check] [--only NAME ...]

Each attack starts its own `tpmdiag listen` on free loopback ports, attacks it
for its share of --seconds, stops every sender, then stops the listener with a
signal and reads its final stats record. For every attack it reports messages
sent vs processed + counted drops (from the final stats: `messages` and
`drops`; they must be equal), the listener's peak RSS (VmHWM) and how long it
took to exit after the signal. Attacks:

  conn-flood   under `ulimit -n 64`: waves of connections far past the file
               limit, each sending 2 messages while the listener is paused
               (SIGSTOP), so that they wait in the accept backlog; one steady
               sender streams all along. The listener must not spin (CPU time
               is measured while the flood is held open) and must count every
               refused connection and the messages it had sent.
  udp-backpressure
               stdout is a pipe nobody reads: the processor blocks on it, the
               queue fills, TCP senders are held by backpressure, and a UDP
               flood arrives while the receiver is blocked. Then stdout is read
               again and everything drains.
  sigterm, sighup
               20,000 hosts' TPM lines over 4 TCP connections plus a UDP flood;
               the signal comes while the queue and socket buffers are full.
               The exit must come within --drain-timeout (0.8 s) + 1 s.

Senders stop before the signal (a TCP sender on a frame boundary, or, held
by backpressure, with its half-sent frame counted as sent: the listener counts
it as a partial frame), so every message sent is in the kernel's buffers or
beyond: the equation must hold exactly. With --check, the exit status is 1 when it does
not, when the exit takes longer than 1.8 s, or when the listener spins.
Python 3 standard library only.
"""
import argparse
import bisect
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DRAIN = 0.8
HOSTD = [l.rstrip("\n") for l in open(os.path.join(ROOT, "samples/seed-failing/hostd.log")) if l.strip()]


def frames_block(hosts, first_host=0, tag="h"):
    """Octet-counted RFC 5424 frames: the seed's failing hostd lines for each host."""
    frames = []
    for h in range(first_host, first_host + hosts):
        for line in HOSTD:
            m = "<14>1 2021-10-29T19:41:29.399Z esx-%s%05d Hostd - - - %s" % (tag, h, line)
            m = m.encode()
            frames.append(b"%d %s" % (len(m), m))
    ends, total = [], 0
    for f in frames:
        total += len(f)
        ends.append(total)
    return b"".join(frames), ends


def filler_block(n, size=2000):
    """n octet-counted frames of `size` bytes that no rule matches (fills queues fast)."""
    m = b"<14>1 2024-05-01T10:00:00.000Z esx-fill Hostd - - - " + b"x" * size
    f = b"%d %s" % (len(m), m)
    return f * n, [len(f) * (i + 1) for i in range(n)]


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pause(pid):
    """SIGSTOP, and wait until every thread is stopped: delivery is not immediate."""
    os.kill(pid, signal.SIGSTOP)
    for _ in range(200):
        states = []
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                states.append(f.read().rsplit(") ", 1)[1][0])
        if all(st == "T" for st in states):
            return
        time.sleep(0.01)


def vm_hwm_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Listen:
    def __init__(self, binary, extra=(), nofile=None, read_stdout=True):
        def limits():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.err_path = "/tmp/fault_listen.%d.%d.err" % (os.getpid(), id(self))
        self.p = subprocess.Popen([binary, "listen", "--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0", *extra],
                                  stdout=subprocess.PIPE, stderr=open(self.err_path, "w"), preexec_fn=limits)
        self.tcp = self.udp = None
        end = time.time() + 10
        while (self.tcp is None or self.udp is None) and time.time() < end and self.p.poll() is None:
            time.sleep(0.02)
            for line in open(self.err_path):
                if "listening on tcp" in line:
                    self.tcp = int(line.rsplit(":", 1)[1])
                if "listening on udp" in line:
                    self.udp = int(line.rsplit(":", 1)[1])
        if self.tcp is None or self.udp is None:
            raise SystemExit("tpmdiag listen did not start: " + open(self.err_path).read())
        self.records, self.out_bytes, self.hwm = [], 0, 0
        self.reader = None
        if read_stdout:
            self.read_stdout()

    def read_stdout(self):
        def run():
            for line in self.p.stdout:
                self.out_bytes += len(line)
                if b'"type":"stats"' in line:
                    self.records.append(json.loads(line))
        self.reader = threading.Thread(target=run, daemon=True)
        self.reader.start()

    def stderr(self):
        return open(self.err_path).read()

    def stop(self, sig=signal.SIGTERM):
        """Signal; returns (exit code, seconds to exit, final stats or None)."""
        self.hwm = vm_hwm_kb(self.p.pid)
        t0 = time.time()
        self.p.send_signal(sig)
        try:
            rc = self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        dt = time.time() - t0
        if self.reader:
            self.reader.join(5)
        os.unlink(self.err_path)
        final = [r for r in self.records if r.get("final")]
        return rc, dt, final[-1] if final else None


class TcpSender:
    """Streams a block of frames; counts what it sent; stops on a frame boundary."""

    def __init__(self, port, block, ends, limit_bytes=None, pause=0):
        self.block, self.ends, self.sent_bytes, self.frames = memoryview(block), ends, 0, 0
        self.limit, self.pause, self.stopping, self.error = limit_bytes, pause, threading.Event(), None
        self.s = socket.create_connection(("127.0.0.1", port))
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        n, off = len(self.block), 0
        self.s.settimeout(0.2)
        try:
            while self.limit is None or self.sent_bytes < self.limit:
                if self.stopping.is_set():
                    # Finish the current frame. A receiver held by backpressure
                    # may not take it soon: then its start was sent, and the
                    # receiver, reading what its kernel holds at the end,
                    # counts it as a partial frame (a drop): one message.
                    k = bisect.bisect_left(self.ends, off)
                    if k < len(self.ends) and self.ends[k] == off or off == 0:
                        break
                    self.frames += 1
                    self.s.settimeout(1)
                    try:
                        self.s.sendall(self.block[off:self.ends[k]])
                    except socket.timeout:
                        pass
                    break
                end = n if self.limit is None else min(n, off + self.limit - self.sent_bytes)
                try:
                    k = self.s.send(self.block[off:end])
                except socket.timeout:
                    continue
                before = bisect.bisect_right(self.ends, off)
                off += k
                self.sent_bytes += k
                self.frames += bisect.bisect_right(self.ends, off) - before
                if off == n:
                    off = 0
                    time.sleep(self.pause)
        except OSError as e:
            self.error = e

    def stop(self):
        self.stopping.set()
        self.t.join(15)
        return self.frames


class UdpSender:
    def __init__(self, port, n=None, tag=b"u"):
        self.port, self.n, self.sent, self.stopping = port, n, 0, threading.Event()
        self.tag = tag
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        dst = ("127.0.0.1", self.port)
        while not self.stopping.is_set() and (self.n is None or self.sent < self.n):
            m = b"<14>1 2024-05-01T10:00:00.000Z esx-udp%04d Hostd - - - %s datagram %d" % (
                self.sent % 1000, self.tag, self.sent)
            try:
                s.sendto(m, dst)
            except OSError:
                continue  # ENOBUFS: not sent
            self.sent += 1

    def stop(self):
        self.stopping.set()
        self.t.join(15)
        return self.sent


def result(name, sent, rc, dt, final, hwm, extra=None, problems=()):
    r = {"attack": name, "sent": sent, "exit": rc, "exit_s": round(dt, 2), "peak_rss_mb": round(hwm / 1024, 1)}
    if final:
        r.update(processed=final["messages"], drops=final["drops"],
                 missing=sent - final["messages"] - final["drops"], drop_detail=final["drop_detail"],
                 connections=final["connections"])
    problems = list(problems)
    if final is None:
        problems.append("no final stats record")
    elif r["missing"] != 0:
        problems.append("sent != processed + drops (%+d)" % -r["missing"])
    if rc != 0:
        problems.append("exit code %s" % rc)
    if dt > DRAIN + 1:
        problems.append("exit took %.2f s > %.1f s" % (dt, DRAIN + 1))
    r.update(extra or {})
    r["problems"] = problems
    return r


def conn_flood(binary, seconds):
    """Connection waves past `ulimit -n 64`, each connection sending 2 LF messages."""
    L = Listen(binary, ["--stats-interval", "0.5"], nofile=64)
    steady_block, steady_ends = filler_block(20, size=200)
    steady = TcpSender(L.tcp, steady_block, steady_ends, pause=0.05)  # ~400 light messages/s
    end = time.time() + seconds
    sent_flood = attempts = waves = 0
    spin = []
    held = []
    while True:
        pause(L.p.pid)
        wave = []
        for i in range(200):
            s = socket.create_connection(("127.0.0.1", L.tcp))
            s.sendall(b"<14>1 2024-05-01T10:00:00Z esx-flood Hostd - - - wave %d conn %d a\n"
                      b"<14>1 2024-05-01T10:00:00Z esx-flood Hostd - - - wave %d conn %d b\n" % (waves, i, waves, i))
            wave.append(s)
        attempts += len(wave)
        sent_flood += 2 * len(wave)
        os.kill(L.p.pid, signal.SIGCONT)
        time.sleep(0.3)  # the wave is accepted or refused
        c0 = cpu_s(L.p.pid)
        time.sleep(0.7)  # the wave is held open: an idle listener must stay idle
        spin.append(cpu_s(L.p.pid) - c0)
        for s in held:
            s.close()
        held = wave
        waves += 1
        if time.time() >= end:
            break
    sent = steady.stop() + sent_flood
    time.sleep(0.3)
    rc, dt, final = L.stop()
    for s in held:
        s.close()
    # CPU in the 0.7 s windows: the steady sender keeps the listener a little
    # busy; spinning on EMFILE takes a whole core.
    worst = max(spin)
    problems = ["CPU %.2f s in a 0.7 s window with the flood held: spinning" % worst] if worst > 0.35 else []
    extra = {"waves": waves, "connections_attempted": attempts + 1, "cpu_s_per_0.7s_max": round(worst, 2)}
    if final:
        c = final["connections"]
        if c["total"] + c["rejected"] != attempts + 1:
            problems.append("connections total %d + rejected %d != %d attempted" % (c["total"], c["rejected"], attempts + 1))
        if c["rejected"] == 0:
            problems.append("no connection refused: the flood did not pass the limit")
    return result("conn-flood", sent, rc, dt, final, L.hwm, extra, problems)


def udp_backpressure(binary, seconds):
    """UDP flood while stdout is blocked and TCP backpressure holds the receiver."""
    L = Listen(binary, ["--stats-interval", "0.2", "--settle", "0", "--udp-rcvbuf", "4K"], read_stdout=False)
    hosts_block, hosts_ends = frames_block(400, tag="bp")  # ~400 findings: stdout's pipe fills
    fill_block, fill_ends = filler_block(24000)           # ~48 MB: more than the 32 MiB queue
    block = hosts_block + fill_block
    ends = hosts_ends + [len(hosts_block) + e for e in fill_ends]
    tcp = TcpSender(L.tcp, block, ends, limit_bytes=len(block))
    # Held: the TCP sender makes no progress for a while.
    deadline, last, still = time.time() + max(10, seconds), -1, 0
    while time.time() < deadline and still < 3:
        time.sleep(0.2)
        still = still + 1 if tcp.sent_bytes == last else 0
        last = tcp.sent_bytes
    held = still >= 3 and tcp.sent_bytes < len(block)
    udp = UdpSender(L.udp, tag=b"bp")
    time.sleep(max(0.5, seconds - 1))
    sent_udp = udp.stop()
    L.read_stdout()  # unblock: everything drains
    tcp.t.join(max(30, seconds * 3))
    sent = tcp.frames + sent_udp
    for _ in range(200):  # until processed or counted
        recs = L.records
        if recs and recs[-1]["messages"] + recs[-1]["drops"] >= sent:
            break
        time.sleep(0.05)
    rc, dt, final = L.stop()
    problems = [] if held else ["the TCP sender was never held by backpressure"]
    if final and final["drop_detail"]["udp_kernel"] == 0:
        problems.append("no UDP datagram dropped by the kernel: the fault did not happen")
    extra = {"tcp_sent": tcp.frames, "udp_sent": sent_udp}
    return result("udp-backpressure", sent, rc, dt, final, L.hwm, extra, problems)


def signal_under_load(binary, seconds, sig):
    """Many hosts over TCP plus UDP; senders stop, the signal comes with full buffers."""
    L = Listen(binary, ["--stats-interval", "1"])
    block, ends = frames_block(20000)
    tcps = [TcpSender(L.tcp, block, ends) for _ in range(4)]
    udp = UdpSender(L.udp, tag=b"load")
    time.sleep(seconds)
    sent = sum(t.stop() for t in tcps) + udp.stop()
    rc, dt, final = L.stop(sig)
    return result(signal.Signals(sig).name.lower(), sent, rc, dt, final, L.hwm)


ATTACKS = {
    "conn-flood": lambda b, s: conn_flood(b, s),
    "udp-backpressure": lambda b, s: udp_backpressure(b, s),
    "sigterm": lambda b, s: signal_under_load(b, s, signal.SIGTERM),
    "sighup": lambda b, s: signal_under_load(b, s, signal.SIGHUP),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/tpmdiag"))
    ap.add_argument("--seconds", type=float, default=60, help="total attack time, shared by the attacks")
    ap.add_argument("--only", nargs="+", choices=sorted(ATTACKS), help="run only these attacks")
    ap.add_argument("--check", action="store_true", help="exit 1 when an attack finds a problem")
    a = ap.parse_args()
    names = a.only or list(ATTACKS)
    each = max(1.0, a.seconds / len(names))
    bad = 0
    for name in names:
        t0 = time.time()
        r = ATTACKS[name](a.bin, each)
        r["seconds"] = round(time.time() - t0, 1)
        bad += bool(r["problems"])
        print(("ok   " if not r["problems"] else "FAIL ") + json.dumps(r), flush=True)
    return 1 if a.check and bad else 0


if __name__ == "__main__":
    sys.exit(main())
