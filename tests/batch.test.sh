#!/usr/bin/env bash
# Batch scans into the SQLite fleet store, end to end with the CLI. Bundles are
# built here with tar/gzip (no binary archives in the repository).
#   tests/batch.test.sh build/tpmdiag
set -u
bin=$(realpath "${1:?usage: batch.test.sh PATH-TO-tpmdiag}")
cd "$(dirname "$0")/.." || exit 2
export NO_COLOR=1
src=$PWD
work=$(mktemp -d /tmp/tpmdiag-batch-sh.XXXXXX)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
ok() { pass=$((pass+1)); }
bad() { echo "FAIL $*" >&2; fail=$((fail+1)); }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }

# bundle HOST MODE(resolved|failing|healthy) -> $work/fleet/esx-HOST-….tgz
# Failing lines sit in the OLDEST rotation (hostd.2.gz, vmkernel.1.gz); the
# members are added newest first, so archive order is not timeline order.
bundle() {
  local host=$1 mode=$2 top="esx-$1-2024-01-01--10.00-$RANDOM"
  local d="$work/src/$top" log="$work/src/$top/var/run/log"
  mkdir -p "$log" "$d/commands" "$d/var/core"
  if [ "$mode" = resolved ]; then cp "$src/samples/seed-fixed/hostd.log" "$log/hostd.log"
  else echo 'info hostd[2099457] [Originator@6876 sub=Hostsvc] Plugin initialized' > "$log/hostd.log"; fi
  echo '2021-10-29T20:00:00.000Z info hostd[1] [Originator@6876 sub=Vimsvc] Task completed' | gzip > "$log/hostd.0.gz"
  echo '2021-10-29T20:00:00.000Z info hostd[1] [Originator@6876 sub=Vimsvc] Task started' | gzip > "$log/hostd.1.gz"
  echo '2021-10-29T20:00:01.000Z cpu2:2097621)NetPort: 1580: disabled port 0x2000004' > "$log/vmkernel.log"
  if [ "$mode" = healthy ]; then
    echo '2021-10-29T18:00:00.000Z info hostd[1] [Originator@6876 sub=Vimsvc] Task started' | gzip > "$log/hostd.2.gz"
    echo '2021-10-29T18:00:00.000Z cpu2:1)Boot' | gzip > "$log/vmkernel.1.gz"
  else
    gzip -c "$src/samples/seed-failing/hostd.log" > "$log/hostd.2.gz"
    gzip -c "$src/samples/seed-failing/vmkernel.log" > "$log/vmkernel.1.gz"
  fi
  head -c 4096 /dev/urandom > "$d/var/core/vmkernel-zdump.1"
  printf 'VMware ESXi 7.0.3 build-19193900\nVMware ESXi 7.0 Update 3\n' > "$d/commands/vmware_-vl.txt"
  printf 'VMkernel %s.lab.local 7.0.3 #1 SMP Release build-19193900 Nov 22 2021 x86_64 x86_64 x86_64 ESXi\n' "$host" > "$d/commands/uname_-a.txt"
  printf '  BIOS Info: #0\n    Vendor: "American Megatrends Inc."\n    Version: "3.4"\n  Board Info: #2\n    Manufacturer: "Supermicro"\n    Product: "X11DPi-NT"\n' > "$d/commands/smbiosDump.txt"
  printf '   Drtm Enabled: false\n   Tpm Present: true\n' > "$d/commands/localcli_hardware-trustedboot-get.txt"
  printf 'Name      Version              Vendor  Acceptance Level  Install Date\n--------  -------------------  ------  ----------------  ------------\ntpm       7.0.3-0.20.19193900  VMware  VMwareCertified   2023-05-01\n' > "$d/commands/localcli_software-vib-list.txt"
  mkdir -p "$work/fleet"
  (cd "$work/src" && tar czf "$work/fleet/$top.tgz" "$top/commands" "$top/var/core" \
     "$top/var/run/log/hostd.log" "$top/var/run/log/hostd.0.gz" "$top/var/run/log/hostd.1.gz" "$top/var/run/log/hostd.2.gz" \
     "$top/var/run/log/vmkernel.log" "$top/var/run/log/vmkernel.1.gz")
  echo "$work/fleet/$top.tgz"
}

resolved=$(bundle host1 resolved)
failing=$(bundle host2 failing)
healthy=$(bundle host3 healthy)
good=$(bundle host4 failing)
# The fourth: truncated.
trunc="$work/fleet/esx-host4-2024-01-01--10.00-9.tgz"
head -c $(( $(stat -c %s "$good") * 2 / 3 )) "$good" > "$trunc"; rm "$good"
db="$work/fleet.db"

# 0. libarchive is loaded for the first archive only (parsers/archive.cc):
# a paste does not pay for it and its ten libraries, a bundle reads.
inits() { LD_DEBUG=libs "$@" 2>&1 >/dev/null | grep -c 'calling init: .*libarchive'; }
n=$(echo '2021-10-29T20:00:00.000Z info hostd[1] [Originator@6876 sub=Vimsvc] Task started' | inits "$bin" diagnose -)
check "a paste loads no libarchive ($n inits)" [ "$n" = 0 ]
n=$(inits "$bin" diagnose "$resolved")
check "a bundle loads libarchive ($n inits)" [ "$n" -ge 1 ]
out=$("$bin" diagnose "$resolved" 2>&1)
check "...and reads it: $out" grep -q "files under .*tgz" <<<"$out"

# 1. Three good bundles and one truncated: three scanned, one error, exit 1.
out=$("$bin" scan --db "$db" --jobs 2 "$work/fleet" 2>"$work/err"); rc=$?
check "scan exit 1 (a problem was found), got $rc" [ "$rc" = 1 ]
check "summary counts: $(tail -1 <<<"$out")" grep -q '^4 inputs: 3 scanned, 0 unchanged, 1 error' <<<"$out"
check "host1 resolved" grep -Eq '^host1 +resolved +tpm_firmware_outdated' <<<"$out"
check "host2 problem" grep -Eq '^host2 +problem +tpm_firmware_outdated' <<<"$out"
check "host3 healthy or no TPM evidence" grep -Eq '^host3 +(healthy|no_tpm_evidence) ' <<<"$out"
check "one stderr line for the truncated bundle: $(cat "$work/err")" [ "$(wc -l < "$work/err")" = 1 ]
check "error names archive, member, truncation" grep -q "esx-host4-2024-01-01--10.00-9.tgz: archive truncated or corrupt .*member '.*'.*" "$work/err"

# 2. sqlite3 answers as documented (docs/store.md).
q=$(sqlite3 "$db" "select host, cause from findings where cause = 'tpm_firmware_outdated' order by host")
check "findings view: $q" [ "$q" = "$(printf 'host1|tpm_firmware_outdated\nhost2|tpm_firmware_outdated')" ]
q=$(sqlite3 "$db" "select verdict from findings where host = 'host1' and cause = 'tpm_firmware_outdated'")
check "host1 finding resolved: $q" [ "$q" = resolved ]
q=$(sqlite3 "$db" "select status from inputs where path like '%esx-host4-%'")
check "truncated input recorded as error: $q" [ "$q" = error ]
q=$(sqlite3 "$db" "select esxi_build, bios_vendor, board_product, tpm_present, tpmdriver_vib from bundles where host = 'host2'")
check "bundle metadata: $q" [ "$q" = "19193900|American Megatrends Inc.|X11DPi-NT|true|true" ]
q=$(sqlite3 "$db" "select count(*) from evidence")
check "evidence rows: $q" [ "$q" -gt 0 ]
q=$(sqlite3 "$db" "pragma journal_mode")
check "WAL: $q" [ "$q" = wal ]

# 3. A rescan without changes does no work; --force does it again.
out=$("$bin" scan --db "$db" "$work/fleet" 2>/dev/null); rc=$?
check "rescan exit 1 (stored problem still open), got $rc" [ "$rc" = 1 ]
check "rescan scanned nothing: $(tail -1 <<<"$out")" grep -q '^4 inputs: 0 scanned, 3 unchanged, 1 error; 4 hosts' <<<"$out"
check "rescan still lists host2" grep -Eq '^host2 +problem .*\(unchanged\)' <<<"$out"
json=$("$bin" scan --db "$db" --format json "$work/fleet" 2>/dev/null)
check "json stats scanned 0" grep -q '"scanned": 0' <<<"$json"
out=$("$bin" scan --db "$db" --force "$work/fleet" 2>/dev/null)
check "--force rescans: $(tail -1 <<<"$out")" grep -q '^4 inputs: 3 scanned, 0 unchanged, 1 error' <<<"$out"
q=$(sqlite3 "$db" "select count(*) from findings where cause = 'tpm_firmware_outdated'")
check "no duplicate findings after --force: $q" [ "$q" = 2 ]
touch "$healthy"
out=$("$bin" scan --db "$db" "$work/fleet" 2>/dev/null)
check "a touched bundle is scanned again: $(tail -1 <<<"$out")" grep -q '^4 inputs: 1 scanned, 2 unchanged, 1 error' <<<"$out"

# 4. Two concurrent scans into one database both land.
db2="$work/concurrent.db"
mkdir -p "$work/a" "$work/b"
cp "$resolved" "$work/a/"; cp "$healthy" "$work/a/"; cp "$failing" "$work/b/"
for i in 1 2 3; do cp "$failing" "$work/b/esx-copy$i-2024-01-01--10.00-$i.tgz"; done
"$bin" scan --db "$db2" --jobs 2 "$work/a" >/dev/null 2>"$work/err.a" & pa=$!
"$bin" scan --db "$db2" --jobs 2 "$work/b" >/dev/null 2>"$work/err.b" & pb=$!
wait $pa; ra=$?; wait $pb; rb=$?
check "concurrent scan a exit 0 (resolved + healthy), got $ra ($(cat "$work/err.a"))" [ "$ra" = 0 ]
check "concurrent scan b exit 1, got $rb ($(cat "$work/err.b"))" [ "$rb" = 1 ]
q=$(sqlite3 "$db2" "select count(*) from inputs where status = 'ok'")
check "both scans landed: $q inputs" [ "$q" = 6 ]
q=$(sqlite3 "$db2" "select count(*) from scans where finished_at is not null")
check "two scan records: $q" [ "$q" = 2 ]
q=$(sqlite3 "$db2" "pragma integrity_check")
check "integrity: $q" [ "$q" = ok ]

# 5. tpmdiag db answers the common questions.
out=$("$bin" db hosts --db "$db" --cause tpm_firmware_outdated); rc=$?
check "db hosts --cause: exit 1 (open problem listed), got $rc" [ "$rc" = 1 ]
check "db hosts lists host1 and host2" [ "$(grep -Ec '^host[12] ' <<<"$out")" = 2 ]
check "db hosts shows the build" grep -q 19193900 <<<"$out"
out=$("$bin" db findings --db "$db" --cause pcr_bank_sha1_only); rc=$?
check "db findings, none: exit 0, got $rc" [ "$rc" = 0 ]
check "db findings, none: says so" grep -q 'No findings' <<<"$out"
"$bin" db summary --db "$db" --format json > "$work/sum.json"; rc=$?
check "db summary json exit 1 (open problems), got $rc" [ "$rc" = 1 ]
check "db summary json has causes" grep -q '"cause": "tpm_firmware_outdated"' "$work/sum.json"

# 6. Errors and usage.
"$bin" scan --db "$work/none.db" "$work/nope" >/dev/null 2>"$work/err"; rc=$?
check "nothing readable: exit 2, got $rc" [ "$rc" = 2 ]
check "nothing readable: one line" [ "$(wc -l < "$work/err")" = 1 ]
"$bin" scan "$work/fleet" >/dev/null 2>&1; rc=$?
check "no --db: exit 2, got $rc" [ "$rc" = 2 ]
"$bin" db hosts --db "$work/missing.db" >/dev/null 2>&1; rc=$?
check "db on a missing store: exit 2, got $rc" [ "$rc" = 2 ]
check "db on a missing store does not create it" [ ! -e "$work/missing.db" ]

# 7. A single .gz log and an extracted bundle folder are jobs too.
mkdir -p "$work/mixed"
gzip -c samples/seed-failing/hostd.log > "$work/mixed/hostd.0.gz"
cp -r "$work/src/$(basename "$resolved" .tgz)" "$work/mixed/"
out=$("$bin" scan --db "$work/mixed.db" "$work/mixed" 2>&1); rc=$?
check "mixed: exit 1, got $rc" [ "$rc" = 1 ]
check "mixed: folder bundle resolved" grep -Eq '^host1 +resolved ' <<<"$out"
check "mixed: .gz log is a job: $(tail -1 <<<"$out")" grep -q '^2 inputs: 2 scanned' <<<"$out"

# 8. A scan killed with kill -9 (issue 20 #8): its row is not left 'running'
#    for good. db shows it interrupted at once; the next scan marks it so.
mkdir -p "$work/slow"
head -c $((64 << 20)) /dev/zero | gzip -1 > "$work/z.gz"
for i in $(seq 1 64); do cat "$work/z.gz"; done > "$work/slow/big.log.gz"   # 4 GiB inflated: seconds
"$bin" scan --db "$work/killed.db" "$work/slow" >/dev/null 2>&1 &
victim=$!
for _ in $(seq 1 100); do
  q=$(sqlite3 "$work/killed.db" "select status from scans" 2>/dev/null)
  [ "$q" = running ] && break
  sleep 0.05
done
check "the scan row says running while the scan runs: '$q'" [ "$q" = running ]
kill -9 "$victim"; wait "$victim" 2>/dev/null
out=$("$bin" db summary --db "$work/killed.db" 2>&1)
check "db summary counts the killed scan as interrupted: $out" grep -q '1 interrupted before they ended' <<<"$out"
"$bin" scan --db "$work/killed.db" "$src/samples/seed-fixed" >/dev/null 2>&1
q=$(sqlite3 "$work/killed.db" "select group_concat(status, ',') from (select status from scans order by id)")
check "the next scan marks it interrupted: $q" [ "$q" = interrupted,finished ]

# 9. A read-only store can be read (db opens it read-only, migrates nothing).
mkdir -p "$work/ro" && chmod 755 "$work" "$work/ro"
"$bin" scan --db "$work/ro/fleet.db" "$src/samples/seed-failing" >/dev/null 2>&1
chmod 444 "$work/ro/fleet.db"; chmod 555 "$work/ro"
as_reader=()
[ "$(id -u)" = 0 ] && as_reader=(setpriv --reuid=65534 --regid=65534 --clear-groups)  # root ignores modes
out=$("${as_reader[@]}" "$bin" db summary --db "$work/ro/fleet.db" 2>&1); rc=$?
check "db summary of a read-only store: exit 1 (an open problem), got $rc: $out" [ "$rc" = 1 ]
out=$("${as_reader[@]}" "$bin" db hosts --db "$work/ro/fleet.db" 2>&1); rc=$?
check "db hosts of a read-only store: $out" grep -q tpm_firmware_outdated <<<"$out"
chmod 755 "$work/ro"

# 10. Consistent rows (issue 18). The truncated bundle is one host row, with
#     its status, on a scan and on a rescan, in scan's table and in db.
for run in first rescan; do
  [ "$run" = first ] && force=--force || force=
  out=$("$bin" scan --db "$db" $force "$work/fleet" 2>/dev/null)
  check "$run: host4 listed once in scan: $out" [ "$(grep -c '^host4 ' <<<"$out")" = 1 ]
  check "$run: 4 hosts from 4 inputs: $(tail -1 <<<"$out")" grep -q '^4 inputs: .* 1 error; 4 hosts' <<<"$out"
  check "$run: host4 marked incomplete: $out" grep -Eq '^host4 .*\(incomplete' <<<"$out"
  out=$("$bin" db hosts --db "$db")
  check "$run: db hosts lists host4 once: $out" [ "$(grep -c '^host4 ' <<<"$out")" = 1 ]
  check "$run: db hosts says host4 is incomplete" grep -Eq '^host4 +[a-z_]+ \(incomplete\)' <<<"$out"
  out=$("$bin" db summary --db "$db")
  check "$run: db summary: 4 inputs, 1 error, 4 hosts: $out" grep -q '4 inputs (1 with errors), 4 hosts' <<<"$out"
done
q=$(sqlite3 "$db" "select status from hosts where host = 'host4'")
check "host4's row says incomplete: $q" [ "$q" = incomplete ]
# A lone cut bundle: no input read in full, so exit 2, on its first scan
# (where part of it was read) as on a rescan (where it is unchanged).
mkdir -p "$work/lone"
cp "$trunc" "$work/lone/"
for run in first rescan; do
  "$bin" scan --db "$work/lone.db" "$work/lone" >/dev/null 2>&1; rc=$?
  check "$run scan of a lone cut bundle: exit 2 (got $rc)" [ "$rc" = 2 ]
done
# A bundle nothing could be read from is still its host (named by the bundle), status error.
printf '\x1f\x8b\x08\x00' > "$work/fleet/esx-host5-2024-01-01--10.00-5.tgz"
"$bin" scan --db "$db" "$work/fleet" >/dev/null 2>&1
q=$(sqlite3 "$db" "select verdict || '|' || status from hosts where host = 'host5'")
check "an unreadable bundle is one host row named from the bundle: $q" [ "$q" = "error|error" ]
out=$("$bin" db summary --db "$db")
check "db summary counts it once: $out" grep -q '5 inputs (2 with errors), 5 hosts' <<<"$out"
rm "$work/fleet/esx-host5-2024-01-01--10.00-5.tgz"
"$bin" db prune --db "$db" >/dev/null

# The findings view has boot and rank; rank 1 is the host's top cause in that boot.
q=$(sqlite3 "$db" "select host, cause, boot, rank from findings where host = 'host2' order by rank")
check "findings view boot and rank: $q" grep -q '^host2|tpm_firmware_outdated|1|1$' <<<"$q"
q=$(sqlite3 "$db" "select count(*) from findings where rank = 1 and host = 'host2' and boot = 1")
check "one top cause per host and boot: $q" [ "$q" = 1 ]
q=$(sqlite3 "$db" "select count(*) from findings where rank > 1 and host = 'host2'")
check "host2 has weaker candidates: $q" [ "$q" -ge 1 ]
# db summary counts hosts by their top cause; the candidates apart.
out=$("$bin" db summary --db "$db")
check "summary: firmware is the top cause of 1 open, 1 resolved: $out" grep -Eq '^tpm_firmware_outdated +1 +1 +0$' <<<"$out"
check "summary: tpm_da_lockout only a candidate: $out" grep -Eq '^tpm_da_lockout +0 +0 +[1-9]' <<<"$out"

# --host works on every question: a prefix or a glob.
out=$("$bin" db hosts --db "$db" --host host2)
check "db hosts --host host2: $out" [ "$(grep -c '^host' <<<"$out")" = 1 ]
out=$("$bin" db hosts --db "$db" --host 'host[12]')
check "db hosts --host glob: $out" [ "$(grep -Ec '^host[12] ' <<<"$out")" = 2 ]
out=$("$bin" db findings --db "$db" --host host1)
check "db findings --host host1: $out" [ "$(grep -c '^host2' <<<"$out")" = 0 ]
out=$("$bin" db summary --db "$db" --host host3); rc=$?
check "db summary --host host3: 1 host, exit 0 (got $rc): $out" grep -q '1 inputs (0 with errors), 1 hosts' <<<"$out"
# An unknown cause is an error that names the nearest.
"$bin" db findings --db "$db" --cause tpm_firmware_outdate >/dev/null 2>"$work/err"; rc=$?
check "unknown cause: exit 2, got $rc" [ "$rc" = 2 ]
check "unknown cause suggests the nearest: $(cat "$work/err")" grep -q "did you mean 'tpm_firmware_outdated'" "$work/err"
"$bin" db hosts --db "$db" --cause no_such_cause >/dev/null 2>&1; rc=$?
check "db hosts --cause no_such_cause: exit 2, got $rc" [ "$rc" = 2 ]
# A typo in a path stores nothing; an empty folder says so.
"$bin" scan --db "$work/typo.db" "$work/no-such-dir" >/dev/null 2>"$work/err"; rc=$?
check "typo: exit 2, got $rc" [ "$rc" = 2 ]
check "typo: no store created" [ ! -e "$work/typo.db" ]
"$bin" scan --db "$db" "$work/fleet" "$work/no-such-dir" >/dev/null 2>"$work/err"; rc=$?
check "typo beside good inputs: exit 2, got $rc" [ "$rc" = 2 ]
q=$(sqlite3 "$db" "select count(*) from inputs where path like '%no-such-dir%'")
check "typo: nothing stored for it: $q" [ "$q" = 0 ]
mkdir -p "$work/empty"
"$bin" scan --db "$work/empty.db" "$work/empty" >/dev/null 2>"$work/err"; rc=$?
check "empty folder: exit 2, got $rc" [ "$rc" = 2 ]
check "empty folder: says so: $(cat "$work/err")" grep -q "empty: no bundle or log file in this folder" "$work/err"

# 11. Life cycle: one row per host (its latest bundle), --all for history;
#     prune forgets inputs whose files are gone; show tells one host.
mkdir -p "$work/moved"
"$bin" scan --db "$db" "$work/fleet" >/dev/null 2>&1
mv "$failing" "$work/moved/"; moved="$work/moved/$(basename "$failing")"
"$bin" scan --db "$db" "$work/moved" >/dev/null 2>&1
out=$("$bin" db hosts --db "$db" --host host2)
check "a moved bundle: its host listed once (the latest): $out" [ "$(grep -c '^host2 ' <<<"$out")" = 1 ]
check "...from its new path" grep -q "$moved" <<<"$out"
out=$("$bin" db hosts --db "$db" --host host2 --all)
check "--all: both inputs of host2: $out" [ "$(grep -c '^host2 ' <<<"$out")" = 2 ]
q=$("$bin" db findings --db "$db" --host host2 --format json | grep -c '"input"')
q_all=$("$bin" db findings --db "$db" --host host2 --all --format json | grep -c '"input"')
check "findings of the latest input only, unless --all: $q vs $q_all" [ "$((q * 2))" = "$q_all" ]
out=$("$bin" db prune --db "$db"); rc=$?
check "db prune exit 0, got $rc" [ "$rc" = 0 ]
check "db prune names the gone bundle: $out" grep -q "forgot $failing (gone)" <<<"$out"
q=$(sqlite3 "$db" "select count(*) from inputs where path = '$failing'")
check "the gone input is forgotten: $q" [ "$q" = 0 ]
out=$("$bin" db hosts --db "$db" --host host2 --all)
check "after prune, --all lists host2 once: $out" [ "$(grep -c '^host2 ' <<<"$out")" = 1 ]
mv "$moved" "$failing"
rm "$healthy"
out=$("$bin" scan --db "$db" --prune "$work/fleet" 2>/dev/null)
check "scan --prune forgets a deleted bundle: $out" grep -q "forgot $healthy (gone)" <<<"$out"
check "scan --prune forgets a moved one: $out" grep -q "forgot $moved (gone)" <<<"$out"
q=$(sqlite3 "$db" "select count(*) from hosts where host = 'host3'")
check "host3 gone with its bundle: $q" [ "$q" = 0 ]
out=$("$bin" db show --db "$db" host2); rc=$?
check "db show: exit 1 (open problem), got $rc" [ "$rc" = 1 ]
check "db show: facts" grep -Eq '^ +esxi_build +19193900' <<<"$out"
check "db show: per-boot verdicts" grep -Eq '^  boot 1: 2021-10-29T19:41:04.933Z .. .*, problem' <<<"$out"
check "db show: evidence lines" grep -q 'Unable to provision default rsa endorsement key' <<<"$out"
step=$(sed -n 's/.*"text": "\(Ask the server or module vendor\) (the log names the TPM vendor as {vendor}).*/\1/p' kb/causes/tpm_firmware_outdated.json)
check "db show: fix steps from kb/ ($step), placeholders filled" grep -q "1\. $step (the log names the TPM vendor as IFX)" <<<"$out"
check "db show: the weaker candidates" grep -q 'Weaker candidates: .*tpm_da_lockout' <<<"$out"
"$bin" db show --db "$db" no-such-host >/dev/null 2>"$work/err"; rc=$?
check "db show of an unknown host: exit 2, got $rc" [ "$rc" = 2 ]
healthy=$(bundle host3 healthy)

# 12. Many writers: concurrent scans, a killed scan, merged stores all give
#     exactly the rows of one clean scan.
# What a store holds, without ids, times and durations (the same text from
# sqlite3 and psql -At).
rows_sql="select i.path, i.kind, i.size, i.status, coalesce(i.error, ''), i.verdict, i.bytes_scanned from inputs i order by 1;
  select i.path, h.host, h.verdict, h.status, h.boots, h.bundle, h.windows from hosts h join inputs i on i.id = h.input_id order by 1, 2;
  select host, cause, confidence, verdict, input, boot, rank from findings order by 5, 1, 2, 6;
  select f.host, f.cause, f.boot, e.seq, e.input, e.line, e.text from evidence e join finding f on f.id = e.finding_id
    order by 1, 2, 3, 4, 5;"
rows() { sqlite3 "$1" "$rows_sql"; }
"$bin" scan --db "$work/one.db" "$work/fleet" >/dev/null 2>&1
"$bin" scan --db "$work/two.db" --jobs 1 "$work/fleet" >/dev/null 2>&1 & pa=$!
"$bin" scan --db "$work/two.db" --jobs 1 "$work/fleet" >/dev/null 2>&1 & pb=$!
wait $pa; wait $pb
check "2 concurrent scans of one fleet = one scan" [ "$(rows "$work/two.db")" = "$(rows "$work/one.db")" ]
check "...and the rows are there: $(rows "$work/one.db" | wc -l)" [ "$(rows "$work/one.db" | wc -l)" -gt 20 ]
q=$(sqlite3 "$work/two.db" "pragma integrity_check")
check "integrity after concurrent scans: $q" [ "$q" = ok ]
# kill -9 in the middle (the fleet stored, the slow log half read), then a rescan.
# (slow/big.log.gz from §8: 4 GiB inflated, read in about a second)
"$bin" scan --db "$work/clean.db" "$work/fleet" "$work/slow" >/dev/null 2>&1
"$bin" scan --db "$work/k9.db" --jobs 1 "$work/fleet" "$work/slow" >/dev/null 2>&1 & victim=$!
for _ in $(seq 1 200); do
  q=$(sqlite3 "$work/k9.db" "select count(*) from inputs" 2>/dev/null)
  [ "${q:-0}" -ge 4 ] && break
  sleep 0.02
done
kill -9 "$victim"; wait "$victim" 2>/dev/null
q=$(sqlite3 "$work/k9.db" "select count(*) from inputs where path like '%big.log.gz'")
check "killed before the slow input was stored: $q" [ "$q" = 0 ]
"$bin" scan --db "$work/k9.db" "$work/fleet" "$work/slow" >/dev/null 2>&1
q=$(sqlite3 "$work/k9.db" "pragma integrity_check")
check "kill -9 then rescan: integrity $q" [ "$q" = ok ]
check "kill -9 then rescan: the rows of one clean scan" [ "$(rows "$work/k9.db")" = "$(rows "$work/clean.db")" ]
# Per-worker stores merged = one scan of everything.
"$bin" scan --db "$work/w2.db" "$work/slow" >/dev/null 2>&1   # the fleet's worker store: one.db
out=$("$bin" db merge --db "$work/merged.db" "$work/one.db" "$work/w2.db"); rc=$?
check "db merge: exit 0, got $rc: $out" [ "$rc" = 0 ]
check "db merge = one scan of everything" [ "$(rows "$work/merged.db")" = "$(rows "$work/clean.db")" ]
"$bin" db merge --db "$work/merged.db" "$work/one.db" "$work/w2.db" >/dev/null
check "merging again changes nothing" [ "$(rows "$work/merged.db")" = "$(rows "$work/clean.db")" ]
"$bin" db merge --db "$work/merged.db" "$work/none.db" >/dev/null 2>"$work/err"; rc=$?
check "db merge of a missing store: exit 2, got $rc: $(cat "$work/err")" [ "$rc" = 2 ]

# 13. PostgreSQL (--db postgresql://...): a server of our own (initdb into a
#     temporary folder, a unix socket, no TCP, no system service); 4 scans
#     at once give exactly the rows of one SQLite scan, db answers the same.
t13=$(date +%s%N)
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$pgbin" ]; then
  echo "SKIP PostgreSQL: no server binaries here (apt-get install postgresql; tpmdiag.sh installs it)"
else
  pg="$work/pg"; mkdir -p "$pg"
  as_pg=()
  if [ "$(id -u)" = 0 ]; then chown postgres "$pg"; as_pg=(setpriv --reuid=postgres --regid=postgres --clear-groups); fi
  "${as_pg[@]}" "$pgbin/initdb" -D "$pg/data" -A trust -N -U tpmdiag --locale=C -E UTF8 >"$work/pg.log" 2>&1 &&
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pg/data" -o "-k $pg -c listen_addresses='' -c fsync=off" -l "$pg/server.log" -w start \
      >>"$work/pg.log" 2>&1
  check "PostgreSQL started: $(tail -2 "$work/pg.log")" [ -S "$pg/.s.PGSQL.5432" ]
  trap '"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pg/data" -m immediate stop >/dev/null 2>&1; rm -rf "$work"' EXIT
  uri="postgresql://tpmdiag@/postgres?host=$pg"
  pids=()
  for i in 1 2 3 4; do "$bin" scan --db "$uri" --jobs 1 "$work/fleet" >/dev/null 2>"$work/pg.err.$i" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p"; done
  check "4 scans at once into PostgreSQL: no error but the truncated bundle's: $(cat "$work"/pg.err.*)" \
    [ -z "$(cat "$work"/pg.err.* | grep -v 'esx-host4-.*archive truncated')" ]
  pgrows=$(psql -At "$uri" -c "$rows_sql" 2>&1)
  check "4 concurrent scans into PostgreSQL = one SQLite scan" [ "$pgrows" = "$(rows "$work/one.db")" ]
  q=$(psql -At "$uri" -c "select count(*) from scans where status = 'finished'")
  check "4 scan rows: $q" [ "$q" = 4 ]
  q=$(psql -At "$uri" -c "select host, esxi_build from bundles where host = 'host2'")
  check "bundles view in PostgreSQL: $q" [ "$q" = "host2|19193900" ]
  for question in "summary" "hosts" "findings --host host2" "show host2" "hosts --cause tpm_firmware_outdated"; do
    a=$("$bin" db $question --db "$uri" 2>&1 | sed 's/^Store [^ ]*:/Store:/; s/, [0-9]* scans, last .*//'); ra=$?
    b=$("$bin" db $question --db "$work/one.db" 2>&1 | sed 's/^Store [^ ]*:/Store:/; s/, [0-9]* scans, last .*//')
    a=$(sed -E 's/20[0-9-]{8}T[0-9:.]+Z//g' <<<"$a"); b=$(sed -E 's/20[0-9-]{8}T[0-9:.]+Z//g' <<<"$b")
    check "db $question: PostgreSQL answers as SQLite" [ "$a" = "$b" ]
  done
  "$bin" db hosts --db "$uri" --cause tpm_firmware_outdate >/dev/null 2>&1; rc=$?
  check "PostgreSQL: an unknown cause is exit 2, got $rc" [ "$rc" = 2 ]
  out=$("$bin" db merge --db "$work/from-pg.db" "$uri"); rc=$?
  check "db merge from PostgreSQL into SQLite: exit $rc: $out" [ "$(rows "$work/from-pg.db")" = "$(rows "$work/one.db")" ]
  cat samples/seed-failing/vmkernel.log samples/seed-failing/hostd.log | "$bin" watch --db "$uri" - >/dev/null; rc=$?
  q=$(psql -At "$uri" -c "select kind, verdict from inputs where kind = 'live'")
  check "watch --db postgresql://: the live host stored: $q (exit $rc)" [ "$q" = "live|problem" ]
  out=$("$bin" scan --db "postgresql://tpmdiag:secret@/postgres?host=$pg" samples/seed-fixed 2>&1)
  check "a password in the URI is not printed: $out" [ "$(grep -c secret <<<"$out")" = 0 ]
  q=$(psql -At "$uri" -c "select count(*) from scans where command like '%secret%'")
  check "...nor stored in scans.command: $q" [ "$q" = 0 ]
  "$bin" db summary --db "postgresql://tpmdiag:secret@/postgres?host=$work/nowhere" >/dev/null 2>"$work/err"; rc=$?
  check "an unreachable PostgreSQL: exit 2, got $rc" [ "$rc" = 2 ]
  check "...one line naming the URI, no password: $(cat "$work/err")" \
    [ "$(wc -l < "$work/err")" = 1 ] && ! grep -q secret "$work/err" && grep -q 'postgresql://tpmdiag@' "$work/err"
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pg/data" -m fast stop >/dev/null 2>&1
  echo "# PostgreSQL section: $(( ($(date +%s%N) - t13) / 1000000 )) ms"
fi

echo "batch: $pass passed, $fail failed"
[ "$fail" = 0 ]
