"""Print the README's benchmark table (Markdown) from a benchmark report's JSON; not a test.

    python tools/bench_table.py [docs/bench/bench.json]

Reads ``summary.cases`` (written by ``benchmarks/report.py``): per case the best times of
``compiled``, ``fast`` and the Keras layer, the ratios to Keras and the compiled time over
a read pass of the input (``default/read``; not shown for gradients, whose inputs are two
arrays).
"""

from __future__ import annotations

import json
import sys

#: README rows: a label and the benchmark case ids shown in it (``a / b / c``).
ROWS = [
    ("max (1,28,28,3) f2s2", ["max2d_28_f2s2"]),
    ("max (8,224,224,3) f2s2", ["max2d_224_f2s2"]),
    ("max (64,56,56,64) f2s2", ["max2d_56_f2s2"]),
    ("max (32,112,112,64) f3s2 valid / same", ["max2d_112_f3s2_valid", "max2d_112_f3s2_same"]),
    ("max 1D (16,16000,8) f4s4 / 3D (4,16,56,56,16) f2s2",
     ["max1d_16000_f4s4", "max3d_16x56x56_f2s2"]),
    ("max channels_first 56 / 112 same", ["max2d_56_f2s2_cf", "max2d_112_f3s2_same_cf"]),
    ("avg 28 / 224 / 56", ["avg2d_28_f2s2", "avg2d_224_f2s2", "avg2d_56_f2s2"]),
    ("avg 112 f3s2 valid / same", ["avg2d_112_f3s2_valid", "avg2d_112_f3s2_same"]),
    ("avg 1D / 3D", ["avg1d_16000_f4s4", "avg3d_16x56x56_f2s2"]),
    ("avg channels_first 56 / 112 same", ["avg2d_56_f2s2_cf", "avg2d_112_f3s2_same_cf"]),
    ("global max (32,56,56,64) / (32,7,7,512) / cf", ["gmax2d_56", "gmax2d_7x512", "gmax2d_56_cf"]),
    ("global avg (32,56,56,64) / (32,7,7,512) / cf", ["gavg2d_56", "gavg2d_7x512", "gavg2d_56_cf"]),
    ("max grad 28 / 56 / 112 same / 224 / 3D",
     ["maxgrad2d_28_f2s2", "maxgrad2d_56_f2s2", "maxgrad2d_112_f3s2_same", "maxgrad2d_224_f2s2",
      "maxgrad3d_16x56x56_f2s2"]),
    ("avg grad 28 / 56 / 112 same / 224 / 3D",
     ["avggrad2d_28_f2s2", "avggrad2d_56_f2s2", "avggrad2d_112_f3s2_same", "avggrad2d_224_f2s2",
      "avggrad3d_16x56x56_f2s2"]),
    ("conv (8,56,56,64)x(3,3,64,64) same / (32,28,28,32)x(5,5,32,64) valid",
     ["conv2d_56x64_k3_same", "conv2d_28x32_k5_valid"]),
    ("conv depthwise / dilated / 1D / 3D",
     ["conv2d_56x64_depthwise_k3", "conv2d_56x64_k3_dil2", "conv1d_4000x16_k9",
      "conv3d_8x28x28x16_k3"]),
]


def _ms(v: float) -> str:
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


def _ratio(v: float) -> str:
    return f"{v:.2f}"


def _roof(v: float) -> str:
    return f"{v:.2g}" if v < 10 else f"{v:.0f}"


def table(cases: dict) -> str:
    lines = ["| case | compiled ms | fast ms | Keras ms | compiled / Keras | fast / Keras "
             "| compiled / read pass |", "|---|---|---|---|---|---|---|"]
    for label, ids in ROWS:
        rows = [cases[i] for i in ids]

        def col(key, fmt, rows=rows):
            vals = [r.get(key) for r in rows]
            if all(v is None for v in vals):
                return "—"
            return " / ".join("—" if v is None else fmt(v) for v in vals)

        roof = "—" if "grad" in label else col("default/read", _roof)
        lines.append(f"| {label} | {col('compiled_ms', _ms)} | {col('fast_ms', _ms)} | "
                     f"{col('keras_ms', _ms)} | {col('compiled/keras', _ratio)} | "
                     f"{col('fast/keras', _ratio)} | {roof} |")
    return "\n".join(lines)


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "docs/bench/bench.json"
    with open(path) as f:
        print(table(json.load(f)["summary"]["cases"]))
