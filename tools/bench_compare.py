"""Time pooling_ref's pooling cases on two source trees, alternately, in one session.

    python tools/bench_compare.py OLD_TREE NEW_TREE [--rounds 5] [--impls compiled,fast]

Each round runs one subprocess per tree (``PYTHONPATH`` = the tree) that times every
pooling case of ``benchmarks/bench_suite.py`` (the README table's shapes) and prints the
best time of each; the trees alternate, so load on a shared machine hits both alike. The
result is the best time per case and tree over all rounds and the ratio new / old.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1] + "/benchmarks")
import bench_suite as bs
import pooling_ref
assert pooling_ref.__file__.startswith(sys.argv[1]), pooling_ref.__file__
out = {}
for case in bs.CASES:
    if case.family != "pooling":
        continue
    x, k = bs.inputs(case)
    for impl in sys.argv[2].split(","):
        fn = bs._pooling_ref_call(case, x, k, impl)
        fn()
        t0 = time.perf_counter(); fn(); once = time.perf_counter() - t0
        number = max(1, int(0.05 / max(once, 1e-6)))
        best = float("inf")
        for _ in range(7):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            best = min(best, (time.perf_counter() - t0) / number)
        out[f"{case.id}:{impl}"] = best
print(json.dumps(out))
"""


def _run(tree: str, impls: str) -> dict:
    env = {**os.environ, "PYTHONPATH": tree}
    done = subprocess.run([sys.executable, "-c", CHILD, tree, impls], env=env, cwd=tree,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"timing {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--impls", default="compiled")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    trees = {"old": str(Path(args.old).resolve()), "new": str(Path(args.new).resolve())}
    best: dict[str, dict[str, float]] = {"old": {}, "new": {}}
    start = time.time()
    for r in range(args.rounds):
        for name in (("old", "new") if r % 2 == 0 else ("new", "old")):
            for key, t in _run(trees[name], args.impls).items():
                best[name][key] = min(best[name].get(key, float("inf")), t)
        print(f"round {r + 1}/{args.rounds} done ({time.time() - start:.0f} s)", file=sys.stderr)
    ratios = []
    print(f"{'case:impl':40} {'old ms':>9} {'new ms':>9} {'new/old':>8}")
    for key in best["old"]:
        o, n = best["old"][key], best["new"][key]
        ratios.append(n / o)
        print(f"{key:40} {o * 1e3:9.4g} {n * 1e3:9.4g} {n / o:8.3f}")
    geo = 1.0
    for q in ratios:
        geo *= q
    print(f"geometric mean new/old {geo ** (1 / len(ratios)):.3f}; "
          f"min {min(ratios):.3f}, max {max(ratios):.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(best, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
