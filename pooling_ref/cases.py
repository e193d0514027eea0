"""Random cases that reach the corners where pooling/conv implementations err.

Used by :func:`pooling_ref.check` (the oracle), :mod:`pooling_ref.strategies` and
``pooling-ref verify``. NumPy only.

>>> cs = generate_cases("max_pool2d", 3, seed=0)
>>> [c.op for c in cs], cs[0].x.dtype.name
(['max_pool2d', 'max_pool2d', 'max_pool2d'], 'float32')

Each :class:`Case` holds the input ``x`` and the keyword arguments the op is called with
(``params``; for convolution these include the ``kernel`` and ``bias`` arrays, for
gradient ops ``grad_out``), and ``corner``: the value / size class it was drawn for.
Corners drawn on purpose:

* geometry: ``"same"`` padding with odd and even total padding, windows equal to and
  larger than the input, strides omitted / smaller / equal / larger than the window,
  non-square windows and strides, both data formats (and the format omitted), size-1
  axes; convolution: dilation, groups (including depthwise), bias present or omitted;
  zero padding: an int, one int per axis, or asymmetric ``(before, after)`` pairs;
* special values (every other case): NaN, +inf or -inf placed at the first, the middle or
  the last real cell of one window; windows of only NaN or only -inf; ties of equal
  values and of ``-0.0`` / ``+0.0``; the largest finite values (sums overflow);
  subnormals; for integer dtypes the dtype's limits and values beyond ``2**24`` (which a
  float32 conversion cannot tell apart);
* sizes that straddle SIMD packets and tiles (every tenth case, nearly always "valid"):
  channels, filters and batch just past a multiple of 4, 8 and 16 (5, 9, 17, 33), output
  rows of 17, 33 or 65, with values rising (rows; channels and batch alternately falling)
  in row-major order, so that each window's maximum sits in its last (first) cell.

A case is described once (:func:`build_case`), against the draw interface of
:mod:`pooling_ref._draw`: :func:`generate_cases` feeds it from ``numpy.random`` (the first
cases are the smallest, sizes grow with the case index, the corners come round in turn),
:func:`pooling_ref.strategies.cases` from Hypothesis (which then shrinks a failure along
the same decisions: smaller sizes, "valid", channels last, no special values).
``supports`` (a dict from a parameter or size name to the values a candidate implements)
restricts every draw; see :class:`Supports`.
"""

from __future__ import annotations

import numpy as np

from ._case import Case, forward_case, geometry, window_cells
from ._draw import Element, Ints, Normal, NumpySource, Source
from ._params import draft, limit
from ._special import (
    CORNERS,
    TILE_CORNERS,
    corner_elements,
    corner_of,
    ramp,
    special_classes,
    special_corners,
    spot,
    tile_corners,
)
from ._supports import Supports
from .dtypes import is_float_dtype
from .ops import OpSpec, all_ops, forward_of, is_gradient, resolve, spec

__all__ = [
    "CORNERS",
    "OPS",  # noqa: F822 (module __getattr__: the op table, read when asked)
    "Case",
    "Supports",
    "any_case",
    "build_case",
    "check_dtype",
    "corner_of",
    "draw_case",
    "forward_case",
    "generate_cases",
    "geometry",
    "special_classes",
    "window_cells",
]

FLOAT_DTYPES = ("float16", "float32", "float64", "bfloat16")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
#: The largest case index whose sizes :func:`pooling_ref.strategies.cases` reaches.
LAST_INDEX = 99


def __getattr__(name: str):
    if name == "OPS":                   # the op table, read when asked
        return all_ops()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ----------------------------------------------------------------------------- dtypes


def check_dtype(dtype: object, op: str | None = None) -> np.dtype:
    """The dtype named by ``dtype`` if ``op`` accepts it, else ``ValueError``; ``None``:
    the op's default (float32, or the first of its entry's ``dtypes``).

    >>> check_dtype("int32", "max_pool1d").name, check_dtype(None, "max_pool1d").name
    ('int32', 'float32')
    """
    s = spec(resolve(op, dtype)) if op is not None else None
    if dtype is None:
        dtype = s.default_dtype if s is not None else "float32"
    if s is not None and s.dtypes:
        valid = s.dtypes
    else:
        valid = FLOAT_DTYPES + (INT_DTYPES if s is None or s.int_dtypes else ())
    try:
        name = "bfloat16" if dtype == "bfloat16" else np.dtype(dtype).name  # type: ignore
    except TypeError:
        name = repr(dtype)
    if name not in valid:
        where = f" for {op}" if op else ""
        raise ValueError(f"dtype must be one of {', '.join(valid)}{where}; got {dtype!r}")
    if name == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:
            raise ValueError("dtype 'bfloat16' needs the ml_dtypes package "
                             "(pip install ml_dtypes)") from None
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


# ----------------------------------------------------------------------------- one case


def build_case(src: Source, op: str, dtype: np.dtype, sup: Supports, corner: str,
               limit: int, *, rising: bool = True, special_values: bool = True) -> Case:
    """A case of ``op`` for ``corner`` with spatial sizes up to about ``limit``, drawn
    from ``src`` inside ``sup`` (``ValueError`` when ``sup`` leaves nothing to draw).
    ``rising``: a size corner's values rise (else fall, except along rows) in row-major
    order; ``special_values=False``: a special-value corner's sizes without its values.

    >>> from pooling_ref._draw import NumpySource
    >>> src = NumpySource(np.random.default_rng(1))
    >>> c = build_case(src, "avg_pool1d", np.dtype("float32"), Supports("avg_pool1d"),
    ...                "nan first", 3)
    >>> int(np.isnan(c.x).sum()) >= 1, c.corner
    (True, 'nan first')

    Every decision about the case's structure (sizes, parameters, what the cells are drawn
    from, where a special value goes) is drawn before any cell value, so that Hypothesis
    can shrink the structure without disturbing the draws behind it.
    """
    s = spec(op)
    case = _skeleton(src, s, dtype, sup, corner, limit)
    if s.fill is not None and corner not in TILE_CORNERS:     # the op's own corners
        s.fill(src, case, corner if special_values else "")
        return case
    special = special_values and corner in CORNERS and corner not in TILE_CORNERS
    elements = _elements(src, s, dtype, corner if special else "")
    where = spot(src, case, corner if special else "")
    for name, a in case.arrays.items():
        a[...] = src.values(a.shape, dtype, elements[name])
    if where is not None:
        where.put(case)
    if corner in TILE_CORNERS:
        ramp(case, rising or corner.startswith("rows"))
    elif not special:
        case.corner = ""
    return case


def _skeleton(src: Source, s: OpSpec, dtype: np.dtype, sup: Supports, corner: str,
              limit: int) -> Case:
    """A case with every size and parameter drawn, its arrays still zeros."""
    for _attempt in range(60):
        d = draft(src, s, sup, corner, limit)
        if d is None:
            continue
        cf = s.channels_first or d.params.get("data_format") == "channels_first"
        layout = (d.n, d.c, *d.spatial) if cf else (d.n, *d.spatial, d.c)
        x = np.zeros(layout, dtype)
        params = {k: np.zeros(shape, dtype) for k, shape in d.shapes.items()}
        params.update(d.params)
        case = Case(s.name, x, params, corner)
        if is_gradient(s):
            fwd = forward_of(s)
            try:
                out = fwd.run_reference({"x": x, **{k: params[k] for k in d.shapes}}, d.params)
            except ValueError:
                continue
            params["grad_out"] = np.zeros(np.shape(out), dtype)
        if sup.admits(case) and (not sup.allowed or case.valid()):
            return case
    raise ValueError(f"supports={sup.given!r} leaves nothing to draw for {s.name}")


def _elements(src: Source, s: OpSpec, dtype: np.dtype, corner: str) -> dict[str, Element]:
    """What the cells of each array are drawn from: ``x`` small integers for integer
    dtypes, else mixed, negative, positive or integer-valued floats (max pooling
    gradients' plain cases: in half of them integers -2..2, full of ties, which decide
    where the gradient goes); the other arrays alike; then what ``corner`` changes."""
    if not is_float_dtype(dtype):
        info = np.iinfo(dtype)
        x: Element = Ints(max(int(info.min), -50), min(int(info.max), 50))
    else:
        mode = src.choice(["mixed", "negative", "positive", "ints"], [0.4, 0.3, 0.1, 0.2])
        x = Ints(-4, 4) if mode == "ints" else Normal(mode)
        if src.boolean(0.5) and s.corners.plain_ties and not corner:
            x = Ints(-2, 2)
    other = x if x == Ints(-4, 4) else Normal()
    elements = {"x": x, "kernel": other, "bias": other, "grad_out": Normal()}
    return {**elements, **corner_elements(src, s, dtype, corner, x)}


# ----------------------------------------------------------------------------- many cases


def _corner(index: int, offset: int, dtype: np.dtype, op: OpSpec, sup: Supports) -> str:
    """The corner class of case ``index``: plain, a special-value or a size class."""
    if index % 10 == 9:
        tiles = tile_corners(sup)
        return tiles[(index // 10) % len(tiles)] if tiles else ""
    if index % 2 == 0 or index < 3:
        return ""
    corners = special_corners(dtype, op)
    slot = sum(1 for j in range(3, index) if j % 2 and j % 10 != 9)   # special cases before
    return corners[(offset + slot) % len(corners)]                     # round robin


def generate_cases(op: str, n: int, seed: int = 0, dtype: object = None,
                   supports: dict | Supports | None = None, *,
                   special_values: bool = True) -> list[Case]:
    """``n`` cases for ``op`` drawn from ``np.random.default_rng(seed)``, smallest first.

    >>> a, b = generate_cases("conv1d", 5, seed=3), generate_cases("conv1d", 5, seed=3)
    >>> all(p.x.tobytes() == q.x.tobytes() and p.describe() == q.describe() for p, q in zip(a, b))
    True

    ``dtype``: ``None`` is the op's default (:func:`check_dtype`). ``supports`` (see
    :class:`Supports`) restricts what is drawn; ``ValueError`` when it leaves nothing to
    draw. ``special_values=False`` keeps the size corners but draws no
    special values (``pooling-ref verify`` uses that: TF's kernel paths differ there).
    """
    op = resolve(op, dtype)
    dt = check_dtype(dtype, op)
    sup = supports if isinstance(supports, Supports) else Supports(op, supports)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(64)
    return [draw_case(rng, op, i, dt, sup, perm, special_values) for i in range(n)]


def draw_case(rng: np.random.Generator, op: str, index: int, dtype: np.dtype,
              sup: Supports, perm: np.ndarray, special_values: bool = True) -> Case:
    """Case number ``index`` of ``op`` (its size and corner class depend on ``index``;
    ``perm[0]`` is where the special-value round robin starts)."""
    s = spec(op)
    corner = _corner(index, int(perm[0]), dtype, s, sup)
    return build_case(NumpySource(rng), op, dtype, sup, corner, limit(index, s.rank),
                      rising=(index // 10) % 2 == 0, special_values=special_values)


def any_case(src: Source, op: str, dtype: np.dtype, sup: Supports) -> Case:
    """A case of any size and corner class (what :func:`pooling_ref.strategies.cases`
    draws): plain, a special-value class or a size class, the simplest first. Every
    choice is drawn whichever class wins, so that the draws after them stay aligned
    when Hypothesis shrinks the class."""
    s = spec(op)
    kind = src.choice(["plain", "special", "size"])
    special = src.choice(special_corners(dtype, s))
    sizes = tile_corners(sup) or ("",)
    what = src.choice(sorted({c.split(" ")[0] for c in sizes}))
    size = src.choice(sorted((c for c in sizes if c.startswith(what)),
                             key=lambda c: int(c.split()[1]) if c else 0))
    rising = src.boolean(0.5)
    corner = {"plain": "", "special": special, "size": size}[kind]
    return build_case(src, op, dtype, sup, corner, limit(LAST_INDEX, s.rank), rising=rising)
