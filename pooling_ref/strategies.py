"""Hypothesis strategies of oracle cases, for your own property tests (needs Hypothesis).

>>> from hypothesis import given, settings
>>> import pooling_ref
>>> @settings(max_examples=5, database=None)
... @given(cases("max_pool1d"))
... def test_shape(case):
...     x, params = case
...     assert pooling_ref.max_pool(x, **params).ndim == 3
>>> test_shape()

Importing :mod:`pooling_ref` does not import Hypothesis; only this module does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

import numpy as np
from hypothesis import strategies as st

from ._draw import Element, Ints, Normal, NumpySource, Pool, live, pool_array
from ._params import limit
from .cases import LAST_INDEX, Supports, any_case, build_case, check_dtype
from .ops import resolve, spec

__all__ = ["HypothesisSource", "cases"]

T = TypeVar("T")
#: The first this many cells of each array are drawn one by one (each shrinks on its own);
#: the rest come from a NumPy generator seeded by one more draw (Hypothesis caps the data
#: one example may draw).
ELEMENTWISE = 64


def cases(op: str, *, dtype: object = None, supports: dict | None = None
          ) -> st.SearchStrategy[tuple[np.ndarray, dict]]:
    """A strategy of ``(x, params)`` pairs for ``op``, drawn like :func:`pooling_ref.check`.

    ``params`` holds every keyword argument (for convolution also ``kernel`` and
    ``bias``, for gradient ops ``grad_out``), so ``candidate(x, **params)`` is the call.
    Every decision is a Hypothesis draw: the corner class (plain, a special-value class,
    a tile-straddling size), sizes, parameters, where the special values go, and the
    values themselves (the first :data:`ELEMENTWISE` cells of each array one by one, the
    rest from a drawn seed). So Hypothesis shrinks a failure structurally: towards batch
    1, one channel, the smallest spatial sizes and windows, "valid", parameters omitted,
    ints rather than tuples, no special values, simpler values. ``supports`` restricts
    the draws as in ``check`` (``ValueError`` here, not in the test, when it leaves
    nothing to draw).
    """
    op = resolve(op, dtype)            # a dtype alias names the op of that dtype
    s = spec(op)
    dt = check_dtype(dtype, op)
    sup = Supports(op, supports)
    build_case(NumpySource(np.random.default_rng(0)), op, dt, sup, "", limit(LAST_INDEX,
                                                                          s.rank))

    @st.composite
    def _draw(draw) -> tuple[np.ndarray, dict]:
        case = any_case(HypothesisSource(draw), op, dt, sup)
        return case.x, dict(case.params)

    return _draw()


class HypothesisSource:
    """The draw interface of :mod:`pooling_ref._draw` over Hypothesis' ``draw``: each
    decision shrinks towards ``lo``, ``False``, the first option, simpler values."""

    def __init__(self, draw):
        self.draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def boolean(self, p: float) -> bool:
        if p <= 0 or p >= 1:
            return p >= 1
        return self.draw(st.integers(0, 99)) >= round(100 * (1 - p))

    def choice(self, options: Sequence[T], weights: Sequence[float] | None = None) -> T:
        return self.draw(st.sampled_from(live(options, weights)[0]))

    def values(self, shape: tuple[int, ...], dtype: np.dtype, element: Element
               ) -> np.ndarray:
        size = math.prod(shape)
        n = min(size, ELEMENTWISE)
        cells = pool_array(self.draw(st.lists(_cells(element, dtype), min_size=n,
                                              max_size=n)), dtype)
        if size > n:
            seed = self.draw(st.integers(0, 2**32 - 1))
            rest = NumpySource(np.random.default_rng(seed)).values((size - n,), dtype, element)
            cells = np.concatenate([cells, rest])
        return cells.reshape(shape)


def _cells(element: Element, dtype: np.dtype) -> st.SearchStrategy:
    """One cell of ``element``, simplest first (0, the low end of a range, ``options[0]``)."""
    if isinstance(element, Ints):
        return st.integers(element.lo, element.hi)
    if isinstance(element, Pool):
        return st.sampled_from(live(element.options, element.weights)[0])
    assert isinstance(element, Normal)
    # normal numbers of every float dtype drawn (float16's own where it is the dtype)
    width = 16 if dtype == np.float16 else 32
    if element.mode == "mixed":
        return st.floats(-8, 8, allow_subnormal=False, width=width).map(lambda v: v + 0.0)
    magnitude = st.floats(0.25, 8, width=width)
    return magnitude.map(lambda v: -v) if element.mode == "negative" else magnitude
