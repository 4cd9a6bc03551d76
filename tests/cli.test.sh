#!/usr/bin/env bash
# The command line as a new user meets it (issue 19): help that teaches, "did
# you mean", and output that cannot fail silently.
#   tests/cli.test.sh build/tpmdiag
set -u
bin=$(realpath "${1:?usage: cli.test.sh PATH-TO-tpmdiag}")
cd "$(dirname "$0")/.." || exit 2
export NO_COLOR=1
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass+1)); }
bad() { echo "FAIL $*"; fail=$((fail+1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# help CMD is CMD --help
"$bin" help diagnose > "$tmp/a"; rc=$?
"$bin" diagnose --help > "$tmp/b"
[ "$rc" = 0 ] && cmp -s "$tmp/a" "$tmp/b" && ok "'help diagnose' = 'diagnose --help'" || bad "'help diagnose' differs from 'diagnose --help' (exit $rc)"
"$bin" help > "$tmp/a"; rc=$?
[ "$rc" = 0 ] && grep -q "tpmdiag diagnose" "$tmp/a" && ok "'help' lists the commands" || bad "'help' (exit $rc)"

# did you mean
"$bin" diagnos x 2> "$tmp/err"; rc=$?
[ "$rc" = 2 ] && grep -q "did you mean 'diagnose'" "$tmp/err" && ok "a typo of a command suggests it" || bad "typo: exit $rc: $(cat "$tmp/err")"
"$bin" help dagnose 2> "$tmp/err"; rc=$?
[ "$rc" = 2 ] && grep -q "did you mean 'diagnose'" "$tmp/err" && ok "'help' with a typo suggests it" || bad "help typo: exit $rc: $(cat "$tmp/err")"
"$bin" frobnicate 2> "$tmp/err"; rc=$?
[ "$rc" = 2 ] && ! grep -q "did you mean" "$tmp/err" && ok "no suggestion for a word like no command" || bad "frobnicate: $(cat "$tmp/err")"
"$bin" $'bad\x1b[31mname' 2> "$tmp/err"
grep -q $'\x1b' "$tmp/err" && bad "an escape in the command name reached the terminal" || ok "the command name is shown escaped"

# did you mean, for options and cause ids
"$bin" diagnose --formt json samples/seed-failing > /dev/null 2> "$tmp/err"; rc=$?
[ "$rc" = 2 ] && grep -q "unknown option '--formt'; did you mean '--format'?" "$tmp/err" \
  && ok "an option typo suggests the option" || bad "option typo: exit $rc: $(cat "$tmp/err")"
"$bin" kb show tpm_firmware_outdate > /dev/null 2> "$tmp/err"; rc=$?
[ "$rc" = 2 ] && grep -q "did you mean 'tpm_firmware_outdated'" "$tmp/err" \
  && ok "a cause id typo suggests the id" || bad "kb show typo: exit $rc: $(cat "$tmp/err")"

for args in "rules lst:unknown action 'lst'; did you mean 'list'? (use list, test, prefilter)" \
            "kb lst:did you mean 'list'?" "db sumary:did you mean 'summary'?"; do
  # shellcheck disable=SC2086
  "$bin" ${args%%:*} > /dev/null 2> "$tmp/err"; rc=$?
  [ "$rc" = 2 ] && grep -qF "${args#*:}" "$tmp/err" && ok "'${args%%:*}': exit 2, ${args#*:}" || bad "'${args%%:*}': exit $rc: $(cat "$tmp/err")"
done
"$bin" scan --db "$tmp/fleet.db" samples/seed-failing > /dev/null 2>&1
"$bin" db findings --db "$tmp/fleet.db" --cause pcr_bank_sha1_onl > /dev/null 2> "$tmp/err"; rc=$?
# Issue 18: an id neither the knowledge base nor the store knows is an error
# (an answer of "no findings" would hide the typo).
[ "$rc" = 2 ] && grep -q "unknown cause 'pcr_bank_sha1_onl'; did you mean 'pcr_bank_sha1_only'?" "$tmp/err" \
  && ok "db --cause with a typo: exit 2, the nearest id suggested" || bad "db --cause typo: exit $rc: $(cat "$tmp/err")"
"$bin" db findings --db "$tmp/fleet.db" --cause pcr_bank_sha1_only > /dev/null 2> "$tmp/err"
[ ! -s "$tmp/err" ] && ok "db --cause with a known id that matches nothing: no note" || bad "db --cause known id: $(cat "$tmp/err")"

# Every enumerated option of every command (its help shows '--NAME a|b|c')
# refuses another value: exit 2, one line with the allowed values.
cmds=$("$bin" --help | sed -n '/^Usage:/,/^$/s/^  tpmdiag \([a-z]*\) .*/\1/p')
n=0
for c in $cmds; do
  while read -r opt values; do
    n=$((n+1))
    for v in sometimes bogus; do
      timeout 10 "$bin" "$c" "$opt" "$v" < /dev/null > /dev/null 2> "$tmp/err"; rc=$?
      want="unknown $opt '$v'"
      if [ "$rc" = 2 ] && [ "$(wc -l < "$tmp/err")" = 1 ] && grep -qF "$want" "$tmp/err" && grep -qF "(use ${values//|/, })" "$tmp/err"; then :
      else bad "'$c $opt $v': exit $rc: $(cat "$tmp/err")"; fi
    done
  done < <("$bin" "$c" --help | sed -n 's/^ *\(-., \)\{0,1\}\(--[a-z-]*\) \([a-z0-9]*|[a-z0-9|]*\).*/\2 \3/p')
done
[ "$n" -ge 10 ] && ok "$n enumerated options refuse other values (exit 2, allowed list)" || bad "only $n enumerated options found"
"$bin" diagnose --color sometimes samples/seed-failing > /dev/null 2> "$tmp/err"; rc=$?
[ "$rc" = 2 ] && grep -qF "unknown --color 'sometimes' (use auto, always, never)" "$tmp/err" && ok "--color sometimes: exit 2" || bad "--color sometimes: exit $rc"
"$bin" diagnose --color always --format json samples/seed-failing > /dev/null 2>&1; rc=$?
[ "$rc" = 1 ] && ok "allowed values still work" || bad "--color always --format json: exit $rc"

# completions and the man page, made from the same help
"$bin" completion bash > "$tmp/comp.bash"; rc=$?
complete_bash() {  # complete_bash WORD... : what bash offers for the last word
  bash --norc --noprofile -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    _tpmdiag tpmdiag "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"; echo "${COMPREPLY[*]}"' _ "$tmp/comp.bash" "$@"
}
[ "$rc" = 0 ] && [ "$(complete_bash tpmdiag dia)" = diagnose ] && ok "bash: 'tpmdiag dia' completes to diagnose" \
  || bad "bash: 'tpmdiag dia' gives '$(complete_bash tpmdiag dia)' (exit $rc)"
got=$(complete_bash tpmdiag diagnose --format '')
[ "$got" = "text json jsonl html md" ] && ok "bash: diagnose --format offers its values" || bad "bash: diagnose --format offers '$got'"
got=$(complete_bash tpmdiag diagnose --color = a)
[ "$got" = "auto always" ] && ok "bash: --color=a offers auto always" || bad "bash: --color=a offers '$got'"
got=$(complete_bash tpmdiag kb s)
[ "$got" = "show" ] && ok "bash: 'kb s' completes to show" || bad "bash: 'kb s' gives '$got'"
got=$(complete_bash tpmdiag scan --max-de)
[ "$got" = "--max-decompressed --max-depth" ] && ok "bash: options of scan" || bad "bash: 'scan --max-de' gives '$got'"
got=$(complete_bash tpmdiag diagnose samples/seed-f)
[[ "$got" == *samples/seed-failing* ]] && ok "bash: paths for diagnose" || bad "bash: 'diagnose samples/seed-f' gives '$got'"
for sh in zsh fish; do
  "$bin" completion $sh > "$tmp/comp.$sh" || bad "completion $sh"
  if command -v $sh > /dev/null; then $sh -n "$tmp/comp.$sh" && ok "$sh -n accepts 'completion $sh'" || bad "$sh -n: 'completion $sh'"; fi
done
if command -v fish > /dev/null; then
  got=$(fish --no-config -c "source $tmp/comp.fish; complete -C 'tpmdiag dia'; complete -C 'tpmdiag diagnose --color '" 2>&1 | cut -f1 | tr '\n' ' ')
  [ "$got" = "diagnose always auto never " ] && ok "fish: 'tpmdiag dia' and --color complete" || bad "fish completes: '$got'"
fi
"$bin" completion bsh > /dev/null 2> "$tmp/err"; rc=$?
[ "$rc" = 2 ] && grep -q "did you mean 'bash'" "$tmp/err" && ok "completion bsh: exit 2, did you mean" || bad "completion bsh: exit $rc"
"$bin" help --man > "$tmp/tpmdiag.1"
if command -v man > /dev/null; then
  warnings=$(MANWIDTH=80 man --warnings -l "$tmp/tpmdiag.1" 2>&1 > "$tmp/man.txt")
  missing=$(for c in $cmds; do grep -q "^   $c\$" "$tmp/man.txt" || echo "$c"; done)
  [ -z "$warnings" ] && [ -z "$missing" ] && grep -q -- "--max-decompressed SIZE (default 64G)" "$tmp/man.txt" \
    && ok "the man page renders without warnings, a section per command" || bad "man page: $warnings; no section for: $missing"
fi

# a write error on stdout: one line, exit 2 (a full disk); a closed pipe: quiet
for cmd in "diagnose samples/seed-failing" "kb list" "rc 0x9a2" "diagnose --format json samples/seed-failing"; do
  # shellcheck disable=SC2086
  "$bin" $cmd > /dev/full 2> "$tmp/err"; rc=$?
  if [ "$rc" = 2 ] && [ "$(wc -l < "$tmp/err")" = 1 ] && grep -q "cannot write the output" "$tmp/err"; then
    ok "'$cmd > /dev/full': one line, exit 2"
  else bad "'$cmd > /dev/full': exit $rc: $(cat "$tmp/err")"; fi
done
for i in $(seq 1 40); do cat samples/seed-failing/hostd.log; done > "$tmp/big.log"
"$bin" diagnose --format json "$tmp/big.log" 2> "$tmp/err" | head -c 10 > /dev/null
[ ! -s "$tmp/err" ] && ok "a closed pipe (| head) is quiet" || bad "closed pipe: $(cat "$tmp/err")"

# rc for people: decimal digits that read as a known hex code get a hint;
# names are looked up; codes the knowledge base names link to their cause
"$bin" rc 921 > "$tmp/out" 2> "$tmp/err"; rc=$?
[ "$rc" = 0 ] && grep -q "did you mean 0x921 (TPM_RC_LOCKOUT)" "$tmp/err" && grep -q '^0x399' "$tmp/out" \
  && ok "rc 921: decoded as decimal, with 'did you mean 0x921 (TPM_RC_LOCKOUT)?' on stderr" || bad "rc 921: exit $rc: $(cat "$tmp/err")"
"$bin" rc 2466 2> "$tmp/err" > /dev/null
[ ! -s "$tmp/err" ] && ok "rc 2466 (0x9a2 in decimal): no hint" || bad "rc 2466 hints: $(cat "$tmp/err")"
for name in TPM_RC_LOCKOUT lockout tpm2_rc_lockout; do
  "$bin" rc "$name" > "$tmp/out" 2>&1; rc=$?
  [ "$rc" = 0 ] && grep -q '^0x921  TPM_RC_LOCKOUT' "$tmp/out" && ok "rc $name is 0x921" || bad "rc $name: exit $rc: $(head -2 "$tmp/out")"
done
"$bin" rc 0xE0295507 > "$tmp/out" 2>&1
grep -q 'cause: tpm_firmware_update_blocked' "$tmp/out" && ok "rc 0xE0295507 links to tpm_firmware_update_blocked" || bad "rc 0xE0295507: $(cat "$tmp/out")"
"$bin" rc nosuchname 2> "$tmp/err"; rc=$?
[ "$rc" = 2 ] && grep -q "nor a TCG name" "$tmp/err" && ok "rc with an unknown word: exit 2, one line" || bad "rc nosuchname: exit $rc"

echo "cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
