"""The window ops of issue 21 in the op table: ``max_pool_with_argmax{r}d``,
``adaptive_avg_pool{r}d``, ``adaptive_max_pool{r}d`` are seen by ``check``,
``strategies.cases`` and ``pooling-ref verify --ops``.

The wrong candidates are independent NumPy loops with one classic bug each: indices in
torch's per-plane format instead of TF's flat NHWC one, and adaptive bins that end at
``floor((i+1)*n/out)`` instead of ``ceil`` (a bin loses its last cell).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import pooling_ref as pr
from parity_tests.test_cli import run
from pooling_ref import keras_ref, strategies

NEW_OPS = [f"{name}{r}d" for name in ("max_pool_with_argmax", "adaptive_avg_pool",
                                      "adaptive_max_pool") for r in (1, 2, 3)]


def test_the_new_ops_are_in_the_table():
    for op in NEW_OPS:
        assert op in pr.OPS


@pytest.mark.parametrize("op", NEW_OPS)
def test_check_accepts_the_reference(op):
    func = getattr(pr, op[:-2])
    report = pr.check(lambda x, **p: func(x, **p), op, cases=40, timeout=None)
    assert report.passed and report.cases == 40, str(report)


# ----------------------------------------------------------------------------- argmax


def per_plane_argmax(x, pool_size, strides=None, padding="valid",
                     include_batch_in_index=False):
    """The values right, the indices torch's (``h*W + w`` per plane), not TF's."""
    y, flat = pr.max_pool_with_argmax(x, pool_size, strides, padding,
                                      include_batch_in_index=include_batch_in_index)
    c = x.shape[-1]
    return y, np.where(flat < 0, flat, (flat % (np.prod(x.shape[1:]))) // c)


def test_check_rejects_indices_in_another_format():
    bad = pr.check(per_plane_argmax, "max_pool_with_argmax2d", cases=40)
    assert not bad.passed, str(bad)
    assert "argmax (output 1) wrong" in str(bad.failures[0]), str(bad.failures[0])


def test_argmax_hand_derived():
    """x (1, 2, 2, 2): the maximum of channel 0 at (1, 0), of channel 1 at (0, 1); flat
    NHWC indices (y*W + x)*C + c = 4 and 3 (+ 8 for batch 1 with include_batch_in_index)."""
    x = np.float32([[[[0, 1], [2, 9]], [[5, 3], [4, 0]]]] * 2)
    y, a = pr.max_pool_with_argmax(x, 2, include_batch_in_index=True)
    assert y.ravel().tolist() == [5, 9, 5, 9]
    assert a.ravel().tolist() == [4, 3, 12, 11]
    report = pr.oracle.compare_result("max_pool_with_argmax2d",
                                      (y[:1], np.int64([[[[4, 3]]]])), x[:1], pool_size=2)
    assert report.ok, report


# ----------------------------------------------------------------------------- adaptive


def _bins(n: int, out: int, ceil_end: bool) -> list[tuple[int, int]]:
    ends = [-(-(i + 1) * n // out) if ceil_end else (i + 1) * n // out for i in range(out)]
    return [(i * n // out, max(e, i * n // out + 1)) for i, e in zip(range(out), ends)]


def loop_adaptive_avg(x, output_size, data_format="channels_last", *, ceil_end=True):
    """Keras's separable average by a loop: one axis at a time, each bin summed in the
    input dtype (NumPy's order, so a sum of the largest floats overflows as TF's) and
    divided by its length — within the bound of the reference."""
    x = np.asarray(x)
    a = np.moveaxis(x, 1, -1) if data_format == "channels_first" else x
    rank = a.ndim - 2
    out = np.broadcast_to(output_size, (rank,))
    for axis in range(rank):
        parts = []
        for s, e in _bins(a.shape[axis + 1], int(out[axis]), ceil_end):
            cells = np.take(a, range(s, e), axis=axis + 1)
            with np.errstate(over="ignore", invalid="ignore"):
                parts.append(cells.sum(axis=axis + 1, keepdims=True, dtype=x.dtype)
                             / x.dtype.type(e - s))
        a = np.concatenate(parts, axis=axis + 1)
    return np.moveaxis(a, -1, 1) if data_format == "channels_first" else a


def test_adaptive_loop_is_hand_checked():
    # bins [0,2) [1,4) [3,5); with floor ends [0,1) [1,3) [3,5)
    x = np.arange(1., 6., dtype=np.float32).reshape(1, 5, 1)
    assert loop_adaptive_avg(x, 3).ravel().tolist() == [1.5, 3.0, 4.5]
    assert loop_adaptive_avg(x, 3, ceil_end=False).ravel().tolist() == [1.0, 2.5, 4.5]


@pytest.mark.parametrize("op", ["adaptive_avg_pool1d", "adaptive_avg_pool2d"])
def test_check_accepts_a_loop_and_rejects_floor_bins(op):
    good = pr.check(loop_adaptive_avg, op, cases=40)
    assert good.passed, str(good)
    bad = pr.check(lambda x, output_size, data_format="channels_last": loop_adaptive_avg(
        x, output_size, data_format, ceil_end=False), op, cases=40)
    assert not bad.passed, str(bad)


def test_the_strategies_draw_the_new_ops():
    hypothesis = pytest.importorskip("hypothesis")
    seen = set()

    @hypothesis.settings(max_examples=25, database=None, deadline=None)
    @hypothesis.given(strategies.cases("adaptive_avg_pool2d"))
    def draw(case):
        x, params = case
        seen.add(x.ndim)
        assert set(params) <= {"output_size", "data_format"}
        result = pr.oracle.compare_result("adaptive_avg_pool2d", loop_adaptive_avg(
            x, **params), x, **params)
        assert result.ok, result

    draw()
    assert seen == {4}


# ----------------------------------------------------------------------------- TensorFlow


def _tf():
    pytest.importorskip("tensorflow")
    if keras_ref.backend() != "tensorflow":
        pytest.skip("tf.nn and the TF backend's adaptive layers")


def test_check_accepts_the_tf_and_keras_ops():
    _tf()
    import keras
    import tensorflow as tf

    def tf_argmax(x, pool_size, strides=None, padding="valid", include_batch_in_index=False):
        y, a = tf.nn.max_pool_with_argmax(x, pool_size, strides or pool_size, padding.upper(),
                                          include_batch_in_index=include_batch_in_index)
        return y.numpy(), a.numpy()

    def layer(kind):
        def run_layer(x, output_size, data_format="channels_last"):
            cls = getattr(keras.layers, f"Adaptive{kind}Pooling{x.ndim - 2}D")
            return np.asarray(cls(output_size, data_format=data_format)(x))
        return run_layer

    report = pr.check(tf_argmax, "max_pool_with_argmax2d", cases=40)
    assert report.passed, str(report)
    report = pr.check(layer("Average"), "adaptive_avg_pool2d", cases=30)
    assert report.passed, str(report)
    # registry onednn-adaptive-max-sigfpe: Keras dies with an output or input of 1 on the
    # last axis on oneDNN, so those sizes are left out here
    report = pr.check(layer("Max"), "adaptive_max_pool2d", cases=30,
                      supports={"output_size": [(2, 3), (3, 2)], "spatial": [(3, 4), (5, 3)]})
    assert report.passed, str(report)


def test_verify_runs_the_new_ops(tmp_path):
    _tf()
    out = tmp_path / "res.json"
    done = run("verify", "--cases", "6", "--ops", "max_pool_with_argmax", "adaptive_avg_pool",
               "adaptive_max_pool", "--json", str(out), "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    res = json.loads(out.read_text())["ops"]
    assert res["max_pool_with_argmax2d"]["status"] == "ok"
    assert "max_pool_with_argmax1d" not in res             # TF has 2D only
    for op in ("adaptive_avg_pool2d", "adaptive_max_pool3d"):
        assert res[op]["status"] == "ok" and res[op]["comparisons"] > 0, res[op]
