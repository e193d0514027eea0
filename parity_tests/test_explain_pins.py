"""Pins of the failure explanations (``pooling_ref.explain``; issue 23: survivors of the
mutation session): which input cells and channels a wrong output reads, and when the
wide-integer hint applies. Expected windows are worked out by hand from the op.
"""

from __future__ import annotations

import numpy as np
import pytest

from pooling_ref.cases import Case
from pooling_ref.explain import conv_window, global_window, nan_rule, wide_ints
from pooling_ref.judge import Criteria


@pytest.mark.parametrize("shape, params, index", [
    ((2, 3, 4), {}, (1, 2)),                                               # (N, C) output
    ((2, 3, 4), {"keepdims": True}, (1, 0, 2)),                            # (N, 1, C)
    ((2, 4, 3), {"data_format": "channels_first"}, (1, 2)),
    ((2, 4, 3), {"data_format": "channels_first", "keepdims": True}, (1, 2, 0)),  # (N, C, 1)
])
def test_global_window_is_every_cell_of_the_outputs_channel(shape, params, index):
    """Output ``(batch 1, channel 2)`` of a global pooling over 3 cells reads cells 0..2
    of batch 1, channel 2, whatever the layout and keepdims."""
    case = Case("global_max_pool1d", np.zeros(shape, np.float32), params)
    cells, batch, chans = global_window(case, index)
    assert (cells, batch, chans) == ([[0, 1, 2]], 1, slice(2, 3))


def test_conv_window_reads_the_input_channels_of_the_filters_group():
    """groups 2, 4 input channels (2 per group), 4 filters (2 per group): filter 3 is in
    group 1, which reads input channels 2 and 3; kernel 2, stride 1, "valid": output 1
    reads cells 1 and 2."""
    case = Case("conv1d", np.zeros((1, 5, 4), np.float32),
                {"kernel": np.zeros((2, 2, 4), np.float32), "groups": 2})
    cells, batch, chans = conv_window(case, (0, 1, 3))
    assert (cells, batch, chans) == ([[1, 2]], 0, slice(2, 4))


@pytest.mark.parametrize("values, hinted", [([1, 2**24], False), ([1, 2**24 + 1], True),
                                            ([-(2**24) - 1, 0], True)])
def test_wide_integer_hint_only_beyond_2_24(values, hinted):
    """float32 holds every integer up to 2^24 exactly; the hint is for larger magnitudes."""
    case = Case("max_pool1d", np.int64(values).reshape(1, 2, 1), {"pool_size": 1})
    assert bool(wide_ints(case, None, None, None)) == hinted


@pytest.mark.parametrize("nan, hinted", [("tf", True), ("propagate", False)])
def test_nan_hint_only_when_the_criteria_follow_tfs_nan_rule(nan, hinted):
    """max_pool1d, pool 2 over ``[NaN, 1]``: a kernel that propagates NaN gives ``[NaN]``
    (TF ignores the NaN and gives 1). Held to TF's rule, the hint says the kernel
    propagates NaN; held to ``nan='propagate'`` the kernel follows the criteria, so there is
    nothing to hint."""
    case = Case("max_pool1d", np.float32([np.nan, 1]).reshape(1, 2, 1), {"pool_size": 2})
    got = np.full((1, 1, 1), np.nan, np.float32)
    criteria = Criteria(None, nan)
    verdict = criteria.verdict(case.spec, got, case.arrays, case.scalar_params)
    hint = nan_rule(case, got, verdict, criteria)
    assert hint.startswith("your kernel propagates NaN") == hinted, hint
