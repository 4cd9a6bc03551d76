#!/usr/bin/env bash
# API tests of `tpmdiag serve` (issue 10) with curl: the JSON report is the one
# `tpmdiag diagnose --format json` prints, limits give clear JSON errors.
#   tests/serve_api.test.sh build/tpmdiag
set -u
bin=$(realpath "${1:?usage: serve_api.test.sh PATH-TO-tpmdiag}")
cd "$(dirname "$0")/.." || exit 2
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass+1)); }
bad() { echo "FAIL $*"; fail=$((fail+1)); }
tmp=$(mktemp -d)
servers=()
cleanup() { for p in "${servers[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
command -v curl >/dev/null || { echo "FAIL curl is needed"; echo "serve_api: 0 passed, 1 failed"; exit 1; }

# start NAME ARGS...: starts a server on a free port; sets $url.
start() {
  local name=$1; shift
  "$bin" serve --listen 127.0.0.1:0 "$@" 2>"$tmp/$name.log" &
  servers+=($!)
  url=
  for _ in $(seq 100); do
    url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$tmp/$name.log" | head -1)
    [ -n "$url" ] && return 0
    sleep 0.05
  done
  bad "server $name did not start: $(cat "$tmp/$name.log")"; return 1
}
# req NAME CURL-ARGS...: body in $tmp/NAME.body (also $last), status in $code
req() {
  local name=$1; shift
  last=$tmp/$name.body
  code=$(curl -sS -m 60 -o "$last" -w '%{http_code}' "$@" 2>"$tmp/$name.err") || code="curl-failed:$(cat "$tmp/$name.err")"
}
# expect WHAT WANT [TEXT]: the last request answered WANT with TEXT in its body
expect() {
  local what=$1 want=$2 text=${3:-}
  if [ "$code" != "$want" ]; then bad "$what: HTTP $code, expected $want: $(head -c 300 "$last")"; return; fi
  if [ -n "$text" ] && ! grep -qF -- "$text" "$last"; then bad "$what: body lacks '$text': $(head -c 300 "$last")"; return; fi
  ok "$what (HTTP $code)"
}

start main || { echo "serve_api: $pass passed, $fail failed"; exit 1; }
seed=samples/seed-failing

# --- the seed, pasted as one body: same report as the CLI on stdin -----------
cat $seed/vmkernel.log $seed/hostd.log > "$tmp/seed.txt"
req seed --data-binary @"$tmp/seed.txt" -D "$tmp/seed.headers" "${url}api/diagnose"
expect "diagnose seed (problem answers 200)" 200 '"cause": "tpm_firmware_outdated"'
"$bin" diagnose --format json - < "$tmp/seed.txt" | sed 's#"input": "-"#"input": "pasted"#; s#"name": "-"#"name": "pasted"#' > "$tmp/seed.cli"
if cmp -s "$tmp/seed.cli" "$tmp/seed.body"; then ok "report is byte for byte 'tpmdiag diagnose --format json' (input named 'pasted')"
else bad "report differs from the CLI's: $(diff "$tmp/seed.cli" "$tmp/seed.body" | head -5)"; fi
grep -qi '^X-Tpmdiag-Verdict: problem' "$tmp/seed.headers" && ok "X-Tpmdiag-Verdict: problem" || bad "no X-Tpmdiag-Verdict header"
grep -qi "^Content-Security-Policy: default-src 'none'; script-src 'self'" "$tmp/seed.headers" && ok "CSP header on API answers" || bad "no CSP header"
grep -qi '^Content-Type: application/json' "$tmp/seed.headers" && ok "Content-Type: application/json" || bad "wrong Content-Type"

# --- ?name= and a healthy input ----------------------------------------------
req fixed --data-binary @samples/seed-fixed/hostd.log "${url}api/diagnose?name=hostd.log"
expect "diagnose fixed host (healthy, 200)" 200 '"verdict": "healthy"'
grep -qF '"name": "hostd.log"' "$tmp/fixed.body" && ok "?name= names the input" || bad "?name= not used"

# --- multipart: files and pasted text -----------------------------------------
req multi -F file=@$seed/vmkernel.log -F file=@$seed/hostd.log -F text='hostd: Tpm2Cmd: NV_ReadPublic: (0x18b) Unknown' "${url}api/diagnose"
expect "multipart files + text" 200 '"cause": "tpm_firmware_outdated"'
grep -qF '"name": "vmkernel.log"' "$tmp/multi.body" && grep -qF '"name": "pasted"' "$tmp/multi.body" \
  && ok "multipart inputs keep their file names" || bad "multipart input names wrong"

# --- a .gz body and a .tgz upload (archives walked in memory) ----------------
gzip -c $seed/hostd.log > "$tmp/hostd.0.gz"
req gz --data-binary @"$tmp/hostd.0.gz" "${url}api/diagnose?name=hostd.0.gz"
expect "gzip body inflated" 200 '"cause": "tpm_firmware_outdated"'
tar czf "$tmp/esx-seedhost-2021-10-29--19.45-12345.tgz" -C samples seed-failing
req tgz -F file=@"$tmp/esx-seedhost-2021-10-29--19.45-12345.tgz" "${url}api/diagnose"
expect ".tgz upload diagnosed" 200 '"cause": "tpm_firmware_outdated"'
grep -qF '.tgz!seed-failing/hostd.log' "$tmp/tgz.body" && ok ".tgz members named archive!member" || bad ".tgz members not named: $(grep -o '"name": "[^"]*"' "$tmp/tgz.body" | head -3)"
grep -qF '"host": "seedhost"' "$tmp/tgz.body" && ok ".tgz host taken from the bundle name" || bad ".tgz host not taken from its name"

# --- limits and errors: JSON bodies --------------------------------------------
head -c $((32 * 1024 * 1024 + 1)) /dev/zero | tr '\0' 'a' > "$tmp/big"
req big --data-binary @"$tmp/big" "${url}api/diagnose"
expect "oversized body (default --max-body 32 MiB)" 413 '"status":413'
req big-noexpect -H 'Expect:' --data-binary @"$tmp/big" "${url}api/diagnose"
expect "oversized body without Expect: 100-continue" 413 'too large'
req big-chunked -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/big" "${url}api/diagnose"
expect "oversized chunked body" 413 'too large'
req big-multipart -F file=@"$tmp/big" "${url}api/diagnose"
expect "oversized multipart upload" 413 'too large'
req empty -X POST "${url}api/diagnose"
expect "empty body" 400 'nothing to diagnose'
req blank --data-binary $'  \n\n' "${url}api/diagnose"
expect "blank body" 400 'nothing to diagnose'
req csrf -H 'Origin: http://evil.example' --data-binary @"$tmp/seed.txt" "${url}api/diagnose"
expect "cross-origin POST refused" 403 'cross-origin'
req notfound "${url}api/nothing"
expect "unknown path" 404 '"status":404'

# --- /api/rc and /healthz ---------------------------------------------------------
req rc "${url}api/rc/0x9a2"
expect "/api/rc/0x9a2" 200 '"name": "TPM_RC_BAD_AUTH"'
if cmp -s <("$bin" rc --format json 0x9a2) "$tmp/rc.body"; then ok "/api/rc is byte for byte 'tpmdiag rc --format json'"
else bad "/api/rc differs from the CLI: $(diff <("$bin" rc --format json 0x9a2) "$tmp/rc.body" | head -5)"; fi
req rc-cmd "${url}api/rc/%280x921%29?command=DictionaryAttackLockReset"
if [ "$code" = 200 ] && cmp -s <("$bin" rc --format json --command DictionaryAttackLockReset '(0x921)') "$tmp/rc-cmd.body"; then
  ok "/api/rc/(0x921)?command= as the CLI's --command"; else bad "/api/rc with command: HTTP $code"; fi
req rc-bad "${url}api/rc/zzz"
expect "/api/rc/zzz (bad code)" 400 "invalid TPM response code 'zzz'"
req rc-big "${url}api/rc/0x1ffffffff"
expect "/api/rc/0x1ffffffff (too big)" 400 '"status":400'
req health "${url}healthz"
expect "/healthz" 200 '"status":"ok"'
req head -I "${url}healthz"
if [ "$code" = 200 ] && grep -qi '^Content-Length: [1-9]' "$last"; then ok "HEAD /healthz: headers only"; else bad "HEAD /healthz: HTTP $code"; fi
req post-health -X POST "${url}healthz"
expect "POST /healthz" 405 'method not allowed: POST /healthz'
curl -sS -v -o /dev/null -o /dev/null "${url}healthz" "${url}app.js" 2>"$tmp/reuse.err"
grep -qi 're-using existing connection' "$tmp/reuse.err" && ok "keep-alive: two requests on one connection" \
  || bad "keep-alive: connection not reused: $(grep -i 'connect' "$tmp/reuse.err" | head -3)"

# --- the page itself ---------------------------------------------------------------
req index -D "$tmp/index.headers" "$url"
expect "GET / serves the page" 200 '<script src="app.js" defer></script>'
grep -qi '^Content-Type: text/html' "$tmp/index.headers" && ok "page is text/html" || bad "page Content-Type wrong"
if grep -qiE '<script>|\son[a-z]+=|https?://' "$tmp/index.body"; then bad "page has inline script, inline handlers or external URLs"; else ok "page has no inline script and no external URL"; fi
req js "${url}app.js"
expect "GET /app.js" 200 "'use strict'"
if grep -qE '\.(inner|outer)HTML *[+]?=|insertAdjacentHTML|document\.write|eval\(|new Function' web/app.js; then bad "app.js uses an HTML sink"; else ok "app.js builds the DOM with text only (no innerHTML)"; fi

# --- one decompression budget per request (issue 20 #3) ----------------------
# A 40 KB .tgz of 100 gzip bombs of 16 MiB, each under --max-decompressed
# 32M: the request stops at its total (4 x 32M) at once, and the next request
# has a budget of its own.
python3 - "$tmp/bombs.tgz" <<'PY'
import gzip, io, sys, tarfile
bomb = gzip.compress(b"\n" * (16 << 20), compresslevel=1)
with tarfile.open(sys.argv[1], "w:gz") as tf:
    for i in range(100):
        ti = tarfile.TarInfo("esx-h9-2024-01-01--10.00-1/var/run/log/vmkernel.%d.gz" % i); ti.size = len(bomb)
        tf.addfile(ti, io.BytesIO(bomb))
PY
start budget --max-decompressed 32M --quiet || true
t0=$(date +%s%N)
req bombs --data-binary @"$tmp/bombs.tgz" "${url}api/diagnose?name=bombs.tgz"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect "a .tgz of 100 bombs stops at the request's --max-total-decompressed (${ms} ms)" 200 'max-total-decompressed (134217728 bytes)'
[ "$ms" -lt 10000 ] && ok "the bomb request is answered in ${ms} ms" || bad "the bomb request took ${ms} ms"
req after-bombs --data-binary @"$tmp/seed.txt" "${url}api/diagnose"
expect "the next request has its own budget" 200 '"cause": "tpm_firmware_outdated"'

# --- a small --max-body and a short --timeout ---------------------------------------
start small --max-body 1K --timeout 1 --quiet || true
req small-ok --data-binary @$seed/hostd.log "${url}api/diagnose"
expect "--max-body 1K: 1.5 KB refused" 413 'the limit is 1 KiB'
small_port=$(echo "$url" | sed 's#.*:\([0-9]*\)/#\1#')
exec 3<>"/dev/tcp/127.0.0.1/$small_port"
printf 'POST /api/diagnose HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nContent-Length: 100\r\n\r\nonly part of it' "$small_port" >&3
timeout 15 sed -n '1p; /"status"/{p;q}' <&3 > "$tmp/slow.body"; exec 3<&-
last=$tmp/slow.body; code=$(head -1 "$last" | awk '{print $2}')
expect "body slower than --timeout 1" 408 'not received within 1 s'

# --- usage errors ---------------------------------------------------------------------
"$bin" serve --listen nope:port 2>"$tmp/usage.err"; rc=$?
[ "$rc" = 2 ] && grep -q 'expected HOST:PORT' "$tmp/usage.err" && ok "bad --listen: exit 2 with help" || bad "bad --listen: exit $rc: $(cat "$tmp/usage.err")"
"$bin" serve --max-body 12Q 2>"$tmp/usage2.err"; rc=$?
[ "$rc" = 2 ] && grep -q 'max-body' "$tmp/usage2.err" && ok "bad --max-body: exit 2" || bad "bad --max-body: exit $rc"
port=$(echo "$url" | sed 's#.*:\([0-9]*\)/#\1#')
timeout 5 "$bin" serve --listen "127.0.0.1:$port" 2>"$tmp/busy.err"; rc=$?
[ "$rc" = 2 ] && grep -q 'cannot listen' "$tmp/busy.err" && ok "port in use: exit 2" || bad "port in use: exit $rc"
"$bin" serve --help | grep -q 'api/diagnose' && ok "serve --help teaches the API" || bad "serve --help"

# --- clean stop -------------------------------------------------------------------------
kill -TERM "${servers[0]}"; wait "${servers[0]}"; rc=$?
[ "$rc" = 0 ] && grep -q 'stopped' "$tmp/main.log" && ok "SIGTERM stops the server (exit 0)" || bad "SIGTERM: exit $rc"

echo "serve_api: $pass passed, $fail failed"
[ "$fail" = 0 ]
