#!/usr/bin/env bash
# Prints pool-core's module graph (which module uses which, from the
# `crate::` paths of its non-test code) and fails if any two modules reach
# each other.
set -euo pipefail
cd "$(dirname "$0")/../pool-core/src"
python3 - <<'PY'
import os, re, sys
mods = {}
for root, _, files in os.walk('.'):
    for f in files:
        if not f.endswith('.rs'):
            continue
        path = os.path.join(root, f)[2:]
        name = path[:-3].replace('/mod', '').split('/')[0]
        if name in ('lib', '__private'):
            continue
        text = open(path).read()
        text = text.split('#[cfg(test)]\nmod tests')[0]
        # Comments (doc links included) are not uses.
        text = re.sub(r'//[^\n]*', '', text)
        used = set(re.findall(r'crate::([A-Za-z_]+)', text))
        for item in re.findall(r'use crate::\{([^}]*)\}', text):
            used |= {n.strip().split('::')[0] for n in item.split(',')}
        mods.setdefault(name, set()).update(u for u in used if u != name)
# Items re-exported at the crate root resolve to their modules.
roots = {'WorkerContext': 'context', 'BoxError': 'error', 'PanicSite': 'error',
         'PanicPayload': 'unwind', 'PoolError': 'error', 'Imap': 'imap',
         'TaskItems': 'items', 'Pool': 'pool', 'ExitValue': 'state', 'Task': 'state',
         'WorkerExit': 'state', 'WorkerInit': 'state', 'WorkerState': 'state',
         'Insights': 'insights'}
graph = {m: sorted({roots.get(u, u) for u in us} & set(mods) - {m}) for m, us in mods.items()}
for m in sorted(graph):
    print(f"{m:12} -> {', '.join(graph[m]) or '-'}")
def reach(a):
    seen, todo = set(), [a]
    while todo:
        for n in graph[todo.pop()]:
            if n not in seen:
                seen.add(n); todo.append(n)
    return seen
cycles = [(a, b) for a in graph for b in graph[a] if a in reach(b)]
if cycles:
    print('cycles:', cycles); sys.exit(1)
print('no cycles')
PY
