"""Integer format descriptors: two's complement, sign-magnitude and unsigned.

>>> IntFormat(8).min, IntFormat(8).max
(-128, 127)
>>> IntFormat(8, narrow=True).min, IntFormat(4, encoding="sign_magnitude").min
(-127, -7)
"""
from __future__ import annotations

from dataclasses import dataclass

ENCODINGS = ("twos_complement", "sign_magnitude")


@dataclass(frozen=True)
class IntFormat:
    """A ``bits``-wide integer: signed (two's complement or sign-magnitude) or unsigned.

    ``narrow=True`` drops the most negative two's complement value, so the range is
    symmetric (-127..127 for 8 bits), as symmetric int8 quantization uses.
    """

    bits: int
    signed: bool = True
    narrow: bool = False
    encoding: str = "twos_complement"

    def __post_init__(self) -> None:
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) or not 1 <= self.bits <= 32:
            raise ValueError(f"bits must be an int in 1..32, got {self.bits!r}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        if self.signed and self.bits < 2:
            raise ValueError("a signed integer needs at least 2 bits")
        if not self.signed and (self.narrow or self.encoding != "twos_complement"):
            raise ValueError("narrow and sign_magnitude apply to signed integers only")

    @property
    def max(self) -> int:
        """Largest value."""
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def min(self) -> int:
        """Smallest value."""
        if not self.signed:
            return 0
        if self.narrow or self.encoding == "sign_magnitude":
            return -self.max
        return -(1 << (self.bits - 1))

    @property
    def num_codes(self) -> int:
        return 1 << self.bits

    @property
    def code_dtype(self) -> str:
        """Smallest numpy unsigned dtype that holds a code."""
        for width in (8, 16, 32):
            if self.bits <= width:
                return f"uint{width}"
        return "uint64"  # pragma: no cover - bits <= 32

    @property
    def wraps(self) -> bool:
        """Whether ``overflow='wrap'`` is defined: every code is a value (modular arithmetic)."""
        return not self.narrow and self.encoding == "twos_complement"

    @property
    def unused_code(self) -> int | None:
        """The code no value maps to (narrow two's complement: the most negative), if any."""
        return 1 << (self.bits - 1) if self.narrow else None

    def classify(self, code: int) -> str:
        """``"zero"``, ``"integer"``, or ``"unused"`` (the code narrow integers leave out)."""
        if code == self.unused_code:
            return "unused"
        return "zero" if self.value(code) == 0 else "integer"

    def value(self, code: int) -> int:
        """The integer a code stands for.

        >>> IntFormat(4).value(0b1111), IntFormat(4, encoding="sign_magnitude").value(0b1111)
        (-1, -7)
        """
        code = int(code)
        if not 0 <= code < self.num_codes:
            raise ValueError(f"code {code} out of range for a {self.bits}-bit integer")
        if not self.signed:
            return code
        top = 1 << (self.bits - 1)
        if self.encoding == "sign_magnitude":
            return -(code & (top - 1)) if code & top else code
        v = code - (1 << self.bits) if code & top else code
        if v < self.min:
            raise ValueError(f"code {code:#x} is not used by narrow {self.bits}-bit integers")
        return v

    def code(self, value: int) -> int:
        """The code of an integer in range."""
        if not self.min <= value <= self.max:
            raise ValueError(f"{value} out of range {self.min}..{self.max}")
        if self.encoding == "sign_magnitude" and value < 0:
            return (1 << (self.bits - 1)) | -value
        return value % (1 << self.bits)

    def __str__(self) -> str:
        kind = "int" if self.signed else "uint"
        extra = ", narrow" if self.narrow else ", sign-magnitude" if self.encoding == "sign_magnitude" else ""
        return f"{kind}{self.bits}{extra}"
