"""Exact value of every code of a float format, from its defining fields.

>>> from fmtlib import get_format
>>> largest(get_format("e5m2")), code_value(get_format("e2m1"), 0b1011)
(Fraction(57344, 1), Fraction(-3, 2))
"""
from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

from .fields import FloatSpec, kind, read_float

_INF = float("inf")
_NAN = float("nan")


def spec_value(s: FloatSpec, code: int) -> Fraction | float:
    """:func:`code_value` of a :class:`~fmtlib.reference.fields.FloatSpec`."""
    cls = kind(s, code)  # validates the range
    neg = bool(code & s.sign_bit)
    if cls == "nan":
        return _NAN
    if cls == "inf":
        return -_INF if neg else _INF
    mag = code & ((1 << (s.ebits + s.mbits)) - 1)
    E = mag >> s.mbits
    M = mag & ((1 << s.mbits) - 1)
    if cls in ("zero", "subnormal"):
        # 0.M * 2**(1 - bias)
        v = Fraction(M, 1 << s.mbits) * Fraction(2) ** (1 - s.bias)
    else:
        # 1.M * 2**(E - bias); with subnormals=False, E = 0 is a normal binade too.
        v = (1 + Fraction(M, 1 << s.mbits)) * Fraction(2) ** (E - s.bias)
    return -v if neg else v


def code_value(fmt, code: int) -> Fraction | float:
    """The exact value of ``code``: a Fraction for numbers, ``±inf`` or ``nan`` otherwise.

    Zero comes back as ``Fraction(0)`` whatever its sign; see :func:`code_to_float`.

    >>> from fmtlib import get_format
    >>> code_value(get_format("e4m3fn"), 0x7E)
    Fraction(448, 1)
    """
    return spec_value(read_float(fmt), code)


@lru_cache(maxsize=None)
def spec_largest(s: FloatSpec) -> Fraction:
    """:func:`largest` of a FloatSpec."""
    return spec_value(s, s.top)


def largest(fmt) -> Fraction:
    """The largest finite value of ``fmt``."""
    return spec_largest(read_float(fmt))


def code_to_float(fmt, code: int) -> float:
    """The value of ``code`` as a Python float (exact when float64 can hold it); the sign
    bit is kept on -0.0 and on NaN."""
    s = read_float(fmt)
    v = spec_value(s, code)
    neg = bool(code & s.sign_bit)
    if isinstance(v, float):
        return math.copysign(v, -1.0) if neg else v  # NaN keeps its sign bit
    if v == 0:
        return -0.0 if neg else 0.0
    return float(v) if abs(v) < Fraction(2) ** 1024 else math.copysign(_INF, v)


def all_values(fmt) -> list[tuple[int, Fraction | float, str]]:
    """Every code of ``fmt`` as ``(code, exact value, class)``."""
    s = read_float(fmt)
    return [(c, spec_value(s, c), kind(s, c)) for c in range(1 << s.width)]
