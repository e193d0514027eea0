"""The outcomes of one :func:`pooling_ref.check` run: :class:`_Tally` (which rule sets
each passing case matched, the failing cases, the one rule set the run is judged by) and
the :class:`~pooling_ref.oracle.report.Report` it adds up to.

>>> t = _Tally(Criteria())
>>> t.counts(), t.prefer()
({}, ())
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import known
from ..cases import Case, Supports
from ..judge import RULE_SETS, Criteria, is_dialect, registry_paths
from .call import Outcome
from .report import Report

__all__ = ["_Tally"]


@dataclass
class _Tally:
    """The outcomes of one run: which rule sets each passing case matched, the failing
    cases with the criteria each is reported under, and the statistics of the report.

    Under ``tf_kernel="any"`` the run must be explained by ONE rule set, as a TensorFlow
    path is one set of rules for a whole run: :meth:`settle` picks the set that most cases
    match and turns every passing case that set does not explain into a failure against it
    (a kernel that flushes like one path but fills empty windows like another is neither).
    """

    criteria: Criteria
    passing: list = field(default_factory=list)   # (index, case, outcome, rule sets)
    failing: list = field(default_factory=list)   # (index, case, outcome, criteria)
    corners: dict = field(default_factory=dict)
    chosen: str | None = None                     # the set the run is judged against
    run: int = 0

    def add(self, index: int, case: Case, outcome: Outcome) -> None:
        self.run += 1
        self.corners[case.corner or "plain"] = self.corners.get(case.corner or "plain", 0) + 1
        if outcome.failed:
            self.failing.append((index, case, outcome, self.criteria))
        else:
            self.passing.append((index, case, outcome, self._sets(case, outcome)))

    def _sets(self, case: Case, outcome: Outcome) -> tuple:
        if outcome.verdict is None:                   # a raise the framework does too
            if is_dialect(case.spec):
                return (None,)
            return tuple(p for p in registry_paths(self.criteria.tf_kernel)
                         if p in known.entry_paths(outcome.known))
        return outcome.verdict.matched

    def counts(self) -> dict:
        """Rule set -> passing cases it matched, in :data:`judge.RULE_SETS` order."""
        out: dict = {}
        for *_, sets in self.passing:
            for r in sets:
                out[r] = out.get(r, 0) + 1
        return {r: out[r] for r in sorted(out, key=list(RULE_SETS).index)}

    def prefer(self) -> tuple:
        """The rule sets to report a mismatch against: those matched so far, most first."""
        counts = self.counts()
        return tuple(sorted(counts, key=lambda r: -counts[r]))

    def settle(self) -> None:
        """Judge the run against the one rule set most passing cases match (see above)."""
        counts = self.counts()
        if not counts:
            return
        self.chosen = max(counts, key=lambda r: counts[r])      # first set wins ties
        strict = Criteria(self.chosen, self.criteria.nan)
        keep = []
        for index, case, outcome, sets in self.passing:
            if self.chosen in sets:
                keep.append((index, case, outcome, sets))
                continue
            verdict = strict.verdict(case.spec, outcome.result, case.arrays,
                                     case.scalar_params)
            if verdict.ok:      # the chosen set explains it too, by a registered difference
                outcome.verdict = verdict
                keep.append((index, case, outcome, verdict.matched))
                continue
            outcome.alone = sets
            outcome.verdict = verdict
            self.failing.append((index, case, outcome, strict))
        self.passing = keep

    def report(self, op: str, name: str, seed: int, dtype: str, sup: Supports) -> Report:
        comparisons = [o.comparison for _, _, o, _ in self.passing if o.comparison]
        matched = None
        for *_, sets in self.passing:
            matched = sets if matched is None else tuple(r for r in matched if r in sets)
        known_cases: dict = {}
        for _, _, o, _ in self.passing:
            entry = o.known or (o.verdict.known if o.verdict else None)
            if entry:
                known_cases[entry] = known_cases.get(entry, 0) + 1
        return Report(op, name, seed, dtype, self.run, failed_cases=len(self.failing),
                      max_ulp=max((c.max_ulp for c in comparisons), default=0),
                      worst_ratio=max((c.worst_ratio for c in comparisons), default=0.0),
                      left_out=sup.left_out(), corners=self.corners, nan=self.criteria.nan,
                      tf_kernel=self.criteria.tf_kernel, matched=matched or (),
                      matched_cases=self.counts(), known=known_cases)
