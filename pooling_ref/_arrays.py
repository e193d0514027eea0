"""Input checking and data-format handling shared by every op."""

from __future__ import annotations

import numpy as np

# ml_dtypes (shipped with TensorFlow) registers bfloat16 & co. as NumPy dtypes of kind "V".
_EXTRA_FLOAT_NAMES = ("bfloat16",)


def is_float_dtype(dtype: np.dtype) -> bool:
    return dtype.kind == "f" or dtype.name in _EXTRA_FLOAT_NAMES


def as_input(x: object, op: str, name: str = "x", *, rank: int | None = None) -> np.ndarray:
    """``np.asarray(x)`` checked to be a numeric batch of spatial rank 1, 2 or 3.

    Never copies or modifies ``x``; the result may be a read-only view of it.
    """
    a = np.asarray(x)
    if not (a.dtype.kind in "iuf" or is_float_dtype(a.dtype)):
        raise TypeError(
            f"{op}: {name} must be a real numeric array (float or int), "
            f"got dtype {a.dtype.name} ({a.dtype.str})"
        )
    if rank is None:
        if a.ndim not in (3, 4, 5):
            raise ValueError(
                f"{op}: {name} must have 3, 4 or 5 dimensions (batch, 1-3 spatial axes, "
                f"channels), got shape {a.shape!r}"
            )
    elif a.ndim != rank + 2:
        raise ValueError(
            f"{op}: {name} must have {rank + 2} dimensions for spatial rank {rank}, "
            f"got shape {a.shape!r}"
        )
    return a


def to_channels_last(x: np.ndarray, data_format: str) -> np.ndarray:
    """A view of ``x`` in ``(N, *spatial, C)`` layout."""
    return np.moveaxis(x, 1, -1) if data_format == "channels_first" else x


def from_channels_last(y: np.ndarray, data_format: str) -> np.ndarray:
    """``y`` (``(N, *spatial, C)``) back in ``data_format``, as a C-contiguous array."""
    if data_format == "channels_first":
        y = np.moveaxis(y, -1, 1)
    return np.ascontiguousarray(y)


METHODS = ("auto", "loop", "im2col", "fast", "compiled")


def check_method(method: str, op: str, *, compiled: bool = False) -> str:
    """The method to run for ``method``.

    ``compiled``: whether ``op`` has a Numba kernel. If so, ``"auto"`` is ``"compiled"``
    where Numba is usable, else ``"fast"``; ops without one run ``"fast"`` for both
    ``"auto"`` and ``"compiled"`` (their fast path is already native: BLAS, ``np.pad``).
    Asking for ``"compiled"`` without Numba raises ``ImportError`` naming the install.

    >>> check_method("loop", "max_pool")
    'loop'
    """
    from . import _compiled

    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"{op}: method must be one of {METHODS}, got {method!r}")
    if method == "compiled" and not _compiled.AVAILABLE:
        why = (f"{_compiled.DISABLE_ENV} is set" if _compiled.DISABLED_BY_ENV
               else "Numba is not installed")
        raise ImportError(
            f"{op}: method='compiled' needs Numba ({why}); install it with "
            f"{_compiled.INSTALL_HINT}, or use method='fast'")
    if method in ("auto", "compiled"):
        return "compiled" if compiled and _compiled.AVAILABLE else "fast"
    return method


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
