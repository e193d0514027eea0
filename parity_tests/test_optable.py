"""The op table (issue 20): one entry per op, visible everywhere once registered.

A "min pooling" is added here, from this test module alone: its reference is
``-max_pool(-x)`` (a window's minimum is minus the maximum of the negated window, exactly:
negation is exact in every float format, and for integers only ``min`` of the dtype has
no negation, which is why the entry takes floats only), its Keras runner is
``-MaxPooling2D(-x)``. Everything else of the entry is the max pooling family's shared
behaviour, taken from the table. Nothing else in the package is touched: ``check``,
``compare_result``, ``pooling_ref.OPS``, ``cases.OPS``, ``oracle.OPS``, the Hypothesis
strategies and ``pooling-ref verify --ops min_pool2d`` see the op.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest

import pooling_ref
from parity_tests.test_cli import run
from pooling_ref import _verify, cases, keras_ref, ops, oracle
from pooling_ref.geometry import plan_window
from pooling_ref.ops import OpSpec, register, spec

ROOT = Path(__file__).resolve().parent.parent


def min_pool(x, pool_size, strides=None, padding="valid", data_format="channels_last", *,
             method="auto"):
    """The reference: a window's minimum, ``-max_pool(-x)`` (IEEE rules, no TF path)."""
    x = np.asarray(x)
    return -pooling_ref.max_pool(-x, pool_size, strides, padding, data_format,
                                 method=method, tf_kernel=None, nan="propagate")


def keras_min_pooling(x, *, path: str = "eager", **params):
    """Keras has no MinPooling2D: ``-MaxPooling2D(-x)``."""
    return -keras_ref.pool("Max", -np.asarray(x), **params, path=path)


_MAX = spec("max_pool2d")
MIN_POOL2D = OpSpec(
    "min_pool2d", "min_pool", 2, min_pool, "bitwise", "bitwise", _MAX.params,
    _MAX.supportable, method_names=("loop", "im2col", "fast"), draw=_MAX.draw,
    corners=dataclasses.replace(_MAX.corners, subnormal=False), moves=_MAX.moves,
    context=_MAX.context, window_of=_MAX.window_of, keras=keras_min_pooling)


def register_min_pool() -> None:
    """What a user's module does to add the op (the verify test's process runs it)."""
    register(MIN_POOL2D)


@pytest.fixture(autouse=True)
def min_pool_registered(monkeypatch):
    """The op registered for one test (the table restored afterwards, so no other test
    module sees it)."""
    monkeypatch.setattr(ops, "_REGISTRY", dict(ops._REGISTRY))
    register_min_pool()


def test_the_reference_is_a_minimum():
    x = np.float32([[3, 1, 4, 1], [5, 9, 2, 6], [5, 3, 5, 8], [9, 7, 9, 3]]).reshape(1, 4, 4, 1)
    want = np.float32([[1, 1], [3, 3]]).reshape(1, 2, 2, 1)   # hand-derived
    assert min_pool(x, 2).tolist() == want.tolist()
    assert correct_min_pool(x, 2).tolist() == want.tolist()


def test_a_registered_op_is_visible_everywhere():
    """``register`` alone: every reader looks the table up when it runs."""
    for table in (pooling_ref.OPS, ops.OPS, cases.OPS, oracle.OPS, ops.all_ops()):
        assert "min_pool2d" in table
    assert "min_pool2d" in _verify.verified_ops()
    assert _verify.expand_ops(["min_pool"]) == ["min_pool2d"]
    assert "min_pool" in _verify.coverage()


def _loop_min_pool(x, pool_size, strides=None, padding="valid",
                   data_format="channels_last", *, fill=np.inf):
    """A window's minimum by a plain loop (the first of equal minima, NaN propagated),
    padding cells reading ``fill``; the geometry from ``pooling_ref.geometry``."""
    x = np.asarray(x)
    cf = data_format == "channels_first"
    xl = np.moveaxis(x, 1, -1) if cf else x
    k = np.broadcast_to(pool_size, (2,))
    st = np.broadcast_to(pool_size if strides is None else strides, (2,))
    g = plan_window(xl.shape[1:3], tuple(k), tuple(st), padding)
    (t, _), (le, _) = g.pads
    out = np.empty((xl.shape[0], *g.out_spatial, xl.shape[-1]), x.dtype)
    for b, i, j, c in np.ndindex(out.shape):
        best = None
        for di in range(k[0]):
            for dj in range(k[1]):
                r, q = i * st[0] + di - t, j * st[1] + dj - le
                inside = 0 <= r < xl.shape[1] and 0 <= q < xl.shape[2]
                v = xl[b, r, q, c] if inside else x.dtype.type(fill)
                if best is None or (not np.isnan(best) and (np.isnan(v) or v < best)):
                    best = v
        out[b, i, j, c] = best
    return np.moveaxis(out, -1, 1) if cf else out


def correct_min_pool(x, pool_size, strides=None, padding="valid",
                     data_format="channels_last"):
    """A correct candidate: padding cells never win."""
    return _loop_min_pool(x, pool_size, strides, padding, data_format)


def wrong_min_pool(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
    """A wrong candidate: "same" padding cells read as 0 and take part in the minimum."""
    return _loop_min_pool(x, pool_size, strides, padding, data_format, fill=0.0)


def test_check_accepts_a_correct_min_pooling_and_rejects_a_wrong_one():
    good = pooling_ref.check(correct_min_pool, "min_pool2d", cases=60)
    assert good.passed and good.cases == 60, str(good)
    bad = pooling_ref.check(wrong_min_pool, "min_pool2d", cases=60)
    assert not bad.passed, str(bad)
    f = bad.failures[0]
    assert f.params.get("padding") == "same", str(f)
    assert "padding (before, after)" in str(f) and "input window behind it" in str(f)
    x = np.float32([[4, 2], [3, 5]]).reshape(1, 2, 2, 1)
    assert oracle.compare_result("min_pool2d", np.float32([[[[2]]]]), x, pool_size=2).ok
    assert not oracle.compare_result("min_pool2d", np.float32([[[[0]]]]), x,
                                     pool_size=2, padding="same", strides=2).ok


def test_the_case_strategies_draw_the_new_op():
    """``strategies.cases("min_pool2d")`` draws 2D cases the reference and the candidate
    agree on (every corner the entry allows, Hypothesis-shrinkable)."""
    hypothesis = pytest.importorskip("hypothesis")
    from pooling_ref import strategies

    seen = []

    @hypothesis.settings(max_examples=30, database=None, deadline=None)
    @hypothesis.given(strategies.cases("min_pool2d"))
    def run(case):
        x, params = case
        seen.append(x.ndim)
        assert np.array_equal(correct_min_pool(x, **params), min_pool(x, **params),
                              equal_nan=True)

    run()
    assert seen and set(seen) == {4}


def test_verify_runs_the_new_op(tmp_path):
    """``pooling-ref verify --ops min_pool2d`` in a fresh process that registers the op
    (``sitecustomize``), against ``-MaxPooling2D(-x)``: every case compared, no mismatch."""
    pytest.importorskip("tensorflow")
    (tmp_path / "sitecustomize.py").write_text(
        "from parity_tests.test_optable import register_min_pool\nregister_min_pool()\n")
    out = tmp_path / "res.json"
    done = run("verify", "--cases", "6", "--ops", "min_pool2d", "--json", str(out), "-q",
               env_extra={"PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "min_pool2d" in done.stdout
    res = json.loads(out.read_text())["ops"]["min_pool2d"]
    assert res["status"] == "ok" and res["cases"] + res["skipped_count"] == 6
    assert res["comparisons"] == 3 * res["cases"] > 0          # loop, im2col, fast
