"""The layout contract and the checks every layout shares.

A layout turns an array of integer codes (one per element) into the bytes a kernel or a
file expects, and back. It is an immutable, picklable object with a config, like a codec:

* ``pack(codes) -> uint8 array``;
* ``unpack(buf, shape) -> codes`` of ``shape``; ``buf`` may be any bytes-like object or
  uint8 array of exactly ``nbytes(shape)`` bytes (a shorter or longer one raises);
* ``packed_shape(shape)`` and ``nbytes(shape)``.
"""
from __future__ import annotations

import math

import numpy as np

from ..codecs.base import Codec

#: unsigned dtypes by itemsize, for codes unpacked from k-bit fields
_UINTS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def code_dtype(bits: int) -> np.dtype:
    """The smallest unsigned dtype that holds ``bits``-bit codes."""
    size = 1 << max(0, math.ceil(math.log2(max(1, math.ceil(bits / 8)))))
    return np.dtype(_UINTS[size])


def as_code_array(codes, what: str = "pack") -> np.ndarray:
    """Integer codes as a C-contiguous native unsigned array of the same width (signed codes
    are viewed as unsigned, so a negative code shows up as out of range)."""
    c = np.asarray(codes)
    if c.dtype.kind not in "iu":
        raise TypeError(f"{what} takes integer codes, got an array of dtype {c.dtype}"
                        + (" (encode floats with a codec first, or use codec.pack)" if c.dtype.kind == "f" else ""))
    if c.dtype.byteorder not in "=|":
        c = c.astype(c.dtype.newbyteorder("="))
    c = np.ascontiguousarray(c)
    return c.view(_UINTS[c.dtype.itemsize]) if c.dtype.kind == "i" else c


def as_byte_buffer(buf, nbytes: int, what: str) -> np.ndarray:
    """``buf`` as a flat uint8 array of exactly ``nbytes`` bytes, or a clear ValueError."""
    if isinstance(buf, (bytes, bytearray, memoryview)):
        b = np.frombuffer(buf, dtype=np.uint8)
    else:
        b = np.asarray(buf)
        if b.dtype != np.uint8:
            raise TypeError(f"{what} reads a uint8 buffer (or bytes), got dtype {b.dtype}")
        b = np.ascontiguousarray(b).reshape(-1)
    if b.size != nbytes:
        kind = "truncated" if b.size < nbytes else "over-long"
        raise ValueError(f"{kind} buffer: {what} needs exactly {nbytes} bytes, got {b.size}")
    return b


def as_shape(shape) -> tuple[int, ...]:
    """A shape tuple of non-negative ints, or a clear error."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape),)
    try:
        out = tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"shape must be a tuple of ints, got {shape!r}") from None
    if any(s < 0 for s in out) or any(isinstance(s, bool) for s in shape):
        raise ValueError(f"shape must hold non-negative ints, got {shape!r}")
    return out


class Layout(Codec):
    """Base of every layout: config, equality, pickling (from :class:`fmtlib.Codec`)."""

    #: short name used in docs, manifests and the CLI
    name: str = ""

    def packed_shape(self, shape) -> tuple[int, ...]:  # pragma: no cover - abstract
        raise NotImplementedError

    def nbytes(self, shape) -> int:
        """Bytes the packed form of ``shape`` takes."""
        return math.prod(self.packed_shape(as_shape(shape)))

    def pack(self, codes) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def unpack(self, buf, shape, dtype=None) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _out_dtype(self, dtype, bits: int) -> np.dtype:
        dt = code_dtype(bits) if dtype is None else np.dtype(dtype)
        if dt.kind != "u" or 8 * dt.itemsize < bits:
            raise TypeError(f"dtype {dt} cannot hold {bits}-bit codes; use an unsigned dtype of at least {bits} bits")
        return dt
