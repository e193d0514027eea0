"""The README's set-up: its test command is derandomized on every machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _profile(**extra: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "HYPOTHESIS_PROFILE")}
    env.update(extra)
    code = ("import conftest, hypothesis; "
            "print(hypothesis.settings.get_current_profile_name(), "
            "hypothesis.settings().derandomize)")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                       text=True, env=env)
    assert p.returncode == 0, p.stderr
    return p.stdout.split()


def test_a_newcomers_test_run_is_derandomized():
    """README command 2 without CI=true: the ``ci`` profile (a fixed seed), so a fresh clone
    draws the examples CI draws; random exploration is opt-in."""
    assert _profile() == ["ci", "True"]
    assert _profile(CI="true") == ["ci", "True"]
    assert _profile(HYPOTHESIS_PROFILE="dev") == ["dev", "False"]
    assert _profile(HYPOTHESIS_PROFILE="explore") == ["explore", "False"]
