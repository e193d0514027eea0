"""The backward mutants of ``wrong_grad_impls`` are meaningful: each differs from pooling_ref
on hand-picked inputs built to expose its mistake, on every op it is registered for, and
each correct implementation (plain loops, Keras/GradientTape) matches on all of them.

(``check`` integration of the gradient ops comes later; this proves the mutants first.)

Comparison: bitwise for max pooling; ``avg_pool_grad_bound`` / ``conv_grad_bounds`` for
the others — a mistake errs by O(|gradient|), far beyond those bounds.
"""

from __future__ import annotations

import numpy as np
import pytest

import pooling_ref as pr
from pooling_ref.tolerance import avg_pool_grad_bound, compare, conv_grad_bounds

from .wrong_grad_impls import CORRECT_GRAD, WRONG_GRAD


def _pool_cases(rank: int):
    """(name, x, params) per rank; grad_out is drawn per case from a fixed seed."""
    rng = np.random.default_rng(rank)
    n = {1: 7, 2: 5, 3: 5}[rank]
    ones = np.ones((2, *(n,) * rank, 2), np.float32)
    distinct = rng.permutation(ones.size).reshape(ones.shape).astype(np.float32)
    negative = -1 - rng.permutation(ones.size).reshape(ones.shape).astype(np.float32)
    ties = rng.integers(0, 2, ones.shape).astype(np.float32)
    cf = np.ascontiguousarray(np.moveaxis(ties, -1, 1))
    return [
        ("ties, overlapping", ones, {"pool_size": 2, "strides": 1}),
        ("distinct, overlapping (a max shared by windows)", distinct,
         {"pool_size": 3, "strides": 1}),
        ("negative, same, pads on both sides", negative,
         {"pool_size": 3, "strides": 2, "padding": "same"}),
        ("ties, stride > window, channels_first", cf,
         {"pool_size": 2, "strides": 3, "data_format": "channels_first"}),
    ]


def _conv_cases(rank: int):
    rng = np.random.default_rng(10 + rank)
    n = {1: 8, 2: 6, 3: 5}[rank]
    x = rng.standard_normal((2, *(n,) * rank, 4)).astype(np.float32)
    k = rng.standard_normal((*(3,) * rank, 2, 4)).astype(np.float32)
    k1 = rng.standard_normal((*(2,) * rank, 4, 3)).astype(np.float32)
    xcf = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    return [
        ("groups 2, same, strided", x, k, {"strides": 2, "padding": "same", "groups": 2}),
        ("groups 1, dilated, channels_first", xcf, k1,
         {"dilation_rate": 2, "data_format": "channels_first"}),
    ]


def _grad_out(shape, seed):
    return np.random.default_rng(seed).integers(-3, 4, shape).astype(np.float32)


def _pool_matches(op_kind, fn, x, params, seed) -> bool:
    forward = pr.max_pool if op_kind == "max" else pr.avg_pool
    g = _grad_out(forward(x, **params).shape, seed)
    ours = (pr.max_pool_grad if op_kind == "max" else pr.avg_pool_grad)(x, g, **params)
    got = np.asarray(fn(x, g, **params))
    if op_kind == "max":
        return compare(got, ours).ok
    return compare(got, ours, avg_pool_grad_bound(x, g, **params)).ok


def _conv_matches(fn, x, k, params, seed) -> bool:
    g = _grad_out(pr.conv(x, k, **params).shape, seed)
    ours = pr.conv_grad(x, k, g, **params)
    got = fn(x, k, g, **params)
    bounds = conv_grad_bounds(x, k, g, **params)
    return all(compare(np.asarray(a), e, b).ok for a, e, b in zip(got, ours, bounds))


def _outcomes(fn, op: str) -> dict[str, bool]:
    """Case name -> whether ``fn`` matches pooling_ref on it, for gradient op ``op``."""
    rank = int(op.split("d_grad")[0][-1])
    if op.startswith("conv"):
        return {name: _conv_matches(fn, x, k, p, i)
                for i, (name, x, k, p) in enumerate(_conv_cases(rank))}
    kind = op.split("_")[0]
    return {name: _pool_matches(kind, fn, x, p, i)
            for i, (name, x, p) in enumerate(_pool_cases(rank))}


WRONG_PAIRS = [(name, op) for name, (_, ops) in WRONG_GRAD.items() for op in ops]
CORRECT_PAIRS = [(name, op) for name, (_, ops) in CORRECT_GRAD.items() for op in ops]


@pytest.mark.parametrize("name,op", WRONG_PAIRS)
def test_wrong_gradient_is_exposed(name, op):
    outcomes = _outcomes(WRONG_GRAD[name][0], op)
    assert outcomes, "no case compared"
    assert not all(outcomes.values()), f"{name} matches pooling_ref on every case for {op}"


@pytest.mark.parametrize("name,op", CORRECT_PAIRS)
def test_correct_gradient_matches(name, op):
    if name.startswith("keras"):
        pytest.importorskip("tensorflow")
    outcomes = _outcomes(CORRECT_GRAD[name][0], op)
    assert outcomes and all(outcomes.values()), f"{name} differs on {op}: {outcomes}"


def test_registry_covers_every_gradient_op():
    ops = {op for _, (_, o) in {**WRONG_GRAD, **CORRECT_GRAD}.items() for op in o}
    assert ops == {f"{f}{r}d_grad" for f in ("max_pool", "avg_pool", "conv") for r in (1, 2, 3)}
