#!/usr/bin/env bash
# The Debian package as a user gets it (issue 19): cpack builds it from a build
# folder, dpkg -i installs it, then the installed binary, man page and bash
# completion are checked, and dpkg -r removes it so the machine stays clean.
# Run by './tpmdiag.sh test' after the main build (not a ctest: the ASan and
# portable builds need no package).
#   tests/package.sh build
set -u
build=$(realpath "${1:?usage: package.sh BUILD-DIR}")
cd "$(dirname "$0")/.." || exit 2
if [ "$(id -u)" != 0 ]; then echo "package: SKIPPED: installing a package needs root"; exit 0; fi
if ! command -v dpkg > /dev/null; then echo "package: SKIPPED: dpkg is missing (not a Debian system)"; exit 0; fi
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass+1)); }
bad() { echo "FAIL $*"; fail=$((fail+1)); }
# Never replace what someone installed: a package, or a 'cmake --install' copy.
if dpkg-query -W -f='${Status}' tpmdiag 2>/dev/null | grep -q "installed"; then
  echo "package: FAIL: a tpmdiag package is installed already (dpkg -r tpmdiag, then run again)"; exit 1
fi
if [ -e /usr/bin/tpmdiag ]; then echo "package: FAIL: /usr/bin/tpmdiag exists and is no package's"; exit 1; fi

tmp=$(mktemp -d)
installed=
cleanup() {
  if [ -n "$installed" ]; then
    dpkg -r tpmdiag > "$tmp/remove.log" 2>&1 || { echo "FAIL dpkg -r tpmdiag:"; cat "$tmp/remove.log"; }
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

if ! (cd "$build" && cpack -G DEB -B "$tmp/out") > "$tmp/cpack.log" 2>&1; then
  cat "$tmp/cpack.log"; echo "package: FAIL: cpack"; exit 1
fi
deb=$(ls "$tmp"/out/tpmdiag_*.deb)
depends=$(dpkg-deb -f "$deb" Depends)
# Depends as dpkg-shlibdeps finds them in the binary: a library we link, and libc.
if [[ "$depends" == *libre2-* && "$depends" == *libc6* ]]; then ok "$(basename "$deb"): Depends: $depends"
else bad "Depends not from the linked libraries: '$depends'"; fi

if dpkg -i "$deb" > "$tmp/install.log" 2>&1; then installed=1; ok "dpkg -i"
else cat "$tmp/install.log"; bad "dpkg -i"; exit 1; fi

want=$("$build/tpmdiag" --version)
got=$(/usr/bin/tpmdiag --version 2>&1)
[ "$got" = "$want" ] && [ "$(command -v tpmdiag)" = /usr/bin/tpmdiag ] \
  && ok "tpmdiag --version: $got" || bad "tpmdiag --version: '$got' ($(command -v tpmdiag)), expected '$want'"

page=$(man -w tpmdiag 2>&1)
if [ "$page" = /usr/share/man/man1/tpmdiag.1 ]; then ok "man -w tpmdiag: $page"
else
  # Slim Docker images tell dpkg not to install man pages.
  excluded=$(grep -rhs "path-exclude.*/usr/share/man" /etc/dpkg/dpkg.cfg.d/ | head -1)
  bad "man -w tpmdiag: $page${excluded:+ (dpkg is told: $excluded)}"
fi
man -l "$page" 2>/dev/null | grep -q -- "--max-decompressed" \
  && ok "the man page lists the options" || bad "the man page does not render or lacks --max-decompressed"

# 'tpmdiag dia<TAB>' in a bash that loads the installed completion as
# bash-completion would, then calls the function 'complete' names for tpmdiag.
got=$(bash --norc --noprofile -c '
  source /usr/share/bash-completion/completions/tpmdiag || exit 1
  fn=$(complete -p tpmdiag | sed -n "s/.* -F \([^ ]*\) .*/\1/p")
  [ -n "$fn" ] || exit 1
  COMP_WORDS=(tpmdiag dia); COMP_CWORD=1; COMP_LINE="tpmdiag dia"; COMP_POINT=${#COMP_LINE}
  "$fn" tpmdiag dia tpmdiag
  echo "${COMPREPLY[*]}"' 2>&1)
[ "$got" = diagnose ] && ok "bash: 'tpmdiag dia<TAB>' completes to diagnose" || bad "bash completion of 'tpmdiag dia': '$got'"
for f in /usr/share/zsh/vendor-completions/_tpmdiag /usr/share/fish/vendor_completions.d/tpmdiag.fish \
         /usr/share/doc/tpmdiag/README.md /usr/share/doc/tpmdiag/docs/limits.md; do
  [ -s "$f" ] && ok "installed $f" || bad "missing $f"
done

dpkg -r tpmdiag > "$tmp/remove.log" 2>&1 && installed= && [ ! -e /usr/bin/tpmdiag ] \
  && ok "dpkg -r: removed again" || { cat "$tmp/remove.log"; bad "dpkg -r tpmdiag"; }
echo "package: $pass passed, $fail failed"
[ "$fail" = 0 ]
