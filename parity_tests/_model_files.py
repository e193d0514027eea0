"""Model files for the ``pooling-ref model`` tests, written into a test's directory.

The LiteRT files need TensorFlow (to convert) and ai-edge-litert (to run): each function
imports :mod:`parity_tests._litert` when called, which skips the calling test without them
(and fails it under ``POOLING_REF_REQUIRE_LITERT=1``), so a module that only refers to these
functions still runs its other tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: A stand-in for ai_edge_litert / onnx being absent (run at start-up as sitecustomize).
HIDE_RUNTIMES = """
import sys
for name in ("ai_edge_litert", "onnx", "onnxruntime"):
    sys.modules[name] = None
"""


def needs_litert() -> None:
    """Skip the calling test without TensorFlow and ai-edge-litert (see the docstring)."""
    import parity_tests._litert  # noqa: F401


def small_keras_model():
    """PAD, AVERAGE_POOL_2D, CONV_2D (RELU), DEPTHWISE_CONV_2D, MAX_POOL_2D once converted."""
    from parity_tests._litert import keras
    inp = keras.Input((12, 11, 3), batch_size=1)
    y = keras.layers.ZeroPadding2D(((1, 2), (0, 1)))(inp)
    y = keras.layers.AveragePooling2D(3, 1, "same")(y)
    y = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(y)
    y = keras.layers.DepthwiseConv2D(3, strides=2, depth_multiplier=2)(y)
    y = keras.layers.MaxPooling2D((2, 3), (1, 2), "same")(y)
    return keras.Model(inp, y)


def fifty_node_model():
    """25 blocks of (pooling, conv): 50 checked nodes on a 32x32x8 input."""
    from parity_tests._litert import keras
    inp = keras.Input((32, 32, 8), batch_size=1)
    y = inp
    for i in range(25):
        pool = keras.layers.AveragePooling2D if i % 2 else keras.layers.MaxPooling2D
        y = pool(3, 1, "same")(y)
        y = (keras.layers.Conv2D(8, 3, padding="same") if i % 3
             else keras.layers.DepthwiseConv2D(3, padding="same"))(y)
    return keras.Model(inp, y)


def clean_tflite(directory: Path, *, int8: bool = False) -> Path:
    """The small model converted (float32, or full-integer int8) as ``clean.tflite``."""
    from parity_tests._litert import convert_keras
    path = directory / ("clean_int8.tflite" if int8 else "clean.tflite")
    path.write_bytes(convert_keras(small_keras_model(), int8=int8))
    return path


def planted_tflite(directory: Path) -> tuple[Path, Path]:
    """An int8 2x2 average pooling whose output tensor is quantized with scale 0.25 while
    its input has 0.5 (LiteRT does not requantize: registry
    ``litert-pool-requantization-missing``), and an input file ``x.npy`` (arange(16))."""
    from parity_tests._litert import edit_output_quantization, pool_model
    base = pool_model("avg", (2, 2), (2, 2), "VALID", 1, dtype="int8", scale=0.5,
                      zero_point=0)
    path, x = directory / "planted.tflite", directory / "x.npy"
    path.write_bytes(edit_output_quantization(base, 0.25, 0))
    np.save(x, np.arange(16, dtype=np.int8).reshape(1, 4, 4, 1))
    return path, x


def fifty_tflite(directory: Path) -> Path:
    from parity_tests._litert import convert_keras
    path = directory / "fifty.tflite"
    path.write_bytes(convert_keras(fifty_node_model()))
    return path
