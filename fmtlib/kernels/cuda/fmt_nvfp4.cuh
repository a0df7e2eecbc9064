// NVFP4 blocks by the torchao 0.12-0.16 (recipe 0), TransformerEngine (recipe 1) and torchao 0.18
// (recipe 2) recipes, in float32
// arithmetic operation for operation: a port of fmtlib/kernels/cpu/convert.py (_nvfp4_block,
// nvfp4_encode, nvfp4_decode). Compile without fast math and without FMA contraction.
#pragma once
#include "fmt_fast.cuh"
#include "fmt_scalar.cuh"

namespace fmt {

// Input bits (format Ps) as a float32 value (bf16/fp16 convert exactly).
FMT_HD float as_f32(int64_t b, const Params& Ps, bool f32_in) {
    if (f32_in) return bits_f32((uint32_t)b);
    return bits_f32((uint32_t)pack(unpack(b, Ps, false), fp32_params(), RNE, IEEE, 0, 1, false));
}

// Code of float32 value v in format P, rounded by ``mode``.
FMT_HD int64_t f32_code(float v, const Params& P, int64_t mode, int64_t overflow, int64_t rnd, int64_t rbits) {
    return pack(unpack((int64_t)f32_bits(v), fp32_params(), false), P, mode, overflow, rnd, rbits, false);
}

// e4m3fn code of a positive float32, nearest-even, saturating.
FMT_HD int64_t e4m3_code(float v, const Params& Pscale) {
    int64_t b = (int64_t)f32_bits(v);
    if (0x3C800000 <= b && b <= 0x43E00000) return ((b + 0x7FFFF + ((b >> 20) & 1)) >> 20) - (120 << 3);
    return f32_code(v, Pscale, RNE, SATURATE, 0, 1);
}

// The float32 a decoded element is multiplied by, given its block scale's value sv.
FMT_HD float nvfp4_decode_scale(float sv, int64_t recipe, float G, float tensor_amax) {
    if (recipe != 1) return G != 1.0f ? sv * G : sv;
    return tensor_amax >= 0.0f ? (sv * tensor_amax) * (float)(1.0 / 2688.0) : sv;
}

struct NvBlock { int64_t sc; float T; float dscale; };

// (scale code, T, decode scale) of a block with float32 amax: elements are fl32(x / T)
// (recipe 0) or fl32(x * T) (recipes 1 and 2, T a float32 reciprocal).
FMT_HD NvBlock nvfp4_block(float amax, int64_t recipe, float G, float tensor_amax, const Params& Pscale,
                           const float* scale_vals) {
    const float six = 6.0f, F32_MAX = 3.4028234663852886e38f;
    NvBlock r;
    if (recipe != 1) {
        float bs = amax / six;
        if (G != 1.0f) bs = bs / G;
        bs = bs < 0.015625f ? 0.015625f : bs;
        bs = bs > 448.0f ? 448.0f : bs;
        r.sc = e4m3_code(bs, Pscale);
        if (recipe == 0) r.T = G != 1.0f ? scale_vals[r.sc] * G : scale_vals[r.sc];
        else r.T = G != 1.0f ? (1.0f / G) / scale_vals[r.sc] : 1.0f / scale_vals[r.sc];  // torchao 0.18
    } else {
        r.sc = e4m3_code(amax * (G * (1.0f / six)), Pscale);
        float t = 1.0f / (scale_vals[r.sc] * (1.0f / G));
        r.T = t < F32_MAX ? t : F32_MAX;
    }
    r.dscale = nvfp4_decode_scale(scale_vals[r.sc], recipe, G, tensor_amax);
    return r;
}

// The amax key of one element: the bits of |x| as float32, which order as magnitudes; above
// 0x7F7FFFFF (inf or NaN) the block is bad. A max of keys combines in any order.
FMT_HD uint32_t nvfp4_key(int64_t b, const Params& Ps, bool f32_in) {
    return f32_bits(as_f32(b, Ps, f32_in)) & 0x7FFFFFFFu;
}

// Element i of a block: its code (or, fused, its decoded bits in format Pout); a bad block
// (``b.sc`` < 0) gives code 0 or Pout's NaN. Random bits as ``element_bits``. ``F`` (or null):
// the fast path's constants of the element from float32 (fast_path.constants with saturation,
// code_constants), which round the float32 quotient on its bits as the CPU's fast path does
// for FP("e2m1") (the same bits as f32_code: tests/test_fast_paths.py); ``f32_out``: Pout is
// float32, whose bits the decoded float32 value already is.
template <typename T, typename C, typename RandT>
FMT_HD void nvfp4_encode_at(const T* src, C* codes, T* out, int64_t i, const NvBlock& b, const Params& Ps,
                            bool f32_in, const Params& Pout, const Params& Pelem, const float* elem_vals,
                            int64_t recipe, int64_t mode, uint64_t key, int64_t base, int64_t rbits, bool fused,
                            const RandT* rand, const FastParams* F = nullptr, bool f32_out = false) {
    const float six = 6.0f;
    if (b.sc < 0) {
        if (fused) out[i] = (T)Pout.p[7]; else codes[i] = 0;
        return;
    }
    float x = as_f32((int64_t)src[i], Ps, f32_in);
    float v;
    if (recipe == 1) {
        v = x * b.T;
    } else {
        v = recipe == 0 ? x / b.T : x * b.T;
        v = v < -six ? -six : v;
        v = v > six ? six : v;
    }
    int64_t rnd = element_bits(mode, rand, i, key, base, rbits);
    int64_t code = F ? (int64_t)fast_value_code<uint32_t>(fast_round<uint32_t>(f32_bits(v), rnd, *F, mode, rbits), *F)
                     : f32_code(v, Pelem, mode, SATURATE, rnd, rbits);
    if (!fused)
        codes[i] = (C)code;
    else if (f32_out)
        out[i] = (T)f32_bits(elem_vals[code] * b.dscale);
    else
        out[i] = (T)f32_code(elem_vals[code] * b.dscale, Pout, RNE, IEEE, 0, 1);
}

// The block of largest key ``k``: sc -1 for a bad block.
FMT_HD NvBlock nvfp4_block_of_key(uint32_t k, int64_t recipe, float G, float tensor_amax, const Params& Pscale,
                                  const float* scale_vals) {
    if (k > 0x7F7FFFFFu) return NvBlock{-1, 0.0f, 0.0f};
    return nvfp4_block(bits_f32(k), recipe, G, tensor_amax, Pscale, scale_vals);
}

// Encode NVFP4 block t of rows of ncols input bits (format Ps): its e4m3 scale code (the scale
// format's NaN for a block with inf or NaN), then the elements.
template <typename T, typename C, typename RandT>
FMT_HD void nvfp4_encode_block(const T* src, C* codes, uint8_t* scales, T* out, int64_t t, int64_t ncols,
                               int64_t block, const Params& Ps, const Params& Pout, const Params& Pelem,
                               const Params& Pscale, const float* elem_vals, const float* scale_vals, int64_t recipe,
                               float G, float tensor_amax, int64_t mode, uint64_t key, int64_t base, int64_t rbits,
                               bool fused, const RandT* rand) {
    bool f32_in = Ps.p[0] == 8 && Ps.p[1] == 23;
    int64_t start, end;
    block_span(t, ncols, block, start, end);
    uint32_t k = max_key<uint32_t>(start, end, 1, [&](int64_t i) { return nvfp4_key((int64_t)src[i], Ps, f32_in); });
    NvBlock b = nvfp4_block_of_key(k, recipe, G, tensor_amax, Pscale, scale_vals);
    scales[t] = (uint8_t)(b.sc < 0 ? Pscale.p[7] : b.sc);
    for (int64_t i = start; i < end; i++)
        nvfp4_encode_at(src, codes, out, i, b, Ps, f32_in, Pout, Pelem, elem_vals, recipe, mode, key, base, rbits,
                        fused, rand);
}

template <typename C>
FMT_HD int64_t nvfp4_decode_one(const C* codes, const uint8_t* scales, int64_t i, int64_t ncols, int64_t block,
                                const Params& Pout, const float* elem_vals, const float* scale_vals, int64_t recipe,
                                float G, float tensor_amax) {
    float d = nvfp4_decode_scale(scale_vals[scales[block_of(i, ncols, block)]], recipe, G, tensor_amax);
    return f32_code(elem_vals[codes[i]] * d, Pout, RNE, IEEE, 0, 1);
}

}  // namespace fmt
