"""Zero padding with Keras ``ZeroPadding1D/2D/3D`` semantics.

>>> import numpy as np
>>> zero_pad(np.ones((1, 2, 1)), ((1, 2),))[0, :, 0]
array([0., 1., 1., 0., 0.])

Values are copied bit for bit (``-0.0`` stays ``-0.0``, NaN payloads survive); the new
cells are ``+0`` of the input dtype.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from ._arrays import as_input, check_method, from_channels_last, to_channels_last
from .geometry import _as_int, normalize_data_format

__all__ = ["normalize_zero_padding", "zero_pad"]

Padding = int | Sequence[int] | Sequence[Sequence[int]]


def normalize_zero_padding(padding: Padding, rank: int, op: str = "zero_pad") -> tuple:
    """``((before, after),) * rank`` from an int, ``rank`` ints, or ``rank`` pairs.

    >>> normalize_zero_padding(1, 2)
    ((1, 1), (1, 1))
    >>> normalize_zero_padding((1, 2), 2)
    ((1, 1), (2, 2))
    >>> normalize_zero_padding(((0, 1), (2, 3)), 2)
    ((0, 1), (2, 3))

    For rank 1, a pair of ints ``(before, after)`` is accepted too, as in Keras
    ``ZeroPadding1D(padding=(1, 2))``.
    """
    def bad(why: str) -> ValueError:
        return ValueError(
            f"{op}: padding must be an int, a tuple of {rank} ints or a tuple of {rank} "
            f"(before, after) pairs; {why}, got {padding!r}"
        )

    if isinstance(padding, (str, bytes)) or padding is None:
        raise TypeError(f"{op}: padding must be an int or a tuple, got {padding!r}")
    if not isinstance(padding, (Sequence, np.ndarray)):
        v = _as_int(padding, "padding", op)
        pairs = ((v, v),) * rank
    else:
        items = list(padding)
        if rank == 1 and len(items) == 2 and not any(
                isinstance(i, (Sequence, np.ndarray)) for i in items):
            items = [tuple(items)]
        if len(items) != rank:
            raise bad(f"expected {rank} entries for spatial rank {rank}")
        pairs = []
        for item in items:
            if isinstance(item, (Sequence, np.ndarray)) and not isinstance(item, (str, bytes)):
                pair = tuple(_as_int(v, "padding", op) for v in item)
                if len(pair) != 2:
                    raise bad("each pair must have 2 ints")
            else:
                v = _as_int(item, "padding", op)
                pair = (v, v)
            pairs.append(pair)
        pairs = tuple(pairs)
    if any(v < 0 for pair in pairs for v in pair):
        raise bad("values must be >= 0")
    return pairs


def _pad_loop(x_cl: np.ndarray, pairs: tuple) -> np.ndarray:
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


def _pad_im2col(x_cl: np.ndarray, pairs: tuple) -> np.ndarray:
    """Gather: per axis an index map from output to input cells, one fancy-indexed copy."""
    spatial = x_cl.shape[1:-1]
    maps = [np.arange(-b, s + a) for s, (b, a) in zip(spatial, pairs)]
    inside = [(m >= 0) & (m < s) for m, s in zip(maps, spatial)]
    out = np.zeros((x_cl.shape[0], *(m.size for m in maps), x_cl.shape[-1]), x_cl.dtype)
    dst = np.ix_(*(np.flatnonzero(ok) for ok in inside))
    src = np.ix_(*(m[ok] for m, ok in zip(maps, inside)))
    out[(slice(None), *dst, slice(None))] = x_cl[(slice(None), *src, slice(None))]
    return out


def _pad_fast(a: np.ndarray, pairs: tuple, data_format: str) -> np.ndarray:
    """One zero-filled output in the input's own layout, one slice assignment."""
    first = 2 if data_format == "channels_first" else 1
    shape, inner = list(a.shape), [slice(None)] * a.ndim
    for axis, (b, after) in enumerate(pairs, start=first):
        shape[axis] += b + after
        inner[axis] = slice(b, b + a.shape[axis])
    out = np.zeros(shape, dtype=a.dtype)
    out[tuple(inner)] = a
    return out


_METHODS = {"loop": _pad_loop, "im2col": _pad_im2col}


def zero_pad(
    x: object,
    padding: Padding = 1,
    data_format: str = "channels_last",
    *,
    method: str = "auto",
) -> np.ndarray:
    """Pad the spatial axes of ``x`` with zeros (Keras ``ZeroPaddingND``).

    >>> import numpy as np
    >>> zero_pad(np.ones((1, 1, 2, 1)), (1, 0))[0, :, :, 0]   # 1 row above and below
    array([[0., 0.],
           [1., 1.],
           [0., 0.]])

    ``padding``: an int (every side of every spatial axis), a tuple of one int per spatial
    axis (symmetric), or a tuple of ``(before, after)`` pairs, one per axis. ``method``:
    ``"loop"``, ``"im2col"`` (a gather), ``"fast"`` or ``"auto"``; all bitwise identical.
    """
    op = "zero_pad"
    a = as_input(x, op)
    pairs = normalize_zero_padding(padding, a.ndim - 2, op)
    fmt = normalize_data_format(data_format, op)
    method = check_method(method, op)
    if method == "fast":
        return _pad_fast(a, pairs, fmt)
    return from_channels_last(_METHODS[method](to_channels_last(a, fmt), pairs), fmt)
