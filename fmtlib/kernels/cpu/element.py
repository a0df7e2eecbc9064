"""Element-wise kernels (FP, Int, and the element step of everything else): the generic
``pack(unpack(x))`` loops, the fast paths on IEEE input bits (any mode), the nearest-even,
stochastic, encode and decode loops in 32-bit lanes, the table gather, and the amax reduction
of per-tensor scaling. The scalar helpers are :mod:`.scalar`'s.
"""
import numpy as np
from numba import njit

from ..config import SCALAR, SERIAL
from ..threads import parallel
from .borrow import borrowed
from .scalar import DOWN, FLOOR_OVF, _GAMMA, IEEE, NO, ODD, ONE, RNA, RNE, STOCH, U, UP, mix64, pack, rand_top, unpack


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


# --- nearest-even quantize of float32 in 32-bit lanes -------------------------------------------
# The same results as fast_nearest, with every step in 32-bit integers and float32 so that a
# vector holds twice as many elements (bfloat16 and float16 have 16-bit lanes, below; the MX
# lane kernels use these helpers on them too, their input's magnitude made float32 bits:
# bfloat16 by a shift, float16 by scaling its bits read as a float32 by 2**112).
# On the float32 bits:
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
def _input32(kind):
    """(mantissa bits, sign bit, magnitude mask, inf bits) of float32 (``kind`` 0), bfloat16 (1)
    or float16 (2) input bits in a 32-bit lane."""
    u = np.uint32
    if kind == 0:
        m_in, sign_bit = u(23), u(0x80000000)
    elif kind == 1:
        m_in, sign_bit = u(7), u(0x8000)
    else:
        m_in, sign_bit = u(10), u(0x8000)
    absmask = u(sign_bit - u(1))
    return m_in, sign_bit, absmask, u(u(absmask >> m_in) << m_in)


@njit(**SCALAR)
def _rne32(K):
    """(s, magic, implicit, half1, keep) of nearest-even rounding in a 32-bit lane from the
    constants ``K``: the bits to drop, the float32 whose addition rounds the subnormal range, the
    implicit bit, half an ulp less one, and the mask of the kept bits."""
    u = np.uint32
    one = u(1)
    s = u(K[0] & u(31))
    return (s, np.uint32(K[2]).view(np.float32), u(0x800000), u(u(u(one << s) >> one) - one),
            u(~u(u(one << s) - one)))


@njit(**SCALAR)
def _round_rne32(f, s, magic, implicit, half1, keep, emin_bits):
    """float32 magnitude bits ``f`` rounded to nearest-even into the element whose constants
    :func:`_rne32` gives (``emin_bits``: bits of 2**emin), as float32 bits: the integer rounding
    at or above 2**emin, the FPU's below it (see above)."""
    u = np.uint32
    one = u(1)
    rn = u(u(f + half1 + u(u(u(f | implicit) >> s) & one)) & keep)  # implicit: mbits 0 ties up
    rs = np.float32((np.uint32(f).view(np.float32) + magic) - magic).view(np.uint32)
    return rs if f < emin_bits else rn


@njit(**SCALAR)
def _specials32(sp):
    """The overflow, inf and NaN results of ``sp`` as (positive, positive ^ negative) pairs."""
    u = np.uint32
    return sp[0], u(sp[0] ^ sp[1]), sp[2], u(sp[2] ^ sp[3]), sp[4], u(sp[4] ^ sp[5])


@njit(**SCALAR)
def _nearest32_loop(t0, t1, src, out, K, sp):
    """Nearest-even quantize of float32 bits in 32-bit lanes (see above)."""
    u = np.uint32
    m_in, sign_bit, absmask, inf_bits = _input32(0)
    s, magic, implicit, half1, keep = _rne32(K)
    emin_bits, max_bits, zero_sign = K[1], K[3], K[4]
    ovf_p, ovf_d, inf_p, inf_d, nan_p, nan_d = _specials32(sp)
    for i in range(t0, t1):
        b = u(src[U(i)])
        a = u(b & absmask)
        sign = u(b & sign_bit)
        smask = u(u(0) - u(sign != 0))
        r = _round_rne32(a, s, magic, implicit, half1, keep, emin_bits)
        v = u(r | (sign & (zero_sign if r == 0 else sign_bit)))
        v = u(ovf_p ^ (ovf_d & smask)) if r > max_bits else v
        v = u(inf_p ^ (inf_d & smask)) if a == inf_bits else v
        v = u(nan_p ^ (nan_d & smask)) if a > inf_bits else v
        out[U(i)] = v


@parallel("elements", fast=True)
@njit(**SERIAL)
def fast_nearest_f32(t0, t1, src, out, K, special):
    """Quantize float32 bits (uint32), nearest-even (and floor-on-overflow, via ``special``):
    see above."""
    _nearest32_loop(t0, t1, src, out, K, special)


# One kernel for float32 input (uint32 bits) and one for the 16-bit inputs (uint16 bits) of each
# lane loop: a kernel compiles every loop it names, so the float32 one names only its own.


@parallel("elements", fast=True)
@njit(**SERIAL)
def fast_encode_f32(t0, t1, src, out, K, E, codes):
    """Encode float32 bits to codes, nearest-even (and floor-on-overflow), see
    :func:`_encode32_loop`."""
    _encode32_loop(t0, t1, src, out, K, E, codes)


@njit(**SCALAR)
def _special_code(code, over, a, inf_bits, negu, c):
    """``code``, or where ``over`` (the rounded magnitude is above the format's max, as it is for
    every inf and NaN input ``a``) the overflow, inf or NaN code of the sign ``negu`` from
    ``c = (overflow+, overflow-, inf+, inf-, nan+, nan-)``, picked by xor masks (one select each)."""
    u = np.uint32
    smask = u(u(0) - negu)
    sv = u(c[0] ^ u(u(c[0] ^ c[1]) & smask))
    sv = u(c[2] ^ u(u(c[2] ^ c[3]) & smask)) if a == inf_bits else sv
    sv = u(c[4] ^ u(u(c[4] ^ c[5]) & smask)) if a > inf_bits else sv
    return sv if over else code


@njit(**SCALAR)
def _code32(r, negu, s, emin_bits, kq, mag_bits, bias_shift, keep_neg_zero):
    """The code of float32 bits ``r`` of an element value (from :func:`_round_rne32` or
    :func:`_round_stochastic32`, at most the element's max), ``negu`` 1 for a negative input:
    see :func:`fast_encode_f32`."""
    u = np.uint32
    one = u(1)
    ee = max(u(r >> u(23)), one)
    sub = u(u(u(r & u(0x7FFFFF)) | (u(0x800000) if r >= u(0x800000) else u(0))) >> min(u(kq - ee), u(31)))
    mag = u(u(r >> s) - bias_shift) if r >= emin_bits else sub
    return u(mag | u(u(negu & u(u(r != 0) | keep_neg_zero)) << mag_bits))


@njit(**SCALAR)
def _encode32_loop(t0, t1, src, out, K, E, codes):
    """The code's magnitude straight from the rounding of :func:`_nearest32_loop`, on the float32
    bits f of |x|: at or above 2**emin, f rounded to nearest-even at s as integers and shifted
    right by s, less ``(127 - bias) << mbits`` (the carry of a round-up runs into the exponent,
    the next code); below it, the bits of |x| + Q less those of Q (the FPU rounds the sum at the
    element's quantum; the sum stays in Q's binade, so its bits count quanta: the subnormal
    code, or the smallest normal one when it rounds up to 2**emin). No float operation here has
    a subnormal result (slow on this CPU). ``E = (mag_bits, (127 - bias) << mbits, 1 where -0
    is kept, the largest finite magnitude code)``; ``codes``: the overflow, inf and NaN codes by
    sign. Rounded above the max (every inf and NaN input too): ``_special_code``."""
    u = np.uint32
    one = u(1)
    m_in, sign_bit, absmask, inf_bits = _input32(0)
    s, magic, implicit, half1, keep = _rne32(K)
    emin_bits, q_code = K[1], K[2]
    mag_bits, bias_shift, max_mag = u(E[0] & u(31)), E[1], E[3]
    neg_zero = u(0xFFFFFFFF) if E[2] & one else u(one << mag_bits)  # the code -0 would have
    c = (u(codes[0]), u(codes[1]), u(codes[2]), u(codes[3]), u(codes[4]), u(codes[5]))
    for i in range(t0, t1):
        b = u(src[U(i)])
        a = u(b & absmask)
        negu = u(u(b & sign_bit) != 0)
        normal = u(u(u(a + half1 + u(u(u(a | implicit) >> s) & one)) >> s) - bias_shift)
        sub = u(np.float32(np.uint32(a).view(np.float32) + magic).view(np.uint32) - q_code)
        mag = sub if a < emin_bits else normal
        code = u(mag | u(negu << mag_bits))
        code = u(0) if code == neg_zero else code  # no -0 (fnuz): 0
        out[U(i)] = _special_code(code, mag > max_mag, a, inf_bits, negu, c)


# --- nearest-even quantize and encode of bfloat16 and float16 in 16-bit lanes ---------------
# The same results as the float32 loops above, with every step in 16-bit integers so that a
# vector holds 32 elements, not 16 (no float arithmetic: this CPU has none in 16 bits). On the
# magnitude bits a (exponent field E, m_in mantissa bits; s = m_in - mbits; emin_E the
# exponent field of 2**emin), rounding at the element's quantum q drops se = K1 - e1 bits, with
# K1 = s + emin_E and e1 = E clamped to [lo, emin_E], lo = max(emin_E - mbits, 1): se = s from
# 2**emin up, one more per binade below, m_in in q's binade.
#
# Quantize (_nearest16_loop): from q up (a >= bits of q) a is rounded as an integer, to
# nearest-even at se: rnd = (a + 2**(se - 1) - 1 + bit) & -2**se. The low se bits of a are
# those of its significand (the exponent field starts at bit m_in >= se), so this rounds the
# value; a carry runs into the exponent (the next binade). The parity bit is bit se of the
# significand: of a below m_in, the implicit 1 at se = m_in (where a holds the exponent's low
# bit instead), hence bit se of a | 2**m_in. Below q the result is q above q/2 and 0 up to it
# (q/2 is a tie, to the even 0). The sign: bit 15 of r + 0x8000 (every finite r is below
# 2**15; the others are replaced) or, where -0 is not kept, of r + 0x7FFF (set only for r > 0).
#
# Encode (_encode16_loop): the code's magnitude is x rounded to nearest-even at se and shifted
# right by se, x = a - ((e1 - 1) << m_in). Below 2**emin (e1 = max(E, 1)) x is the significand
# with its implicit bit, and the result counts quanta (the smallest normal code where it rounds
# up to 2**emin); from 2**emin up (e1 = emin_E, se = s) x is the exponent field less
# emin_E - 1 over the mantissa, so the result is the element's code, a carry running into its
# exponent. Here lo is one lower, so that the binade below q's (q/2 to q) rounds at
# se = m_in + 1: its significand, 2**m_in to 2**(m_in + 1), rounds to one quantum above q/2
# and to 0 at q/2 (the tie, to even). Below q/2, x is below 2**m_in in the next binade down
# and would be negative further down, where it saturates at 0: both round to 0 at m_in + 1.
# The parity is bit se of x, but at se = m_in that of the significand: 1 where x >= 2**m_in
# (the implicit bit; from 2**emin up, with mbits = 0, x holds the exponent's low bit there), 0
# below (a float16 subnormal, where q/2 is one), hence bit se of x | min(x, 2**m_in). The sign
# as above, with 2**mag_bits.
#
# Every shift amount is masked below 16 so that LLVM keeps the lanes 16-bit. ``P``
# (fast_path.lanes16_constants) = (s, emin_E, input bits of max, the sign bit where -0 is kept
# else 0, mag_bits, 1 where -0 is kept, largest finite magnitude code, input bits of q, input
# bits of q/2). Against the significand form that _stochastic16_loop keeps (subtract
# (max(E, 1) - 1) << m_in, round, add it back, 0 where the significand rounds to 0) these cut
# the instructions per 32 elements, load and store included, from 42 to 36 in both loops: on
# one core 5.0 -> 6.1 Gelem/s (quantize) and 5.0 -> 5.7 (encode).


@njit(**SCALAR)
def _input16(kind):
    """(mantissa bits, inf bits) of bfloat16 (``kind`` 1) or float16 (2) bits."""
    h = np.uint16
    if kind == 1:
        return h(7), h(0x7F80)
    return h(10), h(0x7C00)


@njit(**SCALAR)
def _clamp16(P, m_in, below):
    """(K1, lo, emin_E) from the lane constants ``P`` (see above), lo = max(emin_E - mbits -
    below, 1)."""
    h = np.uint16
    s, emin_E = h(P[0] & h(15)), h(P[1])
    d = h(h(m_in - s) + below)
    return h(s + emin_E), (h(emin_E - d) if emin_E > h(d + h(1)) else h(1)), emin_E


@njit(**SCALAR)
def _nearest16_loop(t0, t1, src, out, P, sp, kind):
    h = np.uint16
    one = h(1)
    m_in, inf_bits = _input16(kind)
    K1, lo, hi = _clamp16(P, m_in, h(0))
    unit = h(one << m_in)
    max_bits, zadd, q_bits, hq_bits = h(P[2]), h(h(0x7FFF) + h(P[3] >> h(15))), h(P[7]), h(P[8])
    op, od, ip, idd, nP, nd = (h(sp[0]), h(sp[0] ^ sp[1]), h(sp[2]), h(sp[2] ^ sp[3]), h(sp[4]),
                               h(sp[4] ^ sp[5]))
    for i in range(t0, t1):
        b = h(src[U(i)])
        a = h(b & h(0x7FFF))
        m = h(h(0) - h(b >> h(15)))
        se = h(h(K1 - min(max(h(a >> m_in), lo), hi)) & h(15))
        pw = h(one << se)
        up = h(a + h(pw >> one))          # rounds half up; ties to even: one less where bit se is 0
        up = up if h(h(a | unit) & pw) != h(0) else h(up - one)
        r = h(up & h(h(0) - pw)) if a >= q_bits else (q_bits if a > hq_bits else h(0))
        w = h(r | h(b & h(h(r + zadd) & h(0x8000))))
        w = h(op ^ h(od & m)) if r > max_bits else w
        w = h(ip ^ h(idd & m)) if a == inf_bits else w
        w = h(nP ^ h(nd & m)) if a > inf_bits else w
        out[U(i)] = w


@parallel("elements", fast=True)
@njit(**SERIAL)
def fast_nearest_16(t0, t1, src, out, P, special, fp16):
    """Quantize bfloat16 or (``fp16``) float16 bits (uint16), nearest-even (and
    floor-on-overflow, via ``special``): see above."""
    if fp16:
        _nearest16_loop(t0, t1, src, out, P, special, 2)
    else:
        _nearest16_loop(t0, t1, src, out, P, special, 1)


@njit(**SCALAR)
def _encode16_loop(t0, t1, src, out, P, codes, kind):
    h = np.uint16
    one = h(1)
    m_in, inf_bits = _input16(kind)
    K1, lo, hi = _clamp16(P, m_in, one)
    unit = h(one << m_in)
    mag_bits, max_mag = h(P[4] & h(15)), h(P[6])
    zadd, sbit = h(h(h(one << mag_bits) - one) + h(P[5] & one)), h(one << mag_bits)
    c = (h(codes[0]), h(codes[0] ^ codes[1]), h(codes[2]), h(codes[2] ^ codes[3]), h(codes[4]),
         h(codes[4] ^ codes[5]))
    for i in range(t0, t1):
        b = h(src[U(i)])
        a = h(b & h(0x7FFF))
        m = h(h(0) - h(b >> h(15)))
        e1 = min(max(h(a >> m_in), lo), hi)
        se = h(h(K1 - e1) & h(15))
        t, y = h(a + unit), h(e1 << m_in)
        x = h(max(t, y) - y)   # saturating: 0 below q/2's binade
        par = h(x | min(x, unit))   # x, with the implicit bit where x >= 2**m_in: see above
        mag = h(h(x + h(h(h(one << se) >> one) - one) + h(h(par >> se) & one)) >> se)
        code = h(mag | h(h(h(mag + zadd) & m) & sbit))
        sv = h(c[0] ^ h(c[1] & m))
        sv = h(c[2] ^ h(c[3] & m)) if a == inf_bits else sv
        sv = h(c[4] ^ h(c[5] & m)) if a > inf_bits else sv
        out[U(i)] = sv if mag > max_mag else code


@parallel("elements", fast=True)
@njit(**SERIAL)
def fast_encode_16(t0, t1, src, out, P, codes, fp16):
    """Encode bfloat16 or (``fp16``) float16 bits to codes, nearest-even (and
    floor-on-overflow): see above."""
    if fp16:
        _encode16_loop(t0, t1, src, out, P, codes, 2)
    else:
        _encode16_loop(t0, t1, src, out, P, codes, 1)


@parallel("elements", fast=True)
@njit(**SERIAL)
def fast_decode_f32(t0, t1, codes, out, Kd, sp):
    """Decode codes of a format the output holds (fast_path.decode32_eligible) into float32 bits
    by arithmetic, see :func:`_decode32_loop`."""
    _decode32_loop(t0, t1, codes, out, Kd, sp, 0)


@parallel("elements", fast=True)
@njit(**SERIAL)
def fast_decode_16_f32(t0, t1, codes, out, Kd, sp, fp16):
    """:func:`fast_decode_f32` into bfloat16 or (``fp16``) float16 bits, through float32 lanes:
    for the formats :func:`fast_decode_16` does not take."""
    if fp16:
        _decode32_loop(t0, t1, codes, out, Kd, sp, 2)
    else:
        _decode32_loop(t0, t1, codes, out, Kd, sp, 1)


@njit(**SCALAR)
def _decode32_loop(t0, t1, codes, out, Kd, sp, kind):
    """The magnitude code shifted into the float32 fields (its exponent field in float32's, a
    subnormal code a float32 subnormal), times the power of two ``scale`` (exact: the product is
    the code's value, times 2**-112 for float16 output), shifted to the output's bits (by 16 for
    bfloat16, by 13 for float16); inf and NaN by comparisons, the code's sign or-ed in.
    ``Kd = (mbits, mag_bits, bits of scale, inf magnitude, the least NaN magnitude, the fnuz NaN
    code)`` (an impossible value where the format has none); ``sp``: the output bits of inf and
    NaN, positive. Every shift amount is masked below 32 so that LLVM keeps the lanes 32-bit."""
    u = np.uint32
    s = u(u(u(23) - Kd[0]) & u(31))
    mag_bits = u(Kd[1] & u(31))
    scale = np.uint32(Kd[2]).view(np.float32)
    inf_mag, nan_lo, fnuz_nan = Kd[3], Kd[4], Kd[5]
    magmask = u(u(u(1) << mag_bits) - u(1))
    if kind == 0:
        sh, out_sign, sgn = u(0), u(0x80000000), u(u(u(31) - mag_bits) & u(31))
    else:
        sh, out_sign, sgn = (u(16) if kind == 1 else u(13)), u(0x8000), u(u(u(15) - mag_bits) & u(31))
    inf_p, nan_p = u(sp[0]), u(sp[1])
    for i in range(t0, t1):
        c = u(codes[U(i)])
        mag = u(c & magmask)
        r = u(np.float32(np.uint32(u(mag << s)).view(np.float32) * scale).view(np.uint32) >> sh)
        r = inf_p if mag == inf_mag else r
        r = nan_p if mag >= nan_lo or c == fnuz_nan else r
        out[U(i)] = u(r | u(u(c << sgn) & out_sign))


# --- decode into bfloat16 and float16 in 16-bit lanes ------------------------------------------
# A normal code's bits are the magnitude code shifted left by m_out - mbits plus
# (bias_out - bias) << m_out (the exponent rebiased). A subnormal code k is k * 2**(emin - mbits):
# where bias_out = bias the output's subnormals have the same quantum and the normal formula
# holds (k shifted, nothing added); where bias_out - bias >= mbits it is an output normal, and
# the float32 conversion of the integer k (exact, normal: no slow subnormal float operation)
# has k's leading bit as its exponent and the rest left-aligned, so its bits shifted right by
# 23 - m_out, plus ((bias_out - bias) - mbits - 126) << m_out (mod 2**16), are the output's
# bits. fast_path.decode16_constants takes no other bias. Inf and NaN by comparisons, the
# code's sign shifted into bit 15. ``P`` = (m_out - mbits, mag_bits, the normal formula's
# addend, 2**mbits where subnormal codes take the float32 route else 0, its addend, inf
# magnitude, least NaN magnitude, the fnuz NaN code) (0xFFFF where the format has none: no
# code of at most 15 bits has it).


@njit(**SCALAR)
def _decode16_loop(t0, t1, codes, out, P, sp, kind):
    h = np.uint16
    m_out = h(7) if kind == 1 else h(10)
    sh, mag_bits, off, sub_lim, sub_off = h(P[0] & h(15)), h(P[1] & h(15)), h(P[2]), h(P[3]), h(P[4])
    inf_mag, nan_lo, fnuz_nan = h(P[5]), h(P[6]), h(P[7])
    sgn = h(h(h(15) - mag_bits) & h(15))
    magmask = h(h(h(1) << mag_bits) - h(1))
    inf_p, nan_p = h(sp[0]), h(sp[1])
    for i in range(t0, t1):
        c = h(codes[U(i)])
        mag = h(c & magmask)
        r = h(h(mag << sh) + off)
        k32 = np.uint32(np.float32(mag).view(np.uint32) >> np.uint32(23 - m_out))
        r = h(h(k32) + sub_off) if mag < sub_lim else r
        r = h(0) if mag == h(0) else r
        r = inf_p if mag == inf_mag else r
        r = nan_p if mag >= nan_lo or c == fnuz_nan else r
        out[U(i)] = h(r | h(h(c << sgn) & h(0x8000)))


@parallel("elements", fast=True)
@njit(**SERIAL)
def fast_decode_16(t0, t1, codes, out, P, sp, fp16):
    """Decode codes into bfloat16 or (``fp16``) float16 bits in 16-bit lanes (see above)."""
    if fp16:
        _decode16_loop(t0, t1, codes, out, P, sp, 2)
    else:
        _decode16_loop(t0, t1, codes, out, P, sp, 1)


# Stochastic rounding in 32-bit lanes, the same bits as fast_stochastic: fmtlib-rng-v1 gives a
# 64-bit z per element, rnd = its top rbits bits. In the float32 domain (as above) the dropped
# field has se = min(s + max(e_thr - max(E, 1), 0), 23) bits and the increment is the top
# min(se, rbits) bits of z placed at the top of that field (a carry rounds away from zero);
# below the quantum q the result is q where rnd >= 2**rbits - F, F = floor(|x| / q * 2**rbits).
# That test is done on 64-bit z itself: with G = F * 2**(64 - rbits) = W with its low 64 - rbits
# bits cleared, W = floor(|x| / q * 2**64) < 2**64 (float64 |x| * 2**(64 - log2 q) is exact, and
# its truncation to uint64 is W), rnd >= 2**rbits - F exactly where z >= 2**64 - G, that is
# G > ~z. A bfloat16 or float16 input widened to float32 keeps its dropped field's bits at the
# top of the wider field, whose carry is then the same. K as above, then (biased float32
# exponent of 2**emin, bits of q, 150 + log2 q). Shift amounts are masked below 32 (t >= 1, as
# s >= 1 and rbits >= 1) so that LLVM keeps those lanes 32-bit.


@njit(**SCALAR)
def _round_stochastic32(f, z, s, e_thr, q_bits, below_q, to_w, rmask, rb):
    """float32 magnitude bits ``f`` rounded stochastically into the element by the 64-bit random
    ``z`` of fmtlib-rng-v1 (its top ``rbits`` bits are the random integer), as float32 bits;
    ``below_q``, ``to_w``, ``rmask``, ``rb`` from :func:`_stochastic32_constants`. Below the
    smallest quantum q the test is on 64-bit z directly: w = floor(|x| / q * 2**64) by an exact
    float64 multiply and truncation, its low 64 - rbits bits cleared, rounds up iff w > ~z."""
    u = np.uint32
    one = u(1)
    ee = max(u(f >> u(23)), one)
    se = min(u(s + u(max(e_thr, ee) - ee)), u(23))
    t = min(se, rb)
    inc = u(u(u(z >> np.uint64(32)) >> u(u(u(32) - t) & u(31))) << u(u(se - t) & u(31)))
    rr = u(u(f + inc) & u(u(0) - u(one << se)))
    w = np.uint64(np.float64(np.uint32(min(f, below_q)).view(np.float32)) * to_w)
    up = np.uint64(w & rmask) > ~z
    return (q_bits if up else u(0)) if f < q_bits else rr


@njit(**SCALAR)
def _stochastic32_constants(K, rbits):
    """(below_q, to_w, rmask, rb) of :func:`_round_stochastic32` for the lane constants ``K``
    (fast_path.nearest32_constants) and ``rbits`` random bits."""
    u = np.uint32
    below_q = u(K[6] - u(1))
    # 2**(64 - log2 q) as float64 bits: 64 - log2 q = 214 - K[7]
    to_w = np.uint64(np.uint64(np.int64(1023 + 214) - np.int64(K[7])) << np.uint64(52)).view(np.float64)
    rmask = ~np.uint64(np.uint64(np.uint64(1) << np.uint64(64 - rbits)) - np.uint64(1))
    return below_q, to_w, rmask, u(rbits)


#: elements per chunk of the float32 stochastic loop: its overflow, inf and NaN results are
#: set by a second pass over a chunk that holds one (see _stochastic32_loop)
_SR_CHUNK = 256


@njit(**SCALAR)
def _stochastic32_loop(t0, t1, src, out, K, sp, key, base, rbits):
    """Stochastic quantize of float32 bits in 32-bit lanes, a chunk of _SR_CHUNK at a time. The
    vector loop writes every element as if it were finite and in range (the rounded magnitude
    with the sign) and keeps the largest rounded magnitude; only where that exceeds max does a
    second pass over the chunk set the overflow, inf and NaN results. It reads the inputs from
    ``src``, or, where ``out`` is ``src``, from ``buf``, a copy of the chunk made first. Those
    elements are the inf and NaN inputs (the rounded bits of a NaN may carry into the sign) and
    the finite ones whose magnitude written exceeds max (their rounded bits stay below 2**31;
    every other element's are at most max). The three selects were a quarter of the loop: one
    thread, 2**22 float32, 1.06-1.13 -> 1.28-1.30 Gelem/s, and 1.17 -> 1.09 where every chunk
    overflows (a flag instead of the max, or the copy made inside the vector loop, was slower
    than before)."""
    kind = 0   # float32 bits (16-bit inputs: _stochastic16_loop)
    u = np.uint32
    m_in, sign_bit, absmask, inf_bits = _input32(kind)
    s, max_bits, zero_sign, e_thr, q_bits = K[0], K[3], K[4], K[5], K[6]
    below_q, to_w, rmask, rb = _stochastic32_constants(K, rbits)
    spc = _specials32(sp)
    alias = src.ctypes.data == out.ctypes.data   # in place: a copy of each chunk's input first
    own = np.empty(_SR_CHUNK if alias else 1, np.uint32)
    buf = borrowed(own)   # own is used at the end, so it lives as long as buf
    h = np.uint64(key) + (np.uint64(base + t0) + np.uint64(1)) * _GAMMA   # rand_top's counter, stepped
    for c0 in range(t0, t1, _SR_CHUNK):
        c1 = min(c0 + _SR_CHUNK, t1)
        if alias:
            for i in range(c0, c1):
                buf[U(i - c0)] = src[U(i)]
        top = u(0)
        for i in range(c0, c1):
            z = mix64(h)
            h += _GAMMA
            b = u(src[U(i)])
            r32 = _round_stochastic32(_f32_bits_of(u(b & absmask), kind), z, s, e_thr, q_bits, below_q, to_w,
                                      rmask, rb)
            top = max(top, r32)
            r = _bits_from_f32(r32, kind)
            out[U(i)] = u(r | (b & (zero_sign if r == 0 else sign_bit)))
        if top > max_bits and alias:
            _sr32_specials(buf, c0, out, c0, c1, max_bits, spc)
        elif top > max_bits:
            _sr32_specials(src, 0, out, c0, c1, max_bits, spc)
    own[0] = 0


@njit(**SCALAR)
def _sr32_specials(inp, off, out, c0, c1, max_bits, spc):
    """The second pass of _stochastic32_loop over out[c0:c1], its inputs at inp[c0 - off:]: the
    overflow, inf and NaN results (one loop for each input array, so that it vectorises)."""
    u = np.uint32
    ovf_p, ovf_d, inf_p, inf_d, nan_p, nan_d = spc
    m_in, sign_bit, absmask, inf_bits = _input32(0)
    for i in range(c0, c1):
        b = u(inp[U(i - off)])
        a = u(b & absmask)
        smask = u(u(0) - u(b >> u(31)))
        v = u(out[U(i)])
        v = u(ovf_p ^ (ovf_d & smask)) if u(v & absmask) > max_bits else v
        v = u(inf_p ^ (inf_d & smask)) if a == inf_bits else v
        out[U(i)] = u(nan_p ^ (nan_d & smask)) if a > inf_bits else v


@parallel("elements")
@njit(**SERIAL)
def fast_stochastic_f32(t0, t1, src, out, K, special, key, base, rbits):
    """Quantize float32 bits, stochastic: see above."""
    _stochastic32_loop(t0, t1, src, out, K, special, key, base, rbits)


# Stochastic rounding of bfloat16 and float16 in 16-bit lanes, the same bits. The significand
# with its implicit bit, sig = a - ((max(E, 1) - 1) << m_in) (a float16 subnormal has E = 0 and
# no implicit bit), is rounded at se = min(d, m_in), d = s + max(emin_E - max(E, 1), 0) the
# dropped bit count at the element's quantum q, and added back (a + rsig - sig). The increment
# is the top min(se, rbits) bits of z placed at the top of the dropped field (at most 16 bits
# of z are used, as se <= 10: the top 16 bits of z, shifted in 16-bit lanes). A value below
# q (a < bits of q: sig < 2**d) becomes q where G > ~z, G = floor(|x| / q * 2**64) with its
# low 64 - rbits bits cleared, as in the 32-bit loop: here
# |x| / q = sig / 2**d, so G = sig << (64 - d) for d <= 64 (exact: sig < 2**d) and
# sig >> (d - 64) above (0 from d = 76 on, as sig < 2**12 and the shift is clamped at 63). d
# is at most 15 + 254, so it fits 16 bits; only G and the draw are 64-bit. ``P``: the 16-bit
# lane constants.


@njit(**SCALAR)
def _stochastic16_loop(t0, t1, src, out, P, sp, key, base, rbits, kind):
    h = np.uint16
    u64 = np.uint64
    one = h(1)
    m_in, inf_bits = _input16(kind)
    s, emin_E, max_bits, zs, q_bits = h(P[0] & h(15)), h(P[1]), h(P[2]), h(P[3]), h(P[7])
    op, od, ip, idd, nP, nd = (h(sp[0]), h(sp[0] ^ sp[1]), h(sp[2]), h(sp[2] ^ sp[3]), h(sp[4]),
                               h(sp[4] ^ sp[5]))
    rb = h(min(rbits, 16))
    rmask = ~u64(u64(u64(1) << u64(64 - rbits)) - u64(1))
    g = u64(key) + (u64(base + t0) + u64(1)) * _GAMMA   # rand_top's counter, stepped
    for i in range(t0, t1):
        z = mix64(g)
        g += _GAMMA
        b = h(src[U(i)])
        a = h(b & h(0x7FFF))
        sign = h(b & h(0x8000))
        m = h(h(0) - h(sign >> h(15)))
        e1 = max(h(a >> m_in), one)
        d = h(h(max(emin_E, e1) - e1) + s)
        sig = h(a - h(h(e1 - one) << m_in))
        se = h(min(d, m_in) & h(15))
        t = min(se, rb)
        inc = h(h(h(z >> u64(48)) >> h(h(h(16) - t) & h(15))) << h(h(se - t) & h(15)))
        rsig = h(h(sig + inc) & h(h(0) - h(one << se)))
        G = u64(u64(sig) << u64(h(h(h(64) - min(d, h(64))) & h(63)))) >> u64(min(h(max(d, h(64)) - h(64)), h(63)))
        up = u64(G & rmask) > ~z
        r = (q_bits if up else h(0)) if a < q_bits else h(a + h(rsig - sig))
        w = h(r | h(sign & (zs if r == h(0) else h(0x8000))))
        w = h(op ^ h(od & m)) if r > max_bits else w
        w = h(ip ^ h(idd & m)) if a == inf_bits else w
        w = h(nP ^ h(nd & m)) if a > inf_bits else w
        out[U(i)] = w


@parallel("elements")
@njit(**SERIAL)
def fast_stochastic_16(t0, t1, src, out, P, special, key, base, rbits, fp16):
    """Quantize bfloat16 or (``fp16``) float16 bits, stochastic, in 16-bit lanes: see above."""
    if fp16:
        _stochastic16_loop(t0, t1, src, out, P, special, key, base, rbits, 2)
    else:
        _stochastic16_loop(t0, t1, src, out, P, special, key, base, rbits, 1)


@parallel("elements", fast=True)
@njit(**SERIAL)
def gather(t0, t1, codes, table, out):
    """out[i] = table[codes[i]]: decode by lookup (codes already range-checked)."""
    for i in range(t0, t1):
        out[U(i)] = table[codes[U(i)]]


@parallel("elements", combine=max, fast=True)
@njit(**SERIAL)
def amax_bits(t0, t1, src, absmask):
    """The largest magnitude bits ``src & absmask`` of IEEE bits ``src`` (0 if empty): inf or
    NaN bits exactly where ``src`` holds an inf or NaN. ``absmask`` of src's dtype, so that the
    loop runs in lanes of that width."""
    m = absmask ^ absmask
    for i in range(t0, t1):
        m = max(m, src[U(i)] & absmask)
    return m
