"""``verify``'s comparisons: every method of ``pooling_ref`` against Keras on each case of
each op (:func:`run_verify`), what it found (:class:`OpResult`) and the verdict.

>>> run_passed([OpResult("conv1d", "bound")]), run_passed([OpResult("conv1d", "bound")], False)
(False, True)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .. import keras_ref, tolerance
from .._shards import shard_plan
from ..cases import Case, generate_cases
from ..judge import compare_outputs, judge
from ..ops import OpSpec, spec
from .paths import bounded, keras_result, tf_kernel_of
from .reproduce import reproducer
from .select import methods_of
from .skips import known_defect

__all__ = ["OpResult", "run_passed", "run_verify", "verify_case"]


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


def _expected(s: OpSpec, case: Case, path: str):
    """Keras's result for ``case``, or the reason it is skipped (a str)."""
    return known_defect(s, case, path) or keras_result(s, case, path)


def verify_case(op: str, case: Case, result: OpResult, path: str = "eager",
                index: int = 0) -> None:
    """Compare every method of ``pooling_ref`` with Keras on one case (the op's case number
    ``index``); update ``result``. ``path``: ``"xla"`` runs the ops whose entry says
    ``keras_xla`` compiled with XLA."""
    s = spec(op)
    try:
        expected = _expected(s, case, path)
    except keras_ref.TensorFlowMissing:
        raise
    except Exception as e:
        expected = f"{type(e).__name__}: {str(e)[:300]}"
    if isinstance(expected, str):
        result.skipped.append({"index": index, "case": case.describe(),
                               "keras_error": expected})
        return
    bound = s.error_bound(case.arrays, case.scalar_params) if bounded(s, path) else None
    compared = [(m, _compare_method(s, case, m, path, expected, bound))
                for m in methods_of(op)]
    entry = _registered(s, case, path, expected) if not all(c.ok for _, c in compared) \
        else None
    if entry:                 # Keras's result is a registered difference (known.MODELS)
        result.skipped.append({"index": index, "case": case.describe(),
                               "keras_error": f"known TF difference {entry}"})
        return
    result.cases += 1
    for method, c in compared:
        result.comparisons += 1
        value = c.worst_ratio if bound is not None else c.max_ulp
        if np.isfinite(value):
            result.worst[method] = max(result.worst.get(method, 0), value)
        if not c.ok:
            result.mismatches.append({
                "index": index, "method": method, "case": case.describe(),
                "params": repr(case.scalar_params),
                "shapes": {k: list(v) for k, v in case.shapes.items()},
                "detail": str(c), "reproducer": reproducer(op, case, method, path)})


def _registered(s: OpSpec, case: Case, path: str, expected) -> str | None:
    """The registry id whose model (:mod:`pooling_ref.known`) gives Keras's ``expected``
    on ``case`` on the TF path whose rules ``pooling_ref`` follows there, else ``None``."""
    verdict = judge(s, expected, case.arrays, case.scalar_params,
                    tf_kernel=tf_kernel_of(s, case, path))
    return verdict.known if verdict.ok else None


def _compare_method(s: OpSpec, case: Case, method: str, path: str, expected,
                    bound) -> tolerance.Comparison:
    """``pooling_ref`` (``method``) against Keras's ``expected`` on one case, following the
    rules of the path Keras runs on."""
    mode = "bound" if bound is not None else "bitwise"
    tf_kernel = tf_kernel_of(s, case, path)
    try:
        ours = s.run_reference(case.arrays, case.scalar_params, tf_kernel=tf_kernel,
                               method=None if method == "-" else method)
    except Exception as e:
        return tolerance.Comparison(False, mode, float("inf"), 0, float("inf"), None,
                                    f"pooling_ref raised {type(e).__name__}: {e}")
    if s.unspecified is not None:              # the cells no TF path specifies
        ours = s.unspecified(expected, ours, tf_kernel)
    if s.outputs > 1:
        return compare_outputs(s, ours, expected, bound, mode)
    c = tolerance.compare(ours, expected, bound)
    if c.ok and bound is not None and ours.dtype != expected.dtype:
        return tolerance.Comparison(False, "bound", c.max_abs, c.max_ulp, c.worst_ratio,
                                    None, f"dtype {ours.dtype} != Keras dtype "
                                    f"{expected.dtype}")
    return c


def run_verify(ops: list[str], cases: int, seed: int, progress=None, path: str = "eager",
               shard: tuple[int, int] = (1, 1)) -> list[OpResult]:
    """Verify ``ops`` on ``cases`` cases each — or shard ``(I, N)``'s share of them
    (:func:`shard_plan`); ``path="xla"``: the ops that can run compiled with XLA against
    their XLA-compiled Keras layers (:func:`verify_case`). ``progress``: a
    :class:`pooling_ref._progress.Progress`, advanced after each case."""
    results = []
    for op, indices in shard_plan(ops, cases, shard).items():
        res = OpResult(op, "bound" if bounded(spec(op), path) else "bitwise",
                       indices=indices)
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
    ops without comparisons are judged when the shards are merged)."""
    if any(r.mismatches for r in results):
        return False
    return not whole or all(r.passed for r in results)
