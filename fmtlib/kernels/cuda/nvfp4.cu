// NVFP4 kernels: one thread per block of 16 for encode, one per element for decode. T: input
// float bits; formats' 12 numbers and the e2m1/e4m3 value tables in device memory. Build
// without FMA contraction (-fmad=false): the recipes are float32 arithmetic, operation for operation.
#include "fmt_nvfp4.cuh"

template <typename T>
__global__ void fmt_nvfp4_encode(const T* __restrict__ src, uint8_t* __restrict__ codes, uint8_t* __restrict__ scales,
                                 T* __restrict__ out, long long nblocks, long long ncols, long long block,
                                 const long long* ps, const long long* po, const long long* pe, const long long* psc,
                                 const float* elem_vals, const float* scale_vals, int recipe, float G,
                                 float tensor_amax, int mode, unsigned long long key, long long base, int rbits,
                                 int fused) {
    const fmt::Params Ps = fmt::load_params(ps), Po = fmt::load_params(po), Pe = fmt::load_params(pe),
                      Psc = fmt::load_params(psc);
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < nblocks;
         t += (long long)gridDim.x * blockDim.x)
        fmt::nvfp4_encode_block(src, codes, scales, out, t, ncols, block, Ps, Po, Pe, Psc, elem_vals, scale_vals,
                                recipe, G, tensor_amax, mode, key, base, rbits, fused != 0);
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
        float, float, int, unsigned long long, long long, int, int); \
    template __global__ void fmt_nvfp4_decode<T>(const uint8_t*, const uint8_t*, T*, long long, long long, \
        long long, const long long*, const float*, const float*, int, float, float);
FMT_NVFP4(uint16_t) FMT_NVFP4(uint32_t) FMT_NVFP4(uint64_t)
