"""Models of registered TensorFlow differences of pooling gradients (used by
:mod:`pooling_ref.known`; registry ``pooling_ref/data/known_differences.json``).

>>> from pooling_ref.geometry import plan_window
>>> g = plan_window((2, 3), (2, 2), (1, 1), "same")      # pads (0, 1) on both axes
>>> xla_scan_order(g)                                     # cells (0,0) (1,0) (0,1) (1,1)
(0, 2, 1, 3)
>>> xla_scan_order(plan_window((4, 4), (2, 3), (1, 1), "same"))     # row-major here
(0, 1, 2, 3, 4, 5)

Each model takes the op's :class:`~pooling_ref.ops.OpSpec`, the call's arrays and scalar
parameters, the candidate's result and the reference under the entry's path, and returns
what TensorFlow gives — or ``None`` where the entry does not apply.
"""

from __future__ import annotations

import inspect
import itertools
from dataclasses import replace

import numpy as np

from . import gradients, tf_kernels
from ._arrays import from_channels_last, is_float_dtype
from .geometry import WindowGeometry
from .ops import OpSpec

__all__ = ["eigen_avg_grad_windows", "xla_scan_order"]

#: XLA's loop emitter peels a window loop only while the loops inside it run fewer than
#: this many iterations (``EmitLoopNest``: ``cumulative_loop_size < 64``).
_PEEL_LIMIT = 64


def _call(s: OpSpec, arrays: dict, scalars: dict) -> dict:
    """Every argument of the reference call, defaults filled in, by name."""
    args, kwargs = s.split(arrays, scalars)
    bound = inspect.signature(s.reference).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def _pool_grad_args(s: OpSpec, arrays: dict, scalars: dict):
    """``(x_cl, grad_out_cl, geometry, data_format)`` of a pooling gradient call."""
    a = _call(s, arrays, scalars)
    x_cl, gout, g, fmt, _ = gradients._pool_args(
        s.name, a["x"], a["grad_out"], a["pool_size"], a["strides"], a["padding"],
        a["data_format"], "fast")
    return x_cl, gout, g, fmt


# ----------------------------------------------------------------------------- XLA scan order


def _window_loops(g: WindowGeometry) -> list[tuple[int, int, bool, bool]]:
    """XLA's loops over the window, outer to inner: ``(axis, trip count, constrained,
    peelable)`` for each axis whose window has more than one cell.

    XLA indexes window cell ``t`` of output ``o`` as ``o * stride + t - before`` with the
    constraint ``0 <= that < n``. Where the output has one position the constraint only
    bounds ``t`` (no check is left: the loop runs over the real cells); elsewhere it stays
    unless every window is whole. Peeling the last cell of an axis removes the constraint
    iff no window starts in padding and every window but the last cell is inside.
    """
    loops = []
    for axis, (n, k, st, m, (b, _)) in enumerate(zip(g.in_spatial, g.window, g.strides,
                                                      g.out_spatial, g.pads)):
        if k == 1:
            continue
        if m == 1:
            loops.append((axis, min(k - 1, n - 1 + b) - max(0, b) + 1, False, False))
            continue
        constrained = not (b == 0 and (m - 1) * st + k - 1 <= n - 1)
        peelable = constrained and b == 0 and (m - 1) * st + k - 2 <= n - 1
        loops.append((axis, k, constrained, peelable))
    return loops


def xla_scan_order(g: WindowGeometry) -> tuple[int, ...]:
    """The row-major indices of a window's cells in the order XLA CPU's max pooling
    gradient scans them (TF 2.21; registry ``xla-max-pool-grad-padded-scan-order``).

    XLA expands ``select_and_scatter`` into a variadic ``reduce_window`` (value, indices)
    and a scatter; the CPU emitter loops over the window cells row-major, skipping padding,
    except that it *peels* one loop: from the innermost window axis outwards, while the
    loops inside run fewer than 64 iterations, the first axis whose bounds check is removed
    by taking off its last cell is split into "every cell but the last" and "the last
    cell", one after the other. The scan visits every window in that order.
    """
    cumulative, peeled = 1, None
    for axis, trips, constrained, peelable in reversed(_window_loops(g)):
        if cumulative >= _PEEL_LIMIT:
            break
        cumulative *= trips
        if constrained and peelable:
            peeled = axis
            break
    cells = list(enumerate(itertools.product(*(range(k) for k in g.window))))
    if peeled is not None:
        last = g.window[peeled] - 1
        cells.sort(key=lambda ic: (ic[1][peeled] == last, ic[0]))
    return tuple(i for i, _ in cells)


def xla_scan_grad(s: OpSpec, arrays: dict, scalars: dict, result, base):
    """Max pooling gradient under XLA where its scan order is not row-major: the XLA tie
    rule (:data:`pooling_ref.tf_kernels.GRAD_RULES`) over :func:`xla_scan_order`."""
    x_cl, gout, g, fmt = _pool_grad_args(s, arrays, scalars)
    order = xla_scan_order(g)
    if order == tuple(range(g.cells)):
        return None
    r = tf_kernels.grad_rules("xla", "max", x_cl.dtype, g.rank)
    if not is_float_dtype(x_cl.dtype):
        r = replace(r, flush=False)
    grad = gradients._max_grad_fast(x_cl, gout, g, r.ties, r, scan=order)
    return from_channels_last(grad, fmt)


# ----------------------------------------------------------- Eigen AvgPoolGrad broadcast sizes


def eigen_avg_grad_windows(n: int, k: int, stride: int, before: int, out: int
                           ) -> list[tuple[int, int]]:
    """``(start, size)`` of the cells each output of one axis sends its share to in TF's
    Eigen ``AvgPoolGrad`` (``GetBroadcastSize``, TF 2.21): a window that starts in the
    padding is cut to start at 0, but then a window longer than the rest of the input is
    re-cut to ``min(n - start, k)`` — undoing the first cut when ``k > n``.

    >>> eigen_avg_grad_windows(4, 5, 3, 2, 2)   # right: (0, 3), (1, 3)
    [(0, 4), (1, 3)]
    """
    windows = []
    for o in range(out):
        start, size = o * stride - before, k
        if start < 0:
            start, size = 0, k + start
        if start + k > n:
            size = min(n - start, k)
        windows.append((start, size))
    return windows


def eigen_avg_grad(s: OpSpec, arrays: dict, scalars: dict, result, base):
    """Average pooling gradient of TF's Eigen ``AvgPoolGrad`` (1D/2D) where a "same"
    window is larger than the input: each output sends ``grad_out * (1 / size)`` to the
    cells of :func:`eigen_avg_grad_windows`, added in output order as TF's loop does."""
    x_cl, gout, g, fmt = _pool_grad_args(s, arrays, scalars)
    if g.rank == 3 or not is_float_dtype(x_cl.dtype):
        return None
    axes = [eigen_avg_grad_windows(n, k, st, b, m) for n, k, st, (b, _), m in
            zip(g.in_spatial, g.window, g.strides, g.pads, g.out_spatial)]
    right = [[(lo, hi - lo) for _, _, lo, hi in t.tolist()] for t in g.taps]
    if axes == right:
        return None
    grad = np.zeros_like(x_cl)
    for pos in itertools.product(*(range(m) for m in g.out_spatial)):
        spans = [axes[a][o] for a, o in enumerate(pos)]
        size = int(np.prod([n for _, n in spans]))
        share = gout[(slice(None), *pos, slice(None))] * x_cl.dtype.type(1.0 / size)
        grad[(slice(None), *(slice(b, b + n) for b, n in spans), slice(None))] += \
            share[(slice(None), *(None,) * g.rank, slice(None))]
    return from_channels_last(grad, fmt)
