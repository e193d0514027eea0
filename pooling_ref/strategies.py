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

import numpy as np
from hypothesis import strategies as st

from .cases import Supports, check_dtype, draw_case
from .ops import spec

__all__ = ["cases"]

#: Case indices drawn: index 0 is the smallest case; sizes and corners vary with it.
MAX_INDEX = 99


def cases(op: str, *, dtype: object = "float32", supports: dict | None = None
          ) -> st.SearchStrategy[tuple[np.ndarray, dict]]:
    """A strategy of ``(x, params)`` pairs for ``op``, drawn like :func:`pooling_ref.check`.

    ``params`` holds every keyword argument (for convolution also ``kernel`` and
    ``bias``), so ``candidate(x, **params)`` is the call; corners, special values and
    tile-straddling sizes come from the same generator as ``check``. ``supports`` restricts
    the draws as in ``check``. Hypothesis shrinks towards case index 0 (the smallest).
    """
    spec(op)
    dt = check_dtype(dtype, op)
    sup = Supports(op, supports)

    @st.composite
    def _draw(draw) -> tuple[np.ndarray, dict]:
        index = draw(st.integers(0, MAX_INDEX), label="case index")
        seed = draw(st.integers(0, 2**32 - 1), label="seed")
        rng = np.random.default_rng(seed)
        case = draw_case(rng, op, index, dt, sup, rng.permutation(64))
        return case.x, dict(case.params)

    return _draw()
