"""Pins of the oracle's case drawing (issue 23: survivors of the mutation session in
``_draw`` and ``_special``): what each special-value corner draws from, which special
classes a case holds, and the documented value distributions. Expected values are
worked out by hand from each function's contract; none comes from a run of it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pooling_ref._case import _complexity
from pooling_ref._draw import Ints, Normal, NumpySource, Pool
from pooling_ref._params import _padding_weights, _Sizes
from pooling_ref._special import (
    Corners,
    _sizes_of,
    corner_elements,
    corner_of,
    ramp,
    special_classes,
    special_corners,
    spot,
    tile_corners,
)
from pooling_ref._supports import Supports
from pooling_ref.cases import Case, _corner, _elements, generate_cases, window_cells
from pooling_ref.ops import spec


class _Always:
    """A source whose coins all come up ``coin`` and whose integers are the lowest."""

    def __init__(self, coin: bool) -> None:
        self.coin = coin

    def boolean(self, p: float) -> bool:
        return self.coin

    def integer(self, lo: int, hi: int) -> int:
        return lo


def _pool(corner: str, dtype, coin: bool = False, op: str = "max_pool1d") -> Pool:
    plain = Ints(-2, 2)
    return corner_elements(_Always(coin), spec(op), np.dtype(dtype), corner, plain)["x"]


# ----------------------------------------------------------------------------- corner pools


@pytest.mark.parametrize("dtype, low", [("float32", -1.0), ("int8", -1.0), ("uint8", 0.0)])
def test_ties_draw_mostly_ones_and_a_low_value(dtype, low):
    """Ties: 1 (60 %), 0 and a lower value (20 % each): -1, or 0 for unsigned ints."""
    assert _pool("ties", dtype) == Pool((1.0, 0.0, low), (0.6, 0.2, 0.2))


def test_subnormal_corner_draws_signed_multiples_of_the_smallest_subnormal():
    """float32: ``k * 2^-149`` for k = 1..7 (10 % each), their negatives (30 % shared)."""
    tiny = 2.0**-149
    p = _pool("subnormal", "float32")
    assert p.options == tuple(k * tiny for k in range(1, 8)) + tuple(-k * tiny for k in
                                                                     range(1, 8))
    assert p.weights == pytest.approx((0.1,) * 7 + (0.3 / 7,) * 7, abs=0)


def test_int_limits_corner_draws_the_limits_and_their_neighbours():
    """int8, plain ints -2..2: those (sorted by magnitude, 10 % shared), then -128, 127,
    -127, 126 and 0 (10 % each)."""
    p = _pool("int limits", "int8")
    assert p.options == (0, -1, 1, -2, 2, -128, 127, -127, 126, 0)
    assert p.weights == pytest.approx((0.1,) * 5 + (0.1,) * 5)


@pytest.mark.parametrize("dtype, coin, expected", [
    # up to 2^24: the three largest values of the dtype
    ("int16", False, (32767, 32766, 32765)),
    ("uint8", True, (255, 254, 253)),
    # beyond: 2^24 .. 2^24 + 3, the first integers float32 cannot all hold
    ("int32", False, tuple(2**24 + k for k in range(4))),
    ("int64", False, tuple(2**24 + k for k in range(4))),
    # 64-bit and a wide coin: each of those times 4096, plus 0, 1, 2
    ("int64", True, tuple(v * 4096 + j for v in range(2**24, 2**24 + 4) for j in range(3))),
])
def test_beyond_2_24_corner_draws_integers_float32_rounds(dtype, coin, expected):
    assert _pool("beyond 2**24", dtype, coin) == Pool(expected)


def test_the_wide_coin_of_64_bit_integers_is_fair():
    """int64 "beyond 2**24": the wide values (times 4096, beyond 2^36) half of the time —
    400 draws from a seeded source: 200 expected, 3.5 sigma is 35."""
    src = NumpySource(np.random.default_rng(0))
    wide = sum(max(corner_elements(src, spec("max_pool1d"), np.dtype("int64"),
                                   "beyond 2**24", Ints(-2, 2))["x"].options) > 2**36
               for _ in range(400))
    assert 165 <= wide <= 235, wide


def test_a_corner_that_fills_no_array_draws_nothing():
    assert corner_elements(_Always(False), spec("max_pool1d"), np.dtype("float32"),
                           "nan first", Normal()) == {}


# ----------------------------------------------------------------------------- spot


def test_spot_in_one_channel_covers_exactly_that_channel():
    """A coin that says "one channel" and the lowest integers: batch 0, channel 0, the
    window of output 0 (cells 0-1 of pool 2): the NaN goes to channel 0 only."""
    case = Case("max_pool1d", np.zeros((2, 4, 3), np.float32), {"pool_size": 2})
    where = spot(_Always(False), case, "nan first")
    where.put(case)
    nan = np.argwhere(np.isnan(case.x)).tolist()
    assert nan == [[0, 0, 0]]


# ----------------------------------------------------------------------------- classes


@pytest.mark.parametrize("values, expected", [
    ([0.0, 1.0], []),                                   # +0 is no special value
    ([-0.0, 1.0], ["-0.0"]),
    ([2.0**-149, 0.0], ["subnormal"]),
    ([np.nan, np.inf, -np.inf], ["nan", "+inf", "-inf"]),
])
def test_special_classes_of_floats(values, expected):
    case = Case("max_pool1d", np.float32(values).reshape(1, -1, 1), {"pool_size": 1})
    assert special_classes(case) == expected


def test_a_plain_case_keeps_its_plain_label_whatever_it_holds():
    """The plain corner draws nothing special, so it always holds: its label stays ``""``
    even when the case happens to hold a special value."""
    x = np.float32([[[-np.inf], [1.0]]])
    assert corner_of(Case("max_pool1d", x, {"pool_size": 2}, corner="")) == ""


# ----------------------------------------------------------------------------- distributions


def test_normal_values_are_about_n_0_2():
    """``Normal()``: mean 0, standard deviation 2. 40 000 draws: the sample deviation's
    standard error is 2 / sqrt(80 000) ~ 0.007; 0.05 is seven of them."""
    a = NumpySource(np.random.default_rng(5)).values((40_000,), np.dtype("float64"), Normal())
    assert abs(a.std() - 2.0) < 0.05 and abs(a.mean()) < 0.05


@pytest.mark.parametrize("mode, sign", [("positive", 1.0), ("negative", -1.0)])
def test_signed_normal_values_have_magnitudes_of_at_least_a_quarter(mode, sign):
    """``|N(0, 2)| + 0.25``: every magnitude at least 0.25, and about 10 % below 0.5
    (``P(|N(0, 2)| < 0.25)`` = 0.0995); 2 000 draws."""
    a = NumpySource(np.random.default_rng(6)).values((2000,), np.dtype("float64"),
                                                   Normal(mode)) * sign
    assert a.min() >= 0.25 and 0.05 < np.mean(a < 0.5) < 0.15


# ----------------------------------------------------------------------------- corner schedule


def test_corner_schedule_of_the_first_110_cases():
    """Case ``i``: every tenth (``i % 10 == 9``) takes the next size corner; even cases and
    the first three are plain; the other odd cases take the special-value corners round
    robin from ``offset`` (here 0): 3, 5, 7 take the first three, 11..17 the next four
    (9 is a size case), 21..27 the next four, and so on."""
    s, sup, dtype = spec("max_pool1d"), Supports("max_pool1d"), np.dtype("float32")
    special, tiles = special_corners(dtype, s), tile_corners(sup)
    expected = [""] * 110
    n = 0
    for decade in range(11):
        for i in (1, 3, 5, 7):
            if decade * 10 + i >= 3:
                expected[decade * 10 + i] = special[n % len(special)]
                n += 1
        expected[decade * 10 + 9] = tiles[decade % len(tiles)]
    got = [_corner(i, 0, dtype, s, sup) for i in range(110)]
    assert got == expected


# ----------------------------------------------------------------------------- size key


@pytest.mark.parametrize("params, complexity", [
    ({}, 0),
    ({"pool_size": 2}, 3),                                  # an int: 1 + its value
    ({"pool_size": (2, 3)}, 10),                            # 1 + 2 items + (3 + 4)
    ({"padding": "valid", "data_format": "channels_last"}, 2),   # the defaults: 1 each
    ({"padding": "same", "data_format": "channels_first"}, 4),   # other words: 2 each
    ({"keepdims": True}, 1),                                # a bool: 1
])
def test_size_key_counts_elements_parameter_complexity_and_specials(params, complexity):
    """``(elements, complexity, special values)``: x of 2 x 3 x 1 holds NaN, -0 and +inf
    (three special cells; +0 and 1 are plain)."""
    x = np.float32([[np.nan, -0.0, np.inf], [0.0, 1.0, 1.0]]).reshape(2, 3, 1)
    assert Case("max_pool1d", x, params).size_key() == (6, complexity, 3)


@pytest.mark.parametrize("op, x_len, params, expected", [
    # pool 3, stride 2, "same" on 5 cells: pads (1, 1); windows -1..1, 1..3, 3..5
    ("max_pool1d", 5, {"pool_size": 3, "strides": 2, "padding": "same"},
     [[0, 1], [1, 2, 3], [3, 4]]),
    # kernel 2, dilation 2, "valid" on 5 cells: 3 outputs reading o and o + 2
    ("conv1d", 5, {"kernel": np.zeros((2, 1, 1), np.float32), "dilation_rate": 2},
     [[0, 2], [1, 3], [2, 4]]),
])
def test_window_cells_are_the_real_cells_each_output_reads(op, x_len, params, expected):
    case = Case(op, np.zeros((1, x_len, 1), np.float32), params)
    assert [window_cells(case, (o,))[0] for o in range(len(expected))] == expected


def test_grad_out_corners_of_an_entry_built_at_run_time():
    """An entry whose ``corners.into`` names ``grad_out`` (a string built at run time, as a
    registered op may have) gets the tie values in ``grad_out``, not in ``x``."""
    into = "".join("grad_out")
    s = dataclasses.replace(spec("avg_pool1d_grad"), corners=Corners(into=into))
    got = corner_elements(_Always(False), s, np.dtype("float32"), "ties", Normal())
    assert list(got) == ["grad_out"] and got["grad_out"] == Pool((0.0, 1.0, -1.0, 2.0, -2.0))


def test_spot_on_an_empty_batch_draws_batch_zero():
    """A batch of 0 items (``supports={"batch": 0}``): the spot's batch index is drawn
    from 0..0, not from an empty range; putting it changes nothing."""
    case = Case("max_pool1d", np.zeros((0, 4, 1), np.float32), {"pool_size": 2})
    where = spot(NumpySource(np.random.default_rng(0)), case, "nan first")
    assert where is None or where.index[0] == 0


@pytest.mark.parametrize("dtype, top", [("float16", 512.0), ("float32", 2.0**24)])
def test_ramp_values_wrap_so_128_cell_window_sums_stay_finite(dtype, top):
    """A rising ramp over 600 cells: float16 wraps below 65504 / 128 = 511.75, so a
    window of up to 128 cells sums to at most 65504 (finite); cell 512 holds
    512 - 511.75 = 0.25. float32 (exact integers up to 2**24) does not wrap over 600
    cells: cell 599 holds 599."""
    case = Case("avg_pool1d", np.zeros((1, 600, 1), dtype), {"pool_size": 128})
    ramp(case, True)
    x = case.x[0, :, 0].astype(np.float64)
    assert x.max() < top
    assert np.convolve(x, np.ones(128), "valid").max() <= float(np.finfo(dtype).max)
    want = 0.25 if dtype == "float16" else 512.0
    assert (x[512], x[599]) == (want, 599.0 if dtype == "float32" else 599 - 511.75)


@pytest.mark.parametrize("dtype, expected", [("int8", Ints(-50, 50)), ("uint8", Ints(0, 50)),
                                             ("int64", Ints(-50, 50))])
def test_plain_integer_cells_are_drawn_from_minus_50_to_50(dtype, expected):
    """Integer inputs outside the corners: the small integers -50..50, clipped to the dtype."""
    got = _elements(NumpySource(np.random.default_rng(0)), spec("max_pool1d"),
                    np.dtype(dtype), "")
    assert got["x"] == expected


def test_drawn_conv_kernels_span_one_to_four_cells_per_axis():
    """conv2d kernels: every size 1..4 along the longest axis is drawn (a grown non-square
    axis included), none beyond 4 — 900 seeded cases."""
    longest = {max(c.params["kernel"].shape[:-2])
               for seed in range(3) for c in generate_cases("conv2d", 300, seed=seed)}
    assert longest == {1, 2, 3, 4}


class _FirstChoiceHeads(_Always):
    """Coins all heads, the first option of every choice."""

    def __init__(self) -> None:
        super().__init__(True)

    def choice(self, options, weights=None):
        return options[0]


def test_max_pool_gradient_plain_ties_are_integers_minus_2_to_2():
    """Max pooling gradients' plain cases, on heads: x from -2..2, full of ties (they decide
    where the gradient goes)."""
    got = _elements(_FirstChoiceHeads(), spec("max_pool1d_grad"), np.dtype("float32"), "")
    assert got["x"] == Ints(-2, 2)



@pytest.mark.parametrize("where, index", [("first", (0, 0, 0)), ("middle", (1, 0, 0)),
                                          ("last", (1, 2, 1))])
def test_average_gradient_spots_go_to_the_first_middle_or_last_grad_out_cell(where, index):
    """Average pooling gradients take their special value in grad_out, a (2, 3, 2) array of
    12 cells: flat cell 0, 12 // 2 = 6 = (1, 0, 0) and 11 = (1, 2, 1)."""
    case = Case("avg_pool1d_grad", np.zeros((2, 4, 2), np.float32),
                {"pool_size": 2, "strides": 1, "grad_out": np.zeros((2, 3, 2), np.float32)})
    got = spot(_Always(False), case, f"nan {where}")
    assert (got.name, tuple(int(i) for i in got.index)) == ("grad_out", index)


def test_size_corners_draw_valid_padding_95_percent_of_the_time():
    """A size corner (a tail tile of channels, batch or a row) mostly uses "valid" (95 %)
    and sometimes "same" (5 %): "same" often pads a window's last cell, hiding the tail;
    other cases keep the family's own weights."""
    assert _padding_weights(_Sizes(1, 8, corner=True)) == [0.95, 0.05]
    assert _padding_weights(_Sizes(1, 8)) is None


@pytest.mark.parametrize("rising, expected", [(True, [0, 1, 3, 3, 5, 6, 7, 7, 8, 10]),
                                              (False, [9, 8, 8, 6, 6, 5, 4, 2, 1, 1])])
def test_integer_ramps_rise_by_position_plus_the_cell_parity(rising, expected):
    """int8, 10 cells holding 0, 0, 1, 0, -1, 1, -1, 0, 0, 1 (parity 0 0 1 0 1 1 1 0 0 1):
    the ramp writes position + parity (falling: 9 - position + parity), so windows keep
    their maximum at one end while the plain values still vary."""
    x = np.int8([0, 0, 1, 0, -1, 1, -1, 0, 0, 1]).reshape(1, 10, 1)
    case = Case("max_pool1d", x.copy(), {"pool_size": 2})
    ramp(case, rising)
    assert case.x.ravel().tolist() == expected


def test_drawn_conv_dilations_differ_per_axis_up_to_3():
    """conv2d: dilations drawn per axis (not one for all) take 1..3 on each axis: among
    900 seeded cases some have unequal axes reaching 3 and some reaching only 2."""
    tops = {max(d) for seed in range(3) for c in generate_cases("conv2d", 300, seed=seed)
            if isinstance(d := c.params.get("dilation_rate"), tuple) and len(set(d)) > 1}
    assert tops == {2, 3}


def test_size_corner_ramps_alternate_direction_every_ten_cases():
    """Size corners (cases 9, 19, 29, ...) hold a ramp along the spatial axis: rising in
    even decades (cases 9, 29, 49, 69), falling in odd ones, except row corners (always
    rising: the tail of a row is the last window) — 80 seeded max_pool1d cases."""
    cases = generate_cases("max_pool1d", 80, seed=0)
    seen = set()
    for i in range(9, 80, 10):
        c = cases[i]
        row = c.x[0, 0, :] if c.channels_first else c.x[0, :, 0]
        if row.size < 2:
            continue
        rising = bool(row[-1] > row[0])
        expected = (i // 10) % 2 == 0 or c.corner.startswith("rows")
        assert rising == expected, (i, c.corner, row)
        seen.add((c.corner.startswith("rows"), rising))
    assert seen == {(True, True), (False, True), (False, False)}


def test_channel_tiles_of_a_convolution_count_its_filters():
    """A channels size corner of a convolution holds when the input channels or the
    filters (the kernel's last axis) are the tile size: conv1d with 3 input channels and
    5 filters has channel sizes (3, 5)."""
    case = Case("conv1d", np.zeros((1, 4, 3), np.float32),
                {"kernel": np.zeros((2, 3, 5), np.float32)})
    assert _sizes_of(case)["channels"] == (3, 5)


def test_float32_ramps_wrap_at_2_24_where_integers_stop_being_exact():
    """float32 holds every integer up to 2**24 exactly: a rising ramp over 2**24 + 2
    cells (of zeros) wraps there, so its last two cells are 0 and 1, not 2**24 and 2**24
    (2**24 + 1 rounds down)."""
    case = Case("max_pool1d", np.zeros((1, 2**24 + 2, 1), np.float32), {"pool_size": 2})
    ramp(case, True)
    assert case.x[0, -3:, 0].tolist() == [2**24 - 1, 0.0, 1.0]


@pytest.mark.parametrize("simple, other", [("channels_last", "channels_first"),
                                           ("valid", "same"), ("VALID", "SAME"),
                                           ("NONE", "RELU"), (None, float("-inf"))])
def test_the_simpler_string_parameter_ranks_lower(simple, other):
    """Shrinking prefers the default-like string of each parameter: channels_last, valid /
    VALID (Keras, LiteRT) and LiteRT's fused activation NONE count 1, the others 2; an
    absent value 1, a non-finite float (jax's init_value) 2."""
    assert (_complexity(simple), _complexity(other)) == (1, 2)
