// OCP MX blocks of float32, bfloat16 and float16 input in 32-bit lanes: the CPU's mx32 kernels
// (fmtlib/kernels/cpu/mx.py: the comment above _pow2_f32 there has the rule and its proof),
// ported one function to one function, for the device and the host. Where
// fast_path.mx32_eligible holds (nearest-even, floor-on-overflow or stochastic by
// fmtlib-rng-v1 without rand=; a float element the fast path rounds from the input and from
// float32 with half its quantum at least 2**-64, or an integer element below 2**23), every
// element is scaled by one float32 product, rounded on float32 bits (integer nearest-even at
// or above the element's smallest normal, the FPU's below it; or stochastic), saturated, and
// gives its code or its value times the scale as one float32 product: 32-bit integers and
// float32 only, where the generic path (fmt_mx.cuh mx_encode_at) runs int64 unpack/pack. The
// one 64-bit part is stochastic rounding's: fmtlib-rng-v1 is a 64-bit hash (its z per
// element), and the test below the quantum compares a float64 product with z (as the CPU).
// The constants are the CPU's (fast_path.nearest32_constants' K and encode32_constants' E, or
// for an integer element int32_constants' K and E). Compile with --fmad=false --ftz=false:
// float32 subnormals are kept and no product is fused with a sum.
#pragma once
#include "fmt_mx.cuh"
#include "fmt_scalar.cuh"

namespace fmt {

// bit_length of a 32-bit value (0 for 0).
FMT_HD int32_t bit_length32(uint32_t v) {
#if defined(__CUDA_ARCH__)
    return 32 - __clz((int)v);
#else
    return v ? 32 - __builtin_clz(v) : 0;
#endif
}

// element.py _input32: (mantissa bits, sign bit, magnitude mask, inf bits) of float32 (kind
// 0), bfloat16 (1) or float16 (2) input bits in a 32-bit lane; k0: bias + mantissa bits (so
// |x| = sig * 2**(max(E, 1) - k0), as fast_path.constants' C[9]).
struct Input32 { uint32_t m_in, sign_bit, absmask, inf_bits; int32_t k0; };

FMT_HD Input32 input32(int32_t kind) {
    Input32 In;
    In.m_in = kind == 0 ? 23u : (kind == 1 ? 7u : 10u);
    In.sign_bit = kind == 0 ? 0x80000000u : 0x8000u;
    In.absmask = In.sign_bit - 1u;
    In.inf_bits = (In.absmask >> In.m_in) << In.m_in;
    In.k0 = kind == 0 ? 150 : (kind == 1 ? 134 : 25);
    return In;
}

// element.py _f32_bits_of: float32 bits of the magnitude bits ``a`` of the input (float16:
// its bits moved into float32's fields, times 2**112; float16 inf/NaN give garbage, which the
// block's NaN scale replaces).
FMT_HD uint32_t f32_bits_of(uint32_t a, int32_t kind) {
    if (kind == 0) return a;
    if (kind == 1) return a << 16;
    return f32_bits(bits_f32(a << 13) * bits_f32(0x77800000u));   // 2**112
}

// element.py _bits_from_f32: input-format bits of float32 magnitude bits ``r`` of a value the
// input format holds (float16: times 2**-112, then its fields; 2**16 gives inf).
FMT_HD uint32_t bits_from_f32(uint32_t r, int32_t kind) {
    if (kind == 0) return r;
    if (kind == 1) return r >> 16;
    return f32_bits(bits_f32(r) * bits_f32(0x07800000u)) >> 13;   // 2**-112
}

// The lane constants, by value: K and E, then the input's NaN bits, as fmt_mx32_encode's kc
// gives them (8 + 4 + 1 numbers), unpacked as element.py _rne32, _stochastic32_constants and mx.py _mx32_elements unpack them.
struct Mx32Params {
    Input32 in;
    uint32_t s;          // K[0] & 31: float32 mantissa bits dropped at or above 2**emin
    float magic;         // K[2] as a float32: Q, whose ulp is the element's quantum
    uint32_t half1;      // half an ulp at s, less one
    uint32_t keep;       // the mask of the kept bits
    uint32_t emin_bits, max_bits, zero_sign, e_thr, q_bits;   // K[1], K[3], K[4], K[5], K[6]
    uint32_t kq;         // K[7]: 150 + log2 of the quantum
    uint32_t mag_bits, bias_shift, keep_neg_zero;   // float elements: E[0] & 31, E[1], E[2] & 1
    uint32_t cmask, neg_max, top, twos;             // integer elements: E[0..3]
    uint32_t below_q, rb;   // stochastic: bits of the largest float32 below q, rbits
    double to_w;            // stochastic: 2**(64 - log2 q)
    uint64_t rmask;         // stochastic: ~(2**(64 - rbits) - 1)
    uint32_t nan;           // the input's NaN bits (a block with the NaN scale)
};

// element.py _rne32 and _stochastic32_constants, and the unpacking of mx.py _mx32_elements.
FMT_HD Mx32Params mx32_params(const long long* kc, int32_t kind, int32_t rbits) {
    Mx32Params P;
    uint32_t K[8], E[4];
    for (int k = 0; k < 8; k++) K[k] = (uint32_t)kc[k];
    for (int k = 0; k < 4; k++) E[k] = (uint32_t)kc[8 + k];
    P.in = input32(kind);
    P.s = K[0] & 31u;
    P.magic = bits_f32(K[2]);
    P.half1 = ((1u << P.s) >> 1) - 1u;
    P.keep = ~((1u << P.s) - 1u);
    P.emin_bits = K[1]; P.max_bits = K[3]; P.zero_sign = K[4]; P.e_thr = K[5]; P.q_bits = K[6]; P.kq = K[7];
    P.mag_bits = E[0] & 31u; P.bias_shift = E[1]; P.keep_neg_zero = E[2] & 1u;
    P.cmask = E[0]; P.neg_max = E[1]; P.top = E[2]; P.twos = E[3];
    P.below_q = K[6] - 1u;
    P.to_w = bits_f64((uint64_t)(1023 + 214 - (int64_t)K[7]) << 52);
    P.rmask = ~(((uint64_t)1 << ((64 - rbits) & 63)) - 1);   // (rbits 1..62 where it is used)
    P.rb = (uint32_t)rbits;
    P.nan = (uint32_t)kc[12];
    return P;
}

// element.py _round_rne32: float32 magnitude bits ``f`` rounded to nearest-even into the
// element, as float32 bits: integer rounding at or above 2**emin (a carry runs into the
// exponent; the implicit bit makes mbits 0 tie up), the FPU's (f + Q) - Q below it.
FMT_HD uint32_t round_rne32(uint32_t f, const Mx32Params& P) {
    const uint32_t rn = (f + P.half1 + (((f | 0x800000u) >> P.s) & 1u)) & P.keep;
    const uint32_t rs = f32_bits((bits_f32(f) + P.magic) - P.magic);
    return f < P.emin_bits ? rs : rn;
}

// element.py _round_stochastic32: float32 magnitude bits ``f`` rounded stochastically by the
// 64-bit z of fmtlib-rng-v1 (its top rbits bits are the random integer): the top
// min(se, rbits) bits of z added at the top of the dropped field of se bits; below the
// quantum q, q where floor(|x| / q * 2**64) (a float64 product, truncated), its low
// 64 - rbits bits cleared, is above ~z.
FMT_HD uint32_t round_stochastic32(uint32_t f, uint64_t z, const Mx32Params& P) {
    const uint32_t ee = (f >> 23) > 1u ? (f >> 23) : 1u;
    const uint32_t d = (P.e_thr > ee ? P.e_thr : ee) - ee;
    const uint32_t se = P.s + d < 23u ? P.s + d : 23u;
    const uint32_t t = se < P.rb ? se : P.rb;
    const uint32_t inc = ((uint32_t)(z >> 32) >> ((32u - t) & 31u)) << ((se - t) & 31u);
    const uint32_t rr = (f + inc) & (0u - (1u << se));
    const uint64_t w = (uint64_t)((double)bits_f32(f < P.below_q ? f : P.below_q) * P.to_w);
    const bool up = (w & P.rmask) > ~z;
    return f < P.q_bits ? (up ? P.q_bits : 0u) : rr;
}

// element.py _code32: the code of float32 bits ``r`` of an element value (rounded, at most the
// element's max), ``negu`` 1 for a negative input: at or above 2**emin its bits shifted right
// by s less (127 - bias) << mbits, below it the significand shifted to count quanta; the sign
// where the value is not 0 or -0 is kept.
FMT_HD uint32_t code32(uint32_t r, uint32_t negu, const Mx32Params& P) {
    const uint32_t ee = (r >> 23) > 1u ? (r >> 23) : 1u;
    const uint32_t sh = P.kq - ee < 31u ? P.kq - ee : 31u;
    const uint32_t sub = ((r & 0x7FFFFFu) | (r >= 0x800000u ? 0x800000u : 0u)) >> sh;
    const uint32_t mag = r >= P.emin_bits ? (r >> P.s) - P.bias_shift : sub;
    return mag | ((negu & ((uint32_t)(r != 0) | P.keep_neg_zero)) << P.mag_bits);
}

// mx.py _int32_code: the integer code of float32 bits ``r`` of n quanta (n < 2**23: the bits
// of r + Q less those of Q), negative where ``sign`` and n > 0: two's complement or
// sign-magnitude.
FMT_HD uint32_t int32_code(uint32_t r, uint32_t sign, const Mx32Params& P) {
    const uint32_t n = f32_bits(bits_f32(r) + P.magic) - f32_bits(P.magic);
    const uint32_t neg = P.twos != 0 ? (0u - n) & P.cmask : n | P.top;
    return sign != 0 && n != 0 ? neg : n;
}

// mx.py _pow2_f32: 2**e as a float32, -127 <= e <= 127 (2**-127 is subnormal).
FMT_HD float pow2_f32(int32_t e) {
    return bits_f32(e > -127 ? (uint32_t)(e + 127) << 23 : 0x400000u);
}

// mx.py _pow2_scale for a significand below 2**24 (IEEE input of at most 32 bits): the shared
// exponent of a block whose amax is sig * 2**exp > 0, in 32-bit integers; rceil's float64
// search is the generic pow2_scale's (fmt_mx.cuh), once per block.
FMT_HD int32_t pow2_scale32(uint32_t sig, int32_t exp, const ScaleParams& S) {
    if (S.rule == RCEIL) return (int32_t)pow2_scale((int64_t)sig, exp, S);
    const int32_t b = bit_length32(sig);
    int32_t L = exp + b - 1;
    if (S.rule == CEIL) {
        if (sig != 1u << (b - 1)) L += 1;
    } else if (S.rule == EVEN) {
        const int32_t k = b - (int32_t)S.mbits - 2;
        if (k >= 0 && sig >= (1u << b) - (1u << k)) L += 1;
    }
    const int32_t e = L - (int32_t)S.emax;
    return e < -127 ? -127 : (e > 128 ? 128 : e);
}

// mx.py _ieee_block_exponent of a block whose largest magnitude bits are ``amax`` (input
// bits): 128 (the NaN scale) for inf or NaN, -127 for an all-zero block, else by the rule.
FMT_HD int32_t mx32_block_exponent(uint32_t amax, const Input32& In, const ScaleParams& S) {
    if (amax >= In.inf_bits) return 128;
    if (amax == 0) return -127;
    const int32_t E = (int32_t)(amax >> In.m_in);
    const uint32_t mant = amax & ((1u << In.m_in) - 1u);
    if (E > 0) return pow2_scale32(mant | (1u << In.m_in), E - In.k0, S);
    return pow2_scale32(mant, 1 - In.k0, S);
}

// The body of mx.py _mx32_elements for element i of a block whose scale exponent se is not
// 128: inv = 2**-se, sc = 2**se (pow2_f32); ``z``: fmtlib-rng-v1's 64-bit hash of element
// base + i (stochastic only). The code into codes[i], or (fused) the value into out[i].
template <typename T, typename C>
FMT_HD void mx32_at(const T* src, C* codes, T* out, int64_t i, float inv, float sc, const Mx32Params& P,
                    int32_t kind, bool stoch, uint64_t z, bool fused, bool integer) {
    const uint32_t b = (uint32_t)src[i];
    const uint32_t a = b & P.in.absmask, sign = b & P.in.sign_bit;
    const uint32_t y = f32_bits(bits_f32(f32_bits_of(a, kind)) * inv);
    uint32_t r = stoch ? round_stochastic32(y, z, P) : round_rne32(y, P);
    const uint32_t lim = integer && sign != 0 ? P.neg_max : P.max_bits;
    r = r < lim ? r : lim;
    if (fused) {
        const uint32_t p = bits_from_f32(f32_bits(bits_f32(r) * sc), kind);
        out[i] = (T)(p | (sign & (r == 0 ? P.zero_sign : P.in.sign_bit)));
    } else if (integer) {
        codes[i] = (C)int32_code(r, sign, P);
    } else {
        codes[i] = (C)code32(r, (uint32_t)(sign != 0), P);
    }
}

// fmtlib-rng-v1's 64-bit hash of element ``index`` (rand_top before it keeps the top bits;
// the CPU's counter h = key + (index + 1) * gamma).
FMT_HD uint64_t rng_hash(uint64_t key, int64_t index) {
    return mix64(key + ((uint64_t)index + 1ULL) * 0x9E3779B97F4A7C15ULL);
}

// mx.py _mx32_elements for the elements first, first + step, ... below ``end`` of a block
// whose scale exponent is se (a lane's share on the device: start + lane, step 32; the whole
// block on the host): the NaN scale's NaN or code 0 (mx.py _nan_block), else mx32_at with
// fmtlib-rng-v1 of element base + i.
template <typename T, typename C>
FMT_HD void mx32_elements(const T* src, C* codes, T* out, int64_t first, int64_t end, int64_t step, int32_t se,
                          const Mx32Params& P, int32_t kind, bool stoch, uint64_t key, int64_t base, bool fused,
                          bool integer) {
    if (se == 128) {
        for (int64_t i = first; i < end; i += step) {
            if (fused) out[i] = (T)P.nan; else codes[i] = 0;
        }
        return;
    }
    const float inv = pow2_f32(-se), sc = pow2_f32(se);
    for (int64_t i = first; i < end; i += step)
        mx32_at(src, codes, out, i, inv, sc, P, kind, stoch, stoch ? rng_hash(key, base + i) : 0, fused, integer);
}

}  // namespace fmt
