"""The oracle speaks torch and ONNX (issue 21, step 2): ``check`` calls a candidate with the
framework's names, defaults and NCHW layout, accepts the dialect references and an
independent NumPy loop of the framework's rules (written from the measured facts: output
length with ceil_mode's drop rule, count_include_pad, divisor_override, SAME_UPPER /
SAME_LOWER sized from the dilated window, torch's per-plane indices), and catches each
classic converter bug, planted in that loop, with a hint that names the rule.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import pooling_ref as pr
from pooling_ref.dialects import onnx as po
from pooling_ref.dialects import torch as pt

# ----------------------------------------------------------------------------- the loop


def _axis(n, k, s, d, before, after, ceil_mode, drop):
    """Output length of one axis (floor or ceil) with or without torch's drop rule."""
    span = n + before + after - (d * (k - 1) + 1)
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and drop and (out - 1) * s >= n + before:
        out -= 1
    return out


def loop_pool(x, kernel, stride, pads, dilation, ceil_mode, *, kind, divisor="real",
              drop=True, overhang_counted=False, index="torch"):
    """Pooling of NCHW ``x`` by a plain loop; ``divisor``: "real", "padded" (the taps
    inside the declared padding; all taps with ``overhang_counted``) or an int."""
    x = np.asarray(x)
    n, c, *spatial = x.shape
    outs = [_axis(L, k, s, d, b, a, ceil_mode, drop)
            for L, k, s, d, (b, a) in zip(spatial, kernel, stride, dilation, pads)]
    y = np.zeros((n, c, *outs), x.dtype)
    idx = np.zeros((n, c, *outs), np.int64)
    for b_, c_, *o in itertools.product(range(n), range(c), *(range(m) for m in outs)):
        taps = [[oi * s - b + t * d for t in range(k)]
                for oi, s, b, k, d in zip(o, stride, [p[0] for p in pads], kernel, dilation)]
        real = [[t for t in ax if 0 <= t < L] for ax, L in zip(taps, spatial)]
        cells = list(itertools.product(*real))
        values = [x[(b_, c_, *cell)] for cell in cells]
        if kind == "avg":
            inside = [[t for t in ax if -p[0] <= t < L + p[1]] for ax, L, p in
                      zip(taps, spatial, pads)]
            count = {"real": len(cells),
                     "padded": math.prod(len(t) for t in (taps if overhang_counted
                                                          else inside))}.get(divisor, divisor)
            total = x.dtype.type(0)
            for v in values:
                total = total + v
            y[(b_, c_, *o)] = total / x.dtype.type(count)
        elif not cells:             # no real cell: -inf, torch's index of the first tap
            y[(b_, c_, *o)] = -np.inf  # at or after the input's start on each axis
            first = [next(t for t in ax if t >= 0) for ax in taps]
            idx[(b_, c_, *o)] = sum(f * math.prod(spatial[a + 1:]) for a, f in enumerate(first))
        else:
            best = 0
            for i, v in enumerate(values):
                if np.isnan(v) or (not np.isnan(values[best]) and v > values[best]):
                    best = i
            y[(b_, c_, *o)] = values[best]
            cell = cells[best]
            flat = int(np.ravel_multi_index(cell, spatial))
            idx[(b_, c_, *o)] = flat if index == "torch" else flat * c + c_
    return y, idx


def _tuple(v, r):
    return tuple(np.broadcast_to(v, (r,)).tolist())


def torch_avg(x, kernel_size, stride=None, padding=0, ceil_mode=False,
              count_include_pad=True, divisor_override=None, **bug):
    r = x.ndim - 2
    k = _tuple(kernel_size, r)
    s = k if stride is None else _tuple(stride, r)
    pads = [(p, p) for p in _tuple(padding, r)]
    divisor = (divisor_override if divisor_override is not None and not bug.get("no_override")
               else "padded" if count_include_pad and not bug.get("no_cip") else "real")
    return loop_pool(x, k, s, pads, (1,) * r, ceil_mode, kind="avg", divisor=divisor,
                     drop=not bug.get("no_drop"),
                     overhang_counted=bool(bug.get("overhang")))[0]


def torch_max(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
              return_indices=False, *, index="torch"):
    r = x.ndim - 2
    k = _tuple(kernel_size, r)
    s = k if stride is None else _tuple(stride, r)
    y, i = loop_pool(x, k, s, [(p, p) for p in _tuple(padding, r)], _tuple(dilation, r),
                     ceil_mode, kind="max", index=index)
    return (y, i) if return_indices else y


def onnx_avg(x, kernel_shape, *, auto_pad="NOTSET", pads=None, strides=None, dilations=None,
             ceil_mode=0, count_include_pad=0, swap=False, undilated=False):
    r = x.ndim - 2
    s = tuple(strides or (1,) * r)
    d = tuple(dilations or (1,) * r)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pairs = []
        for L, k, si, di in zip(x.shape[2:], kernel_shape, s, d):
            keff = (k - 1) * (1 if undilated else di) + 1
            total = max((-(-L // si) - 1) * si + keff - L, 0)
            small, large = total // 2, total - total // 2
            lower = (auto_pad == "SAME_LOWER") != swap
            pairs.append((large, small) if lower else (small, large))
    elif auto_pad == "VALID":
        pairs = [(0, 0)] * r
    else:
        p = list(pads or [0] * (2 * r))
        pairs = list(zip(p[:r], p[r:]))
    return loop_pool(x, tuple(kernel_shape), s, pairs, d, bool(ceil_mode), kind="avg",
                     divisor="padded" if count_include_pad else "real")[0]


# ----------------------------------------------------------------------------- hand-derived


def test_the_loop_is_hand_checked():
    """[1..9], k 4, padding 2, ceil: windows start at -2, 2, 6 (the 4th, at 10, would
    start in the right padding: dropped); torch's count_include_pad divisor is 4 each."""
    x = np.arange(1., 10., dtype=np.float32).reshape(1, 1, 9)
    assert torch_avg(x, 4, padding=2, ceil_mode=True).ravel().tolist() == [0.75, 4.5, 6.0]
    assert torch_avg(x, 4, padding=2, ceil_mode=True, no_drop=True).shape[-1] == 4
    assert torch_max(x, 4, padding=2, ceil_mode=True, return_indices=True)[1].ravel().tolist() \
        == [1, 5, 8]
    y = np.float32([[[1, 2, 3, 4, 5]]])
    assert torch_avg(y, 4, ceil_mode=True, count_include_pad=True).ravel().tolist() == [2.5, 5]
    assert torch_avg(y, 4, ceil_mode=True, overhang=True).ravel().tolist() == [2.5, 1.25]
    # SAME_LOWER: the odd cell before; L 5, k 2, s 2 -> pads (1, 0)
    assert onnx_avg(y, [2], auto_pad="SAME_LOWER", strides=[2]).ravel().tolist() == [1, 2.5, 4.5]


@pytest.mark.parametrize("op, candidate", [
    ("torch.avg_pool1d", torch_avg), ("torch.avg_pool2d", torch_avg),
    ("torch.max_pool2d", torch_max), ("torch.max_pool1d_with_indices", torch_max),
    ("onnx.average_pool", onnx_avg),
])
def test_check_accepts_the_loop(op, candidate):
    report = pr.check(candidate, op, cases=50, timeout=None)
    assert report.passed and report.cases == 50, str(report)


@pytest.mark.parametrize("op, func", [
    ("torch.max_pool3d", pt.max_pool3d), ("torch.max_pool2d_with_indices", pt.max_pool2d),
    ("torch.avg_pool3d", pt.avg_pool3d), ("onnx.max_pool", po.max_pool),
    ("onnx.average_pool", po.average_pool)])
def test_check_accepts_the_dialect_functions(op, func):
    """...and says it matched the dialect's rules: no TensorFlow path is tried for them."""
    report = pr.check(lambda x, **p: func(x, **p), op, cases=40, timeout=None)
    assert report.passed and report.matched == (None,), str(report)
    framework = op.split(".")[0]
    assert (f"; matched {op} as pooling_ref.dialects.{framework} specifies it on every case"
            in str(report)), str(report)


# ----------------------------------------------------------------------------- classic bugs

BUGS = [
    ("torch.avg_pool1d", lambda x, **p: torch_avg(x, **p, no_drop=True), "ceil_mode drops"),
    ("torch.avg_pool2d", lambda x, **p: torch_avg(x, **{**p, "ceil_mode": False}),
     "ceil_mode=True: torch rounds the output size up"),
    ("onnx.average_pool", lambda x, kernel_shape, **p: onnx_avg(x, kernel_shape,
                                                               **{**p, "ceil_mode": 0}),
     "ceil_mode=1: onnx rounds the output size up"),
    ("torch.avg_pool2d", lambda x, **p: torch_avg(x, **p, overhang=True), None),
    ("torch.avg_pool1d", lambda x, **p: torch_avg(x, **p, no_cip=True),
     "counts the padding cells in the divisor"),
    ("torch.avg_pool2d", lambda x, **p: torch_avg(x, **p, no_override=True),
     "divisor_override="),
    ("onnx.average_pool", lambda x, kernel_shape, **p: onnx_avg(x, kernel_shape, **p,
                                                               swap=True), "auto_pad=SAME_"),
    ("onnx.average_pool", lambda x, kernel_shape, **p: onnx_avg(x, kernel_shape, **p,
                                                               undilated=True), None),
    ("torch.max_pool2d_with_indices", lambda x, **p: torch_max(x, **p, index="tf"),
     "the indices are TF's"),
]


@pytest.mark.parametrize("op, candidate, words", BUGS)
def test_check_catches_a_classic_converter_bug(op, candidate, words):
    report = pr.check(candidate, op, cases=80, timeout=None)
    assert not report.passed, str(report)
    if words is not None:
        assert words in str(report), str(report)


def test_the_torch_max_kernel_that_skips_nan_is_named():
    def skips_nan(x, **p):
        return pt.max_pool2d(np.where(np.isnan(x), -np.inf, x), **p)
    report = pr.check(skips_nan, "torch.max_pool2d", cases=40, timeout=None)
    assert not report.passed
    assert "propagates NaN" in str(report), str(report)
