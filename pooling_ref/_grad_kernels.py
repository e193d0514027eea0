"""The pooling gradient kernels: the ``"loop"`` specification, the vectorised ``"fast"``
method and the compiled one, for max and average pooling.

A kernel takes the channels_last input as compared (``xs``: under the plan's ``flush``,
subnormals read as zeros), the upstream gradient, the geometry and the call's
:class:`pooling_ref.rules.GradPlan`, and returns the gradient (``None``: it cannot; the
caller runs ``"fast"``). Contributions of overlapping windows are added to a cell
starting from ``+0``, in the plan's ``order``; under the plan's ``flush`` with
:func:`pooling_ref.dtypes.flushed_add` (the one definition the compiled kernel compiles
too), and a max-pooling window adds :meth:`~pooling_ref.rules.GradPlan.unchosen_zero` to
the real cells it does not choose.

>>> import numpy as np
>>> from pooling_ref.geometry import plan_window
>>> from pooling_ref.rules import plan_grad
>>> g = plan_window((4,), (2,), (1,), "valid")
>>> x = np.float32([0, 1, 1, 0]).reshape(1, 4, 1)
>>> plan = plan_grad(None, "max", x.dtype, g, 3)
>>> max_grad_loop(x, np.ones((1, 3, 1), np.float32), g, plan)[0, :, 0]
array([0., 2., 1., 0.], dtype=float32)
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from . import _compiled, _fast
from ._pool_kernels import scan_moves, take_greater
from .dtypes import finfo, flush_subnormals, flushed_add, is_float_dtype, lowest
from .geometry import WindowGeometry, divisor_grid
from .rules import GradPlan
from .windows import (
    pad_spatial,
    padded_zeros,
    real_mask,
    real_window_at,
    shifted,
    unpad,
    window_offsets,
)

__all__ = ["TF3D_TOLERANCE", "accumulate", "avg_grad_compiled", "avg_grad_fast",
           "avg_grad_loop", "max_grad_compiled", "max_grad_fast", "max_grad_loop", "positions",
           "tied"]

#: TF's MaxPool3DGrad: a cell is "the maximum" when ``|x - max| < 1e-5`` (in x's dtype).
TF3D_TOLERANCE = 1e-5
#: Order in which a cell adds what overlapping windows send it (``GradRules.order``):
#: output positions sorted by this key (measured, TF 2.21 CPU: MaxPoolGrad and XLA
#: row-major; MaxPool3DGrad loops with the last spatial axis outermost). Matters only for
#: the last bit of sums of 3+.
_ACCUMULATION_KEY = {"row-major": lambda o: o, "last-axis-outer": lambda o: o[::-1]}


def positions(g: WindowGeometry, order: str) -> list[tuple[int, ...]]:
    """Output positions in accumulation order (see :data:`_ACCUMULATION_KEY`)."""
    return sorted(itertools.product(*(range(m) for m in g.out_spatial)),
                  key=_ACCUMULATION_KEY[order])


def _offsets(g: WindowGeometry, order: str) -> list[tuple[int, tuple[int, ...]]]:
    """``(row-major index, offset)`` of the window cells in the order that adds, at every
    input cell, in :func:`positions` order: along each axis a later output reaches a cell
    through an earlier window cell, so the order is the same key, descending."""
    cells = list(enumerate(window_offsets(g)))
    return sorted(cells, key=lambda ic: _ACCUMULATION_KEY[order](ic[1]), reverse=True)


def accumulate(target: np.ndarray, value: np.ndarray, plan: GradPlan) -> None:
    """One step of a cell's sum: ``target += value``; under ``plan.flush`` with
    :func:`pooling_ref.dtypes.flushed_add` (x86 DAZ + FTZ); with ``copy`` (no cell receives
    twice) an assignment (XLA: no addition, nothing flushed)."""
    if plan.copy:
        target[...] = value
    elif not plan.flush:
        target += value
    else:
        np.copyto(target, flushed_add(target, value, finfo(target.dtype).tiny))


def _chosen(cells: np.ndarray, ties: str) -> np.ndarray:
    """Booleans ``(N, K, C)``: which real cells ``(N, K, C)`` of one window get its gradient."""
    k = cells.shape[1]
    if k == 0:                      # a window without a real cell (dilated "same", pads)
        return np.zeros(cells.shape, dtype=bool)
    if ties in ("first", "xla"):    # start at the first real cell; move on only if greater
        best, pick = cells[:, 0].copy(), np.zeros(cells[:, 0].shape, dtype=np.intp)
        for i in range(1, k):       # ("xla": unless current >= next)
            greater = scan_moves(best, cells[:, i], ties)
            best[greater], pick[greater] = cells[:, i][greater], i
        return np.arange(k)[None, :, None] == pick[:, None, :]
    best = np.full(cells[:, 0].shape, lowest(cells.dtype), dtype=cells.dtype)
    for i in range(k):               # the forward maximum (the max pooling scan)
        take_greater(best, cells[:, i])
    return tied(cells, best[:, None, :], ties)


def tied(v: np.ndarray, maximum: np.ndarray, ties: str) -> np.ndarray:
    """Which cells count as the window's maximum: equal to it (``"all"``, ``"split"``) or,
    TF's 3D rule (``"tf3d"``), within ``1e-5`` of it in ``x``'s dtype — so near-ties share
    and an infinite maximum (``inf - inf = NaN``) sends nothing (measured, TF 2.21)."""
    if ties != "tf3d" or not is_float_dtype(v.dtype):
        return v == maximum
    with np.errstate(invalid="ignore", over="ignore"):
        return np.abs(v - maximum) < v.dtype.type(TF3D_TOLERANCE)


def _share(upstream: np.ndarray, chosen_count: np.ndarray, ties: str) -> np.ndarray:
    """What one chosen cell receives: the upstream gradient, or its equal share."""
    if ties != "split":
        return upstream
    with np.errstate(divide="ignore", invalid="ignore"):      # count 0: nothing is chosen
        return upstream / chosen_count.astype(upstream.dtype)


def max_grad_loop(xs, gout, g, plan):
    """Specification: per output position, send its gradient to the window's chosen cells
    (``xs``: the input as compared, under ``plan.flush`` with subnormals read as zeros)."""
    grad = np.zeros_like(xs)
    n, c = xs.shape[0], xs.shape[-1]
    zero = plan.unchosen_zero()
    ties = plan.ties
    for pos in positions(g, plan.order):
        cells = real_window_at(xs, pos, g)
        target = real_window_at(grad, pos, g)           # a writable view of the same cells
        chosen = _chosen(cells.reshape(n, math.prod(cells.shape[1:-1]), c), ties)
        share = _share(gout[(slice(None), *pos, slice(None))], chosen.sum(axis=1), ties)
        accumulate(target, np.where(chosen, share[:, None, :], zero).reshape(target.shape), plan)
    return grad


def max_grad_fast(xs, gout, g, plan, scan=None):
    """All windows at once, one strided view per window cell; bitwise equal to the loop.
    Memory: a few arrays of the output's size (no per-cell masks are kept). ``scan`` (the
    first-maximum rules only): the row-major indices of the window cells in the order the
    scan visits them (``None``: row-major; :mod:`pooling_ref.known` passes XLA's order
    where it differs, registry ``xla-max-pool-grad-padded-scan-order``)."""
    real = real_mask(g)
    xp = pad_spatial(xs, g, 0)
    offsets = window_offsets(g)
    zero = plan.unchosen_zero()
    ties = plan.ties
    if ties in ("first", "xla"):
        best = np.zeros(gout.shape, xs.dtype)
        pick = np.full(gout.shape, -1, dtype=np.intp)
        for i in range(len(offsets)) if scan is None else scan:
            offset = offsets[i]
            v, real_v = shifted(xp, offset, g), shifted(real, offset, g)
            take = real_v & ((pick < 0) | scan_moves(best, v, ties))
            np.copyto(best, v, where=take)
            np.copyto(pick, i, where=take)
        return _scatter(xs, g, lambda i, _: np.where(pick == i, gout, zero), plan)
    fwd = _fast.max_pool(xs, g)                          # the forward maximum

    def chosen(offset):
        return shifted(real, offset, g) & tied(shifted(xp, offset, g), fwd, ties)

    count = np.zeros(gout.shape, np.int64) if ties == "split" else None
    for offset in offsets if ties == "split" else ():
        count += chosen(offset)
    share = _share(gout, count, ties)
    return _scatter(xs, g, lambda _, offset: np.where(chosen(offset), share, zero), plan)


def max_grad_compiled(xs, gout, g, plan):
    """The loop compiled with Numba (:func:`pooling_ref._compiled.pool_grad`), or ``None``
    where it has no kernel: XLA's scan and copies, half types."""
    if plan.ties == "xla" or plan.copy:
        return None
    rule, tol = ("tf3d", TF3D_TOLERANCE) if plan.ties == "tf3d" else (plan.ties, 0.0)
    return _compiled.pool_grad(xs, gout, g, rule, tol, order=plan.order, flush=plan.flush,
                               unchosen=plan.unchosen_zero())


def _scatter(x_cl: np.ndarray, g: WindowGeometry, sends, plan: GradPlan) -> np.ndarray:
    """Sum, per input cell, ``sends(i, offset)`` (what every window sends to its cell ``i``
    at ``offset``, shaped like the output) in the loop's order (:func:`accumulate`); the real
    region."""
    gp = padded_zeros(x_cl, g, x_cl.dtype)
    for i, offset in _offsets(g, plan.order):       # each cell adds in the loop's order
        accumulate(shifted(gp, offset, g), sends(i, offset), plan)
    return unpad(gp, g)


def _avg_share(gout: np.ndarray, count, plan: GradPlan) -> np.ndarray:
    """What a window sends each of its real cells: ``grad_out / count`` in the dtype
    (``count`` in the dtype too); under ``plan.flush`` a subnormal quotient is written as a
    zero of its sign (x86 FTZ) — not a division by 1, which XLA elides (its copies pass a
    subnormal ``grad_out`` through; where a share is added, the addition flushes it)."""
    share = gout / count
    return np.where(count > 1, flush_subnormals(share), share) if plan.flush else share


def avg_grad_loop(x_cl, gout, g, plan):
    """Specification: each window sends ``grad_out / count`` to each of its real cells
    (``count``: the window's divisor, :func:`~pooling_ref.geometry.divisor_grid`)."""
    grad = np.zeros_like(x_cl)
    divisors = divisor_grid(g, x_cl.dtype)
    for pos in positions(g, plan.order):
        target = real_window_at(grad, pos, g)
        count = divisors[pos]
        share = _avg_share(gout[(slice(None), *pos, slice(None))], count, plan)
        accumulate(target, np.broadcast_to(share.reshape(share.shape[0], *(1,) * g.rank,
                                                   share.shape[-1]), target.shape), plan)
    return grad


def avg_grad_fast(x_cl, gout, g, plan):
    """All windows at once; bitwise equal to the loop (same shares, same order per cell)."""
    share = _avg_share(gout, divisor_grid(g, x_cl.dtype), plan)
    real = real_mask(g)
    zero = x_cl.dtype.type(0)
    return _scatter(x_cl, g, lambda _, offset: np.where(shifted(real, offset, g), share, zero),
                    plan)


def avg_grad_compiled(x_cl, gout, g, plan):
    """The loop compiled with Numba (:func:`pooling_ref._compiled.pool_grad`), or ``None``:
    XLA's copies, half types."""
    if plan.copy:
        return None
    return _compiled.pool_grad(x_cl, gout, g, "avg", order=plan.order, flush=plan.flush)
