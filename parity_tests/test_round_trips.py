"""Round trips to ONNX: a pooling layer exported to an ``.onnx`` file and run by
onnxruntime (CPU) against the model's intended semantics (nox ``-s round_trips``; each part
skips without its packages, naming them).

* torch -> ONNX with ``torch.onnx.export``, both exporters (legacy ``dynamo=False``; dynamo,
  which needs onnxscript), default opset: a grid of ``MaxPool1d/2d/3d`` and
  ``AvgPool1d/2d/3d`` configurations (padding, dilation, ``ceil_mode`` where the drop rule
  and the overhang matter, ``count_include_pad``, ``divisor_override``, ``return_indices``)
  on normal numbers, special values and ties, compared with
  :mod:`pooling_ref.dialects.torch`: max pooling and indices bitwise, average pooling within
  the derived bound; the exported node's attributes read back with ``onnx`` and compared
  with what the torch arguments map to.
* Keras -> ONNX with tf2onnx (``from_function``): ``MaxPooling`` / ``AveragePooling`` 1D /
  2D, ``"same"`` and ``"valid"``, against pooling_ref's Keras reference.

Every difference is a registry entry, shown both ways here: the exporters drop
``divisor_override`` (``torch-onnx-export-divisor-override-dropped``); the exported max
pooling does not propagate NaN (``torch-onnx-export-max-pool-nan``); onnxruntime's MaxPool
without Indices gives -3.4e38 for a window of only -inf
(``onnxruntime-max-pool-minus-inf-window-lowest``); onnxruntime's AveragePool kernel of
opsets <= 18 (tf2onnx's newest) sums in another order (``onnxruntime-average-pool-opset18-
order``); Keras's special-value rules do not survive tf2onnx (``tf2onnx-keras-special-
values``).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from pooling_ref import max_pool, same_pads
from pooling_ref.dialects import onnx as po
from pooling_ref.dialects import torch as pt
from pooling_ref.model_check import onnx as onnx_check
from pooling_ref.pooling import avg_pool
from pooling_ref.tolerance import avg_pool_bound, compare, error_bound

from . import _exporters as ex
from . import _registry as reg
from ._assert import assert_bitwise
from .test_onnx_dialect import run_ort

if os.environ.get("POOLING_REF_REQUIRE_ROUND_TRIPS") == "1":
    import onnxruntime  # noqa: F401 - nox -s round_trips: a missing package fails the run
pytest.importorskip("onnxruntime", reason="pip install '.[round_trips]' (onnxruntime)")
pytest.importorskip("onnx", reason="pip install '.[round_trips]' (onnx)")

pytestmark = pytest.mark.round_trips

F = np.float32
LOWEST = np.finfo(F).min
NUMBERS = [0.0, 1.0, -1.0, np.inf, 2.5, -3.0]     # no NaN, -0, -inf, subnormal (entries)
SPECIAL = [np.nan, 0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, 2.5, 1e-40, -3.0]


def _needs_torch(exporter: str):
    """torch (and, for the dynamo exporter, onnxscript), else a skip naming the package."""
    torch = pytest.importorskip("torch", reason="pip install torch==2.13.0 (CPU wheel)")
    if ex.TORCH_EXPORTERS[exporter]:
        pytest.importorskip("onnxscript", reason="the dynamo exporter needs onnxscript")
    return torch


def _inputs(shape: tuple[int, ...], seed: int, special: list[float]) -> dict[str, np.ndarray]:
    """Normal numbers, the ``special`` values, and ties of +-1 (random, reproducible)."""
    rng = np.random.default_rng(seed)
    return {"normal": rng.standard_normal(shape).astype(F),
            "special": rng.choice(special, size=shape).astype(F),
            "ties": rng.choice([-1.0, 0.0, 1.0], size=shape).astype(F)}


# ------------------------------------------------------------------- torch: configurations

#: (rank, torch arguments, spatial size): padding up to torch's limit (half the kernel),
#: dilation, a ceil window that would start in the padding (dropped: 9, k4 s4 p2 -> 3), a
#: ceil overhang past the padded input, non-square windows, indices.
MAX_CONFIGS = [
    (1, {"kernel_size": 3, "stride": 2, "padding": 1}, (9,)),
    (1, {"kernel_size": 4, "stride": 4, "padding": 2, "ceil_mode": True}, (9,)),
    (1, {"kernel_size": 2, "stride": 3, "dilation": 2, "ceil_mode": True}, (8,)),
    (2, {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)},
     (7, 6)),
    (2, {"kernel_size": 4, "stride": 4, "padding": 2, "ceil_mode": True}, (9, 9)),
    (2, {"kernel_size": 3, "stride": 2, "ceil_mode": True}, (8, 7)),
    (3, {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True}, (5, 4, 5)),
    (3, {"kernel_size": (3, 2, 2), "stride": (2, 2, 1), "dilation": (2, 1, 1)}, (7, 4, 3)),
    (1, {"kernel_size": 3, "stride": 1, "padding": 1, "return_indices": True}, (7,)),
    (2, {"kernel_size": 3, "stride": 2, "padding": 1, "return_indices": True}, (7, 8)),
    (2, {"kernel_size": 2, "stride": 2, "ceil_mode": True, "return_indices": True}, (5, 5)),
    (3, {"kernel_size": 2, "stride": (1, 2, 2), "dilation": (1, 1, 2),
         "return_indices": True}, (3, 4, 6)),
]

#: count_include_pad (torch's default True) with padding and a ceil overhang (the count
#: stops at the padded input), the real count, the drop rule.
AVG_CONFIGS = [
    (1, {"kernel_size": 3, "stride": 2, "padding": 1}, (9,)),
    (1, {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}, (9,)),
    (1, {"kernel_size": 4, "stride": 4, "padding": 2, "ceil_mode": True}, (9,)),
    (1, {"kernel_size": 4, "stride": 4, "ceil_mode": True, "count_include_pad": False}, (5,)),
    (2, {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, (8, 8)),
    (2, {"kernel_size": 4, "stride": 4, "padding": 2, "ceil_mode": True}, (9, 9)),
    (2, {"kernel_size": (3, 2), "stride": 2, "padding": 1, "count_include_pad": False},
     (7, 6)),
    (3, {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True}, (5, 4, 5)),
    (3, {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
     (5, 6, 5)),
]

#: divisor_override (AvgPool2d / 3d only) where it differs from every other divisor rule.
DIVISOR_CONFIGS = [
    (2, {"kernel_size": 2, "divisor_override": 3}, (4, 4)),
    (2, {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True,
         "divisor_override": 5}, (8, 8)),
    (3, {"kernel_size": 2, "count_include_pad": False, "divisor_override": 7}, (4, 4, 4)),
]


def _ids(configs):
    return [f"{r}d-" + "-".join(f"{k}={v}" for k, v in a.items()).replace(" ", "")
            for r, a, _ in configs]


def _module(torch, kind: str, rank: int, args: dict):
    return getattr(torch.nn, f"{kind}Pool{rank}d")(**args)


def _expected_attributes(kind: str, rank: int, args: dict) -> dict:
    """What torch's arguments map to in ONNX (opset 22 names, defaults filled in); a
    ``divisor_override`` has no ONNX attribute: the intended node would need another
    graph (a sum times a constant)."""
    kernel = tuple(np.broadcast_to(args["kernel_size"], (rank,)).tolist())
    stride = args.get("stride")
    pads = tuple(np.broadcast_to(args.get("padding", 0), (rank,)).tolist())
    attrs = {"kernel_shape": kernel, "auto_pad": "NOTSET",
             "strides": kernel if stride is None else
             tuple(np.broadcast_to(stride, (rank,)).tolist()),
             "pads": pads * 2, "ceil_mode": int(args.get("ceil_mode", False)),
             "dilations": tuple(np.broadcast_to(args.get("dilation", 1), (rank,)).tolist())}
    if kind == "Max":
        attrs["storage_order"] = 0
    else:
        attrs["count_include_pad"] = int(args.get("count_include_pad", True))
    return attrs


def _check_attributes(proto, kind: str, rank: int, args: dict) -> None:
    nodes = ex.pool_nodes(proto)
    assert nodes and nodes[0].op_type == f"{kind}Pool".replace("AvgPool", "AveragePool"), \
        [n.op_type for n in proto.graph.node]
    got = ex.pool_attributes(nodes[0], rank)
    assert got == _expected_attributes(kind, rank, args), (args, got)


def _minus_inf_windows_lowest(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """``want`` with the cells of a window of only -inf taken from ``got`` where
    onnxruntime gives -3.4e38 there (registry onnxruntime-max-pool-minus-inf-window-lowest,
    shown by test_onnxruntime_max_pool_minus_inf_window): nothing else is relaxed."""
    if not reg.applies("onnxruntime-max-pool-minus-inf-window-lowest", "onnxruntime"):
        return want
    return np.where((want == -np.inf) & (got == LOWEST), got, want).astype(want.dtype)


# ----------------------------------------------------------------------------- torch: grid


@pytest.mark.parametrize("exporter", list(ex.TORCH_EXPORTERS))
@pytest.mark.parametrize(("rank", "args", "spatial"), MAX_CONFIGS, ids=_ids(MAX_CONFIGS))
def test_torch_max_pool_round_trip(rank, args, spatial, exporter):
    """Values (and indices) of the exported MaxPool bitwise equal to dialects.torch on
    numbers, special values without NaN (test_torch_max_pool_nan_not_propagated) and ties."""
    torch = _needs_torch(exporter)
    shape = (2, 3, *spatial)
    reference = getattr(pt, f"max_pool{rank}d")
    proto = ex.torch_export(_module(torch, "Max", rank, args), np.zeros(shape, F), exporter)
    _check_attributes(proto, "Max", rank, args)
    special = NUMBERS + ([-0.0, -np.inf] if args.get("return_indices") else [-np.inf])
    for kind, x in _inputs(shape, rank, special).items():
        got, want = ex.run(proto, x), reference(x, **args)
        want = want if isinstance(want, tuple) else (want,)
        if not args.get("return_indices"):
            want = (_minus_inf_windows_lowest(got[0], want[0]),)
        assert len(got) == len(want)
        for g, w, what in zip(got, want, ("values", "indices")):
            assert_bitwise(g, w, op=f"{exporter} MaxPool{rank}d", params=args,
                           arrays={"x": x}, what=f"{what} ({kind} input) differ from "
                           f"dialects.torch after the round trip")


def _avg_bound(reference, x: np.ndarray, args: dict, rank: int) -> np.ndarray:
    """The derived bound of an average: a sum of prod(kernel) cells and one division."""
    with np.errstate(invalid="ignore"):
        mag = reference(np.abs(x).astype(np.float64), **args)
    terms = int(np.prod(np.broadcast_to(args["kernel_size"], (rank,)))) + 1
    return error_bound(mag, terms, np.dtype(F))


@pytest.mark.parametrize("exporter", list(ex.TORCH_EXPORTERS))
@pytest.mark.parametrize(("rank", "args", "spatial"), AVG_CONFIGS, ids=_ids(AVG_CONFIGS))
def test_torch_avg_pool_round_trip(rank, args, spatial, exporter):
    """The exported AveragePool within the derived bound of dialects.torch (NaN and
    infinities at the same cells), special values with NaN included."""
    torch = _needs_torch(exporter)
    shape = (2, 3, *spatial)
    reference = getattr(pt, f"avg_pool{rank}d")
    proto = ex.torch_export(_module(torch, "Avg", rank, args), np.zeros(shape, F), exporter)
    _check_attributes(proto, "Avg", rank, args)
    for kind, x in _inputs(shape, 10 + rank, SPECIAL).items():
        with np.errstate(invalid="ignore"):
            got, want = ex.run(proto, x)[0], reference(x, **args)
        c = compare(got, want, _avg_bound(reference, x, args, rank))
        assert c.ok, f"{exporter} AvgPool{rank}d {args} ({kind} input): {c}"


# ------------------------------------------------------------------- torch: the registry


@pytest.mark.parametrize("exporter", list(ex.TORCH_EXPORTERS))
@pytest.mark.parametrize(("rank", "args", "spatial"), DIVISOR_CONFIGS,
                         ids=_ids(DIVISOR_CONFIGS))
def test_torch_divisor_override_dropped(rank, args, spatial, exporter):
    """Registry torch-onnx-export-divisor-override-dropped: the exported node is the one of
    the same arguments without ``divisor_override`` (``count_include_pad`` as given; no
    trace of the override in the file), and onnxruntime's result is that average, not the
    intended one."""
    torch = _needs_torch(exporter)
    shape = (1, 2, *spatial)
    reference = getattr(pt, f"avg_pool{rank}d")
    dropped = {k: v for k, v in args.items() if k != "divisor_override"}
    proto = ex.torch_export(_module(torch, "Avg", rank, args), np.zeros(shape, F), exporter)
    _check_attributes(proto, "Avg", rank, dropped)
    x = _inputs(shape, 20 + rank, SPECIAL)["normal"]
    got, want = ex.run(proto, x)[0], reference(x, **args)
    assert not compare(reference(x, **dropped), want, _avg_bound(reference, x, args, rank)).ok
    differs = not compare(got, want, _avg_bound(reference, x, args, rank)).ok
    wrong = int(np.sum(got != want))
    reg.expect("torch-onnx-export-divisor-override-dropped", differs, exporter,
               f"{wrong} of {got.size} values differ")
    reg.skip_other_path("torch-onnx-export-divisor-override-dropped", exporter)
    c = compare(got, reference(x, **dropped), _avg_bound(reference, x, dropped, rank))
    assert c.ok, f"the model of the entry (divisor_override dropped): {c}"


@pytest.mark.parametrize("exporter", list(ex.TORCH_EXPORTERS))
def test_torch_divisor_override_by_hand(exporter):
    """[[0..3], ..., [12..15]], AvgPool2d(2, divisor_override=3): window sums 10, 18, 42,
    50 over 3 -> [3.33, 6, 14, 16.67]; the exported model divides by 4: 4 of 4 wrong."""
    torch = _needs_torch(exporter)
    x = np.arange(16, dtype=F).reshape(1, 1, 4, 4)
    want = np.float32([10, 18, 42, 50]) / F(3)
    module = torch.nn.AvgPool2d(2, divisor_override=3)
    assert module(torch.from_numpy(x)).numpy().ravel().tolist() == want.tolist()
    assert pt.avg_pool2d(x, 2, divisor_override=3).ravel().tolist() == want.tolist()
    got = ex.run(ex.torch_export(module, x, exporter), x)[0].ravel()
    reg.expect("torch-onnx-export-divisor-override-dropped", got.tolist() != want.tolist(),
               exporter, f"the exported model gives {got.tolist()}")
    reg.skip_other_path("torch-onnx-export-divisor-override-dropped", exporter)
    assert got.tolist() == [2.5, 4.5, 10.5, 12.5]                     # the sums over 4


@pytest.mark.parametrize("exporter", list(ex.TORCH_EXPORTERS))
@pytest.mark.parametrize("indices", [False, True])
def test_torch_max_pool_nan_not_propagated(exporter, indices):
    """Registry torch-onnx-export-max-pool-nan: torch's max of [1, nan, 2] is NaN; the
    exported MaxPool (with or without the Indices output) gives 2 in onnxruntime."""
    torch = _needs_torch(exporter)
    x = np.float32([[[1, np.nan, 2, 0, 5, np.nan]]])
    module = torch.nn.MaxPool1d(3, return_indices=indices)
    out = module(torch.from_numpy(x))
    torch_values = (out[0] if indices else out).numpy()
    want = pt.max_pool1d(x, 3, return_indices=indices)
    want = want[0] if indices else want
    assert_bitwise(want, torch_values, op="dialects.torch.max_pool1d", params={},
                   arrays={"x": x}, what="differs from torch")
    assert np.isnan(want).all()                                        # hand-derived
    got = ex.run(ex.torch_export(module, x, exporter), x)[0]
    reg.expect("torch-onnx-export-max-pool-nan", not np.isnan(got).all(), exporter,
               f"onnxruntime gives {got.ravel().tolist()}")
    reg.skip_other_path("torch-onnx-export-max-pool-nan", exporter)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_onnxruntime_max_pool_minus_inf_window(rank):
    """Registry onnxruntime-max-pool-minus-inf-window-lowest: kernel 1 (1D: 3), stride 3
    over [-inf, -inf, -inf, 1, 1, 1] on the last axis: the spec (and torch, and MaxPool
    with Indices) give [-inf, 1]; onnxruntime's MaxPool without Indices gives -3.4e38 for
    the window of only -inf (in 1D, 2D and 3D at this stride)."""
    x = np.float32([-np.inf] * 3 + [1.0] * 3).reshape((1, 1) + (1,) * (rank - 1) + (6,))
    kernel = [1] * (rank - 1) + [3]
    strides = [1] * (rank - 1) + [3]
    want, _ = po.max_pool(x, kernel, strides=strides)
    assert want.ravel().tolist() == [-np.inf, 1.0]
    with_indices = run_ort("MaxPool", x, 2, kernel_shape=kernel, strides=strides)[0]
    assert with_indices.ravel().tolist() == [-np.inf, 1.0]
    got = run_ort("MaxPool", x, kernel_shape=kernel, strides=strides).ravel()
    reg.expect("onnxruntime-max-pool-minus-inf-window-lowest", got[0] == LOWEST,
               "onnxruntime", f"onnxruntime gives {got.tolist()}")
    reg.skip_other_path("onnxruntime-max-pool-minus-inf-window-lowest", "onnxruntime")
    assert got.tolist() == [float(LOWEST), 1.0]


def test_onnxruntime_average_pool_opset18_order():
    """Registry onnxruntime-average-pool-opset18-order: the same exported AvgPool2d(3, 2)
    within the bound at opset 17 and 20, bitwise equal to dialects.torch only at 20 (the
    AveragePool kernel of opsets 19+ sums in row-major order)."""
    torch = _needs_torch("torch-onnx-legacy")
    x = _inputs((1, 5, 6, 6), 3, NUMBERS)["normal"]
    module = torch.nn.AvgPool2d(3, 2)
    want = pt.avg_pool2d(x, 3, 2)
    bitwise = {}
    for opset in (17, 20):
        proto = ex.torch_export(module, x, "torch-onnx-legacy", opset=opset)
        assert ex.default_opset(proto) == opset
        got = ex.run(proto, x)[0]
        c = compare(got, want, _avg_bound(pt.avg_pool2d, x, {"kernel_size": 3}, 2))
        assert c.ok, f"opset {opset}: {c}"
        bitwise[opset] = compare(got, want).ok
    assert bitwise[20], "opset 20 is bitwise in onnxruntime 1.32"
    reg.expect("onnxruntime-average-pool-opset18-order", not bitwise[17], "onnxruntime",
               f"bitwise at opset 17: {bitwise[17]}")
    reg.skip_other_path("onnxruntime-average-pool-opset18-order", "onnxruntime")


# --------------------------------------------------------------------- Keras -> tf2onnx

#: (kind, rank, input shape (channels_last), pool_size, strides): odd and even "same"
#: totals, a stride larger than the window, non-square windows, one channel (tf2onnx
#: reshapes instead of transposing).
KERAS_CONFIGS = [
    ("Max", 1, (2, 9, 3), 3, 2), ("Max", 1, (1, 8, 2), 2, 1),
    ("Max", 2, (2, 8, 9, 3), (3, 2), (2, 2)), ("Max", 2, (1, 7, 7, 2), 4, 2),
    ("Max", 2, (1, 5, 5, 1), 2, 3),
    ("Average", 1, (2, 9, 3), 3, 2), ("Average", 1, (1, 8, 2), 2, 1),
    ("Average", 2, (2, 8, 9, 3), (3, 2), (2, 2)), ("Average", 2, (1, 7, 7, 2), 4, 2),
    ("Average", 2, (1, 5, 5, 1), 2, 3),
]


def _needs_tf2onnx():
    pytest.importorskip("tf2onnx", reason="pip install tf2onnx")
    return pytest.importorskip("keras", reason="pip install '.[tf]'")


def _keras_attributes(rank: int, shape, pool, strides, padding: str) -> dict:
    """The ONNX node a Keras layer should become (tf2onnx runs 1D pooling as 2D with a
    window of height 1): explicit pads = pooling_ref.same_pads, real-cell divisor."""
    spatial = shape[1:-1]
    pool = tuple(np.broadcast_to(pool, (rank,)).tolist())
    strides = tuple(np.broadcast_to(strides, (rank,)).tolist())
    pairs = [same_pads(n, k, s) if padding == "same" else (0, 0)
             for n, k, s in zip(spatial, pool, strides)]
    if rank == 1:
        pool, strides, pairs = (1, *pool), (1, *strides), [(0, 0), *pairs]
    return {"kernel_shape": pool, "strides": strides, "auto_pad": "NOTSET",
            "pads": tuple(p[0] for p in pairs) + tuple(p[1] for p in pairs),
            "ceil_mode": 0, "dilations": (1,) * len(pool)}


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize(("kind", "rank", "shape", "pool", "strides"), KERAS_CONFIGS)
def test_keras_round_trip(kind, rank, shape, pool, strides, padding):
    """tf2onnx's model in onnxruntime against pooling_ref's Keras reference: max pooling
    bitwise, average within the derived bound (tf2onnx's opset <= 18: registry
    onnxruntime-average-pool-opset18-order), on numbers and special values Keras and
    onnxruntime agree on (the others: test_keras_special_values_after_tf2onnx)."""
    keras = _needs_tf2onnx()
    layer = getattr(keras.layers, f"{kind}Pooling{rank}D")(pool, strides, padding)
    proto = ex.keras_export(layer, shape)
    node = ex.pool_nodes(proto)
    assert [n.op_type for n in node] == ["MaxPool" if kind == "Max" else "AveragePool"]
    want_attrs = _keras_attributes(rank, shape, pool, strides, padding)
    if kind == "Max":
        want_attrs["storage_order"] = 0
    else:
        want_attrs["count_include_pad"] = 0
    assert ex.pool_attributes(node[0], max(rank, 2)) == want_attrs
    for values, x in _inputs(shape, rank, NUMBERS).items():
        got = ex.run(proto, x)[0]
        if kind == "Max":
            assert_bitwise(got, max_pool(x, pool, strides, padding), op=f"tf2onnx {kind}",
                           params={"pool_size": pool, "strides": strides,
                                   "padding": padding}, arrays={"x": x},
                           what=f"({values} input) differs from Keras after tf2onnx")
        else:
            bound = avg_pool_bound(x, pool, strides=strides, padding=padding)
            c = compare(got, avg_pool(x, pool, strides, padding), bound)
            assert c.ok, f"tf2onnx {kind}{rank}D {pool} {strides} {padding} ({values}): {c}"


def test_keras_special_values_after_tf2onnx():
    """Registry tf2onnx-keras-special-values, hand-derived: Keras (TF's CPU kernels) flushes
    the subnormal average of [1e-40, 1e-40] to 0 and, for MaxPooling2D((1, 2), strides=1)
    over [-inf, -inf, nan, 1], drops the NaN and gives -3.4e38 for the windows without a
    number: [-3.4e38, -3.4e38, 1]; the converted model keeps 1e-40 and gives [-inf, nan, 1]."""
    keras = _needs_tf2onnx()
    avg = keras.layers.AveragePooling1D(2)
    tiny = np.full((1, 2, 1), 1e-40, F)
    mx = keras.layers.MaxPooling2D((1, 2), strides=1)
    x = np.float32([-np.inf, -np.inf, np.nan, 1.0]).reshape(1, 1, 4, 1)
    want = [np.float32([0.0]), np.float32([LOWEST, LOWEST, 1.0])]
    keras_values = [np.asarray(avg(tiny)).ravel(), np.asarray(mx(x)).ravel()]
    reference = [avg_pool(tiny, 2).ravel(), max_pool(x, (1, 2), 1).ravel()]
    for w, k, r in zip(want, keras_values, reference):
        assert_bitwise(k, w, op="Keras", params={}, arrays={"x": x}, what="hand-derived")
        assert_bitwise(r, w, op="pooling_ref", params={}, arrays={"x": x}, what="Keras's")
    onnx_values = [ex.run(ex.keras_export(avg, tiny.shape), tiny)[0].ravel(),
                   ex.run(ex.keras_export(mx, x.shape), x)[0].ravel()]
    differs = [not compare(o, w).ok for o, w in zip(onnx_values, want)]
    reg.expect("tf2onnx-keras-special-values", all(differs), "tf2onnx",
               f"onnxruntime gives {[o.tolist() for o in onnx_values]} ({differs})")
    reg.skip_other_path("tf2onnx-keras-special-values", "tf2onnx")
    assert_bitwise(onnx_values[0], tiny[0, :1, 0], op="tf2onnx", params={}, arrays={},
                   what="subnormal average")
    assert_bitwise(onnx_values[1], np.float32([-np.inf, np.nan, 1.0]), op="tf2onnx",
                   params={}, arrays={"x": x}, what="max of -inf and NaN windows")


# ------------------------------------------------------- the exported file, node by node


@pytest.mark.parametrize("exporter", list(ex.TORCH_EXPORTERS))
def test_model_check_cannot_see_the_dropped_divisor(exporter, tmp_path):
    """The file exported from AvgPool2d(3, 2, 1, divisor_override=5) holds the same pooling
    node as the one from AvgPool2d(3, 2, 1) (nothing in the file tells them apart, so
    model_check.onnx cannot name the registry entry without guessing), and the node check
    with dialects.onnx.average_pool as reference says "match": the node is
    self-consistent; the round trip above is what catches the drop."""
    torch = _needs_torch(exporter)
    x = _inputs((1, 2, 7, 7), 4, NUMBERS)["normal"]
    with_override = ex.torch_export(torch.nn.AvgPool2d(3, 2, 1, divisor_override=5), x,
                                    exporter)
    plain = ex.torch_export(torch.nn.AvgPool2d(3, 2, 1), x, exporter)
    pools = [ex.pool_nodes(p) for p in (with_override, plain)]
    assert [len(p) for p in pools] == [1, 1]
    assert ex.pool_attributes(pools[0][0], 2) == ex.pool_attributes(pools[1][0], 2)
    path = tmp_path / "avg.onnx"
    path.write_bytes(with_override.SerializeToString())
    results = onnx_check.check_model(str(path), x, references={
        "AveragePool": po.average_pool})
    assert [(r.op, r.verdict, r.worst) for r in results] == [("AveragePool", "match", 0.0)]
    assert not compare(ex.run(with_override, x)[0],
                       pt.avg_pool2d(x, 3, 2, 1, divisor_override=5)).ok
