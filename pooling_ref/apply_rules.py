"""Pooling under a TF kernel path's rules: the plan fields a method's kernel does not carry
out itself, applied around it — each rule in one stage here, the NumPy form of the rule.

>>> import numpy as np
>>> from pooling_ref import methods
>>> from pooling_ref.geometry import plan_window
>>> from pooling_ref.rules import plan_pool
>>> s = float(np.finfo(np.float32).smallest_subnormal)
>>> x = np.array([s, 3 * s], np.float32).reshape(1, 2, 1)
>>> g = plan_window((2,), (2,), (2,), "valid")
>>> [float(max_pool(x, g, plan_pool(k, "max", x.dtype, g), methods.kernel("max_pool", "loop"))
...        [0, 0, 0]) / s for k in ("onednn", "eigen")]
[1.0, 0.0]

The stages of max pooling: ``copy`` (the input itself), ``flush`` (subnormal cells read as
zeros; ``"compare"``: the chosen cell's own bits kept), ``empty`` (the value of a window
without a number). Average pooling: ``copy``, ``flush`` (inputs read and the average
written), ``acc_dtype`` (the dtype summed in), ``reciprocal`` (the sum times the rounded
reciprocal of the count), ``skip_lowest``. A kernel with a ``fused`` form runs alone when
it carries out every active field (:attr:`pooling_ref.methods.Kernel.implements`).
"""

from __future__ import annotations

import numpy as np

from . import _compiled
from .dtypes import all_numbers, finfo, flush_subnormals, has_subnormal, is_float_dtype
from .geometry import WindowGeometry, divisor_grid
from .rules import GlobalPlan, PoolPlan
from .windows import pad_spatial, real_window_at, shifted, window_offsets

__all__ = ["STAGES", "avg_pool", "flush_input", "global_avg_input", "global_max_input",
           "max_pool"]

#: The plan fields each pooling op applies here (checked against :class:`PoolPlan`).
STAGES = {"max": ("copy", "flush", "empty"),
          "avg": ("copy", "flush", "acc_dtype", "reciprocal", "skip_lowest")}
assert {f for fs in STAGES.values() for f in fs} == set(PoolPlan.NEUTRAL), \
    "every PoolPlan field needs a stage in apply_rules"


def _special_cells(a: np.ndarray) -> tuple[bool, bool]:
    """``(has a subnormal, has a NaN or -inf)`` of float ``a``: one compiled pass where
    Numba is available (:func:`pooling_ref._compiled.special_cells`), else NumPy's."""
    flags = _compiled.special_cells(a)
    if flags is None:
        flags = has_subnormal(a), not all_numbers(a)
    return flags


def flush_input(a: np.ndarray) -> np.ndarray:
    """``a`` with subnormals read as zeros of their sign (the ``flush`` rule on an input or
    a result), checked in one compiled pass where Numba is available (``a`` itself if it
    has none)."""
    if not is_float_dtype(a.dtype):
        return a
    return flush_subnormals(a, _special_cells(a)[0])


def _fuses(plan: PoolPlan, kernel) -> bool:
    """Whether the kernel has a fused form that carries out every active plan field."""
    return kernel.fused is not None and plan.active() <= kernel.implements(plan)


def _fused(x_cl, g, plan, kernel):
    """The kernel's fused form if it carries out every active plan field, else ``None``."""
    return kernel.fused(x_cl, g, plan) if _fuses(plan, kernel) else None


def prepared(g: WindowGeometry, plan: PoolPlan, kernel, n: int, c: int, dtype: np.dtype,
             channels_first: bool):
    """The kernel's fused form set up once (``kernel.prepare``: ``run(a) -> out`` of
    C-contiguous inputs of ``n`` items, ``c`` channels, in their layout) where it alone
    carries out the call — the kernel implements every active plan field, so
    :func:`max_pool` and :func:`avg_pool` apply nothing around it — else ``None``."""
    if kernel.prepare is None or not _fuses(plan, kernel):   # (a copy is never fused)
        return None
    return kernel.prepare(g, plan, n, c, dtype, channels_first)


def _has_empty_window(g: WindowGeometry) -> bool:
    """Whether some window holds padding only (explicit pads as long as the window).

    >>> from pooling_ref.geometry import plan_window
    >>> [_has_empty_window(plan_window((5,), (2,), (1,), ((p, 0),))) for p in (1, 2)]
    [False, True]
    """
    return any((counts == 0).any() for counts in g.real_counts())


def _first_flushed_cell(x_cl: np.ndarray, pool) -> np.ndarray:
    """Per window, the bits of its first (row-major) zero or subnormal cell (NaN if none).

    Row-major window order is increasing spatial index, so the first such cell is the one
    with the smallest index: max pooling of ``-index`` (``-inf`` elsewhere) finds it.
    """
    n, c = x_cl.shape[0], x_cl.shape[-1]
    cells = int(np.prod(x_cl.shape[1:-1], dtype=np.int64))
    index = np.broadcast_to(np.arange(cells, dtype=np.float64).reshape(
        1, *x_cl.shape[1:-1], 1), x_cl.shape)
    with np.errstate(invalid="ignore"):
        zeroish = np.abs(x_cl) < finfo(x_cl.dtype).tiny
    first = -pool(np.where(zeroish, -index, -np.inf))
    found = (first >= 0) & (first < cells)        # a window without one gives huge / inf
    flat = x_cl.reshape(n, cells, c)
    safe = np.where(found, first, 0).astype(np.int64)
    picked = np.take_along_axis(flat, safe.reshape(n, -1, c), axis=1).reshape(first.shape)
    return np.where(found, picked, np.array(np.nan, x_cl.dtype)).astype(x_cl.dtype)


def max_pool(x_cl: np.ndarray, g: WindowGeometry, plan: PoolPlan, kernel) -> np.ndarray:
    """Max pooling of channels_last ``x_cl`` following ``plan`` with a method's ``kernel``
    (:class:`pooling_ref.methods.Kernel`: ``run(a, g)`` its max pooling, first of equal
    maxima wins, of any array shaped like ``x_cl``)."""
    pool = kernel.run
    if not plan.active():
        return pool(x_cl, g)
    if plan.copy:
        return x_cl.copy()
    out = _fused(x_cl, g, plan, kernel)
    if out is not None:
        return out
    subnormal, special = _special_cells(x_cl)           # one pass over the input
    xin = flush_subnormals(x_cl, subnormal) if plan.flush != "none" else x_cl
    out = pool(xin, g)
    if plan.flush == "compare" and xin is not x_cl:
        first = _first_flushed_cell(x_cl, lambda a: pool(a, g))
        out = np.where(out == 0, first, out).astype(out.dtype)
    elif plan.flush == "full":
        out = flush_input(out)
    if plan.empty == "-inf" and (special or _has_empty_window(g)):   # a window of
        # only NaN / -inf cells, or of no cell (explicit pads at least the window)
        has_number = pool((x_cl > -np.inf).view(np.uint8), g)
        out = np.where(has_number == 0, np.array(-np.inf, x_cl.dtype), out).astype(out.dtype)
    return out


def avg_pool(x_cl: np.ndarray, g: WindowGeometry, plan: PoolPlan, kernel) -> np.ndarray:
    """Average pooling of float ``x_cl`` following ``plan`` with a method's ``kernel``
    (``run(a, g)``: its average pooling, summing in row-major order in ``a``'s dtype)."""
    if plan.copy:
        return x_cl.copy()
    out = _fused(x_cl, g, plan, kernel) if plan.active() else None
    if out is not None:
        return out
    xin = flush_input(x_cl) if plan.flush != "none" else x_cl
    acc = plan.acc_dtype or x_cl.dtype
    if plan.reciprocal:
        sums = _window_sums(xin.astype(acc, copy=False), g)
        out = (sums * (1 / divisor_grid(g, acc)).astype(acc)).astype(x_cl.dtype, copy=False)
    else:
        out = kernel.run(xin.astype(acc, copy=False), g).astype(x_cl.dtype, copy=False)
    if plan.skip_lowest:
        out = _skip_lowest(xin, g, out)
    return flush_input(out) if plan.flush == "full" else out


def _window_sums(x_cl: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """Each window's cells summed in row-major order from +0 in ``x_cl``'s dtype (padding
    cells add +0, which changes no bits: the pooling methods' own summation order)."""
    xp = pad_spatial(x_cl, g, 0)
    total = np.zeros((x_cl.shape[0], *g.out_spatial, x_cl.shape[-1]), x_cl.dtype)
    for offset in window_offsets(g):
        total += shifted(xp, offset, g)
    return total


def _skip_lowest(x_cl: np.ndarray, g: WindowGeometry, out: np.ndarray) -> np.ndarray:
    """Recompute the windows holding the lowest finite value without such cells."""
    low = x_cl == -finfo(x_cl.dtype).max
    if not low.any():
        return out
    out = out.copy()
    n, c = x_cl.shape[0], x_cl.shape[-1]
    for pos in np.ndindex(*g.out_spatial):
        mask = real_window_at(low, pos, g).reshape(n, -1, c)
        if not mask.any():
            continue
        cells = real_window_at(x_cl, pos, g).reshape(n, -1, c)
        total = np.zeros((n, c), x_cl.dtype)
        for k in range(cells.shape[1]):
            total = np.where(mask[:, k], total, total + cells[:, k]).astype(x_cl.dtype)
        count = (~mask).sum(axis=1).astype(x_cl.dtype)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[(slice(None), *pos, slice(None))] = total / count
    return out


# ----------------------------------------------------------------------------- global


def global_max_input(a: np.ndarray, plan: GlobalPlan) -> np.ndarray:
    """The input global max pooling reduces under ``plan``: subnormals read as zeros
    (``flush``); NaN read as -inf where the path ignores it (``ignore_nan``: a channel of
    only NaN gives -inf)."""
    xin = flush_input(a) if plan.flush != "none" else a
    if plan.ignore_nan and np.isnan(xin).any():
        xin = np.where(np.isnan(xin), np.array(-np.inf, a.dtype), xin).astype(a.dtype)
    return xin


def global_avg_input(a: np.ndarray, plan: GlobalPlan) -> np.ndarray:
    """The input global average pooling sums under ``plan`` (``flush``: subnormals read as
    zeros); :func:`global_avg_output` finishes the mean."""
    return flush_input(a) if plan.flush != "none" else a


def global_avg_output(mean: np.ndarray, plan: GlobalPlan) -> np.ndarray:
    """The mean written under ``plan`` (``flush="full"``: a subnormal mean as zero)."""
    return flush_input(mean) if plan.flush == "full" else mean
