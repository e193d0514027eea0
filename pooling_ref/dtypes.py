"""Dtype facts every layer reads: which dtypes are floats, their ``finfo``, the start value
of the max scan, and what reading a subnormal as zero does (x86 DAZ/FTZ).

>>> import numpy as np
>>> float(lowest(np.dtype(np.float16))), int(lowest(np.dtype(np.int8)))
(-65504.0, -128)
>>> flush_subnormals(np.float32([1e-45, -1e-45, 1.0])).tolist()
[0.0, -0.0, 1.0]
"""

from __future__ import annotations

import numpy as np

__all__ = ["finfo", "flush_subnormals", "flushed_add", "has_subnormal", "is_float_dtype",
           "lowest", "never_greater"]

# ml_dtypes (shipped with TensorFlow) registers bfloat16 & co. as NumPy dtypes of kind "V".
_EXTRA_FLOAT_NAMES = ("bfloat16",)


def is_float_dtype(dtype: np.dtype) -> bool:
    """Whether ``dtype`` is a float, the ml_dtypes ones (bfloat16) included.

    >>> is_float_dtype(np.dtype(np.float16)), is_float_dtype(np.dtype(np.int32))
    (True, False)
    """
    return dtype.kind == "f" or dtype.name in _EXTRA_FLOAT_NAMES


def finfo(dtype: np.dtype):
    """``np.finfo`` that also knows the ml_dtypes floats (bfloat16), which NumPy's doesn't.

    >>> float(finfo(np.dtype(np.float16)).max)
    65504.0
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return np.finfo(dtype)
    import ml_dtypes  # only reachable with an ml_dtypes dtype, so ml_dtypes is installed

    return ml_dtypes.finfo(dtype)


def lowest(dtype: np.dtype) -> np.generic:
    """The start value of the max scan: what a window with no number (only NaN / -inf)
    gives in the specification — the lowest finite value of the dtype (integers: its
    minimum). Paths that give ``-inf`` instead (XLA, Eigen 3D, AVX-512 oneDNN bfloat16) are
    rules (:mod:`pooling_ref.rules`, field ``empty``).

    >>> float(lowest(np.dtype(np.float32)))
    -3.4028234663852886e+38
    """
    if is_float_dtype(dtype):
        return np.array(-finfo(dtype).max, dtype=dtype)[()]
    return np.array(np.iinfo(dtype).min, dtype=dtype)[()]


def never_greater(dtype: np.dtype) -> np.generic:
    """A padding value that is never strictly greater than anything: ``-inf`` / int min.

    >>> float(never_greater(np.dtype(np.float32)))
    -inf
    """
    if is_float_dtype(dtype):
        return np.array(-np.inf, dtype=dtype)[()]
    return lowest(dtype)


def _chunks(a: np.ndarray, chunk: int = 1 << 20):
    """Views covering ``a`` of about ``chunk`` cells (whole batch items if not contiguous),
    so that checks over ``a`` need no full-size temporary (pooling's memory bound holds)."""
    if a.flags.c_contiguous:
        flat = a.reshape(-1)
        return (flat[i:i + chunk] for i in range(0, flat.size, chunk))
    return iter(a)


def has_subnormal(a: np.ndarray) -> bool:
    """Whether float ``a`` holds a subnormal cell (checked a bounded chunk at a time).

    >>> has_subnormal(np.float32([1.0, 1e-45])), has_subnormal(np.float32([0.0, 1.0]))
    (True, False)
    """
    tiny = finfo(a.dtype).tiny
    with np.errstate(invalid="ignore"):
        return any(((np.abs(p) < tiny) & (p != 0)).any() for p in _chunks(a))


def all_numbers(a: np.ndarray) -> bool:
    """Whether every cell of ``a`` is a number other than -inf (NaN compares False).

    >>> all_numbers(np.float32([1.0, -np.inf])), all_numbers(np.float32([1.0, 2.0]))
    (False, True)
    """
    return all((p > -np.inf).all() for p in _chunks(a))


def flush_subnormals(a: np.ndarray, subnormal: bool | None = None) -> np.ndarray:
    """``a`` with subnormals replaced by a zero of the same sign (x86 DAZ on reading, FTZ
    on writing): ``a`` itself if it has none (``subnormal``: whether it has any, if the
    caller knows) or is not a float. The one NumPy form of the ``flush`` rule.
    """
    if not is_float_dtype(a.dtype):
        return a
    if not (has_subnormal(a) if subnormal is None else subnormal):
        return a
    with np.errstate(invalid="ignore"):
        sub = (np.abs(a) < finfo(a.dtype).tiny) & (a != 0)
    return np.where(sub, np.copysign(np.zeros((), a.dtype), a), a).astype(a.dtype)


def flushed_add(total, addend, tiny):
    """``total + addend`` under x86 DAZ + FTZ (the gradients' ``flush`` rule): a subnormal
    ``addend`` is read as a zero of its sign and a subnormal sum is written as a zero of its
    sign (``tiny``: the dtype's smallest normal). The one definition of the rule: NumPy
    arrays and scalars use it as it is (:mod:`pooling_ref._grad_kernels`), and
    :mod:`pooling_ref._compiled._grad` compiles it.

    >>> t = np.finfo(np.float32).tiny
    >>> total = flushed_add(np.float32(0.0), np.float32(-2 * t), t)       # normal: kept
    >>> float(flushed_add(total, np.float32(1.5 * t), t))                 # -0.5t: -0
    -0.0
    >>> float(flushed_add(np.float32(0.0), np.float32(-0.5 * t), t))      # +0 + -0
    0.0
    """
    a = addend * (abs(addend) >= tiny)          # x * False is a zero of x's sign; NaN stays
    s = total + a
    return s * (abs(s) >= tiny)
