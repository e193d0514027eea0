"""``pooling-ref verify --dialect FRAMEWORK``: the op table's ops of one framework
(``torch.*``, ``onnx.*``, ``jax.*``) run by the real runtime on the oracle's cases, special
values included, and compared with the dialect references as ``check`` compares a
candidate (bitwise, or within the entry's bound).

>>> dialect_ops("jax")
['jax.reduce_window']
>>> missing_runtime("litert")[:39]
'litert: verify has no LiteRT runner (a '

A case where the runtime is measured to be wrong (a registry entry of path ``torch``,
``onnxruntime`` or ``jax``) is skipped and named, never run: one of them aborts the process.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..cases import generate_cases
from ..judge import compare_outputs
from ..ops import all_ops, spec

__all__ = ["FRAMEWORKS", "DialectResult", "dialect_ops", "header", "missing_runtime",
           "report_lines", "run_dialect"]

#: ``--dialect`` value -> (the runtime's package, how to install it).
FRAMEWORKS = {
    "torch": ("torch", "pip install 'pooling-ref[torch]' torch==2.13.0"),
    "onnx": ("onnxruntime", "pip install 'pooling-ref[onnx]'"),
    "jax": ("jax", "pip install 'pooling-ref[jax]'"),
    "litert": ("ai_edge_litert", "pip install ai-edge-litert"),
}


def dialect_ops(framework: str) -> list[str]:
    """The op table's ops of ``framework``, in registration order."""
    return [op for op in all_ops() if op.startswith(f"{framework}.")]


def missing_runtime(framework: str) -> str | None:
    """Why ``framework`` cannot be verified here (``None``: it can)."""
    package, install = FRAMEWORKS[framework]
    if framework == "litert":
        return ("litert: verify has no LiteRT runner (a LiteRT kernel runs only inside a "
                "converted model): the litert.* ops are checked against the interpreter by "
                "the parity tests (nox -s litert) and per node by `pooling-ref model "
                "FILE.tflite`")
    if not dialect_ops(framework):
        return (f"no {framework} ops on this build: the op table has no "
                f"'{framework}.*' entries to verify")
    if importlib.util.find_spec(package) is None:
        return (f"the {framework} runtime is not installed: package {package!r} not found "
                f"(install it with: {install})")
    return None


def header(framework: str, cases: int, seed: int) -> str:
    """The first line of a run: the runtime's version, the cases."""
    package = FRAMEWORKS[framework][0]
    version = importlib.metadata.version(package)
    return (f"pooling-ref verify --dialect {framework}: {package} {version}; {cases} cases "
            f"per op ({len(dialect_ops(framework))} ops), seed {seed}, float32 with special "
            f"values")


# ----------------------------------------------------------------------------- runtimes


def _torch_runner() -> Callable:
    torch = importlib.import_module("torch")

    def run(op: str, x: np.ndarray, params: dict):
        name = op.partition(".")[2].replace("_with_indices", "")
        out = getattr(torch.nn.functional, name)(torch.from_numpy(x.copy()), **params)
        return tuple(o.numpy() for o in out) if isinstance(out, tuple) else out.numpy()
    return run


def run_onnx_node(op_type: str, x: np.ndarray, outputs: int = 1, **attrs):
    """One ``op_type`` node (opset 22, attributes ``attrs``; ``None`` ones left out) run by
    onnxruntime's CPU provider on float32 / float64 ``x``: its output, or ``(output,
    indices)`` with ``outputs=2``. Needs onnx and onnxruntime."""
    ort = importlib.import_module("onnxruntime")
    onnx = importlib.import_module("onnx")
    helper, proto = onnx.helper, onnx.TensorProto
    t = proto.FLOAT if x.dtype == np.float32 else proto.DOUBLE
    names = ["y", "indices"][:outputs]
    outs = [helper.make_tensor_value_info(n, proto.INT64 if n == "indices" else t, None)
            for n in names]
    attrs = {k: v for k, v in attrs.items() if v is not None}
    graph = helper.make_graph([helper.make_node(op_type, ["x"], names, **attrs)], "g",
                              [helper.make_tensor_value_info("x", t, None)], outs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
    model.ir_version = 10
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    out = session.run(None, {"x": np.ascontiguousarray(x)})
    return tuple(out) if outputs == 2 else out[0]


def _onnx_runner() -> Callable:
    node = {"onnx.max_pool": "MaxPool", "onnx.average_pool": "AveragePool"}

    def run(op: str, x: np.ndarray, params: dict):
        return run_onnx_node(node[op], x, spec(op).outputs, **params)
    return run


def _jax_runner() -> Callable:
    jnp = importlib.import_module("jax.numpy")
    lax = importlib.import_module("jax.lax")

    def run(op: str, x: np.ndarray, params: dict):
        p = dict(params)
        init = jnp.asarray(p.pop("init_value"), x.dtype)
        computation = getattr(lax, p.pop("computation"))
        return np.asarray(lax.reduce_window(jnp.asarray(x), init, computation, **p))
    return run


RUNNERS = {"torch": _torch_runner, "onnx": _onnx_runner, "jax": _jax_runner}


# ----------------------------------------------------------------------------- skips


def _same_pads_differ(x: np.ndarray, p: dict) -> bool:
    """onnxruntime's SAME_* rules that differ from the spec (registry entries)."""
    if p.get("auto_pad", "NOTSET") not in ("SAME_UPPER", "SAME_LOWER"):
        return False
    kernel, spatial = p["kernel_shape"], x.shape[2:]
    strides = p.get("strides") or [1] * len(kernel)
    dilations = p.get("dilations") or [1] * len(kernel)
    short = any((math.ceil(n / s) - 1) * s + d * (k - 1) + 1 < n
                for n, k, s, d in zip(spatial, kernel, strides, dilations))
    return short or any(d > 1 for d in dilations)


def _jax_crop(x: np.ndarray, p: dict) -> bool:
    pads = p["padding"]
    return all(k == 1 for k in p["window_dimensions"]) and \
        all(s == 1 for s in p["window_strides"]) and not isinstance(pads, str) and \
        all(lo <= 0 and hi <= 0 for lo, hi in pads) and any(lo < 0 or hi < 0 for lo, hi in pads)


#: ``framework -> [(reason, condition(x, params))]``: cases not run.
SKIPS: dict[str, list[tuple[str, Callable]]] = {
    "torch": [("torch's avg_pool1d has no divisor_override",
               lambda x, p: p.get("divisor_override") is not None and x.ndim == 3)],
    "onnx": [("registry onnxruntime-same-dilation-undilated-pad / "
              "onnxruntime-same-pad-unclamped", _same_pads_differ)],
    "jax": [("registry jax-reduce-window-crop-aborts (the process would abort)", _jax_crop)],
}


# ----------------------------------------------------------------------------- the run


@dataclass
class DialectResult:
    """One op's outcome: ``cases`` drawn, ``passed``, the ``skipped`` reasons and the
    first ``mismatches`` (one line each)."""

    op: str
    mode: str
    cases: int = 0
    passed: int = 0
    skipped: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.passed + len(self.skipped) == self.cases


def _one(run: Callable, framework: str, case, result: DialectResult) -> None:
    s = case.spec
    x, params = case.x, case.scalar_params
    reason = next((r for r, cond in SKIPS.get(framework, ()) if cond(x, params)), None)
    if reason is not None:
        result.skipped.append(reason)
        return
    try:
        got = run(case.op, x, params)
    except Exception as e:        # the runtime rejects what the dialect accepts
        result.mismatches.append(f"{case.describe()}: the runtime raised "
                                 f"{type(e).__name__}: {str(e)[:200]}")
        return
    with np.errstate(all="ignore"):
        want = s.run_reference(case.arrays, params)
        bound = s.error_bound(case.arrays, params)
    c = compare_outputs(s, got, want, bound, s.mode)
    if c.ok:
        result.passed += 1
    else:
        result.mismatches.append(f"{case.describe()}: {c}")


def run_dialect(framework: str, cases: int, seed: int, progress=None) -> list[DialectResult]:
    """Every op of ``framework`` on ``cases`` float32 cases of ``seed``."""
    run = RUNNERS[framework]()
    results = []
    for op in dialect_ops(framework):
        result = DialectResult(op, spec(op).mode, cases)
        for case in generate_cases(op, cases, seed):
            _one(run, framework, case, result)
            if progress is not None:
                progress.advance(op)
        results.append(result)
    return results


def report_lines(results: list[DialectResult]) -> list[str]:
    """The table and the mismatches (at most 3 per op) of a run."""
    lines = [f"{'op':34} {'mode':8} {'cases':>5} {'passed':>6} {'skipped':>7}  verdict"]
    for r in results:
        lines.append(f"{r.op:34} {r.mode:8} {r.cases:5d} {r.passed:6d} {len(r.skipped):7d}  "
                     f"{'PASSED' if r.ok else 'FAILED'}")
    for r in results:
        for reason in sorted(set(r.skipped)):
            lines.append(f"  {r.op}: skipped {r.skipped.count(reason)}: {reason}")
        lines.extend(f"  {r.op}: MISMATCH {m}" for m in r.mismatches[:3])
    cases, passed = sum(r.cases for r in results), sum(r.passed for r in results)
    skipped = sum(len(r.skipped) for r in results)
    verdict = "PASSED" if all(r.ok for r in results) else "FAILED"
    lines.append(f"{verdict}: {passed} of {cases} cases matched the runtime, {skipped} "
                 f"skipped (the reasons above), "
                 f"{cases - passed - skipped} mismatched")
    return lines
