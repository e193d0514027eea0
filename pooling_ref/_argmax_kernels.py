"""The kernels of max pooling with indices: per window, the cell one scan chooses — its
value and its flat spatial index — as the ``"loop"`` specification and the vectorised
``"fast"`` method (bitwise equal).

The scan starts at the window's first real cell and moves on, in row-major window order,
only where :func:`pooling_ref._pool_kernels.scan_moves` says so (``scan="first"``: TF's
``MaxPoolWithArgmax``; ``"nan-last"``: torch's max pooling with indices). Padding cells
are never chosen. The index is the chosen cell's row-major index over the input's spatial
axes (each front end turns it into its framework's format); a window without a real cell
gives ``never_greater`` (``-inf`` / the integer minimum) and index ``-1``.

>>> import numpy as np
>>> from pooling_ref.geometry import plan_window
>>> g = plan_window((6,), (3,), (3,), "valid")
>>> x = np.float32([np.nan, 1, 2, 5, 5, -1]).reshape(1, 6, 1)
>>> values, index = argmax_loop(x, g, "first")
>>> values[0, :, 0], index[0, :, 0]
(array([nan,  5.], dtype=float32), array([0, 3]))
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ._pool_kernels import scan_moves
from .dtypes import never_greater
from .geometry import WindowGeometry
from .windows import pad_spatial, real_mask, real_window_at, shifted, window_offsets

__all__ = ["SCANS", "argmax_fast", "argmax_loop"]

#: The scans of :func:`pooling_ref._pool_kernels.scan_moves` that max pooling with
#: indices follows.
SCANS = ("first", "nan-last")


def _cell_index(g: WindowGeometry) -> np.ndarray:
    """``(1, *in_spatial, 1)``: the row-major spatial index of every input cell."""
    size = math.prod(g.in_spatial)
    return np.arange(size, dtype=np.int64).reshape(1, *g.in_spatial, 1)


def _outputs(xs: np.ndarray, g: WindowGeometry) -> tuple[np.ndarray, np.ndarray]:
    shape = (xs.shape[0], *g.out_spatial, xs.shape[-1])
    return np.full(shape, never_greater(xs.dtype), xs.dtype), np.full(shape, -1, np.int64)


def argmax_loop(xs: np.ndarray, g: WindowGeometry, scan: str
                ) -> tuple[np.ndarray, np.ndarray]:
    """Specification: per output position, scan the real cells of its window."""
    values, index = _outputs(xs, g)
    cells_index = _cell_index(g)
    n, c = xs.shape[0], xs.shape[-1]
    for pos in itertools.product(*(range(m) for m in g.out_spatial)):
        cells = real_window_at(xs, pos, g)
        k = math.prod(cells.shape[1:-1])
        if k == 0:
            continue
        cells = cells.reshape(n, k, c)
        where = real_window_at(cells_index, pos, g).reshape(k)
        best, pick = cells[:, 0].copy(), np.zeros((n, c), np.intp)
        for i in range(1, k):
            moves = scan_moves(best, cells[:, i], scan)
            best[moves], pick[moves] = cells[:, i][moves], i
        at = (slice(None), *pos, slice(None))
        values[at], index[at] = best, where[pick]
    return values, index


def argmax_fast(xs: np.ndarray, g: WindowGeometry, scan: str
                ) -> tuple[np.ndarray, np.ndarray]:
    """All windows at once, one strided view per window cell (in row-major window order);
    bitwise equal to the loop."""
    values, index = _outputs(xs, g)
    real = real_mask(g)
    xp = pad_spatial(xs, g, 0)
    ip = pad_spatial(_cell_index(g), g, -1)
    for offset in window_offsets(g):
        v = shifted(xp, offset, g)
        take = shifted(real, offset, g) & ((index < 0) | scan_moves(values, v, scan))
        np.copyto(values, v, where=take)
        np.copyto(index, shifted(ip, offset, g), where=take)
    return values, index
