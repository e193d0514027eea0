"""The built-in entries of the op table (:mod:`pooling_ref.ops`): one
:class:`~pooling_ref.ops.OpSpec` per op and rank, in the style of PyTorch's OpInfo.

>>> from pooling_ref.ops import spec
>>> s = spec("avg_pool2d")
>>> s.reference.__name__, s.mode, s.draw.__name__, s.keras.__name__, s.rules
('avg_pool', 'bound', 'draw_pool', 'average_pooling', ('forward', 'avg'))

Each family's behaviour is a handful of shared objects, named once below: how its cases
are drawn (:mod:`pooling_ref._params`, :class:`pooling_ref._special.Corners`), shrunk
(:mod:`pooling_ref.oracle.moves`) and explained (:mod:`pooling_ref.oracle.context`,
:mod:`pooling_ref.explain`), and run in Keras by ``verify``
(:mod:`pooling_ref.keras_ops`). Nothing else in the package chooses by family name.
Gradient ops (``max_pool{r}d_grad`` ...) draw their forward op's case plus a ``grad_out``
shaped like its result; max pooling gradients are compared bit for bit (the tie rule of
``tf_kernel``), average pooling and convolution gradients within the bounds derived in
:mod:`pooling_ref.tolerance`.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from . import explain as hint
from . import keras_ops, methods, tolerance
from ._params import draw_conv, draw_global, draw_pool, draw_zero_pad
from ._params_window import draw_adaptive, draw_argmax
from ._special import Corners
from .adaptive import adaptive_avg_pool, adaptive_max_pool
from .conv import conv
from .explain import conv_window, global_window, pool_window
from .geometry import check_bool, normalize_tuple
from .gradients import avg_pool_grad, conv_grad, max_pool_grad
from .ops import OpSpec, register, spec
from .oracle import moves
from .oracle.context import grad_ties, window_context, zero_pad_context
from .padding import normalize_zero_padding, zero_pad
from .pooling import avg_pool, global_avg_pool, global_max_pool, max_pool, max_pool_with_argmax

__all__ = ["RANKS"]

RANKS = (1, 2, 3)

_WINDOW = ("pool_size", "strides", "padding", "data_format")
_CONV = ("strides", "padding", "data_format", "dilation_rate", "groups")
_GLOBAL = ("data_format", "keepdims")
#: ``supports=`` keys of every op that restrict sizes, not parameters (conv adds filters).
_SIZES = ("batch", "channels", "spatial")

# ----------------------------------------------------------------------------- behaviours

_POOL_MOVES = (moves.batch, moves.channels, moves.spatial, moves.window_ints, moves.padding,
               moves.defaults, moves.values)
_ZERO_PAD_MOVES = (moves.batch, moves.channels, moves.spatial, moves.zero_padding,
                   moves.defaults, moves.values)
_CONV_MOVES = (moves.batch, moves.conv_channels, moves.spatial, moves.kernel,
               moves.window_ints, moves.padding, moves.defaults, moves.values)

_ALL_CORNERS = Corners()
_SUM_CORNERS = Corners(largest_finite=("float32", "float64"))   # overflow defined as TF
_CONV_CORNERS = Corners(largest_finite=(), subnormal=False)

_MAX_ZERO = partial(hint.zero_sign, maxima=True, words=(
    "-0.0 vs +0.0: TF keeps the first of equal maxima (row-major window order)"))
_GLOBAL_MAX_ZERO = partial(hint.zero_sign, maxima=True, words=(
    "-0.0 vs +0.0: TF's reduce_max keeps the last of equal maxima (row-major order)"))
_PAD_ZERO = partial(hint.zero_sign, words=(
    "-0.0 vs +0.0: zero padding must copy the input bit for bit (your kernel turned -0.0 "
    "into +0.0)"))

# ----------------------------------------------------------------------------- forward ops


def _forward(name: str, family: str, reference, **fields) -> None:
    for r in RANKS:
        register(OpSpec(f"{name}{r}d", family, r, reference, **fields))


_forward(
    "max_pool", "max_pool", max_pool, mode="bitwise", keras_mode="bitwise",
    params=_WINDOW, supportable=(*_WINDOW, *_SIZES), int_dtypes=True, nan_rule=True,
    tf_kernel=True, draw=draw_pool, corners=_ALL_CORNERS, moves=_POOL_MOVES,
    context=window_context, window_of=pool_window, rules=("forward", "max"),
    hints=(hint.rule_set, hint.nan_rule, hint.wide_ints, _MAX_ZERO, hint.empty_window,
           partial(hint.pad_split, exact=True)),
    keras=keras_ops.max_pooling, keras_xla=True)
_forward(
    "avg_pool", "avg_pool", avg_pool, mode="bound", keras_mode="bitwise",
    params=_WINDOW, supportable=(*_WINDOW, *_SIZES), tf_kernel=True,
    bound=lambda a, p: tolerance.avg_pool_bound(a["x"], **p),
    draw=draw_pool, corners=_SUM_CORNERS, moves=_POOL_MOVES, context=window_context,
    window_of=pool_window, rules=("forward", "avg"),
    hints=(hint.rule_set, hint.zero_sign, hint.nan_skipped, hint.overflow,
           hint.full_window, hint.pad_split),
    keras=keras_ops.average_pooling, keras_xla=True,
    keras_mode_xla="bound")              # registry xla-avg-pool-division
_forward(
    "global_max_pool", "global_max_pool", global_max_pool, mode="bitwise",
    keras_mode="bitwise", params=_GLOBAL, supportable=(*_GLOBAL, *_SIZES), int_dtypes=True,
    tf_kernel=True, methods=False, draw=draw_global, corners=_ALL_CORNERS,
    moves=_POOL_MOVES, window_of=global_window, rules=("forward", "global_max"),
    hints=(hint.rule_set, hint.wide_ints, _GLOBAL_MAX_ZERO),
    unspecified=tolerance.unspecified_global_max,
    keras=keras_ops.global_max_pooling, keras_xla=True)
_forward(
    "global_avg_pool", "global_avg_pool", global_avg_pool, mode="bound", keras_mode="bound",
    params=_GLOBAL, supportable=(*_GLOBAL, *_SIZES), int_dtypes=True, tf_kernel=True,
    methods=False, bound=lambda a, p: tolerance.global_avg_pool_bound(a["x"], **p),
    draw=draw_global, corners=_ALL_CORNERS, moves=_POOL_MOVES, window_of=global_window,
    rules=("forward", "global_avg"),
    hints=(hint.rule_set, hint.zero_sign, hint.nan_skipped, hint.overflow),
    keras=keras_ops.global_average_pooling, keras_xla=True)
_forward(
    "zero_pad", "zero_pad", zero_pad, mode="bitwise", keras_mode="bitwise",
    params=("padding", "data_format"), supportable=("padding", "data_format", *_SIZES),
    int_dtypes=True, draw=draw_zero_pad, corners=_ALL_CORNERS,
    normalize={"padding": normalize_zero_padding}, moves=_ZERO_PAD_MOVES,
    context=zero_pad_context, hints=(hint.wide_ints, _PAD_ZERO),
    keras=keras_ops.zero_padding)
_forward(
    "conv", "conv", conv, mode="bound", keras_mode="bound", params=_CONV,
    supportable=(*_CONV, "kernel_size", "bias", *_SIZES, "filters"),
    keyword_arrays=("kernel", "bias"),
    bound=lambda a, p: tolerance.conv_bound(a["x"], a["kernel"], a.get("bias"), **p),
    draw=draw_conv, corners=_CONV_CORNERS, moves=_CONV_MOVES, context=window_context,
    window_of=conv_window, hints=(hint.zero_sign, hint.nan_skipped, hint.pad_split),
    keras=keras_ops.convolution)

# ----------------------------------------------------------------------------- issue 21

_ARGMAX = ("pool_size", "strides", "padding", "include_batch_in_index")
_ADAPTIVE = ("output_size", "data_format")
_ADAPTIVE_MOVES = (moves.batch, moves.channels, moves.defaults, moves.values)
_OUTPUT_SIZE = {"output_size": lambda v, r: normalize_tuple(v, r, "output_size", None)}

for _r in RANKS:      # tf.nn.max_pool_with_argmax is 2D only: the other ranks have no runner
    register(OpSpec(
        f"max_pool_with_argmax{_r}d", "max_pool_with_argmax", _r, max_pool_with_argmax,
        mode="bitwise", keras_mode="bitwise", params=_ARGMAX, supportable=(*_ARGMAX, *_SIZES),
        int_dtypes=True, nan_rule=True, outputs=2, output_names=("y", "argmax"),
        method_names=methods.names("max_pool_argmax"), draw=draw_argmax,
        corners=_ALL_CORNERS, moves=_POOL_MOVES, context=window_context,
        window_of=pool_window,
        normalize={"include_batch_in_index": lambda v, r: check_bool(
            v, "include_batch_in_index", None)},
        keras=keras_ops.max_pool_with_argmax if _r == 2 else None))
_forward(
    "adaptive_avg_pool", "adaptive_avg_pool", adaptive_avg_pool, mode="bound",
    keras_mode="bitwise", params=_ADAPTIVE, supportable=(*_ADAPTIVE, *_SIZES),
    tf_kernel=True, bound=lambda a, p: tolerance.adaptive_avg_pool_bound(a["x"], **p),
    method_names=methods.names("avg_pool"), compiled=True,      # avg_pool's methods
    draw=draw_adaptive, corners=_SUM_CORNERS,
    normalize=_OUTPUT_SIZE, moves=_ADAPTIVE_MOVES, rules=("forward", "avg"),
    hints=(hint.rule_set, hint.zero_sign, hint.nan_skipped, hint.overflow),
    keras=keras_ops.adaptive_average_pooling)
_forward(
    "adaptive_max_pool", "adaptive_max_pool", adaptive_max_pool, mode="bitwise",
    keras_mode="bitwise", params=_ADAPTIVE, supportable=(*_ADAPTIVE, *_SIZES),
    nan_rule=True, tf_kernel=True, method_names=methods.names("max_pool"), compiled=True,
    draw=draw_adaptive, corners=_ALL_CORNERS, normalize=_OUTPUT_SIZE,
    moves=_ADAPTIVE_MOVES, rules=("forward", "max"),
    hints=(hint.rule_set, hint.nan_rule, _MAX_ZERO),
    keras=keras_ops.adaptive_max_pooling)

# ----------------------------------------------------------------------------- gradient ops


def _gradient(name: str, family: str, reference, forward: str, **fields) -> None:
    """``{name}{r}d_grad`` for each rank: drawn with its forward op's drawer and corners."""
    for r in RANKS:
        fwd = f"{forward}{r}d"
        from_forward = {"draw": spec(fwd).draw, "corners": spec(fwd).corners}
        register(OpSpec(f"{name}{r}d_grad", family, r, reference, forward=fwd,
                        **{**from_forward, **fields}))


_GRAD_POOL = dict(params=_WINDOW, supportable=(*_WINDOW, *_SIZES),
                  positional=("x", "grad_out"), output_names=("grad_x",), tf_kernel=True,
                  moves=(moves.gradient,), keras_xla=True)
_gradient(
    "max_pool", "max_pool_grad", max_pool_grad, "max_pool", mode="bitwise",
    keras_mode="bitwise", corners=replace(_ALL_CORNERS, plain_ties=True),
    rules=("grad", "max"), hints=(grad_ties,), keras=keras_ops.max_pooling_grad,
    **_GRAD_POOL)
_gradient(
    "avg_pool", "avg_pool_grad", avg_pool_grad, "avg_pool", mode="bound",
    keras_mode="bound", corners=Corners(into="grad_out"), rules=("grad", "avg"),
    bound=lambda a, p: tolerance.avg_pool_grad_bound(a["x"], a["grad_out"], **p),
    keras=keras_ops.average_pooling_grad, **_GRAD_POOL)
_gradient(
    "conv", "conv_grad", conv_grad, "conv", mode="bound", keras_mode="bound", params=_CONV,
    supportable=(*_CONV, "kernel_size", *_SIZES, "filters"),
    positional=("x", "kernel", "grad_out"), outputs=3,
    output_names=("grad_x", "grad_kernel", "grad_bias"),
    bound=lambda a, p: tolerance.conv_grad_bounds(a["x"], a["kernel"], a["grad_out"], **p),
    moves=(partial(moves.gradient, channels_shared=False),),
    keras=keras_ops.convolution_grad)

# the torch / ONNX entries and the LiteRT quantized entries, registered after these
from . import _optable_dialects, _optable_litert  # noqa: E402, F401
