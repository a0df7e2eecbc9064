"""``Int``: integer codes (two's complement, sign-magnitude, unsigned) of float data.

>>> import numpy as np
>>> Int(4).quantize(np.array([2.5, -9.0, 7.6], dtype=np.float32))
array([ 2., -8.,  7.], dtype=float32)
>>> Int(8, overflow="wrap").encode(np.array([200.0, -1.0]))
array([200, 255], dtype=uint8)
"""
from __future__ import annotations

from typing import Any

from ..integers import IntFormat
from ..rounding import Overflow, Rounding
from .element import ElementCodec, from_format


class Int(ElementCodec):
    """A ``bits``-wide integer codec: values are rounded to integers by ``rounding``.

    ``narrow=True`` keeps the range symmetric (-127..127 for 8 bits);
    ``encoding="sign_magnitude"`` stores sign and magnitude. ``overflow`` is ``"saturate"``
    (default) or ``"wrap"`` (modulo 2**bits; two's complement and unsigned only). NaN
    becomes 0 (``nan="raise"``: a ValueError; ``"warn"``: a warning) and ±inf the end of the
    range. Scaling to the range is the job of :class:`~fmtlib.Scaled`; ``Int`` rounds the
    values it is given.

    >>> Int(8).max, Int(8, narrow=True).min, Int(4, signed=False).max
    (127, -127, 15)
    >>> Int(8, nan="raise").quantize([1.5, float("nan")])
    Traceback (most recent call last):
    ValueError: Int(8, nan='raise'): the input holds 1 NaN (at flat index 1), and nan='raise'; drop or replace the NaNs first
    """

    codec_id = "int"

    def __init__(self, bits: int = 8, signed: bool = True, narrow: bool = False, *,
                 encoding: str = "twos_complement", rounding: Rounding | str = "nearest_even",
                 overflow: Overflow | str = "saturate", nan: str = "ignore") -> None:
        fmt = IntFormat(bits, signed=signed, narrow=narrow, encoding=encoding)
        self._set(fmt, rounding, overflow, nan=nan)

    format: IntFormat

    def _check_overflow(self, overflow: Overflow) -> Overflow:
        if overflow is Overflow.IEEE:
            raise ValueError("integers have no inf or NaN: overflow is 'saturate' or 'wrap'")
        if overflow is Overflow.WRAP and not self.format.wraps:
            raise ValueError(f"overflow='wrap' needs every code to be a value; {self.format} has an unused code")
        return overflow

    def _config_args(self):
        fmt = self.format
        args: tuple = (fmt.bits,)
        kwargs: dict[str, Any] = {}
        if not fmt.signed:
            kwargs["signed"] = False
        if fmt.narrow:
            kwargs["narrow"] = True
        if fmt.encoding != "twos_complement":
            kwargs["encoding"] = fmt.encoding
        if self.rounding is not Rounding.NEAREST_EVEN:
            kwargs["rounding"] = self.rounding.name.lower()
        if self.overflow is not Overflow.SATURATE:
            kwargs["overflow"] = self.overflow.name.lower()
        if self.nan != "ignore":
            kwargs["nan"] = self.nan
        return args, kwargs

    bits = from_format("bits", "Total bits of a code.")
    max = from_format("max", "Largest value.")
    min = from_format("min", "Smallest value.")
