"""Mutation testing of pooling_ref's reference core and oracle with cosmic-ray (issue 23).

    python tools/mutation.py run --sample 300 --seed 1   # a seeded random sample
    python tools/mutation.py run                          # the whole population (~12k)
    python tools/mutation.py run --rerun survived         # again, after new tests
    python tools/mutation.py run --rerun survived --only-rerun   # only those
    python tools/mutation.py run --mutant pooling_ref/x.py:core/AddNot:3   # one pending
    python tools/mutation.py report [--diffs]             # per-module table, survivors

``nox -s mutation -- --sample 300 --seed 1`` runs ``run`` then ``report``.

cosmic-ray makes the population (``cosmic-ray init`` over the modules of
``mutation/scope.toml``: its default operators) into a session database
(``.mutation/session.sqlite``) and applies each mutant (its ``mutate_and_test``: the file is
rewritten, the test command runs, the file is restored). This script adds what cosmic-ray
leaves to the user: a seeded random sample (the rest is marked ``skipped``, as cosmic-ray's
own filters do), a test selection per mutated module (scope.toml: the fast, TensorFlow-free
tests of that module, doctests first, ``-x``), and one worker (at most two), each with its own
copy of the work tree so that two mutants never meet. The report counts a survivor listed
in ``mutation/equivalent.toml`` as equivalent (with its reason) and leaves it out of the
score.
"""

from __future__ import annotations

import argparse
import ast
import collections
import concurrent.futures
import functools
import hashlib
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import tomllib
from cosmic_ray.commands import init as cr_init
from cosmic_ray.mutating import mutate_and_test
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import MutationSpec, TestOutcome, WorkerOutcome, WorkResult

ROOT = Path(__file__).resolve().parent.parent
SCOPE = ROOT / "mutation" / "scope.toml"
EQUIVALENT = ROOT / "mutation" / "equivalent.toml"
SESSION = ROOT / ".mutation" / "session.sqlite"
#: Baseline times of the unmutated selections, per digest of the work tree (a resumed run
#: on an unchanged tree does not run them again).
BASELINES = ROOT / ".mutation" / "baselines.json"


# ----------------------------------------------------------------------------- scope


def load_scope() -> dict:
    """``mutation/scope.toml``: ``{"modules": {path: {"tests": [...]}}, "env": ..., ...}``."""
    with open(SCOPE, "rb") as f:
        return tomllib.load(f)


def mutant_key(spec: MutationSpec) -> str:
    """The stable name of a mutant: ``module:operator:occurrence`` (occurrence counts the
    operator's positions in the module, so an edit above it renumbers it)."""
    return f"{Path(spec.module_path).as_posix()}:{spec.operator_name}:{spec.occurrence}"


def load_equivalent() -> dict[str, dict]:
    """``{mutant key: {"reason": ..., "line": mutated line}}`` from equivalent.toml."""
    if not EQUIVALENT.exists():
        return {}
    with open(EQUIVALENT, "rb") as f:
        return {e["mutant"]: e for e in tomllib.load(f).get("mutant", [])}


def test_command(scope: dict, module: str, workdir: Path) -> str:
    """The shell-free command that runs ``module``'s selection inside ``workdir``."""
    env = [f"{k}={v}" for k, v in scope["env"].items()]
    tests = scope["modules"][module]["tests"]
    argv = ["env", "-C", str(workdir), *env, sys.executable, "-m", "pytest",
            *scope["pytest"], *tests]
    return shlex.join(argv)


# ----------------------------------------------------------------------------- session


def init_session(scope: dict, sample: int | None, seed: int) -> None:
    """A new session with the whole population; all but a seeded sample marked skipped."""
    SESSION.parent.mkdir(exist_ok=True)
    SESSION.unlink(missing_ok=True)
    with use_db(str(SESSION)) as db:
        os.chdir(ROOT)
        cr_init([Path(m) for m in scope["modules"]], db, {})
        items = sorted(db.work_items, key=lambda w: mutant_key(w.mutations[0]))
        print(f"population: {len(items)} mutants in {len(scope['modules'])} modules")
        if sample is not None and sample < len(items):
            chosen = {w.job_id for w in random.Random(seed).sample(items, sample)}
            rest = [w.job_id for w in items if w.job_id not in chosen]
            db.set_multiple_results(rest, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
            print(f"sample: {sample} mutants (seed {seed}); the rest marked skipped")


def forget_results(outcome: str) -> set[str]:
    """Make the mutants the report classifies as ``outcome`` (``survived``, ``killed``,
    ``equivalent``, ``error``; see :func:`classify`) pending again (after new tests);
    returns their job ids. ``survived`` leaves out the listed and annotation equivalents:
    they survived already and no test can change that."""
    equivalent = load_equivalent()
    with use_db(str(SESSION), WorkDB.Mode.open) as db:
        redo = [w for w, r in db.completed_work_items
                if classify(w.mutations[0], r, equivalent) == outcome]
        engine = db._engine                                  # no public delete in WorkDB
        with engine.begin() as conn:
            for w in redo:
                conn.exec_driver_sql("DELETE FROM work_results WHERE job_id = ?", (w.job_id,))
    return {w.job_id for w in redo}


def pending_ids(keys: list[str]) -> set[str]:
    """The job ids of the pending mutants named ``keys`` (``SystemExit`` naming a key that
    is not pending)."""
    with use_db(str(SESSION), WorkDB.Mode.open) as db:
        ids = {mutant_key(w.mutations[0]): w.job_id for w in db.pending_work_items}
    missing = [k for k in keys if k not in ids]
    if missing:
        raise SystemExit(f"not pending in the session: {', '.join(missing)}")
    return {ids[k] for k in keys}


# ----------------------------------------------------------------------------- workers


def tree_files() -> list[str]:
    """The work tree's files (tracked and untracked, not ignored) that exist."""
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           check=True, capture_output=True, text=True).stdout.split()
    return [n for n in names if (ROOT / n).is_file()]


def tree_digest(files: list[str]) -> str:
    """SHA-256 over the names and contents of ``files``: the key of cached baselines."""
    h = hashlib.sha256()
    for name in files:
        h.update(name.encode() + b"\0" + (ROOT / name).read_bytes() + b"\0")
    return h.hexdigest()


def make_workdirs(count: int) -> list[Path]:
    """``count`` copies of the work tree (tracked and untracked, not ignored files)."""
    files = tree_files()
    dirs = []
    for i in range(count):
        d = Path(tempfile.mkdtemp(prefix=f"pooling-ref-mutation-{i}-"))
        for name in files:
            (d / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, d / name)
        dirs.append(d)
    return dirs


def baseline(scope: dict, module: str, workdir: Path) -> float:
    """Run ``module``'s selection unmutated in ``workdir``; its time in seconds. Fails
    if it does not pass (every mutant would look killed) or imports another copy."""
    where = subprocess.run(
        ["env", "-C", str(workdir), sys.executable, "-c",
         "import pooling_ref; print(pooling_ref.__file__)"],
        check=True, capture_output=True, text=True).stdout.strip()
    if not where.startswith(str(workdir)):
        raise SystemExit(f"{workdir}: imports pooling_ref from {where}, not from the copy")
    start = time.monotonic()
    proc = subprocess.run(shlex.split(test_command(scope, module, workdir)),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"selection of {module} fails unmutated:\n{proc.stdout[-3000:]}")
    return time.monotonic() - start


def run_one(scope: dict, spec: MutationSpec, workdir: Path, timeout: float) -> WorkResult:
    """Apply ``spec`` in ``workdir``'s copy of its module and run the module's selection."""
    module = Path(spec.module_path).as_posix()
    local = MutationSpec(workdir / module, spec.operator_name, spec.occurrence,
                         spec.start_pos, spec.end_pos, spec.operator_args)
    return mutate_and_test([local], test_command(scope, module, workdir), timeout)


def execute(scope: dict, workers: int, only: set[str] | None = None) -> None:
    """Every pending mutant (``only``: those of these job ids), on ``workers`` copies of
    the tree, results into the session."""
    with use_db(str(SESSION), WorkDB.Mode.open) as db:
        pending = sorted((w for w in db.pending_work_items if only is None or w.job_id in only),
                         key=lambda w: mutant_key(w.mutations[0]))
        pending = _settle_annotations(db, pending)
        # a seeded shuffle: modules interleaved, and the mutants run so far (an unfinished
        # run, resumed later) are a random part of the sample, core and oracle alike
        random.Random(0).shuffle(pending)
        modules = sorted({Path(w.mutations[0].module_path).as_posix() for w in pending})
        print(f"{len(pending)} mutants to run in {len(modules)} modules, {workers} workers")
        if not pending:
            return
        dirs = make_workdirs(workers)
        try:
            _execute(scope, db, pending, modules, dirs)
        finally:
            for d in dirs:
                shutil.rmtree(d, ignore_errors=True)


def _settle_annotations(db: WorkDB, pending: list) -> list:
    """Record the mutants inside type annotations without running them (an annotation is
    never evaluated: such a mutant survives every test, and :func:`classify` counts it
    equivalent); return the others."""
    rest = []
    for w in pending:
        spec = w.mutations[0]
        if _in_annotation(Path(spec.module_path), tuple(spec.start_pos)):
            db.set_result(w.job_id, WorkResult(
                worker_outcome=WorkerOutcome.NORMAL, test_outcome=TestOutcome.SURVIVED,
                output="not run: inside a type annotation (never evaluated)"))
        else:
            rest.append(w)
    if len(rest) < len(pending):
        print(f"{len(pending) - len(rest)} mutants inside type annotations: equivalent, not run")
    return rest


def _execute(scope, db, pending, modules, dirs) -> None:
    start = time.monotonic()
    limits = _Baselines(scope)
    free = collections.deque(dirs)
    done = 0
    with concurrent.futures.ThreadPoolExecutor(len(dirs)) as pool:
        def job(w):
            d = free.popleft()
            try:
                spec = w.mutations[0]
                limit = limits.timeout(Path(spec.module_path).as_posix(), d)
                return w, run_one(scope, spec, d, limit)
            finally:
                free.append(d)
        futures = [pool.submit(job, w) for w in pending]
        try:
            for fut in concurrent.futures.as_completed(futures):
                w, result = fut.result()
                db.set_result(w.job_id, _portable(result, dirs))
                done += 1
                outcome = (result.test_outcome or result.worker_outcome).value
                print(f"[{done}/{len(pending)} {time.monotonic() - start:6.0f} s] "
                      f"{outcome:9s} {mutant_key(w.mutations[0])}", flush=True)
        except KeyboardInterrupt:       # SIGINT, SIGTERM: results kept, the rest pending
            pool.shutdown(wait=False, cancel_futures=True)
            _kill_children()            # the running mutant's tests: not waited for
            print(f"interrupted after {done} mutants; `run --resume` goes on", flush=True)
            raise


class _Baselines:
    """Each module's unmutated selection, run once, by the first worker that needs it (or
    read from :data:`BASELINES` when the tree is unchanged); the timeout of its mutants is
    three times that plus 30 s."""

    def __init__(self, scope: dict) -> None:
        self.scope, self.lock = scope, threading.Lock()
        self.module_locks = collections.defaultdict(threading.Lock)
        self.digest = tree_digest(tree_files())
        cached = json.loads(BASELINES.read_text()) if BASELINES.exists() else {}
        self.times = cached.get(self.digest, {})

    def timeout(self, module: str, workdir: Path) -> float:
        with self.lock:
            module_lock = self.module_locks[module]
        with module_lock:
            if module not in self.times:
                self.times[module] = baseline(self.scope, module, workdir)
                print(f"  baseline {module}: {self.times[module]:.1f} s", flush=True)
                with self.lock:
                    BASELINES.write_text(json.dumps({self.digest: self.times}, indent=1))
        return 3 * self.times[module] + 30


def _portable(result: WorkResult, dirs: list[Path]) -> WorkResult:
    """``result`` with the worker's directory left out of its diff and output."""
    def strip(text):
        for d in dirs:
            text = text.replace(f"{d}/", "") if text else text
        return text
    return WorkResult(worker_outcome=result.worker_outcome, output=strip(result.output),
                      test_outcome=result.test_outcome, diff=strip(result.diff))


# ----------------------------------------------------------------------------- report


def _mutated_line(diff: str | None) -> str:
    lines = [ln[1:].strip() for ln in (diff or "").splitlines()
             if ln.startswith("+") and not ln.startswith("+++")]
    return lines[0] if lines else ""


@functools.cache
def _annotation_spans(path: Path) -> tuple:
    """``((start line, col), (end line, col))`` of every annotation of a module written
    with ``from __future__ import annotations`` (never evaluated: a mutant inside one is
    equivalent); ``()`` for other modules."""
    tree = ast.parse((ROOT / path).read_text())
    if not any(isinstance(n, ast.ImportFrom) and n.module == "__future__"
               and any(a.name == "annotations" for a in n.names) for n in tree.body):
        return ()
    notes = [n.annotation for n in ast.walk(tree) if isinstance(n, (ast.arg, ast.AnnAssign))
             and n.annotation is not None]
    notes += [n.returns for n in ast.walk(tree)
              if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.returns]
    return tuple(((a.lineno, a.col_offset), (a.end_lineno, a.end_col_offset)) for a in notes)


def _in_annotation(path: Path, pos: tuple[int, int]) -> bool:
    return any(lo <= pos < hi for lo, hi in _annotation_spans(path))


def classify(spec: MutationSpec, result: WorkResult, equivalent: dict) -> str:
    """``killed``, ``survived``, ``equivalent`` (listed in equivalent.toml, or inside a type
    annotation that is never evaluated), ``skipped`` or ``error`` (the mutant could not be
    applied or the tests not started: out of the score, listed by the report)."""
    if result.worker_outcome == WorkerOutcome.SKIPPED:
        return "skipped"
    if result.worker_outcome != WorkerOutcome.NORMAL:       # not applied, or no test ran
        return "error"
    if result.test_outcome == TestOutcome.KILLED:           # a test failed (or timed out)
        return "killed"
    if result.test_outcome != TestOutcome.SURVIVED:
        return "error"
    if _in_annotation(Path(spec.module_path), tuple(spec.start_pos)):
        return "equivalent"
    entry = equivalent.get(mutant_key(spec))
    if entry is None:
        return "survived"
    if entry.get("line") and entry["line"] != _mutated_line(result.diff):
        print(f"warning: {mutant_key(spec)} is listed as equivalent for the line "
              f"{entry['line']!r}, but mutates {_mutated_line(result.diff)!r}")
        return "survived"
    return "equivalent"


def report(show_diffs: bool) -> float:
    """Print per-module killed / survived / equivalent and the survivors; the score."""
    equivalent = load_equivalent()
    table: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    survivors = []
    with use_db(str(SESSION), WorkDB.Mode.open) as db:
        for w, r in db.completed_work_items:
            spec = w.mutations[0]
            kind = classify(spec, r, equivalent)
            table[Path(spec.module_path).stem][kind] += 1
            if kind in ("survived", "error"):
                survivors.append((f"{kind.upper()} {mutant_key(spec)}", r.diff))
        pending = len(db.pending_work_items)
    head = f"{'module':16s} {'killed':>7s} {'survived':>9s} {'equiv.':>7s} {'error':>6s} score"
    print(head)
    total = collections.Counter()
    for module, c in sorted(table.items()):
        total.update(c)
        if c["killed"] + c["survived"] + c["equivalent"] + c["error"]:
            print(_row(module, c))
    print(_row("all", total))
    if pending:
        print(f"{pending} mutants not run yet")
    for key, diff in sorted(survivors):
        print(key)
        if show_diffs:
            print("\n".join(ln for ln in (diff or "").splitlines()[3:]))
    return _score(total)


def _score(c: collections.Counter) -> float:
    judged = c["killed"] + c["survived"]
    return c["killed"] / judged if judged else 1.0


def _row(name: str, c: collections.Counter) -> str:
    return (f"{name:16s} {c['killed']:7d} {c['survived']:9d} {c['equivalent']:7d} "
            f"{c['error']:6d} {100 * _score(c):5.1f}%")


# ----------------------------------------------------------------------------- main


def _kill_children() -> None:
    """SIGKILL this process's child processes (Linux ``/proc``; elsewhere nothing)."""
    me = str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[1] == me:
                os.kill(int(stat.parent.name), signal.SIGKILL)
        except (OSError, IndexError, ValueError):
            continue


def _interruptible() -> None:
    """SIGINT and SIGTERM stop the run after the running mutant, keeping the results (a
    shell ignores SIGINT in the jobs it starts in the background, so it is set again)."""
    def stop(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="make (or continue) a session and run its mutants")
    run.add_argument("--sample", type=int, help="run a random sample of this many mutants")
    run.add_argument("--seed", type=int, default=1, help="the sample's seed (default 1)")
    run.add_argument("--workers", type=int, default=1,
                     help="parallel workers (default 1, max 2: the machine is shared)")
    run.add_argument("--resume", action="store_true", help="continue the existing session")
    run.add_argument("--rerun", metavar="OUTCOME",
                     help="run the mutants the report classifies so again (e.g. survived), "
                          "then the pending ones")
    run.add_argument("--only-rerun", action="store_true",
                     help="with --rerun: run only those, leave the pending ones for later")
    run.add_argument("--mutant", action="append", metavar="KEY",
                     help="run only this pending mutant (module:operator:occurrence, as the "
                          "report names it; repeatable; with --only-rerun: these too)")
    rep = sub.add_parser("report", help="per-module table and the survivors")
    rep.add_argument("--diffs", action="store_true", help="show each survivor's diff")
    rep.add_argument("--fail-under", type=float, default=0.0, help="exit 1 below this %%")
    args = parser.parse_args(argv)
    if args.command == "report":
        return 0 if 100 * report(args.diffs) >= args.fail_under else 1
    scope = load_scope()
    _interruptible()
    only = None
    if args.rerun:
        redo = forget_results(args.rerun)
        print(f"{len(redo)} {args.rerun} mutants to run again")
        only = redo if args.only_rerun else None
    elif not (args.resume or args.mutant):
        init_session(scope, args.sample, args.seed)
    if args.mutant:
        only = (only or set()) | pending_ids(args.mutant)
    start = time.monotonic()
    try:
        execute(scope, max(1, min(args.workers, 2)), only)
    except KeyboardInterrupt:
        os._exit(130)               # the worker thread's mutant was killed: do not join it
    print(f"mutation run took {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
