// NVFP4 blocks by the torchao (recipe 0) and TransformerEngine (recipe 1) recipes, in float32
// arithmetic operation for operation: a port of fmtlib/kernels/cpu/convert.py (_nvfp4_block,
// nvfp4_encode, nvfp4_decode). Compile without fast math and without FMA contraction.
#pragma once
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
    if (recipe == 0) return G != 1.0f ? sv * G : sv;
    return tensor_amax >= 0.0f ? (sv * tensor_amax) * (float)(1.0 / 2688.0) : sv;
}

struct NvBlock { int64_t sc; float T; float dscale; };

// (scale code, T, decode scale) of a block with float32 amax: elements are fl32(x / T)
// (torchao) or fl32(x * T) (TE, T the float32 reciprocal).
FMT_HD NvBlock nvfp4_block(float amax, int64_t recipe, float G, float tensor_amax, const Params& Pscale,
                           const float* scale_vals) {
    const float six = 6.0f, F32_MAX = 3.4028234663852886e38f;
    NvBlock r;
    if (recipe == 0) {
        float bs = amax / six;
        if (G != 1.0f) bs = bs / G;
        bs = bs < 0.015625f ? 0.015625f : bs;
        bs = bs > 448.0f ? 448.0f : bs;
        r.sc = e4m3_code(bs, Pscale);
        r.T = G != 1.0f ? scale_vals[r.sc] * G : scale_vals[r.sc];
    } else {
        r.sc = e4m3_code(amax * (G * (1.0f / six)), Pscale);
        float t = 1.0f / (scale_vals[r.sc] * (1.0f / G));
        r.T = t < F32_MAX ? t : F32_MAX;
    }
    r.dscale = nvfp4_decode_scale(scale_vals[r.sc], recipe, G, tensor_amax);
    return r;
}

// Encode NVFP4 block t of rows of ncols input bits (format Ps): its e4m3 scale code, then the
// elements' codes (or, fused, their decoded bits in format Pout).
template <typename T, typename C>
FMT_HD void nvfp4_encode_block(const T* src, C* codes, uint8_t* scales, T* out, int64_t t, int64_t ncols,
                               int64_t block, const Params& Ps, const Params& Pout, const Params& Pelem,
                               const Params& Pscale, const float* elem_vals, const float* scale_vals, int64_t recipe,
                               float G, float tensor_amax, int64_t mode, uint64_t key, int64_t base, int64_t rbits,
                               bool fused) {
    const float six = 6.0f, F32_MAX = 3.4028234663852886e38f;
    bool f32_in = Ps.p[0] == 8 && Ps.p[1] == 23;
    int64_t nb = (ncols + block - 1) / block;
    int64_t r = t / nb;
    int64_t start = r * ncols + (t - r * nb) * block;
    int64_t end = start + block < r * ncols + ncols ? start + block : r * ncols + ncols;
    float amax = 0.0f;
    bool bad = false;
    for (int64_t i = start; i < end; i++) {
        float x = as_f32((int64_t)src[i], Ps, f32_in);
        float a = x < 0.0f ? -x : x;
        if (!(a <= F32_MAX)) bad = true;
        else if (a > amax) amax = a;
    }
    if (bad) {
        scales[t] = (uint8_t)Pscale.p[7];
        for (int64_t i = start; i < end; i++) {
            if (fused) out[i] = (T)Pout.p[7]; else codes[i] = 0;
        }
        return;
    }
    NvBlock b = nvfp4_block(amax, recipe, G, tensor_amax, Pscale, scale_vals);
    scales[t] = (uint8_t)b.sc;
    for (int64_t i = start; i < end; i++) {
        float x = as_f32((int64_t)src[i], Ps, f32_in);
        float v;
        if (recipe == 0) {
            v = x / b.T;
            v = v < -six ? -six : v;
            v = v > six ? six : v;
        } else {
            v = x * b.T;
        }
        int64_t rnd = mode == STOCH ? rand_top(key, base + i, rbits) : 0;
        int64_t code = f32_code(v, Pelem, mode, SATURATE, rnd, rbits);
        if (fused) out[i] = (T)f32_code(elem_vals[code] * b.dscale, Pout, RNE, IEEE, 0, 1);
        else codes[i] = (C)code;
    }
}

template <typename C>
FMT_HD int64_t nvfp4_decode_one(const C* codes, const uint8_t* scales, int64_t i, int64_t ncols, int64_t block,
                                const Params& Pout, const float* elem_vals, const float* scale_vals, int64_t recipe,
                                float G, float tensor_amax) {
    int64_t nb = (ncols + block - 1) / block;
    int64_t r = i / ncols;
    float d = nvfp4_decode_scale(scale_vals[scales[r * nb + (i - r * ncols) / block]], recipe, G, tensor_amax);
    return f32_code(elem_vals[codes[i]] * d, Pout, RNE, IEEE, 0, 1);
}

}  // namespace fmt
