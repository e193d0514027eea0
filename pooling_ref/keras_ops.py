"""How ``pooling-ref verify`` runs each op in Keras: one runner per op family, called like
the candidate (``runner(*positional_arrays, **keyword_arrays, **params)``), with
``path="xla"`` where ``verify --tf-kernel xla`` compiles the op with XLA (the op table's
``keras`` and ``keras_xla`` fields; :mod:`pooling_ref.keras_ref` says which TF path is
trusted for what).

>>> import numpy as np
>>> x = np.float32([1, 2, 3]).reshape(1, 3, 1)
>>> zero_padding(x, padding=(1,))[0, :, 0]            # doctest: +SKIP
array([0., 1., 2., 3., 0.], dtype=float32)

A runner is a function at the top level of a module, so that verify's reproducer imports
it by name (a test can register an op whose runner lives in the test module).
"""

from __future__ import annotations

import numpy as np

from . import keras_ref
from .padding import normalize_zero_padding

__all__ = ["adaptive_average_pooling", "adaptive_max_pooling", "average_pooling",
           "average_pooling_grad", "convolution", "convolution_grad", "global_average_pooling",
           "global_max_pooling", "max_pool_with_argmax", "max_pooling", "max_pooling_grad",
           "zero_padding"]


def max_pooling(x, *, path: str = "eager", **params) -> np.ndarray:
    """Keras ``MaxPoolingND``, eager or compiled with XLA."""
    return keras_ref.pool("Max", x, **params, path=path)


def average_pooling(x, *, path: str = "eager", **params) -> np.ndarray:
    """Keras ``AveragePoolingND``, eager or compiled with XLA."""
    return keras_ref.pool("Average", x, **params, path=path)


def global_max_pooling(x, *, path: str = "eager", **params) -> np.ndarray:
    """Keras ``GlobalMaxPoolingND``, eager or compiled with XLA."""
    return keras_ref.global_pool("Max", x, **params, path=path)


def global_average_pooling(x, *, path: str = "eager", **params) -> np.ndarray:
    """Keras ``GlobalAveragePoolingND``, eager or compiled with XLA."""
    return keras_ref.global_pool("Average", x, **params, path=path)


def adaptive_max_pooling(x, output_size, data_format: str = "channels_last") -> np.ndarray:
    """Keras ``AdaptiveMaxPoolingND`` (eager)."""
    return keras_ref.adaptive_pool("Max", x, output_size, data_format)


def adaptive_average_pooling(x, output_size, data_format: str = "channels_last"
                             ) -> np.ndarray:
    """Keras ``AdaptiveAveragePoolingND`` (eager)."""
    return keras_ref.adaptive_pool("Average", x, output_size, data_format)


def max_pool_with_argmax(x, pool_size, strides=None, padding="valid",
                         include_batch_in_index=False) -> tuple[np.ndarray, np.ndarray]:
    """``tf.nn.max_pool_with_argmax`` (2D only in TF), eager."""
    return keras_ref.max_pool_with_argmax(x, pool_size, strides, padding,
                                          include_batch_in_index)


def zero_padding(x, padding=1, data_format: str = "channels_last") -> np.ndarray:
    """Keras ``ZeroPaddingND`` (eager), given ``(before, after)`` pairs: every form
    ``pooling_ref.zero_pad`` accepts (one int per axis too) is normalized first."""
    pairs = normalize_zero_padding(padding, np.ndim(x) - 2)
    return keras_ref.zero_pad(x, pairs, data_format)


def convolution(x, kernel, bias=None, **params) -> np.ndarray:
    """Keras ``ConvND`` on its trusted path (XLA, channels_last: :func:`keras_ref.conv`)."""
    return keras_ref.conv(x, kernel, bias, **params)


def max_pooling_grad(x, grad_out, *, path: str = "eager", **params) -> np.ndarray:
    """``tf.GradientTape`` through Keras ``MaxPoolingND``, eager or under XLA."""
    return keras_ref.pool_grad("Max", x, grad_out, **params, path=path)


def average_pooling_grad(x, grad_out, *, path: str = "eager", **params) -> np.ndarray:
    """``tf.GradientTape`` through Keras ``AveragePoolingND``, eager or under XLA."""
    return keras_ref.pool_grad("Average", x, grad_out, **params, path=path)


def convolution_grad(x, kernel, grad_out, **params) -> tuple[np.ndarray, ...]:
    """``(grad_x, grad_kernel, grad_bias)`` through Keras ``ConvND`` (XLA, channels_last)."""
    return keras_ref.conv_grad(x, kernel, grad_out, **params)
