"""Correct rounding of a real number to an integer code, exactly, for every mode and policy.

>>> from fmtlib.integers import IntFormat
>>> round_to_int_code(IntFormat(8), 2.5), round_to_int_code(IntFormat(8), -200.0)
(2, 128)
"""
from __future__ import annotations

import math
from fractions import Fraction

from ..rounding import Overflow, Rounding
from .fields import int_code, read_int
from .rounding import rounds_up


def round_to_int(x: Fraction, mode: Rounding, *, rand: int | None = None, rbits: int = 62) -> int:
    """``x`` rounded to an integer by ``mode`` (the float rules with quantum 1)."""
    negative = x < 0
    m = abs(x)  # "toward zero", ties and parity are about the magnitude
    lo = math.floor(m)
    frac = m - lo
    n = lo + 1 if frac != 0 and rounds_up(lo, frac, mode, negative, rand, rbits) else lo
    return -n if negative else n


def round_to_int_code(
    fmt,
    x: float | Fraction,
    rounding: Rounding | str = Rounding.NEAREST_EVEN,
    overflow: Overflow | str = Overflow.SATURATE,
    *,
    rand: int | None = None,
    rbits: int = 62,
) -> int:
    """The code of ``x`` in the integer format ``fmt``.

    NaN gives 0; ±inf gives the largest/smallest value under either policy. A value out of
    range saturates to ``fmt.max``/``fmt.min`` or, with ``overflow='wrap'``, wraps modulo
    ``2**bits``. ``floor_on_overflow`` truncates where rounding to nearest would leave the range.
    """
    mode = Rounding.parse(rounding)
    overflow = Overflow.parse(overflow)
    s = read_int(fmt)
    if isinstance(x, float):
        if math.isnan(x):
            return 0
        if math.isinf(x):
            return int_code(s, s.hi if x > 0 else s.lo)
    v = round_to_int(Fraction(x), mode, rand=rand, rbits=rbits)
    if mode is Rounding.FLOOR_ON_OVERFLOW and not s.lo <= v <= s.hi:
        v = round_to_int(Fraction(x), Rounding.TOWARD_ZERO)
    if s.lo <= v <= s.hi:
        return int_code(s, v)
    if overflow is Overflow.WRAP:
        return v % (1 << s.bits)
    return int_code(s, s.hi if v > s.hi else s.lo)
