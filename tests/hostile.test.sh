#!/usr/bin/env bash
# Hostile-input suite (issue 9): never crash, never hang, never lose the rest.
#
#   tests/hostile.test.sh build-rel/tpmdiag          # ~2-3 minutes
#   HOSTILE_FULL=1 tests/hostile.test.sh BIN         # full sizes (1M syslog hosts, ...)
#   HOSTILE_ONLY="gzip-bomb tar-escape" tests/hostile.test.sh BIN   (HOSTILE_SKIP: all but these)
#   HOSTILE_PENDING=1 tests/hostile.test.sh BIN      # also the known-failing cases
#
# Runs from the source root (CMake registers it) with the tpmdiag binary as $1.
# Each case asserts the exit code (DESIGN.md §5: 0 no problem, 1 problem,
# 2 usage error or an input not read to its end, the report still printed), a clear one-line stderr error naming the bad input,
# bounded memory (peak RSS from /usr/bin/time -f %M against a per-case cap),
# bounded time (timeout), and that the other inputs of the same run are still
# reported. A sanitizer build (ASAN_OPTIONS set, or the binary links ASan) gets
# relaxed memory and time caps and smaller sizes; the cases are the same.
# Limits are documented in docs/limits.md.
set -u
bin=$(realpath "${1:?usage: tests/hostile.test.sh PATH-TO-tpmdiag}")
cd "$(dirname "$0")/.." || exit 2
root=$PWD
export NO_COLOR=1
full=${HOSTILE_FULL:-0}

T=$(mktemp -d "${TMPDIR:-/tmp}/hostile.XXXXXX")
R=$T/.run   # the current command's stdout, stderr, peak RSS
mkdir -p "$R"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  chmod -R u+rwx "$T" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM   # so that EXIT cleans up (stops listeners, removes $T)

# --- sanitizer build? ----------------------------------------------------------
san=0
if [ -n "${ASAN_OPTIONS:-}${UBSAN_OPTIONS:-}" ] || [[ $bin == *asan* || $bin == *sanit* ]] ||
   ldd "$bin" 2>/dev/null | grep -q 'libasan\|libubsan' ||
   grep -q -m1 -a '__asan_init' "$bin" 2>/dev/null; then
  san=1
fi
# cap_mb BASE: a memory cap in MiB, relaxed for sanitizer builds (shadow memory,
# quarantine, redzones).
cap_mb() { if [ "$san" = 1 ]; then echo $(( $1 * 3 + 512 )); else echo "$1"; fi; }
# tmo SECONDS: a time limit, relaxed for sanitizer builds.
tmo() { if [ "$san" = 1 ]; then echo $(( $1 * 5 )); else echo "$1"; fi; }
[ "$san" = 1 ] && echo "hostile: sanitizer build detected: memory and time caps relaxed, sizes reduced" >&2
[ -x /usr/bin/time ] || { echo "hostile: /usr/bin/time is needed (apt-get install time)" >&2; exit 2; }

pass=0 fail=0 skip=0
case_name=""
ok() { pass=$((pass + 1)); echo "ok    $case_name: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL  $case_name: $*"; }
skipped() { skip=$((skip + 1)); echo "skip  $case_name: $*"; }
want() { # want: CONDITION-TEXT, evaluated with [[ ]] semantics by the caller
  if "$@"; then return 0; fi
  return 1
}
selected() {
  [[ " ${HOSTILE_SKIP:-} " == *" $1 "* ]] && return 1
  [ -z "${HOSTILE_ONLY:-}" ] || [[ " $HOSTILE_ONLY " == *" $1 "* ]]
}

# run CAP_MB TIMEOUT_S CMD...: runs CMD (stdin inherited) with stdout in $T/out,
# stderr in $T/err; sets rc, rss_mb (peak RSS of CMD), secs.
run() {
  local cap=$1 limit=$2; shift 2
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -f %M -o "$R/rss" timeout -k 5 "$limit" "$@" > "$R/out" 2> "$R/err"
  rc=$?
  t1=$(date +%s%N)
  secs=$(( (t1 - t0) / 1000000000 ))
  local kb
  kb=$(tail -n 1 "$R/rss" 2>/dev/null)
  case $kb in '' | *[!0-9]*) kb=0 ;; esac
  rss_mb=$(( kb / 1024 ))
  run_cap=$cap
}

# Checks shared by the cases. Each prints nothing; returns 1 after bad().
check_rc() { # WANT...
  local w
  for w in "$@"; do [ "$rc" = "$w" ] && return 0; done
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then bad "timed out (exit $rc)"; else bad "exit $rc, expected $*"; fi
  sed 's/^/    stderr: /' "$R/err" | head -5
  return 1
}
check_rss() {
  if [ "$rss_mb" -gt "$run_cap" ]; then bad "peak RSS ${rss_mb} MiB over the cap of ${run_cap} MiB"; return 1; fi
}
check_no_crash() { # sanitizer reports, aborts
  if grep -q -E 'AddressSanitizer|runtime error:|LeakSanitizer|terminate called|Segmentation fault' "$R/err"; then
    bad "sanitizer report or crash:"; head -20 "$R/err" | sed 's/^/    /'; return 1
  fi
}
# check_error_line TEXT: exactly one stderr line holds TEXT (the bad input's
# name), and it is a tpmdiag error line.
check_error_line() {
  local n line
  n=$(grep -c -F -- "$1" "$R/err")
  if [ "$n" != 1 ]; then bad "expected one stderr line naming '$1', got $n:"; sed 's/^/    stderr: /' "$R/err" | head -5; return 1; fi
  line=$(grep -F -- "$1" "$R/err")
  if [[ $line != tpmdiag* ]]; then bad "error line does not start with 'tpmdiag': $line"; return 1; fi
}
check_stderr_lines() { # MAX: at most MAX stderr lines
  local n; n=$(wc -l < "$R/err")
  if [ "$n" -gt "$1" ]; then bad "$n stderr lines, expected at most $1:"; sed 's/^/    stderr: /' "$R/err" | head -5; return 1; fi
}
check_json() { # stdout is valid JSON
  if ! python3 -m json.tool "$R/out" > /dev/null 2> "$R/jsonerr"; then
    bad "stdout is not valid JSON: $(head -1 "$R/jsonerr")"; return 1
  fi
}
# jq_true EXPR DESCRIPTION: the JSON report satisfies EXPR
jq_true() {
  if ! jq -e "$1" "$R/out" > /dev/null 2>&1; then bad "report check failed: $2 ($1)"; return 1; fi
}
# The good input that goes next to every bad one: a pasted seed case (a TPM
# problem: exit 1, cause ek_certificate_missing among the findings).
good=samples/seed-paste/pasted.txt
good_reported() { jq_true "[.findings[].evidence[].input] | index(\"$good\") != null" "the good input $good is still reported"; }

tpm_line='Tpm2Cmd: CreatePrimary: (0x9a2) Unknown'
hostd_line() { printf '2024-05-01T10:00:%02d.000Z error hostd[2099349] [Originator@6876 sub=Libs] %s\n' "${2:-0}" "$1"; }

# ------------------------------------------------------------------------------
# 1. A 1 GiB line with no newline, the TPM text at its start, streamed through a
#    pipe: cut at --max-line, still matched, RSS bounded, done in time.
case_long_line() {
  case_name=long-line
  local size=$((1 << 30)) label=1GiB
  if [ "$san" = 1 ]; then size=$((256 << 20)); label=256MiB; fi
  run "$(cap_mb 200)" "$(tmo 40)" "$bin" diagnose --format json - "$good" \
    < <(printf '%s' "$tpm_line"; head -c "$size" /dev/zero | tr '\0' a)
  check_rc 1 || return
  check_no_crash || return
  check_rss || return
  check_json || return
  jq_true '[.inputs[] | select(.name == "-")][0].cut_lines == 1' "the line is counted as cut" || return
  jq_true '[.findings[].evidence[] | select(.input == "-" and .line == 1)] | length > 0' \
    "the cut line is still matched (evidence -:1)" || return
  good_reported || return
  ok "$label line via a pipe: exit 1, cut and matched, ${rss_mb} MiB peak (cap ${run_cap}), ${secs}s"
}

# The same as a regular file (mapped, not read; issue 20 #15): the pages of
# the line are released as it is passed, and no search runs over all of it
# (325 MiB peak and 5x the piped time for 300 MiB before). The file is
# written in one write: the page cache may then hold it in 2 MiB folios, and
# each page touched maps its whole folio (62 MiB peak before the pages of the
# key sample and the cut-point searches were released, 17 MiB after; issue
# 21 asks <= 64).
case_long_line_file() {
  case_name=long-line-file
  local size=$((300 << 20)) label=300MiB
  if [ "$san" = 1 ]; then size=$((128 << 20)); label=128MiB; fi
  python3 - "$T/longline.log" "$size" "$tpm_line" "$good" <<'PY'
import os, sys
path, size, line, good = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode(), sys.argv[4]
data = memoryview(line + b"a" * size + b"\n" + open(good, "rb").read())
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
while data:
    data = data[os.write(fd, data):]
os.close(fd)
PY
  run "$(cap_mb 40)" "$(tmo 20)" "$bin" diagnose --format json "$T/longline.log"
  check_rc 1 || return
  check_no_crash || return
  check_rss || return
  check_json || return
  jq_true "[.inputs[] | select(.name == \"$T/longline.log\")][0].cut_lines == 1" "the line is counted as cut" || return
  jq_true "[.findings[].evidence[] | select(.line == 1)] | length > 0" "the cut line is still matched" || return
  jq_true '[.findings[].cause] | index("ek_certificate_missing") != null' "the lines after it are read" || return
  ok "$label line in a file: exit 1, cut and matched, ${rss_mb} MiB peak (cap ${run_cap}), ${secs}s"
}

# --max-line itself: a small cap cuts an ordinary TPM line after its match,
# also when the line ends inside one read buffer.
case_max_line_option() {
  case_name=max-line-option
  { hostd_line "$tpm_line $(head -c 5000 /dev/zero | tr '\0' b)"; } > "$T/long.log"
  run "$(cap_mb 100)" "$(tmo 10)" "$bin" diagnose --format json --max-line 300 "$T/long.log"
  check_rc 1 || return
  check_json || return
  jq_true "[.inputs[] | select(.name == \"$T/long.log\")][0].cut_lines == 1" "cut at --max-line 300" || return
  jq_true '[.findings[].evidence[].text | length] | max <= 300' "evidence text within --max-line" || return
  ok "--max-line 300 cuts a 5 KB line, still matched"
}

# 2. NUL bytes and invalid UTF-8 inside TPM lines: JSON output stays valid.
case_nul_utf8() {
  case_name=nul-invalid-utf8
  {
    printf '2024-05-01T10:00:01.000Z error hostd[2099349] [Originator@6876 sub=Libs] Tpm2Cmd: CreatePrimary: (0x9a2) Unknown \0\0 tail \xff\xfe\xc3\x28 \xed\xa0\x80 \xf8\x88\x80\x80\x80\n'
    printf 'Tpm2Cmd: DictionaryAttackLockReset: (0x921) TPM_RC_LOCKOUT\0\x01\x1b[31m\x7f \xc0\xaf "quoted" back\\slash\n'
    printf '\0\0\0\n\xff\xff\xff\xff\n'
    printf 'Unable to provision Endorsement Key on TPM 2.0 device: \xe2\x82 No RSA Endorsement Key certificate found\r\n'
  } > "$T/nul.log"
  run "$(cap_mb 100)" "$(tmo 10)" "$bin" diagnose --format json "$T/nul.log" "$good"
  check_rc 1 || return
  check_no_crash || return
  check_json || return
  jq_true "[.findings[].evidence[] | select(.input == \"$T/nul.log\")] | length >= 2" "the NUL/invalid UTF-8 lines are matched" || return
  good_reported || return
  run "$(cap_mb 100)" "$(tmo 10)" "$bin" explain --format json "$T/nul.log"
  check_rc 0 || return
  check_json || return
  run "$(cap_mb 100)" "$(tmo 10)" "$bin" diagnose "$T/nul.log"
  check_rc 1 || return
  check_no_crash || return
  # Control bytes from a log (ESC sequences could recolour or move the cursor) are shown as \xNN.
  if LC_ALL=C grep -q -P '[\x00-\x08\x0b-\x1f\x7f]' "$R/out"; then bad "text report contains a raw control byte"; return; fi
  if ! grep -q -F '\x1b[31m' "$R/out"; then bad "text report does not show the ESC byte as \\x1b"; return; fi
  ok "NULs and invalid UTF-8: diagnose/explain JSON valid, lines matched, text report has no raw control byte"
}

# 3. Empty and whitespace-only input.
case_empty() {
  case_name=empty-input
  : > "$T/empty.log"
  printf ' \t\n\n   \r\n\t\t\n' > "$T/blank.log"
  run "$(cap_mb 100)" "$(tmo 10)" "$bin" diagnose --format json "$T/empty.log"
  check_rc 0 || return
  check_json || return
  jq_true '.verdict == "no_tpm_evidence"' "empty file: no_tpm_evidence" || return
  run "$(cap_mb 100)" "$(tmo 10)" "$bin" diagnose --format json "$T/blank.log" "$T/empty.log" "$good"
  check_rc 1 || return
  check_stderr_lines 0 || return
  good_reported || return
  run "$(cap_mb 100)" "$(tmo 10)" "$bin" diagnose --format json - < /dev/null
  check_rc 0 || return
  check_json || return
  run "$(cap_mb 100)" "$(tmo 10)" "$bin" diagnose - < <(printf '   \n\t\n')
  check_rc 0 || return
  ok "empty file, whitespace-only file, empty stdin: exit 0, no errors; next to a good input: exit 1"
}

# 4. A truncated .gz next to a good input.
case_truncated_gz() {
  case_name=truncated-gz
  gzip -c samples/seed-failing/hostd.log > "$T/full.gz"
  local n; n=$(stat -c %s "$T/full.gz")
  head -c $((n * 2 / 3)) "$T/full.gz" > "$T/hostd.0.gz"
  run "$(cap_mb 100)" "$(tmo 10)" "$bin" diagnose --format json "$T/hostd.0.gz" "$good"
  check_rc 2 || return
  check_no_crash || return
  check_error_line "$T/hostd.0.gz" || return
  check_stderr_lines 1 || return
  check_json || return
  good_reported || return
  jq_true "[.inputs[] | select(.name == \"$T/hostd.0.gz\")][0].error != null" "the .gz input carries its error" || return
  ok "truncated .gz: one error line naming it ($(grep -F "$T/hostd.0.gz" "$R/err" | sed "s#$T/##" | cut -c1-90)), the rest reported"
}

# Builds a tar(.gz) with python: make_tar OUT MODE (name kind data-file|target)...
make_tar() {
  python3 - "$@" <<'PY'
import io, sys, tarfile
out, mode, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
with tarfile.open(out, mode) as tf:
    for i in range(0, len(rest), 3):
        name, kind, arg = rest[i:i + 3]
        ti = tarfile.TarInfo(name)
        ti.mtime = 1700000000
        if kind == "sym":
            ti.type, ti.linkname = tarfile.SYMTYPE, arg
            tf.addfile(ti)
        elif kind == "hard":
            ti.type, ti.linkname = tarfile.LNKTYPE, arg
            tf.addfile(ti)
        elif kind == "dir":
            ti.type = tarfile.DIRTYPE
            tf.addfile(ti)
        elif kind == "random":
            import os
            data = os.urandom(int(arg))
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
        else:
            data = open(arg, "rb").read()
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
PY
}

# 5. A truncated .tgz next to a good input: the members before the cut count.
case_truncated_tgz() {
  case_name=truncated-tgz
  local b=esx-h1-2024-05-01--10.00-1
  make_tar "$T/full.tgz" w:gz "$b/var/run/log/hostd.log" file samples/seed-failing/hostd.log \
    "$b/var/run/log/vmkernel.log" random 400000
  local n; n=$(stat -c %s "$T/full.tgz")
  head -c $((n * 3 / 4)) "$T/full.tgz" > "$T/bundle.tgz"
  run "$(cap_mb 100)" "$(tmo 10)" "$bin" diagnose --format json "$T/bundle.tgz" "$good"
  check_rc 2 || return
  check_no_crash || return
  check_error_line "$T/bundle.tgz" || return
  check_stderr_lines 1 || return
  check_json || return
  good_reported || return
  jq_true "[.findings[].evidence[].input] | index(\"$T/bundle.tgz!$b/var/run/log/hostd.log\") != null" \
    "the member before the cut is still diagnosed" || return
  jq_true '[.hosts[].host] | index("h1") != null' "host h1 from the bundle path" || return
  ok "truncated .tgz: one error line ($(grep -F "$T/bundle.tgz" "$R/err" | sed "s#$T/##" | cut -c1-100)), earlier member and good input reported"
}

# 6. A gzip bomb (1 GiB of zeros) with --max-decompressed 100 MiB, as a .gz and
#    as a member of a .tgz.
case_gzip_bomb() {
  case_name=gzip-bomb
  local size=$((1 << 30))
  [ "$san" = 1 ] && size=$((512 << 20))
  head -c "$size" /dev/zero | gzip -1 > "$T/bomb.log.gz"
  local limit=$((100 << 20))
  run "$(cap_mb 100)" "$(tmo 20)" "$bin" diagnose --format json --max-decompressed "$limit" "$T/bomb.log.gz" "$good"
  check_rc 2 || return
  check_no_crash || return
  check_rss || return
  check_error_line "$T/bomb.log.gz" || return
  check_json || return
  good_reported || return
  local read; read=$(jq "[.inputs[] | select(.name == \"$T/bomb.log.gz\")][0].bytes" "$R/out")
  if [ "$read" -gt "$limit" ]; then bad "read $read bytes, over --max-decompressed $limit"; return; fi
  local msg; msg=$(grep -F "$T/bomb.log.gz" "$R/err" | sed "s#$T/##")
  # As a member of a bundle.
  local b=esx-h2-2024-05-01--10.00-1
  python3 - "$T/bomb.tgz" "$b" "$size" <<'PY'
import gzip, io, sys, tarfile
out, b, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
with tarfile.open(out, "w:gz") as tf:
    ti = tarfile.TarInfo(b + "/var/run/log/hostd.log"); data = open("samples/seed-failing/hostd.log", "rb").read()
    ti.size = len(data); tf.addfile(ti, io.BytesIO(data))
    bio = io.BytesIO()
    with gzip.GzipFile(fileobj=bio, mode="wb", compresslevel=1) as g:
        chunk = b"\0" * (1 << 20)
        for _ in range(size >> 20): g.write(chunk)
    ti = tarfile.TarInfo(b + "/var/run/log/vmkernel.0.gz"); ti.size = len(bio.getvalue())
    tf.addfile(ti, io.BytesIO(bio.getvalue()))
    ti = tarfile.TarInfo(b + "/var/run/log/vobd.log"); data = b"2024-05-01T10:00:00.000Z: [GenericCorrelator] 1: [vob.user.tpm] after the bomb\n"
    ti.size = len(data); tf.addfile(ti, io.BytesIO(data))
PY
  run "$(cap_mb 100)" "$(tmo 20)" "$bin" diagnose --format json --max-decompressed "$limit" "$T/bomb.tgz" "$good"
  check_rc 2 || return
  check_no_crash || return
  check_rss || return
  check_error_line "vmkernel.0.gz" || return
  check_json || return
  good_reported || return
  jq_true "[.findings[].evidence[].input] | index(\"$T/bomb.tgz!$b/var/run/log/hostd.log\") != null" \
    "the bundle's other member is still diagnosed" || return
  ok "gzip bomb stops at --max-decompressed ($msg); inside a .tgz too; ${rss_mb} MiB peak, ${secs}s"
}

# 6b. Decompression amplification (issue 20 #3): a small .tgz of 100 gzip
#    bombs, each under --max-decompressed, stops at the run's total
#    (--max-total-decompressed, default 4 x --max-decompressed), not after 100.
case_many_bombs() {
  case_name=many-bombs
  local b=esx-h3-2024-05-01--10.00-1 mb=32
  python3 - "$T/bombs.tgz" "$b" "$mb" <<'PY'
import gzip, io, sys, tarfile
out, b, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
bomb = gzip.compress(b"\n" * (mb << 20), compresslevel=1)
with tarfile.open(out, "w:gz") as tf:
    for i in range(100):
        ti = tarfile.TarInfo("%s/var/run/log/vmkernel.%d.gz" % (b, i)); ti.size = len(bomb)
        tf.addfile(ti, io.BytesIO(bomb))
PY
  local kb=$(( $(stat -c %s "$T/bombs.tgz") / 1024 ))
  run "$(cap_mb 100)" "$(tmo 20)" "$bin" diagnose --format json --max-decompressed "${mb}M" "$T/bombs.tgz" "$good"
  check_rc 2 || return
  check_no_crash || return
  check_rss || return
  check_error_line "max-total-decompressed" || return
  check_json || return
  good_reported || return
  local total=$(( 4 * mb << 20 )) read
  read=$(jq "[.inputs[] | select(.name | startswith(\"$T/bombs.tgz\")) | .bytes] | add" "$R/out")
  if [ "$read" -gt $(( total + (1 << 20) )) ]; then bad "inflated $read bytes, over the total $total"; return; fi
  ok "a ${kb} KB .tgz of 100 bombs of ${mb} MiB stops at the run's total ($read bytes inflated of $((100 * mb)) MiB); ${rss_mb} MiB peak, ${secs}s"
}

# 6c. scan under a memory limit (issue 20 #7): 8 bundles, each a .gz holding
#    one 150 MiB line, scanned at once with --max-line 1G in 1.2 GiB of address
#    space. Inputs that cannot get the memory are their own errors, the others
#    are stored; never an abort (std::bad_alloc was exit 134). Not under ASan
#    (its shadow memory needs terabytes of address space).
case_scan_oom() {
  case_name=scan-oom
  if [ "$san" = 1 ]; then skipped "address-space limits do not apply to sanitizer builds"; return; fi
  local i d
  (head -c $((150 << 20)) /dev/zero | tr '\0' a; echo; cat samples/seed-failing/hostd.log) | gzip -1 > "$T/longline.gz"
  for i in 1 2 3 4 5 6 7 8; do
    d=$T/oom/esx-m$i-2024-01-01--10.00-1/var/run/log
    mkdir -p "$d" && cp "$T/longline.gz" "$d/hostd.0.gz"
  done
  run "$(cap_mb 1300)" "$(tmo 60)" bash -c 'ulimit -v $((1200 * 1024)); exec "$@"' sh \
    "$bin" scan --db "$T/oom.db" --format json --jobs 8 --max-line 1G "$T/oom"
  check_rc 1 2 || return
  check_no_crash || return
  check_json || return
  local n_err n_rows
  n_err=$(grep -c -F 'out of memory while reading' "$R/err")
  n_rows=$(sqlite3 "$T/oom.db" "select count(*) from inputs")
  if [ "$n_rows" != 8 ]; then bad "$n_rows of 8 inputs stored"; return; fi
  jq_true '.stats.inputs == 8 and (.stats.scanned + .stats.errors) == 8' "every input counted once" || return
  ok "8 x 150 MiB lines in 1.2 GiB: $n_err inputs out of memory (one error line each), all 8 stored; ${secs}s"
}

# 6d. scan into a store that fills up (issue 20 #7): files may grow to 400 KiB
#    (ulimit -f, SIGXFSZ ignored, so writes fail as on a full disk). Inputs whose
#    rows could not be written are errors, "not stored", never "scanned".
case_scan_full_disk() {
  case_name=scan-full-disk
  local i d
  for i in $(seq 1 60); do
    d=$T/full/esx-f$i-2024-01-01--10.00-1/var/run/log
    mkdir -p "$d" && cp samples/seed-failing/*.log "$d/"
  done
  run "$(cap_mb 200)" "$(tmo 60)" bash -c "trap '' XFSZ; ulimit -f 400; exec \"\$@\"" sh \
    "$bin" scan --db "$T/full.db" --format json "$T/full"
  check_rc 2 || return
  check_no_crash || return
  check_json || return
  local stored lost
  stored=$(sqlite3 "$T/full.db" "select count(*) from inputs")
  lost=$(jq .stats.not_stored "$R/out")
  jq_true ".stats.inputs == 60 and .stats.scanned == $stored and .stats.errors == $lost and $lost > 0" \
    "scanned = rows in the store ($stored), errors = not stored" || return
  check_error_line "inputs diagnosed but not stored" || return
  ok "store full after $stored of 60 inputs: $lost counted as not stored, one error line, exit 2"
}

# 7. Tar members named ../../x, absolute paths, symlinks and hard links: names
#    only, nothing created outside, links never followed.
case_tar_escape() {
  case_name=tar-escape
  mkdir -p "$T/esc/a/b" "$T/outside"
  hostd_line "$tpm_line OUTSIDE-MARKER" > "$T/outside/secret.log"
  hostd_line "$tpm_line member-dotdot" > "$T/dotdot.log"
  hostd_line "$tpm_line member-abs" > "$T/abs.log"
  local abs="$T/outside/abs-created.log" b=esx-h3-2024-05-01--10.00-1
  make_tar "$T/esc/a/b/evil.tgz" w:gz \
    "../../escaped.log" file "$T/dotdot.log" \
    "../../../../../../../../..$T/outside/dotdot-created.log" file "$T/dotdot.log" \
    "$abs" file "$T/abs.log" \
    "$b/var/run/log/link.log" sym "$T/outside/secret.log" \
    "$b/var/run/log/hard.log" hard "$T/outside/secret.log" \
    "$b/var/run/log/up.log" sym "../../../../outside/secret.log" \
    "$b/var/run/log/hostd.log" file samples/seed-failing/hostd.log
  local listing='find "$T" -path "$R" -prune -o -print'
  local before_l; before_l=$(eval "$listing" | sort); local before; before=$(md5sum <<< "$before_l")
  cd "$T/esc/a/b" || return
  run "$(cap_mb 100)" "$(tmo 10)" "$bin" diagnose --format json evil.tgz "$root/$good"
  cd "$root" || exit 2
  check_rc 1 || return
  check_no_crash || return
  check_json || return
  local after; after=$(eval "$listing" | sort | md5sum)
  if [ -e "$T/esc/escaped.log" ] || [ -e "$T/esc/a/escaped.log" ] || [ -e "$T/outside/dotdot-created.log" ] ||
     [ -e "$abs" ] || [ -e /escaped.log ]; then
    bad "a member was written to disk"; return
  fi
  [ "$before" = "$after" ] || { bad "files appeared under $T: $(diff <(echo "$before_l") <(eval "$listing" | sort) | head -5 | tr "\n" " ")"; return; }
  if grep -q OUTSIDE-MARKER "$R/out"; then bad "a symlink or hard link member was followed"; return; fi
  jq_true '[.findings[].evidence[].input] | map(select(endswith("hostd.log"))) | length > 0' "the bundle's real member is diagnosed" || return
  jq_true "[.findings[].evidence[].input] | index(\"$root/$good\") != null" "the good input is still reported" || return
  local names; names=$(jq -r '[.findings[].evidence[].input] | unique | map(select(startswith("evil.tgz!"))) | join(", ")' "$R/out")
  ok "../ and absolute member names are names only ($names), links not followed, nothing written"
}

# 8. A symlink loop (and a symlink out of the tree) in a scanned folder.
case_symlink_loop() {
  case_name=symlink-loop
  mkdir -p "$T/loop/var/run/log/sub" "$T/outside"
  hostd_line "$tpm_line OUTSIDE-MARKER" > "$T/outside/secret.log"
  cp samples/seed-failing/hostd.log "$T/loop/var/run/log/hostd.log"
  ln -s . "$T/loop/var/run/log/self"
  ln -s .. "$T/loop/var/run/log/sub/parent"
  ln -s ../../loop "$T/loop/var/run/log/sub/up"
  ln -s "$T/outside/secret.log" "$T/loop/var/run/log/secret.log"
  ln -s "$T/outside" "$T/loop/var/run/log/outside"
  ln -s a "$T/loop/var/run/log/b.log"; ln -s b.log "$T/loop/var/run/log/a"   # a file-name loop
  run "$(cap_mb 100)" "$(tmo 15)" "$bin" diagnose --format json "$T/loop" "$good"
  check_rc 1 || return
  check_no_crash || return
  check_json || return
  if grep -q OUTSIDE-MARKER "$R/out"; then bad "a symlink was followed out of the folder"; return; fi
  jq_true "[.findings[].evidence[].input] | index(\"$T/loop/var/run/log/hostd.log\") != null" "the folder's log is diagnosed" || return
  good_reported || return
  ok "symlink loops in a folder: walk ends (${secs}s), links not followed, logs reported"
}

# 9. An unreadable file next to a good one. Root reads through chmod 000, so
#    the binary runs as 'nobody' (setpriv) when we are root.
case_unreadable() {
  case_name=unreadable-file
  mkdir -p "$T/perm"
  cp samples/seed-failing/hostd.log "$T/perm/locked.log"
  cp "$good" "$T/perm/good.txt"
  chmod 000 "$T/perm/locked.log"
  chmod 755 "$T" "$T/perm"; chmod 644 "$T/perm/good.txt"
  local pre=()
  if [ "$(id -u)" = 0 ]; then
    if ! command -v setpriv > /dev/null; then skipped "running as root and setpriv is missing: chmod 000 does not stop root"; return; fi
    pre=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    if ! "${pre[@]}" test -x "$bin" || "${pre[@]}" test -r "$T/perm/locked.log"; then
      skipped "running as root; user nobody cannot run $bin (or can read the file), so an unreadable file cannot be made"
      return
    fi
  elif [ -r "$T/perm/locked.log" ]; then
    skipped "chmod 000 does not stop reads here"; return
  fi
  run "$(cap_mb 100)" "$(tmo 10)" "${pre[@]}" "$bin" diagnose --format json "$T/perm/locked.log" "$T/perm/good.txt"
  check_rc 2 || return
  check_no_crash || return
  check_error_line "$T/perm/locked.log" || return
  check_json || return
  jq_true "[.findings[].evidence[].input] | index(\"$T/perm/good.txt\") != null" "the readable input is reported" || return
  local msg; msg=$(grep -F locked.log "$R/err" | sed "s#$T/##")
  # Alone: nothing could be read -> exit 2.
  run "$(cap_mb 100)" "$(tmo 10)" "${pre[@]}" "$bin" diagnose "$T/perm/locked.log"
  check_rc 2 || return
  # In a folder: one error line naming it, and the rest is read.
  run "$(cap_mb 100)" "$(tmo 10)" "${pre[@]}" "$bin" diagnose --format json "$T/perm"
  check_rc 2 || return
  check_error_line "$T/perm/locked.log" || return
  check_stderr_lines 1 || return
  check_json || return
  jq_true "[.findings[].evidence[].input] | index(\"$T/perm/good.txt\") != null" "the folder's readable file is reported" || return
  ok "unreadable file (as ${pre[*]:-$(id -un)}): '$msg'; alone exit 2; in a folder one error line, the rest read"
}

# 10. Many tiny files in a folder.
case_many_files() {
  case_name=many-files
  local n=100000
  [ "$san" = 1 ] && n=5000
  python3 - "$T/many/var/run/log" "$n" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d)
line = b"2024-05-01T10:00:00.000Z In(166) Hostd[1]: [Originator@6876 sub=Default] nothing here\n"
for i in range(n):
    with open(os.path.join(d, "f%06d.log" % i), "wb") as f:
        f.write(line)
PY
  hostd_line "$tpm_line" 5 > "$T/many/var/run/log/zz-tpm.log"
  run "$(cap_mb 300)" "$(tmo 90)" "$bin" diagnose --format json "$T/many" "$good"
  check_rc 1 || return
  check_no_crash || return
  check_rss || return
  check_json || return
  jq_true "(.inputs | length) >= $n" "every file is an input" || return
  jq_true "[.findings[].evidence[].input] | index(\"$T/many/var/run/log/zz-tpm.log\") != null" "the one TPM file is found" || return
  good_reported || return
  ok "$((n + 1)) tiny files in one folder: ${secs}s, ${rss_mb} MiB peak (cap ${run_cap})"
  rm -rf "$T/many"
}

# 11. Malformed rule and cause files: exit 2, one line naming file, rule/cause
#     id and field. (tests/golden.test.sh covers bad regex, missing fact, no
#     literal, no negative sample, truncated JSON, unknown field, bad weight,
#     no reference, unknown fact.)
rule_json() { # ID FIELD=VALUE overrides as JSON object text
  python3 - "$@" <<'PY'
import json, sys
rid, over = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "{}"
r = {"id": rid, "title": "t", "source": ["hostd"], "pattern": "Tpm2Cmd: Hostile: \\((?P<rc>0x[0-9a-f]+)\\)",
     "fact": "hostile_fact", "severity": "error", "role": "symptom", "meaning": "m",
     "samples": {"match": [{"line": "Tpm2Cmd: Hostile: (0x9a2)", "captures": {"rc": "0x9a2"}}],
                 "nomatch": ["Tpm2Cmd: Other: (0x9a2)"]}}
for k, v in json.loads(over).items():
    if v is None: r.pop(k, None)
    else: r[k] = v
print(json.dumps({"family": "hostile", "rules": [r]}))
PY
}
# bad_data KIND(rules|kb) NAME FILE-CONTENT NEEDLE...: every NEEDLE in the one stderr line
bad_data() {
  local kind=$1 name=$2 content=$3; shift 3
  local d="$T/bad-$kind-$name"
  mkdir -p "$d"
  printf '%s' "$content" > "$d/$name.json"
  run "$(cap_mb 150)" "$(tmo 15)" "$bin" diagnose "--$kind" "$d" "$good"
  local what="$kind/$name"
  if [ "$rc" != 2 ]; then bad "$what: exit $rc, expected 2: $(head -1 "$R/err")"; return 1; fi
  check_no_crash || return 1
  if [ "$(wc -l < "$R/err")" != 1 ]; then bad "$what: $(wc -l < "$R/err") stderr lines, expected 1:"; sed 's/^/    /' "$R/err" | head -3; return 1; fi
  local n
  for n in "$name.json" "$@"; do
    if ! grep -q -F -- "$n" "$R/err"; then bad "$what: error does not say '$n': $(cat "$R/err")"; return 1; fi
  done
  return 0
}
case_bad_rules() {
  case_name=malformed-rules
  local before=$fail cases=0
  bad_data rules wrong-type "$(rule_json x.wt '{"pattern": 42}')" "rule 'x.wt'" "'pattern'"; cases=$((cases + 1))
  bad_data rules bad-id "$(rule_json 'X Bad!')" "'id'"; cases=$((cases + 1))
  bad_data rules no-id "$(rule_json x '{"id": null}')" "rule #1" "'id'"; cases=$((cases + 1))
  bad_data rules bad-severity "$(rule_json x.sev '{"severity": "fatal"}')" "rule 'x.sev'" "'severity'"; cases=$((cases + 1))
  bad_data rules bad-role "$(rule_json x.role '{"role": "hint"}')" "rule 'x.role'" "'role'"; cases=$((cases + 1))
  bad_data rules bad-source "$(rule_json x.src '{"source": ["toaster"]}')" "rule 'x.src'" "'source'"; cases=$((cases + 1))
  bad_data rules source-number "$(rule_json x.srcl '{"source": 5}')" "rule 'x.srcl'" "'source'"; cases=$((cases + 1))
  bad_data rules bad-window "$(rule_json x.win '{"window": "reboot"}')" "rule 'x.win'" "'window'"; cases=$((cases + 1))
  bad_data rules bad-when "$(rule_json x.when '{"when": {"rc_name": 5}}')" "rule 'x.when'" "'when" ; cases=$((cases + 1))
  bad_data rules bad-fact "$(rule_json x.fact '{"fact": "Has Space"}')" "rule 'x.fact'" "'fact'"; cases=$((cases + 1))
  bad_data rules empty-title "$(rule_json x.title '{"title": ""}')" "rule 'x.title'" "'title'"; cases=$((cases + 1))
  bad_data rules samples-not-object "$(rule_json x.smp '{"samples": ["a"]}')" "rule 'x.smp'" "'samples"; cases=$((cases + 1))
  local dup; dup=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["rules"]*=2; print(json.dumps(d))' "$(rule_json x.dup)")
  bad_data rules duplicate-id "$dup" "rule 'x.dup'" "'id'"; cases=$((cases + 1))
  bad_data rules rules-not-list '{"family": "h", "rules": {"id": "x"}}' "'rules'"; cases=$((cases + 1))
  bad_data rules root-array '[1, 2, 3]' "object"; cases=$((cases + 1))
  bad_data rules empty-file '' "invalid JSON"; cases=$((cases + 1))
  bad_data rules nul-byte "$(printf '{"family": "h", "rules": [\001]}')" "invalid JSON"; cases=$((cases + 1))
  bad_data rules deep-nesting "$(python3 -c 'print("[" * 100000 + "]" * 100000)')" "json"; cases=$((cases + 1))
  # Sample mistakes are found by `tpmdiag rules test` (CI runs it): exit 1, one
  # line naming file, rule and capture.
  mkdir -p "$T/bad-sample"
  rule_json x.cap '{"samples": {"match": [{"line": "Tpm2Cmd: Hostile: (0x9a2)", "captures": {"nope": "1"}}], "nomatch": ["Tpm2Cmd: Hostile: (0x9a2)"]}}' > "$T/bad-sample/cap.json"
  run "$(cap_mb 150)" "$(tmo 15)" "$bin" rules test --rules "$T/bad-sample"
  if [ "$rc" != 1 ]; then bad "rules test on a wrong sample: exit $rc, expected 1"
  elif [ "$(grep -c 'FAIL' "$R/out")" != 2 ] || ! grep -q "cap.json: rule 'x.cap': capture 'nope'" "$R/out" ||
       ! grep -q "cap.json: rule 'x.cap': matches a line it must not match" "$R/out"; then
    bad "rules test does not name file, rule and capture: $(grep FAIL "$R/out" | head -3)"
  else cases=$((cases + 1)); fi
  # A pattern with nested quantifiers on a hostile 1 MiB line: RE2 is linear, no hang.
  mkdir -p "$T/redos"
  rule_json x.redos '{"pattern": "Tpm2Cmd: (a+)+(?P<rc>0x[0-9a-f]+)$", "samples": {"match": [{"line": "Tpm2Cmd: aa0x9a2", "captures": {"rc": "0x9a2"}}], "nomatch": ["Tpm2Cmd: b"]}}' > "$T/redos/redos.json"
  { printf 'Tpm2Cmd: '; head -c 1000000 /dev/zero | tr '\0' a; printf 'b\n'; } > "$T/redos.log"
  run "$(cap_mb 150)" "$(tmo 15)" "$bin" diagnose --rules "$T/redos" "$T/redos.log" "$good"
  if [ "$rc" != 1 ]; then bad "nested-quantifier rule on a 1 MB line: exit $rc (timeout 124), ${secs}s"
  else cases=$((cases + 1)); fi
  # Causes.
  local cause
  cause() { # overrides
    python3 - "$1" <<'PY'
import json, sys
c = json.load(open("kb/causes/tpm_da_lockout.json"))
for k, v in json.loads(sys.argv[1]).items():
    if v is None: c.pop(k, None)
    else: c[k] = v
print(json.dumps(c))
PY
  }
  bad_data kb no-id "$(cause '{"id": null}')" "'id'"; cases=$((cases + 1))
  bad_data kb bad-id "$(cause '{"id": "Bad-Id"}')" "'id'"; cases=$((cases + 1))
  bad_data kb unknown-field "$(cause '{"titel": "x"}')" "cause 'tpm_da_lockout'" "'titel'"; cases=$((cases + 1))
  bad_data kb trigger-not-list "$(cause '{"evidence": {"prior": 0.3, "trigger": {"fact": "x"}}}')" "cause 'tpm_da_lockout'" "trigger"; cases=$((cases + 1))
  bad_data kb no-trigger "$(cause '{"evidence": {"prior": 0.3}}')" "cause 'tpm_da_lockout'" "trigger"; cases=$((cases + 1))
  bad_data kb bad-prior "$(cause '{"evidence": {"prior": 7, "trigger": [{"fact": "tpm2_command_failed"}]}}')" "cause 'tpm_da_lockout'" "prior"; cases=$((cases + 1))
  bad_data kb empty-all "$(cause '{"evidence": {"prior": 0.3, "trigger": [{"all": []}]}}')" "cause 'tpm_da_lockout'" "all"; cases=$((cases + 1))
  bad_data kb fix-empty "$(cause '{"fix": []}')" "cause 'tpm_da_lockout'" "'fix'"; cases=$((cases + 1))
  bad_data kb bad-url "$(cause '{"references": [{"url": "ftp:/nope", "title": "x"}]}')" "cause 'tpm_da_lockout'" "references"; cases=$((cases + 1))
  bad_data kb where-number "$(cause '{"evidence": {"prior": 0.3, "trigger": [{"fact": "tpm2_command_failed", "where": {"rc": 5}}]}}')" "cause 'tpm_da_lockout'" "where"; cases=$((cases + 1))
  bad_data kb truncated "$(cause '{}' | head -c 200)" "invalid JSON"; cases=$((cases + 1))
  unset -f cause
  [ "$fail" = "$before" ] && ok "$cases malformed rule/cause files: exit 2, one line naming file, id and field"
}

# 12. A syslog flood of distinct host names to `tpmdiag listen`: memory stays
#     bounded by --max-hosts.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start_listen ARGS...: starts listen in the background; sets lpid, lport
start_listen() {
  lport=$(free_port)
  rm -f "$T/listen.out" "$T/listen.err"   # no stale "listening on" from an earlier case
  "$bin" listen --tcp "127.0.0.1:$lport" --udp "127.0.0.1:0" "$@" > "$T/listen.out" 2> "$T/listen.err" &
  lpid=$!
  pids+=("$lpid")
  local i
  for i in $(seq $(( $(tmo 10) * 10 ))); do
    grep -q "listening on tcp" "$T/listen.err" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
stop_listen() {
  kill -TERM "$lpid" 2>/dev/null
  local i
  for i in $(seq $(( $(tmo 10) * 10 ))); do kill -0 "$lpid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$lpid" 2>/dev/null; then kill -KILL "$lpid"; wait "$lpid" 2>/dev/null; lrc=137; return 1; fi
  wait "$lpid"; lrc=$?
}
# Peak RSS of the listener: it is measured by wrapping listen in /usr/bin/time.
case_syslog_flood_rss() {
  case_name=syslog-flood-rss
  local n=200000 cap_hosts=1000
  [ "$full" = 1 ] && n=1000000
  [ "$san" = 1 ] && n=20000  # each evicted host is diagnosed: ~1 ms each under ASan
  lport=$(free_port)
  rm -f "$T/listen.out" "$T/listen.err"
  /usr/bin/time -f %M -o "$T/listen.rss" "$bin" listen --tcp "127.0.0.1:$lport" --udp 127.0.0.1:0 \
    --max-hosts "$cap_hosts" --stats-interval 1 > "$T/listen.out" 2> "$T/listen.err" &
  local tpid=$!
  pids+=("$tpid")
  local i
  for i in $(seq $(( $(tmo 10) * 10 ))); do grep -q "listening on tcp" "$T/listen.err" 2>/dev/null && break; sleep 0.1; done
  grep -q "listening on tcp" "$T/listen.err" 2>/dev/null || { bad "listen did not start: $(head -3 "$T/listen.err")"; return; }
  local t0; t0=$(date +%s)
  python3 - "$lport" "$n" <<'PY'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
batch = []
for i in range(n):
    msg = ("<11>1 2024-05-01T10:00:00.000Z flood-host-%07d Hostd 1234 - - "
           "Tpm2Cmd: CreatePrimary: (0x9a2) Unknown" % i).encode()
    batch.append(b"%d %s" % (len(msg), msg))
    if len(batch) == 2000:
        s.sendall(b"".join(batch)); batch = []
s.sendall(b"".join(batch))
s.close()
PY
  # The listener's own pid is the child of time.
  local lp; lp=$(pgrep -P "$tpid" | head -1)
  local deadline=$(( $(date +%s) + $(tmo 150) )) prev=-1 cur still=0
  # Wait until every message is processed (the stats records' count), or
  # until it stops growing for 5 s.
  while [ "$(date +%s)" -lt "$deadline" ]; do
    sleep 1
    cur=$(grep '"type":"stats"' "$T/listen.out" | tail -1 | jq '.messages' 2>/dev/null)
    [ "$cur" = "$n" ] && break
    if [ "$cur" = "$prev" ]; then still=$((still + 1)); [ "$still" -ge 5 ] && break; else still=0; fi
    prev=$cur
  done
  kill -TERM "$lp" 2>/dev/null
  wait "$tpid"; local lrc2=$?
  local kb; kb=$(tail -n 1 "$T/listen.rss"); case $kb in '' | *[!0-9]*) kb=0 ;; esac
  local mb=$((kb / 1024)) cap; cap=$(cap_mb 250)
  local stats; stats=$(grep '"type":"stats"' "$T/listen.out" | tail -1)
  [ "$lrc2" = 0 ] || { bad "listen exit $lrc2: $(tail -3 "$T/listen.err")"; return; }
  [ -n "$stats" ] || { bad "no final stats record"; return; }
  local hosts msgs ev
  hosts=$(jq '.hosts' <<< "$stats"); msgs=$(jq '.messages' <<< "$stats"); ev=$(jq '.evictions.hosts' <<< "$stats")
  [ "$hosts" -le "$cap_hosts" ] || { bad "$hosts hosts kept, over --max-hosts $cap_hosts"; return; }
  [ "$msgs" = "$n" ] || { bad "$msgs of $n messages processed (the rest lost)"; return; }
  [ "$mb" -le "$cap" ] || { bad "peak RSS $mb MiB over the cap of $cap MiB with --max-hosts $cap_hosts"; return; }
  ok "$n distinct host names over TCP: $hosts kept (--max-hosts $cap_hosts), $ev evicted, peak ${mb} MiB (cap $cap), $(($(date +%s) - t0))s"
}

# 13. A TCP client sends half a frame and stalls: others are still served, the
#     idle timeout closes it, the partial frame is counted.
case_half_frame() {
  case_name=half-frame-stall
  start_listen --idle-timeout 2 --stats-interval 1 --settle 0 || { bad "listen did not start: $(head -3 "$T/listen.err")"; return; }
  python3 - "$lport" "$T/listen.out" <<'PY' > "$T/client.out" 2>&1
import json, socket, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
staller = socket.create_connection(("127.0.0.1", port))
staller.sendall(b"500 <11>1 2024-05-01T10:00:00.000Z stall-host Hostd 1 - - Tpm2Cmd: Crea")  # 500 announced, ~70 sent
staller2 = socket.create_connection(("127.0.0.1", port))
staller2.sendall(b"<11>1 2024-05-01T10:00:00.000Z stall-host2 Hostd 1 - - no newline ever")  # LF-framed, never ends
time.sleep(0.3)
good = socket.create_connection(("127.0.0.1", port))
for i, m in enumerate([
    "Tpm2Cmd: DictionaryAttackLockReset: (0x921) TPM_RC_LOCKOUT",
    "Tpm2Cmd: CreatePrimary: (0x9a2) Unknown",
    "Unable to provision Endorsement Key on TPM 2.0 device: Failed to create EK.",
]):
    msg = ("<11>1 2024-05-01T10:00:%02d.000Z good-host Hostd 1 - - %s" % (i, m)).encode()
    good.sendall(b"%d %s" % (len(msg), msg))
good.close()
t0 = time.time()
# The good host's finding must come out while the stallers still hold their
# connections (before the 2 s idle timeout).
served = "not-served-while-stalled"
while time.time() - t0 < 1.5:
    if any('"finding"' in l and "good-host" in l for l in open(out, errors="replace")):
        served = "served-after-%.2fs" % (time.time() - t0)
        break
    time.sleep(0.05)
print(served, end=" ")
# Keep the stallers open past the idle timeout; the server must close them.
closed = []
for s, name in ((staller, "octet"), (staller2, "lf")):
    s.settimeout(6)
    try:
        data = s.recv(1)
        closed.append("%s:closed-after-%.1fs" % (name, time.time() - t0) if data == b"" else name + ":data")
    except socket.timeout:
        closed.append(name + ":still-open")
print(" ".join(closed))
PY
  local client; client=$(cat "$T/client.out")
  local found_at; found_at=$(grep -c '"type":"finding".*good-host' "$T/listen.out")
  stop_listen
  [ "$lrc" = 0 ] || { bad "listen exit $lrc"; return; }
  local stats; stats=$(grep '"type":"stats"' "$T/listen.out" | tail -1)
  [ "$found_at" -ge 1 ] && [[ $client == served-after* ]] || { bad "the good client was not served while others stalled: $client"; return; }
  [[ $client == *octet:closed* && $client == *lf:closed* ]] || { bad "stalled clients not closed by --idle-timeout 2: $client"; return; }
  local idle partial
  idle=$(jq '.connections.idle_timeouts' <<< "$stats"); partial=$(jq '.drop_detail.partial_frames' <<< "$stats")
  [ "$idle" -ge 2 ] || { bad "idle_timeouts = $idle, expected 2"; return; }
  [ "$partial" -ge 1 ] || { bad "partial_frames = $partial, expected >= 1"; return; }
  ok "half frame + stalled clients: good client served, stallers closed ($client), idle_timeouts=$idle partial_frames=$partial"
}

# 14. A nested-archive depth bomb and garbage: errors name the input, the rest is read.
case_nesting_and_garbage() {
  case_name=nesting-garbage
  hostd_line "$tpm_line" > "$T/inner.log"
  cp "$T/inner.log" "$T/n0.log"
  local i prev="$T/n0.log"
  for i in 1 2 3 4 5 6 7; do
    make_tar "$T/n$i.tgz" w:gz "n$((i - 1)).$([ $i = 1 ] && echo log || echo tgz)" file "$prev"
    prev="$T/n$i.tgz"
  done
  head -c 1000000 /dev/urandom > "$T/garbage.log"
  printf '\x1f\x8b\x08\x00garbage-after-gzip-magic' > "$T/fake.gz"
  printf 'ustar-but-not-a-tar' > "$T/fake.tgz"
  run "$(cap_mb 150)" "$(tmo 15)" "$bin" diagnose --format json "$T/n7.tgz" "$T/garbage.log" "$T/fake.gz" "$T/fake.tgz" "$good"
  check_rc 2 || return
  check_no_crash || return
  check_json || return
  good_reported || return
  check_error_line "$T/n7.tgz" || return
  check_error_line "$T/fake.gz" || return
  local msg; msg=$(grep -F n7.tgz "$R/err" | sed "s#$T/##" | cut -c1-110)
  ok "7-deep nested .tgz ($msg), random bytes, fake .gz/.tgz: one error line each, the rest reported"
}

# 15. Many matching TPM lines. Known limit (docs/limits.md "Facts"): every
#     matching line is kept as a fact and listed as evidence, so memory and the
#     report grow with their number (~1.5 KiB of RSS per line measured). The
#     cap guards against a regression beyond that; HOSTILE_FULL runs 1M lines.
case_many_tpm_lines() {
  case_name=many-tpm-lines
  # One line repeated: folded into a few facts, so memory stays flat.
  local n=1000000 cap=100
  [ "$san" = 1 ] && n=100000 cap=300
  run "$(cap_mb "$cap")" "$(tmo 120)" "$bin" diagnose --format json - < <(python3 -c "
import sys
line = b'2024-05-01T10:00:00.000Z error hostd[2099349] [Originator@6876 sub=Libs] Tpm2Cmd: CreatePrimary: (0x9a2) Unknown\n'
sys.stdout.buffer.write(line * $n)")
  check_rc 1 || return
  check_no_crash || return
  check_json || return
  check_rss || return
  jq_true '[.findings[].evidence[] | select(.input == "-")] | length > 0' "the lines are matched" || return
  jq_true "[.hosts[].boots[].tpm_lines] | add == $n" "every line counted (tpm_lines == $n)" || return
  jq_true "[.inputs[0].repeated_facts] | add > 0" "identical lines folded" || return
  local same_rss=$rss_mb same_secs=$secs
  # Distinct symptom lines (each its own code): kept up to 4 x --max-facts (what
  # a verdict rests on), the rest counted; dropping symptoms makes the input
  # incomplete (exit 2), so the cap never changes a verdict silently.
  run "$(cap_mb "$cap")" "$(tmo 120)" "$bin" diagnose --format json --max-facts 5000 - < <(python3 -c "
import sys
w = sys.stdout.write
for i in range(200000):
    w('2024-05-01T10:00:00.000Z error hostd[2099349] [Originator@6876 sub=Libs] Tpm2Cmd: CreatePrimary: (0x%x) Unknown\n' % (0x900 + i))")
  check_rc 2 || return
  check_json || return
  check_rss || return
  jq_true '.inputs[0].dropped_facts > 0' "facts over --max-facts counted as dropped" || return
  jq_true '.incomplete and .verdict == "problem"' "symptoms dropped: incomplete, the problem still reported" || return
  ok "$n identical TPM lines on stdin: ${same_rss} MiB peak (cap ${run_cap}), ${same_secs}s, every line counted; 200000 distinct ones with --max-facts 5000: ${rss_mb} MiB peak, the rest counted as dropped, input incomplete"
}

# 16. A missing input and a folder given as a file next to a good input.
case_missing() {
  case_name=missing-input
  run "$(cap_mb 100)" "$(tmo 10)" "$bin" diagnose --format json "$T/nope.log" "$good"
  check_rc 2 || return
  check_error_line "$T/nope.log" || return
  check_stderr_lines 1 || return
  good_reported || return
  ok "a missing input next to a good one: one error line, exit 2, the good one reported"
}

# 16b. An input whose name holds an escape sequence and a newline: the error
#      line on stderr shows them as \xNN and stays one line (issue 20, point 14).
case_hostile_name() {
  case_name=hostile-name
  local name="$T/evil"$'\x1b[31m\n'"name.log"
  run "$(cap_mb 100)" "$(tmo 10)" "$bin" diagnose --format json "$name" "$good"
  check_rc 2 || return
  check_stderr_lines 1 || return
  if LC_ALL=C grep -q -P '\x1b' "$R/err"; then bad "a raw ESC byte reached stderr"; return; fi
  if ! grep -q -F 'evil\x1b[31m\x0aname.log' "$R/err"; then bad "the name is not shown escaped: $(cat "$R/err")"; return; fi
  good_reported || return
  ok "a name with ESC and a newline: one stderr line, shown as \\xNN"
}

# 17. Absurd limit values are usage errors (exit 2, one line naming the
#     option), never an abort (a huge --max-line once aborted on allocation)
#     nor a wrap-around ("-1" read as 2^64 - 1 by an unsigned option).
case_bad_limit_values() {
  case_name=bad-limit-values
  local before=$fail a opt
  for a in "diagnose --max-line -5" "diagnose --max-line 100000000000" "diagnose --max-decompressed -1" \
           "diagnose --min-confidence -3" "explain --max-depth 0" "diagnose --max-text-member 1T" \
           "scan --db $T/bad-limits.db --jobs -1" "scan --db $T/bad-limits.db --max-line 100" \
           "serve --max-body 0" "serve --max-depth 99" "listen --max-frame -5" "listen --udp-rcvbuf 5G" \
           "listen --max-hosts -1" "watch --max-facts-per-host 0" "watch --max-frame 1Q"; do
    opt=$(grep -o -- '--[a-z-]*' <<< "$a" | grep -v -x -- --db | head -1)   # the option under test
    # shellcheck disable=SC2086
    run "$(cap_mb 200)" "$(tmo 10)" "$bin" $a "$good"
    if [ "$rc" != 2 ] || [ "$(wc -l < "$R/err")" != 1 ] || ! grep -q -- "$opt" "$R/err"; then
      bad "$a: exit $rc (want 2 and one line naming $opt): $(head -2 "$R/err" | tr '\n' ' ')"
    fi
  done
  [ "$fail" = "$before" ] && ok "absurd limit values on diagnose/explain/scan/serve/listen/watch are usage errors naming the option"
}

# 18. An unreadable subfolder inside a walked folder is reported (one line
#     naming it, an input with an error in the report) and the rest of the
#     folder is read. Root reads through chmod 000: as root the binary runs as
#     'nobody' (setpriv), or the case is skipped, as in unreadable-file.
case_unreadable_subfolder() {
  case_name=unreadable-subfolder
  mkdir -p "$T/psub/locked" "$T/psub/open"
  cp samples/seed-failing/hostd.log "$T/psub/locked/x.log"
  cp "$good" "$T/psub/open/p.txt"
  chmod 755 "$T" "$T/psub" "$T/psub/open"; chmod 644 "$T/psub/open/p.txt"; chmod 000 "$T/psub/locked"
  local pre=()
  if [ "$(id -u)" = 0 ]; then
    if ! command -v setpriv > /dev/null; then skipped "running as root and setpriv is missing: chmod 000 does not stop root"; return; fi
    pre=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    if ! "${pre[@]}" test -x "$bin" || "${pre[@]}" test -r "$T/psub/locked"; then
      skipped "running as root; user nobody cannot run $bin (or can read the folder), so an unreadable folder cannot be made"
      return
    fi
  elif [ -r "$T/psub/locked" ]; then
    skipped "chmod 000 does not stop reads here"; return
  fi
  run "$(cap_mb 100)" "$(tmo 10)" "${pre[@]}" "$bin" diagnose --format json "$T/psub"
  chmod 755 "$T/psub/locked"
  check_rc 2 || return
  check_no_crash || return
  check_error_line "$T/psub/locked" || return
  check_stderr_lines 1 || return
  check_json || return
  jq_true "[.inputs[] | select(.name == \"$T/psub/locked\" and .error != null)] | length == 1" \
    "the subfolder is an input with its error" || return
  jq_true "[.findings[].evidence[].input] | index(\"$T/psub/open/p.txt\") != null" "the rest of the folder is read" || return
  ok "unreadable subfolder (as ${pre[*]:-$(id -un)}): '$(sed "s#$T/##" "$R/err")', the rest read"
}

# 19. Size options take K, M, G (binary) through one parser, on every command
#     that has them; a bad suffix is a usage error naming the option; scan and
#     serve have --max-line.
case_size_suffixes() {
  case_name=size-suffixes
  local size=$((256 << 20))
  [ "$san" = 1 ] && size=$((160 << 20))
  head -c "$size" /dev/zero | gzip -1 > "$T/bomb-m.log.gz"
  run "$(cap_mb 100)" "$(tmo 20)" "$bin" diagnose --format json --max-decompressed 100M "$T/bomb-m.log.gz" "$good"
  check_rc 2 || return
  check_no_crash || return
  check_error_line "$T/bomb-m.log.gz" || return
  if ! grep -q '104857600' "$R/err"; then bad "--max-decompressed 100M is not 104857600 bytes: $(cat "$R/err")"; return; fi
  check_json || return
  jq_true "[.inputs[] | select(.name == \"$T/bomb-m.log.gz\")][0].bytes <= 104857600" "stops at 100 MiB" || return
  good_reported || return
  run "$(cap_mb 100)" "$(tmo 10)" "$bin" explain --max-line 64k --max-decompressed 1G --max-text-member 1MiB "$good"
  check_rc 0 || return
  run "$(cap_mb 100)" "$(tmo 20)" "$bin" scan --db "$T/suffix.db" --format json --max-line 64K --max-decompressed 1g "$good"
  check_rc 1 || return
  local a
  for a in "diagnose --max-decompressed 100X" "diagnose --max-line 1T" "diagnose --max-line 1.5M" \
           "scan --db $T/suffix.db --max-line 64Q" "serve --max-line 12kb" "serve --max-body 1E" \
           "listen --max-frame 64KB" "watch --max-frame 1k5"; do
    local opt; opt=$(grep -o -- '--[a-z-]*' <<< "$a" | grep -v -x -- --db | head -1)
    # shellcheck disable=SC2086
    run "$(cap_mb 100)" "$(tmo 10)" "$bin" $a "$good"
    if [ "$rc" != 2 ] || [ "$(wc -l < "$R/err")" != 1 ] || ! grep -q -- "$opt" "$R/err"; then
      bad "$a: exit $rc (want 2 and one line naming $opt): $(head -2 "$R/err" | tr '\n' ' ')"; return
    fi
  done
  # serve takes --max-line 64K: the only error left is the bad --listen after it.
  run "$(cap_mb 100)" "$(tmo 10)" "$bin" serve --max-line 64K --max-body 1G --listen 127.0.0.1:99999
  check_rc 2 || return
  if grep -q -- '--max-line\|--max-body' "$R/err" || ! grep -q -- '--listen' "$R/err"; then
    bad "serve --max-line 64K --max-body 1G not accepted: $(cat "$R/err")"; return
  fi
  ok "--max-decompressed 100M stops a bomb at 104857600 bytes; K/M/G accepted by diagnose/explain/scan/serve; bad suffixes exit 2 naming the option"
}

# 20. --max-depth and --max-text-member: a .gz inside a .tgz is two levels
#     (a .tgz is one), so --max-depth 1 refuses it with one error line and
#     reads its siblings; a commands/*.txt over --max-text-member is skipped.
case_depth_member_options() {
  case_name=depth-member-options
  local b=esx-h7-2024-05-01--10.00-1
  hostd_line "$tpm_line" > "$T/depth-inner.log"
  gzip -c "$T/depth-inner.log" > "$T/depth-inner.gz"
  head -c 5000 /dev/zero | tr '\0' c > "$T/depth-cmd.txt"
  make_tar "$T/depth.tgz" w:gz "$b/var/run/log/vmkernel.0.gz" file "$T/depth-inner.gz" \
    "$b/var/run/log/hostd.log" file samples/seed-failing/hostd.log \
    "$b/commands/esxcli_system-version-get.txt" file "$T/depth-cmd.txt"
  run "$(cap_mb 100)" "$(tmo 10)" "$bin" diagnose --format json --max-depth 1 --max-text-member 4K "$T/depth.tgz"
  check_rc 2 || return
  check_no_crash || return
  check_error_line "$T/depth.tgz!$b/var/run/log/vmkernel.0.gz" || return
  check_stderr_lines 1 || return
  if ! grep -q 'more than 1 level deep' "$R/err"; then bad "not the depth error: $(cat "$R/err")"; return; fi
  check_json || return
  jq_true "[.findings[].evidence[].input] | index(\"$T/depth.tgz!$b/var/run/log/hostd.log\") != null" \
    "the sibling member is read" || return
  jq_true "[.inputs[].name] | map(select(endswith(\".txt\"))) | length == 0" "commands/*.txt over 4K skipped" || return
  local msg; msg=$(sed "s#$T/##" "$R/err" | cut -c1-120)
  # Defaults: depth 4 and 256 MiB read both.
  run "$(cap_mb 100)" "$(tmo 10)" "$bin" diagnose --format json "$T/depth.tgz"
  check_rc 1 || return
  check_stderr_lines 0 || return
  jq_true "[.findings[].evidence[].input] | index(\"$T/depth.tgz!$b/var/run/log/vmkernel.0.gz\") != null" \
    "by default the nested .gz is read" || return
  jq_true "[.inputs[].name] | map(select(endswith(\".txt\"))) | length == 1" "by default commands/*.txt is read" || return
  ok "--max-depth 1: '$msg', siblings read; --max-text-member 4K skips a 5 KB command output; defaults read both"
}

# 21. No thread to be had (a process or cgroup limit on threads): each step
#    that splits its work over threads (a large file's parts, the timeline's
#    hashes, the JSON report's parts, scan's workers, compiling many rules)
#    does it all on the one it has, with the same report. pthread_create
#    fails through a preloaded shim.
case_no_threads() {
  case_name=no-threads
  if [ "$san" = 1 ]; then skipped "a preloaded shim and the sanitizer runtime do not mix"; return; fi
  if ! command -v cc > /dev/null; then skipped "no C compiler for the shim"; return; fi
  printf '%s\n' '#include <errno.h>' '#include <pthread.h>' \
    'int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*f)(void *), void *x) {' \
    '  (void)t; (void)a; (void)f; (void)x; return EAGAIN; }' > "$T/nothread.c"
  if ! cc -shared -fPIC -o "$T/nothread.so" "$T/nothread.c"; then bad "the shim did not build"; return; fi
  # 80 MiB (split across threads from 64 MiB) holding 12000 distinct TPM lines.
  python3 - "$T/big.log" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    fill = "".join("2024-05-01T10:%02d:00.000Z cpu1:2099240)ScsiDeviceIO: 4325: Cmd 0x2a to dev naa.%d failed\n"
                   % (k % 60, k) for k in range(80))
    for i in range(12000):
        f.write(fill)
        f.write("2024-05-01T10:%02d:%02d.000Z error hostd[2099349] [Originator@6876 sub=Libs] "
                "Tpm2Cmd: CreatePrimary: (0x%x) Unknown\n" % (i // 3600 % 60, i // 60 % 60, 0x900 + i))
PY
  run "$(cap_mb 300)" "$(tmo 60)" "$bin" diagnose --format json "$T/big.log"
  check_rc 1 || return
  cp "$R/out" "$T/threads.json"
  run "$(cap_mb 300)" "$(tmo 60)" env LD_PRELOAD="$T/nothread.so" "$bin" diagnose --format json "$T/big.log"
  check_rc 1 || return
  check_no_crash || return
  check_stderr_lines 0 || return
  if ! cmp -s "$R/out" "$T/threads.json"; then bad "the report differs from the one made with threads"; return; fi
  local big_secs=$secs i d
  # scan's workers: the jobs run on the one thread, each stored.
  for i in 1 2 3; do
    d=$T/nothreads/esx-t$i-2024-01-01--10.00-1/var/run/log
    mkdir -p "$d" && cp samples/seed-failing/*.log "$d/"
  done
  run "$(cap_mb 300)" "$(tmo 60)" env LD_PRELOAD="$T/nothread.so" "$bin" scan --db "$T/nothreads.db" --jobs 2 \
    --format json "$T/nothreads"
  check_rc 1 || return
  check_no_crash || return
  jq_true '.stats.inputs == 3 and .stats.scanned == 3 and .stats.errors == 0' "3 bundles scanned" || return
  # Many rules compiled at once (10x the built-in ones, no cache): on one thread.
  python3 bench/gen_rules_x10.py --out "$T/x10" > /dev/null || { bad "gen_rules_x10.py failed"; return; }
  hostd_line 'Tpm2Cmd: CreatePrimary: (0x9a2) Unknown' > "$T/one.log"
  run "$(cap_mb 300)" "$(tmo 60)" env TPMDIAG_CACHE_DIR="$T/cache1" "$bin" diagnose --format json --rules "$T/x10" "$T/one.log"
  cp "$R/out" "$T/x10.json"
  run "$(cap_mb 300)" "$(tmo 60)" env LD_PRELOAD="$T/nothread.so" TPMDIAG_CACHE_DIR="$T/cache2" "$bin" diagnose \
    --format json --rules "$T/x10" "$T/one.log"
  check_rc 1 || return
  check_no_crash || return
  if ! cmp -s "$R/out" "$T/x10.json"; then bad "the report with 10x rules differs from the one made with threads"; return; fi
  ok "$(( $(stat -c %s "$T/big.log") >> 20 )) MiB, 12000 TPM lines, no thread to be had: the same report, exit 1, ${big_secs}s; scan --jobs 2 stores all 3 bundles; 10x rules compile on one thread"
}

all_cases="long-line long-line-file nul-invalid-utf8 empty-input truncated-gz truncated-tgz gzip-bomb many-bombs scan-oom scan-full-disk tar-escape
symlink-loop unreadable-file unreadable-subfolder many-files malformed-rules syslog-flood-rss half-frame-stall
nesting-garbage many-tpm-lines missing-input hostile-name bad-limit-values size-suffixes depth-member-options max-line-option
no-threads"
pending_cases=""   # known failures, see each case; HOSTILE_PENDING=1 runs them
[ "${HOSTILE_PENDING:-0}" = 1 ] && all_cases="$all_cases $pending_cases"
t_start=$(date +%s)
for c in $all_cases; do
  selected "$c" || continue
  fn=case_${c//-/_}
  case $c in
    nul-invalid-utf8) fn=case_nul_utf8 ;;
    empty-input) fn=case_empty ;;
    unreadable-file) fn=case_unreadable ;;
    malformed-rules) fn=case_bad_rules ;;
    half-frame-stall) fn=case_half_frame ;;
    nesting-garbage) fn=case_nesting_and_garbage ;;
    missing-input) fn=case_missing ;;
    depth-member-options) fn=case_depth_member_options ;;
  esac
  "$fn"
done
echo "hostile: $(( $(date +%s) - t_start ))s$([ "$san" = 1 ] && echo ', sanitizer build')$([ "$full" = 1 ] && echo ', full mode')"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
