"""Bitwise parity of ``pooling_ref.zero_pad`` with Keras ``ZeroPadding1D/2D/3D``.

Zero padding only copies values, so every method must reproduce the Keras layer bit for bit
(``-0.0`` stays ``-0.0``, infinities and extreme integers survive, new cells are ``+0``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling_ref
from parity_tests import _registry as reg
from parity_tests._assert import assert_bitwise
from parity_tests.conv_strategies import zero_pad_cases
from pooling_ref import methods

keras_ref = pytest.importorskip("pooling_ref.keras_ref")
pytest.importorskip("tensorflow")

pytestmark = [pytest.mark.parity, pytest.mark.any_backend]

METHODS = [*methods.names("zero_pad"), None]          # None: the default (method not passed)


def _ours(x, params, method):
    kw = dict(params) if method is None else dict(params, method=method)
    return pooling_ref.zero_pad(x, **kw)


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
@given(data=st.data())
def test_zero_pad_matches_keras_bitwise(rank, dtype, data):
    case = data.draw(zero_pad_cases(rank=rank, dtype=dtype), label="case")
    x_before = case.x.copy()
    expected = keras_ref.zero_pad(case.x, **case.params)
    if dtype == "float64":
        reg.expect("keras-jax-float64-as-float32", expected.dtype == np.float32,
                   keras_ref.eager_path(), f"Keras float64 run returned {expected.dtype}")
    x = case.x.astype(expected.dtype)       # float32 on jax: the registry entry above
    for method in METHODS:
        got = _ours(x, case.params, method)
        assert_bitwise(got, expected, op="zero_pad",
                       params=dict(case.params, method=method or "auto"),
                       arrays={"x": x})
    assert_bitwise(case.x, x_before, op="zero_pad", params=case.params,
                   arrays={"x": x_before}, what="mutated its input")


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("method", METHODS)
def test_negative_zero_is_preserved_and_padding_is_positive_zero(data_format, method):
    """Hand case: every input cell is ``-0.0``; Keras and we keep it, pads are ``+0.0``."""
    shape = (1, 2, 2, 1) if data_format == "channels_last" else (1, 1, 2, 2)
    x = np.full(shape, -0.0, dtype=np.float32)
    params = {"padding": ((1, 0), (0, 2)), "data_format": data_format}
    got = _ours(x, params, method)
    expected = keras_ref.zero_pad(x, **params)
    assert_bitwise(got, expected, op="zero_pad", params=params, arrays={"x": x})
    inner = got[0, 1:, :2, 0] if data_format == "channels_last" else got[0, 0, 1:, :2]
    assert np.all(np.signbit(inner)), "zero_pad lost the sign of -0.0 input cells"
    assert np.count_nonzero(np.signbit(got)) == 4, "zero_pad padded with -0.0 instead of +0.0"
