"""Kernels behind the ``"fast"`` methods: the pure-NumPy fallback of pooling (used where Numba
is missing) and the convolution GEMM.

Pooling works on blocks of ``(batch items, output rows)`` small enough for the CPU cache,
spread over a thread pool (NumPy releases the GIL inside ufunc loops). Within a block each
window cell is one strided view of the input, restricted to the output positions whose cell
is real (read from the geometry's tap table), so "same" padding is never materialised. The
cells are visited in row-major window order and each is applied with the loop's own step,
so the results are the ``"loop"`` method's bit for bit, in every dtype:

* max: ``acc = cell where cell > acc``, from the dtype's lowest finite value (NaN never
  replaces, the first of equal maxima wins);
* average: ``+0 + cell_0 + cell_1 + ...`` in the dtype, then one division by the real-cell
  count;
* convolution: im2col a block of rows into a reused per-thread buffer, then one GEMM with
  ``prod(kernel_size) * C_in`` as inner dimension (any summation order is within the bound).

channels_first inputs are pooled in their own layout (``(N*C, *spatial, 1)``), with no
transposition. The thread pool is the package's one (:mod:`pooling_ref._threads`).

>>> import numpy as np
>>> from pooling_ref.geometry import plan_window
>>> g = plan_window((4,), (2,), (2,), "valid", None, "max_pool")
>>> max_pool(np.float32([[[-0.0], [0.0], [np.nan], [np.nan]]]), g)[0, :, 0]
array([-0.0000000e+00, -3.4028235e+38], dtype=float32)
"""

from __future__ import annotations

import functools
import math
import os
import threading

import numpy as np

from ._arrays import channels_first_work, from_channels_first_work
from ._threads import PARALLEL_MIN_BYTES, blocks, run, workers
from .dtypes import lowest
from .geometry import WindowGeometry, divisor_grid
from .windows import pad_spatial, window_offsets

__all__ = ["avg_pool", "conv_gemm", "max_pool"]

#: Target bytes of input read by one pooling block (fits in a per-core L2 cache).
POOL_BLOCK_BYTES = 512 * 1024
#: Target bytes of one im2col block for the convolution GEMM.
CONV_BLOCK_BYTES = 4 * 2**20
_BUFFERS = threading.local()


# ----------------------------------------------------------------------------- geometry


@functools.lru_cache(maxsize=1024)
def _cells(g: WindowGeometry, r0: int, r1: int) -> tuple:
    return tuple(_iter_cells(g, r0, r1))


def _iter_cells(g: WindowGeometry, r0: int, r1: int):
    """For output rows ``[r0, r1)``: per window cell (row-major) with a real part, the
    ``(out_index, in_index, full)`` spatial slices of that part (``full``: all outputs)."""
    ranges = g.tap_outputs
    sizes = (r1 - r0, *g.out_spatial[1:])
    for cell in np.ndindex(*g.window):
        o_sl, i_sl, full = [], [], True
        for axis, t in enumerate(cell):
            lo, hi, ilo = map(int, ranges[axis][t])
            s = g.strides[axis]
            if axis == 0:
                lo2, hi2 = max(lo, r0), min(hi, r1)
                ilo += (lo2 - lo) * s
                lo, hi = lo2 - r0, hi2 - r0
            if hi <= lo:
                break
            full = full and lo == 0 and hi == sizes[axis]
            o_sl.append(slice(lo, hi))
            i_sl.append(slice(ilo, ilo + s * (hi - lo - 1) + 1, s))
        else:
            yield tuple(o_sl), tuple(i_sl), full


def _pooled(kernel, x_cl: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """Run ``kernel(xw, g, out, block)`` over all blocks, in the best layout for ``x_cl``."""
    n, c = x_cl.shape[0], x_cl.shape[-1]
    work = channels_first_work(x_cl) if c > 1 else None
    xw = x_cl if work is None else work
    out = np.empty((xw.shape[0], *g.out_spatial, xw.shape[-1]), dtype=x_cl.dtype)
    if out.size:
        rows = g.out_spatial[0]
        row_bytes = (g.strides[0] * math.prod(g.in_spatial[1:]) * xw.shape[-1]
                     * xw.itemsize)
        tasks = blocks(xw.shape[0], rows, row_bytes, POOL_BLOCK_BYTES)
        run(lambda blk: kernel(xw, g, out, blk), tasks, xw.nbytes)
    return out if work is None else from_channels_first_work(out, n, c)


# ----------------------------------------------------------------------------- max


def _max_block(xw, g, out, blk) -> None:
    """TF's step, row-major: ``acc = cell where cell > acc`` from the lowest finite value."""
    b0, b1, r0, r1 = blk
    o = out[b0:b1, r0:r1]
    o.fill(lowest(out.dtype))
    for o_sl, i_sl, _ in _cells(g, r0, r1):
        dst = o[(slice(None), *o_sl)]
        cell = xw[(slice(b0, b1), *i_sl)]
        np.copyto(dst, cell, where=cell > dst)


def max_pool(x_cl: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """Max pooling of channels_last ``x_cl`` (TF semantics, bitwise equal to the loop)."""
    return _pooled(_max_block, x_cl, g)


# ----------------------------------------------------------------------------- average


def _avg_block(xw, g, out, blk, counts) -> None:
    b0, b1, r0, r1 = blk
    o = out[b0:b1, r0:r1]
    zero = out.dtype.type(0)
    cells = _cells(g, r0, r1)
    if cells and cells[0][2]:
        np.add(zero, xw[(slice(b0, b1), *cells[0][1])], out=o)      # +0 + cell_0
        cells = cells[1:]
    else:
        o.fill(zero)
    for o_sl, i_sl, _ in cells:
        dst = o[(slice(None), *o_sl)]
        np.add(dst, xw[(slice(b0, b1), *i_sl)], out=dst)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(o, counts if np.ndim(counts) == 0 else counts[r0:r1], out=o)


def avg_pool(x_cl: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """Average pooling in the loop's exact order (bitwise equal to the loop), divided by
    the geometry's divisors (:func:`~pooling_ref.geometry.divisor_grid`)."""
    uniform = not g.padded and g.divisor == "real"
    counts = x_cl.dtype.type(g.cells) if uniform else divisor_grid(g, x_cl.dtype)
    return _pooled(lambda xw, g_, out, blk: _avg_block(xw, g_, out, blk, counts), x_cl, g)


# ----------------------------------------------------------------------------- convolution


def _buffer(nbytes: int, dtype: np.dtype, name: str) -> np.ndarray:
    """A reusable per-thread scratch buffer (no page faults from fresh large allocations)."""
    buf = getattr(_BUFFERS, name, None)
    if buf is None or buf.nbytes < nbytes:
        buf = np.empty(max(nbytes, 1), dtype=np.uint8)
        setattr(_BUFFERS, name, buf)
    return buf[:nbytes].view(dtype)


@functools.lru_cache(maxsize=1)
def _openblas_threads_api():
    """``(get, set)`` of NumPy's bundled OpenBLAS thread count via ctypes, or ``None``."""
    import ctypes
    import glob

    libdir = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libdir, "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    return get, put
    return None


_BLAS_LOCK = threading.Lock()


def _single_threaded_blas(run) -> None:
    """Run ``run()`` with OpenBLAS at one thread (our own threads split the work instead:
    two threads each doing im2col + a one-thread GEMM beat one thread doing im2col while
    OpenBLAS's threads wait); the previous setting is restored."""
    api = _openblas_threads_api()
    if api is None:
        run()
        return
    get, put = api
    with _BLAS_LOCK:
        before = get()
        put(1)
        try:
            run()
        finally:
            put(before)


def conv_gemm(x: np.ndarray, kernel: np.ndarray, g: WindowGeometry, out: np.ndarray) -> None:
    """Write ``conv(x, kernel)`` (no bias, ``groups == 1``) into contiguous ``out``.

    Blocks of output rows are gathered into an im2col buffer ``(rows, cells * C_in)`` and
    multiplied by the kernel reshaped to ``(cells * C_in, filters)`` in one GEMM each.
    """
    xp = pad_spatial(np.ascontiguousarray(x), g, 0)
    n, c, f = xp.shape[0], xp.shape[-1], kernel.shape[-1]
    kdim = g.cells * c
    w = np.ascontiguousarray(kernel.reshape(kdim, f))
    offsets = window_offsets(g)
    inner = math.prod(g.out_spatial[1:])
    row_bytes = inner * kdim * xp.itemsize
    tasks = blocks(n, g.out_spatial[0], row_bytes, CONV_BLOCK_BYTES)
    s0, d0, k0 = g.strides[0], g.dilation[0], g.window[0]

    def block(blk) -> None:
        b0, b1, r0, r1 = blk
        nb, nr = b1 - b0, r1 - r0
        cols = _buffer(nb * nr * inner * kdim * xp.itemsize, xp.dtype, "cols")
        cols = cols.reshape(nb, nr, *g.out_spatial[1:], g.cells, c)
        part = xp[b0:b1, r0 * s0: (r1 - 1) * s0 + d0 * (k0 - 1) + 1]
        for k, off in enumerate(offsets):
            sl = tuple(slice(o, o + s * (m - 1) + 1, s)
                       for o, s, m in zip(off, g.strides, (nr, *g.out_spatial[1:])))
            cols[..., k, :] = part[(slice(None), *sl)]
        o = out[b0:b1, r0:r1].reshape(-1, f)          # a view: whole rows or one item
        np.matmul(cols.reshape(-1, kdim), w, out=o)

    nbytes = xp.nbytes + out.nbytes
    if len(tasks) > 1 and workers() > 1 and nbytes >= PARALLEL_MIN_BYTES:
        _single_threaded_blas(lambda: run(block, tasks, nbytes))
    else:
        run(block, tasks, nbytes)
