"""``pooling-ref verify``: randomized parity of every op and method against installed Keras.

The cases are those of the oracle (:mod:`pooling_ref.cases`); the Keras results come from
:mod:`pooling_ref.keras_ref` (eager layers for pooling and zero padding, XLA-compiled
channels_last layers for convolution), on one TF kernel path (``--tf-kernel``: the eager
path of the running TF, or ``"xla"``: pooling and pooling gradients compiled with XLA),
with ``pooling_ref`` following that path's rules. Comparisons are those of the parity tests:

* bitwise: max pooling, global max pooling, zero padding, and float32 average pooling
  (which ``pooling_ref`` reproduces bit for bit);
* error bound (:mod:`pooling_ref.tolerance`): convolution and global average pooling.

>>> sorted(expand_ops(["conv"]))
['conv1d', 'conv2d', 'conv3d']
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from . import _compiled, keras_ref, methods, tolerance
from ._repro import snippet
from ._shards import shard_plan
from .cases import Case, generate_cases
from .judge import compare_outputs, judge
from .keras_ref import detect_tf_kernel, eager_path
from .ops import OPS, families, forward_of, is_gradient, spec
from .padding import normalize_zero_padding
from .tolerance import unspecified_global_max

ALL_OPS = tuple(sorted(OPS, key=lambda o: (o[:-2], o)))

KNOWN_DEFECTS = (
    "Keras channels_first ConvND adds the bias along the last spatial axis when that "
    "axis's length equals `filters` (verify runs convolution in channels_last and "
    "transposes, so it is not affected).",
    "TF's default eager oneDNN convolution returns garbage for some strides larger than "
    "the kernel with 'same' padding (verify uses the XLA-compiled convolution path).",
    "TF pooling with a 'valid' window larger than the input fails with an oneDNN "
    "AbortedError (pooling_ref raises a clear ValueError; verify does not draw such cases).",
)


def expand_ops(names: Iterable[str]) -> list[str]:
    """Op names, or family names (``"conv"``, ``"max_pool"``) standing for ranks 1-3."""
    out: list[str] = []
    for name in names:
        if name in ALL_OPS:
            matched = [name]
        else:
            matched = [op for op in ALL_OPS if spec(op).family == name]
        if not matched:
            raise ValueError(
                f"--ops: unknown op {name!r}; valid ops: {', '.join(ALL_OPS)} "
                f"(or a family: {', '.join(sorted(families()))})")
        out += [op for op in matched if op not in out]
    return out


def methods_of(op: str) -> tuple[str, ...]:
    """The methods verify runs: every ``method=`` the op takes, plus ``"compiled"`` for
    the families with a compiled kernel (the method table) where Numba is usable (``"-"``:
    an op without ``method=``, global pooling, runs its default, ``"auto"``: compiled with
    Numba)."""
    return _methods(spec(op), _compiled.AVAILABLE)


def _methods(s, compiled: bool) -> tuple[str, ...]:
    """The op's methods (the method table's, :func:`pooling_ref.methods.names`), with
    ``"compiled"`` where its family has a compiled kernel and ``compiled``."""
    if not s.methods:
        return ("-",)
    has_compiled = "compiled" in methods.TABLE.get(s.family, ())
    return tuple(m for m in s.method_names if m != "compiled") + (
        ("compiled",) if compiled and has_compiled else ())


def coverage() -> str:
    """The op families verify runs and the methods it compares on each, in words (from
    the op registry and :func:`methods_of`'s rule).

    >>> print(coverage())
    family           ranks  methods compared with Keras
    max_pool         1-3    loop, im2col, fast, compiled*
    avg_pool         1-3    loop, im2col, fast, compiled*
    global_max_pool  1-3    its default (method= not taken)
    global_avg_pool  1-3    its default (method= not taken)
    zero_pad         1-3    loop, im2col, fast
    conv             1-3    loop, im2col, fast
    max_pool_grad    1-3    loop, fast, compiled*
    avg_pool_grad    1-3    loop, fast, compiled*
    conv_grad        1-3    loop, fast
    * compiled: with Numba, where it is installed
    """
    lines = [f"{'family':17}{'ranks':7}methods compared with Keras"]
    for family in families():
        specs = [spec(op) for op in ALL_OPS if spec(op).family == family]
        ranks = sorted(s.rank for s in specs)
        methods = _methods(specs[0], compiled=True)
        names = ("its default (method= not taken)" if methods == ("-",) else ", ".join(
            m + "*" * (m == "compiled") for m in methods))
        lines.append(f"{family:17}{ranks[0]}-{ranks[-1]:<5}{names}")
    return "\n".join([*lines, "* compiled: with Numba, where it is installed"])


def _keras_params(case: Case) -> dict:
    """The parameters for Keras: zero padding given as (before, after) pairs."""
    p = dict(case.params)
    if case.family == "zero_pad":
        p["padding"] = normalize_zero_padding(p.get("padding", 1), case.rank)
    return p


#: Families whose Keras reference runs under XLA with ``--tf-kernel xla`` (the others keep
#: their path: convolution is always XLA; zero padding eager).
XLA_FAMILIES = ("max_pool", "avg_pool", "global_max_pool", "global_avg_pool", "max_pool_grad",
                "avg_pool_grad")


def check_path(tf_kernel: str | None) -> str:
    """The ``--tf-kernel`` to verify: ``None`` -> the eager path of the running TF; an eager
    path that is not the active one -> ``ValueError`` (it cannot be switched in a process)."""
    active = detect_tf_kernel()
    if tf_kernel is None:
        return active
    if tf_kernel not in ("onednn", "eigen", "xla"):
        raise ValueError(f"--tf-kernel must be onednn, eigen or xla, got {tf_kernel!r}")
    if tf_kernel != "xla" and tf_kernel != active:
        flag = 1 if tf_kernel == "onednn" else 0
        raise ValueError(
            f"--tf-kernel {tf_kernel}: this TensorFlow runs its {active} kernels eagerly; the "
            f"eager path is chosen when TensorFlow starts and cannot be switched inside a "
            f"process: run with TF_ENABLE_ONEDNN_OPTS={flag} set in the environment "
            f"(or --tf-kernel {active} / xla)")
    return tf_kernel


def _on_xla(op: str, path: str) -> bool:
    return path == "xla" and spec(op).family in XLA_FAMILIES


def _bounded(op: str, path: str) -> bool:
    """Whether ``op`` is compared with Keras within its error bound (else bitwise). Under
    XLA average pooling is too (registry ``xla-avg-pool-division``)."""
    s = spec(op)
    return s.keras_mode == "bound" or (_on_xla(op, path) and s.family == "avg_pool")


def _bound(op: str, case: Case, path: str = "eager") -> np.ndarray | None:
    """The error bound of ``op`` against Keras (``None``: bitwise)."""
    return spec(op).error_bound(case.arrays, case.scalar_params) if _bounded(op, path) \
        else None


def _ours(op: str, case: Case, method: str, path: str | None = None) -> np.ndarray:
    """pooling_ref's result, following the rules of the path Keras runs on (``path``:
    ``"xla"`` for the XLA families, else ``tf_kernel=detect_tf_kernel(dtype)``)."""
    return spec(op).run_reference(case.arrays, case.scalar_params,
                                  tf_kernel=_tf_kernel(op, case, path or ""),
                                  method=None if method == "-" else method)


def _tf_kernel(op: str, case: Case, path: str) -> str:
    return "xla" if _on_xla(op, path) else detect_tf_kernel(case.x.dtype)


def keras_forward(op: str, case: Case, path: str = "eager") -> np.ndarray:
    """Keras's forward result (pooling compiled with XLA when ``path`` is ``"xla"``)."""
    family = spec(op).family
    if _on_xla(op, path):
        kind = "Max" if "max" in family else "Average"
        pool = keras_ref.global_pool if family.startswith("global") else keras_ref.pool
        return pool(kind, case.x, **_keras_params(case), path="xla")
    return keras_ref.run(op, case.x, **_keras_params(case))


def reproducer(op: str, case: Case, method: str, path: str = "eager") -> str:
    """A script comparing ``pooling_ref`` (``method``) with Keras; fails on a mismatch."""
    s = spec(op)
    if is_gradient(s):
        return _grad_reproducer(op, case, method, path)
    params = dict(case.scalar_params)
    if method != "-":
        params["method"] = method
    if _on_xla(op, path):
        params["tf_kernel"] = "xla"
    kkw = [f"{k}={k}" for k in case.arrays if k != "x"]
    kkw += [f"{k}={v!r}" for k, v in _keras_params(case).items() if k not in case.arrays]
    bound = "None" if not _bounded(op, path) else (
        f"pooling_ref.ops.spec({op!r}).error_bound({{"
        + ", ".join(f"{k!r}: {k}" for k in case.arrays) + f"}}, {case.scalar_params!r})")
    fn = "global_pool" if s.family.startswith("global") else "pool"
    keras = (f"keras_ref.{fn}({'Max' if 'max' in s.family else 'Average'!r}, "
             f"{', '.join(['x', *kkw])}, path='xla')" if _on_xla(op, path)
             else f"keras_ref.run({op!r}, {', '.join(['x', *kkw])})")
    after = [f"keras = {keras}",
             f"comparison = pooling_ref.tolerance.compare(result, keras, {bound})",
             "print(comparison)",
             "assert comparison.ok, comparison"]
    return snippet(["import pooling_ref", "import pooling_ref.ops",
                    "from pooling_ref import keras_ref"],
                   f"pooling_ref.{s.reference.__name__}", case.arrays, params,
                   s.positional, after)


@dataclass
class OpResult:
    """What verify found for one op (``indices``: which of the op's cases this run drew —
    all of them, or a shard's share; ``cases``: those compared, the rest are ``skipped``).

    >>> r = OpResult("max_pool1d", "bitwise", cases=2, comparisons=8, worst={"loop": 0},
    ...              indices=[0, 4])
    >>> OpResult.from_json(r.to_json()) == r, r.status
    (True, 'ok')
    """

    op: str
    mode: str
    cases: int = 0
    comparisons: int = 0
    worst: dict = field(default_factory=dict)       # method -> max ULP / bound ratio
    mismatches: list = field(default_factory=list)
    skipped: list = field(default_factory=list)     # Keras raised, or a known TF defect
    seconds: float = 0.0
    indices: list = field(default_factory=list)     # the op's case numbers this run drew

    @property
    def passed(self) -> bool:
        """No mismatch and at least one comparison: a run that compared nothing fails."""
        return not self.mismatches and self.comparisons > 0

    @property
    def status(self) -> str:
        if self.mismatches:
            return "MISMATCH"
        return "ok" if self.comparisons else "NO COMPARISONS"

    @property
    def worst_overall(self) -> float:
        return max(self.worst.values(), default=0.0)

    def to_json(self) -> dict:
        return {"op": self.op, "mode": self.mode, "cases": self.cases,
                "comparisons": self.comparisons, "worst": self.worst,
                "worst_overall": self.worst_overall,
                "status": self.status, "skipped_count": len(self.skipped),
                "mismatches": self.mismatches, "skipped": self.skipped,
                "seconds": round(self.seconds, 3), "case_indices": self.indices}

    @classmethod
    def from_json(cls, doc: dict) -> OpResult:
        """The result :meth:`to_json` wrote (``KeyError`` for a missing field)."""
        return cls(doc["op"], doc["mode"], doc["cases"], doc["comparisons"],
                   dict(doc["worst"]), list(doc["mismatches"]), list(doc["skipped"]),
                   doc["seconds"], list(doc["case_indices"]))


def _expected(op: str, case: Case, path: str):
    """Keras's result for ``case``, or the reason it is skipped (a str)."""
    if not is_gradient(spec(op)):
        return keras_forward(op, case, path)
    return known_grad_defect(op, case, path) or keras_grad(op, case, path)


def verify_case(op: str, case: Case, result: OpResult, path: str = "eager",
                index: int = 0) -> None:
    """Compare every method of ``pooling_ref`` with Keras on one case (the op's case number
    ``index``); update ``result``. ``path``: ``"xla"`` runs the :data:`XLA_FAMILIES`
    compiled with XLA."""
    try:
        expected = _expected(op, case, path)
    except keras_ref.TensorFlowMissing:
        raise
    except Exception as e:
        expected = f"{type(e).__name__}: {str(e)[:300]}"
    if isinstance(expected, str):
        result.skipped.append({"index": index, "case": case.describe(),
                               "keras_error": expected})
        return
    bound = _bound(op, case, path)
    mode = "bound" if bound is not None else "bitwise"
    compared = [(m, _compare_method(op, case, m, path, expected, bound))
                for m in methods_of(op)]
    entry = None if all(c.ok for _, c in compared) else _registered(op, case, path, expected)
    if entry:                 # Keras's result is a registered difference (known.MODELS)
        result.skipped.append({"index": index, "case": case.describe(),
                               "keras_error": f"known TF difference {entry}"})
        return
    result.cases += 1
    for method, c in compared:
        result.comparisons += 1
        value = c.worst_ratio if mode == "bound" else c.max_ulp
        if np.isfinite(value):
            result.worst[method] = max(result.worst.get(method, 0), value)
        if not c.ok:
            result.mismatches.append({
                "index": index, "method": method, "case": case.describe(),
                "params": repr(case.scalar_params),
                "shapes": {k: list(v) for k, v in case.shapes.items()},
                "detail": str(c), "reproducer": reproducer(op, case, method, path)})


def _registered(op: str, case: Case, path: str, expected) -> str | None:
    """The registry id whose model (:mod:`pooling_ref.known`) gives Keras's ``expected``
    on ``case`` on the TF path whose rules ``pooling_ref`` follows there, else ``None``."""
    verdict = judge(op, expected, case.arrays, case.scalar_params,
                    tf_kernel=_tf_kernel(op, case, path))
    return verdict.known if verdict.ok else None


def _compare_method(op: str, case: Case, method: str, path: str, expected,
                    bound) -> tolerance.Comparison:
    """``pooling_ref`` (``method``) against Keras's ``expected`` on one case."""
    s = spec(op)
    mode = "bound" if bound is not None else "bitwise"
    try:
        ours = _ours(op, case, method, path)
    except Exception as e:
        return tolerance.Comparison(False, mode, float("inf"), 0, float("inf"), None,
                                    f"pooling_ref raised {type(e).__name__}: {e}")
    if s.family == "global_max_pool":          # the cells no TF path specifies
        ours = unspecified_global_max(expected, ours, _tf_kernel(op, case, path))
    if s.outputs > 1:
        return compare_outputs(s, ours, expected, bound, mode)
    c = tolerance.compare(ours, expected, bound)
    if c.ok and bound is not None and ours.dtype != expected.dtype:
        return tolerance.Comparison(False, "bound", c.max_abs, c.max_ulp, c.worst_ratio,
                                    None, f"dtype {ours.dtype} != Keras dtype "
                                    f"{expected.dtype}")
    return c


@contextlib.contextmanager
def _quiet_fd2():
    """Silence C-level stderr (TF's start-up log lines) while TensorFlow is imported."""
    try:
        fd = os.dup(2)
    except OSError:  # pragma: no cover
        yield
        return
    try:
        sys.stderr.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(fd, 2)
        os.close(fd)


def load_tf() -> dict[str, str]:
    """Import TF/Keras quietly; return their versions. Raises ``TensorFlowMissing``."""
    with _quiet_fd2():
        tf, _ = keras_ref.require_tf()
    tf.get_logger().setLevel("ERROR")
    with contextlib.suppress(Exception):
        tf.autograph.set_verbosity(0)
    return keras_ref.versions()


def run_verify(ops: list[str], cases: int, seed: int, progress=None, path: str = "eager",
               shard: tuple[int, int] = (1, 1)) -> list[OpResult]:
    """Verify ``ops`` on ``cases`` cases each — or shard ``(I, N)``'s share of them
    (:func:`shard_plan`); ``path="xla"``: the :data:`XLA_FAMILIES` against their
    XLA-compiled Keras layers (:func:`verify_case`). ``progress``: a
    :class:`pooling_ref._progress.Progress`, advanced after each case."""
    results = []
    for op, indices in shard_plan(ops, cases, shard).items():
        res = OpResult(op, "bound" if _bounded(op, path) else "bitwise", indices=indices)
        t0 = time.perf_counter()
        drawn = generate_cases(op, cases, seed, "float32", special_values=False) \
            if indices else []
        for i in indices:
            verify_case(op, drawn[i], res, path, index=i)
            if progress is not None:
                progress.advance(op)
        res.seconds = time.perf_counter() - t0
        results.append(res)
    return results


def run_passed(results: list[OpResult], whole: bool = True) -> bool:
    """The verdict: no mismatch and, for a whole run, a comparison on every op (a shard's
    ops without comparisons are judged when the shards are merged).

    >>> run_passed([OpResult("conv1d", "bound")]), run_passed([OpResult("conv1d", "bound")], False)
    (False, True)
    """
    if any(r.mismatches for r in results):
        return False
    return not whole or all(r.passed for r in results)


# ----------------------------------------------------------------------------- gradient ops
# ``*_grad`` ops (issue 11) against ``tf.GradientTape`` through the same Keras layers
# (keras_ref's gradient section): pooling on the eager path the process runs (oneDNN or
# Eigen), convolution compiled with XLA; max pooling bitwise, the others within
# tolerance.avg_pool_grad_bound / conv_grad_bounds. Cases on which TF's gradient is measured
# to be wrong (TF 2.21) are skipped, counted and named (:func:`known_grad_defect`).


def reference_paths(path: str) -> str:
    """The line ``verify`` prints about the Keras reference paths of the forward ops."""
    eager = (f"called eagerly ({eager_path()} kernels; pooling_ref follows "
             f"tf_kernel={eager_path()!r})")
    if path == "xla":
        return (f"Reference paths: pooling and global pooling = Keras layers compiled with "
                f"XLA (jit_compile=True; pooling_ref follows tf_kernel='xla', average "
                f"pooling within its error bound); zero padding = Keras layers {eager}; "
                f"convolution = Keras layer compiled with XLA, channels_last.")
    return (f"Reference paths: pooling and zero padding = Keras layers {eager}; "
            f"convolution = Keras layer compiled with XLA (jit_compile=True), channels_last.")


def gradient_paths(path: str = "eager") -> str:
    """The line ``verify`` prints about the gradient comparison path."""
    pooling = ("XLA (jit_compile=True; pooling_ref follows tf_kernel='xla')" if path == "xla"
               else f"eager ({eager_path()} kernels)")
    return (f"Gradient ops: tf.GradientTape through the same Keras layers; pooling {pooling}, "
            f"bitwise for max pooling, derived bound for average pooling; convolution XLA, "
            f"channels_last, derived bounds for grad_x, grad_kernel and grad_bias.")


def keras_grad(op: str, case: Case, path: str = "eager"):
    """Keras/TF's gradient for a gradient-op case (a 3-tuple for convolution)."""
    s, p = spec(op), case.scalar_params
    if s.family == "conv_grad":
        return keras_ref.conv_grad(case.x, case.params["kernel"], case.params["grad_out"], **p)
    kind = "Max" if s.family == "max_pool_grad" else "Average"
    return keras_ref.pool_grad(kind, case.x, case.params["grad_out"], **p,
                               path="xla" if path == "xla" else "eager")


def scan_order_sensitive(x: np.ndarray, params: dict) -> bool:
    """Whether some max pooling window's choice depends on the order its cells are scanned
    in: it holds a NaN, no number, or two cells equal to its maximum (subnormals compared
    as zeros). XLA scans some padded windows in another order (registry
    ``xla-max-pool-grad-padded-scan-order``); such gradients are not compared there."""
    from .dtypes import flush_subnormals
    from .gradients import max_pool_grad
    from .pooling import max_pool

    if np.isnan(x).any():
        return True
    x64 = flush_subnormals(np.asarray(x)).astype(np.float64)
    ones = np.ones_like(max_pool(x64, **params, tf_kernel=None))
    tied = max_pool_grad(x64, ones, **params, ties="all", tf_kernel=None)
    return bool(tied.sum() != ones.size)


def _window_exceeds_input(case: Case) -> bool:
    if str(case.params.get("padding", "")).lower() != "same":
        return False
    window = np.broadcast_to(case.params["pool_size"], (case.rank,))
    return any(int(k) > n for k, n in zip(window, case.spatial))


def known_grad_defect(op: str, case: Case, path: str = "eager") -> str:
    """A measured TF gradient defect ``case`` hits ('' for none), in words."""
    s = spec(op)
    if s.family == "conv_grad":
        return ""
    if path == "xla":
        params = {k: v for k, v in case.params.items() if k != "grad_out"}
        if s.family == "max_pool_grad" and str(params.get("padding")).lower() == "same" \
                and scan_order_sensitive(case.x, params):
            return ("known XLA difference: padded windows scanned in another order decide "
                    "ties differently (registry xla-max-pool-grad-padded-scan-order)")
        return ""
    if _window_exceeds_input(case) and (s.family == "max_pool_grad" and s.rank == 3):
        return ("known TF defect: MaxPool3DGrad with a 'same' window larger than the input "
                "sends a window's gradient to cells outside it")
    if _window_exceeds_input(case) and s.family == "avg_pool_grad" and eager_path() == "eigen":
        return ("known TF defect: Eigen AvgPoolGrad with a 'same' window larger than the "
                "input divides by wrong counts")
    if s.family == "max_pool_grad":
        params = {k: v for k, v in case.params.items() if k != "grad_out"}
        fwd = forward_of(s).run_reference({"x": case.x}, params)
        if keras_ref.pool("Max", case.x, **params).tobytes() != fwd.tobytes():
            return ("known TF defect: TF's eager forward max pooling differs here (see "
                    f"verify of {forward_of(s).name}); its gradient follows it")
    return ""


def _grad_reproducer(op: str, case: Case, method: str, path: str = "eager") -> str:
    """A script comparing a ``pooling_ref`` gradient (``method``; the registry's reference,
    :func:`pooling_ref.max_pool_grad` ...) with tf.GradientTape; fails on a mismatch."""
    s = spec(op)
    params = {**case.scalar_params, "method": method}
    if s.tf_kernel:
        params["tf_kernel"] = _tf_kernel(op, case, path)
    arrays = ", ".join(case.arrays)
    if s.family == "conv_grad":
        keras = f"keras_ref.conv_grad({arrays}, **params)"
    else:
        kind = "Max" if s.family == "max_pool_grad" else "Average"
        where = "xla" if _on_xla(op, path) else "eager"
        keras = f"keras_ref.pool_grad({kind!r}, {arrays}, **params, path={where!r})"
    bound = ("None" if s.keras_mode == "bitwise" else
             f"s.error_bound({{{', '.join(f'{k!r}: {k}' for k in case.arrays)}}}, params)")
    after = [f"params = {case.scalar_params!r}",
             f"keras = {keras}",
             f"s = pooling_ref.ops.spec({op!r})",
             f"comparison = compare_outputs(s, result, keras, {bound}, {s.keras_mode!r})",
             "print(comparison)",
             "assert comparison.ok, comparison"]
    return snippet(["import pooling_ref", "import pooling_ref.ops",
                    "from pooling_ref import keras_ref",
                    "from pooling_ref.judge import compare_outputs"],
                   f"pooling_ref.ops.spec({op!r}).reference", case.arrays, params,
                   s.positional, after)
