#!/usr/bin/env bash
# listen --db / watch --db write live findings, resolutions and host state into
# the fleet store (input kind live), so `tpmdiag db` answers for live hosts.
#   tests/live_store.test.sh build/tpmdiag
set -u
bin=$(realpath "${1:?usage: live_store.test.sh PATH-TO-tpmdiag}")
cd "$(dirname "$0")/.." || exit 2
export NO_COLOR=1
T=$(mktemp -d /tmp/tpmdiag-live-store.XXXXXX)
LPID=
cleanup() { [ -n "$LPID" ] && kill -KILL "$LPID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
pass=0 fail=0
check() { local what=$1; shift; if "$@"; then pass=$((pass+1)); else echo "FAIL $what" >&2; fail=$((fail+1)); fi; }
failing=samples/seed-failing fixed=samples/seed-fixed

# 1. watch --db: a failure, then the lines that prove its fix.
cat $failing/vmkernel.log $failing/hostd.log $fixed/hostd.log | "$bin" watch --db "$T/w.db" - > "$T/w.out"; rc=$?
check "watch --db: exit 0 (resolved), got $rc" [ "$rc" = 0 ]
check "watch --db: JSON Lines still written" grep -q '"type":"resolved"' "$T/w.out"
q=$(sqlite3 "$T/w.db" "select kind || '|' || verdict from inputs")
check "one live input, resolved: $q" [ "$q" = "live|resolved" ]
q=$(sqlite3 "$T/w.db" "select verdict, boot, rank from findings where cause = 'tpm_firmware_outdated'")
check "the finding is stored resolved, rank 1: $q" [ "$q" = "resolved|1|1" ]
q=$(sqlite3 "$T/w.db" "select count(*) from evidence")
check "with its evidence: $q" [ "$q" -gt 0 ]
q=$(sqlite3 "$T/w.db" "select status from scans")
check "the scan row is finished: $q" [ "$q" = finished ]
out=$("$bin" db summary --db "$T/w.db"); rc=$?
check "db summary: exit 0, resolved counted: $out" grep -Eq '^tpm_firmware_outdated +0 +1 ' <<<"$out"
out=$("$bin" db show --db "$T/w.db" '*'); rc=$?
check "db show of a live host: exit 0 (got $rc), evidence and fix" \
  grep -q 'Unable to provision default rsa endorsement key' <<<"$out"

# 2. listen --db: a syslog stream over TCP; the host comes from the header.
"$bin" listen --tcp 127.0.0.1:0 --udp 127.0.0.1:0 --settle 0 --stats-interval 1 --db "$T/l.db" \
  >"$T/l.out" 2>"$T/l.err" & LPID=$!
for _ in $(seq 50); do grep -q 'listening on tcp' "$T/l.err" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/.*listening on tcp 127.0.0.1:\([0-9]*\).*/\1/p' "$T/l.err")
check "listen --db started: $(cat "$T/l.err")" [ -n "$port" ]
for app in vmkernel Hostd; do
  f=$failing/vmkernel.log; [ $app = Hostd ] && f=$failing/hostd.log
  while IFS= read -r line; do printf '<14>1 - esx-live-1.lab %s - - - %s\n' "$app" "$line"; done < "$f"
done > "$T/stream"
logger_ok=0
exec 3<>"/dev/tcp/127.0.0.1/$port" && cat "$T/stream" >&3 && exec 3>&- && logger_ok=1
check "stream sent" [ "$logger_ok" = 1 ]
for _ in $(seq 50); do grep -q '"type":"finding"' "$T/l.out" && break; sleep 0.1; done
kill -TERM "$LPID"; wait "$LPID"; rc=$?; LPID=
check "listen --db: exit 0 on SIGTERM, got $rc ($(tail -2 "$T/l.err"))" [ "$rc" = 0 ]
host=$(jq -r 'select(.type=="finding" and .cause=="tpm_firmware_outdated") | .host' "$T/l.out" | head -1)
check "the finding names the host from the syslog header: $host" [ "$host" = esx-live-1.lab ]
q=$(sqlite3 "$T/l.db" "select host || '|' || verdict from findings where cause = 'tpm_firmware_outdated'")
check "listen's finding stored for host '$host': $q" [ "$q" = "$host|problem" ]
out=$("$bin" db hosts --db "$T/l.db" --cause tpm_firmware_outdated); rc=$?
check "db hosts: the live host, exit 1 (open problem), got $rc: $out" grep -q "live:$host" <<<"$out"
n_json=$(jq -r 'select(.type=="finding") | .cause' "$T/l.out" | sort -u | tr '\n' ' ')
n_db=$(sqlite3 "$T/l.db" "select distinct cause from findings order by 1" | tr '\n' ' ')
check "the store holds the causes the stream reported: '$n_db' vs '$n_json'" [ "$n_db" = "$n_json" ]

# 3. A bundle scan and a live stream share one store; db answers for both.
"$bin" scan --db "$T/l.db" "$failing" >/dev/null 2>&1
q=$(sqlite3 "$T/l.db" "select group_concat(kind, ',') from (select kind from inputs order by kind)")
check "scan and live inputs side by side: $q" [ "$q" = "file,file,live" ]

# 4. A store that cannot be opened: one line, exit 2, nothing listened to.
mkdir -p "$T/dir.db"
"$bin" watch --db "$T/dir.db" - </dev/null >/dev/null 2>"$T/err"; rc=$?
check "watch --db on a folder: exit 2, got $rc" [ "$rc" = 2 ]
check "watch --db on a folder: one error line: $(cat "$T/err")" [ "$(wc -l < "$T/err")" = 1 ]

echo "live_store: $pass passed, $fail failed"
[ "$fail" = 0 ]
