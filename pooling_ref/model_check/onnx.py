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

Without ``references``, :data:`DEFAULT_REFERENCES` applies: the ONNX dialect
(:mod:`pooling_ref.dialects.onnx`, which takes the ONNX attribute names) for ``MaxPool``
(with ``Indices``: judged like ``check(..., "onnx.max_pool")``, so onnxruntime's
registered SAME_* padding is "known" and named), ``AveragePool`` (judged like
``"onnx.average_pool"``: the derived bound, the registered padding), ``LpPool``,
``GlobalMaxPool`` and ``GlobalAveragePool`` (their error bounds), a constant ``Pad`` and
``Conv`` (the core's convolution on the zero-padded input, within its bound); the others
are listed "unchecked".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ..conv import conv
from ..dialects import onnx as po
from ..geometry import same_pads
from ..judge import judge
from ..ops import spec
from ..tolerance import compare, conv_bound, error_bound
from ._nodes import NodeResult, RuntimeMissing, draw_inputs, given_inputs

__all__ = ["DEFAULT_REFERENCES", "NODE_TYPES", "Reference", "check_model", "runtime_versions"]

#: The ONNX op types listed as nodes (pooling, padding, convolution).
NODE_TYPES = ("MaxPool", "AveragePool", "LpPool", "GlobalMaxPool", "GlobalAveragePool",
              "GlobalLpPool", "MaxRoiPool", "Pad", "Conv", "ConvTranspose")


@dataclass(frozen=True)
class Reference:
    """A reference for one ONNX op type: ``run(*inputs, **attributes)`` -> output(s);
    ``bound`` (same call) -> the elementwise bound of the first output, or None (bitwise);
    ``op``: an oracle op whose judgement (registered runtime differences included) decides
    the node when it has all of the op's outputs."""

    run: Callable
    bound: Callable | None = None
    op: str | None = None


def _pad(x, pads=None, constant_value=None, axes=None, *, mode="constant"):
    """ONNX ``Pad`` (opset >= 11: ``pads`` and the value as inputs), constant mode only."""
    if mode != "constant" or axes is not None or pads is None:
        raise NotImplementedError(f"Pad with mode={mode!r}, axes or no pads input")
    pads = [int(p) for p in np.asarray(pads)]
    if min(pads) < 0:
        raise NotImplementedError("Pad with negative pads (a crop)")
    rank = x.ndim
    value = 0 if constant_value is None else np.asarray(constant_value).item()
    return np.pad(x, list(zip(pads[:rank], pads[rank:])), constant_values=value)


def _lp_bound(x, kernel_shape, *, p=2, **attrs):
    """A p-th power sum of the window's cells and a root (as the dialect's parity tests)."""
    mag = po.lp_pool(np.abs(np.asarray(x, np.float64)), kernel_shape, p=p, **attrs)
    return error_bound(mag, int(np.prod(kernel_shape)) + 2 * int(p), np.asarray(x).dtype)


def _global_average_bound(x):
    """A sum of every spatial cell and one division."""
    x = np.asarray(x)
    mag = po.global_average_pool(np.abs(x.astype(np.float64)))
    return error_bound(mag, int(np.prod(x.shape[2:])) + 1, x.dtype)


def _conv_call(x, w, b=None, *, kernel_shape=None, strides=None, pads=None, dilations=None,
               group=1, auto_pad="NOTSET"):
    """ONNX ``Conv`` as the core's: ``x`` zero-padded by the node's pads (SAME_*: sized
    from the dilated kernel, the odd cell after / before), then a "valid" convolution,
    channels_first, the kernel ``(M, C/group, *k)`` moved to ``(*k, C/group, M)``."""
    x, w = np.asarray(x), np.asarray(w)
    rank = x.ndim - 2
    strides = tuple(strides or (1,) * rank)
    dilations = tuple(dilations or (1,) * rank)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pairs = [same_pads(n, k, st, d) for n, k, st, d in zip(x.shape[2:], w.shape[2:],
                                                               strides, dilations)]
        if auto_pad == "SAME_LOWER":                  # the odd cell before the input
            pairs = [(after, before) for before, after in pairs]
    elif auto_pad == "VALID" or pads is None:
        pairs = [(0, 0)] * rank
    else:
        pairs = list(zip(pads[:rank], pads[rank:]))
    if any(p < 0 for pair in pairs for p in pair):
        raise NotImplementedError(f"Conv with negative pads {pads}")
    padded = np.pad(x, [(0, 0), (0, 0), *pairs])
    kernel = np.moveaxis(w, (0, 1), (-1, -2))
    params = dict(strides=strides, padding="valid", data_format="channels_first",
                  dilation_rate=dilations, groups=int(group))
    return padded, kernel, b, params


def _conv(x, w, b=None, **attrs):
    padded, kernel, bias, params = _conv_call(x, w, b, **attrs)
    try:
        return conv(padded, kernel, bias, **params)
    except ValueError as e:             # e.g. strides and dilation > 1 together
        raise NotImplementedError(str(e)) from None


def _conv_bound(x, w, b=None, **attrs):
    padded, kernel, bias, params = _conv_call(x, w, b, **attrs)
    return conv_bound(padded, kernel, bias, **params)


#: ONNX op type -> reference used when ``check_model`` is given none (``pooling-ref model``).
DEFAULT_REFERENCES: dict = {
    "MaxPool": Reference(po.max_pool, op="onnx.max_pool"),
    "AveragePool": Reference(po.average_pool, op="onnx.average_pool"),
    "LpPool": Reference(po.lp_pool, _lp_bound),
    "GlobalMaxPool": Reference(po.global_max_pool),
    "GlobalAveragePool": Reference(po.global_average_pool, _global_average_bound),
    "Pad": Reference(_pad),
    "Conv": Reference(_conv, _conv_bound),
}


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


def _no_output_entry(attrs: dict) -> tuple[str, ...]:
    """The registered onnxruntime defect of an output where the spec has none: a VALID
    window longer than the input (onnxruntime rounds the negative quotient toward zero)."""
    valid = attrs.get("auto_pad", "NOTSET") == "VALID" or (
        attrs.get("auto_pad", "NOTSET") == "NOTSET" and not any(attrs.get("pads") or ()))
    return ("onnxruntime-valid-window-larger-one-output",) if valid else ()


def _declined(e: Exception, mode: str, attrs: dict, outputs: list):
    """The verdict where the reference raises: an attribute it does not model
    (``NotImplementedError``: unchecked), or attributes the spec gives no output for
    (``ValueError``): right if the runtime gave none either, else a difference."""
    if isinstance(e, NotImplementedError) or not outputs[0].size:
        verdict = "unchecked" if isinstance(e, NotImplementedError) else "match"
        return verdict, mode, 0.0, f"reference: {type(e).__name__}: {e}", ()
    return ("DIFFERS", mode, float("inf"), f"the ONNX spec gives no output here ({e}); "
            f"onnxruntime returned shape {outputs[0].shape}", _no_output_entry(attrs))


def _judged(op: str, inputs: list, attrs: dict, outputs: list):
    """(verdict, mode, worst, detail, registry ids) of the node by the oracle's judge."""
    s = spec(op)
    result = tuple(outputs[:s.outputs]) if s.outputs > 1 else outputs[0]
    try:
        v = judge(s, result, {"x": inputs[0]}, attrs)
    except (ValueError, NotImplementedError) as e:
        return _declined(e, s.mode, attrs, outputs)
    worst = _worst(v.comparison, outputs[0])
    if not v.ok:
        return "DIFFERS", s.mode, worst, str(v.comparison), ()
    return ("known", s.mode, worst, "", (v.known,)) if v.known else \
        ("match", s.mode, worst, "", ())


def _compare(reference: Reference, inputs: list, attrs: dict, outputs: list):
    """(verdict, mode, worst, detail, registry ids) of the node's ``outputs`` against the
    reference."""
    if reference.op is not None and len(outputs) >= spec(reference.op).outputs:
        return _judged(reference.op, inputs, attrs, outputs)
    try:
        want = reference.run(*inputs, **attrs)
        bound = None if reference.bound is None else reference.bound(*inputs, **attrs)
    except (ValueError, NotImplementedError) as e:
        return _declined(e, "bitwise", attrs, outputs)
    want = list(want) if isinstance(want, tuple) else [want]
    mode, worst, problems = ("bound" if bound is not None else "bitwise"), 0.0, []
    for k, got in enumerate(outputs[:len(want)]):
        c = compare(got, np.asarray(want[k]), bound=bound if k == 0 else None)
        worst = max(worst, _worst(c, got))
        if not c.ok:
            problems.append(f"output {k}: {c}")
    return ("DIFFERS" if problems else "match"), mode, worst, "; ".join(problems), ()


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
        verdict, mode, worst, registry = "unchecked", "bitwise", 0.0, ()
        detail = f"no reference given for ONNX {node.op_type}"
    else:
        reference = reference if isinstance(reference, Reference) else Reference(reference)
        verdict, mode, worst, detail, registry = _compare(reference, inputs, attrs, outputs)
    x, y = inputs[0], outputs[0]
    return NodeResult(i, node.name or node.output[0], node.op_type, attrs, tuple(x.shape),
                      tuple(y.shape), y.dtype.name, verdict, mode, worst, registry, detail)


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
