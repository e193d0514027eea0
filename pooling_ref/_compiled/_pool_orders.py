"""The loop orders of the compiled pooling kernel, each a function of its own (Numba).

Every order computes output rows ``job_lo <= job < job_hi`` (job = ``(b*OD + od)*OH + oh``)
of the pooling of flat C-contiguous ``x`` (shape ``(N, D, H, W, C)``) into flat ``out``,
with the same arguments (:func:`pooling_ref._compiled.pool` builds them), and visits the
cells of every output in row-major window order, so the loop specification's results
(first of equal maxima, summation order) hold in all of them. ``tiny`` is the smallest
normal of the dtype (read only by the flush modes). Indices are unsigned (no
negative-index wrap-around checks, which would stop LLVM from vectorising).

Each factory returns the kernel of one step ``mode`` (a compile-time constant of the
closure, so each kernel holds only its own step and loop nest: with all loop nests in one
function, the channels-inner one was measured 1.2-1.4x slower). Kernels are compiled on
first use and cached on disk.
"""

import numpy as np
from numba import njit, uint64

from ..geometry import CELL_HI, CELL_LO, TAP_HI, TAP_LO
from ._modes import (
    _MAX,
    _MAX_CMP,
    _MAX_DAZ,
    _MAX_MODES,
    _SUM,
    _SUM_DAZ,
    _SUM_F16,
    CHANNELS_INNER,
    MODES,
    ROWS_ORDERS,
    TAP_MAJOR,
)
from ._steps import _finish, _finish8, _step, _store8, _window_lanes

#: More outputs than any row has (a bound on loop counts LLVM can see: :func:`_whole_outputs`).
_ROW_MAX = uint64(1 << 40)


@njit(cache=True, inline="always")
def _job(job, at, nw, nc, taps_d, taps_h):
    """``(b, ob, d_lo, d_hi, h_lo, h_hi, dh)`` of output row ``job`` at ``at = (b, od,
    oh)``: its batch item, the flat offset of its first output, the real input rows along
    d and h, and their number."""
    b, od, oh = at
    ob = uint64(job * nw * nc)
    dh = ((taps_d[od, TAP_HI] - taps_d[od, TAP_LO])
          * (taps_h[oh, TAP_HI] - taps_h[oh, TAP_LO]))
    return (b, ob, taps_d[od, CELL_LO], taps_d[od, CELL_HI], taps_h[oh, CELL_LO],
            taps_h[oh, CELL_HI], dh)


@njit(cache=True, inline="always")
def _job_at(job, nd, nh):
    """``(b, od, oh)`` of output row ``job = (b*OD + od)*OH + oh`` (divisions: once per
    call, :func:`_next_job` steps on)."""
    return job // (nd * nh), (job // nh) % nd, job % nh


@njit(cache=True, inline="always")
def _next_job(at, nd, nh):
    """``(b, od, oh)`` of the output row after ``at`` (three integer divisions per row
    were measured 1.3-2x the time of short rows: ``(8, 3, 32, 32)`` NCHW)."""
    b, od, oh = at
    oh += 1
    if oh == nh:
        oh = 0
        od += 1
        if od == nd:
            od = 0
            b += 1
    return b, od, oh


def channels_inner(mode):
    """Many channels: output-stationary. Per output cell, its real cells in row-major window
    order, 32, 16 or 8 channels at a time (``blocks``: :func:`~pooling_ref._compiled.
    lane_blocks`), one accumulator per channel in registers (:func:`._steps._window_lanes`:
    eight-lane tuples that LLVM's SLP vectoriser turns into vector operations)."""
    averages = mode == _SUM or mode == _SUM_F16 or mode == _SUM_DAZ
    step, redo = _plain_step(mode)

    @njit(cache=True, nogil=True, error_model="numpy")   # x / 0 as NumPy (no raise)
    def channels_inner_rows(x, out, shape, taps_d, taps_h, taps_w, taps_out_w, stride_w,
                            init, tiny, blocks, whole_w, job_lo, job_hi):
        nd, nh, nw = taps_d.shape[0], taps_h.shape[0], taps_w.shape[0]
        d_in, h_in, w_in, nc = shape
        unc = uint64(nc)
        count = np.empty(1, out.dtype)            # a real-cell count in the dtype
        at = _job_at(job_lo, nd, nh)
        chunk_lo = job_lo                         # first row not yet checked for a redo
        for job in range(job_lo, job_hi):
            b, ob, d_lo, d_hi, h_lo, h_hi, dh = _job(job, at, nw, nc, taps_d, taps_h)
            at = _next_job(at, nd, nh)
            xb = uint64(b * d_in * h_in * w_in) * unc
            for ow in range(nw):
                cells = (d_lo, d_hi, h_lo, h_hi, taps_w[ow, CELL_LO], taps_w[ow, CELL_HI],
                         h_in, w_in)
                if averages:
                    count[0] = dh * (taps_w[ow, TAP_HI] - taps_w[ow, TAP_LO])
                oi = ob + uint64(ow * nc)
                for k in range(blocks.shape[0]):
                    cb, lanes = uint64(blocks[k, 0]), blocks[k, 1]
                    if lanes == 32:
                        a = _window_lanes(x, xb + cb, cells, unc, 4, init, tiny, step)
                    elif lanes == 16:
                        a = _window_lanes(x, xb + cb, cells, unc, 2, init, tiny, step)
                    else:
                        a = _window_lanes(x, xb + cb, cells, unc, 1, init, tiny, step)
                    n = count[0]
                    _store8(out, oi + cb, _finish8(a[0], n, tiny, step))
                    if lanes > 8:
                        _store8(out, oi + cb + uint64(8), _finish8(a[1], n, tiny, step))
                    if lanes > 16:
                        _store8(out, oi + cb + uint64(16), _finish8(a[2], n, tiny, step))
                        _store8(out, oi + cb + uint64(24), _finish8(a[3], n, tiny, step))
            if redo:
                chunk_lo = _redo_due(x, out, job, job_hi, chunk_lo, uint64(nw) * unc, shape, taps_d,
                                     taps_h, taps_w, init, tiny, mode)

    return channels_inner_rows


@njit(cache=True, inline="always")
def _whole_outputs(x, out, x0, ob, i0, i1, ss, kk, ucc, tiny, mode):
    """The outputs ``i0 <= ow < i1`` whose window lies whole in the input row: ``kk`` cells
    ``ss`` apart from ``x0`` (compile-time constants where the order fixes them).

    The loop's count is capped at :data:`_ROW_MAX` (never reached): with an unbounded
    count, ``j * ss`` might wrap around, so LLVM could not see the taps as one interleaved
    group of loads and gathered them one by one instead (measured 2x slower: (24, 224,
    224) one channel, window 3, stride 2)."""
    for j in range(min(i1 - i0, _ROW_MAX)):
        lo = x0 + j * ss * ucc
        o = ob + (i0 + j) * ucc
        for c in range(ucc):
            a = out[o + c]
            for t in range(kk):
                a = _step(a, x[lo + t * ucc + c], tiny, mode)
            out[o + c] = a


@njit(cache=True, inline="always")
def _edge_outputs(x, out, xb, ob, i0, i1, unw, taps_w, ucc, tiny, mode):
    """The other outputs of the row (windows cut by the "same" edges): their real cells
    from the tap table."""
    for ow in range(unw - (i1 - i0)):
        ow = ow if ow < i0 else ow + (i1 - i0)
        lo, hi = uint64(taps_w[ow, CELL_LO]), uint64(taps_w[ow, CELL_HI])
        for c in range(ucc):
            a = out[ob + ow * ucc + c]
            for i in range(lo, hi):
                a = _step(a, x[xb + i * ucc + c], tiny, mode)
            out[ob + ow * ucc + c] = a


@njit(cache=True, inline="always")
def _finish_row(out, ob, unw, ucc, dh, taps_w, count, tiny, mode):
    """Each output of the row from its accumulator (averages: divided by the real cells)."""
    for ow in range(unw):
        count[0] = dh * (taps_w[ow, TAP_HI] - taps_w[ow, TAP_LO])
        for c in range(ucc):
            oi = ob + ow * ucc + c
            out[oi] = _finish(out[oi], count[0], tiny, mode)


def rows(mode, fixed_c, fixed_k, fixed_s):
    """One channel (channels_first input, seen as ``N*C`` items of one channel) or
    ``fixed_c`` channels: per output and channel, its real cells of each input row. The
    outputs with a whole window, ``i0 <= ow < i1`` (``whole_w``), start ``fixed_s`` cells
    apart and have ``fixed_k`` cells: compile-time constants for the common windows (LLVM
    then vectorises across outputs, measured 3x), else (``0``) the arguments; the others
    read the tap table."""
    # 3 channels keep the flush step: measured with the plain step and the second pass
    # (one thread), (8, 224, 224, 3) max k3 555 -> 634 us, (8, 32, 32, 3) k2 8.4 -> 9.4
    step, redo = _plain_step(mode) if fixed_c == 1 else (mode, False)
    finishes = step not in _MAX_MODES

    @njit(cache=True, nogil=True, error_model="numpy")   # x / 0 as NumPy (no raise)
    def per_output_rows(x, out, shape, taps_d, taps_h, taps_w, taps_out_w, stride_w, init,
                        tiny, blocks, whole_w, job_lo, job_hi):
        nd, nh, nw = taps_d.shape[0], taps_h.shape[0], taps_w.shape[0]
        d_in, h_in, w_in, nc = shape
        unw, ucc = uint64(nw), uint64(fixed_c)
        count = np.empty(1, out.dtype)            # a real-cell count in the dtype
        i0, i1, c0 = uint64(whole_w[0]), uint64(whole_w[1]), uint64(whole_w[2])
        ss = uint64(fixed_s) if fixed_s else uint64(stride_w)
        kk = uint64(fixed_k) if fixed_k else uint64(whole_w[3])
        at = _job_at(job_lo, nd, nh)
        chunk_lo = job_lo                         # first row not yet checked for a redo
        for job in range(job_lo, job_hi):
            b, ob, d_lo, d_hi, h_lo, h_hi, dh = _job(job, at, nw, nc, taps_d, taps_h)
            at = _next_job(at, nd, nh)
            for i in range(unw * ucc):
                out[ob + i] = init
            for i_d in range(d_lo, d_hi):
                for i_h in range(h_lo, h_hi):
                    xb = uint64(((b * d_in + i_d) * h_in + i_h) * w_in) * ucc
                    _whole_outputs(x, out, xb + c0 * ucc, ob, i0, i1, ss, kk, ucc, tiny,
                                   step)
                    _edge_outputs(x, out, xb, ob, i0, i1, unw, taps_w, ucc, tiny, step)
            if finishes:
                _finish_row(out, ob, unw, ucc, dh, taps_w, count, tiny, step)
            if redo:
                chunk_lo = _redo_due(x, out, job, job_hi, chunk_lo, unw * ucc, shape, taps_d,
                                     taps_h, taps_w, init, tiny, mode)

    return per_output_rows


@njit(cache=True, inline="always")
def _tap_pass(x, row_buf, src, dst, x0, lo, hi, unc, unw, step_w, tiny, mode):
    """One window column tap over the row: outputs ``lo <= ow < hi`` step with their cell,
    the others are carried over (from half ``src`` of the buffer to half ``dst``)."""
    for c in range(unc):
        bo = c * unw
        for ow in range(bo, bo + lo):
            row_buf[dst + ow] = row_buf[src + ow]
        for ow in range(bo + hi, bo + unw):
            row_buf[dst + ow] = row_buf[src + ow]
        xc = x0 + c
        for j in range(hi - lo):
            row_buf[dst + bo + lo + j] = _step(row_buf[src + bo + lo + j], x[xc + j * step_w],
                                               tiny, mode)


@njit(cache=True, inline="always")
def _store_tap_row(out, row_buf, src, ob, unw, unc, dh, taps_w, count, tiny, finishes, mode):
    """The row buffer (channel-major) written to the output row (channels last)."""
    for ow in range(unw):
        oi = ob + ow * unc
        count[0] = dh * (taps_w[ow, TAP_HI] - taps_w[ow, TAP_LO])
        for c in range(unc):
            a = row_buf[src + c * unw + ow]
            if finishes:
                a = _finish(a, count[0], tiny, mode)
            out[oi + c] = a


def tap_major(mode):
    """Few channels (2 to 7, and one channel with other windows): for each real window row
    and each window column tap (increasing: each output still sees its cells in row-major
    window order), every output of the row whose tap it is, in a channel-major row buffer
    (contiguous in ow: the ow loop vectorises). The buffer has two halves, each pass reading
    one and writing the other (updating in place, ``acc[i] = max(acc[i], v)``, lets LLVM
    turn the store into a masked store, ~4x slower on AMD Zen); outputs the tap misses
    ("same" edges) are carried over."""
    step, redo = _plain_step(mode)
    finishes = step not in _MAX_MODES

    @njit(cache=True, nogil=True, error_model="numpy")   # x / 0 as NumPy (no raise)
    def tap_major_rows(x, out, shape, taps_d, taps_h, taps_w, taps_out_w, stride_w, init,
                       tiny, blocks, whole_w, job_lo, job_hi):
        nd, nh, nw = taps_d.shape[0], taps_h.shape[0], taps_w.shape[0]
        d_in, h_in, w_in, nc = shape
        unc, unw = uint64(nc), uint64(nw)
        count = np.empty(1, out.dtype)            # a real-cell count in the dtype
        n_row = unw * unc
        row_buf = np.empty(2 * n_row, out.dtype)
        step_w = uint64(stride_w * nc)            # input step between outputs
        at = _job_at(job_lo, nd, nh)
        chunk_lo = job_lo                         # first row not yet checked for a redo
        for job in range(job_lo, job_hi):
            b, ob, d_lo, d_hi, h_lo, h_hi, dh = _job(job, at, nw, nc, taps_d, taps_h)
            at = _next_job(at, nd, nh)
            for i in range(n_row):
                row_buf[i] = init
            src = uint64(0)
            for i_d in range(d_lo, d_hi):
                for i_h in range(h_lo, h_hi):
                    xb = uint64(((b * d_in + i_d) * h_in + i_h) * w_in * nc)
                    for t in range(taps_out_w.shape[0]):
                        lo, hi = uint64(taps_out_w[t, 0]), uint64(taps_out_w[t, 1])
                        if hi != lo:
                            dst = n_row - src
                            _tap_pass(x, row_buf, src, dst, xb + uint64(taps_out_w[t, 2] * nc),
                                      lo, hi, unc, unw, step_w, tiny, step)
                            src = dst
            _store_tap_row(out, row_buf, src, ob, unw, unc, dh, taps_w, count, tiny, finishes,
                           step)
            if redo:
                chunk_lo = _redo_due(x, out, job, job_hi, chunk_lo, n_row, shape, taps_d,
                                     taps_h, taps_w, init, tiny, mode)

    return tap_major_rows


def _plain_step(mode):
    """``(step mode, redo)``: a flush max mode (``_MAX_CMP``, ``_MAX_DAZ``) runs the plain
    max step and then :func:`_redo_row` on each output row whose check asks for it
    (:func:`_redo_rows`); every other mode runs itself.
    The plain step is one vector max, the flush step three compares (measured, one
    process, float32: (8, 3, 224, 224) max k3 221 -> 177 us, (64, 64, 56, 56) k3
    3032 -> 2131, (64, 56, 56, 64) k3 2539 -> 2120)."""
    redo = mode == _MAX_CMP or mode == _MAX_DAZ
    return (_MAX if redo else mode), redo


#: Outputs checked at once for a flush max redo (:func:`_redo_rows`): 4 KiB of float32.
_SCAN_OUTPUTS = uint64(1024)


@njit(cache=True, inline="always")
def _redo_due(x, out, job, job_hi, chunk_lo, n_row, shape, taps_d, taps_h, taps_w, init,
              tiny, mode):
    """After output row ``job``: the rows ``chunk_lo <= j <= job`` (``n_row`` outputs
    each) checked and computed again where needed (:func:`_redo_rows`) once they hold
    :data:`_SCAN_OUTPUTS` outputs or ``job`` is the part's last row. Returns the first
    row not yet checked."""
    if job + 1 == job_hi or uint64(job + 1 - chunk_lo) * n_row >= _SCAN_OUTPUTS:
        _redo_rows(x, out, chunk_lo, job + 1, shape, taps_d, taps_h, taps_w, init, tiny,
                   mode)
        return job + 1
    return chunk_lo


@njit(cache=True, inline="always")
def _redo_rows(x, out, job0, job1, shape, taps_d, taps_h, taps_w, init, tiny, mode):
    """After the plain max step over output rows ``job0 <= job < job1`` (consecutive in
    ``out``): one vector pass over all their outputs, and only where one of them is zero
    or subnormal, :func:`_redo_row` on each of the rows. A row of 15 outputs checked on its
    own left 7 of them to scalar code (measured, (8, 3, 32, 32) max window 3: 14.3 us
    with the flush rule against 12.6 without; 12.4 with the check over chunks)."""
    nd, nh, nw = taps_d.shape[0], taps_h.shape[0], taps_w.shape[0]
    nc = shape[3]
    unc = uint64(nc)
    n_row = uint64(nw) * unc
    lo = uint64(job0) * n_row
    small = False
    for i in range(min(uint64(job1 - job0) * n_row, _ROW_MAX)):
        small |= abs(out[lo + i]) < tiny
    if not small:
        return
    at = _job_at(job0, nd, nh)
    for job in range(job0, job1):
        b, ob, d_lo, d_hi, h_lo, h_hi, _ = _job(job, at, nw, nc, taps_d, taps_h)
        at = _next_job(at, nd, nh)
        _redo_row(x, out, ob, n_row, unc, b, d_lo, d_hi, h_lo, h_hi, shape, taps_w, init,
                  tiny, mode)


@njit(cache=True, inline="always")
def _redo_row(x, out, ob, n_row, unc, b, d_lo, d_hi, h_lo, h_hi, shape, taps_w, init, tiny,
              mode):
    """After the plain max step over an output row (outputs ``ob <= i < ob + n_row``, ``unc``
    channels), each output whose maximum is zero or subnormal (``|out| < tiny``) computed
    again over its window with the flush max ``mode``'s own step and finish, in row-major
    window order. The others are the mode's result already: with a maximum ``M`` of
    ``|M| >= tiny`` (or the start value), every subnormal cell's key (a zero) is below
    ``M``, the cells keyed ``M`` are the cells equal to ``M``, and both steps keep the
    first of them. The row is checked in one vector pass first."""
    d_in, h_in, w_in, _ = shape
    small = False
    for i in range(min(n_row, _ROW_MAX)):
        small |= abs(out[ob + i]) < tiny
    if not small:
        return
    for i in range(n_row):
        if abs(out[ob + i]) < tiny:
            ow, c = i // unc, i % unc
            a = init
            for i_d in range(d_lo, d_hi):
                for i_h in range(h_lo, h_hi):
                    row = uint64(((b * d_in + i_d) * h_in + i_h) * w_in) * unc + c
                    for i_w in range(taps_w[ow, CELL_LO], taps_w[ow, CELL_HI]):
                        a = _step(a, x[row + uint64(i_w) * unc], tiny, mode)
            out[ob + i] = _finish(a, a, tiny, mode)


def _kernel(mode, order):
    if order == CHANNELS_INNER:
        return channels_inner(mode)
    if order == TAP_MAJOR:
        return tap_major(mode)
    return rows(mode, *ROWS_ORDERS[order])


#: ``(mode, loop order) -> kernel``.
KERNELS = {(mode, order): _kernel(mode, order) for mode in MODES
           for order in (CHANNELS_INNER, TAP_MAJOR, *ROWS_ORDERS)}
