"""Dtypes and memory layouts: results keep the input dtype, match Keras, and inputs are
never modified (non-contiguous, Fortran-ordered, read-only and empty inputs, every op)."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling_ref as pr
from parity_tests._assert import assert_bitwise, assert_within_bound
from pooling_ref import keras_ref
from pooling_ref.keras_ref import detect_tf_kernel
from pooling_ref.tolerance import conv_bound

pytestmark = pytest.mark.parity

keras_ref.require_tf()

# int8 is left out: Keras 3 reads dtype="int8" as a quantization policy and refuses it.
INTS = [np.int16, np.int32, np.int64, np.uint8, np.uint16]
FLOATS = [np.float16, np.float32, np.float64, ml_dtypes.bfloat16]


@pytest.mark.parametrize("dtype", INTS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("rank", [1, 2])        # TF has no integer MaxPool3D CPU kernel
@given(data=st.data())
def test_integer_max_pool_and_zero_pad_bitwise(dtype, rank, data):
    info = np.iinfo(dtype)
    shape = (2, *(data.draw(st.integers(2, 5), label=f"n{i}") for i in range(rank)), 2)
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    x = np.random.default_rng(seed).integers(info.min, info.max, shape, dtype=dtype,
                                             endpoint=True)
    k = data.draw(st.integers(1, 2), label="pool_size")
    padding = data.draw(st.sampled_from(["valid", "same"]), label="padding")
    assert_bitwise(pr.max_pool(x, k, padding=padding),
                   keras_ref.pool("Max", x, k, padding=padding), op="max_pool",
                   params={"pool_size": k, "padding": padding}, arrays={"x": x})
    assert_bitwise(pr.zero_pad(x, 1), keras_ref.zero_pad(x, 1), op="zero_pad",
                   params={"padding": 1}, arrays={"x": x})


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@given(data=st.data())
def test_float_conv_keeps_dtype_within_bound(dtype, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    x = rng.standard_normal((2, 6, 6, 3)).astype(dtype)
    kernel = rng.standard_normal((3, 3, 3, 4)).astype(dtype)
    padding = data.draw(st.sampled_from(["valid", "same"]), label="padding")
    got = pr.conv(x, kernel, padding=padding)
    assert got.dtype == np.dtype(dtype)
    assert_within_bound(got, keras_ref.conv(x, kernel, padding=padding),
                        conv_bound(x, kernel, padding=padding), op="conv",
                        params={"padding": padding}, arrays={"x": x, "kernel": kernel})


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("kind", ["Max", "Average"])
def test_float_pooling_dtype_bitwise(kind, dtype):
    """float16/64 averages sum in the input dtype; bfloat16 in float32 on oneDNN, in
    bfloat16 on Eigen (``pooling_ref.rules``) — bitwise with TF on the running path."""
    x = (np.random.default_rng(3).standard_normal((2, 7, 7, 3)) * 100).astype(dtype)
    f = pr.max_pool if kind == "Max" else pr.avg_pool
    path = detect_tf_kernel(dtype)
    assert_bitwise(f(x, 3, 1, "same", tf_kernel=path), keras_ref.pool(kind, x, 3, 1, "same"),
                   op=f.__name__, params={"pool_size": 3, "strides": 1, "padding": "same",
                                          "tf_kernel": path},
                   arrays={"x": x})


def _ops(x):
    k = np.ones((2, 2, x.shape[-1], 2), x.dtype)
    return {
        "max_pool": lambda a, m: pr.max_pool(a, 2, 1, "same", method=m),
        "avg_pool": lambda a, m: pr.avg_pool(a, 2, 1, "same", method=m),
        "zero_pad": lambda a, m: pr.zero_pad(a, 1, method=m),
        "conv": lambda a, m: pr.conv(a, k, padding="same", method=m),
        "global_max_pool": lambda a, m: pr.global_max_pool(a),
        "global_avg_pool": lambda a, m: pr.global_avg_pool(a),
        "im2col": lambda a, m: pr.im2col(a, 2),
    }


LAYOUTS = {
    "strided": lambda a: np.repeat(a, 2, axis=2)[:, :, ::2],
    "fortran": np.asfortranarray,
    "transposed": lambda a: np.ascontiguousarray(np.swapaxes(a, 1, 2)).swapaxes(1, 2),
    "readonly": lambda a: np.lib.stride_tricks.as_strided(a, writeable=False),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("op", sorted(_ops(np.zeros((1, 1, 1, 1))).keys()))
@pytest.mark.parametrize("method", ["loop", "im2col", "fast"])
def test_layouts_give_same_bits_and_are_not_modified(op, layout, method):
    base = np.random.default_rng(0).standard_normal((2, 5, 4, 3)).astype(np.float32)
    base[0, 0, 0, 0] = -0.0
    a = LAYOUTS[layout](base.copy())
    snapshot = a.copy()
    f = _ops(base)[op]
    assert_bitwise(f(a, method), f(base, method), op=op, params={"layout": layout,
                   "method": method}, arrays={"x": base}, what="depends on the memory layout")
    assert_bitwise(a, snapshot, op=op, params={"layout": layout}, arrays={"x": base},
                   what="modified its input")


@pytest.mark.parametrize("op", ["max_pool", "avg_pool", "zero_pad", "conv", "global_avg_pool",
                                "im2col"])
def test_empty_batch(op):
    x = np.zeros((0, 4, 4, 3), np.float32)
    got = _ops(x)[op](x, "auto")
    assert got.size == 0 and got.dtype == x.dtype
