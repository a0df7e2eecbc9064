// Scaled with a float scale: one warp per block for encode (lanes read consecutive elements,
// their amax keys meet in a shuffle reduction; then the scale and every element by long
// division), one thread per element for decode. T: input/output float bits; C: element codes;
// scales as uint32 scale-format codes; ps, pe, psc, po: formats' 12 numbers and r the 5 scale
// constants, in device memory. ``bad`` counts blocks whose scale is beyond the scale format;
// rand (when use_rand): the caller's random integer of each element.
#include "fmt_scaled.cuh"
#include "fmt_warp.cuh"

template <typename T, typename C>
__global__ void fmt_scaled_encode(const T* __restrict__ src, C* __restrict__ codes, uint32_t* __restrict__ scales,
                                  T* __restrict__ out, long long nblocks, long long ncols, long long block,
                                  const long long* ps, const long long* pe, const long long* psc, const long long* r,
                                  long long smin_code, int mode, unsigned long long key, long long base, int rbits,
                                  int fused, unsigned long long* bad, const long long* rand, int use_rand) {
    const fmt::Params Ps = fmt::load_params(ps), Pe = fmt::load_params(pe), Psc = fmt::load_params(psc);
    long long R[5];
    for (int k = 0; k < 5; k++) R[k] = r[k];
    const long long* rnd = use_rand ? rand : nullptr;
    fmt::for_each_block<32, uint64_t>(
        nblocks, ncols, block, [&](int64_t i) { return fmt::value_key((int64_t)src[i], Ps); },
        [&](long long t, int64_t start, int64_t end, int lane, uint64_t k) {
            fmt::BlockScale b = fmt::scale_of_key(k, Psc, R, smin_code);
            if (lane == 0) {
                scales[t] = (uint32_t)(b.code < 0 ? Psc.p[7] : b.code);
                if (b.code == -2) atomicAdd(bad, 1ULL);
            }
            for (int64_t i = start + lane; i < end; i += 32)
                fmt::scaled_encode_at(src, codes, out, i, b, Ps, Pe, mode, key, base, rbits, fused != 0, rnd);
        });
}

template <typename C, typename T>
__global__ void fmt_scaled_decode(const C* __restrict__ codes, const uint32_t* __restrict__ scales,
                                  T* __restrict__ out, long long n, long long ncols, long long block,
                                  const long long* pe, const long long* psc, const long long* po, const long long* r) {
    const fmt::Params Pe = fmt::load_params(pe), Psc = fmt::load_params(psc), Po = fmt::load_params(po);
    long long R[5];
    for (int k = 0; k < 5; k++) R[k] = r[k];
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        out[i] = (T)fmt::scaled_decode_one(codes, scales, i, ncols, block, Pe, Psc, Po, R);
}

#define FMT_SCALED(T, C) \
    template __global__ void fmt_scaled_encode<T, C>(const T*, C*, uint32_t*, T*, long long, long long, long long, \
        const long long*, const long long*, const long long*, const long long*, long long, int, unsigned long long, \
        long long, int, int, unsigned long long*, const long long*, int); \
    template __global__ void fmt_scaled_decode<C, T>(const C*, const uint32_t*, T*, long long, long long, long long, \
        const long long*, const long long*, const long long*, const long long*);
#define FMT_SCALED_CODES(T) FMT_SCALED(T, uint8_t) FMT_SCALED(T, uint16_t) FMT_SCALED(T, uint32_t)
FMT_SCALED_CODES(uint64_t) FMT_SCALED_CODES(uint32_t) FMT_SCALED_CODES(uint16_t)
