"""The "fast" and "compiled" methods against the "loop" specification (no TensorFlow needed).

Max pooling and average pooling must be bitwise identical to the loop (NaN ignored, first of
equal maxima incl. signed zeros, all-NaN/-inf windows -> lowest finite; row-major sums);
convolution must lie within ``tolerance.conv_bound``. The block size and the thread pool of
:mod:`pooling_ref._fast` are drawn too, so multi-block and multi-thread paths are exercised
on small inputs (the compiled method shares that thread pool). "compiled" is tested where
Numba is installed (see also ``test_compiled.py``). Pooling cases draw ``tf_kernel`` too
(omitted: the default): the loop applies a path's rules around the specification
(:mod:`pooling_ref.rules`), the compiled kernel follows them inside its one pass, and
the two must agree bit for bit.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling_ref
from pooling_ref import _fast, _threads, methods
from pooling_ref.dtypes import finfo, is_float_dtype
from pooling_ref.rules import PATHS as TF_KERNELS
from pooling_ref.tolerance import conv_bound

from ._assert import assert_bitwise, assert_within_bound

SPECIAL = [0.0, -0.0, np.nan, -np.inf, np.inf, 1.0, 1.0, -2.5, 3.0, -3.0e38]
#: Methods that must equal the loop bit for bit ("compiled" only where Numba is installed).
FAST_METHODS = tuple(m for m in methods.names("max_pool") if m in ("fast", "compiled"))
FLOATS = ["float32", "float64", "float16", "bfloat16"]
#: Channel counts drawn for pooling: the compiled kernel's three loop orders
#: (``_compiled.loop_order``: 1, 2-7, >= 8) and its channel blocks (``lane_blocks``: 8, 16,
#: 32 lanes, an overlapping last block of 8).
POOL_CHANNELS = [1, 2, 3, 5, 7, 8, 9, 16, 24, 32, 43]
INTS = ["int32", "uint8", "int64", "int8", "uint64"]
#: Inputs up to this many cells draw each special value (shrinkable); larger ones a seed.
MAX_DRAWN_CELLS = 2000


def special_values(dtype: np.dtype) -> np.ndarray:
    """SPECIAL plus, in ``dtype``, its largest finite value, smallest normal and smallest
    subnormal (both signs)."""
    fi = finfo(dtype)
    extra = [fi.max, -fi.max, fi.tiny, -fi.tiny, fi.smallest_subnormal,
             -fi.smallest_subnormal]
    with np.errstate(over="ignore"):
        return np.concatenate([np.array(SPECIAL, np.float64).astype(dtype),
                               np.array(extra, dtype=dtype)])


@contextlib.contextmanager
def _fast_settings(block_bytes: int, parallel: bool):
    old = (_fast.POOL_BLOCK_BYTES, _fast.CONV_BLOCK_BYTES, _threads.PARALLEL_MIN_BYTES)
    _fast.POOL_BLOCK_BYTES = _fast.CONV_BLOCK_BYTES = block_bytes
    _threads.PARALLEL_MIN_BYTES = 0 if parallel else 2**62
    try:
        yield
    finally:
        _fast.POOL_BLOCK_BYTES, _fast.CONV_BLOCK_BYTES, _threads.PARALLEL_MIN_BYTES = old


def _dtype(name: str) -> np.dtype:
    if name == "bfloat16":
        ml_dtypes = pytest.importorskip("ml_dtypes")
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


@st.composite
def window_case(draw, *, dtypes, conv=False):
    rank = draw(st.integers(1, 3), label="rank")
    spatial = draw(st.lists(st.integers(1, 9), min_size=rank, max_size=rank), label="spatial")
    n = draw(st.integers(0 if not conv else 1, 3), label="batch")
    # pooling: every loop order of the compiled kernel (1 channel, 2-7, >= 8, its blocks)
    c = draw(st.integers(1, 5) if conv else st.sampled_from(POOL_CHANNELS), label="channels")
    window = tuple(draw(st.integers(1, s), label="window") for s in spatial)
    padding = draw(st.sampled_from(["valid", "same", "SAME"]), label="padding")
    strides = tuple(draw(st.integers(1, 5), label="stride") for _ in range(rank))
    fmt = draw(st.sampled_from([None, "channels_last", "channels_first"]), label="data_format")
    dtype = _dtype(draw(st.sampled_from(dtypes), label="dtype"))
    shape = (n, c, *spatial) if fmt == "channels_first" else (n, *spatial, c)
    size = int(np.prod(shape))
    if is_float_dtype(dtype):
        special = draw(st.booleans(), label="special values")
        if special:
            values = special_values(dtype)
            if size <= MAX_DRAWN_CELLS:
                idx = draw(st.lists(st.integers(0, len(values) - 1), min_size=size,
                                    max_size=size), label="values")
            else:             # more cells than Hypothesis draws one by one: from a seed
                seed = draw(st.integers(0, 2**32 - 1), label="special values seed")
                idx = np.random.default_rng(seed).integers(0, len(values), size)
            x = values[np.array(idx, dtype=np.intp)]
        else:
            seed = draw(st.integers(0, 2**32 - 1), label="seed")
            x = np.random.default_rng(seed).standard_normal(size).astype(dtype)
    else:
        info = np.iinfo(dtype)
        seed = draw(st.integers(0, 2**32 - 1), label="seed")
        x = np.random.default_rng(seed).integers(info.min, info.max, size, dtype=dtype,
                                                 endpoint=True)
    x = x.reshape(shape)
    params = {}
    key = "kernel_size" if conv else "pool_size"
    params[key] = window if draw(st.booleans(), label="tuple window") or rank == 1 else (
        window[0] if len(set(window)) == 1 else window)
    if draw(st.booleans(), label="give strides") or conv:
        params["strides"] = strides
    if draw(st.booleans(), label="give padding") or padding != "valid":
        params["padding"] = padding
    if fmt is not None:
        params["data_format"] = fmt
    if not conv and draw(st.booleans(), label="give tf_kernel"):
        params["tf_kernel"] = draw(st.sampled_from([None, *TF_KERNELS]), label="tf_kernel")
    block = draw(st.sampled_from([64, 512, 4096, 2**20]), label="block bytes")
    parallel = draw(st.booleans(), label="threads")
    return x, params, block, parallel


@pytest.mark.parametrize("method", FAST_METHODS)
@given(case=window_case(dtypes=FLOATS + INTS))
def test_max_pool_fast_is_bitwise_the_loop(method, case):
    x, params, block, parallel = case
    x_before = x.copy()
    expected = pooling_ref.max_pool(x, **params, method="loop")
    with _fast_settings(block, parallel):
        actual = pooling_ref.max_pool(x, **params, method=method)
    assert_bitwise(actual, expected, op="max_pool", params={**params, "method": method},
                   arrays={"x": x}, what=f"{method} differs from loop")
    assert_bitwise(x, x_before, op="max_pool", params=params, arrays={"x": x},
                   what="mutated its input")


@pytest.mark.parametrize("method", FAST_METHODS)
@given(case=window_case(dtypes=FLOATS))
def test_avg_pool_fast_is_bitwise_the_loop(method, case):
    x, params, block, parallel = case
    with np.errstate(all="ignore"):
        expected = pooling_ref.avg_pool(x, **params, method="loop")
        with _fast_settings(block, parallel):
            actual = pooling_ref.avg_pool(x, **params, method=method)
    assert_bitwise(actual, expected, op="avg_pool", params={**params, "method": method},
                   arrays={"x": x}, what=f"{method} differs from loop")


@pytest.mark.parametrize("method", FAST_METHODS)
def test_max_pool_fast_signed_zero_and_nan_corners(method):
    """Hand-derived TF results: [-0, +0] -> -0, [+0, -0] -> +0, [nan, nan] -> lowest,
    [-inf, nan] -> lowest, [nan, 3] -> 3 — also when the block holds many other windows."""
    lowest = -np.finfo(np.float32).max
    pairs = np.float32([[-0.0, 0.0], [0.0, -0.0], [np.nan, np.nan], [-np.inf, np.nan],
                        [np.nan, 3.0]])
    want = np.float32([-0.0, 0.0, lowest, lowest, 3.0])
    x = np.tile(pairs.reshape(1, 10, 1), (3, 40, 4))          # 200 windows per row
    for block, parallel in [(64, True), (2**20, False)]:
        with _fast_settings(block, parallel):
            got = pooling_ref.max_pool(x, 2, method=method)
        expected = np.tile(want.reshape(1, 5, 1), (3, 40, 4))
        assert_bitwise(got, expected, op="max_pool", params={"pool_size": 2},
                       arrays={"x": x}, what="differs from the TF semantics")


@given(window_case(dtypes=["float32", "float64"], conv=True), st.data())
def test_conv_fast_within_bound_of_loop(case, data):
    x, params, block, parallel = case
    x = np.nan_to_num(x, nan=1.0, posinf=2.0, neginf=-2.0)
    x = np.clip(x, -1e3, 1e3).astype(x.dtype)
    rank = x.ndim - 2
    fmt = params.get("data_format", "channels_last")
    c = x.shape[1] if fmt == "channels_first" else x.shape[-1]
    groups = data.draw(st.sampled_from([1, c]), label="groups")
    f = groups * data.draw(st.integers(1, 3), label="filters per group")
    ks = params["kernel_size"]
    ks = ks if isinstance(ks, tuple) else (ks,) * rank
    if max(params["strides"]) == 1 and data.draw(st.booleans(), label="dilate"):
        dil = tuple(data.draw(st.integers(1, 2), label="dilation") for _ in range(rank))
        spatial = x.shape[2:] if fmt == "channels_first" else x.shape[1:-1]
        if params.get("padding", "valid").lower() == "valid" and any(
                d * (k - 1) + 1 > s for d, k, s in zip(dil, ks, spatial)):
            dil = (1,) * rank
        params["dilation_rate"] = dil
    if groups > 1:
        params["groups"] = groups
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="kernel seed"))
    kernel = rng.standard_normal((*ks, c // groups, f)).astype(x.dtype)
    bias = rng.standard_normal(f).astype(x.dtype) if data.draw(st.booleans(),
                                                               label="bias") else None
    params = {k: v for k, v in params.items() if k != "kernel_size"}
    expected = pooling_ref.conv(x, kernel, bias, **params, method="loop")
    with _fast_settings(block, parallel):
        actual = pooling_ref.conv(x, kernel, bias, **params, method="fast")
    assert_within_bound(actual, expected, conv_bound(x, kernel, bias, **params),
                        op="conv", params={**params, "method": "fast"},
                        arrays={"x": x, "kernel": kernel, "bias": bias},
                        what="fast differs from loop beyond the bound")


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_fast_restores_openblas_threads(fmt):
    api = _fast._openblas_threads_api()
    if api is None:
        pytest.skip("NumPy's OpenBLAS thread API not found")
    before = api[0]()
    x = np.ones((4, 8, 16, 16), np.float32)
    with _fast_settings(256, True):
        pooling_ref.conv(x, np.ones((3, 3, 8 if fmt == "channels_first" else 16, 2),
                                    np.float32), data_format=fmt)
    assert api[0]() == before


def _check_chunks(x, g, chunk):
    from pooling_ref.windows import columns, im2col_chunks, pad_spatial

    want = columns(pad_spatial(x, g, -1.0), g)
    seen = np.zeros(want.shape[:2], bool)
    for (bs, rs), cols in im2col_chunks(x, g, chunk, fill_value=-1.0):
        np.testing.assert_array_equal(cols, want[bs, rs], err_msg=f"chunk {bs}, {rs}")
        seen[bs, rs] = True
    assert seen.all() or not want.size, "im2col_chunks left windows out"


@pytest.mark.parametrize("chunk", [1, 10**6])
def test_im2col_chunks_dilated_same_hand_case(chunk):
    """n=3, window 2, dilation 2, stride 1, "same" (pads 1, 1): window 0 reads rows -1 and
    1 (only row 1 is real), window 1 reads rows 0 and 2 — a part holding both windows must
    hold the real row 0 although the first window skips it."""
    from pooling_ref.geometry import plan_window

    g = plan_window((3,), (2,), (1,), "same", (2,))
    _check_chunks(np.arange(6, dtype=np.float32).reshape(1, 3, 2), g, chunk)


@given(data=st.data())
def test_im2col_chunks_are_the_padded_columns(data):
    """Every chunk of :func:`pooling_ref.windows.im2col_chunks` (chunk sizes drawn down to
    one output row, so parts start inside the padding, dilated windows whose taps skip
    real rows, windows with no real row) equals the same slice of the columns of the fully
    padded input (``np.pad`` + strided views, an independent construction)."""
    from pooling_ref.geometry import plan_window

    rank = data.draw(st.integers(1, 3), label="rank")
    spatial = tuple(data.draw(st.integers(1, 7), label=f"n{i}") for i in range(rank))
    window = tuple(data.draw(st.integers(1, 3), label=f"k{i}") for i in range(rank))
    strides = tuple(data.draw(st.integers(1, 3), label=f"s{i}") for i in range(rank))
    dilation = tuple(data.draw(st.integers(1, 3), label=f"d{i}") for i in range(rank))
    padding = data.draw(st.sampled_from(("valid", "same")), label="padding")
    if padding == "valid" and any(d * (k - 1) + 1 > n
                                  for n, k, d in zip(spatial, window, dilation)):
        padding = "same"
    g = plan_window(spatial, window, strides, padding, dilation)
    x = np.arange(2 * int(np.prod(spatial)) * 2, dtype=np.float32).reshape(2, *spatial, 2)
    cols_bytes = 2 * int(np.prod(g.out_spatial)) * g.cells * 2 * 4
    _check_chunks(x, g, data.draw(st.integers(1, cols_bytes + 1), label="chunk bytes"))


def test_run_waits_for_every_task_and_reraises():
    """The thread pool runner (the calling thread takes tasks too) returns only when every
    task has ended, and re-raises a task's exception: no task may still write into an
    output after the op returned."""
    import threading
    import time

    done, lock = [], threading.Lock()

    def task(k):
        if k == 0:
            raise ValueError("task 0 failed")
        time.sleep(0.002)
        with lock:
            done.append(k)

    with _fast_settings(2**20, parallel=True):
        with pytest.raises(ValueError, match="task 0 failed"):
            _threads.run(task, list(range(12)), 2**30)
        assert sorted(done) == list(range(1, 12)), done
        done.clear()
        _threads.run(lambda k: done.append(k), list(range(7)), 2**30)
    assert sorted(done) == list(range(7)), done
