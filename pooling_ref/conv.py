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

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._arrays import as_input, check_method, from_channels_last, is_float_dtype, to_channels_last
from .geometry import (
    WindowGeometry,
    _as_int,
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
    plan_window,
)
from .windows import im2col_chunks, pad_spatial, shifted, window_at, window_offsets

__all__ = ["conv"]

IntOrTuple = int | Sequence[int]


@dataclass(frozen=True)
class _Conv:
    x: np.ndarray           # channels_last input, in the compute dtype
    kernel: np.ndarray      # (*kernel_size, C_in // groups, filters), compute dtype
    bias: np.ndarray | None
    g: WindowGeometry
    groups: int
    out_dtype: np.dtype

    @property
    def cin_g(self) -> int:
        return self.kernel.shape[-2]

    @property
    def f_g(self) -> int:
        return self.kernel.shape[-1] // self.groups

    def group_slices(self, gi: int) -> tuple[slice, slice]:
        return (slice(gi * self.cin_g, (gi + 1) * self.cin_g),
                slice(gi * self.f_g, (gi + 1) * self.f_g))

    def new_output(self) -> np.ndarray:
        shape = (self.x.shape[0], *self.g.out_spatial, self.kernel.shape[-1])
        return np.zeros(shape, dtype=self.x.dtype)

    def finish(self, out: np.ndarray) -> np.ndarray:
        if self.bias is not None:
            out += self.bias
        return out.astype(self.out_dtype, copy=False)


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    if dtype == np.float16 or dtype.name == "bfloat16":
        return np.dtype(np.float32)
    return dtype


def _prepare(x, kernel, bias, strides, padding, data_format, dilation_rate, groups, method):
    op = "conv"
    a = as_input(x, op)
    rank = a.ndim - 2
    w = np.asarray(kernel)
    if not (w.dtype.kind in "iuf" or is_float_dtype(w.dtype)):
        raise TypeError(f"{op}: kernel must be a real numeric array, got dtype {w.dtype.name}")
    if w.ndim != rank + 2:
        raise ValueError(
            f"{op}: kernel must have shape (*kernel_size, C_in // groups, filters) with "
            f"{rank + 2} dimensions for an input of spatial rank {rank}, got shape {w.shape!r}"
        )
    if 0 in w.shape:
        raise ValueError(f"{op}: kernel must not have an empty axis, got shape {w.shape!r}")
    if isinstance(groups, (bool, np.bool_)):
        raise TypeError(f"{op}: groups must be an int, got {groups!r}")
    groups = _as_int(groups, "groups", op)
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
    if max(strides) > 1 and max(dilation) > 1:
        raise ValueError(
            f"{op}: strides > 1 together with dilation_rate > 1 is not supported (Keras "
            f"forbids it), got strides={strides!r} and dilation_rate={dilation!r}")
    padding = normalize_padding(padding, op)
    method = check_method(method, op)
    g = plan_window(x_cl.shape[1:-1], w.shape[:-2], strides, padding, dilation, op,
                    window_name="kernel_size")
    out_dtype = np.result_type(x_cl.dtype, w.dtype)
    cd = _compute_dtype(out_dtype)
    spec = _Conv(
        x_cl.astype(cd, copy=False), w.astype(cd, copy=False),
        None if b is None else b.astype(cd, copy=False), g, groups, out_dtype)
    return spec, fmt, method


def _real_taps(pos: tuple[int, ...], g: WindowGeometry) -> np.ndarray:
    """Mask over the kernel cells: True where the tap at output ``pos`` hits a real cell."""
    mask = np.zeros(g.window, dtype=bool)
    mask[g.real_taps(pos)] = True
    return mask


def _conv_loop(p: _Conv) -> np.ndarray:
    """Specification: per output position and group, the dot product of the window's real
    cells with the kernel taps that land on them (padding cells contribute no term)."""
    out = p.new_output()
    xp = pad_spatial(p.x, p.g, 0)
    r = p.g.rank
    zero = np.zeros((), dtype=p.kernel.dtype)
    for pos in itertools.product(*(range(m) for m in p.g.out_spatial)):
        window = window_at(xp, pos, p.g)                      # (N, *kernel_size, C_in)
        kernel = np.where(_real_taps(pos, p.g)[..., None, None], p.kernel, zero)
        for gi in range(p.groups):
            cs, fs = p.group_slices(gi)
            out[(slice(None), *pos, fs)] = np.tensordot(
                window[..., cs], kernel[..., fs], axes=r + 1)
    return p.finish(out)


def _conv_im2col(p: _Conv) -> np.ndarray:
    """Columns a bounded chunk at a time, then one matrix product per group."""
    out = p.new_output()
    k = p.g.cells
    for (bs, rs), cols in im2col_chunks(p.x, p.g):
        rows = cols.shape[:-2]
        for gi in range(p.groups):
            cs, fs = p.group_slices(gi)
            a = cols[..., cs].reshape(-1, k * p.cin_g)
            w = p.kernel[..., fs].reshape(k * p.cin_g, p.f_g)
            out[bs, rs, ..., fs] = (a @ w).reshape(*rows, p.f_g)
    return p.finish(out)


def _conv_fast(p: _Conv) -> np.ndarray:
    """groups == 1: im2col blocks + one GEMM each (:mod:`pooling_ref._fast`); grouped and
    depthwise: sum over kernel cells of (shifted input view) @ (kernel cell), per group."""
    out = p.new_output()
    if p.groups == 1:
        from . import _fast

        _fast.conv_gemm(p.x, p.kernel, p.g, out)
        return p.finish(out)
    xp = pad_spatial(p.x, p.g, 0)
    cells = p.kernel.reshape(-1, *p.kernel.shape[-2:])      # (cells, Cg, F)
    depthwise = p.cin_g == 1 and p.groups > 1
    for k, offset in enumerate(window_offsets(p.g)):
        v = shifted(xp, offset, p.g)
        if p.groups == 1:
            out += v @ cells[k]
        elif depthwise:   # each input channel feeds its own f_g filters: broadcast multiply
            w = cells[k, 0].reshape(p.groups, p.f_g)
            out += (v[..., :, None] * w).reshape(out.shape)
        else:
            for gi in range(p.groups):
                cs, fs = p.group_slices(gi)
                out[..., fs] += v[..., cs] @ cells[k][:, fs]
    return p.finish(out)


_METHODS = {"loop": _conv_loop, "im2col": _conv_im2col, "fast": _conv_fast}


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
    spec, fmt, method = _prepare(x, kernel, bias, strides, padding, data_format,
                                 dilation_rate, groups, method)
    if (method != "loop" and spec.g.padded
            and not np.isfinite(spec.kernel).all()):
        # TF adds no term for a "same" padding cell; the padded methods would add
        # 0 * inf = NaN there. Only the loop skips those taps, so it serves this rare case.
        method = "loop"
    return from_channels_last(_METHODS[method](spec), fmt)
