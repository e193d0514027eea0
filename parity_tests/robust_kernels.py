"""Misbehaving candidates for the oracle's robustness tests (test_oracle_robust.py).

Each is a module-level function, so a child process (``check(..., isolate=True)``) can
import it. Each is correct (``pooling_ref.max_pool`` / ``zero_pad``, the specification's
rules) except on the cases its ``_bad`` predicate selects: there it hangs in a Python loop,
segfaults, aborts, exits, or blocks forever in native code with every signal blocked.
``MARKER`` (an environment variable naming a file) is written when a bad call starts, so a
test can wait for it before sending Ctrl-C.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

import pooling_ref

MARKER = "POOLING_REF_TEST_MARKER"


def _bad(x: np.ndarray) -> bool:
    """The cases these kernels misbehave on: a batch of exactly 3 and more than 40 cells
    (2 of the first 8 max_pool2d cases of seed 0, fewer than the 3 timed-out calls after
    which check stops calling; checked by the tests)."""
    return x.shape[0] == 3 and x.size > 40


def _mark() -> None:
    path = os.environ.get(MARKER)
    if path:
        with open(path, "w") as fh:
            fh.write(str(os.getpid()))


def _pool(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
    return pooling_ref.max_pool(x, pool_size, strides, padding, data_format, tf_kernel=None,
                                method="fast")              # no compiling: calls take ms


def python_loop(x):
    """Spin in pure Python for ever (stoppable in-process: it runs bytecode)."""
    _mark()
    n = 0
    while True:
        n += 1


def native_block(x):
    """Block for ever inside one C call that holds the GIL, with every signal ignored
    (process-wide: a signal would otherwise reach another thread, e.g. OpenBLAS's):
    nothing but SIGKILL ends it — not Ctrl-C, not SIGTERM, not an exception raised in
    its thread."""
    _mark()
    libc = ctypes.PyDLL(None)                     # PyDLL: the GIL stays held
    libc.signal.argtypes = [ctypes.c_int, ctypes.c_void_p]
    for signum in range(1, 65):
        libc.signal(signum, 1)                    # SIG_IGN (fails for SIGKILL, SIGSTOP)
    libc.pause()                                  # returns only after a caught signal


def segfault(x):
    """Read address 0."""
    _mark()
    ctypes.string_at(0)


def hangs_in_python(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
    if _bad(x):
        python_loop(x)
    return _pool(x, pool_size, strides, padding, data_format)


def hangs_always(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
    python_loop(x)


def hangs_in_native_code(x, pool_size, strides=None, padding="valid",
                         data_format="channels_last"):
    if _bad(x):
        native_block(x)
    return _pool(x, pool_size, strides, padding, data_format)


def segfaults(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
    if _bad(x):
        segfault(x)
    return _pool(x, pool_size, strides, padding, data_format)


def aborts(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
    if _bad(x):
        os.abort()
    return _pool(x, pool_size, strides, padding, data_format)


def exits_3(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
    if _bad(x):
        os._exit(3)
    return _pool(x, pool_size, strides, padding, data_format)


def sleeps_in_c(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
    """Sleeps in one C call (releasing the GIL): an in-process timeout cannot stop it."""
    if _bad(x):
        _mark()
        ctypes.CDLL(None).sleep(30)
    return _pool(x, pool_size, strides, padding, data_format)


def raises_in_helper(x, pool_size, strides=None, padding="valid",
                     data_format="channels_last"):
    return _helper(x)


def _helper(x):
    raise ValueError("window too large")  # the line the report must name


def raises_in_numpy(x, pool_size, strides=None, padding="valid",
                    data_format="channels_last"):
    return np.reshape(x, (7, 11, 13, 17, 19))  # the line the report must name


def calls_sys_exit(x, pool_size, strides=None, padding="valid",
                   data_format="channels_last"):
    raise SystemExit(4)


def torch_style(x, kernel_size, stride=None, padding=0):
    return _pool(x, kernel_size, stride, "valid")


def needs_strides(x, pool_size, strides, padding="valid", data_format="channels_last"):
    return _pool(x, pool_size, strides, padding, data_format)


def pool_kwargs(x, **params):
    return _pool(x, **params)


def conv_without_bias(x, kernel, strides=1, padding="valid", data_format="channels_last",
                      dilation_rate=1, groups=1):
    return pooling_ref.conv(x, kernel, None, strides, padding, data_format, dilation_rate,
                            groups)
