"""Exact value of every code of a :class:`~fmtlib.formats.FloatFormat`."""
from __future__ import annotations

import math
from fractions import Fraction

_INF = float("inf")
_NAN = float("nan")


def code_value(fmt, code: int) -> Fraction | float:
    """The exact value of ``code``: a Fraction for numbers, ``±inf`` or ``nan`` otherwise.

    Zero comes back as ``Fraction(0)`` whatever its sign; see :func:`code_to_float`.

    >>> from fmtlib import get_format
    >>> code_value(get_format("e4m3fn"), 0x7E)
    Fraction(448, 1)
    """
    cls = fmt.classify(code)  # validates the range
    neg = bool(code & fmt.sign_mask)
    if cls == "nan":
        return _NAN
    if cls == "inf":
        return -_INF if neg else _INF
    mag = code & ((1 << fmt.mag_bits) - 1)
    E = mag >> fmt.mbits
    M = mag & ((1 << fmt.mbits) - 1)
    if cls in ("zero", "subnormal"):
        # 0.M * 2**(1 - bias)
        v = Fraction(M, 1 << fmt.mbits) * Fraction(2) ** (1 - fmt.bias)
    else:
        # 1.M * 2**(E - bias); with subnormals=False, E = 0 is a normal binade too.
        v = (1 + Fraction(M, 1 << fmt.mbits)) * Fraction(2) ** (E - fmt.bias)
    return -v if neg else v


def code_to_float(fmt, code: int) -> float:
    """The value of ``code`` as a Python float (exact when float64 can hold it); the sign
    bit is kept on -0.0 and on NaN."""
    v = code_value(fmt, code)
    neg = bool(code & fmt.sign_mask)
    if isinstance(v, float):
        return math.copysign(v, -1.0) if neg else v  # NaN keeps its sign bit
    if v == 0:
        return -0.0 if neg else 0.0
    return float(v) if abs(v) < Fraction(2) ** 1024 else math.copysign(_INF, v)


def all_values(fmt) -> list[tuple[int, Fraction | float, str]]:
    """Every code of ``fmt`` as ``(code, exact value, class)``."""
    return [(c, code_value(fmt, c), fmt.classify(c)) for c in range(fmt.num_codes)]
