"""LiteRT (TensorFlow Lite) pooling: ``MAX_POOL_2D`` and ``AVERAGE_POOL_2D`` as its kernels
compute them, float32 and quantized int8 / uint8 / int16. Layout NHWC; ``padding`` "SAME" or
"VALID" with TF's rules; a fused ``activation`` ("NONE", "RELU", "RELU6", "RELU_N1_TO_1").

>>> import numpy as np
>>> from pooling_ref.dialects import litert
>>> x = np.array([[1, 2, 4], [8, 16, 32]], np.float32).reshape(1, 2, 3, 1)
>>> litert.average_pool_2d(x, 2, 1, "VALID")[0, :, :, 0]
array([[ 6.75, 13.5 ]], dtype=float32)
>>> q = np.array([-128, -127, 5, 6], np.int8).reshape(1, 2, 2, 1)    # sum -244, count 4
>>> litert.average_pool_2d_q(q, 2, 2, "VALID", scale=0.5, zero_point=-20).ravel()
array([-61], dtype=int8)

The quantized average is computed on the raw integers, zero point included: -244 / 4 =
-61 exactly; a tie such as -245 / 2 rounds half away from zero to -123.

Float32 rules per ``kernel`` (measured with ``ai-edge-litert`` 2.3.0, the op resolvers
``BUILTIN_WITHOUT_DEFAULT_DELEGATES`` = "builtin", ``BUILTIN_REF`` = "reference", ``AUTO`` /
``BUILTIN`` = "xnnpack"; evidence in the registry, ``pooling_ref/data/known_differences.json``,
paths ``litert-builtin``, ``litert-reference``, ``litert-xnnpack``):

- "builtin" and "reference": TensorFlow's rules without a kernel path's flushing
  (``pooling_ref.max_pool`` / ``avg_pool`` with ``tf_kernel=None``: NaN ignored by max, first
  of equal maxima wins, a window without a number gives the lowest finite value; average =
  row-major float32 sum from +0 divided by the real-cell count), then the clamp
  ``min(max(v, low), high)`` with ``[low, high] = [lowest, max]`` float32 for "NONE": ±inf
  become ±3.4028235e38, NaN passes.
- "xnnpack": :mod:`pooling_ref.dialects._xnnpack` (column-major cells, nine-cell trees,
  ``maxps``/``minps`` clamp: a NaN average or a NaN-led max window becomes -inf), for the
  nodes the delegate takes (a 1x1 filter with stride 1 is a copy or a clamp there); a stride
  larger than the filter on an axis, or a 1x1 filter with a stride above 1, runs the builtin
  kernel.

Quantized (measured bit for bit on all three resolvers): the input's
``scale`` and ``zero_point`` are the output's (LiteRT requires it); max = the largest raw
value of the real cells; average = the sum of the raw values of the real cells (zero point
included, in int32), divided by their count rounding half away from zero; then both clamp to
the activation's range in the quantized domain, ``zero_point + round(bound / scale)``
(``round`` half away from zero, ``bound / scale`` in float32), within the dtype's range.
int16 is symmetric: ``zero_point`` must be 0. One exception: XNNPACK takes int8 / uint8
max pooling (not average pooling, not int16) and rounds the activation bounds its own way,
``lrintf(bound / scale + zero_point)`` (half to even, after adding the zero point):
``_xnnpack.quantized_range``.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..pooling import avg_pool, max_pool
from . import _xnnpack
from ._windows2d import gather

__all__ = ["ACTIVATIONS", "KERNELS", "activation_name", "activation_range", "average_pool_2d",
           "average_pool_2d_q", "max_pool_2d", "max_pool_2d_q", "quantized_activation_range",
           "round_half_away", "rounded_mean", "std_clamp", "window_params", "window_sums"]

#: LiteRT's fused activations for pooling: name -> (low, high) in real values.
ACTIVATIONS = {"NONE": (-np.inf, np.inf), "RELU": (0.0, np.inf), "RELU6": (0.0, 6.0),
               "RELU_N1_TO_1": (-1.0, 1.0)}
#: The float32 rule profiles, one per LiteRT CPU kernel.
KERNELS = ("builtin", "reference", "xnnpack")
QUANTIZED = ("int8", "uint8", "int16")
F32 = np.float32


# ---------------------------------------------------------------------------- arguments


def _pair(value: object, name: str) -> tuple[int, int]:
    """An int or a pair of ints >= 1 as ``(height, width)``."""
    items = (value, value) if isinstance(value, numbers.Integral) else value
    try:
        h, w = items
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}") from None
    if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (h, w)):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if h < 1 or w < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return int(h), int(w)


def _choice(value: object, name: str, allowed) -> str:
    if not isinstance(value, str) or value.upper() not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value.upper()


def _kernel(kernel: object) -> str:
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
    return kernel


def _input(x: object, dtypes: tuple[str, ...]) -> np.ndarray:
    """``x`` as an NHWC array of one of ``dtypes`` (no conversion: LiteRT has none)."""
    a = np.asarray(x)
    if a.dtype.name not in dtypes:
        raise TypeError(f"x must have dtype {' / '.join(dtypes)}, got {a.dtype.name}")
    if a.ndim != 4:
        raise ValueError(f"x must be 4D (batch, height, width, channels), got shape {a.shape}")
    return a


def activation_name(activation: object) -> str:
    """The fused activation's name in capitals (``ValueError`` for an unknown one).

    >>> activation_name("relu6")
    'RELU6'
    """
    return _choice(activation, "activation", ACTIVATIONS)


def window_params(x: np.ndarray, filter_size, strides, padding) -> tuple:
    """``(filter_size, strides, padding)`` as ``(h, w)``, ``(h, w)``, "SAME" | "VALID",
    checked against the NHWC input ``x`` (``ValueError`` / ``TypeError`` naming the
    parameter).

    >>> window_params(np.zeros((1, 4, 4, 1)), 2, (1, 2), "same")
    ((2, 2), (1, 2), 'SAME')
    """
    fs, st = _pair(filter_size, "filter_size"), _pair(strides, "strides")
    pad = _choice(padding, "padding", ("SAME", "VALID"))
    if pad == "VALID" and (fs[0] > x.shape[1] or fs[1] > x.shape[2]):
        raise ValueError(f"filter_size {fs} is larger than the input {x.shape[1:3]} with "
                         f"padding 'VALID' (LiteRT gives an empty output)")
    if 0 in x.shape[1:3]:
        raise ValueError(f"x has an empty spatial axis: shape {x.shape}")
    return fs, st, pad


# ----------------------------------------------------------------------------- float32


def activation_range(activation: str) -> tuple[float, float]:
    """The float clamp of the builtin and reference kernels: ``[lowest, max]`` float32 for
    "NONE" (so ±inf are clamped), else the activation's bounds.

    >>> [float(np.float32(b)) for b in activation_range("NONE")] == [-3.4028234663852886e38,
    ...                                                                3.4028234663852886e38]
    True
    >>> activation_range("RELU6")
    (0.0, 6.0)
    """
    low, high = ACTIVATIONS[_choice(activation, "activation", ACTIVATIONS)]
    big = float(np.finfo(F32).max)
    return max(low, -big), min(high, big)


def std_clamp(v: np.ndarray, low: float, high: float) -> np.ndarray:
    """C++ ``std::min(std::max(v, low), high)`` in float32: NaN passes.

    >>> std_clamp(np.float32([np.nan, -np.inf, 7]), 0.0, 6.0).tolist()
    [nan, 0.0, 6.0]
    """
    v = np.where(v < F32(low), F32(low), v)
    return np.where(F32(high) < v, F32(high), v).astype(F32)


def _float_pool(kind: str, x, filter_size, strides, padding, activation, kernel):
    a = _input(x, ("float32",))
    fs, st, pad = window_params(a, filter_size, strides, padding)
    act, kernel = _choice(activation, "activation", ACTIVATIONS), _kernel(kernel)
    if kernel == "xnnpack" and fs == (1, 1) and st == (1, 1):
        return _xnnpack.one_cell(a, *ACTIVATIONS[act])
    if kernel == "xnnpack" and _xnnpack.delegated(fs, st):
        rule = _xnnpack.max_pool if kind == "max" else _xnnpack.avg_pool
        return rule(a, fs, st, pad, *ACTIVATIONS[act])
    if kind == "max":
        out = max_pool(a, fs, st, pad.lower(), tf_kernel=None)
    else:
        out = avg_pool(a, fs, st, pad.lower(), tf_kernel=None)
    return std_clamp(out, *activation_range(act))


def max_pool_2d(x, filter_size, strides, padding, *, activation="NONE", kernel="builtin"):
    """LiteRT ``MAX_POOL_2D`` on float32 NHWC ``x``.

    >>> x = np.array([np.nan, 1, 2, np.inf], np.float32).reshape(1, 1, 4, 1)
    >>> max_pool_2d(x, (1, 3), 1, "VALID").ravel()          # NaN ignored, inf clamped
    array([2.0000000e+00, 3.4028235e+38], dtype=float32)
    >>> max_pool_2d(x, (1, 3), 1, "VALID", kernel="xnnpack").ravel()
    array([-inf,  inf], dtype=float32)

    ``filter_size`` and ``strides`` are an int or ``(height, width)``; ``kernel`` picks the
    rule profile ("builtin", "reference", "xnnpack", see the module docstring).
    """
    return _float_pool("max", x, filter_size, strides, padding, activation, kernel)


def average_pool_2d(x, filter_size, strides, padding, *, activation="NONE",
                    kernel="builtin"):
    """LiteRT ``AVERAGE_POOL_2D`` on float32 NHWC ``x``: the real cells' mean.

    >>> x = np.array([1, 2, 3, 4], np.float32).reshape(1, 1, 4, 1)
    >>> average_pool_2d(x, (1, 3), 2, "SAME").ravel()      # pads not counted: [2, 3.5]
    array([2. , 3.5], dtype=float32)
    >>> average_pool_2d(x, (1, 3), 2, "SAME", activation="RELU_N1_TO_1").ravel()
    array([1., 1.], dtype=float32)
    """
    return _float_pool("avg", x, filter_size, strides, padding, activation, kernel)


# --------------------------------------------------------------------------- quantized


def round_half_away(v: np.ndarray) -> np.ndarray:
    """C's ``round``: half away from zero.

    >>> round_half_away(np.array([-2.5, -0.5, 0.5, 1.5])).tolist()
    [-3.0, -1.0, 1.0, 2.0]
    """
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def _quant_params(a: np.ndarray, scale: object, zero_point: object) -> tuple[float, int]:
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"scale must be a positive float, got {scale!r}")
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive finite float, got {scale!r}")
    if isinstance(zero_point, bool) or not isinstance(zero_point, numbers.Integral):
        raise TypeError(f"zero_point must be an int, got {zero_point!r}")
    info = np.iinfo(a.dtype)
    if not info.min <= zero_point <= info.max:
        raise ValueError(f"zero_point must be within {a.dtype.name}'s range "
                         f"[{info.min}, {info.max}], got {zero_point!r}")
    if a.dtype == np.int16 and zero_point != 0:
        raise ValueError(f"zero_point must be 0 for int16 (LiteRT's int16 kernels are "
                         f"symmetric), got {zero_point!r}")
    return float(scale), int(zero_point)


def quantized_activation_range(activation: str, scale: float, zero_point: int,
                               dtype: object) -> tuple[int, int]:
    """The quantized clamp: each finite bound ``b`` becomes ``zero_point + round(b / scale)``
    (``b / scale`` in float32, ``round`` half away from zero), within the dtype's range.

    >>> quantized_activation_range("RELU6", 2.4, -10, "int8")      # 6 / 2.4 = 2.5 -> 3
    (-10, -7)
    """
    low, high = ACTIVATIONS[_choice(activation, "activation", ACTIVATIONS)]
    info = np.iinfo(np.dtype(dtype))

    def quantize(bound: float) -> int:
        return zero_point + int(round_half_away(np.float64(F32(bound) / F32(scale))))

    q_low = info.min if low == -np.inf else max(info.min, quantize(low))
    q_high = info.max if high == np.inf else min(info.max, quantize(high))
    return q_low, q_high


def _quantized(x, filter_size, strides, padding, scale, zero_point, activation, kernel):
    a = _input(x, QUANTIZED)
    fs, st, pad = window_params(a, filter_size, strides, padding)
    _kernel(kernel)
    scale, zero_point = _quant_params(a, scale, zero_point)
    return a, fs, st, pad, quantized_activation_range(activation, scale, zero_point, a.dtype)


def max_pool_2d_q(x, filter_size, strides, padding, scale, zero_point, *,
                  activation="NONE", kernel="builtin"):
    """LiteRT quantized ``MAX_POOL_2D`` (int8 / uint8 / int16 NHWC ``x``; the output has the
    input's ``scale`` and ``zero_point``): the largest real cell, clamped to the activation.

    >>> q = np.array([-128, 3, 90, -7], np.int8).reshape(1, 1, 4, 1)
    >>> max_pool_2d_q(q, (1, 2), 2, "VALID", 0.05, 10, activation="RELU6").ravel()
    array([10, 90], dtype=int8)

    RELU6 with scale 0.05 and zero point 10 clamps to [10, 10 + 120] = [10, 127].
    """
    a, fs, st, pad, (low, high) = _quantized(x, filter_size, strides, padding, scale,
                                             zero_point, activation, kernel)
    if kernel == "xnnpack" and a.dtype != np.int16 and _xnnpack.delegated(fs, st):
        bounds = ACTIVATIONS[activation.upper()]
        low, high = _xnnpack.quantized_range(*bounds, scale, zero_point, a.dtype)
    out = max_pool(a, fs, st, pad.lower(), tf_kernel=None)
    return np.clip(out, low, high).astype(a.dtype)


def average_pool_2d_q(x, filter_size, strides, padding, scale, zero_point, *,
                      activation="NONE", kernel="builtin"):
    """LiteRT quantized ``AVERAGE_POOL_2D`` (int8 / uint8 / int16 NHWC ``x``; the output has
    the input's ``scale`` and ``zero_point``).

    >>> q = np.array([-128, -117, 4, 5], np.int8).reshape(1, 1, 4, 1)
    >>> average_pool_2d_q(q, (1, 2), 2, "VALID", 0.1, -128).ravel()
    array([-123,    5], dtype=int8)

    Window 1: sum -245 over 2 cells = -122.5, a tie, rounded away from zero to -123;
    window 2: 9 / 2 = 4.5 -> 5. (Rounding ``q - zero_point`` instead would give
    (0 + 11) / 2 = 5.5 -> 6, i.e. -122: not LiteRT's rule.)
    """
    a, fs, st, pad, (low, high) = _quantized(x, filter_size, strides, padding, scale,
                                             zero_point, activation, kernel)
    total, count = window_sums(a, fs, st, pad)
    return np.clip(rounded_mean(total, count), low, high).astype(a.dtype)


def window_sums(a: np.ndarray, filter_size: tuple[int, int], strides: tuple[int, int],
                padding: str) -> tuple[np.ndarray, np.ndarray]:
    """The int64 sum of each window's real cells (raw values, zero point included) and its
    real-cell count, shapes (N, OH, OW, C) and (1, OH, OW, 1).

    >>> q = np.array([-128, -117, 4, 5], np.int8).reshape(1, 1, 4, 1)
    >>> total, count = window_sums(q, (1, 3), (1, 2), "SAME")
    >>> total.ravel().tolist(), count.ravel().tolist()      # pads (0, 1): the last window
    ([-241, 9], [3, 2])
    """
    w = gather(a, filter_size, strides, padding.upper())
    total = np.where(w.real[None, :, :, None, :], w.cells.astype(np.int64), 0).sum(axis=-1)
    return total, w.counts()[None, :, :, None]


def rounded_mean(total: np.ndarray, count: np.ndarray) -> np.ndarray:
    """LiteRT's integer mean: ``(total ± count / 2) / count`` with C's truncating division,
    i.e. ``total / count`` rounded half away from zero.

    >>> rounded_mean(np.array([-245, 9, 7, -7]), np.array([2, 2, 3, 3])).tolist()
    [-123, 5, 2, -2]
    """
    half = count // 2
    rounded = np.where(total > 0, total + half, total - half)
    return np.sign(rounded) * (np.abs(rounded) // count)          # C division: truncation
