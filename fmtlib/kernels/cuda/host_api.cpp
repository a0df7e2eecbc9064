// The CUDA scalar code built for the host (g++ or nvcc), with a C ABI for ctypes: the tests
// run it against the Numba kernels and the Fraction oracle on every exhaustive set, so the
// logic the GPU runs is checked on machines without a GPU.
#include "fmt_scalar.cuh"

extern "C" {

// out[i] = the code of src[i] (format ps) in format pd (fmtlib's convert kernel), or with
// ``fused`` src[i] rounded into format pd and back into ps (its roundtrip: fused quantize);
// stochastic rounding keyed by base + i, or with rand[i]'s bits when use_rand.
void fmt_host_elementwise(const uint64_t* src, uint64_t* out, int64_t n, const int64_t* ps, const int64_t* pd,
                          int64_t mode, int64_t overflow, uint64_t key, int64_t base, int64_t rbits, int32_t daz,
                          int32_t ftz, int32_t fused, const int64_t* rand, int32_t use_rand) {
    fmt::Params Ps, Pd;
    for (int k = 0; k < 12; k++) { Ps.p[k] = ps[k]; Pd.p[k] = pd[k]; }
    for (int64_t i = 0; i < n; i++) {
        int64_t c = (int64_t)src[i];
        int64_t rnd = fmt::element_bits(mode, use_rand ? rand : nullptr, i, key, base, rbits);
        out[i] = (uint64_t)(fused ? fmt::roundtrip_rnd(c, Ps, Pd, mode, overflow, rnd, rbits, daz != 0, ftz != 0)
                                  : fmt::convert_rnd(c, Ps, Pd, mode, overflow, rnd, rbits, daz != 0, ftz != 0));
    }
}

// out[i] = the top rbits of fmtlib-rng-v1 for element base + i.
void fmt_host_rand(uint64_t key, int64_t base, int64_t n, int64_t rbits, int64_t* out) {
    for (int64_t i = 0; i < n; i++) out[i] = fmt::rand_top(key, base + i, rbits);
}

}

#include "fmt_mx.cuh"
#include "fmt_mx32.cuh"

extern "C" {

// MX encode of rows of ncols elements (input bits in uint64), every block in order; random
// bits from fmtlib-rng-v1 keyed by base + i, or rand[i] when use_rand (as every block encode).
void fmt_host_mx_encode(const uint64_t* src, uint64_t* codes, uint8_t* scales, uint64_t* out, int64_t n,
                        int64_t ncols, int64_t block, const int64_t* ps, const int64_t* pe, int64_t rule, int64_t emax,
                        int64_t mbits, double M, int64_t eshift, int64_t mode, uint64_t key, int64_t base,
                        int64_t rbits, int32_t fused, const int64_t* rand, int32_t use_rand) {
    fmt::Params Ps, Pe;
    for (int k = 0; k < 12; k++) { Ps.p[k] = ps[k]; Pe.p[k] = pe[k]; }
    fmt::ScaleParams S{rule, emax, mbits, M, eshift};
    int64_t nb = ncols > 0 ? (ncols + block - 1) / block : 0;
    int64_t nrows = ncols > 0 ? n / ncols : 0;
    for (int64_t t = 0; t < nrows * nb; t++)
        fmt::mx_encode_block(src, codes, scales, out, t, ncols, block, Ps, Pe, S, mode, key, base, rbits, fused != 0,
                             use_rand ? rand : nullptr);
}

// The MX 32-bit lane path (fmt_mx32.cuh, as fmt_mx32_encode runs it) of rows of ncols input
// bits (float32, or bfloat16/float16 by ``kind``, in uint32), every block in order; kc: the 13
// numbers fmt_mx32_encode takes (fmtlib.kernels.gpu.mx32_constants).
void fmt_host_mx32_encode(const uint32_t* src, uint32_t* codes, uint8_t* scales, uint32_t* out, int64_t n,
                          int64_t ncols, int64_t block, const int64_t* kc, int32_t kind, int32_t integer, int64_t rule,
                          int64_t emax, int64_t mbits, double M, int32_t stoch, uint64_t key, int64_t base,
                          int32_t rbits, int32_t fused) {
    long long k[13];
    for (int j = 0; j < 13; j++) k[j] = kc[j];
    const fmt::Mx32Params P = fmt::mx32_params(k, kind, rbits);
    const fmt::ScaleParams S{rule, emax, mbits, M, 0};
    auto key_of = [&](int64_t i) { return src[i] & P.in.absmask; };
    int64_t nb = ncols > 0 ? (ncols + block - 1) / block : 0;
    int64_t nrows = ncols > 0 ? n / ncols : 0;
    for (int64_t t = 0; t < nrows * nb; t++) {
        int64_t start, end;
        fmt::block_span(t, ncols, block, start, end);
        const int32_t se = fmt::mx32_block_exponent(fmt::max_key<uint32_t>(start, end, 1, key_of), P.in, S);
        scales[t] = (uint8_t)(se + 127);
        fmt::mx32_elements(src, codes, out, start, end, 1, se, P, kind, stoch != 0, key, base, fused != 0,
                           integer != 0);
    }
}

void fmt_host_mx_decode(const uint64_t* codes, const uint8_t* scales, uint64_t* out, int64_t n, int64_t ncols,
                        int64_t block, const int64_t* pe, const int64_t* po, int64_t eshift) {
    fmt::Params Pe, Po;
    for (int k = 0; k < 12; k++) { Pe.p[k] = pe[k]; Po.p[k] = po[k]; }
    for (int64_t i = 0; i < n; i++)
        out[i] = (uint64_t)fmt::mx_decode_one(codes, scales, i, ncols, block, Pe, Po, eshift);
}

}

#include "fmt_nvfp4.cuh"

extern "C" {

void fmt_host_nvfp4_encode(const uint64_t* src, uint64_t* codes, uint8_t* scales, uint64_t* out, int64_t n,
                           int64_t ncols, int64_t block, const int64_t* ps, const int64_t* po, const int64_t* pe,
                           const int64_t* pscale, const float* elem_vals, const float* scale_vals, int64_t recipe,
                           float G, float tensor_amax, int64_t mode, uint64_t key, int64_t base, int64_t rbits,
                           int32_t fused, const int64_t* rand, int32_t use_rand) {
    fmt::Params Ps, Po, Pe, Psc;
    for (int k = 0; k < 12; k++) { Ps.p[k] = ps[k]; Po.p[k] = po[k]; Pe.p[k] = pe[k]; Psc.p[k] = pscale[k]; }
    int64_t nb = ncols > 0 ? (ncols + block - 1) / block : 0;
    int64_t nrows = ncols > 0 ? n / ncols : 0;
    for (int64_t t = 0; t < nrows * nb; t++)
        fmt::nvfp4_encode_block(src, codes, scales, out, t, ncols, block, Ps, Po, Pe, Psc, elem_vals, scale_vals,
                                recipe, G, tensor_amax, mode, key, base, rbits, fused != 0, use_rand ? rand : nullptr);
}

void fmt_host_nvfp4_decode(const uint64_t* codes, const uint8_t* scales, uint64_t* out, int64_t n, int64_t ncols,
                           int64_t block, const int64_t* po, const float* elem_vals, const float* scale_vals,
                           int64_t recipe, float G, float tensor_amax) {
    fmt::Params Po;
    for (int k = 0; k < 12; k++) Po.p[k] = po[k];
    for (int64_t i = 0; i < n; i++)
        out[i] = (uint64_t)fmt::nvfp4_decode_one(codes, scales, i, ncols, block, Po, elem_vals, scale_vals, recipe, G,
                                                 tensor_amax);
}

}

#include "fmt_sdr.cuh"

extern "C" {

// SDR encode (fused = 0: codes and flags) or quantize (fused = 1: values) of int64 rows;
// returns the values outside [lo, hi]; *obad counts fused results outside [olo, ohi].
int64_t fmt_host_sdr(const int64_t* q, uint64_t* codes, uint8_t* flags, int64_t* out, int64_t rows, int64_t n,
                     int64_t group, int64_t keep, int64_t mode, int64_t lo, int64_t hi, int64_t olo, int64_t ohi,
                     int32_t fused, int64_t* obad) {
    int64_t ng = n > 0 ? (n + group - 1) / group : 0, bad = 0;
    *obad = 0;
    for (int64_t g = 0; g < rows * ng; g++)
        bad += fmt::sdr_group(q, codes, flags, out, g, n, group, keep, mode, lo, hi, olo, ohi, fused != 0, obad);
    return bad;
}

void fmt_host_sdr_decode(const uint64_t* codes, const uint8_t* flags, int64_t* out, int64_t rows, int64_t n,
                         int64_t group, int64_t keep) {
    for (int64_t i = 0; i < rows * n; i++) out[i] = fmt::sdr_decode_one(codes, flags, i, n, group, keep);
}

}

#include "fmt_scaled.cuh"

extern "C" {

// Scaled (float scale) encode of rows of ncols elements; returns the blocks whose scale is
// beyond the scale format.
int64_t fmt_host_scaled_encode(const uint64_t* src, uint64_t* codes, uint32_t* scales, uint64_t* out, int64_t n,
                               int64_t ncols, int64_t block, const int64_t* ps, const int64_t* pe,
                               const int64_t* psc, const int64_t* r, int64_t smin_code,
                               int64_t mode, uint64_t key, int64_t base, int64_t rbits, int32_t fused,
                               const int64_t* rand, int32_t use_rand) {
    fmt::Params Ps, Pe, Psc;
    for (int k = 0; k < 12; k++) { Ps.p[k] = ps[k]; Pe.p[k] = pe[k]; Psc.p[k] = psc[k]; }
    long long R[5];
    for (int k = 0; k < 5; k++) R[k] = r[k];
    int64_t nb = ncols > 0 ? (ncols + block - 1) / block : 0;
    int64_t nrows = ncols > 0 ? n / ncols : 0, bad = 0;
    for (int64_t t = 0; t < nrows * nb; t++)
        bad += fmt::scaled_encode_block(src, codes, scales, out, t, ncols, block, Ps, Pe, Psc, R, smin_code, mode,
                                        key, base, rbits, fused != 0, use_rand ? rand : nullptr);
    return bad;
}

void fmt_host_scaled_decode(const uint64_t* codes, const uint32_t* scales, uint64_t* out, int64_t n, int64_t ncols,
                            int64_t block, const int64_t* pe, const int64_t* psc, const int64_t* po,
                            const int64_t* r) {
    fmt::Params Pe, Psc, Po;
    for (int k = 0; k < 12; k++) { Pe.p[k] = pe[k]; Psc.p[k] = psc[k]; Po.p[k] = po[k]; }
    long long R[5];
    for (int k = 0; k < 5; k++) R[k] = r[k];
    for (int64_t i = 0; i < n; i++)
        out[i] = (uint64_t)fmt::scaled_decode_one(codes, scales, i, ncols, block, Pe, Psc, Po, R);
}

}

#include "fmt_codebook.cuh"

extern "C" {

// Quantile encode of float bits (format ps): codes code_of[k], or (fused) vals[k]; stochastic
// from fmtlib-rng-v1 keyed by base + i, or from rand[i] when use_rand.
void fmt_host_quantile_encode(const uint64_t* src, uint64_t* out, int64_t n, const int64_t* ps, const double* dtab,
                              const signed char* ttab, int64_t nlev, int64_t nan_index, const uint16_t* code_of,
                              const uint64_t* vals, int64_t mode, uint64_t key, int64_t base, int64_t rbits,
                              const int64_t* rand, int32_t use_rand, int32_t fused) {
    fmt::Params Ps;
    for (int k = 0; k < 12; k++) Ps.p[k] = ps[k];
    fmt::Book B = fmt::make_book(dtab, ttab, nlev, nan_index);
    for (int64_t i = 0; i < n; i++) {
        int64_t r = fmt::element_bits(mode, use_rand ? rand : nullptr, i, key, base, rbits);
        int64_t k = fmt::quantile_one((int64_t)src[i], Ps, mode, B, r, rbits);
        out[i] = fused ? vals[k] : (uint64_t)code_of[k];
    }
}

void fmt_host_book_scaled_encode(const uint64_t* src, uint64_t* codes, uint32_t* scales, uint64_t* out, int64_t n,
                                 int64_t ncols, int64_t block, const int64_t* ps, const double* dtab,
                                 const signed char* ttab, int64_t nlev, int64_t nan_index, const uint16_t* code_of,
                                 int64_t mode, uint64_t key, int64_t base, int64_t rbits, int32_t fused,
                                 const int64_t* rand, int32_t use_rand) {
    fmt::Params Ps;
    for (int k = 0; k < 12; k++) Ps.p[k] = ps[k];
    fmt::Book B = fmt::make_book(dtab, ttab, nlev, nan_index);
    int64_t nb = ncols > 0 ? (ncols + block - 1) / block : 0;
    int64_t nrows = ncols > 0 ? n / ncols : 0;
    for (int64_t t = 0; t < nrows * nb; t++)
        fmt::book_scaled_block(src, codes, scales, out, t, ncols, block, Ps, mode, B, code_of, key, base, rbits,
                               fused != 0, use_rand ? rand : nullptr);
}

void fmt_host_book_absmax_encode(const uint32_t* src, uint64_t* codes, uint32_t* scales, uint32_t* out, int64_t n,
                                 int64_t ncols, int64_t block, const float* vals32, const float* thr, int64_t m,
                                 const uint16_t* code_of, int64_t nan_index, int32_t fused) {
    int64_t nb = ncols > 0 ? (ncols + block - 1) / block : 0;
    int64_t nrows = ncols > 0 ? n / ncols : 0;
    for (int64_t t = 0; t < nrows * nb; t++)
        fmt::book_absmax_block(src, codes, scales, out, t, ncols, block, vals32, thr, m, code_of, nan_index,
                               fused != 0);
}

// Returns the number of codes the table does not use.
int64_t fmt_host_book_decode(const uint64_t* codes, const uint32_t* scales, uint64_t* out, int64_t n, int64_t ncols,
                             int64_t block, const double* value_of, int64_t ncodes, int32_t absmax, const int64_t* po) {
    fmt::Params Po;
    for (int k = 0; k < 12; k++) Po.p[k] = po[k];
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t res;
        if (!fmt::book_decode_one(codes, scales, i, ncols, block, value_of, ncodes, absmax != 0, Po, res)) bad++;
        out[i] = (uint64_t)res;
    }
    return bad;
}

}

#include "fmt_pack.cuh"

extern "C" {

// BitStream pack / unpack of (rows, n) codes held in uint64 and (rows, rb) bytes.
void fmt_host_stream_pack(const uint64_t* codes, uint8_t* buf, int64_t rows, int64_t n, int64_t rb, int64_t k,
                          int32_t msb) {
    for (int64_t t = 0; t < rows * rb; t++) buf[t] = fmt::stream_byte(codes, n, t / rb, t % rb, k, msb != 0);
}

void fmt_host_stream_unpack(const uint8_t* buf, uint64_t* codes, int64_t rows, int64_t n, int64_t rb, int64_t k,
                            int32_t msb) {
    for (int64_t t = 0; t < rows * n; t++) codes[t] = fmt::stream_code(buf, rb, t / n, t % n, k, msb != 0);
}

}

#include "fmt_fast.cuh"

namespace {

template <typename S, typename D>
void host_fast(const void* src, void* out, int64_t n, const fmt::FastParams& F, int64_t mode, uint64_t key,
               int64_t base, int64_t rbits, bool encode, bool vec) {
    fmt::fast_range<S, D>(static_cast<const S*>(src), static_cast<D*>(out), n, F, mode, key, base, rbits, encode, 0, 1,
                          vec);
}

template <typename S>
int host_fast_to(int32_t dbytes, const void* src, void* out, int64_t n, const fmt::FastParams& F, int64_t mode,
                 uint64_t key, int64_t base, int64_t rbits, bool encode, bool vec) {
    switch (dbytes) {
        case 1: host_fast<S, uint8_t>(src, out, n, F, mode, key, base, rbits, encode, vec); return 0;
        case 2: host_fast<S, uint16_t>(src, out, n, F, mode, key, base, rbits, encode, vec); return 0;
        case 4: host_fast<S, uint32_t>(src, out, n, F, mode, key, base, rbits, encode, vec); return 0;
        case 8: host_fast<S, uint64_t>(src, out, n, F, mode, key, base, rbits, encode, vec); return 0;
    }
    return -1;
}

}  // namespace

extern "C" {

// The GPU fast path's loop (fmt::fast_range, as fast.cu's fmt_fast runs it, on one thread):
// src holds n input bits of sbytes (2, 4, 8) each, out n outputs of dbytes each; C, special
// and D (null for quantize) as fmtlib.kernels.fast_path gives them; vec: read and write quads
// where src and out are aligned for them. Returns -1 for a width it has no instantiation for.
int32_t fmt_host_fast(const void* src, void* out, int32_t sbytes, int32_t dbytes, int64_t n, const int64_t* C,
                      const int64_t* special, const int64_t* D, int64_t mode, uint64_t key, int64_t base,
                      int64_t rbits, int32_t vec) {
    long long c[10], sp[6], d[8];
    for (int k = 0; k < 10; k++) c[k] = C[k];
    for (int k = 0; k < 6; k++) sp[k] = special[k];
    for (int k = 0; k < 8; k++) d[k] = D ? D[k] : 0;
    const fmt::FastParams F = fmt::fast_params(c, sp, D ? d : nullptr);
    switch (sbytes) {
        case 2: return host_fast_to<uint16_t>(dbytes, src, out, n, F, mode, key, base, rbits, D != nullptr, vec != 0);
        case 4: return host_fast_to<uint32_t>(dbytes, src, out, n, F, mode, key, base, rbits, D != nullptr, vec != 0);
        case 8: return host_fast_to<uint64_t>(dbytes, src, out, n, F, mode, key, base, rbits, D != nullptr, vec != 0);
    }
    return -1;
}

}

#include "fmt_lanes.cuh"

namespace {

template <typename S, typename D>
int host_lanes(int32_t op, const void* src, void* out, int64_t n, const fmt::LaneParams& L, const fmt::LaneDecode& Dc,
               int32_t kind, bool stoch, bool vec) {
    if (op == 0) {
        fmt::lanes_quantize<S>(static_cast<const S*>(src), static_cast<S*>(out), n, L, kind, stoch, 0, 1, vec);
    } else if (op == 1) {
        fmt::lanes_encode<S, D>(static_cast<const S*>(src), static_cast<D*>(out), n, L, kind, 0, 1, vec);
    } else {   // decode: src holds codes (D), out output bits (S)
        fmt::lanes_decode<D, S>(static_cast<const D*>(src), static_cast<S*>(out), n, Dc, kind, 0, 1, vec);
    }
    return 0;
}

template <typename S>
int host_lanes_to(int32_t cbytes, int32_t op, const void* src, void* out, int64_t n, const fmt::LaneParams& L,
                  const fmt::LaneDecode& Dc, int32_t kind, bool stoch, bool vec) {
    switch (cbytes) {
        case 1: return host_lanes<S, uint8_t>(op, src, out, n, L, Dc, kind, stoch, vec);
        case 2: return host_lanes<S, uint16_t>(op, src, out, n, L, Dc, kind, stoch, vec);
        case 4: return host_lanes<S, uint32_t>(op, src, out, n, L, Dc, kind, stoch, vec);
        case 8: return host_lanes<S, uint64_t>(op, src, out, n, L, Dc, kind, stoch, vec);
    }
    return -1;
}

}  // namespace

extern "C" {

// The element lane path (fmt_lanes.cuh, the loops lanes.cu's kernels run) on one thread: op 0
// quantize (c = K[8], special[6]; stoch: fmtlib-rng-v1 of element base + i), 1 encode (c = K[8],
// E[4], codes[6]), 2 decode (c = Kd[6], sp[2]; src holds codes). fbytes: the float bits' width
// (2, 4), cbytes the codes' (1, 2, 4, 8; quantize: unused); vec: 16-byte vectors where both
// arrays are aligned for them. Returns -1 for a width it has no instantiation for.
int32_t fmt_host_lanes(int32_t op, const void* src, void* out, int32_t fbytes, int32_t cbytes, int64_t n,
                       const uint32_t* c, int32_t kind, int32_t stoch, uint64_t key, int64_t base, int32_t rbits,
                       int32_t vec) {
    const uint32_t zeros[4] = {0, 0, 0, 0};
    const fmt::LaneParams L = fmt::lane_params(c, op == 1 ? c + 8 : zeros, op == 1 ? c + 12 : c + 8, kind, rbits, key,
                                               base);
    const fmt::LaneDecode Dc = fmt::lane_decode_params(c, c + 6, kind);
    if (op == 0) cbytes = fbytes;
    switch (fbytes) {
        case 2: return host_lanes_to<uint16_t>(cbytes, op, src, out, n, L, Dc, kind, stoch != 0, vec != 0);
        case 4: return host_lanes_to<uint32_t>(cbytes, op, src, out, n, L, Dc, kind, stoch != 0, vec != 0);
    }
    return -1;
}

}
