"""Correct rounding of a real number to an integer code, exactly, for every mode and policy.

>>> from fmtlib.integers import IntFormat
>>> round_to_int_code(IntFormat(8), 2.5), round_to_int_code(IntFormat(8), -200.0)
(2, 128)
"""
from __future__ import annotations

import math
from fractions import Fraction

from ..rounding import Overflow, Rounding


def round_to_int(x: Fraction, mode: Rounding, *, rand: int | None = None, rbits: int = 62) -> int:
    """``x`` rounded to an integer by ``mode`` (the same rules as for floats, quantum 1)."""
    n_lo = math.floor(x)
    frac = x - n_lo
    if frac == 0:
        return n_lo
    negative = x < 0
    # work on the magnitude so that "toward zero" and ties are about |x|
    m = abs(x)
    lo = math.floor(m)
    f = m - lo
    if mode in (Rounding.NEAREST_EVEN, Rounding.FLOOR_ON_OVERFLOW):
        up = f > Fraction(1, 2) or (f == Fraction(1, 2) and lo % 2 == 1)
    elif mode is Rounding.NEAREST_AWAY:
        up = f >= Fraction(1, 2)
    elif mode is Rounding.TOWARD_ZERO:
        up = False
    elif mode is Rounding.UP:
        up = not negative
    elif mode is Rounding.DOWN:
        up = negative
    elif mode is Rounding.ODD:
        up = lo % 2 == 0
    elif mode is Rounding.STOCHASTIC:
        if rand is None or not 0 <= rand < (1 << rbits):
            raise ValueError("stochastic rounding needs rand in [0, 2**rbits)")
        up = math.floor(f * (1 << rbits)) + rand >= (1 << rbits)
    else:  # pragma: no cover
        raise AssertionError(mode)
    n = lo + 1 if up else lo
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
    if isinstance(x, float):
        if math.isnan(x):
            return 0
        if math.isinf(x):
            return fmt.code(fmt.max if x > 0 else fmt.min)
    v = round_to_int(Fraction(x), mode, rand=rand, rbits=rbits)
    if mode is Rounding.FLOOR_ON_OVERFLOW and not fmt.min <= v <= fmt.max:
        v = round_to_int(Fraction(x), Rounding.TOWARD_ZERO)
    if fmt.min <= v <= fmt.max:
        return fmt.code(v)
    if overflow is Overflow.WRAP:
        return v % (1 << fmt.bits)
    return fmt.code(fmt.max if v > fmt.max else fmt.min)
