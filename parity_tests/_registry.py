"""The known-differences registry as the tests use it (pooling_ref/data/known_differences.json).

:func:`expect` is the one place that words the outcome: an entry listed for the current
path must still happen ("no longer differs on this path: update the registry"); on a path
the entry does not list it must not happen, and the test is reported as skipped with
"different kernel path" (after that check, so nothing passes unexamined) — or "different TF
version" where the entry's ``tf_versions`` says it was measured absent with the installed
TensorFlow.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import pooling_ref
from pooling_ref import keras_ref, known
from pooling_ref.ops import spec

REGISTRY = keras_ref.known_differences()


def paths_here(entry_id: str) -> list[str]:
    """The paths the entry happens on with the installed TensorFlow: its ``tf_versions``
    row for this version where it has one (measured there), else its ``paths``."""
    entry = REGISTRY[entry_id]
    return entry.get("tf_versions", {}).get(_tf_version(), entry["paths"])


def applies(entry_id: str, path: str) -> bool:
    """Whether the entry is listed for ``path`` with this TF (and for this CPU, if it names
    one)."""
    entry = REGISTRY[entry_id]
    cpu = entry.get("cpu")
    on_cpu = cpu is None or (cpu == "avx512") == keras_ref.cpu_has_avx512()
    return path in paths_here(entry_id) and on_cpu


def _listed(entry_id: str) -> str:
    entry = REGISTRY[entry_id]
    cpu = f" on {entry['cpu']} CPUs" if entry.get("cpu") else ""
    version = _tf_version()
    if version in entry.get("tf_versions", {}):
        return f"{paths_here(entry_id)}{cpu} with TF {version} ({entry['paths']} otherwise)"
    return f"{entry['paths']}{cpu}"


@functools.lru_cache(maxsize=1)
def _installed() -> dict[str, str]:
    return keras_ref.versions()


def _tf_version() -> str:
    return _installed()["tensorflow"]


def _versions() -> str:
    v = _installed()
    return f"TF {v['tensorflow']} / Keras {v['keras']}"


def expect(entry_id: str, differs: bool, path: str, detail: str = "") -> None:
    """Assert that registry entry ``entry_id`` happens exactly on the paths it lists."""
    __tracebackhide__ = True
    where = f"registry entry {entry_id!r} on path {path!r} ({_versions()})"
    if applies(entry_id, path):
        assert differs, (f"{where}: no longer differs on this path: update the registry "
                         f"pooling_ref/data/known_differences.json. {detail}")
    else:
        assert not differs, (f"{where}: happens on a path the registry does not list "
                             f"({_listed(entry_id)}): add it to the registry. {detail}")


def skip_other_path(entry_id: str, path: str) -> None:
    """After :func:`expect` checked it is absent: say why this test has nothing more to show."""
    if not applies(entry_id, path):
        # a TF version row excluded it (not the path, nor the CPU, which picks kernels)
        by_version = (path in REGISTRY[entry_id]["paths"]
                      and path not in paths_here(entry_id))
        other = "TF version" if by_version else "kernel path"
        pytest.skip(f"{entry_id}: different {other} ({path}; the registry lists "
                    f"{_listed(entry_id)}) - checked that it does not happen here")


def lenient_unmodelled(actual, expected, x, params, path):
    """``expected`` (TF's max pooling) with the cells TF leaves unspecified taken from
    ``actual`` (pooling_ref's), where TF's value there is one the registry allows.

    On the Eigen path 3D max pooling picks NaN, the value of a window without a number and
    the sign of a zero maximum by SIMD packet (``eigen-max-pool3d-nan-by-packet``,
    ``eigen-max-pool3d-zero-sign``, shown by ``test_known_defects``): the oracle's model of
    those entries (``pooling_ref.known``) says which cells are free and which values TF may
    put there (NaN, -inf, the lowest value or one of the window's cells; a zero maximum of
    either sign); a free cell compares equal, any other difference still shows. Elsewhere
    ``expected`` is returned unchanged.
    """
    if x.ndim != 5 or not applies("eigen-max-pool3d-nan-by-packet", path):
        return expected
    actual, expected = np.asarray(actual), np.asarray(expected)
    relaxed = None
    for entry in ("eigen-max-pool3d-nan-by-packet", "eigen-max-pool3d-zero-sign"):
        # nan-by-packet relaxes zero signs too, but only in a case that has a NaN cell
        relaxed = known.MODELS[entry](spec(f"max_pool{x.ndim - 2}d"), {"x": x}, params,
                                      expected, actual)
        if relaxed is not None:
            break
    if relaxed is None:
        return expected
    width = {2: np.uint16, 4: np.uint32, 8: np.uint64}[expected.dtype.itemsize]
    took_tf = np.ascontiguousarray(relaxed).view(width) == \
        np.ascontiguousarray(expected).view(width)
    return np.where(took_tf, actual, expected).astype(expected.dtype)


def eigen_shifts_windows(x: np.ndarray, params: dict, path: str) -> bool:
    """Whether TF's result is the defect ``eigen-pool3d-same-negative-pad`` (Eigen 3D "same"
    pooling with a negative total pad shifts the windows): parity tests leave such cases to
    ``test_known_defects.test_eigen_pool3d_same_negative_pad``."""
    return applies("eigen-pool3d-same-negative-pad", path) and negative_same_pad(x, params)


def negative_same_pad(x: np.ndarray, params: dict) -> bool:
    """Whether a 3D "same" pooling has an axis with a negative total pad (registry entry
    ``eigen-pool3d-same-negative-pad``: TF's Eigen 3D kernels shift those windows)."""
    if x.ndim != 5 or str(params.get("padding", "valid")).lower() != "same":
        return False
    fmt = params.get("data_format") or "channels_last"
    spatial = x.shape[2:] if fmt == "channels_first" else x.shape[1:-1]
    pool = np.broadcast_to(params["pool_size"], (3,))
    strides = np.broadcast_to(params.get("strides") or params["pool_size"], (3,))
    return any((-(-n // s) - 1) * s + k < n for n, k, s in zip(spatial, pool, strides))


def depthwise_nan_cells(x: np.ndarray, kernel: np.ndarray, params: dict) -> np.ndarray:
    """The outputs (channels_last) to which registry entry
    ``xla-float64-depthwise-conv-nan-across-channels`` applies: a depthwise convolution
    (``groups`` == input channels > 1) whose window holds a non-finite cell of *another*
    channel than the filter's (TF's float64 XLA convolution multiplies it by a zero weight:
    NaN). All False for other groupings. ``x`` is channels_last, ``params`` conv's keywords.

    >>> x = np.array([np.inf, 1.0]).reshape(1, 1, 2)
    >>> depthwise_nan_cells(x, np.ones((1, 1, 2)), {"groups": 2}).ravel().tolist()
    [False, True]
    """
    groups, channels = params.get("groups", 1), x.shape[-1]
    conv_params = {k: v for k, v in params.items() if k not in ("groups", "bias")}
    out = pooling_ref.conv(np.zeros(x.shape), np.zeros(kernel.shape), **params).shape
    if groups == 1 or groups != channels:
        return np.zeros(out, bool)
    bad = (~np.isfinite(x)).astype(np.float64)
    taps = kernel.shape[:-2]
    everywhere = pooling_ref.conv(bad.sum(axis=-1, keepdims=True), np.ones((*taps, 1, 1)),
                                  **conv_params)                           # (N, *out, 1)
    own = pooling_ref.conv(bad, np.ones((*taps, 1, channels)), groups=channels,
                           **conv_params)                                  # (N, *out, C)
    return np.repeat(everywhere - own > 0, kernel.shape[-1] // channels, axis=-1)
