"""Parity of pooling_ref's pooling ops with the Keras layers (TF 2.21 / Keras 3.15, CPU).

Reference: :mod:`pooling_ref.keras_ref` — the Keras layer (``MaxPoolingND``,
``AveragePoolingND``, ``GlobalMaxPoolingND``, ``GlobalAveragePoolingND``) called eagerly in
the input's dtype. Every method (``"loop"``, ``"im2col"``, ``"fast"`` and the default when
``method`` is omitted) is compared with one Keras result per drawn case.

Tolerances (see ``pooling_ref.tolerance``):

* max pooling: bitwise (signed zeros included: the first maximum wins in TF and here);
* average pooling: bitwise in float32, and — measured, see ``test_pool_float16_float64`` —
  also in float16 and float64 for 1D/2D;
* global max: bitwise up to the sign of zero (see ``test_global_max_pool``);
* global average: ``error_bound(mean|x|, cells, dtype)``, TF's ``reduce_mean`` sums in a
  tree order that no fixed sequential order reproduces.

channels_first: measured to work natively on CPU for every rank (1D/2D/3D, max and
average, TF 2.21), so the channels_first cases call Keras in channels_first — no transpose.

Runtime budget: ~2 ms per Keras call; the Hypothesis ``ci`` profile (40 examples) is used
unchanged except where a test sets ``max_examples`` itself (justified there).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("tensorflow")

import pooling_ref as pr
from pooling_ref import keras_ref, methods
from pooling_ref.tolerance import error_bound

from . import _backends as be
from . import _registry as reg
from ._assert import assert_bitwise, assert_within_bound
from .strategies import (
    MAX_SPATIAL,
    MAX_WINDOW,
    array_values,
    global_pool_cases,
    pool_cases,
    spatial_cells,
)

pytestmark = [pytest.mark.parity, pytest.mark.any_backend]

#: ``None`` = the ``method`` keyword omitted (the default, "auto").
METHODS = (*(m for m in methods.names("max_pool") if m != "compiled"), None)   # None: auto
POOL_FUNCS = {"Max": ("max_pool", pr.max_pool), "Average": ("avg_pool", pr.avg_pool)}


def _call(func, x, params, method):
    kw = dict(params) if method is None else {**params, "method": method}
    return func(x, **kw), kw


#: Keras reference paths, in the same process: the eager layer (the running eager kernel
#: path) and the layer compiled with XLA (``tf.function(jit_compile=True)``).
REF_PATHS = ("eager", "xla")


def _check_pool_all_methods(kind: str, case, ref: str = "eager") -> None:
    """Keras once, then every method against it, with the matching path's rules
    (``keras_ref.reference_rules``: ``tf_kernel=detect_tf_kernel(dtype)`` for eager TF,
    ``"xla"`` for XLA, the measured options of the jax / torch backends). Bitwise, except
    where the registry records an unmodelled difference of that path (``_backends``)."""
    if (reason := keras_ref.unavailable(ref)) is not None:
        pytest.skip(reason)
    x = case.x
    path = "xla" if ref == "xla" else keras_ref.eager_path(x.dtype)
    expected = be.keras_or_expected_error(
        lambda: keras_ref.pool(kind, x, **case.params, path=ref),
        be.raising_entry(kind, x, case.params), path)
    if expected is None:
        return      # raised as the registry expects (checked)
    if be.float64_as_float32(path, x.dtype):      # shown by test_keras_backends
        assert expected.dtype == np.float32, expected.dtype
        x = x.astype(np.float32)
    for method in METHODS:
        be.assert_pool_matches(expected, kind, x, case.params, path, method)


# ----------------------------------------------------------------------------- float32


@pytest.mark.parametrize("ref", REF_PATHS)
@pytest.mark.parametrize("rank", [1, 2, 3])
@given(data=st.data())
def test_max_pool_float32(rank, ref, data):
    case = data.draw(pool_cases(ranks=(rank,)), label="case")
    _check_pool_all_methods("Max", case, ref)


@pytest.mark.parametrize("ref", REF_PATHS)
@pytest.mark.parametrize("rank", [1, 2, 3])
@given(data=st.data())
def test_avg_pool_float32(rank, ref, data):
    case = data.draw(pool_cases(ranks=(rank,)), label="case")
    _check_pool_all_methods("Average", case, ref)


@pytest.mark.parametrize("ref", REF_PATHS)
@pytest.mark.parametrize("rank", [1, 2])
@given(data=st.data())
def test_max_pool_int32(rank, ref, data):
    """int32 MaxPooling1D/2D: bitwise, incl. the int min sentinel.

    Not 3D: TF 2.21's ``MaxPool3D`` op only allows half/bfloat16/float
    (``InvalidArgumentError``: "Value for attr 'T' of int32 is not in the list").
    """
    case = data.draw(pool_cases(ranks=(rank,), dtypes=("int32",)), label="case")
    _check_pool_all_methods("Max", case, ref)


# ----------------------------------------------------------------------------- other dtypes


@pytest.mark.parametrize("ref", REF_PATHS)
@pytest.mark.parametrize("kind", ["Max", "Average"])
@pytest.mark.parametrize("dtype", ["float16", "float64"])
@given(data=st.data())
def test_pool_float16_float64(kind, dtype, ref, data):
    """1D/2D only: TF has no float16/float64 MaxPool3D/AvgPool3D CPU kernel.

    Measured (TF 2.21, 2000 drawn cases per dtype incl. "scales" and "ties" values): average
    pooling is bitwise in float16 and float64 too — TF's CPU kernels for these dtypes
    (Eigen, not oneDNN) sum the window in row-major order in the input dtype, exactly like
    pooling_ref — so bitwise is asserted, not the looser error bound.
    """
    case = data.draw(pool_cases(ranks=(1, 2), dtypes=(dtype,)), label="case")
    _check_pool_all_methods(kind, case, ref)


# ----------------------------------------------------------------------------- global pooling


def _as_computed(x: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """``x`` as the backend computed it: float32 where the registry says a float64 layer
    runs in float32 (``keras-jax-float64-as-float32``, checked here), else ``x``."""
    if be.float64_as_float32(keras_ref.eager_path(), x.dtype):
        assert expected.dtype == np.float32, expected.dtype
        return x.astype(np.float32)
    return x


@pytest.mark.parametrize("rank", [1, 2, 3])
@given(data=st.data())
def test_global_max_pool(rank, data):
    """Bitwise except for the sign of a zero that ties with the other zero.

    ``GlobalMaxPooling`` is ``tf.reduce_max``, whose choice among equal values is not
    specified: measured, it returns the *last* of ``[-0., +0.]`` (``+0.``) and of
    ``[+0., -0.]`` (``-0.``), and a vectorised reduction may pick any of them, while
    pooling_ref uses ``np.max``. ``-0. == +0.`` as values, so both are cleared to ``+0.``
    before the bitwise comparison; every other bit (NaN positions, infinities, values)
    must match.
    """
    case = data.draw(global_pool_cases(ranks=(rank,), dtypes=("float32", "float64", "int32"),
                                       allow_empty_batch=False),   # test_global_max_empty_batch
                     label="case")
    expected = keras_ref.global_pool("Max", case.x, **case.params)
    x = _as_computed(case.x, expected)
    got = pr.global_max_pool(x, **case.params)
    assert_bitwise(be.zero_sign_cleared(got), be.zero_sign_cleared(expected),
                   op="global_max_pool", params=case.params, arrays={"x": x},
                   what="differs from Keras (sign of zero ignored)")


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_global_max_empty_batch(rank, data_format, keepdims):
    """An empty batch: pooling_ref returns the empty result of the right shape; Keras fails
    on the TensorFlow backend and on torch (registry ``keras-torch-empty-spatial-axis-raises``);
    jax returns the same empty result as pooling_ref.

    Measured, TF 2.21: ``GlobalMaxPoolingND`` on a batch of 0 raises
    ``InvalidArgumentError`` ("Cannot compute the max of an empty tensor") although every
    window is non-empty and the result shape ``(0, C)`` is well defined — a TF quirk, not a
    semantics pooling_ref copies. Expected shape derived by hand.
    """
    import tensorflow as tf

    spatial, channels = (3,) * rank, 2
    shape = (0, channels, *spatial) if data_format == "channels_first" else (0, *spatial,
                                                                            channels)
    x = np.zeros(shape, np.float32)
    if keepdims:
        want = (0, channels, *(1,) * rank) if data_format == "channels_first" else (
            0, *(1,) * rank, channels)
    else:
        want = (0, channels)
    got = pr.global_max_pool(x, data_format=data_format, keepdims=keepdims)
    assert got.shape == want and got.dtype == x.dtype, (got.shape, got.dtype)
    if keras_ref.backend() != "tensorflow":        # jax: the empty result; torch raises
        expected = be.keras_or_expected_error(
            lambda: keras_ref.global_pool("Max", x, data_format=data_format,
                                          keepdims=keepdims),
            "keras-torch-empty-spatial-axis-raises", keras_ref.eager_path())
        if expected is None:
            return
        assert_bitwise(got, expected, op="global_max_pool", arrays={"x": x},
                       params={"data_format": data_format, "keepdims": keepdims})
        return
    with pytest.raises(tf.errors.OpError):
        keras_ref.global_pool("Max", x, data_format=data_format, keepdims=keepdims)


@pytest.mark.parametrize("rank", [1, 2, 3])
@given(data=st.data())
def test_global_avg_pool(rank, data):
    """Within ``error_bound(mag=mean|x| in float64, terms=spatial cells, dtype)``.

    TF's ``reduce_mean`` sums in a tree order; int32 input gives float32 (as Keras).
    """
    case = data.draw(global_pool_cases(ranks=(rank,), dtypes=("float32", "float64", "int32")),
                     label="case")
    expected = keras_ref.global_pool("Average", case.x, **case.params)
    x = _as_computed(case.x, expected)
    got = pr.global_avg_pool(x, **case.params)
    out_dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    assert got.dtype == expected.dtype == out_dtype, (got.dtype, expected.dtype)
    mag = pr.global_avg_pool(np.abs(x.astype(np.float64)), **case.params)
    acc = out_dtype
    if out_dtype == np.float64 and reg.applies("keras-torch-global-avg-float64-in-float32",
                                               keras_ref.eager_path()):
        acc = np.dtype(np.float32)   # registry: computed in float32 (test_keras_backends)
    bound = error_bound(mag, spatial_cells(case), acc)
    assert_within_bound(got, expected, bound, op="global_avg_pool", params=case.params,
                        arrays={"x": x})


# ----------------------------------------------------------------------------- errors


@st.composite
def _too_large_valid(draw):
    """A "valid" pooling whose window is larger than the input on at least one axis."""
    rank = draw(st.sampled_from([1, 2, 3]), label="rank")
    window, spatial = [], []
    bad_axis = draw(st.integers(0, rank - 1), label="bad_axis")
    for i in range(rank):
        k = draw(st.integers(2 if i == bad_axis else 1, MAX_WINDOW[rank]), label=f"k{i}")
        lo, hi = (1, k - 1) if i == bad_axis else (k, MAX_SPATIAL[rank])
        window.append(k)
        spatial.append(draw(st.integers(lo, hi), label=f"n{i}"))
    fmt = draw(st.sampled_from(["channels_last", "channels_first"]), label="data_format")
    batch, channels = draw(st.integers(1, 2), label="batch"), draw(st.integers(1, 2),
                                                                    label="channels")
    shape = (batch, channels, *spatial) if fmt == "channels_first" else (batch, *spatial,
                                                                         channels)
    x = array_values(np.random.default_rng(0), shape, np.dtype(np.float32), "normal")
    return x, {"pool_size": tuple(window), "padding": "valid", "data_format": fmt}


@given(_too_large_valid())
def test_valid_window_larger_than_input(case):
    """pooling_ref raises a clear ValueError naming ``pool_size``; TF's behaviour is recorded.

    Measured with TF 2.21 / Keras 3.15, float32, CPU: ``MaxPoolingND`` raises
    ``AbortedError`` from oneDNN ("could not create a descriptor for a pooling forward
    propagation primitive"), returns an empty array on the Eigen path; ``AveragePoolingND``
    does *not* fail — it returns an empty array with a 0-length output axis. Registry
    entries ``onednn-valid-window-too-large-aborts``, ``eigen-valid-max-window-too-large-empty``,
    ``valid-window-too-large-empty``, and on the Keras backends
    ``keras-jax-valid-window-too-large-empty``, ``keras-torch-valid-window-too-large-raises``.
    """
    import tensorflow as tf

    x, params = case
    for _op, func in POOL_FUNCS.values():
        for method in METHODS:
            kw = params if method is None else {**params, "method": method}
            with pytest.raises(ValueError, match="pool_size"):
                func(x, **kw)
    path = keras_ref.eager_path()
    out = {}
    for kind in POOL_FUNCS:
        try:
            out[kind] = keras_ref.pool(kind, x, **params)
        except Exception as e:      # which error it is, is the question
            out[kind] = e
    mx, av = out["Max"], out["Average"]

    def empty(o):
        return isinstance(o, np.ndarray) and o.size == 0

    if keras_ref.backend() == "tensorflow":      # TF kernel paths (TF entries)
        reg.expect("onednn-valid-window-too-large-aborts",
                   isinstance(mx, tf.errors.AbortedError), path, f"{params}: {mx!r:.200}")
        reg.expect("eigen-valid-max-window-too-large-empty", empty(mx), path, f"{params}")
        reg.expect("valid-window-too-large-empty", empty(av), path, f"{params}: {av!r:.200}")
        return
    # the Keras jax / torch backends run no TF kernel: their own entries
    reg.expect("keras-jax-valid-window-too-large-empty", empty(mx) and empty(av), path,
               f"{params}: {mx!r:.200}, {av!r:.200}")
    reg.expect("keras-torch-valid-window-too-large-raises",
               isinstance(mx, RuntimeError) and isinstance(av, RuntimeError), path,
               f"{params}: {mx!r:.200}, {av!r:.200}")


# ----------------------------------------------------------------------------- fixed facts


def test_tf_facts_examples_match_keras():
    """The hand-derived examples, checked against Keras itself (hand values in
    test_pooling_spec)."""
    x5 = np.arange(1, 6, dtype=np.float32).reshape(1, 5, 1)
    x4 = np.arange(1, 5, dtype=np.float32).reshape(1, 4, 1)
    for x, params in ((x5, {"pool_size": 4, "strides": 1, "padding": "same"}),
                      (x4, {"pool_size": 3, "strides": 2, "padding": "same"})):
        expected = keras_ref.pool("Average", x, **params)
        path = keras_ref.eager_path()
        reg.expect("keras-torch-avg-same-asymmetric",
                   not np.array_equal(expected, pr.avg_pool(x, **params)), path,
                   f"{params}: Keras gives {expected.ravel()}")
        if reg.applies("keras-torch-avg-same-asymmetric", path):
            continue     # the values: test_keras_backends
        for method in METHODS:
            got, kw = _call(pr.avg_pool, x, params, method)
            assert_bitwise(got, expected, op="avg_pool", params=kw, arrays={"x": x})


@settings(max_examples=10)   # a few shapes suffice: the point is the value, not the geometry
@given(data=st.data())
def test_empty_spatial_axis(data):
    """Measured with TF 2.21: a 0-length spatial axis returns an empty array of the right shape."""
    rank = data.draw(st.sampled_from([1, 2, 3]), label="rank")
    spatial = [data.draw(st.integers(1, 4), label=f"n{i}") for i in range(rank)]
    spatial[data.draw(st.integers(0, rank - 1), label="empty_axis")] = 0
    padding = data.draw(st.sampled_from(["valid", "same"]), label="padding")
    x = np.zeros((1, *spatial, 2), np.float32)
    for kind, (op, func) in POOL_FUNCS.items():
        expected = be.keras_or_expected_error(
            lambda kind=kind: keras_ref.pool(kind, x, pool_size=1, padding=padding),
            "keras-torch-empty-spatial-axis-raises", keras_ref.eager_path())
        if expected is None:
            continue
        for method in METHODS:
            got, kw = _call(func, x, {"pool_size": 1, "padding": padding}, method)
            assert_bitwise(got, expected, op=op, params=kw, arrays={"x": x})


# ----------------------------------------------------------------------------- kernel paths


def test_detect_tf_kernel_follows_the_environment():
    """``TF_ENABLE_ONEDNN_OPTS`` set explicitly decides the eager path (TF reads it at
    import); unset, the path is TF's default for this CPU (oneDNN on AVX-512 x86)."""
    import os

    flag = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    got = pr.detect_tf_kernel()
    if flag in ("0", "1"):
        assert got == ("onednn" if flag == "1" else "eigen"), (flag, got)
    else:
        assert got in ("onednn", "eigen")
    assert pr.detect_tf_kernel("float32") == got


@pytest.mark.parametrize("func", [pr.max_pool, pr.avg_pool])
def test_tf_kernel_rejects_unknown_value(func):
    with pytest.raises(ValueError, match=r"tf_kernel.*'mkl'"):
        func(np.zeros((1, 2, 1), np.float32), 2, tf_kernel="mkl")


@pytest.mark.parametrize("func", [pr.global_max_pool, pr.global_avg_pool])
def test_global_tf_kernel_rejects_unknown_value(func):
    with pytest.raises(ValueError, match=r"tf_kernel.*'mkl'"):
        func(np.zeros((1, 2, 1), np.float32), tf_kernel="mkl")
