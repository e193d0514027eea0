"""What the parity tests expect from the Keras jax / torch backends (registry paths
``keras-jax`` / ``keras-torch``), in one place.

>>> torch_replicate_pads(np.zeros((1, 5, 1)), {"pool_size": 4, "strides": 1, "padding": "same"})
((1, 2),)

The facts (measured with Keras 3.15.1, jax 0.10.2, torch 2.13.0 CPU; registry entries
named below, shown by ``test_keras_backends.py``):

* ``keras-torch-avg-same-asymmetric``: Keras's torch ``average_pool`` pads "same" inputs
  whose total pad is odd on some axis by *replicating the edge cells* (``torch.nn.functional
  .pad(mode="replicate")``, every axis), then pools "valid", so the copies count as real
  cells: :func:`torch_avg_same_model` is that computation with ``pooling_ref``;
* ``keras-jax-max-pool-zero-sign``: jax's max of equal zeros is ``+0`` whatever the order;
* ``keras-jax-avg-pool-order``, ``keras-torch-avg-pool-float16``: the backends sum windows
  in an order of their own: averages compare within ``avg_pool_bound``;
* ``keras-jax-float64-as-float32``: without ``JAX_ENABLE_X64`` jax has no float64; a
  float64 layer rounds its input to float32 and returns float32.
"""

from __future__ import annotations

import numpy as np

import pooling_ref
from pooling_ref.geometry import same_pads

from . import _registry as reg


def _spatial(x: np.ndarray, params: dict) -> tuple[int, ...]:
    fmt = params.get("data_format") or "channels_last"
    return x.shape[2:] if fmt == "channels_first" else x.shape[1:-1]


def torch_replicate_pads(x: np.ndarray, params: dict) -> tuple[tuple[int, int], ...] | None:
    """The per-axis ``(before, after)`` pads Keras's torch backend replicates for "same"
    average pooling of ``x`` (``None`` if it pads with zeros not counted: every axis even)."""
    if str(params.get("padding", "valid")).lower() != "same":
        return None
    spatial = _spatial(x, params)
    r = len(spatial)
    pool = np.broadcast_to(params["pool_size"], (r,))
    strides = np.broadcast_to(params.get("strides") or params["pool_size"], (r,))
    pads = tuple(same_pads(int(n), int(k), int(s)) for n, k, s in zip(spatial, pool, strides))
    return pads if any(b != a for b, a in pads) else None


def torch_avg_same_model(x: np.ndarray, params: dict) -> np.ndarray:
    """Keras-torch "same" average pooling with an odd total pad: edge cells replicated into
    the pads, then "valid" pooling (registry ``keras-torch-avg-same-asymmetric``)."""
    pads = torch_replicate_pads(x, params)
    fmt = params.get("data_format") or "channels_last"
    width = ((0, 0), (0, 0), *pads) if fmt == "channels_first" else ((0, 0), *pads, (0, 0))
    padded = np.pad(x, width, mode="edge")
    return pooling_ref.avg_pool(padded, **{**params, "padding": "valid"})


def zero_sign_cleared(a: np.ndarray) -> np.ndarray:
    """``a`` with ``-0.`` turned into ``+0.`` (adding +0 does exactly that; ints unchanged)."""
    a = np.asarray(a)
    return a + a.dtype.type(0) if a.dtype.kind == "f" else a


#: Registry entries: average pooling sums in an order no ``tf_kernel`` rule models.
AVG_ORDER = ("xla-avg-pool-division", "keras-jax-avg-pool-order", "keras-torch-avg-pool-float16")


def avg_order_unmodelled(path: str, dtype: object) -> bool:
    """Whether average pooling of ``dtype`` on ``path`` is an :data:`AVG_ORDER` entry
    (compare within ``avg_pool_bound``, not bitwise)."""
    name = np.dtype(dtype).name
    return any(reg.applies(e, path) and name in reg.REGISTRY[e].get("dtypes", [name])
               for e in AVG_ORDER)


def float64_as_float32(path: str, dtype: object) -> bool:
    """Whether ``path`` computes ``dtype`` layers in float32 (registry
    ``keras-jax-float64-as-float32``)."""
    return np.dtype(dtype) == np.float64 and reg.applies("keras-jax-float64-as-float32", path)


def raising_entry(kind: str, x: np.ndarray, params: dict) -> str | None:
    """The registry entry (if any) whose condition says a Keras backend raises for pooling
    ``kind`` (``"Max"`` / ``"Average"``) of ``x`` with ``params``; which paths it happens
    on is the registry's business (:func:`keras_or_expected_error` checks it)."""
    spatial = _spatial(x, params)
    if 0 in spatial:
        return "keras-torch-empty-spatial-axis-raises"
    if kind == "Max" and x.dtype.kind in "iu" and len(spatial) == 1:
        return "keras-torch-int-max-pool1d-unimplemented"
    if kind == "Average" and len(spatial) == 3 and torch_replicate_pads(x, params) is None \
            and str(params.get("padding", "valid")).lower() == "same" \
            and any(k > n for k, n in zip(np.broadcast_to(params["pool_size"], (3,)), spatial)):
        return "keras-torch-avg-pool3d-same-window-larger-raises"
    return None


def keras_or_expected_error(call, entry: str | None, path: str):
    """``call()``'s result, or ``None`` where it raised as registry ``entry`` expects.

    With ``entry`` (the case meets its condition): the call must raise exactly on the paths
    the entry lists (``_registry.expect``); without one, an exception propagates.
    """
    __tracebackhide__ = True
    try:
        result = call()
    except Exception as e:
        if entry is None:
            raise
        reg.expect(entry, True, path, f"{type(e).__name__}: {str(e)[:200]}")
        return None
    if entry is not None:
        reg.expect(entry, False, path, "Keras returned a result")
    return result


def assert_pool_matches(expected: np.ndarray, kind: str, x: np.ndarray, params: dict,
                        path: str, method: str | None = None, what: str = "differs from Keras"
                        ) -> None:
    """pooling_ref's ``kind`` pooling (``method``; ``None``: the default) of ``x`` against
    Keras's result ``expected`` on registry path ``path``, with that path's rules
    (``keras_ref.reference_rules``): bitwise, except where the registry records what no
    rule models (Eigen 3D NaN / zero sign, jax's zero sign, the backends' summation order:
    within ``avg_pool_bound``); torch's asymmetric "same" average is expected as its model;
    Eigen's shifted 3D "same" windows are left to test_known_defects.
    """
    __tracebackhide__ = True
    from pooling_ref import keras_ref
    from pooling_ref.tolerance import avg_pool_bound

    from ._assert import assert_bitwise, assert_within_bound

    if reg.eigen_shifts_windows(x, params, path):
        return      # a TF defect, shown by test_known_defects.test_eigen_pool3d_same_negative_pad
    op = "max_pool" if kind == "Max" else "avg_pool"
    kw = {**params, **keras_ref.reference_rules(kind, path)}
    if method is not None:
        kw["method"] = method
    if kind == "Average" and reg.applies("keras-torch-avg-same-asymmetric", path) \
            and torch_replicate_pads(x, params):     # the registry's defect, expected
        got = torch_avg_same_model(x, {**params, "method": method or "auto"})
        kw["model"] = "keras-torch-avg-same-asymmetric"
    else:
        got = getattr(pooling_ref, op)(x, **kw)
    if kind == "Max":
        expected = reg.lenient_unmodelled(got, expected, x, params, path)
        if reg.applies("keras-jax-max-pool-zero-sign", path):
            got, expected = zero_sign_cleared(got), zero_sign_cleared(expected)
    if kind == "Average" and avg_order_unmodelled(path, x.dtype):
        assert_within_bound(got, expected, avg_pool_bound(x, **params), op=op, params=kw,
                            arrays={"x": x}, what=what + " beyond the error bound")
    else:
        assert_bitwise(got, expected, op=op, params=kw, arrays={"x": x}, what=what)
