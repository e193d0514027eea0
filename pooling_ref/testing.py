"""Use the oracle from your own pytest suite.

>>> import pooling_ref
>>> from pooling_ref.testing import assert_matches
>>> assert_matches(pooling_ref.max_pool, "max_pool2d", cases=10).passed
True

A test file of your own::

    from pooling_ref.testing import assert_matches
    from mykernels import max_pool2d

    def test_max_pool2d_matches_keras():
        assert_matches(max_pool2d, "max_pool2d", supports={"data_format": ["channels_last"]})

On a mismatch pytest shows the report: the smallest failing cases, the input window
behind each, and a reproducer script.
"""

from __future__ import annotations

from collections.abc import Callable

from .oracle import Report, check

__all__ = ["assert_matches"]


def assert_matches(candidate: Callable, op: str, **check_kwargs) -> Report:
    """Run :func:`pooling_ref.check`; ``AssertionError(str(report))`` unless it passed.

    ``check_kwargs`` are those of :func:`pooling_ref.check` (``cases``, ``seed``,
    ``dtype``, ``supports``, ``nan``, ``tf_kernel``, ``timeout``, ``isolate`` ...). Returns
    the report when it passed.
    """
    __tracebackhide__ = True
    report = check(candidate, op, **check_kwargs)
    if not report.passed:
        raise AssertionError(str(report))
    return report
