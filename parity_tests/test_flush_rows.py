"""The compiled max pooling under a ``flush`` rule (oneDNN's float32 "compare keys, keep
the cell's bits", Eigen's DAZ): every loop order runs the plain max step, then computes
again each output whose maximum is zero or subnormal with the rule's own step. Pinned
against the ``"loop"`` method (the NumPy specification with the rule applied around it)
and by hand, on windows where the two steps choose different cells, in every loop order,
alone and among many batch items run in parts."""

from __future__ import annotations

import numpy as np
import pytest

import pooling_ref as pr
from pooling_ref import _compiled, _threads

if _compiled.AVAILABLE:
    from pooling_ref._compiled import _pool_orders

pytestmark = pytest.mark.skipif(not _compiled.AVAILABLE, reason="needs Numba")

S = np.float32(np.finfo(np.float32).tiny / 8)          # a positive subnormal
LOW = np.float32(-5.0)
#: The cells of the random windows: zeros of both signs, subnormals, a few normals (every
#: window a tie or a near tie under a flush rule).
TIES = np.float32([0.0, -0.0, S, -S, 2 * S, -2 * S, LOW, 1e-30])


def _window(rows) -> np.ndarray:
    """One channels_first image of three rows of 7 cells (3 whole windows of 3 x 3 with
    stride 2), ``rows`` giving the cells of the first window (the rest ``LOW``)."""
    x = np.full((1, 1, 3, 7), LOW, np.float32)
    x[0, 0, :, :3] = np.asarray(rows, np.float32)
    return x


def _first_output(x, tf_kernel="onednn"):
    got = pr.max_pool(x, 3, 2, data_format="channels_first", tf_kernel=tf_kernel,
                      method="compiled")
    want = pr.max_pool(x, 3, 2, data_format="channels_first", tf_kernel=tf_kernel,
                       method="loop")
    assert got.tobytes() == want.tobytes(), (got, want)
    return got[0, 0, 0, 0]


@pytest.mark.parametrize(("rows", "expected"), [
    # a subnormal maximum in row 0, then +0 in row 1: keys -0 and +0 are equal, the
    # first cell stays (the plain step would take +0, as 0 > -S)
    ([[LOW, -S, LOW], [LOW, 0.0, LOW], [LOW, LOW, LOW]], -S),
    # plain rows 0-1 keep +0, a subnormal in row 2 is no larger under the rule
    ([[0.0, LOW, LOW], [LOW, LOW, LOW], [LOW, LOW, S]], 0.0),
    # -0 first, then a subnormal in an odd cell of row 1: keys equal, -0 stays
    ([[-0.0, LOW, LOW], [LOW, S, LOW], [LOW, LOW, LOW]], -0.0),
])
def test_a_window_switching_to_the_rule_step_keeps_the_rules_choice(rows, expected):
    got = _first_output(_window(rows))
    assert got.tobytes() == np.float32(expected).tobytes()


def test_a_subnormal_in_the_rows_last_cell_switches_the_step():
    """The last cell of a row's whole windows (tap 3 of its last output) is checked too:
    a subnormal there, after +0 in the same window, is no larger under the rule."""
    x = np.full((1, 1, 3, 7), LOW, np.float32)
    x[0, 0, 0, 4] = 0.0
    x[0, 0, 1, 6] = S                     # row 1's last whole-window cell
    x[0, 0, 2, 5] = -S                    # (one more subnormal later in the window)
    got = pr.max_pool(x, 3, 2, data_format="channels_first", method="compiled")
    assert got[0, 0, 0, 2].tobytes() == np.float32(0.0).tobytes()
    assert got.tobytes() == pr.max_pool(x, 3, 2, data_format="channels_first",
                                        method="loop").tobytes()


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("tf_kernel", ["onednn", "eigen", None])
def test_mixed_zero_and_subnormal_windows_match_the_loop(seed, tf_kernel):
    """Random images of zeros of both signs, subnormals and a few normals (every window
    a tie or a near tie), some with no subnormal at all: bit for bit the loop method."""
    rng = np.random.default_rng(seed)
    h, w = rng.integers(3, 12, 2)
    x = rng.choice(TIES, size=(2, 3, h, w)).astype(np.float32)
    if seed % 3 == 0:
        x[np.abs(x) < np.finfo(np.float32).tiny] = 0.0       # no subnormal at all
    for padding in ("valid", "same"):
        got = pr.max_pool(x, 3, 2, padding, "channels_first", tf_kernel=tf_kernel,
                          method="compiled")
        want = pr.max_pool(x, 3, 2, padding, "channels_first", tf_kernel=tf_kernel,
                           method="loop")
        assert got.tobytes() == want.tobytes(), (seed, padding)


#: ``(channels, window, stride)`` of channels_last inputs reaching each loop order: many
#: channels (channels inner), 5 (tap-major), 3 with window 3 / 2 and stride 2 (their own
#: rows), one channel with stride 1 (the general one-channel rows).
ORDERS = [(16, 3, 2), (16, 2, 1), (5, 3, 2), (3, 3, 2), (3, 2, 2), (1, 3, 1), (1, 2, 2)]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize(("channels", "k", "s"), ORDERS)
@pytest.mark.parametrize("tf_kernel", ["onednn", "eigen"])
def test_every_loop_order_keeps_the_flush_rules_choice(seed, channels, k, s, tf_kernel):
    """Each loop order under a flush max rule (its plain step, then the zero and subnormal
    maxima computed again): windows of zeros of both signs, subnormals and a few normals,
    bit for bit the loop method."""
    rng = np.random.default_rng(seed)
    h, w = rng.integers(3, 10, 2)
    x = rng.choice(TIES, size=(2, h, w, channels)).astype(np.float32)
    for padding in ("valid", "same"):
        got = pr.max_pool(x, k, s, padding, tf_kernel=tf_kernel, method="compiled")
        want = pr.max_pool(x, k, s, padding, tf_kernel=tf_kernel, method="loop")
        assert got.tobytes() == want.tobytes(), (seed, padding)


def _chunk_rows(channels: int) -> int:
    """Output rows of 3 outputs x ``channels`` checked at once for a redo."""
    return -(-int(_pool_orders._SCAN_OUTPUTS) // (3 * channels))


@pytest.mark.parametrize("channels", [1, 5, 8])
@pytest.mark.parametrize("where", ["first", "chunk end", "next chunk", "chunk middle",
                                   "last"])
def test_a_switching_window_in_any_row_of_a_checked_chunk(channels, where):
    """Output rows are checked for a redo a chunk of rows at a time
    (``_pool_orders._SCAN_OUTPUTS`` outputs): a window where the plain step chooses another
    cell in a chunk's first, middle or last row, the next chunk's first row or the
    input's last row is computed again — one channel (rows), 5 (tap-major), 8 (channels
    inner), rows of 3 outputs."""
    per_chunk = _chunk_rows(channels)
    rows = 2 * per_chunk + 3
    oh = {"first": 0, "chunk end": per_chunk - 1, "next chunk": per_chunk,
          "chunk middle": per_chunk + per_chunk // 2, "last": rows - 1}[where]
    x = np.full((1, 2 * rows + 1, 7, channels), LOW, np.float32)
    # the window's first input row (shared with the output row above) is all LOW, so no
    # other output of its chunk is zero or subnormal; the +0 in its last input row makes
    # the output row below +0 (its own chunk when the window is a chunk's last)
    switching = np.float32([[LOW, LOW, LOW], [LOW, -S, LOW], [LOW, 0.0, LOW]])
    x[0, 2 * oh:2 * oh + 3, 2:5, channels - 1] = switching
    got = pr.max_pool(x, 3, 2, method="compiled")
    want = pr.max_pool(x, 3, 2, method="loop")
    assert got.shape[1] == rows
    assert got[0, oh, 1, channels - 1].tobytes() == (-S).tobytes()
    assert got.tobytes() == want.tobytes()


def test_a_subnormal_maximum_is_computed_again():
    """A window whose plain maximum is subnormal (+0 first, then S: the plain step takes
    S, oneDNN's rule keeps +0, the keys being equal) in every loop order."""
    for channels, k, s in ORDERS:
        x = np.full((1, 4, 4, channels), LOW, np.float32)
        x[0, 0, 0, :] = 0.0
        x[0, 0, 1, :] = S
        got = pr.max_pool(x, k, s, method="compiled")
        assert got[0, 0, 0].tobytes() == np.zeros(channels, np.float32).tobytes(), channels


@pytest.mark.parametrize("items", [(0,), (13, 39), (20,), (39,)])
def test_each_part_of_a_large_input_scans_its_own_batch_items(monkeypatch, items):
    """An input above the parallel threshold, run in parts, with windows where the plain
    step would choose another cell only in some batch items (at their first, middle or
    last rows): the parts holding them take the rule's step, and the whole result is bit
    for bit the loop method's."""
    monkeypatch.setattr(_threads, "workers", lambda: 2)       # parts even on one CPU
    x = np.full((40, 1, 128, 128), LOW, np.float32)
    assert x.nbytes >= _threads.PARALLEL_MIN_BYTES
    switching = np.float32([[LOW, -S, LOW], [LOW, 0.0, LOW], [LOW, LOW, LOW]])
    for b in items:
        for row in (0, 62, 125):
            x[b, 0, row:row + 3, 20:23] = switching
    got = pr.max_pool(x, 3, 2, data_format="channels_first", method="compiled")
    want = pr.max_pool(x, 3, 2, data_format="channels_first", method="loop")
    assert got.tobytes() == want.tobytes()
    assert got[items[-1], 0, 62 // 2, 10].tobytes() == (-S).tobytes()
