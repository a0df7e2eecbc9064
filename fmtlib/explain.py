"""``fmtlib explain``: how values become codes, step by step (the teaching tool).

For a float format every number printed comes from the exact oracle (:mod:`fmtlib.reference`):
the two neighbours of the value, their bit fields, the midpoint, and the code each rounding
mode picks. This module is one of the two allowed to import the oracle (docs/oracle.md,
"Independence"): it prints its reasoning for people and produces nothing a kernel is judged
on. For integers and code books the neighbours and every mode's code come from the codec;
block codecs get a worked block (:mod:`fmtlib.explain_blocks`). Every number is exact
(:func:`fmtlib._numtext.exact_text`).

>>> print(explain("e2m1", 0.3))     # doctest: +ELLIPSIS
e2m1: E2M1, 4 bits = 1 sign, 2 exponent, 1 mantissa; bias 1; subnormals; no inf or NaN
input          0.3 (exactly 0.299999999999999988897769753748434595763683319091796875 as float64)
...
nearest_even             0.5          code 0x1  0 00 1
...
>>> print(explain("int8", 3.7))     # doctest: +ELLIPSIS
int8: Int(8): 8-bit two's complement integers -128..127; beyond them it saturates; NaN becomes 0
...
neighbours     3 (code 0x3  00000011)  and  4 (code 0x4  00000100)
...
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ._numtext import decimal, exact_text
from .reference import code_value
from .rounding import Rounding

#: the modes explain lists (stochastic is shown as the probability of rounding up)
MODES = (Rounding.NEAREST_EVEN, Rounding.NEAREST_AWAY, Rounding.TOWARD_ZERO, Rounding.DOWN, Rounding.UP)


def _fields(fmt, code: int) -> str:
    """A code's bits split into sign, exponent and mantissa."""
    bits = format(code, f"0{fmt.bits}b")
    s = 1 if fmt.signed else 0
    parts = ([bits[:s]] if s else []) + [bits[s:s + fmt.ebits]] + ([bits[s + fmt.ebits:]] if fmt.mbits else [])
    return " ".join(p for p in parts if p)


def _num(v) -> str:
    """A value for people, exactly (:func:`fmtlib._numtext.exact_text`)."""
    return exact_text(v if isinstance(v, Fraction) else float(v))


def _val(fmt, code: int) -> str:
    """The value of a code, with the sign of a negative zero."""
    v = _num(code_value(fmt, code))
    return "-0" if v == "0" and fmt.signed and code >> (fmt.bits - 1) else v


def _describe(fmt) -> str:
    sp = {"ieee": "inf and NaN", "fn": "NaN only at the all-ones code, no inf", "fnuz": "NaN at 0x80, no -0, no inf",
          "none": "no inf or NaN"}.get(fmt.specials, fmt.specials)
    sign = "1 sign, " if fmt.signed else "unsigned, "
    sub = "subnormals" if fmt.subnormals else "no subnormals"
    return (f"{fmt.name or fmt.spec_string()}: E{fmt.ebits}M{fmt.mbits}, {fmt.bits} bits = {sign}{fmt.ebits} "
            f"exponent, {fmt.mbits} mantissa; bias {fmt.bias}; {sub}; {sp}")


def _input_line(x: float) -> str:
    return f"input          {x!r} (exactly {decimal(Fraction(x))} as float64)"


def _explain_fp(fmt, x: float, rounding) -> list[str]:
    """How a float64 value rounds into a float format, from the oracle."""
    from .reference import round_to_code
    from .rounding import Overflow

    lines = [_describe(fmt)]
    if math.isnan(x) or math.isinf(x):
        lines.append(f"input          {x}")
        for ovf in (Overflow.IEEE, Overflow.SATURATE):
            c = round_to_code(fmt, x, Rounding.NEAREST_EVEN, ovf)
            lines.append(f"{ovf.name.lower():<14} {_val(fmt, c):<12} code {c:#x}  {_fields(fmt, c)}")
        return lines
    v = Fraction(x)
    lines.append(_input_line(x))
    if v != 0:
        e = math.floor(math.log2(abs(x)))
        while Fraction(2) ** e > abs(v):
            e -= 1
        while Fraction(2) ** (e + 1) <= abs(v):
            e += 1
        emin = 1 - fmt.bias if fmt.subnormals else None
        where = "normal range" if emin is None or e >= emin else "below the smallest normal: the subnormal range"
        q_exp = max(e, 1 - fmt.bias) - fmt.mbits if fmt.subnormals else e - fmt.mbits
        lines.append(f"               = {_num(abs(v) / Fraction(2) ** e)} x 2^{e} ({where}); values here are "
                     f"multiples of 2^{q_exp}")
    lo = round_to_code(fmt, x, Rounding.DOWN, Overflow.SATURATE)
    hi = round_to_code(fmt, x, Rounding.UP, Overflow.SATURATE)
    a, b = code_value(fmt, lo), code_value(fmt, hi)
    if abs(v) > Fraction(fmt.max):
        lines.append(f"range          beyond the largest finite value {_num(Fraction(fmt.max))}: the overflow policy "
                     "decides (ieee: inf, else NaN; saturate: the largest value)")
    elif a == b:
        lines.append(f"exact          {_val(fmt, lo)} is a value of the format (code {lo:#x}  {_fields(fmt, lo)})")
    else:
        lines.append(f"neighbours     {_val(fmt, lo)} (code {lo:#x}  {_fields(fmt, lo)})  and  {_val(fmt, hi)} "
                     f"(code {hi:#x}  {_fields(fmt, hi)})")
        lines += _between(v, Fraction(a), Fraction(b), (Fraction(a) + Fraction(b)) / 2, "midpoint")
    modes = MODES if rounding is None else (Rounding.parse(rounding),)
    for mode in modes:
        if mode is Rounding.STOCHASTIC:
            continue
        for ovf in (Overflow.IEEE, Overflow.SATURATE) if abs(x) > fmt.max else (Overflow.IEEE,):
            c = round_to_code(fmt, x, mode, ovf)
            tag = mode.name.lower() + ("" if abs(x) <= fmt.max else f" ({ovf.name.lower()})")
            lines.append(f"{tag:<24} {_val(fmt, c):<12} code {c:#x}  {_fields(fmt, c)}")
    return lines


def _between(v: Fraction, a: Fraction, b: Fraction, t: Fraction, what: str) -> list[str]:
    """The decision between neighbours a < v < b at t, and the stochastic probability."""
    rel = "above" if v > t else "below" if v < t else "exactly at"
    return [f"{what:<14} {_num(t)}: the input is {rel} it (distance {_num(v - a)} to {_num(a)}, {_num(b - v)} to "
            f"{_num(b)})",
            f"stochastic     rounds up to {_num(b)} with probability {_num((v - a) / (b - a))}"]


def _describe_levels(codec) -> str:
    """One line about an Int or a Quantile codec."""
    from .codecs import Int

    if isinstance(codec, Int):
        f = codec.format
        kind = {"twos_complement": "two's complement", "sign_magnitude": "sign-magnitude"}[f.encoding]
        kind = kind if f.signed else "unsigned"
        ovf = "wraps modulo 2^bits" if codec.overflow.name == "WRAP" else "it saturates"
        return (f"{f}: {codec!r}: {f.bits}-bit {kind} integers {f.min}..{f.max}; beyond them {ovf}; NaN becomes 0"
                + ("" if codec.nan == "ignore" else f" (nan={codec.nan!r})"))
    rule = "bitsandbytes' float32 decision points" if codec.thresholds is not None else "the exact midpoints"
    return (f"{codec.name or 'code book'}: {codec!r}: {codec.bits}-bit codes index {len(codec.levels)} levels in "
            f"[{_num(codec.min)}, {_num(codec.max)}]; {rule} decide; beyond the ends: the end levels; NaN becomes the "
            "level of least magnitude")


def _explain_levels(codec, x: float, rounding) -> list[str]:
    """How a float64 value rounds into an Int or a Quantile, from the codec's own codes."""
    from .codecs import Int

    def code_of(mode) -> int:
        return int(codec.encode(np.float64(x), rounding=mode))

    def val(c: int) -> Fraction:
        return Fraction(float(codec.decode(np.array([c], codec.code_dtype), np.float64)[0]))

    def bits(c: int) -> str:
        return f"code {c:#x}  {format(c, f'0{codec.format.bits if isinstance(codec, Int) else codec.bits}b')}"

    lines = [_describe_levels(codec)]
    if math.isnan(x) or math.isinf(x):
        c = code_of(None)
        return lines + [f"input          {x}", f"{'encodes as':<14} {_num(val(c))} ({bits(c)})"]
    v = Fraction(x)
    lines.append(_input_line(x))
    lo, hi = code_of("down"), code_of("up")
    a, b = val(lo), val(hi)
    top, bottom = Fraction(codec.max), Fraction(codec.min)
    if v > top or v < bottom:
        end = top if v > top else bottom
        lines.append(f"range          beyond the {'largest' if v > top else 'smallest'} value {_num(end)}")
    elif a == b:
        lines.append(f"exact          {_num(a)} is a value of the codec ({bits(lo)})")
    else:
        lines.append(f"neighbours     {_num(a)} ({bits(lo)})  and  {_num(b)} ({bits(hi)})")
        if isinstance(codec, Int) or codec.thresholds is None:
            lines += _between(v, a, b, (a + b) / 2, "midpoint")
        else:
            t = Fraction(codec.thresholds[codec.levels.index(float(a))])
            lines += _between(v, a, b, t, "decision point")
            lines[-2] += "; at it: below"
    modes = MODES if rounding is None else (Rounding.parse(rounding),)
    for mode in modes:
        if mode is Rounding.STOCHASTIC:
            continue
        try:
            c = code_of(mode.name.lower())
        except ValueError:          # a mode this table does not take (thresholds decide ties)
            continue
        lines.append(f"{mode.name.lower():<24} {_num(val(c)):<12} {bits(c)}")
    return lines


def explain(spec, value, rounding: str | None = None) -> str:
    """The text ``fmtlib explain CODEC VALUE...`` prints.

    ``spec``: a codec name (:func:`fmtlib.get`), config or codec; ``value``: a number, or
    several (each is explained in turn; a block codec takes them as one row and works
    through its blocks). ``rounding``: only this mode (element codecs) or the rounding to
    encode with (block codecs).
    """
    from .codecs import FP, Int, Quantile
    from .explain_blocks import worked
    from .registry import get

    codec = get(spec)
    values = [float(v) for v in np.ravel(np.asarray(value, dtype=np.float64))]
    if not values:
        raise ValueError("give at least one value")
    if isinstance(codec, FP):
        parts = [_explain_fp(codec.format, x, rounding) for x in values]
    elif isinstance(codec, (Int, Quantile)):
        parts = [_explain_levels(codec, x, rounding) for x in values]
    else:
        from .describe import headline

        return "\n".join([headline(codec, spec if isinstance(spec, str) else None)] + worked(codec, values, rounding))
    return "\n\n".join("\n".join(p) for p in parts)
