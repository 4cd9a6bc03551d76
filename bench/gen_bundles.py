#!/usr/bin/env python3
"""Generate realistic ESXi vm-support bundles (.tgz) for batch-scan tests and benchmarks.

  bench/gen_bundles.py --count 20 --size-mb 16 --out /tmp/bundles --seed 1   # truth: /tmp/bundles.truth.json

Each bundle is `esx-<host>-<YYYY-MM-DD>--<HH.MM>-<pid>.tgz` holding ONE top-level folder of the
same name (catalogue §c; name pattern: addendum §1.4, accepted as inference there) with:

  var/run/log/vmkernel.log, vmkernel.0.gz .. vmkernel.<R-1>.gz   (.0.gz = newest, addendum §1.5)
  var/run/log/hostd.log,    hostd.0.gz ..    hostd.<R-1>.gz
  var/run/log/vpxa.log,     vpxa.0.gz ..     vpxa.<R-1>.gz
  var/run/log/vmkwarning.log   (copies of the vmkernel WARNING/ALERT lines, whole time span)
  var/run/log/vobd.log         (whole time span)
  commands/vmware_-vl.txt, uname_-a.txt, date.txt, localcli_hardware-trustedboot-get.txt,
  commands/localcli_software-vib-list.txt, smbiosDump.txt

Log lines come from bench/gen_corpus.py (same families, same verbatim TPM lines), routed per
source into their files and split into size-based rotations.

Scenarios (--scenario, one per bundle; a comma list is cycled; default "mix" cycles all four):
  failing   the newest boot (in the current vmkernel.log/hostd.log) fails with one cause;
            earlier boots may fail the same way              -> verdict problem, top cause = it
  resolved  a failing boot whose lines sit in the OLDEST rotation, then a healthy boot with the
            success line ("Successfully provisioned endorsement key ...") in the current log
                                                             -> verdict resolved, cause = the old one
  fixed     the post-RMA state of the seed thread only: IFX TPM on the seed's Supermicro board,
            every boot healthy, the hostd chain exactly as in the thread after the RMA (incl. the
            benign `NV_ReadPublic: (0x18b) Unknown` errors); no failure anywhere
                                                             -> verdict healthy, no cause
  healthy   a host that never had a TPM problem (any vendor/board)   -> verdict healthy
Failing causes: the least used one so far that the bundle's ESXi version can show (--causes to
restrict), so a mix covers every cause.  "resolved" uses the seed cause (tpm_firmware_outdated)
unless --causes excludes it; it never uses tpm_interface_crb_unsupported (no fix exists).

Inference (plausible, not seen verbatim in a source) -- marked again where it is generated:
  * the exact contents of smbiosDump.txt, vmware_-vl.txt, uname_-a.txt, date.txt and of the VIB
    list (VIB names `tpm`/`tpmesxup` are taken from the payload names tpm.v00 / tpmesxup.v00 of
    catalogue K15); ESXi build numbers are real public builds, used only as labels;
  * the 8.x `vmkwarning:` tag in vmkwarning.log (lnav sample) and its PRI values;
  * rotation sizes (size-based, equal sizes) and which files are rotated.
Only stdlib (tarfile, gzip).  Deterministic per (--seed, index): tar and gzip headers carry
the bundle's own collection time, never the wall clock.
"""

from __future__ import annotations

import argparse
import bisect
import calendar
import gzip
import io
import json
import multiprocessing
import os
import random
import sys
import tarfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True      # keep bench/ free of __pycache__
import gen_corpus as gc  # noqa: E402

GENERATOR = "tpmdiag bench/gen_bundles.py"
GENERATOR_VERSION = 1

SCENARIOS = ("failing", "resolved", "fixed", "healthy")
SEED_CAUSE = "tpm_firmware_outdated"
VERDICT = {"failing": "problem", "resolved": "resolved", "fixed": "healthy", "healthy": "healthy"}

# Public ESXi builds, used as labels only: (version, build, update line of `vmware -l`)
BUILDS = {
    7: [("7.0.2", "17867351", "VMware ESXi 7.0 Update 2"), ("7.0.3", "20328353", "VMware ESXi 7.0 Update 3"),
        ("7.0.3", "21930508", "VMware ESXi 7.0 Update 3")],
    8: [("8.0.0", "20513097", "VMware ESXi 8.0 GA"), ("8.0.1", "21495797", "VMware ESXi 8.0 Update 1"),
        ("8.0.2", "22380479", "VMware ESXi 8.0 Update 2"), ("8.0.3", "24022510", "VMware ESXi 8.0 Update 3")],
}

# Hardware profiles for smbiosDump.txt (I: field layout).  tpm = vendor id printed by
# Tpm2LogVendor (catalogue K4: IFX Infineon, NTC Nuvoton, NTZ NationZ, INTC Intel PTT).
HARDWARE = {
    "supermicro_x11": dict(bios_vendor="American Megatrends Inc.", bios_version="3.4", bios_date="10/05/2020",
                           sys_vendor="Supermicro", product="SYS-6029P-TRT", board_vendor="Supermicro",
                           board="X11DPi-NT", board_version="1.10", tpm="IFX"),
    "dell_r740": dict(bios_vendor="Dell Inc.", bios_version="2.12.2", bios_date="07/09/2021",
                      sys_vendor="Dell Inc.", product="PowerEdge R740", board_vendor="Dell Inc.",
                      board="0WRPXK", board_version="A08", tpm="NTC"),
    "hpe_dl380g10": dict(bios_vendor="HPE", bios_version="U30", bios_date="04/18/2023",
                         sys_vendor="HPE", product="ProLiant DL380 Gen10", board_vendor="HPE",
                         board="ProLiant DL380 Gen10", board_version="", tpm="IFX"),
    "lenovo_sr650": dict(bios_vendor="Lenovo", bios_version="IVE164M-2.80", bios_date="02/10/2022",
                         sys_vendor="Lenovo", product="ThinkSystem SR650 -[7X06CTO1WW]-", board_vendor="Lenovo",
                         board="7X06CTO1WW", board_version="SB27A59321", tpm="NTC"),
    "intel_nuc10": dict(bios_vendor="Intel Corp.", bios_version="FNCML357.0052.2021.0409.1144", bios_date="04/09/2021",
                        sys_vendor="Intel(R) Client Systems", product="NUC10i7FNH", board_vendor="Intel Corporation",
                        board="NUC10i7FNB", board_version="K61360-302", tpm="INTC"),
}
SERVERS = ["supermicro_x11", "dell_r740", "hpe_dl380g10", "lenovo_sr650"]


def hardware_for(cause: str | None, scenario: str, r: random.Random) -> str:
    if scenario == "fixed" or cause == "tpm_firmware_outdated":
        return "supermicro_x11"                 # the seed thread's board and IFX module
    if cause == "tpm_interface_crb_unsupported":
        return "intel_nuc10"                    # williamlam's NUC (firmware TPM, CRB only)
    if cause == "pcr_bank_sha1_only":
        return "dell_r740"                      # Dell/VxRail KBs (BIOS TPM2 algorithm)
    return r.choice(SERVERS)


# ---------------------------------------------------------------------------------------
# A sink that routes records per source file
# ---------------------------------------------------------------------------------------

class BundleSink:
    """Collects records per source ('vmkernel', 'hostd', 'vpxa', 'vobd', 'vmkwarning').
    line() returns (source, 1-based line number in that source's whole stream)."""

    def __init__(self, version: int):
        self.version = version
        self.recs = {k: [] for k in ("vmkernel", "hostd", "vpxa", "vobd", "vmkwarning")}
        self.nlines = {k: 0 for k in self.recs}
        self.bytes = 0
        self.dups = {}      # (src, ln) -> ('vmkwarning', ln)

    def _warn_copy(self, text: str) -> str:
        if self.version == 8:       # I: vmkwarning.log tags its lines "vmkwarning:" (lnav sample)
            return text.replace(" vmkernel: ", " vmkwarning: ", 1)
        return text

    def noise(self, out, idxs, pool):
        src_of, extra, warn = pool.src, pool.extra, pool.warn
        recs, nl = self.recs, self.nlines
        nb = 0
        for line, k in zip(out, idxs):
            s = src_of[k]
            recs[s].append(line)
            nl[s] += 1 + extra[k]
            nb += len(line) + 1
            if warn[k]:
                c = self._warn_copy(line)
                recs["vmkwarning"].append(c)
                nl["vmkwarning"] += 1 + extra[k]
                nb += len(c) + 1
        self.bytes += nb

    def line(self, text, src, role, warn=False):
        self.recs[src].append(text)
        self.nlines[src] += 1
        self.bytes += len(text) + 1
        ref = (src, self.nlines[src])
        if warn and src == "vmkernel":
            c = self._warn_copy(text)
            self.recs["vmkwarning"].append(c)
            self.nlines["vmkwarning"] += 1
            self.bytes += len(c) + 1
            self.dups[ref] = ("vmkwarning", self.nlines["vmkwarning"])
        return ref


def split_rotations(recs: list, n_rot: int):
    """Cut one source's records into n_rot equal-size rotated chunks + a half-size current
    chunk (as size-based rotation leaves it).  Returns [(suffix, text, first_line)] oldest
    first; suffix is '.<N>.gz' or '.log'."""
    total = sum(len(x) + 1 for x in recs)
    chunks = []
    if n_rot <= 0 or total == 0:
        return [(".log", "".join(x + "\n" for x in recs), 1)]
    size = total / (n_rot + 0.5)
    cur, cur_bytes, start_line, line = [], 0, 1, 1
    idx = n_rot - 1
    for x in recs:
        cur.append(x)
        cur_bytes += len(x) + 1
        line += x.count("\n") + 1
        if idx >= 0 and cur_bytes >= size:
            chunks.append((f".{idx}.gz", "\n".join(cur) + "\n", start_line))
            cur, cur_bytes, start_line = [], 0, line
            idx -= 1
    while idx >= 0:                      # tiny inputs: empty rotations
        chunks.append((f".{idx}.gz", "", start_line))
        idx -= 1
    chunks.append((".log", ("\n".join(cur) + "\n") if cur else "", start_line))
    return chunks


# ---------------------------------------------------------------------------------------
# Command outputs (I: layouts are plausible, see module docstring)
# ---------------------------------------------------------------------------------------

def cmd_files(host: str, version: int, build: tuple, hw: dict, collect_ts: int, include_tpm_vib: bool,
              r: random.Random) -> dict:
    ver, bld, upd = build
    files = {}
    files["vmware_-vl.txt"] = f"VMware ESXi {ver} build-{bld}\n{upd}\n"
    ct = time.gmtime(collect_ts)
    files["uname_-a.txt"] = (f"VMkernel {host} {ver} #1 SMP Release build-{bld} "
                             f"{time.strftime('%b %d %Y %H:%M:%S', time.gmtime(collect_ts - 200 * 86400))} "
                             f"x86_64 x86_64 x86_64 ESXi\n")
    files["date.txt"] = time.strftime("%a %b %e %H:%M:%S UTC %Y", ct) + "\n"
    # addendum §1.2: two fields, "Drtm Enabled" and "Tpm Present"
    files["localcli_hardware-trustedboot-get.txt"] = "   Drtm Enabled: false\n   Tpm Present: true\n"
    # esxcli software vib list (I: columns; 8.x adds Platforms)
    date = time.strftime("%Y-%m-%d", time.gmtime(collect_ts - r.randrange(30, 400) * 86400))
    rows = [("esx-base", f"{ver}-0.{r.randrange(0, 120)}.{bld}", "VMware", "VMwareCertified"),
            ("esx-update", f"{ver}-0.{r.randrange(0, 120)}.{bld}", "VMware", "VMwareCertified"),
            ("vsan", f"{ver}-0.{r.randrange(0, 120)}.{bld}", "VMware", "VMwareCertified"),
            ("crx", f"{ver}-0.{r.randrange(0, 120)}.{bld}", "VMware", "VMwareCertified"),
            ("lsi-mr3", "7.716.03.00-1OEM.700.1.0.15843807", "BCM", "VMwareCertified"),
            ("nvme-pcie", f"1.2.3.16-1vmw.{ver.replace('.', '')}.0.{bld}", "VMW", "VMwareCertified"),
            ("ntg3", f"4.1.9.0-4vmw.{ver.replace('.', '')}.0.{bld}", "VMW", "VMwareCertified"),
            ("i40en", "1.14.1.0-1OEM.700.1.0.15843807", "INT", "VMwareCertified"),
            ("vmkusb", f"0.1-8vmw.{ver.replace('.', '')}.0.{bld}", "VMW", "VMwareCertified")]
    if include_tpm_vib:
        # VIB names from the boot-module payloads tpm.v00 / tpmesxup.v00 (catalogue K15)
        rows.append(("tpm", f"{ver}-0.{r.randrange(0, 120)}.{bld}", "VMware", "VMwareCertified"))
        rows.append(("tpmesxup", f"{ver}-0.{r.randrange(0, 120)}.{bld}", "VMware", "VMwareCertified"))
    rows.sort()
    if version == 8:
        head = f"{'Name':<30} {'Version':<40} {'Vendor':<7} {'Acceptance Level':<17} {'Install Date':<12} Platforms\n"
        head += f"{'-' * 30} {'-' * 40} {'-' * 7} {'-' * 17} {'-' * 12} ---------\n"
        body = "".join(f"{n:<30} {v:<40} {vd:<7} {a:<17} {date:<12} host\n" for n, v, vd, a in rows)
    else:
        head = f"{'Name':<30} {'Version':<40} {'Vendor':<7} {'Acceptance Level':<17} Install Date\n"
        head += f"{'-' * 30} {'-' * 40} {'-' * 7} {'-' * 17} ------------\n"
        body = "".join(f"{n:<30} {v:<40} {vd:<7} {a:<17} {date}\n" for n, v, vd, a in rows)
    files["localcli_software-vib-list.txt"] = head + body
    serial = "".join(r.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(12))
    files["smbiosDump.txt"] = (
        "  BIOS Info: #0\n"
        f"    Vendor: \"{hw['bios_vendor']}\"\n"
        f"    Version: \"{hw['bios_version']}\"\n"
        f"    Date: \"{hw['bios_date']}\"\n"
        "    Start Address: 0xf0000\n"
        "    ROM Size: 32768 kB\n"
        "  System Info: #1\n"
        f"    Manufacturer: \"{hw['sys_vendor']}\"\n"
        f"    Product: \"{hw['product']}\"\n"
        f"    Serial: \"{serial}\"\n"
        f"    UUID: {gc.uuid(r)}\n"
        "  Board Info: #2\n"
        f"    Manufacturer: \"{hw['board_vendor']}\"\n"
        f"    Product: \"{hw['board']}\"\n"
        f"    Version: \"{hw['board_version']}\"\n"
        f"    Serial: \"{serial[::-1]}\"\n")
    return files


# ---------------------------------------------------------------------------------------
# One bundle
# ---------------------------------------------------------------------------------------

def plan_for(scenario: str, cause: str | None, version: int, n_rot: int, size: int, r: random.Random):
    """Boot plan (byte offsets in the whole stream) so that the scenario's lines land in the
    intended files: rotation k of n_rot covers [k, k+1) / (n_rot + 0.5) of the stream."""
    unit = size / (n_rot + 0.5)
    cur_start = n_rot * unit                          # the current .log starts here
    late = int(cur_start + 0.15 * unit)               # early in the current log
    plan = []
    if scenario == "failing":
        if r.random() < 0.5:
            plan.append({"offset": int(0.2 * unit), "esxi": version, "outcome": "healthy", "style": r.choice((0, 1))})
        if n_rot >= 2 and r.random() < 0.6:           # rebooted while trying things (seed thread)
            plan.append({"offset": int((n_rot - 0.5) * unit), "esxi": version, "outcome": cause, "style": 0})
        plan.append({"offset": late, "esxi": version, "outcome": cause, "style": 0})
    elif scenario == "resolved":
        plan.append({"offset": int(0.15 * unit), "esxi": version, "outcome": cause, "style": 0})
        plan.append({"offset": late, "esxi": version, "outcome": "healthy", "style": 0})
    elif scenario == "fixed":
        plan.append({"offset": late, "esxi": version, "outcome": "healthy", "style": 0})
    else:
        if n_rot >= 1 and r.random() < 0.5:
            plan.append({"offset": int(0.5 * unit), "esxi": version, "outcome": "healthy", "style": r.choice((0, 1))})
        plan.append({"offset": late, "esxi": version, "outcome": "healthy", "style": r.choice((0, 1))})
    return plan


def make_bundle(job: dict) -> dict:
    """Build one bundle; job = {index, seed, out, size, rotations, scenario, cause, version}."""
    r = random.Random(job["seed"] * 1_000_003 + job["index"])
    scenario, cause, version = job["scenario"], job["cause"], job["version"]
    hw_name = hardware_for(cause, scenario, r)
    hw = HARDWARE[hw_name]
    site = r.choice(["fra", "ams", "dal", "sjc", "lon", "sin", "syd"])
    host = f"esxi-{site}-{job['index'] + 1:03d}.corp.example"
    h = gc.Host(r, host)
    h.tpm_vendor = hw["tpm"]
    size = job["size"]
    n_rot = job["rotations"]
    plan = plan_for(scenario, cause, version, n_rot, size, r)
    sink = BundleSink(version)
    t0 = calendar.timegm((2024, 1, 1, 0, 0, 0)) * 1000 + r.randrange(0, 500 * 86400) * 1000
    eng = gc.Engine(r, h, sink, t0, with_vobd=True)
    eng.set_boot(version)
    boots, _ = gc.drive(eng, h, sink, size, plan, r, restarts=(scenario != "failing"))
    collect_ts = eng.t // 1000 + r.randrange(30, 600)
    build = r.choice(BUILDS[version])
    stamp = time.strftime("%Y-%m-%d--%H.%M", time.gmtime(collect_ts))
    top = f"esx-{host}-{stamp}-{r.randrange(2_100_000, 2_250_000)}"
    members = {}       # path inside the tgz -> bytes
    locate = {}        # src -> [(first_line, member path)] for mapping line refs
    for src in ("vmkernel", "hostd", "vpxa"):
        chunks = split_rotations(sink.recs[src], n_rot)
        locate[src] = []
        for suffix, text, first in chunks:
            path = f"{top}/var/run/log/{src}{suffix}"
            data = text.encode("ascii")
            if suffix.endswith(".gz"):
                data = gzip.compress(data, compresslevel=6, mtime=collect_ts)
            members[path] = data
            locate[src].append((first, path))
    for src in ("vmkwarning", "vobd"):
        path = f"{top}/var/run/log/{src}.log"
        members[path] = ("".join(x + "\n" for x in sink.recs[src])).encode("ascii")
        locate[src] = [(1, path)]
    # commands/ shows the state at collection time: the VIB is missing only while it fails
    include_vib = not (scenario == "failing" and cause == "tpmdriver_load_failure")
    for name, text in cmd_files(host, version, build, hw, collect_ts, include_vib, r).items():
        members[f"{top}/commands/{name}"] = text.encode("ascii")

    def where(ref):
        src, ln = ref
        firsts = [f for f, _ in locate[src]]
        j = bisect.bisect_right(firsts, ln) - 1
        first, path = locate[src][j]
        return {"member": path, "line": ln - first + 1}

    incidents = []
    for b in boots:
        if b["outcome"] == "healthy":
            continue
        fails = [ref for ref, role, _, _ in b["placed"] if role == "fail"]
        ev = [where(ref) for ref in fails]
        ev += [where(sink.dups[ref]) for ref in fails if ref in sink.dups]
        incidents.append({"cause": b["outcome"], "boot": b["boot"], "lines": ev})
    success = []
    for b in boots:
        for ref, role, _, text in b["placed"]:
            if "Successfully provisioned endorsement key" in text:
                success.append(where(ref))
    path = os.path.join(job["out"], top + ".tgz")
    write_tgz(path, top, members, collect_ts)
    return {
        "file": top + ".tgz", "host": host, "scenario": scenario, "esxi": build[0], "build": build[1],
        "hardware": hw_name, "tpm_vendor": hw["tpm"],
        "expected_verdict": VERDICT[scenario],
        "expected_top_cause": cause if scenario in ("failing", "resolved") else None,
        "incidents": incidents, "success_lines": success,
        "log_bytes": sink.bytes, "tgz_bytes": os.path.getsize(path),
    }


def write_tgz(path: str, top: str, members: dict, mtime: int):
    tmp = path + ".part"
    with open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=mtime) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
                dirs = set()
                for p in members:
                    parts = p.split("/")[:-1]
                    for i in range(1, len(parts) + 1):
                        dirs.add("/".join(parts[:i]))
                for d in sorted(dirs):
                    ti = tarfile.TarInfo(d)
                    ti.type, ti.mode, ti.mtime, ti.uname, ti.gname = tarfile.DIRTYPE, 0o755, mtime, "root", "root"
                    tar.addfile(ti)
                for p in sorted(members):
                    data = members[p]
                    ti = tarfile.TarInfo(p)
                    ti.size, ti.mode, ti.mtime, ti.uname, ti.gname = len(data), 0o644, mtime, "root", "root"
                    tar.addfile(ti, io.BytesIO(data))
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Generate ESXi vm-support bundles (.tgz) with known TPM verdicts for scan tests/benchmarks.",
        epilog="Example: bench/gen_bundles.py --count 20 --size-mb 16 --out /tmp/b --seed 1   (truth in /tmp/b.truth.json)")
    ap.add_argument("--count", type=int, default=8, help="number of bundles (default 8)")
    ap.add_argument("--size-mb", type=float, default=16,
                    help="uncompressed log bytes per bundle, in MiB (all var/run/log files together; default 16)")
    ap.add_argument("--out", required=True, help="output directory (created)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--truth", help="write JSON truth here (default: OUT.truth.json beside the directory, so that "
                                    "scanning OUT sees only bundles)")
    ap.add_argument("--scenario", default="mix",
                    help="failing|resolved|fixed|healthy, a comma list cycled over the bundles, or mix "
                         "(= failing,resolved,fixed,healthy). Default mix")
    ap.add_argument("--causes", default="all",
                    help="comma list of causes for failing/resolved bundles (default all the version supports)")
    ap.add_argument("--esxi", choices=["7", "8", "mixed"], default="mixed",
                    help="ESXi major version of the bundles (mixed alternates 7 and 8). Default mixed")
    ap.add_argument("--rotations", type=int, default=4,
                    help="rotated .gz files per rotated log (vmkernel/hostd/vpxa .0.gz .. .N-1.gz). Default 4")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes (default 2)")
    args = ap.parse_args(argv)
    scen = list(SCENARIOS) if args.scenario == "mix" else args.scenario.split(",")
    for s in scen:
        if s not in SCENARIOS:
            ap.error(f"unknown scenario {s!r}")
    wanted = list(gc.CAUSES) if args.causes == "all" else args.causes.split(",")
    for c in wanted:
        if c not in gc.CAUSES:
            ap.error(f"unknown cause {c!r}; known: {', '.join(gc.CAUSES)}")
    os.makedirs(args.out, exist_ok=True)
    size = int(args.size_mb * (1 << 20))
    jobs = []
    used = {c: 0 for c in gc.CAUSES}
    for i in range(args.count):
        scenario = scen[i % len(scen)]
        # mixed: alternate 7/8, and flip the phase every scenario cycle so that every scenario
        # gets both versions
        version = {"7": 7, "8": 8}.get(args.esxi, 7 if (i + i // len(scen)) % 2 == 0 else 8)
        cause = None
        if scenario in ("failing", "resolved"):
            cands = [c for c in wanted if version in gc.CAUSES[c]
                     and not (scenario == "resolved" and c == "tpm_interface_crb_unsupported")]
            if not cands:
                ap.error(f"no cause in --causes fits scenario {scenario} on ESXi {version}")
            if scenario == "resolved" and SEED_CAUSE in cands:
                cause = SEED_CAUSE          # the seed story: failing lines rotated out, fixed lines now
            else:
                # the least used cause so far (ties: catalogue order, the seed case first)
                cause = min(cands, key=lambda c: (used[c], list(gc.CAUSES).index(c)))
                used[cause] += 1
        jobs.append({"index": i, "seed": args.seed, "out": args.out, "size": size, "rotations": args.rotations,
                     "scenario": scenario, "cause": cause, "version": version})
    t = time.time()
    if args.jobs > 1 and len(jobs) > 1:
        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            results = pool.map(make_bundle, jobs, chunksize=1)
    else:
        results = [make_bundle(j) for j in jobs]
    el = time.time() - t
    truth = {"generator": GENERATOR, "generator_version": GENERATOR_VERSION,
             "corpus_generator_version": gc.GENERATOR_VERSION, "seed": args.seed, "count": args.count,
             "size_mb": args.size_mb, "rotations": args.rotations,
             "notes": "line numbers are 1-based within the member (decompressed for .gz members)",
             "bundles": results}
    tp = args.truth or (os.path.normpath(args.out) + ".truth.json")
    with open(tp, "w") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")
    tot_log = sum(x["log_bytes"] for x in results)
    tot_tgz = sum(x["tgz_bytes"] for x in results)
    print(f"gen_bundles: {len(results)} bundles, {tot_log / 1e6:.0f} MB of logs, {tot_tgz / 1e6:.0f} MB of .tgz "
          f"in {el:.1f} s -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
