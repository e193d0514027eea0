"""The general window model of pooling (issue 21): explicit pads, ``"same_lower"``,
``ceil_mode`` with the drop rule, dilation, the divisor rule — without TensorFlow.

Expected values are derived by hand in the comments (torch's / ONNX's formulas as measured
in the dialect facts: output ``floor`` or ``ceil((L + pb + pe - keff) / s) + 1``, minus one
when the last window would start in the right padding; torch's ``count_include_pad``
divisor ``min(start + k, L + p) - start``), or from an independent NumPy implementation in
this file (pad, gather every window by index arithmetic, reduce). Every method must equal
the ``"loop"`` specification bit for bit on Hypothesis-drawn general windows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import pooling_ref as pr
from pooling_ref import methods
from pooling_ref.geometry import output_length
from pooling_ref.tolerance import avg_pool_bound

from ._assert import assert_bitwise, assert_within_bound

METHODS = (*methods.names("max_pool"), None)       # None: ``method`` omitted
POOLS = {"max_pool": pr.max_pool, "avg_pool": pr.avg_pool}


def _check_hand(op, x, params, expected):
    """Every method (and the default) gives ``expected`` bit for bit."""
    expected = np.asarray(expected, dtype=x.dtype)
    for m in METHODS:
        kw = params if m is None else {**params, "method": m}
        got = POOLS[op](x, **kw)
        assert_bitwise(got, expected, op=op, params=kw, arrays={"x": x},
                       what="differs from the hand-derived value")


def _row(values, dtype=np.float32):
    return np.asarray(values, dtype).reshape(1, -1, 1)


# ----------------------------------------------------------------------------- ceil mode


def test_ceil_mode_drops_the_window_starting_in_the_right_padding():
    # 9x9, k4 s4 p2: padded 13, (13 - 4) / 4 = 2.25 -> ceil 3 -> 4 windows, but window 3
    # would start at 12 >= L + p = 11 (in the right padding): dropped -> 3x3 (torch and
    # onnxruntime agree). Windows along an axis cover input rows [-2..1], [2..5], [6..9]:
    # their real rows end at 1, 5, 8. x[i, j] = 9i + j, so the max is 9*r[a] + r[b].
    x = np.arange(81, dtype=np.float32).reshape(1, 9, 9, 1)
    r = np.array([1, 5, 8])
    expected = (9 * r[:, None] + r[None, :]).reshape(1, 3, 3, 1)
    params = {"pool_size": 4, "padding": ((2, 2), (2, 2)), "ceil_mode": True}
    _check_hand("max_pool", x, params, expected)
    # floor mode gives 3 as well here ((13 - 4) // 4 + 1 = 3): the same windows
    _check_hand("max_pool", x, {**params, "ceil_mode": False}, expected)
    assert output_length(9, 4, 4, (2, 2), ceil_mode=True) == 3


def test_ceil_overhang_average_real_padded_and_fixed_divisor():
    # [1..5], k4 s4, ceil: (5 - 4) / 4 -> ceil 1 -> 2 windows, the second starts at 4 < 5
    # (kept): [1, 2, 3, 4] and [5] + 3 cells past the end (the overhang, never counted).
    x = _row([1, 2, 3, 4, 5])
    p = {"pool_size": 4, "ceil_mode": True}
    _check_hand("avg_pool", x, p, _row([2.5, 5]))                              # real
    _check_hand("avg_pool", x, {**p, "divisor": "padded"}, _row([2.5, 5]))     # L + p = 5
    _check_hand("avg_pool", x, {**p, "divisor": 4}, _row([2.5, 1.25]))         # 10/4, 5/4
    _check_hand("max_pool", x, p, _row([4, 5]))
    _check_hand("avg_pool", x, {"pool_size": 4}, _row([2.5]))                  # floor: 1


def test_ceil_with_padding_counts_only_the_declared_padding():
    # [1..6], k3 s2 p1 ceil: padded 8, (8 - 3) / 2 = 2.5 -> 3 -> 4 windows; the last starts
    # at input 5 < 6 (kept). Windows (input coords) [-1..1], [1..3], [3..5], [5..7]: cell 6
    # is the declared right padding, 7 the overhang. Sums 0+1+2=3, 2+3+4=9, 4+5+6=15, 6+0.
    # count_include_pad (torch: min(start+k, L+p) - start): 3, 3, 3, min(8, 7) - 5 = 2.
    # real cells: 2, 3, 3, 1.
    x = _row([1, 2, 3, 4, 5, 6])
    p = {"pool_size": 3, "strides": 2, "padding": ((1, 1),), "ceil_mode": True}
    _check_hand("avg_pool", x, {**p, "divisor": "padded"}, _row([1, 3, 5, 3]))
    _check_hand("avg_pool", x, p, _row([1.5, 3, 5, 6]))
    _check_hand("max_pool", x, p, _row([2, 4, 6, 6]))


def test_count_include_pad_divides_padding_cells_too():
    # [1..5], k3 s2 explicit p1: windows [-1..1], [1..3], [3..5] -> sums 3, 9, 9.
    # padded divisor 3 everywhere: 1, 3, 3; real: 3/2, 3, 9/2.
    x = _row([1, 2, 3, 4, 5])
    p = {"pool_size": 3, "strides": 2, "padding": [(1, 1)]}
    _check_hand("avg_pool", x, {**p, "divisor": "padded"}, _row([1, 3, 3]))
    _check_hand("avg_pool", x, p, _row([1.5, 3, 4.5]))


# ----------------------------------------------------------------------------- same_lower


def test_same_lower_puts_the_odd_cell_before():
    # [1..4], k2 s1: total pad 1. "same" (TF, SAME_UPPER): (0, 1) -> windows [0,1], [1,2],
    # [2,3], [3,pad]; "same_lower": (1, 0) -> [pad,0], [0,1], [1,2], [2,3].
    x = _row([1, 2, 3, 4])
    _check_hand("max_pool", x, {"pool_size": 2, "strides": 1, "padding": "same"},
                _row([2, 3, 4, 4]))
    _check_hand("max_pool", x, {"pool_size": 2, "strides": 1, "padding": "SAME_LOWER"},
                _row([1, 2, 3, 4]))
    _check_hand("avg_pool", x, {"pool_size": 2, "strides": 1, "padding": "same_lower"},
                _row([1, 1.5, 2.5, 3.5]))
    # stride 2, L = 7, k 3: out 4, total (4-1)*2 + 3 - 7 = 2 -> (1, 1) both ways
    # (windows [-1..1], [1..3], [3..5], [5..7]): maxima of 1..7 -> 2, 4, 6, 7.
    x7 = _row(range(1, 8))
    for padding in ("same", "same_lower"):
        _check_hand("max_pool", x7, {"pool_size": 3, "strides": 2, "padding": padding},
                    _row([2, 4, 6, 7]))


# ----------------------------------------------------------------------------- dilation


def test_same_is_sized_from_the_dilated_window():
    # L = 7, k = 3, d = 2: keff 5, out 7, total 6 + 5 - 7 = 4 -> (2, 2). Output o reads
    # cells o-2, o, o+2 of 1..7 (indices 0..6). Max: 3, 4, 5, 6, 7, 6, 7. Real-cell means:
    # (1+3)/2, (2+4)/2, (1+3+5)/3, (2+4+6)/3, (3+5+7)/3, (4+6)/2, (5+7)/2.
    x = _row(range(1, 8))
    p = {"pool_size": 3, "strides": 1, "padding": "same", "dilation_rate": 2}
    _check_hand("max_pool", x, p, _row([3, 4, 5, 6, 7, 6, 7]))
    _check_hand("avg_pool", x, p, _row([2, 3, 3, 4, 5, 5, 6]))


def test_valid_dilated_pooling_with_strides():
    # 1..9, k3 d2 s2 valid: keff 5, out (9 - 5) // 2 + 1 = 3; windows {0,2,4}, {2,4,6},
    # {4,6,8} -> values {1,3,5}, {3,5,7}, {5,7,9}: max 5, 7, 9; mean 3, 5, 7.
    x = _row(range(1, 10))
    p = {"pool_size": 3, "strides": 2, "dilation_rate": 2}
    _check_hand("max_pool", x, p, _row([5, 7, 9]))
    _check_hand("avg_pool", x, p, _row([3, 5, 7]))
    # 2D, dilation per axis (1, 2) on x[i, j] = 10i + j (3 x 5), k 2x2, s 1: windows
    # rows {i, i+1}, cols {j, j+2}: max 10(i+1) + j + 2 for i < 2, j < 3.
    x2 = (10 * np.arange(3)[:, None] + np.arange(5)[None, :]).astype(np.float64)
    i, j = np.meshgrid(np.arange(2), np.arange(3), indexing="ij")
    _check_hand("max_pool", x2.reshape(1, 3, 5, 1),
                {"pool_size": 2, "strides": 1, "dilation_rate": (1, 2)},
                (10 * (i + 1) + j + 2).reshape(1, 2, 3, 1))


def test_explicit_pads_per_axis_channels_first():
    # x[i, j] = 3i + j (3 x 3), k 2x2 s1, pads ((1, 0), (0, 1)): out (3, 3); window (a, b)
    # covers rows a-1, a and cols b, b+1 (col 3 is padding): max 3*a + min(b + 1, 2).
    x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    a, b = np.meshgrid(np.arange(3), np.arange(3), indexing="ij")
    expected = (3 * a + np.minimum(b + 1, 2)).reshape(1, 1, 3, 3)
    _check_hand("max_pool", x, {"pool_size": 2, "strides": 1, "padding": ((1, 0), (0, 1)),
                                "data_format": "channels_first"}, expected)


def test_padding_cells_are_never_selected_nor_summed():
    # all negative: a max pool that pads with zeros would return 0 in the border windows
    x = _row([-5, -4, -3])
    _check_hand("max_pool", x, {"pool_size": 3, "strides": 1, "padding": ((2, 2),)},
                _row([-5, -4, -3, -3, -3]))
    # windows [-2..0], [-1..1], [0..2], [1..3], [2..4]; real sums -5, -9, -12, -7, -3
    _check_hand("avg_pool", x, {"pool_size": 3, "strides": 1, "padding": ((2, 2),),
                                "divisor": "padded"}, _row([-5 / 3, -3, -4, -7 / 3, -1]))


# ----------------------------------------------------------------------------- Keras defaults


@pytest.mark.parametrize("op", ["max_pool", "avg_pool"])
def test_same_equals_its_explicit_pads(op):
    """"same" is the explicit pads of ``same_pads`` (one model, two spellings), bitwise."""
    rng = np.random.default_rng(21)
    x = rng.standard_normal((2, 7, 6, 3)).astype(np.float32)
    for k, s in [((3, 2), (2, 1)), ((4, 4), (3, 2)), ((2, 5), (1, 3))]:
        pads = tuple(pr.same_pads(n, kk, ss) for n, kk, ss in zip((7, 6), k, s))
        same = POOLS[op](x, k, s, "same")
        explicit = POOLS[op](x, k, s, pads)
        assert_bitwise(explicit, same, op=op, params={"pads": pads, "k": k, "s": s},
                       arrays={"x": x}, what="explicit pads differ from 'same'")


def test_keras_arguments_spelled_out_are_the_defaults():
    x = np.random.default_rng(3).standard_normal((1, 9, 2)).astype(np.float32)
    for op in POOLS:
        kw = {"ceil_mode": False, "dilation_rate": 1}
        if op == "avg_pool":
            kw["divisor"] = "real"
        assert_bitwise(POOLS[op](x, 3, 2, "same", **kw), POOLS[op](x, 3, 2, "same"),
                       op=op, params=kw, arrays={"x": x}, what="differs from the default")


# ----------------------------------------------------------------------------- bad values


BAD = [
    ("max_pool", {"padding": "causal"}, ValueError, "padding"),
    ("max_pool", {"padding": ((1, 1),)}, ValueError, "padding"),          # rank 2 input
    ("max_pool", {"padding": ((1, -1), (0, 0))}, ValueError, "padding"),
    ("max_pool", {"padding": ((1, 1, 1), (0, 0))}, TypeError, "padding"),
    ("avg_pool", {"padding": ((1.5, 1), (0, 0))}, TypeError, "padding"),
    ("max_pool", {"padding": 3}, TypeError, "padding"),
    ("max_pool", {"ceil_mode": 1}, TypeError, "ceil_mode"),
    ("avg_pool", {"ceil_mode": "yes"}, TypeError, "ceil_mode"),
    ("max_pool", {"dilation_rate": 0}, ValueError, "dilation_rate"),
    ("avg_pool", {"dilation_rate": (1, 2, 3)}, ValueError, "dilation_rate"),
    ("avg_pool", {"divisor": 0}, ValueError, "divisor"),
    ("avg_pool", {"divisor": "count_include_pad"}, ValueError, "divisor"),
    ("avg_pool", {"divisor": 2.0}, TypeError, "divisor"),
    ("avg_pool", {"divisor": True}, TypeError, "divisor"),
    ("max_pool", {"pool_size": 4, "padding": ((0, 0), (1, 1))}, ValueError, "pool_size"),
    ("max_pool", {"pool_size": 3, "dilation_rate": 2}, ValueError, "pool_size"),
]


@pytest.mark.parametrize(("op", "kwargs", "exc", "param"), BAD,
                         ids=[f"{op}-{'-'.join(map(str, kw))}-{i}"
                              for i, (op, kw, _, _) in enumerate(BAD)])
def test_bad_window_arguments_name_the_parameter(op, kwargs, exc, param):
    x = np.zeros((1, 3, 5, 2), np.float32)
    kwargs = {"pool_size": 2, **kwargs}
    with pytest.raises(exc, match=rf"{op}: .*\b{param}\b"):
        POOLS[op](x, **kwargs)


def test_max_pool_takes_no_divisor():
    with pytest.raises(TypeError, match="divisor"):
        pr.max_pool(np.zeros((1, 4, 1), np.float32), 2, divisor="padded")


# ----------------------------------------------------------------------------- drawn windows


def _independent_axis(n, k, s, d, pad, ceil):
    """(out, before, after declared): torch's / ONNX's formulas, written out again here."""
    keff = d * (k - 1) + 1
    if pad in ("same", "same_lower"):
        out = math.ceil(n / s)
        total = max((out - 1) * s + keff - n, 0)
        before = total // 2 if pad == "same" else total - total // 2
        return out, before, total - before
    b, a = (0, 0) if pad == "valid" else pad
    q = (n + b + a - keff) / s
    out = (math.ceil(q) if ceil else math.floor(q)) + 1
    if ceil and (out - 1) * s >= n + b:
        out -= 1
    return out, b, a


def _independent_pool(x, op, k, s, d, pads, ceil, divisor):
    """Pooling of channels_last float64 ``x`` by index arithmetic (no pooling_ref code)."""
    axes = [_independent_axis(n, kk, ss, dd, p, ceil)
            for n, kk, ss, dd, p in zip(x.shape[1:-1], k, s, d, pads)]
    out = np.empty((x.shape[0], *(a[0] for a in axes), x.shape[-1]))
    for pos in np.ndindex(*out.shape[1:-1]):
        cells, padded = [], 1
        for o, (_, b, a), kk, ss, dd, n in zip(pos, axes, k, s, d, x.shape[1:-1]):
            taps = [o * ss - b + t * dd for t in range(kk)]
            cells.append([i for i in taps if 0 <= i < n])
            padded *= sum(-b <= i < n + a for i in taps)
        window = x[(slice(None), *np.ix_(*cells), slice(None))] if all(cells) else None
        index = (slice(None), *pos, slice(None))
        if op == "max":
            out[index] = window.max(axis=tuple(range(1, x.ndim - 1)))
            continue
        real = math.prod(len(c) for c in cells)
        count = {"real": real, "padded": padded}.get(divisor, divisor)
        out[index] = window.sum(axis=tuple(range(1, x.ndim - 1))) / count
    return out


@st.composite
def general_windows(draw):
    rank = draw(st.integers(1, 3), label="rank")
    spatial = draw(st.lists(st.integers(1, 9 if rank < 3 else 6), min_size=rank,
                            max_size=rank), label="spatial")
    window = tuple(draw(st.integers(1, 4), label="window") for _ in spatial)
    strides = tuple(draw(st.integers(1, 4), label="stride") for _ in spatial)
    dilation = tuple(draw(st.sampled_from([1, 1, 2, 3]), label="dilation") for _ in spatial)
    ceil = draw(st.booleans(), label="ceil_mode")
    kind = draw(st.sampled_from(["explicit", "explicit", "same", "same_lower", "valid"]),
                label="padding kind")
    if kind == "explicit":
        pads = []
        for k, d in zip(window, dilation):       # each pad < the dilated window (torch,
            keff = d * (k - 1) + 1               # ONNX), so a window holds a real cell...
            pads.append((draw(st.integers(0, keff - 1), label="pad before"),
                         draw(st.integers(0, keff - 1), label="pad after")))
        padding = tuple(pads)
    else:
        padding = kind
    per_axis = [padding] * rank if isinstance(padding, str) else list(padding)
    for axis, (k, d, p) in enumerate(zip(window, dilation, per_axis)):
        if p in ("same", "same_lower"):
            continue
        pb, pa = (0, 0) if p == "valid" else p
        spatial[axis] = max(spatial[axis], d * (k - 1) + 1 - pb - pa)   # a window fits
    divisor = draw(st.sampled_from(["real", "padded", 1, 3, 7]), label="divisor")
    fmt = draw(st.sampled_from(["channels_last", "channels_first"]), label="data_format")
    c = draw(st.sampled_from([1, 2, 3, 8, 9]), label="channels")
    n = draw(st.integers(1, 2), label="batch")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    dtype = draw(st.sampled_from(["float32", "float64", "float16"]), label="dtype")
    values = draw(st.sampled_from(["normal", "special"]), label="values")
    rng = np.random.default_rng(seed)
    shape = (n, *spatial, c)
    if values == "normal":
        x = rng.standard_normal(shape)
    else:
        x = rng.choice([0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, -2.0, 1e-40], size=shape)
    x = x.astype(dtype)
    if fmt == "channels_first":
        x = np.moveaxis(x, -1, 1)
    params = {"pool_size": window, "strides": strides, "padding": padding,
              "dilation_rate": dilation, "ceil_mode": ceil, "data_format": fmt}
    return x, params, divisor, values


def _is_covered(params, shape_cl):
    """Whether every window holds a real cell (the independent reference needs one)."""
    pads = params["padding"]
    per_axis = [pads] * len(shape_cl[1:-1]) if isinstance(pads, str) else list(pads)
    for n, k, s, d, p in zip(shape_cl[1:-1], params["pool_size"], params["strides"],
                             params["dilation_rate"], per_axis):
        out, b, _ = _independent_axis(n, k, s, d, p, params["ceil_mode"])
        for o in range(out):
            if not any(0 <= o * s - b + t * d < n for t in range(k)):
                return False
    return True


@given(general_windows())
def test_every_method_is_bitwise_the_loop_on_general_windows(case):
    x, params, divisor, _ = case
    for op in POOLS:
        kw = {**params, "divisor": divisor} if op == "avg_pool" else params
        for tf_kernel in (None, "onednn"):
            loop = POOLS[op](x, **kw, method="loop", tf_kernel=tf_kernel)
            for m in METHODS:
                if m == "loop":
                    continue
                got = POOLS[op](x, **kw, tf_kernel=tf_kernel,
                                **({} if m is None else {"method": m}))
                assert_bitwise(got, loop, op=op, params={**kw, "method": m,
                                                         "tf_kernel": tf_kernel},
                               arrays={"x": x}, what="differs from the loop")


@given(general_windows())
def test_the_loop_matches_an_independent_implementation(case):
    """Output shapes (drop rule), pads and divisors against index arithmetic written from
    the frameworks' formulas; max exact, averages within the bound of a reordered sum."""
    x, params, divisor, values = case
    assume(values == "normal")                  # special values: the method test above
    x_cl = x if params["data_format"] == "channels_last" else np.moveaxis(x, 1, -1)
    assume(_is_covered(params, x_cl.shape))
    args = (params["pool_size"], params["strides"], params["dilation_rate"],
            [params["padding"]] * (x.ndim - 2) if isinstance(params["padding"], str)
            else params["padding"], params["ceil_mode"])
    kw = {**params, "tf_kernel": None, "method": "loop"}
    want_max = _independent_pool(x_cl.astype(np.float64), "max", *args, divisor)
    got_max = pr.max_pool(x, **kw)
    got_max_cl = got_max if params["data_format"] == "channels_last" else np.moveaxis(
        got_max, 1, -1)
    assert_bitwise(got_max_cl, want_max.astype(x.dtype), op="max_pool", params=kw,
                   arrays={"x": x}, what="differs from the independent implementation")
    got = pr.avg_pool(x, **kw, divisor=divisor)
    got_cl = got if params["data_format"] == "channels_last" else np.moveaxis(got, 1, -1)
    want = _independent_pool(x_cl.astype(np.float64), "avg", *args, divisor)
    bound = avg_pool_bound(x, **kw, divisor=divisor)
    assert_within_bound(got_cl, want.astype(x.dtype), _cl(bound, params), op="avg_pool",
                        params={**kw, "divisor": divisor}, arrays={"x": x},
                        what="differs from the independent implementation")


def _cl(a, params):
    return a if params["data_format"] == "channels_last" else np.moveaxis(a, 1, -1)


# ----------------------------------------------------------------------------- gradients


GRADS = {"max_pool": pr.max_pool_grad, "avg_pool": pr.avg_pool_grad}
GRAD_METHODS = (*methods.names("max_pool_grad"), None)


def _check_grad_hand(op, x, gout, params, expected):
    expected = np.asarray(expected, dtype=x.dtype)
    for m in GRAD_METHODS:
        kw = params if m is None else {**params, "method": m}
        got = GRADS[op](x, np.asarray(gout, x.dtype), **kw)
        assert_bitwise(got, expected, op=f"{op}_grad", params=kw, arrays={"x": x},
                       what="differs from the hand-derived gradient")


def test_gradients_of_ceil_mode_and_the_divisor():
    # [1..5], k4 s4 ceil: windows [1..4] and [5] (+3 overhang cells). Average: each window
    # sends grad_out / divisor to its real cells: real 1/4 x 4, 1/1; a fixed 2: 1/2 each.
    x = _row([1, 2, 3, 4, 5])
    p = {"pool_size": 4, "ceil_mode": True}
    _check_grad_hand("avg_pool", x, _row([1, 1]), p, _row([0.25] * 4 + [1]))
    _check_grad_hand("avg_pool", x, _row([1, 1]), {**p, "divisor": 2}, _row([0.5] * 5))
    # max: the chosen cells 4 (index 3) and 5 (index 4)
    _check_grad_hand("max_pool", x, _row([1, 2]), p, _row([0, 0, 0, 1, 2]))
    # [1..6], k3 s2 p1 ceil, count_include_pad: divisors 3, 3, 3, 2 (see the forward test);
    # cells 0..5 receive 1/3 | 1/3 + 1/3 | 1/3 | 1/3 + 1/3 | 1/3 | 1/3 + 1/2 (grad_out 1)
    third, half = np.float32(1) / np.float32(3), np.float32(1) / np.float32(2)
    expected = [third, third + third, third, third + third, third, third + half]
    _check_grad_hand("avg_pool", _row(range(1, 7)), _row([1, 1, 1, 1]),
                     {"pool_size": 3, "strides": 2, "padding": ((1, 1),), "ceil_mode": True,
                      "divisor": "padded"}, _row(expected))


def test_gradient_of_dilated_pooling():
    # 1..9, k3 d2 s2: windows {0,2,4}, {2,4,6}, {4,6,8} choose cells 4, 6, 8
    x = _row(range(1, 10))
    p = {"pool_size": 3, "strides": 2, "dilation_rate": 2}
    _check_grad_hand("max_pool", x, _row([1, 2, 4]), p, _row([0, 0, 0, 0, 1, 0, 2, 0, 4]))
    # average: 1/3 to each cell of each window: cells 2 and 6 are in two, cell 4 in three
    t = np.float32(1) / np.float32(3)
    _check_grad_hand("avg_pool", x, _row([1, 1, 1]), p,
                     _row([t, 0, t + t, 0, t + t + t, 0, t + t, 0, t]))


@given(general_windows())
def test_every_gradient_method_is_bitwise_the_loop_on_general_windows(case):
    x, params, divisor, _ = case
    rng = np.random.default_rng(0)
    for op in GRADS:
        kw = {**params, "divisor": divisor} if op == "avg_pool" else params
        out = POOLS[op](x, **kw, tf_kernel=None)
        gout = rng.standard_normal(out.shape).astype(x.dtype)
        loop = GRADS[op](x, gout, **kw, method="loop", tf_kernel=None)
        for m in GRAD_METHODS:
            if m != "loop":
                got = GRADS[op](x, gout, **kw, tf_kernel=None,
                                **({} if m is None else {"method": m}))
                assert_bitwise(got, loop, op=f"{op}_grad", params={**kw, "method": m},
                               arrays={"x": x, "grad_out": gout}, what="differs from the loop")


@given(general_windows())
def test_gradients_are_the_adjoints_of_the_forward(case):
    """Average pooling is linear: ``<avg_pool_grad(x, g), v> == <g, avg_pool(v)>``; max
    pooling routes each window's gradient to its maximum: ``<max_pool_grad(x, g), x> ==
    <g, max_pool(x)>`` (float64, no ties) — the gradient read against the forward."""
    x, params, divisor, values = case
    assume(values == "normal")
    x = x.astype(np.float64)
    rng = np.random.default_rng(1)
    kw = {**params, "tf_kernel": None}
    y = pr.avg_pool(x, **kw, divisor=divisor)
    gout = rng.standard_normal(y.shape)
    v = rng.standard_normal(x.shape)
    left = np.vdot(pr.avg_pool_grad(x, gout, **kw, divisor=divisor), v)
    with np.errstate(invalid="ignore", divide="ignore"):
        right = np.nansum(gout * pr.avg_pool(v, **kw, divisor=divisor))
    assert abs(left - right) <= 1e-9 * (1 + np.abs(gout).sum() * np.abs(v).max())
    assume(_is_covered(params, np.moveaxis(x, 1, -1).shape
                       if params["data_format"] == "channels_first" else x.shape))
    m = pr.max_pool(x, **kw)
    left = np.vdot(pr.max_pool_grad(x, gout, **kw), x)
    assert abs(left - np.vdot(gout, m)) <= 1e-9 * (1 + np.abs(gout).sum() * np.abs(x).max())
