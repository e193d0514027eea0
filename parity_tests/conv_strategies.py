"""Hypothesis strategies for convolution and zero-padding configurations.

>>> from hypothesis import given
>>> @given(conv_cases(rank=2))
... def test(case):
...     assert case.x.ndim == 4 and case.kernel.ndim == 4
>>> test()

Structure (ranks, sizes, kernel, strides, dilation, groups, formats, which keyword arguments
are passed at all) is drawn by Hypothesis, so it shrinks; array *values* come from a NumPy
generator seeded by a drawn integer, which keeps 3D cases cheap to draw. The arrays are
embedded bit-exactly in every failure message (``parity_tests._assert``), so a failure is
reproducible without the seed.

Corners reached on purpose: "valid" and "same" (odd and even total padding), strides below,
equal to and above the kernel, dilation (never with strides > 1: Keras forbids it), groups
1, > 1 and depthwise (``groups == C_in``, with a depth multiplier), non-square kernels,
1x1 kernels, kernels as large as the (dilated) input, both data formats, bias or ``None``,
``C_in != filters``, batch > 1, and each optional argument given as an int, as a tuple, or
not given at all (so the defaults are exercised).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

__all__ = ["ConvCase", "ZeroPadCase", "conv_cases", "zero_pad_cases"]

#: Largest spatial length drawn per rank (kept small: Keras/XLA compiles per call).
MAX_SIZE = {1: 9, 2: 7, 3: 5}
MAX_KERNEL = {1: 5, 2: 4, 3: 3}


@dataclass
class ConvCase:
    """One convolution configuration: arrays plus the keyword arguments actually passed."""

    x: np.ndarray
    kernel: np.ndarray
    bias: np.ndarray | None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def rank(self) -> int:
        return self.x.ndim - 2

    @property
    def arrays(self) -> dict[str, np.ndarray | None]:
        return {"x": self.x, "kernel": self.kernel, "bias": self.bias}


@dataclass
class ZeroPadCase:
    """One zero-padding configuration: the input and the keyword arguments passed."""

    x: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def rank(self) -> int:
        return self.x.ndim - 2


def _int_or_tuple(draw, values: tuple[int, ...], name: str, default: int | None):
    """``values`` as Keras accepts them: an int when all equal (sometimes), else a tuple;
    ``None`` (meaning: leave the argument out) when all equal the default (sometimes)."""
    same = len(set(values)) == 1
    if same and default is not None and values[0] == default and draw(
            st.booleans(), label=f"omit {name}"):
        return None
    if same and draw(st.booleans(), label=f"{name} as int"):
        return values[0]
    return tuple(values)


def _values(rng: np.random.Generator, shape: tuple[int, ...], kind: str,
            dtype: np.dtype) -> np.ndarray:
    if kind == "normal":
        a = rng.standard_normal(shape)
    elif kind == "small_ints":                     # exact products: differences must be 0
        a = rng.integers(-3, 4, size=shape).astype(np.float64)
    else:                                          # "wide": magnitudes over 6 decades
        a = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4, size=shape)
    return a.astype(dtype)


@st.composite
def conv_cases(draw, rank: int | None = None, dtype: Any = np.float32,
               data_format: str | None = None) -> ConvCase:
    """A :class:`ConvCase` of spatial rank ``rank`` (1-3 drawn if ``None``) in ``dtype``."""
    dtype = np.dtype(dtype)
    if rank is None:
        rank = draw(st.integers(1, 3), label="rank")
    padding = draw(st.sampled_from(["valid", "same", "omit", "SAME"]), label="padding")
    pad_mode = "valid" if padding in ("valid", "omit") else "same"

    # strides and dilation: never both > 1 (Keras forbids it)
    mode = draw(st.sampled_from(["plain", "strided", "dilated"]), label="stride/dilation")
    strides = (1,) * rank
    dilation = (1,) * rank
    if mode == "strided":
        strides = tuple(draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank),
                             label="strides"))
    elif mode == "dilated":
        dilation = tuple(draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank),
                              label="dilation_rate"))

    shapes = ["any", "ones"] + (["square"] if rank > 1 else [])
    kshape = draw(st.sampled_from(shapes), label="kernel shape")
    if kshape == "ones":
        ksize = (1,) * rank
    elif kshape == "square":
        ksize = (draw(st.integers(1, MAX_KERNEL[rank]), label="kernel_size"),) * rank
    else:
        ksize = tuple(draw(st.lists(st.integers(1, MAX_KERNEL[rank]), min_size=rank,
                                    max_size=rank), label="kernel_size"))

    spatial = []
    for i in range(rank):
        eff = dilation[i] * (ksize[i] - 1) + 1
        lo = eff if pad_mode == "valid" else 1
        hi = max(lo, MAX_SIZE[rank])
        if draw(st.booleans(), label=f"axis {i} as large as the kernel"):
            n = max(lo, min(eff, hi))
        else:
            n = draw(st.integers(lo, hi), label=f"spatial[{i}]")
        spatial.append(n)

    batch = draw(st.integers(1, 3), label="batch")
    gmode = draw(st.sampled_from(["single", "single", "grouped", "depthwise"]), label="groups")
    if gmode == "single":
        groups = 1
        c_in = draw(st.integers(1, 4), label="C_in")
        filters = draw(st.integers(1, 4), label="filters")
    elif gmode == "grouped":
        groups = draw(st.integers(2, 3), label="groups")
        c_in = groups * draw(st.integers(1, 2), label="C_in // groups")
        filters = groups * draw(st.integers(1, 2), label="filters // groups")
    else:
        c_in = draw(st.integers(2, 4), label="C_in (depthwise)")
        groups = c_in
        filters = c_in * draw(st.integers(1, 2), label="depth multiplier")

    fmt = data_format or draw(st.sampled_from(["channels_last", "channels_first", "omit"]),
                              label="data_format")
    use_bias = draw(st.booleans(), label="bias")
    kind = draw(st.sampled_from(["normal", "small_ints", "wide"]), label="values")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")

    rng = np.random.default_rng(seed)
    cl_shape = (batch, *spatial, c_in)
    x = _values(rng, cl_shape, kind, dtype)
    if fmt == "channels_first":
        x = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    kernel = _values(rng, (*ksize, c_in // groups, filters), kind, dtype)
    bias = _values(rng, (filters,), kind, dtype) if use_bias else None

    params: dict[str, Any] = {}
    s = _int_or_tuple(draw, strides, "strides", 1)
    if s is not None:
        params["strides"] = s
    if padding != "omit":
        params["padding"] = padding
    if fmt != "omit":
        params["data_format"] = fmt
    d = _int_or_tuple(draw, dilation, "dilation_rate", 1)
    if d is not None:
        params["dilation_rate"] = d
    if groups != 1 or not draw(st.booleans(), label="omit groups"):
        params["groups"] = groups
    return ConvCase(x, kernel, bias, params)


_SPECIALS = {
    "f": [0.0, -0.0, 1.0, -1.5, np.inf, -np.inf, np.nan, 3.4e38, 1e-45],
    "i": [0, -1, 1, 2**31 - 1, -(2**31)],
}


@st.composite
def zero_pad_cases(draw, rank: int | None = None, dtype: Any = None) -> ZeroPadCase:
    """A :class:`ZeroPadCase`: padding as an int, ``rank`` ints, ``rank`` (before, after)
    pairs, the 1D Keras ``(before, after)`` pair, or left out (default 1); zeros included.
    Values include ``-0.0``, infinities, NaN and extreme integers."""
    if rank is None:
        rank = draw(st.integers(1, 3), label="rank")
    if dtype is None:
        dtype = draw(st.sampled_from(["float32", "float64", "int32"]), label="dtype")
    dtype = np.dtype(dtype)
    spatial = tuple(draw(st.lists(st.integers(1, MAX_SIZE[rank]), min_size=rank,
                                  max_size=rank), label="spatial"))
    batch = draw(st.integers(1, 3), label="batch")
    channels = draw(st.integers(1, 3), label="channels")
    fmt = draw(st.sampled_from(["channels_last", "channels_first", "omit"]),
               label="data_format")
    forms = ["omit", "int", "ints", "pairs"] + (["keras1d_pair"] if rank == 1 else [])
    form = draw(st.sampled_from(forms), label="padding form")
    p = st.integers(0, 3)
    padding: Any
    if form == "int":
        padding = draw(p, label="padding")
    elif form == "ints":
        padding = tuple(draw(st.lists(p, min_size=rank, max_size=rank), label="padding"))
    elif form == "pairs":
        padding = tuple(draw(st.tuples(p, p), label=f"padding[{i}]") for i in range(rank))
    elif form == "keras1d_pair":
        padding = draw(st.tuples(p, p), label="padding")
    else:
        padding = None

    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    shape = (batch, *spatial, channels) if fmt != "channels_first" else \
        (batch, channels, *spatial)
    if dtype.kind == "f":
        x = rng.standard_normal(shape).astype(dtype)
    else:
        x = rng.integers(-1000, 1000, size=shape).astype(dtype)
    specials = np.array(_SPECIALS[dtype.kind], dtype=dtype)
    mask = rng.random(shape) < 0.3
    x[mask] = rng.choice(specials, size=int(mask.sum()))
    params: dict[str, Any] = {}
    if padding is not None:
        params["padding"] = padding
    if fmt != "omit":
        params["data_format"] = fmt
    return ZeroPadCase(x, params)
