"""Benchmark beside Keras: pooling_ref against torch and onnxruntime on the same inputs.

    python benchmarks/bench_peers.py [--quick] [--rounds N] [--only small|large]
                                     [--spaced N] [--out DIR]

Each workload is one float32 NCHW array (and its NHWC copy) pooled by every implementation
in one process, in interleaved rounds (every round runs each implementation once, in an
order rotated from round to round, so a burst of load from other jobs falls on all of
them alike):

* ``ours_cf`` / ``ours_cl`` — ``pooling_ref.max_pool`` / ``avg_pool`` with the default
  method, ``data_format="channels_first"`` on the NCHW array / channels_last on the NHWC
  copy;
* ``torch_nchw`` / ``torch_cl`` — ``torch.nn.functional.max_pool2d`` / ``avg_pool2d`` on
  the NCHW tensor / on a ``torch.channels_last`` memory-format copy;
* ``ort`` — onnxruntime running a one-node MaxPool / AveragePool model (opset 22);
* ``read`` — a roofline, not a pooling: one read pass over the NCHW input (``x.max()``,
  vectorised by NumPy), the memory traffic no implementation can avoid on large inputs.

torch and onnxruntime get as many threads as pooling_ref's pool (the CPUs this process
may run on). Before anything is timed, every output is compared with torch's NCHW result
(an independent implementation): bitwise for max pooling, within
:func:`pooling_ref.tolerance.avg_pool_bound` for averages — a fast wrong path cannot win.

Reported per workload: the best per-call time of each implementation over the rounds and
the ratios ``ours / peer`` (< 1: pooling_ref faster) of :data:`RATIOS`; per ratio the
geometric mean and the maximum over the small, the large and all workloads. A peer that is
not installed is left out (``nox -s bench_dialects`` installs both).

Then each implementation is timed a second way, ``--spaced`` calls (default
:data:`SPACED_CALLS`) each after a pause of :data:`SPACED_GAP_S` (:func:`spaced_calls`):
the median per-call time and the CPU time the process spends per call, pause included
(torch's and onnxruntime's worker threads spin-wait after a call; back to back that makes
their next call start fast, after a pause it costs CPU and a wake-up). Reported beside
the back-to-back table, with the same ratios (``"<ratio> spaced <group>"``).

>>> w = WORKLOADS_BY_ID["max_28x3_k2s2"]
>>> w.shape, w.small, w.out_shape
((1, 3, 28, 28), True, (1, 3, 14, 14))
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import numpy as np

#: Every implementation timed, in the order of the tables.
IMPLS = ("ours_cf", "ours_cl", "torch_nchw", "torch_cl", "ort", "read")
#: ``ratio name -> (ours, peer)``: the pairs of the same memory layout; ``ort/read``: how
#: far onnxruntime is from the read-pass roofline (``ours/ort`` cannot go below
#: ``read/ort`` where reading the input is all the time there is).
RATIOS = {"ours/torch": ("ours_cf", "torch_nchw"),
          "ours/torch_cl": ("ours_cl", "torch_cl"),
          "ours/ort": ("ours_cf", "ort"),
          "ort/read": ("ort", "read")}
#: The spaced regime (:func:`spaced_calls`): calls per implementation, the pause before
#: each call, and the quiet before each implementation's first pause (seconds).
SPACED_CALLS = 12
SPACED_GAP_S = 0.02
SETTLE_S = 0.3


@dataclass(frozen=True)
class Workload:
    """One input (NCHW ``shape``) and one pooling (``op`` max / avg, window ``k``, stride
    ``s``, "valid": no padding, so every framework's defaults agree)."""

    id: str
    op: str
    shape: tuple[int, int, int, int]
    k: int
    s: int

    @property
    def small(self) -> bool:
        """A small input: its time is mostly per-call overhead."""
        return math.prod(self.shape) < 1 << 16

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        n, c, h, w = self.shape
        return n, c, (h - self.k) // self.s + 1, (w - self.k) // self.s + 1


def _workloads() -> list[Workload]:
    shapes = {"28x3": (1, 3, 28, 28), "14x16": (1, 16, 14, 14), "32x3b8": (8, 3, 32, 32),
              "224x3": (8, 3, 224, 224), "56x64": (64, 64, 56, 56),
              "112x64": (32, 64, 112, 112)}
    return [Workload(f"{op}_{name}_k{k}s2", op, shape, k, 2)
            for name, shape in shapes.items() for op in ("max", "avg") for k in (2, 3)]


WORKLOADS = _workloads()
WORKLOADS_BY_ID = {w.id: w for w in WORKLOADS}


def cores() -> int:
    """The CPUs this process may run on (the threads every implementation gets)."""
    from pooling_ref import _threads

    return _threads.workers()


def inputs(w: Workload) -> tuple[np.ndarray, np.ndarray]:
    """The reproducible float32 NCHW input of ``w`` and its C-contiguous NHWC copy."""
    rng = np.random.default_rng(sum(w.shape) * 1000 + w.k)
    x = rng.standard_normal(w.shape, dtype=np.float32)
    return x, np.ascontiguousarray(x.transpose(0, 2, 3, 1))


# ----------------------------------------------------------------------------- callables


def _ours(w: Workload, x: np.ndarray, x_nhwc: np.ndarray) -> dict:
    import pooling_ref

    fn = pooling_ref.max_pool if w.op == "max" else pooling_ref.avg_pool
    return {"ours_cf": lambda: fn(x, w.k, w.s, data_format="channels_first"),
            "ours_cl": lambda: fn(x_nhwc, w.k, w.s).transpose(0, 3, 1, 2)}


def _torch(w: Workload, x: np.ndarray) -> dict:
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(cores())
    fn = F.max_pool2d if w.op == "max" else F.avg_pool2d
    t = torch.from_numpy(x)
    t_cl = t.contiguous(memory_format=torch.channels_last)
    return {"torch_nchw": lambda: fn(t, w.k, w.s).numpy(),
            "torch_cl": lambda: fn(t_cl, w.k, w.s).numpy()}


def onnx_session(w: Workload):
    """An onnxruntime session of the one-node model of ``w`` (intra-op threads = cores)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    node = helper.make_node("MaxPool" if w.op == "max" else "AveragePool", ["x"], ["y"],
                            kernel_shape=[w.k, w.k], strides=[w.s, w.s])
    graph = helper.make_graph(
        [node], w.id, [helper.make_tensor_value_info("x", TensorProto.FLOAT, w.shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, w.out_shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = cores()
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def _ort(w: Workload, x: np.ndarray) -> dict:
    session = onnx_session(w)
    return {"ort": lambda: session.run(None, {"x": x})[0]}


def available_peers() -> tuple[str, ...]:
    """The peers installed here: ``"torch"``, ``"ort"`` (onnxruntime with onnx)."""
    import importlib.util

    have = importlib.util.find_spec
    found = []
    if have("torch"):
        found.append("torch")
    if have("onnxruntime") and have("onnx"):
        found.append("ort")
    return tuple(found)


def callables(w: Workload, x: np.ndarray, x_nhwc: np.ndarray,
              peers: tuple[str, ...]) -> dict:
    """``impl -> zero-argument callable`` giving the NCHW result (a view for channels_last
    layouts), for pooling_ref and the ``peers`` asked for."""
    fns = _ours(w, x, x_nhwc)
    if "torch" in peers:
        fns.update(_torch(w, x))
    if "ort" in peers:
        fns.update(_ort(w, x))
    return fns


# ----------------------------------------------------------------------------- checks


class MismatchError(AssertionError):
    """An implementation's output differs from the reference (the benchmark stops)."""


def check_outputs(w: Workload, x: np.ndarray, results: dict, reference: str) -> dict:
    """Compare every result with ``results[reference]``: bitwise for max pooling, within
    :func:`pooling_ref.tolerance.avg_pool_bound` for averages. Returns ``impl ->
    Comparison``; raises :class:`MismatchError` naming the first that differs."""
    from pooling_ref.tolerance import avg_pool_bound, compare

    bound = None
    if w.op == "avg":
        bound = avg_pool_bound(x, w.k, strides=w.s, data_format="channels_first")
    expected = np.asarray(results[reference])
    out = {}
    for impl, got in results.items():
        if impl == reference:
            continue
        c = compare(np.asarray(got), expected, bound)
        if not c.ok:
            raise MismatchError(f"{w.id}: {impl} differs from {reference}: {c}")
        out[impl] = c
    return out


# ----------------------------------------------------------------------------- timing


def calls_per_sample(fn, target_s: float, clock=time.perf_counter) -> int:
    """How many calls of ``fn`` make one sample of about ``target_s`` (at least 1)."""
    t0 = clock()
    fn()
    once = max(clock() - t0, 1e-7)
    return max(1, min(10_000, int(target_s / once)))


def interleaved_rounds(fns: dict, rounds: int, target_s: float,
                       clock=time.perf_counter) -> dict:
    """``impl -> [seconds per call, one per round]``: in each round every implementation
    runs one sample (:func:`calls_per_sample` calls, each timed), in an order rotated by
    one each round; a sample's value is the median of its calls.

    The median, not the mean: torch's and onnxruntime's worker threads keep spinning for
    up to ~0.2 s after a call, so the first calls of the implementation that runs next
    have one core fewer (measured, (8, 3, 224, 224) max window 3 in one process:
    pooling_ref 315-337 us per call after them, 230 us with their spinning switched off;
    onnxruntime itself 163-167 us with its spinning, 188-190 without). The median of a
    sample is the implementation's own speed, whatever ran before it."""
    names = list(fns)
    reps = {name: calls_per_sample(fns[name], target_s, clock) for name in names}
    times: dict = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn, calls = fns[name], []
            for _ in range(reps[name]):
                t0 = clock()
                fn()
                calls.append(clock() - t0)
            times[name].append(float(np.median(calls)))
    return times


def spaced_calls(fns: dict, calls: int, gap_s: float, settle_s: float,
                 clock=time.perf_counter, cpu=time.process_time,
                 sleep=time.sleep) -> dict:
    """``impl -> (median seconds per call, process CPU seconds per call)`` with a pause
    before every call: each implementation in turn, after ``settle_s`` of quiet, makes
    ``calls`` calls, each after a pause of ``gap_s`` (and one more pause after the last);
    the CPU time is the whole process's over its calls and pauses, so worker threads
    that keep spinning after a call count for the implementation that left them.

    Why a second regime: back to back (:func:`interleaved_rounds`), a runtime whose
    threads spin-wait between calls hands work to them in ~2 us; a call after a pause
    pays for waking them, and the spinning burns CPU. Measured on the 2-vCPU machine,
    calls 20 ms apart: onnxruntime (8, 3, 32, 32) max window 3 13 -> 250 us per call and
    ~21 ms of CPU per call; torch 32 us -> 7.7 ms (its OpenMP threads, woken after
    spinning); pooling_ref 14 -> 125 us, no thread left spinning. Numba's OpenMP team
    was measured the same way and not adopted (a call after 20 ms idle: 6-8 ms)."""
    out = {}
    for name, fn in fns.items():
        sleep(settle_s)
        walls = []
        c0 = cpu()
        for _ in range(calls):
            sleep(gap_s)
            t0 = clock()
            fn()
            walls.append(clock() - t0)
        sleep(gap_s)
        out[name] = (float(np.median(walls)), (cpu() - c0) / calls)
    return out


def geomean(values) -> float | None:
    vals = [v for v in values if v]
    return math.exp(sum(map(math.log, vals)) / len(vals)) if vals else None


def ratios(best: dict) -> dict:
    """``ratio name -> ours / peer`` of best times (``None`` where one is missing)."""
    return {name: best[a] / best[b] if best.get(a) and best.get(b) else None
            for name, (a, b) in RATIOS.items()}


def summarize(rows: dict) -> dict:
    """Per ratio, the geometric mean and the maximum over the small, the large and all
    workloads of ``rows`` (``workload id -> {"ratios": ...}``), and of their
    ``"spaced_ratios"`` where rows have them (keys ``"<ratio> spaced <group>"``)."""
    groups = {"small": [i for i in rows if WORKLOADS_BY_ID[i].small],
              "large": [i for i in rows if not WORKLOADS_BY_ID[i].small], "all": list(rows)}
    out = {}
    for key, label in (("ratios", ""), ("spaced_ratios", " spaced")):
        for name in RATIOS:
            for group, ids in groups.items():
                vals = [rows[i][key][name] for i in ids
                        if key in rows[i] and rows[i][key][name]]
                if key == "ratios" or vals:
                    out[f"{name}{label} {group}"] = {
                        "geomean": geomean(vals), "max": max(vals) if vals else None,
                        "n": len(vals)}
    return out


# ----------------------------------------------------------------------------- the run


def run_workload(w: Workload, peers: tuple[str, ...], rounds: int, target_s: float,
                 spaced: int = 0) -> dict:
    """Warm every implementation up (Numba's compile or cache load, sessions), check the
    outputs against torch's NCHW result (onnxruntime's without torch), then time them in
    interleaved rounds and (``spaced`` calls each, if any) with pauses
    (:func:`spaced_calls`)."""
    x, x_nhwc = inputs(w)
    fns = callables(w, x, x_nhwc, peers)
    results = {impl: fn() for impl, fn in fns.items()}
    reference = next(r for r in ("torch_nchw", "ort", "ours_cf") if r in results)
    checks = check_outputs(w, x, results, reference)
    times = interleaved_rounds({**fns, "read": x.max}, rounds, target_s)
    best = {impl: min(t) for impl, t in times.items()}
    row = {"best_us": {impl: t * 1e6 for impl, t in best.items()},
           "median_us": {impl: float(np.median(t)) * 1e6 for impl, t in times.items()},
           "ratios": ratios(best), "checked_against": reference,
           "max_ulp": {impl: c.max_ulp for impl, c in checks.items()}}
    if spaced:
        paused = spaced_calls(fns, spaced, SPACED_GAP_S, SETTLE_S)
        row["spaced_us"] = {impl: wall * 1e6 for impl, (wall, _) in paused.items()}
        row["cpu_us"] = {impl: cpu * 1e6 for impl, (_, cpu) in paused.items()}
        row["spaced_ratios"] = ratios({impl: wall for impl, (wall, _) in paused.items()})
    return row


def versions() -> dict:
    import importlib.metadata as md

    out = {}
    for dist in ("numpy", "numba", "torch", "onnxruntime", "onnx", "pooling-ref"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = None
    return out


def _fmt(v, spec=".2f") -> str:
    return "-" if v is None else format(v, spec)


def print_table(report: dict) -> None:
    print(f"cores {report['cores']}, default method {report['method']!r}, "
          f"load average {report['load_before']} -> {report['load_after']}, "
          f"{report['rounds']} interleaved rounds, best per-call time (µs)")
    print(f"{'workload':22s}" + "".join(f"{i:>11s}" for i in IMPLS)
          + "".join(f"{r:>15s}" for r in RATIOS))
    for wid, row in report["workloads"].items():
        print(f"{wid:22s}" + "".join(f"{_fmt(row['best_us'].get(i), '.1f'):>11s}"
                                     for i in IMPLS)
              + "".join(f"{_fmt(row['ratios'][r]):>15s}" for r in RATIOS))
    spaced = {wid: row for wid, row in report["workloads"].items() if "spaced_us" in row}
    if spaced:
        impls = [i for i in IMPLS if i != "read"]
        print(f"\ncalls {SPACED_GAP_S * 1e3:.0f} ms apart: median per-call time (µs) / "
              "process CPU per call (µs)")
        print(f"{'workload':22s}" + "".join(f"{i:>20s}" for i in impls))
        for wid, row in spaced.items():
            cells = [f"{_fmt(row['spaced_us'].get(i), '.1f')} / "
                     f"{_fmt(row['cpu_us'].get(i), '.0f')}" for i in impls]
            print(f"{wid:22s}" + "".join(f"{c:>20s}" for c in cells))
    print()
    for name, s in report["summary"].items():
        print(f"{name:22s} geomean {_fmt(s['geomean'])}  max {_fmt(s['max'])}  "
              f"({s['n']} workloads)")


def main(argv=None) -> int:
    import argparse
    import json

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="5 rounds, shorter samples")
    ap.add_argument("--only", choices=("small", "large"))
    ap.add_argument("--spaced", type=int, default=SPACED_CALLS,
                    help=f"calls per implementation {SPACED_GAP_S * 1e3:.0f} ms apart "
                         "(0: none)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "bench-results"))
    args = ap.parse_args(argv)
    peers = available_peers()
    if not peers:
        print("skipped: neither torch nor onnxruntime (with onnx) is installed "
              "(nox -s bench_dialects installs them)")
        return 0
    from pooling_ref import methods

    rounds, target = (5, 0.005) if args.quick else (args.rounds, 0.02)
    spaced = min(args.spaced, 3) if args.quick else args.spaced
    chosen = [w for w in WORKLOADS if args.only is None or w.small == (args.only == "small")]
    report = {"created": time.strftime("%Y-%m-%d %H:%M:%S"), "versions": versions(),
              "cores": cores(), "method": methods.resolve("auto", "max_pool"),
              "peers": list(peers), "rounds": rounds, "spaced_calls": spaced,
              "spaced_gap_s": SPACED_GAP_S,
              "load_before": [round(v, 2) for v in os.getloadavg()], "workloads": {}}
    for w in chosen:
        report["workloads"][w.id] = run_workload(w, peers, rounds, target, spaced)
        print(f"  {w.id}: done", flush=True)
    report["load_after"] = [round(v, 2) for v in os.getloadavg()]
    report["summary"] = summarize(report["workloads"])
    print_table(report)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "peers.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
