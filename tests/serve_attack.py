#!/usr/bin/env python3
"""`tpmdiag serve` under slow and hostile clients (issue 20, points 1, 2, 4, 5).

Each case starts its own server on a free port and takes a few seconds:
  slowloris     50 connections sending a header line every 0.5 s and 20 silent
                ones, with one worker: /healthz still answers within 1 s, and
                the server closes them at --header-timeout (408 to the slow)
  cap           past --max-connections the idle ones make room: /healthz
                answers; with none idle the new connection is refused, counted
  headers       a 64 KiB field, 200 fields, an endless header: 431 at once,
                memory flat
  body          Content-Length over --max-body: 413 at once; a chunked body
                and multipart part headers sent chunked: 413 when they pass;
                Expect: 100-continue gets 100 then the answer
  host          a Host that does not name the server: 421 (DNS rebinding);
                the loopback names, the port and --allow-host: served
  sigterm       SIGTERM during a slow diagnosis: exit 0 within ~1 s
  log           a path with %0A and %1b: one access-log line, escaped
  tests/serve_attack.py build/tpmdiag [CASE...]
"""
import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BIN = os.path.realpath(sys.argv[1]) if len(sys.argv) > 1 else sys.exit("usage: serve_attack.py PATH-TO-tpmdiag [CASE...]")
ONLY = set(sys.argv[2:])
TMP = tempfile.mkdtemp(prefix="serve_attack.")
passed = failed = 0


def ok(what):
    global passed
    passed += 1
    print(f"ok   {what}", flush=True)


def bad(what):
    global failed
    failed += 1
    print(f"FAIL {what}", flush=True)


def check(cond, what, why=""):
    ok(what) if cond else bad(f"{what}: {why}" if why else what)
    return cond


class Server:
    def __init__(self, name, *args):
        self.log_path = os.path.join(TMP, name + ".log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", *args],
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        self.port = None
        for _ in range(200):
            m = re.search(rb"http://127\.0\.0\.1:(\d+)/", open(self.log_path, "rb").read())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if self.port is None:
            self.stop()
            raise RuntimeError(f"server did not start: {self.text()!r}")
        self.host = f"127.0.0.1:{self.port}"

    def text(self):
        return open(self.log_path, "rb").read().decode("utf-8", "replace")

    def peak_rss_kib(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def connect(port, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    return s


def read_answer(s, deadline):
    """Reads one answer (status, headers, body) or until the server closes; (None, ...) on time-out."""
    data = b""
    while True:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            head = data[:head_end].decode("latin-1")
            if head.startswith("HTTP/1.1 100 "):
                data = data[head_end + 4:]
                continue
            m = re.search(r"(?im)^content-length:\s*(\d+)", head)
            if m and len(data) >= head_end + 4 + int(m.group(1)):
                status = int(head.split()[1])
                return status, head, data[head_end + 4:head_end + 4 + int(m.group(1))].decode("utf-8", "replace")
        left = deadline - time.monotonic()
        if left <= 0:
            return None, "", "no answer in time"
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return None, "", "no answer in time"
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return None, "", f"closed without an answer after {len(data)} bytes"
        data += chunk


def request(port, raw, timeout=5):
    """Sends raw bytes; returns (status, head, body, seconds)."""
    t0 = time.monotonic()
    with connect(port, timeout) as s:
        s.sendall(raw)
        status, head, body = read_answer(s, t0 + timeout)
    return status, head, body, time.monotonic() - t0


def get(port, path, host=None, timeout=5, extra=""):
    host = host if host is not None else f"127.0.0.1:{port}"
    hostline = f"Host: {host}\r\n" if host else ""
    return request(port, f"GET {path} HTTP/1.1\r\n{hostline}{extra}Connection: close\r\n\r\n".encode(), timeout)


def healthz(port, timeout=5):
    status, _, body, secs = get(port, "/healthz", timeout=timeout)
    return status, (json.loads(body) if status == 200 else {}), secs


def closed_by_server(s, deadline):
    """Waits for the server to close s; returns the bytes it sent first, or None if still open."""
    data = b""
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return None
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    return None


# --- 1. slowloris -----------------------------------------------------------------------
def case_slowloris():
    srv = Server("slowloris", "--threads", "1", "--header-timeout", "2", "--quiet")
    try:
        slow = [connect(srv.port) for _ in range(50)]
        silent = [connect(srv.port) for _ in range(20)]
        for s in slow:
            s.sendall(f"GET /healthz HTTP/1.1\r\nHost: {srv.host}\r\n".encode())
        stop = threading.Event()

        def drip():  # one header line every 0.5 s, as long as the server lets us
            while not stop.wait(0.5):
                for s in slow:
                    try:
                        s.sendall(b"X-Slow: 1\r\n")
                    except OSError:
                        pass
        feeder = threading.Thread(target=drip)
        feeder.start()
        t0 = time.monotonic()
        lat = []
        while time.monotonic() - t0 < 1.8:  # all of it within --header-timeout: every slow one still open
            status, _, secs = healthz(srv.port, timeout=3)
            lat.append(secs if status == 200 else 99)
            time.sleep(0.1)
        check(max(lat) < 1.0, f"/healthz answers while 70 slow connections are open ({len(lat)} probes, "
              f"slowest {max(lat):.2f} s)", "a probe took 1 s or more, or failed")
        deadline = t0 + 4.0  # --header-timeout 2, plus slack
        answers = [closed_by_server(s, deadline) for s in slow]
        stop.set()
        feeder.join()
        got_408 = sum(1 for a in answers if a is not None and a.startswith(b"HTTP/1.1 408"))
        check(got_408 == len(slow), "slow headers get 408 at --header-timeout and are closed",
              f"{got_408} of {len(slow)} got 408 within 4 s")
        quiet = [closed_by_server(s, deadline) for s in silent]
        check(all(q == b"" for q in quiet), "silent connections are closed at --header-timeout, unanswered",
              f"{sum(q is None for q in quiet)} still open")
        status, h, _ = healthz(srv.port)
        check(status == 200 and h["connections"]["header_timeouts"] >= 70, "header time-outs counted in /healthz",
              f"{h.get('connections')}")
        for s in slow + silent:
            s.close()
    finally:
        srv.stop()


# --- connections past --max-connections -------------------------------------------------------
def case_cap():
    srv = Server("cap", "--max-connections", "16", "--header-timeout", "60", "--quiet")
    try:
        idle = [connect(srv.port) for _ in range(40)]
        time.sleep(0.2)
        status, h, secs = healthz(srv.port)
        check(status == 200 and secs < 1.0, f"/healthz answers past --max-connections 16 with 40 idle ({secs:.2f} s)",
              f"HTTP {status}")
        c = h.get("connections", {})
        check(c.get("evicted", 0) >= 24 and c.get("open", 99) <= 16, "idle connections closed to make room, counted",
              f"{c}")
        for s in idle:
            s.close()
    finally:
        srv.stop()
    # None idle: two requests read their body; a third connection is closed at once.
    srv = Server("cap2", "--max-connections", "2", "--timeout", "20", "--quiet")
    try:
        busy = [connect(srv.port) for _ in range(2)]
        for s in busy:
            s.sendall(f"POST /api/diagnose HTTP/1.1\r\nHost: {srv.host}\r\nContent-Length: 100\r\n\r\nabc".encode())
        time.sleep(0.3)
        t0 = time.monotonic()
        extra = connect(srv.port)
        gone = closed_by_server(extra, t0 + 2)
        check(gone == b"", f"no idle one: the new connection is closed at once ({time.monotonic() - t0:.2f} s)",
              "still open" if gone is None else f"got {gone[:40]!r}")
        for s in busy + [extra]:
            s.close()
    finally:
        srv.stop()
    m = re.search(r"refused at --max-connections (\d+)", srv.text())
    check(m is not None and int(m.group(1)) >= 1, "refused connections counted in the final line",
          srv.text().strip().splitlines()[-1:])


# --- 2. header limits -------------------------------------------------------------------------
def case_headers():
    srv = Server("headers", "--quiet")
    try:
        rss0 = srv.peak_rss_kib()
        status, _, body, secs = get(srv.port, "/healthz", extra="X-Big: " + "a" * 65536 + "\r\n")
        check(status == 431 and '"status":431' in body and secs < 1, f"a 64 KiB header field: 431 ({secs:.2f} s)",
              f"HTTP {status} {body[:100]}")
        fields = "".join(f"X-F{i}: v\r\n" for i in range(200))
        status, _, body, secs = get(srv.port, "/healthz", extra=fields)
        check(status == 431 and "too many request header fields" in body, "200 header fields: 431",
              f"HTTP {status} {body[:100]}")
        fields = "".join(f"X-F{i}: {'v' * 100}\r\n" for i in range(50))
        status, _, body, _ = get(srv.port, "/healthz", extra=fields)
        check(status == 200, "50 header fields of 100 bytes: served", f"HTTP {status} {body[:100]}")
        # An endless header: refused once past the limit, while the client still sends.
        t0 = time.monotonic()
        with connect(srv.port) as s:
            s.sendall(f"GET /healthz HTTP/1.1\r\nHost: {srv.host}\r\n".encode())
            s.setblocking(False)
            line = b"X-Flood: " + b"a" * 1000 + b"\r\n"
            chunk, sent, answer = line * 64, 0, b""
            while time.monotonic() - t0 < 5 and sent < (256 << 20) and b"\r\n\r\n" not in answer:
                try:
                    sent += s.send(chunk)
                except (BlockingIOError, InterruptedError):
                    time.sleep(0.001)
                except OSError:
                    pass
                try:
                    more = s.recv(65536)
                    answer += more
                    if not more:
                        break
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    break
        secs = time.monotonic() - t0
        check(answer.startswith(b"HTTP/1.1 431") and secs < 1,
              f"an endless header: 431 after {sent >> 10} KiB sent ({secs:.2f} s)", f"answer {answer[:40]!r}")
        grown = srv.peak_rss_kib() - rss0
        check(grown < 32 << 10, f"memory flat under the header flood (peak RSS +{grown >> 10} MiB)")
    finally:
        srv.stop()


# --- 4. body limits ---------------------------------------------------------------------------
def chunked(data, size=65536):
    return b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + size]), data[i:i + size]) for i in range(0, len(data), size))


def send_until_answer(port, head, body, timeout=5):
    """Sends head, then body as fast as the server takes it, until the server answers."""
    t0 = time.monotonic()
    with connect(port, timeout) as s:
        s.sendall(head)
        s.setblocking(False)
        sent, answer = 0, b""
        while time.monotonic() - t0 < timeout and b"\r\n\r\n" not in answer:
            if sent < len(body):
                try:
                    sent += s.send(body[sent:sent + 262144])
                except (BlockingIOError, InterruptedError):
                    time.sleep(0.001)
                except OSError:
                    sent = len(body)
            else:
                time.sleep(0.005)
            try:
                more = s.recv(65536)
                if not more:
                    break
                answer += more
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                break
    return answer, sent, time.monotonic() - t0


def case_body():
    srv = Server("body", "--max-body", "1M", "--timeout", "10", "--quiet")
    try:
        post = f"POST /api/diagnose HTTP/1.1\r\nHost: {srv.host}\r\n"
        status, _, body, secs = request(srv.port, (post + "Content-Length: 10000000000\r\n\r\n").encode(), timeout=8)
        check(status == 413 and "the limit is 1 MiB" in body and secs < 1,
              f"Content-Length over --max-body: 413 at once, no body sent ({secs:.2f} s)", f"HTTP {status} {body[:80]}")
        status, _, body, secs = request(srv.port, (post + "Content-Length: 2000000\r\nExpect: 100-continue\r\n\r\n").encode())
        check(status == 413 and secs < 1, f"... and with Expect: 100-continue ({secs:.2f} s)", f"HTTP {status}")
        seed = open("samples/seed-failing/hostd.log", "rb").read()
        with connect(srv.port) as s:
            s.sendall((post + f"Content-Length: {len(seed)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n").encode())
            first = s.recv(64)
            s.sendall(seed)
            status, _, body = read_answer(s, time.monotonic() + 10)
        check(first.startswith(b"HTTP/1.1 100 Continue") and status == 200 and "tpm_firmware_outdated" in body,
              "Expect: 100-continue within --max-body: 100, then the diagnosis", f"{first!r} HTTP {status}")
        big = b"x" * (3 << 20)
        answer, sent, secs = send_until_answer(srv.port, (post + "Transfer-Encoding: chunked\r\n\r\n").encode(), chunked(big))
        check(answer.startswith(b"HTTP/1.1 413") and secs < 2,
              f"a chunked body is counted as it arrives: 413 after {sent >> 10} KiB sent ({secs:.2f} s)", f"{answer[:40]!r}")
        # Multipart part headers are body too: 2 MiB of them, sent chunked.
        mp = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.log\"\r\n" +
              b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 1000) for i in range(2048)))
        answer, sent, secs = send_until_answer(
            srv.port, (post + "Content-Type: multipart/form-data; boundary=B\r\nTransfer-Encoding: chunked\r\n\r\n").encode(),
            chunked(mp))
        check(answer.startswith(b"HTTP/1.1 413"), f"multipart part headers sent chunked: 413 ({secs:.2f} s)",
              f"{answer[:60]!r}")
        status, h, _ = healthz(srv.port)
        check(status == 200 and h["connections"]["too_large"] >= 4, "413s counted in /healthz", f"{h.get('connections')}")
    finally:
        srv.stop()


# --- 5. Host ----------------------------------------------------------------------------------
def case_host():
    srv = Server("host", "--allow-host", "tpm.example", "--quiet")
    p = srv.port
    try:
        status, _, body, _ = get(p, "/healthz", host=f"evil.example:{p}")
        check(status == 421 and '"status":421' in body and "--allow-host" in body,
              "Host evil.example (DNS rebinding): 421 with a JSON error", f"HTTP {status} {body[:100]}")
        status, _, body, _ = request(p, f"POST /api/diagnose HTTP/1.1\r\nHost: evil.example:{p}\r\n"
                                        f"Content-Length: 5\r\n\r\nhello".encode())
        check(status == 421, "... and a POST to it", f"HTTP {status}")
        for host in (f"127.0.0.1:{p + 1 if p < 65535 else p - 1}", "tpm.example.evil", f"localhost.evil:{p}", "[::1"):
            status, _, body, _ = get(p, "/healthz", host=host)
            check(status in (400, 421), f"Host {host}: refused", f"HTTP {status}")
        for host in (f"127.0.0.1:{p}", f"localhost:{p}", f"LOCALHOST:{p}", f"[::1]:{p}", "tpm.example", "TPM.example:8443"):
            status, _, body, _ = get(p, "/healthz", host=host)
            check(status == 200, f"Host {host}: served", f"HTTP {status} {body[:100]}")
        status, _, body, _ = get(p, "/healthz", host="")
        check(status == 400, "HTTP/1.1 without Host: 400", f"HTTP {status}")
        status, _, _, _ = request(p, b"GET /healthz HTTP/1.0\r\n\r\n")
        check(status == 200, "HTTP/1.0 without Host: served", f"HTTP {status}")
    finally:
        srv.stop()


# --- 5. SIGTERM during a diagnosis ------------------------------------------------------------
def case_sigterm():
    line = b"2024-05-01T10:00:00.000Z error hostd[2099349] [Originator@6876 sub=Libs] Tpm2Cmd: CreatePrimary: (0x9a2) Unknown\n"
    body = gzip.compress(line * 10000, 9) * 100  # 1,000,000 matching lines: seconds of work, 400 KB sent
    srv = Server("sigterm", "--quiet")
    try:
        s = connect(srv.port, 30)
        s.sendall(f"POST /api/diagnose?name=slow.gz HTTP/1.1\r\nHost: {srv.host}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                  + body)
        busy = False
        t0 = time.monotonic()
        while time.monotonic() - t0 < 5 and not busy:
            status, h, _ = healthz(srv.port)
            busy = h.get("diagnosing", 0) >= 1
            time.sleep(0.05)
        time.sleep(0.3)
        s.setblocking(False)
        try:
            answered = s.recv(1) != b""
        except BlockingIOError:
            answered = False
        check(busy and not answered, "a diagnosis is running", "it ended already, or never started")
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        try:
            rc = srv.proc.wait(10)
        except subprocess.TimeoutExpired:
            rc = None
        secs = time.monotonic() - t0
        check(rc == 0 and secs < 1.5, f"SIGTERM during it: exit {rc} after {secs:.2f} s",
              "expected exit 0 within about 1 s")
        check("abandoned" in srv.text(), "the abandoned diagnosis is reported", srv.text()[-200:])
        s.close()
    finally:
        srv.stop()


# --- 5. access log --------------------------------------------------------------------------
def case_log():
    srv = Server("log")
    try:
        status, _, _, _ = get(srv.port, "/a%0Atpmdiag%20serve:%20127.0.0.1%20GET%20/forged%20200%1b[31mred")
        check(status == 404, "a path with %0A and %1b: 404", f"HTTP {status}")
    finally:
        srv.stop()
    raw = open(srv.log_path, "rb").read()
    lines = [l for l in raw.split(b"\n") if b"forged" in l]
    check(len(lines) == 1 and lines[0].startswith(b"tpmdiag serve: 127.0.0.1 GET /a\\x0atpmdiag"),
          "it is one access-log line, %0A shown as \\x0a", f"{lines!r}")
    check(b"\x1b" not in raw and b"\\x1b[31mred" in raw, "no escape byte reaches the log (%1b shown as \\x1b)",
          f"{raw[-200:]!r}")


cases = {"slowloris": case_slowloris, "cap": case_cap, "headers": case_headers, "body": case_body,
         "host": case_host, "sigterm": case_sigterm, "log": case_log}
for name, fn in cases.items():
    if ONLY and name not in ONLY:
        continue
    t = time.monotonic()
    try:
        fn()
    except Exception as e:  # one case's surprise must not hide the others
        bad(f"{name}: {type(e).__name__}: {e}")
    print(f"     ({name}: {time.monotonic() - t:.1f} s)", flush=True)
shutil.rmtree(TMP, ignore_errors=True)
print(f"serve_attack: {passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)
