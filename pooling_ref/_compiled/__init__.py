"""The ``"compiled"`` method: the loop specification compiled with Numba (optional).

One rank-generic kernel serves max and average pooling of every rank: the input is seen as
``(N, D, H, W, C)`` (size-1 axes in front for ranks 1 and 2) and the window taps come from
the geometry's tap table (:attr:`pooling_ref.geometry.WindowGeometry.taps`). The unit of
work is one output row ``(batch item, od, oh)``. Each output sees exactly the loop's
sequence of cells (row-major window order):

* max: start at the dtype's lowest finite value (:func:`pooling_ref.dtypes.lowest`),
  replace only when a cell is strictly greater (NaN ignored, the first of equal maxima
  wins);
* average: ``+0 + cell_0 + cell_1 + ...`` in the input dtype, then one division by the
  real-cell count converted to the dtype.

Loop order by shape (:func:`loop_order`; each order is a compiled function of its own in
:mod:`pooling_ref._compiled._pool_orders`, its steps in :mod:`._steps`):

* many channels (``C >= CHANNELS_INNER_MIN``): each output cell runs over its real window
  cells, 32, 16 or 8 channels at a time (:func:`lane_blocks`), one accumulator per channel
  in registers (:func:`_window_lanes`: eight-lane tuples that LLVM's SLP vectoriser turns
  into vector operations, see :func:`_ready`). Measured against the earlier loop over a
  buffer of accumulators (stored and reloaded at every cell, and not vectorised): 3-4x
  faster on 8 and 16 channels, 1.1-1.4x on 64, one thread;
* 3 channels with window 2 or 3 and stride 2, and one channel (channels_first inputs, seen
  as ``N*C`` items of one channel): per output row, per output and channel, its contiguous
  real cells of each input row. The outputs whose window lies whole in the input
  (:func:`whole_windows`) run with the channel count, window length and stride as
  compile-time constants (LLVM then vectorises across outputs: 0.53-0.61x the time for one
  channel; 0.4x the tap-major time for 3 channels, on ``(8, 224, 224, 3)``);
* other counts of 2 to 7 channels (and one channel with other windows and strides):
  *tap-major* — for each real window row and each window column tap, every output of the
  row whose tap it is, in a channel-major row buffer, so the loop over output positions
  vectorises.

Each order visits the cells of every output in row-major window order, so the loop
specification's results (first of equal maxima, summation order) hold in all of them.

TF kernel path rules are folded into the kernel where they are a per-cell rule, so the
default ``tf_kernel="onednn"`` costs no extra pass over the input: the kernel reads the
call's :class:`pooling_ref.rules.PoolPlan` and declares the plan fields it carries out
(:func:`implements`; :mod:`pooling_ref.apply_rules` applies the others around it):
``flush`` — subnormal cells read as zeros (x86 DAZ), compared as zeros but copied with
their own bits (oneDNN's float32 max), a subnormal average written as zero — and
``empty``, the value of a window without a number, as the start value. Max pooling under
``flush`` runs the plain max step and then computes again only the outputs of a row whose
maximum is zero or subnormal (:func:`._pool_orders._redo_row`: the same cells chosen),
the outputs checked 1,024 at a time (:func:`._pool_orders._redo_rows`).

What made the kernel 3-4x faster (measured): unsigned indices (no negative-index checks in
the inner loop), accumulators in registers, the SLP vectoriser, and, for buffers of
accumulators, never updating one in place — LLVM turns
``acc[c] = max(acc[c], v)`` into a *masked store* (``vmaskmovps``), which is slow on AMD
Zen; reading one half of a small buffer and writing the other compiles to ``vmaxps`` and
plain stores. Also: index arithmetic that mixes ``uint64`` with a signed ``range`` index
is signed again in Numba, and brings the checks back (measured 2x on the one-channel loop).
And a loop over outputs whose taps are strided (``x[lo + j * stride + t]``) gets a count
LLVM can bound (:data:`._pool_orders._ROW_MAX`): with an unbounded count the index might
wrap around, so LLVM gathered the taps one by one instead of loading them as one
interleaved group (measured 2x).

Parallelism (:func:`_launch`): contiguous parts of the output rows go to the package's
thread pool (:mod:`pooling_ref._threads`; the kernels are ``nogil``), which hands them out
dynamically; small inputs (< 2 MiB) run in the calling thread. Numba's ``prange`` is not
used. Its driver as a closure over the kernel is keyed in Numba's disk cache by a
per-process uuid (concurrent pytest-xdist processes overwrote each other's entries and ran
the wrong kernel); a driver function per kernel and signature avoids that, and starts parts
in ~2 us instead of the pool's ~50 ((8, 3, 224, 224) max window 3 back to back: 235 ->
121 us), but its OpenMP threads then spin ~8 ms after every call, and on this VM a call
after a 20 ms pause took 6-8 ms (the pool: 0.1-0.7 ms), so it was dropped.

Half precision (Numba has no float16/bfloat16): max runs on an exact float32 copy and is
cast back (a maximum is one of the inputs, so nothing rounds). float16 averages run on a
float64 copy and round every single ``+`` and the final ``/`` to float16
(:func:`_round_f16`): a float64 sum of two float16 values is exact, and rounding a float64
quotient (53 >= 2*11 + 2 bits) to float16 gives the correctly rounded float16 quotient, so
each step is the float16 operation bit for bit. bfloat16 averages are computed in float32
by the caller, as TF does. Integers (max only) run in their own type.

Also compiled, bit for bit their NumPy specifications: global pooling
(:func:`global_pool`: TF's ``reduce_max`` rule; NumPy's pairwise summation order, run
without recursion) and the pooling gradients (:func:`pool_grad`: every ``ties=`` rule,
overlapping windows added to a cell in the loop's order; half types run NumPy).

Numba is optional: without it (or with ``POOLING_REF_DISABLE_NUMBA=1`` in the environment
when the package is imported) :data:`AVAILABLE` is False and ``"auto"`` picks the NumPy
``"fast"`` method. Kernels are compiled on first use and cached on disk (``cache=True``), so
later processes only load them.

>>> import numpy as np
>>> from pooling_ref.geometry import plan_window
>>> g = plan_window((4,), (2,), (2,), "valid")
>>> x = np.float32([[[-0.0], [0.0], [np.nan], [np.nan]]])
>>> from pooling_ref.rules import plan_pool
>>> plan = plan_pool(None, "max", x.dtype, g)
>>> pool(x, g, plan)[0, :, 0] if AVAILABLE else np.float32([-0.0, -3.4028235e38])
array([-0.0000000e+00, -3.4028235e+38], dtype=float32)
"""

from __future__ import annotations

import functools
import math
import os
from typing import NamedTuple

import numpy as np

from .. import _threads
from .._arrays import channels_axes, channels_first_work, from_channels_first_work
from ..dtypes import finfo, lowest
from ..geometry import WindowGeometry, rank3
from ..rules import PoolPlan
from ._dispatch import _bind, _launch, _ready
from ._modes import (
    _DAZ_MODES,
    _MAX,
    _MAX_CMP,
    _MAX_DAZ,
    _SUM,
    _SUM_DAZ,
    _SUM_F16,
    CHANNELS_INNER,
    GRAD_RULE_CODES,
    ROWS_ORDERS,
    TAP_MAJOR,
)
from ._tables import LANES, lane_blocks, whole_windows

__all__ = ["AVAILABLE", "DISABLE_ENV", "INSTALL_HINT", "LANES", "copies_channels_last",
           "global_pool", "implements", "lane_blocks", "loop_order", "pool", "pool_grad",
           "prepared_pool", "special_cells", "whole_windows"]

#: Environment variable that hides Numba from pooling_ref (read once, at import).
DISABLE_ENV = "POOLING_REF_DISABLE_NUMBA"
#: How to get the compiled method.
INSTALL_HINT = "pip install 'pooling-ref[fast]'"
#: Below this many channels, output positions are the innermost loop.
CHANNELS_INNER_MIN = 8
#: The per-output row loop orders read the other way (:func:`loop_order`).
_ROWS_BY_SHAPE = {cks: order for order, cks in ROWS_ORDERS.items() if cks[1]}


#: Whether ``POOLING_REF_DISABLE_NUMBA`` hid Numba (any value but "" and "0"; read once).
DISABLED_BY_ENV = os.environ.get(DISABLE_ENV, "").strip() not in ("", "0")


def _import_numba():
    if DISABLED_BY_ENV:
        return None
    try:
        import numba
    except ImportError:
        return None
    return numba


_numba = _import_numba()
#: Whether the compiled method can run here (Numba importable and not disabled).
AVAILABLE = _numba is not None

if AVAILABLE:       # the kernels import Numba (optional): only where it is usable
    from ._global import (
        _global_max_contiguous,
        _global_max_rows,
        _global_sum_rows,
        _scan_cells,
    )
    from ._grad import GRAD_KERNELS
    from ._pool_orders import KERNELS

def _plan_mode(plan: PoolPlan) -> tuple[int, np.dtype, object]:
    """``(mode, dtype computed in, start value)`` of the pooling kernel for ``plan``: the
    step of the specification for its dtype, or under the ``flush`` plan field; the
    ``empty`` field is the start value (a window without a number keeps it: ``-inf``
    never replaces ``-inf``, nor the lowest finite value). Max pooling: ``flush="full"``
    compares and returns cells read through DAZ (the maximum of flushed cells is never
    subnormal, so the output flush has nothing left to do); ``"compare"`` compares the
    flushed keys and keeps the chosen cell's own bits (the first of the equal keys, as the
    specification's first-of-equal-maxima rule picks). Average pooling: ``flush`` reads
    cells through DAZ and writes a subnormal average as zero."""
    dtype = plan.dtype
    half = dtype.itemsize == 2 and dtype.kind not in "iu"      # float16, bfloat16
    if plan.op == "max":
        cdtype = np.dtype(np.float32) if half else dtype
        mode = {"none": _MAX, "full": _MAX_DAZ, "compare": _MAX_CMP}[plan.flush]
        start = -np.inf if plan.empty == "-inf" else lowest(dtype)
        return mode, cdtype, np.array(start).astype(cdtype)[()]
    mode = _SUM_F16 if dtype == np.float16 else _SUM
    if plan.flush == "full":
        mode = _SUM_DAZ
    cdtype = np.dtype(np.float64) if mode == _SUM_F16 else dtype
    return mode, cdtype, cdtype.type(0)


@functools.lru_cache(maxsize=256)
def implements(plan: PoolPlan) -> frozenset[str]:
    """The :class:`~pooling_ref.rules.PoolPlan` fields :func:`pool` carries out itself for
    ``plan`` (every other active field makes the caller apply the rules around the
    specification's kernel): max, ``flush`` and ``empty``; average, ``flush`` in float32
    and float64 (a float16 sum under DAZ would need another rounding mode; the summation
    dtype, the reciprocal division and ``skip_lowest`` are left to the caller)."""
    if plan.op == "max":
        return frozenset({"flush", "empty"})
    if plan.dtype.kind == "f" and plan.dtype.itemsize >= 4 and plan.flush in ("none", "full"):
        return frozenset({"flush"})
    return frozenset()


def copies_channels_last(channels: int, out_w: int, nbytes: int) -> bool:
    """Whether a channels_first input of ``nbytes`` is pooled as a channels_last copy
    rather than in its own layout (one channel per row): small inputs with at least 32
    channels and rows of fewer than 8 outputs, where the channels-inner order's vectors
    over channels beat the one-channel rows even with two transpositions. Measured on this
    machine (one thread): (1, 64, 14, 14) average window 3 14.96 -> 9.75 us, (1, 48, 14, 14)
    average window 2 11.5 -> 8.6 with the copy; without it (1, 16, 14, 14) max window 3
    5.9 -> 5.1, (2, 16, 28, 28) max window 3 19.5 -> 13.9, (1, 64, 28, 28) max window 2
    31.4 -> 21.8 (rows of 14 outputs)."""
    return (nbytes < _threads.PARALLEL_MIN_BYTES and out_w < 8
            and channels >= 4 * CHANNELS_INNER_MIN)


def _work_layout(x_cl: np.ndarray, g: WindowGeometry) -> tuple[np.ndarray, bool]:
    """A C-contiguous array to pool: ``x_cl`` itself, its channels_first work layout
    (:func:`pooling_ref._arrays.channels_first_work`; not where
    :func:`copies_channels_last`), or a contiguous copy."""
    if x_cl.flags.c_contiguous:
        return x_cl, False
    if not copies_channels_last(x_cl.shape[-1], g.out_spatial[-1], x_cl.nbytes):
        work = channels_first_work(x_cl)
        if work is not None:
            return work, True
    return np.ascontiguousarray(x_cl), False


def loop_order(channels: int, window_w: int, stride_w: int) -> int:
    """The pooling kernel's loop order for a channel count and the window and stride of
    the last spatial axis (measured, module docstring)."""
    if channels >= CHANNELS_INNER_MIN:
        return CHANNELS_INNER
    fixed = _ROWS_BY_SHAPE.get((channels, window_w, stride_w))
    if fixed is not None:
        return fixed
    return TAP_MAJOR if channels > 1 else min(ROWS_ORDERS)


def pool(x_cl: np.ndarray, g: WindowGeometry, plan: PoolPlan) -> np.ndarray | None:
    """Max or average pooling (``plan.op``) of channels_last ``x_cl``, bit for bit the
    ``"loop"`` method, following the plan fields :func:`implements` names (bit for bit
    :mod:`pooling_ref.apply_rules` applying them around the loop) in the same single pass
    over the input — or ``None`` where the kernel cannot: a bfloat16 sum rounded after
    every addition (Eigen's rule) has no exact float32 emulation here (the caller runs the
    NumPy method, in ml_dtypes' bfloat16), a dilated window (the loop orders step over
    contiguous cells), or a divisor other than the real cells (the loop orders count them).
    """
    dtype = x_cl.dtype
    if _declines(g, plan, dtype):
        return None
    n, c = x_cl.shape[0], x_cl.shape[-1]
    work, channels_first = _work_layout(x_cl, g)
    out_shape = (work.shape[0], *g.out_spatial, work.shape[-1])
    if 0 in out_shape:                   # nothing to compute (nor tap tables to build)
        out = np.empty(out_shape, dtype)
    else:
        launch = _pool_launch(g, plan, work.shape[-1])
        flat = work.astype(launch.dtype, copy=False).reshape(-1)
        out = np.empty(out_shape, launch.dtype)
        _pool_runner(launch, flat, work.shape[0] * launch.rows)(flat, out.reshape(-1))
        out = out.astype(dtype, copy=False)
    if channels_first:
        return from_channels_first_work(out, n, c)
    return out


def _declines(g: WindowGeometry, plan: PoolPlan, dtype: np.dtype) -> bool:
    """Whether :func:`pool` has no kernel for the call (its docstring says why)."""
    return ((plan.op == "avg" and (dtype.kind == "V" or g.divisor != "real"))  # V: bfloat16
            or max(g.dilation, default=1) > 1)


def prepared_pool(g: WindowGeometry, plan: PoolPlan, n: int, c: int, dtype: np.dtype,
                  channels_first: bool):
    """``run(a) -> out``: :func:`pool` of C-contiguous ``(N, *spatial, C)`` inputs ``a``
    of ``dtype`` (``(N, C, *spatial)`` if ``channels_first``), the result in the same
    layout — one output array, one launch (its flat buffer the work layout, or a
    channels_last copy: :func:`copies_channels_last`), its runner (:func:`_pool_runner`)
    kept per input flags; ``None`` where :func:`pool` declines, computes in another dtype
    or in vain."""
    size = n * math.prod(g.out_spatial) * c
    if _declines(g, plan, dtype) or size == 0:
        return None
    copy = channels_first and copies_channels_last(
        c, g.out_spatial[-1], n * c * math.prod(g.in_spatial) * dtype.itemsize)
    in_place = channels_first and not copy            # (N*C, *spatial, 1): no transposes
    batch, channels = (n * c, 1) if in_place else (n, c)
    launch = _pool_launch(g, plan, channels)
    if launch.dtype != dtype:
        return None
    jobs = batch * launch.rows
    shape = (n, c, *g.out_spatial) if in_place else (n, *g.out_spatial, c)
    to_last, to_first = channels_axes(len(shape))
    runners: dict = {}             # flags of the input -> :func:`_pool_runner`'s runner

    def run(a: np.ndarray) -> np.ndarray:
        flat = (np.ascontiguousarray(a.transpose(to_last)) if copy else a).reshape(-1)
        out = np.empty(size, dtype)
        go = runners.get(flat.flags.num)
        if go is None:
            go = runners[flat.flags.num] = _pool_runner(launch, flat, jobs)
        go(flat, out)
        out = out.reshape(shape)
        return np.ascontiguousarray(out.transpose(to_first)) if copy else out

    return run


class PoolLaunch(NamedTuple):
    """What a pooling launch needs besides the arrays (:func:`_pool_launch`)."""

    kernel: object          # the compiled loop order for the plan's mode
    dtype: np.dtype         # the dtype computed in
    rows: int               # output rows (jobs) per batch item of the work layout
    constants: tuple        # the kernel's arguments after the input and the output


def _pool_runner(launch: PoolLaunch, flat: np.ndarray, jobs: int):
    """``go(x, out)``: ``launch`` for ``jobs`` output rows on flat inputs ``x`` of the
    size and array flags of ``flat`` into flat outputs ``out``, through the kernel's
    compiled entry (:func:`._dispatch._bind`: in parts, one call where ``flat`` is
    small)."""
    consts = launch.constants
    kernel = _ready(launch.kernel, (flat, np.empty(0, launch.dtype), *consts))  # (types)
    return _bind(kernel, consts, jobs, flat.nbytes)


@functools.lru_cache(maxsize=512)
def _pool_launch(g: WindowGeometry, plan: PoolPlan, channels: int) -> PoolLaunch:
    """The kernel and its constant arguments for geometry ``g``, ``plan`` and the channel
    count of the work layout: everything of a launch that does not depend on the array, so
    a repeated call (same shape, dtype, arguments, rules) only looks it up (the arrays in
    it are read-only)."""
    mode, cdtype, init = _plan_mode(plan)
    tiny = cdtype.type(finfo(plan.dtype).tiny if mode in _DAZ_MODES else 0)
    g3 = rank3(g)
    shape = np.array((*g3.in_spatial, channels), np.int64)
    shape.setflags(write=False)
    constants = (shape, *g3.taps, g3.tap_outputs[2], g3.strides[2], init, tiny,
                 lane_blocks(channels), whole_windows(g3))
    order = loop_order(channels, g3.window[2], g3.strides[2])
    return PoolLaunch(KERNELS[mode, order], cdtype, g3.out_spatial[0] * g3.out_spatial[1],
                      constants)


def global_pool(a: np.ndarray, axes: tuple[int, ...], op: str,
                dtype: np.dtype | None = None) -> np.ndarray | None:
    """``op="max"``: TF's ``reduce_max`` over the spatial ``axes`` of ``a`` (NaN
    propagates, the last of equal maxima wins), in ``a``'s dtype; ``op="sum"``: the sum
    over them as ``np.sum`` of the cells in row-major order, converted to ``dtype``,
    computes it (pairwise), in ``dtype``. Keeps the reduced axes (size 1). Bit for bit the
    NumPy specification of :func:`pooling_ref.global_max_pool` /
    :func:`pooling_ref.global_avg_pool`.

    Returns ``None`` (the caller runs the NumPy specification) unless ``a`` is contiguous
    channels_last with at least :data:`CHANNELS_INNER_MIN` channels (the kernels vectorise
    over channels) or, for the float maximum, contiguous channels_first
    (:func:`_global_max_contiguous`: 8 running maxima along the row; a sum along the row
    is NumPy's own, which reduces a contiguous row natively)."""
    lead = [i for i in range(a.ndim) if i not in axes]            # batch, channels
    n, c = a.shape[lead[0]], a.shape[lead[1]]
    if op == "max" and lead == [0, 1] and a.flags.c_contiguous and a.dtype.kind == "f":
        return _global_max_channels_first(a, n, c)
    if lead[1] != a.ndim - 1 or not a.flags.c_contiguous or c < CHANNELS_INNER_MIN:
        return None
    cells = math.prod(a.shape[i] for i in axes)
    x3 = a.reshape(n, cells, c)
    if op == "max" and a.dtype.name in ("float16", "bfloat16"):
        dtype = np.float32                   # exact: a maximum is one of the inputs
    x3 = x3.astype(dtype or a.dtype, copy=False)
    out = np.empty(x3.shape[::2], x3.dtype)
    if out.size and cells:
        kernel = _global_max_rows if op == "max" else _global_sum_rows
        _launch(kernel, (x3.reshape(-1), out.reshape(-1), np.array(x3.shape, np.int64)),
                x3.shape[0], x3.nbytes)
    elif out.size:
        out.fill(0)
    out = out.astype(a.dtype, copy=False) if op == "max" else out
    shape = [1] * a.ndim
    shape[lead[0]], shape[lead[1]] = n, c
    return out.reshape(shape)


def _global_max_channels_first(a: np.ndarray, n: int, c: int) -> np.ndarray:
    """Global max pooling of contiguous channels_first float ``a`` (reduced axes kept)."""
    rows = a.reshape(n * c, -1) if n * c else a.reshape(0, 0)
    if a.dtype.itemsize == 2:
        rows = rows.astype(np.float32)       # exact: a maximum is one of the inputs
    out = np.empty(n * c, rows.dtype)
    if out.size:
        _launch(_global_max_contiguous, (rows.reshape(-1), out, rows.shape[1]), n * c,
                rows.nbytes)
    return out.astype(a.dtype, copy=False).reshape(n, c, *(1,) * (a.ndim - 2))


def pool_grad(x_cl: np.ndarray, gout: np.ndarray, g: WindowGeometry, rule: str,
              tolerance: float = 0.0, *, order: str = "row-major",
              flush: bool = False, unchosen: float = -0.0) -> np.ndarray | None:
    """The gradient of max pooling (``rule`` = a ``ties`` rule, or ``"tf3d"`` with its
    ``tolerance``) or average pooling (``rule="avg"``) for channels_last ``x_cl`` and
    upstream ``gout``, bit for bit the ``"loop"`` method of :mod:`pooling_ref.gradients`
    under :class:`pooling_ref.rules.GradPlan` ``order`` (``"row-major"`` or
    ``"last-axis-outer"``), ``flush`` (every addend and partial sum flushed; ``x_cl`` is
    compared as given, so the caller passes it flushed) and ``unchosen`` (what a max window
    adds to the cells it does not choose, :meth:`~pooling_ref.rules.GradPlan.unchosen_zero`).
    ``None`` for float16/bfloat16 (Numba has no half types; the caller runs NumPy), a
    dilated window (the kernel walks contiguous cells) and a divisor other than the real
    cells (the kernel counts them)."""
    if x_cl.dtype.name in ("float16", "bfloat16") or max(g.dilation, default=1) > 1:
        return None
    if rule == "avg" and g.divisor != "real":
        return None
    if rule == "tf3d" and x_cl.dtype.kind in "iu":
        rule = "all"                          # integers: "equal" is equality
    x = np.ascontiguousarray(x_cl)
    gout = np.ascontiguousarray(gout)
    g3 = rank3(g)
    grad = np.zeros(x.shape, x.dtype)
    if x.size and gout.size:
        init = lowest(x.dtype) if rule != "avg" else x.dtype.type(0)
        tol = x.dtype.type(tolerance) if x.dtype.kind == "f" else x.dtype.type(0)
        shape = np.array((*g3.in_spatial, x.shape[-1]), np.int64)
        tiny = x.dtype.type(np.finfo(x.dtype).tiny if flush and x.dtype.kind == "f" else 0)
        args = (x.reshape(-1), gout.reshape(-1), grad.reshape(-1), shape, *g3.taps, init,
                tol, order == "last-axis-outer", flush and x.dtype.kind == "f", tiny,
                x.dtype.type(unchosen))
        _launch(GRAD_KERNELS[GRAD_RULE_CODES[rule]], args, x.shape[0], x.nbytes + gout.nbytes)
    return grad


def special_cells(a: np.ndarray) -> tuple[bool, bool] | None:
    """``(has a subnormal, has a NaN or -inf)`` for a float32/float64 array, in one
    compiled pass (the two checks :mod:`pooling_ref.apply_rules` makes before pooling);
    ``None`` for other dtypes or non-contiguous arrays (the caller checks with NumPy).

    >>> special_cells(np.float32([1.0, 1e-45, -np.inf])) if AVAILABLE else (True, True)
    (True, True)
    """
    if not AVAILABLE or a.dtype not in (np.float32, np.float64) or not a.flags.c_contiguous:
        return None
    flags = np.zeros(2, np.uint8)
    if a.size:
        tiny = np.finfo(a.dtype).tiny
        _launch(_scan_cells, (a.reshape(-1), a.dtype.type(tiny), flags), a.size, a.nbytes)
    return bool(flags[0]), bool(flags[1])
