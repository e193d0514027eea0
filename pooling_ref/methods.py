"""The one method table: which ``method=`` each op takes and the kernel that runs it.

>>> resolve("loop", "max_pool"), resolve("auto", "conv")
('loop', 'fast')
>>> names("max_pool_grad")[:2]
('loop', 'fast')

Every public op (pooling, global pooling, zero padding, convolution, gradients) validates
its ``method`` with :func:`resolve` and runs :func:`kernel` of the result; the oracle, the
CLI, ``verify`` and the tests read the methods an op has from :func:`names`. A kernel may
answer ``None`` (it cannot follow this call: a dtype Numba has no type for, a rule it has
no kernel for); :func:`run` then runs the op's :data:`FALLBACK` method.

``"auto"`` is ``"compiled"`` where the op has a Numba kernel and Numba is usable, else
``"fast"``. Asking for ``"compiled"`` without Numba raises ``ImportError`` naming the
install. Some ops accept a name for a method they run another way (:data:`ALIASES`: global
pooling has one NumPy implementation; convolution's ``"compiled"`` is its BLAS ``"fast"``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import (
    _argmax_kernels,
    _compiled,
    _conv_kernels,
    _fast,
    _grad_kernels,
    _pad_kernels,
    _pool_kernels,
)
from .rules import PoolPlan

__all__ = ["ALIASES", "FALLBACK", "METHODS", "TABLE", "Kernel", "kernel", "names", "resolve",
           "run"]

#: Every ``method=`` value.
METHODS = ("auto", "loop", "im2col", "fast", "compiled")
#: The method run where a kernel answers ``None``.
FALLBACK = "fast"


def _implements_nothing(plan) -> frozenset[str]:
    return frozenset()


@dataclass(frozen=True)
class Kernel:
    """One method of one op. ``run``: the kernel (the specification's rules); ``fused``
    (pooling only): the kernel following a :class:`~pooling_ref.rules.PoolPlan` itself, for
    the plan fields ``implements(plan)`` names (:mod:`pooling_ref.apply_rules` applies the
    others around ``run``); ``prepare(g, plan, n, c, dtype, channels_first)``: ``fused`` set up
    once for a repeated call (:func:`pooling_ref._compiled.prepared_pool`)."""

    run: Callable
    fused: Callable | None = None
    implements: Callable = _implements_nothing
    prepare: Callable | None = None


def _compiled_pool(op: str, fallback: Callable) -> Kernel:
    def spec(x_cl: np.ndarray, g) -> np.ndarray:
        out = _compiled.pool(x_cl, g, PoolPlan(op, x_cl.dtype))
        return fallback(x_cl, g) if out is None else out

    spec.__doc__ = (f"The {op} pooling loop compiled with Numba (the specification's rules; "
                    f"the {FALLBACK!r} method where it has no kernel).")
    return Kernel(spec, _compiled.pool, _compiled.implements, _compiled.prepared_pool)


def _compiled_global_max(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray | None:
    return _compiled.global_pool(a, axes, "max")


def _compiled_global_sum(a: np.ndarray, axes: tuple[int, ...], dtype) -> np.ndarray | None:
    out = _compiled.global_pool(a, axes, "sum", np.dtype(dtype))
    return None if out is None else np.squeeze(out, axis=axes)


#: ``op -> method -> Kernel``. Kernel signatures per op: pooling ``(x_cl, g)``; max pooling
#: with indices ``(x_cl, g, scan)``; global pooling ``(a, axes)`` / ``(a, axes, dtype)``;
#: zero padding ``(a, pairs, data_format)``; convolution ``(problem)`` /
#: ``(problem, grad_out)``; pooling gradients ``(xs, grad_out, g, plan)``.
TABLE: dict[str, dict[str, Kernel]] = {
    "max_pool": {"loop": Kernel(_pool_kernels.max_loop),
                 "im2col": Kernel(_pool_kernels.max_im2col),
                 "fast": Kernel(_fast.max_pool),
                 "compiled": _compiled_pool("max", _fast.max_pool)},
    "avg_pool": {"loop": Kernel(_pool_kernels.avg_loop),
                 "im2col": Kernel(_pool_kernels.avg_im2col),
                 "fast": Kernel(_fast.avg_pool),
                 "compiled": _compiled_pool("avg", _fast.avg_pool)},
    "max_pool_argmax": {"loop": Kernel(_argmax_kernels.argmax_loop),
                        "fast": Kernel(_argmax_kernels.argmax_fast)},
    "global_max_pool": {"fast": Kernel(_pool_kernels.global_max),
                        "compiled": Kernel(_compiled_global_max)},
    "global_avg_pool": {"fast": Kernel(_pool_kernels.global_sum),
                        "compiled": Kernel(_compiled_global_sum)},
    "zero_pad": {"loop": Kernel(_pad_kernels.pad_loop),
                 "im2col": Kernel(_pad_kernels.pad_im2col),
                 "fast": Kernel(_pad_kernels.pad_fast)},
    "conv": {"loop": Kernel(_conv_kernels.conv_loop),
             "im2col": Kernel(_conv_kernels.conv_im2col),
             "fast": Kernel(_conv_kernels.conv_fast)},
    "max_pool_grad": {"loop": Kernel(_grad_kernels.max_grad_loop),
                      "fast": Kernel(_grad_kernels.max_grad_fast),
                      "compiled": Kernel(_grad_kernels.max_grad_compiled)},
    "avg_pool_grad": {"loop": Kernel(_grad_kernels.avg_grad_loop),
                      "fast": Kernel(_grad_kernels.avg_grad_fast),
                      "compiled": Kernel(_grad_kernels.avg_grad_compiled)},
    "conv_grad": {"loop": Kernel(_conv_kernels.conv_grad_loop),
                  "fast": Kernel(_conv_kernels.conv_grad_fast)},
}

#: ``op -> {accepted name: method that runs it}``: names an op takes without a kernel of
#: their own (global pooling: one NumPy implementation; convolution: no Numba kernel).
ALIASES: dict[str, dict[str, str]] = {
    "max_pool_argmax": {"im2col": "fast", "compiled": "fast"},
    "global_max_pool": {"loop": "fast", "im2col": "fast"},
    "global_avg_pool": {"loop": "fast", "im2col": "fast"},
    "zero_pad": {"compiled": "fast"},
    "conv": {"compiled": "fast"},
    "conv_grad": {"compiled": "fast"},
}


def names(op: str) -> tuple[str, ...]:
    """The methods ``op`` has a kernel for, ``"compiled"`` only where Numba is usable (what
    a comparison of methods runs)."""
    return tuple(m for m in TABLE[op] if m != "compiled" or _compiled.AVAILABLE)


#: ``op -> the method names it accepts`` (in :data:`METHODS` order).
_ACCEPTED = {op: tuple(m for m in METHODS if m == "auto" or m in TABLE[op]
                       or m in ALIASES.get(op, {})) for op in TABLE}


def resolve(method: object, op: str) -> str:
    """The method that runs for ``method`` (``ValueError`` naming it if ``op`` has no such
    method; ``ImportError`` for ``"compiled"`` without Numba)."""
    accepted = _ACCEPTED[op]
    if not isinstance(method, str) or method not in accepted:
        raise ValueError(f"{op}: method must be one of {accepted}, got {method!r}")
    if method == "compiled" and not _compiled.AVAILABLE:
        why = (f"{_compiled.DISABLE_ENV} is set" if _compiled.DISABLED_BY_ENV
               else "Numba is not installed")
        raise ImportError(
            f"{op}: method='compiled' needs Numba ({why}); install it with "
            f"{_compiled.INSTALL_HINT}, or use method='fast'")
    if method in ("auto", "compiled"):
        return "compiled" if "compiled" in TABLE[op] and _compiled.AVAILABLE else FALLBACK
    return ALIASES.get(op, {}).get(method, method)


def kernel(op: str, method: str) -> Kernel:
    """The :class:`Kernel` of a resolved ``method`` of ``op``."""
    return TABLE[op][method]


def run(op: str, method: str, *args):
    """``kernel(op, method).run(*args)``, or the :data:`FALLBACK` method's where it
    answers ``None``."""
    out = TABLE[op][method].run(*args)
    return TABLE[op][FALLBACK].run(*args) if out is None else out
