"""Calling a candidate once, and the child process that does it for ``isolate=True``.

>>> import numpy as np
>>> def doubles(x):
...     return x * 2
>>> invoke(doubles, [np.ones(2)], {}, ["x"])
('ok', array([2., 2.]), None)
>>> def scribbles(x):
...     x[0] = 5
>>> invoke(scribbles, [np.ones(2)], {}, ["x"])
('ok', None, 'x')
>>> def raises(x, size):
...     raise ValueError(f"size {size} too large")
>>> invoke(raises, [np.ones(2)], {"size": 9}, ["x"])[:2]
('raised', 'ValueError: size 9 too large')

:func:`invoke` is the one place a candidate is called, in-process or in the child: it
catches what the candidate raises (``SystemExit`` too: ``sys.exit()`` in a kernel must not
end the check), formats the traceback, names the candidate's frame that raised
(:func:`where`) and says which input the candidate modified, if any.

Run as a script (``python -c <runpy bootstrap> _child.py RFD WFD FAULTFD``, started by
:mod:`pooling_ref._isolate`), this file is the child process: it reads a boot message (the
parent's ``sys.path`` and the candidate, pickled or as ``MODULE:ATTRIBUTE``), answers
``("ready",)`` or ``("load_error", text)``, then serves ``("call", args, kwargs, names)``
messages with :func:`invoke` until its input closes. It imports nothing of ``pooling_ref``
(a crash or an import of the user's module is all it costs to restart), ignores SIGINT
(Ctrl-C stops the parent, which kills the child) and writes Python's fault handler output (a
segfault, or SIGUSR1 on a timeout) to ``FAULTFD``, where the parent reads the candidate's
last frames.
"""

from __future__ import annotations

import faulthandler
import importlib
import os
import pickle
import re
import signal
import sys
import sysconfig
import traceback

__all__ = ["fault_frames", "format_frames", "invoke", "is_library", "load", "serve",
           "where"]

#: Frames of a traceback shown in ``Failure.traceback`` (the last ones).
TRACEBACK_FRAMES = 3

_HERE = os.path.normcase(os.path.abspath(__file__))
_LIBRARY_ROOTS = tuple(sorted({os.path.normcase(os.path.abspath(p)) + os.sep for p in (
    sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib"))},
    key=len, reverse=True))


def invoke(candidate, args: list, kwargs: dict, names: list[str],
           catch: tuple = (Exception, SystemExit)) -> tuple:
    """Call ``candidate(*args, **kwargs)``: ``("ok", result, modified input name or None)``
    or ``("raised", "Type: message", traceback text, where)`` (see :func:`where`).
    ``names`` name ``args`` then the array values of ``kwargs`` (for the modified check)."""
    arrays = [*args, *(kwargs[k] for k in names[len(args):])]
    before = [_bytes(a) for a in arrays]
    try:
        result = candidate(*args, **kwargs)
    except catch as e:
        text = "".join(traceback.format_exception(type(e), e, e.__traceback__,
                                                  limit=-TRACEBACK_FRAMES))
        return "raised", f"{type(e).__name__}: {e}", text, where(
            traceback.extract_tb(e.__traceback__))
    modified = next((n for n, a, b in zip(names, arrays, before) if _bytes(a) != b), None)
    return "ok", result, modified


def _bytes(a) -> bytes | None:
    tobytes = getattr(a, "tobytes", None)
    return tobytes() if tobytes is not None else None


# ----------------------------------------------------------------------------- locations


def is_library(filename: str) -> bool:
    """Whether ``filename`` is library code: under the standard library or site-packages,
    or no file at all (``<frozen posixpath>``, ``<string>``)."""
    return filename.startswith("<") or os.path.normcase(
        os.path.abspath(filename)).startswith(_LIBRARY_ROOTS)


def _short(filename: str) -> str:
    """A path relative to the current directory or to its library root when inside one."""
    full = os.path.abspath(filename)
    norm = os.path.normcase(full)
    for root in _LIBRARY_ROOTS:
        if norm.startswith(root):
            return full[len(root):]
    cwd = os.path.normcase(os.getcwd()) + os.sep
    return full[len(cwd):] if norm.startswith(cwd) else full


def format_frames(frames: list) -> str:
    """``file:line in function`` of a frame, innermost first, joined by ``<-``.

    >>> import traceback
    >>> format_frames([traceback.FrameSummary("/abs/k.py", 9, "pool"),
    ...                traceback.FrameSummary("/abs/k.py", 3, "window_max")])
    '/abs/k.py:3 in window_max <- /abs/k.py:9 in pool'
    """
    return " <- ".join(f"{_short(f.filename)}:{f.lineno} in {f.name}" for f in reversed(frames))


def where(frames: list) -> str:
    """The candidate's frames behind an exception or a stuck call, compactly.

    ``frames`` are outermost first (``traceback.extract_tb`` / ``extract_stack``); the
    frames up to and including this module's (the caller's machinery) are dropped. Shown:
    the innermost frame and, when that lies in a library (NumPy, the standard library), the
    candidate's own last frame that led there; else the innermost frame's caller.
    """
    ours = [i for i, f in enumerate(frames) if os.path.normcase(
        os.path.abspath(f.filename)) == _HERE]
    frames = list(frames[ours[-1] + 1:] if ours else frames)
    if not frames:
        return ""
    inner = frames[-1]
    own = [f for f in frames if not is_library(f.filename)]
    if own and own[-1] is not inner:
        return format_frames([own[-1], inner])
    return format_frames(frames[-2:])


_FAULT_LINE = re.compile(r'^\s*File "(?P<file>.*)", line (?P<line>\d+) in (?P<name>.*)$')


def fault_frames(text: str) -> list:
    """The frames of the first thread in a fault handler dump, outermost first.

    >>> fault_frames('Current thread 0x1 (most recent call first):\\n'
    ...              '  File "/a/k.py", line 7 in hang\\n  File "/a/m.py", line 2 in <module>')
    [<FrameSummary file /a/m.py, line 2 in <module>>, <FrameSummary file /a/k.py, line 7 in hang>]
    """
    frames: list = []
    started = False
    for line in text.splitlines():
        m = _FAULT_LINE.match(line)
        if m and started:
            frames.append(traceback.FrameSummary(m["file"], int(m["line"]), m["name"]))
        elif frames:
            break
        started = started or "most recent call first" in line
    return frames[::-1]


# ----------------------------------------------------------------------------- the child


def _send_result(conn, message: tuple) -> None:
    """Send ``message``; a result that cannot be pickled goes as ``np.asarray`` of it, and
    failing that as its description (the parent reports it as not an array)."""
    try:
        conn.send(message)
        return
    except Exception as e:
        first = e
    status, result, modified = message
    try:
        import numpy as np

        parts = result if isinstance(result, (tuple, list)) else None
        value = (tuple(np.asarray(p) for p in parts) if parts is not None
                 else np.asarray(result))
        conn.send((status, value, modified))
    except Exception:
        conn.send((status, f"<unpicklable result {type(result).__name__}: {first}>",
                   modified))


def load(how: bytes | str):
    """The candidate from its pickle, or from ``"MODULE:ATTRIBUTE"`` (dotted attribute).

    >>> load("os.path:join") is os.path.join
    True
    """
    if isinstance(how, bytes):
        return pickle.loads(how)
    module, _, attr = how.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def serve(read_fd: int, write_fd: int, fault_fd: int) -> None:
    """The child's loop (see the module docstring)."""
    from multiprocessing.connection import Connection

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fault = os.fdopen(fault_fd, "w")
    faulthandler.enable(fault, all_threads=False)
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, fault, all_threads=False)
    recv, send = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    _, path, how = recv.recv()
    sys.path[:] = path
    try:
        candidate = load(how)
    except BaseException as e:
        send.send(("load_error", f"{type(e).__name__}: {e}"))
        return
    send.send(("ready",))
    while True:
        try:
            _, args, kwargs, names = recv.recv()
        except EOFError:
            return
        message = invoke(candidate, args, kwargs, names, catch=(BaseException,))
        if message[0] == "ok":
            _send_result(send, message)
        else:
            send.send(message)


if __name__ == "__main__":
    serve(*(int(a) for a in sys.argv[1:4]))
