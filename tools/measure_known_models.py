"""Measure the known-difference models of pooling_ref.known against TensorFlow; not a test.

Each experiment draws random cases where the registered difference can show, runs TF
(Keras layers through ``pooling_ref.keras_ref``, GradientTape) and compares TF's result with
the model of the registry entry (bit for bit where the op is compared so, else the NaN
positions and the error bound)::

    python tools/measure_known_models.py xla-scan [SEED] [CASES]      # any eager path
    python tools/measure_known_models.py conv-grad-nan [SEED] [CASES]  # once per eager path:
    TF_ENABLE_ONEDNN_OPTS=0 python tools/measure_known_models.py conv-grad-nan
    python tools/measure_known_models.py conv-grad-nan-xla
    TF_ENABLE_ONEDNN_OPTS=0 python tools/measure_known_models.py eigen-avg-grad
    python tools/measure_known_models.py pool3d                      # once per eager path

A line per case that the model gets wrong ("MISMATCH ...") and a summary: cases, how many
the model reproduces, how many differ from the reference (the entry applies). The
numbers quoted in the registry's evidence come from these runs.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

import pooling_ref
from pooling_ref import keras_ref, known
from pooling_ref.judge import compare_outputs
from pooling_ref.ops import spec


def _model(entry: str, op: str, arrays: dict, params: dict, path: str):
    s = spec(op)
    base = s.run_reference(arrays, params, tf_kernel=path if s.tf_kernel else None)
    return known.MODELS[entry](s, arrays, params, None, base), base


def _tally(stats: dict, ok: bool, applies: bool, line: str) -> None:
    stats["cases"] += 1
    stats["model"] += ok
    stats["applies"] += applies
    if not ok:
        print("MISMATCH", line, flush=True)


def xla_scan(rng: np.random.Generator, n: int) -> dict:
    """Max pooling gradients under XLA, 2D/3D, small integers (ties) and NaN."""
    stats = dict(cases=0, model=0, applies=0)
    for _ in range(n):
        r = int(rng.choice([2, 3]))
        shape = tuple(int(v) for v in rng.integers(1, 7 if r == 2 else 5, r))
        pool = tuple(int(v) for v in rng.integers(1, 5, r))
        strides = tuple(int(v) for v in rng.integers(1, 4, r))
        padding = "same" if rng.random() < 0.85 or any(
            p > s for p, s in zip(pool, shape)) else "valid"
        x = rng.integers(-1 if rng.random() < 0.5 else -3, 2,
                         (int(rng.integers(1, 3)), *shape, 2)).astype(np.float32)
        if rng.random() < 0.2:
            x[rng.random(x.shape) < 0.15] = np.nan
        params = {"pool_size": pool, "strides": strides, "padding": padding}
        fwd = pooling_ref.max_pool(x, **params)
        g = rng.integers(1, 1000, fwd.shape).astype(np.float32)
        tf = keras_ref.pool_grad("Max", x, g, **params, path="xla")
        model, base = _model("xla-max-pool-grad-padded-scan-order", f"max_pool{r}d_grad",
                             {"x": x, "grad_out": g}, params, "xla")
        want = base if model is None else model
        _tally(stats, np.array_equal(tf, want, equal_nan=True), model is not None,
               f"x {x.shape} {params}")
    return stats


def conv_grad_nan(rng: np.random.Generator, n: int, where: str = "eager") -> dict:
    """Convolution gradients with one NaN / inf in x, dilated or strided, ranks 1-3
    (``where``: the eager path or XLA)."""
    path = keras_ref.eager_path() if where == "eager" else "xla"
    entries = ["dilated-conv-grad-kernel-nan"] + (
        ["eigen-conv3d-grad-kernel-nan"] if path == "eigen" else [])
    stats = dict(cases=0, model=0, applies=0)
    for _ in range(n):
        r = int(rng.integers(1, 4))
        dilated = rng.random() < 0.5
        shape = [int(v) for v in rng.integers(1, 7 if r < 3 else 5, r)]
        ks = [int(v) for v in rng.integers(1, 4, r)]
        d = [int(v) for v in rng.integers(1, 4, r)] if dilated else [1] * r
        st = [1] * r if dilated else [int(v) for v in rng.integers(1, 4, r)]
        padding = "same" if rng.random() < 0.6 else "valid"
        if padding == "valid":
            shape = [max(m, (k - 1) * dd + 1) for m, k, dd in zip(shape, ks, d)]
        x = rng.standard_normal((1, *shape, int(rng.integers(1, 3)))).astype(np.float32)
        kernel = rng.standard_normal((*ks, x.shape[-1], int(rng.integers(1, 3)))
                                     ).astype(np.float32)
        x[tuple(int(rng.integers(m)) for m in x.shape)] = [np.nan, np.inf, -np.inf][
            int(rng.integers(3))]
        params = {"strides": tuple(st), "padding": padding, "dilation_rate": tuple(d)}
        out = pooling_ref.conv(np.nan_to_num(x), kernel, **params)
        g = rng.standard_normal(out.shape).astype(np.float32)
        tf = keras_ref.conv_grad(x, kernel, g, **params, path=where)
        arrays = {"x": x, "kernel": kernel, "grad_out": g}
        s = spec(f"conv{r}d_grad")
        bound = s.error_bound(arrays, params)
        base = s.run_reference(arrays, params)
        models = [m for m in (_model(e, s.name, arrays, params, path)[0] for e in entries)
                  if m is not None]
        fits = [compare_outputs(s, tf, m, bound, "bound").ok for m in [base, *models]]
        _tally(stats, any(fits), not fits[0], f"x {x.shape} k {kernel.shape} {params}")
    return stats


def eigen_avg_grad(rng: np.random.Generator, n: int) -> dict:
    """Average pooling gradients, 1D/2D "same" with windows larger than the input."""
    stats = dict(cases=0, model=0, applies=0)
    for _ in range(n):
        r = int(rng.integers(1, 3))
        shape = tuple(int(v) for v in rng.integers(1, 6, r))
        pool = tuple(int(v) + int(rng.integers(0, 3)) for v in shape)
        strides = tuple(int(v) for v in rng.integers(1, 4, r))
        params = {"pool_size": pool, "strides": strides, "padding": "same"}
        x = rng.standard_normal((1, *shape, 2)).astype(np.float32)
        g = rng.standard_normal(pooling_ref.avg_pool(x, **params).shape).astype(np.float32)
        tf = keras_ref.pool_grad("Average", x, g, **params, path="eager")
        op = f"avg_pool{r}d_grad"
        arrays = {"x": x, "grad_out": g}
        model, base = _model("eigen-avg-pool-grad-window-larger-than-input", op, arrays,
                             params, "eigen")
        bound = spec(op).error_bound(arrays, params)
        want = base if model is None else model
        _tally(stats, compare_outputs(spec(op), tf, want, bound, "bound").ok,
               model is not None, f"x {x.shape} {params}")
    return stats


def pool3d(rng: np.random.Generator, n: int) -> dict:
    """3D max / average pooling and gradients, eager, "same" with strides larger than the
    window (Eigen's negative pad) or windows larger than the input (MaxPool3DGrad's
    gradient windows); small integers (ties). TF vs the entries' models or the reference."""
    path = keras_ref.eager_path()
    entries = ["eigen-pool3d-same-negative-pad",
               "eager-max-pool3d-grad-window-larger-than-input",
               "eigen-avg-pool-grad-window-larger-than-input"]
    stats = dict(cases=0, model=0, applies=0)
    for _ in range(n):
        shape = tuple(int(v) for v in rng.integers(1, 6, 3))
        pool = tuple(int(v) for v in rng.integers(1, 4, 3))
        if rng.random() < 0.4:
            pool = tuple(m + int(rng.integers(0, 3)) for m in shape)
        strides = tuple(int(v) for v in rng.integers(1, 5, 3))
        params = {"pool_size": pool, "strides": strides, "padding": "same"}
        x = rng.integers(-2, 3, (1, *shape, int(rng.integers(1, 3)))).astype(np.float32)
        for kind, fam in (("Max", "max_pool"), ("Average", "avg_pool")):
            fwd = getattr(pooling_ref, fam)(x, **params)
            g = rng.integers(1, 9, fwd.shape).astype(np.float32)
            runs = [(f"{fam}3d", {"x": x}, keras_ref.pool(kind, x, **params)),
                    (f"{fam}3d_grad", {"x": x, "grad_out": g},
                     keras_ref.pool_grad(kind, x, g, **params, path="eager"))]
            for op, arrays, tf in runs:
                s = spec(op)
                base = s.run_reference(arrays, params, tf_kernel=path)
                models = [m for m, _ in (_model_on(e, op, arrays, params, path)
                                         for e in entries) if m is not None]
                bound = s.error_bound(arrays, params)
                fits = [compare_outputs(s, tf, m, bound, s.mode).ok for m in [base, *models]]
                _tally(stats, any(fits), not fits[0], f"{op} x {x.shape} {params}")
    return stats


def _model_on(entry: str, op: str, arrays: dict, params: dict, path: str):
    """The entry's model on ``path`` (None where the entry does not list the path)."""
    s = spec(op)
    for entry_id, model in known.models(s, path):
        if entry_id == entry:
            base = s.run_reference(arrays, params, tf_kernel=path if s.tf_kernel else None)
            return model(s, arrays, params, None, base), base
    return None, None


EXPERIMENTS = {"pool3d": pool3d, "xla-scan": xla_scan, "conv-grad-nan": conv_grad_nan,
               "conv-grad-nan-xla": lambda rng, n: conv_grad_nan(rng, n, "xla"),
               "eigen-avg-grad": eigen_avg_grad}

if __name__ == "__main__":
    name = sys.argv[1]
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    cases = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    result = EXPERIMENTS[name](np.random.default_rng(seed), cases)
    print(name, f"path={keras_ref.eager_path()}", f"seed={seed}", keras_ref.versions(),
          result)
