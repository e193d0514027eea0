"""The oracle speaks jax (issue 21): ``check(candidate, "jax.reduce_window")`` calls a
candidate with ``lax.reduce_window``'s names on an NHWC input, accepts the dialect function
and an independent NumPy loop of jax's measured rules (written from the facts, not from
pooling_ref: SAME pads sized on the input's own shape, base-dilation holes and padding that
hold no value, init_value reduced with every window, NaN propagating, ``-0`` below ``+0``,
XLA CPU's subnormal flushing except for an elided one-cell copy), and catches each planted
bug with a hint that names the jax rule.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import pooling_ref as pr
from pooling_ref.dialects import jax as pj

FLUSHED = ("float32", "float64", "bfloat16")          # XLA CPU: DAZ / FTZ (float16 kept)


def _flush(v, on: bool):
    if v.dtype.kind in "iu":
        return v
    tiny = np.finfo(np.float32).tiny if v.dtype.name == "bfloat16" else np.finfo(v.dtype).tiny
    if on and v != 0 and abs(float(v)) < float(tiny):
        return v.dtype.type(-0.0 if np.signbit(v) else 0.0)
    return v


def _max(a, b, first_zero=False, skip_nan=False):
    """jax's max: NaN propagates, +0 beats -0 (the bugs: NaN skipped, first zero kept)."""
    if np.isnan(b):
        return a if skip_nan else b
    if np.isnan(a):
        return b if skip_nan else a
    if a == 0 and b == 0 and not first_zero:
        return a if not np.signbit(a) else b
    return b if b > a else a


def _pads(padding, shape, window, strides, dilation):
    if not isinstance(padding, str):
        return [tuple(p) for p in padding]
    pairs = []
    for n, k, s, d in zip(shape, window, strides, dilation):
        total = 0 if padding == "VALID" else max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
        small, large = total // 2, total - total // 2
        pairs.append((large, small) if padding == "SAME_LOWER" else (small, large))
    return pairs


def jax_loop(x, init_value, computation, window_dimensions, window_strides, padding,
             base_dilation=None, window_dilation=None, *, bug=""):
    """``lax.reduce_window`` by a plain loop over outputs and window taps."""
    x = np.asarray(x)
    r = x.ndim
    k, s = tuple(window_dimensions), tuple(window_strides)
    b = (1,) * r if base_dilation is None or bug == "no_base" else tuple(base_dilation)
    d = (1,) * r if window_dilation is None else tuple(window_dilation)
    pads = _pads(padding, x.shape, k, s, d)
    extent = [(n - 1) * bi + 1 for n, bi in zip(x.shape, b)]
    spans = [(ki - 1) * di + 1 for ki, di in zip(k, d)]
    outs = [(e + lo + hi - w) // si + 1 if e + lo + hi >= w else 0
            for e, (lo, hi), w, si in zip(extent, pads, spans, s)]
    dt = x.dtype.type
    lowest = np.iinfo(x.dtype).min if x.dtype.kind in "iu" else -np.inf
    identity = dt(lowest) if computation == "max" else dt(0)
    init = dt(init_value)
    monoid = init == identity
    if bug == "no_init":
        init, monoid = identity, True
    copy = monoid and all(v == 1 for v in k + s + b + d)
    flush = x.dtype.name in FLUSHED and not copy
    y = np.empty(outs, x.dtype)
    for o in itertools.product(*(range(m) for m in outs)):
        acc = dt(0.0) if computation == "add" and monoid else _flush(init, flush)
        for t in itertools.product(*(range(ki) for ki in k)):
            p = [oi * si + ti * di - lo for oi, si, ti, di, (lo, _) in zip(o, s, t, d, pads)]
            inside = all(0 <= pi < e for pi, e in zip(p, extent))
            if not (inside and all(pi % bi == 0 for pi, bi in zip(p, b))):
                if bug == "zero_pad" and not inside:
                    acc = _max(acc, dt(0)) if computation == "max" else acc + dt(0)
                continue
            v = _flush(x[tuple(pi // bi for pi, bi in zip(p, b))], flush)
            acc = _max(acc, v, bug == "first_zero", bug == "skip_nan") \
                if computation == "max" else dt(acc + v)
        y[o] = _flush(acc, flush)
    return y


def test_the_loop_is_hand_checked():
    """Values measured with jax 0.10.2 (parity_tests/test_jax_dialect.py re-measures them):
    init_value in every window, padding adding nothing, holes, SAME on the input's own
    shape with base dilation, a crop, +0 over -0 in either order."""
    x = np.float32([[-3, -2, -1, 5]])
    assert jax_loop(x, 0.0, "max", (1, 2), (1, 2), "VALID").tolist() == [[0, 5]]
    assert jax_loop(x, 1.0, "add", (1, 2), (1, 1), ((0, 0), (1, 1))).tolist() == \
        [[-2, -4, -2, 5, 6]]
    x3 = np.float32([1, 2, 3])
    assert jax_loop(x3, 1.0, "add", (2,), (1,), "VALID", (2,)).tolist() == [2, 3, 3, 4]
    assert jax_loop(x3, 1.0, "add", (2,), (3,), "SAME", (3,)).tolist() == [1 + 1, 1 + 2]
    x7 = np.arange(1, 8, dtype=np.float32)
    assert jax_loop(x7, 0.0, "add", (2,), (1,), ((-1, 1),)).tolist() == [5, 7, 9, 11, 13, 7]
    for zeros in ([-0.0, 0.0], [0.0, -0.0]):
        got = jax_loop(np.float32(zeros), -np.inf, "max", (2,), (1,), "VALID")
        assert got[0] == 0 and not np.signbit(got[0])
        got = jax_loop(np.float32(zeros), -np.inf, "max", (2,), (1,), "VALID", bug="first_zero")
        assert np.signbit(got[0]) == np.signbit(zeros[0])


def test_check_accepts_the_loop_and_the_dialect_function():
    for candidate in (jax_loop, lambda x, **p: pj.reduce_window(x, **p)):
        report = pr.check(candidate, "jax.reduce_window", cases=60, timeout=None)
        assert report.passed and report.cases == 60, str(report)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_check_accepts_the_loop_in_16_bit_floats(dtype):
    report = pr.check(jax_loop, "jax.reduce_window", cases=40, timeout=None, dtype=dtype)
    assert report.passed, str(report)


BUGS = [
    ("first_zero", "orders -0 below +0"),
    ("zero_pad", "pads with zeros"),
    ("no_base", "base_dilation="),
    ("no_init", "takes part in every window"),
    ("skip_nan", "propagates NaN"),
]


@pytest.mark.parametrize("bug, words", BUGS)
def test_check_catches_a_planted_jax_bug(bug, words):
    report = pr.check(lambda x, **p: jax_loop(x, **p, bug=bug), "jax.reduce_window",
                      cases=100, timeout=None)
    assert not report.passed, str(report)
    assert words in str(report), str(report)


R = pj.reduce_window


@pytest.mark.parametrize(("shape", "call", "param"), [
    ((2, 4), lambda x: R(x, 0.0, "min", (1, 2), (1, 1), "VALID"), "computation"),
    ((2, 4), lambda x: R(x, 0.0, "max", (2,), (1, 1), "VALID"), "window_dimensions"),
    ((2, 4), lambda x: R(x, 0.0, "max", 2, (1, 1), "VALID"), "window_dimensions"),
    ((2, 4), lambda x: R(x, 0.0, "max", (1, 2), (1, 0), "VALID"), "window_strides"),
    ((2, 4), lambda x: R(x, 0.0, "max", (1, 2), (1, 1), "FULL"), "padding"),
    ((2, 4), lambda x: R(x, 0.0, "max", (1, 2), (1, 1), ((0, 0),)), "padding"),
    ((2, 4), lambda x: R(x, 0.0, "max", (1, 2), (1, 1), "VALID", (1, 0)), "base_dilation"),
    ((2, 4), lambda x: R(x, 0.0, "max", (1, 2), (1, 1), "VALID", None, (0, 1)),
     "window_dilation"),
    ((2, 4), lambda x: R(x, [0.0], "max", (1, 2), (1, 1), "VALID"), "init_value"),
    ((2, 4), lambda x: R(x.astype(np.int32), -np.inf, "max", (1, 2), (1, 1), "VALID"),
     "init_value"),
    ((2, 4), lambda x: R(x.astype(np.int32), 0, "add", (1, 2), (1, 1), "VALID"), "add"),
    ((2, 4), lambda x: R(x.astype(np.complex64), 0, "add", (1, 2), (1, 1), "VALID"), "x"),
    ((2, 2, 2, 2), lambda x: R(x, 0.0, "max", (2, 2, 2, 2), (1, 1, 1, 1), "VALID"),
     "at most 3 axes"),
    ((1, 4, 4, 2), lambda x: pj.avg_pool(x, 2), "window_shape"),
    ((1, 4, 4, 2), lambda x: pj.avg_pool(x, (2, 2), count_include_pad=1),
     "count_include_pad"),
    ((1, 4, 4, 2), lambda x: pj.avg_pool(x, (2, 2), strides=(1, 0)), "strides"),
    ((4, 2), lambda x: pj.avg_pool(x, (2, 2)), "x"),
])
def test_bad_arguments_name_the_parameter(shape, call, param):
    x = np.zeros(shape, np.float32)
    before = x.copy()
    with pytest.raises((ValueError, TypeError), match=param):
        call(x)
    assert np.array_equal(x, before)


def test_integer_max_and_the_jax_callables():
    """Integer max pooling (init_value an int of x's dtype) and jax's own ``lax.max`` /
    ``lax.add`` objects as computation (recognised by name and module: no jax import)."""
    def max(a, b):      # named and placed like jax.lax.max, without jax
        return a
    max.__module__ = "jax.lax"
    x = np.int32([[1, 5, 3]])
    assert R(x, np.iinfo(np.int32).min, max, (1, 2), (1, 1), "SAME").tolist() == [[5, 5, 3]]
    assert jax_loop(x, np.iinfo(np.int32).min, "max", (1, 2), (1, 1), "SAME").tolist() == \
        [[5, 5, 3]]
