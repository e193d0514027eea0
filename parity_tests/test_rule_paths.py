"""Every TF kernel path's rules decided on any machine, TensorFlow or not (issue 23).

The parity tests compare the reference with TensorFlow on the path TF runs here (and the
other eager path in CI), so a rule of a path this machine does not run was checked by
nothing. Here the reference is called with ``tf_kernel=<path>`` (and ``None``, the
specification) on small probes whose result under each rule is worked out by hand from
the rules measured with TF 2.21 (``pooling_ref/data/known_differences.json``,
docs/gradients.md), written out below per path, op, rank class and dtype — a second
statement of :data:`pooling_ref.rules.RULES` / ``GRAD_RULES``, not read from them.

Tokens (``s``: the dtype's smallest subnormal; ``lowest``: ``-finfo(dtype).max``):

* max pooling, window 2 — flush probe ``[s, 3s]``: ``"3s"`` (IEEE), ``"0"`` (``full``:
  read as zeros, written as zero), ``"s"`` (``compare``: compared as zeros, the first
  chosen cell's bits kept); empty probe ``[-inf, -inf]``: ``"lowest"`` or ``"-inf"``;
  single probe ``[s]`` with window 1, stride 1: ``"s"`` (IEEE, ``compare``, or XLA's copy)
  or ``"0"`` (flushed); ``[NaN]`` with window 1: NaN where XLA copies, else the empty
  probe's value (NaN is no number);
* average pooling — flush probe ``[s, s]`` (``"s"`` or ``"0"``); 16-bit accumulation
  probe ``[256, 256, 9]`` (bfloat16; float16: ``[2048, 2048, 1]``), window 3: summed in
  the dtype every order gives 520 (4096), so the mean is 173 (1365), ``"input"``; summed
  in float32, 521/3 = 173.67 -> 174 (4097/3 -> 1366), ``"float32"``; division probe
  ``[5, 0, 0]``, window 3, valid: ``5 / 3`` (``"divide"``) or ``5 * fl(1/3)``
  (``"reciprocal"``, one ULP above in float32, one below in float64); 3D skip probe
  ``[lowest, 2]``: ``2`` (``"skip"``: the lowest value left out of sum and count) or
  ``(lowest + 2) / 2 = lowest / 2`` (``"keep"``); single probe as for max; ``[-0]`` with
  window 1: -0 where XLA copies, else +0 (the window's sum starts from +0).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import pooling_ref as pr
from pooling_ref.geometry import plan_window
from pooling_ref.rules import plan_pool

from ._assert import assert_bitwise

ml_dtypes = pytest.importorskip("ml_dtypes")
DTYPES = {"float16": np.float16, "float32": np.float32, "float64": np.float64,
          "bfloat16": ml_dtypes.bfloat16}
PATHS = ["onednn", "eigen", "xla", None]

_IEEE_MAX = ("3s", "lowest", "s")
#: ``(path, rank class) -> {dtype: (flush probe, empty probe, single probe)}``.
MAX = {
    ("onednn", "nd"): {"float16": _IEEE_MAX, "float32": ("s", "lowest", "s"),
                       "float64": ("0", "lowest", "0"), "bfloat16": ("0", "-inf", "0")},
    ("onednn", "3d"): {"float16": _IEEE_MAX, "float32": ("s", "lowest", "s"),
                       "float64": _IEEE_MAX, "bfloat16": ("0", "-inf", "0")},
    ("eigen", "nd"): {"float16": _IEEE_MAX, "float32": ("0", "lowest", "0"),
                      "float64": ("0", "lowest", "0"), "bfloat16": ("s", "lowest", "s")},
    ("eigen", "3d"): {"float16": _IEEE_MAX, "float32": ("0", "-inf", "0"),
                      "float64": _IEEE_MAX, "bfloat16": ("s", "-inf", "s")},
    ("xla", "nd"): {"float16": ("3s", "-inf", "s"), "float32": ("0", "-inf", "s"),
                    "float64": ("0", "-inf", "s"), "bfloat16": ("0", "-inf", "0")},
    (None, "nd"): dict.fromkeys(DTYPES, _IEEE_MAX),
}
MAX[("xla", "3d")] = MAX[("xla", "nd")]
MAX[(None, "3d")] = MAX[(None, "nd")]

_IEEE16_AVG = ("s", "input", None, "keep", "s")
#: ``(path, rank class) -> {dtype: (flush, 16-bit accumulation, division, 3D skip,
#: single)}`` (``None``: the probe does not apply to that dtype).
AVG = {
    ("onednn", "nd"): {"float16": _IEEE16_AVG, "float32": ("0", None, "divide", None, "0"),
                       "float64": ("0", None, "divide", None, "0"),
                       "bfloat16": ("0", "float32", None, None, "0")},
    ("onednn", "3d"): {"float16": _IEEE16_AVG, "float32": ("0", None, "divide", "keep", "0"),
                       "float64": ("s", None, "divide", "keep", "s"),
                       "bfloat16": ("0", "float32", None, "keep", "0")},
    ("eigen", "nd"): {"float16": _IEEE16_AVG, "float32": ("0", None, "divide", None, "0"),
                      "float64": ("0", None, "divide", None, "0"),
                      "bfloat16": ("0", "input", None, None, "0")},
    ("eigen", "3d"): {"float16": _IEEE16_AVG, "float32": ("0", None, "divide", "skip", "0"),
                      "float64": ("s", None, "divide", "keep", "s"),
                      "bfloat16": ("0", "input", None, "skip", "0")},
    ("xla", "nd"): {"float16": ("s", "float32", None, "keep", "s"),
                    "float32": ("0", None, "reciprocal", "keep", "s"),
                    "float64": ("0", None, "reciprocal", "keep", "s"),
                    "bfloat16": ("0", "float32", None, "keep", "s")},
    (None, "nd"): {"float16": _IEEE16_AVG, "float32": ("s", None, "divide", "keep", "s"),
                   "float64": ("s", None, "divide", "keep", "s"),
                   "bfloat16": ("s", "float32", None, "keep", "s")},
}
AVG[("xla", "3d")] = AVG[("xla", "nd")]
AVG[(None, "3d")] = AVG[(None, "nd")]

#: Where XLA elides a one-cell window (window 1, stride 1) into a copy of the input, so
#: that ``[NaN]`` stays NaN under max pooling (a window without a number otherwise) and
#: ``[-0]`` stays -0 under average pooling (a sum from +0 otherwise).
MAX_COPIES = {("xla", "float16"), ("xla", "float32"), ("xla", "float64")}
AVG_COPIES = {("xla", name) for name in DTYPES}

RANKS = {"nd": [1, 2], "3d": [3]}
ACC_PROBE = {"bfloat16": ([256, 256, 9], {"input": 173, "float32": 174}),
             "float16": ([2048, 2048, 1], {"input": 1365, "float32": 1366})}


def _finfo(dtype):
    return ml_dtypes.finfo(dtype) if dtype == ml_dtypes.bfloat16 else np.finfo(dtype)


def _value(token, dtype) -> np.ndarray:
    """The value a token stands for, in ``dtype`` (computed in float64: exact)."""
    info = _finfo(dtype)
    s = float(info.smallest_subnormal)
    table = {"s": s, "3s": 3 * s, "0": 0.0, "lowest": -float(info.max), "-inf": -np.inf,
             "nan": np.nan}
    return np.array(table[token] if isinstance(token, str) else token, dtype)


def _line(values, dtype, rank: int) -> np.ndarray:
    """``values`` along the last spatial axis of a channels_last rank-``rank`` input."""
    return np.array(values, dtype).reshape(1, *(1,) * (rank - 1), len(values), 1)


def _pool(rank: int, k: int) -> tuple:
    return (*(1,) * (rank - 1), k)


def _cases(table) -> list:
    return list(_each_case(table))


def _each_case(table):
    for (path, rank_class), per_dtype in table.items():
        for name, tokens in per_dtype.items():
            for rank in RANKS[rank_class]:
                yield pytest.param(path, rank, name, tokens,
                                   id=f"{path}-{rank}d-{name}")


def _check(got, want, op, params, x):
    assert_bitwise(got.reshape(-1), np.asarray(want).reshape(-1), op=op, params=params,
                   arrays={"x": x}, what="breaks the path's rule")


@pytest.mark.parametrize("path, rank, name, tokens", _cases(MAX))
def test_max_pool_rules_of_every_path(path, rank, name, tokens):
    dtype = DTYPES[name]
    s = float(_finfo(dtype).smallest_subnormal)
    flush, empty, single = tokens
    probes = [([s, 3 * s], 2, flush), ([-np.inf, -np.inf], 2, empty), ([s], 1, single),
              ([np.nan], 1, "nan" if (path, name) in MAX_COPIES else empty)]
    for values, k, token in probes:
        x = _line(values, dtype, rank)
        params = {"pool_size": _pool(rank, k), "strides": 1, "tf_kernel": path,
                  "method": "loop"}
        _check(pr.max_pool(x, **params), _value(token, dtype), "max_pool", params, x)


def _avg_probes(path, name, dtype, tokens, rank):
    info = _finfo(dtype)
    s, lowest = float(info.smallest_subnormal), -float(info.max)
    flush, acc, divide, skip, single = tokens
    yield [s, s], 2, _value(flush, dtype)
    yield [s], 1, _value(single, dtype)
    yield [-0.0], 1, _value(-0.0 if (path, name) in AVG_COPIES else 0.0, dtype)
    if acc is not None:
        values, means = ACC_PROBE[name]
        yield values, 3, _value(means[acc], dtype)
    if divide is not None:
        five, three = dtype(5), dtype(3)
        yield [5, 0, 0], 3, five / three if divide == "divide" else five * (dtype(1) / three)
    if skip is not None and rank == 3:
        yield [lowest, 2], 2, _value(2 if skip == "skip" else lowest / 2, dtype)


@pytest.mark.parametrize("path, rank, name, tokens", _cases(AVG))
def test_avg_pool_rules_of_every_path(path, rank, name, tokens):
    dtype = DTYPES[name]
    for values, k, want in _avg_probes(path, name, dtype, tokens, rank):
        x = _line(values, dtype, rank)
        params = {"pool_size": _pool(rank, k), "strides": 1, "tf_kernel": path,
                  "method": "loop"}
        _check(pr.avg_pool(x, **params), want, "avg_pool", params, x)


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_xla_divides_padded_1d_average_only(rank, dtype):
    """XLA multiplies by the rounded reciprocal, except for padded ("same") 1D pooling,
    which divides: ``[5, 0, 0]``, window 4, "same" (pads (0, 1), 3 real cells)."""
    x = _line([5, 0, 0], dtype, rank)
    params = {"pool_size": _pool(rank, 4), "strides": 4, "padding": "same",
              "tf_kernel": "xla", "method": "loop"}
    five, three = dtype(5), dtype(3)
    want = five / three if rank == 1 else five * (dtype(1) / three)
    _check(pr.avg_pool(x, **params), want, "avg_pool", params, x)


# ----------------------------------------------------------------------------- global

@pytest.mark.parametrize("name", list(DTYPES))
@pytest.mark.parametrize("path", PATHS)
def test_global_pool_rules_of_every_path(path, name):
    """Global max: NaN propagates eagerly and is ignored by XLA (an all-NaN channel gives
    -inf); subnormals read as zeros on every path (float16: kept), not over one cell.
    Global average: ``[s, s]`` flushed to 0 on every path (float16 kept, summed in
    float32); ``[-0, -0]`` gives +0 on every path (the sum starts at +0). ``t``: the
    smallest normal number. ``[t, 0]``: the mean ``t/2`` is subnormal, written as 0 where
    the path flushes. ``[2t, 3s]``: flushed, ``2t / 2 = t``; not flushed, the sum
    ``2t + 1.5 ulp(2t)`` rounds (a tie) to even, ``2t + 2 ulp(2t) = 2t + 4s``, and the mean
    is ``t + 2s`` (float16 and bfloat16 summed in float32: the same after rounding)."""
    dtype = DTYPES[name]
    s = float(_finfo(dtype).smallest_subnormal)
    flushes = path is not None and name != "float16"
    cases = [
        (pr.global_max_pool, [np.nan, 1], np.nan if path != "xla" else 1.0),
        (pr.global_max_pool, [np.nan, np.nan], np.nan if path != "xla" else -np.inf),
        (pr.global_max_pool, [s, -1], 0.0 if flushes else s),
        (pr.global_max_pool, [s], s),
        (pr.global_avg_pool, [s, s], 0.0 if flushes else s),
        (pr.global_avg_pool, [s], s),
    ]
    t = float(_finfo(dtype).tiny)
    cases += [(pr.global_avg_pool, [t, 0], 0.0 if flushes else t / 2),
              (pr.global_avg_pool, [2 * t, 3 * s], t if flushes else t + 2 * s)]
    if path is not None:                 # None: IEEE, whose sign of a zero sum NumPy picks
        cases.append((pr.global_avg_pool, [-0.0, -0.0], 0.0))
    for op, values, want in cases:
        x = _line(values, dtype, 1)
        got = op(x, tf_kernel=path, method="fast")
        _check(got, np.array(want, dtype), op.__name__, {"tf_kernel": path}, x)


# ----------------------------------------------------------------------------- gradients

@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("path", PATHS)
def test_max_pool_grad_ties_of_every_path(path, rank):
    """``[1, 1]``: the eager 3D kernels (and None in 3D) send the gradient to every cell
    within 1e-5 of the maximum; 1D/2D and XLA to the first. ``[1, NaN]``: XLA's select
    moves on to the NaN (``1 >= NaN`` is false); the first-greater scan stays at 1."""
    both = rank == 3 and path != "xla"
    nan_moves = path == "xla"
    probes = [([1, 1], [1, 1] if both else [1, 0])]
    if rank < 3 or path == "xla":
        probes.append(([1, np.nan], [0, 1] if nan_moves else [1, 0]))
    for values, want in probes:
        x = _line(values, np.float32, rank)
        g = _line([1], np.float32, rank)
        params = {"pool_size": _pool(rank, 2), "tf_kernel": path, "method": "loop"}
        got = pr.max_pool_grad(x, g, **params)
        _check(got, np.float32(want), "max_pool_grad", params, x)


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("path", PATHS)
def test_pool_grad_copies_of_every_path(path, rank):
    """XLA's graph is a copy / broadcast here (one output element; one window over the
    whole axis), so nothing is flushed and ``-0`` is kept: max ``[1, 2]`` with upstream
    ``s`` gives ``[+0, s]`` under XLA and None, ``[+0, +0]`` on the eager paths (the sum
    ``+0 + s`` flushed); average, upstream ``-0``: each cell's share ``-0`` is copied by
    XLA, added to ``+0`` elsewhere (``+0``)."""
    s = float(np.finfo(np.float32).smallest_subnormal)
    params = {"pool_size": _pool(rank, 2), "tf_kernel": path, "method": "loop"}
    x = _line([1, 2], np.float32, rank)
    got = pr.max_pool_grad(x, _line([s], np.float32, rank), **params)
    flushed = path in ("onednn", "eigen")
    _check(got, np.float32([0, 0 if flushed else s]), "max_pool_grad", params, x)
    got = pr.avg_pool_grad(x, _line([-0.0], np.float32, rank), **params)
    zero = -0.0 if path == "xla" else 0.0
    _check(got, np.float32([zero, zero]), "avg_pool_grad", params, x)


def test_xla_average_gradient_sums_overlapping_whole_axis_windows():
    """Window 3, stride 1, "same" on 2 cells: two windows (pads (1, 1)), each holding both
    real cells and sending each 1/2; XLA's graph is no copy there (two windows), so every
    cell sums ``1/2 + 1/2 = 1``."""
    x = np.zeros((1, 2, 1), np.float32)
    params = {"pool_size": 3, "strides": 1, "padding": "same", "tf_kernel": "xla",
              "method": "loop"}
    got = pr.avg_pool_grad(x, np.ones((1, 2, 1), np.float32), **params)
    _check(got, np.float32([1, 1]), "avg_pool_grad", params, x)


def test_a_pool_plan_is_hashable_and_immutable():
    """Plans key the per-call caches (the compiled launch): a plan must hash by value and
    never change after it is made."""
    g = plan_window((4,), (2,), (2,), "valid")
    plan = plan_pool("onednn", "max", np.dtype(np.float32), g)
    assert hash(plan) == hash(plan_pool("onednn", "max", np.dtype(np.float32), g))
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.op = "avg"
