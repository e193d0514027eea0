"""The per-call caches of the pooling ops (argument normalisation, the compiled kernel's
launch): a repeated call looks its set-up up instead of rebuilding it, the caches are
bounded, a cached key never lets a bad argument through (the same error, word for word, as
on an empty cache), and nothing is keyed on array contents."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import pooling_ref as pr
from pooling_ref import _compiled, arguments, methods, pooling

from ._methods import method_params

X = np.arange(2 * 9 * 9 * 3, dtype=np.float32).reshape(2, 9, 9, 3) % 7 - 3


def _error(call):
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    return info.type, str(info.value)


def test_a_repeated_call_hits_the_normalisation_cache():
    """(A method without a prepared form: every call normalises its arguments.)"""
    arguments._normalized_pool.cache_clear()
    pr.max_pool(X, 2, padding="same", method="fast")
    pr.avg_pool(X, 2, padding="same", method="fast")
    pr.max_pool(X, 2, padding="same", method="fast")
    info = arguments._normalized_pool.cache_info()
    assert (info.hits, info.misses) == (1, 2)          # max_pool and avg_pool: own keys
    assert info.maxsize is not None


@pytest.mark.skipif(not _compiled.AVAILABLE, reason="needs Numba")
def test_a_repeated_compiled_call_hits_the_launch_cache():
    """(A strided input: no prepared call, every call runs the compiled layer.)"""
    _compiled._pool_launch.cache_clear()
    strided = np.repeat(X, 2, axis=1)[:, ::2]
    assert not strided.flags.c_contiguous
    for _ in range(3):
        pr.max_pool(strided, 3, 2, method="compiled")
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


# ----------------------------------------------------------------------------- prepared calls

#: ``(op, arguments)`` of calls that have a prepared form where Numba is usable (the
#: compiled kernel carries out the whole plan): ranks 1-3 (tuples cut to the rank), both
#: layouts, the window model.
PREPARED_CALLS = [
    ("max_pool", dict(pool_size=2)),
    ("max_pool", dict(pool_size=3, strides=2, padding="same")),
    ("max_pool", dict(pool_size=(3, 2, 2), strides=(2, 1, 2),
                      padding=((1, 0), (2, 1), (0, 1)), ceil_mode=True)),
    ("max_pool", dict(pool_size=2, padding="same_lower", tf_kernel=None)),
    ("max_pool", dict(pool_size=2, tf_kernel="eigen")),
    ("avg_pool", dict(pool_size=2)),
    ("avg_pool", dict(pool_size=3, strides=2, padding="same")),
    ("avg_pool", dict(pool_size=3, strides=1, padding=((0, 2), (1, 1), (1, 0)),
                      ceil_mode=True, tf_kernel=None)),
]


def _pins(shape_cl, data_format, dtype, seed=11):
    """A C-contiguous input in ``data_format`` with ties, signed zeros, NaN, infinities
    and subnormals among its cells."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, shape_cl).astype(dtype)
    if np.dtype(dtype).kind == "f":
        flat = x.reshape(-1)
        specials = [np.nan, np.inf, -np.inf, -0.0, np.finfo(dtype).tiny / 4]
        flat[rng.choice(flat.size, 5 * len(specials))] = np.repeat(specials, 5)
    if data_format == "channels_first":
        x = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    return x


@pytest.mark.skipif(not _compiled.AVAILABLE, reason="needs Numba")
@pytest.mark.parametrize(("op", "kwargs"), PREPARED_CALLS, ids=repr)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("shape_cl", [(2, 11, 3), (2, 7, 9, 5), (1, 5, 6, 7, 9),
                                      (2, 11, 40), (2, 7, 9, 64)],
                         ids=["1d", "2d", "3d", "1d-40-channels", "2d-64-channels"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_repeated_call_runs_its_prepared_form_bit_for_bit(op, kwargs, data_format,
                                                            shape_cl, dtype, monkeypatch):
    """The second call of the same arguments on an array of the same shape and dtype runs
    the prepared form — checking and planning would raise here, so a pass proves it — and
    gives the "loop" method's bits in a fresh C-contiguous array, the input untouched."""
    rank = len(shape_cl) - 2
    kwargs = {k: (v[:rank] if k in ("pool_size", "strides", "padding")
                  and isinstance(v, tuple) else v) for k, v in kwargs.items()}
    fn = getattr(pr, op)
    x = _pins(shape_cl, data_format, dtype)
    call = dict(kwargs, data_format=data_format)
    want = fn(x, **call, method="loop")
    first = fn(x, **call)
    key = arguments.call_key(op, x, tuple(_signature_args(fn, call)))
    assert key is not None and pooling._PREPARED.get(key), "no prepared form kept"
    x2 = _pins(shape_cl, data_format, dtype, seed=12)           # other contents, same key
    assert x2.tobytes() != x.tobytes()
    want2 = fn(x2, **call, method="loop")
    before = x2.copy()
    monkeypatch.setattr(pooling, "prepare_pool", _refuse)
    second, again = fn(x2, **call), fn(x2, **call)
    for got, expected in ((first, want), (second, want2), (again, want2)):
        assert got.tobytes() == expected.tobytes() and got.shape == expected.shape
        assert got.dtype == x.dtype and got.flags.c_contiguous and got.flags.writeable
    assert x2.tobytes() == before.tobytes()
    assert not np.shares_memory(second, again) and not np.shares_memory(second, x2)


def _refuse(*args, **kwargs):
    raise AssertionError("checked and planned again: the prepared form did not run")


def _signature_args(fn, call: dict) -> list:
    """The call's arguments after ``x`` in the op's signature order, defaults filled in
    (what the op keys a call on)."""
    params = list(inspect.signature(fn).parameters.values())[1:]
    return [call.get(p.name, p.default) for p in params]


@pytest.mark.skipif(not _compiled.AVAILABLE, reason="needs Numba")
@pytest.mark.parametrize(("op", "call", "dtype"), [
    ("max_pool", dict(method="loop"), "float32"),
    ("max_pool", dict(method="fast"), "float32"),
    ("max_pool", dict(nan="propagate"), "float32"),
    ("max_pool", dict(tf_kernel="xla", pool_size=1, strides=1), "float32"),   # a copy
    ("max_pool", dict(dilation_rate=2), "float32"),          # no compiled dilation
    ("max_pool", {}, "float16"),                             # computed in float32
    ("avg_pool", dict(tf_kernel=None), "float16"),           # summed in float64
    ("avg_pool", dict(divisor="padded", padding=((1, 1), (0, 1))), "float32"),
], ids=repr)
def test_calls_without_a_prepared_form_are_checked_every_time(op, call, dtype, monkeypatch):
    """Calls the compiled kernel does not carry out alone, in the input's dtype, keep no
    prepared form: a repeated call checks and plans again (the patched checking is
    reached), and the result keeps the input's dtype."""
    call = dict(dict(pool_size=2), **call)
    x = _pins((2, 7, 9, 5), "channels_last", dtype)
    assert getattr(pr, op)(x, **call).dtype == x.dtype
    assert getattr(pr, op)(x, **call).dtype == x.dtype
    monkeypatch.setattr(pooling, "prepare_pool", _refuse)
    with pytest.raises(AssertionError, match="checked and planned again"):
        getattr(pr, op)(x, **call)


@pytest.mark.skipif(not _compiled.AVAILABLE, reason="needs Numba")
def test_prepared_calls_are_keyed_on_dtype_and_shape_and_bounded(monkeypatch):
    """float32 and float64 of one shape, and two shapes of one dtype, are four keys; the
    table is emptied when full, never larger than its bound."""
    inputs = [_pins(shape, "channels_last", dtype)
              for shape in ((1, 6, 6, 2), (1, 8, 8, 2)) for dtype in ("float32", "float64")]
    wants = [pr.max_pool(x, 2, method="loop") for x in inputs]
    monkeypatch.setattr(pooling, "_PREPARED", {})
    monkeypatch.setattr(pooling, "_PREPARED_MAX", 3)
    for i, (x, want) in enumerate(zip(inputs, wants)):
        for _ in range(2):
            got = pr.max_pool(x, 2)
            assert got.dtype == x.dtype and got.tobytes() == want.tobytes()
        assert len(pooling._PREPARED) == (i + 1 if i < 3 else 1)   # emptied at the 4th


@pytest.mark.skipif(not _compiled.AVAILABLE, reason="needs Numba")
def test_the_kernels_run_through_their_compiled_entry_points():
    """After its first call, a kernel runs through the compiled entry point of its
    signature (Numba's per-call type dispatch skipped), not the dispatcher."""
    x = _pins((1, 8, 8, 3), "channels_last", "float32")
    np.testing.assert_array_equal(pr.avg_pool(x, 2, tf_kernel=None),
                                  pr.avg_pool(x, 2, tf_kernel=None, method="loop"))
    entries = [entry for (kernel, *_), entry in _compiled._dispatch._READY.items()]
    assert entries and all(entry is not kernel for (kernel, *_), entry in
                           _compiled._dispatch._READY.items())


@pytest.mark.skipif(not _compiled.AVAILABLE, reason="needs Numba")
def test_a_prepared_call_runs_the_kernel_compiled_for_each_inputs_flags(monkeypatch):
    """A read-only or unaligned input of a prepared call's shape and dtype is another
    compiled signature (Numba types an array with its flags): the prepared form asks
    for its entry again instead of running the one of the first input."""
    monkeypatch.setattr(_compiled._dispatch, "_READY", {})
    x = _pins((1, 9, 9, 3), "channels_last", "float32")
    read_only = x.copy()
    read_only.setflags(write=False)
    raw = np.zeros(x.nbytes + 1, np.uint8)
    unaligned = np.frombuffer(raw.data, np.float32, x.size, offset=1).reshape(x.shape)
    unaligned[...] = x
    assert not unaligned.flags.aligned and unaligned.flags.c_contiguous
    want = pr.max_pool(x, 3, 2, method="loop")
    for a in (x, x, read_only, unaligned, read_only):
        assert pr.max_pool(a, 3, 2).tobytes() == want.tobytes()
    flags = {key[1][2] for key in _compiled._dispatch._READY}
    assert len(flags) == 3, flags                # writeable, read-only, unaligned


@pytest.mark.parametrize("method", method_params(methods.METHODS))
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_an_input_in_the_other_byte_order_gives_the_native_inputs_results(method,
                                                                        data_format):
    """A big- or little-endian input (whichever is not the machine's) is read as its
    numbers — every method, the compiled one included, on a first and a repeated call —
    with the native input's results, in native byte order."""
    x = _pins((2, 7, 9, 5), data_format, "float32")
    other = x.astype(x.dtype.newbyteorder("S"))
    assert not other.dtype.isnative and np.array_equal(other, x, equal_nan=True)
    for op in (pr.max_pool, pr.avg_pool, pr.global_max_pool, pr.global_avg_pool):
        kwargs = {} if op.__name__.startswith("global") else dict(pool_size=3, strides=2)
        want = op(x, data_format=data_format, method=method, **kwargs)
        for _ in range(2):
            got = op(other, data_format=data_format, method=method, **kwargs)
            assert got.dtype == want.dtype and got.dtype.isnative
            assert got.tobytes() == want.tobytes(), op.__name__


@pytest.mark.parametrize("method", method_params(("auto", "loop", "fast", "compiled")))
def test_gradients_of_inputs_in_the_other_byte_order(method):
    """``x`` and ``grad_out`` in the non-native byte order (``grad_out`` checked against
    the forward output's dtype after both are read as native numbers)."""
    x = _pins((2, 7, 9, 5), "channels_last", "float32")
    grad = np.random.default_rng(3).standard_normal((2, 3, 4, 5)).astype(np.float32)
    for op in (pr.max_pool_grad, pr.avg_pool_grad):
        want = op(x, grad, 3, 2, method=method)
        got = op(x.astype(x.dtype.newbyteorder("S")),
                 grad.astype(grad.dtype.newbyteorder("S")), 3, 2, method=method)
        assert got.dtype.isnative and got.tobytes() == want.tobytes(), op.__name__


@pytest.mark.skipif(not _compiled.AVAILABLE, reason="needs Numba")
@pytest.mark.parametrize(("channels", "out_w", "nbytes", "copies"), [
    (64, 7, 10_000, True), (40, 5, 10_000, True), (32, 3, 10_000, True),
    (16, 6, 10_000, False), (3, 5, 10_000, False), (64, 8, 10_000, False),
    (64, 7, 4 << 20, False),
])
def test_short_many_channel_rows_are_pooled_as_a_channels_last_copy(channels, out_w, nbytes,
                                                                     copies):
    """The channels_first inputs the parametrisations above send through the
    channels_last copy (at least 32 channels, rows of fewer than 8 outputs, small), and
    others that keep their own layout."""
    assert _compiled.copies_channels_last(channels, out_w, nbytes) is copies
