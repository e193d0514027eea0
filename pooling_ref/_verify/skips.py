"""The cases ``verify`` does not compare because TensorFlow is measured to be wrong there.

Each is an entry of the known-differences registry (``pooling_ref/data/
known_differences.json``: its paths, what TF gives, the evidence and the test that shows
it); :data:`CONDITIONS` holds only the predicate that says whether a case hits it. One rule
follows from the registry's forward entries: a bitwise gradient of a bitwise op routes by
the forward's choices, so where TF's own eager forward differs (a registered forward
difference), its gradient is not compared either.

>>> sorted(CONDITIONS)[:2]
['eager-max-pool3d-grad-window-larger-than-input', 'eigen-avg-pool-grad-window-larger-than-input']
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..cases import Case, forward_case
from ..dtypes import flush_subnormals
from ..geometry import normalize_padding
from ..gradients import max_pool_grad
from ..keras_ref import eager_path, known_differences
from ..ops import OpSpec, forward_of, is_gradient
from ..pooling import max_pool

__all__ = ["CONDITIONS", "avoided_defects", "known_defect", "scan_order_sensitive"]


def scan_order_sensitive(x: np.ndarray, params: dict) -> bool:
    """Whether some max pooling window's choice depends on the order its cells are scanned
    in: it holds a NaN, no number, or two cells equal to its maximum (subnormals compared
    as zeros). XLA scans some padded windows in another order (registry
    ``xla-max-pool-grad-padded-scan-order``); such gradients are not compared there."""
    if np.isnan(x).any():
        return True
    x64 = flush_subnormals(np.asarray(x)).astype(np.float64)
    ones = np.ones_like(max_pool(x64, **params, tf_kernel=None))
    tied = max_pool_grad(x64, ones, **params, ties="all", tf_kernel=None)
    return bool(tied.sum() != ones.size)


def _same(case: Case) -> bool:
    return normalize_padding(case.params.get("padding", "valid")) == "same"


def _window_exceeds_input(case: Case) -> bool:
    """A "same" window longer than the input along some axis."""
    window = np.broadcast_to(case.params["pool_size"], (case.rank,))
    return _same(case) and any(int(k) > n for k, n in zip(window, case.spatial))


def _padded_scan_order(case: Case) -> bool:
    fwd = forward_case(case)
    return _same(case) and scan_order_sensitive(fwd.x, fwd.scalar_params)


#: Registry id -> whether a case of one of the entry's ops hits it.
CONDITIONS: dict[str, Callable[[Case], bool]] = {
    "xla-max-pool-grad-padded-scan-order": _padded_scan_order,
    "eager-max-pool3d-grad-window-larger-than-input":
        lambda c: c.rank == 3 and _window_exceeds_input(c),
    "eigen-avg-pool-grad-window-larger-than-input": _window_exceeds_input,
}


def _families(entry: dict) -> list[str]:
    return [f.strip() for f in entry["op"].split(",")]


def known_defect(s: OpSpec, case: Case, path: str) -> str:
    """The registered TF defect ``case`` of op ``s`` hits when verify runs ``path``
    (``""`` for none), in words."""
    registry = known_differences()
    where = "xla" if path == "xla" else eager_path()
    for entry_id, hits in CONDITIONS.items():
        entry = registry[entry_id]
        if where in entry["paths"] and s.family in _families(entry) and hits(case):
            return f"known TF defect: {entry['condition']} (registry {entry_id})"
    if where != "xla" and _follows_forward(s) and _forward_differs(s, case):
        return ("known TF defect: TF's eager forward differs here (a registered forward "
                f"difference, see verify of {forward_of(s).name}); its gradient follows it")
    return ""


def _follows_forward(s: OpSpec) -> bool:
    """A bitwise gradient of an op Keras is compared with bitwise (max pooling)."""
    return is_gradient(s) and s.keras_mode == "bitwise" and forward_of(s).keras_mode == \
        "bitwise"


def _forward_differs(s: OpSpec, case: Case) -> bool:
    fwd = forward_case(case)
    args, kwargs = fwd.spec.split(fwd.arrays, fwd.scalar_params)
    ours = fwd.spec.run_reference(fwd.arrays, fwd.scalar_params)
    return np.asarray(fwd.spec.keras(*args, **kwargs)).tobytes() != ours.tobytes()


def avoided_defects() -> list[str]:
    """The registered TF/Keras defects verify steers clear of (entries with a ``verify``
    field: how), one line each, for verify's header and its JSON report."""
    return [f"{entry_id}: {e['condition']}: {e['tf_gives']} ({e['verify']})"
            for entry_id, e in known_differences().items() if "verify" in e]
