"""Numba kernels for dense k-bit streams (``fmtlib.packing.BitStream``).

Every kernel works on rows: ``codes`` is (rows, n) and ``buf`` is (rows, row_bytes) with
``row_bytes = ceil(n * k / 8)``; each row is its own stream, so rows start on a byte.
The work is cut into (row, chunk) tasks of ``CHUNK`` elements, a multiple of 8, so every
chunk starts on a byte boundary in any k-bit stream and the tasks run in parallel.

Bit order: ``lsb`` puts element i at stream bits [i*k, (i+1)*k), stream bit j being bit
``j % 8`` of byte ``j // 8`` (little-endian); ``msb`` puts element i's most significant
bit first, stream bit j being bit ``7 - j % 8`` of byte ``j // 8`` (big-endian).

For k <= 8 the kernels move 8 elements (k bytes) at a time through one 64-bit word; wider
codes stream bit by bit through a 64-bit accumulator. FP4 and FP6 streams whose rows fill
whole bytes also have word kernels (``pack_words``/``unpack_words``) that load 8 one-byte
codes as one uint64 and squeeze them with shifts and masks (SWAR), about 3x faster. All kernels also report, per task,
the OR of the bits above k of every code they read, so a code out of range is an error
the caller raises, never a silent truncation.
"""
import numpy as np
from numba import njit, prange

from ..config import PARALLEL, SCALAR

U64 = np.uint64

#: elements per parallel task (a multiple of 8: every chunk starts on a byte)
CHUNK = 1 << 15


@njit(**PARALLEL)
def pack_rows(codes, buf, k, msb, over):
    """Pack (rows, n) codes into (rows, row_bytes) bytes; ``over[t]`` gets task t's stray
    high bits (nonzero: a code >= 2**k)."""
    rows, n = codes.shape
    nchunks = (n + CHUNK - 1) // CHUNK
    mask = np.uint64((1 << k) - 1)
    uk = np.uint64(k)
    for t in prange(rows * nchunks):
        r = t // nchunks
        start = (t % nchunks) * CHUNK
        end = min(start + CHUNK, n)
        o = (start // 8) * k
        bad = np.uint64(0)
        i = start
        if k <= 8:
            while i + 8 <= end:
                acc = np.uint64(0)
                for j in range(8):
                    v = np.uint64(codes[r, i + j])
                    bad |= v & ~mask
                    if msb:
                        acc |= v << np.uint64((7 - j) * k)
                    else:
                        acc |= v << np.uint64(j * k)
                for b in range(k):
                    if msb:
                        buf[r, o + b] = np.uint8((acc >> np.uint64(8 * (k - 1 - b))) & np.uint64(0xFF))
                    else:
                        buf[r, o + b] = np.uint8((acc >> np.uint64(8 * b)) & np.uint64(0xFF))
                o += k
                i += 8
        acc = np.uint64(0)
        nb = 0
        while i < end:
            v = np.uint64(codes[r, i])
            bad |= v & ~mask
            v &= mask
            if msb:
                acc = (acc << uk) | v
            else:
                acc |= v << np.uint64(nb)
            nb += k
            while nb >= 8:
                if msb:
                    buf[r, o] = np.uint8((acc >> np.uint64(nb - 8)) & np.uint64(0xFF))
                else:
                    buf[r, o] = np.uint8(acc & np.uint64(0xFF))
                    acc >>= np.uint64(8)
                o += 1
                nb -= 8
            i += 1
        if nb > 0:  # end of the row: zero padding bits fill the last byte
            if msb:
                buf[r, o] = np.uint8((acc << np.uint64(8 - nb)) & np.uint64(0xFF))
            else:
                buf[r, o] = np.uint8(acc & np.uint64(0xFF))
        over[t] = bad


@njit(**PARALLEL)
def unpack_rows(buf, codes, k, msb):
    """Unpack (rows, row_bytes) bytes into (rows, n) codes; padding bits are ignored."""
    rows, n = codes.shape
    nchunks = (n + CHUNK - 1) // CHUNK
    mask = np.uint64((1 << k) - 1)
    for t in prange(rows * nchunks):
        r = t // nchunks
        start = (t % nchunks) * CHUNK
        end = min(start + CHUNK, n)
        o = (start // 8) * k
        i = start
        if k <= 8:
            while i + 8 <= end:
                acc = np.uint64(0)
                for b in range(k):
                    v = np.uint64(buf[r, o + b])
                    if msb:
                        acc |= v << np.uint64(8 * (k - 1 - b))
                    else:
                        acc |= v << np.uint64(8 * b)
                for j in range(8):
                    if msb:
                        codes[r, i + j] = (acc >> np.uint64((7 - j) * k)) & mask
                    else:
                        codes[r, i + j] = (acc >> np.uint64(j * k)) & mask
                o += k
                i += 8
        acc = np.uint64(0)
        nb = 0
        while i < end:
            while nb < k:
                if msb:
                    acc = (acc << np.uint64(8)) | np.uint64(buf[r, o])
                else:
                    acc |= np.uint64(buf[r, o]) << np.uint64(nb)
                o += 1
                nb += 8
            if msb:
                codes[r, i] = (acc >> np.uint64(nb - k)) & mask
            else:
                codes[r, i] = acc & mask
                acc >>= np.uint64(k)
            nb -= k
            i += 1


@njit(**SCALAR)
def _bswap(v):
    """Byte-reverse a uint64 (MSB-first streams are LSB-first streams of reversed groups)."""
    v = ((v & U64(0x00000000FFFFFFFF)) << U64(32)) | (v >> U64(32))
    v = ((v & U64(0x0000FFFF0000FFFF)) << U64(16)) | ((v >> U64(16)) & U64(0x0000FFFF0000FFFF))
    return ((v & U64(0x00FF00FF00FF00FF)) << U64(8)) | ((v >> U64(8)) & U64(0x00FF00FF00FF00FF))


@njit(**SCALAR)
def _squeeze(v, k):
    """8 byte lanes holding k-bit codes -> the low 8k bits, lane j at bit j*k."""
    v = (v & U64(0x00FF00FF00FF00FF)) | ((v & U64(0xFF00FF00FF00FF00)) >> U64(8 - k))
    v = (v & U64(0x0000FFFF0000FFFF)) | ((v & U64(0xFFFF0000FFFF0000)) >> U64(16 - 2 * k))
    return (v & U64(0xFFFFFFFF)) | ((v >> U64(32)) << U64(4 * k))


@njit(**SCALAR)
def _spread(v, k):
    """Inverse of ``_squeeze``: the low 8k bits -> 8 byte lanes of k bits."""
    m4 = U64((1 << (4 * k)) - 1)
    v = (v & m4) | ((v >> U64(4 * k)) & m4) << U64(32)
    m2 = U64((1 << (2 * k)) - 1) * U64(0x0000000100000001)
    v = (v & m2) | ((v >> U64(2 * k)) & m2) << U64(16)
    m1 = U64((1 << k) - 1) * U64(0x0001000100010001)
    return (v & m1) | ((v >> U64(k)) & m1) << U64(8)


@njit(**PARALLEL)
def pack_words(c64, out, k, msb, over):
    """k = 4 or 6: uint64 words of 8 one-byte codes -> ``out`` viewed as uint32 (k = 4, one
    word per group) or uint16 (k = 6, three per group). ``over[t]``: stray high bits."""
    n = c64.size
    nt = over.size
    per = (n + nt - 1) // nt
    hi = U64(((0xFF << k) & 0xFF) * 0x0101010101010101)
    for t in prange(nt):
        bad = U64(0)
        for g in range(t * per, min(n, (t + 1) * per)):
            v = c64[g]
            bad |= v & hi
            if msb:
                acc = _squeeze(_bswap(v), k)
                if k == 4:  # big-endian bytes of the 32-bit group
                    out[g] = ((acc & U64(0xFF)) << U64(24)) | ((acc & U64(0xFF00)) << U64(8)) \
                        | ((acc >> U64(8)) & U64(0xFF00)) | (acc >> U64(24))
                else:       # 48-bit group, bytes from the top, as three little-endian uint16
                    b = acc << U64(16)
                    out[3 * g] = ((b >> U64(56)) | ((b >> U64(40)) & U64(0xFF00)))
                    out[3 * g + 1] = (((b >> U64(40)) & U64(0xFF)) | ((b >> U64(24)) & U64(0xFF00)))
                    out[3 * g + 2] = (((b >> U64(24)) & U64(0xFF)) | ((b >> U64(8)) & U64(0xFF00)))
            else:
                acc = _squeeze(v, k)
                if k == 4:
                    out[g] = acc
                else:
                    out[3 * g] = acc & U64(0xFFFF)
                    out[3 * g + 1] = (acc >> U64(16)) & U64(0xFFFF)
                    out[3 * g + 2] = acc >> U64(32)
        over[t] = bad


@njit(**PARALLEL)
def unpack_words(src, c64, k, msb, nt):
    """Inverse of ``pack_words``: ``src`` viewed as uint32 (k = 4) or uint16 (k = 6)."""
    n = c64.size
    per = (n + nt - 1) // nt
    for t in prange(nt):
        for g in range(t * per, min(n, (t + 1) * per)):
            if k == 4:
                acc = U64(src[g])
                if msb:
                    acc = ((acc & U64(0xFF)) << U64(24)) | ((acc & U64(0xFF00)) << U64(8)) \
                        | ((acc >> U64(8)) & U64(0xFF00)) | (acc >> U64(24))
            else:
                acc = U64(src[3 * g]) | (U64(src[3 * g + 1]) << U64(16)) | (U64(src[3 * g + 2]) << U64(32))
                if msb:
                    acc = _bswap(acc) >> U64(16)
            v = _spread(acc, k)
            c64[g] = _bswap(v) if msb else v
