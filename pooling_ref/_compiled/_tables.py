"""The host-side tables of a compiled pooling launch that depend on the geometry and the
channel count only (cached; read-only arrays shared by every call).

>>> lane_blocks(40).tolist()
[[0, 32], [32, 8]]
"""

from __future__ import annotations

import functools

import numpy as np

from ..geometry import CELL_LO, TAP_HI, TAP_LO, WindowGeometry

__all__ = ["LANES", "lane_blocks", "whole_windows"]

#: Channel block widths of the channels-inner loop order, widest first (:func:`lane_blocks`).
LANES = (32, 16, 8)


@functools.lru_cache(maxsize=256)
def lane_blocks(channels: int) -> np.ndarray:
    """The channel blocks ``(first channel, width)`` of the channels-inner loop order: the
    widest of :data:`LANES` that fits, in turn; a remainder of fewer than 8 channels is
    covered by one more block of 8 ending at the last channel, which overlaps the block
    before it (its channels are computed twice, to the same values). Empty below 8.

    >>> lane_blocks(64).tolist(), lane_blocks(12).tolist()
    ([[0, 32], [32, 32]], [[0, 8], [4, 8]])
    """
    blocks, c = [], 0
    for lanes in LANES:
        while channels - c >= lanes:
            blocks.append((c, lanes))
            c += lanes
    if 0 < channels - c and channels >= LANES[-1]:
        blocks.append((channels - LANES[-1], LANES[-1]))
    table = np.array(blocks, np.int64).reshape(-1, 2)
    table.setflags(write=False)
    return table


@functools.lru_cache(maxsize=256)
def whole_windows(g3: WindowGeometry) -> np.ndarray:
    """``(i0, i1, cell, window)`` along the last spatial axis: the outputs ``i0 <= o < i1``
    whose window lies whole in the input (contiguous: the tap table's rows with every tap
    real), the input cell of output ``i0``'s first tap, and the window length; ``i0 = i1
    = 0`` when there are none."""
    t = g3.taps[2]
    k = g3.window[2]
    whole = np.flatnonzero((t[:, TAP_LO] == 0) & (t[:, TAP_HI] == k))
    row = [0, 0, 0, k]
    if whole.size:
        i0, i1 = int(whole[0]), int(whole[-1]) + 1
        assert whole.size == i1 - i0                   # contiguous (see the docstring)
        row = [i0, i1, t[i0, CELL_LO], k]
    table = np.array(row, np.int64)
    table.setflags(write=False)                        # cached: shared by every call
    return table
