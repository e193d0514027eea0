"""Pins of the failure explanations (``pooling_ref.explain``; issue 23: survivors of the
mutation session): which input cells and channels a wrong output reads, and when the
wide-integer hint applies. Expected windows are worked out by hand from the op.
"""

from __future__ import annotations

import numpy as np
import pytest

from pooling_ref.cases import Case
from pooling_ref.explain import conv_window, global_window, wide_ints


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
