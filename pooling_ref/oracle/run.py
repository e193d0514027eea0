"""The oracle's run: :func:`check` a candidate on the cases of an op, shrink the failing
ones and report them.

>>> import pooling_ref
>>> report = check(pooling_ref.max_pool, "max_pool2d", cases=20)
>>> report.passed, report.cases
(True, 20)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .._candidate import (
    DEFAULT_TIMEOUT,
    CheckInterrupted,
    InProcess,
    check_signature,
    check_timeout,
)
from .._isolate import Isolated
from ..cases import Case, Supports, check_dtype, corner_of, generate_cases
from ..judge import ANY, Criteria, check_rule_option, set_name
from ..ops import resolve, spec
from .call import Outcome, run_case
from .report import Failure, Report
from .reproduce import candidate_source, reproducer
from .shrinking import shrunk
from .tally import _Tally

__all__ = ["check"]


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
    dtype: str | None = None,
    supports: dict | None = None,
    nan: str = "tf",
    tf_kernel: str | None = ANY,
    target: str | None = None,
    shrink_failures: bool = True,
    max_failures: int = 3,
    fail_fast: bool = False,
    progress: Callable[[int, int], object] | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    isolate: bool = False,
) -> Report:
    """Check ``candidate`` against ``pooling_ref`` on ``cases`` random cases of ``op``.

    >>> import pooling_ref
    >>> report = check(pooling_ref.zero_pad, "zero_pad2d", cases=10, seed=1)
    >>> print(report)  # doctest: +ELLIPSIS
    check pooling_ref.padding.zero_pad as zero_pad2d (seed 1, float32): 10 cases, all passed...
    >>> report.passed, report.max_ulp, report.matched     # zero padding: every rule set
    (True, 0, (None, 'onednn', 'eigen', 'xla'))

    ``candidate`` is called like the reference (:mod:`pooling_ref.ops`):
    ``candidate(x, **params)`` with the parameter names of the matching ``pooling_ref``
    function (``pool_size, strides, padding, data_format`` / ``padding, data_format`` /
    ``data_format, keepdims`` / ``kernel, bias, strides, padding, data_format,
    dilation_rate, groups``); optional ones are sometimes omitted. ``op`` is one of
    :data:`pooling_ref.OPS`. A candidate whose signature cannot take that call is a
    ``TypeError`` before any case.

    * ``dtype``: float16/32/64, bfloat16 (with ml_dtypes), or an integer dtype where the
      op accepts integers (max pooling, global pooling, zero padding); ``None`` (default):
      the op's default, float32 (an op of one dtype, such as
      ``"litert.average_pool_2d_int8"``, draws that one).
    * ``supports``: ``None`` or ``{parameter: [values]}`` — only such cases are drawn, and
      the report lists what was left out (see :class:`pooling_ref.cases.Supports`).
    * ``nan``: ``"tf"`` (TF's rules) or ``"propagate"`` (max pooling: a NaN in the window
      gives NaN, as ``np.max``); other ops ignore it.
    * ``tf_kernel``: ``"any"`` (default): a case passes when the whole result matches the
      reference under one of the rule sets ``None`` (IEEE), ``"onednn"``, ``"eigen"``,
      ``"xla"`` (:mod:`pooling_ref.judge`), or reproduces a registered TensorFlow difference
      of one of those paths (:mod:`pooling_ref.known`); ``report.matched`` names the sets
      matched on every case. One set (``None`` or a path): held to that set alone (and that
      path's registered differences).
    * ``target``: ``"MODULE:FUNCTION"`` the reproducer imports (the CLI sets it).
    * ``shrink_failures``, ``max_failures`` (distinct failing cases to shrink and report),
      ``fail_fast`` (stop at the first failing case; ``report.cases`` counts those run).
    * ``progress``: called as ``progress(done, total)`` after each case (the CLI's bar).
    * ``timeout``: seconds per candidate call (default 30; ``None``: no limit). A call
      that takes longer is a failure, "timed out after N s", reported within twice the
      limit; timed-out cases are not shrunk, and after 3 timed-out calls the check stops
      calling the candidate (:mod:`pooling_ref._candidate` says how a call is stopped).
    * ``isolate``: run the candidate in a child process (:mod:`pooling_ref._isolate`): a
      crash or a hang in native code becomes a reported failure and the run goes on. The
      candidate must be picklable (a function at the top level of an importable module).

    A candidate that raises produces a failure, not an exception. Ctrl-C raises
    :class:`pooling_ref._candidate.CheckInterrupted` (a ``KeyboardInterrupt``) whose
    message says what ran and which case was running; its ``.report`` is the partial report.
    """
    if not callable(candidate):
        raise TypeError(f"check: candidate must be callable, got {candidate!r}")
    try:
        op = resolve(op, dtype)            # a dtype alias names the op of that dtype
        s = spec(op)
    except ValueError as e:
        raise ValueError(f"check: {e}") from None
    n = _check_int("cases", cases, 1)
    seed = _check_int("seed", seed, 0)
    dt = check_dtype(dtype, op)
    if not isinstance(nan, str) or nan not in ("tf", "propagate"):
        raise ValueError(f"check: nan must be 'tf' or 'propagate', got {nan!r}")
    criteria = Criteria(check_rule_option(tf_kernel), nan if s.nan_rule else "tf")
    max_failures = _check_int("max_failures", max_failures, 1)
    timeout = check_timeout(timeout)
    if not isinstance(isolate, bool):
        raise TypeError(f"check: isolate must be True or False, got {isolate!r}")
    sup = Supports(op, supports)
    _, name = candidate_source(candidate, target)
    check_signature(candidate, s, name, tuple(k for k in s.keyword_arrays
                                              if sup.allowed.get(k) == [None]))
    calls = (Isolated(candidate, timeout, name, target) if isolate
             else InProcess(candidate, timeout))
    tally = _Tally(criteria)
    report = None
    try:
        for i, case in enumerate(generate_cases(op, n, seed, dt, sup)):
            if calls.exhausted:
                break
            with np.errstate(all="ignore"):
                outcome = run_case(calls, case, criteria, tally.prefer())
            tally.add(i, case, outcome)
            if progress is not None:
                progress(tally.run, n)
            if fail_fast and tally.failing:
                break
        if criteria.tf_kernel == ANY:
            tally.settle()
        report = tally.report(op, name, seed, dt.name, sup)
        _report_failures(report, tally, calls, sup, candidate, target, max_failures,
                         shrink_failures)
    except KeyboardInterrupt:
        summary = _interrupted_summary(name, op, n, tally.run, tally.failing, report,
                                       calls.current)
        partial = report or tally.report(op, name, seed, dt.name, sup)
        partial.interrupted = summary
        raise CheckInterrupted(f"check {name} as {op} {summary}", partial) from None
    finally:
        calls.close()
    report.notes = calls.notes()
    if tally.run < n and not fail_fast:
        report.notes.append(f"{n - tally.run} of {n} cases not run")
    return report


def _report_failures(report: Report, tally: _Tally, calls, sup: Supports, candidate,
                     target: str | None, max_failures: int, shrink_failures: bool) -> None:
    """Shrink the failing cases, smallest first, and add one :class:`Failure` per distinct
    shape / parameter combination (at most ``max_failures``) to ``report``."""
    failing = sorted(tally.failing, key=lambda t: (t[1].size_key(), t[0]))
    prefer = (tally.chosen,) if tally.chosen is not None else tally.prefer()
    seen: set = set()
    for i, case, outcome, judged in failing:
        if len(report.failures) >= max_failures:
            break
        with np.errstate(all="ignore"):
            small, steps, outcome, context, why = shrunk(
                calls, case, outcome, sup, judged, prefer, shrink_failures)
        ident = small.describe()          # one report per shape/parameter combination
        if ident in seen:
            continue
        seen.add(ident)
        why = tally_alone(tally, i) or why
        report.failures.append(_failure(i, case, small, steps, outcome, context, why,
                                        candidate, target, judged))


def tally_alone(tally: _Tally, index: int) -> str:
    """Why case ``index`` failed although it matches a rule set: the run's other cases
    match another one (``""`` when it is not such a case)."""
    alone = next((o.alone for i, _, o, _ in tally.failing if i == index), ())
    if not alone:
        return ""
    counts = tally.counts()
    return (f"this case matches only tf_kernel={' / '.join(set_name(r) for r in alone)}, "
            f"but {counts[tally.chosen]} of {tally.run} cases match tf_kernel="
            f"{set_name(tally.chosen)}, which this one does not: no single TensorFlow path "
            f"gives both (judged against tf_kernel={set_name(tally.chosen)})")


def _failure(i: int, case: Case, small: Case, steps: int, outcome: Outcome,
             context: list[str], why: str, candidate, target, criteria: Criteria) -> Failure:
    """The reported :class:`Failure` of case ``i`` shrunk to ``small``."""
    script = reproducer(small, candidate, criteria, target=target)
    if outcome.call_error:
        script = f"# in check(): {outcome.call_error}; this script may do the same\n{script}"
    return Failure(
        op=case.op, params=small.scalar_params, shapes=small.shapes, dtype=case.x.dtype.name,
        comparison=outcome.comparison, exception=outcome.exception, reproducer=script,
        case_index=i, original_shapes=case.shapes, original_params=case.scalar_params,
        shrink_steps=steps, traceback=outcome.traceback, corner=corner_of(small),
        explanation=why, context=context, call_error=outcome.call_error,
        where=outcome.where)


def _case_text(case: Case | None) -> str:
    if case is None:
        return "none"
    shapes = ", ".join(f"{k} {v}" for k, v in case.shapes.items())
    return f"{case.op}  {shapes}  dtype {case.x.dtype.name}  params {case.scalar_params}"


def _interrupted_summary(name: str, op: str, n: int, run: int, failing: list,
                         report: Report | None, current: Case | None) -> str:
    """What ran before Ctrl-C and the case the candidate was running."""
    indices = sorted(t[0] for t in failing)
    failed = (f"{len(failing)} failed so far (case "
              f"{', '.join(str(i) for i in indices[:5])}"
              f"{', ...' if len(failing) > 5 else ''})" if failing else "none failed so far")
    doing = ("while shrinking the failing cases" if report is not None
             else f"during case {run}")
    return (f"interrupted (Ctrl-C) {doing}; {run} of {n} cases run, "
            f"{failed}; the candidate was running: {_case_text(current)}")
