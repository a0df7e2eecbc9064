// BitStream kernels: one thread per output byte (pack) or per code (unpack); rows of n codes,
// rb = ceil(n * k / 8) bytes each. C: the code dtype.
#include "fmt_pack.cuh"

template <typename C>
__global__ void fmt_stream_pack(const C* __restrict__ codes, uint8_t* __restrict__ buf, long long rows, long long n,
                                long long rb, int k, int msb) {
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < rows * rb;
         t += (long long)gridDim.x * blockDim.x)
        buf[t] = fmt::stream_byte(codes, n, t / rb, t % rb, k, msb != 0);
}

template <typename C>
__global__ void fmt_stream_unpack(const uint8_t* __restrict__ buf, C* __restrict__ codes, long long rows, long long n,
                                  long long rb, int k, int msb) {
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < rows * n;
         t += (long long)gridDim.x * blockDim.x)
        codes[t] = (C)fmt::stream_code(buf, rb, t / n, t % n, k, msb != 0);
}

#define FMT_STREAM(C) \
    template __global__ void fmt_stream_pack<C>(const C*, uint8_t*, long long, long long, long long, int, int); \
    template __global__ void fmt_stream_unpack<C>(const uint8_t*, C*, long long, long long, long long, int, int);
FMT_STREAM(uint8_t) FMT_STREAM(uint16_t) FMT_STREAM(uint32_t) FMT_STREAM(uint64_t)
