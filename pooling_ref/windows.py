"""The one window helper shared by pooling, convolution and ``im2col``.

Everything works on channels_last arrays ``(N, *spatial, C)`` that are already padded, so
every window is a plain strided slice:

* :func:`window_offsets` lists the cells of a window in row-major order (the order in
  which averages are summed);
* :func:`shifted` returns, for one cell offset, the view holding that cell of every output
  window — ``shifted(xp, offset, g)[n, *o, c] == xp[n, *(o*stride + offset), c]``;
* :func:`window_at` returns the window of one output position (the loop methods use it);
* :func:`im2col` gathers all windows into columns, and :func:`im2col_chunks` does so a
  bounded chunk at a time.

Example:

>>> import numpy as np
>>> x = np.arange(4.0).reshape(1, 4, 1)                  # N=1, length 4, C=1
>>> im2col(x, 2, strides=2)[0, :, :, 0]                  # two windows of two cells
array([[0., 1.],
       [2., 3.]])
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import numpy as np

from ._arrays import as_input, to_channels_last
from .geometry import (
    CELL_HI,
    CELL_LO,
    TAP_HI,
    TAP_LO,
    WindowGeometry,
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
    normalize_window_strides,
    plan_window,
)

__all__ = ["DEFAULT_CHUNK_BYTES", "im2col", "im2col_chunks", "pad_spatial", "window_offsets"]

#: Upper bound on the bytes of one chunk of columns built by :func:`im2col_chunks`.
DEFAULT_CHUNK_BYTES = 32 * 2**20


def window_offsets(g: WindowGeometry) -> list[tuple[int, ...]]:
    """Offsets (in padded coordinates) of the cells of a window, in row-major order."""
    return [
        tuple(t * d for t, d in zip(cell, g.dilation))
        for cell in itertools.product(*(range(k) for k in g.window))
    ]


def pad_spatial(x_cl: np.ndarray, g: WindowGeometry, value: object = 0) -> np.ndarray:
    """``x_cl`` padded on its spatial axes with ``g.pads``; ``x_cl`` itself if no padding."""
    if not g.padded:
        return x_cl
    width = ((0, 0), *g.pads, (0, 0))
    return np.pad(x_cl, width, mode="constant", constant_values=value)


def real_mask(g: WindowGeometry) -> np.ndarray:
    """``(1, *padded_spatial, 1)`` booleans: True on real cells, False on "same" padding."""
    return pad_spatial(np.ones((1, *g.in_spatial, 1), dtype=bool), g, False)


def padded_zeros(x_cl: np.ndarray, g: WindowGeometry, dtype) -> np.ndarray:
    """Zeros shaped like ``x_cl`` padded with ``g.pads`` (a gradient to scatter into)."""
    return np.zeros((x_cl.shape[0], *g.padded_spatial, x_cl.shape[-1]), dtype=dtype)


def unpad(gp: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """The real region of a padded channels_last array."""
    return gp[(slice(None), *(slice(b, b + n) for (b, _), n in zip(g.pads, g.in_spatial)),
               slice(None))]


def _axis_slice(start: int, stride: int, count: int) -> slice:
    return slice(start, start + stride * (count - 1) + 1 if count else start, stride)


def shifted(xp: np.ndarray, offset: Sequence[int], g: WindowGeometry) -> np.ndarray:
    """View of padded ``xp`` with, at output position ``o``, the window cell at ``offset``."""
    spatial = tuple(_axis_slice(o, s, m) for o, s, m in zip(offset, g.strides, g.out_spatial))
    return xp[(slice(None), *spatial, slice(None))]


def window_at(xp: np.ndarray, position: Sequence[int], g: WindowGeometry) -> np.ndarray:
    """The window ``(N, *window, C)`` of padded ``xp`` for output ``position``."""
    spatial = tuple(
        slice(p * s, p * s + d * (k - 1) + 1, d)
        for p, s, d, k in zip(position, g.strides, g.dilation, g.window)
    )
    return xp[(slice(None), *spatial, slice(None))]


def real_window_at(x_cl: np.ndarray, position: Sequence[int], g: WindowGeometry) -> np.ndarray:
    """The real (unpadded) cells of the window at ``position`` of unpadded ``x_cl``.

    The window is clipped to the input (read from the tap table :attr:`WindowGeometry.taps`),
    so "same" windows at the border are smaller.
    """
    return x_cl[(slice(None), *g.real_cells(position), slice(None))]


def columns(xp: np.ndarray, g: WindowGeometry, out: np.ndarray | None = None) -> np.ndarray:
    """All windows of padded ``xp`` as ``(N, *out_spatial, cells, C)`` (cells row-major)."""
    shape = (xp.shape[0], *g.out_spatial, g.cells, xp.shape[-1])
    if out is None:
        out = np.empty(shape, dtype=xp.dtype)
    for k, offset in enumerate(window_offsets(g)):
        out[..., k, :] = shifted(xp, offset, g)
    return out


def _padded_part(x_cl: np.ndarray, g: WindowGeometry, bs: slice, r0: int, r1: int,
                 fill_value: object) -> np.ndarray:
    """The padded input rows (first spatial axis) that the windows of output rows
    ``[r0, r1)`` span, for batch items ``bs``: the real rows those windows read come from
    the tap table (:attr:`WindowGeometry.taps`), every other row of the span holds
    ``fill_value`` (padding, or a real row no window of the part reads)."""
    s0, d0, k0, before0 = g.strides[0], g.dilation[0], g.window[0], g.pads[0][0]
    lo = r0 * s0 - before0                          # input row of the span's first row
    hi = (r1 - 1) * s0 + d0 * (k0 - 1) + 1 - before0
    if not g.padded:
        return x_cl[bs, lo:hi]
    table = g.taps[0][r0:r1]
    real = table[table[:, TAP_HI] > table[:, TAP_LO]]
    # no real row (windows of padding only): an empty slice inside the span, lo..hi
    src_lo = int(real[:, CELL_LO].min()) if real.size else min(max(lo, 0), hi)
    src_hi = int(real[:, CELL_HI].max()) if real.size else src_lo
    width = ((0, 0), (src_lo - lo, hi - src_hi), *g.pads[1:], (0, 0))
    return np.pad(x_cl[bs, src_lo:src_hi], width, mode="constant", constant_values=fill_value)


def im2col_chunks(
    x_cl: np.ndarray, g: WindowGeometry, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    *, fill_value: object = 0,
) -> Iterator[tuple[tuple[slice, slice], np.ndarray]]:
    """Yield ``((batch_slice, rows_slice), cols)`` covering all windows of ``x_cl``.

    ``x_cl`` is the unpadded channels_last input; padding cells (``g.pads``) hold
    ``fill_value``. ``cols`` has shape ``(nb, nr, *out_spatial[1:], cells, C)``: the windows
    of batch items ``batch_slice`` and output rows ``rows_slice`` (first spatial axis). Each
    chunk holds at most ``max(chunk_bytes, bytes of one output row of one batch item)``, the
    buffer is reused, and only the input rows of the current chunk are ever padded, so the
    working set stays bounded however large the input is (no padded copy of the input).
    """
    n, c = x_cl.shape[0], x_cl.shape[-1]
    xp = x_cl
    rows = g.out_spatial[0]
    row_bytes = int(np.prod(g.out_spatial[1:], dtype=np.int64)) * g.cells * c * xp.itemsize
    item_bytes = max(row_bytes * rows, 1)
    if item_bytes <= chunk_bytes:
        nb, nr = max(1, min(n, chunk_bytes // item_bytes)), max(rows, 1)   # rows may be 0
    else:
        nb, nr = 1, max(1, chunk_bytes // max(row_bytes, 1))
    buf = None
    for b0 in range(0, n, nb):
        for r0 in range(0, rows, nr):
            b1, r1 = min(b0 + nb, n), min(r0 + nr, rows)
            part = _padded_part(x_cl, g, slice(b0, b1), r0, r1, fill_value)
            sub = WindowGeometry(
                (part.shape[1], *g.in_spatial[1:]), g.window, g.strides, g.dilation,
                ((0, 0),) * g.rank, (r1 - r0, *g.out_spatial[1:]),
            )
            shape = (b1 - b0, r1 - r0, *g.out_spatial[1:], g.cells, c)
            if buf is None:
                buf = np.empty((nb * nr * int(np.prod(shape[2:], dtype=np.int64)),), xp.dtype)
            cols = buf[: int(np.prod(shape, dtype=np.int64))].reshape(shape)
            yield (slice(b0, b1), slice(r0, r1)), columns(part, sub, out=cols)


def im2col(
    x: object,
    window: int | Sequence[int],
    strides: int | Sequence[int] | None = None,
    padding: str = "valid",
    data_format: str = "channels_last",
    dilation_rate: int | Sequence[int] = 1,
    *,
    fill_value: object = 0,
) -> np.ndarray:
    """Gather every sliding window of ``x`` into columns.

    >>> import numpy as np
    >>> x = np.arange(16.0).reshape(1, 4, 4, 1)
    >>> cols = im2col(x, (2, 2), strides=2)          # shape (1, 2, 2, 4, 1)
    >>> cols[0, 0, 1, :, 0]                           # window at output (0, 1)
    array([2., 3., 6., 7.])

    Returns ``(N, *out_spatial, prod(window), C)`` whatever ``data_format`` is: the cells of
    each window in row-major order, channels last. ``cols.reshape(-1, prod(window) * C)`` is
    the classic im2col matrix, matching a Keras kernel reshaped to ``(-1, filters)``.
    ``strides=None`` means ``strides = window``; ``"same"`` padding cells hold ``fill_value``.

    This materialises all columns (``prod(window)`` times the input); the ``"im2col"``
    methods of the ops use :func:`im2col_chunks`, which bounds memory instead.
    """
    op = "im2col"
    a = as_input(x, op)
    rank = a.ndim - 2
    window, strides = normalize_window_strides(window, strides, rank, op, window_name="window")
    dilation = normalize_tuple(dilation_rate, rank, "dilation_rate", op)
    padding = normalize_padding(padding, op)
    data_format = normalize_data_format(data_format, op)
    x_cl = to_channels_last(a, data_format)
    g = plan_window(x_cl.shape[1:-1], window, strides, padding, dilation, op,
                    window_name="window")
    return columns(pad_spatial(x_cl, g, fill_value), g)
