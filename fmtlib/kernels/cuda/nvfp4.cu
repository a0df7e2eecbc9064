// NVFP4 kernels: 16 lanes (half a warp) per block for encode (each lane takes every 16th
// element, so lanes read consecutive elements; the lanes' amax keys meet in a shuffle
// reduction), one thread per element for decode. T: input float bits; formats' 12 numbers and
// the e2m1/e4m3 value tables in device memory. Build without FMA contraction (-fmad=false):
// the recipes are float32 arithmetic, operation for operation. Launch a multiple of 32 threads
// per thread block. rand (when use_rand): the caller's random integer of each element. fc (when
// use_fast): the fast path's 24 constants of the element from float32 (fmt_nvfp4.cuh
// nvfp4_encode_at), in device memory.
#include "fmt_nvfp4.cuh"
#include "fmt_warp.cuh"

template <typename T>
__global__ void fmt_nvfp4_encode(const T* __restrict__ src, uint8_t* __restrict__ codes, uint8_t* __restrict__ scales,
                                 T* __restrict__ out, long long nblocks, long long ncols, long long block,
                                 const long long* ps, const long long* po, const long long* pe, const long long* psc,
                                 const float* elem_vals, const float* scale_vals, int recipe, float G,
                                 float tensor_amax, int mode, unsigned long long key, long long base, int rbits,
                                 int fused, const long long* rand, int use_rand, const long long* fc, int use_fast) {
    const fmt::Params Ps = fmt::load_params(ps), Po = fmt::load_params(po), Pe = fmt::load_params(pe),
                      Psc = fmt::load_params(psc);
    const bool f32_in = Ps.p[0] == 8 && Ps.p[1] == 23;
    const bool f32_out = Po.p[0] == 8 && Po.p[1] == 23 && sizeof(T) == 4;
    const long long* r = use_rand ? rand : nullptr;
    const fmt::FastParams F = fmt::fast_params(fc, fc + 10, fc + 16);
    fmt::for_each_block<16, uint32_t>(
        nblocks, ncols, block, [&](int64_t i) { return fmt::nvfp4_key((int64_t)src[i], Ps, f32_in); },
        [&](long long t, int64_t start, int64_t end, int lane, uint32_t k) {
            fmt::NvBlock b = fmt::nvfp4_block_of_key(k, recipe, G, tensor_amax, Psc, scale_vals);
            if (lane == 0) scales[t] = (uint8_t)(b.sc < 0 ? Psc.p[7] : b.sc);
            for (int64_t i = start + lane; i < end; i += 16)
                fmt::nvfp4_encode_at(src, codes, out, i, b, Ps, f32_in, Po, Pe, elem_vals, recipe, mode, key, base,
                                     rbits, fused != 0, r, use_fast ? &F : nullptr, f32_out);
        });
}

template <typename T>
__global__ void fmt_nvfp4_decode(const uint8_t* __restrict__ codes, const uint8_t* __restrict__ scales,
                                 T* __restrict__ out, long long n, long long ncols, long long block,
                                 const long long* po, const float* elem_vals, const float* scale_vals, int recipe,
                                 float G, float tensor_amax) {
    const fmt::Params Po = fmt::load_params(po);
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        out[i] = (T)fmt::nvfp4_decode_one(codes, scales, i, ncols, block, Po, elem_vals, scale_vals, recipe, G,
                                          tensor_amax);
}

#define FMT_NVFP4(T) \
    template __global__ void fmt_nvfp4_encode<T>(const T*, uint8_t*, uint8_t*, T*, long long, long long, long long, \
        const long long*, const long long*, const long long*, const long long*, const float*, const float*, int, \
        float, float, int, unsigned long long, long long, int, int, const long long*, int, const long long*, int); \
    template __global__ void fmt_nvfp4_decode<T>(const uint8_t*, const uint8_t*, T*, long long, long long, \
        long long, const long long*, const float*, const float*, int, float, float);
FMT_NVFP4(uint16_t) FMT_NVFP4(uint32_t) FMT_NVFP4(uint64_t)
