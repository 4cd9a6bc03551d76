#!/usr/bin/env python3
"""tpmdiag benchmark harness: tpmdiag vs rg/grep/gzip on the same corpus, in one run.

  bench/run.py --tpmdiag build/tpmdiag --size 1G --runs 5            # issue 8 targets
  bench/run.py --quick                                                # CI smoke: 64 MiB, 2 runs
  bench/run.py --size 1G --rules-x10 auto                             # + cost of 10x rules
  bench/run.py --bundles 40 --jobs 1,2                                # `tpmdiag scan` throughput
  bench/run.py --baseline-only                                        # rg/grep/gzip only

What it does (corpus mode):
  1. generates the corpus with bench/gen_corpus.py, or reuses it from bench/.cache/
     (keyed by format, size and seed; regenerated when the generator version changes);
  2. reads the corpus and its .gz once (hot page cache), checks `rg -c -i tpm` against the
     generator's own count;
  3. runs every command --runs times, round-robin (rg, grep, tpmdiag file, tpmdiag stdin,
     gzip -dc, tpmdiag .gz, paste, [tpmdiag --rules x10]), measuring wall time (perf_counter
     around fork/exec/wait) and peak RSS + CPU time (os.wait4 rusage of the child);
  4. checks tpmdiag's JSON against the truth file: every injected incident's cause must be
     reported with at least one evidence line inside the incident's line range (file, stdin
     and .gz inputs, and with --rules x10);
  5. prints a Markdown report (medians, min/max, GB/s, RSS, ratios vs the baselines, targets);
     --write also stores it in bench/results.md.

Targets (issue 8): tpmdiag wall <= 1.33 x rg (file and stdin); peak RSS <= 64 MiB (file and
stdin); tpmdiag on .gz >= 2x faster than `gzip -dc`; one pasted line <= 30 ms; all injected
incidents found; 10x rules cost <= 10 % of scan throughput (with --rules-x10; the fixed start-up
of compiling them is measured on the corpus' first 4 MiB and reported beside it, with the wall-time
cost on the whole corpus).  --quick fails only on correctness.

Exit status: 0 all checked targets met (or skipped); 1 a target missed; 2 setup/usage error
(e.g. tpmdiag binary missing without --baseline-only).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True      # keep bench/ free of __pycache__
import gen_corpus  # noqa: E402

PASTE_LINE = "CreatePrimary: (0x9a2) Unknown"
MiB = 1 << 20

TARGET_WALL_VS_RG = 1.33
TARGET_RSS_MIB = 64
TARGET_GZ_SPEEDUP = 2.0
TARGET_PASTE_S = 0.030
TARGET_X10_COST = 0.10


def log(msg: str):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# measuring one process
# ---------------------------------------------------------------------------------------

class Result:
    __slots__ = ("wall", "maxrss_kib", "cpu", "rc", "err", "timed_out")

    def __init__(self, wall, maxrss_kib, cpu, rc, err, timed_out=False):
        self.wall, self.maxrss_kib, self.cpu, self.rc, self.err, self.timed_out = wall, maxrss_kib, cpu, rc, err, timed_out


TIME_BIN = "/usr/bin/time"


def measure_rss(argv, stdin_path=None, stdin_bytes=None, stdout_path=None, timeout=600.0) -> Result:
    """Like measure(), but peak RSS comes from GNU time (%M) run as a small intermediate.

    A child forked from this Python process starts with the parent's pages counted in its
    RSS and Linux keeps that high-water mark across exec, so wait4's ru_maxrss would report
    at least the harness's own size (~40 MiB).  /usr/bin/time is small, and the command it
    forks only inherits that.  Wall and CPU times from this run are not used for timing."""
    if not os.access(TIME_BIN, os.X_OK):
        r = measure(argv, stdin_path, stdin_bytes, stdout_path, timeout)
        r.err = "(no /usr/bin/time: RSS includes the harness) " + r.err
        return r
    fd, rss_file = tempfile.mkstemp(prefix="bench-rss-")
    os.close(fd)
    try:
        r = measure([TIME_BIN, "-q", "-f", "%M", "-o", rss_file] + argv, stdin_path, stdin_bytes, stdout_path, timeout)
        try:
            with open(rss_file) as f:
                vals = [ln.strip() for ln in f if ln.strip()]
            r.maxrss_kib = int(vals[-1])
        except (OSError, ValueError, IndexError):
            pass
        # GNU time exits 128+N when the command was killed by signal N; report it as -N like
        # subprocess does (commands under test never exit > 128 on their own)
        if r.rc > 128:
            r.rc = -(r.rc - 128)
        return r
    finally:
        os.remove(rss_file)


def measure(argv, stdin_path=None, stdin_bytes=None, stdout_path=None, timeout=600.0) -> Result:
    """Run argv once; wall time from just before fork to wait4; rusage of the child.
    (ru_maxrss here includes the harness's size, see measure_rss.)"""
    stdin = subprocess.DEVNULL
    fin = None
    if stdin_path is not None:
        fin = open(stdin_path, "rb")
        stdin = fin
    elif stdin_bytes is not None:
        stdin = subprocess.PIPE
    fout = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    ferr = tempfile.TemporaryFile()
    timed_out = [False]
    try:
        t0 = time.perf_counter()
        try:
            p = subprocess.Popen(argv, stdin=stdin, stdout=fout, stderr=ferr, start_new_session=True)
        except OSError as e:
            return Result(0.0, 0, 0.0, 127, str(e))

        def kill():
            timed_out[0] = True
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        if stdin_bytes is not None:
            try:
                p.stdin.write(stdin_bytes)
                p.stdin.close()
            except BrokenPipeError:
                pass
        _, status, ru = os.wait4(p.pid, 0)
        t1 = time.perf_counter()
        timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        ferr.seek(0)
        err = ferr.read(4000).decode("utf-8", "replace")
        return Result(t1 - t0, ru.ru_maxrss, ru.ru_utime + ru.ru_stime, p.returncode, err, timed_out[0])
    finally:
        if fin:
            fin.close()
        if stdout_path:
            fout.close()
        ferr.close()


def warm(path: str):
    with open(path, "rb", buffering=0) as f:
        while f.read(16 * MiB):
            pass


def first_line(cmd) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except Exception:
        return "?"


def machine_info() -> dict:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = open("/proc/loadavg").read().split()[:3]
    except OSError:
        load = ["?"]
    return {"cpu": cpu, "ncpu": os.cpu_count(), "kernel": platform.release(), "load": " ".join(load),
            "rg": first_line(["rg", "--version"]), "grep": first_line(["grep", "--version"]),
            "gzip": first_line(["gzip", "--version"]), "python": platform.python_version(),
            "locale": os.environ.get("LC_ALL") or os.environ.get("LANG") or "(unset)"}


# ---------------------------------------------------------------------------------------
# corpus + truth
# ---------------------------------------------------------------------------------------

def human_size(n: int) -> str:
    for unit, f in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= f and n % f == 0:
            return f"{n // f}{unit}"
    return str(n)


def source_stamp(*names) -> str:
    """Hash of the generator sources: a cached corpus is reused only if they are unchanged."""
    h = hashlib.sha256()
    for n in names:
        with open(os.path.join(HERE, n), "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def stamp_ok(path: str, stamp: str) -> bool:
    try:
        with open(path) as f:
            return f.read().strip() == stamp
    except OSError:
        return False


def ensure_corpus(cache: str, size: int, seed: int, fmt: str, regen: bool, mix: str | None = None,
                  gz: bool = True):
    os.makedirs(cache, exist_ok=True)
    tag = "" if mix is None else "-mix-" + "".join(c if c.isalnum() or c in "-=." else "_" for c in mix)
    base = os.path.join(cache, f"corpus-esxi{fmt}-{human_size(size)}-s{seed}{tag}")
    log_path, gz_path, truth_path = base + ".log", base + ".log.gz", base + ".truth.json"
    stamp_path, stamp = base + ".stamp", source_stamp("gen_corpus.py")
    ok = False
    if not regen and os.path.exists(truth_path) and stamp_ok(stamp_path, stamp):
        try:
            with open(truth_path) as f:
                t = json.load(f)
            ok = (t.get("generator_version") == gen_corpus.GENERATOR_VERSION and t.get("requested_size") == size
                  and os.path.getsize(log_path) == t["bytes"] and (not gz or os.path.getsize(gz_path) > 0))
        except (OSError, ValueError, KeyError):
            ok = False
    if not ok:
        for p in (stamp_path, truth_path, log_path, gz_path):
            if os.path.exists(p):
                os.remove(p)
        log(f"generating corpus {log_path} ({human_size(size)}, seed {seed}, ESXi {fmt}) ...")
        t0 = time.time()
        cmd = [sys.executable, os.path.join(HERE, "gen_corpus.py"), "--size", str(size), "--seed", str(seed),
               "--format", fmt, "--out", log_path, "--truth", truth_path]
        cmd += ["--gzip"] if gz else []
        cmd += ["--mix", mix] if mix is not None else []
        subprocess.run(cmd, check=True)
        with open(stamp_path, "w") as f:
            f.write(stamp + "\n")
        log(f"corpus generated in {time.time() - t0:.1f} s")
    else:
        log(f"reusing cached corpus {log_path}")
    with open(truth_path) as f:
        truth = json.load(f)
    return log_path, gz_path, truth


def collect_findings(doc):
    """All (cause, line, rule) from any object that has a string 'cause' and an 'evidence' list,
    wherever it sits (findings[], hosts[].boots[]...)."""
    found = []

    def walk(o):
        if isinstance(o, dict):
            cause = o.get("cause")
            ev = o.get("evidence")
            if isinstance(cause, str) and isinstance(ev, list):
                for e in ev:
                    if isinstance(e, dict) and isinstance(e.get("line"), int):
                        found.append((cause, e["line"], str(e.get("rule", ""))))
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    walk(doc)
    return found


def check_incidents(json_path: str, truth: dict, label: str) -> dict:
    """Compare tpmdiag's JSON with the truth.  Returns a dict with ok, found, total, missing..."""
    res = {"label": label, "ok": False, "verdict": None, "found": 0, "exact": 0, "total": len(truth["incidents"]),
           "missing": [], "error": None, "x10_hits": 0, "findings": 0}
    try:
        with open(json_path, "rb") as f:
            doc = json.loads(f.read().decode("utf-8", "replace"))
    except (OSError, ValueError) as e:
        res["error"] = f"output is not JSON ({e})"
        return res
    if isinstance(doc, dict) and isinstance(doc.get("verdict"), str):
        res["verdict"] = doc["verdict"]
    found = collect_findings(doc)
    res["findings"] = len(found)
    res["x10_hits"] = sum(1 for _, _, rule in found if "_x10_" in rule)
    by_cause = {}
    for cause, line, _ in found:
        by_cause.setdefault(cause, []).append(line)
    for c in by_cause.values():
        c.sort()
    for inc in truth["incidents"]:
        lines = by_cause.get(inc["cause"], [])
        hit = any(inc["first_line"] <= ln <= inc["last_line"] for ln in lines)
        if hit:
            res["found"] += 1
            if set(lines) & set(inc["lines"]):
                res["exact"] += 1
        else:
            res["missing"].append(f"{inc['cause']}@{inc['first_line']}-{inc['last_line']}")
    res["ok"] = res["found"] == res["total"] and res["x10_hits"] == 0
    return res


# ---------------------------------------------------------------------------------------
# tpmdiag discovery
# ---------------------------------------------------------------------------------------

def find_tpmdiag(path: str):
    cands = [path] if os.path.isabs(path) else [os.path.abspath(path), os.path.join(REPO, path)]
    for c in cands:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def tpmdiag_missing_msg(path: str) -> str:
    return (f"tpmdiag binary not found or not executable at '{path}' (also looked in {REPO}). "
            f"Build it first (e.g. cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j), "
            f"pass --tpmdiag PATH, or use --baseline-only to measure rg/grep/gzip alone.")


# ---------------------------------------------------------------------------------------
# report helpers
# ---------------------------------------------------------------------------------------

def med(rs):
    return statistics.median(r.wall for r in rs) if rs else float("nan")


def fmt_s(x):
    return "–" if x != x else (f"{x:.3f}" if x >= 0.01 else f"{x * 1000:.1f} ms")


class Report:
    def __init__(self):
        self.lines = []

    def add(self, s=""):
        self.lines.append(s)

    def text(self):
        return "\n".join(self.lines) + "\n"


def summarize(name, rs, nbytes):
    walls = [r.wall for r in rs]
    m = statistics.median(walls)
    rss = max(r.maxrss_kib for r in rs) / 1024
    cpu = statistics.median(r.cpu for r in rs)
    gbs = (nbytes / m / 1e9) if (nbytes and m > 0) else float("nan")
    return {"name": name, "median": m, "min": min(walls), "max": max(walls), "rss": rss, "cpu": cpu, "gbs": gbs,
            "rcs": sorted(set(r.rc for r in rs)), "n": len(rs)}


# ---------------------------------------------------------------------------------------
# corpus mode
# ---------------------------------------------------------------------------------------

def corpus_mode(args) -> int:
    quick = args.quick
    size = args.size or (64 * MiB if quick else 1 << 30)
    runs = args.runs or (2 if quick else 5)
    cache = args.cache
    tpmdiag = None
    if not args.baseline_only:
        tpmdiag = find_tpmdiag(args.tpmdiag)
        if tpmdiag is None:
            log("error: " + tpmdiag_missing_msg(args.tpmdiag))
            return 2
    for tool in ("rg", "grep", "gzip"):
        if shutil.which(tool) is None:
            log(f"error: {tool} not found in PATH")
            return 2
    corpus, gz, truth = ensure_corpus(cache, size, args.seed, args.format, args.regen)
    nbytes = truth["bytes"]
    info = machine_info()
    log("warming the page cache ...")
    warm(corpus)
    warm(gz)
    outdir = tempfile.mkdtemp(prefix="tpmdiag-bench-")
    try:
        # sanity: rg count == generator count
        rg_out = os.path.join(outdir, "rg.txt")
        r = measure(["rg", "-c", "-i", "tpm", corpus], stdout_path=rg_out)
        rg_count = int(open(rg_out).read().strip() or 0)
        if rg_count != truth["tpm_lines"]:
            log(f"warning: rg -c -i tpm says {rg_count}, the generator counted {truth['tpm_lines']}")

        rules_dir = None
        if args.rules_x10 and tpmdiag:
            rules_dir = ensure_rules_x10(args.rules_x10, cache, corpus, tpmdiag)
            if rules_dir is None:
                return 2

        cmds = []      # (key, label, argv, stdin_path, stdin_bytes, json_out)
        cmds.append(("rg", "`rg -c -i tpm FILE`", ["rg", "-c", "-i", "tpm", corpus], None, None, False))
        cmds.append(("grep", "`grep -c -i tpm FILE`", ["grep", "-c", "-i", "tpm", corpus], None, None, False))
        cmds.append(("gzip", "`gzip -dc FILE.gz > /dev/null`", ["gzip", "-dc", gz], None, None, False))
        if tpmdiag:
            cmds.append(("file", "`tpmdiag diagnose --format json FILE`",
                         [tpmdiag, "diagnose", "--format", "json", corpus], None, None, True))
            cmds.append(("stdin", "`tpmdiag diagnose --format json - < FILE`",
                         [tpmdiag, "diagnose", "--format", "json", "-"], corpus, None, True))
            cmds.append(("gz", "`tpmdiag diagnose --format json FILE.gz`",
                         [tpmdiag, "diagnose", "--format", "json", gz], None, None, True))
            cmds.append(("paste", f"`echo '{PASTE_LINE}' \\| tpmdiag diagnose -`",
                         [tpmdiag, "diagnose", "-"], None, (PASTE_LINE + "\n").encode(), False))
            if rules_dir:
                cmds.append(("x10", "`tpmdiag diagnose --format json --rules X10 FILE`",
                             [tpmdiag, "diagnose", "--format", "json", "--rules", rules_dir, corpus], None, None, True))
                # The same two on the corpus' first 4 MiB measure the fixed start-up (rule
                # compilation, key choice), so the throughput of the scan can be told from it.
                head = ensure_head(cache, corpus)
                cmds.append(("start", "`tpmdiag diagnose --format json HEAD` (HEAD: FILE's first 4 MiB)",
                             [tpmdiag, "diagnose", "--format", "json", head], None, None, False))
                cmds.append(("x10start", "`tpmdiag diagnose --format json --rules X10 HEAD`",
                             [tpmdiag, "diagnose", "--format", "json", "--rules", rules_dir, head], None, None, False))
        cmds.append(("true", "`true` (process spawn, reference)", ["true"], None, None, False))

        # warm-up run per command: output for the correctness checks + peak RSS (via GNU time)
        first_out, first_rc, rss, broken = {}, {}, {}, {}
        log(f"warm-up run of {len(cmds)} commands (outputs, peak RSS) ...")
        for key, label, argv, sp, sb, is_json in cmds:
            out = os.path.join(outdir, f"{key}.first.out")
            res = measure_rss(argv, stdin_path=sp, stdin_bytes=sb, stdout_path=out, timeout=args.timeout)
            first_out[key] = out
            rss[key] = res.maxrss_kib / 1024
            first_rc[key] = res.rc
            if res.timed_out or res.rc not in runnable_rc(key):
                tail = res.err.strip().splitlines()
                why = "timed out" if res.timed_out else f"exit {describe_rc(res.rc)}"
                broken[key] = why + (f": {tail[-1][:200]}" if tail else "")
                log(f"{key}: {broken[key]}; not timing it")
        results = {c[0]: [] for c in cmds if c[0] not in broken}
        log(f"{runs} timed runs x {len(results)} commands, round-robin ...")
        # Each round runs every command once, in an order shuffled per round (fixed seed) so
        # that no command always follows the same neighbour (e.g. the CPU-heavy gzip -dc);
        # the x10 runs stay next to the plain FILE run so their ratios are taken pairwise.
        by_key = {c[0]: c for c in cmds}
        pair = [k for k in ("x10", "start", "x10start") if k in by_key]
        units = [[k] for k in by_key if k not in pair]
        units = [u + pair if u == ["file"] else u for u in units]
        order_rng = random.Random(12345)
        for i in range(runs):
            order_rng.shuffle(units)
            order = [k for u in units for k in (order_rng.sample(u, len(u)) if len(u) > 1 else u)]
            for key in order:
                key, label, argv, sp, sb, is_json = by_key[key]
                if key not in results:
                    continue
                out = os.path.join(outdir, f"{key}.run.out")
                res = measure(argv, stdin_path=sp, stdin_bytes=sb, stdout_path=out, timeout=args.timeout)
                results[key].append(res)
                if res.timed_out or res.rc not in runnable_rc(key):
                    log(f"{key}: run {i + 1}: exit {describe_rc(res.rc)}{' (timed out)' if res.timed_out else ''}")
            log(f"run {i + 1}/{runs} done")

        # ---------------- correctness ----------------
        checks, verdict_rows = [], []
        if tpmdiag:
            for key in ("file", "stdin", "gz", "x10"):
                if key in first_out:
                    c = check_incidents(first_out[key], truth, key)
                    if key in broken:
                        c["ok"] = False
                        c["error"] = f"tpmdiag {broken[key]}"
                    checks.append(c)
                    # the overall verdict and exit status (DESIGN.md §5) for the same run
                    want_v = truth.get("expected_verdict")
                    want_rc = 1 if want_v == "problem" else 0
                    got_rc = first_rc.get(key)
                    ok = got_rc == want_rc and (c.get("verdict") in (None, want_v))
                    verdict_rows.append((f"verdict and exit status ({key})",
                                         f"verdict {c.get('verdict')}, exit {describe_rc(got_rc)}",
                                         f"{want_v}, exit {want_rc}", ok, True))

        # ---------------- report ----------------
        S = {k: summarize(k, v, nbytes if k not in ("paste", "true") else 0) for k, v in results.items() if v}
        for k in S:
            S[k]["rss"] = rss.get(k, float("nan"))
        rep = Report()
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        rep.add(f"## tpmdiag benchmark ({'quick' if quick else 'full'}) — {now}")
        rep.add()
        gzsize = os.path.getsize(gz)
        rep.add(f"- corpus: `{os.path.relpath(corpus, REPO)}` — {nbytes / (1 << 30):.3f} GiB ({nbytes:,} bytes), "
                f"{truth['lines']:,} lines, ESXi {truth['format']}, seed {truth['seed']}, "
                f"{len(truth['boots'])} boots, {len(truth['incidents'])} injected incidents, "
                f"{truth['tpm_lines']:,} lines match `tpm` (rg: {rg_count:,}); .gz {gzsize / MiB:.0f} MiB "
                f"(ratio {nbytes / gzsize:.1f})")
        rep.add(f"- machine: {info['cpu']}, {info['ncpu']} CPUs, Linux {info['kernel']}, load avg at start "
                f"{info['load']}; {info['rg']}; {info['grep']}; {info['gzip']}; locale {info['locale']}")
        if tpmdiag:
            rep.add(f"- tpmdiag: `{os.path.relpath(tpmdiag, REPO)}` ({first_line([tpmdiag, '--version'])})")
        rep.add(f"- method: {runs} rounds, each running every command once in a shuffled order, in one session; "
                f"hot page cache (one warm-up read); "
                f"wall = fork to exit; peak RSS from one extra warm-up run under GNU time (a fork of the harness would inherit its RSS); shared/noisy machine: compare ratios, "
                f"not absolute times")
        rep.add()
        rep.add("| command | median | min | max | GB/s | CPU s | peak RSS MiB | exit | ratio |")
        rep.add("|---|---:|---:|---:|---:|---:|---:|---:|---|")
        rg_m = S["rg"]["median"] if "rg" in S else float("nan")
        gz_m = S["gzip"]["median"] if "gzip" in S else float("nan")
        file_m = S["file"]["median"] if "file" in S else float("nan")
        # 10x rules: wall on FILE, the fixed start-up (from the HEAD runs), and the throughput
        # of the scan, i.e. wall minus start-up, each a median of per-round pairs.
        x10_cost = x10_wall = x10_start = float("nan")
        if all(k in S for k in ("x10", "file", "start", "x10start")):
            rounds = list(zip(results["x10"], results["file"], results["x10start"], results["start"]))
            x10_wall = statistics.median(x.wall / f.wall for x, f, _, _ in rounds) - 1
            x10_start = statistics.median(xs.wall - fs.wall for _, _, xs, fs in rounds)
            x10_cost = statistics.median((x.wall - xs.wall) / (f.wall - fs.wall) for x, f, xs, fs in rounds) - 1
        for key, label, *_ in cmds:
            if key in broken:
                rep.add(f"| {label} | not timed: {broken[key]} | | | | | | | |")
                continue
            if key not in S:
                continue
            s = S[key]
            ratio = ""
            if key in ("grep", "file", "stdin"):
                ratio = f"{s['median'] / rg_m:.2f} × rg"
            elif key == "gz":
                ratio = f"{gz_m / s['median']:.2f}× faster than gzip -dc"
            elif key == "x10":
                ratio = (f"wall {x10_wall * 100:+.1f} %, scan throughput {x10_cost * 100:+.1f} % vs tpmdiag FILE "
                         f"(medians of per-round pairs)")
            elif key == "x10start":
                ratio = f"start-up {x10_start * 1000:+.0f} ms vs tpmdiag HEAD"
            gbs = "" if s["gbs"] != s["gbs"] or key in ("start", "x10start") else f"{s['gbs']:.2f}"
            rep.add(f"| {label} | {fmt_s(s['median'])} | {fmt_s(s['min'])} | {fmt_s(s['max'])} | {gbs} | "
                    f"{s['cpu']:.3f} | {s['rss']:.1f} | {','.join(map(str, s['rcs']))} | {ratio} |")
        rep.add()
        rep.add("GB/s = uncompressed corpus bytes / median wall (also for the .gz rows). "
                "Peak RSS is from the warm-up run under GNU time; exit = statuses seen in the timed runs.")
        rep.add()

        targets = []    # (name, measured, limit, ok, hard)
        hard_speed = not quick
        if tpmdiag:
            def not_measured(key):
                return f"not measured ({broken[key]})" if key in broken else "not measured"

            for key, what in (("file", "FILE"), ("stdin", "stdin")):
                limit = f"≤ {TARGET_WALL_VS_RG}×"
                if key in S:
                    x = S[key]["median"] / rg_m
                    targets.append((f"tpmdiag {what} wall vs rg", f"{x:.2f}×", limit, x <= TARGET_WALL_VS_RG, hard_speed))
                else:
                    targets.append((f"tpmdiag {what} wall vs rg", not_measured(key), limit, False, True))
            for key, what in (("file", "FILE"), ("stdin", "stdin")):
                limit = f"≤ {TARGET_RSS_MIB} MiB"
                if key in S:
                    x = S[key]["rss"]
                    targets.append((f"tpmdiag {what} peak RSS", f"{x:.1f} MiB", limit, x <= TARGET_RSS_MIB, hard_speed))
                else:
                    targets.append((f"tpmdiag {what} peak RSS", not_measured(key), limit, False, True))
            limit = f"≥ {TARGET_GZ_SPEEDUP}×"
            if "gz" in S:
                x = gz_m / S["gz"]["median"]
                targets.append(("tpmdiag .gz speed-up vs gzip -dc", f"{x:.2f}×", limit, x >= TARGET_GZ_SPEEDUP, hard_speed))
            else:
                targets.append(("tpmdiag .gz speed-up vs gzip -dc", not_measured("gz"), limit, False, True))
            limit = f"≤ {TARGET_PASTE_S * 1000:.0f} ms"
            if "paste" in S:
                x = S["paste"]["median"]
                targets.append(("one pasted line", f"{x * 1000:.1f} ms (exit {','.join(map(str, S['paste']['rcs']))})",
                                limit, x <= TARGET_PASTE_S, hard_speed))
            else:
                targets.append(("one pasted line", not_measured("paste"), limit, False, True))
            if rules_dir:
                limit = f"≤ {TARGET_X10_COST * 100:.0f} %"
                if x10_cost == x10_cost:
                    x = x10_cost
                    targets.append(("10× rules throughput cost (scan; the fixed start-up reported beside it)",
                                    f"{x * 100:+.1f} % (wall on FILE {x10_wall * 100:+.1f} %, of which start-up "
                                    f"{x10_start * 1000:+.0f} ms)", limit, x <= TARGET_X10_COST, hard_speed))
                else:
                    targets.append(("10× rules throughput cost", not_measured("x10"), limit, False, True))
            for c in checks:
                if c["error"]:
                    m = c["error"]
                else:
                    m = f"{c['found']}/{c['total']} found ({c['exact']} on a failure line), {c['findings']} evidence refs"
                    if c["missing"]:
                        m += "; missing: " + ", ".join(c["missing"][:6]) + (" …" if len(c["missing"]) > 6 else "")
                    if c["x10_hits"]:
                        m += f"; {c['x10_hits']} evidence lines from x10 variant rules"
                targets.append((f"injected incidents found ({c['label']})", m, "all", c["ok"], True))
            targets.extend(verdict_rows)
        rep.add("| target | measured | limit | result |")
        rep.add("|---|---|---|---|")
        failed = 0
        for name, measured, limit, ok, hard in targets:
            if ok:
                res = "PASS"
            elif hard:
                res = "**FAIL**"
                failed += 1
            else:
                res = "miss (quick: not enforced)"
            rep.add(f"| {name} | {measured} | {limit} | {res} |")
        if not tpmdiag:
            rep.add("| tpmdiag targets | not run (--baseline-only) | | SKIPPED |")
        rep.add()
        try:
            load_end = " ".join(open("/proc/loadavg").read().split()[:3])
        except OSError:
            load_end = "?"
        rep.add(f"Load average at end: {load_end}.")
        text = rep.text()
        sys.stdout.write(text)
        if args.write:
            path = os.path.join(HERE, "results.md")
            with open(path, "w") as f:
                f.write(text)
            log(f"wrote {path}")
        if args.keep_outputs:
            log(f"outputs kept in {outdir}")
        return 1 if failed else 0
    finally:
        if not args.keep_outputs:
            shutil.rmtree(outdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# mix mode: the spread over corpus mixes, per level-1 engine (issue 21)
# ---------------------------------------------------------------------------------------

MIX_ENGINES = [("best", "tpmdiag (best engine)", None), ("avx2", "tpmdiag, TPMDIAG_PREFILTER=avx2", "avx2"),
               ("vectorscan", "tpmdiag, TPMDIAG_PREFILTER=vectorscan", "vectorscan")]
TARGET_MIX_AVX2_VS_RG = 1.2


def mix_mode(args) -> int:
    """Per mix (gen_corpus.MIXES): rg -c -i tpm and tpmdiag with each engine, ratios against rg
    of the same run; the injected incidents must be found with every engine."""
    size = args.size or (64 * MiB if args.quick else 1 << 30)
    runs = args.runs or (2 if args.quick else 5)
    tpmdiag = find_tpmdiag(args.tpmdiag)
    if tpmdiag is None:
        log("error: " + tpmdiag_missing_msg(args.tpmdiag))
        return 2
    mixes = [m for m in args.mix.split(";" if ";" in args.mix else ",") if m]
    for m in mixes:     # a bad name fails before anything is generated
        try:
            gen_corpus.parse_mix(m)
        except argparse.ArgumentTypeError as e:
            log(f"error: --mix: {e}")
            return 2
    info = machine_info()
    rep = Report()
    rep.add(f"## tpmdiag corpus mixes — {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    rep.add("")
    rep.add(f"- machine: {info['cpu']}, {info['ncpu']} CPUs, load avg at start {info['load']}; {info['rg']}")
    rep.add(f"- {human_size(size)} per mix, seed {args.seed}, format {args.format}; {runs} rounds, each running "
            "every command once in a shuffled order; hot page cache; ratios are medians against rg of the same run")
    rep.add("")
    rep.add("| mix | lines | boot lines | tpm lines | rg -c -i tpm | " +
            " | ".join(label for _, label, _ in MIX_ENGINES) + " | incidents found |")
    rep.add("|---|---:|---:|---:|---:|" + "---:|" * len(MIX_ENGINES) + "---|")
    ok = True
    order_rng = random.Random(12345)
    outdir = tempfile.mkdtemp(prefix="tpmdiag-mix-")
    avx2_ratios = {}
    try:
        for m in mixes:
            corpus, _, truth = ensure_corpus(args.cache, size, args.seed, args.format, args.regen, mix=m, gz=False)
            warm(corpus)
            cmds = {"rg": ["rg", "-c", "-i", "tpm", corpus]}
            for key, _, engine in MIX_ENGINES:
                argv = [tpmdiag, "diagnose", "--format", "json", corpus]
                cmds[key] = (["env", f"TPMDIAG_PREFILTER={engine}"] if engine else []) + argv
            found = []
            for key, _, _ in MIX_ENGINES:      # warm-up run: the outputs checked against the truth
                out = os.path.join(outdir, f"{key}.json")
                res = measure(cmds[key], stdout_path=out, timeout=args.timeout)
                chk = check_incidents(out, truth, key)
                found.append(f"{key} {chk['found']}/{chk['total']}")
                if not chk["ok"] or res.rc not in (0, 1):
                    ok = False
                    log(f"{m}: {key}: exit {describe_rc(res.rc)}, found {chk['found']}/{chk['total']}, "
                        f"missing {chk['missing'][:5]} {chk['error'] or ''}")
                if chk["verdict"] != truth["expected_verdict"]:
                    found[-1] += f" (verdict {chk['verdict']}, generator expects {truth['expected_verdict']})"
            walls = {k: [] for k in cmds}
            keys = list(cmds)
            for i in range(runs):
                order_rng.shuffle(keys)
                for k in keys:
                    walls[k].append(measure(cmds[k], stdout_path=os.devnull, timeout=args.timeout).wall)
                log(f"{m}: run {i + 1}/{runs} done")
            rg = statistics.median(walls["rg"])
            cells = []
            for key, _, _ in MIX_ENGINES:
                t = statistics.median(walls[key])
                cells.append(f"{t:.3f} s, {t / rg:.2f}× rg")
                if key == "avx2":
                    avx2_ratios[m] = t / rg
            rep.add(f"| `{m}` | {truth['lines']:,} | {100.0 * truth.get('boot_lines', 0) / truth['lines']:.1f} % | "
                    f"{truth['tpm_lines']:,} | {rg:.3f} s | " + " | ".join(cells) + " | " + ", ".join(found) + " |")
    finally:
        shutil.rmtree(outdir, ignore_errors=True)
    rep.add("")
    spread = ", ".join(f"{m} {r:.2f}×" for m, r in avx2_ratios.items())
    worst = max(avx2_ratios.values()) if avx2_ratios else float("nan")
    rep.add(f"AVX2 forced against rg: {spread} (target ≤ {TARGET_MIX_AVX2_VS_RG}× on every mix: "
            f"{'met' if worst <= TARGET_MIX_AVX2_VS_RG else 'not met'}). Injected incidents: "
            f"{'all found with every engine' if ok else 'MISSED (see above)'}.")
    try:
        rep.add(f"Load average at end: {' '.join(open('/proc/loadavg').read().split()[:3])}.")
    except OSError:
        pass
    text = rep.text()
    print(text)
    if args.write:
        with open(os.path.join(HERE, "results.md"), "w") as f:
            f.write(text)
    if not ok:
        return 1
    return 0 if args.quick or worst <= TARGET_MIX_AVX2_VS_RG else 1


def describe_rc(rc: int) -> str:
    if rc < 0:
        try:
            return f"{rc} ({signal.Signals(-rc).name})"
        except ValueError:
            return str(rc)
    return str(rc)


def ensure_head(cache: str, corpus: str) -> str:
    """The corpus' first 4 MiB (whole lines), for measuring start-up: big enough that tpmdiag
    maps it and compiles its prefilter as for the whole file."""
    head = os.path.join(cache, os.path.basename(corpus) + ".head4M")
    if not os.path.exists(head) or os.path.getmtime(head) < os.path.getmtime(corpus):
        with open(corpus, "rb") as f:
            data = f.read(4 << 20)
        with open(head + ".tmp", "wb") as f:
            f.write(data[:data.rfind(b"\n") + 1])
        os.replace(head + ".tmp", head)
    return head


def runnable_rc(key):
    """Exit statuses that mean the command ran (tpmdiag: 0 no problem, 1 problem; the verdict
    itself is checked against the truth separately)."""
    return {"rg": (0,), "grep": (0,), "gzip": (0,), "true": (0,)}.get(key, (0, 1))


def ensure_rules_x10(arg: str, cache: str, corpus: str, tpmdiag: str):
    """The --rules directory for the x10 run: DIR as given if it holds *.json, else generated
    there ('auto' = bench/.cache/rules-x10, always regenerated from the current rules/)."""
    d = os.path.join(cache, "rules-x10") if arg == "auto" else os.path.abspath(arg)
    if arg != "auto" and os.path.isdir(d) and any(n.endswith(".json") for n in os.listdir(d)):
        log(f"using rule variants in {d}")
    else:
        src = os.path.join(REPO, "rules")
        log(f"generating 10x rule variants from {src} into {d} (checked against the corpus) ...")
        r = subprocess.run([sys.executable, os.path.join(HERE, "gen_rules_x10.py"), "--rules", src, "--out", d,
                            "--check-corpus", corpus])
        if r.returncode != 0:
            log("error: gen_rules_x10.py failed (are there rules/*.json files? does a variant match the corpus?)")
            return None
    # the variants must pass tpmdiag's own sample tests, or the x10 timing means nothing
    r = subprocess.run([tpmdiag, "rules", "test", "--rules", d], capture_output=True, text=True)
    if r.returncode != 0:
        tail = (r.stdout + r.stderr).strip().splitlines()[-3:]
        log(f"error: `tpmdiag rules test --rules {d}` failed: " + " | ".join(tail))
        return None
    return d


# ---------------------------------------------------------------------------------------
# scan mode (bundles)
# ---------------------------------------------------------------------------------------

UNKNOWN_CMD = ("unknown command", "unknown subcommand", "unrecognized command", "unrecognised command",
               "invalid command", "no such command", "not a command", "unknown action")


def scan_mode(args) -> int:
    runs = args.runs or (2 if args.quick else 3)
    tpmdiag = find_tpmdiag(args.tpmdiag)
    if tpmdiag is None:
        log("error: " + tpmdiag_missing_msg(args.tpmdiag))
        return 2
    probe = subprocess.run([tpmdiag, "scan", "--help"], capture_output=True, text=True)
    text = (probe.stdout + probe.stderr).lower()
    if probe.returncode != 0 and (any(u in text for u in UNKNOWN_CMD) or "scan" not in text):
        msg = (probe.stderr or probe.stdout).strip().splitlines()
        print(f"SKIPPED: `tpmdiag scan` is not available in this build "
              f"({msg[0] if msg else 'exit ' + str(probe.returncode)}); the scan benchmark needs it.")
        return 0
    jobs = [int(x) for x in args.jobs.split(",") if x.strip()]
    n, mb = args.bundles, args.bundle_size_mb
    d = os.path.join(args.cache, f"bundles-n{n}-m{mb:g}-s{args.seed}")
    truth_path = d + ".truth.json"
    stamp_path, stamp = d + ".stamp", source_stamp("gen_corpus.py", "gen_bundles.py")
    ok = False
    if os.path.exists(truth_path) and not args.regen and stamp_ok(stamp_path, stamp):
        try:
            t = json.load(open(truth_path))
            import gen_bundles
            ok = (t.get("generator_version") == gen_bundles.GENERATOR_VERSION
                  and t.get("corpus_generator_version") == gen_corpus.GENERATOR_VERSION
                  and all(os.path.exists(os.path.join(d, b["file"])) for b in t["bundles"]))
        except (OSError, ValueError, KeyError):
            ok = False
    if not ok:
        shutil.rmtree(d, ignore_errors=True)
        log(f"generating {n} bundles of {mb:g} MiB into {d} ...")
        if os.path.exists(truth_path):
            os.remove(truth_path)
        subprocess.run([sys.executable, os.path.join(HERE, "gen_bundles.py"), "--count", str(n), "--size-mb", str(mb),
                        "--seed", str(args.seed), "--out", d, "--truth", truth_path], check=True)
        with open(stamp_path, "w") as f:
            f.write(stamp + "\n")
    truth = json.load(open(truth_path))
    tgz = [os.path.join(d, b["file"]) for b in truth["bundles"]]
    tgz_bytes = sum(os.path.getsize(p) for p in tgz)
    log_bytes = sum(b["log_bytes"] for b in truth["bundles"])
    for p in tgz:
        warm(p)
    info = machine_info()
    work = tempfile.mkdtemp(prefix="tpmdiag-scan-")
    try:
        rss = {}
        for j in jobs:      # warm-up run per --jobs value: peak RSS via GNU time (see measure_rss)
            db = os.path.join(work, f"scan-j{j}-warm.db")
            res = measure_rss([tpmdiag, "scan", d, "--db", db, "--jobs", str(j)], timeout=args.timeout)
            rss[j] = res.maxrss_kib / 1024
            if res.rc not in (0, 1):
                log(f"scan --jobs {j}: warm-up exit {describe_rc(res.rc)}: {res.err.strip()[-300:]}")
            if os.path.exists(db):
                os.remove(db)
        results = {j: [] for j in jobs}
        for i in range(runs):
            for j in jobs:
                db = os.path.join(work, f"scan-j{j}-{i}.db")
                res = measure([tpmdiag, "scan", d, "--db", db, "--jobs", str(j)], timeout=args.timeout)
                results[j].append(res)
                if res.rc not in (0, 1):
                    log(f"scan --jobs {j}: exit {res.rc}: {res.err.strip()[-300:]}")
                if os.path.exists(db):
                    os.remove(db)
            log(f"run {i + 1}/{runs} done")
        rep = Report()
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        rep.add(f"## tpmdiag scan benchmark — {now}")
        rep.add()
        rep.add(f"- {n} bundles (`{os.path.relpath(d, REPO)}`), {tgz_bytes / MiB:.0f} MiB of .tgz, "
                f"{log_bytes / MiB:.0f} MiB of logs uncompressed; seed {args.seed}")
        rep.add(f"- machine: {info['cpu']}, {info['ncpu']} CPUs, load avg {info['load']}; {runs} runs, round-robin")
        rep.add()
        rep.add("| command | median | min | max | bundles/s | MB/s (.tgz) | MB/s (logs) | CPU s | peak RSS MiB | exit |")
        rep.add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        failed = 0
        for j in jobs:
            s = summarize(j, results[j], 0)
            s["rss"] = rss[j]
            m = s["median"]
            rep.add(f"| `tpmdiag scan DIR --db tmp.db --jobs {j}` | {fmt_s(m)} | {fmt_s(s['min'])} | {fmt_s(s['max'])} | "
                    f"{n / m:.2f} | {tgz_bytes / m / 1e6:.1f} | {log_bytes / m / 1e6:.1f} | {s['cpu']:.2f} | "
                    f"{s['rss']:.1f} | {','.join(map(str, s['rcs']))} |")
            if any(rc not in (0, 1) for rc in s["rcs"]):
                failed += 1
        rep.add()
        rep.add(f"Peak RSS from a warm-up run under GNU time. Verdicts are not checked against the truth yet "
                f"(`{os.path.relpath(truth_path, REPO)}` has the expected verdict and top cause per bundle).")
        text = rep.text()
        sys.stdout.write(text)
        if args.write:
            with open(os.path.join(HERE, "results-scan.md"), "w") as f:
                f.write(text)
        return 1 if failed else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status: 0 targets met, 1 a target missed, 2 setup error.\n"
               "Examples:\n  bench/run.py --tpmdiag build/tpmdiag --size 1G --runs 5\n"
               "  bench/run.py --quick\n  bench/run.py --baseline-only --size 1G\n"
               "  bench/run.py --bundles 40 --jobs 1,2")
    ap.add_argument("--tpmdiag", default="build/tpmdiag", help="path to the tpmdiag binary (default build/tpmdiag)")
    ap.add_argument("--size", type=gen_corpus.parse_size, default=None,
                    help="corpus size, binary units (default 1G; 64M with --quick)")
    ap.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    ap.add_argument("--format", choices=["7", "8", "mixed"], default="mixed", help="ESXi log shapes (default mixed)")
    ap.add_argument("--runs", type=int, default=None, help="runs per command (default 5; 2 with --quick)")
    ap.add_argument("--quick", action="store_true",
                    help="CI smoke run: 64 MiB, 2 runs; fails only on correctness, speed targets are reported")
    ap.add_argument("--rules-x10", metavar="DIR",
                    help="also run with --rules DIR (10x rule variants) and report the cost; 'auto' generates "
                         "them from rules/*.json into the cache with bench/gen_rules_x10.py")
    ap.add_argument("--baseline-only", action="store_true", help="measure rg/grep/gzip only (no tpmdiag needed)")
    ap.add_argument("--write", action="store_true", help="also write the report to bench/results.md")
    ap.add_argument("--cache", default=os.path.join(HERE, ".cache"), help="cache dir (default bench/.cache)")
    ap.add_argument("--regen", action="store_true", help="regenerate the corpus/bundles even if cached")
    ap.add_argument("--timeout", type=float, default=900, help="per-command timeout in seconds (default 900)")
    ap.add_argument("--keep-outputs", action="store_true", help="keep the commands' outputs (path printed)")
    ap.add_argument("--mix", metavar="NAME[,NAME]",
                    help="mix mode: one corpus per mix (" + ", ".join(gen_corpus.MIXES) + "; with overrides, "
                         "separate mixes by ';': 'default;boot-heavy,hosts=2'), timing rg -c -i tpm and tpmdiag "
                         "with the best engine, AVX2 forced and Vectorscan forced; target: AVX2 <= "
                         f"{TARGET_MIX_AVX2_VS_RG}x rg on every mix")
    ap.add_argument("--bundles", type=int, metavar="N", help="scan mode: benchmark `tpmdiag scan` over N bundles")
    ap.add_argument("--jobs", default="1,2", help="scan mode: comma list of --jobs values (default 1,2)")
    ap.add_argument("--bundle-size-mb", type=float, default=16, help="scan mode: MiB of logs per bundle (default 16)")
    args = ap.parse_args(argv)
    if args.runs is not None and args.runs < 1:
        ap.error("--runs must be >= 1")
    if args.bundles:
        return scan_mode(args)
    if args.mix:
        return mix_mode(args)
    return corpus_mode(args)


if __name__ == "__main__":
    sys.exit(main())
