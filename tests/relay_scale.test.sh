#!/usr/bin/env bash
# docs/scale.md run for real: rsyslog receives a multi-host stream and relays
# each host to one of 3 `tpmdiag listen` workers by hash64mod($hostname, 3)
# (rsyslog's fmhash), all writing one PostgreSQL database; the same relay also
# sends the whole stream to a single listener writing a second database. The
# stored hosts, findings and evidence of the 3 workers must equal the single
# listener's. PostgreSQL is our own (initdb into a temp folder, unix socket).
#   tests/relay_scale.test.sh build/tpmdiag
set -u
bin=$(realpath "${1:?usage: relay_scale.test.sh PATH-TO-tpmdiag}")
cd "$(dirname "$0")/.." || exit 2
export NO_COLOR=1
T=$(mktemp -d /tmp/tpmdiag-relay-scale.XXXXXX)
pids=() pgbin= as_pg=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  [ -s "$T/rs.pid" ] && kill -KILL "$(cat "$T/rs.pid" 2>/dev/null)" 2>/dev/null
  [ -n "$pgbin" ] && "${as_pg[@]}" "$pgbin/pg_ctl" -D "$T/pg/data" -m immediate stop >/dev/null 2>&1
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 2' INT TERM
pass=0 fail=0
ok() { pass=$((pass+1)); echo "ok   $*"; }
bad() { fail=$((fail+1)); echo "FAIL $*"; }
t0=$(date +%s%N)

command -v rsyslogd >/dev/null || { echo "FAIL rsyslogd not installed"; exit 1; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$pgbin" ] || { echo "FAIL no PostgreSQL server binaries (apt-get install postgresql; tpmdiag.sh installs it)"; exit 1; }
chmod 755 "$T"  # the postgres user reaches its folder through it
pg=$T/pg; mkdir -p "$pg"
if [ "$(id -u)" = 0 ]; then chown postgres "$pg"; as_pg=(setpriv --reuid=postgres --regid=postgres --clear-groups); fi
"${as_pg[@]}" "$pgbin/initdb" -D "$pg/data" -A trust -N -U tpmdiag --locale=C -E UTF8 >"$T/pg.log" 2>&1 &&
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pg/data" -o "-k $pg -c listen_addresses='' -c fsync=off" -l "$pg/server.log" -w start \
    >>"$T/pg.log" 2>&1
[ -S "$pg/.s.PGSQL.5432" ] || { echo "FAIL PostgreSQL did not start: $(tail -3 "$T/pg.log")"; exit 1; }
psql -q "postgresql://tpmdiag@/postgres?host=$pg" -c "create database sharded" -c "create database single" >/dev/null
sharded="postgresql://tpmdiag@/sharded?host=$pg" single="postgresql://tpmdiag@/single?host=$pg"

start_listen() {  # start_listen NAME DB: sets PORT
  local name=$1
  "$bin" listen --tcp 127.0.0.1:0 --settle 0.5 --stats-interval 0.5 --db "$2" >"$T/$name.out" 2>"$T/$name.err" &
  pids+=("$!")
  for _ in $(seq 50); do grep -q 'listening on tcp' "$T/$name.err" 2>/dev/null && break; sleep 0.1; done
  PORT=$(sed -n 's/.*listening on tcp 127.0.0.1:\([0-9]*\).*/\1/p' "$T/$name.err")
  [ -n "$PORT" ] || { echo "FAIL listen $name did not start: $(cat "$T/$name.err")"; exit 1; }
}
ports=()
for w in 0 1 2; do start_listen "w$w" "$sharded"; ports+=("$PORT"); done
start_listen one "$single"; port_one=$PORT

# The relay of docs/scale.md, with the test's ports and paths (and a copy of
# everything to the single listener, the reference).
mkdir -p "$T/rs-work"
cat > "$T/rsyslog.conf" <<CONF
global(workDirectory="$T/rs-work")
module(load="imtcp")
module(load="fmhash")
input(type="imtcp" address="127.0.0.1" port="0" listenPortFileName="$T/rs.port" ruleset="shard")
ruleset(name="shard") {
  set \$.shard = hash64mod(\$hostname, 3);
  if \$.shard == 0 then {
    action(type="omfwd" target="127.0.0.1" port="${ports[0]}" protocol="tcp"
           TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
  } else if \$.shard == 1 then {
    action(type="omfwd" target="127.0.0.1" port="${ports[1]}" protocol="tcp"
           TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
  } else {
    action(type="omfwd" target="127.0.0.1" port="${ports[2]}" protocol="tcp"
           TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
  }
  action(type="omfwd" target="127.0.0.1" port="$port_one" protocol="tcp"
         TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
}
CONF
rsyslogd -n -f "$T/rsyslog.conf" -i "$T/rs.pid" >"$T/rsyslog.log" 2>&1 &
pids+=("$!")
for _ in $(seq 50); do [ -s "$T/rs.port" ] && break; sleep 0.1; done
rsport=$(cat "$T/rs.port" 2>/dev/null)
[ -n "$rsport" ] || { echo "FAIL rsyslog did not start: $(head -5 "$T/rsyslog.log")"; exit 1; }

# 24 hosts, their lines interleaved: a third keep the seed failure, a third
# are fixed later in the stream (resolved), a third send only healthy lines.
python3 - samples/seed-failing samples/seed-fixed > "$T/stream" <<'PY'
import sys
failing, fixed = sys.argv[1], sys.argv[2]
def lines(path, app):
    return [(app, l.rstrip("\n")) for l in open(path) if l.strip()]
bad = lines(failing + "/vmkernel.log", "vmkernel") + lines(failing + "/hostd.log", "Hostd")
good = lines(fixed + "/hostd.log", "Hostd")
per_host = {}
for i in range(24):
    h = "esx-%02d.lab" % i
    per_host[h] = bad if i % 3 == 0 else bad + good if i % 3 == 1 else good
longest = max(len(v) for v in per_host.values())
for n in range(longest):
    for h, ls in per_host.items():
        if n < len(ls):
            app, text = ls[n]
            print("<14>1 - %s %s - - - %s" % (h, app, text))
PY
total=$(wc -l < "$T/stream")
exec 3<>"/dev/tcp/127.0.0.1/$rsport" && cat "$T/stream" >&3 && exec 3>&-

# Until every message reached a listener (the stats records count them).
count() { jq -r 'select(.type=="stats") | .messages' "$T/$1.out" 2>/dev/null | tail -1; }
for _ in $(seq 100); do
  s=$(( $(count w0 || echo 0) + $(count w1 || echo 0) + $(count w2 || echo 0) + 0 ))
  [ "$s" = "$total" ] && [ "$(count one)" = "$total" ] && break
  sleep 0.1
done
kill -TERM "$(cat "$T/rs.pid")" 2>/dev/null
for p in "${pids[@]:0:4}"; do kill -TERM "$p"; done
for name in w0 w1 w2 one; do
  wait "${pids[0]}"; rc=$?; pids=("${pids[@]:1}")
  [ "$rc" = 0 ] || bad "listen $name: exit $rc: $(tail -2 "$T/$name.err")"
done
final() { jq -r "select(.type==\"stats\" and .final) | $2" "$T/$1.out"; }
m="$(final w0 .messages) $(final w1 .messages) $(final w2 .messages)"
read -r a b c <<<"$m"
[ $((a + b + c)) = "$total" ] && [ "$(final one .messages)" = "$total" ] && [ "$(final one .drops)$(final w0 .drops)$(final w1 .drops)$(final w2 .drops)" = 0000 ] \
  && ok "all $total messages reached a worker (per worker: $m), and the single listener; 0 drops" \
  || bad "messages per worker: $m (sum should be $total), single: $(final one .messages)"
[ "$a" -gt 0 ] && [ "$b" -gt 0 ] && [ "$c" -gt 0 ] && ok "every worker got a shard" || bad "a worker got nothing: $m"

# No host is split across workers.
split=$(for w in w0 w1 w2; do jq -r 'select(.type=="finding" or .type=="resolved") | .host' "$T/$w.out" | sort -u; done | sort | uniq -d)
[ -z "$split" ] && ok "each host's records come from one worker only" || bad "hosts split across workers: $split"

# Evidence is compared by its text: its input (tcp:PEER:PORT) and line (the
# message's number in that connection) name the worker's own connection.
rows_sql="select i.path, i.kind, i.status, i.verdict from inputs i order by 1;
  select h.host, h.verdict, h.status, h.boots from hosts h order by 1;
  select host, cause, confidence, verdict, input, boot, rank from findings order by 5, 1, 2, 6;
  select f.host, f.cause, f.boot, e.seq, e.text from evidence e join finding f on f.id = e.finding_id order by 1, 2, 3, 4;"
rows_sharded=$(psql -At "$sharded" -c "$rows_sql" 2>&1)
rows_single=$(psql -At "$single" -c "$rows_sql" 2>&1)
n=$(psql -At "$single" -c "select count(*) from findings where cause = 'tpm_firmware_outdated'")
r=$(psql -At "$single" -c "select count(*) from findings where cause = 'tpm_firmware_outdated' and verdict = 'resolved'")
[ "$n" = 16 ] && [ "$r" = 8 ] && ok "the single listener stored tpm_firmware_outdated for 16 hosts, 8 of them resolved" \
  || bad "single listener: $n tpm_firmware_outdated findings ($r resolved), expected 16 (8)"
if [ "$rows_sharded" = "$rows_single" ]; then
  ok "3 workers by hash64mod(\$hostname, 3) stored exactly the single listener's rows ($(wc -l <<<"$rows_single") rows)"
else
  bad "sharded rows differ from the single listener's:"; diff <(echo "$rows_single") <(echo "$rows_sharded") | head -10
fi
q=$(psql -At "$sharded" -c "select count(*) from scans where status = 'finished'")
[ "$q" = 3 ] && ok "one finished scans row per worker" || bad "scans rows: $q"

echo "# $(( ($(date +%s%N) - t0) / 1000000 )) ms"
echo "relay_scale: $pass passed, $fail failed"
[ "$fail" = 0 ]
