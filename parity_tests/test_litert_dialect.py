"""pooling_ref.dialects.litert without a LiteRT runtime: hand-derived cases of each rule,
argument validation, and the calls the dialect makes to the core."""

from __future__ import annotations

import numpy as np
import pytest

import pooling_ref
from pooling_ref.dialects import _xnnpack, litert

pytestmark = pytest.mark.litert

F = np.float32


def row(*values, dtype=F):
    return np.array(values, dtype).reshape(1, 1, -1, 1)


def test_builtin_float_clamps_infinities_and_ignores_nan():
    x = row(np.inf, np.nan, -np.inf, -np.inf)
    big = np.finfo(F).max
    assert litert.max_pool_2d(x, (1, 2), 2, "VALID").ravel().tolist() == [big, -big]
    y = litert.average_pool_2d(x, (1, 2), 2, "VALID").ravel()
    assert np.isnan(y[0]) and y[1] == -big                  # NaN passes the clamp


@pytest.mark.parametrize("kernel", ["builtin", "reference"])
def test_builtin_float_is_core_then_clamp(kernel):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 7, 3)).astype(F)
    core = pooling_ref.avg_pool(x, (2, 3), (2, 2), "same", tf_kernel=None)
    got = litert.average_pool_2d(x, (2, 3), 2, "SAME", kernel=kernel)
    np.testing.assert_array_equal(got, core)
    relu6 = litert.max_pool_2d(x, 3, 1, "same", activation="relu6", kernel=kernel)
    expected = np.clip(pooling_ref.max_pool(x, 3, 1, "same", tf_kernel=None), 0, 6)
    np.testing.assert_array_equal(relu6, expected)


def test_xnnpack_nan_window_gives_low_bound():
    """maxps(NaN, low) is low: -inf without an activation, 0 with RELU (hand-derived from the
    x86 rule; measured: test_litert_parity)."""
    x = row(np.nan, 1, 2)
    assert _xnnpack.max_pool(x, (1, 3), (1, 1), "VALID", -np.inf, np.inf).item() == -np.inf
    assert litert.max_pool_2d(x, (1, 3), 1, "VALID", kernel="xnnpack",
                              activation="RELU").item() == 0
    assert litert.max_pool_2d(row(1, 2, np.nan), (1, 3), 1, "VALID",
                              kernel="xnnpack").item() == 2       # NaN not first: ignored
    assert litert.average_pool_2d(x, (1, 3), 1, "VALID", kernel="xnnpack").item() == -np.inf


def test_xnnpack_average_order_is_column_major_nine_cell_tree():
    """Cells 1e8, 1, -1e8 ... chosen so the order shows: XNNPACK sums (c2+c3)+(c4+c5) first.
    Window 2x2 column-major: c0 = x[0,0], c1 = x[1,0], c2 = x[0,1], c3 = x[1,1]; the tree
    gives (c2 + c3) + (c0 + c1) = (1 + -1e8) + (1e8 + 1) = -1e8 + 1e8 = 0 (float32: 1 is lost
    in each pair), times 1/4. Row-major sequential: ((1e8 + 1) + 1) - 1e8 = 0 too, so use a
    3x1 window where the tree order differs: (c2 + 0) + ((c0 + c1) + 0)."""
    x = np.array([1e8, -1e8, 1], F).reshape(1, 3, 1, 1)          # c0, c1, c2 down a column
    tree = _xnnpack.avg_pool(x, (3, 1), (1, 1), "VALID", -np.inf, np.inf).item()
    assert tree == F(F(1) + F(F(1e8) + F(-1e8))) * F(1) / F(3)   # (1 + 0) * (1/3)
    assert tree == F(1) * (F(1) / F(3))
    assert litert.average_pool_2d(x, (3, 1), 1, "VALID").item() == F(1) / F(3)


def test_xnnpack_max_zero_tie_keeps_second_operand():
    """Nine cells: the tree's last step is maxps(max(c2..c5), max(c0, c1, c8, c6, c7)),
    which keeps the second operand on a tie: here -0 (c2) vs +0 (c6) gives +0, where TF's
    first-wins gives -0 (c2 comes first)."""
    x = row(-1, -1, -0.0, -1, -1, -1, 0.0, -1, -1)
    assert np.signbit(litert.max_pool_2d(x, (1, 9), 1, "VALID").item())
    assert not np.signbit(litert.max_pool_2d(x, (1, 9), 1, "VALID", kernel="xnnpack").item())


def test_xnnpack_flushes_subnormals():
    s = np.finfo(F).smallest_subnormal
    x = row(s, -1)
    assert litert.max_pool_2d(x, (1, 2), 1, "VALID").item() == s
    got = litert.max_pool_2d(x, (1, 2), 1, "VALID", kernel="xnnpack").item()
    assert got == 0 and not np.signbit(got)


def test_xnnpack_declined_geometry_runs_builtin():
    x = row(np.nan, 1, 2, 3)
    assert not _xnnpack.delegated((1, 1), (1, 2)) and not _xnnpack.delegated((1, 2), (1, 3))
    assert _xnnpack.delegated((2, 2), (2, 2))
    got = litert.max_pool_2d(x, (1, 1), (1, 2), "VALID", kernel="xnnpack")
    np.testing.assert_array_equal(got.ravel(), [-np.finfo(F).max, 2])


def test_quantized_average_rounds_raw_sum_half_away_from_zero():
    # pairs (a, a + 1): every sum is odd, every window of two a tie
    a = np.arange(-128, 127, dtype=np.int16)
    x = np.stack([a, a + 1], -1).astype(np.int8).reshape(1, 1, -1, 1)
    got = litert.average_pool_2d_q(x, (1, 2), 2, "VALID", 0.1, 0).ravel().astype(int)
    sums = 2 * a.astype(int) + 1
    expected = np.where(sums > 0, (sums + 1) // 2, -((-sums + 1) // 2))     # away from 0
    np.testing.assert_array_equal(got, expected)
    assert got[a.tolist().index(-1)] == -1 and got[a.tolist().index(0)] == 1   # -0.5, 0.5


def test_quantized_activation_range_rounds_half_away_and_saturates():
    assert litert.quantized_activation_range("RELU6", 0.8, -3, "int8") == (-3, 5)  # 7.5 -> 8
    assert litert.quantized_activation_range("RELU6", 1e-3, 0, "int8") == (0, 127)
    assert litert.quantized_activation_range("RELU", 1.0, 127, "int8") == (127, 127)
    assert litert.quantized_activation_range("RELU_N1_TO_1", 0.5, 10, "uint8") == (8, 12)
    assert litert.quantized_activation_range("NONE", 0.5, 0, "int16") == (-32768, 32767)
    assert _xnnpack.quantized_range(0.0, 6.0, float(F(0.8)), -3, np.dtype("int8")) == (-3, 4)


def test_quantized_max_clamps_to_activation():
    x = np.array([-100, 100, 3, 5], np.int8).reshape(1, 2, 2, 1)
    got = litert.max_pool_2d_q(x, (1, 2), (1, 2), "VALID", 0.5, 0, activation="RELU_N1_TO_1")
    np.testing.assert_array_equal(got.ravel(), [2, 2])               # [-2, 2] in quanta


BAD = [
    (dict(x=np.zeros((1, 2, 2), F)), ValueError, "x must be 4D"),
    (dict(x=np.zeros((1, 2, 2, 1), np.float64)), TypeError, "float64"),
    (dict(filter_size=0), ValueError, "filter_size must be >= 1, got 0"),
    (dict(filter_size=(2, 2.5)), TypeError, "filter_size"),
    (dict(strides="2"), TypeError, "strides"),
    (dict(padding="FULL"), ValueError, "padding must be one of SAME, VALID, got 'FULL'"),
    (dict(activation="TANH"), ValueError, "activation must be one of .*'TANH'"),
    (dict(kernel="gpu"), ValueError, "kernel must be one of builtin, reference, xnnpack"),
    (dict(filter_size=3), ValueError, "filter_size .3, 3. is larger than the input"),
]


@pytest.mark.parametrize(("change", "error", "match"), BAD)
@pytest.mark.parametrize("function", [litert.max_pool_2d, litert.average_pool_2d])
def test_float_bad_arguments(function, change, error, match):
    args = dict(x=np.zeros((1, 2, 2, 1), F), filter_size=2, strides=1, padding="VALID")
    args.update(change)
    with pytest.raises(error, match=match):
        function(**args)


QBAD = [
    (dict(x=np.zeros((1, 2, 2, 1), np.int32)), TypeError, "int8 / uint8 / int16, got int32"),
    (dict(scale=0.0), ValueError, "scale must be a positive finite float, got 0.0"),
    (dict(scale="1"), TypeError, "scale"),
    (dict(zero_point=200), ValueError, r"zero_point must be within int8's range .* got 200"),
    (dict(zero_point=1.5), TypeError, "zero_point must be an int, got 1.5"),
    (dict(x=np.zeros((1, 2, 2, 1), np.int16), zero_point=3), ValueError, "0 for int16"),
]


@pytest.mark.parametrize(("change", "error", "match"), QBAD)
@pytest.mark.parametrize("function", [litert.max_pool_2d_q, litert.average_pool_2d_q])
def test_quantized_bad_arguments(function, change, error, match):
    args = dict(x=np.zeros((1, 2, 2, 1), np.int8), filter_size=2, strides=1,
                padding="VALID", scale=0.5, zero_point=0)
    args.update(change)
    with pytest.raises(error, match=match):
        function(**args)


def test_inputs_not_mutated():
    x = np.array([np.nan, 1e-45, -0.0, 2], F).reshape(1, 2, 2, 1)
    before = x.copy()
    for kernel in litert.KERNELS:
        litert.average_pool_2d(x, 2, 1, "SAME", kernel=kernel)
        litert.max_pool_2d(x, 2, 1, "SAME", kernel=kernel)
    np.testing.assert_array_equal(x.view(np.uint32), before.view(np.uint32))
