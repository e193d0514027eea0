"""LiteRT models for the parity tests: one Keras pooling layer per configuration, converted
with ``tf.lite.TFLiteConverter.from_keras_model`` (float32, or full-integer int8 / int16
with a representative dataset), then edited through LiteRT's flatbuffer schema bindings
(``ai_edge_litert.schema_py_generated``) to set what a test needs exactly: the fused
activation, the quantization parameters, uint8 tensors. Run under one of the three CPU op
resolvers.

Resolvers (``ai_edge_litert.interpreter.OpResolverType``), measured with ai-edge-litert
2.3.0: ``AUTO`` and ``BUILTIN`` apply the XNNPACK delegate ("xnnpack", registry path
``litert-xnnpack``); ``BUILTIN_WITHOUT_DEFAULT_DELEGATES`` runs the optimized builtin kernels
("builtin", ``litert-builtin``); ``BUILTIN_REF`` the reference kernels ("reference",
``litert-reference``).
"""

from __future__ import annotations

import functools
import os

import numpy as np
import pytest

REASON = ("ai_edge_litert is not installed: pip install '.[litert]' (nox -s litert runs "
          "these tests and fails instead of skipping)")


def require_litert():
    """Import ai_edge_litert, or skip (fail under ``POOLING_REF_REQUIRE_LITERT=1``)."""
    if os.environ.get("POOLING_REF_REQUIRE_LITERT") == "1":
        import ai_edge_litert.interpreter  # noqa: F401 - an ImportError fails the run
    return pytest.importorskip("ai_edge_litert.interpreter", reason=REASON)


interpreter = require_litert()
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
import flatbuffers  # noqa: E402
from ai_edge_litert import schema_py_generated as schema  # noqa: E402

R = interpreter.OpResolverType
#: Path name (registry) -> op resolver.
RESOLVERS = {"xnnpack": R.AUTO, "builtin": R.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
             "reference": R.BUILTIN_REF}
PATHS = {kernel: f"litert-{kernel}" for kernel in RESOLVERS}
ACTIVATION_CODES = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}
TENSOR_TYPES = {"int8": schema.TensorType.INT8, "uint8": schema.TensorType.UINT8,
                "int16": schema.TensorType.INT16, "float32": schema.TensorType.FLOAT32}


def _keras_pool(kind: str, filter_size, strides, padding: str, channels: int):
    layer = keras.layers.MaxPooling2D if kind == "max" else keras.layers.AveragePooling2D
    inp = keras.Input((None, None, channels), batch_size=None)
    return keras.Model(inp, layer(filter_size, strides, padding.lower())(inp))


@functools.lru_cache(maxsize=64)
def converted(kind: str, filter_size: tuple, strides: tuple, padding: str, channels: int,
              dtype: str = "float32") -> bytes:
    """The .tflite bytes of one Keras pooling layer (input size dynamic: the interpreter
    resizes it), float32 or full-integer (int8, int16 with int8 weights; uint8 is the int8
    model with its tensors retyped)."""
    model = _keras_pool(kind, filter_size, strides, padding, channels)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if dtype != "float32":
        rng = np.random.default_rng(0)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: (
            [rng.uniform(-4, 4, (1, 8, 8, channels)).astype(np.float32)] for _ in range(8))
        ops = tf.lite.OpsSet
        conv.target_spec.supported_ops = (
            [ops.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
            if dtype == "int16" else [ops.TFLITE_BUILTINS_INT8])
        io = tf.int16 if dtype == "int16" else tf.int8
        conv.inference_input_type = conv.inference_output_type = io
    return conv.convert()


def convert_keras(model, *, int8: bool = False, seed: int = 0) -> bytes:
    """A Keras model as .tflite bytes: float32, or full-integer int8 (int8 input and output)
    calibrated on standard-normal samples of the model's input shape."""
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        rng = np.random.default_rng(seed)
        shape = (1, *model.input_shape[1:])
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: (
            [rng.standard_normal(shape).astype(np.float32)] for _ in range(8))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int8
    return conv.convert()


def edit(content: bytes, *, activation: str | None = None, scale: float | None = None,
         zero_point: int | None = None, dtype: str | None = None) -> bytes:
    """``content`` with every operator's fused activation, and every tensor's quantization
    parameters and type, set through the schema's object API."""
    model = schema.ModelT.InitFromPackedBuf(content, 0)
    for graph in model.subgraphs:
        for op in graph.operators:
            if activation is not None and hasattr(op.builtinOptions,
                                                   "fusedActivationFunction"):
                op.builtinOptions.fusedActivationFunction = ACTIVATION_CODES[activation]
        for t in graph.tensors:
            if scale is not None:
                t.quantization.scale, t.quantization.zeroPoint = [scale], [zero_point]
            if dtype is not None:
                t.type = TENSOR_TYPES[dtype]
    return _packed(model)


def edit_output_quantization(content: bytes, scale: float, zero_point: int) -> bytes:
    """``content`` with the main graph's output tensor quantized with other parameters than
    its input (registry ``litert-pool-requantization-missing``)."""
    model = schema.ModelT.InitFromPackedBuf(content, 0)
    graph = model.subgraphs[0]
    out = graph.tensors[graph.outputs[0]]
    out.quantization.scale, out.quantization.zeroPoint = [scale], [zero_point]
    return _packed(model)


def _packed(model) -> bytes:
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def run(content: bytes, x: np.ndarray, kernel: str) -> np.ndarray:
    """The model's output for ``x`` under the resolver of ``kernel``."""
    it = interpreter.Interpreter(model_content=content,
                                 experimental_op_resolver_type=RESOLVERS[kernel])
    index = it.get_input_details()[0]["index"]
    it.resize_tensor_input(index, x.shape)
    it.allocate_tensors()
    it.set_tensor(index, x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"]).copy()


def pool_model(kind: str, filter_size, strides, padding, channels, *, activation="NONE",
               dtype="float32", scale=None, zero_point=None) -> bytes:
    """One pooling node with the given attributes (see :func:`converted`, :func:`edit`)."""
    base = converted(kind, tuple(filter_size), tuple(strides), padding, channels,
                     "int8" if dtype == "uint8" else dtype)
    retype = "uint8" if dtype == "uint8" else None
    return edit(base, activation=activation, scale=scale, zero_point=zero_point,
                dtype=retype)


def operators(content: bytes) -> list[str]:
    """The builtin operator names of the model's main graph, in order."""
    model = schema.ModelT.InitFromPackedBuf(content, 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = model.operatorCodes
    return [names[max(codes[op.opcodeIndex].builtinCode,
                      codes[op.opcodeIndex].deprecatedBuiltinCode)]
            for op in model.subgraphs[0].operators]
