"""How the oracle reads a format: the fields its constructor takes, and nothing else.

A float format is ``ebits, mbits, bias, signed, subnormals, specials``; an integer format is
``bits, signed, narrow, encoding``. The oracle reads those from the object it is given (a
:class:`~fmtlib.FloatFormat`, an :class:`~fmtlib.IntFormat`, or anything with the same
fields) in this module only, and works out every other number itself from the rules
(docs/specials.md): the sign bit, the NaN and inf codes, the largest finite code, the
smallest normal exponent. Nothing here comes from :mod:`fmtlib.formats`, so a slip in a
descriptor's derived properties cannot be shared by a kernel and its judge
(DESIGN.md section 6, "the oracle sits beside").

>>> from fmtlib import get_format
>>> s = read_float(get_format("e4m3fn"))
>>> s.top, s.nan, s.inf, s.lowest_exp, kind(s, 0x7F), kind(s, 0x01)
(126, 127, None, -6, 'nan', 'subnormal')
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple


class FloatSpec(NamedTuple):
    """A float format's defining fields and the numbers the oracle derives from them."""

    ebits: int
    mbits: int
    bias: int
    signed: bool
    subnormals: bool
    specials: str
    width: int        #: bits of a code
    sign_bit: int     #: the sign bit's mask (0 when unsigned)
    lowest_exp: int   #: exponent of the smallest normal binade
    top: int          #: magnitude code of the largest finite value
    nan: int | None   #: the canonical (positive, quiet) NaN code
    inf: int | None   #: the +inf code
    zero: bool        #: whether a code means zero


class IntSpec(NamedTuple):
    """An integer format's defining fields and its range."""

    bits: int
    signed: bool
    narrow: bool
    encoding: str
    lo: int
    hi: int


def is_float(fmt) -> bool:
    """Whether ``fmt`` is a float format (it has exponent bits)."""
    return hasattr(fmt, "ebits")


def read_float(fmt) -> FloatSpec:
    """The :class:`FloatSpec` of a float format object (reads its six defining fields)."""
    return _float_spec(int(fmt.ebits), int(fmt.mbits), int(fmt.bias), bool(fmt.signed), bool(fmt.subnormals),
                       str(fmt.specials))


def read_int(fmt) -> IntSpec:
    """The :class:`IntSpec` of an integer format object (reads its four defining fields)."""
    return _int_spec(int(fmt.bits), bool(fmt.signed), bool(fmt.narrow), str(fmt.encoding))


def float_spec(ebits: int, mbits: int, bias: int, signed: bool = True, subnormals: bool = True,
               specials: str = "ieee") -> FloatSpec:
    """The :class:`FloatSpec` of a float format given by its fields (the oracle's own
    descriptions of IEEE and OCP formats use it).

    >>> float_spec(8, 0, 127, signed=False, subnormals=False, specials="fn").top
    254
    """
    return _float_spec(ebits, mbits, bias, signed, subnormals, specials)


def _field_kind(specials: str, subnormals: bool, ebits: int, mbits: int, negative: bool, E: int, M: int) -> str:
    """The class of a code from its sign, exponent field E and mantissa field M."""
    e_ones, m_ones = (1 << ebits) - 1, (1 << mbits) - 1
    if specials == "ieee" and E == e_ones:        # IEEE 754 section 3.4: inf (M = 0) and NaN
        return "inf" if M == 0 else "nan"
    if specials == "fn" and E == e_ones and M == m_ones:   # OCP FP8 E4M3: S.1111.111 is NaN
        return "nan"
    if specials == "fnuz" and negative and E == 0 and M == 0:   # the "negative zero" pattern is NaN
        return "nan"
    if subnormals and E == 0:
        return "zero" if M == 0 else "subnormal"
    return "normal"


@lru_cache(maxsize=None)
def _float_spec(ebits: int, mbits: int, bias: int, signed: bool, subnormals: bool, specials: str) -> FloatSpec:
    width = ebits + mbits + (1 if signed else 0)
    sign_bit = 1 << (ebits + mbits) if signed else 0
    e_ones, m_ones = (1 << ebits) - 1, (1 << mbits) - 1

    def special(mag: int) -> bool:
        return _field_kind(specials, subnormals, ebits, mbits, False, mag >> mbits, mag & m_ones) in ("inf", "nan")

    top = (1 << (ebits + mbits)) - 1   # the all-ones magnitude, unless it is reserved:
    if special(top):
        top -= 1                       # "fn": only that one code is NaN
        if special(top):
            top = ((e_ones - 1) << mbits) | m_ones   # "ieee": the whole top binade is inf and NaN
    nan = {"ieee": (e_ones << mbits) | (1 << (mbits - 1)) if mbits else None,   # quiet: top mantissa bit
           "fn": (1 << (ebits + mbits)) - 1, "fnuz": sign_bit}.get(specials)
    inf = e_ones << mbits if specials == "ieee" else None
    return FloatSpec(ebits, mbits, bias, signed, subnormals, specials, width, sign_bit,
                     1 - bias if subnormals else -bias, top, nan, inf, subnormals)


@lru_cache(maxsize=None)
def _int_spec(bits: int, signed: bool, narrow: bool, encoding: str) -> IntSpec:
    if not signed:
        return IntSpec(bits, signed, narrow, encoding, 0, (1 << bits) - 1)
    hi = (1 << (bits - 1)) - 1
    lo = -hi if narrow or encoding == "sign_magnitude" else -hi - 1
    return IntSpec(bits, signed, narrow, encoding, lo, hi)


def kind(s: FloatSpec, code: int) -> str:
    """The class of ``code``: ``"zero"``, ``"subnormal"``, ``"normal"``, ``"inf"`` or ``"nan"``."""
    code = int(code)
    if not 0 <= code < 1 << s.width:
        raise ValueError(f"code {code} out of range for a {s.width}-bit format")
    mag = code & ((1 << (s.ebits + s.mbits)) - 1)
    return _field_kind(s.specials, s.subnormals, s.ebits, s.mbits, bool(code & s.sign_bit), mag >> s.mbits,
                       mag & ((1 << s.mbits) - 1))


def int_code(s: IntSpec, v: int) -> int:
    """The code of an integer ``v`` in range: two's complement (``v mod 2**bits``), or sign
    and magnitude."""
    if s.encoding == "sign_magnitude" and v < 0:
        return (1 << (s.bits - 1)) | -v
    return v % (1 << s.bits)


def int_value(s: IntSpec, code: int) -> int:
    """The integer a code stands for (the narrow format's unused code reads as two's
    complement does)."""
    code = int(code)
    top = 1 << (s.bits - 1)
    if not s.signed or not code & top:
        return code
    return -(code - top) if s.encoding == "sign_magnitude" else code - (1 << s.bits)
