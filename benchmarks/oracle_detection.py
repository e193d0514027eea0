"""Detection figures of the oracle: how early ``check`` catches each wrong candidate.

For every wrong candidate of ``parity_tests/wrong_impls.py`` and every op where its defect
can show, runs the default ``check`` (plus the entry's own options) for seeds 0-9 with
``fail_fast=True, shrink_failures=False`` and records the index of the first failing case.
Prints a Markdown table: per candidate the worst (largest) first-failing index over ops and
seeds, the op and seed where it happened, and any (op, seed) the oracle missed.

    python benchmarks/oracle_detection.py [--cases 100] [--names NAME ...] [--json FILE]

Not a test: the pass/fail assertions live in ``parity_tests/test_oracle_catalogue.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from parity_tests.wrong_impls import CATALOGUE
from pooling_ref import check


def first_failures(name: str, cases: int = 100, seeds=range(10)) -> dict:
    """``{op: {seed: first failing case index or None (missed)}}`` for one wrong candidate."""
    entry = CATALOGUE[name]
    out: dict = {}
    for op in entry.ops:
        out[op] = {}
        for seed in seeds:
            report = check(entry.func, op, cases=cases, seed=seed, fail_fast=True,
                           shrink_failures=False, **entry.check_kwargs)
            out[op][seed] = report.failures[0].case_index if report.failures else None
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--names", nargs="*", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    names = args.names or [n for n, e in CATALOGUE.items() if not e.correct]
    results: dict = {}
    print("| candidate | ops | worst first-failing case (op, seed) | missed (op: seeds) | s |")
    print("|---|---|---|---|---|")
    for name in names:
        t0 = time.perf_counter()
        res = results[name] = first_failures(name, args.cases)
        found = [(i, op, s) for op, per in res.items() for s, i in per.items() if i is not None]
        missed = {op: [s for s, i in per.items() if i is None] for op, per in res.items()}
        missed = {op: s for op, s in missed.items() if s}
        worst = max(found) if found else None
        worst_txt = f"{worst[0]} ({worst[1]}, seed {worst[2]})" if worst else "-"
        missed_txt = "; ".join(f"{op}: {s}" for op, s in missed.items()) or "none"
        ops = CATALOGUE[name].ops
        ops_txt = f"{ops[0][:-2]}{{{','.join(op[-2] for op in ops)}}}d"
        seconds = time.perf_counter() - t0
        print(f"| {name} | {ops_txt} | {worst_txt} | {missed_txt} | {seconds:.1f} |",
              flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
