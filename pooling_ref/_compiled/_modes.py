"""Compile-time constants of the compiled kernels (no Numba needed to read them).

A pooling kernel is specialised on a *mode* (its step) and a *loop order*; a gradient
kernel on its ``ties`` rule.
"""

#: Pooling modes: max / sum steps of the specification, the float16 sum (every step
#: rounded), and the steps under a ``flush`` plan (``_MAX_DAZ``: read through DAZ and
#: return the key; ``_MAX_CMP``: compare keys, keep the cell's bits; ``_SUM_DAZ``).
_MAX, _SUM, _SUM_F16, _MAX_DAZ, _MAX_CMP, _SUM_DAZ = range(6)
MODES = range(6)
#: Modes that read subnormal cells as zeros (a TF kernel path's ``flush`` rule).
_DAZ_MODES = (_MAX_DAZ, _MAX_CMP, _SUM_DAZ)
#: Modes whose output is the accumulator itself (no finishing step).
_MAX_MODES = (_MAX, _MAX_CMP)

#: Loop orders of the pooling kernel (:func:`pooling_ref._compiled.loop_order`).
CHANNELS_INNER, TAP_MAJOR, ROWS, ROWS_K2S2, ROWS_K3S2, ROWS_C3_K2S2, ROWS_C3_K3S2 = range(7)
#: The per-output row loop orders: ``order -> (channels, window, stride)`` along the last
#: spatial axis compiled in as constants (window and stride ``0``: read from the arguments;
#: only for one channel).
ROWS_ORDERS = {ROWS: (1, 0, 0), ROWS_K2S2: (1, 2, 2), ROWS_K3S2: (1, 3, 2),
               ROWS_C3_K2S2: (3, 2, 2), ROWS_C3_K3S2: (3, 3, 2)}
LOOP_ORDERS = (CHANNELS_INNER, TAP_MAJOR, *ROWS_ORDERS)

_G_FIRST, _G_ALL, _G_SPLIT, _G_TF3D, _G_AVG = range(5)
#: Gradient rules: the ``ties=`` rules of :func:`pooling_ref.max_pool_grad` ("tf3d": TF's 3D
#: ``|x - max| < 1e-5``) and the average pooling gradient.
GRAD_RULE_CODES = {"first": _G_FIRST, "all": _G_ALL, "split": _G_SPLIT, "tf3d": _G_TF3D,
                   "avg": _G_AVG}
