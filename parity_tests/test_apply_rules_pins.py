"""Pins of ``pooling_ref.apply_rules`` (issue 23: survivors of the mutation session).

When a method's fused pooling form runs: a kernel may carry a ``fused`` form that follows a
:class:`~pooling_ref.rules.PoolPlan` itself (the compiled kernels do); it must run only when
its ``implements(plan)`` covers every active field of the plan, otherwise the rules are
applied around the plain kernel. Checked Numba-free with a stand-in fused form that
returns 99 everywhere, on the flush probe ``[s, 3s]`` (``s``: float32's smallest
subnormal), window 2: under ``flush="full"`` both cells are read as zeros, so the rules
give ``+0``; the plain kernel alone gives ``3s``.

The ``compare`` flush rule (oneDNN's float32 max pooling): cells are compared as if
subnormals were zeros, and a window whose maximum is such a zero keeps the bits of its
first (row-major) zero or subnormal cell, wherever that cell is in the window.
"""

from __future__ import annotations

import numpy as np
import pytest

import pooling_ref
from pooling_ref import apply_rules
from pooling_ref.geometry import plan_window
from pooling_ref.methods import TABLE, Kernel
from pooling_ref.rules import PoolPlan

from ._assert import assert_bitwise
from ._methods import method_params

S = float(np.finfo(np.float32).smallest_subnormal)
X = np.float32([S, 3 * S]).reshape(1, 2, 1)
G = plan_window((2,), (2,), (2,), "valid")


def _fused_99(x_cl, g, plan):
    return np.full((x_cl.shape[0], *g.out_spatial, x_cl.shape[-1]), 99, x_cl.dtype)


@pytest.mark.parametrize("fused, implements, plan, want", [
    (_fused_99, {"flush"}, PoolPlan("max", np.dtype(np.float32), flush="full"), 99.0),
    (_fused_99, set(), PoolPlan("max", np.dtype(np.float32), flush="full"), 0.0),
    (_fused_99, {"flush"},                        # "empty" is active and not implemented
     PoolPlan("max", np.dtype(np.float32), flush="full", empty="-inf"), 0.0),
    (_fused_99, {"flush", "empty"},
     PoolPlan("max", np.dtype(np.float32), flush="full", empty="-inf"), 99.0),
    (None, {"flush"}, PoolPlan("max", np.dtype(np.float32), flush="full"), 0.0),
    (_fused_99, {"flush"}, PoolPlan("max", np.dtype(np.float32)), 3 * S),   # no rule active
])
def test_fused_form_runs_only_when_it_implements_every_active_rule(fused, implements,
                                                                    plan, want):
    kernel = Kernel(TABLE["max_pool"]["loop"].run, fused, lambda p: frozenset(implements))
    got = apply_rules.max_pool(X, G, plan, kernel)
    assert_bitwise(got, np.float32([want]).reshape(1, 1, 1), op="apply_rules.max_pool",
                   params={"plan": plan, "implements": implements}, arrays={"x": X},
                   what="differs from the hand-derived value")


@pytest.mark.parametrize("values, strides, want", [
    # [-1, s] -> s (the only zero-like cell); [s, 3s] -> s (the first of two)
    ([-1, S, 3 * S], 1, [S, S]),
    # [-1, -2] -> -1 (no zero-like maximum); [3s, s] -> 3s, the window's first cell,
    # which is input cell 2
    ([-1, -2, 3 * S, S], 2, [-1, 3 * S]),
    # [-0, s] -> -0: a zero counts too, and it comes first
    ([-1, -0.0, S], 1, [-0.0, -0.0]),
])
def test_compare_flush_keeps_the_first_zero_like_cell_of_each_window(values, strides, want):
    x = np.float32(values).reshape(1, -1, 1)
    got = pooling_ref.max_pool(x, 2, strides=strides, tf_kernel="onednn")
    assert_bitwise(got, np.float32(want).reshape(1, -1, 1), op="max_pool",
                   params={"pool_size": 2, "strides": strides, "tf_kernel": "onednn"},
                   arrays={"x": x}, what="differs from the hand-derived value")


@pytest.mark.parametrize("method", method_params(["loop", "fast", "im2col", "compiled"]))
def test_skip_lowest_divides_by_the_cells_it_kept(method):
    """Eigen's 3D average pooling leaves out cells equal to the lowest finite float32:
    [lowest, 2, 4, 1], window 3, stride 1 -> (2 + 4) / 2 = 3 (two cells kept, not the one
    left out), then (2 + 4 + 1) / 3; the specification (tf_kernel=None) averages all."""
    low = np.finfo(np.float32).min
    x = np.array([low, 2, 4, 1], np.float32).reshape(1, 4, 1, 1, 1)
    got = pooling_ref.avg_pool(x, (3, 1, 1), (1, 1, 1), tf_kernel="eigen", method=method)
    assert got.ravel().tolist() == [3.0, float(np.float32(7) / np.float32(3))]


def test_a_fused_form_that_implements_more_than_the_active_rules_runs():
    """Only the active fields must be implemented: a fused form that also implements
    inactive ones still runs (the plan here has only flush active)."""
    kernel = Kernel(TABLE["max_pool"]["loop"].run, _fused_99,
                    lambda p: frozenset({"flush", "empty", "copy"}))
    plan = PoolPlan("max", np.dtype(np.float32), flush="full")
    assert apply_rules.max_pool(X, G, plan, kernel).ravel().tolist() == [99.0]


@pytest.mark.parametrize("method", ["loop", "fast"])
def test_xla_max_pooling_gives_minus_inf_only_to_windows_without_a_number(method):
    """XLA's empty value: a window of only NaN gives -inf, a window with a number its
    maximum (NaN ignored): [nan, nan | 2, 3 | nan, 1] -> [-inf, 3, 1]."""
    x = np.float32([np.nan, np.nan, 2, 3, np.nan, 1]).reshape(1, 6, 1)
    got = pooling_ref.max_pool(x, 2, tf_kernel="xla", method=method)
    assert got.ravel().tolist() == [-np.inf, 3.0, 1.0]
