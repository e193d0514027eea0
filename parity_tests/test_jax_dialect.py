"""Parity of :mod:`pooling_ref.dialects.jax` with ``jax.lax.reduce_window`` and flax's
``avg_pool`` (jax's XLA CPU; needs ``pip install 'pooling-ref[jax]'``, nox ``-s jax``).

Randomized windows over every axis (window, stride, SAME / SAME_LOWER / VALID or explicit
pads, negative ones too, base and window dilation, init_value the identity or not) with
special values (NaN, ±inf, ±0, ties, subnormals) in float32, float16, bfloat16 and float64
(jax's x64 mode): ``max`` bit for bit, ``add`` within the derived bound (bitwise where
init_value is the identity: jax adds init_value first). Every difference is a registry
entry with path ``jax``, expected here both ways.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
lax = jax.lax

from pooling_ref.dialects import jax as pj  # noqa: E402
from pooling_ref.tolerance import compare, error_bound  # noqa: E402

from . import _registry as reg  # noqa: E402
from ._assert import assert_bitwise  # noqa: E402

SPECIAL = [np.nan, 0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, 2.5, 1e-40, -1e-40, -3.0]
DTYPES = {"float32": np.float32, "float16": np.float16, "bfloat16": ml_dtypes.bfloat16,
          "float64": np.float64}


def _jax(x, init, computation, *args, **kwargs):
    """``lax.reduce_window`` on ``x`` (float64 under jax's x64 mode)."""
    with jax.enable_x64(x.dtype == np.float64):
        out = lax.reduce_window(jnp.asarray(x), jnp.asarray(init, x.dtype),
                                getattr(lax, computation), *args, **kwargs)
        return np.asarray(out)


def _crop_only(window, strides, padding) -> bool:
    """Registry ``jax-reduce-window-crop-aborts``: the calls that abort the process."""
    return all(k == 1 for k in window) and all(s == 1 for s in strides) and \
        not isinstance(padding, str) and all(lo <= 0 and hi <= 0 for lo, hi in padding) \
        and any(lo < 0 or hi < 0 for lo, hi in padding)


@st.composite
def windows(draw):
    rank = draw(st.integers(1, 4), label="rank")
    shape = [draw(st.integers(1, 6), label="n") for _ in range(rank)]
    active = draw(st.lists(st.integers(0, rank - 1), min_size=1, max_size=3, unique=True),
                  label="active axes")
    window, strides, base, dilation = ([1] * rank for _ in range(4))
    for a in active:
        window[a] = draw(st.integers(1, 3), label="k")
        strides[a] = draw(st.integers(1, 3), label="s")
        base[a] = draw(st.sampled_from([1, 1, 2, 3]), label="base")
        dilation[a] = draw(st.sampled_from([1, 1, 2]), label="dilation")
    padding = draw(st.sampled_from(["SAME", "VALID", "SAME_LOWER", "explicit"]),
                   label="padding")
    if padding == "explicit":
        padding = tuple((draw(st.integers(-1, 2), label="lo"), draw(st.integers(-1, 2),
                                                                     label="hi"))
                        if a in active else (0, 0) for a in range(rank))
    computation = draw(st.sampled_from(["max", "add"]), label="computation")
    init = draw(st.sampled_from([-np.inf, -np.inf, 0.0, -0.0, 1.0, np.nan] if computation ==
                                "max" else [0.0, 0.0, -0.0, 1.0, 0.5]), label="init_value")
    dtype = draw(st.sampled_from(list(DTYPES)), label="dtype")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    special = draw(st.booleans(), label="special values")
    x = (rng.choice(SPECIAL, size=shape) if special else rng.standard_normal(shape))
    return x.astype(DTYPES[dtype]), init, computation, tuple(window), tuple(strides), \
        padding, tuple(base), tuple(dilation)


@given(windows())
def test_reduce_window_matches_jax(case):
    x, init, computation, window, strides, padding, base, dilation = case
    params = {"init_value": init, "computation": computation, "window_dimensions": window,
              "window_strides": strides, "padding": padding, "base_dilation": base,
              "window_dilation": dilation}
    got = pj.reduce_window(x, init, computation, window, strides, padding, base, dilation)
    if _crop_only(window, strides, padding):
        return                                      # the registry entry's own test
    want = _jax(x, init, computation, window, strides, padding, base_dilation=base,
                window_dilation=dilation)
    if computation == "max":
        assert_bitwise(got, want, op="dialects.jax.reduce_window", params=params,
                       arrays={"x": x}, what="differs from jax")
        return
    mag = pj.reduce_window(np.abs(x.astype(np.float64)), abs(init), "add", window, strides,
                           padding, base, dilation)
    c = compare(got, want, error_bound(mag, int(np.prod(window)) + 1, x.dtype, x.dtype))
    assert c.ok, f"{c}\nparams={params!r}\nx={x.tolist()!r}"


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_sums_with_the_identity_init_are_bitwise(dtype):
    """jax's add rounds each addition to the input dtype, in the window's row-major order
    (16-bit floats are not summed in float32): bitwise on 2 x 9 x 9 x 3 inputs."""
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((2, 9, 9, 3)) * 10).astype(DTYPES[dtype])
    for window, strides, padding in (((1, 3, 3, 1), (1, 2, 1, 1), "SAME"),
                                     ((1, 2, 4, 1), (1, 1, 3, 1), ((0, 0), (1, 0), (2, 1),
                                                                    (0, 0)))):
        assert_bitwise(pj.reduce_window(x, 0.0, "add", window, strides, padding),
                       _jax(x, 0.0, "add", window, strides, padding),
                       op="dialects.jax.reduce_window", params={"padding": padding},
                       arrays={"x": x}, what="differs from jax")


# ----------------------------------------------------------------------------- facts


def test_measured_special_value_rules():
    """NaN propagates; -0 is below +0 in either order (init_value included); subnormals
    read and written as zeros, except in an elided one-cell copy (identity init_value,
    no dilation) — a window dilation of 2 on a one-cell window is no copy."""
    f = np.float32
    for cells in ([-0.0, 0.0], [0.0, -0.0]):
        assert not np.signbit(_jax(f(cells), -np.inf, "max", (2,), (1,), "VALID")[0])
    assert np.signbit(_jax(f([-0.0, -0.0]), -0.0, "max", (2,), (1,), "VALID")[0])
    assert not np.signbit(_jax(f([-0.0, -0.0]), 0.0, "max", (2,), (1,), "VALID")[0])
    assert np.isnan(_jax(f([1, 2, np.nan]), -np.inf, "max", (3,), (1,), "VALID")).all()
    sub = f([1e-45, -1e-45])
    assert _jax(sub, -np.inf, "max", (1,), (1,), "VALID").tolist() == sub.tolist()
    assert _jax(sub, -np.inf, "max", (1,), (1,), "VALID", window_dilation=(2,)).tolist() \
        == [0, 0]
    assert _jax(f([3e-45, -1e-45]), -np.inf, "max", (2,), (1,), "VALID").tolist() == [0]
    for x, init, comp, args, kw in (
            (f([1e-45, -1e-45]), -np.inf, "max", ((1,), (1,), "VALID"), {}),
            (f([1e-45, -1e-45]), -np.inf, "max", ((1,), (1,), "VALID"), {"window_dilation": (2,)}),
            (f([1e-45, -1e-45]), 0.0, "max", ((1,), (1,), "VALID"), {}),
            (f([-0.0, 0.0, -0.0]), -np.inf, "max", ((2,), (1,), "SAME"), {})):
        assert_bitwise(pj.reduce_window(x, init, comp, *args, **kw),
                       _jax(x, init, comp, *args, **kw), op="dialects.jax.reduce_window",
                       params=kw, arrays={"x": x}, what="differs from jax")


def test_measured_window_rules():
    """init_value reduced with every window; padding and holes hold nothing (add with
    init_value 1 adds it once); SAME sized on the input's own shape under base dilation;
    negative pads crop; a window larger than the input gives an empty result."""
    f = np.float32
    cases = [(f([[-3, -2, -1, 5]]), 0.0, "max", ((1, 2), (1, 2), "VALID"), {}, [[0, 5]]),
             (f([-3, -2, -1, 5]), 1.0, "add", ((2,), (1,), ((1, 1),)), {},
              [-2, -4, -2, 5, 6]),
             (f([1, 2, 3]), 1.0, "add", ((2,), (1,), "VALID"), {"base_dilation": (2,)},
              [2, 3, 3, 4]),
             (f([1, 2, 3]), 1.0, "add", ((2,), (3,), "SAME"), {"base_dilation": (3,)},
              [2, 3]),
             (f([1, 2, 3, 4, 5, 6, 7]), 0.0, "add", ((2,), (1,), ((-1, 1),)), {},
              [5, 7, 9, 11, 13, 7]),
             (f([1, 2]), 0.0, "add", ((3,), (1,), "VALID"), {}, [])]
    for x, init, comp, args, kw, want in cases:
        assert _jax(x, init, comp, *args, **kw).tolist() == want
        assert pj.reduce_window(x, init, comp, *args, **kw).tolist() == want


# ----------------------------------------------------------------------------- flax


@given(windows())
def test_avg_pool_matches_flax(case):
    """flax's avg_pool on the drawn inputs (an input of rank >= 3 read as (batch, *window
    axes, features)), both count_include_pad values: within the bound of the window's sum
    (jax's summation order varies: registry jax-reduce-window-sum-order)."""
    flax_pool = pytest.importorskip("flax.linen.pooling")
    x, *_, window, strides = case[:5]
    if x.ndim < 3 or x.dtype == np.float64:
        return
    n = x.ndim - 2
    window, strides = tuple(case[3][1:1 + n]), tuple(case[4][1:1 + n])
    padding = case[5] if isinstance(case[5], str) else tuple(case[5][1:1 + n])
    if not isinstance(padding, str) and any(lo < 0 or hi < 0 for lo, hi in padding):
        padding = "VALID"
    for include in (True, False):
        want = np.asarray(flax_pool.avg_pool(jnp.asarray(x), window, strides, padding,
                                             include))
        got = pj.avg_pool(x, window, strides, padding, include)
        mag = pj.avg_pool(np.abs(x.astype(np.float64)), window, strides, padding, include)
        c = compare(got, want, error_bound(mag, int(np.prod(window)) + 2, x.dtype, x.dtype))
        assert c.ok, f"{c}\nwindow={window} strides={strides} padding={padding!r} " \
            f"count_include_pad={include}\nx={x.tolist()!r}"
        assert got.dtype == want.dtype


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool_divides_by_the_rounded_reciprocal(dtype, count_include_pad):
    """Where jax sums in row-major order (here: VALID, window (3, 2)), flax's average is
    the sum times the rounded reciprocal of the divisor, bit for bit."""
    flax_pool = pytest.importorskip("flax.linen.pooling")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 7, 6, 3)).astype(dtype)
    want = np.asarray(flax_pool.avg_pool(jnp.asarray(x), (3, 2), (2, 1), "VALID",
                                         count_include_pad))
    got = pj.avg_pool(x, (3, 2), (2, 1), "VALID", count_include_pad)
    assert_bitwise(got, want, op="dialects.jax.avg_pool", arrays={"x": x},
                   params={"count_include_pad": count_include_pad}, what="differs from flax")
    assert not np.array_equal(got, (pj.reduce_window(x, 0.0, "add", (1, 3, 2, 1), (1, 2, 1, 1),
                                                     "VALID") / np.float32(6)).astype(got.dtype))


# ----------------------------------------------------------------------------- registry


def test_one_cell_crop_aborts_the_process():
    """Registry ``jax-reduce-window-crop-aborts``: one-cell windows at stride 1 with
    non-positive pads, one of them negative (a plain crop), abort the Python process in
    XLA's algebraic simplifier (the reduce-window is replaced by an operand of another
    shape); pooling_ref returns the crop."""
    code = textwrap.dedent("""
        import numpy as np, jax.numpy as jnp
        from jax import lax
        x = jnp.asarray(np.float32([1, 2, 3, 4]))
        print(np.asarray(lax.reduce_window(x, 0.0, lax.add, (1,), (1,), ((-1, -1),))))
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    aborted = run.returncode != 0 and "Check failed" in run.stderr
    reg.expect("jax-reduce-window-crop-aborts", aborted, "jax",
               f"exit status {run.returncode}, stdout {run.stdout.strip()!r}")
    assert pj.reduce_window(np.float32([1, 2, 3, 4]), 0.0, "add", (1,), (1,),
                            ((-1, -1),)).tolist() == [2, 3]
    if not aborted:
        assert run.stdout.split() == ["[2.", "3.]"], run.stdout


def test_bfloat16_sum_over_three_axes_within_the_bound():
    """Registry ``jax-bfloat16-sum-over-3-axes``: over three windowed axes pooling_ref
    sums bfloat16 in float32 (the core's 3D bfloat16 rules), jax in bfloat16: within the
    bound, not bitwise (over two axes bitwise: test_sums_with_the_identity_init_are_bitwise)."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((2, 6, 6, 6)) * 10).astype(ml_dtypes.bfloat16)
    args = ((1, 3, 3, 3), (1, 1, 1, 1), "VALID")
    got, want = pj.reduce_window(x, 0.0, "add", *args), _jax(x, 0.0, "add", *args)
    mag = pj.reduce_window(np.abs(x.astype(np.float64)), 0.0, "add", *args)
    assert compare(got, want, error_bound(mag, 28, x.dtype, x.dtype)).ok
    reg.expect("jax-bfloat16-sum-over-3-axes", not compare(got, want).ok, "jax",
               "bfloat16 add over a (3, 3, 3) window")


def test_padded_sums_in_another_order_within_the_bound():
    """Registry ``jax-reduce-window-sum-order``: with padding XLA CPU sums some windows in
    another order (here column-major); pooling_ref sums row-major: within the bound, and
    bitwise without the padding."""
    x = np.random.default_rng(7).standard_normal((2, 7, 6, 3)).astype(np.float32)
    same = ((1, 3, 2, 1), (1, 2, 1, 1), "SAME")
    got, want = pj.reduce_window(x, 0.0, "add", *same), _jax(x, 0.0, "add", *same)
    mag = pj.reduce_window(np.abs(x.astype(np.float64)), 0.0, "add", *same)
    assert compare(got, want, error_bound(mag, 7, x.dtype)).ok
    column_major = np.float32(0)
    for v in x[0, 1:4, 0:2, 1].T.ravel():
        column_major = np.float32(column_major + v)
    reg.expect("jax-reduce-window-sum-order", not compare(got, want).ok, "jax",
               f"jax {want[0, 1, 0, 1]!r}, column-major {column_major!r}, pooling_ref "
               f"{got[0, 1, 0, 1]!r}")
    valid = ((1, 3, 2, 1), (1, 2, 1, 1), "VALID")
    assert_bitwise(pj.reduce_window(x, 0.0, "add", *valid), _jax(x, 0.0, "add", *valid),
                   op="dialects.jax.reduce_window", params={}, arrays={"x": x},
                   what="differs from jax without padding")
