"""XNNPACK's float32 pooling, as LiteRT's default delegate runs it (x86 SSE/AVX kernels).

The rules, read from XNNPACK's ``f32-maxpool-9p`` / ``f32-avgpool-9p`` microkernels and
their indirection buffers, then measured bit for bit against ``ai-edge-litert`` 2.3.0
(``parity_tests/test_litert_parity.py``):

- a window's cells are read **column by column** (``gather(..., order="column")``), nine
  at a time;
- nine cells are combined as the tree ``((c2 . c3) . (c4 . c5)) . (((c0 . c1) . c8) .
  (c6 . c7))``, where ``.`` is ``+`` (average) or x86 ``maxps`` (maximum: ``a if a > b
  else b``, so a NaN or a tie yields the second operand); a chunk shorter than nine is
  filled with ``+0`` (average) or with its first cell (maximum);
- average: the chunks are added to a running sum that starts at ``+0``; a SAME padding cell
  reads ``+0`` and takes part in the sum; the sum is multiplied by the float32 reciprocal of
  the real-cell count (``1.0f / count``);
- maximum: a padding cell reads the nearest input cell; later chunks are combined with the
  running maximum as ``maxps(previous, chunk)``;
- the activation clamp is ``minps(maxps(v, low), high)`` — a NaN becomes ``low`` (``-inf``
  without an activation), after the first chunk; later max chunks are clamped by ``high``
  only;
- a 1x1 filter with stride 1 is no pooling for the delegate: a copy without an activation
  (NaN, infinities, subnormals kept), else the clamp ``minps(high, maxps(low, v))``, which
  keeps NaN and ``-0`` (:func:`one_cell`);
- the delegate runs with the CPU's denormals-are-zero and flush-to-zero modes: a subnormal
  input reads as a zero of its sign, a subnormal sum or product becomes a zero of its sign.

>>> import numpy as np
>>> x = np.array([np.nan, 1, 2], np.float32).reshape(1, 1, 3, 1)
>>> max_pool(x, (1, 3), (1, 1), "VALID", -np.inf, np.inf).ravel()
array([-inf], dtype=float32)
>>> avg_pool(x, (1, 3), (1, 1), "VALID", -np.inf, np.inf).ravel()
array([-inf], dtype=float32)
"""

from __future__ import annotations

import numpy as np

from ._windows2d import gather

__all__ = ["avg_pool", "delegated", "max_pool", "one_cell", "quantized_range"]

F32 = np.float32


def delegated(filter_size: tuple[int, int], strides: tuple[int, int]) -> bool:
    """Whether LiteRT's XNNPACK delegate takes the pooling node: it declines a stride larger
    than the filter on an axis, and a 1x1 filter with a stride above 1 (the builtin kernel
    runs those)."""
    (fh, fw), (sh, sw) = filter_size, strides
    return sh <= fh and sw <= fw and not (fh == fw == 1 and max(sh, sw) > 1)


def quantized_range(low: float, high: float, scale: float, zero_point: int,
                    dtype: np.dtype) -> tuple[int, int]:
    """XNNPACK's quantized activation bounds (``xnn_qs8_quantize`` / ``xnn_qu8_quantize``):
    ``lrintf(bound / scale + zero_point)`` in float32, saturated to the dtype — rounding half
    to even, where LiteRT's own kernels round ``bound / scale`` half away from zero and then
    add the zero point.

    >>> quantized_range(0.0, 6.0, 0.8, -3, np.dtype("int8"))     # 6 / 0.8 - 3 = 4.5 -> 4
    (-3, 4)
    """
    info = np.iinfo(dtype)

    def quantize(bound: float) -> int:
        with np.errstate(over="ignore"):
            v = F32(bound) / F32(scale) + F32(zero_point)
        return int(np.rint(np.clip(v, F32(info.min), F32(info.max))))

    return quantize(low), quantize(high)


def flush(a: np.ndarray) -> np.ndarray:
    """Subnormals to zeros of the same sign (DAZ on inputs, FTZ on results)."""
    tiny = np.finfo(F32).tiny
    return np.where(np.abs(a) < tiny, np.copysign(F32(0), a), a).astype(F32)


def maxps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x86 ``maxps(a, b)``: ``a`` if ``a > b`` else ``b`` (NaN and ties give ``b``)."""
    return np.where(a > b, a, b)


def minps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x86 ``minps(a, b)``: ``a`` if ``a < b`` else ``b``."""
    return np.where(a < b, a, b)


def clamp(v: np.ndarray, low: float, high: float) -> np.ndarray:
    """XNNPACK's output clamp ``minps(maxps(v, low), high)``."""
    return minps(maxps(v, F32(low)), F32(high)).astype(F32)


def one_cell(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """A 1x1 filter with stride 1 under the delegate (a copy, or the clamp with the operands
    the other way round: a NaN and a -0 pass, subnormals are flushed)."""
    if (low, high) == (-np.inf, np.inf):
        return x.copy()
    return minps(F32(high), maxps(F32(low), flush(x))).astype(F32)


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float32 addition under flush-to-zero."""
    return flush(a + b)


def _tree(c: list[np.ndarray], op) -> np.ndarray:
    """The nine-cell combination of the 9p microkernels."""
    left = op(op(c[2], c[3]), op(c[4], c[5]))
    right = op(op(op(c[0], c[1]), c[8]), op(c[6], c[7]))
    return op(left, right)


def _chunks(cells: np.ndarray, fill: str):
    """The cells in chunks of nine, each as a list of nine arrays; a short chunk is filled
    with ``+0`` (``fill="zero"``) or with its first cell (``"first"``)."""
    k = cells.shape[-1]
    for start in range(0, k, 9):
        chunk = [cells[..., j] for j in range(start, min(start + 9, k))]
        pad = np.zeros_like(chunk[0]) if fill == "zero" else chunk[0]
        yield chunk + [pad] * (9 - len(chunk))


def avg_pool(x: np.ndarray, filter_size, strides, padding: str, low: float,
             high: float) -> np.ndarray:
    """XNNPACK's float32 average pooling (see the module docstring)."""
    w = gather(flush(x), filter_size, strides, padding, order="column")
    cells = np.where(w.real[None, :, :, None, :], w.cells, F32(0))
    total = np.zeros(cells.shape[:-1], F32)
    with np.errstate(over="ignore", invalid="ignore"):
        for chunk in _chunks(cells, "zero"):
            total = flush(total + _tree(chunk, _add))
        if padding == "SAME":
            scale = (F32(1) / w.counts().astype(F32))[None, :, :, None]
        else:
            scale = F32(1) / F32(cells.shape[-1])
        out = flush(total * scale)
    return clamp(out, low, high)


def max_pool(x: np.ndarray, filter_size, strides, padding: str, low: float,
             high: float) -> np.ndarray:
    """XNNPACK's float32 max pooling (see the module docstring)."""
    w = gather(flush(x), filter_size, strides, padding, order="column")
    chunks = _chunks(w.cells, "first")
    out = clamp(_tree(next(chunks), maxps), low, high)
    for chunk in chunks:
        out = minps(maxps(out, _tree(chunk, maxps)), F32(high)).astype(F32)
    return out
