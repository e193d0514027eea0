"""The script verify prints for a mismatch: ``pooling_ref`` (the op's reference, one
method) against the op's Keras runner on the case; it fails while they differ.

The reference and the runner are imported by name (:func:`pooling_ref._repro.
import_lines`), from any directory. An op registered outside the package must be
registered in the script's interpreter too (as it was in verify's) for the error bound of a
bound-mode op.
"""

from __future__ import annotations

from collections.abc import Callable

from .._repro import import_lines, snippet
from ..cases import Case
from ..ops import spec
from .paths import bounded, on_xla, tf_kernel_of

__all__ = ["reproducer"]


def _bind(func: Callable, name: str) -> list[str]:
    """Lines that bind ``name`` to ``func`` in a fresh interpreter."""
    return [*import_lines(func.__module__, func.__qualname__), f"{name} = candidate"]


def reproducer(op: str, case: Case, method: str, path: str = "eager") -> str:
    """A script comparing ``pooling_ref`` (``method``; ``"-"``: the op's default) with
    Keras on ``case``, on the path verify ran; it fails on a mismatch."""
    s = spec(op)
    params = dict(case.scalar_params)
    if method != "-":
        params["method"] = method
    if s.tf_kernel:
        params["tf_kernel"] = tf_kernel_of(s, case, path)
    keyword = [f"{k}={k}" for k in case.arrays if k not in s.positional]
    keyword += [f"{k}={v!r}" for k, v in case.scalar_params.items()]
    if on_xla(s, path):
        keyword.append("path='xla'")
    mode = "bound" if bounded(s, path) else "bitwise"
    arrays = ", ".join(f"{k!r}: {k}" for k in case.arrays)
    bound = (f"s.error_bound({{{arrays}}}, {case.scalar_params!r})" if mode == "bound"
             else "None")
    after = [f"keras = keras_runner({', '.join([*s.positional, *keyword])})",
             f"s = pooling_ref.ops.spec({op!r})",
             f"comparison = compare_outputs(s, result, keras, {bound}, {mode!r})",
             "print(comparison)",
             "assert comparison.ok, comparison"]
    imports = ["import pooling_ref", "import pooling_ref.ops",
               "from pooling_ref.judge import compare_outputs",
               *_bind(s.keras, "keras_runner"), *_bind(s.reference, "reference")]
    return snippet(imports, "reference", case.arrays, params, s.positional, after)
