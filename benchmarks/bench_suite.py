"""The benchmark cases and the implementations timed on each (shared by the pytest-benchmark
suite, the report and the smoke test).

>>> case = CASES_BY_ID["max2d_56_f2s2"]
>>> case.op, case.shape, case.params["pool_size"]
('max_pool', (64, 56, 56, 64), 2)
>>> sorted(tiny(case).shape) <= sorted(case.shape)
True

Implementations (``impl``):

* ``compiled``, ``fast``, ``im2col``, ``loop`` — ``pooling_ref`` methods (``compiled``: the
  Numba kernels — pooling, global pooling and pooling gradients — only where Numba is
  installed; ``loop`` only on small cases; global pooling has one NumPy method, timed as
  ``fast``, gradients have no ``im2col``);
* ``keras_layer`` — the Keras layer called eagerly on the NumPy input, result as NumPy
  (gradients: ``tf.GradientTape`` through the layer with the upstream gradient, as
  :func:`pooling_ref.keras_ref.pool_grad`). Where
  the CPU path cannot run a channels_first convolution natively (TF's Eigen kernels raise
  ``UnimplementedError``), the body is what a user does instead: transpose to channels_last,
  call the channels_last layer, transpose back (recorded in :data:`KERAS_NOTES`);
* ``keras_ops`` — the functional form (``keras.ops.max_pool`` / ``average_pool`` / ``pad``
  / ``conv`` / ``depthwise_conv``, TF backend), result as NumPy;
* ``read_pass`` (``x.max()``) and ``copy`` (``x.copy()``) — memory rooflines.
"""

from __future__ import annotations

import functools
import os
import zlib
from dataclasses import dataclass, field, replace

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

POOLING_REF_IMPLS = ("compiled", "fast", "im2col", "loop")
IMPLS = (*POOLING_REF_IMPLS, "keras_layer", "keras_ops", "read_pass", "copy")
#: ``"case id:impl" -> note`` for Keras bodies that are not the plain call (see above).
KERAS_NOTES: dict[str, str] = {}
#: Elements of output x window cells above which ``loop`` is not timed (too slow).
LOOP_MAX_POSITIONS = 4096


#: op -> family (report groups; ops not listed are their own family: zero_pad, conv).
FAMILY_OF = {"max_pool": "pooling", "avg_pool": "pooling",
             "global_max_pool": "global_pooling", "global_avg_pool": "global_pooling",
             "max_pool_grad": "pool_grad", "avg_pool_grad": "pool_grad"}
#: Families with Numba kernels (timed as ``compiled`` where Numba is installed).
COMPILED_FAMILIES = ("pooling", "global_pooling", "pool_grad")
#: The pooling_ref methods each family takes (global pooling: one NumPy implementation).
FAMILY_METHODS = {"global_pooling": ("compiled", "fast"),
                  "pool_grad": ("compiled", "fast", "loop")}


@dataclass(frozen=True)
class Case:
    """One benchmark input: ``op`` in max_pool / avg_pool / zero_pad / conv, global_max_pool /
    global_avg_pool, max_pool_grad / avg_pool_grad (``kernel``: the conv kernel shape)."""

    id: str
    op: str
    shape: tuple[int, ...]
    params: dict = field(default_factory=dict, hash=False, compare=False)
    kernel: tuple[int, ...] | None = None          # conv kernel shape
    quick: bool = False                             # part of ``report.py --quick``

    @property
    def rank(self) -> int:
        return len(self.shape) - 2

    @property
    def family(self) -> str:
        return FAMILY_OF.get(self.op, self.op)


def _pool(op, cid, shape, k, s, padding="valid", fmt="channels_last", quick=False):
    return Case(cid, op, shape, dict(pool_size=k, strides=s, padding=padding,
                                     data_format=fmt), quick=quick)


def _conv(cid, shape, kernel, padding="valid", fmt="channels_last", quick=False, **extra):
    params = dict(strides=1, padding=padding, data_format=fmt, dilation_rate=1, groups=1)
    params.update(extra)
    return Case(cid, "conv", shape, params, kernel=kernel, quick=quick)


def _pool_cases() -> list[Case]:
    cases = []
    for op in ("max_pool", "avg_pool"):
        t = op[:3]
        cases += [
            _pool(op, f"{t}2d_28_f2s2", (1, 28, 28, 3), 2, 2, quick=True),
            _pool(op, f"{t}2d_224_f2s2", (8, 224, 224, 3), 2, 2, quick=True),
            _pool(op, f"{t}2d_56_f2s2", (64, 56, 56, 64), 2, 2, quick=True),
            _pool(op, f"{t}2d_112_f3s2_valid", (32, 112, 112, 64), 3, 2),
            _pool(op, f"{t}2d_112_f3s2_same", (32, 112, 112, 64), 3, 2, "same"),
            _pool(op, f"{t}1d_16000_f4s4", (16, 16000, 8), 4, 4),
            _pool(op, f"{t}3d_16x56x56_f2s2", (4, 16, 56, 56, 16), 2, 2),
            _pool(op, f"{t}2d_56_f2s2_cf", (64, 64, 56, 56), 2, 2, fmt="channels_first"),
            _pool(op, f"{t}2d_112_f3s2_same_cf", (32, 64, 112, 112), 3, 2, "same",
                  "channels_first"),
        ]
    return cases


def _global_cases() -> list[Case]:
    cases = []
    for op in ("global_max_pool", "global_avg_pool"):
        t = "g" + op.split("_")[1]
        cases += [
            Case(f"{t}2d_56", op, (64, 56, 56, 64), {}),
            Case(f"{t}2d_7x512", op, (32, 7, 7, 512), {}, quick=op == "global_avg_pool"),
            Case(f"{t}2d_56_cf", op, (64, 64, 56, 56), dict(data_format="channels_first")),
        ]
    return cases


def _grad_cases() -> list[Case]:
    cases = []
    for op in ("max_pool_grad", "avg_pool_grad"):
        t = op[:3] + "grad"
        cases += [
            _pool(op, f"{t}2d_28_f2s2", (1, 28, 28, 3), 2, 2),
            _pool(op, f"{t}2d_56_f2s2", (64, 56, 56, 64), 2, 2, quick=True),
            _pool(op, f"{t}2d_112_f3s2_same", (32, 112, 112, 64), 3, 2, "same"),
            _pool(op, f"{t}2d_224_f2s2", (8, 224, 224, 3), 2, 2),
            _pool(op, f"{t}3d_16x56x56_f2s2", (4, 16, 56, 56, 16), 2, 2),
        ]
    return cases


CASES: list[Case] = [
    *_pool_cases(),
    Case("pad2d_224_p1", "zero_pad", (8, 224, 224, 3), dict(padding=1), quick=True),
    Case("pad2d_56_p1", "zero_pad", (64, 56, 56, 64), dict(padding=1)),
    Case("pad2d_56_p2_cf", "zero_pad", (64, 64, 56, 56),
         dict(padding=((2, 1), (1, 2)), data_format="channels_first")),
    _conv("conv2d_56x64_k3_same", (8, 56, 56, 64), (3, 3, 64, 64), "same", quick=True),
    _conv("conv2d_28x32_k5_valid", (32, 28, 28, 32), (5, 5, 32, 64)),
    _conv("conv2d_56x64_depthwise_k3", (8, 56, 56, 64), (3, 3, 1, 64), "same", groups=64),
    _conv("conv2d_56x64_k3_dil2", (8, 56, 56, 64), (3, 3, 64, 64), "same", dilation_rate=2),
    _conv("conv1d_4000x16_k9", (16, 4000, 16), (9, 16, 32), "same"),
    _conv("conv3d_8x28x28x16_k3", (2, 8, 28, 28, 16), (3, 3, 3, 16, 32), "same"),
    _conv("conv2d_56x64_k3_same_cf", (8, 64, 56, 56), (3, 3, 64, 64), "same",
          fmt="channels_first"),
    _conv("conv2d_12x4_k3_small", (1, 12, 12, 4), (3, 3, 4, 8), "same", quick=True),
]
#: Global pooling and pooling-gradient cases (smoke-tested by
#: ``parity_tests/test_benchmarks_smoke_more.py``; ``CASES`` keeps the forward ops).
MORE_CASES: list[Case] = [*_global_cases(), *_grad_cases()]
#: Everything the suite and the report time.
ALL_CASES: list[Case] = [*CASES, *MORE_CASES]
CASES_BY_ID = {c.id: c for c in ALL_CASES}


def tiny(case: Case) -> Case:
    """The same configuration on a small input (for the smoke test)."""
    fmt = case.params.get("data_format", "channels_last")
    spatial_axes = range(2, len(case.shape)) if fmt == "channels_first" else range(
        1, len(case.shape) - 1)
    shape = list(case.shape)
    shape[0] = min(shape[0], 2)
    for a in spatial_axes:
        shape[a] = min(shape[a], 9)
    c_axis = 1 if fmt == "channels_first" else len(shape) - 1
    if case.family == "global_pooling":
        shape[c_axis] = min(shape[c_axis], 16)      # >= 8: the compiled kernels run
    elif case.op != "conv":
        shape[c_axis] = min(shape[c_axis], 3)
    return replace(case, id=f"{case.id}_tiny", shape=tuple(shape))


# ----------------------------------------------------------------------------- inputs


@functools.lru_cache(maxsize=1)
def inputs(case: Case) -> tuple[np.ndarray, np.ndarray | None]:
    """Reproducible float32 input and, for ``case``, the conv kernel or (gradients) the
    upstream gradient (the last one is cached)."""
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    x = rng.standard_normal(case.shape, dtype=np.float32)
    k = None
    if case.kernel is not None:
        k = (rng.standard_normal(case.kernel, dtype=np.float32)
             / np.sqrt(np.prod(case.kernel[:-1]))).astype(np.float32)
    if case.family == "pool_grad":
        import pooling_ref

        out_shape = pooling_ref.max_pool(x[:1], **case.params, method="fast").shape
        k = rng.standard_normal((x.shape[0], *out_shape[1:]), dtype=np.float32)
    return x, k


def compiled_available() -> bool:
    from pooling_ref import _compiled

    return _compiled.AVAILABLE


def loop_allowed(case: Case) -> bool:
    import math

    x, _ = inputs(case)
    return math.prod(x.shape) <= LOOP_MAX_POSITIONS * 16


# ----------------------------------------------------------------------------- callables


def _pooling_ref_call(case: Case, x, k, method):
    import pooling_ref

    if case.op == "max_pool":
        return lambda: pooling_ref.max_pool(x, **case.params, method=method)
    if case.op == "avg_pool":
        return lambda: pooling_ref.avg_pool(x, **case.params, method=method)
    if case.op == "zero_pad":
        return lambda: pooling_ref.zero_pad(x, **case.params, method=method)
    if case.family == "global_pooling":
        fn = getattr(pooling_ref, case.op)
        return lambda: fn(x, **case.params, method=method)
    if case.family == "pool_grad":
        fn = getattr(pooling_ref, case.op)
        return lambda: fn(x, k, **case.params, method=method)
    return lambda: pooling_ref.conv(x, k, **case.params, method=method)


def _keras_layer_call(case: Case, x, k):
    from pooling_ref.keras_ref import require_tf

    _, keras = require_tf()
    p = case.params
    r = case.rank
    if case.family == "global_pooling":
        kind = "Max" if case.op == "global_max_pool" else "Average"
        layer = getattr(keras.layers, f"Global{kind}Pooling{r}D")(**p)
    elif case.family == "pool_grad":
        return _keras_grad_call(case, x, k)
    elif case.op in ("max_pool", "avg_pool"):
        cls = getattr(keras.layers, f"{'Max' if case.op == 'max_pool' else 'Average'}"
                                    f"Pooling{r}D")
        layer = cls(**p)
    elif case.op == "zero_pad":
        pad = p["padding"]
        if r == 1 and isinstance(pad, tuple) and len(pad) == 1:
            pad = pad[0]
        layer = getattr(keras.layers, f"ZeroPadding{r}D")(
            padding=pad, data_format=p.get("data_format", "channels_last"))
    else:
        layer = _conv_layer(keras, x, k, p)
        if p.get("data_format") == "channels_first":
            try:
                np.asarray(layer(x))
            except Exception as e:                   # Eigen: no channels_first Conv kernel
                KERAS_NOTES[f"{case.id}:keras_layer"] = (
                    f"channels_first Conv raised {type(e).__name__}; timed as transpose + "
                    f"channels_last layer + transpose")
                layer = _conv_layer(keras, np.moveaxis(x, 1, -1), k,
                                    {**p, "data_format": "channels_last"})
                return lambda: np.ascontiguousarray(
                    np.moveaxis(np.asarray(layer(np.moveaxis(x, 1, -1))), -1, 1))
    return lambda: np.asarray(layer(x))


def _keras_grad_call(case: Case, x, gout):
    """The gradient through the Keras layer with ``tf.GradientTape`` (as
    :func:`pooling_ref.keras_ref.pool_grad`, without rebuilding the layer every call)."""
    from pooling_ref.keras_ref import require_tf

    tf, keras = require_tf()
    kind = "Max" if case.op == "max_pool_grad" else "Average"
    layer = getattr(keras.layers, f"{kind}Pooling{case.rank}D")(**case.params)
    xt, gt = tf.constant(x), tf.constant(gout)

    def run():
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = layer(xt)
        return np.asarray(tape.gradient(y, xt, output_gradients=gt))

    return run


def _conv_layer(keras, x, k, p):
    layer = getattr(keras.layers, f"Conv{x.ndim - 2}D")(
        filters=k.shape[-1], kernel_size=k.shape[:-2], use_bias=False, **p)
    layer.build(x.shape)
    layer.set_weights([k])
    return layer


def _keras_ops_call(case: Case, x, k):
    from pooling_ref.keras_ref import require_tf

    tf, keras = require_tf()
    ops = keras.ops
    p = case.params
    if case.family in ("global_pooling", "pool_grad"):
        return None                                  # the layer is the reference
    xt = tf.constant(x)
    if case.op == "max_pool":
        return lambda: np.asarray(ops.max_pool(xt, **p))
    if case.op == "avg_pool":
        return lambda: np.asarray(ops.average_pool(xt, **p))
    if case.op == "zero_pad":
        from pooling_ref.padding import normalize_zero_padding

        pairs = normalize_zero_padding(p["padding"], case.rank, "zero_pad")
        width = [(0, 0), *pairs, (0, 0)]
        if p.get("data_format") == "channels_first":
            width = [(0, 0), (0, 0), *pairs]
        return lambda: np.asarray(ops.pad(xt, width))
    kt = tf.constant(k)
    common = dict(strides=p["strides"], padding=p["padding"], data_format=p["data_format"],
                  dilation_rate=p["dilation_rate"])
    if p["groups"] > 1:
        if p["groups"] != x.shape[-1 if p["data_format"] == "channels_last" else 1]:
            return None
        # depthwise: Keras stores (*k, 1, C*mult); ops.depthwise_conv wants (*k, C, mult)
        kd = tf.constant(k.reshape(*k.shape[:-2], p["groups"], -1))
        return lambda: np.asarray(ops.depthwise_conv(xt, kd, **common))
    if p["data_format"] == "channels_first":
        try:
            np.asarray(ops.conv(xt, kt, **common))
        except Exception as e:                       # Eigen: no channels_first Conv kernel
            KERAS_NOTES[f"{case.id}:keras_ops"] = (
                f"channels_first conv raised {type(e).__name__}; timed as transpose + "
                f"channels_last ops.conv + transpose")
            cl = {**common, "data_format": "channels_last"}
            return lambda: np.ascontiguousarray(np.moveaxis(np.asarray(
                ops.conv(tf.constant(np.moveaxis(x, 1, -1)), kt, **cl)), -1, 1))
    return lambda: np.asarray(ops.conv(xt, kt, **common))


def callables(case: Case, impls=IMPLS) -> dict:
    """``impl -> zero-argument callable`` for the implementations that apply to ``case``."""
    x, k = inputs(case)
    fns = {}
    for impl in impls:
        if impl in POOLING_REF_IMPLS:
            if impl == "loop" and not loop_allowed(case):
                continue
            if impl == "compiled" and not (case.family in COMPILED_FAMILIES
                                           and compiled_available()):
                continue
            if impl not in FAMILY_METHODS.get(case.family, POOLING_REF_IMPLS):
                continue
            fns[impl] = _pooling_ref_call(case, x, k, impl)
        elif impl == "keras_layer":
            fns[impl] = _keras_layer_call(case, x, k)
        elif impl == "keras_ops":
            fn = _keras_ops_call(case, x, k)
            if fn is not None:
                fns[impl] = fn
        elif impl in ("read_pass", "copy") and case.family != "conv":
            fns[impl] = x.max if impl == "read_pass" else x.copy
    return fns
