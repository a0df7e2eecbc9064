"""Kernels of ``fmtlib.Scaled`` with a float block scale: the exact long-division kernel, the
float64 fast paths (with their proof below), their decode, and their per-tensor variants.
"""
import math

import numpy as np
from numba import njit

from ..config import CALLED, SCALAR, SERIAL
from ..threads import parallel
from .scalar import (DOWN, FLOOR_OVF, FP32_P, _GAMMA, IEEE, INF, NAN, NO, NUMBER, ODD, ONE, RNA, RNE, SATURATE, STOCH,
                     U, UP, ZERO, bit_length, _block_span, draw, int_code, mix64, _nan_block, pack, unpack)
from .element import _fast_round, _value_code


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


@njit(**SCALAR)
def _f32_amax_bits(src, start, end):
    """The largest magnitude bits of float32 src[start:end] (inf or NaN bits where it holds one)."""
    amax = np.int64(0)
    for i in range(start, end):
        amax = max(amax, np.int64(np.float32(src[U(i)]).view(np.uint32)) & 0x7FFFFFFF)
    return amax


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
        amax = _f32_amax_bits(src, start, end)
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
        amax = _f32_amax_bits(src, start, end)
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


# --- stochastic rounding with a float scale: the float64 fast path (fast_path.scaled_sr_eligible) ---
# The rule is ``round_shift``'s (scalar.py), reached through ``div_pack`` and ``pack``: with
# y = |x / D| / u exactly (u: the element's quantum at the binade of x / D, at least its
# subnormal quantum; u = 1 for integers), n = floor(y) and F = floor((y - n) * 2**rbits), the
# magnitude is n + 1 where F + rnd >= 2**rbits, else n, then saturated (rnd < 2**rbits, as
# ``random_args`` checks). div_pack's quotient sig = 2 * floor(Q) + sticky has s > rbits bits
# below the element's last place (s >= 61 - precision, rbits <= 60 - precision; for an integer
# where n < 2**precision, and n >= 2**precision gives the range's end whatever F is), so
# F = rem >> (s - rbits) shifts the sticky bit off and is floor((y - n) * 2**rbits) exactly.
# As rnd is an integer, F + rnd >= 2**rbits iff W + zr >= 2**64, with W = (y - n) * 2**64 (real)
# and zr = rnd * 2**(64 - rbits): the 64-bit random draw with its low bits cleared.
# Here q = x / D is one float64 division (x float32, D of at most 24 significant bits),
# y_f = |q| / u (a power-of-two scaling), n_f = floor(y_f), w = trunc((y_f - n_f) * 2**64) (the
# subtraction is exact; w <= 2**64 - 2**11), and up iff w + zr >= 2**64, that is w > ~zr.
# - Lemma (the deterministic fast path's, above): q compares with every float64 m = M * 2**e,
#   M * dsig < 2**49, as x / D does. So q has x / D's binade (m a power of two) and n_f = n
#   (m = k * u, k <= 2**precision + 1; integers are clipped at max(hi, -lo) + 1, beyond which
#   they saturate either way). Where precision + rbits <= 24 the threshold (n + T / 2**rbits) * u,
#   T = 2**rbits - rnd, has M <= 2**25 (M = n * 2**rbits + T), so the test is exact: w > ~zr iff
#   (y_f - n) * 2**64 >= 2**64 - zr (an integer right side) iff q >= the threshold.
# - Otherwise (the default rbits = 60 - precision): |y_f - y| <= half an ulp of y_f
#   <= 2**(precision - 53) (y_f < 2**precision, or < 2**precision + 2 for a clipped integer), so
#   |w - W| < 2**(precision + 11) + 1 <= err = 2**(precision + 12), and the test decides unless
#   w + zr lies within err of 2**64, which (w + zr + err) mod 2**64 < 2 * err catches (with a few
#   sums near 0 or 2**65 that need no help). Those elements take the exact long division
#   (``_scaled_exact_elements``): a window of 2**(precision + 13) of the 2**64 sums.
# The rest is the nearest-even path's: (n + up) * u is exact, saturates at max, and its code and
# value follow ``_rne_elements``; the fused value times D is exact in float64 and rounded once to
# float32. Float32 input only (a float64 input has 53 significant bits and the lemma fails); the
# random bits are fmtlib-rng-v1's (``rand_top``) or the caller's ``rand``. The kernels take
# e1, e2 = err, 2 * err, or 0, 0 (nothing undecided) where precision + rbits <= 24.

_TWO64 = np.float64(18446744073709551616.0)


@njit(**SCALAR)
def _sr_one(q, zr, F, M, lo, hi, e1, e2, is_int):
    """(magnitude r, negative, code, ambiguous) of float64 ``q`` rounded stochastically with the
    random ``zr`` (see above); ``lo, hi``: an integer element's range (``is_int``)."""
    bq = np.float64(q).view(np.int64)
    neg = bq < 0
    a = abs(q)
    if is_int:
        y = min(a, max(hi, -lo) + 1.0)
        u = 1.0
    else:
        lu = max(((bq >> 52) & 0x7FF) - 1023, F[2]) - F[0]
        y = a * np.int64((1023 - lu) << 52).view(np.float64)
        u = np.int64((1023 + lu) << 52).view(np.float64)
    n = np.floor(y)
    w = np.uint64((y - n) * _TWO64)
    up = w > ~zr
    amb = np.uint64(w + zr + e1) < e2
    r = (n + np.float64(up)) * u
    if is_int:
        v = min(max(-r if neg else r, lo), hi) + 0.0   # + 0.0: no -0 for integers
        return v, np.int64(0), amb
    r = min(r, M)
    s = neg and (r != 0 or F[5] == 1)   # fnuz: no -0
    return -r if s else r, np.int64(s), amb


@njit(**SCALAR)
def _d_sig_exp(D):
    """(dsig, dexp) of a normal float64 ``D`` of at most 24 significant bits."""
    bd = np.float64(D).view(np.int64)
    return ((bd & 0xFFFFFFFFFFFFF) | (np.int64(1) << 52)) >> 29, ((bd >> 52) & 0x7FF) - 1046


@njit(**SCALAR)
def _sr_elements(src, codes, out, start, end, dfe, zbuf, Pelem, F, M, key, base, rbits, e1, e2, fused, rand, is_int):
    """Elements of float32 src[start:end] with effective scales dfe[i - start], rounded
    stochastically (see above): a branch-free pass, then the exact long division for the ones it
    could not decide. ``zbuf``: room for the random draws (as many as ``dfe``)."""
    lo, hi = np.float64(Pelem[3]), np.float64(Pelem[4])
    q_magic, emin_val, inv_q = _format_consts(F)
    sh = np.uint64(64 - rbits)
    if rand.size:   # the random draws first, in their own loop: the pass below has one version
        for i in range(start, end):
            zbuf[U(i - start)] = np.uint64(rand[U(i)]) << sh
    else:
        rmask = ~np.uint64((np.uint64(1) << sh) - np.uint64(1))
        for i in range(start, end):
            zbuf[U(i - start)] = mix64(np.uint64(key) + (np.uint64(base + i) + np.uint64(1)) * _GAMMA) & rmask
    namb = np.int64(0)
    for i in range(start, end):
        zr = zbuf[U(i - start)]
        Df = dfe[U(i - start)]
        v, s, amb = _sr_one(np.float64(src[U(i)]) / Df, zr, F, M, lo, hi, e1, e2, is_int)
        namb += np.int64(amb)
        if not fused:
            if is_int:
                codes[U(i)] = int_code(np.int64(v), Pelem)
            else:
                codes[U(i)] = _f64_code(abs(v), F[0], F[1], emin_val, inv_q) | (s << F[4])
        if fused:
            out[U(i)] = np.float32(v * Df)
    if namb:
        _sr_undecided(src, codes, out, start, end, dfe, Pelem, F, M, key, base, rbits, e1, e2, fused, rand)


@njit(**CALLED)
def _sr_undecided(src, codes, out, start, end, dfe, Pelem, F, M, key, base, rbits, e1, e2, fused, rand):
    """The exact long division for the elements of src[start:end] that :func:`_sr_elements`
    could not decide (one compiled copy for integer and float elements)."""
    lo, hi = np.float64(Pelem[3]), np.float64(Pelem[4])
    sh = np.uint64(64 - rbits)
    is_int = Pelem[11] == 1
    sb, ob = src.view(np.uint32), out.view(np.uint32)
    for i in range(start, end):
        rnd = draw(rand, key, base, i, rbits)
        Df = dfe[U(i - start)]
        v, s, amb = _sr_one(np.float64(src[U(i)]) / Df, np.uint64(rnd) << sh, F, M, lo, hi, e1, e2, is_int)
        if amb:
            dsig, dexp = _d_sig_exp(Df)
            _scaled_exact_elements(sb, codes, ob, i, i + 1, dsig, dexp, FP32_P, Pelem, STOCH, key, base, rbits, NO,
                                   fused, rand)


@njit(**CALLED)
def _sr_run(src, codes, out, start, end, dfe, zbuf, Pelem, F, M, key, base, rbits, e1, e2, fused, rand, is_int):
    """:func:`_sr_elements` (nothing where start >= end). ``is_int`` is a literal: Numba compiles
    one version for integer elements and one for float elements, each only where a call needs it."""
    if start < end:
        _sr_elements(src, codes, out, start, end, dfe, zbuf, Pelem, F, M, key, base, rbits, e1, e2, fused, rand, is_int)


#: elements per branch-free pass of the stochastic kernels (their scales in one float64 buffer)
_SR_GROUP = 512


@njit(**SCALAR)
def _sr_blocks(t0, t1, src, codes, scales, bad, out, Pelem, Pscale, R, smin_code, S, smax, smin, scale_nan,
               rne_scale, ncols, block, F, M, e1, e2, key, base, rbits, fused, rand, is_int):
    """:func:`scaled_encode` for stochastic rounding of float32 ``src`` (``out``: float32), on
    the float64 fast path (see above). The scale as :func:`scaled_encode_rne` where ``rne_scale``
    (no global scale, a scale format with subnormals), else by the exact division. The elements of
    consecutive blocks go through :func:`_sr_elements` together, up to ``_SR_GROUP`` at a time."""
    s_magic, s_emin, s_inv_q = _format_consts(S)
    nb = (ncols + block - 1) // block
    dfe = np.empty(_SR_GROUP, dtype=np.float64)
    zbuf = np.empty(_SR_GROUP, dtype=np.uint64)
    g0 = _block_span(t0, nb, ncols, block)[0]   # the pending group: elements g0 .. j - 1
    for t in range(t0, t1):
        start, end = _block_span(t, nb, ncols, block)
        amax = _f32_amax_bits(src, start, end)
        D = np.float64(np.nan)
        if rne_scale:
            if amax < 0x7F800000:
                D = max(_rne_f64(np.float64(np.uint32(amax).view(np.float32)) / M, S[0], s_magic), smin)
            if D <= smax:
                scales[U(t)] = _f64_code(D, S[0], S[1], s_emin, s_inv_q)
            else:   # inf or NaN in the block, or a scale beyond the scale format
                bad[U(t)] = amax < 0x7F800000
                scales[U(t)] = scale_nan
        else:
            sc, dsig, dexp = np.int64(-1), np.int64(0), np.int64(0)
            if amax < 0x7F800000:
                kind, sign, msig, mexp = unpack(amax, FP32_P, NO)
                sc, dsig, dexp = _scale_of(msig, mexp, Pscale, R, smin_code)
            if sc == -2:
                bad[U(t)] = 1
            scales[U(t)] = Pscale[7] if sc < 0 else sc
            if sc >= 0:
                D = math.ldexp(np.float64(dsig), dexp)
        if not (D <= smax if rne_scale else D == D):   # a NaN scale: the block's codes 0, values NaN
            _sr_run(src, codes, out, g0, start, dfe, zbuf, Pelem, F, M, key, base, rbits, e1, e2, fused, rand, is_int)
            _nan_block(codes, out, start, end, np.float32(np.nan), fused)
            g0 = end
            continue
        j = start
        while j < end:
            m = min(end - j, _SR_GROUP - (j - g0))
            for k in range(j - g0, j - g0 + m):
                dfe[U(k)] = D
            j += m
            if j - g0 == _SR_GROUP:
                _sr_run(src, codes, out, g0, j, dfe, zbuf, Pelem, F, M, key, base, rbits, e1, e2, fused, rand, is_int)
                g0 = j
    _sr_run(src, codes, out, g0, _block_span(t1 - 1, nb, ncols, block)[1], dfe, zbuf, Pelem, F, M, key, base, rbits,
            e1, e2, fused, rand, is_int)


@parallel("blocks")
@njit(**SERIAL)
def scaled_encode_sr(t0, t1, src, codes, scales, bad, out, Pelem, Pscale, R, smin_code, S, smax, smin, scale_nan,
                     rne_scale, ncols, block, F, M, e1, e2, key, base, rbits, fused, rand):
    """:func:`_sr_blocks` for a float element."""
    _sr_blocks(t0, t1, src, codes, scales, bad, out, Pelem, Pscale, R, smin_code, S, smax, smin, scale_nan, rne_scale,
               ncols, block, F, M, e1, e2, key, base, rbits, fused, rand, False)


@parallel("blocks")
@njit(**SERIAL)
def scaled_encode_sr_int(t0, t1, src, codes, scales, bad, out, Pelem, Pscale, R, smin_code, S, smax, smin, scale_nan,
                         rne_scale, ncols, block, F, M, e1, e2, key, base, rbits, fused, rand):
    """:func:`_sr_blocks` for an integer element."""
    _sr_blocks(t0, t1, src, codes, scales, bad, out, Pelem, Pscale, R, smin_code, S, smax, smin, scale_nan, rne_scale,
               ncols, block, F, M, e1, e2, key, base, rbits, fused, rand, True)


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


@njit(**SCALAR)
def _sr_tensor(t0, t1, src, codes, scales, bad, out, amax, Pelem, Pscale, R, smin_code, F, M, e1, e2, key, base, rbits,
               fused, rand, is_int):
    """:func:`_sr_blocks` of one block, the whole of float32 ``src`` (amax bits ``amax[0]``, a
    uint32 array); the scale by the exact division."""
    sc, dsig, dexp = _tensor_scale(amax, FP32_P, Pscale, R, smin_code, scales, bad, t0)
    if sc < 0:
        _nan_block(codes, out, t0, t1, np.float32(np.nan), fused)
        return
    dfe = np.full(_SR_GROUP, math.ldexp(np.float64(dsig), dexp))
    zbuf = np.empty(_SR_GROUP, dtype=np.uint64)
    for g0 in range(t0, t1, _SR_GROUP):
        _sr_run(src, codes, out, g0, min(g0 + _SR_GROUP, t1), dfe, zbuf, Pelem, F, M, key, base, rbits, e1, e2, fused, rand,
                is_int)


@parallel("elements")
@njit(**SERIAL)
def scaled_encode_sr_tensor(t0, t1, src, codes, scales, bad, out, amax, Pelem, Pscale, R, smin_code, F, M, e1, e2,
                            key, base, rbits, fused, rand):
    """:func:`_sr_tensor` for a float element."""
    _sr_tensor(t0, t1, src, codes, scales, bad, out, amax, Pelem, Pscale, R, smin_code, F, M, e1, e2, key, base, rbits,
               fused, rand, False)


@parallel("elements")
@njit(**SERIAL)
def scaled_encode_sr_tensor_int(t0, t1, src, codes, scales, bad, out, amax, Pelem, Pscale, R, smin_code, F, M, e1, e2,
                                key, base, rbits, fused, rand):
    """:func:`_sr_tensor` for an integer element."""
    _sr_tensor(t0, t1, src, codes, scales, bad, out, amax, Pelem, Pscale, R, smin_code, F, M, e1, e2, key, base, rbits,
               fused, rand, True)
