#!/usr/bin/env bash
# End-to-end test of the web page (tpmdiag serve, issue 10) in Debian's
# headless Chromium, driven by playwright-core (tests/web/e2e.mjs).
#   tests/web.test.sh build/tpmdiag
# Needs: node + npm (playwright-core is installed into tests/web/node_modules
# from tests/web/package-lock.json when missing) and Debian's chromium at
# /usr/bin/chromium (or $CHROMIUM); never downloads a browser.
# Screenshots: BUILD/web-seed.png, BUILD/web-seed-dark.png (BUILD = the folder
# of the binary), copied to docs/web-seed.png for the README.
set -u
bin=$(realpath "${1:?usage: web.test.sh PATH-TO-tpmdiag}")
cd "$(dirname "$0")/.." || exit 2
build=$(dirname "$bin")
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass+1)); }
bad() { echo "FAIL $*"; fail=$((fail+1)); }
finish() { echo "web: $pass passed, $fail failed"; [ "$fail" = 0 ]; exit $?; }

chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  bad "Chromium not found at $chromium: install Debian's package (apt-get install -y chromium) or set CHROMIUM"
  finish
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  bad "node and npm are needed (apt-get install -y nodejs npm)"
  finish
fi
if [ ! -d tests/web/node_modules/playwright-core ]; then
  echo "installing playwright-core into tests/web/node_modules (npm ci)..."
  if ! (cd tests/web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >/dev/null 2>&1); then
    bad "npm ci in tests/web failed (is the npm registry reachable?)"
    finish
  fi
fi

log=$(mktemp)
# A fixed report time, so the downloaded HTML report equals the CLI's (e2e-report.mjs).
export SOURCE_DATE_EPOCH=1700000000
"$bin" serve --listen 127.0.0.1:0 --quiet 2>"$log" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -f "$log"' EXIT
url=
for _ in $(seq 100); do
  url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$log" | head -1)
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$url" ]; then
  bad "server did not start: $(cat "$log")"
  finish
fi
ok "server listening on $url"

# run_node SCRIPT ARGS...: a browser test's ok/FAIL lines counted here.
run_node() {
  local script=$1 out rc n_pass n_fail; shift
  out=$(CHROMIUM=$chromium timeout 90 node "$script" "$@" 2>&1)
  rc=$?
  printf '%s\n' "$out" | grep -Ev '^[a-z0-9-]+: [0-9]+ passed, [0-9]+ failed'
  n_pass=$(printf '%s\n' "$out" | grep -c '^ok ')
  n_fail=$(printf '%s\n' "$out" | grep -c '^FAIL ')
  pass=$((pass + n_pass)); fail=$((fail + n_fail))
  if [ "$rc" != 0 ] && [ "$n_fail" = 0 ]; then bad "$script exited $rc: $(printf '%s\n' "$out" | tail -5)"; fi
}
run_node tests/web/e2e.mjs "$url" "$build" docs/web-seed.png
# The page's case-report parts: timeline strip, Redact, Download report (HTML), print.
run_node tests/web/e2e-report.mjs "$url" "$bin"

# The server is still up and answering after the run, then stops cleanly.
if curl -fsS "${url}healthz" >/dev/null; then ok "server healthy after the run"; else bad "server not answering after the run"; fi
kill -TERM "$server"
if wait "$server"; then ok "server stops cleanly on SIGTERM (exit 0)"; else bad "server exit status $? on SIGTERM"; fi
trap 'rm -f "$log"' EXIT
finish
