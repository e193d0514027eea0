"""Flushed sums in the pooling gradients against ``tf.GradientTape``, bit for bit.

Every upstream gradient here is of subnormal size with mixed signs (multiples of ``t/2``
up to ``2t``, ``t`` float32's smallest normal; for average pooling mostly times the window's
real-cell count, so the *shares* are of that size), on geometries where windows overlap:
a cell's partial sums then pass through subnormal values, are flushed to zeros of their
sign, and the sign of the result depends on which terms come after. This is the class of
bug issue 19 found on XLA only under a random seed (a flushed ``-0`` turned into ``+0``);
these tests draw it in most examples, on every path (eager — whichever kernel path the
process runs — and XLA), for max and average pooling, ranks 1-3, every method.

The rules (``rules.GradRules``, hand-derived cases in test_gradient_flush.py):
``flushed_add`` for every addition; max pooling adds nothing to the cells a window does not
choose, except the eager 3D kernels, which add ``+0``; XLA writes instead of adding where
its graph is a copy or a broadcast. Not modelled, and allowed only where the registry lists
it: ``onednn-avg-pool-grad-subnormal-order`` and ``xla-avg-pool-grad-subnormal-order``
(oneDNN, and XLA in 2D/3D, add an average's shares in another order): there a cell may hold
the flushed sum of its shares in any order.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from hypothesis import assume, given, note
from hypothesis import strategies as st

pytest.importorskip("tensorflow")

import pooling_ref as pr
from pooling_ref import dtypes, keras_ref
from pooling_ref._verify import scan_order_sensitive
from pooling_ref.geometry import plan_window
from pooling_ref.geometry import real_count_grid as real_counts

from . import _registry as reg
from ._assert import assert_bitwise
from .test_gradient_flush import _issue_case

pytestmark = pytest.mark.parity

T = np.float32(np.finfo(np.float32).tiny)
METHODS = ("loop", "fast", None)            # None: the default ("auto": compiled with Numba)
PATHS = ("eager", "xla")
#: Upstream multiples of t: mostly the pair whose sum is a negative subnormal (-2t + 1.5t).
MAIN, OTHERS = (-2.0, 1.5), (-2.0, -1.5, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 1.5, 2.0)
MAX_SIZE = {1: 10, 2: 7, 3: 5}
#: Windows per axis: max pooling, up to 4 (3D: 3), the overlapping axis at least 3 (a cell
#: chosen by two windows and passed over by a third); average pooling 1 or 2 (1D: 4 too) —
#: real-cell counts that are powers of two, so the shares are exactly of size t.
WINDOWS = {"max": {1: (1, 2, 3, 4), 2: (1, 2, 3, 4), 3: (1, 2, 3)},
           "avg": {1: (1, 2, 4), 2: (1, 2), 3: (1, 2)}}
#: Registry entries: the path adds an average's shares in another order (not modelled).
ORDER_ENTRIES = ("onednn-avg-pool-grad-subnormal-order", "xla-avg-pool-grad-subnormal-order")


@st.composite
def flush_cases(draw, rank: int, kind: str):
    """``(x, grad_out, params)``: one axis with overlapping windows (stride 1, window from
    :data:`WINDOWS`), the others free; for average pooling sometimes a broadcast geometry
    (XLA's copy rule) instead. The shares of average pooling are exact or flushed, so they
    do not depend on how a path rounds ``grad_out / count``."""
    windows = WINDOWS[kind][rank]
    padding = draw(st.sampled_from(["valid", "same"]), label="padding")
    broadcast = kind == "avg" and draw(st.integers(0, 4), label="broadcast geometry") == 0
    overlap = draw(st.integers(0, rank - 1), label="overlap axis")
    shape, pool, strides = [], [], []
    for a in range(rank):
        if broadcast:           # untouched (window 1, stride 1) or one window over the axis
            n = draw(st.integers(1, MAX_SIZE[rank]), label=f"n{a}")
            whole = draw(st.booleans(), label=f"whole axis {a}")
            k, s = (n, n) if whole else (1, 1)
        elif a == overlap:
            least = 3 if kind == "max" else 2
            k = draw(st.sampled_from([w for w in windows if w >= least]), label=f"k{a}")
            n, s = draw(st.integers(k + 1, MAX_SIZE[rank]), label=f"n{a}"), 1
        else:
            n = draw(st.integers(1, MAX_SIZE[rank]), label=f"n{a}")
            fits = [w for w in windows if padding == "same" or w <= n]
            k = draw(st.sampled_from(fits), label=f"k{a}")
            s = draw(st.integers(1, 2), label=f"s{a}")
        shape.append(n)
        pool.append(k)
        strides.append(s)
    batch, channels = draw(st.integers(1, 2), label="batch"), draw(st.integers(1, 3),
                                                                    label="channels")
    fmt = draw(st.sampled_from(["channels_last", "channels_first"]), label="data_format")
    scaled = kind == "avg" and draw(st.integers(0, 4), label="shares of size t") > 0
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    params = {"pool_size": tuple(pool), "strides": tuple(strides), "padding": padding}
    x_cl = rng.standard_normal((batch, *shape, channels)).astype(np.float32)
    out = pr.max_pool(x_cl, **params).shape
    m = np.where(rng.random(out) < 0.85, rng.choice(MAIN, size=out), rng.choice(OTHERS, out))
    if scaled:      # shares m * t: exact only for counts that are powers of two (TF's paths
        # divide or multiply by 1/count, which rounds differently; others stay < t: flushed)
        counts = real_counts(plan_window(shape, pool, strides, padding), np.int64)
        m = m * np.where(counts & (counts - 1) == 0, counts, 1)
    g_cl = (m * float(T)).astype(np.float32)
    if fmt == "channels_first":
        x_cl, g_cl = np.moveaxis(x_cl, -1, 1).copy(), np.moveaxis(g_cl, -1, 1).copy()
    return x_cl, g_cl, {**params, "data_format": fmt}


def _kernel(path: str) -> str:
    return keras_ref.eager_path() if path == "eager" else "xla"


def _fewer_on_xla(data, path: str) -> None:
    """XLA compiles every case (~0.5 s): half the examples run on that path."""
    if path == "xla":
        assume(data.draw(st.integers(0, 1), label="xla_subsample") == 0)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("rank", [1, 2, 3])
@given(data=st.data())
def test_max_pool_grad_flushed_sums(rank, path, data):
    """Bitwise, every method, ``tf_kernel`` of the path."""
    _fewer_on_xla(data, path)
    x, g, params = data.draw(flush_cases(rank, "max"), label="case")
    if path == "xla" and params["padding"] == "same":
        assume(not scan_order_sensitive(x, params))   # registry xla-max-pool-grad-padded-...
    if path == "eager":
        assume(not reg.eigen_shifts_windows(x, params, keras_ref.eager_path()))   # forward defect
    expected = keras_ref.pool_grad("Max", x, g, **params, path=path)
    for method in METHODS:
        kw = {**params, "tf_kernel": _kernel(path)} | ({} if method is None else
                                                       {"method": method})
        got = pr.max_pool_grad(x, g, **kw)
        assert_bitwise(got, expected, op="max_pool_grad", params=kw,
                       arrays={"x": x, "grad_out": g},
                       what=f"differs from tf.GradientTape ({path})")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("rank", [1, 2, 3])
@given(data=st.data())
def test_avg_pool_grad_flushed_sums(rank, path, data):
    """Bitwise, every method, ``tf_kernel`` of the path; where the registry lists one of
    :data:`ORDER_ENTRIES` a differing cell must hold its shares' flushed sum in some other
    order."""
    _fewer_on_xla(data, path)
    x, g, params = data.draw(flush_cases(rank, "avg"), label="case")
    if path == "eager":
        assume(not reg.eigen_shifts_windows(x, params, keras_ref.eager_path()))
    expected = keras_ref.pool_grad("Average", x, g, **params, path=path)
    kernel = _kernel(path)
    for method in METHODS:
        kw = {**params, "tf_kernel": kernel} | ({} if method is None else {"method": method})
        got = pr.avg_pool_grad(x, g, **kw)
        if any(reg.applies(entry, kernel) for entry in ORDER_ENTRIES):
            got = _other_order_allowed(got, expected, g, params)
        assert_bitwise(got, expected, op="avg_pool_grad", params=kw,
                       arrays={"x": x, "grad_out": g},
                       what=f"differs from tf.GradientTape ({path})")


def _other_order_allowed(got, expected, g, params) -> np.ndarray:
    """``got`` with each differing cell replaced by TF's value where that value is the
    flushed sum of the cell's shares in some order (:data:`ORDER_ENTRIES`)."""
    cf = params["data_format"] == "channels_first"
    got_cl, exp_cl, g_cl = ((np.moveaxis(a, 1, -1) if cf else a) for a in (got, expected, g))
    geometry = plan_window(got_cl.shape[1:-1], params["pool_size"], params["strides"],
                           params["padding"])
    out = got_cl.copy()
    for idx in zip(*np.nonzero(got_cl.view(np.uint32) != exp_cl.view(np.uint32))):
        shares = _shares(g_cl, geometry, idx)
        if exp_cl[idx].view(np.uint32) in _sums_in_any_order(tuple(shares)):
            note(f"cell {idx}: TF added the shares {shares} in another order")
            out[idx] = exp_cl[idx]
    return np.moveaxis(out, -1, 1) if cf else out


def _shares(g_cl, geometry, idx) -> list[float]:
    """The shares ``grad_out / count`` (float32) that reach channels_last cell ``idx``."""
    n, *cell, c = idx
    shares = []
    for o in np.ndindex(*geometry.out_spatial):
        cells = geometry.real_cells(o)
        if all(sl.start <= i < sl.stop for sl, i in zip(cells, cell)):
            count = math.prod(sl.stop - sl.start for sl in cells)
            shares.append(float(g_cl[(n, *o, c)] / np.float32(count)))
    return shares


@functools.lru_cache(maxsize=4096)
def _sums_in_any_order(shares: tuple[float, ...]) -> frozenset[int]:
    """The float32 bits of ``+0 (+) s1 (+) s2 ...`` over every order of ``shares``, with
    ``(+)`` TF's flushed addition (``dtypes.flushed_add``)."""
    states = {(np.float32(0.0).view(np.uint32).item(), tuple(sorted(shares)))}
    for _ in shares:
        states = {(np.float32(dtypes.flushed_add(np.uint32(bits).view(np.float32),
                                                     np.float32(s), T)).view(np.uint32).item(),
                   rest[:i] + rest[i + 1:])
                  for bits, rest in states for i, s in enumerate(rest)}
    return frozenset(bits for bits, _ in states)


# ----------------------------------------------------------------------------- measured


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_issue_case_on_every_path(rank):
    """Issue 19's case (test_gradient_flush.py derives it by hand), measured: cell 5 is
    ``-0`` on XLA and on the eager 1D/2D kernels, ``+0`` on the eager 3D kernels (which add
    ``+0`` to the window cells they do not choose); ``tf_kernel`` follows each."""
    x, g, params = _issue_case(rank)
    for path in PATHS:
        tf = keras_ref.pool_grad("Max", x, g, **params, path=path).ravel()
        assert tf[5] == 0 and np.signbit(tf[5]) == (rank < 3 or path == "xla"), (path, tf)
        ours = pr.max_pool_grad(x, g, **params, tf_kernel=_kernel(path))
        assert_bitwise(ours.ravel(), tf, op="max_pool_grad", params=params,
                       arrays={"x": x, "grad_out": g})


@pytest.mark.parametrize("shape,params,broadcast", [
    ((1, 2, 1), {"pool_size": 2}, True),
    ((2, 2, 3, 2), {"pool_size": (1, 3)}, True),
    ((1, 2, 2, 2, 1), {"pool_size": 2, "padding": "same"}, True),
    ((1, 3, 1), {"pool_size": 2}, False),
    ((1, 4, 2, 1), {"pool_size": (2, 2)}, False),
])
def test_xla_avg_pool_grad_broadcast(shape, params, broadcast):
    """XLA's average-pooling gradient is a broadcast of one flushed share per window where
    every axis is untouched or one window covers it (``-t / count`` -> ``-0``, nothing
    added); elsewhere the shares are added to ``+0`` (``+0``). The eager paths add."""
    x = np.zeros(shape, np.float32)
    g = np.full(pr.avg_pool(x, **params).shape, -T, np.float32)
    for path in PATHS:
        tf = keras_ref.pool_grad("Average", x, g, **params, path=path)
        assert not tf.any() and np.signbit(tf).all() == (broadcast and path == "xla"), tf
        ours = pr.avg_pool_grad(x, g, **params, tf_kernel=_kernel(path))
        assert_bitwise(ours, tf, op="avg_pool_grad", params=params,
                       arrays={"x": x, "grad_out": g})


def test_xla_avg_pool_grad_order():
    """Registry ``xla-avg-pool-grad-subnormal-order``: x zeros (1, 3, 3, 1), pool 2, stride
    1, grad_out [[6t, -8t], [6t, 6t]]: the four windows send shares 1.5t, -2t, 1.5t, 1.5t
    (row-major) to the centre cell. Row-major with each partial sum flushed (pooling_ref,
    oneDNN, Eigen): 1.5t - 2t = -0.5t -> -0, then 1.5t, 3t. XLA adds the windows with the
    last axis outermost (1.5t, 3t, t, 2.5t): 2.5t."""
    x = np.zeros((1, 3, 3, 1), np.float32)
    g = (np.float32([[6, -8], [6, 6]]) * T).reshape(1, 2, 2, 1)
    params = {"pool_size": 2, "strides": 1}
    ours = pr.avg_pool_grad(x, g, **params, tf_kernel="xla")[0, 1, 1, 0]
    assert ours == 3 * T
    assert ours == pr.avg_pool_grad(x, g, **params, tf_kernel="eigen")[0, 1, 1, 0]
    tf = keras_ref.pool_grad("Average", x, g, **params, path="xla")[0, 1, 1, 0]
    assert tf in (3 * T, np.float32(2.5 * T)), tf
    reg.expect("xla-avg-pool-grad-subnormal-order", bool(tf != ours), "xla",
               f"the centre cell is {tf / T}t")
