"""Hints for the torch, ONNX and jax ops of the op table: which rule of the framework's pooling
a candidate follows differently. Each hint re-runs the reference with one rule changed
(a parameter flipped, or the window model's pads moved) and names the rule when the
candidate's result is that one — so the words come from the rule, never from a test.

>>> import numpy as np
>>> from pooling_ref._case import Case
>>> from pooling_ref.judge import Criteria, judge
>>> x = np.float32([[[1, 2, 3]]])
>>> case = Case("torch.avg_pool1d", x, {"kernel_size": 2, "padding": 1})
>>> got = np.float32([[[1, 2.5]]])       # torch: [0.5, 2.5]; divided by the real cells
>>> v = judge("torch.avg_pool1d", got, {"x": x}, case.scalar_params)
>>> divisor_rule(case, got, v, Criteria())[:60]
'torch counts the padding cells in the divisor (count_include'
"""

from __future__ import annotations

import numpy as np

from ._case import Case, geometry
from .dialects.jax import window_pads
from .judge import Criteria, Verdict
from .tolerance import compare

__all__ = ["ceil_drop", "ceil_ignored", "divisor_rule", "index_format", "jax_base_dilation",
           "jax_init_value", "jax_nan_ignored", "jax_padding_cells", "jax_pads", "jax_zero_sign",
           "nan_ignored", "same_side"]


def _is(case: Case, got, **changes) -> bool:
    """Whether ``got`` is the reference with ``changes`` to the case's parameters (within
    the op's comparison)."""
    params = {k: v for k, v in {**case.scalar_params, **changes}.items() if v is not None}
    try:
        alt = case.spec.run_reference(case.arrays, params)
    except (ValueError, TypeError):
        return False
    if isinstance(alt, tuple):
        return all(_same(case, g, a) for g, a in zip(got, alt))
    return _same(case, got, alt)


def _same(case: Case, got, alt) -> bool:
    got, alt = np.asarray(got), np.asarray(alt)
    if got.shape != alt.shape:
        return False
    bound = case.spec.error_bound(case.arrays, case.scalar_params)
    return compare(got, alt, None if bound is None or alt.dtype.kind != "f" else bound).ok


def divisor_rule(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    """The average's divisor: ``count_include_pad`` (torch's default True, ONNX's 0)
    flipped, ``divisor_override`` ignored."""
    p = case.scalar_params
    framework = case.op.partition(".")[0]
    if p.get("divisor_override") is not None and _is(case, got, divisor_override=None):
        return (f"divisor_override={p['divisor_override']}: {framework} divides every "
                f"window by it; this kernel ignores it")
    default = framework == "torch"
    counted = bool(p.get("count_include_pad", default))
    if _is(case, got, count_include_pad=type(p.get("count_include_pad", default))(
            not counted)):
        if counted:
            return (f"{framework} counts the padding cells in the divisor "
                    f"(count_include_pad={p.get('count_include_pad', default)!r}); this "
                    f"kernel divides by the real count")
        return (f"count_include_pad={p.get('count_include_pad', default)!r}: {framework} "
                f"divides by the real cells; this kernel counts the padding cells too")
    return ""


def same_side(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    """ONNX ``auto_pad``: the odd padding cell on the other side (SAME_UPPER puts it after
    the input, SAME_LOWER before)."""
    auto_pad = case.scalar_params.get("auto_pad", "NOTSET")
    other = {"SAME_UPPER": "SAME_LOWER", "SAME_LOWER": "SAME_UPPER"}.get(auto_pad)
    if other is None or not _is(case, got, auto_pad=other):
        return ""
    where = "before" if auto_pad == "SAME_LOWER" else "after"
    return (f"auto_pad={auto_pad} puts the odd padding cell {where} the input (pads "
            f"{list(geometry(case).pads)}); this kernel splits the padding as {other}")


def ceil_drop(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    """ceil_mode: a last window that would start in the right padding is dropped
    (torch's and ONNX's rule); a kernel without the rule has one more output there."""
    g = geometry(case)
    shape = np.shape(got[0] if isinstance(got, tuple) else got)
    if g is None or len(shape) != g.rank + 2:
        return ""
    longer = [a for a in range(g.rank) if shape[2 + a] == g.out_spatial[a] + 1]
    if not longer or any(shape[2 + a] != g.out_spatial[a] for a in range(g.rank)
                         if a not in longer):
        return ""
    a = longer[0]
    return (f"ceil_mode drops a last window that would start in the right padding "
            f"((out - 1) * stride >= length + padding before): {g.out_spatial[a]} outputs "
            f"along spatial axis {a}; this kernel keeps that window ({shape[2 + a]})")


def _shape_with(case: Case, **changes) -> tuple[int, ...] | None:
    """The shape of the reference's result with ``changes`` to the case's parameters."""
    params = {k: v for k, v in {**case.scalar_params, **changes}.items() if v is not None}
    try:
        alt = case.spec.run_reference(case.arrays, params)
    except (ValueError, TypeError):
        return None
    return np.shape(alt[0] if isinstance(alt, tuple) else alt)


def ceil_ignored(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    """ceil_mode: the output size rounded up; a kernel that ignores it rounds down and
    has one output fewer along an axis whose last window overhangs the input."""
    ceil = case.scalar_params.get("ceil_mode")
    shape = np.shape(got[0] if isinstance(got, tuple) else got)
    g = geometry(case)
    if not ceil or g is None or len(shape) != g.rank + 2:
        return ""
    if shape != _shape_with(case, ceil_mode=type(ceil)(0)):
        return ""
    a = next(a for a in range(g.rank) if shape[2 + a] != g.out_spatial[a])
    framework = case.op.partition(".")[0]
    return (f"ceil_mode={ceil!r}: {framework} rounds the output size up "
            f"({g.out_spatial[a]} outputs along spatial axis {a}, the last window "
            f"overhanging the input); this kernel rounds down ({shape[2 + a]})")


def nan_ignored(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    """torch's max pooling propagates NaN; a kernel that skips it gives a number."""
    values = got[0] if isinstance(got, tuple) else got
    expected = verdict.expected[0] if isinstance(verdict.expected, tuple) else verdict.expected
    values, expected = np.asarray(values), np.asarray(expected)
    if values.shape != expected.shape or values.dtype.kind != "f":
        return ""
    if (np.isnan(expected) & ~np.isnan(values)).any():
        return ("torch's max pooling propagates NaN (a window holding NaN gives NaN, its "
                "index that of the last NaN); this kernel skips it")
    return ""


def index_format(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    """The indices in another framework's format: torch's per plane ``h*W + w``, ONNX's
    flat over ``(N, C, *spatial)``, TF's flat over ``(*spatial, C)`` of each example."""
    if not isinstance(got, tuple) or len(got) != 2 or not isinstance(verdict.expected, tuple):
        return ""
    got_i, want = np.asarray(got[1]), np.asarray(verdict.expected[1])
    if got_i.shape != want.shape or np.array_equal(got_i, want):
        return ""
    n, c, *spatial = case.x.shape
    cells = int(np.prod(spatial))
    plane = want % cells if case.op.startswith("onnx") else want
    b = np.arange(n).reshape(n, *(1,) * (want.ndim - 1))
    ch = np.arange(c).reshape(1, c, *(1,) * (want.ndim - 2))
    formats = {"torch's (per plane: h*W + w)": plane,
               "ONNX's (flat over N, C, H, W)": (b * c + ch) * cells + plane,
               "TF's (flat over H, W, C of each example: (h*W + w)*C + c)": plane * c + ch}
    wanted = next((k for k, v in formats.items() if np.array_equal(v, want)), None)
    if wanted is None:                          # ONNX storage_order=1: column-major planes
        return ""
    for name, indices in formats.items():
        if np.array_equal(indices, got_i):
            return f"the indices are {name}; {case.op}'s are {wanted}"
    return ""


# ----------------------------------------------------------------------------- jax


def _values(got, verdict: Verdict):
    got, want = np.asarray(got), np.asarray(verdict.expected)
    return (got, want) if got.shape == want.shape and got.dtype.kind == "f" else (None, None)


def jax_zero_sign(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    """jax's ``max`` orders ``-0`` below ``+0``; a kernel keeping the first of equal zeros
    gives ``-0`` where jax gives ``+0``."""
    got, want = _values(got, verdict)
    if got is None or case.scalar_params.get("computation") != "max":
        return ""
    flipped = (want == 0) & (got == 0) & (np.signbit(got) != np.signbit(want))
    if not flipped.any() or not np.array_equal(np.isnan(got), np.isnan(want)) or \
            not np.array_equal(got[~flipped & ~np.isnan(got)], want[~flipped & ~np.isnan(want)]):
        return ""
    return ("jax's max orders -0 below +0: a window (or init_value) holding +0 gives +0 "
            "whatever the order; this kernel keeps another zero's sign")


def jax_nan_ignored(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    """jax's ``max`` propagates NaN."""
    got, want = _values(got, verdict)
    if got is None or not (np.isnan(want) & ~np.isnan(got)).any():
        return ""
    return "jax's max propagates NaN (a window holding NaN gives NaN); this kernel skips it"


def jax_init_value(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    """``init_value`` takes part in every window, not only in the padding."""
    p = case.scalar_params
    identity = -np.inf if p.get("computation") == "max" else 0.0
    init = p.get("init_value")
    if init is None or (init == identity) or not _is(case, got, init_value=identity):
        return ""
    return (f"init_value={init!r} takes part in every window (jax reduces it with the "
            f"window's cells); this kernel leaves it out")


def jax_padding_cells(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    """Padding (and base-dilation holes) hold no value in jax: each window is
    ``init_value`` reduced with its real cells; a kernel that pads with zeros differs."""
    p = case.scalar_params
    pads = jax_pads(case)
    if pads is None or any(b != 1 for b in p.get("base_dilation") or ()) or \
            not any(lo > 0 or hi > 0 for lo, hi in pads):
        return ""
    padded = np.pad(case.x, [(max(lo, 0), max(hi, 0)) for lo, hi in pads])
    crop = tuple((min(lo, 0), min(hi, 0)) for lo, hi in pads)
    alt = case.spec.reference(padded, **{**p, "padding": crop})
    if not _same(case, got, alt):
        return ""
    return ("jax's padding cells take no part in the reduction (a window is init_value "
            "reduced with its real cells); this kernel pads with zeros")


def jax_base_dilation(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    """``base_dilation`` ignored: jax puts ``b - 1`` holes between neighbouring cells."""
    base = case.scalar_params.get("base_dilation")
    if base is None or all(b == 1 for b in base) or not _is(case, got, base_dilation=None):
        return ""
    return (f"base_dilation={tuple(base)} puts b - 1 holes between neighbouring cells "
            f"(they hold no value); this kernel ignores it")


def jax_pads(case: Case):
    """The case's ``(lo, hi)`` pads per axis (``None`` if the arguments are not jax's)."""
    p = case.scalar_params
    try:
        return window_pads(case.x.shape, p["window_dimensions"], p["window_strides"],
                           p["padding"], p.get("base_dilation"), p.get("window_dilation"))
    except (KeyError, TypeError, ValueError):
        return None
