"""Per-call overhead of a small pooling call: what it spends around the kernel.

    python benchmarks/call_overhead.py [--calls N] [--shape 1,3,28,28] [--profile]

Times, per call (best of 7 repeats of ``N`` calls, default 10^4), on a float32 NCHW input:
the public call (``max_pool`` / ``avg_pool``, window 2, stride 2, ``channels_first``, the
default method), the compiled layer alone (``pooling_ref._compiled.pool`` on the
channels_last view with the call's geometry and plan) and the Numba kernel alone (its
launch looked up, arguments built once). A repeated public call runs its prepared form
(``pooling_ref.pooling._PREPARED``: the call's key looked up, one output array, one launch
through the kernel's compiled entry point), so ``total - kernel`` is that lookup and
launch; the compiled layer is what a call without a prepared form adds to it (layouts,
launch set-up). ``--profile`` adds cProfile's top entries of the public call. Needs Numba
(the default method there).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import timeit

import numpy as np


def layers(op: str, x: np.ndarray) -> dict:
    """``name -> zero-argument callable``: the public call, the compiled layer, the kernel."""
    import pooling_ref
    from pooling_ref import _compiled
    from pooling_ref.arguments import prepare_pool
    from pooling_ref.rules import plan_pool

    public = getattr(pooling_ref, f"{op}_pool")
    x_cl, g, _ = prepare_pool(f"{op}_pool", x, 2, 2, "valid", "channels_first")
    plan = plan_pool("onednn", op, x_cl.dtype, g)
    work, _ = _compiled._work_layout(x_cl, g)
    launch = _compiled._pool_launch(g, plan, work.shape[-1])
    out = np.empty((work.shape[0], *g.out_spatial, work.shape[-1]), launch.dtype)
    args = (work.reshape(-1), out.reshape(-1), *launch.constants)
    entry = _compiled._ready(launch.kernel, args)   # as the package compiles it (SLP on)
    jobs = work.shape[0] * launch.rows
    return {"public call": lambda: public(x, 2, 2, data_format="channels_first"),
            "compiled layer": lambda: _compiled.pool(x_cl, g, plan),
            "kernel": lambda: entry(*args, 0, jobs)}


def per_call_us(fn, calls: int) -> float:
    fn()
    return min(timeit.repeat(fn, number=calls, repeat=7)) / calls * 1e6


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=10_000)
    ap.add_argument("--shape", default="1,3,28,28")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args(argv)
    from pooling_ref import _compiled

    if not _compiled.AVAILABLE:
        print("skipped: needs Numba (the compiled method)")
        return 0
    shape = tuple(int(s) for s in args.shape.split(","))
    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    for op in ("max", "avg"):
        times = {name: per_call_us(fn, args.calls) for name, fn in layers(op, x).items()}
        print(f"{op}_pool {shape} channels_first, µs per call: "
              + ", ".join(f"{k} {v:.1f}" for k, v in times.items())
              + f"; around the kernel {times['public call'] - times['kernel']:.1f}")
    if args.profile:
        call = layers("max", x)["public call"]
        profile = cProfile.Profile()
        profile.runcall(lambda: [call() for _ in range(args.calls)])
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
