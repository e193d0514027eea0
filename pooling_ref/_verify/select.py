"""Which ops and methods ``pooling-ref verify`` runs, read from the op table when asked.

>>> expand_ops(["conv"])
['conv1d', 'conv2d', 'conv3d']
"""

from __future__ import annotations

from collections.abc import Iterable

from .. import _compiled
from ..ops import OpSpec, all_ops, families, spec

__all__ = ["coverage", "expand_ops", "methods_of", "verified_ops"]


def verified_ops() -> tuple[str, ...]:
    """Every op of the table that has a Keras runner, by family then rank (a family's
    gradient after it)."""
    specs = [spec(op) for op in all_ops() if spec(op).keras is not None]
    return tuple(s.name for s in sorted(specs, key=lambda s: (s.family, s.rank)))


def expand_ops(names: Iterable[str]) -> list[str]:
    """Op names, or family names (``"conv"``, ``"max_pool"``) standing for ranks 1-3."""
    ops = verified_ops()
    out: list[str] = []
    for name in names:
        matched = [name] if name in ops else [op for op in ops if spec(op).family == name]
        if not matched:
            raise ValueError(
                f"--ops: unknown op {name!r}; valid ops: {', '.join(ops)} "
                f"(or a family: {', '.join(sorted({spec(op).family for op in ops}))})")
        out += [op for op in matched if op not in out]
    return out


def methods_of(op: str) -> tuple[str, ...]:
    """The methods verify runs: every ``method=`` the op takes, plus ``"compiled"`` for
    the ops with a compiled kernel (the method table) where Numba is usable (``"-"``:
    an op without ``method=``, global pooling, runs its default, ``"auto"``: compiled with
    Numba)."""
    return _methods(spec(op), _compiled.AVAILABLE)


def _methods(s: OpSpec, compiled: bool) -> tuple[str, ...]:
    """The op's methods (the method table's, :func:`pooling_ref.methods.names`), with
    ``"compiled"`` where it has a compiled kernel and ``compiled``."""
    if not s.methods:
        return ("-",)
    return tuple(m for m in s.method_names if m != "compiled") + (
        ("compiled",) if compiled and s.compiled else ())


def coverage() -> str:
    """The op families verify runs and the methods it compares on each, in words (from
    the op table and :func:`methods_of`'s rule).

    >>> print(coverage())
    family                ranks  methods compared with Keras
    max_pool              1-3    loop, im2col, fast, compiled*
    avg_pool              1-3    loop, im2col, fast, compiled*
    global_max_pool       1-3    its default (method= not taken)
    global_avg_pool       1-3    its default (method= not taken)
    zero_pad              1-3    loop, im2col, fast
    conv                  1-3    loop, im2col, fast
    max_pool_with_argmax  2      loop, fast
    adaptive_avg_pool     1-3    loop, im2col, fast, compiled*
    adaptive_max_pool     1-3    loop, im2col, fast, compiled*
    max_pool_grad         1-3    loop, fast, compiled*
    avg_pool_grad         1-3    loop, fast, compiled*
    conv_grad             1-3    loop, fast
    * compiled: with Numba, where it is installed
    """
    ops = verified_ops()
    lines = [f"{'family':22}{'ranks':7}methods compared with Keras"]
    for family in families():
        specs = [spec(op) for op in ops if spec(op).family == family]
        if not specs:
            continue
        ranks = sorted(s.rank for s in specs)
        methods = _methods(specs[0], compiled=True)
        names = ("its default (method= not taken)" if methods == ("-",) else ", ".join(
            m + "*" * (m == "compiled") for m in methods))
        span = f"{ranks[0]}-{ranks[-1]}" if ranks[0] != ranks[-1] else f"{ranks[0]}"
        lines.append(f"{family:22}{span:7}{names}")
    return "\n".join([*lines, "* compiled: with Numba, where it is installed"])
