"""The corner classes of the oracle's cases: special values, where they go, what a case holds.

>>> x = np.float32([[[np.nan], [-0.0], [1.0]]])
>>> special_classes(Case("max_pool1d", x, {"pool_size": 2}))
['nan', '-0.0']

Special-value corners put NaN / inf into one window (first, middle or last real cell, or
the whole window), fill the input with ties (of ``±0.0``), the largest finite values,
subnormals, or for integers the dtype's limits and values beyond ``2**24``; average
pooling gradients get theirs in ``grad_out`` (``x`` does not matter to them). Size corners
("channels 9", "rows 17", "batch 5", ...) straddle SIMD packets and tiles; their values
rise (or fall) in row-major order, so that each window's maximum sits in its last (first)
cell. :func:`corner_of` names what a (shrunk) case still holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._case import Case, geometry, window_cells
from ._draw import Element, Pool, Source
from ._supports import Supports
from .dtypes import finfo, is_float_dtype
from .ops import OpSpec

__all__ = ["CORNERS", "FLOAT_CORNERS", "INT_CORNERS", "TILE_CORNERS", "Corners", "Spot",
           "corner_elements", "corner_of", "ramp", "special_classes", "spot"]

#: Special-value corners of float inputs, cycled through on every other case.
FLOAT_CORNERS = (
    "nan first", "nan middle", "nan last", "-inf first", "+inf middle", "-inf last",
    "all-nan window", "all--inf window", "signed-zero ties", "ties", "largest finite",
    "subnormal",
)
#: Special-value corners of integer inputs.
INT_CORNERS = ("int limits", "beyond 2**24", "ties", "int limits", "beyond 2**24")
#: Size corners (every tenth case): "<what> <size>".
TILE_CORNERS = ("channels 9", "rows 17", "batch 5", "channels 17", "rows 33",
                "channels 5", "batch 9", "rows 65", "channels 33")
CORNERS = FLOAT_CORNERS + INT_CORNERS + TILE_CORNERS

#: Special-value corners that go into ``grad_out`` for average pooling gradients.
_GRAD_OUT_CORNERS = ("nan first", "nan middle", "nan last", "-inf first", "+inf middle",
                     "-inf last", "signed-zero ties", "ties")
#: The class (:func:`special_classes`) a special-value corner puts into a case.
_CLASS = {"nan": "nan", "-inf": "-inf", "+inf": "+inf", "all-nan": "nan",
          "all--inf": "-inf", "signed-zero": "-0.0", "largest": "largest finite",
          "subnormal": "subnormal", "int": "int limits", "beyond": "beyond 2**24"}
#: Which supports= key fixes the size a size corner sets.
_TILE_KEY = {"channels": "channels", "batch": "batch", "rows": "spatial"}


# ----------------------------------------------------------------------------- which corners


@dataclass(frozen=True)
class Corners:
    """Which special-value corners an op's cases get, and where they go (an op table
    field, :attr:`pooling_ref.ops.OpSpec.corners`).

    >>> Corners(largest_finite=("float32",)).applies("largest finite", np.dtype("float16"))
    False

    ``into``: the array the special values go into (``"grad_out"``: an average pooling
    gradient, which ``x`` does not affect; it gets the NaN / inf and tie corners only);
    ``largest_finite``: the dtypes that get the largest finite values (``None``: all; sums
    of them overflow, and only float32/64 define which way, as TF); ``subnormal``: whether
    subnormal inputs are drawn; ``plain_ties``: half the plain float cases hold integers
    -2..2, full of ties (max pooling gradients: ties decide where the gradient goes);
    ``own``: the op's own special-value corners instead of these (its entry's ``fill``
    draws their values: the LiteRT quantized ops' rounding ties, dtype limits, ...).
    """

    into: str = "x"
    largest_finite: tuple[str, ...] | None = None
    subnormal: bool = True
    plain_ties: bool = False
    own: tuple[str, ...] = ()

    def applies(self, corner: str, dtype: np.dtype) -> bool:
        if self.into == "grad_out":
            return corner in _GRAD_OUT_CORNERS
        if corner == "largest finite" and self.largest_finite is not None:
            return dtype.name in self.largest_finite
        return self.subnormal or corner != "subnormal"


def special_corners(dtype: np.dtype, op: OpSpec) -> tuple[str, ...]:
    """The special-value corners drawn for ``op`` in ``dtype``, in round-robin order."""
    if op.corners.own:
        return op.corners.own
    corners = FLOAT_CORNERS if is_float_dtype(dtype) else INT_CORNERS
    return tuple(c for c in corners if op.corners.applies(c, dtype))


def tile_corners(sup: Supports) -> tuple[str, ...]:
    """The size corners ``sup`` leaves possible (a restricted size has no corner)."""
    return tuple(c for c in TILE_CORNERS if not sup.restricted(_TILE_KEY[c.split()[0]]))


# ----------------------------------------------------------------------------- placing them


def corner_elements(src: Source, s: OpSpec, dtype: np.dtype, corner: str, plain: Element
                    ) -> dict[str, Element]:
    """The arrays whose every cell ``corner`` draws, and what from (``plain``: what ``x``
    is drawn from otherwise): ties, signed zeros, subnormals, integer limits or values
    beyond ``2**24``; in ``grad_out`` for average pooling gradients, else in ``x``."""
    wide = src.boolean(0.5)               # drawn for every corner: the draws stay aligned
    if s.corners.into == "grad_out":
        pools = {"ties": (0.0, 1.0, -1.0, 2.0, -2.0), "signed-zero ties": (0.0, -0.0, -1.0)}
        return {"grad_out": Pool(pools[corner])} if corner in pools else {}
    if corner == "ties":          # mostly equal maxima: a window's maximum in several cells
        low = 0.0 if dtype.kind == "u" else -1.0
        return {"x": Pool((1.0, 0.0, low), (0.6, 0.2, 0.2))}
    if corner == "signed-zero ties":
        return {"x": Pool((0.0, -0.0, -1.0), (0.45, 0.45, 0.1))}
    if corner == "subnormal":
        tiny = float(finfo(dtype).smallest_subnormal)
        magnitudes = tuple(k * tiny for k in range(1, 8))
        return {"x": Pool(magnitudes + tuple(-m for m in magnitudes),
                          (0.1,) * 7 + (0.3 / 7,) * 7)}
    if corner == "int limits":    # half the cells plain, half at or next to the limits
        info = np.iinfo(dtype)
        ints = sorted(range(plain.lo, plain.hi + 1), key=abs)
        limits = (info.min, info.max, info.min + 1, info.max - 1, 0)
        return {"x": Pool((*ints, *limits), (0.5 / len(ints),) * len(ints) + (0.1,) * 5)}
    if corner == "beyond 2**24":
        hi = int(np.iinfo(dtype).max)
        near = (hi, hi - 1, hi - 2) if hi <= 2**24 else tuple(2**24 + k for k in range(4))
        if wide and hi >= 2**40:
            near = tuple(v * 4096 + j for v in near for j in range(3))
        return {"x": Pool(near)}
    return {}


@dataclass
class Spot:
    """Where one special value goes: ``case.params[name]`` (or ``x``) at ``index``."""

    name: str
    index: tuple
    value: float

    def put(self, case: Case) -> None:
        case.arrays[self.name][self.index] = self.value


def spot(src: Source, case: Case, corner: str) -> Spot | None:
    """Where ``corner`` puts its value (``case``'s arrays need only their shapes): NaN /
    inf at the first, middle or last real cell of one window or in every cell of it, or
    the largest finite value in every cell; in one batch entry and one or every channel.
    Average pooling gradients: one cell of ``grad_out``. ``None`` for corners that fill
    whole arrays (:func:`corner_elements`) and windows without a real cell. The choices
    are drawn whatever the corner, so that the draws after them stay aligned."""
    x = case.x
    batch = src.integer(0, max(x.shape[0], 1) - 1)
    one_channel = src.integer(0, max(x.shape[case.channel_axis], 1) - 1)
    chans = slice(None) if src.boolean(0.5) else slice(one_channel, one_channel + 1)
    g = geometry(case)
    out = tuple(src.integer(0, max(o, 1) - 1) for o in g.out_spatial) if g else (0,) * case.rank
    negative = src.boolean(0.5)
    what, _, where = corner.rpartition(" ")
    if case.spec.corners.into == "grad_out":
        upstream = case.params["grad_out"]
        if what not in _VALUE or upstream.size == 0:
            return None
        at = {"first": 0, "middle": upstream.size // 2, "last": upstream.size - 1}[where]
        return Spot("grad_out", np.unravel_index(at, upstream.shape), _VALUE[what])
    if not (what in _VALUE or corner.startswith("all-") or corner == "largest finite"):
        return None
    cells = window_cells(case, out)
    if x.size == 0 or any(not c for c in cells):
        return None
    if what in _VALUE:
        pick = {"first": 0, "middle": None, "last": -1}[where]
        pos = tuple(c[len(c) // 2] if pick is None else c[pick] for c in cells)
        value = _VALUE[what]
    else:
        big = float(finfo(x.dtype).max)
        value = {"all-nan window": np.nan, "all--inf window": -np.inf}.get(
            corner, -big if negative else big)
        pos = np.ix_(*cells)
    return Spot("x", (batch, chans, *pos) if case.channels_first else (batch, *pos, chans),
                value)


_VALUE = {"nan": np.nan, "-inf": -np.inf, "+inf": np.inf}


def ramp(case: Case, rising: bool) -> None:
    """Values rising (or falling) in row-major order of the spatial positions, in place:
    the maximum of every window sits in its last (first) real cell, so a tile remainder
    that drops a window cell shows."""
    x = case.x
    spatial = case.spatial
    order = np.arange(int(np.prod(spatial)), dtype=np.float64).reshape(spatial)
    if not rising:
        order = order[(slice(None, None, -1),) * len(spatial)]
    order = order[None, None] if case.channels_first else order[None, ..., None]
    if is_float_dtype(x.dtype):
        # exact integers whose window sums cannot overflow (float16: below 512, wrapping)
        fi = finfo(x.dtype)
        order = order % min(2.0 ** (fi.nmant + 1), float(fi.max) / 128)
        values = x.astype(np.float64) * 0.01 + order
    else:
        info = np.iinfo(x.dtype)
        values = np.clip(order + x.astype(np.float64) % 2, info.min, info.max)
    x[...] = values.astype(x.dtype)


# ----------------------------------------------------------------------------- what a case holds


def special_classes(case: Case) -> list[str]:
    """The special-value classes the arrays of ``case`` actually hold, in a fixed order:
    ``nan``, ``+inf``, ``-inf``, ``-0.0``, ``largest finite``, ``subnormal`` (floats);
    ``int limits`` (the dtype's minimum or maximum), ``beyond 2**24`` (integers).

    >>> special_classes(Case("max_pool1d", np.int32([[[2**31 - 1], [2**24 + 1]]]),
    ...                      {"pool_size": 1}))
    ['int limits', 'beyond 2**24']
    """
    found: set[str] = set()
    for a in case.arrays.values():
        if is_float_dtype(a.dtype):
            f = a.astype(np.float64)
            fi = finfo(a.dtype)
            tests = {"nan": np.isnan(f), "+inf": np.isposinf(f), "-inf": np.isneginf(f),
                     "-0.0": (f == 0) & np.signbit(f),
                     "largest finite": np.abs(f) == float(fi.max),
                     "subnormal": (f != 0) & (np.abs(f) < float(fi.tiny))}
        else:
            info = np.iinfo(a.dtype)
            tests = {"int limits": (a == info.min) | (a == info.max),
                     "beyond 2**24": np.abs(a.astype(np.float64)) > 2**24}
        found |= {name for name, hit in tests.items() if hit.any()}
    order = ("nan", "+inf", "-inf", "-0.0", "largest finite", "subnormal", "int limits",
             "beyond 2**24")
    return [c for c in order if c in found]


def corner_of(case: Case) -> str:
    """``case.corner`` while ``case`` still holds what that corner drew, else the special
    classes it does hold (``""``: none) — the label of a case after shrinking.

    >>> x = np.float32([[[1.0], [2.0]]])
    >>> corner_of(Case("max_pool1d", x, {"pool_size": 2}, corner="nan middle"))
    ''
    >>> x[0, 1, 0] = -np.inf
    >>> corner_of(Case("max_pool1d", x, {"pool_size": 2}, corner="nan middle"))
    '-inf'
    """
    corner, classes = case.corner, special_classes(case)
    kind, _, size = corner.partition(" ")
    if kind in _TILE_KEY:
        holds = int(size) in _sizes_of(case)[kind]
    elif corner == "ties":
        holds = any(np.unique(a).size < a.size for a in case.arrays.values())
    elif corner in case.spec.corners.own:         # the op's own: drawn into the values
        holds = True
    else:
        holds = corner == "" or _CLASS.get(kind) in classes
    return corner if holds else ", ".join(classes)


def _sizes_of(case: Case) -> dict[str, tuple[int, ...]]:
    g = geometry(case)
    rows = case.spatial[-1:] + (g.out_spatial[-1:] if g is not None else ())
    channels = (case.x.shape[case.channel_axis],)
    if "kernel" in case.params:
        channels += (case.params["kernel"].shape[-1],)
    return {"channels": channels, "batch": (case.x.shape[0],), "rows": rows}
