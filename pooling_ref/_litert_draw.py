"""Cases of the LiteRT quantized pooling ops (``"litert.average_pool_2d_int8"`` ...): the
sizes and parameters in LiteRT's terms (:func:`draw_quantized`), and the values that
integer-kernel writers get wrong (:func:`fill_quantized`).

>>> from pooling_ref._draw import NumpySource
>>> from pooling_ref.cases import generate_cases
>>> case = generate_cases("litert.average_pool_2d_int8", 6, seed=2)[5]
>>> sorted(case.scalar_params)[:4], case.x.dtype.name
(['activation', 'filter_size', 'padding', 'scale'], 'int8')

Parameters: ``filter_size`` and ``strides`` (an int or a pair), ``padding`` "SAME" (more
often: its border windows have fewer real cells) or "VALID", ``scale`` (values whose
activation bounds ``bound / scale`` are .5 ties, tiny ones that saturate the bounds, a
huge one), ``zero_point`` (the dtype's extremes, 0, one off the extremes, or any; 0 for
int16, which LiteRT keeps symmetric) and the fused ``activation`` (sometimes left out).

Corners (:data:`QUANTIZED_CORNERS`, an entry's ``Corners.own``): ``"rounding ties"`` (the
average ops: every window whose last — or, in reverse order, first — real cell is in no
window before it gets a raw sum that is an exact .5 tie for its real-cell count, so ties
occur at every SAME border count; odd counts get a remainder just below or above half),
``"dtype limits"`` (cells at the dtype's limits, ±1, and the zero point), ``"activation
bounds"`` (cells at and next to the quantized clamp bounds, LiteRT's and XNNPACK's, with a
fused activation), ``"below zero point"`` (every cell below the zero point, SAME padding:
a kernel that lets padding cells into a maximum shows at the borders).
"""

from __future__ import annotations

import numpy as np

from ._draw import Ints, Pool, Source
from ._params import Draft, _fit_row, _int_or_tuple, _spatial, _stride, _window
from ._supports import Supports
from .dialects import _xnnpack, litert
from .dialects._windows2d import gather
from .geometry import normalize_padding

__all__ = ["QUANTIZED_CORNERS", "SCALES", "draw_quantized", "fill_quantized",
           "normalize_activation", "normalize_pair", "normalize_scale", "normalize_zero_point"]

#: The special-value corners of the quantized ops, in round-robin order.
QUANTIZED_CORNERS = ("rounding ties", "dtype limits", "activation bounds", "below zero point")
#: Scales drawn (float32 values): 6 / 2.4, 6 / 0.8, 6 / 0.16, 1 / 0.4 and 1 / 0.08 are .5
#: ties of the activation bounds; 1e-3 and 1e-6 saturate them; 100 puts them at the zero
#: point.
SCALES = (0.05, 2.4, 0.8, 0.16, 0.4, 0.08, 1 / 3, 0.0314, 1e-3, 1e-6, 100.0, 1.0)
_ACTIVATIONS = ("omit", "NONE", "RELU", "RELU6", "RELU_N1_TO_1")


# ----------------------------------------------------------------------------- supports=


def normalize_pair(value: object, rank: int) -> tuple[int, int]:
    """``supports=`` form of ``filter_size``: an int or a pair, as ``(height, width)``."""
    return litert.window_params(np.zeros((1, 1, 1, 1), np.int8), value, 1, "SAME")[0]


def normalize_activation(value: object, rank: int) -> str:
    """``supports=`` form of ``activation`` (``None``: left out, which is "NONE")."""
    return "NONE" if value is None else litert.activation_name(value)


def normalize_scale(value: object, rank: int) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"scale must be a positive float, got {value!r}")
    return float(np.float32(value))


def normalize_zero_point(value: object, rank: int) -> int:
    if isinstance(value, bool) or int(value) != value:
        raise ValueError(f"zero_point must be an int, got {value!r}")
    return int(value)


# ----------------------------------------------------------------------------- parameters


def _zero_point(src: Source, sup: Supports, dtype: np.dtype) -> int:
    info = np.iinfo(dtype)
    fixed, lo, hi = sup.value(src, "zero_point"), int(info.min), int(info.max)
    options = [lo, hi, (lo + hi + 1) // 2, lo + 1, hi - 1, src.integer(lo, hi)]
    drawn = src.choice(options, [0.2, 0.2, 0.2, 0.1, 0.1, 0.2])
    if fixed is not None:
        return fixed
    return 0 if dtype == np.int16 else drawn


def _activation(src: Source, sup: Supports, corner: str):
    weights = [0.2, 0.2, 0.2, 0.25, 0.15]
    if corner == "activation bounds":
        weights = [0.0, 0.0, 0.3, 0.4, 0.3]
    return sup.pick(src, "activation", list(_ACTIVATIONS), weights)


def draw_quantized(src: Source, s, sz, sup: Supports, corner: str, limit: int) -> Draft:
    """The sizes and parameters of a quantized LiteRT pooling case (an entry's ``draw``)."""
    dtype = np.dtype(s.default_dtype)
    spatial = _spatial(src, sup, 2, limit + 1)
    sides = ["VALID", "SAME"]
    padding = sup.pick(src, "padding", sides, [0.1, 0.9] if corner == "below zero point"
                       else [0.4, 0.6])
    pad = normalize_padding(padding)
    fixed = sup.value(src, "filter_size")
    window = list(fixed) if fixed is not None else [_window(src, n, pad) for n in spatial]
    if pad == "valid" and not sup.restricted("spatial"):
        spatial = [max(n, k) for n, k in zip(spatial, window)]
    fixed_s = sup.value(src, "strides")
    strides = list(fixed_s) if fixed_s is not None else [_stride(src, k) for k in window]
    _fit_row(spatial, window, strides, (1, 1), pad, sz.row)
    params = {"filter_size": _int_or_tuple(src, window),
              "strides": _int_or_tuple(src, strides), "padding": padding,
              "scale": sup.value(src, "scale") or float(np.float32(src.choice(SCALES))),
              "zero_point": _zero_point(src, sup, dtype)}
    activation = _activation(src, sup, corner)
    if activation != "omit":
        params["activation"] = activation
    return Draft(sz.n, sz.c, spatial, params)


# ----------------------------------------------------------------------------- values


def fill_quantized(src: Source, case, corner: str, *, ties: bool) -> None:
    """Draw the values of ``case.x`` for ``corner`` in place (an entry's ``fill``);
    ``ties``: an average op, whose plain cases get rounding ties half the time too."""
    x, p = case.x, case.params
    info = np.iinfo(x.dtype)
    lo, hi, zp = int(info.min), int(info.max), int(p["zero_point"])
    mode = src.choice(["any", "near zero point", "limits"], [0.5, 0.3, 0.2])
    reverse, plain_ties = src.boolean(0.5), src.boolean(0.5)
    if corner == "dtype limits" or (corner == "" and mode == "limits"):
        element = Pool((lo, hi, lo + 1, hi - 1, zp), (0.3, 0.3, 0.1, 0.1, 0.2))
    elif corner == "activation bounds":
        element = Pool(_bound_values(p, x.dtype))
    elif corner == "below zero point" and zp > lo:
        element = Ints(max(lo, zp - 40), zp - 1)
    elif mode == "near zero point":
        element = Ints(max(lo, zp - 8), min(hi, zp + 8))
    else:
        element = Ints(lo, hi)
    x[...] = src.values(x.shape, x.dtype, element)
    if ties and (corner == "rounding ties" or (corner == "" and plain_ties)):
        make_ties(src, x, p, reverse)


def _bound_values(params: dict, dtype: np.dtype) -> tuple[int, ...]:
    """The cells at and next to the activation's quantized bounds (LiteRT's and XNNPACK's
    rounding), within the dtype."""
    info = np.iinfo(dtype)
    act = params.get("activation", "NONE")
    scale, zp = params["scale"], params["zero_point"]
    ours = litert.quantized_activation_range(act, scale, zp, dtype)
    theirs = _xnnpack.quantized_range(*litert.ACTIVATIONS[act.upper()], scale, zp, dtype)
    near = {b + d for b in (*ours, *theirs) for d in (-1, 0, 1)}
    return tuple(sorted(v for v in near if info.min <= v <= info.max))


def make_ties(src: Source, x: np.ndarray, params: dict, reverse: bool) -> None:
    """Give windows raw sums that are exact .5 ties of their real-cell count (odd counts:
    a remainder just below or above half), in place. Windows are visited in row-major
    order (``reverse``: the opposite); a window is changed through its last (first) real
    cell, and only if no window visited before holds that cell, so no tie is undone.

    >>> from pooling_ref._draw import NumpySource
    >>> def ties(reverse):
    ...     x = np.zeros((1, 3, 3, 1), np.int8)
    ...     make_ties(NumpySource(np.random.default_rng(0)), x,
    ...               {"filter_size": 2, "strides": 1, "padding": "SAME"}, reverse)
    ...     total, count = litert.window_sums(x, (2, 2), (1, 1), "SAME")
    ...     return (2 * (total % count) == count)[0, :, :, 0].astype(int).tolist()
    >>> ties(False)           # the windows cut by the bottom / right padding share cells
    [[1, 1, 0], [1, 1, 0], [0, 0, 0]]
    >>> ties(True)            # every window of an even count (the corner has 1 cell)
    [[1, 1, 1], [1, 1, 1], [1, 1, 0]]
    """
    fs, st, pad = litert.window_params(x, params["filter_size"], params["strides"],
                                       params["padding"])
    h, w = x.shape[1:3]
    index = gather(np.arange(h * w).reshape(1, h, w, 1), fs, st, pad)
    flat = x.reshape(x.shape[0], h * w, x.shape[-1])
    info = np.iinfo(x.dtype)
    held: set[int] = set()
    windows = list(np.ndindex(*index.real.shape[:2]))
    for oh, ow in reversed(windows) if reverse else windows:
        cells = index.cells[0, oh, ow, 0][index.real[oh, ow]]
        pivot = int(cells.min() if reverse else cells.max())
        above = src.boolean(0.5)
        if pivot not in held:
            _tie(flat, cells, pivot, int(cells.size) // 2 + (cells.size % 2 and above),
                 info)
        held.update(int(c) for c in cells)


def _tie(flat: np.ndarray, cells: np.ndarray, pivot: int, residue: int, info) -> None:
    """Change ``flat[:, pivot]`` so that the sum over ``cells`` is ``residue`` modulo the
    count, for every batch entry and channel (within the dtype's range)."""
    count = cells.size
    total = flat[:, cells].astype(np.int64).sum(axis=1)
    step = (residue - total) % count
    up = flat[:, pivot].astype(np.int64) + step
    new = np.where(up <= info.max, up, up - count)
    flat[:, pivot] = np.where(new >= info.min, new, flat[:, pivot])
