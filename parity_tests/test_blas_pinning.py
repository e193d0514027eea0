"""The "fast" convolution pins OpenBLAS to one thread while its own threads run the GEMMs,
and restores the count afterwards (pooling_ref/_fast.py, ``_single_threaded_blas``).

The test observes both steps: the count seen *inside* the parallel run is 1, and the
count after it is the one set before (3, so that "unchanged" cannot pass by accident).
It forces the parallel branch (two workers, no size threshold), so it runs on any machine;
with a recording stand-in for the BLAS API it runs where NumPy's OpenBLAS is not found too.
"""

from __future__ import annotations

import numpy as np
import pytest

import pooling_ref
from pooling_ref import _fast


class _FakeBlas:
    """``(get, set)`` of a thread count that records every ``set``."""

    def __init__(self, count: int) -> None:
        self.count, self.sets = count, []

    def get(self) -> int:
        return self.count

    def put(self, n: int) -> None:
        self.sets.append(n)
        self.count = n


def _parallel_conv(monkeypatch, get, fmt: str) -> list[int]:
    """Run a "fast" convolution down the parallel branch; the BLAS counts seen inside."""
    seen = []
    inner_run = _fast.run

    def run(fn, tasks, nbytes):
        seen.append(get())
        inner_run(fn, tasks, nbytes)

    monkeypatch.setattr(_fast, "run", run)
    monkeypatch.setattr(_fast, "workers", lambda: 2)
    monkeypatch.setattr(_fast, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(_fast, "CONV_BLOCK_BYTES", 256)      # several blocks
    c = 8
    x = np.ones((2, 6, 6, c), np.float32)
    kernel = np.ones((3, 3, c, 2), np.float32)
    if fmt == "channels_first":
        x = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    out = pooling_ref.conv(x, kernel, data_format=fmt, method="fast")
    assert float(out.min()) == float(out.max()) == 9.0 * c    # 3x3 taps x c channels of 1
    return seen


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_blas_pinned_to_one_thread_and_restored(monkeypatch, fmt):
    fake = _FakeBlas(3)
    monkeypatch.setattr(_fast, "_openblas_threads_api", lambda: (fake.get, fake.put))
    seen = _parallel_conv(monkeypatch, fake.get, fmt)
    assert seen == [1], f"BLAS thread count inside the parallel run: {seen}"
    assert fake.sets == [1, 3], f"thread count set to {fake.sets}, not pinned and restored"
    assert fake.count == 3


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_numpy_openblas_pinned_and_restored(monkeypatch, fmt):
    api = _fast._openblas_threads_api()
    if api is None:
        pytest.skip("NumPy's OpenBLAS thread API not found (the stand-in test covers it)")
    get, put = api
    before = get()
    put(3)
    try:
        seen = _parallel_conv(monkeypatch, get, fmt)
        after = get()
    finally:
        put(before)
    assert seen == [1], f"OpenBLAS thread count inside the parallel run: {seen}"
    assert after == 3, f"OpenBLAS thread count after the run: {after}, set to 3 before"
