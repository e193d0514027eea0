"""Progress of long runs: a tqdm bar on a terminal, plain lines otherwise, nothing with
``--quiet`` — for ``pooling-ref verify``, ``pooling-ref check`` and the benchmark report."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
import threading

import pytest

import pooling_ref
from pooling_ref import _progress
from pooling_ref._progress import Progress

from .test_cli import _GOOD, SCRIPT, run

_BENCH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _steps(progress: Progress, labels: list[str]) -> None:
    with progress:
        for label in labels:
            progress.advance(label)


def test_plain_lines_at_each_tenth():
    log = io.StringIO()
    _steps(Progress(25, "verify", stream=log), ["conv1d"] * 25)
    lines = log.getvalue().splitlines()
    # the tenths of 25 are crossed at 3, 5, 8, 10, 13, 15, 18, 20, 23, 25
    assert [int(re.match(r"verify: (\d+)/25 cases, conv1d, \d+\.\d s$", x).group(1))
            for x in lines] == [3, 5, 8, 10, 13, 15, 18, 20, 23, 25]


def test_quiet_writes_nothing():
    for stream in (io.StringIO(), _Terminal()):
        _steps(Progress(5, "check", stream=stream, quiet=True), ["max_pool1d"] * 5)
        assert stream.getvalue() == ""


def test_terminal_gets_a_tqdm_bar():
    term = _Terminal()
    _steps(Progress(6, "verify", stream=term), ["max_pool1d"] * 3 + ["conv1d"] * 3)
    text = term.getvalue()
    assert "\r" in text and "6/6" in text and "verify conv1d" in text
    assert "case/s" in text                                  # tqdm's rate field
    assert not re.search(r"verify: \d+/6 cases", text)      # not the plain lines


def test_terminal_without_tqdm_gets_plain_lines(monkeypatch):
    monkeypatch.setattr(_progress, "tqdm", None)
    term = _Terminal()
    _steps(Progress(2, "check", stream=term), ["zero_pad1d"] * 2)
    assert re.fullmatch(r"check: 1/2 cases, zero_pad1d, \d+\.\d s\n"
                        r"check: 2/2 cases, zero_pad1d, \d+\.\d s\n", term.getvalue())


# ----------------------------------------------------------------------------- the hook


def test_check_calls_progress_after_each_case():
    calls = []
    report = pooling_ref.check(pooling_ref.zero_pad, "zero_pad1d", cases=7,
                               progress=lambda done, total: calls.append((done, total)))
    assert report.passed and calls == [(i, 7) for i in range(1, 8)]


def test_check_progress_stops_with_fail_fast():
    calls = []
    report = pooling_ref.check(lambda x, **kw: x, "max_pool1d", cases=50, fail_fast=True,
                               progress=lambda done, total: calls.append(done))
    assert not report.passed
    assert calls == list(range(1, report.cases + 1)) and report.cases < 50


# ----------------------------------------------------------------------------- the CLI


def test_check_progress_lines_and_quiet(tmp_path):
    (tmp_path / "goodpad.py").write_text(_GOOD)
    r = run("check", "goodpad:pad", "--op", "zero_pad2d", "--cases", "20", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    done = re.findall(r"^check: (\d+)/20 cases, zero_pad2d, \d+\.\d s$", r.stderr, re.M)
    assert [int(d) for d in done] == list(range(2, 21, 2))
    assert "check:" not in r.stdout                           # the report alone on stdout
    r = run("check", "goodpad:pad", "--op", "zero_pad2d", "--cases", "20", "--quiet",
            cwd=tmp_path)
    assert r.returncode == 0 and r.stderr == ""
    assert "20 cases, all passed" in r.stdout


def test_verify_quiet_has_no_progress():
    r = run("verify", "--cases", "2", "--ops", "zero_pad1d", "--quiet")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "cases," not in r.stderr and "PASSED" in r.stdout


def _on_terminal(*args: str, cwd=None) -> tuple[int, str]:
    """Run ``pooling-ref ARGS`` with stderr on a pseudo-terminal; (status, what it showed)."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.Popen([str(SCRIPT), *args], stdout=subprocess.DEVNULL, stderr=slave,
                            cwd=cwd, env=env)
    os.close(slave)
    chunks: list[bytes] = []

    def read():
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:                  # the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    status = proc.wait(timeout=600)
    reader.join(timeout=30)
    os.close(master)
    return status, b"".join(chunks).decode(errors="replace")


def test_check_on_a_terminal_draws_a_bar(tmp_path):
    """(A new pseudo-terminal says it is 0 columns wide: the bar is drawn 80 wide then.)"""
    (tmp_path / "goodpad.py").write_text(_GOOD)
    status, shown = _on_terminal("check", "goodpad:pad", "--op", "zero_pad2d", "--cases",
                                 "30", cwd=tmp_path)
    assert status == 0, shown
    assert "\r" in shown and "check zero_pad2d" in shown and "30/30" in shown
    assert not re.search(r"check: \d+/30 cases", shown)       # no plain lines


def test_verify_on_a_terminal_draws_a_bar():
    status, shown = _on_terminal("verify", "--cases", "3", "--ops", "zero_pad1d",
                                 "max_pool1d")
    assert status == 0, shown
    assert "\r" in shown and "6/6" in shown and "verify max_pool1d" in shown
    assert not re.search(r"verify: \d+/6 cases", shown)


# ----------------------------------------------------------------------------- benchmarks


def test_benchmark_runner_shows_progress(capfd):
    """report.py follows the suite's progress pipe: a line per tenth of the benchmarks."""
    sys.path.insert(0, _BENCH)
    try:
        import report
    finally:
        sys.path.remove(_BENCH)
    impls = ["fast", "loop", "read_pass", "copy"]
    cmd = [sys.executable, "-m", "pytest", os.path.join(_BENCH, "test_bench.py"), "-q",
           "-p", "no:cacheprovider", "--benchmark-disable", "-k",
           f"max2d_28_f2s2 and ({' or '.join(impls)})"]
    report.run_pytest(cmd, dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), "bench")
    err = capfd.readouterr().err
    got = re.findall(r"^bench: (\d)/4 benchmarks, max2d_28_f2s2-(\w+), \d+\.\d s$", err,
                     re.M)
    assert got == [(str(i), impl) for i, impl in enumerate(impls, 1)], err
    with pytest.raises(SystemExit, match="benchmark run failed"):
        report.run_pytest([*cmd[:-1], "no_such_case"], dict(os.environ), "bench",
                          quiet=True)
