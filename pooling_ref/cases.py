"""Reproducible random cases that reach the corners where pooling/conv implementations err.

Used by :func:`pooling_ref.check` (the oracle), :mod:`pooling_ref.strategies` and
``pooling-ref verify``. NumPy only.

>>> cs = generate_cases("max_pool2d", 3, seed=0)
>>> [c.op for c in cs], cs[0].x.dtype.name
(['max_pool2d', 'max_pool2d', 'max_pool2d'], 'float32')

Each :class:`Case` holds the input ``x`` and the keyword arguments the op is called with
(``params``; for convolution these include the ``kernel`` and ``bias`` arrays), and
``corner``: the value / size class it was drawn for. Corners drawn on purpose:

* geometry: ``"same"`` padding with odd and even total padding, windows equal to and
  larger than the input, strides omitted / smaller / equal / larger than the window,
  non-square windows and strides, both data formats (and the format omitted), size-1
  axes; convolution: dilation, groups (including depthwise), bias present or omitted;
  zero padding: an int, one int per axis, or asymmetric ``(before, after)`` pairs;
* special values (every other case): NaN, +inf or -inf placed at the first, the middle or
  the last real cell of one window; windows of only NaN or only -inf; ties of equal
  values and of ``-0.0`` / ``+0.0``; the largest finite values (sums overflow);
  subnormals; for integer dtypes the dtype's limits and values beyond ``2**24`` (which a
  float32 conversion cannot tell apart);
* sizes that straddle SIMD packets and tiles (every tenth case): channels, filters and
  batch just past a multiple of 4, 8 and 16 (5, 9, 17, 33), output rows of 17, 33 or 65
  (nearly always "valid"), with values rising (rows; channels and batch alternately
  falling) in row-major order, so that each window's maximum sits in its last (first) cell.

The first cases are the smallest; sizes grow with the case index. ``supports`` (a dict
from a parameter name to the values a candidate implements) restricts every draw; see
:class:`Supports`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .dtypes import finfo, is_float_dtype
from .geometry import normalize_data_format, normalize_padding, plan_window
from .ops import OPS, OpSpec, forward_of, is_gradient, spec
from .padding import normalize_zero_padding

__all__ = ["CORNERS", "OPS", "Case", "Supports", "check_dtype", "draw_case", "generate_cases"]

FLOAT_DTYPES = ("float16", "float32", "float64", "bfloat16")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")

#: Special-value corners of float inputs, cycled through on every other case.
FLOAT_CORNERS = (
    "nan first", "nan middle", "nan last", "-inf first", "+inf middle", "-inf last",
    "all-nan window", "all--inf window", "signed-zero ties", "ties", "largest finite",
    "subnormal",
)
#: Special-value corners of integer inputs.
INT_CORNERS = ("int limits", "beyond 2**24", "ties", "int limits", "beyond 2**24")
#: Size corners (every tenth case).
TILE_CORNERS = ("channels 9", "rows 17", "batch 5", "channels 17", "rows 33",
                "channels 5", "batch 9", "rows 65", "channels 33")
CORNERS = FLOAT_CORNERS + INT_CORNERS + TILE_CORNERS


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
        return self.params.get("data_format") == "channels_first"

    @property
    def spatial(self) -> tuple[int, ...]:
        return self.x.shape[2:] if self.channels_first else self.x.shape[1:-1]

    def call_args(self) -> tuple[list, dict]:
        """``(args, kwargs)`` of the call (see :meth:`OpSpec.split`)."""
        return self.spec.split(self.arrays, self.scalar_params)

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


def _complexity(value: object) -> int:
    if isinstance(value, str):
        return {"channels_last": 1, "valid": 1}.get(value, 2)
    if isinstance(value, (tuple, list)):
        return 1 + len(value) + sum(_complexity(v) for v in value)
    if value is None or isinstance(value, bool):
        return 1
    return 1 + int(value)


# ----------------------------------------------------------------------------- dtypes


def check_dtype(dtype: object, op: str | None = None) -> np.dtype:
    """The dtype named by ``dtype`` if ``op`` accepts it, else ``ValueError``.

    >>> check_dtype("int32", "max_pool1d").name
    'int32'
    """
    ints = op is None or spec(op).int_dtypes
    valid = FLOAT_DTYPES + (INT_DTYPES if ints else ())
    try:
        if dtype is None:
            raise TypeError
        name = "bfloat16" if dtype == "bfloat16" else np.dtype(dtype).name  # type: ignore
    except TypeError:
        name = repr(dtype)
    if name not in valid:
        where = f" for {op}" if op else ""
        raise ValueError(f"dtype must be one of {', '.join(valid)}{where}; got {dtype!r}")
    if name == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:
            raise ValueError("dtype 'bfloat16' needs the ml_dtypes package "
                             "(pip install ml_dtypes)") from None
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


# ----------------------------------------------------------------------------- supports


_DEFAULTS = {"padding": "valid", "data_format": "channels_last", "dilation_rate": 1,
             "groups": 1, "keepdims": False, "bias": None}
_TUPLES = ("pool_size", "strides", "dilation_rate", "kernel_size")


class Supports:
    """The parameter values a candidate implements (``check(..., supports=...)``).

    >>> s = Supports("conv2d", {"groups": [1], "bias": [None], "padding": ["valid"]})
    >>> s.left_out()
    ['groups other than 1', 'bias given (bias=[None])', "padding other than 'valid'"]

    Keys are parameter names of the op (``kernel_size`` and ``bias`` for convolution);
    values are lists of plain parameter values; an int stands for the same value on every
    axis and ``None`` in ``bias`` for "no bias". ``ValueError`` for an unknown key, an
    invalid value or an empty list.
    """

    def __init__(self, op: str, supports: dict | None = None):
        if supports is not None and not isinstance(supports, dict):
            raise TypeError(f"supports must be None or a dict, got {supports!r}")
        self.op, self.spec = op, spec(op)
        self.given = dict(supports or {})
        self.allowed: dict[str, list] = {}
        for key, values in self.given.items():
            if key not in self.spec.supportable:
                raise ValueError(f"supports: unknown key {key!r} for {op}; valid keys: "
                                 f"{', '.join(self.spec.supportable)}")
            if isinstance(values, (str, int, tuple)) or values is None:
                values = [values]
            values = list(values)
            if not values:
                raise ValueError(f"supports[{key!r}] is empty: nothing to draw for {op}")
            self.allowed[key] = [self._norm(key, v) for v in values]

    def _norm(self, key: str, value: object) -> object:
        r = self.spec.rank
        try:
            if key in _TUPLES:
                t = tuple(int(v) for v in value) if isinstance(value, (tuple, list)) else (
                    (int(value),) * r)  # type: ignore[call-overload]
                if len(t) != r or min(t) < 1:
                    raise ValueError
                return t
            if key == "padding" and self.spec.family == "zero_pad":
                return normalize_zero_padding(value, r)
            if key == "padding":
                return normalize_padding(value)
            if key == "data_format":
                return normalize_data_format(value)
            if key == "groups":
                if isinstance(value, bool) or int(value) != value or value < 1:
                    raise ValueError
                return int(value)
            if key == "keepdims":
                if not isinstance(value, bool):
                    raise ValueError
                return value
            if key == "bias":
                if value is not None:
                    raise ValueError
                return None
        except (TypeError, ValueError):
            pass
        else:
            raise AssertionError(key)  # pragma: no cover
        raise ValueError(f"supports[{key!r}]: invalid value {value!r} for {self.op}")

    def restricted(self, key: str) -> bool:
        return key in self.allowed

    def effective(self, case: Case) -> dict:
        """The value of each restricted parameter in ``case`` (defaults filled in)."""
        p, out = case.params, {}
        for key in self.allowed:
            if key == "kernel_size":
                v = tuple(p["kernel"].shape[: self.spec.rank])
            elif key == "bias":
                v = p.get("bias")
                v = None if v is None else "given"
            elif key == "strides" and "strides" not in p:
                v = p.get("pool_size", 1)
            else:
                v = p.get(key, _DEFAULTS.get(key))
            out[key] = v if v == "given" else self._norm(key, v)
        return out

    def admits(self, case: Case) -> bool:
        return all(v in self.allowed[k] for k, v in self.effective(case).items())

    def pick(self, rng: np.random.Generator, key: str, options: list, p=None):
        """A random option (weights ``p``) among those ``supports`` allows."""
        if key in self.allowed:
            keep = [i for i, o in enumerate(options)
                    if self._norm(key, _DEFAULTS.get(key) if o == "omit" else o)
                    in self.allowed[key]]
            if not keep:
                return self.given_value(rng, key)
            options = [options[i] for i in keep]
            if p is not None:
                p = np.array([p[i] for i in keep], dtype=float)
                p = p / p.sum()
        return options[int(rng.choice(len(options), p=p))]

    def given_value(self, rng: np.random.Generator, key: str):
        """One of the values listed for ``key``, as the user wrote it."""
        values = self.given[key]
        if isinstance(values, (str, int, tuple)) or values is None:
            values = [values]
        return list(values)[int(rng.integers(len(values)))]

    def window(self, rng: np.random.Generator, key: str) -> tuple[int, ...] | None:
        """A listed value of an int-or-tuple parameter as a tuple, or ``None``."""
        if key not in self.allowed:
            return None
        return self.allowed[key][int(rng.integers(len(self.allowed[key])))]

    def left_out(self) -> list[str]:
        """What ``supports`` keeps out of the draws, in words."""
        out = []
        for key, values in self.allowed.items():
            if key == "bias":
                out.append("bias given (bias=[None])")
                continue
            shown = [v if key not in _TUPLES or len(set(v)) > 1 else v[0] for v in values]
            if key == "padding" and self.spec.family == "zero_pad":
                shown = list(values)
            text = " or ".join(repr(v) for v in shown)
            out.append(f"{key} other than {text}")
        return out


# ----------------------------------------------------------------------------- drawing


def _plain(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype,
           mode: str) -> np.ndarray:
    if not is_float_dtype(dtype):
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -50), min(info.max, 50) + 1, size=shape).astype(dtype)
    if mode == "ints":
        a = rng.integers(-4, 5, size=shape).astype(np.float64)
    else:
        a = rng.standard_normal(shape) * 2.0
        if mode == "negative":
            a = -(np.abs(a) + 0.25)
        elif mode == "positive":
            a = np.abs(a) + 0.25
    return a.astype(dtype)


def _value_mode(rng: np.random.Generator) -> str:
    return str(rng.choice(["mixed", "negative", "positive", "ints"], p=[0.4, 0.3, 0.1, 0.2]))


def _int_or_tuple(rng: np.random.Generator, values: Iterable[int]) -> int | tuple[int, ...]:
    """An int when all values agree and a coin says so; a tuple otherwise."""
    values = [int(v) for v in values]
    if len(set(values)) == 1 and rng.random() < 0.5:
        return values[0]
    return tuple(values)


def _batch_channels(rng: np.random.Generator) -> tuple[int, int]:
    n = int(rng.choice([1, 2, 3], p=[0.4, 0.4, 0.2]))
    c = int(rng.choice([1, 2, 3, 4], p=[0.25, 0.3, 0.3, 0.15]))
    return n, c


def _spatial(rng: np.random.Generator, rank: int, limit: int) -> list[int]:
    sizes = [int(rng.integers(1, limit + 1)) for _ in range(rank)]
    if rank > 1 and rng.random() < 0.6:            # make axes differ so swaps show
        i = int(rng.integers(rank))
        sizes[i] = sizes[(i + 1) % rank] + int(rng.integers(1, 3))
    return sizes


def _limit(index: int, rank: int) -> int:
    """Spatial size limit: the first cases are tiny, later ones a little larger."""
    grow = index // 12 if rank < 3 else index // 25
    return 2 + min(grow, {1: 8, 2: 5, 3: 3}[rank])


def _layout(n: int, spatial: list[int], c: int, data_format: str | None) -> tuple:
    if data_format == "channels_first":
        return (n, c, *spatial)
    return (n, *spatial, c)


def _data_format(rng: np.random.Generator, params: dict, sup: Supports) -> str | None:
    fmt = sup.pick(rng, "data_format", ["omit", "channels_last", "channels_first"],
                   [0.25, 0.25, 0.5])
    if fmt != "omit":
        params["data_format"] = str(fmt)
        return str(fmt)
    return None


def _window(rng: np.random.Generator, n: int, padding: str, span_limit: int = 4) -> int:
    """A window length for an axis of length ``n``: equal to ``n`` or larger (same) often."""
    r = rng.random()
    if r < 0.2:
        return n
    if r < 0.3 and padding == "same":
        return n + int(rng.integers(1, 3))
    return int(rng.integers(1, max(1, min(n, span_limit)) + 1))


def _stride(rng: np.random.Generator, window: int) -> int:
    r = rng.random()
    if r < 0.3:
        return 1
    if r < 0.5:
        return window
    if r < 0.75:
        return window + int(rng.integers(1, 3))      # larger than the window
    return int(rng.integers(1, 4))


@dataclass
class _Sizes:
    """Batch, channels (filters) and the wanted output length of the last spatial axis."""

    n: int
    c: int
    filters: int | None = None
    row: int | None = None


def _sizes(rng: np.random.Generator, corner: str) -> _Sizes:
    n, c = _batch_channels(rng)
    s = _Sizes(n, c)
    kind, _, value = corner.partition(" ")
    if kind == "channels":
        s.c = int(value)
        s.filters = int(rng.choice([5, 9, 17]))
    elif kind == "batch":
        s.n = int(value)
    elif kind == "rows":
        s.row = int(value)
    return s


def _row_padding_p(sz: _Sizes) -> list[float] | None:
    """Long rows mostly "valid": with "same" the last window's last cell is often padding,
    which hides a tail tile that drops it."""
    return [0.95, 0.05] if sz.row else None


def _fit_row(spatial: list[int], window: tuple[int, ...], strides: tuple[int, ...],
             dilation: tuple[int, ...], padding: str, row: int | None) -> None:
    """Lengthen the last spatial axis so that its output length is ``row``."""
    if row is None:
        return
    span = dilation[-1] * (window[-1] - 1) + 1
    s = strides[-1]
    spatial[-1] = row * s if padding == "same" else (row - 1) * s + span


def _pool_case(rng, op: str, rank: int, index: int, dtype, sup: Supports, corner: str):
    params: dict = {}
    sz = _sizes(rng, corner)
    spatial = _spatial(rng, rank, _limit(index, rank))
    padding = sup.pick(rng, "padding", ["valid", "same"], _row_padding_p(sz))
    fixed = sup.window(rng, "pool_size")
    if fixed is not None:
        window = list(fixed)
        if normalize_padding(padding) == "valid":
            spatial = [max(s, k) for s, k in zip(spatial, window)]
    else:
        window = [_window(rng, s, padding) for s in spatial]
        if rank > 1 and rng.random() < 0.4:              # non-square window
            i = int(rng.integers(rank))
            window[i] = max(1, min(window[i] + 1, spatial[i]) if padding == "valid"
                            else window[i] + 1)
    if corner in FLOAT_CORNERS + INT_CORNERS and fixed is None:
        # special values need windows of several cells (first != last, ties)
        spatial = [max(n, 2) for n in spatial]
        window = [max(k, 2) for k in window]
    params["pool_size"] = _int_or_tuple(rng, window)
    fixed_s = sup.window(rng, "strides")
    if fixed_s is not None:
        params["strides"] = _int_or_tuple(rng, fixed_s)
    elif rng.random() >= 0.3:                          # else: omitted (strides = pool_size)
        params["strides"] = _int_or_tuple(rng, [_stride(rng, k) for k in window])
    strides = np.broadcast_to(params.get("strides", params["pool_size"]), (rank,))
    _fit_row(spatial, tuple(window), tuple(strides), (1,) * rank, str(padding).lower(),
             sz.row)
    if str(padding).lower() == "same" or rng.random() < 0.6 or not _omit_ok(sup, "padding"):
        params["padding"] = padding
    fmt = _data_format(rng, params, sup)
    x = _plain(rng, _layout(sz.n, spatial, sz.c, fmt), dtype, _value_mode(rng))
    return x, params


def _omit_ok(sup: Supports, key: str) -> bool:
    return not sup.restricted(key) or sup._norm(key, _DEFAULTS[key]) in sup.allowed[key]


def _zero_pad_case(rng, op: str, rank: int, index: int, dtype, sup: Supports, corner: str):
    params: dict = {}
    sz = _sizes(rng, corner)
    spatial = _spatial(rng, rank, _limit(index, rank))
    if sz.row:
        spatial[-1] = sz.row
    if sup.restricted("padding"):
        params["padding"] = sup.given_value(rng, "padding")
    else:
        form = rng.choice(["omit", "int", "ints", "pairs"], p=[0.15, 0.2, 0.25, 0.4])
        if form == "int":
            params["padding"] = int(rng.integers(0, 3))
        elif form == "ints":
            params["padding"] = tuple(int(v) for v in rng.integers(0, 3, size=rank))
        elif form == "pairs":
            pairs = []
            for _ in range(rank):
                b = int(rng.integers(0, 3))
                a = int(rng.integers(0, 3))
                if a == b and rng.random() < 0.7:
                    a = b + 1                            # asymmetric
                pairs.append((b, a))
            params["padding"] = tuple(pairs)
    fmt = _data_format(rng, params, sup)
    x = _plain(rng, _layout(sz.n, spatial, sz.c, fmt), dtype, _value_mode(rng))
    return x, params


def _conv_case(rng, op: str, rank: int, index: int, dtype, sup: Supports, corner: str):
    params: dict = {}
    sz = _sizes(rng, corner)
    n = sz.n if corner.startswith("batch") else int(rng.choice([1, 2, 3], p=[0.45, 0.4, 0.15]))
    kinds = {"plain": 1, "grouped": int(rng.integers(2, 4)), "depthwise": int(rng.integers(2, 4))}
    if sup.restricted("groups"):
        g = int(sup.given_value(rng, "groups"))
        kind = "plain" if g == 1 else str(rng.choice(["grouped", "depthwise"]))
        kinds[kind] = g
    elif corner.startswith("channels"):
        kind = "plain"
    else:
        kind = str(rng.choice(["plain", "grouped", "depthwise"], p=[0.5, 0.25, 0.25]))
    groups = kinds[kind]
    cin_g = 1 if kind == "depthwise" else int(rng.integers(1, 4))
    f_g = int(rng.integers(1, 4))
    if kind == "plain" and cin_g == f_g and rng.random() < 0.7:
        f_g += 1                                      # asymmetric channel counts
    if corner.startswith("channels"):                 # straddle packets in C_in and filters
        cin_g = 1 if kind == "depthwise" else -(-sz.c // groups)
        f_g = -(-(sz.filters or 5) // groups)
        if kind == "plain" and rng.random() < 0.5:   # the packet remainder in filters
            f_g = sz.c
    c_in, filters = groups * cin_g, groups * f_g
    spatial = _spatial(rng, rank, _limit(index, rank))
    padding = sup.pick(rng, "padding", ["valid", "same"], _row_padding_p(sz))
    pad_l = str(padding).lower()
    fixed_d = sup.window(rng, "dilation_rate")
    dilated = rng.random() < 0.3 if fixed_d is None else max(fixed_d) > 1
    if fixed_d is not None:
        dilation = list(fixed_d)
    else:
        dilation = [int(rng.integers(1, 4)) if dilated else 1 for _ in range(rank)]
        if dilated and rng.random() < 0.4:
            dilation = [int(rng.integers(2, 4))] * rank
    fixed_k = sup.window(rng, "kernel_size")
    if fixed_k is not None:
        kernel_size = list(fixed_k)
        if pad_l == "valid":
            spatial = [max(s, d * (k - 1) + 1) for s, k, d in zip(spatial, kernel_size,
                                                                  dilation)]
    else:
        kernel_size = []
        for s, d in zip(spatial, dilation):
            fit = s if pad_l == "same" else (s - 1) // d + 1   # largest k whose span fits
            k = _window(rng, fit, pad_l, span_limit=3)
            kernel_size.append(max(1, min(k, 4)))
        if rank > 1 and rng.random() < 0.4:               # non-square kernel
            i = int(rng.integers(rank))
            fit = spatial[i] if pad_l == "same" else (spatial[i] - 1) // dilation[i] + 1
            kernel_size[i] = min(kernel_size[i] + 1, max(fit, 1), 4)
    fixed_s = sup.window(rng, "strides")
    if fixed_d is not None or (dilated and fixed_s is None):
        if fixed_d is not None or rng.random() < 0.7:
            params["dilation_rate"] = _int_or_tuple(rng, dilation)
        else:
            params["dilation_rate"] = tuple(dilation)
    if fixed_s is not None:
        params["strides"] = _int_or_tuple(rng, fixed_s)
    elif not dilated and rng.random() < 0.7:          # strides only without dilation
        params["strides"] = _int_or_tuple(rng, [_stride(rng, k) for k in kernel_size])
    strides = tuple(np.broadcast_to(params.get("strides", 1), (rank,)))
    _fit_row(spatial, tuple(kernel_size), strides, tuple(dilation), pad_l, sz.row)
    if pad_l == "same" or rng.random() < 0.6 or not _omit_ok(sup, "padding"):
        params["padding"] = padding
    fmt = _data_format(rng, params, sup)
    with_bias = rng.random() < (0.8 if fmt == "channels_first" else 0.5)
    if sup.restricted("bias"):
        with_bias = False
    if (fmt == "channels_first" and with_bias and rng.random() < 0.5
            and not corner.startswith("channels")):
        # Keras' channels_first bias bug shows when the last output length equals filters
        w_out = _conv_out_length(spatial[-1], kernel_size[-1], params, pad_l)
        if w_out % groups == 0 and 1 <= w_out // groups <= 4:
            f_g = w_out // groups
            filters = groups * f_g
    if groups > 1 or rng.random() < 0.2 or (sup.restricted("groups") and not _omit_ok(
            sup, "groups")):
        params["groups"] = groups
    mode = _value_mode(rng)
    x = _plain(rng, _layout(n, spatial, c_in, fmt), dtype, mode)
    kmode = "ints" if mode == "ints" else "mixed"
    kernel = _plain(rng, (*kernel_size, cin_g, filters), dtype, kmode)
    ordered: dict = {"kernel": kernel}
    if with_bias:
        ordered["bias"] = _plain(rng, (filters,), dtype, kmode)
    ordered.update(params)
    return x, ordered


def _conv_out_length(n: int, k: int, params: dict, padding: str) -> int:
    s = params.get("strides", 1)
    d = params.get("dilation_rate", 1)
    s = s[-1] if isinstance(s, tuple) else s
    d = d[-1] if isinstance(d, tuple) else d
    if padding == "same":
        return -(-n // s)
    return (n - d * (k - 1) - 1) // s + 1


def _global_case(rng, op: str, rank: int, index: int, dtype, sup: Supports, corner: str):
    params: dict = {}
    sz = _sizes(rng, corner)
    spatial = _spatial(rng, rank, _limit(index, rank) + 1)
    if sz.row:
        spatial[-1] = sz.row
    fmt = _data_format(rng, params, sup)
    if sup.restricted("keepdims") or rng.random() < 0.5:
        params["keepdims"] = sup.pick(rng, "keepdims", [True, False])
    x = _plain(rng, _layout(sz.n, spatial, sz.c, fmt), dtype, _value_mode(rng))
    return x, params


_DRAW = {"max_pool": _pool_case, "avg_pool": _pool_case, "zero_pad": _zero_pad_case,
         "conv": _conv_case, "global_max_pool": _global_case,
         "global_avg_pool": _global_case}


# ----------------------------------------------------------------------------- special values


def _geometry(case: Case):
    """The window geometry of ``case`` (``None`` for ops without windows)."""
    p, rank = case.params, case.rank
    if case.family in ("max_pool", "avg_pool"):
        window = np.broadcast_to(p["pool_size"], (rank,))
        strides = np.broadcast_to(p.get("strides", p["pool_size"]), (rank,))
        dilation = (1,) * rank
    elif case.family == "conv":
        window = p["kernel"].shape[:rank]
        strides = np.broadcast_to(p.get("strides", 1), (rank,))
        dilation = np.broadcast_to(p.get("dilation_rate", 1), (rank,))
    else:
        return None
    return plan_window(tuple(case.spatial), tuple(int(v) for v in window),
                       tuple(int(v) for v in strides), p.get("padding", "valid"),
                       tuple(int(v) for v in dilation), case.op)


def window_cells(case: Case, out_index: tuple[int, ...]) -> list[list[int]]:
    """Per spatial axis, the real (unpadded) input positions of output window ``out_index``.

    For ops without windows (zero padding, global pooling), every position of each axis.

    >>> c = Case("max_pool1d", np.zeros((1, 5, 1), np.float32), {"pool_size": 3,
    ...          "strides": 2, "padding": "same"})
    >>> window_cells(c, (2,))    # pads (1, 1): window 2 covers padded 4..6 = input 3, 4
    [[3, 4]]
    """
    g = _geometry(case)
    if g is None:
        return [list(range(n)) for n in case.spatial]
    cells = []
    for o, n, k, s, d, (b, _) in zip(out_index, g.in_spatial, g.window, g.strides,
                                     g.dilation, g.pads):
        cells.append([o * s + t * d - b for t in range(k) if 0 <= o * s + t * d - b < n])
    return cells


def _special(rng: np.random.Generator, case: Case, corner: str) -> None:
    """Put the special values of ``corner`` into ``case.x`` (in place)."""
    x, dtype = case.x, case.x.dtype
    if x.size == 0:
        return
    ca = 1 if case.channels_first else x.ndim - 1
    if is_float_dtype(dtype):
        fi = finfo(dtype)
        big, tiny = float(fi.max), float(fi.smallest_subnormal)
    if corner in ("ties", "signed-zero ties"):
        # mostly equal maxima: the window's maximum sits in several cells (of both signs)
        pool, p = ([1.0, 0.0, -1.0], [0.6, 0.2, 0.2]) if corner == "ties" else (
            [-0.0, 0.0, -1.0], [0.45, 0.45, 0.1])
        if not is_float_dtype(dtype):
            pool = [v if v >= np.iinfo(dtype).min else 0 for v in (1, 0, -1)]
        x[...] = np.asarray(pool, dtype=np.float64)[rng.choice(len(pool), size=x.shape, p=p)
                                                    ].astype(dtype)
        return
    if corner == "int limits":
        info = np.iinfo(dtype)
        choices = np.array([info.min, info.max, info.min + 1, info.max - 1, 0], dtype=dtype)
        mask = rng.random(x.shape) < 0.5
        x[mask] = choices[rng.integers(len(choices), size=int(mask.sum()))]
        return
    if corner == "beyond 2**24":
        hi = min(np.iinfo(dtype).max, 2**40)
        if hi <= 2**24:
            x[...] = np.iinfo(dtype).max - rng.integers(0, 3, size=x.shape).astype(dtype)
            return
        x[...] = (2**24 + rng.integers(0, 4, size=x.shape)).astype(dtype)
        if rng.random() < 0.5 and hi >= 2**40:
            x[...] = x * 4096 + rng.integers(0, 3, size=x.shape)
        return
    if corner == "subnormal":
        sub = (rng.integers(1, 8, size=x.shape) * tiny).astype(dtype)
        neg = rng.random(x.shape) < 0.3
        x[...] = np.where(neg, -sub, sub).astype(dtype)
        return
    # the rest concern one window of one batch entry (and one or all channels)
    batch = int(rng.integers(x.shape[0]))
    chans = (slice(None) if rng.random() < 0.5
             else slice(c := int(rng.integers(x.shape[ca])), c + 1))
    g = _geometry(case)
    out = (tuple(int(rng.integers(max(o, 1))) for o in g.out_spatial) if g is not None
           else (0,) * case.rank)
    cells = window_cells(case, out)
    if any(not c for c in cells):
        return
    word = corner.split()[-1]
    if corner.startswith("all-") or corner == "largest finite":
        value = {"all-nan window": np.nan, "all--inf window": -np.inf}.get(corner, big)
        if corner == "largest finite" and rng.random() < 0.5:
            value = -big
        pos = np.ix_(*cells)
    else:
        pick = {"first": 0, "middle": None, "last": -1}[word]
        pos = tuple(c[len(c) // 2] if pick is None else c[pick] for c in cells)
        value = {"nan": np.nan, "-inf": -np.inf, "+inf": np.inf}[corner.split()[0]]
    _assign(x, batch, pos, chans, case.channels_first, value)


def _ramp(case: Case, rising: bool) -> None:
    """Values rising (or falling) in row-major order of the spatial positions, in place:
    the maximum of every window sits in its last (first) real cell, so a tile remainder
    that drops a window cell shows."""
    x = case.x
    spatial = case.spatial
    order = np.arange(int(np.prod(spatial)), dtype=np.float64).reshape(spatial)
    if not rising:
        order = order[(slice(None, None, -1),) * len(spatial)]
    order = order[None, None] if case.channels_first else order[None, ..., None]
    if is_float_dtype(x.dtype):
        # exact integers whose window sums cannot overflow (float16: below 512, wrapping)
        fi = finfo(x.dtype)
        order = order % min(2.0 ** (fi.nmant + 1), float(fi.max) / 128)
        values = x.astype(np.float64) * 0.01 + order
    else:
        info = np.iinfo(x.dtype)
        values = np.clip(order + x.astype(np.float64) % 2, info.min, info.max)
    x[...] = values.astype(x.dtype)


def _assign(x: np.ndarray, batch: int, pos, chans, cf: bool, value: float) -> None:
    if isinstance(pos, tuple) and pos and isinstance(pos[0], np.ndarray):
        sub = x[batch][(chans, *pos)] if cf else x[batch][(*pos, chans)]
        sub = np.full_like(sub, value)
        if cf:
            x[batch][(chans, *pos)] = sub
        else:
            x[batch][(*pos, chans)] = sub
        return
    idx = (batch, chans, *pos) if cf else (batch, *pos, chans)
    x[idx] = value


def _corner(index: int, seed_perm: np.ndarray, dtype: np.dtype, op: OpSpec) -> str:
    """The corner class of case ``index``: plain, a special-value or a size class."""
    if index % 10 == 9:
        return TILE_CORNERS[(index // 10) % len(TILE_CORNERS)]
    if index % 2 == 0 or index < 3:
        return ""
    corners = FLOAT_CORNERS if is_float_dtype(dtype) else INT_CORNERS
    corners = tuple(c for c in corners if _corner_applies(c, dtype, op))
    slot = sum(1 for j in range(3, index) if j % 2 and j % 10 != 9)   # special cases before
    return corners[(int(seed_perm[0]) + slot) % len(corners)]          # round robin


def _corner_applies(corner: str, dtype: np.dtype, op: OpSpec) -> bool:
    if is_gradient(op):
        return _grad_corner_applies(corner, dtype, op)
    if corner == "largest finite" and op.family in ("avg_pool", "conv"):
        # sums of the largest values overflow; only float32/64 define which way (as TF)
        return op.family == "avg_pool" and dtype.name in ("float32", "float64")
    if corner in ("largest finite", "subnormal") and op.family == "conv":
        return False
    return True


def _with_grad_out(rng: np.random.Generator, s: OpSpec, x: np.ndarray, params: dict,
                   dtype: np.dtype) -> dict:
    """Parameters of a gradient op: those of its forward op that it takes, plus an upstream
    gradient ``grad_out`` shaped like the forward result (of the forward op's reference)."""
    forward = spec(f"{s.family.removesuffix('_grad')}{s.rank}d")
    arrays = {"x": x, **{k: v for k, v in params.items() if k in forward.arrays}}
    scalars = {k: v for k, v in params.items() if k not in forward.arrays}
    out = forward.run_reference(arrays, scalars)
    kept = {k: v for k, v in params.items() if k in s.arrays or k in s.params}
    return {**kept, "grad_out": _plain(rng, out.shape, dtype, "mixed")}


# ----------------------------------------------------------------------------- gradient ops
# Where backward passes go wrong: which of tied maxima gets the gradient (so max pooling
# gradients get small-integer inputs, full of ties, in half of their plain cases), what the
# special values of x route (max pooling; conv: grad_kernel) and what a NaN / inf upstream
# gradient does (average pooling: x does not matter, so its special values go to grad_out).

#: Special-value corners that go into ``grad_out`` for average pooling gradients.
_GRAD_OUT_CORNERS = ("nan first", "nan middle", "nan last", "-inf first", "+inf middle",
                     "-inf last", "signed-zero ties", "ties")


def _grad_corner_applies(corner: str, dtype: np.dtype, op: OpSpec) -> bool:
    if op.family == "avg_pool_grad":
        return corner in _GRAD_OUT_CORNERS
    # max_pool_grad: subnormal x too (TF's paths compare them as zeros, tf_kernel models it;
    # the specification, tf_kernel=None, compares them as IEEE numbers)
    return _corner_applies(corner, dtype, forward_of(op))


def _grad_ties(rng: np.random.Generator, s: OpSpec, x: np.ndarray, corner: str) -> np.ndarray:
    """Max pooling gradients: in half of the plain float cases, ``x`` of small integers."""
    if s.family != "max_pool_grad" or corner or not is_float_dtype(x.dtype):
        return x
    if rng.random() < 0.5:
        return rng.integers(-2, 3, size=x.shape).astype(x.dtype)
    return x


def _grad_special(rng: np.random.Generator, case: Case, corner: str) -> None:
    """The special values of ``corner``: in ``grad_out`` for average pooling gradients (one
    cell of NaN / inf, or a ``grad_out`` of ties / signed zeros), else in ``x``."""
    g = case.params["grad_out"]
    if case.family != "avg_pool_grad" or g.size == 0 or not is_float_dtype(g.dtype):
        _special(rng, case, corner)
        return
    if corner in ("ties", "signed-zero ties"):
        pool = [-2.0, -1.0, 0.0, 1.0, 2.0] if corner == "ties" else [-0.0, 0.0, -1.0]
        g[...] = np.asarray(pool)[rng.integers(len(pool), size=g.shape)].astype(g.dtype)
        return
    value = {"nan": np.nan, "-inf": -np.inf, "+inf": np.inf}[corner.split()[0]]
    at = {"first": 0, "middle": g.size // 2, "last": g.size - 1}[corner.split()[-1]]
    g.flat[at] = value


def generate_cases(op: str, n: int, seed: int = 0, dtype: object = "float32",
                   supports: dict | Supports | None = None, *,
                   special_values: bool = True) -> list[Case]:
    """``n`` cases for ``op`` drawn from ``np.random.default_rng(seed)``, smallest first.

    >>> a, b = generate_cases("conv1d", 5, seed=3), generate_cases("conv1d", 5, seed=3)
    >>> all(p.x.tobytes() == q.x.tobytes() and p.describe() == q.describe() for p, q in zip(a, b))
    True

    ``supports`` (see :class:`Supports`) restricts what is drawn; ``ValueError`` when it
    leaves nothing to draw. ``special_values=False`` keeps the size corners but draws no
    special values (``pooling-ref verify`` uses that: TF's kernel paths differ there).
    """
    dt = check_dtype(dtype, op)
    sup = supports if isinstance(supports, Supports) else Supports(op, supports)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(64)
    return [draw_case(rng, op, i, dt, sup, perm, special_values) for i in range(n)]


def draw_case(rng: np.random.Generator, op: str, index: int, dtype: np.dtype,
              sup: Supports, perm: np.ndarray, special_values: bool = True) -> Case:
    """Case number ``index`` of ``op`` (its size and corner class depend on ``index``)."""
    s = spec(op)
    draw = _DRAW[s.family.removesuffix("_grad")]
    corner = _corner(index, perm, dtype, s)
    for _attempt in range(60):
        x, params = draw(rng, op, s.rank, index, dtype, sup, corner)
        if "grad_out" in s.positional:
            params = _with_grad_out(rng, s, x, params, dtype)
            x = _grad_ties(rng, s, x, corner)
        case = Case(op, x, params, corner)
        if sup.admits(case) and (not sup.allowed or case.valid()):
            break
    else:
        raise ValueError(f"supports={sup.given!r} leaves nothing to draw for {op}")
    if corner in TILE_CORNERS:
        _ramp(case, rising=corner.startswith("rows") or (index // 10) % 2 == 0)
    if corner and corner not in TILE_CORNERS:
        if special_values:
            (_grad_special if is_gradient(s) else _special)(rng, case, corner)
        else:
            case.corner = ""
    return case
