"""``pooling-ref verify``: randomized parity of every op and method against installed Keras.

The ops are those of the op table with a Keras runner (:mod:`pooling_ref.ops`), the cases
those of the oracle (:mod:`pooling_ref.cases`); the Keras results come from each entry's
runner (:mod:`pooling_ref.keras_ops`: eager layers for pooling and zero padding,
XLA-compiled channels_last layers for convolution), on one TF kernel path
(``--tf-kernel``: the eager path of the running TF, or ``"xla"``: the ops whose entry says
``keras_xla``, pooling and pooling gradients, compiled with XLA), with ``pooling_ref``
following that path's rules. Comparisons are those of the parity tests:

* bitwise: max pooling, global max pooling, zero padding, and float32 average pooling
  (which ``pooling_ref`` reproduces bit for bit);
* error bound (:mod:`pooling_ref.tolerance`): convolution and global average pooling.

Cases where TensorFlow is measured to be wrong are skipped and named (registry entries,
:mod:`pooling_ref._verify.skips`).

>>> sorted(expand_ops(["conv"]))
['conv1d', 'conv2d', 'conv3d']

Modules, top to bottom: :mod:`.compare` (the run) over :mod:`.reproduce` and
:mod:`.skips` over :mod:`.paths` (the TF side) and :mod:`.select` (ops and methods).
"""

from __future__ import annotations

from .compare import OpResult, run_passed, run_verify, verify_case
from .paths import check_path, gradient_paths, load_tf, reference_paths
from .reproduce import reproducer
from .select import coverage, expand_ops, methods_of, verified_ops
from .skips import avoided_defects, known_defect, scan_order_sensitive

__all__ = ["OpResult", "avoided_defects", "check_path", "coverage", "expand_ops",
           "gradient_paths", "known_defect", "load_tf", "methods_of", "reference_paths",
           "reproducer", "run_passed", "run_verify", "scan_order_sensitive", "verified_ops",
           "verify_case"]
