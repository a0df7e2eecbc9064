// Per-tensor scaling (Scaled(axis=None)) in two launches, instead of one warp over the whole
// tensor. fmt_amax_bits reduces the magnitude bits of the input: each thread over its
// grid-stride share, a warp by shuffles (group_max), lane 0 by atomicMax into amax[0], which the
// caller zeroes. Magnitude bits order like values and inf and NaN lie above every finite value,
// so the largest is an inf or NaN exactly where the tensor holds one: the one-element block
// [amax] has the tensor's scale under every scale rule (the same argument as the CPU's
// amax_bits, fmtlib/kernels/cpu/convert.py). With ``finite`` set, inf and NaN count as 0: the
// finite amax of NVFP4's and Scaled's global scale. Then a *_tensor kernel: every thread takes
// the scale from amax[0] through the block kernels' own helpers (the key of that one element,
// then the scale of the key), thread 0 writes it, and the grid-stride loop encodes each element
// with the block kernels' element function at its index in the tensor (stochastic rounding
// draws the same bits); rand (when use_rand): the caller's random integer of each element. T:
// input float bits; C: element codes. Launch a multiple of 32 threads per thread block.
#include "fmt_codebook.cuh"
#include "fmt_mx.cuh"
#include "fmt_mx32.cuh"
#include "fmt_scaled.cuh"
#include "fmt_warp.cuh"

template <typename T>
__global__ void fmt_amax_bits(const T* __restrict__ src, long long n, const long long* ps, int finite,
                              unsigned long long* amax) {
    const fmt::Params Ps = fmt::load_params(ps);
    const uint64_t absmask = ((uint64_t)1 << (Ps.p[0] + Ps.p[1])) - 1;   // below the sign bit
    const uint64_t inf_bits = (absmask >> Ps.p[1]) << Ps.p[1];
    uint64_t m = 0;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        uint64_t a = (uint64_t)src[i] & absmask;
        if (finite && a >= inf_bits) a = 0;
        m = a > m ? a : m;
    }
    m = fmt::group_max(m, 32);
    if ((threadIdx.x & 31) == 0 && m) atomicMax(amax, (unsigned long long)m);
}

// The grid-stride loop of the element pass: body(i) for every element, and first() once, in
// thread 0 of the grid.
template <typename FirstF, typename BodyF>
__device__ __forceinline__ void for_each_element(long long n, FirstF first, BodyF body) {
    const long long gid = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (gid == 0) first();
    for (long long i = gid; i < n; i += (long long)gridDim.x * blockDim.x) body(i);
}

template <typename T, typename C>
__global__ void fmt_mx_encode_tensor(const T* __restrict__ src, C* __restrict__ codes, uint8_t* __restrict__ scales,
                                     T* __restrict__ out, long long n, const unsigned long long* amax,
                                     const long long* ps, const long long* pe, int rule, int emax, int mbits,
                                     double M, int eshift, int mode, unsigned long long key, long long base, int rbits,
                                     int fused, const long long* rand, int use_rand) {
    const fmt::Params Ps = fmt::load_params(ps), Pe = fmt::load_params(pe);
    const fmt::ScaleParams S{rule, emax, mbits, M, eshift};
    const int64_t se = fmt::mx_exponent_of_key(fmt::value_key((int64_t)amax[0], Ps), S);
    for_each_element(
        n, [&] { scales[0] = (uint8_t)(se + 127); },
        [&](long long i) {
            fmt::mx_encode_at(src, codes, out, i, se, Ps, Pe, S, mode, key, base, rbits, fused != 0,
                              use_rand ? rand : nullptr);
        });
}

// mx.cu's fmt_mx32_encode (the CPU's mx32 kernels) of one block, the whole tensor: the scale of
// amax[0] by the lane path's own helper, then each thread's grid-stride share of the elements
// (mx32_elements from the thread's index, a step of the grid's threads).
template <typename T, typename C>
__global__ void fmt_mx32_encode_tensor(const T* __restrict__ src, C* __restrict__ codes, uint8_t* __restrict__ scales,
                                       T* __restrict__ out, long long n, const unsigned long long* amax,
                                       const long long* kc, int kind, int integer, int rule, int emax, int mbits,
                                       double M, int stoch, unsigned long long key, long long base, int rbits,
                                       int fused) {
    const fmt::Mx32Params P = fmt::mx32_params(kc, kind, rbits);
    const fmt::ScaleParams S{rule, emax, mbits, M, 0};
    const int32_t se = fmt::mx32_block_exponent((uint32_t)amax[0], P.in, S);
    const long long gid = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (gid == 0) scales[0] = (uint8_t)(se + 127);
    fmt::mx32_elements(src, codes, out, gid, n, (long long)gridDim.x * blockDim.x, se, P, kind, stoch != 0, key, base,
                       fused != 0, integer != 0);
}

template <typename T, typename C>
__global__ void fmt_scaled_encode_tensor(const T* __restrict__ src, C* __restrict__ codes,
                                         uint32_t* __restrict__ scales, T* __restrict__ out, long long n,
                                         const unsigned long long* amax, const long long* ps, const long long* pe,
                                         const long long* psc, const long long* r, long long smin_code, int mode,
                                         unsigned long long key, long long base, int rbits, int fused,
                                         unsigned long long* bad, const long long* rand, int use_rand) {
    const fmt::Params Ps = fmt::load_params(ps), Pe = fmt::load_params(pe), Psc = fmt::load_params(psc);
    long long R[5];
    for (int k = 0; k < 5; k++) R[k] = r[k];
    const fmt::BlockScale b = fmt::scale_of_key(fmt::value_key((int64_t)amax[0], Ps), Psc, R, smin_code);
    for_each_element(
        n,
        [&] {
            scales[0] = (uint32_t)(b.code < 0 ? Psc.p[7] : b.code);
            if (b.code == -2) atomicAdd(bad, 1ULL);
        },
        [&](long long i) {
            fmt::scaled_encode_at(src, codes, out, i, b, Ps, Pe, mode, key, base, rbits, fused != 0,
                                  use_rand ? rand : nullptr);
        });
}

template <typename T, typename C>
__global__ void fmt_book_scaled_encode_tensor(const T* __restrict__ src, C* __restrict__ codes,
                                              uint32_t* __restrict__ scales, T* __restrict__ out, long long n,
                                              const unsigned long long* amax, const long long* ps, const double* dtab,
                                              const signed char* ttab, long long nlev, long long nan_index,
                                              const unsigned short* code_of, int mode, unsigned long long key,
                                              long long base, int rbits, int fused, const long long* rand,
                                              int use_rand) {
    const fmt::Params Ps = fmt::load_params(ps);
    const fmt::Book B = fmt::make_book(dtab, ttab, nlev, nan_index);
    const double S = fmt::book_scale_of_key(fmt::book_key((int64_t)amax[0], Ps));
    for_each_element(
        n, [&] { scales[0] = S < 0 ? 0x7FC00000u : fmt::f32_bits((float)S); },
        [&](long long i) {
            fmt::book_scaled_at(src, codes, out, i, S, Ps, mode, B, code_of, key, base, rbits, fused != 0,
                                use_rand ? rand : nullptr);
        });
}

template <typename C>
__global__ void fmt_book_absmax_encode_tensor(const uint32_t* __restrict__ src, C* __restrict__ codes,
                                              uint32_t* __restrict__ scales, uint32_t* __restrict__ out, long long n,
                                              const unsigned long long* amax, const float* vals32, const float* thr,
                                              long long m, const unsigned short* code_of, long long nan_index,
                                              int fused) {
    const fmt::AbsmaxBlock a = fmt::absmax_of_key((uint32_t)amax[0], false);   // the whole tensor: a full block
    for_each_element(
        n, [&] { scales[0] = fmt::f32_bits(a.amax); },
        [&](long long i) {
            fmt::book_absmax_at(src, codes, out, i, a, vals32, thr, m, code_of, nan_index, fused != 0);
        });
}

#define FMT_TENSOR(T, C) \
    template __global__ void fmt_mx_encode_tensor<T, C>(const T*, C*, uint8_t*, T*, long long, \
        const unsigned long long*, const long long*, const long long*, int, int, int, double, int, int, \
        unsigned long long, long long, int, int, const long long*, int); \
    template __global__ void fmt_scaled_encode_tensor<T, C>(const T*, C*, uint32_t*, T*, long long, \
        const unsigned long long*, const long long*, const long long*, const long long*, const long long*, long long, \
        int, unsigned long long, long long, int, int, unsigned long long*, const long long*, int);
#define FMT_TENSOR_BOOK(T, C) \
    template __global__ void fmt_book_scaled_encode_tensor<T, C>(const T*, C*, uint32_t*, T*, long long, \
        const unsigned long long*, const long long*, const double*, const signed char*, long long, long long, \
        const unsigned short*, int, unsigned long long, long long, int, int, const long long*, int);
#define FMT_TENSOR_FLOAT(T) \
    template __global__ void fmt_amax_bits<T>(const T*, long long, const long long*, int, unsigned long long*); \
    FMT_TENSOR(T, uint8_t) FMT_TENSOR(T, uint16_t) FMT_TENSOR(T, uint32_t) \
    FMT_TENSOR_BOOK(T, uint8_t) FMT_TENSOR_BOOK(T, uint16_t)
FMT_TENSOR_FLOAT(uint16_t) FMT_TENSOR_FLOAT(uint32_t) FMT_TENSOR_FLOAT(uint64_t)
#define FMT_TENSOR_MX32(T, C) \
    template __global__ void fmt_mx32_encode_tensor<T, C>(const T*, C*, uint8_t*, T*, long long, \
        const unsigned long long*, const long long*, int, int, int, int, int, double, int, unsigned long long, \
        long long, int, int);
// as mx.cu's FMT_MX32
FMT_TENSOR_MX32(uint32_t, uint8_t) FMT_TENSOR_MX32(uint32_t, uint16_t) FMT_TENSOR_MX32(uint32_t, uint32_t)
FMT_TENSOR_MX32(uint16_t, uint8_t) FMT_TENSOR_MX32(uint16_t, uint16_t)
template __global__ void fmt_book_absmax_encode_tensor<uint8_t>(const uint32_t*, uint8_t*, uint32_t*, uint32_t*,
    long long, const unsigned long long*, const float*, const float*, long long, const unsigned short*, long long,
    int);
template __global__ void fmt_book_absmax_encode_tensor<uint16_t>(const uint32_t*, uint16_t*, uint32_t*, uint32_t*,
    long long, const unsigned long long*, const float*, const float*, long long, const unsigned short*, long long,
    int);
