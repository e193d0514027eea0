"""The models of onnxruntime's registered SAME_* padding (``pooling_ref._known_onnx``) on
the registry's hand-derived cases; no onnxruntime needed (``test_onnx_dialect.py`` checks
onnxruntime itself through ``check``)."""

from __future__ import annotations

import numpy as np

from pooling_ref import known
from pooling_ref._known_onnx import DILATION, UNCLAMPED, ort_same_pads
from pooling_ref.judge import judge
from pooling_ref.ops import spec


def _model(entry, op, x, **scalars):
    return known.MODELS[entry](spec(op), {"x": x}, scalars, None, None)


def test_unclamped_negative_padding_shifts_the_windows():
    """k = 1, s = 3 on [0..5]: total (2 - 1) * 3 + 1 - 6 = -2; SAME_UPPER's head -2 / 2 = -1
    reads [1, 4]; SAME_LOWER's (-2 + 1) / 2 -> 0 (toward zero) reads [0, 3]."""
    x = np.arange(6, dtype=np.float32).reshape(1, 1, 6)
    upper = _model(UNCLAMPED, "onnx.max_pool", x, kernel_shape=[1], strides=[3],
                   auto_pad="SAME_UPPER")
    lower = _model(UNCLAMPED, "onnx.average_pool", x, kernel_shape=[1], strides=[3],
                   auto_pad="SAME_LOWER")
    assert upper[0].ravel().tolist() == [1, 4] and upper[1].ravel().tolist() == [1, 4]
    assert lower.ravel().tolist() == [0, 3]
    assert _model(DILATION, "onnx.max_pool", x, kernel_shape=[1], strides=[3],
                  auto_pad="SAME_UPPER") is None          # no dilation: the other entry


def test_undilated_padding_gives_five_outputs_of_seven():
    """L = 7, k = 3, d = 2, s = 1, SAME_UPPER: pads (1, 1) from the raw kernel, window span
    5: 7 + 2 - 5 + 1 = 5 outputs, output i the max of x[i-1], x[i+1], x[i+3] (x = 1..7 at
    0..6): [4, 5, 6, 7, 6] at [3, 4, 5, 6, 5] (onnxruntime 1.32 gives exactly that)."""
    x = np.arange(1, 8, dtype=np.float32).reshape(1, 1, 7)
    assert ort_same_pads([7], [3], [1], "SAME_UPPER") == [(1, 1)]
    y, indices = _model(DILATION, "onnx.max_pool", x, kernel_shape=[3], dilations=[2],
                        auto_pad="SAME_UPPER")
    assert y.ravel().tolist() == [4, 5, 6, 7, 6] and indices.ravel().tolist() == [3, 4, 5, 6, 5]
    v = judge("onnx.max_pool", (y, indices), {"x": x},
              {"kernel_shape": [3], "dilations": [2], "auto_pad": "SAME_UPPER"})
    assert v.ok and v.known == DILATION and v.matched == (None,)


def test_a_window_without_a_cell_is_the_lowest_value_at_cell_minus_one():
    """(1, 2, 1) input, k = 2, d = 2, s = 2, SAME_LOWER: total 1, head 1: taps -1 and 1,
    no cell. onnxruntime (measured): -3.4028235e38, index plane + (-1): [-1, 0]; the
    average 0."""
    x = np.float32([[[10], [11]]])
    params = dict(kernel_shape=[2], dilations=[2], strides=[2], auto_pad="SAME_LOWER")
    y, indices = _model(DILATION, "onnx.max_pool", x, **params)
    assert y.ravel().tolist() == [np.finfo(np.float32).min] * 2
    assert indices.ravel().tolist() == [-1, 0]
    assert _model(DILATION, "onnx.average_pool", x, **params).ravel().tolist() == [0, 0]


def test_onnxruntime_raises_where_the_output_length_is_negative():
    """k = 3, d = 3, s = 2 on L = 1, SAME_LOWER: pads from the raw kernel (1, 1), span
    1 + 2 - 7 = -4, -4 / 2 = -2, + 1: length -1 ('Calculated output dimension is
    negative', measured). Without dilation the unclamped total never gets there: the span
    is (ceil(L / s) - 1) * s >= 0."""
    x = np.float32([[[1.0]]])
    scalars = dict(kernel_shape=[3], dilations=[3], strides=[2], auto_pad="SAME_LOWER")
    assert known.raised(spec("onnx.max_pool"), {"x": x}, scalars, "Fail: negative",
                        ("onnxruntime",)) == DILATION
    assert known.raised(spec("onnx.max_pool"), {"x": x}, scalars, "Fail: negative",
                        ("onednn",)) is None
    assert _model(DILATION, "onnx.max_pool", x, **scalars) is None
