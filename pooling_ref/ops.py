"""The op table: one :class:`OpSpec` entry per op, and :func:`register`, which makes an op
visible everywhere (``check``, ``compare_result``, the case generator, the Hypothesis
strategies, ``pooling-ref check`` / ``verify --ops``, :data:`pooling_ref.OPS`).

>>> spec("conv2d").family, spec("conv2d").rank, spec("conv2d").mode
('conv', 2, 'bound')
>>> spec("max_pool1d").positional, spec("conv1d").keyword_arrays
(('x',), ('kernel', 'bias'))
>>> "global_avg_pool3d" in all_ops(), forward_of(spec("conv2d_grad")).name
(True, 'conv2d')

An entry carries everything op-specific, in the style of PyTorch's OpInfo: the reference
function and how it is called, how results are compared (``"bitwise"`` or ``"bound"``, the
error bound of :mod:`pooling_ref.tolerance`), its methods, the ``supports=`` keys and
``dtypes``; how its cases are drawn (``draw``, ``corners``, ``normalize``, ``fill``),
shrunk (``moves``) and explained (``context``, ``window_of``, ``rules``, ``hints``); how
``pooling-ref verify`` runs it in Keras (``keras``, ``keras_xla``, ``keras_mode``,
``keras_mode_xla``) and, for a gradient, its forward op (``forward``). The behaviours
are small callables defined next to the mechanism that calls them; families share them.
The built-in entries are :mod:`pooling_ref.optable`. Adding an op is one :func:`register` call (see
``parity_tests/test_optable.py``, which adds a min pooling from the test module alone).

A candidate is called exactly like the reference::

    candidate(*positional_arrays, **keyword_arrays, **params)

so ``candidate(x, **params)`` for pooling and zero padding, ``candidate(x, kernel=...,
bias=..., **params)`` for convolution, ``candidate(x, grad_out, **params)`` /
``candidate(x, kernel, grad_out, **params)`` for the gradient ops (``outputs=3`` for a
convolution gradient, which returns ``(grad_x, grad_kernel, grad_bias)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from . import methods

__all__ = ["OPS", "OpSpec", "all_ops", "dtype_aliases", "families",  # noqa: F822 (OPS:
           "forward_of", "is_gradient", "register", "register_dtype_alias",  # module
           "resolve", "spec"]                                           # __getattr__)

#: ``bound(arrays, params) -> ndarray`` — the elementwise error bound of one call.
BoundFn = Callable[[dict, dict], np.ndarray]


@dataclass(frozen=True)
class OpSpec:
    """One op: everything ``check``, ``verify``, the CLI and the case generator know of it
    (see the module docstring). The behaviour fields default to "none": an op without
    ``draw`` cannot be drawn, one without ``keras`` is not run by ``verify``."""

    name: str
    family: str                                 # a label: --ops FAMILY, the method table
    rank: int
    reference: Callable
    mode: str                                   # candidate vs reference: bitwise | bound
    keras_mode: str                             # reference vs Keras (``verify``)
    params: tuple[str, ...]                     # scalar keyword parameters
    supportable: tuple[str, ...]                # keys accepted by ``supports=``
    positional: tuple[str, ...] = ("x",)        # arrays passed positionally, in order
    keyword_arrays: tuple[str, ...] = ()        # arrays passed by keyword
    channels_first: bool = False                # arrays always (N, C, *spatial): torch, ONNX
    int_dtypes: bool = False                    # accepts integer inputs
    dtypes: tuple[str, ...] = ()                # the only dtypes it takes, the first the
    #                                             default (empty: floats, ints if int_dtypes)
    nan_rule: bool = False                      # reference takes ``nan="tf"|"propagate"``
    tf_kernel: bool = False                     # reference takes ``tf_kernel=``
    methods: bool = True                        # reference takes ``method=``
    outputs: int = 1                            # results returned (3 for a conv gradient)
    bound: BoundFn | None = None                # error bound in "bound" mode
    output_names: tuple[str, ...] = ("result",)  # names of the results, in order
    method_names: tuple[str, ...] = ()          # methods= it has kernels for (methods.names)
    compiled: bool = False                      # has a Numba kernel (methods.TABLE)
    forward: str | None = None                  # a gradient op: the name of its forward op
    # -- case drawing (pooling_ref.cases): sizes and parameters, special-value corners
    draw: Callable | None = None                # _params drawer -> Draft (or None: again)
    corners: Any = None                         # _special.Corners: which, into which array
    normalize: dict = field(default_factory=dict)   # param -> (value, rank) -> normal form
    fill: Callable | None = None                # (src, case, corner) -> None: the values of
    #                                             the op's own corners (Corners.own), in place
    # -- the oracle: shrinking and the report (pooling_ref.oracle, pooling_ref.explain)
    moves: tuple[Callable, ...] = ()            # shrink moves, most drastic first
    context: Callable | None = None             # (case) -> report lines on its geometry
    window_of: Callable | None = None           # (case, out index) -> input cells behind it
    geometry: Callable | None = None            # (case) -> WindowGeometry, where the window
    #                                             parameters are not Keras's (torch, ONNX)
    rules: tuple[str, str] | None = None        # rule table ("forward"|"grad", op key)
    hints: tuple[Callable, ...] = ()            # explain: the hints that apply, in order
    #                                             (got: a tuple for a multi-output op)
    shape_hints: tuple[Callable, ...] = ()      # hints for a result of the wrong shape
    unspecified: Callable | None = None         # (result, expected, path): cells no TF
    #                                             path specifies, taken from result
    # -- pooling-ref verify: the Keras runner, called like the candidate
    keras: Callable | None = None               # keras(*arrays, **params[, path="xla"])
    keras_xla: bool = False                     # --tf-kernel xla compiles it with XLA
    keras_mode_xla: str | None = None           # comparison under XLA (None: keras_mode)

    @property
    def default_dtype(self) -> str:
        """The dtype ``check`` draws when none is given: the first of ``dtypes``, else
        float32."""
        return self.dtypes[0] if self.dtypes else "float32"

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
    """Add (or replace) ``op`` in the table; returns the entry as stored. An op whose
    family has a row in the method table (:mod:`pooling_ref.methods`) and no
    ``method_names`` of its own gets that row's methods.

    Every reader looks the table up when it runs (:data:`OPS` too), so the op is at once
    valid for ``check``, ``verify --ops``, ``strategies.cases`` and the CLI."""
    if not isinstance(op, OpSpec):
        raise TypeError(f"register: op must be an OpSpec, got {op!r}")
    if op.mode not in ("bitwise", "bound") or (op.mode == "bound" and op.bound is None):
        raise ValueError(f"register: {op.name}: mode must be 'bitwise', or 'bound' with a "
                         f"bound; got mode={op.mode!r}, bound={op.bound!r}")
    row = methods.TABLE.get(op.family, {})
    if not op.method_names and row:
        op = replace(op, method_names=methods.names(op.family))
    if "compiled" in row and not op.compiled:
        op = replace(op, compiled=True)
    _REGISTRY[op.name] = op
    return op


def all_ops() -> tuple[str, ...]:
    """Every registered op name, in registration order (what :data:`OPS` reads)."""
    return tuple(_REGISTRY)


def __getattr__(name: str):
    if name == "OPS":                  # read when asked: an op registered later is in it
        return all_ops()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def spec(op: object) -> OpSpec:
    """The :class:`OpSpec` of ``op`` (of a dtype alias: its default dtype's op, see
    :func:`resolve`); ``ValueError`` listing the valid names otherwise.

    >>> spec("max_pool4d")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: op must be one of max_pool1d, max_pool2d, ...; got 'max_pool4d'
    """
    op = resolve(op)
    if not isinstance(op, str) or op not in _REGISTRY:
        raise ValueError(f"op must be one of {', '.join([*_REGISTRY, *_BY_DTYPE])}; "
                         f"got {op!r}")
    return _REGISTRY[op]


#: Names that stand for one registered op per dtype (``"litert.average_pool_2d_q"``):
#: alias -> {dtype name: op}, the first dtype the default.
_BY_DTYPE: dict[str, dict[str, str]] = {}


def register_dtype_alias(alias: str, ops_by_dtype: dict[str, str]) -> None:
    """Make ``alias`` name the op ``ops_by_dtype[dtype]`` for each dtype (:func:`resolve`);
    every op must be registered already."""
    for op in ops_by_dtype.values():
        spec(op)
    if not ops_by_dtype or alias in _REGISTRY:
        raise ValueError(f"register_dtype_alias: {alias!r} needs ops and a free name")
    _BY_DTYPE[alias] = dict(ops_by_dtype)


def dtype_aliases() -> dict[str, tuple[str, ...]]:
    """Each dtype alias and the dtypes it takes, the default first."""
    return {alias: tuple(ops) for alias, ops in _BY_DTYPE.items()}


def resolve(op: object, dtype: object = None) -> object:
    """The registered op that ``op`` names in ``dtype``: ``op`` itself, or for a dtype
    alias the op of that dtype (``None``: the alias's default dtype); ``ValueError``
    naming the dtypes of the alias for any other dtype.

    >>> import pooling_ref
    >>> resolve("litert.average_pool_2d_q", "uint8"), resolve("litert.max_pool_2d_q")
    ('litert.average_pool_2d_uint8', 'litert.max_pool_2d_int8')
    >>> resolve("max_pool2d", "int32")
    'max_pool2d'
    """
    if not isinstance(op, str) or op not in _BY_DTYPE:
        return op
    variants = _BY_DTYPE[op]
    if dtype is None:
        return next(iter(variants.values()))
    try:
        name = np.dtype(dtype).name  # type: ignore[arg-type]
    except TypeError:
        name = repr(dtype)
    if name not in variants:
        raise ValueError(f"dtype must be one of {', '.join(variants)} for {op}; "
                         f"got {dtype!r}")
    return variants[name]


def families() -> tuple[str, ...]:
    """Family names in registry order (``"max_pool"``, ..., ``"conv"``)."""
    return tuple(dict.fromkeys(s.family for s in _REGISTRY.values()))


def is_gradient(op: OpSpec) -> bool:
    """Whether ``op`` is a backward pass (its entry names a forward op)."""
    return op.forward is not None


def forward_of(op: OpSpec) -> OpSpec:
    """The forward op of a gradient op (``max_pool2d_grad`` -> ``max_pool2d``)."""
    if op.forward is None:
        raise ValueError(f"{op.name} is not a gradient op (its entry has no forward op)")
    return spec(op.forward)
