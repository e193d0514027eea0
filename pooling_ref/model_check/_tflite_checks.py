"""The per-op checks of :mod:`pooling_ref.model_check.tflite`: one function per LiteRT
builtin operator, taking the model (``_Model``), the interpreter after its run, the
operator and its actual input and output; each returns a
:class:`~pooling_ref.model_check._nodes.NodeResult`.

>>> sorted(CHECKS)
['AVERAGE_POOL_2D', 'CONV_2D', 'DEPTHWISE_CONV_2D', 'MAX_POOL_2D', 'PAD', 'PADV2']
"""

from __future__ import annotations

import numpy as np

from ..dialects import _xnnpack, litert
from ..pooling import avg_pool, max_pool
from ..tolerance import compare
from ._nodes import NodeResult, bitwise, conv_reference, pad_reference, quantized_conv_check

__all__ = ["ACTIVATION_NAMES", "CHECKS", "UNCHECKED", "check_unchecked"]

ACTIVATION_NAMES = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}
REQUANTIZATION = "litert-pool-requantization-missing"


def _window_attrs(options) -> dict:
    """Strides, padding and fused activation, shared by the pooling and conv options."""
    return {"strides": (options.strideH, options.strideW),
            "padding": "SAME" if options.padding == 0 else "VALID",
            "activation": ACTIVATION_NAMES.get(options.fusedActivationFunction,
                                               f"code {options.fusedActivationFunction}")}


def _pool_attrs(options) -> dict:
    return {"filter_size": (options.filterHeight, options.filterWidth)} | \
        _window_attrs(options)


def _conv_attrs(options) -> dict:
    return _window_attrs(options) | {"dilation": (options.dilationHFactor,
                                                  options.dilationWFactor)}


def _result(m, i, name, op, x, y, attrs, verdict, mode, worst, registry=(), detail=""):
    return NodeResult(i, m.tensor_name(int(op.outputs[0])), name, attrs, tuple(x.shape),
                      tuple(y.shape), y.dtype.name, verdict, mode, worst, tuple(registry),
                      detail)


def _per_tensor(m, t: int):
    q = m.quantization(t)
    return None if q is None else (float(q[0][0]), int(q[1][0]))


# ----------------------------------------------------------------------------- pooling


def _known_float(kind, kernel, x, attrs, want) -> tuple[str, ...]:
    """Registry ids of the differences between the kernel's rule and Keras's on this node
    (empty where they agree)."""
    fs, st, pad, act = attrs["filter_size"], attrs["strides"], attrs["padding"], \
        attrs["activation"]
    core = (max_pool if kind == "max" else avg_pool)(x, fs, st, pad.lower(), tf_kernel=None)
    keras = litert.std_clamp(core, *litert.ACTIVATIONS[act])
    differ = ~((keras.view(np.uint32) == want.view(np.uint32))
               | (np.isnan(keras) & np.isnan(want)))
    if not differ.any():
        return ()
    k, w = keras[differ], want[differ]
    if kernel != "xnnpack" or not _xnnpack.delegated(fs, st):
        return ("litert-inf-clamped",)
    ids = set()
    odd = ~np.isfinite(k) | ~np.isfinite(w) | (np.abs(k) == np.finfo(np.float32).max)
    ids.update(["litert-xnnpack-nan-to-low"] if odd.any() else [])
    tiny = np.finfo(np.float32).tiny
    small = (np.abs(k) < tiny) & (k != 0)
    ids.update(["litert-xnnpack-subnormals-flushed"] if small.any() else [])
    signed = (k == w) & ~small
    ids.update(["litert-xnnpack-max-zero-sign"] if signed.any() else [])
    if (~odd & ~small & ~signed).any():
        ids.add("litert-xnnpack-avg-order")
    return tuple(sorted(ids))


def _float_pool(m, i, name, op, x, y, kernel, attrs):
    kind = "max" if name == "MAX_POOL_2D" else "avg"
    rule = litert.max_pool_2d if kind == "max" else litert.average_pool_2d
    want = rule(x, attrs["filter_size"], attrs["strides"], attrs["padding"],
                activation=attrs["activation"], kernel=kernel)
    ok, ulp = bitwise(y, want)
    if not ok:
        return _result(m, i, name, op, x, y, attrs, "DIFFERS", "bitwise", ulp,
                       detail=str(compare(y, want)))
    known = _known_float(kind, kernel, x, attrs, want)
    return _result(m, i, name, op, x, y, attrs, "known" if known else "match", "bitwise",
                   ulp, known)


def _requantized(q, q_in, q_out, attrs, dtype) -> np.ndarray:
    """``q`` (computed in the input's parameters) expressed in the output's."""
    (s_in, z_in), (s_out, z_out) = q_in, q_out
    real = (q.astype(np.float64) - z_in) * s_in / s_out
    low, high = litert.quantized_activation_range(attrs["activation"], s_out, z_out, dtype)
    return np.clip(litert.round_half_away(real) + z_out, low, high).astype(dtype)


def _quantized_pool(m, i, name, op, x, y, kernel, attrs):
    rule = litert.max_pool_2d_q if name == "MAX_POOL_2D" else litert.average_pool_2d_q
    q_in, q_out = _per_tensor(m, int(op.inputs[0])), _per_tensor(m, int(op.outputs[0]))
    geometry = (x, attrs["filter_size"], attrs["strides"], attrs["padding"])
    act = dict(activation=attrs["activation"], kernel=kernel)
    if q_in == q_out:
        ok, _ = bitwise(y, rule(*geometry, *q_in, **act))
        worst = float(np.max(np.abs(y.astype(np.int64) - rule(*geometry, *q_in, **act)),
                             initial=0))
        return _result(m, i, name, op, x, y, attrs | {"quantization": q_in},
                       "match" if ok else "DIFFERS", "quanta", worst)
    correct = _requantized(rule(*geometry, *q_in, **act), q_in, q_out, attrs, y.dtype)
    raw = rule(*geometry, *q_out, **act)
    worst = float(np.max(np.abs(y.astype(np.int64) - correct), initial=0))
    attrs = attrs | {"quantization": f"{q_in} -> {q_out}"}
    if np.array_equal(y, correct):
        return _result(m, i, name, op, x, y, attrs, "match", "quanta", worst)
    known = (REQUANTIZATION,) if np.array_equal(y, raw) else ()
    detail = ("output not requantized to the output tensor's scale / zero point"
              if known else "")
    return _result(m, i, name, op, x, y, attrs, "DIFFERS", "quanta", worst, known, detail)


def check_pool(m, it, i, name, op, x, y, kernel):
    attrs = _pool_attrs(op.builtinOptions)
    if attrs["activation"] not in litert.ACTIVATIONS:
        return _result(m, i, name, op, x, y, attrs, "unchecked", "bitwise", 0.0,
                       detail="fused activation LiteRT pooling does not define")
    if x.dtype == np.float32:
        return _float_pool(m, i, name, op, x, y, kernel, attrs)
    return _quantized_pool(m, i, name, op, x, y, kernel, attrs)


# ----------------------------------------------------------------------- padding, conv


def check_pad(m, it, i, name, op, x, y, kernel):
    pads = it.get_tensor(int(op.inputs[1]))
    if name == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        value = it.get_tensor(int(op.inputs[2])).item()
    else:
        q = _per_tensor(m, int(op.outputs[0]))
        value = 0 if q is None or x.dtype.kind == "f" else q[1]
    attrs = {"paddings": [tuple(int(v) for v in p) for p in pads], "value": value}
    ok, ulp = bitwise(y, pad_reference(x, pads, value))
    return _result(m, i, name, op, x, y, attrs, "match" if ok else "DIFFERS", "bitwise", ulp)


def _weights(m, it, op, depthwise: bool):
    """The kernel in Keras's layout (KH, KW, C_in / groups, filters), per-channel scales on
    the last axis (or None), the bias tensor or None."""
    w = it.get_tensor(int(op.inputs[1]))
    hwio = w.transpose(1, 2, 0, 3) if depthwise else w.transpose(1, 2, 3, 0)
    q = m.quantization(int(op.inputs[1]))
    bias = it.get_tensor(int(op.inputs[2])) if len(op.inputs) > 2 and op.inputs[2] >= 0 \
        else None
    return hwio, None if q is None else q[0], bias


def check_conv(m, it, i, name, op, x, y, kernel):
    depthwise = name == "DEPTHWISE_CONV_2D"
    attrs = _conv_attrs(op.builtinOptions)
    hwio, scales, bias = _weights(m, it, op, depthwise)
    attrs["kernel"] = tuple(hwio.shape)
    groups = x.shape[-1] if depthwise else x.shape[-1] // hwio.shape[2]
    if x.dtype == np.float32 and hwio.dtype == np.float32:
        want, bound = conv_reference(x, hwio, bias, attrs, groups)
        c = compare(y, want, bound=bound)
        return _result(m, i, name, op, x, y, attrs, "match" if c.ok else "DIFFERS", "bound",
                       c.worst_ratio, detail="" if c.ok else str(c))
    if scales is None or x.dtype == np.float32:
        return _result(m, i, name, op, x, y, attrs, "unchecked", "quanta", 0.0,
                       detail="hybrid or weight-only quantization")
    q_in, q_out = _per_tensor(m, int(op.inputs[0])), _per_tensor(m, int(op.outputs[0]))
    ok, worst = quantized_conv_check(x, q_in, hwio, scales, bias, q_out, attrs, groups, y)
    return _result(m, i, name, op, x, y, attrs | {"quantization": q_in},
                   "match" if ok else "DIFFERS", "quanta", worst,
                   detail="checked within one quantization step (no bitwise rule)")


CHECKS = {"MAX_POOL_2D": check_pool, "AVERAGE_POOL_2D": check_pool, "PAD": check_pad,
          "PADV2": check_pad, "CONV_2D": check_conv, "DEPTHWISE_CONV_2D": check_conv}

#: Pooling, padding and convolution ops without a reference here: listed as "unchecked".
UNCHECKED = ("L2_POOL_2D", "MIRROR_PAD", "TRANSPOSE_CONV", "CONV_3D", "CONV_3D_TRANSPOSE")


def check_unchecked(m, it, i, name, op, x, y, kernel):
    return _result(m, i, name, op, x, y, {}, "unchecked", "bitwise", 0.0,
                   detail="pooling_ref has no reference for this op")
