"""The Keras jax / torch backends: hand-derived cases for each registry entry of paths
``keras-jax`` / ``keras-torch`` (``pooling_ref/data/known_differences.json``).

Run by ``nox -s keras_jax`` / ``nox -s keras_torch`` (``KERAS_BACKEND`` set), where the Keras
layers run on that backend. In the main suite (TensorFlow backend) every test checks that
the entry does not happen on TensorFlow's path and is then reported as skipped
("different kernel path"), so nothing passes unexamined.

Measured with Keras 3.15.1, jax 0.10.2, torch 2.13.0 CPU (see ``keras_ref.BACKEND_RULES``):
jax flushes subnormals (XLA CPU), both backends propagate NaN through max pooling and give
-inf for a window of only -inf; torch keeps subnormals.
"""

from __future__ import annotations

import numpy as np
import pytest

import pooling_ref as pr
from pooling_ref import keras_ref

from . import _backends as be
from . import _registry as reg
from ._assert import assert_bitwise

pytest.importorskip("tensorflow")

pytestmark = [pytest.mark.parity, pytest.mark.any_backend]

PATH = keras_ref.eager_path()
F32 = np.float32
S = float(np.finfo(F32).smallest_subnormal)
NAN, INF = float("nan"), float("inf")


def _x(values, rank: int, dtype=F32) -> np.ndarray:
    """``values`` along the last spatial axis of a rank-``rank`` channels_last batch."""
    return np.array(values, dtype).reshape((1, *(1,) * (rank - 1), len(values), 1))


def _pool(rank: int, k: int) -> tuple[int, ...]:
    return (*(1,) * (rank - 1), k)


def test_versions_name_the_backend():
    v = keras_ref.versions()
    assert v["backend"].split()[0] == keras_ref.backend(), v
    assert (keras_ref.unavailable("xla") is None) == (keras_ref.backend() == "tensorflow")


#: Max pooling of one window of two cells: name -> (cells, hand-derived result per path:
#: the registry path's rule; TF's own paths are covered by test_special_values).
MAX_CASES = {
    "nan_first": ([NAN, 3.0], {"keras-jax": NAN, "keras-torch": NAN}),
    "nan_last": ([3.0, NAN], {"keras-jax": NAN, "keras-torch": NAN}),
    "all_nan": ([NAN, NAN], {"keras-jax": NAN, "keras-torch": NAN}),
    "all_-inf": ([-INF, -INF], {"keras-jax": -INF, "keras-torch": -INF}),
    "subnormals": ([S, 3 * S], {"keras-jax": 0.0, "keras-torch": 3 * S}),
    "-0_+0": ([-0.0, 0.0], {"keras-jax": 0.0, "keras-torch": -0.0}),
    "+0_-0": ([0.0, -0.0], {"keras-jax": 0.0, "keras-torch": 0.0}),
}


def _same_bits(a: float, b: float) -> bool:
    return np.array(a, F32).tobytes() == np.array(b, F32).tobytes() or (a != a and b != b)


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("case", list(MAX_CASES))
def test_max_pool_special_values(case, rank):
    """Keras MaxPoolingND on the backend: the hand-derived value of its path, and
    pooling_ref with ``keras_ref.reference_rules`` bit for bit (the sign of a zero maximum
    on jax: registry ``keras-jax-max-pool-zero-sign``)."""
    if keras_ref.backend() == "tensorflow":
        pytest.skip("TensorFlow paths: test_special_values.py (these are the jax / torch rules)")
    cells, hand = MAX_CASES[case]
    x = _x(cells, rank)
    keras = keras_ref.pool("Max", x, _pool(rank, 2)).ravel()[0]
    assert _same_bits(keras, hand[PATH]), f"{case}: Keras gives {keras}, hand {hand[PATH]}"
    ours = pr.max_pool(x, _pool(rank, 2), **keras_ref.reference_rules("Max", PATH))
    if case == "-0_+0":          # first-wins: -0
        reg.expect("keras-jax-max-pool-zero-sign", not np.signbit(keras), PATH,
                   f"[-0, +0] -> {keras}")
        assert np.signbit(ours.ravel()[0])
        return
    assert_bitwise(ours, np.full_like(ours, hand[PATH]), op="max_pool",
                   params={"pool_size": _pool(rank, 2),
                           **keras_ref.reference_rules("Max", PATH)}, arrays={"x": x})


def test_max_pool_zero_sign_first_wins_elsewhere():
    """``[-0, +0] -> -0`` (first of equal maxima) except on jax (+0)."""
    x = _x([-0.0, 0.0], 1)
    keras = keras_ref.pool("Max", x, 2).ravel()[0]
    reg.expect("keras-jax-max-pool-zero-sign", not np.signbit(keras), PATH, f"-> {keras}")
    reg.skip_other_path("keras-jax-max-pool-zero-sign", PATH)


#: Average pooling, one window: name -> (cells, pool, hand-derived result per path).
AVG_CASES = {
    "subnormals": ([S, 3 * S], 2, {"keras-jax": 0.0, "keras-torch": 2 * S}),
    "one_cell_subnormal": ([3 * S], 1, {"keras-jax": 0.0, "keras-torch": 3 * S}),
    "nan": ([NAN, 1.0], 2, {"keras-jax": NAN, "keras-torch": NAN}),
    "-inf_inf": ([-INF, INF], 2, {"keras-jax": NAN, "keras-torch": NAN}),
    "overflow": ([3e38, 3e38], 2, {"keras-jax": INF, "keras-torch": INF}),
}


@pytest.mark.parametrize("case", list(AVG_CASES))
def test_avg_pool_special_values(case):
    """Keras AveragePooling1D on the backend against the hand value and pooling_ref with
    ``keras_ref.reference_rules``: jax flushes subnormals even in a one-cell window (where
    TF's XLA elides the reduction), torch keeps them."""
    if keras_ref.backend() == "tensorflow":
        pytest.skip("TensorFlow paths: test_special_values.py (these are the jax / torch rules)")
    cells, k, hand = AVG_CASES[case]
    x = _x(cells, 1)
    keras = keras_ref.pool("Average", x, k).ravel()[0]
    assert _same_bits(keras, hand[PATH]), f"{case}: Keras gives {keras}, hand {hand[PATH]}"
    ours = pr.avg_pool(x, k, **keras_ref.reference_rules("Average", PATH)).ravel()[0]
    if case == "one_cell_subnormal" and PATH == "keras-jax":
        reg.expect("keras-jax-avg-pool-one-cell-flushed", not _same_bits(ours, keras), PATH,
                   f"Keras {keras}, pooling_ref (tf_kernel='xla') {ours}")
        return
    assert _same_bits(ours, keras), f"{case}: pooling_ref {ours}, Keras {keras}"


def test_torch_avg_same_asymmetric_replicates_edges():
    """AveragePooling1D "same", odd total pad: TF's rule (hand): [1..5], pool 4, stride 1
    -> pads (1, 2), windows [pad 1 2 3] [1 2 3 4] [2 3 4 5] [3 4 5 pad] [4 5 pad pad]
    -> [2, 2.5, 3.5, 4, 4.5]. Torch's edge copies [1 | 1 2 3 4 5 | 5 5] give
    [7/4, 2.5, 3.5, 17/4, 19/4]."""
    x = np.arange(1, 6, dtype=F32).reshape(1, 5, 1)
    params = {"pool_size": 4, "strides": 1, "padding": "same"}
    keras = keras_ref.pool("Average", x, **params).ravel()
    right = np.array([2, 2.5, 3.5, 4, 4.5], F32)
    torch_rule = np.array([1.75, 2.5, 3.5, 4.25, 4.75], F32)
    assert np.array_equal(pr.avg_pool(x, **params).ravel(), right)
    assert np.array_equal(be.torch_avg_same_model(x, params).ravel(), torch_rule)
    reg.expect("keras-torch-avg-same-asymmetric", not np.array_equal(keras, right), PATH,
               f"Keras gives {keras}")
    reg.skip_other_path("keras-torch-avg-same-asymmetric", PATH)
    assert np.array_equal(keras, torch_rule), f"Keras gives {keras}, torch's rule {torch_rule}"


def test_jax_float64_is_float32():
    """A float64 layer on jax (no JAX_ENABLE_X64) computes and returns float32."""
    x = np.array([0.1, 0.2], np.float64).reshape(1, 2, 1)
    out = keras_ref.pool("Max", x, 2)
    reg.expect("keras-jax-float64-as-float32", out.dtype == np.float32, PATH, f"{out.dtype}")
    reg.skip_other_path("keras-jax-float64-as-float32", PATH)
    assert out.ravel()[0] == np.float32(0.2)


def test_torch_global_avg_float64_in_float32():
    """GlobalAveragePooling1D of the single float64 cell 0.1257302210933933: the mean is
    the cell itself; torch returns it rounded to float32 (0.1257302165031433)."""
    v = 0.1257302210933933
    out = keras_ref.global_pool("Average", np.array([[[v]]], np.float64))
    got = float(out.ravel()[0])
    reg.expect("keras-torch-global-avg-float64-in-float32",
               out.dtype == np.float64 and got != v, PATH, f"-> {out.dtype} {got!r}")
    reg.skip_other_path("keras-torch-global-avg-float64-in-float32", PATH)
    assert got == float(np.float32(v))   # (jax: float32 result, keras-jax-float64-as-float32)


@pytest.mark.parametrize("case", [
    ("keras-torch-int-max-pool1d-unimplemented", "Max",
     np.arange(4, dtype=np.int32).reshape(1, 4, 1), {"pool_size": 2}, [1, 3]),
    ("keras-torch-avg-pool3d-same-window-larger-raises", "Average",
     np.ones((1, 1, 1, 1, 1), F32), {"pool_size": (1, 1, 3), "strides": 1, "padding": "same"},
     [1.0]),
    ("keras-torch-empty-spatial-axis-raises", "Max", np.zeros((1, 0, 2), F32),
     {"pool_size": 1}, []),
], ids=lambda c: c[0])
def test_torch_raises(case):
    """The torch backend raises where pooling_ref (and TF) compute a result (hand values)."""
    entry, kind, x, params, hand = case
    assert be.raising_entry(kind, x, params) == entry
    ours = (pr.max_pool if kind == "Max" else pr.avg_pool)(x, **params)
    assert ours.ravel().tolist() == hand
    keras = be.keras_or_expected_error(lambda: keras_ref.pool(kind, x, **params), entry, PATH)
    reg.skip_other_path(entry, PATH)
    assert keras is None
