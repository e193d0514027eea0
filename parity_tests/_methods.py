"""The methods a test may ask for in this process: ``"compiled"`` needs Numba and no
``POOLING_REF_DISABLE_NUMBA`` (``nox -s no_numba``, the mutation session)."""

from __future__ import annotations

import pytest

from pooling_ref import _compiled


def method_params(methods) -> list:
    """``methods`` as pytest parameters, ``"compiled"`` skipped where it cannot run."""
    skip = pytest.mark.skipif(not _compiled.AVAILABLE, reason="needs Numba")
    return [pytest.param(m, marks=skip) if m == "compiled" else m for m in methods]
