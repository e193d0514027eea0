"""``check`` on LiteRT itself: a one-node LiteRT model (a Keras pooling layer converted to
int8, its fused activation and quantization parameters set to the case's) wrapped as the
candidate of ``"litert.average_pool_2d_int8"`` / ``"litert.max_pool_2d_int8"``, run by
the interpreter under each op resolver (``parity_tests/_litert.py``).

The builtin and reference resolvers are LiteRT's rules, which ``dialects.litert`` states:
check accepts them on every drawn case (ties, extreme zero points, activation bounds,
SAME borders). XNNPACK runs int8 average pooling with the builtin kernel and agrees; its
int8 max pooling agrees except for the activation bounds it rounds half to even after
adding the zero point (registry ``litert-xnnpack-quantized-activation-half-even``): with
activations NONE and RELU (bound 0: no rounding) check accepts it, with the others it
fails naming that rule. Needs ``ai-edge-litert`` (``nox -s litert``); skipped otherwise.
"""

from __future__ import annotations

import numpy as np
import pytest

import pooling_ref
from parity_tests._litert import pool_model, require_litert, run
from pooling_ref.dialects import litert

pytestmark = pytest.mark.litert

require_litert()
#: Sizes kept small: each distinct window / channel count is one Keras conversion.
SMALL = {"channels": [1, 2, 3], "batch": [1, 2]}


def model_candidate(kind: str, resolver: str):
    """A candidate that builds the one-node model of each call and runs it."""

    def candidate(x, filter_size, strides, padding, scale, zero_point, activation="NONE"):
        fs, st, pad = litert.window_params(x, filter_size, strides, padding)
        content = pool_model(kind, fs, st, pad, x.shape[-1], activation=activation.upper(),
                             dtype=x.dtype.name, scale=scale, zero_point=zero_point)
        return run(content, np.ascontiguousarray(x), resolver)

    candidate.__qualname__ = f"litert_{kind}_{resolver}"
    return candidate


@pytest.mark.parametrize("resolver", ["builtin", "reference", "xnnpack"])
def test_check_accepts_litert_int8_average_pooling(resolver):
    report = pooling_ref.check(model_candidate("avg", resolver), "litert.average_pool_2d_int8",
                               cases=40, supports=SMALL, timeout=None)
    assert report.passed and report.cases == 40, str(report)


@pytest.mark.parametrize("resolver", ["builtin", "reference"])
def test_check_accepts_litert_int8_max_pooling(resolver):
    report = pooling_ref.check(model_candidate("max", resolver), "litert.max_pool_2d_int8",
                               cases=40, supports=SMALL, timeout=None)
    assert report.passed and report.cases == 40, str(report)


def test_xnnpack_int8_max_pooling_agrees_where_the_registry_says():
    candidate = model_candidate("max", "xnnpack")
    agree = pooling_ref.check(candidate, "litert.max_pool_2d_int8", cases=40, timeout=None,
                              supports={**SMALL, "activation": ["NONE", "RELU"]})
    assert agree.passed and agree.cases == 40, str(agree)
    differ = pooling_ref.check(candidate, "litert.max_pool_2d_int8", cases=60, timeout=None,
                               supports={**SMALL, "activation": ["RELU6", "RELU_N1_TO_1"]})
    assert not differ.passed, str(differ)
    for failure in differ.failures:
        assert "half to even after adding the zero point (XNNPACK's rule" in (
            failure.explanation), str(failure)
