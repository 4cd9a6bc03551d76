#!/usr/bin/env python3
"""Load and fault run for `tpmdiag serve` (issue 20, "Done when" for serve).

For --seconds (default 60) it runs against a server it starts:
  - 200 slowloris connections (--slow): each sends a request line and then one
    header line every 6 s, never finishing; when the server closes one, a new
    one takes its place, so 200 are open all the time;
  - 32 clients (--clients) posting the seed bundle (samples/seed-failing, as
    multipart files) over and over; every answer must be the report
    `tpmdiag diagnose --format json samples/seed-failing` gives: the same
    verdict and the same causes;
  - one prober asking GET /healthz on a new connection every 50 ms.
It reports requests served, /healthz p50/p99/max latency, the server's peak
RSS (VmHWM from /proc/PID/status), errors, and the server's own counters,
and exits 1 unless /healthz p99 <= 1 s, peak RSS <= 256 MiB, and every
diagnosis was answered and correct.

  bench/fault_serve.py --tpmdiag build/tpmdiag [--seconds 60] [--slow 200] [--clients 32]
                       [-- SERVER-OPTIONS...]     e.g. -- --threads 2 --header-timeout 5
"""
import argparse
import http.client
import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--tpmdiag", default="build/tpmdiag", help="the binary (default build/tpmdiag)")
ap.add_argument("--seconds", type=float, default=60, help="how long to run (default 60)")
ap.add_argument("--slow", type=int, default=200, help="slowloris connections kept open (default 200)")
ap.add_argument("--slow-interval", type=float, default=6, help="seconds between a slow client's header lines (6)")
ap.add_argument("--clients", type=int, default=32, help="concurrent seed diagnoses (default 32)")
ap.add_argument("--seed", default="samples/seed-failing", help="folder whose files are posted")
ap.add_argument("server_args", nargs="*", help="options for tpmdiag serve (after --)")
args = ap.parse_args()

P99_MAX_S, RSS_MAX_MIB = 1.0, 256


def percentile(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


# What the CLI says of the seed: every answer must say the same.
cli = subprocess.run([args.tpmdiag, "diagnose", "--format", "json", args.seed], capture_output=True)
expected = json.loads(cli.stdout)
want = (expected["verdict"], sorted(f["cause"] for f in expected["findings"]))

files = sorted(f for f in os.listdir(args.seed) if os.path.isfile(os.path.join(args.seed, f)))
boundary = uuid.uuid4().hex
body = b"".join(b"--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
                b"Content-Type: application/octet-stream\r\n\r\n%s\r\n" %
                (boundary.encode(), f.encode(), open(os.path.join(args.seed, f), "rb").read()) for f in files)
body += b"--%s--\r\n" % boundary.encode()

log = tempfile.NamedTemporaryFile(prefix="fault_serve.", suffix=".log")  # the server's stderr
server = subprocess.Popen([args.tpmdiag, "serve", "--listen", "127.0.0.1:0", "--quiet", *args.server_args],
                          stdout=subprocess.DEVNULL, stderr=log)
port = None
for _ in range(200):
    m = re.search(rb"http://127\.0\.0\.1:(\d+)/", open(log.name, "rb").read())
    if m:
        port = int(m.group(1))
        break
    if server.poll() is not None:
        break
    time.sleep(0.05)
if port is None:
    server.kill()
    sys.exit(f"fault_serve: the server did not start: {open(log.name).read().strip()}")
host = f"127.0.0.1:{port}"

stop = threading.Event()
lock = threading.Lock()
stats = {"diagnoses": 0, "wrong": 0, "diag_errors": 0, "healthz_ok": 0, "healthz_errors": 0,
         "slow_opened": 0, "slow_closed_by_server": 0, "slow_408": 0}
errors = {}
healthz_lat = []
diag_lat = []


def count(key, n=1):
    with lock:
        stats[key] += n


def error(kind):
    with lock:
        errors[kind] = errors.get(kind, 0) + 1


def diagnoser():
    conn = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            t0 = time.monotonic()
            conn.request("POST", "/api/diagnose", body=body,
                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
            res = conn.getresponse()
            data = res.read()
            secs = time.monotonic() - t0
            if res.status != 200:
                count("diag_errors")
                error(f"diagnose HTTP {res.status}")
                conn.close()
                conn = None
                continue
            got = json.loads(data)
            ok = (got["verdict"], sorted(f["cause"] for f in got["findings"])) == want
            count("diagnoses")
            if not ok:
                count("wrong")
            with lock:
                diag_lat.append(secs)
            if res.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException, ValueError) as e:
            if stop.is_set():
                break
            count("diag_errors")
            error(f"diagnose {type(e).__name__}")
            if conn:
                conn.close()
            conn = None
            time.sleep(0.05)


def prober():
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/healthz")
            r = c.getresponse()
            r.read()
            c.close()
            secs = time.monotonic() - t0
            with lock:
                healthz_lat.append(secs)
            if r.status == 200:
                count("healthz_ok")
            else:
                count("healthz_errors")
                error(f"healthz HTTP {r.status}")
        except (OSError, http.client.HTTPException) as e:
            with lock:
                healthz_lat.append(time.monotonic() - t0)
            count("healthz_errors")
            error(f"healthz {type(e).__name__}")
        stop.wait(0.05)


def slowloris():
    sel = selectors.DefaultSelector()
    due = {}  # socket -> when it sends its next header line

    def open_one():
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.setblocking(False)
            s.send(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n".encode())
        except OSError:
            error("slowloris connect")
            return
        sel.register(s, selectors.EVENT_READ)
        due[s] = time.monotonic() + args.slow_interval
        count("slow_opened")

    def close_one(s):
        sel.unregister(s)
        due.pop(s, None)
        s.close()

    while not stop.is_set():
        while len(due) < args.slow and not stop.is_set():
            open_one()
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            count("slow_closed_by_server")
            if data.startswith(b"HTTP/1.1 408"):
                count("slow_408")
            close_one(s)
        now = time.monotonic()
        for s, when in list(due.items()):
            if now >= when:
                try:
                    s.send(b"X-Slow: 1\r\n")
                except OSError:
                    pass
                due[s] = now + args.slow_interval
    for s in list(due):
        close_one(s)


threads = [threading.Thread(target=slowloris)]
threads += [threading.Thread(target=prober)]
threads += [threading.Thread(target=diagnoser) for _ in range(args.clients)]
t_start = time.monotonic()
for t in threads:
    t.start()
try:
    while time.monotonic() - t_start < args.seconds and server.poll() is None:
        time.sleep(0.5)
finally:
    stop.set()
for t in threads:
    t.join()
elapsed = time.monotonic() - t_start

counters = {}
try:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/healthz")
    counters = json.loads(c.getresponse().read())
except (OSError, ValueError, http.client.HTTPException):
    pass
peak_kib = 0
alive = server.poll() is None
if alive:
    for line in open(f"/proc/{server.pid}/status"):
        if line.startswith("VmHWM:"):
            peak_kib = int(line.split()[1])
    server.send_signal(signal.SIGTERM)
try:
    rc = server.wait(10)
except subprocess.TimeoutExpired:
    server.kill()
    rc = server.wait()

p50, p99 = percentile(healthz_lat, 50), percentile(healthz_lat, 99)
peak_mib = peak_kib / 1024
print(f"fault_serve: {elapsed:.0f} s against tpmdiag serve {' '.join(args.server_args)} (pid {server.pid}, port {port})")
print(f"  load: {args.slow} slowloris connections (a header line every {args.slow_interval:g} s), "
      f"{args.clients} clients posting {args.seed} ({len(files)} files, {len(body)} bytes), /healthz every 50 ms")
print(f"  diagnoses answered: {stats['diagnoses']} ({stats['diagnoses'] / elapsed:.1f}/s), correct "
      f"{stats['diagnoses'] - stats['wrong']}, wrong {stats['wrong']}, errors {stats['diag_errors']}; "
      f"latency p50 {percentile(diag_lat, 50):.3f} s, p99 {percentile(diag_lat, 99):.3f} s")
print(f"  /healthz: {stats['healthz_ok']} ok, {stats['healthz_errors']} errors; latency p50 {p50 * 1000:.1f} ms, "
      f"p99 {p99 * 1000:.1f} ms, max {max(healthz_lat or [0]) * 1000:.1f} ms")
print(f"  slowloris: {stats['slow_opened']} connections opened, {stats['slow_closed_by_server']} closed by the "
      f"server ({stats['slow_408']} with 408)")
print(f"  server peak RSS (VmHWM): {peak_mib:.1f} MiB; exit {rc} on SIGTERM")
if counters:
    print(f"  server counters: requests {counters.get('requests')}, connections {json.dumps(counters.get('connections'))}")
if errors:
    print(f"  errors: {json.dumps(errors, sort_keys=True)}")
checks = [
    (p99 <= P99_MAX_S, f"/healthz p99 {p99 * 1000:.0f} ms <= {P99_MAX_S * 1000:.0f} ms"),
    (0 < peak_mib <= RSS_MAX_MIB, f"peak RSS {peak_mib:.0f} MiB <= {RSS_MAX_MIB} MiB"),
    (stats["diagnoses"] > 0 and stats["wrong"] == 0 and stats["diag_errors"] == 0,
     f"every seed diagnosis answered and correct ({stats['diagnoses']})"),
    (stats["healthz_errors"] == 0, "every /healthz answered"),
    (alive and rc == 0, "the server ran to the end and stopped cleanly"),
]
for good, what in checks:
    print(f"  {'ok  ' if good else 'FAIL'} {what}")
sys.exit(0 if all(g for g, _ in checks) else 1)
