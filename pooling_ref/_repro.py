"""Runnable reproducer snippets: the one builder used by tests, ``check`` and ``verify``.

>>> print(array_literal(np.array([[1.5, -0.0]], dtype=np.float32)))
np.array([[1.5, -0.0]], dtype=np.float32)
>>> print(snippet(["import pooling_ref"], "pooling_ref.max_pool",
...               {"x": np.zeros((1, 2, 1), np.float32)}, {"pool_size": 2}))
import numpy as np
import pooling_ref
x = np.array([[[0.0], [0.0]]], dtype=np.float32)
result = pooling_ref.max_pool(x, pool_size=2)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import numpy as np

from ._child import is_library

__all__ = ["CANNOT_IMPORT", "array_literal", "call_snippet", "import_lines", "snippet",
           "value_text"]

#: Arrays up to this many bytes are embedded bit-exactly in the snippet.
MAX_EMBED_BYTES = 1 << 16
#: Arrays up to this many elements are written as ``np.array([...])`` literals.
MAX_LITERAL_ELEMENTS = 256


def value_text(v: np.generic) -> str:
    """Python source of one NumPy scalar: the shortest decimal that round-trips."""
    f = float(v) if np.asarray(v).dtype.kind not in "iub" else None
    if f is None:
        return str(int(v))
    if np.isnan(f):
        return "np.nan"
    if np.isinf(f):
        return "np.inf" if f > 0 else "-np.inf"
    dt = np.asarray(v).dtype
    if dt.kind == "f":
        return np.format_float_positional(v, unique=True, trim="0") if abs(f) < 1e16 and (
            f == 0 or abs(f) >= 1e-4) else np.format_float_scientific(v, unique=True,
                                                                       trim="0")
    return repr(f)


def _dtype_source(dtype: np.dtype) -> str:
    if dtype.name == "bfloat16":
        return "ml_dtypes.bfloat16"
    return f"np.{dtype.name}"


def _nested(a: np.ndarray) -> str:
    if a.ndim == 0:
        return value_text(a[()])
    return "[" + ", ".join(_nested(s) for s in a) + "]"


def array_literal(a: np.ndarray) -> str:
    """Python source that rebuilds ``a`` bit for bit (dtype, shape, NaN payloads, -0.0).

    A readable ``np.array([...], dtype=...)`` literal when that gives back exactly the same
    bits; hex bytes otherwise (NaN payloads, large arrays).
    """
    a = np.ascontiguousarray(a)
    ctor = _dtype_source(a.dtype)
    if 0 < a.size <= MAX_LITERAL_ELEMENTS:
        text = f"np.array({_nested(a)}, dtype={ctor})"
        if _evaluates_to(text, a):
            return text
    if a.nbytes > MAX_EMBED_BYTES:
        return (f"np.zeros({a.shape!r}, {ctor})  # array of {a.nbytes} bytes too large to "
                f"embed; regenerate it from the seed")
    return f"np.frombuffer(bytes.fromhex({a.tobytes().hex()!r}), {ctor}).reshape({a.shape!r})"


def _evaluates_to(text: str, a: np.ndarray) -> bool:
    ns: dict = {"np": np}
    if a.dtype.name == "bfloat16":
        import ml_dtypes

        ns["ml_dtypes"] = ml_dtypes
    try:
        b = eval(text, ns)
    except Exception:
        return False
    return b.dtype == a.dtype and b.shape == a.shape and b.tobytes() == a.tobytes()


def snippet(imports: Sequence[str], func: str, arrays: dict, params: dict,
            positional: Sequence[str] = ("x",), after: Sequence[str] = ()) -> str:
    """A script: define each array, call ``func(*positional, **keyword arrays, **params)``
    into ``result``, then the lines ``after`` (checks that fail while a bug persists)."""
    lines = ["import numpy as np"]
    if any(np.asarray(a).dtype.name == "bfloat16" for a in arrays.values() if a is not None):
        lines.append("import ml_dtypes")
    lines += list(imports)
    present = {k: v for k, v in arrays.items() if v is not None}
    lines += [f"{name} = {array_literal(np.asarray(arr))}" for name, arr in present.items()]
    args = [k for k in positional if k in present]
    kw = [f"{k}={k}" for k in present if k not in positional]
    kw += [f"{k}={v!r}" for k, v in params.items()]
    lines.append(f"result = {func}({', '.join(args + kw)})")
    lines += list(after)
    return "\n".join(lines)


def call_snippet(func: str, arrays: dict[str, np.ndarray], params: dict) -> str:
    """A snippet defining each array and calling ``func(x, **arrays, **params)``."""
    return snippet(["import pooling_ref"], func, arrays, params)


#: Exit status of a reproducer that cannot import the candidate (1: the mismatch persists).
CANNOT_IMPORT = 2


def _import_root(module: str) -> str | None:
    """The ``sys.path`` directory ``module``'s top-level package was imported from
    (``None``: unknown, or a library directory that is on every ``sys.path``)."""
    top = sys.modules.get(module.partition(".")[0])
    file = getattr(top, "__file__", None)
    if file:
        root = os.path.dirname(os.path.abspath(file))
        if os.path.basename(file).startswith("__init__."):
            root = os.path.dirname(root)
    else:                                 # a namespace package: its first directory
        paths = list(getattr(top, "__path__", None) or [])
        if not paths:
            return None
        root = os.path.dirname(os.path.abspath(paths[0]))
    return None if is_library(os.path.join(root, "x")) else root


def import_lines(module: str, qualname: str) -> list[str]:
    """Lines that bind ``candidate``: the directory ``module`` was imported from is put on
    ``sys.path``; when its top-level package still cannot be found the script exits with
    status 2 and says how to run it (the ``from ... import`` stays one line of its own).

    >>> for line in import_lines("os.path", "join"):  # doctest: +ELLIPSIS
    ...     print(line)
    import importlib.util
    import sys
    if importlib.util.find_spec('os') is None: print("cannot import 'os': ...", file=sys...); ...
    from os.path import join as candidate

    (``os`` is in the standard library, so no directory is added.)
    """
    top, _, rest = qualname.partition(".")
    root = _import_root(module)
    package = module.partition(".")[0]
    hint = (f"cannot import {package!r}: run this script where it is importable (its "
            f"directory on PYTHONPATH)")
    lines = ["import importlib.util", "import sys"]
    if root is not None:
        lines.append(f"sys.path.insert(0, {root!r})  # where {module} was imported from")
        hint += f"; it was imported from {root}"
    lines += [f"if importlib.util.find_spec({package!r}) is None: "
              f"print({hint!r}, file=sys.stderr); raise SystemExit({CANNOT_IMPORT})",
              f"from {module} import {top} as candidate"]
    if rest:
        lines.append(f"candidate = candidate.{rest}")
    return lines
