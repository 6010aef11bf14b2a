#!/usr/bin/env bash
# Compares statepool's benchmarks between this checkout and another one
# (e.g. `git worktree add ../old <commit>`), in the same run: the two take
# turns, ROUNDS times, and the script prints each benchmark's median over
# the rounds, and new/old.
#
#   scripts/bench-compare.sh ../old [FILTER] [ROUNDS]
#
# FILTER is criterion's (default: `statepool`, every statepool variant).
set -euo pipefail
cd "$(dirname "$0")/.."
old=$(cd "$1" && pwd)
new=$(pwd)
filter=${2:-statepool}
rounds=${3:-3}
out=$(mktemp -d)
for round in $(seq "$rounds"); do
    for side in old new; do
        dir=$([ "$side" = old ] && echo "$old" || echo "$new")
        (cd "$dir" && cargo bench -q --bench scheduler -- "$filter" >/dev/null 2>&1)
        mkdir -p "$out/$side/$round"
        (cd "$dir/target/criterion" && find . -path '*/new/estimates.json' -exec cp --parents {} "$out/$side/$round/" \;)
        echo "round $round: $side done" >&2
    done
done
python3 - "$out" "$rounds" <<'PY'
import json, os, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def medians(side):
    found = {}
    for r in range(1, rounds + 1):
        base = os.path.join(out, side, str(r))
        for root, _, files in os.walk(base):
            if 'estimates.json' in files and root.endswith('/new'):
                name = os.path.relpath(root, base)[:-len('/new')].lstrip('./')
                with open(os.path.join(root, 'estimates.json')) as f:
                    found.setdefault(name, []).append(json.load(f)['median']['point_estimate'])
    return {k: statistics.median(v) for k, v in found.items()}
old, new = medians('old'), medians('new')
def fmt(ns):
    for unit, scale in (('s', 1e9), ('ms', 1e6), ('µs', 1e3)):
        if ns >= scale:
            return f'{ns / scale:.3g} {unit}'
    return f'{ns:.3g} ns'
print('| benchmark | old | new | new/old |')
print('|---|---|---|---|')
for name in sorted(set(old) & set(new)):
    print(f'| {name} | {fmt(old[name])} | {fmt(new[name])} | {new[name] / old[name]:.3f} |')
PY
