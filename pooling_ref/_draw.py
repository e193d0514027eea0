"""The randomness behind the oracle's cases: one small draw interface, two sources.

A case is described once (:mod:`pooling_ref.cases`) in terms of a :class:`Source`:

* ``integer(lo, hi)`` — an int in ``lo..hi`` (inclusive); the simplest is ``lo``;
* ``boolean(p)`` — ``True`` with probability ``p``; the simplest is ``False``;
* ``choice(options, weights)`` — one option; the simplest is the first (options of weight 0
  are never drawn);
* ``values(shape, dtype, element)`` — an array whose cells are drawn from ``element``
  (:class:`Normal`, :class:`Ints` or :class:`Pool`).

:class:`NumpySource` draws from a ``numpy.random.Generator`` (what :func:`pooling_ref.check`
and ``pooling-ref verify`` use: reproducible from a seed, no Hypothesis needed);
``pooling_ref.strategies`` has the other source, over Hypothesis' ``data.draw``, so that
Hypothesis shrinks a case structurally (towards the first option, the lowest int, ``False``).

>>> src = NumpySource(np.random.default_rng(0))
>>> a = src.values((2, 3), np.dtype("float32"), Pool((0.0, -0.0)))
>>> a.shape, a.dtype.name, set(np.abs(a).ravel().tolist())
((2, 3), 'float32', {0.0})
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np

__all__ = ["Element", "Ints", "Normal", "NumpySource", "Pool", "Source"]

T = TypeVar("T")


@dataclass(frozen=True)
class Normal:
    """Ordinary finite values: ``"mixed"`` (both signs, about ``N(0, 2)``), ``"negative"``
    or ``"positive"`` (magnitudes of at least 0.25)."""

    mode: str = "mixed"


@dataclass(frozen=True)
class Ints:
    """Integers ``lo..hi`` (stored in the array's dtype, float or int)."""

    lo: int
    hi: int


@dataclass(frozen=True)
class Pool:
    """Values from a short list; ``options[0]`` is the simplest. ``weights``: relative
    probabilities for the NumPy source (``None``: equal)."""

    options: tuple
    weights: tuple | None = None


Element = Normal | Ints | Pool


class Source(Protocol):
    """Where a case's random decisions come from (see the module docstring)."""

    def integer(self, lo: int, hi: int) -> int: ...

    def boolean(self, p: float) -> bool: ...

    def choice(self, options: Sequence[T], weights: Sequence[float] | None = None) -> T: ...

    def values(self, shape: tuple[int, ...], dtype: np.dtype, element: Element
               ) -> np.ndarray: ...


def live(options: Sequence[T], weights: Sequence[float] | None) -> tuple[list[T], list[float]]:
    """The options of positive weight and their weights (``ValueError`` when none)."""
    if weights is None:
        weights = [1.0] * len(options)
    kept = [(o, float(w)) for o, w in zip(options, weights) if w > 0]
    if not kept:
        raise ValueError(f"nothing to choose from: {list(options)!r}")
    return [o for o, _ in kept], [w for _, w in kept]


class NumpySource:
    """A :class:`Source` over ``numpy.random.Generator`` ``rng``."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def integer(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1))

    def boolean(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def choice(self, options: Sequence[T], weights: Sequence[float] | None = None) -> T:
        options, w = live(options, weights)
        if len(options) == 1:
            return options[0]
        cumulative = list(itertools.accumulate(w))
        return options[bisect.bisect_right(cumulative, self.rng.random() * cumulative[-1])]

    def values(self, shape: tuple[int, ...], dtype: np.dtype, element: Element
               ) -> np.ndarray:
        rng = self.rng
        if isinstance(element, Ints):
            return rng.integers(element.lo, element.hi + 1, size=shape).astype(dtype)
        if isinstance(element, Pool):
            options, w = live(element.options, element.weights)
            index = rng.choice(len(options), size=shape, p=np.asarray(w) / sum(w))
            return pool_array(options, dtype)[index]
        a = rng.standard_normal(shape) * 2.0
        if element.mode == "negative":
            a = -(np.abs(a) + 0.25)
        elif element.mode == "positive":
            a = np.abs(a) + 0.25
        return a.astype(dtype)


def pool_array(options: Sequence, dtype: np.dtype) -> np.ndarray:
    """``options`` as a 1-D array of ``dtype`` (integers kept exact: no float detour)."""
    if dtype.kind in "iu":
        return np.array([int(o) for o in options], dtype=object).astype(dtype)
    return np.asarray(options, dtype=np.float64).astype(dtype)
