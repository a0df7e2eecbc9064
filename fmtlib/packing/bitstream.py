"""Dense k-bit streams: FP4/INT4 two per byte, FP6 four in three bytes, any k in 1..32.

Packing runs along the last axis: each row of ``n`` codes becomes ``ceil(n * k / 8)``
bytes, so ``pack`` of shape ``(..., n)`` has shape ``(..., ceil(n * k / 8))`` (as torch's
``float4_e2m1fn_x2`` tensors of shape ``(..., n / 2)``). A row whose bits do not fill its
last byte is padded with zero bits; ``unpack`` ignores the padding. To pack a whole
tensor as one stream, pack ``codes.reshape(-1)``. A 0-d array packs as one element.

>>> import numpy as np
>>> BitStream(4).pack(np.array([1, 2, 3], dtype=np.uint8))      # low nibble first
array([33,  3], dtype=uint8)
>>> BitStream(4, "msb").pack(np.array([1, 2, 3], dtype=np.uint8))
array([18, 48], dtype=uint8)
"""
from __future__ import annotations

import sys

import numpy as np

from .base import Layout, as_byte_buffer, as_code_array, as_shape

ORDERS = ("lsb", "msb")
LITTLE = sys.byteorder == "little"   # the word kernels read codes as little-endian uint64


class BitStream(Layout):
    """``bits``-bit codes laid end to end, ``order="lsb"`` (element 0 in the least significant
    bits of byte 0; little-endian) or ``"msb"`` (element 0's top bit is bit 7 of byte 0;
    big-endian). ``BitStream(4)`` is torch's ``float4_e2m1fn_x2``; ``BitStream(6, "msb")``
    is the FP6 layout fp6_llm and torchao read; ``BitStream(8)`` and ``BitStream(16)`` are
    the plain little-endian byte views of 8- and 16-bit codes.
    """

    codec_id = "layout.bitstream"

    def __init__(self, bits: int, order: str = "lsb") -> None:
        if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 32:
            raise ValueError(f"bits must be an int in 1..32, got {bits!r}")
        order = str(order).lower()
        if order not in ORDERS:
            raise ValueError(f"order must be 'lsb' or 'msb', got {order!r}")
        object.__setattr__(self, "bits", int(bits))
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "name", _preset_name(int(bits), order))

    def _config_args(self):
        return ((self.bits,), {"order": self.order} if self.order != "lsb" else {})

    def row_bytes(self, n: int) -> int:
        """Bytes one row of ``n`` codes takes."""
        return -(-n * self.bits // 8)

    def packed_shape(self, shape) -> tuple[int, ...]:
        shape = as_shape(shape) or (1,)
        return shape[:-1] + (self.row_bytes(shape[-1]),)

    def pack(self, codes) -> np.ndarray:
        """uint8 array of shape ``packed_shape(codes.shape)``; raises for a code >= 2**bits.
        Cupy codes are packed on the GPU (a cupy result)."""
        from ..kernels import gpu

        if gpu.is_device_array(codes):
            return gpu.stream_pack(self, codes)
        c = as_code_array(codes)
        if c.ndim == 0:
            c = c.reshape(1)
        out = np.empty(self.packed_shape(c.shape), dtype=np.uint8)
        if c.size == 0:
            return out
        k = self.bits
        if k in (8, 16, 32):   # whole bytes: a range check and a (byte-swapping) copy
            if 8 * c.dtype.itemsize > k and int(c.max()) >> k:
                self._out_of_range(c)
            np.copyto(out.view(f"{'>' if self.order == 'msb' else '<'}u{k // 8}"), c, casting="unsafe")
            return out
        n = c.shape[-1]
        rows, orows = (c.reshape(1, -1), out.reshape(1, -1)) if n * k % 8 == 0 else \
            (c.reshape(-1, n), out.reshape(-1, out.shape[-1]))
        if self._stream(rows, orows, pack=True):
            self._out_of_range(c)
        return out

    def unpack(self, buf, shape, dtype=None) -> np.ndarray:
        """Codes of ``shape`` (uint8/16/32 by ``bits``, or ``dtype``) from exactly
        ``nbytes(shape)`` bytes (a cupy buffer unpacks on the GPU)."""
        from ..kernels import gpu

        shape = as_shape(shape)
        if gpu.is_device_array(buf):
            return gpu.stream_unpack(self, buf, shape, dtype)
        pshape = self.packed_shape(shape)
        b = as_byte_buffer(buf, int(np.prod(pshape)), f"{self.name} unpack of shape {shape}")
        out = np.empty(shape, dtype=self._out_dtype(dtype, self.bits))
        if out.size == 0:
            return out
        k, n = self.bits, (shape[-1] if shape else 1)
        if k in (8, 16, 32):
            np.copyto(out, b.view(f"{'>' if self.order == 'msb' else '<'}u{k // 8}").reshape(shape), casting="unsafe")
            return out
        if n * k % 8 == 0:
            self._stream(out.reshape(1, -1), b.reshape(1, -1), pack=False)
        else:
            self._stream(out.reshape(-1, n), b.reshape(-1, pshape[-1]), pack=False)
        return out

    def _stream(self, codes: np.ndarray, buf: np.ndarray, pack: bool) -> bool:
        """Run the kernels over (rows, n) codes and (rows, row_bytes) bytes; a single row of
        uint8/uint16 codes goes to the word kernels in runs of 64 codes (the rest to the row
        kernels). Returns whether a code did not fit (pack)."""
        from ..kernels.cpu import packing as K

        k, msb = self.bits, self.order == "msb"
        lane = 8 * codes.dtype.itemsize
        if (codes.shape[0] == 1 and lane in (8, 16) and k <= lane and codes.shape[1] >= 64 and LITTLE
                and codes.ctypes.data % 8 == 0 and buf.ctypes.data % 8 == 0):
            g = codes.shape[1] // 64   # 64 codes make k 64-bit words
            c64 = codes.reshape(-1)[: 64 * g].view(np.uint64)
            words = buf.reshape(-1)[: 8 * k * g].view(np.uint64)
            over = np.zeros(min(g, 256), dtype=np.uint64)
            if pack:
                K.pack_words(c64, words, k, lane, msb, over)
            else:
                K.unpack_words(words, c64, k, lane, msb, over.size)
            tail = self._stream(codes[:, 64 * g:], buf[:, 8 * k * g:], pack) if 64 * g < codes.shape[1] else False
            return bool(over.any()) or tail
        nchunks = -(-codes.shape[1] // K.CHUNK)
        if pack:
            over = np.zeros(codes.shape[0] * nchunks, dtype=np.uint64)
            K.pack_rows(codes, buf, k, msb, over)
            return bool(over.any())
        K.unpack_rows(buf, codes, k, msb)
        return False

    def _out_of_range(self, c: np.ndarray):
        flat = c.reshape(-1)
        bad = int(flat[np.argmax(flat >= (1 << self.bits))])
        raise ValueError(f"code {bad} does not fit {self.bits} bits (0..{(1 << self.bits) - 1}; "
                         "a negative signed code counts as a large unsigned one)")


#: the named presets: name -> (bits, order)
PRESETS = {
    "fp4x2": (4, "lsb"),      # torch float4_e2m1fn_x2, torchao pack_uint4: even element low
    "fp4x2_hi": (4, "msb"),   # bitsandbytes, older torchao: even element high
    "fp6x4": (6, "msb"),      # fp6_llm / torchao FP6: 4 codes in 3 bytes, first code on top
    "fp6x4_lsb": (6, "lsb"),
    "bytes": (8, "lsb"),      # one code per byte: ml_dtypes / torch float8 uint8 views
    "bytes16": (16, "lsb"),   # little-endian 16-bit codes: the uint8 view of fp16/bf16
}


def _preset_name(bits: int, order: str) -> str:
    for name, spec in PRESETS.items():
        if spec == (bits, order):
            return name
    return f"bits{bits}_{order}"
