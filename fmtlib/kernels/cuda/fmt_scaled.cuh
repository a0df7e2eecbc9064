// Scaled with a float scale format (fp32, bf16, ue4m3, ...): a port of the float-scale part of
// fmtlib/kernels/cpu/convert.py (div_pack, _block_scale, _effective_scale, _times,
// scaled_encode, scaled_decode). The block scale S is amax / (max_elem * G) rounded once into
// the scale format, at least its smallest positive value; the effective scale D = fl32(S * G),
// at least 2**-149 (G = 1: D = S). Elements are x / D rounded once by long division; decoding
// is element * D rounded once. R = (max_elem significand, exponent, G significand, exponent,
// G is 1).
#pragma once
#include "fmt_scalar.cuh"

namespace fmt {

// Code (format P) of (-1)**sign * nsig*2**nexp / (dsig*2**dexp), rounded once: long division
// to a 60-61 bit quotient and a sticky bit. nsig < 2**53, dsig < 2**48.
FMT_HD int64_t div_pack(int64_t sign, int64_t nsig, int64_t nexp, int64_t dsig, int64_t dexp, const Params& P,
                        int64_t mode, int64_t overflow, int64_t rnd, int64_t rbits, bool ftz) {
    int64_t bn = bit_length(nsig), bd = bit_length(dsig);
    int64_t k = 60 - bn + bd;
    int64_t q = nsig / dsig;
    int64_t r = nsig - q * dsig;
    int64_t step_max = 62 - bd;
    for (int64_t left = k; left > 0;) {
        int64_t step = step_max < left ? step_max : left;
        r <<= step;
        int64_t d = r / dsig;
        q = (q << step) | d;
        r -= d * dsig;
        left -= step;
    }
    Value v{NUMBER, sign, (q << 1) | (r != 0 ? 1 : 0), nexp - dexp - k - 1};
    return pack(v, P, mode, overflow, rnd, rbits, ftz);
}

struct BlockScale { int64_t code, dsig, dexp; };

// D = fl32(S * G), at least 2**-149 (S = ssig * 2**sexp).
FMT_HD BlockScale effective_scale(int64_t code, int64_t ssig, int64_t sexp, const long long* R) {
    const Params P32 = fp32_params();
    Value v = unpack(pack(Value{NUMBER, 0, ssig * R[2], sexp + R[3]}, P32, RNE, IEEE, 0, 1, false), P32, false);
    if (v.kind == ZERO) return BlockScale{code, 1, -149};
    return BlockScale{code, v.sig, v.exp};
}

// The scale code and D of a block whose largest value_key is ``key``: code -1 for a block with
// inf or NaN, -2 where the scale is beyond the scale format's range.
FMT_HD BlockScale scale_of_key(uint64_t key, const Params& Psc, const long long* R, int64_t smin_code) {
    if (key == KEY_BAD) return BlockScale{-1, 0, 0};
    int64_t code = smin_code;
    if (key != 0) {
        int64_t msig, mexp;
        key_value(key, msig, mexp);
        code = div_pack(0, msig, mexp, R[0] * R[2], R[1] + R[3], Psc, RNE, IEEE, 0, 1, false);
        if (code == Psc.p[7] || code == Psc.p[8]) return BlockScale{-2, 0, 0};
        if (code < smin_code) code = smin_code;
    }
    Value s = unpack(code, Psc, false);
    if (R[4]) return BlockScale{code, s.sig, s.exp};
    return effective_scale(code, s.sig, s.exp, R);
}

// Bits (format Pout) of element ``code`` times D = dsig * 2**dexp, rounded once.
FMT_HD int64_t scaled_times(int64_t code, int64_t dsig, int64_t dexp, const Params& Pe, const Params& Pout) {
    Value v = unpack(code, Pe, false);
    if (v.kind == NUMBER && dsig == 0) v.kind = ZERO;   // a zero scale (records from elsewhere)
    v.sig *= dsig;
    v.exp += dexp;
    return pack(v, Pout, RNE, IEEE, 0, 1, false);
}

// Element i of a block with scale b: its code (x / D by long division), or (fused) its decoded
// bits in the input format; a block with inf or NaN (b.code < 0) gives code 0 or NaN. Random
// bits as ``element_bits``.
template <typename T, typename C, typename RandT>
FMT_HD void scaled_encode_at(const T* src, C* codes, T* out, int64_t i, const BlockScale& b, const Params& Ps,
                             const Params& Pe, int64_t mode, uint64_t key, int64_t base, int64_t rbits, bool fused,
                             const RandT* rand) {
    if (b.code < 0) {
        if (fused) out[i] = (T)Ps.p[7]; else codes[i] = 0;
        return;
    }
    Value v = unpack((int64_t)src[i], Ps, false);
    int64_t rnd = element_bits(mode, rand, i, key, base, rbits);
    int64_t code = v.kind == ZERO ? pack(v, Pe, mode, SATURATE, rnd, rbits, false)
                                  : div_pack(v.sign, v.sig, v.exp, b.dsig, b.dexp, Pe, mode, SATURATE, rnd, rbits,
                                             false);
    if (fused) out[i] = (T)scaled_times(code, b.dsig, b.dexp, Pe, Ps);
    else codes[i] = (C)code;
}

// Encode block t of rows of ncols elements: scales[t] (the scale format's NaN for inf/NaN
// blocks and for scales out of range, which return 1 so the caller can raise), then each
// element.
template <typename T, typename C, typename RandT>
FMT_HD int64_t scaled_encode_block(const T* src, C* codes, uint32_t* scales, T* out, int64_t t, int64_t ncols,
                                   int64_t block, const Params& Ps, const Params& Pe, const Params& Psc,
                                   const long long* R, int64_t smin_code, int64_t mode, uint64_t key, int64_t base,
                                   int64_t rbits, bool fused, const RandT* rand) {
    int64_t start, end;
    block_span(t, ncols, block, start, end);
    auto key_of = [&](int64_t i) { return value_key((int64_t)src[i], Ps); };
    uint64_t k = max_key<uint64_t>(start, end, 1, key_of);
    BlockScale b = scale_of_key(k, Psc, R, smin_code);
    scales[t] = (uint32_t)(b.code < 0 ? Psc.p[7] : b.code);
    for (int64_t i = start; i < end; i++)
        scaled_encode_at(src, codes, out, i, b, Ps, Pe, mode, key, base, rbits, fused, rand);
    return b.code == -2 ? 1 : 0;
}

// Element i of a decode: element * D; the output's NaN where the scale is inf or NaN.
template <typename C>
FMT_HD int64_t scaled_decode_one(const C* codes, const uint32_t* scales, int64_t i, int64_t ncols, int64_t block,
                                 const Params& Pe, const Params& Psc, const Params& Pout, const long long* R) {
    int64_t sc = (int64_t)scales[block_of(i, ncols, block)];
    Value s = unpack(sc, Psc, false);
    if (s.kind == NAN_ || s.kind == INF) return Pout.p[7];
    if (!R[4] && s.kind == NUMBER) {
        BlockScale d = effective_scale(sc, s.sig, s.exp, R);
        s.sig = d.dsig;
        s.exp = d.dexp;
    }
    return scaled_times((int64_t)codes[i], s.sig, s.exp, Pe, Pout);
}

}  // namespace fmt
