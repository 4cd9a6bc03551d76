#!/usr/bin/env python3
"""Make a directory of rule-file variants that multiplies the rule count (default 10x).

  bench/gen_rules_x10.py --rules rules --out /tmp/rules-x10 [--factor 10]

Reads every rules/*.json (schema: {"family": ..., "rules": [{"id": ..., "pattern": ..., ...}]})
and writes FACTOR-1 variant files per family, so that the embedded rules plus the variants
(`tpmdiag diagnose --rules OUT`) are FACTOR x the original count.  Each variant:

  * gets a new family name (`<family>_x10_<k>`) and new rule ids (`<id>_x10_<k>`) so it adds
    to the embedded rules instead of overriding them;
  * has a pattern that differs only slightly: one literal word of length >= 4 (outside
    character classes, escapes, group names and counted repetitions) gets its middle letter
    replaced by `~<k>` -- e.g. `CreatePrimary` -> `Creat~3rimary`.  Real ESXi lines never
    contain such a word, so variants never match, while their literals are as long and as
    many as the originals' (the prefilter has to carry them all);
  * has the same substitution applied to every other string of the rule (samples, when/unless
    conditions, texts; not id/fact/source/severity/role/window), so positive samples still
    match the variant and negative ones still do not;
  * the word must be one every match needs (not inside an alternation or an optional group);
    patterns without one become `tpmdiagx10never~<k> .*?(?:<pattern>)` (samples get the same
    prefix) instead.

With --check-corpus FILE, every variant pattern that Python's `re` can compile (after `(?<name>`
-> `(?P<name>`) is run over the first 64 MiB of FILE and must match nothing: all at once with
`rg` (seconds), and with Python's `re` one by one (minutes) only to name the ones that match, or
where rg is missing.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import sys

SAMPLE_KEY = re.compile(r"(sample|example|match|^tests?$|^lines?$|^positive|^negative|^ok$|^bad$|^good$)", re.I)


def required_words(pattern: str):
    """(start, end) of alphabetic runs (length >= 4) that every match of `pattern` must contain
    literally: outside character classes, escapes, group syntax and counted repetitions, and
    not inside an alternation or an optional group.  A quantifier right after a run applies
    to its last letter only, which is never the one we change."""
    n = len(pattern)
    i = 0
    in_class = False
    stack = []                # open groups: [start, has_alt]
    groups = []               # closed groups: (start, end, has_alt, optional)
    top_alt = False
    runs = []
    run_start = None

    def close(j):
        nonlocal run_start
        if run_start is not None and j - run_start >= 4:
            runs.append((run_start, j))
        run_start = None

    while i < n:
        c = pattern[i]
        if c == "\\":
            close(i)
            nxt = pattern[i + 1:i + 2]
            i += 2
            if nxt in ("p", "P") and pattern[i:i + 1] == "{":
                j = pattern.find("}", i)
                i = j + 1 if j >= 0 else n
            elif nxt == "x" and pattern[i:i + 1] == "{":
                j = pattern.find("}", i)
                i = j + 1 if j >= 0 else n
            elif nxt == "x":
                i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            i += 1
            continue
        if c == "[":
            close(i)
            in_class = True
            i += 1
            if pattern[i:i + 1] == "^":
                i += 1
            if pattern[i:i + 1] == "]":
                i += 1
            continue
        if c == "(":
            close(i)
            stack.append([i, False])
            m = re.match(r"\(\?(P?<[A-Za-z_]\w*>|P=\w+\)|[a-zA-Z-]*[:)])", pattern[i:])
            if m and m.group(0).endswith(")") and not m.group(0).startswith("(?P<"):
                stack.pop()               # a flag group like (?i): not a real group
            i += m.end() if m else 1
            continue
        if c == ")":
            close(i)
            if stack:
                st, alt = stack.pop()
                q = pattern[i + 1:i + 2]
                optional = q in ("?", "*") or bool(re.match(r"\{0*,|\{0+\}", pattern[i + 1:i + 6]))
                groups.append((st, i, alt, optional))
            i += 1
            continue
        if c == "|":
            close(i)
            if stack:
                stack[-1][1] = True
            else:
                top_alt = True
            i += 1
            continue
        if c == "{":
            close(i)
            j = pattern.find("}", i)
            i = j + 1 if j >= 0 else n
            continue
        if c.isalpha():
            if run_start is None:
                run_start = i
            i += 1
            continue
        close(i)
        i += 1
    close(n)
    if top_alt:
        return []
    return [(s, e) for s, e in runs
            if not any(gs < s and e <= ge and (alt or opt) for gs, ge, alt, opt in groups)]


# keys copied unchanged; every other value (samples, when/unless conditions, texts) gets the
# same word substitution as the pattern, so the variant stays self-consistent
KEEP_KEYS = ("id", "pattern", "fact", "source", "severity", "role", "window")


def all_strings(obj):
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, list):
        return [s for x in obj for s in all_strings(x)]
    if isinstance(obj, dict):
        return [s for x in obj.values() for s in all_strings(x)]
    return []


def mutate_word(word: str, k: int) -> str:
    m = len(word) // 2
    return word[:m] + f"~{k}" + word[m + 1:]


def transform_samples(obj, old: str, new: str):
    if isinstance(obj, str):
        return obj.replace(old, new)
    if isinstance(obj, list):
        return [transform_samples(x, old, new) for x in obj]
    if isinstance(obj, dict):
        return {key: transform_samples(v, old, new) for key, v in obj.items()}
    return obj


def variant(rule: dict, k: int) -> dict:
    v = json.loads(json.dumps(rule))
    v["id"] = f"{rule['id']}_x10_{k}"
    pat = rule.get("pattern", "")
    words = required_words(pat)
    sample_texts = []
    for key in v:
        if SAMPLE_KEY.search(key):
            sample_texts.extend(all_strings(v[key]))
    # the longest literal word (prefilters usually pick long literals) that occurs once in the
    # pattern and at most once in every sample, so that one textual substitution keeps the
    # samples consistent with the pattern
    words.sort(key=lambda se: (-(se[1] - se[0]), se[0]))
    pick = None
    for s, e in words:
        w = pat[s:e]
        if pat.count(w) == 1 and all(t.count(w) <= 1 for t in sample_texts):
            pick = (s, e)
            break
    if pick:
        s, e = pick
        old = pat[s:e]
        new = mutate_word(old, k)
        v["pattern"] = pat[:s] + new + pat[e:]
        for key in list(v):
            if key not in KEEP_KEYS:
                v[key] = transform_samples(v[key], old, new)
    else:
        prefix = f"tpmdiagx10never~{k} "
        m = re.match(r"\(\?[a-zA-Z]+\)", pat)          # keep leading flags such as (?i) first
        flags, body = (m.group(0), pat[m.end():]) if m else ("", pat)
        if body.startswith("^"):
            v["pattern"] = flags + "^" + prefix + "(?:" + body[1:] + ")"
        else:
            v["pattern"] = flags + prefix + ".*?(?:" + body + ")"
        for key in list(v):
            if key not in ("id", "pattern") and SAMPLE_KEY.search(key):
                v[key] = _prefix_positive(v[key], prefix)
    return v


def _prefix_positive(obj, prefix):
    # without a word to mutate we cannot keep positive samples matching in general; prefix
    # every sample string (negatives stay negative: the prefix is required by the pattern)
    if isinstance(obj, str):
        return prefix + obj
    if isinstance(obj, list):
        return [_prefix_positive(x, prefix) for x in obj]
    if isinstance(obj, dict):
        return {k: (_prefix_positive(v, prefix) if k in ("line", "text", "sample") or isinstance(v, (list, dict)) else v)
                for k, v in obj.items()}
    return obj


def py_regex(pat: str):
    try:
        return re.compile(re.sub(r"\(\?<([A-Za-z_]\w*)>", r"(?P<\1>", pat))
    except re.error:
        return None


def rg_finds_none(patterns, data: bytes) -> bool:
    """True if rg ran every pattern over data and none matched; False if one
    matched, or rg is missing or refused a pattern (then Python checks)."""
    import shutil, subprocess, tempfile
    rg = shutil.which("rg")
    if not rg or not patterns:
        return False
    # rg joins the patterns into one: names of groups would clash, and a
    # pattern's inline flags must not reach the next one.
    joined = ["(?:" + re.sub(r"\(\?P<[A-Za-z_]\w*>", "(", p) + ")" for p in patterns]
    with tempfile.NamedTemporaryFile("w", suffix=".pat", delete=False) as f:
        f.write("\n".join(joined) + "\n")
        pat = f.name
    try:
        r = subprocess.run([rg, "--no-config", "-c", "-f", pat, "-"], input=data,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finally:
        os.remove(pat)
    return r.returncode == 1  # rg: 1 = no match, 0 = a match, 2 = an error


def main(argv=None):
    ap = argparse.ArgumentParser(description="Write rule variants that multiply the rule count (for the "
                                             "--rules-x10 throughput-cost benchmark). Variants never match real lines.")
    ap.add_argument("--rules", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rules"),
                    help="directory with the original *.json rule files (default: the repo's rules/)")
    ap.add_argument("--out", required=True, help="output directory (created; existing *_x10_*.json files are replaced)")
    ap.add_argument("--factor", type=int, default=10, help="total rules = factor x original (default 10)")
    ap.add_argument("--check-corpus", metavar="FILE", help="verify that no variant matches any line of FILE (first 64 MiB)")
    args = ap.parse_args(argv)
    files = sorted(glob.glob(os.path.join(args.rules, "*.json")))
    if not files:
        print(f"gen_rules_x10: error: no *.json rule files in {args.rules}", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    for old in glob.glob(os.path.join(args.out, "*_x10_*.json")):
        os.remove(old)
    n_orig = n_var = 0
    compiled = []
    for path in files:
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            print(f"gen_rules_x10: error: {path}: {e}", file=sys.stderr)
            return 2
        if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
            print(f"gen_rules_x10: skipping {path}: no \"rules\" list", file=sys.stderr)
            continue
        family = doc.get("family") or os.path.splitext(os.path.basename(path))[0]
        n_orig += len(doc["rules"])
        # A fallback rule (rules/unexplained.json) fires only where no other rule
        # does: there is one, and a copy of it is no rule the matcher scales with.
        rules = [r for r in doc["rules"] if isinstance(r, dict) and "id" in r and not r.get("fallback")]
        if not rules:
            continue
        for k in range(1, args.factor):
            out = dict(doc)
            out["family"] = f"{family}_x10_{k}"
            out["rules"] = [variant(rule, k) for rule in rules]
            n_var += len(out["rules"])
            for rule in out["rules"]:
                rx = py_regex(rule.get("pattern", ""))
                if rx is not None:
                    compiled.append((rule["id"], rx))
            name = f"{os.path.splitext(os.path.basename(path))[0]}_x10_{k}.json"
            with open(os.path.join(args.out, name), "w") as f:
                json.dump(out, f, indent=2)
                f.write("\n")
    print(f"gen_rules_x10: {n_orig} rules in {len(files)} files -> {n_var} variants in {args.out} "
          f"(total {n_orig + n_var} = {(n_orig + n_var) / max(n_orig, 1):.1f}x)", file=sys.stderr)
    if args.check_corpus:
        bad = 0
        with open(args.check_corpus, "rb") as f:
            data = f.read(64 << 20)
        # All variants at once with rg first (seconds; Python's re takes ~10
        # minutes over 64 MiB for ~900 patterns, which was most of CI's bench
        # smoke run). Python names the culprits only when rg finds a match or
        # cannot run the patterns.
        if rg_finds_none([rx.pattern for _, rx in compiled], data):
            print(f"gen_rules_x10: checked {len(compiled)} variants against {args.check_corpus} (rg): 0 matched",
                  file=sys.stderr)
            return 0
        text = data.decode("ascii", "replace")
        for rid, rx in compiled:
            m = rx.search(text)
            if m:
                bad += 1
                print(f"gen_rules_x10: variant {rid} matches the corpus: {m.group(0)[:120]!r}", file=sys.stderr)
        print(f"gen_rules_x10: checked {len(compiled)} variants against {args.check_corpus}: "
              f"{bad} matched", file=sys.stderr)
        if bad:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
