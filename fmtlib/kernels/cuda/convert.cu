// Element-wise kernels over raw bits: encode, decode (convert) and fused quantize (roundtrip).
// Grid-stride loops; S and D are the unsigned integer views of the input and output.
#include "fmt_scalar.cuh"

template <typename S, typename D>
__global__ void fmt_convert(const S* __restrict__ src, D* __restrict__ out, long long n, fmt::Params Ps,
                            fmt::Params Pd, int mode, int overflow, unsigned long long key, long long base, int rbits,
                            int daz, int ftz) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        out[i] = (D)fmt::convert_one((int64_t)src[i], Ps, Pd, mode, overflow, key, base + i, rbits, daz != 0,
                                     ftz != 0);
}

template <typename S>
__global__ void fmt_roundtrip(const S* __restrict__ src, S* __restrict__ out, long long n, fmt::Params Ps,
                              fmt::Params Pf, int mode, int overflow, unsigned long long key, long long base,
                              int rbits, int daz, int ftz) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        out[i] = (S)fmt::roundtrip_one((int64_t)src[i], Ps, Pf, mode, overflow, key, base + i, rbits, daz != 0,
                                       ftz != 0);
}

// The instantiations fmtlib.kernels.gpu names (float64/32/16 bits <-> 8/16/32-bit codes).
#define FMT_CONVERT(S, D) template __global__ void fmt_convert<S, D>(const S*, D*, long long, fmt::Params, \
    fmt::Params, int, int, unsigned long long, long long, int, int, int);
FMT_CONVERT(uint64_t, uint8_t) FMT_CONVERT(uint32_t, uint8_t) FMT_CONVERT(uint16_t, uint8_t)
FMT_CONVERT(uint64_t, uint16_t) FMT_CONVERT(uint32_t, uint16_t) FMT_CONVERT(uint16_t, uint16_t)
FMT_CONVERT(uint64_t, uint32_t) FMT_CONVERT(uint32_t, uint32_t) FMT_CONVERT(uint16_t, uint32_t)
FMT_CONVERT(uint8_t, uint64_t) FMT_CONVERT(uint8_t, uint32_t) FMT_CONVERT(uint8_t, uint16_t)
FMT_CONVERT(uint16_t, uint64_t) FMT_CONVERT(uint32_t, uint64_t)
template __global__ void fmt_roundtrip<uint64_t>(const uint64_t*, uint64_t*, long long, fmt::Params, fmt::Params,
                                                 int, int, unsigned long long, long long, int, int, int);
template __global__ void fmt_roundtrip<uint32_t>(const uint32_t*, uint32_t*, long long, fmt::Params, fmt::Params,
                                                 int, int, unsigned long long, long long, int, int, int);
template __global__ void fmt_roundtrip<uint16_t>(const uint16_t*, uint16_t*, long long, fmt::Params, fmt::Params,
                                                 int, int, unsigned long long, long long, int, int, int);
