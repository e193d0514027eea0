"""What ``pooling-ref COMMAND --help`` promises: the ops and methods verify runs, and exit
statuses that each command really returns (one scenario per documented status)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

import pytest

from pooling_ref import _verify, ops
from pooling_ref.cli import EXIT_STATUS

from ._model_files import HIDE_RUNTIMES, clean_tflite, planted_tflite
from .test_cli import _BREAK_IM2COL, _GOOD, _WRONG, SCRIPT, run
from .test_cli_shards import _doc, _op


def test_verify_help_lists_every_family_and_method_it_runs():
    r = run("verify", "--help")
    assert r.returncode == 0
    table = r.stdout.split("methods compared with Keras", 1)[1].split("options:", 1)[0]
    rows = {line.split()[0]: line for line in table.splitlines() if line.strip()}
    families = {ops.spec(op).family for op in _verify.verified_ops()}   # a Keras runner
    assert families <= set(rows), sorted(families - set(rows))
    assert not {ops.spec(op).family for op in ops.OPS} - families & set(rows)  # no others
    assert {"max_pool_grad", "avg_pool_grad", "conv_grad"} <= families
    for op in ops.OPS:
        s = ops.spec(op)
        for method in s.method_names if s.methods else ():
            assert method in rows[s.family], (op, method)
    # verify's own rule: compiled (Numba) for pooling and the pooling gradients
    for family in ("max_pool", "avg_pool", "max_pool_grad", "avg_pool_grad"):
        assert "compiled" in rows[family], family
    for family in ("zero_pad", "conv", "conv_grad", "global_max_pool"):
        assert "compiled" not in rows[family], family


def test_help_states_the_measured_verify_time():
    r = run("verify", "--help")
    text = " ".join(r.stdout.split())
    assert "about 1.5 minutes" not in text
    assert re.search(r"default 80: \d+ ops, \d+ cases; measured \d+ s", text), text


# ----------------------------------------------------------------------------- exit status


def _verify_1(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(_BREAK_IM2COL)
    return run("verify", "--cases", "2", "--ops", "max_pool1d", "--quiet",
               env_extra={"PYTHONPATH": str(tmp_path)})


def _merge(tmp_path, mismatch: bool):
    paths = []
    for i in (1, 2):
        doc = _doc((i, 2), [_op(i, 2, mismatch=mismatch and i == 2)])
        (tmp_path / f"s{i}.json").write_text(json.dumps(doc))
        paths.append(str(tmp_path / f"s{i}.json"))
    return run("merge", *paths)


def _check(tmp_path, source: str, *extra: str):
    (tmp_path / "cand.py").write_text(source)
    return run("check", "cand:pad", "--op", "zero_pad2d", "--cases", "20", *extra,
               cwd=tmp_path)


_HANGS = """
import pathlib, time
def pad(x, padding=1, data_format="channels_last"):
    pathlib.Path("started").write_text("")
    time.sleep(600)
"""


def _sigint_as_terminal():
    """In the command's process: SIGINT as a terminal user has it. A job started in the
    background by a non-interactive shell (``cmd &``, as some CI runners do) ignores
    SIGINT, and the command inherits that: Ctrl-C could then never reach it (the check ran
    its 3 timed-out calls and exited 1 in such a run)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _check_interrupted(tmp_path):
    """``check`` of a kernel that hangs, stopped with SIGINT once its first call started."""
    (tmp_path / "cand.py").write_text(_HANGS)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    p = subprocess.Popen([str(SCRIPT), "check", "cand:pad", "--op", "zero_pad2d", "--quiet"],
                         cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, preexec_fn=_sigint_as_terminal)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
    finally:
        p.kill()
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def _model_without_litert(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(HIDE_RUNTIMES)
    (tmp_path / "m.tflite").write_bytes(b"TFL3" * 16)
    return run("model", "m.tflite", cwd=tmp_path, env_extra={"PYTHONPATH": str(tmp_path)})


def _model_planted(tmp_path):
    path, x = planted_tflite(tmp_path)
    return run("model", str(path), "--input", str(x), "-q")


#: (command, status) -> a run that must end with that status (what the --help says).
SCENARIOS = {
    ("verify", 0): lambda t: run("verify", "--cases", "2", "--ops", "max_pool1d", "-q"),
    ("verify", 1): _verify_1,
    ("verify", 2): lambda t: run("verify", "--shard", "3/2"),
    ("merge", 0): lambda t: _merge(t, mismatch=False),
    ("merge", 1): lambda t: _merge(t, mismatch=True),
    ("merge", 2): lambda t: run("merge", str(t / "missing.json")),
    ("check", 0): lambda t: _check(t, _GOOD),
    ("check", 1): lambda t: _check(t, _WRONG),
    ("check", 2): lambda t: _check(t, _GOOD, "--supports", "padding=1", "padding=2"),
    ("check", 130): _check_interrupted,
    ("shape", 0): lambda t: run("shape", "--input", "1,4,2", "--op", "zero_pad"),
    ("shape", 2): lambda t: run("shape", "--input", "1,4,2", "--op", "conv"),
    ("model", 0): lambda t: run("model", str(clean_tflite(t)), "-q"),
    ("model", 1): _model_planted,
    ("model", 2): _model_without_litert,
}


def test_every_documented_status_has_a_scenario():
    documented = {(cmd, code) for cmd, codes in EXIT_STATUS.items() for code in codes}
    assert documented == set(SCENARIOS)


@pytest.mark.parametrize("cmd", sorted(EXIT_STATUS))
def test_help_lists_the_exit_statuses(cmd):
    r = run(cmd, "--help")
    section = r.stdout.split("exit status:\n", 1)[1]
    listed = {int(m.group(1)) for m in re.finditer(r"^  (\d+)  \S", section, re.M)}
    assert listed == set(EXIT_STATUS[cmd])
    for code, text in EXIT_STATUS[cmd].items():
        assert f"  {code}  {text.split()[0]}" in section


@pytest.mark.parametrize(("cmd", "code"), sorted(SCENARIOS))
def test_exit_status_is_what_help_says(tmp_path, cmd, code):
    r = SCENARIOS[cmd, code](tmp_path)
    assert r.returncode == code, r.stdout + r.stderr
    assert "Traceback" not in r.stderr


# ----------------------------------------------------------------------------- --supports


@pytest.mark.parametrize("args", [
    ["--supports", "padding=valid", "padding=same"],
    ["--supports", "padding=valid", "--supports", "padding=same"],
])
def test_check_supports_key_given_twice_is_a_usage_error(args):
    r = run("check", "pooling_ref:max_pool", "--op", "max_pool1d", *args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "'padding' given twice" in r.stderr and "padding=valid,same" in r.stderr
    assert "Traceback" not in r.stderr


def test_check_supports_repeated_option_adds_keys(tmp_path):
    """``--supports A=.. --supports B=..`` restricts both (the second does not replace the
    first): the report lists both as not drawn."""
    r = run("check", "pooling_ref:zero_pad", "--op", "zero_pad1d", "--cases", "10", "-q",
            "--supports", "data_format=channels_last", "--supports", "padding=1",
            cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "not drawn (supports=): data_format other than 'channels_last'; padding other " \
        "than" in r.stdout
