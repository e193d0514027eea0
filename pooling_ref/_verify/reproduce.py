"""The script verify prints for a mismatch: ``pooling_ref`` (the op's reference, one
method) against the op's Keras runner on the case; it fails while they differ.

Both are looked up in the op table, as verify ran them (an op registered outside the
package must be registered in the script's interpreter too).
"""

from __future__ import annotations

from .._repro import snippet
from ..cases import Case
from ..ops import spec
from .paths import bounded, on_xla, tf_kernel_of

__all__ = ["reproducer"]


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
    after = [f"keras = s.keras({', '.join([*s.positional, *keyword])})",
             f"comparison = compare_outputs(s, result, keras, {bound}, {mode!r})",
             "print(comparison)",
             "assert comparison.ok, comparison"]
    imports = ["import pooling_ref", "import pooling_ref.ops",
               "from pooling_ref.judge import compare_outputs",
               f"s = pooling_ref.ops.spec({op!r})"]
    return snippet(imports, "s.reference", case.arrays, params, s.positional, after)
