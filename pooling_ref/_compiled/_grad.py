"""The compiled pooling gradients: one kernel per ``ties`` rule (a compile-time constant),
bit for bit the ``"loop"`` method of :mod:`pooling_ref.gradients`.

Per output position (row-major, or 3D's last spatial axis outermost), the window's real
cells (:func:`_window_cells`) receive its gradient: average pooling, every cell its share
(:func:`_send_average`); ``"first"``, the cell the scan from the first real cell settles
on (:func:`_send_first`); the others, every cell equal to (``"tf3d"``: within ``tol`` of)
the forward maximum (:func:`_forward_max`, :func:`_send_tied`). The cells a max-pooling
window does not choose receive ``zero`` (:meth:`pooling_ref.rules.GradPlan.unchosen_zero`:
``-0``, which adds nothing, or ``+0``), as in the loop. Under ``flush`` every addition is
:func:`pooling_ref.dtypes.flushed_add`, compiled (:data:`_add_flushed`). Buffers have two
halves and adds are unconditional (``+ zero``), so LLVM emits no masked stores (slow on AMD
Zen; see the pooling kernel).
"""

import numpy as np
from numba import njit, uint64

from ..dtypes import flushed_add
from ..geometry import CELL_HI, CELL_LO, TAP_HI, TAP_LO
from ._modes import _G_AVG, _G_FIRST, _G_SPLIT, _G_TF3D, GRAD_RULE_CODES


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


#: ``total + addend`` under x86 DAZ + FTZ (the ``flush`` plan field): the very function the
#: NumPy methods call, compiled.
_add_flushed = njit(cache=True, nogil=True, inline="always")(flushed_add)


@njit(cache=True, inline="always")
def _add(grad, i, a, flush, tiny):
    if flush:
        grad[i] = _add_flushed(grad[i], a, tiny)
    else:
        grad[i] += a


@njit(cache=True, inline="always")
def _position(p, nd, nh, nw, last_axis_outer):
    """Output position ``p`` of the accumulation order as ``(od, oh, ow)``."""
    if last_axis_outer:
        return p % nd, (p // nd) % nh, p // (nd * nh)
    return p // (nh * nw), (p // nw) % nh, p % nw


@njit(cache=True, inline="always")
def _send_average(gout, grad, cells, ncells, go, unc, share, count, flush, tiny):
    """Every real cell receives ``grad_out / count`` (count in the dtype)."""
    count[0] = ncells
    for c in range(unc):
        share[c] = gout[go + c] / count[0]
    for j in range(ncells):
        for c in range(unc):
            _add(grad, cells[j] + c, share[c], flush, tiny)


@njit(cache=True, inline="always")
def _send_first(x, gout, grad, cells, ncells, go, unc, best, pick, flush, tiny, zero):
    """``"first"``: the scan starts at the first real cell and moves on only to a strictly
    greater one; that cell receives the gradient, the others ``zero``."""
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
            _add(grad, xi + c, gout[go + c] if pick[src + c] == xi else zero, flush, tiny)


@njit(cache=True, inline="always")
def _forward_max(x, cells, ncells, unc, best, count, init):
    """The forward maximum of the window (TF's max step from ``init``) into ``best``."""
    for c in range(unc):
        best[c] = init
        count[c] = 0
    for j in range(ncells):
        for c in range(unc):
            best[c] = max(best[c], x[cells[j] + c])


@njit(cache=True, inline="always")
def _chosen(v, best, tol, rule):
    if rule == _G_TF3D:
        return abs(v - best) < tol
    return v == best


@njit(cache=True, inline="always")
def _send_tied(x, gout, grad, cells, ncells, go, unc, best, share, count, tol, rule,
               flush, tiny, zero):
    """Every cell equal to the maximum (``"tf3d"``: within ``tol``) receives the gradient
    (``"split"``: its equal share), the others ``zero``."""
    if rule == _G_SPLIT:
        for j in range(ncells):
            for c in range(unc):
                if x[cells[j] + c] == best[c]:
                    count[c] += 1
        for c in range(unc):
            share[c] = gout[go + c] / count[c]
    else:
        for c in range(unc):
            share[c] = gout[go + c]
    for j in range(ncells):
        xi = cells[j]
        for c in range(unc):
            a = share[c] if _chosen(x[xi + c], best[c], tol, rule) else zero
            _add(grad, xi + c, a, flush, tiny)


def _grad_kernel(rule):
    """The pooling-gradient kernel for one ``rule`` (:data:`._modes.GRAD_RULE_CODES`; a
    compile-time constant of the closure, cached per rule)."""

    @njit(cache=True, nogil=True, error_model="numpy")   # x / 0: inf, as NumPy
    def grad_items(x, gout, grad, shape, taps_d, taps_h, taps_w, init, tol,
                   last_axis_outer, flush, tiny, zero, job_lo, job_hi):
        """Batch items ``job_lo <= b < job_hi`` of the gradient: ``grad`` (flat, like
        ``x``, shape ``(N, D, H, W, C)``, all ``+0``) receives what every output position
        sends its window's cells, in the loop specification's order (the cells a max
        window does not choose: ``zero``)."""
        nd, nh, nw = taps_d.shape[0], taps_h.shape[0], taps_w.shape[0]
        unc = uint64(shape[3])
        best = np.empty(2 * unc, x.dtype)
        pick = np.empty(2 * unc, np.uint64)
        share = np.empty(unc, x.dtype)
        count = np.empty(unc, x.dtype)       # chosen / real cells, in the dtype
        cells = np.empty((taps_d[:, TAP_HI] - taps_d[:, TAP_LO]).max()
                         * (taps_h[:, TAP_HI] - taps_h[:, TAP_LO]).max()
                         * (taps_w[:, TAP_HI] - taps_w[:, TAP_LO]).max(), np.uint64)
        for b in range(job_lo, job_hi):
            for p in range(nd * nh * nw):
                od, oh, ow = _position(p, nd, nh, nw, last_axis_outer)
                go = uint64((((b * nd + od) * nh + oh) * nw + ow) * unc)
                ncells = _window_cells(b, od, oh, ow, shape, taps_d, taps_h, taps_w, cells)
                if rule == _G_AVG:
                    _send_average(gout, grad, cells, ncells, go, unc, share, count, flush,
                                  tiny)
                elif rule == _G_FIRST:
                    _send_first(x, gout, grad, cells, ncells, go, unc, best, pick, flush,
                                tiny, zero)
                else:
                    _forward_max(x, cells, ncells, unc, best, count, init)
                    _send_tied(x, gout, grad, cells, ncells, go, unc, best, share, count,
                               tol, rule, flush, tiny, zero)

    return grad_items


#: ``rule code -> kernel``.
GRAD_KERNELS = {rule: _grad_kernel(rule) for rule in GRAD_RULE_CODES.values()}
