"""TensorFlow candidates a user would write: Keras layers, ``keras.ops``, ``tf.nn`` ops and
``tf.GradientTape`` gradients, eager and under ``tf.function(jit_compile=True)``.

>>> [c.name for c in candidates(ops=("max_pool2d",), where="eager")]   # doctest: +SKIP
['keras.layers.MaxPooling2D', 'keras.ops.max_pool', 'tf.nn.max_pool']

Each wrapper is called the way :func:`pooling_ref.check` calls a candidate (the parameter
names of the ``pooling_ref`` function, optional ones sometimes left out) and does what a
user's wrapper does: build the layer (or call the op) in the input's dtype, and return a
NumPy array. TF's CPU pooling and convolution kernels have no channels_first form, so the ``tf.nn``
wrappers transpose; the Keras layers take ``data_format`` natively.
``test_oracle_accepts_tf.py`` checks that ``pooling_ref.check`` with default arguments
accepts every one of them; ``nox -s accept_tf`` runs the whole zoo (``python -m
parity_tests.tf_candidates`` prints its table).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

from pooling_ref.padding import normalize_zero_padding

tf.get_logger().setLevel("ERROR")      # one tf.function per call: retracing is the point

WHERE = ("eager", "xla")
_FMT = {1: "NWC", 2: "NHWC", 3: "NDHWC"}


@dataclass(frozen=True)
class Candidate:
    """One wrapper: ``op`` (a :data:`pooling_ref.OPS` name), the API it calls, where TF
    runs it (``"eager"``: the process's eager kernel path; ``"xla"``) and the callable."""

    name: str
    op: str
    api: str
    where: str
    fn: Callable

    def __str__(self) -> str:
        return f"{self.name} ({self.where})"


def _np(y):
    return tuple(np.asarray(v) for v in y) if isinstance(y, (list, tuple)) else np.asarray(y)


def _run(fn: Callable, where: str, *arrays):
    """``fn`` of the arrays as tensors, eagerly or compiled with XLA; NumPy results."""
    if where == "xla":
        fn = tf.function(fn, jit_compile=True)
    return _np(fn(*(tf.constant(a) for a in arrays)))


def _cf(data_format: str) -> bool:
    return data_format == "channels_first"


def _to_last(t, data_format):
    """channels_first ``t`` as channels_last (for ops with no channels_first CPU kernel)."""
    n = len(t.shape)
    return tf.transpose(t, [0, *range(2, n), 1]) if _cf(data_format) else t


def _from_last(t, data_format):
    n = len(t.shape)
    return tf.transpose(t, [0, n - 1, *range(1, n - 1)]) if _cf(data_format) else t


# ----------------------------------------------------------------------------- forward ops


def keras_pool(kind: str, where: str) -> Callable:
    """``keras.layers.{kind}PoolingND``."""
    def candidate(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
        layer = getattr(keras.layers, f"{kind}Pooling{x.ndim - 2}D")(
            pool_size, strides, padding, data_format, dtype=x.dtype.name)
        return _run(layer, where, x)
    return candidate


def ops_pool(kind: str, where: str) -> Callable:
    """``keras.ops.max_pool`` / ``keras.ops.average_pool``."""
    op = keras.ops.max_pool if kind == "Max" else keras.ops.average_pool

    def candidate(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
        return _run(lambda t: op(t, pool_size, strides, padding, data_format), where, x)
    return candidate


def _tfnn_pool(op, t, pool_size, strides, padding, data_format):
    """``op`` (``tf.nn.max_pool`` / ``avg_pool``) on channels_last, the format named (the
    gradient of 3D pooling fails without it: ``'NoneType' object has no attribute
    'decode'``)."""
    y = op(_to_last(t, data_format), pool_size, pool_size if strides is None else strides,
           padding.upper(), data_format=_FMT[len(t.shape) - 2])
    return _from_last(y, data_format)


def tfnn_pool(kind: str, where: str) -> Callable:
    """``tf.nn.max_pool`` / ``tf.nn.avg_pool`` (channels_last; channels_first transposed)."""
    op = tf.nn.max_pool if kind == "Max" else tf.nn.avg_pool

    def candidate(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
        return _run(lambda t: _tfnn_pool(op, t, pool_size, strides, padding, data_format),
                    where, x)
    return candidate


def tfnn_argmax(where: str) -> Callable:
    """``tf.nn.max_pool_with_argmax`` (TF has it for 2D channels_last input only)."""
    def candidate(x, pool_size, strides=None, padding="valid", include_batch_in_index=False):
        return _run(lambda t: tf.nn.max_pool_with_argmax(
            t, pool_size, pool_size if strides is None else strides, padding.upper(),
            include_batch_in_index=include_batch_in_index), where, x)
    return candidate


def keras_adaptive(kind: str, where: str) -> Callable:
    """``keras.layers.Adaptive{kind}PoolingND``."""
    def candidate(x, output_size, data_format="channels_last"):
        layer = getattr(keras.layers, f"Adaptive{kind}Pooling{x.ndim - 2}D")(
            output_size, data_format=data_format, dtype=x.dtype.name)
        return _run(layer, where, x)
    return candidate


def keras_global(kind: str, where: str) -> Callable:
    """``keras.layers.Global{kind}PoolingND``."""
    def candidate(x, data_format="channels_last", keepdims=False):
        dtype = x.dtype.name if x.dtype.kind == "f" else None
        layer = getattr(keras.layers, f"Global{kind}Pooling{x.ndim - 2}D")(
            data_format=data_format, keepdims=keepdims, dtype=dtype)
        return _run(layer, where, x)
    return candidate


def tfnn_global(kind: str, where: str) -> Callable:
    """``tf.reduce_max`` / ``tf.reduce_mean`` over the spatial axes."""
    op = tf.reduce_max if kind == "Max" else tf.reduce_mean

    def candidate(x, data_format="channels_last", keepdims=False):
        axes = list(range(2, x.ndim)) if _cf(data_format) else list(range(1, x.ndim - 1))
        return _run(lambda t: op(t, axis=axes, keepdims=keepdims), where, x)
    return candidate


def keras_zero_pad(where: str) -> Callable:
    """``keras.layers.ZeroPaddingND``."""
    def candidate(x, padding=1, data_format="channels_last"):
        pairs = normalize_zero_padding(padding, x.ndim - 2)
        layer = getattr(keras.layers, f"ZeroPadding{x.ndim - 2}D")(
            pairs[0] if x.ndim == 3 else pairs, data_format=data_format, dtype=x.dtype.name)
        return _run(layer, where, x)
    return candidate


def tfnn_zero_pad(where: str) -> Callable:
    """``tf.pad`` with zeros on the spatial axes."""
    def candidate(x, padding=1, data_format="channels_last"):
        pairs = [list(p) for p in normalize_zero_padding(padding, x.ndim - 2)]
        width = [[0, 0], [0, 0], *pairs] if _cf(data_format) else [[0, 0], *pairs, [0, 0]]
        return _run(lambda t: tf.pad(t, width), where, x)
    return candidate


def _keras_conv_layer(x, kernel, bias, strides, padding, data_format, dilation_rate,
                      groups):
    """``keras.layers.ConvND`` built for ``x`` with weights ``kernel`` (and ``bias``)."""
    layer = getattr(keras.layers, f"Conv{x.ndim - 2}D")(
        kernel.shape[-1], kernel.shape[:-2], strides, padding, data_format, dilation_rate,
        groups, use_bias=bias is not None, dtype=x.dtype.name)
    layer.build(x.shape)
    layer.set_weights([kernel] + ([bias] if bias is not None else []))
    return layer


def keras_conv(where: str) -> Callable:
    """``keras.layers.ConvND`` with the given weights."""
    def candidate(x, kernel, bias=None, strides=1, padding="valid",
                  data_format="channels_last", dilation_rate=1, groups=1):
        return _run(_keras_conv_layer(x, kernel, bias, strides, padding, data_format,
                                      dilation_rate, groups), where, x)
    return candidate


def _tfnn_conv(t, k, b, strides, padding, data_format, dilation_rate):
    """``tf.nn.convolution`` + ``tf.nn.bias_add`` on channels_last (TF's CPU kernels have
    no channels_first convolution; grouped ones run where TF has them)."""
    y = tf.nn.convolution(_to_last(t, data_format), k, strides, padding.upper(),
                          data_format=_FMT[len(t.shape) - 2], dilations=dilation_rate)
    return _from_last(y if b is None else tf.nn.bias_add(y, b), data_format)


def tfnn_conv(where: str) -> Callable:
    """``tf.nn.convolution`` (+ ``tf.nn.bias_add``); groups follow from the kernel."""
    def candidate(x, kernel, bias=None, strides=1, padding="valid",
                  data_format="channels_last", dilation_rate=1, groups=1):
        def f(t, k, *b):
            return _tfnn_conv(t, k, b[0] if b else None, strides, padding, data_format,
                              dilation_rate)
        return _run(f, where, x, kernel, *(() if bias is None else (bias,)))
    return candidate


# ----------------------------------------------------------------------------- gradients


def _tape(forward: Callable, where: str, x, grad_out, *variables):
    """Gradients of ``forward(x)`` w.r.t. ``x`` (and ``variables``) for ``grad_out``."""
    def grads(t, g):
        with tf.GradientTape() as tape:
            tape.watch(t)
            y = forward(t)
        return tape.gradient(y, [t, *variables], output_gradients=g)
    out = _run(grads, where, x, grad_out)
    return out if variables else out[0]


def tape_keras_pool(kind: str, where: str) -> Callable:
    """GradientTape through ``keras.layers.{kind}PoolingND``."""
    def candidate(x, grad_out, pool_size, strides=None, padding="valid",
                  data_format="channels_last"):
        layer = getattr(keras.layers, f"{kind}Pooling{x.ndim - 2}D")(
            pool_size, strides, padding, data_format, dtype=x.dtype.name)
        return _tape(layer, where, x, grad_out)
    return candidate


def tape_tfnn_pool(kind: str, where: str) -> Callable:
    """GradientTape through ``tf.nn.max_pool`` / ``tf.nn.avg_pool``."""
    op = tf.nn.max_pool if kind == "Max" else tf.nn.avg_pool

    def candidate(x, grad_out, pool_size, strides=None, padding="valid",
                  data_format="channels_last"):
        return _tape(lambda t: _tfnn_pool(op, t, pool_size, strides, padding, data_format),
                     where, x, grad_out)
    return candidate


def tape_keras_conv(where: str) -> Callable:
    """GradientTape through ``keras.layers.ConvND`` (with a bias): (grad_x, kernel, bias)."""
    def candidate(x, kernel, grad_out, strides=1, padding="valid",
                  data_format="channels_last", dilation_rate=1, groups=1):
        layer = _keras_conv_layer(x, kernel, np.zeros(kernel.shape[-1], kernel.dtype),
                                  strides, padding, data_format, dilation_rate, groups)
        return _tape(layer, where, x, grad_out, layer.kernel.value, layer.bias.value)
    return candidate


def tape_tfnn_conv(where: str) -> Callable:
    """GradientTape through ``tf.nn.convolution`` + ``tf.nn.bias_add``."""
    def candidate(x, kernel, grad_out, strides=1, padding="valid",
                  data_format="channels_last", dilation_rate=1, groups=1):
        k = tf.Variable(kernel)
        b = tf.Variable(np.zeros(kernel.shape[-1], kernel.dtype))

        return _tape(lambda t: _tfnn_conv(t, k, b, strides, padding, data_format,
                                          dilation_rate), where, x, grad_out, k, b)
    return candidate


# ----------------------------------------------------------------------------- the zoo

#: ``(api, family, factory)``: ``factory(where)`` makes the candidate for every rank.
_FACTORIES: list[tuple[str, str, Callable[[str], Callable]]] = [
    ("keras", "max_pool", lambda w: keras_pool("Max", w)),
    ("keras.ops", "max_pool", lambda w: ops_pool("Max", w)),
    ("tf.nn", "max_pool", lambda w: tfnn_pool("Max", w)),
    ("keras", "avg_pool", lambda w: keras_pool("Average", w)),
    ("keras.ops", "avg_pool", lambda w: ops_pool("Average", w)),
    ("tf.nn", "avg_pool", lambda w: tfnn_pool("Average", w)),
    ("keras", "global_max_pool", lambda w: keras_global("Max", w)),
    ("tf.nn", "global_max_pool", lambda w: tfnn_global("Max", w)),
    ("keras", "global_avg_pool", lambda w: keras_global("Average", w)),
    ("tf.nn", "global_avg_pool", lambda w: tfnn_global("Average", w)),
    ("keras", "zero_pad", keras_zero_pad),
    ("tf.nn", "zero_pad", tfnn_zero_pad),
    ("keras", "conv", keras_conv),
    ("tf.nn", "conv", tfnn_conv),
    ("keras", "max_pool_grad", lambda w: tape_keras_pool("Max", w)),
    ("tf.nn", "max_pool_grad", lambda w: tape_tfnn_pool("Max", w)),
    ("keras", "avg_pool_grad", lambda w: tape_keras_pool("Average", w)),
    ("tf.nn", "avg_pool_grad", lambda w: tape_tfnn_pool("Average", w)),
    ("keras", "conv_grad", tape_keras_conv),
    ("tf.nn", "conv_grad", tape_tfnn_conv),
    ("tf.nn", "max_pool_with_argmax", tfnn_argmax),
    ("keras", "adaptive_avg_pool", lambda w: keras_adaptive("Average", w)),
    ("keras", "adaptive_max_pool", lambda w: keras_adaptive("Max", w)),
]
#: Families TF has in some ranks or places only: family -> (ranks, where).
LIMITS = {"max_pool_with_argmax": ((2,), ("eager",)),      # 2D NHWC; no XLA kernel
          "adaptive_avg_pool": ((1, 2, 3), ("eager",)),
          "adaptive_max_pool": ((1, 2, 3), ("eager",))}
_NAMES = {"max_pool": ("MaxPooling{r}D", "max_pool", "max_pool"),
          "avg_pool": ("AveragePooling{r}D", "average_pool", "avg_pool"),
          "global_max_pool": ("GlobalMaxPooling{r}D", "", "reduce_max"),
          "global_avg_pool": ("GlobalAveragePooling{r}D", "", "reduce_mean"),
          "zero_pad": ("ZeroPadding{r}D", "", "pad"),
          "conv": ("Conv{r}D", "", "convolution"),
          "max_pool_with_argmax": ("", "", "max_pool_with_argmax"),
          "adaptive_avg_pool": ("AdaptiveAveragePooling{r}D", "", ""),
          "adaptive_max_pool": ("AdaptiveMaxPooling{r}D", "", "")}


def _name(api: str, family: str, rank: int) -> str:
    grad = family.endswith("_grad")
    layer, ops_name, tfnn = _NAMES[family.removesuffix("_grad")]
    name = {"keras": f"keras.layers.{layer.format(r=rank)}", "keras.ops": f"keras.ops.{ops_name}",
            "tf.nn": f"tf.{tfnn}" if tfnn in ("reduce_max", "reduce_mean", "pad")
            else f"tf.nn.{tfnn}"}[api]
    return f"GradientTape({name})" if grad else name


def candidates(ops: tuple[str, ...] | None = None, apis: tuple[str, ...] | None = None,
               where: str | None = None, ranks: tuple[int, ...] = (1, 2, 3)
               ) -> list[Candidate]:
    """The zoo, optionally restricted to ``ops`` (names or families), ``apis``, ``where``
    and ``ranks``. keras.ops runs eagerly only (as a user calls it)."""
    out = []
    for api, family, factory in _FACTORIES:
        family_ranks, family_where = LIMITS.get(family, ((1, 2, 3), WHERE))
        for w in WHERE if where is None else (where,):
            if (api == "keras.ops" and w == "xla") or w not in family_where:
                continue
            for r in (r for r in ranks if r in family_ranks):
                op = f"{family.removesuffix('_grad')}{r}d" + ("_grad" if family.endswith(
                    "_grad") else "")
                if ops is not None and op not in ops and family not in ops:
                    continue
                if apis is not None and api not in apis:
                    continue
                out.append(Candidate(_name(api, family, r), op, api, w, factory(w)))
    return out


def main(argv: list[str]) -> int:
    """``python -m parity_tests.tf_candidates [where] [dtype]``: check every candidate with
    default arguments (``dtype`` other than float32 for the families that take it) and
    print a table: candidate, op, passed, matched rule sets, known entries used, time."""
    import pooling_ref
    from pooling_ref.cases import check_dtype

    where = argv[0] if argv and argv[0] in WHERE else None
    dtype = next((a for a in argv if a.startswith("float")), "float32")
    path = pooling_ref.detect_tf_kernel()
    print(f"# eager path {path}, TF {tf.__version__}, Keras {keras.__version__}, {dtype}")
    failed = 0
    for c in candidates(where=where):
        try:
            check_dtype(dtype, c.op)
        except (TypeError, ValueError):
            continue
        start = time.process_time()
        report = pooling_ref.check(c.fn, c.op, dtype=dtype)
        cpu = time.process_time() - start
        failed += not report.passed
        known = ", ".join(f"{k} ({n})" for k, n in report.known.items()) or "-"
        matched = ", ".join(map(str, report.matched)) or "-"
        print(f"| {c} | {c.op} | {report.passed} | {matched} | {known} | {cpu:.1f} s |",
              flush=True)
        if not report.passed:
            for f in report.failures[:2]:
                print("    ", str(f).splitlines()[0][:300], flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
