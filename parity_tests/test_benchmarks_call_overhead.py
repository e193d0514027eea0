"""benchmarks/call_overhead.py: its three layers run on the package's own compiled kernel
(the entry :func:`pooling_ref._compiled._ready` compiles, not the bare dispatcher, whose
first call would store a kernel compiled without the SLP vectoriser in Numba's disk cache)
and leave the output of the public call. No timing is asserted."""

from __future__ import annotations

import importlib
import os
import sys

import numpy as np
import pytest

import pooling_ref as pr
from pooling_ref import _compiled

_BENCH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks")
if _BENCH not in sys.path:
    sys.path.insert(0, _BENCH)
overhead = importlib.import_module("call_overhead")

pytestmark = pytest.mark.skipif(not _compiled.AVAILABLE, reason="needs Numba")


@pytest.mark.parametrize("op", ["max", "avg"])
def test_the_layers_run_and_the_kernel_is_the_packages_entry(op, monkeypatch):
    x = np.random.default_rng(0).standard_normal((1, 3, 8, 8)).astype(np.float32)
    called = []
    ready = _compiled._ready
    monkeypatch.setattr(_compiled, "_ready", lambda k, a: called.append(k) or ready(k, a))
    fns = overhead.layers(op, x)
    assert set(fns) == {"public call", "compiled layer", "kernel"}
    assert called, "the kernel layer did not go through _compiled._ready"
    for fn in fns.values():
        fn()
    want = getattr(pr, f"{op}_pool")(x, 2, 2, data_format="channels_first", method="loop")
    assert fns["public call"]().tobytes() == want.tobytes()
