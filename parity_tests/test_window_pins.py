"""Hand-derived pins of the window plumbing that the mutation session found unpinned
(issue 23, ``nox -s mutation``): the compiled kernels' rank-3 view of a geometry, the input
rows one im2col chunk pads, and how im2col splits its work into chunks. Expected values
are worked out by hand in each docstring; none comes from a run of the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest

import pooling_ref as pr
from pooling_ref import geometry, windows
from pooling_ref.methods import METHODS

from ._methods import method_params


def _fields(g: geometry.WindowGeometry) -> tuple:
    return (g.in_spatial, g.window, g.strides, g.dilation, g.pads, g.out_spatial)


# ----------------------------------------------------------------------------- rank3


@pytest.mark.parametrize("args, expected", [
    # n=5, window 2, stride 2, "same": 3 outputs, (3-1)*2 + 2 - 5 = 1 padding cell after
    (((5,), (2,), (2,), "same"),
     ((1, 1, 5), (1, 1, 2), (1, 1, 2), (1, 1, 1), ((0, 0), (0, 0), (0, 1)), (1, 1, 3))),
    # 4x6, window 2x2, stride 1, dilation (1, 2), "valid": spans 2 and 3, outputs 3 and 4
    (((4, 6), (2, 2), (1, 1), "valid", (1, 2)),
     ((1, 4, 6), (1, 2, 2), (1, 1, 1), (1, 1, 2), ((0, 0), (0, 0), (0, 0)), (1, 3, 4))),
    # rank 3 already: unchanged (3x3x3, window 3, stride 3, "same": 1 output, no padding)
    (((3, 3, 3), (3, 3, 3), (3, 3, 3), "same"),
     ((3, 3, 3), (3, 3, 3), (3, 3, 3), (1, 1, 1), ((0, 0),) * 3, (1, 1, 1))),
])
def test_rank3_puts_neutral_axes_in_front(args, expected):
    """The leading axes added for the compiled kernels have size 1, window 1, stride 1,
    dilation 1, no padding and one output; the real axes keep every field."""
    assert _fields(geometry.rank3(geometry.plan_window(*args))) == expected


# ----------------------------------------------------------------------------- one chunk


def test_unpadded_part_spans_exactly_the_rows_its_windows_read():
    """7 rows, window 3, stride 2, "valid" (outputs 0..2 read rows 0-2, 2-4, 4-6): the
    windows of output rows [0, 2) read input rows 0..4, five rows, not six."""
    x = np.arange(7.0).reshape(1, 7, 1)
    g = geometry.plan_window((7,), (3,), (2,), "valid")
    part = windows._padded_part(x, g, slice(0, 1), 0, 2, 0.0)
    assert part[0, :, 0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_padded_part_pads_exactly_the_rows_its_windows_read():
    """6 rows, window 3, stride 2, "same": 3 outputs, (3-1)*2 + 3 - 6 = 1 padding row after.
    Output rows [1, 3) read padded rows 2..6 = input rows 2..5 and the padding row: five
    rows, the last one ``fill_value``."""
    x = np.arange(6.0).reshape(1, 6, 1)
    g = geometry.plan_window((6,), (3,), (2,), "same")
    assert g.pads == ((0, 1),)
    part = windows._padded_part(x, g, slice(0, 1), 1, 3, -9.0)
    assert part[0, :, 0].tolist() == [2.0, 3.0, 4.0, 5.0, -9.0]


def test_padded_part_with_padding_before_starts_at_the_padding():
    """5 rows, window 3, stride 1, "same": 5 outputs, 2 padding rows, (1, 1). Output rows
    [0, 2) read padded rows 0..3: the padding row before, then input rows 0..2."""
    x = np.arange(5.0).reshape(1, 5, 1) + 1
    g = geometry.plan_window((5,), (3,), (1,), "same")
    assert g.pads == ((1, 1),)
    part = windows._padded_part(x, g, slice(0, 1), 0, 2, 0.0)
    assert part[0, :, 0].tolist() == [0.0, 1.0, 2.0, 3.0]


# ----------------------------------------------------------------------------- chunking


def _chunks(x, g, chunk_bytes):
    return [(b.start, b.stop, r.start, r.stop, cols.copy())
            for (b, r), cols in windows.im2col_chunks(x, g, chunk_bytes)]


# 5 items of 4 rows, window 2, stride 2, "valid": 2 output rows of 2 cells of one float64
# channel, 16 bytes per output row, 32 per batch item.
@pytest.mark.parametrize("chunk_bytes, expected", [
    # 64 bytes hold two items: items [0, 2), [2, 4), [4, 5), all rows at once
    (64, [(0, 2, 0, 2), (2, 4, 0, 2), (4, 5, 0, 2)]),
    # 100 bytes: 100 // 32 = 3 items
    (100, [(0, 3, 0, 2), (3, 5, 0, 2)]),
    # 1 MiB: every item in one chunk
    (2**20, [(0, 5, 0, 2)]),
    # 16 bytes: less than an item, so one item and 16 // 16 = 1 row at a time
    (16, [(b, b + 1, r, r + 1) for b in range(5) for r in range(2)]),
    # 31 bytes: still one row (31 // 16 = 1)
    (31, [(b, b + 1, r, r + 1) for b in range(5) for r in range(2)]),
])
def test_im2col_chunks_take_as_many_items_or_rows_as_fit(chunk_bytes, expected):
    """Whole batch items while one fits in ``chunk_bytes`` (as many as fit), else output
    rows of one item (as many as fit, at least one); the windows of each chunk are the
    input cells ``2 r`` and ``2 r + 1`` of its items."""
    x = np.arange(20.0).reshape(5, 4, 1)
    g = geometry.plan_window((4,), (2,), (2,), "valid")
    got = _chunks(x, g, chunk_bytes)
    assert [c[:4] for c in got] == expected
    for b0, b1, r0, r1, cols in got:
        want = [[[[x[b, 2 * r, 0]], [x[b, 2 * r + 1, 0]]] for r in range(r0, r1)]
                for b in range(b0, b1)]
        assert cols.tolist() == want


def test_im2col_chunks_of_an_item_larger_than_the_chunk_bound_the_rows():
    """One item of 6 output rows of 24 bytes (window 3, stride 1, 8 rows, float64): 50
    bytes take 50 // 24 = 2 rows per chunk, so rows [0, 2), [2, 4), [4, 6)."""
    x = np.arange(8.0).reshape(1, 8, 1)
    g = geometry.plan_window((8,), (3,), (1,), "valid")
    got = _chunks(x, g, 50)
    assert [c[:4] for c in got] == [(0, 1, 0, 2), (0, 1, 2, 4), (0, 1, 4, 6)]
    assert got[1][4][0, :, :, 0].tolist() == [[2.0, 3.0, 4.0], [3.0, 4.0, 5.0]]


def test_im2col_chunks_of_one_byte_rows_take_as_many_rows_as_fit():
    """uint8, window 1: an output row is 1 byte, an item of 5 rows 5 bytes. 3 bytes take
    3 rows per chunk: rows [0, 3), [3, 5)."""
    x = np.arange(5, dtype=np.uint8).reshape(1, 5, 1)
    g = geometry.plan_window((5,), (1,), (1,), "valid")
    got = _chunks(x, g, 3)
    assert [c[:4] for c in got] == [(0, 1, 0, 3), (0, 1, 3, 5)]
    assert got[1][4].ravel().tolist() == [3, 4]


# ------------------------------------------------------------------------ windows without a cell


@pytest.mark.parametrize("channels", [1, 3, 8, 16, 40])   # every compiled loop order
@pytest.mark.parametrize("method", method_params(METHODS))
def test_a_window_of_only_padding_averages_nothing(channels, method):
    """Explicit pads as long as the window: the first two windows of pool 2, stride 1,
    pads (2, 0) over [1..13] hold only padding. Their real-cell average is 0 / 0 = NaN (the
    mean of nothing, as NumPy's division gives it, every method alike: no exception); the
    others are (1 + 2) / 2 ... and output 1 is the one real cell 1 / 1."""
    x = np.arange(1, 14, dtype=np.float32).reshape(1, 13, 1).repeat(channels, -1)
    got = pr.avg_pool(x, 2, 1, ((2, 0),), method=method)
    assert got.shape == (1, 14, channels)
    assert np.isnan(got[0, 0]).all()
    expected = np.concatenate([[1.0], (np.arange(1, 13) + np.arange(2, 14)) / 2])
    np.testing.assert_array_equal(got[0, 1:], np.repeat(expected[:, None], channels, 1))


@pytest.mark.parametrize("method", method_params(METHODS))
def test_one_cell_windows_with_explicit_pads_are_no_copy_under_xla(method):
    """XLA's one-cell-window copy (``Rules.copy_single``) holds only without padding: pads
    (2, 1) add three windows of padding only, so the output has 16 cells, not 13 — max:
    -inf there (XLA's empty-window value), average: NaN (0 / 0); the input in between."""
    x = np.arange(1, 14, dtype=np.float32).reshape(1, 13, 1)
    for op, empty in ((pr.max_pool, -np.inf), (pr.avg_pool, np.nan)):
        got = op(x, 1, 1, ((2, 1),), tf_kernel="xla", method=method)[0, :, 0]
        expected = np.concatenate([[empty] * 2, np.arange(1, 14), [empty]]).astype(np.float32)
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("method", method_params(METHODS))
def test_strided_windows_of_padding_only_on_every_method(method):
    """One cell, pads (2, 1), window 1, stride 3, ceil_mode: ceil(3 / 3) + 1 = 2 windows,
    the second starts at padded cell 3, in the right padding, and is dropped; the first is
    padded cell 0, not the real cell 2 — empty (max: the lowest float32 under the default
    rules; average: 0 / 0 = NaN). im2col's row span of that window lies wholly in the
    padding (it asked NumPy for a negative pad)."""
    x = np.ones((1, 1, 2), np.float32)
    low = np.finfo(np.float32).min
    got = pr.max_pool(x, 1, 3, ((2, 1),), ceil_mode=True, method=method)
    np.testing.assert_array_equal(got, np.full((1, 1, 2), low, np.float32))
    got = pr.avg_pool(x, 1, 3, ((2, 1),), ceil_mode=True, method=method)
    assert got.shape == (1, 1, 2) and np.isnan(got).all()


def test_rank3_keeps_the_ceil_overhang_on_the_original_axes():
    """5 cells, window 2, stride 2, ceil_mode: 3 windows, the last one 1 cell past the
    input (overhang 1); lifted to three axes (the compiled kernels' shape) the two new
    axes have none: (0, 0, 1)."""
    g = geometry.plan_window((5,), (2,), (2,), "valid", ceil_mode=True)
    assert g.overhang == (1,)
    g3 = geometry.rank3(g)
    assert g3.overhang == (0, 0, 1) and g3.out_spatial == (1, 1, 3)


def test_a_too_large_dilated_window_reports_its_span():
    """Window 3, dilation 2 spans 2 * (3 - 1) + 1 = 5 cells: too many for 4 ("valid"); the
    error says so, from output_length and from the pooling op alike."""
    with pytest.raises(ValueError, match=r"window 3 \(dilated span 5 on the axis\)"):
        geometry.output_length(4, 3, 1, "valid", 2)
    with pytest.raises(ValueError, match=r"pool_size \(3,\) \(dilated span 5 on spatial axis 0\)"):
        pr.max_pool(np.zeros((1, 4, 1), np.float32), 3, 1, dilation_rate=2)


@pytest.mark.parametrize("d, counts", [(1, [0, 0, 1, 2, 2, 2]), (2, [0, 1, 1, 2, 2])])
def test_real_counts_of_windows_starting_deep_in_the_padding(d, counts):
    """4 cells, window 2, stride 1, pads (3, 0) (7 padded cells): windows start at -3,
    -2, ... . Undilated (6 windows) the windows at -3 and -2 are all padding, the one at
    -1 holds cell 0; dilation 2 (taps 2 apart, span 3: 5 windows) -3 -> cells -3, -1
    (none real), -2 -> -2, 0 (one), -1 -> -1, 1 (one), 0 -> 0, 2 and 1 -> 1, 3 (two)."""
    g = geometry.plan_window((4,), (2,), (1,), ((3, 0),), (d,))
    assert g.real_counts()[0].tolist() == counts


def test_plan_window_takes_names_for_its_geometry_and_keywords_for_the_rest():
    """The geometry may be passed by name; window_name, ceil_mode and divisor only by
    keyword (a positional seventh argument is an error)."""
    g = geometry.plan_window(in_spatial=(5,), window=(2,), strides=(2,), padding="valid")
    assert g.out_spatial == (2,)
    with pytest.raises(TypeError):
        geometry.plan_window((5,), (2,), (2,), "valid", None, "op", "kernel_size")


def test_only_padded_1d_geometries_are_padded_1d():
    """XLA divides by the count (not by its reciprocal) in padded 1D average pooling only:
    a padded 2D geometry is not "padded 1D", nor an unpadded 1D one."""
    assert geometry.plan_window((5,), (2,), (1,), "same").padded_1d
    assert not geometry.plan_window((5,), (2,), (2,), "valid").padded_1d
    assert not geometry.plan_window((5, 5), (2, 2), (1, 1), "same").padded_1d


def test_tap_tables_are_read_only():
    """Geometries are cached and shared by every call: their tap tables cannot be
    written."""
    g = geometry.plan_window((5,), (2,), (1,), "same")
    assert not g.taps[0].flags.writeable
    with pytest.raises(ValueError):
        g.taps[0][0, 0] = 7
