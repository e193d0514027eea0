"""im2col methods keep a bounded working set (windows.DEFAULT_CHUNK_BYTES) on large inputs.

Bound asserted (tracemalloc peak, bytes): ``output + padded-input copy + 3 * chunk`` — the
column chunk, its reduction temporaries (running max/sum, comparison mask) and slack. An
unchunked im2col of a 64 MB input with window 3 x 3 would need 9x the input (576 MB).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import pooling_ref as pr
from pooling_ref.windows import DEFAULT_CHUNK_BYTES

pytestmark = pytest.mark.slow


def _peak(f) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        f()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("op", ["max_pool", "avg_pool", "conv"])
def test_im2col_working_set_is_bounded(op):
    x = np.ones((4, 1024, 1024, 4), np.float32)            # 64 MB
    original = x.copy()
    if op == "conv":
        k = np.ones((3, 3, 4, 4), np.float32)
        out_bytes = 4 * 1022 * 1022 * 4 * 4
        peak = _peak(lambda: pr.conv(x, k, method="im2col"))
    else:
        f = getattr(pr, op)
        out_bytes = 4 * 1022 * 1022 * 4 * 4
        peak = _peak(lambda: f(x, 3, strides=1, method="im2col"))
    bound = out_bytes + 3 * DEFAULT_CHUNK_BYTES
    assert peak <= bound, (f"{op} im2col peak {peak / 2**20:.0f} MB > bound "
                           f"{bound / 2**20:.0f} MB (unchunked: {9 * x.nbytes / 2**20:.0f} MB)")
    assert np.array_equal(x, original)
