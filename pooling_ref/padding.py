"""Zero padding with Keras ``ZeroPadding1D/2D/3D`` semantics.

>>> import numpy as np
>>> zero_pad(np.ones((1, 2, 1)), ((1, 2),))[0, :, 0]
array([0., 1., 1., 0., 0.])

Values are copied bit for bit (``-0.0`` stays ``-0.0``, NaN payloads survive); the new
cells are ``+0`` of the input dtype.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import methods
from ._arrays import as_input
from .geometry import as_int, normalize_data_format

__all__ = ["normalize_zero_padding", "zero_pad"]

Padding = int | Sequence[int] | Sequence[Sequence[int]]


def normalize_zero_padding(padding: Padding, rank: int, op: str = "zero_pad") -> tuple:
    """``((before, after),) * rank`` from an int, ``rank`` ints, or ``rank`` pairs.

    >>> normalize_zero_padding(1, 2)
    ((1, 1), (1, 1))
    >>> normalize_zero_padding((1, 2), 2)
    ((1, 1), (2, 2))
    >>> normalize_zero_padding(((0, 1), (2, 3)), 2)
    ((0, 1), (2, 3))

    For rank 1, a pair of ints ``(before, after)`` is accepted too, as in Keras
    ``ZeroPadding1D(padding=(1, 2))``.
    """
    def bad(why: str) -> ValueError:
        return ValueError(
            f"{op}: padding must be an int, a tuple of {rank} ints or a tuple of {rank} "
            f"(before, after) pairs; {why}, got {padding!r}"
        )

    if isinstance(padding, (str, bytes)) or padding is None:
        raise TypeError(f"{op}: padding must be an int or a tuple, got {padding!r}")
    if not isinstance(padding, (Sequence, np.ndarray)):
        v = as_int(padding, "padding", op)
        pairs = ((v, v),) * rank
    else:
        items = list(padding)
        if rank == 1 and len(items) == 2 and not any(
                isinstance(i, (Sequence, np.ndarray)) for i in items):
            items = [tuple(items)]
        if len(items) != rank:
            raise bad(f"expected {rank} entries for spatial rank {rank}")
        pairs = []
        for item in items:
            if isinstance(item, (Sequence, np.ndarray)) and not isinstance(item, (str, bytes)):
                pair = tuple(as_int(v, "padding", op) for v in item)
                if len(pair) != 2:
                    raise bad("each pair must have 2 ints")
            else:
                v = as_int(item, "padding", op)
                pair = (v, v)
            pairs.append(pair)
        pairs = tuple(pairs)
    if any(v < 0 for pair in pairs for v in pair):
        raise bad("values must be >= 0")
    return pairs


def zero_pad(
    x: object,
    padding: Padding = 1,
    data_format: str = "channels_last",
    *,
    method: str = "auto",
) -> np.ndarray:
    """Pad the spatial axes of ``x`` with zeros (Keras ``ZeroPaddingND``).

    >>> import numpy as np
    >>> zero_pad(np.ones((1, 1, 2, 1)), (1, 0))[0, :, :, 0]   # 1 row above and below
    array([[0., 0.],
           [1., 1.],
           [0., 0.]])

    ``padding``: an int (every side of every spatial axis), a tuple of one int per spatial
    axis (symmetric), or a tuple of ``(before, after)`` pairs, one per axis. ``method``:
    ``"loop"``, ``"im2col"`` (a gather), ``"fast"`` or ``"auto"``; all bitwise identical.
    """
    op = "zero_pad"
    a = as_input(x, op)
    pairs = normalize_zero_padding(padding, a.ndim - 2, op)
    fmt = normalize_data_format(data_format, op)
    return methods.run(op, methods.resolve(method, op), a, pairs, fmt)
