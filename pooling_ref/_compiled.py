"""The ``"compiled"`` method: the loop specification compiled with Numba (optional).

One rank-generic kernel serves max and average pooling of every rank: the input is seen as
``(N, D, H, W, C)`` (size-1 axes in front for ranks 1 and 2) and the window taps come from
the geometry's tap table (:attr:`pooling_ref.geometry.WindowGeometry.taps`). The unit of
work is one output row ``(batch item, od, oh)``. Each output sees exactly the loop's
sequence of cells (row-major window order):

* max: start at the dtype's lowest finite value (``-inf`` for bfloat16, see
  :func:`pooling_ref.pooling.lowest`), replace only when a cell is strictly greater (NaN
  ignored, the first of equal maxima wins);
* average: ``+0 + cell_0 + cell_1 + ...`` in the input dtype, then one division by the
  real-cell count converted to the dtype.

Loop order by shape (:func:`_layout`; each order is its own compiled function):

* many channels (``C >= CHANNELS_INNER_MIN``): each output cell runs over its real window
  cells, 32, 16 or 8 channels at a time (:func:`_lane_blocks`), one accumulator per channel
  in registers (:func:`_window_lanes`: eight-lane tuples that LLVM's SLP vectoriser turns
  into vector operations, see :func:`_ready`). Measured against the earlier loop over a
  buffer of accumulators (stored and reloaded at every cell, and not vectorised): 3-4x
  faster on 8 and 16 channels, 1.1-1.4x on 64, one thread;
* 3 channels with window 2 or 3 and stride 2, and one channel (channels_first inputs, seen
  as ``N*C`` items of one channel): per output row, per output and channel, its contiguous
  real cells of each input row. The outputs whose window lies whole in the input
  (:func:`_whole_windows`) run with the channel count, window length and stride as
  compile-time constants (LLVM then vectorises across outputs: 0.53-0.61x the time for one
  channel; 0.4x the tap-major time for 3 channels, on ``(8, 224, 224, 3)``);
* other counts of 2 to 7 channels (and one channel with other windows and strides):
  *tap-major* — for each real window row and each window column tap, every output of the
  row whose tap it is, in a channel-major row buffer, so the loop over output positions
  vectorises.

Each order visits the cells of every output in row-major window order, so the loop
specification's results (first of equal maxima, summation order) hold in all of them.

TF kernel path rules (:mod:`pooling_ref.tf_kernels`) are folded into the kernel where they
are a per-cell rule (:func:`_plan_rules`), so the default ``tf_kernel="onednn"`` costs no
extra pass over the input: subnormal cells read as zeros (x86 DAZ), compared as zeros but
copied with their own bits (oneDNN's float32 max), a subnormal average written as zero,
and the value of a window without a number as the start value.

What made the kernel 3-4x faster (measured): unsigned indices (no negative-index checks in
the inner loop), accumulators in registers, the SLP vectoriser, and, for buffers of
accumulators, never updating one in place — LLVM turns
``acc[c] = max(acc[c], v)`` into a *masked store* (``vmaskmovps``), which is slow on AMD
Zen; reading one half of a small buffer and writing the other compiles to ``vmaxps`` and
plain stores. Also: index arithmetic that mixes ``uint64`` with a signed ``range`` index
is signed again in Numba, and brings the checks back (measured 2x on the one-channel loop).

Parallelism (:func:`_launch`): contiguous parts of the output rows go to the package's
thread pool (the kernels are ``nogil``), which hands them out dynamically; small inputs
(< 2 MiB) run in the calling thread. Numba's ``prange`` was measured too (one process,
interleaved, loaded 2-core machine): up to ~1.3x faster on some large shapes, but its
driver must be a closure over the kernel, and Numba's on-disk cache keys such closures by
the dispatcher's per-process uuid — a new cache entry per process, and concurrent processes
(pytest-xdist) overwrote each other's entries and ran the wrong kernel. The pool is used.

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
>>> pool(x, g, "max")[0, :, 0] if AVAILABLE else np.float32([-0.0, -3.4028235e38])
array([-0.0000000e+00, -3.4028235e+38], dtype=float32)
"""

from __future__ import annotations

import functools
import math
import os
import threading

import numpy as np

from ._arrays import finfo
from .geometry import CELL_HI, CELL_LO, TAP_HI, TAP_LO, WindowGeometry
from .tf_kernels import flushed_add

__all__ = ["AVAILABLE", "DISABLE_ENV", "INSTALL_HINT", "global_pool", "pool", "pool_grad",
           "special_cells"]

#: Environment variable that hides Numba from pooling_ref (read once, at import).
DISABLE_ENV = "POOLING_REF_DISABLE_NUMBA"
#: How to get the compiled method.
INSTALL_HINT = "pip install 'pooling-ref[fast]'"
#: Below this many channels, output positions are the innermost loop.
CHANNELS_INNER_MIN = 8
#: Channel block widths of the channels-inner loop order, widest first (:func:`_lane_blocks`).
LANES = (32, 16, 8)
#: Input bytes of one part of the output rows handed to a thread.
PART_BYTES = 4 << 20

_MAX, _SUM, _SUM_F16, _MAX_DAZ, _MAX_CMP, _SUM_DAZ = range(6)
#: Loop orders of the pooling kernel (:func:`_layout`).
_CHANNELS_INNER, _TAP_MAJOR, _ROWS, _ROWS_K2S2, _ROWS_K3S2, _ROWS_C3_K2S2, _ROWS_C3_K3S2 = \
    range(7)
#: The per-output row loop orders: ``layout -> (channels, window, stride)`` along the last
#: spatial axis compiled in as constants (window and stride ``0``: read from the arguments;
#: only for one channel).
_ROWS_LAYOUTS = {_ROWS: (1, 0, 0), _ROWS_K2S2: (1, 2, 2), _ROWS_K3S2: (1, 3, 2),
                 _ROWS_C3_K2S2: (3, 2, 2), _ROWS_C3_K3S2: (3, 3, 2)}
#: The same table read the other way (:func:`_layout`).
_ROWS_BY_SHAPE = {cks: layout for layout, cks in _ROWS_LAYOUTS.items() if cks[1]}
#: Kernel modes that read subnormal cells as zeros (a TF kernel path's ``flush`` rule).
_DAZ_MODES = (_MAX_DAZ, _MAX_CMP, _SUM_DAZ)
_G_FIRST, _G_ALL, _G_SPLIT, _G_TF3D, _G_AVG = range(5)
#: Gradient rules: the ``ties=`` rules of :func:`pooling_ref.max_pool_grad` ("tf3d": TF's 3D
#: ``|x - max| < 1e-5``) and the average pooling gradient.
_GRAD_RULES = {"first": _G_FIRST, "all": _G_ALL, "split": _G_SPLIT, "tf3d": _G_TF3D,
               "avg": _G_AVG}


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

if AVAILABLE:
    from numba import literally, njit, types, uint64
    from numba.extending import overload

    def _round_f16(v):
        """The float16 nearest to ``v`` (ties to even, overflow to inf), as float64 (only
        float64 values are rounded: the float16 averages run on float64; every other type
        passes through unchanged, so no kernel changes its accumulator type)."""
        raise NotImplementedError("compiled only")

    def _round_f16_float64(v):
        a = abs(v)
        if a == 0.0 or a != a:
            return v
        if a >= 65520.0:                          # float16 overflow threshold
            return math.copysign(math.inf, v)
        e = math.frexp(a)[1]                      # 2**(e-1) <= a < 2**e
        q = math.ldexp(1.0, max(e - 11, -24))     # float16 spacing there (2**-24: subnormal)
        t = a / q                                 # exact; < 2**11
        t = (t + 6755399441055744.0) - 6755399441055744.0   # round half to even
        return math.copysign(t * q, v)

    @overload(_round_f16, jit_options={"cache": True})
    def _round_f16_impl(v):
        if v == types.float64:
            return _round_f16_float64
        return lambda v: v

    @njit(cache=True, inline="always")
    def _key(v, tiny, mode):
        """The value a cell is compared / summed as: itself, or under a ``flush`` rule
        (x86 DAZ) a subnormal read as a zero of its sign (``v * +0``; NaN stays NaN). The
        zero is ``tiny - tiny``, of ``tiny``'s type: an integer literal would promote a
        float32 ``v`` to float64, and the sums with it."""
        if mode == _MAX_DAZ or mode == _MAX_CMP or mode == _SUM_DAZ:
            return v if abs(v) >= tiny else v * (tiny - tiny)
        return v

    @njit(cache=True, inline="always")
    def _step(acc, v, tiny, mode):
        """One step of the loop specification: TF's max step, or one ``+`` in the dtype
        (``_SUM_DAZ``: of the cell's key, :func:`_key`).

        Max under a ``flush`` rule keeps the first cell with the largest key, its own bits
        (``_MAX_CMP`` returns them, ``_MAX_DAZ`` their key: the first of the largest keys).
        The key is monotone, so ``key(v) > key(acc)`` is ``v > acc`` unless both keys are
        zero, i.e. unless ``-tiny < acc < v < tiny``: three compares, no key computed."""
        if mode == _MAX:
            return max(acc, v)          # Numba: ``v if v > acc else acc``, as one select
        if mode == _MAX_DAZ or mode == _MAX_CMP:
            return v if (v > acc) & ((v >= tiny) | (acc <= -tiny)) else acc
        if mode == _SUM:
            return acc + v
        if mode == _SUM_DAZ:     # a sum from +0 is never -0: a flushed cell adds +0
            return acc + ((tiny - tiny) if abs(v) < tiny else v)      # NaN: kept
        return _round_f16(acc + v)

    @njit(cache=True, inline="always")
    def _mean(total, count, tiny, mode):
        """The average from a sum and the real-cell count (in the sum's type): one ``/`` in
        the dtype (float16: rounded, as the count is; ``flush``: a subnormal average
        written as a zero, x86 FTZ)."""
        if mode == _SUM_F16:
            return _round_f16(total / _round_f16(count))
        return _key(total / count, tiny, mode)


    _U1, _U2, _U3, _U4, _U5, _U6, _U7 = (uint64(i) for i in range(1, 8))

    # The eight-lane helpers are inlined by Numba, but the one-lane step they repeat is a
    # compiled function of its own, inlined later by LLVM (:func:`_step_scalar`): Numba's
    # ``inline="always"`` types every inlined body again, and inlining the step itself
    # 300 times made one channels-inner kernel take 40-75 s to compile (now ~2 s). The
    # helpers must not be compiled functions themselves: each would be vectorised on its
    # own, and the kernel would move every accumulator into and out of vector registers
    # at each call (measured 1.5-2.5x slower).

    @njit(cache=True)
    def _step_scalar(acc, v, tiny, mode):
        """:func:`_step` as a function (scalar: nothing to vectorise on its own), compiled
        per ``mode`` (``literally``)."""
        literally(mode)
        return _step(acc, v, tiny, mode)

    @njit(cache=True)
    def _finish_scalar(a, count, tiny, mode):
        """:func:`_finish` as a function (as :func:`_step_scalar`)."""
        literally(mode)
        return _finish(a, count, tiny, mode)

    @njit(cache=True, inline="always")
    def _load8(x, i):
        """Eight consecutive cells as a tuple: all loaded before anything is stored, so
        LLVM's SLP vectoriser can make one vector load of them (see :func:`_ready`)."""
        return (x[i], x[i + _U1], x[i + _U2], x[i + _U3], x[i + _U4], x[i + _U5],
                x[i + _U6], x[i + _U7])

    @njit(cache=True, inline="always")
    def _store8(out, i, a):
        out[i], out[i + _U1], out[i + _U2], out[i + _U3] = a[0], a[1], a[2], a[3]
        out[i + _U4], out[i + _U5], out[i + _U6], out[i + _U7] = a[4], a[5], a[6], a[7]

    @njit(cache=True, inline="always")
    def _step8(a, v, tiny, mode):
        """:func:`_step` on eight lanes (one vector operation after SLP vectorisation)."""
        return (_step_scalar(a[0], v[0], tiny, mode), _step_scalar(a[1], v[1], tiny, mode),
                _step_scalar(a[2], v[2], tiny, mode), _step_scalar(a[3], v[3], tiny, mode),
                _step_scalar(a[4], v[4], tiny, mode), _step_scalar(a[5], v[5], tiny, mode),
                _step_scalar(a[6], v[6], tiny, mode), _step_scalar(a[7], v[7], tiny, mode))

    @njit(cache=True, inline="always")
    def _finish(a, count, tiny, mode):
        """The output value of one lane from its accumulator: the maximum (under
        ``_MAX_DAZ`` its key) or the average (:func:`_mean`)."""
        if mode == _MAX or mode == _MAX_CMP:
            return a
        if mode == _MAX_DAZ:
            return _key(a, tiny, mode)
        return _mean(a, count, tiny, mode)

    @njit(cache=True, inline="always")
    def _finish8(a, count, tiny, mode):
        if mode == _MAX or mode == _MAX_CMP:     # (integers: only these; decided here,
            return a                             # where ``mode`` is the kernel's constant)
        return (_finish_scalar(a[0], count, tiny, mode), _finish_scalar(a[1], count, tiny, mode),
                _finish_scalar(a[2], count, tiny, mode), _finish_scalar(a[3], count, tiny, mode),
                _finish_scalar(a[4], count, tiny, mode), _finish_scalar(a[5], count, tiny, mode),
                _finish_scalar(a[6], count, tiny, mode), _finish_scalar(a[7], count, tiny, mode))

    @njit(cache=True, inline="always")
    def _window_lanes(x, xb, cells, nc, nblk, init, tiny, mode):
        """Run the window of one output over ``8 * nblk`` channels (``nblk`` = 1, 2 or 4,
        a constant at each call) from flat offset ``xb``: ``cells = (d_lo, d_hi, h_lo,
        h_hi, w_lo, w_hi, h_in, w_in)``, cells in row-major window order, one accumulator
        per channel in registers (independent vector chains, no store between steps).
        Returns four 8-lane accumulators (the unused ones stay at ``init``)."""
        d_lo, d_hi, h_lo, h_hi, w_lo, w_hi, h_in, w_in = cells
        a0 = a1 = a2 = a3 = (init, init, init, init, init, init, init, init)
        for i_d in range(d_lo, d_hi):
            for i_h in range(h_lo, h_hi):
                row = xb + uint64((i_d * h_in + i_h) * w_in) * nc
                for i_w in range(uint64(w_lo), uint64(w_hi)):
                    xi = row + i_w * nc
                    a0 = _step8(a0, _load8(x, xi), tiny, mode)
                    if nblk > 1:
                        a1 = _step8(a1, _load8(x, xi + uint64(8)), tiny, mode)
                    if nblk > 2:
                        a2 = _step8(a2, _load8(x, xi + uint64(16)), tiny, mode)
                        a3 = _step8(a3, _load8(x, xi + uint64(24)), tiny, mode)
        return a0, a1, a2, a3

    def _kernel(mode, layout):
        """The pooling kernel for one ``mode`` and loop order ``layout`` (compile-time
        constants of the closure, so each kernel has only its own step and loop nest:
        with all three loop nests in one function, the channels-inner one was measured
        1.2-1.4x slower; each is compiled on first use and cached)."""
        rows = layout in _ROWS_LAYOUTS
        channels_inner = layout == _CHANNELS_INNER
        fixed_c, fixed_k, fixed_s = _ROWS_LAYOUTS.get(layout, (1, 0, 0))

        @njit(cache=True, nogil=True)
        def _pool_rows(x, out, shape, taps_d, taps_h, taps_w, taps_out_w, stride_w, init,
                       tiny, blocks, whole_w, job_lo, job_hi):
            """Output rows ``job_lo <= job < job_hi`` (job = ``(b*OD + od)*OH + oh``) of the
            pooling of flat C-contiguous ``x`` (shape ``(N, D, H, W, C)``) into flat ``out``.
            ``tiny``: the smallest normal of the dtype (read only by the flush modes).

            Indices are unsigned (no negative-index wrap-around checks, which would stop
            LLVM from vectorising the channel loop)."""
            nd, nh, nw = taps_d.shape[0], taps_h.shape[0], taps_w.shape[0]
            d_in, h_in, w_in, nc = shape
            unc = uint64(nc)
            count = np.empty(1, out.dtype)            # a real-cell count in the dtype
            unw = uint64(nw)
            n_row = unw * unc if layout == _TAP_MAJOR else uint64(0)
            # few channels: a row of accumulators (c, ow), twice: each pass reads one half
            # and writes the other. (Updating in place, ``acc[i] = max(acc[i], v)``, lets
            # LLVM turn the store into a masked store, ~4x slower on AMD Zen.)
            row_buf = np.empty(2 * n_row, out.dtype)
            step_w = uint64(stride_w * nc)            # input step between outputs
            # the outputs with a whole window along w (``_whole_windows``), their step
            # and cell count: constants of this kernel where it is specialised
            i0, i1, c0 = uint64(whole_w[0]), uint64(whole_w[1]), uint64(whole_w[2])
            ss = uint64(fixed_s) if fixed_s else uint64(stride_w)
            kk = uint64(fixed_k) if fixed_k else uint64(whole_w[3])
            for job in range(job_lo, job_hi):
                b = job // (nd * nh)
                od = (job // nh) % nd
                oh = job % nh
                ob = uint64(job * nw * nc)
                d_lo, d_hi = taps_d[od, CELL_LO], taps_d[od, CELL_HI]
                h_lo, h_hi = taps_h[oh, CELL_LO], taps_h[oh, CELL_HI]
                dh = ((taps_d[od, TAP_HI] - taps_d[od, TAP_LO])
                      * (taps_h[oh, TAP_HI] - taps_h[oh, TAP_LO]))      # real rows
                if channels_inner:
                    # output-stationary: per output cell, its real cells in row-major
                    # window order, 32, 16 or 8 channels at a time (``blocks``:
                    # :func:`_lane_blocks`), their accumulators in registers
                    xb = uint64(b * d_in * h_in * w_in) * unc
                    for ow in range(nw):
                        cells = (d_lo, d_hi, h_lo, h_hi, taps_w[ow, CELL_LO],
                                 taps_w[ow, CELL_HI], h_in, w_in)
                        if mode == _SUM or mode == _SUM_F16 or mode == _SUM_DAZ:
                            count[0] = dh * (taps_w[ow, TAP_HI] - taps_w[ow, TAP_LO])
                        oi = ob + uint64(ow * nc)
                        for k in range(blocks.shape[0]):
                            cb, lanes = uint64(blocks[k, 0]), blocks[k, 1]
                            if lanes == 32:
                                a = _window_lanes(x, xb + cb, cells, unc, 4, init, tiny,
                                                  mode)
                            elif lanes == 16:
                                a = _window_lanes(x, xb + cb, cells, unc, 2, init, tiny,
                                                  mode)
                            else:
                                a = _window_lanes(x, xb + cb, cells, unc, 1, init, tiny,
                                                  mode)
                            n = count[0]
                            _store8(out, oi + cb, _finish8(a[0], n, tiny, mode))
                            if lanes > 8:
                                _store8(out, oi + cb + uint64(8),
                                        _finish8(a[1], n, tiny, mode))
                            if lanes > 16:
                                _store8(out, oi + cb + uint64(16),
                                        _finish8(a[2], n, tiny, mode))
                                _store8(out, oi + cb + uint64(24),
                                        _finish8(a[3], n, tiny, mode))
                elif rows:
                    # one channel (channels_first input, seen as N*C items of one channel)
                    # or ``fixed_c`` channels: per output and channel, its real cells of
                    # each row. The outputs with a whole window, ``i0 <= ow < i1``, start
                    # ``fixed_s`` cells apart and have ``fixed_k`` cells: compile-time
                    # constants for the common windows (LLVM then vectorises across
                    # outputs, measured 3x), else the arguments; the others read the tap
                    # table.
                    ucc = uint64(fixed_c)
                    for i in range(unw * ucc):
                        out[ob + i] = init
                    for i_d in range(d_lo, d_hi):
                        for i_h in range(h_lo, h_hi):
                            xb = uint64(((b * d_in + i_d) * h_in + i_h) * w_in) * ucc
                            x0 = xb + c0 * ucc
                            for ow in range(i0, i1):          # the whole windows
                                lo = x0 + (ow - i0) * ss * ucc
                                for c in range(ucc):
                                    a = out[ob + ow * ucc + c]
                                    for t in range(kk):
                                        a = _step(a, x[lo + t * ucc + c], tiny, mode)
                                    out[ob + ow * ucc + c] = a
                            for ow in range(unw - (i1 - i0)):     # the others
                                ow = ow if ow < i0 else ow + (i1 - i0)
                                lo = uint64(taps_w[ow, CELL_LO])
                                hi = uint64(taps_w[ow, CELL_HI])
                                for c in range(ucc):
                                    a = out[ob + ow * ucc + c]
                                    for i in range(lo, hi):
                                        a = _step(a, x[xb + i * ucc + c], tiny, mode)
                                    out[ob + ow * ucc + c] = a
                    if mode != _MAX and mode != _MAX_CMP:       # (else nothing to do)
                        for ow in range(unw):
                            count[0] = dh * (taps_w[ow, TAP_HI] - taps_w[ow, TAP_LO])
                            for c in range(ucc):
                                oi = ob + ow * ucc + c
                                out[oi] = _finish(out[oi], count[0], tiny, mode)
                else:
                    # few channels: tap-major. For each real window row and each window
                    # column tap (increasing: each output still sees its cells in
                    # row-major window order), every output of the row whose tap it is,
                    # in a channel-major row buffer (contiguous in ow: the ow loop
                    # vectorises). Two halves again, each pass writing the other; outputs
                    # the tap misses ("same" edges) are carried over.
                    for i in range(n_row):
                        row_buf[i] = init
                    src = uint64(0)
                    for i_d in range(d_lo, d_hi):
                        for i_h in range(h_lo, h_hi):
                            xb = uint64(((b * d_in + i_d) * h_in + i_h) * w_in * nc)
                            for t in range(taps_out_w.shape[0]):
                                lo, hi = uint64(taps_out_w[t, 0]), uint64(taps_out_w[t, 1])
                                if hi == lo:
                                    continue
                                dst = n_row - src
                                x0 = xb + uint64(taps_out_w[t, 2] * nc)
                                for c in range(unc):
                                    bo = c * unw
                                    for ow in range(bo, bo + lo):
                                        row_buf[dst + ow] = row_buf[src + ow]
                                    for ow in range(bo + hi, bo + unw):
                                        row_buf[dst + ow] = row_buf[src + ow]
                                    xc = x0 + c
                                    for j in range(hi - lo):
                                        row_buf[dst + bo + lo + j] = _step(
                                            row_buf[src + bo + lo + j], x[xc + j * step_w],
                                            tiny, mode)
                                src = dst
                    for ow in range(unw):
                        oi = ob + ow * unc
                        count[0] = dh * (taps_w[ow, TAP_HI] - taps_w[ow, TAP_LO])
                        for c in range(unc):
                            a = row_buf[src + c * unw + ow]
                            if mode != _MAX and mode != _MAX_CMP:
                                a = _finish(a, count[0], tiny, mode)
                            out[oi + c] = a

        return _pool_rows

    _KERNELS = {(mode, layout): _kernel(mode, layout) for mode in range(6)
                for layout in (_CHANNELS_INNER, _TAP_MAJOR, *_ROWS_LAYOUTS)}

    # ------------------------------------------------------------------ input scan

    @njit(cache=True, nogil=True)
    def _scan_cells(x, tiny, flags, lo, hi):
        """Over ``x[lo:hi]`` (flat): set ``flags[0]`` if a cell is subnormal (``0 < |v| <
        tiny``), ``flags[1]`` if a cell is not a number above ``-inf`` (NaN or ``-inf``).
        Only ever sets flags to 1, so parts may run concurrently."""
        sub, odd = False, False
        for i in range(uint64(lo), uint64(hi)):
            v = x[i]
            sub |= (abs(v) < tiny) & (v != 0)
            odd |= not (v > -np.inf)
        if sub:
            flags[0] = 1
        if odd:
            flags[1] = 1

    # ------------------------------------------------------------------ gradients

    @njit(cache=True, inline="always")
    def _window_cells(b, od, oh, ow, shape, taps_d, taps_h, taps_w, cells):
        """Fill ``cells`` with the flat offsets (channel 0) of the real input cells of the
        window of output ``(b, od, oh, ow)``, in row-major window order; return how many."""
        d_in, h_in, w_in, nc = shape
        k = 0
        for i_d in range(taps_d[od, CELL_LO], taps_d[od, CELL_HI]):
            for i_h in range(taps_h[oh, CELL_LO], taps_h[oh, CELL_HI]):
                row = ((b * d_in + i_d) * h_in + i_h) * w_in
                for i_w in range(taps_w[ow, CELL_LO], taps_w[ow, CELL_HI]):
                    cells[k] = uint64((row + i_w) * nc)
                    k += 1
        return k

    #: ``grad[i] = _add_flushed(grad[i], a, tiny)``: the flushed sum of
    #: :attr:`GradRules.flush`, the very function the NumPy methods call.
    _add_flushed = njit(cache=True, nogil=True, inline="always")(flushed_add)

    def _grad_kernel(rule):
        """The pooling-gradient kernel for one ``rule`` (:data:`_GRAD_RULES`; a compile-time
        constant of the closure, cached per rule)."""

        @njit(cache=True, nogil=True, error_model="numpy")   # x / 0: inf, as NumPy
        def _grad_items(x, gout, grad, shape, taps_d, taps_h, taps_w, init, tol,
                        last_axis_outer, flush, tiny, zero, job_lo, job_hi):
            """Batch items ``job_lo <= b < job_hi`` of the gradient: ``grad`` (flat, like
            ``x``, shape ``(N, D, H, W, C)``, all ``+0``) receives what every output position
            sends its window's cells, positions in row-major order (3D: the last spatial
            axis outermost), as the loop specification does: the chosen cells their share,
            the others ``zero`` (:meth:`GradRules.unchosen_zero`: ``-0``, which adds
            nothing, or ``+0``)."""
            nd, nh, nw = taps_d.shape[0], taps_h.shape[0], taps_w.shape[0]
            unc = uint64(shape[3])
            # Two halves for the running maximum and its cell, and unconditional adds
            # (``+ 0`` where a cell is not chosen: a no-op on a sum started at ``+0``), so
            # LLVM emits no masked stores (slow on AMD Zen; see the pooling kernel).
            best = np.empty(2 * unc, x.dtype)
            pick = np.empty(2 * unc, np.uint64)
            share = np.empty(unc, x.dtype)
            count = np.empty(unc, x.dtype)       # chosen / real cells, in the dtype
            cells = np.empty((taps_d[:, TAP_HI] - taps_d[:, TAP_LO]).max()
                             * (taps_h[:, TAP_HI] - taps_h[:, TAP_LO]).max()
                             * (taps_w[:, TAP_HI] - taps_w[:, TAP_LO]).max(), np.uint64)
            for b in range(job_lo, job_hi):
                for p in range(nd * nh * nw):
                    if last_axis_outer:
                        ow, oh, od = p // (nd * nh), (p // nd) % nh, p % nd
                    else:
                        od, oh, ow = p // (nh * nw), (p // nw) % nh, p % nw
                    go = uint64((((b * nd + od) * nh + oh) * nw + ow) * unc)
                    ncells = _window_cells(b, od, oh, ow, shape, taps_d, taps_h, taps_w,
                                           cells)
                    if rule == _G_AVG:
                        count[0] = ncells
                        for c in range(unc):
                            share[c] = gout[go + c] / count[0]
                    elif rule == _G_FIRST:      # the scan starts at the first real cell
                        src = uint64(0)
                        for c in range(unc):
                            best[c] = x[cells[0] + c]
                            pick[c] = cells[0]
                        for j in range(1, ncells):
                            dst, xi = unc - src, cells[j]
                            for c in range(unc):
                                v, a = x[xi + c], best[src + c]
                                best[dst + c] = v if v > a else a
                                pick[dst + c] = xi if v > a else pick[src + c]
                            src = dst
                        for j in range(ncells):
                            xi = cells[j]
                            for c in range(unc):
                                a = gout[go + c] if pick[src + c] == xi else zero
                                if flush:
                                    grad[xi + c] = _add_flushed(grad[xi + c], a, tiny)
                                else:
                                    grad[xi + c] += a
                        continue
                    else:                       # the forward maximum (TF's max step)
                        for c in range(unc):
                            best[c] = init
                            count[c] = 0
                        for j in range(ncells):
                            for c in range(unc):
                                best[c] = max(best[c], x[cells[j] + c])
                    if rule == _G_SPLIT:        # how many cells share it
                        for j in range(ncells):
                            for c in range(unc):
                                if x[cells[j] + c] == best[c]:
                                    count[c] += 1
                        for c in range(unc):
                            share[c] = gout[go + c] / count[c]
                    elif rule != _G_AVG:
                        for c in range(unc):
                            share[c] = gout[go + c]
                    # send the share to the chosen (average: every real) cells
                    for j in range(ncells):
                        xi = cells[j]
                        for c in range(unc):
                            v = x[xi + c]
                            if rule == _G_AVG:
                                chosen = True
                            elif rule == _G_TF3D:
                                chosen = abs(v - best[c]) < tol
                            else:
                                chosen = v == best[c]
                            a = share[c] if chosen else zero
                            if flush:
                                grad[xi + c] = _add_flushed(grad[xi + c], a, tiny)
                            else:
                                grad[xi + c] += a

        return _grad_items

    _GRAD_KERNELS = {rule: _grad_kernel(rule) for rule in _GRAD_RULES.values()}

    # ------------------------------------------------------------------ global pooling

    @njit(cache=True, nogil=True)
    def _global_max_contiguous(x, out, cells, job_lo, job_hi):
        """``out[r]`` = TF's ``reduce_max`` of the contiguous row ``x[r*cells:(r+1)*cells]``
        for ``job_lo <= r < job_hi`` (channels_first: one row per batch item and channel).

        The row is read 8 cells at a time into 8 running maxima (two halves of a buffer,
        as in the pooling kernel: one vector op per 8 cells). Only the value of the maximum
        is order-free: NaN anywhere gives NaN (a count of NaN cells rides along), and a
        zero maximum takes the sign of the row's last zero, as the last of equal maxima
        wins (found by scanning back from the end; every cell is <= 0 then)."""
        eight = uint64(8)
        n = uint64(cells)
        body = n - n % eight
        acc = np.empty(16, x.dtype)
        nans = np.empty(8, np.int64)
        for r in range(job_lo, job_hi):
            base = uint64(r) * n
            for j in range(eight):
                acc[j] = -np.inf
                nans[j] = 0
            src = uint64(0)
            for k in range(uint64(0), body, eight):
                dst = eight - src
                for j in range(eight):
                    v = x[base + k + j]
                    a = acc[src + j]
                    acc[dst + j] = v if v > a else a
                    nans[j] += v != v
                src = dst
            m = acc[src]
            nan = nans[0]
            for j in range(1, eight):
                m = acc[src + j] if acc[src + j] > m else m
                nan += nans[j]
            for k in range(body, n):
                v = x[base + k]
                m = v if v > m else m
                nan += v != v
            if nan:
                m = np.nan
            elif m == 0:
                k = n
                while k > 0:                      # the last zero is the last maximum
                    k -= uint64(1)
                    if x[base + k] == 0:
                        m = x[base + k]
                        break
            out[r] = m

    @njit(cache=True, nogil=True)
    def _global_max_rows(x, out, shape, job_lo, job_hi):
        """``out[n, c]`` = TF's ``reduce_max`` of ``x[n, :, c]`` (flat ``x`` of ``shape =
        (N, K, C)``) for ``job_lo <= n < job_hi``: the cells in order, a cell replaces the
        running value when it is ``>=`` it (the last of equal maxima wins), and the result
        is NaN if any cell is NaN. Unsigned indices and two halves of a buffer, as in the
        pooling kernel."""
        nk, unc = uint64(shape[1]), uint64(shape[2])
        acc = np.empty(2 * unc, x.dtype)
        nan = np.empty(unc, np.uint8)
        for n in range(job_lo, job_hi):
            base = uint64(n) * nk * unc
            for c in range(unc):
                v = x[base + c]
                acc[c] = v
                nan[c] = v != v
            src = uint64(0)
            for k in range(uint64(1), nk):
                dst = unc - src
                xi = base + k * unc
                for c in range(unc):
                    a, v = acc[src + c], x[xi + c]
                    acc[dst + c] = v if v >= a else a
                    nan[c] |= v != v
                src = dst
            for c in range(unc):
                out[uint64(n) * unc + c] = np.nan if nan[c] else acc[src + c]

    @njit(cache=True, nogil=True)
    def _pairwise_leaf(x, base, step, cnt, out):
        """``out[c]`` = NumPy's sum of ``cnt <= 128`` cells ``x[base + i*step + c]``: fewer
        than 8 in order; else 8 running sums, combined ``((r0+r1)+(r2+r3))+((r4+r5)+
        (r6+r7))``, then the remaining cells in order."""
        unc, eight, one = uint64(out.shape[0]), uint64(8), uint64(1)
        if cnt < eight:
            for c in range(unc):
                out[c] = 0
            for i in range(cnt):
                xi = base + i * step
                for c in range(unc):
                    out[c] = out[c] + x[xi + c]
            return
        r = np.empty(eight * unc, out.dtype)
        for j in range(eight):
            for c in range(unc):
                r[j * unc + c] = x[base + j * step + c]
        i = eight
        while i < cnt - cnt % eight:
            for j in range(eight):
                xi = base + (i + j) * step
                for c in range(unc):
                    r[j * unc + c] = r[j * unc + c] + x[xi + c]
            i += eight
        for c in range(unc):
            out[c] = ((r[c] + r[unc + c]) + (r[2 * unc + c] + r[3 * unc + c])) + (
                (r[4 * unc + c] + r[5 * unc + c]) + (r[6 * unc + c] + r[7 * unc + c]))
        while i < cnt:
            xi = base + i * step
            for c in range(unc):
                out[c] = out[c] + x[xi + c]
            i += one

    @njit(cache=True, nogil=True)
    def _global_sum_rows(x, out, shape, job_lo, job_hi):
        """``out[n, c]`` = ``np.sum(x[n, :, c])`` bit for bit (flat ``x`` of ``shape = (N,
        K, C)``): ``+0`` plus NumPy's pairwise sum of the K cells, in ``x``'s dtype —
        blocks of at most 128 cells (:func:`_pairwise_leaf`); a longer range is split in
        two, the first part ``cnt // 2`` rounded down to a multiple of 8, and the sums of
        the parts added. The recursion runs on explicit stacks (Numba's on-disk cache
        cannot hold a recursive function: loading one crashed)."""
        unc, two, eight = uint64(shape[2]), uint64(2), uint64(8)
        lo, size, stage = (np.empty(130, np.uint64), np.empty(130, np.uint64),
                           np.empty(130, np.uint8))
        sums = np.empty((130, unc), out.dtype)    # finished parts, innermost last
        for n in range(job_lo, job_hi):
            base = uint64(n) * uint64(shape[1]) * unc
            sp, vp = 1, 0
            lo[0], size[0], stage[0] = 0, shape[1], 0
            while sp > 0:
                t = sp - 1
                m = size[t]
                half = m // two - (m // two) % eight
                if m <= 128:
                    _pairwise_leaf(x, base + lo[t] * unc, unc, m, sums[vp])
                    vp += 1
                    sp -= 1
                elif stage[t] < 2:                # push the first, then the second part
                    stage[t] += 1
                    first = stage[t] == 1
                    lo[sp] = lo[t] if first else lo[t] + half
                    size[sp] = half if first else m - half
                    stage[sp] = 0
                    sp += 1
                else:                             # both parts done: first + second
                    vp -= 1
                    for c in range(unc):
                        sums[vp - 1, c] = sums[vp - 1, c] + sums[vp, c]
                    sp -= 1
            for c in range(unc):
                out[uint64(n) * unc + c] = 0.0 + sums[0, c]


#: ``(kernel, types of its first two arguments)`` compiled (or loaded from the cache) in
#: this process: only they can come from the caller (dtype, read-only); every other
#: argument is built by this module, its type fixed by theirs.
_READY: set = set()
_READY_LOCK = threading.Lock()


def _arg_type(a) -> object:
    """What of an argument decides the kernel's compiled signature."""
    if isinstance(a, np.ndarray):
        return a.dtype.str, a.ndim, a.flags.c_contiguous, a.flags.writeable
    return type(a)


def _ready(kernel, args: tuple) -> None:
    """Compile ``kernel`` for ``args``' types (or load it from Numba's cache) with LLVM's
    SLP vectoriser on, once per process and signature.

    Numba runs LLVM with the SLP vectoriser off unless ``NUMBA_SLP_VECTORIZE=1``; the
    8-lane steps of the channels-inner loop (:func:`_step8`) are vectorised by it only
    (without it: scalar code, measured 3-4x slower on 8 and 16 channels). The setting is
    read when a function is compiled, so it is switched on around the first call (an empty
    job range) and restored; it changes no result (the vectoriser keeps every operation
    and its order, no fast-math), only which instructions carry them out."""
    key = (kernel, _arg_type(args[0]), _arg_type(args[1]))   # the caller's arrays (the
    if key in _READY:                                        # others are built here)
        return
    from numba.core import config

    with _READY_LOCK:
        if key in _READY:
            return
        old = config.SLP_VECTORIZE
        config.SLP_VECTORIZE = 1
        try:
            kernel(*args, 0, 0)
        finally:
            config.SLP_VECTORIZE = old
        _READY.add(key)


def _launch(kernel, args: tuple, jobs: int, nbytes: int) -> None:
    """``kernel(*args, lo, hi)`` for the jobs ``0 <= job < jobs``, split into contiguous
    parts on the package thread pool (:func:`pooling_ref._fast.run`: the calling thread for
    small work; the kernels release the GIL), compiled by :func:`_ready`."""
    from . import _fast

    _ready(kernel, args)
    if nbytes < _fast.PARALLEL_MIN_BYTES or _fast.workers() < 2:
        kernel(*args, 0, jobs)                 # one call: no per-part dispatch cost
        return
    parts = max(1, min(jobs, max(2 * _fast.workers(), nbytes // PART_BYTES)))
    _fast.run(lambda k: kernel(*args, k * jobs // parts, (k + 1) * jobs // parts),
              list(range(parts)), nbytes)


@functools.lru_cache(maxsize=256)
def _rank3(g: WindowGeometry) -> WindowGeometry:
    """``g`` with size-1 spatial axes in front, so that it has three spatial axes."""
    k = 3 - g.rank
    return WindowGeometry((1,) * k + g.in_spatial, (1,) * k + g.window, (1,) * k + g.strides,
                          (1,) * k + g.dilation, ((0, 0),) * k + g.pads,
                          (1,) * k + g.out_spatial)


def _work_layout(x_cl: np.ndarray) -> tuple[np.ndarray, bool]:
    """A C-contiguous array to pool: ``x_cl`` itself, or — when ``x_cl`` is the channels_last
    view of a contiguous channels_first array — that array as ``(N*C, *spatial, 1)``."""
    if x_cl.flags.c_contiguous:
        return x_cl, False
    cf = np.moveaxis(x_cl, -1, 1)
    if cf.flags.c_contiguous:
        return cf.reshape(cf.shape[0] * cf.shape[1], *cf.shape[2:], 1), True
    return np.ascontiguousarray(x_cl), False


@functools.lru_cache(maxsize=64)
def _plan_dtype(dtype: np.dtype, op: str) -> tuple[int, np.dtype, object]:
    """``(mode, dtype computed in, start value)`` of the pooling kernel for ``dtype``."""
    from .pooling import lowest

    half = dtype.itemsize == 2 and dtype.kind not in "iu"      # float16, bfloat16
    if op == "max":
        cdtype = np.dtype(np.float32) if half else dtype
        return _MAX, cdtype, np.array(lowest(dtype)).astype(cdtype)[()]
    mode = _SUM_F16 if dtype == np.float16 else _SUM
    cdtype = np.dtype(np.float64) if mode == _SUM_F16 else dtype
    return mode, cdtype, cdtype.type(0)


def _plan_rules(dtype: np.dtype, op: str, rules) -> tuple[int, np.dtype, object] | None:
    """:func:`_plan_dtype` under a TF kernel path's :class:`pooling_ref.tf_kernels.Rules`
    (``None``: the specification), or ``None`` where the kernel cannot follow them in its
    one pass (the caller applies them around it).

    Max pooling: ``flush="full"`` compares and returns cells read through DAZ (the maximum
    of flushed cells is never subnormal, so the output flush has nothing left to do);
    ``"compare"`` compares the flushed keys and keeps the chosen cell's own bits (the
    first of the equal keys, as the specification's first-of-equal-maxima rule picks);
    ``empty`` is the start value (a window without a number keeps it: ``-inf`` never
    replaces ``-inf``, nor the lowest finite value). Average pooling: ``flush`` reads
    cells through DAZ and writes a subnormal average as zero; a summation in another
    dtype, ``skip_lowest`` and a reciprocal division are left to the caller."""
    mode, cdtype, init = _plan_dtype(dtype, op)
    if rules is None or dtype.kind in "iu":
        return mode, cdtype, init
    if op == "max":
        mode = {"none": _MAX, "full": _MAX_DAZ, "compare": _MAX_CMP}[rules.flush]
        empty = -np.inf if rules.empty == "-inf" else -float(finfo(dtype).max)
        return mode, cdtype, cdtype.type(empty)
    if rules.divide != "divide" or rules.skip_lowest or dtype.name == "bfloat16" or (
            rules.flush != "none" and mode != _SUM):
        return None
    return (_SUM_DAZ if rules.flush == "full" else mode), cdtype, init


def _layout(channels: int, window_w: int, stride_w: int) -> int:
    """The pooling kernel's loop order for a channel count and the window and stride of
    the last spatial axis (measured, module docstring)."""
    if channels >= CHANNELS_INNER_MIN:
        return _CHANNELS_INNER
    fixed = _ROWS_BY_SHAPE.get((channels, window_w, stride_w))
    if fixed is not None:
        return fixed
    return _TAP_MAJOR if channels > 1 else _ROWS


@functools.lru_cache(maxsize=256)
def _lane_blocks(channels: int) -> np.ndarray:
    """The channel blocks ``(first channel, width)`` of the channels-inner loop order: the
    widest of :data:`LANES` that fits, in turn; a remainder of fewer than 8 channels is
    covered by one more block of 8 ending at the last channel, which overlaps the block
    before it (its channels are computed twice, to the same values). Empty below 8.

    >>> _lane_blocks(64).tolist(), _lane_blocks(12).tolist()
    ([[0, 32], [32, 32]], [[0, 8], [4, 8]])
    """
    blocks, c = [], 0
    for lanes in LANES:
        while channels - c >= lanes:
            blocks.append((c, lanes))
            c += lanes
    if 0 < channels - c and channels >= LANES[-1]:
        blocks.append((channels - LANES[-1], LANES[-1]))
    table = np.array(blocks, np.int64).reshape(-1, 2)
    table.setflags(write=False)
    return table


@functools.lru_cache(maxsize=256)
def _whole_windows(g3: WindowGeometry) -> np.ndarray:
    """``(i0, i1, cell, window)`` along the last spatial axis: the outputs ``i0 <= o < i1``
    whose window lies whole in the input (contiguous: the tap table's rows with every tap
    real), the input cell of output ``i0``'s first tap, and the window length; ``i0 = i1
    = 0`` when there are none."""
    t = g3.taps[2]
    k = g3.window[2]
    whole = np.flatnonzero((t[:, TAP_LO] == 0) & (t[:, TAP_HI] == k))
    if whole.size == 0:
        return np.array([0, 0, 0, k], np.int64)
    i0, i1 = int(whole[0]), int(whole[-1]) + 1
    assert whole.size == i1 - i0                       # contiguous (see the docstring)
    return np.array([i0, i1, t[i0, CELL_LO], k], np.int64)


def pool(x_cl: np.ndarray, g: WindowGeometry, op: str, rules=None) -> np.ndarray | None:
    """Max (``op="max"``) or average (``"avg"``) pooling of channels_last ``x_cl``,
    bit for bit the ``"loop"`` method; with ``rules`` (a TF kernel path's
    :class:`~pooling_ref.tf_kernels.Rules`), bit for bit :mod:`pooling_ref.tf_kernels`
    applying them around the loop, in the same single pass over the input — or ``None``
    where the kernel cannot follow them (:func:`_plan_rules`)."""
    dtype = x_cl.dtype
    plan = _plan_rules(dtype, op, rules)
    if plan is None:
        return None
    if op == "avg" and dtype.itemsize == 2 and dtype.kind not in "iu" and dtype != np.float16:
        # A bfloat16 sum rounded after every addition (Eigen's rule, tf_kernels) has no
        # exact float32 emulation here: the NumPy method computes it in ml_dtypes' bfloat16.
        # (The specification's bfloat16 average is summed in float32 and arrives as such.)
        from .pooling import _METHODS as _numpy_methods

        return _numpy_methods["avg"]["fast"](x_cl, g)
    n, c = x_cl.shape[0], x_cl.shape[-1]
    work, channels_first = _work_layout(x_cl)
    mode, cdtype, init = plan
    tiny = cdtype.type(finfo(dtype).tiny if mode in _DAZ_MODES else 0)
    work = work.astype(cdtype, copy=False)
    g3 = _rank3(g)
    x5 = work.reshape(work.shape[0], *g3.in_spatial, work.shape[-1])
    nc5 = x5.shape[-1]
    out5 = np.empty((x5.shape[0], *g3.out_spatial, nc5), cdtype)
    if out5.size:
        args = (x5.reshape(-1), out5.reshape(-1), np.array(x5.shape[1:], np.int64),
                *g3.taps, g3.tap_outputs[2], g3.strides[2], init, tiny,
                _lane_blocks(nc5), _whole_windows(g3))
        jobs = out5.size // (g3.out_spatial[2] * x5.shape[-1])
        layout = _layout(nc5, g3.window[2], g3.strides[2])
        _launch(_KERNELS[mode, layout], args, jobs, x5.nbytes)
    out = out5.astype(dtype, copy=False)
    if channels_first:
        return np.moveaxis(out.reshape(n, c, *g.out_spatial), 1, -1)
    return out.reshape(n, *g.out_spatial, c)


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
    under :class:`pooling_ref.tf_kernels.GradRules` ``order`` (``"row-major"`` or
    ``"last-axis-outer"``), ``flush`` (every addend and partial sum flushed; ``x_cl`` is
    compared as given, so the caller passes it flushed) and ``unchosen`` (what a window adds
    to the cells it does not choose, :meth:`~pooling_ref.tf_kernels.GradRules.unchosen_zero`).
    ``None`` for float16/bfloat16 (Numba has no half types; the caller runs NumPy)."""
    from .pooling import lowest

    if x_cl.dtype.name in ("float16", "bfloat16"):
        return None
    if rule == "tf3d" and x_cl.dtype.kind in "iu":
        rule = "all"                          # integers: "equal" is equality
    x = np.ascontiguousarray(x_cl)
    gout = np.ascontiguousarray(gout)
    g3 = _rank3(g)
    grad = np.zeros(x.shape, x.dtype)
    if x.size and gout.size:
        init = lowest(x.dtype) if rule != "avg" else x.dtype.type(0)
        tol = x.dtype.type(tolerance) if x.dtype.kind == "f" else x.dtype.type(0)
        shape = np.array((*g3.in_spatial, x.shape[-1]), np.int64)
        tiny = x.dtype.type(np.finfo(x.dtype).tiny if flush and x.dtype.kind == "f" else 0)
        args = (x.reshape(-1), gout.reshape(-1), grad.reshape(-1), shape, *g3.taps, init,
                tol, order == "last-axis-outer", flush and x.dtype.kind == "f", tiny,
                x.dtype.type(unchosen))
        _launch(_GRAD_KERNELS[_GRAD_RULES[rule]], args, x.shape[0], x.nbytes + gout.nbytes)
    return grad


def special_cells(a: np.ndarray) -> tuple[bool, bool] | None:
    """``(has a subnormal, has a NaN or -inf)`` for a float32/float64 array, in one
    compiled pass (the two checks :mod:`pooling_ref.tf_kernels` makes before pooling);
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
