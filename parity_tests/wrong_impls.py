"""Deliberately wrong (and correct-but-different) implementations to test the oracle with.

Written independently of ``pooling_ref``'s internals, in plain NumPy: each family has one
implementation built on ``numpy.lib.stride_tricks.sliding_window_view`` with switches that
introduce exactly one classic mistake — geometry slips, special-value habits (``np.maximum``,
a running maximum from -inf, last-wins ties, ``nanmean``, -0.0 lost in padding, float64
sums that do not overflow, subnormal flushing), blocked-kernel remainders (channels past 8 /
16, the tail tile of a row wider than 16 / 32, the last partial batch chunk of 4 / 8,
filters past 8), integers through float32 and wrong result dtypes.

``CATALOGUE`` maps a name to an :class:`Entry`: the function, the ops on which its mistake
can show (``check`` must catch it there for every seed), whether it is correct, what it
does (for tiling bugs: the first failing size), and the ``check`` options it needs
(``dtype="int32"``, ``supports=...``). Correct ones compute the right thing another way:
other summation orders, explicit loops, Fortran-ordered read-only results, exact integer
kernels, float16 accumulated in float32, partial kernels under ``supports=``, and the Keras
layers themselves (checked with the running TF kernel path's rules). ``WRONG`` / ``CORRECT``
are the first edition's ``name -> (function, ops)`` tables, kept for their callers.

Every function is a module attribute under its own name, so the oracle's reproducer
snippet can import it (``from parity_tests.wrong_impls import <name> as candidate``).

>>> import numpy as np
>>> x = np.float32([-3, -1, -2]).reshape(1, 3, 1)
>>> max_zero_padding(x, 2, padding="same")[0, :, 0]      # true answer: [-1, -2]
array([-1.,  0.], dtype=float32)
>>> x = np.float32([np.nan, 1, -0.0, 0.0]).reshape(1, 4, 1)
>>> max_np_maximum(x, 2)[0, :, 0], max_sliding_window(x, 2)[0, :, 0]   # TF: [1, -0]
(array([nan,  0.], dtype=float32), array([ 1., -0.], dtype=float32))
>>> max_channel_tail8_short(np.ones((1, 2, 9), np.float32), 1)[0, 0, 7:]   # C = 9
array([ 1.0000000e+00, -3.4028235e+38], dtype=float32)
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["CATALOGUE", "CORRECT", "WRONG", "Entry"]

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


def _tail_mask(bugs, n: int, outs, c: int) -> np.ndarray | None:
    """``(N, *outs, C)`` mask of the outputs a blocked kernel's remainder loop gets wrong.

    ``channel_tail8``: channels past the last full block of 8, when C > 8 (first C = 9).
    ``row_tail16`` / ``row_tail32``: output positions of the last spatial axis past the last
    full tile, when that output row is wider than the tile (first width 17 / 33).
    """
    for bug in bugs:
        kind, _, tile = bug.partition("_tail")
        if kind not in ("channel", "row") or not tile.isdigit():
            continue
        t, r = int(tile), len(outs)
        length = c if kind == "channel" else outs[-1]
        tail = (np.arange(length) >= t * (length // t)) & (length > t)
        if kind == "channel":
            return np.broadcast_to(tail.reshape((1,) * (r + 1) + (c,)), (n, *outs, c))
        return np.broadcast_to(tail.reshape((1,) * r + (length, 1)), (n, *outs, c))
    return None


def _reduce_max(cells: np.ndarray, bugs, short) -> np.ndarray:
    """TensorFlow's max over the last axis: NaN ignored, the first maximum wins, a window
    without a number (only NaN / -inf / padding) gives the lowest finite value."""
    dt = cells.dtype
    if "nan_propagates" in bugs:
        return cells.max(axis=-1)                   # np.maximum: a NaN wins
    start = -np.inf if dt.kind == "f" else np.iinfo(dt).min
    best = np.full(cells.shape[:-1], start, dt)
    last = cells.shape[-1] - 1
    for i in range(cells.shape[-1]):
        v = cells[..., i]
        take = v >= best if "last_tie_wins" in bugs else v > best   # NaN never taken
        if short is not None and i == last:
            take &= ~short                          # remainder loop stops one cell early
        best = np.where(take, v, best)
    if dt.kind == "f" and "no_lowest_finite" not in bugs:
        best = np.where(best == -np.inf, np.finfo(dt).min, best)
    if "plus_zero" in bugs:
        best = best + dt.type(0)                    # a fused "+ 0" epilogue: -0 + 0 = +0
    return best


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
    if "flush_subnormals" in bugs:                  # FTZ/DAZ: subnormals read as signed 0
        xl = np.where(np.abs(xl) < np.finfo(xl.dtype).tiny, xl * 0, xl)
    pads, outs = _geometry(xl.shape[1:-1], k, s, (1,) * r, padding, bugs)
    width = ((0, 0), *pads, (0, 0))
    cell_axes = tuple(range(-r, 0))
    acc = np.dtype(acc or x.dtype)
    short = _tail_mask(bugs, xl.shape[0], outs, xl.shape[-1])
    if kind == "max":
        fill = 0 if "zero_padding" in bugs else (
            -np.inf if acc.kind == "f" else np.iinfo(acc).min)
        w = _windows(np.pad(xl.astype(acc), width, constant_values=fill), k, s,
                     (1,) * r, outs)
        out = _reduce_max(w.reshape(*w.shape[: r + 2], -1), bugs, short)
    else:
        w = _windows(np.pad(xl, width), k, s, (1,) * r, outs).astype(acc)
        ones = np.pad(np.ones((1, *xl.shape[1:-1], 1), acc), width)
        count = _windows(ones, k, s, (1,) * r, outs).sum(axis=cell_axes)
        flat = w.reshape(*w.shape[: r + 2], -1)
        if "nanmean" in bugs:                       # skips NaN and counts only numbers
            real = _windows(ones, k, s, (1,) * r, outs)
            real = real.reshape(*real.shape[: r + 2], -1)          # (1, *out, 1, cells)
            count = (real * ~np.isnan(flat)).sum(axis=-1)
            total = np.nansum(flat, axis=-1)
        elif reverse or short is not None:          # explicit sum, one cell at a time
            total = np.zeros(flat.shape[:-1], acc)
            order = range(flat.shape[-1] - 1, -1, -1) if reverse else range(flat.shape[-1])
            for i in order:
                cell = flat[..., i]
                if short is not None and i == flat.shape[-1] - 1:
                    cell = np.where(short, 0, cell)
                total = total + cell
        else:
            total = w.sum(axis=cell_axes, dtype=acc)
        if "count_pads" in bugs:
            count = np.full_like(count, np.prod(k))
        out = total / count
    if "reverse_channels" in bugs:
        out = out[..., ::-1]
    out = _block_bugs(out, bugs)
    if "keeps_acc_dtype" not in bugs:
        out = out.astype(x.dtype)
    return np.ascontiguousarray(np.moveaxis(out, -1, 1) if cf else out)


def _block_bugs(out: np.ndarray, bugs) -> np.ndarray:
    """Blocked-kernel bugs that act on whole output blocks (channels_last ``out``).

    ``channel_stale16``: channels past the last full block of 16 (C > 16, first C = 17)
    are written from the previous block's registers (channel c gets channel c - 16).
    ``batch_tail4`` / ``batch_tail8``: the loop over batch chunks of 4 / 8 never runs the
    last partial chunk (N > 4, first N = 5 / N > 8, first N = 9): those stay zero.
    """
    if "channel_stale16" in bugs and out.shape[-1] > 16:
        c = out.shape[-1]
        full = 16 * (c // 16)
        out = out.copy()
        out[..., full:] = out[..., full - 16:c - 16]
    for t in (4, 8):
        n = out.shape[0]
        if f"batch_tail{t}" in bugs and n > t:
            out = out.copy()
            out[t * (n // t):] = 0
    return out


def _explicit_loop_pool(x, pool_size, strides=None, padding="valid",
                        data_format="channels_last", *, kind: str):
    """Pooling the slow, obvious way: Python loops over output positions and window cells,
    padded cells skipped, max with TF's rules (NaN ignored, first maximum wins, lowest
    finite value for a window without a number), average = row-major sum / real cells."""
    x = np.asarray(x)
    r = x.ndim - 2
    k = _tuple(pool_size, r)
    s = k if strides is None else _tuple(strides, r)
    xl, cf = _to_last(x, data_format, frozenset())
    pads, outs = _geometry(xl.shape[1:-1], k, s, (1,) * r, padding, frozenset())
    out = np.empty((xl.shape[0], *outs, xl.shape[-1]), x.dtype)
    for pos in itertools.product(*(range(o) for o in outs)):
        cells = []
        for t in itertools.product(*(range(ki) for ki in k)):
            src = tuple(p * si + ti - b for p, si, ti, (b, _) in zip(pos, s, t, pads))
            if all(0 <= i < n for i, n in zip(src, xl.shape[1:-1])):
                cells.append(xl[(slice(None), *src)])
        if kind == "max":
            best = np.full(cells[0].shape, -np.inf, x.dtype)
            for v in cells:
                best = np.where(v > best, v, best)
            best = np.where(best == -np.inf, np.finfo(x.dtype).min, best)
        else:
            best = np.zeros(cells[0].shape, x.dtype)
            for v in cells:
                best = best + v
            best = best / x.dtype.type(len(cells))
        out[(slice(None), *pos)] = best
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
    if "accumulate" in bugs:                # out = zeros; out[interior] += x: -0 becomes +0
        out = np.zeros((xl.shape[0], *(n + b + a for n, (b, a) in zip(xl.shape[1:-1], pairs)),
                        xl.shape[-1]), xl.dtype)
        out[(slice(None), *(slice(b, b + n) for n, (b, _) in zip(xl.shape[1:-1], pairs)))] += xl
    elif "via_float32" in bugs:             # pads a float32 copy: ints beyond 2**24 round
        out = np.pad(xl.astype(np.float32), ((0, 0), *pairs, (0, 0))).astype(x.dtype)
    else:
        out = np.pad(xl, ((0, 0), *pairs, (0, 0)))
    if "reverse_channels" in bugs:
        out = out[..., ::-1]
    out = _block_bugs(out, bugs)
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
            # matmul, not tensordot: np.dot scales by a zero weight when the inner length
            # is 1 (BLAS), which turns NaN * 0 into 0 (TF: NaN)
            taps = win.reshape(*win.shape[: r + 1], -1)
            out[..., gi * f_g:(gi + 1) * f_g] = taps @ wg.reshape(-1, f_g)
    if bias is not None and "drop_bias" not in bugs:
        b = np.asarray(bias).astype(acc)
        if "bias_tail8" in bugs and filters > 8:   # vectorized epilogue, no remainder loop
            b = np.where(np.arange(filters) < 8 * (filters // 8), b, 0).astype(acc)
        if cf and "keras_bias_axis" in bugs and outs[-1] == filters:
            # Keras channels_first bug: bias broadcast along the last spatial axis
            out = np.moveaxis(np.moveaxis(out, -1, 1) + b, 1, -1)
        else:
            out = out + b
    if "reverse_channels" in bugs:
        out = out[..., ::-1]
    out = out.astype(out_dtype)
    return np.ascontiguousarray(np.moveaxis(out, -1, 1) if cf else out)


# ----------------------------------------------------------------------------- wrappers


def _fortran_read_only(func: Callable) -> Callable:
    def impl(x, *args, **params):
        out = np.asfortranarray(func(x, *args, **params))
        out.setflags(write=False)
        return out

    return impl


def _only(func: Callable, param: str, default: str, allowed: str) -> Callable:
    """``func`` for one value of ``param``; anything else raises NotImplementedError."""
    def impl(x, *args, **params):
        if str(params.get(param, default)).lower() != allowed:
            raise NotImplementedError(f"{param}={params[param]!r} is not implemented")
        return func(x, *args, **params)

    return impl


@functools.lru_cache(maxsize=512)
def _keras_layer(cls: str, dtype: str, **config):
    import keras

    return getattr(keras.layers, cls)(dtype=dtype, **config)


def _keras_call(cls: str, x, **config) -> np.ndarray:
    import keras

    x = np.asarray(x)
    config = {k: (tuple(v) if isinstance(v, list) else v) for k, v in config.items()}
    layer = _keras_layer(f"{cls}{x.ndim - 2}D", x.dtype.name, **config)
    return keras.ops.convert_to_numpy(layer(x))


def keras_max_pool(x, pool_size, strides=None, padding="valid", data_format=None):
    """``keras.layers.MaxPoolingND(..., dtype=x.dtype.name)(x)``."""
    return _keras_call("MaxPooling", x, pool_size=pool_size, strides=strides,
                       padding=padding, data_format=data_format)


def keras_avg_pool(x, pool_size, strides=None, padding="valid", data_format=None):
    """``keras.layers.AveragePoolingND(..., dtype=x.dtype.name)(x)``."""
    return _keras_call("AveragePooling", x, pool_size=pool_size, strides=strides,
                       padding=padding, data_format=data_format)


def keras_zero_pad(x, padding=1, data_format=None):
    """``keras.layers.ZeroPaddingND(..., dtype=x.dtype.name)(x)``; a 1D padding given as a
    1-tuple (``(2,)`` or ``((1, 2),)``, valid here) is unwrapped, as ZeroPadding1D wants."""
    if np.ndim(x) == 3 and isinstance(padding, (tuple, list)) and len(padding) == 1:
        padding = padding[0]
    return _keras_call("ZeroPadding", x, padding=padding, data_format=data_format)


def keras_global_max_pool(x, data_format=None, keepdims=False):
    """``keras.layers.GlobalMaxPoolingND(..., dtype=x.dtype.name)(x)``."""
    return _keras_call("GlobalMaxPooling", x, data_format=data_format, keepdims=keepdims)


def keras_global_avg_pool(x, data_format=None, keepdims=False):
    """``keras.layers.GlobalAveragePoolingND(..., dtype=x.dtype.name)(x)``."""
    return _keras_call("GlobalAveragePooling", x, data_format=data_format,
                       keepdims=keepdims)


# ----------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Entry:
    """One catalogued candidate: what it gets wrong (or does differently), where it shows.

    ``check_kwargs``: the extra ``check`` options it is checked with (``dtype``,
    ``supports``, ``nan``). ``keras``: a Keras-layer wrapper, checked with the running
    TensorFlow's kernel path (``tf_kernel=pooling_ref.detect_tf_kernel()``);
    ``skip_on`` maps a kernel path to the ops left out there and why.
    """

    func: Callable
    ops: tuple[str, ...]
    correct: bool
    what: str
    check_kwargs: dict = field(default_factory=dict)
    keras: bool = False
    skip_on: dict = field(default_factory=dict)

    def ops_on(self, tf_kernel: str | None = None) -> tuple[str, ...]:
        """The ops to check on kernel path ``tf_kernel`` (all of them off Keras)."""
        skipped = self.skip_on.get(tf_kernel, ((), ""))[0]
        return tuple(op for op in self.ops if op not in skipped)


CATALOGUE: dict[str, Entry] = {}
#: The first edition's tables, ``name -> (function, ops)``, kept for their callers
#: (``test_oracle.py``); ``avg_float64_sum`` moved from CORRECT to WRONG (float32 overflow).
WRONG: dict[str, tuple[Callable, tuple[str, ...]]] = {}
CORRECT: dict[str, tuple[Callable, tuple[str, ...]]] = {}
_FIRST_EDITION = frozenset("""
    max_odd_cell_before max_zero_padding max_swapped_windows max_ignores_data_format
    max_strides_none_is_one max_same_floor_length avg_counts_pads avg_odd_cell_before
    avg_swapped_strides avg_reversed_channels avg_valid_off_by_one avg_ignores_data_format
    pad_swapped_pair pad_before_both_sides pad_swapped_axes pad_ignores_data_format
    conv_flipped_kernel conv_missing_bias conv_keras_bias_axis conv_ignores_dilation
    conv_ignores_groups conv_interleaved_groups conv_odd_cell_before conv_swapped_strides
    conv_reversed_filters conv_ignores_data_format conv_same_floor_length
    max_sliding_window avg_sliding_window avg_float64_sum avg_reverse_sum pad_numpy_pad
    conv_sliding_window conv_float64 conv_reverse_loops""".split())

_R = (1, 2, 3)
_R23 = (2, 3)


def _ops(family: str, ranks=_R) -> tuple[str, ...]:
    return tuple(f"{family}{r}d" for r in ranks)


def _add(name: str, func: Callable, ops, correct: bool, what: str, **entry) -> None:
    func.__name__ = func.__qualname__ = name
    func.__module__ = __name__
    func.__doc__ = func.__doc__ or what
    globals()[name] = func
    CATALOGUE[name] = Entry(func, ops, correct, what, **entry)
    if name in _FIRST_EDITION:
        (CORRECT if correct else WRONG)[name] = (func, ops)


def _bind(base: Callable, **kw) -> Callable:
    def impl(x, *args, **params):
        return base(x, *args, **params, **kw)

    return impl


def _wrong(name: str, base: Callable, ops, what: str, *bugs: str, check_kwargs=None,
           **kw) -> None:
    _add(name, _bind(base, bugs=frozenset(bugs), **kw), ops, False, what,
         check_kwargs=check_kwargs or {})


def _correct(name: str, func: Callable, ops, what: str, **entry) -> None:
    _add(name, func, ops, True, what, **entry)


_MAX, _AVG, _PAD, _CONV = _ops("max_pool"), _ops("avg_pool"), _ops("zero_pad"), _ops("conv")
_INT32 = {"dtype": "int32"}

# pooling: geometry
_wrong("max_odd_cell_before", _np_pool, _MAX, "odd 'same' pad cell put before",
       "odd_before", kind="max")
_wrong("max_zero_padding", _np_pool, _MAX, "'same' pads with 0 instead of never selecting "
       "a pad", "zero_padding", kind="max")
_wrong("max_swapped_windows", _np_pool, _ops("max_pool", _R23), "pool_size axes swapped",
       "swap_windows", kind="max")
_wrong("max_ignores_data_format", _np_pool, _MAX, "treats channels_first as channels_last",
       "ignore_format", kind="max")
_wrong("max_strides_none_is_one", _np_pool, _MAX, "strides=None means 1 (not pool_size)",
       "strides_none_is_one", kind="max")
_wrong("max_same_floor_length", _np_pool, _MAX, "'same' output length floor(n/s)",
       "same_floor", kind="max")
_wrong("avg_counts_pads", _np_pool, _AVG, "'same' divides by the full window size",
       "count_pads", kind="avg")
_wrong("avg_odd_cell_before", _np_pool, _AVG, "odd 'same' pad cell put before",
       "odd_before", kind="avg")
_wrong("avg_swapped_strides", _np_pool, _ops("avg_pool", _R23), "strides axes swapped",
       "swap_strides", kind="avg")
_wrong("avg_reversed_channels", _np_pool, _AVG, "channels written in reverse order",
       "reverse_channels", kind="avg")
_wrong("avg_valid_off_by_one", _np_pool, _AVG, "'valid' output one shorter",
       "valid_off_by_one", kind="avg")
_wrong("avg_ignores_data_format", _np_pool, _AVG, "treats channels_first as channels_last",
       "ignore_format", kind="avg")
# pooling: special values
_wrong("max_np_maximum", _np_pool, _MAX, "np.maximum reduction: a NaN in the window gives "
       "NaN (TF ignores NaN)", "nan_propagates", kind="max")
_wrong("max_running_from_neg_inf", _np_pool, _MAX, "running maximum starts at -inf: a "
       "window of only NaN / -inf gives -inf (TF: the lowest finite value)",
       "no_lowest_finite", kind="max")
_wrong("max_last_tie_wins", _np_pool, _MAX, "v >= best: the last of equal maxima wins, "
       "visible as max(-0, +0) = +0 (TF: the first, -0)", "last_tie_wins", kind="max")
_wrong("max_plus_zero", _np_pool, _MAX, "fused '+ 0' epilogue: a -0 maximum comes out +0",
       "plus_zero", kind="max")
_wrong("max_flush_subnormals", _np_pool, _MAX, "flushes subnormal inputs to zero (FTZ/DAZ); "
       "TF's oneDNN path keeps them (its Eigen path flushes: on 1D/2D this IS Eigen's rule, "
       "which the default tf_kernel='any' accepts, so it is checked against oneDNN)",
       "flush_subnormals", kind="max", check_kwargs={"tf_kernel": "onednn"})
_wrong("avg_nanmean", _np_pool, _AVG, "nanmean habit: skips NaN and divides by the number "
       "of non-NaN cells (TF: NaN propagates)", "nanmean", kind="avg")
_wrong("avg_float64_sum", _np_pool, _AVG, "sums float32 in float64: within the bound, but "
       "the mean of [FLT_MAX, FLT_MAX] is FLT_MAX where float32 arithmetic (TF) gives inf",
       kind="avg", acc=np.float64)
_wrong("avg_returns_float64", _np_pool, _AVG, "result dtype float64 for float32 input",
       "keeps_acc_dtype", kind="avg", acc=np.float64)
# pooling: tiling remainders (first failing size in the text)
_wrong("max_channel_tail8_short", _np_pool, _MAX, "blocks of 8 channels; the remainder "
       "channels (C % 8 of C > 8) skip the last window cell; first fails at C = 9",
       "channel_tail8", kind="max")
_wrong("avg_channel_stale16", _np_pool, _AVG, "blocks of 16 channels; remainder channels "
       "(C % 16 of C > 16) get the previous block's value (channel c - 16); first fails at "
       "C = 17", "channel_stale16", kind="avg")
_wrong("avg_row_tail16_short", _np_pool, _AVG, "tiles of 16 outputs along the last spatial "
       "axis; the tail tile of a row wider than 16 skips the last window cell; first fails "
       "at output width 17", "row_tail16", kind="avg")
_wrong("max_row_tail32_short", _np_pool, _MAX, "tiles of 32 outputs along the last spatial "
       "axis; the tail tile of a row wider than 32 skips the last window cell; first fails "
       "at output width 33", "row_tail32", kind="max")
_wrong("max_batch_tail4", _np_pool, _MAX, "batch chunks of 4; the last partial chunk is "
       "never computed (zeros); first fails at N = 5", "batch_tail4", kind="max")
# pooling: integers
_wrong("max_int_via_float32", _np_pool, _MAX, "int32 max pool computed in float32: wrong "
       "beyond 2**24 (2**31 - 1 even wraps)", kind="max", acc=np.float32,
       check_kwargs=_INT32)
_wrong("max_int_returns_float", _np_pool, _MAX, "int32 max pool returns float64 (exact "
       "values, wrong dtype)", "keeps_acc_dtype", kind="max", acc=np.float64,
       check_kwargs=_INT32)
# zero padding
_wrong("pad_swapped_pair", _np_zero_pad, _PAD, "(before, after) swapped", "swap_pair")
_wrong("pad_before_both_sides", _np_zero_pad, _PAD, "'before' used on both sides",
       "before_both_sides")
_wrong("pad_swapped_axes", _np_zero_pad, _ops("zero_pad", _R23), "per-axis pads swapped",
       "swap_axes")
_wrong("pad_ignores_data_format", _np_zero_pad, _PAD, "treats channels_first as "
       "channels_last", "ignore_format")
_wrong("pad_accumulate", _np_zero_pad, _PAD, "out = zeros; out[interior] += x: -0.0 "
       "becomes +0.0", "accumulate")
_wrong("pad_batch_tail8", _np_zero_pad, _PAD, "batch chunks of 8; the last partial chunk "
       "is never copied (zeros); first fails at N = 9", "batch_tail8")
_wrong("pad_int_via_float32", _np_zero_pad, _PAD, "int32 padded through a float32 copy: "
       "wrong beyond 2**24", "via_float32", check_kwargs=_INT32)
# convolution
_wrong("conv_flipped_kernel", _np_conv, _CONV, "true convolution (kernel flipped)",
       "flip_kernel")
_wrong("conv_missing_bias", _np_conv, _CONV, "bias ignored", "drop_bias")
_wrong("conv_keras_bias_axis", _np_conv, _CONV, "Keras' channels_first bias bug",
       "keras_bias_axis")
_wrong("conv_ignores_dilation", _np_conv, _CONV, "dilation ignored", "ignore_dilation")
_wrong("conv_ignores_groups", _np_conv, _CONV, "groups ignored", "ignore_groups")
_wrong("conv_interleaved_groups", _np_conv, _CONV, "group g reads channels g::groups",
       "interleave_groups")
_wrong("conv_odd_cell_before", _np_conv, _CONV, "odd 'same' pad cell put before",
       "odd_before")
_wrong("conv_swapped_strides", _np_conv, _ops("conv", _R23), "strides axes swapped",
       "swap_strides")
_wrong("conv_reversed_filters", _np_conv, _CONV, "filters written in reverse order",
       "reverse_channels")
_wrong("conv_ignores_data_format", _np_conv, _CONV, "treats channels_first as "
       "channels_last", "ignore_format")
_wrong("conv_same_floor_length", _np_conv, _CONV, "'same' output length floor(n/s)",
       "same_floor")
_wrong("conv_bias_tail8", _np_conv, _CONV, "bias added in blocks of 8 filters; the "
       "remainder filters (F % 8 of F > 8) get no bias; first fails at 9 filters",
       "bias_tail8")

# correct, computed differently
_SLIDING_MAX = _bind(_np_pool, kind="max")
_SLIDING_AVG = _bind(_np_pool, kind="avg")
_correct("max_sliding_window", _SLIDING_MAX, _MAX, "sliding_window_view + running strict "
         "maximum (TF rules)")
_correct("avg_sliding_window", _SLIDING_AVG, _AVG, "sliding_window_view + np.sum "
         "(pairwise order)")
_correct("avg_reverse_sum", _bind(_np_pool, kind="avg", reverse=True), _AVG, "sums the "
         "window last cell first")
_correct("pad_numpy_pad", _bind(_np_zero_pad), _PAD, "np.pad")
_correct("conv_sliding_window", _bind(_np_conv), _CONV, "sliding_window_view + matmul")
_correct("conv_float64", _bind(_np_conv, acc=np.float64), _CONV, "accumulates in float64")
_correct("conv_reverse_loops", _bind(_np_conv, loops=True), _CONV, "explicit loops, "
         "positions and cells in reverse order")
_correct("max_explicit_loop", _bind(_explicit_loop_pool, kind="max"), _MAX, "Python loops "
         "over positions and real cells")
_correct("avg_explicit_loop", _bind(_explicit_loop_pool, kind="avg"), _AVG, "Python loops "
         "over positions and real cells")
_correct("max_fortran_read_only", _fortran_read_only(_SLIDING_MAX), _MAX, "result "
         "Fortran-ordered and read-only")
_correct("avg_fortran_read_only", _fortran_read_only(_SLIDING_AVG), _AVG, "result "
         "Fortran-ordered and read-only")
_correct("pad_fortran_read_only", _fortran_read_only(_bind(_np_zero_pad)), _PAD, "result "
         "Fortran-ordered and read-only")
_correct("avg_float16_in_float32", _bind(_np_pool, kind="avg", acc=np.float32), _AVG,
         "float16 windows accumulated in float32 (TF sums in float16)",
         check_kwargs={"dtype": "float16"})
_correct("max_int64", _bind(_np_pool, kind="max", acc=np.int64), _MAX, "int32 max pool "
         "computed exactly in int64", check_kwargs=_INT32)
_correct("pad_int_native", _bind(_np_zero_pad), _PAD, "int32 padded in its own dtype",
         check_kwargs=_INT32)
_correct("max_channels_last_only", _only(_SLIDING_MAX, "data_format", "channels_last",
                                         "channels_last"), _MAX,
         "implements channels_last only (NotImplementedError otherwise)",
         check_kwargs={"supports": {"data_format": ["channels_last"]}})
_correct("avg_valid_only", _only(_SLIDING_AVG, "padding", "valid", "valid"), _AVG,
         "implements padding='valid' only (NotImplementedError otherwise)",
         check_kwargs={"supports": {"padding": ["valid"]}})
_EIGEN_3D = ((("max_pool3d",), "TF's Eigen MaxPool3D propagates a NaN in a window's last "
              "cell for channels outside a full SIMD packet and signs zero maxima "
              "differently; pooling_ref's eigen rules do not model that"))
_correct("keras_max_pool", keras_max_pool, _MAX, "keras.layers.MaxPoolingND",
         keras=True, skip_on={"eigen": _EIGEN_3D})
_correct("keras_avg_pool", keras_avg_pool, _AVG, "keras.layers.AveragePoolingND",
         keras=True, skip_on={"eigen": (("avg_pool3d",), "TF's Eigen AvgPool3D with strides "
                                        "larger than the window reads shifted cells (pool 1, "
                                        "stride 4 on a row of 67: cells 1, 5, ... instead of "
                                        "0, 4, ...); not modelled")})
_correct("keras_zero_pad", keras_zero_pad, _PAD, "keras.layers.ZeroPaddingND", keras=True)
_correct("keras_global_max_pool", keras_global_max_pool, _ops("global_max_pool"),
         "keras.layers.GlobalMaxPoolingND", keras=True)
_correct("keras_global_avg_pool", keras_global_avg_pool, _ops("global_avg_pool"),
         "keras.layers.GlobalAveragePoolingND", keras=True)
_correct("keras_max_pool_int32", _bind(keras_max_pool), _ops("max_pool", (1, 2)),
         "keras.layers.MaxPoolingND on int32 (TF has no int32 MaxPool3D kernel)",
         keras=True, check_kwargs=_INT32)
_correct("keras_zero_pad_int32", _bind(keras_zero_pad), _PAD,
         "keras.layers.ZeroPaddingND on int32", keras=True, check_kwargs=_INT32)
_correct("keras_global_max_pool_int32", _bind(keras_global_max_pool),
         _ops("global_max_pool"), "keras.layers.GlobalMaxPoolingND on int32", keras=True,
         check_kwargs=_INT32)
