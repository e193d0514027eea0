"""Progress of the long runs (``pooling-ref verify`` and ``check``, the benchmark report).

On a terminal a `tqdm <https://tqdm.github.io>`_ bar (label, cases done / total, elapsed,
rate); when the stream is not a terminal (CI logs, pipes) a plain line at every tenth of
the total; with ``quiet=True`` nothing.

>>> import io, re
>>> log = io.StringIO()                       # not a terminal: plain lines
>>> with Progress(40, "verify", stream=log) as progress:
...     for op in ["max_pool1d"] * 16 + ["conv1d"] * 24:
...         progress.advance(op)
>>> print(re.sub(r"[0-9.]+ s$", "T s", log.getvalue(), flags=re.M), end="")
verify: 4/40 cases, max_pool1d, T s
verify: 8/40 cases, max_pool1d, T s
verify: 12/40 cases, max_pool1d, T s
verify: 16/40 cases, max_pool1d, T s
verify: 20/40 cases, conv1d, T s
verify: 24/40 cases, conv1d, T s
verify: 28/40 cases, conv1d, T s
verify: 32/40 cases, conv1d, T s
verify: 36/40 cases, conv1d, T s
verify: 40/40 cases, conv1d, T s

tqdm is a dependency of pooling-ref; were it missing, a terminal gets the plain lines too.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

try:
    from tqdm import tqdm
except ImportError:              # pragma: no cover - tqdm is a dependency; plain lines then
    tqdm = None

__all__ = ["Progress"]


class Progress:
    """Progress of ``total`` steps (``unit``\\ s) of a run called ``name``, on ``stream``
    (default ``sys.stderr``); :meth:`advance` after each step with the current label."""

    def __init__(self, total: int, name: str, *, stream: TextIO | None = None,
                 quiet: bool = False, unit: str = "case"):
        self.total, self.name, self.unit = max(int(total), 1), name, unit
        self.stream = sys.stderr if stream is None else stream
        self.quiet = quiet
        self.done = 0
        self.start = time.perf_counter()
        self.bar = None
        if not quiet and tqdm is not None and _is_terminal(self.stream):
            known = _size_known(self.stream)
            self.bar = tqdm(total=self.total, desc=name, unit=unit, file=self.stream,
                            leave=True, dynamic_ncols=known,
                            ncols=None if known else 80, nrows=None if known else 24)

    def advance(self, label: str, steps: int = 1) -> None:
        """``steps`` more steps done, the last of them on ``label`` (an op, a case id)."""
        before, self.done = self.done, self.done + steps
        if self.bar is not None:
            self.bar.set_description_str(f"{self.name} {label}", refresh=False)
            self.bar.update(steps)
        elif self.done * 10 // self.total > before * 10 // self.total:
            self._line(label)

    def close(self) -> None:
        """End the bar (a terminal keeps its last state on a line of its own)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def _line(self, text: str) -> None:
        if self.quiet or self.bar is not None:
            return
        elapsed = time.perf_counter() - self.start
        self.stream.write(f"{self.name}: {self.done}/{self.total} {self.unit}s, {text}, "
                          f"{elapsed:.1f} s\n")
        self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _size_known(stream: TextIO) -> bool:
    """Whether the terminal says its size (a new pseudo-terminal is 0 x 0 until it is set,
    and tqdm then draws nothing; it gets 80 x 24 instead)."""
    try:
        return min(os.get_terminal_size(stream.fileno())) > 0
    except (AttributeError, OSError, ValueError):
        return False


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:           # a closed stream
        return False
