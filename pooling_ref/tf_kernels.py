"""TensorFlow CPU kernel paths: which rules each path follows where they differ.

>>> import numpy as np
>>> s = float(np.finfo(np.float32).smallest_subnormal)
>>> x = np.array([s, 3 * s], np.float32).reshape(1, 2, 1)
>>> from pooling_ref import max_pool
>>> [float(max_pool(x, 2, tf_kernel=k)[0, 0, 0]) / s for k in ("onednn", "eigen")]
[1.0, 0.0]

TensorFlow runs a pooling call through one of three CPU paths, and they disagree on special
values (measured with TF 2.21.0, see ``pooling_ref/data/known_differences.json``):

* ``"onednn"``: eager on x86 with oneDNN (the default on AVX-512 machines, or with
  ``TF_ENABLE_ONEDNN_OPTS=1``). oneDNN has bfloat16 kernels only on AVX-512 CPUs; elsewhere
  TF runs the Eigen bfloat16 kernels even with oneDNN on (:func:`detect_tf_kernel` with a
  ``dtype`` says which).
* ``"eigen"``: eager with ``TF_ENABLE_ONEDNN_OPTS=0`` (the default of ARM / Apple Silicon
  and of x86 CPUs without AVX-512).
* ``"xla"``: inside ``tf.function(jit_compile=True)``.

The rules are a small table (:data:`RULES`) applied around the ordinary pooling methods
(:func:`max_pool`, :func:`avg_pool`): pre-processing of the input (subnormals read as
zeros), the dtype the window is summed in, and post-processing of the result (subnormals
written as zeros, the value of a window without a number). What a path does that is not a
clean rule (Eigen's 3D max pooling picks NaN and the sign of a zero maximum by SIMD packet)
is not modelled: it is an entry of the known-differences registry.

Global pooling (Keras: ``reduce_max`` / ``reduce_mean``) has rows of :data:`RULES` too
(``"global_max"``, ``"global_avg"``; measured with ``tools/measure_global_paths.py``):
subnormals read as zeros except over a single cell, and under XLA a NaN ignored by the
maximum. The sign of a zero global maximum (and whether an eager path flushes a subnormal
one) is no rule: :func:`unspecified_global_max` leaves it to TF when a path is compared.

Gradients (:func:`pooling_ref.max_pool_grad`, :func:`~pooling_ref.avg_pool_grad`) follow
:data:`GRAD_RULES`, the gradient half of the same table: the tie rule, the order in which a
cell adds overlapping windows, subnormal flushing (one function, :func:`flushed_add`, for
every method), whether a window adds ``+0`` to the cells it does not choose (which decides
the sign of a flushed sum), and XLA's copies and broadcasts. The two eager paths have the
same gradient rules (their 3D forwards differ on NaN: the gradient follows the path's own
forward, registry ``eigen-max-pool3d-nan-by-packet``);
XLA's differ (docs/gradients.md, "Kernel paths").
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ._arrays import finfo, is_float_dtype
from .geometry import WindowGeometry

__all__ = ["GRAD_RULES", "PATHS", "RULES", "GradRules", "Rules", "check_tf_kernel",
           "detect_tf_kernel", "flushed_add", "grad_rules", "known_differences",
           "registry_table", "rules"]

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


_F16 = Rules(flush="none")
#: ``(path, op, spatial rank class) -> {dtype name: Rules}``; rank class ``"3d"`` or ``"nd"``
#: (1D and 2D: Keras runs 1D pooling as 2D). Dtypes not listed (integers; float16/float64
#: 3D, which TF has no kernel for) use ``Rules(flush="none")``: integers have no special
#: values, and the rest are never compared. The measured evidence of each rule is in the
#: registry (``pooling_ref/data/known_differences.json``).
RULES: dict[tuple[str, str, str], dict[str, Rules]] = {
    ("onednn", "max", "nd"): {"float16": _F16, "float32": Rules(flush="compare"),
                              "float64": Rules(), "bfloat16": Rules(empty="-inf")},
    ("onednn", "max", "3d"): {"float32": Rules(flush="compare"),
                              "bfloat16": Rules(empty="-inf")},
    ("onednn", "avg", "nd"): {"float16": _F16, "float32": Rules(), "float64": Rules(),
                              "bfloat16": Rules(accumulate="float32")},
    ("onednn", "avg", "3d"): {"float32": Rules(), "bfloat16": Rules(accumulate="float32")},
    ("eigen", "max", "nd"): {"float16": _F16, "float32": Rules(), "float64": Rules(),
                             "bfloat16": Rules(flush="compare")},
    ("eigen", "max", "3d"): {"float32": Rules(empty="-inf"),
                             "bfloat16": Rules(flush="compare", empty="-inf")},
    ("eigen", "avg", "nd"): {"float16": _F16, "float32": Rules(), "float64": Rules(),
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
      (:func:`flushed_add`; the first term is added to ``+0`` too);
    * ``unchosen`` (max only): what a window adds to its real cells that it does not choose —
      ``"nothing"`` (TF's MaxPoolGrad and XLA's select-and-scatter add to the chosen cells
      only) or ``"+0"`` (TF's MaxPool3DGrad adds ``select(chosen, grad, 0)`` over the whole
      window). It shows only under ``flush``: a flushed partial sum can be ``-0``, and a
      later ``+0`` makes it ``+0`` (:meth:`unchosen_zero`);
    * ``copy``: XLA adds nothing where its graph simplifies to a copy or a broadcast (max: a
      single ``grad_out`` element; average: every window with one real cell and no cell in
      two windows, or every spatial axis either untouched — window 1, stride 1 — or one
      window over the whole axis): each cell is the one value it receives — ``grad_out``
      unflushed, or a share ``grad_out / count`` (count > 1) flushed with its sign — with
      ``-0`` kept (``+0`` where it receives none).
    """

    ties: str = "first"
    order: str = "row-major"
    flush: bool = True
    unchosen: str = "nothing"
    copy: bool = False

    def unchosen_zero(self, dtype: np.dtype) -> np.generic:
        """The value added to a window's real cells it does not choose: ``-0`` for
        ``"nothing"`` (IEEE's additive identity: ``-0 + v`` is ``v`` for every ``v``,
        ``-0`` included) or ``+0`` (which turns a ``-0`` sum into ``+0``).

        >>> float(GradRules().unchosen_zero(np.dtype(np.float32)))
        -0.0
        """
        return np.dtype(dtype).type(-0.0 if self.unchosen == "nothing" else 0.0)


def flushed_add(total, addend, tiny):
    """``total + addend`` under x86 DAZ + FTZ (:attr:`GradRules.flush`): a subnormal
    ``addend`` is read as a zero of its sign and a subnormal sum is written as a zero of its
    sign (``tiny``: the dtype's smallest normal). The one definition of the rule: NumPy
    arrays and scalars use it as it is, and :mod:`pooling_ref._compiled` compiles it.

    >>> t = np.finfo(np.float32).tiny
    >>> total = flushed_add(np.float32(0.0), np.float32(-2 * t), t)       # normal: kept
    >>> float(flushed_add(total, np.float32(1.5 * t), t))                 # -0.5t: -0
    -0.0
    >>> float(flushed_add(np.float32(0.0), np.float32(-0.5 * t), t))      # +0 + -0
    0.0
    """
    a = addend * (abs(addend) >= tiny)          # x * False is a zero of x's sign; NaN stays
    s = total + a
    return s * (abs(s) >= tiny)


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
    return table.get(np.dtype(dtype).name, _F16)


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


# ----------------------------------------------------------------------------- registry


def known_differences() -> dict[str, dict]:
    """The known-differences registry (``pooling_ref/data/known_differences.json``) by id.

    >>> sorted(known_differences()["eigen-max-pool3d-zero-sign"]["paths"])
    ['eigen']
    """
    from importlib.resources import files

    data = json.loads(files("pooling_ref").joinpath("data/known_differences.json")
                      .read_text(encoding="utf-8"))
    return {e["id"]: e for e in data["entries"]}


def registry_table() -> str:
    """The registry as a Markdown table (README, "TensorFlow kernel paths"; kept in sync by
    ``parity_tests/test_known_defects.py::test_readme_table_is_generated_from_registry``).

    >>> registry_table().splitlines()[0]
    '| id | paths / backends | op | condition | TF/Keras gives | pooling_ref gives |'
    """
    rows = ["| id | paths / backends | op | condition | TF/Keras gives | pooling_ref gives |",
            "|---|---|---|---|---|---|"]
    for e in known_differences().values():
        paths = ", ".join(e["paths"]) + (f" ({e['cpu']} CPUs)" if e.get("cpu") else "")
        for version, listed in e.get("tf_versions", {}).items():
            paths += f"; TF {version}: {', '.join(listed) or 'none'}"
        cells = [f"`{e['id']}` ({e['kind']})", paths, e["op"], e["condition"], e["tf_gives"],
                 e["reference_gives"]]
        rows.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(rows) + "\n"


# ----------------------------------------------------------------------------- detection


def cpu_has_avx512() -> bool:
    """Whether this CPU has AVX-512 (oneDNN chooses its kernels, and bfloat16 support, by it)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # pragma: no cover - numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__ as features
    return bool(features.get("AVX512F", False))


def _onednn_enabled() -> bool:
    """Whether the running TensorFlow's eager CPU kernels are oneDNN's."""
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError as e:
        from .keras_ref import INSTALL_HINT, TensorFlowMissing

        raise TensorFlowMissing(f"detect_tf_kernel: {INSTALL_HINT}\n(import failed: {e})") \
            from None
    try:
        return bool(_pywrap_util_port.IsMklEnabled())
    except AttributeError:  # pragma: no cover - private TF API moved: TF's own default rule
        flag = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower()
        if flag in ("0", "false"):
            return False
        if flag in ("1", "true"):
            return True
        return platform.machine().lower() in ("x86_64", "amd64") and cpu_has_avx512()


def detect_tf_kernel(dtype: object = None) -> str:
    """The ``tf_kernel`` the installed TensorFlow uses for eager pooling: ``"onednn"`` or
    ``"eigen"``. Needs TensorFlow (imports it); raises ``keras_ref.TensorFlowMissing``
    (a ``RuntimeError`` with an install hint) without it.

    >>> detect_tf_kernel() in ("onednn", "eigen")       # doctest: +SKIP
    True

    With a ``dtype``: the path TF takes for that dtype — oneDNN has bfloat16 kernels only on
    AVX-512 CPUs, so bfloat16 runs the Eigen kernels elsewhere even with oneDNN on.
    """
    path = "onednn" if _onednn_enabled() else "eigen"
    if path == "onednn" and dtype is not None and np.dtype(dtype).name == "bfloat16" \
            and not cpu_has_avx512():
        return "eigen"
    return path


# ----------------------------------------------------------------------------- the rules


def _chunks(a: np.ndarray, chunk: int = 1 << 20):
    """Views covering ``a`` of about ``chunk`` cells (whole batch items if not contiguous),
    so that checks over ``a`` need no full-size temporary (pooling's memory bound holds)."""
    if a.flags.c_contiguous:
        flat = a.reshape(-1)
        return (flat[i:i + chunk] for i in range(0, flat.size, chunk))
    return iter(a)


def _special_cells(a: np.ndarray) -> tuple[bool, bool]:
    """``(has a subnormal, has a NaN or -inf)`` of float ``a``: one compiled pass where
    Numba is available (:func:`pooling_ref._compiled.special_cells`), else NumPy's."""
    from . import _compiled

    flags = _compiled.special_cells(a)
    if flags is None:
        flags = _has_subnormal(a, compiled=False), not _all_numbers(a)
    return flags


def _has_subnormal(a: np.ndarray, *, compiled: bool = True) -> bool:
    if compiled:
        from . import _compiled

        flags = _compiled.special_cells(a)
        if flags is not None:
            return flags[0]
    tiny = finfo(a.dtype).tiny
    with np.errstate(invalid="ignore"):
        return any(((np.abs(p) < tiny) & (p != 0)).any() for p in _chunks(a))


def daz(a: np.ndarray, has_subnormal: bool | None = None) -> np.ndarray:
    """``a`` with subnormals replaced by a zero of the same sign (``a`` itself if none;
    ``has_subnormal``: whether it has any, if the caller knows)."""
    if not is_float_dtype(a.dtype):
        return a
    if not (_has_subnormal(a) if has_subnormal is None else has_subnormal):
        return a
    with np.errstate(invalid="ignore"):
        sub = (np.abs(a) < finfo(a.dtype).tiny) & (a != 0)
    return np.where(sub, np.copysign(np.zeros((), a.dtype), a), a).astype(a.dtype)


def _first_flushed_cell(x_cl: np.ndarray, pool: Callable) -> np.ndarray:
    """Per window, the bits of its first (row-major) zero or subnormal cell (NaN if none).

    Row-major window order is increasing spatial index, so the first such cell is the one
    with the smallest index: max pooling of ``-index`` (``-inf`` elsewhere) finds it.
    """
    n, c = x_cl.shape[0], x_cl.shape[-1]
    cells = int(np.prod(x_cl.shape[1:-1], dtype=np.int64))
    index = np.broadcast_to(np.arange(cells, dtype=np.float64).reshape(
        1, *x_cl.shape[1:-1], 1), x_cl.shape)
    with np.errstate(invalid="ignore"):
        zeroish = np.abs(x_cl) < finfo(x_cl.dtype).tiny
    first = -pool(np.where(zeroish, -index, -np.inf))
    found = (first >= 0) & (first < cells)        # a window without one gives huge / inf
    flat = x_cl.reshape(n, cells, c)
    safe = np.where(found, first, 0).astype(np.int64)
    picked = np.take_along_axis(flat, safe.reshape(n, -1, c), axis=1).reshape(first.shape)
    return np.where(found, picked, np.array(np.nan, x_cl.dtype)).astype(x_cl.dtype)


def _all_numbers(a: np.ndarray) -> bool:
    """Whether every cell of ``a`` is a number other than -inf (NaN compares False)."""
    return all((p > -np.inf).all() for p in _chunks(a))


def _is_identity(g: WindowGeometry) -> bool:
    return g.cells == 1 and all(s == 1 for s in g.strides)


def max_pool(x_cl: np.ndarray, g: WindowGeometry, pool: Callable, tf_kernel: str | None,
             fused: Callable | None = None) -> np.ndarray:
    """Max pooling of channels_last ``x_cl`` under ``tf_kernel``'s rules.

    ``pool(a)`` is the method's own max pooling (first of equal maxima wins) of an array
    shaped like ``x_cl`` with geometry ``g``. ``fused(r)``, where the method has one: its
    pooling of ``x_cl`` following :class:`Rules` ``r`` itself in one pass (bit for bit what
    this function does around ``pool``), or ``None`` where it cannot.
    """
    if tf_kernel is None or not is_float_dtype(x_cl.dtype):
        return pool(x_cl)
    r = rules(tf_kernel, "max", x_cl.dtype, g.rank)
    if r.copy_single and _is_identity(g):
        return x_cl.copy()
    out = fused(r) if fused is not None else None
    if out is not None:
        return out
    has_subnormal, has_special = _special_cells(x_cl)   # one pass over the input
    xin = daz(x_cl, has_subnormal) if r.flush != "none" else x_cl
    out = pool(xin)
    if r.flush == "compare" and xin is not x_cl:
        out = np.where(out == 0, _first_flushed_cell(x_cl, pool), out).astype(out.dtype)
    elif r.flush == "full":
        out = daz(out)
    if has_special:                                      # some NaN or -inf cell
        has_number = pool((x_cl > -np.inf).view(np.uint8))
        empty = -np.inf if r.empty == "-inf" else -finfo(x_cl.dtype).max
        out = np.where(has_number == 0, np.array(empty, x_cl.dtype), out).astype(out.dtype)
    return out


def global_max_input(a: np.ndarray, cells: int, tf_kernel: str | None) -> np.ndarray:
    """The input global max pooling reduces (with its NaN rule) under ``tf_kernel``: ``a``
    itself for the specification and single cells; subnormals read as zeros; NaN read as
    -inf where the path ignores it (so a channel of only NaN gives -inf)."""
    if tf_kernel is None or not is_float_dtype(a.dtype):
        return a
    r = rules(tf_kernel, "global_max", a.dtype, 1)
    if r.copy_single and cells == 1:
        return a
    xin = daz(a) if r.flush != "none" else a
    if r.nan == "ignore" and np.isnan(xin).any():
        xin = np.where(np.isnan(xin), np.array(-np.inf, a.dtype), xin).astype(a.dtype)
    return xin


def unspecified_global_max(got: object, expected: np.ndarray, tf_kernel: str | None
                           ) -> np.ndarray:
    """``expected`` (global max pooling under ``tf_kernel``) with the cells TF leaves
    unspecified taken from ``got``: the sign of a zero maximum (it follows the vectorised
    reduction order), and a zero maximum that TF returns as a subnormal cell (eagerly, cells
    outside a full SIMD packet are not flushed; XLA bfloat16 next to a NaN). Registry
    ``global-max-zero-sign-and-subnormal-tail``; never for ``tf_kernel=None``, nor for any
    other op.

    >>> e = np.float32([0.0, 1.0])
    >>> unspecified_global_max(np.float32([-0.0, 1.0]), e, "onednn").tolist()
    [-0.0, 1.0]
    >>> unspecified_global_max(np.float32([-0.0, 1.0]), e, None).tolist()
    [0.0, 1.0]
    """
    g = np.asarray(got)
    if tf_kernel is None or g.shape != expected.shape or g.dtype != expected.dtype \
            or not is_float_dtype(expected.dtype):
        return expected
    with np.errstate(invalid="ignore"):
        free = (expected == 0) & (np.abs(g) < finfo(g.dtype).tiny)
    return np.where(free, g, expected).astype(expected.dtype)


def global_avg_pool(a: np.ndarray, cells: int, tf_kernel: str | None,
                    mean: Callable) -> np.ndarray:
    """Global average pooling under ``tf_kernel``'s rules. ``a``: the input (``cells``
    cells reduced per output); ``mean(m, plus_zero)``: the specification's mean of ``m``
    (laid out as ``a``) over the reduced axes, rounded to the output dtype
    (``plus_zero``: the sum started from ``+0``)."""
    if tf_kernel is None or not is_float_dtype(a.dtype):
        return mean(a)
    r = rules(tf_kernel, "global_avg", a.dtype, 1)
    if r.copy_single and cells == 1:                   # x / 1: the input, unflushed
        return mean(a)
    xin = daz(a) if r.flush != "none" else a
    out = mean(xin, plus_zero=True)
    return daz(out) if r.flush == "full" else out


def avg_pool(x_cl: np.ndarray, g: WindowGeometry, pool: Callable, tf_kernel: str | None,
             fused: Callable | None = None) -> np.ndarray:
    """Average pooling of float ``x_cl`` under ``tf_kernel``'s rules (``pool``: the method's
    average pooling, which sums in row-major order in the dtype it is given; ``fused``: as
    for :func:`max_pool`)."""
    if tf_kernel is None:               # the specification; bfloat16 summed in float32
        acc = np.float32 if x_cl.dtype.name == "bfloat16" else x_cl.dtype
        return pool(x_cl.astype(acc, copy=False)).astype(x_cl.dtype, copy=False)
    r = rules(tf_kernel, "avg", x_cl.dtype, g.rank)
    if r.copy_single and _is_identity(g):
        return x_cl.copy()
    out = fused(r) if fused is not None else None
    if out is not None:
        return out
    xin = daz(x_cl) if r.flush != "none" else x_cl
    acc = np.dtype(np.float32) if r.accumulate == "float32" and x_cl.dtype.itemsize < 4 \
        else x_cl.dtype
    padded_1d = g.rank == 1 and any(b or a for b, a in g.pads)
    if r.divide == "reciprocal" or (r.divide == "xla" and not padded_1d):
        from .pooling import _real_counts

        sums = _window_sums(xin.astype(acc, copy=False), g)
        out = sums * (1 / _real_counts(g, acc)).astype(acc)
        out = out.astype(x_cl.dtype, copy=False)
    else:
        out = pool(xin.astype(acc, copy=False)).astype(x_cl.dtype, copy=False)
    if r.skip_lowest:
        out = _skip_lowest(xin, g, out)
    return daz(out) if r.flush == "full" else out


def _window_sums(x_cl: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """Each window's cells summed in row-major order from +0 in ``x_cl``'s dtype (padding
    cells add +0, which changes no bits: the pooling methods' own summation order)."""
    from .windows import pad_spatial, shifted, window_offsets

    xp = pad_spatial(x_cl, g, 0)
    total = np.zeros((x_cl.shape[0], *g.out_spatial, x_cl.shape[-1]), x_cl.dtype)
    for offset in window_offsets(g):
        total += shifted(xp, offset, g)
    return total


def _skip_lowest(x_cl: np.ndarray, g: WindowGeometry, out: np.ndarray) -> np.ndarray:
    """Recompute the windows holding the lowest finite value without such cells."""
    from .windows import real_window_at

    low = x_cl == -finfo(x_cl.dtype).max
    if not low.any():
        return out
    out = out.copy()
    n, c = x_cl.shape[0], x_cl.shape[-1]
    for pos in np.ndindex(*g.out_spatial):
        mask = real_window_at(low, pos, g).reshape(n, -1, c)
        if not mask.any():
            continue
        cells = real_window_at(x_cl, pos, g).reshape(n, -1, c)
        total = np.zeros((n, c), x_cl.dtype)
        for k in range(cells.shape[1]):
            total = np.where(mask[:, k], total, total + cells[:, k]).astype(x_cl.dtype)
        count = (~mask).sum(axis=1).astype(x_cl.dtype)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[(slice(None), *pos, slice(None))] = total / count
    return out


if __name__ == "__main__":   # python -m pooling_ref.tf_kernels > table.md
    print(registry_table(), end="")
