"""Top-level pytest configuration: Hypothesis profiles, TF set-up, report header.

Profiles (``HYPOTHESIS_PROFILE`` selects one; the default is ``ci`` everywhere, so the
README's test command draws the same examples on every machine, every time):

* ``ci``  — derandomized (a fixed seed: every run draws the same examples), no deadline,
  ``max_examples`` sized so the whole suite stays well under 10 minutes on 2 cores.
* ``dev`` — random seed (printed on failure with ``@reproduce_failure``; reproduce with
  ``--hypothesis-seed``), no deadline, same number of examples.
* ``explore`` — random, 10x the examples: ``nox -s explore`` (contributors hunting for new
  failures; every failure prints its ``@reproduce_failure`` blob).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")      # before any TF import (workers too)

import pytest
from hypothesis import HealthCheck, settings

_COMMON = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("ci", derandomize=True, max_examples=40, **_COMMON)
settings.register_profile("dev", max_examples=40, **_COMMON)
settings.register_profile("explore", max_examples=400, **_COMMON)
settings.register_profile("thorough", parent=settings.get_profile("explore"))  # old name
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def pytest_configure(config):
    """In CI a missing TensorFlow fails the run: the parity tests would otherwise be skipped
    and the suite would pass without comparing anything against Keras."""
    if _in_ci() and not hasattr(config, "workerinput"):
        import importlib.util

        if importlib.util.find_spec("tensorflow") is None:
            raise pytest.UsageError(
                "CI=true but TensorFlow is not installed: the Keras parity tests cannot run. "
                "Install it with: pip install '.[test]'")


def pytest_report_header(config):
    lines = [f"hypothesis profile: {settings.get_current_profile_name()}"]
    try:
        from pooling_ref import detect_tf_kernel, keras_ref

        v = keras_ref.versions()
        lines.append(f"tensorflow {v['tensorflow']}, keras {v['keras']}, "
                     f"keras backend {v['backend']}")
        if keras_ref.backend() != "tensorflow":
            lines.append(f"keras layers run on {v['backend']} (registry path "
                         f"{keras_ref.eager_path()}); {keras_ref.unavailable('xla')}")
        lines.append(f"tensorflow eager kernel path: {detect_tf_kernel()} "
                     f"(bfloat16: {detect_tf_kernel('bfloat16')}; TF_ENABLE_ONEDNN_OPTS="
                     f"{os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset')}); parity tests "
                     f"compare with tf_kernel set to it, and with 'xla' under XLA")
    except Exception as e:
        lines.append(f"tensorflow: unavailable ({e.__class__.__name__})")
    import numpy as np

    lines.append(f"numpy {np.__version__}")
    return lines
