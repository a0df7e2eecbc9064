"""The scalar core of every CPU kernel: ``unpack`` reads a code of any format into (kind,
sign, sig, exp) with value = sig * 2**exp; ``pack`` rounds such a value into a code of any
format, by any rounding mode and overflow policy; fmtlib-rng-v1 (``rand_top``) gives the
random bits of stochastic rounding. Every conversion -- encode (float -> code), decode (code
-> float), quantize (both) -- is ``pack(unpack(x))``. All arithmetic is on int64 (uint64 only
inside the RNG): Numba turns int64/uint64 mixes into float64, so the two are never mixed.

The array kernels (:mod:`.element`, :mod:`.mx`, :mod:`.nvfp4`, :mod:`.scaled`) take 1-D
contiguous integer views (the raw bits), the formats' parameter tuples
(:mod:`fmtlib.kernels.params`) and the mode numbers, and write the output allocated by the
caller: no temporaries, one pass over memory. Each is a serial kernel over a range of tasks
``t0 <= t < t1`` (elements, or blocks for the block encoders), wrapped by
:func:`fmtlib.kernels.threads.parallel`: callers pass the arguments after ``t0, t1`` and a
Python thread pool runs the tasks in chunks. Numba's disk cache of every kernel is keyed by all
kernel sources (:mod:`fmtlib.kernels.cache_key`), so the families call these helpers from
their own files without leaving a stale compiled kernel behind.
"""
import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import leading_zeros

from ..config import CALLED, SCALAR


# The constants below are numpy scalars, not Python ints: Numba types a Python int (or a
# literal such as ``1`` or ``False``) passed to a called helper as a Literal and compiles a
# separate version of the helper for each combination of them (six of ``pack`` in one
# `fmtlib compare`, doubling the first run's compile time). int64 and bool arguments share
# one version; LLVM still sees the constants where it inlines.
# kinds returned by unpack
NUMBER, ZERO, INF, NAN = map(np.int64, (0, 1, 2, 3))
# rounding mode ids (fmtlib.rounding.Rounding values)
RNE, RNA, RTZ, DOWN, UP, ODD, STOCH, FLOOR_OVF = map(np.int64, (0, 1, 2, 3, 4, 5, 6, 7))
SATURATE, IEEE, WRAP = map(np.int64, (0, 1, 2))
#: rbits 1 and daz/ftz off, as call-site arguments of pack/unpack
ONE, NO = np.int64(1), np.bool_(False)

# kernel_params of fp32 (fmtlib.kernels.params; tests/test_nvfp4.py checks it)
FP32_P = tuple(map(np.int64, (8, 23, 127, 1, 1, 0, 0x7F7FFFFF, 0x7FC00000, 0x7F800000, -126, 127, 0)))

#: array indices in the kernels' loops: unsigned, so that no negative-index wraparound code
#: stops LLVM from vectorising (task and element indices are never negative)
U = np.uint64

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@njit(**SCALAR)
def mix64(z):
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(**SCALAR)
def rand_top(key, index, rbits):
    """Top ``rbits`` (1..62) bits of fmtlib-rng-v1 for element ``index``, as int64."""
    z = mix64(np.uint64(key) + (np.uint64(index) + np.uint64(1)) * _GAMMA)
    return np.int64(z >> np.uint64(64 - rbits))


@njit(**SCALAR)
def draw(rand, key, base, i, rbits):
    """The random integer of element ``i`` of a block kernel: the caller's ``rand[i]``, or,
    where ``rand`` is empty, :func:`rand_top` of index ``base + i``."""
    if rand.size:
        return np.int64(rand[U(i)])
    return rand_top(key, base + i, rbits)


@njit(**SCALAR)
def bit_length(v):
    """Number of bits of a positive int64."""
    return 64 - leading_zeros(np.int64(v))


@njit(**CALLED)
def unpack_int(code, P):
    """Split an integer code into (kind, sign, magnitude, 0)."""
    bits = P[0]
    top = np.int64(1) << (bits - 1)
    if not P[2]:
        v = code
    elif P[1]:  # sign-magnitude
        v = -(code & (top - 1)) if code & top else code
    else:
        v = code - (top << 1) if code & top else code
    if v == 0:  # sign-magnitude 100..0 is -0
        return ZERO, np.int64(1) if code == top and P[1] else np.int64(0), np.int64(0), np.int64(0)
    return NUMBER, np.int64(1) if v < 0 else np.int64(0), abs(v), np.int64(0)


@njit(**SCALAR)
def int_code(v, P):
    """The code of an integer value in range."""
    if P[1] and v < 0:  # sign-magnitude
        return (np.int64(1) << (P[0] - 1)) | -v
    return v & ((np.int64(1) << P[0]) - 1)


@njit(**CALLED)
def pack_int(kind, sign, sig, exp, P, mode, overflow, rnd, rbits):
    """Round (kind, sign, sig * 2**exp) to an integer code: NaN -> 0, inf -> the end of the range,
    out of range -> saturate, or wrap modulo 2**bits."""
    bits, lo, hi = P[0], P[3], P[4]
    if kind == NAN or kind == ZERO:
        return np.int64(0)
    if kind == INF:
        return int_code(lo if sign else hi, P)
    if exp >= 0:
        if exp + bit_length(sig) > 62:  # far out of range
            if overflow == WRAP:
                m = np.int64(0) if exp >= bits else (sig & ((np.int64(1) << (bits - exp)) - 1)) << exp
                return (-m if sign else m) & ((np.int64(1) << bits) - 1)
            return int_code(lo if sign else hi, P)
        n = sig << exp
    else:
        n = round_shift(sig, -exp, mode, sign, rnd, rbits)
    v = -n if sign else n
    if mode == FLOOR_OVF and (v > hi or v < lo) and exp < 0:
        v = -(sig >> -exp) if sign else sig >> -exp
    if lo <= v <= hi:
        return int_code(v, P)
    if overflow == WRAP:
        return v & ((np.int64(1) << bits) - 1)
    return int_code(hi if v > hi else lo, P)


@njit(**CALLED)
def unpack(code, P, daz):
    """Split a code of format P into (kind, sign, sig, exp); value = (-1)**sign * sig * 2**exp."""
    if P[11] == 1:
        return unpack_int(code, P)
    ebits = P[0]
    mbits = P[1]
    magbits = ebits + mbits
    mag = code & ((((np.int64(1) << (magbits - 1)) - 1) << 1) | 1)
    sign = (code >> magbits) & 1 if P[3] else np.int64(0)
    E = mag >> mbits
    M = mag & ((np.int64(1) << mbits) - 1)
    spec = P[5]
    if spec == 0 and E == (np.int64(1) << ebits) - 1:
        return (INF if M == 0 else NAN), sign, np.int64(0), np.int64(0)
    if spec == 1 and mag == (((np.int64(1) << (magbits - 1)) - 1) << 1) | 1:
        return NAN, sign, np.int64(0), np.int64(0)
    if spec == 2 and sign == 1 and mag == 0:
        return NAN, sign, np.int64(0), np.int64(0)
    if P[4] and E == 0:
        if M == 0 or daz:
            return ZERO, sign, np.int64(0), np.int64(0)
        return NUMBER, sign, M, 1 - P[2] - mbits
    return NUMBER, sign, M | (np.int64(1) << mbits), E - P[2] - mbits


@njit(**SCALAR)
def nan_result(sign, P):
    """Code for a NaN: the format's NaN with the sign kept (fnuz: its one NaN).

    Formats without NaN follow ml_dtypes: the zero of the opposite sign."""
    if P[7] >= 0:
        if P[5] == 2 or not P[3]:
            return P[7]
        return P[7] | (sign << (P[0] + P[1]))
    if not P[3]:
        return np.int64(0)
    return (1 - sign) << (P[0] + P[1])


@njit(**SCALAR)
def toward_zero(mode, sign):
    return mode == RTZ or mode == ODD or mode == FLOOR_OVF or (mode == DOWN and sign == 0) or (
        mode == UP and sign == 1)


@njit(**SCALAR)
def overflow_result(sign, P, mode, overflow):
    smask = sign << (P[0] + P[1])
    if overflow == SATURATE or toward_zero(mode, sign):
        return P[6] | smask
    if P[8] >= 0:
        return P[8] | smask
    if P[7] >= 0:
        return nan_result(sign, P)
    return P[6] | smask


@njit(**SCALAR)
def negative_unsigned(P, overflow):
    if overflow == IEEE and P[7] >= 0:
        return P[7]
    return np.int64(0)


@njit(**SCALAR)
def round_shift(sig, s, mode, sign, rnd, rbits):
    """``sig / 2**s`` (sig < 2**53) rounded to an integer by ``mode``: the one rounding rule.

    "Even"/"odd" are of the integer result. Stochastic: with F = floor(frac * 2**rbits),
    round up where F + rnd >= 2**rbits."""
    if s <= 0:
        return sig << (-s)
    if s > 62:  # sig < 2**53 <= 2**(s-1): below half, nonzero
        n = np.int64(0)
        rem = np.int64(0)
        above = False
        tie = False
    else:
        n = sig >> s
        rem = sig & ((np.int64(1) << s) - 1)
        if rem == 0:
            return n
        half = np.int64(1) << (s - 1)
        above = rem > half  # dropped part > half an ulp
        tie = rem == half
    if mode == RNE or mode == FLOOR_OVF:
        return n + 1 if above or (tie and (n & 1) == 1) else n
    if mode == RNA:
        return n + 1 if above or tie else n
    if mode == UP:
        return n + 1 - sign
    if mode == DOWN:
        return n + sign
    if mode == ODD:
        return n | 1
    if mode == STOCH:
        if s <= 62:
            F = rem << (rbits - s) if rbits >= s else rem >> (s - rbits)
        else:
            d = s - rbits
            F = sig >> d if d < 63 else np.int64(0)
        return n + 1 if F != 0 and rnd >= (np.int64(1) << rbits) - F else n
    return n  # toward zero


@njit(**CALLED)
def pack(kind, sign, sig, exp, P, mode, overflow, rnd, rbits, ftz):
    """Round (kind, sign, sig * 2**exp) to a code of format P.

    ``rnd`` holds ``rbits`` random bits (stochastic mode only)."""
    if P[11] == 1:
        return pack_int(kind, sign, sig, exp, P, mode, overflow, rnd, rbits)
    mbits = P[1]
    signed = P[3]
    smask = sign << (P[0] + mbits) if signed else np.int64(0)
    if kind == NAN:
        return nan_result(sign, P)
    if kind == INF:
        if sign and not signed:
            return negative_unsigned(P, overflow)
        if overflow == IEEE:
            if P[8] >= 0:
                return P[8] | smask
            if P[7] >= 0:
                return nan_result(sign, P)
        return P[6] | smask
    if kind == ZERO:
        if not P[4]:  # no zero in the format
            if overflow == IEEE and P[7] >= 0:
                return P[7]
            return np.int64(0)
        if P[5] == 2:
            return np.int64(0)
        return smask
    if sign and not signed:
        return negative_unsigned(P, overflow)

    emin = P[9]
    L = exp + bit_length(sig) - 1  # floor(log2(value))
    if L > P[10] + 1:
        return overflow_result(sign, P, mode, overflow)
    if L < emin and not P[4]:
        return smask  # no zero: clamp to the smallest magnitude
    eff = L if L > emin else emin
    s = eff - mbits - exp  # bits of sig below the target's last place

    n = round_shift(sig, s, mode, sign, rnd, rbits)
    c = ((eff - emin) << mbits) + n
    if not P[4]:
        c -= np.int64(1) << mbits
    if ftz and P[4] and c < (np.int64(1) << mbits):
        c = np.int64(0)
    if c > P[6]:
        return overflow_result(sign, P, mode, overflow)
    if c == 0 and P[5] == 2:
        return np.int64(0)
    return c | smask


@njit(**SCALAR)
def _block_span(t, nb, ncols, block):
    """[start, end) of block ``t`` in rows of ``ncols`` with ``nb`` blocks each."""
    r = t // nb
    start = r * ncols + (t - r * nb) * block
    return start, min(start + block, r * ncols + ncols)


@njit(**CALLED)
def _nan_block(codes, out, start, end, nan, fused):
    """A block with the NaN scale: codes 0, or (fused) ``nan`` (the output's NaN bits, or a
    float NaN where ``out`` holds floats) into every value."""
    for i in range(start, end):
        if fused:
            out[i] = nan
        else:
            codes[i] = 0
