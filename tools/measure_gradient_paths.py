"""Measure TF's pooling-gradient rules per kernel path (subnormals, ties, NaN); not a test.

Run once per eager kernel path; XLA (``jit_compile=True``) is measured in both runs::

    TF_ENABLE_ONEDNN_OPTS=0 python tools/measure_gradient_paths.py \
        > docs/gradient_paths_measured_eigen.txt
    TF_ENABLE_ONEDNN_OPTS=1 python tools/measure_gradient_paths.py \
        > docs/gradient_paths_measured_onednn.txt

Each line: case, dtype, then the gradient w.r.t. x per path (eager, xla). ``s`` is the
dtype's smallest subnormal, ``t`` its smallest normal. What the rules table
(``pooling_ref.rules.GRAD_RULES``) takes from these lines: docs/gradients.md,
"Kernel paths"; the facts are asserted in parity_tests/test_gradients_keras.py.
"""
import os

import ml_dtypes
import numpy as np
import tensorflow as tf

from pooling_ref import avg_pool, keras_ref, max_pool

NAN, INF = np.nan, np.inf


def row(name, kind, vals, rank, params, g=None, dtype="float32") -> None:
    x = np.asarray(vals, dtype=np.float64).astype(dtype)
    x = x.reshape(1, *x.shape, 1) if x.ndim == rank else x
    fwd = (max_pool if kind == "Max" else avg_pool)(x, **params)
    gg = np.ones_like(fwd) if g is None else np.asarray(g, np.float64).astype(dtype).reshape(
        fwd.shape)
    out = []
    for path in keras_ref.GRAD_PATHS:
        try:
            r = keras_ref.pool_grad(kind, x, gg, **params, path=path)
            out.append(f"{path}={[float(v) for v in r.ravel()]}")
        except Exception as e:          # a missing kernel is a measurement too
            out.append(f"{path}=<{type(e).__name__}>")
    print(name, dtype, "|", " | ".join(out), flush=True)


def subnormals() -> None:
    for dt in ("float32", "float16", "bfloat16", "float64"):
        fi = ml_dtypes.finfo(dt) if dt == "bfloat16" else np.finfo(dt)
        s, t = float(fi.smallest_subnormal), float(fi.tiny)
        one = {"pool_size": 2}
        slide = {"pool_size": 2, "strides": 1}
        row("1D max x=[s,3s]", "Max", [s, 3 * s], 1, one, dtype=dt)
        row("1D max g=s, one element", "Max", [1, 2], 1, one, g=[s], dtype=dt)
        row("1D max overlap g=[s,0]", "Max", [0, 5, 0], 1, slide, g=[s, 0], dtype=dt)
        row("1D max overlap g=[s,2s]", "Max", [0, 5, 0], 1, slide, g=[s, 2 * s], dtype=dt)
        row("1D max overlap, one window each", "Max", [5, 0, 0], 1, slide, g=[s, 0], dtype=dt)
        row("1D max 3 windows g=[1.5t,-t,t]", "Max", [0, 0, 5, 0, 0], 1,
            {"pool_size": 3, "strides": 1}, g=[1.5 * t, -t, t], dtype=dt)
        row("1D avg k1 g=[s,3s]", "Average", [0, 0], 1, {"pool_size": 1}, g=[s, 3 * s], dtype=dt)
        row("1D avg 3 windows g=[4.5t,-3t,3t]", "Average", [0] * 5, 1,
            {"pool_size": 3, "strides": 1}, g=[4.5 * t, -3 * t, 3 * t], dtype=dt)
        row("2D max [[s,3s],[-1,-1]]", "Max", [[s, 3 * s], [-1, -1]], 2, one, dtype=dt)
        row("3D max g=s", "Max", np.array([1, 2] + [-1] * 6).reshape(2, 2, 2), 3, one, g=[s],
            dtype=dt)
        row("3D max 3 windows g=[1.5t,-t,t]", "Max", np.array([0, 0, 5, 0, 0]).reshape(1, 1, 5),
            3, {"pool_size": (1, 1, 3), "strides": 1}, g=[1.5 * t, -t, t], dtype=dt)


def ties_and_nan() -> None:
    cases = [("ties", [1] * 8), ("nan first", [NAN, 1, 2, NAN, 0, 0, 0, 0]),
             ("nan later", [1, NAN, 2, NAN, 0, 0, 0, 0]), ("all nan", [NAN] * 8),
             ("all -inf", [-INF] * 8), ("-inf,nan", [-INF, NAN] + [-INF] * 6),
             ("nan,-inf", [NAN, -INF] + [-INF] * 6), ("-0,+0", [-0.0, 0.0] + [-1] * 6),
             ("inf,inf", [INF, INF] + [1] * 6)]
    for r in (1, 2, 3):
        n = 2 ** r
        for name, v in cases:
            row(f"{r}D {name}", "Max", np.array(v[:n]).reshape((2,) * r), r, {"pool_size": 2})
        same = {"pool_size": 2, "padding": "same"}
        row(f"{r}D same 3^r of -1", "Max", -np.ones((3,) * r), r, same)
        row(f"{r}D same 3^r of nan", "Max", np.full((3,) * r, NAN), r, same)
    # XLA's scan order with padding: the maximum tied at (0, 1) and (1, 0) of window (0, 0)
    x = np.full((2, 3), -5.0)
    x[0, 1] = x[1, 0] = 1
    g = np.zeros((2, 3))
    g[0, 0] = 1
    row("2D same s1 2x3, tie (0,1)/(1,0) in window (0,0)", "Max", x, 2,
        {"pool_size": 2, "strides": 1, "padding": "same"}, g=g)


def main() -> None:
    tf.get_logger().setLevel("ERROR")
    print(f"# TF {tf.__version__}, TF_ENABLE_ONEDNN_OPTS="
          f"{os.environ.get('TF_ENABLE_ONEDNN_OPTS', '<unset>')}")
    subnormals()
    ties_and_nan()


if __name__ == "__main__":
    main()
