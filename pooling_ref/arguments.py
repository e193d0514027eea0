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

import numpy as np

from ._arrays import as_input, to_channels_last
from ._conv_kernels import ConvProblem, compute_dtype
from .dtypes import is_float_dtype
from .geometry import (
    as_int,
    batch_hint,
    check_strides_dilation,
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
    normalize_window_strides,
    plan_window,
)

__all__ = ["check_grad_out", "prepare_conv", "prepare_pool"]


def prepare_pool(op, x, pool_size, strides, padding, data_format):
    """``(x_cl, geometry, data_format)`` of a pooling call (or its gradient, its bound):
    arguments normalised, ``x`` as a channels_last view."""
    a = as_input(x, op)
    pool, strides = normalize_window_strides(pool_size, strides, a.ndim - 2, op)
    padding = normalize_padding(padding, op)
    data_format = normalize_data_format(data_format, op)
    x_cl = to_channels_last(a, data_format)
    g = plan_window(x_cl.shape[1:-1], pool, strides, padding, None, op)
    return x_cl, g, data_format


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
    as_input(a, op, "grad_out")                       # a real numeric array
    if a.dtype != dtype:
        raise TypeError(
            f"{op}: grad_out must have dtype {np.dtype(dtype).name} (the forward output's), "
            f"got dtype {a.dtype.name}")
    return to_channels_last(a, fmt)
