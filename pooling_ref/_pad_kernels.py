"""The zero padding kernels: the ``"loop"`` specification, a gather (``"im2col"``) and one
slice assignment (``"fast"``), each ``kernel(a, pairs, data_format)`` for normalised
``pairs`` ``((before, after), ...)``; all bitwise identical.

>>> import numpy as np
>>> pad_loop(np.ones((1, 2, 1)), ((1, 0),), "channels_last")[0, :, 0]
array([0., 1., 1.])
"""

from __future__ import annotations

import itertools

import numpy as np

from ._arrays import from_channels_last, to_channels_last

__all__ = ["pad_fast", "pad_im2col", "pad_loop"]


def _pad_loop_cl(x_cl: np.ndarray, pairs: tuple) -> np.ndarray:
    """Specification: every output cell is the input cell it maps to, or +0."""
    n, c = x_cl.shape[0], x_cl.shape[-1]
    out_spatial = [s + b + a for s, (b, a) in zip(x_cl.shape[1:-1], pairs)]
    out = np.empty((n, *out_spatial, c), dtype=x_cl.dtype)
    zero = np.zeros((n, c), dtype=x_cl.dtype)
    for pos in itertools.product(*(range(m) for m in out_spatial)):
        src = tuple(p - b for p, (b, _) in zip(pos, pairs))
        inside = all(0 <= i < s for i, s in zip(src, x_cl.shape[1:-1]))
        out[(slice(None), *pos, slice(None))] = (
            x_cl[(slice(None), *src, slice(None))] if inside else zero)
    return out


def _pad_gather_cl(x_cl: np.ndarray, pairs: tuple) -> np.ndarray:
    """Gather: per axis an index map from output to input cells, one fancy-indexed copy."""
    spatial = x_cl.shape[1:-1]
    maps = [np.arange(-b, s + a) for s, (b, a) in zip(spatial, pairs)]
    inside = [(m >= 0) & (m < s) for m, s in zip(maps, spatial)]
    out = np.zeros((x_cl.shape[0], *(m.size for m in maps), x_cl.shape[-1]), x_cl.dtype)
    dst = np.ix_(*(np.flatnonzero(ok) for ok in inside))
    src = np.ix_(*(m[ok] for m, ok in zip(maps, inside)))
    out[(slice(None), *dst, slice(None))] = x_cl[(slice(None), *src, slice(None))]
    return out


def pad_fast(a: np.ndarray, pairs: tuple, data_format: str) -> np.ndarray:
    """One zero-filled output in the input's own layout, one slice assignment."""
    first = 2 if data_format == "channels_first" else 1
    shape, inner = list(a.shape), [slice(None)] * a.ndim
    for axis, (b, after) in enumerate(pairs, start=first):
        shape[axis] += b + after
        inner[axis] = slice(b, b + a.shape[axis])
    out = np.zeros(shape, dtype=a.dtype)
    out[tuple(inner)] = a
    return out


def pad_loop(a: np.ndarray, pairs: tuple, data_format: str) -> np.ndarray:
    """The specification (:func:`_pad_loop_cl`) in ``data_format``."""
    return from_channels_last(_pad_loop_cl(to_channels_last(a, data_format), pairs),
                              data_format)


def pad_im2col(a: np.ndarray, pairs: tuple, data_format: str) -> np.ndarray:
    """The gather (:func:`_pad_gather_cl`) in ``data_format``."""
    return from_channels_last(_pad_gather_cl(to_channels_last(a, data_format), pairs),
                              data_format)
