"""Input checking and the layouts the kernels work in (one place for each).

>>> import numpy as np
>>> x = np.zeros((2, 3, 5, 5))                       # channels_first
>>> to_channels_last(x, "channels_first").shape
(2, 5, 5, 3)
>>> channels_first_work(to_channels_last(x, "channels_first")).shape
(6, 5, 5, 1)
"""

from __future__ import annotations

import functools

import numpy as np

from .dtypes import is_float_dtype

__all__ = ["as_input", "channels_axes", "channels_first_work", "from_channels_last",
           "to_channels_last"]


def as_input(x: object, op: str, name: str = "x", *, rank: int | None = None) -> np.ndarray:
    """``np.asarray(x)`` checked to be a numeric batch of spatial rank 1, 2 or 3, in the
    machine's byte order (the compiled kernels read native numbers only).

    Never modifies ``x``, and copies it only to change its byte order; the result may be
    a read-only view of it.

    >>> as_input(np.zeros((1, 2, 1), ">f4"), "max_pool").dtype.isnative
    True
    """
    a = np.asarray(x)
    if not (a.dtype.kind in "iuf" or is_float_dtype(a.dtype)):
        raise TypeError(
            f"{op}: {name} must be a real numeric array (float or int), "
            f"got dtype {a.dtype.name} ({a.dtype.str})"
        )
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    if rank is None:
        if a.ndim not in (3, 4, 5):
            raise ValueError(
                f"{op}: {name} must have 3, 4 or 5 dimensions (batch, 1-3 spatial axes, "
                f"channels), got shape {a.shape!r}"
            )
    elif a.ndim != rank + 2:
        raise ValueError(
            f"{op}: {name} must have {rank + 2} dimensions for spatial rank {rank}, "
            f"got shape {a.shape!r}"
        )
    return a


@functools.lru_cache(maxsize=16)
def channels_axes(ndim: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(to_last, to_first)``: the ``transpose`` axes that move axis 1 of an ``ndim``-array
    to the end, and back — ``np.moveaxis(x, 1, -1)`` / ``np.moveaxis(y, -1, 1)`` without
    their per-call argument normalisation (several µs, most of a small pooling call).

    >>> channels_axes(4)
    ((0, 2, 3, 1), (0, 3, 1, 2))
    """
    to_last = (0, *range(2, ndim), 1)
    return to_last, (0, ndim - 1, *range(1, ndim - 1))


def to_channels_last(x: np.ndarray, data_format: str) -> np.ndarray:
    """A view of ``x`` in ``(N, *spatial, C)`` layout."""
    if data_format != "channels_first":
        return x
    return x.transpose(channels_axes(x.ndim)[0])


def from_channels_last(y: np.ndarray, data_format: str) -> np.ndarray:
    """``y`` (``(N, *spatial, C)``) back in ``data_format``, as a C-contiguous array."""
    if data_format == "channels_first":
        y = y.transpose(channels_axes(y.ndim)[1])
    return y if y.flags.c_contiguous else np.ascontiguousarray(y)


def channels_first_work(x_cl: np.ndarray) -> np.ndarray | None:
    """The channels_first work layout of the pooling kernels: when ``x_cl`` is the
    channels_last view of a contiguous channels_first array (and not contiguous itself),
    that array as ``(N*C, *spatial, 1)`` — pooled in place, no transposition; else
    ``None``. Undo it on a result with :func:`from_channels_first_work`."""
    if x_cl.flags.c_contiguous:
        return None
    cf = x_cl.transpose(channels_axes(x_cl.ndim)[1])
    if not cf.flags.c_contiguous:
        return None
    return cf.reshape(cf.shape[0] * cf.shape[1], *cf.shape[2:], 1)


def from_channels_first_work(out: np.ndarray, n: int, c: int) -> np.ndarray:
    """A result ``(N*C, *out_spatial, 1)`` of the work layout as a channels_last view."""
    cf = out.reshape(n, c, *out.shape[1:-1])
    return cf.transpose(channels_axes(cf.ndim)[0])
