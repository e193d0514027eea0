"""Why a LiteRT quantized pooling result differs: the rule a kernel follows instead of
LiteRT's, found by computing the result under each other rule (derived from LiteRT's own,
:mod:`pooling_ref.dialects.litert`) and naming every one that gives the kernel's result.

>>> import numpy as np
>>> from pooling_ref.cases import Case
>>> from pooling_ref.judge import Criteria
>>> x = np.int8([1, 2, -3, -2]).reshape(1, 1, 4, 1)      # sums 3 and -5 over 2 cells
>>> case = Case("litert.average_pool_2d_int8", x, {"filter_size": (1, 2), "strides": 2,
...             "padding": "VALID", "scale": 0.5, "zero_point": 0})
>>> got = np.int8([2, -2]).reshape(1, 1, 2, 1)          # 1.5 -> 2, -2.5 -> -2
>>> verdict = Criteria().verdict(case.spec, got, case.arrays, case.scalar_params)
>>> print(average_rules(case, got, verdict, Criteria()))  # doctest: +NORMALIZE_WHITESPACE
your kernel rounds the window mean half to even or rounds the window mean half up
(towards +inf);
LiteRT rounds the mean of the raw values (zero point included) half away from zero:
(sum ± count / 2) / count with C's truncating division

The rules (each a single departure from LiteRT's): the mean's rounding (half to even,
half up, floor division, truncation, the zero point taken out before rounding), the
divisor at a SAME border (the full window, padding read as 0 or as the zero point), the
window sum wrapped in the input dtype; padding cells in a maximum; the fused activation's
bounds (XNNPACK's rounding, without the zero point, not saturated, not applied).
"""

from __future__ import annotations

import numpy as np

from .cases import Case
from .dialects import _xnnpack, litert
from .dialects._windows2d import gather
from .geometry import same_pads
from .judge import Criteria, Verdict

__all__ = ["average_rules", "litert_context", "litert_window", "max_rules"]

class _Call:
    """One case's arguments, checked by the dialect: input, window, quantization."""

    def __init__(self, case: Case):
        p = case.params
        self.x, self.dtype = case.x, case.x.dtype
        self.fs, self.st, self.pad = litert.window_params(case.x, p["filter_size"],
                                                          p["strides"], p["padding"])
        self.scale, self.zp = p["scale"], int(p["zero_point"])
        self.act = litert.activation_name(p.get("activation", "NONE"))

    def clamp(self, v: np.ndarray, bounds: tuple[int, int] | None = None) -> np.ndarray:
        low, high = bounds or litert.quantized_activation_range(self.act, self.scale,
                                                                self.zp, self.dtype)
        return np.clip(v, low, high).astype(self.dtype)

    def padded_windows(self, fill: int) -> np.ndarray:
        """Every window's cells with the SAME padding cells read as ``fill``."""
        w = gather(self.x, self.fs, self.st, self.pad)
        return np.where(w.real[None, :, :, None, :], w.cells.astype(np.int64), fill)


# ----------------------------------------------------------------------------- the rules

#: What LiteRT does, per kind of rule (the second half of a hint's sentence).
_LITERT = {
    "mean": "LiteRT rounds the mean of the raw values (zero point included) half away from "
            "zero: (sum ± count / 2) / count with C's truncating division",
    "divisor": "LiteRT divides by the real cells only",
    "sum": "LiteRT sums in int32",
    "padding": "LiteRT's maximum is over the real cells only",
}


def _mean_rules(c: _Call) -> list[tuple[str, str, np.ndarray]]:
    """(kind, what the kernel does, result) of each other rounding / divisor / sum rule."""
    total, count = litert.window_sums(c.x, c.fs, c.st, c.pad)
    full = np.full_like(count, c.fs[0] * c.fs[1])
    wrapped = total.astype(c.dtype).astype(np.int64)
    with np.errstate(all="ignore"):
        return [
            ("mean", "rounds the window mean half to even", np.round(total / count)),
            ("mean", "rounds the window mean half up (towards +inf)",
             np.floor(total / count + 0.5)),
            ("mean", "floor-divides the window sum (rounds the mean towards -inf)",
             total // count),
            ("mean", "truncates the window mean towards zero",
             np.sign(total) * (np.abs(total) // count)),
            ("mean", "subtracts the zero point before rounding (rounds the mean of q - "
             "zero_point, then adds the zero point back)",
             c.zp + litert.rounded_mean(total - c.zp * count, count)),
            ("divisor", f"divides by the full window at a SAME border ({full.flat[0]} cells, "
             f"padding read as 0)", litert.rounded_mean(total, full)),
            ("divisor", f"divides by the full window at a SAME border ({full.flat[0]} cells, "
             f"padding read as the zero point, a real 0.0)",
             litert.rounded_mean(c.padded_windows(c.zp).sum(-1), full)),
            ("sum", f"accumulates the window sum in {c.dtype.name} (it wraps around)",
             litert.rounded_mean(wrapped, count)),
        ]


def _activation_rules(c: _Call, v: np.ndarray) -> list[tuple[str, str, np.ndarray]]:
    """(kind, what the kernel does, result) of each other activation clamp of ``v``."""
    info = np.iinfo(c.dtype)
    low, high = litert.ACTIVATIONS[c.act]
    wide = litert.quantized_activation_range(c.act, c.scale, c.zp, np.int64)
    unsaturated = tuple(b if np.isfinite(r) else limit
                        for b, r, limit in zip(wide, (low, high), (info.min, info.max)))
    wrapped = tuple(int(np.array(b).astype(c.dtype)) for b in unsaturated)
    return [
        ("activation", "rounds the activation bounds half to even after adding the zero "
         "point (XNNPACK's rule for int8 / uint8 max pooling, registry "
         "litert-xnnpack-quantized-activation-half-even)",
         c.clamp(v, _xnnpack.quantized_range(low, high, c.scale, c.zp, c.dtype))),
        ("activation", f"clamps to the {c.act} bounds without the zero point",
         c.clamp(v, litert.quantized_activation_range(c.act, c.scale, 0, c.dtype))),
        ("activation", f"does not saturate the {c.act} bounds: {list(unsaturated)} wrap "
         f"around in {c.dtype.name} to {list(wrapped)}", np.clip(v, *wrapped).astype(c.dtype)),
        ("activation", "applies no fused activation", c.clamp(v, (info.min, info.max))),
    ]


def _litert_clamp(c: _Call) -> str:
    bounds = litert.quantized_activation_range(c.act, c.scale, c.zp, c.dtype)
    return (f"LiteRT clamps {c.act} to zero_point + round(bound / scale) (half away from "
            f"zero), saturated to {c.dtype.name}: {list(bounds)}")


def _named(c: _Call, rules: list[tuple[str, str, np.ndarray]], got: np.ndarray) -> str:
    """Every rule whose result is ``got`` bit for bit, by kind (one case may not tell some
    rules apart: a single tie rounds half to even and half up alike), with LiteRT's own."""
    fits: dict[str, list[str]] = {}
    for kind, words, alt in rules:
        if got.dtype == c.dtype and np.array_equal(got, np.asarray(alt).astype(c.dtype)):
            fits.setdefault(kind, []).append(words)
    theirs = {**_LITERT, "activation": _litert_clamp(c)}
    parts = [f"{_either(words)}; {theirs[kind]}" for kind, words in fits.items()]
    return f"your kernel {'. Or it '.join(parts)}" if parts else ""


def _either(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def average_rules(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    """A quantized average that follows another rounding, divisor, sum or clamp rule."""
    c = _Call(case)
    total, count = litert.window_sums(c.x, c.fs, c.st, c.pad)
    rules = [(k, w, c.clamp(alt)) for k, w, alt in _mean_rules(c)]
    return _named(c, rules + _activation_rules(c, litert.rounded_mean(total, count)), got)


def max_rules(case: Case, got, verdict: Verdict, criteria: Criteria) -> str:
    """A quantized maximum that lets padding cells in or clamps another way."""
    c = _Call(case)
    best = litert.max_pool_2d_q(c.x, c.fs, c.st, c.pad, c.scale, c.zp)
    rules = [
        ("padding", "reads SAME padding cells as 0 (they take part in the maximum)",
         c.clamp(c.padded_windows(0).max(-1))),
        ("padding", "reads SAME padding cells as the zero point (a real 0.0, which takes part "
         "in the maximum)", c.clamp(c.padded_windows(c.zp).max(-1))),
    ]
    return _named(c, rules + _activation_rules(c, best), got)


# ----------------------------------------------------------------------------- the report


def litert_window(case: Case, index: tuple) -> tuple[list[list[int]], int, slice]:
    """The real input rows and columns of output ``index`` (n, oh, ow, c)."""
    c = _Call(case)
    h, w = case.x.shape[1:3]
    cells = gather(np.arange(h * w).reshape(1, h, w, 1), c.fs, c.st, c.pad)
    flat = cells.cells[0, index[1], index[2], 0][cells.real[index[1], index[2]]]
    rows, cols = sorted({int(i) // w for i in flat}), sorted({int(i) % w for i in flat})
    return [rows, cols], index[0], slice(index[-1], index[-1] + 1)


def litert_context(case: Case) -> list[str]:
    """The SAME pads, the output size and the activation's quantized clamp."""
    c = _Call(case)
    h, w = case.x.shape[1:3]
    pads = ([same_pads(n, k, s) for n, k, s in zip((h, w), c.fs, c.st)]
            if c.pad == "SAME" else [(0, 0), (0, 0)])
    total, _ = litert.window_sums(c.x, c.fs, c.st, c.pad)
    low, high = litert.quantized_activation_range(c.act, c.scale, c.zp, c.dtype)
    return [f"padding (before, after) per spatial axis: {pads}; output spatial "
            f"{total.shape[1:3]}; activation {c.act}: the result is clamped to "
            f"[{low}, {high}] (zero_point + round(bound / scale), saturated)"]
