"""Benchmarks: pooling_ref methods vs Keras (layer and keras.ops) and memory rooflines.

Each case is one pytest-benchmark group, so ``--benchmark-group-by=group`` puts every
implementation of a case side by side. Not part of the default test run.
"""

from __future__ import annotations

import pytest
from bench_suite import KERAS_NOTES, callables


def test_bench(benchmark, bench_case, impl):
    fns = callables(bench_case, (impl,))
    if impl not in fns:
        pytest.skip(f"{impl} does not apply to {bench_case.id}")
    fn = fns[impl]
    fn()              # warm-up, not timed: layer build, thread pool, Numba compile/cache load
    benchmark.group = bench_case.id
    benchmark.extra_info.update(case=bench_case.id, op=bench_case.op, impl=impl,
                                family=bench_case.family, shape=list(bench_case.shape),
                                params=repr(bench_case.params))
    note = KERAS_NOTES.get(f"{bench_case.id}:{impl}")
    if note:
        benchmark.extra_info["note"] = note
    benchmark(fn)
