"""The correctness oracle: :func:`check` a candidate implementation against ``pooling_ref``.

>>> import numpy as np
>>> import pooling_ref
>>> report = check(pooling_ref.max_pool, "max_pool2d", cases=20)
>>> report.passed, report.cases
(True, 20)
>>> wrong = lambda x, pool_size, **kw: pooling_ref.avg_pool(x, pool_size, **kw)
>>> check(wrong, "max_pool1d", cases=20).passed
False

The reference is ``pooling_ref`` itself, the op's function in :mod:`pooling_ref.ops`.
Comparisons follow :mod:`pooling_ref.tolerance`: max pooling, global max pooling and zero
padding must match bit for bit; average pooling and convolution must lie within the
documented error bound (so a candidate that sums in another order or in a wider type
passes, while a real error — hundreds of times the bound — fails). The result must also
have the reference's dtype and must not modify its inputs.

A failing case is shrunk (smaller arrays, simpler parameters, fewer special values, while
it still fails) and reported with the input window behind the first mismatch, the padding
split, a sentence when the difference is a known special-value rule, and a reproducer
script that fails while the mismatch persists.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from . import known
from ._candidate import (
    DEFAULT_TIMEOUT,
    Caller,
    CheckInterrupted,
    InProcess,
    check_signature,
    check_timeout,
)
from ._isolate import Isolated
from ._repro import CANNOT_IMPORT, array_literal, import_lines, snippet, value_text
from .cases import (
    Case,
    Supports,
    _geometry,
    check_dtype,
    corner_of,
    generate_cases,
    window_cells,
)
from .dtypes import is_float_dtype
from .explain import explain, window_of, window_values
from .judge import (
    ANY,
    Criteria,
    Verdict,
    _bad,
    _compare_one,
    check_rule_option,
    registry_paths,
    set_name,
)
from .judge import (
    RULE_SETS as _ALL_SETS,
)
from .ops import OPS, forward_of, is_gradient, spec
from .padding import normalize_zero_padding
from .tolerance import Comparison, compare

__all__ = ["OPS", "CheckInterrupted", "Failure", "Report", "check", "compare_result",
           "reference"]

#: Upper bound on candidate calls spent shrinking one failing case.
SHRINK_BUDGET = 400
#: Inputs up to this many elements are printed in full in a failure.
SHOW_ELEMENTS = 64
#: ``check``'s default criteria: any rule set, TF's NaN rule.
DEFAULT_CRITERIA = Criteria()


# ----------------------------------------------------------------------------- comparison


def reference(op: str, x: np.ndarray, *arrays, nan: str = "tf", tf_kernel: str | None = None,
              **params) -> np.ndarray:
    """``pooling_ref``'s result for oracle op ``op`` (``"conv2d"`` -> :func:`pooling_ref.conv`).

    >>> import numpy as np
    >>> reference("zero_pad1d", np.ones((1, 1, 1)), padding=((0, 1),))[0, :, 0]
    array([1., 0.])
    """
    s = spec(op)
    named, scalars = _named(s, x, arrays, params)
    return s.run_reference(named, scalars, nan=nan, tf_kernel=tf_kernel)


def _named(s, x, arrays: tuple, params: dict) -> tuple[dict, dict]:
    """Array arguments by name and the scalar parameters of one call."""
    named = {"x": x}
    named.update(zip(s.positional[1:], arrays))
    named.update({k: params[k] for k in s.keyword_arrays if k in params})
    scalars = {k: v for k, v in params.items() if k not in s.arrays}
    return named, scalars


def compare_result(op: str, result: object, x: object, *arrays, nan: str = "tf",
                   tf_kernel: str | None = ANY, **params) -> Comparison:
    """Compare a candidate's ``result`` for ``op(x, *arrays, **params)`` with the reference.

    >>> import numpy as np
    >>> x = np.float32([[[1], [3], [2]]])
    >>> compare_result("max_pool1d", np.float32([[[3]]]), x, pool_size=2).ok
    True

    Bitwise for max pooling and zero padding; within the error bound of
    :mod:`pooling_ref.tolerance` for average pooling and convolution. Shape and dtype must
    be the reference's in both modes. Ops with several outputs compare each.
    ``tf_kernel="any"`` (the default, as in :func:`check`): the result matches under one of
    the rule sets (:mod:`pooling_ref.judge`); ``None`` or a path: under that one.
    """
    s = spec(op)
    named, scalars = _named(s, np.asarray(x), arrays, params)
    criteria = Criteria(check_rule_option(tf_kernel, "compare_result"), nan)
    return criteria.verdict(s, result, named, scalars).comparison


# ----------------------------------------------------------------------------- explaining


def _cells_text(cells: list[list[int]]) -> str:
    def one(c):
        if not c:
            return "(empty)"
        if c == list(range(c[0], c[-1] + 1)):
            return f"{c[0]}:{c[-1] + 1}"
        return str(c)
    return ", ".join(one(c) for c in cells)


def _chans_text(chans: slice) -> str:
    return str(chans.start) if chans.stop - chans.start == 1 else f"{chans.start}:{chans.stop}"


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
    reproducer: str                  # runnable script; fails while the mismatch persists
    case_index: int                  # index of the original (unshrunk) case
    original_shapes: dict = field(default_factory=dict)
    original_params: dict = field(default_factory=dict)
    shrink_steps: int = 0
    traceback: str = ""
    corner: str = ""                 # the corner class of the (shrunk) case: cases.corner_of
    explanation: str = ""            # the special-value rule, in words
    context: list[str] = field(default_factory=list)   # padding split, window, values
    call_error: str = ""             # "timed out after 30 s", "crashed: killed by signal ..."
    where: str = ""                  # the candidate's last frames: "k.py:9 in f <- ..."

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
        if self.call_error:
            return self.call_error
        if self.exception is not None:
            return f"candidate raised {self.exception}"
        return str(self.comparison)

    def __str__(self) -> str:
        shapes = ", ".join(f"{k} {v}" for k, v in self.shapes.items())
        corner = f" [{self.corner}]" if self.corner else ""
        lines = [f"case {self.case_index}{corner}: {self.op}  {shapes}  dtype {self.dtype}",
                 f"  params: {self.params}",
                 f"  {self.detail}"]
        if self.where:
            lines.append(f"  at {self.where}")
        if self.explanation:
            lines.append(f"  why: {self.explanation}")
        lines += ["  " + line for line in self.context]
        if self.shrink_steps:
            orig = ", ".join(f"{k} {v}" for k, v in self.original_shapes.items())
            lines.append(f"  (shrunk in {self.shrink_steps} steps from {orig}, "
                         f"params {self.original_params})")
        lines.append("  reproduce with (a script: `python repro.py` fails while the "
                     "mismatch persists):")
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
    left_out: list[str] = field(default_factory=list)   # what supports= kept out
    corners: dict = field(default_factory=dict)         # corner class -> cases drawn
    nan: str = "tf"
    tf_kernel: str | None = ANY                         # the rule sets asked for
    matched: tuple = ()              # rule sets under which every passing case matched
    matched_cases: dict = field(default_factory=dict)   # rule set -> cases it matched
    known: dict = field(default_factory=dict)           # registry id -> cases it accepted
    interrupted: str = ""            # Ctrl-C: what ran and where it stopped
    notes: list[str] = field(default_factory=list)      # calls timed out, not run, ...

    @property
    def passed(self) -> bool:
        return not self.failures and not self.interrupted

    def rule_sets_text(self) -> str:
        """Which rule sets the candidate matched (and TF differences it reproduced)."""
        if self.matched:
            text = "matched tf_kernel=" + ", ".join(set_name(r) for r in self.matched)
            text += " on every case" if len(self.matched_cases) else ""
        elif self.matched_cases:
            text = "no single rule set matched every case: " + ", ".join(
                f"tf_kernel={set_name(r)} {n}" for r, n in self.matched_cases.items())
        else:
            text = "no case matched"
        if self.known:
            text += "; TensorFlow's known differences reproduced (accepted): " + ", ".join(
                f"{k} ({n} case{'s' if n > 1 else ''})" for k, n in self.known.items())
        return text

    def __str__(self) -> str:
        extra = "" if self.nan == "tf" else f", nan={self.nan!r}"
        if self.tf_kernel != ANY:
            extra += f", tf_kernel={self.tf_kernel!r}"
        head = (f"check {self.candidate} as {self.op} (seed {self.seed}, {self.dtype}{extra})"
                f": {self.cases} cases, ")
        left = ("\n  not drawn (supports=): " + "; ".join(self.left_out)
                if self.left_out else "")
        left += "".join(f"\n  note: {n}" for n in self.notes)
        if self.interrupted:
            return "\n".join([head + f"INTERRUPTED: {self.interrupted}" + left,
                              *map(str, self.failures)])
        if self.passed:
            worst = (f"worst bound ratio {self.worst_ratio:.3g}" if spec(self.op).mode ==
                     "bound" else f"max ULP {self.max_ulp}")
            return head + f"all passed ({worst}); {self.rule_sets_text()}" + left
        lines = [head + f"{self.failed_cases} FAILED; smallest failing case(s):" + left,
                 f"  passing cases: {self.rule_sets_text()}"]
        for f in self.failures:
            lines.append(str(f))
        return "\n".join(lines)


# ----------------------------------------------------------------------------- reproducer


def _resolve(module: str, qualname: str):
    obj = sys.modules.get(module)
    if obj is None:
        try:
            obj = importlib.import_module(module)
        except Exception:
            return None
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _candidate_source(candidate: Callable, target: str | None = None) -> tuple[list[str], str]:
    """Import lines that bind exactly ``candidate`` in a fresh interpreter, and its name.

    ``target`` (``"MODULE:FUNCTION"``, as given on the command line) wins. Otherwise the
    function's ``__module__``/``__qualname__`` are used only if they lead back to this very
    object (a ``functools.wraps`` wrapper copies them from the function it wraps); else the
    module's globals are searched for it.
    """
    if target is not None:
        module, _, attr = target.partition(":")
        return import_lines(module, attr), target
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
    if module and module != "__main__":
        if qualname and "<" not in qualname and _resolve(module, qualname) is candidate:
            return import_lines(module, qualname), name
        mod = sys.modules.get(module)
        for attr, value in sorted(vars(mod).items()) if mod else ():
            if value is candidate:
                return import_lines(module, attr), f"{module}.{attr}"
    message = f"candidate {name} cannot be imported by name: define `candidate` here"
    return ["import sys", f"print({message!r}, file=sys.stderr)",
            f"raise SystemExit({CANNOT_IMPORT})"], name


def reproducer(case: Case, candidate: Callable, criteria: Criteria = DEFAULT_CRITERIA, *,
               target: str | None = None) -> str:
    """A script that rebuilds ``case`` bit for bit, calls the candidate and asserts a match.

    It exits with an ``AssertionError`` (status 1) while the mismatch persists and prints
    ``match`` once the candidate is fixed. It first puts the directory the candidate's
    module was imported from on ``sys.path`` (so it runs from any directory) and exits with
    status 2, saying how to run it, when the module still cannot be found.
    """
    imports, _ = _candidate_source(candidate, target)
    s = case.spec
    extra = criteria.options()
    args = ", ".join([*s.positional,
                      *(f"{k}={k}" for k in s.keyword_arrays if k in case.params),
                      *(f"{k}={v!r}" for k, v in case.scalar_params.items())])
    after = [f"comparison = compare_result({case.op!r}, result, {args}{extra})",
             "print(comparison)",
             "assert comparison.ok, str(comparison)"]
    return snippet(["from pooling_ref.oracle import compare_result", *imports],
                   "candidate", case.arrays, case.scalar_params, s.positional, after)


# ----------------------------------------------------------------------------- running


@dataclass
class _Outcome:
    verdict: Verdict | None = None
    exception: str | None = None
    traceback: str = ""
    result: object = None
    known: str | None = None          # registry id of a TF difference the call reproduced
    alone: tuple = ()                 # rule sets this case matched, none of them the run's
    call_error: str = ""         # the call gave no result: timed out, crashed
    where: str = ""              # the candidate's last frames (raised, timed out, crashed)
    timed_out: bool = False

    @property
    def comparison(self) -> Comparison | None:
        return None if self.verdict is None else self.verdict.comparison

    @property
    def failed(self) -> bool:
        if self.call_error:
            return True
        if self.exception is not None:
            return self.known is None
        return not self.verdict.ok


def _run(candidate: Callable | Caller, case: Case, criteria: Criteria = DEFAULT_CRITERIA,
         prefer: tuple = ()) -> _Outcome:
    """Call the candidate (a plain callable: in-process, no time limit) on copies of the
    case's arrays and judge its result (``prefer``: the rule sets to report a mismatch
    against, see :func:`pooling_ref.judge.judge`)."""
    calls = candidate if isinstance(candidate, Caller) else InProcess(candidate, None)
    s = case.spec
    copies = {k: np.array(v, copy=True) for k, v in case.arrays.items()}
    args, kwargs = s.split(copies, case.scalar_params)
    calls.current = case
    call = calls.call(args, kwargs, [*s.positional, *(k for k in s.keyword_arrays
                                                      if k in kwargs)])
    if call.status in ("timeout", "crashed"):
        return _Outcome(call_error=call.error, where=call.where,
                        timed_out=call.status == "timeout")
    if call.status == "raised":
        entry = known.raised(s, case.arrays, case.scalar_params, call.error,
                             registry_paths(criteria.tf_kernel))
        return _Outcome(exception=call.error, traceback=call.traceback, where=call.where,
                        known=entry)
    result = call.result
    if call.modified is not None:
        return _Outcome(Verdict(_bad(s.mode,
                                     f"candidate modified its input {call.modified!r}")))
    try:
        return _Outcome(criteria.verdict(s, result, case.arrays, case.scalar_params, prefer),
                        result=result)
    except Exception as e:   # e.g. a result np.asarray cannot compare
        return _Outcome(Verdict(_bad(s.mode, f"comparing the result failed: "
                                             f"{type(e).__name__}: {e}")))


def _context(case: Case, outcome: _Outcome, criteria: Criteria
             ) -> tuple[list[str], str]:
    """Lines showing the padding split, the input window, got/expected; and the 'why'."""
    if is_gradient(case.spec):
        return _grad_context(case, outcome)
    lines: list[str] = []
    g = _geometry(case)
    if g is not None:
        lines.append(f"padding (before, after) per spatial axis: {list(g.pads)}; "
                     f"output spatial {g.out_spatial}")
    elif case.family == "zero_pad":
        pairs = normalize_zero_padding(case.params.get("padding", 1), case.rank)
        lines.append(f"padding (before, after) per spatial axis: {list(pairs)}")
    c = outcome.comparison
    if c is None or c.first_index is None:
        if case.x.size <= SHOW_ELEMENTS:
            lines.append(f"x = {array_literal(case.x)}")
        return lines, ""
    if case.spec.outputs != 1:
        return lines, ""
    got, expected = np.asarray(outcome.result), np.asarray(outcome.verdict.expected)
    if outcome.verdict.rule_set is not None or criteria.tf_kernel == ANY:
        lines.append(f"expected: the reference under tf_kernel="
                     f"{set_name(outcome.verdict.rule_set)}")
    idx = c.first_index
    w = window_of(case, idx)
    if w is not None:
        cells, b, ch = w
        vals = window_values(case, cells, b, ch)
        where = (f"x[{b}, {_chans_text(ch)}, {_cells_text(cells)}]" if case.channels_first
                 else f"x[{b}, {_cells_text(cells)}, {_chans_text(ch)}]")
        if case.channels_first and vals.ndim > len(cells):
            where += " (channels last)"
        if vals.size <= SHOW_ELEMENTS:
            lines.append(f"input window behind it: {where} = {array_literal(vals)}")
        else:
            lines.append(f"input window behind it: {where} ({vals.size} cells)")
    lines += _array_lines(case, got, expected)
    return lines, explain(case, got, outcome.verdict, criteria)


def _array_lines(case: Case, got: np.ndarray, expected: np.ndarray, got_name: str = "got"
                 ) -> list[str]:
    """The case's small arrays, then got / expected, as NumPy literals."""
    lines = [f"{name:<8s} = {array_literal(arr)}" for name, arr in case.arrays.items()
             if arr.size <= SHOW_ELEMENTS]
    if got.size <= SHOW_ELEMENTS:
        w = max(len(got_name), len("expected"))
        lines += [f"{got_name:<{w}s} = {array_literal(got)}",
                  f"{'expected':<{w}s} = {array_literal(expected)}"]
    return lines


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
    return Case(case.op, case.x if x is None else x, params, case.corner)


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


def _take(a: np.ndarray, axis: int, sl) -> np.ndarray:
    if not isinstance(sl, slice):
        return np.ascontiguousarray(np.take(a, sl, axis=axis))
    idx = [slice(None)] * a.ndim
    idx[axis] = sl
    return np.ascontiguousarray(a[tuple(idx)])


def _drop_one(n: int) -> Iterator:
    """Index sets that remove cells: half (from either end), then one (last, first)."""
    if n > 3:
        yield slice(0, (n + 1) // 2)
        yield slice(n // 2, None)
    yield slice(0, -1)
    yield slice(1, None)


def _moves(case: Case) -> Iterator[Case]:
    """Candidate simplifications of ``case``, the most drastic first; small steps too."""
    x, p, rank = case.x, case.params, case.rank
    if x.shape[0] > 1:
        for sl in _drop_one(x.shape[0]):
            yield _with(case, _take(x, 0, sl))
    ca = _chan_axis(case)
    if case.family != "conv":
        if x.shape[ca] > 1:
            for sl in _drop_one(x.shape[ca]):
                yield _with(case, _take(x, ca, sl))
    else:
        yield from _conv_channel_moves(case, ca)
    for s in range(rank):
        ax = _axis_of(case, s)
        if x.shape[ax] > 1:
            for sl in _drop_one(x.shape[ax]):
                yield _with(case, _take(x, ax, sl))
    if case.family == "conv":
        k = p["kernel"]
        for s in range(rank):
            if k.shape[s] > 1:
                yield _with(case, kernel=_take(k, s, slice(0, -1)))
                yield _with(case, kernel=_take(k, s, slice(1, None)))
        if "bias" in p:
            yield _with(case, bias=_DROP)
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
    if "keepdims" in p:
        yield _with(case, keepdims=_DROP)
    if case.channels_first:
        yield _with(case, np.ascontiguousarray(np.moveaxis(x, 1, -1)),
                    data_format="channels_last")
    if p.get("data_format") == "channels_last":
        yield _with(case, data_format=_DROP)
    yield from _value_moves(case)


def _value_moves(case: Case) -> Iterator[Case]:
    """Fewer special values: replace non-finite / -0.0 cells by a plain value, one at a time
    (all at once first), so the report keeps only the cell(s) that matter."""
    x = case.x
    if not is_float_dtype(x.dtype) or x.size == 0:
        return
    xf = x.astype(np.float64)
    special = ~np.isfinite(xf) | ((xf == 0) & np.signbit(xf))
    where = np.flatnonzero(special)
    if where.size == 0:
        return
    plain = np.array(1.0, dtype=x.dtype)
    if where.size > 1:
        y = x.copy()
        y[special] = plain
        yield _with(case, y)
    for i in where[:32]:
        y = x.copy()
        y.flat[i] = plain
        yield _with(case, y)


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
    for keep_in in _keep_counts(cin_g):          # fewer input channels in each group
        keep = [gi * cin_g + c for gi in range(groups) for c in range(keep_in)]
        yield _with(case, _take(x, ca, keep), kernel=_take(k, -2, slice(0, keep_in)))
    for keep_f in _keep_counts(f_g):             # fewer filters in each group
        keep = [gi * f_g + f for gi in range(groups) for f in range(keep_f)]
        yield _with(case, kernel=_take(k, -1, keep),
                    bias=_DROP if b is None else b[keep])


def _keep_counts(n: int) -> list[int]:
    """How many of ``n`` to keep: half first (when large), then one fewer."""
    return ([(n + 1) // 2] if n > 3 else []) + ([n - 1] if n > 1 else [])


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


def shrink(case: Case, still_fails: Callable[[Case], bool],
           budget: int = SHRINK_BUDGET, supports: Supports | None = None
           ) -> tuple[Case, int]:
    """Greedily simplify ``case`` while ``still_fails``; return the result and steps taken.

    >>> from pooling_ref.cases import generate_cases
    >>> case = generate_cases("max_pool2d", 40, seed=0)[-2]
    >>> small, steps = shrink(case, lambda c: True)       # "fails" whatever the case
    >>> small.x.size, small.scalar_params
    (1, {'pool_size': 1})

    Moves include small steps (one channel, one cell fewer), so a failure that needs
    ``C > 8`` keeps ``C = 9``. Every accepted step strictly decreases
    :meth:`Case.size_key`, so this terminates; ``budget`` bounds the calls of
    ``still_fails``. Cases outside ``supports`` are never tried.
    """
    steps = 0
    improved = True
    while improved and budget > 0:
        improved = False
        key = case.size_key()
        for new in (_grad_moves if is_gradient(case.spec) else _moves)(case):
            if new.size_key() >= key or not new.valid():
                continue
            if supports is not None and not supports.admits(new):
                continue
            budget -= 1
            if still_fails(new):
                case, steps, improved = new, steps + 1, True
                break
            if budget <= 0:
                break
    if is_gradient(case.spec):
        case, steps = _simpler_grad_out(case, still_fails, steps)
    return case, steps


# ----------------------------------------------------------------------------- check


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"check: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"check: {name} must be >= {minimum}, got {value!r}")
    return int(value)


@dataclass
class _Tally:
    """The outcomes of one run: which rule sets each passing case matched, the failing
    cases with the criteria each is reported under, and the statistics of the report.

    Under ``tf_kernel="any"`` the run must be explained by ONE rule set, as a TensorFlow
    path is one set of rules for a whole run: :meth:`settle` picks the set that most cases
    match and turns every passing case that set does not explain into a failure against it
    (a kernel that flushes like one path but fills empty windows like another is neither).
    """

    criteria: Criteria
    passing: list = field(default_factory=list)   # (index, case, outcome, rule sets)
    failing: list = field(default_factory=list)   # (index, case, outcome, criteria)
    corners: dict = field(default_factory=dict)
    chosen: str | None = None                     # the set the run is judged against
    run: int = 0

    def add(self, index: int, case: Case, outcome: _Outcome) -> None:
        self.run += 1
        self.corners[case.corner or "plain"] = self.corners.get(case.corner or "plain", 0) + 1
        if outcome.failed:
            self.failing.append((index, case, outcome, self.criteria))
        else:
            self.passing.append((index, case, outcome, self._sets(outcome)))

    def _sets(self, outcome: _Outcome) -> tuple:
        if outcome.verdict is None:                   # a raise TensorFlow does too
            return tuple(p for p in registry_paths(self.criteria.tf_kernel)
                         if p in known.entry_paths(outcome.known))
        return outcome.verdict.matched

    def counts(self) -> dict:
        """Rule set -> passing cases it matched, in :data:`judge.RULE_SETS` order."""
        out: dict = {}
        for *_, sets in self.passing:
            for r in sets:
                out[r] = out.get(r, 0) + 1
        return {r: out[r] for r in sorted(out, key=list(_ALL_SETS).index)}

    def prefer(self) -> tuple:
        """The rule sets to report a mismatch against: those matched so far, most first."""
        counts = self.counts()
        return tuple(sorted(counts, key=lambda r: -counts[r]))

    def settle(self) -> None:
        """Judge the run against the one rule set most passing cases match (see above)."""
        counts = self.counts()
        if not counts:
            return
        self.chosen = max(counts, key=lambda r: counts[r])      # first set wins ties
        strict = Criteria(self.chosen, self.criteria.nan)
        keep = []
        for index, case, outcome, sets in self.passing:
            if self.chosen in sets:
                keep.append((index, case, outcome, sets))
                continue
            outcome.alone = sets
            outcome.verdict = strict.verdict(case.spec, outcome.result, case.arrays,
                                             case.scalar_params)
            self.failing.append((index, case, outcome, strict))
        self.passing = keep

    def report(self, op: str, name: str, seed: int, dtype: str, sup: Supports) -> Report:
        comparisons = [o.comparison for _, _, o, _ in self.passing if o.comparison]
        matched = None
        for *_, sets in self.passing:
            matched = sets if matched is None else tuple(r for r in matched if r in sets)
        known_cases: dict = {}
        for _, _, o, _ in self.passing:
            entry = o.known or (o.verdict.known if o.verdict else None)
            if entry:
                known_cases[entry] = known_cases.get(entry, 0) + 1
        return Report(op, name, seed, dtype, self.run, failed_cases=len(self.failing),
                      max_ulp=max((c.max_ulp for c in comparisons), default=0),
                      worst_ratio=max((c.worst_ratio for c in comparisons), default=0.0),
                      left_out=sup.left_out(), corners=self.corners, nan=self.criteria.nan,
                      tf_kernel=self.criteria.tf_kernel, matched=matched or (),
                      matched_cases=self.counts(), known=known_cases)


def check(
    candidate: Callable,
    op: str,
    *,
    cases: int = 100,
    seed: int = 0,
    dtype: str = "float32",
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
      op accepts integers (max pooling, global pooling, zero padding).
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
    _, name = _candidate_source(candidate, target)
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
                outcome = _run(calls, case, criteria, tally.prefer())
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
            small, steps, outcome, context, why = _shrunk(
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


def _failure(i: int, case: Case, small: Case, steps: int, outcome: _Outcome,
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


def _shrunk(calls, case, outcome, sup, criteria: Criteria, prefer: tuple,
            shrink_failures: bool):
    """The shrunk case, steps, its outcome, context lines and explanation.

    A timed-out case is not shrunk (each try could cost the whole time limit), and a try
    that times out does not count as still failing; once the check's timed-out calls are
    used up (``calls.exhausted``) no more tries are made. The outcome of the shrunk case
    is the one its try gave (no call is repeated)."""
    small, steps = case, 0
    if shrink_failures and not outcome.timed_out:
        last: list = [case, outcome]

        def still_fails(c: Case) -> bool:
            if calls.exhausted:
                return False
            o = _run(calls, c, criteria, prefer)
            if o.failed and not o.timed_out:
                last[:] = [c, o]
                return True
            return False

        small, steps = shrink(case, still_fails, supports=sup)
        if small is last[0]:
            outcome = last[1]
    context, why = _context(small, outcome, criteria)
    return small, steps, outcome, context, why


# ----------------------------------------------------------------------------- gradient ops
# Shrinking and reports for the backward passes (``*_grad`` ops, issue 11). ``grad_out``
# must keep the shape of the forward result: moves that slice the batch or (pooling) the
# channels slice ``x`` and ``grad_out`` alike; after any other move ``grad_out`` is re-fitted
# to the new forward result (:func:`_refit_grad_out`).

#: What a re-fitted ``grad_out`` holds where the new forward result is larger than the old.
GRAD_OUT_FILL = 1.0


def _forward_case(case: Case) -> Case:
    """The forward call behind a gradient case (``conv2d_grad`` -> ``conv2d`` with kernel)."""
    f = forward_of(case.spec)
    params = {k: v for k, v in case.params.items() if k != "grad_out"}
    return Case(f.name, case.x, params, case.corner)


def _to_last(a: np.ndarray, channels_first: bool) -> np.ndarray:
    return np.moveaxis(a, 1, -1) if channels_first else a


def _refit_grad_out(old: Case, new: Case) -> Case:
    """``new`` with a ``grad_out`` of its forward result's shape: the old ``grad_out``'s
    leading block on every axis (convolution filters: the leading filters of each kept
    group, as the shrinking moves keep them), :data:`GRAD_OUT_FILL` beyond it."""
    fwd = _forward_case(new)
    try:
        shape = np.shape(fwd.spec.run_reference(fwd.arrays, fwd.scalar_params))
    except (ValueError, TypeError):
        return new                                  # invalid parameters: rejected anyway
    g_old = old.params["grad_out"]
    if shape == g_old.shape and old.channels_first == new.channels_first:
        return new
    src = _to_last(g_old, old.channels_first)
    dst_shape = (shape[0], *shape[2:], shape[1]) if new.channels_first else shape
    dst = np.full(dst_shape, GRAD_OUT_FILL, dtype=g_old.dtype)
    index = [np.arange(min(a, b)) for a, b in zip(src.shape[:-1], dst_shape[:-1])]
    chans = np.arange(min(src.shape[-1], dst_shape[-1]))
    if new.family == "conv_grad":
        g0, g1 = int(old.params.get("groups", 1)), int(new.params.get("groups", 1))
        f0, f1 = src.shape[-1] // g0, dst_shape[-1] // g1
        if g1 <= g0 and f1 <= f0:
            chans = np.array([gi * f0 + f for gi in range(g1) for f in range(f1)], int)
    src_idx = np.ix_(*index, chans)
    dst_idx = np.ix_(*index, np.arange(chans.size))
    dst[dst_idx] = src[src_idx]
    grad_out = np.ascontiguousarray(np.moveaxis(dst, -1, 1) if new.channels_first else dst)
    return _with(new, grad_out=grad_out)


def _grad_moves(case: Case) -> Iterator[Case]:
    """The moves of the forward case (:func:`_moves`), ``grad_out`` following ``x`` (see the
    section comment)."""
    x, g = case.x, case.params["grad_out"]
    axes = [0] if case.family == "conv_grad" else [0, _chan_axis(case)]
    for axis in axes:                         # x and grad_out share these axes
        if x.shape[axis] > 1:
            for sl in _drop_one(x.shape[axis]):
                yield _with(case, _take(x, axis, sl), grad_out=_take(g, axis, sl))
    for moved in _moves(_forward_case(case)):     # the forward op's moves (conv: kernel)
        new = Case(case.op, moved.x, {**moved.params, "grad_out": g}, case.corner)
        if any(new.x.shape[a] != x.shape[a] for a in axes if new.x.ndim == x.ndim
               and new.channels_first == case.channels_first):
            continue                          # done above, grad_out sliced alike
        yield _refit_grad_out(case, new)


def _simpler_grad_out(case: Case, still_fails: Callable[[Case], bool], steps: int
                      ) -> tuple[Case, int]:
    """Try a ``grad_out`` of ones, then of its values rounded to integers (easier to read)."""
    g = case.params["grad_out"]
    with np.errstate(invalid="ignore"):
        simpler = [np.ones_like(g), np.rint(g).astype(g.dtype)]
    for new_g in simpler:
        if new_g.tobytes() == g.tobytes():
            return case, steps
        new = _with(case, grad_out=new_g)
        if still_fails(new):
            return new, steps + 1
    return case, steps


def _covering_outputs(case: Case, cell: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Output positions whose window holds input cell ``cell`` (spatial indices)."""
    fwd = _forward_case(case)
    geometry = _geometry(fwd)
    import itertools

    return [o for o in itertools.product(*(range(m) for m in geometry.out_spatial))
            if all(c in axis for c, axis in zip(cell, window_cells(fwd, o)))]


def _grad_context(case: Case, outcome: _Outcome) -> tuple[list[str], str]:
    """Report lines of a gradient case: padding split, which output is wrong, the windows
    that send gradient to the first mismatching input cell, small arrays; and the 'why'."""
    fwd = _forward_case(case)
    geometry = _geometry(fwd)
    lines = [f"padding (before, after) per spatial axis: {list(geometry.pads)}; "
             f"output spatial {geometry.out_spatial}"]
    c = outcome.comparison
    if c is None or c.first_index is None:
        return lines, ""
    expected = case.spec.run_reference(case.arrays, case.scalar_params)
    got = outcome.result
    if case.spec.outputs > 1:
        which = next(i for i, (gv, e) in enumerate(zip(got, expected))
                     if not compare_result_part(case, i, gv, e))
        name, got, expected = case.spec.output_names[which], got[which], expected[which]
    else:
        name, got = case.spec.output_names[0], np.asarray(got)
    idx = c.first_index
    if name == "grad_x":
        cf = case.channels_first
        b, ch = idx[0], idx[1] if cf else idx[-1]
        cell = tuple(idx[2:] if cf else idx[1:-1])
        outs = _covering_outputs(case, cell)
        gout = case.params["grad_out"]
        ups = [gout[(b, ch, *o) if cf else (b, *o, ch)] for o in outs]
        lines.append(f"grad_x{list(idx)} (input cell {cell}) gets gradient from the windows "
                     f"of outputs {outs}, whose grad_out values are "
                     f"[{', '.join(value_text(u) for u in ups)}]"
                     + ("" if case.family != "conv_grad" else " (every filter of the group)"))
    else:
        lines.append(f"first mismatch in {name}{list(idx)}")
    lines += _array_lines(case, got, expected, f"got {name}")
    return lines, _grad_explain(case, got, idx if name == "grad_x" else None)


def compare_result_part(case: Case, i: int, got: object, expected: np.ndarray) -> bool:
    """Whether output ``i`` of a multi-output gradient result matches."""
    bounds = case.spec.error_bound(case.arrays, case.scalar_params)
    return _compare_one(got, expected, None if bounds is None else bounds[i],
                        case.spec.mode).ok


def _grad_explain(case: Case, got: np.ndarray, idx: tuple | None) -> str:
    """A sentence when a max pooling gradient follows another NaN or tie rule than TF's."""
    if case.family != "max_pool_grad" or got.shape != case.x.shape or idx is None:
        return ""
    if case.rank < 3 and is_float_dtype(case.x.dtype) and np.isnan(case.x[idx]):
        return ("the wrong cell is NaN: TF's 1D/2D max pooling gradient starts at a window's "
                "first real cell and moves only to a strictly greater one, so a NaN first "
                "cell (or a window of only NaN) keeps the gradient although the forward "
                "ignored it")
    rules = {"first": "only the first (row-major) of tied maxima gets the gradient",
             "all": "every maximum gets the full gradient",
             "split": "tied maxima share the gradient equally"}
    tf_rule = ("first" if case.rank < 3 else
               "all (every cell within 1e-5 of the maximum: TF's MaxPool3DGrad)")
    for ties, words in rules.items():
        try:
            alt = case.spec.run_reference(case.arrays, {**case.scalar_params, "ties": ties})
        except (ValueError, TypeError):
            continue
        if compare(got, alt).ok:
            return (f"your kernel follows ties={ties!r} ({words}); TensorFlow's "
                    f"{case.rank}D rule is ties={tf_rule}")
    return ""
