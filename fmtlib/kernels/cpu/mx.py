"""OCP MX kernels: blocks with a power-of-two (e8m0) shared scale -- the generic kernel, the
exponent-shift fast path, the 32-bit lane kernels for float32, bfloat16 and float16 input (float
and integer elements), the threshold kernel for tiny elements (e2m1) -- their decode, and their
per-tensor (one block over the whole tensor) variants.
"""
import math

import numpy as np
from numba import njit

from ..config import SCALAR, SERIAL
from ..threads import parallel
from .borrow import borrowed
from .scalar import (IEEE, INF, NAN, NO, NUMBER, ONE, RNE, SATURATE, STOCH, U, _GAMMA, bit_length, _block_span,
                     draw, mix64, _nan_block, pack, unpack)
from .element import (_bits_from_f32, _code32, _f32_bits_of, _fast_round, _input32, _rne32, _round_rne32,
                      _round_stochastic32, _stochastic32_constants, _value_code)


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


# --- float32, bfloat16 and float16 input in 32-bit lanes: nearest-even and stochastic --------
# The bits of mx_encode, with the element step in the 32-bit lanes of element.py so that LLVM
# vectorises it. Per block: se by _ieee_block_exponent (as above; for a chunk of blocks before their
# elements, so that no element loop waits on its own block's amax), then per element, on its
# magnitude widened to float32 (_f32_bits_of), y = |x| * 2**-se by one float32 product. A
# product by a power of two is exact unless it falls below float32's normal range 2**-126; such
# a y (and its float32 rounding, at most 2**-126) lies far below half the element's quantum q
# (fast_path.mx32_eligible: q / 2 >= 2**-64), where nearest-even gives 0 and stochastic
# rounding too (F = floor(y / q * 2**rbits) = 0 for rbits <= 62), as the generic path gives for
# the exact y. y is rounded by the element lane helpers (_round_rne32, _round_stochastic32;
# stochastic with fmtlib-rng-v1 of the element's index, as draw), saturated at the element's max
# (bits K[3]), and gives its code (_code32) or its value r * 2**se, which _mx_decoded rounds into
# the input format. No rounding is left to do there: r * 2**se is x rounded onto the element's
# grid scaled by 2**se, which, where it moves x, is coarser than x's own grid; so it is a value
# of the input format, or the power of two above x, which is inf where it passes the input's
# max (float32 and bfloat16: 2**128; float16: at most 2**16, whose bits _bits_from_f32 makes
# inf). One float32 product gives it exactly and _bits_from_f32 its bits.
# tests/test_mx_lanes.py checks this against the generic kernel on every float16 and bfloat16
# pattern.


@njit(**SCALAR)
def _pow2_f32(e):
    """2**e as a float32, -127 <= e <= 127 (2**-127 is subnormal)."""
    return np.uint32(((e + 127) << 23) if e > -127 else 0x400000).view(np.float32)


#: blocks whose scales _mx32_blocks finds before it rounds their elements (their input stays in L1)
_MX32_CHUNK = 64


@njit(**SCALAR)
def _mx32_elements(c0, c1, src, codes, scales, out, nan, K, E, ncols, block, stoch, key, base, rbits, fused, kind,
                   integer):
    """The elements of blocks c0..c1, whose scales are set (see above); ``stoch``, ``fused``,
    ``kind`` and ``integer`` are constants where this is inlined, so the element loop vectorises.
    ``integer``: an integer element (see "integer elements" below)."""
    u = np.uint32
    m_in, sign_bit, absmask, inf_bits = _input32(kind)
    s, magic, implicit, half1, keep = _rne32(K)
    emin_bits, max_bits, zero_sign, e_thr, q_bits = K[1], K[3], K[4], K[5], K[6]
    kq = np.int64(K[7])
    mag_bits, bias_shift, keep_neg_zero = u(E[0] & u(31)), E[1], u(E[2] & u(1))
    cmask, neg_max, top, twos = E[0], E[1], E[2], E[3]  # integer elements (fast_path.int32_constants)
    below_q, to_w, rmask, rb = _stochastic32_constants(K, rbits)
    nb = (ncols + block - 1) // block
    for t in range(c0, c1):
        start, end = _block_span(t, nb, ncols, block)
        se = np.int64(scales[U(t)]) - 127
        if se == 128:  # the NaN scale: inf/NaN in the block, or an exponent beyond e8m0
            _nan_block(codes, out, start, end, nan, fused)
            continue
        inv, sc = _pow2_f32(-se), _pow2_f32(se)
        h = np.uint64(key) + (np.uint64(base + start) + np.uint64(1)) * _GAMMA  # rand_top's counter, stepped
        for i in range(start, end):
            b = u(src[U(i)])
            a = u(b & absmask)
            sign = u(b & sign_bit)
            y = np.float32(np.uint32(_f32_bits_of(a, kind)).view(np.float32) * inv).view(np.uint32)
            if stoch:
                r = _round_stochastic32(y, mix64(h), s, e_thr, q_bits, below_q, to_w, rmask, rb)
                h += _GAMMA
            else:
                r = _round_rne32(y, s, magic, implicit, half1, keep, emin_bits)
            if integer:
                r = min(r, neg_max if sign != 0 else max_bits)
            else:
                r = min(r, max_bits)
            if fused:
                p = _bits_from_f32(np.float32(np.uint32(r).view(np.float32) * sc).view(np.uint32), kind)
                out[U(i)] = u(p | (sign & (zero_sign if r == 0 else sign_bit)))
            elif integer:
                codes[U(i)] = _int32_code(r, sign, magic, cmask, top, twos)
            else:
                codes[U(i)] = _code32(r, u(sign != 0), s, emin_bits, kq, mag_bits, bias_shift, keep_neg_zero)


@njit(**SERIAL)  # called, not inlined (see the kernels below), with the kernels' options (noalias arrays)
def _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, stoch, key, base, rbits, fused,
                 kind, amax, integer):
    """Blocks t0..t1: per chunk, its scales, then its elements (so that no element loop waits on
    its own block's amax). A non-empty ``amax`` (one element: the tensor's amax bits) gives every
    block the tensor's scale (per-tensor scaling, see below)."""
    m_src = Psrc[1]
    abs_src = (np.int64(1) << (Psrc[0] + m_src)) - 1
    k0 = Psrc[2] + m_src
    nb = (ncols + block - 1) // block
    tensor = amax.size > 0
    a = amax if tensor else src
    for c0 in range(t0, t1, _MX32_CHUNK):
        c1 = min(c0 + _MX32_CHUNK, t1)
        for t in range(c0, c1):
            start, end = (np.int64(0), np.int64(1)) if tensor else _block_span(t, nb, ncols, block)
            scales[U(t)] = _ieee_block_exponent(a, start, end, m_src, abs_src, k0, S) + 127
        _mx32_elements(c0, c1, src, codes, scales, out, Psrc[7], K, E, ncols, block, stoch, key, base, rbits, fused,
                       kind, integer)


# --- integer elements (MXINT8, Scaled(Int(k), "e8m0")) in the same lanes ----------------------
# The element is an integer n times q = 2**-eshift (MXINT8: n / 64; Scaled: q = 1). Rounding y
# onto that grid is the element lane helpers' rounding into a format with quantum q whose
# "subnormal" range holds every y: K = fast_path.int32_constants, s = 0 and smallest normal
# Q = 2**23 * q, so nearest-even is the FPU's (y + Q) - Q and stochastic rounding drops the bits
# below q as it drops an element's (the proof above, with q / 2 >= 2**-64, carries over).
# fast_path.mx32_eligible admits integers with max < 2**23, so y < Q: a block's amax gives
# y < 2**bit_length(max) * q (floor rule; the others give at most that, rceil at most
# max * q * (1 + 2**-24)), and the helpers' normal branch (s = 0) is never taken. The result
# saturates at max * q, or at -min * q for a negative input (0 for unsigned), as pack_int's
# saturation does; floor-on-overflow saturates too (an integer rounded past the range by
# nearest-even truncates to at least its bound). Its value r * 2**se is one exact float32
# product (a multiple of 2**(se - eshift) >= 2**-133, so exact also below 2**-126);
# mx32_eligible asks that max has at most the input's precision in bits, so that it is a value
# of the input format (as every rounded value is: where the grid 2**(se - eshift) is finer than
# the input's smallest subnormal, y / q is an integer at most max and nothing moves). The code:
# n = the bits of r + Q less those of Q (the sum stays in Q's binade, its bits count quanta),
# and for a negative input with n > 0, (-n) & mask (two's complement) or n | top
# (sign-magnitude), as int_code. No zero keeps a sign (K's zero-sign bits are 0).


@njit(**SCALAR)
def _int32_code(r, sign, magic, cmask, top, twos):
    """The integer code of float32 bits ``r`` of n quanta (n < 2**23; ``magic`` = Q, see
    above), negative where ``sign`` (non-zero) and n > 0: two's complement (``twos``) or
    sign-magnitude (``top`` the sign bit)."""
    u = np.uint32
    n = u(np.float32(np.uint32(r).view(np.float32) + magic).view(np.uint32) - np.float32(magic).view(np.uint32))
    neg = u(u(u(0) - n) & cmask) if twos != 0 else u(n | top)
    return neg if sign != 0 and n != 0 else n


#: per-tensor scaling in the lane kernels: the tensor as one row of blocks of this many
#: elements, every block with the tensor's scale (the chunks of the parallel element pass)
MX32_TENSOR_BLOCK = 4096


# One kernel per rounding family, output and input width, and for float or integer elements: a
# kernel compiles every loop it names, and each loop takes seconds to compile. Arguments: as
# mx_encode's, with ``K`` the element's fast_path.nearest32_constants (integers: int32_constants)
# and ``E`` its encode32_constants (integers: int32_constants), and ``amax`` empty, or per tensor
# the tensor's amax bits (see _mx32_blocks). The float elements' 16-bit kernels take bfloat16
# bits, or float16 with ``fp16``; the integer elements' have one kernel per input (``_bf16``,
# ``_f16``), so that a first use compiles one loop (the pair in one kernel compiled in 12 CPU-s
# against 5 for float32's, benchmarks/RESULTS.md).


@parallel("blocks")
@njit(**SERIAL)
def mx32_quantize_f32(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, key, base, rbits, amax):
    """:func:`mx_encode`, fused, nearest-even, of float32 bits (uint32) in 32-bit lanes (see above)."""
    _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, False, key, base, rbits, True, 0, amax,
                 False)


@parallel("blocks")
@njit(**SERIAL)
def mx32_encode_f32(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, key, base, rbits, amax):
    """:func:`mx32_quantize_f32` writing codes."""
    _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, False, key, base, rbits, False, 0,
                 amax, False)


@parallel("blocks")
@njit(**SERIAL)
def mx32_quantize_sr_f32(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, key, base, rbits, amax):
    """:func:`mx32_quantize_f32`, stochastic (fmtlib-rng-v1 keyed by ``key``, index ``base + i``)."""
    _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, True, key, base, rbits, True, 0, amax,
                 False)


@parallel("blocks")
@njit(**SERIAL)
def mx32_encode_sr_f32(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, key, base, rbits, amax):
    """:func:`mx32_quantize_sr_f32` writing codes."""
    _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, True, key, base, rbits, False, 0,
                 amax, False)


@parallel("blocks")
@njit(**SERIAL)
def mx32_quantize_16(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, key, base, rbits, amax, fp16):
    """:func:`mx32_quantize_f32` of bfloat16 or float16 bits (uint16)."""
    if fp16:
        _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, False, key, base, rbits, True, 2,
                     amax, False)
    else:
        _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, False, key, base, rbits, True, 1,
                     amax, False)


@parallel("blocks")
@njit(**SERIAL)
def mx32_encode_16(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, key, base, rbits, amax, fp16):
    """:func:`mx32_encode_f32` of bfloat16 or float16 bits (uint16)."""
    if fp16:
        _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, False, key, base, rbits, False, 2,
                     amax, False)
    else:
        _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, False, key, base, rbits, False, 1,
                     amax, False)


@parallel("blocks")
@njit(**SERIAL)
def mx32_quantize_sr_16(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, key, base, rbits, amax, fp16):
    """:func:`mx32_quantize_sr_f32` of bfloat16 or float16 bits (uint16)."""
    if fp16:
        _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, True, key, base, rbits, True, 2,
                     amax, False)
    else:
        _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, True, key, base, rbits, True, 1,
                     amax, False)


@parallel("blocks")
@njit(**SERIAL)
def mx32_encode_sr_16(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, key, base, rbits, amax, fp16):
    """:func:`mx32_encode_sr_f32` of bfloat16 or float16 bits (uint16)."""
    if fp16:
        _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, True, key, base, rbits, False, 2,
                     amax, False)
    else:
        _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, True, key, base, rbits, False, 1,
                     amax, False)


@parallel("blocks")
@njit(**SERIAL)
def mx32_int_quantize_f32(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, key, base, rbits, amax):
    """:func:`mx32_quantize_f32` for integer elements, of float32 bits (see above)."""
    _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, False, key, base, rbits, True, 0,
                 amax, True)


@parallel("blocks")
@njit(**SERIAL)
def mx32_int_quantize_bf16(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, key, base, rbits, amax):
    """:func:`mx32_quantize_16` for integer elements, of bfloat16 bits (see above)."""
    _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, False, key, base, rbits, True, 1,
                 amax, True)


@parallel("blocks")
@njit(**SERIAL)
def mx32_int_quantize_f16(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, key, base, rbits, amax):
    """:func:`mx32_quantize_16` for integer elements, of float16 bits (see above)."""
    _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, False, key, base, rbits, True, 2,
                 amax, True)


@parallel("blocks")
@njit(**SERIAL)
def mx32_int_quantize_sr_f32(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, key, base, rbits, amax):
    """:func:`mx32_quantize_sr_f32` for integer elements, of float32 bits (see above)."""
    _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, True, key, base, rbits, True, 0,
                 amax, True)


@parallel("blocks")
@njit(**SERIAL)
def mx32_int_quantize_sr_bf16(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, key, base, rbits, amax):
    """:func:`mx32_quantize_sr_16` for integer elements, of bfloat16 bits (see above)."""
    _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, True, key, base, rbits, True, 1,
                 amax, True)


@parallel("blocks")
@njit(**SERIAL)
def mx32_int_quantize_sr_f16(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, key, base, rbits, amax):
    """:func:`mx32_quantize_sr_16` for integer elements, of float16 bits (see above)."""
    _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, True, key, base, rbits, True, 2,
                 amax, True)


@parallel("blocks")
@njit(**SERIAL)
def mx32_int_encode_f32(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, key, base, rbits, amax):
    """:func:`mx32_encode_f32` for integer elements, of float32 bits (see above)."""
    _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, False, key, base, rbits, False, 0,
                 amax, True)


@parallel("blocks")
@njit(**SERIAL)
def mx32_int_encode_bf16(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, key, base, rbits, amax):
    """:func:`mx32_encode_16` for integer elements, of bfloat16 bits (see above)."""
    _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, False, key, base, rbits, False, 1,
                 amax, True)


@parallel("blocks")
@njit(**SERIAL)
def mx32_int_encode_f16(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, key, base, rbits, amax):
    """:func:`mx32_encode_16` for integer elements, of float16 bits (see above)."""
    _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, False, key, base, rbits, False, 2,
                 amax, True)


@parallel("blocks")
@njit(**SERIAL)
def mx32_int_encode_sr_f32(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, key, base, rbits, amax):
    """:func:`mx32_encode_sr_f32` for integer elements, of float32 bits (see above)."""
    _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, True, key, base, rbits, False, 0,
                 amax, True)


@parallel("blocks")
@njit(**SERIAL)
def mx32_int_encode_sr_bf16(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, key, base, rbits, amax):
    """:func:`mx32_encode_sr_16` for integer elements, of bfloat16 bits (see above)."""
    _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, True, key, base, rbits, False, 1,
                 amax, True)


@parallel("blocks")
@njit(**SERIAL)
def mx32_int_encode_sr_f16(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, key, base, rbits, amax):
    """:func:`mx32_encode_sr_16` for integer elements, of float16 bits (see above)."""
    _mx32_blocks(t0, t1, src, codes, scales, out, Psrc, K, E, S, ncols, block, True, key, base, rbits, False, 2,
                 amax, True)


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
    # borrowed views: the helpers inlined per block count no references (kernels/cpu/borrow.py)
    src, codes, scales, out = borrowed(src), borrowed(codes), borrowed(scales), borrowed(out)
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
# rounding draws the same random bits: the results are the one-block kernels' bits. The lane
# kernels (mx32_*) take ``amax`` themselves (_mx32_blocks): the tensor as one row of blocks of
# MX32_TENSOR_BLOCK elements, each block's scale found from amax.


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
