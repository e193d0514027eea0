"""``pooling-ref verify --shard I/N`` and ``pooling-ref merge``.

The reference for a merged run is the unsharded run of the same arguments: the shards must
add up to exactly its cases, comparisons, skipped cases, mismatches and worst errors. The
usage errors of ``merge`` are tested on reports written by hand (no TensorFlow needed).
"""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pooling_ref import _reports, ops
from pooling_ref._shards import parse_shard, shard_plan, shard_size
from pooling_ref._verify import OpResult
from pooling_ref.cli import main

from .test_cli import run

#: A bitwise op with the compiled method, a bound op, an op without method= and a gradient
#: op with cases skipped on a known TF defect (max_pool3d_grad, 'same' window > input).
OPS = ["max_pool2d", "conv1d", "global_avg_pool1d", "max_pool3d_grad"]
CASES = 6
#: A seed whose first CASES max_pool3d_grad cases include a 'same' window larger than the
#: input (cases 0 and 3: a known TF defect, skipped).
SEED = 3


# ----------------------------------------------------------------------------- the plan


def test_shard_plan_by_hand():
    # 2 ops x 6 cases numbered 0..11; shard 2/4 takes numbers 1, 5, 9
    assert shard_plan(["max_pool1d", "conv1d"], 6, (2, 4)) == {"max_pool1d": [1, 5],
                                                                "conv1d": [3]}
    assert shard_plan(["max_pool1d"], 3, (1, 1)) == {"max_pool1d": [0, 1, 2]}
    assert shard_plan(["max_pool1d", "conv1d"], 2, (4, 4)) == {"max_pool1d": [],
                                                               "conv1d": [1]}


@given(n_ops=st.integers(1, 6), cases=st.integers(1, 30), count=st.integers(1, 9))
def test_shards_are_disjoint_balanced_and_whole(n_ops, cases, count):
    names = [f"op{k}" for k in range(n_ops)]
    plans = [shard_plan(names, cases, (i, count)) for i in range(1, count + 1)]
    for op in names:
        drawn = sorted(c for p in plans for c in p[op])
        assert drawn == list(range(cases)), op                  # disjoint and complete
    sizes = [shard_size(names, cases, (i, count)) for i in range(1, count + 1)]
    assert max(sizes) - min(sizes) <= 1                         # balanced by case
    for op in names:                                            # ... within every op too
        per_op = [len(p[op]) for p in plans]
        assert max(per_op) - min(per_op) <= 1


@pytest.mark.parametrize("text", ["0/4", "5/4", "2", "a/b", "1/0", "-1/2", "2/4/1", ""])
def test_parse_shard_rejects(text):
    with pytest.raises(ValueError, match="I/N with 1 <= I <= N"):
        parse_shard(text)


@pytest.mark.parametrize("text", ["0/4", "5/4", "3", "x/4"])
def test_verify_bad_shard_exits_2(text):
    r = run("verify", "--shard", text, "--ops", "max_pool1d", "--cases", "1")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "--shard" in r.stderr and "1 <= I <= N" in r.stderr and repr(text) in r.stderr
    assert "Traceback" not in r.stderr and "cases," not in r.stderr


# ----------------------------------------------------------------------------- 4 shards = whole


def _verify(tmp_path, name: str, *extra: str) -> tuple[int, dict]:
    out = tmp_path / f"{name}.json"
    status = main(["verify", "--quiet", "--cases", str(CASES), "--seed", str(SEED), "--ops",
                   *OPS, "--json", str(out), *extra])
    return status, json.loads(out.read_text())


def _merge(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(["merge", *args])
    out = capsys.readouterr()
    return status, out.out, out.err


_SAME = ("mode", "cases", "comparisons", "skipped_count", "skipped", "mismatches", "worst",
         "worst_overall", "status", "case_indices")


def _assert_same_run(merged: dict, whole: dict) -> None:
    assert list(merged["ops"]) == list(whole["ops"]) == OPS
    for op in OPS:
        got, want = merged["ops"][op], whole["ops"][op]
        for key in _SAME:
            assert got[key] == want[key], (op, key)
    for key in ("passed", "seed", "cases_per_op", "tf_kernel", "versions", "methods", "shard"):
        assert merged[key] == whole[key], key


def test_four_shards_merged_equal_the_whole_run(tmp_path, capsys):
    status, whole = _verify(tmp_path, "whole")
    assert status == 0 and whole["shard"] == {"index": 1, "count": 1}
    # the run is not vacuous: every op compared, and some cases were skipped
    assert all(res["comparisons"] > 0 for res in whole["ops"].values())
    assert whole["ops"]["max_pool3d_grad"]["skipped_count"] > 0
    files = []
    for i in (1, 2, 3, 4):
        status, doc = _verify(tmp_path, f"s{i}", "--shard", f"{i}/4")
        assert status == 0 and doc["shard"] == {"index": i, "count": 4}
        plan = shard_plan(OPS, CASES, (i, 4))
        assert {op: res["case_indices"] for op, res in doc["ops"].items()} == plan
        files.append(str(tmp_path / f"s{i}.json"))
    status, out, _ = _merge(capsys, *reversed(files), "--json", str(tmp_path / "m.json"))
    assert status == 0, out
    merged = json.loads((tmp_path / "m.json").read_text())
    _assert_same_run(merged, whole)
    assert [m["shard"] for m in merged["merged_from"]] == ["4/4", "3/4", "2/4", "1/4"]
    assert "PASSED" in out and f"{len(OPS) * CASES - _skipped(whole)} cases" in out


def _skipped(doc: dict) -> int:
    return sum(res["skipped_count"] for res in doc["ops"].values())


def _broken_im2col(monkeypatch) -> None:
    """max_pool2d's im2col method made wrong (x2 + 1), for the rest of the test."""
    s = ops.spec("max_pool2d")

    def broken(x, *args, method="auto", **kw):
        out = s.reference(x, *args, method=method, **kw)
        return out * 2 + 1 if method == "im2col" else out

    monkeypatch.setitem(ops._REGISTRY, "max_pool2d", dataclasses.replace(s, reference=broken))


def test_merged_mismatches_equal_the_whole_runs(tmp_path, capsys, monkeypatch):
    _broken_im2col(monkeypatch)
    status, whole = _verify(tmp_path, "whole")
    assert status == 1 and len(whole["ops"]["max_pool2d"]["mismatches"]) == CASES
    files = []
    for i in (1, 2, 3, 4):
        status, _ = _verify(tmp_path, f"s{i}", "--shard", f"{i}/4")
        assert status == 1                         # every shard has max_pool2d cases
        files.append(str(tmp_path / f"s{i}.json"))
    status, out, _ = _merge(capsys, *files, "--json", str(tmp_path / "m.json"))
    assert status == 1 and "FAILED" in out and "MISMATCH max_pool2d method=im2col" in out
    merged = json.loads((tmp_path / "m.json").read_text())
    _assert_same_run(merged, whole)
    assert [m["index"] for m in merged["ops"]["max_pool2d"]["mismatches"]] == \
        list(range(CASES))


# ----------------------------------------------------------------------------- merge errors


def _doc(shard: tuple[int, int], results: list[OpResult], **run) -> dict:
    """A report as verify writes it, of ``results`` written by hand."""
    doc = _reports.verify_report(results, versions={"tensorflow": "2.21.0", "keras": "3.15.1",
                                                    "backend": "tensorflow"},
                                 seed=0, cases=2, path="onednn", shard=shard)
    doc.update(run)
    return doc


def _op(i: int, n: int, mismatch: bool = False, skipped: bool = False) -> OpResult:
    """conv1d's share of shard ``i``/``n`` of a 2-case run: one comparison a case."""
    r = OpResult("conv1d", "bound", indices=shard_plan(["conv1d"], 2, (i, n))["conv1d"])
    for index in r.indices:
        if skipped:
            r.skipped.append({"index": index, "case": "c", "keras_error": "E: simulated"})
            continue
        r.cases += 1
        r.comparisons += 1
        r.worst["loop"] = max(r.worst.get("loop", 0), 0.25 * (index + 1))
        if mismatch:
            r.mismatches.append({"index": index, "method": "loop", "case": "c",
                                 "detail": "MISMATCH by hand", "reproducer": "pass"})
    return r


def _write(tmp_path, docs: dict) -> list[str]:
    paths = []
    for name, doc in docs.items():
        (tmp_path / name).write_text(json.dumps(doc))
        paths.append(str(tmp_path / name))
    return paths


def _shards(**run) -> dict:
    return {f"s{i}.json": _doc((i, 2), [_op(i, 2)], **run) for i in (1, 2)}


def test_merge_of_hand_written_shards(tmp_path, capsys):
    status, out, _ = _merge(capsys, *_write(tmp_path, _shards()))
    assert status == 0, out
    # 2 cases, 2 comparisons; worst = max(0.25, 0.5) over the two shards
    assert "PASSED" in out and "2 cases, 2 comparisons" in out and "0.5 x bound" in out


def test_merge_exit_1_on_a_mismatch_or_an_op_without_comparisons(tmp_path, capsys):
    docs = _shards()
    docs["s2.json"] = _doc((2, 2), [_op(2, 2, mismatch=True)])
    status, out, _ = _merge(capsys, *_write(tmp_path, docs))
    assert status == 1 and "MISMATCH conv1d method=loop: MISMATCH by hand" in out
    docs = {f"s{i}.json": _doc((i, 2), [_op(i, 2, skipped=True)]) for i in (1, 2)}
    status, out, _ = _merge(capsys, *_write(tmp_path, docs))
    assert status == 1 and "NO COMPARISONS conv1d" in out and "1 ops without" in out


def _usage_error(capsys, *args) -> str:
    status, out, err = _merge(capsys, *args)
    assert status == 2, out + err
    assert err.startswith("pooling-ref merge: error: ") and out == ""
    return err


def test_merge_missing_or_unreadable_file(tmp_path, capsys):
    good = _write(tmp_path, _shards())
    err = _usage_error(capsys, good[0], str(tmp_path / "nope.json"))
    assert "cannot read" in err and "nope.json" in err
    (tmp_path / "bad.json").write_text("{not json")
    err = _usage_error(capsys, good[0], str(tmp_path / "bad.json"))
    assert "bad.json is not JSON" in err
    err = _usage_error(capsys, good[0], str(tmp_path))              # a directory
    assert "cannot read" in err
    (tmp_path / "other.json").write_text(json.dumps({"seed": 0, "ops": {}}))
    err = _usage_error(capsys, str(tmp_path / "other.json"))
    assert "other.json is not a report of `pooling-ref verify --json`" in err
    assert "cases_per_op" in err and "shard" in err


@pytest.mark.parametrize("change,words", [
    ({"seed": 3}, "seed 0 vs 3"),
    ({"cases_per_op": 4}, "cases_per_op 2 vs 4"),
    ({"tf_kernel": "xla"}, "tf_kernel 'onednn' vs 'xla'"),
    ({"versions": {"tensorflow": "2.20.0"}}, "versions.tensorflow '2.21.0' vs '2.20.0'"),
    ({"methods": {"conv1d": ["loop", "im2col"]}}, "methods.conv1d"),
])
def test_merge_shards_of_different_runs(tmp_path, capsys, change, words):
    docs = _shards()
    second = docs["s2.json"]
    second.update({k: {**second[k], **v} if k == "versions" else v for k, v in change.items()})
    err = _usage_error(capsys, *_write(tmp_path, docs))
    assert "shards of different runs" in err and words in err
    assert "s1.json" in err and "s2.json" in err


def test_merge_duplicated_missing_or_miscounted_shards(tmp_path, capsys):
    docs = {f"s{i}.json": _doc((i, 3), [_op(i, 3)]) for i in (1, 2, 3)}
    s1, s2, s3 = _write(tmp_path, docs)
    err = _usage_error(capsys, s1, s2, s2, s3)
    assert "shard 2/3 given 2 times" in err and "missing shard" not in err
    err = _usage_error(capsys, s1, s3)
    assert "missing shard(s) 2/3" in err
    (tmp_path / "copy.json").write_text((tmp_path / "s1.json").read_text())
    err = _usage_error(capsys, s1, str(tmp_path / "copy.json"), s3)
    assert "shard 1/3 given 2 times" in err and "missing shard(s) 2/3" in err
    whole = _write(tmp_path, {"whole.json": _doc((1, 1), [_op(1, 1)])})[0]
    err = _usage_error(capsys, s1, whole)
    assert "shard count 3 vs 1" in err


def test_merge_case_numbers_must_add_up(tmp_path, capsys):
    docs = _shards()
    docs["s2.json"]["ops"]["conv1d"]["case_indices"] = [0]   # shard 1's case again
    err = _usage_error(capsys, *_write(tmp_path, docs))
    assert "conv1d" in err and "case numbers [0, 0]" in err


def test_merge_unwritable_json(tmp_path, capsys):
    err = _usage_error(capsys, *_write(tmp_path, _shards()), "--json",
                       str(tmp_path / "no" / "dir" / "m.json"))
    assert "--json" in err


def test_merge_needs_no_tensorflow(tmp_path):
    for name in ("tensorflow", "keras"):
        (tmp_path / f"{name}.py").write_text(f"raise ImportError('simulated: no {name}')\n")
    files = _write(tmp_path, _shards())
    r = run("merge", *files, env_extra={"PYTHONPATH": str(tmp_path)})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASSED" in r.stdout


def test_shard_report_round_trips():
    doc = _doc((1, 2), [_op(1, 2, mismatch=True)])
    again = OpResult.from_json(copy.deepcopy(doc["ops"]["conv1d"]))
    assert again == _op(1, 2, mismatch=True)
