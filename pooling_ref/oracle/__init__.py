"""The correctness oracle: :func:`check` a candidate implementation against ``pooling_ref``.

>>> import numpy as np
>>> import pooling_ref
>>> report = check(pooling_ref.max_pool, "max_pool2d", cases=20)
>>> report.passed, report.cases
(True, 20)
>>> wrong = lambda x, pool_size, **kw: pooling_ref.avg_pool(x, pool_size, **kw)
>>> check(wrong, "max_pool1d", cases=20).passed
False

The reference is ``pooling_ref`` itself, the op's function in the op table
(:mod:`pooling_ref.ops`). Comparisons follow :mod:`pooling_ref.tolerance`: max pooling,
global max pooling and zero padding must match bit for bit; average pooling and
convolution must lie within the documented error bound (so a candidate that sums in
another order or in a wider type passes, while a real error — hundreds of times the bound
— fails). The result must also have the reference's dtype and must not modify its inputs.

A failing case is shrunk (smaller arrays, simpler parameters, fewer special values, while
it still fails) and reported with the input window behind the first mismatch, the padding
split, a sentence when the difference is a known special-value rule, and a reproducer
script that fails while the mismatch persists.

The package, top to bottom (each module imports only those below it): :mod:`.run`
(``check``) over :mod:`.tally` (the run's outcomes) and :mod:`.shrinking` over
:mod:`.moves` (the shrink moves the op table's entries list), :mod:`.context` (the report's
lines) and :mod:`.reproduce` (the script) over :mod:`.call` (one candidate call, judged)
and :mod:`.report` (``Report``, ``Failure``) over :mod:`.compare` (``compare_result``, what
the reproducer calls).
"""

from __future__ import annotations

from .._candidate import CheckInterrupted
from ..ops import all_ops
from .compare import compare_result, reference
from .report import Failure, Report
from .run import check
from .shrinking import shrink

__all__ = ["OPS", "CheckInterrupted", "Failure", "Report", "check", "compare_result",
           "reference", "shrink"]


def __getattr__(name: str):
    if name == "OPS":                   # the op table, read when asked
        return all_ops()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
