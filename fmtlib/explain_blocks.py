"""A worked block: how a block codec (MX, NVFP4, Scaled, QRazor) encodes a few values.

The codes, scales and results are the codec's own (``encode`` and ``quantize``); this module
only reads them back and prints every number exactly (:func:`fmtlib._numtext.exact_text`).

>>> from fmtlib import MX
>>> print("\\n".join(worked(MX("mxfp4"), [0.1, -1.0, 3.0, 12.0])))
values         13421773/2^27 (≈0.1) -1 3 12 (rounded to float32 first; 4 of a block of 32: the same as padding with zeros)
amax           12
scale          2 = 2^(floor(log2 amax) - 2) (e8m0 code 0x80; 2 is the emax of e2m1)
element x                    x / scale             code element value decoded
0       13421773/2^27 (≈0.1) 13421773/2^28 (≈0.05) 0x0  0             0
1       -1                   -0.5                  0x9  -0.5          -1
2       3                    1.5                   0x3  1.5           3
3       12                   6                     0x7  6             12
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ._numtext import exact_text


def table(rows: list[list]) -> list[str]:
    """Rows of cells, left-aligned in columns as wide as their widest cell."""
    cells = [[str(c) for c in r] for r in rows]
    width = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    return [" ".join(c.ljust(w) for c, w in zip(r, width)).rstrip() for r in cells]


def _elements(codes, elem_values, decoded, x, quotients=None, start: int = 0) -> list[list[str]]:
    rows = [["element", "x"] + (["x / scale"] if quotients is not None else []) + ["code", "element value",
                                                                                     "decoded"]]
    for i, (c, ev, d, v) in enumerate(zip(codes, elem_values, decoded, x)):
        q = [exact_text(quotients[i])] if quotients is not None else []
        rows.append([start + i, exact_text(float(v))] + q + [f"{int(c):#x}", exact_text(float(ev)),
                                                             exact_text(float(d))])
    return rows


def _pow2_scale(code: int, emax: int, elem: str, rule: str) -> tuple[Fraction | None, str]:
    if code == 0xFF:
        return None, "NaN (e8m0 code 0xff): the block holds an inf or NaN and decodes to NaN"
    s = Fraction(2) ** (code - 127)
    how = f"2^(floor(log2 amax) - {emax})" if rule == "floor" else f"by scale rule {rule!r} (docs/mx.md)"
    return s, f"{exact_text(s)} = {how} (e8m0 code {code:#x}; {emax} is the emax of {elem})"


def _mx(codec, x, enc, q, start) -> tuple[list, list]:
    from .codecs import FP

    code = int(enc.scales.reshape(-1)[0])
    elem = codec.element
    if codec.name == "mxint8":
        ev = enc.codes.reshape(-1).astype(np.int8).astype(np.float64) / 64
        emax, ename = 0, "int8/64"
    else:
        ev = FP(elem).decode(enc.codes.reshape(-1), np.float64)
        emax, ename = elem.emax, elem.name
    s, text = _pow2_scale(code, emax, ename, codec.scale_rule)
    quot = None if s is None else [Fraction(float(v)) / s for v in x]
    return [("scale", text)], _elements(enc.codes.reshape(-1), ev, q, x, quot, start)


def _float_scale(codec, enc, x) -> tuple[Fraction | None, list[tuple[str, str]]]:
    """(effective scale, fields) of a Scaled codec with a float scale format."""
    from . import exact

    fmt = codec.scale_format
    code = int(enc.scales.reshape(-1)[0])
    v = exact.value(fmt, code)
    if not isinstance(v, Fraction):
        return None, [("scale", f"NaN ({fmt} code {code:#x}): the block holds an inf or NaN and decodes to NaN")]
    over_g = " / G" if codec.global_scale else ""
    lines = [("scale", f"{exact_text(v)} = {fmt}(amax / {exact_text(codec.element_max)}{over_g}), rounded to "
                       f"nearest even ({fmt} code {code:#x})")]
    if codec.global_scale:
        sig, exp = codec._g_sig_exp(enc.tensor_amax)
        g = Fraction(sig) * Fraction(2) ** exp
        d = Fraction(float(np.float32(float(v)) * np.float32(float(g))))     # one float32 rounding
        lines.append(("tensor scale", f"G = {exact_text(g)} = fl32(tensor amax {exact_text(enc.tensor_amax)} / "
                                      f"({exact_text(codec.element_max)} x {exact_text(fmt.max)})); the block's "
                                      f"scale is fl32(scale x G) = {exact_text(d)}"))
        v = d
    return v, lines


def _scaled(codec, x, enc, q, start) -> tuple[list, list]:
    from .codecs import Quantile

    codes = enc.codes.reshape(-1)
    elem = codec.element_codec
    ev = elem.decode(codes, np.float64)
    if isinstance(elem, Quantile):
        from .codecs.codebook_scaled import double_dequantize

        if codec.double_quant:
            s = double_dequantize(enc.scales, enc.scale_scales, enc.scale_offset).reshape(-1)[0]
            how = f"the block's absmax, double-quantized (8-bit code {int(enc.scales.reshape(-1)[0]):#x})"
        else:
            s = np.asarray(enc.scales, np.uint32).view(np.float32).reshape(-1)[0]
            how = "the block's absmax (float32)" if codec.scale_mode == "absmax" else "fl32(amax)"
        rule = ("y = fl32(x * fl32(1 / absmax)) (a short block: fl32(x / absmax)), then the level bitsandbytes' "
                "decision points pick" if codec.scale_mode == "absmax" else "the level of x / scale, rounded once")
        return ([("scale", f"{exact_text(float(s))}: {how}"), ("elements", f"{rule}; decoded = fl32(level x scale)")],
                _elements(codes, ev, q, x, None, start))
    if codec._pow2:
        s, text = _pow2_scale(int(enc.scales.reshape(-1)[0]), codec._pow2_params()[1], str(codec.element),
                              codec.scale_rule)
        lines = [("scale", text)]
    else:
        s, lines = _float_scale(codec, enc, x)
    quot = None if s is None else [Fraction(float(v)) / s for v in x]
    return lines, _elements(codes, ev, q, x, quot, start)


def _nvfp4(codec, x, enc, q, start) -> tuple[list, list]:
    from . import exact
    from .codecs import FP

    code = int(enc.scales.reshape(-1)[0])
    s = exact.value(codec.scale_format, code)
    ev = FP("e2m1").decode(enc.codes.reshape(-1), np.float64)
    g, _ = codec._global(enc.tensor_amax if codec.global_scale else None)
    te = codec.recipe == "te"
    per = (" x S_enc" if te else " / P") if codec.global_scale else ""
    lines = [("scale", f"{exact_text(s if isinstance(s, Fraction) else float(s))} (ue4m3, stored as e4m3fn code "
                       f"{code:#x}): amax / 6{per} in float32, rounded to e4m3")]
    if codec.global_scale:
        name, how = ("S_enc", "2688 / tensor amax") if te else ("P", "tensor amax / 2688")
        lines.append(("tensor scale", f"{name} = {exact_text(float(g))} = fl32({how}), tensor amax "
                                      f"{exact_text(enc.tensor_amax)} (recipe {codec.recipe!r})"))
    if te:
        quot = "x x S_enc / scale" if codec.global_scale else "x / scale"
    elif codec._kernel_recipe(g) == 2:  # torchao 0.18: the float32 reciprocal
        quot = "x x fl32(fl32(1 / P) / scale)" if codec.global_scale else "x x fl32(1 / scale)"
    else:
        quot = "x / (scale x P)" if codec.global_scale else "x / scale"
    lines.append(("elements", f"e2m1 of {quot}, computed in float32 as the {codec.recipe} recipe does "
                              "(docs/nvfp4.md)"))
    return lines, _elements(enc.codes.reshape(-1), ev, q, x, None, start)


def _qrazor(codec, x) -> tuple[list, list]:
    ints, scales = codec.integers(x.reshape(1, -1))
    rec = codec.sdr.encode(ints)
    razored = codec.sdr.decode(rec, dtype=np.int32).reshape(-1)
    q = codec.quantize(x.reshape(1, -1)).reshape(-1)
    s = float(scales.reshape(-1)[0])
    bmax = codec.sdr.base.format.max
    lines = [("stage 1", f"scale S = fl32(amax / {bmax}) = {exact_text(s)}; integers = x / S rounded to "
                         f"{codec.sdr.base!r}"),
             ("stage 2", f"SDR: groups of {codec.sdr.group} keep sign + {codec.sdr.keep} bits from the group's "
                         f"leading one; shifts (flags) {rec.flags.reshape(-1).tolist()}")]
    rows = [["element", "x", "integer", "code", "razored", "decoded"]]
    for i, v in enumerate(x):
        rows.append([i, exact_text(float(v)), int(ints.reshape(-1)[i]), f"{int(rec.codes.reshape(-1)[i]):#x}",
                     int(razored[i]), exact_text(float(q[i]))])
    return lines, rows


@dataclass
class Block:
    """One block worked through: labelled ``fields`` (values, amax, scale, ...) and ``rows``,
    a table with a header and one row per element (index, x, ..., decoded), all exact text."""

    fields: list[tuple[str, str]]
    rows: list[list[str]]
    values: np.ndarray          #: the block's input values, as float32
    start: int                  #: the index of its first element in the row

    def lines(self) -> list[str]:
        return [f"{k:<14} {v}" for k, v in self.fields] + table(self.rows)


def blocks(codec, values, rounding=None) -> list[Block]:
    """``values`` worked through as one row of a tensor: one :class:`Block` per block (one for
    QRazor, whose scale spans the row)."""
    from .codecs import MX, NVFP4, Scaled
    from .sdr import QRazor

    x = np.asarray(values, dtype=np.float32).reshape(-1)
    if x.size == 0:
        raise ValueError("give at least one value")
    opts = {} if rounding is None else {"rounding": rounding}
    if isinstance(codec, QRazor):
        if rounding is not None:
            raise ValueError("QRazor rounds as its SDR codec says; it takes no rounding option here")
        head = [("values", f"{' '.join(exact_text(float(v)) for v in x)} (rounded to float32 first; one tensor "
                           f"of {x.size})"), ("amax", exact_text(float(np.abs(x[np.isfinite(x)]).max(initial=0))))]
        fields, rows = _qrazor(codec, x)
        return [Block(head + fields, rows, x, 0)]
    block = getattr(codec, "block", None) or x.size
    enc = codec.encode(x.reshape(1, -1), **opts)          # the whole row at once: one tensor amax
    q = codec.quantize(x.reshape(1, -1), **opts).reshape(-1)
    out = []
    for b, start in enumerate(range(0, x.size, block)):
        stop = min(start + block, x.size)
        xb, eb = x[start:stop], _block_record(enc, b, start, stop)
        span = (f"{xb.size} of a block of {block}: the same as padding with zeros" if xb.size < block else
                f"elements {start}..{stop - 1}" if x.size > block else "one block")
        if getattr(codec, "block", 0) is None:
            span = "one row: one scale for all of it"
        finite = np.isfinite(xb)
        head = [("values", f"{' '.join(exact_text(float(v)) for v in xb)} (rounded to float32 first; {span})"),
                ("amax", exact_text(float(np.abs(xb[finite]).max(initial=0)))
                 + ("" if finite.all() else f" over the finite values; the block holds {int((~finite).sum())} inf/NaN"))]
        if isinstance(codec, MX):
            fields, rows = _mx(codec, xb, eb, q[start:stop], start)
        elif isinstance(codec, NVFP4):
            fields, rows = _nvfp4(codec, xb, eb, q[start:stop], start)
        elif isinstance(codec, Scaled):
            fields, rows = _scaled(codec, xb, eb, q[start:stop], start)
        else:
            raise TypeError(f"no worked block for {type(codec).__name__}")
        out.append(Block(head + fields, rows, xb, start))
    return out


def worked(codec, values, rounding=None) -> list[str]:
    """Lines that work through ``values`` as one row of a tensor (a block, or a few blocks)."""
    out: list[str] = []
    for b in blocks(codec, values, rounding):
        out += ([""] if out else []) + b.lines()
    return out


def _block_record(enc, b: int, start: int, stop: int):
    """The part of a one-row record that block ``b`` (elements start..stop-1) owns."""
    import dataclasses

    return dataclasses.replace(enc, codes=enc.codes[:, start:stop], scales=enc.scales[:, b:b + 1])
