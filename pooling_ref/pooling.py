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
``"compiled"`` where Numba is installed, else ``"fast"`` (:mod:`pooling_ref.methods`). All
are bitwise identical. A TF kernel path's rules (``tf_kernel``) are compiled into a plan
(:mod:`pooling_ref.rules`) and applied by :mod:`pooling_ref.apply_rules`.

>>> import numpy as np
>>> x = np.array([1., 2., 3., 4., 5.], dtype=np.float32).reshape(1, 5, 1)
>>> avg_pool(x, 4, strides=1, padding="same")[0, :, 0]
array([2. , 2.5, 3.5, 4. , 4.5], dtype=float32)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from . import apply_rules, methods
from ._arrays import as_input, from_channels_last
from .arguments import call_key, prepare_pool
from .dtypes import flush_subnormals, is_float_dtype
from .geometry import WindowGeometry, check_bool, normalize_data_format
from .rules import check_tf_kernel, grad_rules, plan_global, plan_pool

__all__ = [
    "ARGMAX_SCANS",
    "argmax_pool",
    "avg_pool",
    "global_avg_pool",
    "global_max_pool",
    "max_pool",
    "max_pool_with_argmax",
]

IntOrTuple = int | Sequence[int]


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
    ceil_mode: bool = False,
    dilation_rate: IntOrTuple = 1,
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
    windows without a number to follow (:mod:`pooling_ref.rules`); ``None``: no path's
    rules (IEEE subnormals), the specification :func:`pooling_ref.check` uses by default.

    >>> x = np.array([np.nan, 1., -np.inf, -np.inf], dtype=np.float32).reshape(1, 4, 1)
    >>> max_pool(x, 2)[0, :, 0], max_pool(x, 2, nan="propagate")[0, :, 0]
    (array([ 1.0000000e+00, -3.4028235e+38], dtype=float32), array([ nan, -inf], dtype=float32))

    The general window model (keyword-only; the defaults are Keras'): ``padding`` may also
    be ``"same_lower"`` (ONNX ``SAME_LOWER``: the odd cell before) or explicit pads
    ``((before, after), ...)`` per spatial axis; ``ceil_mode=True`` rounds the output
    length up, dropping a last window that would start in the right padding (torch, ONNX);
    ``dilation_rate`` spaces the window taps (``tf.nn.pool``, torch, ONNX), and "same"
    padding is sized from the dilated window. Padding cells are never selected.

    >>> x = np.arange(1., 10., dtype=np.float32).reshape(1, 9, 1)
    >>> max_pool(x, 4, padding=((2, 2),), ceil_mode=True)[0, :, 0]   # 3 windows, not 4
    array([2., 6., 9.], dtype=float32)
    >>> max_pool(x, 2, strides=1, padding="same_lower", dilation_rate=3)[0, :, 0]  # pads (2, 1)
    array([2., 3., 4., 5., 6., 7., 8., 9., 7.], dtype=float32)
    """
    key = call_key("max_pool", x, (pool_size, strides, padding, data_format, method, nan,
                                   tf_kernel, ceil_mode, dilation_rate))
    prepared = _PREPARED.get(key) if key else None
    if prepared:
        return prepared(x)
    if not isinstance(nan, str) or nan not in ("tf", "propagate"):
        raise ValueError(f"max_pool: nan must be 'tf' or 'propagate', got {nan!r}")
    x_cl, g, fmt = prepare_pool("max_pool", x, pool_size, strides, padding, data_format,
                                ceil_mode=ceil_mode, dilation_rate=dilation_rate)
    kernel = methods.kernel("max_pool", methods.resolve(method, "max_pool"))
    plan = plan_pool(check_tf_kernel(tf_kernel, "max_pool"), "max", x_cl.dtype, g)
    out = apply_rules.max_pool(x_cl, g, plan, kernel)
    if nan == "propagate" and is_float_dtype(x_cl.dtype):
        _propagate_nan(out, x_cl, g, kernel.run)
    else:
        _prepare(key, x_cl, fmt, g, plan, kernel)
    return from_channels_last(out, fmt)


#: Calls of :func:`max_pool` / :func:`avg_pool` set up once, by
#: :func:`pooling_ref.arguments.call_key`: the kernel's fused form taking the input array
#: (:func:`pooling_ref.apply_rules.prepared`), or ``False`` where the call has none
#: (rules applied around a kernel, another method, a copy). A repeated call runs it without
#: checking or planning again: its key equals only calls that passed the same checks.
#: At most :data:`_PREPARED_MAX` entries (emptied when full).
_PREPARED: dict = {}
_PREPARED_MAX = 512


def _prepare(key, x_cl: np.ndarray, fmt: str, g: WindowGeometry, plan, kernel) -> None:
    """Remember the prepared form of a call that has just succeeded (key ``key``: ``x``
    C-contiguous in ``fmt``, of shape and dtype of ``x_cl``'s in that layout)."""
    if key is None:
        return
    run = apply_rules.prepared(g, plan, kernel, x_cl.shape[0], x_cl.shape[-1], x_cl.dtype,
                               fmt == "channels_first")
    if len(_PREPARED) >= _PREPARED_MAX:
        _PREPARED.clear()
    _PREPARED[key] = False if run is None else run


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
    ceil_mode: bool = False,
    dilation_rate: IntOrTuple = 1,
    divisor: str | int = "real",
) -> np.ndarray:
    """Average pooling with Keras ``AveragePooling1D/2D/3D`` semantics.

    >>> import numpy as np
    >>> x = np.array([1., 2., 3., 4.], dtype=np.float32).reshape(1, 4, 1)
    >>> avg_pool(x, 3, strides=2, padding="same")[0, :, 0]   # pads (0, 1): [1,2,3], [3,4]
    array([2. , 3.5], dtype=float32)

    Each window's real cells are summed in row-major order in the input dtype, then divided
    by their count ("same" padding cells are not counted). Float inputs only. ``tf_kernel``
    (``"onednn"``, ``"eigen"``, ``"xla"``): whose rules for subnormals and bfloat16
    summation to follow (:mod:`pooling_ref.rules`).

    ``padding`` (also ``"same_lower"`` and explicit pads), ``ceil_mode`` and
    ``dilation_rate`` as for :func:`max_pool`. ``divisor``: ``"real"`` (the real cells, TF's
    rule, the default), ``"padded"`` (the cells inside the padded extent: torch's and
    ONNX's ``count_include_pad``; a ceil-mode overhang past it is not counted) or an int
    (torch's ``divisor_override``). A window of padding only (explicit pads at least the
    window) has no real cell: its ``"real"`` average is 0 / 0 = NaN.

    >>> x = np.array([1., 2., 3., 4., 5.], dtype=np.float32).reshape(1, 5, 1)
    >>> avg_pool(x, 4, ceil_mode=True)[0, :, 0]              # [1..4], [5]: 3 cells overhang
    array([2.5, 5. ], dtype=float32)
    >>> avg_pool(x, 2, padding=((1, 1),), divisor="padded")[0, :, 0]   # [0+1, 2+3, 4+5] / 2
    array([0.5, 2.5, 4.5], dtype=float32)
    """
    key = call_key("avg_pool", x, (pool_size, strides, padding, data_format, method,
                                   tf_kernel, ceil_mode, dilation_rate, divisor))
    prepared = _PREPARED.get(key) if key else None
    if prepared:
        return prepared(x)
    x_cl, g, fmt = prepare_pool("avg_pool", x, pool_size, strides, padding, data_format,
                                ceil_mode=ceil_mode, dilation_rate=dilation_rate,
                                divisor=divisor)
    kernel = methods.kernel("avg_pool", methods.resolve(method, "avg_pool"))
    if not is_float_dtype(x_cl.dtype):
        raise TypeError(
            f"avg_pool: x must have a floating dtype (Keras/TF AveragePooling rejects "
            f"integers), got dtype {x_cl.dtype.name}"
        )
    plan = plan_pool(check_tf_kernel(tf_kernel, "avg_pool"), "avg", x_cl.dtype, g)
    out = apply_rules.avg_pool(x_cl, g, plan, kernel)
    _prepare(key, x_cl, fmt, g, plan, kernel)
    return from_channels_last(out, fmt)


#: ``nan=`` of :func:`max_pool_with_argmax` -> the scan that picks a window's cell
#: (:func:`pooling_ref._pool_kernels.scan_moves`).
ARGMAX_SCANS = {"tf": "first", "propagate": "nan-last"}


def max_pool_with_argmax(
    x: object,
    pool_size: IntOrTuple,
    strides: IntOrTuple | None = None,
    padding: str = "valid",
    *,
    include_batch_in_index: bool = False,
    method: str = "auto",
    nan: str = "tf",
    ceil_mode: bool = False,
    dilation_rate: IntOrTuple = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """``tf.nn.max_pool_with_argmax``: ``(y, argmax)`` of channels_last ``x``.

    >>> import numpy as np
    >>> x = np.float32([[1, 5], [5, 2], [7, 7]]).reshape(1, 3, 2, 1)    # 3 x 2, C = 1
    >>> y, argmax = max_pool_with_argmax(x, (1, 2))
    >>> y[0, :, 0, 0], argmax[0, :, 0, 0]                    # ties: the first cell
    (array([5., 5., 7.], dtype=float32), array([1, 2, 4]))

    ``argmax`` (int64) holds the flat index of the chosen cell in ``x``: ``(y*W + x)*C + c``
    over the spatial axes and the channel (any spatial rank; TF has 2D only), plus
    ``b*H*W*C`` with ``include_batch_in_index``. TF's kernel scans each window from its
    first real cell and moves on only to a strictly greater one (measured, TF 2.21, every
    CPU path — XLA has no kernel for it): ties keep the first, a NaN in the first cell is
    chosen (``[nan, 1, 2] -> nan``) and kept, a later NaN is passed over, a window of only
    ``-inf`` gives ``-inf``, and subnormals are kept — so ``y`` is not always
    :func:`max_pool`'s value. Padding cells are never chosen. ``nan="propagate"``: torch's
    scan, which also moves on to every NaN (the last NaN is chosen). ``method``:
    ``"loop"`` or ``"fast"`` (``"auto"``), bitwise equal. ``ceil_mode`` and
    ``dilation_rate`` as for :func:`max_pool`.
    """
    op = "max_pool_with_argmax"
    include = check_bool(include_batch_in_index, "include_batch_in_index", op)
    if not isinstance(nan, str) or nan not in ARGMAX_SCANS:
        raise ValueError(f"{op}: nan must be 'tf' or 'propagate', got {nan!r}")
    # TF's kernel compares under the eager runtime's denormal flushing (that of its max
    # pooling gradient, float16 excepted) but returns the chosen cell unflushed (measured,
    # TF 2.21: [3, 6, 10, 1] * 1e-45 in one float32 window gives 3e-45 at index 0)
    x_cl = as_input(x, op)
    flush = nan == "tf" and grad_rules("eigen", "max", x_cl.dtype, 2).flush
    values, flat = argmax_pool(op, x_cl, pool_size, strides, padding, scan=ARGMAX_SCANS[nan],
                               flush=flush, method=method, ceil_mode=ceil_mode,
                               dilation_rate=dilation_rate)
    if include:
        n = values.shape[0]
        batch = np.arange(n, dtype=np.int64).reshape(n, *(1,) * (values.ndim - 1))
        flat = np.where(flat < 0, flat, flat + batch * (x_cl[0].size))
    return values, flat


def argmax_pool(op: str, x_cl: np.ndarray, pool_size, strides, padding, *, scan: str,
                flush: bool, method: str = "auto", ceil_mode: bool = False,
                dilation_rate: IntOrTuple = 1) -> tuple[np.ndarray, np.ndarray]:
    """``(values, flat index)`` of each window's chosen cell in channels_last ``x_cl``: the
    cell a ``scan`` (:func:`pooling_ref._pool_kernels.scan_moves`) stops at, comparing
    flushed values if ``flush`` (the cell itself returned unflushed); the index
    ``(y*W + x)*C + c`` without the batch, ``-1`` for a window without a real cell.

    >>> x = np.float32([3e-45, 6e-45]).reshape(1, 2, 1)
    >>> for flush in (True, False):                 # flushed: a tie of zeros keeps the first
    ...     print(argmax_pool("op", x, 2, None, "valid", scan="first", flush=flush))
    (array([[[3.e-45]]], dtype=float32), array([[[0]]]))
    (array([[[6.e-45]]], dtype=float32), array([[[1]]]))
    """
    x_cl, g, _ = prepare_pool(op, x_cl, pool_size, strides, padding, "channels_last",
                              ceil_mode=ceil_mode, dilation_rate=dilation_rate)
    method = methods.resolve(method, "max_pool_argmax")
    scanned = flush_subnormals(x_cl) if flush else x_cl
    values, index = methods.run("max_pool_argmax", method, scanned, g, scan)
    n, c = x_cl.shape[0], x_cl.shape[-1]
    if scanned is not x_cl:
        cells = np.take_along_axis(x_cl.reshape(n, -1, c),
                                   np.maximum(index, 0).reshape(n, -1, c), axis=1)
        values = np.where(index < 0, values, cells.reshape(index.shape))
    flat = index * c + np.arange(c, dtype=np.int64)
    return values, np.where(index < 0, np.int64(-1), flat)


def _global_prepare(op, x, data_format, keepdims):
    a = as_input(x, op)
    data_format = normalize_data_format(data_format, op)
    if not isinstance(keepdims, (bool, np.bool_)):
        raise TypeError(f"{op}: keepdims must be a bool, got {keepdims!r}")
    axes = tuple(range(2, a.ndim)) if data_format == "channels_first" else tuple(
        range(1, a.ndim - 1))
    return a, axes


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
    path fixes the sign of a zero maximum (:func:`pooling_ref.tolerance.unspecified_global_max`).
    ``method``: ``"compiled"`` (Numba, :func:`pooling_ref._compiled.global_pool`, where it
    is faster) or any NumPy method name (one NumPy implementation); ``"auto"``:
    ``"compiled"`` with Numba. All bitwise equal.
    """
    a, axes = _global_prepare("global_max_pool", x, data_format, keepdims)
    method = methods.resolve(method, "global_max_pool")
    tf_kernel = check_tf_kernel(tf_kernel, "global_max_pool")
    if any(a.shape[i] == 0 for i in axes):
        if a.size == 0 and any(a.shape[i] == 0 for i in range(a.ndim) if i not in axes):
            shape = [1 if i in axes else s for i, s in enumerate(a.shape)]
            out = np.empty(shape, a.dtype)
            return out if keepdims else np.squeeze(out, axis=axes)
        raise ValueError(
            f"global_max_pool: x has an empty spatial axis, shape {a.shape!r}; the maximum "
            f"of an empty window is undefined"
        )
    cells = math.prod(a.shape[i] for i in axes)
    a = apply_rules.global_max_input(a, plan_global(tf_kernel, "global_max", a.dtype, cells))
    out = methods.run("global_max_pool", method, a, axes)
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
    (:data:`pooling_ref.rules.RULES`, measured alike on every TF path). ``method`` as
    for :func:`global_max_pool` (the compiled sum is NumPy's pairwise sum).
    """
    a, axes = _global_prepare("global_avg_pool", x, data_format, keepdims)
    method = methods.resolve(method, "global_avg_pool")
    tf_kernel = check_tf_kernel(tf_kernel, "global_avg_pool")
    out_dtype = a.dtype if is_float_dtype(a.dtype) else np.dtype(np.float32)
    acc = np.float32 if is_float_dtype(a.dtype) and a.dtype.itemsize <= 4 else np.float64
    cells = math.prod(a.shape[i] for i in axes)
    plan = plan_global(tf_kernel, "global_avg", a.dtype, cells)
    total = methods.run("global_avg_pool", method, apply_rules.global_avg_input(a, plan),
                        axes, np.dtype(acc))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        total = total + (acc(0) if plan.plus_zero else -acc(0))
        mean = np.asarray(total / acc(cells)).astype(out_dtype)
    mean = apply_rules.global_avg_output(mean, plan)
    return np.expand_dims(mean, axes) if keepdims else mean
