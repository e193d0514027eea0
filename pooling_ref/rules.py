"""The rules of each TensorFlow CPU kernel path, as data, and the plans compiled from them.

>>> import numpy as np
>>> from pooling_ref.geometry import plan_window
>>> g = plan_window((4,), (2,), (2,), "valid")
>>> plan = plan_pool("xla", "max", np.dtype(np.float32), g)
>>> plan.empty, plan.flush, sorted(plan.active())
('-inf', 'full', ['empty', 'flush'])

TensorFlow runs a pooling call through one of three CPU paths, and they disagree on special
values (measured with TF 2.21.0, see ``pooling_ref/data/known_differences.json``):

* ``"onednn"``: eager on x86 with oneDNN (the default on AVX-512 machines, or with
  ``TF_ENABLE_ONEDNN_OPTS=1``). oneDNN has bfloat16 kernels only on AVX-512 CPUs; elsewhere
  TF runs the Eigen bfloat16 kernels even with oneDNN on
  (:func:`pooling_ref.keras_ref.detect_tf_kernel` with a ``dtype`` says which).
* ``"eigen"``: eager with ``TF_ENABLE_ONEDNN_OPTS=0`` (the default of ARM / Apple Silicon
  and of x86 CPUs without AVX-512).
* ``"xla"``: inside ``tf.function(jit_compile=True)``.

The rules are a small table (:data:`RULES`, :data:`GRAD_RULES`). A call compiles the row
it needs once into a *plan* (:func:`plan_pool`, :func:`plan_grad`, :func:`plan_global`):
each rule field becomes one plan field, resolved against the dtype and the geometry (a
rule that needs the shape, such as XLA's choice of division, is decided here and nowhere
else). Compiling fails loudly on a rule field the plan does not know, and every kernel
declares which plan fields it carries out itself (:mod:`pooling_ref.apply_rules` applies
the others around it), so no rule can be skipped silently.

What a path does that is not a clean rule (Eigen's 3D max pooling picks NaN and the sign
of a zero maximum by SIMD packet) is not modelled: it is an entry of the known-differences
registry.

Global pooling (Keras: ``reduce_max`` / ``reduce_mean``) has rows of :data:`RULES` too
(``"global_max"``, ``"global_avg"``; measured with ``tools/measure_global_paths.py``).
Gradients follow :data:`GRAD_RULES`: the tie rule, the order in which a cell adds
overlapping windows, subnormal flushing (one function, :func:`pooling_ref.dtypes.flushed_add`,
for every method), whether a window adds ``+0`` to the cells it does not choose (which
decides the sign of a flushed sum), and XLA's copies and broadcasts. The two eager paths
have the same gradient rules (their 3D forwards differ on NaN: the gradient follows the
path's own forward, registry ``eigen-max-pool3d-nan-by-packet``); XLA's differ
(docs/gradients.md, "Kernel paths").
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields, replace
from typing import ClassVar

import numpy as np

from .dtypes import is_float_dtype
from .geometry import WindowGeometry, cover_counts

__all__ = ["GRAD_RULES", "IEEE", "PATHS", "RULES", "GlobalPlan", "GradPlan", "GradRules",
           "PoolPlan", "Rules", "check_tf_kernel", "compile_grad_plan", "compile_pool_plan",
           "grad_rules", "plan_global", "plan_grad", "plan_pool", "rules"]

#: Every valid ``tf_kernel``.
PATHS = ("onednn", "eigen", "xla")


@dataclass(frozen=True)
class Rules:
    """One path's rules for one (op, dtype, rank).

    * ``flush``: ``"none"`` (IEEE subnormals), ``"full"`` (subnormal inputs read as zeros of
      the same sign, subnormal results written as zeros) or ``"compare"`` (max only: compared
      as zeros, but the chosen cell's bits are copied: ``[0, s] -> 0``, ``[s, 3s] -> s``);
    * ``empty``: max pooling of a window with no number (only NaN / -inf): ``"lowest"``
      (the lowest finite value) or ``"-inf"``;
    * ``accumulate``: average pooling sums the window in ``"input"`` (the input dtype, each
      addition rounded, then divided in it) or in ``"float32"`` (rounded once at the end);
    * ``skip_lowest``: average pooling leaves out cells equal to the lowest finite value
      from both the sum and the count (Eigen's 3D mean reducer marks padding that way), so a
      window of only such cells gives NaN;
    * ``divide``: average pooling divides the sum by the count (``"divide"``) or multiplies
      it by the rounded reciprocal of the count (``"reciprocal"``: up to 1 ULP off), or
      ``"xla"``: the reciprocal, except for padded ("same") 1D pooling, which divides
      (measured: 0 of 40..480 outputs differ from that rule, 12..104 from the other; XLA
      picks by shape, and some shapes fit neither: registry ``xla-avg-pool-division``);
    * ``copy_single``: pooling with one-cell windows and strides 1 is a copy of the input
      (XLA elides that reduction: NaN, -0 and subnormals come through unchanged); global
      pooling: a reduction over one cell is a copy on every path;
    * ``nan`` (global max pooling only): ``"propagate"`` (eager ``reduce_max``) or
      ``"ignore"`` (XLA: NaN ignored, a channel of only NaN gives ``empty``).
    """

    flush: str = "full"
    empty: str = "lowest"
    accumulate: str = "input"
    skip_lowest: bool = False
    divide: str = "divide"
    copy_single: bool = False
    nan: str = "ignore"


#: The rules without any flushing: integers (no special values), float16 (TF's kernels
#: keep its subnormals) and the dtypes a path has no kernel for (never compared).
IEEE = Rules(flush="none")
#: ``(path, op, spatial rank class) -> {dtype name: Rules}``; rank class ``"3d"`` or ``"nd"``
#: (1D and 2D: Keras runs 1D pooling as 2D). Dtypes not listed (integers; float16/float64
#: 3D, which TF has no kernel for) use ``Rules(flush="none")``: integers have no special
#: values, and the rest are never compared. The measured evidence of each rule is in the
#: registry (``pooling_ref/data/known_differences.json``).
RULES: dict[tuple[str, str, str], dict[str, Rules]] = {
    ("onednn", "max", "nd"): {"float16": IEEE, "float32": Rules(flush="compare"),
                              "float64": Rules(), "bfloat16": Rules(empty="-inf")},
    ("onednn", "max", "3d"): {"float32": Rules(flush="compare"),
                              "bfloat16": Rules(empty="-inf")},
    ("onednn", "avg", "nd"): {"float16": IEEE, "float32": Rules(), "float64": Rules(),
                              "bfloat16": Rules(accumulate="float32")},
    ("onednn", "avg", "3d"): {"float32": Rules(), "bfloat16": Rules(accumulate="float32")},
    ("eigen", "max", "nd"): {"float16": IEEE, "float32": Rules(), "float64": Rules(),
                             "bfloat16": Rules(flush="compare")},
    ("eigen", "max", "3d"): {"float32": Rules(empty="-inf"),
                             "bfloat16": Rules(flush="compare", empty="-inf")},
    ("eigen", "avg", "nd"): {"float16": IEEE, "float32": Rules(), "float64": Rules(),
                             "bfloat16": Rules()},
    ("eigen", "avg", "3d"): {"float32": Rules(skip_lowest=True),
                             "bfloat16": Rules(skip_lowest=True)},
    ("xla", "max", "nd"): {"float16": Rules(flush="none", empty="-inf", copy_single=True),
                           "float32": Rules(empty="-inf", copy_single=True),
                           "float64": Rules(empty="-inf", copy_single=True),
                           "bfloat16": Rules(empty="-inf")},
    ("xla", "avg", "nd"): {
        "float16": Rules(flush="none", accumulate="float32", divide="xla", copy_single=True),
        "float32": Rules(divide="xla", copy_single=True),
        "float64": Rules(divide="xla", copy_single=True),
        "bfloat16": Rules(accumulate="float32", divide="xla", copy_single=True)},
}
RULES[("xla", "max", "3d")] = RULES[("xla", "max", "nd")]
RULES[("xla", "avg", "3d")] = RULES[("xla", "avg", "nd")]
# Global average pooling (Keras: reduce_mean; every rank, every path alike, measured on both
# eager paths and XLA): a reduction over one cell is a copy; otherwise subnormal inputs
# are read as zeros, the sum starts from +0 (an all -0 input gives +0) and a subnormal
# mean is written as zero. float16 is summed in float32, where its values are normal.
for _path in PATHS:
    RULES[(_path, "global_avg", "nd")] = RULES[(_path, "global_avg", "3d")] = {
        "float16": Rules(flush="none", accumulate="float32", copy_single=True),
        "float32": Rules(copy_single=True), "float64": Rules(copy_single=True),
        "bfloat16": Rules(accumulate="float32", copy_single=True)}
    # Global max pooling (reduce_max): read with subnormals as zeros (the eager paths keep
    # some subnormals by SIMD packet, and no path fixes the sign of a zero maximum: registry
    # global-max-zero-sign-and-subnormal-tail, see unspecified_global_max); NaN propagates
    # eagerly and is ignored under XLA, where a channel of only NaN gives -inf.
    nan = "ignore" if _path == "xla" else "propagate"
    RULES[(_path, "global_max", "nd")] = RULES[(_path, "global_max", "3d")] = {
        "float16": Rules(flush="none", empty="-inf", copy_single=True, nan=nan),
        "float32": Rules(empty="-inf", copy_single=True, nan=nan),
        "float64": Rules(empty="-inf", copy_single=True, nan=nan),
        "bfloat16": Rules(empty="-inf", copy_single=True, nan=nan)}
del _path, nan


@dataclass(frozen=True)
class GradRules:
    """One path's rules for the gradient of max / average pooling (one rank class, dtype).

    * ``ties`` (max only): which cells of a window receive its gradient — ``"first"`` (the
      scan starts at the first real cell and moves on only to a strictly greater one),
      ``"tf3d"`` (every cell with ``|x - max| < 1e-5``) or ``"xla"`` (the scan moves on
      unless ``current >= next``: ties keep the first, a NaN attracts and loses it);
    * ``order``: the order in which a cell adds what overlapping windows send it:
      ``"row-major"`` output order, or ``"last-axis-outer"`` (TF's MaxPool3DGrad);
    * ``flush``: subnormal ``x`` compared as zeros, and every addition to a cell reads a
      subnormal term as a zero of its sign and writes a subnormal sum as a zero of its sign
      (:func:`pooling_ref.dtypes.flushed_add`; the first term is added to ``+0`` too);
    * ``unchosen`` (max only): what a window adds to its real cells that it does not choose —
      ``"nothing"`` (TF's MaxPoolGrad and XLA's select-and-scatter add to the chosen cells
      only) or ``"+0"`` (TF's MaxPool3DGrad adds ``select(chosen, grad, 0)`` over the whole
      window). It shows only under ``flush``: a flushed partial sum can be ``-0``, and a
      later ``+0`` makes it ``+0`` (:meth:`GradPlan.unchosen_zero`);
    * ``copy``: XLA adds nothing where its graph simplifies to a copy or a broadcast (max: a
      single ``grad_out`` element; average: every window with one real cell and no cell in
      two windows, or every spatial axis either untouched — window 1, stride 1 — or one
      window over the whole axis: :func:`_xla_copies`): each cell is the one value it
      receives — ``grad_out`` unflushed, or a share ``grad_out / count`` (count > 1) flushed
      with its sign — with ``-0`` kept (``+0`` where it receives none).
    """

    ties: str = "first"
    order: str = "row-major"
    flush: bool = True
    unchosen: str = "nothing"
    copy: bool = False


_EAGER_3D = GradRules(ties="tf3d", order="last-axis-outer", unchosen="+0")
#: ``(path, op, rank class) -> {dtype name: GradRules}`` for ``max_pool_grad`` /
#: ``avg_pool_grad`` (measured, TF 2.21 CPU: ``tools/measure_gradient_paths.py``,
#: docs/gradients.md "Kernel paths"). Dtypes not listed use the float32 rules, except that
#: float16 never flushes (on any path). ``None`` (the specification): TF's eager ties and
#: order, IEEE subnormals.
GRAD_RULES: dict[tuple[str | None, str, str], dict[str, GradRules]] = {
    (None, "max", "nd"): {"float32": GradRules(flush=False)},
    (None, "max", "3d"): {"float32": replace(_EAGER_3D, flush=False)},
    ("onednn", "max", "nd"): {"float32": GradRules()},
    ("onednn", "max", "3d"): {"float32": _EAGER_3D},
    ("xla", "max", "nd"): {"float32": GradRules(ties="xla", copy=True),
                           "bfloat16": GradRules(ties="xla")},
    ("onednn", "avg", "nd"): {"float32": GradRules()},
    ("xla", "avg", "nd"): {"float32": GradRules(copy=True)},
}
GRAD_RULES[(None, "avg", "nd")] = GRAD_RULES[(None, "max", "nd")]
GRAD_RULES[(None, "avg", "3d")] = GRAD_RULES[(None, "max", "3d")]
GRAD_RULES[("eigen", "max", "nd")] = GRAD_RULES[("onednn", "max", "nd")]
GRAD_RULES[("eigen", "max", "3d")] = GRAD_RULES[("onednn", "max", "3d")]
GRAD_RULES[("xla", "max", "3d")] = GRAD_RULES[("xla", "max", "nd")]
GRAD_RULES[("onednn", "avg", "3d")] = {"float32": _EAGER_3D}
GRAD_RULES[("eigen", "avg", "nd")] = GRAD_RULES[("onednn", "avg", "nd")]
GRAD_RULES[("eigen", "avg", "3d")] = GRAD_RULES[("onednn", "avg", "3d")]
GRAD_RULES[("xla", "avg", "3d")] = GRAD_RULES[("xla", "avg", "nd")]


def check_tf_kernel(tf_kernel: object, op: str) -> str | None:
    """``tf_kernel`` itself if valid, else ``ValueError`` naming it and the valid values.

    ``None`` is valid too: the specification without any path's rules (IEEE subnormals,
    the lowest finite value for a window without a number, averages divided by the count):
    what :func:`pooling_ref.check` compares against unless it is given a path.
    """
    if tf_kernel is None:
        return None
    if not isinstance(tf_kernel, str) or tf_kernel not in PATHS:
        raise ValueError(f"{op}: tf_kernel must be None or one of {', '.join(map(repr, PATHS))}, "
                         f"got {tf_kernel!r}")
    return tf_kernel


def rules(tf_kernel: str, op: str, dtype: np.dtype, rank: int) -> Rules:
    """The :class:`Rules` of ``op`` (``"max"`` or ``"avg"``) on path ``tf_kernel``.

    >>> rules("eigen", "max", np.dtype(np.float32), 3).empty
    '-inf'
    """
    table = RULES[(tf_kernel, op, "3d" if rank == 3 else "nd")]
    return table.get(np.dtype(dtype).name, IEEE)


def grad_rules(tf_kernel: str | None, op: str, dtype: np.dtype, rank: int) -> GradRules:
    """The :class:`GradRules` of ``op``'s gradient (``"max"`` / ``"avg"``) on ``tf_kernel``
    (``None``: the specification).

    >>> grad_rules("xla", "max", np.dtype(np.float32), 3).ties
    'xla'
    >>> grad_rules("eigen", "max", np.dtype(np.float16), 2).flush
    False
    """
    table = GRAD_RULES[(tf_kernel, op, "3d" if rank == 3 else "nd")]
    name = np.dtype(dtype).name
    r = table.get(name, table["float32"])
    return replace(r, flush=False) if name == "float16" else r


# ----------------------------------------------------------------------------- plans


class _Plan:
    """What every plan shares: which of its fields hold a rule (``active``)."""

    #: ``{plan field: value that applies no rule}``; set by each plan class.
    NEUTRAL: ClassVar[dict] = {}

    @functools.cached_property
    def _active(self) -> frozenset[str]:
        return frozenset(name for name, neutral in self.NEUTRAL.items()
                         if getattr(self, name) != neutral)

    def active(self) -> frozenset[str]:
        """The plan fields that hold a rule (differ from the specification's value)."""
        return self._active


@dataclass(frozen=True)
class PoolPlan(_Plan):
    """A :class:`Rules` row resolved for one pooling call (``op`` ``"max"`` / ``"avg"``,
    ``dtype``, geometry). The fields apply these rule fields:

    * ``flush``: ``Rules.flush`` (``"none"`` for integers);
    * ``empty``: ``Rules.empty`` (max only);
    * ``acc_dtype``: ``Rules.accumulate`` — the dtype the window is summed in (average;
      the specification sums bfloat16 in float32);
    * ``reciprocal``: ``Rules.divide`` — whether the sum is multiplied by the rounded
      reciprocal of the count (XLA's choice by shape decided here);
    * ``skip_lowest``: ``Rules.skip_lowest``;
    * ``copy``: ``Rules.copy_single`` — this call is a copy of the input (one-cell windows,
      strides 1, no padding: explicit pads add windows without a cell, which are not).
    """

    op: str
    dtype: np.dtype
    flush: str = "none"
    empty: str = "lowest"
    acc_dtype: np.dtype | None = None
    reciprocal: bool = False
    skip_lowest: bool = False
    copy: bool = False

    NEUTRAL: ClassVar[dict] = {"flush": "none", "empty": "lowest", "acc_dtype": None,
                               "reciprocal": False, "skip_lowest": False, "copy": False}


@dataclass(frozen=True)
class GradPlan(_Plan):
    """A :class:`GradRules` row resolved for one pooling gradient call: ``ties``
    (``GradRules.ties``, or the caller's ``ties=``), ``order``, ``flush`` (``False`` for
    integers and float16), ``copy`` (``GradRules.copy`` where XLA's graph is a copy or a
    broadcast for this geometry: :func:`_xla_copies`) and ``unchosen`` (max pooling under
    ``flush``: ``GradRules.unchosen``; ``"+0"`` under ``copy``, where a cell that receives
    nothing keeps its ``+0``; otherwise ``"nothing"``, which is what adding ``+0`` does to
    a sum that is never ``-0``)."""

    op: str
    dtype: np.dtype
    ties: str = "first"
    order: str = "row-major"
    flush: bool = False
    unchosen: str = "nothing"
    copy: bool = False

    NEUTRAL: ClassVar[dict] = {"order": "row-major", "flush": False, "unchosen": "nothing",
                               "copy": False}

    def unchosen_zero(self) -> np.generic:
        """What a max-pooling window adds to (under ``copy``: writes into) the real cells it
        does not choose, in the plan's dtype: ``-0`` for ``"nothing"`` (IEEE's additive
        identity: ``-0 + v`` is ``v`` for every ``v``, ``-0`` included) or ``+0`` (which
        turns a ``-0`` sum into ``+0``).

        >>> float(GradPlan("max", np.dtype(np.float32)).unchosen_zero())
        -0.0
        """
        return self.dtype.type(-0.0 if self.unchosen == "nothing" else 0.0)


@dataclass(frozen=True)
class GlobalPlan(_Plan):
    """A :class:`Rules` row resolved for global pooling (``op`` ``"global_max"`` /
    ``"global_avg"``) over ``cells`` cells: ``flush`` (subnormal inputs read as zeros;
    average: a subnormal mean written as zero, the sum started from ``+0``), ``ignore_nan``
    (``Rules.nan == "ignore"``: NaN read as -inf by the maximum) and ``plus_zero`` (the
    average's sum starts from ``+0``: every path's ``reduce_mean``, so an all ``-0`` input
    gives ``+0``). ``Rules.copy_single`` makes a one-cell reduction a copy: no rule applies
    then."""

    op: str
    dtype: np.dtype
    flush: str = "none"
    ignore_nan: bool = False
    plus_zero: bool = False

    NEUTRAL: ClassVar[dict] = {"flush": "none", "ignore_nan": False, "plus_zero": False}


def _unknown(rule_fields: set, known: dict, op: str, kind: str) -> None:
    missing = sorted(rule_fields - set(known))
    if missing:
        raise NotImplementedError(
            f"{kind} field(s) {missing} have no entry in the {op!r} plan: add them to the "
            f"plan (and every kernel's declaration) before they can be followed")


def _pool_fields(r: Rules, op: str, dtype: np.dtype, g: WindowGeometry) -> dict:
    """``{Rules field: {plan field: value}}`` for pooling (``{}``: not a rule of ``op``)."""
    acc = np.dtype(np.float32) if r.accumulate == "float32" and dtype.itemsize < 4 else None
    divide = r.divide == "reciprocal" or (r.divide == "xla" and not g.padded_1d)
    avg = op == "avg"
    return {
        "flush": {"flush": r.flush},
        "empty": {"empty": r.empty} if not avg else {},
        "accumulate": {"acc_dtype": acc} if avg else {},
        "divide": {"reciprocal": divide} if avg else {},
        "skip_lowest": {"skip_lowest": r.skip_lowest} if avg else {},
        "copy_single": {"copy": r.copy_single and g.cells == 1 and not g.padded
                        and all(s == 1 for s in g.strides)},
        "nan": {},                                  # global max pooling only
    }


@functools.lru_cache(maxsize=1024)
def compile_pool_plan(r: Rules | None, op: str, dtype: np.dtype,
                      g: WindowGeometry) -> PoolPlan:
    """The :class:`PoolPlan` of rules ``r`` (``None``: the specification) for ``op``
    (``"max"`` / ``"avg"``) on ``dtype`` with geometry ``g``; ``NotImplementedError`` for a
    field of ``r`` the plan has no entry for."""
    dtype = np.dtype(dtype)
    if r is None or not is_float_dtype(dtype):
        bf16_avg = op == "avg" and dtype.name == "bfloat16"
        return PoolPlan(op, dtype, acc_dtype=np.dtype(np.float32) if bf16_avg else None)
    known = _pool_fields(r, op, dtype, g)
    _unknown({f.name for f in fields(r)}, known, op, "Rules")
    if known["skip_lowest"].get("skip_lowest") and g.divisor != "real":
        raise NotImplementedError(
            f"{op}: divisor={g.divisor!r} under a path that leaves out the lowest finite "
            f"value (Eigen's 3D average, Rules.skip_lowest) is not modelled; use "
            f"tf_kernel=None or another path")
    values = {k: v for entry in known.values() for k, v in entry.items()}
    return PoolPlan(op, dtype, **values)


@functools.lru_cache(maxsize=1024)
def plan_pool(tf_kernel: str | None, op: str, dtype: np.dtype, g: WindowGeometry) -> PoolPlan:
    """The plan of pooling ``op`` on path ``tf_kernel`` (``None``: the specification),
    compiled once per call signature."""
    r = None if tf_kernel is None else rules(tf_kernel, op, np.dtype(dtype), g.rank)
    return compile_pool_plan(r, op, np.dtype(dtype), g)


def _xla_copies(op: str, g: WindowGeometry, outputs: int) -> bool:
    """Where XLA's gradient graph is a copy or a broadcast (measured, XLA CPU): max, a
    single output element (one window, batch and channel 1; two or more flush); average,
    every window with one real cell and no cell in two windows (a division by 1 and a sum
    of one term, elided), or every spatial axis untouched (window 1, stride 1) or covered
    by one window (the gradient is one share per window, broadcast).

    >>> from pooling_ref.geometry import plan_window
    >>> [_xla_copies("avg", plan_window((n,), (2,), (2,), "valid"), 1) for n in (2, 3, 4)]
    [True, False, False]
    """
    if op == "max":
        return outputs == 1
    one_cell = all((c == 1).all() for c in g.real_counts()) and \
        int(cover_counts(g).max(initial=0)) <= 1
    return one_cell or all(
        (k == 1 and s == 1) or (m == 1 and k - b >= n)
        for n, k, s, (b, _), m in zip(g.in_spatial, g.window, g.strides, g.pads,
                                      g.out_spatial))


def _unchosen(r: GradRules, op: str, flush: bool, copy: bool) -> str:
    """``GradPlan.unchosen``: max pooling's ``r.unchosen`` where it shows (under ``flush``:
    a flushed sum can be ``-0``); ``"+0"`` where XLA copies (the copy writes it into the
    cells that receive nothing); ``"nothing"`` otherwise (average pooling chooses every real
    cell, and without flushing no sum is ``-0``, so adding ``+0`` adds nothing)."""
    if op != "max":
        return "nothing"
    if copy:
        return "+0"
    return r.unchosen if flush else "nothing"


def compile_grad_plan(r: GradRules, op: str, dtype: np.dtype, g: WindowGeometry,
                      outputs: int, ties: str | None = None) -> GradPlan:
    """The :class:`GradPlan` of gradient rules ``r`` for ``op`` on ``dtype`` with ``outputs``
    output elements (``ties``: the caller's tie rule, else ``r.ties``)."""
    known = {"ties": None, "order": None, "flush": None, "unchosen": None, "copy": None}
    _unknown({f.name for f in fields(r)}, known, op, "GradRules")
    flush = r.flush and is_float_dtype(np.dtype(dtype))
    copy = r.copy and _xla_copies(op, g, outputs)
    return GradPlan(op, np.dtype(dtype), ties or r.ties, r.order, flush,
                    _unchosen(r, op, flush, copy), copy)


def plan_grad(tf_kernel: str | None, op: str, dtype: np.dtype, g: WindowGeometry,
              outputs: int, ties: str | None = None) -> GradPlan:
    """The plan of the gradient of pooling ``op`` on path ``tf_kernel``."""
    return compile_grad_plan(grad_rules(tf_kernel, op, dtype, g.rank), op, dtype, g,
                             outputs, ties)


def compile_global_plan(r: Rules | None, op: str, dtype: np.dtype, cells: int) -> GlobalPlan:
    """The :class:`GlobalPlan` of rules ``r`` for global pooling ``op`` over ``cells``."""
    dtype = np.dtype(dtype)
    if r is None or not is_float_dtype(dtype) or (r.copy_single and cells == 1):
        return GlobalPlan(op, dtype)
    known = {"flush": None, "nan": None, "copy_single": None,
             "empty": None,            # a channel of only NaN gives -inf: ``ignore_nan``
             "accumulate": None,       # float32 below 8 bytes, as the specification
             "divide": None, "skip_lowest": None}    # not rules of a global reduction
    _unknown({f.name for f in fields(r)}, known, op, "Rules")
    return GlobalPlan(op, dtype, r.flush, op == "global_max" and r.nan == "ignore",
                      op == "global_avg")


def plan_global(tf_kernel: str | None, op: str, dtype: np.dtype, cells: int) -> GlobalPlan:
    """The plan of global pooling ``op`` (``"global_max"`` / ``"global_avg"``)."""
    r = None if tf_kernel is None else rules(tf_kernel, op, np.dtype(dtype), 1)
    return compile_global_plan(r, op, dtype, cells)
