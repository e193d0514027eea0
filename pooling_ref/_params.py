"""The sizes and parameters of an oracle case, per op family, drawn from a :class:`Source`.

:func:`draft` is the one entry: ``(x layout, scalar parameters, other array shapes)`` of a
case of ``op`` (a gradient op draws its forward op's), for a corner class and a spatial
size limit, inside ``supports``. The values are drawn afterwards (:mod:`pooling_ref.cases`).

>>> from pooling_ref._draw import NumpySource
>>> from pooling_ref.ops import spec
>>> d = draft(NumpySource(np.random.default_rng(0)), spec("conv2d"), Supports("conv2d"),
...           "channels 9", 3)
>>> d.c, d.shapes["kernel"][-1] in (5, 9, 17)    # 9 input channels; 5, 9 or 17 filters
(9, True)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ._draw import Source
from ._special import FLOAT_CORNERS, INT_CORNERS
from ._supports import Supports
from .geometry import normalize_padding, output_length
from .ops import OpSpec, forward_of, is_gradient

__all__ = ["Draft", "draft", "limit"]


# ----------------------------------------------------------------------------- sizes


@dataclass
class _Sizes:
    """Batch, channels, filters (``None``: drawn by convolution), the wanted output length
    of the last spatial axis, and whether a size corner set one of them."""

    n: int
    c: int
    filters: int | None = None
    row: int | None = None
    corner: bool = False


@dataclass
class Draft:
    """What a family draws: the input's layout, the scalar parameters (``data_format``
    included) and the shapes of the other arrays (``kernel``, ``bias``)."""

    n: int
    c: int
    spatial: list[int]
    params: dict
    shapes: dict = field(default_factory=dict)


def _pick(src: Source, sup: Supports, key: str, options: list, weights: list) -> int:
    """A size: one of those ``supports`` lists for ``key``, else one of ``options``."""
    value = sup.value(src, key)
    return src.choice(options, weights) if value is None else value


def _sizes(src: Source, sup: Supports, corner: str) -> _Sizes:
    s = _Sizes(_pick(src, sup, "batch", [1, 2, 3], [0.4, 0.4, 0.2]),
               _pick(src, sup, "channels", [1, 2, 3, 4], [0.25, 0.3, 0.3, 0.15]))
    kind, _, value = corner.partition(" ")
    s.corner = kind in ("channels", "batch", "rows")
    if kind == "channels":
        s.c, s.filters = int(value), src.choice([5, 9, 17])
    elif kind == "batch":
        s.n = int(value)
    elif kind == "rows":
        s.row = int(value)
    return s


def limit(index: int, rank: int) -> int:
    """Spatial size limit: the first cases are tiny, later ones a little larger."""
    grow = index // 12 if rank < 3 else index // 25
    return 2 + min(grow, {1: 8, 2: 5, 3: 3}[rank])


def _spatial(src: Source, sup: Supports, rank: int, limit: int) -> list[int]:
    fixed = sup.value(src, "spatial")
    if fixed is not None:
        return list(fixed)
    sizes = [src.integer(1, limit) for _ in range(rank)]
    if rank > 1:
        differ, i, more = src.boolean(0.6), src.integer(0, rank - 1), src.integer(1, 2)
        if differ:                               # make axes differ so swaps show
            sizes[i] = sizes[(i + 1) % rank] + more
    return sizes


def _grown(spatial: list[int], least: Iterable[int], sup: Supports) -> list[int]:
    """``spatial`` with each axis at least ``least`` long (unless ``supports`` fixes it)."""
    return spatial if sup.restricted("spatial") else [max(n, m) for n, m in zip(spatial, least)]


def _fit_row(spatial: list[int], window, strides, dilation, padding: str, row: int | None
             ) -> None:
    """Lengthen the last spatial axis so that its output length is ``row``."""
    if row is not None:
        span = dilation[-1] * (window[-1] - 1) + 1
        s = strides[-1]
        spatial[-1] = row * s if padding == "same" else (row - 1) * s + span


def _padding_weights(sz: _Sizes) -> list[float] | None:
    """Size corners mostly "valid": with "same" the last cell of a window is often
    padding, which hides a tail tile (of channels, batch or a row) that drops it."""
    return [0.95, 0.05] if sz.corner else None


# ----------------------------------------------------------------------------- parameters


def _int_or_tuple(src: Source, values: Iterable[int]) -> int | tuple[int, ...]:
    """An int when all values agree and a coin says so; a tuple otherwise."""
    values = [int(v) for v in values]
    if src.boolean(0.5) or len(set(values)) > 1:
        return tuple(values)
    return values[0]


def _per_axis(value: object, rank: int) -> tuple[int, ...]:
    return tuple(int(v) for v in np.broadcast_to(value, (rank,)))


def _window(src: Source, n: int, padding: str, span_limit: int = 4) -> int:
    """A window length for an axis of length ``n``: equal to ``n`` or larger (same) often."""
    same = padding == "same"
    kind = src.choice(["small", "input", "larger"], [0.7 + 0.1 * (not same), 0.2, 0.1 * same])
    small, more = src.integer(1, max(1, min(n, span_limit))), src.integer(1, 2)
    return {"small": small, "input": n, "larger": n + more}[kind]


def _nonsquare(src: Source, rank: int) -> int | None:
    """The axis whose window grows by one cell (``None``: a square window)."""
    if rank == 1:
        return None
    grow, axis = src.boolean(0.4), src.integer(0, rank - 1)
    return axis if grow else None


def _stride(src: Source, window: int) -> int:
    kind = src.choice(["one", "window", "larger", "any"], [0.3, 0.2, 0.25, 0.25])
    more, any_ = src.integer(1, 2), src.integer(1, 3)
    return {"one": 1, "window": window, "larger": window + more, "any": any_}[kind]


def _padding(src: Source, sup: Supports, sz: _Sizes) -> tuple[object, str]:
    """The padding argument (as ``supports`` spells it) and its normalized value."""
    padding = sup.pick(src, "padding", ["valid", "same"], _padding_weights(sz))
    return padding, normalize_padding(padding)


def _give_padding(src: Source, sup: Supports, params: dict, padding, pad: str) -> None:
    if src.boolean(0.6) or pad == "same" or not sup.omit_ok("padding"):
        params["padding"] = padding


def _data_format(src: Source, params: dict, sup: Supports) -> None:
    fmt = sup.pick(src, "data_format", ["omit", "channels_last", "channels_first"],
                   [0.25, 0.25, 0.5])
    if fmt != "omit":
        params["data_format"] = fmt


def _pool(src: Source, s: OpSpec, sz: _Sizes, sup: Supports, corner: str, limit: int
          ) -> Draft:
    rank, params = s.rank, {}
    spatial = _spatial(src, sup, rank, limit)
    padding, pad = _padding(src, sup, sz)
    fixed = sup.value(src, "pool_size")
    if fixed is not None:
        window = list(fixed)
        if pad == "valid":
            spatial = _grown(spatial, window, sup)
    else:
        window = [_window(src, n, pad) for n in spatial]
        i = _nonsquare(src, rank)
        if i is not None:
            window[i] = window[i] + 1 if pad == "same" else min(window[i] + 1, spatial[i])
        if corner in FLOAT_CORNERS + INT_CORNERS:
            # special values need windows of several cells (first != last, ties)
            spatial = _grown(spatial, [2] * rank, sup)
            window = [max(k, 2 if pad == "same" else min(2, n)) for k, n in zip(window, spatial)]
    params["pool_size"] = _int_or_tuple(src, window)
    fixed_s = sup.value(src, "strides")
    if fixed_s is not None:
        params["strides"] = _int_or_tuple(src, fixed_s)
    else:                                               # omitted: strides = pool_size
        give, strides = src.boolean(0.7), _int_or_tuple(src, [_stride(src, k) for k in window])
        if give:
            params["strides"] = strides
    strides = _per_axis(params.get("strides", params["pool_size"]), rank)
    _fit_row(spatial, window, strides, (1,) * rank, pad, sz.row)
    _give_padding(src, sup, params, padding, pad)
    _data_format(src, params, sup)
    return Draft(sz.n, sz.c, spatial, params)


def _global(src: Source, s: OpSpec, sz: _Sizes, sup: Supports, corner: str, limit: int
            ) -> Draft:
    params: dict = {}
    spatial = _spatial(src, sup, s.rank, limit + 1)
    if sz.row:
        spatial[-1] = sz.row
    _data_format(src, params, sup)
    give, keepdims = src.boolean(0.5), sup.pick(src, "keepdims", [False, True])
    if give or sup.restricted("keepdims"):
        params["keepdims"] = keepdims
    return Draft(sz.n, sz.c, spatial, params)


def _zero_pad(src: Source, s: OpSpec, sz: _Sizes, sup: Supports, corner: str, limit: int
              ) -> Draft:
    params: dict = {}
    spatial = _spatial(src, sup, s.rank, limit)
    if sz.row:
        spatial[-1] = sz.row
    if sup.restricted("padding"):
        params["padding"] = sup.given_value(src, "padding")
    else:
        form = src.choice(["omit", "int", "ints", "pairs"], [0.15, 0.2, 0.25, 0.4])
        forms = {"int": src.integer(0, 2),
                 "ints": tuple(src.integer(0, 2) for _ in range(s.rank)),
                 "pairs": tuple(_pad_pair(src) for _ in range(s.rank))}
        if form in forms:
            params["padding"] = forms[form]
    _data_format(src, params, sup)
    return Draft(sz.n, sz.c, spatial, params)


def _pad_pair(src: Source) -> tuple[int, int]:
    before, after, asymmetric = src.integer(0, 2), src.integer(0, 2), src.boolean(0.7)
    if before == after and asymmetric:
        after = before + 1                               # asymmetric
    return before, after


def _conv(src: Source, s: OpSpec, sz: _Sizes, sup: Supports, corner: str, limit: int
          ) -> Draft | None:
    rank, params = s.rank, {}
    groups, cin_g, f_g = _channel_groups(src, sz, sup, corner)
    if groups is None:
        return None
    spatial = _spatial(src, sup, rank, limit)
    padding, pad = _padding(src, sup, sz)
    dilation, dilated = _dilation(src, sup, rank)
    kernel_size = _kernel_size(src, sup, spatial, dilation, pad)
    if pad == "valid":
        spatial = _grown(spatial, [d * (k - 1) + 1 for k, d in zip(kernel_size, dilation)],
                         sup)
    fixed_s = sup.value(src, "strides")
    if sup.restricted("dilation_rate") or (dilated and fixed_s is None):
        params["dilation_rate"] = _int_or_tuple(src, dilation)
    if fixed_s is not None:
        params["strides"] = _int_or_tuple(src, fixed_s)
    else:                                           # strides only without dilation
        give, strides = src.boolean(0.7), _int_or_tuple(src, [_stride(src, k) for k in kernel_size])
        if give and not dilated:
            params["strides"] = strides
    strides = _per_axis(params.get("strides", 1), rank)
    _fit_row(spatial, kernel_size, strides, dilation, pad, sz.row)
    _give_padding(src, sup, params, padding, pad)
    _data_format(src, params, sup)
    cf = params.get("data_format") == "channels_first"
    with_bias = src.boolean(0.8 if cf else 0.5) and "bias" in s.arrays and not sup.restricted(
        "bias")
    if (src.boolean(0.5) and cf and with_bias and not sup.restricted("filters")
            and not corner.startswith("channels")):
        # Keras' channels_first bias bug shows when the last output length equals filters
        try:
            w_out = output_length(spatial[-1], kernel_size[-1], strides[-1], pad,
                                  dilation[-1])
        except ValueError:
            w_out = 0
        if w_out % groups == 0 and 1 <= w_out // groups <= 4:
            f_g = w_out // groups
    if src.boolean(0.2) or groups > 1 or not sup.omit_ok("groups"):
        params["groups"] = groups
    shapes = {"kernel": (*kernel_size, cin_g, groups * f_g)}
    if with_bias:
        shapes["bias"] = (groups * f_g,)
    return Draft(sz.n, groups * cin_g, spatial, params, shapes)


def _channel_groups(src: Source, sz: _Sizes, sup: Supports, corner: str
                    ) -> tuple[int, int, int] | tuple[None, None, None]:
    """Groups, input channels and filters per group (plain, grouped or depthwise), inside
    ``supports`` (``None``s when the draw does not fit it: draw again)."""
    if sup.restricted("groups"):
        groups = sup.value(src, "groups")
        kind = "plain" if groups == 1 else src.choice(["grouped", "depthwise"])
    elif corner.startswith("channels"):
        kind, groups = "plain", 1
    else:
        kind = src.choice(["plain", "grouped", "depthwise"], [0.5, 0.25, 0.25])
        groups = src.integer(2, 3) if kind != "plain" else 1
    cin_g, f_g, asymmetric, remainder = (src.integer(1, 3), src.integer(1, 3), src.boolean(0.7),
                                         src.boolean(0.5))
    cin_g = 1 if kind == "depthwise" else cin_g
    if kind == "plain" and cin_g == f_g and asymmetric:
        f_g += 1                                      # asymmetric channel counts
    if corner.startswith("channels"):                 # straddle packets in C_in and filters
        cin_g = 1 if kind == "depthwise" else -(-sz.c // groups)
        f_g = -(-sz.filters // groups)
        if kind == "plain" and remainder:             # the packet remainder in filters
            f_g = sz.c
    c_in = sup.value(src, "channels") or groups * cin_g
    filters = sup.value(src, "filters") or groups * f_g
    if c_in % groups or filters % groups:
        return None, None, None
    return groups, c_in // groups, filters // groups


def _dilation(src: Source, sup: Supports, rank: int) -> tuple[list[int], bool]:
    """The dilation per axis, and whether it was drawn to be dilated."""
    fixed = sup.value(src, "dilation_rate")
    if fixed is not None:
        return list(fixed), max(fixed) > 1
    dilated, same, one = src.boolean(0.3), src.boolean(0.4), src.integer(2, 3)
    each = [src.integer(1, 3) for _ in range(rank)]
    if not dilated:
        return [1] * rank, False
    return ([one] * rank if same else each), True


def _kernel_size(src: Source, sup: Supports, spatial: list[int], dilation: list[int],
                 pad: str) -> list[int]:
    fixed = sup.value(src, "kernel_size")
    if fixed is not None:
        return list(fixed)
    fits = [n if pad == "same" else (n - 1) // d + 1         # the largest k whose span fits
            for n, d in zip(spatial, dilation)]
    kernel_size = [max(1, min(_window(src, fit, pad, span_limit=3), 4)) for fit in fits]
    i = _nonsquare(src, len(spatial))
    if i is not None:
        kernel_size[i] = min(kernel_size[i] + 1, max(fits[i], 1), 4)
    return kernel_size


#: The drawer of each (forward) family.
_FAMILIES = {"max_pool": _pool, "avg_pool": _pool, "global_max_pool": _global,
             "global_avg_pool": _global, "zero_pad": _zero_pad, "conv": _conv}


def draft(src: Source, s: OpSpec, sup: Supports, corner: str, limit: int) -> Draft | None:
    """The sizes and parameters of one case of ``s`` (``None``: this draw does not fit
    ``supports``; draw again)."""
    fwd = forward_of(s) if is_gradient(s) else s
    return _FAMILIES[fwd.family](src, s, _sizes(src, sup, corner), sup, corner, limit)
