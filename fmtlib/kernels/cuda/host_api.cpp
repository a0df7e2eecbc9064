// The CUDA scalar code built for the host (g++ or nvcc), with a C ABI for ctypes: the tests
// run it against the Numba kernels and the Fraction oracle on every exhaustive set, so the
// logic the GPU runs is checked on machines without a GPU.
#include "fmt_scalar.cuh"

extern "C" {

// out[i] = the code of src[i] (format ps) in format pd; stochastic rounding keyed by base + i.
void fmt_host_convert(const uint64_t* src, uint64_t* out, int64_t n, const int64_t* ps, const int64_t* pd,
                      int64_t mode, int64_t overflow, uint64_t key, int64_t base, int64_t rbits, int32_t daz,
                      int32_t ftz) {
    fmt::Params Ps, Pd;
    for (int k = 0; k < 12; k++) { Ps.p[k] = ps[k]; Pd.p[k] = pd[k]; }
    for (int64_t i = 0; i < n; i++)
        out[i] = (uint64_t)fmt::convert_one((int64_t)src[i], Ps, Pd, mode, overflow, key, base + i, rbits, daz != 0,
                                            ftz != 0);
}

// out[i] = src[i] rounded into format pf and back into format ps (fmtlib's fused quantize).
void fmt_host_roundtrip(const uint64_t* src, uint64_t* out, int64_t n, const int64_t* ps, const int64_t* pf,
                        int64_t mode, int64_t overflow, uint64_t key, int64_t base, int64_t rbits, int32_t daz,
                        int32_t ftz) {
    fmt::Params Ps, Pf;
    for (int k = 0; k < 12; k++) { Ps.p[k] = ps[k]; Pf.p[k] = pf[k]; }
    for (int64_t i = 0; i < n; i++)
        out[i] = (uint64_t)fmt::roundtrip_one((int64_t)src[i], Ps, Pf, mode, overflow, key, base + i, rbits,
                                              daz != 0, ftz != 0);
}

// out[i] = the top rbits of fmtlib-rng-v1 for element base + i.
void fmt_host_rand(uint64_t key, int64_t base, int64_t n, int64_t rbits, int64_t* out) {
    for (int64_t i = 0; i < n; i++) out[i] = fmt::rand_top(key, base + i, rbits);
}

}
