"""End-to-end tests of the installed ``pooling-ref`` console script (run as a subprocess).

Expected shapes and pads are derived by hand from the Keras/TF formulas
(``pooling_ref.geometry``'s docstring).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pooling_ref._compiled

SCRIPT = Path(sys.executable).with_name("pooling-ref")


def run(*args: str, cwd: Path | None = None, env_extra: dict | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.update(env_extra or {})
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=timeout)


def test_script_is_installed():
    assert SCRIPT.exists(), f"console script not found next to {sys.executable}"


@pytest.mark.parametrize("cmd", ["verify", "check", "shape", "model"])
def test_help_has_examples(cmd):
    r = run(cmd, "--help")
    assert r.returncode == 0
    assert "examples:" in r.stdout and f"pooling-ref {cmd}" in r.stdout


def test_top_level_help_lists_commands():
    r = run("--help")
    assert r.returncode == 0
    for cmd in ("verify", "check", "shape", "model"):
        assert cmd in r.stdout


# ----------------------------------------------------------------------------- shape


def _parse_shape(out: str):
    shape = tuple(int(v) for v in re.search(r"output shape: \(([\d, ]+)\)", out)
                  .group(1).split(",") if v.strip())
    rows = [line.split() for line in out.splitlines()[3:] if line.strip()]
    return shape, rows


def test_shape_max_pool_same():
    r = run("shape", "--input", "1,5,5,3", "--op", "max_pool", "--pool-size", "2",
            "--strides", "2", "--padding", "same")
    assert r.returncode == 0, r.stderr
    shape, rows = _parse_shape(r.stdout)
    # ceil(5/2) = 3; total pad (3-1)*2 + 2 - 5 = 1 -> (0, 1), the odd cell after
    assert shape == (1, 3, 3, 3)
    assert [row[1:] for row in rows] == [["5", "2", "2", "1", "3", "0", "1"]] * 2


def test_shape_conv_channels_first_dilated():
    r = run("shape", "--input", "8,3,32,30", "--op", "conv", "--kernel-size", "3,4",
            "--filters", "8", "--dilation", "2", "--padding", "same",
            "--data-format", "channels_first")
    assert r.returncode == 0, r.stderr
    shape, rows = _parse_shape(r.stdout)
    # same: length kept; dilated spans 5 and 7 -> totals 4 and 6 -> (2, 2) and (3, 3)
    assert shape == (8, 8, 32, 30)
    assert rows[0][1:] == ["32", "3", "1", "2", "32", "2", "2"]
    assert rows[1][1:] == ["30", "4", "1", "2", "30", "3", "3"]


def test_shape_conv_valid_strided_and_avg_default_strides():
    r = run("shape", "--input", "1,7,6,2", "--op", "conv", "--kernel-size", "3,2",
            "--filters", "5", "--strides", "2")
    shape, _ = _parse_shape(r.stdout)
    assert shape == (1, 3, 3, 5)          # (7-3)//2+1, (6-2)//2+1
    r = run("shape", "--input", "2,9,4", "--op", "avg_pool", "--pool-size", "4")
    shape, rows = _parse_shape(r.stdout)
    assert shape == (2, 2, 4) and rows[0][3] == "4"   # strides default to pool size


def test_shape_zero_pad_pairs():
    r = run("shape", "--input", "1,7,4,2", "--op", "zero_pad", "--pad", "1,2,0,3")
    assert r.returncode == 0, r.stderr
    shape, rows = _parse_shape(r.stdout)
    assert shape == (1, 10, 7, 2)
    assert rows[0][-2:] == ["1", "2"] and rows[1][-2:] == ["0", "3"]


@pytest.mark.parametrize("args,word", [
    (["--input", "1,5,5,3", "--op", "max_pool", "--pool-size", "0"], "pool_size"),
    (["--input", "1,5,5,3", "--op", "max_pool", "--pool-size", "6"], "pool_size"),
    (["--input", "1,5,5,3", "--op", "max_pool", "--pool-size", "2", "--padding", "full"],
     "padding"),
    (["--input", "1,5,5,3", "--op", "conv", "--kernel-size", "3", "--filters", "4",
      "--groups", "2"], "groups"),
    (["--input", "5,3", "--op", "max_pool", "--pool-size", "2"], "--input"),
    (["--input", "1,5,x", "--op", "max_pool"], "integers"),
])
def test_shape_bad_arguments_exit_2(args, word):
    r = run("shape", *args)
    assert r.returncode == 2
    assert word in r.stderr and "Traceback" not in r.stderr


# ----------------------------------------------------------------------------- check

_GOOD = """
import numpy as np

def pad(x, padding=1, data_format="channels_last"):
    x = np.asarray(x)
    r = x.ndim - 2
    if isinstance(padding, int):
        pairs = [(padding, padding)] * r
    else:
        pairs = [tuple(p) if isinstance(p, tuple) else (p, p) for p in padding]
    width = [(0, 0), (0, 0), *pairs] if data_format == "channels_first" else [
        (0, 0), *pairs, (0, 0)]
    return np.pad(x, width)
"""
_WRONG = _GOOD.replace("(p, p) for p in padding", "(p, 0) for p in padding")


def test_check_correct_module(tmp_path):
    (tmp_path / "goodpad.py").write_text(_GOOD)
    r = run("check", "goodpad:pad", "--op", "zero_pad2d", "--cases", "60", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "60 cases, all passed" in r.stdout


def test_check_wrong_module_and_its_reproducer(tmp_path):
    (tmp_path / "badpad.py").write_text(_WRONG)
    r = run("check", "badpad:pad", "--op", "zero_pad3d", "--seed", "2", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAILED" in r.stdout and "reproduce with" in r.stdout
    assert "from badpad import pad as candidate" in r.stdout
    # the first reproducer script, run on its own, fails with the mismatch
    block = re.split(r"reproduce with[^\n]*:\n", r.stdout, maxsplit=1)[1].split("\ncase ", 1)[0]
    snippet = textwrap.dedent(block)
    (tmp_path / "repro.py").write_text(snippet)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    p = subprocess.run([sys.executable, "repro.py"], cwd=tmp_path, capture_output=True,
                       text=True, env=env, timeout=120)
    assert p.returncode != 0 and "AssertionError" in p.stderr
    assert "MISMATCH" in p.stdout
    # once the function is fixed the same script passes
    (tmp_path / "badpad.py").write_text(_GOOD)
    p = subprocess.run([sys.executable, "repro.py"], cwd=tmp_path, capture_output=True,
                       text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("match")


_DECORATED = _GOOD + """
import functools

def _traced(f):
    @functools.wraps(f)
    def wrapper(x, *args, **kw):
        return f(x, *args, **kw)[..., :1]      # a broken wrapper
    return wrapper

traced_pad = _traced(pad)       # __module__/__qualname__ say "pad"
"""


def test_check_reproducer_imports_exactly_the_given_function(tmp_path):
    (tmp_path / "decopad.py").write_text(_DECORATED)
    r = run("check", "decopad:traced_pad", "--op", "zero_pad1d", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "from decopad import traced_pad as candidate" in r.stdout
    assert "import pad as candidate" not in r.stdout
    assert "wrong shape: got" in r.stdout and "index None" not in r.stdout


_LAST_ONLY = """
import numpy as np
import pooling_ref

def pool(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
    if data_format != "channels_last" or padding != "valid":
        raise NotImplementedError(data_format + " " + padding)
    return pooling_ref.max_pool(x, pool_size, strides, padding, nan="propagate",
                               tf_kernel=None)
"""


def test_check_supports_and_nan(tmp_path):
    (tmp_path / "lastonly.py").write_text(_LAST_ONLY)
    r = run("check", "lastonly:pool", "--op", "max_pool2d", cwd=tmp_path)
    assert r.returncode == 1 and "NotImplementedError" in r.stdout
    r = run("check", "lastonly:pool", "--op", "max_pool2d", "--supports",
            "data_format=channels_last", "padding=valid", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "NotImplementedError" not in r.stdout
    assert "pass nan='propagate' if that is intended" in r.stdout
    r = run("check", "lastonly:pool", "--op", "max_pool2d", "--supports",
            "data_format=channels_last", "padding=valid", "--nan", "propagate", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "100 cases, all passed" in r.stdout
    assert "not drawn (supports=): data_format other than 'channels_last'; padding other " \
           "than 'valid'" in r.stdout


def test_check_integer_dtype_and_tuple_supports(tmp_path):
    r = run("check", "pooling_ref:max_pool", "--op", "max_pool2d", "--dtype", "int32",
            "--supports", "pool_size=2,(1,3)", "--cases", "30", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "(seed 0, int32): 30 cases, all passed" in r.stdout
    assert "pool_size other than 2 or (1, 3)" in r.stdout


@pytest.mark.parametrize("args,word", [
    (["nosuchmodule_xyz:f", "--op", "max_pool1d"], "nosuchmodule_xyz"),
    (["os:nosuchfunc", "--op", "max_pool1d"], "nosuchfunc"),
    (["os.path", "--op", "max_pool1d"], "MODULE:FUNCTION"),
    (["os.path:join", "--op", "max_pool9d"], "conv3d"),
    (["os.path:join", "--op", "max_pool1d", "--cases", "0"], "cases"),
    (["os.path:join", "--op", "avg_pool1d", "--dtype", "int8"], "dtype"),
    (["os.path:join", "--op", "max_pool1d", "--supports", "kernel=3"], "unknown key"),
    (["os.path:join", "--op", "max_pool1d", "--supports", "padding"], "KEY=V1,V2"),
    (["os.path:join", "--op", "max_pool1d", "--supports", "padding=full"], "'full'"),
    (["os.path:join", "--op", "max_pool1d", "--nan", "skip"], "--nan"),
    (["nosuchmodule_xyz:f", "--op", "max_pool9d"], "max_pool9d"),   # checked before import
])
def test_check_bad_arguments_exit_2(args, word):
    r = run("check", *args)
    assert r.returncode == 2
    assert word in r.stderr and "Traceback" not in r.stderr


def test_check_module_failing_at_import_exits_2(tmp_path):
    (tmp_path / "broken_mod.py").write_text("raise RuntimeError('import-time failure')\n")
    r = run("check", "broken_mod:f", "--op", "max_pool1d", cwd=tmp_path)
    assert r.returncode == 2
    assert "broken_mod" in r.stderr and "import-time failure" in r.stderr
    assert "Traceback" not in r.stderr


# ----------------------------------------------------------------------------- verify


def test_verify_subset_with_json(tmp_path):
    out = tmp_path / "res.json"
    r = run("verify", "--cases", "3", "--seed", "1", "--ops", "max_pool2d", "conv1d",
            "zero_pad", "global_avg_pool3d", "--json", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(out.read_text())
    assert doc["passed"] is True and doc["seed"] == 1 and doc["cases_per_op"] == 3
    assert doc["versions"]["keras"] == importlib.metadata.version("keras")
    assert set(doc["ops"]) == {"max_pool2d", "conv1d", "zero_pad1d", "zero_pad2d",
                               "zero_pad3d", "global_avg_pool3d"}
    for op, res in doc["ops"].items():
        # loop, im2col, fast (+ compiled for pooling where Numba works); global ops: one
        methods = 1 if op.startswith("global") else 3
        if op == "max_pool2d" and pooling_ref._compiled.AVAILABLE:
            methods = 4
        assert res["cases"] == 3 and res["comparisons"] == 3 * methods, op
        assert res["status"] == "ok" and res["mismatches"] == []
        assert res["skipped_count"] == 0
    assert doc["ops"]["max_pool2d"]["mode"] == "bitwise"
    assert doc["ops"]["conv1d"]["mode"] == "bound"
    assert 0 <= doc["ops"]["conv1d"]["worst_overall"] <= 1
    assert doc["conv_reference_path"] == "xla"
    # versions, known defects and the table on stdout; progress lines on stderr (not a
    # terminal here): one per tenth of the 18 cases, the last one 18/18
    assert f"Keras {doc['versions']['keras']}" in r.stdout
    assert "XLA" in r.stdout and "channels_first" in r.stdout and "AbortedError" in r.stdout
    assert re.search(r"conv1d\s+bound\s+3\s+0\s+9\s", r.stdout)
    assert "PASSED" in r.stdout
    lines = [line for line in r.stderr.splitlines() if line.startswith("verify: ")]
    assert len(lines) == 10, r.stderr
    assert re.fullmatch(r"verify: 18/18 cases, global_avg_pool3d, \d+\.\d s", lines[-1])


_BREAK_IM2COL = """
import dataclasses
from pooling_ref import ops
_orig = ops.spec("max_pool1d").reference
def _broken(x, *args, method="auto", **kw):
    out = _orig(x, *args, method=method, **kw)
    return out * 2 + 1 if method == "im2col" else out
ops.register(dataclasses.replace(ops.spec("max_pool1d"), reference=_broken))
"""


def _verify_patched(tmp_path, patch: str) -> tuple[subprocess.CompletedProcess, dict]:
    """``verify --cases 2 --ops max_pool1d`` with ``patch`` run at start-up; its JSON."""
    (tmp_path / "sitecustomize.py").write_text(patch)
    out = tmp_path / "res.json"
    r = run("verify", "--cases", "2", "--ops", "max_pool1d", "--json", str(out),
            env_extra={"PYTHONPATH": str(tmp_path)})
    assert r.returncode == 1, r.stdout + r.stderr
    return r, json.loads(out.read_text())


def test_verify_reports_a_mismatch_with_exit_1(tmp_path):
    r, doc = _verify_patched(tmp_path, _BREAK_IM2COL)
    res = doc["ops"]["max_pool1d"]
    assert res["status"] == "MISMATCH"
    assert {m["method"] for m in res["mismatches"]} == {"im2col"}
    assert "FAILED" in r.stdout and "MISMATCH max_pool1d method=im2col" in r.stdout
    assert "keras = s.keras(x, pool_size=" in r.stdout
    assert "assert comparison.ok" in r.stdout


_KERAS_RAISES = """
import dataclasses
from pooling_ref import ops
def _raise(*args, **kw):
    raise RuntimeError("simulated Keras failure")
ops.register(dataclasses.replace(ops.spec("max_pool1d"), keras=_raise))
"""


def test_verify_fails_when_nothing_was_compared(tmp_path):
    r, res = _verify_patched(tmp_path, _KERAS_RAISES)
    assert res["passed"] is False
    op = res["ops"]["max_pool1d"]
    assert op["status"] == "NO COMPARISONS" and op["comparisons"] == 0
    assert op["skipped_count"] == 2
    assert re.search(r"max_pool1d\s+bitwise\s+0\s+2\s+0\s", r.stdout)
    assert "NO COMPARISONS max_pool1d" in r.stdout and "simulated Keras failure" in r.stdout
    assert "FAILED" in r.stdout and "2 skipped (Keras error)" in r.stdout
    assert "1 ops without a comparison" in r.stdout


def test_verify_unwritable_json_exits_2_before_running(tmp_path):
    r = run("verify", "--ops", "conv3d", "--json", str(tmp_path / "no" / "dir" / "r.json"))
    assert r.returncode == 2
    assert "--json" in r.stderr and "Traceback" not in r.stderr
    assert "cases," not in r.stderr                # nothing ran


def test_verify_without_tensorflow(tmp_path):
    for name in ("tensorflow", "keras"):
        (tmp_path / f"{name}.py").write_text(
            f"raise ImportError('simulated: no module named {name}')\n")
    r = run("verify", "--cases", "1", env_extra={"PYTHONPATH": str(tmp_path)})
    assert r.returncode == 2
    assert "pip install" in r.stderr and "TensorFlow" in r.stderr
    assert "Traceback" not in r.stderr


def test_verify_bad_ops_exit_2():
    r = run("verify", "--ops", "maxpool2d")
    assert r.returncode == 2
    assert "maxpool2d" in r.stderr and "conv3d" in r.stderr and "Traceback" not in r.stderr


def test_verify_tf_kernel_xla(tmp_path):
    """``--tf-kernel xla``: pooling and its gradients against the XLA-compiled Keras layers,
    pooling_ref following tf_kernel="xla"; the path is printed and written to the JSON."""
    out = tmp_path / "res.json"
    r = run("verify", "--cases", "3", "--ops", "max_pool2d", "avg_pool1d", "max_pool3d_grad",
            "--tf-kernel", "xla", "--json", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(out.read_text())
    assert doc["tf_kernel"] == "xla" and doc["passed"] is True
    assert doc["ops"]["avg_pool1d"]["mode"] == "bound"        # xla-avg-pool-division
    assert doc["ops"]["max_pool2d"]["mode"] == "bitwise"
    assert all(res["comparisons"] > 0 for res in doc["ops"].values())
    assert "TF kernel path: xla" in r.stdout and "tf_kernel='xla'" in r.stdout
    assert "PASSED (TF kernel path xla)" in r.stdout


def test_verify_tf_kernel_default_is_the_eager_path(tmp_path):
    out = tmp_path / "res.json"
    r = run("verify", "--cases", "2", "--ops", "max_pool1d", "--json", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    path = json.loads(out.read_text())["tf_kernel"]
    assert path in ("onednn", "eigen")
    assert f"TF kernel path: {path}" in r.stdout


@pytest.mark.parametrize("flag,other", [("0", "onednn"), ("1", "eigen")])
def test_verify_other_eager_path_is_a_usage_error(flag, other):
    """The eager path is fixed when TF starts: asking for the other one exits 2 and says
    which environment variable selects it."""
    r = run("verify", "--cases", "1", "--ops", "max_pool1d", "--tf-kernel", other,
            env_extra={"TF_ENABLE_ONEDNN_OPTS": flag})
    assert r.returncode == 2, r.stdout + r.stderr
    want = "1" if other == "onednn" else "0"
    assert f"TF_ENABLE_ONEDNN_OPTS={want}" in r.stderr and "Traceback" not in r.stderr
    assert "cases," not in r.stderr                # nothing ran


def test_verify_names_what_its_skipped_cases_were():
    """A case verify skips because TF has a measured defect there is not a "Keras error"."""
    from pooling_ref.cli import _skip_kind

    defect = {"keras_error": "known TF defect: MaxPool3DGrad with a 'same' window ..."}
    error = {"keras_error": "InvalidArgumentError: ..."}
    assert _skip_kind([defect, defect]) == "known TF defect"
    assert _skip_kind([error]) == "Keras error"
    assert _skip_kind([error, defect, defect]) == "Keras error; 2 known TF defect"


def test_verify_skips_keras_results_that_a_registered_model_gives(tmp_path):
    """On the Eigen path, seed 0's max_pool3d cases hold one where Keras gives the shifted
    windows of registry ``eigen-pool3d-same-negative-pad`` (pool (1, 2, 3), strides 3,
    'same': a negative pad total); verify counts it as that known difference, not as a
    mismatch (the oneDNN path has none: every case is compared)."""
    pytest.importorskip("tensorflow")
    out = tmp_path / "r.json"
    r = run("verify", "--ops", "max_pool3d", "--json", str(out), "-q",
            env_extra={"TF_ENABLE_ONEDNN_OPTS": "0"})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = json.loads(out.read_text())["ops"]["max_pool3d"]
    assert res["mismatches"] == []
    assert [s["keras_error"] for s in res["skipped"]] == [
        "known TF difference eigen-pool3d-same-negative-pad"]
