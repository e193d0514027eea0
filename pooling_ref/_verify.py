"""``pooling-ref verify``: randomized parity of every op and method against installed Keras.

The cases are those of the oracle (:mod:`pooling_ref.cases`); the Keras results come from
:mod:`pooling_ref.keras_ref` (eager layers for pooling and zero padding, XLA-compiled
channels_last layers for convolution). Comparisons are those of the parity tests:

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
from .ops import OPS, families, spec
from .padding import normalize_zero_padding

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
    return METHODS if spec(op).methods else ("-",)


def _keras_params(case: Case) -> dict:
    """The parameters for Keras: zero padding given as (before, after) pairs."""
    p = dict(case.params)
    if case.family == "zero_pad":
        p["padding"] = normalize_zero_padding(p.get("padding", 1), case.rank)
    return p


def _bound(op: str, case: Case) -> np.ndarray | None:
    """The error bound of ``op`` against Keras (``None``: bitwise)."""
    s = spec(op)
    return s.error_bound(case.arrays, case.scalar_params) if s.keras_mode == "bound" else None


def _ours(op: str, case: Case, method: str) -> np.ndarray:
    return spec(op).run_reference(case.arrays, case.scalar_params,
                                  method=None if method == "-" else method)


def reproducer(op: str, case: Case, method: str) -> str:
    """A script comparing ``pooling_ref`` (``method``) with Keras; fails on a mismatch."""
    s = spec(op)
    params = dict(case.scalar_params)
    if method != "-":
        params["method"] = method
    kkw = [f"{k}={k}" for k in case.arrays if k != "x"]
    kkw += [f"{k}={v!r}" for k, v in _keras_params(case).items() if k not in case.arrays]
    bound = "None" if s.keras_mode == "bitwise" else (
        f"pooling_ref.ops.spec({op!r}).error_bound({{"
        + ", ".join(f"{k!r}: {k}" for k in case.arrays) + f"}}, {case.scalar_params!r})")
    after = [f"keras = keras_ref.run({op!r}, {', '.join(['x', *kkw])})",
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


def verify_case(op: str, case: Case, result: OpResult) -> None:
    """Compare every method of ``pooling_ref`` with Keras on one case; update ``result``."""
    try:
        expected = keras_ref.run(op, case.x, **_keras_params(case))
    except keras_ref.TensorFlowMissing:
        raise
    except Exception as e:
        result.skipped.append({"case": case.describe(),
                               "keras_error": f"{type(e).__name__}: {str(e)[:300]}"})
        return
    result.cases += 1
    bound = _bound(op, case)
    for method in methods_of(op):
        result.comparisons += 1
        try:
            ours = _ours(op, case, method)
        except Exception as e:
            c = tolerance.Comparison(False, result.mode, float("inf"), 0, float("inf"), None,
                                     f"pooling_ref raised {type(e).__name__}: {e}")
        else:
            c = tolerance.compare(ours, expected, bound)
            if c.ok and bound is not None and ours.dtype != expected.dtype:
                c = tolerance.Comparison(False, "bound", c.max_abs, c.max_ulp,
                                         c.worst_ratio, None,
                                         f"dtype {ours.dtype} != Keras dtype {expected.dtype}")
        value = c.worst_ratio if result.mode == "bound" else c.max_ulp
        if np.isfinite(value):
            result.worst[method] = max(result.worst.get(method, 0), value)
        if not c.ok:
            result.mismatches.append({
                "method": method, "case": case.describe(), "params": repr(case.scalar_params),
                "shapes": {k: list(v) for k, v in case.shapes.items()},
                "detail": str(c), "reproducer": reproducer(op, case, method)})


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
               progress: Progress | None = None) -> list[OpResult]:
    results = []
    for op in ops:
        res = OpResult(op, spec(op).keras_mode)
        t0 = time.perf_counter()
        for case in generate_cases(op, cases, seed, "float32", special_values=False):
            verify_case(op, case, res)
            if progress:
                progress.update(op)
        res.seconds = time.perf_counter() - t0
        results.append(res)
    return results
