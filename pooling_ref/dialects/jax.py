"""JAX pooling (``jax.lax.reduce_window`` with ``max`` / ``add``, flax's ``avg_pool``) as a
front end of the general window model: jax's argument names, windows over every axis of
``x`` (batch and channels included), NumPy results.

>>> import numpy as np
>>> x = np.float32([[-3, -2, -1, 5]])
>>> reduce_window(x, 0.0, "max", (1, 2), (1, 2), "VALID")          # init_value takes part
array([[0., 5.]], dtype=float32)
>>> reduce_window(x, 1.0, "add", (1, 2), (1, 1), ((0, 0), (1, 1)))   # padding adds nothing
array([[-2., -4., -2.,  5.,  6.]], dtype=float32)
>>> avg_pool(np.float32([1, 2, 3, 4, 5]).reshape(1, 5, 1), (2,), padding="SAME")[0, :, 0]
array([1.5, 2.5, 3.5, 4.5, 2.5], dtype=float32)

Argument translation onto :func:`pooling_ref.max_pool` / :func:`pooling_ref.avg_pool`
(measured against jax 0.10.2 / jaxlib 0.10.2 CPU: ``parity_tests/test_jax_dialect.py``):

* ``padding``: ``"SAME"`` / ``"SAME_LOWER"`` / ``"VALID"`` (any case) -> the core's
  ``"same"`` / ``"same_lower"`` / ``"valid"`` (TF's rule, sized from the dilated window on
  the input's own shape even with base dilation), or explicit ``(lo, hi)`` pairs for every
  axis; a negative pad crops the (base-dilated) input;
* ``base_dilation``: ``b - 1`` holes between neighbouring cells; holes and padding cells
  hold no value: every window is ``init_value`` reduced with its real cells (``add`` with
  ``init_value=1`` adds 1 once per window, a window of padding only gives ``init_value``);
* the axes whose window is trivial (size 1, stride 1, no padding, no base dilation) are
  batch axes of the core; at most three axes may have a non-trivial window;
* special values (jax's XLA CPU): NaN propagates; ``max`` orders ``-0`` below ``+0`` (any
  ``+0`` in a window or ``init_value`` gives ``+0``, whatever the order); subnormals follow
  the core's ``tf_kernel="xla"`` rules (float32, bfloat16 and float64 read and written as
  zeros, float16 kept; a one-cell window at stride 1 with the identity ``init_value`` —
  ``-inf`` for ``max``, ``0`` for ``add`` — and no dilation of either kind is a copy).
  ``add`` sums start from ``+0``
  (jax replaces an ``init_value`` of ``-0`` by its sum's identity ``+0``), each addition
  rounded to ``x``'s dtype (16-bit floats too); ``add`` needs a float ``x``;
* ``avg_pool`` (flax): ``reduce_window(x, 0, "add", (1, *window_shape, 1), ...)`` divided
  by ``prod(window_shape)`` (``count_include_pad=True``, the default) or by the number of
  real cells, which flax computes from a float32 array of ones: a 16-bit input then gives
  a float32 result (jax's type promotion, x64 disabled). jax's XLA CPU divides by
  multiplying with the rounded reciprocal of the divisor (measured: ``a / 6`` is
  ``a * float32(1/6)``, array divisors too), and elides a division by 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .. import pooling as core
from .._window_axis import axis_window, normalize_pool_padding
from ..dtypes import flush_subnormals, is_float_dtype, lowest
from ..geometry import normalize_tuple
from ..rules import rules

__all__ = ["COMPUTATIONS", "avg_pool", "reduce_window", "window_pads"]

#: The reductions of ``reduce_window``; jax's ``lax.max`` / ``lax.add`` are accepted too.
COMPUTATIONS = ("max", "add")
_OP = "jax.reduce_window"


# ----------------------------------------------------------------------------- arguments


def _computation(computation: object) -> str:
    if isinstance(computation, str) and computation in COMPUTATIONS:
        return computation
    name = getattr(computation, "__name__", None)
    if callable(computation) and name in COMPUTATIONS and \
            str(getattr(computation, "__module__", "")).startswith("jax"):
        return name                                          # jax.lax.max / jax.lax.add
    raise ValueError(f"{_OP}: computation must be 'max', 'add', jax.lax.max or jax.lax.add, "
                     f"got {computation!r}")


def _array(x: object, op: str) -> np.ndarray:
    a = np.asarray(x)
    if not (a.dtype.kind in "iuf" or is_float_dtype(a.dtype)):
        raise TypeError(f"{op}: x must be a real numeric array (float or int), got dtype "
                        f"{a.dtype.name}")
    if a.ndim == 0 or 0 in a.shape:
        raise ValueError(f"{op}: x must have at least one axis and no empty axis, got shape "
                         f"{a.shape!r}")
    return a


def _per_axis(value: object, rank: int, name: str, default: int | None = None):
    if value is None and default is not None:
        return (default,) * rank
    if isinstance(value, (int, np.integer)) or not isinstance(value, (Sequence, np.ndarray)):
        raise TypeError(f"{_OP}: {name} must be a sequence of {rank} ints (one per axis of "
                        f"x), got {value!r}")
    return normalize_tuple(tuple(value), rank, name, _OP)


def _init(init_value: object, dtype: np.dtype) -> np.ndarray:
    """``init_value`` as a 0-d array of ``dtype`` (an int dtype needs an integral value)."""
    v = np.asarray(init_value)
    if v.ndim != 0 or not (v.dtype.kind in "iufb" or is_float_dtype(v.dtype)):
        raise TypeError(f"{_OP}: init_value must be a real scalar, got {init_value!r}")
    if is_float_dtype(dtype):
        return np.asarray(v.astype(np.float64) if v.dtype.kind != "f" else v).astype(dtype)
    f = float(v)
    info = np.iinfo(dtype)
    if not math.isfinite(f) or f != int(f) or not info.min <= int(f) <= info.max:
        raise ValueError(f"{_OP}: init_value must be an integer of x's dtype {dtype.name}, "
                         f"got {init_value!r}")
    return np.asarray(int(f), dtype)


def _identity(computation: str, dtype: np.dtype) -> np.ndarray:
    """What a hole of the base dilation holds: a value that changes no reduction
    (``-inf`` / the lowest int for ``max``, ``-0`` for ``add``)."""
    if computation == "add":
        return np.asarray(-0.0, dtype)
    return np.asarray(-np.inf if is_float_dtype(dtype) else lowest(dtype), dtype)


def _is_monoid_init(computation: str, init: np.ndarray) -> bool:
    """Whether jax takes its monoid reducer: ``init_value`` is the reduction's identity."""
    if computation == "add":
        return bool(init == 0)
    return bool(init == _identity("max", init.dtype))


# ----------------------------------------------------------------------------- geometry


def _base_dilated(a: np.ndarray, base: tuple[int, ...], hole: np.ndarray) -> np.ndarray:
    if all(b == 1 for b in base):
        return a
    out = np.full([(n - 1) * b + 1 for n, b in zip(a.shape, base)], hole, a.dtype)
    out[tuple(slice(None, None, b) for b in base)] = a
    return out


def _pairs(padding: object, rank: int):
    """``padding`` as the core's name or explicit ``(lo, hi)`` pairs (negative allowed)."""
    if isinstance(padding, str):
        name = padding.upper()
        if name not in ("SAME", "SAME_LOWER", "VALID"):
            raise ValueError(f"{_OP}: padding must be 'SAME', 'SAME_LOWER', 'VALID' or one "
                             f"(lo, hi) pair per axis of x, got {padding!r}")
        return normalize_pool_padding(name.lower(), rank, _OP)
    if not isinstance(padding, (Sequence, np.ndarray)) or len(padding) != rank or any(
            isinstance(p, str) or not isinstance(p, (Sequence, np.ndarray)) or len(p) != 2
            for p in padding):
        raise ValueError(f"{_OP}: padding must be 'SAME', 'SAME_LOWER', 'VALID' or one "
                         f"(lo, hi) pair per axis of x ({rank}), got {padding!r}")
    return tuple(normalize_tuple(tuple(p), 2, "padding", _OP, minimum=-2**62)
                 for p in padding)


def window_pads(shape: Sequence[int], window_dimensions, window_strides, padding,
                base_dilation=None, window_dilation=None) -> tuple[tuple[int, int], ...]:
    """The ``(lo, hi)`` pads of every axis of an input of ``shape``, as jax applies them
    to its base-dilated extent: what the oracle shows of a case. jax sizes ``"SAME"`` from
    ``shape`` itself (``lax.padtype_to_pads`` of the operand's shape), not from the
    base-dilated extent the windows slide over.

    >>> window_pads((1, 7), (1, 3), (1, 1), "SAME", window_dilation=(1, 2))
    ((0, 0), (2, 2))
    >>> window_pads((3,), (2,), (3,), "SAME", base_dilation=(3,))     # 7 cells: 2 windows
    ((0, 0),)
    """
    rank = len(shape)
    window = _per_axis(window_dimensions, rank, "window_dimensions")
    strides = _per_axis(window_strides, rank, "window_strides")
    _per_axis(base_dilation, rank, "base_dilation", 1)             # checked, not used
    dil = _per_axis(window_dilation, rank, "window_dilation", 1)
    pairs = _pairs(padding, rank)
    if not isinstance(pairs, str):
        return pairs
    # jax sizes them on the input's own shape, not the base-dilated one
    return tuple(axis_window(n, k, s, d, pairs)[1:3]
                 for n, k, s, d in zip(shape, window, strides, dil))


def _crop(a: np.ndarray, pairs) -> tuple[np.ndarray, tuple[tuple[int, int], ...]]:
    """Negative pads applied as crops: ``(a cropped, the pads left, all >= 0)``."""
    index = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for n, (lo, hi) in zip(a.shape, pairs))
    return a[index], tuple((max(lo, 0), max(hi, 0)) for lo, hi in pairs)


# ----------------------------------------------------------------------------- reductions


def _flush(dtype: np.dtype, computation: str) -> bool:
    """Whether jax's XLA CPU reads and writes subnormals of ``dtype`` as zeros (the
    core's ``"xla"`` rules)."""
    kind = "max" if computation == "max" else "avg"
    return is_float_dtype(dtype) and rules("xla", kind, dtype, 2).flush != "none"


def jax_max(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """jax's ``max`` of two arrays: NaN propagates, ``-0`` is below ``+0``.

    >>> jax_max(np.float32([-0.0, 0.0, np.nan]), np.float32([0.0, -0.0, 1]))
    array([ 0.,  0., nan], dtype=float32)
    """
    with np.errstate(invalid="ignore"):
        m = np.maximum(a, b)
        if not is_float_dtype(m.dtype):
            return m
        zeros = (a == 0) & (b == 0)
    both_negative = np.signbit(a) & np.signbit(b)
    return np.where(zeros, np.where(both_negative, -0.0, 0.0).astype(m.dtype), m)


def _sum_rules(dtype: np.dtype, axes: int) -> str | None:
    """The core's rules that sum like jax's XLA CPU ``add`` (measured: every addition
    rounded to the input dtype, 16-bit floats included; float16 subnormals kept, the others
    flushed): ``"xla"`` for float32/64, ``None`` (IEEE) for float16, ``"eigen"`` for
    bfloat16 over at most 2 axes (over 3, whose Eigen rule differs, ``"xla"``: summed in
    float32, within the bound — registry ``jax-bfloat16-sum-over-3-axes``)."""
    if dtype.name == "float16":
        return None
    return "eigen" if dtype.name == "bfloat16" and axes <= 2 else "xla"


def _pool(computation, a, window, strides, pairs, dilation):
    """The core's pooling of ``a`` (no init): the axes with a trivial window folded into
    the batch. One-cell windows at stride 1 with padding get their padding as cells of the
    reduction's identity (the core's one-cell copy rule has no padding)."""
    dilation = tuple(1 if k == 1 else d for k, d in zip(window, dilation))
    if all(k == 1 and s == 1 for k, s in zip(window, strides)) and any(map(any, pairs)):
        a = np.pad(a, pairs, constant_values=_identity(computation, a.dtype))
        pairs = ((0, 0),) * a.ndim
    active = [i for i in range(a.ndim) if window[i] != 1 or strides[i] != 1
              or pairs[i] != (0, 0)] or [a.ndim - 1]
    if len(active) > 3:
        raise ValueError(f"{_OP}: pooling_ref models windows over at most 3 axes; "
                         f"window_dimensions / window_strides / padding reach axes {active}")
    passive = [i for i in range(a.ndim) if i not in active]
    moved = np.transpose(a, passive + active)
    batch = math.prod(moved.shape[:len(passive)])
    xa = moved.reshape(batch, *moved.shape[len(passive):], 1)
    args = ([window[i] for i in active], [strides[i] for i in active],
            tuple(pairs[i] for i in active))
    kw = {"dilation_rate": [dilation[i] for i in active], "tf_kernel": "xla"}
    if computation == "max":
        y = core.max_pool(xa, *args, nan="propagate", **kw)
        y = _plus_zero_wins(y, xa, args, kw)
    else:
        kw["tf_kernel"] = _sum_rules(xa.dtype, len(active))
        y = core.avg_pool(xa, *args, divisor=1, **kw)
    out = y.reshape(*moved.shape[:len(passive)], *y.shape[1:-1])
    return np.transpose(out, np.argsort(passive + active))


def _plus_zero_wins(y, xa, args, kw):
    """jax's ``max`` gives ``+0`` for a zero maximum whenever the window holds a ``+0``
    (the core keeps the first of equal maxima): the windows holding one, found by max
    pooling a 0/1 mask of the (flushed, where the path flushes) input."""
    if not is_float_dtype(y.dtype):
        return y
    read = flush_subnormals(xa) if _flush(xa.dtype, "max") else xa
    plus = ((read == 0) & ~np.signbit(read)).view(np.uint8)
    has_plus = core.max_pool(plus, *args, dilation_rate=kw["dilation_rate"], tf_kernel=None)
    return np.where((y == 0) & (has_plus == 1), np.zeros((), y.dtype), y)


def reduce_window(x, init_value, computation, window_dimensions, window_strides, padding,
                  base_dilation=None, window_dilation=None):
    """``jax.lax.reduce_window`` with ``computation`` ``"max"`` or ``"add"`` (module
    docstring): one window per output over every axis of ``x``.

    >>> import numpy as np
    >>> x = np.float32([1, 2, 3])
    >>> reduce_window(x, 1.0, "add", (2,), (1,), "VALID", base_dilation=(2,))   # holes
    array([2., 3., 3., 4.], dtype=float32)
    """
    a = _array(x, _OP)
    comp = _computation(computation)
    rank = a.ndim
    window = _per_axis(window_dimensions, rank, "window_dimensions")
    strides = _per_axis(window_strides, rank, "window_strides")
    base = _per_axis(base_dilation, rank, "base_dilation", 1)
    dilation = _per_axis(window_dilation, rank, "window_dilation", 1)
    init = _init(init_value, a.dtype)
    if comp == "add" and not is_float_dtype(a.dtype):
        raise TypeError(f"{_OP}: computation 'add' needs a floating x (pooling_ref sums "
                        f"floats only), got dtype {a.dtype.name}")
    pairs = window_pads(a.shape, window, strides, padding, base, dilation)
    dilated, pairs = _crop(_base_dilated(a, base, _identity(comp, a.dtype)), pairs)
    shape = [axis_window(max(n + lo + hi, 1), k, s, d, "valid").out if n + lo + hi > 0
             else 0 for n, k, s, d, (lo, hi) in zip(dilated.shape, window, strides,
                                                     dilation, pairs)]
    if 0 in shape or 0 in dilated.shape:           # no window, or windows of padding only
        return np.full(shape, init, a.dtype)
    with np.errstate(invalid="ignore", over="ignore"):          # IEEE: inf - inf, ...
        y = _pool(comp, dilated, window, strides, pairs, dilation)
    f = flush_subnormals if _flush(a.dtype, comp) else (lambda v: v)
    if any(b > 1 for b in base + dilation):     # a one-cell window is no copy there
        y = f(y)
    if _is_monoid_init(comp, init):
        return y
    with np.errstate(invalid="ignore", over="ignore"):
        both = jax_max(f(init), f(y)) if comp == "max" else (f(init) + f(y)).astype(a.dtype)
    return f(np.asarray(both, a.dtype))


def avg_pool(x, window_shape, strides=None, padding="VALID", count_include_pad=True):
    """``flax.linen.avg_pool`` (module docstring): ``x`` of shape ``(*batch, *window axes,
    features)``; ``padding`` a name or one ``(lo, hi)`` pair per window axis.

    >>> import numpy as np
    >>> x = np.float32([1, 2, 3]).reshape(1, 3, 1)
    >>> [avg_pool(x, (2,), padding=((1, 0),), count_include_pad=c)[0, :, 0].tolist()
    ...  for c in (True, False)]
    [[0.5, 1.5, 2.5], [1.0, 1.5, 2.5]]
    """
    op = "jax.avg_pool"
    if not isinstance(window_shape, (Sequence, np.ndarray)) or isinstance(window_shape, str):
        raise TypeError(f"{op}: window_shape must be a tuple of ints, got {window_shape!r}")
    n = len(window_shape)
    a = _array(x, op)
    if a.ndim < n + 1:
        raise ValueError(f"{op}: x must have shape (*batch, *window axes, features) with "
                         f"{n} window axes, got shape {a.shape!r}")
    if not is_float_dtype(a.dtype):
        raise TypeError(f"{op}: x must have a floating dtype, got {a.dtype.name}")
    if not isinstance(count_include_pad, (bool, np.bool_)):
        raise TypeError(f"{op}: count_include_pad must be a bool, got {count_include_pad!r}")
    window = normalize_tuple(tuple(window_shape), n, "window_shape", op)
    steps = (1,) * n if strides is None else _per_axis(strides, n, "strides")
    lead = a.ndim - n - 1
    if not isinstance(padding, str):
        padding = ((0, 0),) * lead + tuple(map(tuple, padding)) + ((0, 0),) \
            if isinstance(padding, (Sequence, np.ndarray)) and len(padding) == n else padding
    dims, moves = (1,) * lead + window + (1,), (1,) * lead + steps + (1,)
    total = reduce_window(a, 0.0, "add", dims, moves, padding)
    if count_include_pad:
        if math.prod(window) == 1:                      # XLA elides a division by 1
            return total
        divisor = np.asarray(math.prod(window), a.dtype)
    else:
        divisor = reduce_window(np.ones(a.shape, np.float32), 0.0, "add", dims, moves, padding)
    # jax's XLA CPU divides by multiplying with the rounded reciprocal (measured)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        y = total * (np.ones((), divisor.dtype) / divisor)
    return flush_subnormals(y) if _flush(y.dtype, "add") else y
