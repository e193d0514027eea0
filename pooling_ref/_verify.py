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

from . import keras_ref, tolerance
from ._repro import snippet
from .cases import Case, generate_cases
from .keras_ref import detect_tf_kernel, eager_path
from .ops import OPS, families, forward_of, is_gradient, spec
from .oracle import compare_outputs
from .padding import normalize_zero_padding
from .tolerance import unspecified_global_max

ALL_OPS = tuple(sorted(OPS, key=lambda o: (o[:-2], o)))
METHODS = ("loop", "im2col", "fast")

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
    max / average pooling and their gradients where Numba is usable (global pooling runs
    its default, ``"auto"``: compiled with Numba)."""
    s = spec(op)
    return s.method_names if s.methods else ("-",)


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
    op: str
    mode: str
    cases: int = 0
    comparisons: int = 0
    worst: dict = field(default_factory=dict)       # method -> max ULP / bound ratio
    mismatches: list = field(default_factory=list)
    skipped: list = field(default_factory=list)     # Keras raised
    seconds: float = 0.0

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
                "seconds": round(self.seconds, 3)}


def verify_case(op: str, case: Case, result: OpResult, path: str = "eager") -> None:
    """Compare every method of ``pooling_ref`` with Keras on one case; update ``result``.
    ``path``: ``"xla"`` runs the :data:`XLA_FAMILIES` compiled with XLA."""
    try:
        if is_gradient(spec(op)):
            defect = known_grad_defect(op, case, path)
            if defect:
                result.skipped.append({"case": case.describe(), "keras_error": defect})
                return
            expected = keras_grad(op, case, path)
        else:
            expected = keras_forward(op, case, path)
    except keras_ref.TensorFlowMissing:
        raise
    except Exception as e:
        result.skipped.append({"case": case.describe(),
                               "keras_error": f"{type(e).__name__}: {str(e)[:300]}"})
        return
    result.cases += 1
    bound = _bound(op, case, path)
    mode = "bound" if bound is not None else "bitwise"
    for method in methods_of(op):
        result.comparisons += 1
        try:
            ours = _ours(op, case, method, path)
        except Exception as e:
            c = tolerance.Comparison(False, result.mode, float("inf"), 0, float("inf"), None,
                                     f"pooling_ref raised {type(e).__name__}: {e}")
        else:
            if spec(op).family == "global_max_pool":      # the cells no TF path specifies
                ours = unspecified_global_max(expected, ours, _tf_kernel(op, case, path))
            if spec(op).outputs > 1:
                c = compare_outputs(spec(op), ours, expected, bound, mode)
            else:
                c = tolerance.compare(ours, expected, bound)
            if c.ok and bound is not None and spec(op).outputs == 1 and \
                    ours.dtype != expected.dtype:
                c = tolerance.Comparison(False, "bound", c.max_abs, c.max_ulp,
                                         c.worst_ratio, None,
                                         f"dtype {ours.dtype} != Keras dtype {expected.dtype}")
        value = c.worst_ratio if mode == "bound" else c.max_ulp
        if np.isfinite(value):
            result.worst[method] = max(result.worst.get(method, 0), value)
        if not c.ok:
            result.mismatches.append({
                "method": method, "case": case.describe(), "params": repr(case.scalar_params),
                "shapes": {k: list(v) for k, v in case.shapes.items()},
                "detail": str(c), "reproducer": reproducer(op, case, method, path)})


class Progress:
    """A one-line stderr progress bar (redrawn in place on a terminal)."""

    def __init__(self, total: int, stream=None, width: int = 30):
        self.total, self.done, self.width = max(total, 1), 0, width
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self._last_pct = -1

    def update(self, label: str) -> None:
        self.done += 1
        frac = self.done / self.total
        pct = int(frac * 100)
        if not self.tty and pct // 10 == self._last_pct // 10 and self.done < self.total:
            return
        self._last_pct = pct
        fill = int(frac * self.width)
        line = (f"[{'#' * fill}{'.' * (self.width - fill)}] {self.done}/{self.total} "
                f"{label:<18} {time.perf_counter() - self.start:5.1f}s")
        if self.tty:
            self.stream.write("\r" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


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


def run_verify(ops: list[str], cases: int, seed: int,
               progress: Progress | None = None, path: str = "eager") -> list[OpResult]:
    """Verify ``ops`` on ``cases`` cases each; ``path="xla"``: the :data:`XLA_FAMILIES`
    against their XLA-compiled Keras layers (:func:`verify_case`)."""
    results = []
    for op in ops:
        res = OpResult(op, "bound" if _bounded(op, path) else "bitwise")
        t0 = time.perf_counter()
        for case in generate_cases(op, cases, seed, "float32", special_values=False):
            verify_case(op, case, res, path)
            if progress:
                progress.update(op)
        res.seconds = time.perf_counter() - t0
        results.append(res)
    return results


# ----------------------------------------------------------------------------- gradient ops
# ``*_grad`` ops (issue 11) against ``tf.GradientTape`` through the same Keras layers
# (keras_ref's gradient section): pooling on the eager path the process runs (oneDNN or
# Eigen), convolution compiled with XLA; max pooling bitwise, the others within
# tolerance.avg_pool_grad_bound / conv_grad_bounds. Cases on which TF's gradient is measured
# to be wrong (TF 2.21) are skipped, counted and named (:func:`known_grad_defect`).


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
                    "from pooling_ref.oracle import compare_outputs"],
                   f"pooling_ref.ops.spec({op!r}).reference", case.arrays, params,
                   s.positional, after)
