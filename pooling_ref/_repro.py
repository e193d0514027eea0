"""Runnable reproducer snippets for failure messages (tests, ``check`` and ``verify``)."""

from __future__ import annotations

import numpy as np

#: Arrays up to this many bytes are embedded bit-exactly in the snippet.
MAX_EMBED_BYTES = 1 << 16


def array_literal(a: np.ndarray) -> str:
    """Python source that rebuilds ``a`` bit for bit (dtype, shape, NaN payloads, -0.0)."""
    a = np.ascontiguousarray(a)
    dtype = a.dtype.name
    ctor = f"np.dtype({dtype!r})"
    if dtype == "bfloat16":
        ctor = "__import__('ml_dtypes').bfloat16"
    if a.nbytes > MAX_EMBED_BYTES:
        return (f"np.zeros({a.shape!r}, {ctor})  # array of {a.nbytes} bytes too large to "
                f"embed; regenerate it from the seed")
    return f"np.frombuffer(bytes.fromhex({a.tobytes().hex()!r}), {ctor}).reshape({a.shape!r})"


def call_snippet(func: str, arrays: dict[str, np.ndarray], params: dict) -> str:
    """A snippet defining each array and calling ``func(x, **params)``."""
    lines = ["import numpy as np", "import pooling_ref"]
    for name, arr in arrays.items():
        if arr is None:
            continue
        lines.append(f"{name} = {array_literal(np.asarray(arr))}")
    args = [name for name in arrays if name == "x"]
    kw = [f"{k}={k}" for k in arrays if k != "x" and arrays[k] is not None]
    kw += [f"{k}={v!r}" for k, v in params.items()]
    lines.append(f"result = {func}({', '.join(args + kw)})")
    return "\n".join(lines)
