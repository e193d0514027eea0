"""Max and average pooling (Keras ``MaxPoolingND`` / ``AveragePoolingND``) and global pooling.

Semantics (TensorFlow CPU, bit for bit):

* max: a cell replaces the running maximum only when it is strictly greater, starting from
  the dtype's lowest finite value — so NaN is ignored, the first of equal maxima wins
  (``[-0., +0.] -> -0.``), and a window of only NaN / -inf gives the lowest finite value.
  "same" padding cells are never selected.
* average: the real cells of the window summed in row-major order in the input dtype,
  starting from ``+0``, then divided by the number of real (unpadded) cells.

Each op has four methods: ``"loop"`` (the readable specification), ``"im2col"`` (chunked
columns, one reduction), ``"fast"`` (cache-sized blocks of strided views, pure NumPy) and
``"compiled"`` (the loop compiled with Numba, :mod:`pooling_ref._compiled`); ``"auto"`` is
``"compiled"`` where Numba is installed, else ``"fast"``. All are bitwise identical.

>>> import numpy as np
>>> x = np.array([1., 2., 3., 4., 5.], dtype=np.float32).reshape(1, 5, 1)
>>> avg_pool(x, 4, strides=1, padding="same")[0, :, 0]
array([2. , 2.5, 3.5, 4. , 4.5], dtype=float32)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from . import tf_kernels
from ._arrays import (
    as_input,
    check_method,
    finfo,
    from_channels_last,
    is_float_dtype,
    to_channels_last,
)
from .geometry import (
    WindowGeometry,
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
    plan_window,
)
from .windows import im2col_chunks, real_window_at

__all__ = ["avg_pool", "global_avg_pool", "global_max_pool", "max_pool"]

IntOrTuple = int | Sequence[int]


# ----------------------------------------------------------------------------- dtype facts


def lowest(dtype: np.dtype) -> np.generic:
    """The start value of the max scan: what a window with no number (only NaN / -inf)
    gives in the specification — the lowest finite value of the dtype (integers: its
    minimum). Paths that give ``-inf`` instead (XLA, Eigen 3D, AVX-512 oneDNN bfloat16) are
    rules of :mod:`pooling_ref.tf_kernels`.
    """
    if is_float_dtype(dtype):
        return np.array(-finfo(dtype).max, dtype=dtype)[()]
    return np.array(np.iinfo(dtype).min, dtype=dtype)[()]


def _pad_value_for_max(dtype: np.dtype) -> np.generic:
    """A padding value that is never strictly greater than anything: -inf / int min."""
    if is_float_dtype(dtype):
        return np.array(-np.inf, dtype=dtype)[()]
    return lowest(dtype)


# ----------------------------------------------------------------------------- arguments


def _prepare(op, x, pool_size, strides, padding, data_format, method):
    a = as_input(x, op)
    rank = a.ndim - 2
    pool = normalize_tuple(pool_size, rank, "pool_size", op)
    strides = pool if strides is None else normalize_tuple(strides, rank, "strides", op)
    padding = normalize_padding(padding, op)
    data_format = normalize_data_format(data_format, op)
    method = check_method(method, op, compiled=True)
    x_cl = to_channels_last(a, data_format)
    g = plan_window(x_cl.shape[1:-1], pool, strides, padding, None, op)
    return x_cl, g, data_format, method


def _output(x_cl: np.ndarray, g: WindowGeometry) -> np.ndarray:
    return np.empty((x_cl.shape[0], *g.out_spatial, x_cl.shape[-1]), dtype=x_cl.dtype)


def _real_counts(g: WindowGeometry, dtype: np.dtype) -> np.ndarray:
    """Real-cell count of every output window, shaped to broadcast against ``(N, *out, C)``."""
    total = np.ones((), dtype=np.int64)
    for axis, counts in enumerate(g.real_counts()):
        shape = [1] * g.rank
        shape[axis] = counts.size
        total = total * counts.reshape(shape)
    return total[..., None].astype(dtype)


# ----------------------------------------------------------------------------- max pooling


def _take_greater(acc: np.ndarray, cell: np.ndarray) -> None:
    """TF's max step: ``acc = cell`` where ``cell > acc`` (NaN never replaces, ties keep)."""
    np.copyto(acc, cell, where=cell > acc)


def _max_loop(x_cl: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """Specification: for each output position, scan the real cells of its window."""
    out = _output(x_cl, g)
    n, c = x_cl.shape[0], x_cl.shape[-1]
    for pos in itertools.product(*(range(m) for m in g.out_spatial)):
        cells = real_window_at(x_cl, pos, g)
        cells = cells.reshape(n, math.prod(cells.shape[1:-1]), c)   # -1 fails for n == 0
        best = np.full((n, c), lowest(x_cl.dtype), dtype=x_cl.dtype)
        for k in range(cells.shape[1]):          # row-major window order
            _take_greater(best, cells[:, k])
        out[(slice(None), *pos, slice(None))] = best
    return out


def _max_im2col(x_cl: np.ndarray, g: WindowGeometry) -> np.ndarray:
    out = _output(x_cl, g)
    for (bs, rs), cols in im2col_chunks(x_cl, g, fill_value=_pad_value_for_max(x_cl.dtype)):
        best = np.full(cols.shape[:-2] + cols.shape[-1:], lowest(x_cl.dtype), x_cl.dtype)
        for k in range(g.cells):
            _take_greater(best, cols[..., k, :])
        out[bs, rs] = best
    return out


def _max_fast(x_cl: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """Cache-sized blocks on a thread pool (see :mod:`pooling_ref._fast`); bitwise = loop."""
    from . import _fast

    return _fast.max_pool(x_cl, g)


# ----------------------------------------------------------------------------- average pooling


def _avg_loop(x_cl: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """Specification: sum the real cells in row-major order from +0, divide by their count."""
    out = _output(x_cl, g)
    n, c = x_cl.shape[0], x_cl.shape[-1]
    for pos in itertools.product(*(range(m) for m in g.out_spatial)):
        cells = real_window_at(x_cl, pos, g)
        cells = cells.reshape(n, math.prod(cells.shape[1:-1]), c)   # -1 fails for n == 0
        total = np.zeros((n, c), dtype=x_cl.dtype)
        for k in range(cells.shape[1]):
            total = total + cells[:, k]
        out[(slice(None), *pos, slice(None))] = total / x_cl.dtype.type(cells.shape[1])
    return out


# Adding a zero padding cell to a running sum that started at +0 never changes its bits
# (x + 0 == x for every x except -0, and a sum started at +0 is never -0), so the padded
# methods below reproduce the loop's row-major sum exactly.


def _avg_im2col(x_cl: np.ndarray, g: WindowGeometry) -> np.ndarray:
    out = _output(x_cl, g)
    counts = _real_counts(g, x_cl.dtype)
    for (bs, rs), cols in im2col_chunks(x_cl, g):
        total = np.zeros(cols.shape[:-2] + cols.shape[-1:], dtype=x_cl.dtype)
        for k in range(g.cells):
            total += cols[..., k, :]
        out[bs, rs] = total / counts[rs]
    return out


def _avg_fast(x_cl: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """The loop's exact summation order, in cache-sized blocks on a thread pool."""
    from . import _fast

    return _fast.avg_pool(x_cl, g, _real_counts(g, x_cl.dtype))


def _compiled(op: str):
    def run(x_cl: np.ndarray, g: WindowGeometry) -> np.ndarray:
        from . import _compiled

        return _compiled.pool(x_cl, g, op)

    run.__doc__ = "The loop specification compiled with Numba (:mod:`pooling_ref._compiled`)."
    return run


def _fused(op: str, method: str, x_cl: np.ndarray, g: WindowGeometry):
    """The method's pooling that follows a TF kernel path's rules in its own pass
    (``tf_kernels.max_pool``'s ``fused``), or ``None``: only the compiled kernel has one."""
    if method != "compiled":
        return None
    from . import _compiled

    return lambda rules: _compiled.pool(x_cl, g, op, rules)


_METHODS = {
    "max": {"loop": _max_loop, "im2col": _max_im2col, "fast": _max_fast,
            "compiled": _compiled("max")},
    "avg": {"loop": _avg_loop, "im2col": _avg_im2col, "fast": _avg_fast,
            "compiled": _compiled("avg")},
}


# ----------------------------------------------------------------------------- public API


def max_pool(
    x: object,
    pool_size: IntOrTuple,
    strides: IntOrTuple | None = None,
    padding: str = "valid",
    data_format: str = "channels_last",
    *,
    method: str = "auto",
    nan: str = "tf",
    tf_kernel: str | None = "onednn",
) -> np.ndarray:
    """Max pooling with Keras ``MaxPooling1D/2D/3D`` semantics (spatial rank read from ``x``).

    >>> import numpy as np
    >>> x = np.array([[1, 2, 5, 6], [3, 4, 7, 8], [9, 10, 13, 14], [11, 12, 15, 16]],
    ...              dtype=np.float32).reshape(1, 4, 4, 1)
    >>> max_pool(x, 2)[0, :, :, 0]
    array([[ 4.,  8.],
           [12., 16.]], dtype=float32)

    ``strides=None`` means ``strides = pool_size``. ``method``: ``"loop"``, ``"im2col"``,
    ``"fast"``, ``"compiled"`` or ``"auto"`` (= ``"compiled"`` with Numba, else ``"fast"``);
    all give bitwise-identical results.

    ``nan="tf"`` (default, TF bit for bit): NaN is ignored, the first of equal maxima wins
    (``[-0., +0.] -> -0.``), a window of only NaN/-inf gives the dtype's lowest finite value
    (``-inf`` for bfloat16). ``nan="propagate"`` (NumPy ``np.max`` style): a window holding
    a NaN gives NaN and a window of only -inf gives -inf; everything else as ``"tf"``.
    ``tf_kernel`` (``"onednn"``, ``"eigen"``, ``"xla"``): whose rules for subnormals and
    windows without a number to follow (:mod:`pooling_ref.tf_kernels`); ``None``: no path's
    rules (IEEE subnormals), the specification :func:`pooling_ref.check` uses by default.

    >>> x = np.array([np.nan, 1., -np.inf, -np.inf], dtype=np.float32).reshape(1, 4, 1)
    >>> max_pool(x, 2)[0, :, 0], max_pool(x, 2, nan="propagate")[0, :, 0]
    (array([ 1.0000000e+00, -3.4028235e+38], dtype=float32), array([ nan, -inf], dtype=float32))
    """
    if not isinstance(nan, str) or nan not in ("tf", "propagate"):
        raise ValueError(f"max_pool: nan must be 'tf' or 'propagate', got {nan!r}")
    x_cl, g, fmt, method = _prepare("max_pool", x, pool_size, strides, padding, data_format,
                                    method)
    tf_kernel = tf_kernels.check_tf_kernel(tf_kernel, "max_pool")
    out = tf_kernels.max_pool(x_cl, g, lambda a: _METHODS["max"][method](a, g), tf_kernel,
                              _fused("max", method, x_cl, g))
    if nan == "propagate" and is_float_dtype(x_cl.dtype):
        _propagate_nan(out, x_cl, g, _METHODS["max"][method])
    return from_channels_last(out, fmt)


def _propagate_nan(out: np.ndarray, x_cl: np.ndarray, g: WindowGeometry, pool) -> None:
    """Turn TF results into ``np.max`` ones: NaN windows -> NaN, all -inf windows -> -inf.

    Works for every method: ``pool`` (the same method) max-pools 0/1 masks of the input,
    so the padding cells of "same" windows are ignored exactly as for the values.
    """
    with np.errstate(invalid="ignore"):
        finite_or_nan = pool((x_cl != -np.inf).view(np.uint8), g)   # 0: only -inf cells
        has_nan = pool(np.isnan(x_cl).view(np.uint8), g)
    out[finite_or_nan == 0] = -np.inf
    out[has_nan == 1] = np.nan


def avg_pool(
    x: object,
    pool_size: IntOrTuple,
    strides: IntOrTuple | None = None,
    padding: str = "valid",
    data_format: str = "channels_last",
    *,
    method: str = "auto",
    tf_kernel: str | None = "onednn",
) -> np.ndarray:
    """Average pooling with Keras ``AveragePooling1D/2D/3D`` semantics.

    >>> import numpy as np
    >>> x = np.array([1., 2., 3., 4.], dtype=np.float32).reshape(1, 4, 1)
    >>> avg_pool(x, 3, strides=2, padding="same")[0, :, 0]   # pads (0, 1): [1,2,3], [3,4]
    array([2. , 3.5], dtype=float32)

    Each window's real cells are summed in row-major order in the input dtype, then divided
    by their count ("same" padding cells are not counted). Float inputs only. ``tf_kernel``
    (``"onednn"``, ``"eigen"``, ``"xla"``): whose rules for subnormals and bfloat16
    summation to follow (:mod:`pooling_ref.tf_kernels`).
    """
    x_cl, g, fmt, method = _prepare("avg_pool", x, pool_size, strides, padding, data_format,
                                    method)
    if not is_float_dtype(x_cl.dtype):
        raise TypeError(
            f"avg_pool: x must have a floating dtype (Keras/TF AveragePooling rejects "
            f"integers), got dtype {x_cl.dtype.name}"
        )
    tf_kernel = tf_kernels.check_tf_kernel(tf_kernel, "avg_pool")
    out = tf_kernels.avg_pool(x_cl, g, lambda a: _METHODS["avg"][method](a, g), tf_kernel,
                              _fused("avg", method, x_cl, g))
    return from_channels_last(out, fmt)


def _global_prepare(op, x, data_format, keepdims):
    a = as_input(x, op)
    data_format = normalize_data_format(data_format, op)
    if not isinstance(keepdims, (bool, np.bool_)):
        raise TypeError(f"{op}: keepdims must be a bool, got {keepdims!r}")
    axes = tuple(range(2, a.ndim)) if data_format == "channels_first" else tuple(
        range(1, a.ndim - 1))
    return a, axes


def _compiled_global(method: str, a: np.ndarray, axes, op: str, dtype=None):
    """The compiled global reduction, or ``None``: not asked for, or not faster for this
    layout (:func:`pooling_ref._compiled.global_pool`)."""
    if method != "compiled":
        return None
    from . import _compiled

    return _compiled.global_pool(a, axes, op, dtype)


def global_max_pool(
    x: object, data_format: str = "channels_last", keepdims: bool = False, *,
    tf_kernel: str | None = "onednn", method: str = "auto",
) -> np.ndarray:
    """Keras ``GlobalMaxPooling1D/2D/3D``: the maximum over all spatial axes.

    >>> import numpy as np
    >>> global_max_pool(np.array([[[1.], [5.], [3.]]]))
    array([[5.]])

    Keras implements this with ``reduce_max``, not with max pooling, so the special values
    follow ``tf.reduce_max``: NaN propagates, -inf stays -inf and, among equal maxima, the
    last in row-major order wins (``[-0., +0.] -> +0.``, ``[+0., -0.] -> -0.``; measured,
    TF 2.21). An empty spatial axis raises ``ValueError`` (TF: "Cannot compute the max of
    an empty tensor"). ``tf_kernel`` (``None``: IEEE): subnormals read as zeros except over
    a single cell; under ``"xla"`` NaN is ignored (a channel of only NaN gives -inf). No
    path fixes the sign of a zero maximum (:func:`pooling_ref.tf_kernels.unspecified_global_max`).
    ``method``: ``"compiled"`` (Numba, :func:`pooling_ref._compiled.global_pool`, where it
    is faster) or any NumPy method name (one NumPy implementation); ``"auto"``:
    ``"compiled"`` with Numba. All bitwise equal.
    """
    a, axes = _global_prepare("global_max_pool", x, data_format, keepdims)
    method = check_method(method, "global_max_pool", compiled=True)
    tf_kernel = tf_kernels.check_tf_kernel(tf_kernel, "global_max_pool")
    if any(a.shape[i] == 0 for i in axes):
        if a.size == 0 and any(a.shape[i] == 0 for i in range(a.ndim) if i not in axes):
            shape = [1 if i in axes else s for i, s in enumerate(a.shape)]
            out = np.empty(shape, a.dtype)
            return out if keepdims else np.squeeze(out, axis=axes)
        raise ValueError(
            f"global_max_pool: x has an empty spatial axis, shape {a.shape!r}; the maximum "
            f"of an empty window is undefined"
        )
    a = tf_kernels.global_max_input(a, math.prod(a.shape[i] for i in axes), tf_kernel)
    out = _compiled_global(method, a, axes, "max")
    if out is not None:
        return out if keepdims else np.squeeze(out, axis=axes)
    out = np.max(a, axis=axes, keepdims=True)
    if is_float_dtype(a.dtype):
        # np.max picks an arbitrary zero among +0/-0; TF keeps the last one (row-major).
        flat = np.moveaxis(a, axes, tuple(range(-len(axes), 0)))
        lead = a.ndim - len(axes)                  # explicit size: -1 fails for batch 0
        flat = flat.reshape(*flat.shape[:lead], math.prod(flat.shape[lead:]))
        zeros = flat == 0
        last = flat.shape[-1] - 1 - np.argmax(zeros[..., ::-1], axis=-1)
        sign = np.signbit(np.take_along_axis(flat, last[..., None], axis=-1)[..., 0])
        zero = np.where(sign, -np.zeros((), a.dtype), np.zeros((), a.dtype)).astype(a.dtype)
        out = np.where(out == 0, np.expand_dims(zero, axes), out).astype(a.dtype)
    return out if keepdims else np.squeeze(out, axis=axes)


def global_avg_pool(
    x: object, data_format: str = "channels_last", keepdims: bool = False, *,
    tf_kernel: str | None = "onednn", method: str = "auto",
) -> np.ndarray:
    """Keras ``GlobalAveragePooling1D/2D/3D``: the mean over all spatial axes.

    >>> import numpy as np
    >>> global_avg_pool(np.array([[[1.], [2.], [6.]]], dtype=np.float32))
    array([[3.]], dtype=float32)

    Float inputs keep their dtype. As TF's ``reduce_mean``, the sum is accumulated in
    float32 for float16/bfloat16/float32 (so a float32 sum overflows to inf as in TF) and in
    float64 for float64, divided by the count, then rounded once; the summation order
    differs from TF's (within the documented bound; bitwise for float16/bfloat16/float64 in
    practice). Integer inputs give float32, as Keras does. An empty spatial axis gives NaN.
    ``tf_kernel`` (any path; ``None``: IEEE): subnormal inputs read as zeros, the sum
    started from ``+0`` and a subnormal mean flushed, except over a single cell
    (:data:`pooling_ref.tf_kernels.RULES`, measured alike on every TF path). ``method`` as
    for :func:`global_max_pool` (the compiled sum is NumPy's pairwise sum).
    """
    a, axes = _global_prepare("global_avg_pool", x, data_format, keepdims)
    method = check_method(method, "global_avg_pool", compiled=True)
    tf_kernel = tf_kernels.check_tf_kernel(tf_kernel, "global_avg_pool")
    out_dtype = a.dtype if is_float_dtype(a.dtype) else np.dtype(np.float32)
    acc = np.float32 if is_float_dtype(a.dtype) and a.dtype.itemsize <= 4 else np.float64
    # Reduced axes moved last and made contiguous: the (pairwise) summation order, hence
    # the bits, do not depend on the memory layout of x.
    cells = math.prod(a.shape[i] for i in axes)

    def mean_of(m: np.ndarray, plus_zero: bool = False) -> np.ndarray:
        """The mean of ``m`` (laid out as ``a``) over ``axes``, in the output dtype."""
        total = _compiled_global(method, m, axes, "sum", np.dtype(acc))
        if total is not None:
            total = np.squeeze(total, axis=axes)
        else:
            moved = np.moveaxis(m, axes, tuple(range(-len(axes), 0)))
            total = np.ascontiguousarray(moved, dtype=acc).reshape(
                *moved.shape[: a.ndim - len(axes)], cells).sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            total = total + (acc(0) if plus_zero else -acc(0))
            return np.asarray(total / acc(cells)).astype(out_dtype)

    mean = tf_kernels.global_avg_pool(a, cells, tf_kernel, mean_of)
    return np.expand_dims(mean, axes) if keepdims else mean
