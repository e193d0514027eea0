"""Detection figures of the oracle on the gradient ops (issue 11), and the time it takes.

For every wrong backward pass of ``parity_tests/wrong_grad_impls.py`` (``WRONG_GRAD``) and
every op where its mistake can show, runs the default ``check`` for seeds 0-9 with
``fail_fast=True, shrink_failures=False`` and records the index of the first failing case;
then times the default ``check`` (100 cases, shrinking on) of the reference itself on each
gradient op. Prints two Markdown tables.

    python benchmarks/oracle_grad_detection.py [--seeds 10] [--json FILE]

Not a test: the assertions live in ``parity_tests/test_oracle_gradients.py``. Times are
wall-clock on whatever else the machine is doing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from parity_tests.wrong_grad_impls import WRONG_GRAD
from pooling_ref import check
from pooling_ref.ops import OPS, is_gradient, spec


def first_failing(func, op: str, seeds) -> list[int | None]:
    """Per seed, the index of the first case of ``op`` on which ``func`` fails (None: missed)."""
    out = []
    for seed in seeds:
        report = check(func, op, seed=seed, fail_fast=True, shrink_failures=False)
        out.append(report.failures[0].case_index if report.failures else None)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    seeds = range(args.seeds)
    results: dict = {"detection": {}, "seconds_per_check": {}}
    print("| mutant | op | worst first-failing case | median | missed seeds |")
    print("|---|---|---|---|---|")
    for name, (func, ops) in WRONG_GRAD.items():
        for op in ops:
            found = first_failing(func, op, seeds)
            results["detection"][f"{name} {op}"] = found
            hits = [i for i in found if i is not None]
            missed = [s for s, i in zip(seeds, found) if i is None]
            print(f"| {name} | {op} | {max(hits) if hits else '-'} | "
                  f"{statistics.median(hits) if hits else '-'} | {missed or 'none'} |",
                  flush=True)
    print("\n| op | seconds per default check (reference, 100 cases) |\n|---|---|")
    for op in (o for o in OPS if is_gradient(spec(o))):
        t0 = time.perf_counter()
        assert check(spec(op).reference, op).passed
        seconds = results["seconds_per_check"][op] = round(time.perf_counter() - t0, 2)
        print(f"| {op} | {seconds:.2f} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
