"""Parity of ``pooling_ref.conv`` (every method) with Keras ``Conv1D/2D/3D``.

Reference: ``keras_ref.conv`` — the Keras layer compiled with XLA (on the jax / torch Keras
backends: the layer called eagerly on that backend), channels_first inputs
transposed to channels_last (the default eager oneDNN path returns garbage for some strides
larger than the kernel, and native channels_first adds the bias along the wrong axis; both
are shown in ``test_known_defects.py``).

Tolerance: the documented summation error bound ``pooling_ref.tolerance.conv_bound``
(``|ours - tf| <= C*(K+1)*eps*(|x|*|w| + |b|) + ...``), elementwise — never a blanket atol.
A wrong index, pad or group errs by O(|x|*|w|), i.e. a bound ratio of order 1/(K*eps).

Measured worst bound ratios: set ``POOLING_REF_BOUND_LOG=/some/file`` and every comparison
appends one JSON line ``{"test", "rank", "dtype", "method", "ratio"}`` to that file (one
small ``O_APPEND`` write per line, so xdist workers share no state); ``docs/tolerance.md``
records the numbers of a run.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling_ref
from parity_tests import _registry as reg
from parity_tests._assert import assert_bitwise, assert_within_bound
from parity_tests.conv_strategies import ConvCase, conv_cases
from pooling_ref import methods
from pooling_ref.tolerance import conv_bound

keras_ref = pytest.importorskip("pooling_ref.keras_ref")
pytest.importorskip("tensorflow")

pytestmark = [pytest.mark.parity, pytest.mark.any_backend]

METHODS = [*methods.names("conv"), None]          # None: the default (method not passed)
LOG_ENV = "POOLING_REF_BOUND_LOG"


def _record(test: str, case: ConvCase, method: str | None, ratio: float) -> None:
    path = os.environ.get(LOG_ENV)
    if not path:
        return
    line = json.dumps({"test": test, "rank": case.rank, "dtype": case.x.dtype.name,
                       "method": method or "auto", "ratio": ratio}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def _ours(case: ConvCase, method: str | None) -> np.ndarray:
    kw = dict(case.params) if method is None else dict(case.params, method=method)
    return pooling_ref.conv(case.x, case.kernel, case.bias, **kw)


def _check_against(case: ConvCase, expected: np.ndarray, test: str, what: str) -> None:
    __tracebackhide__ = True
    bound = conv_bound(case.x, case.kernel, case.bias, **case.params)
    before = {k: None if v is None else v.copy() for k, v in case.arrays.items()}
    for method in METHODS:
        got = _ours(case, method)
        ratio = assert_within_bound(
            got, expected, bound, op="conv", params=dict(case.params, method=method or "auto"),
            arrays=case.arrays, what=what)
        _record(test, case, method, ratio)
    for name, arr in case.arrays.items():
        if arr is not None:
            assert_bitwise(arr, before[name], op="conv", params=case.params,
                           arrays=case.arrays, what=f"mutated its input {name!r}")


@pytest.mark.parametrize("rank", [1, 2, 3])
@given(data=st.data())
def test_conv_matches_keras_float32(rank, data):
    case = data.draw(conv_cases(rank=rank, dtype=np.float32), label="case")
    expected = keras_ref.conv(case.x, case.kernel, case.bias, **case.params)
    assert expected.dtype == np.float32
    _check_against(case, expected, "keras_float32",
                   "differs from Keras (XLA) beyond the error bound")


@pytest.mark.parametrize("rank", [1, 2, 3])
@given(data=st.data())
def test_conv_float64_computed_in_float64_matches_keras_float64(rank, data):
    """float64 in -> float64 out, within the *float64* bound of a float64 Keras (XLA) run.

    A computation that went through float32 anywhere misses the float64 bound by a factor
    of ~1e9, so this also shows the arithmetic is float64.
    """
    case = data.draw(conv_cases(rank=rank, dtype=np.float64), label="case")
    expected = keras_ref.conv(case.x, case.kernel, case.bias, **case.params)
    path = keras_ref.eager_path()
    reg.expect("keras-jax-float64-as-float32", expected.dtype == np.float32, path,
               f"Keras float64 run returned {expected.dtype}")
    if reg.applies("keras-jax-float64-as-float32", path):
        return      # float32 parity: test_conv_matches_keras_float32
    assert expected.dtype == np.float64, f"Keras float64 run returned {expected.dtype}"
    for method in METHODS:
        got = _ours(case, method)
        assert got.dtype == np.float64, f"conv(method={method}) returned {got.dtype}"
    _check_against(case, expected, "keras_float64",
                   "differs from Keras float64 (XLA) beyond the float64 error bound")


@pytest.mark.parametrize("rank", [1, 2, 3])
@given(data=st.data())
def test_methods_agree_within_bound(rank, data):
    """loop, im2col, fast and the default agree with each other (no TF involved)."""
    dtype = data.draw(st.sampled_from([np.float32, np.float64]), label="dtype")
    case = data.draw(conv_cases(rank=rank, dtype=dtype), label="case")
    expected = _ours(case, "loop")
    assert expected.dtype == dtype
    _check_against(case, expected, "methods_agree",
                   "differs from method='loop' beyond the error bound")


@pytest.mark.parametrize("method", METHODS)
def test_float64_accumulation_hand_case(method):
    """1 + 2**-40 - 1 is exactly 2**-40 in float64 and 0 in float32: the sum is float64."""
    x = np.array([1.0, 2.0**-40, -1.0]).reshape(1, 3, 1)
    kernel = np.ones((3, 1, 1))
    kw = {} if method is None else {"method": method}
    got = pooling_ref.conv(x, kernel, **kw)
    assert got.dtype == np.float64
    assert got.shape == (1, 1, 1)
    assert got[0, 0, 0] == 2.0**-40, f"conv(method={method}) lost float64 precision: {got}"
