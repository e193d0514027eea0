"""Models of registered TensorFlow differences of pooling gradients (used by
:mod:`pooling_ref.known`; registry ``pooling_ref/data/known_differences.json``).

>>> import numpy as np
>>> from pooling_ref.geometry import plan_window
>>> g = plan_window((2, 3), (2, 2), (1, 1), "same")      # pads (0, 1) on both axes
>>> xla_scan_order(g)                                     # cells (0,0) (1,0) (0,1) (1,1)
(0, 2, 1, 3)
>>> xla_scan_order(plan_window((4, 4), (2, 3), (1, 1), "same"))     # row-major here
(0, 1, 2, 3, 4, 5)
>>> x = np.float32([[-1, 0, 0], [-0.0, 0, 1]]).reshape(1, 2, 3, 1)   # window 0: (1, 0) first
>>> xla_first_zero(x, plan_window((2, 3), (2, 2), (2, 2), "same"))[0, :, :, 0]
array([[1, 0]], dtype=int8)

Each model takes the op's :class:`~pooling_ref.ops.OpSpec`, the call's arrays and scalar
parameters, the candidate's result and the reference under the entry's path, and returns
what TensorFlow gives — or ``None`` where the entry does not apply.
"""

from __future__ import annotations

import itertools

import numpy as np

from ._arrays import from_channels_last, to_channels_last
from ._grad_kernels import accumulate, max_grad_fast, positions, tied
from ._known_args import pool_args, pool_grad_args
from ._known_eigen3d import (
    eigen_max_pool3d_relaxed,
    eigen_negative_pad_pool,
    eigen_shifted_geometry,
    odd_windows,
    scalar_lane_max,
    tf_forward,
)
from .apply_rules import flush_input
from .dtypes import finfo, is_float_dtype
from .geometry import WindowGeometry
from .ops import OpSpec
from .rules import plan_grad, plan_pool
from .windows import pad_spatial, real_mask, shifted, window_offsets

__all__ = ["broadcast_windows", "xla_first_zero", "xla_scan_order"]

#: XLA's loop emitter peels a window loop only while the loops inside it run fewer than
#: this many iterations (``EmitLoopNest``: ``cumulative_loop_size < 64``).
_PEEL_LIMIT = 64


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


def xla_first_zero(xs: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """``(N, *out, C)`` int8: the sign bit of each window's first zero cell (``-1``: none)
    in XLA's scan order (:func:`xla_scan_order`), over the real cells of ``xs`` (channels
    last, as compared: subnormals already read as zeros under a flushing plan)."""
    real, xp, offsets = real_mask(g), pad_spatial(xs, g, 0), window_offsets(g)
    first = np.full((xs.shape[0], *g.out_spatial, xs.shape[-1]), -1, np.int8)
    for i in xla_scan_order(g):
        v = shifted(xp, offsets[i], g)
        hit = shifted(real, offsets[i], g) & (v == 0) & (first < 0)
        first[hit] = np.signbit(v)[hit]
    return first


def xla_scan_max_pool(s: OpSpec, arrays: dict, scalars: dict, result, base):
    """Max pooling under XLA where its scan order is not row-major (registry
    ``xla-max-pool-padded-scan-order-zero-sign``): XLA's ``reduce_window`` keeps the first
    of equal maxima in :func:`xla_scan_order`, so a zero maximum has the sign of the first
    zero cell in that order. ``base`` (the XLA rules) with that sign; ``None`` where no
    sign changes."""
    x_cl, g, fmt, _ = pool_args(s, arrays, scalars)
    if not is_float_dtype(x_cl.dtype) or xla_scan_order(g) == tuple(range(g.cells)):
        return None
    want = to_channels_last(np.asarray(base), fmt)
    plan = plan_pool("xla", "max", x_cl.dtype, g)
    first = xla_first_zero(flush_input(x_cl) if plan.flush != "none" else x_cl, g)
    zero = (want == 0) & (first >= 0)
    signed = np.where(first == 1, np.array(-0.0, want.dtype), np.array(0.0, want.dtype))
    out = np.where(zero, signed, want).astype(want.dtype)
    if np.array_equal(np.signbit(out), np.signbit(want)):
        return None
    return from_channels_last(out, fmt)


def xla_scan_grad(s: OpSpec, arrays: dict, scalars: dict, result, base):
    """Max pooling gradient under XLA where its scan order is not row-major: the XLA tie
    rule (:data:`pooling_ref.rules.GRAD_RULES`) over :func:`xla_scan_order`, in the
    ``"fast"`` gradient kernel (:func:`pooling_ref._grad_kernels.max_grad_fast`)."""
    x_cl, gout, g, fmt, _ = pool_grad_args(s, arrays, scalars)
    order = xla_scan_order(g)
    if order == tuple(range(g.cells)):
        return None
    plan = plan_grad("xla", "max", x_cl.dtype, g, gout.size)
    xs = flush_input(x_cl) if plan.flush else x_cl      # compared with subnormals as zeros
    grad = max_grad_fast(xs, gout, g, plan, scan=order)
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


def _window_axes(g: WindowGeometry) -> list[list[tuple[int, int]]]:
    """Per axis, ``(start, size)`` of each output window's real cells (pooling: no
    dilation)."""
    return [[(lo, hi - lo) for _, _, lo, hi in t.tolist()] for t in g.taps]


def _broadcast_axes(g: WindowGeometry) -> list[list[tuple[int, int]]] | None:
    """Per axis, :func:`broadcast_windows` of ``g``; ``None`` where they are the windows'
    real cells (every window fits: the gradient windows are right)."""
    axes = [broadcast_windows(n, k, st, b, m) for n, k, st, (b, _), m in
            zip(g.in_spatial, g.window, g.strides, g.pads, g.out_spatial)]
    return None if axes == _window_axes(g) else axes


def eigen_avg_grad(s: OpSpec, arrays: dict, scalars: dict, result, base):
    """Average pooling gradient of TF's Eigen ``AvgPoolGrad`` (1D/2D) where a "same"
    window is larger than the input: each output sends ``grad_out * (1 / size)`` to the
    cells of :func:`broadcast_windows`, added in output order as TF's loop does."""
    x_cl, gout, g, fmt, _ = pool_grad_args(s, arrays, scalars)
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


# ------------------------------------------------------------------ MaxPool3DGrad (eager)


def grad_window(axes, pos) -> tuple[slice, ...]:
    """The spatial cells of output ``pos``'s gradient window (``axes``: per axis
    ``(start, size)`` of each output's window), as slices.

    >>> grad_window([[(0, 2), (1, 3)]], (1,))
    (slice(1, 4, None),)
    """
    return tuple(slice(b, b + k) for b, k in (axes[i][o] for i, o in enumerate(pos)))


def _tf3d_grad(x_cl, gout, g, forward, axes, plan) -> np.ndarray:
    """TF's eager ``MaxPool3DGrad``: each output sends its gradient to every cell of its
    gradient window (``axes``: per axis ``(start, size)``) within ``1e-5`` of TF's
    ``forward`` value, outputs in the plan's order, sums with its flushing and what it adds
    to the cells it does not choose (:func:`pooling_ref._grad_kernels.accumulate`)."""
    grad = np.zeros_like(x_cl)
    xs = flush_input(x_cl) if plan.flush else x_cl
    zero = plan.unchosen_zero()
    for pos in positions(g, plan.order):
        cells = grad_window(axes, pos)
        at = (slice(None), *cells, slice(None))
        y = forward[(slice(None), *pos, slice(None))][:, None, None, None, :]
        chosen = tied(xs[at], y, "tf3d")
        share = gout[(slice(None), *pos, slice(None))][:, None, None, None, :]
        accumulate(grad[at], np.where(chosen, share, zero), plan)
    return grad


def _eager_max_pool3d_grad(s: OpSpec, arrays: dict, scalars: dict, path: str,
                           when: str):
    """TF's eager 3D max pooling gradient on ``path``, where ``when`` (``"window"``: the
    gradient windows of ``GetBroadcastSize`` differ from the windows' cells, a "same"
    window larger than the input; ``"shift"``: Eigen's forward reads shifted windows);
    ``None`` elsewhere."""
    x_cl, gout, g, fmt, padding = pool_grad_args(s, arrays, scalars)
    if g.rank != 3 or not is_float_dtype(x_cl.dtype):
        return None
    axes = _broadcast_axes(g)
    shifted = path == "eigen" and eigen_shifted_geometry(g, padding) is not None
    if (axes is None) if when == "window" else not shifted:
        return None
    axes = axes or _window_axes(g)
    forward = tf_forward("max", x_cl, g, padding, path)
    plan = plan_grad(path, "max", x_cl.dtype, g, gout.size)
    return from_channels_last(_tf3d_grad(x_cl, gout, g, forward, axes, plan), fmt)


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




#: At most this many combinations of Eigen's possible 3D forwards are tried.
_FORWARD_CHOICES = 512


def _forward_options(x_cl, g, axes, odd_at, padded: bool) -> list:
    """For one window Eigen decides by lane (``odd_at``: ``(n, *pos, c)``), the forward
    values it may give (NaN, the lowest value where the window has padding, each of its
    cells), one per distinct set of gradient-window cells they would select."""
    n, *pos, c = odd_at
    window = x_cl[(n, *g.real_cells(pos), c)].ravel()
    grad_cells = x_cl[(n, *grad_window(axes, pos), c)].ravel()
    values = [np.nan, *window.tolist()] + ([float(-finfo(x_cl.dtype).max)] if padded else [])
    options, seen = [], set()
    with np.errstate(invalid="ignore", over="ignore"):
        for v in values:
            y = x_cl.dtype.type(v)
            key = tuple(tied(grad_cells, y, "tf3d").tolist())
            if key not in seen:
                seen.add(key)
                options.append(y)
    return options


def eigen3d_max_grad(s: OpSpec, arrays: dict, scalars: dict, result, base):
    """Eigen's 3D max pooling gradient where its forward follows no rule (registry
    ``eigen-max-pool3d-nan-by-packet``): TF's MaxPool3DGrad sends each window's gradient to
    the cells within 1e-5 of TF's own forward, which in a window holding a NaN or no number
    is NaN, the lowest value or one of its cells, by SIMD lane. The gradient of the
    combination of such forwards that gives ``result`` — searched per batch item, channel
    and group of overlapping windows (:func:`overlapping_windows`: they do not mix), at
    most :data:`_FORWARD_CHOICES` combinations each; the other windows as the Eigen rules
    say — or ``None``."""
    x_cl, gout, g, fmt, padding = pool_grad_args(s, arrays, scalars)
    got = np.asarray(result) if result is not None else None
    if g.rank != 3 or not is_float_dtype(x_cl.dtype) or got is None \
            or got.shape != np.shape(base) or got.dtype != x_cl.dtype:
        return None
    g2 = eigen_shifted_geometry(g, padding) or g
    odd = odd_windows(x_cl, g2)
    if not odd.any():
        return None
    axes = _broadcast_axes(g) or _window_axes(g)
    forward = tf_forward("max", x_cl, g, padding, "eigen")
    plan = plan_grad("eigen", "max", x_cl.dtype, g, gout.size)
    want = to_channels_last(got, fmt)
    bits = {2: np.uint16, 4: np.uint32, 8: np.uint64}[x_cl.dtype.itemsize]
    groups: dict = {}
    for at in np.argwhere(odd):
        groups.setdefault((int(at[0]), int(at[-1])), []).append(tuple(int(v) for v in at))
    for where in groups.values():
        for part in overlapping_windows(where, axes):
            forward = _search_forward(x_cl, gout, g, g2, forward, part, axes, plan,
                                      want, bits)
            if forward is None:
                return None
    return from_channels_last(_tf3d_grad(x_cl, gout, g, forward, axes, plan), fmt)


def overlapping_windows(where: list[tuple], axes) -> list[list[tuple]]:
    """``where`` (window positions ``(n, *pos, c)`` of one batch item and channel) split
    into groups whose gradient windows (``axes``: per axis ``(start, size)``) overlap,
    directly or through others: a cell's gradient depends on the windows of its group only.

    >>> axes = [[(0, 1)], [(0, 1)], [(0, 2), (2, 2), (3, 2)]]     # W windows 0-1, 2-3, 3-4
    >>> overlapping_windows([(0, 0, 0, 0, 0), (0, 0, 0, 1, 0), (0, 0, 0, 2, 0)], axes)
    [[(0, 0, 0, 0, 0)], [(0, 0, 0, 1, 0), (0, 0, 0, 2, 0)]]
    """
    def box(at):
        return [axes[i][o] for i, o in enumerate(at[1:-1])]

    def meet(a, b):
        return all(ba < bb + nb and bb < ba + na for (ba, na), (bb, nb) in zip(a, b))

    boxes = [box(at) for at in where]
    label = list(range(len(where)))

    def root(i):
        while label[i] != i:
            i = label[i]
        return i

    for i, j in itertools.combinations(range(len(where)), 2):
        if meet(boxes[i], boxes[j]):
            label[root(j)] = root(i)
    parts: dict = {}
    for i, at in enumerate(where):
        parts.setdefault(root(i), []).append(at)
    return list(parts.values())


def _search_forward(x_cl, gout, g, g2, forward, part, axes, plan, want, bits):
    """``forward`` with the windows of ``part`` (one group of
    :func:`overlapping_windows`) set to values Eigen may give whose gradient is ``want``
    on the group's cells, or ``None``. Tried first: every window as a scalar lane
    (:func:`scalar_lane_max`), then as a packet lane (the Eigen rules' ``forward``), then
    every combination of :func:`_forward_options` unless there are more than
    :data:`_FORWARD_CHOICES`."""
    n, c = part[0][0], part[0][-1]
    cells = np.zeros(x_cl.shape[1:-1], bool)
    for at in part:
        cells[grad_window(axes, at[1:-1])] = True
    target = np.ascontiguousarray(want[n, ..., c]).view(bits)[cells]
    for choice in _forward_choices(x_cl, g2, forward, part, axes):
        trial = forward.copy()
        for at, y in zip(part, choice):
            trial[at] = y
        grad = _tf3d_grad(x_cl, gout, g, trial, axes, plan)
        if (np.ascontiguousarray(grad[n, ..., c]).view(bits)[cells] == target).all():
            return trial
    return None


def _forward_choices(x_cl, g2, forward, part, axes):
    """The forwards :func:`_search_forward` tries for ``part``, in its order."""
    yield tuple(scalar_lane_max(x_cl, g2, at) for at in part)
    yield tuple(forward[at] for at in part)
    options = [_forward_options(x_cl, g2, axes, at, g2.padded) for at in part]
    if np.prod([len(o) for o in options], dtype=np.float64) <= _FORWARD_CHOICES:
        yield from itertools.product(*options)

def eigen3d_nan_by_packet(s: OpSpec, arrays: dict, scalars: dict, result, base):
    """Registry ``eigen-max-pool3d-nan-by-packet``: the forward's relaxation
    (:func:`pooling_ref._known_eigen3d.eigen_max_pool3d_relaxed`), the gradient's search
    (:func:`eigen3d_max_grad`)."""
    if s.family == "max_pool_grad":
        return eigen3d_max_grad(s, arrays, scalars, result, base)
    return eigen_max_pool3d_relaxed(s, arrays, scalars, result, base)
