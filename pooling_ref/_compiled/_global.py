"""Compiled kernels outside the pooling loop orders: the input scan of the rule stages,
global pooling (TF's ``reduce_max``; NumPy's pairwise sum) — each bit for bit its NumPy
specification."""

import numpy as np
from numba import njit, uint64

from ._steps import _subnormal

# ------------------------------------------------------------------ input scan

@njit(cache=True, nogil=True)
def _scan_cells(x, tiny, flags, lo, hi):
    """Over ``x[lo:hi]`` (flat): set ``flags[0]`` if a cell is subnormal (``0 < |v| <
    tiny``), ``flags[1]`` if a cell is not a number above ``-inf`` (NaN or ``-inf``).
    Only ever sets flags to 1, so parts may run concurrently."""
    sub, odd = False, False
    for i in range(uint64(lo), uint64(hi)):
        v = x[i]
        sub |= _subnormal(v, tiny)
        odd |= not (v > -np.inf)
    if sub:
        flags[0] = 1
    if odd:
        flags[1] = 1


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

@njit(cache=True, inline="always")
def _add_in_order(x, base, step, lo, hi, out):
    """``out[c] += x[base + i*step + c]`` for ``lo <= i < hi``, in order."""
    for i in range(lo, hi):
        xi = base + i * step
        for c in range(uint64(out.shape[0])):
            out[c] = out[c] + x[xi + c]


@njit(cache=True, nogil=True)
def _pairwise_leaf(x, base, step, cnt, out):
    """``out[c]`` = NumPy's sum of ``cnt <= 128`` cells ``x[base + i*step + c]``: fewer
    than 8 in order; else 8 running sums, combined ``((r0+r1)+(r2+r3))+((r4+r5)+
    (r6+r7))``, then the remaining cells in order."""
    unc, eight = uint64(out.shape[0]), uint64(8)
    if cnt < eight:
        for c in range(unc):
            out[c] = 0
        _add_in_order(x, base, step, uint64(0), cnt, out)
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
    _add_in_order(x, base, step, i, cnt, out)


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

