"""Adaptive pooling: Keras 3 ``AdaptiveAveragePooling1D/2D/3D`` and
``AdaptiveMaxPooling1D/2D/3D`` (torch's bins), bit for bit the TensorFlow backend.

>>> import numpy as np
>>> x = np.arange(1., 6., dtype=np.float32).reshape(1, 5, 1)     # bins [0,2) [1,4) [3,5)
>>> adaptive_avg_pool(x, 3)[0, :, 0], adaptive_max_pool(x, 3)[0, :, 0]
(array([1.5, 3. , 4.5], dtype=float32), array([2., 4., 5.], dtype=float32))

Bin ``i`` of an axis of length ``n`` pooled to ``out`` is ``[floor(i*n/out),
ceil((i+1)*n/out))`` (:func:`pooling_ref.geometry.adaptive_bins`); every bin holds
``ceil(n/out)`` cells or one more. Keras's TensorFlow backend pools *one axis at a time*
(first spatial axis first): along the axis it pools the whole input with both window
lengths (stride 1, ``"valid"``: :func:`pooling_ref.max_pool` / :func:`pooling_ref.avg_pool`
with a window that is 1 on every other axis) and gathers each bin's window. So a 2D
average is the average over the second axis of the averages over the first (two
divisions, not one), and a 2D maximum takes the first of equal maxima per column first
(``[[-1, -0], [+0, -1]] -> +0``, where a row-major scan gives ``-0``). The TF path's rules
(``tf_kernel``) and ``method`` are those of the pooling calls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ._arrays import as_input, from_channels_last, to_channels_last
from .geometry import adaptive_bins, normalize_data_format, normalize_tuple
from .pooling import avg_pool, max_pool

__all__ = ["adaptive_avg_pool", "adaptive_max_pool"]


def _adaptive(op: str, pool: Callable, x: object, output_size, data_format: str,
              **pool_kwargs) -> np.ndarray:
    a = as_input(x, op)
    rank = a.ndim - 2
    out = normalize_tuple(output_size, rank, "output_size", op)
    fmt = normalize_data_format(data_format, op)
    x_cl = to_channels_last(a, fmt)
    if 0 in x_cl.shape[1:-1]:
        raise ValueError(f"{op}: x has an empty spatial axis, shape {a.shape!r}; adaptive "
                         f"pooling has no bin there")
    for axis, m in enumerate(out):
        x_cl = _pool_axis(pool, x_cl, axis, m, pool_kwargs)
    return from_channels_last(x_cl, fmt)


def _pool_axis(pool: Callable, x_cl: np.ndarray, axis: int, out: int, kwargs: dict
               ) -> np.ndarray:
    """``x_cl`` pooled along spatial ``axis`` into ``out`` bins (both window lengths, then
    each bin's window gathered)."""
    small, starts, big = adaptive_bins(x_cl.shape[axis + 1], out)

    def windows(length: int) -> np.ndarray:
        size = [1] * (x_cl.ndim - 2)
        size[axis] = length
        pooled = pool(x_cl, tuple(size), strides=1, padding="valid", **kwargs)
        return np.take(pooled, starts, axis=axis + 1, mode="clip")   # big: where it fits

    result = windows(small)
    if big.any():
        shape = [1] * x_cl.ndim
        shape[axis + 1] = out
        result = np.where(big.reshape(shape), windows(small + 1), result)
    return result


def adaptive_avg_pool(x: object, output_size: int | Sequence[int],
                      data_format: str = "channels_last", *, method: str = "auto",
                      tf_kernel: str | None = "onednn") -> np.ndarray:
    """Keras ``AdaptiveAveragePooling1D/2D/3D`` (module docstring): ``output_size`` bins
    per spatial axis (an int or one per axis), float inputs.

    >>> import numpy as np
    >>> x = np.float32([[1, 2, 3], [4, 5, 6]]).reshape(1, 2, 3, 1)
    >>> adaptive_avg_pool(x, (1, 2))[0, :, :, 0]       # column means 2.5 3.5 4.5, then bins
    array([[3., 4.]], dtype=float32)
    """
    return _adaptive("adaptive_avg_pool", avg_pool, x, output_size, data_format,
                     method=method, tf_kernel=tf_kernel)


def adaptive_max_pool(x: object, output_size: int | Sequence[int],
                      data_format: str = "channels_last", *, method: str = "auto",
                      tf_kernel: str | None = "onednn", nan: str = "tf") -> np.ndarray:
    """Keras ``AdaptiveMaxPooling1D/2D/3D`` (module docstring); ``nan`` as for
    :func:`pooling_ref.max_pool`.

    >>> import numpy as np
    >>> x = np.float32([[-1, -0.0], [0.0, -1]]).reshape(1, 2, 2, 1)
    >>> bool(np.signbit(adaptive_max_pool(x, 1)[0, 0, 0, 0]))   # column maxima +0, -0
    False
    """
    return _adaptive("adaptive_max_pool", max_pool, x, output_size, data_format,
                     method=method, tf_kernel=tf_kernel, nan=nan)
