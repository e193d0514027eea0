"""Hand-derived pins of the reference core that the mutation session found unpinned
(issue 23, ``nox -s mutation``): each test names what it decides; expected values are
worked out by hand in its docstring.
"""

from __future__ import annotations

import numpy as np
import pytest

import pooling_ref
from pooling_ref import _compiled, _fast, methods

CONV_METHODS = ["loop", "im2col", "fast"]


# ----------------------------------------------------------------------------- conv


@pytest.mark.parametrize("method", CONV_METHODS)
def test_conv_float64_accumulates_in_float64(method):
    """``[1, 2^-30]`` times a kernel of ones: ``1 + 2^-30`` in float64 (float32 would
    round the sum to 1)."""
    x = np.array([1.0, 2.0**-30]).reshape(1, 2, 1)
    got = pooling_ref.conv(x, np.ones((2, 1, 1)), method=method)
    assert got.dtype == np.float64 and got.tolist() == [[[1.0 + 2.0**-30]]]


@pytest.mark.parametrize("method", CONV_METHODS)
def test_conv_float16_accumulates_in_float32(method):
    """``[2048, 1, 1]`` times ones (TF accumulates float16 in float32): ``2050``, exact in
    float16; summed in float16, ``2048 + 1`` rounds to 2048 (a tie, to even) twice."""
    x = np.float16([2048, 1, 1]).reshape(1, 3, 1)
    got = pooling_ref.conv(x, np.ones((3, 1, 1), np.float16), method=method)
    assert got.dtype == np.float16 and got.tolist() == [[[2050.0]]]


# ----------------------------------------------------------------------------- blocks


def _recorded_blocks(monkeypatch) -> list:
    calls = []
    real = _fast.blocks

    def blocks(n, rows, row_bytes, target):
        calls.append((n, rows, row_bytes, target))
        return real(n, rows, row_bytes, target)

    monkeypatch.setattr(_fast, "blocks", blocks)
    return calls


def test_pooling_blocks_count_the_input_bytes_of_an_output_row(monkeypatch):
    """x (2, 8, 5, 1) float32, pool 2: one output row reads ``stride 2 x 5 columns x 1
    channel x 4 bytes = 40`` input bytes; 4 output rows per item."""
    calls = _recorded_blocks(monkeypatch)
    pooling_ref.max_pool(np.zeros((2, 8, 5, 1), np.float32), 2, method="fast")
    assert calls == [(2, 4, 40, _fast.POOL_BLOCK_BYTES)]


def test_conv_blocks_count_the_im2col_bytes_of_an_output_row(monkeypatch):
    """x (1, 6, 6, 8) float32, kernel 3x3x8x2, valid: output 4x4; one output row gathers
    ``4 positions x (9 cells x 8 channels) x 4 bytes = 1152`` bytes of im2col columns."""
    calls = _recorded_blocks(monkeypatch)
    pooling_ref.conv(np.zeros((1, 6, 6, 8), np.float32), np.zeros((3, 3, 8, 2), np.float32),
                     method="fast")
    assert calls == [(1, 4, 1152, _fast.CONV_BLOCK_BYTES)]


# ----------------------------------------------------------------------------- global max


@pytest.mark.parametrize("values, negative", [([-0.0, 0.0, -1.0], False),
                                              ([0.0, -0.0, -1.0], True),
                                              ([-1.0, -0.0, 0.0, -0.0, -2.0], True)])
def test_global_max_zero_takes_the_sign_of_the_last_zero(values, negative):
    """Among equal maxima the last in row-major order wins (tf.reduce_max, measured): the
    sign of a zero maximum is the sign of the last zero, wherever the last cell is."""
    x = np.array(values, np.float32).reshape(1, -1, 1)
    got = pooling_ref.global_max_pool(x, tf_kernel=None, method="fast")
    assert got.tolist() == [[0.0]] and bool(np.signbit(got[0, 0])) == negative


@pytest.mark.parametrize("shape, out_shape", [((0, 0, 3), (0, 3)), ((2, 0, 0), (2, 0))])
def test_global_max_of_an_empty_batch_is_empty_not_an_error(shape, out_shape):
    """No output element at all (batch 0 or no channel): an empty result, although a
    spatial axis is empty too (only a non-empty result needs a maximum of nothing)."""
    got = pooling_ref.global_max_pool(np.zeros(shape, np.float32))
    assert got.shape == out_shape and got.dtype == np.float32


@pytest.mark.parametrize("op, expected", [(pooling_ref.global_max_pool, [[3.0, 6.0]]),
                                          (pooling_ref.global_avg_pool, [[2.0, 5.0]])])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_channels_first_reduces_the_trailing_axes(op, expected, keepdims):
    """channels_first ``(1, 2, 3)``: channel 0 is ``[1, 2, 3]``, channel 1 ``[4, 5, 6]``;
    the maximum / mean over the spatial axis (the last) is ``[3, 6]`` / ``[2, 5]``."""
    x = np.arange(1.0, 7.0).reshape(1, 2, 3)
    got = op(x, data_format="channels_first", keepdims=keepdims)
    want = [[[v] for v in expected[0]]] if keepdims else expected       # kept: (1, 2, 1)
    assert got.tolist() == want


@pytest.mark.parametrize("by_env, why", [(True, "POOLING_REF_DISABLE_NUMBA is set"),
                                         (False, "Numba is not installed")])
def test_compiled_method_without_numba_says_why(monkeypatch, by_env, why):
    """No Numba: method='compiled' is an ImportError that says whether the environment
    switched it off or Numba is missing."""
    monkeypatch.setattr(_compiled, "AVAILABLE", False)
    monkeypatch.setattr(_compiled, "DISABLED_BY_ENV", by_env)
    with pytest.raises(ImportError, match=f"needs Numba \\({why}\\)"):
        methods.resolve("compiled", "max_pool")
