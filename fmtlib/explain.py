"""``fmtlib explain``: how one value becomes a code, step by step (the teaching tool).

Every number printed comes from the exact oracle (:mod:`fmtlib.reference`): the two
neighbours of the value, their bit fields, the midpoint, and the code each rounding mode
picks. This module is one of the two allowed to import the oracle (docs/oracle.md,
"Independence"): it prints its reasoning for people and produces nothing a kernel is judged on.

>>> print(explain("e2m1", 0.3))     # doctest: +ELLIPSIS
e2m1: E2M1, 4 bits = 1 sign, 2 exponent, 1 mantissa; bias 1; subnormals; no inf or NaN
input          0.3 (exactly 0.299999999999999988897769753748434595763683319091796875 as float64)
...
nearest_even             0.5          code 0x1  0 00 1
...
"""
from __future__ import annotations

import math
from fractions import Fraction

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


def _exact(v: Fraction) -> str:
    """A dyadic rational as a finite decimal."""
    if v.denominator == 1:
        return str(v.numerator)
    k = v.denominator.bit_length() - 1          # v = n / 2**k: exactly k decimals
    digits = abs(v.numerator) * 5 ** k
    s = str(digits).rjust(k + 1, "0")
    return ("-" if v < 0 else "") + s[:-k] + "." + s[-k:].rstrip("0")


def _num(v) -> str:
    """A value for people: the exact decimal when short, else the nearest float64."""
    if isinstance(v, Fraction):
        text = _exact(v)
        return text if len(text) <= 24 else f"{float(v)!r}"
    return repr(float(v)) if v == v else "nan"


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


def explain(fmt_name: str, value: float, rounding: str | None = None) -> str:
    """The text ``fmtlib explain FMT VALUE`` prints for a float format."""
    from .catalog import parse_format
    from .reference import round_to_code
    from .rounding import Overflow

    fmt = parse_format(fmt_name)
    x = float(value)
    lines = [_describe(fmt)]
    if math.isnan(x) or math.isinf(x):
        lines.append(f"input          {x}")
        for ovf in (Overflow.IEEE, Overflow.SATURATE):
            c = round_to_code(fmt, x, Rounding.NEAREST_EVEN, ovf)
            lines.append(f"{ovf.name.lower():<14} {_val(fmt, c):<12} code {c:#x}  {_fields(fmt, c)}")
        return "\n".join(lines)
    v = Fraction(x)
    lines.append(f"input          {x!r} (exactly {_exact(v)} as float64)")
    if v != 0:
        e = math.floor(math.log2(abs(x)))
        while Fraction(2) ** e > abs(v):
            e -= 1
        while Fraction(2) ** (e + 1) <= abs(v):
            e += 1
        emin = 1 - fmt.bias if fmt.subnormals else None
        where = "normal range" if emin is None or e >= emin else "below the smallest normal: the subnormal range"
        q_exp = max(e, 1 - fmt.bias) - fmt.mbits if fmt.subnormals else e - fmt.mbits
        lines.append(f"               = {float(abs(v) / Fraction(2) ** e)!r} x 2^{e} ({where}); values here are "
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
        mid = (Fraction(a) + Fraction(b)) / 2
        rel = "above" if v > mid else "below" if v < mid else "exactly at"
        lines.append(f"midpoint       {_num(mid)}: the input is {rel} it (distance {_num(v - Fraction(a))} to "
                     f"{_num(a)}, {_num(Fraction(b) - v)} to {_num(b)})")
        p = (v - Fraction(a)) / (Fraction(b) - Fraction(a))
        lines.append(f"stochastic     rounds up to {_num(b)} with probability {float(p):.6g}")
    modes = MODES if rounding is None else (Rounding.parse(rounding),)
    for mode in modes:
        if mode is Rounding.STOCHASTIC:
            continue
        for ovf in (Overflow.IEEE, Overflow.SATURATE) if abs(x) > fmt.max else (Overflow.IEEE,):
            c = round_to_code(fmt, x, mode, ovf)
            tag = mode.name.lower() + ("" if abs(x) <= fmt.max else f" ({ovf.name.lower()})")
            lines.append(f"{tag:<24} {_val(fmt, c):<12} code {c:#x}  {_fields(fmt, c)}")
    return "\n".join(lines)
