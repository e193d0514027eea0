"""pooling_ref.model_check.onnx: reading an ONNX file, one onnxruntime run with every node
output kept, the node table, and the reference interface (one callable per op type).

The models are built here with ``onnx.helper`` in NCHW, with only Keras-expressible
attributes (SAME_UPPER / VALID / zero pads, no dilation, no ceil mode, average over the
real cells), so the references below are the core's Keras ops called with
``data_format="channels_first"`` — an adapter for these tests, not ONNX semantics (those
are ``pooling_ref.dialects.onnx``'s). The planted difference is a runtime defect measured
with onnxruntime 1.32: a VALID window larger than the input on an axis (stride 2) gives one
output where ONNX's formula floor((L - k) / s) + 1 and Keras give none.

Skipped without onnx and onnxruntime (``pip install '.[onnx]'``); failed instead under
``POOLING_REF_REQUIRE_ONNX=1`` (``nox -s litert``).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from pooling_ref import conv, max_pool, output_length, zero_pad
from pooling_ref.model_check import onnx as onnx_check
from pooling_ref.model_check import table
from pooling_ref.pooling import avg_pool
from pooling_ref.tolerance import conv_bound

from .test_cli import run

if os.environ.get("POOLING_REF_REQUIRE_ONNX") == "1":
    import onnxruntime  # noqa: F401 - an ImportError fails the run
pytest.importorskip("onnxruntime", reason="pip install '.[onnx]'")
onnx = pytest.importorskip("onnx", reason="pip install '.[onnx]'")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

pytestmark = pytest.mark.litert

F = np.float32


# ------------------------------------------------- references for Keras-expressible nodes


def _keras_padding(kernel_shape, auto_pad="NOTSET", pads=None, dilations=None, **extra):
    """"same" / "valid" for the attributes Keras can express, else NotImplementedError."""
    if any(d != 1 for d in dilations or ()) or any(extra.get(k, 0) for k in (
            "ceil_mode", "count_include_pad", "storage_order")):
        raise NotImplementedError(f"not a Keras configuration: {extra}, {dilations}")
    if auto_pad == "SAME_UPPER":
        return "same"
    if auto_pad == "VALID" or (auto_pad == "NOTSET" and not any(pads or ())):
        return "valid"
    raise NotImplementedError(f"auto_pad={auto_pad}, pads={pads}")


def _pool(op):
    def reference(x, kernel_shape, strides=None, **attrs):
        padding = _keras_padding(kernel_shape, **attrs)
        strides = strides or (1,) * len(kernel_shape)
        lengths = [0 if padding == "valid" and k > n else output_length(n, k, s, padding)
                   for n, k, s in zip(x.shape[2:], kernel_shape, strides)]
        if 0 in lengths:          # TF's (and ONNX's) empty output; the core refuses it
            return np.empty((*x.shape[:2], *lengths), x.dtype)
        return op(x, kernel_shape, strides, padding, data_format="channels_first",
                  tf_kernel=None)
    return reference


def _conv_params(w, group=1, strides=None, **attrs):
    padding = _keras_padding(**{"kernel_shape": w.shape[2:], **attrs})
    return dict(strides=strides or 1, padding=padding, data_format="channels_first",
                groups=group)


def _conv(x, w, b=None, **attrs):
    return conv(x, w.transpose(2, 3, 1, 0), b, **_conv_params(w, **attrs))


def _conv_bound(x, w, b=None, **attrs):
    return conv_bound(x, w.transpose(2, 3, 1, 0), b, **_conv_params(w, **attrs))


def _pad(x, pads, value=None, mode="constant"):
    n = x.ndim
    before, after = pads[:n], pads[n:]
    if mode != "constant" or (value is not None and value != 0) or any(before[:2]) or any(
            after[:2]):
        raise NotImplementedError("only zero padding of the spatial axes")
    return zero_pad(x, tuple(zip(before[2:], after[2:])), data_format="channels_first")


REFERENCES = {"MaxPool": _pool(max_pool), "AveragePool": _pool(avg_pool),
              "Conv": onnx_check.Reference(_conv, _conv_bound), "Pad": _pad}


# ------------------------------------------------------------------------------ models


def _model(nodes, inits, shape, *, name="x"):
    x = helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
    y = helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "g", [x], [y],
                              initializer=[numpy_helper.from_array(a, k)
                                           for k, a in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])


def small_model() -> bytes:
    """Pad -> MaxPool (SAME_UPPER, stride 2) -> Conv (3x3 SAME_UPPER, bias, ReLU after) ->
    depthwise Conv (group 4, VALID) -> AveragePool (2x3, stride 1, zero pads) on 1x3x9x10."""
    rng = np.random.default_rng(1)
    inits = {"pads": np.array([0, 0, 1, 0, 0, 0, 2, 1], np.int64),
             "w1": rng.standard_normal((4, 3, 3, 3)).astype(F),
             "b1": rng.standard_normal(4).astype(F),
             "w2": rng.standard_normal((4, 1, 2, 2)).astype(F)}
    nodes = [
        helper.make_node("Pad", ["x", "pads"], ["padded"], name="pad"),
        helper.make_node("MaxPool", ["padded"], ["pooled"], name="max", kernel_shape=[3, 3],
                         strides=[2, 2], auto_pad="SAME_UPPER"),
        helper.make_node("Conv", ["pooled", "w1", "b1"], ["c1"], name="conv",
                         kernel_shape=[3, 3], auto_pad="SAME_UPPER"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="depthwise", group=4,
                         kernel_shape=[2, 2], auto_pad="VALID"),
        helper.make_node("AveragePool", ["c2"], ["y"], name="avg", kernel_shape=[2, 3],
                         pads=[0, 0, 0, 0]),
    ]
    return _model(nodes, inits, [1, 3, 9, 10]).SerializeToString()


def planted_model() -> bytes:
    """MaxPool and AveragePool, window (1, 5), stride (1, 2), VALID, on a 1x1x3x4 input."""
    nodes = [helper.make_node(op, ["x"], [out], name=out, kernel_shape=[1, 5],
                              strides=[1, 2], auto_pad="VALID")
             for op, out in (("MaxPool", "max"), ("AveragePool", "y"))]
    nodes[1].input[0] = "x"
    return _model(nodes, {}, [1, 1, 3, 4]).SerializeToString()


def fifty_node_model() -> bytes:
    """25 blocks of (MaxPool or AveragePool 3x3 SAME_UPPER stride 1, Conv 3x3 SAME_UPPER
    with 8 filters) on 1x8x32x32."""
    rng = np.random.default_rng(2)
    nodes, inits, y = [], {}, "x"
    for i in range(25):
        nodes.append(helper.make_node("AveragePool" if i % 2 else "MaxPool", [y], [f"p{i}"],
                                      kernel_shape=[3, 3], auto_pad="SAME_UPPER"))
        inits[f"w{i}"] = (rng.standard_normal((8, 8, 3, 3)) / 8).astype(F)
        nodes.append(helper.make_node("Conv", [f"p{i}", f"w{i}"], [f"c{i}"],
                                      kernel_shape=[3, 3], auto_pad="SAME_UPPER"))
        y = f"c{i}"
    return _model(nodes, inits, [1, 8, 32, 32]).SerializeToString()


# ------------------------------------------------------------------------------- tests


def test_clean_model_every_node_matches():
    results = onnx_check.check_model(small_model(), references=REFERENCES)
    assert [r.op for r in results] == ["Pad", "MaxPool", "Conv", "Conv", "AveragePool"]
    assert [r.verdict for r in results] == ["match"] * 5, table(results)
    pad, top, conv1, depthwise, avg = results
    assert pad.input_shape == (1, 3, 9, 10) and pad.output_shape == (1, 3, 12, 11)
    assert top.attributes == {"kernel_shape": (3, 3), "strides": (2, 2),
                              "auto_pad": "SAME_UPPER"}
    assert top.output_shape == (1, 3, 6, 6) and top.mode == "bitwise" and top.worst == 0
    assert conv1.mode == "bound" and 0 <= conv1.worst <= 1
    assert depthwise.attributes["group"] == 4 and depthwise.output_shape == (1, 4, 5, 5)
    assert avg.output_shape == (1, 4, 4, 3)


def test_planted_difference_is_found():
    """onnxruntime's VALID output size for a window larger than the input: one output
    (row [0, 1, 2, 3]: max 3, mean 1.5 of the real cells) where there is none."""
    results = onnx_check.check_model(planted_model(), references=REFERENCES)
    assert [(r.op, r.verdict) for r in results] == [("MaxPool", "DIFFERS"),
                                                    ("AveragePool", "DIFFERS")]
    assert all(r.output_shape == (1, 1, 3, 1) for r in results)
    assert "shape (1, 1, 3, 1) != expected shape (1, 1, 3, 0)" in results[0].detail
    assert table(results).endswith("2 nodes, 2 checked, 2 differ")


def test_a_wrong_reference_is_caught():
    """The comparison is real: a reference off by one ULP on one element fails the node."""
    def nudged(x, *args, **kw):
        y = REFERENCES["MaxPool"](x, *args, **kw).copy()
        y.flat[0] = np.nextafter(y.flat[0], F(np.inf))
        return y

    results = onnx_check.check_model(small_model(), references={"MaxPool": nudged})
    top = results[1]
    assert top.verdict == "DIFFERS" and top.worst == 1, top
    assert [r.verdict for r in results if r.op != "MaxPool"] == ["unchecked"] * 4
    assert "no reference given for ONNX Conv" in results[2].detail


def test_reference_that_declines_leaves_the_node_unchecked():
    model = _model([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2],
                                     dilations=[2, 2])], {}, [1, 1, 6, 6])
    (node,) = onnx_check.check_model(model.SerializeToString(), references=REFERENCES)
    assert node.verdict == "unchecked" and "NotImplementedError" in node.detail


def test_given_inputs_progress_and_errors(tmp_path):
    x = np.zeros((1, 3, 9, 10), F)
    calls = []
    path = tmp_path / "m.onnx"
    path.write_bytes(small_model())
    results = onnx_check.check_model(str(path), x, references=REFERENCES,
                                     progress=lambda *c: calls.append(c))
    # zeros in: padding, pooling and the first conv (bias only) exact; drawn inputs are not
    assert [r.worst for r in results[:3]] == [0, 0, 0]
    assert onnx_check.check_model(str(path), references=REFERENCES)[2].worst > 0
    assert calls == [(1, 6, "run")] + [(i + 2, 6, r.name) for i, r in enumerate(results)]
    with pytest.raises(ValueError, match=r"input 'x' has shape \(1, 3, 9, 10\)"):
        onnx_check.check_model(small_model(), np.zeros((1, 3, 4, 4), F))
    with pytest.raises(TypeError, match=r"inputs\[0\]: .* float32, got an array of int64"):
        onnx_check.check_model(small_model(), np.zeros((1, 3, 9, 10), np.int64))
    with pytest.raises(ValueError, match="not an ONNX file"):
        onnx_check.check_model(b"\x00not a protobuf" * 4)
    with pytest.raises(TypeError, match="model must be a path or the bytes"):
        onnx_check.check_model(1.5)


def test_fifty_nodes():
    results = onnx_check.check_model(fifty_node_model(), references=REFERENCES)
    assert len(results) == 50
    assert [r.verdict for r in results] == ["match"] * 50, table(results)


def test_cli_checks_onnx_files_with_the_dialect_by_default(tmp_path):
    """``pooling-ref model FILE.onnx``: the default references are the ONNX dialect and the
    core's convolution. The clean model's Pad, MaxPool, both Conv (one grouped) and
    AveragePool match; the planted model's two nodes differ and are named as
    onnxruntime's registered VALID defect, exit 1."""
    (tmp_path / "m.onnx").write_bytes(small_model())
    r = run("model", "m.onnx", "--json", "n.json", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASSED: 5 nodes: 5 match, 0 known, 0 unchecked, 0 DIFFERS" in r.stdout, r.stdout
    conv1, depthwise = (n for n in onnx_check.check_model(small_model()) if n.op == "Conv")
    assert conv1.mode == depthwise.mode == "bound" and 0 < conv1.worst <= 1
    assert "onnxruntime" in r.stdout.splitlines()[0]
    (tmp_path / "p.onnx").write_bytes(planted_model())
    r = run("model", "p.onnx", "-q", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.count("onnxruntime-valid-window-larger-one-output") >= 2, r.stdout
    assert "FAILED: 2 nodes: 0 match, 0 known, 0 unchecked, 2 DIFFERS" in r.stdout, r.stdout


def test_default_max_pool_with_indices_is_judged_with_the_registered_padding():
    """A MaxPool node with Indices, SAME_UPPER and dilation 2 on L = 7: onnxruntime pads
    from the raw kernel (5 outputs, registry onnxruntime-same-dilation-undilated-pad):
    "known" and named, not a difference; an AveragePool node with ceil_mode matches."""
    nodes = [helper.make_node("MaxPool", ["x"], ["y", "i"], kernel_shape=[3], dilations=[2],
                              auto_pad="SAME_UPPER"),
             helper.make_node("AveragePool", ["x"], ["a"], kernel_shape=[4], strides=[4],
                              ceil_mode=1)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [1, 1, 7])], [
        helper.make_tensor_value_info(n, t, None) for n, t in (
            ("y", TensorProto.FLOAT), ("i", TensorProto.INT64), ("a", TensorProto.FLOAT))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
    model.ir_version = 10
    x = np.arange(1, 8, dtype=F).reshape(1, 1, 7)
    top, avg = onnx_check.check_model(model.SerializeToString(), x)
    assert (top.verdict, top.registry) == ("known",
                                           ("onnxruntime-same-dilation-undilated-pad",)), top
    assert top.output_shape == (1, 1, 5)
    assert avg.verdict == "match" and avg.output_shape == (1, 1, 2), avg
