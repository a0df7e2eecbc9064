// The fast path of element quantize and encode (fmt_fast.cuh; the CPU's fast_nearest,
// fast_stochastic and fast_directed of fmtlib/kernels/cpu/convert.py): IEEE input bits S
// (float16/32/64) to input bits (quantize, D = S) or codes D (encode).
// The constants come by value (fast_path.constants' C and special, code_constants' D; D unused
// for quantize), not from device memory. Grid-stride loop over quads of 4 consecutive
// elements, each loaded and stored as one vector where src and out are aligned for it (the
// launch asks for n / 4 threads), then the last n % 4 elements one by one.
#include "fmt_fast.cuh"

template <typename S, typename D>
__global__ void fmt_fast(const S* __restrict__ src, D* __restrict__ out, long long n, long long c0, long long c1,
                         long long c2, long long c3, long long c4, long long c5, long long c6, long long c7,
                         long long c8, long long c9, long long sp0, long long sp1, long long sp2, long long sp3,
                         long long sp4, long long sp5, int encode, long long d0, long long d1, long long d2,
                         long long d3, long long d4, long long d5, long long d6, long long d7, int mode,
                         unsigned long long key, long long base, int rbits) {
    const long long C[10] = {c0, c1, c2, c3, c4, c5, c6, c7, c8, c9};
    const long long sp[6] = {sp0, sp1, sp2, sp3, sp4, sp5};
    const long long Dc[8] = {d0, d1, d2, d3, d4, d5, d6, d7};
    const fmt::FastParams F = fmt::fast_params(C, sp, Dc);
    fmt::fast_range<S, D>(src, out, n, F, mode, key, base, rbits, encode != 0,
                          blockIdx.x * (long long)blockDim.x + threadIdx.x, (long long)gridDim.x * blockDim.x, true);
}

// The instantiations fmtlib.kernels.gpu names: float16/32/64 bits to 8/16/32/64-bit outputs
// (quantize uses D = S).
#define FMT_FAST(S, D) template __global__ void fmt_fast<S, D>(const S*, D*, long long, long long, long long, \
    long long, long long, long long, long long, long long, long long, long long, long long, long long, long long, \
    long long, long long, long long, long long, int, long long, long long, long long, long long, long long, \
    long long, long long, long long, int, unsigned long long, long long, int);
#define FMT_FAST_TO(S) FMT_FAST(S, uint8_t) FMT_FAST(S, uint16_t) FMT_FAST(S, uint32_t) FMT_FAST(S, uint64_t)
FMT_FAST_TO(uint16_t) FMT_FAST_TO(uint32_t) FMT_FAST_TO(uint64_t)
