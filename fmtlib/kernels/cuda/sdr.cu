// SDR kernels: one thread per group for encode and quantize (counting out-of-range values
// with atomics), one per element for decode. Q: the integers (int64 rows); C: codes.
#include "fmt_sdr.cuh"

template <typename C>
__global__ void fmt_sdr(const long long* __restrict__ q, C* __restrict__ codes, uint8_t* __restrict__ flags,
                        long long* __restrict__ out, long long ngroups, long long n, long long group, int keep,
                        int mode, long long lo, long long hi, long long olo, long long ohi, int fused,
                        unsigned long long* counts) {
    for (long long g = blockIdx.x * (long long)blockDim.x + threadIdx.x; g < ngroups;
         g += (long long)gridDim.x * blockDim.x) {
        int64_t obad = 0;
        int64_t bad = fmt::sdr_group(q, codes, flags, out, g, n, group, keep, mode, lo, hi, olo, ohi, fused != 0,
                                     &obad);
        if (bad) atomicAdd(&counts[0], (unsigned long long)bad);
        if (obad) atomicAdd(&counts[1], (unsigned long long)obad);
    }
}

template <typename C>
__global__ void fmt_sdr_decode(const C* __restrict__ codes, const uint8_t* __restrict__ flags,
                               long long* __restrict__ out, long long total, long long n, long long group, int keep) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x)
        out[i] = fmt::sdr_decode_one(codes, flags, i, n, group, keep);
}

#define FMT_SDR(C) \
    template __global__ void fmt_sdr<C>(const long long*, C*, uint8_t*, long long*, long long, long long, long long, \
        int, int, long long, long long, long long, long long, int, unsigned long long*); \
    template __global__ void fmt_sdr_decode<C>(const C*, const uint8_t*, long long*, long long, long long, long long, \
        int);
FMT_SDR(uint8_t) FMT_SDR(uint16_t)
