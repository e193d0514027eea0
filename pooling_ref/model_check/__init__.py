"""Per-node checks of deployed model files: run the model once with every intermediate
tensor kept, and compare each pooling / padding / convolution node's actual output with the
matching reference fed the node's actual input and its own attributes.

- :mod:`pooling_ref.model_check.tflite` — LiteRT ``.tflite`` files (needs ``ai-edge-litert``:
  ``pip install 'pooling-ref[litert]'``).
- :mod:`pooling_ref.model_check.onnx` — ONNX ``.onnx`` files (needs ``onnx`` and
  ``onnxruntime``: ``pip install 'pooling-ref[onnx]'``), one reference per ONNX op type.

A missing runtime raises :class:`RuntimeMissing` (an ``ImportError``) when a model is
checked, never at import. The command line: ``pooling-ref model FILE``.
"""

from ._nodes import NodeResult, RuntimeMissing, nodes, table

__all__ = ["NodeResult", "RuntimeMissing", "nodes", "table"]
