"""Exact numbers for people: the one rule ``fmtlib explain``, ``info`` and ``table`` print by.

A number is its exact decimal when that is short (at most 20 significant characters);
otherwise its exact fraction (``n/2^k`` for a dyadic one, ``m*2^e`` for a large integer),
followed by ``(≈...)``, six significant digits that say it is approximate. Never float
noise such as ``0.01874999999999999``.

>>> exact_text(Fraction(0.3) - Fraction(0.28125))      # e4m3fn: 0.3 is 0.28125 + this
'337769972052787/2^54 (≈0.01875)'
>>> exact_text(Fraction(3, 160)), exact_text(2.0 ** -9), exact_text(Fraction(1, 3)), exact_text(-0.0)
('0.01875', '0.001953125', '1/3 (≈0.333333)', '-0')
"""
from __future__ import annotations

import math
from fractions import Fraction

#: the longest exact decimal printed as it is
MAX_DIGITS = 20


def decimal(v: Fraction) -> str | None:
    """The exact decimal of ``v``, or None if it does not terminate (a factor other than 2 and
    5 in the denominator)."""
    den, twos, fives = v.denominator, 0, 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    if den != 1:
        return None
    k = max(twos, fives)
    digits = str(abs(v.numerator) * 10 ** k // v.denominator).rjust(k + 1, "0")
    text = digits if k == 0 else (digits[:-k] + "." + digits[-k:]).rstrip("0").rstrip(".")
    return ("-" if v < 0 else "") + text


def _fraction(v: Fraction) -> str:
    num, den = v.numerator, v.denominator
    if den == 1:
        tz = (num & -num).bit_length() - 1
        return f"{num >> tz}*2^{tz}"
    k = den.bit_length() - 1
    return f"{num}/2^{k}" if den == 1 << k else f"{num}/{den}"


def exact_text(v) -> str:
    """``v`` (a float, an int or a Fraction) as the module docstring says; ``-0`` keeps its sign."""
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if v == 0:
            return "-0" if math.copysign(1.0, v) < 0 else "0"
    f = Fraction(v)
    text = decimal(f)
    if text is not None and len(text.lstrip("-").replace(".", "").lstrip("0")) <= MAX_DIGITS:
        return text
    return f"{_fraction(f)} (≈{float(f):.6g})"
