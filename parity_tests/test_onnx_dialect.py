"""Parity of :mod:`pooling_ref.dialects.onnx` with onnxruntime (CPU; single-node opset 22
models built with ``onnx.helper``; ``pip install 'pooling-ref[onnx]'``, nox ``-s onnx``).

Randomized attributes (``kernel_shape``, ``strides``, ``dilations``, ``pads`` below the
kernel — onnxruntime's limit — ``auto_pad``, ``ceil_mode``, ``storage_order``,
``count_include_pad``) on inputs with special values: ``MaxPool`` values and ``Indices``
and ``AveragePool`` bitwise, ``LpPool`` and ``GlobalAveragePool`` within the derived bound.
What onnxruntime does differently is a registry entry (path ``onnxruntime``), shown both
ways here: ``SAME_*`` padding sized from the undilated kernel, unclamped ``SAME_*`` padding
with a stride beyond the window, NaN in ``MaxPool`` without ``Indices``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from pooling_ref._verify.dialect import run_onnx_node
from pooling_ref.dialects import onnx as po
from pooling_ref.tolerance import compare, error_bound

from . import _registry as reg
from ._assert import assert_bitwise

PATH = "onnxruntime"
SPECIAL = [np.nan, 0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, 2.5, 1e-40, -3.0]
OPS = {"max_pool": "MaxPool", "average_pool": "AveragePool", "lp_pool": "LpPool",
       "global_max_pool": "GlobalMaxPool", "global_average_pool": "GlobalAveragePool"}


#: One node run by onnxruntime (the runner `pooling-ref verify --dialect onnx` uses).
run_ort = run_onnx_node


def _values(draw, shape, dtype, special=True):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    kinds = ["normal", "special", "ties"] if special else ["normal"]
    kind = draw(st.sampled_from(kinds), label="values")
    if kind == "special":
        x = rng.choice(SPECIAL, size=shape)
    elif kind == "ties":
        x = rng.choice([-1.0, -0.0, 0.0, 1.0], size=shape)
    else:
        x = rng.standard_normal(shape)
    return x.astype(dtype)


def _same_defects(attrs, spatial) -> bool:
    """Whether onnxruntime's SAME_* padding differs from the spec here (registry entries
    onnxruntime-same-dilation-undilated-pad, onnxruntime-same-pad-unclamped)."""
    if attrs.get("auto_pad", "NOTSET") not in ("SAME_UPPER", "SAME_LOWER"):
        return False
    for n, k, s, d in zip(spatial, attrs["kernel_shape"], attrs["strides"],
                          attrs.get("dilations") or [1] * len(spatial)):
        out = -(-n // s)
        if d > 1 or (out - 1) * s + d * (k - 1) + 1 < n:
            return True
    return False


@st.composite
def attributes(draw, *, special=True, dilation=True, dtypes=("float32", "float64")):
    rank = draw(st.integers(1, 3), label="rank")
    kernel = [draw(st.integers(1, 4), label="k") for _ in range(rank)]
    strides = [draw(st.integers(1, 3), label="s") for _ in range(rank)]
    dilations = [draw(st.integers(1, 2), label="d") if dilation else 1 for _ in range(rank)]
    auto_pad = draw(st.sampled_from(["NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER",
                                     "VALID"]), label="auto_pad")
    pads = [draw(st.integers(0, k - 1), label="pad") for k in kernel * 2]
    spatial = []
    for i, (k, d) in enumerate(zip(kernel, dilations)):
        room = pads[i] + pads[i + rank] if auto_pad == "NOTSET" else 0
        spatial.append(max(draw(st.integers(1, 8 if rank < 3 else 5), label="n"),
                           d * (k - 1) + 1 - room))
    attrs = {"kernel_shape": kernel, "strides": strides, "auto_pad": auto_pad,
             "ceil_mode": draw(st.sampled_from([0, 1]), label="ceil_mode")}
    if dilation:
        attrs["dilations"] = dilations
    if auto_pad == "NOTSET":
        attrs["pads"] = pads
    shape = (draw(st.integers(1, 2), label="N"), draw(st.integers(1, 3), label="C"), *spatial)
    dtype = draw(st.sampled_from(dtypes), label="dtype")
    return _values(draw, shape, dtype, special), attrs


def _kw(attrs):
    return {k: v for k, v in attrs.items() if k != "kernel_shape"}


@given(attributes(), st.sampled_from([0, 1]))
def test_max_pool_values_and_indices_match_onnxruntime(case, storage_order):
    x, attrs = case
    assume(not _same_defects(attrs, x.shape[2:]))
    if x.ndim > 3:
        attrs["storage_order"] = storage_order
    y_ort, i_ort = run_ort("MaxPool", x, 2, **attrs)
    y, i = po.max_pool(x, attrs["kernel_shape"], **_kw(attrs))
    assert_bitwise(y, y_ort, op="dialects.onnx.max_pool", params=attrs, arrays={"x": x},
                   what="differs from onnxruntime")
    assert_bitwise(i, i_ort, op="dialects.onnx.max_pool", params=attrs, arrays={"x": x},
                   what="Indices differ from onnxruntime")


@given(attributes(special=False))
def test_max_pool_without_indices_matches_onnxruntime_on_numbers(case):
    """On numbers without ties the kernel without the ``Indices`` output agrees too (NaN
    and the sign of a zero maximum differ: registry onnxruntime-max-pool-nan-without-indices)."""
    x, attrs = case
    assume(not _same_defects(attrs, x.shape[2:]))
    y, _ = po.max_pool(x, attrs["kernel_shape"], **_kw(attrs))
    assert_bitwise(y, run_ort("MaxPool", x, **attrs), op="dialects.onnx.max_pool",
                   params=attrs, arrays={"x": x}, what="differs from onnxruntime")


@given(attributes(dtypes=("float32",)), st.sampled_from([0, 1]))   # no float64 kernel
def test_average_pool_matches_onnxruntime(case, count_include_pad):
    x, attrs = case
    assume(not _same_defects(attrs, x.shape[2:]))
    attrs["count_include_pad"] = count_include_pad
    with np.errstate(invalid="ignore"):
        want = run_ort("AveragePool", x, **attrs)
        got = po.average_pool(x, attrs["kernel_shape"], **_kw(attrs))
    assert_bitwise(got, want, op="dialects.onnx.average_pool", params=attrs,
                   arrays={"x": x}, what="differs from onnxruntime")


@given(attributes(special=False, dilation=False, dtypes=("float32",)),
       st.sampled_from([1, 2, 3]))
def test_lp_pool_within_bound_of_onnxruntime(case, p):
    x, attrs = case
    assume(not _same_defects(attrs, x.shape[2:]))
    want = run_ort("LpPool", x, p=p, **attrs)
    got = po.lp_pool(x, attrs["kernel_shape"], p=p, **_kw(attrs))
    cells = int(np.prod(attrs["kernel_shape"]))
    bound = error_bound(np.abs(got.astype(np.float64)), cells + 2 * p, x.dtype)
    c = compare(got, want, bound)
    assert c.ok, f"{c} attrs {attrs} p {p}"


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_global_pooling_matches_onnxruntime(rank):
    """GlobalMaxPool bitwise on inputs without NaN and zeros (those are picked by packet:
    registry onnxruntime-global-max-pool-by-packet); GlobalAveragePool within the bound."""
    rng = np.random.default_rng(rank)
    x = rng.choice([1.0, -1.0, np.inf, -np.inf, 2.5, 1e-40, -3.0],
                   size=(2, 3, *(5,) * rank)).astype(np.float32)
    x[0, 0] = -np.inf                                   # a channel without a number
    assert_bitwise(po.global_max_pool(x), run_ort("GlobalMaxPool", x),
                   op="dialects.onnx.global_max_pool", params={}, arrays={"x": x},
                   what="differs from onnxruntime")
    y = (rng.standard_normal(x.shape) * 100).astype(np.float32)
    got, want = po.global_average_pool(y), run_ort("GlobalAveragePool", y)
    bound = error_bound(po.global_average_pool(np.abs(y).astype(np.float64)), 5 ** rank,
                        np.dtype(np.float32))
    c = compare(got, want, bound)
    assert c.ok, str(c)


def test_global_max_pool_nan_and_zero_sign_by_packet():
    """A channel of only NaN: the lowest finite value in 1D (as pooling_ref, max pooling's
    rule), NaN over 12 cells; the sign of a zero maximum flips with the layout."""
    one = np.full((1, 1, 3), np.nan, np.float32)
    assert_bitwise(po.global_max_pool(one), run_ort("GlobalMaxPool", one),
                   op="dialects.onnx.global_max_pool", params={}, arrays={"x": one})
    many = np.full((1, 1, 2, 6), np.nan, np.float32)
    got = run_ort("GlobalMaxPool", many)
    reg.expect("onnxruntime-global-max-pool-by-packet", bool(np.isnan(got).all()), PATH,
               f"onnxruntime gives {got.ravel().tolist()} for 12 NaN cells")
    reg.skip_other_path("onnxruntime-global-max-pool-by-packet", PATH)


# ----------------------------------------------------------------------------- registry


def test_same_padding_with_dilation_is_sized_from_the_undilated_kernel():
    """L = 7, k = 3, d = 2, stride 1, SAME_UPPER: the spec (and pooling_ref) pad 4 cells
    (2, 2) and give 7 outputs; onnxruntime pads from the raw kernel and gives 5."""
    x = np.arange(1, 8, dtype=np.float32).reshape(1, 1, 7)
    attrs = {"kernel_shape": [3], "dilations": [2], "auto_pad": "SAME_UPPER"}
    y, _ = po.max_pool(x, [3], dilations=[2], auto_pad="SAME_UPPER")
    assert y.ravel().tolist() == [3, 4, 5, 6, 7, 6, 7]               # hand-derived
    got = run_ort("MaxPool", x, **attrs)
    reg.expect("onnxruntime-same-dilation-undilated-pad", got.shape != y.shape, PATH,
               f"onnxruntime shape {got.shape}")
    reg.skip_other_path("onnxruntime-same-dilation-undilated-pad", PATH)


def test_same_padding_is_not_clamped_for_a_stride_beyond_the_window():
    """k=1, s=3 on [0..5]: total pad (2-1)*3 + 1 - 6 = -2 -> clamped to 0 by the spec's
    ceil(L/s) and TF (windows at 0 and 3: [0, 3]); onnxruntime shifts them under
    SAME_UPPER (MaxPool with Indices, AveragePool) or fails (MaxPool without Indices)."""
    x = np.arange(6, dtype=np.float32).reshape(1, 1, 6)
    attrs = {"kernel_shape": [1], "strides": [3], "auto_pad": "SAME_UPPER"}
    want = po.max_pool(x, [1], strides=[3], auto_pad="SAME_UPPER")[0]
    assert want.ravel().tolist() == [0, 3]
    assert po.average_pool(x, [1], strides=[3], auto_pad="SAME_UPPER").ravel().tolist() \
        == [0, 3]
    shifted = [run_ort("MaxPool", x, 2, **attrs)[0].ravel().tolist(),
               run_ort("AveragePool", x, **attrs).ravel().tolist()]
    try:
        run_ort("MaxPool", x, **attrs)
        failed = False
    except Exception as e:               # onnxruntime's RuntimeException
        failed = "padding values must be non-negative" in str(e)
    reg.expect("onnxruntime-same-pad-unclamped", shifted != [[0, 3], [0, 3]] and failed,
               PATH, f"onnxruntime gives {shifted}, without Indices fails: {failed}")
    reg.skip_other_path("onnxruntime-same-pad-unclamped", PATH)


def test_max_pool_without_indices_ignores_nan_by_position():
    """Without the Indices output onnxruntime's MaxPool skips NaN in some windows and not
    in others of the same row (2D, stride 1: the vectorised kernel); with Indices it is
    the scan of pooling_ref.dialects.onnx.max_pool."""
    x = np.float32([np.nan, 1, 2, np.nan, 5, np.nan, np.nan, np.nan, 3]).reshape(1, 1, 1, 9)
    want, _ = po.max_pool(x, [1, 3])
    got = run_ort("MaxPool", x, kernel_shape=[1, 3])
    with_indices = run_ort("MaxPool", x, 2, kernel_shape=[1, 3])[0]
    assert_bitwise(want, with_indices, op="dialects.onnx.max_pool", params={},
                   arrays={"x": x}, what="differs from onnxruntime with Indices")
    differs = not compare(got, want).ok
    reg.expect("onnxruntime-max-pool-nan-without-indices", differs, PATH,
               f"onnxruntime gives {got.ravel().tolist()}, with Indices "
               f"{with_indices.ravel().tolist()}")
    reg.skip_other_path("onnxruntime-max-pool-nan-without-indices", PATH)


def test_valid_window_larger_than_the_input_truncates_the_output_size():
    """VALID, L = 4, window 5 (or k = 3 with d = 2), stride 2: the spec's floor((L - keff) /
    s) + 1 is 0 outputs; onnxruntime truncates the negative quotient toward zero and
    returns one window running past the input (MaxPool of [0..3] -> 3, AveragePool -> 1.5,
    the mean of the real cells); with stride 1 it returns an empty output. pooling_ref
    raises the clear error instead (as for Keras)."""
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 4)
    with pytest.raises(ValueError, match="kernel_shape"):
        po.max_pool(x, [5], strides=[2], auto_pad="VALID")
    with pytest.raises(ValueError, match="kernel_shape"):
        po.average_pool(x, [3], strides=[2], dilations=[2], auto_pad="VALID")
    got = [run_ort("MaxPool", x, kernel_shape=[5], strides=[2], auto_pad="VALID").ravel(),
           run_ort("AveragePool", x, kernel_shape=[5], strides=[2], auto_pad="VALID").ravel()]
    empty = run_ort("MaxPool", x, kernel_shape=[5], strides=[1], auto_pad="VALID")
    reg.expect("onnxruntime-valid-window-larger-one-output",
               [g.tolist() for g in got] == [[3.0], [1.5]] and empty.size == 0, PATH,
               f"onnxruntime gives {got}, stride 1: shape {empty.shape}")
    reg.skip_other_path("onnxruntime-valid-window-larger-one-output", PATH)


# ----------------------------------------------------------------------------- the oracle


@pytest.mark.parametrize(("op", "node", "outputs"), [("onnx.max_pool", "MaxPool", 2),
                                                     ("onnx.average_pool", "AveragePool", 1)])
def test_check_accepts_onnxruntime_itself(op, node, outputs):
    """onnxruntime's own operator passes the oracle of its dialect with default arguments;
    where it follows its registered SAME_* padding (pads from the raw kernel) the report
    names that entry: what check accepts there is onnxruntime's known behaviour."""
    import pooling_ref

    def candidate(x, kernel_shape, **attrs):
        return run_ort(node, x, outputs, kernel_shape=list(kernel_shape), **attrs)

    report = pooling_ref.check(candidate, op, cases=300, timeout=None)
    assert report.passed and report.cases == 300, str(report)
    assert set(report.known) == {"onnxruntime-same-dilation-undilated-pad"}, report.known
    assert "onnxruntime's known differences reproduced (accepted)" in str(report)
