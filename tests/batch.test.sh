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
check "rescan scanned nothing: $(tail -1 <<<"$out")" grep -q '^4 inputs: 0 scanned, 4 unchanged, 0 errors' <<<"$out"
check "rescan still lists host2" grep -Eq '^host2 +problem .*\(unchanged\)' <<<"$out"
json=$("$bin" scan --db "$db" --format json "$work/fleet" 2>/dev/null)
check "json stats scanned 0" grep -q '"scanned": 0' <<<"$json"
out=$("$bin" scan --db "$db" --force "$work/fleet" 2>/dev/null)
check "--force rescans: $(tail -1 <<<"$out")" grep -q '^4 inputs: 3 scanned, 0 unchanged, 1 error' <<<"$out"
q=$(sqlite3 "$db" "select count(*) from findings where cause = 'tpm_firmware_outdated'")
check "no duplicate findings after --force: $q" [ "$q" = 2 ]
touch "$healthy"
out=$("$bin" scan --db "$db" "$work/fleet" 2>/dev/null)
check "a touched bundle is scanned again: $(tail -1 <<<"$out")" grep -q '^4 inputs: 1 scanned, 3 unchanged, 0 errors' <<<"$out"

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

echo "batch: $pass passed, $fail failed"
[ "$fail" = 0 ]
