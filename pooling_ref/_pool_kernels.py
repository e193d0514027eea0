"""The NumPy pooling kernels: the ``"loop"`` specification and the ``"im2col"`` method of max
and average pooling, and the NumPy specification of global pooling.

A kernel takes a canonical layout (channels_last ``x_cl``) and a geometry and returns the
pooled array; it follows no TF path rule (:mod:`pooling_ref.apply_rules` applies those).

* max: a cell replaces the running maximum only when it is strictly greater, starting from
  the dtype's lowest finite value — NaN ignored, the first of equal maxima wins;
* average: the real cells summed in row-major order in the input dtype from ``+0``, then
  divided by their count.

>>> import numpy as np
>>> from pooling_ref.geometry import plan_window
>>> g = plan_window((4,), (2,), (2,), "valid")
>>> max_loop(np.float32([[[-0.0], [0.0], [np.nan], [np.nan]]]), g)[:, :, 0]
array([[-0.0000000e+00, -3.4028235e+38]], dtype=float32)
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .dtypes import is_float_dtype, lowest, never_greater
from .geometry import WindowGeometry, divisor_grid
from .windows import im2col_chunks, real_window_at

__all__ = ["avg_im2col", "avg_loop", "global_max", "global_sum", "max_im2col", "max_loop",
           "scan_moves", "take_greater"]


def _output(x_cl: np.ndarray, g: WindowGeometry) -> np.ndarray:
    return np.empty((x_cl.shape[0], *g.out_spatial, x_cl.shape[-1]), dtype=x_cl.dtype)


def take_greater(acc: np.ndarray, cell: np.ndarray) -> None:
    """TF's max step: ``acc = cell`` where ``cell > acc`` (NaN never replaces, ties keep)."""
    np.copyto(acc, cell, where=cell > acc)


def scan_moves(best: np.ndarray, v: np.ndarray, scan: str) -> np.ndarray:
    """Where a scan that starts at a window's first real cell and holds ``best`` moves on
    to the next cell ``v`` — the scans that pick *one* cell (the gradient's tie rules, the
    indices of max pooling): ``v > best`` (``"first"``: TF's MaxPoolGrad and
    MaxPoolWithArgmax; a NaN in the first cell keeps it), XLA's select ``not best >= v``
    (``"xla"``: NaN on either side moves it) or ``v > best or v is NaN`` (``"nan-last"``:
    torch's max pooling with indices, which picks the last NaN).

    >>> scan_moves(np.float32([1, np.nan, 1]), np.float32([2, 1, np.nan]), "nan-last")
    array([ True, False,  True])
    """
    with np.errstate(invalid="ignore"):
        if scan == "xla":
            return ~(best >= v)
        if scan == "nan-last":
            return (v > best) | (v != v)
        return v > best


def _real_windows(x_cl: np.ndarray, g: WindowGeometry):
    """``(position, cells (N, K, C))`` of every output, the real cells in row-major order."""
    n, c = x_cl.shape[0], x_cl.shape[-1]
    for pos in itertools.product(*(range(m) for m in g.out_spatial)):
        cells = real_window_at(x_cl, pos, g)
        yield pos, cells.reshape(n, math.prod(cells.shape[1:-1]), c)   # -1 fails for n == 0


def max_loop(x_cl: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """Specification: for each output position, scan the real cells of its window."""
    out = _output(x_cl, g)
    for pos, cells in _real_windows(x_cl, g):
        best = np.full((cells.shape[0], cells.shape[2]), lowest(x_cl.dtype), dtype=x_cl.dtype)
        for k in range(cells.shape[1]):          # row-major window order
            take_greater(best, cells[:, k])
        out[(slice(None), *pos, slice(None))] = best
    return out


def max_im2col(x_cl: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """Chunked columns (padding cells never greater than anything), one scan per cell."""
    out = _output(x_cl, g)
    for (bs, rs), cols in im2col_chunks(x_cl, g, fill_value=never_greater(x_cl.dtype)):
        best = np.full(cols.shape[:-2] + cols.shape[-1:], lowest(x_cl.dtype), x_cl.dtype)
        for k in range(g.cells):
            take_greater(best, cols[..., k, :])
        out[bs, rs] = best
    return out


def avg_loop(x_cl: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """Specification: sum the real cells in row-major order from +0, divide by the window's
    divisor (:func:`~pooling_ref.geometry.divisor_grid`: by default the real-cell count; a
    window without a real cell is ``0 / 0``)."""
    out = _output(x_cl, g)
    divisors = divisor_grid(g, x_cl.dtype)
    for pos, cells in _real_windows(x_cl, g):
        total = np.zeros((cells.shape[0], cells.shape[2]), dtype=x_cl.dtype)
        for k in range(cells.shape[1]):
            total = total + cells[:, k]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[(slice(None), *pos, slice(None))] = total / divisors[pos]
    return out


# Adding a zero padding cell to a running sum that started at +0 never changes its bits
# (x + 0 == x for every x except -0, and a sum started at +0 is never -0), so the padded
# methods reproduce the loop's row-major sum exactly.


def avg_im2col(x_cl: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """Chunked columns (padding cells add ``+0``), then one division by the divisors."""
    out = _output(x_cl, g)
    counts = divisor_grid(g, x_cl.dtype)
    for (bs, rs), cols in im2col_chunks(x_cl, g):
        total = np.zeros(cols.shape[:-2] + cols.shape[-1:], dtype=x_cl.dtype)
        for k in range(g.cells):
            total += cols[..., k, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[bs, rs] = total / counts[rs]
    return out


# ----------------------------------------------------------------------------- global


def global_max(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """TF's ``reduce_max`` over ``axes`` (kept): NaN propagates and, among equal maxima, the
    last in row-major order wins (``[-0., +0.] -> +0.``). ``np.max`` picks an arbitrary zero
    among +0/-0, so a zero maximum takes the sign of the last zero."""
    out = np.max(a, axis=axes, keepdims=True)
    if not is_float_dtype(a.dtype):
        return out
    flat = np.moveaxis(a, axes, tuple(range(-len(axes), 0)))
    lead = a.ndim - len(axes)                  # explicit size: -1 fails for batch 0
    flat = flat.reshape(*flat.shape[:lead], math.prod(flat.shape[lead:]))
    zeros = flat == 0
    last = flat.shape[-1] - 1 - np.argmax(zeros[..., ::-1], axis=-1)
    sign = np.signbit(np.take_along_axis(flat, last[..., None], axis=-1)[..., 0])
    zero = np.where(sign, -np.zeros((), a.dtype), np.zeros((), a.dtype)).astype(a.dtype)
    return np.where(out == 0, np.expand_dims(zero, axes), out).astype(a.dtype)


def global_sum(a: np.ndarray, axes: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """The sum over ``axes`` (dropped) in ``dtype``: the reduced axes moved last and made
    contiguous, so the (pairwise) summation order, hence the bits, do not depend on the
    memory layout of ``a``."""
    moved = np.moveaxis(a, axes, tuple(range(-len(axes), 0)))
    cells = math.prod(a.shape[i] for i in axes)
    return np.ascontiguousarray(moved, dtype=dtype).reshape(
        *moved.shape[: a.ndim - len(axes)], cells).sum(axis=-1)
