"""The sizes and parameters of the torch and ONNX pooling ops of the op table
(``torch.max_pool2d``, ``onnx.average_pool``, ...), in the framework's own names, drawn like
:mod:`pooling_ref._params`: the corners where converters err come often — a ceil_mode
window that would start in the padding (dropped), a ceil overhang with
``count_include_pad``, padding up to the framework's limit (torch: half the kernel; ONNX:
below the kernel), ``SAME_LOWER``, ``SAME`` with dilation, ``divisor_override``; jax's
``init_value``, base dilation and negative pads.

>>> import numpy as np
>>> from pooling_ref._draw import NumpySource
>>> from pooling_ref.ops import spec
>>> from pooling_ref._supports import Supports
>>> from pooling_ref._params import draft
>>> src, s = NumpySource(np.random.default_rng(1)), spec("torch.avg_pool2d")
>>> drafts = (draft(src, s, Supports(s.name), "", 4) for _ in range(50))
>>> d = next(d for d in drafts if d is not None)        # None: did not fit, draw again
>>> "kernel_size" in d.params and set(d.params) <= set(s.params)
True
"""

from __future__ import annotations

import numpy as np

from ._draw import Source
from ._params import Draft, _Sizes, _spatial
from ._supports import Supports
from .ops import OpSpec

__all__ = ["draw_jax_reduce_window", "draw_onnx_pool", "draw_torch_pool"]


def _fits(s: OpSpec, d: Draft, layout: str = "channels_first") -> Draft | None:
    """``d`` if the reference accepts it (the window fits, the framework's limits hold)
    and has an output, else ``None``: draw again."""
    shape = (d.n, d.c, *d.spatial) if layout == "channels_first" else (d.n, *d.spatial, d.c)
    x = np.zeros(shape if layout != "channels_first" else (1, 1, *d.spatial), np.float32)
    try:
        y = s.run_reference({"x": x}, d.params)
    except ValueError:
        return None
    return d if np.size(y[0] if isinstance(y, tuple) else y) else None     # jax: empty


def _window(src: Source, sup: Supports, key: str, spatial: list[int]) -> list[int]:
    fixed = sup.value(src, key)
    if fixed is not None:
        return list(fixed)
    return [src.integer(1, max(1, min(n + 1, 4))) for n in spatial]


def _strides(src: Source, kernel: list[int]) -> list[int]:
    """Equal to the kernel, one more (ceil-mode windows that start in the padding), 1, or
    any small stride."""
    kind = src.choice(["kernel", "more", "one", "any"], [0.3, 0.3, 0.2, 0.2])
    any_ = [src.integer(1, 3) for _ in kernel]
    return {"kernel": kernel, "more": [k + 1 for k in kernel], "one": [1] * len(kernel),
            "any": any_}[kind]


def _give(src: Source, sup: Supports, params: dict, key: str, value, p: float = 0.7) -> None:
    """Pass ``key`` in about ``p`` of the cases (always when ``supports`` restricts it)."""
    if src.boolean(p) or sup.restricted(key):
        params[key] = value


def draw_torch_pool(src: Source, s: OpSpec, sz: _Sizes, sup: Supports, corner: str,
                    limit: int) -> Draft | None:
    """``torch.nn.functional.max_pool{r}d`` / ``avg_pool{r}d`` arguments (the entry's
    ``params`` say which of dilation, return_indices, count_include_pad, divisor_override
    apply)."""
    spatial = _spatial(src, sup, s.rank, limit)
    kernel = _window(src, sup, "kernel_size", spatial)
    params: dict = {"kernel_size": tuple(kernel)}
    stride = sup.value(src, "stride") or tuple(_strides(src, kernel))
    _give(src, sup, params, "stride", stride)
    at_limit = src.boolean(0.5)                  # padding = half the kernel: torch's limit
    padding = sup.value(src, "padding") or tuple(
        k // 2 if at_limit else src.integer(0, k // 2) for k in kernel)
    _give(src, sup, params, "padding", padding)
    _give(src, sup, params, "ceil_mode", sup.pick(src, "ceil_mode", [True, False]), 0.6)
    if "dilation" in s.params:
        dilation = sup.value(src, "dilation") or tuple(
            src.choice([1, 1, 2, 3]) for _ in kernel)
        _give(src, sup, params, "dilation", dilation, 0.4)
    if "count_include_pad" in s.params:
        _give(src, sup, params, "count_include_pad",
              sup.pick(src, "count_include_pad", [False, True]), 0.6)
    if "divisor_override" in s.params:
        override = src.integer(1, int(np.prod(kernel)) + 2)
        if src.boolean(0.2) or sup.restricted("divisor_override"):
            params["divisor_override"] = sup.pick(src, "divisor_override", [override])
    if "return_indices" in s.params:
        params["return_indices"] = True
    return _fits(s, Draft(sz.n, sz.c, spatial, params))


def draw_onnx_pool(src: Source, s: OpSpec, sz: _Sizes, sup: Supports, corner: str,
                   limit: int) -> Draft | None:
    """ONNX ``MaxPool`` / ``AveragePool`` attributes (lists, as an ONNX node holds them):
    explicit ``pads`` below the kernel or ``auto_pad`` SAME_UPPER / SAME_LOWER / VALID,
    dilations (with SAME too), ceil_mode, and ``count_include_pad`` / ``storage_order``."""
    spatial = _spatial(src, sup, s.rank, limit)
    kernel = _window(src, sup, "kernel_shape", spatial)
    params: dict = {"kernel_shape": kernel}
    auto_pad = sup.pick(src, "auto_pad", ["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"],
                        [0.4, 0.2, 0.2, 0.2])
    pads = [src.integer(0, k - 1) for k in kernel] + [src.integer(0, k - 1) for k in kernel]
    if auto_pad != "NOTSET" or sup.restricted("auto_pad"):
        params["auto_pad"] = auto_pad
    else:
        _give(src, sup, params, "pads", pads)
    _give(src, sup, params, "strides", list(_strides(src, kernel)))
    dilations = [src.choice([1, 1, 2, 3]) for _ in kernel]
    _give(src, sup, params, "dilations", dilations, 0.3)
    _give(src, sup, params, "ceil_mode", sup.pick(src, "ceil_mode", [1, 0]), 0.5)
    for key in ("count_include_pad", "storage_order"):
        if key in s.params:
            _give(src, sup, params, key, sup.pick(src, key, [1, 0]), 0.5)
    return _fits(s, Draft(sz.n, sz.c, spatial, params))


def _jax_window(src: Source, sup: Supports, spatial: list[int], c: int, n: int):
    """jax windows over every axis of ``(N, *spatial, C)``: the spatial ones, and now and
    then one over the channels or the batch (jax reduces those too)."""
    window = [1, *_window(src, sup, "window_dimensions", spatial), 1]
    strides = [1, *_strides(src, window[1:-1]), 1]
    extra = src.choice(["none", "channels", "batch"], [0.8, 0.1, 0.1])
    axis, size = {"channels": (-1, c), "batch": (0, n)}.get(extra, (None, 1))
    if axis is not None and size > 1:
        window[axis] = src.integer(2, min(size, 3))
        strides[axis] = src.integer(1, 2)
    return window, strides


def _jax_padding(src: Source, sup: Supports, window: list[int]):
    """A padding name, or explicit pairs (negative ones crop) on the windowed axes."""
    name = sup.pick(src, "padding", ["SAME", "VALID", "SAME_LOWER", "explicit"],
                    [0.3, 0.2, 0.2, 0.3])
    if name != "explicit":
        return name
    return [(0, 0) if k == 1 and i in (0, len(window) - 1) else
            (src.integer(-1, k), src.integer(-1, k)) for i, k in enumerate(window)]


def draw_jax_reduce_window(src: Source, s: OpSpec, sz: _Sizes, sup: Supports, corner: str,
                           limit: int) -> Draft | None:
    """``jax.lax.reduce_window`` arguments on an NHWC input: ``computation`` ``"max"`` /
    ``"add"``; ``init_value`` the identity (``-inf`` / ``0``) or not (``0``, ``-0``, ``1``,
    NaN: it takes part in every window); ``"SAME"`` / ``"SAME_LOWER"`` / ``"VALID"`` or
    explicit pairs, negative ones too; ``base_dilation`` (holes) and ``window_dilation``."""
    spatial = _spatial(src, sup, s.rank, limit)
    window, strides = _jax_window(src, sup, spatial, sz.c, sz.n)
    computation = sup.pick(src, "computation", ["max", "add"])
    inits = ([-np.inf, 0.0, -0.0, 1.0, np.nan], [0.6, 0.1, 0.1, 0.1, 0.1]) \
        if computation == "max" else ([0.0, 1.0, -0.5], [0.7, 0.15, 0.15])
    params: dict = {"init_value": src.choice(*inits), "computation": computation,
                    "window_dimensions": tuple(window), "window_strides": tuple(strides),
                    "padding": _jax_padding(src, sup, window)}
    rank = len(window)
    if src.boolean(0.3):
        params["base_dilation"] = tuple(1 if i in (0, rank - 1) else src.choice([1, 2, 3])
                                        for i in range(rank))
    if src.boolean(0.3):
        params["window_dilation"] = tuple(1 if i in (0, rank - 1) else src.choice([1, 2])
                                          for i in range(rank))
    return _fits(s, Draft(sz.n, sz.c, spatial, params), layout="channels_last")
