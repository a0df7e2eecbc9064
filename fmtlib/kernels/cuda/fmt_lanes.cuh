// Element quantize, encode and decode of float32, bfloat16 and float16 bits in 32-bit lanes: the
// CPU's lane kernels (fmtlib/kernels/cpu/element.py _nearest32_loop, _stochastic32_loop,
// _encode32_loop, _decode32_loop; read the comments above them for the rules), for the device
// and the host, on the helpers of fmt_mx32.cuh (input32, f32_bits_of, bits_from_f32,
// round_rne32, round_stochastic32, rng_hash). Every per-element step is a 32-bit integer or
// float32 operation, where the fast path of fmt_fast.cuh holds its constants in int64; the one
// 64-bit part is stochastic rounding's (fmtlib-rng-v1's 64-bit hash per element and the
// float64 test below the quantum, as on the CPU). bfloat16 and float16 input is widened to
// float32 bits (kind 1 and 2, as the CPU did before its 16-bit lane kernels and as the MX lane
// path does): the same bits, one code path. The constants are the CPU's
// (fast_path.nearest32_constants' K and special, encode32_constants' E and codes,
// decode32_constants' Kd and sp). Compile with --fmad=false --ftz=false: float32 subnormals are
// kept and no product is fused with a sum.
#pragma once
#include "fmt_mx32.cuh"

namespace fmt {

// The constants of quantize (K, special) and encode (K, E, codes): the rounding's as
// fmt_mx32.cuh unpacks them (E's max code, E[3], held apart), and the results of an overflow,
// an inf and a NaN as (positive, positive ^ negative) pairs (element.py _specials32: one select
// by a sign mask each; no array indexed at run time, which would live in local memory).
struct LaneParams {
    Mx32Params P;
    uint32_t q_code, max_mag, neg_zero;   // encode: bits of Q, the largest finite magnitude, the code of -0
    uint32_t ovf_p, ovf_d, inf_p, inf_d, nan_p, nan_d;
    uint64_t key;                            // stochastic: fmtlib-rng-v1 of element base + i
    int64_t base;
};

// K (8), E (4: zeros for quantize) and special (6: input bits for quantize, codes for encode).
FMT_HD LaneParams lane_params(const uint32_t* K, const uint32_t* E, const uint32_t* sp, int32_t kind, int32_t rbits,
                              uint64_t key, int64_t base) {
    long long kc[13];
    for (int k = 0; k < 8; k++) kc[k] = K[k];
    for (int k = 0; k < 4; k++) kc[8 + k] = E[k];
    kc[12] = 0;
    LaneParams L;
    L.P = mx32_params(kc, kind, rbits);
    L.q_code = K[2];
    L.max_mag = E[3];
    L.neg_zero = (E[2] & 1u) ? 0xFFFFFFFFu : 1u << (E[0] & 31u);
    L.ovf_p = sp[0]; L.ovf_d = sp[0] ^ sp[1];
    L.inf_p = sp[2]; L.inf_d = sp[2] ^ sp[3];
    L.nan_p = sp[4]; L.nan_d = sp[4] ^ sp[5];
    L.key = key;
    L.base = base;
    return L;
}

// element.py _nearest32_loop (and, STOCH, _stochastic32_loop) for input bits ``b`` of element
// i: the magnitude as float32 bits, rounded there, back to the input format, the sign or-ed in
// (a zero keeps it where the format has -0), and the overflow, inf and NaN results by sign.
template <int KIND, bool STOCH>
FMT_HD uint32_t lane_quantize(uint32_t b, int64_t i, const LaneParams& L) {
    const Input32 In = input32(KIND);
    const uint32_t a = b & In.absmask, sign = b & In.sign_bit;
    const uint32_t smask = 0u - (uint32_t)(sign != 0);
    const uint32_t f = f32_bits_of(a, KIND);
    const uint32_t r32 = STOCH ? round_stochastic32(f, rng_hash(L.key, L.base + i), L.P) : round_rne32(f, L.P);
    const uint32_t r = bits_from_f32(r32, KIND);
    uint32_t v = r | (sign & (r == 0 ? L.P.zero_sign : In.sign_bit));
    v = r32 > L.P.max_bits ? L.ovf_p ^ (L.ovf_d & smask) : v;
    v = a == In.inf_bits ? L.inf_p ^ (L.inf_d & smask) : v;
    v = a > In.inf_bits ? L.nan_p ^ (L.nan_d & smask) : v;
    return v;
}

// element.py _encode32_loop (with the old kind argument, b239f9b): the code's magnitude from
// the float32 bits f of |x|, nearest-even at s as integers at or above 2**emin, the bits of
// f + Q less those of Q below it; -0 becomes 0 where the format has none; rounded above the
// max (every inf and NaN too), the overflow, inf or NaN code of the sign (_special_code).
template <int KIND>
FMT_HD uint32_t lane_encode(uint32_t b, const LaneParams& L) {
    const Input32 In = input32(KIND);
    const Mx32Params& P = L.P;
    const uint32_t a = b & In.absmask;
    const uint32_t negu = (uint32_t)((b & In.sign_bit) != 0);
    const uint32_t f = f32_bits_of(a, KIND);
    const uint32_t normal = ((f + P.half1 + (((f | 0x800000u) >> P.s) & 1u)) >> P.s) - P.bias_shift;
    const uint32_t sub = f32_bits(bits_f32(f) + P.magic) - L.q_code;
    const uint32_t mag = f < P.emin_bits ? sub : normal;
    uint32_t code = mag | (negu << P.mag_bits);
    code = code == L.neg_zero ? 0u : code;
    const uint32_t smask = 0u - negu;
    uint32_t sv = L.ovf_p ^ (L.ovf_d & smask);
    sv = a == In.inf_bits ? L.inf_p ^ (L.inf_d & smask) : sv;
    sv = a > In.inf_bits ? L.nan_p ^ (L.nan_d & smask) : sv;
    return mag > L.max_mag ? sv : code;
}

// decode32_constants' Kd (6) and sp (2), unpacked as element.py _decode32_loop does for output
// ``kind``.
struct LaneDecode {
    uint32_t s, magmask, inf_mag, nan_lo, fnuz_nan, sgn, inf_p, nan_p;
    float scale;
};

FMT_HD LaneDecode lane_decode_params(const uint32_t* Kd, const uint32_t* sp, int32_t kind) {
    LaneDecode D;
    D.s = (23u - Kd[0]) & 31u;
    const uint32_t mag_bits = Kd[1] & 31u;
    D.magmask = (1u << mag_bits) - 1u;
    D.scale = bits_f32(Kd[2]);
    D.inf_mag = Kd[3]; D.nan_lo = Kd[4]; D.fnuz_nan = Kd[5];
    D.sgn = ((kind == 0 ? 31u : 15u) - mag_bits) & 31u;
    D.inf_p = sp[0]; D.nan_p = sp[1];
    return D;
}

// element.py _decode32_loop for code ``c``: the magnitude code in float32's fields times the
// power of two scale (exact), shifted to the output's bits; inf and NaN by comparisons; the
// code's sign moved to the output's sign bit.
template <int KIND>
FMT_HD uint32_t lane_decode(uint32_t c, const LaneDecode& D) {
    const uint32_t sh = KIND == 0 ? 0u : (KIND == 1 ? 16u : 13u);
    const uint32_t out_sign = KIND == 0 ? 0x80000000u : 0x8000u;
    const uint32_t mag = c & D.magmask;
    uint32_t r = f32_bits(bits_f32(mag << D.s) * D.scale) >> sh;
    r = mag == D.inf_mag ? D.inf_p : r;
    r = mag >= D.nan_lo || c == D.fnuz_nan ? D.nan_p : r;
    return r | ((c << D.sgn) & out_sign);
}

// The per-element operations lane_loop runs, by tag (free functions: FMT_HD is ``static
// inline`` in the host build, which a member function cannot be).
template <int KIND, bool STOCH> struct QuantizeOp { LaneParams L; };
template <int KIND> struct EncodeOp { LaneParams L; };
template <int KIND> struct DecodeOp { LaneDecode D; };

template <int KIND, bool STOCH>
FMT_HD uint32_t lane_op(const QuantizeOp<KIND, STOCH>& op, uint32_t b, int64_t i) {
    return lane_quantize<KIND, STOCH>(b, i, op.L);
}
template <int KIND>
FMT_HD uint32_t lane_op(const EncodeOp<KIND>& op, uint32_t b, int64_t) { return lane_encode<KIND>(b, op.L); }
template <int KIND>
FMT_HD uint32_t lane_op(const DecodeOp<KIND>& op, uint32_t c, int64_t) { return lane_decode<KIND>(c, op.D); }

// N consecutive elements, loaded or stored as one aligned vector.
template <typename T, int N> struct alignas(N * sizeof(T)) LaneVec { T v[N]; };

// One thread's share of out[i] = lane_op(op, src[i], i) for i < n: vectors of N elements first
// (where src and out are aligned for them, and ``vec``), j = first, first + step, ..., then the
// elements past the last whole vector one by one; ``first``/``step``: the thread's index and
// the number of threads (0 and 1 on the host).
template <int N, typename S, typename D, typename Op>
FMT_HD void lane_loop(const S* src, D* out, int64_t n, const Op& op, int64_t first, int64_t step, bool vec) {
    int64_t done = 0;
    vec = vec && ((unsigned long long)src % sizeof(LaneVec<S, N>)) == 0
          && ((unsigned long long)out % sizeof(LaneVec<D, N>)) == 0;
    if (vec) {
        const int64_t nv = n / N;
        const LaneVec<S, N>* vs = reinterpret_cast<const LaneVec<S, N>*>(src);
        LaneVec<D, N>* vd = reinterpret_cast<LaneVec<D, N>*>(out);
        for (int64_t j = first; j < nv; j += step) {
            const LaneVec<S, N> x = vs[j];
            LaneVec<D, N> y;
#pragma unroll
            for (int k = 0; k < N; k++) y.v[k] = (D)lane_op(op, (uint32_t)x.v[k], N * j + k);
            vd[j] = y;
        }
        done = N * nv;
    }
    for (int64_t i = done + first; i < n; i += step) out[i] = (D)lane_op(op, (uint32_t)src[i], i);
}

// The elements per vector of a stream of T: 16 bytes (T of 2 or 4 bytes). gpu.py launches
// ceil(n / N) threads, N of the wider stream (the input of quantize and encode, the output of
// decode).
template <typename T> struct LaneWidth { static const int N = 16 / sizeof(T); };

// Quantize n input bits (kind 0: float32 in uint32; 1, 2: bfloat16, float16 in uint16),
// nearest-even (floor-on-overflow: its special) or, ``stoch``, stochastic.
template <typename S>
FMT_HD void lanes_quantize(const S* src, S* out, int64_t n, const LaneParams& L, int32_t kind, bool stoch,
                           int64_t first, int64_t step, bool vec) {
    const int N = LaneWidth<S>::N;
    if (kind == 0) {
        if (stoch) lane_loop<N>(src, out, n, QuantizeOp<0, true>{L}, first, step, vec);
        else lane_loop<N>(src, out, n, QuantizeOp<0, false>{L}, first, step, vec);
    } else if (kind == 1) {
        if (stoch) lane_loop<N>(src, out, n, QuantizeOp<1, true>{L}, first, step, vec);
        else lane_loop<N>(src, out, n, QuantizeOp<1, false>{L}, first, step, vec);
    } else {
        if (stoch) lane_loop<N>(src, out, n, QuantizeOp<2, true>{L}, first, step, vec);
        else lane_loop<N>(src, out, n, QuantizeOp<2, false>{L}, first, step, vec);
    }
}

// Encode n input bits to codes, nearest-even (floor-on-overflow: its codes).
template <typename S, typename D>
FMT_HD void lanes_encode(const S* src, D* out, int64_t n, const LaneParams& L, int32_t kind, int64_t first,
                         int64_t step, bool vec) {
    const int N = LaneWidth<S>::N;
    if (kind == 0) lane_loop<N>(src, out, n, EncodeOp<0>{L}, first, step, vec);
    else if (kind == 1) lane_loop<N>(src, out, n, EncodeOp<1>{L}, first, step, vec);
    else lane_loop<N>(src, out, n, EncodeOp<2>{L}, first, step, vec);
}

// Decode n codes into output bits of ``kind``.
template <typename C, typename S>
FMT_HD void lanes_decode(const C* codes, S* out, int64_t n, const LaneDecode& D, int32_t kind, int64_t first,
                         int64_t step, bool vec) {
    const int N = LaneWidth<S>::N;
    if (kind == 0) lane_loop<N>(codes, out, n, DecodeOp<0>{D}, first, step, vec);
    else if (kind == 1) lane_loop<N>(codes, out, n, DecodeOp<1>{D}, first, step, vec);
    else lane_loop<N>(codes, out, n, DecodeOp<2>{D}, first, step, vec);
}

}  // namespace fmt
