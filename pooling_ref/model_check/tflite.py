"""Check every pooling, padding and convolution node of a LiteRT ``.tflite`` model.

>>> from pooling_ref.model_check import tflite             # doctest: +SKIP
>>> results = tflite.check_model("model.tflite")            # doctest: +SKIP
>>> print(tflite.table(results))                            # doctest: +SKIP

The model is read with LiteRT's own flatbuffer schema bindings
(``ai_edge_litert.schema_py_generated``) and run once by the LiteRT interpreter with
``experimental_preserve_all_tensors=True`` under the chosen CPU kernels (``kernel="xnnpack"``,
the interpreter's default; ``"builtin"``; ``"reference"``), on the given inputs or on drawn
ones. Each MAX_POOL_2D / AVERAGE_POOL_2D, PAD / PADV2, CONV_2D / DEPTHWISE_CONV_2D node's
actual input goes to the matching reference with the node's own attributes (filter size,
strides, padding, dilation, fused activation, quantization parameters), and its actual
output is compared: pooling and padding bit for bit with :mod:`pooling_ref.dialects.litert`
under that kernel's rules, float convolution within ``conv_bound``, integer convolution
within one quantization step. See :class:`~pooling_ref.model_check._nodes.NodeResult`.
"""

from __future__ import annotations

import os
import warnings
from importlib import metadata

import numpy as np

from ._nodes import NodeResult, RuntimeMissing, draw_inputs, given_inputs, table
from ._tflite_checks import CHECKS, UNCHECKED, check_unchecked

__all__ = ["CHECKED_OPS", "check_model", "runtime_versions", "table"]

CHECKED_OPS = tuple(CHECKS)
RESOLVERS = {"xnnpack": "AUTO", "builtin": "BUILTIN_WITHOUT_DEFAULT_DELEGATES",
             "reference": "BUILTIN_REF"}


def _litert():
    try:
        from ai_edge_litert import interpreter, schema_py_generated
    except ImportError as e:
        raise RuntimeMissing("checking .tflite models needs ai-edge-litert (the LiteRT "
                             "interpreter and its flatbuffer schema): "
                             "pip install 'pooling-ref[litert]'") from e
    return interpreter, schema_py_generated


def runtime_versions() -> dict:
    """The version of the LiteRT interpreter that runs the file."""
    _litert()
    return {"ai-edge-litert": metadata.version("ai-edge-litert")}


def _read(model: object) -> bytes:
    if isinstance(model, (bytes, bytearray)):
        return bytes(model)
    if isinstance(model, (str, os.PathLike)):
        with open(model, "rb") as f:
            return f.read()
    raise TypeError(f"model must be a path or the bytes of a .tflite file, got "
                    f"{type(model).__name__}")


class _Model:
    """The main graph of a .tflite file: operators with their options, tensors' names,
    types and quantization, through the schema's object API."""

    def __init__(self, content: bytes, schema):
        if len(content) < 8 or not schema.Model.ModelBufferHasIdentifier(content, 0):
            raise ValueError("model: not a .tflite file (no TFL3 flatbuffer identifier)")
        self.schema = schema
        self.model = schema.ModelT.InitFromPackedBuf(content, 0)
        self.graph = self.model.subgraphs[0]
        names = {v: k for k, v in vars(schema.BuiltinOperator).items() if k.isupper()}
        self.op_names = [names[max(c.builtinCode, c.deprecatedBuiltinCode)]
                         for c in self.model.operatorCodes]

    def op(self, i: int) -> str:
        return self.op_names[self.graph.operators[i].opcodeIndex]

    def tensor_name(self, t: int) -> str:
        name = self.graph.tensors[t].name
        return name.decode() if isinstance(name, bytes) else str(name)

    def quantization(self, t: int):
        """(scales array, zero points array, axis) or None for a float tensor."""
        q = self.graph.tensors[t].quantization
        if q is None or q.scale is None or len(q.scale) == 0:
            return None
        return np.asarray(q.scale, np.float64), np.asarray(q.zeroPoint, np.int64), \
            q.quantizedDimension


def _specs(details: list) -> list[tuple[tuple[int, ...], np.dtype]]:
    """(shape signature, dtype) of each model input; -1 marks a size the model leaves
    open."""
    return [(tuple(int(s) for s in d.get("shape_signature", d["shape"])),
             np.dtype(d["dtype"])) for d in details]


def _inputs(inputs: object, details: list, seed: int) -> list[np.ndarray]:
    specs = _specs(details)
    if inputs is None:
        return draw_inputs(specs, seed)
    arrays = given_inputs(inputs, specs)
    for i, (a, (shape, _)) in enumerate(zip(arrays, specs)):
        fits = a.ndim == len(shape) and all(s in (-1, n) for s, n in zip(shape, a.shape))
        if not fits:
            raise ValueError(f"inputs[{i}]: the model's input {i} has shape "
                             f"{tuple(shape)} (-1: any size), got {a.shape}")
    return arrays


def _run(content: bytes, inputs: object, kernel: str, seed: int):
    interpreter, _ = _litert()
    resolver = getattr(interpreter.OpResolverType, RESOLVERS[kernel])
    with warnings.catch_warnings():        # "intended for debugging": that is the point here
        warnings.filterwarnings("ignore", "Enabling `experimental_preserve_all_tensors`")
        it = interpreter.Interpreter(model_content=content,
                                     experimental_op_resolver_type=resolver,
                                     experimental_preserve_all_tensors=True)
    details = it.get_input_details()
    arrays = _inputs(inputs, details, seed)
    try:
        for d, a in zip(details, arrays):
            if tuple(a.shape) != tuple(d["shape"]):
                it.resize_tensor_input(d["index"], a.shape)
        it.allocate_tensors()
        for d, a in zip(details, arrays):
            it.set_tensor(d["index"], a)
        it.invoke()
    except RuntimeError as e:            # an op the kernels cannot prepare or run
        raise ValueError(f"model: the LiteRT interpreter ({kernel}) cannot run it: "
                         f"{str(e).strip()}") from None
    return it


def check_model(model: object, inputs: object = None, *, kernel: str = "xnnpack",
                seed: int = 0, progress=None) -> list[NodeResult]:
    """Check every pooling / padding / conv node of ``model`` (a path or the file's bytes).

    ``inputs``: an array, a list of arrays (one per model input), or ``None`` (drawn from
    ``seed``: standard normal floats, uniform integers). ``kernel``: the LiteRT CPU kernels
    to run and to hold the nodes to ("xnnpack", "builtin", "reference"). ``progress``: called
    as ``progress(done, total, label)`` after the run and after each node.
    """
    if kernel not in RESOLVERS:
        raise ValueError(f"kernel must be one of {', '.join(RESOLVERS)}, got {kernel!r}")
    content = _read(model)
    _, schema = _litert()
    m = _Model(content, schema)
    nodes = [(i, m.op(i)) for i in range(len(m.graph.operators))
             if m.op(i) in CHECKS or m.op(i) in UNCHECKED]
    report = progress or (lambda done, total, label: None)
    it = _run(content, inputs, kernel, seed)
    report(1, len(nodes) + 1, "run")
    results = []
    for done, (i, name) in enumerate(nodes, 2):
        results.append(_check_node(m, it, i, name, m.graph.operators[i], kernel))
        report(done, len(nodes) + 1, results[-1].name)
    return results


def _check_node(m: _Model, it, i: int, name: str, op, kernel: str) -> NodeResult:
    x = it.get_tensor(int(op.inputs[0]))
    y = it.get_tensor(int(op.outputs[0]))
    return CHECKS.get(name, check_unchecked)(m, it, i, name, op, x, y, kernel)
