"""Measure TF's pooling/convolution gradient rules on this machine (not a test).

Run once per eager kernel path; XLA is measured in both runs::

    TF_ENABLE_ONEDNN_OPTS=0 python tools/measure_gradients.py > docs/gradients_measured_eigen.txt
    TF_ENABLE_ONEDNN_OPTS=1 python tools/measure_gradients.py > docs/gradients_measured_onednn.txt

Each line: case name, input (window cells flattened, row-major), and the gradient w.r.t. the
input for an upstream gradient of ones (unless said), per path (eager, xla).
"""

from __future__ import annotations

import os

import numpy as np

from pooling_ref import keras_ref

NAN, INF = np.nan, np.inf


def _flat(shape, values) -> np.ndarray:
    return np.asarray(values, float).reshape(shape)


def _cl(values, rank: int, dtype="float32") -> np.ndarray:
    a = np.asarray(values, dtype=dtype)
    return a.reshape(1, *a.shape, 1) if a.ndim == rank else a


def pool_row(name: str, kind: str, x: np.ndarray, params: dict, grad_out=None) -> None:
    from pooling_ref import avg_pool, max_pool

    fwd = (max_pool if kind == "Max" else avg_pool)(x, **params)
    g = np.ones_like(fwd) if grad_out is None else np.asarray(grad_out, x.dtype)
    cells = []
    for path in keras_ref.GRAD_PATHS:
        try:
            r = keras_ref.pool_grad(kind, x, g, **params, path=path)
            cells.append(f"{path}={np.array2string(r.ravel(), separator=',')}")
        except Exception as e:
            cells.append(f"{path}=<{type(e).__name__}>")
    print(f"{name} | {kind} {params} {x.dtype.name} | x={x.ravel().tolist()} | "
          f"g={g.ravel().tolist()} | " + " | ".join(cells))


def main() -> None:
    import tensorflow as tf

    print(f"# TF {tf.__version__}, TF_ENABLE_ONEDNN_OPTS="
          f"{os.environ.get('TF_ENABLE_ONEDNN_OPTS', '<unset>')}")
    for rank in (1, 2, 3):
        k = (2,) * rank
        ones = np.ones(k)
        pool_row(f"{rank}D ties: window of ones", "Max", _cl(ones, rank), {"pool_size": 2})
        n = 2 ** rank
        pool_row(f"{rank}D NaN first, max later", "Max",
                 _cl(_flat(k, ([NAN, 1, 2, NAN] + [0] * n)[:n]), rank), {"pool_size": 2})
        pool_row(f"{rank}D NaN later", "Max", _cl(_flat(k, ([1, NAN, 2, NAN] + [0] * n)[:n]), rank),
                 {"pool_size": 2})
        pool_row(f"{rank}D all NaN", "Max", _cl(_flat(k, [NAN] * n), rank), {"pool_size": 2})
        pool_row(f"{rank}D all -inf", "Max", _cl(_flat(k, [-INF] * n), rank), {"pool_size": 2})
        pool_row(f"{rank}D -inf and NaN", "Max", _cl(_flat(k, [-INF, NAN] * (n // 2)), rank),
                 {"pool_size": 2})
        pool_row(f"{rank}D -0 then +0", "Max", _cl(_flat(k, [-0.0, 0.0] + [-1] * (n - 2)), rank),
                 {"pool_size": 2})
        pool_row(f"{rank}D +0 then -0", "Max", _cl(_flat(k, [0.0, -0.0] + [-1] * (n - 2)), rank),
                 {"pool_size": 2})
        pool_row(f"{rank}D tie at cells 1 and 2", "Max",
                 _cl(_flat(k, ([0, 3, 3] + [0] * n)[:n]), rank), {"pool_size": 2})
        pool_row(f"{rank}D same 2/2 on 3^r of -1", "Max", _cl(-np.ones((3,) * rank), rank),
                 {"pool_size": 2, "padding": "same"})
        pool_row(f"{rank}D same 2/2 on 3^r of -1", "Average", _cl(-np.ones((3,) * rank), rank),
                 {"pool_size": 2, "padding": "same"})
        pool_row(f"{rank}D overlap k3 s1 on 4^r of ones", "Max", _cl(np.ones((4,) * rank), rank),
                 {"pool_size": 3, "strides": 1})
        pool_row(f"{rank}D overlap k3 s1 on 4^r of ones", "Average",
                 _cl(np.ones((4,) * rank), rank), {"pool_size": 3, "strides": 1})
        pool_row(f"{rank}D stride 3 > window 1 on 5^r of ones", "Max",
                 _cl(np.ones((5,) * rank), rank), {"pool_size": 1, "strides": 3})
        x2 = np.ones((1, 2, *k))                       # 2 channels, channels_first
        x2[0, 1] = 2
        pool_row(f"{rank}D channels_first ties, 2 channels", "Max", x2.astype(np.float32),
                 {"pool_size": 2, "data_format": "channels_first"})
        go = np.arange(1, 4 ** rank + 1, dtype=np.float32)
        pool_row(f"{rank}D overlap k2 s1 upstream 1,2,3..", "Max",
                 _cl(np.ones((5,) * rank), rank), {"pool_size": 2, "strides": 1},
                 go.reshape(1, *(4,) * rank, 1))
        for dt in ("float16", "float64"):
            pool_row(f"{rank}D ties {dt}", "Max", _cl(ones, rank, dt), {"pool_size": 2})
            pool_row(f"{rank}D NaN first {dt}", "Max",
                     _cl(_flat(k, ([NAN, 1, 2, NAN] + [0] * n)[:n]), rank, dt), {"pool_size": 2})
    print("# 3D: which cells count as tied (the rest of the 2x2x2 window is -5)")
    for vals in ([INF, 1], [INF, INF], [3e38, 3e38], [1.0, 1.0 - 1e-6], [1e-6, 0],
                 [1e-5, 0], [9.999e-6, 0], [100, 100 - 1e-5], [1e-5, 1e-5 - 1e-6]):
        x = np.full(8, -5.0)
        x[:2] = vals
        pool_row(f"3D near-tie {vals}", "Max", _cl(x.reshape(2, 2, 2), 3), {"pool_size": 2})
    print("# 1D [1, 1, 1] k2 s1 and k3")
    pool_row("1D [1,1,1] k2 s1", "Max", _cl([1, 1, 1], 1), {"pool_size": 2, "strides": 1})
    pool_row("1D [1,1,1] k3", "Max", _cl([1, 1, 1], 1), {"pool_size": 3})
    conv_rows()


def conv_rows() -> None:
    from pooling_ref import conv

    rng = np.random.default_rng(0)
    print("# conv: eager vs xla, max |difference| of (grad_x, grad_kernel, grad_bias)")
    for rank, shape, ks, params in [
        (1, (2, 9, 4), (3,), {"strides": 2, "padding": "same"}),
        (2, (2, 6, 7, 4), (3, 2), {"strides": (2, 3), "padding": "same"}),
        (2, (3, 4, 3, 1), (3, 2), {"strides": (1, 3), "padding": "same"}),
        (2, (2, 7, 7, 4), (3, 3), {"dilation_rate": 2, "padding": "same", "groups": 2}),
        (3, (1, 5, 5, 5, 4), (2, 2, 2), {"strides": 2, "groups": 4}),
    ]:
        cin = shape[-1]
        groups = params.get("groups", 1)
        x = rng.standard_normal(shape).astype(np.float32)
        kern = rng.standard_normal((*ks, cin // groups, 4)).astype(np.float32)
        go = rng.standard_normal(conv(x, kern, **params).shape).astype(np.float32)
        res = {}
        for path in keras_ref.GRAD_PATHS:
            try:
                res[path] = keras_ref.conv_grad(x, kern, go, **params, path=path)
            except Exception as e:
                res[path] = type(e).__name__
        if all(not isinstance(r, str) for r in res.values()):
            diffs = [float(np.max(np.abs(a - b))) for a, b in zip(res["eager"], res["xla"])]
            print(f"conv{rank}d x{shape} k{ks} {params}: eager-xla max|diff| {diffs}")
        else:
            print(f"conv{rank}d x{shape} k{ks} {params}: {res}")


if __name__ == "__main__":
    main()
