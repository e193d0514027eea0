"""A failure report names the channel of the first mismatch and shows that channel's
input window, in both data formats, for a mismatch in a channel other than 0 (issue 23:
every report test failed in channel 0, so a report showing channel 0's window for
another channel's mismatch passed them).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import pooling_ref
from pooling_ref.cases import Case
from pooling_ref.explain import window_of, window_values
from pooling_ref.oracle import check
from pooling_ref.oracle.context import grad_ties


def _wrong_after_channel_0(fmt: str):
    """Max pooling, right in channel 0 and negated in every other channel (NaN stays NaN,
    so some element of channel >= 1 differs in every case with two channels or more)."""
    def candidate(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
        out = pooling_ref.max_pool(x, pool_size, strides, padding, data_format,
                                   tf_kernel=None)
        axis = 1 if data_format == "channels_first" else out.ndim - 1
        sign = np.where(np.arange(out.shape[axis]) == 0, 1, -1).astype(out.dtype)
        return out * sign.reshape([-1 if i == axis else 1 for i in range(out.ndim)])
    return candidate


def _where(line: str, fmt: str) -> tuple[int, tuple, int]:
    """``(batch, spatial slices, channel)`` of ``x[...]`` in a report's window line."""
    inside = re.search(r"input window behind it: x\[([^\]]*)\]", line).group(1)
    parts = [p.strip() for p in inside.split(",")]
    b, rest = int(parts[0]), parts[1:]
    ch, cells = (rest[0], rest[1:]) if fmt == "channels_first" else (rest[-1], rest[:-1])
    assert ":" not in ch, f"one channel expected: {line}"

    def axis(text):
        lo, hi = (int(v) for v in text.split(":"))
        return slice(lo, hi)
    return b, tuple(axis(c) for c in cells), int(ch)


def _literal(context: list[str], name: str) -> np.ndarray:
    line = next(ln for ln in context if ln.split("=")[0].strip() == name)
    return eval(line.split("=", 1)[1], {"np": np})       # an array literal of the report


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_report_shows_the_window_of_the_mismatched_channel(fmt):
    report = check(_wrong_after_channel_0(fmt), "max_pool2d", cases=20, seed=4,
                   supports={"data_format": [fmt]}, tf_kernel=None, max_failures=1)
    assert not report.passed, str(report)
    f = report.failures[0]
    channel = f.first_index[1 if fmt == "channels_first" else -1]
    assert channel != 0, f"the shrunk case fails in channel 0: {f}"
    line = next(ln for ln in f.context if "input window behind it" in ln)
    b, cells, shown = _where(line, fmt)
    assert shown == channel, f"report shows channel {shown}, mismatch in {channel}: {line}"
    x = _literal(f.context, "x")
    x_cl = np.moveaxis(x, 1, -1) if fmt == "channels_first" else x
    want = x_cl[(b, *cells, channel)]
    shown_values = eval(line.split(" = ", 1)[1], {"np": np})
    np.testing.assert_array_equal(shown_values, want, err_msg=line)


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_window_of_a_channel_other_than_0(fmt):
    """x (1, 4, 4, 3): channel c holds ``100 c + 4 row + col``; output (0, 1, 0) of 2x2
    pooling with strides 2 reads rows 2-3, columns 0-1 of channel 2: 208, 209, 212, 213."""
    x = (100 * np.arange(3)[None, None, None, :]
         + 4 * np.arange(4)[None, :, None, None] + np.arange(4)[None, None, :, None])
    x = x.astype(np.float32)
    index = (0, 1, 0, 2)
    if fmt == "channels_first":
        x, index = np.ascontiguousarray(np.moveaxis(x, -1, 1)), (0, 2, 1, 0)
    case = Case("max_pool2d", x, {"pool_size": 2, "strides": 2, "padding": "valid",
                                  "data_format": fmt})
    cells, batch, chans = window_of(case, index)
    assert (cells, batch, chans) == ([[2, 3], [0, 1]], 0, slice(2, 3))
    np.testing.assert_array_equal(window_values(case, cells, batch, chans),
                                  np.float32([[208, 209], [212, 213]]))


def test_window_of_global_pooling_with_kept_dims_names_the_channel():
    """Global max pooling of (1, 2, 3, 4) channels_last with keepdims: output index
    (0, 0, 0, 2) is channel 2, every spatial cell."""
    case = Case("global_max_pool2d", np.zeros((1, 2, 3, 4), np.float32), {"keepdims": True})
    cells, batch, chans = window_of(case, (0, 0, 0, 2))
    assert (cells, batch, chans) == ([[0, 1], [0, 1, 2]], 0, slice(2, 3))


def test_window_of_grouped_conv_names_the_filter_group_channels():
    """conv1d, 4 input channels in 2 groups, 4 filters (2 per group): filter 3 is in group
    1 and reads input channels 2-3; output 1 of a 2-tap valid kernel reads cells 1-2."""
    case = Case("conv1d", np.zeros((1, 4, 4), np.float32),
                {"kernel": np.zeros((2, 2, 4), np.float32), "groups": 2})
    cells, batch, chans = window_of(case, (0, 1, 3))
    assert (cells, batch, chans) == ([[1, 2]], 0, slice(2, 4))


def test_gradient_hint_names_the_tie_rule_a_kernel_follows():
    """Window [3, 3]: TF's 1D rule gives the whole gradient to the first maximum
    (``[1, 0]``); a kernel that gives it to every maximum returns ``[1, 1]``, and the hint
    names ``ties='all'``."""
    x = np.float32([3.0, 3.0]).reshape(1, 2, 1)
    case = Case("max_pool1d_grad", x, {"pool_size": 2, "grad_out": np.float32([[[1.0]]])})
    got = np.float32([1.0, 1.0]).reshape(1, 2, 1)
    hint = grad_ties(case, got, (0, 1, 0))
    assert hint.startswith("your kernel follows ties='all'") and "ties=first" in hint
