"""The correctness oracle: :func:`check` a candidate implementation against ``pooling_ref``.

>>> import numpy as np
>>> import pooling_ref
>>> report = check(pooling_ref.max_pool, "max_pool2d", cases=20)
>>> report.passed, report.cases
(True, 20)
>>> wrong = lambda x, pool_size, **kw: pooling_ref.avg_pool(x, pool_size, **kw)
>>> check(wrong, "max_pool1d", cases=20).passed
False

The reference is ``pooling_ref`` itself. Comparisons follow :mod:`pooling_ref.tolerance`:
max pooling and zero padding must match bit for bit; average pooling and convolution must
lie within the documented error bound (so a candidate that sums in another order or in
float64 passes, while a real error — hundreds of times the bound — fails). The result must
also have the input's dtype and must not modify its inputs.

A failing case is shrunk (smaller arrays, simpler parameters that still fail) and reported
with a runnable reproducer snippet.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from . import tolerance
from ._repro import array_literal
from .cases import OPS, Case, check_dtype, check_op, generate_cases
from .conv import conv
from .padding import normalize_zero_padding, zero_pad
from .pooling import avg_pool, max_pool
from .tolerance import Comparison, compare

__all__ = ["OPS", "Failure", "Report", "check", "compare_result", "reference"]

_FUNCS: dict[str, Callable] = {
    "max_pool": max_pool, "avg_pool": avg_pool, "zero_pad": zero_pad, "conv": conv,
}
#: Upper bound on candidate calls spent shrinking one failing case.
SHRINK_BUDGET = 400


# ----------------------------------------------------------------------------- comparison


def reference(op: str, x: np.ndarray, **params) -> np.ndarray:
    """``pooling_ref``'s result for oracle op ``op`` (``"conv2d"`` -> :func:`pooling_ref.conv`).

    >>> import numpy as np
    >>> reference("zero_pad1d", np.ones((1, 1, 1)), padding=((0, 1),))[0, :, 0]
    array([1., 0.])
    """
    op = check_op(op)
    func = _FUNCS[op[:-2]]
    return func(x, **params)


def _bound(op: str, x: np.ndarray, params: dict) -> np.ndarray | None:
    """``None`` (bitwise) for max pooling / zero padding; the error bound otherwise."""
    family = op[:-2]
    if family == "conv":
        return tolerance.conv_bound(x, **params)
    if family == "avg_pool":
        if x.dtype == np.float16:
            # The reference sums float16 windows in float16 (as its loop specification
            # does), so the accumulation epsilon is float16's, not float32's as
            # tolerance.error_bound assumes for TF's float32-accumulating kernels.
            mag = avg_pool(np.abs(x.astype(np.float64)), **params)
            terms = int(np.prod(np.broadcast_to(params["pool_size"], (x.ndim - 2,))))
            eps = float(np.finfo(np.float16).eps)
            tiny = float(np.finfo(np.float16).smallest_subnormal)
            return (tolerance.BOUND_C * (terms + 1) * eps * mag + eps * mag
                    + terms * tiny)
        return tolerance.avg_pool_bound(x, **params)
    return None


def compare_result(op: str, result: object, x: object, **params) -> Comparison:
    """Compare a candidate's ``result`` for ``op(x, **params)`` with the reference.

    >>> import numpy as np
    >>> x = np.float32([[[1], [3], [2]]])
    >>> compare_result("max_pool1d", np.float32([[[3]]]), x, pool_size=2).ok
    True

    Bitwise for max pooling and zero padding; within the error bound of
    :mod:`pooling_ref.tolerance` for average pooling and convolution. The dtype must be the
    reference's dtype in both modes.
    """
    x = np.asarray(x)
    expected = reference(op, x, **params)
    bound = _bound(op, x, params)
    mode = "bitwise" if bound is None else "bound"
    try:
        got = np.asarray(result)
    except Exception as e:
        return Comparison(False, mode, float("inf"), 0, float("inf"), None,
                          f"np.asarray(result) failed: {type(e).__name__}: {e}")
    if got.shape == expected.shape and got.dtype != expected.dtype:
        return Comparison(False, mode, float("inf"), 0, float("inf"), None,
                          f"dtype {got.dtype} != expected dtype {expected.dtype}")
    if got.dtype.kind not in "iufb" and got.dtype.name != "bfloat16":
        return Comparison(False, mode, float("inf"), 0, float("inf"), None,
                          f"result has non-numeric dtype {got.dtype} (value {result!r:.80})")
    return compare(got, expected, bound)


# ----------------------------------------------------------------------------- report


@dataclass
class Failure:
    """One failing case (after shrinking) and what went wrong."""

    op: str
    params: dict                     # scalar keyword arguments (arrays listed in `shapes`)
    shapes: dict                     # name -> shape of x, kernel, bias
    dtype: str
    comparison: Comparison | None    # None when the candidate raised
    exception: str | None            # "TypeError: ..." when the candidate raised
    reproducer: str                  # runnable snippet
    case_index: int                  # index of the original (unshrunk) case
    original_shapes: dict = field(default_factory=dict)
    original_params: dict = field(default_factory=dict)
    shrink_steps: int = 0
    traceback: str = ""

    @property
    def max_abs(self) -> float:
        return self.comparison.max_abs if self.comparison else float("nan")

    @property
    def max_ulp(self) -> int:
        return self.comparison.max_ulp if self.comparison else 0

    @property
    def bound_ratio(self) -> float:
        """Worst ``|difference| / bound`` (bound mode; 0 in bitwise mode)."""
        return self.comparison.worst_ratio if self.comparison else float("nan")

    @property
    def first_index(self) -> tuple | None:
        return self.comparison.first_index if self.comparison else None

    @property
    def detail(self) -> str:
        if self.exception is not None:
            return f"candidate raised {self.exception}"
        return str(self.comparison)

    def __str__(self) -> str:
        shapes = ", ".join(f"{k} {v}" for k, v in self.shapes.items())
        lines = [f"case {self.case_index}: {self.op}  {shapes}  dtype {self.dtype}",
                 f"  params: {self.params}",
                 f"  {self.detail}"]
        if self.shrink_steps:
            orig = ", ".join(f"{k} {v}" for k, v in self.original_shapes.items())
            lines.append(f"  (shrunk in {self.shrink_steps} steps from {orig}, "
                         f"params {self.original_params})")
        lines.append("  reproduce with:")
        lines += ["    " + line for line in self.reproducer.splitlines()]
        return "\n".join(lines)


@dataclass
class Report:
    """Outcome of :func:`check`. ``str(report)`` is a readable summary."""

    op: str
    candidate: str
    seed: int
    dtype: str
    cases: int                       # cases run
    failures: list[Failure] = field(default_factory=list)
    failed_cases: int = 0            # how many of the cases failed (before shrinking)
    max_ulp: int = 0                 # worst ULP difference over the compared cases
    worst_ratio: float = 0.0         # worst |difference| / bound (bound-mode ops)

    @property
    def passed(self) -> bool:
        return not self.failures

    def __str__(self) -> str:
        head = (f"check {self.candidate} as {self.op} (seed {self.seed}, {self.dtype}): "
                f"{self.cases} cases, ")
        if self.passed:
            worst = (f"worst bound ratio {self.worst_ratio:.3g}" if self.op[:-2] in
                     ("avg_pool", "conv") else f"max ULP {self.max_ulp}")
            return head + f"all passed ({worst})"
        lines = [head + f"{self.failed_cases} FAILED; smallest failing case(s):"]
        for f in self.failures:
            lines.append(str(f))
        return "\n".join(lines)


# ----------------------------------------------------------------------------- reproducer


def _candidate_source(candidate: Callable) -> tuple[list[str], str]:
    """Import lines that define ``candidate`` in a fresh interpreter, and a display name."""
    if isinstance(candidate, functools.partial):
        lines, name = _candidate_source(candidate.func)
        args = [repr(a) for a in candidate.args]
        args += [f"{k}={v!r}" for k, v in candidate.keywords.items()]
        lines = [*lines, "import functools",
                 f"candidate = functools.partial(candidate, {', '.join(args)})"]
        return lines, f"functools.partial({name}, {', '.join(args)})"
    module = getattr(candidate, "__module__", None)
    qualname = getattr(candidate, "__qualname__", None) or getattr(candidate, "__name__", None)
    name = f"{module}.{qualname}" if module and qualname else repr(candidate)
    if not module or not qualname or "<" in qualname or module == "__main__":
        return [f"# candidate {name} cannot be imported: define `candidate` here"], name
    top, _, rest = qualname.partition(".")
    lines = [f"from {module} import {top} as candidate"]
    if rest:
        lines.append(f"candidate = candidate.{rest}")
    return lines, name


def reproducer(case: Case, candidate: Callable) -> str:
    """A snippet that rebuilds ``case`` bit for bit, calls the candidate and compares."""
    imports, _ = _candidate_source(candidate)
    lines = ["import numpy as np", "from pooling_ref.oracle import compare_result", *imports]
    for name, arr in case.arrays.items():
        lines.append(f"{name} = {array_literal(arr)}")
    kw = [f"{k}={k}" for k in case.arrays if k != "x"]
    kw += [f"{k}={v!r}" for k, v in case.scalar_params.items()]
    args = ", ".join(["x", *kw])
    lines.append(f"result = candidate({args})")
    lines.append(f"comparison = compare_result({case.op!r}, result, {args})")
    lines.append("print(comparison)")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- running


@dataclass
class _Outcome:
    comparison: Comparison | None = None
    exception: str | None = None
    traceback: str = ""

    @property
    def failed(self) -> bool:
        return self.exception is not None or not self.comparison.ok


def _run(candidate: Callable, case: Case) -> _Outcome:
    copies = {k: np.array(v, copy=True) for k, v in case.arrays.items()}
    call_params = {k: (copies[k] if k in copies else v) for k, v in case.params.items()}
    try:
        result = candidate(copies["x"], **call_params)
    except Exception as e:
        tb = "".join(traceback.format_exception(type(e), e, e.__traceback__, limit=-3))
        return _Outcome(exception=f"{type(e).__name__}: {e}", traceback=tb)
    for k, v in case.arrays.items():
        if copies[k].tobytes() != v.tobytes():
            return _Outcome(Comparison(False, "bitwise", float("nan"), 0, float("nan"), None,
                                       f"candidate modified its input {k!r}"))
    try:
        return _Outcome(compare_result(case.op, result, case.x, **case.params))
    except Exception as e:   # e.g. a result np.asarray cannot compare
        return _Outcome(Comparison(False, "bitwise", float("inf"), 0, float("inf"), None,
                                   f"comparing the result failed: {type(e).__name__}: {e}"))


# ----------------------------------------------------------------------------- shrinking


def _axis_of(case: Case, spatial: int) -> int:
    return spatial + (2 if case.channels_first else 1)


def _chan_axis(case: Case) -> int:
    return 1 if case.channels_first else case.x.ndim - 1


def _with(case: Case, x: np.ndarray | None = None, **changes) -> Case:
    params = dict(case.params)
    for k, v in changes.items():
        if v is _DROP:
            params.pop(k, None)
        else:
            params[k] = v
    return Case(case.op, case.x if x is None else x, params)


_DROP = object()


def _as_tuple(value, rank: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (int(value),) * rank


def _smaller_ints(name: str, value, rank: int, minimum: int = 1) -> Iterator:
    """Simpler versions of an int-or-tuple parameter: an int if all equal, then decrements."""
    t = _as_tuple(value, rank)
    if isinstance(value, (tuple, list)) and len(set(t)) == 1:
        yield {name: t[0]}
    if isinstance(value, (tuple, list)):
        yield {name: min(t)}
        for i in range(rank):
            if t[i] > minimum:
                yield {name: (*t[:i], t[i] - 1, *t[i + 1:])}
    elif t[0] > minimum:
        yield {name: t[0] - 1}


def _take(a: np.ndarray, axis: int, sl: slice) -> np.ndarray:
    idx = [slice(None)] * a.ndim
    idx[axis] = sl
    return np.ascontiguousarray(a[tuple(idx)])


def _moves(case: Case) -> Iterator[Case]:
    """Candidate simplifications of ``case``, the most drastic first."""
    x, p, rank = case.x, case.params, case.rank
    if x.shape[0] > 1:
        yield _with(case, _take(x, 0, slice(0, 1)))
    # channels
    ca = _chan_axis(case)
    if case.family != "conv":
        if x.shape[ca] > 1:
            yield _with(case, _take(x, ca, slice(0, 1)))
            yield _with(case, _take(x, ca, slice(0, -1)))
    else:
        yield from _conv_channel_moves(case, ca)
    # spatial lengths
    for s in range(rank):
        ax = _axis_of(case, s)
        n = x.shape[ax]
        if n > 1:
            if n > 3:
                yield _with(case, _take(x, ax, slice(0, (n + 1) // 2)))
            yield _with(case, _take(x, ax, slice(0, -1)))
            yield _with(case, _take(x, ax, slice(1, None)))
    if case.family == "conv":
        k = p["kernel"]
        for s in range(rank):
            if k.shape[s] > 1:
                yield _with(case, kernel=_take(k, s, slice(0, -1)))
                yield _with(case, kernel=_take(k, s, slice(1, None)))
        if "bias" in p:
            yield _with(case, bias=_DROP)
    # parameters
    for name in ("pool_size", "strides", "dilation_rate"):
        if name in p:
            for change in _smaller_ints(name, p[name], rank):
                yield _with(case, **change)
            yield _with(case, **{name: _DROP})
    if case.family == "zero_pad":
        yield from _zero_pad_moves(case)
    elif p.get("padding") == "same":
        yield _with(case, padding="valid")
    elif p.get("padding") == "valid":
        yield _with(case, padding=_DROP)
    if p.get("groups") == 1:
        yield _with(case, groups=_DROP)
    if case.channels_first:
        yield _with(case, np.ascontiguousarray(np.moveaxis(x, 1, -1)),
                    data_format="channels_last")
    if p.get("data_format") == "channels_last":
        yield _with(case, data_format=_DROP)


def _conv_channel_moves(case: Case, ca: int) -> Iterator[Case]:
    p, x = case.params, case.x
    k, b = p["kernel"], p.get("bias")
    groups = int(p.get("groups", 1))
    cin_g, filters = k.shape[-2], k.shape[-1]
    f_g = filters // groups
    if groups > 1:                      # drop the last group
        g = groups - 1
        yield _with(case, _take(x, ca, slice(0, g * cin_g)),
                    kernel=_take(k, -1, slice(0, g * f_g)),
                    bias=_DROP if b is None else b[: g * f_g],
                    groups=g if g > 1 else _DROP)
    if cin_g > 1:                       # drop the last input channel of each group
        keep = [gi * cin_g + c for gi in range(groups) for c in range(cin_g - 1)]
        yield _with(case, np.ascontiguousarray(np.take(x, keep, axis=ca)),
                    kernel=_take(k, -2, slice(0, cin_g - 1)))
    if f_g > 1:                         # drop the last filter of each group
        keep = [gi * f_g + f for gi in range(groups) for f in range(f_g - 1)]
        yield _with(case, kernel=np.ascontiguousarray(np.take(k, keep, axis=-1)),
                    bias=_DROP if b is None else b[keep])


def _zero_pad_moves(case: Case) -> Iterator[Case]:
    pad = case.params.get("padding", _DROP)
    if pad is _DROP:
        return
    pairs = normalize_zero_padding(pad, case.rank)
    if isinstance(pad, int):
        if pad > 0:
            yield _with(case, padding=pad - 1)
        return
    flat = [v for pair in pairs for v in pair]
    if len(set(flat)) == 1:
        yield _with(case, padding=flat[0])
    if all(b == a for b, a in pairs) and any(isinstance(i, (tuple, list)) for i in pad):
        yield _with(case, padding=tuple(b for b, _ in pairs))
    for i, (b, a) in enumerate(pairs):
        for nb, na in ((b - 1, a), (b, a - 1)):
            if min(nb, na) >= 0:
                new = list(pairs)
                new[i] = (nb, na)
                yield _with(case, padding=tuple(new))


def _valid(case: Case) -> bool:
    try:
        reference(case.op, case.x, **case.params)
    except (ValueError, TypeError):
        return False
    return True


def shrink(case: Case, still_fails: Callable[[Case], bool],
           budget: int = SHRINK_BUDGET) -> tuple[Case, int]:
    """Greedily simplify ``case`` while ``still_fails``; return the result and steps taken.

    >>> from pooling_ref.cases import generate_cases
    >>> case = generate_cases("max_pool2d", 40, seed=0)[-1]
    >>> small, steps = shrink(case, lambda c: True)       # "fails" whatever the case
    >>> small.x.size, small.scalar_params
    (1, {'pool_size': 1})

    Every accepted step strictly decreases :meth:`Case.size_key`, so this terminates;
    ``budget`` bounds the calls of ``still_fails``.
    """
    steps = 0
    improved = True
    while improved and budget > 0:
        improved = False
        key = case.size_key()
        for new in _moves(case):
            if new.size_key() >= key or not _valid(new):
                continue
            budget -= 1
            if still_fails(new):
                case, steps, improved = new, steps + 1, True
                break
            if budget <= 0:
                break
    return case, steps


# ----------------------------------------------------------------------------- check


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"check: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"check: {name} must be >= {minimum}, got {value!r}")
    return int(value)


def check(
    candidate: Callable,
    op: str,
    *,
    cases: int = 100,
    seed: int = 0,
    dtype: str = "float32",
    shrink_failures: bool = True,
    max_failures: int = 3,
    fail_fast: bool = False,
) -> Report:
    """Check ``candidate`` against ``pooling_ref`` on ``cases`` random cases of ``op``.

    >>> import pooling_ref
    >>> report = check(pooling_ref.zero_pad, "zero_pad2d", cases=10, seed=1)
    >>> print(report)  # doctest: +ELLIPSIS
    check pooling_ref.padding.zero_pad as zero_pad2d (seed 1, float32): 10 cases, all passed...
    >>> report.passed, report.max_ulp
    (True, 0)

    ``candidate(x, **params)`` is called with the parameter names of the matching
    ``pooling_ref`` function (``pool_size, strides, padding, data_format`` / ``padding,
    data_format`` / ``kernel, bias, strides, padding, data_format, dilation_rate,
    groups``); optional ones are sometimes omitted. ``op`` is one of :data:`OPS`.

    Extra options: ``shrink_failures`` (simplify failing cases before reporting),
    ``max_failures`` (how many distinct failing cases to shrink and report) and
    ``fail_fast`` (stop at the first failing case; ``report.cases`` then counts the cases
    run). A candidate that raises produces a failure, not an exception.
    """
    if not callable(candidate):
        raise TypeError(f"check: candidate must be callable, got {candidate!r}")
    op = check_op(op)
    n = _check_int("cases", cases, 1)
    seed = _check_int("seed", seed, 0)
    dtype = check_dtype(dtype)
    max_failures = _check_int("max_failures", max_failures, 1)
    _, name = _candidate_source(candidate)
    failing: list[tuple[int, Case, _Outcome]] = []
    failed_count = run = max_ulp = 0
    worst_ratio = 0.0
    for i, case in enumerate(generate_cases(op, n, seed, dtype)):
        run += 1
        outcome = _run(candidate, case)
        if outcome.comparison is not None and outcome.comparison.ok:
            max_ulp = max(max_ulp, outcome.comparison.max_ulp)
            worst_ratio = max(worst_ratio, outcome.comparison.worst_ratio)
        if outcome.failed:
            failed_count += 1
            failing.append((i, case, outcome))
            if fail_fast:
                break
    report = Report(op, name, seed, dtype, run, failed_cases=failed_count, max_ulp=max_ulp,
                    worst_ratio=worst_ratio)
    # shrink the smallest failing cases first
    failing.sort(key=lambda t: (t[1].size_key(), t[0]))
    seen: set = set()
    for i, case, outcome in failing:
        if len(report.failures) >= max_failures:
            break
        small, steps = case, 0
        if shrink_failures:
            small, steps = shrink(case, lambda c: _run(candidate, c).failed)
            outcome = _run(candidate, small)
        ident = small.describe()          # one report per shape/parameter combination
        if ident in seen:
            continue
        seen.add(ident)
        report.failures.append(Failure(
            op=op, params=small.scalar_params, shapes=small.shapes, dtype=dtype,
            comparison=outcome.comparison, exception=outcome.exception,
            reproducer=reproducer(small, candidate), case_index=i,
            original_shapes=case.shapes, original_params=case.scalar_params,
            shrink_steps=steps, traceback=outcome.traceback))
    return report
