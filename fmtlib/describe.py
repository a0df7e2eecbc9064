"""What ``fmtlib info``, ``fmtlib table`` and ``fmtlib formats`` print, for every codec of the
catalogue (:mod:`fmtlib.recipes`): element formats (FP, Int, Quantile) and block codecs (MX,
NVFP4, Scaled, QRazor), with the block structure, the bits per element with the scales, the
element and scale formats, and a worked block.

>>> import fmtlib
>>> print(headline(fmtlib.get("mxfp4"), "mxfp4"))
mxfp4: MX('mxfp4_e2m1'): 32 consecutive elements along axis -1 share one scale; 4.25 bits per element
>>> dict(info(fmtlib.get("nf4_b64")))["bits per element"]
'4.5 = 4 (element) + 32/64 (a float32 absmax per block of 64)'
"""
from __future__ import annotations

import json

import numpy as np

from ._numtext import exact_text

#: the block ``fmtlib info`` works through for a block codec
SAMPLE = (0.1, -1.0, 3.0, 12.0, 0.3, -0.05, 2.5, -7.0)


def _is_block(codec) -> bool:
    from .codecs import FP, Int, Quantile

    return not isinstance(codec, (FP, Int, Quantile))


def _name(codec) -> str:
    n = getattr(codec, "name", None)
    if isinstance(n, str) and n and ":" not in n and "(" not in n:
        return n
    from .codecs import Quantile

    fmt = None if isinstance(codec, Quantile) else getattr(codec, "format", None)   # a code book: its class
    return str(fmt) if fmt is not None else type(codec).__name__


def structure(codec) -> list[tuple[str, str]]:
    """(key, text) pairs: the block structure, the element and scale formats and the bits per
    element with the scales, of a block codec."""
    from .codecs import MX, NVFP4
    from .sdr import QRazor

    if isinstance(codec, QRazor):
        sdr, per = codec.sdr, "tensor" if codec.scale_axis is None else f"index along axis {codec.scale_axis}"
        return [("kind", "QRazor: absmax scaling to integers, then SDR razoring"),
                ("stage 1", f"one fp32 scale S = amax / {sdr.base.format.max} per {per}; integers x / S rounded to "
                            f"{sdr.base!r}"),
                ("stage 2", f"SDR: groups of {sdr.group} along axis {sdr.axis} keep sign + {sdr.keep} bits from the "
                            f"group's leading one and a {sdr.flag_bits}-bit shift per group"),
                ("element format", f"sign + {sdr.keep} bits ({sdr.keep + 1}-bit codes), value (-1)^s k 2^shift x S"),
                ("scale format", "fp32 (stage 1), plus the group shifts"),
                ("bits per element", f"{sdr.bits_per_element:g} = {sdr.keep + 1} (code) + {sdr.flag_bits}/{sdr.group} "
                                     f"(shift), plus 32 per {per} (the scale)")]
    if isinstance(codec, MX):
        elem = "int8 k read as k/64 (-127..127: +-127/64)" if codec.name == "mxint8" else str(codec.element)
        e = codec.element.bits
        return [("kind", "MX block format (OCP MX v1.0)"),
                ("block", f"{codec.block} consecutive elements along axis {codec.axis} share one scale"),
                ("element format", elem),
                ("scale format", f"e8m0: a power of two 2^-127..2^127 (code 0xff: NaN), rule {codec.scale_rule!r}"),
                ("bits per element", f"{e + 8 / codec.block:g} = {e} (element) + 8/{codec.block} (scale)")]
    if isinstance(codec, NVFP4):
        g = codec.global_scale
        return [("kind", f"NVFP4 (recipe {codec.recipe!r})"),
                ("block", f"{codec.block} consecutive elements along axis {codec.axis} share one scale"),
                ("element format", "e2m1"), ("scale format", "ue4m3 (stored as e4m3fn bytes)"
                                             + ("; and one float32 tensor scale from the tensor amax" if g else "")),
                ("bits per element", f"{4 + 8 / codec.block:g} = 4 (element) + 8/{codec.block} (scale)"
                 + (", plus 32 per tensor" if g else ""))]
    return _scaled_structure(codec)


def _scaled_structure(codec) -> list[tuple[str, str]]:
    from .codecs.codebook_scaled import DOUBLE_QUANT_BLOCK

    e = codec.element.bits
    if codec.axis is None:
        where, per = "every element of the tensor shares one scale", "tensor"
    elif codec.block is None:
        where, per = f"each row (all of axis {codec.axis}) shares one scale", "row"
    else:
        where = f"{codec.block} consecutive elements along axis {codec.axis} share one scale"
        per = f"block of {codec.block}"
    if codec.scale_mode:
        scale = "a float32 absmax (bitsandbytes)" if codec.scale_mode == "absmax" else "fp32 amax"
        if codec.double_quant:
            scale += f", double-quantized: 8-bit codes, a float32 per {DOUBLE_QUANT_BLOCK} of them, and an offset"
        sbits = 8 if codec.double_quant else 32
    else:
        scale = f"{codec.scale_format}" + (f", rule {codec.scale_rule!r}" if codec._pow2 else ": amax / max element, "
                                           "rounded to nearest even") + ("; and one float32 tensor scale"
                                                                          if codec.global_scale else "")
        sbits = codec.scale_format.bits
    what = "a float32 absmax" if codec.scale_mode == "absmax" and not codec.double_quant else "scale"
    if codec.block:
        bits = (f"{e + sbits / codec.block:g} = {e} (element) + {sbits}/{codec.block} ({what} per block of "
                f"{codec.block})")
    else:
        bits = f"{e} (element) + {sbits} per {per} ({what})"
    if codec.double_quant:
        bits += f", plus 32 per {DOUBLE_QUANT_BLOCK} blocks and 32 per tensor"
    elif getattr(codec, "global_scale", False):
        bits += ", plus 32 per tensor"
    return [("kind", "Scaled: an element codec with shared scales"), ("block", where),
            ("element format", repr(codec.element_codec)), ("scale format", scale), ("bits per element", bits)]


def headline(codec, name: str | None = None) -> str:
    """One line: the name, the codec and (block codecs) the structure."""
    name = name or _name(codec)
    if not _is_block(codec):
        return f"{name}: {codec!r}"
    s = dict(structure(codec))
    block = s.get("block", s.get("stage 2", ""))
    return f"{name}: {codec!r}: {block}; {s['bits per element'].split(' ')[0]} bits per element"


def _element_items(codec) -> list[tuple[str, str]]:
    from .codecs import FP, Int

    if isinstance(codec, FP):
        fmt = codec.format
        return [("format", str(fmt)), ("bits", fmt.bits), ("ebits (nexp)", fmt.ebits), ("mbits (nmant)", fmt.mbits),
                ("bias", fmt.bias), ("signed", fmt.signed), ("subnormals", fmt.subnormals),
                ("specials", fmt.specials), ("max", fmt.max), ("min", fmt.min),
                ("smallest_normal", fmt.smallest_normal), ("smallest_subnormal", fmt.smallest_subnormal),
                ("eps", fmt.eps), ("emax", fmt.emax), ("emin", fmt.emin), ("has_inf", fmt.has_inf),
                ("has_nan", fmt.has_nan), ("nan_code", "none" if fmt.nan_code is None else hex(fmt.nan_code)),
                ("max_code", hex(fmt.max_code)),
                ("nan", f"{codec.nan!r}: a NaN input becomes "
                        + ("the format's NaN" if fmt.has_nan else "the zero of the opposite sign"))]
    if isinstance(codec, Int):
        f = codec.format
        return [("format", str(f)), ("bits", f.bits), ("signed", f.signed), ("encoding", f.encoding),
                ("narrow", f.narrow), ("min", f.min), ("max", f.max), ("rounding", codec.rounding.name.lower()),
                ("overflow", codec.overflow.name.lower()), ("nan", f"{codec.nan!r}: a NaN input becomes 0")]
    levels = " ".join(repr(np.float32(v)).removeprefix("np.float32(").rstrip(")") for v in codec.levels)
    return [("name", codec.name or "code book"), ("bits", codec.bits), ("levels", len(codec.levels)),
            ("min", exact_text(codec.min)), ("max", exact_text(codec.max)),
            ("decision points", "the exact midpoints" if codec.thresholds is None else "bitsandbytes' float32 ones"),
            ("rounding", codec.rounding.name.lower()),
            ("nan", f"{codec.nan!r}: a NaN input becomes the level of least magnitude"),
            ("values (float32)", levels)]


def info(codec, name: str | None = None) -> list[tuple[str, str]]:
    """(key, text) pairs for ``fmtlib info``: the codec's numbers (element codecs) or its
    structure and a worked block (block codecs), then how to build it in Python."""
    from .explain_blocks import worked
    from .recipes import python_expr

    items = [("codec", repr(codec))]
    if _is_block(codec):
        items += structure(codec)
        items += [("worked block", "")] + [("", line) for line in worked(codec, SAMPLE)]
    else:
        items += _element_items(codec)
    items += [("python", python_expr(name if name else codec)), ("config", json.dumps(codec.get_config()))]
    return [(k, str(v)) for k, v in items]


def _element_table(codec):
    """(codec whose table lists the element codes, divisor of its values) of a block codec."""
    from .codecs import FP, MX, NVFP4, Int

    if isinstance(codec, MX):
        return (Int(8), 64) if codec.name == "mxint8" else (FP(codec.element), 1)
    if isinstance(codec, NVFP4):
        return FP("e2m1"), 1
    return codec.element_codec, 1


def table(codec, nonnegative: bool = False, name: str | None = None) -> list[str]:
    """The lines of ``fmtlib table``: every code with its bits, class and value; a block codec
    lists its element codes under a line about the block structure."""
    from .codecs import Quantile
    from .sdr import QRazor

    lines = []
    if _is_block(codec):
        lines.append("# " + headline(codec, name))
        if isinstance(codec, QRazor):
            return lines + _sdr_table(codec)
        s = dict(structure(codec))
        lines.append("# element codes below; a value is the element value times its block's scale "
                     f"({s['scale format']})")
        codec, div = _element_table(codec)
        if div != 1:
            lines.append(f"# MXINT8: code k of int8 is the element k/{div}; -128 (0x80) is never written")
    else:
        div = 1
    rows = codec.table()
    if nonnegative:                       # codes with the sign bit clear; a code book's levels >= +0
        v = rows["value"]
        fmt = None if isinstance(codec, Quantile) else getattr(codec, "format", None)   # code books: by level
        if fmt is None:
            rows = rows[(v > 0) | ((v == 0) & ~np.signbit(v))]
        elif fmt.signed:
            rows = rows[rows["code"] < (1 << (fmt.bits - 1))]
    width = max(len(r["bits"]) for r in rows)
    what = (None if isinstance(codec, Quantile) else getattr(codec, "format", None)) or codec.name
    lines.append(f"# {what}: {len(rows[0]['bits'])} bits, {len(rows)} codes shown")
    lines.append(f"{'code':>6}  {'bits':<{width}}  {'class':<9}  value")
    for r in rows:
        cls = r["class"] if "class" in rows.dtype.names else "level"
        lines.append(f"{int(r['code']):#6x}  {r['bits']:<{width}}  {cls:<9}  {_value(r['value'], div, codec)}")
    return lines


def _value(v: float, div: int, codec) -> str:
    """A table value: a code book's level as its shortest float32 text, an integer (over
    ``div``) exactly, a float format's value as Python prints the float64."""
    from .codecs import Int, Quantile

    if v != v:
        return "nan"
    if isinstance(codec, Quantile):
        return repr(np.float32(v)).removeprefix("np.float32(").rstrip(")")
    return exact_text(v / div) if isinstance(codec, Int) else repr(float(v))


def _sdr_table(codec) -> list[str]:
    sdr = codec.sdr
    lines = [f"# SDR codes: sign + {sdr.keep} kept bits k; the value is (-1)^sign k 2^shift (the group's shift) "
             "times the stage-1 scale S", f"{'code':>6}  {'bits':<{sdr.keep + 1}}  value"]
    for c in range(1 << (sdr.keep + 1)):
        k, neg = c & ((1 << sdr.keep) - 1), c >> sdr.keep
        lines.append(f"{c:#6x}  {format(c, f'0{sdr.keep + 1}b')}  {'-' if neg and k else ''}{k} x 2^shift")
    return lines


def catalogue() -> list[str]:
    """The lines of ``fmtlib formats``: every named codec by kind, with its bits and what it is."""
    from .catalog import aliases
    from .recipes import entries

    heads = {"float": "float formats (element codecs: no scale; any eXmY too)",
             "integer": "integers (element codecs: no scale; int<k> and uint<k> for any k)",
             "code book": "code books (element codecs: levels in [-1, 1], no scale; nf<k> for k = 2..8)",
             "block": "block formats (with their own scales)",
             "scaled": "scaled recipes: <element>_row (one scale per row), <element>_b<N> (per block of N); "
                       "those fmtlib compare runs"}
    al, lines, kind = aliases(), [], None
    for e in entries():
        if e["kind"] != kind:
            kind = e["kind"]
            lines += ([""] if lines else []) + [f"# {heads[kind]}"]
        c = e["codec"]
        if kind == "float":
            extra = sorted(a for a, n in al.items() if n == e["name"])
            text = f"{c.bits:>2} bits  max={c.max:<12g} {'aliases: ' + ', '.join(extra) if extra else ''}"
        elif kind == "integer":
            text = f"{c.bits:>2} bits  {c.min}..{c.max}"
        elif kind == "code book":
            text = f"{c.bits:>2} bits  {len(c.levels)} levels, {repr(c)}"
        else:
            text = f"{dict(structure(c))['bits per element']}  {repr(c)}"
        lines.append(f"{e['name']:<12} {text}".rstrip())
    return lines
