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

import numpy as np

from ._nodes import NodeResult
from ._tflite_checks import CHECKS

__all__ = ["CHECKED_OPS", "check_model", "table"]

CHECKED_OPS = tuple(CHECKS)
RESOLVERS = {"xnnpack": "AUTO", "builtin": "BUILTIN_WITHOUT_DEFAULT_DELEGATES",
             "reference": "BUILTIN_REF"}


def _litert():
    try:
        from ai_edge_litert import interpreter, schema_py_generated
    except ImportError as e:  # pragma: no cover - exercised without the extra
        raise ImportError("checking .tflite models needs ai-edge-litert: "
                          "pip install 'pooling-ref[litert]'") from e
    return interpreter, schema_py_generated


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


def _draw_inputs(details: list, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    drawn = []
    for d in details:
        dtype, shape = np.dtype(d["dtype"]), [max(1, int(s)) for s in d["shape"]]
        if dtype.kind == "f":
            drawn.append(rng.standard_normal(shape).astype(dtype))
        else:
            info = np.iinfo(dtype)
            drawn.append(rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype))
    return drawn


def _inputs(inputs: object, details: list, seed: int) -> list[np.ndarray]:
    if inputs is None:
        return _draw_inputs(details, seed)
    given = [inputs] if isinstance(inputs, np.ndarray) else list(inputs)
    if len(given) != len(details):
        raise ValueError(f"inputs: the model takes {len(details)} input(s), got {len(given)}")
    return [np.asarray(a, d["dtype"]).reshape(d["shape"]) if np.asarray(a).shape == ()
            else np.asarray(a).astype(d["dtype"], copy=False) for a, d in zip(given, details)]


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
    for d, a in zip(details, arrays):
        if tuple(a.shape) != tuple(d["shape"]):
            it.resize_tensor_input(d["index"], a.shape)
    it.allocate_tensors()
    for d, a in zip(details, arrays):
        it.set_tensor(d["index"], a)
    it.invoke()
    return it


def check_model(model: object, inputs: object = None, *, kernel: str = "xnnpack",
                seed: int = 0) -> list[NodeResult]:
    """Check every pooling / padding / conv node of ``model`` (a path or the file's bytes).

    ``inputs``: an array, a list of arrays (one per model input), or ``None`` (drawn from
    ``seed``: standard normal floats, uniform integers). ``kernel``: the LiteRT CPU kernels
    to run and to hold the nodes to ("xnnpack", "builtin", "reference").
    """
    if kernel not in RESOLVERS:
        raise ValueError(f"kernel must be one of {', '.join(RESOLVERS)}, got {kernel!r}")
    content = _read(model)
    _, schema = _litert()
    m = _Model(content, schema)
    it = _run(content, inputs, kernel, seed)
    results = []
    for i, op in enumerate(m.graph.operators):
        name = m.op(i)
        if name in CHECKED_OPS:
            results.append(_check_node(m, it, i, name, op, kernel))
    return results


def _check_node(m: _Model, it, i: int, name: str, op, kernel: str) -> NodeResult:
    x = it.get_tensor(int(op.inputs[0]))
    y = it.get_tensor(int(op.outputs[0]))
    return CHECKS[name](m, it, i, name, op, x, y, kernel)


def table(results: list[NodeResult]) -> str:
    """The results as an aligned text table, one node a row."""
    head = ("#", "node", "op", "attributes", "shape", "verdict", "worst", "registry")
    rows = [head, *(r.row() for r in results)]
    widths = [max(len(row[c]) for row in rows) for c in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    failed = sum(r.failed for r in results)
    lines.append(f"{len(results)} nodes checked, {failed} differ")
    return "\n".join(lines)

