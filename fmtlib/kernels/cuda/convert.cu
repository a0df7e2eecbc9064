// Element-wise kernels over raw bits: encode, decode (convert) and fused quantize (roundtrip).
// Grid-stride loops; S and D are the unsigned integer views of the input and output; ps, pd
// point to the two formats' 12 numbers (fmtlib.kernels.params) in device memory. Stochastic
// bits: fmtlib-rng-v1 keyed by base + i, or rand[i] when use_rand.
#include "fmt_scalar.cuh"

template <typename S, typename D>
__global__ void fmt_convert(const S* __restrict__ src, D* __restrict__ out, long long n, const long long* ps,
                            const long long* pd, int mode, int overflow, unsigned long long key, long long base,
                            int rbits, int daz, int ftz, const long long* rand, int use_rand) {
    const fmt::Params Ps = fmt::load_params(ps), Pd = fmt::load_params(pd);
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        int64_t rnd = fmt::element_bits(mode, use_rand ? rand : nullptr, i, key, base, rbits);
        out[i] = (D)fmt::convert_rnd((int64_t)src[i], Ps, Pd, mode, overflow, rnd, rbits, daz != 0, ftz != 0);
    }
}

template <typename S>
__global__ void fmt_roundtrip(const S* __restrict__ src, S* __restrict__ out, long long n, const long long* ps,
                              const long long* pf, int mode, int overflow, unsigned long long key, long long base,
                              int rbits, int daz, int ftz, const long long* rand, int use_rand) {
    const fmt::Params Ps = fmt::load_params(ps), Pf = fmt::load_params(pf);
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        int64_t rnd = fmt::element_bits(mode, use_rand ? rand : nullptr, i, key, base, rbits);
        out[i] = (S)fmt::roundtrip_rnd((int64_t)src[i], Ps, Pf, mode, overflow, rnd, rbits, daz != 0, ftz != 0);
    }
}

// The instantiations fmtlib.kernels.gpu names (float64/32/16 bits <-> 8/16/32/64-bit codes).
#define FMT_CONVERT(S, D) template __global__ void fmt_convert<S, D>(const S*, D*, long long, const long long*, \
    const long long*, int, int, unsigned long long, long long, int, int, int, const long long*, int);
#define FMT_CONVERT_TO(S) FMT_CONVERT(S, uint8_t) FMT_CONVERT(S, uint16_t) FMT_CONVERT(S, uint32_t) \
    FMT_CONVERT(S, uint64_t)
FMT_CONVERT_TO(uint8_t) FMT_CONVERT_TO(uint16_t) FMT_CONVERT_TO(uint32_t) FMT_CONVERT_TO(uint64_t)
#define FMT_ROUNDTRIP(S) template __global__ void fmt_roundtrip<S>(const S*, S*, long long, const long long*, \
    const long long*, int, int, unsigned long long, long long, int, int, int, const long long*, int);
FMT_ROUNDTRIP(uint16_t) FMT_ROUNDTRIP(uint32_t) FMT_ROUNDTRIP(uint64_t)
