"""The README's set-up: its test command is derandomized on every machine."""

from __future__ import annotations

import os
import re
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


def test_no_file_cites_a_document_the_repository_does_not_have():
    """TF_FACTS.md and API.md were the project's first notes, kept outside the repository:
    nothing in it may send a reader there."""
    files = [p for p in ROOT.rglob("*") if p.suffix in (".py", ".md", ".txt", ".cff")
             and ".venv" not in p.parts and ".nox" not in p.parts and p.is_file()]
    assert len(files) > 50
    cited = [str(p.relative_to(ROOT)) for p in files
             if "TF_FACTS" in p.read_text(encoding="utf-8", errors="replace")
             or "API.md" in p.read_text(encoding="utf-8", errors="replace")]
    assert cited == [str(Path(__file__).relative_to(ROOT))]   # this test's own text


def test_docs_state_the_number_of_bad_input_rows():
    from parity_tests.bad_inputs import ROWS

    text = (ROOT / "docs" / "semantics.md").read_text(encoding="utf-8")
    match = re.search(r"`parity_tests/bad_inputs.py` lists (\d+) such calls", text)
    assert match and int(match.group(1)) == len(ROWS), (match and match.group(1), len(ROWS))


def test_the_wheel_holds_every_subpackage(tmp_path):
    """A non-editable install (CI's ``pip install '.[test]'``) gets every package directory
    of pooling_ref (``_compiled`` was once left out by a list of package names)."""
    import shutil
    import zipfile

    src = tmp_path / "src"                  # a copy: the build leaves nothing in the tree
    shutil.copytree(ROOT / "pooling_ref", src / "pooling_ref",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                        "--no-build-isolation", str(src), "-w", str(tmp_path / "dist")],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {str(init.parent.relative_to(ROOT)) for init in
                (ROOT / "pooling_ref").rglob("__init__.py")}
    assert {"pooling_ref", "pooling_ref/_compiled"} <= packages
    for package in packages:
        assert f"{package}/__init__.py" in names, f"{package} is missing from the wheel"
    assert "pooling_ref/data/known_differences.json" in names
