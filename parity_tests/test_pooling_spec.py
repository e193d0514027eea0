"""Pooling without TensorFlow: hand-derived values, method agreement, purity, argument errors.

Every literal expected value below is derived by hand in the comment next to it (never copied
from a run of pooling_ref). The method-agreement tests compare ``"loop"`` (the readable
specification) with ``"im2col"``, ``"fast"``, ``"compiled"`` (with Numba) and the default
bitwise — the API promises bitwise agreement for max pooling and, since every method sums
average windows in the same row-major order, pooling_ref also delivers it for averages
(asserted; a reordering that is "within tolerance" would be a deliberate change and must
update this test).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling_ref as pr
from pooling_ref import methods

from ._assert import assert_bitwise
from ._methods import method_params
from .strategies import pool_cases

METHODS = (*methods.names("max_pool"), None)       # None: ``method`` omitted
POOLS = {"max_pool": pr.max_pool, "avg_pool": pr.avg_pool}


def _all_methods(func, x, **params):
    """``{method: result}`` for every method (``None`` = keyword omitted)."""
    out = {}
    for m in METHODS:
        out[m] = func(x, **params) if m is None else func(x, **params, method=m)
    return out


def _check_hand(op, x, params, expected):
    expected = np.asarray(expected, dtype=x.dtype)
    for m, got in _all_methods(POOLS[op], x, **params).items():
        kw = params if m is None else {**params, "method": m}
        assert_bitwise(got, expected, op=op, params=kw, arrays={"x": x},
                       what="differs from the hand-derived value")


# ----------------------------------------------------------------------------- hand-derived


# The write-up's 4x4 example, window 2x2, stride 2 (strides omitted = pool_size):
#   [[ 1,  2,  5,  6],        blocks: top-left {1,2,3,4}   top-right {5,6,7,8}
#    [ 3,  4,  7,  8],                bottom-left {9,10,11,12} bottom-right {13,14,15,16}
#    [ 9, 10, 13, 14],        max  -> [[4, 8], [12, 16]]
#    [11, 12, 15, 16]]        mean -> [[10/4, 26/4], [42/4, 58/4]] = [[2.5, 6.5], [10.5, 14.5]]
X44 = np.array([[1, 2, 5, 6], [3, 4, 7, 8], [9, 10, 13, 14], [11, 12, 15, 16]], np.float32)


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_writeup_4x4_window2_stride2(fmt):
    x = X44.reshape(1, 4, 4, 1) if fmt == "channels_last" else X44.reshape(1, 1, 4, 4)
    shape = (1, 2, 2, 1) if fmt == "channels_last" else (1, 1, 2, 2)
    p = {"pool_size": 2, "data_format": fmt}
    _check_hand("max_pool", x, p, np.reshape([[4, 8], [12, 16]], shape))
    _check_hand("avg_pool", x, p, np.reshape([[2.5, 6.5], [10.5, 14.5]], shape))
    _check_hand("max_pool", x, {**p, "strides": (2, 2)}, np.reshape([[4, 8], [12, 16]], shape))


def test_5x5_window2_stride1():
    # x[i, j] = 5*i + j (0..24). Window 2x2 stride 1 valid -> 4x4 outputs.
    # Window at (i, j) holds 5i+j, 5i+j+1, 5i+j+5, 5i+j+6:
    #   max  = 5i + j + 6
    #   mean = (20i + 4j + 12) / 4 = 5i + j + 3
    x = np.arange(25, dtype=np.float32).reshape(1, 5, 5, 1)
    i, j = np.meshgrid(np.arange(4), np.arange(4), indexing="ij")
    _check_hand("max_pool", x, {"pool_size": 2, "strides": 1}, (5 * i + j + 6)[None, :, :, None])
    _check_hand("avg_pool", x, {"pool_size": (2, 2), "strides": 1},
                (5 * i + j + 3)[None, :, :, None])
    # "same" on the same input: out = ceil(5/1) = 5, total pad = (5-1)*1 + 2 - 5 = 1 -> (0, 1):
    # the last row/column windows hang over the bottom/right edge. Max = 5*min(i+1,4) +
    # min(j+1,4); mean over the real cells only, e.g. corner (4,4) = 24, edge (4,0) =
    # (20+21)/2 = 20.5, edge (0,4) = (4+9)/2 = 6.5.
    ii, jj = np.meshgrid(np.arange(5), np.arange(5), indexing="ij")
    mx = 5 * np.minimum(ii + 1, 4) + np.minimum(jj + 1, 4)
    _check_hand("max_pool", x, {"pool_size": 2, "strides": 1, "padding": "same"},
                mx[None, :, :, None])
    got = pr.avg_pool(x, 2, strides=1, padding="same")[0, :, :, 0]
    assert got[4, 4] == 24 and got[4, 0] == 20.5 and got[0, 4] == 6.5 and got[0, 0] == 3.0


def test_tf_facts_avg1d_k4_s1_same():
    # n=5, k=4, s=1: out 5, total pad (5-1)*1 + 4 - 5 = 3 -> before 1, after 2 (odd cell
    # after). Windows over padded [0,1,2,3,4,5,0,0] real cells:
    #   [1,2,3] -> 2 ; [1,2,3,4] -> 2.5 ; [2,3,4,5] -> 3.5 ; [3,4,5] -> 4 ; [4,5] -> 4.5
    x = np.arange(1, 6, dtype=np.float32).reshape(1, 5, 1)
    _check_hand("avg_pool", x, {"pool_size": 4, "strides": 1, "padding": "same"},
                np.reshape([2, 2.5, 3.5, 4, 4.5], (1, 5, 1)))


def test_tf_facts_avg1d_k3_s2_same():
    # n=4, k=3, s=2: out ceil(4/2) = 2, total pad (2-1)*2 + 3 - 4 = 1 -> (0, 1).
    #   windows [1,2,3] -> 2 ; [3,4,pad] -> 3.5
    x = np.arange(1, 5, dtype=np.float32).reshape(1, 4, 1)
    _check_hand("avg_pool", x, {"pool_size": 3, "strides": 2, "padding": "same"},
                np.reshape([2, 3.5], (1, 2, 1)))
    _check_hand("max_pool", x, {"pool_size": 3, "strides": 2, "padding": "SAME"},
                np.reshape([3, 4], (1, 2, 1)))


def test_1d_strides_larger_than_window():
    # x = [0..9], k=2, s=3 valid: out floor((10-2)/3)+1 = 3, windows start at 0, 3, 6:
    #   [0,1] [3,4] [6,7] -> max 1,4,7 ; mean 0.5,3.5,6.5   (cells 2, 5, 8, 9 skipped)
    x = np.arange(10, dtype=np.float32).reshape(1, 10, 1)
    _check_hand("max_pool", x, {"pool_size": 2, "strides": 3}, np.reshape([1, 4, 7], (1, 3, 1)))
    _check_hand("avg_pool", x, {"pool_size": 2, "strides": 3},
                np.reshape([0.5, 3.5, 6.5], (1, 3, 1)))
    # "same": out ceil(10/3) = 4, total pad max((4-1)*3 + 2 - 10, 0) = 1 -> (0, 1):
    #   windows [0,1] [3,4] [6,7] [9,pad] -> max 1,4,7,9 ; mean 0.5,3.5,6.5,9
    p = {"pool_size": 2, "strides": 3, "padding": "same"}
    _check_hand("max_pool", x, p, np.reshape([1, 4, 7, 9], (1, 4, 1)))
    _check_hand("avg_pool", x, p, np.reshape([0.5, 3.5, 6.5, 9], (1, 4, 1)))
    # k=1, s=4 on n=6: out ceil(6/4) = 2, total pad max(4 + 1 - 6, 0) = 0 -> cells 0 and 4.
    x6 = np.arange(6, dtype=np.float32).reshape(1, 6, 1)
    _check_hand("max_pool", x6, {"pool_size": 1, "strides": 4, "padding": "same"},
                np.reshape([0, 4], (1, 2, 1)))


def test_same_max_on_all_negative_input_ignores_padding():
    # x = [-5,-4,-3,-2,-1] (all < 0), k=3, s=1 same: total pad (5-1) + 3 - 5 = 2 -> (1, 1).
    # windows [pad,-5,-4] [-5,-4,-3] [-4,-3,-2] [-3,-2,-1] [-2,-1,pad]
    #   max -> -4,-3,-2,-1,-1  (a zero-padded max would give 0 at both ends)
    x = np.arange(-5, 0, dtype=np.float32).reshape(1, 5, 1)
    _check_hand("max_pool", x, {"pool_size": 3, "strides": 1, "padding": "same"},
                np.reshape([-4, -3, -2, -1, -1], (1, 5, 1)))
    # 2D, 2x2 all -7 with window 3 same stride 1: every window holds only -7 real cells.
    x2 = np.full((1, 2, 2, 1), -7, np.float32)
    _check_hand("max_pool", x2, {"pool_size": 3, "strides": 1, "padding": "same"},
                np.full((1, 2, 2, 1), -7))


def test_first_maximum_wins_signed_zero():
    # hand-derived from TF's rule: [-0, +0] -> -0 and [+0, -0] -> +0 (a cell replaces the
    # maximum only if greater).
    x = np.array([-0.0, 0.0, 0.0, -0.0], np.float32).reshape(1, 4, 1)
    for got in _all_methods(pr.max_pool, x, pool_size=2).values():
        assert np.signbit(got.ravel()).tolist() == [True, False]


# ----------------------------------------------------------------------------- methods agree


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
@given(data=st.data())
def test_max_methods_agree_bitwise(dtype, data):
    case = data.draw(pool_cases(dtypes=(dtype,)), label="case")
    results = _all_methods(pr.max_pool, case.x, **case.params)
    for m, got in results.items():
        assert_bitwise(got, results["loop"], op="max_pool", params={**case.params, "method": m},
                       arrays={"x": case.x}, what="differs from method='loop'")


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@given(data=st.data())
def test_avg_methods_agree_bitwise(dtype, data):
    case = data.draw(pool_cases(dtypes=(dtype,)), label="case")
    results = _all_methods(pr.avg_pool, case.x, **case.params)
    for m, got in results.items():
        assert_bitwise(got, results["loop"], op="avg_pool", params={**case.params, "method": m},
                       arrays={"x": case.x}, what="differs from method='loop'")


# ----------------------------------------------------------------------------- purity & layouts


def _layout_variants(x: np.ndarray) -> dict[str, np.ndarray]:
    """The same values as ``x`` in other memory layouts (all equal to ``x``)."""
    ro = x.copy()
    ro.setflags(write=False)
    big = np.zeros((x.shape[0], *(2 * s for s in x.shape[1:])), x.dtype)
    big[(slice(None), *(slice(None, None, 2) for _ in x.shape[1:]))] = x
    strided = big[(slice(None), *(slice(None, None, 2) for _ in x.shape[1:]))]
    variants = {"read_only": ro, "fortran": np.asfortranarray(x), "strided": strided,
                "reversed_view": x[:, ::-1][:, ::-1]}
    if x.shape[0]:                       # an empty batch's list ([]) loses the shape
        variants["list"] = x.tolist()
    return variants


@pytest.mark.parametrize("op", ["max_pool", "avg_pool"])
@given(data=st.data())
def test_inputs_not_mutated_and_layout_independent(op, data):
    case = data.draw(pool_cases(), label="case")
    x = case.x
    before = x.copy()
    ref = POOLS[op](x, **case.params, method="loop")
    assert_bitwise(x, before, op=op, params=case.params, arrays={"x": before},
                   what="mutated its input")
    for name, variant in _layout_variants(x).items():
        snapshot = np.array(variant, copy=True)
        # A list has no dtype (np.asarray gives float64/int64): its reference is the loop on
        # that array; every other variant must give exactly ``ref``.
        want = POOLS[op](snapshot, **case.params, method="loop") if name == "list" else ref
        for m, got in _all_methods(POOLS[op], variant, **case.params).items():
            assert_bitwise(got, want, op=op, params={**case.params, "method": m},
                           arrays={"x": snapshot}, what=f"differs for a {name} input")
        assert_bitwise(np.asarray(variant), snapshot, op=op, params=case.params,
                       arrays={"x": snapshot}, what=f"mutated a {name} input")


@pytest.mark.parametrize("func", [pr.global_max_pool, pr.global_avg_pool])
def test_global_inputs_not_mutated(func):
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 2)).astype(np.float32)
    ro = x.copy()
    ro.setflags(write=False)
    for variant in (x, ro, np.asfortranarray(x), x[:, ::-1]):
        snap = variant.copy()
        func(variant)
        func(variant, data_format="channels_first", keepdims=True)
        assert np.array_equal(variant, snap)


# ----------------------------------------------------------------------------- argument errors


X2D = np.zeros((1, 4, 4, 1), np.float32)

BAD_ARGS = [
    # (id, func, args, kwargs, exception, substrings the message must contain: the parameter
    #  name and the value received)
    ("pool_size 0", pr.max_pool, (X2D, 0), {}, ValueError, ("pool_size", "0")),
    ("pool_size negative", pr.avg_pool, (X2D, -2), {}, ValueError, ("pool_size", "-2")),
    ("pool_size tuple with 0", pr.max_pool, (X2D, (2, 0)), {}, ValueError,
     ("pool_size", "(2, 0)")),
    ("pool_size float", pr.max_pool, (X2D, 2.0), {}, TypeError, ("pool_size", "2.0")),
    ("pool_size float in tuple", pr.avg_pool, (X2D, (2, 1.5)), {}, TypeError,
     ("pool_size", "1.5")),
    ("pool_size string", pr.max_pool, (X2D, "2"), {}, TypeError, ("pool_size", "'2'")),
    ("pool_size bool", pr.max_pool, (X2D, True), {}, TypeError, ("pool_size", "True")),
    ("pool_size wrong length", pr.max_pool, (X2D, (2, 2, 2)), {}, ValueError,
     ("pool_size", "(2, 2, 2)")),
    ("pool_size too short", pr.avg_pool, (X2D, (2,)), {}, ValueError, ("pool_size", "(2,)")),
    ("strides 0", pr.max_pool, (X2D, 2), {"strides": 0}, ValueError, ("strides", "0")),
    ("strides negative", pr.avg_pool, (X2D, 2), {"strides": (1, -1)}, ValueError,
     ("strides", "(1, -1)")),
    ("strides wrong length", pr.max_pool, (X2D, 2), {"strides": (1, 1, 1)}, ValueError,
     ("strides", "(1, 1, 1)")),
    ("padding causal", pr.max_pool, (X2D, 2), {"padding": "causal"}, ValueError,
     ("padding", "'causal'")),
    ("padding full", pr.avg_pool, (X2D, 2), {"padding": "full"}, ValueError,
     ("padding", "'full'")),
    ("padding None", pr.max_pool, (X2D, 2), {"padding": None}, TypeError, ("padding", "None")),
    ("data_format bad", pr.max_pool, (X2D, 2), {"data_format": "NHWC"}, ValueError,
     ("data_format", "'NHWC'")),
    ("data_format bad (avg)", pr.avg_pool, (X2D, 2), {"data_format": "channels"}, ValueError,
     ("data_format", "'channels'")),
    ("x 2-D", pr.max_pool, (np.zeros((4, 4), np.float32), 2), {}, ValueError,
     ("x must", "(4, 4)")),
    ("x 6-D", pr.avg_pool, (np.zeros((1,) * 6, np.float32), 1), {}, ValueError,
     ("x must", "(1, 1, 1, 1, 1, 1)")),
    ("x strings", pr.max_pool, (np.array([[["a"]]]), 1), {}, TypeError, ("x must", "U1")),
    ("method unknown", pr.max_pool, (X2D, 2), {"method": "numba"}, ValueError,
     ("method", "'numba'")),
    ("method wrong case", pr.avg_pool, (X2D, 2), {"method": "Loop"}, ValueError,
     ("method", "'Loop'")),
    ("avg_pool on int32", pr.avg_pool, (X2D.astype(np.int32), 2), {}, TypeError,
     ("x must", "int32")),
    ("valid window > input", pr.max_pool, (X2D, 5), {}, ValueError, ("pool_size", "(5, 5)")),
    ("valid window > input (avg)", pr.avg_pool, (X2D, (1, 5)), {}, ValueError,
     ("pool_size", "(1, 5)")),
    ("global data_format", pr.global_max_pool, (X2D,), {"data_format": "x"}, ValueError,
     ("data_format", "'x'")),
    ("global keepdims", pr.global_avg_pool, (X2D,), {"keepdims": "yes"}, TypeError,
     ("keepdims", "'yes'")),
    ("global x 2-D", pr.global_avg_pool, (np.zeros((2, 2)),), {}, ValueError,
     ("x must", "(2, 2)")),
]


@pytest.mark.parametrize(("func", "args", "kwargs", "exc", "must"),
                         [b[1:] for b in BAD_ARGS], ids=[b[0] for b in BAD_ARGS])
def test_bad_arguments(func, args, kwargs, exc, must):
    """The right exception type; the message names the parameter and the value received."""
    with pytest.raises(exc) as info:
        func(*args, **kwargs)
    msg = str(info.value)
    for text in must:
        assert text in msg, f"{text!r} not in message: {msg}"


@pytest.mark.parametrize("method", method_params(["loop", "fast", "compiled"]))
def test_argmax_with_the_batch_in_the_index_counts_whole_batch_items(method):
    """Two batch items of 2 x 2 cells (C = 1), pool 2: the maxima at flat cells 3 and 1
    of their item; with include_batch_in_index the second item's index adds 1 * H * W * C
    = 4 (cell 1 of item 1 is 5)."""
    x = np.float32([[1, 2, 3, 9], [1, 9, 2, 3]]).reshape(2, 2, 2, 1)
    _, plain = pr.max_pool_with_argmax(x, 2, method=method)
    _, batch = pr.max_pool_with_argmax(x, 2, include_batch_in_index=True, method=method)
    assert plain.ravel().tolist() == [3, 1] and batch.ravel().tolist() == [3, 5]


def test_max_pool_with_argmax_takes_its_options_by_keyword_only():
    """A positional fifth argument (include_batch_in_index) is an error."""
    x = np.zeros((1, 2, 2, 1), np.float32)
    with pytest.raises(TypeError):
        pr.max_pool_with_argmax(x, 2, None, "valid", True)
    assert pr.max_pool_with_argmax(x=x, pool_size=2)[1].shape == (1, 1, 1, 1)
