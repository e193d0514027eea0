"""The sizes and parameters of the window ops of issue 21: max pooling with argmax
(:func:`pooling_ref.max_pool_with_argmax`: channels_last only, ``include_batch_in_index``)
and adaptive pooling (``output_size`` bins per axis), drawn like :mod:`pooling_ref._params`.

>>> import numpy as np
>>> from pooling_ref._draw import NumpySource
>>> from pooling_ref.ops import spec
>>> from pooling_ref._supports import Supports
>>> from pooling_ref._params import draft
>>> d = draft(NumpySource(np.random.default_rng(0)), spec("adaptive_avg_pool2d"),
...           Supports("adaptive_avg_pool2d", {"output_size": [(2, 3)]}), "", 4)
>>> d.params["output_size"]
(2, 3)
"""

from __future__ import annotations

from ._draw import Source
from ._params import Draft, _data_format, _int_or_tuple, _Sizes, _spatial, draw_pool
from ._supports import Supports
from .ops import OpSpec

__all__ = ["draw_adaptive", "draw_argmax"]


def draw_argmax(src: Source, s: OpSpec, sz: _Sizes, sup: Supports, corner: str, limit: int
                ) -> Draft:
    """Max pooling's draw in channels_last (TF's op has no ``data_format``), with
    ``include_batch_in_index`` given in about half the cases."""
    d = draw_pool(src, s, sz, sup, corner, limit)
    d.params.pop("data_format", None)
    give, include = src.boolean(0.5), sup.pick(src, "include_batch_in_index", [False, True])
    if give or sup.restricted("include_batch_in_index"):
        d.params["include_batch_in_index"] = include
    return d


def _bins(src: Source, n: int) -> int:
    """An output length for an axis of length ``n``: fewer bins (overlapping ones when
    ``n`` is not a multiple), as many, or more than cells (repeated cells)."""
    kind = src.choice(["fewer", "same", "more"], [0.6, 0.2, 0.2])
    fewer, more = src.integer(1, n), src.integer(1, 2)
    return {"fewer": fewer, "same": n, "more": n + more}[kind]


def draw_adaptive(src: Source, s: OpSpec, sz: _Sizes, sup: Supports, corner: str, limit: int
                  ) -> Draft:
    """Spatial sizes as for pooling, ``output_size`` per axis (an int when all agree and a
    coin says so), the data format."""
    params: dict = {}
    spatial = _spatial(src, sup, s.rank, limit + 1)
    if sz.row:
        spatial[-1] = sz.row
    fixed = sup.value(src, "output_size")
    bins = [_bins(src, n) for n in spatial]
    params["output_size"] = _int_or_tuple(src, bins if fixed is None else fixed)
    _data_format(src, params, sup)
    return Draft(sz.n, sz.c, spatial, params)
