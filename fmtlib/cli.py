"""The ``fmtlib`` command line.

``fmtlib table CODEC`` prints every code of a codec with its bits, value and class;
``fmtlib info CODEC`` prints its numbers (a block codec: its structure and a worked block);
``fmtlib formats`` lists every name; ``fmtlib vectors CODEC -o DIR`` writes golden test
vectors; ``fmtlib compare`` compares codecs on tensors; ``fmtlib quantize FILE --format F -o
OUT`` quantizes a file's tensors; ``fmtlib explain CODEC VALUE...`` shows how values round
(or how a block is encoded), step by step. Every name is one codec (:mod:`fmtlib.recipes`).
``fmtlib --version`` prints the version; a bare ``fmtlib`` prints the help on stderr and exits 2.
"""
from __future__ import annotations

import argparse
import json
import sys

from .compare import DEFAULT_FORMATS


def _codec(spec: str):
    """The codec of a CLI name (or a JSON config)."""
    from .registry import get

    return get(json.loads(spec) if spec.lstrip().startswith("{") else spec)


def cmd_table(args) -> int:
    from .describe import table

    name = None if args.format.lstrip().startswith("{") else args.format
    print("\n".join(table(_codec(args.format), args.nonnegative, name)))
    return 0


def cmd_info(args) -> int:
    from .describe import info

    for k, v in info(_codec(args.format), args.format if not args.format.lstrip().startswith("{") else None):
        print(f"{k:<20} {v}".rstrip() if k else f"{'':<20} {v}")
    return 0


def cmd_formats(args) -> int:
    from .describe import catalogue

    print("\n".join(catalogue()))
    return 0


#: the most random inputs ``fmtlib vectors`` writes without --allow-large (5 to 11 MB)
MAX_RANDOM = 1_000_000


def cmd_vectors(args) -> int:
    import json
    from pathlib import Path

    from .codecs.blocked import BlockCodec
    from .registry import get
    from .rounding import Rounding
    from .testing import CASES, save_vectors

    spec = json.loads(args.format) if args.format.lstrip().startswith("{") else args.format
    codec = get(spec)
    if args.n_random > MAX_RANDOM and not args.allow_large:
        raise ValueError(f"--n-random {args.n_random} is above the limit of {MAX_RANDOM} inputs (a set takes about "
                         "10 bytes per input); pass --allow-large to go beyond it")
    mode = Rounding.parse(args.rounding) if args.rounding else getattr(codec, "rounding", None)
    if args.seed is not None and mode is not Rounding.STOCHASTIC:
        raise ValueError("--seed keys stochastic rounding; give --rounding stochastic with it")
    if args.scale_layout and not isinstance(codec, BlockCodec):
        raise ValueError(f"--scale-layout applies to block codecs (mxfp4, nvfp4, ...); {codec!r} has no block scales")
    if args.name is not None and (not args.name or Path(args.name).name != args.name or args.name in (".", "..")):
        raise ValueError(f"--name is a file name stem without a directory, got {args.name!r}")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise ValueError(f"-o {args.out} is a file; give a directory")
    kw = dict(layout=args.layout, rounding=args.rounding, data_seed=args.data_seed, n_random=args.n_random)
    if args.seed is not None:
        kw["seed"] = args.seed
    if args.scale_layout:
        kw["scale_layout"] = args.scale_layout
    path = save_vectors(args.out, codec, name=args.name, **kw)
    m = json.loads(path.read_text())
    print(f"wrote {path} and {path.with_name(m['file'])}")
    print(f"  codec {m['codec_repr']}, layout {m['layout']['name']}, rounding {m['rounding']}"
          + (f", seed {m['seed']}" if m["seed"] is not None else "")
          + (f", scales {m['scale_layout']}" if m["scale_layout"] else ""))
    for name, spec in m["arrays"].items():
        print(f"  {name:<14} {spec['dtype']:<8} {tuple(spec['shape'])}")
    from numpy import load

    with load(path.with_name(m["file"])) as z:
        case = z["case"]
        counts = {CASES[int(k)]: int((case == k).sum()) for k in sorted(set(case.reshape(-1).tolist()))}
    unit = "rows" if m["scale_layout"] else "inputs"
    print(f"  {unit} by case: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def cmd_compare(args) -> int:
    import csv
    import json

    from .compare import check_plot_path, compare, embedded_tensors, format_table, plot, rows_as_dicts, sort_rows
    from .tensorio import read_tensors

    if args.tensor and not args.file:
        raise ValueError("--tensor picks a tensor inside FILE; give a file")
    if args.seed is not None and args.file:
        raise ValueError("--seed seeds the embedded tensors; it does not apply to FILE")
    if args.plot:
        check_plot_path(args.plot)
    formats = None
    if args.formats:
        formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    tensors = read_tensors(args.file, args.tensor) if args.file else embedded_tensors(seed=args.seed or 0)
    bar = _Progress(args) if not (args.json or args.csv) else None
    try:
        rows = sort_rows(compare(tensors, formats, progress=bar), args.sort)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps(rows_as_dicts(rows, json_safe=True), indent=1))
    elif args.csv:
        w = csv.DictWriter(sys.stdout, fieldnames=list(rows_as_dicts(rows[:1])[0]) if rows else [])
        w.writeheader()
        w.writerows(rows_as_dicts(rows, flat=True))
    else:
        src = args.file or "embedded data (fmtlib.compare.embedded_tensors)"
        print(f"# {src}: {len(tensors)} tensor(s), {len(rows) // max(1, len(tensors))} formats; "
              f"sorted by {args.sort}; bits include scales; '_row': one fp32 scale per row, '_b64': absmax per "
              "64 (fmtlib formats); --json gives each row's Python config")
        print("# metrics are over the elements finite before and after quantizing; nonfinite = inf/NaN in the "
              "tensor / made by the codec from finite values; med rel = median |x - q| / |x| over x != 0; "
              "n/a = not defined (an empty tensor)")
        print(format_table(rows))
    if args.plot:
        plot(rows, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def cmd_explain(args) -> int:
    from .explain import explain

    values = []
    for text in args.value:
        try:
            values.append(float(text))
        except ValueError:
            raise ValueError(f"VALUE must be a number (e.g. 0.3, -1e-3, inf, nan), got {text!r}") from None
    spec = json.loads(args.format) if args.format.lstrip().startswith("{") else args.format
    print(explain(spec, values, args.rounding))
    return 0


def cmd_quantize(args) -> int:
    """Every option is checked before any work; OUT is written atomically."""
    import numpy as np

    from ._arrays import is_float_dtype
    from .checkpoint import codec_options, select
    from .compare import codec_for
    from .tensorio import check_writable, open_tensors, read_metadata, tensor_specs, write_tensors

    check_writable(args.out)
    if args.out.lower().endswith(".safetensors") and not args.dequantize:
        return _quantize_checkpoint(args)
    codec = codec_for(args.format)
    specs = tensor_specs(args.file)
    names = select(specs, args.file, tensors=args.tensor, include=args.include, exclude=args.exclude,
                   min_size=args.min_size)
    chosen = set(names)
    f32 = np.dtype(np.float32)   # float8 tensors are quantized (and written) in float32
    check_writable(args.out, {n: f32 if n in chosen and not is_float_dtype(dt) else dt for n, (_, dt) in specs.items()})
    meta = read_metadata(args.file)
    opts = codec_options(codec, args.rounding, args.seed)
    out = {}
    bar = _Progress(args)
    try:
        with open_tensors(args.file) as (all_names, read):
            for i, n in enumerate(all_names):
                bar(i, len(all_names), n)
                a = read(n)
                if n in chosen:
                    x = a if is_float_dtype(a.dtype) else a.astype(f32)
                    a = codec.quantize(np.ascontiguousarray(x), **opts)
                out[n] = a
    finally:
        bar.close()
    meta["fmtlib.quantize"] = json.dumps({"codec": codec.get_config(), "tensors": names, **opts})
    write_tensors(args.out, out, meta)
    print(f"wrote {args.out}: {len(names)} tensor(s) quantized with {args.format}, "
          f"{len(out) - len(names)} copied")
    return 0


def _quantize_checkpoint(args) -> int:
    """``fmtlib quantize IN --format F -o OUT.safetensors``: packed codes and scales."""
    import resource

    from .checkpoint import save_quantized

    bar = _Progress(args)
    try:
        info = save_quantized(args.file, args.out, args.format, tensors=args.tensor, include=args.include,
                              exclude=args.exclude, min_size=args.min_size, rounding=args.rounding, seed=args.seed,
                              progress=bar)
    finally:
        bar.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"wrote {args.out}: {len(info['quantized'])} tensor(s) quantized with {args.format} as packed codes and "
          f"scales, {len(info['copied'])} copied; {info['bytes_in'] / 2**20:.1f} MiB -> "
          f"{info['bytes_out'] / 2**20:.1f} MiB; peak memory {peak:.0f} MiB; read it with fmtlib.load")
    return 0


class _Progress:
    """A one-line progress meter on stderr (tqdm when installed)."""

    def __init__(self, args):
        self.bar = None
        self.quiet = args.no_progress or not sys.stderr.isatty()
        try:
            import tqdm  # noqa: F401
        except ImportError:
            self.tqdm = None
        else:
            self.tqdm = tqdm

    def __call__(self, i: int, n: int, label: str) -> None:
        if self.quiet:
            return
        if self.tqdm is not None:
            if self.bar is None:
                self.bar = self.tqdm.tqdm(total=n, file=sys.stderr, leave=False)
            self.bar.set_description(label)
            self.bar.update(1)
        else:
            print(f"\r[{i + 1}/{n}] {label:<40}", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif not self.quiet and self.tqdm is None:
            print("\r" + " " * 50 + "\r", end="", file=sys.stderr)


def _count(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return n


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fmtlib", description="Bit-accurate low-precision number formats. "
                                "Start with: fmtlib compare; fmtlib table e2m1; fmtlib explain e2m1 0.3")
    from . import __version__

    p.add_argument("--version", action="version", version=f"fmtlib {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("table", help="every code of a codec with its bits, class and value",
                       description="Print every code of CODEC with its hex code, bits, class and value; a block "
                                   "codec lists its element codes under its block structure. Example: fmtlib table "
                                   "e2m1; fmtlib table e4m3fn --nonnegative; fmtlib table nf4; fmtlib table mxfp4")
    t.add_argument("format", metavar="CODEC", help="codec name (e2m1, 'e5m6,bias=13', int4, nf4, mxfp4, nvfp4, ...)")
    t.add_argument("--nonnegative", action="store_true", help="only codes with the sign bit clear")
    t.set_defaults(func=cmd_table)
    i = sub.add_parser("info", help="the numbers of a codec; a block codec's structure and a worked block",
                       description="Print the finfo numbers of an element format (bits, bias, max, smallest normal "
                                   "and subnormal, eps, emax, emin, NaN and max codes; an integer's range; a code "
                                   "book's levels), or a block codec's block structure, element and scale formats, "
                                   "bits per element with the scales and a worked block; then the Python that "
                                   "builds it. Example: fmtlib info e4m3fn; fmtlib info mxfp4; fmtlib info int8_row")
    i.add_argument("format", metavar="CODEC")
    i.set_defaults(func=cmd_info)
    f = sub.add_parser("formats", help="list every codec name",
                       description="List the named codecs by kind (float formats with their aliases, integers, "
                                   "code books, block formats, scaled recipes) with their bits. Example: "
                                   "fmtlib formats")
    f.set_defaults(func=cmd_formats)
    c = sub.add_parser("compare", help="quantize tensors with many formats and tabulate the error",
                       description="Quantize tensors (the embedded set, or FILE) with a list of formats and print "
                                   "bits/element, MSE, SQNR, max abs and median rel error, non-finite counts and "
                                   "throughput. Example: "
                                   "fmtlib compare; fmtlib compare w.safetensors --tensor lm_head.weight "
                                   "--formats e4m3fn_row,mxfp4,nvfp4")
    c.add_argument("file", nargs="?", help=".npy, .npz or .safetensors file (default: embedded tensors)")
    c.add_argument("--tensor", action="append", help="tensor name inside FILE (repeatable; default: all float)")
    c.add_argument("--formats", help="comma-separated codec names, as fmtlib.get takes them (default: "
                                     + ",".join(DEFAULT_FORMATS) + ")")
    c.add_argument("--sort", default="sqnr", choices=["sqnr", "bits", "mse", "name", "none"])
    c.add_argument("--seed", type=int, default=None, help="seed of the embedded tensors (default 0; not with FILE)")
    out = c.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print JSON rows")
    out.add_argument("--csv", action="store_true", help="print CSV rows")
    c.add_argument("--plot", help="write an SQNR-vs-bits chart (PNG; needs matplotlib)")
    c.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    c.set_defaults(func=cmd_compare)
    e = sub.add_parser("explain", help="how values round into a codec, step by step",
                       description="For an element format: the value's two neighbours with their bits, the midpoint, "
                                   "and the code every rounding mode picks. For a block codec: the VALUEs as one row, "
                                   "block by block: amax, scale, codes and results. Every number is exact. Example: "
                                   "fmtlib explain e2m1 0.3; fmtlib explain int8 3.7; fmtlib explain mxfp4 0.1 -1 3 12")
    e.add_argument("format", metavar="CODEC", help="codec name (e2m1, e4m3fn, 'e5m6,bias=13', int8, nf4, mxfp4, ...)")
    e.add_argument("value", nargs="+", help="numbers (0.3, -1e-3, inf, nan); a block codec takes them as one row")
    e.add_argument("--rounding", default=None, help="show only this rounding mode (block codecs: round with it)")
    e.set_defaults(func=cmd_explain)
    q = sub.add_parser("quantize", help="quantize the tensors of a file into another file",
                       description="Read FILE (.npy, .npz, .safetensors) and quantize its floating-point tensors "
                                   "with FORMAT, a codec name as fmtlib.get takes it (e4m3fn_row and int8_row: "
                                   "a per-row fp32 scale; mxfp4, nvfp4, nf4_b64: block scales). A .safetensors OUT "
                                   "is a quantized checkpoint: "
                                   "packed codes and scales with the codec in its metadata, read back with "
                                   "fmtlib.load (--dequantize writes values instead); a .npy/.npz OUT holds the "
                                   "dequantized values in the original dtypes. Example: fmtlib quantize "
                                   "model.safetensors --format mxfp4 --min-size 1024 -o model_mxfp4.safetensors")
    q.add_argument("file", help=".npy, .npz or .safetensors input")
    q.add_argument("--format", required=True, help="codec name (e4m3fn_row, mxfp4, nvfp4, nf4_b64, int8_row, ...)")
    q.add_argument("-o", "--out", required=True, help="output file (.npy, .npz or .safetensors)")
    q.add_argument("--tensor", action="append", help="tensor to quantize (repeatable; default: all floating)")
    q.add_argument("--include", action="append", help="glob on tensor names to quantize (repeatable)")
    q.add_argument("--exclude", action="append", help="glob on tensor names to leave as they are (repeatable)")
    q.add_argument("--min-size", type=_count, default=0, help="leave tensors with fewer elements as they are")
    q.add_argument("--dequantize", action="store_true",
                   help="with a .safetensors OUT: write the dequantized values instead of packed codes")
    q.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    q.add_argument("--rounding", default=None, help="rounding mode (default: the codec's); every tensor is "
                   "rounded as codec.quantize(x, rounding=R, seed=N) rounds it")
    q.add_argument("--seed", type=int, default=None, help="stochastic rounding seed (with --rounding stochastic)")
    q.set_defaults(func=cmd_quantize)
    v = sub.add_parser("vectors", help="write golden test vectors (npz + JSON manifest)",
                       description="Write a golden vector set for CODEC: inputs covering every value, midpoint, "
                                   "overflow and special, with codes, packed bytes and decoded values. Example: "
                                   "fmtlib vectors mxfp4 -o out/ --scale-layout swizzled128x4")
    v.add_argument("format", help="codec name (e2m1, mxfp4, nvfp4, int4, ...) or a JSON codec config")
    v.add_argument("-o", "--out", required=True, help="output directory (created if needed)")
    v.add_argument("--layout", default=None, help="packing layout (default: fp4x2 / fp6x4 / byte view)")
    v.add_argument("--scale-layout", default=None, choices=["row_major", "swizzled128x4"],
                   help="block codecs: how the scales are packed")
    v.add_argument("--rounding", default=None, help="rounding mode (default: the codec's)")
    v.add_argument("--seed", type=int, default=None, help="stochastic rounding seed (with --rounding stochastic; "
                   "default 0)")
    v.add_argument("--data-seed", type=int, default=0, help="seed of the random inputs")
    v.add_argument("--n-random", type=_count, default=1024, help=f"number of random inputs (at most {MAX_RANDOM})")
    v.add_argument("--allow-large", action="store_true", help=f"allow --n-random above {MAX_RANDOM}")
    v.add_argument("--name", default=None, help="file name stem (default: FORMAT-ROUNDING-LAYOUT)")
    v.set_defaults(func=cmd_vectors)
    return p


def _negative_values_last(argv: list[str]) -> list[str]:
    """``fmtlib explain e5m2 -inf`` or ``explain mxfp4 0.5 -1``: argparse reads "-inf" or "-1" as
    an option, so the positional arguments go behind "--" (options first)."""
    if not argv or argv[0] != "explain" or "--" in argv:
        return argv
    opts, pos, rest = [], [], iter(argv[1:])
    for a in rest:
        if a in ("-h", "--help") or a.startswith("--rounding="):
            opts.append(a)
        elif a == "--rounding":
            opts += [a, next(rest, "")]
        else:
            pos.append(a)
    return ["explain", *opts, "--", *pos]


def main(argv: list[str] | None = None) -> int:
    argv = _negative_values_last(sys.argv[1:] if argv is None else list(argv))
    parser = build_parser()
    if not argv:   # a bare `fmtlib`: the whole help on stderr, then exit 2 as argparse's usage errors do
        parser.print_help(sys.stderr)
        parser.exit(2)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError) as e:
        print(f"fmtlib: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fmtlib: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
