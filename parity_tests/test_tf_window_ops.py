"""Parity of ``max_pool_with_argmax`` with ``tf.nn.max_pool_with_argmax``, of dilated
pooling with ``tf.nn.pool(..., dilations=...)`` (``"VALID"``: TF has no ``"SAME"`` with
dilation) and of
``adaptive_avg_pool`` / ``adaptive_max_pool`` with Keras ``AdaptiveAveragePoolingND`` /
``AdaptiveMaxPoolingND`` (TF 2.21 / Keras 3.15, CPU, this process' eager path), bit for
bit: values, indices (int64) and, for adaptive pooling, both data formats — on drawn
inputs with special values (NaN, ±inf, ±0, ties, subnormals).

Keras' ``AdaptiveMaxPoolingND`` kills the process (SIGFPE) on the oneDNN path when the
output size or the input length of the last spatial axis is 1 (registry
``onednn-adaptive-max-sigfpe``): the drawn max cases keep both >= 2 there on that path, and
the defect is shown in a child process.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

tf = pytest.importorskip("tensorflow")

import pooling_ref as pr  # noqa: E402
from pooling_ref import keras_ref, methods  # noqa: E402

from . import _registry as reg  # noqa: E402
from ._assert import assert_bitwise  # noqa: E402

pytestmark = [pytest.mark.parity,
              pytest.mark.skipif(keras_ref.backend() != "tensorflow",
                                 reason="tf.nn and the TF backend's adaptive layers")]
EAGER = keras_ref.eager_path()
ARGMAX_METHODS = (*methods.names("max_pool_argmax"), None)
SPECIAL = [0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, 1.0, -2.0, 3.0, 1e-45, -3.4e38]


def _values(draw, shape, dtype):
    kind = draw(st.sampled_from(["normal", "special", "ties"]), label="values")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    if kind == "normal":
        x = rng.standard_normal(shape)
    elif kind == "ties":
        x = rng.choice([-1.0, -0.0, 0.0, 1.0], size=shape)
    else:
        x = rng.choice(SPECIAL, size=shape)
    with np.errstate(over="ignore"):
        return x.astype(dtype)


# ----------------------------------------------------------------------------- argmax


@st.composite
def argmax_cases(draw):
    h, w = draw(st.integers(1, 7), label="H"), draw(st.integers(1, 7), label="W")
    padding = draw(st.sampled_from(["valid", "same", "SAME"]), label="padding")
    kh = draw(st.integers(1, h if padding == "valid" else 4), label="kh")
    kw = draw(st.integers(1, w if padding == "valid" else 4), label="kw")
    strides = (draw(st.integers(1, 3), label="sh"), draw(st.integers(1, 3), label="sw"))
    dtype = draw(st.sampled_from(["float32", "float64", "float16", "int32"]), label="dtype")
    n, c = draw(st.integers(1, 3), label="N"), draw(st.integers(1, 3), label="C")
    x = _values(draw, (n, h, w, c), dtype)
    return x, (kh, kw), strides, padding, draw(st.booleans(), label="include batch")


@given(argmax_cases())
def test_max_pool_with_argmax_matches_tf(case):
    x, window, strides, padding, include = case
    y_tf, a_tf = tf.nn.max_pool_with_argmax(x, window, strides, padding.upper(),
                                            include_batch_in_index=include)
    y_tf, a_tf = y_tf.numpy(), a_tf.numpy()
    assert a_tf.dtype == np.int64
    params = {"pool_size": window, "strides": strides, "padding": padding,
              "include_batch_in_index": include}
    for m in ARGMAX_METHODS:
        kw = params if m is None else {**params, "method": m}
        y, a = pr.max_pool_with_argmax(x, **kw)
        assert_bitwise(y, y_tf, op="max_pool_with_argmax", params=kw, arrays={"x": x},
                       what="values differ from tf.nn.max_pool_with_argmax")
        assert_bitwise(a, a_tf, op="max_pool_with_argmax", params=kw, arrays={"x": x},
                       what="indices differ from tf.nn.max_pool_with_argmax")


def test_max_pool_with_argmax_special_windows():
    """The measured scan, spelled out (TF 2.21): first real cell, then strictly greater."""
    rows = {(np.nan, 1, 2): (np.nan, 0), (1, 2, np.nan): (2, 1),
            (np.inf, np.nan, 1): (np.inf, 0),
            (-np.inf, -np.inf, -np.inf): (-np.inf, 0), (-0.0, 0.0, -1): (-0.0, 0),
            (2, 2, 1): (2, 0)}
    for window, (value, index) in rows.items():
        x = np.float32(window).reshape(1, 1, 3, 1)
        y_tf, a_tf = tf.nn.max_pool_with_argmax(x, (1, 3), (1, 3), "VALID")
        y, a = pr.max_pool_with_argmax(x, (1, 3))
        assert_bitwise(y, y_tf.numpy(), op="max_pool_with_argmax", params={}, arrays={"x": x})
        assert a.ravel().tolist() == a_tf.numpy().ravel().tolist() == [index]
        assert_bitwise(y.ravel(), np.float32([value]), op="max_pool_with_argmax", params={},
                       arrays={"x": x}, what="differs from the hand-derived value")


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_max_pool_with_argmax_compares_flushed_subnormals(dtype):
    """TF's kernel compares under the eager runtime's denormal flushing (float16 excepted:
    its values are normal in float32) and returns the chosen cell unflushed: a window of
    subnormals ``[3, 6, 10, 1] * tiny`` is a tie of zeros in float32/64 (the first cell,
    index 0), and its maximum ``10 * tiny`` (index 2) in float16 — hand-derived, and TF's."""
    tiny = float(np.finfo(dtype).smallest_subnormal)
    x = (np.float64([3, 6, 10, 1]) * tiny).astype(dtype).reshape(1, 2, 2, 1)
    first = dtype != "float16"
    want_index = 0 if first else 2
    y_tf, a_tf = tf.nn.max_pool_with_argmax(x, 2, 2, "VALID")
    y, a = pr.max_pool_with_argmax(x, 2)
    assert a.ravel().tolist() == a_tf.numpy().ravel().tolist() == [want_index]
    assert_bitwise(y, y_tf.numpy(), op="max_pool_with_argmax", params={}, arrays={"x": x})
    assert y.ravel()[0] == x.ravel()[want_index] != 0


# ----------------------------------------------------------------------------- adaptive


LAYERS = {"avg": ("AdaptiveAveragePooling", pr.adaptive_avg_pool),
          "max": ("AdaptiveMaxPooling", pr.adaptive_max_pool)}


@st.composite
def adaptive_cases(draw, kind):
    rank = draw(st.integers(1, 3), label="rank")
    crash = kind == "max" and reg.applies("onednn-adaptive-max-sigfpe", EAGER)
    low = [1] * (rank - 1) + [2 if crash else 1]        # the last axis: no 1 (SIGFPE)
    spatial = [draw(st.integers(lo, 9 if rank < 3 else 6), label="n") for lo in low]
    out = tuple(draw(st.integers(lo, 2 * n), label="output") for lo, n in zip(low, spatial))
    dtypes = ["float32"] if rank == 3 else ["float32", "float32", "float64", "float16"]
    dtype = draw(st.sampled_from(dtypes), label="dtype")       # TF's 3D pooling: float32
    fmt = draw(st.sampled_from(["channels_last", "channels_first"]), label="data_format")
    n, c = draw(st.integers(1, 2), label="N"), draw(st.integers(1, 3), label="C")
    shape = (n, *spatial, c) if fmt == "channels_last" else (n, c, *spatial)
    x = _values(draw, shape, dtype)
    output_size = out[0] if len(set(out)) == 1 and draw(st.booleans(), label="int") else out
    return x, output_size, fmt


def _keras_adaptive(kind, x, output_size, fmt):
    import keras

    name = f"{LAYERS[kind][0]}{x.ndim - 2}D"
    layer = getattr(keras.layers, name)(output_size, data_format=fmt, dtype=x.dtype.name)
    return keras_ref.to_numpy(layer(x))


@pytest.mark.parametrize("kind", ["avg", "max"])
@given(data=st.data())
def test_adaptive_pooling_matches_keras(kind, data):
    x, output_size, fmt = data.draw(adaptive_cases(kind))
    if kind == "max" and x.ndim == 5 and reg.applies("eigen-max-pool3d-nan-by-packet", EAGER):
        # Eigen's 3D max picks NaN and the sign of a zero by SIMD packet (registry
        # eigen-max-pool3d-nan-by-packet / -zero-sign, shown in test_known_defects)
        assume(np.isfinite(x).all() and (np.abs(x) >= np.finfo(x.dtype).tiny).all())
    want = _keras_adaptive(kind, x, output_size, fmt)
    tf_kernel = keras_ref.detect_tf_kernel(x.dtype)
    for m in (*methods.names("max_pool"), None):
        kw = {"data_format": fmt, "tf_kernel": tf_kernel, **({} if m is None else {"method": m})}
        got = LAYERS[kind][1](x, output_size, **kw)
        assert_bitwise(got, want, op=f"adaptive_{kind}_pool", params={"output_size": output_size,
                                                                     **kw},
                       arrays={"x": x}, what=f"differs from Keras {LAYERS[kind][0]}")


def test_adaptive_average_is_separable_not_one_division():
    """Keras averages one axis at a time: the hand-derived two-division value, which
    differs from one sum / 9 here (float32)."""
    x = np.float32([[0.1, 0.2, 0.7], [1e-3, 3.0, 0.3], [5.0, 0.11, 0.9]]).reshape(1, 3, 3, 1)
    cols = [np.float32(np.float32(np.float32(x[0, 0, j, 0] + x[0, 1, j, 0]) + x[0, 2, j, 0])
                       / np.float32(3)) for j in range(3)]
    want = np.float32(np.float32(np.float32(cols[0] + cols[1]) + cols[2]) / np.float32(3))
    got = pr.adaptive_avg_pool(x, 1)
    assert got.ravel()[0] == want
    assert got.ravel()[0] == _keras_adaptive("avg", x, 1, "channels_last").ravel()[0]


def test_adaptive_max_with_an_output_of_one_kills_keras_on_onednn():
    """Registry ``onednn-adaptive-max-sigfpe``: Keras pools with a window one longer than
    the axis, and oneDNN's max pooling divides by zero (SIGFPE) — in a child process."""
    code = ("import numpy as np, keras\n"
            "x = np.arange(4, dtype=np.float32).reshape(1, 4, 1)\n"
            "print(float(keras.layers.AdaptiveMaxPooling1D(1)(x).numpy().ravel()[0]))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    crashed = done.returncode == -signal.SIGFPE
    reg.expect("onednn-adaptive-max-sigfpe", crashed, EAGER,
               f"exit status {done.returncode}, stdout {done.stdout!r}")
    assert pr.adaptive_max_pool(np.arange(4, dtype=np.float32).reshape(1, 4, 1), 1)[
        0, 0, 0] == 3
    if not crashed:
        assert done.returncode == 0 and float(done.stdout.split()[-1]) == 3.0
    reg.skip_other_path("onednn-adaptive-max-sigfpe", EAGER)


# ----------------------------------------------------------------------------- dilation


@given(data=st.data())
def test_dilated_pooling_matches_tf_nn_pool(data):
    rank = data.draw(st.integers(1, 2), label="rank")
    spatial = [data.draw(st.integers(1, 9), label="n") for _ in range(rank)]
    dilation = tuple(data.draw(st.integers(1, 3), label="d") for _ in range(rank))
    window = tuple(data.draw(st.integers(1, max(1, (n - 1) // d + 1)), label="k")
                   for n, d in zip(spatial, dilation))
    x = _values(data.draw, (data.draw(st.integers(1, 2), label="N"), *spatial,
                            data.draw(st.integers(1, 3), label="C")), "float32")
    tf_kernel = keras_ref.detect_tf_kernel(x.dtype)
    for kind, func in (("MAX", pr.max_pool), ("AVG", pr.avg_pool)):
        want = tf.nn.pool(x, window, kind, padding="VALID", dilations=dilation).numpy()
        for m in (*methods.names("max_pool"), None):
            kw = {"dilation_rate": dilation, "tf_kernel": tf_kernel,
                  **({} if m is None else {"method": m})}
            got = func(x, window, 1, "valid", **kw)
            assert_bitwise(got, want, op=func.__name__, params=kw, arrays={"x": x},
                           what=f"differs from tf.nn.pool({kind!r}, dilations=...)")
