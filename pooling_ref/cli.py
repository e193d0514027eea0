"""The ``pooling-ref`` command: ``verify``, ``merge``, ``check``, ``shape`` and ``model``.

>>> main(["shape", "--input", "1,5,5,3", "--op", "max_pool", "--pool-size", "2",
...       "--strides", "2", "--padding", "same"])
max_pool2d  input (1, 5, 5, 3)  channels_last
output shape: (1, 3, 3, 3)
axis  length  window  stride  dilation  output  pad_before  pad_after
   0       5       2       2         1       3           0          1
   1       5       2       2         1       3           0          1
0
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import os
import sys
from collections.abc import Sequence

from . import _reports
from . import _verify as V
from ._candidate import DEFAULT_TIMEOUT, check_timeout
from ._isolate import AVAILABLE as isolation_available
from ._model_cmd import MODEL_EXAMPLES, MODEL_NOTES, model, model_parser
from ._progress import Progress
from ._shape_cmd import SHAPE_EXAMPLES, SHAPE_NOTES, shape, shape_parser
from ._shards import parse_shard, shard_size
from ._verify import dialect as VD
from .cases import check_dtype
from .keras_ref import TensorFlowMissing
from .ops import is_gradient, spec
from .oracle import check

__all__ = ["main"]

#: What each command's exit status means (printed in its ``--help``; one place).
EXIT_STATUS = {
    "verify": {0: "every op matched Keras or, with --dialect, the runtime (a shard: no "
                  "mismatch in its cases)",
               1: "a mismatch, or an op without any comparison (not judged per shard: "
                  "merge the shards)",
               2: "usage error: bad argument or --shard, unwritable --json path, "
                  "TensorFlow missing (--dialect: the runtime or its ops missing)"},
    "merge": {0: "the shards add up to the whole run and every op matched",
              1: "a mismatch, or an op without any comparison",
              2: "usage error: a file missing, unreadable or not a verify report, shards "
                 "of different runs, a shard given twice or missing, unwritable --json"},
    "check": {0: "every case passed",
              1: "a failing case (a mismatch, the function raised, timed out or crashed)",
              2: "usage error: bad argument, a --supports key given twice, a module that "
                 "cannot be imported, a function whose signature cannot take the call",
              130: "interrupted (Ctrl-C): a summary of what ran is printed"},
    "shape": {0: "the shape was printed", 2: "usage error: bad argument"},
    "model": {0: "no node differs beyond its rule (known differences named)",
              1: "a pooling, padding or conv node differs beyond its rule",
              2: "usage error: bad argument, a file missing or not a model, an --input "
                 "that does not fit the model, the format's extra not installed, "
                 "unwritable --json"},
}

#: ``pooling-ref verify`` with the default arguments, measured on the 2-core AVX-512 machine
#: (TF 2.21, oneDNN path): 70-80 s of CPU time (user + sys) with Numba's cache warm, 103 s on
#: the first run (Numba compiles); wall time 3.9-7.3 min there at load averages 7-16 (other
#: jobs on the 2 cores), so the CPU time is the figure that does not depend on the load.
VERIFY_DEFAULT_TIME = ("measured 80 s of CPU time on 2 cores, +25 s on the first run while "
                       "Numba compiles; wall time grows with the machine's load")


def _epilog(command: str, examples: str, notes: str = "") -> str:
    codes = "\n".join(f"  {code}  {text}" for code, text in EXIT_STATUS[command].items())
    return f"examples:\n{examples}\n{notes}exit status:\n{codes}\n"


VERIFY_EPILOG = _epilog("verify", """\
  pooling-ref verify                          # every op, default number of cases
  pooling-ref verify --cases 200 --seed 3     # more cases, another seed
  pooling-ref verify --ops conv2d max_pool    # a subset (op names or families)
  pooling-ref verify --json results.json      # also write the results as JSON
  pooling-ref verify --tf-kernel xla          # pooling as jit-compiled models run it
  pooling-ref verify --shard 2/4 --json s2.json   # one of 4 machines (then: merge)
""", """
--shard I/N runs every N-th case of the run (numbered op after op), from case I-1:
the N shards together run exactly the cases of the unsharded run, with the same
values. `pooling-ref merge s1.json ... sN.json` adds their reports up.

""")

MERGE_EPILOG = _epilog("merge", """\
  pooling-ref merge s1.json s2.json s3.json s4.json
  pooling-ref merge shards/*.json --json whole.json
""", """
The files are `pooling-ref verify --shard I/N --json FILE` reports of one run (same
seed, cases, ops and methods, TF kernel path and versions), shards 1..N each once.
No TensorFlow needed.

""")

CHECK_EPILOG = _epilog("check", """\
  pooling-ref check mypool:max_pool2d --op max_pool2d
  pooling-ref check mypkg.layers:conv --op conv3d --cases 500 --seed 7 --dtype float64
  pooling-ref check mypool:pool --op max_pool2d --supports data_format=channels_last \\
      padding=valid --nan propagate
  pooling-ref check mypool:pool --op max_pool1d --dtype int32
""", """
The function is called as FUNCTION(x, **params) with the parameter names of
pooling_ref (pool_size, strides, padding, data_format / padding, data_format /
kernel, bias, strides, padding, data_format, dilation_rate, groups).
--supports values are Python literals (2, (2,3), None) or bare words (valid); each
key once. The current directory is importable. The function runs in a child process
(a crash or a hang is a reported failure; --no-isolate runs it in this process), each
call at most --timeout seconds.

""")

def _timeout(text: str) -> float | None:
    """``--timeout``: seconds (> 0) or ``none``."""
    if text.lower() == "none":
        return None
    try:
        return check_timeout(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected seconds > 0 or 'none', got {text!r}") from None


def _shard(text: str) -> tuple[int, int]:
    try:
        return parse_shard(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _quiet_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress (by default a bar on a terminal, else a line per "
                   "tenth of the cases, on stderr)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pooling-ref",
        description="Pure-NumPy reference of Keras pooling, zero padding and convolution.",
        epilog="run `pooling-ref COMMAND --help` for the options and examples of a command",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _verify_parser(sub)
    _merge_parser(sub)
    _check_parser(sub)
    shape_parser(sub, _epilog("shape", SHAPE_EXAMPLES, SHAPE_NOTES))
    model_parser(sub, _epilog("model", MODEL_EXAMPLES, MODEL_NOTES))
    return p


def _verify_parser(sub) -> None:
    v = sub.add_parser("verify", formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=VERIFY_EPILOG,
                       help="randomized parity of every op and method against Keras",
                       description="Randomized parity of every op and method against the "
                       "installed Keras/TensorFlow:\n\n" + V.coverage())
    v.add_argument("--cases", type=int, default=80,
                   help=f"cases per op (default 80: {len(V.verified_ops())} ops, "
                   f"{80 * len(V.verified_ops())} cases; {VERIFY_DEFAULT_TIME})")
    v.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    v.add_argument("--ops", nargs="+", metavar="OP",
                   help="ops (e.g. conv2d) or families (e.g. max_pool); default all")
    v.add_argument("--json", metavar="FILE", help="write the results as JSON to FILE")
    v.add_argument("--tf-kernel", choices=["onednn", "eigen", "xla"], default=None,
                   help="TF kernel path to verify against: the eager path of this TF "
                   "(default: detected; the other eager path needs TF_ENABLE_ONEDNN_OPTS "
                   "set before start) or xla (pooling and its gradients compiled with "
                   "jit_compile=True)")
    v.add_argument("--dialect", choices=list(VD.FRAMEWORKS), default=None,
                   help="verify the ops of another framework's dialect (torch.*, onnx.*, "
                   "jax.*) against its installed runtime instead of Keras")
    v.add_argument("--shard", type=_shard, default=(1, 1), metavar="I/N",
                   help="run shard I of N (1 <= I <= N): a disjoint share of the cases; "
                   "combine the --json reports with `pooling-ref merge`")
    _quiet_option(v)


def _merge_parser(sub) -> None:
    m = sub.add_parser("merge", formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=MERGE_EPILOG, help="combine the reports of verify shards",
                       description="Combine the --json reports of `pooling-ref verify "
                       "--shard I/N` into one table and one exit status.")
    m.add_argument("files", nargs="+", metavar="FILE.json")
    m.add_argument("--json", metavar="FILE", help="write the merged report as JSON to FILE")


def _rule_set(text: str) -> str | None:
    """``--tf-kernel`` value: ``none`` is the IEEE specification (``tf_kernel=None``)."""
    return None if text.lower() == "none" else text.lower()


def _check_parser(sub) -> None:
    """``check``'s options; each whose name is a keyword of :func:`pooling_ref.check` is
    passed on to it as given (:func:`_check_options`), so a new one is one line here."""
    c = sub.add_parser("check", formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=CHECK_EPILOG,
                       help="check your own implementation against pooling_ref",
                       description="Run pooling_ref.check on MODULE:FUNCTION and print the "
                       "report (smallest failing cases with reproducer snippets).")
    c.add_argument("target", metavar="MODULE:FUNCTION")
    c.add_argument("--op", required=True,
                   help="max_pool1d ... global_avg_pool3d ... conv3d (pooling_ref.OPS)")
    c.add_argument("--cases", type=int, default=100, help="number of cases (default 100)")
    c.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    c.add_argument("--dtype", default=None,
                   help="float16, float32 (the default, except for an op of one dtype such "
                   "as litert.average_pool_2d_int8), float64, bfloat16, or an integer dtype "
                   "(int8, int32, int64, uint8, ...) where the op accepts integers")
    c.add_argument("--supports", nargs="+", action="extend", metavar="KEY=V1,V2",
                   help="only draw cases with these parameter values, e.g. "
                   "data_format=channels_last padding=valid groups=1 bias=None")
    c.add_argument("--nan", choices=["tf", "propagate"], default="tf",
                   help="max pooling NaN rule: tf (NaN ignored, default) or propagate")
    c.add_argument("--tf-kernel", default="any", type=_rule_set,
                   choices=["any", None, "onednn", "eigen", "xla"], metavar="RULES",
                   help="which rule sets a result may follow: any (default: the IEEE "
                   "specification or one TF CPU path's rules, the same for the whole run), "
                   "none (IEEE only), onednn, eigen or xla (that path only)")
    c.add_argument("--timeout", type=_timeout, default=DEFAULT_TIMEOUT, metavar="S",
                   help=f"seconds per call of the function (default {DEFAULT_TIMEOUT:g}; "
                   f"'none': no limit); a call that takes longer is a failure")
    c.add_argument("--no-isolate", dest="isolate", action="store_false",
                   help="call the function in this process (default: in a child process, "
                   "so a crash or a hang in native code is a reported failure; POSIX only)")
    _quiet_option(c)


# ----------------------------------------------------------------------------- verify


def _skip_kind(skipped: list) -> str:
    """What the skipped cases of an op were: Keras errors, cases TF gets wrong on a measured
    defect (``_verify`` names them "known TF defect: ..."), or both."""
    known = sum(s["keras_error"].startswith("known TF defect") for s in skipped)
    if known == len(skipped):
        return "known TF defect"
    return "Keras error" if known == 0 else f"Keras error; {known} known TF defect"


def _format_table(results) -> str:
    rows = [("op", "mode", "cases", "skipped", "comparisons", "worst error", "status")]
    for r in results:
        worst = (f"{r.worst_overall:.3g} x bound" if r.mode == "bound"
                 else f"{int(r.worst_overall)} ULP")
        status = r.status + (f" ({len(r.mismatches)})" if r.mismatches else "")
        if r.skipped:
            status += f", {len(r.skipped)} skipped ({_skip_kind(r.skipped)})"
        rows.append((r.op, r.mode, str(r.cases), str(len(r.skipped)), str(r.comparisons),
                     worst, status))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _verify_dialect(args) -> int:
    """``verify --dialect``: the dialect ops against the framework's runtime."""
    why = VD.missing_runtime(args.dialect)
    if why:
        print(f"pooling-ref verify --dialect {args.dialect}: {why}", file=sys.stderr)
        return 2
    _verify_ops(args)
    print(VD.header(args.dialect, args.cases, args.seed), flush=True)
    total = len(VD.dialect_ops(args.dialect)) * args.cases
    with Progress(total, "verify", quiet=args.quiet) as progress:
        results = VD.run_dialect(args.dialect, args.cases, args.seed, progress)
    print("\n".join(VD.report_lines(results)))
    if args.json:
        _reports.write(args.json, {"dialect": args.dialect, "results": [vars(r) for r in
                                                                       results]})
    return 0 if all(r.ok for r in results) else 1


def _verify(args) -> int:
    if args.dialect:
        return _verify_dialect(args)
    ops = _verify_ops(args)
    versions = V.load_tf()
    path = V.check_path(args.tf_kernel)
    _print_header(args, versions, path, ops)
    total = shard_size(ops, args.cases, args.shard)
    with Progress(total, "verify", quiet=args.quiet) as progress:
        results = V.run_verify(ops, args.cases, args.seed, progress, path, args.shard)
    passed = _print_report(results, path, args.shard)
    if args.json:
        _reports.write(args.json, _reports.verify_report(
            results, versions=versions, seed=args.seed, cases=args.cases, path=path,
            shard=args.shard))
        print(f"results written to {args.json}")
    return 0 if passed else 1


def _verify_ops(args) -> list[str]:
    """The ops to verify; usage errors (``ValueError``) before TensorFlow is loaded."""
    if args.cases < 1:
        raise ValueError(f"--cases must be >= 1, got {args.cases}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    ops = V.expand_ops(args.ops) if args.ops else list(V.verified_ops())
    _reports.check_writable(args.json)
    return ops


def _print_header(args, versions: dict, path: str, ops: list[str]) -> None:
    i, n = args.shard
    share = f"; shard {i}/{n}: {shard_size(ops, args.cases, args.shard)} of " \
            f"{len(ops) * args.cases} cases" if n > 1 else ""
    print(f"pooling-ref verify: TensorFlow {versions['tensorflow']}, "
          f"Keras {versions['keras']}; {args.cases} cases per op, seed {args.seed}{share}; "
          f"TF kernel path: {path}")
    print(V.reference_paths(path))
    if any(is_gradient(spec(op)) for op in ops):
        print(V.gradient_paths(path))
    print("Known TF/Keras defects verify steers clear of (registry "
          "pooling_ref/data/known_differences.json):")
    for d in V.avoided_defects():
        print(f"  - {d}")
    sys.stdout.flush()


def _print_report(results: list, path: str, shard: tuple[int, int] = (1, 1)) -> bool:
    """The table, the mismatches and the summary line of a run or shard; its verdict."""
    whole = shard[1] == 1
    print()
    print(_format_table(results))
    for r in results:
        for m in r.mismatches[:3]:
            print(f"\nMISMATCH {r.op} method={m['method']}: {m['detail']}\n  case: {m['case']}"
                  "\n  reproduce with:\n"
                  + "\n".join("    " + line for line in m["reproducer"].splitlines()))
    for r in results:
        if r.comparisons == 0 and whole:
            reasons = sorted({s["keras_error"] for s in r.skipped})[:2]
            print(f"\nNO COMPARISONS {r.op}: every Keras call raised ({len(r.skipped)} "
                  f"skipped), e.g. {'; '.join(reasons) or '-'}")
    passed = V.run_passed(results, whole)
    where = f"TF kernel path {path}" + ("" if whole else f", shard {shard[0]}/{shard[1]}")
    print(f"\n{'PASSED' if passed else 'FAILED'} ({where}): "
          f"{sum(r.cases for r in results)} cases, "
          f"{sum(r.comparisons for r in results)} comparisons, "
          f"{sum(len(r.mismatches) for r in results)} mismatches, "
          f"{sum(len(r.skipped) for r in results)} skipped (Keras error or known TF defect), "
          f"{sum(r.comparisons == 0 for r in results)} ops without a comparison"
          + ("" if whole else " (judged by `pooling-ref merge`)"))
    return passed


# ----------------------------------------------------------------------------- merge


def _merge(args) -> int:
    _reports.check_writable(args.json)
    doc, results = _reports.merge(args.files)
    v = doc["versions"]
    print(f"pooling-ref merge: {len(args.files)} shards of one verify run: TensorFlow "
          f"{v.get('tensorflow')}, Keras {v.get('keras')}, pooling-ref {v.get('pooling_ref')};"
          f" {doc['cases_per_op']} cases per op, seed {doc['seed']}; TF kernel path: "
          f"{doc['tf_kernel']}")
    passed = _print_report(results, doc["tf_kernel"])
    if args.json:
        _reports.write(args.json, doc)
        print(f"merged results written to {args.json}")
    return 0 if passed else 1


# ----------------------------------------------------------------------------- check


def _load_target(target: str):
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"target must be MODULE:FUNCTION, got {target!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj = importlib.import_module(module_name)
    except Exception as e:            # ImportError, or an error raised while importing
        raise ValueError(f"cannot import module {module_name!r}: "
                         f"{type(e).__name__}: {e}") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"module {module_name!r} has no attribute {attr!r}") from None
    return obj


def _supports(items: list[str] | None) -> dict | None:
    """``--supports KEY=V1,V2`` items as a ``supports=`` dict (values parsed as literals);
    a key given twice is a usage error (which values were meant is not clear)."""
    if not items:
        return None
    out: dict = {}
    given: dict[str, str] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--supports: expected KEY=V1,V2,..., got {item!r}")
        if key in given:
            raise ValueError(f"--supports: key {key!r} given twice ({given[key]!r} and "
                             f"{item!r}); give it once with all its values, e.g. "
                             f"{key}={given[key].partition('=')[2]},{values}")
        given[key] = item
        out[key] = [_literal(v) for v in _split_values(values)]
    return out


def _split_values(text: str) -> list[str]:
    """Split at commas outside parentheses: ``1,(2,3)`` -> ``['1', '(2,3)']``."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "(["
        depth -= ch in ")]"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return [p.strip() for p in [*parts, cur] if p.strip()]


def _literal(text: str):
    if text == "None":
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text                      # a bare word: channels_last, valid, ...


def _check_options(args) -> dict:
    """The keywords for :func:`pooling_ref.check`: every parsed option named like one of
    its keyword-only parameters, as given (``--supports`` parsed into a dict)."""
    keywords = {name for name, p in inspect.signature(check).parameters.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY}
    options = {k: v for k, v in vars(args).items() if k in keywords}
    options["supports"] = _supports(args.supports)
    options["isolate"] = args.isolate and isolation_available
    return options


def _check(args) -> int:
    spec(args.op)                        # usage errors before importing the user's module
    check_dtype(args.dtype, args.op)
    options = _check_options(args)
    func = _load_target(args.target)
    with Progress(args.cases, "check", quiet=args.quiet) as progress:
        report = check(func, args.op, **options,
                       progress=lambda done, total: progress.advance(args.op))
    print(report)
    return 0 if report.passed else 1


# ----------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pooling-ref`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    handler = {"verify": _verify, "merge": _merge, "check": _check,
               "shape": shape, "model": model}[args.command]
    try:
        return handler(args)
    except (ValueError, TypeError) as e:
        print(f"pooling-ref {args.command}: error: {e}", file=sys.stderr)
        return 2
    except TensorFlowMissing as e:
        print(f"pooling-ref {args.command}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:   # check: CheckInterrupted says what ran
        sys.stdout.flush()
        print(f"pooling-ref {args.command}: {e or 'interrupted (Ctrl-C)'}", file=sys.stderr)
        return 130
    except BrokenPipeError:          # e.g. `pooling-ref check ... | head`
        sys.stdout = open(os.devnull, "w")  # silence the flush at exit
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
