"""Format descriptors: the few numbers that define an EjMk minifloat.

A :class:`FloatFormat` is pure data (a frozen dataclass). Everything else -- the
largest value, the smallest subnormal, the code of NaN -- is a derived property
named as in ``numpy.finfo`` / ``ml_dtypes.finfo``. Every backend (oracle, Numba,
CUDA) is driven by these numbers; there is no per-format kernel.

>>> f = FloatFormat(ebits=2, mbits=1, specials="none")
>>> f.max, f.smallest_subnormal, f.bits
(6.0, 0.5, 4)

Specials policies (how the extreme codes are used):

* ``"ieee"``: exponent field all ones is inf (mantissa 0) or NaN (IEEE 754; e5m2, fp16).
* ``"fn"``: finite; the all-ones magnitude is NaN, the rest are numbers (e4m3fn, e8m0).
* ``"fnuz"``: finite, no negative zero; the code ``1000...0`` is the only NaN (e4m3fnuz).
* ``"none"``: every code is a number; no inf, no NaN (OCP MX e2m1, e3m2, e2m3).

``subnormals=False`` makes the exponent field 0 an ordinary binade, so the format has
no zero and no subnormals (e8m0: code 0 is 2^-127).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from . import exact
from .format_names import is_named


SPECIALS = ("ieee", "fn", "fnuz", "none")

#: The value classes reported by :meth:`FloatFormat.classify` and ``table()``.
CLASSES = ("zero", "subnormal", "normal", "inf", "nan")


@dataclass(frozen=True)
class FloatFormat:
    """An EjMk floating-point format: sign, ``ebits`` exponent bits, ``mbits`` mantissa bits.

    >>> FloatFormat(4, 3, specials="fn").max
    448.0
    """

    ebits: int
    mbits: int
    bias: int = None  # type: ignore[assignment]  # default 2**(ebits-1) - 1
    signed: bool = True
    subnormals: bool = True
    specials: str = "ieee"
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        for attr in ("ebits", "mbits"):
            v = getattr(self, attr)
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{attr} must be an int, got {type(v).__name__}")
        if not 1 <= self.ebits <= 11:
            raise ValueError(f"ebits must be in 1..11, got {self.ebits}")
        if not 0 <= self.mbits <= 52:
            raise ValueError(f"mbits must be in 0..52, got {self.mbits}")
        if self.bias is None:
            object.__setattr__(self, "bias", (1 << (self.ebits - 1)) - 1)
        if not isinstance(self.bias, int) or isinstance(self.bias, bool):
            raise TypeError(f"bias must be an int, got {type(self.bias).__name__}")
        if abs(self.bias) > 2000:
            raise ValueError(f"bias must be in -2000..2000, got {self.bias}")
        if self.specials not in SPECIALS:
            raise ValueError(f"specials must be one of {SPECIALS}, got {self.specials!r}")
        if self.bits > 64:
            raise ValueError(f"formats wider than 64 bits are not supported (got {self.bits})")
        if self.specials == "ieee" and self.mbits == 0:
            raise ValueError("specials='ieee' needs mbits >= 1 to encode NaN; use 'fn' or 'none'")
        if self.specials == "fnuz" and not self.signed:
            raise ValueError("specials='fnuz' puts NaN at the negative-zero code; it needs a sign bit")
        if self.specials == "fn" and self.ebits + self.mbits == 1 and not self.signed:
            raise ValueError("a 1-bit unsigned 'fn' format would have no number besides NaN")

    # --- widths -----------------------------------------------------------
    @property
    def bits(self) -> int:
        """Total bits of a code: sign (if signed) + ebits + mbits."""
        return int(self.signed) + self.ebits + self.mbits

    @property
    def nexp(self) -> int:
        """Exponent bits (``finfo.nexp``)."""
        return self.ebits

    @property
    def nmant(self) -> int:
        """Explicit mantissa bits (``finfo.nmant``)."""
        return self.mbits

    @property
    def num_codes(self) -> int:
        return 1 << self.bits

    @property
    def mag_bits(self) -> int:
        """Bits of the magnitude (exponent + mantissa fields)."""
        return self.ebits + self.mbits

    @property
    def sign_mask(self) -> int:
        return (1 << self.mag_bits) if self.signed else 0

    @property
    def code_dtype(self) -> str:
        """Smallest numpy unsigned dtype that holds a code."""
        for width in (8, 16, 32):
            if self.bits <= width:
                return f"uint{width}"
        return "uint64"

    # --- specials ---------------------------------------------------------
    @property
    def has_inf(self) -> bool:
        return self.specials == "ieee"

    @property
    def has_nan(self) -> bool:
        return self.specials != "none"

    @property
    def has_zero(self) -> bool:
        return self.subnormals

    @property
    def has_negative_zero(self) -> bool:
        return self.signed and self.has_zero and self.specials != "fnuz"

    @property
    def nan_code(self) -> int | None:
        """The canonical (positive, quiet) NaN code, or None."""
        emask = (1 << self.ebits) - 1
        if self.specials == "ieee":
            return (emask << self.mbits) | (1 << (self.mbits - 1))
        if self.specials == "fn":
            return (1 << self.mag_bits) - 1
        if self.specials == "fnuz":
            return self.sign_mask
        return None

    @property
    def inf_code(self) -> int | None:
        return ((1 << self.ebits) - 1) << self.mbits if self.has_inf else None

    @property
    def max_code(self) -> int:
        """Magnitude code of the largest finite value."""
        allones = (1 << self.mag_bits) - 1
        if self.specials == "ieee":
            return (((1 << self.ebits) - 2) << self.mbits) | ((1 << self.mbits) - 1)
        if self.specials == "fn":
            return allones - 1
        return allones

    # --- exponents ----------------------------------------------------------
    @property
    def emin(self) -> int:
        """Exponent of the smallest normal value (2**emin)."""
        return 1 - self.bias if self.subnormals else -self.bias

    @property
    def emax(self) -> int:
        """Exponent of the largest finite value (floor(log2(max)))."""
        return exact.emax(self)

    # --- values -------------------------------------------------------------
    def exact_value(self, code: int) -> Fraction | float:
        """Exact value of a code: a Fraction, or ``float('inf')``/``nan`` for specials.

        >>> FloatFormat(2, 1, specials="none").exact_value(0b0111)
        Fraction(6, 1)
        """
        return exact.value(self, code)

    @property
    def max(self) -> float:
        """Largest finite value."""
        return float(exact.max_value(self))

    @property
    def smallest_normal(self) -> float:
        """Smallest positive normal value, 2**emin."""
        return math.ldexp(1.0, self.emin)

    @property
    def smallest_subnormal(self) -> float:
        """Smallest positive value (a subnormal where the format has them)."""
        if self.subnormals and self.mbits > 0:
            return math.ldexp(1.0, self.emin - self.mbits)
        return self.smallest_normal

    @property
    def tiny(self) -> float:
        """Smallest positive normal value: ``smallest_normal`` under ``numpy.finfo``'s name."""
        return self.smallest_normal

    @property
    def precision(self) -> int:
        """Decimal digits of precision, ``floor(mbits * log10(2))`` (``numpy.finfo.precision``)."""
        return exact.decimal_precision(self)

    @property
    def resolution(self) -> float:
        """``10**-precision`` rounded to the nearest value of the format, ties to even
        (``numpy.finfo.resolution``).

        >>> FloatFormat(8, 7).resolution   # bfloat16
        0.010009765625
        """
        return float(exact.nearest_finite(self, Fraction(1, 10 ** self.precision)))

    @property
    def min(self) -> float:
        """Most negative finite value (``finfo.min``); the smallest value if unsigned."""
        return -self.max if self.signed else (0.0 if self.has_zero else self.smallest_normal)

    @property
    def eps(self) -> float:
        """Distance from 1.0 to the next larger value, 2**-mbits."""
        return math.ldexp(1.0, -self.mbits)

    unused_code = None  #: every code of a float format has a meaning

    # --- classification -------------------------------------------------------
    def classify(self, code: int) -> str:
        """Class of a code: one of :data:`CLASSES`."""
        code = int(code)
        if not 0 <= code < self.num_codes:
            raise ValueError(f"code {code} out of range for a {self.bits}-bit format")
        mag = code & ((1 << self.mag_bits) - 1)
        neg = bool(code & self.sign_mask)
        E = mag >> self.mbits
        M = mag & ((1 << self.mbits) - 1)
        if self.specials == "ieee" and E == (1 << self.ebits) - 1:
            return "inf" if M == 0 else "nan"
        if self.specials == "fn" and mag == (1 << self.mag_bits) - 1:
            return "nan"
        if self.specials == "fnuz" and neg and mag == 0:
            return "nan"
        if self.subnormals and E == 0:
            return "zero" if M == 0 else "subnormal"
        return "normal"

    def __str__(self) -> str:
        return self.name or self.spec_string()

    def spec_string(self) -> str:
        """A string that :func:`fmtlib.catalog.parse_format` turns back into this format."""
        s = f"e{self.ebits}m{self.mbits}"
        full = is_named(s)   # "e8m0" names a format of its own: spell every field out
        extras = []
        if full or self.bias != (1 << (self.ebits - 1)) - 1:
            extras.append(f"bias={self.bias}")
        if full or not self.signed:
            extras.append(f"signed={self.signed}")
        if full or not self.subnormals:
            extras.append(f"subnormals={self.subnormals}")
        extras.append(f"specials={self.specials}")
        return s + "," + ",".join(extras)
