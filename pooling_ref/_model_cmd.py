"""``pooling-ref model FILE``: run a deployed model once (LiteRT ``.tflite``, ONNX
``.onnx``) with every intermediate tensor kept, and check each pooling, padding and
convolution node against its reference (:mod:`pooling_ref.model_check`).

>>> import argparse
>>> sub = argparse.ArgumentParser(prog="pooling-ref").add_subparsers(dest="command")
>>> model_parser(sub, "")
>>> args = sub.choices["model"].parse_args(["net.tflite", "--kernel", "builtin"])
>>> model_format(args.file), args.kernel, args.input
('tflite', 'builtin', None)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter

import numpy as np

from . import __version__
from ._progress import Progress
from ._reports import check_writable
from .model_check import RuntimeMissing, nodes, onnx, table, tflite

__all__ = ["MODEL_EXAMPLES", "MODEL_NOTES", "model", "model_format", "model_parser"]

#: File suffix -> the model_check module that reads and runs the format.
FORMATS = {".tflite": tflite, ".onnx": onnx}
KERNELS = tuple(tflite.RESOLVERS)

MODEL_EXAMPLES = """\
  pooling-ref model net.tflite                      # drawn inputs, XNNPACK (the default)
  pooling-ref model net_int8.tflite --input x.npy --kernel builtin
  pooling-ref model net.onnx --json nodes.json
"""
MODEL_NOTES = """
Every MAX_POOL_2D / AVERAGE_POOL_2D, PAD / PADV2, CONV_2D / DEPTHWISE_CONV_2D node of a
.tflite file (ONNX: MaxPool, AveragePool, Pad, Conv, ...) gets its actual input fed to
the reference with the node's own attributes, and its actual output compared: pooling
and padding bit for bit under the runtime's rules, float convolution within the
derived bound, integer convolution within one quantization step. verdict: match (the
rule, equal to Keras), known (the runtime's rule where it differs from Keras by
registered differences, named in the registry column), DIFFERS, unchecked (no
reference for the op). Needs the format's extra: pip install 'pooling-ref[litert]' for
.tflite, 'pooling-ref[onnx]' for .onnx.

"""


def model_parser(sub, epilog: str) -> None:
    """Add the ``model`` command to the subparsers ``sub``."""
    m = sub.add_parser("model", formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=epilog, help="check every pooling/padding/conv node of a "
                       ".tflite or .onnx model file",
                       description="Run a deployed model once with every intermediate "
                       "tensor kept and check each pooling, padding and convolution node "
                       "against pooling_ref's reference for its runtime.")
    m.add_argument("file", metavar="FILE.tflite|FILE.onnx")
    m.add_argument("--input", action="append", metavar="X.npy",
                   help="the model's input as a .npy file (once per model input, in "
                   "order); default: drawn (standard normal floats, uniform integers)")
    m.add_argument("--seed", type=int, default=0,
                   help="seed of the drawn inputs (default 0)")
    m.add_argument("--kernel", choices=KERNELS, default=None,
                   help=".tflite: the LiteRT CPU kernels to run and hold the nodes to "
                   "(default xnnpack, the interpreter's default; builtin; reference)")
    m.add_argument("--json", metavar="FILE", help="write the node results as JSON to FILE")
    m.add_argument("-q", "--quiet", action="store_true",
                   help="no progress (by default a bar on a terminal, else a line per "
                   "tenth of the nodes, on stderr)")


def model_format(path: str) -> str:
    """``"tflite"`` or ``"onnx"`` from the file's suffix (``ValueError`` otherwise)."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in FORMATS:
        raise ValueError(f"FILE must end in {' or '.join(FORMATS)}, got {path!r}")
    return suffix[1:]


def _load_inputs(paths: list[str] | None) -> list[np.ndarray] | None:
    if not paths:
        return None
    arrays = []
    for path in paths:
        try:
            arrays.append(np.load(path, allow_pickle=False))
        except (OSError, ValueError) as e:
            raise ValueError(f"--input: cannot read {path!r} as a .npy array: {e}") from None
        if not isinstance(arrays[-1], np.ndarray):
            raise ValueError(f"--input: {path!r} holds several arrays (.npz); give one .npy "
                             f"file per model input")
    return arrays


class _Bar:
    """``progress(done, total, label)`` for the checkers, shown with :class:`Progress`
    (created at the first call, when the number of nodes is known)."""

    def __init__(self, quiet: bool):
        self.quiet, self.bar, self.done = quiet, None, 0

    def __call__(self, done: int, total: int, label: str) -> None:
        if self.bar is None:
            self.bar = Progress(total, "model", quiet=self.quiet, unit="step")
        self.bar.advance(label, done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _options(args, fmt: str) -> dict:
    if args.kernel is not None and fmt != "tflite":
        raise ValueError(f"--kernel applies to .tflite models, not to {args.file!r}")
    return {"kernel": args.kernel or "xnnpack"} if fmt == "tflite" else {}


def _summary(results: list) -> tuple[bool, str]:
    """Whether no node differs beyond its rule, and the closing line (which says so when no
    node could be checked at all)."""
    counts = Counter(r.verdict for r in results)
    passed = counts["DIFFERS"] == 0
    words = ", ".join(f"{counts[v]} {v}" for v in ("match", "known", "unchecked", "DIFFERS"))
    if counts["unchecked"] == len(results):
        what = "no node" if not results else f"none of {len(results)} nodes"
        return passed, (f"NOTHING CHECKED: {what} of pooling, padding or convolution had a "
                        f"reference")
    return passed, f"{'PASSED' if passed else 'FAILED'}: {nodes(len(results))}: {words}"


def _print_details(results: list) -> None:
    for r in results:
        if r.verdict in ("DIFFERS", "unchecked") and r.detail:
            print(f"\n{r.verdict} #{r.index} {r.name} ({r.op}): {r.detail}")
    known = sorted({k for r in results if r.verdict == "known" for k in r.registry})
    if known:
        print(f"\nknown: equal to the runtime's own rule, which differs from Keras as "
              f"registered (README, 'Known TF/Keras defects'): {', '.join(known)}")


def _write_json(path: str, doc: dict) -> None:
    def plain(v):
        return v.tolist() if isinstance(v, (np.ndarray, np.generic)) else str(v)

    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2, default=plain)


def model(args) -> int:
    """Check the nodes of ``args.file``; exit status 0 (no node differs beyond its rule),
    1 (one does) or 2 (usage error, or the format's extra missing)."""
    fmt = model_format(args.file)
    options = _options(args, fmt)
    if not os.path.isfile(args.file):
        raise ValueError(f"FILE: no such file: {args.file!r}")
    check_writable(args.json)
    inputs = _load_inputs(args.input)
    checker = FORMATS["." + fmt]
    bar = _Bar(args.quiet)
    try:
        runtime = checker.runtime_versions()
        results = checker.check_model(args.file, inputs, seed=args.seed, progress=bar,
                                      **options)
    except RuntimeMissing as e:
        print(f"pooling-ref model: {e}", file=sys.stderr)
        return 2
    finally:
        bar.close()
    source = f"{len(inputs)} input file(s)" if inputs else f"drawn inputs (seed {args.seed})"
    kernels = f", kernels {options['kernel']}" if options else ""
    print(f"pooling-ref model: {args.file} ({fmt}: "
          f"{', '.join(f'{k} {v}' for k, v in runtime.items())}{kernels}); {source}\n")
    print(table(results))
    _print_details(results)
    passed, line = _summary(results)
    print(f"\n{line}")
    if args.json:
        _write_json(args.json, {
            "file": args.file, "format": fmt, "versions": {**runtime, "pooling_ref":
                                                          __version__},
            **options, "inputs": args.input or f"drawn, seed {args.seed}",
            "passed": passed, "nodes": [r.to_json() for r in results]})
        print(f"results written to {args.json}")
    return 0 if passed else 1
