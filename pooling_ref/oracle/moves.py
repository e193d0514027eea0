"""Shrink moves: candidate simplifications of a failing case, one generator per kind of
move; each op table entry lists the moves of its op (``OpSpec.moves``), most drastic first.

>>> import numpy as np
>>> from pooling_ref.cases import Case
>>> case = Case("max_pool1d", np.zeros((2, 3, 1), np.float32), {"pool_size": 2})
>>> [m.x.shape for m in batch(case)]
[(1, 3, 1), (1, 3, 1)]

Every move keeps the case callable as it was called (a dropped parameter takes its
default); :func:`pooling_ref.oracle.shrinking.shrink` keeps a move only if the case gets
smaller (:meth:`~pooling_ref.cases.Case.size_key`) and still fails.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import numpy as np

from ..cases import Case, forward_case
from ..dtypes import is_float_dtype
from ..padding import normalize_zero_padding

__all__ = ["GRAD_OUT_FILL", "all_moves", "batch", "channels", "conv_channels", "defaults",
           "gradient", "kernel", "padding", "simpler_grad_out", "spatial", "values",
           "window_ints", "zero_padding"]


def all_moves(case: Case) -> Iterator[Case]:
    """Every move of ``case``'s entry, in its order."""
    return itertools.chain.from_iterable(move(case) for move in case.spec.moves)


# ----------------------------------------------------------------------------- helpers


def _axis_of(case: Case, spatial: int) -> int:
    return spatial + (2 if case.channels_first else 1)


def _chan_axis(case: Case) -> int:
    return 1 if case.channels_first else case.x.ndim - 1


def _with(case: Case, x: np.ndarray | None = None, **changes) -> Case:
    params = dict(case.params)
    for k, v in changes.items():
        if v is _DROP:
            params.pop(k, None)
        else:
            params[k] = v
    return Case(case.op, case.x if x is None else x, params, case.corner)


_DROP = object()


def _as_tuple(value, rank: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (int(value),) * rank


def _smaller_ints(name: str, value, rank: int, minimum: int = 1) -> Iterator:
    """Simpler versions of an int-or-tuple parameter: an int if all equal, then decrements."""
    t = _as_tuple(value, rank)
    if isinstance(value, (tuple, list)) and len(set(t)) == 1:
        yield {name: t[0]}
    if isinstance(value, (tuple, list)):
        yield {name: min(t)}
        for i in range(rank):
            if t[i] > minimum:
                yield {name: (*t[:i], t[i] - 1, *t[i + 1:])}
    elif t[0] > minimum:
        yield {name: t[0] - 1}


def _take(a: np.ndarray, axis: int, sl) -> np.ndarray:
    if not isinstance(sl, slice):
        return np.ascontiguousarray(np.take(a, sl, axis=axis))
    idx = [slice(None)] * a.ndim
    idx[axis] = sl
    return np.ascontiguousarray(a[tuple(idx)])


def _drop_one(n: int) -> Iterator:
    """Index sets that remove cells: half (from either end), then one (last, first)."""
    if n > 3:
        yield slice(0, (n + 1) // 2)
        yield slice(n // 2, None)
    yield slice(0, -1)
    yield slice(1, None)

# ----------------------------------------------------------------------------- moves


def batch(case: Case) -> Iterator[Case]:
    """Fewer batch entries."""
    x = case.x
    if x.shape[0] > 1:
        for sl in _drop_one(x.shape[0]):
            yield _with(case, _take(x, 0, sl))


def channels(case: Case) -> Iterator[Case]:
    """Fewer channels (ops whose channels are independent)."""
    x, ca = case.x, _chan_axis(case)
    if x.shape[ca] > 1:
        for sl in _drop_one(x.shape[ca]):
            yield _with(case, _take(x, ca, sl))


def spatial(case: Case) -> Iterator[Case]:
    """Shorter spatial axes."""
    x = case.x
    for s in range(case.rank):
        ax = _axis_of(case, s)
        if x.shape[ax] > 1:
            for sl in _drop_one(x.shape[ax]):
                yield _with(case, _take(x, ax, sl))


def kernel(case: Case) -> Iterator[Case]:
    """A smaller kernel (one tap fewer along an axis), then no bias."""
    p = case.params
    k = p["kernel"]
    for s in range(case.rank):
        if k.shape[s] > 1:
            yield _with(case, kernel=_take(k, s, slice(0, -1)))
            yield _with(case, kernel=_take(k, s, slice(1, None)))
    if "bias" in p:
        yield _with(case, bias=_DROP)


def window_ints(case: Case) -> Iterator[Case]:
    """Smaller (then default) ``pool_size``, ``strides``, ``dilation_rate``."""
    p = case.params
    for name in ("pool_size", "strides", "dilation_rate"):
        if name in p:
            for change in _smaller_ints(name, p[name], case.rank):
                yield _with(case, **change)
            yield _with(case, **{name: _DROP})


def padding(case: Case) -> Iterator[Case]:
    """"same" -> "valid" -> the default."""
    if case.params.get("padding") == "same":
        yield _with(case, padding="valid")
    elif case.params.get("padding") == "valid":
        yield _with(case, padding=_DROP)


def defaults(case: Case) -> Iterator[Case]:
    """Parameters back to their defaults: ``groups=1``, ``keepdims``, channels_last."""
    p, x = case.params, case.x
    if p.get("groups") == 1:
        yield _with(case, groups=_DROP)
    if "keepdims" in p:
        yield _with(case, keepdims=_DROP)
    if case.channels_first:
        yield _with(case, np.ascontiguousarray(np.moveaxis(x, 1, -1)),
                    data_format="channels_last")
    if p.get("data_format") == "channels_last":
        yield _with(case, data_format=_DROP)


def values(case: Case) -> Iterator[Case]:
    """Fewer special values: replace non-finite / -0.0 cells by a plain value, one at a time
    (all at once first), so the report keeps only the cell(s) that matter."""
    x = case.x
    if not is_float_dtype(x.dtype) or x.size == 0:
        return
    xf = x.astype(np.float64)
    special = ~np.isfinite(xf) | ((xf == 0) & np.signbit(xf))
    where = np.flatnonzero(special)
    if where.size == 0:
        return
    plain = np.array(1.0, dtype=x.dtype)
    if where.size > 1:
        y = x.copy()
        y[special] = plain
        yield _with(case, y)
    for i in where[:32]:
        y = x.copy()
        y.flat[i] = plain
        yield _with(case, y)


def conv_channels(case: Case) -> Iterator[Case]:
    """Convolution: the last group dropped, fewer input channels and filters per group."""
    ca = _chan_axis(case)
    p, x = case.params, case.x
    k, b = p["kernel"], p.get("bias")
    groups = int(p.get("groups", 1))
    cin_g, filters = k.shape[-2], k.shape[-1]
    f_g = filters // groups
    if groups > 1:                      # drop the last group
        g = groups - 1
        yield _with(case, _take(x, ca, slice(0, g * cin_g)),
                    kernel=_take(k, -1, slice(0, g * f_g)),
                    bias=_DROP if b is None else b[: g * f_g],
                    groups=g if g > 1 else _DROP)
    for keep_in in _keep_counts(cin_g):          # fewer input channels in each group
        keep = [gi * cin_g + c for gi in range(groups) for c in range(keep_in)]
        yield _with(case, _take(x, ca, keep), kernel=_take(k, -2, slice(0, keep_in)))
    for keep_f in _keep_counts(f_g):             # fewer filters in each group
        keep = [gi * f_g + f for gi in range(groups) for f in range(keep_f)]
        yield _with(case, kernel=_take(k, -1, keep),
                    bias=_DROP if b is None else b[keep])


def _keep_counts(n: int) -> list[int]:
    """How many of ``n`` to keep: half first (when large), then one fewer."""
    return ([(n + 1) // 2] if n > 3 else []) + ([n - 1] if n > 1 else [])


def zero_padding(case: Case) -> Iterator[Case]:
    """Zero padding: less padding (one cell fewer on a side), simpler forms."""
    pad = case.params.get("padding", _DROP)
    if pad is _DROP:
        return
    pairs = normalize_zero_padding(pad, case.rank)
    if isinstance(pad, int):
        if pad > 0:
            yield _with(case, padding=pad - 1)
        return
    flat = [v for pair in pairs for v in pair]
    if len(set(flat)) == 1:
        yield _with(case, padding=flat[0])
    if all(b == a for b, a in pairs) and any(isinstance(i, (tuple, list)) for i in pad):
        yield _with(case, padding=tuple(b for b, _ in pairs))
    for i, (b, a) in enumerate(pairs):
        for nb, na in ((b - 1, a), (b, a - 1)):
            if min(nb, na) >= 0:
                new = list(pairs)
                new[i] = (nb, na)
                yield _with(case, padding=tuple(new))


# ----------------------------------------------------------------------------- gradient ops
# Shrinking the backward passes (``*_grad`` ops). ``grad_out`` must keep the shape of the
# forward result: moves that slice the batch or (pooling) the channels slice ``x`` and
# ``grad_out`` alike; after any other move ``grad_out`` is re-fitted to the new forward
# result (:func:`_refit_grad_out`).

#: What a re-fitted ``grad_out`` holds where the new forward result is larger than the old.
GRAD_OUT_FILL = 1.0


def gradient(case: Case, *, channels_shared: bool = True) -> Iterator[Case]:
    """The forward op's moves, ``grad_out`` following ``x`` (see the section comment);
    ``channels_shared``: ``x`` and ``grad_out`` have the same channels (pooling; not
    convolution, whose ``grad_out`` has filters). Bind it with ``functools.partial``."""
    x, g = case.x, case.params["grad_out"]
    axes = [0, _chan_axis(case)] if channels_shared else [0]
    for axis in axes:                         # x and grad_out share these axes
        if x.shape[axis] > 1:
            for sl in _drop_one(x.shape[axis]):
                yield _with(case, _take(x, axis, sl), grad_out=_take(g, axis, sl))
    for moved in all_moves(forward_case(case)):   # the forward op's moves (conv: kernel)
        new = Case(case.op, moved.x, {**moved.params, "grad_out": g}, case.corner)
        if any(new.x.shape[a] != x.shape[a] for a in axes if new.x.ndim == x.ndim
               and new.channels_first == case.channels_first):
            continue                          # done above, grad_out sliced alike
        yield _refit_grad_out(case, new)


def simpler_grad_out(case: Case, still_fails: Callable[[Case], bool], steps: int
                      ) -> tuple[Case, int]:
    """Try a ``grad_out`` of ones, then of its values rounded to integers (easier to read)."""
    g = case.params["grad_out"]
    with np.errstate(invalid="ignore"):
        simpler = [np.ones_like(g), np.rint(g).astype(g.dtype)]
    for new_g in simpler:
        if new_g.tobytes() == g.tobytes():
            return case, steps
        new = _with(case, grad_out=new_g)
        if still_fails(new):
            return new, steps + 1
    return case, steps


def _to_last(a: np.ndarray, channels_first: bool) -> np.ndarray:
    return np.moveaxis(a, 1, -1) if channels_first else a


def _refit_grad_out(old: Case, new: Case) -> Case:
    """``new`` with a ``grad_out`` of its forward result's shape: the old ``grad_out``'s
    leading block on every axis (the leading channels of each kept group, as the
    convolution moves keep them; without groups simply the leading channels),
    :data:`GRAD_OUT_FILL` beyond it."""
    fwd = forward_case(new)
    try:
        shape = np.shape(fwd.spec.run_reference(fwd.arrays, fwd.scalar_params))
    except (ValueError, TypeError):
        return new                                  # invalid parameters: rejected anyway
    g_old = old.params["grad_out"]
    if shape == g_old.shape and old.channels_first == new.channels_first:
        return new
    src = _to_last(g_old, old.channels_first)
    dst_shape = (shape[0], *shape[2:], shape[1]) if new.channels_first else shape
    dst = np.full(dst_shape, GRAD_OUT_FILL, dtype=g_old.dtype)
    index = [np.arange(min(a, b)) for a, b in zip(src.shape[:-1], dst_shape[:-1])]
    chans = np.arange(min(src.shape[-1], dst_shape[-1]))
    g0, g1 = int(old.params.get("groups", 1)), int(new.params.get("groups", 1))
    f0, f1 = src.shape[-1] // g0, dst_shape[-1] // g1
    if g1 <= g0 and f1 <= f0:
        chans = np.array([gi * f0 + f for gi in range(g1) for f in range(f1)], int)
    src_idx = np.ix_(*index, chans)
    dst_idx = np.ix_(*index, np.arange(chans.size))
    dst[dst_idx] = src[src_idx]
    grad_out = np.ascontiguousarray(np.moveaxis(dst, -1, 1) if new.channels_first else dst)
    return _with(new, grad_out=grad_out)
