"""Argument checking of the public ops: each op's arguments normalised, its geometry
planned, its arrays in the canonical layout — shared by an op, its gradient and its error
bound, so no op module imports another.

>>> import numpy as np
>>> x_cl, g, fmt = prepare_pool("max_pool", np.zeros((1, 3, 5, 5)), 2, None, "same",
...                             "channels_first")
>>> x_cl.shape, g.out_spatial, fmt
((1, 5, 5, 3), (3, 3), 'channels_first')
"""

from __future__ import annotations

import functools

import numpy as np

from ._arrays import as_input, channels_axes, to_channels_last
from ._conv_kernels import ConvProblem, compute_dtype
from .dtypes import is_float_dtype
from .geometry import (
    as_int,
    batch_hint,
    check_bool,
    check_strides_dilation,
    normalize_data_format,
    normalize_divisor,
    normalize_padding,
    normalize_pool_padding,
    normalize_tuple,
    normalize_window_strides,
    plan_window,
)

__all__ = ["call_key", "check_grad_out", "prepare_conv", "prepare_pool"]


def prepare_pool(op, x, pool_size, strides, padding, data_format, *, ceil_mode=False,
                 dilation_rate=1, divisor="real"):
    """``(x_cl, geometry, data_format)`` of a pooling call (or its gradient, its bound):
    arguments normalised (the general window model: explicit pads, ``"same_lower"``,
    ``ceil_mode``, ``dilation_rate``, ``divisor``), ``x`` as a channels_last view.

    >>> _, g, _ = prepare_pool("avg_pool", np.zeros((1, 5, 1)), 4, None, [(0, 0)], None,
    ...                        ceil_mode=True, divisor="padded")
    >>> g.out_spatial, g.pads, g.divisor
    ((2,), ((0, 3),), 'padded')

    The normalisation depends on the arguments and ``x``'s shape only, so it is cached
    (:func:`_normalized_pool`) when every argument is a plain value (:func:`_plain`): a
    repeated call skips it, and a call that would raise always runs it (errors are never
    cached, and a cached key matches only arguments of the same types and values).
    """
    a = as_input(x, op)
    args = (op, a.shape, pool_size, strides, padding, data_format, ceil_mode,
            dilation_rate, divisor)
    if set(map(type, args[2:])) <= _SCALARS or all(map(_plain, args[2:])):
        g, data_format = _normalized_pool(*args)
    else:
        g, data_format = _normalize_pool(*args)
    return to_channels_last(a, data_format), g, data_format


def call_key(op: str, x: object, args: tuple) -> tuple | None:
    """A key of a whole call of ``op`` on ``x`` with ``args``, equal only for calls that
    the same set-up serves (same argument types and values, same shape and dtype of a
    C-contiguous array: nothing of its contents), or ``None`` (``x`` not an ndarray, not
    contiguous or not in native byte order, or an argument not plain: :func:`_plain`).

    >>> a = np.zeros((1, 4, 1), np.float32)
    >>> call_key("max", a, (2, True)) == call_key("max", a, (2, 1)), call_key("max", a, ([2],))
    (False, None)
    """
    if type(x) is not np.ndarray or not x.flags.c_contiguous or not x.dtype.isnative:
        return None
    types = tuple(map(type, args))
    if not (_SCALARS.issuperset(types) or all(map(_plain, args))):
        return None
    return op, x.shape, x.dtype, args, types


#: The argument types that are plain values on their own (:func:`_plain`).
_SCALARS = frozenset({int, str, bool, type(None)})


def _plain(value: object) -> bool:
    """Whether ``value`` is an int, str, bool or None, or a tuple of ints or of tuples of
    ints (exact types: ``(2, True)`` equals ``(2, 1)`` as a key, so no bool inside)."""
    kind = type(value)
    if kind is tuple:
        return all(type(v) is int or (type(v) is tuple and all(type(i) is int for i in v))
                   for v in value)
    return kind is int or kind is str or kind is bool or value is None


def _normalize_pool(op, shape, pool_size, strides, padding, data_format, ceil_mode,
                    dilation_rate, divisor):
    """``(geometry, data_format)``: the arguments checked and normalised for an input of
    ``shape``, in the order the errors are raised."""
    rank = len(shape) - 2
    pool, strides = normalize_window_strides(pool_size, strides, rank, op)
    padding = normalize_pool_padding(padding, rank, op)
    data_format = normalize_data_format(data_format, op)
    ceil_mode = check_bool(ceil_mode, "ceil_mode", op)
    dilation = normalize_tuple(dilation_rate, rank, "dilation_rate", op)
    divisor = normalize_divisor(divisor, op)
    spatial = [shape[i] for i in channels_axes(len(shape))[0]][1:-1] \
        if data_format == "channels_first" else shape[1:-1]
    g = plan_window(spatial, pool, strides, padding, dilation, op, ceil_mode=ceil_mode,
                    divisor=divisor)
    return g, data_format


#: :func:`_normalize_pool` memoised (``typed``: ``1`` and ``True`` are different keys).
_normalized_pool = functools.lru_cache(maxsize=1024, typed=True)(_normalize_pool)


def prepare_conv(x, kernel, bias, strides, padding, data_format, dilation_rate, groups,
                 op: str = "conv") -> tuple[ConvProblem, str]:
    """``(problem, data_format)`` of a convolution call (or its gradient, its bound):
    arguments checked and normalised, arrays channels_last in the compute dtype."""
    a = as_input(x, op)
    rank = a.ndim - 2
    w = np.asarray(kernel)
    if not (w.dtype.kind in "iuf" or is_float_dtype(w.dtype)):
        raise TypeError(f"{op}: kernel must be a real numeric array, got dtype {w.dtype.name}")
    if w.ndim != rank + 2:
        raise ValueError(
            f"{op}: kernel must have shape (*kernel_size, C_in // groups, filters) with "
            f"{rank + 2} dimensions for an input of spatial rank {rank}, got shape {w.shape!r}"
            f"{batch_hint(rank, w.ndim - 2)}"
        )
    if 0 in w.shape:
        raise ValueError(f"{op}: kernel must not have an empty axis, got shape {w.shape!r}")
    if isinstance(groups, (bool, np.bool_)):
        raise TypeError(f"{op}: groups must be an int, got {groups!r}")
    groups = as_int(groups, "groups", op)
    if groups < 1:
        raise ValueError(f"{op}: groups must be >= 1, got {groups!r}")
    fmt = normalize_data_format(data_format, op)
    x_cl = to_channels_last(a, fmt)
    c_in, filters = x_cl.shape[-1], w.shape[-1]
    if c_in % groups:
        raise ValueError(
            f"{op}: groups={groups} must divide the input channels C_in={c_in}")
    if filters % groups:
        raise ValueError(
            f"{op}: groups={groups} must divide the number of filters {filters} "
            f"(kernel shape {w.shape!r})")
    if w.shape[-2] * groups != c_in:
        raise ValueError(
            f"{op}: kernel shape {w.shape!r} expects C_in // groups = {w.shape[-2]} input "
            f"channels per group, but x has C_in={c_in} channels and groups={groups} "
            f"(C_in // groups = {c_in // groups})")
    b = None
    if bias is not None:
        b = np.asarray(bias)
        if not (b.dtype.kind in "iuf" or is_float_dtype(b.dtype)):
            raise TypeError(f"{op}: bias must be a real numeric array, got dtype {b.dtype.name}")
        if b.shape != (filters,):
            raise ValueError(
                f"{op}: bias must be None or have shape (filters,) = ({filters},), "
                f"got shape {b.shape!r}")
    strides = normalize_tuple(strides, rank, "strides", op)
    dilation = normalize_tuple(dilation_rate, rank, "dilation_rate", op)
    check_strides_dilation(strides, dilation, op)
    padding = normalize_padding(padding, op)
    g = plan_window(x_cl.shape[1:-1], w.shape[:-2], strides, padding, dilation, op,
                    window_name="kernel_size")
    out_dtype = np.result_type(x_cl.dtype, w.dtype)
    cd = compute_dtype(out_dtype)
    problem = ConvProblem(
        x_cl.astype(cd, copy=False), w.astype(cd, copy=False),
        None if b is None else b.astype(cd, copy=False), g, groups, out_dtype)
    return problem, fmt


def check_grad_out(grad_out: object, expected_cl: tuple[int, ...], dtype: np.dtype, fmt: str,
              op: str) -> np.ndarray:
    """``grad_out`` checked (shape = the forward output's, dtype = ``dtype``), channels_last."""
    a = np.asarray(grad_out)
    expected = expected_cl if fmt == "channels_last" else (
        expected_cl[0], expected_cl[-1], *expected_cl[1:-1])
    if a.shape != expected:
        raise ValueError(
            f"{op}: grad_out must have the shape of the forward output {expected!r} "
            f"({fmt}), got shape {a.shape!r}")
    a = as_input(a, op, "grad_out")                   # a real numeric array, native
    if a.dtype != dtype:
        raise TypeError(
            f"{op}: grad_out must have dtype {np.dtype(dtype).name} (the forward output's), "
            f"got dtype {a.dtype.name}")
    return to_channels_last(a, fmt)
