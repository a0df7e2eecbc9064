// OCP MX kernels: one warp per block for encode (each lane takes every 32nd element of the
// block, so a warp reads consecutive elements; the lanes' amax keys meet in a shuffle
// reduction, then every lane knows the scale and encodes its elements), one thread per element
// for decode. T: input/output float bits; C: element codes; ps, pe, po: formats' 12 numbers in
// device memory; rule, emax, mbits, M, eshift: the codec's scale rule; rand (when use_rand):
// the caller's random integer of each element, in the rows' order. Launch a multiple of 32
// threads per thread block.
#include "fmt_mx.cuh"
#include "fmt_mx32.cuh"
#include "fmt_warp.cuh"

template <typename T, typename C>
__global__ void fmt_mx_encode(const T* __restrict__ src, C* __restrict__ codes, uint8_t* __restrict__ scales,
                              T* __restrict__ out, long long nblocks, long long ncols, long long block,
                              const long long* ps, const long long* pe, int rule, int emax, int mbits, double M,
                              int eshift, int mode, unsigned long long key, long long base, int rbits, int fused,
                              const long long* rand, int use_rand) {
    const fmt::Params Ps = fmt::load_params(ps), Pe = fmt::load_params(pe);
    const fmt::ScaleParams S{rule, emax, mbits, M, eshift};
    const long long* r = use_rand ? rand : nullptr;
    fmt::for_each_block<32, uint64_t>(
        nblocks, ncols, block, [&](int64_t i) { return fmt::value_key((int64_t)src[i], Ps); },
        [&](long long t, int64_t start, int64_t end, int lane, uint64_t k) {
            int64_t se = fmt::mx_exponent_of_key(k, S);
            if (lane == 0) scales[t] = (uint8_t)(se + 127);
            for (int64_t i = start + lane; i < end; i += 32)
                fmt::mx_encode_at(src, codes, out, i, se, Ps, Pe, S, mode, key, base, rbits, fused != 0, r);
        });
}

// The fast path (fmt_mx.cuh mx_fast_at; the CPU's mx_encode_fast) where fast_path.mx_eligible
// holds: the lanes' largest magnitude bits meet in the shuffle reduction, each element is
// rounded on the input's bits. fc: fast_path.constants' C (10) and special (6), then
// code_constants' D (8), in device memory.
template <typename T, typename C>
__global__ void fmt_mx_encode_fast(const T* __restrict__ src, C* __restrict__ codes, uint8_t* __restrict__ scales,
                                   T* __restrict__ out, long long nblocks, long long ncols, long long block,
                                   const long long* ps, const long long* pe, const long long* fc, int rule, int emax,
                                   int mbits, double M, int mode, unsigned long long key, long long base, int rbits,
                                   int fused, const long long* rand, int use_rand) {
    const fmt::Params Ps = fmt::load_params(ps), Pe = fmt::load_params(pe);
    const fmt::FastParams F = fmt::fast_params(fc, fc + 10, fc + 16);
    const fmt::ScaleParams S{rule, emax, mbits, M, 0};
    const uint64_t absmask = ((uint64_t)1 << F.sign_pos) - 1;
    const long long* r = use_rand ? rand : nullptr;
    fmt::for_each_block<32, uint64_t>(
        nblocks, ncols, block, [&](int64_t i) { return (uint64_t)src[i] & absmask; },
        [&](long long t, int64_t start, int64_t end, int lane, uint64_t k) {
            int64_t se = fmt::ieee_block_exponent(k, F, S);
            if (lane == 0) scales[t] = (uint8_t)(se + 127);
            for (int64_t i = start + lane; i < end; i += 32)
                fmt::mx_fast_at(src, codes, out, i, se, Ps, Pe, F, mode, key, base, rbits, fused != 0, r);
        });
}

// The 32-bit lane path (fmt_mx32.cuh; the CPU's mx32_* kernels) where fast_path.mx32_eligible
// holds: float32 (T = uint32_t, kind 0), bfloat16 (uint16_t, kind 1) or float16 (uint16_t,
// kind 2) input. The lanes' largest magnitude bits (32-bit keys) meet in the shuffle reduction,
// every lane finds the scale from them (mx32_block_exponent), lane 0 writes it, and each lane
// rounds its elements in 32-bit integers and float32 (stochastic: fmtlib-rng-v1 of element
// base + i). kc: the element's K (8) and E (4) (fast_path.nearest32_constants and
// encode32_constants, or int32_constants for an integer element), then the input's NaN bits.
template <typename T, typename C>
__global__ void fmt_mx32_encode(const T* __restrict__ src, C* __restrict__ codes, uint8_t* __restrict__ scales,
                                T* __restrict__ out, long long nblocks, long long ncols, long long block,
                                const long long* kc, int kind, int integer, int rule, int emax, int mbits, double M,
                                int stoch, unsigned long long key, long long base, int rbits, int fused) {
    const fmt::Mx32Params P = fmt::mx32_params(kc, kind, rbits);
    const fmt::ScaleParams S{rule, emax, mbits, M, 0};
    fmt::for_each_block<32, uint32_t>(
        nblocks, ncols, block, [&](int64_t i) { return (uint32_t)src[i] & P.in.absmask; },
        [&](long long t, int64_t start, int64_t end, int lane, uint32_t amax) {
            const int32_t se = fmt::mx32_block_exponent(amax, P.in, S);
            if (lane == 0) scales[t] = (uint8_t)(se + 127);
            fmt::mx32_elements(src, codes, out, start + lane, end, 32, se, P, kind, stoch != 0, key, base, fused != 0,
                               integer != 0);
        });
}

template <typename C, typename T>
__global__ void fmt_mx_decode(const C* __restrict__ codes, const uint8_t* __restrict__ scales, T* __restrict__ out,
                              long long n, long long ncols, long long block, const long long* pe, const long long* po,
                              int eshift) {
    const fmt::Params Pe = fmt::load_params(pe), Po = fmt::load_params(po);
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        out[i] = (T)fmt::mx_decode_one(codes, scales, i, ncols, block, Pe, Po, eshift);
}

#define FMT_MX(T, C) \
    template __global__ void fmt_mx_encode<T, C>(const T*, C*, uint8_t*, T*, long long, long long, long long, \
        const long long*, const long long*, int, int, int, double, int, int, unsigned long long, long long, int, \
        int, const long long*, int); \
    template __global__ void fmt_mx_decode<C, T>(const C*, const uint8_t*, T*, long long, long long, long long, \
        const long long*, const long long*, int);
#define FMT_MX_CODES(T) FMT_MX(T, uint8_t) FMT_MX(T, uint16_t) FMT_MX(T, uint32_t)
FMT_MX_CODES(uint64_t) FMT_MX_CODES(uint32_t) FMT_MX_CODES(uint16_t)   // Scaled(e8m0) elements go up to 32 bits
#define FMT_MX_FAST(T, C) \
    template __global__ void fmt_mx_encode_fast<T, C>(const T*, C*, uint8_t*, T*, long long, long long, long long, \
        const long long*, const long long*, const long long*, int, int, int, double, int, unsigned long long, \
        long long, int, int, const long long*, int);
// fast-path elements are floats of at most 16 bits (mx_eligible: the input holds their values)
#define FMT_MX_FAST_CODES(T) FMT_MX_FAST(T, uint8_t) FMT_MX_FAST(T, uint16_t)
FMT_MX_FAST_CODES(uint64_t) FMT_MX_FAST_CODES(uint32_t) FMT_MX_FAST_CODES(uint16_t)
#define FMT_MX32(T, C) \
    template __global__ void fmt_mx32_encode<T, C>(const T*, C*, uint8_t*, T*, long long, long long, long long, \
        const long long*, int, int, int, int, int, double, int, unsigned long long, long long, int, int);
// float32, bfloat16 and float16 input (mx32_eligible: float elements the input holds, of at most
// 16 bits; integers below 2**23, of at most 16 bits from a 16-bit input)
FMT_MX32(uint32_t, uint8_t) FMT_MX32(uint32_t, uint16_t) FMT_MX32(uint32_t, uint32_t)
FMT_MX32(uint16_t, uint8_t) FMT_MX32(uint16_t, uint16_t)
