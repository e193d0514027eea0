"""pytest-benchmark set-up: BLAS / CPU facts recorded in the benchmark JSON machine_info.

Run the suite with ``python -m pytest benchmarks`` (it is not in the default test run), or
``python benchmarks/report.py`` for the ratio table, plot and JSON.
"""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(__file__))

from bench_suite import ALL_CASES
from blas_info import blas_info


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["blas"] = blas_info()


def pytest_addoption(parser):
    parser.addoption("--bench-quick", action="store_true",
                     help="only the cases marked quick (report.py --quick)")
    parser.addoption("--bench-family", default="",
                     help="comma-separated families to run: pooling,global_pooling,pool_grad,"
                          "zero_pad,conv")
    parser.addoption("--bench-progress-fd", type=int, default=None,
                     help="write 'total N', then 'done TEST-ID' after each test, to this "
                          "inherited file descriptor (report.py's progress bar)")


_PROGRESS = pytest.StashKey()


def pytest_configure(config):
    fd = config.getoption("--bench-progress-fd")
    if fd is not None:
        config.stash[_PROGRESS] = os.fdopen(fd, "w", buffering=1)


def pytest_unconfigure(config):
    stream = config.stash.get(_PROGRESS, None)
    if stream is not None:
        stream.close()


def _progress(config, line: str) -> None:
    stream = config.stash.get(_PROGRESS, None)
    if stream is not None:
        stream.write(line + "\n")


def pytest_collection_finish(session):
    _progress(session.config, f"total {len(session.items)}")


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    _progress(item.config, f"done {item.callspec.id if hasattr(item, 'callspec') else item.name}")


def pytest_generate_tests(metafunc):
    if "bench_case" not in metafunc.fixturenames:
        return
    from bench_suite import IMPLS

    quick = metafunc.config.getoption("--bench-quick")
    fams = [f for f in metafunc.config.getoption("--bench-family").split(",") if f]
    pairs = [(c, impl) for c in ALL_CASES
             if (c.quick or not quick) and (not fams or c.family in fams) for impl in IMPLS]
    metafunc.parametrize(("bench_case", "impl"), pairs,
                         ids=[f"{c.id}-{impl}" for c, impl in pairs])
