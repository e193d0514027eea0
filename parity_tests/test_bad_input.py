"""Every row of ``bad_inputs.ROWS`` raises the documented error, naming parameter and value.

The same rows, where expressible, go through ``pooling-ref shape``: exit status 2, the
message on stderr, no traceback. No input is modified by a failing call.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import pooling_ref
from parity_tests.bad_inputs import ROWS, BadCall
from pooling_ref import cli as _cli


def _func(row: BadCall):
    return getattr(pooling_ref, row.func)        # a missing public function fails


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_call_raises_clear_error(row: BadCall):
    func = _func(row)
    before = [np.array(a, copy=True) for a in row.args if isinstance(a, np.ndarray)]
    with pytest.raises((ValueError, TypeError)) as info:
        func(*row.args, **row.kwargs)
    err = info.value
    assert type(err) is row.exc or isinstance(err, row.exc), (
        f"{row.id}: expected {row.exc.__name__}, got {type(err).__name__}: {err}")
    msg = str(err)
    assert re.search(rf"\b{re.escape(row.param)}\b", msg), (
        f"{row.id}: message does not name the parameter {row.param!r}: {msg}")
    value = row.expected_value()
    if value is not None:
        assert value in msg, f"{row.id}: message does not show the value {value}: {msg}"
    assert msg.startswith(f"{row.func}: "), f"{row.id}: message does not name {row.func}: {msg}"
    assert "dtype(" not in msg, f"{row.id}: a dtype shown as its repr: {msg}"
    after = [a for a in row.args if isinstance(a, np.ndarray)]
    for b, a in zip(before, after):
        assert b.dtype.kind in "OU" or np.array_equal(b, a), f"{row.id}: input modified"


def test_table_is_large_and_varied():
    assert len(ROWS) >= 40
    assert len({r.id for r in ROWS}) == len(ROWS), "row ids must be unique"
    assert {r.exc for r in ROWS} == {ValueError, TypeError}


CLI_ROWS = [r for r in ROWS if r.cli is not None]


@pytest.mark.parametrize("row", CLI_ROWS, ids=[r.id for r in CLI_ROWS])
def test_cli_shape_reports_bad_input(row: BadCall, capsys):
    """``pooling-ref shape ...``: exit status 2, message names the parameter, no traceback.

    Assumed flags: --input N,...,C --op {max_pool,avg_pool,conv,zero_pad} --pool-size
    --strides --padding --data-format --kernel-size --filters --dilation --groups --pad.
    """
    status = _cli.main(["shape", *row.cli])
    out = capsys.readouterr()
    assert status == 2, f"{row.id}: exit status {status}, stderr {out.err!r}"
    assert "Traceback" not in out.err + out.out, row.id
    # the CLI may spell the parameter with dashes (--pool-size) or as in the API
    names = {row.param, row.param.replace("_", "-"), row.param.replace("_", " ")}
    if row.param == "dilation_rate":
        names.add("dilation")
    if row.param == "x":
        names |= {"input", "x"}
    if row.param == "padding" and row.func == "zero_pad":
        names.add("pad")
    assert any(n in out.err for n in names), (
        f"{row.id}: stderr does not name {row.param!r}: {out.err!r}")


def test_cli_shape_as_subprocess_exits_2_without_traceback():
    """One end-to-end run of the console entry point (``python -m pooling_ref.cli``)."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "pooling_ref.cli", "shape", "--input", "1,4,4,2", "--op",
         "max_pool", "--pool-size", "0"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "pool" in proc.stderr and "0" in proc.stderr
