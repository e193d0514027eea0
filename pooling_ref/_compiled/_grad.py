"""The compiled pooling gradients: one kernel per ``ties`` rule (a compile-time constant),
bit for bit the ``"loop"`` method of :mod:`pooling_ref.gradients`."""

import numpy as np
from numba import njit, uint64

from ..geometry import CELL_HI, CELL_LO, TAP_HI, TAP_LO
from ._modes import _G_AVG, _G_FIRST, _G_SPLIT, _G_TF3D, GRAD_RULE_CODES

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

@njit(cache=True, nogil=True, inline="always")
def _add_flushed(grad, i, a, tiny):
    """``grad[i] += a`` under x86 DAZ + FTZ (``GradRules.flush``): a subnormal ``a`` is
    read as a zero of its sign, a subnormal sum is written as one (``v * 0`` keeps the
    sign), as :func:`pooling_ref.gradients._add` does."""
    if abs(a) < tiny:
        a = a * 0
    s = grad[i] + a
    if abs(s) < tiny:
        s = s * 0
    grad[i] = s

def _grad_kernel(rule):
    """The pooling-gradient kernel for one ``rule`` (:data:`_GRAD_RULES`; a compile-time
    constant of the closure, cached per rule)."""

    @njit(cache=True, nogil=True, error_model="numpy")   # x / 0: inf, as NumPy
    def _grad_items(x, gout, grad, shape, taps_d, taps_h, taps_w, init, tol,
                    last_axis_outer, flush, tiny, job_lo, job_hi):
        """Batch items ``job_lo <= b < job_hi`` of the gradient: ``grad`` (flat, like
        ``x``, shape ``(N, D, H, W, C)``, all ``+0``) receives what every output position
        sends its window's cells, positions in row-major order (3D: the last spatial
        axis outermost), as the loop specification does. Only chosen cells are added
        to: the loop adds ``+0`` to the others, which never changes a sum started at
        ``+0`` (such a sum is never ``-0``)."""
        nd, nh, nw = taps_d.shape[0], taps_h.shape[0], taps_w.shape[0]
        unc = uint64(shape[3])
        # Two halves for the running maximum and its cell, and unconditional adds
        # (``+ 0`` where a cell is not chosen: a no-op on a sum started at ``+0``), so
        # LLVM emits no masked stores (slow on AMD Zen; see the pooling kernel).
        best = np.empty(2 * unc, x.dtype)
        pick = np.empty(2 * unc, np.uint64)
        zero = x.dtype.type(0)
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
                                _add_flushed(grad, xi + c, a, tiny)
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
                            _add_flushed(grad, xi + c, a, tiny)
                        else:
                            grad[xi + c] += a

    return _grad_items

GRAD_KERNELS = {rule: _grad_kernel(rule) for rule in GRAD_RULE_CODES.values()}

