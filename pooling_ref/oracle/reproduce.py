"""The reproducer of a failing case: a script that rebuilds the case bit for bit, calls
the candidate and asserts a match (it fails while the mismatch persists).

>>> lines, name = candidate_source(len)
>>> lines[-1], name
('from builtins import len as candidate', 'builtins.len')
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable

from .._repro import CANNOT_IMPORT, import_lines, snippet
from ..cases import Case
from ..judge import Criteria
from .call import DEFAULT_CRITERIA

__all__ = ["candidate_source", "reproducer"]


def _resolve(module: str, qualname: str):
    obj = sys.modules.get(module)
    if obj is None:
        try:
            obj = importlib.import_module(module)
        except Exception:
            return None
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def candidate_source(candidate: Callable, target: str | None = None) -> tuple[list[str], str]:
    """Import lines that bind exactly ``candidate`` in a fresh interpreter, and its name.

    ``target`` (``"MODULE:FUNCTION"``, as given on the command line) wins. Otherwise the
    function's ``__module__``/``__qualname__`` are used only if they lead back to this very
    object (a ``functools.wraps`` wrapper copies them from the function it wraps); else the
    module's globals are searched for it.
    """
    if target is not None:
        module, _, attr = target.partition(":")
        return import_lines(module, attr), target
    if isinstance(candidate, functools.partial):
        lines, name = candidate_source(candidate.func)
        args = [repr(a) for a in candidate.args]
        args += [f"{k}={v!r}" for k, v in candidate.keywords.items()]
        lines = [*lines, "import functools",
                 f"candidate = functools.partial(candidate, {', '.join(args)})"]
        return lines, f"functools.partial({name}, {', '.join(args)})"
    module = getattr(candidate, "__module__", None)
    qualname = getattr(candidate, "__qualname__", None) or getattr(candidate, "__name__", None)
    name = f"{module}.{qualname}" if module and qualname else repr(candidate)
    if module and module != "__main__":
        if qualname and "<" not in qualname and _resolve(module, qualname) is candidate:
            return import_lines(module, qualname), name
        mod = sys.modules.get(module)
        for attr, value in sorted(vars(mod).items()) if mod else ():
            if value is candidate:
                return import_lines(module, attr), f"{module}.{attr}"
    message = f"candidate {name} cannot be imported by name: define `candidate` here"
    return ["import sys", f"print({message!r}, file=sys.stderr)",
            f"raise SystemExit({CANNOT_IMPORT})"], name


def reproducer(case: Case, candidate: Callable, criteria: Criteria = DEFAULT_CRITERIA, *,
               target: str | None = None) -> str:
    """A script that rebuilds ``case`` bit for bit, calls the candidate and asserts a match.

    It exits with an ``AssertionError`` (status 1) while the mismatch persists and prints
    ``match`` once the candidate is fixed. It first puts the directory the candidate's
    module was imported from on ``sys.path`` (so it runs from any directory) and exits with
    status 2, saying how to run it, when the module still cannot be found.
    """
    imports, _ = candidate_source(candidate, target)
    s = case.spec
    extra = criteria.options()
    args = ", ".join([*s.positional,
                      *(f"{k}={k}" for k in s.keyword_arrays if k in case.params),
                      *(f"{k}={v!r}" for k, v in case.scalar_params.items())])
    after = [f"comparison = compare_result({case.op!r}, result, {args}{extra})",
             "print(comparison)",
             "assert comparison.ok, str(comparison)"]
    return snippet(["from pooling_ref.oracle import compare_result", *imports],
                   "candidate", case.arrays, case.scalar_params, s.positional, after)

