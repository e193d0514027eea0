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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from . import keras_ref, tolerance
from ._repro import array_literal
from .cases import GLOBAL_OPS, OPS, Case, generate_cases
from .conv import conv
from .padding import normalize_zero_padding, zero_pad
from .pooling import avg_pool, global_avg_pool, global_max_pool, max_pool

ALL_OPS = tuple(sorted(OPS + GLOBAL_OPS, key=lambda o: (o[:-2], o)))
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

_FUNCS: dict[str, Callable] = {
    "max_pool": max_pool, "avg_pool": avg_pool, "zero_pad": zero_pad, "conv": conv,
    "global_max_pool": global_max_pool, "global_avg_pool": global_avg_pool,
}


def expand_ops(names: Iterable[str]) -> list[str]:
    """Op names, or family names (``"conv"``, ``"max_pool"``) standing for ranks 1-3."""
    out: list[str] = []
    for name in names:
        if name in ALL_OPS:
            matched = [name]
        else:
            matched = [op for op in ALL_OPS if op[:-2] == name]
        if not matched:
            families = sorted({op[:-2] for op in ALL_OPS})
            raise ValueError(
                f"--ops: unknown op {name!r}; valid ops: {', '.join(ALL_OPS)} "
                f"(or a family: {', '.join(families)})")
        out += [op for op in matched if op not in out]
    return out


def _family(op: str) -> str:
    return op[:-2]


def methods_of(op: str) -> tuple[str, ...]:
    return ("-",) if op in GLOBAL_OPS else METHODS


def _mode(op: str) -> str:
    return "bound" if _family(op) in ("conv", "global_avg_pool") else "bitwise"


def _keras_params(case: Case) -> dict:
    """The parameters for Keras: zero padding given as (before, after) pairs."""
    p = dict(case.params)
    if case.family == "zero_pad":
        p["padding"] = normalize_zero_padding(p.get("padding", 1), case.rank)
    return p


def _bound(op: str, case: Case, expected: np.ndarray) -> np.ndarray | None:
    fam = _family(op)
    if fam == "conv":
        return tolerance.conv_bound(case.x, **case.params)
    if fam == "global_avg_pool":
        mag = global_avg_pool(np.abs(case.x.astype(np.float64)), **case.params)
        spatial = case.x.shape[2:] if case.channels_first else case.x.shape[1:-1]
        return tolerance.error_bound(mag, int(np.prod(spatial)), expected.dtype)
    return None


def _ours(op: str, case: Case, method: str) -> np.ndarray:
    func = _FUNCS[_family(op)]
    if method == "-":
        return func(case.x, **case.params)
    return func(case.x, **case.params, method=method)


def reproducer(op: str, case: Case, method: str) -> str:
    lines = ["import numpy as np", "import pooling_ref", "from pooling_ref import keras_ref"]
    lines += [f"{k} = {array_literal(v)}" for k, v in case.arrays.items()]
    kw = [f"{k}={k}" for k in case.arrays if k != "x"]
    kw += [f"{k}={v!r}" for k, v in case.scalar_params.items()]
    mkw = [] if method == "-" else [f"method={method!r}"]
    kkw = [f"{k}={k}" for k in case.arrays if k != "x"]
    kkw += [f"{k}={v!r}" for k, v in _keras_params(case).items() if k not in case.arrays]
    lines.append(f"ours = pooling_ref.{_family(op)}({', '.join(['x', *kw, *mkw])})")
    lines.append(f"keras = keras_ref.run({op!r}, {', '.join(['x', *kkw])})")
    lines.append("print(pooling_ref.tolerance.compare(ours, keras))  # bitwise; conv and "
                 "global average: pass tolerance.conv_bound/error_bound")
    return "\n".join(lines)


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
        return not self.mismatches

    @property
    def worst_overall(self) -> float:
        return max(self.worst.values(), default=0.0)

    def to_json(self) -> dict:
        return {"op": self.op, "mode": self.mode, "cases": self.cases,
                "comparisons": self.comparisons, "worst": self.worst,
                "worst_overall": self.worst_overall,
                "status": "ok" if self.passed else "MISMATCH",
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
    bound = _bound(op, case, expected)
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
        res = OpResult(op, _mode(op))
        t0 = time.perf_counter()
        for case in generate_cases(op, cases, seed, "float32"):
            verify_case(op, case, res)
            if progress:
                progress.update(op)
        res.seconds = time.perf_counter() - t0
        results.append(res)
    return results
