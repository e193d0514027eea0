"""Check the pooling, padding and convolution nodes of an ONNX ``.onnx`` model.

>>> from pooling_ref.model_check import onnx                 # doctest: +SKIP
>>> results = onnx.check_model("model.onnx", references=refs)  # doctest: +SKIP

The file is read with the ``onnx`` package; onnxruntime (CPU) runs it once with every
node output added to the graph's outputs, so each node's actual inputs and outputs are
kept (initializers are read from the file). Each node of a type in :data:`NODE_TYPES` is a
row; it is checked when ``references`` has its op type: a callable called as
``reference(*inputs, **attributes)`` with the node's input arrays (``None`` for an omitted
optional input) and its ONNX attributes as keywords (strings decoded, lists as tuples),
returning the expected output or a tuple of outputs (e.g. MaxPool's ``(y, indices)``),
compared bit for bit; or a :class:`Reference` whose ``bound`` (called the same way) gives
the elementwise error bound of a float result computed in an order the reference does not
fix (convolution). A reference that raises ``ValueError`` / ``NotImplementedError`` (an
attribute it does not model) leaves the node "unchecked", with the reason.

Without ``references``, :data:`DEFAULT_REFERENCES` applies: the place for the functions of
the ONNX dialect (``max_pool``, ``average_pool``, ... take the ONNX attribute names), each
under its op type.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ..tolerance import compare
from ._nodes import NodeResult, RuntimeMissing, draw_inputs, given_inputs

__all__ = ["DEFAULT_REFERENCES", "NODE_TYPES", "Reference", "check_model", "runtime_versions"]

#: The ONNX op types listed as nodes (pooling, padding, convolution).
NODE_TYPES = ("MaxPool", "AveragePool", "LpPool", "GlobalMaxPool", "GlobalAveragePool",
              "GlobalLpPool", "MaxRoiPool", "Pad", "Conv", "ConvTranspose")


#: ONNX op type -> reference used when ``check_model`` is given none (``pooling-ref model``).
DEFAULT_REFERENCES: dict = {}


@dataclass(frozen=True)
class Reference:
    """A reference for one ONNX op type: ``run(*inputs, **attributes)`` -> output(s);
    ``bound`` (same call) -> the elementwise bound of the first output, or None (bitwise)."""

    run: Callable
    bound: Callable | None = None


def _onnx():
    try:
        import onnx
        import onnxruntime
    except ImportError as e:
        raise RuntimeMissing("checking .onnx models needs onnx and onnxruntime: "
                             "pip install 'pooling-ref[onnx]'") from e
    return onnx, onnxruntime


def runtime_versions() -> dict:
    """The versions of the packages that read and run the file."""
    onnx, onnxruntime = _onnx()
    return {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}


def _load(model: object, onnx):
    if isinstance(model, (bytes, bytearray)):
        content = bytes(model)
    elif isinstance(model, (str, os.PathLike)):
        with open(model, "rb") as f:
            content = f.read()
    else:
        raise TypeError(f"model must be a path or the bytes of a .onnx file, got "
                        f"{type(model).__name__}")
    try:
        proto = onnx.load_model_from_string(content)
    except Exception as e:                # protobuf's DecodeError and friends
        raise ValueError(f"model: not an ONNX file ({type(e).__name__}: {e})") from None
    if not proto.graph.node:
        raise ValueError("model: not an ONNX file (no graph nodes)")
    return proto


def _specs(proto, onnx) -> tuple[list[str], list[tuple[tuple[int, ...], np.dtype]]]:
    """Names and (shape, dtype) of the graph inputs that are not initializers; -1 marks a
    symbolic or unknown size."""
    initialized = {t.name for t in proto.graph.initializer}
    names, specs = [], []
    for value in proto.graph.input:
        if value.name in initialized:
            continue
        tensor = value.type.tensor_type
        shape = tuple(d.dim_value if d.HasField("dim_value") else -1
                      for d in tensor.shape.dim)
        names.append(value.name)
        specs.append((shape, np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type))))
    return names, specs


def _run_all(proto, feeds: dict, onnx, onnxruntime) -> dict[str, np.ndarray]:
    """Every value of the main graph after one run: feeds, initializers, node outputs."""
    every = onnx.ModelProto()
    every.CopyFrom(proto)
    listed = {o.name for o in every.graph.output}
    for node in every.graph.node:
        for name in node.output:
            if name and name not in listed:
                every.graph.output.append(onnx.ValueInfoProto(name=name))
                listed.add(name)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3          # shape warnings of the runtime are ours to show
    try:
        session = onnxruntime.InferenceSession(every.SerializeToString(), options,
                                               providers=["CPUExecutionProvider"])
        fetched = session.run(None, feeds)
    except Exception as e:                  # onnxruntime's own exception types
        raise ValueError(f"model: onnxruntime cannot run it: {str(e).strip()}") from None
    values = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    values.update(feeds)
    values.update(zip((o.name for o in session.get_outputs()), fetched))
    return values


def _attributes(node, onnx) -> dict:
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else \
            tuple(v) if isinstance(v, list) else v
    return out


def _compare(reference: Reference, inputs: list, attrs: dict, outputs: list):
    """(verdict, mode, worst, detail) of the node's ``outputs`` against the reference."""
    try:
        want = reference.run(*inputs, **attrs)
        bound = None if reference.bound is None else reference.bound(*inputs, **attrs)
    except (ValueError, NotImplementedError) as e:
        return "unchecked", "bitwise", 0.0, f"reference: {type(e).__name__}: {e}"
    want = list(want) if isinstance(want, tuple) else [want]
    mode, worst, problems = ("bound" if bound is not None else "bitwise"), 0.0, []
    for k, got in enumerate(outputs[:len(want)]):
        c = compare(got, np.asarray(want[k]), bound=bound if k == 0 else None)
        worst = max(worst, _worst(c, got))
        if not c.ok:
            problems.append(f"output {k}: {c}")
    return ("DIFFERS" if problems else "match"), mode, worst, "; ".join(problems)


def _worst(c, got: np.ndarray) -> float:
    """The bound ratio (bound mode), ULP distance (float) or absolute difference (integer
    outputs, e.g. indices); infinite for a shape or dtype mismatch."""
    if not c.ok and c.first_index is None:
        return float("inf")
    if c.mode == "bound":
        return float(c.worst_ratio)
    return float(c.max_ulp if got.dtype.kind == "f" else c.max_abs)


def _check_node(i: int, node, values: dict, references: Mapping, onnx) -> NodeResult:
    inputs = [values[n] if n else None for n in node.input]
    while inputs and inputs[-1] is None:
        inputs.pop()
    outputs = [values[n] for n in node.output if n]
    attrs = _attributes(node, onnx)
    reference = references.get(node.op_type)
    if reference is None:
        verdict, mode, worst = "unchecked", "bitwise", 0.0
        detail = f"no reference given for ONNX {node.op_type}"
    else:
        reference = reference if isinstance(reference, Reference) else Reference(reference)
        verdict, mode, worst, detail = _compare(reference, inputs, attrs, outputs)
    x, y = inputs[0], outputs[0]
    return NodeResult(i, node.name or node.output[0], node.op_type, attrs, tuple(x.shape),
                      tuple(y.shape), y.dtype.name, verdict, mode, worst, (), detail)


def check_model(model: object, inputs: object = None, *,
                references: Mapping[str, Callable | Reference] | None = None,
                seed: int = 0, progress=None) -> list[NodeResult]:
    """Check every pooling / padding / conv node of ``model`` (a path or the file's bytes).

    ``inputs``: an array, a list of arrays (one per graph input), or ``None`` (drawn from
    ``seed``). ``references``: ONNX op type -> reference (see the module docstring;
    default :data:`DEFAULT_REFERENCES`); a node without one is listed "unchecked".
    ``progress(done, total, label)``: called after the run and after each node.
    """
    onnx, onnxruntime = _onnx()
    proto = _load(model, onnx)
    names, specs = _specs(proto, onnx)
    arrays = draw_inputs(specs, seed) if inputs is None else given_inputs(inputs, specs)
    for name, a, (shape, _) in zip(names, arrays, specs):
        if a.ndim != len(shape) or any(s not in (-1, n) for s, n in zip(shape, a.shape)):
            raise ValueError(f"inputs: the model's input {name!r} has shape {shape} "
                             f"(-1: any size), got {a.shape}")
    values = _run_all(proto, dict(zip(names, arrays)), onnx, onnxruntime)
    nodes = [(i, n) for i, n in enumerate(proto.graph.node) if n.op_type in NODE_TYPES]
    report = progress or (lambda done, total, label: None)
    report(1, len(nodes) + 1, "run")
    results = []
    for done, (i, node) in enumerate(nodes, 2):
        results.append(_check_node(i, node, values, DEFAULT_REFERENCES if references is None
                                   else references, onnx))
        report(done, len(nodes) + 1, results[-1].name)
    return results
