"""The oracle ``pooling_ref.check``: its registry, cases, report, reproducers and options.

The catalogue tests (every wrong implementation caught for seeds 0-9, every correct one
accepted) live in their own file over ``parity_tests/wrong_impls.py``. Here the
candidates are small and built for one property each: most take the reference result and
change exactly what a real kernel gets wrong (the NaN rule, the sign of zero, channels
past 8 ...), so the test shows that the oracle finds, shrinks and explains that defect.
Expected values are hand-derived or come from the measured TF facts in ``docs`` and the registry.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pooling_ref
from parity_tests.wrong_impls import CORRECT, WRONG
from pooling_ref.cases import CORNERS, Supports, generate_cases, window_cells
from pooling_ref.ops import OPS, spec
from pooling_ref.oracle import Failure, Report, check, shrink
from pooling_ref.oracle.call import run_case as _run

# Correct-but-different implementations whose special-value rules differ from TF's on
# purpose: np.max propagates NaN; float64 sums do not overflow where TF's float32 sum does.
NOT_TF_SPECIAL_VALUES = {"max_sliding_window", "avg_float64_sum"}


def _lowest(dtype) -> float:
    return float(np.finfo(dtype).min)



def _spec(func):
    """A ``pooling_ref`` function as a candidate of the default ``check``, which compares
    against the specification (``tf_kernel=None``: IEEE subnormals, no TF path's flush
    rules); the functions' own default follows TF's oneDNN path (``tf_kernel="onednn"``)."""
    import inspect

    if "tf_kernel" in inspect.signature(func).parameters:
        return functools.partial(func, tf_kernel=None)
    return func

# ----------------------------------------------------------------------------- registry


def test_ops_is_exported_and_complete():
    assert pooling_ref.OPS is OPS or pooling_ref.OPS == OPS
    assert "OPS" in pooling_ref.__all__
    families = ("max_pool", "avg_pool", "global_max_pool", "global_avg_pool", "zero_pad",
                "conv")
    grads = ("max_pool", "avg_pool", "conv")                   # gradient ops (issue 11)
    window = ("max_pool_with_argmax", "adaptive_avg_pool", "adaptive_max_pool")  # issue 21
    keras = ({f"{f}{r}d" for f in (*families, *window) for r in (1, 2, 3)}
             | {f"{f}{r}d_grad" for f in grads for r in (1, 2, 3)})
    dialects = ({f"torch.{f}{r}d{tail}" for f, tail in (("max_pool", ""), ("avg_pool", ""),
                                                         ("max_pool", "_with_indices"))
                 for r in (1, 2, 3)} | {"onnx.max_pool", "onnx.average_pool",
                                         "jax.reduce_window"})
    litert = {f"litert.{kind}_pool_2d_{dtype}" for kind in ("average", "max")
              for dtype in ("int8", "uint8", "int16")}             # issue 22
    assert set(OPS) == keras | dialects | litert
    for op in (op for op in OPS if op not in dialects):
        s = spec(op)
        base = s.family.removesuffix("_grad")
        assert s.name == op
        if op in keras:
            assert op == f"{base}{s.rank}d" + ("_grad" if base != s.family else "")
        else:
            assert s.family == op.rsplit("_", 1)[0] and s.dtypes == (op.rsplit("_", 1)[1],)
        assert s.mode in ("bitwise", "bound") and s.keras_mode in ("bitwise", "bound")
        assert set(s.params) <= set(s.supportable)
        assert (s.bound is None) == (s.mode == "bitwise")


def test_registry_records():
    conv = spec("conv3d")
    assert conv.positional == ("x",) and conv.keyword_arrays == ("kernel", "bias")
    assert conv.reference is pooling_ref.conv and conv.mode == "bound"
    assert "bias" in conv.supportable and "groups" in conv.params
    mp = spec("max_pool2d")
    assert mp.reference is pooling_ref.max_pool and mp.nan_rule and mp.int_dtypes
    assert mp.mode == "bitwise" and not spec("avg_pool1d").int_dtypes
    assert spec("global_avg_pool2d").params == ("data_format", "keepdims")


def test_unknown_op_lists_valid_ops():
    with pytest.raises(ValueError, match="max_pool1d") as e:
        check(pooling_ref.max_pool, "max_pool4d")
    for op in OPS:
        assert op in str(e.value)
    assert "'max_pool4d'" in str(e.value)


def test_reference_receives_the_tf_kernel_it_is_given():
    seen = []

    def fake(x, pool_size, **kw):
        seen.append(kw)
        return pooling_ref.max_pool(x, pool_size)

    s = dataclasses.replace(spec("max_pool1d"), reference=fake)
    x = {"x": np.zeros((1, 2, 1), np.float32)}
    s.run_reference(x, {"pool_size": 2})
    s.run_reference(x, {"pool_size": 2}, tf_kernel="eigen")
    s.run_reference(x, {"pool_size": 2}, nan="propagate")
    zp = dataclasses.replace(spec("zero_pad1d"), reference=lambda x, **kw: seen.append(kw))
    zp.run_reference(x, {}, tf_kernel="eigen", nan="propagate")
    # None (the specification) unless a path is given; zero padding takes neither
    assert seen == [{"tf_kernel": None}, {"tf_kernel": "eigen"},
                    {"nan": "propagate", "tf_kernel": None}, {}]


def test_a_gradient_op_can_be_registered(monkeypatch):
    """Gradient ops are registry entries: candidate(x, grad_out, **params) is the call."""
    from pooling_ref import ops
    from pooling_ref.oracle import moves

    def avg_grad(x, grad_out, pool_size, strides=None, padding="valid",
                 data_format="channels_last"):
        # the adjoint of 1D valid non-overlapping average pooling (hand-derived)
        k = int(np.broadcast_to(pool_size, (1,))[0])
        cf = data_format == "channels_first"
        g = np.moveaxis(grad_out, 1, -1) if cf else grad_out
        full = np.zeros(np.moveaxis(x, 1, -1).shape if cf else x.shape, x.dtype)
        full[:, : g.shape[1] * k] = np.repeat(g / k, k, axis=1)
        return np.moveaxis(full, -1, 1) if cf else full

    grad = dataclasses.replace(spec("avg_pool1d"), name="avg_pool1d_grad",
                               family="avg_pool_grad", reference=avg_grad, mode="bitwise",
                               bound=None, positional=("x", "grad_out"), methods=False,
                               tf_kernel=False, forward="avg_pool1d", hints=(),
                               moves=(moves.gradient,))
    monkeypatch.setitem(ops._REGISTRY, grad.name, grad)
    calls = []

    def candidate(x, grad_out, **params):
        calls.append(params)
        return avg_grad(x, grad_out, **params)

    supports = {"padding": ["valid"], "strides": [2], "pool_size": [2]}
    report = check(candidate, "avg_pool1d_grad", cases=30, supports=supports)
    assert report.passed and len(calls) == 30, str(report)
    wrong = check(lambda x, g, **p: candidate(x, g, **p) * 2, "avg_pool1d_grad", cases=10,
                  supports=supports)
    assert not wrong.passed
    assert "result = candidate(x, grad_out, pool_size=" in wrong.failures[0].reproducer


# ----------------------------------------------------------------------------- the reference


@pytest.mark.parametrize("op", OPS)
def test_pooling_ref_methods_pass(op):
    s = spec(op)
    methods = tuple(m for m in s.method_names if m != "fast") if s.methods else (None,)
    for method in methods:
        func = _spec(s.reference) if method is None else functools.partial(
            _spec(s.reference), method=method)
        # timeout=None: the methods are under test here, not the call limit (a first call
        # compiling a Numba kernel took over 30 s on a loaded 2-core machine)
        report = check(func, op, cases=40, seed=1, timeout=None)
        assert report.passed, str(report)


@pytest.mark.parametrize("dtype,ops", [
    ("int8", ["max_pool2d", "zero_pad1d", "global_max_pool3d"]),
    ("int32", ["max_pool1d", "zero_pad3d", "global_avg_pool2d"]),
    ("int64", ["max_pool3d"]), ("uint8", ["max_pool2d"]),
    ("float16", ["avg_pool2d", "conv1d"]), ("float64", ["conv2d", "max_pool1d"]),
    ("bfloat16", ["max_pool2d", "avg_pool1d", "zero_pad2d"]),
])
def test_reference_passes_every_dtype(dtype, ops):
    if dtype == "bfloat16":
        pytest.importorskip("ml_dtypes")
    for op in ops:
        # timeout=None: a fresh clone's first call compiles the Numba kernels, which took
        # over 30 s (check's default limit) on a loaded 2-core machine
        report = check(_spec(spec(op).reference), op, cases=60, dtype=dtype, timeout=None)
        assert report.passed, str(report)
        assert report.dtype == dtype


@pytest.mark.parametrize("op,dtype", [("avg_pool1d", "int32"), ("conv2d", "int8"),
                                      ("max_pool1d", "complex64"), ("max_pool1d", "U3")])
def test_dtype_the_op_rejects(op, dtype):
    with pytest.raises(ValueError, match=f"dtype must be one of .*{op}"):
        check(spec(op).reference, op, dtype=dtype)


@given(st.data())
def test_correct_candidates_pass_any_seed_and_dtype(data):
    names = sorted(set(CORRECT) - NOT_TF_SPECIAL_VALUES)
    name = data.draw(st.sampled_from(names), label="candidate")
    func, ops = CORRECT[name]
    op = data.draw(st.sampled_from(ops), label="op")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    dtype = data.draw(st.sampled_from(["float16", "float32", "float64"]), label="dtype")
    report = check(func, op, cases=25, seed=seed, dtype=dtype, fail_fast=True)
    assert report.passed, f"{name} rejected:\n{report}"


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
def test_cases_reach_the_geometry_corners(op, seed):
    cases = generate_cases(op, 100, seed=seed)
    seen = set()
    for c in cases:
        p, rank = c.params, c.rank
        spatial = c.spatial
        n, ch = c.x.shape[0], c.x.shape[1] if c.channels_first else c.x.shape[-1]
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
        with np.errstate(invalid="ignore"):
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


def _window_position(case, value_test) -> set[str]:
    """Where (first/middle/last real cell of some window) cells passing value_test sit."""
    found = set()
    g_out = pooling_ref.cases.geometry(case).out_spatial
    for out in np.ndindex(*g_out):
        cells = window_cells(case, out)
        for b in range(case.x.shape[0]):
            xb = np.moveaxis(case.x[b], 0, -1) if case.channels_first else case.x[b]
            vals = xb[np.ix_(*cells)] if all(cells) else np.empty((0,))
            if vals.size == 0:
                continue
            hit = value_test(vals).any(axis=-1)          # over channels
            flat = hit.reshape(-1)
            if flat.size > 1:
                if flat[0]:
                    found.add("first")
                if flat[-1]:
                    found.add("last")
                if flat[1:-1].any():
                    found.add("middle")
    return found


@pytest.mark.parametrize("op", ["max_pool1d", "max_pool2d", "avg_pool3d", "conv2d"])
def test_special_values_at_every_window_position(op):
    cases = generate_cases(op, 100, seed=0)
    positions = set()
    for c in cases:
        if c.corner.startswith(("nan ", "-inf ", "+inf ")):
            positions |= _window_position(c, lambda v: ~np.isfinite(v))
    assert positions == {"first", "middle", "last"}


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool1d", "zero_pad3d", "global_max_pool2d"])
def test_special_value_classes_are_drawn(op):
    cases = generate_cases(op, 100, seed=3)
    kinds = set()
    for c in cases:
        x = c.x.astype(np.float64)
        if np.isnan(x).any():
            kinds.add("nan")
        if np.isneginf(x).any():
            kinds.add("-inf")
        if ((x == 0) & np.signbit(x)).any() and ((x == 0) & ~np.signbit(x)).any():
            kinds.add("signed zeros")
        if (np.abs(x) == np.finfo(np.float32).max).any():
            kinds.add("largest finite")
        if ((x != 0) & (np.abs(x) < np.finfo(np.float32).tiny)).any():
            kinds.add("subnormal")
        if c.corner in ("all-nan window", "all--inf window"):
            kinds.add(c.corner)
    assert kinds == {"nan", "-inf", "signed zeros", "largest finite", "subnormal",
                     "all-nan window", "all--inf window"}


@pytest.mark.parametrize("op", ["max_pool1d", "max_pool3d", "avg_pool2d", "conv1d",
                                "conv3d", "zero_pad2d", "global_avg_pool3d"])
def test_tile_straddling_sizes(op):
    cases = generate_cases(op, 100, seed=0)
    chans, batches, rows = set(), set(), set()
    for c in cases:
        chans.add(c.x.shape[1] if c.channels_first else c.x.shape[-1])
        if "kernel" in c.params:
            chans.add(c.params["kernel"].shape[-1])
        batches.add(c.x.shape[0])
        out = pooling_ref.cases.geometry(c)
        rows.add(out.out_spatial[-1] if out else c.spatial[-1])
    assert {5, 9, 17} <= chans, chans
    assert {5, 9} <= batches
    assert {17, 33, 65} <= rows, rows


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint8"])
def test_integer_limits_and_beyond_2_24(dtype):
    cases = generate_cases("max_pool2d", 100, seed=0, dtype=dtype)
    info = np.iinfo(dtype)
    values = np.concatenate([c.x.ravel() for c in cases])
    assert values.dtype == np.dtype(dtype)
    assert info.max in values and info.min in values
    if info.max > 2**24:
        assert ((values > 2**24) & (values < 2**24 + 8)).any()


# ----------------------------------------------------------------------------- detection


def _post(op, change):
    """A candidate returning the reference result (the specification, as ``check``
    compares with) with ``change(result, x)`` applied."""
    ref = _spec(spec(op).reference)

    def candidate(x, *args, **params):
        return change(np.array(ref(x, *args, **params)), x)
    return candidate


def _report_of(candidate, op, **kw):
    report = check(candidate, op, **kw)
    assert not report.passed, f"not caught:\n{report}"
    return report


def test_nan_propagation_is_caught_and_explained():
    report = _report_of(functools.partial(pooling_ref.max_pool, nan="propagate", tf_kernel=None),
                        "max_pool2d")
    assert ("your kernel propagates NaN; TensorFlow ignores it — pass nan='propagate' if "
            "that is intended") in str(report)
    f = report.failures[0]
    assert f.explanation.startswith("your kernel propagates NaN")
    # the shrunk case keeps a single NaN
    ns: dict = {"np": np}
    x = eval(f.reproducer.split("x = ", 1)[1].splitlines()[0], ns)
    assert np.isnan(x).sum() == 1


def test_nan_propagate_option_accepts_that_candidate():
    cand = functools.partial(pooling_ref.max_pool, nan="propagate", tf_kernel=None)
    for op in ("max_pool1d", "max_pool3d"):
        report = check(cand, op, nan="propagate")
        assert report.passed, str(report)
    assert "nan='propagate'" in str(report)
    # other ops ignore nan=
    assert check(_spec(pooling_ref.avg_pool), "avg_pool1d", nan="propagate", cases=20).passed
    with pytest.raises(ValueError, match="nan"):
        check(pooling_ref.max_pool, "max_pool1d", nan="ignore")


def test_running_max_from_minus_inf_is_caught():
    # TF: a window of only NaN / -inf gives the lowest finite value, not -inf
    low = _lowest(np.float32)
    cand = _post("max_pool2d", lambda r, x: np.where(r == low, np.float32(-np.inf), r))
    report = _report_of(cand, "max_pool2d", tf_kernel=None)   # "any": XLA's empty window
    texts = [f.explanation for f in report.failures]
    # the hint is TF's eager rule, or XLA's (whose empty window gives -inf), by the rule table
    assert all("-inf" in t for t in texts), texts
    assert any("all-NaN / all -inf window: TF gives the lowest finite value (-3.4028235e+38)"
               in t or "follows tf_kernel='xla'" in t for t in texts), texts


def _last_wins(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
    """1D channels_last "valid" max pooling with TF's rules except one: a cell replaces the
    running maximum when it is >= (not >), so the last of equal maxima wins."""
    from numpy.lib.stride_tricks import sliding_window_view

    x = np.asarray(x)
    k = int(np.broadcast_to(pool_size, (1,))[0])
    s = k if strides is None else int(np.broadcast_to(strides, (1,))[0])
    w = sliding_window_view(x, k, axis=1)[:, ::s]                 # (N, out, C, k)
    best = np.full(w.shape[:-1], np.finfo(x.dtype).min, x.dtype)
    for i in range(k):
        v = w[..., i]
        best = np.where(v >= best, v, best)                         # NaN >= ... is False
    return best


def test_last_of_equal_maxima_is_caught():
    report = _report_of(_last_wins, "max_pool1d",
                        supports={"padding": ["valid"], "data_format": ["channels_last"]})
    f = report.failures[0]
    assert f.explanation == ("-0.0 vs +0.0: TF keeps the first of equal maxima (row-major "
                             "window order)"), str(report)
    window = eval(str(f).split("input window behind it: ")[1].split(" = ", 1)[1]
                  .splitlines()[0], {"np": np})
    assert set(np.signbit(window[window == 0])) == {True, False}   # a tie of both zeros


def test_sign_of_a_lone_zero_is_not_called_a_tie():
    report = _report_of(_post("max_pool1d", lambda r, x: r + np.zeros((), r.dtype)),
                        "max_pool1d")
    lone = [f for f in report.failures if "no tie of zeros" in f.explanation]
    assert lone, str(report)
    assert "your kernel changes the sign of zero" in lone[0].explanation


def test_zero_pad_losing_negative_zero_is_caught():
    report = _report_of(_post("zero_pad2d", lambda r, x: r + np.zeros((), r.dtype)),
                        "zero_pad2d")
    f = report.failures[0]
    assert "turned -0.0 into +0.0" in f.explanation
    assert "-0.0" in f.reproducer              # the literal keeps the sign


def test_avg_skipping_nan_is_caught():
    skip_nan = _post("avg_pool2d", lambda r, x: np.where(np.isnan(r), 0, r).astype(r.dtype))
    report = _report_of(skip_nan, "avg_pool2d")
    assert "skips NaN" in report.failures[0].explanation


def test_subnormal_flush_is_eigens_rule_and_named_when_held_to_another_path():
    """Flushing subnormal results of 1D max pooling is exactly TF's Eigen rule: the default
    (``tf_kernel="any"``) accepts it and says so; held to oneDNN's rules (or IEEE) it fails
    with a hint that names the option matching it, built from the rule table."""
    def flush(a):
        tiny = np.finfo(a.dtype).tiny
        return np.where(np.abs(a) < tiny, a * 0, a).astype(a.dtype)    # keeps zero signs

    def cand(x, *args, **params):          # subnormals compared as zeros: [-4e-45, 1e-45]
        x = np.asarray(x)                  # is a tie of -0 and +0, the first one wins
        return flush(pooling_ref.max_pool(flush(x), *args, tf_kernel=None, **params))

    report = check(cand, "max_pool1d")
    assert report.passed and report.matched == ("eigen",), str(report)
    assert "matched tf_kernel='eigen' on every case" in str(report)
    report = _report_of(cand, "max_pool1d", tf_kernel="onednn")
    assert report.failures and all(
        "tf_kernel='eigen' (subnormal inputs read as zeros and subnormal results written as "
        "zeros)" in f.explanation for f in report.failures), str(report)


def test_float32_conversion_of_large_integers_is_caught():
    def via_float32(x, *a, **p):
        return pooling_ref.max_pool(np.asarray(x).astype(np.float32), *a, **p).astype(
            np.asarray(x).dtype)

    report = _report_of(via_float32, "max_pool2d", dtype="int32")
    assert any("beyond 2**24" in f.explanation for f in report.failures), str(report)


@pytest.mark.parametrize("op,axis_name,limit", [
    ("max_pool2d", "channels", 8), ("avg_pool1d", "channels", 16), ("conv2d", "filters", 8),
    ("max_pool3d", "batch", 4), ("zero_pad1d", "channels", 8),
])
def test_tile_remainder_bug_is_caught_and_shrunk_keeping_the_size(op, axis_name, limit):
    """A kernel wrong only past ``limit`` channels/filters/batch: caught, and shrinking
    keeps the size just past the limit (it must not shrink C = 9 to C = 1)."""
    def cand(x, *a, **p):
        r = np.array(_spec(spec(op).reference)(x, *a, **p))
        ax = 0 if axis_name == "batch" else (1 if p.get("data_format") == "channels_first"
                                             else -1)
        if r.shape[ax] > limit:
            idx = [slice(None)] * r.ndim
            idx[ax] = slice(limit, None)
            r[tuple(idx)] = r[tuple(idx)] + np.asarray(1, r.dtype)
        return r

    report = _report_of(cand, op)
    for f in report.failures:
        x = f.shapes["x"]
        if axis_name == "batch":
            size = x[0]
        elif axis_name == "filters":
            size = f.shapes["kernel"][-1]
        else:
            size = x[1] if f.params.get("data_format") == "channels_first" else x[-1]
        assert size == limit + 1, (f.shapes, f.params)


@pytest.mark.parametrize("op", ["global_max_pool1d", "global_avg_pool3d"])
def test_global_ops_catch_a_wrong_axis(op):
    def cand(x, data_format="channels_last", keepdims=False):
        x = np.asarray(x)
        axes = tuple(range(1, x.ndim - 1))        # ignores data_format
        f = np.max if op.startswith("global_max") else np.mean
        return f(x, axis=axes, keepdims=keepdims).astype(x.dtype)

    report = _report_of(cand, op)
    assert report.failures[0].params.get("data_format") == "channels_first"


# ----------------------------------------------------------------------------- the report


def test_report_of_a_mismatch():
    func, _ = WRONG["max_zero_padding"]
    report = check(func, "max_pool2d")
    assert report.passed is False and report.cases == 100
    assert 1 <= len(report.failures) <= 3 and report.failed_cases >= len(report.failures)
    f = next(f for f in report.failures if not f.explanation)   # the zero-padding bug
    assert isinstance(f, Failure)
    assert f.op == "max_pool2d" and f.dtype == "float32" and f.exception is None
    assert f.params.get("padding") == "same"
    text = str(f)
    # padding split, the window behind the first mismatch, got vs expected as literals
    assert "padding (before, after) per spatial axis: [(" in text
    assert "input window behind it: x[" in text and "np.array([" in text
    assert "got      = np.array(" in text and "expected = np.array(" in text
    # the window's numbers are real cells, all negative (NaN is never the maximum), so a 0
    # pad wins in the bug
    window_line = next(line for line in text.splitlines() if "input window" in line)
    vals = eval(window_line.split(" = ", 1)[1], {"np": np})
    assert (vals[~np.isnan(vals)] < 0).all()
    assert abs(float(eval(text.split("got      = ")[1].splitlines()[0], {"np": np})
                     [f.first_index])) == 0.0
    assert "FAILED" in str(report) and "max_zero_padding" in str(report)


def test_report_of_a_pass_and_left_out():
    report = check(CORRECT["pad_numpy_pad"][0], "zero_pad3d", cases=7, seed=3)
    assert report.passed and report.cases == 7 and report.failures == []
    assert str(report).endswith("7 cases, all passed (max ULP 0); matched tf_kernel=None "
                                "(IEEE), 'onednn', 'eigen', 'xla' on every case")
    report = check(_spec(pooling_ref.max_pool), "max_pool2d", cases=7,
                   supports={"padding": ["valid"]})
    assert str(report).endswith("not drawn (supports=): padding other than 'valid'")


def test_pass_records_the_worst_difference():
    report = check(CORRECT["conv_float64"][0], "conv3d", seed=0)
    assert report.passed and 0 < report.worst_ratio < 1 and report.max_ulp > 0


def test_bound_ratio_reported_for_conv():
    report = check(WRONG["conv_missing_bias"][0], "conv2d")
    f = report.failures[0]
    assert f.comparison.mode == "bound" and f.bound_ratio > 1000


@pytest.mark.parametrize("result,words", [
    (lambda r: r[..., :1], "wrong shape: got"),
    (lambda r: r.astype(np.float64), "wrong dtype: got float64, expected float32"),
    (lambda r: None, "not a numeric array: NoneType None"),
    (lambda r: [["a"]], "not a numeric array: list"),
    (lambda r: {"out": r}, "not a numeric array: dict"),
])
def test_clean_messages_for_shape_dtype_and_non_arrays(result, words):
    report = _report_of(_post("avg_pool2d", lambda r, x: result(r)), "avg_pool2d", cases=20)
    text = str(report)
    assert words in text
    assert "index None" not in text and "max ULP 0" not in text and "inf" not in text.split(
        "reproduce")[0]


def test_raising_candidate_is_a_failure_not_a_crash():
    report = check(_raises, "max_pool1d", cases=10)
    assert not report.passed and report.failed_cases == 10
    f = report.failures[0]
    assert f.exception == "RuntimeError: boom" and f.comparison is None
    assert "candidate raised RuntimeError: boom" in str(report)
    assert "boom" in f.traceback


def _raises(x, **params):
    raise RuntimeError("boom")


def test_mutating_candidate_fails():
    def mutates(x, **params):
        out = pooling_ref.zero_pad(x, **params)
        x[...] = 0
        return out

    report = check(mutates, "zero_pad1d", cases=10)
    assert not report.passed
    assert "modified its input 'x'" in report.failures[0].detail


@pytest.mark.parametrize("kw,exc,word", [
    ({"cases": 0}, ValueError, "cases"), ({"cases": "3"}, TypeError, "cases"),
    ({"cases": True}, TypeError, "cases"), ({"seed": -1}, ValueError, "seed"),
    ({"seed": 1.5}, TypeError, "seed"), ({"dtype": "float128x"}, ValueError, "dtype"),
    ({"supports": ["padding"]}, TypeError, "supports"),
])
def test_bad_arguments(kw, exc, word):
    with pytest.raises(exc, match=word):
        check(pooling_ref.max_pool, "max_pool1d", **kw)


def test_candidate_must_be_callable():
    with pytest.raises(TypeError, match="candidate"):
        check("pooling_ref.max_pool", "max_pool1d")


# ----------------------------------------------------------------------------- supports


def _recorder(op):
    calls = []
    ref = _spec(spec(op).reference)

    def candidate(x, *args, **params):
        calls.append((np.asarray(x).shape, params))
        return ref(x, *args, **params)
    return candidate, calls


def test_supports_channels_last_only():
    def only_last(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
        if data_format != "channels_last":
            raise NotImplementedError("channels_first")
        return pooling_ref.max_pool(x, pool_size, strides, padding, tf_kernel=None)

    assert check(only_last, "max_pool2d").failed_cases > 20
    report = check(only_last, "max_pool2d", supports={"data_format": ["channels_last"]})
    assert report.passed and report.cases == 100, str(report)
    assert report.left_out == ["data_format other than 'channels_last'"]


def test_supports_conv_no_bias_groups_dilation():
    cand, calls = _recorder("conv2d")
    report = check(cand, "conv2d", supports={"groups": [1], "dilation_rate": [1],
                                             "bias": [None], "padding": ["valid"]})
    assert report.passed and report.cases == len(calls) == 100
    for _, p in calls:
        assert "bias" not in p
        assert p.get("groups", 1) == 1 and p.get("dilation_rate", 1) in (1, (1, 1))
        assert p.get("padding", "valid") == "valid"
    assert "bias given (bias=[None])" in report.left_out


def test_supports_window_values_are_drawn_not_filtered():
    cand, calls = _recorder("max_pool2d")
    report = check(cand, "max_pool2d", supports={"pool_size": [2, (3, 1)], "strides": [1]})
    assert report.passed and len(calls) == 100
    sizes = set()
    for _, p in calls:
        size = np.broadcast_to(p["pool_size"], (2,))
        sizes.add(tuple(int(v) for v in size))
        assert tuple(np.broadcast_to(p["strides"], (2,))) == (1, 1)
    assert sizes == {(2, 2), (3, 1)}
    # the restricted cases still reach special values and tile sizes
    assert {"nan first", "channels 9", "rows 17"} <= set(report.corners)


@pytest.mark.parametrize("supports,word", [
    ({"kernel": [3]}, "unknown key 'kernel'"),
    ({"padding": []}, "empty"),
    ({"padding": ["full"]}, "invalid value 'full'"),
    ({"pool_size": [0]}, "invalid value 0"),
    ({"bias": [True]}, "supports"),
])
def test_supports_errors(supports, word):
    with pytest.raises(ValueError, match=word):
        check(pooling_ref.max_pool, "max_pool1d", supports=supports)


def test_supports_that_leaves_nothing_raises():
    with pytest.raises(ValueError, match="leaves nothing to draw"):
        check(pooling_ref.conv, "conv1d", supports={"strides": [2], "dilation_rate": [2]})


def test_supports_unknown_key_for_op():
    with pytest.raises(ValueError, match="bias"):
        check(pooling_ref.max_pool, "max_pool1d", supports={"bias": [None]})
    assert Supports("zero_pad1d", {"padding": [(1, 2)]}).left_out() == [
        "padding other than ((1, 2),)"]


# ----------------------------------------------------------------------------- shrinking


def test_shrinker_returns_a_smaller_failing_case():
    report = check(WRONG["conv_ignores_dilation"][0], "conv2d", seed=2)
    f = report.failures[0]
    size = lambda shapes: sum(math.prod(s) for s in shapes.values())  # noqa: E731
    assert f.shrink_steps > 0
    assert size(f.shapes) < size(f.original_shapes)
    assert f.params.get("dilation_rate", 1) != 1   # the bug needs dilation to show


def test_shrink_directly():
    func = WRONG["max_zero_padding"][0]
    big = [c for c in generate_cases("max_pool3d", 100, seed=0, special_values=False)
           if not _run(func, c).comparison.ok]
    assert big, "expected failing cases"
    case = max(big, key=lambda c: c.x.size)
    fails = lambda c: not _run(func, c).comparison.ok  # noqa: E731
    small, steps = shrink(case, fails)
    assert steps > 0 and small.size_key() < case.size_key() and fails(small)
    # The bug shows only with "same" padding and a window with only negative real cells.
    assert small.params.get("padding") == "same"
    assert (small.x < 0).any()


def test_shrinking_reduces_special_values_to_the_one_that_matters():
    low = _lowest(np.float32)
    cand = _post("max_pool1d", lambda r, x: np.where(r == low, np.float32(-np.inf), r))
    f = check(cand, "max_pool1d").failures[0]
    x = eval(f.reproducer.split("x = ", 1)[1].splitlines()[0], {"np": np})
    # one window of only -inf / NaN is needed; with window 1 that is a single cell
    assert (~np.isfinite(x)).sum() <= np.prod(np.broadcast_to(f.params["pool_size"], (1,)))


# ----------------------------------------------------------------------------- reproducers


_BAD_MODULE = """
import functools
import numpy as np
import pooling_ref

def pool(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
    out = pooling_ref.max_pool(x, pool_size, strides, padding, data_format, tf_kernel=None)
    return out + np.asarray(BUG, out.dtype)

BUG = 1

def _logged(f):
    @functools.wraps(f)
    def wrapper(*a, **k):
        return pooling_ref.max_pool(*a, **k, tf_kernel=None)   # not f: the right answer
    return wrapper

logged_pool = _logged(pool)      # __qualname__ 'pool', but it is another function
"""


def _run_script(path, cwd):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(cwd)
    return subprocess.run([sys.executable, str(path)], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=120)


def assert_reproducer_fails_until_fixed(tmp_path, monkeypatch, source: str, module: str,
                                       func: str, op: str, expect_in_script: str) -> None:
    """``check`` the function ``func`` of a module written from ``source`` (which has a
    ``BUG = 1`` switch) on ``op``; its reproducer, run as a script, must exit non-zero with
    the mismatch, and exit 0 printing ``match`` once the module says ``BUG = 0``."""
    __tracebackhide__ = True
    path = tmp_path / f"{module}.py"
    path.write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    candidate = getattr(importlib.import_module(module), func)
    report = check(candidate, op, cases=10)
    assert not report.passed
    repro = tmp_path / "repro.py"
    repro.write_text(report.failures[0].reproducer)
    assert expect_in_script in repro.read_text()
    p = _run_script(repro, tmp_path)
    assert p.returncode != 0 and "AssertionError" in p.stderr and "MISMATCH" in p.stderr
    path.write_text(source.replace("BUG = 1", "BUG = 0"))
    p = _run_script(repro, tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("match")


def test_reproducer_fails_as_a_script_until_fixed(tmp_path, monkeypatch):
    assert_reproducer_fails_until_fixed(tmp_path, monkeypatch, _BAD_MODULE, "oracle_bad_mod",
                                        "pool", "max_pool2d",
                                        "from oracle_bad_mod import pool as candidate")


def test_reproducer_imports_the_decorated_function_itself(tmp_path, monkeypatch):
    (tmp_path / "oracle_deco_mod.py").write_text(_BAD_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import oracle_deco_mod

    assert oracle_deco_mod.logged_pool.__qualname__ == "pool"
    report = check(oracle_deco_mod.logged_pool, "max_pool1d", cases=20)
    # the wrapper is correct, and is named by its own name
    assert report.passed, str(report)
    assert report.candidate == "oracle_deco_mod.logged_pool"
    bad = check(oracle_deco_mod.pool, "max_pool1d", cases=5, target="oracle_deco_mod:pool")
    assert "from oracle_deco_mod import pool as candidate" in bad.failures[0].reproducer


def test_reproducer_of_a_raising_candidate_raises():
    report = check(_raises, "conv1d", cases=5)
    f = report.failures[0]
    assert "kernel = np.array(" in f.reproducer
    with pytest.raises(RuntimeError, match="boom"):
        exec(f.reproducer, {})


def test_reproducer_keeps_nan_payload_bits():
    x = np.array([0.0, 1.0], np.float32)
    x.view(np.uint32)[0] = 0x7FC00123                       # a NaN with a payload
    from pooling_ref._repro import array_literal

    text = array_literal(x)
    assert "fromhex" in text
    assert eval(text, {"np": np}).tobytes() == x.tobytes()
    assert array_literal(np.float32([-0.0, 2.5])) == "np.array([-0.0, 2.5], dtype=np.float32)"


# ----------------------------------------------------------------------------- pytest use


def test_assert_matches():
    from pooling_ref.testing import assert_matches

    report = assert_matches(_spec(pooling_ref.avg_pool), "avg_pool1d", cases=10)
    assert isinstance(report, Report) and report.passed
    with pytest.raises(AssertionError) as e:
        assert_matches(WRONG["avg_counts_pads"][0], "avg_pool1d", cases=30)
    assert str(e.value) == str(check(WRONG["avg_counts_pads"][0], "avg_pool1d", cases=30))


def test_importing_pooling_ref_does_not_import_hypothesis():
    code = "import sys, pooling_ref; print('hypothesis' in sys.modules)"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.stdout.strip() == "False", p.stderr


@settings(max_examples=30)
@given(pooling_ref_case=st.sampled_from(["conv2d", "max_pool3d", "zero_pad1d"]).flatmap(
    lambda op: st.tuples(st.just(op), __import__("pooling_ref.strategies").strategies.cases(
        op, supports={"data_format": ["channels_last"]}))))
def test_strategies_cases_draw_valid_restricted_calls(pooling_ref_case):
    op, (x, params) = pooling_ref_case
    assert params.get("data_format", "channels_last") == "channels_last"
    out = spec(op).reference(x, **params)
    assert out.ndim == x.ndim


def test_readme_pytest_example_runs(tmp_path):
    """The README's example test file, run by pytest (it must pass)."""
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    block = readme.split("<!-- pytest-example -->", 1)[1].split("```python", 1)[1]
    code = textwrap.dedent(block.split("```", 1)[0])
    (tmp_path / "test_my_kernel.py").write_text(code)
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        str(tmp_path / "test_my_kernel.py")], capture_output=True, text=True,
                       cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "passed" in p.stdout


def test_readme_pytest_example_prints_the_readable_comparison(tmp_path):
    """With a broken kernel, the example's property test fails with the comparison's text
    (``MISMATCH ... at index ...``), not the dataclass repr ``Comparison(ok=False, ...)``."""
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    block = readme.split("<!-- pytest-example -->", 1)[1].split("```python", 1)[1]
    code = textwrap.dedent(block.split("```", 1)[0])
    broken = code.replace("np.where(cells[..., i] > out", "np.where(cells[..., i] >= out")
    assert broken != code
    broken = broken.replace("np.where(out == -np.inf", "-np.where(out == -np.inf")
    (tmp_path / "test_my_kernel.py").write_text(broken)
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "-k", "property", str(tmp_path / "test_my_kernel.py")],
                       capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "AssertionError: MISMATCH (bitwise) at index" in p.stdout, p.stdout
    assert "Comparison(ok=False" not in p.stdout


def test_corner_names_are_known():
    report = check(pooling_ref.max_pool, "max_pool1d")
    assert set(report.corners) <= set(CORNERS) | {"plain"}
    assert report.corners["plain"] < 60
