// The element-wise kernel over raw bits: encode and decode (convert), or with ``fused`` the fused
// quantize (roundtrip: into format pd and back into ps).
// Grid-stride loops; S and D are the unsigned integer views of the input and output; ps, pd
// point to the two formats' 12 numbers (fmtlib.kernels.params) in device memory. Stochastic
// bits: fmtlib-rng-v1 keyed by base + i, or rand[i] when use_rand.
#include "fmt_scalar.cuh"

template <typename S, typename D>
__global__ void fmt_convert(const S* __restrict__ src, D* __restrict__ out, long long n, const long long* ps,
                            const long long* pd, int mode, int overflow, unsigned long long key, long long base,
                            int rbits, int daz, int ftz, const long long* rand, int use_rand, int fused) {
    const fmt::Params Ps = fmt::load_params(ps), Pd = fmt::load_params(pd);
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        int64_t rnd = fmt::element_bits(mode, use_rand ? rand : nullptr, i, key, base, rbits);
        int64_t c = (int64_t)src[i];
        out[i] = (D)(fused ? fmt::roundtrip_rnd(c, Ps, Pd, mode, overflow, rnd, rbits, daz != 0, ftz != 0)
                           : fmt::convert_rnd(c, Ps, Pd, mode, overflow, rnd, rbits, daz != 0, ftz != 0));
    }
}

// The instantiations fmtlib.kernels.gpu names (float64/32/16 bits <-> 8/16/32/64-bit codes; the
// fused quantize uses D = S).
#define FMT_CONVERT(S, D) template __global__ void fmt_convert<S, D>(const S*, D*, long long, const long long*, \
    const long long*, int, int, unsigned long long, long long, int, int, int, const long long*, int, int);
#define FMT_CONVERT_TO(S) FMT_CONVERT(S, uint8_t) FMT_CONVERT(S, uint16_t) FMT_CONVERT(S, uint32_t) \
    FMT_CONVERT(S, uint64_t)
FMT_CONVERT_TO(uint8_t) FMT_CONVERT_TO(uint16_t) FMT_CONVERT_TO(uint32_t) FMT_CONVERT_TO(uint64_t)
