"""Hypothesis strategies for pooling configurations (max / average / global pooling).

>>> from hypothesis import given
>>> @given(pool_cases(ranks=(2,)))
... def test_something(case):
...     x, params = case.x, case.params      # params: pool_size, strides?, padding?, data_format?

Pooling only; convolution has its own strategies. Design goals, in order:

* **Reach the corners** where implementations go wrong. Each spatial axis independently
  picks a *shape mode* (label ``axis{i}_mode``):

  - ``"window_is_input"``: ``n == pool_size`` (one window covering the whole axis);
  - ``"odd_same_pad"`` / ``"even_same_pad"``: ``n``, window and stride chosen so the total
    "same" padding ``max((ceil(n/s)-1)*s + k - n, 0)`` is odd (the odd cell goes *after*) or
    even and > 0 (only meaningful with ``padding="same"``; with "valid" they are just shapes);
  - ``"stride_gt_window"``: stride strictly larger than the window (cells skipped);
  - ``"size1"``: a size-1 axis (window 1, or window > 1 with "same" padding);
  - ``"free"``: anything within the size limits.

  Strides are omitted (``strides`` key absent), ``None``, an int or a tuple; ``pool_size`` is
  an int when all axes agree (sometimes) or a tuple; ``padding`` and ``data_format`` are
  sometimes omitted so the defaults (``"valid"``, ``"channels_last"``) are exercised, and
  ``padding`` is sometimes upper/mixed case (Keras lower-cases it).
* **Stay small** so each Keras call is ~2 ms: spatial sizes <= 12 (1D), <= 9 (2D), <= 6 (3D);
  windows <= 4 (1D/2D) or <= 3 (3D); batch 1..3 or, about one draw in ten, 0 (empty), channels 1..3.
* **Values that expose semantics** (label ``values``):

  - ``"normal"``: standard normal (the default weight);
  - ``"ties"``: drawn from ``{-2, -1, -0., +0., 1, 2}``; equal maxima are frequent, so the
    "first maximum wins" rule (visible through ``-0.`` vs ``+0.``) and the exact summation
    order of averages are exercised;
  - ``"negative"``: every value < 0, so a max pool that pads with zeros instead of ignoring
    padded cells gives a visible 0;
  - ``"scales"``: normal values times ``10**e`` with ``e`` in [-4, 4] per cell, so averages
    computed in another order than row-major lose bits (catches reordered sums).

  Integer dtypes draw small integers (with ``iinfo.min`` sometimes, the "lowest" sentinel).

The input never has a "valid" window larger than it (that is a separate, explicit error
test) and never has an empty spatial axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

__all__ = [
    "DATA_FORMATS",
    "MAX_SPATIAL",
    "MAX_WINDOW",
    "VALUE_KINDS",
    "PoolCase",
    "array_values",
    "global_pool_cases",
    "pool_cases",
    "same_total_pad",
    "spatial_cells",
]

#: Largest spatial size per axis, by spatial rank (keeps Keras calls fast).
MAX_SPATIAL = {1: 12, 2: 9, 3: 6}
#: Largest window per axis, by spatial rank.
MAX_WINDOW = {1: 4, 2: 4, 3: 3}
DATA_FORMATS = ("channels_last", "channels_first")
VALUE_KINDS = ("normal", "ties", "negative", "scales")
AXIS_MODES = ("free", "window_is_input", "odd_same_pad", "even_same_pad", "stride_gt_window",
              "size1")
_TIE_VALUES = np.array([-2.0, -1.0, -0.0, 0.0, 1.0, 2.0])


def same_total_pad(n: int, k: int, s: int) -> int:
    """Total "same" padding of one axis (hand formula, independent of ``pooling_ref``).

    >>> same_total_pad(5, 4, 1), same_total_pad(4, 3, 2)
    (3, 1)
    """
    out = -(-n // s)
    return max((out - 1) * s + k - n, 0)


@dataclass(frozen=True)
class PoolCase:
    """One pooling call: ``x`` and the keyword ``params`` (names exactly as the public API).

    ``params`` always has ``pool_size``; ``strides``, ``padding`` and ``data_format`` are
    present only when drawn (absent = the default). ``values`` names the value kind drawn.
    """

    x: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)
    values: str = "normal"

    @property
    def rank(self) -> int:
        return self.x.ndim - 2

    @property
    def data_format(self) -> str:
        return self.params.get("data_format", "channels_last")

    @property
    def padding(self) -> str:
        return self.params.get("padding", "valid").lower()

    def __repr__(self) -> str:  # short: Hypothesis prints it on failure
        return (f"PoolCase(x.shape={self.x.shape}, dtype={self.x.dtype.name}, "
                f"values={self.values!r}, params={self.params!r})")


def array_values(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype,
                 kind: str) -> np.ndarray:
    """An array of ``shape``/``dtype`` filled according to ``kind`` (see module docstring).

    >>> a = array_values(np.random.default_rng(0), (2, 3), np.dtype("float32"), "negative")
    >>> bool((a < 0).all()), a.dtype.name
    (True, 'float32')
    """
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if kind == "negative":
            a = rng.integers(-6, 0, size=shape)
        elif kind == "ties":
            a = rng.integers(-2, 3, size=shape)
        else:
            a = rng.integers(-100, 101, size=shape)
        a = a.astype(dtype)
        if a.size and kind in ("scales", "negative") and rng.random() < 0.5:
            a.flat[rng.integers(0, a.size)] = info.min          # the "lowest" sentinel value
        return a
    if kind == "ties":
        a = _TIE_VALUES[rng.integers(0, _TIE_VALUES.size, size=shape)]
    elif kind == "negative":
        a = -np.abs(rng.standard_normal(shape)) - 0.25
    elif kind == "scales":
        a = rng.standard_normal(shape) * 10.0 ** rng.integers(-4, 5, size=shape)
    else:
        a = rng.standard_normal(shape)
    return a.astype(dtype)


def _axis(draw, i: int, rank: int, padding: str) -> tuple[int, int, int]:
    """Draw ``(n, window, stride)`` for spatial axis ``i`` in one of :data:`AXIS_MODES`."""
    nmax, kmax = MAX_SPATIAL[rank], MAX_WINDOW[rank]
    mode = draw(st.sampled_from(AXIS_MODES), label=f"axis{i}_mode")
    if mode == "window_is_input":
        k = draw(st.integers(1, kmax), label=f"axis{i}_window")
        s = draw(st.integers(1, kmax + 2), label=f"axis{i}_stride")
        return k, k, s
    if mode == "size1":
        k = 1 if padding == "valid" else draw(st.integers(1, kmax), label=f"axis{i}_window")
        s = draw(st.integers(1, 3), label=f"axis{i}_stride")
        return 1, k, s
    if mode == "stride_gt_window":
        k = draw(st.integers(1, kmax - 1), label=f"axis{i}_window")
        s = draw(st.integers(k + 1, kmax + 2), label=f"axis{i}_stride")
        n = draw(st.integers(k, nmax), label=f"axis{i}_n")
        return n, k, s
    if mode in ("odd_same_pad", "even_same_pad"):
        want_odd = mode == "odd_same_pad"
        options = [(n, k, s) for k in range(2, kmax + 1) for s in range(1, kmax + 2)
                   for n in range(k, nmax + 1)
                   if (t := same_total_pad(n, k, s)) > 0 and (t % 2 == 1) == want_odd]
        return draw(st.sampled_from(options), label=f"axis{i}_n_window_stride")
    k = draw(st.integers(1, kmax), label=f"axis{i}_window")
    s = draw(st.integers(1, kmax + 1), label=f"axis{i}_stride")
    n = draw(st.integers(k if padding == "valid" else 1, nmax), label=f"axis{i}_n")
    return n, k, s


def _batch(draw, allow_empty: bool) -> int:
    """1..3, and 0 (an empty batch) about one draw in ten when allowed."""
    if allow_empty and draw(st.integers(0, 9), label="empty_batch_roll") == 9:
        return 0
    return draw(st.integers(1, 3), label="batch")


def _int_or_tuple(draw, values: tuple[int, ...], name: str) -> int | tuple[int, ...]:
    if len(set(values)) == 1 and draw(st.booleans(), label=f"{name}_as_int"):
        return values[0]
    return values


@st.composite
def pool_cases(
    draw,
    ranks: tuple[int, ...] = (1, 2, 3),
    dtypes: tuple[str, ...] = ("float32",),
    value_kinds: tuple[str, ...] = VALUE_KINDS,
    data_formats: tuple[str, ...] = DATA_FORMATS,
    allow_empty_batch: bool = True,
) -> PoolCase:
    """A :class:`PoolCase` for ``max_pool`` / ``avg_pool`` (see module docstring).

    ``ranks``, ``dtypes``, ``value_kinds`` and ``data_formats`` restrict the draw (e.g.
    ``ranks=(1, 2)`` for float16/float64, which TF has no 3D CPU kernel for).
    """
    rank = draw(st.sampled_from(ranks), label="rank")
    dtype = np.dtype(draw(st.sampled_from(dtypes), label="dtype"))
    padding_choice = draw(st.sampled_from(["<omitted>", "valid", "same", "SAME", "Valid"]),
                          label="padding")
    padding = "valid" if padding_choice == "<omitted>" else padding_choice.lower()
    axes = [_axis(draw, i, rank, padding) for i in range(rank)]
    spatial = tuple(a[0] for a in axes)
    window = tuple(a[1] for a in axes)
    stride = tuple(a[2] for a in axes)

    params: dict[str, Any] = {"pool_size": _int_or_tuple(draw, window, "pool_size")}
    strides_form = draw(st.sampled_from(["<omitted>", "None", "given"]), label="strides_form")
    if strides_form == "None":
        params["strides"] = None
    elif strides_form == "given":
        params["strides"] = _int_or_tuple(draw, stride, "strides")
    # strides omitted/None means strides == pool_size; "same" padding stays valid for it.
    if padding_choice != "<omitted>":
        params["padding"] = padding_choice
    fmt = draw(st.sampled_from(["<omitted>", *data_formats]), label="data_format")
    if fmt != "<omitted>":
        params["data_format"] = fmt
    else:
        fmt = "channels_last"
    if fmt not in data_formats:          # "<omitted>" is channels_last; respect a restriction
        params["data_format"] = fmt = data_formats[0]

    return _case_with_values(draw, params, fmt, spatial, dtype, value_kinds,
                             allow_empty_batch)


def _case_with_values(draw, params: dict, fmt: str, spatial: tuple[int, ...],
                      dtype: np.dtype, value_kinds: tuple[str, ...],
                      allow_empty_batch: bool) -> PoolCase:
    """Draw batch, channels and values for ``spatial`` in layout ``fmt``; build the case."""
    batch = _batch(draw, allow_empty_batch)
    channels = draw(st.integers(1, 3), label="channels")
    shape = ((batch, channels, *spatial) if fmt == "channels_first"
             else (batch, *spatial, channels))
    kind = draw(st.sampled_from(value_kinds), label="values")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    x = array_values(np.random.default_rng(seed), shape, dtype, kind)
    return PoolCase(x, params, kind)


@st.composite
def global_pool_cases(
    draw,
    ranks: tuple[int, ...] = (1, 2, 3),
    dtypes: tuple[str, ...] = ("float32",),
    value_kinds: tuple[str, ...] = VALUE_KINDS,
    allow_empty_batch: bool = True,
) -> PoolCase:
    """A :class:`PoolCase` for ``global_max_pool`` / ``global_avg_pool``.

    ``params`` holds ``data_format`` and ``keepdims`` (each sometimes omitted).
    """
    rank = draw(st.sampled_from(ranks), label="rank")
    dtype = np.dtype(draw(st.sampled_from(dtypes), label="dtype"))
    spatial = tuple(draw(st.integers(1, MAX_SPATIAL[rank]), label=f"axis{i}_n")
                    for i in range(rank))
    params: dict[str, Any] = {}
    fmt = draw(st.sampled_from(["<omitted>", *DATA_FORMATS]), label="data_format")
    if fmt != "<omitted>":
        params["data_format"] = fmt
    keep = draw(st.sampled_from(["<omitted>", False, True]), label="keepdims")
    if keep != "<omitted>":
        params["keepdims"] = keep
    return _case_with_values(draw, params, fmt, spatial, dtype, value_kinds,
                             allow_empty_batch)


def spatial_cells(case: PoolCase) -> int:
    """Number of spatial cells of ``case.x`` (the terms of a global average)."""
    fmt = case.params.get("data_format", "channels_last")
    spatial = case.x.shape[2:] if fmt == "channels_first" else case.x.shape[1:-1]
    return math.prod(spatial)
