#!/usr/bin/env bash
# The seed's failing lines rewritten in every log shape tpmdiag recognises
# (samples/formats/, docs/formats.md) must give the seed's diagnosis, with the
# host the shape carries. Golden values are inline: verdict, host=verdict per
# host, and the top open finding as cause@host.
#   tests/formats.test.sh build/tpmdiag
set -u
bin=$(realpath "${1:?usage: formats.test.sh PATH-TO-tpmdiag}")
cd "$(dirname "$0")/.." || exit 2
export NO_COLOR=1
command -v jq >/dev/null || { echo "formats: jq is needed"; echo "0 passed, 1 failed"; exit 1; }
pass=0 fail=0

summary() {
  "$bin" diagnose --format json "$@" 2>/dev/null |
    jq -r '([.verdict] + [.hosts[] | "\(.host)=\(.verdict)"]
            + ([.findings[] | select(.status == "problem") | "\(.cause)@\(.host)"][0:1])) | join(" ")'
}

# check NAME EXPECTED ARGS...
check() {
  local name=$1 want=$2; shift 2
  local got; got=$(summary "$@")
  if [ "$got" = "$want" ]; then pass=$((pass+1))
  else echo "FAIL $name: got '$got', expected '$want'" >&2; fail=$((fail+1)); fi
}

F=samples/formats
check esxi8            "problem =problem tpm_firmware_outdated@"                            $F/esxi8
check rfc5424          "problem esx01.lab=problem tpm_firmware_outdated@esx01.lab"          $F/rfc5424
check rfc3164          "problem esx01=problem tpm_firmware_outdated@esx01"                  $F/rfc3164
check hybrid-pre8      "problem esx01=problem tpm_firmware_outdated@esx01"                  $F/hybrid
check rsyslog-trad     "problem esx01=problem tpm_firmware_outdated@esx01"                  $F/rsyslog-traditional
check rsyslog-rfc3339  "problem esx01=problem tpm_firmware_outdated@esx01"                  $F/rsyslog-rfc3339
check json-vector      "problem esx-vector=problem tpm_firmware_outdated@esx-vector"        $F/json/vector.jsonl
check json-rsyslog     "problem esx-rsyslog=problem tpm_firmware_outdated@esx-rsyslog"      $F/json/rsyslog.jsonl
check json-syslog-ng   "problem esx-syslogng=problem tpm_firmware_outdated@esx-syslogng"    $F/json/syslog-ng.jsonl
check json-journald    "problem esx-journald=problem tpm_firmware_outdated@esx-journald"    $F/json/journald.jsonl
check json-fluentbit   "problem esx-fluentbit=problem tpm_firmware_outdated@esx-fluentbit"  $F/json/fluentbit.jsonl
check json-ecs         "problem esx-ecs=problem tpm_firmware_outdated@esx-ecs"              $F/json/ecs.jsonl
check bare             "problem =problem tpm_firmware_outdated@"                            $F/bare
check two-hosts        "problem esx01.lab=problem esx02.lab=healthy tpm_firmware_outdated@esx01.lab" $F/mixed
check stdin-rfc5424    "problem esx01.lab=problem tpm_firmware_outdated@esx01.lab"          - < $F/rfc5424/messages.log

# Every shape gives the same TPM lines as the seed itself (same rules fire).
seed=$("$bin" diagnose --format json samples/seed-failing | jq '[.hosts[].boots[].tpm_lines] | add')
for d in esxi8 rfc5424 hybrid rsyslog-rfc3339 json/vector.jsonl json/journald.jsonl esxi8-vmkwarning; do
  n=$("$bin" diagnose --format json $F/$d | jq '[.hosts[].boots[].tpm_lines] | add')
  if [ "$n" = "$seed" ]; then pass=$((pass+1))
  else echo "FAIL tpm-lines $d: $n TPM lines, the seed has $seed" >&2; fail=$((fail+1)); fi
done
# (esxi8-vmkwarning adds vmkwarning.log copies of vmkernel lines: counted once.)

# Multi-line records: the continuation's TPM line is evidence at its record's first line.
for f in hostd7 hostd8; do
  lines=$("$bin" diagnose --format json $F/multiline/$f.log |
          jq -r '[.findings[].evidence[] | select(.rule == "hostd.tpm2cmd_failed") | .line] | unique | join(",")')
  ref=$("$bin" diagnose --reference --format json $F/multiline/$f.log |
        jq -r '[.findings[].evidence[] | select(.rule == "hostd.tpm2cmd_failed") | .line] | unique | join(",")')
  if [ "$lines" = 1 ] && [ "$ref" = 1 ]; then pass=$((pass+1))
  else echo "FAIL multiline $f: evidence at line '$lines' (reference '$ref'), expected 1" >&2; fail=$((fail+1)); fi
done

# --input-format forces one format; an unknown name is a usage error (exit 2).
check forced-5424 "problem esx01.lab=problem tpm_firmware_outdated@esx01.lab" --input-format syslog-rfc5424 $F/rfc5424
"$bin" diagnose --input-format no-such-format $F/bare >/dev/null 2>/tmp/formats.err.$$; rc=$?
if [ "$rc" = 2 ] && grep -q "unknown --input-format 'no-such-format'" /tmp/formats.err.$$; then pass=$((pass+1))
else echo "FAIL input-format-unknown: exit $rc" >&2; fail=$((fail+1)); fi
rm -f /tmp/formats.err.$$

echo "formats: $pass passed, $fail failed"
[ "$fail" = 0 ]
