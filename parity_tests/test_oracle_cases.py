"""The oracle's cases: one description drawn from NumPy (``check``) or Hypothesis
(``strategies.cases``), structural shrinking, size restrictions, labels after shrinking.

Expected minimal examples are hand-derived: e.g. the smallest max pooling call with "same"
padding and an odd total pad is one cell with a window of 2 (strides omitted, so 2):
output length ceil(1 / 2) = 1, total pad (1 - 1) * 2 + 2 - 1 = 1.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

import pooling_ref
from parity_tests.test_cli import run
from parity_tests.wrong_impls import CATALOGUE
from pooling_ref._case import geometry
from pooling_ref._draw import Ints, Normal, Pool
from pooling_ref._special import special_corners, tile_corners
from pooling_ref.cases import (
    TILE_CORNERS,
    Case,
    Supports,
    corner_of,
    generate_cases,
    special_classes,
)
from pooling_ref.explain import explain
from pooling_ref.geometry import same_pads
from pooling_ref.judge import Criteria
from pooling_ref.ops import spec
from pooling_ref.oracle import check, compare_result
from pooling_ref.strategies import ELEMENTWISE, HypothesisSource, cases

#: Deterministic searches: the same examples on every run, no example database.
FIXED = settings(derandomize=True, database=None, max_examples=3000, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ROOT = Path(__file__).resolve().parents[1]
#: Find one example, without shrinking it.
SEARCH = settings(FIXED, max_examples=3000, phases=[Phase.generate])


def _channels(x, params) -> int:
    return x.shape[1] if params.get("data_format") == "channels_first" else x.shape[-1]


def _spatial(x, params) -> tuple[int, ...]:
    return x.shape[2:] if params.get("data_format") == "channels_first" else x.shape[1:-1]


def _odd_same(case) -> bool:
    """Max pooling 1D with "same" padding and an odd total pad."""
    x, params = case
    if params.get("padding") != "same":
        return False
    k = np.broadcast_to(params["pool_size"], (1,))[0]
    s = np.broadcast_to(params.get("strides", params["pool_size"]), (1,))[0]
    return sum(same_pads(_spatial(x, params)[0], int(k), int(s))) % 2 == 1


#: Properties of a case that fail (return True) only for one structure.
PREDICATES = {"channels > 8": lambda c: _channels(*c) > 8, "odd same pad": _odd_same,
              "nan": lambda c: bool(np.isnan(c[0]).any())}


def _search(kind: str, name: str, op: str) -> tuple[np.ndarray, dict]:
    """The example Hypothesis shrinks to: for ``kind="predicate"`` the smallest case for
    which ``PREDICATES[name]`` holds; for ``kind="kernel"`` the smallest case on which the
    catalogue's wrong candidate ``name`` fails a ``compare_result`` property."""
    if kind == "predicate":
        return find(cases(op), PREDICATES[name], settings=FIXED)
    candidate, seen = CATALOGUE[name].func, []

    @FIXED
    @given(cases(op))
    def matches(case):
        seen.append(case)
        x, params = case
        with np.errstate(all="ignore"):
            result = candidate(x, **params)
            assert compare_result(op, result, x, tf_kernel=None, **params).ok

    with pytest.raises(AssertionError):
        matches()
    return seen[-1]           # Hypothesis runs the minimal example last


def _encode(value):
    if isinstance(value, np.ndarray):
        return {"array": value.tobytes().hex(), "dtype": value.dtype.str, "shape": value.shape}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(value):
    if isinstance(value, dict) and "array" in value:
        a = np.frombuffer(bytes.fromhex(value["array"]), dtype=value["dtype"])
        return a.reshape(value["shape"])
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    return tuple(_decode(v) for v in value) if isinstance(value, list) else value


def print_search(kind: str, name: str, op: str) -> None:
    x, params = _search(kind, name, op)
    print(json.dumps({"x": _encode(x), "params": _encode(params)}))


@functools.cache
def _shrunk(kind: str, name: str, op: str) -> tuple[np.ndarray, dict]:
    """:func:`_search` in a fresh interpreter. Hypothesis' generation also draws constants
    found in the local modules loaded so far, so in a test process it depends on which
    tests ran before; a fresh interpreter loads the same modules every time."""
    code = (f"from parity_tests.test_oracle_cases import print_search\n"
            f"print_search({kind!r}, {name!r}, {op!r})")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=ROOT, env=env, timeout=900)
    assert p.returncode == 0, p.stderr
    found = json.loads(p.stdout.splitlines()[-1])
    return _decode(found["x"]), _decode(found["params"])


# ----------------------------------------------------------------------------- two sources


def test_check_needs_no_hypothesis():
    """The package imports, draws cases and checks without Hypothesis; only
    ``pooling_ref.strategies`` needs it."""
    code = ("import sys; sys.modules['hypothesis'] = None\n"
            "import pooling_ref, pooling_ref.cases as c\n"
            "r = pooling_ref.check(pooling_ref.max_pool, 'max_pool2d', tf_kernel='onednn')\n"
            "assert r.passed and r.cases == 100, r\n"
            "assert len(c.generate_cases('conv2d_grad', 20, seed=4)) == 20\n"
            "try:\n    import pooling_ref.strategies\nexcept ImportError:\n    print('ok')\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


@settings(FIXED, max_examples=50)
@given(st.data())
def test_hypothesis_source_draws_within_its_arguments(data):
    src = HypothesisSource(data.draw)
    assert 2 <= src.integer(2, 5) <= 5
    assert src.choice(["a", "b", "c"], [0, 1, 0]) == "b"       # weight 0: never drawn
    assert src.boolean(1.0) and not src.boolean(0.0)
    n = data.draw(st.integers(1, 3 * ELEMENTWISE), label="cells")
    a = src.values((n,), np.dtype("float32"), Normal("negative"))
    assert a.shape == (n,) and a.dtype == np.float32 and (a <= -0.25).all()
    b = src.values((2, n), np.dtype("int8"), Pool((-128, 0, 127)))
    assert set(np.unique(b)) <= {-128, 0, 127}
    c = src.values((n, 1), np.dtype("float16"), Ints(-2, 2))
    assert c.dtype == np.float16 and set(np.unique(c)) <= {-2, -1, 0, 1, 2}


@pytest.mark.parametrize("op,dtype", [("max_pool2d", "float32"), ("avg_pool1d", "float32"),
                                      ("max_pool3d", "int32"), ("conv2d", "float64"),
                                      ("avg_pool2d_grad", "float32"),
                                      ("global_max_pool1d", "uint8")])
def test_strategy_reaches_every_class(op, dtype):
    """``strategies.cases`` draws every special-value class and size corner ``check``
    draws for ``op`` and ``dtype`` (Hypothesis' search finds them all)."""
    s, dt = spec(op), np.dtype(dtype)
    wanted = {"nan": "nan", "-inf": "-inf", "+inf": "+inf", "all-nan": "nan",
              "all--inf": "-inf", "signed-zero": "-0.0", "largest": "largest finite",
              "subnormal": "subnormal", "int": "int limits", "beyond": "beyond 2**24"}
    expected = {wanted[c.split()[0]] for c in special_corners(dt, s) if c != "ties"}
    if dt.kind in "iu" and np.iinfo(dt).max <= 2**24:
        expected = (expected - {"beyond 2**24"}) | {"int limits"}   # there: the top values
    expected |= {"batch 9", "channels 33", "rows 65"}
    found: set = set()

    def everything_seen(case) -> bool:
        c = Case(op, *case)
        with np.errstate(all="ignore"):
            assert c.x.dtype == dt and c.valid()
        found.update(special_classes(c))
        found.update(f"{axis} {_size(c, axis)}" for axis in ("batch", "channels", "rows"))
        return expected <= found

    try:
        find(cases(op, dtype=dtype), everything_seen, settings=SEARCH)
    except NoSuchExample:
        pytest.fail(f"never drawn: {sorted(expected - found)}")


def _size(c: Case, axis: str) -> int:
    g = geometry(c)
    return {"batch": c.x.shape[0], "channels": c.x.shape[c.channel_axis],
            "rows": g.out_spatial[-1] if g else c.spatial[-1]}[axis]


# ----------------------------------------------------------------------------- shrinking


def test_channels_past_8_shrink_to_9():
    x, params = _shrunk("predicate", "channels > 8", "max_pool2d")
    assert _channels(x, params) == 9 and x.size == 9            # batch 1, one cell


def test_a_tail_bug_past_8_channels_shrinks_to_9():
    """A kernel whose remainder channels (C % 8 of C > 8) skip the last window cell fails
    first at 9 channels, with one cell and window 1 (the cell is skipped: TF's lowest)."""
    x, params = _shrunk("kernel", "max_channel_tail8_short", "max_pool1d")
    assert _channels(x, params) == 9 and x.shape[0] == 1 and _spatial(x, params) == (1,)
    assert params == {"pool_size": 1}


def test_odd_same_padding_shrinks_to_the_smallest_such_call():
    """Batch 1, one channel, the smallest window and the fewest arguments; the length is
    1 or, when Hypothesis' shrinker stops in a special-value branch (which one it reaches
    depends on the constants of the modules loaded), at most 3 cells."""
    x, params = _shrunk("predicate", "odd same pad", "max_pool1d")
    assert x.shape[0] == 1 and x.shape[2] == 1 and x.shape[1] <= 3, x.shape
    assert params == {"pool_size": 2, "padding": "same"}


def test_odd_pad_cell_before_shrinks_to_a_visible_minimal_case():
    """Putting the odd "same" pad cell before (not after) shows first on 2 cells [a, b],
    window 2, stride 1: pads (0, 1) give [max(a, b), b], pads (1, 0) give [a, max(a, b)]
    (a pad cell is never the maximum), different unless a == b (e.g. [0, 1], or [nan, 0]);
    or on 3 cells [a, b, c], window 2, stride 2 (strides left out): [max(a, b), c] against
    [a, max(b, c)] (e.g. [0, 1, 0]). Which of these Hypothesis reaches depends on the
    constants of the modules loaded (with the LiteRT op table modules: the 3-cell one)."""
    x, params = _shrunk("kernel", "max_odd_cell_before", "max_pool1d")
    assert _odd_same((x, params)) and params["pool_size"] == 2 and params["padding"] == "same"
    if x.shape == (1, 2, 1):
        assert params == {"pool_size": 2, "strides": 1, "padding": "same"}
    else:
        assert x.shape == (1, 3, 1) and params.get("strides", 2) == 2, (x.shape, params)
    assert len(set(x.ravel().tolist())) > 1 and not np.isnan(x).all()
    assert not compare_result("max_pool1d", CATALOGUE["max_odd_cell_before"].func(x, **params),
                              x, tf_kernel=None, **params).ok


def test_unrelated_failures_shrink_to_different_examples():
    """Each minimal example shows its own defect and nothing of the other's."""
    tail = _shrunk("kernel", "max_channel_tail8_short", "max_pool1d")
    odd = _shrunk("kernel", "max_odd_cell_before", "max_pool1d")
    assert tail[0].shape != odd[0].shape and tail[1] != odd[1]
    assert _channels(*tail) == 9 and tail[1].get("padding", "valid") == "valid"
    assert _channels(*odd) == 1 and odd[1]["padding"] == "same"


def test_nan_shrinks_to_one_nan_cell():
    x, params = _shrunk("predicate", "nan", "max_pool2d")
    assert np.isnan(x).sum() == 1 and x.shape[0] == 1 and _channels(x, params) == 1


# ----------------------------------------------------------------------------- supports=


@pytest.mark.parametrize("op,supports", [
    ("max_pool2d", {"batch": [1], "channels": [3]}),
    ("avg_pool3d", {"spatial": [(2, 3, 4)]}),
    ("conv2d", {"batch": 2, "channels": [4], "filters": [6, 8]}),
    ("conv1d_grad", {"channels": [2], "filters": [3], "spatial": [5]}),
    ("zero_pad1d", {"spatial": [7], "batch": [3]}),
    ("global_avg_pool2d", {"channels": [1], "spatial": [(1, 1), 4]}),
    ("max_pool1d_grad", {"batch": [1, 3], "spatial": 6}),
])
def test_supports_restricts_sizes(op, supports):
    """Every case of ``check`` and of ``strategies.cases`` has the sizes ``supports``
    lists; a candidate that implements only those passes all 100 cases."""
    s = Supports(op, supports)
    allowed = s.allowed
    seen = {k: set() for k in allowed}

    def partial(x, *arrays, **params):
        case = Case(op, np.asarray(x), {**dict(zip(spec(op).positional[1:], arrays)),
                                        **params})
        for k, v in s.effective(case).items():
            if v not in allowed[k]:
                raise NotImplementedError(f"{k} = {v}")
            seen[k].add(v)
        return spec(op).run_reference(case.arrays, case.scalar_params, tf_kernel="onednn")

    report = check(partial, op, supports=supports, tf_kernel="onednn")
    assert report.passed and report.cases == 100, str(report)
    assert all(seen[k] == set(allowed[k]) for k in allowed), seen      # drawn, not fixed
    for k in allowed:
        assert any(t.startswith(f"{k} other than ") for t in report.left_out), k
    bare = check(partial, op, tf_kernel="onednn", fail_fast=True, shrink_failures=False)
    assert not bare.passed                                 # the restriction matters

    @settings(max_examples=20, derandomize=True, database=None, deadline=None)
    @given(cases(op, supports=supports))
    def drawn(case):
        x, params = case
        assert s.admits(Case(op, x, params))

    drawn()


def test_size_corners_give_way_to_size_restrictions():
    corners = check(pooling_ref.max_pool, "max_pool2d", tf_kernel="onednn",
                    supports={"channels": [2]}).corners
    assert not any(c.startswith("channels") for c in corners)
    assert {"batch 5", "rows 17"} <= set(corners)
    assert tile_corners(Supports("max_pool1d", {"batch": 1, "spatial": 3})) == tuple(
        c for c in TILE_CORNERS if c.startswith("channels"))


def test_shrinking_keeps_inside_the_size_restriction():
    """A candidate wrong everywhere shrinks to batch 1, one channel, one cell — unless
    ``supports`` lists only batch 2 and 3 channels: then the shrunk case keeps them."""
    ref = functools.partial(pooling_ref.max_pool, tf_kernel=None)

    def off_by_one(x, **params):
        return ref(x, **params) + np.asarray(1, x.dtype)

    free = check(off_by_one, "max_pool2d", cases=10).failures[0]
    assert free.shapes["x"] == (1, 1, 1, 1)
    kept = check(off_by_one, "max_pool2d", cases=10,
                 supports={"batch": [2], "channels": [3], "spatial": [(2, 3)]}).failures
    assert kept and all(f.shapes["x"] in ((2, 2, 3, 3), (2, 3, 2, 3)) for f in kept)


@pytest.mark.parametrize("op,supports,words", [
    ("max_pool1d", {"batch": [0]}, "supports['batch']: invalid value 0"),
    ("max_pool1d", {"channels": []}, "supports['channels'] is empty"),
    ("max_pool2d", {"spatial": [(2,)]}, "supports['spatial']: invalid value (2,)"),
    ("max_pool2d", {"spatial": ["big"]}, "supports['spatial']: invalid value 'big'"),
    ("avg_pool1d", {"batch": [True]}, "supports['batch']: invalid value True"),
    ("max_pool2d", {"filters": [4]}, "unknown key 'filters'"),
    ("conv1d", {"filters": [2.5]}, "supports['filters']: invalid value 2.5"),
    ("conv1d", {"bias": ["yes"]}, "supports['bias']: invalid value 'yes'"),      # only None
    ("global_max_pool1d", {"keepdims": [None]}, "supports['keepdims']: invalid value None"),
    ("max_pool1d", {"spatial": [1], "pool_size": [3], "padding": ["valid"]},
     "leaves nothing to draw"),
    ("conv1d", {"channels": [3], "groups": [2]}, "leaves nothing to draw"),
])
def test_bad_size_restrictions(op, supports, words):
    with pytest.raises(ValueError) as e:
        check(spec(op).reference, op, supports=supports, cases=5)
    assert words in str(e.value)
    with pytest.raises(ValueError) as e:
        cases(op, supports=supports)                  # at once, not in the test
    assert words in str(e.value)


def test_cli_supports_sizes():
    r = run("check", "pooling_ref:max_pool", "--op", "max_pool2d", "--tf-kernel", "onednn",
            "--supports", "batch=1", "spatial=(4,6)", "--cases", "20")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "not drawn (supports=): batch other than 1; spatial other than (4, 6)" in r.stdout
    r = run("check", "pooling_ref:max_pool", "--op", "max_pool2d", "--supports", "batch=0")
    assert r.returncode == 2 and "supports['batch']: invalid value 0" in r.stdout + r.stderr


# ----------------------------------------------------------------------------- labels


def test_special_classes_of_hand_made_arrays():
    tiny = np.finfo(np.float32).smallest_subnormal
    x = np.float32([np.inf, -np.inf, -0.0, 0.0, tiny, np.finfo(np.float32).max, 1.0])
    assert special_classes(Case("max_pool1d", x.reshape(1, -1, 1), {"pool_size": 1})) == [
        "+inf", "-inf", "-0.0", "largest finite", "subnormal"]
    plain = Case("conv1d", np.ones((1, 2, 1), np.float32),
                 {"kernel": np.float32([np.nan]).reshape(1, 1, 1)})
    assert special_classes(plain) == ["nan"]                  # the kernel counts too
    ints = np.int8([[[-128], [5]]])
    assert special_classes(Case("max_pool1d", ints, {"pool_size": 1})) == ["int limits"]


def test_corner_of_a_tile_case_follows_its_size():
    nine = Case("max_pool1d", np.zeros((1, 2, 9), np.float32), {"pool_size": 1},
                corner="channels 9")
    assert corner_of(nine) == "channels 9"
    eight = Case("max_pool1d", np.zeros((1, 2, 8), np.float32), {"pool_size": 1},
                 corner="channels 9")
    assert corner_of(eight) == ""


def test_report_labels_the_shrunk_case():
    """A candidate that goes wrong for good once it has seen a NaN: the first failing case
    is a NaN corner, but shrinking removes the NaN, so the report must not say "[nan ...]"
    (it did: the label of the drawn case stayed)."""
    ref = functools.partial(pooling_ref.max_pool, tf_kernel=None)
    seen_nan: list = []

    def breaks_after_nan(x, **params):
        if np.isnan(x).any():
            seen_nan.append(True)
        return ref(x, **params) + np.asarray(bool(seen_nan), x.dtype)

    report = check(breaks_after_nan, "max_pool2d", fail_fast=True)
    f = report.failures[0]
    drawn = generate_cases("max_pool2d", f.case_index + 1)[f.case_index].corner
    assert "nan" in drawn, drawn
    assert f.corner == "" and "[nan" not in str(report), str(report)


def test_report_keeps_the_label_while_the_case_holds_it():
    """np.max's rules (NaN propagates; a window of only -inf gives -inf): every shrunk
    failure still holds the NaN or -inf of the corner it was drawn for, and says so."""
    cand = functools.partial(pooling_ref.max_pool, nan="propagate", tf_kernel=None)
    report = check(cand, "max_pool2d", max_failures=10)
    assert report.failures, str(report)
    for f in report.failures:
        x = eval(f.reproducer.split("x = ", 1)[1].splitlines()[0], {"np": np})
        holds = {"nan": np.isnan(x).any(), "-inf": np.isneginf(x).any()}
        assert any(word in f.corner and hit for word, hit in holds.items()), (f.corner, x)


def test_a_window_of_only_minus_inf_is_not_called_nan_propagation():
    """np.max's rules give -inf for a window of only -inf, as the nan='propagate' reference
    does; without a NaN in x the hint is TF's lowest-finite rule, not NaN propagation."""
    criteria = Criteria(tf_kernel=None)
    # the subnormal (kept, as Eigen does) rules out XLA (whose empty window gives -inf)
    # as a rule set for the whole result
    x = np.float32([-np.inf, -np.inf, 1e-40]).reshape(1, 3, 1)
    case = Case("max_pool1d", x, {"pool_size": 2, "strides": 1})
    got = np.float32([-np.inf, 1e-40]).reshape(1, 2, 1)
    why = explain(case, got, criteria.verdict(case.spec, got, case.arrays, case.scalar_params),
                  criteria)
    assert "propagates NaN" not in why and "-inf" in why, why     # XLA's rule or TF's
    x = np.float32([np.nan, 1, -1, 1e-40]).reshape(1, 4, 1)
    case = Case("max_pool1d", x, {"pool_size": 2, "strides": 1})
    got = np.float32([np.nan, 1, 1e-40]).reshape(1, 3, 1)           # np.max's rules
    why = explain(case, got, criteria.verdict(case.spec, got, case.arrays, case.scalar_params),
                  criteria)
    assert why.startswith("your kernel propagates NaN"), why


# ----------------------------------------------------------------------------- check's order


@pytest.mark.parametrize("op,dtype", [("max_pool2d", "float32"), ("conv3d", "float16"),
                                      ("zero_pad1d", "int16"), ("avg_pool1d_grad", "float32"),
                                      ("global_max_pool3d", "uint8")])
def test_default_cases_reach_every_corner_smallest_first(op, dtype):
    cs = generate_cases(op, 100, seed=3, dtype=dtype)
    corners = {c.corner for c in cs}
    assert set(special_corners(np.dtype(dtype), spec(op))) | set(TILE_CORNERS) <= corners
    assert all(c.corner in TILE_CORNERS for c in cs[9::10])
    sizes = [c.x.size for c in cs if c.corner not in TILE_CORNERS]
    assert np.mean(sizes[:20]) < np.mean(sizes[-20:])       # the first cases are the smallest
