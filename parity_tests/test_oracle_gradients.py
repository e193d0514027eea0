"""The oracle on the gradient ops (issue 11): ``check(candidate, "max_pool2d_grad")`` ...

Catalogue: every deliberately wrong backward pass of ``parity_tests/wrong_grad_impls.py``
(``WRONG_GRAD``) is caught by the default ``check`` for seeds 0-9 on every op where its
bug can show; every correct one (``CORRECT_GRAD``, plain NumPy loops and the Keras
``tf.GradientTape`` wrappers) is accepted for seeds 0-9. What is left out, and why:

* Keras wrappers: 40 cases per seed for pooling (the first 40 cases hold every special-value
  and size corner class), 2 cases per seed for convolution — each conv case compiles an
  XLA function (~4 s here); the convolution gradients are compared with Keras far more
  widely in ``test_gradients_keras.py``.
* Measured TF defects, where the reference keeps the forward's windows: a Keras failure
  must be one of the registry's (asserted per failing case, so a new difference fails;
  the conditions are verify's, :func:`pooling_ref._verify.known_defect`):
  ``eager-max-pool3d-grad-window-larger-than-input`` (both eager paths),
  ``eigen-avg-pool-grad-window-larger-than-input``, and max pooling cases where TF's own eager
  forward differs (registered forward differences; the gradient follows the forward).
  Each entry is shown in ``test_known_defects.py``.
* Subnormal inputs are not drawn for max pooling gradients: TF's MaxPoolGrad flushes them
  on both paths (they tie with 0), a rule ``gradients.max_pool_grad`` does not model.

Expected values elsewhere are hand-derived.
"""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

import pooling_ref
import pooling_ref._compiled
from parity_tests.test_cli import run
from parity_tests.test_oracle import _run_script, assert_reproducer_fails_until_fixed
from parity_tests.wrong_grad_impls import CORRECT_GRAD, WRONG_GRAD
from pooling_ref.cases import generate_cases
from pooling_ref.ops import OPS, forward_of, is_gradient, spec
from pooling_ref.oracle import check

SEEDS = range(10)
GRAD_OPS = tuple(op for op in OPS if is_gradient(spec(op)))
KERAS = {"keras_max_pool_grad", "keras_avg_pool_grad", "keras_conv_grad"}
#: Cases per seed for the Keras wrappers (module docstring).
KERAS_CASES = {"max_pool_grad": 40, "avg_pool_grad": 40, "conv_grad": 2}


def _pairs(table: dict, names) -> list:
    return [pytest.param(name, op, id=f"{name}-{op}") for name in sorted(names)
            for op in table[name][1]]


# ----------------------------------------------------------------------------- registry


def test_gradient_ops_are_registered():
    assert GRAD_OPS == tuple(f"{f}{r}d_grad" for f in ("max_pool", "avg_pool", "conv")
                             for r in (1, 2, 3))
    assert set(GRAD_OPS) <= set(pooling_ref.OPS)
    for op in GRAD_OPS:
        s = spec(op)
        assert forward_of(s).name == op.removesuffix("_grad")
        assert s.mode == ("bitwise" if s.family == "max_pool_grad" else "bound")
    conv = spec("conv2d_grad")
    assert conv.positional == ("x", "kernel", "grad_out") and conv.outputs == 3
    assert conv.output_names == ("grad_x", "grad_kernel", "grad_bias")
    assert "bias" not in conv.supportable
    assert spec("max_pool1d_grad").positional == ("x", "grad_out")


# ----------------------------------------------------------------------------- catalogue


@pytest.mark.parametrize("name,op", _pairs(WRONG_GRAD, WRONG_GRAD))
def test_wrong_gradient_is_caught_for_every_seed(name, op):
    func = WRONG_GRAD[name][0]
    missed = [seed for seed in SEEDS
              if check(func, op, seed=seed, fail_fast=True, shrink_failures=False).passed]
    assert not missed, f"{name} passes check({op}) for seeds {missed}"


@pytest.mark.parametrize("name,op", _pairs(CORRECT_GRAD, set(CORRECT_GRAD) - KERAS))
def test_correct_gradient_is_accepted_for_every_seed(name, op):
    func = CORRECT_GRAD[name][0]
    for seed in SEEDS:
        report = check(func, op, seed=seed, max_failures=1)
        assert report.passed, f"{name} rejected:\n{report}"


def _tf_kernel() -> str:
    """The eager TF path of this process: ``"onednn"`` or ``"eigen"``."""
    detect = getattr(pooling_ref, "detect_tf_kernel", None)
    if detect is not None:
        return detect()
    from tensorflow.python.util import _pywrap_util_port

    return "onednn" if _pywrap_util_port.IsMklEnabled() else "eigen"


def _tf_difference(op: str, case) -> str:
    """Which registered TF gradient defect a failing case belongs to ('' for none): the
    registry's conditions, as verify skips them (:func:`pooling_ref._verify.known_defect`)."""
    from pooling_ref._verify import known_defect

    return known_defect(spec(op), case, "eager")


@pytest.mark.parametrize("name,op", _pairs(CORRECT_GRAD, KERAS))
def test_keras_gradient_is_accepted_for_every_seed(name, op):
    pytest.importorskip("tensorflow")
    func, path = CORRECT_GRAD[name][0], _tf_kernel()
    n = KERAS_CASES[spec(op).family]
    for seed in SEEDS:
        report = check(func, op, seed=seed, cases=n, shrink_failures=False, max_failures=n,
                       tf_kernel=path)
        cases = generate_cases(op, n, seed=seed)
        unexplained = [f for f in report.failures
                       if not _tf_difference(op, cases[f.case_index])]
        assert not unexplained, f"{name} rejected on {path}:\n{report}"
        assert len(report.failures) == report.failed_cases, str(report)


# ----------------------------------------------------------------------------- the cases


@pytest.mark.parametrize("op", ["max_pool1d_grad", "max_pool2d_grad", "max_pool3d_grad"])
def test_max_pool_grad_cases_reach_ties_and_overlaps(op):
    """Default cases hold windows with tied maxima, overlapping windows (stride < window),
    strides larger than the window and "same" padding; grad_out has the forward's shape."""
    seen = set()
    for c in generate_cases(op, 100, seed=0):
        params = {k: v for k, v in c.params.items() if k != "grad_out"}
        ones = np.ones_like(pooling_ref.max_pool(c.x, **params))
        assert c.params["grad_out"].shape == ones.shape
        k = np.broadcast_to(params["pool_size"], (c.rank,))
        s = np.broadcast_to(params.get("strides", params["pool_size"]), (c.rank,))
        seen |= {"overlap"} if any(s < k) else set()
        seen |= {"stride > window"} if any(s > k) else set()
        seen |= {"same"} if params.get("padding") == "same" else set()
        every = pooling_ref.max_pool_grad(c.x, ones, **params, ties="all")
        first = pooling_ref.max_pool_grad(c.x, ones, **params, ties="first")
        seen |= {"ties"} if every.sum() > first.sum() else set()
    assert seen == {"overlap", "stride > window", "same", "ties"}


def test_conv_grad_cases_reach_groups_and_dilation():
    seen = set()
    for c in generate_cases("conv2d_grad", 100, seed=0):
        assert "bias" not in c.params
        seen |= {"groups"} if c.params.get("groups", 1) > 1 else set()
        seen |= {"dilation"} if np.max(c.params.get("dilation_rate", 1)) > 1 else set()
        seen |= {"same"} if c.params.get("padding") == "same" else set()
    assert seen == {"groups", "dilation", "same"}


def test_avg_pool_grad_special_values_go_to_grad_out():
    """x does not matter to an average pooling gradient: its special values are upstream."""
    cases = generate_cases("avg_pool2d_grad", 40, seed=0)
    specials = [c for c in cases if c.corner.startswith(("nan", "-inf", "+inf"))]
    assert specials
    for c in specials:
        assert np.isfinite(c.x).all()
        assert not np.isfinite(c.params["grad_out"]).all()


def test_supports_restricts_gradient_cases():
    supports = {"padding": ["valid"], "data_format": ["channels_last"]}
    report = check(pooling_ref.max_pool_grad, "max_pool2d_grad", cases=30, supports=supports,
                   tf_kernel="onednn")             # max_pool_grad's default path
    assert report.passed, str(report)
    assert report.left_out == ["padding other than 'valid'",
                               "data_format other than 'channels_last'"]
    for c in generate_cases("max_pool2d_grad", 30, supports=supports):
        assert c.params.get("padding", "valid") == "valid"
        assert c.params.get("data_format", "channels_last") == "channels_last"


def test_hypothesis_strategy_draws_gradient_calls():
    from hypothesis import given, settings

    from pooling_ref.strategies import cases

    @settings(max_examples=15, database=None)
    @given(cases("conv2d_grad"))
    def drawn(case):
        x, params = case
        gx, gk, gb = pooling_ref.conv_grad(x, **params)
        assert gx.shape == x.shape and gk.shape == params["kernel"].shape
        assert gb.shape == (params["kernel"].shape[-1],)

    drawn()


@pytest.mark.parametrize("dtype", ["float16", "float64"])
def test_gradient_ops_take_float_dtypes(dtype):
    for op in ("max_pool3d_grad", "avg_pool1d_grad", "conv2d_grad"):
        report = check(spec(op).reference, op, cases=30, dtype=dtype)
        assert report.passed and report.dtype == dtype, str(report)
    with pytest.raises(ValueError, match="dtype must be one of"):
        check(pooling_ref.max_pool_grad, "max_pool1d_grad", dtype="int32")


# ----------------------------------------------------------------------------- failures


def _grad_bias_off_by_one(x, kernel, grad_out, **params):
    gx, gk, gb = pooling_ref.conv_grad(x, kernel, grad_out, **params)
    return gx, gk, gb + np.float32(1)


def _sum_last_of_ties(x, grad_out, pool_size, strides=None, padding="valid",
                      data_format="channels_last"):
    """Max pooling gradient to the *last* of tied maxima (row-major), valid padding only."""
    cf = data_format == "channels_first"
    xl = np.moveaxis(x, 1, -1) if cf else x
    gl = np.moveaxis(grad_out, 1, -1) if cf else grad_out
    r = xl.ndim - 2
    k = np.broadcast_to(pool_size, (r,))
    s = k if strides is None else np.broadcast_to(strides, (r,))
    out = np.zeros_like(xl)
    for pos in np.ndindex(*gl.shape[1:-1]):
        sl = tuple(slice(p * st, p * st + kk) for p, st, kk in zip(pos, s, k))
        win = xl[(slice(None), *sl, slice(None))]
        flat = win.reshape(win.shape[0], -1, win.shape[-1])[:, ::-1]
        last = flat.shape[1] - 1 - np.argmax(flat, axis=1)          # (N, C)
        for n in range(xl.shape[0]):
            for ch in range(xl.shape[-1]):
                cell = np.unravel_index(last[n, ch], win.shape[1:-1])
                idx = (n, *(sl_.start + i for sl_, i in zip(sl, cell)), ch)
                out[idx] += gl[(n, *pos, ch)]
    return np.moveaxis(out, -1, 1) if cf else out


def test_conv_failure_names_the_wrong_output():
    report = check(_grad_bias_off_by_one, "conv1d_grad", cases=10)
    assert not report.passed
    f = report.failures[0]
    assert "grad_bias (output 2) wrong" in f.detail
    assert "got grad_bias = " in "\n".join(f.context)


def test_shrunk_gradient_case_is_valid_and_explained():
    """Shrinking a max pooling gradient case keeps grad_out shaped like the forward
    result; the last-of-ties rule is shrunk to a window of two equal cells and named."""
    report = check(_sum_last_of_ties, "max_pool1d_grad", cases=100, supports={
        "padding": ["valid"]})
    assert not report.passed
    for f in report.failures:
        x_shape, g_shape = f.shapes["x"], f.shapes["grad_out"]
        fwd = pooling_ref.max_pool(np.zeros(x_shape, np.float32), **f.params)
        assert fwd.shape == g_shape
        assert f.shrink_steps > 0
    small = report.failures[0]
    assert small.shapes["x"][1] * small.shapes["x"][2] <= 2, str(report)


def _last_group_kernel_grad_lost(x, kernel, grad_out, groups=1, **params):
    """grad_kernel of the last group left at zero, only when there are several groups."""
    gx, gk, gb = pooling_ref.conv_grad(x, kernel, grad_out, groups=groups, **params)
    if groups > 1:
        gk = gk.copy()
        gk[..., -(kernel.shape[-1] // groups):] = 0
    return gx, gk, gb


def test_shrunk_conv_gradient_keeps_groups_and_a_valid_grad_out():
    report = check(_last_group_kernel_grad_lost, "conv2d_grad", cases=100)
    assert not report.passed
    for f in report.failures:
        assert f.params.get("groups", 1) == 2, str(report)      # 3 groups shrink to 2
        assert "grad_kernel (output 1) wrong" in f.detail
        x, k = np.zeros(f.shapes["x"], np.float32), np.zeros(f.shapes["kernel"], np.float32)
        assert pooling_ref.conv(x, k, **f.params).shape == f.shapes["grad_out"]
        script = f.reproducer.replace("from parity_tests.test_oracle_gradients import "
                                      "_last_group_kernel_grad_lost as candidate", "")
        with pytest.raises(AssertionError, match="grad_kernel"):
            exec(script, {"candidate": _last_group_kernel_grad_lost})


def test_other_tie_rule_is_named():
    """A kernel following ties="all" in 2D: the report says so and names TF's rule."""
    every = functools.partial(pooling_ref.max_pool_grad, ties="all")
    report = check(every, "max_pool2d_grad", cases=100)
    assert not report.passed
    why = [f.explanation for f in report.failures]
    assert any("ties='all'" in w and "ties=first" in w for w in why), str(report)


_BAD_MODULE = """
import numpy as np
import pooling_ref

BUG = 1

def grad(x, grad_out, **params):
    g = pooling_ref.avg_pool_grad(x, grad_out, **params)
    return g * np.float32(1 + BUG)
"""


def test_gradient_reproducer_fails_as_a_script_until_fixed(tmp_path, monkeypatch):
    assert_reproducer_fails_until_fixed(tmp_path, monkeypatch, _BAD_MODULE, "oracle_grad_mod",
                                        "grad", "avg_pool2d_grad",
                                        "result = candidate(x, grad_out, ")


# ----------------------------------------------------------------------------- verify

def test_verify_runs_gradient_ops(tmp_path):
    pytest.importorskip("tensorflow")
    out = tmp_path / "res.json"
    r = run("verify", "--cases", "3", "--ops", "max_pool2d_grad", "conv1d_grad", "--json",
             str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(out.read_text())
    assert set(doc["ops"]) == {"max_pool2d_grad", "conv1d_grad"}
    mp, cv = doc["ops"]["max_pool2d_grad"], doc["ops"]["conv1d_grad"]
    assert mp["mode"] == "bitwise" and cv["mode"] == "bound"
    # methods on every case: loop and fast, and compiled for the pooling gradient where
    # Numba works (conv_grad has no compiled kernel)
    methods = {"max_pool2d_grad": 3 if pooling_ref._compiled.AVAILABLE else 2, "conv1d_grad": 2}
    for op, res in (("max_pool2d_grad", mp), ("conv1d_grad", cv)):
        assert res["cases"] + res["skipped_count"] == 3 and res["cases"] >= 1
        assert res["comparisons"] == methods[op] * res["cases"] and res["status"] == "ok"
    assert 0 <= cv["worst_overall"] <= 1
    assert "Gradient ops: tf.GradientTape" in r.stdout
    assert f"pooling eager ({_tf_kernel()} kernels)" in r.stdout


_BREAK_FAST_GRAD = """
import dataclasses
from pooling_ref import ops
_orig = ops.spec("max_pool1d_grad").reference
def _broken(x, grad_out, *args, method="auto", **kw):
    out = _orig(x, grad_out, *args, method=method, **kw)
    return out * 2 + 1 if method == "fast" else out
ops.register(dataclasses.replace(ops.spec("max_pool1d_grad"), reference=_broken))
"""


def test_verify_gradient_mismatch_has_a_failing_reproducer(tmp_path):
    pytest.importorskip("tensorflow")
    (tmp_path / "sitecustomize.py").write_text(_BREAK_FAST_GRAD)
    out = tmp_path / "res.json"
    r = run("verify", "--cases", "2", "--ops", "max_pool1d_grad", "--json", str(out),
             env_extra={"PYTHONPATH": str(tmp_path)})
    assert r.returncode == 1, r.stdout + r.stderr
    res = json.loads(out.read_text())["ops"]["max_pool1d_grad"]
    assert {m["method"] for m in res["mismatches"]} == {"fast"}
    repro = tmp_path / "repro.py"
    repro.write_text(res["mismatches"][0]["reproducer"])
    assert "keras = s.keras(x, grad_out, pool_size=" in repro.read_text()
    p = _run_script(repro, tmp_path)              # sitecustomize breaks it here too
    assert p.returncode != 0 and "AssertionError" in p.stderr, p.stdout + p.stderr
    (tmp_path / "sitecustomize.py").unlink()
    p = _run_script(repro, tmp_path)
    assert p.returncode == 0 and p.stdout.startswith("match"), p.stdout + p.stderr
