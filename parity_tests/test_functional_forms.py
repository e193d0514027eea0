"""Parity of pooling_ref with the functional forms users call instead of the Keras layers.

* ``keras.ops.max_pool``, ``keras.ops.average_pool``, ``keras.ops.conv``,
  ``keras.ops.depthwise_conv``: run on the Keras backend of the process (TensorFlow in the
  main suite, jax / torch in ``nox -s keras_jax`` / ``keras_torch``), compared with the
  rules of that path (``keras_ref.eager_path``, ``keras_ref.reference_rules``) exactly as
  the layers are (``_backends.assert_pool_matches``);
* ``tf.nn.max_pool``, ``tf.nn.avg_pool``, ``tf.nn.pool``, ``tf.nn.convolution``: always
  TensorFlow's eager kernels (``detect_tf_kernel``), whatever the Keras backend.

Tolerances: max pooling bitwise; average pooling bitwise where a ``tf_kernel`` rule models
the path, else ``avg_pool_bound``; convolution ``conv_bound`` (``pooling_ref.tolerance``).
The ``tf.nn`` pooling forms take channels_last only here: TF's CPU pooling kernels reject
``NCHW`` (measured, TF 2.21 Eigen path: ``tf.nn.max_pool(..., data_format="NCHW")`` raises
``InvalidArgumentError`` "Default MaxPoolingOp only supports NHWC on device type CPU"; Keras
transposes), so channels_first cases are transposed for them.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import pooling_ref as pr
from pooling_ref import keras_ref
from pooling_ref.keras_ref import detect_tf_kernel
from pooling_ref.tolerance import conv_bound

from . import _backends as be
from . import _registry as reg
from ._assert import assert_within_bound
from .conv_strategies import conv_cases
from .strategies import pool_cases

pytestmark = [pytest.mark.parity, pytest.mark.any_backend]

tf, keras = keras_ref.require_tf()

KINDS = {"Max": ("max_pool", "MAX"), "Average": ("average_pool", "AVG")}


def _geometry(x: np.ndarray, params: dict) -> tuple[tuple, tuple, str, str]:
    """``(pool_size, strides, padding, data_format)`` as full tuples / lower-case strings."""
    r = x.ndim - 2
    pool = tuple(int(v) for v in np.broadcast_to(params["pool_size"], (r,)))
    strides = params.get("strides")
    strides = pool if strides is None else tuple(int(v) for v in np.broadcast_to(strides, (r,)))
    padding = str(params.get("padding", "valid")).lower()
    return pool, strides, padding, params.get("data_format") or "channels_last"


def _channels_last(x: np.ndarray, fmt: str) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(x, 1, -1)) if fmt == "channels_first" else x


def _as_format(y: np.ndarray, fmt: str) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(y, -1, 1)) if fmt == "channels_first" else y


def _conv_defect(case, path: str) -> bool:
    """Whether ``case`` meets a registry defect of eager TF convolution on ``path``:
    ``onednn-strided-same-conv-garbage`` ("same", a stride larger than the kernel) or
    ``eigen-conv3d-same-negative-pad`` (3D "same", a negative total pad on an axis)."""
    r = case.x.ndim - 2
    if str(case.params.get("padding", "valid")).lower() != "same":
        return False
    strides = np.broadcast_to(case.params.get("strides", 1), (r,))
    dilation = np.broadcast_to(case.params.get("dilation_rate", 1), (r,))
    spatial = case.x.shape[1:-1]          # channels_last cases only here
    negative = any((-(-n // s) - 1) * s + d * (k - 1) + 1 < n for n, k, s, d in
                   zip(spatial, case.kernel.shape[:r], strides, dilation))
    return (reg.applies("onednn-strided-same-conv-garbage", path) and any(
        s > k for s, k in zip(strides, case.kernel.shape[:r]))) or (
        r == 3 and negative and reg.applies("eigen-conv3d-same-negative-pad", path))


# ----------------------------------------------------------------------------- keras.ops


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("rank", [1, 2, 3])
@given(data=st.data())
def test_keras_ops_pool(kind, rank, data):
    """``keras.ops.max_pool`` / ``average_pool`` (float32) on the running Keras backend."""
    case = data.draw(pool_cases(ranks=(rank,), dtypes=("float32",)), label="case")
    x, params = case.x, case.params
    pool, strides, padding, fmt = _geometry(x, params)
    path = keras_ref.eager_path(x.dtype)
    call = getattr(keras.ops, KINDS[kind][0])
    expected = be.keras_or_expected_error(
        lambda: keras_ref.to_numpy(call(x, pool, strides, padding, fmt)),
        be.raising_entry(kind, x, params), path)
    if expected is None:
        return      # raised as the registry expects (checked)
    be.assert_pool_matches(expected, kind, x, params, path,
                           what=f"differs from keras.ops.{KINDS[kind][0]}")


@pytest.mark.parametrize("rank", [1, 2, 3])
@given(data=st.data())
def test_keras_ops_conv(rank, data):
    """``keras.ops.conv`` (groups read from the kernel's input depth; no bias) against
    ``pooling_ref.conv`` within ``conv_bound``, channels_last (native channels_first is a
    registry matter of the TF paths: ``eigen-cf-conv-unimplemented``)."""
    case = data.draw(conv_cases(rank=rank, dtype=np.float32, data_format="channels_last"),
                     label="case")
    p = {k: v for k, v in case.params.items() if k != "data_format"}
    if _conv_defect(case, keras_ref.eager_path()):
        return      # a TF defect: test_known_defects, test_eigen_conv3d_same_negative_pad
    expected = keras_ref.to_numpy(keras.ops.conv(
        case.x, case.kernel, p.get("strides", 1), p.get("padding", "valid"), "channels_last",
        p.get("dilation_rate", 1)))
    got = pr.conv(case.x, case.kernel, **p)
    assert_within_bound(got, expected, conv_bound(case.x, case.kernel, **p), op="conv",
                        params=p, arrays={"x": case.x, "kernel": case.kernel},
                        what="differs from keras.ops.conv beyond the error bound")


@given(data=st.data())
def test_keras_ops_depthwise_conv(data):
    """``keras.ops.depthwise_conv`` (kernel ``(*k, C, multiplier)``) is ``conv`` with
    ``groups = C`` and the kernel reshaped to ``(*k, 1, C * multiplier)``."""
    rank = data.draw(st.integers(1, 2), label="rank")
    k = tuple(data.draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank), label="k"))
    spatial = tuple(n + data.draw(st.integers(0, 4), label=f"n{i}") for i, n in enumerate(k))
    c, mult = data.draw(st.integers(1, 3), label="C"), data.draw(st.integers(1, 2), label="m")
    padding = data.draw(st.sampled_from(["valid", "same"]), label="padding")
    strides = data.draw(st.integers(1, 2), label="strides")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    x = rng.standard_normal((2, *spatial, c)).astype(np.float32)
    kernel = rng.standard_normal((*k, c, mult)).astype(np.float32)
    expected = keras_ref.to_numpy(keras.ops.depthwise_conv(x, kernel, strides, padding))
    p = {"strides": strides, "padding": padding, "groups": c}
    full = kernel.reshape(*k, 1, c * mult)
    assert_within_bound(pr.conv(x, full, **p), expected, conv_bound(x, full, **p), op="conv",
                        params=p, arrays={"x": x, "kernel": full},
                        what="differs from keras.ops.depthwise_conv beyond the error bound")


# ----------------------------------------------------------------------------- tf.nn


def _tf_nn_pool(form: str, kind: str, x_cl: np.ndarray, pool, strides, padding):
    if form == "pool":
        return tf.nn.pool(x_cl, pool, KINDS[kind][1], strides=strides, padding=padding.upper())
    fn = tf.nn.max_pool if kind == "Max" else tf.nn.avg_pool
    return fn(x_cl, pool, strides, padding.upper())


@pytest.mark.parametrize("form", ["max_pool/avg_pool", "pool"])
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("rank", [1, 2, 3])
@given(data=st.data())
def test_tf_nn_pool(form, kind, rank, data):
    """``tf.nn.max_pool`` / ``tf.nn.avg_pool`` and ``tf.nn.pool`` (float32, channels_last)
    against pooling_ref with the rules of TF's eager path. ``tf.nn.pool`` rejects strides
    larger than the window (``ValueError``, measured with TF 2.21), which is checked instead."""
    case = data.draw(pool_cases(ranks=(rank,), dtypes=("float32",)), label="case")
    pool, strides, padding, fmt = _geometry(case.x, case.params)
    x = _channels_last(case.x, fmt)
    params = {"pool_size": pool, "strides": strides, "padding": padding}
    path = detect_tf_kernel(x.dtype)
    if form == "pool" and any(s > k for s, k in zip(strides, pool)):
        with pytest.raises(ValueError, match="strides"):
            _tf_nn_pool(form, kind, x, pool, strides, padding)
        return
    try:
        expected = np.asarray(_tf_nn_pool(form, kind, x, pool, strides, padding))
    except tf.errors.OpError:
        assert x.shape[0] == 0 or 0 in x.shape, "tf.nn raised on a non-empty input"
        return      # empty batch: TF's own quirk, not a semantics pooling_ref copies
    be.assert_pool_matches(expected, kind, x, params, path,
                           what=f"differs from tf.nn.{form}")


@pytest.mark.parametrize("rank", [1, 2, 3])
@given(data=st.data())
def test_tf_nn_convolution(rank, data):
    """``tf.nn.convolution`` (filters ``(*k, C_in, filters)``, channels_last, groups 1)
    within ``conv_bound``; cases of a registry defect of this path (``_conv_defect``) are
    left to the tests of those entries."""
    case = data.draw(conv_cases(rank=rank, dtype=np.float32, data_format="channels_last"),
                     label="case")
    assume(case.params.get("groups", 1) == 1)   # grouped filters: test_keras_ops_conv
    p = {k: v for k, v in case.params.items() if k != "data_format"}
    r = case.x.ndim - 2
    strides = tuple(int(s) for s in np.broadcast_to(p.get("strides", 1), (r,)))
    dilations = tuple(int(d) for d in np.broadcast_to(p.get("dilation_rate", 1), (r,)))
    padding = str(p.get("padding", "valid")).upper()
    if _conv_defect(case, detect_tf_kernel()):
        return      # a TF defect: test_known_defects, test_eigen_conv3d_same_negative_pad
    expected = np.asarray(tf.nn.convolution(case.x, case.kernel, strides, padding,
                                            dilations=dilations))
    got = pr.conv(case.x, case.kernel, **p)
    assert_within_bound(got, expected, conv_bound(case.x, case.kernel, **p), op="conv",
                        params=p, arrays={"x": case.x, "kernel": case.kernel},
                        what="differs from tf.nn.convolution beyond the error bound")


@pytest.mark.parametrize("form", ["tf.nn.convolution", "keras.ops.conv"])
def test_eigen_conv3d_same_negative_pad(form):
    """Eager 3D "same" convolution, stride 3 on a length-3 axis, 1-cell kernel: TF's total
    pad is (1 - 1) * 3 + 1 - 3 < 0, so pad 0 and the only window is row 0 (hand:
    0.12573022 * 0.10490011). Eigen centres it on row 1 (registry
    ``eigen-conv3d-same-negative-pad``)."""
    x = np.array([0.12573022, -0.13210486, 0.64042264], np.float32).reshape(1, 3, 1, 1, 1)
    kernel = np.array([0.10490011], np.float32).reshape(1, 1, 1, 1, 1)
    want = np.float32(0.12573022) * np.float32(0.10490011)
    ours = pr.conv(x, kernel, strides=(3, 1, 1), padding="same").ravel()[0]
    assert ours == want
    if form == "tf.nn.convolution":
        path = detect_tf_kernel()
        got = np.asarray(tf.nn.convolution(x, kernel, (3, 1, 1), "SAME")).ravel()[0]
    else:
        path = keras_ref.eager_path()
        got = keras_ref.to_numpy(keras.ops.conv(x, kernel, (3, 1, 1), "same")).ravel()[0]
    bound = float(conv_bound(x, kernel, strides=(3, 1, 1), padding="same").ravel()[0])
    differs = abs(float(got) - float(want)) > bound
    reg.expect("eigen-conv3d-same-negative-pad", differs, path,
               f"{form} gives {got}, row 0 gives {want}")
    if differs:                 # the model: the window moved -(-2) // 2 = 1 row into the axis
        from pooling_ref import known
        from pooling_ref.ops import spec

        model = known.MODELS["eigen-conv3d-same-negative-pad"](
            spec("conv3d"), {"x": x, "kernel": kernel},
            {"strides": (3, 1, 1), "padding": "same"}, None, None).ravel()[0]
        assert model == np.float32(-0.13210486) * np.float32(0.10490011)     # row 1
        assert abs(float(got) - float(model)) <= bound, (got, model)
    reg.skip_other_path("eigen-conv3d-same-negative-pad", path)
