"""Test your own pooling kernel against pooling-ref: copy this file into your test suite.

Replace ``my_max_pool2d`` by an import of your kernel and ``SUPPORTS`` by what it
implements. ``assert_matches`` runs the oracle (100 reproducible cases aimed at the corners
where kernels go wrong: "same" pads, special values, tile-straddling sizes ...) and fails
with the oracle's report; the Hypothesis test draws the same kinds of cases and shrinks a
failure to a small one. Neither needs TensorFlow.
"""

import numpy as np
from hypothesis import given, settings
from numpy.lib.stride_tricks import sliding_window_view

from pooling_ref.oracle import compare_result
from pooling_ref.strategies import cases
from pooling_ref.testing import assert_matches

#: What the kernel implements; the oracle draws nothing else (and says what it left out).
SUPPORTS = {"data_format": ["channels_last"], "padding": ["valid"]}


def my_max_pool2d(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
    """A 2D max pool, channels_last and "valid" only, with TensorFlow's special values."""
    ph, pw = (pool_size, pool_size) if isinstance(pool_size, int) else pool_size
    sh, sw = (ph, pw) if strides is None else (
        (strides, strides) if isinstance(strides, int) else strides)
    windows = sliding_window_view(x, (ph, pw), axis=(1, 2))[:, ::sh, ::sw]
    cells = windows.reshape(*windows.shape[:4], -1)           # (N, H_out, W_out, C, cells)
    out = np.full(cells.shape[:4], -np.inf, x.dtype)
    for i in range(cells.shape[-1]):                          # first maximum wins; NaN never
        out = np.where(cells[..., i] > out, cells[..., i], out)   # replaces a number
    return np.where(out == -np.inf, np.finfo(x.dtype).min, out)  # no number: lowest finite


def test_my_max_pool2d_matches_keras():
    assert_matches(my_max_pool2d, "max_pool2d", supports=SUPPORTS)


@settings(max_examples=25, deadline=None)
@given(cases("max_pool2d", supports=SUPPORTS))
def test_my_max_pool2d_property(case):
    x, params = case
    comparison = compare_result("max_pool2d", my_max_pool2d(x, **params), x, **params)
    assert comparison.ok, str(comparison)      # str: pytest would show the repr
