"""Per-node checks of deployed model files: run the model once with every intermediate
tensor kept, and compare each pooling / padding / convolution node's actual output with the
matching dialect reference fed the node's actual input and its own attributes.

- :mod:`pooling_ref.model_check.tflite` — LiteRT ``.tflite`` files (needs ``ai-edge-litert``:
  ``pip install 'pooling-ref[litert]'``).
"""
