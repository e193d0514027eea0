"""The shrinker's moves, one generator at a time, on hand-built cases (issue 23: the
mutation session found moves whose change no shrink test noticed, because a shrink still
ends small by another path). Each expected list of candidate cases is worked out by hand
from the move's contract (``pooling_ref/oracle/moves.py``: most drastic first).
"""

from __future__ import annotations

import numpy as np
import pytest

from pooling_ref.cases import Case
from pooling_ref.oracle import moves
from pooling_ref.oracle.shrinking import SHRINK_BUDGET, shrink


def _x(*shape, dtype=np.float32) -> np.ndarray:
    return np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)


def _ax(cases, axis) -> list:
    return [c.x.shape[axis] for c in cases]


# ----------------------------------------------------------------------------- sizes


@pytest.mark.parametrize("n, firsts", [
    # more than 3: the first half (rounded up), the second half, all but the last, all
    # but the first; 3 or fewer: only one cell fewer
    (7, [0, 3, 0, 1]), (4, [0, 2, 0, 1]), (3, [0, 1]), (2, [0, 1]),
])
def test_batch_halves_then_drops_one(n, firsts):
    """A batch of ``n``: items ``[0, 4)``, ``[3, 7)``, ``[0, 6)``, ``[1, 7)`` for 7."""
    case = Case("max_pool1d", _x(n, 3, 1), {"pool_size": 2})
    got = list(moves.batch(case))
    sizes = {7: [4, 4, 6, 6], 4: [2, 2, 3, 3], 3: [2, 2], 2: [1, 1]}[n]
    assert _ax(got, 0) == sizes
    assert [int(c.x[0, 0, 0]) // 3 for c in got] == firsts        # first item kept


def test_batch_of_one_has_no_move():
    assert list(moves.batch(Case("max_pool1d", _x(1, 3, 1), {"pool_size": 2}))) == []


@pytest.mark.parametrize("fmt, axis", [("channels_last", 2), ("channels_first", 1)])
def test_channels_drop_along_the_channel_axis(fmt, axis):
    """5 channels: 3, 3, 4, 4 (halves of 5 round up: ``[0, 3)`` and ``[2, 5)``)."""
    shape = (1, 3, 5) if fmt == "channels_last" else (1, 5, 3)
    case = Case("max_pool1d", _x(*shape), {"pool_size": 2, "data_format": fmt})
    got = list(moves.channels(case))
    assert _ax(got, axis) == [3, 3, 4, 4]
    assert all(c.x.shape[3 - axis] == 3 for c in got)              # spatial untouched


def test_spatial_shortens_each_axis_in_turn():
    """2x5 spatial: axis 1 (2 rows) loses one row two ways, then axis 2 (5 columns)
    halves two ways and loses one column two ways."""
    case = Case("max_pool2d", _x(1, 2, 5, 1), {"pool_size": 1})
    got = [c.x.shape[1:3] for c in moves.spatial(case)]
    assert got == [(1, 5), (1, 5), (2, 3), (2, 3), (2, 4), (2, 4)]


def test_kernel_drops_a_tap_from_either_end_then_the_bias():
    """A 2x1 kernel: the first axis loses its last tap, then its first; the second axis
    has one tap, no move; then the bias goes."""
    k = _x(2, 1, 1, 1)
    case = Case("conv2d", _x(1, 3, 3, 1), {"kernel": k, "bias": np.zeros(1, np.float32)})
    got = list(moves.kernel(case))
    assert [c.params["kernel"].ravel().tolist() for c in got[:2]] == [[0.0], [1.0]]
    assert "bias" in got[0].params and "bias" not in got[2].params and len(got) == 3


# ----------------------------------------------------------------------------- parameters


def test_window_ints_decrement_each_axis_then_drop():
    """``pool_size=(3, 3)``: the int 3 (all equal), the minimum 3, (2, 3), (3, 2), then
    the default; ``strides=2`` (an int): 1, then the default."""
    case = Case("max_pool2d", _x(1, 4, 4, 1), {"pool_size": (3, 3), "strides": 2})
    got = [{k: c.params.get(k, "-") for k in ("pool_size", "strides")}
           for c in moves.window_ints(case)]
    assert got == [{"pool_size": 3, "strides": 2}, {"pool_size": 3, "strides": 2},
                   {"pool_size": (2, 3), "strides": 2}, {"pool_size": (3, 2), "strides": 2},
                   {"pool_size": "-", "strides": 2},
                   {"pool_size": (3, 3), "strides": 1}, {"pool_size": (3, 3), "strides": "-"}]


def test_window_ints_stop_at_one():
    """``dilation_rate=(1, 2)``: its minimum 1, then (1, 1) (the 1 is not decremented),
    then the default; ``pool_size=1`` has no smaller value, only the default."""
    case = Case("max_pool2d", _x(1, 4, 4, 1), {"pool_size": 1, "dilation_rate": (1, 2)})
    got = [(c.params.get("pool_size", "-"), c.params.get("dilation_rate", "-"))
           for c in moves.window_ints(case)]
    assert got == [("-", (1, 2)), (1, 1), (1, (1, 1)), (1, "-")]


@pytest.mark.parametrize("padding, expected", [("same", ["valid"]), ("valid", ["-"])])
def test_padding_same_then_valid_then_default(padding, expected):
    case = Case("max_pool1d", _x(1, 3, 1), {"pool_size": 2, "padding": padding})
    assert [c.params.get("padding", "-") for c in moves.padding(case)] == expected


def test_defaults_move_channels_first_data_to_channels_last():
    """channels_first ``(1, 2, 3)``: the same values channels_last ``(1, 3, 2)``
    (``x[0, c, i]`` becomes ``x[0, i, c]``), and ``keepdims`` / ``groups=1`` dropped."""
    x = _x(1, 2, 3)
    case = Case("global_max_pool1d", x, {"data_format": "channels_first", "keepdims": True})
    got = list(moves.defaults(case))
    assert "keepdims" not in got[0].params
    moved = got[1]
    assert moved.params["data_format"] == "channels_last" and moved.x.shape == (1, 3, 2)
    assert moved.x[0, 2, 1] == x[0, 1, 2]


def test_values_replace_specials_all_at_once_then_one_by_one():
    """Cells ``[nan, -0, 0, 2, -inf]``: the special ones are nan, -0 and -inf (cells 0, 1
    and 4; +0 and 2 are plain); first all three become 1, then each alone."""
    x = np.float32([np.nan, -0.0, 0.0, 2.0, -np.inf]).reshape(1, 5, 1)
    got = [c.x.ravel() for c in moves.values(Case("max_pool1d", x, {"pool_size": 1}))]
    assert len(got) == 4
    assert got[0][[0, 1, 4]].tolist() == [1.0, 1.0, 1.0]
    assert [np.flatnonzero(g == 1.0).tolist() for g in got[1:]] == [[0], [1], [4]]


# ----------------------------------------------------------------------------- convolution


def test_conv_channels_drop_the_last_group_then_channels_then_filters():
    """groups 2, 4 input channels (2 per group), 4 filters (2 per group): dropping the last
    group keeps input channels 0-1 and filters 0-1 with no ``groups``; then one input
    channel per group (channels 0 and 2), then one filter per group (filters 0 and 2)."""
    x = _x(1, 3, 4)
    k = _x(1, 2, 4)
    b = np.float32([10, 11, 12, 13])
    case = Case("conv1d", x, {"kernel": k, "bias": b, "groups": 2})
    got = list(moves.conv_channels(case))
    assert len(got) == 3
    last = got[0]
    assert "groups" not in last.params and last.x.shape == (1, 3, 2)
    assert last.params["kernel"].tolist() == k[..., :2].tolist()
    assert last.params["bias"].tolist() == [10, 11]
    fewer_in = got[1]
    assert fewer_in.x[0, 0].tolist() == [0.0, 2.0] and fewer_in.params["kernel"].shape == (1, 1, 4)
    fewer_f = got[2]
    assert fewer_f.params["kernel"][0, 0].tolist() == [0.0, 2.0]
    assert fewer_f.params["bias"].tolist() == [10, 12]


@pytest.mark.parametrize("n, expected", [(7, [4, 6]), (4, [2, 3]), (3, [2]), (2, [1]), (1, [])])
def test_conv_channels_keep_half_then_one_fewer(n, expected):
    """``n`` filters in one group: keep ``ceil(n / 2)`` when more than 3, then ``n - 1``."""
    case = Case("conv1d", _x(1, 3, 1), {"kernel": _x(1, 1, n)})
    got = [c.params["kernel"].shape[-1] for c in moves.conv_channels(case)]
    assert got == expected


# ----------------------------------------------------------------------------- zero padding


@pytest.mark.parametrize("pad, expected", [
    (2, [1]),
    (0, []),
    # all equal pairs: the int, the per-axis ints, then one cell fewer on each side in turn
    (((1, 1),), [1, (1,), ((0, 1),), ((1, 0),)]),
    # unequal: only one cell fewer, never below 0
    (((0, 2),), [((0, 1),)]),
    (((2, 1),), [((1, 1),), ((2, 0),)]),
])
def test_zero_padding_moves(pad, expected):
    case = Case("zero_pad1d", _x(1, 3, 1), {"padding": pad})
    assert [c.params["padding"] for c in moves.zero_padding(case)] == expected


# ----------------------------------------------------------------------------- gradient ops


def test_gradient_moves_refit_grad_out_to_the_new_forward_result():
    """max_pool1d_grad on 4 cells, pool 3, strides 1: forward result of 2 cells, grad_out
    ``[5, 7]``. Each move that keeps a valid forward op gets a grad_out of its new result's
    length: the old leading cells, then ``GRAD_OUT_FILL`` (1.0) where the result grew.
    Shorter input (3 cells): 1 output, ``[5]``; pool 2: 3 outputs, ``[5, 7, 1]``; the
    default strides (= pool 3): 1 output, ``[5]``."""
    g = np.float32([5, 7]).reshape(1, 2, 1)
    case = Case("max_pool1d_grad", _x(1, 4, 1), {"pool_size": 3, "strides": 1, "grad_out": g})
    got = [(c.x.shape[1], c.params.get("pool_size"), c.params.get("strides"),
            c.params["grad_out"].ravel().tolist())
           for c in moves.gradient(case)
           if "pool_size" in c.params and c.x.shape[1] >= c.params["pool_size"]]
    assert moves.GRAD_OUT_FILL == 1.0
    assert got == [(3, 3, 1, [5.0]), (3, 3, 1, [5.0]), (4, 2, 1, [5.0, 7.0, 1.0]),
                   (4, 3, None, [5.0])]


def test_shrinking_stops_after_exactly_its_budget_of_calls():
    """A failure that only ever gives up one channel at a time (200 channels): every round
    tries the moves in order until the one-channel-fewer move is accepted, so shrinking
    would take hundreds of rounds; it stops after SHRINK_BUDGET = 400 calls of the
    predicate — not one more — and returns the smallest case accepted so far."""
    case = Case("max_pool1d", np.ones((1, 8, 200), np.float32), {"pool_size": 2})
    state = {"channels": 200, "calls": 0}

    def one_channel_fewer(new: Case) -> bool:
        state["calls"] += 1
        ok = new.x.shape == (1, 8, state["channels"] - 1) and new.params == case.params
        state["channels"] -= ok
        return ok

    small, steps = shrink(case, one_channel_fewer)
    assert SHRINK_BUDGET == 400 and state["calls"] == 400
    assert small.x.shape == (1, 8, 200 - steps) and steps > 0


def test_grouped_conv_gradient_keeps_the_grad_out_of_each_kept_filter():
    """conv1d_grad, groups 2, 4 filters (2 per group), grad_out channel ``c`` = ``10 c``:
    a move to one filter per group (filters 0 and 2) keeps grad_out channels 0 and 20 —
    the leading filter of each group, not channels 0 and 1."""
    x, k = _x(1, 3, 4), _x(1, 2, 4)
    g = np.tile(np.float32([0, 10, 20, 30]), (1, 3, 1))
    case = Case("conv1d_grad", x, {"kernel": k, "groups": 2, "grad_out": g})
    fewer_f = next(c for c in moves.gradient(case)
                   if c.params["kernel"].shape == (1, 2, 2) and c.x.shape == x.shape)
    assert fewer_f.params["grad_out"][0, 0].tolist() == [0.0, 20.0]


def test_channels_first_gradient_moves_keep_batch_and_channels_apart():
    """max_pool1d_grad channels_first, batch 2, 3 channels, 4 cells, pool 3, stride 1
    (2 outputs): the pool-2 move has 3 outputs, so its grad_out is refitted to (2, 3, 3)
    — batch 2 first, the 3 channels second — with the old values leading and the fill
    after them."""
    g = np.arange(1, 13, dtype=np.float32).reshape(2, 3, 2)
    case = Case("max_pool1d_grad", _x(2, 3, 4),
                {"pool_size": 3, "strides": 1, "data_format": "channels_first", "grad_out": g})
    pool2 = next(c for c in moves.gradient(case)
                 if c.params.get("pool_size") == 2 and c.x.shape == (2, 3, 4))
    got = pool2.params["grad_out"]
    assert got.shape == (2, 3, 3)
    assert got[..., :2].tolist() == g.tolist() and (got[..., 2] == moves.GRAD_OUT_FILL).all()


def test_conv_fewer_filters_keeps_the_leading_filters_of_every_group():
    """groups 2, 8 filters (4 per group): the first fewer-filters move keeps 2 of each
    group — filters 0, 1 and 4, 5 — with their bias."""
    case = Case("conv1d", _x(1, 3, 2), {"kernel": _x(1, 1, 8), "groups": 2,
                                        "bias": np.arange(8, dtype=np.float32)})
    fewer = [c for c in moves.conv_channels(case)
             if c.params["kernel"].shape[-1] == 4 and c.x.shape == (1, 3, 2)]
    assert fewer[0].params["bias"].tolist() == [0.0, 1.0, 4.0, 5.0]
