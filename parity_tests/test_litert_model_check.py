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
from pooling_ref.model_check import tflite

require_litert()
OPS = ["PAD", "AVERAGE_POOL_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D"]


def _small_model():
    inp = keras.Input((12, 11, 3), batch_size=1)
    y = keras.layers.ZeroPadding2D(((1, 2), (0, 1)))(inp)
    y = keras.layers.AveragePooling2D(3, 1, "same")(y)
    y = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(y)
    y = keras.layers.DepthwiseConv2D(3, strides=2, depth_multiplier=2)(y)
    y = keras.layers.MaxPooling2D((2, 3), (1, 2), "same")(y)
    return keras.Model(inp, y)


@pytest.fixture(scope="module")
def float_model():
    return convert_keras(_small_model())


@pytest.fixture(scope="module")
def int8_model():
    return convert_keras(_small_model(), int8=True)


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
    assert tflite.table([clean, node]).endswith("2 nodes checked, 1 differ")


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


def fifty_node_model():
    """25 blocks of (pooling, conv): 50 checked nodes on a 32x32x8 input."""
    inp = keras.Input((32, 32, 8), batch_size=1)
    y = inp
    for i in range(25):
        pool = keras.layers.AveragePooling2D if i % 2 else keras.layers.MaxPooling2D
        y = pool(3, 1, "same")(y)
        y = (keras.layers.Conv2D(8, 3, padding="same") if i % 3
             else keras.layers.DepthwiseConv2D(3, padding="same"))(y)
    return keras.Model(inp, y)


def test_fifty_nodes():
    results = tflite.check_model(convert_keras(fifty_node_model()), kernel="xnnpack")
    assert len(results) == 50
    assert not any(r.failed for r in results), tflite.table(results)
