"""Helpers of the known-difference models (:mod:`pooling_ref.known`): the arguments of an
op's reference call, by name, with defaults, and prepared as the ops prepare them
(:mod:`pooling_ref.arguments`).

>>> import numpy as np
>>> from pooling_ref.ops import spec
>>> call_args(spec("max_pool1d"), {"x": np.zeros((1, 4, 1))}, {"pool_size": 2})["padding"]
'valid'
"""

from __future__ import annotations

import inspect

from .arguments import check_grad_out, prepare_pool
from .geometry import normalize_padding
from .ops import OpSpec

__all__ = ["call_args", "pool_args", "pool_grad_args"]


def call_args(s: OpSpec, arrays: dict, scalars: dict) -> dict:
    """Every argument of the reference call, defaults filled in, by name."""
    args, kwargs = s.split(arrays, scalars)
    bound = inspect.signature(s.reference).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def pool_grad_args(s: OpSpec, arrays: dict, scalars: dict):
    """``(x_cl, grad_out_cl, geometry, data_format, padding)`` of a pooling gradient call
    (``padding`` normalised: ``"valid"`` or ``"same"``)."""
    a = call_args(s, arrays, scalars)
    x_cl, g, fmt = prepare_pool(s.name, a["x"], a["pool_size"], a["strides"], a["padding"],
                                a["data_format"])
    out_shape = (x_cl.shape[0], *g.out_spatial, x_cl.shape[-1])
    gout = check_grad_out(a["grad_out"], out_shape, x_cl.dtype, fmt, s.name)
    return x_cl, gout, g, fmt, normalize_padding(a["padding"], s.name)


def pool_args(s: OpSpec, arrays: dict, scalars: dict):
    """``(x_cl, geometry, data_format, padding)`` of a forward pooling call."""
    a = call_args(s, arrays, scalars)
    x_cl, g, fmt = prepare_pool(s.name, a["x"], a["pool_size"], a["strides"], a["padding"],
                                a["data_format"])
    return x_cl, g, fmt, normalize_padding(a["padding"], s.name)
