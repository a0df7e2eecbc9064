"""FP6-LLM's ahead-of-time weight pre-packing, and its runtime FPx -> FP16 dequantization.

The rules restate usyd-fsalab/fp6_llm (``fp6_llm/csrc/utils/weight_prepacking.h``,
``utils/common.h``, ``include/utils_parallel_dequant.cuh``; QuantLLM v0.2), which packs
an [M, K] weight of ``bits``-bit floats (6 for FP6 E3M2, 5 for E2M2) for its tensor-core
GEMM:

* **Split**: each code, left-aligned in a byte, is cut into a 1-bit, 2-bit and 4-bit
  segment by the binary digits of ``bits`` (6 = 2 + 4: sign and top exponent bit, then the
  rest). The buffer holds the 1-bit region, then the 2-bit, then the 4-bit one
  (``M*K*s/8`` bytes each, present when ``bits & s``).
* **Fragment order**: 64-row block R, 16-column slice J, 16-row tile T (0..3), lane
  L = 4g + t of a warp: element e (0..7) of a lane is the mma.m16n8k16 A-fragment element at
  row ``64R + 16T + g + 8*((e >> 1) & 1)``, column ``16J + 2t + (e & 1) + 8*(e >> 2)``.
* **Words**: one 32-bit word per lane holds 32 bits of one segment: the 4-bit word of
  (R, J, T) is word ``((R*K/16 + J)*4 + T)*32 + L``, the 2-bit word of tiles (2h, 2h+1) is
  ``((R*K/16 + J)*2 + h)*32 + L``, the 1-bit word of all four tiles ``(R*K/16 + J)*32 + L``.
  Inside a word, fields in tile-then-element order are permuted (``BitInterleaving_x_bit``)
  so that field i from the top holds input field ``INTERLEAVE[i]``: the odd elements of
  every byte's first field, so one AND with 0xF0F0F0F0 (0xC0C0C0C0, 0x80808080) picks four
  elements at once. Words are stored little-endian.

M and K must be multiples of 64 for the kernel; ``pack`` pads a smaller or ragged matrix
with zero codes up to the next multiples (that is the matrix the kernel then sees) and
``unpack`` crops back to ``shape``.

>>> import numpy as np, fmtlib
>>> w = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
>>> codes = fmtlib.FP("e3m2").encode(w)
>>> lay = FP6LLM()
>>> buf = lay.pack(codes)
>>> buf.size, bool((lay.unpack(buf, codes.shape) == codes).all())
(3072, True)
>>> bool((lay.dequantize(buf, codes.shape) == fmtlib.FP("e3m2").decode(codes, np.float16)).all())
True
"""
from __future__ import annotations

import numpy as np

from .base import Layout, as_byte_buffer, as_code_array, as_shape

TILE = 64
SEGMENTS = (1, 2, 4)


def interleave_order(nfields: int) -> np.ndarray:
    """Field i (from the top) of an interleaved word holds input field ``order[i]``: fields
    1, 5, 9, ..., then 3, 7, ..., then 0, 4, ..., then 2, 6, ... (0-based), the tables of
    fp6_llm's ``BitInterleaving_x_bit`` for 8, 16 and 32 fields."""
    return np.concatenate([np.arange(r, nfields, 4) for r in (1, 3, 0, 2)])


def _segment_shift(bits: int, s: int) -> int:
    """Position of segment ``s``'s lowest bit in a ``bits``-bit code: the segments follow
    each other from the top in the order 1, 2, 4 (those present)."""
    offset = bits & (s - 1)  # bits above this segment
    return bits - offset - s


class FP6LLM(Layout):
    """FP6-LLM weight pre-packing of ``bits``-bit codes (6 for E3M2, the default; 5 for E2M2;
    any width 2..7 follows the same rule). ``pack`` takes [M, K] codes and returns the flat
    uint8 buffer ``weight_prepacking_cpu`` writes for the padded matrix."""

    codec_id = "layout.fp6_llm"

    def __init__(self, bits: int = 6) -> None:
        if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 2 <= bits <= 7:
            raise ValueError(f"FP6-LLM pre-packing handles 2..7-bit codes, got bits={bits!r}")
        object.__setattr__(self, "bits", int(bits))
        object.__setattr__(self, "name", "fp6_llm" if bits == 6 else f"fp{bits}_llm")

    def _config_args(self):
        return ((), {} if self.bits == 6 else {"bits": self.bits})

    @staticmethod
    def padded(shape) -> tuple[int, int]:
        """(M, K) rounded up to multiples of 64."""
        shape = as_shape(shape)
        if len(shape) != 2:
            raise ValueError(f"FP6-LLM pre-packs an [M, K] weight matrix; got shape {shape}")
        return tuple(-(-n // TILE) * TILE for n in shape)

    def packed_shape(self, shape) -> tuple[int, ...]:
        m, k = self.padded(shape)
        return (m * k * self.bits // 8,)

    # --- element <-> (R, J, T, L, e) ---------------------------------------------------
    @staticmethod
    def _fragments(codes: np.ndarray) -> np.ndarray:
        """[M, K] -> [M/64, K/16, T=4, L=32, e=8], the A-fragment order."""
        m, k = codes.shape
        # row = 64R + 16T + 8*h1 + g, col = 16J + 8*h2 + 2t + p, e = 4*h2 + 2*h1 + p
        a = codes.reshape(m // 64, 4, 2, 8, k // 16, 2, 4, 2)  # R T h1 g J h2 t p
        a = a.transpose(0, 4, 1, 3, 6, 5, 2, 7)                 # R J T g t h2 h1 p
        return a.reshape(m // 64, k // 16, 4, 32, 8)

    @staticmethod
    def _unfragment(frags: np.ndarray, m: int, k: int) -> np.ndarray:
        a = frags.reshape(m // 64, k // 16, 4, 8, 4, 2, 2, 2)   # R J T g t h2 h1 p
        return a.transpose(0, 2, 6, 3, 1, 5, 4, 7).reshape(m, k)

    @staticmethod
    def _word_fields(frags: np.ndarray, s: int) -> np.ndarray:
        """Fields of each ``s``-bit word before interleaving, [..., words, 32/s], in the order
        they sit in the word from the top: tile by tile, element by element."""
        per = 4 // s                           # tiles per word: 1-bit 4, 2-bit 2, 4-bit 1
        r, j = frags.shape[:2]
        a = frags.reshape(r, j, 4 // per, per, 32, 8).transpose(0, 1, 2, 4, 3, 5)
        return a.reshape(r, j, 4 // per, 32, per * 8)

    def pack(self, codes) -> np.ndarray:
        """The pre-packed buffer (uint8, ``nbytes(codes.shape)`` bytes) of [M, K] codes
        (cupy codes give a cupy buffer: the same array operations on the GPU)."""
        from ..kernels import gpu

        xp = gpu.array_module(codes)
        c = gpu.device_codes(codes) if xp is not np else as_code_array(codes)
        m, k = self.padded(c.shape)
        if c.size and int(c.max()) >> self.bits:
            raise ValueError(f"code {int(c.max())} does not fit {self.bits} bits")
        full = xp.zeros((m, k), dtype=np.uint32)
        full[: c.shape[0], : c.shape[1]] = c
        frags = self._fragments(full)
        regions = []
        for s in SEGMENTS:
            if not self.bits & s:
                continue
            seg = (frags >> _segment_shift(self.bits, s)) & ((1 << s) - 1)
            fields = self._word_fields(seg, s)[..., xp.asarray(interleave_order(32 // s))]
            shifts = xp.asarray((32 - s * np.arange(1, 32 // s + 1)).astype(np.uint32))
            words = (fields << shifts).sum(axis=-1, dtype=np.uint32)   # disjoint fields: the sum is their OR
            regions.append(xp.ascontiguousarray(words.reshape(-1).astype("<u4")).view(np.uint8))
        return xp.concatenate(regions) if regions else xp.zeros(0, np.uint8)

    def _regions(self, buf, shape):
        """(padded M, K, {s: words [M/64, K/16, words per slice, 32] as uint32}, array module)."""
        from ..kernels import gpu

        shape = as_shape(shape)
        m, k = self.padded(shape)
        n, what = m * k * self.bits // 8, f"{self.name} unpack of shape {shape}"
        dev = gpu.is_device_array(buf)
        b = gpu.device_bytes(buf, n, what) if dev else as_byte_buffer(buf, n, what)
        out, at = {}, 0
        for s in SEGMENTS:
            if self.bits & s:
                n = m * k * s // 8
                words = b[at: at + n].view("<u4").astype(np.uint32)
                out[s] = words.reshape(m // 64, k // 16, s, 32)   # s words per lane and slice
                at += n
        return m, k, out, (gpu.backend() if dev else np)

    def unpack(self, buf, shape, dtype=None) -> np.ndarray:
        """The [M, K] codes of a pre-packed buffer (padding codes dropped; a cupy buffer gives
        cupy codes)."""
        shape = as_shape(shape)
        m, k, regions, xp = self._regions(buf, shape)
        frags = xp.zeros((m // 64, k // 16, 4, 32, 8), dtype=np.uint32)
        for s, words in regions.items():
            nf = 32 // s
            shifts = xp.asarray((32 - s * np.arange(1, nf + 1)).astype(np.uint32))
            fields = xp.empty(words.shape + (nf,), dtype=np.uint32)
            fields[..., xp.asarray(interleave_order(nf))] = (words[..., None] >> shifts) & ((1 << s) - 1)
            per = 4 // s
            seg = fields.reshape(m // 64, k // 16, 4 // per, 32, per, 8).transpose(0, 1, 2, 4, 3, 5)
            frags |= seg.reshape(frags.shape) << _segment_shift(self.bits, s)
        codes = self._unfragment(frags, m, k)[: shape[0], : shape[1]]
        return xp.ascontiguousarray(codes).astype(self._out_dtype(dtype, self.bits), copy=False)

    # --- the kernel's runtime dequantization ---------------------------------------------
    def dequantize(self, buf, shape, fmt: str = "e3m2", scales=None) -> np.ndarray:
        """float16 [M, K] weights as FP6-LLM's GEMM sees them in registers: the emulated
        ``Dequant_32FP6_4Way`` bit trick, then ``__hmul`` by 2**(15 - bias) and by the
        per-row float16 ``scales`` (None: 1.0).

        The trick drops each left-aligned code into a float16 with the code's exponent in
        the low bits of the 5-bit exponent field (the "simplified exponent"), exact for
        formats with 2..4 exponent bits and no inf/NaN codes (FP6 E3M2, FP5 E2M2, ...); with
        5 exponent bits the top binade would land on FP16's inf/NaN exponent.
        """
        from ..catalog import parse_format

        f = parse_format(fmt)
        if f.bits != self.bits or not f.signed or not 2 <= f.ebits <= 4 or f.has_inf or f.has_nan:
            raise ValueError(f"the FP6-LLM dequantization reads signed {self.bits}-bit floats with 2..4 exponent "
                             f"bits and no inf/NaN; {f} is not one")
        if f.bias != (1 << (f.ebits - 1)) - 1:
            raise ValueError(f"the FP6-LLM dequantization assumes the IEEE bias 2**(e-1)-1; {f} has bias {f.bias}")
        shape = as_shape(shape)
        m, k, regions, xp = self._regions(buf, shape)
        if xp is not np:
            raise TypeError("FP6LLM.dequantize emulates the kernel on the host; pass a host buffer (cupy.asnumpy)")
        row_scale = np.ones(m, dtype=np.float16)
        if scales is not None:
            sc = np.asarray(scales)
            if sc.shape != (shape[0],) or sc.dtype.kind != "f":
                raise ValueError(f"scales must be {shape[0]} floats, one per row; got {sc.dtype} {sc.shape}")
            row_scale[: shape[0]] = sc.astype(np.float16)
        w = {s: words.copy() for s, words in regions.items()}
        cur = {s: 0 for s in w}
        top_bits = (-(1 << 31) >> (f.ebits + f.mbits)) & 0x7FFFFFFF  # exponent+mantissa of byte 3
        mask = np.uint32(top_bits | top_bits >> 16)
        rshift = np.uint32(5 - f.ebits)
        halves = np.zeros((m // 64, k // 16, 4, 32, 8), dtype=np.uint16)   # R J T L e
        for i in range(8):   # each loop makes 4 halves of tile T = i // 2
            packed = np.zeros(w[next(iter(w))].shape[:2] + (32,), dtype=np.uint32)
            for s in w:
                top = np.uint32((((1 << s) - 1) << (8 - s)) * 0x01010101)
                packed |= (w[s][:, :, cur[s]] & top) >> np.uint32(self.bits & (s - 1))
                if i % (8 // s) == 8 // s - 1:   # a word lasts 8/s loops, 4 fields each
                    cur[s] += 1
                else:
                    w[s][:, :, cur[s]] <<= np.uint32(s)
            for half_reg in range(2):   # out1 (bytes 3, 1), then out2 after << 8
                reg = (packed & np.uint32(0x80008000)) | ((packed & mask) >> rshift)
                r = 2 * (i % 2) + half_reg     # A-fragment register of tile i // 2
                halves[:, :, i // 2, :, 2 * r] = reg & np.uint32(0xFFFF)
                halves[:, :, i // 2, :, 2 * r + 1] = reg >> np.uint32(16)
                packed = packed << np.uint32(8)
        h = self._unfragment(halves, m, k).view(np.float16)
        bias_mul = np.float16(2.0 ** (15 - f.bias))
        h = (h.astype(np.float64) * float(bias_mul)).astype(np.float16)               # __hmul, exact
        h = (h.astype(np.float64) * row_scale.astype(np.float64)[:, None]).astype(np.float16)  # __hmul, RNE
        return np.ascontiguousarray(h[: shape[0], : shape[1]])
