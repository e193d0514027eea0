"""Measure pooling_ref.dialects.litert against the LiteRT interpreter on randomized cases
(the numbers of issue 22's "done when"). Not a test; needs ``pip install '.[litert]'``.

    python tools/measure_litert.py [--configs 40] [--seed 0] > litert_measured.txt

1. float32 MAX_POOL_2D / AVERAGE_POOL_2D: random geometries, activations and inputs with
   special values (NaN, +-inf, +-0, subnormals, +-3.4e38); per resolver the outputs that
   differ bitwise from the dialect's rule for that kernel, and from Keras's rule (the core
   with ``tf_kernel=None``; XNNPACK's average also within ``avg_pool_bound``).
2. quantized int8 / uint8 / int16 pooling: random geometries (SAME windows at the borders
   give every real-cell count), zero points and scales, activations; per resolver the
   mismatches against the dialect, the exact .5 ties per real-cell count, and what three
   other rounding rules would have missed.
3. int8 per-channel CONV_2D / DEPTHWISE_CONV_2D (Keras -> full-integer LiteRT): the
   distance of each resolver's output from the exact real-valued result, in quantization
   steps, and how often the resolvers disagree with each other.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from parity_tests._litert import (
    RESOLVERS,
    convert_keras,
    keras,
    pool_model,
    run,
)
from pooling_ref import avg_pool, max_pool
from pooling_ref.dialects import litert
from pooling_ref.dialects._windows2d import gather
from pooling_ref.model_check import tflite
from pooling_ref.tolerance import avg_pool_bound, compare

F = np.float32
SPECIALS = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-45, -1e-45, 1.2e-38, 3.4e38,
                     -3.4e38], F)
QUANT = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}


def _geometry(rng, channels=(1, 3, 8, 17)):
    fs = tuple(int(v) for v in rng.integers(1, 6, 2))
    st = tuple(int(v) for v in rng.integers(1, 5, 2))
    padding = str(rng.choice(["SAME", "VALID"]))
    low = fs if padding == "VALID" else (1, 1)
    shape = (int(rng.integers(1, 3)), int(rng.integers(low[0], 10)),
             int(rng.integers(low[1], 10)), int(rng.choice(channels)))
    return shape, fs, st, padding


def _differ(got, want) -> int:
    bits = got.view(np.uint32) == want.view(np.uint32)
    return int(np.count_nonzero(~(bits | (np.isnan(got) & np.isnan(want)))))


def measure_float(configs: int, rng) -> None:
    print("== float32 pooling: outputs differing bitwise (dialect rule | Keras rule)")
    for kind in ("max", "avg"):
        rule = litert.max_pool_2d if kind == "max" else litert.average_pool_2d
        core = max_pool if kind == "max" else avg_pool
        totals = {k: Counter() for k in RESOLVERS}
        for _ in range(configs):
            shape, fs, st, padding = _geometry(rng)
            act = str(rng.choice(sorted(litert.ACTIVATIONS)))
            x = (rng.standard_normal(shape) * rng.choice([1.0, 1e-38, 1e30])).astype(F)
            mask = rng.random(shape) < rng.choice([0.0, 0.1, 0.4])
            x[mask] = rng.choice(SPECIALS, int(mask.sum()))
            content = pool_model(kind, fs, st, padding, shape[-1], activation=act)
            keras_rule = litert.std_clamp(core(x, fs, st, padding.lower(), tf_kernel=None),
                                          *litert.ACTIVATIONS[act])
            for k in RESOLVERS:
                got = run(content, x, k)
                t = totals[k]
                t["outputs"] += got.size
                t["vs dialect"] += _differ(got, rule(x, fs, st, padding, activation=act,
                                                     kernel=k))
                t["vs keras"] += _differ(got, keras_rule)
                finite = np.isfinite(x).all() and act == "NONE" and kind == "avg"
                if finite:
                    bound = avg_pool_bound(x, fs, strides=st, padding=padding.lower())
                    t["finite avg cases"] += 1
                    t["finite avg cases outside avg_pool_bound"] += 0 if compare(
                        got, keras_rule, bound=bound).ok else 1
        for k, t in totals.items():
            print(f"  {kind} {k:9s} {dict(t)}")


def _alternatives(x, fs, st, padding, zp):
    """The raw sums and counts of every window, and three other rounding rules' results."""
    w = gather(x, fs, st, padding)
    total = np.where(w.real[None, :, :, None, :], w.cells.astype(np.int64), 0).sum(-1)
    count = np.broadcast_to(w.counts()[None, :, :, None], total.shape)
    ties = 2 * (np.abs(total) % count) == count
    centred = total - zp * count
    return total, count, ties, {
        "half-even": np.round(total / count),
        "half-up": np.floor(total / count + 0.5),
        "round (q - zp) half away": zp + litert.round_half_away(centred / count),
    }


def measure_quantized(configs: int, rng) -> None:
    print("== quantized pooling: mismatches per resolver vs the dialect; ties; other rules")
    for kind in ("avg", "max"):
        rule = litert.average_pool_2d_q if kind == "avg" else litert.max_pool_2d_q
        totals, ties, others = Counter(), Counter(), Counter()
        for _ in range(configs):
            dtype = str(rng.choice(sorted(QUANT)))
            lo, hi = QUANT[dtype]
            zp = 0 if dtype == "int16" else int(rng.choice([lo, hi, (lo + hi) // 2, lo + 3]))
            scale = float(F(rng.choice([0.0314, 2.4, 0.8, 1 / 3, 1e-3, 0.05, 100.0])))
            shape, fs, st, padding = _geometry(rng, channels=(1, 5))
            act = str(rng.choice(sorted(litert.ACTIVATIONS)))
            x = rng.integers(lo, hi + 1, shape)
            extremes = rng.random(shape) < rng.choice([0.0, 0.3, 0.9])
            x[extremes] = rng.choice([lo, hi, zp, lo + 1, hi - 1], int(extremes.sum()))
            x = x.astype(dtype)
            content = pool_model(kind, fs, st, padding, shape[-1], activation=act,
                                 dtype=dtype, scale=scale, zero_point=zp)
            for k in RESOLVERS:
                got = run(content, x, k)
                want = rule(x, fs, st, padding, scale, zp, activation=act, kernel=k)
                totals[f"{k} outputs"] += got.size
                totals[f"{k} mismatches"] += int(np.count_nonzero(got != want))
            if kind == "avg":
                got = run(content, x, "builtin").astype(np.int64)
                _, count, tie, alt = _alternatives(x, fs, st, padding, zp)
                low, high = litert.quantized_activation_range(act, scale, zp, dtype)
                for c in np.unique(count[tie]):
                    ties[int(c)] += int(np.count_nonzero(tie & (count == c)))
                for name, values in alt.items():
                    others[name] += int(np.count_nonzero(np.clip(values, low, high) != got))
        print(f"  {kind}: {dict(totals)}")
        if kind == "avg":
            print(f"  avg: exact .5 ties by real-cell count: {dict(sorted(ties.items()))} "
                  f"(total {sum(ties.values())})")
            print(f"  avg: mismatches other rules would give (builtin outputs): "
                  f"{dict(others)}")


def _conv_model(depthwise: bool, fs, st, padding, cin, cout, rng):
    inp = keras.Input((9, 9, cin), batch_size=1)
    layer = (keras.layers.DepthwiseConv2D(fs, st, padding, depth_multiplier=cout // cin)
             if depthwise else keras.layers.Conv2D(cout, fs, st, padding))
    model = keras.Model(inp, layer(inp))
    for v in model.weights:      # per-channel scales that differ by orders of magnitude
        scale = np.logspace(-2, 1, v.shape[-1])
        v.assign((rng.standard_normal(v.shape) * scale).astype(F))
    return model


def measure_conv(configs: int, rng) -> None:
    print("== int8 per-channel conv: distance from the exact result (quantization steps)")
    for depthwise in (False, True):
        worst, disagree, outputs = Counter(), 0, 0
        for _ in range(configs):
            fs = tuple(int(v) for v in rng.integers(1, 4, 2))
            st = tuple(int(v) for v in rng.integers(1, 3, 2))
            cin = int(rng.choice([1, 3, 4]))
            cout = cin * int(rng.choice([1, 2])) if depthwise else int(rng.choice([2, 5]))
            padding = str(rng.choice(["same", "valid"]))
            content = convert_keras(_conv_model(depthwise, fs, st, padding, cin, cout, rng),
                                    int8=True)
            x = rng.integers(-128, 128, (1, 9, 9, cin)).astype(np.int8)
            got = {k: run(content, x, k) for k in RESOLVERS}
            for k in RESOLVERS:
                (node,) = [r for r in tflite.check_model(content, x, kernel=k)
                           if "CONV" in r.op]
                worst[k] = max(worst[k], node.worst)
            outputs += got["builtin"].size
            disagree += int(np.count_nonzero((got["builtin"] != got["reference"])
                                             | (got["builtin"] != got["xnnpack"])))
        name = "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D"
        print(f"  {name}: worst distance per resolver {dict(worst)}; outputs where the "
              f"resolvers disagree: {disagree} of {outputs}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    measure_float(args.configs, rng)
    measure_quantized(args.configs, rng)
    measure_conv(max(4, args.configs // 4), rng)


if __name__ == "__main__":
    main()
