"""One call of the candidate on one case, judged: :func:`run_case` and its
:class:`Outcome` (the verdict, or what the candidate raised, or why the call gave no
result).

>>> import numpy as np
>>> import pooling_ref
>>> from pooling_ref.cases import Case
>>> case = Case("max_pool1d", np.float32([[[1], [3]]]), {"pool_size": 2})
>>> run_case(pooling_ref.max_pool, case).failed, run_case(pooling_ref.avg_pool, case).failed
(False, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import known
from .._candidate import Caller, InProcess
from ..cases import Case
from ..judge import Criteria, Verdict, _bad, registry_paths
from ..tolerance import Comparison

__all__ = ["DEFAULT_CRITERIA", "Outcome", "run_case"]

#: ``check``'s default criteria: any rule set, TF's NaN rule.
DEFAULT_CRITERIA = Criteria()


@dataclass
class Outcome:
    verdict: Verdict | None = None
    exception: str | None = None
    traceback: str = ""
    result: object = None
    known: str | None = None          # registry id of a TF difference the call reproduced
    alone: tuple = ()                 # rule sets this case matched, none of them the run's
    call_error: str = ""         # the call gave no result: timed out, crashed
    where: str = ""              # the candidate's last frames (raised, timed out, crashed)
    timed_out: bool = False

    @property
    def comparison(self) -> Comparison | None:
        return None if self.verdict is None else self.verdict.comparison

    @property
    def failed(self) -> bool:
        if self.call_error:
            return True
        if self.exception is not None:
            return self.known is None
        return not self.verdict.ok


def run_case(candidate: Callable | Caller, case: Case, criteria: Criteria = DEFAULT_CRITERIA,
         prefer: tuple = ()) -> Outcome:
    """Call the candidate (a plain callable: in-process, no time limit) on copies of the
    case's arrays and judge its result (``prefer``: the rule sets to report a mismatch
    against, see :func:`pooling_ref.judge.judge`)."""
    calls = candidate if isinstance(candidate, Caller) else InProcess(candidate, None)
    s = case.spec
    copies = {k: np.array(v, copy=True) for k, v in case.arrays.items()}
    args, kwargs = s.split(copies, case.scalar_params)
    calls.current = case
    call = calls.call(args, kwargs, [*s.positional, *(k for k in s.keyword_arrays
                                                      if k in kwargs)])
    if call.status in ("timeout", "crashed"):
        return Outcome(call_error=call.error, where=call.where,
                        timed_out=call.status == "timeout")
    if call.status == "raised":
        entry = known.raised(s, case.arrays, case.scalar_params, call.error,
                             registry_paths(criteria.tf_kernel, s))
        return Outcome(exception=call.error, traceback=call.traceback, where=call.where,
                        known=entry)
    result = call.result
    if call.modified is not None:
        return Outcome(Verdict(_bad(s.mode,
                                     f"candidate modified its input {call.modified!r}")))
    try:
        return Outcome(criteria.verdict(s, result, case.arrays, case.scalar_params, prefer),
                        result=result)
    except Exception as e:   # e.g. a result np.asarray cannot compare
        return Outcome(Verdict(_bad(s.mode, f"comparing the result failed: "
                                             f"{type(e).__name__}: {e}")))

