"""Why a forward result differs: one sentence naming the rule (and the option) behind it.

>>> import numpy as np
>>> from pooling_ref.cases import Case
>>> from pooling_ref.judge import Criteria
>>> x = np.float32([1, 2, 3, 4, 5]).reshape(1, 5, 1)
>>> case = Case("avg_pool1d", x, {"pool_size": 2, "padding": "same"})
>>> got = np.float32([1.5, 3.5, 2.5]).reshape(1, 3, 1)    # the last window: 5 / 2
>>> verdict = Criteria().verdict(case.spec, got, case.arrays, case.scalar_params)
>>> print(explain(case, got, verdict, Criteria()))  # doctest: +NORMALIZE_WHITESPACE
your kernel divides by the full window (2 cells, counting padding: torch's and ONNX's
count_include_pad); TensorFlow divides by the number of real cells in the window

Each hint is a small function of ``(case, got, verdict, criteria)`` returning a sentence or
``""``; :func:`explain` returns the first that applies. Where the difference is a rule of a
TensorFlow path, the sentence is built from the rule tables
(:data:`pooling_ref.rules.RULES`, :data:`~pooling_ref.rules.GRAD_RULES`) and names
the ``tf_kernel`` option that selects it.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from ._repro import value_text
from .cases import Case, _geometry, window_cells
from .dtypes import is_float_dtype, lowest
from .judge import RULE_SETS, Criteria, Verdict, rule_sets, set_name
from .rules import IEEE, grad_rules, rules
from .tolerance import compare

__all__ = ["RULE_WORDS", "explain", "rule_differences", "window_of", "window_values"]

#: What each value of a rule-table field means (:class:`pooling_ref.rules.Rules`,
#: :class:`~pooling_ref.rules.GradRules`); a test checks every value in the tables
#: has its words.
RULE_WORDS: dict[tuple[str, object], str] = {
    ("flush", "none"): "subnormals kept (IEEE)",
    ("flush", "full"): "subnormal inputs read as zeros and subnormal results written as zeros",
    ("flush", "compare"): "subnormals compared as zeros, the chosen cell's bits kept",
    ("flush", True): "subnormal inputs compared as zeros and subnormal sums flushed",
    ("flush", False): "subnormals kept (IEEE)",
    ("empty", "lowest"): "a window with no number gives the lowest finite value",
    ("empty", "-inf"): "a window with no number gives -inf",
    ("accumulate", "input"): "each window summed in the input dtype",
    ("accumulate", "float32"): "each window summed in float32",
    ("skip_lowest", False): "every real cell averaged",
    ("skip_lowest", True): "cells equal to the lowest finite value left out of the average",
    ("divide", "divide"): "the sum divided by the count",
    ("divide", "reciprocal"): "the sum multiplied by the rounded reciprocal of the count",
    ("divide", "xla"): "the sum multiplied by the rounded reciprocal of the count (divided "
                       "for padded 1D pooling)",
    ("copy_single", False): "one-cell windows computed like the others",
    ("copy_single", True): "one-cell windows with stride 1 copied unchanged",
    ("nan", "ignore"): "NaN ignored",
    ("nan", "propagate"): "NaN propagated",
    ("ties", "first"): "the first of tied maxima gets the gradient",
    ("ties", "tf3d"): "every cell within 1e-5 of the maximum gets the gradient",
    ("ties", "xla"): "the scan keeps the first of tied maxima; a NaN attracts the gradient",
    ("order", "row-major"): "overlapping windows added in row-major output order",
    ("order", "last-axis-outer"): "overlapping windows added with the last axis outermost",
    ("unchosen", "+0"): "window cells that do not get the gradient receive +0",
    ("unchosen", "nothing"): "window cells that do not get the gradient receive nothing",
    ("copy", False): "every gradient cell summed",
    ("copy", True): "a cell fed by one value takes it without an addition (grad_out "
                    "unflushed, an average's share flushed with its sign)",
}

#: Op family -> ``(rule table, op key)`` of :func:`rules_of`.
_RULE_TABLE = {"max_pool": ("forward", "max"), "avg_pool": ("forward", "avg"),
               "global_max_pool": ("forward", "global_max"),
               "global_avg_pool": ("forward", "global_avg"),
               "max_pool_grad": ("grad", "max"), "avg_pool_grad": ("grad", "avg")}


def rules_of(case: Case, rule_set: str | None):
    """The rule-table row of ``case`` under ``rule_set`` (``None``: IEEE), or ``None`` for
    ops without path rules."""
    table, key = _RULE_TABLE.get(case.family, (None, None))
    dtype, rank = case.x.dtype, case.rank
    if table == "grad":
        return grad_rules(rule_set, key, dtype, rank)
    if table is None:
        return None
    if rule_set is None:
        return IEEE
    return rules(rule_set, key, dtype, rank)


def rule_differences(case: Case, a: str | None, b: str | None) -> list[str]:
    """The rules of ``b`` that differ from those of ``a`` for ``case``, in words.

    >>> x = np.zeros((1, 2, 1), np.float32)
    >>> rule_differences(Case("max_pool1d", x, {"pool_size": 2}), "onednn", "eigen")
    ['subnormal inputs read as zeros and subnormal results written as zeros']
    """
    ra, rb = rules_of(case, a), rules_of(case, b)
    if ra is None or rb is None:
        return []
    return [RULE_WORDS[(f.name, getattr(rb, f.name))] for f in fields(rb)
            if getattr(ra, f.name) != getattr(rb, f.name)]


# ----------------------------------------------------------------------------- windows


def window_of(case: Case, index: tuple) -> tuple[list[list[int]], int, slice] | None:
    """Input cells (per spatial axis), batch and channels behind output element ``index``
    (for convolution every input channel of the filter's group)."""
    if index is None or case.family not in ("max_pool", "avg_pool", "global_max_pool",
                                            "global_avg_pool", "conv"):
        return None
    cf, r = case.channels_first, case.rank
    batch = index[0]
    if case.family.startswith("global"):
        chan = index[1] if (cf or len(index) == 2) else index[-1]
        return [list(range(n)) for n in case.spatial], batch, slice(chan, chan + 1)
    out = index[2:] if cf else index[1:-1]
    chan = index[1] if cf else index[-1]
    chans = slice(chan, chan + 1)
    if case.family == "conv":
        groups = int(case.params.get("groups", 1))
        cin_g, filters = case.params["kernel"].shape[-2:]
        first = (chan // (filters // groups)) * cin_g
        chans = slice(first, first + cin_g)
    return window_cells(case, tuple(out))[:r], batch, chans


def window_values(case: Case, cells, batch: int, chans: slice) -> np.ndarray:
    """The window's input cells, spatial axes first (a last channel axis only if > 1)."""
    xb = np.moveaxis(case.x[batch], 0, -1) if case.channels_first else case.x[batch]
    vals = xb[np.ix_(*cells)][..., chans]
    return vals[..., 0] if vals.shape[-1] == 1 else vals


# ----------------------------------------------------------------------------- hints


def _hint_rule_set(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    """The result (or the first wrong cell) is what another rule set gives."""
    if rules_of(case, None) is None:
        return ""
    compared = rule_sets(case.spec, criteria.tf_kernel)
    idx = verdict.comparison.first_index
    at_cell = []
    for r in RULE_SETS:
        if r == verdict.rule_set:
            continue
        other = criteria.reference(case.spec, case.arrays, case.scalar_params, r)
        words = "; ".join(rule_differences(case, verdict.rule_set, r))
        if r not in compared and compare(got, other).ok:
            return (f"your kernel follows tf_kernel={set_name(r)} ({words}): pass "
                    f"tf_kernel={r!r}, or tf_kernel='any' to accept every TF path")
        if idx is not None and words and got[idx].tobytes() == other[idx].tobytes():
            at_cell.append(f"tf_kernel={set_name(r)} ({words})")
    if at_cell:
        return (f"at this cell your kernel gives what {' and '.join(at_cell)} gives, but no "
                f"rule set matches the whole result")
    return ""


def _hint_nan_rule(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    if (case.family != "max_pool" or criteria.nan != "tf" or not is_float_dtype(case.x.dtype)
            or not np.isnan(case.x).any()):       # without NaN it is the -inf rule
        return ""
    alt = criteria.reference(case.spec, case.arrays, case.scalar_params, verdict.rule_set,
                             nan="propagate")
    if compare(got, alt).ok:
        return ("your kernel propagates NaN; TensorFlow ignores it — pass nan='propagate' "
                "if that is intended")
    return ""


def _hint_wide_ints(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    if is_float_dtype(case.x.dtype) or case.family not in (
            "max_pool", "global_max_pool", "zero_pad"):
        return ""
    if np.abs(case.x.astype(np.float64)).max(initial=0) > 2**24:
        return ("integers beyond 2**24 differ: does your kernel convert them to float32 "
                "(which cannot tell 2**24 from 2**24 + 1)?")
    return ""


def _cell(got, verdict: Verdict):
    idx = verdict.comparison.first_index
    if idx is None or not is_float_dtype(got.dtype):
        return None
    return got[idx], np.asarray(verdict.expected)[idx], idx


def _hint_zero_sign(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    cell = _cell(got, verdict)
    if cell is None or cell[0] != 0 or cell[1] != 0 or np.signbit(cell[0]) == np.signbit(
            cell[1]):
        return ""
    w = window_of(case, cell[2])
    zeros = window_values(case, *w) if w is not None else np.zeros(0)
    zeros = zeros[zeros == 0]
    if case.family in ("max_pool", "global_max_pool") and len(set(np.signbit(zeros))) < 2:
        return (f"-0.0 vs +0.0: the window's maximum is {value_text(cell[1])} (no tie of "
                "zeros); your kernel changes the sign of zero")
    return {"max_pool": "-0.0 vs +0.0: TF keeps the first of equal maxima (row-major "
                        "window order)",
            "global_max_pool": "-0.0 vs +0.0: TF's reduce_max keeps the last of equal "
                               "maxima (row-major order)",
            "zero_pad": "-0.0 vs +0.0: zero padding must copy the input bit for bit "
                        "(your kernel turned -0.0 into +0.0)"}.get(
        case.family, "-0.0 vs +0.0: the sign of a zero result differs")


def _hint_empty_window(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    cell = _cell(got, verdict)
    if cell is None or case.family != "max_pool" or cell[1] != lowest(case.x.dtype):
        return ""
    if np.isinf(cell[0]) or np.isnan(cell[0]):
        return ("all-NaN / all -inf window: TF gives the lowest finite value "
                f"({value_text(cell[1])}), not {value_text(cell[0])} — start the running "
                "maximum at the lowest finite value and replace it only by a strictly "
                "greater cell")
    return ""


def _hint_nan_skipped(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    cell = _cell(got, verdict)
    if cell is None or case.family not in ("avg_pool", "global_avg_pool", "conv"):
        return ""
    if np.isnan(cell[1]) and not np.isnan(cell[0]):
        return ("your kernel skips NaN (a nanmean habit); TensorFlow propagates it: a "
                "window holding NaN gives NaN")
    return ""


def _hint_overflow(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    cell = _cell(got, verdict)
    if cell is None or case.family not in ("avg_pool", "global_avg_pool"):
        return ""
    if np.isinf(cell[1]) and np.isfinite(cell[0]):
        return ("the window sum overflows in TF (it accumulates in the input dtype: "
                "[max, max] -> inf); your kernel accumulates in a wider type")
    return ""


def _within(case: Case, got, alt) -> bool:
    bound = case.spec.error_bound(case.arrays, case.scalar_params)
    if bound is None:
        return compare(got, alt).ok
    return compare(got, alt, bound).ok


def _hint_full_window(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    """Average pooling divided by the full window (``count_include_pad``)."""
    g = _geometry(case)
    if case.family != "avg_pool" or g is None or not g.padded:
        return ""
    real = np.ones((), np.float64)
    for axis, counts in enumerate(g.real_counts()):
        shape = [1] * g.rank
        shape[axis] = counts.size
        real = real * counts.reshape(shape)
    real = real[None, ..., None]
    if case.channels_first:
        real = np.moveaxis(real, -1, 1)
    expected = np.asarray(verdict.expected).astype(np.float64)
    with np.errstate(invalid="ignore"):
        alt = (expected * real / g.cells).astype(got.dtype)
    if _within(case, got, alt):
        return (f"your kernel divides by the full window ({g.cells} cells, counting padding: "
                f"torch's and ONNX's count_include_pad); TensorFlow divides by the number of "
                f"real cells in the window")
    return ""


def _hint_pad_split(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    """'same' padding with the odd cell before instead of after."""
    g = _geometry(case)
    if g is None or not any(b != a for b, a in g.pads) or case.family not in (
            "max_pool", "avg_pool", "conv"):
        return ""
    spatial = tuple(range(2, case.x.ndim) if case.channels_first
                    else range(1, case.x.ndim - 1))
    arrays = {**case.arrays, "x": np.ascontiguousarray(np.flip(case.x, spatial))}
    if case.family == "conv":
        kernel = case.arrays["kernel"]
        arrays["kernel"] = np.ascontiguousarray(np.flip(kernel, tuple(range(case.rank))))
    flipped = criteria.reference(case.spec, arrays, case.scalar_params, verdict.rule_set)
    alt = np.ascontiguousarray(np.flip(flipped, spatial))
    same_values = case.family == "max_pool" and np.array_equal(got, alt, equal_nan=True)
    if same_values or (case.family != "max_pool" and _within(case, got, alt)):
        pads = [(a, b) for b, a in g.pads]
        return (f"your kernel puts the odd 'same' padding cell before the input (pads "
                f"{pads} per axis); TensorFlow puts it after: {list(g.pads)}")
    return ""


_HINTS = (_hint_rule_set, _hint_nan_rule, _hint_wide_ints, _hint_zero_sign,
          _hint_empty_window, _hint_nan_skipped, _hint_overflow, _hint_full_window,
          _hint_pad_split)


def explain(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    """The first hint that applies to ``got`` (a forward result of ``case`` that differs
    as ``verdict`` says), or ``""``."""
    got = np.asarray(got)
    if verdict.expected is None or got.shape != np.shape(verdict.expected):
        return ""
    with np.errstate(all="ignore"):
        for hint in _HINTS:
            text = hint(case, got, verdict, criteria)
            if text:
                return text
    return ""
