"""Pins of the oracle side (case drawing, judging, reports) that the mutation session
found unpinned (issue 23, ``nox -s mutation``); each test says what it decides.
"""

from __future__ import annotations

from pooling_ref.cases import generate_cases


def _first(value) -> int:
    return value if isinstance(value, int) else value[0]


def test_pool_cases_draw_whole_axis_windows_on_long_axes():
    """A window as long as the axis (one output) is a corner of every pooling kernel; the
    small-window draw reaches it only on axes of up to 4 cells, so on longer axes it must
    come from the whole-axis draw (20% of the windows). 300 seeded max_pool1d cases."""
    cases = [c for seed in range(3) for c in generate_cases("max_pool1d", 100, seed=seed)]
    whole = [c for c in cases if c.spatial[0] > 4 and _first(c.params["pool_size"]) ==
             c.spatial[0]]
    assert len(whole) >= 3, f"{len(whole)} of {len(cases)} cases"


def test_valid_conv_cases_reach_the_largest_kernel_that_fits():
    """With "valid" padding the largest kernel whose dilated span ``d (k - 1) + 1`` fits
    the axis (one output) is drawn too: 300 seeded conv1d cases."""
    cases = [c for seed in range(3) for c in generate_cases("conv1d", 100, seed=seed)]
    fits = []
    for c in cases:
        if str(c.params.get("padding", "valid")).lower() != "valid":
            continue
        k, d = c.params["kernel"].shape[0], _first(c.params.get("dilation_rate", 1))
        if k > 1 and d * (k - 1) + 1 == c.spatial[0]:
            fits.append(c)
    assert len(fits) >= 5, f"{len(fits)} of {len(cases)} cases"
