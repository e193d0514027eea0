"""The oracle against the whole catalogue of ``parity_tests/wrong_impls.py``.

Every wrong candidate must be caught by a default ``check`` (plus only the options its
entry names, e.g. ``dtype="int32"``) for seeds 0-9 on every op where its defect can show;
every correct-but-different candidate must pass all requested cases for seeds 0-9. One test
per (candidate, op) so xdist spreads them. ``fail_fast`` / no shrinking only keep the
wrong-candidate runs cheap; they do not change which cases are drawn.

Keras-layer candidates are checked with the running TensorFlow's eager kernel path
(``tf_kernel=pooling_ref.detect_tf_kernel()``): with ``TF_ENABLE_ONEDNN_OPTS=0`` TF runs
its Eigen kernels, whose rules differ (subnormal flushing, ...). The differences the
reference does not model leave an op out of a Keras check on that path (``Entry.skip_on``,
a visible skip with the reason): Eigen's MaxPool3D NaN propagation and zero sign for
channels outside a full SIMD packet (``max_pool3d``; a test below shows it is real) and
Eigen's AvgPool3D with strides larger than the window (``avg_pool3d``).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import pooling_ref
from parity_tests.wrong_impls import (
    CATALOGUE,
    CORRECT,
    Entry,
    keras_max_pool,
    max_channels_last_only,
)
from pooling_ref import check

SEEDS = range(10)
CASES = 100


@functools.lru_cache(maxsize=1)
def _tf_kernel() -> str:
    return pooling_ref.detect_tf_kernel()


def _options(entry: Entry) -> dict:
    kw = dict(entry.check_kwargs)
    if entry.keras:
        kw["tf_kernel"] = _tf_kernel()
    return kw


#: What the oracle merged into this branch gets wrong, as ``"name"`` or ``"name-op"`` ->
#: why. Strict xfails: once the oracle gets it right, the XPASS fails and the line must go.
#: (Empty: TF's global pooling rules are modelled, rules.RULES "global_*".)
ORACLE_GAPS: dict[str, str] = {}


def _pairs(correct: bool) -> list:
    """(name, op) of the catalogue's entries: every wrong one; the correct ones of the
    second edition (the first edition's ``CORRECT`` table is checked by ``test_oracle.py``)."""
    pairs = []
    for name, e in CATALOGUE.items():
        if e.correct is not correct or (correct and name in CORRECT):
            continue
        for op in e.ops:
            gap = ORACLE_GAPS.get(f"{name}-{op}", ORACLE_GAPS.get(name))
            marks = [pytest.mark.xfail(strict=True, reason=gap)] if gap else []
            pairs.append(pytest.param(name, op, id=f"{name}-{op}", marks=marks))
    return pairs


@pytest.mark.parametrize("name,op", _pairs(correct=False))
def test_wrong_candidate_is_caught(name, op):
    entry = CATALOGUE[name]
    missed = [seed for seed in SEEDS
              if check(entry.func, op, seed=seed, fail_fast=True, shrink_failures=False,
                       **_options(entry)).passed]
    assert not missed, f"check missed {name} ({entry.what}) on {op} for seeds {missed}"


@pytest.mark.parametrize("name,op", _pairs(correct=True))
def test_correct_candidate_is_accepted(name, op):
    entry = CATALOGUE[name]
    kw = _options(entry)
    if entry.keras and op not in entry.ops_on(kw["tf_kernel"]):
        pytest.skip(f"{op} on TF's {kw['tf_kernel']} path: {entry.skip_on[kw['tf_kernel']][1]}")
    for seed in SEEDS:
        report = check(entry.func, op, seed=seed, fail_fast=True, **kw)
        assert report.passed, f"{name} ({entry.what}) rejected:\n{report}"
        assert report.cases == CASES


# ----------------------------------------------------------------------------- TF's rules

#: Wrong entries a default check accepts because each is exactly what TensorFlow does on
#: some path (their catalogue ``check_kwargs`` name the criteria under which they are
#: wrong): ``(name, op) -> (rule sets the report must name, registry entry it must name)``.
TF_RULE_ENTRIES = {
    ("max_flush_subnormals", "max_pool1d"): (("eigen",), None),     # Eigen 1D/2D: DAZ
    ("max_flush_subnormals", "max_pool2d"): (("eigen",), None),
    # Eigen 3D decides NaN windows by SIMD lane (eigen-max-pool3d-nan-by-packet): NaN and
    # -inf are values a lane may give
    ("max_np_maximum", "max_pool3d"): (("eigen",), "eigen-max-pool3d-nan-by-packet"),
    ("max_running_from_neg_inf", "max_pool3d"): (("eigen",), None),
    ("conv_keras_bias_axis", "conv1d"): (None, "keras-cf-conv-bias-axis"),
    ("conv_keras_bias_axis", "conv2d"): (None, "keras-cf-conv-bias-axis"),
    ("conv_keras_bias_axis", "conv3d"): (None, "keras-cf-conv-bias-axis"),
}


@pytest.mark.parametrize("name,op", sorted(TF_RULE_ENTRIES), ids="-".join)
def test_default_check_names_the_tf_rule_a_wrong_entry_follows(name, op):
    """The default check passes such an entry and says which TF rule it matched; under the
    entry's own criteria (``test_wrong_candidate_is_caught``) it is still caught."""
    entry = CATALOGUE[name]
    assert "tf_kernel" in entry.check_kwargs and not entry.correct
    matched, known = TF_RULE_ENTRIES[(name, op)]
    report = check(entry.func, op)
    assert report.passed, str(report)
    if matched is not None:
        assert report.matched == matched, str(report)
    if known is not None:
        assert known in report.known and known in str(report), str(report)


# ----------------------------------------------------------------------------- supports=


@pytest.mark.parametrize("name", ["max_channels_last_only", "avg_valid_only"])
def test_partial_kernel_needs_supports(name):
    """Without ``supports`` the partial kernel's NotImplementedError is a failure; with it,
    the report says what was left out (the parameter and the value kept)."""
    entry = CATALOGUE[name]
    op = entry.ops[1]
    (key, (kept,)), = entry.check_kwargs["supports"].items()
    bare = check(entry.func, op, seed=0, fail_fast=True, shrink_failures=False)
    assert not bare.passed and "NotImplementedError" in str(bare)
    report = check(entry.func, op, seed=0, **entry.check_kwargs)
    assert report.passed and report.cases == CASES
    assert report.left_out
    left_out = str(report).split("\n", 1)[1]
    assert "not drawn" in left_out and key in left_out and repr(kept) in left_out, left_out


def test_supports_does_not_hide_a_real_bug():
    """A channels_last-only kernel that is also wrong is still caught under ``supports``."""
    def wrong_channels_last_only(x, **params):
        out = max_channels_last_only(x, **params)
        return np.where(out < 0, 0, out).astype(out.dtype)   # clamps negative maxima

    report = check(wrong_channels_last_only, "max_pool2d", fail_fast=True,
                   shrink_failures=False, supports={"data_format": ["channels_last"]})
    assert not report.passed


# ----------------------------------------------------------------------------- path notes


def test_eigen_max_pool3d_difference_is_real():
    """The reason ``keras_max_pool`` skips ``max_pool3d`` on the Eigen path: a NaN in the
    last cell of a 2x2x2 window, C = 3, comes out NaN there (registry
    eigen-max-pool3d-nan-by-packet), where the oneDNN rule and pooling_ref ignore it. On
    the oneDNN path the Keras layer ignores it, so the skip must not be taken there."""
    x = np.ones((1, 2, 2, 2, 3), np.float32)
    x[0, 1, 1, 1, :] = np.nan
    got = keras_max_pool(x, 2)
    expected = pooling_ref.max_pool(x, 2)
    assert expected.ravel().tolist() == [1.0, 1.0, 1.0]
    if _tf_kernel() == "eigen":
        assert np.isnan(got).any(), "Eigen MaxPool3D no longer propagates NaN: drop the skip"
        assert "max_pool3d" not in CATALOGUE["keras_max_pool"].ops_on("eigen")
    else:
        np.testing.assert_array_equal(got, expected)
