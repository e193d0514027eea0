"""``supports=``: the parameter values and sizes a candidate implements.

>>> s = Supports("max_pool2d", {"batch": 1, "spatial": [4, (3, 5)], "padding": ["valid"]})
>>> s.left_out()
['batch other than 1', 'spatial other than 4 or (3, 5)', "padding other than 'valid'"]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._draw import Source
from .geometry import normalize_data_format, normalize_padding
from .ops import spec
from .padding import normalize_zero_padding

if TYPE_CHECKING:
    from ._case import Case

__all__ = ["SIZE_KEYS", "Supports"]

#: ``supports=`` keys that restrict sizes rather than parameters (``filters``: convolution).
SIZE_KEYS = ("batch", "channels", "spatial", "filters")

_DEFAULTS = {"padding": "valid", "data_format": "channels_last", "dilation_rate": 1,
             "groups": 1, "keepdims": False, "bias": None}
#: Keys whose values are an int (every spatial axis) or a tuple of one int per axis.
_TUPLES = ("pool_size", "strides", "dilation_rate", "kernel_size", "spatial")


class Supports:
    """The parameter values and sizes a candidate implements (``check(..., supports=...)``).

    >>> s = Supports("conv2d", {"groups": [1], "bias": [None], "padding": ["valid"]})
    >>> s.left_out()
    ['groups other than 1', 'bias given (bias=[None])', "padding other than 'valid'"]

    Keys are parameter names of the op (``kernel_size`` and ``bias`` for convolution) and
    the sizes ``batch``, ``channels`` (input channels), ``spatial`` (the input's spatial
    shape) and, for convolution, ``filters`` (output channels). Values are lists of plain
    values (one value alone is a list of one); an int stands for the same value on every
    axis in the window keys and ``spatial``, and ``None`` in ``bias`` for "no bias". Only
    such cases are drawn, and the shrinker keeps to them. ``ValueError`` naming the key for
    an unknown key, an invalid value or an empty list.
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
            values = _as_list(values)
            if not values:
                raise ValueError(f"supports[{key!r}] is empty: nothing to draw for {op}")
            self.allowed[key] = [self._norm(key, v) for v in values]

    def _norm(self, key: str, value: object) -> object:
        r = self.spec.rank
        try:
            if key in _TUPLES:
                t = tuple(_positive(v) for v in value) if isinstance(value, (tuple, list)) \
                    else (_positive(value),) * r
                if len(t) != r:
                    raise ValueError
                return t
            if key in SIZE_KEYS:
                return _positive(value)
            if key == "padding" and self.spec.family == "zero_pad":
                return normalize_zero_padding(value, r)
            if key == "padding":
                return normalize_padding(value)
            if key == "data_format":
                return normalize_data_format(value)
            if key == "groups":
                return _positive(value)
            if key == "keepdims" and isinstance(value, bool):
                return value
            if key == "bias" and value is None:
                return None
        except (TypeError, ValueError):
            pass
        raise ValueError(f"supports[{key!r}]: invalid value {value!r} for {self.op}")

    def restricted(self, key: str) -> bool:
        return key in self.allowed

    def effective(self, case: Case) -> dict:
        """The value of each restricted parameter or size in ``case`` (defaults filled in).

        >>> import numpy as np
        >>> from pooling_ref._case import Case
        >>> c = Case("max_pool1d", np.zeros((2, 5, 3)), {"pool_size": 2})
        >>> Supports("max_pool1d", {"batch": [1, 2], "strides": 2}).effective(c)
        {'batch': 2, 'strides': (2,)}
        """
        p, out = case.params, {}
        sizes = {"batch": case.x.shape[0], "channels": case.x.shape[case.channel_axis],
                 "spatial": tuple(case.spatial)}
        for key in self.allowed:
            if key in sizes:
                v = sizes[key]
            elif key == "filters":
                v = p["kernel"].shape[-1]
            elif key == "kernel_size":
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

    def omit_ok(self, key: str) -> bool:
        """Whether leaving parameter ``key`` out (its default) is allowed."""
        return not self.restricted(key) or self._norm(key, _DEFAULTS[key]) in self.allowed[key]

    def pick(self, src: Source, key: str, options: list, weights=None):
        """One option (``"omit"``: leave the parameter out), among those allowed."""
        if key in self.allowed:
            keep = [i for i, o in enumerate(options)
                    if self._norm(key, _DEFAULTS.get(key) if o == "omit" else o)
                    in self.allowed[key]]
            if not keep:
                return self.given_value(src, key)
            options = [options[i] for i in keep]
            weights = None if weights is None else [weights[i] for i in keep]
        return src.choice(options, weights)

    def given_value(self, src: Source, key: str):
        """One of the values listed for ``key``, as the user wrote it."""
        return src.choice(_as_list(self.given[key]))

    def value(self, src: Source, key: str):
        """One allowed value of ``key`` (normalized: a tuple for the window keys and
        ``spatial``), or ``None`` when ``key`` is not restricted."""
        if key not in self.allowed:
            return None
        return src.choice(self.allowed[key])

    def left_out(self) -> list[str]:
        """What ``supports`` keeps out of the draws, in words."""
        out = []
        for key, values in self.allowed.items():
            if key == "bias":
                out.append("bias given (bias=[None])")
                continue
            shown = [v if key not in _TUPLES or len(set(v)) > 1 else v[0] for v in values]
            text = " or ".join(str(v) if key in SIZE_KEYS else repr(v) for v in shown)
            out.append(f"{key} other than {text}")
        return out


def _as_list(values: object) -> list:
    if isinstance(values, (str, int, tuple)) or values is None:
        return [values]
    return list(values)  # type: ignore[call-overload]


def _positive(value: object) -> int:
    """``value`` as an int >= 1 (``ValueError`` for anything else, bools included)."""
    if isinstance(value, bool) or int(value) != value or value < 1:  # type: ignore[operator]
        raise ValueError
    return int(value)  # type: ignore[call-overload]
