"""``pooling-ref shape``: the output shape and padding of a pooling / conv / zero padding
configuration (no TensorFlow needed).

>>> import argparse
>>> sub = argparse.ArgumentParser(prog="pooling-ref").add_subparsers(dest="command")
>>> shape_parser(sub, "")
>>> args = sub.choices["shape"].parse_args(["--input", "1,7,2", "--op", "zero_pad", "--pad", "1,2"])
>>> shape(args)
zero_pad1d  input (1, 7, 2)  channels_last
output shape: (1, 10, 2)
axis  length  window  stride  dilation  output  pad_before  pad_after
   0       7       -       -         -      10           1          2
0
"""

from __future__ import annotations

import argparse

from .geometry import normalize_data_format, normalize_padding, normalize_tuple, plan_window
from .padding import normalize_zero_padding

__all__ = ["SHAPE_EXAMPLES", "SHAPE_NOTES", "shape", "shape_parser"]

SHAPE_EXAMPLES = """\
  pooling-ref shape --input 1,5,5,3 --op max_pool --pool-size 2 --strides 2 --padding same
  pooling-ref shape --input 8,3,32,32 --op conv --kernel-size 3,3 --filters 8 \\
      --dilation 2 --padding same --data-format channels_first
  pooling-ref shape --input 1,7,2 --op zero_pad --pad 1,2
"""
SHAPE_NOTES = "\nNo TensorFlow needed.\n\n"


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.replace(" ", "").split(",") if v != "")
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}") from None


def _int_or_tuple(values: tuple[int, ...] | None):
    if values is None:
        return None
    return values[0] if len(values) == 1 else values


def shape_parser(sub, epilog: str) -> None:
    """Add the ``shape`` command to the subparsers ``sub``."""
    s = sub.add_parser("shape", formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=epilog,
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


def shape(args) -> int:
    """Print the output shape and per-axis geometry; exit status 0."""
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
