#!/usr/bin/env bash
# The case report (issue 17, docs/report.md): -o for every format and its
# errors, the HTML report (size, escaping, zero requests from file://, print)
# in headless Chromium, and the Markdown of every scenario through a
# CommonMark parser (markdown-it, with GFM tables), both driven by
# tests/web/report.mjs. Screenshot: docs/report-seed.png.
#   tests/report.test.sh build/tpmdiag
# Needs what tests/web.test.sh needs: node + npm (tests/web/node_modules is
# installed with npm ci when a package is missing) and Debian's chromium.
set -u
bin=$(realpath "${1:?usage: report.test.sh PATH-TO-tpmdiag}")
cd "$(dirname "$0")/.." || exit 2
export NO_COLOR=1 SOURCE_DATE_EPOCH=1700000000
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass+1)); }
bad() { echo "FAIL $*"; fail=$((fail+1)); }
finish() { echo "report: $pass passed, $fail failed"; [ "$fail" = 0 ]; exit $?; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
seed=(samples/seed-failing samples/seed-fixed)

# expect_error NAME ARGS...: exit 2 and exactly one line on stderr
expect_error() {
  local name=$1; shift
  local err rc
  err=$("$bin" "$@" 2>&1 >/dev/null < /dev/null); rc=$?
  if [ "$rc" = 2 ] && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] && [ -n "$err" ]; then ok "$name: exit 2, one line ($err)"
  else bad "$name: exit $rc, stderr: $err"; fi
}

# -o FILE writes what stdout would, in every format; '-' is stdout.
for fmt in text json html md; do
  "$bin" diagnose --format "$fmt" "${seed[@]}" > "$tmp/stdout.$fmt"
  "$bin" diagnose --format "$fmt" -o "$tmp/file.$fmt" "${seed[@]}"; rc=$?
  "$bin" diagnose --format "$fmt" -o - "${seed[@]}" > "$tmp/dash.$fmt"
  if [ "$rc" = 0 ] && [ -s "$tmp/file.$fmt" ] && cmp -s "$tmp/stdout.$fmt" "$tmp/file.$fmt" && cmp -s "$tmp/stdout.$fmt" "$tmp/dash.$fmt"
  then ok "diagnose --format $fmt -o FILE (and -o -) writes what stdout shows"
  else bad "diagnose --format $fmt -o: exit $rc or output differs"; fi
done
"$bin" diagnose --timeline -o "$tmp/timeline.txt" "${seed[@]}"
if grep -q 'FIX .*Successfully provisioned endorsement key' "$tmp/timeline.txt"; then ok "diagnose --timeline marks the proof line"
else bad "diagnose --timeline: no FIX marker on the proof line"; fi
for fmt in text json md; do
  "$bin" explain --format "$fmt" -o "$tmp/explain.$fmt" samples/seed-failing; rc=$?
  if [ "$rc" = 0 ] && [ -s "$tmp/explain.$fmt" ]; then ok "explain --format $fmt -o FILE"; else bad "explain --format $fmt -o: exit $rc"; fi
done
"$bin" scan --db "$tmp/fleet.db" --format json -o "$tmp/scan.json" samples/seed-failing > "$tmp/scan.stdout"; rc=$?
if [ "$rc" = 1 ] && [ ! -s "$tmp/scan.stdout" ] && grep -q '"top_cause": "tpm_firmware_outdated"' "$tmp/scan.json"; then ok "scan -o FILE"
else bad "scan -o: exit $rc"; fi

expect_error "-o on a full disk" diagnose -o /dev/full "${seed[@]}"
expect_error "-o in a missing folder" diagnose --format html -o "$tmp/no/such/dir/r.html" "${seed[@]}"
expect_error "scan -o on a full disk" scan --db "$tmp/fleet2.db" -o /dev/full samples/seed-failing
expect_error "explain -o on a full disk" explain -o /dev/full samples/seed-failing
expect_error "--redact-map on a full disk" diagnose --redact-map /dev/full samples/seed-failing
cp samples/seed-failing/hostd.log "$tmp/in.log"
expect_error "-o naming an input" diagnose -o "$tmp/in.log" "$tmp/in.log"
if cmp -s "$tmp/in.log" samples/seed-failing/hostd.log; then ok "... and the input is left whole"; else bad "-o truncated its input"; fi
expect_error "unknown --format" diagnose --format xml samples/seed-failing
expect_error "unknown --color" diagnose --color sometimes samples/seed-failing
expect_error "--timeline is text only" diagnose --timeline --format json samples/seed-failing
expect_error "explain has no --timeline" explain --timeline samples/seed-failing
expect_error "scan: unknown --format" scan --db "$tmp/fleet3.db" --format html samples/seed-failing

# --redact-map: token -> value, for the owner only.
"$bin" diagnose --format md --redact-map "$tmp/map.json" samples/formats/rfc5424 > "$tmp/red.md"
if [ "$(stat -c %a "$tmp/map.json")" = 600 ] && grep -q '"host-1": "esx01.lab"' "$tmp/map.json" && ! grep -q 'esx01' "$tmp/red.md"
then ok "--redact-map writes the map (mode 600); the report names host-1 only"
else bad "--redact-map: $(cat "$tmp/map.json")"; fi

# The seed's HTML report: one file, small, no script, nothing external.
"$bin" diagnose --format html -o "$tmp/seed.html" "${seed[@]}"
"$bin" diagnose --format md -o "$tmp/seed.md" "${seed[@]}"
size=$(stat -c %s "$tmp/seed.html")
if [ "$size" -lt 307200 ]; then ok "seed HTML report is $size bytes (< 300 KB)"; else bad "seed HTML report is $size bytes"; fi
if ! grep -Eqi '<script|<link|<img|<iframe|@import|url\(|src=' "$tmp/seed.html"; then ok "seed HTML: no script, link, image, import or src"
else bad "seed HTML loads something: $(grep -Eoi '<script|<link|<img|<iframe|@import|url\(|src=' "$tmp/seed.html" | head -3)"; fi

# Hostile lines: shown as text in HTML.
cat > "$tmp/xss.log" <<'EOF'
2021-10-29T19:41:29.399Z error hostd[2099349] [Originator@6876 sub=Libs] Tpm2Cmd: CreatePrimary: (0x9a2) <img src=x onerror=alert(1)>
2021-10-29T19:41:29.399Z error hostd[2099349] [Originator@6876 sub=Hostsvc.Tpm20Provider] Unable to provision default rsa endorsement key. <script>window.__pwned=1</script>
2021-10-29T19:41:29.400Z error hostd[2099349] [Originator@6876 sub=Hostsvc.Tpm20Provider] TPM failed </pre></svg>"'<script>window.__pwned=1</script>`|```
EOF
"$bin" diagnose --format html -o "$tmp/xss.html" "$tmp/xss.log"
mkdir -p "$tmp/md"
"$bin" diagnose --format md -o "$tmp/md/xss-lines.md" "$tmp/xss.log"
"$bin" diagnose --format json -o "$tmp/md/xss-lines.json" "$tmp/xss.log"
if grep -q '&lt;script&gt;window.__pwned=1&lt;/script&gt;' "$tmp/xss.html" && ! grep -q '<script' "$tmp/xss.html"; then ok "HTML escapes <script> in log lines"
else bad "HTML does not escape hostile log lines"; fi

# Markdown and JSON of every scenario, for the parser.
for d in samples/scenarios/*/; do
  n=$(basename "$d")
  "$bin" diagnose --format md -o "$tmp/md/$n.md" "$d" 2>/dev/null
  "$bin" diagnose --format json -o "$tmp/md/$n.json" "$d" 2>/dev/null
done

chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then bad "Chromium not found at $chromium (apt-get install -y chromium, or set CHROMIUM)"; finish; fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then bad "node and npm are needed"; finish; fi
if [ ! -d tests/web/node_modules/playwright-core ] || [ ! -d tests/web/node_modules/markdown-it ]; then
  echo "installing tests/web/node_modules (npm ci)..."
  if ! (cd tests/web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >/dev/null 2>&1); then
    bad "npm ci in tests/web failed (is the npm registry reachable?)"; finish
  fi
fi
out=$(CHROMIUM=$chromium timeout 120 node tests/web/report.mjs "$tmp" docs/report-seed.png 2>&1); rc=$?
printf '%s\n' "$out" | grep -v '^report: '
pass=$((pass + $(printf '%s\n' "$out" | grep -c '^ok '))); fail=$((fail + $(printf '%s\n' "$out" | grep -c '^FAIL ')))
if [ "$rc" != 0 ] && ! printf '%s\n' "$out" | grep -q '^FAIL '; then bad "report.mjs exited $rc: $(printf '%s\n' "$out" | tail -3)"; fi
finish
