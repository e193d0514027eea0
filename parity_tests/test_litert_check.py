"""``check(candidate, "litert.average_pool_2d_int8")`` and the other LiteRT quantized ops
(issue 22): the candidate is called in LiteRT's terms and compared bit for bit with
``pooling_ref.dialects.litert``. No LiteRT runtime needed here
(``test_litert_check_models.py`` checks one-node LiteRT models).

The candidates below are hand-written NumPy loops over TF's SAME / VALID geometry
(derived here: ``out = ceil(n / s)``, the odd padding cell after), independent of the
package: one follows LiteRT's rules and must pass; each other one departs from them in one
rule that integer-kernel writers get wrong, and must fail with a hint naming that rule.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

import pooling_ref
from pooling_ref import cases as case_gen
from pooling_ref import strategies
from pooling_ref.dialects import litert
from pooling_ref.ops import spec
from pooling_ref.oracle import compare_result

from .test_cli import run

DTYPES = ("int8", "uint8", "int16")
OPS = [f"litert.{kind}_pool_2d_{dtype}" for kind in ("average", "max") for dtype in DTYPES]
F32 = np.float32


# ----------------------------------------------------------------------------- candidates


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _axis_windows(n: int, k: int, s: int, padding: str) -> list[list[int]]:
    """Per output position, the input positions of its window (padding as -1 / n..)."""
    if padding.upper() == "SAME":
        out = math.ceil(n / s)
        before = max((out - 1) * s + k - n, 0) // 2
    else:
        out, before = (n - k) // s + 1, 0
    return [[o * s + t - before for t in range(k)] for o in range(out)]


def _windows(x, filter_size, strides, padding):
    """(oh, ow, cells, padding cells) of every window of NHWC ``x``; cells (N, C, real)."""
    (fh, fw), (sh, sw) = _pair(filter_size), _pair(strides)
    _, h, w, _ = x.shape
    for oh, rows in enumerate(_axis_windows(h, fh, sh, padding)):
        for ow, cols in enumerate(_axis_windows(w, fw, sw, padding)):
            real = [(r, c) for r in rows for c in cols if 0 <= r < h and 0 <= c < w]
            cells = np.stack([x[:, r, c, :] for r, c in real], -1).astype(np.int64)
            yield oh, ow, cells, fh * fw - len(real)


def _round_away(v: float) -> int:
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


def _bounds(activation, scale, zero_point, dtype, *, saturate=True, with_zp=True):
    """The quantized clamp, hand-derived: zero_point + round(bound / scale)."""
    info = np.iinfo(dtype)
    low, high = {"NONE": (None, None), "RELU": (0.0, None), "RELU6": (0.0, 6.0),
                 "RELU_N1_TO_1": (-1.0, 1.0)}[activation.upper()]
    zp = zero_point if with_zp else 0
    q = [lim if b is None else zp + _round_away(float(F32(b) / F32(scale)))
         for b, lim in ((low, info.min), (high, info.max))]
    if saturate:
        return max(q[0], info.min), min(q[1], info.max)
    return tuple(int(v) for v in np.array(q).astype(dtype))        # wraps around


ROUNDING = {
    "litert": lambda s, n: _round_away(s / n),
    "half_even": lambda s, n: round(s / n),                     # Python: half to even
    "half_up": lambda s, n: math.floor(s / n + 0.5),
    "floor": lambda s, n: s // n,
}


def average(x, filter_size, strides, padding, scale, zero_point, activation="NONE", *,
            rounding="litert", subtract_zp=False, full_window=False, saturate=True):
    """A quantized average pooling; the keywords after ``*`` pick a departure."""
    x = np.asarray(x)
    ys = list(_windows(x, filter_size, strides, padding))
    out = np.zeros((x.shape[0], ys[-1][0] + 1, ys[-1][1] + 1, x.shape[-1]), np.int64)
    for oh, ow, cells, pads in ys:
        count = cells.shape[-1] + (pads if full_window else 0)
        for (b, c), total in np.ndenumerate(cells.sum(-1)):
            total, zp = int(total), zero_point if subtract_zp else 0
            out[b, oh, ow, c] = zp + ROUNDING[rounding](total - zp * count, count)
    low, high = _bounds(activation, scale, zero_point, x.dtype, saturate=saturate)
    return np.clip(out, low, high).astype(x.dtype)


def maximum(x, filter_size, strides, padding, scale, zero_point, activation="NONE", *,
            padding_value=None, with_zp=True):
    """A quantized max pooling; ``padding_value``: SAME padding cells take part."""
    x = np.asarray(x)
    ys = list(_windows(x, filter_size, strides, padding))
    out = np.zeros((x.shape[0], ys[-1][0] + 1, ys[-1][1] + 1, x.shape[-1]), np.int64)
    for oh, ow, cells, pads in ys:
        best = cells.max(-1)
        if pads and padding_value is not None:
            best = np.maximum(best, padding_value)
        out[:, oh, ow, :] = best
    low, high = _bounds(activation, scale, zero_point, x.dtype, with_zp=with_zp)
    return np.clip(out, low, high).astype(x.dtype)


def max_padding_as_zero(x, filter_size, strides, padding, scale, zero_point,
                        activation="NONE"):
    return maximum(x, filter_size, strides, padding, scale, zero_point, activation,
                   padding_value=0)


LITERT_MEAN = "LiteRT rounds the mean of the raw values (zero point included) half away"
LITERT_CLAMP = "LiteRT clamps"
WRONG = [
    ("half_even", functools.partial(average, rounding="half_even"), "average",
     "rounds the window mean half to even", LITERT_MEAN),
    ("half_up", functools.partial(average, rounding="half_up"), "average",
     "rounds the window mean half up (towards +inf)", LITERT_MEAN),
    ("floor", functools.partial(average, rounding="floor"), "average",
     "floor-divides the window sum", LITERT_MEAN),
    ("q - zp", functools.partial(average, subtract_zp=True), "average",
     "subtracts the zero point before rounding", LITERT_MEAN),
    ("no saturation", functools.partial(average, saturate=False), "average",
     "does not saturate the", LITERT_CLAMP),
    ("full window", functools.partial(average, full_window=True), "average",
     "divides by the full window at a SAME border", "LiteRT divides by the real cells only"),
    ("max: padding as 0", max_padding_as_zero, "max",
     "reads SAME padding cells as 0", "LiteRT's maximum is over the real cells only"),
    ("max: bounds without zp", functools.partial(maximum, with_zp=False), "max",
     "bounds without the zero point", LITERT_CLAMP),
    ("max: XNNPACK's bounds", functools.partial(litert.max_pool_2d_q, kernel="xnnpack"),
     "max", "half to even after adding the zero point (XNNPACK's rule", LITERT_CLAMP),
]


# ----------------------------------------------------------------------------- tests


@pytest.mark.parametrize("op", OPS)
def test_check_accepts_the_dialect_and_a_hand_written_kernel(op):
    """The dialect's functions, wrapped (LiteRT's reference-kernel profile) or as they are,
    and the hand-written loops pass every case; the cases are the op's dtype, NHWC."""
    kind = "average" if ".average" in op else "max"
    dialect = litert.average_pool_2d_q if kind == "average" else litert.max_pool_2d_q
    loop = average if kind == "average" else maximum
    for candidate in (dialect, functools.partial(dialect, kernel="reference"), loop):
        report = pooling_ref.check(candidate, op, cases=60, timeout=None)
        assert report.passed and report.cases == 60, str(report)
        assert report.dtype == op.rsplit("_", 1)[1]
    assert spec(op).default_dtype == op.rsplit("_", 1)[1]


@pytest.mark.parametrize("dtype", ["int8", "uint8"])
@pytest.mark.parametrize(("name", "candidate", "kind", "rule", "theirs"), WRONG,
                         ids=[w[0] for w in WRONG])
def test_a_kernel_with_another_rule_fails_with_a_hint_naming_it(name, candidate, kind, rule,
                                                                theirs, dtype):
    """Each departure fails, every reported (shrunk) case names it and LiteRT's rule, and
    the shrunk case still fails. uint8 has no negative raw value: rounding half up is
    rounding half away from zero there, and a padding cell read as 0 never wins a
    maximum, so those two kernels are right for uint8 and pass."""
    report = pooling_ref.check(candidate, f"litert.{kind}_pool_2d_{dtype}", cases=100,
                               timeout=None)
    if dtype == "uint8" and name in ("half_up", "max: padding as 0"):
        assert report.passed and report.cases == 100, str(report)
        return
    assert not report.passed, name
    for failure in report.failures:
        assert rule in failure.explanation and theirs in failure.explanation, str(failure)
        x = _rebuilt(failure)                       # the shrunk case still fails
        assert not compare_result(failure.op, candidate(x, **failure.params), x,
                                  **failure.params).ok


def _rebuilt(failure) -> np.ndarray:
    """The shrunk case's input, from the reproducer script's literal."""
    line = next(t for t in failure.reproducer.splitlines() if t.startswith("x = "))
    return eval(line[4:], {"np": np})


def test_the_draw_holds_ties_at_every_border_count_and_the_extremes():
    """Over 200 cases of the int8 average: exact .5 ties of the raw window sums at every
    even real-cell count a SAME border gives (and inside), zero points -128 and 127, cells
    at -128 and 127, each activation, scales whose activation bounds are .5 ties, both
    paddings (counted here from the cases, with the hand-derived geometry)."""
    cases = case_gen.generate_cases("litert.average_pool_2d_int8", 200, seed=0)
    border_ties, inner_ties, seen = set(), set(), {"zp": set(), "x": set(), "act": set(),
                                                     "pad": set(), "tie scale": 0}
    for c in cases:
        p = c.params
        full = np.prod(_pair(p["filter_size"]))
        for _, _, cells, _ in _windows(c.x, p["filter_size"], p["strides"], p["padding"]):
            n = cells.shape[-1]
            if n % 2 == 0 and (2 * (cells.sum(-1) % n) == n).any():
                (border_ties if n < full else inner_ties).add(int(n))
        seen["zp"].add(p["zero_point"])
        seen["x"].update({int(c.x.min()), int(c.x.max())})
        seen["act"].add(p.get("activation", "omitted"))
        seen["pad"].add(p["padding"])
        seen["tie scale"] += float(F32(6) / F32(p["scale"])) % 1 == 0.5
    assert {2, 4, 6, 8} <= border_ties and {2, 4} <= inner_ties, (border_ties, inner_ties)
    assert {-128, 127} <= seen["zp"] and {-128, 127} <= seen["x"]
    assert seen["act"] == {"omitted", "NONE", "RELU", "RELU6", "RELU_N1_TO_1"}
    assert seen["pad"] == {"SAME", "VALID"} and seen["tie scale"] >= 10
    assert {c.corner for c in cases} >= {"rounding ties", "dtype limits",
                                        "activation bounds", "below zero point"}


def test_int16_cases_are_symmetric_and_the_dtype_is_the_ops():
    cases = case_gen.generate_cases("litert.max_pool_2d_int16", 30, seed=1)
    assert {c.params["zero_point"] for c in cases} == {0}
    assert {c.x.dtype.name for c in cases} == {"int16"} and all(c.x.ndim == 4 for c in cases)
    with pytest.raises(ValueError, match="dtype must be one of int16 for litert"):
        pooling_ref.check(litert.max_pool_2d_q, "litert.max_pool_2d_int16", dtype="float32")
    assert case_gen.check_dtype(None, "litert.average_pool_2d_uint8").name == "uint8"
    assert case_gen.check_dtype(None, "max_pool2d").name == "float32"


def _as_int8(x, *args, **kwargs):
    """A kernel that works on int8 only: it reads any input as int8 (uint8 200 -> -56)."""
    x = np.asarray(x)
    return maximum(x.astype(np.int8), *args, **kwargs).astype(x.dtype)


def test_the_q_aliases_of_api_md_name_one_op_per_dtype():
    """``litert.max_pool_2d_q`` / ``litert.average_pool_2d_q`` (the public op names) run the
    entry of the dtype given, int8 when none is: an int8-only kernel passes the int8 check
    and fails the uint8 one; a dtype the alias does not take is a ValueError naming them."""
    report = pooling_ref.check(maximum, "litert.max_pool_2d_q", dtype="uint8", cases=30,
                               timeout=None)
    assert report.passed and report.dtype == "uint8" and report.cases == 30, str(report)
    assert pooling_ref.check(_as_int8, "litert.max_pool_2d_q", cases=30, timeout=None).passed
    report = pooling_ref.check(_as_int8, "litert.max_pool_2d_q", dtype=np.uint8, cases=30,
                               timeout=None)
    assert not report.passed and report.failures[0].op == "litert.max_pool_2d_uint8"
    for c in case_gen.generate_cases("litert.average_pool_2d_q", 10, seed=0, dtype="int16"):
        assert c.op == "litert.average_pool_2d_int16" and c.x.dtype == np.int16
    with pytest.raises(ValueError, match=r"dtype must be one of int8, uint8, int16 for "
                                         r"litert\.average_pool_2d_q; got 'float32'"):
        pooling_ref.check(average, "litert.average_pool_2d_q", dtype="float32")
    with pytest.raises(ValueError, match="dtype must be one of int8, uint8, int16"):
        strategies.cases("litert.max_pool_2d_q", dtype="int32")


def test_supports_restricts_the_litert_parameters():
    sup = {"padding": ["SAME"], "activation": ["RELU6"], "filter_size": [(2, 3)],
           "zero_point": [-128], "scale": [0.8]}
    cases = case_gen.generate_cases("litert.average_pool_2d_int8", 30, seed=3, supports=sup)
    for c in cases:
        p = c.params
        assert (p["padding"], p["activation"], p["zero_point"]) == ("SAME", "RELU6", -128)
        assert _pair(p["filter_size"]) == (2, 3) and p["scale"] == float(F32(0.8))
    with pytest.raises(ValueError, match="activation"):
        case_gen.generate_cases("litert.max_pool_2d_int8", 2, supports={"activation": "TANH"})


def test_the_hypothesis_strategy_draws_litert_cases():
    hypothesis = pytest.importorskip("hypothesis")
    seen = []

    @hypothesis.settings(max_examples=25, database=None, deadline=None)
    @hypothesis.given(strategies.cases("litert.average_pool_2d_int8"))
    def check_one(case):
        x, params = case
        seen.append(x.dtype.name)
        assert np.array_equal(average(x, **params), litert.average_pool_2d_q(x, **params))

    check_one()
    assert set(seen) == {"int8"}


def test_the_cli_checks_a_litert_op(tmp_path):
    (tmp_path / "mykernel.py").write_text(
        "from pooling_ref.dialects import litert\n"
        "def pool(x, filter_size, strides, padding, scale, zero_point, activation='NONE'):\n"
        "    return litert.average_pool_2d_q(x, filter_size, strides, padding, scale,\n"
        "                                    zero_point, activation=activation)\n")
    done = run("check", "mykernel:pool", "--op", "litert.average_pool_2d_uint8", "--cases",
               "20", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "20 cases, all passed" in done.stdout and "uint8" in done.stdout
