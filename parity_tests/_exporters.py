"""Exporting one pooling layer to ONNX and running the file: the round trips of
``test_round_trips.py`` (torch -> ONNX with ``torch.onnx.export``, Keras -> ONNX with
tf2onnx), onnxruntime's CPU provider, and the pooling node's attributes read back with the
``onnx`` package.

Every import of a framework happens in the function that needs it, so that this module
imports without any of them (the tests skip with the package's name).

>>> sorted(ONNX_DEFAULTS)
['auto_pad', 'ceil_mode', 'count_include_pad', 'storage_order']
"""

from __future__ import annotations

import io
import logging
import warnings

import numpy as np

#: The registry path of each torch exporter (``torch.onnx.export(..., dynamo=...)``).
TORCH_EXPORTERS = {"torch-onnx-legacy": False, "torch-onnx-dynamo": True}

#: ONNX pooling attributes that have a default (opset 22); per-axis ones are filled in
#: :func:`pool_attributes`.
ONNX_DEFAULTS = {"auto_pad": "NOTSET", "ceil_mode": 0, "count_include_pad": 0,
                 "storage_order": 0}


def torch_export(module, x: np.ndarray, exporter: str, opset: int | None = None):
    """``module`` exported on an input like ``x`` with ``exporter`` (a key of
    :data:`TORCH_EXPORTERS`) -> the ``onnx.ModelProto``."""
    import onnx
    import torch

    example = (torch.from_numpy(np.ascontiguousarray(x)),)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if TORCH_EXPORTERS[exporter]:
            logging.getLogger("torch.onnx").setLevel(logging.ERROR)
            kwargs = {} if opset is None else {"opset_version": opset}
            program = torch.onnx.export(module, example, dynamo=True, verbose=False, **kwargs)
            return program.model_proto
        buffer = io.BytesIO()
        kwargs = {} if opset is None else {"opset_version": opset}
        torch.onnx.export(module, example, buffer, dynamo=False, **kwargs)
    return onnx.load_model_from_string(buffer.getvalue())


def keras_export(layer, shape: tuple[int, ...], opset: int | None = None):
    """A Keras layer converted by tf2onnx (``from_function`` on a ``tf.function`` calling
    it, float32 input of ``shape``) -> the ``onnx.ModelProto``."""
    import tensorflow as tf
    import tf2onnx

    spec = (tf.TensorSpec(shape, tf.float32, name="x"),)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("tf2onnx").setLevel(logging.ERROR)
        proto, _ = tf2onnx.convert.from_function(tf.function(lambda x: layer(x)),
                                                 input_signature=spec, opset=opset)
    return proto


def run(proto, x: np.ndarray) -> list[np.ndarray]:
    """Every output of the model ``proto`` for input ``x`` (onnxruntime, CPU provider)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(proto.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: np.ascontiguousarray(x)})


def default_opset(proto) -> int:
    """The version of the default ONNX domain the model imports."""
    return next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))


def pool_nodes(proto) -> list:
    """The model's ``MaxPool`` / ``AveragePool`` nodes, in graph order."""
    return [n for n in proto.graph.node if n.op_type in ("MaxPool", "AveragePool")]


def pool_attributes(node, rank: int) -> dict:
    """The node's attributes with ONNX's defaults filled in (strings decoded, lists as
    tuples): ``strides`` / ``dilations`` ones, ``pads`` zeros when absent."""
    import onnx

    attrs = {**ONNX_DEFAULTS, "strides": (1,) * rank, "dilations": (1,) * rank,
             "pads": (0,) * (2 * rank)}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        attrs[a.name] = v.decode() if isinstance(v, bytes) else \
            tuple(v) if isinstance(v, list) else v
    if node.op_type == "MaxPool":
        attrs.pop("count_include_pad")
    else:
        attrs.pop("storage_order")
    return attrs
