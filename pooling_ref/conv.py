"""Convolution with Keras ``Conv1D/2D/3D`` semantics (cross-correlation, no kernel flip).

``out[n, *o, f] = bias[f] + sum over window cells t and group channels c of
x_padded[n, *(o*strides + t*dilation), g*Cg + c] * kernel[*t, c, f]``, where ``g`` is the
group of filter ``f`` (``f // (filters // groups)``) and ``Cg = C_in // groups``.

>>> import numpy as np
>>> x = np.arange(5.0).reshape(1, 5, 1)
>>> k = np.array([1.0, 0.0, -1.0]).reshape(3, 1, 1)
>>> conv(x, k)[0, :, 0]                      # x[i] - x[i+2]
array([-2., -2., -2.])

float16/bfloat16 inputs are accumulated in float32 and rounded once, as TF's CPU kernels
do; other dtypes are computed in ``np.result_type(x, kernel)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import methods
from ._arrays import from_channels_last
from .arguments import prepare_conv

__all__ = ["conv"]

IntOrTuple = int | Sequence[int]


def conv(
    x: object,
    kernel: object,
    bias: object | None = None,
    strides: IntOrTuple = 1,
    padding: str = "valid",
    data_format: str = "channels_last",
    dilation_rate: IntOrTuple = 1,
    groups: int = 1,
    *,
    method: str = "auto",
) -> np.ndarray:
    """N-D convolution with Keras ``Conv1D/2D/3D`` semantics (spatial rank read from ``x``).

    >>> import numpy as np
    >>> x = np.ones((1, 4, 4, 2), dtype=np.float32)
    >>> kernel = np.ones((3, 3, 2, 1), dtype=np.float32)
    >>> conv(x, kernel, padding="same")[0, :, :, 0]
    array([[ 8., 12., 12.,  8.],
           [12., 18., 18., 12.],
           [12., 18., 18., 12.],
           [ 8., 12., 12.,  8.]], dtype=float32)

    ``kernel``: ``(*kernel_size, C_in // groups, filters)`` as Keras stores it; ``bias``:
    ``None`` or ``(filters,)``. ``groups == C_in`` is a depthwise convolution. Keras forbids
    strides > 1 together with dilation > 1, and so does this function. "same" padding cells
    contribute no term (as TF: with a non-finite kernel, 0 * inf never appears; such calls
    use the loop method). ``method``:
    ``"loop"``, ``"im2col"``, ``"fast"`` or ``"auto"`` (= ``"fast"``: the products are BLAS
    GEMMs; ``"compiled"`` is accepted and runs ``"fast"`` too, as there is no Numba conv
    kernel); results agree within the documented error bound (see
    :func:`pooling_ref.tolerance.conv_bound`).
    """
    problem, fmt = prepare_conv(x, kernel, bias, strides, padding, data_format,
                                dilation_rate, groups)
    method = methods.resolve(method, "conv")
    if (method != "loop" and problem.g.padded
            and not np.isfinite(problem.kernel).all()):
        # TF adds no term for a "same" padding cell; the padded methods would add
        # 0 * inf = NaN there. Only the loop skips those taps, so it serves this rare case.
        method = "loop"
    return from_channels_last(methods.run("conv", method, problem), fmt)
