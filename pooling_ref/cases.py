"""Reproducible random cases that reach the corners where pooling/conv implementations err.

Used by :func:`pooling_ref.check` (the oracle) and by ``pooling-ref verify``. NumPy only.

>>> cs = generate_cases("max_pool2d", 3, seed=0)
>>> [c.op for c in cs], cs[0].x.dtype.name
(['max_pool2d', 'max_pool2d', 'max_pool2d'], 'float32')

Each :class:`Case` holds the input ``x`` and the keyword arguments the op is called with
(``params``; for convolution these include the ``kernel`` and ``bias`` arrays). Optional
arguments are sometimes omitted so that defaults are exercised, and given sometimes as an
int, sometimes as a tuple. Corners drawn on purpose:

* ``"same"`` padding with odd and even total padding (the odd cell goes after), windows
  equal to and larger than the input; ``"valid"`` windows equal to the input;
* strides omitted, 1, equal to, smaller and larger than the window; non-square windows and
  strides on spatial axes of different lengths (so swapped axes show);
* both data formats (and the format omitted), batch and channel counts > 1 and different
  from each other and from the spatial lengths, size-1 axes;
* values all negative (so zero padding instead of -inf padding shows in max pooling),
  all positive, mixed, or small integers;
* convolution: dilation, groups (including depthwise), bias present or omitted,
  non-square kernels, input and output channel counts that differ;
* zero padding: an int, one int per axis, or asymmetric ``(before, after)`` pairs.

The first cases are the smallest; sizes grow with the case index.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["FAMILIES", "GLOBAL_OPS", "OPS", "Case", "generate_cases", "op_family"]

FAMILIES = ("max_pool", "avg_pool", "zero_pad", "conv")
#: The ops the oracle knows, as in API.md.
OPS = tuple(f"{fam}{r}d" for fam in FAMILIES for r in (1, 2, 3))
#: Global pooling ops (``pooling-ref verify`` only).
GLOBAL_OPS = tuple(f"global_{k}_pool{r}d" for k in ("max", "avg") for r in (1, 2, 3))
DTYPES = ("float16", "float32", "float64")

_ARRAY_PARAMS = ("kernel", "bias")


def op_family(op: str) -> tuple[str, int]:
    """Family and spatial rank of an op name.

    >>> op_family("conv2d")
    ('conv', 2)
    """
    return op[:-2], int(op[-2])


@dataclass
class Case:
    """One call: ``op``'s function applied to ``x`` with keyword arguments ``params``."""

    op: str
    x: np.ndarray
    params: dict = field(default_factory=dict)

    @property
    def family(self) -> str:
        return op_family(self.op)[0]

    @property
    def rank(self) -> int:
        return op_family(self.op)[1]

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """``x`` and the array-valued parameters (``kernel``, ``bias``), in call order."""
        out = {"x": self.x}
        out.update({k: v for k, v in self.params.items() if k in _ARRAY_PARAMS})
        return out

    @property
    def scalar_params(self) -> dict:
        return {k: v for k, v in self.params.items() if k not in _ARRAY_PARAMS}

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: tuple(v.shape) for k, v in self.arrays.items()}

    @property
    def channels_first(self) -> bool:
        return self.params.get("data_format") == "channels_first"

    def size_key(self) -> tuple[int, int]:
        """Smaller is simpler: (total array elements, parameter complexity)."""
        elements = sum(int(a.size) for a in self.arrays.values())
        return elements, sum(_complexity(k, v) for k, v in self.scalar_params.items())

    def describe(self) -> str:
        shapes = ", ".join(f"{k}{v}" for k, v in self.shapes.items())
        return f"{self.op}({shapes}, {self.scalar_params}) [{self.x.dtype.name}]"


def _complexity(name: str, value: object) -> int:
    if isinstance(value, str):
        return {"channels_last": 1, "valid": 1}.get(value, 2)
    if isinstance(value, (tuple, list)):
        return 1 + len(value) + sum(_complexity(name, v) for v in value)
    if value is None:
        return 1
    return 1 + int(value)


# ----------------------------------------------------------------------------- drawing


def _values(rng: np.random.Generator, shape: tuple[int, ...], dtype: str,
            mode: str) -> np.ndarray:
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


def _int_or_tuple(rng: np.random.Generator, values: list[int]) -> int | tuple[int, ...]:
    """An int when all values agree and a coin says so; a tuple otherwise."""
    if len(set(values)) == 1 and rng.random() < 0.5:
        return int(values[0])
    return tuple(int(v) for v in values)


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


def _data_format(rng: np.random.Generator, params: dict) -> str | None:
    fmt = rng.choice(["omit", "channels_last", "channels_first"], p=[0.25, 0.25, 0.5])
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


def _pool_case(rng: np.random.Generator, op: str, rank: int, index: int,
               dtype: str) -> Case:
    params: dict = {}
    n, c = _batch_channels(rng)
    spatial = _spatial(rng, rank, _limit(index, rank))
    padding = str(rng.choice(["valid", "same"]))
    window = [_window(rng, s, padding) for s in spatial]
    if rank > 1 and rng.random() < 0.4:              # non-square window
        i = int(rng.integers(rank))
        window[i] = max(1, min(window[i] + 1, spatial[i]) if padding == "valid"
                        else window[i] + 1)
    params["pool_size"] = _int_or_tuple(rng, window)
    strides_mode = rng.random()
    if strides_mode >= 0.3:                          # else: omitted (strides = pool_size)
        params["strides"] = _int_or_tuple(rng, [_stride(rng, k) for k in window])
    if padding == "same" or rng.random() < 0.6:
        params["padding"] = padding
    fmt = _data_format(rng, params)
    x = _values(rng, _layout(n, spatial, c, fmt), dtype, _value_mode(rng))
    return Case(op, x, params)


def _zero_pad_case(rng: np.random.Generator, op: str, rank: int, index: int,
                   dtype: str) -> Case:
    params: dict = {}
    n, c = _batch_channels(rng)
    spatial = _spatial(rng, rank, _limit(index, rank))
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
    fmt = _data_format(rng, params)
    x = _values(rng, _layout(n, spatial, c, fmt), dtype, _value_mode(rng))
    return Case(op, x, params)


def _conv_case(rng: np.random.Generator, op: str, rank: int, index: int,
               dtype: str) -> Case:
    params: dict = {}
    n = int(rng.choice([1, 2, 3], p=[0.45, 0.4, 0.15]))
    kind = rng.choice(["plain", "grouped", "depthwise"], p=[0.5, 0.25, 0.25])
    groups = 1 if kind == "plain" else int(rng.integers(2, 4))
    cin_g = 1 if kind == "depthwise" else int(rng.integers(1, 4))
    f_g = int(rng.integers(1, 4))
    if kind == "plain" and cin_g == f_g and rng.random() < 0.7:
        f_g += 1                                      # asymmetric channel counts
    c_in, filters = groups * cin_g, groups * f_g
    spatial = _spatial(rng, rank, _limit(index, rank))
    padding = str(rng.choice(["valid", "same"]))
    dilated = rng.random() < 0.3
    dilation = [int(rng.integers(1, 4)) if dilated else 1 for _ in range(rank)]
    if dilated and rng.random() < 0.4:
        dilation = [int(rng.integers(2, 4))] * rank
    kernel_size = []
    for s, d in zip(spatial, dilation):
        fit = s if padding == "same" else (s - 1) // d + 1   # largest k whose span fits
        k = _window(rng, fit, padding, span_limit=3)
        kernel_size.append(max(1, min(k, 4)))
    if rank > 1 and rng.random() < 0.4:               # non-square kernel
        i = int(rng.integers(rank))
        fit = spatial[i] if padding == "same" else (spatial[i] - 1) // dilation[i] + 1
        kernel_size[i] = min(kernel_size[i] + 1, max(fit, 1), 4)
    if dilated:
        if rng.random() < 0.7:
            params["dilation_rate"] = _int_or_tuple(rng, dilation)
        else:
            params["dilation_rate"] = tuple(dilation)
    elif rng.random() < 0.7:                          # strides only without dilation
        params["strides"] = _int_or_tuple(rng, [_stride(rng, k) for k in kernel_size])
    if padding == "same" or rng.random() < 0.6:
        params["padding"] = padding
    fmt = _data_format(rng, params)
    with_bias = rng.random() < (0.8 if fmt == "channels_first" else 0.5)
    if fmt == "channels_first" and with_bias and rng.random() < 0.5:
        # Keras' channels_first bias bug shows when the last output length equals filters
        w_out = _conv_out_length(spatial[-1], kernel_size[-1], params, rank, padding)
        if w_out % groups == 0 and 1 <= w_out // groups <= 4:
            f_g = w_out // groups
            filters = groups * f_g
    if groups > 1 or rng.random() < 0.2:
        params["groups"] = groups
    mode = _value_mode(rng)
    x = _values(rng, _layout(n, spatial, c_in, fmt), dtype, mode)
    kernel = _values(rng, (*kernel_size, cin_g, filters), dtype,
                     "ints" if mode == "ints" else "mixed")
    ordered: dict = {"kernel": kernel}
    if with_bias:
        ordered["bias"] = _values(rng, (filters,), dtype, "ints" if mode == "ints" else "mixed")
    ordered.update(params)
    return Case(op, x, ordered)


def _conv_out_length(n: int, k: int, params: dict, rank: int, padding: str) -> int:
    s = params.get("strides", 1)
    d = params.get("dilation_rate", 1)
    s = s[-1] if isinstance(s, tuple) else s
    d = d[-1] if isinstance(d, tuple) else d
    if padding == "same":
        return -(-n // s)
    return (n - d * (k - 1) - 1) // s + 1


_DRAW = {"max_pool": _pool_case, "avg_pool": _pool_case, "zero_pad": _zero_pad_case,
         "conv": _conv_case}


def _global_case(rng: np.random.Generator, op: str, rank: int, index: int,
                 dtype: str) -> Case:
    params: dict = {}
    n, c = _batch_channels(rng)
    spatial = _spatial(rng, rank, _limit(index, rank) + 1)
    fmt = _data_format(rng, params)
    if rng.random() < 0.5:
        params["keepdims"] = bool(rng.random() < 0.5)
    x = _values(rng, _layout(n, spatial, c, fmt), dtype, _value_mode(rng))
    return Case(op, x, params)


def check_op(op: object, valid: tuple[str, ...] = OPS) -> str:
    if not isinstance(op, str) or op not in valid:
        raise ValueError(f"op must be one of {', '.join(valid)}; got {op!r}")
    return op


def check_dtype(dtype: object) -> str:
    try:
        name = np.dtype(dtype).name  # type: ignore[call-overload]
    except TypeError:
        name = None
    if name not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
    return name


def generate_cases(op: str, n: int, seed: int = 0, dtype: str = "float32") -> list[Case]:
    """``n`` cases for ``op`` drawn from ``np.random.default_rng(seed)``, smallest first.

    >>> a, b = generate_cases("conv1d", 5, seed=3), generate_cases("conv1d", 5, seed=3)
    >>> all(np.array_equal(p.x, q.x) and p.params.keys() == q.params.keys() for p, q in zip(a, b))
    True
    """
    op = check_op(op, OPS + GLOBAL_OPS)
    dtype = check_dtype(dtype)
    family, rank = op_family(op)
    draw = _global_case if op in GLOBAL_OPS else _DRAW[family]
    rng = np.random.default_rng(seed)
    return [draw(rng, op, rank, i, dtype) for i in range(n)]
