#!/usr/bin/env bash
# Live mode under faults (issue 20, points 9-13), each case bounded in time:
#   listen: a connection flood past `ulimit -n 64`, a UDP flood while stdout is
#     blocked and TCP backpressure holds the receiver, SIGTERM and SIGHUP under
#     a many-host load — messages sent = processed + counted drops, exactly,
#     and the exit within --drain-timeout + 1 s (bench/fault_listen.py --check);
#   watch: a FIFO, a log replaced by a symlink to /dev/zero, copytruncate
#     followed by a quick refill, SIGHUP.
#   tests/live_fault.test.sh build/tpmdiag
set -u
bin=$(realpath "${1:?usage: live_fault.test.sh PATH-TO-tpmdiag}")
cd "$(dirname "$0")/.." || exit 2
T=$(mktemp -d /tmp/tpmdiag-live-fault.XXXXXX)
pass=0 fail=0
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 2' INT TERM
ok() { pass=$((pass+1)); echo "ok   $*"; }
bad() { fail=$((fail+1)); echo "FAIL $*"; }

# ---- listen: the attacks of bench/fault_listen.py, short ----
while IFS= read -r line; do
  case $line in
    ok*) ok "listen ${line#ok   }" ;;
    FAIL*) bad "listen ${line#FAIL }" ;;
    *) echo "$line" ;;
  esac
done < <(python3 bench/fault_listen.py --bin "$bin" --seconds 8 --check 2>&1)

# A stdout nobody reads blocks the records: SIGTERM must still end listen
# (exit 2, one line on stderr) in time, not hang.
mkfifo "$T/blocked"
exec 3<>"$T/blocked"  # held open, never read
"$bin" listen --tcp 127.0.0.1:0 --udp 127.0.0.1:0 --stats-interval 0.01 >"$T/blocked" 2>"$T/blocked.err" &
LPID=$!; pids+=("$LPID")
for _ in $(seq 100); do grep -q 'listening on tcp' "$T/blocked.err" && break; sleep 0.1; done
sleep 1.5  # stats records every 10 ms fill the 64 KiB pipe
t0=$(date +%s%N)
kill -TERM "$LPID"
for _ in $(seq 200); do kill -0 "$LPID" 2>/dev/null || break; sleep 0.02; done
if kill -0 "$LPID" 2>/dev/null; then
  bad "listen, stdout not read: still running 4 s after SIGTERM"; kill -KILL "$LPID"; wait "$LPID"
else
  wait "$LPID"; rc=$?; ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  if [ "$rc" = 2 ] && [ "$ms" -lt 1800 ] && grep -q 'final stats record could not be written' "$T/blocked.err"; then
    ok "listen, stdout not read: SIGTERM -> exit 2 in $ms ms, said on stderr"
  else bad "listen, stdout not read: SIGTERM -> exit $rc in $ms ms"; cat "$T/blocked.err"; fi
fi
exec 3>&-

# ---- watch ----
final() { jq -r "select(.type==\"stats\" and .final) | $2" "$1"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
start_watch() {  # start_watch OUT ARGS...
  local out=$1; shift
  "$bin" watch --stats-interval 0.2 "$@" >"$out" 2>"$out.err" &
  WPID=$!; pids+=("$WPID")
}
# stop_watch NAME OUT [SIGNAL]: exit 0 within 2 s with a final stats record.
stop_watch() {
  local name=$1 out=$2 sig=${3:-TERM} t0 rc ms
  t0=$(date +%s%N)
  kill -"$sig" "$WPID"
  for _ in $(seq 30); do kill -0 "$WPID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$WPID" 2>/dev/null; then bad "$name: still running 3 s after SIG$sig"; kill -KILL "$WPID"; wait "$WPID"; return; fi
  wait "$WPID"; rc=$?
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  if [ "$rc" = 0 ] && [ -n "$(final "$out" .messages)" ]; then ok "$name: SIG$sig -> exit 0 in $ms ms with final stats"
  else bad "$name: SIG$sig -> exit $rc in $ms ms, final stats: '$(final "$out" .messages)'"; fi
}
errors_matching() { jq -r "select(.type==\"error\") | .message" "$1" | grep -c -- "$2"; }

# A FIFO is not followed (open would block until a writer comes, and a
# signal could not stop it): one error, and SIGTERM works.
mkfifo "$T/fifo.log"
start_watch "$T/fifo.out" "$T/fifo.log"
sleep 0.6
n=$(errors_matching "$T/fifo.out" 'not a regular file')
[ "$n" = 1 ] && ok "watch FIFO: one error record" || bad "watch FIFO: $n 'not a regular file' errors"
stop_watch "watch FIFO" "$T/fifo.out"

# A followed log replaced by a symlink to /dev/zero: not read (it never ends).
printf 'line one\nline two\n' > "$T/z.log"
start_watch "$T/z.out" --poll-interval 0.05 "$T/z.log"
sleep 0.4
ln -sfn /dev/zero "$T/z.log.new" && mv -T "$T/z.log.new" "$T/z.log"
sleep 0.4
c0=$(cpu_ticks "$WPID"); sleep 1; c1=$(cpu_ticks "$WPID")
cpu=$((c1 - c0))  # ticks (1/100 s) in 1 s
[ "$cpu" -lt 30 ] && ok "watch /dev/zero: idle (${cpu}0 ms CPU in 1 s)" || bad "watch /dev/zero: ${cpu}0 ms CPU in 1 s"
n=$(errors_matching "$T/z.out" 'not a regular file')
[ "$n" = 1 ] && ok "watch /dev/zero: one error record" || bad "watch /dev/zero: $n 'not a regular file' errors"
stop_watch "watch /dev/zero" "$T/z.out"
b=$(final "$T/z.out" .bytes)
[ "$b" = 18 ] && ok "watch /dev/zero: only the file's 18 bytes read" || bad "watch /dev/zero: $b bytes read"

# copytruncate, then refilled past the old offset before the next poll: the
# new lines are read from the start, none lost.
seq -f 'old line %g' 20 > "$T/ct.log"
start_watch "$T/ct.out" --poll-interval 1 "$T/ct.log"
for _ in $(seq 30); do [ "$(jq -r 'select(.type=="stats") | .messages' "$T/ct.out" | tail -1)" = 20 ] && break; sleep 0.1; done
sleep 0.3  # mid-way between two polls
python3 -c '
import sys
with open(sys.argv[1], "r+") as f:   # copytruncate: same inode, truncated, then the logger writes on
    f.truncate(0)
    f.write("".join("new line %d after the copytruncate\n" % i for i in range(30)))
' "$T/ct.log"
sleep 2.2
stop_watch "watch copytruncate" "$T/ct.out"
n=$(final "$T/ct.out" .messages)
[ "$n" = 50 ] && ok "watch copytruncate + quick refill: 20 + 30 lines" || bad "watch copytruncate + quick refill: $n lines, expected 50"

# SIGHUP ends watch like SIGTERM, with the final stats.
printf 'a line\n' > "$T/hup.log"
start_watch "$T/hup.out" "$T/hup.log"
sleep 0.5
stop_watch "watch SIGHUP" "$T/hup.out" HUP

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
