"""Benchmark report: run the suite, print ratio tables, write JSON and a PNG plot.

    python benchmarks/report.py [--quick] [--out DIR] [--compare OLD.json] [--no-skylakex]
                                [--quiet]

Runs ``pytest benchmarks/test_bench.py`` (pytest-benchmark) in a subprocess, then prints per
case the best time of ``pooling_ref`` ("compiled", "fast", "im2col", "loop"), of the Keras
layer and of ``keras.ops``, and the ratios ``pooling_ref / Keras`` and ``pooling_ref / read
pass`` (``x.max()``, one pass over the input). Every body is called once before it is timed,
so Numba's compilation (or loading its cache) is not in the timed figures; it is measured
separately (``compile_s``: the first compiled call in a fresh process, with an empty Numba
cache and again with the cache it wrote). When the CPU has AVX-512F, the convolution cases run a
second time in a subprocess with ``OPENBLAS_CORETYPE=SkylakeX`` set before NumPy is imported
(OpenBLAS's AVX-512 kernels; NumPy's bundled OpenBLAS may detect such CPUs as Haswell).
Also records the peak memory (tracemalloc) of the "im2col" and "fast" methods per case.

Writes ``DIR/bench.json`` (compare two runs with ``--compare``) and ``DIR/bench.png``.
Progress (benchmarks done / total, elapsed) goes to stderr: a bar on a terminal, a line per
tenth otherwise; ``--quiet`` silences it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from bench_suite import ALL_CASES, CASES_BY_ID, callables  # noqa: E402
from blas_info import blas_info, has_avx512f  # noqa: E402

from pooling_ref._progress import Progress  # noqa: E402


def run_suite(quick: bool, env_extra: dict, families: str = "", quiet: bool = False) -> dict:
    """Run the pytest-benchmark suite in a subprocess; ``{case: {impl: stats}}`` + info."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "bench.json")
        cmd = [sys.executable, "-m", "pytest", os.path.join(HERE, "test_bench.py"), "-q",
               "-p", "no:cacheprovider", f"--benchmark-json={out}",
               "--benchmark-min-rounds=3" if quick else "--benchmark-min-rounds=5",
               "--benchmark-max-time=0.2" if quick else "--benchmark-max-time=1.0",
               "--benchmark-disable-gc", "--benchmark-group-by=group"]
        if quick:
            cmd.append("--bench-quick")
        if families:
            cmd.append(f"--bench-family={families}")
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env_extra}
        print("$", " ".join(f"{k}={v}" for k, v in env_extra.items()), " ".join(cmd),
              flush=True)
        run_pytest(cmd, env, "bench" + "".join(f" {v}" for v in env_extra.values()), quiet)
        with open(out) as f:
            raw = json.load(f)
    results: dict = {}
    notes: dict = {}
    for b in raw["benchmarks"]:
        info = b["extra_info"]
        if info.get("note"):
            notes[f"{info['case']}:{info['impl']}"] = info["note"]
        s = b["stats"]
        results.setdefault(info["case"], {})[info["impl"]] = {
            "min_ms": s["min"] * 1e3, "median_ms": s["median"] * 1e3, "rounds": s["rounds"]}
    return {"results": results, "keras_notes": notes,
            "blas": raw["machine_info"].get("blas", {}),
            "cpu": raw["machine_info"].get("cpu", {}).get("brand_raw")}


def run_pytest(cmd: list[str], env: dict, name: str, quiet: bool = False) -> None:
    """Run the benchmark suite's pytest command ``cmd`` with a progress bar (or lines) named
    ``name`` on stderr, fed by the suite's ``--bench-progress-fd`` lines; its output is
    shown only when it fails (``SystemExit``)."""
    read_fd, write_fd = os.pipe()
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen([*cmd, f"--bench-progress-fd={write_fd}"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT, text=True,
                                pass_fds=(write_fd,))
        os.close(write_fd)
        follow_progress(read_fd, name, quiet)
        if proc.wait() != 0:
            log.seek(0)
            print(log.read()[-8000:])
            raise SystemExit(f"benchmark run failed (exit {proc.returncode})")


def follow_progress(read_fd: int, name: str, quiet: bool = False) -> None:
    """Advance a :class:`~pooling_ref._progress.Progress` on the lines ``total N`` and
    ``done TEST-ID`` read from ``read_fd`` until the writer closes it."""
    progress = None
    with os.fdopen(read_fd) as lines:
        for line in lines:
            kind, _, value = line.rstrip("\n").partition(" ")
            if kind == "total":
                progress = Progress(int(value), name, quiet=quiet, unit="benchmark")
            elif kind == "done" and progress is not None:
                progress.advance(value)
    if progress is not None:
        progress.close()


_FIRST_CALLS = """
import time
t0 = time.perf_counter()
import numpy as np
import pooling_ref as pr
x = np.ones((2, 8, 8, 8), np.float32)
g = np.ones((2, 4, 4, 8), np.float32)
calls = [lambda: pr.max_pool(x, 2, method="compiled"),
         lambda: pr.avg_pool(x, 2, method="compiled"),
         lambda: pr.global_max_pool(x, method="compiled"),
         lambda: pr.global_avg_pool(x, method="compiled"),
         lambda: pr.max_pool_grad(x, g, 2, method="compiled"),
         lambda: pr.avg_pool_grad(x, g, 2, method="compiled")]
times = [time.perf_counter() - t0]
for call in calls:
    t1 = time.perf_counter()
    call()
    times.append(time.perf_counter() - t1)
print(*times)
"""
#: The first calls timed by ``_FIRST_CALLS`` after the import, in order.
FIRST_CALLS = ("max_pool", "avg_pool", "global_max_pool", "global_avg_pool", "max_pool_grad",
               "avg_pool_grad")


def compile_times() -> dict | None:
    """Seconds of the first compiled call of each op (float32) in a fresh process:
    ``cold`` with an empty Numba cache (compiles), ``cached`` in a second process that
    loads what the first one wrote; ``None`` without Numba."""
    from pooling_ref import _compiled

    if not _compiled.AVAILABLE:
        return None
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for run in ("cold", "cached"):
            proc = subprocess.run([sys.executable, "-c", _FIRST_CALLS], env=env, cwd=ROOT,
                                  capture_output=True, text=True, check=True)
            imp, *firsts = map(float, proc.stdout.split())
            out[run] = {"import_s": imp, **{f"{op}_first_call_s": t
                                            for op, t in zip(FIRST_CALLS, firsts)}}
    return out


def peak_memory(cases, quiet: bool = False) -> dict:
    """tracemalloc peak (bytes) of one call of "im2col" and "fast", and the input size."""
    from pooling_ref.windows import DEFAULT_CHUNK_BYTES

    mem = {}
    with Progress(len(cases), "peak memory", quiet=quiet) as progress:
        for case in cases:
            mem[case.id] = _peak_memory(case, DEFAULT_CHUNK_BYTES)
            progress.advance(case.id)
    return mem


def _peak_memory(case, chunk_bytes: int) -> dict:
    fns = callables(case, ("im2col", "fast", "compiled"))
    x_bytes = math.prod(case.shape) * 4
    row = {"input_bytes": x_bytes, "chunk_bytes": chunk_bytes}
    for impl, fn in fns.items():
        fn()
        tracemalloc.start()
        fn()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        row[f"{impl}_peak_bytes"] = peak
    return row                             # an impl that does not apply has no entry


def _ratio(a, b):
    return a / b if a and b else None


def _fmt(v, digits=2):
    return "-" if v is None else f"{v:.{digits}f}"


def geomean(values) -> float | None:
    vals = [v for v in values if v]
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else None


def summarize(report: dict) -> dict:
    """Per case ratios and per family geometric means (from best-of times).

    ``default`` is what ``method="auto"`` runs: "compiled" where it was timed, else "fast".
    """
    res = report["runs"]["default"]["results"]
    sky = report["runs"].get("SkylakeX", {}).get("results", {})
    rows = {}
    for cid, r in res.items():
        t = {k: v["min_ms"] for k, v in r.items()}
        default = t.get("compiled") or t.get("fast")
        row = {"default_ms": default, "compiled_ms": t.get("compiled"), "fast_ms": t.get("fast"),
               "keras_ms": t.get("keras_layer"), "keras_ops_ms": t.get("keras_ops"),
               "default/keras": _ratio(default, t.get("keras_layer")),
               "compiled/keras": _ratio(t.get("compiled"), t.get("keras_layer")),
               "fast/keras": _ratio(t.get("fast"), t.get("keras_layer")),
               "default/keras_ops": _ratio(default, t.get("keras_ops")),
               "im2col/keras": _ratio(t.get("im2col"), t.get("keras_layer")),
               "loop/keras": _ratio(t.get("loop"), t.get("keras_layer")),
               "default/read": _ratio(default, t.get("read_pass")),
               "fast/read": _ratio(t.get("fast"), t.get("read_pass")),
               "default/copy": _ratio(default, t.get("copy"))}
        if cid in sky:
            s = {k: v["min_ms"] for k, v in sky[cid].items()}
            row["fast_skx_ms"] = s.get("fast")
            row["fast_skx/keras"] = _ratio(s.get("fast"), t.get("keras_layer"))
        rows[cid] = row
    fams = {}
    for fam in ("pooling", "global_pooling", "pool_grad", "zero_pad", "conv"):
        ids = [c for c in rows if CASES_BY_ID[c].family == fam]
        if not ids:
            continue
        fams[fam] = {
            "geomean default/keras": geomean(rows[c]["default/keras"] for c in ids),
            "max default/keras": max((rows[c]["default/keras"] or 0) for c in ids),
            "geomean compiled/keras": geomean(rows[c]["compiled/keras"] for c in ids),
            "geomean fast/keras": geomean(rows[c]["fast/keras"] for c in ids),
            "geomean default/keras_ops": geomean(rows[c]["default/keras_ops"] for c in ids),
            "geomean fast_skx/keras": geomean(rows[c].get("fast_skx/keras") for c in ids),
        }
    return {"cases": rows, "families": fams}


def print_table(report: dict) -> None:
    summ = report["summary"]
    for k, run in report["runs"].items():
        b = run["blas"]
        print(f"[{k}] BLAS {b.get('blas')} {b.get('version')}; OpenBLAS core type "
              f"{b.get('corename')} (OPENBLAS_CORETYPE={b.get('OPENBLAS_CORETYPE')}); "
              f"AVX-512F: {b.get('avx512f')}; CPU: {run.get('cpu')}")
    cols = ["compiled_ms", "fast_ms", "keras_ms", "compiled/keras", "fast/keras",
            "default/keras_ops", "im2col/keras", "loop/keras", "default/read", "fast_skx/keras"]
    print()
    print(f"{'case':30s}" + "".join(f"{c:>18s}" for c in cols))
    for cid, row in summ["cases"].items():
        print(f"{cid:30s}" + "".join(f"{_fmt(row.get(c)):>18s}" for c in cols))
    for cid, note in report["runs"]["default"].get("keras_notes", {}).items():
        print(f"  note, {cid}: {note}")
    print()
    for fam, g in summ["families"].items():
        print(f"{fam:10s} " + "  ".join(f"{k} = {_fmt(v)}" for k, v in g.items()))
    if report.get("compile_s"):
        print("\nNumba compile time (not in the timed figures), first float32 call in a fresh "
              "process, s:")
        for run, v in report["compile_s"].items():
            print(f"  {run:7s} import {v['import_s']:.2f}  " + "  ".join(
                f"{op} {v[f'{op}_first_call_s']:.2f}" for op in FIRST_CALLS))
    if report.get("memory"):
        print("\npeak memory (tracemalloc, MiB): case, input, im2col, fast, compiled, "
              "im2col chunk bound")
        for cid, m in report["memory"].items():
            mib = 2**20
            peaks = "".join(
                f"{m[f'{impl}_peak_bytes'] / mib:9.1f}" if f"{impl}_peak_bytes" in m
                else f"{'-':>9s}" for impl in ("im2col", "fast", "compiled"))
            print(f"  {cid:34s} {m['input_bytes'] / mib:8.1f}{peaks} "
                  f"{m['chunk_bytes'] / mib:6.0f}")


def compare(report: dict, old_path: str) -> None:
    with open(old_path) as f:
        old = json.load(f)
    new_r, old_r = report["runs"]["default"]["results"], old["runs"]["default"]["results"]
    print(f"\ncompare with {old_path}: new/old best time (< 1 = faster now)")
    print(f"{'case':34s}{'impl':>12s}{'old ms':>10s}{'new ms':>10s}{'new/old':>9s}")
    for cid in new_r:
        for impl in ("compiled", "fast", "im2col", "keras_layer"):
            a, b = old_r.get(cid, {}).get(impl), new_r[cid].get(impl)
            if a and b:
                print(f"{cid:34s}{impl:>12s}{a['min_ms']:10.2f}{b['min_ms']:10.2f}"
                      f"{b['min_ms'] / a['min_ms']:9.2f}")


def plot(report: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["summary"]["cases"]
    ids = list(rows)
    series = [("compiled/keras", "pooling_ref compiled (Numba) / Keras layer"),
              ("fast/keras", "pooling_ref fast / Keras layer"),
              ("im2col/keras", "pooling_ref im2col / Keras layer"),
              ("default/keras_ops", "pooling_ref default / keras.ops"),
              ("fast_skx/keras", "fast (OpenBLAS SkylakeX) / Keras layer")]
    fig, ax = plt.subplots(figsize=(13, 0.32 * len(ids) + 1.5))
    h = 0.8 / len(series)
    for i, (key, label) in enumerate(series):
        vals = [rows[c].get(key) or 0 for c in ids]
        if any(vals):
            ax.barh([j + i * h for j in range(len(ids))], vals, height=h, label=label)
    ax.axvline(1.0, color="k", lw=1)
    ax.set_xscale("log")
    ax.set_yticks([j + 0.4 - h / 2 for j in range(len(ids))], ids, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("time ratio (best of rounds; < 1: pooling_ref faster)")
    b = report["runs"]["default"]["blas"]
    ax.set_title(f"pooling_ref vs Keras {report['versions'].get('keras')} "
                 f"(TF {report['versions'].get('tensorflow')}), OpenBLAS {b.get('corename')}",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="quick cases, fewer rounds")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-results"))
    ap.add_argument("--compare", metavar="OLD_JSON")
    ap.add_argument("--no-skylakex", action="store_true",
                    help="skip the OPENBLAS_CORETYPE=SkylakeX run of the conv cases")
    ap.add_argument("-q", "--quiet", action="store_true",
                    help="no progress (by default a bar on a terminal, else a line per "
                    "tenth of the benchmarks, on stderr)")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    from pooling_ref.keras_ref import versions

    report = {"created": time.strftime("%Y-%m-%d %H:%M:%S"), "quick": args.quick,
              "versions": versions(), "metric": "best (min) time over rounds, ms",
              "cpus": os.cpu_count(), "runs": {}}
    report["runs"]["default"] = run_suite(args.quick, {}, quiet=args.quiet)
    if has_avx512f() and not args.no_skylakex:
        report["runs"]["SkylakeX"] = run_suite(args.quick, {"OPENBLAS_CORETYPE": "SkylakeX"},
                                               families="conv", quiet=args.quiet)
    cases = [c for c in ALL_CASES if c.quick or not args.quick]
    report["compile_s"] = compile_times()
    report["memory"] = peak_memory(cases, args.quiet)
    report["summary"] = summarize(report)
    report["this_process_blas"] = blas_info()
    print_table(report)
    if args.compare:
        compare(report, args.compare)
    jpath, ppath = os.path.join(args.out, "bench.json"), os.path.join(args.out, "bench.png")
    with open(jpath, "w") as f:
        json.dump(report, f, indent=1)
    try:
        plot(report, ppath)
    except ImportError as e:          # the JSON is written; the plot needs the bench extra
        print(f"\nno plot ({e}; pip install '.[bench]' or matplotlib), JSON in {jpath}")
        return 0
    print(f"\nwrote {jpath} and {ppath} in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
