"""Comparing one result with the reference: :func:`compare_result` (what a reproducer
calls) and :func:`reference`.

>>> import numpy as np
>>> x = np.float32([[[1], [3], [2]]])
>>> compare_result("max_pool1d", np.float32([[[2]]]), x, pool_size=2).ok
False
"""

from __future__ import annotations

import numpy as np

from ..judge import ANY, Criteria, check_rule_option
from ..ops import OpSpec, spec
from ..tolerance import Comparison

__all__ = ["compare_result", "reference"]


def reference(op: str, x: np.ndarray, *arrays, nan: str = "tf", tf_kernel: str | None = None,
              **params) -> np.ndarray:
    """``pooling_ref``'s result for oracle op ``op`` (``"conv2d"`` -> :func:`pooling_ref.conv`).

    >>> import numpy as np
    >>> reference("zero_pad1d", np.ones((1, 1, 1)), padding=((0, 1),))[0, :, 0]
    array([1., 0.])
    """
    s = spec(op)
    named, scalars = _named(s, x, arrays, params)
    return s.run_reference(named, scalars, nan=nan, tf_kernel=tf_kernel)


def _named(s: OpSpec, x: np.ndarray, arrays: tuple, params: dict) -> tuple[dict, dict]:
    """Array arguments by name and the scalar parameters of one call."""
    named = {"x": x}
    named.update(zip(s.positional[1:], arrays))
    named.update({k: params[k] for k in s.keyword_arrays if k in params})
    scalars = {k: v for k, v in params.items() if k not in s.arrays}
    return named, scalars


def compare_result(op: str, result: object, x: object, *arrays, nan: str = "tf",
                   tf_kernel: str | None = ANY, **params) -> Comparison:
    """Compare a candidate's ``result`` for ``op(x, *arrays, **params)`` with the reference.

    >>> import numpy as np
    >>> x = np.float32([[[1], [3], [2]]])
    >>> compare_result("max_pool1d", np.float32([[[3]]]), x, pool_size=2).ok
    True

    Bitwise for max pooling and zero padding; within the error bound of
    :mod:`pooling_ref.tolerance` for average pooling and convolution. Shape and dtype must
    be the reference's in both modes. Ops with several outputs compare each.
    ``tf_kernel="any"`` (the default, as in :func:`check`): the result matches under one of
    the rule sets (:mod:`pooling_ref.judge`); ``None`` or a path: under that one.
    """
    s = spec(op)
    named, scalars = _named(s, np.asarray(x), arrays, params)
    criteria = Criteria(check_rule_option(tf_kernel, "compare_result"), nan)
    return criteria.verdict(s, result, named, scalars).comparison

