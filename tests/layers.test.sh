#!/usr/bin/env bash
# Layer check (docs/architecture.md): every #include "x/..." in a product folder
# names its own folder or a layer below it. Bottom up:
#   common → parsers → rules → kb → pipeline → store | live → cli
# store and live are siblings: neither includes the other. Fuzz harnesses
# (*_fuzz.cc), tests and bench are outside the layers.
#   tests/layers.test.sh [BINARY]   (the argument is ignored: ctest passes it)
set -u
cd "$(dirname "$0")/.." || exit 2
declare -A below=(
  [common]="common"
  [parsers]="common parsers"
  [rules]="common parsers rules"
  [kb]="common parsers rules kb"
  [pipeline]="common parsers rules kb pipeline"
  [store]="common parsers rules kb pipeline store"
  [live]="common parsers rules kb pipeline live"
  [cli]="common parsers rules kb pipeline store live cli"
)
pass=0 fail=0
for layer in "${!below[@]}"; do
  for f in "$layer"/*.h "$layer"/*.cc; do
    [ -e "$f" ] || continue
    case "$f" in *_fuzz.cc) continue ;; esac
    n=0
    while IFS= read -r inc; do
      n=$((n + 1))
      target=${inc%%/*}
      [ -n "${below[$target]+x}" ] || continue  # a system or generated header
      if [[ " ${below[$layer]} " != *" $target "* ]]; then
        echo "FAIL $f includes \"$inc\": $layer may include only: ${below[$layer]}"
        fail=$((fail + 1))
      fi
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
    pass=$((pass + 1))
  done
done
# A product folder that is not a layer would escape the check.
for d in */; do
  d=${d%/}
  case "$d" in tests | bench | samples | docs | web | cmake | build*) continue ;; esac
  if ! ls "$d"/*.cc "$d"/*.h >/dev/null 2>&1; then continue; fi
  if [ -z "${below[$d]+x}" ]; then echo "FAIL folder $d holds C++ but is no layer in tests/layers.test.sh"; fail=$((fail + 1)); fi
done
echo "layers: $pass passed, $fail failed"
[ "$fail" = 0 ]
