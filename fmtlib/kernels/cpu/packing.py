"""Numba kernels for dense k-bit streams (``fmtlib.packing.BitStream``).

Every kernel works on rows: ``codes`` is (rows, n) and ``buf`` is (rows, row_bytes) with
``row_bytes = ceil(n * k / 8)``; each row is its own stream, so rows start on a byte.
The work is cut into (row, chunk) tasks of ``CHUNK`` elements, a multiple of 8, so every
chunk starts on a byte boundary in any k-bit stream and the tasks run in parallel: each
kernel is serial over a task range ``t0 <= t < t1``, and :func:`fmtlib.kernels.threads.parallel`
runs the ranges on a Python thread pool (callers pass the arguments after ``t0, t1``).

Bit order: ``lsb`` puts element i at stream bits [i*k, (i+1)*k), stream bit j being bit
``j % 8`` of byte ``j // 8`` (little-endian); ``msb`` puts element i's most significant
bit first, stream bit j being bit ``7 - j % 8`` of byte ``j // 8`` (big-endian).

``pack_rows``/``unpack_rows`` work for any row: for k <= 8 they move 8 elements (k bytes)
at a time through one 64-bit word, wider codes stream through a 64-bit accumulator. A
stream that is one long row (every row fills whole bytes) of uint8 codes (k <= 8) or uint16
codes (k <= 16) goes to ``pack_words``/``unpack_words`` instead: they load 8 (or 4) codes as
one uint64, squeeze them together with shifts and masks (SWAR), and write whole 64-bit words
(64 codes make exactly k words), 2-5x faster. All kernels also report, per task,
the OR of the bits above k of every code they read, so a code out of range is an error
the caller raises, never a silent truncation.
"""
import numpy as np
from numba import njit

from ..config import SCALAR, SERIAL
from ..threads import parallel

U64 = np.uint64

#: elements per parallel task (a multiple of 8: every chunk starts on a byte)
CHUNK = 1 << 15


def _row_tasks(codes):
    """(tasks, elements) of (rows, n) codes: one task per CHUNK elements of a row."""
    rows, n = codes.shape
    return rows * (-(-n // CHUNK)), codes.size


def _word_tasks(c64, lane, nt):
    """(tasks, codes) of the word kernels: ``nt`` tasks over c64's uint64 words."""
    return nt, c64.size * (64 // lane)


@parallel(lambda a: _row_tasks(a[0]))
@njit(**SERIAL)
def pack_rows(t0, t1, codes, buf, k, msb, over):
    """Pack (rows, n) codes into (rows, row_bytes) bytes; ``over[t]`` gets task t's stray
    high bits (nonzero: a code >= 2**k)."""
    rows, n = codes.shape
    nchunks = (n + CHUNK - 1) // CHUNK
    mask = np.uint64((1 << k) - 1)
    uk = np.uint64(k)
    for t in range(t0, t1):
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


@parallel(lambda a: _row_tasks(a[1]))
@njit(**SERIAL)
def unpack_rows(t0, t1, buf, codes, k, msb):
    """Unpack (rows, row_bytes) bytes into (rows, n) codes; padding bits are ignored."""
    rows, n = codes.shape
    nchunks = (n + CHUNK - 1) // CHUNK
    mask = np.uint64((1 << k) - 1)
    for t in range(t0, t1):
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
def _reverse_lanes(v, lane):
    """Reverse the order of the 8-bit (lane = 8) or 16-bit (lane = 16) lanes of a uint64."""
    v = ((v & U64(0x00000000FFFFFFFF)) << U64(32)) | (v >> U64(32))
    v = ((v & U64(0x0000FFFF0000FFFF)) << U64(16)) | ((v >> U64(16)) & U64(0x0000FFFF0000FFFF))
    if lane == 8:
        v = ((v & U64(0x00FF00FF00FF00FF)) << U64(8)) | ((v >> U64(8)) & U64(0x00FF00FF00FF00FF))
    return v


@njit(**SCALAR)
def _squeeze(v, k, lane):
    """Lanes (8 or 16 bits) holding k-bit codes -> the low (64/lane)*k bits, lane j at bit j*k."""
    if lane == 8:
        v = (v & U64(0x00FF00FF00FF00FF)) | ((v & U64(0xFF00FF00FF00FF00)) >> U64(8 - k))
        v = (v & U64(0x0000FFFF0000FFFF)) | ((v & U64(0xFFFF0000FFFF0000)) >> U64(16 - 2 * k))
        return (v & U64(0xFFFFFFFF)) | ((v >> U64(32)) << U64(4 * k))
    v = (v & U64(0x0000FFFF0000FFFF)) | ((v & U64(0xFFFF0000FFFF0000)) >> U64(16 - k))
    return (v & U64(0xFFFFFFFF)) | ((v >> U64(32)) << U64(2 * k))


@njit(**SCALAR)
def _spread(v, k, lane):
    """Inverse of ``_squeeze``."""
    if lane == 8:
        m4 = U64((1 << (4 * k)) - 1)
        v = (v & m4) | ((v >> U64(4 * k)) & m4) << U64(32)
        m2 = U64((1 << (2 * k)) - 1) * U64(0x0000000100000001)
        v = (v & m2) | ((v >> U64(2 * k)) & m2) << U64(16)
        m1 = U64((1 << k) - 1) * U64(0x0001000100010001)
        return (v & m1) | ((v >> U64(k)) & m1) << U64(8)
    m2 = U64((1 << (2 * k)) - 1)
    v = (v & m2) | ((v >> U64(2 * k)) & m2) << U64(32)
    m1 = U64((1 << k) - 1) * U64(0x0000000100000001)
    return (v & m1) | ((v >> U64(k)) & m1) << U64(16)


@njit(**SCALAR)
def _low(v, n):
    """The low n (1..64) bits of v."""
    return v if n == 64 else v & ((U64(1) << U64(n)) - U64(1))


@parallel(lambda a: _word_tasks(a[0], a[3], a[5].size))
@njit(**SERIAL)
def pack_words(t0, t1, c64, out64, k, lane, msb, over):
    """One long row: ``c64`` holds the codes (uint8 or uint16 lanes, 64/lane per word, a
    multiple of 64 codes), ``out64`` the stream as uint64 words (k per 64 codes; a word is
    stored so that its bytes are the stream's bytes). ``over[t]``: stray high bits."""
    per_load = 64 // lane
    loads = 64 // per_load                   # loads per 64 codes
    ns = c64.size // loads
    nt = over.size
    chunk = (ns + nt - 1) // nt
    hi = U64(0)
    for j in range(per_load):
        hi |= U64(((1 << lane) - 1) ^ ((1 << k) - 1)) << U64(lane * j)
    nbits = per_load * k                      # stream bits per load
    for t in range(t0, t1):
        bad = U64(0)
        for s in range(t * chunk, min(ns, (t + 1) * chunk)):
            o = s * k
            buf = U64(0)
            nb = 0
            for j in range(loads):
                v = c64[loads * s + j]
                bad |= v & hi
                if msb:   # fill buf from the top; full words are stored byte-reversed
                    acc = _squeeze(_reverse_lanes(v, lane), k, lane)
                    if nb + nbits < 64:
                        buf |= acc << U64(64 - nb - nbits)
                        nb += nbits
                    else:
                        r = nb + nbits - 64
                        out64[o] = _reverse_lanes(buf | (acc >> U64(r)), 8)
                        o += 1
                        buf = acc << U64(64 - r) if r > 0 else U64(0)
                        nb = r
                else:     # fill buf from the bottom
                    acc = _squeeze(v, k, lane)
                    buf |= acc << U64(nb)
                    if nb + nbits < 64:
                        nb += nbits
                    else:
                        out64[o] = buf
                        o += 1
                        r = nb + nbits - 64
                        buf = acc >> U64(nbits - r) if r > 0 else U64(0)
                        nb = r
        over[t] = bad


@parallel(lambda a: _word_tasks(a[1], a[3], a[5]))
@njit(**SERIAL)
def unpack_words(t0, t1, in64, c64, k, lane, msb, nt):
    """Inverse of ``pack_words``."""
    per_load = 64 // lane
    loads = 64 // per_load
    ns = c64.size // loads
    chunk = (ns + nt - 1) // nt
    need = per_load * k
    for t in range(t0, t1):
        for s in range(t * chunk, min(ns, (t + 1) * chunk)):
            i = s * k
            buf = U64(0)
            nb = 0
            for j in range(loads):
                if msb:   # buf holds the next nb stream bits at its top
                    if nb >= need:
                        acc = buf >> U64(64 - need)
                        buf = buf << U64(need) if need < 64 else U64(0)
                        nb -= need
                    else:
                        w = _reverse_lanes(in64[i], 8)
                        i += 1
                        acc = (buf | (w >> U64(nb))) >> U64(64 - need)
                        used = need - nb
                        buf = w << U64(used) if used < 64 else U64(0)
                        nb = 64 - used
                    c64[loads * s + j] = _reverse_lanes(_spread(acc, k, lane), lane)
                else:     # buf holds the next nb stream bits at its bottom
                    if nb >= need:
                        acc = _low(buf, need)
                        buf = buf >> U64(need) if need < 64 else U64(0)
                        nb -= need
                    else:
                        w = in64[i]
                        i += 1
                        acc = _low(buf | (w << U64(nb)), need)
                        used = need - nb
                        buf = w >> U64(used) if used < 64 else U64(0)
                        nb = 64 - used
                    c64[loads * s + j] = _spread(acc, k, lane)
