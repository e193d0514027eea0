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


def test_the_wheel_holds_every_module_of_the_package(tmp_path):
    """README's commands install a built wheel (not the source tree): every ``.py`` file
    and data file under ``pooling_ref/`` must be in it (a subpackage left out of the
    setuptools configuration breaks ``import pooling_ref`` only after ``pip install .``)."""
    import shutil
    import zipfile

    root = Path(__file__).resolve().parents[1]
    clean = tmp_path / "src"            # a stale build/ directory would hide a missing package
    shutil.copytree(root, clean, ignore=shutil.ignore_patterns(
        "build", "dist", "*.egg-info", ".venv*", ".git", ".nox", "__pycache__", ".*cache"))
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                        str(tmp_path), str(clean)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    (wheel,) = tmp_path.glob("pooling_ref-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    source = {f.relative_to(root).as_posix() for f in (root / "pooling_ref").rglob("*")
              if f.is_file() and "__pycache__" not in f.parts and f.suffix in (".py", ".json")}
    assert source and source <= names, sorted(source - names)


def _collected_modules(marker: str) -> set[str]:
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", marker,
                           "-p", "no:randomly", "parity_tests"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return {line.split("::")[0].removeprefix("parity_tests/")
            for line in done.stdout.splitlines() if "::" in line}


def test_the_parity_subset_is_a_marker():
    """.ci/run and nox select the TensorFlow parity subset by marker (``-m parity``; the
    backend sessions ``-m any_backend``), set in each module: these are the modules that
    compare with TensorFlow's kernels and layers."""
    backend = {"test_pooling_keras.py", "test_zero_pad_keras.py", "test_conv_keras.py",
               "test_functional_forms.py", "test_keras_backends.py"}
    tf_only = {"test_special_values.py", "test_dtypes.py", "test_known_defects.py",
               "test_gradients_keras.py", "test_gradient_flush_keras.py",
               "test_known_grad_defects.py", "test_oracle_accepts_tf.py",
               "test_tf_window_ops.py"}
    assert _collected_modules("any_backend") == backend
    assert _collected_modules("parity") == backend | tf_only
    for script in (ROOT / ".ci" / "run", ROOT / "noxfile.py"):
        text = script.read_text(encoding="utf-8")
        assert '"parity"' in text or "-m parity" in text, script
        assert "test_pooling_keras.py" not in text, f"{script} lists test files again"


def test_the_litert_subset_is_a_marker():
    """nox -s litert selects the LiteRT / ONNX / model-file tests by marker (``-m litert``),
    set in each module. The modules that need a runtime skip at import without it (and are
    then not collected); the others are collected everywhere."""
    import importlib.util

    needs = {"test_litert_parity.py": "ai_edge_litert", "test_litert_model_check.py":
             "ai_edge_litert", "test_litert_check_models.py": "ai_edge_litert",
             "test_onnx_model_check.py": "onnx"}
    expected = {"test_litert_dialect.py", "test_cli_model.py"} | {
        module for module, runtime in needs.items() if importlib.util.find_spec(runtime)}
    assert _collected_modules("litert") == expected
    assert not _collected_modules("litert") & _collected_modules("parity")
    text = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    assert 'LITERT = "litert"' in text and "test_litert_parity.py" not in text
