"""PyTorch's pooling (``torch.nn.functional``) as a front end of the general window model:
torch's argument names, defaults and layout (``(N, C, *spatial)`` or unbatched
``(C, *spatial)``), NumPy results, indices as int64.

>>> import numpy as np
>>> x = np.arange(1., 10., dtype=np.float32).reshape(1, 1, 9)
>>> max_pool1d(x, 4, padding=2, ceil_mode=True)            # 3 windows: the 4th is dropped
array([[[2., 6., 9.]]], dtype=float32)
>>> avg_pool1d(np.float32([[[1, 2, 3, 4, 5]]]), 4, ceil_mode=True, count_include_pad=False)
array([[[2.5, 5. ]]], dtype=float32)

Only argument translation happens here; the semantics are the core's (measured against
torch 2.13.0 CPU, contiguous tensors: ``parity_tests/test_torch_dialect.py``):

* max pooling: :func:`pooling_ref.max_pool` with ``nan="propagate"`` and IEEE subnormals
  (``tf_kernel=None``) — a NaN in the window gives NaN, the first of equal maxima wins
  (``(-0, +0) -> -0``), padding cells are never chosen; the indices (``h*W + w`` per plane)
  are :func:`pooling_ref.max_pool_with_argmax`'s ``nan="propagate"`` scan, which picks the
  last NaN;
* average pooling: :func:`pooling_ref.avg_pool` with ``divisor`` ``"padded"``
  (``count_include_pad=True``, the default), ``"real"`` or ``divisor_override``;
* adaptive pooling: torch's bins (:func:`pooling_ref.geometry.adaptive_bins`), each bin summed
  in row-major order and divided by its size along each axis in turn (torch divides
  ``sum / kh / kw``); a max bin scanned like max pooling. An output of size 1 on every axis
  is ``mean`` in torch (another summation order: within the error bound, not bitwise);
* LP pooling: torch's formula, ``(avg_pool(x**p) * prod(kernel_size)) ** (1/p)`` with the
  partial ceil-mode windows scaled by ``prod(kernel_size) / count``; ``x**p`` and the root
  are NumPy's, correctly rounded for ``p = 2`` where torch's ``sqrt`` is not (registry
  ``torch-sqrt-not-correctly-rounded``): bitwise for ``p = 1``, within a few ulps else.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np

from .._arrays import as_input
from ..geometry import WindowGeometry, adaptive_bins, normalize_tuple, plan_window
from ..pooling import avg_pool, max_pool, max_pool_with_argmax

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "lp_pool1d",
    "lp_pool2d",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "window_geometry",
]

IntOrTuple = int | Sequence[int]


# ----------------------------------------------------------------------------- arguments


def _batched(op: str, x: object, rank: int) -> tuple[np.ndarray, bool]:
    """``(x as (N, C, *spatial), whether x was unbatched)``."""
    a = np.asarray(x)
    if a.ndim == rank + 1:
        return as_input(a[None], op), True
    if a.ndim != rank + 2:
        raise ValueError(f"{op}: x must have shape (N, C, *spatial) or (C, *spatial) with "
                         f"{rank} spatial axes, got shape {a.shape!r}")
    return as_input(a, op), False


def _unbatch(a: np.ndarray, unbatched: bool) -> np.ndarray:
    return a[0] if unbatched else a


def _window(op: str, rank: int, kernel_size, stride, padding, dilation=1, spatial=None,
            ceil_mode=False):
    """torch's window arguments normalised: ``stride=None`` (or ``[]``) means the kernel;
    ``padding`` at most half the kernel (torch's check, on the raw kernel); the window
    fits the padded input (errors in torch's names; the core's geometry decides)."""
    kernel = normalize_tuple(kernel_size, rank, "kernel_size", op)
    empty = stride is None or (isinstance(stride, Sequence) and len(stride) == 0)
    strides = kernel if empty else normalize_tuple(stride, rank, "stride", op)
    pads = normalize_tuple(padding, rank, "padding", op, minimum=0)
    dilation = normalize_tuple(dilation, rank, "dilation", op)
    for p, k in zip(pads, kernel):
        if p > k // 2:
            raise ValueError(f"{op}: padding should be at most half of kernel_size, got "
                             f"padding={padding!r} and kernel_size={kernel_size!r}")
    pairs = tuple((p, p) for p in pads)
    if spatial is not None:
        plan_window(spatial, kernel, strides, pairs, dilation, op, window_name="kernel_size",
                    ceil_mode=bool(ceil_mode))
    return kernel, strides, pairs, dilation


def window_geometry(rank: int, spatial: Sequence[int], kernel_size, stride=None, padding=0,
                    dilation=1, ceil_mode=False, op: str = "torch", **_other) -> WindowGeometry:
    """The core's geometry of a torch pooling call on an input of ``spatial`` size (other
    arguments ignored): what the oracle shows of a case (pads, output size, windows).

    >>> window_geometry(1, (9,), 4, padding=2, ceil_mode=True).out_spatial   # 4th dropped
    (3,)
    """
    kernel, strides, pairs, dilation = _window(op, rank, kernel_size, stride, padding,
                                               dilation)
    return plan_window(tuple(spatial), kernel, strides, pairs, dilation, op,
                       window_name="kernel_size", ceil_mode=bool(ceil_mode))


# ----------------------------------------------------------------------------- max pooling


def _max_pool(op, rank, x, kernel_size, stride, padding, dilation, ceil_mode,
              return_indices):
    a, unbatched = _batched(op, x, rank)
    kernel, strides, pads, dilation = _window(op, rank, kernel_size, stride, padding,
                                              dilation, a.shape[2:], ceil_mode)
    kw = {"ceil_mode": ceil_mode, "dilation_rate": dilation}
    y = max_pool(a, kernel, strides, pads, "channels_first", nan="propagate",
                 tf_kernel=None, **kw)
    if not return_indices:
        return _unbatch(y, unbatched)
    _, flat = max_pool_with_argmax(np.moveaxis(a, 1, -1), kernel, strides, pads,
                                   nan="propagate", **kw)
    c = a.shape[1]
    plane = (flat - np.arange(c)) // c                              # per plane: h*W + w
    plane = np.where(flat < 0, _first_taps(a.shape[2:], y.shape[2:], kernel, strides, pads,
                                           dilation)[None, ..., None], plane)
    return _unbatch(y, unbatched), _unbatch(np.moveaxis(plane, -1, 1), unbatched)


def _first_taps(spatial, out, kernel, strides, pads, dilation) -> np.ndarray:
    """torch's index of a window without a real cell (its value is ``-inf``): the first
    tap at or after the start of the input along each axis, flattened with the input's
    strides (it may lie past the input: ``max_pool1d([v], 2, padding=1, dilation=2)``
    gives index 1)."""
    index = np.zeros(out, np.int64)
    step = 1
    for axis in reversed(range(len(spatial))):
        start = np.arange(out[axis]) * strides[axis] - pads[axis][0]
        d = dilation[axis]
        first = np.where(start < 0, start + (-start + d - 1) // d * d, start)
        shape = [1] * len(spatial)
        shape[axis] = out[axis]
        index = index + first.reshape(shape) * step
        step *= spatial[axis]
    return index


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """``torch.nn.functional.max_pool1d`` (module docstring)."""
    return _max_pool("max_pool1d", 1, x, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """``torch.nn.functional.max_pool2d`` (module docstring).

    >>> import numpy as np
    >>> y, i = max_pool2d(np.float32([[[[1, 5], [np.nan, 2]]]]), 2, return_indices=True)
    >>> y.ravel(), i.ravel()                           # NaN propagates: the NaN's index
    (array([nan], dtype=float32), array([2]))
    """
    return _max_pool("max_pool2d", 2, x, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """``torch.nn.functional.max_pool3d`` (module docstring)."""
    return _max_pool("max_pool3d", 3, x, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


# ----------------------------------------------------------------------------- average


def _divisor(op: str, count_include_pad: bool, divisor_override) -> str | int:
    if divisor_override is not None:
        if isinstance(divisor_override, bool) or not isinstance(divisor_override, int) \
                or divisor_override == 0:
            raise ValueError(f"{op}: divisor_override must be None or a non-zero int, got "
                             f"{divisor_override!r}")
        return divisor_override
    if not isinstance(count_include_pad, (bool, np.bool_)):
        raise TypeError(f"{op}: count_include_pad must be a bool, got {count_include_pad!r}")
    return "padded" if count_include_pad else "real"


def _avg_pool(op, rank, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    a, unbatched = _batched(op, x, rank)
    kernel, strides, pads, _ = _window(op, rank, kernel_size, stride, padding, 1,
                                       a.shape[2:], ceil_mode)
    divisor = _divisor(op, count_include_pad, divisor_override)
    if rank == 3 and any(n < k for n, k in zip(a.shape[2:], kernel)):
        raise ValueError(f"{op}: kernel_size {kernel_size!r} is larger than the input's "
                         f"spatial shape {a.shape[2:]!r} (torch's avg_pool3d does not count "
                         f"the padding here)")
    y = avg_pool(a, kernel, strides, pads, "channels_first", ceil_mode=ceil_mode,
                 divisor=divisor, tf_kernel=None)
    return _unbatch(y, unbatched)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """``torch.nn.functional.avg_pool1d`` (module docstring; torch's own has no
    ``divisor_override``)."""
    return _avg_pool("avg_pool1d", 1, x, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """``torch.nn.functional.avg_pool2d`` (module docstring).

    >>> import numpy as np
    >>> avg_pool2d(np.ones((1, 1, 2, 2), np.float32), 2, padding=1).ravel()   # 1/4 each
    array([0.25, 0.25, 0.25, 0.25], dtype=float32)
    """
    return _avg_pool("avg_pool2d", 2, x, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool3d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """``torch.nn.functional.avg_pool3d`` (module docstring)."""
    return _avg_pool("avg_pool3d", 3, x, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


# ----------------------------------------------------------------------------- adaptive


def _output_size(op: str, output_size, spatial: tuple[int, ...]) -> tuple[int, ...]:
    """torch's ``output_size``: an int or one per axis, ``None`` keeping the input size."""
    rank = len(spatial)
    if output_size is None or isinstance(output_size, (int, np.integer)):
        output_size = (output_size,) * rank
    if not isinstance(output_size, Sequence) or len(output_size) != rank:
        raise ValueError(f"{op}: output_size must be an int or {rank} ints (None keeps an "
                         f"axis), got {output_size!r}")
    sizes = tuple(n if o is None else o for o, n in zip(output_size, spatial))
    return normalize_tuple(sizes, rank, "output_size", op)


def _binned(pool: Callable, a_cl: np.ndarray, out: tuple[int, ...]):
    """``pool(a_cl, window)`` (stride 1, ``"valid"``: one array or a tuple) gathered per
    torch bin, for every combination of the per-axis bin lengths; ``(result, lengths)``
    with ``lengths[i]`` the bins' lengths along axis ``i``."""
    bins = [adaptive_bins(n, m) for n, m in zip(a_cl.shape[1:-1], out)]
    result = None
    for bigs in itertools.product((0, 1), repeat=len(bins)):
        masks = [big if b else ~big for (_, _, big), b in zip(bins, bigs)]
        if not all(m.any() for m in masks):
            continue
        window = tuple(small + b for (small, _, _), b in zip(bins, bigs))
        pooled = pool(a_cl, window)
        where = np.ix_(*masks)
        pooled = pooled if isinstance(pooled, tuple) else (pooled,)
        if result is None:
            result = [np.empty((a_cl.shape[0], *out, a_cl.shape[-1]), p.dtype)
                      for p in pooled]
        for r, p in zip(result, pooled):
            for axis, (_, starts, _) in enumerate(bins):
                p = np.take(p, starts, axis=axis + 1, mode="clip")
            r[(slice(None), *where, slice(None))] = p[(slice(None), *where, slice(None))]
    lengths = [small + big.astype(np.int64) for small, _, big in bins]
    return result, lengths


def _adaptive_avg(op, rank, x, output_size):
    a, unbatched = _batched(op, x, rank)
    a_cl = np.moveaxis(a, 1, -1)
    out = _output_size(op, output_size, a_cl.shape[1:-1])
    if 0 in a_cl.shape[1:-1]:
        raise ValueError(f"{op}: x has an empty spatial axis, shape {a.shape!r}")
    if a_cl.dtype.kind not in "f" and a_cl.dtype.name != "bfloat16":
        raise TypeError(f"{op}: x must have a floating dtype, got {a_cl.dtype.name}")
    (sums,), lengths = _binned(
        lambda v, w: avg_pool(v, w, 1, "valid", divisor=1, tf_kernel=None), a_cl, out)
    for axis, length in enumerate(lengths):         # torch: sum / kh / kw, in turn
        shape = [1] * sums.ndim
        shape[axis + 1] = length.size
        sums = (sums / length.reshape(shape).astype(sums.dtype)).astype(sums.dtype)
    return _unbatch(np.moveaxis(sums, -1, 1), unbatched)


def _adaptive_max(op, rank, x, output_size, return_indices):
    a, unbatched = _batched(op, x, rank)
    a_cl = np.moveaxis(a, 1, -1)
    out = _output_size(op, output_size, a_cl.shape[1:-1])
    if 0 in a_cl.shape[1:-1]:
        raise ValueError(f"{op}: x has an empty spatial axis, shape {a.shape!r}")
    (values, flat), _ = _binned(
        lambda v, w: max_pool_with_argmax(v, w, 1, "valid", nan="propagate"), a_cl, out)
    y = _unbatch(np.moveaxis(values, -1, 1), unbatched)
    if not return_indices:
        return y
    c = a_cl.shape[-1]
    plane = (flat - np.arange(c)) // c
    return y, _unbatch(np.moveaxis(plane, -1, 1), unbatched)


def adaptive_avg_pool1d(x, output_size):
    """``torch.nn.functional.adaptive_avg_pool1d`` (module docstring).

    >>> import numpy as np
    >>> adaptive_avg_pool1d(np.float32([[[1, 2, 3, 4, 8]]]), 3)     # [0,2) [1,4) [3,5)
    array([[[1.5, 3. , 6. ]]], dtype=float32)
    """
    return _adaptive_avg("adaptive_avg_pool1d", 1, x, output_size)


def adaptive_avg_pool2d(x, output_size):
    """``torch.nn.functional.adaptive_avg_pool2d`` (module docstring)."""
    return _adaptive_avg("adaptive_avg_pool2d", 2, x, output_size)


def adaptive_avg_pool3d(x, output_size):
    """``torch.nn.functional.adaptive_avg_pool3d`` (module docstring)."""
    return _adaptive_avg("adaptive_avg_pool3d", 3, x, output_size)


def adaptive_max_pool1d(x, output_size, return_indices=False):
    """``torch.nn.functional.adaptive_max_pool1d`` (module docstring)."""
    return _adaptive_max("adaptive_max_pool1d", 1, x, output_size, return_indices)


def adaptive_max_pool2d(x, output_size, return_indices=False):
    """``torch.nn.functional.adaptive_max_pool2d`` (module docstring)."""
    return _adaptive_max("adaptive_max_pool2d", 2, x, output_size, return_indices)


def adaptive_max_pool3d(x, output_size, return_indices=False):
    """``torch.nn.functional.adaptive_max_pool3d`` (module docstring)."""
    return _adaptive_max("adaptive_max_pool3d", 3, x, output_size, return_indices)


# ----------------------------------------------------------------------------- LP pooling


def _power(v: np.ndarray, p: float) -> np.ndarray:
    """``v ** p`` in ``v``'s dtype: the products torch uses for p 1, 2, 3, else NumPy's."""
    if p == 1:
        return v.copy()
    if p == 2:
        return v * v
    if p == 3:
        return v * v * v
    return np.power(v, v.dtype.type(p))


def _root(v: np.ndarray, p: float) -> np.ndarray:
    if p == 1:
        return v
    if p == 2:
        return np.sqrt(v)
    return np.power(v, v.dtype.type(1.0 / p))


def _lp_pool(op, rank, x, norm_type, kernel_size, stride, ceil_mode):
    if isinstance(norm_type, bool) or not isinstance(norm_type, (int, float)) \
            or not math.isfinite(norm_type) or norm_type == 0:
        raise ValueError(f"{op}: norm_type must be a non-zero finite number, got "
                         f"{norm_type!r}")
    a, unbatched = _batched(op, x, rank)
    kernel, strides, _, _ = _window(op, rank, kernel_size, stride, 0, 1, a.shape[2:],
                                    ceil_mode)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        mean = avg_pool(_power(a, norm_type), kernel, strides, "valid", "channels_first",
                        ceil_mode=ceil_mode, divisor="padded", tf_kernel=None)
        total = (mean * a.dtype.type(math.prod(kernel))).astype(a.dtype)
        y = _root(total, norm_type)
    return _unbatch(y, unbatched)


def lp_pool1d(x, norm_type, kernel_size, stride=None, ceil_mode=False):
    """``torch.nn.functional.lp_pool1d`` (module docstring).

    >>> import numpy as np
    >>> lp_pool1d(np.float32([[[3, 4, 1]]]), 2, 2, ceil_mode=True)   # 5, then 1 * 2 / 1
    array([[[5.       , 1.4142135]]], dtype=float32)
    """
    return _lp_pool("lp_pool1d", 1, x, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(x, norm_type, kernel_size, stride=None, ceil_mode=False):
    """``torch.nn.functional.lp_pool2d`` (module docstring)."""
    return _lp_pool("lp_pool2d", 2, x, norm_type, kernel_size, stride, ceil_mode)
