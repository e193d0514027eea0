"""The lines that explain a failing case in the report: its geometry (the entry's
``context``), the input window behind the first mismatch (``window_of``), the small arrays,
got / expected, and the hint of :mod:`pooling_ref.explain` (the entry's ``hints``).

>>> import numpy as np
>>> from pooling_ref.cases import Case
>>> window_context(Case("max_pool1d", np.zeros((1, 5, 1)), {"pool_size": 2,
...                                                       "padding": "same"}))
['padding (before, after) per spatial axis: [(0, 1)]; output spatial (3,)']
"""

from __future__ import annotations

import itertools

import numpy as np

from .._repro import array_literal, value_text
from ..cases import Case, forward_case, geometry, window_cells
from ..dtypes import is_float_dtype
from ..explain import explain, explain_shape, window_of, window_values
from ..judge import ANY, Criteria, _compare_one, set_name
from ..ops import is_gradient
from ..padding import normalize_zero_padding
from ..tolerance import compare
from .call import Outcome
from .report import cells_text, chans_text

__all__ = ["SHOW_ELEMENTS", "context", "grad_ties", "window_context", "zero_pad_context"]

#: Inputs up to this many elements are printed in full in a failure.
SHOW_ELEMENTS = 64


def window_context(case: Case) -> list[str]:
    """Ops with windows: the padding split and the output's spatial shape."""
    g = geometry(case)
    if g is None:
        return []
    return [f"padding (before, after) per spatial axis: {list(g.pads)}; "
            f"output spatial {g.out_spatial}"]


def zero_pad_context(case: Case) -> list[str]:
    """Zero padding: the (before, after) pairs."""
    pairs = normalize_zero_padding(case.params.get("padding", 1), case.rank)
    return [f"padding (before, after) per spatial axis: {list(pairs)}"]


def context(case: Case, outcome: Outcome, criteria: Criteria) -> tuple[list[str], str]:
    """Lines showing the padding split, the input window, got/expected; and the 'why'."""
    if is_gradient(case.spec):
        return _grad_context(case, outcome)
    lines = case.spec.context(case) if case.spec.context else []
    c = outcome.comparison
    if c is None or c.first_index is None:
        if case.x.size <= SHOW_ELEMENTS:
            lines.append(f"x = {array_literal(case.x)}")
        return lines, explain_shape(case, outcome.result, outcome.verdict, criteria)
    if case.spec.outputs != 1:
        return lines, explain(case, outcome.result, outcome.verdict, criteria)
    got, expected = np.asarray(outcome.result), np.asarray(outcome.verdict.expected)
    if case.spec.tf_kernel and (outcome.verdict.rule_set is not None
                                or criteria.tf_kernel == ANY):
        lines.append(f"expected: the reference under tf_kernel="
                     f"{set_name(outcome.verdict.rule_set)}")
    lines += _window_lines(case, c.first_index)
    lines += _array_lines(case, got, expected)
    return lines, explain(case, got, outcome.verdict, criteria)


def _window_lines(case: Case, index: tuple) -> list[str]:
    """The input window behind output element ``index`` (none for ops without one)."""
    w = window_of(case, index)
    if w is None:
        return []
    cells, b, ch = w
    vals = window_values(case, cells, b, ch)
    where = (f"x[{b}, {chans_text(ch)}, {cells_text(cells)}]" if case.channels_first
             else f"x[{b}, {cells_text(cells)}, {chans_text(ch)}]")
    if case.channels_first and vals.ndim > len(cells):
        where += " (channels last)"
    if vals.size <= SHOW_ELEMENTS:
        return [f"input window behind it: {where} = {array_literal(vals)}"]
    return [f"input window behind it: {where} ({vals.size} cells)"]


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


# ----------------------------------------------------------------------------- gradient ops


def _covering_outputs(case: Case, cell: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Output positions whose window holds input cell ``cell`` (spatial indices)."""
    fwd = forward_case(case)
    g = geometry(fwd)
    return [o for o in itertools.product(*(range(m) for m in g.out_spatial))
            if all(c in axis for c, axis in zip(cell, window_cells(fwd, o)))]


def _grad_context(case: Case, outcome: Outcome) -> tuple[list[str], str]:
    """Report lines of a gradient case: padding split, which output is wrong, the windows
    that send gradient to the first mismatching input cell, small arrays; and the 'why'
    (the entry's hints, called as ``hint(case, got grad_x, index)``)."""
    fwd = forward_case(case)
    lines = fwd.spec.context(fwd) if fwd.spec.context else []
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
        lines.append(_grad_x_line(case, idx))
    else:
        lines.append(f"first mismatch in {name}{list(idx)}")
    lines += _array_lines(case, got, expected, f"got {name}")
    at = idx if name == "grad_x" else None
    why = next((text for text in (h(case, got, at) for h in case.spec.hints) if text), "")
    return lines, why


def _grad_x_line(case: Case, idx: tuple) -> str:
    """Which outputs' windows send gradient to grad_x cell ``idx``, with their grad_out."""
    cf = case.channels_first
    b, ch = idx[0], idx[1] if cf else idx[-1]
    cell = tuple(idx[2:] if cf else idx[1:-1])
    outs = _covering_outputs(case, cell)
    gout = case.params["grad_out"]
    ups = [gout[(b, ch, *o) if cf else (b, *o, ch)] for o in outs]
    return (f"grad_x{list(idx)} (input cell {cell}) gets gradient from the windows "
            f"of outputs {outs}, whose grad_out values are "
            f"[{', '.join(value_text(u) for u in ups)}]"
            + (" (every filter of the group)" if "kernel" in case.arrays else ""))


def compare_result_part(case: Case, i: int, got: object, expected: np.ndarray) -> bool:
    """Whether output ``i`` of a multi-output gradient result matches."""
    bounds = case.spec.error_bound(case.arrays, case.scalar_params)
    return _compare_one(got, expected, None if bounds is None else bounds[i],
                        case.spec.mode).ok


#: Max pooling gradients: the tie rules ``max_pool_grad`` takes, in words.
_TIE_RULES = {"first": "only the first (row-major) of tied maxima gets the gradient",
              "all": "every maximum gets the full gradient",
              "split": "tied maxima share the gradient equally"}


def grad_ties(case: Case, got: np.ndarray, idx: tuple | None) -> str:
    """A sentence when a max pooling gradient follows another NaN or tie rule than TF's."""
    if got.shape != case.x.shape or idx is None:
        return ""
    if case.rank < 3 and is_float_dtype(case.x.dtype) and np.isnan(case.x[idx]):
        return ("the wrong cell is NaN: TF's 1D/2D max pooling gradient starts at a window's "
                "first real cell and moves only to a strictly greater one, so a NaN first "
                "cell (or a window of only NaN) keeps the gradient although the forward "
                "ignored it")
    tf_rule = ("first" if case.rank < 3 else
               "all (every cell within 1e-5 of the maximum: TF's MaxPool3DGrad)")
    for ties, words in _TIE_RULES.items():
        try:
            alt = case.spec.run_reference(case.arrays, {**case.scalar_params, "ties": ties})
        except (ValueError, TypeError):
            continue
        if compare(got, alt).ok:
            return (f"your kernel follows ties={ties!r} ({words}); TensorFlow's "
                    f"{case.rank}D rule is ties={tf_rule}")
    return ""
