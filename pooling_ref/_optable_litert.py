"""The op table's LiteRT quantized pooling entries: ``litert.{average,max}_pool_2d_{dtype}``
for int8, uint8 and int16 (one entry per dtype: the zero point, the limits and the ties are
drawn for that dtype), and the dtype aliases ``litert.average_pool_2d_q`` /
``litert.max_pool_2d_q`` (the public names: ``check(kernel, "litert.average_pool_2d_q",
dtype="uint8")`` runs the uint8 entry; int8 when no dtype is given).

A candidate is called like :func:`pooling_ref.dialects.litert.average_pool_2d_q` (NHWC
``x``, ``filter_size, strides, padding, scale, zero_point[, activation]``) and compared bit
for bit with it (LiteRT's builtin and reference kernels).

>>> from pooling_ref.ops import resolve, spec
>>> spec("litert.max_pool_2d_uint8").dtypes, resolve("litert.max_pool_2d_q", "int16")
(('uint8',), 'litert.max_pool_2d_int16')
"""

from __future__ import annotations

from functools import partial

from ._litert_draw import (
    QUANTIZED_CORNERS,
    draw_quantized,
    fill_quantized,
    normalize_activation,
    normalize_pair,
    normalize_scale,
    normalize_zero_point,
)
from ._litert_hints import average_rules, litert_context, litert_window, max_rules
from ._special import Corners
from .dialects import litert
from .ops import OpSpec, register, register_dtype_alias
from .oracle import moves

__all__ = ["LITERT_DTYPES"]

#: The quantized dtypes of LiteRT's pooling kernels: one op per dtype and kind.
LITERT_DTYPES = ("int8", "uint8", "int16")
_LITERT = ("filter_size", "strides", "padding", "scale", "zero_point", "activation")
_LITERT_NORMAL = {"filter_size": normalize_pair, "activation": normalize_activation,
                  "scale": normalize_scale, "zero_point": normalize_zero_point}


def _litert(kind: str, reference, hints, corners: tuple[str, ...]) -> None:
    """``litert.{kind}_pool_2d_{dtype}`` for each dtype, and the alias
    ``litert.{kind}_pool_2d_q`` over them."""
    ops = {}
    for dtype in LITERT_DTYPES:
        ops[dtype] = register(OpSpec(
            f"litert.{kind}_pool_2d_{dtype}", f"litert.{kind}_pool_2d", 2, reference,
            "bitwise", "bitwise", _LITERT, (*_LITERT, "batch", "channels", "spatial"),
            dtypes=(dtype,), methods=False, draw=draw_quantized,
            corners=Corners(own=corners), normalize=_LITERT_NORMAL,
            fill=partial(fill_quantized, ties=kind == "average"),
            moves=(moves.batch, moves.channels, moves.spatial, moves.litert_params),
            context=litert_context, window_of=litert_window, hints=hints)).name
    register_dtype_alias(f"litert.{kind}_pool_2d_q", ops)


_litert("average", litert.average_pool_2d_q, (average_rules,), QUANTIZED_CORNERS)
_litert("max", litert.max_pool_2d_q, (max_rules,),
        tuple(c for c in QUANTIZED_CORNERS if c != "rounding ties"))
