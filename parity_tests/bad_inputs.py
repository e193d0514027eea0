"""The table of invalid calls: each must raise ValueError/TypeError naming the parameter.

Shared by ``test_bad_input.py`` (the Python API, and the ``pooling-ref shape`` CLI for the
rows that have a ``cli`` form). A row is::

    BadCall(func, args, kwargs, exc, param, cli=None)

``func`` is a public name in ``pooling_ref``; ``param`` must appear in the message, and so
must ``value`` (the repr of the offending value; defaults to the first kwarg's repr when that
kwarg is ``param``). ``cli`` is the argument list after ``pooling-ref shape``.

>>> len(ROWS) >= 40
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

X1 = np.zeros((1, 4, 2), np.float32)         # (N, W, C)
X2 = np.zeros((1, 4, 4, 2), np.float32)      # (N, H, W, C)
X3 = np.zeros((1, 3, 3, 3, 2), np.float32)
K2 = np.zeros((3, 3, 2, 4), np.float32)      # kernel for X2: 2 input channels, 4 filters


@dataclass(frozen=True)
class BadCall:
    func: str
    args: tuple
    kwargs: dict = field(default_factory=dict)
    exc: type = ValueError
    param: str = ""
    value: str | None = None
    cli: tuple[str, ...] | None = None
    id: str = ""

    def expected_value(self) -> str | None:
        if self.value is not None:
            return self.value
        if self.param in self.kwargs:
            return repr(self.kwargs[self.param])
        return None


def _row(func: str, args: tuple, kwargs: dict | None = None, exc: type = ValueError,
         param: str = "", value: str | None = None, cli: tuple[str, ...] | None = None,
         id: str = "") -> BadCall:
    return BadCall(func, args, kwargs or {}, exc, param, value, cli, id)


_P2 = ("--input", "1,4,4,2", "--op", "max_pool")
_C2 = ("--input", "1,4,4,2", "--op", "conv", "--filters", "4")

ROWS: list[BadCall] = [
    # ---- pool_size
    _row("max_pool", (X2, 0), exc=ValueError, param="pool_size", value="0",
         cli=(*_P2, "--pool-size", "0"), id="pool_size-0"),
    _row("max_pool", (X2, -2), param="pool_size", value="-2",
         cli=(*_P2, "--pool-size", "-2"), id="pool_size-negative"),
    _row("avg_pool", (X2, (2, 0)), param="pool_size", value="(2, 0)",
         cli=("--input", "1,4,4,2", "--op", "avg_pool", "--pool-size", "2,0"),
         id="pool_size-tuple-0"),
    _row("max_pool", (X2, 2.5), exc=TypeError, param="pool_size", value="2.5",
         id="pool_size-float"),
    _row("max_pool", (X2, "2"), exc=TypeError, param="pool_size", value="'2'",
         id="pool_size-str"),
    _row("max_pool", (X2, True), exc=TypeError, param="pool_size", value="True",
         id="pool_size-bool"),
    _row("max_pool", (X2, (2, 2, 2)), param="pool_size", value="(2, 2, 2)",
         cli=(*_P2, "--pool-size", "2,2,2"), id="pool_size-length"),
    _row("avg_pool", (X1, None), exc=TypeError, param="pool_size", value="None",
         id="pool_size-None"),
    _row("max_pool", (X3, (1, 2)), param="pool_size", value="(1, 2)", id="pool_size-3d-len"),
    # ---- strides
    _row("max_pool", (X2, 2), {"strides": 0}, param="strides",
         cli=(*_P2, "--pool-size", "2", "--strides", "0"), id="strides-0"),
    _row("avg_pool", (X2, 2), {"strides": -1}, param="strides",
         cli=("--input", "1,4,4,2", "--op", "avg_pool", "--pool-size", "2", "--strides", "-1"),
         id="strides-negative"),
    _row("max_pool", (X2, 2), {"strides": (1.0, 1)}, exc=TypeError, param="strides",
         value="1.0", id="strides-float"),
    _row("max_pool", (X2, 2), {"strides": (1, 1, 1)}, param="strides",
         cli=(*_P2, "--pool-size", "2", "--strides", "1,1,1"), id="strides-length"),
    _row("conv", (X2, K2), {"strides": 0}, param="strides",
         cli=(*_C2, "--kernel-size", "3,3", "--strides", "0"), id="conv-strides-0"),
    _row("conv", (X2, K2), {"strides": (1, 2, 3)}, param="strides", id="conv-strides-len"),
    # ---- dilation
    _row("conv", (X2, K2), {"dilation_rate": 0}, param="dilation_rate",
         cli=(*_C2, "--kernel-size", "3,3", "--dilation", "0"), id="dilation-0"),
    _row("conv", (X2, K2), {"dilation_rate": -1}, param="dilation_rate", id="dilation-neg"),
    _row("conv", (X2, K2), {"dilation_rate": 1.5}, exc=TypeError, param="dilation_rate",
         value="1.5", id="dilation-float"),
    _row("conv", (X2, K2), {"dilation_rate": (1, 1, 1)}, param="dilation_rate",
         id="dilation-length"),
    _row("conv", (X2, K2), {"strides": 2, "dilation_rate": 2}, param="dilation_rate",
         value="(2, 2)", id="dilation-with-strides"),
    # ---- padding / data_format / method
    _row("max_pool", (X2, 2), {"padding": "causal"}, param="padding",
         cli=(*_P2, "--pool-size", "2", "--padding", "causal"), id="padding-causal"),
    _row("avg_pool", (X2, 2), {"padding": "full"}, param="padding", id="padding-full"),
    _row("conv", (X2, K2), {"padding": 1}, exc=TypeError, param="padding", id="padding-int"),
    _row("max_pool", (X2, 2), {"data_format": "NHWC"}, param="data_format",
         cli=(*_P2, "--pool-size", "2", "--data-format", "NHWC"), id="data_format-NHWC"),
    _row("conv", (X2, K2), {"data_format": "channels_middle"}, param="data_format",
         id="conv-data_format"),
    _row("zero_pad", (X2,), {"data_format": 3}, exc=TypeError, param="data_format",
         id="zero_pad-data_format"),
    _row("global_max_pool", (X2,), {"data_format": "cf"}, param="data_format",
         id="global-data_format"),
    _row("max_pool", (X2, 2), {"method": "gpu"}, param="method", id="method"),
    _row("max_pool", (X2, 2), {"nan": "ignore"}, param="nan", id="nan-option"),
    _row("global_avg_pool", (X2,), {"keepdims": "yes"}, exc=TypeError, param="keepdims",
         id="keepdims"),
    # ---- input rank / dtype
    _row("max_pool", (np.zeros((4, 2), np.float32), 2), param="x", value="(4, 2)",
         cli=("--input", "4,2", "--op", "max_pool", "--pool-size", "2"), id="x-rank-2"),
    _row("avg_pool", (np.zeros((1, 2, 2, 2, 2, 2), np.float32), 2), param="x",
         value="(1, 2, 2, 2, 2, 2)", id="x-rank-6"),
    _row("conv", (np.zeros((2, 2)), K2), param="x", value="(2, 2)", id="conv-x-rank"),
    _row("max_pool", (np.zeros((1, 4, 1), bool), 2), exc=TypeError, param="x", value="bool",
         id="x-bool"),
    _row("max_pool", (np.zeros((1, 4, 1), complex), 2), exc=TypeError, param="x",
         value="complex128", id="x-complex"),
    _row("avg_pool", (np.zeros((1, 4, 1), object), 2), exc=TypeError, param="x",
         value="object", id="x-object"),
    _row("zero_pad", (np.array([[["a"], ["b"]]]),), exc=TypeError, param="x", value="<U1",
         id="x-str"),
    _row("avg_pool", (np.zeros((1, 4, 1), np.int32), 2), exc=TypeError, param="x",
         value="int32", id="avg-int"),
    # ---- valid windows larger than the input
    _row("max_pool", (X2, 5), param="pool_size", value="(5, 5)",
         cli=(*_P2, "--pool-size", "5"), id="valid-window-too-large"),
    _row("avg_pool", (X1, 5), param="pool_size", value="(5,)", id="valid-window-1d"),
    _row("conv", (X2, np.zeros((5, 1, 2, 1), np.float32)), param="kernel_size",
         value="(5, 1)", cli=(*_C2, "--kernel-size", "5,1"), id="conv-valid-too-large"),
    _row("conv", (X2, K2), {"dilation_rate": 2}, param="kernel_size", value="span 5",
         id="conv-dilated-too-large"),
    # ---- kernel / bias / groups
    _row("conv", (X2, np.zeros((3, 3, 3, 4), np.float32)), param="kernel", value="(3, 3, 3, 4)",
         id="kernel-cin"),
    _row("conv", (X2, np.zeros((3, 2, 4), np.float32)), param="kernel", value="(3, 2, 4)",
         id="kernel-rank"),
    _row("conv", (X2, np.zeros((3, 3, 2, 0), np.float32)), param="kernel", value="(3, 3, 2, 0)",
         id="kernel-empty"),
    _row("conv", (X2, np.zeros((3, 3, 2, 4), complex)), exc=TypeError, param="kernel",
         value="complex128", id="kernel-complex"),
    _row("conv", (X2, K2, np.zeros(3, np.float32)), param="bias", value="(3,)",
         id="bias-shape"),
    _row("conv", (X2, K2, np.zeros((1, 4), np.float32)), param="bias", value="(1, 4)",
         id="bias-2d"),
    _row("conv", (X2, K2, np.array(["a"] * 4)), exc=TypeError, param="bias", value="str32",
         id="bias-str"),
    _row("conv", (X2, K2), {"groups": 0}, param="groups",
         cli=(*_C2, "--kernel-size", "3,3", "--groups", "0"), id="groups-0"),
    _row("conv", (X2, np.zeros((3, 3, 1, 4), np.float32)), {"groups": 3}, param="groups",
         id="groups-not-dividing"),
    _row("conv", (X2, np.zeros((3, 3, 1, 3), np.float32)), {"groups": 2}, param="groups",
         value="3", id="groups-filters"),
    _row("conv", (X2, K2), {"groups": 2.0}, exc=TypeError, param="groups", id="groups-float"),
    _row("conv", (X2, K2), {"groups": True}, exc=TypeError, param="groups", id="groups-bool"),
    # ---- zero padding
    _row("zero_pad", (X2, -1), param="padding", value="-1",
         cli=("--input", "1,4,4,2", "--op", "zero_pad", "--pad", "-1"), id="zero_pad-neg"),
    _row("zero_pad", (X2, (1, 2, 3)), param="padding", value="(1, 2, 3)",
         id="zero_pad-length"),
    _row("zero_pad", (X2, ((1, 2, 3), (1, 1))), param="padding", id="zero_pad-triple"),
    _row("zero_pad", (X2, 1.5), exc=TypeError, param="padding", value="1.5",
         id="zero_pad-float"),
    _row("zero_pad", (X2, "same"), exc=TypeError, param="padding", value="'same'",
         id="zero_pad-str"),
    # ---- geometry helpers
    _row("output_length", (4, 0, 1, "valid"), param="window", value="0", id="ol-window"),
    _row("output_length", (4, 2, 0, "same"), param="stride", value="0", id="ol-stride"),
    _row("output_length", (-1, 2, 1, "same"), param="n", value="-1", id="ol-n"),
    _row("output_length", (4, 2, 1, "SAME!"), param="padding", value="'SAME!'",
         id="ol-padding"),
    _row("same_pads", (4, 2, 1.5), exc=TypeError, param="stride", value="1.5", id="sp-stride"),
    _row("same_pads", (5, 3, 0), param="stride", value="0", id="sp-stride-0"),
    _row("im2col", (X2, (2, 2)), {"dilation_rate": 0}, param="dilation_rate", id="im2col-dil"),
    # ---- the oracle
    _row("check", (lambda x, **p: x, "max_pool4d"), param="op", value="'max_pool4d'",
         id="check-unknown-op"),
    _row("check", (lambda x, **p: x, "maxpool2d"), param="op", value="'maxpool2d'",
         id="check-typo-op"),
]

ARRAYS: dict[str, Any] = {"X1": X1, "X2": X2, "X3": X3, "K2": K2}
