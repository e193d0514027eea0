"""Known TensorFlow/Keras defects: tests that SHOW each one, on the paths where it happens.

Every defect is an entry of the registry ``pooling_ref/data/known_differences.json`` (which
paths, what TF gives, the evidence); :func:`parity_tests._registry.expect` asserts it happens
exactly on the paths the entry lists. On a listed path a test that stops seeing it fails
with "no longer differs on this path: update the registry"; on another kernel path it checks
that the defect is absent and reports "different kernel path". None of these is flaky: each
trigger was measured to show the defect on every call (see the docstrings).

Marked ``known_defect``: ``pytest -m "not known_defect"`` skips them, e.g. to test against a
TF build where they are fixed.
"""

from __future__ import annotations

import numpy as np
import pytest

import pooling_ref
from parity_tests import _registry as reg
from parity_tests._assert import assert_within_bound
from pooling_ref.geometry import same_pads
from pooling_ref.tolerance import compare, conv_bound

keras_ref = pytest.importorskip("pooling_ref.keras_ref")
tf = pytest.importorskip("tensorflow")

pytestmark = [pytest.mark.parity, pytest.mark.known_defect]
EAGER = keras_ref.eager_path()


def _eager_conv_or_error(*args, **kwargs):
    """Keras eager conv, or the ``UnimplementedError`` TF raises for it on some paths."""
    try:
        return keras_ref.conv(*args, **kwargs), None
    except tf.errors.UnimplementedError as e:
        return None, e


# ------------------------------------------------------------ (a) channels_first conv bias


def test_keras_channels_first_conv_bias_added_along_last_spatial_axis():
    """Keras ConvND, channels_first, with bias, when the last spatial length == filters.

    Observed in TF 2.21.0 / Keras 3.15.1 (eager and XLA alike):
    ``Conv2D(3, (3, 1), data_format="channels_first")`` on zeros (1, 2, 3, 3) with bias
    [1, 2, 3] gives [1, 2, 3] along W in every filter instead of the constant bias[f] per
    filter f (the bias is broadcast against the last axis, which happens to fit). On the
    Eigen path the eager Conv2D raises instead; Conv3D (run under XLA by Keras) shows it.
    """
    x = np.zeros((1, 2, 3, 3), np.float32)                    # C=2, H=3, W=3 == filters
    kernel = np.zeros((3, 1, 2, 3), np.float32)
    bias = np.array([1, 2, 3], np.float32)
    params = {"data_format": "channels_first"}
    correct = pooling_ref.conv(x, kernel, bias, **params)
    # hand-derived: the input and kernel are zero, so out[0, f] == bias[f] everywhere
    np.testing.assert_array_equal(correct, np.broadcast_to(bias[None, :, None, None],
                                                           (1, 3, 1, 3)))
    for path, kernel_path in (("eager", EAGER), ("xla", "xla")):
        keras, error = _eager_conv_or_error(x, kernel, bias, path=path,
                                            native_channels_first=True, **params)
        reg.expect("eigen-cf-conv-unimplemented", error is not None, kernel_path, repr(error))
        if error is not None:
            continue
        assert keras.shape == correct.shape
        wrong = not np.array_equal(keras, correct)
        reg.expect("keras-cf-conv-bias-axis", wrong, kernel_path, f"Keras gives {keras}")
        if wrong:   # the defect as documented: bias [1, 2, 3] along W, same for every filter
            np.testing.assert_array_equal(keras, np.broadcast_to(bias, (1, 3, 1, 3)))
    # the project's reference path (channels_last, transposed back) is right
    ref = keras_ref.conv(x, kernel, bias, **params)
    np.testing.assert_array_equal(ref, correct)
    # Keras runs Conv3D channels_first under XLA from every eager path (Eigen too)
    x3, kernel3 = np.zeros((1, 2, 1, 3, 3), np.float32), np.zeros((1, 3, 1, 2, 3), np.float32)
    keras3 = keras_ref.conv(x3, kernel3, bias, path="eager", native_channels_first=True,
                            **params)
    reg.expect("keras-cf-conv-bias-axis",
               not np.array_equal(keras3, pooling_ref.conv(x3, kernel3, bias, **params)), EAGER,
               f"Conv3D gives {keras3.ravel().tolist()}")


@pytest.mark.parametrize("path", ["eager", "xla"])
def test_keras_channels_first_conv_bias_right_when_width_differs_from_filters(path):
    """Same layer with W = 4 != filters = 3: Keras native channels_first is right.

    Observed in TF 2.21.0 / Keras 3.15.1. Random input, so this is a parity check at the
    documented error bound, not only a bias check.
    """
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 2, 3, 4)).astype(np.float32)   # C=2, H=3, W=4
    kernel = rng.standard_normal((3, 1, 2, 3)).astype(np.float32)
    bias = np.array([1, 2, 3], np.float32)
    params = {"data_format": "channels_first"}
    keras, error = _eager_conv_or_error(x, kernel, bias, path=path,
                                        native_channels_first=True, **params)
    kernel_path = EAGER if path == "eager" else "xla"
    reg.expect("eigen-cf-conv-unimplemented", error is not None, kernel_path, repr(error))
    if error is not None:
        pytest.skip(f"eigen-cf-conv-unimplemented: {kernel_path} path has no channels_first "
                    f"conv kernel (registry)")
    assert_within_bound(pooling_ref.conv(x, kernel, bias, **params), keras,
                        conv_bound(x, kernel, bias, **params), op="conv",
                        params=dict(params, path=path),
                        arrays={"x": x, "kernel": kernel, "bias": bias})


@pytest.mark.parametrize("dtype", ["float16", "float64"])
def test_channels_first_conv_float16_float64_unimplemented(dtype):
    """Keras Conv2D channels_first, float16 / float64, eager: UnimplementedError on both
    eager paths (oneDNN's channels_first kernel is float32 only); under XLA it runs.

    Observed in TF 2.21.0 / Keras 3.15.1 (registry ``cf-conv-float16-float64-unimplemented``;
    check accepts the error there: pooling_ref.known.RAISES).
    """
    x = np.ones((1, 2, 3, 3), dtype)
    kernel = np.ones((1, 1, 2, 3), dtype)
    params = {"data_format": "channels_first"}
    _, error = _eager_conv_or_error(x, kernel, None, path="eager", native_channels_first=True,
                                    **params)
    reg.expect("cf-conv-float16-float64-unimplemented", error is not None, EAGER, repr(error))
    if error is not None:
        from pooling_ref import known
        from pooling_ref.ops import spec

        text = f"UnimplementedError: {error}"
        assert known.raised(spec("conv2d"), {"x": x, "kernel": kernel}, params, text,
                            (EAGER,)) == "cf-conv-float16-float64-unimplemented"
    xla = keras_ref.conv(x, kernel, None, path="xla", native_channels_first=True, **params)
    np.testing.assert_array_equal(xla, np.full((1, 3, 3, 3), 2, dtype))   # 2 channels of 1
    reg.skip_other_path("cf-conv-float16-float64-unimplemented", EAGER)


# ------------------------------------------------- (b) oneDNN eager conv, strides > kernel


_ONEDNN_CALLS = 20


def _onednn_case():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 3, 1)).astype(np.float32)
    kernel = rng.standard_normal((3, 2, 1, 3)).astype(np.float32)
    return x, kernel, {"strides": (1, 3), "padding": "same"}


def test_onednn_eager_conv_garbage_for_strides_larger_than_kernel():
    """TF oneDNN eager CPU convolution, SAME, stride 3 > kernel width 2.

    Observed in TF 2.21.0 / Keras 3.15.1 (oneDNN on, the default): input (3, 4, 3, 1),
    kernel (3, 2, 1, 3), strides (1, 3), SAME, through ``keras.layers.Conv2D`` and
    ``tf.nn.convolution``. Rows 1-3 of the output are wrong — shifted rows plus values of
    1e8..1e26 or inf from uninitialized memory, so they vary from call to call. Measured:
    300 of 300 calls outside the error bound (smallest bound ratio 1e6), also on an
    all-zero input; so "at least one of 20 calls is wrong" does not flake. XLA is right.
    """
    x, kernel, params = _onednn_case()
    correct = pooling_ref.conv(x, kernel, **params)
    bound = conv_bound(x, kernel, **params)
    keras_bad = tfnn_bad = 0
    for _ in range(_ONEDNN_CALLS):
        keras_bad += not compare(keras_ref.conv(x, kernel, path="eager", **params),
                                 correct, bound).ok
        tfnn = tf.nn.convolution(x, kernel, strides=params["strides"], padding="SAME")
        tfnn_bad += not compare(np.asarray(tfnn), correct, bound).ok
    for api, bad in (("keras.layers.Conv2D", keras_bad), ("tf.nn.convolution", tfnn_bad)):
        reg.expect("onednn-strided-same-conv-garbage", bad > 0, EAGER,
                   f"{api}: {bad} of {_ONEDNN_CALLS} calls outside the error bound")
    reg.skip_other_path("onednn-strided-same-conv-garbage", EAGER)


def test_xla_conv_right_where_onednn_eager_is_wrong():
    """The reference path (Keras Conv2D under XLA) is within the bound on every call.

    Observed in TF 2.21.0 / Keras 3.15.1 on the oneDNN defect's case.
    """
    x, kernel, params = _onednn_case()
    correct = pooling_ref.conv(x, kernel, **params)
    bound = conv_bound(x, kernel, **params)
    for _ in range(3):
        assert_within_bound(correct, keras_ref.conv(x, kernel, **params), bound, op="conv",
                            params=params, arrays={"x": x, "kernel": kernel},
                            what="differs from Keras XLA (the trusted path)")


# --------------------------------------------- (c) "valid" pooling window larger than input


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_valid_max_pool_window_larger_than_input(rank):
    """Keras MaxPoolingND, padding="valid", pool_size 3 on spatial size 2.

    Observed in TF 2.21.0 / Keras 3.15.1: ``AbortedError`` from oneDNN ("could not create a
    descriptor for a pooling forward propagation primitive"); on the Eigen path an empty
    array. pooling_ref raises a ValueError naming pool_size instead.
    """
    x = np.ones((1, *(2,) * rank, 1), np.float32)
    try:
        out, aborted = keras_ref.pool("Max", x, 3, padding="valid"), False
    except tf.errors.AbortedError:
        out, aborted = None, True
    reg.expect("onednn-valid-window-too-large-aborts", aborted, EAGER, f"rank {rank}")
    reg.expect("eigen-valid-max-window-too-large-empty",
               out is not None and out.shape == (1, *(0,) * rank, 1), EAGER,
               f"rank {rank}: shape {None if out is None else out.shape}")
    with pytest.raises(ValueError, match="pool_size"):
        pooling_ref.max_pool(x, 3, padding="valid")


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_valid_avg_pool_window_larger_than_input_returns_empty_in_tf(rank):
    """Keras AveragePoolingND, padding="valid", pool_size 3 on spatial size 2.

    Observed in TF 2.21.0 / Keras 3.15.1: no error, an empty result (spatial size 0) —
    inconsistent with max pooling's AbortedError. pooling_ref raises a ValueError naming
    pool_size for both (API: the clear error instead of TF's obscure one).
    """
    x = np.ones((1, *(2,) * rank, 1), np.float32)
    out = keras_ref.pool("Average", x, 3, padding="valid")
    reg.expect("valid-window-too-large-empty", out.shape == (1, *(0,) * rank, 1), EAGER,
               f"AveragePooling{rank}D: shape {out.shape}")
    with pytest.raises(ValueError, match="pool_size"):
        pooling_ref.avg_pool(x, 3, padding="valid")


# ------------------------------- (d) "same" conv vs "valid" conv of the zero-padded input


def test_keras_same_conv_differs_from_valid_conv_of_padded_input():
    """Keras eager Conv2D "same" vs "valid" on the explicitly zero-padded input.

    Observed in TF 2.21.0 / Keras 3.15.1: for input (3, 4, 11, 1), kernel (2, 4, 1, 8),
    strides 2 (seed 0), 116 of 288 outputs differ (max abs 9.5e-7; up to 256 ULP on
    outputs near zero), identically on every call — oneDNN takes a different summation
    path. Not a bug: both are within the error bound of the exact result. The same shapes
    with batch 1 agree bit for bit. (Other shapes differ by 1 ULP, measured with TF 2.21.)
    Tests must therefore not compare Keras conv bitwise, not even with itself.
    """
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 11, 1)).astype(np.float32)
    kernel = rng.standard_normal((2, 4, 1, 8)).astype(np.float32)
    strides = 2
    pads = tuple(same_pads(n, k, strides) for n, k in zip(x.shape[1:-1], kernel.shape[:2]))
    x_padded = pooling_ref.zero_pad(x, pads)
    same = keras_ref.conv(x, kernel, strides=strides, padding="same", path="eager")
    valid = keras_ref.conv(x_padded, kernel, strides=strides, padding="valid", path="eager")
    bound = conv_bound(x, kernel, strides=strides, padding="same")
    ours = pooling_ref.conv(x, kernel, strides=strides, padding="same")
    arrays = {"x": x, "kernel": kernel}
    assert_within_bound(ours, same, bound, op="conv", arrays=arrays,
                        params={"strides": strides, "padding": "same"})
    assert_within_bound(ours, valid, bound, op="conv", arrays=arrays,
                        params={"strides": strides, "padding": "valid of zero_pad(x)"})
    reg.expect("onednn-same-conv-vs-padded-valid", not np.array_equal(same, valid), EAGER,
               f"{int(np.sum(same != valid))} of {same.size} outputs differ")
    reg.skip_other_path("onednn-same-conv-vs-padded-valid", EAGER)


# ------------------------------------------------ (e) Eigen 3D max pooling: not a clean rule


def test_eigen_max_pool3d_nan_and_zero_sign():
    """Eigen's MaxPool3D picks NaN and the sign of a zero maximum by SIMD packet.

    Triggers (float32, C = 1, window (1, 1, 2)): ``[1, NaN]`` (first-wins ignores the NaN:
    1) and ``[+0, -0]`` (first-wins: +0). Registry entries
    ``eigen-max-pool3d-nan-by-packet`` and ``eigen-max-pool3d-zero-sign``: not modelled by
    ``tf_kernel="eigen"``, so the parity tests compare those cells leniently on that path.
    """
    x = np.array([1, np.nan, 0.0, -0.0], np.float32).reshape(1, 1, 1, 4, 1)
    keras = keras_ref.pool("Max", x, (1, 1, 2)).ravel()
    ours = pooling_ref.max_pool(x, (1, 1, 2), tf_kernel=EAGER).ravel()
    assert ours[0] == 1 and ours[1] == 0 and not np.signbit(ours[1])      # hand-derived
    reg.expect("eigen-max-pool3d-nan-by-packet", bool(np.isnan(keras[0])), EAGER,
               f"[1, NaN] -> {keras[0]}")
    reg.expect("eigen-max-pool3d-zero-sign", bool(np.signbit(keras[1])), EAGER,
               f"[+0, -0] -> {keras[1]}")
    # the gradient follows Eigen's own forward: [2, NaN, 1] (C = 1) scans to 1, cell 2
    x3 = np.float32([2, np.nan, 1]).reshape(1, 1, 1, 3, 1)
    grad = keras_ref.pool_grad("Max", x3, np.ones((1, 1, 1, 1, 1), np.float32), (1, 1, 3))
    ours = pooling_ref.max_pool_grad(x3, np.ones((1, 1, 1, 1, 1), np.float32), (1, 1, 3),
                                     tf_kernel=EAGER).ravel()
    assert ours.tolist() == [1, 0, 0]                                         # the rules
    reg.expect("eigen-max-pool3d-nan-by-packet", grad.ravel().tolist() == [0, 0, 1], EAGER,
               f"gradient of [2, NaN, 1]: {grad.ravel().tolist()}")
    reg.skip_other_path("eigen-max-pool3d-zero-sign", EAGER)


# ------------------------------------------------------------------ registry and README


def test_readme_table_is_generated_from_registry():
    """README's table is ``keras_ref.registry_table()`` verbatim (regenerate with
    ``python -m pooling_ref.keras_ref`` between the registry-table markers)."""
    from pathlib import Path

    from pooling_ref.keras_ref import registry_table

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- registry-table:start -->\n", "<!-- registry-table:end -->"
    assert start in readme and end in readme, "README lost the registry-table markers"
    table = readme.split(start, 1)[1].split(end, 1)[0]
    assert table == registry_table(), "README table is stale: regenerate it from the registry"


def test_registry_file_has_no_repeated_key():
    """A merge that joins two entries into one object keeps only the last of each key
    (json.load does not complain): every object of the file has each key once."""
    import json
    from pathlib import Path

    def unique(pairs):
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), f"repeated key in {keys}"
        return dict(pairs)

    path = Path(reg.__file__).resolve().parent.parent / "pooling_ref/data/known_differences.json"
    data = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=unique)
    assert len(data["entries"]) == len(reg.REGISTRY)


def test_registry_entries_are_complete():
    fields = {"id", "kind", "paths", "op", "condition", "tf_gives", "reference_gives",
              "evidence", "test"}
    for entry_id, entry in reg.REGISTRY.items():
        assert fields <= set(entry), (entry_id, fields - set(entry))
        assert entry["kind"] in ("defect", "difference", "unmodelled"), entry_id
        known = {"onednn", "eigen", "xla", "keras-jax", "keras-torch", "onnxruntime", "torch",
                 "litert-builtin", "litert-reference", "litert-xnnpack", "onnx-reference",
                 "onnx-shape-inference", "torch-onnx-legacy", "torch-onnx-dynamo", "tf2onnx",
                 "jax"}
        assert set(entry["paths"]) <= known, entry_id
        for version, paths in entry.get("tf_versions", {}).items():
            assert version.count(".") == 2 and set(paths) <= known, (entry_id, version)
            assert version in entry["evidence"], (entry_id, f"no evidence for TF {version}")


def test_eigen_pool3d_same_negative_pad():
    """Eigen's 3D pooling shifts "same" windows when the stride exceeds the window (registry
    ``eigen-pool3d-same-negative-pad``); hand-derived: the window of output 0 is row 0."""
    x = np.frombuffer(bytes.fromhex("6cbf003e7f4607bebdf2233fdfd5d63da12109bffd22b93e"),
                      np.float32).reshape(1, 1, 3, 2, 1)
    params = {"pool_size": (1, 1, 2), "strides": (1, 3, 1), "padding": "same"}
    assert reg.negative_same_pad(x, params)
    want = np.max(x[0, 0, 0, :, 0])
    assert pooling_ref.max_pool(x, **params, tf_kernel=EAGER).ravel()[0] == want
    keras = keras_ref.pool("Max", x, **params).ravel()[0]
    reg.expect("eigen-pool3d-same-negative-pad", bool(keras != want), EAGER,
               f"Keras gives {keras}, row 0 max is {want}")
    if keras != want:           # the model: windows moved -total // 2 = 1 row into H
        from pooling_ref import known
        from pooling_ref.ops import spec

        for kind, op in (("Max", "max_pool3d"), ("Average", "avg_pool3d")):
            model = known.MODELS["eigen-pool3d-same-negative-pad"](
                spec(op), {"x": x}, params, None, None)
            np.testing.assert_array_equal(model, keras_ref.pool(kind, x, **params))
        assert model.ravel()[0] == np.mean(x[0, 0, 1, :, 0])        # row 1, by hand
    reg.skip_other_path("eigen-pool3d-same-negative-pad", EAGER)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_xla_float64_depthwise_conv_nan_across_channels(rank):
    """Keras ConvND, float64, groups == input channels (registry
    ``xla-float64-depthwise-conv-nan-across-channels``): x = [inf, 1] (two channels of one
    cell), kernel ones, groups 2. Hand-derived grouped convolution: filter 0 reads channel
    0 only (inf * 1 = inf), filter 1 channel 1 only (1 * 1 = 1). Keras compiles grouped
    convolutions with XLA on the CPU whatever the eager path, and XLA's float64 convolution
    gives filter 1 NaN (channel 0's inf times a zero weight). float32 is right (checked
    here too, as is a grouping with two channels per group)."""
    x = np.array([np.inf, 1.0]).reshape(1, *(1,) * rank, 2)
    kernel = np.ones((*(1,) * rank, 1, 2))
    want = [np.inf, 1.0]
    assert pooling_ref.conv(x, kernel, groups=2).ravel().tolist() == want
    assert reg.depthwise_nan_cells(x, kernel, {"groups": 2}).ravel().tolist() == [False, True]
    for path in ("eager", "xla"):               # "eager": Keras runs XLA for groups > 1
        keras = keras_ref.conv(x, kernel, groups=2, path=path).ravel()
        assert keras[0] == np.inf, keras
        reg.expect("xla-float64-depthwise-conv-nan-across-channels", bool(np.isnan(keras[1])),
                   "xla", f"{path} call: Keras gives {keras.tolist()}")
        for dtype in (np.float32,):
            right = keras_ref.conv(x.astype(dtype), kernel.astype(dtype), groups=2, path=path)
            assert right.ravel().tolist() == want, (dtype, right)
    x4 = np.array([np.inf, 1.0, 2.0, 3.0]).reshape(1, *(1,) * rank, 4)     # 2 per group
    assert keras_ref.conv(x4, np.ones((*(1,) * rank, 2, 2)), groups=2).ravel().tolist() == [
        np.inf, 5.0]


@pytest.mark.parametrize("dtype", ["float16", "float64"])
@pytest.mark.parametrize("kind", ["Max", "Average"])
def test_pool3d_float16_float64_no_kernel(kind, dtype):
    """Keras {kind}Pooling3D of ones (1, 4, 4, 4, 2) in float16 / float64: TF has no CPU
    kernel eagerly (NotFoundError / InvalidArgumentError), nor under XLA for float64 max
    pooling (TypeError); the other XLA calls run (registry
    ``pool3d-float16-float64-no-kernel``; check accepts the error there)."""
    from pooling_ref import known
    from pooling_ref.ops import spec

    x = np.ones((1, 4, 4, 4, 2), dtype)
    op = f"{'max' if kind == 'Max' else 'avg'}_pool3d"
    for where, path in (("eager", EAGER), ("xla", "xla")):
        try:
            out, error = keras_ref.pool(kind, x, 2, path=where), None
        except Exception as e:             # the error type is the measurement
            out, error = None, e
        entry = "pool3d-float16-float64-no-kernel"
        if known.RAISES[entry][2](spec(op), {"x": x}, {}, path):   # the entry's condition
            reg.expect(entry, error is not None, path, f"{kind}Pooling3D {dtype} {where}: "
                                                       f"{error!r}")
        else:
            assert error is None, f"{kind}Pooling3D {dtype} {where} raised {error!r}"
        if error is not None:
            text = f"{type(error).__name__}: {error}"
            assert known.raised(spec(op), {"x": x}, {}, text, (path,)) == \
                "pool3d-float16-float64-no-kernel"
        else:
            np.testing.assert_array_equal(out, np.ones((1, 2, 2, 2, 2), dtype))


@pytest.mark.parametrize("rank", [2, 3])
def test_xla_max_pool_padded_scan_order_zero_sign(rank):
    """Keras MaxPooling2D/3D under XLA, pool 2, 'same' (registry
    ``xla-max-pool-padded-scan-order-zero-sign``): x [[-1, 0, 0], [-0, 0, 1]] (H 2, W 3:
    pads (0, 1) on W; 3D: one depth slice). Hand-derived: row-major, window (0, 0) meets
    +0 at (0, 1) first (+0); XLA peels W's last cell and scans (0,0) (1,0) (0,1) (1,1),
    meeting -0 first (-0). Window (0, 1): 0 then 1 (1). The model gives TF's bits; the
    eager paths keep row-major."""
    from pooling_ref import known
    from pooling_ref.ops import spec

    x = np.float32([[-1, 0, 0], [-0.0, 0, 1]]).reshape(1, *(1,) * (rank - 2), 2, 3, 1)
    params = {"pool_size": 2, "padding": "same"}
    row_major = np.float32([0.0, 1.0])
    scanned = np.float32([-0.0, 1.0])
    ref = pooling_ref.max_pool(x, **params, tf_kernel="xla")
    assert np.signbit(ref.ravel()).tolist() == np.signbit(row_major).tolist()
    model = known.MODELS["xla-max-pool-padded-scan-order-zero-sign"](
        spec(f"max_pool{rank}d"), {"x": x}, params, None, ref)
    assert model.ravel().tolist() == scanned.tolist()
    assert np.signbit(model.ravel()).tolist() == [True, False]
    for where, path in (("xla", "xla"), ("eager", EAGER)):
        tf_gives = keras_ref.pool("Max", x, 2, padding="same", path=where).ravel()
        assert tf_gives.tolist() == [0.0, 1.0], tf_gives
        reg.expect("xla-max-pool-padded-scan-order-zero-sign",
                   bool(np.signbit(tf_gives[0])), path, f"{where}: Keras gives {tf_gives!r}")
    reg.skip_other_path("xla-max-pool-padded-scan-order-zero-sign", EAGER)


