"""Models of onnxruntime's registered ``SAME_UPPER`` / ``SAME_LOWER`` pooling, which
:func:`pooling_ref.check` accepts as onnxruntime's own behaviour for the ONNX ops (registry
path ``onnxruntime``).

onnxruntime 1.32 sizes the padding from the raw kernel, not the dilated window
(``onnxruntime-same-dilation-undilated-pad``), and does not clamp a negative total at 0
(``onnxruntime-same-pad-unclamped``): total = (ceil(L / s) - 1) * s + k - L, the head
total / 2 (SAME_UPPER) or (total + 1) / 2 (SAME_LOWER), rounded toward zero, the tail the
rest; the output length follows from those pads like explicit ones (the quotient rounded
toward zero; with ``ceil_mode``, up, then the drop rule).

>>> ort_same_pads([7], [3], [1], "SAME_UPPER")        # dilation 2: the spec pads (2, 2)
[(1, 1)]
>>> ort_same_pads([6], [1], [3], "SAME_LOWER"), ort_same_pads([6], [1], [3], "SAME_UPPER")
([(0, -2)], [(-1, -1)])
>>> ort_output_length(7, 1, 1, 5, 1, False), ort_output_length(1, 1, 0, 3, 1, False)
(5, 0)
"""

from __future__ import annotations

import math

import numpy as np

from .ops import OpSpec

__all__ = ["ort_output_length", "ort_same_pads", "same_pads_model", "same_pads_raise"]

DILATION = "onnxruntime-same-dilation-undilated-pad"
UNCLAMPED = "onnxruntime-same-pad-unclamped"


def _toward_zero(a: int, b: int) -> int:
    return -(-a // b) if a < 0 else a // b


def ort_same_pads(spatial, kernel, strides, auto_pad: str) -> list[tuple[int, int]]:
    """onnxruntime's ``(head, tail)`` padding per axis for ``auto_pad`` SAME_*."""
    pairs = []
    for n, k, s in zip(spatial, kernel, strides):
        total = (-(-n // s) - 1) * s + k - n
        head = _toward_zero(total if auto_pad == "SAME_UPPER" else total + 1, 2)
        pairs.append((head, total - head))
    return pairs


def ort_output_length(n: int, head: int, tail: int, keff: int, stride: int,
                      ceil: bool) -> int:
    """onnxruntime's output length of an axis with pads ``(head, tail)`` (may be <= 0)."""
    span = n + head + tail - keff
    if not ceil:
        return _toward_zero(span, stride) + 1
    out = -(-span // stride) + 1
    return out - 1 if (out - 1) * stride >= n + head else out


def _geometry(scalars: dict, x: np.ndarray):
    """``(entry, pads, outs, keffs, strides)`` of onnxruntime's SAME_* padding where it
    differs from the spec's, else ``None``."""
    auto_pad = scalars.get("auto_pad", "NOTSET")
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        return None
    spatial = x.shape[2:]
    rank = len(spatial)
    kernel = tuple(scalars["kernel_shape"])
    strides = tuple(scalars.get("strides") or (1,) * rank)
    dilations = tuple(scalars.get("dilations") or (1,) * rank)
    pads = ort_same_pads(spatial, kernel, strides, auto_pad)
    if any(d > 1 for d in dilations):
        entry = DILATION
    elif any(h + t < 0 for h, t in pads):
        entry = UNCLAMPED
    else:
        return None
    keffs = [d * (k - 1) + 1 for k, d in zip(kernel, dilations)]
    outs = [ort_output_length(n, h, t, ke, s, bool(scalars.get("ceil_mode", 0)))
            for n, (h, t), ke, s in zip(spatial, pads, keffs, strides)]
    return entry, pads, outs, keffs, strides, kernel, dilations


def _without_cells(spatial, pads, outs, strides, kernel, dilations):
    """Which outputs' windows hold no input cell (onnxruntime's padding can leave one
    empty)."""
    empty_axes = []
    for n, (head, _), out, stride, k, d in zip(spatial, pads, outs, strides, kernel,
                                               dilations):
        start = np.arange(out) * stride - head
        taps = start[:, None] + d * np.arange(k)
        empty_axes.append(~((taps >= 0) & (taps < n)).any(axis=1))
    grids = np.meshgrid(*empty_axes, indexing="ij")
    return np.logical_or.reduce(grids)


def _fill_empty(s: OpSpec, alt, x: np.ndarray, geometry, scalars: dict):
    """onnxruntime's outputs for windows without a cell: the lowest finite value (max;
    its index the plane's offset plus cell (-1, ..., -1) in the storage order: no cell
    was ever taken), 0 (average)."""
    _, pads, outs, _, strides, kernel, dilations = geometry
    empty = _without_cells(x.shape[2:], pads, outs, strides, kernel, dilations)
    if not empty.any():
        return alt
    if s.outputs != 2:
        return np.where(empty, np.zeros((), x.dtype), alt)
    y, indices = alt
    order = "F" if scalars.get("storage_order", 0) == 1 else "C"
    spatial = x.shape[2:]
    weights = [int(np.prod(spatial[a + 1:])) if order == "C" else int(np.prod(spatial[:a]))
               for a in range(len(spatial))]
    n, c = x.shape[:2]
    plane = (np.arange(n)[:, None] * c + np.arange(c)[None, :]) * int(np.prod(spatial))
    first = plane.reshape(n, c, *(1,) * len(spatial)) - sum(weights)
    return (np.where(empty, np.finfo(x.dtype).min, y), np.where(empty, first, indices))


def _reindexed(indices: np.ndarray, cropped: tuple, full: tuple, offsets: list[int],
               order: str) -> np.ndarray:
    """Flat ``(N, C, *spatial)`` indices into the cropped input, as indices into the
    full one (the spatial part in ``order``: ``"C"`` row-major, ``"F"`` column-major)."""
    plane, full_plane = math.prod(cropped), math.prod(full)
    nc, cell = np.divmod(indices, plane)
    coords = np.unravel_index(np.where(indices < 0, 0, cell), cropped, order=order)
    moved = np.ravel_multi_index(tuple(c + o for c, o in zip(coords, offsets)), full,
                                 order=order)
    return np.where(indices < 0, -1, nc * full_plane + moved)


def _explicit(spatial, pads, outs, keffs, strides):
    """``(crop, heads, tails)``: the slices of the input onnxruntime's windows read (a
    negative pad cuts it) and the non-negative pads that give its output lengths."""
    crop, heads, tails = [], [], []
    for n, (head, _), out, keff, stride in zip(spatial, pads, outs, keffs, strides):
        end = (out - 1) * stride - head + keff        # past the last window's last tap
        crop.append(slice(max(-head, 0), min(n, end)))
        heads.append(max(head, 0))
        tails.append(max(end - n, 0))
    return crop, heads, tails


def same_pads_model(entry: str):
    """The model of ``entry``: the op's reference on the input cropped where onnxruntime's
    head / tail padding is negative, with explicit pads giving onnxruntime's output length
    (``None`` where another entry applies, or the output length is negative: it raises)."""
    def model(s: OpSpec, arrays: dict, scalars: dict, result, base):
        x = np.asarray(arrays["x"])
        geometry = _geometry(scalars, x)
        if geometry is None or geometry[0] != entry or min(geometry[2]) < 0:
            return None
        _, pads, outs, keffs, strides, *_ = geometry
        if min(outs) == 0:
            empty = np.zeros((*x.shape[:2], *outs), x.dtype)
            return (empty, np.zeros(empty.shape, np.int64)) if s.outputs == 2 else empty
        crop, heads, tails = _explicit(x.shape[2:], pads, outs, keffs, strides)
        moved = [heads, tails] != [list(p) for p in zip(*pads)] or any(
            c.start or c.stop < n for c, n in zip(crop, x.shape[2:]))
        if scalars.get("count_include_pad") and moved:
            return None                        # onnxruntime's divisor there: not measured
        cropped = x[(slice(None), slice(None), *crop)]
        params = {**scalars, "auto_pad": "NOTSET", "pads": [*heads, *tails], "ceil_mode": 0}
        alt = s.run_reference({"x": cropped}, params)
        if s.outputs == 2:
            order = "F" if scalars.get("storage_order", 0) == 1 else "C"
            alt = alt[0], _reindexed(alt[1], cropped.shape[2:], x.shape[2:],
                                     [c.start for c in crop], order)
        return _fill_empty(s, alt, x, geometry, scalars)
    return model


def same_pads_raise(entry: str):
    """The condition of ``entry`` where onnxruntime raises (an output length < 0:
    'Calculated output dimension is negative')."""
    def applies(s: OpSpec, arrays: dict, scalars: dict, path: str) -> bool:
        geometry = _geometry(scalars, np.asarray(arrays["x"]))
        return geometry is not None and geometry[0] == entry and min(geometry[2]) < 0
    return applies
