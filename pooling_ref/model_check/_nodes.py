"""Per-node results of a model check, and the reference rules the checks apply to one node.

>>> r = NodeResult(3, "pool", "MAX_POOL_2D", {"filter_size": (2, 2)}, (1, 4, 4, 1),
...                (1, 2, 2, 1), "float32", "match", "bitwise", 0.0)
>>> r.failed, r.row()[:3]
(False, ('3', 'pool', 'MAX_POOL_2D'))
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..conv import conv
from ..dialects import litert
from ..padding import zero_pad
from ..tolerance import compare, conv_bound

__all__ = ["NodeResult", "RuntimeMissing", "conv_reference", "draw_inputs", "given_inputs",
           "nodes", "pad_reference", "quantized_conv_check", "table"]

#: Verdicts: the node equals the runtime's rule and Keras's ("match"), equals the runtime's
#: rule where that differs from Keras by registered differences ("known"), or differs from
#: the rule ("DIFFERS", also for a registered defect).
VERDICTS = ("match", "known", "DIFFERS", "unchecked")


class RuntimeMissing(ImportError):
    """The package that reads or runs a model format is not installed (the message says
    which extra brings it)."""


@dataclass(frozen=True)
class NodeResult:
    """One checked node: ``worst`` is the largest ULP distance (``mode`` "bitwise"), bound
    ratio ("bound") or distance in quantization steps ("quanta") from the reference."""

    index: int
    name: str
    op: str
    attributes: dict
    input_shape: tuple
    output_shape: tuple
    dtype: str
    verdict: str
    mode: str
    worst: float
    registry: tuple[str, ...] = ()
    detail: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.verdict == "DIFFERS"

    def row(self) -> tuple[str, ...]:
        """The node as table cells (index, name, op, attributes, shapes, verdict, worst,
        registry)."""
        attrs = ", ".join(f"{k}={v}" for k, v in self.attributes.items())
        worst = f"{self.worst:.3g} {'ULP' if self.mode == 'bitwise' else self.mode}"
        return (str(self.index), self.name, self.op, attrs,
                f"{self.input_shape} -> {self.output_shape}", self.verdict, worst,
                ", ".join(self.registry))

    def to_json(self) -> dict:
        d = asdict(self)
        d["input_shape"], d["output_shape"] = list(self.input_shape), list(self.output_shape)
        d["registry"] = list(self.registry)
        return d


def pad_reference(x: np.ndarray, pads: np.ndarray, value) -> np.ndarray:
    """LiteRT PAD / PADV2: constant padding (``value``: 0, the zero point, or PADV2's
    constant). Spatial zero padding of float NHWC input is :func:`pooling_ref.zero_pad`."""
    pads = [tuple(int(v) for v in p) for p in pads]
    spatial_only = x.ndim == 4 and pads[0] == pads[3] == (0, 0)
    if spatial_only and x.dtype.kind == "f" and value == 0:
        return zero_pad(x, tuple(pads[1:3]))
    return np.pad(x, pads, constant_values=np.asarray(value, x.dtype))


def conv_reference(x, kernel_hwio, bias, attrs: dict, groups: int):
    """Float LiteRT convolution: :func:`pooling_ref.conv` then the activation clamp (the
    float kernels clamp to [lowest, max] without an activation); returns (result, bound)."""
    params = dict(strides=attrs["strides"], padding=attrs["padding"].lower(),
                  dilation_rate=attrs["dilation"], groups=groups)
    y = conv(x, kernel_hwio, bias, **params)
    low, high = litert.activation_range(attrs["activation"])
    y = np.clip(y, low, high).astype(y.dtype)
    return y, conv_bound(x, kernel_hwio, bias, **params)


def quantized_conv_check(q, in_q, w, w_scales, bias, out_q, attrs, groups, got):
    """Integer convolution, checked within one quantization step of the exact result (no
    bitwise rule: the kernels requantize with fixed-point or float multipliers of their
    own). Returns (ok, worst distance in steps)."""
    (s_in, z_in), (s_out, z_out) = in_q, out_q
    x = (q.astype(np.float64) - z_in) * s_in
    k = w.astype(np.float64) * w_scales
    b = None if bias is None else bias.astype(np.float64) * s_in * np.ravel(w_scales)
    params = dict(strides=attrs["strides"], padding=attrs["padding"].lower(),
                  dilation_rate=attrs["dilation"], groups=groups)
    exact = conv(x, k, b, **params, method="im2col") / s_out + z_out
    low, high = litert.quantized_activation_range(attrs["activation"], s_out, z_out,
                                                  got.dtype)
    exact = np.clip(exact, low, high)
    worst = float(np.max(np.abs(got.astype(np.float64) - exact), initial=0.0))
    return worst <= 1.0, worst


def bitwise(got: np.ndarray, want: np.ndarray) -> tuple[bool, float]:
    c = compare(got, want)
    return c.ok, float(c.max_ulp)


def nodes(n: int) -> str:
    """``"1 node"``, ``"5 nodes"``."""
    return f"{n} node{'' if n == 1 else 's'}"


def table(results: list[NodeResult]) -> str:
    """The results as an aligned text table, one node a row, and a summary line.

    >>> r = NodeResult(0, "y", "PAD", {"value": 0}, (1, 2), (1, 4), "float32", "match",
    ...                "bitwise", 0.0)
    >>> print(table([r]))
    #  node  op   attributes  shape             verdict  worst  registry
    -  ----  ---  ----------  ----------------  -------  -----  --------
    0  y     PAD  value=0     (1, 2) -> (1, 4)  match    0 ULP
    1 node, 1 checked, 0 differ

    A node without a reference is listed, not counted as checked:

    >>> u = NodeResult(1, "z", "RELU", {}, (1, 4), (1, 4), "float32", "unchecked",
    ...                "bitwise", 0.0)
    >>> print(table([r, u]).splitlines()[-1])
    2 nodes, 1 checked, 0 differ
    """
    head = ("#", "node", "op", "attributes", "shape", "verdict", "worst", "registry")
    rows = [head, *(r.row() for r in results)]
    widths = [max(len(row[c]) for row in rows) for c in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    failed = sum(r.failed for r in results)
    checked = sum(r.verdict != "unchecked" for r in results)
    lines.append(f"{nodes(len(results))}, {checked} checked, {failed} differ")
    return "\n".join(lines)


def draw_inputs(specs: list[tuple[tuple[int, ...], np.dtype]], seed: int) -> list[np.ndarray]:
    """One array per (shape, dtype): standard normal floats, uniform integers over the
    dtype's range (an unknown size, -1 or 0, drawn as 1).

    >>> [a.shape for a in draw_inputs([((1, -1, 3), np.dtype("float32"))], 0)]
    [(1, 1, 3)]
    """
    rng = np.random.default_rng(seed)
    drawn = []
    for shape, dtype in specs:
        shape = [max(1, int(s)) for s in shape]
        if dtype.kind == "f":
            drawn.append(rng.standard_normal(shape).astype(dtype))
        elif dtype.kind == "b":
            drawn.append(rng.integers(0, 2, shape).astype(dtype))
        else:
            info = np.iinfo(dtype)
            drawn.append(rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype))
    return drawn


def given_inputs(inputs: object, specs: list[tuple[tuple, np.dtype]]) -> list[np.ndarray]:
    """The user's ``inputs`` (an array or a list of arrays, one per model input) in the
    model's dtypes: a float array may be given for a float input of another width, an
    integer array for an integer input whose range holds its values; anything else is a
    ``TypeError`` naming the input.

    >>> given_inputs(np.zeros(2), [((2,), np.dtype("float32"))])[0].dtype
    dtype('float32')
    """
    given = [inputs] if isinstance(inputs, np.ndarray) else list(inputs)
    if len(given) != len(specs):
        raise ValueError(f"inputs: the model takes {len(specs)} input(s), got {len(given)}")
    out = []
    for i, (a, (_, dtype)) in enumerate(zip(given, specs)):
        a = np.asarray(a)
        same_kind = (a.dtype.kind == "f") == (dtype.kind == "f")
        if not same_kind or (dtype.kind in "iu" and a.size and not (
                np.iinfo(dtype).min <= a.min() and a.max() <= np.iinfo(dtype).max)):
            raise TypeError(f"inputs[{i}]: the model's input {i} is {dtype.name}, got an "
                            f"array of {a.dtype.name}" + ("" if not same_kind else
                                                          " with values outside its range"))
        out.append(a.astype(dtype))
    return out
