"""Parity of :mod:`pooling_ref.dialects.torch` with ``torch.nn.functional`` (CPU, contiguous
tensors; needs ``pip install 'pooling-ref[torch]'``, nox ``-s torch``).

Randomized windows (kernel, stride, padding up to torch's limit of half the kernel,
dilation, ``ceil_mode``, ``count_include_pad``, ``divisor_override``, batched and unbatched
inputs) with special values (NaN, ±inf, ±0, ties, subnormals): bitwise for max pooling
(values and indices), average pooling, adaptive pooling and LP pooling with ``p = 1``;
within the derived bound where torch sums in another order (an adaptive average to size 1
everywhere is torch's ``mean``) or takes its own root (``pow``, ``sqrt``: other ``p``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
F = torch.nn.functional

from pooling_ref.dialects import torch as pt  # noqa: E402
from pooling_ref.tolerance import compare, error_bound  # noqa: E402

from . import _registry as reg  # noqa: E402
from ._assert import assert_bitwise  # noqa: E402

SPECIAL = [np.nan, 0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, 2.5, 1e-40, -3.0]


def _x(draw, shape, dtype="float32"):
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["normal", "special", "scales"]), label="values")
    if kind == "special":
        x = rng.choice(SPECIAL, size=shape)
    elif kind == "scales":
        x = rng.standard_normal(shape) * 10.0 ** rng.integers(-4, 5, size=shape)
    else:
        x = rng.standard_normal(shape)
    return x.astype(dtype)


@st.composite
def windows(draw, *, dilation=True, pooling="max", max_rank=3):
    rank = draw(st.integers(1, max_rank), label="rank")
    kernel = [draw(st.integers(1, 4), label="k") for _ in range(rank)]
    stride = [draw(st.integers(1, 4), label="s") for _ in range(rank)]
    pad = [draw(st.integers(0, k // 2), label="p") if pooling != "lp" else 0 for k in kernel]
    dil = [draw(st.integers(1, 3), label="d") if dilation else 1 for _ in range(rank)]
    spatial = [max(draw(st.integers(1, 8 if rank < 3 else 5), label="n"),
                   d * (k - 1) + 1 - 2 * p) for k, p, d in zip(kernel, pad, dil)]
    batched = draw(st.booleans(), label="batched")
    shape = ((draw(st.integers(1, 2), label="N"),) if batched else ()) + (
        draw(st.integers(1, 3), label="C"), *spatial)
    dtype = draw(st.sampled_from(["float32", "float64"]), label="dtype")
    args = {"kernel_size": tuple(kernel) if draw(st.booleans(), label="tuple") else kernel[0]
            if len(set(kernel)) == 1 else tuple(kernel),
            "stride": draw(st.sampled_from([None, tuple(stride)]), label="stride"),
            "padding": tuple(pad) if len(set(pad)) > 1 else pad[0],
            "ceil_mode": draw(st.booleans(), label="ceil_mode")}
    if pooling == "max":
        args["dilation"] = tuple(dil)
    return _x(draw, tuple(shape), dtype), rank, args


def _torch(name, x, *args, **kwargs):
    out = getattr(F, name)(torch.from_numpy(np.ascontiguousarray(x)), *args, **kwargs)
    return tuple(o.numpy() for o in out) if isinstance(out, tuple) else out.numpy()


@given(windows())
def test_max_pool_and_indices_match_torch(case):
    x, rank, args = case
    name = f"max_pool{rank}d"
    y_t, i_t = _torch(name, x, **args, return_indices=True)
    y, i = getattr(pt, name)(x, **args, return_indices=True)
    assert_bitwise(y, y_t, op=f"dialects.torch.{name}", params=args, arrays={"x": x},
                   what="differs from torch")
    assert_bitwise(i, i_t, op=f"dialects.torch.{name}", params=args, arrays={"x": x},
                   what="indices differ from torch")
    assert_bitwise(getattr(pt, name)(x, **args), _torch(name, x, **args),
                   op=f"dialects.torch.{name}", params=args, arrays={"x": x},
                   what="differs from torch (no indices)")


@given(windows(dilation=False, pooling="avg"), st.data())
def test_avg_pool_matches_torch(case, data):
    x, rank, args = case
    args["count_include_pad"] = data.draw(st.booleans(), label="count_include_pad")
    if rank > 1:
        args["divisor_override"] = data.draw(st.sampled_from([None, None, 1, 3]),
                                             label="divisor_override")
    name = f"avg_pool{rank}d"
    try:
        with np.errstate(invalid="ignore"):
            want = _torch(name, x, **args)
    except RuntimeError as e:         # avg_pool3d: an input smaller than the kernel
        assert rank == 3 and "smaller than kernel size" in str(e)
        with pytest.raises(ValueError, match="kernel_size"):
            getattr(pt, name)(x, **args)
        return
    got = getattr(pt, name)(x, **args)
    assert_bitwise(got, want, op=f"dialects.torch.{name}", params=args, arrays={"x": x},
                   what="differs from torch")


@st.composite
def adaptive_cases(draw):
    rank = draw(st.integers(1, 3), label="rank")
    spatial = [draw(st.integers(1, 9 if rank < 3 else 5), label="n") for _ in range(rank)]
    out = [draw(st.sampled_from([None, 1, 2, 3, n, 2 * n]), label="out") for n in spatial]
    if all(o == 1 for o in out) or (rank == 1 and out[0] is None):
        out[0] = 2                                           # (the bound test below)
    x = _x(draw, (draw(st.integers(1, 2), label="N"), draw(st.integers(1, 3), label="C"),
                  *spatial), draw(st.sampled_from(["float32", "float64"]), label="dtype"))
    size = out[0] if rank == 1 else tuple(out)
    return x, rank, size


@given(adaptive_cases())
def test_adaptive_pooling_matches_torch(case):
    x, rank, size = case
    for name in (f"adaptive_avg_pool{rank}d", f"adaptive_max_pool{rank}d"):
        kw = {"return_indices": True} if "max" in name else {}
        want = _torch(name, x, size, **kw)
        got = getattr(pt, name)(x, size, **kw)
        for g_, w_ in zip(got if kw else (got,), want if kw else (want,)):
            assert_bitwise(g_, w_, op=f"dialects.torch.{name}",
                           params={"output_size": size}, arrays={"x": x},
                           what="differs from torch")


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_adaptive_average_to_one_cell_is_torch_mean_within_bound(rank):
    rng = np.random.default_rng(rank)
    x = (rng.standard_normal((2, 3, *(7,) * rank)) * 100).astype(np.float32)
    name = f"adaptive_avg_pool{rank}d"
    want, got = _torch(name, x, 1), getattr(pt, name)(x, 1)
    bound = error_bound(getattr(pt, name)(np.abs(x).astype(np.float64), 1), 7 ** rank,
                        np.dtype(np.float32))
    c = compare(got, want, bound)
    assert c.ok, str(c)


@given(windows(dilation=False, pooling="lp", max_rank=2), st.data())   # API: lp_pool1d/2d
def test_lp_pool_matches_torch(case, data):
    x, rank, args = case
    del args["padding"]
    if rank == 1:                 # torch's lp_pool1d multiplies by kernel_size: an int only
        args["kernel_size"] = np.ravel(args["kernel_size"])[0].item()
    p = data.draw(st.sampled_from([1, 2, 3, 1.5]), label="norm_type")
    name = f"lp_pool{rank}d"
    with np.errstate(invalid="ignore", over="ignore"):
        want = _torch(name, x, p, **args)
        got = getattr(pt, name)(x, p, **args)
    if p == 1:
        assert_bitwise(got, want, op=f"dialects.torch.{name}", params={"p": p, **args},
                       arrays={"x": x}, what="differs from torch")
        return
    # torch's pow and sqrt (not correctly rounded: registry torch-sqrt-not-correctly-
    # rounded) against NumPy's: a few ulps after the sum, NaN alike
    finite = np.isfinite(want) & np.isfinite(got)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.array_equal(got[~finite & ~np.isnan(got)], want[~finite & ~np.isnan(want)])
    eps = np.finfo(x.dtype).eps
    assert np.all(np.abs(got[finite] - want[finite]) <= 16 * eps * np.abs(want[finite]))


@pytest.mark.parametrize(("call", "param"), [
    (lambda x: pt.max_pool2d(x, 2, padding=2), "padding"),
    (lambda x: pt.avg_pool2d(x, 3, padding=(1, 2)), "padding"),
    (lambda x: pt.max_pool2d(x, 0), "kernel_size"),
    (lambda x: pt.avg_pool2d(x, 2, divisor_override=0), "divisor_override"),
    (lambda x: pt.max_pool1d(x, 2), "x"),
    (lambda x: pt.adaptive_avg_pool2d(x, (1, 2, 3)), "output_size"),
    (lambda x: pt.lp_pool2d(x, 0, 2), "norm_type"),
])
def test_bad_arguments_name_the_parameter(call, param):
    x = np.zeros((1, 2, 4, 4), np.float32)
    with pytest.raises((ValueError, TypeError), match=param):
        call(x)


def test_channels_last_adaptive_average_sums_in_another_order():
    """Registry ``torch-adaptive-avg-channels-last-order``: on a channels_last tensor with 8
    or more channels torch's adaptive average (vectorised over channels) is not the
    contiguous kernel's ``sum / kh / kw`` (pooling_ref's): within the bound, not bitwise.
    Max / average pooling and the adaptive maximum of channels_last tensors are bitwise
    (measured on 100 random cases each)."""
    rng = np.random.default_rng(9)
    shape = (1, 16, 6, 10)
    x = (rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4, shape)).astype(np.float32)
    cl = torch.from_numpy(x).contiguous(memory_format=torch.channels_last)
    want = F.adaptive_avg_pool2d(cl, (2, 2)).numpy()
    got = pt.adaptive_avg_pool2d(x, (2, 2))
    assert_bitwise(got, _torch("adaptive_avg_pool2d", x, (2, 2)), op="adaptive_avg_pool2d",
                   params={}, arrays={"x": x}, what="differs from torch (contiguous)")
    bound = error_bound(pt.adaptive_avg_pool2d(np.abs(x).astype(np.float64), (2, 2)), 15,
                        np.dtype(np.float32))
    assert compare(got, want, bound).ok
    reg.expect("torch-adaptive-avg-channels-last-order", not compare(got, want).ok, "torch",
               "channels_last adaptive_avg_pool2d")
    assert_bitwise(pt.max_pool2d(x, 3, 2, 1), F.max_pool2d(cl, 3, 2, 1).numpy(),
                   op="max_pool2d", params={}, arrays={"x": x})
    assert_bitwise(pt.avg_pool2d(x, 3, 2, 1), F.avg_pool2d(cl, 3, 2, 1).numpy(),
                   op="avg_pool2d", params={}, arrays={"x": x})


def test_torch_sqrt_is_not_correctly_rounded():
    """Registry ``torch-sqrt-not-correctly-rounded``: torch's float32 ``sqrt`` (and
    ``pow(0.5)``, which lp_pool2d takes for p = 2) of 3.0926218 is 1.7585851, one ulp
    below the correctly rounded 1.7585852 (NumPy's, and float64's rounded): LP pooling with
    p = 2 matches torch within the bound, not bitwise."""
    v = np.float32(3.0926218)
    correct = np.float32(np.sqrt(np.float64(v)))
    assert np.sqrt(v) == correct
    got = torch.tensor([v] * 16).sqrt().numpy()
    reg.expect("torch-sqrt-not-correctly-rounded", bool((got != correct).any()), "torch",
               f"torch gives {got[0]!r}, correctly rounded {correct!r}")
    x = np.float32([[[1.304, 0.94708097, -0.70373523]]])
    assert_bitwise(pt.lp_pool1d(x, 2, 3), np.float32([[[correct]]]), op="lp_pool1d",
                   params={}, arrays={"x": x}, what="is not the correctly rounded root")


# ----------------------------------------------------------------------------- the oracle


def _wrapped(fn):
    """``torch.nn.functional.<fn>`` as a user wraps it for ``check``: NumPy in and out."""
    def candidate(x, *args, **kwargs):
        y = fn(torch.from_numpy(np.ascontiguousarray(x)), *args, **kwargs)
        return tuple(v.numpy() for v in y) if isinstance(y, tuple) else y.numpy()
    return candidate


@pytest.mark.parametrize("op", [f"torch.{kind}{r}d{tail}" for r in (1, 2, 3)
                                for kind, tail in (("max_pool", ""),
                                                   ("max_pool", "_with_indices"),
                                                   ("avg_pool", ""))])
def test_check_accepts_torch_itself(op):
    """torch's own functions pass the oracle of their dialect with default arguments (and
    the oracle calls them only with arguments they take: avg_pool1d has no
    divisor_override)."""
    import pooling_ref

    name = op.removeprefix("torch.").removesuffix("_with_indices")
    report = pooling_ref.check(_wrapped(getattr(torch.nn.functional, name)), op,
                               timeout=None)
    assert report.passed and report.cases == 100 and report.matched == (None,), str(report)
