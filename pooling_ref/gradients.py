"""Backward passes of max pooling, average pooling and convolution (TF's rules, measured).

Each function returns what ``tf.GradientTape`` gives for the Keras layer: the gradient of
``sum(forward(x) * grad_out)`` with respect to ``x`` (and, for convolution, the kernel and a
bias), for the upstream gradient ``grad_out``.

>>> import numpy as np
>>> x = np.array([0., 1., 1., 0.], dtype=np.float32).reshape(1, 4, 1)
>>> max_pool_grad(x, np.ones((1, 3, 1), np.float32), 2, strides=1)[0, :, 0]
array([0., 2., 1., 0.], dtype=float32)

Max pooling routes each window's upstream gradient to the cell(s) the forward picked.
TensorFlow's CPU kernels are not uniform across ranks (TF 2.21, measured on both eager
kernel paths, oneDNN and Eigen; see docs/gradients.md):

* **1D / 2D** (``ties="first"``): one cell per window receives the gradient — the scan starts
  at the window's first *real* cell and moves on only to a strictly greater cell. So the
  first of tied maxima gets it, and a NaN in the first real cell keeps it (the forward
  ignored that NaN); a window of only NaN or only -inf sends it to its first real cell.
* **3D**: every cell within ``1e-5`` of the forward maximum (:func:`max_pool`), i.e.
  ``|x - max| < 1e-5`` in ``x``'s dtype, receives the full gradient — ties (``-0`` and
  ``+0`` too) and near-ties (``1`` and ``0.999999``); a NaN cell never does, an infinite
  maximum sends it nowhere (``inf - inf`` is NaN), nor does a window with no number (only
  NaN / -inf). ``ties="all"`` is the exact-equality version of this rule.
* ``ties="split"`` (no TF kernel does this): the cells of ``"all"`` share it equally.
* XLA (``tf_kernel="xla"``): the first maximum in every rank, but the scan moves on unless
  ``current >= next``, so a NaN attracts the choice and loses it again.

``tf_kernel`` selects a path's rules (:data:`pooling_ref.tf_kernels.GRAD_RULES`): the tie
rule above, the accumulation order and subnormal flushing (``None``: the eager tie rules
with IEEE subnormals). docs/gradients.md, "Kernel paths", lists the measurements.

Contributions of overlapping windows are added to a cell starting from ``+0`` (so a cell
no window selects is ``+0``), in TF's order: row-major output order for 1D/2D; for 3D the
last spatial axis outermost. Average pooling sends ``grad_out / count`` to each real cell
of the window (``count`` excludes "same" padding).

Methods: ``"loop"`` is the specification (one output position at a time, the windows of
the forward definition); ``"fast"`` is vectorised over all windows (one strided view per
window cell); ``"compiled"`` (pooling only) is the loop compiled with Numba
(:func:`pooling_ref._compiled.pool_grad`; float16/bfloat16 and the XLA rules run ``"fast"``),
and ``"auto"`` picks it where Numba is installed, else ``"fast"``. For max and average
pooling ``"fast"`` and ``"compiled"`` equal ``"loop"`` bit for bit (window cells are
visited in the order that adds, at each input cell, in the loop's order); for
convolution ``"fast"`` and ``"loop"`` agree within :func:`pooling_ref.tolerance.conv_grad_bounds`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from . import tf_kernels
from ._arrays import (
    as_input,
    check_method,
    from_channels_last,
    is_float_dtype,
    to_channels_last,
)
from .conv import _prepare as _conv_prepare
from .conv import _real_taps
from .geometry import WindowGeometry
from .pooling import _METHODS as _POOL_METHODS
from .pooling import _prepare as _pool_prepare
from .pooling import _real_counts, _take_greater, lowest
from .windows import pad_spatial, real_window_at, shifted, window_at, window_offsets

__all__ = ["TIES", "avg_pool_grad", "conv_grad", "cover_counts", "max_pool_grad"]

IntOrTuple = int | Sequence[int]

#: The tie rules of :func:`max_pool_grad` (module docstring).
TIES = ("first", "all", "split")
#: TF's MaxPool3DGrad: a cell is "the maximum" when ``|x - max| < 1e-5`` (in x's dtype).
_TF3D_TOLERANCE = 1e-5
_METHODS = ("auto", "loop", "fast", "compiled")
#: Order in which a cell adds what overlapping windows send it (``GradRules.order``):
#: output positions sorted by this key (measured, TF 2.21 CPU: MaxPoolGrad and XLA
#: row-major; MaxPool3DGrad loops with the last spatial axis outermost). Matters only for
#: the last bit of sums of 3+.
_ACCUMULATION_KEY = {"row-major": lambda o: o, "last-axis-outer": lambda o: o[::-1]}


def _positions(g: WindowGeometry, order: str) -> list[tuple[int, ...]]:
    """Output positions in accumulation order (see :data:`_ACCUMULATION_KEY`)."""
    return sorted(itertools.product(*(range(m) for m in g.out_spatial)),
                  key=_ACCUMULATION_KEY[order])


def _offsets(g: WindowGeometry, order: str) -> list[tuple[int, tuple[int, ...]]]:
    """``(row-major index, offset)`` of the window cells in the order that adds, at every
    input cell, in :func:`_positions` order: along each axis a later output reaches a cell
    through an earlier window cell, so the order is the same key, descending."""
    cells = list(enumerate(window_offsets(g)))
    return sorted(cells, key=lambda ic: _ACCUMULATION_KEY[order](ic[1]), reverse=True)


def _add(target: np.ndarray, value: np.ndarray, r: tf_kernels.GradRules, copy: bool) -> None:
    """One step of a cell's sum: ``target += value``; under ``r.flush`` a subnormal
    ``value`` is read as a zero of its sign (so ``+0 + -s = +0``) and a subnormal sum is
    written as one (x86 DAZ + FTZ); with ``copy`` (no cell receives twice) an assignment
    (XLA: no addition, nothing flushed)."""
    if copy:
        target[...] = value
    elif not r.flush:
        target += value
    else:
        target += tf_kernels.daz(value)
        np.copyto(target, tf_kernels.daz(target))


def _copies(g: WindowGeometry, r: tf_kernels.GradRules, op: str, outputs: int) -> bool:
    """Whether ``r.copy`` applies (measured, XLA CPU): max, a single output element (one
    window, batch and channel 1; two or more flush); average, every window with one real
    cell and no cell in two windows (a division by 1 and a sum of one term, elided)."""
    if not r.copy:
        return False
    if op == "max":
        return outputs == 1
    return bool((_real_counts(g, np.float64) == 1).all() and cover_counts(g).max(initial=0) <= 1)


# ----------------------------------------------------------------------------- arguments


def _method(method: object, op: str, *, compiled: bool = False) -> str:
    """``compiled``: whether ``op`` has a Numba kernel (then ``"auto"`` is ``"compiled"``
    where Numba is usable, see :func:`pooling_ref._arrays.check_method`)."""
    if not isinstance(method, str) or method not in _METHODS:
        raise ValueError(f"{op}: method must be one of {_METHODS}, got {method!r}")
    if method in ("auto", "compiled"):
        return check_method(method, op, compiled=compiled)
    return method


def _grad_out(grad_out: object, expected_cl: tuple[int, ...], dtype: np.dtype, fmt: str,
              op: str) -> np.ndarray:
    """``grad_out`` checked (shape = the forward output's, dtype = ``dtype``), channels_last."""
    a = np.asarray(grad_out)
    expected = expected_cl if fmt == "channels_last" else (
        expected_cl[0], expected_cl[-1], *expected_cl[1:-1])
    if a.shape != expected:
        raise ValueError(
            f"{op}: grad_out must have the shape of the forward output {expected!r} "
            f"({fmt}), got shape {a.shape!r}")
    as_input(a, op, "grad_out")                       # a real numeric array
    if a.dtype != dtype:
        raise TypeError(
            f"{op}: grad_out must have dtype {np.dtype(dtype).name} (the forward output's), "
            f"got dtype {a.dtype.name}")
    return to_channels_last(a, fmt)


def _pool_args(op, x, grad_out, pool_size, strides, padding, data_format, method):
    x_cl, g, fmt, _ = _pool_prepare(op, x, pool_size, strides, padding, data_format, "loop")
    method = _method(method, op, compiled=True)
    out_shape = (x_cl.shape[0], *g.out_spatial, x_cl.shape[-1])
    return x_cl, _grad_out(grad_out, out_shape, x_cl.dtype, fmt, op), g, fmt, method


def _real_mask(g: WindowGeometry) -> np.ndarray:
    """``(1, *padded_spatial, 1)`` booleans: True on real cells, False on "same" padding."""
    return pad_spatial(np.ones((1, *g.in_spatial, 1), dtype=bool), g, False)


def _padded_zeros(x_cl: np.ndarray, g: WindowGeometry, dtype) -> np.ndarray:
    return np.zeros((x_cl.shape[0], *g.padded_spatial, x_cl.shape[-1]), dtype=dtype)


def _unpad(gp: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """The real region of a padded channels_last array."""
    return gp[(slice(None), *(slice(b, b + n) for (b, _), n in zip(g.pads, g.in_spatial)),
               slice(None))]


def cover_counts(g: WindowGeometry) -> np.ndarray:
    """How many (output position, window cell) pairs land on each input cell.

    Shape ``g.in_spatial``. For pooling (no dilation) this is the number of windows
    containing the cell; for convolution, the number of (output, tap) pairs. The product over
    axes of the per-axis counts; each per-axis count is at most ``ceil(window / stride)``.

    >>> from pooling_ref.geometry import plan_window
    >>> cover_counts(plan_window((5,), (3,), (1,), "valid"))
    array([1, 2, 3, 2, 1])
    """
    total = np.ones((), dtype=np.int64)
    for axis, (n, k, s, d, (b, _), m) in enumerate(zip(
            g.in_spatial, g.window, g.strides, g.dilation, g.pads, g.out_spatial)):
        at = (np.arange(m)[:, None] * s + np.arange(k)[None, :] * d - b).ravel()
        counts = np.bincount(at[(at >= 0) & (at < n)], minlength=n)
        shape = [1] * g.rank
        shape[axis] = n
        total = total * counts.reshape(shape)
    return np.broadcast_to(total, g.in_spatial).copy()


# ----------------------------------------------------------------------------- max pooling


def _chosen(cells: np.ndarray, ties: str) -> np.ndarray:
    """Booleans ``(N, K, C)``: which real cells ``(N, K, C)`` of one window get its gradient."""
    k = cells.shape[1]
    if ties in ("first", "xla"):    # start at the first real cell; move on only if greater
        best, pick = cells[:, 0].copy(), np.zeros(cells[:, 0].shape, dtype=np.intp)
        for i in range(1, k):       # ("xla": unless current >= next)
            greater = _moves(best, cells[:, i], ties)
            best[greater], pick[greater] = cells[:, i][greater], i
        return np.arange(k)[None, :, None] == pick[:, None, :]
    best = np.full(cells[:, 0].shape, lowest(cells.dtype), dtype=cells.dtype)
    for i in range(k):               # the forward maximum (pooling.max_pool's rule)
        _take_greater(best, cells[:, i])
    return _tied(cells, best[:, None, :], ties)


def _moves(best: np.ndarray, v: np.ndarray, ties: str) -> np.ndarray:
    """Where a scan at ``best`` moves on to ``v``: ``v > best`` (``"first"``) or, XLA's
    select, ``not best >= v`` (so NaN on either side moves it)."""
    with np.errstate(invalid="ignore"):
        return ~(best >= v) if ties == "xla" else v > best


def _tied(v: np.ndarray, maximum: np.ndarray, ties: str) -> np.ndarray:
    """Which cells count as the window's maximum: equal to it (``"all"``, ``"split"``) or,
    TF's 3D rule (``"tf3d"``), within ``1e-5`` of it in ``x``'s dtype — so near-ties share
    and an infinite maximum (``inf - inf = NaN``) sends nothing (measured, TF 2.21)."""
    if ties != "tf3d" or not is_float_dtype(v.dtype):
        return v == maximum
    with np.errstate(invalid="ignore", over="ignore"):
        return np.abs(v - maximum) < v.dtype.type(_TF3D_TOLERANCE)


def _share(upstream: np.ndarray, chosen_count: np.ndarray, ties: str) -> np.ndarray:
    """What one chosen cell receives: the upstream gradient, or its equal share."""
    if ties != "split":
        return upstream
    with np.errstate(divide="ignore", invalid="ignore"):      # count 0: nothing is chosen
        return upstream / chosen_count.astype(upstream.dtype)


def _max_grad_loop(x_cl, gout, g, ties, r):
    """Specification: per output position, send its gradient to the window's chosen cells."""
    grad = np.zeros_like(x_cl)
    xs = tf_kernels.daz(x_cl) if r.flush else x_cl       # compared with subnormals as zeros
    n, c = x_cl.shape[0], x_cl.shape[-1]
    zero = x_cl.dtype.type(0)
    copy = _copies(g, r, "max", gout.size)
    for pos in _positions(g, r.order):
        cells = real_window_at(xs, pos, g)
        target = real_window_at(grad, pos, g)           # a writable view of the same cells
        chosen = _chosen(cells.reshape(n, math.prod(cells.shape[1:-1]), c), ties)
        share = _share(gout[(slice(None), *pos, slice(None))], chosen.sum(axis=1), ties)
        _add(target, np.where(chosen, share[:, None, :], zero).reshape(target.shape), r, copy)
    return grad


def _max_grad_fast(x_cl, gout, g, ties, r, scan=None):
    """All windows at once, one strided view per window cell; bitwise equal to the loop.
    Memory: a few arrays of the output's size (no per-cell masks are kept). ``scan``: the
    row-major indices of the window cells in the order the first-maximum scan visits them
    (default row-major; :mod:`pooling_ref.known` passes XLA's order where it differs)."""
    real = _real_mask(g)
    xs = tf_kernels.daz(x_cl) if r.flush else x_cl       # compared with subnormals as zeros
    xp = pad_spatial(xs, g, 0)
    offsets = window_offsets(g)
    zero = x_cl.dtype.type(0)
    if ties in ("first", "xla"):
        best = np.zeros(gout.shape, x_cl.dtype)
        pick = np.full(gout.shape, -1, dtype=np.intp)
        for i in range(len(offsets)) if scan is None else scan:
            offset = offsets[i]
            v, real_v = shifted(xp, offset, g), shifted(real, offset, g)
            take = real_v & ((pick < 0) | _moves(best, v, ties))
            np.copyto(best, v, where=take)
            np.copyto(pick, i, where=take)
        return _scatter(x_cl, g, lambda i, _: np.where(pick == i, gout, zero), r, "max",
                        gout.size)
    fwd = _POOL_METHODS["max"]["fast"](xs, g)            # the forward maximum

    def chosen(offset):
        return shifted(real, offset, g) & _tied(shifted(xp, offset, g), fwd, ties)

    count = np.zeros(gout.shape, np.int64) if ties == "split" else None
    for offset in offsets if ties == "split" else ():
        count += chosen(offset)
    share = _share(gout, count, ties)
    return _scatter(x_cl, g, lambda _, offset: np.where(chosen(offset), share, zero), r,
                    "max", gout.size)


def _max_grad_compiled(x_cl, gout, g, ties, r):
    """The loop compiled with Numba (:func:`pooling_ref._compiled.pool_grad`); the rules it
    has no kernel for (XLA's scan and copies) and half types run :func:`_max_grad_fast`."""
    from . import _compiled

    grad = None
    if ties != "xla" and not _copies(g, r, "max", gout.size):
        xs = tf_kernels.daz(x_cl) if r.flush else x_cl   # compared with subnormals as zeros
        rule, tol = ("tf3d", _TF3D_TOLERANCE) if ties == "tf3d" else (ties, 0.0)
        grad = _compiled.pool_grad(xs, gout, g, rule, tol, order=r.order, flush=r.flush)
    return _max_grad_fast(x_cl, gout, g, ties, r) if grad is None else grad


def _scatter(x_cl: np.ndarray, g: WindowGeometry, sends, r: tf_kernels.GradRules,
             op: str, outputs: int) -> np.ndarray:
    """Sum, per input cell, ``sends(i, offset)`` (what every window sends to its cell ``i``
    at ``offset``, shaped like the output) in the loop's order (:func:`_add`); the real
    region."""
    gp = _padded_zeros(x_cl, g, x_cl.dtype)
    copy = _copies(g, r, op, outputs)
    for i, offset in _offsets(g, r.order):          # each cell adds in the loop's order
        _add(shifted(gp, offset, g), sends(i, offset), r, copy)
    return _unpad(gp, g)


def max_pool_grad(
    x: object,
    grad_out: object,
    pool_size: IntOrTuple,
    strides: IntOrTuple | None = None,
    padding: str = "valid",
    data_format: str = "channels_last",
    *,
    method: str = "auto",
    ties: str | None = None,
    tf_kernel: str | None = "onednn",
) -> np.ndarray:
    """Gradient of :func:`pooling_ref.max_pool` w.r.t. ``x`` for upstream ``grad_out``.

    >>> import numpy as np
    >>> x = np.ones((1, 2, 2, 1), np.float32)                # one 2x2 window of ties
    >>> max_pool_grad(x, np.ones((1, 1, 1, 1), np.float32), 2)[0, :, :, 0]
    array([[1., 0.],
           [0., 0.]], dtype=float32)
    >>> max_pool_grad(x, np.ones((1, 1, 1, 1), np.float32), 2, ties="split")[0, :, :, 0]
    array([[0.25, 0.25],
           [0.25, 0.25]], dtype=float32)

    ``grad_out`` has the shape and dtype of ``max_pool(x, ...)``; the result has those of
    ``x``. ``tf_kernel`` (``"onednn"``, ``"eigen"``, ``"xla"``; ``None``: the specification,
    IEEE subnormals): which TensorFlow path's gradient rules to follow
    (:data:`pooling_ref.tf_kernels.GRAD_RULES`: tie rule, accumulation order, subnormal
    flushing). ``ties``: ``"first"``, ``"all"`` (every cell equal to the maximum),
    ``"split"`` (those share it equally) or ``None``: the rule of ``tf_kernel`` for the rank
    — eager (and ``None``): ``"first"`` for 1D/2D, for 3D ``"all"`` with
    ``|x - max| < 1e-5`` as "equal"; XLA: the first maximum, where NaN attracts the choice
    (module docstring). ``method``: ``"loop"``, ``"fast"``, ``"compiled"`` or ``"auto"``
    (``"compiled"`` with Numba, else ``"fast"``); bitwise identical.

    >>> x = np.ones((1, 2, 2, 2, 1), np.float32)             # 3D: one window of ties
    >>> g = np.ones((1, 1, 1, 1, 1), np.float32)
    >>> [int(max_pool_grad(x, g, 2, tf_kernel=k).sum()) for k in ("onednn", "xla")]
    [8, 1]
    """
    op = "max_pool_grad"
    x_cl, gout, g, fmt, method = _pool_args(op, x, grad_out, pool_size, strides, padding,
                                            data_format, method)
    r = tf_kernels.grad_rules(tf_kernels.check_tf_kernel(tf_kernel, op), "max", x_cl.dtype,
                              g.rank)
    if ties is None:
        ties = r.ties
    elif not isinstance(ties, str) or ties not in TIES:
        raise ValueError(f"{op}: ties must be None or one of {TIES}, got {ties!r}")
    if ties == "split" and not is_float_dtype(x_cl.dtype):
        raise TypeError(f"{op}: ties='split' needs a floating dtype, got {x_cl.dtype.name}")
    if not is_float_dtype(x_cl.dtype):
        r = replace(r, flush=False)
    fn = {"loop": _max_grad_loop, "fast": _max_grad_fast, "compiled": _max_grad_compiled}
    return from_channels_last(fn[method](x_cl, gout, g, ties, r), fmt)


# ----------------------------------------------------------------------------- average pooling


def _avg_grad_loop(x_cl, gout, g, r):
    """Specification: each window sends ``grad_out / count`` to each of its real cells."""
    grad = np.zeros_like(x_cl)
    copy = _copies(g, r, "avg", gout.size)
    for pos in _positions(g, r.order):
        target = real_window_at(grad, pos, g)
        count = math.prod(target.shape[1:-1])
        share = gout[(slice(None), *pos, slice(None))] / x_cl.dtype.type(count)
        _add(target, np.broadcast_to(share.reshape(share.shape[0], *(1,) * g.rank,
                                                   share.shape[-1]), target.shape), r, copy)
    return grad


def _avg_grad_fast(x_cl, gout, g, r):
    """All windows at once; bitwise equal to the loop (same shares, same order per cell)."""
    share = gout / _real_counts(g, x_cl.dtype)
    real = _real_mask(g)
    zero = x_cl.dtype.type(0)
    return _scatter(x_cl, g, lambda _, offset: np.where(shifted(real, offset, g), share, zero),
                    r, "avg", gout.size)


def _avg_grad_compiled(x_cl, gout, g, r):
    """The loop compiled with Numba (:func:`pooling_ref._compiled.pool_grad`); XLA's copies
    and half types run :func:`_avg_grad_fast`."""
    from . import _compiled

    grad = None
    if not _copies(g, r, "avg", gout.size):
        grad = _compiled.pool_grad(x_cl, gout, g, "avg", order=r.order, flush=r.flush)
    return _avg_grad_fast(x_cl, gout, g, r) if grad is None else grad


def avg_pool_grad(
    x: object,
    grad_out: object,
    pool_size: IntOrTuple,
    strides: IntOrTuple | None = None,
    padding: str = "valid",
    data_format: str = "channels_last",
    *,
    method: str = "auto",
    tf_kernel: str | None = "onednn",
) -> np.ndarray:
    """Gradient of :func:`pooling_ref.avg_pool` w.r.t. ``x`` for upstream ``grad_out``.

    >>> import numpy as np
    >>> x = np.zeros((1, 3, 3, 1), np.float32)    # "same" 2/2: windows of 4, 2, 2 and 1
    >>> avg_pool_grad(x, np.ones((1, 2, 2, 1), np.float32), 2, padding="same")[0, :, :, 0]
    array([[0.25, 0.25, 0.5 ],
           [0.25, 0.25, 0.5 ],
           [0.5 , 0.5 , 1.  ]], dtype=float32)

    Each window sends ``grad_out / count`` (``count`` = its real cells, as the forward
    divides) to each real cell; a cell sums what it receives in the order of
    :func:`max_pool_grad`, in ``x``'s dtype (float only). TF sums in another order: agreement within
    :func:`pooling_ref.tolerance.avg_pool_grad_bound`. ``tf_kernel`` (as
    :func:`max_pool_grad`): subnormal partial sums flushed (not float16), and XLA's unflushed
    copy of ``grad_out`` where every window has one real cell and none overlap; ``None``:
    IEEE.
    """
    op = "avg_pool_grad"
    x_cl, gout, g, fmt, method = _pool_args(op, x, grad_out, pool_size, strides, padding,
                                            data_format, method)
    if not is_float_dtype(x_cl.dtype):
        raise TypeError(f"{op}: x must have a floating dtype, got dtype {x_cl.dtype.name}")
    r = tf_kernels.grad_rules(tf_kernels.check_tf_kernel(tf_kernel, op), "avg", x_cl.dtype,
                              g.rank)
    fn = {"loop": _avg_grad_loop, "fast": _avg_grad_fast, "compiled": _avg_grad_compiled}
    return from_channels_last(fn[method](x_cl, gout, g, r), fmt)


# ----------------------------------------------------------------------------- convolution


def _conv_grad_loop(p, gout):
    """Specification from the forward definition: output ``o`` of filter ``f`` received
    ``x_pad[o*s + t*d, c] * kernel[t, c, f]`` from each real tap ``t`` of its group, so
    ``grad_out[o, f]`` flows back as ``* kernel[t, c, f]`` to ``x`` and as ``* x`` to the
    kernel. Padding cells contribute no term."""
    r = p.g.rank
    gxp = _padded_zeros(p.x, p.g, p.x.dtype)
    xp = pad_spatial(p.x, p.g, 0)
    gk = np.zeros_like(p.kernel)
    zero = p.kernel.dtype.type(0)
    for pos in itertools.product(*(range(m) for m in p.g.out_spatial)):
        taps = _real_taps(pos, p.g)[..., None, None]
        kernel = np.where(taps, p.kernel, zero)
        window, gwindow = window_at(xp, pos, p.g), window_at(gxp, pos, p.g)
        upstream = gout[(slice(None), *pos, slice(None))]              # (N, F)
        for gi in range(p.groups):
            cs, fs = p.group_slices(gi)
            gwindow[..., cs] += np.tensordot(upstream[:, fs], kernel[..., fs],
                                             axes=([1], [r + 1]))
            gk[..., fs] += np.where(taps, np.tensordot(window[..., cs], upstream[:, fs],
                                                       axes=([0], [0])), zero)
    return _unpad(gxp, p.g), gk


def _conv_grad_fast(p, gout):
    """Per kernel cell: one matrix product per group over all outputs at once."""
    gxp = _padded_zeros(p.x, p.g, p.x.dtype)
    xp = pad_spatial(p.x, p.g, 0)
    cells = p.kernel.reshape(-1, *p.kernel.shape[-2:])                # (cells, Cg, F)
    gk = np.zeros_like(cells)
    rows = math.prod(gout.shape[:-1])                                 # N * prod(out)
    g2 = gout.reshape(rows, gout.shape[-1])                           # (N*out, F)
    for k, offset in enumerate(window_offsets(p.g)):
        v = shifted(xp, offset, p.g)
        v2 = v.reshape(rows, v.shape[-1])                              # copy: (N*out, C_in)
        target = shifted(gxp, offset, p.g)
        for gi in range(p.groups):
            cs, fs = p.group_slices(gi)
            target[..., cs] += (g2[:, fs] @ cells[k][:, fs].T).reshape(*v.shape[:-1], p.cin_g)
            gk[k][:, fs] = v2[:, cs].T @ g2[:, fs]
    return _unpad(gxp, p.g), gk.reshape(p.kernel.shape)


def conv_grad(
    x: object,
    kernel: object,
    grad_out: object,
    strides: IntOrTuple = 1,
    padding: str = "valid",
    data_format: str = "channels_last",
    dilation_rate: IntOrTuple = 1,
    groups: int = 1,
    *,
    method: str = "auto",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`pooling_ref.conv`: ``(grad_x, grad_kernel, grad_bias)``.

    >>> import numpy as np
    >>> x = np.arange(4.0).reshape(1, 4, 1)
    >>> k = np.array([1.0, -1.0]).reshape(2, 1, 1)
    >>> gx, gk, gb = conv_grad(x, k, np.ones((1, 3, 1)))
    >>> gx[0, :, 0], gk[:, 0, 0], gb
    (array([ 1.,  0.,  0., -1.]), array([3., 6.]), array([3.]))

    ``grad_out`` has the shape and dtype of ``conv(x, kernel, ...)``; ``grad_x`` /
    ``grad_kernel`` have the shapes of ``x`` / ``kernel`` and the forward's dtype;
    ``grad_bias`` (what a bias would receive) is ``grad_out`` summed over all but the
    channel axis. float16/bfloat16 are accumulated in float32 and rounded once (as the
    forward). Loop and fast agree within :func:`pooling_ref.tolerance.conv_grad_bounds`.
    """
    op = "conv_grad"
    p, fmt, _ = _conv_prepare(x, kernel, None, strides, padding, data_format, dilation_rate,
                              groups, "loop")
    method = _method(method, op)
    out_shape = (p.x.shape[0], *p.g.out_spatial, p.kernel.shape[-1])
    gout = _grad_out(grad_out, out_shape, p.out_dtype, fmt, op).astype(p.x.dtype, copy=False)
    padded = any(b or a for b, a in p.g.pads)
    if method == "loop" or (padded and not (np.isfinite(p.kernel).all()
                                            and np.isfinite(gout).all())):
        gx, gk = _conv_grad_loop(p, gout)   # only the loop adds no term for padding cells
    else:
        gx, gk = _conv_grad_fast(p, gout)
    gb = gout.sum(axis=tuple(range(gout.ndim - 1)))
    return (from_channels_last(gx.astype(p.out_dtype, copy=False), fmt),
            gk.astype(p.out_dtype, copy=False), gb.astype(p.out_dtype, copy=False))
