"""Hand-derived convolution cases (no TensorFlow): shapes, values, groups, dilation, bias.

Every expected value below is derived by hand in the comment next to it (Keras ``ConvND``
is a cross-correlation: ``out[i] = sum_t x[i*stride + t*dilation - pad_before] * k[t]``,
no kernel flip; "same" puts the odd padding cell after). All methods must give these
exact values: inputs are small integers, so every product and sum is exact in float32.
"""

from __future__ import annotations

import numpy as np
import pytest

import pooling_ref
from pooling_ref import methods

METHODS = [*methods.names("conv"), None]          # None: the default (method not passed)


def _conv(method, x, kernel, bias=None, **params):
    """``pooling_ref.conv`` checking that no input is mutated."""
    copies = [None if a is None else np.array(a, copy=True) for a in (x, kernel, bias)]
    kw = params if method is None else dict(params, method=method)
    out = pooling_ref.conv(x, kernel, bias, **kw)
    for name, a, c in zip(("x", "kernel", "bias"), (x, kernel, bias), copies):
        if a is not None:
            assert np.array_equal(np.asarray(a), c), f"conv mutated its input {name}"
    return out


def _grid5() -> np.ndarray:
    """x[0, i, j, 0] = 5*i + j: the 5x5 input of the write-up's Conv2D examples."""
    return np.arange(25, dtype=np.float32).reshape(1, 5, 5, 1)


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("params", "spatial"),
    [
        ({}, (3, 3)),                                         # valid: 5 - 3 + 1
        ({"padding": "valid"}, (3, 3)),
        ({"padding": "same"}, (5, 5)),                        # same: ceil(5 / 1)
        ({"padding": "same", "strides": 2}, (3, 3)),          # ceil(5 / 2)
        ({"padding": "valid", "strides": 2}, (2, 2)),         # floor((5 - 3) / 2) + 1
        ({"padding": "SAME", "strides": (1, 3)}, (5, 2)),     # ceil(5/1), ceil(5/3)
        ({"padding": "valid", "dilation_rate": 2}, (1, 1)),   # span 5: 5 - 5 + 1
        ({"padding": "same", "dilation_rate": (2, 1)}, (5, 5)),
    ],
)
def test_output_shapes_5x5_input_3x3_kernel(method, params, spatial):
    kernel = np.ones((3, 3, 1, 4), dtype=np.float32)
    out = _conv(method, _grid5(), kernel, **params)
    assert out.shape == (1, *spatial, 4), f"conv{params}: shape {out.shape}"
    assert out.dtype == np.float32


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize("method", METHODS)
def test_valid_ones_kernel_values(method):
    # window at (i, j) sums (i+a)*5 + (j+b), a, b in 0..2 -> 9*(5i + j) + 45 + 9
    expected = np.array([[54, 63, 72], [99, 108, 117], [144, 153, 162]], np.float32)
    out = _conv(method, _grid5(), np.ones((3, 3, 1, 1), np.float32))
    np.testing.assert_array_equal(out[0, :, :, 0], expected)


@pytest.mark.parametrize("method", METHODS)
def test_cross_correlation_not_convolution(method):
    # kernel[0, 0] = 1, kernel[2, 2] = -1: out = x[i, j] - x[i+2, j+2] = -(2*5 + 2) = -12;
    # a flipped kernel (true convolution) would give +12.
    k = np.zeros((3, 3, 1, 1), np.float32)
    k[0, 0], k[2, 2] = 1, -1
    out = _conv(method, _grid5(), k)
    np.testing.assert_array_equal(out[0, :, :, 0], np.full((3, 3), -12, np.float32))


@pytest.mark.parametrize("method", METHODS)
def test_same_stride2_ones_kernel_values(method):
    # total pad (3-1)*2 + 3 - 5 = 2 -> 1 before, 1 after on both axes; windows centred on
    # rows/cols 0, 2, 4, clipped to the image:
    #   (0,0): 0+1+5+6 = 12          (0,1): 1+2+3+6+7+8 = 27      (0,2): 3+4+8+9 = 24
    #   (1,0): 5+6+10+11+15+16 = 63  (1,1): 9*12 = 108            (1,2): 8+9+13+14+18+19 = 81
    #   (2,0): 15+16+20+21 = 72      (2,1): 16+17+18+21+22+23=117 (2,2): 18+19+23+24 = 84
    expected = np.array([[12, 27, 24], [63, 108, 81], [72, 117, 84]], np.float32)
    out = _conv(method, _grid5(), np.ones((3, 3, 1, 1), np.float32), padding="same",
                strides=2)
    np.testing.assert_array_equal(out[0, :, :, 0], expected)


@pytest.mark.parametrize("method", METHODS)
def test_same_even_kernel_puts_odd_pad_after(method):
    # x = [1, 2, 3, 4], kernel [1, 10], same: total pad 1 -> 0 before, 1 after:
    # [1 + 20, 2 + 30, 3 + 40, 4 + 0]; padding before instead would give [10, 21, 32, 43].
    x = np.array([1, 2, 3, 4], np.float32).reshape(1, 4, 1)
    k = np.array([1, 10], np.float32).reshape(2, 1, 1)
    out = _conv(method, x, k, padding="same")
    np.testing.assert_array_equal(out[0, :, 0], [21, 32, 43, 4])


@pytest.mark.parametrize("method", METHODS)
def test_dilation_hand_case(method):
    # dilation 2, kernel [1, 10, 100]: out[i] = x[i-2] + 10 x[i] + 100 x[i+2] (same: pads 2, 2)
    x = np.array([1, 2, 3, 4, 5], np.float32).reshape(1, 5, 1)
    k = np.array([1, 10, 100], np.float32).reshape(3, 1, 1)
    valid = _conv(method, x, k, dilation_rate=2)
    np.testing.assert_array_equal(valid[0, :, 0], [1 + 30 + 500])
    same = _conv(method, x, k, padding="same", dilation_rate=(2,))
    np.testing.assert_array_equal(same[0, :, 0], [310, 420, 531, 42, 53])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_depthwise_hand_case(method, data_format):
    # channel 0 = [1, 2, 3] with kernel [1, 1]; channel 1 = [10, 20, 30] with kernel [1, -1]
    x = np.array([[1, 10], [2, 20], [3, 30]], np.float32)[None]          # (1, 3, 2)
    k = np.array([[[1, 1]], [[1, -1]]], np.float32)                     # (2, 1, 2)
    expected = np.array([[3, -10], [5, -10]], np.float32)[None]         # (1, 2, 2)
    if data_format == "channels_first":
        x, expected = np.moveaxis(x, -1, 1).copy(), np.moveaxis(expected, -1, 1)
    out = _conv(method, x, k, groups=2, data_format=data_format)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("method", METHODS)
def test_depthwise_with_depth_multiplier(method):
    # groups = C_in = 2, filters = 4: filters 0, 1 read channel 0, filters 2, 3 read channel 1
    x = np.array([[[3, 5]]], np.float32)                                # (1, 1, 2)
    k = np.array([1, 2, 3, 4], np.float32).reshape(1, 1, 4)
    out = _conv(method, x, k, groups=2)
    np.testing.assert_array_equal(out[0, 0], [3 * 1, 3 * 2, 5 * 3, 5 * 4])


@pytest.mark.parametrize("method", METHODS)
def test_grouped_channels_do_not_mix(method):
    # groups = 2, C_in = 4, filters = 2: filter 0 sums channels 0, 1; filter 1 channels 2, 3
    x = np.array([1, 10, 100, 1000], np.float32).reshape(1, 1, 1, 4)
    k = np.ones((1, 1, 2, 2), np.float32)
    out = _conv(method, x, k, groups=2)
    np.testing.assert_array_equal(out[0, 0, 0], [11, 1100])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_bias_is_added_per_filter(method, data_format):
    # The Keras channels_first defect's shape: W = 3 = filters. Zero input, so the output
    # is the bias: filter f is the constant bias[f] everywhere.
    x = np.zeros((1, 2, 3, 3), np.float32)                  # channels_first: C=2, H=3, W=3
    if data_format == "channels_last":
        x = np.moveaxis(x, 1, -1).copy()
    k = np.ones((3, 1, 2, 3), np.float32)
    bias = np.array([1, 2, 3], np.float32)
    out = _conv(method, x, k, bias, data_format=data_format)
    per_filter = out if data_format == "channels_first" else np.moveaxis(out, -1, 1)
    assert per_filter.shape == (1, 3, 1, 3)
    for f in range(3):
        np.testing.assert_array_equal(per_filter[0, f], np.full((1, 3), bias[f]),
                                      err_msg=f"filter {f} (data_format={data_format})")


@pytest.mark.parametrize("method", METHODS)
def test_bias_added_after_the_sum(method):
    # x = [1, 2, 3], kernel [1, 1], bias [100, -1] with 2 filters (second kernel [0, 2])
    x = np.array([1, 2, 3], np.float32).reshape(1, 3, 1)
    k = np.array([[[1, 0]], [[1, 2]]], np.float32)                      # (2, 1, 2)
    out = _conv(method, x, k, np.array([100, -1], np.float32))
    np.testing.assert_array_equal(out[0], [[103, 3], [105, 5]])


@pytest.mark.parametrize("method", METHODS)
def test_conv3d_non_cubic_kernel_hand_case(method):
    # kernel (1, 2, 1) of ones over x[d, h, w] = 100d + 10h + w, valid:
    # out[d, h, w] = x[d, h, w] + x[d, h+1, w] = 200d + 20h + 2w + 10
    d, h, w = np.meshgrid(np.arange(2), np.arange(3), np.arange(2), indexing="ij")
    x = (100 * d + 10 * h + w).astype(np.float32)[None, ..., None]
    out = _conv(method, x, np.ones((1, 2, 1, 1, 1), np.float32))
    dd, hh, ww = np.meshgrid(np.arange(2), np.arange(2), np.arange(2), indexing="ij")
    np.testing.assert_array_equal(out[0, ..., 0], 200 * dd + 20 * hh + 2 * ww + 10)


def test_methods_agree_exactly_on_integer_valued_input():
    rng = np.random.default_rng(12)
    x = rng.integers(-4, 5, size=(2, 6, 5, 4)).astype(np.float32)
    k = rng.integers(-4, 5, size=(3, 2, 2, 6)).astype(np.float32)
    b = rng.integers(-4, 5, size=6).astype(np.float32)
    outs = {m: _conv(m, x, k, b, padding="same", strides=(2, 1), groups=2)
            for m in METHODS}
    for m, o in outs.items():
        np.testing.assert_array_equal(o, outs["loop"], err_msg=f"method {m} vs loop")


def test_dtype_of_result_is_result_type():
    x = np.ones((1, 3, 1), np.float32)
    assert pooling_ref.conv(x, np.ones((1, 1, 1), np.float64)).dtype == np.float64
    assert pooling_ref.conv(x, np.ones((1, 1, 1), np.float32)).dtype == np.float32


# --------------------------------------------------------------------------- bad input


_X = np.zeros((1, 5, 5, 3), np.float32)


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"kernel": np.zeros((3, 3, 1, 2)), "groups": 2}, ["groups", "3"]),
        ({"kernel": np.zeros((3, 3, 2, 2))}, ["kernel", "(3, 3, 2, 2)"]),
        ({"kernel": np.zeros((3, 3, 3, 2)), "bias": np.zeros(3)}, ["bias", "(3,)"]),
        ({"kernel": np.zeros((3, 3, 3, 2)), "dilation_rate": 0}, ["dilation_rate", "0"]),
        ({"kernel": np.zeros((3, 3, 3, 2)), "dilation_rate": 2, "strides": 2},
         ["strides", "dilation_rate"]),
        ({"kernel": np.zeros((3, 3, 2))}, ["kernel", "(3, 3, 2)"]),
        ({"kernel": np.zeros((6, 3, 3, 2))}, ["kernel_size", "(6, 3)"]),
        ({"kernel": np.zeros((3, 3, 3, 2)), "dilation_rate": 3}, ["kernel_size"]),
        ({"kernel": np.zeros((3, 3, 3, 2)), "strides": 0}, ["strides", "0"]),
        ({"kernel": np.zeros((3, 3, 3, 2)), "groups": 0}, ["groups", "0"]),
        ({"kernel": np.zeros((3, 3, 3, 2)), "padding": "full"}, ["padding", "full"]),
        ({"kernel": np.zeros((3, 3, 3, 2)), "data_format": "NHWC"}, ["data_format", "NHWC"]),
        ({"kernel": np.zeros((3, 3, 1, 2)), "groups": 3}, ["groups", "filters"]),
    ],
)
@pytest.mark.parametrize("method", METHODS)
def test_invalid_arguments_raise_value_error_naming_the_parameter(kwargs, names, method):
    kwargs = dict(kwargs)
    kernel = kwargs.pop("kernel")
    if method is not None:
        kwargs["method"] = method
    with pytest.raises(ValueError) as info:
        pooling_ref.conv(_X, kernel, **kwargs)
    for name in names:
        assert name in str(info.value), f"message {str(info.value)!r} does not name {name!r}"


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"strides": 1.5}, "strides"), ({"groups": True}, "groups"),
     ({"dilation_rate": "2"}, "dilation_rate")],
)
def test_wrong_types_raise_type_error_naming_the_parameter(kwargs, name):
    with pytest.raises(TypeError, match=name):
        pooling_ref.conv(_X, np.zeros((3, 3, 3, 2)), **kwargs)


def test_a_kernel_of_the_wrong_rank_is_told_how_many_dimensions_it_needs():
    """A 2D input (spatial rank 2) needs a kernel of 2 + 2 = 4 dimensions."""
    x = np.zeros((1, 4, 4, 1), np.float32)
    with pytest.raises(ValueError, match=r"with 4 dimensions for an input of spatial rank 2"):
        pooling_ref.conv(x, np.zeros((3, 1, 1), np.float32))
