"""Backward passes of max pooling, average pooling and convolution (TF's rules, measured).

Each function returns what ``tf.GradientTape`` gives for the Keras layer: the gradient of
``sum(forward(x) * grad_out)`` with respect to ``x`` (and, for convolution, the kernel and a
bias), for the upstream gradient ``grad_out``.

>>> import numpy as np
>>> x = np.array([0., 1., 1., 0.], dtype=np.float32).reshape(1, 4, 1)
>>> max_pool_grad(x, np.ones((1, 3, 1), np.float32), 2, strides=1)[0, :, 0]
array([0., 2., 1., 0.], dtype=float32)

Max pooling routes each window's upstream gradient to the cell(s) the forward picked.
TensorFlow's CPU kernels are not uniform across ranks (TF 2.21, measured on both eager
kernel paths, oneDNN and Eigen; see docs/gradients.md):

* **1D / 2D** (``ties="first"``): one cell per window receives the gradient — the scan starts
  at the window's first *real* cell and moves on only to a strictly greater cell. So the
  first of tied maxima gets it, and a NaN in the first real cell keeps it (the forward
  ignored that NaN); a window of only NaN or only -inf sends it to its first real cell.
* **3D**: every cell within ``1e-5`` of the forward maximum (:func:`max_pool`), i.e.
  ``|x - max| < 1e-5`` in ``x``'s dtype, receives the full gradient — ties (``-0`` and
  ``+0`` too) and near-ties (``1`` and ``0.999999``); a NaN cell never does, an infinite
  maximum sends it nowhere (``inf - inf`` is NaN), nor does a window with no number (only
  NaN / -inf). ``ties="all"`` is the exact-equality version of this rule.
* ``ties="split"`` (no TF kernel does this): the cells of ``"all"`` share it equally.
* XLA (``tf_kernel="xla"``): the first maximum in every rank, but the scan moves on unless
  ``current >= next``, so a NaN attracts the choice and loses it again.

``tf_kernel`` selects a path's rules (:data:`pooling_ref.rules.GRAD_RULES`): the tie
rule above, the accumulation order, subnormal flushing (a flushed sum keeps its sign) and
whether a window adds ``+0`` to the cells it does not choose (``None``: the eager tie rules
with IEEE subnormals). docs/gradients.md, "Kernel paths", lists the measurements.

Contributions of overlapping windows are added to a cell starting from ``+0`` (so a cell
no window selects is ``+0``), in TF's order: row-major output order for 1D/2D; for 3D the
last spatial axis outermost. Average pooling sends ``grad_out / count`` to each real cell
of the window (``count`` excludes "same" padding).

Methods: ``"loop"`` is the specification (one output position at a time, the windows of
the forward definition); ``"fast"`` is vectorised over all windows (one strided view per
window cell); ``"compiled"`` (pooling only) is the loop compiled with Numba
(:func:`pooling_ref._compiled.pool_grad`; float16/bfloat16 and the XLA rules run ``"fast"``),
and ``"auto"`` picks it where Numba is installed, else ``"fast"``. For max and average
pooling ``"fast"`` and ``"compiled"`` equal ``"loop"`` bit for bit (window cells are
visited in the order that adds, at each input cell, in the loop's order); for
convolution ``"fast"`` and ``"loop"`` agree within :func:`pooling_ref.tolerance.conv_grad_bounds`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import methods
from ._arrays import from_channels_last
from .apply_rules import flush_input
from .arguments import check_grad_out, prepare_conv, prepare_pool
from .dtypes import is_float_dtype
from .rules import check_tf_kernel, plan_grad

__all__ = ["TIES", "avg_pool_grad", "conv_grad", "max_pool_grad"]

IntOrTuple = int | Sequence[int]

#: The tie rules of :func:`max_pool_grad` (module docstring).
TIES = ("first", "all", "split")


def _pool_args(op, x, grad_out, pool_size, strides, padding, data_format, method, **window):
    x_cl, g, fmt = prepare_pool(op, x, pool_size, strides, padding, data_format, **window)
    method = methods.resolve(method, op)
    out_shape = (x_cl.shape[0], *g.out_spatial, x_cl.shape[-1])
    return x_cl, check_grad_out(grad_out, out_shape, x_cl.dtype, fmt, op), g, fmt, method


def max_pool_grad(
    x: object,
    grad_out: object,
    pool_size: IntOrTuple,
    strides: IntOrTuple | None = None,
    padding: str = "valid",
    data_format: str = "channels_last",
    *,
    method: str = "auto",
    ties: str | None = None,
    tf_kernel: str | None = "onednn",
    ceil_mode: bool = False,
    dilation_rate: IntOrTuple = 1,
) -> np.ndarray:
    """Gradient of :func:`pooling_ref.max_pool` w.r.t. ``x`` for upstream ``grad_out``.

    >>> import numpy as np
    >>> x = np.ones((1, 2, 2, 1), np.float32)                # one 2x2 window of ties
    >>> max_pool_grad(x, np.ones((1, 1, 1, 1), np.float32), 2)[0, :, :, 0]
    array([[1., 0.],
           [0., 0.]], dtype=float32)
    >>> max_pool_grad(x, np.ones((1, 1, 1, 1), np.float32), 2, ties="split")[0, :, :, 0]
    array([[0.25, 0.25],
           [0.25, 0.25]], dtype=float32)

    ``grad_out`` has the shape and dtype of ``max_pool(x, ...)``; the result has those of
    ``x``. ``tf_kernel`` (``"onednn"``, ``"eigen"``, ``"xla"``; ``None``: the specification,
    IEEE subnormals): which TensorFlow path's gradient rules to follow
    (:data:`pooling_ref.rules.GRAD_RULES`: tie rule, accumulation order, subnormal
    flushing). ``ties``: ``"first"``, ``"all"`` (every cell equal to the maximum),
    ``"split"`` (those share it equally) or ``None``: the rule of ``tf_kernel`` for the rank
    — eager (and ``None``): ``"first"`` for 1D/2D, for 3D ``"all"`` with
    ``|x - max| < 1e-5`` as "equal"; XLA: the first maximum, where NaN attracts the choice
    (module docstring). ``method``: ``"loop"``, ``"fast"``, ``"compiled"`` or ``"auto"``
    (``"compiled"`` with Numba, else ``"fast"``); bitwise identical.

    >>> x = np.ones((1, 2, 2, 2, 1), np.float32)             # 3D: one window of ties
    >>> g = np.ones((1, 1, 1, 1, 1), np.float32)
    >>> [int(max_pool_grad(x, g, 2, tf_kernel=k).sum()) for k in ("onednn", "xla")]
    [8, 1]

    The general window model of :func:`pooling_ref.max_pool` (``padding`` as explicit pads
    or ``"same_lower"``, ``ceil_mode``, ``dilation_rate``) applies here too: a window sends
    its gradient to the real cell it chose, never to padding.
    """
    op = "max_pool_grad"
    x_cl, gout, g, fmt, method = _pool_args(op, x, grad_out, pool_size, strides, padding,
                                            data_format, method, ceil_mode=ceil_mode,
                                            dilation_rate=dilation_rate)
    tf_kernel = check_tf_kernel(tf_kernel, op)
    if ties is not None and (not isinstance(ties, str) or ties not in TIES):
        raise ValueError(f"{op}: ties must be None or one of {TIES}, got {ties!r}")
    if ties == "split" and not is_float_dtype(x_cl.dtype):
        raise TypeError(f"{op}: ties='split' needs a floating dtype, got {x_cl.dtype.name}")
    plan = plan_grad(tf_kernel, "max", x_cl.dtype, g, gout.size, ties)
    xs = flush_input(x_cl) if plan.flush else x_cl      # compared with subnormals as zeros
    return from_channels_last(methods.run(op, method, xs, gout, g, plan), fmt)


# ----------------------------------------------------------------------------- average pooling


def avg_pool_grad(
    x: object,
    grad_out: object,
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
    """Gradient of :func:`pooling_ref.avg_pool` w.r.t. ``x`` for upstream ``grad_out``.

    >>> import numpy as np
    >>> x = np.zeros((1, 3, 3, 1), np.float32)    # "same" 2/2: windows of 4, 2, 2 and 1
    >>> avg_pool_grad(x, np.ones((1, 2, 2, 1), np.float32), 2, padding="same")[0, :, :, 0]
    array([[0.25, 0.25, 0.5 ],
           [0.25, 0.25, 0.5 ],
           [0.5 , 0.5 , 1.  ]], dtype=float32)

    Each window sends ``grad_out / count`` (``count`` = its real cells, as the forward
    divides) to each real cell; a cell sums what it receives in the order of
    :func:`max_pool_grad`, in ``x``'s dtype (float only). TF sums in another order: agreement within
    :func:`pooling_ref.tolerance.avg_pool_grad_bound`. ``tf_kernel`` (as
    :func:`max_pool_grad`): subnormal partial sums flushed with their sign (not float16),
    and XLA's copies and broadcasts (every window with one real cell and none overlapping:
    ``grad_out`` unflushed; every axis untouched or one window: the share, flushed);
    ``None``: IEEE. The window arguments of :func:`pooling_ref.avg_pool` (explicit pads,
    ``"same_lower"``, ``ceil_mode``, ``dilation_rate``, ``divisor``) apply too: each window
    sends ``grad_out / divisor`` to its real cells (padding cells receive nothing).

    >>> avg_pool_grad(np.zeros((1, 3, 1), np.float32), np.ones((1, 2, 1), np.float32), 2,
    ...               strides=2, padding=((1, 0),), divisor="padded")[0, :, 0]
    array([0.5, 0.5, 0.5], dtype=float32)
    """
    op = "avg_pool_grad"
    x_cl, gout, g, fmt, method = _pool_args(op, x, grad_out, pool_size, strides, padding,
                                            data_format, method, ceil_mode=ceil_mode,
                                            dilation_rate=dilation_rate, divisor=divisor)
    if not is_float_dtype(x_cl.dtype):
        raise TypeError(f"{op}: x must have a floating dtype, got dtype {x_cl.dtype.name}")
    plan = plan_grad(check_tf_kernel(tf_kernel, op), "avg", x_cl.dtype, g, gout.size)
    return from_channels_last(methods.run(op, method, x_cl, gout, g, plan), fmt)


# ----------------------------------------------------------------------------- convolution


def conv_grad(
    x: object,
    kernel: object,
    grad_out: object,
    strides: IntOrTuple = 1,
    padding: str = "valid",
    data_format: str = "channels_last",
    dilation_rate: IntOrTuple = 1,
    groups: int = 1,
    *,
    method: str = "auto",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`pooling_ref.conv`: ``(grad_x, grad_kernel, grad_bias)``.

    >>> import numpy as np
    >>> x = np.arange(4.0).reshape(1, 4, 1)
    >>> k = np.array([1.0, -1.0]).reshape(2, 1, 1)
    >>> gx, gk, gb = conv_grad(x, k, np.ones((1, 3, 1)))
    >>> gx[0, :, 0], gk[:, 0, 0], gb
    (array([ 1.,  0.,  0., -1.]), array([3., 6.]), array([3.]))

    ``grad_out`` has the shape and dtype of ``conv(x, kernel, ...)``; ``grad_x`` /
    ``grad_kernel`` have the shapes of ``x`` / ``kernel`` and the forward's dtype;
    ``grad_bias`` (what a bias would receive) is ``grad_out`` summed over all but the
    channel axis. float16/bfloat16 are accumulated in float32 and rounded once (as the
    forward). Loop and fast agree within :func:`pooling_ref.tolerance.conv_grad_bounds`.
    """
    op = "conv_grad"
    p, fmt = prepare_conv(x, kernel, None, strides, padding, data_format, dilation_rate,
                          groups)
    method = methods.resolve(method, op)
    out_shape = (p.x.shape[0], *p.g.out_spatial, p.kernel.shape[-1])
    gout = check_grad_out(grad_out, out_shape, p.out_dtype, fmt, op).astype(p.x.dtype, copy=False)
    if p.g.padded and not (np.isfinite(p.kernel).all() and np.isfinite(gout).all()):
        method = "loop"                     # only the loop adds no term for padding cells
    gx, gk = methods.run(op, method, p, gout)
    gb = gout.sum(axis=tuple(range(gout.ndim - 1)))
    return (from_channels_last(gx.astype(p.out_dtype, copy=False), fmt),
            gk.astype(p.out_dtype, copy=False), gb.astype(p.out_dtype, copy=False))
