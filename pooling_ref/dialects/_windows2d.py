"""NHWC 2D pooling windows with TF's SAME / VALID geometry, gathered in a chosen cell order.

The geometry (output length, SAME pads) comes from :func:`pooling_ref.output_length` and
:func:`pooling_ref.same_pads`; this module only lays the window cells out, which the LiteRT
rules need in a runtime's own order (XNNPACK reads a window column by column).

>>> import numpy as np
>>> x = np.arange(6, dtype=np.float32).reshape(1, 2, 3, 1)     # rows [0 1 2], [3 4 5]
>>> w = gather(x, (2, 2), (1, 1), "VALID", order="column")
>>> w.cells[0, 0, 0, 0].tolist()                                 # window at (0, 0)
[0.0, 3.0, 1.0, 4.0]
>>> gather(x, (2, 2), (1, 1), "VALID").cells[0, 0, 0, 0].tolist()    # row-major
[0.0, 1.0, 3.0, 4.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry import output_length, same_pads

__all__ = ["Windows", "gather"]


@dataclass(frozen=True)
class Windows:
    """The cells of every window: ``cells`` (N, OH, OW, C, K) and ``real`` (OH, OW, K), True
    for a cell inside the input. A padding cell holds the nearest input cell (its index
    clamped into the input), which is what XNNPACK's max pooling reads there."""

    cells: np.ndarray
    real: np.ndarray

    def counts(self) -> np.ndarray:
        """Real cells per window, shape (OH, OW)."""
        return self.real.sum(axis=-1)


def _axis(n: int, k: int, s: int, padding: str) -> tuple[np.ndarray, np.ndarray]:
    """Input index of each (output, tap) on one axis, clamped into [0, n), and whether it is
    a real cell."""
    if padding == "SAME":
        before, out = same_pads(n, k, s)[0], output_length(n, k, s, "same")
    else:
        before, out = 0, output_length(n, k, s, "valid")
    index = np.arange(out)[:, None] * s + np.arange(k)[None, :] - before
    return np.clip(index, 0, n - 1), (index >= 0) & (index < n)


def gather(x: np.ndarray, filter_size: tuple[int, int], strides: tuple[int, int],
           padding: str, *, order: str = "row") -> Windows:
    """The windows of ``x`` (N, H, W, C); ``order="row"`` lists a window's cells row by row
    (TFLite's builtin and reference kernels), ``"column"`` column by column (XNNPACK)."""
    (fh, fw), (sh, sw) = filter_size, strides
    iy, ry = _axis(x.shape[1], fh, sh, padding)
    ix, rx = _axis(x.shape[2], fw, sw, padding)
    cells = x[:, iy[:, None, :, None], ix[None, :, None, :], :]     # (N, OH, OW, fh, fw, C)
    real = ry[:, None, :, None] & rx[None, :, None, :]              # (OH, OW, fh, fw)
    cells = np.moveaxis(cells, -1, 3)                               # (N, OH, OW, C, fh, fw)
    if order == "column":
        cells, real = np.swapaxes(cells, -1, -2), np.swapaxes(real, -1, -2)
    k = fh * fw
    return Windows(cells.reshape(*cells.shape[:4], k), real.reshape(*real.shape[:2], k))
