"""Keras/TensorFlow reference results, through a trustworthy TF path (optional dependency).

Used by the parity tests and by ``pooling-ref verify``; importing this module does not
import TensorFlow — :func:`require_tf` does, on first use, with a clear error if missing.

Which TF path is "trustworthy" (see README, *Known TF/Keras defects*):

* pooling, global pooling, zero padding: the Keras layer called eagerly (the path users
  run: oneDNN or Eigen, see :func:`pooling_ref.detect_tf_kernel`; ``pool(path="xla")``
  compiles it with XLA), in the input's dtype (``dtype=x.dtype.name``; Keras would otherwise cast
  float16/float64 to float32);
* convolution: the Keras layer compiled with XLA (``jit_compile=True``), because eager
  oneDNN convolution returns garbage for some strides larger than the kernel; and always in
  channels_last (the input transposed), because Keras adds the bias along the wrong axis in
  channels_first when the last spatial length equals ``filters``. ``path="eager"`` and
  ``native_channels_first=True`` select the defective paths for the known-defect tests.

Keras backends (``KERAS_BACKEND=jax`` / ``torch``): the same functions then run the Keras
layers on that backend — they are what is under test there (nox sessions ``keras_jax``,
``keras_torch``). TensorFlow stays installed but is not used by the layers. Only the eager
call exists on those backends: ``path="xla"`` and the gradients (``tf.function``,
``tf.GradientTape``) raise :class:`PathUnavailable`, and :func:`unavailable` says why, so
tests skip with that reason. :func:`eager_path` names the registry path of an eager call
(``"onednn"`` / ``"eigen"`` on TensorFlow, ``"keras-jax"`` / ``"keras-torch"`` otherwise)
and :func:`reference_rules` the ``pooling_ref`` options whose rules that path follows
(measured; what no option models is a registry entry, ``pooling_ref/data/
known_differences.json``, read by :func:`known_differences`; ``python -m
pooling_ref.keras_ref`` prints it as the README's Markdown table).

Path detection lives here too (:func:`detect_tf_kernel`, :func:`eager_path`: the one
answer to "which TF path does an eager call in this process run"); the rules of each path
are data in :mod:`pooling_ref.rules`.
"""

from __future__ import annotations

import json
import os
import platform
from typing import Any

import numpy as np

INSTALL_HINT = (
    "TensorFlow is required for this (the Keras reference). Install it with:\n"
    "    pip install 'pooling-ref[tf]'     (or: pip install tensorflow-cpu)"
)


class TensorFlowMissing(RuntimeError):
    """Raised when a Keras reference is asked for and TensorFlow is not installed."""


class PathUnavailable(RuntimeError):
    """Raised when a reference path does not exist on the running Keras backend."""


_TF: Any = None


def require_tf():
    """Import and return ``(tf, keras)``, quietly; raise :class:`TensorFlowMissing` if absent."""
    global _TF
    if _TF is None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        try:
            import keras
            import tensorflow as tf
        except ImportError as e:  # pragma: no cover - exercised via subprocess test
            raise TensorFlowMissing(f"{INSTALL_HINT}\n(import failed: {e})") from None
        _TF = (tf, keras)
    return _TF


def backend() -> str:
    """The running Keras backend: ``"tensorflow"``, ``"jax"`` or ``"torch"``
    (``KERAS_BACKEND``, read by Keras at import)."""
    _, keras = require_tf()
    return keras.backend.backend()


def versions() -> dict[str, str]:
    """Versions of TensorFlow, Keras, the Keras backend and its library.

    >>> sorted(versions())                                   # doctest: +SKIP
    ['backend', 'keras', 'tensorflow']
    """
    tf, keras = require_tf()
    out = {"tensorflow": tf.__version__, "keras": keras.__version__, "backend": backend()}
    if out["backend"] != "tensorflow":
        import importlib

        lib = importlib.import_module(out["backend"])
        out["backend"] += f" {lib.__version__}"
    return out


#: Per Keras backend other than TensorFlow: the registry path of its eager calls and the
#: ``pooling_ref`` options whose rules it follows, measured with Keras 3.15.1 (jax 0.10.2,
#: torch 2.13.0 CPU, 2026-11-23). jax runs XLA CPU: subnormals flushed like TF's XLA path;
#: both propagate NaN through max pooling (``nan="propagate"``: a window without a number
#: gives NaN or -inf). torch keeps subnormals (IEEE, ``tf_kernel=None``). What these
#: options do not model (sign of a zero maximum, summation order, dtypes, torch's
#: asymmetric "same" average) is in the registry under the path name.
BACKEND_RULES: dict[str, tuple[str, dict, dict]] = {
    # backend: (registry path, max_pool options, avg_pool options)
    "jax": ("keras-jax", {"tf_kernel": "xla", "nan": "propagate"}, {"tf_kernel": "xla"}),
    "torch": ("keras-torch", {"tf_kernel": None, "nan": "propagate"}, {"tf_kernel": None}),
}


def eager_path(dtype: object = None) -> str:
    """The registry path of an eager Keras call in this process: TensorFlow's eager kernel
    path (``detect_tf_kernel(dtype)``: ``"onednn"`` / ``"eigen"``) on the TensorFlow
    backend, ``"keras-jax"`` / ``"keras-torch"`` on the others."""
    b = backend()
    if b == "tensorflow":
        return detect_tf_kernel(dtype)
    return BACKEND_RULES[b][0]


# ----------------------------------------------------------------------------- detection


def cpu_has_avx512() -> bool:
    """Whether this CPU has AVX-512 (oneDNN chooses its kernels, and bfloat16 support, by it)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # pragma: no cover - numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__ as features
    return bool(features.get("AVX512F", False))


def _onednn_enabled() -> bool:
    """Whether the running TensorFlow's eager CPU kernels are oneDNN's."""
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError as e:
        raise TensorFlowMissing(f"detect_tf_kernel: {INSTALL_HINT}\n(import failed: {e})") \
            from None
    try:
        return bool(_pywrap_util_port.IsMklEnabled())
    except AttributeError:  # pragma: no cover - private TF API moved: TF's own default rule
        flag = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower()
        if flag in ("0", "false"):
            return False
        if flag in ("1", "true"):
            return True
        return platform.machine().lower() in ("x86_64", "amd64") and cpu_has_avx512()


def detect_tf_kernel(dtype: object = None) -> str:
    """The ``tf_kernel`` the installed TensorFlow uses for eager pooling: ``"onednn"`` or
    ``"eigen"``. Needs TensorFlow (imports it); raises :class:`TensorFlowMissing`
    (a ``RuntimeError`` with an install hint) without it.

    >>> detect_tf_kernel() in ("onednn", "eigen")       # doctest: +SKIP
    True

    With a ``dtype``: the path TF takes for that dtype — oneDNN has bfloat16 kernels only on
    AVX-512 CPUs, so bfloat16 runs the Eigen kernels elsewhere even with oneDNN on.
    """
    path = "onednn" if _onednn_enabled() else "eigen"
    if path == "onednn" and dtype is not None and np.dtype(dtype).name == "bfloat16" \
            and not cpu_has_avx512():
        return "eigen"
    return path


# ----------------------------------------------------------------------------- registry


def known_differences() -> dict[str, dict]:
    """The known-differences registry (``pooling_ref/data/known_differences.json``) by id.

    >>> sorted(known_differences()["eigen-max-pool3d-zero-sign"]["paths"])
    ['eigen']
    """
    from importlib.resources import files

    data = json.loads(files("pooling_ref").joinpath("data/known_differences.json")
                      .read_text(encoding="utf-8"))
    return {e["id"]: e for e in data["entries"]}


def registry_table() -> str:
    """The registry as a Markdown table (README, "TensorFlow kernel paths"; kept in sync by
    ``parity_tests/test_known_defects.py::test_readme_table_is_generated_from_registry``).

    >>> registry_table().splitlines()[0]
    '| id | paths / backends | op | condition | TF/Keras gives | pooling_ref gives |'
    """
    rows = ["| id | paths / backends | op | condition | TF/Keras gives | pooling_ref gives |",
            "|---|---|---|---|---|---|"]
    for e in known_differences().values():
        paths = ", ".join(e["paths"]) + (f" ({e['cpu']} CPUs)" if e.get("cpu") else "")
        for version, listed in e.get("tf_versions", {}).items():
            paths += f"; TF {version}: {', '.join(listed) or 'none'}"
        cells = [f"`{e['id']}` ({e['kind']})", paths, e["op"], e["condition"], e["tf_gives"],
                 e["reference_gives"]]
        rows.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(rows) + "\n"


# ----------------------------------------------------------------------------- options


def reference_rules(kind: str, path: str) -> dict:
    """The ``pooling_ref.max_pool`` (``kind="Max"``) / ``avg_pool`` (``"Average"``) keyword
    options whose rules registry path ``path`` follows.

    >>> reference_rules("Max", "keras-torch")
    {'tf_kernel': None, 'nan': 'propagate'}
    >>> reference_rules("Average", "xla")
    {'tf_kernel': 'xla'}
    """
    for name, max_kw, avg_kw in BACKEND_RULES.values():
        if name == path:
            return dict(max_kw if kind == "Max" else avg_kw)
    return {"tf_kernel": path}


def unavailable(path: str) -> str | None:
    """Why reference path ``path`` (``"eager"``, ``"xla"``, ``"grad"``) does not exist on the
    running Keras backend, or ``None`` if it does."""
    b = backend()
    if path == "eager" or b == "tensorflow":
        return None
    what = {"xla": "path='xla' compiles the layer with tf.function(jit_compile=True)",
            "grad": "the gradient references use tf.GradientTape"}[path]
    return (f"{what}, which needs the TensorFlow Keras backend; KERAS_BACKEND={b} runs only "
            f"the eager layer call")


def _require_path(path: str) -> None:
    reason = unavailable(path)
    if reason is not None:
        raise PathUnavailable(f"keras_ref: {reason}")


def to_numpy(y) -> np.ndarray:
    """A Keras backend tensor (TensorFlow, jax or torch, gradients detached) as NumPy."""
    _, keras = require_tf()
    return np.asarray(keras.ops.convert_to_numpy(y))


def _layer_dtype(x: np.ndarray) -> str:
    return x.dtype.name


def _rank(x: np.ndarray) -> int:
    return x.ndim - 2


def _pool_layer(kind: str, rank: int):
    _, keras = require_tf()
    return getattr(keras.layers, f"{kind}Pooling{rank}D")


def _call(layer, x: np.ndarray, path: str):
    """``layer(x)`` eagerly (``path="eager"``) or compiled with XLA (``path="xla"``)."""
    if path == "eager":
        return layer(x)
    if path == "xla":
        _require_path("xla")
        tf, _ = require_tf()
        return tf.function(layer.__call__, jit_compile=True)(tf.constant(x))
    raise ValueError(f"keras_ref: path must be 'eager' or 'xla', got {path!r}")


def pool(kind: str, x, pool_size, strides=None, padding="valid",
         data_format="channels_last", *, path: str = "eager") -> np.ndarray:
    """``kind`` is ``"Max"`` or ``"Average"``; the Keras layer called eagerly (the running
    eager kernel path, :func:`pooling_ref.detect_tf_kernel`) or under XLA (``path="xla"``,
    compare with ``tf_kernel="xla"``)."""
    x = np.asarray(x)
    layer = _pool_layer(kind, _rank(x))(
        pool_size=pool_size, strides=strides, padding=padding, data_format=data_format,
        dtype=_layer_dtype(x))
    return to_numpy(_call(layer, x, path))


def global_pool(kind: str, x, data_format="channels_last", keepdims=False, *,
                path: str = "eager") -> np.ndarray:
    """Keras ``Global{kind}PoolingND`` called eagerly or under XLA (``path="xla"``)."""
    _, keras = require_tf()
    x = np.asarray(x)
    cls = getattr(keras.layers, f"Global{kind}Pooling{_rank(x)}D")
    dtype = _layer_dtype(x) if x.dtype.kind == "f" or x.dtype.name == "bfloat16" else None
    layer = cls(data_format=data_format, keepdims=keepdims, dtype=dtype)
    return to_numpy(_call(layer, x, path))


def adaptive_pool(kind: str, x, output_size, data_format="channels_last") -> np.ndarray:
    """Keras ``Adaptive{kind}PoolingND`` (``kind`` ``"Max"`` / ``"Average"``), eager."""
    _, keras = require_tf()
    x = np.asarray(x)
    cls = getattr(keras.layers, f"Adaptive{kind}Pooling{_rank(x)}D")
    layer = cls(output_size, data_format=data_format, dtype=_layer_dtype(x))
    return to_numpy(layer(x))


def max_pool_with_argmax(x, pool_size, strides=None, padding="valid",
                         include_batch_in_index=False) -> tuple[np.ndarray, np.ndarray]:
    """``tf.nn.max_pool_with_argmax`` (2D, channels_last, eager): ``(y, argmax)``."""
    tf, _ = require_tf()
    y, argmax = tf.nn.max_pool_with_argmax(
        np.asarray(x), pool_size, pool_size if strides is None else strides,
        padding.upper(), include_batch_in_index=include_batch_in_index)
    return y.numpy(), argmax.numpy()


def zero_pad(x, padding=1, data_format="channels_last") -> np.ndarray:
    _, keras = require_tf()
    x = np.asarray(x)
    cls = getattr(keras.layers, f"ZeroPadding{_rank(x)}D")
    if _rank(x) == 1 and isinstance(padding, (tuple, list)) and len(padding) == 1:
        padding = padding[0]          # ((before, after),) -> Keras 1D form (before, after)
    layer = cls(padding=padding, data_format=data_format, dtype=_layer_dtype(x))
    return to_numpy(layer(x))


def conv(x, kernel, bias=None, strides=1, padding="valid", data_format="channels_last",
         dilation_rate=1, groups=1, *, path: str | None = None,
         native_channels_first: bool = False) -> np.ndarray:
    """Keras ``ConvND`` with the given weights (``set_weights``).

    ``path="xla"`` (the default on the TensorFlow backend) compiles the call with XLA;
    ``path="eager"`` is the default Keras/oneDNN path, and the only one (the default) on
    the jax and torch backends. Unless ``native_channels_first``, channels_first inputs are
    transposed to channels_last for Keras and the result transposed back.
    """
    _, keras = require_tf()
    if path is None:
        path = "xla" if backend() == "tensorflow" else "eager"
    x = np.asarray(x)
    kernel = np.asarray(kernel)
    rank = _rank(x)
    fmt = data_format
    if data_format == "channels_first" and not native_channels_first:
        x = np.moveaxis(x, 1, -1)
        fmt = "channels_last"
    cls = getattr(keras.layers, f"Conv{rank}D")
    layer = cls(
        filters=kernel.shape[-1], kernel_size=kernel.shape[:-2], strides=strides,
        padding=padding, data_format=fmt, dilation_rate=dilation_rate, groups=groups,
        use_bias=bias is not None, dtype=_layer_dtype(x))
    layer.build(x.shape)
    layer.set_weights([kernel] + ([np.asarray(bias)] if bias is not None else []))
    out = to_numpy(_call(layer, x, path))
    if data_format == "channels_first" and not native_channels_first:
        out = np.moveaxis(out, -1, 1)
    return np.ascontiguousarray(out)


# ----------------------------------------------------------------------------- gradients
# Gradient references (issue 11): tf.GradientTape through the same Keras layers, with the
# upstream gradient ``grad_out`` given explicitly (``output_gradients``).

GRAD_PATHS = ("eager", "xla")


def _tape_grads(layer_call, inputs: list, grad_out: np.ndarray, path: str) -> list:
    """Gradients of ``layer_call(inputs[0])`` w.r.t. ``inputs`` (tensors or variables)."""
    tf, _ = require_tf()
    if path not in GRAD_PATHS:
        raise ValueError(f"keras_ref: path must be one of {GRAD_PATHS}, got {path!r}")
    _require_path("grad")

    def grads(x, g):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer_call(x)
        return tape.gradient(y, [x, *inputs[1:]], output_gradients=g)

    if path == "xla":
        grads = tf.function(grads, jit_compile=True)
    out = grads(tf.constant(inputs[0]), tf.constant(grad_out))
    return [np.asarray(o) for o in out]


def pool_grad(kind: str, x, grad_out, pool_size, strides=None, padding="valid",
              data_format="channels_last", *, path: str = "eager") -> np.ndarray:
    """Gradient of Keras ``MaxPoolingND`` / ``AveragePoolingND`` (``kind`` ``"Max"`` /
    ``"Average"``) w.r.t. ``x`` for the upstream gradient ``grad_out``; ``path="eager"``
    (the kernel path the process runs: oneDNN or Eigen, see ``TF_ENABLE_ONEDNN_OPTS``) or
    ``"xla"`` (``tf.function(jit_compile=True)``). Layer built in ``x``'s dtype."""
    x = np.asarray(x)
    layer = _pool_layer(kind, _rank(x))(
        pool_size=pool_size, strides=strides, padding=padding, data_format=data_format,
        dtype=_layer_dtype(x))
    return _tape_grads(layer, [x], np.asarray(grad_out, dtype=x.dtype), path)[0]


def conv_grad(x, kernel, grad_out, strides=1, padding="valid", data_format="channels_last",
              dilation_rate=1, groups=1, *, path: str = "xla") -> tuple[np.ndarray, ...]:
    """``(grad_x, grad_kernel, grad_bias)`` of Keras ``ConvND`` (with a bias) for the
    upstream gradient ``grad_out``. As :func:`conv`: XLA by default, channels_first run
    as channels_last on transposed arrays (the Keras bias defect stays out of the way)."""
    x, kernel, grad_out = np.asarray(x), np.asarray(kernel), np.asarray(grad_out)
    cf = data_format == "channels_first"
    if cf:
        x, grad_out = np.moveaxis(x, 1, -1), np.moveaxis(grad_out, 1, -1)
    _, keras = require_tf()
    layer = getattr(keras.layers, f"Conv{_rank(x)}D")(
        filters=kernel.shape[-1], kernel_size=kernel.shape[:-2], strides=strides,
        padding=padding, dilation_rate=dilation_rate, groups=groups, use_bias=True,
        dtype=_layer_dtype(x))
    layer.build(x.shape)
    layer.set_weights([kernel, np.zeros(kernel.shape[-1], kernel.dtype)])
    gx, gk, gb = _tape_grads(layer, [x, layer.kernel.value, layer.bias.value],
                             np.ascontiguousarray(grad_out, dtype=x.dtype), path)
    if cf:
        gx = np.moveaxis(gx, -1, 1)
    return np.ascontiguousarray(gx), gk, gb


if __name__ == "__main__":   # python -m pooling_ref.keras_ref > table.md
    print(registry_table(), end="")
