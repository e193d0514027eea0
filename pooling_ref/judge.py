"""The verdict on one candidate result: the rule sets it matches, or the TensorFlow
difference it reproduces.

>>> import numpy as np
>>> s = float(np.finfo(np.float32).smallest_subnormal)
>>> x = np.float32([s, 3 * s]).reshape(1, 2, 1)              # two subnormals
>>> v = judge("max_pool1d", np.float32([[[0.0]]]), {"x": x}, {"pool_size": 2})
>>> v.ok, v.matched                                           # flushed: TF's eigen / xla
(True, ('eigen', 'xla'))
>>> judge("max_pool1d", np.float32([[[0.0]]]), {"x": x}, {"pool_size": 2},
...       tf_kernel=None).ok                                  # IEEE: the maximum is 3s
False

A result is compared with the reference under every *rule set* of ``tf_kernel``:
``"any"`` (what :func:`pooling_ref.check` does by default) tries ``None`` — the IEEE
specification — and the rules of each TensorFlow CPU path (``"onednn"``, ``"eigen"``,
``"xla"``, :data:`pooling_ref.rules.RULES`); a single set is the strict comparison.
Ops whose reference takes no ``tf_kernel`` (zero padding, convolution) have one
specification. A result that matches no rule set may still be what TensorFlow gives where
the known-differences registry records a difference of one of those paths and
:mod:`pooling_ref.known` models it; the verdict then names the registry entry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import known
from .dtypes import is_float_dtype
from .ops import OpSpec, spec
from .rules import PATHS
from .tolerance import Comparison, compare

__all__ = ["ANY", "DIALECT_RUNTIMES", "RULE_SETS", "Criteria", "Verdict", "check_rule_option",
           "compare_outputs", "is_dialect", "judge", "registry_paths", "rule_sets", "set_name"]

#: ``tf_kernel="any"``: accept a result that matches the reference under any rule set.
ANY = "any"
#: Every rule set, in the order they are tried (and reported).
RULE_SETS: tuple[str | None, ...] = (None, *PATHS)


def check_rule_option(tf_kernel: object, where: str = "check") -> str | None:
    """``tf_kernel`` if it is ``"any"``, ``None`` or a TF path; ``ValueError`` otherwise.

    >>> check_rule_option("ANY") is None
    Traceback (most recent call last):
    ...
    ValueError: check: tf_kernel must be 'any', None, 'onednn', 'eigen' or 'xla'; got 'ANY'
    """
    if tf_kernel is None or tf_kernel == ANY or tf_kernel in PATHS:
        return tf_kernel
    if not isinstance(tf_kernel, str):
        raise TypeError(f"{where}: tf_kernel must be a str or None, got {tf_kernel!r}")
    raise ValueError(f"{where}: tf_kernel must be 'any', None, 'onednn', 'eigen' or 'xla'; "
                     f"got {tf_kernel!r}")


def rule_sets(s: OpSpec, tf_kernel: str | None) -> tuple[str | None, ...]:
    """The rule sets a result of op ``s`` is compared under for option ``tf_kernel``.

    >>> rule_sets(spec("avg_pool2d"), "any"), rule_sets(spec("conv2d"), "eigen")
    ((None, 'onednn', 'eigen', 'xla'), ('eigen',))

    Another framework's op (``"torch.avg_pool2d"``, ``"litert.max_pool_2d_int8"``) has no
    TensorFlow path: its dialect function is its one specification.

    >>> rule_sets(spec("torch.avg_pool2d"), "any"), rule_sets(spec("onnx.max_pool"), "xla")
    ((None,), (None,))
    """
    if is_dialect(s):
        return (None,)
    return RULE_SETS if tf_kernel == ANY else (tf_kernel,)


def is_dialect(s: OpSpec) -> bool:
    """Whether ``s`` is another framework's op (named ``"<framework>.<function>"``)."""
    return "." in s.name


#: The runtime (registry path) of each other framework whose registered differences the
#: oracle accepts for that framework's ops: its own runtime is what users compare with.
DIALECT_RUNTIMES = {"onnx": ("onnxruntime",), "torch": ("torch",)}


def registry_paths(tf_kernel: str | None, s: OpSpec | None = None) -> tuple[str, ...]:
    """The paths whose registered differences are accepted for option ``tf_kernel`` (none
    for the IEEE specification, ``None``); for another framework's op ``s``, that
    framework's runtime whatever ``tf_kernel`` says.

    >>> registry_paths(None), registry_paths("any", spec("onnx.max_pool"))
    ((), ('onnxruntime',))
    """
    if s is not None and is_dialect(s):
        return DIALECT_RUNTIMES.get(s.name.partition(".")[0], ())
    if tf_kernel == ANY:
        return PATHS
    return () if tf_kernel is None else (tf_kernel,)


def set_name(rule_set: str | None) -> str:
    """How a rule set is written in reports: ``tf_kernel=None`` is the IEEE specification.

    >>> set_name(None), set_name("eigen")
    ('None (IEEE)', "'eigen'")
    """
    return "None (IEEE)" if rule_set is None else repr(rule_set)


# ----------------------------------------------------------------------------- comparing


def _bad(mode: str, detail: str) -> Comparison:
    return Comparison(False, mode, float("inf"), 0, float("inf"), None, detail)


def _describe_result(result: object) -> str:
    text = repr(result)
    return f"{type(result).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


def _compare_one(got_obj: object, expected: np.ndarray, bound, mode: str) -> Comparison:
    try:
        got = np.asarray(got_obj)
    except Exception as e:
        return _bad(mode, f"the result is not an array: np.asarray failed with "
                          f"{type(e).__name__}: {e} (result: {_describe_result(got_obj)})")
    if got.dtype.kind not in "iufb" and not is_float_dtype(got.dtype):
        return _bad(mode, f"the result is not a numeric array: {_describe_result(got_obj)} "
                          f"(expected an array of shape {expected.shape} and dtype "
                          f"{expected.dtype})")
    if got.shape != expected.shape:
        return _bad(mode, f"wrong shape: got {got.shape}, expected {expected.shape}")
    if got.dtype != expected.dtype:
        return _bad(mode, f"wrong dtype: got {got.dtype}, expected {expected.dtype} "
                          f"(the result must have the input's dtype)")
    return compare(got, expected, bound)


def compare_outputs(s: OpSpec, result: object, expected, bound, mode: str) -> Comparison:
    """Compare ``result`` with ``expected`` (each output of a multi-output op, e.g. a conv
    gradient's ``(grad_x, grad_kernel, grad_bias)``; the first wrong one is named)."""
    if s.outputs == 1:
        return _compare_one(result, expected, bound, mode)
    if not isinstance(result, (tuple, list)) or len(result) != s.outputs:
        return _bad(mode, f"expected a tuple of {s.outputs} arrays, got "
                          f"{_describe_result(result)}")
    bounds = bound if bound is not None else (None,) * s.outputs
    worst = None
    for i, (g, e, b) in enumerate(zip(result, expected, bounds)):
        c = _compare_one(g, e, b, mode)
        if not c.ok:
            c.detail = f"{s.output_names[i]} (output {i}) wrong: {c.detail}"
            return c
        worst = c if worst is None or c.worst_ratio > worst.worst_ratio else worst
    return worst


# ----------------------------------------------------------------------------- the verdict


@dataclass
class Verdict:
    """How one result compares: ``comparison`` against the reference of the first rule set
    it matches (else of the rule set the report shows), ``matched`` the rule sets under
    which the whole result matches, ``known`` the registry id of the TensorFlow difference
    it reproduces (then ``matched`` is that entry's path), ``expected`` what it was compared
    with and ``rule_set`` the set of ``comparison``."""

    comparison: Comparison
    matched: tuple = ()
    known: str | None = None
    expected: object = None
    rule_set: str | None = None

    @property
    def ok(self) -> bool:
        return self.comparison.ok


def expected_under(s: OpSpec, arrays: dict, scalars: dict, rule_set: str | None,
                   result: object = None, *, nan: str = "tf"):
    """The reference result under ``rule_set``; where the op's entry names cells no TF path
    specifies (``unspecified``: global max pooling's sign of a zero maximum,
    :func:`pooling_ref.tolerance.unspecified_global_max`), those taken from ``result``."""
    expected = s.run_reference(arrays, scalars, nan=nan, tf_kernel=rule_set)
    if s.unspecified is not None and result is not None:
        expected = s.unspecified(result, expected, rule_set)
    return expected


@dataclass(frozen=True)
class Criteria:
    """What a result is held to: the rule sets of ``tf_kernel`` (``"any"``, ``None`` or one
    TF path) and, for max pooling, the NaN rule ``nan`` (``"tf"`` or ``"propagate"``).

    >>> Criteria().options(), Criteria(None, "propagate").options()
    ('', ", nan='propagate', tf_kernel=None")
    """

    tf_kernel: str | None = ANY
    nan: str = "tf"

    def options(self) -> str:
        """The keyword arguments that select these criteria, as call text (defaults left
        out): what a reproducer passes to ``compare_result``."""
        text = "" if self.nan == "tf" else f", nan={self.nan!r}"
        return text + ("" if self.tf_kernel == ANY else f", tf_kernel={self.tf_kernel!r}")

    def reference(self, s: OpSpec, arrays: dict, scalars: dict,
                  rule_set: str | None = None, **overrides):
        """The reference result of ``s`` under ``rule_set`` (``overrides``: other options of
        the reference, e.g. ``nan="propagate"``)."""
        nan = overrides.pop("nan", self.nan)
        return s.run_reference(arrays, {**scalars, **overrides}, nan=nan,
                               tf_kernel=rule_set)

    def verdict(self, s: OpSpec, result: object, arrays: dict, scalars: dict,
                prefer: tuple = ()) -> Verdict:
        """The :class:`Verdict` on ``result`` (see :func:`judge`)."""
        return judge(s, result, arrays, scalars, tf_kernel=self.tf_kernel, nan=self.nan,
                     prefer=prefer)


def judge(op: str | OpSpec, result: object, arrays: dict, scalars: dict, *,
          tf_kernel: str | None = ANY, nan: str = "tf", prefer: tuple = ()) -> Verdict:
    """The :class:`Verdict` on ``result`` of ``op(**arrays, **scalars)`` (see the module
    docstring). ``prefer``: rule sets to report against when none matches, in order (the
    sets the candidate matched so far), else the first of :func:`rule_sets`.

    For an op without path rules every rule set is the one specification: a result that
    matches it matches them all (``matched`` lists every set asked for).
    """
    s = op if isinstance(op, OpSpec) else spec(op)
    bound = s.error_bound(arrays, scalars)
    sets = rule_sets(s, tf_kernel)
    tried: dict = {}                       # effective rule set -> (expected, comparison)
    for rule_set in sets:
        key = rule_set if s.tf_kernel else None
        if key not in tried:
            expected = expected_under(s, arrays, scalars, key, result, nan=nan)
            tried[key] = (expected, compare_outputs(s, result, expected, bound, s.mode))
    effective = {r: (r if s.tf_kernel else None) for r in sets}
    matched = tuple(r for r in sets if tried[effective[r]][1].ok)
    if matched:
        r = min(matched, key=lambda m: tried[effective[m]][1].worst_ratio)
        expected, c = tried[effective[r]]
        return Verdict(c, matched, None, expected, r)
    accepted = _known(s, result, arrays, scalars, tf_kernel, nan, bound)
    if accepted is not None:
        return accepted
    r = next((p for p in prefer if p in sets), sets[0])
    expected, c = tried[effective[r]]
    return Verdict(c, (), None, expected, r)


def _known(s: OpSpec, result: object, arrays: dict, scalars: dict, tf_kernel, nan: str,
           bound) -> Verdict | None:
    """The verdict of a result that reproduces a registered TF difference, or ``None``."""
    for path in registry_paths(tf_kernel, s):
        base = None
        for entry_id, model in known.models(s, path):
            if base is None:
                base = expected_under(s, arrays, scalars, path if s.tf_kernel else None,
                                      result, nan=nan)
            alt = model(s, arrays, scalars, result, base)
            if alt is None:
                continue
            first = alt[0] if isinstance(alt, tuple) else alt
            if isinstance(bound, np.ndarray) and bound.shape != np.shape(first):
                # another output shape (onnxruntime's SAME padding): the model is the
                # reference on other arguments, the same summation: compared bit for bit
                c = compare_outputs(s, result, alt, None, "bitwise")
            else:
                c = compare_outputs(s, result, alt, bound, s.mode)
            if c.ok:
                if is_dialect(s):           # the dialect's one rule set, the runtime's entry
                    return Verdict(c, (None,), entry_id, alt, None)
                paths = tuple(p for p in registry_paths(tf_kernel)
                              if p in known.entry_paths(entry_id))
                return Verdict(c, paths, entry_id, alt, path)
    return None
