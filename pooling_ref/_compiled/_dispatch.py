"""Running a compiled kernel: its compiled entry point per argument types
(:func:`_ready`, with LLVM's SLP vectoriser on) and the jobs split into parts on the
package thread pool (:func:`_launch`, :func:`_split`, :func:`_bind`)."""

import threading

import numpy as np

from .. import _threads

#: Input bytes of one part of the output rows handed to a thread.
PART_BYTES = 4 << 20

#: ``(kernel, types of the caller's two arrays) -> what runs it`` (:func:`_ready`); the
#: kernels' other arguments are built by :mod:`pooling_ref._compiled`, their types fixed
#: by those.
_READY: dict = {}
_READY_LOCK = threading.Lock()


def _arg_type(a) -> object:
    """What of an argument decides the kernel's compiled signature (of an array: dtype,
    rank and its flags — contiguity, alignment, writeability — as one int)."""
    if isinstance(a, np.ndarray):
        return a.dtype, a.ndim, a.flags.num
    return type(a)


def _ready(kernel, args: tuple):
    """``kernel`` compiled for ``args``' types (or loaded from Numba's cache) with LLVM's
    SLP vectoriser on, once per process and signature: its compiled entry point, called as
    ``entry(*args, lo, hi)`` (the dispatcher's own per-call type resolution skipped: ~0.6
    us of a small call), or the dispatcher where that entry is not found.

    Numba runs LLVM with the SLP vectoriser off unless ``NUMBA_SLP_VECTORIZE=1``; the
    8-lane steps of the channels-inner loop (:func:`_step8`) are vectorised by it only
    (without it: scalar code, measured 3-4x slower on 8 and 16 channels). The setting is
    read when a function is compiled, so it is switched on around the first call (an empty
    job range) and restored; it changes no result (the vectoriser keeps every operation
    and its order, no fast-math), only which instructions carry them out."""
    key = (kernel, _arg_type(args[0]), _arg_type(args[1]))
    entry = _READY.get(key)
    if entry is not None:
        return entry
    from numba.core import config

    with _READY_LOCK:
        if key not in _READY:
            old = config.SLP_VECTORIZE
            config.SLP_VECTORIZE = 1
            try:
                kernel(*args, 0, 0)
            finally:
                config.SLP_VECTORIZE = old
            signature = tuple(kernel.typeof_pyval(a) for a in (*args, 0, 0))
            overload = kernel.overloads.get(signature)
            _READY[key] = kernel if overload is None else overload.entry_point
        return _READY[key]


def _launch(kernel, args: tuple, jobs: int, nbytes: int) -> None:
    """``kernel(*args, lo, hi)`` for the jobs ``0 <= job < jobs`` in parts
    (:func:`_split`), compiled by :func:`_ready`."""
    _split(_ready(kernel, args), args, jobs, nbytes)


def _bind(entry, consts: tuple, jobs: int, nbytes: int):
    """``go(x, out)``: ``entry(x, out, *consts, lo, hi)`` over the jobs ``0 <= job < jobs``
    for inputs of ``nbytes``, as :func:`_split` runs it — for small inputs the one call
    itself (no :func:`_split` call on a repeated small call's path)."""
    if nbytes < _threads.PARALLEL_MIN_BYTES:
        return lambda x, out: entry(x, out, *consts, 0, jobs)
    return lambda x, out: _split(entry, (x, out, *consts), jobs, x.nbytes)


def _split(run, args: tuple, jobs: int, nbytes: int) -> None:
    """``run(*args, lo, hi)`` over contiguous parts of the jobs ``0 <= job < jobs``, on
    the package thread pool (:func:`pooling_ref._threads.run`; the kernels release the
    GIL), or as one call for small work (``nbytes`` of input below
    :data:`~pooling_ref._threads.PARALLEL_MIN_BYTES`: no per-part dispatch cost)."""
    if nbytes < _threads.PARALLEL_MIN_BYTES or _threads.workers() < 2:
        run(*args, 0, jobs)
        return
    parts = max(1, min(jobs, max(2 * _threads.workers(), nbytes // PART_BYTES)))
    _threads.run(lambda k: run(*args, k * jobs // parts, (k + 1) * jobs // parts),
                 list(range(parts)), nbytes)
