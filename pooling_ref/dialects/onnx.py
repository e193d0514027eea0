"""ONNX pooling (opset 22) as a front end of the general window model: the operators'
attribute names and defaults, ``(N, C, *spatial)`` inputs, NumPy results, indices as
int64.

>>> import numpy as np
>>> x = np.arange(1., 10., dtype=np.float32).reshape(1, 1, 9)
>>> y, indices = max_pool(x, [4], pads=[2, 2], strides=[4], ceil_mode=1)   # drop rule
>>> y, indices
(array([[[2., 6., 9.]]], dtype=float32), array([[[1, 5, 8]]]))
>>> average_pool(np.float32([[[1, 2, 3, 4, 5]]]), [4], strides=[4], ceil_mode=1)
array([[[2.5, 5. ]]], dtype=float32)

Argument translation only (measured against onnxruntime 1.32 CPU:
``parity_tests/test_onnx_dialect.py``):

* ``pads`` ``[x1_begin, x2_begin, ..., x1_end, x2_end]`` -> explicit pads; ``auto_pad``
  ``"SAME_UPPER"`` / ``"SAME_LOWER"`` / ``"VALID"`` -> ``"same"`` / ``"same_lower"`` /
  ``"valid"`` (the total padding sized from the dilated window and clamped at 0, as the
  spec's output size ``ceil(L / s)`` needs); ``strides`` default 1; ``ceil_mode`` with the
  drop rule (a window starts inside the input or the left padding);
* ``MaxPool``: the values and ``Indices`` of onnxruntime's kernel with the ``Indices``
  output: each window scanned from its first real cell, moving on only to a strictly
  greater cell (:func:`pooling_ref.max_pool_with_argmax`: ties keep the first, a NaN in
  the first cell is kept); ``Indices`` flat over ``N*C*spatial``, the spatial part
  row-major (``storage_order=0``) or column-major (``1``);
* ``AveragePool``: ``count_include_pad=0`` divides by the real cells, ``1`` by the cells
  inside the declared padding (not a ceil-mode overhang);
* ``LpPool``: ``(sum over the window of |x|**p) ** (1/p)`` (padding adds nothing);
* ``GlobalMaxPool`` / ``GlobalAveragePool``: over every spatial axis, kept as size 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .. import pooling as core
from .._arrays import as_input
from ..geometry import WindowGeometry, normalize_tuple, plan_window
from ..pooling import avg_pool, global_avg_pool

__all__ = ["average_pool", "global_average_pool", "global_max_pool", "lp_pool", "max_pool",
           "window_geometry"]

#: ``auto_pad`` -> the core's padding (``"NOTSET"``: the explicit ``pads``).
AUTO_PADS = {"SAME_UPPER": "same", "SAME_LOWER": "same_lower", "VALID": "valid"}


def _window(op: str, x: object, kernel_shape, auto_pad, pads, strides, dilations,
            ceil_mode):
    """``(x, kernel, strides, padding, dilations, ceil_mode)`` in the core's terms."""
    a = as_input(x, op)
    kernel, strides, padding, dilations, ceil = _arguments(
        op, a.ndim - 2, kernel_shape, auto_pad, pads, strides, dilations, ceil_mode)
    # the window must fit: errors in ONNX's names (the core's geometry decides)
    plan_window(a.shape[2:], kernel, strides, padding, dilations, op,
                window_name="kernel_shape", ceil_mode=ceil)
    return a, kernel, strides, padding, dilations, ceil


def _arguments(op: str, rank: int, kernel_shape, auto_pad, pads, strides, dilations,
               ceil_mode):
    if isinstance(kernel_shape, (int, np.integer)) or not isinstance(kernel_shape, Sequence):
        raise TypeError(f"{op}: kernel_shape must be a list of {rank} ints, got "
                        f"{kernel_shape!r}")
    kernel = normalize_tuple(tuple(kernel_shape), rank, "kernel_shape", op)
    strides = (1,) * rank if strides is None else normalize_tuple(tuple(strides), rank,
                                                                   "strides", op)
    dilations = (1,) * rank if dilations is None else normalize_tuple(
        tuple(dilations), rank, "dilations", op)
    if ceil_mode not in (0, 1) or isinstance(ceil_mode, float):
        raise ValueError(f"{op}: ceil_mode must be 0 or 1, got {ceil_mode!r}")
    if not isinstance(auto_pad, str) or auto_pad not in ("NOTSET", *AUTO_PADS):
        raise ValueError(f"{op}: auto_pad must be one of 'NOTSET', "
                         f"{', '.join(map(repr, AUTO_PADS))}, got {auto_pad!r}")
    if auto_pad != "NOTSET":
        if pads is not None and any(pads):
            raise ValueError(f"{op}: pads must not be given with auto_pad={auto_pad!r}, got "
                             f"pads={pads!r}")
        padding = AUTO_PADS[auto_pad]
    else:
        flat = (0,) * (2 * rank) if pads is None else normalize_tuple(
            tuple(pads), 2 * rank, "pads", op, minimum=0)
        padding = tuple(zip(flat[:rank], flat[rank:]))
    return kernel, strides, padding, dilations, bool(ceil_mode)


def window_geometry(spatial: Sequence[int], kernel_shape, *, auto_pad="NOTSET", pads=None,
                    strides=None, dilations=None, ceil_mode=0, op: str = "onnx",
                    **_other) -> WindowGeometry:
    """The core's geometry of an ONNX pooling node on an input of ``spatial`` size (other
    attributes ignored): what the oracle shows of a case.

    >>> window_geometry((5,), [2], auto_pad="SAME_LOWER", strides=[2]).pads
    ((1, 0),)
    """
    kernel, strides, padding, dilations, ceil = _arguments(
        op, len(spatial), kernel_shape, auto_pad, pads, strides, dilations, ceil_mode)
    return plan_window(tuple(spatial), kernel, strides, padding, dilations, op,
                       window_name="kernel_shape", ceil_mode=ceil)


def max_pool(x, kernel_shape, *, auto_pad="NOTSET", pads=None, strides=None, dilations=None,
             ceil_mode=0, storage_order=0):
    """ONNX ``MaxPool`` (module docstring): ``(Y, Indices)``.

    >>> import numpy as np
    >>> x = np.float32([[1, 9], [9, 2]]).reshape(1, 1, 2, 2)       # a tie at (0,1), (1,0)
    >>> [max_pool(x, [2, 2], storage_order=s)[1].item() for s in (0, 1)]
    [1, 2]
    """
    op = "onnx.max_pool"
    if storage_order not in (0, 1) or isinstance(storage_order, float):
        raise ValueError(f"{op}: storage_order must be 0 or 1, got {storage_order!r}")
    a, kernel, strides, padding, dilations, ceil = _window(
        op, x, kernel_shape, auto_pad, pads, strides, dilations, ceil_mode)
    # onnxruntime's kernel with Indices: TF's scan on IEEE values (no denormal flushing)
    values, flat = core.argmax_pool(op, np.moveaxis(a, 1, -1), kernel, strides, padding,
                                    scan="first", flush=False, ceil_mode=ceil,
                                    dilation_rate=dilations)
    n, c, spatial = a.shape[0], a.shape[1], a.shape[2:]
    cell = (flat - np.arange(c)) // c                           # row-major spatial index
    if storage_order == 1:
        cell = np.ravel_multi_index(np.unravel_index(cell, spatial), spatial, order="F")
    plane = (np.arange(n).reshape(n, *(1,) * (a.ndim - 1)) * c + np.arange(c)) \
        * math.prod(spatial)
    indices = np.where(flat < 0, -1, plane + cell)
    return np.moveaxis(values, -1, 1), np.moveaxis(indices, -1, 1)


def average_pool(x, kernel_shape, *, auto_pad="NOTSET", pads=None, strides=None,
                 dilations=None, ceil_mode=0, count_include_pad=0):
    """ONNX ``AveragePool`` (module docstring).

    >>> import numpy as np
    >>> x = np.float32([[[1, 2, 3]]])
    >>> [average_pool(x, [2], pads=[1, 0], count_include_pad=c).ravel().tolist()
    ...  for c in (0, 1)]
    [[1.0, 1.5, 2.5], [0.5, 1.5, 2.5]]
    """
    op = "onnx.average_pool"
    if count_include_pad not in (0, 1) or isinstance(count_include_pad, float):
        raise ValueError(f"{op}: count_include_pad must be 0 or 1, got {count_include_pad!r}")
    a, kernel, strides, padding, dilations, ceil = _window(
        op, x, kernel_shape, auto_pad, pads, strides, dilations, ceil_mode)
    return avg_pool(a, kernel, strides, padding, "channels_first", ceil_mode=ceil,
                    dilation_rate=dilations, divisor="padded" if count_include_pad else "real",
                    tf_kernel=None)


def lp_pool(x, kernel_shape, *, p=2, auto_pad="NOTSET", pads=None, strides=None,
            dilations=None, ceil_mode=0):
    """ONNX ``LpPool``: ``(sum |x|**p) ** (1/p)`` over each window (module docstring).

    >>> import numpy as np
    >>> lp_pool(np.float32([[[3, -4, 1]]]), [2], strides=[2], ceil_mode=1).ravel()
    array([5., 1.], dtype=float32)
    """
    op = "onnx.lp_pool"
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 1:
        raise ValueError(f"{op}: p must be an int >= 1, got {p!r}")
    a, kernel, strides, padding, dilations, ceil = _window(
        op, x, kernel_shape, auto_pad, pads, strides, dilations, ceil_mode)
    with np.errstate(over="ignore", invalid="ignore"):
        powered = np.abs(a) if p == 1 else np.abs(a) ** a.dtype.type(p)
        total = avg_pool(powered, kernel, strides, padding, "channels_first", ceil_mode=ceil,
                         dilation_rate=dilations, divisor=1, tf_kernel=None)
        return total if p == 1 else np.sqrt(total) if p == 2 else \
            total ** a.dtype.type(1.0 / p)


def global_max_pool(x):
    """ONNX ``GlobalMaxPool``: the maximum over the spatial axes, kept as size 1 — max
    pooling's rule with one window over the whole input (:func:`pooling_ref.max_pool`: NaN
    ignored, the first of equal maxima, the lowest finite value for a channel without a
    number), which onnxruntime follows except where it picks NaN and the sign of a zero
    by SIMD packet (registry ``onnxruntime-global-max-pool-by-packet``).

    >>> import numpy as np
    >>> global_max_pool(np.float32([[[np.nan, 5, 3]]]))
    array([[[5.]]], dtype=float32)
    """
    a = as_input(x, "onnx.global_max_pool")
    return core.max_pool(a, a.shape[2:], None, "valid", "channels_first", tf_kernel=None)


def global_average_pool(x):
    """ONNX ``GlobalAveragePool``: the mean over the spatial axes, kept as size 1.

    >>> import numpy as np
    >>> global_average_pool(np.float32([[[1, 2, 6]]]))
    array([[[3.]]], dtype=float32)
    """
    a = as_input(x, "onnx.global_average_pool")
    return global_avg_pool(a, "channels_first", keepdims=True, tf_kernel=None)
