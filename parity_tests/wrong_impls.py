"""Deliberately wrong (and correct-but-different) implementations to test the oracle with.

Written independently of ``pooling_ref``'s internals: each family has one plain NumPy
implementation built on ``numpy.lib.stride_tricks.sliding_window_view`` with switches that
introduce exactly one classic mistake. ``WRONG`` maps a name to ``(function, ops)`` —
the ops on which that mistake can show, so ``check`` must catch it there. ``CORRECT`` maps
a name to ``(function, ops)`` for implementations that compute the right thing in another
way (other summation order, float64 accumulation, explicit loops) and must pass.

Every function is a module attribute under its own name, so the oracle's reproducer
snippet can import it (``from parity_tests.wrong_impls import <name> as candidate``).

>>> import numpy as np
>>> x = np.float32([-3, -1, -2]).reshape(1, 3, 1)
>>> max_zero_padding(x, 2, padding="same")[0, :, 0]      # true answer: [-1, -2]
array([-1.,  0.], dtype=float32)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["CORRECT", "WRONG"]

POOL_OPS = tuple(f"{k}_pool{r}d" for k in ("max", "avg") for r in (1, 2, 3))


def _tuple(v, r: int) -> tuple[int, ...]:
    return tuple(int(i) for i in v) if isinstance(v, (tuple, list)) else (int(v),) * r


def _same_pads(n: int, span: int, s: int, odd_before: bool) -> tuple[int, int, int]:
    out = -(-n // s)
    total = max((out - 1) * s + span - n, 0)
    small = total // 2
    before = total - small if odd_before else small
    return before, total - before, out


def _geometry(spatial, window, strides, dilation, padding, bugs):
    pads, outs = [], []
    for n, k, s, d in zip(spatial, window, strides, dilation):
        span = (k - 1) * d + 1
        if padding.lower() == "same":
            b, a, out = _same_pads(n, span, s, "odd_before" in bugs)
            if "same_floor" in bugs:
                out = n // s
        else:
            b, a, out = 0, 0, (n - span) // s + 1
            if "valid_off_by_one" in bugs:
                out -= 1
        pads.append((b, a))
        outs.append(out)
    return pads, outs


def _windows(xp: np.ndarray, window, strides, dilation, outs) -> np.ndarray:
    """``(N, *out, C, *window)``: every (dilated, strided) window of padded ``xp``."""
    r = len(window)
    spans = tuple((k - 1) * d + 1 for k, d in zip(window, dilation))
    v = sliding_window_view(xp, spans, axis=tuple(range(1, r + 1)))
    v = v[(slice(None), *(slice(0, (o - 1) * s + 1, s) for o, s in zip(outs, strides)))]
    v = v[(Ellipsis, *(slice(None, None, d) for d in dilation))]
    return v


def _to_last(x: np.ndarray, data_format: str | None, bugs) -> tuple[np.ndarray, bool]:
    cf = data_format == "channels_first" and "ignore_format" not in bugs
    return (np.moveaxis(x, 1, -1) if cf else x), cf


# ----------------------------------------------------------------------------- pooling


def _np_pool(x, pool_size, strides=None, padding="valid", data_format="channels_last", *,
             kind: str, bugs: frozenset = frozenset(), acc=None, reverse: bool = False):
    x = np.asarray(x)
    r = x.ndim - 2
    k = _tuple(pool_size, r)
    s = k if strides is None else _tuple(strides, r)
    if strides is None and "strides_none_is_one" in bugs:
        s = (1,) * r
    if "swap_windows" in bugs:
        k = k[::-1]
    if "swap_strides" in bugs:
        s = s[::-1]
    xl, cf = _to_last(x, data_format, bugs)
    pads, outs = _geometry(xl.shape[1:-1], k, s, (1,) * r, padding, bugs)
    width = ((0, 0), *pads, (0, 0))
    cell_axes = tuple(range(-r, 0))
    if kind == "max":
        fill = 0 if "zero_padding" in bugs else -np.inf
        w = _windows(np.pad(xl, width, constant_values=fill), k, s, (1,) * r, outs)
        out = w.max(axis=cell_axes)
    else:
        acc = acc or x.dtype
        w = _windows(np.pad(xl, width), k, s, (1,) * r, outs).astype(acc)
        if reverse:       # explicit sum, last window cell first
            flat = w.reshape(*w.shape[: r + 2], -1)
            total = np.zeros(flat.shape[:-1], acc)
            for i in range(flat.shape[-1] - 1, -1, -1):
                total = total + flat[..., i]
        else:
            total = w.sum(axis=cell_axes, dtype=acc)
        ones = np.pad(np.ones((1, *xl.shape[1:-1], 1), acc), width)
        count = _windows(ones, k, s, (1,) * r, outs).sum(axis=cell_axes)
        if "count_pads" in bugs:
            count = np.full_like(count, np.prod(k))
        out = total / count
    if "reverse_channels" in bugs:
        out = out[..., ::-1]
    out = out.astype(x.dtype)
    return np.ascontiguousarray(np.moveaxis(out, -1, 1) if cf else out)


# ----------------------------------------------------------------------------- zero padding


def _np_zero_pad(x, padding=1, data_format="channels_last", *, bugs=frozenset()):
    x = np.asarray(x)
    r = x.ndim - 2
    if isinstance(padding, (tuple, list)):
        pairs = [tuple(p) if isinstance(p, (tuple, list)) else (p, p) for p in padding]
    else:
        pairs = [(padding, padding)] * r
    if "swap_pair" in bugs:
        pairs = [(a, b) for b, a in pairs]
    if "before_both_sides" in bugs:
        pairs = [(b, b) for b, _ in pairs]
    if "swap_axes" in bugs:
        pairs = pairs[::-1]
    xl, cf = _to_last(x, data_format, bugs)
    out = np.pad(xl, ((0, 0), *pairs, (0, 0)))
    if "reverse_channels" in bugs:
        out = out[..., ::-1]
    return np.ascontiguousarray(np.moveaxis(out, -1, 1) if cf else out)


# ----------------------------------------------------------------------------- convolution


def _np_conv(x, kernel, bias=None, strides=1, padding="valid", data_format="channels_last",
             dilation_rate=1, groups=1, *, bugs=frozenset(), acc=None, loops=False):
    x, w = np.asarray(x), np.asarray(kernel)
    r = x.ndim - 2
    s, d = _tuple(strides, r), _tuple(dilation_rate, r)
    if "ignore_dilation" in bugs:
        d = (1,) * r
    if "swap_strides" in bugs:
        s = s[::-1]
    if "flip_kernel" in bugs:
        w = w[tuple(slice(None, None, -1) for _ in range(r))]
    out_dtype = np.result_type(x.dtype, w.dtype)
    acc = acc or (np.float32 if out_dtype == np.float16 else out_dtype)   # as TF
    xl, cf = _to_last(x, data_format, bugs)
    ks = w.shape[:r]
    pads, outs = _geometry(xl.shape[1:-1], ks, s, d, padding, bugs)
    xp = np.pad(xl, ((0, 0), *pads, (0, 0))).astype(acc)
    w = w.astype(acc)
    cin_g, filters = w.shape[-2], w.shape[-1]
    g = 1 if "ignore_groups" in bugs else groups
    f_g = filters // g
    out = np.zeros((xl.shape[0], *outs, filters), acc)
    for gi in range(g):
        if "interleave_groups" in bugs:
            xs = xp[..., gi::g]
        else:
            xs = xp[..., gi * cin_g:(gi + 1) * cin_g]
        wg = w[..., gi * f_g:(gi + 1) * f_g]
        if loops:          # explicit loops, positions and cells in reverse order
            for pos in reversed(list(itertools.product(*(range(o) for o in outs)))):
                total = np.zeros((xl.shape[0], f_g), acc)
                for t in reversed(list(itertools.product(*(range(k) for k in ks)))):
                    src = tuple(p * si + ti * di for p, si, ti, di in zip(pos, s, t, d))
                    total = total + xs[(slice(None), *src)] @ wg[t]
                out[(slice(None), *pos, slice(gi * f_g, (gi + 1) * f_g))] = total
        else:
            win = _windows(xs, ks, s, d, outs)            # (N, *out, cin_g, *ks)
            win = np.moveaxis(win, r + 1, -1)             # (N, *out, *ks, cin_g)
            out[..., gi * f_g:(gi + 1) * f_g] = np.tensordot(win, wg, axes=r + 1)
    if bias is not None and "drop_bias" not in bugs:
        b = np.asarray(bias).astype(acc)
        if cf and "keras_bias_axis" in bugs and outs[-1] == filters:
            # Keras channels_first bug: bias broadcast along the last spatial axis
            out = np.moveaxis(np.moveaxis(out, -1, 1) + b, 1, -1)
        else:
            out = out + b
    if "reverse_channels" in bugs:
        out = out[..., ::-1]
    out = out.astype(out_dtype)
    return np.ascontiguousarray(np.moveaxis(out, -1, 1) if cf else out)


# ----------------------------------------------------------------------------- registry

WRONG: dict[str, tuple[Callable, tuple[str, ...]]] = {}
CORRECT: dict[str, tuple[Callable, tuple[str, ...]]] = {}

_R = (1, 2, 3)
_R23 = (2, 3)


def _ops(family: str, ranks) -> tuple[str, ...]:
    return tuple(f"{family}{r}d" for r in ranks)


def _register(table: dict, name: str, base: Callable, ops: tuple[str, ...], **kw) -> None:
    def impl(x, *args, **params):
        return base(x, *args, **params, **kw)

    impl.__name__ = impl.__qualname__ = name
    impl.__doc__ = f"{base.__name__} with {kw}"
    globals()[name] = impl
    table[name] = (impl, ops)


def _wrong(name: str, base: Callable, ops: tuple[str, ...], *bugs: str, **kw) -> None:
    _register(WRONG, name, base, ops, bugs=frozenset(bugs), **kw)


# pooling
_wrong("max_odd_cell_before", _np_pool, _ops("max_pool", _R), "odd_before", kind="max")
_wrong("max_zero_padding", _np_pool, _ops("max_pool", _R), "zero_padding", kind="max")
_wrong("max_swapped_windows", _np_pool, _ops("max_pool", _R23), "swap_windows", kind="max")
_wrong("max_ignores_data_format", _np_pool, _ops("max_pool", _R), "ignore_format",
       kind="max")
_wrong("max_strides_none_is_one", _np_pool, _ops("max_pool", _R), "strides_none_is_one",
       kind="max")
_wrong("max_same_floor_length", _np_pool, _ops("max_pool", _R), "same_floor", kind="max")
_wrong("avg_counts_pads", _np_pool, _ops("avg_pool", _R), "count_pads", kind="avg")
_wrong("avg_odd_cell_before", _np_pool, _ops("avg_pool", _R), "odd_before", kind="avg")
_wrong("avg_swapped_strides", _np_pool, _ops("avg_pool", _R23), "swap_strides", kind="avg")
_wrong("avg_reversed_channels", _np_pool, _ops("avg_pool", _R), "reverse_channels",
       kind="avg")
_wrong("avg_valid_off_by_one", _np_pool, _ops("avg_pool", _R), "valid_off_by_one",
       kind="avg")
_wrong("avg_ignores_data_format", _np_pool, _ops("avg_pool", _R), "ignore_format",
       kind="avg")
# zero padding
_wrong("pad_swapped_pair", _np_zero_pad, _ops("zero_pad", _R), "swap_pair")
_wrong("pad_before_both_sides", _np_zero_pad, _ops("zero_pad", _R), "before_both_sides")
_wrong("pad_swapped_axes", _np_zero_pad, _ops("zero_pad", _R23), "swap_axes")
_wrong("pad_ignores_data_format", _np_zero_pad, _ops("zero_pad", _R), "ignore_format")
# convolution
_wrong("conv_flipped_kernel", _np_conv, _ops("conv", _R), "flip_kernel")
_wrong("conv_missing_bias", _np_conv, _ops("conv", _R), "drop_bias")
_wrong("conv_keras_bias_axis", _np_conv, _ops("conv", _R), "keras_bias_axis")
_wrong("conv_ignores_dilation", _np_conv, _ops("conv", _R), "ignore_dilation")
_wrong("conv_ignores_groups", _np_conv, _ops("conv", _R), "ignore_groups")
_wrong("conv_interleaved_groups", _np_conv, _ops("conv", _R), "interleave_groups")
_wrong("conv_odd_cell_before", _np_conv, _ops("conv", _R), "odd_before")
_wrong("conv_swapped_strides", _np_conv, _ops("conv", _R23), "swap_strides")
_wrong("conv_reversed_filters", _np_conv, _ops("conv", _R), "reverse_channels")
_wrong("conv_ignores_data_format", _np_conv, _ops("conv", _R), "ignore_format")
_wrong("conv_same_floor_length", _np_conv, _ops("conv", _R), "same_floor")

# correct, computed differently
_register(CORRECT, "max_sliding_window", _np_pool, _ops("max_pool", _R), kind="max")
_register(CORRECT, "avg_sliding_window", _np_pool, _ops("avg_pool", _R), kind="avg")
_register(CORRECT, "avg_float64_sum", _np_pool, _ops("avg_pool", _R), kind="avg",
          acc=np.float64)
_register(CORRECT, "avg_reverse_sum", _np_pool, _ops("avg_pool", _R), kind="avg",
          reverse=True)
_register(CORRECT, "pad_numpy_pad", _np_zero_pad, _ops("zero_pad", _R))
_register(CORRECT, "conv_sliding_window", _np_conv, _ops("conv", _R))
_register(CORRECT, "conv_float64", _np_conv, _ops("conv", _R), acc=np.float64)
_register(CORRECT, "conv_reverse_loops", _np_conv, _ops("conv", _R), loops=True)
