"""``onnx.reference`` and ``onnx.shape_inference`` are not ground truth for pooling: their
defects are registry entries (paths ``onnx-reference``, ``onnx-shape-inference``), each
shown here on a hand-derived case and checked both ways (a test fails when the defect stops
happening, so the registry is updated). The expected values are derived by hand from the
ONNX operator specification and agree with :mod:`pooling_ref.dialects.onnx` (and with
onnxruntime, ``test_onnx_dialect.py``). Needs the ``onnx`` package (``nox -s onnx``).
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, shape_inference  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

from pooling_ref.dialects import onnx as po  # noqa: E402

from . import _registry as reg  # noqa: E402

REFERENCE, INFERENCE = "onnx-reference", "onnx-shape-inference"


def _model(op: str, attrs: dict, opset: int = 22, shape=None):
    graph = helper.make_graph(
        [helper.make_node(op, ["x"], ["y"], **attrs)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10
    return model


def _reference(op: str, x: np.ndarray, **attrs) -> np.ndarray:
    return ReferenceEvaluator(_model(op, attrs)).run(None, {"x": x})[0]


def test_reference_average_counts_the_ceil_overhang():
    """[1..5], kernel 4, stride 4, ceil_mode=1: windows [1, 2, 3, 4] and [5] (+3 overhang
    cells, not counted with count_include_pad=0): [2.5, 5]."""
    x = np.arange(1, 6, dtype=np.float32).reshape(1, 1, 5)
    want = [2.5, 5.0]
    assert po.average_pool(x, [4], strides=[4], ceil_mode=1).ravel().tolist() == want
    got = _reference("AveragePool", x, kernel_shape=[4], strides=[4], ceil_mode=1)
    reg.expect("onnx-reference-avg-ceil-overhang", got.ravel().tolist() != want, REFERENCE,
               f"onnx.reference gives {got.ravel().tolist()}")
    reg.skip_other_path("onnx-reference-avg-ceil-overhang", REFERENCE)


@pytest.mark.parametrize(("length", "want"), [(8, [2, 4, 6, 8]), (7, [2, 4, 6, 7])])
def test_reference_same_lower_with_stride_pads_the_wrong_side(length, want):
    """[1..L], kernel 3, stride 2, SAME_LOWER: ceil(L / 2) outputs, total padding
    (out - 1) * 2 + 3 - L = 1 (L = 8) or 2 (L = 7), the odd cell before: windows start at
    -1 (L = 8: [-1, 0, 1] -> 2, ...) or -1 with one cell after (L = 7: last [5, 6, 7] -> 7)."""
    x = np.arange(1, length + 1, dtype=np.float32).reshape(1, 1, length)
    y, _ = po.max_pool(x, [3], strides=[2], auto_pad="SAME_LOWER")
    assert y.ravel().tolist() == want
    got = _reference("MaxPool", x, kernel_shape=[3], strides=[2], auto_pad="SAME_LOWER")
    reg.expect("onnx-reference-same-lower-stride", got.ravel().tolist() != want, REFERENCE,
               f"onnx.reference gives {got.ravel().tolist()}")
    reg.skip_other_path("onnx-reference-same-lower-stride", REFERENCE)


def test_reference_same_with_dilation_is_wrong():
    """[1..7], kernel 3, dilation 2 (window span 5), stride 1, SAME_UPPER: total padding 4,
    (2, 2); output i averages the real cells among x[i-2], x[i], x[i+2]:
    [2, 3, 3, 4, 5, 5, 6]."""
    x = np.arange(1, 8, dtype=np.float32).reshape(1, 1, 7)
    want = [2.0, 3.0, 3.0, 4.0, 5.0, 5.0, 6.0]
    assert po.average_pool(x, [3], dilations=[2], auto_pad="SAME_UPPER").ravel().tolist() \
        == want
    got = _reference("AveragePool", x, kernel_shape=[3], dilations=[2],
                     auto_pad="SAME_UPPER")
    reg.expect("onnx-reference-same-dilation", got.ravel().tolist() != want, REFERENCE,
               f"onnx.reference gives {got.ravel().tolist()}")
    reg.skip_other_path("onnx-reference-same-dilation", REFERENCE)


def test_reference_max_pool_raises_on_an_all_nan_window():
    """[nan, nan, nan, 1], kernel 2, stride 1: the first two windows hold only NaN; every
    window starts at a NaN, which onnxruntime's rule (each window scanned from its first
    cell, moving on only to a strictly greater one) keeps: [nan, nan, nan], indices 0-2."""
    x = np.array([np.nan, np.nan, np.nan, 1], np.float32).reshape(1, 1, 4)
    y, indices = po.max_pool(x, [2])
    assert np.isnan(y).all() and y.shape == (1, 1, 3) and indices.ravel().tolist() == [0, 1, 2]
    try:
        _reference("MaxPool", x, kernel_shape=[2])
        raised = ""
    except ValueError as e:
        raised = str(e)
    reg.expect("onnx-reference-all-nan-window-raises", bool(raised), REFERENCE, raised)
    reg.skip_other_path("onnx-reference-all-nan-window-raises", REFERENCE)


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize("opset", [18, 21, 22])
def test_shape_inference_before_opset_22_keeps_the_dropped_ceil_window(op, opset):
    """9x9, kernel 4, stride 4, pads 2, ceil_mode=1: ceil((9 + 4 - 4) / 4) + 1 = 4 windows
    per axis, the last starting at 12 >= 9 + 2 (in the right padding): dropped, 3x3."""
    x_shape = [1, 1, 9, 9]
    attrs = {"kernel_shape": [4, 4], "strides": [4, 4], "pads": [2, 2, 2, 2], "ceil_mode": 1}
    geometry = po.window_geometry([9, 9], [4, 4], strides=[4, 4], pads=[2, 2, 2, 2],
                                  ceil_mode=1)
    assert tuple(geometry.out_spatial) == (3, 3)
    inferred = shape_inference.infer_shapes(_model(op, attrs, opset, x_shape), strict_mode=True)
    dims = [d.dim_value for d in inferred.graph.output[0].type.tensor_type.shape.dim]
    differs = dims != [1, 1, 3, 3]
    if opset >= 22:                     # the entry is about opsets <= 21
        assert not differs, dims
        return
    reg.expect("onnx-shape-inference-ceil-window-kept", differs, INFERENCE,
               f"opset {opset}: declared {dims}")
    reg.skip_other_path("onnx-shape-inference-ceil-window-kept", INFERENCE)
