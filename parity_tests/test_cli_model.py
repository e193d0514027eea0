"""``pooling-ref model FILE``: the node table, --json, --input, --kernel, progress, and the
exit statuses (0 clean models, 1 the planted difference, 2 usage errors and a missing
extra). The .tflite tests need TensorFlow and ai-edge-litert (skipped without them, failed
under ``POOLING_REF_REQUIRE_LITERT=1``); the usage errors run everywhere."""

from __future__ import annotations

import json

import numpy as np
import pytest

from parity_tests._model_files import (
    HIDE_RUNTIMES,
    clean_tflite,
    fifty_tflite,
    needs_litert,
    planted_tflite,
)

from .test_cli import run

pytestmark = pytest.mark.litert

OPS = ["PAD", "AVERAGE_POOL_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D"]


def _table_ops(stdout: str) -> list[str]:
    """The op column of the node table (the rows between the dashes and the count line)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line and set(line) <= {"-", " "})
    end = next(i for i, line in enumerate(lines) if line.endswith(" differ"))
    return [line.split()[2] for line in lines[start + 1:end]]


@pytest.mark.parametrize("int8", [False, True], ids=["float32", "int8"])
def test_clean_model_passes(tmp_path, int8):
    path = clean_tflite(tmp_path, int8=int8)
    r = run("model", str(path), "--json", str(tmp_path / "nodes.json"), "-q")
    assert r.returncode == 0, r.stdout + r.stderr
    assert _table_ops(r.stdout) == OPS
    assert "PASSED: 5 nodes:" in r.stdout and "0 DIFFERS" in r.stdout
    doc = json.loads((tmp_path / "nodes.json").read_text())
    assert doc["format"] == "tflite" and doc["kernel"] == "xnnpack" and doc["passed"] is True
    assert [n["op"] for n in doc["nodes"]] == OPS
    assert doc["nodes"][0]["attributes"]["paddings"] == [[0, 0], [1, 2], [0, 1], [0, 0]]
    assert "ai-edge-litert" in doc["versions"]
    if not int8:     # XNNPACK's float average: its own rule, a registered difference
        assert doc["nodes"][1]["verdict"] == "known"
        assert doc["nodes"][1]["registry"] == ["litert-xnnpack-avg-order"]
        assert "litert-xnnpack-avg-order" in r.stdout


def test_planted_difference_fails_with_its_registry_id(tmp_path):
    path, x = planted_tflite(tmp_path)
    r = run("model", str(path), "--input", str(x), "--kernel", "builtin", "--json",
            str(tmp_path / "nodes.json"), "-q")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAILED: 1 node:" in r.stdout and "1 DIFFERS" in r.stdout
    assert "output not requantized" in r.stdout
    (node,) = json.loads((tmp_path / "nodes.json").read_text())["nodes"]
    assert node["verdict"] == "DIFFERS" and node["worst"] == 13     # got 13, requantized 26
    assert node["registry"] == ["litert-pool-requantization-missing"]


def test_given_input_is_used(tmp_path):
    path = clean_tflite(tmp_path)
    np.save(tmp_path / "zeros.npy", np.zeros((1, 12, 11, 3)))        # float64: cast
    r = run("model", str(path), "--input", str(tmp_path / "zeros.npy"), "--kernel",
            "reference", "--json", str(tmp_path / "n.json"), "-q")
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads((tmp_path / "n.json").read_text())
    assert doc["inputs"] == [str(tmp_path / "zeros.npy")] and doc["kernel"] == "reference"
    assert all(n["worst"] == 0 for n in doc["nodes"])       # zeros in: every node exact
    assert "1 input file(s)" in r.stdout


def test_fifty_nodes_pass_with_progress(tmp_path):
    r = run("model", str(fifty_tflite(tmp_path)))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASSED: 50 nodes:" in r.stdout
    lines = [line for line in r.stderr.splitlines() if line.startswith("model: ")]
    assert lines[-1].startswith("model: 51/51 steps") and len(lines) == 10, r.stderr


@pytest.mark.parametrize(("make", "args", "message"), [
    (lambda t: clean_tflite(t), ["--input", "{t}/wrong.npy"], "has shape (1, 12, 11, 3)"),
    (lambda t: clean_tflite(t), ["--input", "{t}/ints.npy"], "is float32, got an array of"),
    (lambda t: t / "not.tflite", [], "not a .tflite file"),
])
def test_usage_errors_with_litert(tmp_path, make, args, message):
    needs_litert()
    path = make(tmp_path)
    if not path.exists():
        path.write_bytes(b"\x00" * 64)
    np.save(tmp_path / "wrong.npy", np.zeros((1, 5, 5, 3), np.float32))
    np.save(tmp_path / "ints.npy", np.zeros((1, 12, 11, 3), np.int32))
    r = run("model", str(path), *[a.format(t=tmp_path) for a in args])
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(("name", "args", "message"), [
    ("m.h5", [], "FILE must end in .tflite or .onnx, got"),
    ("missing.tflite", [], "no such file"),
    ("m.onnx", ["--kernel", "builtin"], "--kernel applies to .tflite models"),
    ("m.tflite", ["--input", "missing.npy"], "--input: cannot read 'missing.npy'"),
    ("m.tflite", ["--json", "no/such/dir/x.json"], "--json: cannot write"),
])
def test_usage_errors(tmp_path, name, args, message):
    if name != "missing.tflite":
        (tmp_path / name).write_bytes(b"\x00" * 64)
    r = run("model", name, *args, cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(("name", "extra"), [("m.tflite", "pooling-ref[litert]"),
                                             ("m.onnx", "pooling-ref[onnx]")])
def test_missing_extra_is_exit_2_with_the_install_line(tmp_path, name, extra):
    (tmp_path / "sitecustomize.py").write_text(HIDE_RUNTIMES)
    (tmp_path / name).write_bytes(b"\x00" * 64)
    r = run("model", name, cwd=tmp_path, env_extra={"PYTHONPATH": str(tmp_path)})
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"pip install '{extra}'" in r.stderr and "Traceback" not in r.stderr
