"""The compiled pooling gradients (Numba) are bitwise the "loop" specification.

``max_pool_grad`` for every ``ties=`` rule (``None`` = TF's rule for the rank: "first" for
1D/2D, ``|x - max| < 1e-5`` for 3D; "first", "all", "split") and ``avg_pool_grad``, on the
Hypothesis pooling cases (all ranks, both formats, "same" padding, overlapping windows,
ties and signed zeros) in float32/float64 and integers, with NaN, infinities, subnormals
and the largest finite values sprinkled in, and upstream gradients of mixed scales (so a
different summation order at a cell covered by several windows changes bits). Half types
run the NumPy method (Numba has no float16): checked equal too. ``"auto"`` is
``"compiled"`` where Numba is installed.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling_ref as pr
from pooling_ref import _compiled

from ._assert import assert_bitwise
from .strategies import pool_cases
from .test_fast_paths import _dtype, special_values

pytestmark = pytest.mark.skipif(
    not _compiled.AVAILABLE,
    reason="Numba not available (not installed, or POOLING_REF_DISABLE_NUMBA set)")

DTYPES = ("float32", "float64", "int32", "int8", "float16", "bfloat16")


def _sprinkle(x: np.ndarray, rng: np.random.Generator, hits: int) -> np.ndarray:
    if not hits or not x.size or x.dtype.kind in "iu":
        return x
    x = x.copy()
    special = special_values(x.dtype)
    flat = x.reshape(-1)
    for i in rng.integers(0, flat.size, size=hits):
        flat[i] = special[rng.integers(0, special.size)]
    return x


def _upstream(shape, dtype: np.dtype, rng: np.random.Generator) -> np.ndarray:
    if dtype.kind in "iu":
        return rng.integers(-5, 6, size=shape).astype(dtype)
    return (rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4, size=shape)).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_compiled_pool_grads_are_the_loop(dtype, data):
    dt = _dtype(dtype)
    case = data.draw(pool_cases(dtypes=(dtype,)), label="case")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    x = _sprinkle(case.x, rng, data.draw(st.integers(0, 4), label="special cells"))
    if data.draw(st.booleans(), label="more channels"):
        # >= CHANNELS_INNER_MIN channels: longer channel loops (vectorised)
        axis = 1 if case.data_format == "channels_first" else -1
        x = np.concatenate([x] * 4, axis=axis)
    with np.errstate(all="ignore"):
        gout = _upstream(pr.max_pool(x, **case.params, method="loop").shape, dt, rng)
        if dt.kind == "f" and data.draw(st.booleans(), label="upstream near the smallest normal"):
            # partial sums cross the subnormal range: the flushing rules of tf_kernel decide
            gout = (gout * np.finfo(dt).tiny * 4).astype(dt)
    gout = _sprinkle(gout, rng, data.draw(st.integers(0, 2), label="special upstream cells"))
    tf_kernel = data.draw(st.sampled_from([None, "onednn", "eigen", "xla"]), label="tf_kernel")
    kw = {**case.params, "tf_kernel": tf_kernel}
    arrays = {"x": x, "grad_out": gout}
    x_before, g_before = x.copy(), gout.copy()
    ties_rules = [None, "first", "all"] + (["split"] if dt.kind not in "iu" else [])
    with np.errstate(all="ignore"):
        for ties in ties_rules:
            want = pr.max_pool_grad(x, gout, **kw, ties=ties, method="loop")
            for method in ("compiled", "auto"):
                got = pr.max_pool_grad(x, gout, **kw, ties=ties, method=method)
                assert_bitwise(got, want, op="max_pool_grad",
                               params={**kw, "ties": ties, "method": method},
                               arrays=arrays, what=f"{method!r} differs from 'loop'")
        if dt.kind not in "iu":
            want = pr.avg_pool_grad(x, gout, **kw, method="loop")
            for method in ("compiled", "auto"):
                got = pr.avg_pool_grad(x, gout, **kw, method=method)
                assert_bitwise(got, want, op="avg_pool_grad",
                               params={**kw, "method": method}, arrays=arrays,
                               what=f"{method!r} differs from 'loop'")
    assert_bitwise(x, x_before, op="max_pool_grad", params=case.params, arrays=arrays,
                   what="mutated x")
    assert_bitwise(gout, g_before, op="max_pool_grad", params=case.params, arrays=arrays,
                   what="mutated grad_out")


def test_hand_derived_compiled_grads():
    """Hand-derived: in 1D, window 2 stride 1 over [1, 3, 3, 0] the windows pick 3 (the
    first of the tie for "first"), so cell 1 gets 1 + 1 and cell 2 gets 1 (third window);
    "split" gives the tied window [3, 3] halves; 3D uses |x - max| < 1e-5, so 1 and
    0.999999 both receive."""
    x = np.float32([1, 3, 3, 0]).reshape(1, 4, 1)
    g = np.ones((1, 3, 1), np.float32)
    got = pr.max_pool_grad(x, g, 2, strides=1, method="compiled")[0, :, 0]
    assert got.tolist() == [0.0, 2.0, 1.0, 0.0], got
    got = pr.max_pool_grad(x, g, 2, strides=1, ties="split", method="compiled")[0, :, 0]
    assert got.tolist() == [0.0, 1.5, 1.5, 0.0], got
    x3 = np.float32([1, 0.999999, -5, -5, -5, -5, -5, -5]).reshape(1, 2, 2, 2, 1)
    got = pr.max_pool_grad(x3, np.ones((1, 1, 1, 1, 1), np.float32), 2, method="compiled")
    assert got.ravel().tolist() == [1, 1, 0, 0, 0, 0, 0, 0], got.ravel()
    got = pr.avg_pool_grad(np.zeros((1, 3, 1), np.float32), np.float32([[[3.0], [4.0]]]), 2,
                           padding="same", method="compiled")[0, :, 0]
    assert got.tolist() == [1.5, 1.5, 4.0], got                 # windows of 2, then 1 cell
