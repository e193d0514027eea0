"""The models of registered TensorFlow differences (pooling_ref.known), without TensorFlow:
hand-derived cases of each model, and what the judge does with a result that reproduces one.

What TensorFlow gives is measured in test_known_grad_defects.py / test_known_defects.py and
tools/measure_known_models.py; here every expected value is derived by hand from the rule
the registry entry states.
"""

from __future__ import annotations

import numpy as np
import pytest

import pooling_ref
from pooling_ref import known
from pooling_ref._known_conv import cropped_pairs
from pooling_ref._known_pool import broadcast_windows, xla_scan_order
from pooling_ref.geometry import plan_window
from pooling_ref.judge import judge
from pooling_ref.keras_ref import known_differences
from pooling_ref.ops import families, spec

NAN, INF = np.nan, np.inf


def _model(entry: str, op: str, arrays: dict, params: dict, path: str):
    s = spec(op)
    base = s.run_reference(arrays, params, tf_kernel=path if s.tf_kernel else None)
    return known.MODELS[entry](s, arrays, params, None, base)


# ----------------------------------------------------------------------------- XLA scan order


@pytest.mark.parametrize("shape, pool, strides, order", [
    # pads (0, 1) on both axes: W's last cell is peeled, so each window scans columns first
    ((2, 3), (2, 2), (1, 1), (0, 2, 1, 3)),
    # one output row (H bounded, no check); W peeled: (r, c < 2) row-major, then c = 2
    ((2, 4), (3, 3), (2, 2), (0, 1, 3, 4, 6, 7, 2, 5, 8)),
    # W starts in padding (pads (1, 1)): no peel there; H (pads (0, 1)) is the outer loop
    ((4, 4), (2, 3), (1, 1), (0, 1, 2, 3, 4, 5)),
    ((3, 3), (3, 3), (1, 1), tuple(range(9))),          # pads (1, 1) everywhere: no peel
    ((5,), (3,), (2,), (0, 1, 2)),                       # one loop: order unchanged
])
def test_xla_scan_order_hand_derived(shape, pool, strides, order):
    assert xla_scan_order(plan_window(shape, pool, strides, "same")) == order


def test_xla_scan_order_valid_padding_is_row_major():
    assert xla_scan_order(plan_window((4, 5), (2, 3), (1, 1), "valid")) == tuple(range(6))


def test_xla_scan_order_peels_only_below_64_inner_iterations():
    """3D pool (2, 2, W), strides (1, 1, W) on (2, 3, W): the W loop runs W iterations inside
    H's, so H (pads (0, 1)) is peeled for W = 63 and not for W = 64 (XLA's emitter stops
    looking once the inner loops reach 64 iterations)."""
    for w, peeled in ((63, True), (64, False)):
        order = xla_scan_order(plan_window((2, 3, w), (2, 2, w), (1, 1, w), "same"))
        row = [tuple(range(start, start + w)) for start in range(0, 4 * w, w)]  # (d, h) rows
        expected = row[0] + row[2] + row[1] + row[3] if peeled else sum(row, ())
        assert order == expected


def test_xla_scan_grad_model_and_judge():
    """Registry example: window (0, 0) holds 3 at (0, 2) and (1, 1); XLA scans (0, 0) (0, 1)
    (1, 0) (1, 1) before (0, 2), so the first 3 it meets is (1, 1); window (0, 1) holds one
    maximum, 4 at (0, 3)."""
    x = np.float32([[-1, -4, 3, 4], [0, 3, -1, -1]]).reshape(1, 2, 4, 1)
    g = np.ones((1, 1, 2, 1), np.float32)
    params = {"pool_size": 3, "strides": 2, "padding": "same"}
    arrays = {"x": x, "grad_out": g}
    tf_gives = np.float32([[0, 0, 0, 1], [0, 1, 0, 0]]).reshape(1, 2, 4, 1)
    model = _model("xla-max-pool-grad-padded-scan-order", "max_pool2d_grad", arrays, params,
                   "xla")
    np.testing.assert_array_equal(model, tf_gives)
    v = judge("max_pool2d_grad", tf_gives, arrays, params)
    assert v.ok and v.known == "xla-max-pool-grad-padded-scan-order" and v.matched == ("xla",)
    row_major = pooling_ref.max_pool_grad(x, g, **params, tf_kernel="xla")
    assert row_major[0, 0, 2, 0] == 1 and row_major[0, 1, 1, 0] == 0   # the other choice
    both = tf_gives + row_major * np.float32([[1, 1, 1, 0], [1, 1, 1, 1]]).reshape(x.shape)
    assert not judge("max_pool2d_grad", both, arrays, params).ok       # no rule sends twice
    # under tf_kernel=None (no TF path) the XLA order is no excuse
    assert not judge("max_pool2d_grad", tf_gives, arrays, params, tf_kernel=None).ok


def test_xla_scan_model_does_not_apply_where_xla_scans_row_major():
    x = np.zeros((1, 4, 4, 1), np.float32)
    arrays = {"x": x, "grad_out": np.ones((1, 2, 2, 1), np.float32)}
    assert _model("xla-max-pool-grad-padded-scan-order", "max_pool2d_grad", arrays,
                  {"pool_size": 2}, "xla") is None


def test_xla_scan_max_pool_model_and_judge():
    """3D, pool 2, 'same' on (1, 2, 3): D has one output (bounded, no check), W pads (0, 1)
    and is peeled, so each window scans (d, h, w < 1) before w = 1. Window (0, 0, 0) holds
    -1, +0 at (0, 0, 1) and -0 at (0, 1, 0), +0 at (0, 1, 1): row-major meets +0 first,
    XLA's order -0. Window (0, 0, 1): +0 at (0, 0, 2), -0 at (0, 1, 2): both orders meet
    +0 first."""
    x = np.float32([[-1, 0, 0], [-0.0, 0, -0.0]]).reshape(1, 1, 2, 3, 1)
    params = {"pool_size": 2, "padding": "same"}
    model = _model("xla-max-pool-padded-scan-order-zero-sign", "max_pool3d", {"x": x},
                   params, "xla")
    assert np.signbit(model.ravel()).tolist() == [True, False]
    assert model.ravel().tolist() == [0.0, 0.0]
    v = judge("max_pool3d", model, {"x": x}, params, tf_kernel="xla")  # (3D Eigen: any sign)
    assert v.ok and v.known == "xla-max-pool-padded-scan-order-zero-sign"
    assert not judge("max_pool3d", model, {"x": x}, params, tf_kernel=None).ok
    # a nonzero maximum, or a valid (row-major) geometry: the model does not apply
    assert _model("xla-max-pool-padded-scan-order-zero-sign", "max_pool3d", {"x": x + 1},
                  params, "xla") is None
    assert _model("xla-max-pool-padded-scan-order-zero-sign", "max_pool3d", {"x": x},
                  {"pool_size": (1, 2, 2)}, "xla") is None


# ----------------------------------------------------------------------------- Eigen avg grad


def test_broadcast_windows_hand_derived():
    """n = 4, pool 5, stride 3, pads (2, 2): output 0 starts at -2 -> cut to (0, 3), then
    0 + 5 > 4 -> re-cut to min(4, 5) = 4 cells; output 1 starts at 1: min(3, 5) = 3."""
    assert broadcast_windows(4, 5, 3, 2, 2) == [(0, 4), (1, 3)]
    assert broadcast_windows(5, 3, 2, 1, 3) == [(0, 2), (1, 3), (3, 2)]   # k <= n: right


def test_eigen_avg_grad_model_and_judge():
    x = np.zeros((1, 4, 1), np.float32)
    g = np.ones((1, 2, 1), np.float32)
    params = {"pool_size": 5, "strides": 3, "padding": "same"}
    arrays = {"x": x, "grad_out": g}
    q, t = np.float32(0.25), np.float32(1 / 3)
    tf_gives = np.float32([q, q + t, q + t, q + t]).reshape(1, 4, 1)
    model = _model("eigen-avg-pool-grad-window-larger-than-input", "avg_pool1d_grad", arrays,
                   params, "eigen")
    np.testing.assert_array_equal(model, tf_gives)
    v = judge("avg_pool1d_grad", tf_gives, arrays, params)
    assert v.ok and v.known == "eigen-avg-pool-grad-window-larger-than-input"
    assert v.matched == ("eigen",)
    assert not judge("avg_pool1d_grad", tf_gives, arrays, params, tf_kernel="onednn").ok
    assert _model("eigen-avg-pool-grad-window-larger-than-input", "avg_pool1d_grad",
                  {"x": np.zeros((1, 5, 1), np.float32), "grad_out": np.ones((1, 3, 1),
                                                                              np.float32)},
                  {"pool_size": 3, "strides": 2, "padding": "same"}, "eigen") is None


# ----------------------------------------------------------------------------- conv gradients


def test_cropped_pairs_hand_derived():
    """n = 5, k = 2, dilation 2, 'valid': 3 outputs; padded to 6 (a multiple of 2), so a
    4th output is computed and cropped; it reads cells 3 (tap 0) and 5 (outside)."""
    g = plan_window((5,), (2,), (1,), "valid", (2,))
    pairs = cropped_pairs(g)[0].astype(int)
    np.testing.assert_array_equal(pairs, [[1, 1, 1, 1, 0], [0, 0, 1, 1, 1]])


def test_dilated_conv_grad_kernel_model_and_judge():
    """Registry example: x = [NaN], kernel (2, 1, 1), dilation 2, 'same' (pads (1, 1)): the
    one output reads padding with both taps (reference gk [0, 0]); TF pads the input to 4
    cells and crops a second output, whose tap 0 reads the NaN: gk [NaN, 0]."""
    x = np.float32([NAN]).reshape(1, 1, 1)
    kernel = np.float32([2, 4]).reshape(2, 1, 1)
    g = np.ones((1, 1, 1), np.float32)
    params = {"padding": "same", "dilation_rate": 2}
    arrays = {"x": x, "kernel": kernel, "grad_out": g}
    gx, gk, gb = _model("dilated-conv-grad-kernel-nan", "conv1d_grad", arrays, params, None)
    assert np.isnan(gk[0, 0, 0]) and gk[1, 0, 0] == 0
    ref = pooling_ref.conv_grad(x, kernel, g, **params)
    np.testing.assert_array_equal(ref[1].ravel(), [0, 0])
    v = judge("conv1d_grad", (gx, gk, gb), arrays, params)
    assert v.ok and v.known == "dilated-conv-grad-kernel-nan"
    assert v.matched == ("onednn", "eigen", "xla")
    wrong = gk.copy()
    wrong[1] = NAN                                     # tap 1 never meets the NaN
    assert not judge("conv1d_grad", (gx, wrong, gb), arrays, params).ok


def test_conv_grad_models_need_non_finite_x_and_their_geometry():
    x = np.ones((1, 4, 1), np.float32)
    arrays = {"x": x, "kernel": np.ones((2, 1, 1), np.float32),
              "grad_out": np.ones((1, 2, 1), np.float32)}
    params = {"dilation_rate": 2}
    assert _model("dilated-conv-grad-kernel-nan", "conv1d_grad", arrays, params, None) is None
    x[0, 3, 0] = INF
    assert _model("dilated-conv-grad-kernel-nan", "conv1d_grad", arrays, {"strides": 2},
                  None) is None                        # not dilated: TF computes no extra


def test_eigen_conv3d_grad_kernel_model():
    """x (1, 1, 4, 1, 1) = [0, 0, 0, inf], kernel (1, 2, 1), strides (1, 2, 1), 'same'
    (no pad): outputs read rows (0, 1) and (2, 3); tap 0 never reads row 3, so Eigen's
    inf * 0 makes it NaN; tap 1 reads it for output 1: inf."""
    x = np.float32([0, 0, 0, INF]).reshape(1, 1, 4, 1, 1)
    kernel = np.ones((1, 2, 1, 1, 1), np.float32)
    g = np.ones((1, 1, 2, 1, 1), np.float32)
    params = {"strides": (1, 2, 1), "padding": "same"}
    arrays = {"x": x, "kernel": kernel, "grad_out": g}
    _, gk, _ = _model("eigen-conv3d-grad-kernel-nan", "conv3d_grad", arrays, params, None)
    assert np.isnan(gk[0, 0, 0, 0, 0]) and gk[0, 1, 0, 0, 0] == INF
    v = judge("conv3d_grad", _model("eigen-conv3d-grad-kernel-nan", "conv3d_grad", arrays,
                                    params, None), arrays, params)
    assert v.ok and v.known == "eigen-conv3d-grad-kernel-nan" and v.matched == ("eigen",)


# ----------------------------------------------------------------------------- raises


def _conv_arrays(shape, kernel_shape, dtype="float32"):
    return {"x": np.ones(shape, dtype), "kernel": np.ones(kernel_shape, dtype)}


def test_raises_channels_first_conv():
    cf = {"data_format": "channels_first"}
    arrays = _conv_arrays((1, 2, 4, 4), (2, 2, 2, 3))
    err = "UnimplementedError: The Conv2D op currently only supports the NHWC tensor format"
    every = ("onednn", "eigen", "xla")
    assert known.raised(spec("conv2d"), arrays, cf, err, every) == "eigen-cf-conv-unimplemented"
    assert known.raised(spec("conv2d"), arrays, cf, err, ("onednn",)) is None  # float32 runs
    assert known.raised(spec("conv2d"), arrays, {}, err, every) is None        # channels_last
    assert known.raised(spec("conv2d"), arrays, cf, "ValueError: x", every) is None
    f64 = _conv_arrays((1, 2, 4, 4), (2, 2, 2, 3), "float64")
    assert known.raised(spec("conv2d_grad"), f64, cf, err, ("onednn",)) == \
        "cf-conv-float16-float64-unimplemented"
    assert known.raised(spec("conv3d"), _conv_arrays((1, 2, 4, 4, 4), (2, 2, 2, 2, 3)), cf,
                        err, every) is None            # Keras runs 3D channels_first on XLA


def test_raises_eager_grouped_conv():
    err = "InvalidArgumentError: input and filter must have the same depth: 4 vs 2"
    grouped3d = _conv_arrays((1, 4, 4, 4, 4), (2, 2, 2, 2, 4))
    assert known.raised(spec("conv3d"), grouped3d, {}, err, ("eigen",)) == \
        "eager-grouped-conv-unimplemented"
    assert known.raised(spec("conv3d"), grouped3d, {}, err, ("xla",)) is None
    grouped2d = _conv_arrays((1, 4, 4, 4), (2, 2, 2, 4))
    assert known.raised(spec("conv2d"), grouped2d, {}, err, ("onednn", "eigen")) is None
    assert known.raised(spec("conv2d_grad"), grouped2d, {}, err, ("onednn",)) is None
    assert known.raised(spec("conv2d_grad"), grouped2d, {}, err, ("eigen",)) == \
        "eager-grouped-conv-unimplemented"
    plain = _conv_arrays((1, 4, 4, 4, 4), (2, 2, 2, 4, 4))
    assert known.raised(spec("conv3d"), plain, {}, err, ("eigen",)) is None


# ----------------------------------------------------------------------------- the tables


def test_every_model_and_raise_is_a_registry_entry_of_real_families():
    registry = known_differences()
    valid = set(families())
    assert set(known.MODELS) == set(known._FAMILIES)
    for entry_id, fams in known._FAMILIES.items():
        assert entry_id in registry and set(fams) <= valid, entry_id
    for entry_id, (fams, type_name, condition) in known.RAISES.items():
        assert entry_id in registry and set(fams) <= valid and callable(condition)
        for name in (type_name,) if isinstance(type_name, str) else type_name:
            assert name in registry[entry_id]["tf_gives"], (entry_id, name)


def test_eigen_conv3d_model_is_for_3d_only():
    x = np.float32([0, 0, 0, INF]).reshape(1, 4, 1)
    arrays = {"x": x, "kernel": np.ones((2, 1, 1), np.float32),
              "grad_out": np.ones((1, 2, 1), np.float32)}
    assert _model("eigen-conv3d-grad-kernel-nan", "conv1d_grad", arrays,
                  {"strides": 2, "padding": "same"}, None) is None


# ----------------------------------------------------------------------------- 3D pooling


def test_eigen_max_pool3d_relaxation_accepts_only_what_a_packet_can_give():
    """[1, NaN] and [0, -0] (window (1, 1, 2)): Eigen may give NaN or 1 for the first (a
    cell of the window or NaN), either zero for the second; 5 is no cell of the window."""
    x = np.float32([1, NAN, 0.0, -0.0]).reshape(1, 1, 1, 4, 1)
    params = {"pool_size": (1, 1, 2)}

    def verdict(values):
        return judge("max_pool3d", np.float32(values).reshape(1, 1, 1, 2, 1), {"x": x},
                     params)

    v = verdict([NAN, -0.0])
    assert v.ok and v.known == "eigen-max-pool3d-nan-by-packet" and v.matched == ("eigen",)
    v = verdict([1, -0.0])                            # only the zero's sign differs
    assert v.ok and v.known == "eigen-max-pool3d-zero-sign"
    assert not verdict([5, 0.0]).ok and not verdict([1, 1.0]).ok
    assert not judge("max_pool3d", np.float32([NAN, -0.0]).reshape(1, 1, 1, 2, 1),
                     {"x": x}, params, tf_kernel="onednn").ok    # oneDNN: no such freedom
    # a window of -inf and a padding cell: -inf (the Eigen 3D rule) or the lowest value
    # (the pad cell as Eigen reads it); nothing else
    x1 = np.float32([-INF]).reshape(1, 1, 1, 1, 1)
    same = {"pool_size": (1, 1, 2), "padding": "same"}
    low = np.finfo(np.float32).min
    for got, ok in ((-INF, True), (low, True), (0.0, False)):
        v = judge("max_pool3d", np.float32([got]).reshape(1, 1, 1, 1, 1), {"x": x1}, same)
        assert v.ok is ok, got


def test_eigen_negative_pad_windows_hand_derived():
    """Rows [1, 2] [3, 4] [5, 6] (H = 3), pool (1, 1, 2), strides (1, 3, 1), 'same': H has
    one output and total pad (1 - 1) * 3 + 1 - 3 = -2, so Eigen reads row 1 (-(-2) // 2);
    W (pads (0, 1)): windows [3, 4] and [4]."""
    x = np.arange(1, 7, dtype=np.float32).reshape(1, 1, 3, 2, 1)
    params = {"pool_size": (1, 1, 2), "strides": (1, 3, 1), "padding": "same"}
    model = known.MODELS["eigen-pool3d-same-negative-pad"]
    assert model(spec("max_pool3d"), {"x": x}, params, None, None).ravel().tolist() == [4, 4]
    assert model(spec("avg_pool3d"), {"x": x}, params, None, None).ravel().tolist() == \
        [3.5, 4]
    g = np.ones((1, 1, 1, 2, 1), np.float32)          # the right windows hold 1, 2 and 2:
    grad = model(spec("max_pool3d_grad"), {"x": x, "grad_out": g}, params, None, None)
    assert not grad.any()                             # none within 1e-5 of 4
    x2 = np.arange(1, 3, dtype=np.float32).reshape(1, 1, 1, 2, 1)   # total -1: no shift
    assert model(spec("max_pool3d"), {"x": x2}, {"pool_size": 1, "strides": (1, 1, 2),
                                                 "padding": "same"}, None, None) is None


def test_max_pool3d_grad_window_model_hand_derived():
    """Window 6 over [1, 0, 0, 0, 1] (pads 2/3), stride 1, grad_out [1, 2, 4, 8, 16]: TF's
    gradient window of output 0 is cells 0-4 (GetBroadcastSize), so the tie at cell 4 also
    gets its 1: [7, 0, 0, 0, 31] (the windows' own cells give 30)."""
    x = np.float32([1, 0, 0, 0, 1]).reshape(1, 1, 1, 5, 1)
    g = np.float32([1, 2, 4, 8, 16]).reshape(1, 1, 1, 5, 1)
    params = {"pool_size": (1, 1, 6), "strides": 1, "padding": "same"}
    s = spec("max_pool3d_grad")
    for path in ("onednn", "eigen"):
        model = dict(known.models(s, path))["eager-max-pool3d-grad-window-larger-than-input"]
        got = model(s, {"x": x, "grad_out": g}, params, None, None)
        assert got.ravel().tolist() == [7, 0, 0, 0, 31]
    v = judge("max_pool3d_grad", np.float32([7, 0, 0, 0, 31]).reshape(x.shape),
              {"x": x, "grad_out": g}, params)
    assert v.ok and v.known == "eager-max-pool3d-grad-window-larger-than-input"
    assert v.matched == ("onednn", "eigen")


def test_run_judged_by_one_path_keeps_a_case_that_path_explains_by_a_known_difference():
    """Eigen 3D max pooling of [NaN] with a "same" padding cell: TF may give the lowest
    value (the pad as Eigen reads it, registry eigen-max-pool3d-nan-by-packet) — which is
    what tf_kernel=None / 'onednn' give too. When the run is judged against 'eigen' (here
    two cases of subnormals flushed: [3s, s] -> 0, only 'eigen' / 'xla'), that case must
    stay accepted through the registered difference, not fail as "matches only 'onednn'"."""
    from pooling_ref.cases import Case
    from pooling_ref.judge import Criteria
    from pooling_ref.oracle.call import run_case as _run
    from pooling_ref.oracle.tally import _Tally

    tiny = np.finfo(np.float32).smallest_subnormal
    flushed = Case("max_pool3d", np.float32([3 * tiny, tiny]).reshape(1, 1, 1, 2, 1),
                   {"pool_size": (1, 1, 2)})
    padded = Case("max_pool3d", np.float32([NAN]).reshape(1, 1, 1, 1, 1),
                  {"pool_size": (1, 1, 2), "padding": "same"})
    tally = _Tally(Criteria())
    for i, case in enumerate([flushed, flushed]):
        tally.add(i, case, _run(lambda x, **p: pooling_ref.max_pool(x, **p, tf_kernel="eigen"),
                                case))
    low = np.float32([np.finfo(np.float32).min]).reshape(1, 1, 1, 1, 1)
    outcome = _run(lambda x, **p: low, padded)
    assert outcome.verdict.ok and "eigen" not in outcome.verdict.matched
    tally.add(2, padded, outcome)
    tally.settle()
    assert tally.chosen == "eigen" and not tally.failing and len(tally.passing) == 3
    assert tally.passing[-1][2].verdict.known == "eigen-max-pool3d-nan-by-packet"


def test_eigen_max_pool3d_grad_follows_a_forward_eigen_may_give():
    """Window (1, 1, 3) over [2, NaN, 1] (C = 1): a scalar lane scans 2, then NaN takes
    over, then 1 replaces it: TF's forward is 1 and its gradient goes to cell 2; the Eigen
    rules (NaN ignored) say 2 and cell 0. Either is a forward Eigen may give; the NaN cell
    never receives (|NaN - y| < 1e-5 is false), nor do two cells 1 apart."""
    x = np.float32([2, NAN, 1]).reshape(1, 1, 1, 3, 1)
    g = np.ones((1, 1, 1, 1, 1), np.float32)
    params = {"pool_size": (1, 1, 3)}
    arrays = {"x": x, "grad_out": g}

    def verdict(values):
        return judge("max_pool3d_grad", np.float32(values).reshape(x.shape), arrays, params,
                     tf_kernel="eigen")

    v = verdict([0, 0, 1])              # (also XLA's rule: its scan moves on past a NaN)
    assert v.ok and v.known == "eigen-max-pool3d-nan-by-packet" and v.matched == ("eigen",)
    assert verdict([1, 0, 0]).ok                      # the Eigen rules themselves
    assert not verdict([0, 1, 0]).ok and not verdict([1, 0, 1]).ok
    assert not judge("max_pool3d_grad", np.float32([0, 0, 1]).reshape(x.shape), arrays,
                     params, tf_kernel="onednn").ok


def test_eigen_max_pool3d_grad_many_windows_decided_by_lane():
    """Ten windows (1, 1, 2), stride 2, over [i + 1, NaN] (C = 1): a scalar lane ends on
    the NaN, so TF's forward is NaN in every window and its gradient is all zeros; the
    Eigen rules say i + 1 and send g_i = 2^i to cell 2i. Each window may give either
    (2^10 combinations, more than the search tries at once): the windows do not overlap, so
    each is decided alone, and any mix of them is accepted; a gradient at the NaN cell or
    with a wrong value is not."""
    x = np.float32([[i + 1, NAN] for i in range(10)]).reshape(1, 1, 1, 20, 1)
    g = np.float32([2.0 ** i for i in range(10)]).reshape(1, 1, 1, 10, 1)
    params = {"pool_size": (1, 1, 2), "strides": (1, 1, 2)}
    arrays = {"x": x, "grad_out": g}

    def verdict(chosen, at=0):
        values = np.zeros(20, np.float32)
        for i in chosen:
            values[2 * i + at] = 2.0 ** i
        return judge("max_pool3d_grad", values.reshape(x.shape), arrays, params,
                     tf_kernel="eigen")

    v = verdict([])                                   # every lane a scalar one: all NaN
    assert v.ok and v.known == "eigen-max-pool3d-nan-by-packet" and v.matched == ("eigen",)
    assert verdict([0, 3, 4, 9]).ok and verdict(range(10)).ok
    assert not verdict([0, 3], at=1).ok               # the NaN cell never receives
    values = np.zeros(20, np.float32)
    values[0] = 3.0                                   # neither g_0 nor nothing
    assert not judge("max_pool3d_grad", values.reshape(x.shape), arrays, params,
                     tf_kernel="eigen").ok


def test_eigen_max_pool3d_grad_overlapping_windows_as_scalar_lanes():
    """x = [1, NaN, 2, NaN, 3, NaN, 4, NaN, 5, NaN, 6], window (1, 1, 3), stride 1: nine
    overlapping windows, each with a NaN (3^9 combinations of possible forwards). A scalar
    lane (C = 1) gives x[w + 2] for [a, NaN, b] (the NaN takes over, b replaces it) and NaN
    for [NaN, b, NaN]: output w (grad_out 2^w) sends to cell w + 2 for even w, nowhere for
    odd w — cells 2, 4, 6, 8, 10 get 1, 4, 16, 64, 256. The Eigen rules (NaN ignored) would
    send odd w's to cell w + 1."""
    x = np.float32([1, NAN, 2, NAN, 3, NAN, 4, NAN, 5, NAN, 6]).reshape(1, 1, 1, 11, 1)
    g = np.float32([2.0 ** w for w in range(9)]).reshape(1, 1, 1, 9, 1)
    params = {"pool_size": (1, 1, 3), "strides": 1}
    arrays = {"x": x, "grad_out": g}
    want = np.zeros(11, np.float32)
    want[[2, 4, 6, 8, 10]] = [1, 4, 16, 64, 256]
    v = judge("max_pool3d_grad", want.reshape(x.shape), arrays, params, tf_kernel="eigen")
    assert v.ok and v.known == "eigen-max-pool3d-nan-by-packet"
    assert pooling_ref.max_pool_grad(x, g, **params, tf_kernel="eigen").ravel().tolist() \
        == [0, 0, 1 + 2, 0, 4 + 8, 0, 16 + 32, 0, 64 + 128, 0, 256]     # the rules differ
    wrong = want.copy()
    wrong[10] = 255.0
    assert not judge("max_pool3d_grad", wrong.reshape(x.shape), arrays, params,
                     tf_kernel="eigen").ok


def test_eigen_conv3d_negative_pad_model_hand_derived():
    """x = [a, b, c] along D, a 1-cell kernel k, strides (3, 1, 1), 'same': one output,
    total pad -2: Eigen's window is row 1 (b * k), the specification's row 0 (a * k)."""
    x = np.float32([0.5, -0.25, 2.0]).reshape(1, 3, 1, 1, 1)
    kernel = np.float32([3.0]).reshape(1, 1, 1, 1, 1)
    params = {"strides": (3, 1, 1), "padding": "same"}
    arrays = {"x": x, "kernel": kernel}
    model = known.MODELS["eigen-conv3d-same-negative-pad"](spec("conv3d"), arrays, params,
                                                            None, None)
    assert model.ravel().tolist() == [-0.75]
    assert pooling_ref.conv(x, kernel, **params).ravel().tolist() == [1.5]
    v = judge("conv3d", model, arrays, params)
    assert v.ok and v.known == "eigen-conv3d-same-negative-pad" and v.matched == ("eigen",)
    assert known.MODELS["eigen-conv3d-same-negative-pad"](
        spec("conv3d"), arrays, {"strides": (2, 1, 1), "padding": "same"}, None, None) is None


def test_raises_no_3d_pooling_kernel_for_float16_float64():
    x16 = {"x": np.ones((1, 2, 2, 2, 1), np.float16)}
    x64 = {"x": np.ones((1, 2, 2, 2, 1), np.float64)}
    x32 = {"x": np.ones((1, 2, 2, 2, 1), np.float32)}
    entry = "pool3d-float16-float64-no-kernel"
    assert known.raised(spec("avg_pool3d"), x16, {}, "NotFoundError: no kernel",
                        ("onednn",)) == entry
    assert known.raised(spec("max_pool3d"), x64, {}, "TypeError: no double", ("xla",)) == entry
    assert known.raised(spec("avg_pool3d"), x64, {}, "NotFoundError: x", ("xla",)) is None
    assert known.raised(spec("max_pool3d"), x32, {}, "NotFoundError: x", ("eigen",)) is None
    assert known.raised(spec("max_pool2d"), {"x": np.ones((1, 2, 2, 1), np.float16)}, {},
                        "NotFoundError: x", ("eigen",)) is None
