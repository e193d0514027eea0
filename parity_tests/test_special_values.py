"""Special values (NaN, ±inf, ±0, largest finite, subnormals) against Keras, bit for bit.

Inputs are drawn deliberately from a mix of special values and ordinary numbers, in every
float dtype TF has a CPU kernel for. Expected values come from Keras (``pooling_ref.keras_ref``).

* max / avg pooling, zero padding, global max: **bitwise** (NaN positions, sign of zero).
* convolution, global average: NaN and ±inf positions and values **exactly**, finite values
  within the documented error bound (``pooling_ref.tolerance``).

**Kernel paths.** Pooling is compared with ``tf_kernel=detect_tf_kernel(dtype)``: the rules
of the running TF path (subnormal flushing, the value of a window without a number) are
modelled by :mod:`pooling_ref.rules`; global pooling too, on the eager path and under
XLA (``path`` parametrization), where a zero global maximum's sign (and, eagerly, a
subnormal one) is left to TF (registry ``global-max-zero-sign-and-subnormal-tail``).
Subnormal flushing of conv is not modelled: it is registry entry
``subnormal-flush-conv-global``; the tests compare Keras with ``ftz(pooling_ref(daz(x)))``
there and ``test_subnormals_known_difference`` asserts the entry (and that pooling_ref keeps
IEEE subnormals for conv).
"""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pooling_ref as pr
from parity_tests import _registry as reg
from parity_tests._assert import assert_bitwise
from pooling_ref import keras_ref, rules
from pooling_ref.dtypes import finfo, flush_subnormals
from pooling_ref.tolerance import compare, error_bound, unspecified_global_max

pytestmark = pytest.mark.parity

keras_ref.require_tf()

BF16 = np.dtype(ml_dtypes.bfloat16)
FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64), BF16)
# MaxPool3D / AvgPool3D have no float16 / float64 CPU kernel in TF (float32 and bfloat16 only).
POOL3D_FLOATS = (np.dtype(np.float32), BF16)

_FLUSH_ENTRY = reg.REGISTRY["subnormal-flush-conv-global"]


def flushes(op: str, dtype: np.dtype) -> bool:
    """Whether TF flushes subnormals in (not-modelled) ``op`` for ``dtype`` (the registry)."""
    return op == "conv" and np.dtype(dtype).name in _FLUSH_ENTRY["dtypes"]


def specials(dtype: np.dtype) -> list[float]:
    """The special values of ``dtype``, as float64 numbers exactly representable in it."""
    fi = finfo(dtype)
    big, tiny, sub = float(fi.max), float(fi.tiny), float(fi.smallest_subnormal)
    return [math.nan, math.inf, -math.inf, 0.0, -0.0, big, -big, tiny, -tiny, sub, -sub,
            3 * sub, -3 * sub, 1.0, -1.0]


@st.composite
def special_arrays(draw, shape: tuple[int, ...], dtype: np.dtype, label: str = "x",
                   finite: bool = False):
    """An array of ``shape`` mixing special values and small ordinary numbers."""
    size = math.prod(shape)
    pool = [v for v in specials(dtype) if math.isfinite(v) or not finite]
    ordinary = st.floats(-4, 4, allow_nan=False).map(lambda v: round(v, 2))
    kind = draw(st.sampled_from(["mixed", "mostly_special", "zeros_and_nan"]),
                label=f"{label}_kind")
    if kind == "zeros_and_nan":
        elem = st.sampled_from([0.0, -0.0, 1.0] if finite else [0.0, -0.0, math.nan, -math.inf])
    elif kind == "mostly_special":
        elem = st.sampled_from(pool)
    else:
        elem = st.one_of(st.sampled_from(pool), ordinary)
    values = draw(st.lists(elem, min_size=size, max_size=size), label=label)
    return np.array(values, dtype=np.float64).reshape(shape).astype(dtype)


def daz(a: np.ndarray) -> np.ndarray:
    """Subnormals read as a zero of the same sign (denormals-are-zero)."""
    a = np.asarray(a)
    if a.dtype.kind not in "fV":
        return a
    a64 = a.astype(np.float64)
    with np.errstate(invalid="ignore"):
        sub = (a64 != 0) & (np.abs(a64) < float(finfo(a.dtype).tiny))
    return np.where(sub, np.copysign(0.0, a64), a64).astype(a.dtype)


def tf_model(op: str, dtype: np.dtype, f, *arrays):
    """``f(*arrays)``, with TF's subnormal flushing applied where TF flushes."""
    if not flushes(op, dtype):
        return f(*arrays)
    return daz(f(*(None if a is None else daz(a) for a in arrays)))


@st.composite
def pool_geometry(draw, rank: int):
    """Shape, pool_size, strides (sometimes omitted), padding and data_format."""
    spatial = tuple(draw(st.integers(1, 5), label=f"n{i}") for i in range(rank))
    padding = draw(st.sampled_from(["valid", "same"]), label="padding")
    hi = [n if padding == "valid" else 4 for n in spatial]
    pool = tuple(draw(st.integers(1, max(1, min(3, h))), label=f"k{i}") for i, h in enumerate(hi))
    params = {"pool_size": pool, "padding": padding}
    if draw(st.booleans(), label="give_strides"):
        params["strides"] = tuple(draw(st.integers(1, 3), label=f"s{i}") for i in range(rank))
    fmt = draw(st.sampled_from([None, "channels_last", "channels_first"]), label="data_format")
    n, c = draw(st.integers(1, 2), label="batch"), draw(st.integers(1, 3), label="channels")
    if fmt is not None:
        params["data_format"] = fmt
    shape = (n, c, *spatial) if fmt == "channels_first" else (n, *spatial, c)
    return shape, params


def _float_dtype(data, rank: int) -> np.dtype:
    return data.draw(st.sampled_from(POOL3D_FLOATS if rank == 3 else FLOATS), label="dtype")


# ----------------------------------------------------------------------------- pooling


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("kind", ["Max", "Average"])
@given(data=st.data())
def test_pooling_special_values_bitwise(kind, rank, data):
    dtype = _float_dtype(data, rank)
    shape, params = data.draw(pool_geometry(rank), label="geometry")
    x = data.draw(special_arrays(shape, dtype))
    method = data.draw(st.sampled_from(["loop", "im2col", "fast"]), label="method")
    fn = pr.max_pool if kind == "Max" else pr.avg_pool
    expected = keras_ref.pool(kind, x, **params)
    path = keras_ref.eager_path(dtype)
    if reg.eigen_shifts_windows(x, params, path):
        return      # a TF defect, shown by test_known_defects.test_eigen_pool3d_same_negative_pad
    actual = fn(x, **params, method=method, tf_kernel=path)
    if kind == "Max":
        expected = reg.lenient_unmodelled(actual, expected, x, params, path)
    op = "max_pool" if kind == "Max" else "avg_pool"
    assert_bitwise(actual, expected, op=op, params={**params, "method": method,
                                                     "tf_kernel": path}, arrays={"x": x})


@pytest.mark.parametrize("rank", [1, 2, 3])
@given(data=st.data())
def test_zero_pad_special_values_bitwise(rank, data):
    dtype = data.draw(st.sampled_from(FLOATS), label="dtype")
    spatial = tuple(data.draw(st.integers(1, 4), label=f"n{i}") for i in range(rank))
    pads = tuple((data.draw(st.integers(0, 2), label=f"b{i}"),
                  data.draw(st.integers(0, 2), label=f"a{i}")) for i in range(rank))
    fmt = data.draw(st.sampled_from(["channels_last", "channels_first"]), label="data_format")
    shape = (1, 2, *spatial) if fmt == "channels_first" else (1, *spatial, 2)
    x = data.draw(special_arrays(shape, dtype))
    expected = keras_ref.zero_pad(x, pads, fmt)
    assert_bitwise(pr.zero_pad(x, pads, fmt), expected, op="zero_pad",
                   params={"padding": pads, "data_format": fmt}, arrays={"x": x})


# ----------------------------------------------------------------------------- global pooling


def _exact_specials_then_bound(actual, expected, mag, terms, dtype, *, op, params, x,
                               sum_mag=None, slack=0.0):
    """NaN / ±inf positions and values exact; finite values within ``error_bound`` (plus an
    absolute ``slack``: what flushing inside TF may add).

    ``mag`` is the op on ``|x|`` without its non-finite cells (float64); ``sum_mag`` the
    largest partial sum of absolute values (default ``mag``). Where it exceeds half the
    dtype's max, intermediate overflow depends on the summation order, so those cells are
    not compared (neither TF nor pooling_ref promises an order; hand-derived tests below
    cover certain overflow).
    """
    a64, e64 = np.asarray(actual).astype(np.float64), np.asarray(expected).astype(np.float64)
    assert np.asarray(actual).dtype == np.asarray(expected).dtype, (op, params)
    sum_mag = mag if sum_mag is None else sum_mag
    order_free = np.asarray(sum_mag) <= float(finfo(dtype).max) / 2
    where = f"{op} {params}; x = {x!r}"
    np.testing.assert_array_equal(np.isnan(a64) & order_free, np.isnan(e64) & order_free,
                                  err_msg=f"NaN positions differ: {where}")
    inf_a = np.where(np.isinf(a64) & order_free, a64, 0)
    inf_e = np.where(np.isinf(e64) & order_free, e64, 0)
    np.testing.assert_array_equal(inf_a, inf_e, err_msg=f"inf positions/signs differ: {where}")
    finite = np.isfinite(e64) & np.isfinite(a64) & order_free
    bound = np.asarray(error_bound(mag, terms, dtype)) + slack
    c = compare(a64[finite], e64[finite], np.asarray(bound)[finite])
    assert c.ok, f"{where}: {c}"


def _finite_abs(x: np.ndarray) -> np.ndarray:
    a = np.abs(np.asarray(x).astype(np.float64))
    return np.where(np.isfinite(a), a, 0.0)


def _global_case(data, rank):
    dtype = data.draw(st.sampled_from(FLOATS), label="dtype")
    fmt = data.draw(st.sampled_from(["channels_last", "channels_first"]), label="data_format")
    spatial = tuple(data.draw(st.integers(1, 4), label=f"n{i}") for i in range(rank))
    shape = (2, 2, *spatial) if fmt == "channels_first" else (2, *spatial, 2)
    return data.draw(special_arrays(shape, dtype)), fmt, math.prod(spatial)


def _kernel_of(path: str, dtype) -> str:
    """The tf_kernel following Keras ``path`` (``"eager"``: this process's, for dtype)."""
    return keras_ref.eager_path(dtype) if path == "eager" else "xla"


@pytest.mark.parametrize("path", ["eager", "xla"])
@pytest.mark.parametrize("rank", [1, 2, 3])
@given(data=st.data())
def test_global_max_special_values_bitwise(rank, path, data):
    """Bitwise with ``tf_kernel`` of the path (subnormals read as zeros, XLA ignores NaN),
    except what no TF path specifies: the sign of a zero maximum, and eagerly a subnormal
    maximum kept by the SIMD tail (``tolerance.unspecified_global_max``)."""
    x, fmt, _ = _global_case(data, rank)
    keepdims = data.draw(st.booleans(), label="keepdims")
    expected = keras_ref.global_pool("Max", x, fmt, keepdims, path=path)
    k = _kernel_of(path, x.dtype)
    ours = unspecified_global_max(
        expected, pr.global_max_pool(x, fmt, keepdims, tf_kernel=k), k)
    assert_bitwise(ours, expected, op="global_max_pool",
                   params={"data_format": fmt, "keepdims": keepdims, "tf_kernel": k},
                   arrays={"x": x})


@pytest.mark.parametrize("path", ["eager", "xla"])
@pytest.mark.parametrize("rank", [1, 2, 3])
@given(data=st.data())
def test_global_avg_special_values(rank, path, data):
    x, fmt, cells = _global_case(data, rank)
    expected = keras_ref.global_pool("Average", x, fmt, path=path)
    actual = pr.global_avg_pool(x, fmt, tf_kernel=_kernel_of(path, x.dtype))
    # read as zeros (rules.RULES "global_avg"), except float16 and a single cell
    xf = daz(x) if cells > 1 and x.dtype.name != "float16" else x
    axes = tuple(range(2, x.ndim)) if fmt == "channels_first" else tuple(range(1, x.ndim - 1))
    mag = _finite_abs(xf).mean(axis=axes)
    _exact_specials_then_bound(actual, expected, mag, cells, x.dtype, op="global_avg_pool",
                               params={"data_format": fmt}, x=x, sum_mag=mag * cells)


def test_global_max_unspecified_cells():
    """Registry ``global-max-zero-sign-and-subnormal-tail`` (measured, TF 2.21): eagerly a
    subnormal maximum outside a full SIMD packet keeps its bits (``[-1] * 8 + [s]`` -> s,
    while ``[s] + [-1] * 8`` -> 0); the sign of a zero maximum follows the reduction order
    (XLA ``[0, -0]`` -> +0, the reference rule "last equal wins" gives -0). The oracle
    leaves exactly these to TF under a TF path; never for ``tf_kernel=None``."""
    s = float(np.finfo(np.float32).smallest_subnormal)
    tail = np.array([-1] * 8 + [s], np.float32).reshape(1, 9, 1)
    head = np.array([s] + [-1] * 8, np.float32).reshape(1, 9, 1)
    path = keras_ref.eager_path()
    assert keras_ref.global_pool("Max", head).ravel()[0] == 0
    kept = keras_ref.global_pool("Max", tail).ravel()[0]
    assert pr.global_max_pool(tail, tf_kernel=path).ravel()[0] == 0        # modelled: DAZ
    reg.expect("global-max-zero-sign-and-subnormal-tail", bool(kept == np.float32(s)), path,
               detail=f"[-1] * 8 + [s] gives {kept!r}")
    zeros = np.array([0.0, -0.0], np.float32).reshape(1, 2, 1)
    xla = keras_ref.global_pool("Max", zeros, path="xla").ravel()[0]
    ours = pr.global_max_pool(zeros, tf_kernel="xla").ravel()[0]
    reg.expect("global-max-zero-sign-and-subnormal-tail",
               bool(np.signbit(xla) != np.signbit(ours)), "xla", detail=f"XLA gives {xla!r}")
    got = np.float32([-0.0]).reshape(1, 1)
    exp = np.float32([0.0]).reshape(1, 1)
    assert np.signbit(unspecified_global_max(got, exp, "xla")).all()
    assert not np.signbit(unspecified_global_max(got, exp, None)).any()
    sub = np.float32([s]).reshape(1, 1)
    assert unspecified_global_max(sub, exp, "eigen")[0, 0] == np.float32(s)
    assert unspecified_global_max(-sub, exp, None)[0, 0] == 0
    one = np.float32([1.0]).reshape(1, 1)                 # a nonzero maximum stays specified
    assert unspecified_global_max(sub, one, "onednn")[0, 0] == 1


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_global_avg_overflow_hand_derived(dtype):
    """TF sums in the input dtype (float32 for the 16-bit ones): [max, max] overflows to inf
    in float32/float64 (the sum exceeds max) and not in float16/bfloat16 (the float32 sum of
    two float16 maxima is finite, and so is its half)."""
    big = float(finfo(dtype).max)
    x = np.array([big, big], np.float64).astype(dtype).reshape(1, 2, 1)
    want = math.inf if dtype.itemsize >= 4 else big
    if dtype == BF16:        # bfloat16 max * 2 exceeds float32 max: overflow in the sum
        want = math.inf
    assert float(keras_ref.global_pool("Average", x).ravel()[0]) == want
    assert float(pr.global_avg_pool(x).ravel()[0]) == want


# ----------------------------------------------------------------------------- convolution


_DEPTHWISE_NAN = "xla-float64-depthwise-conv-nan-across-channels"


@pytest.mark.parametrize("rank", [1, 2])
@given(data=st.data())
def test_conv_special_values(rank, data):
    """channels_last (the XLA reference), every float dtype, optional bias."""
    dtype = data.draw(st.sampled_from(FLOATS), label="dtype")
    cin, filters = data.draw(st.integers(1, 2), label="cin"), data.draw(st.integers(1, 2),
                                                                         label="filters")
    _check_conv_special_values(data, rank, dtype, cin, filters, groups=1)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("rank", [1, 2, 3])
@settings(max_examples=15)       # each example compiles an XLA convolution (~0.3 s)
@given(data=st.data())
def test_grouped_conv_special_values(rank, dtype, data):
    """Grouped and depthwise convolution (groups 2-3; depthwise: groups == C_in, depth
    multiplier 1-2) with special values, channels_last, optional bias. float64 depthwise
    is registry entry ``xla-float64-depthwise-conv-nan-across-channels``: a non-finite
    cell of one channel makes every filter's output NaN there; asserted wherever a case
    shows it (and expected nowhere else), then compared with that NaN in place."""
    groups = data.draw(st.integers(2, 3), label="groups")
    depthwise = data.draw(st.booleans(), label="depthwise")
    cin = groups * (1 if depthwise else data.draw(st.integers(1, 2), label="C_in // groups"))
    filters = groups * data.draw(st.integers(1, 2), label="filters // groups")
    _check_conv_special_values(data, rank, np.dtype(dtype), cin, filters, groups)


def _check_conv_special_values(data, rank, dtype, cin, filters, groups):
    spatial = tuple(data.draw(st.integers(2, 5 if rank < 3 else 3), label=f"n{i}")
                    for i in range(rank))
    ksize = tuple(data.draw(st.integers(1, 2), label=f"k{i}") for i in range(rank))
    padding = data.draw(st.sampled_from(["valid", "same"]), label="padding")
    x = data.draw(special_arrays((1, *spatial, cin), dtype))
    # Non-finite weights only with "valid": see test_conv_same_nonfinite_kernel_difference.
    kernel = data.draw(special_arrays((*ksize, cin // groups, filters), dtype, label="kernel",
                                      finite=padding == "same"))
    bias = (data.draw(special_arrays((filters,), dtype, label="bias"))
            if data.draw(st.booleans(), label="use_bias") else None)
    params = {"padding": padding} if groups == 1 else {"padding": padding, "groups": groups}
    expected = keras_ref.conv(x, kernel, bias, **params)
    actual = tf_model("conv", dtype, lambda a, k, b: pr.conv(a, k, b, **params),
                      x, kernel, bias)
    actual = _depthwise_nan(actual, expected, x, kernel, params)
    flush = flushes("conv", dtype)
    xf, kf = (daz(x), daz(kernel)) if flush else (x, kernel)
    bf = None if bias is None else _finite_abs(daz(bias) if flush else bias)
    mag = pr.conv(_finite_abs(xf), _finite_abs(kf), bf, **params)
    terms = math.prod(ksize) * (cin // groups)
    # Flushing also applies inside TF, to each of the `terms` products and each of the
    # `terms` partial sums (and the bias addition): each changes by less than the smallest
    # normal, an absolute error the relative bound does not cover (e.g. tiny + 0.5 tiny with
    # the partial sum 0.5 tiny flushed).
    slack = (2 * terms + 1) * float(finfo(dtype).tiny) if flush else 0.0
    _exact_specials_then_bound(actual, expected, mag, terms, dtype, op="conv",
                               params=params, x=x, slack=slack)


def _depthwise_nan(actual, expected, x, kernel, params):
    """``actual`` with NaN where registry entry ``xla-float64-depthwise-conv-nan-across-
    channels`` applies (float64 depthwise, a non-finite cell of another channel in the
    window) and the case shows it; the entry is expected exactly on the paths it lists."""
    if x.dtype != np.float64:
        return actual
    leaked = reg.depthwise_nan_cells(x, kernel, params) & ~np.isnan(actual)
    if not leaked.any():
        return actual
    path = "xla" if keras_ref.backend() == "tensorflow" else keras_ref.eager_path()
    reg.expect(_DEPTHWISE_NAN, bool(np.isnan(expected[leaked]).any()), path,
               f"Keras gives {expected[leaked].tolist()} where pooling_ref gives "
               f"{actual[leaked].tolist()}")
    return np.where(leaked, np.nan, actual) if reg.applies(_DEPTHWISE_NAN, path) else actual


@pytest.mark.parametrize("dtype", FLOATS[:3], ids=lambda d: np.dtype(d).name)
def test_conv_same_nonfinite_kernel_difference(dtype):
    """Hand-derived TF result: out[2] = 3*1 + (padding cell: no term) = 3, not 3 + 0*inf."""
    x = np.array([1.0, 2.0, 3.0], dtype).reshape(1, 3, 1)
    k = np.array([1.0, math.inf], dtype).reshape(2, 1, 1)
    assert keras_ref.conv(x, k, padding="same").ravel()[2] == 3.0
    for method in ("loop", "im2col", "fast", "auto"):
        assert pr.conv(x, k, padding="same", method=method).ravel()[2] == 3.0, method


# ----------------------------------------------------------------------------- hand-derived


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("method", ["loop", "im2col", "fast"])
def test_max_pool_rules_hand_derived(dtype, method):
    """The TF rules written out by hand (independent of Keras), and Keras agrees.

    The value of a window without a number, per path (measured, TF 2.21): the lowest finite
    value, except -inf for bfloat16 on oneDNN (AVX-512) and for every dtype under XLA.
    """
    nan, inf = math.nan, math.inf
    rows = [[nan, 3, 3, 3], [nan, nan, nan, nan], [-inf, -inf, -inf, -inf], [-0.0, 0.0, -1, -2],
            [0.0, -0.0, -1, -2], [inf, nan, 1, 2], [nan, -inf, nan, -inf]]
    x = np.array(rows, np.float64).astype(dtype).reshape(7, 4, 1)
    path = keras_ref.eager_path(dtype)
    for tf_kernel in ("onednn", "eigen", "xla"):
        empty = -inf if tf_kernel == "xla" or (dtype == BF16 and tf_kernel == "onednn") \
            else -float(finfo(dtype).max)
        want = [3, empty, empty, -0.0, 0.0, inf, empty]
        got = pr.max_pool(x, 4, method=method, tf_kernel=tf_kernel)
        assert_bitwise(got, np.array(want, np.float64).astype(dtype).reshape(7, 1, 1),
                       op="max_pool", params={"pool_size": 4, "method": method,
                                              "tf_kernel": tf_kernel},
                       arrays={"x": x}, what="differs from the hand-derived TF rule")
    assert_bitwise(pr.max_pool(x, 4, method=method, tf_kernel=path), keras_ref.pool("Max", x, 4),
                   op="max_pool", params={"pool_size": 4, "method": method, "tf_kernel": path},
                   arrays={"x": x})


@pytest.mark.parametrize("method", ["loop", "im2col", "fast"])
@pytest.mark.parametrize("padding", ["valid", "same"])
@given(data=st.data())
def test_max_pool_nan_propagate(method, padding, data):
    """``nan="propagate"`` equals np.max over each window's real cells (NaN wins, -inf kept),
    and equals the TF default wherever the window holds a NaN-free number."""
    dtype = data.draw(st.sampled_from(FLOATS), label="dtype")
    n = data.draw(st.integers(1, 7), label="n")
    k = data.draw(st.integers(1, n if padding == "valid" else 4), label="pool_size")
    s = data.draw(st.integers(1, 3), label="strides")
    x = data.draw(special_arrays((1, n, 1), dtype))
    got = pr.max_pool(x, k, s, padding, method=method, nan="propagate")
    out = pr.output_length(n, k, s, padding)
    before = pr.same_pads(n, k, s)[0] if padding == "same" else 0
    x64 = x.astype(np.float64)[0, :, 0]
    want = []
    for o in range(out):
        lo = o * s - before
        cells = x64[max(lo, 0):min(lo + k, n)]
        want.append(np.max(cells))
    # the default tf_kernel ("onednn") reads subnormals as zeros where TF does: compare
    # values as TF compares them
    got_seen = got
    if rules.rules("onednn", "max", dtype, 1).flush != "none":
        got_seen, want = flush_subnormals(got), [
            float(flush_subnormals(np.array(w, dtype))) for w in want]
    got64 = got_seen.astype(np.float64)[0, :, 0]
    ok = (np.isnan(got64) == np.isnan(want)) & ((got64 == want) | np.isnan(want))
    assert ok.all(), f"max_pool nan='propagate' k={k} s={s} {padding}: x={x64}, got {got64}, " \
                     f"want {want}"
    tf_default = pr.max_pool(x, k, s, padding, method=method)
    plain = ~np.isnan(got64) & np.isfinite(got64)
    assert_bitwise(got[0, plain, 0], tf_default[0, plain, 0], op="max_pool",
                   params={"pool_size": k, "strides": s, "padding": padding, "nan": "propagate"},
                   arrays={"x": x}, what="differs from nan='tf' on a window without NaN")


def test_nan_option_rejects_unknown_value():
    with pytest.raises(ValueError, match=r"nan.*'ignore'"):
        pr.max_pool(np.zeros((1, 2, 1)), 2, nan="ignore")


# ----------------------------------------------------------------------------- subnormals

def _zero_then(x: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros_like(x[:1]), x[:1]]).reshape(1, 2, 1)


def _twice(x: np.ndarray) -> np.ndarray:
    return np.concatenate([x[:1], x[:1]]).reshape(1, 2, 1)


#: Pooling: modelled per path (tf_kernel). op -> (Keras result, pooling_ref result) of x.
MODELLED_SUB_OPS = {
    "max": lambda x, k: (keras_ref.pool("Max", x, 1), pr.max_pool(x, 1, tf_kernel=k)),
    # [0, 3s], window 2: a DAZ comparison keeps the 0
    "max2": lambda x, k: (keras_ref.pool("Max", _zero_then(x), 2),
                          pr.max_pool(_zero_then(x), 2, tf_kernel=k)),
    # [3s, -s], window 2: DAZ comparison, first equal wins: 3s ("compare") or 0 ("full")
    "max3": lambda x, k: (keras_ref.pool("Max", x[:2].reshape(1, 2, 1), 2),
                          pr.max_pool(x[:2].reshape(1, 2, 1), 2, tf_kernel=k)),
    # [3s, 0]: read as zeros (the zero's sign and an unflushed tail cell are TF's choice)
    "gmax": lambda x, k: _lenient_gmax(keras_ref.global_pool("Max", _zero_then(x)[:, ::-1]),
                                       pr.global_max_pool(_zero_then(x)[:, ::-1], tf_kernel=k),
                                       k),
    "gavg": lambda x, k: (keras_ref.global_pool("Average", _twice(x)),
                          pr.global_avg_pool(_twice(x), tf_kernel=k)),
    "avg": lambda x, k: (keras_ref.pool("Average", x, 1), pr.avg_pool(x, 1, tf_kernel=k)),
}

def _lenient_gmax(tf_out, ours, k):
    return tf_out, unspecified_global_max(tf_out, ours, k)


#: Not modelled (registry entry subnormal-flush-conv-global); "pad" never flushes.
SUB_OPS = {
    "pad": lambda x: (keras_ref.zero_pad(x, 1)[:, 1:-1], pr.zero_pad(x, 1)[:, 1:-1]),
    # [3s, 0]: with DAZ comparisons the last equal "zero" (0) wins, otherwise 3s.
    "conv": lambda x: (keras_ref.conv(x, np.ones((1, 1, 1), x.dtype)),
                       pr.conv(x, np.ones((1, 1, 1), x.dtype))),
}


def _subnormal_input(dtype: np.dtype) -> tuple[np.ndarray, float]:
    sub = float(finfo(dtype).smallest_subnormal)
    return np.array([3 * sub, -sub, 1.0], np.float64).astype(dtype).reshape(3, 1, 1), sub


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", sorted(MODELLED_SUB_OPS))
def test_subnormals_modelled_per_path(op, dtype):
    """Pooling of subnormals: pooling_ref with the running path's rules equals TF bitwise."""
    x, _ = _subnormal_input(dtype)
    path = keras_ref.eager_path(dtype)
    tf_out, ours = MODELLED_SUB_OPS[op](x, path)
    assert_bitwise(ours, tf_out, op=op, params={"tf_kernel": path}, arrays={"x": x})


@pytest.mark.known_defect
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", sorted(SUB_OPS))
def test_subnormals_known_difference(op, dtype):
    """TF flushes subnormals in conv exactly where the registry entry
    ``subnormal-flush-conv-global`` says; pooling_ref never does there."""
    x, sub = _subnormal_input(dtype)
    tf_out, ours = SUB_OPS[op](x)
    tf_vals = np.asarray(tf_out).astype(np.float64).ravel()
    ours_vals = np.asarray(ours).astype(np.float64).ravel()
    assert ours_vals[0] == 3 * sub, f"pooling_ref {op} {dtype} lost the subnormal: {ours_vals}"
    flushed = bool(tf_vals[0] == 0)
    assert flushed == flushes(op, dtype), (
        f"TF {op} {np.dtype(dtype).name}: measured flush={flushed} (output {tf_vals}), the "
        f"registry entry subnormal-flush-conv-global says {flushes(op, dtype)}: no longer "
        f"differs on this path: update the registry (pooling_ref/data/known_differences.json)")


@pytest.mark.parametrize("tf_kernel", ["onednn", "eigen", "xla"])
def test_subnormal_result_of_normal_inputs_is_flushed(tf_kernel):
    """Output flush too: the average of two normal numbers can be subnormal (float32); TF
    flushes it on every path (checked against Keras on the running path)."""
    t = float(np.finfo(np.float32).tiny)
    x = np.array([t, 0.0], np.float32).reshape(1, 2, 1)
    assert pr.avg_pool(x, 2, tf_kernel=tf_kernel).ravel()[0] == 0.0
    assert keras_ref.pool("Average", x, 2).ravel()[0] == 0.0
