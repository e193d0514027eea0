"""The gradients checked without TensorFlow: finite differences, hand-derived cases, options.

* **Finite differences** (float64, independent of the backward code): for
  ``f(x) = sum(forward(x) * grad_out)`` the gradient is checked against central differences
  ``(f(x + h e_i) - f(x - h e_i)) / 2h`` of the *forward* pooling_ref functions. Inputs are
  tie-free — distinct values at least 1 apart, and ``h = 1/4`` — so no perturbation changes
  which cell is a window's maximum: max pooling is then linear around ``x``, average pooling
  and convolution are linear in ``x`` (and in the kernel), and the central difference is
  *exact* up to rounding. ``f`` is a float64 sum of ``T`` products, each evaluation off by
  at most ``T * eps * S`` (``S`` = the same sum over absolute values), so the difference
  quotient is off by at most ``2 * T * eps * S / (2h)``; the tolerance is that with a factor
  2 of room. A wrong gradient errs by O(1).
* **Hand-derived** cases (values worked out by hand in the test).
* The ``ties=`` options, argument checking, no mutation, layouts and methods.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling_ref as pr

from ._assert import assert_bitwise
from ._methods import method_params
from .strategies import pool_cases

H = 0.25
EPS = np.finfo(np.float64).eps


def _tie_free(rng, shape) -> np.ndarray:
    """Distinct values, pairwise at least 1 apart (a shuffled arange, shifted)."""
    return (rng.permutation(int(np.prod(shape))) - np.prod(shape) / 2).reshape(shape).astype(
        np.float64)


def _central_differences(f, a: np.ndarray) -> np.ndarray:
    grad = np.empty_like(a)
    for i in np.ndindex(*a.shape):
        up, down = a.copy(), a.copy()
        up[i] += H
        down[i] -= H
        grad[i] = (f(up) - f(down)) / (2 * H)
    return grad


def _assert_fd(got, fd, terms: int, scale: float, what: str) -> None:
    tol = 2 * (2 * terms * EPS * scale / (2 * H))
    err = float(np.max(np.abs(got - fd))) if got.size else 0.0
    assert err <= tol, f"{what}: max |analytic - finite difference| {err:.3g} > {tol:.3g}"


POOL_CONFIGS = [   # (spatial, pool_size, strides, padding): overlap, stride > window, same
    ((7,), 3, 1, "valid"), ((7,), 2, 3, "same"), ((6,), 4, 2, "same"),
    ((5, 4), (2, 3), 1, "same"), ((6, 5), 2, (3, 1), "valid"), ((5, 5), 3, 2, "same"),
    ((4, 3, 4), 2, 1, "valid"), ((3, 4, 3), (2, 1, 3), (1, 3, 2), "same"),
]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("spatial,pool_size,strides,padding", POOL_CONFIGS)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_grad_finite_differences(kind, spatial, pool_size, strides, padding, data_format):
    rng = np.random.default_rng(len(spatial) * 7 + sum(spatial))
    shape = (2, 2, *spatial) if data_format == "channels_first" else (2, *spatial, 2)
    x = _tie_free(rng, shape)
    params = {"pool_size": pool_size, "strides": strides, "padding": padding,
              "data_format": data_format}
    forward = pr.max_pool if kind == "max" else pr.avg_pool
    grad_out = rng.standard_normal(forward(x, **params).shape)
    fd = _central_differences(lambda a: float(np.sum(forward(a, **params) * grad_out)), x)
    scale = float(np.sum(np.abs(forward(np.abs(x) + H, **params) * grad_out)))
    backward = pr.max_pool_grad if kind == "max" else pr.avg_pool_grad
    for method in ("loop", "fast"):
        got = backward(x, grad_out, **params, method=method)
        _assert_fd(got, fd, grad_out.size * int(np.prod(np.broadcast_to(pool_size, len(spatial)))),
                   scale, f"{kind}_pool_grad {params} {method}")


CONV_CONFIGS = [   # (spatial, kernel_size, C_in, filters, params)
    ((7,), (3,), 2, 3, {"strides": 2, "padding": "same"}),
    ((8,), (2,), 4, 4, {"dilation_rate": 3, "groups": 2}),
    ((5, 6), (3, 2), 2, 4, {"strides": (1, 3), "padding": "same"}),
    ((6, 5), (2, 2), 3, 3, {"dilation_rate": (2, 1), "groups": 3, "padding": "same"}),
    ((4, 4, 3), (2, 3, 2), 2, 2, {"strides": (2, 1, 2), "padding": "same", "groups": 2}),
]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("spatial,ksize,c_in,filters,params", CONV_CONFIGS)
def test_conv_grad_finite_differences(spatial, ksize, c_in, filters, params, data_format):
    rng = np.random.default_rng(sum(spatial) + c_in)
    groups = params.get("groups", 1)
    shape = (2, c_in, *spatial) if data_format == "channels_first" else (2, *spatial, c_in)
    x = rng.standard_normal(shape)
    kernel = rng.standard_normal((*ksize, c_in // groups, filters))
    bias = rng.standard_normal(filters)
    params = {**params, "data_format": data_format}
    grad_out = rng.standard_normal(pr.conv(x, kernel, **params).shape)

    def f(a, k, b):
        return float(np.sum(pr.conv(a, k, b, **params) * grad_out))

    fds = (_central_differences(lambda a: f(a, kernel, bias), x),
           _central_differences(lambda k: f(x, k, bias), kernel),
           _central_differences(lambda b: f(x, kernel, b), bias))
    scale = float(np.sum(np.abs(pr.conv(np.abs(x) + H, np.abs(kernel) + H, np.abs(bias) + H,
                                        **params) * grad_out)))
    terms = grad_out.size * (int(np.prod(ksize)) * (c_in // groups) + 1)
    for method in ("loop", "fast"):
        got = pr.conv_grad(x, kernel, grad_out, **params, method=method)
        for name, a, fd in zip(("grad_x", "grad_kernel", "grad_bias"), got, fds):
            assert a.shape == fd.shape
            _assert_fd(a, fd, terms, scale, f"conv_grad {name} {params} {method}")


# ----------------------------------------------------------------------------- hand-derived


def _r(values, dtype=np.float32):
    """A batch of one, one channel, channels_last."""
    a = np.asarray(values, dtype=dtype)
    return a.reshape(1, *a.shape, 1)


def _max_grad(values, upstream=None, **params):
    x = _r(values)
    g = np.ones_like(pr.max_pool(x, **params)) if upstream is None else _r(upstream)
    out = {m: pr.max_pool_grad(x, g, **params, method=m)[0, ..., 0] for m in ("loop", "fast")}
    np.testing.assert_array_equal(out["loop"], out["fast"])
    return out["loop"]


NAN = np.nan


@pytest.mark.parametrize("values,params,expected", [
    # hand-derived (TF's first-of-equal tie rule): 2x2 window of ones -> the first cell
    ([[1, 1], [1, 1]], {"pool_size": 2}, [[1, 0], [0, 0]]),
    # 1D [0, 1, 1, 0], window 2, stride 1: windows [0,1] [1,1] [1,0] pick 1, 1, 2
    ([0, 1, 1, 0], {"pool_size": 2, "strides": 1}, [0, 2, 1, 0]),
    ([1, 1, 1], {"pool_size": 2, "strides": 1}, [1, 1, 0]),
    # NaN in the first cell keeps the gradient although the forward ignored it
    ([[NAN, 1], [2, NAN]], {"pool_size": 2}, [[1, 0], [0, 0]]),
    # NaN later is never selected: the 2 wins
    ([[1, NAN], [2, NAN]], {"pool_size": 2}, [[0, 0], [1, 0]]),
    ([[NAN, NAN], [NAN, NAN]], {"pool_size": 2}, [[1, 0], [0, 0]]),
    ([[-np.inf, -np.inf], [-np.inf, -np.inf]], {"pool_size": 2}, [[1, 0], [0, 0]]),
    ([[-0.0, 0.0], [-1, -1]], {"pool_size": 2}, [[1, 0], [0, 0]]),
    # "same" 2/2 on 3x3 of -1: pads (0, 1); each window's first real cell
    ([[-1] * 3] * 3, {"pool_size": 2, "padding": "same"}, [[1, 0, 1], [0, 0, 0], [1, 0, 1]]),
    # "same" 3/2 on [5, 1, 1, 1]: pads (0, 1); windows [5,1,1] [1,1,pad] -> cells 0 and 2
    ([5, 1, 1, 1], {"pool_size": 3, "strides": 2, "padding": "same"}, [1, 0, 1, 0]),
    # stride 3 > window 1: cells 1, 2 skipped
    ([4, 5, 6, 7], {"pool_size": 1, "strides": 3}, [1, 0, 0, 1]),
    # 3D: 2x2x2 of ones -> every cell
    ([[[1, 1], [1, 1]], [[1, 1], [1, 1]]], {"pool_size": 2}, [[[1, 1], [1, 1]]] * 2),
    # 3D near-tie (|1 - 0.999999| < 1e-5) shares; 0.99 does not
    ([[[1, 0.999999], [0.99, -5]], [[-5, -5], [-5, -5]]], {"pool_size": 2},
     [[[1, 1], [0, 0]], [[0, 0], [0, 0]]]),
    # 3D infinite maximum: inf - inf is NaN, nothing receives the gradient
    ([[[np.inf, 1], [1, 1]], [[1, 1], [1, 1]]], {"pool_size": 2}, [[[0, 0], [0, 0]]] * 2),
    # 3D all NaN: the forward is the lowest float, no cell is near it
    ([[[NAN] * 2] * 2] * 2, {"pool_size": 2}, [[[0, 0], [0, 0]]] * 2),
])
def test_max_pool_grad_hand_cases(values, params, expected):
    assert_bitwise(_max_grad(values, **params), np.asarray(expected, np.float32),
                   op="max_pool_grad", params=params, arrays={"x": _r(values)},
                   what="differs from the hand-derived gradient")


def test_max_pool_grad_overlap_accumulates():
    """k2 s1 on [3, 3, 3, 3] with upstream [1, 2, 4]: first maxima 0, 1, 2 -> [1, 2, 4, 0];
    on [1, 3, 2, 0]: windows pick 1, 1, 2 -> [0, 1 + 2, 4, 0]."""
    assert _max_grad([3, 3, 3, 3], [1, 2, 4], pool_size=2, strides=1).tolist() == [1, 2, 4, 0]
    assert _max_grad([1, 3, 2, 0], [1, 2, 4], pool_size=2, strides=1).tolist() == [0, 3, 4, 0]


def test_avg_pool_grad_same_hand_case():
    """Hand-derived: "same" 2/2 on 3x3 -> each cell 1 / (real cells of its window)."""
    x = np.zeros((1, 3, 3, 1), np.float32)
    for method in ("loop", "fast"):
        got = pr.avg_pool_grad(x, np.ones((1, 2, 2, 1), np.float32), 2, padding="same",
                               method=method)[0, :, :, 0]
        np.testing.assert_array_equal(got, [[.25, .25, .5], [.25, .25, .5], [.5, .5, 1]])


def test_avg_pool_grad_overlap_hand_case():
    """1D k3 s1 on 4 cells, upstream [3, 6]: cell 0 <- 1, cells 1-2 <- 1 + 2, cell 3 <- 2."""
    got = pr.avg_pool_grad(np.zeros((1, 4, 1)), np.array([3.0, 6.0]).reshape(1, 2, 1), 3,
                           strides=1)
    assert got[0, :, 0].tolist() == [1, 3, 3, 2]


def test_conv_grad_hand_case():
    """x = [0, 1, 2, 3], kernel [1, -1], upstream [1, 1, 1]: grad_x[i] = sum of the taps
    reaching i = [1, 1-1, 1-1, -1]; grad_kernel[t] = sum_o x[o+t] = [0+1+2, 1+2+3]."""
    x = np.arange(4.0).reshape(1, 4, 1)
    k = np.array([1.0, -1.0]).reshape(2, 1, 1)
    for method in ("loop", "fast"):
        gx, gk, gb = pr.conv_grad(x, k, np.ones((1, 3, 1)), method=method)
        assert gx.ravel().tolist() == [1, 0, 0, -1]
        assert gk.ravel().tolist() == [3, 6] and gb.tolist() == [3]


def test_conv_grad_groups_hand_case():
    """groups=2, 1x1 kernel: filter 0 reads channel 0, filter 1 reads channel 1 only."""
    x = np.array([[[1.0, 10.0]]])                       # (1, 1, 2)
    k = np.array([[[2.0, 3.0]]])                        # (1, 1 = C_in // groups, 2)
    gx, gk, _ = pr.conv_grad(x, k, np.array([[[1.0, 1.0]]]), groups=2)
    assert gx.ravel().tolist() == [2, 3] and gk.ravel().tolist() == [1, 10]


# ----------------------------------------------------------------------------- ties option


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_ties_options(rank):
    x = np.ones((1, *(2,) * rank, 1), np.float32)
    g = np.full((1, *(1,) * rank, 1), 8, np.float32)
    first = np.zeros(2 ** rank, np.float32)
    first[0] = 8
    got = {t: pr.max_pool_grad(x, g, 2, ties=t).ravel() for t in ("first", "all", "split")}
    assert got["first"].tolist() == first.tolist()
    assert got["all"].tolist() == [8] * 2 ** rank
    assert got["split"].tolist() == [8 / 2 ** rank] * 2 ** rank
    default = pr.max_pool_grad(x, g, 2).ravel()
    assert default.tolist() == (got["all"] if rank == 3 else got["first"]).tolist()


def test_ties_all_is_exact_equality():
    """``ties="all"``: exact ties only (TF's 3D default also takes near-ties and drops an
    infinite maximum)."""
    x = _r([[[1, 0.999999], [1, -5]], [[-5, -5], [-5, -5]]])
    g = np.ones((1, 1, 1, 1, 1), np.float32)
    assert pr.max_pool_grad(x, g, 2, ties="all").ravel().tolist() == [1, 0, 1, 0, 0, 0, 0, 0]
    assert pr.max_pool_grad(x, g, 2).ravel().tolist() == [1, 1, 1, 0, 0, 0, 0, 0]
    assert pr.max_pool_grad(x, g, 2, ties="split").ravel().tolist() == [.5, 0, .5, 0, 0, 0, 0, 0]
    xi = _r([[[np.inf, 1], [1, 1]], [[1, 1], [1, 1]]])
    assert pr.max_pool_grad(xi, g, 2, ties="all").ravel().tolist() == [1, 0, 0, 0, 0, 0, 0, 0]


@given(case=pool_cases(), ties=st.sampled_from([None, "first", "all", "split"]),
       upstream_seed=st.integers(0, 2**32 - 1))
def test_loop_and_fast_bitwise(case, ties, upstream_seed):
    """The fast methods reproduce the loop specifications bit for bit (order included)."""
    rng = np.random.default_rng(upstream_seed)
    g = rng.standard_normal(pr.max_pool(case.x, **case.params).shape).astype(case.x.dtype)
    arrays = {"x": case.x, "grad_out": g}
    loop = pr.max_pool_grad(case.x, g, **case.params, ties=ties, method="loop")
    assert_bitwise(pr.max_pool_grad(case.x, g, **case.params, ties=ties), loop,
                   op="max_pool_grad", params={**case.params, "ties": ties}, arrays=arrays,
                   what="fast differs from loop")
    loop = pr.avg_pool_grad(case.x, g, **case.params, method="loop")
    assert_bitwise(pr.avg_pool_grad(case.x, g, **case.params), loop, op="avg_pool_grad",
                   params=case.params, arrays=arrays, what="fast differs from loop")


# ----------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("fn", [pr.max_pool_grad, pr.avg_pool_grad])
def test_pool_grad_out_checked(fn):
    x = np.zeros((1, 4, 4, 2), np.float32)
    with pytest.raises(ValueError, match=r"grad_out.*\(1, 2, 2, 2\).*got shape \(1, 2, 2\)"):
        fn(x, np.zeros((1, 2, 2), np.float32), 2)
    with pytest.raises(ValueError, match=r"grad_out.*\(1, 2, 2, 2\).*got shape \(1, 2, 2, 3\)"):
        fn(x, np.zeros((1, 2, 2, 3), np.float32), 2)
    with pytest.raises(ValueError, match=r"grad_out.*\(1, 2, 2, 2\) \(channels_first\)"):
        fn(np.zeros((1, 2, 4, 4), np.float32), np.zeros((1, 2, 2, 3), np.float32), 2,
           data_format="channels_first")
    with pytest.raises(TypeError, match=r"grad_out must have dtype float32.*float64"):
        fn(x, np.zeros((1, 2, 2, 2)), 2)
    with pytest.raises(ValueError, match="method"):
        fn(x, np.zeros((1, 2, 2, 2), np.float32), 2, method="im2col")


def test_max_pool_grad_ties_checked():
    x = np.zeros((1, 2, 1), np.float32)
    with pytest.raises(ValueError, match="ties must be None or one of"):
        pr.max_pool_grad(x, np.zeros((1, 1, 1), np.float32), 2, ties="last")
    with pytest.raises(TypeError, match="split"):
        pr.max_pool_grad(x.astype(np.int32), np.zeros((1, 1, 1), np.int32), 2, ties="split")


def test_conv_grad_out_checked():
    x, k = np.zeros((1, 5, 2)), np.zeros((3, 2, 4))
    with pytest.raises(ValueError, match=r"grad_out.*\(1, 3, 4\).*got shape \(1, 5, 4\)"):
        pr.conv_grad(x, k, np.zeros((1, 5, 4)))
    with pytest.raises(TypeError, match=r"grad_out must have dtype float64.*float32"):
        pr.conv_grad(x, k, np.zeros((1, 3, 4), np.float32))


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_no_mutation_and_layouts(rank):
    """Inputs untouched (read-only arrays work); channels_first = channels_last transposed."""
    rng = np.random.default_rng(rank)
    x = rng.integers(-2, 3, size=(2, *(5,) * rank, 3)).astype(np.float32)
    k = rng.standard_normal((*(2,) * rank, 3, 2)).astype(np.float32)
    g = rng.standard_normal((2, *(4,) * rank, 3)).astype(np.float32)
    gc = rng.standard_normal((2, *(4,) * rank, 2)).astype(np.float32)
    for a in (x, k, g, gc):
        a.setflags(write=False)
    copies = [a.copy() for a in (x, k, g, gc)]
    cf = lambda a: np.moveaxis(a, -1, 1)  # noqa: E731
    for fn in (pr.max_pool_grad, pr.avg_pool_grad):
        last = fn(x, g, 2, 1)
        first = fn(cf(x), cf(g), 2, 1, data_format="channels_first")
        assert_bitwise(first, cf(last), op=fn.__name__, params={}, arrays={"x": x},
                       what="channels_first differs from channels_last")
    last = pr.conv_grad(x, k, gc)
    first = pr.conv_grad(cf(x), k, cf(gc), data_format="channels_first")
    np.testing.assert_array_equal(first[0], cf(last[0]))
    np.testing.assert_array_equal(first[1], last[1])
    for a, c in zip((x, k, g, gc), copies):
        np.testing.assert_array_equal(a, c)


def test_empty_batch():
    for fn in (pr.max_pool_grad, pr.avg_pool_grad):
        got = fn(np.zeros((0, 4, 4, 2), np.float32), np.zeros((0, 2, 2, 2), np.float32), 2)
        assert got.shape == (0, 4, 4, 2) and got.dtype == np.float32
    gx, gk, gb = pr.conv_grad(np.zeros((0, 4, 2)), np.zeros((3, 2, 5)), np.zeros((0, 2, 5)))
    assert gx.shape == (0, 4, 2) and gk.tolist() == np.zeros((3, 2, 5)).tolist()
    assert gb.tolist() == [0.0] * 5


def test_every_case_distinct():
    """The finite-difference configs cover each rank, both paddings and strides below and
    above the window (so nothing above passes vacuously on one corner)."""
    ranks = {len(c[0]) for c in POOL_CONFIGS} | {len(c[0]) for c in CONV_CONFIGS}
    pads = {c[3] for c in POOL_CONFIGS}
    assert ranks == {1, 2, 3} and pads == {"valid", "same"}
    assert any(np.any(np.broadcast_to(c[2], len(c[0])) < np.broadcast_to(c[1], len(c[0])))
               for c in POOL_CONFIGS)
    assert any(np.any(np.broadcast_to(c[2], len(c[0])) > np.broadcast_to(c[1], len(c[0])))
               for c in POOL_CONFIGS)



@pytest.mark.parametrize("ties, tf_kernel, rank", [("all", None, 1), ("split", None, 1),
                                                   (None, "onednn", 3)])   # TF's 3D rule
@pytest.mark.parametrize("method", ["loop", "fast"])
def test_tie_rule_gradients_raise_no_numpy_warning(ties, tf_kernel, rank, method):
    """The tie rules that pick every cell of a window equal to its maximum (ties, windows
    of padding only, cells no window reads) compute without NumPy warnings: a warning is
    an error here."""
    x = np.array([1, 1, 0, 2, 2, 2, 5], np.float32).reshape(1, 7, *(1,) * rank)
    pool = (2,) * rank
    with np.errstate(all="raise"):
        got = pr.max_pool_grad(x, np.ones((1, 4, *x.shape[2:]), np.float32), pool,
                               padding="same", ties=ties, method=method, tf_kernel=tf_kernel)
    assert got.shape == x.shape


@pytest.mark.parametrize("tf_kernel", [None, "onednn"])
@pytest.mark.parametrize("method", method_params(["loop", "fast", "compiled"]))
def test_3d_max_pool_gradient_adds_with_the_last_axis_outermost(tf_kernel, method):
    """One maximum (5) in all four windows of pool (2, 1, 2), stride 1; their gradients at
    output (d, w): (0, 0) 1e8, (0, 1) 1, (1, 0) -1e8, (1, 1) 1. MaxPool3DGrad adds them
    with the last spatial axis outermost — 1e8, -1e8, 1, 1 -> 2 in float32 — where the
    row-major order would give (1e8 + 1) - 1e8 + 1 = 1 (1e8 + 1 rounds to 1e8)."""
    x = np.zeros((1, 3, 1, 3, 1), np.float32)
    x[0, 1, 0, 1, 0] = 5
    g = np.float32([[1e8, 1], [-1e8, 1]]).reshape(1, 2, 1, 2, 1)
    got = pr.max_pool_grad(x, g, (2, 1, 2), 1, tf_kernel=tf_kernel, method=method)
    expected = np.zeros_like(x)
    expected[0, 1, 0, 1, 0] = 2
    assert_bitwise(got, expected, op="max_pool3d_grad", params={"pool_size": (2, 1, 2)},
                   arrays={"x": x, "grad_out": g}, what="differs from the hand sum")
