"""The per-call caches of the pooling ops (argument normalisation, the compiled kernel's
launch): a repeated call looks its set-up up instead of rebuilding it, the caches are
bounded, a cached key never lets a bad argument through (the same error, word for word, as
on an empty cache), and nothing is keyed on array contents."""

from __future__ import annotations

import numpy as np
import pytest

import pooling_ref as pr
from pooling_ref import _compiled, arguments, methods

from ._methods import method_params

X = np.arange(2 * 9 * 9 * 3, dtype=np.float32).reshape(2, 9, 9, 3) % 7 - 3


def _error(call):
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    return info.type, str(info.value)


def test_a_repeated_call_hits_the_normalisation_cache():
    arguments._normalized_pool.cache_clear()
    pr.max_pool(X, 2, padding="same")
    pr.avg_pool(X, 2, padding="same")
    pr.max_pool(X, 2, padding="same")
    info = arguments._normalized_pool.cache_info()
    assert (info.hits, info.misses) == (1, 2)          # max_pool and avg_pool: own keys
    assert info.maxsize is not None


@pytest.mark.skipif(not _compiled.AVAILABLE, reason="needs Numba")
def test_a_repeated_compiled_call_hits_the_launch_cache():
    _compiled._pool_launch.cache_clear()
    for _ in range(3):
        pr.max_pool(X, 3, 2, method="compiled")
    info = _compiled._pool_launch.cache_info()
    assert (info.hits, info.misses) == (2, 1)
    assert info.maxsize is not None
    launch = _compiled._pool_launch(*next(iter(_launch_keys())))
    arrays = [a for a in launch.constants if isinstance(a, np.ndarray)]
    assert arrays and not any(a.flags.writeable for a in arrays)


def _launch_keys():
    from pooling_ref.arguments import prepare_pool
    from pooling_ref.rules import plan_pool

    x_cl, g, _ = prepare_pool("max_pool", X, 3, 2, "valid", "channels_last")
    yield g, plan_pool("onednn", "max", x_cl.dtype, g), X.shape[-1]


#: ``(good arguments, bad arguments that equal them as a plain key)``.
LOOKALIKES = [
    (dict(pool_size=2), dict(pool_size=2.0)),
    (dict(pool_size=1), dict(pool_size=True)),
    (dict(pool_size=(2, 2)), dict(pool_size=(2, True))),
    (dict(pool_size=2, strides=1), dict(pool_size=2, strides=1.0)),
    (dict(pool_size=2, ceil_mode=False), dict(pool_size=2, ceil_mode=0)),
    (dict(pool_size=2, dilation_rate=1), dict(pool_size=2, dilation_rate=True)),
    (dict(pool_size=2, padding=((1, 1), (0, 0))), dict(pool_size=2, padding=((1, True), (0, 0)))),
    (dict(pool_size=2, padding=((1, 1), (0, 0))), dict(pool_size=2, padding=[(1, 1.0), (0, 0)])),
    (dict(pool_size=2, data_format="channels_last"), dict(pool_size=2, data_format=b"x")),
]


@pytest.mark.parametrize("op", [pr.max_pool, pr.avg_pool], ids=["max_pool", "avg_pool"])
@pytest.mark.parametrize(("good", "bad"), LOOKALIKES, ids=lambda d: repr(d))
def test_a_cached_call_keeps_the_errors_of_lookalike_arguments(op, good, bad):
    arguments._normalized_pool.cache_clear()
    expected = _error(lambda: op(X, **bad))            # empty cache: the reference error
    op(X, **good)
    op(X, **good)                                      # cached now
    assert _error(lambda: op(X, **bad)) == expected
    assert expected[1].split(":")[0] == op.__name__


def test_the_same_arguments_on_another_shape_are_checked_again():
    pr.max_pool(X, 5)                                  # cached for 9 x 9
    with pytest.raises(ValueError, match="pool_size"):
        pr.max_pool(X[:, :4, :4], 5)                   # window larger than 4 x 4


@pytest.mark.parametrize("method", methods.names("max_pool"))
def test_results_are_never_keyed_on_contents(method):
    rng = np.random.default_rng(5)
    for _ in range(3):                                 # same shape, arguments, new values
        x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
        for op in (pr.max_pool, pr.avg_pool):
            got = op(x, 3, 2, "same", "channels_first", method=method)
            want = op(x, 3, 2, "same", "channels_first", method="loop")
            assert got.tobytes() == want.tobytes(), (op.__name__, method)
            assert got.flags.c_contiguous and got.shape == (2, 3, 5, 5)


@pytest.mark.parametrize("shape", [(1, 0, 2), (1, 3, 0, 2), (2, 0, 0, 4, 1)])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("method", method_params(methods.METHODS))
def test_an_empty_spatial_axis_gives_an_empty_result_on_every_method(shape, padding, method):
    """No window, no launch: the shape a 0-length axis gives (0 outputs along it, the
    others as usual), the input's dtype, and no set-up built for a kernel that never runs
    (the tap tables of an empty axis have no rows), on a first and a repeated call."""
    x = np.zeros(shape, np.float32)
    out_spatial = shape[1:-1]                  # pool 1, stride 1: the same lengths
    for _ in range(2):
        for op in (pr.max_pool, pr.avg_pool):
            got = op(x, 1, padding=padding, method=method)
            assert got.shape == (shape[0], *out_spatial, shape[-1]) and got.dtype == x.dtype
