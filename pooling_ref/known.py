"""Models of the registered TensorFlow (and onnxruntime) differences that
:func:`pooling_ref.check` accepts as TensorFlow's (onnxruntime's) own behaviour
(registry: ``pooling_ref/data/known_differences.json``).

>>> import numpy as np
>>> from pooling_ref.ops import spec
>>> x = np.zeros((1, 2, 3, 3), np.float32)                     # channels_first, W == 3
>>> arrays = {"x": x, "kernel": np.zeros((3, 1, 2, 3), np.float32),
...           "bias": np.float32([1, 2, 3])}
>>> scalars = {"data_format": "channels_first"}
>>> [entry for entry, _ in models(spec("conv2d"), "xla")]
['keras-cf-conv-bias-axis']
>>> tf_gives = MODELS["keras-cf-conv-bias-axis"](spec("conv2d"), arrays, scalars, None, None)
>>> tf_gives[0, :, 0, :]                                       # the bias along W
array([[1., 2., 3.],
       [1., 2., 3.],
       [1., 2., 3.]], dtype=float32)

A model takes the op's :class:`~pooling_ref.ops.OpSpec`, the call's arrays and scalar
parameters, the candidate's result and the reference under the entry's path, and returns
what TensorFlow gives there — or ``None`` where the entry does not apply (a model with a
``path`` keyword is told the path: what TF gives depends on it). Where TF leaves a cell
unspecified (Eigen's 3D max pooling by SIMD lane) the model returns the candidate's value
there if it is one TF may give. An entry is
accepted only on the paths it lists, and only for a result that matches the model within
the op's usual comparison (bitwise or the error bound). :data:`RAISES` lists the entries
where TensorFlow raises instead of returning, by exception type name.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator

import numpy as np

from . import _known_conv, _known_eigen3d, _known_onnx, _known_pool
from .keras_ref import known_differences
from .ops import OpSpec

__all__ = ["MODELS", "RAISES", "entry_paths", "models", "raised"]

#: ``(spec, arrays, scalars, result, reference under the path) -> TF's result or None``.
Model = Callable[[OpSpec, dict, dict, object, object], object]


def _bias_along_last_axis(s: OpSpec, arrays: dict, scalars: dict, result, base):
    """Keras ConvND, channels_first, with a bias, when the output's last spatial length
    equals ``filters``: the bias is added along that spatial axis (and its gradient is
    ``grad_out`` summed over every other axis)."""
    if scalars.get("data_format") != "channels_first":
        return None
    filters = arrays["kernel"].shape[-1]
    if s.family == "conv":
        bias = arrays.get("bias")
        if bias is None:
            return None
        plain = s.run_reference({**arrays, "bias": None}, scalars)
        if plain.shape[-1] != filters:
            return None
        return (plain + bias.astype(plain.dtype)).astype(plain.dtype)
    g = arrays["grad_out"]
    if g.shape[-1] != filters:
        return None
    axes = tuple(range(g.ndim - 1))
    return (base[0], base[1], g.sum(axis=axes, dtype=np.float64).astype(g.dtype))


#: Registry id -> model, for the entries :func:`pooling_ref.check` accepts.
MODELS: dict[str, Model] = {
    "keras-cf-conv-bias-axis": _bias_along_last_axis,
    "xla-max-pool-grad-padded-scan-order": _known_pool.xla_scan_grad,
    "xla-max-pool-padded-scan-order-zero-sign": _known_pool.xla_scan_max_pool,
    "eigen-avg-pool-grad-window-larger-than-input": _known_pool.eigen_avg_grad,
    "dilated-conv-grad-kernel-nan": _known_conv.space_to_batch_grad_kernel,
    "eigen-conv3d-grad-kernel-nan": _known_conv.eigen3d_grad_kernel,
    "eigen-pool3d-same-negative-pad": _known_pool.eigen_negative_pad,
    "eager-max-pool3d-grad-window-larger-than-input": _known_pool.max_pool3d_grad_window,
    "eigen-max-pool3d-nan-by-packet": _known_pool.eigen3d_nan_by_packet,
    "eigen-max-pool3d-zero-sign": _known_eigen3d.eigen_max_pool3d_zero_sign,
    "eigen-conv3d-same-negative-pad": _known_conv.eigen_conv3d_negative_pad,
    _known_onnx.DILATION: _known_onnx.same_pads_model(_known_onnx.DILATION),
    _known_onnx.UNCLAMPED: _known_onnx.same_pads_model(_known_onnx.UNCLAMPED),
}

_ONNX_POOLS = ("onnx.max_pool", "onnx.average_pool")
#: Families each model applies to.
_FAMILIES: dict[str, tuple[str, ...]] = {
    "keras-cf-conv-bias-axis": ("conv", "conv_grad"),
    "xla-max-pool-grad-padded-scan-order": ("max_pool_grad",),
    "xla-max-pool-padded-scan-order-zero-sign": ("max_pool",),
    "eigen-avg-pool-grad-window-larger-than-input": ("avg_pool_grad",),
    "dilated-conv-grad-kernel-nan": ("conv_grad",),
    "eigen-conv3d-grad-kernel-nan": ("conv_grad",),
    "eigen-pool3d-same-negative-pad": ("max_pool", "avg_pool", "max_pool_grad"),
    "eager-max-pool3d-grad-window-larger-than-input": ("max_pool_grad",),
    "eigen-max-pool3d-nan-by-packet": ("max_pool", "max_pool_grad"),
    "eigen-max-pool3d-zero-sign": ("max_pool",),
    "eigen-conv3d-same-negative-pad": ("conv",),
    _known_onnx.DILATION: _ONNX_POOLS,
    _known_onnx.UNCLAMPED: _ONNX_POOLS,
}


def _eager_cf_conv(dtypes: tuple[str, ...]) -> Callable[[OpSpec, dict, dict, str], bool]:
    """Condition of TF's missing channels_first CPU convolution: 1D/2D, channels_first,
    ``x`` of one of ``dtypes`` (registry ``eigen-cf-conv-unimplemented``,
    ``cf-conv-float16-float64-unimplemented``)."""
    def applies(s: OpSpec, arrays: dict, scalars: dict, path: str) -> bool:
        return (s.rank < 3 and scalars.get("data_format") == "channels_first"
                and np.asarray(arrays["x"]).dtype.name in dtypes)
    return applies


def _eager_grouped_conv(s: OpSpec, arrays: dict, scalars: dict, path: str) -> bool:
    """Condition of TF's missing eager grouped convolution (registry
    ``eager-grouped-conv-unimplemented``): 3D, or the gradient except oneDNN float32."""
    x, kernel = np.asarray(arrays["x"]), np.asarray(arrays["kernel"])
    c_in = x.shape[1] if scalars.get("data_format") == "channels_first" else x.shape[-1]
    if c_in == kernel.shape[-2]:
        return False
    return s.rank == 3 or (s.family == "conv_grad"
                           and not (path == "onednn" and x.dtype.name == "float32"))


def _pool3d_half_double(s: OpSpec, arrays: dict, scalars: dict, path: str) -> bool:
    """Condition of TF's missing 3D pooling kernels (registry
    ``pool3d-float16-float64-no-kernel``): float16 / float64 eagerly; float64 max pooling
    under XLA too (MaxPool3D's op definition has no float64)."""
    dtype = np.asarray(arrays["x"]).dtype.name
    if s.rank != 3 or dtype not in ("float16", "float64"):
        return False
    return path != "xla" or (dtype == "float64" and s.family.startswith("max_pool"))


#: Registry id -> ``(families, exception type name(s), condition)`` of the entries where
#: TensorFlow raises: a candidate that raises that exception where the condition holds is
#: TensorFlow's own behaviour there.
RAISES: dict[str, tuple[tuple[str, ...], str | tuple[str, ...],
                        Callable[[OpSpec, dict, dict, str], bool]]] = {
    "eigen-cf-conv-unimplemented": (("conv", "conv_grad"), "UnimplementedError",
                                    _eager_cf_conv(("float32",))),
    "cf-conv-float16-float64-unimplemented": (("conv", "conv_grad"), "UnimplementedError",
                                              _eager_cf_conv(("float16", "float64"))),
    "eager-grouped-conv-unimplemented": (("conv", "conv_grad"), "InvalidArgumentError",
                                         _eager_grouped_conv),
    "pool3d-float16-float64-no-kernel": (
        ("max_pool", "avg_pool", "max_pool_grad", "avg_pool_grad"),
        ("NotFoundError", "InvalidArgumentError", "TypeError"), _pool3d_half_double),
    _known_onnx.DILATION: (_ONNX_POOLS, "Fail", _known_onnx.same_pads_raise(
        _known_onnx.DILATION)),
}


def entry_paths(entry_id: str) -> tuple[str, ...]:
    """The TF paths registry entry ``entry_id`` lists."""
    return tuple(known_differences()[entry_id]["paths"])


def models(s: OpSpec, path: str) -> Iterator[tuple[str, Model]]:
    """The ``(registry id, model)`` pairs that apply to op ``s`` on TF path ``path`` (a
    model with a ``path`` keyword gets ``path``: what TF gives there depends on it)."""
    registry = known_differences()
    for entry_id, model in MODELS.items():
        if s.family in _FAMILIES[entry_id] and path in registry[entry_id]["paths"]:
            if "path" in inspect.signature(model).parameters:
                model = functools.partial(model, path=path)
            yield entry_id, model


def raised(s: OpSpec, arrays: dict, scalars: dict, exception: str,
           paths: tuple[str, ...]) -> str | None:
    """The registry id of an entry where TensorFlow raises ``exception`` (``"TypeName:
    message"``) for this call on one of ``paths``, or ``None``."""
    registry = known_differences()
    name = exception.partition(":")[0].strip()
    for entry_id, (families, type_name, applies) in RAISES.items():
        listed = registry[entry_id]["paths"]
        names = (type_name,) if isinstance(type_name, str) else type_name
        if s.family in families and name in names and any(
                applies(s, arrays, scalars, p) for p in paths if p in listed):
            return entry_id
    return None
