"""The ``pooling-ref`` command: ``verify``, ``check`` and ``shape``.

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
import importlib
import json
import os
import sys
from collections.abc import Sequence

from ._candidate import DEFAULT_TIMEOUT, check_timeout
from ._isolate import AVAILABLE as isolation_available

__all__ = ["main"]

VERIFY_EPILOG = """\
examples:
  pooling-ref verify                          # every op, default number of cases
  pooling-ref verify --cases 200 --seed 3     # more cases, another seed
  pooling-ref verify --ops conv2d max_pool    # a subset (op names or families)
  pooling-ref verify --json results.json      # also write the results as JSON
  pooling-ref verify --tf-kernel xla          # pooling as jit-compiled models run it

Exit status: 0 all match, 1 a mismatch or an op without any comparison, 2 bad
arguments, unwritable --json path or TensorFlow missing.
"""

CHECK_EPILOG = """\
examples:
  pooling-ref check mypool:max_pool2d --op max_pool2d
  pooling-ref check mypkg.layers:conv --op conv3d --cases 500 --seed 7 --dtype float64
  pooling-ref check mypool:pool --op max_pool2d --supports data_format=channels_last \
      padding=valid --nan propagate
  pooling-ref check mypool:pool --op max_pool1d --dtype int32

The function is called as FUNCTION(x, **params) with the parameter names of
pooling_ref (pool_size, strides, padding, data_format / padding, data_format /
kernel, bias, strides, padding, data_format, dilation_rate, groups).
--supports values are Python literals (2, (2,3), None) or bare words (valid).
The current directory is importable. The function runs in a child process (a crash or
a hang is a reported failure; --no-isolate runs it in this process), each call at most
--timeout seconds. Exit status: 0 pass, 1 a mismatch, 2 usage error (bad argument, module
that cannot be imported, a function whose signature cannot take the call), 130
interrupted (Ctrl-C: a summary of what ran is printed).
"""

SHAPE_EPILOG = """\
examples:
  pooling-ref shape --input 1,5,5,3 --op max_pool --pool-size 2 --strides 2 --padding same
  pooling-ref shape --input 8,3,32,32 --op conv --kernel-size 3,3 --filters 8 \\
      --dilation 2 --padding same --data-format channels_first
  pooling-ref shape --input 1,7,2 --op zero_pad --pad 1,2

No TensorFlow needed.
"""


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.replace(" ", "").split(",") if v != "")
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}") from None


def _timeout(text: str) -> float | None:
    """``--timeout``: seconds (> 0) or ``none``."""
    if text.lower() == "none":
        return None
    try:
        return check_timeout(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected seconds > 0 or 'none', got {text!r}") from None


def _int_or_tuple(values: tuple[int, ...] | None):
    if values is None:
        return None
    return values[0] if len(values) == 1 else values


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pooling-ref",
        description="Pure-NumPy reference of Keras pooling, zero padding and convolution.",
        epilog="run `pooling-ref COMMAND --help` for the options and examples of a command",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fmt = argparse.RawDescriptionHelpFormatter

    v = sub.add_parser("verify", formatter_class=fmt, epilog=VERIFY_EPILOG,
                       help="randomized parity of every op and method against Keras",
                       description="Randomized parity of every op (pooling 1-3D, global "
                       "pooling, zero padding, convolution) and every method (loop, im2col, "
                       "fast) against the installed Keras/TensorFlow.")
    v.add_argument("--cases", type=int, default=80,
                   help="cases per op (default 80: about 1.5 minutes on 2 cores)")
    v.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    v.add_argument("--ops", nargs="+", metavar="OP",
                   help="ops (e.g. conv2d) or families (e.g. max_pool); default all")
    v.add_argument("--json", metavar="FILE", help="write the results as JSON to FILE")
    v.add_argument("--tf-kernel", choices=["onednn", "eigen", "xla"], default=None,
                   help="TF kernel path to verify against: the eager path of this TF "
                   "(default: detected; the other eager path needs TF_ENABLE_ONEDNN_OPTS "
                   "set before start) or xla (pooling and its gradients compiled with "
                   "jit_compile=True)")

    c = sub.add_parser("check", formatter_class=fmt, epilog=CHECK_EPILOG,
                       help="check your own implementation against pooling_ref",
                       description="Run pooling_ref.check on MODULE:FUNCTION and print the "
                       "report (smallest failing cases with reproducer snippets).")
    c.add_argument("target", metavar="MODULE:FUNCTION")
    c.add_argument("--op", required=True,
                   help="max_pool1d ... global_avg_pool3d ... conv3d (pooling_ref.OPS)")
    c.add_argument("--cases", type=int, default=100, help="number of cases (default 100)")
    c.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    c.add_argument("--dtype", default="float32",
                   help="float16, float32 (default), float64, bfloat16, or an integer dtype "
                   "(int8, int32, int64, uint8, ...) where the op accepts integers")
    c.add_argument("--supports", nargs="+", metavar="KEY=V1,V2",
                   help="only draw cases with these parameter values, e.g. "
                   "data_format=channels_last padding=valid groups=1 bias=None")
    c.add_argument("--nan", choices=["tf", "propagate"], default="tf",
                   help="max pooling NaN rule: tf (NaN ignored, default) or propagate")
    c.add_argument("--tf-kernel", default=None, metavar="PATH",
                   help="TF kernel path whose special-value rules to follow "
                   "(onednn, eigen, xla), passed to the reference pooling functions")
    c.add_argument("--timeout", type=_timeout, default=DEFAULT_TIMEOUT, metavar="S",
                   help=f"seconds per call of the function (default {DEFAULT_TIMEOUT:g}; "
                   f"'none': no limit); a call that takes longer is a failure")
    c.add_argument("--no-isolate", dest="isolate", action="store_false",
                   help="call the function in this process (default: in a child process, "
                   "so a crash or a hang in native code is a reported failure; POSIX only)")

    s = sub.add_parser("shape", formatter_class=fmt, epilog=SHAPE_EPILOG,
                       help="output shape and padding of a pooling/conv configuration",
                       description="Print the output shape and, per spatial axis, the "
                       "window, stride, output length and (before, after) padding.")
    s.add_argument("--input", type=_ints, required=True, metavar="N,...,C",
                   help="input shape, batch first")
    s.add_argument("--op", required=True, choices=["max_pool", "avg_pool", "conv", "zero_pad"])
    s.add_argument("--pool-size", type=_ints, metavar="K[,K...]")
    s.add_argument("--strides", type=_ints, metavar="S[,S...]",
                   help="default: pool size (pooling) or 1 (conv)")
    s.add_argument("--padding", default="valid", help="valid or same (default valid)")
    s.add_argument("--data-format", default="channels_last",
                   help="channels_last (default) or channels_first")
    s.add_argument("--kernel-size", type=_ints, metavar="K[,K...]")
    s.add_argument("--filters", type=int)
    s.add_argument("--dilation", type=_ints, default=(1,), metavar="D[,D...]")
    s.add_argument("--groups", type=int, default=1)
    s.add_argument("--pad", type=_ints, default=(1,), metavar="P[,P...]",
                   help="zero_pad: one int, one per axis, or before,after per axis")
    return p


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


def _verify(args) -> int:
    from . import _verify as V
    from .keras_ref import TensorFlowMissing

    if args.cases < 1:
        raise ValueError(f"--cases must be >= 1, got {args.cases}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    ops = V.expand_ops(args.ops) if args.ops else list(V.ALL_OPS)
    _check_writable(args.json)
    try:
        versions = V.load_tf()
    except TensorFlowMissing as e:
        print(f"pooling-ref verify: {e}", file=sys.stderr)
        return 2
    path = V.check_path(args.tf_kernel)
    print(f"pooling-ref verify: TensorFlow {versions['tensorflow']}, "
          f"Keras {versions['keras']}; {args.cases} cases per op, seed {args.seed}; "
          f"TF kernel path: {path}")
    eager = (f"called eagerly ({V.eager_path()} kernels; pooling_ref follows "
             f"tf_kernel={V.eager_path()!r})")
    if path == "xla":
        print(f"Reference paths: pooling and global pooling = Keras layers compiled with "
              f"XLA (jit_compile=True; pooling_ref follows tf_kernel='xla', average pooling "
              f"within its error bound); zero padding = Keras layers {eager}; "
              f"convolution = Keras layer compiled with XLA, channels_last.")
    else:
        print(f"Reference paths: pooling and zero padding = Keras layers {eager}; "
              f"convolution = Keras layer compiled with XLA (jit_compile=True), "
              f"channels_last.")
    if any(V.is_gradient(V.spec(op)) for op in ops):
        print(V.gradient_paths(path))
    print("Known TF/Keras defects (see README):")
    for d in V.KNOWN_DEFECTS:
        print(f"  - {d}")
    sys.stdout.flush()
    progress = V.Progress(len(ops) * args.cases)
    results = V.run_verify(ops, args.cases, args.seed, progress, path)
    progress.close()
    print()
    print(_format_table(results))
    failed = [r for r in results if not r.passed]
    for r in failed:
        for m in r.mismatches[:3]:
            print(f"\nMISMATCH {r.op} method={m['method']}: {m['detail']}\n  case: {m['case']}"
                  "\n  reproduce with:\n"
                  + "\n".join("    " + line for line in m["reproducer"].splitlines()))
    passed = not failed
    for r in results:
        if r.comparisons == 0:
            reasons = sorted({s["keras_error"] for s in r.skipped})[:2]
            print(f"\nNO COMPARISONS {r.op}: every Keras call raised ({len(r.skipped)} "
                  f"skipped), e.g. {'; '.join(reasons) or '-'}")
    print(f"\n{'PASSED' if passed else 'FAILED'} (TF kernel path {path}): "
          f"{sum(r.cases for r in results)} cases, "
          f"{sum(r.comparisons for r in results)} comparisons, "
          f"{sum(len(r.mismatches) for r in results)} mismatches, "
          f"{sum(len(r.skipped) for r in results)} skipped (Keras error or known TF defect), "
          f"{sum(r.comparisons == 0 for r in results)} ops without a comparison")
    if args.json:
        doc = {"passed": passed, "versions": versions, "seed": args.seed,
               "cases_per_op": args.cases, "known_defects": list(V.KNOWN_DEFECTS),
               "tf_kernel": path,
               "conv_reference_path": "xla",
               "ops": {r.op: r.to_json() for r in results}}
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2, default=float)
        print(f"results written to {args.json}")
    return 0 if passed else 1


def _check_writable(path: str | None) -> None:
    """``ValueError`` (exit 2) before a long run if ``--json`` cannot be written."""
    if path is None:
        return
    try:
        existed = os.path.exists(path)
        with open(path, "a", encoding="utf-8"):
            pass
        if not existed:
            os.remove(path)
    except OSError as e:
        raise ValueError(f"--json: cannot write {path!r}: {e.strerror or e}") from None


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
    """``--supports KEY=V1,V2`` items as a ``supports=`` dict (values parsed as literals)."""
    if not items:
        return None
    out: dict = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--supports: expected KEY=V1,V2,..., got {item!r}")
        out.setdefault(key, []).extend(_literal(v) for v in _split_values(values))
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
    import ast

    if text == "None":
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text                      # a bare word: channels_last, valid, ...


def _check(args) -> int:
    from .cases import check_dtype
    from .ops import spec
    from .oracle import check

    spec(args.op)                        # usage errors before importing the user's module
    check_dtype(args.dtype, args.op)
    supports = _supports(args.supports)
    func = _load_target(args.target)
    report = check(func, args.op, cases=args.cases, seed=args.seed, dtype=args.dtype,
                   supports=supports, nan=args.nan, tf_kernel=args.tf_kernel,
                   target=args.target, timeout=args.timeout,
                   isolate=args.isolate and isolation_available)
    print(report)
    return 0 if report.passed else 1


# ----------------------------------------------------------------------------- shape


def _shape(args) -> int:
    from .geometry import (
        normalize_data_format,
        normalize_padding,
        normalize_tuple,
        plan_window,
    )
    from .padding import normalize_zero_padding

    shape = args.input
    if len(shape) not in (3, 4, 5) or min(shape) < 0:
        raise ValueError(f"--input must have 3, 4 or 5 non-negative sizes (batch, 1-3 "
                         f"spatial, channels), got {','.join(map(str, shape))}")
    rank = len(shape) - 2
    fmt = normalize_data_format(args.data_format, args.op)
    n = shape[0]
    cin = shape[1] if fmt == "channels_first" else shape[-1]
    spatial = shape[2:] if fmt == "channels_first" else shape[1:-1]
    op = f"{args.op}{rank}d"
    if args.op == "zero_pad":
        pad = args.pad
        if len(pad) == 2 * rank and len(pad) > 1:
            pad = tuple((pad[2 * i], pad[2 * i + 1]) for i in range(rank))
        pairs = normalize_zero_padding(_int_or_tuple(pad), rank, "zero_pad")
        out_spatial = tuple(s + b + a for s, (b, a) in zip(spatial, pairs))
        rows = [(i, s, "-", "-", "-", o, b, a)
                for i, (s, o, (b, a)) in enumerate(zip(spatial, out_spatial, pairs))]
        cout = cin
    else:
        padding = normalize_padding(args.padding, args.op)
        if args.op == "conv":
            if args.kernel_size is None or args.filters is None:
                raise ValueError("conv needs --kernel-size and --filters")
            window = normalize_tuple(_int_or_tuple(args.kernel_size), rank, "kernel_size",
                                     "conv")
            strides = normalize_tuple(_int_or_tuple(args.strides or (1,)), rank, "strides",
                                      "conv")
            dilation = normalize_tuple(_int_or_tuple(args.dilation), rank, "dilation_rate",
                                       "conv")
            if args.groups < 1 or cin % args.groups or args.filters % args.groups:
                raise ValueError(f"conv: groups={args.groups} must be >= 1 and divide the "
                                 f"input channels {cin} and filters {args.filters}")
            if args.filters < 1:
                raise ValueError(f"conv: filters must be >= 1, got {args.filters}")
            if max(strides) > 1 and max(dilation) > 1:
                raise ValueError(f"conv: strides > 1 together with dilation_rate > 1 is not "
                                 f"supported (Keras forbids it), got strides={strides} and "
                                 f"dilation_rate={dilation}")
            name, cout = "kernel_size", args.filters
        else:
            if args.pool_size is None:
                raise ValueError(f"{args.op} needs --pool-size")
            window = normalize_tuple(_int_or_tuple(args.pool_size), rank, "pool_size",
                                     args.op)
            strides = (window if args.strides is None else
                       normalize_tuple(_int_or_tuple(args.strides), rank, "strides", args.op))
            dilation = (1,) * rank
            name, cout = "pool_size", cin
        g = plan_window(spatial, window, strides, padding, dilation, args.op,
                        window_name=name)
        out_spatial = g.out_spatial
        rows = [(i, s, k, st, d, o, b, a) for i, (s, k, st, d, o, (b, a)) in enumerate(
            zip(spatial, window, strides, dilation, out_spatial, g.pads))]
    out = ((n, cout, *out_spatial) if fmt == "channels_first" else (n, *out_spatial, cout))
    print(f"{op}  input {tuple(shape)}  {fmt}")
    print(f"output shape: {tuple(out)}")
    head = ("axis", "length", "window", "stride", "dilation", "output", "pad_before",
            "pad_after")
    print("  ".join(head))
    for row in rows:
        print("  ".join(str(v).rjust(len(h)) for v, h in zip(row, head)))
    return 0


# ----------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pooling-ref`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    handler = {"verify": _verify, "check": _check, "shape": _shape}[args.command]
    try:
        return handler(args)
    except (ValueError, TypeError) as e:
        print(f"pooling-ref {args.command}: error: {e}", file=sys.stderr)
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
