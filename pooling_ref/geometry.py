"""Geometry: argument normalisation, output sizes and "same" padding — all in one place.

Every op in the package (pooling, convolution, im2col, the oracle and the CLI) gets its
sizes and pads from this module, so the formulas below are the single source of truth:

* ``"valid"``: ``out = floor((n - dilation*(window-1) - 1) / stride) + 1``
* ``"same"``:  ``out = ceil(n / stride)``; total pad
  ``max((out-1)*stride + dilation*(window-1) + 1 - n, 0)``, split ``before = total // 2``
  and ``after = total - before`` (TensorFlow puts the odd cell after).

Example:

>>> output_length(5, 2, 2, "valid"), output_length(5, 2, 2, "same")
(2, 3)
>>> same_pads(5, 2, 2)
(0, 1)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "WindowGeometry",
    "normalize_data_format",
    "normalize_padding",
    "normalize_tuple",
    "output_length",
    "plan_window",
    "same_pads",
]

DATA_FORMATS = ("channels_last", "channels_first")
PADDINGS = ("valid", "same")


def _where(op: str | None) -> str:
    return f"{op}: " if op else ""


# ----------------------------------------------------------------------------- scalars


def _as_int(value: object, name: str, op: str | None) -> int:
    """Return ``value`` as a Python int; reject bools, floats and other non-integers."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{_where(op)}{name} must be an int or a tuple of ints, got {value!r} "
            f"(type {type(value).__name__})"
        )
    return int(value)


def normalize_tuple(
    value: int | Sequence[int],
    rank: int,
    name: str,
    op: str | None = None,
    *,
    minimum: int = 1,
) -> tuple[int, ...]:
    """Normalise an int-or-tuple argument (``pool_size``, ``strides``, ...) to ``rank`` ints.

    >>> normalize_tuple(2, 3, "pool_size")
    (2, 2, 2)
    >>> normalize_tuple((2, 3), 2, "strides")
    (2, 3)

    Raises ``TypeError`` for non-integers and ``ValueError`` for a wrong length or a value
    below ``minimum``; the message names the parameter and the value received.
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{_where(op)}{name} must be an int or a tuple of ints, got {value!r}")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (Sequence, np.ndarray)):
        items = tuple(_as_int(v, name, op) for v in value)
        if len(items) != rank:
            raise ValueError(
                f"{_where(op)}{name} must be an int or a tuple of {rank} ints for spatial rank "
                f"{rank}, got {value!r} (length {len(items)})"
            )
    else:
        items = (_as_int(value, name, op),) * rank
    for v in items:
        if v < minimum:
            raise ValueError(
                f"{_where(op)}{name} values must be >= {minimum}, got {value!r}"
            )
    return items


def normalize_padding(padding: str, op: str | None = None) -> str:
    """``"valid"`` or ``"same"``, case-insensitive (as in Keras)."""
    if not isinstance(padding, str):
        raise TypeError(f"{_where(op)}padding must be 'valid' or 'same', got {padding!r}")
    p = padding.lower()
    if p not in PADDINGS:
        raise ValueError(f"{_where(op)}padding must be 'valid' or 'same', got {padding!r}")
    return p


def normalize_data_format(data_format: str | None, op: str | None = None) -> str:
    """``"channels_last"`` (also for ``None``, the Keras default) or ``"channels_first"``."""
    if data_format is None:
        return "channels_last"
    if not isinstance(data_format, str):
        raise TypeError(
            f"{_where(op)}data_format must be 'channels_last' or 'channels_first', "
            f"got {data_format!r}"
        )
    f = data_format.lower()
    if f not in DATA_FORMATS:
        raise ValueError(
            f"{_where(op)}data_format must be 'channels_last' or 'channels_first', "
            f"got {data_format!r}"
        )
    return f


# ----------------------------------------------------------------------------- formulas


def output_length(n: int, window: int, stride: int, padding: str, dilation: int = 1) -> int:
    """Output length of one spatial axis (the Keras/TF formula).

    valid: ``floor((n - dilation*(window-1) - 1) / stride) + 1``; same: ``ceil(n / stride)``.
    An empty axis (``n == 0``) gives 0 for both paddings, as TF does. A ``"valid"`` window
    larger than a non-empty input raises ``ValueError`` (TF fails there with an obscure
    oneDNN ``AbortedError``).

    >>> output_length(4, 2, 2, "valid"), output_length(5, 3, 2, "same")
    (2, 3)
    """
    n = _as_int(n, "n", "output_length")
    window = _as_int(window, "window", "output_length")
    stride = _as_int(stride, "stride", "output_length")
    dilation = _as_int(dilation, "dilation", "output_length")
    padding = normalize_padding(padding, "output_length")
    if n < 0:
        raise ValueError(f"output_length: n must be >= 0, got {n!r}")
    for name, v in (("window", window), ("stride", stride), ("dilation", dilation)):
        if v < 1:
            raise ValueError(f"output_length: {name} must be >= 1, got {v!r}")
    if n == 0:
        return 0
    if padding == "same":
        return -(-n // stride)
    span = dilation * (window - 1) + 1
    if span > n:
        raise ValueError(
            f"output_length: window {window} (dilated span {span}) is larger than the input "
            f"length {n} with padding='valid'; the output would be empty"
        )
    return (n - span) // stride + 1


def same_pads(n: int, window: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """``(before, after)`` zero padding TF/Keras apply for ``padding="same"``.

    >>> same_pads(4, 3, 2)   # total 1: the odd cell goes after
    (0, 1)
    >>> same_pads(5, 4, 1)
    (1, 2)
    """
    out = output_length(n, window, stride, "same", dilation)
    if n == 0:
        return (0, 0)
    total = max((out - 1) * stride + dilation * (window - 1) + 1 - n, 0)
    return (total // 2, total - total // 2)


# ----------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class WindowGeometry:
    """Everything a sliding-window op needs about its spatial axes.

    ``pads[i] = (before, after)`` is the padding of spatial axis ``i`` (zero for ``"valid"``);
    window ``j`` along axis ``i`` covers padded positions
    ``j*strides[i] + dilation[i]*t`` for ``t in range(window[i])``.
    """

    in_spatial: tuple[int, ...]
    window: tuple[int, ...]
    strides: tuple[int, ...]
    dilation: tuple[int, ...]
    pads: tuple[tuple[int, int], ...]
    out_spatial: tuple[int, ...]

    @property
    def rank(self) -> int:
        return len(self.in_spatial)

    @property
    def cells(self) -> int:
        """Number of cells in one window."""
        return math.prod(self.window)

    @property
    def padded_spatial(self) -> tuple[int, ...]:
        return tuple(n + b + a for n, (b, a) in zip(self.in_spatial, self.pads))

    def real_counts(self) -> list[np.ndarray]:
        """Per axis, the number of real (unpadded) cells in each output window."""
        counts = []
        for n, k, s, d, (b, _), m in zip(
            self.in_spatial, self.window, self.strides, self.dilation, self.pads,
            self.out_spatial,
        ):
            pos = np.arange(m)[:, None] * s + np.arange(k)[None, :] * d - b
            counts.append(((pos >= 0) & (pos < n)).sum(axis=1))
        return counts


def plan_window(
    in_spatial: Sequence[int],
    window: Sequence[int],
    strides: Sequence[int],
    padding: str,
    dilation: Sequence[int] | None = None,
    op: str | None = None,
    *,
    window_name: str = "pool_size",
) -> WindowGeometry:
    """Compute output sizes and pads for already-normalised arguments.

    Raises ``ValueError`` naming ``window_name`` when a ``"valid"`` window does not fit.
    """
    rank = len(in_spatial)
    dilation = tuple(dilation) if dilation is not None else (1,) * rank
    out, pads = [], []
    for axis, (n, k, s, d) in enumerate(zip(in_spatial, window, strides, dilation)):
        span = d * (k - 1) + 1
        if padding == "valid" and n > 0 and span > n:
            raise ValueError(
                f"{_where(op)}{window_name} {tuple(window)!r} (dilated span {span} on spatial "
                f"axis {axis}) is larger than the input's spatial shape {tuple(in_spatial)!r} "
                f"with padding='valid'; the output would be empty"
            )
        out.append(output_length(n, k, s, padding, d))
        pads.append(same_pads(n, k, s, d) if padding == "same" else (0, 0))
    return WindowGeometry(
        tuple(in_spatial), tuple(window), tuple(strides), tuple(dilation), tuple(pads),
        tuple(out),
    )
