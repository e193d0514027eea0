"""The package's one thread pool: the NumPy ``"fast"`` kernels and the compiled (Numba,
``nogil``) kernels split their work over it.

>>> seen = []
>>> run(seen.append, [1, 2, 3], nbytes=0)       # small work: the calling thread, in order
>>> seen
[1, 2, 3]
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["PARALLEL_MIN_BYTES", "blocks", "run", "workers"]

#: Below this many input bytes everything runs in the calling thread.
PARALLEL_MIN_BYTES = 2 * 2**20

_EXECUTOR: ThreadPoolExecutor | None = None
_EXECUTOR_LOCK = threading.Lock()
_DONE = object()


def workers() -> int:
    """Number of threads the kernels use (CPUs available to this process)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def _executor() -> ThreadPoolExecutor:
    global _EXECUTOR
    with _EXECUTOR_LOCK:
        if _EXECUTOR is None:
            _EXECUTOR = ThreadPoolExecutor(workers(), thread_name_prefix="pooling_ref")
        return _EXECUTOR


def run(fn, tasks: list, nbytes: int) -> None:
    """``fn(task)`` for every task: on the thread pool when there is enough work, the
    calling thread taking tasks too (one thread fewer to wake, none idle waiting). Returns
    only when every task has ended; the first exception raised by a task is re-raised."""
    if len(tasks) > 1 and workers() > 1 and nbytes >= PARALLEL_MIN_BYTES:
        queue = iter(tasks)
        lock = threading.Lock()

        def drain() -> None:
            while True:
                with lock:
                    task = next(queue, _DONE)
                if task is _DONE:
                    return
                fn(task)

        helpers = [_executor().submit(drain) for _ in range(min(workers(), len(tasks)) - 1)]
        try:
            drain()
        finally:
            errors = [h.exception() for h in helpers]     # waits for every helper
        for e in errors:
            if e is not None:
                raise e
    else:
        for t in tasks:
            fn(t)


def blocks(n: int, rows: int, row_bytes: int, target: int) -> list[tuple[int, int, int, int]]:
    """``(b0, b1, r0, r1)`` blocks of batch items x output rows of about ``target`` bytes.

    >>> blocks(2, 4, 100, 250)          # one item (400 bytes) is too big: rows in pairs
    [(0, 1, 0, 2), (0, 1, 2, 4), (1, 2, 0, 2), (1, 2, 2, 4)]
    """
    item = row_bytes * rows
    if item <= target:
        nb, nr = max(1, min(n, target // max(item, 1))), rows
        # at least one block per worker when there is enough work
        nb = min(nb, max(1, -(-n // workers())))
    else:
        nb, nr = 1, max(1, target // max(row_bytes, 1))
    return [(b0, min(b0 + nb, n), r0, min(r0 + nr, rows))
            for b0 in range(0, n, nb) for r0 in range(0, rows, nr)]
