"""Exact format numbers for production code: the value of a code, the largest value, the code
of a representable value, nearest-even rounding of an exact number, the decimal precision,
and the codes the specials policy gives (overflow, inf, NaN).

Layer 1 of DESIGN.md section 6 ("exact format numbers: the helpers production needs"). The
format descriptors, the kernels' constants and the codecs take these numbers from here.
The oracle (:mod:`fmtlib.reference`) never feeds production: it computes the same numbers
its own way, and ``tests/test_oracle_independence.py`` checks that the two agree on every
catalogue format.

A value is an integer significand times a power of two, kept as a ``Fraction``:

>>> from fmtlib.formats import FloatFormat
>>> e2m1 = FloatFormat(2, 1, specials="none")
>>> value(e2m1, 0b0111), value(e2m1, 0b1001), max_value(e2m1), emax(e2m1)
(Fraction(6, 1), Fraction(-1, 2), Fraction(6, 1), 2)
>>> code_of(e2m1, Fraction(3, 2), negative=True)
11
"""
from __future__ import annotations

import math
from fractions import Fraction

from .rounding import Overflow, Rounding, rounds_toward_zero

_INF = float("inf")
_NAN = float("nan")


def _scaled(sig: int, exp: int) -> Fraction:
    """``sig * 2**exp`` as a Fraction, built from ints."""
    return Fraction(sig << exp) if exp >= 0 else Fraction(sig, 1 << -exp)


def _sig_exp(fmt, mag: int) -> tuple[int, int]:
    """(integer significand, exponent of its last bit) of a finite magnitude code.

    Exponent field 0 of a format with subnormals is ``0.M * 2**(1 - bias)``; every other
    field is ``1.M * 2**(E - bias)`` (IEEE 754 section 3.4, with the format's own bias)."""
    e_field, m_field = mag >> fmt.mbits, mag & ((1 << fmt.mbits) - 1)
    if fmt.subnormals and e_field == 0:
        return m_field, 1 - fmt.bias - fmt.mbits
    return (1 << fmt.mbits) | m_field, e_field - fmt.bias - fmt.mbits


def value(fmt, code: int) -> Fraction | float:
    """The exact value of ``code`` in the float format ``fmt``: a Fraction for a number
    (zero is ``Fraction(0)`` whatever its sign), ``±inf`` or ``nan`` for a special.

    >>> from fmtlib.formats import FloatFormat
    >>> value(FloatFormat(4, 3, specials="fn"), 0x7E)
    Fraction(448, 1)
    """
    kind = fmt.classify(code)  # checks the range too
    negative = bool(int(code) & fmt.sign_mask)
    if kind == "nan":
        return _NAN
    if kind == "inf":
        return -_INF if negative else _INF
    v = _scaled(*_sig_exp(fmt, int(code) & ((1 << fmt.mag_bits) - 1)))
    return -v if negative else v


def to_float(fmt, code: int) -> float:
    """The value of ``code`` as a Python float, keeping the sign bit on -0.0 and on NaN
    (exact wherever float64 holds the value; beyond its range, ±inf).

    >>> from fmtlib.formats import FloatFormat
    >>> to_float(FloatFormat(2, 1, specials="none"), 0b1000)
    -0.0
    """
    v = value(fmt, code)
    sign = -1.0 if int(code) & fmt.sign_mask else 1.0
    if isinstance(v, float):
        return math.copysign(v, sign)
    if v == 0:
        return math.copysign(0.0, sign)
    try:
        return float(v)  # int / int division in CPython rounds correctly
    except OverflowError:
        return math.copysign(_INF, v)


def max_value(fmt) -> Fraction:
    """The largest finite value of ``fmt``.

    >>> from fmtlib.formats import FloatFormat
    >>> max_value(FloatFormat(5, 2))
    Fraction(57344, 1)
    """
    return _scaled(*_sig_exp(fmt, fmt.max_code))


def emax(fmt) -> int:
    """``floor(log2(max))``: the exponent of the largest finite value's leading bit.

    >>> from fmtlib.formats import FloatFormat
    >>> emax(FloatFormat(4, 3, specials="fn"))
    8
    """
    sig, exp = _sig_exp(fmt, fmt.max_code)
    return exp + sig.bit_length() - 1


def code_of(fmt, v: Fraction | float, negative: bool = False) -> int:
    """The code of a value ``v >= 0`` that ``fmt`` represents exactly, with the sign bit
    when ``negative`` (none on zero of a "fnuz" format, which has no -0). ValueError where
    ``fmt`` has no such value.

    >>> from fmtlib.formats import FloatFormat
    >>> code_of(FloatFormat(8, 23), Fraction(1, 2))
    1056964608
    """
    v = Fraction(v)
    if v < 0:
        raise ValueError(f"code_of takes a magnitude and a sign, got {v}")
    if v == 0:
        if not fmt.has_zero:
            raise ValueError(f"{fmt} has no zero")
        mag = 0
    else:
        n, d = v.numerator, v.denominator
        if d & (d - 1):
            raise ValueError(f"{v} is not a dyadic number, so no float format holds it")
        lead = n.bit_length() - d.bit_length()   # v = n / 2**k lies in [2**lead, 2**(lead + 1))
        # the quantum at that binade, or at the smallest normal one below it (subnormals)
        low = 1 - fmt.bias if fmt.subnormals else -fmt.bias
        q = max(lead, low) - fmt.mbits
        sig = v / _scaled(1, q)
        if sig.denominator != 1:
            raise ValueError(f"{v} needs more than {fmt.mbits} mantissa bits in {fmt}")
        sig = int(sig)
        if sig >= 1 << fmt.mbits or not fmt.subnormals:   # a normal binade: E = lead + bias
            if lead < low:
                raise ValueError(f"{v} is below the smallest value of {fmt}")
            mag = ((lead + fmt.bias) << fmt.mbits) | (sig - (1 << fmt.mbits))
        else:
            mag = sig
        if mag > fmt.max_code:
            raise ValueError(f"{v} is beyond the largest finite value of {fmt}")
    if not negative or (mag == 0 and fmt.specials == "fnuz"):
        return mag
    if not fmt.signed:
        if mag == 0:
            return 0
        raise ValueError(f"{fmt} is unsigned: it has no -{v}")
    return fmt.sign_mask | mag


def _lead(n: int, d: int) -> int:
    """The exponent of the leading bit of n / d (n, d > 0): 2**lead <= n / d < 2**(lead + 1)."""
    lead = n.bit_length() - d.bit_length()          # the leading bit's exponent, or one more
    return lead - 1 if (n << max(0, -lead)) < (d << max(0, lead)) else lead


def _round_sig(n: int, d: int, q: int) -> int:
    """n / d / 2**q rounded to the nearest integer, ties to even."""
    num, den = (n << -q, d) if q < 0 else (n, d << q)
    k, rem = divmod(num, den)
    return k + 1 if 2 * rem > den or (2 * rem == den and k % 2 == 1) else k


def nearest_finite(fmt, v: Fraction | int) -> Fraction:
    """``v >= 0`` rounded to the nearest finite value of ``fmt``, ties to the even significand,
    saturating at the largest (any format: without subnormals, the smallest normal is the
    least value).

    >>> from fmtlib.formats import FloatFormat
    >>> nearest_finite(FloatFormat(8, 7), Fraction(1, 100))
    Fraction(41, 4096)
    """
    v = Fraction(v)
    if v < 0:
        raise ValueError(f"nearest_finite rounds values >= 0, got {v}")
    top = max_value(fmt)
    if v >= top:
        return top
    if v == 0:
        return Fraction(0) if fmt.has_zero else _scaled(1, fmt.emin)
    lead = _lead(v.numerator, v.denominator)
    if not fmt.subnormals and lead < fmt.emin:
        return _scaled(1, fmt.emin)
    q = max(lead, fmt.emin) - fmt.mbits              # the quantum's exponent
    return _scaled(_round_sig(v.numerator, v.denominator, q), q)


def decimal_precision(fmt) -> int:
    """Decimal digits the significand holds: ``floor(mbits * log10(2))``, as ``numpy.finfo``
    computes ``precision`` (``int(-log10(eps))``), here in integers: the largest p with
    ``10**p <= 2**mbits``.

    >>> from fmtlib.formats import FloatFormat
    >>> decimal_precision(FloatFormat(8, 23)), decimal_precision(FloatFormat(4, 3))
    (6, 0)
    """
    p = 0
    while 10 ** (p + 1) <= 1 << fmt.mbits:
        p += 1
    return p


def nearest_even(fmt, v: Fraction | int) -> Fraction | float:
    """``v`` rounded to the nearest value of ``fmt``, ties to the even significand, with IEEE
    overflow (±inf): the exact result as a Fraction, or a float ±inf. ``fmt`` has
    subnormals and inf (fp32, bf16, fp16, ...). A result of zero is ``Fraction(0)``.

    >>> from fmtlib.formats import FloatFormat
    >>> nearest_even(FloatFormat(8, 23), Fraction(1, 3))
    Fraction(11184811, 33554432)
    """
    if not (fmt.subnormals and fmt.has_inf):
        raise ValueError(f"nearest_even rounds to IEEE-style formats with subnormals and inf, not {fmt}")
    v = Fraction(v)
    if v == 0:
        return Fraction(0)
    n, d = abs(v.numerator), v.denominator
    q = max(_lead(n, d), 1 - fmt.bias) - fmt.mbits   # the quantum's exponent
    r = _scaled(_round_sig(n, d, q), q)
    if r > max_value(fmt):
        return -_INF if v < 0 else _INF
    return -r if v < 0 else r


def nan_result(fmt, negative: bool) -> int:
    """The code a NaN (of either sign) becomes: the format's NaN with that sign ("fnuz": its
    one NaN); without a NaN, the zero of the opposite sign, as ml_dtypes does (its
    ``quiet_NaN()`` is -0, negated for a negative NaN).

    >>> from fmtlib.formats import FloatFormat
    >>> nan_result(FloatFormat(2, 1, specials="none"), False)
    8
    """
    sign = fmt.sign_mask
    if fmt.has_nan:
        return fmt.nan_code if fmt.specials == "fnuz" or not negative else fmt.nan_code | sign
    return 0 if negative else sign


def inf_result(fmt, negative: bool, overflow: Overflow | str = Overflow.IEEE) -> int:
    """The code ±inf becomes: under ``ieee`` overflow the format's inf, else its NaN, else its
    largest value; under ``saturate`` the largest value. -inf in an unsigned format is NaN
    (``ieee``, where there is one) or code 0.

    >>> from fmtlib.formats import FloatFormat
    >>> e4m3fn = FloatFormat(4, 3, specials="fn")
    >>> inf_result(e4m3fn, True), inf_result(e4m3fn, True, "saturate")
    (255, 254)
    """
    overflow = Overflow.parse(overflow)
    if negative and not fmt.signed:
        return fmt.nan_code if overflow is Overflow.IEEE and fmt.has_nan else 0
    sign = fmt.sign_mask if negative else 0
    if overflow is Overflow.IEEE and fmt.has_inf:
        return fmt.inf_code | sign
    if overflow is Overflow.IEEE and fmt.has_nan:
        return nan_result(fmt, negative)
    return fmt.max_code | sign


def overflow_result(fmt, negative: bool, rounding: Rounding | str, overflow: Overflow | str) -> int:
    """The code of a finite value of this sign that rounds beyond the largest finite value:
    the largest value where ``overflow`` saturates or the mode never grows a magnitude
    (IEEE 754 section 7.4), else what inf becomes under ``ieee`` overflow.

    >>> from fmtlib.formats import FloatFormat
    >>> e5m2 = FloatFormat(5, 2)
    >>> overflow_result(e5m2, False, "nearest_even", "ieee"), overflow_result(e5m2, False, "toward_zero", "ieee")
    (124, 123)
    """
    mode, overflow = Rounding.parse(rounding), Overflow.parse(overflow)
    if overflow is Overflow.SATURATE or rounds_toward_zero(mode, negative):
        return fmt.max_code | (fmt.sign_mask if negative else 0)
    return inf_result(fmt, negative, Overflow.IEEE)


__all__ = ["value", "to_float", "max_value", "emax", "code_of", "nearest_even", "nan_result", "inf_result",
           "overflow_result"]
