"""Measure TF's global max / average pooling per kernel path (subnormals, zero sign, NaN).

Not a test. Run once per eager kernel path; XLA (``jit_compile=True``) is measured in both::

    TF_ENABLE_ONEDNN_OPTS=0 python tools/measure_global_paths.py \
        > docs/global_paths_measured_eigen.txt
    TF_ENABLE_ONEDNN_OPTS=1 python tools/measure_global_paths.py \
        > docs/global_paths_measured_onednn.txt

Each line: case (1D, one channel; ``s`` the dtype's smallest subnormal, ``t`` its smallest
normal), dtype, then the result per path, ``(-)`` marking a negative sign. The rules taken
from it: ``pooling_ref.rules.RULES`` ("global_max", "global_avg") and registry entry
``global-max-zero-sign-and-subnormal-tail``; asserted in parity_tests/test_special_values.py.
"""

import os

import keras
import ml_dtypes
import numpy as np
import tensorflow as tf


def run(kind: str, x: np.ndarray, path: str) -> np.ndarray:
    layer = getattr(keras.layers, f"Global{kind}Pooling1D")(dtype=x.dtype.name)
    if path == "xla":
        return np.asarray(tf.function(layer.__call__, jit_compile=True)(tf.constant(x)))
    return np.asarray(layer(x))


def row(name: str, kind: str, vals, dt: str) -> None:
    x = np.asarray(vals, np.float64).astype(dt).reshape(1, -1, 1)
    out = []
    for path in ("eager", "xla"):
        r = run(kind, x, path).ravel()[0]
        out.append(f"{path}={float(r)!r}{'(-)' if np.signbit(r) else ''}")
    print(name, dt, "|", " | ".join(out), flush=True)


def main() -> None:
    tf.get_logger().setLevel("ERROR")
    print(f"# TF {tf.__version__}, TF_ENABLE_ONEDNN_OPTS="
          f"{os.environ.get('TF_ENABLE_ONEDNN_OPTS', '<unset>')}")
    nan = np.nan
    for dt in ("float32", "float64", "bfloat16", "float16"):
        fi = ml_dtypes.finfo(dt) if dt == "bfloat16" else np.finfo(dt)
        s, t = float(fi.smallest_subnormal), float(fi.tiny)
        for n in (1, 2, 3, 8, 9, 17, 33):
            row(f"max [s]+[-1]*{n - 1}", "Max", [s] + [-1] * (n - 1), dt)
        for name, v in [("[s,3s]", [s, 3 * s]), ("[3s,s]", [3 * s, s]),
                        ("[-s,-3s]", [-s, -3 * s]), ("[-1]*8+[s]", [-1] * 8 + [s]),
                        ("[0,-0]", [0.0, -0.0]), ("[-0,0]", [-0.0, 0.0]),
                        ("[-0,0]+[-1]*14", [-0.0, 0.0] + [-1] * 14),
                        ("[-1]*14+[-0,0]", [-1] * 14 + [-0.0, 0.0]),
                        ("[-1]*7+[0,-0]", [-1] * 7 + [0.0, -0.0]),
                        ("[nan,1]", [nan, 1]), ("[1]*8+[nan]", [1] * 8 + [nan]),
                        ("[nan,nan]", [nan, nan]), ("[nan]*8+[2]", [nan] * 8 + [2]),
                        ("[nan,-inf]", [nan, -np.inf]), ("[-inf,-inf]", [-np.inf] * 2)]:
            row(f"max {name}", "Max", v, dt)
        for n in (1, 2, 3, 9, 17):
            row(f"avg [s]*{n}", "Average", [s] * n, dt)
            row(f"avg [3s]+[0]*{n - 1}", "Average", [3 * s] + [0] * (n - 1), dt)
        for name, v in [("[2t,-1.5t]", [2 * t, -1.5 * t]), ("[3t,-t]", [3 * t, -t]),
                        ("[3t,0]", [3 * t, 0]), ("[t,0]", [t, 0]), ("[t,0,0,0]", [t, 0, 0, 0]),
                        ("[-0,-0]", [-0.0, -0.0]), ("[-0]", [-0.0]), ("[nan,1]", [nan, 1])]:
            row(f"avg {name}", "Average", v, dt)


if __name__ == "__main__":
    main()
