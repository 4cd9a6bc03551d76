#!/usr/bin/env bash
# Runs every libFuzzer target (parsers|rules|kb|pipeline|live/*_fuzz.cc -> fuzz_<name>)
# for SECONDS each, with corpora seeded from samples/, rules/, kb/ and tests/.
#
#   tests/fuzz.sh SECONDS [BUILD_DIR]          # BUILD_DIR default: build-fuzz
#   tests/fuzz.sh 20                           # the CI mode: 20 s per target
#   FUZZ_JOBS=1 FUZZ_ONLY=format_fuzz tests/fuzz.sh 600
#   tests/fuzz.sh 0                            # replay seeds and regressions only
#
# Build the targets first (clang only):
#   cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
#         -DCMAKE_C_COMPILER=clang -DTPMDIAG_FUZZ=ON
#   cmake --build build-fuzz --target $(cd build-fuzz && ninja -t targets | grep -o '^fuzz_[a-z_]*' | tr '\n' ' ')
# (fuzz.sh does this itself when BUILD_DIR holds no fuzz_* binary.)
#
# Explore fast, check deep: ASan (with UBSan, the default) catches the most,
# but its allocator costs the scanner target nearly two thirds of its speed
# (RE2 allocates on every parsed line: ~680 runs/s against ~1,900 with UBSan
# alone, BENCHMARKS.md). Run an UBSan-only build to grow the corpus, and the
# ASan build over that corpus too (FUZZ_EXTRA_CORPUS):
#   cmake -S . -B build-fuzz-ub -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
#         -DTPMDIAG_FUZZ=ON -DTPMDIAG_FUZZ_SANITIZERS=undefined
#   FUZZ_ONLY=scanner_fuzz tests/fuzz.sh 600 build-fuzz-ub
#   FUZZ_EXTRA_CORPUS=build-fuzz-ub FUZZ_ONLY=scanner_fuzz tests/fuzz.sh 600
#
# Layout under BUILD_DIR/fuzz/:
#   seeds/<target>/     generated seed inputs (rebuilt each run)
#   corpus/<target>/    the growing corpus (kept between runs)
#   crashes/<target>/   crash-*, leak-*, timeout-*, oom-* inputs libFuzzer found
#   logs/<target>.log   the fuzzer's output
# A crash input belongs in tests/fuzz-regressions/<target>/ once understood;
# tests/hostile_test.cc replays every file there through the same code.
#
# Environment: FUZZ_JOBS (targets at once, default 2), FUZZ_ONLY (a
# space-separated list of targets), FUZZ_NICE (default 19), FUZZ_RSS_MB
# (default 2048), FUZZ_TIMEOUT (seconds per input, default 10),
# FUZZ_EXTRA_CORPUS (another BUILD_DIR whose fuzz/corpus/<target> is read
# as well).
# Exit: 0 no crash, 1 a target crashed (inputs kept), 2 usage or build error.
set -u
secs=${1:?usage: tests/fuzz.sh SECONDS [BUILD_DIR]}
case $secs in '' | *[!0-9]*) echo "fuzz.sh: SECONDS must be a number" >&2; exit 2 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
bdir=${2:-$root/build-fuzz}
case $bdir in /*) ;; *) bdir=$PWD/$bdir ;; esac
jobs=${FUZZ_JOBS:-2}
nice_n=${FUZZ_NICE:-19}
rss=${FUZZ_RSS_MB:-2048}
per_input=${FUZZ_TIMEOUT:-10}
cd "$root" || exit 2

targets() {
  local f n
  for f in parsers/*_fuzz.cc rules/*_fuzz.cc kb/*_fuzz.cc pipeline/*_fuzz.cc live/*_fuzz.cc; do
    [ -e "$f" ] || continue
    n=$(basename "$f" .cc)
    if [ -n "${FUZZ_ONLY:-}" ] && [[ " $FUZZ_ONLY " != *" $n "* ]]; then continue; fi
    echo "$n"
  done
}
all=$(targets)
[ -n "$all" ] || { echo "fuzz.sh: no fuzz targets selected" >&2; exit 2; }

missing=0
for t in $all; do [ -x "$bdir/fuzz_$t" ] || missing=1; done
if [ "$missing" = 1 ]; then
  echo "fuzz.sh: building the fuzz targets in $bdir" >&2
  if [ ! -f "$bdir/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$bdir" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
      -DTPMDIAG_FUZZ=ON >&2 || exit 2
  fi
  tl=""; for t in $all; do tl="$tl fuzz_$t"; done
  # shellcheck disable=SC2086
  nice -n "$nice_n" cmake --build "$bdir" --target $tl >&2 || { echo "fuzz.sh: build failed" >&2; exit 2; }
fi

out=$bdir/fuzz
mkdir -p "$out/seeds" "$out/corpus" "$out/crashes" "$out/logs"

# --- seeds -------------------------------------------------------------------
python3 - "$root" "$out/seeds" $all <<'PY' || { echo "fuzz.sh: seeding failed" >&2; exit 2; }
import bz2, glob, gzip, hashlib, io, json, lzma, os, shutil, sys, tarfile, zipfile
root, seeds, targets = sys.argv[1], sys.argv[2], sys.argv[3:]

def put(t, data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    d = os.path.join(seeds, t)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)

def text_files():
    for base in ("samples", "tests/golden"):
        for p in sorted(glob.glob(os.path.join(root, base, "**", "*"), recursive=True)):
            if os.path.isfile(p) and not p.endswith((".gz", ".tgz", ".zip", ".png")):
                with open(p, "rb") as f:
                    yield p, f.read()

def json_files(patterns):
    for pat in patterns:
        for p in sorted(glob.glob(os.path.join(root, pat), recursive=True)):
            with open(p, "rb") as f:
                yield p, f.read()

def sample_lines():
    """Sample lines declared in formats and rules: each a known shape."""
    out = []
    for _, data in json_files(["parsers/formats/*.json", "rules/*.json"]):
        try:
            doc = json.loads(data)
        except Exception:
            continue
        for fm in doc.get("formats", []):
            for s in fm.get("samples", []):
                out.append(s.get("line", ""))
        for r in doc.get("rules", []):
            sm = r.get("samples", {})
            out += [m.get("line", "") if isinstance(m, dict) else m for m in sm.get("match", [])]
            out += list(sm.get("nomatch", []))
    return [l for l in out if l]

def chunks(data, lines=24, limit=64):
    ls = data.split(b"\n")
    for i in range(0, min(len(ls), lines * limit), lines):
        yield b"\n".join(ls[i:i + lines])

for t in targets:
    d = os.path.join(seeds, t)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    if t in ("format_fuzz", "json_lines_fuzz", "scanner_fuzz", "framing_fuzz"):
        lines = sample_lines()
        for p, data in text_files():
            for c in chunks(data):
                if t == "scanner_fuzz":
                    put(t, bytes([len(c) & 0x1f]) + c)
                elif t == "framing_fuzz":
                    put(t, bytes([1, 200, 3, 7, 13, 40]) + c)
                else:
                    put(t, c)
        for l in lines:
            if t == "framing_fuzz":
                b = l.encode()
                put(t, bytes([1, 100, 0, 5]) + str(len(b)).encode() + b" " + b + b"\n" + b + b"\n")
                put(t, bytes([0, 30, 1, 3, 9]) + b + b"\r\n" + b)
            elif t == "scanner_fuzz":
                put(t, b"\x01" + l.encode() + b"\n")
            else:
                put(t, l)
        if t == "json_lines_fuzz":
            for l in lines[:200]:
                put(t, json.dumps({"message": l, "hostname": "esx01", "timestamp": "2024-01-02T03:04:05Z"}))
                put(t, json.dumps({"MESSAGE": l, "_HOSTNAME": "esx02", "__REALTIME_TIMESTAMP": "1700000000000000",
                                   "PRIORITY": "3", "SYSLOG_IDENTIFIER": "Hostd"}))
                put(t, json.dumps({"log": l, "host": {"name": "esx03"}, "@timestamp": 1700000000123}))
            put(t, '[id@1 sub="Hostsvc.Tpm20Provider" a="x\\"y\\]z"] rest')
    elif t == "keyfilter_fuzz":
        keys = [b"tpm", b"createprimary", b"0x9a2", b"secure boot", b"pmdriver", b"uefi0046", b"x"]
        lines = [l.encode("utf-8", "surrogateescape") for l in sample_lines()[:300]]
        for i in range(0, len(lines), 10):
            ks = keys[: 1 + i % len(keys)]
            head = bytes([len(ks) - 1]) + b"".join(bytes([len(k)]) + k for k in ks)
            put(t, head + b"\n".join(lines[i:i + 10]))
        put(t, bytes([0, 3]) + b"tpm" + b"a" * 130 + b"TPM")
    elif t == "head_match_fuzz":
        # A format's pattern, and its head (the pattern less its last `.*`),
        # with each sample line of the formats: the pattern, a NUL, the text.
        pats = ["(?:ab|a)c", "(?P<x>[^\\]]*?)\\] ", "a{2,3}?b\\b", "(?:a|a)*b", "^(\\S+) (\\w+)?$"]
        lines = []
        for _, data in json_files(["parsers/formats/*.json"]):
            try:
                doc = json.loads(data)
            except Exception:
                continue
            for fm in doc.get("formats", []):
                p = fm.get("pattern", "")
                if p:
                    pats.append(p)
                    at = p.rfind(".*")
                    if at >= 0:
                        pats.append(p[:at] + p[at + 2:])
                lines += [x.get("line", "") for x in fm.get("samples", [])]
        for i, p in enumerate(pats):
            for l in lines[i % 7::7]:
                put(t, p.encode() + b"\0" + l.encode("utf-8", "surrogateescape"))
    elif t == "rule_cache_fuzz":
        # The target builds the embedded rules' cache file itself (odd first
        # byte: patch it; even: the rest is the body, after a right sum: the
        # time it was written and the files' hash, 8 bytes each, the rules).
        written = b"\x00" * 16
        put(t, b"\x01")
        put(t, b"\x01" + b"\x00\x40\x00" + b"\x01\x00\xff" + b"\x80")
        put(t, b"\x03" + b"\x00\x05\x7f")
        put(t, b"\x00")
        put(t, b"\x00" + written + b"\x00\x00\x00\x00")
        put(t, b"\x00" + written + b"\x01\x00\x00\x00" + b"\x02\x00\x00\x00id")
    elif t == "rule_loader_fuzz":
        for _, data in json_files(["rules/*.json", "kb/causes/*.json", "tests/bad-data/**/*.json"]):
            put(t, data)
    elif t == "rc_fuzz":
        for c in ["0x9a2", "(0x18b)", "0X921", "2466", " ( 0x9c4 ) ", "0x000b0921", "0x0008000b", "0",
                  "4294967295", "4294967296", "0xffffffff", "0x1ffffffff", "-1", "0x", "()", "zzz",
                  "00000000000000000000000000000000001", "0x101", "0x80280400"]:
            put(t, c)
        for _, data in json_files(["kb/rc_context.json"]):
            put(t, data)
    elif t == "archive_fuzz":
        log = b""
        for p, data in text_files():
            if "seed-failing" in p:
                log += data[:2000]
        log = log or b"Tpm2Cmd: CreatePrimary: (0x9a2) Unknown\n"
        put(t, gzip.compress(log))
        put(t, gzip.compress(log)[:-9])                    # truncated
        put(t, gzip.compress(log) + gzip.compress(b"x\n"))  # two members
        put(t, bz2.compress(log))
        put(t, lzma.compress(log))
        def tar(members, mode="w"):
            bio = io.BytesIO()
            with tarfile.open(fileobj=bio, mode=mode) as tf:
                for name, data, kind in members:
                    ti = tarfile.TarInfo(name)
                    if kind == "sym":
                        ti.type, ti.linkname = tarfile.SYMTYPE, data.decode()
                        tf.addfile(ti)
                    elif kind == "dir":
                        ti.type = tarfile.DIRTYPE
                        tf.addfile(ti)
                    else:
                        ti.size = len(data)
                        tf.addfile(ti, io.BytesIO(data))
            return bio.getvalue()
        b = "esx-h1-2024-01-01--10.00-123/"
        members = [(b, b"", "dir"), (b + "var/run/log/hostd.log", log, "file"),
                   (b + "var/run/log/vmkernel.1.gz", gzip.compress(log), "file"),
                   (b + "commands/esxcli_hardware-trust.txt", b"Version: 2.0\n", "file"),
                   ("../../x.log", log[:100], "file"), ("/abs/y.log", log[:100], "file"),
                   (b + "var/run/log/link.log", b"/etc/passwd", "sym")]
        put(t, tar(members))
        tgz = tar(members, "w:gz")
        put(t, tgz)
        put(t, tgz[: len(tgz) // 2])
        put(t, tar(members, "w:bz2"))
        put(t, gzip.compress(tar([("inner.tgz", tgz, "file")])))
        bio = io.BytesIO()
        with zipfile.ZipFile(bio, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("vc/esx-h2-2024-01-01--10.00-1.tgz", tgz)
            z.writestr("vc/vpxd.log", log)
        put(t, bio.getvalue())
        put(t, b"")
        put(t, b"plain text\n" + log[:500])
    # Earlier crashes and hand-made hostile inputs for this target.
    for p in glob.glob(os.path.join(root, "tests/fuzz-regressions", t, "*")):
        if os.path.isfile(p):
            with open(p, "rb") as f:
                put(t, f.read())
PY

# --- run ---------------------------------------------------------------------
run_one() {
  local t=$1 bin=$bdir/fuzz_$1
  local log=$out/logs/$t.log
  mkdir -p "$out/corpus/$t" "$out/crashes/$t"
  local dict=()
  local extra=()
  if [ "$secs" = 0 ]; then extra=(-runs=0); else extra=(-max_total_time="$secs"); fi
  [ "$t" = archive_fuzz ] && extra+=(-max_len=65536)
  [ "$t" = rule_loader_fuzz ] && extra+=(-max_len=16384)
  # The key search gathers candidates over 4 KiB of text: inputs past it.
  [ "$t" = keyfilter_fuzz ] && extra+=(-max_len=12288)
  # Each input is scanned three times (prefiltered, reference, in place).
  # 2 KiB holds some 30 log lines (more than the 16-line look-ahead of a
  # record) or hundreds of short `-->` lines (past the 80-line look-back);
  # runs average ~1.5 ms of CPU under ASan, most of it RE2 parsing lines
  # (and ASan's allocator under it).
  [ "$t" = scanner_fuzz ] && extra+=(-max_len=2048)
  local more=()
  if [ -n "${FUZZ_EXTRA_CORPUS:-}" ] && [ -d "$FUZZ_EXTRA_CORPUS/fuzz/corpus/$t" ]; then
    more=("$FUZZ_EXTRA_CORPUS/fuzz/corpus/$t")
  fi
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  nice -n "$nice_n" "$bin" "${extra[@]}" "${dict[@]}" -timeout="$per_input" -rss_limit_mb="$rss" \
    -print_final_stats=1 -artifact_prefix="$out/crashes/$t/" \
    "$out/corpus/$t" "$out/seeds/$t" "${more[@]}" > "$log" 2>&1
  echo $? > "$out/logs/$t.rc"
}

running=0
for t in $all; do
  echo "fuzz.sh: $t for ${secs}s (log: $out/logs/$t.log)" >&2
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait

# --- report ------------------------------------------------------------------
failed=0
printf '%-20s %12s %10s %8s  %s\n' target execs exec/s corpus result
for t in $all; do
  log=$out/logs/$t.log
  rc=$(cat "$out/logs/$t.rc" 2>/dev/null || echo "?")
  execs=$(grep -a -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  rate=$(grep -a -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1 | awk '{ if ($5 > 0) printf "%d", $2 / $5 }')
  corp=$(find "$out/corpus/$t" -type f | wc -l)
  crashes=$(find "$out/crashes/$t" -type f | wc -l)
  result=ok
  if [ "$rc" != 0 ] || [ "$crashes" != 0 ]; then
    result="FAILED (exit $rc; inputs in $out/crashes/$t/)"
    failed=1
    grep -a -m3 -E 'ERROR: (AddressSanitizer|libFuzzer)|runtime error|SUMMARY' "$log" | sed 's/^/    /'
  fi
  printf '%-20s %12s %10s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$corp" "$result"
done
[ "$failed" = 0 ] && exit 0
echo "fuzz.sh: a target failed; copy the input to tests/fuzz-regressions/<target>/ once understood" >&2
exit 1
