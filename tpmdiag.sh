#!/usr/bin/env bash
# The two commands of the README, for a fresh Debian 12 machine (idempotent):
#   ./tpmdiag.sh demo   install what is missing, build, diagnose the bundled samples
#   ./tpmdiag.sh test   install what is missing, build (plain, ASan+UBSan, libFuzzer; the x86-switched files without
#                       the x86 engines), run every test
#                       (the .deb too: built, installed, checked and removed again)
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages: build tools, the chosen libraries, and what the tests drive.
PACKAGES=(
  cmake ninja-build g++ pkg-config
  libre2-dev libsimdjson-dev catch2
  libboost-program-options-dev      # also brings Boost's headers: Asio and Beast (tpmdiag serve)
  libvectorscan-dev zlib1g-dev libisal-dev libarchive-dev libsqlite3-dev
  libpq-dev                         # the fleet store in PostgreSQL (--db postgresql://...)
  tpm2-tools libtss2-dev            # tests: reference decoder for TPM response codes
)
# Only the test command needs these: real syslog clients, a browser, a fuzzing compiler.
TEST_PACKAGES=(
  bsdutils rsyslog jq python3 curl sqlite3 # live syslog end-to-end tests, API tests, store queries
  postgresql                               # the store in PostgreSQL: a server the test starts itself
  libivykis0 libnet1 libwrap0 libjson-c5   # syslog-ng's libraries (syslog-ng itself: unpack_syslog_ng)
  ripgrep                                  # the benchmark's baseline (bench/run.py --quick)
  chromium                                 # web page end-to-end test (driven by playwright-core)
  clang libfuzzer-14-dev                   # libFuzzer targets (CI runs each briefly)
  dpkg-dev file man-db                     # the .deb: cpack's Depends from the linked libraries; man -w
)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

install_missing() {  # install_missing PACKAGE...
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# syslog-ng for the relay test: Debian's syslog-ng-core conflicts with rsyslog
# (both are the system's log daemon), so it is unpacked into .deps/syslog-ng,
# not installed; tests/relay_syslog_ng.test.sh runs it from there.
unpack_syslog_ng() {
  command -v syslog-ng >/dev/null 2>&1 && return 0
  [ -x .deps/syslog-ng/usr/sbin/syslog-ng ] && return 0
  log "unpacking syslog-ng-core into .deps/syslog-ng (it cannot be installed beside rsyslog)"
  local tmp; tmp=$(mktemp -d)
  chmod 777 "$tmp"  # apt downloads as its own user
  (cd "$tmp" && apt-get download -qq syslog-ng-core) || { apt-get update -qq && (cd "$tmp" && apt-get download -qq syslog-ng-core); }
  mkdir -p .deps/syslog-ng
  dpkg-deb -x "$tmp"/syslog-ng-core_*.deb .deps/syslog-ng
  rm -rf "$tmp"
}

build() {  # build DIR [cmake options...] [-- ninja targets...]
  local dir=$1; shift
  local opts=() targets=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  [ $# -gt 0 ] && { shift; targets=("$@"); }
  log "building $dir ${targets[*]}"
  cmake -S . -B "$dir" -G Ninja -DTPMDIAG_WERROR=ON "${opts[@]}" > "$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; return 1; }
  ninja -C "$dir" "${targets[@]}"
}

# build_behind LOG STEP...: runs build steps (as `build`) behind the tests, at
# nice 19 (a test that measures time keeps its CPU), output into LOG; the
# caller waits for it with built_behind.
build_behind() {
  local log=$1; shift
  ( renice -n 19 -p "$BASHPID" >/dev/null 2>&1 || true; "$@" ) > "$log" 2>&1 &
  behind_pid=$! behind_log=$log
}
# A failing step ends the script: the build behind it ends too (the exit
# status stays the script's: nothing here may fail under set -e).
stop_behind() {
  [ -n "${behind_pid:-}" ] || return 0
  pkill -TERM -P "$behind_pid" 2>/dev/null || true
  kill "$behind_pid" 2>/dev/null || true
}
trap stop_behind EXIT
built_behind() {
  if ! wait "$behind_pid"; then
    tail -40 "$behind_log"
    log "build failed: $behind_log"
    return 1
  fi
}

fuzz_targets() {
  local f
  for f in parsers/*_fuzz.cc rules/*_fuzz.cc kb/*_fuzz.cc pipeline/*_fuzz.cc live/*_fuzz.cc; do
    [ -e "$f" ] && echo "fuzz_$(basename "$f" .cc)"
  done
}

# The builds the test command needs after the first: sanitizers; then the
# portable build and the libFuzzer targets (clang). The portable build (as on
# aarch64: Vectorscan and plain loops, no AVX code) compiles the files where
# the x86 engines are switched (rules/keyfilter.cc, rules/newlines.cc,
# common/cpu.h) and pipeline/scanner.cc above them; the Vectorscan engine
# itself is tested in the main build (unit_vectorscan).
build_asan() { build build-asan -DCMAKE_BUILD_TYPE=Debug -DTPMDIAG_SANITIZE=ON; }
build_nox86_fuzz() {
  build build-nox86 -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O0 -DTPMDIAG_X86_ENGINES=OFF -- \
    CMakeFiles/tpmdiag_rules.dir/rules/keyfilter.cc.o CMakeFiles/tpmdiag_rules.dir/rules/newlines.cc.o \
    CMakeFiles/tpmdiag_pipeline.dir/pipeline/scanner.cc.o
  log "building build-fuzz"
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang -DTPMDIAG_FUZZ=ON \
    > build-fuzz.configure.log 2>&1 || { cat build-fuzz.configure.log; return 1; }
  # shellcheck disable=SC2046
  ninja -C build-fuzz $(fuzz_targets)
}

case "${1:-}" in
  demo)
    install_missing "${PACKAGES[@]}"
    build build -DCMAKE_BUILD_TYPE=Release
    for s in samples/seed-failing samples/seed-fixed; do
      log "tpmdiag diagnose $s"
      build/tpmdiag diagnose "$s" || true
    done
    log "tpmdiag diagnose samples/seed-failing samples/seed-fixed   (failing boot, then fixed boot)"
    build/tpmdiag diagnose samples/seed-failing samples/seed-fixed || true
    ;;
  test)
    extra=()
    command -v node >/dev/null 2>&1 || extra+=(nodejs npm)
    install_missing "${PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${extra[@]}"
    unpack_syslog_ng
    build build -DCMAKE_BUILD_TYPE=Release
    # Each later build runs behind the tests of the one before (2 cores:
    # the tests leave one mostly idle).
    build_behind build-asan.log build_asan
    log "tests"
    (cd build && ctest --output-on-failure -j2)
    log "the Debian package: cpack, dpkg -i, --version, man page, bash completion, dpkg -r"
    tests/package.sh build
    log "benchmark smoke run: 64 MiB, checks findings only (the full run: BENCHMARKS.md)"
    python3 bench/run.py --tpmdiag build/tpmdiag --quick --rules-x10 auto --cache build/bench-cache
    log "waiting for the ASan+UBSan build (build-asan.log)"
    built_behind
    build_behind build-nox86-fuzz.log build_nox86_fuzz
    log "tests under ASan+UBSan"
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j2)
    log "waiting for the portable and libFuzzer builds (build-nox86-fuzz.log)"
    built_behind
    log "fuzz targets, briefly (tests/fuzz.sh 600 runs them 10 minutes each)"
    tests/fuzz.sh "${FUZZ_SECONDS:-15}" build-fuzz
    ;;
  *)
    echo "usage: ./tpmdiag.sh demo|test" >&2
    exit 2
    ;;
esac
