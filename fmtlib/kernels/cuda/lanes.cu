// Element quantize, encode and decode of float32, bfloat16 and float16 bits in 32-bit lanes
// (fmt_lanes.cuh: the CPU's lane kernels of fmtlib/kernels/cpu/element.py), where gpu.py
// finds the CPU would take them; fast.cu keeps everything else. The constants come by value,
// as the CPU's fast_path gives them (uint32). Grid-stride loops over vectors of 16 bytes of
// the wider stream (the launch asks for one thread per vector), then the last elements one
// by one. kind: 0 float32 (uint32 bits), 1 bfloat16, 2 float16 (uint16 bits).
#include "fmt_lanes.cuh"

// Quantize, nearest-even or floor-on-overflow (K, special: fast_path.nearest32_constants), or
// stochastic (stoch: fmtlib-rng-v1 of element base + i, its top rbits bits).
template <typename S>
__global__ void fmt_lanes_quantize(const S* src, S* out, long long n, unsigned int k0, unsigned int k1,
                                   unsigned int k2, unsigned int k3, unsigned int k4, unsigned int k5,
                                   unsigned int k6, unsigned int k7, unsigned int sp0, unsigned int sp1,
                                   unsigned int sp2, unsigned int sp3, unsigned int sp4, unsigned int sp5, int kind,
                                   int stoch, unsigned long long key, long long base, int rbits) {
    const uint32_t K[8] = {k0, k1, k2, k3, k4, k5, k6, k7}, E[4] = {0, 0, 0, 0};
    const uint32_t sp[6] = {sp0, sp1, sp2, sp3, sp4, sp5};
    const fmt::LaneParams L = fmt::lane_params(K, E, sp, kind, rbits, key, base);
    fmt::lanes_quantize<S>(src, out, n, L, kind, stoch != 0, blockIdx.x * (long long)blockDim.x + threadIdx.x,
                           (long long)gridDim.x * blockDim.x, true);
}

// Encode, nearest-even or floor-on-overflow (K: nearest32_constants; E, codes:
// encode32_constants).
template <typename S, typename D>
__global__ void fmt_lanes_encode(const S* src, D* out, long long n, unsigned int k0, unsigned int k1, unsigned int k2,
                                 unsigned int k3, unsigned int k4, unsigned int k5, unsigned int k6, unsigned int k7,
                                 unsigned int e0, unsigned int e1, unsigned int e2, unsigned int e3, unsigned int c0,
                                 unsigned int c1, unsigned int c2, unsigned int c3, unsigned int c4, unsigned int c5,
                                 int kind) {
    const uint32_t K[8] = {k0, k1, k2, k3, k4, k5, k6, k7}, E[4] = {e0, e1, e2, e3};
    const uint32_t codes[6] = {c0, c1, c2, c3, c4, c5};
    const fmt::LaneParams L = fmt::lane_params(K, E, codes, kind, 1, 0, 0);
    fmt::lanes_encode<S, D>(src, out, n, L, kind, blockIdx.x * (long long)blockDim.x + threadIdx.x,
                            (long long)gridDim.x * blockDim.x, true);
}

// Decode codes into output bits (Kd, sp: fast_path.decode32_constants).
template <typename C, typename S>
__global__ void fmt_lanes_decode(const C* codes, S* out, long long n, unsigned int d0, unsigned int d1,
                                 unsigned int d2, unsigned int d3, unsigned int d4, unsigned int d5, unsigned int inf,
                                 unsigned int nan, int kind) {
    const uint32_t Kd[6] = {d0, d1, d2, d3, d4, d5}, sp[2] = {inf, nan};
    const fmt::LaneDecode D = fmt::lane_decode_params(Kd, sp, kind);
    fmt::lanes_decode<C, S>(codes, out, n, D, kind, blockIdx.x * (long long)blockDim.x + threadIdx.x,
                            (long long)gridDim.x * blockDim.x, true);
}

// The instantiations fmtlib.kernels.gpu names: float32 (uint32) and bfloat16/float16 (uint16)
// bits; codes of 8, 16 or 32 bits (encode), of any unsigned width (decode: range-checked
// before, read as 32 bits).
#define FMT_LANES_Q(S) template __global__ void fmt_lanes_quantize<S>(const S*, S*, long long, unsigned int, \
    unsigned int, unsigned int, unsigned int, unsigned int, unsigned int, unsigned int, unsigned int, unsigned int, \
    unsigned int, unsigned int, unsigned int, unsigned int, unsigned int, int, int, unsigned long long, long long, int);
#define FMT_LANES_E(S, D) template __global__ void fmt_lanes_encode<S, D>(const S*, D*, long long, unsigned int, \
    unsigned int, unsigned int, unsigned int, unsigned int, unsigned int, unsigned int, unsigned int, unsigned int, \
    unsigned int, unsigned int, unsigned int, unsigned int, unsigned int, unsigned int, unsigned int, unsigned int, \
    unsigned int, int);
#define FMT_LANES_D(C, S) template __global__ void fmt_lanes_decode<C, S>(const C*, S*, long long, unsigned int, \
    unsigned int, unsigned int, unsigned int, unsigned int, unsigned int, unsigned int, unsigned int, int);
FMT_LANES_Q(uint16_t) FMT_LANES_Q(uint32_t)
FMT_LANES_E(uint16_t, uint8_t) FMT_LANES_E(uint16_t, uint16_t) FMT_LANES_E(uint32_t, uint8_t)
FMT_LANES_E(uint32_t, uint16_t) FMT_LANES_E(uint32_t, uint32_t)
FMT_LANES_D(uint8_t, uint16_t) FMT_LANES_D(uint16_t, uint16_t) FMT_LANES_D(uint32_t, uint16_t)
FMT_LANES_D(uint64_t, uint16_t) FMT_LANES_D(uint8_t, uint32_t) FMT_LANES_D(uint16_t, uint32_t)
FMT_LANES_D(uint32_t, uint32_t) FMT_LANES_D(uint64_t, uint32_t)
