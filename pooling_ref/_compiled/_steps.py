"""The scalar and eight-lane steps every compiled pooling loop order shares (Numba).

A *mode* (:mod:`pooling_ref._compiled._modes`) is a compile-time constant of each kernel:
the plain max / sum steps of the loop specification, the float16 sum rounded at every
step, or a step under a TF path's ``flush`` plan field (x86 DAZ/FTZ). These are the only
compiled forms of the ``flush`` rule of pooling (:class:`pooling_ref.rules.PoolPlan`);
:func:`pooling_ref.dtypes.flush_subnormals` is its NumPy form.
"""

import math

from numba import literally, njit, types, uint64
from numba.extending import overload

from ._modes import _MAX, _MAX_CMP, _MAX_DAZ, _SUM, _SUM_DAZ, _SUM_F16


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
def _subnormal(v, tiny):
    """Whether ``v`` is subnormal (``0 < |v| < tiny``; zeros are not)."""
    return (abs(v) < tiny) & (v != 0)

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

@njit(cache=True, error_model="numpy")
def _step_scalar(acc, v, tiny, mode):
    """:func:`_step` as a function (scalar: nothing to vectorise on its own), compiled
    per ``mode`` (``literally``)."""
    literally(mode)
    return _step(acc, v, tiny, mode)

@njit(cache=True, error_model="numpy")     # an empty window: 0 / 0, NaN as NumPy's
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

