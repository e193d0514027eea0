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

from . import gradients, pooling, tf_kernels
from ._arrays import finfo, from_channels_last, is_float_dtype, to_channels_last
from .geometry import WindowGeometry
from .ops import OpSpec
from .windows import real_window_at

__all__ = ["broadcast_windows", "eigen_shifted_geometry", "xla_scan_order"]

_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}
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


# ------------------------------------------------------- TF's gradient windows (GetBroadcastSize)


def broadcast_windows(n: int, k: int, stride: int, before: int, out: int
                      ) -> list[tuple[int, int]]:
    """``(start, size)`` of the cells each output of one axis sends its gradient to in TF's
    CPU ``AvgPoolGrad`` (Eigen path) and ``MaxPool3DGrad`` (``GetBroadcastSize``, TF 2.21):
    a window that starts in the padding is cut to start at 0, but then a window longer than
    the rest of the input is re-cut to ``min(n - start, k)`` — undoing the first cut when
    ``k > n``.

    >>> broadcast_windows(4, 5, 3, 2, 2)   # right: (0, 3), (1, 3)
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


def _broadcast_axes(g: WindowGeometry) -> list[list[tuple[int, int]]] | None:
    """Per axis, :func:`broadcast_windows` of ``g``; ``None`` where they are the windows'
    real cells (every window fits: the gradient windows are right)."""
    axes = [broadcast_windows(n, k, st, b, m) for n, k, st, (b, _), m in
            zip(g.in_spatial, g.window, g.strides, g.pads, g.out_spatial)]
    right = [[(lo, hi - lo) for _, _, lo, hi in t.tolist()] for t in g.taps]
    return None if axes == right else axes


def eigen_avg_grad(s: OpSpec, arrays: dict, scalars: dict, result, base):
    """Average pooling gradient of TF's Eigen ``AvgPoolGrad`` (1D/2D) where a "same"
    window is larger than the input: each output sends ``grad_out * (1 / size)`` to the
    cells of :func:`broadcast_windows`, added in output order as TF's loop does."""
    x_cl, gout, g, fmt = _pool_grad_args(s, arrays, scalars)
    if not is_float_dtype(x_cl.dtype):
        return None
    axes = _broadcast_axes(g)
    if axes is None:
        return None
    grad = np.zeros_like(x_cl)
    for pos in itertools.product(*(range(m) for m in g.out_spatial)):
        spans = [axes[a][o] for a, o in enumerate(pos)]
        size = int(np.prod([n for _, n in spans]))
        share = gout[(slice(None), *pos, slice(None))] * x_cl.dtype.type(1.0 / size)
        grad[(slice(None), *(slice(b, b + n) for b, n in spans), slice(None))] += \
            share[(slice(None), *(None,) * g.rank, slice(None))]
    return from_channels_last(grad, fmt)


# ------------------------------------------------------------- Eigen 3D "same", negative pad


def eigen_shifted_geometry(g: WindowGeometry) -> WindowGeometry | None:
    """The windows TF's Eigen 3D pooling reads for "same" geometry ``g``, or ``None`` where
    they are ``g``'s. Eigen pads ``total // 2`` before (C++ division, truncating) even when
    the total pad ``(out - 1) * stride + window - n`` is negative (a stride larger than the
    window): then the windows start ``-total // 2`` cells *into* the axis (registry
    ``eigen-pool3d-same-negative-pad``; a total of -1 moves nothing). The result has a
    negative pad before on those axes: read it with the loop methods (real cells only).

    >>> from pooling_ref.geometry import plan_window
    >>> eigen_shifted_geometry(plan_window((1, 3, 2), (1, 1, 2), (1, 3, 1), "same")).pads
    ((0, 0), (-1, 0), (0, 1))
    """
    pads, moved = [], False
    for n, k, st, m, pad in zip(g.in_spatial, g.window, g.strides, g.out_spatial, g.pads):
        total = (m - 1) * st + k - n
        if total <= -2:
            pads.append((-((-total) // 2), 0))
            moved = True
        else:
            pads.append(pad)
    return replace(g, pads=tuple(pads)) if moved else None


def _pool_args(s: OpSpec, arrays: dict, scalars: dict):
    a = _call(s, arrays, scalars)
    x_cl, g, fmt, _ = pooling._prepare(s.name, a["x"], a["pool_size"], a["strides"],
                                       a["padding"], a["data_format"], "loop")
    return x_cl, g, fmt


def _tf_forward(kind: str, x_cl: np.ndarray, g: WindowGeometry, path: str) -> np.ndarray:
    """TF's eager pooling of ``x_cl`` (channels_last) on ``path``: the path's rules
    (tf_kernels), on Eigen 3D over the windows Eigen reads (:func:`eigen_shifted_geometry`)."""
    g2 = (eigen_shifted_geometry(g) if path == "eigen" and g.rank == 3 else None) or g
    method = pooling._METHODS[kind]["loop"]
    rule = tf_kernels.max_pool if kind == "max" else tf_kernels.avg_pool
    return rule(x_cl, g2, lambda a: method(a, g2), path)


def eigen_negative_pad_pool(s: OpSpec, arrays: dict, scalars: dict, result, base):
    """Eigen 3D max / average pooling, "same" with a negative total pad: the shifted
    windows (:func:`eigen_shifted_geometry`)."""
    x_cl, g, fmt = _pool_args(s, arrays, scalars)
    if g.rank != 3 or eigen_shifted_geometry(g) is None or not is_float_dtype(x_cl.dtype):
        return None
    return from_channels_last(_tf_forward(s.family.removesuffix("_pool"), x_cl, g, "eigen"),
                              fmt)


# ------------------------------------------------------------------ MaxPool3DGrad (eager)


def _tf3d_grad(x_cl, gout, g, forward, axes, r) -> np.ndarray:
    """TF's eager ``MaxPool3DGrad``: each output sends its gradient to every cell of its
    gradient window (``axes``: per axis ``(start, size)``) within ``1e-5`` of TF's
    ``forward`` value, outputs in ``r.order``, sums with ``r``'s flushing."""
    grad = np.zeros_like(x_cl)
    xs = tf_kernels.daz(x_cl) if r.flush else x_cl
    zero = x_cl.dtype.type(0)
    for pos in gradients._positions(g, r.order):
        cells = tuple(slice(b, b + n) for b, n in (axes[i][o] for i, o in enumerate(pos)))
        at = (slice(None), *cells, slice(None))
        y = forward[(slice(None), *pos, slice(None))][:, None, None, None, :]
        chosen = gradients._tied(xs[at], y, "tf3d")
        share = gout[(slice(None), *pos, slice(None))][:, None, None, None, :]
        gradients._add(grad[at], np.where(chosen, share, zero), r, False)
    return grad


def _eager_max_pool3d_grad(s: OpSpec, arrays: dict, scalars: dict, path: str,
                           when: str):
    """TF's eager 3D max pooling gradient on ``path``, where ``when`` (``"window"``: the
    gradient windows of ``GetBroadcastSize`` differ from the windows' cells, a "same"
    window larger than the input; ``"shift"``: Eigen's forward reads shifted windows);
    ``None`` elsewhere."""
    x_cl, gout, g, fmt = _pool_grad_args(s, arrays, scalars)
    if g.rank != 3 or not is_float_dtype(x_cl.dtype):
        return None
    axes = _broadcast_axes(g)
    shifted = path == "eigen" and eigen_shifted_geometry(g) is not None
    if (axes is None) if when == "window" else not shifted:
        return None
    if axes is None:
        axes = [[(lo, hi - lo) for _, _, lo, hi in t.tolist()] for t in g.taps]
    forward = _tf_forward("max", x_cl, g, path)
    r = tf_kernels.grad_rules(path, "max", x_cl.dtype, g.rank)
    return from_channels_last(_tf3d_grad(x_cl, gout, g, forward, axes, r), fmt)


def max_pool3d_grad_window(s: OpSpec, arrays: dict, scalars: dict, result, base, *,
                           path: str):
    """TF's eager ``MaxPool3DGrad`` with a "same" window larger than the input: its
    gradient window (``GetBroadcastSize``) reaches cells outside the window, and every one
    of them within 1e-5 of the window's maximum receives the gradient (registry
    ``eager-max-pool3d-grad-window-larger-than-input``)."""
    return _eager_max_pool3d_grad(s, arrays, scalars, path, "window")


def eigen_negative_pad(s: OpSpec, arrays: dict, scalars: dict, result, base):
    """Registry ``eigen-pool3d-same-negative-pad``: Eigen's 3D max / average pooling over
    the shifted windows, and its max pooling gradient, which compares the right windows'
    cells with that forward."""
    if s.family == "max_pool_grad":
        return _eager_max_pool3d_grad(s, arrays, scalars, "eigen", "shift")
    return eigen_negative_pad_pool(s, arrays, scalars, result, base)


# ------------------------------------------------ Eigen 3D max pooling: NaN and zero sign


def _window_values(x_cl: np.ndarray, g: WindowGeometry, result: np.ndarray) -> np.ndarray:
    """Where ``result`` (shaped like the pooling output) equals one of its window's real
    cells."""
    found = np.zeros(result.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        for pos in itertools.product(*(range(m) for m in g.out_spatial)):
            cells = real_window_at(x_cl, pos, g)
            r = result[(slice(None), *pos, slice(None))]
            hit = cells == r[:, None, None, None, :]
            found[(slice(None), *pos, slice(None))] = hit.any(axis=(1, 2, 3))
    return found


def eigen_max_pool3d_relaxed(s: OpSpec, arrays: dict, scalars: dict, result, base, *,
                             nan: bool = True):
    """Eigen's 3D max pooling where it follows no rule (registry
    ``eigen-max-pool3d-nan-by-packet``, ``eigen-max-pool3d-zero-sign``): ``base`` (the
    Eigen rules) with ``result``'s cell taken where TF's is unspecified — a window's zero
    maximum (either sign; a subnormal there, compared as zero), and with ``nan``, a window
    holding a NaN or no number, where TF gives NaN, -inf, the lowest finite value (a
    padding cell) or one of the window's cells, whichever the SIMD packet kept. Nothing
    else is relaxed; ``None`` where nothing is."""
    x_cl, g, fmt = _pool_args(s, arrays, scalars)
    got = np.asarray(result)
    if g.rank != 3 or got.shape != np.shape(base) or got.dtype != x_cl.dtype \
            or not is_float_dtype(x_cl.dtype):
        return None
    got_cl = to_channels_last(got, fmt)
    expected = to_channels_last(np.asarray(base), fmt)
    tiny = finfo(x_cl.dtype).tiny
    with np.errstate(invalid="ignore"):
        free = (np.abs(expected) < tiny) & (np.abs(got_cl) < tiny)
        if nan:
            loop = pooling._METHODS["max"]["loop"]
            odd = (loop((x_cl > -np.inf).view(np.uint8), g) == 0) \
                | (loop(np.isnan(x_cl).view(np.uint8), g) > 0)      # no number / a NaN
            lowest = -finfo(x_cl.dtype).max
            plausible = np.isnan(got_cl) | (got_cl == -np.inf) | (got_cl == lowest) \
                | _window_values(x_cl, g, got_cl)
            nan_free = odd & plausible & (got_cl.view(_UINT[got_cl.dtype.itemsize])
                                          != expected.view(_UINT[got_cl.dtype.itemsize]))
            if not nan_free.any():
                return None                  # nothing of this entry's (zero-sign's only)
            free |= nan_free
    if not free.any():
        return None
    return from_channels_last(np.where(free, got_cl, expected).astype(x_cl.dtype), fmt)


def eigen_max_pool3d_zero_sign(s: OpSpec, arrays: dict, scalars: dict, result, base):
    """:func:`eigen_max_pool3d_relaxed` for the sign of a zero maximum only."""
    return eigen_max_pool3d_relaxed(s, arrays, scalars, result, base, nan=False)
