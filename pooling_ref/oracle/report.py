"""What :func:`pooling_ref.check` returns: the :class:`Report` of a run and one
:class:`Failure` per distinct failing case, shrunk.

>>> r = Report("max_pool1d", "f", seed=0, dtype="float32", cases=3, matched=(None,),
...            matched_cases={None: 3})
>>> r.passed, r.rule_sets_text()
(True, 'matched tf_kernel=None (IEEE) on every case')
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..judge import ANY, DIALECT_RUNTIMES, is_dialect, set_name
from ..ops import spec
from ..tolerance import Comparison

__all__ = ["Failure", "Report", "cells_text", "chans_text"]


def cells_text(cells: list[list[int]]) -> str:
    def one(c):
        if not c:
            return "(empty)"
        if c == list(range(c[0], c[-1] + 1)):
            return f"{c[0]}:{c[-1] + 1}"
        return str(c)
    return ", ".join(one(c) for c in cells)


def chans_text(chans: slice) -> str:
    return str(chans.start) if chans.stop - chans.start == 1 else f"{chans.start}:{chans.stop}"



@dataclass
class Failure:
    """One failing case (after shrinking) and what went wrong."""

    op: str
    params: dict                     # scalar keyword arguments (arrays listed in `shapes`)
    shapes: dict                     # name -> shape of x, kernel, bias
    dtype: str
    comparison: Comparison | None    # None when the candidate raised
    exception: str | None            # "TypeError: ..." when the candidate raised
    reproducer: str                  # runnable script; fails while the mismatch persists
    case_index: int                  # index of the original (unshrunk) case
    original_shapes: dict = field(default_factory=dict)
    original_params: dict = field(default_factory=dict)
    shrink_steps: int = 0
    traceback: str = ""
    corner: str = ""                 # the corner class of the (shrunk) case: cases.corner_of
    explanation: str = ""            # the special-value rule, in words
    context: list[str] = field(default_factory=list)   # padding split, window, values
    call_error: str = ""             # "timed out after 30 s", "crashed: killed by signal ..."
    where: str = ""                  # the candidate's last frames: "k.py:9 in f <- ..."

    @property
    def max_abs(self) -> float:
        return self.comparison.max_abs if self.comparison else float("nan")

    @property
    def max_ulp(self) -> int:
        return self.comparison.max_ulp if self.comparison else 0

    @property
    def bound_ratio(self) -> float:
        """Worst ``|difference| / bound`` (bound mode; 0 in bitwise mode)."""
        return self.comparison.worst_ratio if self.comparison else float("nan")

    @property
    def first_index(self) -> tuple | None:
        return self.comparison.first_index if self.comparison else None

    @property
    def detail(self) -> str:
        if self.call_error:
            return self.call_error
        if self.exception is not None:
            return f"candidate raised {self.exception}"
        return str(self.comparison)

    def __str__(self) -> str:
        shapes = ", ".join(f"{k} {v}" for k, v in self.shapes.items())
        corner = f" [{self.corner}]" if self.corner else ""
        lines = [f"case {self.case_index}{corner}: {self.op}  {shapes}  dtype {self.dtype}",
                 f"  params: {self.params}",
                 f"  {self.detail}"]
        if self.where:
            lines.append(f"  at {self.where}")
        if self.explanation:
            lines.append(f"  why: {self.explanation}")
        lines += ["  " + line for line in self.context]
        if self.shrink_steps:
            orig = ", ".join(f"{k} {v}" for k, v in self.original_shapes.items())
            lines.append(f"  (shrunk in {self.shrink_steps} steps from {orig}, "
                         f"params {self.original_params})")
        lines.append("  reproduce with (a script: `python repro.py` fails while the "
                     "mismatch persists):")
        lines += ["    " + line for line in self.reproducer.splitlines()]
        return "\n".join(lines)


@dataclass
class Report:
    """Outcome of :func:`check`. ``str(report)`` is a readable summary."""

    op: str
    candidate: str
    seed: int
    dtype: str
    cases: int                       # cases run
    failures: list[Failure] = field(default_factory=list)
    failed_cases: int = 0            # how many of the cases failed (before shrinking)
    max_ulp: int = 0                 # worst ULP difference over the compared cases
    worst_ratio: float = 0.0         # worst |difference| / bound (bound-mode ops)
    left_out: list[str] = field(default_factory=list)   # what supports= kept out
    corners: dict = field(default_factory=dict)         # corner class -> cases drawn
    nan: str = "tf"
    tf_kernel: str | None = ANY                         # the rule sets asked for
    matched: tuple = ()              # rule sets under which every passing case matched
    matched_cases: dict = field(default_factory=dict)   # rule set -> cases it matched
    known: dict = field(default_factory=dict)           # registry id -> cases it accepted
    interrupted: str = ""            # Ctrl-C: what ran and where it stopped
    notes: list[str] = field(default_factory=list)      # calls timed out, not run, ...

    @property
    def passed(self) -> bool:
        return not self.failures and not self.interrupted

    def rule_sets_text(self) -> str:
        """Which rule sets the candidate matched (and TF differences it reproduced); for
        another framework's op, its dialect function (the one specification)."""
        if self.matched and is_dialect(spec(self.op)):
            framework = self.op.split(".", 1)[0]
            text = (f"matched {self.op} as pooling_ref.dialects.{framework} specifies it"
                    + (" on every case" if self.matched_cases else ""))
        elif self.matched:
            text = "matched tf_kernel=" + ", ".join(set_name(r) for r in self.matched)
            text += " on every case" if len(self.matched_cases) else ""
        elif self.matched_cases:
            text = "no single rule set matched every case: " + ", ".join(
                f"tf_kernel={set_name(r)} {n}" for r, n in self.matched_cases.items())
        else:
            text = "no case matched"
        if self.known:
            who = ("TensorFlow's" if not is_dialect(spec(self.op)) else
                   "/".join(DIALECT_RUNTIMES.get(self.op.partition(".")[0], ("its runtime",)))
                   + "'s")
            text += f"; {who} known differences reproduced (accepted): " + ", ".join(
                f"{k} ({n} case{'s' if n > 1 else ''})" for k, n in self.known.items())
        return text

    def __str__(self) -> str:
        extra = "" if self.nan == "tf" else f", nan={self.nan!r}"
        if self.tf_kernel != ANY:
            extra += f", tf_kernel={self.tf_kernel!r}"
        head = (f"check {self.candidate} as {self.op} (seed {self.seed}, {self.dtype}{extra})"
                f": {self.cases} cases, ")
        left = ("\n  not drawn (supports=): " + "; ".join(self.left_out)
                if self.left_out else "")
        left += "".join(f"\n  note: {n}" for n in self.notes)
        if self.interrupted:
            return "\n".join([head + f"INTERRUPTED: {self.interrupted}" + left,
                              *map(str, self.failures)])
        if self.passed:
            worst = (f"worst bound ratio {self.worst_ratio:.3g}" if spec(self.op).mode ==
                     "bound" else f"max ULP {self.max_ulp}")
            return head + f"all passed ({worst}); {self.rule_sets_text()}" + left
        lines = [head + f"{self.failed_cases} FAILED; smallest failing case(s):" + left,
                 f"  passing cases: {self.rule_sets_text()}"]
        for f in self.failures:
            lines.append(str(f))
        return "\n".join(lines)

