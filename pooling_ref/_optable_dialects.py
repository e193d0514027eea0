"""The op table's entries of other frameworks' pooling: ``torch.max_pool{r}d`` (and
``torch.max_pool{r}d_with_indices``, called with ``return_indices=True``),
``torch.avg_pool{r}d``, ``onnx.max_pool`` and ``onnx.average_pool`` (2D: an ONNX node of
rank 2), ``jax.reduce_window`` (``max`` bitwise, ``add`` within the bound; an NHWC input,
jax's windows over all four axes). A candidate is called like the dialect function — the
framework's names, defaults and layout (torch, ONNX: ``(N, C, *spatial)``) — and compared
with it
(:mod:`pooling_ref.dialects`): max pooling and indices bit for bit, averages within the
bound of a sum of the window's cells.

>>> from pooling_ref.ops import spec
>>> s = spec("torch.avg_pool2d")
>>> s.reference.__module__, s.mode, s.channels_first, s.params[:3]
('pooling_ref.dialects.torch', 'bound', True, ('kernel_size', 'stride', 'padding'))
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from . import _dialect_hints as dh
from . import explain as hint
from ._params_dialect import draw_jax_reduce_window, draw_onnx_pool, draw_torch_pool
from ._special import Corners
from .dialects import jax as pj
from .dialects import onnx as po
from .dialects import torch as pt
from .explain import pool_window
from .geometry import check_bool, normalize_tuple, plan_window
from .ops import OpSpec, register
from .oracle import moves
from .oracle.context import window_context
from .tolerance import error_bound

__all__ = ["DIALECT_OPS"]

_SIZES = ("batch", "channels", "spatial")
_MOVES = (moves.batch, moves.channels, moves.spatial, moves.values)
#: Sums of the largest floats overflow the same way only in float32/64 (as for avg_pool).
_SUM_CORNERS = Corners(largest_finite=("float32", "float64"))


def _tuple(name: str, minimum: int = 1):
    return lambda v, r: normalize_tuple(v, r, name, None, minimum=minimum)


def _flag(name: str):
    return lambda v, r: check_bool(v, name, None)


def _zero_one(name: str):
    def normal(v, r):
        if v not in (0, 1) or isinstance(v, (bool, float)):
            raise ValueError(f"{name} must be 0 or 1, got {v!r}")
        return int(v)
    return normal


def _torch_geometry(case):
    return pt.window_geometry(case.rank, case.spatial, **case.scalar_params)


def _onnx_geometry(case):
    return po.window_geometry(case.spatial, **case.scalar_params)


def _avg_bound(s_geometry, reference, arrays: dict, params: dict) -> np.ndarray:
    """A sum of the window's cells and one division, in any order (tolerance's bound with
    ``mag`` the same average of ``|x|`` in float64; divisor_override scales both)."""
    x = np.asarray(arrays["x"])
    mag = reference(np.abs(x.astype(np.float64)), **params)
    cells = math.prod(s_geometry(x.shape[2:], params).window)
    acc = x.dtype if x.dtype == np.float16 else None
    return error_bound(mag, cells + 1, x.dtype, acc)


_TORCH_NORMAL = {"stride": _tuple("stride"), "padding": _tuple("padding", 0),
                 "dilation": _tuple("dilation"), "ceil_mode": _flag("ceil_mode"),
                 "count_include_pad": _flag("count_include_pad"),
                 "return_indices": _flag("return_indices"),
                 "divisor_override": lambda v, r: int(v)}
_ONNX_NORMAL = {"kernel_shape": _tuple("kernel_shape"), "strides": _tuple("strides"),
                "dilations": _tuple("dilations"), "auto_pad": lambda v, r: str(v),
                **{k: _zero_one(k) for k in ("ceil_mode", "count_include_pad",
                                             "storage_order")}}
_TORCH_MAX = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")
_TORCH_AVG = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
              "divisor_override")
_ONNX_WINDOW = ("kernel_shape", "auto_pad", "pads", "strides", "dilations", "ceil_mode")
_ONNX_SUPPORTABLE = ("kernel_shape", "auto_pad", "strides", "dilations", "ceil_mode")

_COMMON = dict(keras_mode="bitwise", channels_first=True, moves=_MOVES,
               context=window_context, window_of=pool_window,
               shape_hints=(dh.ceil_drop, dh.ceil_ignored))


def _torch(rank: int) -> None:
    geometry = partial(pt.window_geometry, rank)
    torch_common = dict(_COMMON, geometry=_torch_geometry, draw=draw_torch_pool,
                        normalize=_TORCH_NORMAL)
    max_pool = getattr(pt, f"max_pool{rank}d")
    register(OpSpec(
        f"torch.max_pool{rank}d", "torch.max_pool", rank, max_pool, mode="bitwise",
        params=_TORCH_MAX, supportable=(*_TORCH_MAX, *_SIZES), corners=Corners(),
        hints=(dh.nan_ignored,), **torch_common))
    register(OpSpec(
        f"torch.max_pool{rank}d_with_indices", "torch.max_pool_with_indices", rank, max_pool,
        mode="bitwise", params=(*_TORCH_MAX, "return_indices"),
        supportable=(*_TORCH_MAX, *_SIZES), outputs=2, output_names=("values", "indices"),
        corners=Corners(), hints=(dh.nan_ignored, dh.index_format), **torch_common))
    avg_pool = getattr(pt, f"avg_pool{rank}d")
    # torch.nn.functional.avg_pool1d has no divisor_override (2d and 3d have it)
    avg_params = _TORCH_AVG if rank > 1 else _TORCH_AVG[:-1]
    register(OpSpec(
        f"torch.avg_pool{rank}d", "torch.avg_pool", rank, avg_pool, mode="bound",
        params=avg_params, supportable=(*avg_params, *_SIZES), corners=_SUM_CORNERS,
        bound=partial(_avg_bound, lambda sp, p: geometry(sp, **p), avg_pool),
        hints=(dh.divisor_rule, hint.nan_skipped, hint.overflow), **torch_common))


def _onnx() -> None:
    onnx_common = dict(_COMMON, geometry=_onnx_geometry, draw=draw_onnx_pool,
                       normalize=_ONNX_NORMAL)
    register(OpSpec(
        "onnx.max_pool", "onnx.max_pool", 2, po.max_pool, mode="bitwise",
        params=(*_ONNX_WINDOW, "storage_order"),
        supportable=(*_ONNX_SUPPORTABLE, "storage_order", *_SIZES), outputs=2,
        output_names=("Y", "Indices"), corners=Corners(), hints=(dh.same_side,
                                                                 dh.index_format),
        **onnx_common))
    register(OpSpec(
        "onnx.average_pool", "onnx.average_pool", 2, po.average_pool, mode="bound",
        params=(*_ONNX_WINDOW, "count_include_pad"),
        supportable=(*_ONNX_SUPPORTABLE, "count_include_pad", *_SIZES),
        corners=_SUM_CORNERS,
        bound=partial(_avg_bound, lambda sp, p: po.window_geometry(sp, **p), po.average_pool),
        hints=(dh.divisor_rule, dh.same_side, hint.nan_skipped, hint.overflow),
        **onnx_common))


def _jax_bound(arrays: dict, params: dict) -> np.ndarray | None:
    """``add``: a sum of the window's cells and ``init_value`` in any order, 16-bit floats
    accumulated in their own dtype (jax's XLA CPU, measured); ``max``: bitwise (None)."""
    if params.get("computation", "max") == "max":
        return None
    x = np.asarray(arrays["x"])
    mag = pj.reduce_window(np.abs(x.astype(np.float64)), abs(float(params["init_value"])),
                           **{k: v for k, v in params.items() if k != "init_value"})
    return error_bound(mag, math.prod(params["window_dimensions"]) + 1, x.dtype, x.dtype)


def _jax_geometry(case):
    """The spatial axes' geometry where it is the core's plain one (no base dilation, no
    crop, batch and channel windows trivial), else None (the whole input is shown)."""
    p = case.scalar_params
    pads = dh.jax_pads(case)
    window, strides = p["window_dimensions"], p["window_strides"]
    if pads is None or any(b != 1 for b in p.get("base_dilation") or ()) or \
            any(lo < 0 or hi < 0 for lo, hi in pads) or \
            any(window[i] != 1 or strides[i] != 1 for i in (0, -1)):
        return None
    dilation = (p.get("window_dilation") or (1,) * len(window))[1:-1]
    return plan_window(case.spatial, window[1:-1], strides[1:-1], pads[1:-1], dilation,
                       case.op, window_name="window_dimensions")


def _jax_context(case) -> list[str]:
    pads = dh.jax_pads(case)
    return [] if pads is None else [f"padding (lo, hi) per axis of x (N, H, W, C), on its "
                                    f"base-dilated extent: {list(pads)}"]


def _jax() -> None:
    register(OpSpec(
        "jax.reduce_window", "jax.reduce_window", 2, pj.reduce_window, mode="bound",
        keras_mode="bitwise", bound=_jax_bound,
        params=("init_value", "computation", "window_dimensions", "window_strides",
                "padding", "base_dilation", "window_dilation"),
        supportable=("computation", *_SIZES), corners=_SUM_CORNERS, moves=_MOVES,
        normalize={"computation": lambda v, r: str(v)}, draw=draw_jax_reduce_window,
        geometry=_jax_geometry, context=_jax_context,
        hints=(dh.jax_nan_ignored, dh.jax_zero_sign, dh.jax_init_value,
               dh.jax_base_dilation, dh.jax_padding_cells, hint.overflow)))


for _rank in (1, 2, 3):
    _torch(_rank)
_onnx()
_jax()

#: The op names this module registers.
DIALECT_OPS = (*(f"torch.{op}{r}d{tail}" for op, tail in (
    ("max_pool", ""), ("max_pool", "_with_indices"), ("avg_pool", "")) for r in (1, 2, 3)),
    "onnx.max_pool", "onnx.average_pool", "jax.reduce_window")
