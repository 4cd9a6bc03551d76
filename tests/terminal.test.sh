#!/usr/bin/env bash
# Text that fits the terminal (issue 19): prose wraps to the width (--width,
# COLUMNS, the terminal's, 80), log lines and URLs are never broken, places
# are short, long output on a terminal goes through a pager.
#   tests/terminal.test.sh build/tpmdiag
set -u
bin=$(realpath "${1:?usage: terminal.test.sh PATH-TO-tpmdiag}")
cd "$(dirname "$0")/.." || exit 2
export NO_COLOR=1 LC_ALL=C.UTF-8
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass+1)); }
bad() { echo "FAIL $*"; fail=$((fail+1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
seed=(samples/seed-failing samples/seed-fixed)
cat samples/seed-failing/* samples/seed-fixed/* | sed 's/[[:space:]]*$//' > "$tmp/input-lines"

# over WIDTH FILE: the lines wider than WIDTH that are neither a line of the
# input, whole (evidence is shown verbatim), nor a lone URL. Characters are
# counted, not bytes (the report uses "—").
over() {
  local width=$1 line s
  while IFS= read -r line; do
    [ "${#line}" -le "$width" ] && continue
    s=${line#"${line%%[![:space:]]*}"}
    [[ "$s" =~ ^https?://[^[:space:]]+$ ]] && continue
    grep -Fxq -- "$s" "$tmp/input-lines" && continue
    echo "$line"
  done < "$2"
}

COLUMNS=80 "$bin" diagnose "${seed[@]}" > "$tmp/r80"
n=$(awk 'length($0) > 80' "$tmp/r80" | wc -l)
[ "$n" -gt 0 ] || bad "the seed report has no line over 80: the rule below checks nothing"
if [ -z "$(over 80 "$tmp/r80")" ]; then ok "COLUMNS=80: no prose line over 80 ($n verbatim log lines or URLs are)"
else bad "COLUMNS=80: prose over 80:"; over 80 "$tmp/r80" | head -5; fi
grep -q "^        2021-10-29T19:41:29.399Z error hostd\[2099349\] \[Originator@6876 sub=Libs\] Tpm2Cmd: CreatePrimary: (0x9a2) Unknown$" "$tmp/r80" \
  && ok "an evidence line is shown whole" || bad "the CreatePrimary evidence line is broken or missing"

"$bin" diagnose --width 60 "${seed[@]}" > "$tmp/r60"
if [ -z "$(over 60 "$tmp/r60")" ] && [ "$(wc -l < "$tmp/r60")" -gt "$(wc -l < "$tmp/r80")" ]; then ok "--width 60 wraps at 60"
else bad "--width 60:"; over 60 "$tmp/r60" | head -3; fi
COLUMNS=200 "$bin" diagnose "${seed[@]}" > "$tmp/r200"
awk 'length($0) > 100 && /What it means|hostd cannot create/' "$tmp/r200" | grep -q . && ok "COLUMNS=200 uses the width" \
  || bad "COLUMNS=200 did not widen the prose"
COLUMNS=200 "$bin" diagnose --width 70 "${seed[@]}" > "$tmp/r70"
[ -z "$(over 70 "$tmp/r70")" ] && ok "--width wins over COLUMNS" || bad "--width 70 with COLUMNS=200"
"$bin" diagnose --width 5 "${seed[@]}" > /dev/null 2> "$tmp/err"; rc=$?
[ "$rc" = 2 ] && grep -q -- "--width" "$tmp/err" && ok "--width 5: exit 2" || bad "--width 5: exit $rc"

for cmd in "explain samples/seed-failing" "rc 0x9a2 0x921" "kb show tpm_firmware_outdated"; do
  # shellcheck disable=SC2086
  COLUMNS=80 "$bin" $cmd > "$tmp/o" 2>&1
  [ -z "$(over 80 "$tmp/o")" ] && ok "'$cmd' fits 80 columns" || { bad "'$cmd' over 80:"; over 80 "$tmp/o" | head -3; }
done

# Places: the folder once per host, then short names.
grep -q "^  files under samples/$" "$tmp/r80" && grep -q "^      seed-failing/hostd.log:4$" "$tmp/r80" \
  && grep -q "^      vmkernel.log:10$" "$tmp/r80" && ok "places are short, the folder named once" \
  || bad "places: $(grep -m3 'hostd.log:\|vmkernel.log:\|files under' "$tmp/r80")"
! grep -q "samples/seed-failing/hostd.log:" "$tmp/r80" && ok "no full path on evidence" || bad "a full path remains"

# In a bundle: the member's name alone, the archive and folder once per host.
b=samples/scenarios/multi-host-bundle
tar czf "$tmp/esx02.tgz" -C "$b" esx-esx02.lab.local-2024-05-02--06.31-2104411
"$bin" diagnose "$tmp/esx02.tgz" > "$tmp/bundle"
[ "$(grep -c "esx02.tgz" "$tmp/bundle")" = 1 ] && grep -q "^  files under .*esx02.tgz!esx-esx02.lab.local-2024-05-02--06.31-2104411/var/run/log/$" "$tmp/bundle" \
  && grep -q "^      vmkernel.log:3$" "$tmp/bundle" && ok "a bundle member's place is its name; the bundle is named once" \
  || bad "bundle places: $(grep -n 'esx02\|vmkernel.log' "$tmp/bundle" | head -5)"

# The folder named is whole components: seed-failing/ and seed-fixed/ share d/, not d/seed-f.
mkdir -p "$tmp/d/seed-failing" "$tmp/d/seed-fixed"
cp samples/seed-failing/hostd.log "$tmp/d/seed-failing/"; cp samples/seed-fixed/hostd.log "$tmp/d/seed-fixed/"
"$bin" diagnose "$tmp/d/seed-failing" "$tmp/d/seed-fixed" > "$tmp/o"
grep -q "^  files under $tmp/d/$" "$tmp/o" && grep -q "^      seed-failing/hostd.log:4$" "$tmp/o" \
  && ok "the folder is cut at a whole component" || bad "folder: $(grep 'files under' "$tmp/o")"

# Plurals.
"$bin" diagnose samples/seed-fixed > "$tmp/fixed"
grep -q "Read 1 of 1 input," "$tmp/fixed" && ! grep -Eq "(^|[^0-9])1 (TPM lines|inputs|boot windows)" "$tmp/r80" "$tmp/fixed" \
  && ok "1 input, not 1 inputs" || bad "plural: $(grep -E 'Read|boot' "$tmp/fixed")"

sed -n 11p samples/seed-failing/hostd.log > "$tmp/one.log"   # one TPM line
"$bin" diagnose --width 200 "$tmp/one.log" > "$tmp/one.txt"; "$bin" diagnose --format md "$tmp/one.log" > "$tmp/one.md"
"$bin" diagnose --format html "$tmp/one.log" > "$tmp/one.html"; "$bin" scan --db "$tmp/one.db" "$tmp/one.log" > "$tmp/one.scan"
grep -q ", 1 TPM line, problem$" "$tmp/one.txt" && grep -q ", 1 TPM line, problem$" "$tmp/one.md" && grep -q "all 1 TPM line<" "$tmp/one.html" \
  && grep -q "^1 input: 1 scanned, 0 unchanged, 0 errors; 1 host:" "$tmp/one.scan" && ok "1 TPM line, 1 input, 1 host in text, md, html, scan" \
  || bad "singular: $(grep -h 'TPM line\|input:' "$tmp/one.txt" "$tmp/one.md" "$tmp/one.scan" | head -4)"

# The pager: only on a terminal, and only when the output is longer than it.
if command -v script > /dev/null; then
  TPMDIAG_PAGER="sed s/^/PAGED:/" script -qec "stty rows 20 cols 80; '$bin' diagnose ${seed[*]}" /dev/null > "$tmp/tty" 2>&1
  grep -q "^PAGED:tpmdiag: RESOLVED" "$tmp/tty" && ok "on a terminal, long output goes through \$TPMDIAG_PAGER" \
    || bad "no pager on a terminal: $(head -c 300 "$tmp/tty")"
  TPMDIAG_PAGER="sed s/^/PAGED:/" script -qec "stty rows 20 cols 80; '$bin' diagnose --no-pager ${seed[*]}" /dev/null > "$tmp/tty" 2>&1
  ! grep -q "PAGED:" "$tmp/tty" && grep -q "tpmdiag: RESOLVED" "$tmp/tty" && ok "--no-pager" || bad "--no-pager still paged"
  TPMDIAG_PAGER="sed s/^/PAGED:/" script -qec "stty rows 200 cols 80; '$bin' diagnose ${seed[*]}" /dev/null > "$tmp/tty" 2>&1
  ! grep -q "PAGED:" "$tmp/tty" && ok "output shorter than the screen is not paged" || bad "short output paged"
  TPMDIAG_PAGER=/nonexistent/pager script -qec "stty rows 20 cols 80; '$bin' diagnose ${seed[*]}; echo rc=\$?" /dev/null > "$tmp/tty" 2>&1
  grep -q "tpmdiag: RESOLVED" "$tmp/tty" && grep -q "could not be started" "$tmp/tty" && grep -q "rc=0" "$tmp/tty" \
    && ok "a pager that does not start: the output on stdout, one warning" || bad "missing pager: $(tail -c 300 "$tmp/tty")"
else
  echo "skip pager tests: no script(1)"
fi
TPMDIAG_PAGER="sed s/^/PAGED:/" "$bin" diagnose "${seed[@]}" > "$tmp/o"
! grep -q PAGED: "$tmp/o" && ok "never a pager when stdout is not a terminal" || bad "paged into a file"

echo "terminal: $pass passed, $fail failed"
[ "$fail" = 0 ]
