"""``pooling-ref verify --json`` reports, and ``pooling-ref merge`` of the shards of one run.

A report records the run (seed, cases per op, TF kernel path, versions, the methods run on
each op), which shard it is (``{"index": I, "count": N}``; ``1/1`` for a whole run) and
per op what :class:`pooling_ref._verify.OpResult` holds, with the case numbers it drew.
:func:`merge` checks that the reports are the N shards of one run, each once, and adds
them up: the same numbers, worst errors, mismatches and skipped cases as the whole run.

>>> a = {"seed": 0, "cases_per_op": 3, "tf_kernel": "xla", "versions": {"keras": "3.15.1"},
...      "methods": {"conv1d": ["loop"]}, "shard": {"index": 1, "count": 2}}
>>> print("; ".join(differences(a, {**a, "seed": 1, "versions": {"keras": "3.7.0"}})))
seed 0 vs 1; versions.keras '3.15.1' vs '3.7.0'

"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from operator import itemgetter

import numpy as np

from . import __version__
from ._verify import OpResult, avoided_defects, methods_of, run_passed

__all__ = ["MergeError", "check_writable", "differences", "merge", "verify_report"]

#: What makes two reports shards of one run (besides the shard count).
RUN_KEYS = ("seed", "cases_per_op", "tf_kernel", "versions", "methods")


class MergeError(ValueError):
    """The files given to ``pooling-ref merge`` are not the shards of one run (exit 2)."""


def verify_report(results: list[OpResult], *, versions: dict, seed: int, cases: int,
                  path: str, shard: tuple[int, int] = (1, 1)) -> dict:
    """The JSON document of a verify run (or shard ``(I, N)`` of it)."""
    return {"passed": run_passed(results, whole=shard[1] == 1),
            "versions": {**versions, "pooling_ref": __version__, "numpy": np.__version__},
            "seed": seed, "cases_per_op": cases, "known_defects": avoided_defects(),
            "tf_kernel": path, "conv_reference_path": "xla",
            "shard": {"index": shard[0], "count": shard[1]},
            "methods": {r.op: list(methods_of(r.op)) for r in results},
            "ops": {r.op: r.to_json() for r in results}}


def check_writable(path: str | None) -> None:
    """``ValueError`` (exit 2) before a long run if ``--json`` cannot be written (the
    commands' reports: verify, merge, model)."""
    if path is None:
        return
    try:
        existed = os.path.exists(path)
        with open(path, "a", encoding="utf-8"):
            pass
        if not existed:
            os.remove(path)
    except OSError as e:
        raise ValueError(f"--json: cannot write {path!r}: {e.strerror or e}") from None


def write(path: str, doc: dict) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2, default=float)


def load(path: str) -> dict:
    """A verify report; :class:`MergeError` naming the file if it is not one."""
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError as e:
        raise MergeError(f"cannot read {path}: {e.strerror or e}") from None
    except ValueError as e:
        raise MergeError(f"{path} is not JSON: {e}") from None
    keys = (*RUN_KEYS, "shard", "ops")
    missing = [k for k in keys if k not in doc] if isinstance(doc, dict) else list(keys)
    if missing:
        raise MergeError(f"{path} is not a report of `pooling-ref verify --json` "
                         f"(pooling-ref >= 0.2): no {', '.join(missing)}")
    shard = doc["shard"]
    if not (isinstance(shard, dict) and isinstance(shard.get("count"), int)
            and isinstance(shard.get("index"), int) and 1 <= shard["index"] <= shard["count"]):
        raise MergeError(f"{path}: shard must be {{'index': I, 'count': N}} with "
                         f"1 <= I <= N, got {shard!r}")
    return doc


def differences(a: dict, b: dict) -> list[str]:
    """How the runs of reports ``a`` and ``b`` differ (``[]``: shards of one run)."""
    out = []
    for key in RUN_KEYS:
        x, y = a[key], b[key]
        if isinstance(x, dict) and isinstance(y, dict):
            out += [f"{key}.{k} {x.get(k)!r} vs {y.get(k)!r}"
                    for k in dict.fromkeys([*x, *y]) if x.get(k) != y.get(k)]
            if x == y and list(x) != list(y):
                out.append(f"{key}: the ops in another order")
        elif x != y:
            out.append(f"{key} {x!r} vs {y!r}")
    if a["shard"]["count"] != b["shard"]["count"]:
        out.append(f"shard count {a['shard']['count']} vs {b['shard']['count']}")
    return out


def _check_shards(docs: Sequence[tuple[str, dict]]) -> None:
    """:class:`MergeError` unless ``docs`` are shards 1..N of one run, each once."""
    first_path, first = docs[0]
    for path, doc in docs[1:]:
        diff = differences(first, doc)
        if diff:
            raise MergeError(f"{first_path} and {path} are shards of different runs: "
                             f"{'; '.join(diff)}")
    count = first["shard"]["count"]
    seen: dict[int, list[str]] = {}
    for path, doc in docs:
        seen.setdefault(doc["shard"]["index"], []).append(path)
    twice = [f"shard {i}/{count} given {len(p)} times ({', '.join(p)})"
             for i, p in sorted(seen.items()) if len(p) > 1]
    missing = [f"{i}/{count}" for i in range(1, count + 1) if i not in seen]
    if twice or missing:
        raise MergeError("; ".join(twice + ([f"missing shard(s) {', '.join(missing)}"]
                                            if missing else [])))


def _combine(parts: list[OpResult], cases: int) -> OpResult:
    """One op's shard results added up; :class:`MergeError` unless the shards drew each
    of the op's ``cases`` case numbers exactly once."""
    indices = sorted(i for p in parts for i in p.indices)
    if indices != list(range(cases)):
        raise MergeError(f"{parts[0].op}: the shards drew case numbers {indices}, not "
                         f"0..{cases - 1} once each")
    worst: dict = {}
    for p in parts:
        for method, value in p.worst.items():
            worst[method] = max(worst.get(method, value), value)
    by_index = itemgetter("index")
    return OpResult(parts[0].op, parts[0].mode, sum(p.cases for p in parts),
                    sum(p.comparisons for p in parts), worst,
                    sorted((m for p in parts for m in p.mismatches), key=by_index),
                    sorted((s for p in parts for s in p.skipped), key=by_index),
                    sum(p.seconds for p in parts), indices)


def merge(paths: Sequence[str]) -> tuple[dict, list[OpResult]]:
    """The report of the whole run whose shards ``paths`` are, and its per-op results.
    :class:`MergeError` (a usage error) names what does not fit."""
    docs = [(os.fspath(p), load(p)) for p in paths]
    _check_shards(docs)
    first = docs[0][1]
    try:
        results = [_combine([OpResult.from_json(doc["ops"][op]) for _, doc in docs],
                            first["cases_per_op"]) for op in first["methods"]]
    except (KeyError, TypeError) as e:
        raise MergeError(f"a report lacks a per-op field: {e}") from None
    doc = {**first, "passed": run_passed(results), "shard": {"index": 1, "count": 1},
           "merged_from": [{"file": p, "shard": f"{d['shard']['index']}/"
                            f"{d['shard']['count']}"} for p, d in docs],
           "ops": {r.op: r.to_json() for r in results}}
    return doc, results
