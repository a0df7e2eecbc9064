// OCP MX blocks: the shared exponent of a block by scale rule, and its elements. A port of
// fmtlib/kernels/cpu/convert.py (_pow2_scale, _mx_block_exponent, _mx_element, mx_encode,
// mx_decode, and the fast path: _ieee_block_exponent, _mx_fast_elements); S = (rule, element
// emax, element mbits, element max M, eshift).
#pragma once
#if !defined(__CUDACC_RTC__)
#include <math.h>
#endif
#include "fmt_fast.cuh"
#include "fmt_scalar.cuh"

namespace fmt {

enum ScaleRule { FLOOR = 0, CEIL = 1, EVEN = 2, RCEIL = 3 };

struct ScaleParams { int64_t rule, emax, mbits; double M; int64_t eshift; };

// The largest amax whose float32 quotient amax / M (nearest-even) is at most 2**e.
FMT_HD double rceil_limit(int64_t e, double M) {
    double half_ulp = e >= -126 ? ldexp(1.0, (int)(e - 24)) : ldexp(1.0, -150);
    return M * (ldexp(1.0, (int)e) + half_ulp);
}

// Shared exponent of a block whose amax is sig * 2**exp > 0: FLOOR floor(log2 amax) - emax;
// CEIL ceil(log2 amax) - emax; EVEN FLOOR of amax rounded half-up to mbits + 1 bits (these give
// 128, the NaN scale, above 127); RCEIL ceil(log2(fl32(amax / M))) clamped to 127.
FMT_HD int64_t pow2_scale(int64_t sig, int64_t exp, const ScaleParams& S) {
    int64_t b = bit_length(sig);
    int64_t L = exp + b - 1;
    if (S.rule == CEIL) {
        if (sig != ((int64_t)1 << (b - 1))) L += 1;
    } else if (S.rule == EVEN) {
        int64_t k = b - S.mbits - 2;
        if (k >= 0 && sig >= ((int64_t)1 << b) - ((int64_t)1 << k)) L += 1;
    }
    if (S.rule != RCEIL) {
        int64_t e = L - S.emax;
        return e < -127 ? -127 : (e > 128 ? 128 : e);
    }
    double a = ldexp((double)sig, (int)exp);
    int k;
    double m = frexp(a / S.M, &k);
    int64_t e = m > 0.5 ? k : k - 1;
    e = e < -127 ? -127 : (e > 127 ? 127 : e);
    while (e > -127 && a <= rceil_limit(e - 1, S.M)) e -= 1;
    while (e < 127 && a > rceil_limit(e, S.M)) e += 1;
    return e;
}

// The shared exponent of a block whose largest value_key is ``key``: 128 (the NaN scale) for inf or
// NaN, -127 for an all-zero block, else by the scale rule.
FMT_HD int64_t mx_exponent_of_key(uint64_t key, const ScaleParams& S) {
    if (key == KEY_BAD) return 128;
    if (key == 0) return -127;
    int64_t sig, exp;
    key_value(key, sig, exp);
    return pow2_scale(sig, exp, S);
}

// Shared exponent of src[start:end] (format Ps); 128 for a block with inf or NaN.
template <typename T>
FMT_HD int64_t mx_block_exponent(const T* src, int64_t start, int64_t end, const Params& Ps, const ScaleParams& S) {
    auto key_of = [&](int64_t i) { return value_key((int64_t)src[i], Ps); };
    return mx_exponent_of_key(max_key<uint64_t>(start, end, 1, key_of), S);
}

// Bits (format Pout) of element ``code`` times 2**se, nearest-even.
FMT_HD int64_t mx_decoded(int64_t code, int64_t se, const Params& Pelem, const Params& Pout) {
    Value v = unpack(code, Pelem, false);
    v.exp += se;
    return pack(v, Pout, RNE, IEEE, 0, 1, false);
}

// One MX element: its code (saturating) for input bits b, se = scale exponent - eshift.
FMT_HD int64_t mx_element(int64_t b, int64_t se, const Params& Ps, const Params& Pelem, int64_t mode, int64_t rnd,
                          int64_t rbits) {
    Value v = unpack(b, Ps, false);
    v.exp -= se;
    return pack(v, Pelem, mode, SATURATE, rnd, rbits, false);
}

// Element i of a block with shared exponent se: its code, or (fused) its decoded bits in the
// input format (NaN bits for a NaN-scale block, code 0). Random bits: rand[i], or without
// ``rand`` (null) fmtlib-rng-v1's for base + i (``element_bits``).
template <typename T, typename C, typename RandT>
FMT_HD void mx_encode_at(const T* src, C* codes, T* out, int64_t i, int64_t se, const Params& Ps,
                         const Params& Pelem, const ScaleParams& S, int64_t mode, uint64_t key, int64_t base,
                         int64_t rbits, bool fused, const RandT* rand) {
    if (se == 128) {
        if (fused) out[i] = (T)Ps.p[7]; else codes[i] = 0;
        return;
    }
    int64_t rnd = element_bits(mode, rand, i, key, base, rbits);
    int64_t code = mx_element((int64_t)src[i], se - S.eshift, Ps, Pelem, mode, rnd, rbits);
    if (fused) out[i] = (T)mx_decoded(code, se - S.eshift, Pelem, Ps);
    else codes[i] = (C)code;
}

// Encode block t of rows of ncols elements: its e8m0 scale code, then each element.
template <typename T, typename C, typename RandT>
FMT_HD void mx_encode_block(const T* src, C* codes, uint8_t* scales, T* out, int64_t t, int64_t ncols,
                            int64_t block, const Params& Ps, const Params& Pelem, const ScaleParams& S, int64_t mode,
                            uint64_t key, int64_t base, int64_t rbits, bool fused, const RandT* rand) {
    int64_t start, end;
    block_span(t, ncols, block, start, end);
    int64_t se = mx_block_exponent(src, start, end, Ps, S);
    scales[t] = (uint8_t)(se + 127);
    for (int64_t i = start; i < end; i++)
        mx_encode_at(src, codes, out, i, se, Ps, Pelem, S, mode, key, base, rbits, fused, rand);
}

// The fast path (convert.py mx_encode_fast; fast_path.mx_eligible: an IEEE input, a float
// element the fast path takes, eshift 0): the shared exponent of a block from its largest
// magnitude bits ``amax`` (inf or NaN bits: 128, the NaN scale; 0: -127).
FMT_HD int64_t ieee_block_exponent(uint64_t amax, const FastParams& F, const ScaleParams& S) {
    const uint64_t one = 1;
    const uint64_t absmask = (one << F.sign_pos) - 1;
    if (amax >= ((absmask >> F.m_in) << F.m_in)) return 128;
    if (amax == 0) return -127;
    const int64_t E = (int64_t)(amax >> F.m_in);
    const int64_t mant = (int64_t)(amax & ((one << F.m_in) - 1));
    if (E > 0) return pow2_scale(mant | ((int64_t)1 << F.m_in), E - F.k0, S);
    return pow2_scale(mant, 1 - F.k0, S);
}

// Element i of a fast-path block with shared exponent se: the element is scaled by moving its
// exponent field, then rounded by fast_round on the input's own bits. An input subnormal scaled
// up, or (stochastic) a value scaled below the input's normal range, takes the generic helpers;
// a deterministic value scaled below the normal range is "tiny" (mx_eligible: the element's
// quantum / 2 is at or above the input's smallest normal), rounded as the smallest positive bits.
template <typename T, typename C, typename RandT>
FMT_HD void mx_fast_at(const T* src, C* codes, T* out, int64_t i, int64_t se, const Params& Ps, const Params& Pe,
                       const FastParams& F, int64_t mode, uint64_t key, int64_t base, int64_t rbits, bool fused,
                       const RandT* rand) {
    typedef typename FastWord<T>::type W;
    if (se == 128) {
        if (fused) out[i] = (T)Ps.p[7]; else codes[i] = 0;
        return;
    }
    const W one = 1;
    const W sign_bit = one << F.sign_pos, absmask = sign_bit - 1;
    const W b = (W)src[i], a = b & absmask;
    const int64_t E = (int64_t)(a >> F.m_in);
    const int64_t rnd = element_bits(mode, rand, i, key, base, rbits);
    W a2;
    if (E >= 1 && E - se >= 1) {
        a2 = (W)((int64_t)a - (se << F.m_in));
    } else if (a == 0 || (se >= 0 && mode != STOCH)) {
        a2 = a == 0 ? (W)0 : (W)1;   // 1: positive and below q / 2
    } else {
        const int64_t code = mx_element((int64_t)b, se, Ps, Pe, mode, rnd, rbits);
        if (fused) out[i] = (T)mx_decoded(code, se, Pe, Ps); else codes[i] = (C)code;
        return;
    }
    const W v = fast_round<W>(a2 | (b & sign_bit), rnd, F, mode, rbits);
    const W code = fast_value_code<W>(v, F);
    if (!fused) {
        codes[i] = (C)code;
        return;
    }
    const W av = v & absmask;
    const int64_t Ev = (int64_t)(av >> F.m_in);
    if (av == 0)
        out[i] = (T)v;
    else if (Ev >= 1 && Ev + se >= 1)
        out[i] = (T)((int64_t)v + (se << F.m_in));
    else
        out[i] = (T)mx_decoded((int64_t)code, se, Pe, Ps);
}

// Element i of an MX decode: element times 2**(scale - 127 - eshift); NaN where the scale is NaN.
template <typename C>
FMT_HD int64_t mx_decode_one(const C* codes, const uint8_t* scales, int64_t i, int64_t ncols, int64_t block,
                             const Params& Pelem, const Params& Pout, int64_t eshift) {
    int64_t s = scales[block_of(i, ncols, block)];
    if (s == 255) return Pout.p[7];
    return mx_decoded((int64_t)codes[i], s - 127 - eshift, Pelem, Pout);
}

}  // namespace fmt
