"""pooling_ref.dialects.litert against the LiteRT interpreter (``ai-edge-litert``): one Keras
pooling layer per configuration, converted float32 and full-integer, run under each CPU op
resolver ("xnnpack" = AUTO, "builtin" = BUILTIN_WITHOUT_DEFAULT_DELEGATES, "reference" =
BUILTIN_REF) and compared bit for bit (NaN at the same positions) with the dialect's rule
for that kernel. Every difference from the Keras semantics of the core is a registry entry
with a path ``litert-<kernel>``, shown on the paths it lists and checked absent elsewhere.

Skipped when ai_edge_litert is missing (``pip install '.[litert]'``); ``nox -s litert`` sets
POOLING_REF_REQUIRE_LITERT=1, which turns that into a failure.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import _registry as reg
from parity_tests._litert import (
    PATHS,
    RESOLVERS,
    edit_output_quantization,
    pool_model,
    require_litert,
    run,
)
from pooling_ref import avg_pool, max_pool
from pooling_ref.dialects import litert
from pooling_ref.dialects._windows2d import gather
from pooling_ref.tolerance import avg_pool_bound, compare

pytestmark = pytest.mark.litert

require_litert()
F = np.float32
SPECIALS = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-45, -1e-45, 1.2e-38, 3.4e38, -3.4e38]
CHANNELS = (1, 3, 8, 17)              # few values: converted models are cached per config


@st.composite
def geometries(draw):
    fh, fw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    sh, sw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    low = (fh, fw) if padding == "VALID" else (1, 1)
    h, w = draw(st.integers(low[0], 9)), draw(st.integers(low[1], 9))
    shape = (draw(st.integers(1, 2)), h, w, draw(st.sampled_from(CHANNELS)))
    return shape, (fh, fw), (sh, sw), padding


@st.composite
def float_inputs(draw, shape):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * draw(st.sampled_from([1.0, 1e-38, 1e30]))).astype(F)
    share = draw(st.sampled_from([0.0, 0.1, 0.4]))
    mask = rng.random(shape) < share
    x[mask] = rng.choice(np.array(SPECIALS, F), int(mask.sum()))
    return x


def _pooling(kind: str):
    return litert.max_pool_2d if kind == "max" else litert.average_pool_2d


@given(data=st.data(), kind=st.sampled_from(["max", "avg"]),
       activation=st.sampled_from(sorted(litert.ACTIVATIONS)))
def test_float_pooling_matches_each_kernel(data, kind, activation):
    shape, fs, strides, padding = data.draw(geometries())
    x = data.draw(float_inputs(shape))
    content = pool_model(kind, fs, strides, padding, shape[-1], activation=activation)
    for kernel in RESOLVERS:
        got = run(content, x, kernel)
        want = _pooling(kind)(x, fs, strides, padding, activation=activation, kernel=kernel)
        c = compare(got, want)
        assert c.ok, f"{kernel}: {c}\nx = {x!r}"


# --------------------------------------------------------------------------- quantized

QUANT = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}
SCALES = [0.0314, 2.4, 0.8, 1 / 3, 1e-3, 1e-6, 0.05, 100.0]   # 6 / 2.4, 6 / 0.8: .5 ties


@st.composite
def quantized_case(draw):
    dtype = draw(st.sampled_from(sorted(QUANT)))
    lo, hi = QUANT[dtype]
    zp = 0 if dtype == "int16" else draw(st.sampled_from([lo, hi, (lo + hi) // 2, lo + 3]))
    scale = float(F(draw(st.sampled_from(SCALES))))
    fs = draw(st.sampled_from([(1, 2), (2, 2), (2, 1), (3, 3), (1, 4), (4, 5)]))
    strides = draw(st.sampled_from([fs, (1, 1), (2, 2), (1, 3)]))
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    shape = (draw(st.integers(1, 2)), draw(st.integers(fs[0], 7)),
             draw(st.integers(fs[1], 7)), draw(st.sampled_from((1, 5))))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.integers(lo, hi + 1, shape)
    extremes = rng.random(shape) < draw(st.sampled_from([0.0, 0.3, 0.9]))
    x[extremes] = rng.choice([lo, hi, zp, lo + 1, hi - 1], int(extremes.sum()))
    return x.astype(dtype), fs, strides, padding, scale, zp


@given(case=quantized_case(), kind=st.sampled_from(["max", "avg"]),
       activation=st.sampled_from(sorted(litert.ACTIVATIONS)))
def test_quantized_pooling_matches_each_kernel(case, kind, activation):
    x, fs, strides, padding, scale, zp = case
    content = pool_model(kind, fs, strides, padding, x.shape[-1], activation=activation,
                         dtype=x.dtype.name, scale=scale, zero_point=zp)
    rule = litert.max_pool_2d_q if kind == "max" else litert.average_pool_2d_q
    for kernel in RESOLVERS:
        got = run(content, x, kernel)
        want = rule(x, fs, strides, padding, scale, zp, activation=activation, kernel=kernel)
        c = compare(got, want)
        assert c.ok, f"{kernel}: {c}\nx = {x!r}"


@pytest.mark.parametrize("dtype", sorted(QUANT))
@pytest.mark.parametrize("fs", [(1, 2), (2, 2), (2, 3)])
def test_quantized_average_every_rounding_tie(dtype, fs):
    """Windows whose raw sums hit every residue ``count / 2`` tie (and the ones around it)
    across the dtype's range: LiteRT's rule on all three resolvers, and the alternatives
    fail (counted: a rule that rounds ``q - zero_point``, or half to even, must differ)."""
    lo, hi = QUANT[dtype]
    count = fs[0] * fs[1]
    starts = np.linspace(lo, hi - 1, 64).astype(np.int64)
    cells = np.clip(starts[:, None] + np.arange(count)[None, :] % 2, lo, hi)  # sums k*a + k/2
    x = cells.reshape(1, -1, fs[0], fs[1]).transpose(0, 2, 1, 3).reshape(1, fs[0], -1, 1)
    x = np.ascontiguousarray(np.repeat(x, 1, 0)).astype(dtype)
    zp = 0 if dtype == "int16" else lo + 1
    sums = cells.sum(-1)
    ties = int(np.sum(2 * (sums % count) == count))
    assert ties >= 60 if count % 2 == 0 else ties == 0
    content = pool_model("avg", fs, fs, "VALID", 1, dtype=dtype, scale=0.05, zero_point=zp)
    want = litert.average_pool_2d_q(x, fs, fs, "VALID", 0.05, zp)
    half_even = np.round(sums / count).astype(dtype)
    for kernel in RESOLVERS:
        got = run(content, x, kernel)
        np.testing.assert_array_equal(got, want, err_msg=kernel)
        if ties:
            assert np.count_nonzero(got.ravel() != half_even) > 0


@pytest.mark.parametrize("dtype", sorted(QUANT))
def test_quantized_average_ties_at_every_border_count(dtype):
    """A 4x4 SAME window on 7x7 inputs has 2, 3 or 4 real rows and columns: real-cell counts
    4, 6, 8, 9, 12 and 16. Random inputs give exact .5 ties at every even count (asserted,
    counted from the window sums), at the borders as inside; all three resolvers equal the
    dialect on every window, and rounding half to even would not."""
    lo, hi = QUANT[dtype]
    rng = np.random.default_rng(sorted(QUANT).index(dtype))
    x = rng.integers(lo, hi + 1, (2, 7, 7, 5)).astype(dtype)
    zp = 0 if dtype == "int16" else lo + 7
    w = gather(x, (4, 4), (1, 1), "SAME")
    sums = np.where(w.real[None, :, :, None, :], w.cells.astype(np.int64), 0).sum(-1)
    counts = np.broadcast_to(w.counts()[None, :, :, None], sums.shape)
    ties = 2 * (np.abs(sums) % counts) == counts
    assert set(np.unique(counts)) == {4, 6, 8, 9, 12, 16}
    assert set(np.unique(counts[ties])) == {4, 6, 8, 12, 16}, np.unique(counts[ties])
    content = pool_model("avg", (4, 4), (1, 1), "SAME", 5, dtype=dtype, scale=0.05,
                         zero_point=zp)
    want = litert.average_pool_2d_q(x, (4, 4), 1, "SAME", 0.05, zp)
    for kernel in RESOLVERS:
        got = run(content, x, kernel)
        np.testing.assert_array_equal(got, want, err_msg=kernel)
    assert np.count_nonzero(want[ties] != np.round(sums / counts)[ties]) > 0


# --------------------------------------------------------------------------- registry


def _keras_rule(kind, x, fs, strides, padding):
    core = max_pool if kind == "max" else avg_pool
    return core(x, fs, strides, padding.lower(), tf_kernel=None)


def _differs(kind, x, fs, strides, padding, kernel, **model):
    content = pool_model(kind, fs, strides, padding, x.shape[-1], **model)
    got = run(content, x, kernel)
    return not compare(got, _keras_rule(kind, x, fs, strides, padding)).ok, got


@pytest.mark.parametrize("kernel", sorted(RESOLVERS))
def test_infinities_clamped(kernel):
    """Registry ``litert-inf-clamped``: max of [inf, 1], average of [inf, 1] and [-inf, -inf]
    (a geometry the XNNPACK delegate takes)."""
    x = np.array([np.inf, 1, -np.inf, -np.inf], F).reshape(1, 1, 4, 1)
    for kind, cells in (("max", x[:, :, :2]), ("avg", x)):
        differs, got = _differs(kind, cells, (1, 2), (1, 2), "VALID", kernel)
        reg.expect("litert-inf-clamped", differs, PATHS[kernel], f"{kind}: {got.ravel()}")
        if differs:
            assert np.abs(got).max() == np.finfo(F).max
    reg.skip_other_path("litert-inf-clamped", PATHS[kernel])


@pytest.mark.parametrize("kernel", sorted(RESOLVERS))
def test_nan_window_gives_minus_inf(kernel):
    """Registry ``litert-xnnpack-nan-to-low``: average of [NaN, 1], max of [NaN, 1, 2] and of
    [-inf, -inf] (Keras: the lowest finite value)."""
    x = np.array([np.nan, 1, 2], F).reshape(1, 1, 3, 1)
    avg = _differs("avg", x[:, :, :2], (1, 2), (1, 2), "VALID", kernel)[1].item()
    top = _differs("max", x, (1, 3), (1, 3), "VALID", kernel)[1].item()
    empty = _differs("max", np.full((1, 1, 2, 1), -np.inf, F), (1, 2), (1, 2), "VALID",
                     kernel)[1].item()
    assert np.isnan(avg) or avg == -np.inf
    assert top in (2, -np.inf) and empty in (-np.inf, -np.finfo(F).max)
    reg.expect("litert-xnnpack-nan-to-low", avg == top == empty == -np.inf,
               PATHS[kernel], f"avg {avg}, max {top}, max of -inf {empty}")
    reg.skip_other_path("litert-xnnpack-nan-to-low", PATHS[kernel])


@pytest.mark.parametrize("kernel", sorted(RESOLVERS))
def test_average_order(kernel):
    """Registry ``litert-xnnpack-avg-order``: 3x3 'same' average of 200 random outputs."""
    x = np.random.default_rng(0).standard_normal((2, 10, 10, 1)).astype(F)
    differs, got = _differs("avg", x, (3, 3), (1, 1), "SAME", kernel)
    reg.expect("litert-xnnpack-avg-order", differs, PATHS[kernel])
    if differs:
        keras = _keras_rule("avg", x, (3, 3), (1, 1), "SAME")
        bound = avg_pool_bound(x, (3, 3), strides=1, padding="same")   # any summation order
        assert compare(got, keras, bound=bound).ok
    reg.skip_other_path("litert-xnnpack-avg-order", PATHS[kernel])


@pytest.mark.parametrize("kernel", sorted(RESOLVERS))
def test_subnormals_flushed(kernel):
    """Registry ``litert-xnnpack-subnormals-flushed``: max of [s, -1], average of [3s, s]."""
    s = np.finfo(F).smallest_subnormal
    x = np.array([s, -1], F).reshape(1, 1, 2, 1)
    top = _differs("max", x, (1, 2), (1, 2), "VALID", kernel)
    avg = _differs("avg", np.array([3 * s, s], F).reshape(1, 1, 2, 1), (1, 2), (1, 2),
                   "VALID", kernel)
    flushed = top[1].item() == 0 and avg[1].item() == 0
    reg.expect("litert-xnnpack-subnormals-flushed", flushed, PATHS[kernel],
               f"max {top[1].item()}, avg {avg[1].item()}")
    assert flushed == (top[0] and avg[0])
    reg.skip_other_path("litert-xnnpack-subnormals-flushed", PATHS[kernel])


@pytest.mark.parametrize("kernel", sorted(RESOLVERS))
def test_max_zero_sign(kernel):
    """Registry ``litert-xnnpack-max-zero-sign``: the 1x9 window of test_litert_dialect."""
    x = np.array([-1, -1, -0.0, -1, -1, -1, 0.0, -1, -1], F).reshape(1, 1, 9, 1)
    differs, got = _differs("max", x, (1, 9), (1, 9), "VALID", kernel)
    reg.expect("litert-xnnpack-max-zero-sign", differs, PATHS[kernel], f"{got.item()}")
    reg.skip_other_path("litert-xnnpack-max-zero-sign", PATHS[kernel])


@pytest.mark.parametrize("kernel", sorted(RESOLVERS))
def test_quantized_activation_half_even(kernel):
    """Registry ``litert-xnnpack-quantized-activation-half-even``: int8 max pooling with
    RELU6, scale 0.8, zero point -3: 6 / 0.8 = 7.5 -> LiteRT's kernels 5, XNNPACK 4."""
    x = np.array([10, 20], np.int8).reshape(1, 1, 2, 1)
    content = pool_model("max", (1, 2), (1, 2), "VALID", 1, activation="RELU6",
                         dtype="int8", scale=float(F(0.8)), zero_point=-3)
    got = run(content, x, kernel).item()
    assert got in (4, 5)
    reg.expect("litert-xnnpack-quantized-activation-half-even", got == 4, PATHS[kernel])
    reg.skip_other_path("litert-xnnpack-quantized-activation-half-even", PATHS[kernel])


@pytest.mark.parametrize("kernel", sorted(RESOLVERS))
def test_pooling_does_not_requantize(kernel):
    """Registry ``litert-pool-requantization-missing``: an int8 average pooling whose output
    tensor has scale 0.25 while its input has 0.5 returns the raw integers computed for equal
    parameters (2x2 means of arange(16): [3, 5, 11, 13]) — real values halved — where the
    requantized result is [6, 10, 22, 26]; max pooling under XNNPACK refuses to prepare."""
    x = np.arange(16, dtype=np.int8).reshape(1, 4, 4, 1)
    base = pool_model("avg", (2, 2), (2, 2), "VALID", 1, dtype="int8", scale=0.5,
                      zero_point=0)
    got = run(edit_output_quantization(base, 0.25, 0), x, kernel).ravel().tolist()
    assert got in ([3, 5, 11, 13], [6, 10, 22, 26])
    reg.expect("litert-pool-requantization-missing", got == [3, 5, 11, 13], PATHS[kernel])
    reg.skip_other_path("litert-pool-requantization-missing", PATHS[kernel])
