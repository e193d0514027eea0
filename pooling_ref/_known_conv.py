"""Models of registered TensorFlow differences of convolutions and their gradients (used by
:mod:`pooling_ref.known`; registry ``pooling_ref/data/known_differences.json``).

>>> import numpy as np
>>> from pooling_ref.geometry import plan_window
>>> g = plan_window((1,), (2,), (1,), "same", (2,))        # pads (1, 1), one output
>>> cropped_pairs(g)[0].astype(int)                          # tap 0 meets the cropped output
array([[1],
       [0]])

TensorFlow runs a dilated convolution as ``space_to_batch_nd`` -> "valid" convolution ->
``batch_to_space_nd`` (``tf.nn.convolution``, which Keras calls): the input is padded to a
multiple of the dilation and the extra outputs are cropped, so the kernel gradient also
multiplies input cells by the zero gradient of those cropped outputs. ``x * 0`` is NaN for
an infinite or NaN ``x``: those taps are NaN where the specification (only the real
outputs' products) is not. Eigen's 3D kernel gradient multiplies every input cell with
every tap (zero where the tap does not read the cell), so there every tap that does not
read a NaN / infinite cell is NaN.
"""

from __future__ import annotations

import numpy as np

from ._arrays import from_channels_last, to_channels_last
from ._known_args import call_args
from .arguments import prepare_conv
from .conv import conv as conv_op
from .geometry import WindowGeometry
from .ops import OpSpec

__all__ = ["cropped_pairs", "eigen3d_grad_kernel", "eigen_conv3d_negative_pad",
           "space_to_batch_grad_kernel"]


def _conv_args(s: OpSpec, arrays: dict, scalars: dict):
    """The prepared convolution (channels_last ``x``, kernel, geometry, groups)."""
    a = call_args(s, arrays, scalars)
    p, _ = prepare_conv(a["x"], a["kernel"], None, a["strides"], a["padding"],
                        a["data_format"], a["dilation_rate"], a["groups"], s.name)
    return p


def _reads(g: WindowGeometry, axis: int, outputs: int) -> np.ndarray:
    """``(k, n)`` booleans of one axis: tap ``t`` of one of the first ``outputs`` outputs
    reads cell ``i`` (``i = o * stride + t * dilation - before``; ``outputs`` may exceed the
    real ones)."""
    n, k, st, d, (b, _) = (g.in_spatial[axis], g.window[axis], g.strides[axis],
                           g.dilation[axis], g.pads[axis])
    o = np.arange(n)[None, :] - np.arange(k)[:, None] * d + b
    return (o % st == 0) & (o >= 0) & (o // st < outputs)


def cropped_pairs(g: WindowGeometry) -> tuple[np.ndarray, ...]:
    """Per axis, ``(k, n)`` booleans: the (tap, cell) pairs of TF's space-to-batch
    convolution, which pads each axis to a multiple of its dilation and crops the outputs
    that adds (``required_space_to_batch_paddings``); with :func:`_real_pairs`, the pairs
    that meet a cropped output (stride 1: TF runs dilated convolutions only so)."""
    pairs = []
    for axis, (n, d, (b, a), m) in enumerate(zip(g.in_spatial, g.dilation, g.pads,
                                                 g.out_spatial)):
        extra = (d - (n + b + a) % d) % d
        pairs.append(_reads(g, axis, m + extra))
    return tuple(pairs)


def _real_pairs(g: WindowGeometry) -> tuple[np.ndarray, ...]:
    """Per axis, the (tap, cell) pairs the specification multiplies (real outputs)."""
    return tuple(_reads(g, axis, m) for axis, m in enumerate(g.out_spatial))


def _tap_counts(cells: np.ndarray, pairs: tuple[np.ndarray, ...]) -> np.ndarray:
    """``(*kernel_size, C)``: for each tap and channel, how many of the marked ``cells``
    ``(*spatial, C)`` it meets, the pairs being the product of the per-axis ``pairs``."""
    t = cells.astype(np.float64)
    for axis, m in enumerate(pairs):
        t = np.moveaxis(np.tensordot(m.astype(np.float64), t, axes=([1], [axis])), 0, axis)
    return t


def _with_nan_taps(p, base, extra_pairs, real_pairs):
    """``base`` with NaN in the kernel gradient at the taps (and channels) where a NaN or
    infinite ``x`` cell meets an ``extra_pairs`` product that ``real_pairs`` lacks."""
    bad = (~np.isfinite(p.x)).any(axis=0)                # (*spatial, C_in)
    if not bad.any():
        return None
    extra = (_tap_counts(bad, extra_pairs) - _tap_counts(bad, real_pairs)) > 0.5
    nan_taps = np.zeros(p.kernel.shape, dtype=bool)
    for gi in range(p.groups):
        cs, fs = p.group_slices(gi)
        nan_taps[..., fs] = extra[..., cs, None]
    if not nan_taps.any():
        return None
    gk = np.where(nan_taps, np.array(np.nan, base[1].dtype), base[1]).astype(base[1].dtype)
    return (base[0], gk, base[2])


def space_to_batch_grad_kernel(s: OpSpec, arrays: dict, scalars: dict, result, base):
    """Dilated convolution: NaN kernel-gradient taps from ``x * 0`` with the cropped
    outputs of TF's space-to-batch convolution (module docstring)."""
    p = _conv_args(s, arrays, scalars)
    if max(p.g.dilation) == 1 or max(p.g.strides) > 1:
        return None
    return _with_nan_taps(p, base, cropped_pairs(p.g), _real_pairs(p.g))


def eigen3d_grad_kernel(s: OpSpec, arrays: dict, scalars: dict, result, base):
    """Eigen 3D convolution: every tap that does not read a NaN / infinite cell is NaN
    (``x * 0`` for every other pair; module docstring)."""
    if s.rank != 3:
        return None
    p = _conv_args(s, arrays, scalars)
    every = tuple(np.ones((k, n), dtype=bool) for k, n in zip(p.g.window, p.g.in_spatial))
    return _with_nan_taps(p, base, every, _real_pairs(p.g))


def eigen_conv3d_negative_pad(s: OpSpec, arrays: dict, scalars: dict, result, base):
    """Eigen's eager 3D convolution, "same" with a total pad of -2 or less on an axis (a
    stride larger than the kernel): like its 3D pooling, Eigen pads ``total / 2`` before
    (C++ division) and so starts the windows ``-total // 2`` cells into the axis (registry
    ``eigen-conv3d-same-negative-pad``). The convolution of those windows: the input cropped
    there (and zero-padded as "same" elsewhere), then "valid"."""
    a = call_args(s, arrays, scalars)
    if s.family != "conv" or s.rank != 3 or str(a["padding"]).lower() != "same":
        return None
    g = _conv_args(s, arrays, scalars).g
    width, crops, moved = [], [], False
    for n, k, st, d, m, pad in zip(g.in_spatial, g.window, g.strides, g.dilation,
                                   g.out_spatial, g.pads):
        total = (m - 1) * st + (k - 1) * d + 1 - n
        if total <= -2:
            width.append((0, 0))
            crops.append(slice((-total) // 2, None))
            moved = True
        else:
            width.append(pad)
            crops.append(slice(None))
    if not moved:
        return None
    fmt = a["data_format"]
    x_cl = to_channels_last(np.asarray(a["x"]), fmt)[(slice(None), *crops, slice(None))]
    x_cl = np.pad(x_cl, ((0, 0), *width, (0, 0)))
    out = conv_op(x_cl, a["kernel"], a["bias"], a["strides"], "valid", "channels_last",
                  a["dilation_rate"], a["groups"])
    out = out[(slice(None), *(slice(0, m) for m in g.out_spatial), slice(None))]
    return from_channels_last(out, fmt)
