"""The one registry of ops: what ``check``, ``verify``, the CLI and the case generator know.

>>> spec("conv2d").family, spec("conv2d").rank, spec("conv2d").mode
('conv', 2, 'bound')
>>> spec("max_pool1d").positional, spec("conv1d").keyword_arrays
(('x',), ('kernel', 'bias'))
>>> "global_avg_pool3d" in OPS
True

Each op name (``max_pool2d``, ``global_avg_pool1d``, ``zero_pad3d``, ``conv1d`` ...) has one
:class:`OpSpec`: its family and spatial rank, the ``pooling_ref`` function that is the
reference, how results are compared (``"bitwise"`` or ``"bound"``, the error bound of
:mod:`pooling_ref.tolerance`), which arrays are passed positionally and which by keyword,
the scalar parameter names and those a candidate may restrict with ``supports=``.

A candidate is called exactly like the reference::

    candidate(*positional_arrays, **keyword_arrays, **params)

so ``candidate(x, **params)`` for pooling and zero padding, ``candidate(x, kernel=...,
bias=..., **params)`` for convolution and, for gradient ops registered with
``positional=("x", "grad_out")`` or ``("x", "kernel", "grad_out")``,
``candidate(x, grad_out, **params)`` / ``candidate(x, kernel, grad_out, **params)``.
Gradient ops are added with :func:`register` (``outputs=3`` for a conv gradient, which
returns ``(grad_x, grad_kernel, grad_bias)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from . import methods, tolerance
from .conv import conv
from .gradients import avg_pool_grad, conv_grad, max_pool_grad
from .padding import zero_pad
from .pooling import avg_pool, global_avg_pool, global_max_pool, max_pool

__all__ = ["OPS", "OpSpec", "families", "forward_of", "is_gradient", "register", "spec"]

#: ``bound(arrays, params) -> ndarray`` — the elementwise error bound of one call.
BoundFn = Callable[[dict, dict], np.ndarray]


@dataclass(frozen=True)
class OpSpec:
    """Everything the oracle needs to know about one op (see the module docstring)."""

    name: str
    family: str
    rank: int
    reference: Callable
    mode: str                                   # candidate vs reference: bitwise | bound
    keras_mode: str                             # reference vs Keras (``verify``)
    params: tuple[str, ...]                     # scalar keyword parameters
    supportable: tuple[str, ...]                # keys accepted by ``supports=``
    positional: tuple[str, ...] = ("x",)        # arrays passed positionally, in order
    keyword_arrays: tuple[str, ...] = ()        # arrays passed by keyword
    int_dtypes: bool = False                    # accepts integer inputs
    nan_rule: bool = False                      # reference takes ``nan="tf"|"propagate"``
    tf_kernel: bool = False                     # reference takes ``tf_kernel=``
    methods: bool = True                        # reference takes ``method=``
    outputs: int = 1                            # results returned (3 for a conv gradient)
    bound: BoundFn | None = None                # error bound in "bound" mode
    output_names: tuple[str, ...] = ("result",)  # names of the results, in order
    method_names: tuple[str, ...] = ()          # methods= it has kernels for (methods.names)

    @property
    def arrays(self) -> tuple[str, ...]:
        """Every array argument, positional ones first."""
        return self.positional + self.keyword_arrays

    def split(self, arrays: dict, params: dict) -> tuple[list, dict]:
        """``(args, kwargs)`` for a call: positional arrays, then keyword arrays + params."""
        args = [arrays[k] for k in self.positional]
        kwargs = {k: arrays[k] for k in self.keyword_arrays if arrays.get(k) is not None}
        kwargs.update(params)
        return args, kwargs

    def run_reference(self, arrays: dict, params: dict, *, nan: str = "tf",
                      tf_kernel: str | None = None, method: str | None = None):
        """The reference result (``nan`` / ``tf_kernel`` passed only where they apply)."""
        args, kwargs = self.split(arrays, params)
        if self.nan_rule and nan != "tf":
            kwargs["nan"] = nan
        if self.tf_kernel:                    # None: the specification, no path's rules
            kwargs["tf_kernel"] = tf_kernel
        if method is not None and self.methods:
            kwargs["method"] = method
        return self.reference(*args, **kwargs)

    def error_bound(self, arrays: dict, params: dict) -> np.ndarray | None:
        """``None`` in bitwise mode, else the elementwise bound of :mod:`tolerance`."""
        return None if self.bound is None else self.bound(arrays, params)


_REGISTRY: dict[str, OpSpec] = {}


def register(op: OpSpec) -> OpSpec:
    """Add ``op`` to the registry (``OPS`` is rebuilt); returns it. An op whose family has a
    row in the method table (:mod:`pooling_ref.methods`) and no ``method_names`` of its own
    gets that row's methods."""
    global OPS
    if not op.method_names and op.family in methods.TABLE:
        op = replace(op, method_names=methods.names(op.family))
    _REGISTRY[op.name] = op
    OPS = tuple(_REGISTRY)
    return op


def spec(op: object) -> OpSpec:
    """The :class:`OpSpec` of ``op``; ``ValueError`` listing the valid names otherwise.

    >>> spec("max_pool4d")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: op must be one of max_pool1d, max_pool2d, ...; got 'max_pool4d'
    """
    if not isinstance(op, str) or op not in _REGISTRY:
        raise ValueError(f"op must be one of {', '.join(OPS)}; got {op!r}")
    return _REGISTRY[op]


def families() -> tuple[str, ...]:
    """Family names in registry order (``"max_pool"``, ..., ``"conv"``)."""
    return tuple(dict.fromkeys(s.family for s in _REGISTRY.values()))


# ----------------------------------------------------------------------------- the ops

_WINDOW = ("pool_size", "strides", "padding", "data_format")
_CONV = ("strides", "padding", "data_format", "dilation_rate", "groups")
_GLOBAL = ("data_format", "keepdims")
#: ``supports=`` keys of every op that restrict sizes, not parameters (conv adds filters).
_SIZES = ("batch", "channels", "spatial")

OPS: tuple[str, ...] = ()
for _r in (1, 2, 3):
    register(OpSpec(f"max_pool{_r}d", "max_pool", _r, max_pool, "bitwise", "bitwise",
                    _WINDOW, (*_WINDOW, *_SIZES), int_dtypes=True, nan_rule=True,
                    tf_kernel=True))
for _r in (1, 2, 3):
    register(OpSpec(f"avg_pool{_r}d", "avg_pool", _r, avg_pool, "bound", "bitwise",
                    _WINDOW, (*_WINDOW, *_SIZES), tf_kernel=True,
                    bound=lambda a, p: tolerance.avg_pool_bound(a["x"], **p)))
for _r in (1, 2, 3):
    register(OpSpec(f"global_max_pool{_r}d", "global_max_pool", _r, global_max_pool,
                    "bitwise", "bitwise", _GLOBAL, (*_GLOBAL, *_SIZES), int_dtypes=True,
                    tf_kernel=True, methods=False))
for _r in (1, 2, 3):
    register(OpSpec(f"global_avg_pool{_r}d", "global_avg_pool", _r, global_avg_pool,
                    "bound", "bound", _GLOBAL, (*_GLOBAL, *_SIZES), int_dtypes=True,
                    tf_kernel=True,
                    methods=False,
                    bound=lambda a, p: tolerance.global_avg_pool_bound(a["x"], **p)))
for _r in (1, 2, 3):
    register(OpSpec(f"zero_pad{_r}d", "zero_pad", _r, zero_pad, "bitwise", "bitwise",
                    ("padding", "data_format"), ("padding", "data_format", *_SIZES),
                    int_dtypes=True))
for _r in (1, 2, 3):
    register(OpSpec(f"conv{_r}d", "conv", _r, conv, "bound", "bound", _CONV,
                    (*_CONV, "kernel_size", "bias", *_SIZES, "filters"),
                    keyword_arrays=("kernel", "bias"),
                    bound=lambda a, p: tolerance.conv_bound(a["x"], a["kernel"],
                                                            a.get("bias"), **p)))
del _r


# ----------------------------------------------------------------------------- gradient ops
# Backward passes (README, "Gradients"): ``max_pool{r}d_grad`` and
# ``avg_pool{r}d_grad`` take ``candidate(x, grad_out, **params)`` and return grad_x;
# ``conv{r}d_grad`` takes ``candidate(x, kernel, grad_out, **params)`` and returns
# ``(grad_x, grad_kernel, grad_bias)``. Family ``<forward family>_grad``: the case generator
# draws the forward op's case and a ``grad_out`` shaped like its result. Max pooling
# gradients are compared bit for bit (the tie rule of ``tf_kernel`` for the rank:
# ``gradients.max_pool_grad``; pooling gradients take ``tf_kernel`` like the forward ops);
# average pooling and convolution gradients within the bounds derived in tolerance.py.

GRAD_SUFFIX = "_grad"


def is_gradient(op: OpSpec) -> bool:
    """Whether ``op`` is a backward pass (its family ends in ``_grad``)."""
    return op.family.endswith(GRAD_SUFFIX)


def forward_of(op: OpSpec) -> OpSpec:
    """The forward op of a gradient op (``max_pool2d_grad`` -> ``max_pool2d``)."""
    return spec(op.name.removesuffix(GRAD_SUFFIX))


def _register_gradients() -> None:
    pool_arrays = ("x", "grad_out")
    for r in (1, 2, 3):
        register(OpSpec(f"max_pool{r}d_grad", "max_pool_grad", r, max_pool_grad, "bitwise",
                        "bitwise", _WINDOW, (*_WINDOW, *_SIZES), positional=pool_arrays,
                        output_names=("grad_x",), tf_kernel=True))
    for r in (1, 2, 3):
        register(OpSpec(f"avg_pool{r}d_grad", "avg_pool_grad", r, avg_pool_grad, "bound",
                        "bound", _WINDOW, (*_WINDOW, *_SIZES), positional=pool_arrays,
                        output_names=("grad_x",), tf_kernel=True,
                        bound=lambda a, p: tolerance.avg_pool_grad_bound(
                            a["x"], a["grad_out"], **p)))
    for r in (1, 2, 3):
        register(OpSpec(f"conv{r}d_grad", "conv_grad", r, conv_grad, "bound", "bound",
                        _CONV, (*_CONV, "kernel_size", *_SIZES, "filters"),
                        positional=("x", "kernel", "grad_out"),
                        outputs=3, output_names=("grad_x", "grad_kernel", "grad_bias"),
                        bound=lambda a, p: tolerance.conv_grad_bounds(
                            a["x"], a["kernel"], a["grad_out"], **p)))


_register_gradients()
