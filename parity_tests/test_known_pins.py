"""Pins of the models and conditions of registered TF differences (``pooling_ref.known``;
issue 23: survivors of the mutation session), on hand-built calls whose TF result is
worked out by hand from the registry entry's description.
"""

from __future__ import annotations

import numpy as np
import pytest

from pooling_ref import known
from pooling_ref.ops import spec

CF = "channels_first"


def _cf_conv(length: int):
    """conv1d channels_first: x of ones (1, 1, length), a kernel of ones (2, 1, 2) and a
    bias [10, 20]; each output is the sum of 2 ones."""
    arrays = {"x": np.ones((1, 1, length), np.float32),
              "kernel": np.ones((2, 1, 2), np.float32), "bias": np.float32([10, 20])}
    return arrays, {"data_format": CF}


def test_keras_cf_bias_goes_along_the_last_axis_when_it_has_filters_cells():
    """3 cells, kernel 2: 2 outputs = 2 filters, so Keras adds bias[l] at output l of
    every filter: ``[[2 + 10, 2 + 20], [2 + 10, 2 + 20]]``."""
    arrays, scalars = _cf_conv(3)
    got = known._bias_along_last_axis(spec("conv1d"), arrays, scalars, None, None)
    assert got.tolist() == [[[12.0, 22.0], [12.0, 22.0]]] and got.dtype == np.float32


@pytest.mark.parametrize("length, scalars", [(4, {"data_format": CF}),   # 3 outputs != 2
                                             (2, {"data_format": CF}),   # 1 output != 2
                                             (3, {})])                  # channels_last
def test_keras_cf_bias_model_applies_only_where_the_bug_shows(length, scalars):
    arrays, _ = _cf_conv(length)
    if not scalars:
        arrays["x"] = np.moveaxis(arrays["x"], 1, -1)
    assert known._bias_along_last_axis(spec("conv1d"), arrays, scalars, None, None) is None


def test_keras_cf_bias_gradient_sums_grad_out_over_all_but_the_last_axis():
    """grad_out (1, 2 filters, 2 outputs) = [[1, 2], [3, 4]]: Keras' grad_bias sums over
    batch and filters, per output position: [1 + 3, 2 + 4] = [4, 6]."""
    arrays = {"x": np.ones((1, 1, 3), np.float32), "kernel": np.ones((2, 1, 2), np.float32),
              "grad_out": np.float32([[[1, 2], [3, 4]]])}
    base = ("grad_x", "grad_kernel", "grad_bias")
    got = known._bias_along_last_axis(spec("conv1d_grad"), arrays, {"data_format": CF},
                                      None, base)
    assert got[:2] == base[:2] and got[2].tolist() == [4.0, 6.0]
    arrays["grad_out"] = np.float32([[[1, 2, 3], [3, 4, 5]]])       # 3 outputs != 2
    assert known._bias_along_last_axis(spec("conv1d_grad"), arrays, {"data_format": CF},
                                       None, base) is None


@pytest.mark.parametrize("op, fmt, dtype, applies", [
    ("conv1d", CF, "float32", True),
    ("conv2d", CF, "float32", True),
    ("conv1d", "channels_last", "float32", False),
    ("conv3d", CF, "float32", False),
    ("conv1d", CF, "float64", False),
])
def test_eager_cf_conv_condition(op, fmt, dtype, applies):
    """TF has no channels_first CPU convolution in 1D/2D (float32 here)."""
    cond = known._eager_cf_conv(("float32",))
    # the condition is built at run time: a data_format string that is not the literal
    fmt = "".join(fmt)
    got = cond(spec(op), {"x": np.zeros((1, 2, 3), dtype)}, {"data_format": fmt}, "onednn")
    assert got is applies


@pytest.mark.parametrize("x_shape, fmt, grouped", [
    ((1, 2, 3, 3, 4), "channels_last", True),      # 4 input channels, 2 per group
    ((1, 4, 3, 3, 2), CF, True),
    ((1, 2, 3, 3, 2), "channels_last", False),     # 2 input channels: one group
])
def test_eager_grouped_conv3d_condition_reads_the_channel_axis(x_shape, fmt, grouped):
    """A kernel of 2 input channels per group: grouped when x has more channels, on its
    channel axis (the last channels_last, the second channels_first)."""
    arrays = {"x": np.zeros(x_shape, np.float32), "kernel": np.zeros((1, 1, 1, 2, 4))}
    assert known._eager_grouped_conv(spec("conv3d"), arrays, {"data_format": fmt},
                                     "onednn") is grouped


@pytest.mark.parametrize("op, dtype, path, missing", [
    ("max_pool3d", "float16", "onednn", True),
    ("max_pool3d", "float64", "xla", True),        # MaxPool3D has no float64 under XLA
    ("max_pool3d", "float16", "xla", False),
    ("avg_pool3d", "float64", "xla", False),
    ("max_pool2d", "float16", "onednn", False),
    ("max_pool3d", "float32", "onednn", False),
])
def test_pool3d_half_double_condition(op, dtype, path, missing):
    arrays = {"x": np.zeros((1, 2, 2, 2, 1), dtype)}
    assert known._pool3d_half_double(spec(op), arrays, {}, path) is missing


@pytest.mark.parametrize("op, path, dtype, raises", [
    ("conv2d_grad", "onednn", "float32", False),   # oneDNN has the grouped float32 gradient
    ("conv2d_grad", "eigen", "float32", True),
    ("conv2d_grad", "onednn", "float64", True),
    ("conv2d", "eigen", "float32", False),         # the forward 2D grouped conv exists
    ("conv2d", "onednn", "float64", False),
])
def test_eager_grouped_conv2d_raises_only_in_the_gradient_off_onednn_float32(op, path, dtype,
                                                                             raises):
    """2D grouped convolution (4 input channels, 2 per group): TF's eager forward runs on
    every path; its gradient only on oneDNN in float32."""
    arrays = {"x": np.zeros((1, 3, 3, 4), dtype), "kernel": np.zeros((1, 1, 2, 4), dtype)}
    assert known._eager_grouped_conv(spec(op), arrays, {"data_format": "channels_last"},
                                     path) is raises


@pytest.mark.parametrize("exception, expected", [
    ("UnimplementedError: The Conv2D op currently only supports the NHWC tensor format "
     "on CPU", "eigen-cf-conv-unimplemented"),
    ("InvalidArgumentError: something else", None),
])
def test_a_raised_tf_error_is_matched_by_its_type_name(exception, expected):
    """The registry entry is found from the exception's type name (the text before the
    first colon): TF's channels_first float32 conv2d on Eigen raises UnimplementedError."""
    arrays = {"x": np.zeros((1, 2, 3, 3), np.float32),
              "kernel": np.zeros((1, 1, 2, 2), np.float32)}
    assert known.raised(spec("conv2d"), arrays, {"data_format": CF}, exception,
                        ("eigen",)) == expected


@pytest.mark.parametrize("outputs", [1, 3])        # output length != 2 filters
def test_keras_cf_bias_gradient_model_needs_the_output_length_to_equal_filters(outputs):
    """conv1d_grad channels_first with 2 filters: grad_out of 1 or 3 output cells (fewer
    or more than the filters) shows no bias bug: no model."""
    arrays, scalars = _cf_conv(outputs + 1)
    arrays["grad_out"] = np.ones((1, 2, outputs), np.float32)
    assert known._bias_along_last_axis(spec("conv1d_grad"), arrays, scalars, None,
                                       (None, None, None)) is None
