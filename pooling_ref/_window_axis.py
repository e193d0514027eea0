"""One spatial axis of the general window model: the padding, ceil-mode and divisor rules.

>>> axis_window(9, 4, 4, 1, (2, 2), ceil_mode=True)   # 9, k4 s4 p2 ceil: 3 windows
AxisWindow(out=3, before=2, after=2, overhang=0)
>>> axis_window(5, 4, 4, 1, "valid", ceil_mode=True)         # [0..3], [4..7]: 3 past the end
AxisWindow(out=2, before=0, after=3, overhang=3)
>>> axis_window(7, 3, 1, 2, "same_lower")                    # sized from the dilated window
AxisWindow(out=7, before=2, after=2, overhang=0)

Every framework sizes a pooling axis from the same few facts (measured, TF 2.21 / torch
2.13 / onnxruntime 1.32; ``keff = dilation*(window-1) + 1`` is the dilated window):

* ``"valid"`` and explicit pads ``(before, after)``: ``out = floor((n + before + after -
  keff) / stride) + 1``; with ``ceil_mode`` the ``ceil`` of the same quotient, then one less
  if the last window would start in the right padding (``(out-1)*stride >= n + before``:
  torch's and onnxruntime's *drop rule* — a window starts inside the input or the left
  padding). The last ceil-mode window may run past the padded extent: those cells are the
  axis' *overhang*, added to the layout's after-padding so that every window lies in the
  padded array, and never counted as padding (``divisor="padded"``, torch's
  ``count_include_pad``, counts up to ``n + after`` only).
* ``"same"`` (TF, ONNX ``SAME_UPPER``) and ``"same_lower"`` (ONNX ``SAME_LOWER``):
  ``out = ceil(n / stride)``, total padding ``max((out-1)*stride + keff - n, 0)`` — sized
  from the dilated window — with the odd cell after (``"same"``) or before
  (``"same_lower"``). ``ceil_mode`` changes nothing there.

The divisor of average pooling (:func:`normalize_divisor`) is ``"real"`` (the real cells
of the window: TF/Keras, ONNX ``count_include_pad=0``), ``"padded"`` (the cells inside the
padded extent: torch's and ONNX's ``count_include_pad``) or a fixed int (torch's
``divisor_override``).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

__all__ = ["DIVISORS", "PADDINGS", "AxisWindow", "adaptive_bins", "as_int", "axis_window",
           "batch_hint", "check_bool",
           "normalize_divisor", "normalize_pool_padding", "one_axis_padding", "too_large",
           "where"]

#: The padding names of pooling (case-insensitive); explicit pads are pairs per axis.
PADDINGS = ("valid", "same", "same_lower")
#: The divisor rules of average pooling, besides a fixed int.
DIVISORS = ("real", "padded")


def where(op: str | None) -> str:
    """The prefix of an error message: ``"op: "`` (``""`` without an op)."""
    return f"{op}: " if op else ""


def as_int(value: object, name: str, op: str | None) -> int:
    """Return ``value`` as a Python int; reject bools, floats and other non-integers."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{where(op)}{name} must be an int or a tuple of ints, got {value!r} "
            f"(type {type(value).__name__})"
        )
    return int(value)


def batch_hint(rank: int, wanted_rank: int) -> str:
    """The words added to a rank mismatch when the input looks like one example without
    its batch axis (the spatial rank comes from ``x.ndim - 2``).

    >>> batch_hint(1, 2)[-48:]
    'without a batch axis (an HWC image) pass x[None]'
    >>> batch_hint(2, 1)
    ''
    """
    if wanted_rank != rank + 1:
        return ""
    extra = " (an HWC image)" if rank == 1 else ""
    return (f"; x has {rank + 2} dimensions, read as (batch, {rank} spatial, channels): for "
            f"one example without a batch axis{extra} pass x[None]")


def check_bool(value: object, name: str, op: str | None) -> bool:
    """``value`` as a bool (``TypeError`` naming ``name`` for anything but a bool).

    >>> check_bool(True, "ceil_mode", "max_pool")
    True
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where(op)}{name} must be a bool, got {value!r}")
    return bool(value)


def _pad_pair(pair: object, axis: int, padding: object, op: str | None) -> tuple[int, int]:
    if isinstance(pair, (str, bytes)) or not isinstance(pair, (Sequence, np.ndarray)) \
            or len(pair) != 2:
        raise TypeError(
            f"{where(op)}padding must be 'valid', 'same', 'same_lower' or one (before, after) "
            f"pair of ints per spatial axis, got {padding!r} (axis {axis}: {pair!r})")
    before, after = (as_int(v, "padding", op) for v in pair)
    if before < 0 or after < 0:
        raise ValueError(f"{where(op)}padding values must be >= 0, got {padding!r}")
    return before, after


def normalize_pool_padding(padding: object, rank: int, op: str | None = None
                           ) -> str | tuple[tuple[int, int], ...]:
    """A pooling ``padding``: one of :data:`PADDINGS` (case-insensitive) or explicit pads
    ``((before, after), ...)``, one pair per spatial axis.

    >>> normalize_pool_padding("SAME_lower", 2), normalize_pool_padding([(1, 0), (0, 2)], 2)
    ('same_lower', ((1, 0), (0, 2)))
    """
    if isinstance(padding, str):
        p = padding.lower()
        if p not in PADDINGS:
            raise ValueError(f"{where(op)}padding must be one of {PADDINGS} or explicit "
                             f"((before, after), ...) pads, got {padding!r}")
        return p
    if not isinstance(padding, (Sequence, np.ndarray)):
        raise TypeError(f"{where(op)}padding must be one of {PADDINGS} or explicit "
                        f"((before, after), ...) pads, got {padding!r}")
    if len(padding) != rank:
        raise ValueError(f"{where(op)}padding must have one (before, after) pair per spatial "
                         f"axis ({rank}), got {padding!r}")
    return tuple(_pad_pair(pair, axis, padding, op) for axis, pair in enumerate(padding))


def normalize_divisor(divisor: object, op: str | None = None) -> str | int:
    """``"real"``, ``"padded"`` or a fixed int ``>= 1`` (module docstring).

    >>> normalize_divisor("padded"), normalize_divisor(3)
    ('padded', 3)
    """
    if isinstance(divisor, str):
        if divisor not in DIVISORS:
            raise ValueError(f"{where(op)}divisor must be 'real', 'padded' or an int >= 1, "
                             f"got {divisor!r}")
        return divisor
    if isinstance(divisor, (bool, np.bool_)) or not isinstance(divisor, numbers.Integral):
        raise TypeError(f"{where(op)}divisor must be 'real', 'padded' or an int >= 1, got "
                        f"{divisor!r} (type {type(divisor).__name__})")
    if divisor < 1:
        raise ValueError(f"{where(op)}divisor must be 'real', 'padded' or an int >= 1, "
                         f"got {divisor!r}")
    return int(divisor)


def one_axis_padding(padding: object, op: str) -> str | tuple[int, int]:
    """The padding of one axis: a name of :data:`PADDINGS` or a ``(before, after)`` pair."""
    if isinstance(padding, str):
        return normalize_pool_padding(padding, 1, op)
    return normalize_pool_padding((padding,), 1, op)[0]


def too_large(op, window_name, window, span, axis, shape, padding) -> ValueError:
    """The error of a window larger than the (padded) input, naming ``window_name``."""
    where_ = f"spatial axis {axis}" if axis is not None else "the axis"
    if padding == "valid":
        return ValueError(
            f"{where(op)}{window_name} {window!r} (dilated span {span} on {where_}) is larger "
            f"than the input's spatial shape {shape!r} with padding='valid'; the output "
            f"would be empty")
    return ValueError(
        f"{where(op)}{window_name} {window!r} (dilated span {span} on {where_}) is larger "
        f"than the padded input (spatial shape {shape!r}, padding {padding!r}); the output "
        f"would be empty")


class AxisWindow(NamedTuple):
    """One axis' windows: ``out`` outputs; ``before`` / ``after`` the padding cells the
    windows may read (``after`` includes the ceil-mode ``overhang``, the cells past the
    declared padding)."""

    out: int
    before: int
    after: int
    overhang: int


def axis_window(n: int, window: int, stride: int, dilation: int,
                padding: str | tuple[int, int], *, ceil_mode: bool = False) -> AxisWindow:
    """The windows of one axis of length ``n`` (arguments already checked; module
    docstring). An empty axis has no window; a window larger than the padded axis gives
    ``out = 0`` (the caller raises)."""
    keff = dilation * (window - 1) + 1
    if n == 0:
        return AxisWindow(0, 0, 0, 0)
    if padding in ("same", "same_lower"):
        out = -(-n // stride)
        total = max((out - 1) * stride + keff - n, 0)
        small = total // 2
        before = small if padding == "same" else total - small
        return AxisWindow(out, before, total - before, 0)
    before, after = (0, 0) if padding == "valid" else padding
    room = n + before + after - keff
    if room < 0:
        return AxisWindow(0, before, after, 0)
    out = (-(-room // stride) if ceil_mode else room // stride) + 1
    if ceil_mode and (out - 1) * stride >= n + before:      # the drop rule
        out -= 1
    overhang = max((out - 1) * stride + keff - (n + before + after), 0)
    return AxisWindow(out, before, after + overhang, overhang)


def adaptive_bins(n: int, out: int) -> tuple[int, np.ndarray, np.ndarray]:
    """The bins of adaptive pooling of one axis (torch's, which Keras 3 uses): bin ``i`` is
    ``[floor(i*n/out), ceil((i+1)*n/out))``. Returns ``(small, starts, big)``: every bin
    holds ``small = ceil(n/out)`` cells, or ``small + 1`` where ``big`` is True.

    >>> small, starts, big = adaptive_bins(5, 3)          # [0, 2), [1, 4), [3, 5)
    >>> small, starts.tolist(), big.tolist()
    (2, [0, 1, 3], [False, True, False])
    """
    i = np.arange(out, dtype=np.int64)
    starts = np.minimum(i * n // out, n - 1)
    ends = np.minimum(-(-(i + 1) * n // out), n)
    small = -(-n // out)
    return small, starts, ends - starts > small
