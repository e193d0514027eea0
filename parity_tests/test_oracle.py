"""The oracle ``pooling_ref.check``: catches wrong implementations, accepts correct ones.

The wrong and correct candidates live in ``parity_tests/wrong_impls.py`` and are written
independently of ``pooling_ref``. Detection is asserted for seeds 0-9 with the default
number of cases (100); ``fail_fast`` / no shrinking only keep those runs cheap, they do not
change which cases are drawn.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling_ref
from parity_tests.wrong_impls import CORRECT, WRONG
from pooling_ref.cases import OPS, generate_cases
from pooling_ref.oracle import Failure, Report, _run, check, shrink

SEEDS = range(10)


@pytest.mark.parametrize("name", sorted(WRONG))
def test_catches_every_wrong_implementation(name):
    func, ops = WRONG[name]
    missed = [(op, seed) for op in ops for seed in SEEDS
              if check(func, op, seed=seed, shrink_failures=False, fail_fast=True).passed]
    assert not missed, f"check did not catch {name} for (op, seed) in {missed}"


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_accepts_every_correct_implementation(name):
    func, ops = CORRECT[name]
    for op in ops:
        for seed in SEEDS:
            report = check(func, op, seed=seed, fail_fast=True)
            assert report.passed, f"{name} rejected:\n{report}"
            assert report.cases == 100


@pytest.mark.parametrize("method", ["loop", "im2col"])
@pytest.mark.parametrize("op", OPS)
def test_pooling_ref_methods_pass(op, method):
    func = {"max_pool": pooling_ref.max_pool, "avg_pool": pooling_ref.avg_pool,
            "zero_pad": pooling_ref.zero_pad, "conv": pooling_ref.conv}[op[:-2]]
    report = check(functools.partial(func, method=method), op, cases=40, seed=1)
    assert report.passed, str(report)


@given(st.data())
def test_correct_candidates_pass_any_seed_and_dtype(data):
    name = data.draw(st.sampled_from(sorted(CORRECT)), label="candidate")
    func, ops = CORRECT[name]
    op = data.draw(st.sampled_from(ops), label="op")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    dtype = data.draw(st.sampled_from(["float16", "float32", "float64"]), label="dtype")
    report = check(func, op, cases=25, seed=seed, dtype=dtype, fail_fast=True)
    assert report.passed, f"{name} rejected:\n{report}"


# ----------------------------------------------------------------------------- the report


def _wrong_report(name="max_zero_padding", op="max_pool2d", **kw) -> Report:
    func, _ = WRONG[name]
    return check(func, op, **kw)


def test_report_fields_of_a_mismatch():
    report = _wrong_report()
    assert report.passed is False
    assert report.cases == 100
    assert 1 <= len(report.failures) <= 3 and report.failed_cases >= len(report.failures)
    f = report.failures[0]
    assert isinstance(f, Failure)
    assert f.op == "max_pool2d" and f.dtype == "float32" and f.exception is None
    assert set(f.shapes) == {"x"} and len(f.shapes["x"]) == 4
    assert "pool_size" in f.params
    assert f.max_abs > 0 and f.max_ulp > 0
    # The first mismatching index is where the wrong result first differs (C order) from
    # an independent correct implementation, and the difference there is max_abs or less.
    ns: dict = {}
    exec(f.reproducer, ns)
    got = np.asarray(ns["result"])
    right = CORRECT["max_sliding_window"][0](ns["x"], **f.params)
    assert got.shape == right.shape
    differs = got.ravel() != right.ravel()
    first = np.unravel_index(int(np.argmax(differs)), right.shape)
    assert f.first_index == tuple(int(i) for i in first)
    assert abs(float(got[f.first_index]) - float(right[f.first_index])) <= f.max_abs
    text = str(report)
    assert "FAILED" in text and "max_pool2d" in text and "max_zero_padding" in text
    assert "reproduce with" in text and "result = candidate(" in text


def test_report_fields_of_a_pass():
    report = check(CORRECT["pad_numpy_pad"][0], "zero_pad3d", cases=7, seed=3)
    assert report.passed and report.cases == 7 and report.failures == []
    assert str(report).endswith("7 cases, all passed (max ULP 0)")
    assert report.max_ulp == 0 and report.worst_ratio == 0


def test_pass_records_the_worst_difference():
    # float64 accumulation differs from the float32 row-major sum by a few ULP, within
    # the bound: reported, not failed
    report = check(CORRECT["conv_float64"][0], "conv3d", seed=0)
    assert report.passed and 0 < report.worst_ratio < 1 and report.max_ulp > 0


def test_bound_ratio_reported_for_conv():
    report = _wrong_report("conv_missing_bias", "conv2d")
    f = report.failures[0]
    assert f.comparison.mode == "bound"
    # Missing bias errs by |bias|, orders of magnitude above a float32 summation bound.
    assert f.bound_ratio > 1000


@pytest.mark.parametrize("name,op", [("avg_counts_pads", "avg_pool1d"),
                                     ("conv_flipped_kernel", "conv3d"),
                                     ("pad_swapped_pair", "zero_pad2d")])
def test_reproducer_reproduces(name, op):
    report = _wrong_report(name, op, seed=4)
    for f in report.failures:
        ns: dict = {}
        exec(f.reproducer, ns)
        c = ns["comparison"]
        assert not c.ok
        assert c.first_index == f.first_index and c.max_abs == f.max_abs


def test_reproducer_of_a_raising_candidate_raises():
    report = check(_raises, "conv1d", cases=5)
    f = report.failures[0]
    with pytest.raises(RuntimeError, match="boom"):
        exec(f.reproducer, {})


# ----------------------------------------------------------------------------- shrinking


def test_shrinker_returns_a_smaller_failing_case():
    report = _wrong_report("conv_ignores_dilation", "conv2d", seed=2)
    f = report.failures[0]
    size = lambda shapes: sum(math.prod(s) for s in shapes.values())  # noqa: E731
    assert f.shrink_steps > 0
    assert size(f.shapes) < size(f.original_shapes)
    assert f.params.get("dilation_rate", 1) != 1   # the bug needs dilation to show


def test_shrink_directly():
    func = WRONG["max_zero_padding"][0]
    big = [c for c in generate_cases("max_pool3d", 100, seed=0)
           if not _run(func, c).comparison.ok]
    assert big, "expected failing cases"
    case = max(big, key=lambda c: c.x.size)
    fails = lambda c: not _run(func, c).comparison.ok  # noqa: E731
    small, steps = shrink(case, fails)
    assert steps > 0 and small.size_key() < case.size_key() and fails(small)
    # The bug shows only with "same" padding and a window with only negative real cells.
    assert small.params.get("padding") == "same"
    assert (small.x < 0).any()


# ----------------------------------------------------------------------------- robustness


def _raises(x, **params):
    raise RuntimeError("boom")


def test_raising_candidate_is_a_failure_not_a_crash():
    report = check(_raises, "max_pool1d", cases=10)
    assert not report.passed and report.failed_cases == 10
    f = report.failures[0]
    assert f.exception == "RuntimeError: boom" and f.comparison is None
    assert "candidate raised RuntimeError: boom" in str(report)
    assert "boom" in f.traceback


def test_mutating_candidate_fails():
    def mutates(x, **params):
        out = pooling_ref.zero_pad(x, **params)
        x[...] = 0
        return out

    report = check(mutates, "zero_pad1d", cases=10)
    assert not report.passed
    assert "modified its input 'x'" in report.failures[0].detail


def test_wrong_dtype_fails():
    report = check(lambda x, **p: pooling_ref.avg_pool(x, **p).astype(np.float64),
                   "avg_pool2d", cases=5)
    assert not report.passed and "dtype float64 != expected dtype float32" in str(report)


def test_non_array_result_fails():
    report = check(lambda x, **p: None, "max_pool1d", cases=3)
    assert not report.passed and report.failed_cases == 3


def test_unknown_op_lists_valid_ops():
    with pytest.raises(ValueError, match="max_pool1d") as e:
        check(pooling_ref.max_pool, "max_pool4d")
    for op in OPS:
        assert op in str(e.value)
    assert "'max_pool4d'" in str(e.value)


@pytest.mark.parametrize("kw,exc,word", [
    ({"cases": 0}, ValueError, "cases"), ({"cases": "3"}, TypeError, "cases"),
    ({"cases": True}, TypeError, "cases"), ({"seed": -1}, ValueError, "seed"),
    ({"seed": 1.5}, TypeError, "seed"), ({"dtype": "int8"}, ValueError, "dtype"),
    ({"dtype": "float128x"}, ValueError, "dtype"),
])
def test_bad_arguments(kw, exc, word):
    with pytest.raises(exc, match=word):
        check(pooling_ref.max_pool, "max_pool1d", **kw)


def test_candidate_must_be_callable():
    with pytest.raises(TypeError, match="candidate"):
        check("pooling_ref.max_pool", "max_pool1d")


# ----------------------------------------------------------------------------- the cases


def test_cases_are_reproducible():
    a = generate_cases("conv2d", 30, seed=7)
    b = generate_cases("conv2d", 30, seed=7)
    c = generate_cases("conv2d", 30, seed=8)
    same = lambda p, q: (p.x.tobytes() == q.x.tobytes() and p.shapes == q.shapes  # noqa: E731
                         and p.scalar_params == q.scalar_params)
    assert all(same(p, q) for p, q in zip(a, b))
    assert not all(same(p, q) for p, q in zip(a, c))


def _total_same_pad(n, k, s, d=1):
    out = -(-n // s)
    return max((out - 1) * s + (k - 1) * d + 1 - n, 0)


@pytest.mark.parametrize("seed", [0, 5])
@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool1d", "conv2d", "conv3d"])
def test_cases_reach_the_corners(op, seed):
    cases = generate_cases(op, 100, seed=seed)
    seen = set()
    for c in cases:
        p, rank = c.params, c.rank
        cf = c.channels_first
        spatial = c.x.shape[2:] if cf else c.x.shape[1:-1]
        n, ch = c.x.shape[0], c.x.shape[1] if cf else c.x.shape[-1]
        if "kernel" in p:
            window = p["kernel"].shape[:rank]
        else:
            window = np.broadcast_to(p["pool_size"], (rank,))
        if "strides" not in p:
            seen.add("strides omitted")
        strides = np.broadcast_to(p.get("strides", 1 if "kernel" in p else window), (rank,))
        dil = np.broadcast_to(p.get("dilation_rate", 1), (rank,))
        seen.add(f"padding {p.get('padding', 'omitted')}")
        seen.add(f"format {p.get('data_format', 'omitted')}")
        if p.get("padding") == "same":
            totals = [_total_same_pad(*a) for a in zip(spatial, window, strides, dil)]
            seen.update("odd total" if t % 2 else "even total" for t in totals if t)
            if any(k > m for k, m in zip(window, spatial)):
                seen.add("window larger than input")
        if any(k == m for k, m in zip(window, spatial)):
            seen.add("window equal to input")
        if any(s > k for s, k in zip(strides, window)):
            seen.add("stride larger than window")
        if len(set(window)) > 1:
            seen.add("non-square window")
        if n > 1 and ch > 1 and n != ch:
            seen.add("distinct batch and channels")
        if 1 in spatial:
            seen.add("size-1 axis")
        if (c.x < 0).all():
            seen.add("all negative")
        for k in ("pool_size", "strides", "dilation_rate"):
            if k in p:
                seen.add(f"{k} {'tuple' if isinstance(p[k], tuple) else 'int'}")
        if "kernel" in p:
            groups = p.get("groups", 1)
            seen.add("bias" if "bias" in p else "no bias")
            if groups > 1:
                seen.add("depthwise" if p["kernel"].shape[-2] == 1 else "grouped")
            if (dil > 1).any():
                seen.add("dilation")
            if p["kernel"].shape[-1] != ch:
                seen.add("filters != channels")
    expected = {"strides omitted", "padding same", "padding valid", "padding omitted",
                "format channels_first", "format channels_last", "format omitted",
                "odd total", "even total", "window equal to input",
                "stride larger than window",
                "distinct batch and channels", "size-1 axis", "all negative"}
    if not op.endswith("1d"):
        expected.add("non-square window")
    if op.startswith("conv"):
        expected |= {"bias", "no bias", "grouped", "depthwise", "dilation",
                     "filters != channels", "dilation_rate int", "dilation_rate tuple",
                     "window larger than input"}
    else:
        expected |= {"pool_size int", "pool_size tuple", "strides int", "strides tuple",
                     "window larger than input"}
    assert expected <= seen, f"never drawn: {sorted(expected - seen)}"


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_zero_pad_cases_reach_asymmetric_pairs(rank):
    forms = set()
    for c in generate_cases(f"zero_pad{rank}d", 100, seed=0):
        pad = c.params.get("padding", "omitted")
        if pad == "omitted":
            forms.add("omitted")
        elif isinstance(pad, int):
            forms.add("int")
        elif all(isinstance(v, int) for v in pad):
            forms.add("ints")
        elif any(b != a for b, a in pad):
            forms.add("asymmetric pairs")
    assert forms == {"omitted", "int", "ints", "asymmetric pairs"}
