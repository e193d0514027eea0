"""One oracle case (:class:`Case`) and the window geometry behind it.

>>> c = Case("max_pool1d", np.zeros((1, 5, 1), np.float32), {"pool_size": 2})
>>> c.family, c.rank, c.spatial, c.describe()
('max_pool', 1, (5,), "max_pool1d(x(1, 5, 1), {'pool_size': 2}) [float32]")
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .dtypes import is_float_dtype
from .geometry import WindowGeometry, plan_window
from .ops import OpSpec, forward_of, spec

__all__ = ["Case", "forward_case", "geometry", "window_cells"]


@dataclass
class Case:
    """One call: ``op``'s function applied to ``x`` with keyword arguments ``params``."""

    op: str
    x: np.ndarray
    params: dict = field(default_factory=dict)
    corner: str = ""

    @property
    def spec(self) -> OpSpec:
        return spec(self.op)

    @property
    def family(self) -> str:
        return self.spec.family

    @property
    def rank(self) -> int:
        return self.spec.rank

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """``x`` and the array-valued parameters (``kernel``, ``bias``), in call order."""
        out = {"x": self.x}
        out.update({k: self.params[k] for k in self.spec.arrays if k in self.params})
        return out

    @property
    def scalar_params(self) -> dict:
        names = self.spec.arrays
        return {k: v for k, v in self.params.items() if k not in names}

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: tuple(v.shape) for k, v in self.arrays.items()}

    @property
    def channels_first(self) -> bool:
        return self.spec.channels_first or self.params.get("data_format") == "channels_first"

    @property
    def channel_axis(self) -> int:
        return 1 if self.channels_first else self.x.ndim - 1

    @property
    def spatial(self) -> tuple[int, ...]:
        return self.x.shape[2:] if self.channels_first else self.x.shape[1:-1]

    def size_key(self) -> tuple[int, int, int]:
        """Smaller is simpler: (total elements, parameter complexity, special values)."""
        elements = sum(int(a.size) for a in self.arrays.values())
        special = 0
        if is_float_dtype(self.x.dtype):
            with np.errstate(invalid="ignore"):
                xf = self.x.astype(np.float64)
                special = int(np.count_nonzero(~np.isfinite(xf) | ((xf == 0) & np.signbit(xf))))
        return (elements, sum(_complexity(v) for v in self.scalar_params.values()), special)

    def valid(self) -> bool:
        """Whether the reference accepts this call (its parameters are consistent)."""
        try:
            self.spec.run_reference(self.arrays, self.scalar_params)
        except (ValueError, TypeError):
            return False
        return True

    def describe(self) -> str:
        shapes = ", ".join(f"{k}{v}" for k, v in self.shapes.items())
        return f"{self.op}({shapes}, {self.scalar_params}) [{self.x.dtype.name}]"


def forward_case(case: Case) -> Case:
    """The forward call behind a gradient case (``conv2d_grad`` -> ``conv2d`` with its
    kernel; ``grad_out`` left out).

    >>> g = Case("max_pool1d_grad", np.zeros((1, 2, 1)), {"grad_out": np.zeros((1, 1, 1)),
    ...                                                   "pool_size": 2})
    >>> forward_case(g).describe()
    "max_pool1d(x(1, 2, 1), {'pool_size': 2}) [float64]"
    """
    f = forward_of(case.spec)
    params = {k: v for k, v in case.params.items() if k != "grad_out"}
    return Case(f.name, case.x, params, case.corner)


def _complexity(value: object) -> int:
    if isinstance(value, str):
        return {"channels_last": 1, "valid": 1, "VALID": 1, "NONE": 1}.get(value, 2)
    if isinstance(value, (tuple, list)):
        return 1 + len(value) + sum(_complexity(v) for v in value)
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, float) and not np.isfinite(value):      # jax's init_value
        return 2
    return 1 + abs(int(value))


def _per_axis(value: object, rank: int) -> tuple[int, ...]:
    return tuple(int(v) for v in np.broadcast_to(value, (rank,)))


def geometry(case: Case) -> WindowGeometry | None:
    """The window geometry of ``case`` (``None`` for ops without windows).

    >>> g = geometry(Case("conv1d", np.zeros((1, 5, 1)), {"kernel": np.zeros((3, 1, 1)),
    ...                                                   "padding": "same"}))
    >>> g.pads, g.out_spatial
    (((1, 1),), (5,))
    """
    p, rank = case.params, case.rank
    if case.spec.geometry is not None:
        return case.spec.geometry(case)
    if "pool_size" in p:
        window = _per_axis(p["pool_size"], rank)
        strides = _per_axis(p.get("strides", p["pool_size"]), rank)
    elif "kernel" in p:
        window = tuple(p["kernel"].shape[:rank])
        strides = _per_axis(p.get("strides", 1), rank)
    else:
        return None
    return plan_window(tuple(case.spatial), window, strides, p.get("padding", "valid"),
                       _per_axis(p.get("dilation_rate", 1), rank), case.op)


def window_cells(case: Case, out_index: tuple[int, ...]) -> list[list[int]]:
    """Per spatial axis, the real (unpadded) input positions of output window ``out_index``.

    For ops without windows (zero padding, global pooling), every position of each axis.

    >>> c = Case("max_pool1d", np.zeros((1, 5, 1), np.float32), {"pool_size": 3,
    ...          "strides": 2, "padding": "same"})
    >>> window_cells(c, (2,))    # pads (1, 1): window 2 covers padded 4..6 = input 3, 4
    [[3, 4]]
    """
    g = geometry(case)
    if g is None:
        return [list(range(n)) for n in case.spatial]
    cells = []
    for o, n, k, s, d, (b, _) in zip(out_index, g.in_spatial, g.window, g.strides,
                                     g.dilation, g.pads):
        cells.append([o * s + t * d - b for t in range(k) if 0 <= o * s + t * d - b < n])
    return cells
