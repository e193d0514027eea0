"""The benchmark against torch and onnxruntime (benchmarks/bench_peers.py): its output
checks catch a wrong implementation, its rounds interleave the implementations, its ratios
and summaries are the hand-derived ones, and (where torch / onnxruntime are installed) every
workload's bodies run and agree on a small input. No timing is asserted."""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import replace

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

_BENCH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks")
if _BENCH not in sys.path:
    sys.path.insert(0, _BENCH)
peers = importlib.import_module("bench_peers")

TINY = peers.Workload("tiny", "max", (2, 3, 9, 9), 3, 2)


def _numpy_pool(w, x: np.ndarray) -> np.ndarray:
    """An independent NCHW reference: strided windows reduced by NumPy (mean in float64,
    rounded once)."""
    win = sliding_window_view(x, (w.k, w.k), axis=(2, 3))[:, :, ::w.s, ::w.s]
    if w.op == "max":
        return win.max(axis=(-2, -1))
    return win.astype(np.float64).mean(axis=(-2, -1)).astype(np.float32)


@pytest.mark.parametrize("op", ["max", "avg"])
def test_check_outputs_accepts_pooling_ref_and_rejects_a_wrong_result(op):
    w = replace(TINY, op=op)
    x, x_nhwc = peers.inputs(w)
    ours = peers.callables(w, x, x_nhwc, peers=())
    results = {"ref": _numpy_pool(w, x), **{k: f() for k, f in ours.items()}}
    checks = peers.check_outputs(w, x, results, "ref")
    assert set(checks) == {"ours_cf", "ours_cl"}
    if op == "max":
        assert all(c.max_ulp == 0 for c in checks.values())
    wrong = results["ours_cf"].copy()
    # max: one cell one ULP off; avg: one window divided by one cell too many
    wrong[0, 0, 0, 0] = np.nextafter(wrong[0, 0, 0, 0], np.float32(np.inf)) if op == "max" \
        else wrong[0, 0, 0, 0] * w.k ** 2 / (w.k ** 2 + 1)
    with pytest.raises(peers.MismatchError, match="ours_cf differs from ref"):
        peers.check_outputs(w, x, {**results, "ours_cf": wrong}, "ref")


def test_interleaved_rounds_rotate_the_order_and_time_each_call():
    calls: list[str] = []
    ticks = iter(range(10_000))
    fns = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    times = peers.interleaved_rounds(fns, rounds=3, target_s=0.5,
                                     clock=lambda: float(next(ticks)))
    # one calibration call each, then rounds a b c / b c a / c a b, one call per sample
    assert calls == list("abc") + list("abcbcacab")
    # fake clock: every call spans one tick (two clock reads around it)
    assert times == {name: [1.0, 1.0, 1.0] for name in "abc"}


def test_a_sample_is_the_median_of_its_calls():
    """A sample's first calls slowed down (another pool's spinning threads) do not move
    it: 5 calls of 50, 40, 1, 2, 3 time units -> 3."""
    durations = iter([1.0, 50.0, 40.0, 1.0, 2.0, 3.0])   # calibration, then the sample
    state = {"t": 0.0, "reads": 0}

    def clock():
        state["reads"] += 1
        if state["reads"] % 2 == 0:                     # the read after a call
            state["t"] += next(durations)
        return state["t"]

    times = peers.interleaved_rounds({"a": lambda: None}, rounds=1, target_s=5.0,
                                     clock=clock)
    assert times == {"a": [3.0]}


def test_calls_per_sample_fills_the_target():
    ticks = iter([0.0, 0.001])                      # one call takes 1 ms
    assert peers.calls_per_sample(lambda: None, 0.02, clock=lambda: next(ticks)) == 20


def test_ratios_and_summary_are_the_hand_derived_ones():
    best = {"ours_cf": 2.0, "ours_cl": 1.0, "torch_nchw": 4.0, "torch_cl": 0.5, "ort": 8.0,
            "read": 2.0}
    assert peers.ratios(best) == {"ours/torch": 0.5, "ours/torch_cl": 2.0, "ours/ort": 0.25,
                                  "ort/read": 4.0}
    assert peers.ratios({"ours_cf": 1.0})["ours/ort"] is None
    small = next(w.id for w in peers.WORKLOADS if w.small)
    large = next(w.id for w in peers.WORKLOADS if not w.small)
    rows = {small: {"ratios": {"ours/torch": 0.5, "ours/torch_cl": None, "ours/ort": 4.0,
                               "ort/read": None}},
            large: {"ratios": {"ours/torch": 2.0, "ours/torch_cl": None, "ours/ort": 0.25,
                               "ort/read": None}}}
    s = peers.summarize(rows)
    assert s["ours/torch all"] == {"geomean": pytest.approx(1.0), "max": 2.0, "n": 2}
    assert s["ours/ort small"] == {"geomean": pytest.approx(4.0), "max": 4.0, "n": 1}
    assert s["ours/ort all"]["geomean"] == pytest.approx(1.0)
    assert s["ours/torch_cl all"] == {"geomean": None, "max": None, "n": 0}


def test_spaced_calls_pause_before_each_call_and_charge_the_cpu_after_it():
    """Each implementation: the settle pause, then a pause before every call and one after
    the last; its wall time is the median of its calls, its CPU the process's CPU over
    its calls and pauses (a thread left spinning after a call counts) per call."""
    events: list = []
    state = {"t": 0.0, "cpu": 0.0}
    walls = {"a": iter([5.0, 1.0, 2.0]), "b": iter([3.0, 3.0, 30.0])}
    spin = {"a": 1.0, "b": 10.0}        # CPU of threads left spinning, in each pause after
    current = []

    def make(name):
        def fn():
            events.append(name)
            current[:] = [name]
            dt = next(walls[name])
            state["t"] += dt
            state["cpu"] += dt
        return fn

    def sleep(s):
        events.append(s)
        if current:
            state["cpu"] += spin[current[0]]

    out = peers.spaced_calls({"a": make("a"), "b": make("b")}, calls=3, gap_s=0.5,
                             settle_s=9.0, clock=lambda: state["t"],
                             cpu=lambda: state["cpu"], sleep=sleep)
    assert events == [9.0, 0.5, "a", 0.5, "a", 0.5, "a", 0.5,
                      9.0, 0.5, "b", 0.5, "b", 0.5, "b", 0.5]
    assert out["a"] == (2.0, pytest.approx((8.0 + 3 * 1.0) / 3))
    # b: its calls (36), its spinning in the three pauses after them (10 each) and what
    # ``a`` left spinning in the pause before b's first call (1); not the settle pause
    assert out["b"] == (3.0, pytest.approx((36.0 + 3 * 10.0 + 1.0) / 3))


def test_the_summary_has_spaced_ratios_where_rows_have_them():
    small = next(w.id for w in peers.WORKLOADS if w.small)
    large = next(w.id for w in peers.WORKLOADS if not w.small)
    none = dict.fromkeys(peers.RATIOS)
    rows = {small: {"ratios": none, "spaced_ratios": {**none, "ours/ort": 0.5}},
            large: {"ratios": none, "spaced_ratios": {**none, "ours/ort": 2.0}}}
    s = peers.summarize(rows)
    assert s["ours/ort spaced all"] == {"geomean": pytest.approx(1.0), "max": 2.0, "n": 2}
    assert s["ours/ort spaced small"]["max"] == 0.5
    assert "ours/torch spaced all" not in s                   # no spaced values: left out
    assert "ours/ort spaced all" not in peers.summarize({small: {"ratios": none}})


def test_workloads_cover_the_issue_shapes():
    shapes = {w.shape for w in peers.WORKLOADS}
    assert {(1, 3, 28, 28), (1, 16, 14, 14), (8, 3, 32, 32)} <= shapes
    assert {(w.op, w.k, w.s) for w in peers.WORKLOADS} == {
        (op, k, 2) for op in ("max", "avg") for k in (2, 3)}
    assert any(not w.small for w in peers.WORKLOADS)


def test_main_skips_cleanly_without_peers(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(peers, "available_peers", lambda: ())
    assert peers.main(["--out", str(tmp_path)]) == 0
    assert "skipped" in capsys.readouterr().out
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("w", [w for w in peers.WORKLOADS if w.small],
                         ids=lambda w: w.id)
def test_every_body_runs_and_agrees_with_torch(w):
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    row = peers.run_workload(w, ("torch", "ort"), rounds=1, target_s=0.0, spaced=1)
    assert row["checked_against"] == "torch_nchw"
    assert set(row["spaced_us"]) == set(row["cpu_us"]) == set(peers.IMPLS) - {"read"}
    assert set(row["best_us"]) == set(peers.IMPLS)
    if w.op == "max":
        assert set(row["max_ulp"].values()) == {0}
    assert all(v > 0 for v in row["ratios"].values())
