"""pooling_ref — a pure-NumPy reference for Keras pooling, zero padding and convolution.

>>> import numpy as np
>>> import pooling_ref as pr
>>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
>>> pr.max_pool(x, 2)[0, :, :, 0]
array([[ 5.,  7.],
       [13., 15.]], dtype=float32)

Every op takes ``method="loop" | "im2col" | "fast" | "auto"``; see README.md for the
semantics, the tolerance policy and the known TF/Keras defects. :func:`check` tests your
own kernel against this reference for any op in :data:`OPS`
(:mod:`pooling_ref.testing` and :mod:`pooling_ref.strategies` bring it into pytest).
"""

from .conv import conv
from .geometry import output_length, same_pads
from .gradients import avg_pool_grad, conv_grad, max_pool_grad
from .keras_ref import detect_tf_kernel
from .ops import OPS
from .oracle import Report, check
from .padding import zero_pad
from .pooling import avg_pool, global_avg_pool, global_max_pool, max_pool
from .windows import im2col

__version__ = "0.2.0"

__all__ = [
    "OPS",
    "Report",
    "avg_pool",
    "avg_pool_grad",
    "check",
    "conv",
    "conv_grad",
    "detect_tf_kernel",
    "global_avg_pool",
    "global_max_pool",
    "im2col",
    "max_pool",
    "max_pool_grad",
    "output_length",
    "same_pads",
    "zero_pad",
]
