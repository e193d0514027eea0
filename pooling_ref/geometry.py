"""Geometry: argument normalisation, output sizes and "same" padding — all in one place.

Every op in the package (pooling, convolution, im2col, the oracle and the CLI) gets its
sizes and pads from this module, so the formulas below are the single source of truth:

* ``"valid"``: ``out = floor((n - dilation*(window-1) - 1) / stride) + 1``
* ``"same"``:  ``out = ceil(n / stride)``; total pad
  ``max((out-1)*stride + dilation*(window-1) + 1 - n, 0)``, split ``before = total // 2``
  and ``after = total - before`` (TensorFlow puts the odd cell after).

Pooling's general window model (explicit pads, ``"same_lower"``, ``ceil_mode``, dilation,
the divisor rule): per axis :mod:`pooling_ref._window_axis`; a :class:`WindowGeometry`
holds the outcome (``pads`` include the ceil-mode ``overhang``; ``divisor``).

Example:

>>> output_length(5, 2, 2, "valid"), output_length(5, 2, 2, "same")
(2, 3)
>>> same_pads(5, 2, 2)
(0, 1)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._window_axis import (
    adaptive_bins,
    as_int,
    axis_window,
    batch_hint,
    check_bool,
    normalize_divisor,
    normalize_pool_padding,
    one_axis_padding,
    too_large,
    where,
)

__all__ = [
    "WindowGeometry",
    "adaptive_bins",
    "check_strides_dilation",
    "cover_counts",
    "divisor_grid",
    "normalize_data_format",
    "normalize_divisor",
    "normalize_padding",
    "normalize_pool_padding",
    "normalize_tuple",
    "normalize_window_strides",
    "output_length",
    "plan_window",
    "rank3",
    "real_count_grid",
    "same_pads",
]

DATA_FORMATS = ("channels_last", "channels_first")
PADDINGS = ("valid", "same")

_where = where


# ----------------------------------------------------------------------------- scalars


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
    if type(value) is int and value >= minimum:          # the common case, cheaply
        return (value,) * rank
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{_where(op)}{name} must be an int or a tuple of ints, got {value!r}")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (Sequence, np.ndarray)):
        items = tuple(as_int(v, name, op) for v in value)
        if len(items) != rank:
            raise ValueError(
                f"{_where(op)}{name} must be an int or a tuple of {rank} ints for spatial rank "
                f"{rank}, got {value!r} (length {len(items)}){batch_hint(rank, len(items))}"
            )
    else:
        items = (as_int(value, name, op),) * rank
    for v in items:
        if v < minimum:
            raise ValueError(
                f"{_where(op)}{name} values must be >= {minimum}, got {value!r}"
            )
    return items


def normalize_window_strides(window: int | Sequence[int], strides: int | Sequence[int] | None,
                             rank: int, op: str | None = None, *,
                             window_name: str = "pool_size") -> tuple[tuple[int, ...], ...]:
    """``(window, strides)`` normalised to ``rank`` ints each; ``strides=None`` (the Keras
    pooling default) means ``strides = window``.

    >>> normalize_window_strides(2, None, 2)
    ((2, 2), (2, 2))
    >>> normalize_window_strides((3, 2), 1, 2)
    ((3, 2), (1, 1))
    """
    window = normalize_tuple(window, rank, window_name, op)
    strides = window if strides is None else normalize_tuple(strides, rank, "strides", op)
    return window, strides


def check_strides_dilation(strides: tuple[int, ...], dilation: tuple[int, ...],
                           op: str | None = "conv") -> None:
    """Keras forbids strides > 1 together with dilation > 1 (convolution): ``ValueError``.

    >>> check_strides_dilation((2, 1), (1, 2))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: conv: strides > 1 together with dilation_rate > 1 is not supported ...
    """
    if max(strides, default=1) > 1 and max(dilation, default=1) > 1:
        raise ValueError(
            f"{_where(op)}strides > 1 together with dilation_rate > 1 is not supported "
            f"(Keras forbids it), got strides={strides!r} and dilation_rate={dilation!r}")


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


def _axis_args(n, window, stride, dilation, op: str) -> tuple[int, int, int, int]:
    """The arguments of one axis as ints, checked (``n >= 0``, the others ``>= 1``);
    errors name ``op``, the function the user called."""
    n, window, stride, dilation = (as_int(v, name, op) for v, name in (
        (n, "n"), (window, "window"), (stride, "stride"), (dilation, "dilation")))
    if n < 0:
        raise ValueError(f"{op}: n must be >= 0, got {n!r}")
    for name, v in (("window", window), ("stride", stride), ("dilation", dilation)):
        if v < 1:
            raise ValueError(f"{op}: {name} must be >= 1, got {v!r}")
    return n, window, stride, dilation


def output_length(n: int, window: int, stride: int, padding: str, dilation: int = 1, *,
                  ceil_mode: bool = False) -> int:
    """Output length of one spatial axis (the Keras/TF formula, and the general window
    model's: :mod:`pooling_ref._window_axis`).

    valid: ``floor((n - dilation*(window-1) - 1) / stride) + 1``; same: ``ceil(n / stride)``.
    An empty axis (``n == 0``) gives 0 for both paddings, as TF does. A ``"valid"`` window
    larger than a non-empty input raises ``ValueError`` (TF fails there with an obscure
    oneDNN ``AbortedError``). ``padding`` may also be ``"same_lower"`` (the same length) or
    a ``(before, after)`` pair; ``ceil_mode`` rounds up with the drop rule.

    >>> output_length(4, 2, 2, "valid"), output_length(5, 3, 2, "same")
    (2, 3)
    >>> output_length(9, 4, 4, (2, 2)), output_length(9, 4, 4, (2, 2), ceil_mode=True)
    (3, 3)
    >>> output_length(5, 4, 4, "valid", ceil_mode=True)
    2
    """
    n, window, stride, dilation = _axis_args(n, window, stride, dilation, "output_length")
    padding = one_axis_padding(padding, "output_length")
    ceil_mode = check_bool(ceil_mode, "ceil_mode", "output_length")
    w = axis_window(n, window, stride, dilation, padding, ceil_mode=ceil_mode)
    if n and not w.out:
        raise too_large("output_length", "window", window, dilation * (window - 1) + 1,
                         None, (n,), padding)
    return w.out


def same_pads(n: int, window: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """``(before, after)`` zero padding TF/Keras apply for ``padding="same"``.

    >>> same_pads(4, 3, 2)   # total 1: the odd cell goes after
    (0, 1)
    >>> same_pads(5, 4, 1)
    (1, 2)
    """
    n, window, stride, dilation = _axis_args(n, window, stride, dilation, "same_pads")
    w = axis_window(n, window, stride, dilation, "same")
    return (w.before, w.after)


# ----------------------------------------------------------------------------- plans


#: Columns of a tap table row (:attr:`WindowGeometry.taps`).
TAP_LO, TAP_HI, CELL_LO, CELL_HI = range(4)


@dataclass(frozen=True)
class WindowGeometry:
    """Everything a sliding-window op needs about its spatial axes.

    ``pads[i] = (before, after)`` is the padding of spatial axis ``i`` (zero for ``"valid"``);
    window ``j`` along axis ``i`` covers padded positions
    ``j*strides[i] + dilation[i]*t`` for ``t in range(window[i])``.

    Which of those are real input cells is answered in one place, :attr:`taps`; every
    method (loop, im2col, fast, compiled) and convolution reads it from there.

    >>> g = plan_window((5,), (3,), (2,), "same")      # pads (1, 1): windows -1..1, 1..3, 3..5
    >>> g.taps[0]                                      # tap_lo, tap_hi, cell_lo, cell_hi
    array([[1, 3, 0, 2],
           [0, 3, 1, 4],
           [0, 2, 3, 5]])
    >>> [c.tolist() for c in g.real_counts()]
    [[2, 3, 2]]
    """

    in_spatial: tuple[int, ...]
    window: tuple[int, ...]
    strides: tuple[int, ...]
    dilation: tuple[int, ...]
    pads: tuple[tuple[int, int], ...]
    out_spatial: tuple[int, ...]
    #: Per axis, the cells of ``pads[i][1]`` that only a ``ceil_mode`` window reaches,
    #: past the declared padding (``()``: none on any axis).
    overhang: tuple[int, ...] = ()
    #: The divisor rule of average pooling: ``"real"``, ``"padded"`` or a fixed int
    #: (:func:`divisor_grid`).
    divisor: str | int = "real"

    @property
    def rank(self) -> int:
        return len(self.in_spatial)

    @property
    def cells(self) -> int:
        """Number of cells in one window."""
        return math.prod(self.window)

    @property
    def padded(self) -> bool:
        """Whether any spatial axis has padding (some windows hold padding cells)."""
        return any(b or a for b, a in self.pads)

    @property
    def padded_spatial(self) -> tuple[int, ...]:
        return tuple(n + b + a for n, (b, a) in zip(self.in_spatial, self.pads))

    @property
    def overhangs(self) -> tuple[int, ...]:
        """:attr:`overhang` with a zero for every axis."""
        return self.overhang or (0,) * self.rank

    @functools.cached_property
    def taps(self) -> tuple[np.ndarray, ...]:
        """The table of real window taps: per spatial axis, an int64 array ``(out_len, 4)``.

        Row ``o`` of axis ``i`` is ``(tap_lo, tap_hi, cell_lo, cell_hi)``: the window taps
        ``tap_lo <= t < tap_hi`` of output ``o`` land on real input cells, namely
        ``cell_lo, cell_lo + dilation, ...`` up to ``cell_hi`` (exclusive; equal to
        ``cell_lo`` when no tap is real). Tap ``t`` of output ``o`` lands on input cell
        ``o*stride + t*dilation - before``. Computed once per geometry, read-only.
        """
        return tuple(_tap_table(n, k, s, d, b, m) for n, k, s, d, (b, _), m in zip(
            self.in_spatial, self.window, self.strides, self.dilation, self.pads,
            self.out_spatial))

    def padded_counts(self) -> list[np.ndarray]:
        """Per axis, the number of taps of each output window inside the declared padded
        extent ``[-before, n + after)`` (the ceil-mode overhang not counted): the divisor
        of torch's and ONNX's ``count_include_pad``. Read from the tap table of the padded
        axis.

        >>> g = plan_window((5,), (4,), (4,), ((1, 1),), ceil_mode=True)   # [-1..2], [3..6]
        >>> [c.tolist() for c in g.padded_counts()], [c.tolist() for c in g.real_counts()]
        ([[4, 3]], [[3, 2]])
        """
        tables = (_tap_table(n + b + a - h, k, s, d, 0, m) for n, k, s, d, (b, a), h, m in
                  zip(self.in_spatial, self.window, self.strides, self.dilation, self.pads,
                      self.overhangs, self.out_spatial))
        return [t[:, TAP_HI] - t[:, TAP_LO] for t in tables]

    @functools.cached_property
    def tap_outputs(self) -> tuple[np.ndarray, ...]:
        """The tap table read the other way: per spatial axis, an int64 array ``(window, 3)``.

        Row ``t`` is ``(out_lo, out_hi, cell)``: tap ``t`` is real exactly for the outputs
        ``out_lo <= o < out_hi`` (a contiguous range; empty as ``(0, 0, 0)``), and ``cell``
        is the input cell it lands on for ``out_lo``.

        >>> plan_window((5,), (3,), (2,), "same").tap_outputs[0]
        array([[1, 3, 1],
               [0, 3, 0],
               [0, 2, 1]])
        """
        tables = []
        for table, k, s, d, (b, _) in zip(self.taps, self.window, self.strides,
                                          self.dilation, self.pads):
            t = np.arange(k)
            real = (table[:, TAP_LO, None] <= t) & (t < table[:, TAP_HI, None])   # (m, k)
            any_real = real.any(axis=0)
            lo = np.where(any_real, real.argmax(axis=0), 0)
            hi = np.where(any_real, real.shape[0] - real[::-1].argmax(axis=0), 0)
            cell = np.where(any_real, lo * s + t * d - b, 0)
            out = np.stack([lo, hi, cell], axis=1).astype(np.int64)
            out.setflags(write=False)
            tables.append(out)
        return tuple(tables)

    def real_counts(self) -> list[np.ndarray]:
        """Per axis, the number of real (unpadded) cells in each output window."""
        return [table[:, TAP_HI] - table[:, TAP_LO] for table in self.taps]

    @property
    def padded_1d(self) -> bool:
        """Whether this is padded 1D pooling (XLA divides there: ``Rules.divide``)."""
        return self.rank == 1 and self.padded

    def real_taps(self, position: Sequence[int]) -> tuple[slice, ...]:
        """Per axis, the slice of window taps of output ``position`` that are real."""
        return tuple(slice(int(t[p, TAP_LO]), int(t[p, TAP_HI]))
                     for t, p in zip(self.taps, position))

    def real_cells(self, position: Sequence[int]) -> tuple[slice, ...]:
        """Per axis, the slice of input cells hit by the real taps of output ``position``."""
        return tuple(slice(int(t[p, CELL_LO]), int(t[p, CELL_HI]), d)
                     for t, p, d in zip(self.taps, position, self.dilation))


def _tap_table(n: int, k: int, s: int, d: int, before: int, m: int) -> np.ndarray:
    """The tap table of one axis (:attr:`WindowGeometry.taps`), read-only."""
    start = np.arange(m, dtype=np.int64) * s - before        # input cell of tap 0
    lo = np.clip(-(start // d), 0, k)                        # ceil(-start / d)
    hi = np.maximum(np.clip((n - 1 - start) // d + 1, 0, k), lo)
    cell_lo = start + lo * d
    cell_hi = np.where(hi > lo, start + (hi - 1) * d + 1, cell_lo)
    table = np.stack([lo, hi, cell_lo, cell_hi], axis=1)
    table.setflags(write=False)
    return table


def plan_window(
    in_spatial: Sequence[int],
    window: Sequence[int],
    strides: Sequence[int],
    padding: str | tuple[tuple[int, int], ...],
    dilation: Sequence[int] | None = None,
    op: str | None = None,
    *,
    window_name: str = "pool_size",
    ceil_mode: bool = False,
    divisor: str | int = "real",
) -> WindowGeometry:
    """Compute output sizes and pads for already-normalised arguments (``padding``: a name
    of :data:`PADDINGS` or explicit pairs, :func:`normalize_pool_padding`; ``ceil_mode``
    and ``divisor`` as in :mod:`pooling_ref._window_axis`).

    Raises ``ValueError`` naming ``window_name`` when a window does not fit the (padded)
    input. Plans are cached (a geometry is immutable), so repeated calls share one tap
    table.

    >>> g = plan_window((9, 9), (4, 4), (4, 4), ((2, 2), (2, 2)), ceil_mode=True)
    >>> g.out_spatial, g.pads, g.overhangs
    ((3, 3), ((2, 2), (2, 2)), (0, 0))
    """
    rank = len(in_spatial)
    dilation = tuple(dilation) if dilation is not None else (1,) * rank
    return _plan(tuple(in_spatial), tuple(window), tuple(strides), padding, dilation, op,
                 window_name, bool(ceil_mode), divisor)


@functools.lru_cache(maxsize=1024)
def _plan(in_spatial, window, strides, padding, dilation, op, window_name, ceil_mode,
          divisor) -> WindowGeometry:
    axes = []
    for axis, (n, k, s, d) in enumerate(zip(in_spatial, window, strides, dilation)):
        pad = padding if isinstance(padding, str) else padding[axis]
        w = axis_window(n, k, s, d, pad, ceil_mode=ceil_mode)
        if n > 0 and w.out == 0:
            raise too_large(op, window_name, tuple(window), d * (k - 1) + 1, axis,
                             tuple(in_spatial), padding)
        axes.append(w)
    overhang = tuple(w.overhang for w in axes)
    return WindowGeometry(
        tuple(in_spatial), tuple(window), tuple(strides), tuple(dilation),
        tuple((w.before, w.after) for w in axes), tuple(w.out for w in axes),
        overhang if any(overhang) else (), divisor)


def real_count_grid(g: WindowGeometry, dtype: np.dtype) -> np.ndarray:
    """The real-cell count of every output window in ``dtype``, shaped ``(*out_spatial, 1)``
    to broadcast against a channels_last result ``(N, *out_spatial, C)``.

    >>> real_count_grid(plan_window((5,), (3,), (2,), "same"), np.float32)[:, 0].tolist()
    [2.0, 3.0, 2.0]
    """
    return np.broadcast_to(_grid(g.real_counts(), g.rank), g.out_spatial)[
        ..., None].astype(dtype)


def _grid(counts: list[np.ndarray], rank: int) -> np.ndarray:
    """The product over axes of per-axis ``counts``, shaped ``(*out_spatial,)``."""
    total = np.ones((), dtype=np.int64)
    for axis, c in enumerate(counts):
        total = total * c.reshape([c.size if i == axis else 1 for i in range(rank)])
    return total


def divisor_grid(g: WindowGeometry, dtype: np.dtype) -> np.ndarray:
    """The divisor of every average-pooling window under ``g.divisor`` in ``dtype``, shaped
    ``(*out_spatial, 1)`` like :func:`real_count_grid`: the real cells (``"real"``), the
    cells inside the declared padded extent (``"padded"``, :meth:`~WindowGeometry.
    padded_counts`) or the fixed int.

    >>> g = plan_window((5,), (4,), (4,), ((1, 1),), ceil_mode=True, divisor="padded")
    >>> divisor_grid(g, np.float32)[:, 0].tolist()
    [4.0, 3.0]
    """
    if g.divisor == "real":
        return real_count_grid(g, dtype)
    if g.divisor == "padded":
        return np.broadcast_to(_grid(g.padded_counts(), g.rank), g.out_spatial)[
            ..., None].astype(dtype)
    return np.full((*g.out_spatial, 1), g.divisor).astype(dtype)


def cover_counts(g: WindowGeometry) -> np.ndarray:
    """How many (output position, window cell) pairs land on each input cell.

    Shape ``g.in_spatial``. For pooling (no dilation) this is the number of windows
    containing the cell; for convolution, the number of (output, tap) pairs. The product
    over axes of the per-axis counts; each per-axis count is at most
    ``ceil(window / stride)``. Read from the tap table.

    >>> cover_counts(plan_window((5,), (3,), (1,), "valid"))
    array([1, 2, 3, 2, 1])
    """
    total = np.ones((), dtype=np.int64)
    for axis, (n, table, d) in enumerate(zip(g.in_spatial, g.taps, g.dilation)):
        counts = np.zeros(n + 1, np.int64)
        for lo, hi, cell_lo, _ in table.tolist():         # taps lo..hi-1: cells cell_lo + d*i
            counts[cell_lo:cell_lo + d * (hi - lo):d] += 1
        shape = [1] * g.rank
        shape[axis] = n
        total = total * counts[:n].reshape(shape)
    return np.broadcast_to(total, g.in_spatial).copy()


@functools.lru_cache(maxsize=256)
def rank3(g: WindowGeometry) -> WindowGeometry:
    """``g`` with size-1 spatial axes in front, so that it has three spatial axes (the
    compiled kernels' one shape).

    >>> rank3(plan_window((5,), (2,), (2,), "valid")).window
    (1, 1, 2)
    """
    k = 3 - g.rank
    return WindowGeometry((1,) * k + g.in_spatial, (1,) * k + g.window, (1,) * k + g.strides,
                          (1,) * k + g.dilation, ((0, 0),) * k + g.pads,
                          (1,) * k + g.out_spatial,
                          ((0,) * k + g.overhang) if g.overhang else (), g.divisor)
