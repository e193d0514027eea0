"""Shards of a ``pooling-ref verify`` run: ``--shard I/N`` runs a deterministic, disjoint
share of the run's cases, so N machines (a CI matrix) together run exactly the whole run.

>>> plan = [shard_plan(["max_pool1d", "conv2d"], 5, (i, 3)) for i in (1, 2, 3)]
>>> [sum(map(len, p.values())) for p in plan]              # balanced: 10 cases over 3
[4, 3, 3]
>>> sorted(c for p in plan for c in p["conv2d"])            # disjoint, and the whole run
[0, 1, 2, 3, 4]
"""

from __future__ import annotations

__all__ = ["parse_shard", "shard_plan", "shard_size"]


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)``, shard ``I`` of ``N`` (``1 <= I <= N``).

    >>> parse_shard("2/4")
    (2, 4)
    >>> parse_shard("0/4")
    Traceback (most recent call last):
    ...
    ValueError: expected I/N with 1 <= I <= N (e.g. 2/4), got '0/4'
    """
    index, sep, count = text.strip().partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i = n = 0
    if not sep or not 1 <= i <= n:
        raise ValueError(f"expected I/N with 1 <= I <= N (e.g. 2/4), got {text!r}")
    return i, n


def shard_plan(ops: list[str], cases: int, shard: tuple[int, int] = (1, 1)) -> dict:
    """``{op: [case numbers]}`` that shard ``(I, N)`` runs: the run's cases are numbered
    op after op, case after case, and shard ``I`` takes every ``N``-th from number
    ``I - 1``; so every shard gets a like share of every op, the shards are disjoint, and
    together they are the whole run (each case keeps its number, so its seed and values).

    >>> shard_plan(["conv1d", "zero_pad1d"], 3, (1, 2))
    {'conv1d': [0, 2], 'zero_pad1d': [1]}
    >>> shard_plan(["conv1d", "zero_pad1d"], 3, (2, 2))
    {'conv1d': [1], 'zero_pad1d': [0, 2]}
    """
    i, n = shard
    return {op: [c for c in range(cases) if (k * cases + c) % n == i - 1]
            for k, op in enumerate(ops)}


def shard_size(ops: list[str], cases: int, shard: tuple[int, int] = (1, 1)) -> int:
    """How many cases shard ``(I, N)`` runs (:func:`shard_plan`)."""
    return sum(map(len, shard_plan(ops, cases, shard).values()))
