#!/usr/bin/env bash
# Filters and output modes of diagnose, explain and scan (issue 19):
# --since/--until on the lines' own times, --host GLOB, -q/--quiet, --brief,
# and diagnose --format jsonl in the live record shape.
#   tests/filters.test.sh build/tpmdiag
set -u
bin=$(realpath "${1:?usage: filters.test.sh PATH-TO-tpmdiag}")
cd "$(dirname "$0")/.." || exit 2
export NO_COLOR=1
unset COLUMNS
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass+1)); }
bad() { echo "FAIL $*"; fail=$((fail+1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
seed=(samples/seed-failing samples/seed-fixed)
multi=samples/scenarios/multi-host-bundle

# verdict ARGS...: the first line's verdict word and the exit code
verdict() { local rc; "$bin" diagnose "$@" > "$tmp/v" 2> "$tmp/err"; rc=$?; echo "$(head -1 "$tmp/v" | awk '{print $2}') $rc"; }

# --since: the failing boot's lines are all at 2021-10-29T19:41; the fixed
# logs carry no time, so they are kept (they cannot be placed).
[ "$(verdict "${seed[@]}")" = "RESOLVED 0" ] || bad "seed without a filter: $(verdict "${seed[@]}")"
v=$(verdict --since 2021-10-29T19:42:00Z "${seed[@]}")
[ "$v" = "HEALTHY 0" ] && ok "--since after the failing boot keeps only the fixed boot: HEALTHY" || bad "--since: $v"
grep -q "^  Filtered by --since 2021-10-29T19:42:00.000Z: 19 TPM lines left out, 7 kept" "$tmp/v" \
  && ok "the report says what the filter left out and kept" || bad "no filter note: $(tail -4 "$tmp/v")"
for fmt in md html; do
  "$bin" diagnose --format $fmt --since 2021-10-29T19:42:00Z "${seed[@]}" | grep -q "Filtered by --since 2021-10-29T19:42:00.000Z: 19 TPM lines left out" \
    && ok "the $fmt report says it was filtered" || bad "no filter note in $fmt"
done
f=$("$bin" diagnose --format json --since 2021-10-29T19:42:00Z "${seed[@]}" | jq -c '[.verdict, .filter]')
[ "$f" = '["healthy",{"since":"2021-10-29T19:42:00.000Z","until":null,"host":null,"left_out":19,"untimed_kept":7}]' ] \
  && ok "the JSON report says the filter and what it left out" || bad "json filter: $f"
[ "$("$bin" diagnose --format json "${seed[@]}" | jq -c 'has("filter")')" = false ] && ok "no filter object without a filter" \
  || bad "a filter object without a filter"
v=$(verdict --until 2021-10-29T19:41:29.300Z samples/seed-failing)
[ "$v" = "PROBLEM 1" ] && ok "--until after the lockout error keeps it" || bad "--until 19:41:29.300: $v"
v=$(verdict --until 2021-10-29T19:41:20Z samples/seed-failing)
[ "$v" != "PROBLEM 1" ] && [ "${v#* }" = 0 ] && ok "--until before hostd's errors: no problem left ($v)" || bad "--until: $v"
v=$(verdict --since 2021-10-29 --until 2021-10-30 samples/seed-failing)
[ "$v" = "PROBLEM 1" ] && ok "dates: --since 2021-10-29 --until 2021-10-30 keep the day" || bad "dates: $v"
v=$(verdict --since 1d samples/seed-failing)
[ "$v" = "NO 0" ] && ok "--since 1d (counted from now) leaves out 2021" || bad "--since 1d: $v"
v=$(verdict --since 100000d samples/seed-failing)
[ "$v" = "PROBLEM 1" ] && ok "--since 100000d keeps 2021" || bad "--since 100000d: $v"
# A line without a time takes the time of the TPM line before it in its input.
{ head -3 samples/seed-failing/hostd.log; sed -n '4,$p' samples/seed-failing/hostd.log | cut -d' ' -f2-; } > "$tmp/partly-timed.log"
v=$(verdict --since 2021-10-29T19:42:00Z "$tmp/partly-timed.log")
[ "$v" = "NO 0" ] && ok "untimed lines after a timed one take its time" || bad "inherited time: $v"
for bad_time in yesterday 2021-13-01 5x 2021-10-29T25:00; do
  "$bin" diagnose --since "$bad_time" samples/seed-failing > /dev/null 2> "$tmp/err"; rc=$?
  [ "$rc" = 2 ] && [ "$(wc -l < "$tmp/err")" = 1 ] && grep -q -- "--since" "$tmp/err" && ok "--since '$bad_time': one line, exit 2" \
    || bad "--since '$bad_time': exit $rc: $(cat "$tmp/err")"
done
"$bin" diagnose --since 2022-01-01 --until 2021-01-01 samples/seed-failing > /dev/null 2> "$tmp/err"; rc=$?
[ "$rc" = 2 ] && grep -q "is after --until" "$tmp/err" && ok "--since after --until: exit 2" || bad "since > until: exit $rc"

# --host GLOB filters; --host-name names the host of lines without one.
"$bin" diagnose --brief "$multi" > "$tmp/all"
"$bin" diagnose --brief --host 'esx02*' "$multi" > "$tmp/esx02"; rc=$?
[ "$(wc -l < "$tmp/all")" = 2 ] && [ "$(cat "$tmp/esx02")" = "esx02.lab.local  PROBLEM  pcr_bank_sha1_only  0.90" ] && [ "$rc" = 1 ] \
  && ok "--host esx02* keeps esx02's lines only" || bad "--host esx02*: exit $rc: $(cat "$tmp/esx02")"
out=$("$bin" diagnose --redact --brief --host 'esx02*' "$multi")
[[ "$out" =~ ^host-[0-9]+\ \ PROBLEM\ \ pcr_bank_sha1_only\ \ 0\.90$ ]] && ok "--host with --redact matches the real names" || bad "--redact --host: $out"
v=$(verdict --host '*01.lab.*' "$multi")
[ "$v" = "HEALTHY 0" ] && ok "--host *01.lab.*: the healthy host alone, exit 0" || bad "--host *01.lab.*: $v"
v=$(verdict --host 'esx03*' "$multi")
[ "$v" = "NO 0" ] && ok "--host matching no host: no TPM evidence" || bad "--host esx03*: $v"
"$bin" diagnose --host-name esx-seed --brief samples/seed-failing > "$tmp/o"
grep -q "^esx-seed  PROBLEM  tpm_firmware_outdated  0.83$" "$tmp/o" && ok "--host-name names the host" || bad "--host-name: $(cat "$tmp/o")"
"$bin" diagnose --host esx-seed samples/seed-failing > "$tmp/o" 2> "$tmp/err"; rc=$?
[ "$rc" = 0 ] && grep -q "use --host-name" "$tmp/err" && ok "--host used to name a host: a note points to --host-name" \
  || bad "--host as a name: exit $rc: $(cat "$tmp/err")"

# --brief on a bundle cut short (a half upload): the verdict line is not
# left to stand alone as if the host were read in full.
tar czf "$tmp/seed.tgz" -C samples seed-failing && head -c 700 "$tmp/seed.tgz" > "$tmp/half.tgz"
"$bin" diagnose --brief "$tmp/half.tgz" > "$tmp/o" 2> "$tmp/err"; rc=$?
[ "$rc" = 2 ] && grep -q "^INCOMPLETE: 1 of 2 inputs not read or not kept in full" "$tmp/o" && [ -s "$tmp/err" ] \
  && ok "--brief on a cut bundle says INCOMPLETE, exit 2" || bad "--brief on a cut bundle: exit $rc: $(cat "$tmp/o")"

# -q: nothing on stdout, the exit code says it; --brief: one line per host.
out=$("$bin" diagnose -q samples/seed-failing); rc=$?
[ -z "$out" ] && [ "$rc" = 1 ] && ok "-q: no output, exit 1 for a problem" || bad "-q: exit $rc, output $out"
out=$("$bin" diagnose --quiet samples/seed-fixed); rc=$?
[ -z "$out" ] && [ "$rc" = 0 ] && ok "--quiet: no output, exit 0 when healthy" || bad "--quiet healthy: exit $rc"
out=$("$bin" explain -q samples/seed-failing); rc=$?
[ -z "$out" ] && [ "$rc" = 0 ] && ok "explain -q: no output, exit 0" || bad "explain -q: exit $rc"
out=$("$bin" diagnose --brief "${seed[@]}"); rc=$?
[ "$out" = "(not named)  RESOLVED  tpm_firmware_outdated  0.83" ] && [ "$rc" = 0 ] && ok "--brief: one line per host" \
  || bad "--brief: exit $rc: $out"
out=$("$bin" explain --brief --since 2021-10-29T19:42:00Z "${seed[@]}")
[ "$out" = "(not named)  HEALTHY  -  -" ] && ok "explain --brief with --since" || bad "explain --brief: $out"
out=$("$bin" diagnose -q --format json samples/seed-failing); rc=$?
[ -z "$out" ] && [ "$rc" = 1 ] && ok "-q wins over --format json" || bad "-q --format json: exit $rc"
"$bin" diagnose --brief --format json samples/seed-failing > /dev/null 2> "$tmp/err"; rc=$?
[ "$rc" = 2 ] && [ "$(wc -l < "$tmp/err")" = 1 ] && ok "--brief with --format json: exit 2" || bad "--brief --format json: exit $rc"

# diagnose --format jsonl: one finding record per finding, the live shape.
"$bin" diagnose --format jsonl "${seed[@]}" > "$tmp/jsonl"; rc=$?
n=$(wc -l < "$tmp/jsonl")
[ "$rc" = 0 ] && [ "$n" = 3 ] && jq -e -s 'map(.type == "finding") | all' "$tmp/jsonl" > /dev/null \
  && [ "$(jq -r -s '.[0].cause + " " + (.[0].rank|tostring) + " " + .[0].status' "$tmp/jsonl")" = "tpm_firmware_outdated 1 resolved" ] \
  && ok "--format jsonl: 3 finding records, best first" || bad "jsonl: exit $rc, $n lines"
live=$(cat samples/seed-failing/vmkernel.log samples/seed-failing/hostd.log | "$bin" watch --stats-interval 0 - | jq -c 'select(.type=="finding") | keys' | head -1)
mine=$("$bin" diagnose --format jsonl samples/seed-failing | head -1 | jq -c keys)
[ -n "$live" ] && [ "$mine" = "$live" ] && ok "jsonl records have the keys of live finding records" \
  || bad "jsonl keys differ from live: $mine vs $live"

# scan: the same options, minimal.
db=$tmp/fleet.db
"$bin" scan --db "$db" --brief "$multi" > "$tmp/scan"; rc=$?
[ "$rc" = 1 ] && [ "$(wc -l < "$tmp/scan")" = 2 ] && grep -q "^esx02.lab.local  problem  pcr_bank_sha1_only  0.90$" "$tmp/scan" \
  && ok "scan --brief: one line per host" || bad "scan --brief: exit $rc: $(cat "$tmp/scan")"
out=$("$bin" scan --db "$db" -q "$multi"); rc=$?
[ -z "$out" ] && [ "$rc" = 1 ] && ok "scan -q: exit code only" || bad "scan -q: exit $rc"
"$bin" scan --db "$db" --brief --host 'esx01*' "$multi" > "$tmp/scan"; rc=$?
[ "$rc" = 0 ] && [ "$(cat "$tmp/scan")" = "esx01.lab.local  healthy  -  -" ] && ok "scan --host: the matching hosts' rows and exit code" \
  || bad "scan --host: exit $rc: $(cat "$tmp/scan")"
"$bin" scan --db "$tmp/half.db" --brief "$tmp/half.tgz" > "$tmp/scan" 2> /dev/null
grep -q "^-  healthy (incomplete)  -  -$" "$tmp/scan" && ok "scan --brief: a cut bundle's verdict says incomplete" \
  || bad "scan --brief on a cut bundle: $(cat "$tmp/scan")"
"$bin" scan --db "$db" --brief --since 2021-10-29T19:42:00Z "${seed[@]}" > "$tmp/scan"; rc=$?
[ "$rc" = 0 ] && grep -q " healthy " "$tmp/scan" && ok "scan --since: the filtered diagnosis" || bad "scan --since: exit $rc: $(cat "$tmp/scan")"
# Not stored: the store keeps the whole bundles' diagnosis (before, the window's
# HEALTHY was stored, and the next scan found the inputs unchanged and kept it).
"$bin" scan --db "$db" "${seed[@]}" > "$tmp/scan2"; rc=$?
[ "$rc" = 1 ] && grep -q " problem " "$tmp/scan2" && ok "scan after scan --since: the whole logs' diagnosis" ||
  bad "scan after scan --since: exit $rc: $(cat "$tmp/scan2")"


echo "filters: $pass passed, $fail failed"
[ "$fail" = 0 ]
