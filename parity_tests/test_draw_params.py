"""Pins of the oracle's size and parameter drawers (``pooling_ref._params``; issue 23:
survivors of the mutation session). A scripted source makes each helper's choices known,
so the drawn value is worked out by hand; the distributions are checked against the
weights written in the drawer, with bounds of several binomial standard errors.
"""

from __future__ import annotations

import numpy as np
import pytest

from pooling_ref import _params
from pooling_ref._draw import NumpySource
from pooling_ref._supports import Supports
from pooling_ref.ops import spec


class _Simplest:
    """The simplest draws (what Hypothesis shrinks to): the lowest int, the first option,
    a coin of ``coin``."""

    def __init__(self, coin: bool = False) -> None:
        self.coin = coin

    def integer(self, lo: int, hi: int) -> int:
        return lo

    def boolean(self, p: float) -> bool:
        return self.coin

    def choice(self, options, weights=None):
        return options[0]


def _rng_source(seed: int = 0) -> NumpySource:
    return NumpySource(np.random.default_rng(seed))


# ----------------------------------------------------------------------------- helpers


@pytest.mark.parametrize("padding, row, window, stride, dilation, expected", [
    # "valid": (row - 1) * stride + span, span = dilation * (window - 1) + 1
    ("valid", 5, 2, 1, 1, 6),
    ("valid", 4, 3, 2, 1, 9),
    ("valid", 3, 2, 2, 3, 8),
    # "same": row * stride
    ("same", 5, 2, 3, 1, 15),
])
def test_fit_row_gives_the_last_axis_row_outputs(padding, row, window, stride, dilation,
                                                 expected):
    spatial = [7, 3]
    _params._fit_row(spatial, [1, window], [1, stride], [1, dilation], padding, row)
    assert spatial == [7, expected]


def test_fit_row_without_a_row_changes_nothing():
    spatial = [7, 3]
    _params._fit_row(spatial, [1, 2], [1, 1], [1, 1], "valid", None)
    assert spatial == [7, 3]


def test_simplest_window_is_one_cell():
    """The first kind ("small") and the lowest length: 1, on any axis."""
    assert [_params._window(_Simplest(), n, "valid") for n in (1, 2, 5)] == [1, 1, 1]


@pytest.mark.parametrize("coin, values, expected", [
    (False, [3, 3], 3),            # equal values, the simplest coin: one int
    (True, [3, 3], (3, 3)),
    (False, [3, 2], (3, 2)),       # values that differ are always a tuple
])
def test_int_or_tuple(coin, values, expected):
    assert _params._int_or_tuple(_Simplest(coin), values) == expected


def test_simplest_pad_pair_is_asymmetric_by_one_after():
    """before = after = 0 and the asymmetric coin: (0, 1); without it (0, 0)."""
    assert _params._pad_pair(_Simplest(True)) == (0, 1)
    assert _params._pad_pair(_Simplest(False)) == (0, 0)


# ----------------------------------------------------------------------------- distributions


def test_channels_and_batch_are_drawn_with_their_weights():
    """Channels 1..4 with weights 0.25, 0.3, 0.3, 0.15; batch 1..3 with 0.4, 0.4, 0.2.
    4000 draws: a frequency's standard error is at most sqrt(0.25 / 4000) ~ 0.008; the
    bounds are 0.04 (five of them)."""
    src, sup = _rng_source(1), Supports("max_pool1d")
    drawn = [_params._sizes(src, sup, "") for _ in range(4000)]
    channels = np.bincount([s.c for s in drawn], minlength=5)[1:] / len(drawn)
    batch = np.bincount([s.n for s in drawn], minlength=4)[1:] / len(drawn)
    assert np.abs(channels - [0.25, 0.3, 0.3, 0.15]).max() < 0.04, channels
    assert np.abs(batch - [0.4, 0.4, 0.2]).max() < 0.04, batch


def test_channel_corners_draw_filters_past_a_packet():
    """A "channels 9" corner: 9 channels and 5, 9 or 17 filters (one past 4, 8, 16)."""
    src, sup = _rng_source(2), Supports("conv1d")
    drawn = [_params._sizes(src, sup, "channels 9") for _ in range(60)]
    assert {s.c for s in drawn} == {9} and {s.filters for s in drawn} == {5, 9, 17}


def test_dilation_is_two_or_three_on_every_axis_or_one_to_three_each():
    """Dilated draws: one value 2..3 on every axis, or each axis 1..3; 400 draws reach
    every such value and no other."""
    src, sup = _rng_source(3), Supports("conv2d")
    drawn = [_params._dilation(src, sup, 2) for _ in range(400)]
    dilated = [d for d, flag in drawn if flag]
    assert {tuple(d) for d, flag in drawn if not flag} == {(1, 1)}
    assert {v for d in dilated for v in d} == {1, 2, 3}


def test_plain_convolutions_get_several_input_channels():
    """Plain (one group) draws take 1..3 input channels per group; 200 draws reach 3."""
    src, sup = _rng_source(4), Supports("conv1d")
    drawn = [_params._channel_groups(src, _params._Sizes(1, 1), sup, "") for _ in range(200)]
    plain = {cin for groups, cin, _ in drawn if groups == 1}
    assert plain == {1, 2, 3}


def test_global_pooling_draws_both_keepdims():
    """keepdims is given half the time, False or True: 100 draws give both."""
    src, sup = _rng_source(5), Supports("global_max_pool1d")
    drafts = [_params.draw_global(src, spec("global_max_pool1d"), _params._Sizes(1, 1), sup,
                                  "", 3) for _ in range(100)]
    assert {d.params["keepdims"] for d in drafts if "keepdims" in d.params} == {False, True}


def test_spatial_sizes_within_the_limit_and_one_axis_longer():
    """Rank 2, limit 3: each axis 1..3, and in 60 % of draws one axis is 1 or 2 longer than
    the next (so at most 5): 300 draws reach 1..5 and axes that differ."""
    src, sup = _rng_source(6), Supports("max_pool2d")
    drawn = [_params._spatial(src, sup, 2, 3) for _ in range(300)]
    assert {v for d in drawn for v in d} == {1, 2, 3, 4, 5}
    assert any(d[0] != d[1] for d in drawn)


def test_channels_first_bias_draws_filters_equal_to_the_last_output_length():
    """Keras' channels_first bias bug shows when the last output length equals the
    filters, so a channels_first convolution with a bias draws that case on a coin. With
    every coin up and the lowest ints: one group, 1 input channel, 1 + 1 filters (the
    asymmetric plain draw), dilation 2, kernel 1 on 1 cell, "valid": the output length is
    (1 - (2 * (1 - 1) + 1)) // 1 + 1 = 1, so the filters become 1 (bias of 1)."""
    sup = Supports("conv1d", {"data_format": ["channels_first"]})
    d = _params.draw_conv(_Simplest(True), spec("conv1d"), _params._Sizes(1, 1), sup, "", 3)
    assert (d.spatial, d.params["dilation_rate"], d.params["padding"]) == ([1], (2,), "valid")
    assert d.params["data_format"] == "channels_first"
    assert d.shapes == {"kernel": (1, 1, 1), "bias": (1,)}


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_channels_first_bias_draws_up_to_four_filters_per_group_of_the_output_length(n):
    """channels_first with a bias, one group, kernel 1, strides 1, "valid" on ``n`` cells:
    the last output length is ``n``. Up to 4 filters per group, a coin (0.5) makes the
    filters ``n``, so at least half of the biased drafts have ``n`` filters (a few more
    draw it by chance); the bound is five binomial standard errors below 0.5
    (``sqrt(0.25 / drafts)``). Beyond 4 the drawer never gives ``n`` filters: a plain
    draw has at most 3 per group, plus one for asymmetric channel counts."""
    src = _rng_source(7)
    sup = Supports("conv1d", {"data_format": ["channels_first"], "groups": [1],
                              "kernel_size": [1], "strides": [1], "dilation_rate": [1],
                              "padding": ["valid"], "spatial": [n]})
    drafts = [_params.draw_conv(src, spec("conv1d"), _params._sizes(src, sup, ""), sup, "", 3)
              for _ in range(400)]
    biased = [d for d in drafts if d is not None and "bias" in d.shapes]
    assert len(biased) > 200
    share = np.mean([d.shapes["kernel"][-1] == n for d in biased])
    if n <= 4:
        assert share >= 0.5 - 5 * np.sqrt(0.25 / len(biased)), share
    else:
        assert share == 0.0, share
