"""Assertion helpers: bitwise / error-bound comparison with a reproducer in the message."""

from __future__ import annotations

import numpy as np

from pooling_ref._repro import call_snippet
from pooling_ref.tolerance import compare


def _message(op: str, params: dict, arrays: dict, comparison, what: str) -> str:
    shapes = {k: np.asarray(v).shape for k, v in arrays.items() if v is not None}
    dtypes = {k: np.asarray(v).dtype.name for k, v in arrays.items() if v is not None}
    return (
        f"{op} {what}: {comparison}\n"
        f"  params: {params}\n  shapes: {shapes}  dtypes: {dtypes}\n"
        f"  reproduce with:\n"
        + "\n".join("    " + line for line in call_snippet(f"pooling_ref.{op}", arrays,
                                                           params).splitlines())
    )


def assert_bitwise(actual, expected, *, op: str, params: dict, arrays: dict,
                   what: str = "differs from Keras") -> None:
    """Same shape, dtype and bits (NaN payloads aside); message names op, params, reproducer."""
    __tracebackhide__ = True
    c = compare(actual, expected)
    if not c.ok:
        raise AssertionError(_message(op, params, arrays, c, what))


def assert_within_bound(actual, expected, bound, *, op: str, params: dict, arrays: dict,
                        what: str = "differs from Keras beyond the error bound") -> float:
    """``|actual - expected| <= bound`` elementwise; returns the worst bound ratio."""
    __tracebackhide__ = True
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.dtype != expected.dtype:
        raise AssertionError(f"{op}: dtype {actual.dtype} != expected {expected.dtype}; "
                             f"params {params}")
    c = compare(actual, expected, bound)
    if not c.ok:
        raise AssertionError(_message(op, params, arrays, c, what))
    return c.worst_ratio
