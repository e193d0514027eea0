"""``pooling-ref verify --dialect torch|onnx|jax|litert``: exit 2 with a message naming the
missing package (or the missing ops), PASSED counts against a runtime, exit 1 with the
mismatches when the runtime disagrees, registered runtime defects skipped and named."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from pooling_ref import cli
from pooling_ref._verify import dialect as VD
from pooling_ref.dialects import jax as pj


def _run(capsys, *argv):
    code = cli.main(["verify", *argv, "--quiet"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_litert_says_where_its_kernels_are_checked(capsys):
    """The litert.* ops exist, but a LiteRT kernel runs only inside a converted model:
    exit 2 naming the session and command that check them."""
    code, out, err = _run(capsys, "--dialect", "litert")
    assert code == 2 and "nox -s litert" in err and "pooling-ref model" in err, (out, err)


def test_a_missing_runtime_exits_2_naming_the_package(capsys, monkeypatch):
    monkeypatch.setitem(VD.FRAMEWORKS, "jax", ("no_such_runtime_pkg", "pip install it"))
    code, out, err = _run(capsys, "--dialect", "jax")
    assert code == 2 and out == ""
    assert "'no_such_runtime_pkg' not found" in err and "pip install it" in err, err


@pytest.mark.parametrize("framework", ["torch", "onnx", "jax"])
def test_an_uninstalled_framework_exits_2(capsys, framework):
    package = VD.FRAMEWORKS[framework][0]
    if importlib.util.find_spec(package) is not None:
        pytest.skip(f"{package} is installed here (the next tests run it)")
    code, _, err = _run(capsys, "--dialect", framework)
    assert code == 2 and f"package {package!r} not found" in err, err


def test_an_unknown_dialect_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["verify", "--dialect", "mxnet"])
    assert e.value.code == 2 and "mxnet" in capsys.readouterr().err


def _fake_jax(monkeypatch, run):
    """jax's entry with numpy as the "installed" package and ``run`` as the runtime."""
    monkeypatch.setitem(VD.FRAMEWORKS, "jax", ("numpy", "-"))
    monkeypatch.setitem(VD.RUNNERS, "jax", lambda: run)


def test_a_runtime_that_agrees_passes_and_one_that_differs_fails(capsys, monkeypatch):
    def agrees(op, x, params):
        return pj.reduce_window(x, **params)

    _fake_jax(monkeypatch, agrees)
    code, out, _ = _run(capsys, "--dialect", "jax", "--cases", "20")
    assert code == 0 and "PASSED: 20 of 20 cases matched the runtime" in out, out

    def drops_nan(op, x, params):
        return pj.reduce_window(np.where(np.isnan(x), -np.inf, x), **params)

    _fake_jax(monkeypatch, drops_nan)
    code, out, _ = _run(capsys, "--dialect", "jax", "--cases", "40")
    assert code == 1 and "FAILED" in out and "MISMATCH jax.reduce_window(" in out, out


def test_the_jax_crop_that_aborts_is_skipped_not_run(capsys, monkeypatch):
    x = np.zeros((2, 4), np.float32)
    crop = {"window_dimensions": (1, 1), "window_strides": (1, 1),
            "padding": ((0, 0), (-1, 0))}
    assert VD._jax_crop(x, crop)
    assert not VD._jax_crop(x, {**crop, "padding": ((0, 0), (-1, 1))})
    assert not VD._jax_crop(x, {**crop, "window_dimensions": (1, 2)})


@pytest.mark.parametrize("framework", ["torch", "jax", "onnx"])
def test_verify_dialect_passes_against_the_installed_runtime(capsys, framework):
    pytest.importorskip(VD.FRAMEWORKS[framework][0])
    if framework == "onnx":
        pytest.importorskip("onnx")
    code, out, _ = _run(capsys, "--dialect", framework, "--cases", "12")
    ops = len(VD.dialect_ops(framework))
    assert code == 0, out
    assert "cases matched the runtime" in out and f"of {12 * ops} cases" in out, out
