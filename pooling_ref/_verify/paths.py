"""The TensorFlow side of ``verify``: which path each op runs on, its Keras result (the op
table's runner), how it is compared, TensorFlow loaded quietly.

>>> from pooling_ref.ops import spec
>>> on_xla(spec("avg_pool2d"), "xla"), on_xla(spec("zero_pad2d"), "xla")
(True, False)
>>> bounded(spec("avg_pool2d"), "eager"), bounded(spec("avg_pool2d"), "xla")
(False, True)
"""

from __future__ import annotations

import contextlib
import os
import sys

from .. import keras_ref
from ..cases import Case
from ..keras_ref import detect_tf_kernel, eager_path
from ..ops import OpSpec

__all__ = ["bounded", "check_path", "gradient_paths", "keras_result", "load_tf", "on_xla",
           "reference_paths", "tf_kernel_of"]


def check_path(tf_kernel: str | None) -> str:
    """The ``--tf-kernel`` to verify: ``None`` -> the eager path of the running TF; an eager
    path that is not the active one -> ``ValueError`` (it cannot be switched in a process)."""
    active = detect_tf_kernel()
    if tf_kernel is None:
        return active
    if tf_kernel not in ("onednn", "eigen", "xla"):
        raise ValueError(f"--tf-kernel must be onednn, eigen or xla, got {tf_kernel!r}")
    if tf_kernel != "xla" and tf_kernel != active:
        flag = 1 if tf_kernel == "onednn" else 0
        raise ValueError(
            f"--tf-kernel {tf_kernel}: this TensorFlow runs its {active} kernels eagerly; the "
            f"eager path is chosen when TensorFlow starts and cannot be switched inside a "
            f"process: run with TF_ENABLE_ONEDNN_OPTS={flag} set in the environment "
            f"(or --tf-kernel {active} / xla)")
    return tf_kernel


def on_xla(s: OpSpec, path: str) -> bool:
    """Whether ``s`` runs compiled with XLA when verify runs ``path`` (the entry's
    ``keras_xla``; the others keep their own path: convolution always XLA, zero padding
    eager)."""
    return path == "xla" and s.keras_xla


def bounded(s: OpSpec, path: str) -> bool:
    """Whether ``s`` is compared with Keras within its error bound (else bitwise): its
    ``keras_mode``, under XLA its ``keras_mode_xla`` where it has one (average pooling:
    registry ``xla-avg-pool-division``)."""
    mode = (s.keras_mode_xla or s.keras_mode) if on_xla(s, path) else s.keras_mode
    return mode == "bound"


def tf_kernel_of(s: OpSpec, case: Case, path: str) -> str:
    """The rules ``pooling_ref`` follows to match Keras on ``path``."""
    return "xla" if on_xla(s, path) else detect_tf_kernel(case.x.dtype)


def keras_result(s: OpSpec, case: Case, path: str):
    """Keras's result for ``case`` by the entry's runner, called like the candidate
    (``path="xla"`` added where the op runs compiled with XLA)."""
    args, kwargs = s.split(case.arrays, case.scalar_params)
    if on_xla(s, path):
        kwargs["path"] = "xla"
    return s.keras(*args, **kwargs)


@contextlib.contextmanager
def _quiet_fd2():
    """Silence C-level stderr (TF's start-up log lines) while TensorFlow is imported."""
    try:
        fd = os.dup(2)
    except OSError:  # pragma: no cover
        yield
        return
    try:
        sys.stderr.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(fd, 2)
        os.close(fd)


def load_tf() -> dict[str, str]:
    """Import TF/Keras quietly; return their versions. Raises ``TensorFlowMissing``."""
    with _quiet_fd2():
        tf, _ = keras_ref.require_tf()
    tf.get_logger().setLevel("ERROR")
    with contextlib.suppress(Exception):
        tf.autograph.set_verbosity(0)
    return keras_ref.versions()


def reference_paths(path: str) -> str:
    """The line ``verify`` prints about the Keras reference paths of the forward ops."""
    eager = (f"called eagerly ({eager_path()} kernels; pooling_ref follows "
             f"tf_kernel={eager_path()!r})")
    if path == "xla":
        return (f"Reference paths: pooling and global pooling = Keras layers compiled with "
                f"XLA (jit_compile=True; pooling_ref follows tf_kernel='xla', average "
                f"pooling within its error bound); zero padding = Keras layers {eager}; "
                f"convolution = Keras layer compiled with XLA, channels_last.")
    return (f"Reference paths: pooling and zero padding = Keras layers {eager}; "
            f"convolution = Keras layer compiled with XLA (jit_compile=True), channels_last.")


def gradient_paths(path: str = "eager") -> str:
    """The line ``verify`` prints about the gradient comparison path."""
    pooling = ("XLA (jit_compile=True; pooling_ref follows tf_kernel='xla')" if path == "xla"
               else f"eager ({eager_path()} kernels)")
    return (f"Gradient ops: tf.GradientTape through the same Keras layers; pooling {pooling}, "
            f"bitwise for max pooling, derived bound for average pooling; convolution XLA, "
            f"channels_last, derived bounds for grad_x, grad_kernel and grad_bias.")
