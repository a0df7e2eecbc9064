"""Conversion kernels on raw bits: scalar helpers and the element-wise loops over them.

``unpack`` reads a code of any format into (kind, sign, sig, exp) with
value = sig * 2**exp; ``pack`` rounds such a value into a code of any format. Every
conversion -- encode (float -> code), decode (code -> float), quantize (both) -- is
``pack(unpack(x))``. All arithmetic is on int64 (uint64 only inside the RNG): Numba
turns int64/uint64 mixes into float64, so the two are never mixed.

The array kernels take 1-D contiguous integer views (the raw bits), the two formats'
parameter tuples (:mod:`fmtlib.kernels.params`) and the mode numbers, and write the output
allocated by the caller: no temporaries, one pass over memory. Each is a serial kernel over
a range of tasks ``t0 <= t < t1`` (elements, or blocks for the block encoders), wrapped by
:func:`fmtlib.kernels.threads.parallel`: callers pass the arguments after ``t0, t1`` and a
Python thread pool runs the tasks in chunks.

Numba's disk cache of every kernel is keyed by all kernel sources
(:mod:`fmtlib.kernels.cache_key`), so a helper may live in another kernel file without leaving
a stale compiled kernel behind (:mod:`fmtlib.kernels.threads` is plain Python).
"""
import math

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import leading_zeros

from ..config import CALLED, SCALAR, SERIAL
from ..threads import parallel


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


@parallel("elements")
@njit(**SERIAL)
def convert(t0, t1, src, out, Psrc, Pdst, mode, overflow, key, base, rbits, daz, ftz):
    """out[i] = code of src[i] (format Psrc) rounded into format Pdst."""
    for i in range(t0, t1):
        kind, sign, sig, exp = unpack(np.int64(src[U(i)]), Psrc, daz)
        rnd = rand_top(key, base + i, rbits) if mode == STOCH else np.int64(0)
        out[U(i)] = pack(kind, sign, sig, exp, Pdst, mode, overflow, rnd, rbits, ftz)


@parallel("elements")
@njit(**SERIAL)
def convert_rand(t0, t1, src, rand, out, Psrc, Pdst, mode, overflow, rbits, daz, ftz):
    """As :func:`convert`, stochastic, with the random bits given per element in ``rand``."""
    for i in range(t0, t1):
        kind, sign, sig, exp = unpack(np.int64(src[U(i)]), Psrc, daz)
        out[U(i)] = pack(kind, sign, sig, exp, Pdst, mode, overflow, np.int64(rand[U(i)]), rbits, ftz)


@parallel("elements")
@njit(**SERIAL)
def roundtrip(t0, t1, src, out, Psrc, Pfmt, mode, overflow, key, base, rbits, daz, ftz):
    """Fused quantize: round src into format Pfmt, then back to Psrc (nearest-even)."""
    for i in range(t0, t1):
        kind, sign, sig, exp = unpack(np.int64(src[U(i)]), Psrc, daz)
        rnd = rand_top(key, base + i, rbits) if mode == STOCH else np.int64(0)
        code = pack(kind, sign, sig, exp, Pfmt, mode, overflow, rnd, rbits, ftz)
        kind, sign, sig, exp = unpack(code, Pfmt, NO)
        out[U(i)] = pack(kind, sign, sig, exp, Psrc, RNE, IEEE, np.int64(0), ONE, NO)


@parallel("elements")
@njit(**SERIAL)
def roundtrip_rand(t0, t1, src, rand, out, Psrc, Pfmt, mode, overflow, rbits, daz, ftz):
    """As :func:`roundtrip`, with the random bits given per element in ``rand``."""
    for i in range(t0, t1):
        kind, sign, sig, exp = unpack(np.int64(src[U(i)]), Psrc, daz)
        code = pack(kind, sign, sig, exp, Pfmt, mode, overflow, np.int64(rand[U(i)]), rbits, ftz)
        kind, sign, sig, exp = unpack(code, Pfmt, NO)
        out[U(i)] = pack(kind, sign, sig, exp, Psrc, RNE, IEEE, np.int64(0), ONE, NO)


# --- fast path for quantize ---------------------------------------------------------------
# For IEEE input (float64/32/16, bfloat16) to a signed format with subnormals and no flushing,
# whose values the input format holds (emin, emax and the quantum q = 2**(emin - mbits) in
# range, fewer mantissa bits), quantize works on the input bits alone. A value at or above q
# rounds like its bits with the low ``se`` bits rounded off: se = m_in - mbits in the normal
# range, up to m_in in the subnormal range (se = m_in keeps only the implicit bit, so n's
# parity is that bit). Any carry runs into the exponent, which is the next binade. Below q
# the result is 0 or q. Overflow, inf and NaN results depend only on the input's sign: the
# wrapper computes them once with the generic path (``special``: ovf+, ovf-, inf+, inf-,
# nan+, nan-). The loop has no data-dependent branch, so it vectorises.
#
# C = (s, e_thr, q_bits, halfq_bits, lq, max_bits, zero_sign, m_in, sign_pos, k0):
# s = m_in - mbits; e_thr = biased input exponent of 2**emin; q_bits, halfq_bits, max_bits =
# input bits of q, q/2 and max; lq = log2(q); zero_sign = the sign bit, or 0 where -0 is not
# kept (fnuz); m_in = input mantissa bits; sign_pos = input sign bit position;
# k0 = input bias + m_in (so |x| = sig * 2**(e_eff - k0)).


@njit(**SCALAR)
def _ieee_fields(b, m_in, sign_pos):
    """IEEE bits -> (magnitude bits, sign, biased exponent E, max(E, 1), significand with its
    implicit bit, sign bit, magnitude mask)."""
    sign_bit = np.int64(1) << sign_pos
    absmask = ~sign_bit if sign_pos == 63 else sign_bit - 1
    implicit = np.int64(1) << m_in
    a = b & absmask
    E = a >> m_in
    sig = (a & (implicit - 1)) | (implicit if E > 0 else np.int64(0))
    return a, (b >> sign_pos) & 1, E, max(E, np.int64(1)), sig, sign_bit, absmask


@njit(**SCALAR)
def _fast_round(b, rnd, C, special, mode, rbits):
    s, e_thr, q_bits, halfq_bits, lq, max_bits, zero_sign, m_in, sign_pos, k0 = C
    a, neg, E, e_eff, sig, sign_bit, absmask = _ieee_fields(b, m_in, sign_pos)
    implicit = np.int64(1) << m_in
    se = min(s + max(e_thr - e_eff, np.int64(0)), m_in)
    bit = np.int64(1) << se
    mask = bit - 1
    up_away = (mode == UP and neg == 0) or (mode == DOWN and neg == 1)
    if mode == STOCH:
        inc = (rnd >> max(rbits - se, np.int64(0))) << max(se - rbits, np.int64(0))
    elif mode == RNA:
        inc = bit >> 1
    elif up_away:
        inc = mask
    elif mode == RNE or mode == FLOOR_OVF:
        inc = (bit >> 1) - 1 + (((a | implicit) >> se) & 1)
    else:  # toward zero, the truncating side of up/down, odd
        inc = np.int64(0)
    r = (a + inc) & ~mask
    if mode == ODD:  # inexact and n even: make n odd (at se = m_in, n = the implicit 1 is odd)
        r |= bit if (a & mask) != 0 and (((a | implicit) >> se) & 1) == 0 else np.int64(0)
    # below the quantum q: 0 or q
    k = min(k0 + lq - e_eff, np.int64(2000))  # |x| / q = sig / 2**k
    F = (sig >> min(max(k - rbits, np.int64(0)), np.int64(63))) << max(rbits - k, np.int64(0))
    if mode == STOCH:
        tiny_up = rnd >= (np.int64(1) << rbits) - F
    elif mode == RNE or mode == FLOOR_OVF:
        tiny_up = a > halfq_bits
    elif mode == RNA:
        tiny_up = a >= halfq_bits
    elif up_away or mode == ODD:
        tiny_up = a > 0
    else:
        tiny_up = False
    r = (q_bits if tiny_up else np.int64(0)) if a < q_bits else r
    v = r | ((b & sign_bit) & (zero_sign if r == 0 else sign_bit))
    inf_bits = (absmask >> m_in) << m_in
    v = special[neg] if r > max_bits else v
    v = special[2 + neg] if a == inf_bits else v
    v = special[4 + neg] if a > inf_bits else v
    return v


@njit(**SCALAR)
def _value_code(v, C, D):
    """The code of a value the format holds, given as input-format bits ``v`` (from _fast_round).

    D = (bias_in - bias, mbits, mag_bits, signed, inf+, inf-, nan+, nan-): the last four are
    the codes of an inf or NaN value by sign."""
    s, e_thr, q_bits, halfq_bits, lq, max_bits, zero_sign, m_in, sign_pos, k0 = C
    dbias, mbits, mag_bits, signed, inf_p, inf_n, nan_p, nan_m = D
    a, neg, E, e_eff, sig, sign_bit, absmask = _ieee_fields(v, m_in, sign_pos)
    normal = (a >> s) - (dbias << mbits)
    sub = sig >> min(max(k0 + lq - e_eff, np.int64(0)), np.int64(63))
    mag = normal if E >= e_thr else sub
    code = mag | (neg << mag_bits) if signed else mag
    inf_bits = (absmask >> m_in) << m_in
    code = (inf_n if neg else inf_p) if a == inf_bits else code
    code = (nan_m if neg else nan_p) if a > inf_bits else code
    return code


# One loop per rounding family: the mode reaches the inlined _fast_round as a constant, so
# the compiler drops the other modes' branches and the loop vectorises. ``D`` is None for
# quantize (the output is the rounded value's bits) and _value_code's tuple for encode.


@njit(**SCALAR)
def _fast_out(v, C, D):
    return v if D is None else _value_code(v, C, D)


@parallel("elements", fast=True)
@njit(**SERIAL)
def fast_nearest(t0, t1, src, out, C, special, D):
    """Quantize (or encode) float bits, nearest-even (and floor-on-overflow, via ``special``)."""
    sp = (special[0], special[1], special[2], special[3], special[4], special[5])
    for i in range(t0, t1):
        out[U(i)] = _fast_out(_fast_round(np.int64(src[U(i)]), np.int64(0), C, sp, RNE, 1), C, D)


@parallel("elements")
@njit(**SERIAL)
def fast_stochastic(t0, t1, src, out, C, special, D, key, base, rbits):
    """Quantize (or encode) float bits, stochastic (random bits from fmtlib-rng-v1)."""
    sp = (special[0], special[1], special[2], special[3], special[4], special[5])
    for i in range(t0, t1):
        v = _fast_round(np.int64(src[U(i)]), rand_top(key, base + i, rbits), C, sp, STOCH, rbits)
        out[U(i)] = _fast_out(v, C, D)


@parallel("elements")
@njit(**SERIAL)
def fast_stochastic_rand(t0, t1, src, rand, out, C, special, D, rbits):
    """As :func:`fast_stochastic`, with the random bits given per element."""
    sp = (special[0], special[1], special[2], special[3], special[4], special[5])
    for i in range(t0, t1):
        out[U(i)] = _fast_out(_fast_round(np.int64(src[U(i)]), np.int64(rand[U(i)]), C, sp, STOCH, rbits), C, D)


@parallel("elements", fast=True)
@njit(**SERIAL)
def fast_directed(t0, t1, src, out, C, special, D, mode):
    """Quantize (or encode) float bits: nearest-away, toward zero, up, down, odd."""
    sp = (special[0], special[1], special[2], special[3], special[4], special[5])
    for i in range(t0, t1):
        out[U(i)] = _fast_out(_fast_round(np.int64(src[U(i)]), np.int64(0), C, sp, mode, 1), C, D)


# --- nearest-even quantize of float32, bfloat16 and float16 in 32-bit lanes ------------------
# The same results as fast_nearest, with every step in 32-bit integers and float32 so that a
# vector holds twice as many elements: the input's magnitude becomes float32 bits (exactly:
# bfloat16 by a shift, float16 by scaling its bits read as a float32 by 2**112), then
# - at or above the element's smallest normal 2**emin: integer round-to-nearest-even of the
#   float32 bits at s = 23 - mbits (add half an ulp minus one plus the lowest kept bit of the
#   significand, mask; a carry runs into the exponent, which is the next binade; with no
#   mantissa bits the kept bit is the implicit 1, as in ``round_shift``);
# - below it: the FPU's own round-to-nearest-even, by adding and subtracting the power of two
#   Q = 2**(emin - mbits + 23), whose ulp is the element's quantum (|x| < 2**emin <= Q, so
#   |x| + Q lies in [Q, 2Q) and the subtraction is exact);
# and back to the input format (exact: the element's values are the input format's). Overflow,
# inf and NaN results are the input format's bits by sign, as for fast_nearest (``special``);
# float arithmetic here never meets an inf or NaN that it keeps. K = (s, bits of 2**emin,
# bits of Q, bits of max, the sign bit where -0 is kept, else 0), float32 bits but the last.


@njit(**SCALAR)
def _f32_bits_of(a, kind):
    """float32 bits of the magnitude bits ``a`` of a float32 (kind 0), bfloat16 (1) or float16
    (2); float16 inf/NaN give garbage (the caller replaces those results)."""
    if kind == 0:
        return a
    if kind == 1:
        return np.uint32(a << np.uint32(16))
    return np.float32(np.uint32(a << np.uint32(13)).view(np.float32) * np.float32(5.192296858534828e33)).view(
        np.uint32)  # * 2**112


@njit(**SCALAR)
def _bits_from_f32(r, kind):
    """Input-format bits of float32 magnitude bits ``r`` of a value the input format holds."""
    if kind == 0:
        return r
    if kind == 1:
        return np.uint32(r >> np.uint32(16))
    return np.uint32(np.float32(np.uint32(r).view(np.float32) * np.float32(1.925929944387236e-34)).view(np.uint32)
                     >> np.uint32(13))  # * 2**-112


@njit(**SCALAR)
def _nearest32_loop(t0, t1, src, out, K, sp, kind):
    u = np.uint32
    one = u(1)
    if kind == 0:
        m_in, sign_bit = u(23), u(0x80000000)
    elif kind == 1:
        m_in, sign_bit = u(7), u(0x8000)
    else:
        m_in, sign_bit = u(10), u(0x8000)
    absmask = u(sign_bit - one)
    inf_bits = u(u(absmask >> m_in) << m_in)
    s = u(K[0] & u(31))
    emin_bits, max_bits, zero_sign = K[1], K[3], K[4]
    magic = np.uint32(K[2]).view(np.float32)
    implicit = u(0x800000)
    half1 = u(u(u(one << s) >> one) - one)
    keep = u(~u(u(one << s) - one))
    ovf_p, ovf_d = sp[0], u(sp[0] ^ sp[1])
    inf_p, inf_d = sp[2], u(sp[2] ^ sp[3])
    nan_p, nan_d = sp[4], u(sp[4] ^ sp[5])
    op16, od16, ip16, id16, np16, nd16 = (np.uint16(ovf_p), np.uint16(ovf_d), np.uint16(inf_p), np.uint16(inf_d),
                                          np.uint16(nan_p), np.uint16(nan_d))
    zs16 = np.uint16(zero_sign)
    for i in range(t0, t1):
        b = u(src[U(i)])
        a = u(b & absmask)
        sign = u(b & sign_bit)
        smask = u(u(0) - u(sign != 0))
        f = _f32_bits_of(a, kind)
        rn = u(u(f + half1 + u(u(u(f | implicit) >> s) & one)) & keep)  # implicit: mbits 0 ties up
        rs = np.float32((np.uint32(f).view(np.float32) + magic) - magic).view(np.uint32)
        r32 = rs if f < emin_bits else rn
        r = _bits_from_f32(r32, kind)
        if kind == 0:
            v = u(r | (sign & (zero_sign if r == 0 else sign_bit)))
            v = u(ovf_p ^ (ovf_d & smask)) if r32 > max_bits else v
            v = u(inf_p ^ (inf_d & smask)) if a == inf_bits else v
            v = u(nan_p ^ (nan_d & smask)) if a > inf_bits else v
            out[U(i)] = v
        else:  # the same in 16 bits: twice the lanes
            h = np.uint16
            s16 = h(sign)
            m16 = h(smask)
            r16 = h(r)
            w = h(r16 | h(s16 & (zs16 if r16 == 0 else h(0x8000))))
            w = h(op16 ^ h(od16 & m16)) if r32 > max_bits else w
            w = h(ip16 ^ h(id16 & m16)) if h(a) == h(inf_bits) else w
            w = h(np16 ^ h(nd16 & m16)) if h(a) > h(inf_bits) else w
            out[U(i)] = w


@parallel("elements", fast=True)
@njit(**SERIAL)
def fast_nearest_f32(t0, t1, src, out, K, special):
    """Quantize float32 bits (uint32), nearest-even (and floor-on-overflow, via ``special``):
    see above."""
    _nearest32_loop(t0, t1, src, out, K, special, 0)


@parallel("elements", fast=True)
@njit(**SERIAL)
def fast_nearest_16(t0, t1, src, out, K, special, fp16):
    """:func:`fast_nearest_f32` for bfloat16 or (``fp16``) float16 bits (uint16)."""
    if fp16:
        _nearest32_loop(t0, t1, src, out, K, special, 2)
    else:
        _nearest32_loop(t0, t1, src, out, K, special, 1)


# One kernel for float32 input (uint32 bits) and one for the 16-bit inputs (uint16 bits) of each
# 32-bit lane loop: a kernel compiles every loop it names, so the float32 one names only its own.


@parallel("elements", fast=True)
@njit(**SERIAL)
def fast_encode_f32(t0, t1, src, out, K, E, codes):
    """Encode float32 bits to codes, nearest-even (and floor-on-overflow): the rounding of
    :func:`_nearest32_loop`, then the code of the rounded float32 magnitude r:
    ``(r >> s) - ((127 - bias) << mbits)`` at or above 2**emin, the significand shifted to the
    quantum below. ``E = (mag_bits, (127 - bias) << mbits, 1 where -0 is kept)``; ``codes``: the
    overflow, inf and NaN codes by sign."""
    _encode32_loop(t0, t1, src, out, K, E, codes, 0)


@parallel("elements", fast=True)
@njit(**SERIAL)
def fast_encode_16(t0, t1, src, out, K, E, codes, fp16):
    """:func:`fast_encode_f32` for bfloat16 or (``fp16``) float16 bits."""
    if fp16:
        _encode32_loop(t0, t1, src, out, K, E, codes, 2)
    else:
        _encode32_loop(t0, t1, src, out, K, E, codes, 1)


@njit(**SCALAR)
def _encode32_loop(t0, t1, src, out, K, E, codes, kind):
    u = np.uint32
    one = u(1)
    if kind == 0:
        m_in, sign_bit = u(23), u(0x80000000)
    elif kind == 1:
        m_in, sign_bit = u(7), u(0x8000)
    else:
        m_in, sign_bit = u(10), u(0x8000)
    absmask = u(sign_bit - one)
    inf_bits = u(u(absmask >> m_in) << m_in)
    s = u(K[0] & u(31))
    emin_bits, max_bits, kq = K[1], K[3], K[7]
    magic = np.uint32(K[2]).view(np.float32)
    implicit = u(0x800000)
    half1 = u(u(u(one << s) >> one) - one)
    keep = u(~u(u(one << s) - one))
    mag_bits, bias_shift, keep_neg_zero = u(E[0] & u(31)), E[1], u(E[2] & one)
    c = (u(codes[0]), u(codes[1]), u(codes[2]), u(codes[3]), u(codes[4]), u(codes[5]))
    for i in range(t0, t1):
        b = u(src[U(i)])
        a = u(b & absmask)
        negu = u(u(b & sign_bit) != 0)
        neg = negu != 0
        f = _f32_bits_of(a, kind)
        rn = u(u(f + half1 + u(u(u(f | implicit) >> s) & one)) & keep)
        rs = np.float32((np.uint32(f).view(np.float32) + magic) - magic).view(np.uint32)
        r = rs if f < emin_bits else rn
        ee = max(u(r >> u(23)), one)
        sub = u(u(u(r & u(0x7FFFFF)) | (implicit if r >= implicit else u(0))) >> min(u(kq - ee), u(31)))
        mag = u(u(r >> s) - bias_shift) if r >= emin_bits else sub
        code = u(mag | u(u(negu & u(u(r != 0) | keep_neg_zero)) << mag_bits))
        code = (c[1] if neg else c[0]) if r > max_bits else code
        code = (c[3] if neg else c[2]) if a == inf_bits else code
        code = (c[5] if neg else c[4]) if a > inf_bits else code
        out[U(i)] = code


@parallel("elements", fast=True)
@njit(**SERIAL)
def fast_decode_f32(t0, t1, codes, out, Kd, sp):
    """Decode codes of a format the output holds (fast_path.eligible) into float32 bits by
    arithmetic: a normal magnitude code shifted into the float32 fields plus the bias
    difference, a subnormal one as float32(m) * quantum (exact), inf and NaN by comparisons.
    ``Kd = (mbits, mag_bits, (127 - bias) << 23, bits of the quantum, inf magnitude, the least
    NaN magnitude, the fnuz NaN code)`` (an impossible value where the format has none); ``sp``:
    the output bits of inf and NaN by sign."""
    _decode32_loop(t0, t1, codes, out, Kd, sp, 0)


@parallel("elements", fast=True)
@njit(**SERIAL)
def fast_decode_16(t0, t1, codes, out, Kd, sp, fp16):
    """:func:`fast_decode_f32` into bfloat16 or (``fp16``) float16 bits."""
    if fp16:
        _decode32_loop(t0, t1, codes, out, Kd, sp, 2)
    else:
        _decode32_loop(t0, t1, codes, out, Kd, sp, 1)


@njit(**SCALAR)
def _decode32_loop(t0, t1, codes, out, Kd, sp, kind):
    u = np.uint32
    mbits, mag_bits, bias_shift, inf_mag, nan_lo, fnuz_nan = Kd[0] & u(31), Kd[1] & u(31), Kd[2], Kd[4], Kd[5], Kd[6]
    quantum = np.uint32(Kd[3]).view(np.float32)
    s = u(u(23) - mbits)
    magmask = u(u(u(1) << mag_bits) - u(1))
    out_sign = u(0x80000000) if kind == 0 else u(0x8000)
    inf_p, inf_n, nan_p, nan_n = u(sp[0]), u(sp[1]), u(sp[2]), u(sp[3])
    for i in range(t0, t1):
        c = u(codes[U(i)])
        mag = u(c & magmask)
        neg = u(c >> mag_bits) != 0
        normal = u(u(mag << s) + bias_shift)
        sub = np.float32(np.float32(np.int32(mag)) * quantum).view(np.uint32)
        r = _bits_from_f32(normal if u(mag >> mbits) != 0 else sub, kind)
        v = u(r | (out_sign if neg else u(0)))
        v = (inf_n if neg else inf_p) if mag == inf_mag else v
        v = (nan_n if neg else nan_p) if mag >= nan_lo or c == fnuz_nan else v
        out[U(i)] = v


# Stochastic rounding in 32-bit lanes, the same bits as fast_stochastic: fmtlib-rng-v1 gives a
# 64-bit z per element, rnd = its top rbits bits. In the float32 domain (as above) the dropped
# field has se = min(s + max(e_thr - max(E, 1), 0), 23) bits and the increment is the top
# min(se, rbits) bits of z placed at the top of that field (a carry rounds away from zero);
# below the quantum q the result is q where rnd >= 2**rbits - F, F = floor(|x| / q * 2**rbits)
# (64-bit). A bfloat16 or float16 input widened to float32 keeps its dropped field's bits at the
# top of the wider field, whose carry is then the same. K as above, then
# (biased float32 exponent of 2**emin, bits of q, 150 + log2 q).


@njit(**SCALAR)
def _stochastic32_loop(t0, t1, src, out, K, sp, key, base, rbits, kind):
    u = np.uint32
    one = u(1)
    if kind == 0:
        m_in, sign_bit = u(23), u(0x80000000)
    elif kind == 1:
        m_in, sign_bit = u(7), u(0x8000)
    else:
        m_in, sign_bit = u(10), u(0x8000)
    absmask = u(sign_bit - one)
    inf_bits = u(u(absmask >> m_in) << m_in)
    s, max_bits, zero_sign, e_thr, q_bits = K[0], K[3], K[4], K[5], K[6]
    kq = np.int64(K[7])
    rb = u(rbits)
    top = np.int64(1) << rbits
    ovf_p, ovf_d = sp[0], u(sp[0] ^ sp[1])
    inf_p, inf_d = sp[2], u(sp[2] ^ sp[3])
    nan_p, nan_d = sp[4], u(sp[4] ^ sp[5])
    h = np.uint64(key) + (np.uint64(base + t0) + np.uint64(1)) * _GAMMA   # rand_top's counter, stepped
    for i in range(t0, t1):
        z = mix64(h)
        h += _GAMMA
        b = u(src[U(i)])
        a = u(b & absmask)
        sign = u(b & sign_bit)
        smask = u(u(0) - u(sign != 0))
        f = _f32_bits_of(a, kind)
        ee = max(u(f >> u(23)), one)
        se = min(u(s + u(max(e_thr, ee) - ee)), u(23))
        t = min(se, rb)
        inc = u(u(u(z >> np.uint64(32)) >> u(u(32) - t)) << u(se - t))
        rr = u(u(f + inc) & u(u(0) - u(one << se)))
        sig = np.int64(u(f & u(0x7FFFFF)) | (u(0x800000) if f >= u(0x800000) else u(0)))
        k = kq - np.int64(ee)
        F = (sig >> min(max(k - rbits, np.int64(0)), np.int64(63))) << max(rbits - k, np.int64(0))
        up = np.int64(z >> np.uint64(64 - rbits)) >= top - F
        r32 = (q_bits if up else u(0)) if f < q_bits else rr
        r = _bits_from_f32(r32, kind)
        v = u(r | (sign & (zero_sign if r == 0 else sign_bit)))
        v = u(ovf_p ^ (ovf_d & smask)) if r32 > max_bits else v
        v = u(inf_p ^ (inf_d & smask)) if a == inf_bits else v
        v = u(nan_p ^ (nan_d & smask)) if a > inf_bits else v
        out[U(i)] = v


@parallel("elements")
@njit(**SERIAL)
def fast_stochastic_f32(t0, t1, src, out, K, special, key, base, rbits):
    """Quantize float32 bits, stochastic: see above."""
    _stochastic32_loop(t0, t1, src, out, K, special, key, base, rbits, 0)


@parallel("elements")
@njit(**SERIAL)
def fast_stochastic_16(t0, t1, src, out, K, special, key, base, rbits, fp16):
    """:func:`fast_stochastic_f32` for bfloat16 or (``fp16``) float16 bits."""
    if fp16:
        _stochastic32_loop(t0, t1, src, out, K, special, key, base, rbits, 2)
    else:
        _stochastic32_loop(t0, t1, src, out, K, special, key, base, rbits, 1)


@parallel("elements", fast=True)
@njit(**SERIAL)
def gather(t0, t1, codes, table, out):
    """out[i] = table[codes[i]]: decode by lookup (codes already range-checked)."""
    for i in range(t0, t1):
        out[U(i)] = table[codes[U(i)]]


# --- block scaling with a power-of-two shared scale (OCP MX) ------------------------------
# Rows of ``ncols`` elements (the blocked axis is the last one), blocks of ``block``
# consecutive elements; a short last block is the rest of the row (the same as padding it
# with zeros, which change no amax). Per block: X = 2**se with se from amax by the scale
# rule, clamped to [-127, 127] (-127 for an all-zero block); an inf or NaN in the block
# makes the scale NaN (code 255) and the whole block decodes to NaN. Elements are
# x / X rounded into the element format with saturation, done on the exponent so it is exact.
# An element format whose values are its codes times 2**-eshift (MXINT8: k/64) is handled by
# moving the exponent by eshift. Sources: OCP MX v1.0 section 6.3; microsoft/microxcaling
# mx/mx_ops.py; gfloat block.py; scale rules: pytorch/ao mx_formats/mx_tensor.py.

# scale rules (fmtlib.codecs.mx.SCALE_RULES)
FLOOR, CEIL, EVEN, RCEIL = 0, 1, 2, 3


@njit(**SCALAR)
def _rceil_limit(e, M):
    """The largest amax whose float32 quotient amax / M (nearest-even) is at most 2**e."""
    half_ulp = math.ldexp(1.0, e - 24) if e >= -126 else math.ldexp(1.0, -150)
    return M * (math.ldexp(1.0, e) + half_ulp)


@njit(**SCALAR)
def _pow2_scale(sig, exp, rule, emax, mbits, M):
    """Shared exponent of a block whose amax is sig * 2**exp > 0, by scale ``rule``, clamped.

    FLOOR: floor(log2 amax) - emax (OCP). CEIL: ceil(log2 amax) - emax. EVEN: FLOOR of
    amax rounded half-up to mbits + 1 significant bits. These give 128 (the NaN scale) above
    127. RCEIL: ceil(log2(fl32(amax / M))), M the element's largest value, clamped to 127
    (cuBLAS / PTX cvt.rp.satfinite.ue8m0)."""
    b = bit_length(sig)
    L = exp + b - 1
    if rule == CEIL:
        if sig != np.int64(1) << (b - 1):
            L += 1
    elif rule == EVEN:
        k = b - mbits - 2
        if k >= 0 and sig >= (np.int64(1) << b) - (np.int64(1) << k):
            L += 1
    if rule != RCEIL:  # above 127: the NaN scale (microxcaling, torchao); gfloat clips to 127
        return min(max(L - emax, np.int64(-127)), np.int64(128))
    a = math.ldexp(float(sig), exp)
    m, k = math.frexp(a / M)
    e = np.int64(k) if m > 0.5 else np.int64(k - 1)
    e = min(max(e, np.int64(-127)), np.int64(127))
    while e > -127 and a <= _rceil_limit(e - 1, M):
        e -= 1
    while e < 127 and a > _rceil_limit(e, M):
        e += 1
    return e


@njit(**SCALAR)
def _mx_block_exponent(src, start, end, Psrc, rule, emax, mbits, M):
    """Shared exponent of src[start:end] by scale ``rule``; 128 for a block with inf or NaN."""
    lmax = np.int64(-(1 << 40))
    msig = np.int64(0)
    mexp = np.int64(0)
    for i in range(start, end):
        kind, sign, sig, exp = unpack(np.int64(src[U(i)]), Psrc, NO)
        if kind == NAN or kind == INF:
            return np.int64(128)
        if kind == NUMBER:
            L = exp + bit_length(sig) - 1
            # compare sig * 2**exp values: by binade, then by significand aligned to 53 bits
            if L > lmax or (L == lmax and (sig << (53 - bit_length(sig))) > (msig << (53 - bit_length(msig)))):
                lmax, msig, mexp = L, sig, exp
    if msig == 0:
        return np.int64(-127)
    return _pow2_scale(msig, mexp, rule, emax, mbits, M)


@njit(**SCALAR)
def _block_span(t, nb, ncols, block):
    """[start, end) of block ``t`` in rows of ``ncols`` with ``nb`` blocks each."""
    r = t // nb
    start = r * ncols + (t - r * nb) * block
    return start, min(start + block, r * ncols + ncols)


@njit(**SCALAR)
def _mx_decoded(code, se, Pelem, Pout):
    """Bits (format Pout) of element ``code`` times 2**se (se includes -eshift), nearest-even."""
    kind, sign, sig, exp = unpack(code, Pelem, NO)
    return pack(kind, sign, sig, exp + se, Pout, RNE, IEEE, np.int64(0), ONE, NO)


@njit(**SCALAR)
def _mx_element(b, se, Psrc, Pelem, mode, rnd, rbits):
    """The generic path for one MX element: (its code, its decoded bits in format Psrc).

    ``se`` is the exponent that takes element values to input values (scale - eshift)."""
    kind, sign, sig, exp = unpack(b, Psrc, NO)
    code = pack(kind, sign, sig, exp - se, Pelem, mode, SATURATE, rnd, rbits, NO)
    return code, _mx_decoded(code, se, Pelem, Psrc)


@njit(**SCALAR)
def _mx_elements(src, codes, out, start, end, se, Psrc, Pelem, mode, key, base, rbits, fused, rand):
    """Elements src[start:end] of a block whose shared exponent (minus eshift) is ``se``."""
    for i in range(start, end):
        rnd = draw(rand, key, base, i, rbits) if mode == STOCH else np.int64(0)
        code, value = _mx_element(np.int64(src[U(i)]), se, Psrc, Pelem, mode, rnd, rbits)
        if not fused:
            codes[U(i)] = code
        if fused:
            out[U(i)] = value


@parallel("blocks")
@njit(**SERIAL)
def mx_encode(t0, t1, src, codes, scales, out, Psrc, Pelem, S, ncols, block, mode, key, base, rbits, fused, rand):
    """Encode rows of float bits into MX blocks: element ``codes`` and e8m0 ``scales``; with
    ``fused`` the decoded values into ``out`` instead of the codes (quantize). Every block
    kernel below writes codes only when not ``fused``. ``S`` = (rule, elem emax,
    elem mbits, elem max, eshift): see :func:`_pow2_scale`. The block kernels draw each element's
    random integer by :func:`draw` from ``rand`` (empty: fmtlib-rng-v1 keyed by ``base + i``)."""
    rule, emax, mbits, M, eshift = S
    nb = (ncols + block - 1) // block
    for t in range(t0, t1):
        start, end = _block_span(t, nb, ncols, block)
        se = _mx_block_exponent(src, start, end, Psrc, np.int64(rule), np.int64(emax), np.int64(mbits), M)
        scales[U(t)] = se + 127
        if se == 128:
            _nan_block(codes, out, start, end, Psrc[7], fused)
            continue
        _mx_elements(src, codes, out, start, end, se - eshift, Psrc, Pelem, mode, key, base, rbits, fused, rand)


@parallel("elements")
@njit(**SERIAL)
def mx_decode(t0, t1, codes, scales, out, Pelem, Pout, ncols, block, eshift):
    """Values of MX blocks: element times 2**(scale - 127 - eshift); NaN where the scale is NaN."""
    nb = (ncols + block - 1) // block
    for i in range(t0, t1):
        r = i // ncols
        s = np.int64(scales[r * nb + (i - r * ncols) // block])
        if s == 255:
            out[U(i)] = Pout[7]
            continue
        out[U(i)] = _mx_decoded(np.int64(codes[U(i)]), s - 127 - eshift, Pelem, Pout)


@njit(**SCALAR)
def _ieee_block_exponent(src, start, end, m_in, absmask, k0, S):
    """Shared exponent of IEEE bits src[start:end] by the scale rule in S; 128 (the NaN scale)
    for a block holding an inf or NaN. Magnitude bits order like values, so amax is an
    integer max."""
    rule, emax, mbits, M, eshift = S
    amax = np.int64(0)
    for i in range(start, end):
        amax = max(amax, np.int64(src[U(i)]) & absmask)
    if amax >= (absmask >> m_in) << m_in:
        return np.int64(128)
    if amax == 0:
        return np.int64(-127)
    E = amax >> m_in
    mant = amax & ((np.int64(1) << m_in) - 1)
    if E > 0:
        return _pow2_scale(mant | (np.int64(1) << m_in), E - k0, np.int64(rule), np.int64(emax), np.int64(mbits), M)
    return _pow2_scale(mant, 1 - k0, np.int64(rule), np.int64(emax), np.int64(mbits), M)


@njit(**CALLED)
def _nan_block(codes, out, start, end, nan, fused):
    """A block with the NaN scale: codes 0, or (fused) ``nan`` (the output's NaN bits, or a
    float NaN where ``out`` holds floats) into every value."""
    for i in range(start, end):
        if fused:
            out[i] = nan
        else:
            codes[i] = 0


@njit(**SCALAR)
def _mx_fast_elements(src, codes, out, start, end, se, Psrc, Pelem, C, special, D, mode, key, base, rbits, fused,
                      rand):
    """Elements src[start:end] of a block with shared exponent ``se`` on the fast path
    (:func:`mx_encode_fast`)."""
    m_in, sign_pos = C[7], C[8]
    sign_bit = np.int64(1) << sign_pos
    absmask = ~sign_bit if sign_pos == 63 else sign_bit - 1
    for i in range(start, end):
        b = np.int64(src[U(i)])
        a = b & absmask
        E = a >> m_in
        rnd = draw(rand, key, base, i, rbits) if mode == STOCH else np.int64(0)
        if E >= 1 and E - se >= 1:
            a2 = a - (se << m_in)
        elif a == 0 or (se >= 0 and mode != STOCH):
            a2 = np.int64(0) if a == 0 else np.int64(1)  # 1: positive and below q/2
        else:  # an input subnormal scaled up, or stochastic rounding of a value below the input's
            # normal range (it rounds up with probability |value| / quantum): the generic path
            code, value = _mx_element(b, se, Psrc, Pelem, mode, rnd, rbits)
            if not fused:
                codes[U(i)] = code
            if fused:
                out[U(i)] = value
            continue
        v = _fast_round(a2 | (b & sign_bit), rnd, C, special, mode, rbits)
        code = _value_code(v, C, D)
        if not fused:
            codes[U(i)] = code
        if fused:
            av = v & absmask
            Ev = av >> m_in
            if av == 0:
                out[U(i)] = v
            elif Ev >= 1 and Ev + se >= 1:
                out[U(i)] = v + (se << m_in)
            else:
                out[U(i)] = _mx_decoded(code, se, Pelem, Psrc)


@parallel("blocks")
@njit(**SERIAL)
def mx_encode_fast(t0, t1, src, codes, scales, out, Psrc, Pelem, C, special, D, S, ncols, block, mode, key,
                   base, rbits, fused, rand):
    """:func:`mx_encode` on the fast path: elements are scaled by moving their exponent field.

    Needs the element's quantum/2 to be at or above the input's smallest normal, so that an
    element scaled below the input's normal range is "tiny" (0 under nearest rounding).
    Rare cases (an input subnormal scaled up, a result below the input's normal range) take
    the generic helpers."""
    s, e_thr, q_bits, halfq_bits, lq, max_bits, zero_sign, m_in, sign_pos, k0 = C
    sign_bit = np.int64(1) << sign_pos
    absmask = ~sign_bit if sign_pos == 63 else sign_bit - 1
    nb = (ncols + block - 1) // block
    for t in range(t0, t1):
        start, end = _block_span(t, nb, ncols, block)
        se = _ieee_block_exponent(src, start, end, m_in, absmask, k0, S)
        scales[U(t)] = se + 127
        if se == 128:  # the NaN scale: inf/NaN in the block, or an exponent beyond e8m0
            _nan_block(codes, out, start, end, Psrc[7], fused)
            continue
        _mx_fast_elements(src, codes, out, start, end, se, Psrc, Pelem, C, special, D, mode, key, base, rbits, fused,
                          rand)


# --- NVFP4: E2M1 elements, UE4M3 block scales, FP32 tensor scale ---------------------------
# The recipes run in float32 arithmetic, operation for operation, so the bits match a GPU
# kernel that does the same (IEEE float32, round to nearest even, no fast-math):
#   torchao nvfp4_tensor.nvfp4_quantize, releases 0.12-0.16 (recipe 0): P = per-tensor scale
#     (1 if none); s = e4m3(clamp(amax_b / 6 [/ P], 2**-6, 448)); T = P * s;
#     q = e2m1(clamp(x / T, -6, 6)); decode q * T.
#   torchao 0.18 (recipe 2): s as recipe 0; R = fl32(1 / s), or fl32(fl32(1 / P) / s) with a
#     per-tensor scale; q = e2m1(clamp(x * R, -6, 6)); decode q * (P * s). (The codec runs
#     recipe 0 where fl32(1 / P) overflows: fmtlib.codecs.nvfp4.NVFP4._kernel_recipe.)
#   TransformerEngine cast/nvfp4 (recipe 1): G = S_enc (1 if none);
#     s = e4m3_satfinite(amax_b * (G * fl32(1/6))); r = min(1 / (s * (1 / G)), FLT_MAX);
#     q = e2m1_satfinite(x * r); decode q * ((s * tensor_amax) * fl32(1/2688)) (q * s if none).
# A block with an inf or NaN gets the NaN scale (0x7F) and decodes to NaN.
F32_MAX = np.float32(3.4028234663852886e38)
# kernel_params of fp32 (fmtlib.kernels.params; tests/test_nvfp4.py checks it)
FP32_P = tuple(map(np.int64, (8, 23, 127, 1, 1, 0, 0x7F7FFFFF, 0x7FC00000, 0x7F800000, -126, 127, 0)))


@njit(**SCALAR)
def _as_f32(b, Psrc, f32_in):
    """Input bits as a float32 value (bf16/fp16 convert exactly)."""
    if f32_in:
        return np.uint32(b).view(np.float32)
    kind, sign, sig, exp = unpack(b, Psrc, NO)
    return np.uint32(pack(kind, sign, sig, exp, FP32_P, RNE, IEEE, np.int64(0), ONE, NO)).view(np.float32)


@njit(**SCALAR)
def _f32_code(v, P, mode, overflow, rnd, rbits):
    """Code of float32 value ``v`` in format P, rounded by ``mode``."""
    kind, sign, sig, exp = unpack(np.int64(np.float32(v).view(np.uint32)), FP32_P, NO)
    return pack(kind, sign, sig, exp, P, mode, overflow, rnd, rbits, NO)


@njit(**SCALAR)
def _nvfp4_decode_scale(sv, recipe, G, tensor_amax):
    """The float32 a decoded element is multiplied by, given its block scale's value ``sv``."""
    if recipe != 1:
        return sv * G if G != 1 else sv
    return (sv * tensor_amax) * np.float32(1.0 / 2688.0) if tensor_amax >= 0 else sv


@njit(**SCALAR)
def _nvfp4_block(amax, recipe, G, tensor_amax, Pscale, scale_vals):
    """(scale code, T, decode scale) of a block with float32 amax, by the recipe: elements are
    fl32(x / T) (recipe 0) or fl32(x * T) (recipes 1 and 2, T a float32 reciprocal)."""
    six = np.float32(6.0)
    if recipe != 1:
        bs = amax / six
        if G != 1:
            bs = bs / G
        sc = _e4m3_code(min(max(bs, np.float32(0.015625)), np.float32(448.0)), Pscale)
        if recipe == 0:
            T = scale_vals[sc] * G if G != 1 else scale_vals[sc]
        else:  # torchao 0.18: (1.0 / per_tensor_scale) / scale, or 1.0 / scale
            T = (np.float32(1.0) / G) / scale_vals[sc] if G != 1 else np.float32(1.0) / scale_vals[sc]
    else:
        sc = _e4m3_code(amax * (G * (np.float32(1.0) / six)), Pscale)  # TE: constexpr 1.0f / 6.0f
        T = min(np.float32(1.0) / (scale_vals[sc] * (np.float32(1.0) / G)), F32_MAX)
    return sc, T, _nvfp4_decode_scale(scale_vals[sc], recipe, G, tensor_amax)


@njit(**SCALAR)
def _e4m3_code(v, Pscale):
    """e4m3fn code of a positive float32 ``v``, nearest-even, saturating; the normal range
    [2**-6, 448] by rounding the float32 bits, the rest by the generic pack."""
    b = np.int64(np.float32(v).view(np.uint32))
    if 0x3C800000 <= b <= 0x43E00000:
        return ((b + 0x7FFFF + ((b >> 20) & 1)) >> 20) - (120 << 3)
    return _f32_code(v, Pscale, RNE, SATURATE, np.int64(0), ONE)


@parallel("blocks")
@njit(**SERIAL)
def nvfp4_encode(t0, t1, src, codes, scales, out, Psrc, Pout, Pelem, Pscale, elem_vals, scale_vals, ncols, block,
                 recipe, G, tensor_amax, mode, key, base, rbits, fused, rand):
    """Encode rows of float bits into NVFP4 blocks (see the recipes above); with ``fused`` also
    write the decoded values (format Pout) into ``out``. ``G`` is torchao's per-tensor scale
    (recipes 0 and 2) or TransformerEngine's S_enc (recipe 1), 1 for none."""
    f32_in = Psrc[0] == 8 and Psrc[1] == 23
    nb = (ncols + block - 1) // block
    six = np.float32(6.0)
    for t in range(t0, t1):
        start, end = _block_span(t, nb, ncols, block)
        amax = np.float32(0.0)
        bad = False
        for i in range(start, end):
            a = abs(_as_f32(np.int64(src[U(i)]), Psrc, f32_in))
            if not a <= F32_MAX:
                bad = True
            elif a > amax:
                amax = a
        if bad:
            scales[U(t)] = Pscale[7]
            _nan_block(codes, out, start, end, Pout[7], fused)
            continue
        sc, T, dscale = _nvfp4_block(amax, recipe, G, tensor_amax, Pscale, scale_vals)
        scales[U(t)] = sc
        for i in range(start, end):
            x = _as_f32(np.int64(src[U(i)]), Psrc, f32_in)
            if recipe == 0:
                v = min(max(x / T, -six), six)
            elif recipe == 2:
                v = min(max(x * T, -six), six)
            else:
                v = x * T
            rnd = draw(rand, key, base, i, rbits) if mode == STOCH else np.int64(0)
            code = _f32_code(v, Pelem, mode, SATURATE, rnd, rbits)
            if not fused:
                codes[U(i)] = code
            if fused:
                out[U(i)] = _f32_code(elem_vals[code] * dscale, Pout, RNE, IEEE, np.int64(0), ONE)


@parallel("elements")
@njit(**SERIAL)
def nvfp4_decode(t0, t1, codes, scales, out, Pout, elem_vals, scale_vals, ncols, block, recipe, G, tensor_amax):
    """Values of NVFP4 blocks by the recipe's float32 decode; NaN where the scale is NaN."""
    nb = (ncols + block - 1) // block
    for i in range(t0, t1):
        r = i // ncols
        d = _nvfp4_decode_scale(scale_vals[np.int64(scales[r * nb + (i - r * ncols) // block])], recipe, G,
                                tensor_amax)
        out[U(i)] = _f32_code(elem_vals[np.int64(codes[U(i)])] * d, Pout, RNE, IEEE, np.int64(0), ONE)


# --- block scaling with a float scale, exact (fmtlib.Scaled) --------------------------------
# Per block: S = round_nearest_even(amax / (M * G)) in the scale format, at least its smallest
# positive value; the effective scale D = S * G rounded to float32, at least 2**-149
# (G = 1: D = S exactly).
# Elements are x / D rounded once into the element format (saturating); decoding is
# element * D rounded once into the output format. An inf or NaN in a block makes its scale
# NaN. ``R`` = (M's significand, exponent, G's significand, exponent, G is 1).


@njit(**CALLED)
def div_pack(sign, nsig, nexp, dsig, dexp, P, mode, overflow, rnd, rbits, ftz):
    """Code (format P) of (-1)**sign * nsig*2**nexp / (dsig*2**dexp), rounded once.

    Long division to a 60-61 bit quotient plus a sticky bit: exact for every mode, and for
    stochastic rounding while rbits <= 60 - the format's precision. nsig < 2**53, dsig < 2**48."""
    bn = bit_length(nsig)
    bd = bit_length(dsig)
    k = 60 - bn + bd  # > 0: the quotient nsig * 2**k / dsig has 60 or 61 bits
    q = nsig // dsig
    r = nsig - q * dsig
    step_max = 62 - bd
    left = k
    while left > 0:
        step = min(step_max, left)
        r <<= step
        d = r // dsig
        q = (q << step) | d
        r -= d * dsig
        left -= step
    sig = (q << 1) | (np.int64(1) if r != 0 else np.int64(0))
    return pack(NUMBER, sign, sig, nexp - dexp - k - 1, P, mode, overflow, rnd, rbits, ftz)


@njit(**CALLED)
def _block_scale(src, start, end, Psrc, Pscale, R, smin_code):
    """(scale code, D significand, D exponent) of src[start:end]; code -1 for inf/NaN, -2 where
    the scale is beyond the scale format's range."""
    msig = np.int64(0)
    mexp = np.int64(0)
    lmax = np.int64(-(1 << 40))
    for i in range(start, end):
        kind, sign, sig, exp = unpack(np.int64(src[i]), Psrc, NO)
        if kind == NAN or kind == INF:
            return np.int64(-1), np.int64(0), np.int64(0)
        if kind == NUMBER:
            L = exp + bit_length(sig) - 1
            if L > lmax or (L == lmax and (sig << (53 - bit_length(sig))) > (msig << (53 - bit_length(msig)))):
                lmax, msig, mexp = L, sig, exp
    return _scale_of(msig, mexp, Pscale, R, smin_code)


@njit(**CALLED)
def _scale_of(msig, mexp, Pscale, R, smin_code):
    """(scale code, D significand, D exponent) of a block whose amax is msig * 2**mexp (msig 0:
    an all-zero block); code -2 where the scale is beyond the scale format's range."""
    if msig == 0:
        code = smin_code
    else:
        code = div_pack(np.int64(0), msig, mexp, R[0] * R[2], R[1] + R[3], Pscale, RNE, IEEE, np.int64(0), ONE,
                        NO)
        if code == Pscale[7] or code == Pscale[8]:  # beyond the scale format: -2, the caller raises
            return np.int64(-2), np.int64(0), np.int64(0)
        if code < smin_code:
            code = smin_code
    kind, sign, ssig, sexp = unpack(code, Pscale, NO)
    if R[4]:
        return code, ssig, sexp
    dsig, dexp = _effective_scale(ssig, sexp, R)
    return code, dsig, dexp


@njit(**CALLED)
def _effective_scale(ssig, sexp, R):
    """D = fl32(S * G), at least 2**-149 (S = ssig * 2**sexp, G from R)."""
    kind, sign, dsig, dexp = unpack(pack(NUMBER, np.int64(0), ssig * R[2], sexp + R[3], FP32_P, RNE, IEEE,
                                         np.int64(0), ONE, NO), FP32_P, NO)
    if kind == ZERO:
        return np.int64(1), np.int64(-149)
    return dsig, dexp


@njit(**CALLED)
def _times(code, dsig, dexp, Pelem, Pout):
    """Bits (format Pout) of element ``code`` times D = dsig * 2**dexp, rounded once."""
    kind, sign, sig, exp = unpack(code, Pelem, NO)
    if kind == NUMBER and dsig == 0:  # a zero scale (records from elsewhere)
        kind = ZERO
    return pack(kind, sign, sig * dsig, exp + dexp, Pout, RNE, IEEE, np.int64(0), ONE, NO)


@njit(**SCALAR)
def _scaled_exact_elements(src, codes, out, start, end, dsig, dexp, Psrc, Pelem, mode, key, base, rbits, ftz, fused,
                           rand):
    """Elements src[start:end] of a block with effective scale D = dsig * 2**dexp, by long division."""
    for i in range(start, end):
        kind, sign, sig, exp = unpack(np.int64(src[U(i)]), Psrc, NO)
        rnd = draw(rand, key, base, i, rbits) if mode == STOCH else np.int64(0)
        if kind == ZERO:
            code = pack(kind, sign, sig, exp, Pelem, mode, SATURATE, rnd, rbits, ftz)
        else:
            code = div_pack(sign, sig, exp, dsig, dexp, Pelem, mode, SATURATE, rnd, rbits, ftz)
        if not fused:
            codes[U(i)] = code
        if fused:
            out[U(i)] = _times(code, dsig, dexp, Pelem, Psrc)


@parallel("blocks")
@njit(**SERIAL)
def scaled_encode(t0, t1, src, codes, scales, bad, out, Psrc, Pelem, Pscale, R, smin_code, ncols, block, mode, key,
                  base, rbits, ftz, fused, rand):
    """Encode rows of float bits into blocks with a float scale (see above); with ``fused``
    also write the decoded values into ``out``. ``bad[t] = 1`` (zeroed by the caller) where
    block t's scale does not fit the scale format."""
    nb = (ncols + block - 1) // block
    for t in range(t0, t1):
        start, end = _block_span(t, nb, ncols, block)
        sc, dsig, dexp = _block_scale(src, start, end, Psrc, Pscale, R, smin_code)
        if sc == -2:
            bad[U(t)] = 1
        if sc < 0:
            scales[U(t)] = Pscale[7]
            _nan_block(codes, out, start, end, Psrc[7], fused)
            continue
        scales[U(t)] = sc
        _scaled_exact_elements(src, codes, out, start, end, dsig, dexp, Psrc, Pelem, mode, key, base, rbits, ftz,
                               fused, rand)


@parallel("elements")
@njit(**SERIAL)
def scaled_decode(t0, t1, codes, scales, out, Pelem, Pscale, Pout, R, ncols, block):
    """Values of blocks with a float scale: element * D; NaN where the scale is NaN."""
    nb = (ncols + block - 1) // block
    for i in range(t0, t1):
        r = i // ncols
        sc = np.int64(scales[r * nb + (i - r * ncols) // block])
        kind, sign, ssig, sexp = unpack(sc, Pscale, NO)
        if kind == NAN or kind == INF:
            out[U(i)] = Pout[7]
            continue
        if not R[4] and kind == NUMBER:
            ssig, sexp = _effective_scale(ssig, sexp, R)
        out[U(i)] = _times(np.int64(codes[U(i)]), ssig, sexp, Pelem, Pout)


# --- block scaling with a float scale: the fast path (fast_path.scaled_eligible) -------------
# For float32 input and the deterministic modes, x / D is one float64 division, and the
# quotient q is rounded into the element by the fast path for float64 input (integer elements:
# by its floor and fraction). Why that is exact: a deterministic mode's result depends only on
# how x / D compares with the element's decision points m = M * 2**e (its values and the
# midpoints between them; M < 2**25, as the element has at most 24 significant bits). q is
# x / D correctly rounded, so it compares with every float64 number as x / D does, unless it
# lands on some m while x / D != m. But then x - m * D (x = X * 2**ex, X < 2**24;
# D = dsig * 2**dexp, dsig < 2**24) is a nonzero multiple of 2**min(ex, e + dexp), so
# |x / D - m| > 2**-53 * |m| (as M * dsig < 2**49): more than q's error. (Nor can q be
# subnormal or overflow: 2**-277 < |x / D| < 2**277.) Stochastic rounding reads up to 60 bits
# of the quotient and keeps the exact long division (``scaled_encode``). Decoding: element
# value times D has at most 48 significant bits, exact in float64, and the conversion to
# float32 rounds it once (nearest-even, overflow to inf). Per block, the amax is an integer
# max of the magnitude bits and the scale is the generic kernel's exact division (``_scale_of``).


@njit(**SCALAR)
def _int_of_f64(q, mode, P):
    """(code, value) of float64 ``q`` rounded into integer format P by ``mode`` (not
    stochastic), saturating: :func:`pack_int`'s rule."""
    lo, hi = P[3], P[4]
    neg = q < 0
    aq = min(abs(q), 1099511627776.0)  # 2**40: anything larger saturates all the same
    fl = np.floor(aq)
    frac = aq - fl  # exact
    n = np.int64(fl)
    inexact = frac > 0
    if mode == RNE or mode == FLOOR_OVF:
        up = frac > 0.5 or (frac == 0.5 and (n & 1) == 1)
    elif mode == RNA:
        up = frac >= 0.5
    elif mode == UP:
        up = inexact and not neg
    elif mode == DOWN:
        up = inexact and neg
    else:
        up = False
    m = n | 1 if mode == ODD and inexact else n + np.int64(up)
    v = -m if neg else m
    if mode == FLOOR_OVF and (v > hi or v < lo):
        v = -n if neg else n
    v = min(max(v, lo), hi)
    return int_code(v, P), np.float64(v)


@njit(**SCALAR)
def _scaled_elements(src, codes, out, start, end, Df, Pelem, C, sp, D, is_int, mode, fused):
    """Elements of float32 src[start:end], a block with effective scale ``Df``: codes, or
    (fused) the values, rounded once to float32 (``out``)."""
    for i in range(start, end):
        q = np.float64(src[U(i)]) / Df
        if is_int:
            code, val = _int_of_f64(q, mode, Pelem)
        else:
            r = _fast_round(np.float64(q).view(np.int64), np.int64(0), C, sp, mode, 1)
            code = _value_code(r, C, D)
            val = np.int64(r).view(np.float64)
        if not fused:
            codes[U(i)] = code
        if fused:
            out[U(i)] = np.float32(val * Df)


@njit(**SCALAR)
def _scaled_fast_elements(src, codes, out, start, end, dsig, dexp, Pelem, C, sp, D, mode, fused):
    """Elements of float32 src[start:end], a block with effective scale D = dsig * 2**dexp, on
    the fast path (:func:`scaled_encode_fast`)."""
    Df = math.ldexp(np.float64(dsig), dexp)
    if Pelem[11] == 1:
        _scaled_elements(src, codes, out, start, end, Df, Pelem, C, sp, D, True, mode, fused)
    elif mode == RNE:
        _scaled_elements(src, codes, out, start, end, Df, Pelem, C, sp, D, False, RNE, fused)
    else:
        _scaled_elements(src, codes, out, start, end, Df, Pelem, C, sp, D, False, mode, fused)


@parallel("blocks")
@njit(**SERIAL)
def scaled_encode_fast(t0, t1, src, codes, scales, bad, out, Pelem, Pscale, R, smin_code, ncols, block, C, special,
                       D, mode, fused):
    """:func:`scaled_encode` on the fast path (see above) for float32 ``src`` and ``out`` (float
    arrays, not bit views) and a deterministic ``mode``. ``C, special, D``: the element's
    fast-path constants from float64 (ignored for integer elements)."""
    sp = (special[0], special[1], special[2], special[3], special[4], special[5])
    nb = (ncols + block - 1) // block
    for t in range(t0, t1):
        start, end = _block_span(t, nb, ncols, block)
        amax = np.int64(0)
        for i in range(start, end):
            amax = max(amax, np.int64(np.float32(src[U(i)]).view(np.uint32)) & 0x7FFFFFFF)
        sc, dsig, dexp = np.int64(-1), np.int64(0), np.int64(0)
        if amax < 0x7F800000:
            kind, sign, msig, mexp = unpack(amax, FP32_P, NO)
            sc, dsig, dexp = _scale_of(msig, mexp, Pscale, R, smin_code)
        if sc == -2:
            bad[U(t)] = 1
        if sc < 0:
            scales[U(t)] = Pscale[7]
            _nan_block(codes, out, start, end, np.float32(np.nan), fused)
            continue
        scales[U(t)] = sc
        _scaled_fast_elements(src, codes, out, start, end, dsig, dexp, Pelem, C, sp, D, mode, fused)


# The kernel above without the exact division for the scale, for the default case: nearest-even
# (floor-on-overflow gives the same under saturation), no global scale, a scale format with
# subnormals. S = amax / M is one float64 division too (amax and M have at most 24 significant
# bits, so the argument above holds), rounded by the FPU: adding and subtracting a power of two
# whose ulp is the format's quantum at the value's binade (at least its subnormal quantum)
# rounds to nearest-even once. F = (element mbits, bias, emin, log2 quantum, sign shift, keeps
# -0) for a float element; S = the same numbers of the scale format; M, emax_val: the element's
# largest value; smax, smin: the scale format's largest and smallest positive values.


@njit(**SCALAR)
def _rne_f64(a, mbits, q_magic):
    """Float64 ``a >= 0`` rounded to nearest-even in a format with ``mbits`` mantissa bits and
    subnormals (``q_magic``: 2**52 times its quantum, as int64 bits); no overflow check."""
    m = max((np.float64(a).view(np.int64) & np.int64(0x7FF0000000000000)) + ((52 - mbits) << 52), q_magic)
    M = np.int64(m).view(np.float64)
    return (a + M) - M


@njit(**SCALAR)
def _f64_code(r, mbits, bias, emin_val, inv_q):
    """Magnitude code of a value ``r >= 0`` of a float format with subnormals."""
    normal = (np.float64(r).view(np.int64) >> (52 - mbits)) - ((1023 - bias) << mbits)
    return normal if r >= emin_val else np.int64(r * inv_q)


@njit(**SCALAR)
def _format_consts(F):
    """(q_magic, 2**emin, 1 / quantum) of a format given as (mbits, bias, emin, lq, ...)."""
    return (np.int64((F[3] + 52 + 1023) << 52), math.ldexp(1.0, F[2]), math.ldexp(1.0, -F[3]))


@njit(**SCALAR)
def _rne_elements(src, codes, out, start, end, D, Pelem, F, emax_val, is_int, fused):
    q_magic, emin_val, inv_q = _format_consts(F)
    lo, hi = np.float64(Pelem[3]), np.float64(Pelem[4])
    for i in range(start, end):
        q = np.float64(src[U(i)]) / D
        neg = np.float64(q).view(np.int64) < 0
        a = abs(q)
        if is_int:
            r = (min(a, 1099511627776.0) + 4503599627370496.0) - 4503599627370496.0   # rint, below 2**52
            v = min(max(-r if neg else r, lo), hi) + 0.0   # + 0.0: no -0 for integers
            code = int_code(np.int64(v), Pelem)
        else:
            r = min(_rne_f64(a, F[0], q_magic), emax_val)
            s = neg and (r != 0 or F[5] == 1)   # fnuz: no -0
            v = -r if s else r
            code = _f64_code(r, F[0], F[1], emin_val, inv_q) | (np.int64(s) << F[4])
        if not fused:
            codes[U(i)] = code
        if fused:
            out[U(i)] = np.float32(v * D)


@parallel("blocks")
@njit(**SERIAL)
def scaled_encode_rne(t0, t1, src, codes, scales, bad, out, Pelem, F, S, M, smax, smin, scale_nan, ncols, block,
                      fused):
    """:func:`scaled_encode_fast` for nearest-even and no global scale, with the scale in float64
    too (see above): float32 ``src`` and ``out``, integer or float elements."""
    s_magic, s_emin, s_inv_q = _format_consts(S)
    is_int = Pelem[11] == 1
    nb = (ncols + block - 1) // block
    for t in range(t0, t1):
        start, end = _block_span(t, nb, ncols, block)
        amax = np.int64(0)
        for i in range(start, end):
            amax = max(amax, np.int64(np.float32(src[U(i)]).view(np.uint32)) & 0x7FFFFFFF)
        D = np.float64(np.nan)
        if amax < 0x7F800000:
            D = max(_rne_f64(np.float64(np.uint32(amax).view(np.float32)) / M, S[0], s_magic), smin)
        if not D <= smax:   # inf or NaN in the block, or a scale beyond the scale format
            bad[U(t)] = amax < 0x7F800000
            scales[U(t)] = scale_nan
            _nan_block(codes, out, start, end, np.float32(np.nan), fused)
            continue
        scales[U(t)] = _f64_code(D, S[0], S[1], s_emin, s_inv_q)
        if is_int:
            _rne_elements(src, codes, out, start, end, D, Pelem, F, M, True, fused)
        else:
            _rne_elements(src, codes, out, start, end, D, Pelem, F, M, False, fused)


# --- threshold kernels: tiny element formats (e2m1) by comparison -----------------------
# An element format with at most 16 magnitudes (e2m1: 0 .. 6) rounds |y| by counting the
# thresholds it passes: mag = sum(|y| bits > thr[k]) with thr from fast_path.thresholds (the
# midpoints, ties to even folded in as >=). Comparing IEEE bits as integers compares values.
# MX: y = x / 2**se, so compare |x| bits - (se << m_in) with thr, exact wherever the shifted
# thresholds are normal numbers of the input format; other blocks take the generic helpers.
# NVFP4: y = fl32(x / T) or fl32(x * r), exactly the recipe's float32 operation.


@njit(**SCALAR)
def _count_above(a, T):
    """How many of the 15 thresholds in tuple T lie below ``a`` (unused ones are int64 max)."""
    return (np.int64(a > T[0]) + np.int64(a > T[1]) + np.int64(a > T[2]) + np.int64(a > T[3]) + np.int64(a > T[4])
            + np.int64(a > T[5]) + np.int64(a > T[6]) + np.int64(a > T[7]) + np.int64(a > T[8])
            + np.int64(a > T[9]) + np.int64(a > T[10]) + np.int64(a > T[11]) + np.int64(a > T[12])
            + np.int64(a > T[13]) + np.int64(a > T[14]))


@njit(**SCALAR)
def _mx_table_elements(src, codes, out, start, end, se, Psrc, Pelem, thr, vbits, mode, fused):
    """Elements src[start:end] of a block with shared exponent ``se`` by thresholds
    (:func:`mx_encode_table`)."""
    m_in = Psrc[1]
    sign_pos = Psrc[0] + Psrc[1]
    sign_bit = np.int64(1) << sign_pos
    absmask = sign_bit - 1
    inf_bits = (absmask >> m_in) << m_in
    esign = Pelem[0] + Pelem[1]
    if se < 1 - (thr[0] >> m_in):  # thresholds below the input's normal range: the generic helpers
        for i in range(start, end):
            code, value = _mx_element(np.int64(src[U(i)]), se, Psrc, Pelem, mode, np.int64(0), 1)
            if not fused:
                codes[U(i)] = code
            if fused:
                out[U(i)] = value
        return
    sh = se << m_in
    for i in range(start, end):
        b = np.int64(src[U(i)])
        mag = _count_above((b & absmask) - sh, thr)
        neg = (b >> sign_pos) & 1
        if not fused:
            codes[U(i)] = mag | (neg << esign)
        if fused:
            v = vbits[mag] + sh if mag > 0 else np.int64(0)
            out[U(i)] = min(v, inf_bits) | (b & sign_bit)


@parallel("blocks")
@njit(**SERIAL)
def mx_encode_table(t0, t1, src, codes, scales, out, Psrc, Pelem, thr, vbits, S, ncols, block, mode, fused):
    """:func:`mx_encode` by thresholds for nearest and toward-zero modes (see above)."""
    m_in = Psrc[1]
    absmask = (np.int64(1) << (Psrc[0] + Psrc[1])) - 1
    k0 = Psrc[2] + m_in
    nb = (ncols + block - 1) // block
    for t in range(t0, t1):
        start, end = _block_span(t, nb, ncols, block)
        se = _ieee_block_exponent(src, start, end, m_in, absmask, k0, S)
        scales[U(t)] = se + 127
        if se == 128:  # the NaN scale: inf/NaN in the block, or an exponent beyond e8m0
            _nan_block(codes, out, start, end, Psrc[7], fused)
            continue
        _mx_table_elements(src, codes, out, start, end, se, Psrc, Pelem, thr, vbits, mode, fused)


@parallel("blocks")
@njit(**SERIAL)
def nvfp4_encode_table(t0, t1, src, codes, scales, out, Pscale, thr, vals, scale_vals, ncols, block, recipe, G,
                       tensor_amax, fused):
    """:func:`nvfp4_encode` for float32 input and nearest-even elements, by thresholds.
    ``src`` and ``out`` are float32 arrays (not bit views)."""
    absmask = np.int64(0x7FFFFFFF)
    nb = (ncols + block - 1) // block
    for t in range(t0, t1):
        start, end = _block_span(t, nb, ncols, block)
        amax_bits = np.int64(0)
        for i in range(start, end):
            amax_bits = max(amax_bits, np.int64(np.float32(src[U(i)]).view(np.uint32)) & absmask)
        if amax_bits >= 0x7F800000:
            scales[U(t)] = Pscale[7]
            _nan_block(codes, out, start, end, np.float32(np.nan), fused)
            continue
        amax = np.uint32(amax_bits).view(np.float32)
        sc, T, dscale = _nvfp4_block(amax, recipe, G, tensor_amax, Pscale, scale_vals)
        scales[U(t)] = sc
        for i in range(start, end):
            v = src[U(i)] / T if recipe == 0 else src[U(i)] * T  # |v| > 6 counts every threshold
            vb = np.int64(np.float32(v).view(np.uint32))
            mag = _count_above(vb & absmask, thr)
            if fused:
                r = vals[mag] * dscale
                out[U(i)] = -r if vb >> 31 else r
            else:
                codes[U(i)] = mag | ((vb >> 31) << 3)


@parallel("elements", combine=max, fast=True)
@njit(**SERIAL)
def finite_amax_bits(t0, t1, src, absmask, inf_bits):
    """The largest magnitude bits among the finite values of IEEE bits ``src`` (0 if none)."""
    m = np.int64(0)
    for i in range(t0, t1):
        a = np.int64(src[U(i)]) & absmask
        if a < inf_bits and a > m:
            m = a
    return m


# --- per-tensor scaling: a reduction, then the elements in parallel -------------------------
# Scaled(axis=None) has one block, the whole tensor; the block kernels would run it as one task
# on one thread. Instead, pass 1 (amax_bits) reduces the tensor's magnitude bits in parallel
# chunks. Magnitude bits order like values, and inf and NaN lie above every finite value, so the
# largest is an inf or NaN exactly where the tensor holds one: the one-element block [amax] has
# the tensor's scale under every scale rule (a block's scale depends only on its largest
# magnitude and on whether it holds inf or NaN). Pass 2 (the *_tensor kernels) runs over
# chunks of elements: each chunk takes the scale from ``amax`` (a one-element array of input
# bits) with the block kernel's own helper, the chunk starting at 0 writes it, and the elements
# go through the block kernel's element loop. Element indices are the tensor's, so stochastic
# rounding draws the same random bits: the results are the one-block kernels' bits.


@parallel("elements", combine=max, fast=True)
@njit(**SERIAL)
def amax_bits(t0, t1, src, absmask):
    """The largest magnitude bits ``src & absmask`` of IEEE bits ``src`` (0 if empty): inf or
    NaN bits exactly where ``src`` holds an inf or NaN."""
    m = np.int64(0)
    for i in range(t0, t1):
        m = max(m, np.int64(src[U(i)]) & absmask)
    return m


@parallel("elements")
@njit(**SERIAL)
def mx_encode_tensor(t0, t1, src, codes, scales, out, amax, Psrc, Pelem, S, mode, key, base, rbits, fused, rand):
    """:func:`mx_encode` of one block, the whole of ``src``, whose amax bits are ``amax[0]``."""
    rule, emax, mbits, M, eshift = S
    se = _mx_block_exponent(amax, 0, 1, Psrc, np.int64(rule), np.int64(emax), np.int64(mbits), M)
    if t0 == 0:
        scales[0] = se + 127
    if se == 128:
        _nan_block(codes, out, t0, t1, Psrc[7], fused)
    else:
        _mx_elements(src, codes, out, t0, t1, se - eshift, Psrc, Pelem, mode, key, base, rbits, fused, rand)


@parallel("elements")
@njit(**SERIAL)
def mx_encode_fast_tensor(t0, t1, src, codes, scales, out, amax, Psrc, Pelem, C, special, D, S, mode, key, base,
                          rbits, fused, rand):
    """:func:`mx_encode_fast` of one block, the whole of ``src`` (amax bits ``amax[0]``)."""
    m_in, sign_pos, k0 = C[7], C[8], C[9]
    sign_bit = np.int64(1) << sign_pos
    se = _ieee_block_exponent(amax, 0, 1, m_in, ~sign_bit if sign_pos == 63 else sign_bit - 1, k0, S)
    if t0 == 0:
        scales[0] = se + 127
    if se == 128:
        _nan_block(codes, out, t0, t1, Psrc[7], fused)
    else:
        _mx_fast_elements(src, codes, out, t0, t1, se, Psrc, Pelem, C, special, D, mode, key, base, rbits, fused,
                          rand)


@parallel("elements")
@njit(**SERIAL)
def mx_encode_table_tensor(t0, t1, src, codes, scales, out, amax, Psrc, Pelem, thr, vbits, S, mode, fused):
    """:func:`mx_encode_table` of one block, the whole of ``src`` (amax bits ``amax[0]``)."""
    m_in = Psrc[1]
    se = _ieee_block_exponent(amax, 0, 1, m_in, (np.int64(1) << (Psrc[0] + m_in)) - 1, Psrc[2] + m_in, S)
    if t0 == 0:
        scales[0] = se + 127
    if se == 128:
        _nan_block(codes, out, t0, t1, Psrc[7], fused)
    else:
        _mx_table_elements(src, codes, out, t0, t1, se, Psrc, Pelem, thr, vbits, mode, fused)


@njit(**CALLED)
def _tensor_scale(amax, Psrc, Pscale, R, smin_code, scales, bad, t0):
    """(scale code, D significand, D exponent) of the block [amax[0]] (:func:`_block_scale`);
    the chunk at ``t0 == 0`` writes the scale code (NaN: inf/NaN, or beyond the scale format,
    then also ``bad[0] = 1``)."""
    sc, dsig, dexp = _block_scale(amax, 0, 1, Psrc, Pscale, R, smin_code)
    if t0 == 0:
        scales[0] = Pscale[7] if sc < 0 else sc
        if sc == -2:
            bad[0] = 1
    return sc, dsig, dexp


@parallel("elements")
@njit(**SERIAL)
def scaled_encode_tensor(t0, t1, src, codes, scales, bad, out, amax, Psrc, Pelem, Pscale, R, smin_code, mode, key,
                         base, rbits, ftz, fused, rand):
    """:func:`scaled_encode` of one block, the whole of ``src`` (amax bits ``amax[0]``)."""
    sc, dsig, dexp = _tensor_scale(amax, Psrc, Pscale, R, smin_code, scales, bad, t0)
    if sc < 0:
        _nan_block(codes, out, t0, t1, Psrc[7], fused)
    else:
        _scaled_exact_elements(src, codes, out, t0, t1, dsig, dexp, Psrc, Pelem, mode, key, base, rbits, ftz, fused,
                               rand)


@parallel("elements")
@njit(**SERIAL)
def scaled_encode_fast_tensor(t0, t1, src, codes, scales, bad, out, amax, Pelem, Pscale, R, smin_code, C, special, D,
                              mode, fused):
    """:func:`scaled_encode_fast` of one block, the whole of float32 ``src`` (amax bits
    ``amax[0]``, a uint32 array)."""
    sc, dsig, dexp = _tensor_scale(amax, FP32_P, Pscale, R, smin_code, scales, bad, t0)
    if sc < 0:
        _nan_block(codes, out, t0, t1, np.float32(np.nan), fused)
    else:
        sp = (special[0], special[1], special[2], special[3], special[4], special[5])
        _scaled_fast_elements(src, codes, out, t0, t1, dsig, dexp, Pelem, C, sp, D, mode, fused)


@parallel("elements")
@njit(**SERIAL)
def scaled_encode_rne_tensor(t0, t1, src, codes, scales, bad, out, amax, Pelem, F, S, M, smax, smin, scale_nan,
                             fused):
    """:func:`scaled_encode_rne` of one block, the whole of float32 ``src`` (magnitude bits of
    its largest value ``amax[0]``, a uint32 array: inf or NaN bits where it holds one)."""
    s_magic, s_emin, s_inv_q = _format_consts(S)
    a = np.int64(amax[0]) & 0x7FFFFFFF
    D = np.float64(np.nan)
    if a < 0x7F800000:
        D = max(_rne_f64(np.float64(np.uint32(a).view(np.float32)) / M, S[0], s_magic), smin)
    if not D <= smax:   # inf or NaN in the tensor, or a scale beyond the scale format
        if t0 == 0:
            bad[0] = a < 0x7F800000
            scales[0] = scale_nan
        _nan_block(codes, out, t0, t1, np.float32(np.nan), fused)
        return
    if t0 == 0:
        scales[0] = _f64_code(D, S[0], S[1], s_emin, s_inv_q)
    if Pelem[11] == 1:
        _rne_elements(src, codes, out, t0, t1, D, Pelem, F, M, True, fused)
    else:
        _rne_elements(src, codes, out, t0, t1, D, Pelem, F, M, False, fused)
