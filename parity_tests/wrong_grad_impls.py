"""Deliberately wrong backward passes (and correct ones) for the gradient ops.

Plain NumPy, written independently of ``pooling_ref``'s internals: one loop implementation
per family (max pooling, average pooling, convolution) with switches that introduce exactly
one classic backward-pass mistake. ``WRONG_GRAD`` maps a name to ``(function, ops)`` — the
gradient ops on which that mistake can show; ``CORRECT_GRAD`` maps a name to
``(function, ops)`` for implementations that must pass: the plain loops without a bug and
the Keras/``tf.GradientTape`` wrappers. Candidate signatures (README, "Gradients"):
``f(x, grad_out, **params) -> grad_x`` for pooling, ``f(x, kernel, grad_out, **params) ->
(grad_x, grad_kernel, grad_bias)`` for convolution. Every function is a module attribute
under its own name (reproducer snippets import it).

>>> import numpy as np
>>> x = np.ones((1, 2, 2, 1), np.float32)
>>> g = np.ones((1, 1, 1, 1), np.float32)
>>> max_grad_last_max(x, g, pool_size=2)[0, :, :, 0]     # TF: [[1, 0], [0, 0]]
array([[0., 0.],
       [0., 1.]], dtype=float32)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

__all__ = ["CORRECT_GRAD", "WRONG_GRAD"]


def _tuple(v, r: int) -> tuple[int, ...]:
    return tuple(int(i) for i in v) if isinstance(v, (tuple, list)) else (int(v),) * r


def _axes(spatial, window, strides, dilation, padding):
    """Per axis ``(pad_before, out_length)`` with TF's formulas."""
    result = []
    for n, k, s, d in zip(spatial, window, strides, dilation):
        span = (k - 1) * d + 1
        if padding.lower() == "same":
            out = -(-n // s)
            result.append((max((out - 1) * s + span - n, 0) // 2, out))
        else:
            result.append((0, (n - span) // s + 1))
    return result


def _layout(arrays, data_format):
    cf = data_format == "channels_first"
    return [np.moveaxis(a, 1, -1) if cf else a for a in arrays], cf


def _back(a, cf):
    return np.ascontiguousarray(np.moveaxis(a, -1, 1) if cf else a)


def _order(outs, rank):
    """Output positions in TF's accumulation order (3D: last spatial axis outermost)."""
    pos = list(itertools.product(*(range(o) for o in outs)))
    return sorted(pos, key=lambda p: p[::-1]) if rank == 3 else pos


# ----------------------------------------------------------------------------- pooling


def _np_pool_grad(x, grad_out, pool_size, strides=None, padding="valid",
                  data_format="channels_last", *, kind: str, bugs=frozenset()):
    (xl, gl), cf = _layout((np.asarray(x), np.asarray(grad_out)), data_format)
    r = xl.ndim - 2
    k = _tuple(pool_size, r)
    s = k if strides is None else _tuple(strides, r)
    geo = _axes(xl.shape[1:-1], k, s, (1,) * r, padding)
    pads = [(b, max((o - 1) * st + kk - n - b, 0))
            for (b, o), st, kk, n in zip(geo, s, k, xl.shape[1:-1])]
    zero_pad = "padding_cells" in bugs
    xp = np.pad(xl, ((0, 0), *pads, (0, 0))) if zero_pad else xl
    grad = np.zeros(xp.shape, xl.dtype)
    for pos in _order([o for _, o in geo], r):
        sl = []
        for p, st, kk, (b, _), n in zip(pos, s, k, geo, xl.shape[1:-1]):
            lo = p * st - (0 if zero_pad else b)
            sl.append(slice(lo, lo + kk) if zero_pad else slice(max(lo, 0), min(lo + kk, n)))
        idx = (slice(None), *sl, slice(None))
        win = xp[idx]
        flat = win.reshape(win.shape[0], -1, win.shape[-1])
        up = gl[(slice(None), *pos, slice(None))][:, None, :]
        if kind == "avg":
            count = np.prod(k) if "full_window" in bugs else flat.shape[1]
            contrib = np.broadcast_to(up / xl.dtype.type(count), flat.shape)
        else:
            contrib = np.where(_chosen(flat, r, bugs), up, 0)
            if "split" in bugs:
                contrib = contrib / np.maximum(_chosen(flat, r, bugs).sum(1, keepdims=True), 1)
        contrib = contrib.astype(xl.dtype).reshape(win.shape)
        if "overwrite" in bugs:
            grad[idx] = np.where(contrib != 0, contrib, grad[idx])
        else:
            grad[idx] += contrib
    if zero_pad:
        grad = grad[(slice(None), *(slice(b, b + n) for (b, _), n in
                                    zip(pads, xl.shape[1:-1])), slice(None))]
    return _back(grad, cf)


def _chosen(flat, rank, bugs):
    """TF's rule: 1D/2D the first cell, then only strictly greater cells; 3D every cell with
    ``|x - max| < 1e-5``. Bugs: ``last_max`` (``>=``: the last tied maximum), ``split``
    (every exact maximum)."""
    n, kk, c = flat.shape
    if rank < 3 and "split" not in bugs:
        pick = np.zeros((n, c), int)
        best = flat[:, 0].copy()
        for i in range(1, kk):
            take = flat[:, i] >= best if "last_max" in bugs else flat[:, i] > best
            best = np.where(take, flat[:, i], best)
            pick = np.where(take, i, pick)
        return np.arange(kk)[None, :, None] == pick[:, None, :]
    best = np.full((n, c), np.finfo(flat.dtype).min, flat.dtype)
    for i in range(kk):
        best = np.where(flat[:, i] > best, flat[:, i], best)
    if "last_max" in bugs:
        last = kk - 1 - np.argmax((flat == best[:, None])[:, ::-1], axis=1)
        return np.arange(kk)[None, :, None] == last[:, None, :]
    if "split" in bugs:
        return flat == best[:, None]
    with np.errstate(invalid="ignore"):
        return np.abs(flat - best[:, None]) < flat.dtype.type(1e-5)


# ----------------------------------------------------------------------------- convolution


def _np_conv_grad(x, kernel, grad_out, strides=1, padding="valid",
                  data_format="channels_last", dilation_rate=1, groups=1, *, bugs=frozenset()):
    (xl, gl), cf = _layout((np.asarray(x), np.asarray(grad_out)), data_format)
    w = np.asarray(kernel)
    r = xl.ndim - 2
    s, d = _tuple(strides, r), _tuple(dilation_rate, r)
    ks = w.shape[:r]
    geo = _axes(xl.shape[1:-1], ks, s, d, padding)
    cg, fg = w.shape[-2], w.shape[-1] // groups
    w_x = np.flip(w, axis=tuple(range(r))) if "flip_kernel" in bugs else w
    gx, gk = np.zeros_like(xl), np.zeros_like(w)
    for pos in itertools.product(*(range(o) for _, o in geo)):
        up = gl[(slice(None), *pos, slice(None))]                      # (N, F)
        for tap in itertools.product(*(range(k) for k in ks)):
            at = [p * st + t * dd - b for p, st, t, dd, (b, _) in zip(pos, s, tap, d, geo)]
            if any(a < 0 or a >= n for a, n in zip(at, xl.shape[1:-1])):
                continue                                               # padding: no term
            cell = (slice(None), *at, slice(None))
            for gi in range(groups):
                cs, fs = slice(gi * cg, (gi + 1) * cg), slice(gi * fg, (gi + 1) * fg)
                gx[cell][:, cs] += up[:, fs] @ w_x[tap][:, fs].T
                if not ("missing_group" in bugs and gi == groups - 1):
                    gk[tap][:, fs] += xl[cell][:, cs].T @ up[:, fs]
    return _back(gx, cf), gk, gl.sum(axis=tuple(range(r + 1)))


# ----------------------------------------------------------------------------- Keras


def keras_max_pool_grad(x, grad_out, **params):
    """``tf.GradientTape`` through Keras ``MaxPoolingND`` (eager)."""
    from pooling_ref import keras_ref

    return keras_ref.pool_grad("Max", x, grad_out, **params)


def keras_avg_pool_grad(x, grad_out, **params):
    """``tf.GradientTape`` through Keras ``AveragePoolingND`` (eager)."""
    from pooling_ref import keras_ref

    return keras_ref.pool_grad("Average", x, grad_out, **params)


def keras_conv_grad(x, kernel, grad_out, **params):
    """``tf.GradientTape`` through Keras ``ConvND`` (XLA)."""
    from pooling_ref import keras_ref

    return keras_ref.conv_grad(x, kernel, grad_out, **params)


# ----------------------------------------------------------------------------- registry

WRONG_GRAD: dict[str, tuple[Callable, tuple[str, ...]]] = {}
CORRECT_GRAD: dict[str, tuple[Callable, tuple[str, ...]]] = {}


def _ops(family: str) -> tuple[str, ...]:
    return tuple(f"{family}{r}d_grad" for r in (1, 2, 3))


def _register(table: dict, name: str, base: Callable, ops: tuple[str, ...], **kw) -> None:
    def impl(*args, **params):
        return base(*args, **params, **kw)

    impl.__name__ = impl.__qualname__ = name
    impl.__doc__ = f"{base.__name__} with {kw}"
    globals()[name] = impl
    table[name] = (impl, ops)


def _wrong(name: str, base: Callable, ops: tuple[str, ...], bug: str, **kw) -> None:
    _register(WRONG_GRAD, name, base, ops, bugs=frozenset([bug]), **kw)


_wrong("max_grad_last_max", _np_pool_grad, _ops("max_pool"), "last_max", kind="max")
_wrong("max_grad_split", _np_pool_grad, _ops("max_pool"), "split", kind="max")
_wrong("max_grad_to_padding", _np_pool_grad, _ops("max_pool"), "padding_cells", kind="max")
_wrong("max_grad_overwrites", _np_pool_grad, _ops("max_pool"), "overwrite", kind="max")
_wrong("avg_grad_full_window", _np_pool_grad, _ops("avg_pool"), "full_window", kind="avg")
_wrong("avg_grad_overwrites", _np_pool_grad, _ops("avg_pool"), "overwrite", kind="avg")
_wrong("conv_grad_transposed_kernel", _np_conv_grad, _ops("conv"), "flip_kernel")
_wrong("conv_grad_missing_group", _np_conv_grad, _ops("conv"), "missing_group")

_register(CORRECT_GRAD, "np_max_pool_grad", _np_pool_grad, _ops("max_pool"), kind="max")
_register(CORRECT_GRAD, "np_avg_pool_grad", _np_pool_grad, _ops("avg_pool"), kind="avg")
_register(CORRECT_GRAD, "np_conv_grad", _np_conv_grad, _ops("conv"))
CORRECT_GRAD["keras_max_pool_grad"] = (keras_max_pool_grad, _ops("max_pool"))
CORRECT_GRAD["keras_avg_pool_grad"] = (keras_avg_pool_grad, _ops("avg_pool"))
CORRECT_GRAD["keras_conv_grad"] = (keras_conv_grad, _ops("conv"))
