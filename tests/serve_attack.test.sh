#!/usr/bin/env bash
# `tpmdiag serve` under slow and hostile clients (issue 20): slowloris, header
# floods, bodies over --max-body, a wrong Host, SIGTERM mid-diagnosis, a
# forged access-log line. The cases are in tests/serve_attack.py.
#   tests/serve_attack.test.sh build/tpmdiag [CASE...]
set -u
bin=$(realpath "${1:?usage: serve_attack.test.sh PATH-TO-tpmdiag [CASE...]}")
shift
cd "$(dirname "$0")/.." || exit 2
command -v python3 >/dev/null || { echo "FAIL python3 is needed"; echo "serve_attack: 0 passed, 1 failed"; exit 1; }
exec timeout 120 python3 tests/serve_attack.py "$bin" "$@"
