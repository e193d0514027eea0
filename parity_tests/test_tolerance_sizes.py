"""The size of every error bound, per dtype, hand-derived (issue 23).

The bound (pooling_ref/tolerance.py) is ``C (K + 1) eps_acc mag + eps_out mag + K tiny``
with ``C = 2``; ``eps_acc`` is float32's for 16-bit floats (TF accumulates them in
float32) except where the reference sums in float16 itself. The other tests only order
bounds (a wrong result exceeds them); these pin their size, so a bound loosened or
tightened for one dtype fails here. Epsilons and subnormals: float64 ``2^-52`` /
``2^-1074``, float32 ``2^-23`` / ``2^-149``, float16 ``2^-10`` / ``2^-24``, bfloat16
``2^-7`` / ``2^-133``.
"""

from __future__ import annotations

import numpy as np
import pytest

from pooling_ref.tolerance import (
    BOUND_C,
    Comparison,
    avg_pool_bound,
    avg_pool_grad_bound,
    conv_bound,
    conv_grad_bounds,
    error_bound,
    global_avg_pool_bound,
    ulp_distance,
    unspecified_global_max,
)

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = ml_dtypes.bfloat16

#: dtype -> (eps of the dtype, eps it is accumulated in by TF, smallest subnormal).
EPS = {np.float64: (2.0**-52, 2.0**-52, 2.0**-1074),
       np.float32: (2.0**-23, 2.0**-23, 2.0**-149),
       np.float16: (2.0**-10, 2.0**-23, 2.0**-24),
       BF16: (2.0**-7, 2.0**-23, 2.0**-133)}


def _bound(mag, k, eps_out, eps_acc, tiny):
    """The module's formula, written out: ``2 (K + 1) eps_acc mag + eps_out mag + K tiny``."""
    mag = np.asarray(mag, np.float64)
    return 2 * (k + 1) * eps_acc * mag + eps_out * mag + k * tiny


def _assert_bound(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


def test_bound_constant_is_two():
    assert BOUND_C == 2.0


@pytest.mark.parametrize("dtype", list(EPS), ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("mag, k", [(1.0, 3), (0.0, 5), (6.5, 1)])
def test_error_bound_per_dtype(dtype, mag, k):
    """``mag = 0`` leaves ``K tiny`` alone (the subnormal term of the result dtype)."""
    eps_out, eps_acc, tiny = EPS[dtype]
    _assert_bound(error_bound(np.float64(mag), k, dtype), _bound(mag, k, eps_out, eps_acc,
                                                                   tiny))


def test_error_bound_explicit_accumulation_dtype():
    """``acc=float16``: float16's epsilon in the accumulation term too."""
    _assert_bound(error_bound(np.float64(1.0), 3, np.float16, acc=np.float16),
                  _bound(1.0, 3, 2.0**-10, 2.0**-10, 2.0**-24))


@pytest.mark.parametrize("dtype", [np.int32, np.int8, np.uint16])
def test_error_bound_is_zero_for_integers(dtype):
    b = error_bound(np.float64([1.0, 5.0]), 4, dtype)
    assert b.dtype == np.float64 and b.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("dtype", list(EPS), ids=lambda d: np.dtype(d).name)
def test_conv_bound_per_dtype(dtype):
    """x ones (1, 3, 2), kernel ones (2, 2, 1) plus bias -1: every output sums K = 2 taps
    x 2 channels = 4 products, ``mag = 4 + |-1| = 5``."""
    eps_out, eps_acc, tiny = EPS[dtype]
    x, kernel = np.ones((1, 3, 2), dtype), np.ones((2, 2, 1), dtype)
    got = conv_bound(x, kernel, np.array([-1], dtype))
    _assert_bound(got, _bound(np.full((1, 2, 1), 5.0), 4, eps_out, eps_acc, tiny))


def test_conv_bound_counts_one_group():
    """groups=2, kernel (2, 2, 4): K = 2 taps x 2 input channels of the group = 4; the
    magnitude over ones is 4 too (float32)."""
    x, kernel = np.ones((1, 3, 4), np.float32), np.ones((2, 2, 4), np.float32)
    got = conv_bound(x, kernel, groups=2, method="loop", tf_kernel="onednn")
    _assert_bound(got, _bound(np.full((1, 2, 4), 4.0), 4, *EPS[np.float32]))


@pytest.mark.parametrize("dtype", list(EPS), ids=lambda d: np.dtype(d).name)
def test_avg_pool_bound_per_dtype(dtype):
    """Windows of 2 (K = 2) over |x| = [1, 3, 5, 7]: mag [2, 6]. The reference sums float16
    in float16, so float16's epsilon is its accumulation epsilon here."""
    eps_out, eps_acc, tiny = EPS[dtype]
    if dtype == np.float16:
        eps_acc = eps_out
    x = np.array([1, -3, 5, -7], dtype).reshape(1, 4, 1)
    got = avg_pool_bound(x, 2, method="fast", tf_kernel="xla")
    _assert_bound(got, _bound(np.array([2.0, 6.0]).reshape(1, 2, 1), 2, eps_out, eps_acc,
                              tiny))


def test_avg_pool_bound_counts_the_whole_window():
    """pool (2, 3), "same", strides 1: K = 6 for every output (the window's size, padding
    included), mag over ones = 1 (float32)."""
    x = np.ones((1, 2, 3, 1), np.float32)
    got = avg_pool_bound(x, (2, 3), strides=1, padding="same")
    _assert_bound(got, _bound(np.ones((1, 2, 3, 1)), 6, *EPS[np.float32]))


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
@pytest.mark.parametrize("dtype", [*EPS, np.int32],
                         ids=lambda d: np.dtype(d).name)
def test_global_avg_pool_bound_per_dtype(dtype, fmt):
    """Shape (1, 2, 3, 5): channels_last has 2 x 3 = 6 cells per mean, channels_first
    3 x 5 = 15; mag over ones = 1. Integers give float32 (as Keras)."""
    eps_out, eps_acc, tiny = EPS.get(dtype, EPS[np.float32])
    k, out_shape = (6, (1, 5)) if fmt == "channels_last" else (15, (1, 2))
    got = global_avg_pool_bound(np.ones((1, 2, 3, 5), dtype), fmt)
    _assert_bound(got, _bound(np.ones(out_shape), k, eps_out, eps_acc, tiny))


@pytest.mark.parametrize("dtype", list(EPS), ids=lambda d: np.dtype(d).name)
def test_avg_pool_grad_bound_per_dtype(dtype):
    """Window 3, stride 1 over 4 cells: cells are covered by [1, 2, 2, 1] windows, each
    sending 1/3 of |grad_out| = 1: mag [1/3, 2/3, 2/3, 1/3]. 16-bit floats are accumulated
    in their own dtype by the gradient kernels: a second accumulation term with their own
    epsilon, ``2 (K + 1) eps mag``."""
    eps_out, eps_acc, tiny = EPS[dtype]
    k = np.array([1, 2, 2, 1], np.float64)
    mag = k / 3
    want = _bound(mag, k, eps_out, eps_acc, tiny)
    if np.dtype(dtype).itemsize < 4:
        want = want + 2 * (k + 1) * eps_out * mag
    got = avg_pool_grad_bound(np.zeros((1, 4, 1), dtype), np.ones((1, 2, 1), dtype), 3,
                              strides=1)
    _assert_bound(got, want.reshape(1, 4, 1))


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16],
                         ids=lambda d: np.dtype(d).name)
def test_conv_grad_bounds_per_dtype(dtype, fmt):
    """x ones (1, 3, 1), kernel ones (2, 1, 2) (2 filters), grad_out ones (1, 2, 2):
    grad_x — cells covered by [1, 2, 1] (output, tap) pairs, times 2 filters: K = [2, 4, 2],
    mag = K; grad_kernel and grad_bias — K = N x outputs = 2, mag 2 (x and g ones)."""
    eps_out, eps_acc, tiny = EPS[dtype]
    x, kernel, g = np.ones((1, 3, 1), dtype), np.ones((2, 1, 2), dtype), np.ones((1, 2, 2),
                                                                                 dtype)
    if fmt == "channels_first":
        x, g = np.moveaxis(x, -1, 1), np.moveaxis(g, -1, 1)
    gx, gk, gb = conv_grad_bounds(x, kernel, g, data_format=fmt)
    kx = np.array([2.0, 4.0, 2.0])
    want_x = _bound(kx, kx, eps_out, eps_acc, tiny)
    _assert_bound(gx, want_x.reshape((1, 1, 3) if fmt == "channels_first" else (1, 3, 1)))
    _assert_bound(gk, _bound(np.full((2, 1, 2), 2.0), 2, eps_out, eps_acc, tiny))
    _assert_bound(gb, _bound(np.full(2, 2.0), 2, eps_out, eps_acc, tiny))


@pytest.mark.parametrize("expected, got, want", [
    # a zero maximum: TF's sign and a subnormal zero are free, taken from got
    ([0.0, 0.0], [-0.0, 2.0**-140], [-0.0, 2.0**-140]),
    # a negative or positive maximum is never free, whatever got holds
    ([-1.0, -2.0**-140, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0**-140, 1.0]),
    # a zero maximum is not free where got is a normal number
    ([0.0], [2.0**-120], [0.0]),
])
def test_unspecified_global_max_frees_only_zero_maxima(expected, got, want):
    """Only a cell whose expected maximum is zero may take the candidate's signed zero or
    subnormal (float32's smallest normal is ``2^-126``); every other cell stays expected."""
    out = unspecified_global_max(np.float32(got), np.float32(expected), "onednn")
    assert out.tolist() == want
    assert np.signbit(out).tolist() == np.signbit(np.float32(want)).tolist()


def test_comparison_texts_per_mode():
    """A bitwise mismatch names the first index and the ULPs, no bound ratio; a bound
    mismatch adds the worst ratio; a mismatch without an element (a shape) says only why."""
    bitwise = Comparison(False, "bitwise", 1.0, 3, 0.0, (0, 1, 0), "got 2, expected 1")
    assert str(bitwise) == ("MISMATCH (bitwise) at index (0, 1, 0): got 2, expected 1; "
                            "max abs 1, max ULP 3")
    bound = Comparison(False, "bound", 0.5, 7, 2.5, (1,), "off")
    assert str(bound) == "MISMATCH (bound) at index (1,): off; max abs 0.5, max ULP 7, " \
                         "worst bound ratio 2.5"
    shape = Comparison(False, "bitwise", detail="wrong shape: got (2,), expected (3,)")
    assert str(shape) == "MISMATCH (bitwise): wrong shape: got (2,), expected (3,)"


_ONE_UP = np.nextafter(np.float32(1), np.float32(2))
_TWO_UP = np.nextafter(_ONE_UP, np.float32(2))
_TINY = np.float32(2.0**-149)


@pytest.mark.parametrize("a, b, expected", [
    (1.0, _ONE_UP, 1),
    (_ONE_UP, _TWO_UP, 1),               # bits ...01 and ...10: a difference, not an xor
    (-0.0, 0.0, 0),                      # both zeros count as 0
    (-_TINY, _TINY, 2),                  # across zero: -1 and +1
    (-1.0, 1.0, 2 * 0x3F800000),         # 1.0 is 0x3F800000 steps above zero, each side
    (np.nan, np.nan, 0),
    (np.nan, 1.0, np.iinfo(np.int64).max),
])
def test_ulp_distance_counts_representable_steps_across_zero(a, b, expected):
    """Hand-counted float32 ULP distances (IEEE bit patterns)."""
    got = ulp_distance(np.float32([a]), np.float32([b]))
    assert got.tolist() == [expected]
