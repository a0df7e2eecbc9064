"""Correct rounding of a real number to a code, exactly, for every mode and policy.

Written for clarity: the value is a Fraction, its two neighbours are found from the
binade's quantum, and the mode picks one. The kernels must agree bit for bit.
"""
from __future__ import annotations

import math
from fractions import Fraction

from ..rounding import Overflow, Rounding
from .fields import FloatSpec, read_float
from .values import spec_largest


def _floor_log2(v: Fraction) -> int:
    e = v.numerator.bit_length() - v.denominator.bit_length()
    return e if _pow2(e) <= v else e - 1


def _pow2(e: int) -> Fraction:
    """2**e as a Fraction."""
    return Fraction(1 << e) if e >= 0 else Fraction(1, 1 << -e)


def encode_exact(s: FloatSpec, v: Fraction, negative: bool) -> int:
    """Code of a representable value ``v >= 0`` (with ``negative`` for the sign bit)."""
    if v == 0:
        mag = 0
    else:
        e = max(_floor_log2(v), s.lowest_exp)
        n = v / _pow2(e - s.mbits)  # integer significand at this binade's quantum
        assert n.denominator == 1, "value not representable"
        n = int(n)
        if s.subnormals:
            # E=0 holds 0.M * 2^emin; above, E = e - emin + 1 and n carries the implicit 1.
            mag = ((e - s.lowest_exp) << s.mbits) + n
        else:
            mag = ((e - s.lowest_exp) << s.mbits) + n - (1 << s.mbits)
    sign = s.sign_bit if (negative and not (mag == 0 and s.specials == "fnuz")) else 0
    return sign | mag


def _nan_result(s: FloatSpec, negative: bool) -> int:
    """Code for a NaN input (or a NaN result)."""
    if s.nan is not None:
        if s.specials == "fnuz":
            return s.nan
        return s.nan | (s.sign_bit if negative else 0)
    # No NaN code: ml_dtypes' convention (MX leaves it implementation-defined) is the zero
    # of the opposite sign, since its quiet_NaN() is -0 and it negates for a negative NaN.
    return 0 if negative else s.sign_bit


def _never_grows(mode: Rounding, negative: bool) -> bool:
    """Whether ``mode`` never rounds a value of this sign to a larger magnitude: its overflow
    result is the largest finite value (IEEE 754 section 7.4: round toward zero never makes inf)."""
    if mode in (Rounding.TOWARD_ZERO, Rounding.ODD, Rounding.FLOOR_ON_OVERFLOW):
        return True
    return mode is (Rounding.UP if negative else Rounding.DOWN)


def _overflow_result(s: FloatSpec, negative: bool, mode: Rounding, overflow: Overflow) -> int:
    maxc = s.top | (s.sign_bit if negative else 0)
    if overflow is Overflow.SATURATE or _never_grows(mode, negative):
        return maxc
    if s.inf is not None:
        return s.inf | (s.sign_bit if negative else 0)
    if s.nan is not None:
        return _nan_result(s, negative)
    return maxc


def rounds_up(n_lo: int, frac: Fraction, mode: Rounding, negative: bool, rand: int | None = None,
              rbits: int = 62) -> bool:
    """Whether a magnitude ``(n_lo + frac)`` quanta, 0 < frac < 1, goes to ``n_lo + 1`` quanta.

    The one statement of the rounding modes, shared by the float and integer oracles."""
    if mode in (Rounding.NEAREST_EVEN, Rounding.FLOOR_ON_OVERFLOW):
        return frac > Fraction(1, 2) or (frac == Fraction(1, 2) and n_lo % 2 == 1)
    if mode is Rounding.NEAREST_AWAY:
        return frac >= Fraction(1, 2)
    if mode is Rounding.TOWARD_ZERO:
        return False
    if mode is Rounding.UP:
        return not negative
    if mode is Rounding.DOWN:
        return negative
    if mode is Rounding.ODD:
        return n_lo % 2 == 0
    if mode is Rounding.STOCHASTIC:
        if rand is None or not 0 <= rand < (1 << rbits):
            raise ValueError("stochastic rounding needs rand in [0, 2**rbits)")
        return math.floor(frac * (1 << rbits)) + rand >= (1 << rbits)
    raise AssertionError(mode)  # pragma: no cover - the enum is closed


def round_to_code(
    fmt,
    x: float | Fraction,
    rounding: Rounding | str = Rounding.NEAREST_EVEN,
    overflow: Overflow | str = Overflow.IEEE,
    *,
    rand: int | None = None,
    rbits: int = 62,
    flush: bool = False,
    src=None,
) -> int:
    """The code of ``x`` in ``fmt``, correctly rounded.

    ``x`` is a Python float (any float16/bfloat16/float32/float64 value is one exactly) or a
    Fraction. For ``stochastic``, ``rand`` is the random integer in ``[0, 2**rbits)``: with
    ``F = floor(frac * 2**rbits)`` where ``frac = (|x| - a) / (b - a)``, the result is ``b``
    exactly when ``F + rand >= 2**rbits``. ``flush`` flushes subnormal results to zero and,
    when ``src`` (the input's FloatFormat) is given, subnormal inputs too.
    """
    mode = Rounding.parse(rounding)
    overflow = Overflow.parse(overflow)
    s = read_float(fmt)
    if isinstance(x, float):
        if math.isnan(x):
            return _nan_result(s, math.copysign(1.0, x) < 0)
        negative = math.copysign(1.0, x) < 0
        if math.isinf(x):
            if negative and not s.signed:
                return _negative_unsigned(s, overflow)
            if overflow is Overflow.IEEE and s.inf is not None:
                return s.inf | (s.sign_bit if negative else 0)
            if overflow is Overflow.IEEE and s.nan is not None:
                return _nan_result(s, negative)
            return s.top | (s.sign_bit if negative else 0)
        m = abs(Fraction(x))
    else:
        negative = x < 0
        m = abs(Fraction(x))
    if flush and src is not None:
        t = read_float(src)
        if 0 < m < _pow2(t.lowest_exp) and t.subnormals:
            m = Fraction(0)  # denormals-are-zero on input

    if m == 0:
        if not s.zero:
            if overflow is Overflow.IEEE and s.nan is not None:
                return _nan_result(s, False)
            return 0  # the smallest value stands in for zero
        return encode_exact(s, m, negative)
    if negative and not s.signed:
        return _negative_unsigned(s, overflow)

    smallest_normal = _pow2(s.lowest_exp)
    if not s.subnormals and m < smallest_normal:
        # no zero to round to: clamp to the smallest magnitude, in every mode
        return s.sign_bit if negative else 0
    e = max(_floor_log2(m), s.lowest_exp)
    quantum = _pow2(e - s.mbits)
    n_lo = math.floor(m / quantum)
    lo, hi = n_lo * quantum, (n_lo + 1) * quantum
    frac = (m - lo) / quantum  # in [0, 1)

    v = hi if frac != 0 and rounds_up(n_lo, frac, mode, negative, rand, rbits) else lo

    if flush and 0 < v < smallest_normal:
        v = Fraction(0)
    if v > spec_largest(s):
        return _overflow_result(s, negative, mode, overflow)
    return encode_exact(s, v, negative)


def _negative_unsigned(s: FloatSpec, overflow: Overflow) -> int:
    """A negative number into an unsigned format: NaN (ml_dtypes) or the smallest value."""
    if overflow is Overflow.IEEE and s.nan is not None:
        return s.nan
    return 0
