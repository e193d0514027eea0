"""How results are compared: bitwise, in ULP, or against a summation error bound.

* **bitwise** (max pooling, zero padding, float32 average pooling): same NaN positions and
  otherwise identical bits — so ``-0.0 != +0.0``. NaN payloads are not compared.
* **error bound** (convolution, global average, other average dtypes): a sum of ``K``
  products computed in any order in precision ``eps`` differs from the exact sum by at most
  ``gamma_K * sum|terms|`` with ``gamma_K ~= K*eps/2``; two such computations differ by at
  most ``K*eps*sum|terms|``. The bound used is::

      |a - b| <= C * (K + 1) * eps_acc * mag + eps_out * mag + K * tiny

  where ``mag`` is the same op applied to ``|x|`` and ``|kernel|`` (``|bias|``) in float64,
  ``eps_acc`` the epsilon of the accumulation dtype (float32 for float16/bfloat16, as TF),
  ``eps_out`` the epsilon of the result dtype (one final rounding each side), ``tiny`` the
  smallest subnormal (underflow) and ``C = 2`` (twice the worst case of sequential
  summation, room for blocked/FMA accumulation). A wrong implementation errs by O(mag),
  hundreds of times more, so the bound cannot hide a real bug.

>>> import numpy as np
>>> c = compare(np.float32([1, 2]), np.float32([1, 2]))
>>> c.ok, c.max_ulp
(True, 0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._repro import value_text
from .adaptive import adaptive_avg_pool
from .arguments import prepare_conv, prepare_pool
from .conv import conv
from .dtypes import finfo, is_float_dtype
from .geometry import adaptive_bins, cover_counts, normalize_tuple, normalize_window_strides
from .gradients import avg_pool_grad, conv_grad
from .pooling import avg_pool, global_avg_pool

__all__ = [
    "BOUND_C", "Comparison", "avg_pool_bound", "compare", "conv_bound", "error_bound",
    "global_avg_pool_bound", "ulp_distance", "unspecified_global_max",
]

#: The constant ``C`` in the error bound (see module docstring).
BOUND_C = 2.0


def _ordered_ints(a: np.ndarray) -> np.ndarray:
    """Map floats to integers whose order and differences count ULPs (+0 and -0 both 0)."""
    a = np.ascontiguousarray(a)
    bits = {2: np.int16, 4: np.int32, 8: np.int64}[a.dtype.itemsize]
    i = a.view(bits).astype(np.int64)
    top = np.int64(1) << (8 * a.dtype.itemsize - 1)
    return np.where(i < 0, -(i + top), i)


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise distance in units in the last place of ``a.dtype`` (floats only).

    Two NaNs are 0 apart; a NaN and a number are ``iinfo(int64).max`` apart.
    """
    a = np.asarray(a)
    b = np.asarray(b, dtype=a.dtype)
    d = np.abs(_ordered_ints(a) - _ordered_ints(b))
    na, nb = np.isnan(a.astype(np.float64)), np.isnan(b.astype(np.float64))
    d = np.where(na & nb, 0, d)
    return np.where(na != nb, np.iinfo(np.int64).max, d)


def error_bound(mag: np.ndarray, terms: int, dtype: np.dtype,
                acc: np.dtype | None = None) -> np.ndarray:
    """The elementwise bound on ``|a - b|`` for a sum of ``terms`` products (module doc).

    ``acc``: the accumulation dtype (default: float32 for 16-bit floats, as TF, else
    ``dtype``).

    >>> b = float(error_bound(np.float64(1.0), 3, np.float32))
    >>> b == 2 * 4 * 2.0**-23 + 2.0**-23 + 3 * 2.0**-149     # C (K + 1) eps + eps + K tiny
    True
    """
    dtype = np.dtype(dtype)
    if not is_float_dtype(dtype):
        return np.zeros_like(mag, dtype=np.float64)
    if acc is None:
        acc = np.float32 if dtype.itemsize < 4 else dtype
    eps_acc = float(finfo(acc).eps)
    eps_out = float(finfo(dtype).eps)
    tiny = float(finfo(dtype).smallest_subnormal)
    mag = np.asarray(mag, dtype=np.float64)
    return BOUND_C * (terms + 1) * eps_acc * mag + eps_out * mag + terms * tiny


@dataclass
class Comparison:
    """Outcome of :func:`compare`."""

    ok: bool
    mode: str                       # "bitwise" or "bound"
    max_abs: float = 0.0
    max_ulp: int = 0
    worst_ratio: float = 0.0        # max |a - b| / bound (bound mode)
    first_index: tuple | None = None
    detail: str = ""

    def __repr__(self) -> str:
        """The readable text (pytest shows ``repr`` when it explains ``assert c.ok``)."""
        return f"Comparison({self})"

    def __str__(self) -> str:
        if self.ok:
            extra = f", worst bound ratio {self.worst_ratio:.3g}" if self.mode == "bound" else ""
            return f"match ({self.mode}; max abs {self.max_abs:.3g}, max ULP {self.max_ulp}{extra})"
        if self.first_index is None:          # shape, dtype or type: no element to show
            return f"MISMATCH ({self.mode}): {self.detail}"
        ulp = ("n/a (NaN vs a number)" if self.max_ulp == np.iinfo(np.int64).max
               else self.max_ulp)
        return (f"MISMATCH ({self.mode}) at index {self.first_index}: {self.detail}; "
                f"max abs {self.max_abs:.3g}, max ULP {ulp}"
                + (f", worst bound ratio {self.worst_ratio:.3g}" if self.mode == "bound" else ""))


def compare(actual: object, expected: object, bound: np.ndarray | None = None) -> Comparison:
    """Compare ``actual`` with ``expected``: bitwise, or within ``bound`` when given.

    Shapes must match exactly; dtypes must match in bitwise mode. NaN must appear at the
    same positions in both modes; infinities must be equal (also where the bound is NaN or
    infinite).

    >>> compare(np.float32([0.0]), np.float32([np.nan]), bound=np.float64([np.nan])).ok
    False
    """
    a, e = np.asarray(actual), np.asarray(expected)
    mode = "bitwise" if bound is None else "bound"
    if a.shape != e.shape:
        return Comparison(False, mode, float("inf"), 0, float("inf"), None,
                          f"shape {a.shape} != expected shape {e.shape}")
    if bound is None and a.dtype != e.dtype:
        return Comparison(False, mode, float("inf"), 0, float("inf"), None,
                          f"dtype {a.dtype} != expected dtype {e.dtype}")
    if a.size == 0:
        return Comparison(True, mode)
    floaty = is_float_dtype(e.dtype)
    a64, e64 = a.astype(np.float64), e.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a64 - e64)
    nan_a, nan_e = np.isnan(a64), np.isnan(e64)
    diff = np.where((nan_a & nan_e) | (np.isinf(e64) & (a64 == e64)), 0.0, diff)
    diff = np.where(nan_a != nan_e, np.inf, diff)
    max_abs = float(np.max(diff))
    max_ulp = int(np.max(ulp_distance(a.astype(e.dtype), e))) if floaty else 0
    ratio = 0.0
    if bound is None and floaty:
        width = {2: np.uint16, 4: np.uint32, 8: np.uint64}[e.dtype.itemsize]
        same_bits = np.ascontiguousarray(a).view(width) == np.ascontiguousarray(e).view(width)
        bad = ~(same_bits | (nan_a & nan_e))
    elif bound is None:
        bad = a != e
    else:
        bnd = np.broadcast_to(np.asarray(bound, np.float64), e.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio_arr = np.where(diff == 0, 0.0, diff / bnd)
        # Where either side is NaN or infinite the bound (itself NaN or inf there) says
        # nothing: NaN must meet NaN and an infinity the same infinity.
        special = ~np.isfinite(a64) | ~np.isfinite(e64)
        bad = (diff > bnd) | (special & (diff != 0))
        ratio = float(np.max(np.where(special & (diff != 0), np.inf, ratio_arr)))
    if not bad.any():
        return Comparison(True, mode, max_abs, max_ulp, ratio)
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), e.shape))
    detail = f"got {value_text(a[idx])}, expected {value_text(e[idx])}"
    if bound is not None:
        detail += f" (bound {float(np.broadcast_to(bound, e.shape)[idx]):.3g})"
    return Comparison(False, mode, max_abs, max_ulp, ratio, idx, detail)


def conv_bound(x: object, kernel: object, bias: object | None = None, **params) -> np.ndarray:
    """Error bound for ``conv(x, kernel, bias, **params)`` (module docstring).

    ``mag`` is the same convolution over ``|x|``, ``|kernel|`` and ``|bias|`` in float64;
    ``K = prod(kernel_size) * C_in // groups`` products per output element.
    """
    params = {k: v for k, v in params.items() if k not in ("method", "tf_kernel")}
    x, kernel = np.asarray(x), np.asarray(kernel)
    absb = None if bias is None else np.abs(np.asarray(bias, dtype=np.float64))
    mag = conv(np.abs(x.astype(np.float64)), np.abs(kernel.astype(np.float64)), absb, **params)
    terms = int(np.prod(kernel.shape[:-1]))
    dtype = np.result_type(x.dtype, kernel.dtype)
    return error_bound(mag, terms, dtype)


def avg_pool_bound(x: object, pool_size, **params) -> np.ndarray:
    """Error bound for ``avg_pool(x, pool_size, **params)`` computed in another order.

    float16 windows are summed in float16 by the reference (its loop specification), so
    the accumulation epsilon is float16's there, not float32's as for TF's kernels.
    """
    params = {k: v for k, v in params.items() if k not in ("method", "tf_kernel")}
    x = np.asarray(x)
    mag = avg_pool(np.abs(x.astype(np.float64)), pool_size, **params)
    window, _ = normalize_window_strides(pool_size, None, x.ndim - 2, "avg_pool_bound")
    terms = math.prod(window)
    acc = x.dtype if x.dtype == np.float16 else None
    return error_bound(mag, terms, x.dtype, acc)


def adaptive_avg_pool_bound(x: object, output_size, data_format: str = "channels_last",
                            **_ignored) -> np.ndarray:
    """Error bound for ``adaptive_avg_pool(x, output_size, data_format)`` computed in
    another order: a sum of at most ``K`` cells (the largest bin, ``ceil(n/out) + 1`` per
    axis) and one division per spatial axis (Keras divides axis by axis, torch once per
    axis in turn or once by the bin size), each division one more rounding term.

    >>> x = np.ones((1, 5, 1), np.float32)
    >>> float(adaptive_avg_pool_bound(x, 3)[0, 1, 0]) == float(error_bound(1.0, 4, np.float32))
    True
    """
    x = np.asarray(x)
    mag = adaptive_avg_pool(np.abs(x.astype(np.float64)), output_size, data_format,
                            tf_kernel=None)
    spatial = x.shape[2:] if data_format == "channels_first" else x.shape[1:-1]
    out = normalize_tuple(output_size, len(spatial), "output_size", "adaptive_avg_pool")
    cells = math.prod(adaptive_bins(n, m)[0] + 1 for n, m in zip(spatial, out))
    acc = x.dtype if x.dtype == np.float16 else None
    return error_bound(mag, cells + len(spatial), x.dtype, acc)


def global_avg_pool_bound(x: object, data_format: str = "channels_last",
                          keepdims: bool = False, **_ignored) -> np.ndarray:
    """Error bound for ``global_avg_pool(x, ...)``: a sum of every spatial cell.

    The result dtype is float32 for integer inputs (as Keras).
    """
    x = np.asarray(x)
    mag = global_avg_pool(np.abs(x.astype(np.float64)), data_format, keepdims)
    spatial = x.shape[2:] if data_format == "channels_first" else x.shape[1:-1]
    out = x.dtype if is_float_dtype(x.dtype) else np.dtype(np.float32)
    return error_bound(mag, int(np.prod(spatial)), out)


# ----------------------------------------------------------------------------- gradients
# Bounds for the backward passes (issue 11), derived as the forward bound above: every
# gradient element is a sum of K terms, each a product (one rounding) or a quotient
# ``grad_out / count`` (one rounding), so two implementations that sum in different orders
# differ by at most ``K * eps * sum|terms|`` and ``error_bound(mag, K, dtype)`` covers it
# with the same factor C. ``mag`` is the same gradient of the absolute values in float64.
#
# * average pooling, grad_x: K(cell) = number of windows containing the cell
#   (``geometry.cover_counts``; at most ``prod(ceil(pool_size / strides))``). Unlike
#   convolution, float16/bfloat16 pooling gradients are accumulated in that dtype itself
#   (TF's kernels and pooling_ref), so the accumulation term uses the dtype's own epsilon
#   (``error_bound`` assumes float32 accumulation below 4 bytes; the difference is added);
# * convolution, grad_x: K(cell) = (number of (output position, kernel tap) pairs landing on
#   the cell, ``cover_counts``; per axis at most ``ceil(k / s)`` undilated, ``k`` dilated)
#   times the filters of the cell's group (``filters // groups``);
# * convolution, grad_kernel: K = N * prod(out_spatial) (one product per batch item and
#   output position; padding taps add no term, so this is an upper bound);
# * convolution, grad_bias: K = N * prod(out_spatial) (a plain sum of grad_out).


def _per_cell(counts: np.ndarray, data_format: str) -> np.ndarray:
    """Spatial ``counts`` shaped to broadcast against a batch in ``data_format``."""
    if data_format == "channels_first":
        return counts[None, None]
    return counts[None, ..., None]


def avg_pool_grad_bound(x: object, grad_out: object, pool_size, strides=None,
                        padding: str = "valid", data_format: str = "channels_last", *,
                        ceil_mode: bool = False, dilation_rate=1, divisor="real",
                        **_ignored) -> np.ndarray:
    """Error bound for ``avg_pool_grad(x, grad_out, pool_size, ...)`` (see above).

    >>> import numpy as np
    >>> b = avg_pool_grad_bound(np.zeros((1, 4, 1), np.float32), np.ones((1, 2, 1),
    ...                         np.float32), 3, strides=1)
    >>> bool(b[0, 1, 0] > b[0, 0, 0] > 0)          # 2 windows cover cell 1, 1 covers cell 0
    True
    """
    x = np.asarray(x)
    window = {"ceil_mode": ceil_mode, "dilation_rate": dilation_rate}
    _, g, fmt = prepare_pool("avg_pool_grad_bound", x, pool_size, strides, padding,
                             data_format, **window, divisor=divisor)
    mag = avg_pool_grad(np.abs(x.astype(np.float64)),
                        np.abs(np.asarray(grad_out).astype(np.float64)), pool_size, strides,
                        padding, data_format, **window, divisor=divisor)
    terms = _per_cell(cover_counts(g), fmt)
    bound = error_bound(mag, terms, x.dtype)
    if is_float_dtype(x.dtype) and x.dtype.itemsize < 4:     # accumulated in x.dtype
        bound = bound + BOUND_C * (terms + 1) * float(finfo(x.dtype).eps) * mag
    return bound


def conv_grad_bounds(x: object, kernel: object, grad_out: object, strides=1,
                     padding: str = "valid", data_format: str = "channels_last",
                     dilation_rate=1, groups: int = 1, **_ignored
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Error bounds ``(grad_x, grad_kernel, grad_bias)`` for ``conv_grad`` (see above)."""
    x, kernel = np.asarray(x), np.asarray(kernel)
    p, fmt = prepare_conv(x, kernel, None, strides, padding, data_format, dilation_rate,
                          groups)
    mags = conv_grad(np.abs(x.astype(np.float64)), np.abs(kernel.astype(np.float64)),
                     np.abs(np.asarray(grad_out).astype(np.float64)), strides, padding,
                     data_format, dilation_rate, groups)
    per_output = x.shape[0] * int(np.prod(p.g.out_spatial))
    dtype = np.result_type(x.dtype, kernel.dtype)
    terms_x = _per_cell(cover_counts(p.g), fmt) * p.f_g
    return (error_bound(mags[0], terms_x, dtype), error_bound(mags[1], per_output, dtype),
            error_bound(mags[2], per_output, dtype))


# ----------------------------------------------------------------------------- global max


def unspecified_global_max(got: object, expected: np.ndarray, tf_kernel: str | None
                           ) -> np.ndarray:
    """``expected`` (global max pooling under ``tf_kernel``) with the cells TF leaves
    unspecified taken from ``got``: the sign of a zero maximum (it follows the vectorised
    reduction order), and a zero maximum that TF returns as a subnormal cell (eagerly, cells
    outside a full SIMD packet are not flushed; XLA bfloat16 next to a NaN). Registry
    ``global-max-zero-sign-and-subnormal-tail``; never for ``tf_kernel=None``, nor for any
    other op.

    >>> e = np.float32([0.0, 1.0])
    >>> unspecified_global_max(np.float32([-0.0, 1.0]), e, "onednn").tolist()
    [-0.0, 1.0]
    >>> unspecified_global_max(np.float32([-0.0, 1.0]), e, None).tolist()
    [0.0, 1.0]
    """
    g = np.asarray(got)
    if tf_kernel is None or g.shape != expected.shape or g.dtype != expected.dtype \
            or not is_float_dtype(expected.dtype):
        return expected
    with np.errstate(invalid="ignore"):
        free = (expected == 0) & (np.abs(g) < finfo(g.dtype).tiny)
    return np.where(free, g, expected).astype(expected.dtype)
