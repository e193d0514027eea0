"""The citation files agree with the package: CITATION.cff parses as CFF 1.2.0 and names
the package's version and license; the changelog and LICENSE match the metadata.

PyYAML is not a dependency, so ``_parse_cff`` reads the subset of YAML the file uses
(top-level ``key: value``, ``>-`` folded blocks, lists of scalars or of ``name:`` maps)
and rejects anything else, so a hand edit that leaves that subset fails here.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

import pooling_ref

ROOT = Path(__file__).resolve().parents[1]


def _scalar(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    if text.startswith(("[", "{", "&", "*", "|")):
        raise ValueError(f"unsupported YAML value {text!r}")
    return text


def _parse_cff(text: str) -> dict:
    """
    >>> _parse_cff('title: "x"\\nauthors:\\n  - name: "a b"\\nkeywords:\\n  - k\\n')
    {'title': 'x', 'authors': [{'name': 'a b'}], 'keywords': ['k']}
    """
    data: dict = {}
    key = None
    folded: list[str] | None = None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if folded is not None and line.startswith("  ") and not line.lstrip().startswith("- "):
            folded.append(line.strip())
            data[key] = " ".join(folded)
            continue
        folded = None
        top = re.fullmatch(r"([A-Za-z][\w-]*):(?: (.*))?", line)
        item = re.fullmatch(r"  - (?:([\w-]+): )?(.*)", line)
        if top:
            key, value = top.group(1), (top.group(2) or "").strip()
            if key in data:
                raise ValueError(f"line {n}: duplicate key {key!r}")
            if value == ">-":
                folded, data[key] = [], ""
            else:
                data[key] = _scalar(value) if value else []
        elif item and key is not None and isinstance(data[key], list):
            sub, value = item.groups()
            data[key].append({sub: _scalar(value)} if sub else _scalar(value))
        else:
            raise ValueError(f"line {n}: not in the supported YAML subset: {line!r}")
    return data


@pytest.fixture(scope="module")
def cff() -> dict:
    return _parse_cff((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def project():
    """The installed package metadata (built from pyproject.toml)."""
    return metadata.metadata("pooling-ref")


def test_citation_is_cff_1_2_0_with_the_required_keys(cff):
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title", "abstract"):
        assert isinstance(cff[key], str) and len(cff[key]) > 20, key
    assert cff["authors"] and all(a.get("name") or a.get("family-names")
                                  for a in cff["authors"])
    assert len(cff["keywords"]) >= 3


def test_citation_matches_the_package(cff, project):
    assert cff["version"] == pooling_ref.__version__ == project["Version"]
    assert cff["license"] == project["License-Expression"] == "MIT"
    assert [a["name"] for a in cff["authors"]] == [project["Author"]]
    assert not {"url", "repository-code", "doi"} & cff.keys(), "no invented addresses"


def test_license_and_changelog(project):
    license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert license_text.startswith("MIT License")
    assert "pooling-ref developers" in license_text
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in changelog
    assert f"## [{project['Version']}]" in changelog


@pytest.mark.parametrize("bad", ["title: [a, b]\n", "authors:\n- name: x\n",
                                 "title: a\ntitle: b\n"])
def test_parser_rejects_what_it_does_not_understand(bad):
    with pytest.raises(ValueError):
        _parse_cff(bad)


def test_readme_shows_the_example_test_file_verbatim():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = (ROOT / "examples" / "test_my_kernel.py").read_text(encoding="utf-8")
    assert f"```python\n{example}```" in readme


def test_readme_citation_names_the_version(cff):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    cite = readme.split("## How to cite", 1)[1]
    assert f"version {cff['version']}" in cite and "(CITATION.cff)" in cite
    assert cff["authors"][0]["name"] in cite
