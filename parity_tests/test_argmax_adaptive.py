"""``max_pool_with_argmax`` and adaptive pooling without TensorFlow: hand-derived values,
the index formats, every method against the loop (TF parity: ``test_tf_window_ops.py``)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

import pooling_ref as pr
from pooling_ref import methods

from ._assert import assert_bitwise
from .test_window_model import general_windows


def test_argmax_indices_are_flat_nhwc_with_optional_batch():
    # x (2, 2, 3, 2): x[b, h, w, c] = 100b + 10h + w + c/10; window 2x3 covers the whole
    # plane, the max is at h = 1, w = 2: flat (1*3 + 2)*2 + c = 10 + c; with the batch
    # b*2*3*2 = 12b more.
    b, h, w, c = np.meshgrid(*map(np.arange, (2, 2, 3, 2)), indexing="ij")
    x = (100 * b + 10 * h + w + c / 10).astype(np.float64)
    y, a = pr.max_pool_with_argmax(x, (2, 3))
    assert a.dtype == np.int64 and a.shape == (2, 1, 1, 2)
    assert a.ravel().tolist() == [10, 11, 10, 11]
    _, a = pr.max_pool_with_argmax(x, (2, 3), include_batch_in_index=True)
    assert a.ravel().tolist() == [10, 11, 22, 23]
    assert y.ravel().tolist() == [12.0, 12.1, 112.0, 112.1]


def test_argmax_scans():
    # first real cell, then strictly greater ("tf"); also every NaN ("propagate", torch)
    x = np.float32([np.nan, 1, 2, 3, np.nan, np.nan, 0.0, -0.0, 5]).reshape(1, 9, 1)
    y, a = pr.max_pool_with_argmax(x, 3)
    assert a.ravel().tolist() == [0, 3, 8]
    assert_bitwise(y.ravel(), np.float32([np.nan, 3, 5]), op="max_pool_with_argmax",
                   params={}, arrays={"x": x}, what="differs from the hand-derived value")
    y, a = pr.max_pool_with_argmax(x, 3, nan="propagate")
    assert a.ravel().tolist() == [0, 5, 8]
    # "same": padding is never chosen; all negative values
    y, a = pr.max_pool_with_argmax(np.float32([-3, -2, -1]).reshape(1, 3, 1), 2, 1, "same")
    assert a.ravel().tolist() == [1, 2, 2] and y.ravel().tolist() == [-2, -1, -1]


@given(general_windows())
def test_argmax_fast_is_bitwise_the_loop(case):
    x, params, _, _ = case
    x = x if params["data_format"] == "channels_last" else np.moveaxis(x, 1, -1)
    kw = {k: v for k, v in params.items() if k != "data_format"}
    for nan in ("tf", "propagate"):
        for include in (False, True):
            want = pr.max_pool_with_argmax(x, **kw, nan=nan, include_batch_in_index=include,
                                           method="loop")
            for m in methods.names("max_pool_argmax"):
                got = pr.max_pool_with_argmax(x, **kw, nan=nan, method=m,
                                              include_batch_in_index=include)
                for g_, w_ in zip(got, want):
                    assert_bitwise(g_, w_, op="max_pool_with_argmax",
                                   params={**kw, "nan": nan, "method": m}, arrays={"x": x},
                                   what="differs from the loop")
            # the index points at the value (where a window has a real cell)
            flat = x.reshape(-1) if include else None
            if flat is not None:
                y, a = want
                ok = a >= 0
                assert_bitwise(flat[a[ok]], y[ok], op="max_pool_with_argmax", params=kw,
                               arrays={"x": x}, what="index does not point at the value")


def test_adaptive_bins_hand_derived():
    # 5 -> 3: bins [0, 2), [1, 4), [3, 5); 3 -> 5 (more bins than cells): [0, 1), [0, 2),
    # [1, 2), [1, 3), [2, 3)
    x = np.float32([1, 2, 3, 4, 8]).reshape(1, 5, 1)
    assert pr.adaptive_avg_pool(x, 3).ravel().tolist() == [1.5, 3.0, 6.0]
    assert pr.adaptive_max_pool(x, 3).ravel().tolist() == [2, 4, 8]
    x3 = np.float32([1, 2, 4]).reshape(1, 3, 1)
    assert pr.adaptive_avg_pool(x3, 5).ravel().tolist() == [1, 1.5, 2, 3, 4]
    assert pr.adaptive_max_pool(x3, 5, data_format="channels_first").shape == (1, 3, 5)
    # 2D: rows 2 -> 1, columns 3 -> 2 ([0, 2), [1, 3)): column means 2.5, 3.5, 4.5 -> 3, 4
    x2 = np.float32([[1, 2, 3], [4, 5, 6]]).reshape(1, 2, 3, 1)
    assert pr.adaptive_avg_pool(x2, (1, 2)).ravel().tolist() == [3.0, 4.0]


@pytest.mark.parametrize(("func", "kwargs", "exc", "param"), [
    (pr.adaptive_avg_pool, {"output_size": 0}, ValueError, "output_size"),
    (pr.adaptive_max_pool, {"output_size": (2, 2)}, ValueError, "output_size"),
    (pr.adaptive_max_pool, {"output_size": 1.5}, TypeError, "output_size"),
    (pr.adaptive_avg_pool, {"output_size": 2, "data_format": "NWC"}, ValueError,
     "data_format"),
])
def test_adaptive_bad_arguments(func, kwargs, exc, param):
    with pytest.raises(exc, match=param):
        func(np.zeros((1, 4, 1), np.float32), **kwargs)


@pytest.mark.parametrize(("kwargs", "exc", "param"), [
    ({"include_batch_in_index": 1}, TypeError, "include_batch_in_index"),
    ({"nan": "ignore"}, ValueError, "nan"),
    ({"padding": "full"}, ValueError, "padding"),
])
def test_argmax_bad_arguments(kwargs, exc, param):
    with pytest.raises(exc, match=param):
        pr.max_pool_with_argmax(np.zeros((1, 4, 1), np.float32), 2, **kwargs)
