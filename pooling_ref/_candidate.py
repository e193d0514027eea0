"""How :func:`pooling_ref.check` calls a candidate: signature check, time limit, Ctrl-C.

>>> from pooling_ref.ops import spec
>>> call_text(spec("max_pool2d"))
'candidate(x, pool_size=..., strides=..., padding=..., data_format=...)'
>>> def torch_style(x, kernel_size, stride=None):
...     pass
>>> check_signature(torch_style, spec("max_pool2d"), "torch_style")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
TypeError: check: torch_style(x, kernel_size, stride=None) cannot take the call check makes \
for max_pool2d: candidate(x, pool_size=..., strides=..., padding=..., data_format=...) \
(strides, padding, data_format sometimes left out): it has no parameter pool_size, strides, \
padding, data_format; it requires kernel_size, which the call never passes

A :class:`Caller` makes every call of one check (:meth:`Caller.call`) and counts the ones
that timed out; :func:`open_caller` picks :class:`InProcess` or, for ``isolate=True``,
:class:`pooling_ref._isolate.Isolated` (a child process).

In-process calls with a time limit run in a daemon worker thread, in a copy of the
caller's context (so ``np.errstate`` and other context variables apply). When the limit
passes, the call is reported as timed out and an exception is raised once in that thread
(``PyThreadState_SetAsyncExc``): Python code stops at its next bytecode boundary. Native
code (a C loop, a Numba function, a blocking system call) cannot be stopped that way:
after :data:`STOP_GRACE` seconds the thread is abandoned, still running, its result
discarded. Later calls go on in a new worker thread; the abandoned one keeps a core busy (and,
if it holds the GIL, stalls this process) until it returns — the report says so, and
``isolate=True`` is the cure: a child process is killed and replaced.
"""

from __future__ import annotations

import contextvars
import ctypes
import functools
import inspect
import queue
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from ._child import invoke, where
from .ops import OpSpec

__all__ = ["DEFAULT_TIMEOUT", "MAX_TIMED_OUT_CALLS", "Call", "Caller", "CheckInterrupted",
           "InProcess", "call_text", "check_signature", "check_timeout", "from_signal_handler",
           "seconds"]

#: Seconds per candidate call unless ``check(timeout=...)`` says otherwise. The slowest
#: legitimate call measured on the default cases is ~0.2 s (a naive pure-Python loop
#: conv3d gradient, 1.6e5 multiply-adds at ~0.35 us each); a first call that compiles
#: (Numba, XLA) took 0.3-0.8 s here and tens of seconds in bad cases. 30 s leaves a wide
#: margin for a loaded machine and still reports a hang within a minute.
DEFAULT_TIMEOUT = 30.0
#: After this many timed-out calls a check stops calling the candidate (cases not yet run
#: are reported as not run; failures found are reported as they stand).
MAX_TIMED_OUT_CALLS = 3
#: Seconds an in-process call gets to stop after the exception is raised in its thread
#: (at most the timeout itself: a hang is reported within twice the timeout).
STOP_GRACE = 1.0


# ----------------------------------------------------------------------------- signature


def call_text(s: OpSpec, left_out: tuple[str, ...] = ()) -> str:
    """How ``check`` calls a candidate for op ``s`` (``left_out``: keywords never passed)."""
    keywords = [f"{k}=..." for k in (*s.keyword_arrays, *s.params) if k not in left_out]
    return f"candidate({', '.join([*s.positional, *keywords])})"


def check_signature(candidate: Callable, s: OpSpec, name: str,
                    left_out: tuple[str, ...] = ()) -> None:
    """``TypeError`` naming the call unless ``candidate``'s signature can take every call
    ``check`` makes for ``s``: all keywords at once, and only the always-given ones (those
    the reference function requires). Callables without a signature (builtins, C
    functions) pass; the calls will tell."""
    try:
        sig = inspect.signature(candidate)
    except (TypeError, ValueError):
        return
    ref = inspect.signature(s.reference).parameters
    keywords = [k for k in (*s.keyword_arrays, *s.params) if k not in left_out]
    always = [k for k in keywords if k in ref and ref[k].default is inspect.Parameter.empty]
    optional = [k for k in keywords if k not in always]
    args = [object()] * len(s.positional)
    for given in (keywords, always):
        try:
            sig.bind(*args, **dict.fromkeys(given, 0))
        except TypeError as e:
            omitted = f" ({', '.join(optional)} sometimes left out)" if optional else ""
            raise TypeError(f"check: {name}{sig} cannot take the call check makes for "
                            f"{s.name}: {call_text(s, left_out)}{omitted}: "
                            f"{_mismatch(sig, len(args), keywords, optional) or e}") from None


def _mismatch(sig: inspect.Signature, n_positional: int, keywords: list[str],
              optional: list[str]) -> str:
    """Why ``sig`` cannot take ``n_positional`` arrays and ``keywords``, in words."""
    P = inspect.Parameter
    params = list(sig.parameters.values())
    kinds = {p.kind for p in params}
    by_position = [p for p in params if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)]
    problems = []
    if len(by_position) < n_positional and P.VAR_POSITIONAL not in kinds:
        problems.append(f"it takes {len(by_position)} positional argument(s), the call "
                        f"passes {n_positional}")
    rest = {p.name: p for p in params if p not in by_position[:n_positional]
            and p.kind in (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY)}
    unknown = [k for k in keywords if k not in rest]
    if unknown and P.VAR_KEYWORD not in kinds:
        problems.append(f"it has no parameter {', '.join(unknown)}")
    required = [k for k, p in rest.items() if p.default is P.empty]
    never = [k for k in required if k not in keywords]
    if never:
        problems.append(f"it requires {', '.join(never)}, which the call never passes")
    sometimes = [k for k in required if k in optional]
    if sometimes:
        problems.append(f"it requires {', '.join(sometimes)}, which the call sometimes "
                        f"leaves out (give a default)")
    return "; ".join(problems)


def check_timeout(timeout: object) -> float | None:
    """``timeout`` as a positive float, or ``None`` (no limit); else ``TypeError`` /
    ``ValueError`` naming it."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"check: timeout must be a number of seconds or None, got {timeout!r}")
    if not timeout > 0 or timeout == float("inf"):
        raise ValueError(f"check: timeout must be > 0 and finite (None: no limit), "
                         f"got {timeout!r}")
    return float(timeout)


def seconds(t: float) -> str:
    """``2`` for 2.0, ``0.25`` for 0.25: a time limit as the report prints it."""
    return f"{t:g}"


# ----------------------------------------------------------------------------- calls


@dataclass
class Call:
    """What one candidate call gave. ``status``: ``"ok"`` (``result``; ``modified`` names
    an input the candidate changed), ``"raised"``, ``"timeout"`` or ``"crashed"`` (then
    ``error`` says what happened and ``where`` the candidate's last frames, if known)."""

    status: str
    result: object = None
    modified: str | None = None
    error: str = ""
    traceback: str = ""
    where: str = ""

    @classmethod
    def of(cls, message: tuple) -> Call:
        """From :func:`pooling_ref._child.invoke`'s answer."""
        if message[0] == "ok":
            return cls("ok", result=message[1], modified=message[2])
        return cls("raised", error=message[1], traceback=message[2], where=message[3])


class Caller:
    """Makes the calls of one check; :meth:`close` when done."""

    def __init__(self, candidate: Callable, timeout: float | None):
        self.candidate, self.timeout = candidate, timeout
        self.timed_out = 0              # calls that timed out so far
        self.current: object = None     # the case being run (for an interrupt's summary)

    @property
    def exhausted(self) -> bool:
        """Whether :data:`MAX_TIMED_OUT_CALLS` calls timed out (no more calls then)."""
        return self.timed_out >= MAX_TIMED_OUT_CALLS

    def call(self, args: list, kwargs: dict, names: list[str]) -> Call:
        raise NotImplementedError

    def notes(self) -> list[str]:
        """Report lines about the calls (limit reached, calls left running)."""
        if not self.exhausted:
            return []
        return [f"stopped calling the candidate after {self.timed_out} calls timed out "
                f"(at most {MAX_TIMED_OUT_CALLS} per check)"]

    def close(self) -> None:
        pass

    def _timed_out(self, how: str, where_: str) -> Call:
        self.timed_out += 1
        return Call("timeout", error=f"timed out after {seconds(self.timeout)} s{how}",
                    where=where_)


def from_signal_handler(e: Exception) -> Call:
    """An exception a signal handler raised (e.g. the user's own ``signal.alarm``) while
    the check waited for the candidate: the call's failure."""
    text = "".join(traceback.format_exception(type(e), e, e.__traceback__, limit=-2))
    return Call("raised", error=f"{type(e).__name__}: {e}", traceback=text,
                where="a signal handler of this process (the candidate was running)")


class _Stop(BaseException):
    """Raised inside a timed-out call's thread to stop it (not an ``Exception``: a
    candidate's ``except Exception`` does not swallow it)."""


def _raise_in(thread_id: int, exc: type[BaseException] | None) -> None:
    """Raise ``exc`` in thread ``thread_id`` at its next bytecode (``None``: cancel)."""
    set_async = getattr(getattr(ctypes, "pythonapi", None), "PyThreadState_SetAsyncExc", None)
    if set_async is not None:
        obj = ctypes.c_void_p(None) if exc is None else ctypes.py_object(exc)
        set_async(ctypes.c_ulong(thread_id), obj)


class _Job:
    """One call for the worker thread; ``done`` is set when it ended (answer in
    ``message``). The stop is raised at most once, under ``lock`` and only while
    ``finished`` is false; the job cancels a stop that arrives after the call returned, so
    none escapes into the worker's loop."""

    def __init__(self, fn: Callable[[], tuple]):
        self.fn, self.ctx = fn, contextvars.copy_context()
        self.lock, self.done = threading.Lock(), threading.Event()
        self.finished, self.message, self.thread_id = False, None, 0

    def run(self) -> None:
        self.thread_id = threading.get_ident()
        try:
            try:
                self.message = self.ctx.run(self.fn)
            except BaseException as e:        # the stop (the message is unused then)
                self.message = ("raised", f"{type(e).__name__}: {e}", "", "")
            with self.lock:
                self.finished = True
                _raise_in(self.thread_id, None)
        except _Stop:                         # it landed after the call returned
            with self.lock:
                self.finished = True
        self.done.set()

    def stop(self, grace: float) -> bool:
        """Raise the stop in the call (once); whether it ended within ``grace`` s."""
        with self.lock:
            if not self.finished and self.thread_id:
                _raise_in(self.thread_id, _Stop)
        return self.done.wait(grace)

    def where(self) -> str:
        frame = sys._current_frames().get(self.thread_id)
        return where(traceback.extract_stack(frame)) if frame is not None else ""


def _serve(jobs: queue.SimpleQueue) -> None:
    """A worker thread's loop: run jobs until ``None``."""
    for job in iter(jobs.get, None):
        job.run()


class InProcess(Caller):
    """Calls in this process: directly when there is no time limit, else in a worker
    thread (one, reused while its calls return or stop; see the module docstring)."""

    def __init__(self, candidate: Callable, timeout: float | None):
        super().__init__(candidate, timeout)
        self.abandoned = 0
        self.jobs: queue.SimpleQueue | None = None

    def _submit(self, job: _Job) -> None:
        if self.jobs is None:
            self.jobs = queue.SimpleQueue()
            threading.Thread(target=_serve, args=(self.jobs,), daemon=True,
                             name="pooling_ref candidate calls").start()
        self.jobs.put(job)

    def call(self, args: list, kwargs: dict, names: list[str]) -> Call:
        fn = functools.partial(invoke, self.candidate, args, kwargs, names)
        if self.timeout is None:
            return Call.of(fn())
        job = _Job(fn)
        self._submit(job)
        grace = min(self.timeout, STOP_GRACE)
        try:
            done = job.done.wait(self.timeout)
        except BaseException as e:            # Ctrl-C, or a signal handler's exception
            self._stop(job, grace)
            if not isinstance(e, Exception):
                raise
            return from_signal_handler(e)
        if done:
            return Call.of(job.message)
        where_ = job.where()
        if self._stop(job, grace):
            return self._timed_out("", where_)
        return self._timed_out(" (it could not be stopped: native code? it still runs in "
                               "a background thread)", where_)

    def _stop(self, job: _Job, grace: float) -> bool:
        """Stop ``job``; if it does not stop, abandon its thread (the next call starts
        another)."""
        if job.stop(grace):
            return True
        self.abandoned += 1
        self.jobs = None
        return False

    def notes(self) -> list[str]:
        lines = super().notes()
        if self.abandoned:
            lines.append(f"{self.abandoned} timed-out call(s) could not be stopped and still "
                         f"run in background threads (pass isolate=True to run the candidate "
                         f"in a child process that is killed instead)")
        return lines

    def close(self) -> None:
        if self.jobs is not None:
            self.jobs.put(None)
            self.jobs = None


class CheckInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`pooling_ref.check`: a ``KeyboardInterrupt`` (so pytest and
    scripts stop as usual) whose message is a short summary of what ran; ``.report`` is
    the partial :class:`pooling_ref.Report` (``report.interrupted`` says where)."""

    def __init__(self, summary: str, report: object):
        super().__init__(summary)
        self.summary, self.report = summary, report

    def __str__(self) -> str:
        return self.summary
