"""Which BLAS and which OpenBLAS core type (kernel set) this process runs.

>>> info = blas_info()
>>> {'blas', 'corename', 'avx512f'} <= set(info)
True
"""

from __future__ import annotations

import ctypes
import glob
import os


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def has_avx512f() -> bool:
    return "avx512f" in _cpu_flags()


def _corename() -> str | None:
    """OpenBLAS's own answer (``openblas_get_corename``) from NumPy's bundled library."""
    import numpy as np

    libdir = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in glob.glob(os.path.join(libdir, "*openblas*")):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for sym in ("scipy_openblas_get_corename64_", "openblas_get_corename64_",
                    "scipy_openblas_get_corename", "openblas_get_corename"):
            fn = getattr(lib, sym, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return fn().decode()
    return None


def blas_info() -> dict:
    """BLAS name/version/config (``np.show_config(mode="dicts")``), the runtime core type,
    ``OPENBLAS_CORETYPE`` and whether the CPU has AVX-512F."""
    import numpy as np

    blas = {}
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception:  # pragma: no cover - very old NumPy
        pass
    return {
        "blas": blas.get("name"),
        "version": blas.get("version"),
        "config": blas.get("openblas configuration"),
        "corename": _corename(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "avx512f": has_avx512f(),
        "numpy": np.__version__,
    }
