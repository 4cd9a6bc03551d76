#!/usr/bin/env bash
# Golden-output tests of the CLI: run tpmdiag on samples/ and compare stdout and
# the exit code with the files in tests/golden/. UPDATE=1 rewrites them.
#   tests/golden.sh build/tpmdiag
set -u
bin=$(realpath "${1:?usage: golden.sh PATH-TO-tpmdiag}")
cd "$(dirname "$0")/.." || exit 2
export NO_COLOR=1
# Text wraps to the terminal width: the goldens are at the default, 80 columns.
unset COLUMNS
# Case reports name the time they were made and the knowledge that made them:
# a fixed time, and the knowledge fingerprint (any data file edit changes it) as KB.
export SOURCE_DATE_EPOCH=1700000000
kb_filter() { sed -E 's/kb [0-9a-f]{12} \([0-9]+ rules, [0-9]+ causes\)/KB/g'; }
pass=0 fail=0
note() { echo "$*" >&2; }

# case NAME EXPECTED-EXIT ARGS... ; stdin from $STDIN if set
case_() {
  local name=$1 want=$2; shift 2
  local out rc
  if [ -n "${STDIN:-}" ]; then out=$("$bin" "$@" < "$STDIN" 2>/tmp/golden.err.$$); rc=$?
  else out=$("$bin" "$@" 2>/tmp/golden.err.$$ < /dev/null); rc=$?; fi
  out=$(printf '%s\n' "$out" | kb_filter)
  local file=tests/golden/$name
  if [ "${UPDATE:-}" = 1 ]; then printf '%s\n' "$out" > "$file"; fi
  if [ "$rc" != "$want" ]; then
    note "FAIL $name: exit $rc, expected $want"; sed 's/^/  stderr: /' /tmp/golden.err.$$ >&2; fail=$((fail+1)); return
  fi
  if ! diff -u "$file" <(printf '%s\n' "$out") > /tmp/golden.diff.$$; then
    note "FAIL $name: output differs from $file"; head -40 /tmp/golden.diff.$$ >&2; fail=$((fail+1)); return
  fi
  pass=$((pass+1))
}

# error NAME ARGS... : exit 2 and one stderr line containing tests/bad-data/NAME.expect
error_case() {
  local name=$1; shift
  local err rc want
  err=$("$bin" "$@" 2>&1 >/dev/null < /dev/null); rc=$?
  want=$(cat "tests/bad-data/$name.expect")
  if [ "$rc" != 2 ] || [ "$(printf '%s\n' "$err" | wc -l)" != 1 ] || [[ "$err" != *"$want"* ]]; then
    note "FAIL error case $name: exit $rc, stderr: $err"; note "  expected exit 2 and one line containing: $want"
    fail=$((fail+1)); return
  fi
  pass=$((pass+1))
}

case_ seed-failing.txt 1 diagnose samples/seed-failing
case_ seed-failing.json 1 diagnose --format json samples/seed-failing
case_ seed-fixed.txt 0 diagnose samples/seed-fixed
case_ seed-resolved.txt 0 diagnose samples/seed-failing samples/seed-fixed
case_ seed-resolved.json 0 diagnose --format json samples/seed-failing samples/seed-fixed
case_ seed-paste.txt 1 diagnose samples/seed-paste/pasted.txt
case_ seed-explain.txt 0 explain samples/seed-failing
STDIN=samples/seed-failing/hostd.log case_ seed-stdin.json 1 diagnose --format json -
# The case report (docs/report.md) and the timeline, failing then fixed.
case_ seed-resolved.html 0 diagnose --format html samples/seed-failing samples/seed-fixed
case_ seed-resolved.md 0 diagnose --format md samples/seed-failing samples/seed-fixed
case_ seed-failing.md 1 diagnose --format md samples/seed-failing
case_ seed-resolved-timeline.txt 0 diagnose --timeline samples/seed-failing samples/seed-fixed
case_ formats-mixed-redacted-timeline.txt 1 diagnose --timeline --redact samples/formats/mixed
case_ formats-rfc5424-redacted.md 1 diagnose --format md --redact samples/formats/rfc5424
case_ rc-seed.txt 0 rc 0x9a2 '(0x921)' 395
case_ help.txt 0 --help
# Each command's --help: a change in help is a reviewed change. Every command
# has its golden (tests/golden/help/CMD.txt), and every golden a command.
cmds=$("$bin" --help | sed -n '/^Usage:/,/^$/s/^  tpmdiag \([a-z]*\) .*/\1/p')
for c in $cmds; do case_ "help/$c.txt" 0 "$c" --help; done
for f in tests/golden/help/*.txt; do
  c=$(basename "$f" .txt)
  if ! grep -qx "$c" <<< "$cmds"; then note "FAIL $f: no command '$c' in 'tpmdiag --help'"; fail=$((fail+1)); fi
done

# Reading stdin gives the same report as reading the file (but for the input name).
a=$("$bin" diagnose --format json samples/seed-failing/hostd.log | sed 's#samples/seed-failing/hostd.log#-#g')
b=$("$bin" diagnose --format json - < samples/seed-failing/hostd.log)
if [ "$a" = "$b" ]; then pass=$((pass+1)); else note "FAIL stdin and file reports differ"; fail=$((fail+1)); fi

# Bad data files: one clear line naming file and field, exit 2.
for f in tests/bad-data/rules/*.json; do
  n=$(basename "$f" .json); d=$(mktemp -d); cp "$f" "$d/"
  error_case "rules/$n" diagnose --rules "$d" samples/seed-failing; rm -rf "$d"
done
for f in tests/bad-data/kb/*.json; do
  n=$(basename "$f" .json); d=$(mktemp -d); cp "$f" "$d/"
  error_case "kb/$n" diagnose --kb "$d" samples/seed-failing; rm -rf "$d"
done
# A missing input: reported, exit 2 since nothing could be read.
error_case missing-input diagnose /nonexistent/vmkernel.log

rm -f /tmp/golden.err.$$ /tmp/golden.diff.$$
echo "golden: $pass passed, $fail failed"
[ "$fail" = 0 ]
