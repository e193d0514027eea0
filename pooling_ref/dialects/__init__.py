"""Dialects: pooling as other frameworks and runtimes define it, in their own argument names,
defaults and layouts, returning NumPy arrays.

- :mod:`pooling_ref.dialects.litert` — LiteRT (TensorFlow Lite) ``MAX_POOL_2D`` and
  ``AVERAGE_POOL_2D``: float32 per kernel (builtin, reference, XNNPACK) and the quantized
  int8 / uint8 / int16 kernels.

Each dialect calls the core only through its public functions (``max_pool``, ``avg_pool``,
``same_pads``, ``output_length``); the rules a runtime adds on top of them (clamps, cell
order, integer rounding) live in the dialect module, with the measurements behind them.
"""
