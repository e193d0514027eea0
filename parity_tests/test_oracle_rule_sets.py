"""``check``'s rule sets (``tf_kernel="any"``, the default), registry acceptance and hints.

No TensorFlow needed: the rule sets are ``pooling_ref``'s own references with each
``tf_kernel``, so a candidate built from one of them is exactly one TF path's behaviour.
(That TensorFlow's own layers, ops and tapes pass is ``test_oracle_accepts_tf.py``.)
"""

from __future__ import annotations

import functools
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

import pooling_ref
from parity_tests.wrong_impls import CATALOGUE
from pooling_ref import check, rules
from pooling_ref.cases import generate_cases
from pooling_ref.explain import RULE_WORDS
from pooling_ref.judge import RULE_SETS, judge
from pooling_ref.keras_ref import known_differences
from pooling_ref.ops import OPS, spec
from pooling_ref.oracle import compare_result

TINY = float(np.finfo(np.float32).smallest_subnormal)

#: Op family -> the pooling_ref function whose ``tf_kernel`` selects a path's rules.
_PATH_FUNCS = {"max_pool": pooling_ref.max_pool, "avg_pool": pooling_ref.avg_pool,
               "global_max_pool": pooling_ref.global_max_pool,
               "global_avg_pool": pooling_ref.global_avg_pool,
               "max_pool_grad": pooling_ref.max_pool_grad,
               "avg_pool_grad": pooling_ref.avg_pool_grad}


@pytest.mark.parametrize("op", OPS)
def test_pooling_refs_own_functions_pass_their_oracle_with_default_arguments(op):
    """``check(pooling_ref.<function>, op)``: every public function, called with its own
    defaults (pooling: ``tf_kernel="onednn"``), passes the default check. Warmed up first
    as README advises (a first call that compiles a Numba kernel can exceed the default
    30 s call limit on a loaded machine)."""
    for case in generate_cases(op, 3):
        spec(op).run_reference(case.arrays, case.scalar_params)
    report = check(spec(op).reference, op)
    assert report.passed, str(report)
    assert report.matched, str(report)
    if spec(op).tf_kernel and op.startswith(("max_pool", "avg_pool")) and "grad" not in op:
        assert "onednn" in report.matched, str(report)


@pytest.mark.parametrize("path", rules.PATHS)
@pytest.mark.parametrize("family", sorted(_PATH_FUNCS))
def test_each_tf_paths_rules_are_accepted_by_default_and_named(family, path):
    """A candidate that follows exactly one path's rules passes the default check, and the
    report says it matched that path on every case (rank 3 for pooling: 3D rules differ)."""
    rank = 1 if family.startswith("global") else 3 if family in ("max_pool", "avg_pool") \
        else 2
    op = f"{family.removesuffix('_grad')}{rank}d" + ("_grad" if "grad" in family else "")
    report = check(functools.partial(_PATH_FUNCS[family], tf_kernel=path), op)
    assert report.passed, str(report)
    assert path in report.matched, str(report)
    assert report.matched_cases[path] == report.cases


def test_strict_rule_set_rejects_another_paths_rules_and_names_the_option():
    """``tf_kernel="onednn"`` holds a kernel to oneDNN alone: Eigen's flushing fails, and
    the hint names ``tf_kernel='eigen'`` with the rule from the table, in words."""
    eigen = functools.partial(pooling_ref.max_pool, tf_kernel="eigen")
    report = check(eigen, "max_pool2d", tf_kernel="onednn")
    assert not report.passed
    why = report.failures[0].explanation
    assert why.startswith("your kernel follows tf_kernel='eigen' (subnormal inputs read as "
                          "zeros and subnormal results written as zeros): pass "
                          "tf_kernel='eigen'"), why
    assert "tf_kernel='onednn'" in report.failures[0].reproducer


def _mixed_max_pool(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
    """IEEE subnormals (never flushed: not Eigen, not XLA) but a window with no number gives
    -inf (XLA's rule, which IEEE, oneDNN and Eigen 1D/2D don't follow): no single TF path."""
    ieee = pooling_ref.max_pool(x, pool_size, strides, padding, data_format, tf_kernel=None)
    xla = pooling_ref.max_pool(x, pool_size, strides, padding, data_format, tf_kernel="xla")
    return np.where(np.isneginf(xla) & ~np.isneginf(ieee), xla, ieee).astype(ieee.dtype)


def test_a_run_must_be_explained_by_one_rule_set(tmp_path):
    """Each case of the mixed kernel matches some rule set, but no one set matches them all:
    the default check fails, names both, and the reproducer fails on its own (it holds the
    case to the set most cases matched)."""
    report = check(_mixed_max_pool, "max_pool1d")
    assert not report.passed, str(report)
    f = report.failures[0]
    assert "no single TensorFlow path gives both" in f.explanation, str(report)
    assert "tf_kernel='xla'" in f.explanation and "tf_kernel=None (IEEE)" in f.explanation
    script = tmp_path / "repro.py"
    line = "from parity_tests.test_oracle_rule_sets import _mixed_max_pool as candidate"
    assert line in f.reproducer
    root = str(Path(__file__).parents[1])
    script.write_text(f.reproducer.replace(line, f"import sys; sys.path.insert(0, {root!r})\n"
                                                 + line))
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert p.returncode == 1 and "AssertionError" in p.stderr, p.stdout + p.stderr


def test_report_counts_the_cases_each_rule_set_matched():
    report = check(functools.partial(pooling_ref.avg_pool, tf_kernel="eigen"), "avg_pool1d")
    assert report.passed and report.matched_cases["eigen"] == report.cases == 100
    assert set(report.matched) <= set(RULE_SETS) and "eigen" in report.matched
    # the IEEE specification differs on the subnormal cases, so it matched fewer
    assert report.matched_cases.get(None, 0) < report.cases
    assert None not in report.matched


def test_judge_and_compare_result_default_to_any_rule_set():
    x = np.float32([TINY, 3 * TINY]).reshape(1, 2, 1)
    flushed = np.float32([[[0.0]]])
    assert judge("max_pool1d", flushed, {"x": x}, {"pool_size": 2}).matched == (
        "eigen", "xla")
    assert compare_result("max_pool1d", flushed, x, pool_size=2).ok
    assert not compare_result("max_pool1d", flushed, x, pool_size=2, tf_kernel=None).ok
    assert not compare_result("max_pool1d", flushed, x, pool_size=2, tf_kernel="onednn").ok
    with pytest.raises(ValueError, match="tf_kernel must be 'any', None"):
        compare_result("max_pool1d", flushed, x, pool_size=2, tf_kernel="mkl")


def test_check_rejects_a_bad_tf_kernel_option():
    with pytest.raises(ValueError, match="got 'ANY'"):
        check(pooling_ref.max_pool, "max_pool1d", tf_kernel="ANY")
    with pytest.raises(TypeError, match="tf_kernel must be a str or None"):
        check(pooling_ref.max_pool, "max_pool1d", tf_kernel=3)


def test_every_rule_table_value_has_words():
    """Hints are built from RULE_WORDS: every value the rule tables use must have words."""
    rows = [r for table in rules.RULES.values() for r in table.values()]
    rows += [r for table in rules.GRAD_RULES.values() for r in table.values()]
    rows += [rules.Rules(flush="none"), rules.Rules(), rules.GradRules()]
    missing = {(f.name, getattr(r, f.name)) for r in rows for f in fields(r)} - set(RULE_WORDS)
    assert not missing


# ----------------------------------------------------------------------------- registry


def _keras_cf_bias(x, kernel, bias=None, **params):
    """Keras' channels_first bias defect written out from its registry entry: where the
    output's last spatial length equals ``filters``, the bias runs along that axis."""
    out = pooling_ref.conv(x, kernel, None, **params)
    if bias is None:
        return out
    if params.get("data_format") == "channels_first" and out.shape[-1] == kernel.shape[-1]:
        return (out + bias).astype(out.dtype)
    return pooling_ref.conv(x, kernel, bias, **params)


def test_a_registered_tf_difference_is_accepted_and_named():
    report = check(_keras_cf_bias, "conv2d")
    assert report.passed, str(report)
    assert report.known.get("keras-cf-conv-bias-axis", 0) > 0, str(report)
    assert "keras-cf-conv-bias-axis" in str(report)
    # the entry's paths are what the run matched; IEEE holds it to the spec
    paths = known_differences()["keras-cf-conv-bias-axis"]["paths"]
    assert set(report.matched) == set(paths), (paths, str(report))
    assert not check(_keras_cf_bias, "conv2d", tf_kernel=None).passed


# ----------------------------------------------------------------------------- hints


@pytest.mark.parametrize("name,op", [("max_odd_cell_before", "max_pool2d"),
                                     ("avg_odd_cell_before", "avg_pool1d"),
                                     ("conv_odd_cell_before", "conv2d")])
def test_swapped_pad_split_is_named(name, op):
    report = check(CATALOGUE[name].func, op)
    assert not report.passed
    assert any("puts the odd 'same' padding cell before" in f.explanation
               for f in report.failures), str(report)


@pytest.mark.parametrize("op", ["avg_pool1d", "avg_pool2d", "avg_pool3d"])
def test_divide_by_the_full_window_is_named(op):
    report = check(CATALOGUE["avg_counts_pads"].func, op)
    assert not report.passed
    assert any("divides by the full window" in f.explanation and "count_include_pad" in
               f.explanation for f in report.failures), str(report)
