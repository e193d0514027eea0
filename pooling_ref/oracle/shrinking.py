"""Shrinking a failing case: greedy moves (the entry's, :mod:`pooling_ref.oracle.moves`)
while the candidate still fails, within a budget of candidate calls.

>>> import numpy as np
>>> from pooling_ref.cases import Case
>>> case = Case("max_pool1d", np.float32([[[1], [np.nan], [2]]]), {"pool_size": 3})
>>> small, steps = shrink(case, lambda c: bool(np.isnan(c.x).any()))
>>> small.x.ravel().tolist(), small.scalar_params
([nan], {'pool_size': 1})
"""

from __future__ import annotations

from collections.abc import Callable

from .._candidate import Caller
from ..cases import Case, Supports
from ..judge import Criteria
from ..ops import is_gradient
from .call import Outcome, run_case
from .context import context
from .moves import all_moves, simpler_grad_out

__all__ = ["SHRINK_BUDGET", "shrink", "shrunk"]

#: Upper bound on candidate calls spent shrinking one failing case.
SHRINK_BUDGET = 400


def shrink(case: Case, still_fails: Callable[[Case], bool],
           budget: int = SHRINK_BUDGET, supports: Supports | None = None
           ) -> tuple[Case, int]:
    """Greedily simplify ``case`` while ``still_fails``; return the result and steps taken.

    >>> from pooling_ref.cases import generate_cases
    >>> case = generate_cases("max_pool2d", 40, seed=0)[-2]
    >>> small, steps = shrink(case, lambda c: True)       # "fails" whatever the case
    >>> small.x.size, small.scalar_params
    (1, {'pool_size': 1})

    Moves include small steps (one channel, one cell fewer), so a failure that needs
    ``C > 8`` keeps ``C = 9``. Every accepted step strictly decreases
    :meth:`Case.size_key`, so this terminates; ``budget`` bounds the calls of
    ``still_fails``. Cases outside ``supports`` are never tried.
    """
    steps = 0
    improved = True
    while improved and budget > 0:
        improved = False
        key = case.size_key()
        for new in all_moves(case):
            if new.size_key() >= key or not new.valid():
                continue
            if supports is not None and not supports.admits(new):
                continue
            budget -= 1
            if still_fails(new):
                case, steps, improved = new, steps + 1, True
                break
            if budget <= 0:
                break
    if is_gradient(case.spec):
        case, steps = simpler_grad_out(case, still_fails, steps)
    return case, steps


def shrunk(calls: Caller, case: Case, outcome: Outcome, sup: Supports, criteria: Criteria,
           prefer: tuple, shrink_failures: bool
           ) -> tuple[Case, int, Outcome, list[str], str]:
    """The shrunk case, steps, its outcome, context lines and explanation.

    A timed-out case is not shrunk (each try could cost the whole time limit), and a try
    that times out does not count as still failing; once the check's timed-out calls are
    used up (``calls.exhausted``) no more tries are made. The outcome of the shrunk case
    is the one its try gave (no call is repeated)."""
    small, steps = case, 0
    if shrink_failures and not outcome.timed_out:
        last: list = [case, outcome]

        def still_fails(c: Case) -> bool:
            if calls.exhausted:
                return False
            o = run_case(calls, c, criteria, prefer)
            if o.failed and not o.timed_out:
                last[:] = [c, o]
                return True
            return False

        small, steps = shrink(case, still_fails, supports=sup)
        if small is last[0]:
            outcome = last[1]
    lines, why = context(small, outcome, criteria)
    return small, steps, outcome, lines, why
