"""The convolution kernels (forward and gradient): the ``"loop"`` specification, chunked
``"im2col"`` and the BLAS ``"fast"`` method, on a normalised :class:`ConvProblem`.

``out[n, *o, f] = bias[f] + sum over real window taps t and group channels c of
x[n, *(o*strides + t*dilation - pads_before), g*Cg + c] * kernel[*t, c, f]``; "same"
padding cells contribute no term (only the loop skips them; the others add ``0 * w``).

>>> import numpy as np
>>> from pooling_ref.geometry import plan_window
>>> g = plan_window((5,), (3,), (1,), "valid")
>>> p = ConvProblem(np.arange(5.0).reshape(1, 5, 1), np.float64([1, 0, -1]).reshape(3, 1, 1),
...                 None, g, 1, np.dtype(np.float64))
>>> conv_loop(p)[0, :, 0]
array([-2., -2., -2.])
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from . import _fast
from .geometry import WindowGeometry
from .windows import (
    im2col_chunks,
    pad_spatial,
    padded_zeros,
    shifted,
    unpad,
    window_at,
    window_offsets,
)

__all__ = ["ConvProblem", "compute_dtype", "conv_fast", "conv_grad_fast", "conv_grad_loop",
           "conv_im2col", "conv_loop", "real_tap_mask"]


@dataclass(frozen=True)
class ConvProblem:
    """A normalised convolution: arrays in the compute dtype, channels_last, its geometry."""

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


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """float16/bfloat16 are accumulated in float32 (TF's CPU kernels); others in themselves."""
    if dtype == np.float16 or dtype.name == "bfloat16":
        return np.dtype(np.float32)
    return dtype


def real_tap_mask(pos: tuple[int, ...], g: WindowGeometry) -> np.ndarray:
    """Mask over the kernel cells: True where the tap at output ``pos`` hits a real cell."""
    mask = np.zeros(g.window, dtype=bool)
    mask[g.real_taps(pos)] = True
    return mask


def conv_loop(p: ConvProblem) -> np.ndarray:
    """Specification: per output position and group, the dot product of the window's real
    cells with the kernel taps that land on them (padding cells contribute no term)."""
    out = p.new_output()
    xp = pad_spatial(p.x, p.g, 0)
    r = p.g.rank
    zero = np.zeros((), dtype=p.kernel.dtype)
    for pos in itertools.product(*(range(m) for m in p.g.out_spatial)):
        window = window_at(xp, pos, p.g)                      # (N, *kernel_size, C_in)
        kernel = np.where(real_tap_mask(pos, p.g)[..., None, None], p.kernel, zero)
        for gi in range(p.groups):
            cs, fs = p.group_slices(gi)
            out[(slice(None), *pos, fs)] = np.tensordot(
                window[..., cs], kernel[..., fs], axes=r + 1)
    return p.finish(out)


def conv_im2col(p: ConvProblem) -> np.ndarray:
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


def conv_fast(p: ConvProblem) -> np.ndarray:
    """groups == 1: im2col blocks + one GEMM each (:mod:`pooling_ref._fast`); grouped and
    depthwise: sum over kernel cells of (shifted input view) @ (kernel cell), per group."""
    out = p.new_output()
    if p.groups == 1:
        _fast.conv_gemm(p.x, p.kernel, p.g, out)
        return p.finish(out)
    xp = pad_spatial(p.x, p.g, 0)
    cells = p.kernel.reshape(-1, *p.kernel.shape[-2:])      # (cells, Cg, F)
    depthwise = p.cin_g == 1                                # groups > 1 here
    for k, offset in enumerate(window_offsets(p.g)):
        v = shifted(xp, offset, p.g)
        if depthwise:   # each input channel feeds its own f_g filters: broadcast multiply
            w = cells[k, 0].reshape(p.groups, p.f_g)
            out += (v[..., :, None] * w).reshape(out.shape)
        else:
            for gi in range(p.groups):
                cs, fs = p.group_slices(gi)
                out[..., fs] += v[..., cs] @ cells[k][:, fs]
    return p.finish(out)


def conv_grad_loop(p, gout):
    """Specification from the forward definition: output ``o`` of filter ``f`` received
    ``x_pad[o*s + t*d, c] * kernel[t, c, f]`` from each real tap ``t`` of its group, so
    ``grad_out[o, f]`` flows back as ``* kernel[t, c, f]`` to ``x`` and as ``* x`` to the
    kernel. Padding cells contribute no term."""
    r = p.g.rank
    gxp = padded_zeros(p.x, p.g, p.x.dtype)
    xp = pad_spatial(p.x, p.g, 0)
    gk = np.zeros_like(p.kernel)
    zero = p.kernel.dtype.type(0)
    for pos in itertools.product(*(range(m) for m in p.g.out_spatial)):
        taps = real_tap_mask(pos, p.g)[..., None, None]
        kernel = np.where(taps, p.kernel, zero)
        window, gwindow = window_at(xp, pos, p.g), window_at(gxp, pos, p.g)
        upstream = gout[(slice(None), *pos, slice(None))]              # (N, F)
        for gi in range(p.groups):
            cs, fs = p.group_slices(gi)
            gwindow[..., cs] += np.tensordot(upstream[:, fs], kernel[..., fs],
                                             axes=([1], [r + 1]))
            gk[..., fs] += np.where(taps, np.tensordot(window[..., cs], upstream[:, fs],
                                                       axes=([0], [0])), zero)
    return unpad(gxp, p.g), gk


def conv_grad_fast(p, gout):
    """Per kernel cell: one matrix product per group over all outputs at once."""
    gxp = padded_zeros(p.x, p.g, p.x.dtype)
    xp = pad_spatial(p.x, p.g, 0)
    cells = p.kernel.reshape(-1, *p.kernel.shape[-2:])                # (cells, Cg, F)
    gk = np.zeros_like(cells)
    rows = math.prod(gout.shape[:-1])                                 # N * prod(out)
    g2 = gout.reshape(rows, gout.shape[-1])                           # (N*out, F)
    for k, offset in enumerate(window_offsets(p.g)):
        v = shifted(xp, offset, p.g)
        v2 = v.reshape(rows, v.shape[-1])                              # copy: (N*out, C_in)
        target = shifted(gxp, offset, p.g)
        for gi in range(p.groups):
            cs, fs = p.group_slices(gi)
            target[..., cs] += (g2[:, fs] @ cells[k][:, fs].T).reshape(*v.shape[:-1], p.cin_g)
            gk[k][:, fs] = v2[:, cs].T @ g2[:, fs]
    return unpad(gxp, p.g), gk.reshape(p.kernel.shape)


