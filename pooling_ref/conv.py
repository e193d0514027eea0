"""Convolution with Keras ``Conv1D/2D/3D`` semantics (cross-correlation, no kernel flip).

``out[n, *o, f] = bias[f] + sum over window cells t and group channels c of
x_padded[n, *(o*strides + t*dilation), g*Cg + c] * kernel[*t, c, f]``, where ``g`` is the
group of filter ``f`` (``f // (filters // groups)``) and ``Cg = C_in // groups``.

>>> import numpy as np
>>> x = np.arange(5.0).reshape(1, 5, 1)
>>> k = np.array([1.0, 0.0, -1.0]).reshape(3, 1, 1)
>>> conv(x, k)[0, :, 0]                      # x[i] - x[i+2]
array([-2., -2., -2.])

float16/bfloat16 inputs are accumulated in float32 and rounded once, as TF's CPU kernels
do; other dtypes are computed in ``np.result_type(x, kernel)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import methods
from ._arrays import as_input, from_channels_last, to_channels_last
from ._conv_kernels import ConvProblem, compute_dtype
from .dtypes import is_float_dtype
from .geometry import (
    as_int,
    check_strides_dilation,
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
    plan_window,
)

__all__ = ["conv", "prepare_conv"]

IntOrTuple = int | Sequence[int]


def prepare_conv(x, kernel, bias, strides, padding, data_format, dilation_rate, groups,
                 op: str = "conv") -> tuple[ConvProblem, str]:
    """``(problem, data_format)`` of a convolution call (or its gradient, its bound):
    arguments checked and normalised, arrays channels_last in the compute dtype."""
    a = as_input(x, op)
    rank = a.ndim - 2
    w = np.asarray(kernel)
    if not (w.dtype.kind in "iuf" or is_float_dtype(w.dtype)):
        raise TypeError(f"{op}: kernel must be a real numeric array, got dtype {w.dtype!r}")
    if w.ndim != rank + 2:
        raise ValueError(
            f"{op}: kernel must have shape (*kernel_size, C_in // groups, filters) with "
            f"{rank + 2} dimensions for an input of spatial rank {rank}, got shape {w.shape!r}"
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
            raise TypeError(f"{op}: bias must be a real numeric array, got dtype {b.dtype!r}")
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


def conv(
    x: object,
    kernel: object,
    bias: object | None = None,
    strides: IntOrTuple = 1,
    padding: str = "valid",
    data_format: str = "channels_last",
    dilation_rate: IntOrTuple = 1,
    groups: int = 1,
    *,
    method: str = "auto",
) -> np.ndarray:
    """N-D convolution with Keras ``Conv1D/2D/3D`` semantics (spatial rank read from ``x``).

    >>> import numpy as np
    >>> x = np.ones((1, 4, 4, 2), dtype=np.float32)
    >>> kernel = np.ones((3, 3, 2, 1), dtype=np.float32)
    >>> conv(x, kernel, padding="same")[0, :, :, 0]
    array([[ 8., 12., 12.,  8.],
           [12., 18., 18., 12.],
           [12., 18., 18., 12.],
           [ 8., 12., 12.,  8.]], dtype=float32)

    ``kernel``: ``(*kernel_size, C_in // groups, filters)`` as Keras stores it; ``bias``:
    ``None`` or ``(filters,)``. ``groups == C_in`` is a depthwise convolution. Keras forbids
    strides > 1 together with dilation > 1, and so does this function. "same" padding cells
    contribute no term (as TF: with a non-finite kernel, 0 * inf never appears; such calls
    use the loop method). ``method``:
    ``"loop"``, ``"im2col"``, ``"fast"`` or ``"auto"`` (= ``"fast"``: the products are BLAS
    GEMMs; ``"compiled"`` is accepted and runs ``"fast"`` too, as there is no Numba conv
    kernel); results agree within the documented error bound (see
    :func:`pooling_ref.tolerance.conv_bound`).
    """
    problem, fmt = prepare_conv(x, kernel, bias, strides, padding, data_format,
                                dilation_rate, groups)
    method = methods.resolve(method, "conv")
    if (method != "loop" and problem.g.padded
            and not np.isfinite(problem.kernel).all()):
        # TF adds no term for a "same" padding cell; the padded methods would add
        # 0 * inf = NaN there. Only the loop skips those taps, so it serves this rare case.
        method = "loop"
    return from_channels_last(methods.run("conv", method, problem), fmt)
