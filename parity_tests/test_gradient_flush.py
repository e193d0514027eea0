"""The sign of a flushed sum in the pooling gradients, hand-derived (no TensorFlow needed).

Under a TF kernel path (``tf_kernel="onednn" | "eigen" | "xla"``) a cell of a pooling
gradient adds what its windows send it with x86 DAZ + FTZ (``dtypes.flushed_add``): a
subnormal term is read as a zero of its sign, a subnormal partial sum is written as a zero
*of its sign*. So a sum can be ``-0``, and then it matters whether a later window adds
``+0`` to the cell (TF's 3D max-pooling gradient does: ``+0 + -0 = +0``) or adds nothing
(TF's 1D/2D max-pooling gradient and XLA's select-and-scatter). The rule was measured with
TF 2.21 (parity_tests/test_gradient_flush_keras.py); the expected values below are worked
out by hand from it. ``t`` is float32's smallest normal number.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import pooling_ref as pr
from pooling_ref import _compiled, dtypes

from ._assert import assert_bitwise

T = float(np.finfo(np.float32).tiny)
S = float(np.finfo(np.float32).smallest_subnormal)
METHODS = ["loop", "fast", pytest.param("compiled", marks=pytest.mark.skipif(
    not _compiled.AVAILABLE, reason="Numba not available")), "auto"]

#: The case of issue 19: x (1, 1, 8, 1), pool (1, 4), strides (2, 1) (spatial (1, 8)).
X8 = np.float32([0.1885192, -0.6331941, -0.3775635, -1.0911461, -1.2776802, 0.6304115,
                 0.5811658, 1.2945588])
G5 = np.float32([1.5, -2, -2, 1.5, -2]) * np.float32(T)
#: Cell 5 holds -0 (1D/2D, XLA: nothing more is added) or +0 (eager 3D: +0 is added).
FLUSHED_KEEPS_SIGN = np.float32([1.5 * T, 0, -2 * T, 0, 0, -0.0, 0, -2 * T])
PLUS_ZERO_ADDED = np.float32([1.5 * T, 0, -2 * T, 0, 0, 0.0, 0, -2 * T])
IEEE = np.float32([1.5 * T, 0, -2 * T, 0, 0, -0.5 * T, 0, -2 * T])


def _issue_case(rank: int):
    """The issue's values along the last spatial axis of a rank-``rank`` input."""
    x = X8.reshape(1, *(1,) * (rank - 1), 8, 1)
    g = G5.reshape(1, *(1,) * (rank - 1), 5, 1)
    window = (*(1,) * (rank - 1), 4)
    strides = (*(2,) * (rank - 1), 1)
    return x, g, {"pool_size": window, "strides": strides}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("tf_kernel", ["onednn", "eigen", "xla", None])
def test_flushed_sum_keeps_its_sign(tf_kernel, rank, method):
    """Hand derivation. The windows (stride 1 along the last axis, 4 cells) are cells 0-3,
    1-4, 2-5, 3-6, 4-7; their maxima are cells 0 (0.1885192), 2 (-0.3775635), 5
    (0.6304115), 5 and 7 (1.2945588). Cell 5 receives from windows 2 and 3:
    ``+0 + (-2t) = -2t`` (normal), then ``-2t + 1.5t = -0.5t``, subnormal: flushed to
    ``-0`` (FTZ keeps the sign). Window 4 holds cell 5 but picks cell 7:

    * 1D/2D on every path, and XLA in 3D, add nothing to an unchosen cell: ``-0`` stays;
    * the eager 3D kernels (oneDNN / Eigen: TF's MaxPool3DGrad) add ``+0`` to every real
      cell of the window that is not chosen: ``-0 + +0 = +0``;
    * ``tf_kernel=None`` (IEEE) keeps ``-0.5t``.

    Cells 0, 2 and 7 receive one normal value each; the others nothing (+0).
    """
    x, g, params = _issue_case(rank)
    got = pr.max_pool_grad(x, g, **params, method=method, tf_kernel=tf_kernel)
    if tf_kernel is None:
        want = IEEE
    elif rank == 3 and tf_kernel != "xla":
        want = PLUS_ZERO_ADDED
    else:
        want = FLUSHED_KEEPS_SIGN
    assert_bitwise(got.ravel(), want, op="max_pool_grad",
                   params={**params, "method": method, "tf_kernel": tf_kernel},
                   arrays={"x": x, "grad_out": g}, what="differs from the hand-derived rule")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_flushed_sum_sign_channels_and_batch(method, data_format):
    """The same rule per channel and batch item (1D, pool 4, stride 1). Channel 0 is the
    issue's case; channel 1 has the same x and the upstream negated, so cell 5 receives
    ``+2t`` then ``-1.5t``: ``0.5t``, flushed to ``+0``; cells 0, 2, 7 get -1.5t, 2t, 2t."""
    x, g, _ = _issue_case(1)
    x2 = np.concatenate([np.concatenate([x, x], axis=-1)] * 2)              # (2, 8, 2)
    g2 = np.concatenate([np.concatenate([g, -g], axis=-1)] * 2)
    negated = np.float32([-1.5 * T, 0, 2 * T, 0, 0, 0.0, 0, 2 * T])
    want = np.stack([FLUSHED_KEEPS_SIGN, negated], axis=-1)                # (8, 2)
    if data_format == "channels_first":
        x2, g2 = np.moveaxis(x2, -1, 1).copy(), np.moveaxis(g2, -1, 1).copy()
        want = np.moveaxis(want, -1, 0)
    got = pr.max_pool_grad(x2, g2, 4, strides=1, data_format=data_format, method=method)
    for b in range(2):
        assert_bitwise(got[b], want, op="max_pool_grad",
                       params={"pool_size": 4, "strides": 1, "data_format": data_format,
                               "method": method},
                       arrays={"x": x2, "grad_out": g2})


@pytest.mark.parametrize("total,addend,want", [
    (0.0, -2 * T, -2 * T),           # a normal term is added as it is
    (-2 * T, 1.5 * T, -0.0),         # a subnormal sum is written as a zero of its sign
    (2 * T, -1.5 * T, 0.0),
    (0.0, -0.5 * T, 0.0),            # a subnormal term is read as -0: +0 + -0 = +0
    (-0.0, -3 * S, -0.0),            # -0 + -0 = -0
    (-0.0, 0.0, 0.0),                # -0 + +0 = +0 (what the eager 3D kernels add)
    (T, -0.0, T),
    (-0.0, -0.0, -0.0),              # adding -0 changes nothing, -0 included
    (np.inf, -0.5 * T, np.inf),
    (np.nan, 0.0, np.nan),
])
def test_flushed_add(total, addend, want):
    """``dtypes.flushed_add`` on float32 scalars and arrays, worked out by hand."""
    t32 = np.float32(T)
    got = dtypes.flushed_add(np.float32(total), np.float32(addend), t32)
    arr = dtypes.flushed_add(np.float32([total]), np.float32([addend]), t32)
    for value in (np.float32(got), arr[0]):
        assert np.asarray(value).dtype == np.float32
        assert_bitwise(np.float32([value]), np.float32([want]), op="flushed_add",
                       params={}, arrays={"total": np.float32([total]),
                                          "addend": np.float32([addend])})


def test_flush_subnormals_keeps_signs_and_raises_no_warning():
    """``dtypes.flush_subnormals`` (DAZ on the input): a subnormal becomes a zero of its
    sign; zeros, the smallest normal, NaN and infinities stay as they are. Zeros next to
    subnormals are the case where a flush could divide by zero or compare NaN: it must not
    warn (a user running with ``-W error`` would see the reference fail)."""
    x = np.float32([0.0, -0.0, 1e-45, -1e-45, T, -T, np.nan, -np.inf])
    want = np.float32([0.0, -0.0, 0.0, -0.0, T, -T, np.nan, -np.inf])
    before = x.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = dtypes.flush_subnormals(x)
    assert_bitwise(got, want, op="flush_subnormals", params={}, arrays={"x": x})
    assert_bitwise(x, before, op="flush_subnormals", params={}, arrays={"x": x},
                   what="changed its input")


@pytest.mark.skipif(not _compiled.AVAILABLE, reason="Numba not available")
def test_compiled_kernel_compiles_the_same_rule():
    """One definition: the compiled gradient kernel's flushed add is ``flushed_add``."""
    assert _compiled._grad._add_flushed.py_func is dtypes.flushed_add


@pytest.mark.parametrize("method", METHODS)
def test_xla_single_element_copy_leaves_unchosen_cells_plus_zero(method):
    """XLA copies a single ``grad_out`` element to the chosen cell (no addition, nothing
    flushed, ``-0`` kept); the other cells receive nothing and keep ``+0``. x = [-1.23,
    1.46, -0.27], pool 3: the maximum is cell 1."""
    x = np.float32([-1.23, 1.46, -0.27]).reshape(1, 3, 1)
    for up, mid in ((-T, -T), (-0.0, -0.0), (-0.5 * T, -0.5 * T)):
        g = np.float32([up]).reshape(1, 1, 1)
        got = pr.max_pool_grad(x, g, 3, method=method, tf_kernel="xla")
        assert_bitwise(got.ravel(), np.float32([0.0, mid, 0.0]), op="max_pool_grad",
                       params={"pool_size": 3, "tf_kernel": "xla", "method": method},
                       arrays={"x": x, "grad_out": g})


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape,params,xla,eager,covered", [
    # one window over both cells: each receives -t / 2 = -0.5t, flushed to -0. XLA writes
    # that share (a broadcast, nothing added); the eager paths add it to +0: +0.
    ((1, 2, 1), {"pool_size": 2}, [-0.0, -0.0], [0.0, 0.0], [1, 1]),
    # axis 0 untouched (window 1, stride 1), axis 1 one window of 3: a broadcast again
    ((1, 2, 3, 1), {"pool_size": (1, 3)}, [-0.0] * 6, [0.0] * 6, [1] * 6),
    # one window over cells 0-1, cell 2 in none: XLA adds (a padded reduce-window): +0
    ((1, 3, 1), {"pool_size": 2}, [0.0] * 3, [0.0] * 3, [1, 1, 0]),
    # two windows that share no cell: XLA adds too
    ((1, 4, 1), {"pool_size": 2}, [0.0] * 4, [0.0] * 4, [1] * 4),
])
def test_avg_pool_grad_flushed_share(method, shape, params, xla, eager, covered):
    """Average pooling: each window sends ``grad_out / count`` to its real cells; a
    subnormal share is flushed with its sign. Upstream ``-t`` everywhere; ``tf_kernel=None``
    keeps the share ``-t / count`` on every ``covered`` cell (+0 elsewhere)."""
    x = np.zeros(shape, np.float32)
    g = np.full(pr.avg_pool(x, **params).shape, -T, np.float32)
    share = np.float32(-T) / np.float32(np.prod(params["pool_size"]))
    ieee = np.where(np.array(covered, bool), share, np.float32(0))
    for tf_kernel, want in (("xla", xla), ("onednn", eager), ("eigen", eager), (None, ieee)):
        got = pr.avg_pool_grad(x, g, **params, method=method, tf_kernel=tf_kernel)
        assert_bitwise(got.ravel(), np.float32(want), op="avg_pool_grad",
                       params={**params, "method": method, "tf_kernel": tf_kernel},
                       arrays={"x": x, "grad_out": g}, what="differs from the hand-derived rule")
