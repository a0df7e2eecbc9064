// Code-book kernels (Quantile, alone or with a block scale): one thread per element for the
// element encode and every decode, one warp per block for the scaled encodes (lanes read
// consecutive elements; their amax keys meet in a shuffle reduction). T: float bits; C: codes
// (uint8/uint16). dtab, ttab: the thresholds (fmt::make_book); code_of: the code of each level;
// vals: each level's bits in the input format (fused quantize).
#include "fmt_codebook.cuh"
#include "fmt_warp.cuh"

template <typename T, typename C>
__global__ void fmt_quantile_encode(const T* __restrict__ src, C* __restrict__ codes, T* __restrict__ out,
                                    long long n, const long long* ps, const double* dtab, const signed char* ttab,
                                    long long nlev, long long nan_index, const unsigned short* code_of,
                                    const T* vals, int mode, unsigned long long key, long long base, int rbits,
                                    const long long* rand, int use_rand, int fused) {
    const fmt::Params Ps = fmt::load_params(ps);
    const fmt::Book B = fmt::make_book(dtab, ttab, nlev, nan_index);
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        int64_t r = fmt::element_bits(mode, use_rand ? rand : nullptr, i, key, base, rbits);
        int64_t k = fmt::quantile_one((int64_t)src[i], Ps, mode, B, r, rbits);
        if (fused) out[i] = vals[k]; else codes[i] = (C)code_of[k];
    }
}

template <typename T, typename C>
__global__ void fmt_book_scaled_encode(const T* __restrict__ src, C* __restrict__ codes, uint32_t* __restrict__ scales,
                                       T* __restrict__ out, long long nblocks, long long ncols, long long block,
                                       const long long* ps, const double* dtab, const signed char* ttab,
                                       long long nlev, long long nan_index, const unsigned short* code_of, int mode,
                                       unsigned long long key, long long base, int rbits, int fused,
                                       const long long* rand, int use_rand) {
    const fmt::Params Ps = fmt::load_params(ps);
    const fmt::Book B = fmt::make_book(dtab, ttab, nlev, nan_index);
    const long long* r = use_rand ? rand : nullptr;
    fmt::for_each_block<32, uint64_t>(
        nblocks, ncols, block, [&](int64_t i) { return fmt::book_key((int64_t)src[i], Ps); },
        [&](long long t, int64_t start, int64_t end, int lane, uint64_t k) {
            double S = fmt::book_scale_of_key(k);
            if (lane == 0) scales[t] = S < 0 ? 0x7FC00000u : fmt::f32_bits((float)S);
            for (int64_t i = start + lane; i < end; i += 32)
                fmt::book_scaled_at(src, codes, out, i, S, Ps, mode, B, code_of, key, base, rbits, fused != 0, r);
        });
}

template <typename C>
__global__ void fmt_book_absmax_encode(const uint32_t* __restrict__ src, C* __restrict__ codes,
                                       uint32_t* __restrict__ scales, uint32_t* __restrict__ out, long long nblocks,
                                       long long ncols, long long block, const float* vals32, const float* thr,
                                       long long m, const unsigned short* code_of, long long nan_index, int fused) {
    fmt::for_each_block<32, uint32_t>(
        nblocks, ncols, block, [&](int64_t i) { return src[i] & 0x7FFFFFFFu; },
        [&](long long t, int64_t start, int64_t end, int lane, uint32_t k) {
            fmt::AbsmaxBlock a = fmt::absmax_of_key(k, end - start < block);
            if (lane == 0) scales[t] = fmt::f32_bits(a.amax);
            for (int64_t i = start + lane; i < end; i += 32)
                fmt::book_absmax_at(src, codes, out, i, a, vals32, thr, m, code_of, nan_index, fused != 0);
        });
}

template <typename C, typename T>
__global__ void fmt_book_decode(const C* __restrict__ codes, const uint32_t* __restrict__ scales, T* __restrict__ out,
                                long long n, long long ncols, long long block, const double* value_of,
                                long long ncodes, int absmax, int scaled, const long long* po,
                                unsigned long long* bad) {
    const fmt::Params Po = fmt::load_params(po);
    const uint32_t* S = scaled ? scales : nullptr;   // element decode: no scales
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        int64_t res;
        if (!fmt::book_decode_one(codes, S, i, ncols, block, value_of, ncodes, absmax != 0, Po, res))
            atomicAdd(bad, 1ULL);
        out[i] = (T)res;
    }
}

#define FMT_BOOK(T, C) \
    template __global__ void fmt_quantile_encode<T, C>(const T*, C*, T*, long long, const long long*, const double*, \
        const signed char*, long long, long long, const unsigned short*, const T*, int, unsigned long long, \
        long long, int, const long long*, int, int); \
    template __global__ void fmt_book_scaled_encode<T, C>(const T*, C*, uint32_t*, T*, long long, long long, \
        long long, const long long*, const double*, const signed char*, long long, long long, \
        const unsigned short*, int, unsigned long long, long long, int, int, const long long*, int); \
    template __global__ void fmt_book_decode<C, T>(const C*, const uint32_t*, T*, long long, long long, long long, \
        const double*, long long, int, int, const long long*, unsigned long long*);
#define FMT_BOOK_CODES(C) FMT_BOOK(uint16_t, C) FMT_BOOK(uint32_t, C) FMT_BOOK(uint64_t, C) \
    template __global__ void fmt_book_absmax_encode<C>(const uint32_t*, C*, uint32_t*, uint32_t*, long long, \
        long long, long long, const float*, const float*, long long, const unsigned short*, long long, int);
FMT_BOOK_CODES(uint8_t) FMT_BOOK_CODES(uint16_t)
