"""A candidate can never hang, crash or confuse ``check`` (issue 19).

Time limits (``timeout=``) with a real pure-Python hang, a child process (``isolate=True``)
with a real segfault / abort / exit / native call that blocks every signal, Ctrl-C, the
up-front signature check, the failing frame in the report and reproducers run from
another directory. The misbehaving kernels are in ``robust_kernels.py``; anything that
could hang if the feature broke runs in a subprocess with its own deadline. The time
bounds asserted are the contract ("reported within twice the timeout"), with slack for a
loaded machine — not speed measurements.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

import pooling_ref
from parity_tests import robust_kernels as K
from pooling_ref.cases import generate_cases
from pooling_ref.oracle import check

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).with_name("pooling-ref")
#: Extra seconds allowed for everything but the timed-out calls (start-up, passing cases).
SLACK = 15.0
#: The time limit where the other cases must pass (a loaded machine can take a second).
LIMIT = 2.5


def _bad_cases(op: str, n: int) -> list:
    """The cases of ``check(..., cases=n)`` (seed 0) on which the kernels misbehave."""
    bad = [c for c in generate_cases(op, n, 0) if K._bad(c.x)]
    assert 0 < len(bad) < min(n, 3)  # some misbehave (fewer than check's limit of 3
    return bad                       # timed-out calls), the others must still run


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(ROOT)    # parity_tests.robust_kernels importable
    env.update(extra)
    return env


def _python(code: str, deadline: float = 120) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON line last."""
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                       text=True, env=_env(), cwd=ROOT, timeout=deadline)
    assert p.returncode == 0, p.stdout + p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


_SUMMARY = """
import json, time, pooling_ref
from parity_tests import robust_kernels as K
{before}
start = time.monotonic()
r = pooling_ref.check({call})
print(json.dumps({{"elapsed": time.monotonic() - start, "cases": r.cases,
                   "failed": r.failed_cases, "notes": r.notes, "text": str(r),
                   "errors": [f.call_error or f.exception for f in r.failures],
                   "shapes": [list(f.shapes["x"]) for f in r.failures]}}))
"""


def _wait_for(marker: Path) -> None:
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the kernel never started"


def _summary(call: str, before: str = "") -> str:
    """A script running ``pooling_ref.check(<call>)`` (after ``before``) that prints the
    report's facts as JSON."""
    return _SUMMARY.format(call=call, before=before)


# ----------------------------------------------------------------------------- timeout


def test_python_loop_hang_is_reported_within_twice_the_timeout_and_the_run_goes_on():
    bad = _bad_cases("max_pool2d", 8)
    r = _python(_summary(f"K.hangs_in_python, 'max_pool2d', cases=8, "
                                     f"timeout={LIMIT}"))
    assert r["cases"] == 8 and r["failed"] == len(bad)          # every case ran
    assert r["errors"] == [f"timed out after {LIMIT:g} s"] * len(bad)
    assert sorted(r["shapes"]) == sorted(list(c.x.shape) for c in bad)
    assert r["elapsed"] < len(bad) * 2 * LIMIT + SLACK
    text = r["text"]
    for c in bad:                         # shape and params of each timed-out case
        assert f"x {c.x.shape}" in text and str(c.scalar_params) in text
    assert "robust_kernels.py:" in text and "in python_loop" in text   # where it hung


def test_timed_out_calls_are_limited_and_the_rest_is_reported_as_not_run():
    r = _python(_summary("K.hangs_always, 'max_pool2d', cases=20, timeout=0.3"))
    assert r["cases"] == 3 and r["failed"] == 3
    assert r["errors"] == ["timed out after 0.3 s"] * 3
    assert "17 of 20 cases not run" in r["notes"]
    assert any("after 3 calls timed out" in n for n in r["notes"])
    assert r["elapsed"] < 3 * 2 * 0.3 + SLACK


def test_a_users_own_one_shot_alarm_is_a_failure_and_the_shrinker_does_not_hang():
    r = _python(_summary("K.hangs_always, 'max_pool2d', cases=3, timeout=1", textwrap.dedent("""
        import signal
        def alarm(signum, frame):
            raise TimeoutError("my own alarm")
        signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, 0.5)
    """)))
    assert r["cases"] == 3 and r["failed"] == 3
    assert "TimeoutError: my own alarm" in r["errors"]
    assert "timed out after 1 s" in r["errors"]


def test_a_native_call_in_process_is_abandoned_and_the_report_says_so():
    bad = _bad_cases("max_pool2d", 8)
    r = _python(_summary(f"K.sleeps_in_c, 'max_pool2d', cases=8, "
                                     f"timeout={LIMIT}"))
    assert r["cases"] == 8 and r["failed"] == len(bad)
    assert all(e.startswith(f"timed out after {LIMIT:g} s (it could not be stopped")
               for e in r["errors"])
    assert any("isolate=True" in n and "could not be stopped" in n for n in r["notes"])


def test_timeout_and_isolate_are_validated():
    with pytest.raises(ValueError, match=r"timeout must be > 0.*got 0"):
        check(pooling_ref.max_pool, "max_pool1d", timeout=0)
    with pytest.raises(TypeError, match=r"timeout must be a number.*'1'"):
        check(pooling_ref.max_pool, "max_pool1d", timeout="1")
    with pytest.raises(TypeError, match=r"isolate must be True or False.*'yes'"):
        check(pooling_ref.max_pool, "max_pool1d", isolate="yes")


def test_a_candidate_calling_sys_exit_is_a_failure():
    report = check(K.calls_sys_exit, "max_pool2d", cases=3)
    assert report.failed_cases == 3
    assert report.failures[0].exception == "SystemExit: 4"


# ----------------------------------------------------------------------------- isolation


@pytest.mark.parametrize(("kernel", "error", "shrink"), [
    ("segfaults", "crashed: killed by signal SIGSEGV", True),
    ("aborts", "crashed: killed by signal SIGABRT", False),
    ("exits_3", "crashed: the child process exited with status 3 without answering", False),
])
def test_isolated_crash_is_a_failure_and_the_run_goes_on(kernel, error, shrink):
    bad = _bad_cases("max_pool2d", 8)
    report = check(getattr(K, kernel), "max_pool2d", cases=8, isolate=True,
                   shrink_failures=shrink, max_failures=1 if shrink else 3)
    assert report.cases == 8 and report.failed_cases == len(bad)
    assert {f.call_error for f in report.failures} == {error}
    assert error in str(report)
    for f in report.failures:                # shrunk (or not) to a case that crashes
        assert K._bad(np.zeros(f.shapes["x"]))
    if kernel == "segfaults":                # Python's fault handler names the frame
        assert "robust_kernels.py:" in str(report) and "in segfault" in str(report)
        assert report.failures[0].shrink_steps > 0


def test_the_native_hang_ignores_signals(tmp_path):
    """The premise of the next test: ``native_block`` survives SIGINT and SIGTERM (it
    returns to no Python code, and every signal is blocked); only SIGKILL ends it."""
    marker = tmp_path / "started"
    p = subprocess.Popen([sys.executable, "-c", "from parity_tests import robust_kernels "
                          "as K; K.native_block(None)"], cwd=ROOT,
                         env=_env(**{K.MARKER: str(marker)}),
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        _wait_for(marker)
        time.sleep(0.3)                      # past the marker: into pause()
        p.send_signal(signal.SIGINT)
        p.send_signal(signal.SIGTERM)
        with pytest.raises(subprocess.TimeoutExpired):
            p.wait(1.0)
    finally:
        p.kill()
        p.wait()
    assert p.returncode == -signal.SIGKILL


def test_isolated_native_hang_is_killed_and_the_run_goes_on():
    bad = _bad_cases("max_pool2d", 8)
    r = _python(_summary(f"K.hangs_in_native_code, 'max_pool2d', cases=8, "
                                     f"timeout={LIMIT}, isolate=True"))
    assert r["cases"] == 8 and r["failed"] == len(bad)
    assert r["errors"] == [f"timed out after {LIMIT:g} s (child process killed)"] * len(bad)
    assert r["elapsed"] < len(bad) * 2 * LIMIT + SLACK


def test_isolate_needs_a_candidate_the_child_can_load():
    with pytest.raises(TypeError, match=r"cannot be pickled.*isolate=False"):
        check(lambda x, **p: x, "max_pool1d", isolate=True)
    name = f"robust_memory_{uuid.uuid4().hex[:8]}"       # a module with no file
    module = type(sys)(name)
    exec("def pool(x, **params):\n    return x", module.__dict__)
    sys.modules[name] = module
    try:
        with pytest.raises(TypeError, match=rf"{name}.*cannot be loaded in the child"):
            check(module.pool, "max_pool1d", isolate=True)
    finally:
        del sys.modules[name]


def test_isolated_results_equal_in_process_results():
    kw = dict(cases=30, seed=4)
    a = check(pooling_ref.avg_pool, "avg_pool2d", **kw)
    b = check(pooling_ref.avg_pool, "avg_pool2d", isolate=True, **kw)
    assert a.passed and b.passed and (a.cases, a.worst_ratio) == (b.cases, b.worst_ratio)
    bad = check(K.raises_in_numpy, "max_pool2d", cases=5, isolate=True)
    assert bad.failed_cases == 5 and bad.failures[0].exception.startswith("ValueError")


def test_cli_isolates_by_default_and_takes_a_timeout():
    """A GIL-holding native hang would stop an in-process check for ever: the CLI's
    default child process is killed after --timeout and the run goes on."""
    bad = _bad_cases("max_pool2d", 8)
    r = subprocess.run([str(SCRIPT), "check", "parity_tests.robust_kernels:hangs_in_native_code",
                        "--op", "max_pool2d", "--cases", "8", "--timeout", str(LIMIT)],
                       capture_output=True, text=True, cwd=ROOT, env=_env(), timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"8 cases, {len(bad)} FAILED" in r.stdout
    assert r.stdout.count(f"\n  timed out after {LIMIT:g} s (child process killed)\n") == len(bad)


# ----------------------------------------------------------------------------- Ctrl-C


@pytest.mark.parametrize("timeout", ["None", "5"])
def test_ctrl_c_raises_keyboard_interrupt_with_a_summary(timeout):
    case = generate_cases("max_pool2d", 4, 0)[0]
    r = _python(f"""
        import json, signal, pooling_ref
        from parity_tests import robust_kernels as K
        signal.signal(signal.SIGALRM, signal.default_int_handler)  # Ctrl-C, in 0.5 s
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        try:
            pooling_ref.check(K.hangs_always, "max_pool2d", cases=4, timeout={timeout})
        except KeyboardInterrupt as e:
            print(json.dumps({{"text": str(e), "interrupted": e.report.interrupted,
                              "passed": e.report.passed}}))
    """)
    assert r["passed"] is False and r["interrupted"] in r["text"]
    assert "interrupted (Ctrl-C) during case 0; 0 of 4 cases run" in r["text"]
    assert f"x {case.x.shape}" in r["text"] and str(case.scalar_params) in r["text"]


@pytest.mark.parametrize("isolate", [[], ["--no-isolate"]])
def test_cli_ctrl_c_prints_a_summary_and_exits_130(tmp_path, isolate):
    marker = tmp_path / "started"
    case = generate_cases("max_pool2d", 4, 0)[0]
    p = subprocess.Popen(
        [str(SCRIPT), "check", "parity_tests.robust_kernels:hangs_always", "--op",
         "max_pool2d", "--cases", "4", *isolate], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, cwd=ROOT, env=_env(**{K.MARKER: str(marker)}),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        _wait_for(marker)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        p.kill()
    assert p.returncode == 130, out + err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "interrupted (Ctrl-C) during case 0; 0 of 4 cases run, none failed so far" in err
    assert f"x {case.x.shape}" in err and str(case.scalar_params) in err


# ----------------------------------------------------------------------------- signature


_CALLS = []


def _records(x):
    _CALLS.append(x)


@pytest.mark.parametrize(("op", "call"), [
    ("max_pool2d", "candidate(x, pool_size=..., strides=..., padding=..., data_format=...)"),
    ("avg_pool1d_grad", "candidate(x, grad_out, pool_size=..., strides=..., padding=..., "
                        "data_format=...)"),
    ("conv2d", "candidate(x, kernel=..., bias=..., strides=..., padding=..., "
               "data_format=..., dilation_rate=..., groups=...)"),
    ("conv3d_grad", "candidate(x, kernel, grad_out, strides=..., padding=..., "
                    "data_format=..., dilation_rate=..., groups=...)"),
    ("global_max_pool1d", "candidate(x, data_format=..., keepdims=...)"),
    ("zero_pad3d", "candidate(x, padding=..., data_format=...)"),
])
def test_wrong_signature_is_a_type_error_naming_the_call_before_any_case(op, call):
    _CALLS.clear()
    with pytest.raises(TypeError) as e:
        check(_records, op, cases=5)
    assert call in str(e.value) and "_records(x)" in str(e.value)
    assert _CALLS == []


def test_torch_style_signature_is_rejected_up_front():
    with pytest.raises(TypeError, match=re.escape(
            "torch_style(x, kernel_size, stride=None, padding=0) cannot take the call "
            "check makes for max_pool2d: candidate(x, pool_size=..., strides=..., "
            "padding=..., data_format=...)")) as e:
        check(K.torch_style, "max_pool2d")
    assert str(e.value).endswith("it has no parameter pool_size, strides, data_format; it "
                                 "requires kernel_size, which the call never passes")


def test_parameters_sometimes_left_out_must_not_be_required():
    with pytest.raises(TypeError, match=r"strides, padding, data_format sometimes left "
                                        r"out\): it requires strides, which the call "
                                        r"sometimes leaves out"):
        check(K.needs_strides, "max_pool2d")


def test_signatures_that_can_take_the_call_pass():
    assert check(K.pool_kwargs, "max_pool2d", cases=20).passed
    assert check(K.conv_without_bias, "conv2d", cases=20, supports={"bias": [None]}).passed
    with pytest.raises(TypeError, match=r"it has no parameter bias$"):
        check(K.conv_without_bias, "conv2d", cases=20)
    report = check(max, "max_pool1d", cases=2)     # no signature: the calls tell
    assert report.failed_cases == 2 and report.failures[0].exception.startswith("TypeError")


def test_cli_wrong_signature_exits_2_naming_the_call():
    r = subprocess.run([str(SCRIPT), "check", "parity_tests.robust_kernels:torch_style",
                        "--op", "max_pool2d"], capture_output=True, text=True, cwd=ROOT,
                       env=_env(), timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "candidate(x, pool_size=..., strides=..., padding=..., data_format=...)" in r.stderr
    assert "Traceback" not in r.stderr and "FAILED" not in r.stdout


# ----------------------------------------------------------------------------- where


def _line_of(func, marker: str) -> int:
    """The line number of the line of ``func``'s source holding ``marker``."""
    import inspect

    lines, first = inspect.getsourcelines(func)
    return first + next(i for i, line in enumerate(lines) if marker in line)


@pytest.mark.parametrize("isolate", [False, True])
def test_report_shows_where_the_candidate_raised(isolate):
    report = check(K.raises_in_helper, "max_pool2d", cases=3, isolate=isolate)
    line = _line_of(K._helper, "the line the report must name")
    caller = _line_of(K.raises_in_helper, "return _helper(x)")
    text = str(report)
    assert (f"robust_kernels.py:{line} in _helper <- " in text
            and f"robust_kernels.py:{caller} in raises_in_helper" in text), text
    assert report.failures[0].where in text
    numpy_error = str(check(K.raises_in_numpy, "max_pool2d", cases=3, isolate=isolate))
    line = _line_of(K.raises_in_numpy, "the line the report must name")
    assert f"robust_kernels.py:{line} in raises_in_numpy" in numpy_error, numpy_error


# ----------------------------------------------------------------------------- reproducer


_BUGGY = """
import pooling_ref

BUG = 1

def pool(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
    return pooling_ref.max_pool(x, pool_size, strides, padding, data_format,
                                tf_kernel=None) + BUG
"""


def _run(script: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, str(script)], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=120)


def _reproducer_dirs(tmp_path: Path, package: bool = False) -> tuple[Path, Path, str]:
    """``home/<name>.py`` (or ``home/<name>/kernels.py``, a package) holding ``_BUGGY``,
    an empty ``elsewhere`` to run the reproducer from; the module name."""
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    name = f"robust_repro_{uuid.uuid4().hex[:8]}"
    if package:
        (home / name).mkdir()
        (home / name / "__init__.py").write_text("")
        name += ".kernels"
    _source(home, name).write_text(_BUGGY)
    return home, elsewhere, name


def _source(home: Path, module: str) -> Path:
    return home.joinpath(*module.split(".")).with_suffix(".py")


def _assert_runs_from_elsewhere(script: Path, home: Path, elsewhere: Path, name: str):
    p = _run(script, elsewhere)
    assert p.returncode == 1 and "AssertionError" in p.stderr, p.stderr   # still a bug
    _source(home, name).write_text(_BUGGY.replace("BUG = 1", "BUG = 0"))
    p = _run(script, elsewhere)
    assert p.returncode == 0 and p.stdout.startswith("match"), p.stderr
    top = name.partition(".")[0]
    home.joinpath(top).with_suffix("" if "." in name else ".py").rename(
        elsewhere.parent / f"{top}.moved")
    p = _run(script, elsewhere)
    assert p.returncode == 2, p.stderr                                     # not "bug"
    assert f"cannot import {top!r}" in p.stderr and "PYTHONPATH" in p.stderr
    assert "Traceback" not in p.stderr


@pytest.mark.parametrize("package", [False, True])
def test_reproducer_runs_from_another_directory(tmp_path, monkeypatch, package):
    home, elsewhere, name = _reproducer_dirs(tmp_path, package)
    monkeypatch.syspath_prepend(str(home))
    try:
        report = check(importlib.import_module(name).pool, "max_pool2d", cases=3)
    finally:
        for module in [m for m in sys.modules if m.startswith(name.partition(".")[0])]:
            del sys.modules[module]
    script = elsewhere / "repro.py"
    script.write_text(report.failures[0].reproducer)
    _assert_runs_from_elsewhere(script, home, elsewhere, name)


def test_cli_reproducer_runs_from_another_directory(tmp_path):
    home, elsewhere, name = _reproducer_dirs(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([str(SCRIPT), "check", f"{name}:pool", "--op", "max_pool2d",
                        "--cases", "3"], capture_output=True, text=True, cwd=home, env=env,
                       timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    block = re.split(r"reproduce with[^\n]*:\n", r.stdout, maxsplit=1)[1].split("\ncase ")[0]
    script = elsewhere / "repro.py"
    script.write_text(textwrap.dedent(block))
    _assert_runs_from_elsewhere(script, home, elsewhere, name)
