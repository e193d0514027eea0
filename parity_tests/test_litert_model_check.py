"""pooling_ref.model_check.tflite on models built here: Keras -> LiteRT float32 and int8,
every pooling / padding / conv node checked under each CPU kernel set; a model with a
planted difference (a pooling node whose output tensor is quantized differently from its
input: LiteRT does not requantize, registry ``litert-pool-requantization-missing``) is
caught; a model of 50 pooling / conv nodes is checked whole."""

from __future__ import annotations

import numpy as np
import pytest

from parity_tests._litert import (
    RESOLVERS,
    convert_keras,
    edit_output_quantization,
    keras,
    pool_model,
    require_litert,
)
from parity_tests._model_files import fifty_node_model, small_keras_model
from pooling_ref.model_check import tflite

pytestmark = pytest.mark.litert

require_litert()
OPS = ["PAD", "AVERAGE_POOL_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D"]


@pytest.fixture(scope="module")
def float_model():
    return convert_keras(small_keras_model())


@pytest.fixture(scope="module")
def int8_model():
    return convert_keras(small_keras_model(), int8=True)


@pytest.mark.parametrize("kernel", sorted(RESOLVERS))
def test_float_model_every_node_matches(float_model, kernel):
    results = tflite.check_model(float_model, kernel=kernel)
    assert [r.op for r in results] == OPS
    assert not any(r.failed for r in results), tflite.table(results)
    pad, avg, conv, depthwise, top = results
    assert pad.attributes["paddings"] == [(0, 0), (1, 2), (0, 1), (0, 0)]
    assert pad.output_shape == (1, 15, 12, 3)
    assert avg.attributes == {"filter_size": (3, 3), "strides": (1, 1), "padding": "SAME",
                              "activation": "NONE"}
    assert conv.attributes["activation"] == "RELU" and conv.mode == "bound"
    assert depthwise.attributes["strides"] == (2, 2) and depthwise.attributes["kernel"] == (
        3, 3, 1, 8)
    assert top.attributes["filter_size"] == (2, 3) and top.verdict == "match"
    # XNNPACK's average sums in its own order: equal to its rule, a registered difference
    expected = ("known", ("litert-xnnpack-avg-order",)) if kernel == "xnnpack" else (
        "match", ())
    assert (avg.verdict, avg.registry) == expected


@pytest.mark.parametrize("kernel", sorted(RESOLVERS))
def test_int8_model_every_node_matches(int8_model, kernel):
    results = tflite.check_model(int8_model, kernel=kernel)
    assert [r.op for r in results] == OPS
    assert not any(r.failed for r in results), tflite.table(results)
    assert all(r.dtype == "int8" for r in results)
    pad = results[0]
    assert pad.attributes["value"] != 0          # padded with the zero point, not 0
    assert results[1].mode == "quanta" and results[1].worst == 0


@pytest.mark.parametrize("kernel", sorted(RESOLVERS))
def test_planted_difference_is_found(kernel):
    base = pool_model("avg", (2, 2), (2, 2), "VALID", 1, dtype="int8", scale=0.5,
                      zero_point=0)
    planted = edit_output_quantization(base, 0.25, 0)
    x = np.arange(16, dtype=np.int8).reshape(1, 4, 4, 1)
    (clean,) = tflite.check_model(base, x, kernel=kernel)
    assert clean.verdict == "match"
    (node,) = tflite.check_model(planted, x, kernel=kernel)
    assert node.failed and node.registry == ("litert-pool-requantization-missing",)
    assert node.worst == 13                       # got 13, requantized 26
    assert "DIFFERS" in tflite.table([clean, node])
    assert tflite.table([clean, node]).endswith("2 nodes, 2 checked, 1 differ")


def test_given_inputs_are_used(float_model):
    x = np.zeros((1, 12, 11, 3), np.float32)
    results = tflite.check_model(float_model, x, kernel="builtin")
    assert all(r.worst == 0 for r in results)      # zeros in: every node exact
    with pytest.raises(ValueError, match="inputs: the model takes 1 input"):
        tflite.check_model(float_model, [x, x])
    with pytest.raises(ValueError, match=r"kernel must be one of .*'gpu'"):
        tflite.check_model(float_model, kernel="gpu")
    with pytest.raises(TypeError, match="model must be a path or the bytes"):
        tflite.check_model(3.5)


def test_model_file_path(float_model, tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(float_model)
    assert [r.op for r in tflite.check_model(str(path))] == OPS


def test_fifty_nodes():
    results = tflite.check_model(convert_keras(fifty_node_model()), kernel="xnnpack")
    assert len(results) == 50
    assert not any(r.failed for r in results), tflite.table(results)


def test_progress_reports_the_run_then_each_node(float_model):
    calls = []
    results = tflite.check_model(float_model, kernel="builtin",
                                 progress=lambda *call: calls.append(call))
    assert calls == [(1, 6, "run")] + [(i + 2, 6, r.name) for i, r in enumerate(results)]


def test_bad_files_and_inputs(float_model):
    with pytest.raises(ValueError, match=r"not a \.tflite file"):
        tflite.check_model(b"\x00" * 64)
    with pytest.raises(TypeError, match=r"inputs\[0\]: the model's input 0 is float32, got "
                                        r"an array of int64"):
        tflite.check_model(float_model, np.zeros((1, 12, 11, 3), np.int64))
    with pytest.raises(ValueError, match=r"inputs\[0\]: .* has shape \(1, 12, 11, 3\)"):
        tflite.check_model(float_model, np.zeros((1, 4, 4, 3), np.float32))


def test_ops_without_a_reference_are_listed_unchecked():
    """A transposed convolution (TRANSPOSE_CONV) is a row with verdict "unchecked", not a
    pass and not silently dropped."""
    inp = keras.Input((6, 6, 2), batch_size=1)
    y = keras.layers.MaxPooling2D(2)(inp)
    y = keras.layers.Conv2DTranspose(3, 2, strides=2)(y)
    results = tflite.check_model(convert_keras(keras.Model(inp, y)), kernel="builtin")
    assert [(r.op, r.verdict) for r in results] == [("MAX_POOL_2D", "match"),
                                                     ("TRANSPOSE_CONV", "unchecked")]
    assert "no reference" in results[1].detail and not results[1].failed
