"""Rounding modes and overflow policies, each with its exact meaning.

Strings are accepted wherever an enum is (``rounding="stochastic"``).

>>> Rounding.parse("nearest_even") is Rounding.NEAREST_EVEN
True
"""
from __future__ import annotations

import difflib
import enum


class Rounding(enum.IntEnum):
    """How a value between two neighbours a < x < b becomes one of them.

    "Even"/"odd" refer to the integer significand of the neighbour (the code's last
    mantissa bit; for mbits=0 formats the implicit bit, so a tie goes to the larger power).
    """

    NEAREST_EVEN = 0  #: nearest; ties to the even significand (IEEE 754 default)
    NEAREST_AWAY = 1  #: nearest; ties away from zero (microxcaling "nearest")
    TOWARD_ZERO = 2  #: max{r : |r| <= |x|}, truncation
    DOWN = 3  #: max{r : r <= x}, toward -inf
    UP = 4  #: min{r : r >= x}, toward +inf
    ODD = 5  #: exact, else the neighbour with an odd significand (von Neumann / sticky)
    STOCHASTIC = 6  #: b with probability (x-a)/(b-a): random bits added below the LSB, then truncation
    FLOOR_ON_OVERFLOW = 7  #: nearest-even, but truncate where rounding up would exceed the largest finite value

    @classmethod
    def parse(cls, value: "Rounding | str") -> "Rounding":
        return _parse(cls, value, "rounding")


class Overflow(enum.IntEnum):
    """What a value beyond the largest finite value becomes."""

    SATURATE = 0  #: clamp to ±max finite (PTX ``.satfinite``, OCP MX); inf input -> ±max
    IEEE = 1  #: the format's own behaviour: ±inf if it has inf, else NaN, else ±max (ml_dtypes ``astype``)
    WRAP = 2  #: modulo 2**bits, as integer arithmetic wraps (two's complement and unsigned integers only)

    @classmethod
    def parse(cls, value: "Overflow | str") -> "Overflow":
        return _parse(cls, value, "overflow")


def _parse(cls, value, what):
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        key = value.strip().lower().replace("-", "_")
        for m in cls:
            if m.name.lower() == key:
                return m
        names = [m.name.lower() for m in cls]
        hint = difflib.get_close_matches(key, names, n=2, cutoff=0.5)
        tip = f"; did you mean {' or '.join(repr(h) for h in hint)}?" if hint else ""
        raise ValueError(f"unknown {what} {value!r}{tip} (choose from {', '.join(names)})")
    raise TypeError(f"{what} must be a string or {cls.__name__}, got {type(value).__name__}")


#: Modes whose overflow result is the largest finite value for a value of the given sign
#: (IEEE 754 §7.4: round toward zero never produces inf).
def rounds_toward_zero(mode: Rounding, negative: bool) -> bool:
    """True where ``mode`` never increases the magnitude of a value of this sign."""
    return (
        mode in (Rounding.TOWARD_ZERO, Rounding.ODD, Rounding.FLOOR_ON_OVERFLOW)
        or (mode is Rounding.DOWN and not negative)
        or (mode is Rounding.UP and negative)
    )
