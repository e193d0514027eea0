"""The "compiled" method (Numba): bitwise the "loop" specification, optional, and hideable.

* Every method agrees bit for bit with "loop" for max and average pooling on the Hypothesis
  cases of :mod:`parity_tests.strategies` (both formats, all ranks, strides smaller/larger
  than windows, "same" padding, ties and signed zeros, scales) in every dtype (float16/32/64,
  bfloat16, integers for max); ``nan="propagate"`` too. NaN, infinities, subnormals and
  the largest finite values are drawn by ``test_fast_paths.py`` (fast and compiled).
* The float16 rounding helper of the kernel equals NumPy's float64 -> float16 conversion,
  including ties, the subnormal range and the overflow threshold.
* Global pooling: "compiled" (and "auto") is bitwise the NumPy specification — TF's
  reduce_max rule (NaN propagates, last of equal maxima) and NumPy's pairwise sum order —
  on the global cases of the strategies and on long axes (up to 700 cells: the 8-way and
  the recursive halves of the pairwise sum) holding NaN, infinities, signed zeros,
  subnormals and the largest finite values, in every layout.
* With ``POOLING_REF_DISABLE_NUMBA=1`` (a subprocess), ``"auto"`` falls back to the NumPy
  ``"fast"`` method with identical results (pooling, global pooling, gradients) and
  ``method="compiled"`` raises a clear ``ImportError``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling_ref as pr
from pooling_ref import _compiled, methods

from ._assert import assert_bitwise
from .strategies import global_pool_cases, pool_cases
from .test_fast_paths import _dtype, _fast_settings, special_values

#: Every method of max / average pooling but the loop, and "auto" (the method table).
METHODS = (*(m for m in methods.names("max_pool") if m != "loop"), "auto")
DTYPES = ("float32", "float64", "float16", "bfloat16")
needs_numba = pytest.mark.skipif(
    not _compiled.AVAILABLE,
    reason="Numba not available (not installed, or POOLING_REF_DISABLE_NUMBA set)")
POOLS = {"max_pool": pr.max_pool, "avg_pool": pr.avg_pool}


def _available_methods():
    return METHODS


@pytest.mark.parametrize("dtype", (*DTYPES, "int8", "int32", "int64", "uint8", "uint16"))
@pytest.mark.parametrize("op", sorted(POOLS))
@given(data=st.data())
def test_every_method_is_bitwise_the_loop(op, dtype, data):
    if op == "avg_pool" and not dtype.startswith("float") and dtype != "bfloat16":
        return                                   # Keras averages reject integers
    if dtype == "bfloat16":
        pytest.importorskip("ml_dtypes")
        import ml_dtypes  # noqa: F401  (registers the dtype name)
    case = data.draw(pool_cases(dtypes=(dtype,)), label="case")
    x, params = case.x, case.params
    x_before = x.copy()
    with np.errstate(all="ignore"):
        expected = POOLS[op](x, **params, method="loop")
        for method in _available_methods():
            got = POOLS[op](x, **params, method=method)
            assert_bitwise(got, expected, op=op, params={**params, "method": method},
                           arrays={"x": x}, what=f"method {method!r} differs from 'loop'")
    assert_bitwise(x, x_before, op=op, params=params, arrays={"x": x},
                   what="mutated its input")


@needs_numba
@pytest.mark.parametrize("dtype", ("float32", "float16", "bfloat16", "float64"))
@given(data=st.data())
def test_compiled_nan_propagate_is_the_loop(dtype, data):
    if dtype == "bfloat16":
        pytest.importorskip("ml_dtypes")
        import ml_dtypes  # noqa: F401  (registers the dtype name)
    case = data.draw(pool_cases(dtypes=(dtype,)), label="case")
    expected = pr.max_pool(case.x, **case.params, method="loop", nan="propagate")
    got = pr.max_pool(case.x, **case.params, method="compiled", nan="propagate")
    assert_bitwise(got, expected, op="max_pool",
                   params={**case.params, "method": "compiled", "nan": "propagate"},
                   arrays={"x": case.x}, what="compiled differs from loop")


def test_hand_derived_half_precision_average():
    """float16 sums round after every step, as the loop (and TF) do: 2048 + 1 + 1 in
    float16 is 2048 (2049 is a tie, rounded to even 2048, twice), so the mean of the window
    [2048, 1, 1] is 2048/3 = 682.666... -> float16 682.5 (spacing 0.5 there); a float32 sum
    would give 2050/3 = 683.33 -> 683.5."""
    x = np.float16([2048, 1, 1]).reshape(1, 3, 1)
    want = np.float16([682.5]).reshape(1, 1, 1)
    for method in ("loop", *_available_methods()):
        assert_bitwise(pr.avg_pool(x, 3, method=method), want, op="avg_pool",
                       params={"pool_size": 3, "method": method}, arrays={"x": x},
                       what="differs from the hand-derived value")


GLOBALS = {"global_max_pool": pr.global_max_pool, "global_avg_pool": pr.global_avg_pool}


def _global_agree(op, x, params):
    with np.errstate(all="ignore"):
        expected = GLOBALS[op](x, **params, method="loop")
        for method in ("compiled", "auto"):
            got = GLOBALS[op](x, **params, method=method)
            assert_bitwise(got, expected, op=op, params={**params, "method": method},
                           arrays={"x": x}, what=f"method {method!r} differs from 'loop'")


@needs_numba
@pytest.mark.parametrize("dtype", (*DTYPES, "int32", "uint8"))
@pytest.mark.parametrize("op", sorted(GLOBALS))
@given(data=st.data())
def test_compiled_global_pooling_is_the_specification(op, dtype, data):
    if dtype == "bfloat16":
        pytest.importorskip("ml_dtypes")
        import ml_dtypes  # noqa: F401  (registers the dtype name)
    case = data.draw(global_pool_cases(dtypes=(dtype,)), label="case")
    x = case.x
    if case.data_format == "channels_last" and x.shape[-1]:
        # the compiled kernels take >= CHANNELS_INNER_MIN channels (else NumPy runs)
        x = np.concatenate([x] * -(-_compiled.CHANNELS_INNER_MIN // x.shape[-1]), axis=-1)
    x_before = x.copy()
    _global_agree(op, x, case.params)
    assert_bitwise(x, x_before, op=op, params=case.params, arrays={"x": x},
                   what="mutated its input")


@needs_numba
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", sorted(GLOBALS))
@given(data=st.data())
def test_compiled_global_pooling_long_axes_and_special_values(op, dtype, data):
    dt = _dtype(dtype)
    cells = data.draw(st.integers(1, 700), label="cells")
    rank = data.draw(st.sampled_from((1, 2)), label="rank")
    spatial = (cells,) if rank == 1 else (cells // 7 + 1, 7)
    batch, channels = data.draw(st.integers(1, 2), label="batch"), data.draw(
        st.integers(1, 20), label="channels")          # >= 8 channels_last: compiled
    fmt = data.draw(st.sampled_from(("channels_last", "channels_first")), label="fmt")
    shape = ((batch, *spatial, channels) if fmt == "channels_last"
             else (batch, channels, *spatial))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    scale = 10.0 ** rng.integers(-3, 4, size=shape)
    x = (rng.standard_normal(shape) * scale).astype(dt)
    special = special_values(dt)
    hits = data.draw(st.integers(0, 6), label="special cells")
    flat = x.reshape(-1)
    for i in rng.integers(0, flat.size, size=hits):
        flat[i] = special[rng.integers(0, special.size)]
    if data.draw(st.booleans(), label="non-contiguous"):
        x = np.flip(x, axis=1)
    _global_agree(op, x, {"data_format": fmt})


@needs_numba
@pytest.mark.parametrize("dtype", ("float32", "float64"))
@given(data=st.data())
def test_special_cells_is_the_numpy_check(dtype, data):
    """The one-pass scan equals NumPy's checks: some ``0 < |v| < tiny``; some NaN/-inf."""
    dt = np.dtype(dtype)
    size = data.draw(st.integers(0, 3000), label="size")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    x = rng.standard_normal(size).astype(dt)
    special = special_values(dt)
    for i in rng.integers(0, max(size, 1), size=data.draw(st.integers(0, 3), label="hits")):
        if size:
            x[i] = special[rng.integers(0, special.size)]
    with np.errstate(invalid="ignore"):
        want = (bool(((np.abs(x) < np.finfo(dt).tiny) & (x != 0)).any()),
                bool((~(x > -np.inf)).any()))
    with _fast_settings(1 << 20, data.draw(st.booleans(), label="parts on threads")):
        got = _compiled.special_cells(x)
    assert got == want, f"got {got}, want {want}: {x[~(np.abs(x) > 1e-30)]}"
    assert size < 3 or _compiled.special_cells(x[::2]) is None      # not contiguous


@needs_numba
def test_round_f16_is_numpys_conversion():
    from numba import njit

    from pooling_ref._compiled import _steps

    rounds = njit(lambda a: np.array([_steps._round_f16(v) for v in a]))
    f16 = np.arange(2**16, dtype=np.uint16).view(np.float16)
    f16 = f16[np.isfinite(f16)].astype(np.float64)
    f16.sort()
    mids = (f16[:-1] + f16[1:]) / 2                      # ties: round to even
    rng = np.random.default_rng(0)
    near = mids * (1 + rng.choice([-1, 1], mids.size) * 2.0**-40)   # just off a tie
    values = np.concatenate([f16, mids, near, rng.standard_normal(10_000) * 1e3,
                             [65504.0, 65519.99, 65520.0, -65520.0, 1e6, np.inf, -np.inf,
                              2.0**-25, 2.0**-26, -2.0**-25 * 1.5, 0.0, -0.0]])
    got = rounds(values)
    with np.errstate(over="ignore"):
        want = values.astype(np.float16).astype(np.float64)
    bad = np.flatnonzero(got.view(np.uint64) != want.view(np.uint64))
    assert bad.size == 0, (f"_round_f16 differs from NumPy at {bad.size} values, e.g. "
                           f"{values[bad[:5]].tolist()} -> {got[bad[:5]].tolist()} "
                           f"(want {want[bad[:5]].tolist()})")


# ----------------------------------------------------------------------------- without Numba


_HIDDEN = r"""
import json, sys
import numpy as np
import pooling_ref as pr
from pooling_ref import _compiled
from pooling_ref.methods import resolve
x = np.load(sys.argv[1])
out = {"available": _compiled.AVAILABLE, "auto": resolve("auto", "max_pool")}
np.save(sys.argv[2], pr.max_pool(x, 3, 2, "same"))
np.save(sys.argv[3], pr.avg_pool(x, (2, 3), 1, "same", "channels_first"))
x8 = np.concatenate([x, x], axis=-1)                     # 10 channels: compiled globals
np.save(sys.argv[4], pr.global_max_pool(x8))
np.save(sys.argv[5], pr.global_avg_pool(x8))
np.save(sys.argv[6], pr.max_pool_grad(x, np.ones((2, 3, 4, 5), np.float32), 2))
try:
    pr.max_pool(x, 2, method="compiled")
    out["error"] = None
except ImportError as e:
    out["error"] = str(e)
print(json.dumps(out))
"""


def test_auto_falls_back_when_numba_is_hidden(tmp_path):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 7, 9, 5)).astype(np.float32)
    x[0, 1, 2] = np.nan
    paths = [tmp_path / n for n in ("x.npy", "max.npy", "avg.npy", "gmax.npy", "gavg.npy",
                                    "grad.npy")]
    np.save(paths[0], x)
    env = {**os.environ, _compiled.DISABLE_ENV: "1"}
    proc = subprocess.run([sys.executable, "-c", _HIDDEN, *map(str, paths)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["available"] is False and info["auto"] == "fast", info
    assert info["error"] is not None, "method='compiled' ran with Numba hidden"
    assert "method='compiled'" in info["error"], info["error"]
    assert "pip install 'pooling-ref[fast]'" in info["error"], info["error"]
    # the fallback's results equal this process's default method (compiled where Numba
    # is installed) and the loop specification
    x8 = np.concatenate([x, x], axis=-1)
    for path, ref in ((paths[1], pr.max_pool(x, 3, 2, "same")),
                      (paths[2], pr.avg_pool(x, (2, 3), 1, "same", "channels_first")),
                      (paths[3], pr.global_max_pool(x8)), (paths[4], pr.global_avg_pool(x8)),
                      (paths[5], pr.max_pool_grad(x, np.ones((2, 3, 4, 5), np.float32), 2))):
        assert_bitwise(np.load(path), ref, op="max_pool", params={}, arrays={"x": x},
                       what="Numba-less 'auto' differs from this process's 'auto'")
    assert_bitwise(np.load(paths[1]), pr.max_pool(x, 3, 2, "same", method="loop"),
                   op="max_pool", params={"pool_size": 3, "strides": 2, "padding": "same"},
                   arrays={"x": x}, what="Numba-less 'auto' differs from 'loop'")


@needs_numba
def test_auto_is_compiled_with_numba():
    from pooling_ref.methods import resolve

    assert resolve("auto", "max_pool") == "compiled"
    assert resolve("auto", "conv") == "fast"           # no compiled conv kernel
    assert resolve("auto", "global_max_pool") == "compiled"


@needs_numba
@pytest.mark.parametrize("writeable", [True, False])
def test_vectoriser_switch_is_restored(writeable):
    """The kernels are compiled with Numba's SLP setting switched on (``_compiled._ready``);
    afterwards the process's setting is what it was, whatever it was, and the kernel is
    ready for the caller's argument types (a read-only input is another signature)."""
    from numba.core import config

    x = np.random.default_rng(1).standard_normal((1, 4, 5, 11)).astype(np.float64)
    x.setflags(write=writeable)
    old = config.SLP_VECTORIZE
    try:
        for setting in (0, 1):
            config.SLP_VECTORIZE = setting
            got = pr.avg_pool(x, 2, padding="same", method="compiled", tf_kernel=None)
            assert config.SLP_VECTORIZE == setting
            assert_bitwise(got, pr.avg_pool(x, 2, padding="same", method="loop",
                                             tf_kernel=None),
                           op="avg_pool", params={"pool_size": 2, "padding": "same"},
                           arrays={"x": x}, what="compiled differs from 'loop'")
    finally:
        config.SLP_VECTORIZE = old
    from pooling_ref._compiled import _modes

    kernel = _compiled.KERNELS[_modes._SUM, _modes.CHANNELS_INNER]
    writeable_bit = 0x0400                  # NPY_ARRAY_WRITEABLE in ndarray.flags.num
    assert any(key[0] is kernel and key[1][0] == x.dtype
               and bool(key[1][2] & writeable_bit) == writeable
               for key in _compiled._dispatch._READY)


@needs_numba
@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize("path", ["onednn", "eigen"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_eager_rules_run_inside_the_kernel(op, path, dtype):
    """The eager paths' float32/float64 rules (the default ``tf_kernel``) are folded into
    the compiled kernel, not applied in extra passes around it: it implements every active
    field of their plan (ranks 1-2; Eigen's 3D average is the one rule it leaves to the caller), and
    the kernel's results are those rules (``test_fast_paths`` checks every path bit for
    bit against the loop; here a hand-derived window: [s, 3s] with s the smallest
    subnormal, and [-0, +s])."""
    from pooling_ref.rules import plan_pool

    dt = np.dtype(dtype)
    g = pr.geometry.plan_window((4,), (2,), (2,), "valid")
    plan = plan_pool(path, op, dt, g)
    assert plan.active() and plan.active() <= _compiled.implements(plan), (op, path, plan)
    s = np.finfo(dt).smallest_subnormal
    x = np.array([s, 3 * s, -0.0, s], dt).reshape(1, 4, 1)
    got = _compiled.pool(x, g, plan)
    if op == "avg":                                # DAZ: zeros summed, FTZ: +0 / 2
        want = np.array([0.0, 0.0], dt)
    elif plan.flush == "compare":                 # compared as zeros, first cell's bits
        want = np.array([s, -0.0], dt)
    else:                                          # read as zeros: the first zero wins
        want = np.array([0.0, -0.0], dt)
    assert_bitwise(got.reshape(-1), want, op=f"{op}_pool",
                   params={"pool_size": 2, "tf_kernel": path}, arrays={"x": x},
                   what="the compiled kernel's rules differ from the hand-derived result")


#: Windows and strides of :func:`test_every_loop_order_is_the_loop` (with its channel
#: counts, they reach every loop order: :func:`test_the_loop_order_test_reaches_every_order`).
LOOP_ORDER_WINDOWS = [(2, 2), (3, 2), (3, 1), (4, 3)]
LOOP_ORDER_CHANNELS = (("channels_first", 3), ("channels_last", 1), ("channels_last", 3),
                       ("channels_last", 5), ("channels_last", 8), ("channels_last", 16),
                       ("channels_last", 9), ("channels_last", 24), ("channels_last", 59))


@needs_numba
def test_the_loop_order_test_reaches_every_order():
    reached = {_compiled.loop_order(1 if fmt == "channels_first" else c, k, s)
               for k, s in LOOP_ORDER_WINDOWS for fmt, c in LOOP_ORDER_CHANNELS}
    assert reached == {order for _, order in _compiled.KERNELS}, reached


@needs_numba
@pytest.mark.parametrize("window_stride", LOOP_ORDER_WINDOWS)
@pytest.mark.parametrize("op", sorted(POOLS))
@pytest.mark.parametrize("tf_kernel", [None, "onednn", "eigen", "xla"])
def test_every_loop_order_is_the_loop(window_stride, op, tf_kernel):
    """Every loop order of the compiled kernel (``_compiled.loop_order``: channels inner,
    tap-major, per-output rows of one channel with the window and stride compiled in or
    read from the arguments, or of three channels with both compiled in) and every channel
    block of the channels-inner order (``lane_blocks``: 32, 16 and 8 lanes, and a last
    block of 8 overlapping the one before) on inputs of special values and random
    numbers, 'valid' and 'same' (windows cut by the edges), both data formats: bit for
    bit the loop."""
    k, s = window_stride
    rng = np.random.default_rng(k * 10 + s)
    seen, lanes, overlapped = set(), set(), False
    for fmt, channels in LOOP_ORDER_CHANNELS:
        for padding in ("valid", "same"):
            for width in (k, 2 * k + 1, 17):
                shape = (2, channels, 5, width) if fmt == "channels_first" else \
                    (2, 5, width, channels)
                values = special_values(np.dtype(np.float32))
                x = np.where(rng.random(shape) < 0.5, rng.standard_normal(shape),
                             values[rng.integers(0, len(values), shape)]).astype(np.float32)
                params = dict(pool_size=(2, k), strides=(1, s), padding=padding,
                              data_format=fmt, tf_kernel=tf_kernel)
                with np.errstate(all="ignore"):
                    want = POOLS[op](x, **params, method="loop")
                    got = POOLS[op](x, **params, method="compiled")
                assert_bitwise(got, want, op=op, params=params, arrays={"x": x},
                               what="a compiled loop order differs from 'loop'")
                nc = 1 if fmt == "channels_first" else channels
                seen.add(_compiled.loop_order(nc, k, s))
                blocks = _compiled.lane_blocks(nc)
                lanes.update(blocks[:, 1].tolist())
                overlapped |= bool((blocks[1:, 0] < blocks[:-1].sum(axis=1)).any())
    # one or three channels per output row (window and stride compiled in or not),
    # tap-major, channels inner with every block width and an overlapping last block
    from pooling_ref._compiled import _modes

    assert seen == {_compiled.loop_order(1, k, s), _compiled.loop_order(3, k, s),
                    _modes.TAP_MAJOR, _modes.CHANNELS_INNER}, seen
    assert lanes == set(_compiled.LANES) and overlapped, (lanes, overlapped)
