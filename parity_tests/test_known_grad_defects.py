"""Known TensorFlow differences of gradients and eager convolutions: tests that SHOW each one
on the paths where it happens, compare TF with the entry's model (pooling_ref.known), and
notice when it stops ("no longer differs on this path: update the registry").

Registry entries (pooling_ref/data/known_differences.json):
``eigen-avg-pool-grad-window-larger-than-input``, ``dilated-conv-grad-kernel-nan``,
``eigen-conv3d-grad-kernel-nan``, ``eager-grouped-conv-unimplemented``,
``eager-max-pool3d-grad-window-larger-than-input``. Each trigger was
measured to show the difference on every call (tools/measure_known_models.py). The models'
hand-derived cases, without TF: test_known_models.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import pooling_ref
from parity_tests import _registry as reg
from pooling_ref import known
from pooling_ref.judge import compare_outputs
from pooling_ref.ops import spec

keras_ref = pytest.importorskip("pooling_ref.keras_ref")
tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.known_defect
EAGER = reg.eager_path()
NAN, INF = np.nan, np.inf


def _model(entry: str, op: str, arrays: dict, params: dict, path: str | None):
    s = spec(op)
    base = s.run_reference(arrays, params, tf_kernel=path if s.tf_kernel else None)
    return known.MODELS[entry](s, arrays, params, None, base)


def _same(op: str, got, want, arrays: dict, params: dict) -> bool:
    """``got`` equals ``want`` as check compares them (NaN where NaN, else the bound)."""
    s = spec(op)
    return compare_outputs(s, got, want, s.error_bound(arrays, params), s.mode).ok


def test_eigen_avg_pool_grad_window_larger_than_input():
    """AveragePooling1D(5, 3, 'same') on 4 cells (pads (2, 2)): Eigen's AvgPoolGrad sends
    window 0's share to all 4 cells over 4 (right: cells 0-2 over 3)."""
    x = np.zeros((1, 4, 1), np.float32)
    g = np.ones((1, 2, 1), np.float32)
    params = {"pool_size": 5, "strides": 3, "padding": "same"}
    arrays = {"x": x, "grad_out": g}
    got = keras_ref.pool_grad("Average", x, g, **params, path="eager")
    right = pooling_ref.avg_pool_grad(x, g, **params)
    np.testing.assert_array_equal(right.ravel(), np.float32([1, 2, 2, 1]) / 3)  # by hand
    differs = not _same("avg_pool1d_grad", got, right, arrays, params)
    reg.expect("eigen-avg-pool-grad-window-larger-than-input", differs, EAGER,
               f"TF gives {got.ravel().tolist()}")
    if differs:
        model = _model("eigen-avg-pool-grad-window-larger-than-input", "avg_pool1d_grad",
                       arrays, params, "eigen")
        np.testing.assert_array_equal(got, model)
    reg.skip_other_path("eigen-avg-pool-grad-window-larger-than-input", EAGER)


@pytest.mark.parametrize("where", ["eager", "xla"])
def test_dilated_conv_grad_kernel_nan(where):
    """Conv1D, x = [NaN], kernel (2, 1, 1), dilation 2, 'same': TF's space-to-batch
    convolution crops a second output whose tap 0 reads the NaN: grad_kernel [NaN, 0]
    (the specification: [0, 0], both taps of the one output read padding)."""
    path = EAGER if where == "eager" else "xla"
    x = np.float32([NAN]).reshape(1, 1, 1)
    kernel = np.float32([2, 4]).reshape(2, 1, 1)
    g = np.ones((1, 1, 1), np.float32)
    params = {"padding": "same", "dilation_rate": 2}
    arrays = {"x": x, "kernel": kernel, "grad_out": g}
    got = keras_ref.conv_grad(x, kernel, g, **params, path=where)
    right = pooling_ref.conv_grad(x, kernel, g, **params)
    assert right[1].ravel().tolist() == [0, 0]
    differs = not _same("conv1d_grad", got, right, arrays, params)
    reg.expect("dilated-conv-grad-kernel-nan", differs, path,
               f"TF's grad_kernel {got[1].ravel().tolist()}")
    if differs:
        model = _model("dilated-conv-grad-kernel-nan", "conv1d_grad", arrays, params, None)
        assert _same("conv1d_grad", got, model, arrays, params), got[1].ravel()
    reg.skip_other_path("dilated-conv-grad-kernel-nan", path)


def test_eigen_conv3d_grad_kernel_nan():
    """Conv3D, x (1, 1, 4, 1, 1) = [0, 0, 0, inf], kernel (1, 2, 1), strides (1, 2, 1),
    'same': tap 0 never reads the inf; Eigen's 3D kernel gradient multiplies it by 0 there
    (NaN), the specification leaves tap 0 at 0; tap 1 reads it: inf."""
    x = np.float32([0, 0, 0, INF]).reshape(1, 1, 4, 1, 1)
    kernel = np.ones((1, 2, 1, 1, 1), np.float32)
    g = np.ones((1, 1, 2, 1, 1), np.float32)
    params = {"strides": (1, 2, 1), "padding": "same"}
    arrays = {"x": x, "kernel": kernel, "grad_out": g}
    got = keras_ref.conv_grad(x, kernel, g, **params, path="eager")
    right = pooling_ref.conv_grad(x, kernel, g, **params)
    assert right[1].ravel().tolist() == [0, INF]
    differs = not _same("conv3d_grad", got, right, arrays, params)
    reg.expect("eigen-conv3d-grad-kernel-nan", differs, EAGER,
               f"TF's grad_kernel {got[1].ravel().tolist()}")
    if differs:
        model = _model("eigen-conv3d-grad-kernel-nan", "conv3d_grad", arrays, params, None)
        assert _same("conv3d_grad", got, model, arrays, params), got[1].ravel()
    reg.skip_other_path("eigen-conv3d-grad-kernel-nan", EAGER)


def test_eager_grouped_conv_unimplemented():
    """tf.nn.convolution of ones (1, 4, 4, 4, 4) with a (2, 2, 2, 2, 4) kernel (2 groups):
    eagerly InvalidArgumentError on both eager paths; under XLA the grouped convolution."""
    x = np.ones((1, 4, 4, 4, 4), np.float32)
    kernel = np.ones((2, 2, 2, 2, 4), np.float32)
    try:
        tf.nn.convolution(x, kernel, 1, "VALID")
        error = None
    except tf.errors.InvalidArgumentError as e:
        error = e
    arrays = {"x": x, "kernel": kernel}
    if error is not None:       # the condition of the RAISES row holds for this call
        assert known.raised(spec("conv3d"), arrays, {}, f"InvalidArgumentError: {error}",
                            (EAGER,)) == "eager-grouped-conv-unimplemented"
    reg.expect("eager-grouped-conv-unimplemented", error is not None, EAGER, repr(error))
    xla = tf.function(lambda t: tf.nn.convolution(t, kernel, 1, "VALID"), jit_compile=True)
    np.testing.assert_allclose(np.asarray(xla(tf.constant(x))),
                               pooling_ref.conv(x, kernel, groups=2), rtol=1e-6)
    reg.skip_other_path("eager-grouped-conv-unimplemented", EAGER)


def test_eager_max_pool3d_grad_window_larger_than_input():
    """MaxPooling3D gradient, window (1, 1, 6) over x = [1, 0, 0, 0, 1] (pads 2/3), stride
    1, grad_out [1, 2, 4, 8, 16]: window 0 holds cells 0-3 (maximum at 0), windows 1-2 all
    five (ties at 0 and 4: TF's 3D rule sends to both), windows 3-4 cells 1-4 / 2-4; cell 4
    gets 2 + 4 + 8 + 16 = 30 (hand-derived). TF's gradient window of output 0 is cut to
    cells 0-4, so cell 4 also gets window 0's 1: 31. XLA's rule (the first maximum: the
    ties of windows 1-2 go to cell 0) gives [7, 0, 0, 0, 24], its own reference."""
    x = np.float32([1, 0, 0, 0, 1]).reshape(1, 1, 1, 5, 1)
    g = np.float32([1, 2, 4, 8, 16]).reshape(1, 1, 1, 5, 1)
    params = {"pool_size": (1, 1, 6), "strides": 1, "padding": "same"}
    arrays = {"x": x, "grad_out": g}
    hand = {EAGER: [7, 0, 0, 0, 30], "xla": [7, 0, 0, 0, 24]}
    for where, path in (("eager", EAGER), ("xla", "xla")):
        right = pooling_ref.max_pool_grad(x, g, **params, tf_kernel=path)
        assert right.ravel().tolist() == hand[path]
        got = keras_ref.pool_grad("Max", x, g, **params, path=where)
        differs = not np.array_equal(got, right)
        reg.expect("eager-max-pool3d-grad-window-larger-than-input", differs, path,
                   f"TF gives {got.ravel().tolist()}")
        if differs:
            model = dict(known.models(spec("max_pool3d_grad"), path))[
                "eager-max-pool3d-grad-window-larger-than-input"](
                    spec("max_pool3d_grad"), arrays, params, None, None)
            assert model.ravel().tolist() == [7, 0, 0, 0, 31]
            np.testing.assert_array_equal(got, model)
    reg.skip_other_path("eager-max-pool3d-grad-window-larger-than-input", EAGER)
