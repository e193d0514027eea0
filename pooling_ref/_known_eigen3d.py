"""Models of TensorFlow's Eigen 3D pooling (TF_ENABLE_ONEDNN_OPTS=0) where it differs from
the Eigen rules of :mod:`pooling_ref.rules` (used by :mod:`pooling_ref.known`; registry
entries ``eigen-pool3d-same-negative-pad``, ``eigen-max-pool3d-nan-by-packet``,
``eigen-max-pool3d-zero-sign``).

>>> import numpy as np
>>> from pooling_ref.geometry import plan_window
>>> g = plan_window((1, 3, 2), (1, 1, 2), (1, 3, 1), "same")    # H: total pad -2
>>> eigen_shifted_geometry(g, "same").pads                         # row 1, not row 0
((0, 0), (-1, 0), (0, 1))

Eigen's 3D max pooling picks NaN and the sign of a zero maximum by SIMD lane: a lane
inside a full packet keeps the first maximum and ignores NaN, a scalar lane takes every
cell not less than its running maximum (a NaN takes over, the next number replaces it,
the last of equal maxima wins; measured, TF 2.21.0: every pair of [NaN, 1, 2, -inf, +0,
-0] for C = 1, lane 3 of C = 8, lane 8 of C = 9; row-major scan, "same" padding cells read
as the lowest value). Which outputs are packet lanes depends on more than the channel
count (lane 4 of C = 9 and of C = 17 act as scalars on AVX-512 x86), so that is not
modelled: :func:`eigen_max_pool3d_relaxed` accepts, in the cells it decides, the values a
lane of either kind can give, and the max pooling gradient any of the forwards those allow.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from . import apply_rules, methods
from ._arrays import from_channels_last, to_channels_last
from ._known_args import pool_args
from .dtypes import finfo, is_float_dtype
from .geometry import WindowGeometry
from .ops import OpSpec
from .rules import plan_pool
from .windows import real_window_at

__all__ = ["eigen_shifted_geometry", "odd_windows", "scalar_lane_max", "tf_forward"]

_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


# ----------------------------------------------------------------------- negative "same" pad


def eigen_shifted_geometry(g: WindowGeometry, padding: str) -> WindowGeometry | None:
    """The windows TF's Eigen 3D pooling reads for "same" geometry ``g``, or ``None`` where
    they are ``g``'s. Eigen pads ``total // 2`` before (C++ division, truncating) even when
    the total pad ``(out - 1) * stride + window - n`` is negative (a stride larger than the
    window): then the windows start ``-total // 2`` cells *into* the axis (registry
    ``eigen-pool3d-same-negative-pad``; a total of -1 moves nothing). The result has a
    negative pad before on those axes: read it with the loop methods (real cells only).
    "valid" windows are never moved (module docstring: an example).
    """
    if padding != "same":
        return None
    pads, moved = [], False
    for n, k, st, m, pad in zip(g.in_spatial, g.window, g.strides, g.out_spatial, g.pads):
        total = (m - 1) * st + k - n
        if total <= -2:
            pads.append((-((-total) // 2), 0))
            moved = True
        else:
            pads.append(pad)
    return replace(g, pads=tuple(pads)) if moved else None


def tf_forward(kind: str, x_cl: np.ndarray, g: WindowGeometry, padding: str,
               path: str) -> np.ndarray:
    """TF's eager pooling of ``x_cl`` (channels_last) on ``path``: the path's plan
    (:func:`pooling_ref.rules.plan_pool`, applied by :mod:`pooling_ref.apply_rules` around
    the ``"loop"`` kernel), on Eigen 3D over the windows Eigen reads
    (:func:`eigen_shifted_geometry`: the loop reads real cells only, so a negative pad is
    fine there).
    Where Eigen's 3D max pooling follows no rule (NaN, the sign of a zero maximum) this is
    the Eigen rules' value: :func:`eigen_max_pool3d_relaxed` says what TF may give."""
    eigen3d = path == "eigen" and g.rank == 3
    g2 = (eigen_shifted_geometry(g, padding) if eigen3d else None) or g
    plan = plan_pool(path, kind, x_cl.dtype, g2)
    pool = apply_rules.max_pool if kind == "max" else apply_rules.avg_pool
    return pool(x_cl, g2, plan, methods.kernel(f"{kind}_pool", "loop"))


def eigen_negative_pad_pool(s: OpSpec, arrays: dict, scalars: dict, result, base):
    """Eigen 3D max / average pooling, "same" with a negative total pad: the shifted
    windows (:func:`eigen_shifted_geometry`)."""
    x_cl, g, fmt, padding = pool_args(s, arrays, scalars)
    if g.rank != 3 or eigen_shifted_geometry(g, padding) is None \
            or not is_float_dtype(x_cl.dtype):
        return None
    kind = s.family.removesuffix("_pool")
    return from_channels_last(tf_forward(kind, x_cl, g, padding, "eigen"), fmt)


# ------------------------------------------------ Eigen 3D max pooling: NaN and zero sign


def odd_windows(x_cl: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """``(N, *out, C)`` booleans: the windows holding a NaN or no number (only NaN / -inf),
    whose maximum Eigen's 3D kernel decides by SIMD lane."""
    loop = methods.kernel("max_pool", "loop").run
    with np.errstate(invalid="ignore"):
        return (loop((x_cl > -np.inf).view(np.uint8), g) == 0) \
            | (loop(np.isnan(x_cl).view(np.uint8), g) > 0)


def scalar_lane_max(x_cl: np.ndarray, g: WindowGeometry, at: tuple):
    """The maximum a scalar lane of Eigen's 3D max pooling gives for the window of output
    ``at`` (``(n, *pos, c)``): the padded window's cells row-major (a padding cell read as
    the lowest value), each cell not less than the running maximum taking over — so a NaN
    takes over and the next number replaces it, and the last of equal maxima wins
    (module docstring: measured).

    >>> from pooling_ref.geometry import plan_window
    >>> g = plan_window((1, 1, 4), (1, 1, 2), (1, 1, 2), "valid")
    >>> x = np.float32([2, np.nan, np.nan, 1]).reshape(1, 1, 1, 4, 1)
    >>> [float(scalar_lane_max(x, g, (0, 0, 0, w, 0))) for w in (0, 1)]
    [nan, 1.0]
    """
    n, *pos, c = at
    lowest = x_cl.dtype.type(-finfo(x_cl.dtype).max)
    m = x_cl.dtype.type(-np.inf)
    spans = [range(o * st - b, o * st - b + k)
             for o, st, (b, _), k in zip(pos, g.strides, g.pads, g.window)]
    for cell in itertools.product(*spans):
        inside = all(0 <= i < size for i, size in zip(cell, g.in_spatial))
        v = x_cl[(n, *cell, c)] if inside else lowest
        if not v < m:
            m = v
    return m


def _window_values(x_cl: np.ndarray, g: WindowGeometry, result: np.ndarray) -> np.ndarray:
    """Where ``result`` (shaped like the pooling output) equals one of its window's real
    cells."""
    found = np.zeros(result.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        for pos in itertools.product(*(range(m) for m in g.out_spatial)):
            cells = real_window_at(x_cl, pos, g)
            r = result[(slice(None), *pos, slice(None))]
            hit = cells == r[:, None, None, None, :]
            found[(slice(None), *pos, slice(None))] = hit.any(axis=(1, 2, 3))
    return found


def eigen_max_pool3d_relaxed(s: OpSpec, arrays: dict, scalars: dict, result, base, *,
                             nan: bool = True):
    """Eigen's 3D max pooling where it follows no rule (registry
    ``eigen-max-pool3d-nan-by-packet``, ``eigen-max-pool3d-zero-sign``): ``base`` (the
    Eigen rules) with ``result``'s cell taken where TF's is unspecified — a window's zero
    maximum (either sign; a subnormal there, compared as zero), and with ``nan``, a window
    holding a NaN or no number, where TF gives NaN, -inf, the lowest finite value (a
    padding cell) or one of the window's cells, whichever the SIMD packet kept. Nothing
    else is relaxed; ``None`` where nothing is."""
    x_cl, g, fmt, _ = pool_args(s, arrays, scalars)
    got = np.asarray(result)
    if g.rank != 3 or got.shape != np.shape(base) or got.dtype != x_cl.dtype \
            or not is_float_dtype(x_cl.dtype):
        return None
    got_cl = to_channels_last(got, fmt)
    expected = to_channels_last(np.asarray(base), fmt)
    tiny = finfo(x_cl.dtype).tiny
    with np.errstate(invalid="ignore"):
        free = (np.abs(expected) < tiny) & (np.abs(got_cl) < tiny)
        if nan:
            odd = odd_windows(x_cl, g)
            lowest = -finfo(x_cl.dtype).max
            plausible = np.isnan(got_cl) | (got_cl == -np.inf) | (got_cl == lowest) \
                | _window_values(x_cl, g, got_cl)
            nan_free = odd & plausible & (got_cl.view(_UINT[got_cl.dtype.itemsize])
                                          != expected.view(_UINT[got_cl.dtype.itemsize]))
            if not nan_free.any():
                return None                  # nothing of this entry's (zero-sign's only)
            free |= nan_free
    if not free.any():
        return None
    return from_channels_last(np.where(free, got_cl, expected).astype(x_cl.dtype), fmt)


def eigen_max_pool3d_zero_sign(s: OpSpec, arrays: dict, scalars: dict, result, base):
    """:func:`eigen_max_pool3d_relaxed` for the sign of a zero maximum only."""
    return eigen_max_pool3d_relaxed(s, arrays, scalars, result, base, nan=False)
