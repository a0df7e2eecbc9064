"""The ``fmtlib`` command line.

``fmtlib table FORMAT`` prints every code of a format with its bits, value and class;
``fmtlib info FORMAT`` prints its finfo numbers; ``fmtlib formats`` lists the catalogue.
"""
from __future__ import annotations

import argparse
import sys

from .catalog import aliases, names, parse_format


def _fmt_value(v: float) -> str:
    return repr(float(v)) if v == v else "nan"


def cmd_table(args) -> int:
    from .codecs.fp import FP

    codec = FP(args.format)
    rows = codec.table()
    if args.nonnegative:
        rows = rows[: len(rows) // 2] if codec.format.signed else rows
    width = max(len(r["bits"]) for r in rows)
    print(f"# {codec.format}: {codec.format.bits} bits, {len(rows)} codes shown")
    print(f"{'code':>6}  {'bits':<{width}}  {'class':<9}  value")
    for r in rows:
        print(f"{int(r['code']):#6x}  {r['bits']:<{width}}  {r['class']:<9}  {_fmt_value(r['value'])}")
    return 0


def cmd_info(args) -> int:
    fmt = parse_format(args.format)
    items = [
        ("format", str(fmt)), ("bits", fmt.bits), ("ebits (nexp)", fmt.ebits), ("mbits (nmant)", fmt.mbits),
        ("bias", fmt.bias), ("signed", fmt.signed), ("subnormals", fmt.subnormals), ("specials", fmt.specials),
        ("max", fmt.max), ("min", fmt.min), ("smallest_normal", fmt.smallest_normal),
        ("smallest_subnormal", fmt.smallest_subnormal), ("eps", fmt.eps), ("emax", fmt.emax),
        ("emin", fmt.emin), ("has_inf", fmt.has_inf), ("has_nan", fmt.has_nan),
        ("nan_code", "none" if fmt.nan_code is None else hex(fmt.nan_code)),
        ("max_code", hex(fmt.max_code)),
    ]
    for k, v in items:
        print(f"{k:<20} {v}")
    return 0


def cmd_formats(args) -> int:
    al = aliases()
    for n in names():
        f = parse_format(n)
        extra = sorted(a for a, c in al.items() if c == n)
        print(f"{n:<12} {f.bits:>2} bits  max={f.max:<12g} {'aliases: ' + ', '.join(extra) if extra else ''}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fmtlib", description="Bit-accurate low-precision number formats.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("table", help="every code of a format with its bits, class and value")
    t.add_argument("format", help="format name, e.g. e2m1, e4m3fn, 'e5m6,bias=13'")
    t.add_argument("--nonnegative", action="store_true", help="only codes with the sign bit clear")
    t.set_defaults(func=cmd_table)
    i = sub.add_parser("info", help="finfo numbers of a format")
    i.add_argument("format")
    i.set_defaults(func=cmd_info)
    f = sub.add_parser("formats", help="list the named formats")
    f.set_defaults(func=cmd_formats)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError) as e:
        print(f"fmtlib: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
