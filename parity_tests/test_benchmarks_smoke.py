"""Smoke test of the benchmark suite: every (case, implementation) body runs once on a tiny
version of its input, and the implementations agree (so the benchmarks time correct code).

Max pooling and zero padding must agree bitwise with the Keras layer; averages and
convolutions within ``pooling_ref.tolerance`` bounds. The convolution reference is
``keras_ref.conv`` (channels_last Keras, channels_first inputs transposed — the path that
runs on every TF CPU path; the Eigen kernels have no channels_first Conv), and the
benchmark's own Keras body is checked against it too. The roofline bodies (``x.max()``,
``x.copy()``) are checked against independent computations. No timing is asserted.
"""

from __future__ import annotations

import importlib
import os
import sys

import numpy as np
import pytest

from pooling_ref import _compiled, keras_ref
from pooling_ref.tolerance import avg_pool_bound, conv_bound

from ._assert import assert_bitwise, assert_within_bound

_BENCH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks")


def _suite():
    if _BENCH not in sys.path:
        sys.path.insert(0, _BENCH)
    return importlib.import_module("bench_suite")


suite = _suite()
pytest.importorskip("tensorflow")


@pytest.mark.parametrize("case", suite.CASES, ids=lambda c: c.id)
def test_benchmark_bodies_run_and_agree(case):
    small = suite.tiny(case)
    fns = suite.callables(small)
    expected = {"fast", "im2col", "loop", "keras_layer"}
    if case.family == "pooling" and _compiled.AVAILABLE:
        expected.add("compiled")
    assert expected <= set(fns), sorted(fns)
    results = {impl: fn() for impl, fn in fns.items()}
    x, k = suite.inputs(small)
    params = dict(small.params)
    if case.op == "conv":
        ref = keras_ref.conv(x, k, **params)
    else:
        ref = np.asarray(results["keras_layer"])
    for impl, got in results.items():
        if impl in ("read_pass", "copy"):
            continue
        got = np.asarray(got)
        what = f"benchmark impl {impl!r} of case {case.id} differs from Keras"
        if case.op in ("max_pool", "zero_pad"):
            assert_bitwise(got, ref, op=case.op, params=params, arrays={"x": x}, what=what)
        elif case.op == "avg_pool":
            assert_within_bound(got, ref, avg_pool_bound(x, **params), op=case.op,
                                params=params, arrays={"x": x}, what=what)
        else:
            assert_within_bound(got, ref, conv_bound(x, k, **params), op=case.op,
                                params=params, arrays={"x": x, "kernel": k}, what=what)
    if "read_pass" in results:               # the largest element, found independently
        assert results["read_pass"] == sorted(x.ravel().tolist())[-1]
    if "copy" in results:
        assert results["copy"] is not x and np.array_equal(results["copy"], x)
