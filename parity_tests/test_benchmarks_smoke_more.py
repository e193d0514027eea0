"""Smoke test of the global pooling and pooling-gradient benchmark cases
(``bench_suite.MORE_CASES``): every body runs once on a tiny input, and agrees with the
Keras body of the same case (global max pooling and max pooling gradients bitwise; averages
within the ``pooling_ref.tolerance`` bounds). The Keras gradient body (a tape through the
layer) is checked against ``keras_ref.pool_grad``. No timing is asserted.
"""

from __future__ import annotations

import numpy as np
import pytest

from pooling_ref import _compiled, keras_ref
from pooling_ref.tolerance import avg_pool_grad_bound, global_avg_pool_bound

from ._assert import assert_bitwise, assert_within_bound
from .test_benchmarks_smoke import suite

pytest.importorskip("tensorflow")


@pytest.mark.parametrize("case", suite.MORE_CASES, ids=lambda c: c.id)
def test_more_benchmark_bodies_run_and_agree(case):
    small = suite.tiny(case)
    fns = suite.callables(small)
    expected = {"fast", "keras_layer", "read_pass"}
    if _compiled.AVAILABLE:
        expected.add("compiled")
    assert expected <= set(fns), sorted(fns)
    x, gout = suite.inputs(small)
    params = dict(small.params)
    results = {impl: np.asarray(fn()) for impl, fn in fns.items()}
    ref = results["keras_layer"]
    arrays = {"x": x} if gout is None else {"x": x, "grad_out": gout}
    if case.family == "pool_grad":
        kind = "Max" if case.op == "max_pool_grad" else "Average"
        assert_bitwise(ref, keras_ref.pool_grad(kind, x, gout, **params), op=case.op,
                       params=params, arrays=arrays,
                       what="the benchmark's Keras body differs from keras_ref.pool_grad")
    for impl, got in results.items():
        if impl in ("read_pass", "copy", "keras_layer"):
            continue
        what = f"benchmark impl {impl!r} of case {case.id} differs from Keras"
        if case.op in ("global_max_pool", "max_pool_grad"):
            assert_bitwise(got, ref, op=case.op, params=params, arrays=arrays, what=what)
        elif case.op == "global_avg_pool":
            assert_within_bound(got, ref, global_avg_pool_bound(x, **params), op=case.op,
                                params=params, arrays=arrays, what=what)
        else:
            assert_within_bound(got, ref, avg_pool_grad_bound(x, gout, **params),
                                op=case.op, params=params, arrays=arrays, what=what)
