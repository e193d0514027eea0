"""``check(..., isolate=True)``: the candidate runs in a child process.

>>> import pooling_ref
>>> report = pooling_ref.check(pooling_ref.zero_pad, "zero_pad1d", cases=5, isolate=True)
>>> report.passed
True

One child serves every call of a check (:mod:`pooling_ref._child`): the candidate travels as
``MODULE:FUNCTION`` when the CLI names it so, else pickled (a module-level function pickles
as its module and name; the child imports it with the parent's ``sys.path``), arrays and
results travel pickled over a pipe (``multiprocessing.connection``). A call that crashes the
child (a segfault, ``abort()``, ``os._exit``) is reported as "crashed: killed by signal
SIGSEGV" / "... exited with status 3"; a call that does not answer within the time limit —
even one stuck in native code that ignores signals — as "timed out after N s (child process
killed)": the child is killed (SIGKILL) and the next call starts a fresh one. Before killing
a stuck child the parent asks it (SIGUSR1) for Python's fault handler dump, from which the
report names the candidate's frame. A candidate that cannot be pickled, or that the child
cannot load, is a ``TypeError`` before any case.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection

from . import _child
from ._candidate import Call, Caller, from_signal_handler

__all__ = ["AVAILABLE", "Isolated"]

#: Whether this system can run a candidate in a child process (POSIX: pipes passed by fd).
AVAILABLE = os.name == "posix"

#: Seconds the child may take to start and import the candidate's module (at least; the
#: call timeout when larger).
LOAD_TIMEOUT = 120.0
#: Seconds a killed or closed child may take to go away.
EXIT_WAIT = 5.0
#: Seconds a stuck child gets to write its fault handler dump before it is killed (at most
#: half the timeout: a hang is reported within twice the timeout).
DUMP_WAIT = 0.3

_BOOT = ("import runpy, sys; del sys.path[0]; "
         "runpy.run_path(sys.argv[1], run_name='_pooling_ref_child')['serve']"
         "(*map(int, sys.argv[2:5]))")


def _transfer(candidate: Callable, name: str, target: str | None) -> bytes | str:
    """How the child gets the candidate: ``target`` (``"MODULE:FUNCTION"``, as the CLI
    names it), else its pickle, else the name it has in its module; ``TypeError`` when
    none works."""
    if target is not None:
        return target
    hint = ("isolate=True runs the candidate in a child process, which gets it pickled "
            "(a function by its module and name): define it at the top level of an "
            "importable module, or pass isolate=False")
    func = getattr(candidate, "func", candidate)          # functools.partial
    module = getattr(func, "__module__", None)
    if module == "__main__":
        raise TypeError(f"check: {name} is defined in __main__, which the child process "
                        f"cannot import; {hint}")
    try:
        return pickle.dumps(candidate)
    except Exception as e:
        problem = f"{type(e).__name__}: {e}"
    for attr, value in vars(sys.modules.get(module) or _EMPTY).items():
        if value is candidate:                # e.g. a functools.wraps wrapper
            return f"{module}:{attr}"
    raise TypeError(f"check: {name} cannot be pickled ({problem}); {hint}")


_EMPTY = type(sys)("empty")


class _Child:
    """One child process, its pipes and its fault handler file."""

    def __init__(self, how: bytes | str):
        parent_r, child_w = os.pipe()
        child_r, parent_w = os.pipe()
        self.fault = tempfile.TemporaryFile()
        fds = (child_r, child_w, self.fault.fileno())
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, _child.__file__, *map(str, fds)],
                pass_fds=fds, stdin=subprocess.DEVNULL)
        finally:
            os.close(child_r)
            os.close(child_w)
        self.send = Connection(parent_w, readable=False)
        self.recv = Connection(parent_r, writable=False)
        self.send.send(("boot", list(sys.path), how))

    def answer(self, timeout: float | None) -> tuple | None:
        """The child's next message; ``None`` when none came within ``timeout``. EOFError
        when it died."""
        if not self.recv.poll(timeout):
            return None
        return self.recv.recv()

    def where(self) -> str:
        """The candidate's frames in the child's fault handler dump, if it wrote one."""
        text = os.pread(self.fault.fileno(), 1 << 16, 0).decode("utf-8", "replace")
        return _child.where(_child.fault_frames(text))

    def dump_where(self, wait: float) -> str:
        """Ask a stuck child for its stack (SIGUSR1) and read where the candidate is
        (waiting at most ``wait`` s for the dump)."""
        if not hasattr(signal, "SIGUSR1"):
            return ""
        try:
            self.proc.send_signal(signal.SIGUSR1)
        except OSError:
            return ""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and os.fstat(self.fault.fileno()).st_size == 0:
            time.sleep(0.01)
        time.sleep(min(0.02, wait))            # let the dump finish
        return self.where()

    def death(self) -> str:
        """How the child ended (it closed its pipe): killed by a signal or an exit status."""
        try:
            rc = self.proc.wait(EXIT_WAIT)
        except subprocess.TimeoutExpired:
            self.kill()
            return "crashed: the child process stopped answering (killed)"
        if rc < 0:
            try:
                return f"crashed: killed by signal {signal.Signals(-rc).name}"
            except ValueError:
                return f"crashed: killed by signal {-rc}"
        return f"crashed: the child process exited with status {rc} without answering"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.close_files()

    def close(self) -> None:
        """End the child: close its input (it exits), kill it if it does not."""
        self.send.close()
        try:
            self.proc.wait(EXIT_WAIT)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def close_files(self) -> None:
        for f in (self.send, self.recv, self.fault):
            f.close()


class Isolated(Caller):
    """Calls in a child process (see the module docstring). Starts the first child at
    once: ``TypeError`` if the candidate cannot be sent or loaded."""

    def __init__(self, candidate: Callable, timeout: float | None, name: str,
                 target: str | None = None):
        super().__init__(candidate, timeout)
        if not AVAILABLE:
            raise ValueError("check: isolate=True needs a POSIX system (it passes pipes to a "
                             "child process); pass isolate=False")
        self.name, self.how = name, _transfer(candidate, name, target)
        self.child: _Child | None = None
        self.started = 0
        problem = self._start()
        if problem:
            raise TypeError(f"check: {name} cannot be loaded in the child process "
                            f"(isolate=True): {problem}; the child imports it with this "
                            f"process's sys.path, or pass isolate=False")

    def _start(self) -> str:
        """Start a child; '' when it loaded the candidate, else what went wrong."""
        child = _Child(self.how)
        self.started += 1
        load = None if self.timeout is None else max(self.timeout, LOAD_TIMEOUT)
        try:
            message = child.answer(load)
        except EOFError:
            problem = child.death()
        except BaseException:
            child.kill()
            raise
        else:
            if message is None:
                problem = f"loading it took longer than {load:g} s"
            elif message[0] == "load_error":
                problem = message[1]
            else:
                self.child = child
                return ""
        child.kill()
        return problem

    def call(self, args: list, kwargs: dict, names: list[str]) -> Call:
        if self.child is None:
            problem = self._start()
            if problem:
                return Call("crashed", error=f"crashed: a new child process could not load "
                                             f"the candidate: {problem}")
        child = self.child
        try:
            child.send.send(("call", args, kwargs, names))
            message = child.answer(self.timeout)
        except (EOFError, BrokenPipeError, ConnectionResetError):
            return self._lost(child.death(), child.where())
        except BaseException as e:            # Ctrl-C, or a signal handler's exception
            self._lost("", "")
            if not isinstance(e, Exception):
                raise
            return from_signal_handler(e)
        if message is None:
            where_ = child.dump_where(min(DUMP_WAIT, self.timeout / 2))
            self._lost("", "")
            return self._timed_out(" (child process killed)", where_)
        return Call.of(message)

    def _lost(self, error: str, where_: str) -> Call:
        """Kill the current child (the next call starts another); a crashed call."""
        if self.child is not None:
            self.child.kill()
            self.child = None
        return Call("crashed", error=error, where=where_)

    def notes(self) -> list[str]:
        lines = super().notes()
        if self.started > 1:
            lines.append(f"the child process was replaced {self.started - 1} time(s) after "
                         f"a crash or a timeout")
        return lines

    def close(self) -> None:
        if self.child is not None:
            self.child.close()
            self.child = None
