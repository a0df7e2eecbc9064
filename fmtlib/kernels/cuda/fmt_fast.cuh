// fmtlib's fast path for quantize and encode of IEEE input, written once for the host (gcc/nvcc)
// and the device (nvcc, NVRTC).
//
// A port of the CPU fast path, fmtlib/kernels/cpu/convert.py: ``_ieee_fields``, ``_fast_round``
// and ``_value_code`` (read the comment above ``_fast_round`` there for the rule), with the
// constants of fmtlib/kernels/fast_path.py (``constants``: C and ``special``; ``code_constants``:
// D) and its eligibility (``eligible``): a signed float format with subnormals, no flushing,
// whose values the input format holds. The rounding happens on the input's own bits: round off
// the low ``se`` bits (a carry runs into the exponent), 0 or q below the quantum q, and the
// overflow/inf/NaN results by sign from ``special``. Every mode of the CPU fast path:
// nearest-even (and floor-on-overflow, which differs only in ``special``), nearest-away,
// toward zero, up, down, odd, and stochastic with fmtlib-rng-v1 bits (fmt_scalar.cuh's
// ``rand_top``).
//
// Arithmetic is on the input's width: W = uint32_t for float16/bfloat16/float32 bits, uint64_t
// for float64 bits. Only stochastic rounding touches 64-bit values for narrow inputs: its
// random bits (up to 62 of them) and the tiny-value threshold compared with them.
#pragma once
#include "fmt_scalar.cuh"

namespace fmt {

// fast_path.constants' C and special, and (encode) code_constants' D, by value.
struct FastParams {
    int32_t s, e_thr, lq, m_in, sign_pos, k0;       // C[0], C[1], C[4], C[7], C[8], C[9]
    uint64_t q_bits, halfq_bits, max_bits, zero_sign;  // C[2], C[3], C[5], C[6] (input bits)
    uint64_t special[6];   // input bits of the results for overflow, inf, NaN: +, - each
    int32_t dbias, mbits, mag_bits, signed_;  // D[0..3]: encode only
    uint64_t inf_code[2], nan_code[2];        // D[4..7]: the codes of an inf / NaN value, +, -
};

// C (10 numbers), special (6) and D (8, or null for quantize) as fast_path gives them.
FMT_HD FastParams fast_params(const long long* C, const long long* special, const long long* D) {
    FastParams F;
    F.s = (int32_t)C[0]; F.e_thr = (int32_t)C[1]; F.q_bits = (uint64_t)C[2]; F.halfq_bits = (uint64_t)C[3];
    F.lq = (int32_t)C[4]; F.max_bits = (uint64_t)C[5]; F.zero_sign = (uint64_t)C[6]; F.m_in = (int32_t)C[7];
    F.sign_pos = (int32_t)C[8]; F.k0 = (int32_t)C[9];
    for (int k = 0; k < 6; k++) F.special[k] = (uint64_t)special[k];
    F.dbias = D ? (int32_t)D[0] : 0; F.mbits = D ? (int32_t)D[1] : 0; F.mag_bits = D ? (int32_t)D[2] : 0;
    F.signed_ = D ? (int32_t)D[3] : 0;
    F.inf_code[0] = D ? (uint64_t)D[4] : 0; F.inf_code[1] = D ? (uint64_t)D[5] : 0;
    F.nan_code[0] = D ? (uint64_t)D[6] : 0; F.nan_code[1] = D ? (uint64_t)D[7] : 0;
    return F;
}

FMT_HD int32_t imin(int32_t a, int32_t b) { return a < b ? a : b; }
FMT_HD int32_t imax(int32_t a, int32_t b) { return a > b ? a : b; }

// The arithmetic width of an input's bits.
template <typename S> struct FastWord { typedef uint32_t type; };
template <> struct FastWord<uint64_t> { typedef uint64_t type; };

// convert.py _ieee_fields: the magnitude, sign, effective exponent and significand (with its
// implicit bit) of IEEE bits ``b``.
template <typename W> struct FastFields { W a; int32_t E, neg, e_eff; W sig; };
template <typename W>
FMT_HD FastFields<W> fast_fields(W b, const FastParams& F) {
    const W one = 1;
    const W implicit = one << F.m_in;
    FastFields<W> f;
    f.a = b & ((one << F.sign_pos) - 1);
    f.E = (int32_t)(f.a >> F.m_in);
    f.neg = (int32_t)((b >> F.sign_pos) & 1);
    f.e_eff = imax(f.E, 1);
    f.sig = (f.a & (implicit - 1)) | (f.E > 0 ? implicit : 0);
    return f;
}

// convert.py _fast_round: the input-format bits of IEEE bits ``b`` quantized (mode ``mode``;
// ``rnd``: rbits random bits, stochastic only).
template <typename W>
FMT_HD W fast_round(W b, int64_t rnd, const FastParams& F, int64_t mode, int64_t rbits) {
    const W one = 1;
    const int32_t m_in = F.m_in;
    const W sign_bit = one << F.sign_pos, absmask = sign_bit - 1, implicit = one << m_in;
    const FastFields<W> f = fast_fields(b, F);
    const W a = f.a, sig = f.sig;
    const int32_t E = f.E, neg = f.neg, e_eff = f.e_eff;
    // round off the low se bits
    const int32_t se = imin(F.s + imax(F.e_thr - e_eff, 0), m_in);
    const W bit = one << se;
    const W mask = bit - 1;
    const bool up_away = (mode == UP && neg == 0) || (mode == DOWN && neg == 1);
    W inc;
    if (mode == STOCH)   // rnd's top se bits (rnd < 2**rbits): below 2**se
        inc = rbits >= se ? (W)(rnd >> (rbits - se)) : (W)rnd << (se - (int32_t)rbits);
    else if (mode == RNA)
        inc = bit >> 1;
    else if (up_away)
        inc = mask;
    else if (mode == RNE || mode == FLOOR_OVF)
        inc = (bit >> 1) - 1 + (((a | implicit) >> se) & 1);
    else   // toward zero, the truncating side of up/down, odd
        inc = 0;
    W r = (a + inc) & ~mask;
    if (mode == ODD)   // inexact and n even: make n odd (at se = m_in, n = the implicit 1 is odd)
        r |= ((a & mask) != 0 && (((a | implicit) >> se) & 1) == 0) ? bit : (W)0;
    // below the quantum q: 0 or q
    bool tiny_up;
    if (mode == STOCH) {
        // |x| / q = sig / 2**k; F = floor(|x| / q * 2**rbits) (used only where |x| < q, so
        // sig < 2**k and F < 2**rbits; the clamps keep the shifts defined elsewhere)
        const int32_t k = imin(F.k0 + F.lq - e_eff, 2000);
        const uint64_t Fr = ((uint64_t)sig >> imin(imax(k - (int32_t)rbits, 0), 63))
                            << imin(imax((int32_t)rbits - k, 0), 63);
        tiny_up = rnd >= (int64_t)((1ULL << rbits) - Fr);
    } else if (mode == RNE || mode == FLOOR_OVF) {
        tiny_up = a > (W)F.halfq_bits;
    } else if (mode == RNA) {
        tiny_up = a >= (W)F.halfq_bits;
    } else if (up_away || mode == ODD) {
        tiny_up = a > 0;
    } else {
        tiny_up = false;
    }
    r = a < (W)F.q_bits ? (tiny_up ? (W)F.q_bits : (W)0) : r;
    W v = r | ((b & sign_bit) & (r == 0 ? (W)F.zero_sign : sign_bit));
    const W inf_bits = (absmask >> m_in) << m_in;
    // (selects, not special[neg]: an index known only at run time would put F in local memory)
    v = r > (W)F.max_bits ? (neg ? (W)F.special[1] : (W)F.special[0]) : v;
    v = a == inf_bits ? (neg ? (W)F.special[3] : (W)F.special[2]) : v;
    v = a > inf_bits ? (neg ? (W)F.special[5] : (W)F.special[4]) : v;
    return v;
}

// convert.py _value_code: the code of a value the format holds, given as input-format bits
// ``v`` (from fast_round).
template <typename W>
FMT_HD W fast_value_code(W v, const FastParams& F) {
    const W one = 1;
    const int32_t m_in = F.m_in;
    const W absmask = (one << F.sign_pos) - 1;
    const FastFields<W> f = fast_fields(v, F);
    const W a = f.a, sig = f.sig;
    const int32_t E = f.E, neg = f.neg, e_eff = f.e_eff;
    const W normal = (a >> F.s) - ((W)F.dbias << F.mbits);
    const W sub = sig >> imin(imax(F.k0 + F.lq - e_eff, 0), (int32_t)(8 * sizeof(W)) - 1);   // sig < 2**53
    const W mag = E >= F.e_thr ? normal : sub;
    W code = F.signed_ ? mag | ((W)neg << F.mag_bits) : mag;
    const W inf_bits = (absmask >> m_in) << m_in;
    code = a == inf_bits ? (neg ? (W)F.inf_code[1] : (W)F.inf_code[0]) : code;
    code = a > inf_bits ? (neg ? (W)F.nan_code[1] : (W)F.nan_code[0]) : code;
    return code;
}

// convert.py _fast_out after _fast_round: one element, quantized (input bits) or encoded (code).
template <typename W>
FMT_HD W fast_element(W b, int64_t rnd, const FastParams& F, int64_t mode, int64_t rbits, bool encode) {
    W v = fast_round<W>(b, rnd, F, mode, rbits);
    return encode ? fast_value_code<W>(v, F) : v;
}

// Four consecutive elements, loaded and stored as one aligned vector.
template <typename T> struct alignas(4 * sizeof(T)) Quad { T v[4]; };

// Whether src and out may be read and written as Quads.
template <typename S, typename D>
FMT_HD bool fast_aligned(const S* src, const D* out) {
    return ((unsigned long long)src % sizeof(Quad<S>)) == 0 && ((unsigned long long)out % sizeof(Quad<D>)) == 0;
}

// One thread's share of out[i] = fast_element(src[i]) for i < n: quads first, last + step, ...
// (with ``vec``), then the elements not in a quad; ``first``/``step``: the thread's index and
// the number of threads (0 and 1 on the host). MODE: a mode fixed at compile time (RNE, STOCH)
// or -1 for the runtime ``mode``. Stochastic bits: fmtlib-rng-v1 of element base + i.
template <typename S, typename D, int MODE, bool ENCODE>
FMT_HD void fast_loop(const S* __restrict__ src, D* __restrict__ out, int64_t n, const FastParams& F, int64_t mode,
                      uint64_t key, int64_t base, int64_t rbits, int64_t first, int64_t step, bool vec) {
    typedef typename FastWord<S>::type W;
    const int64_t m = MODE >= 0 ? (int64_t)MODE : mode;
    int64_t done = 0;
    if (vec) {
        const int64_t nq = n / 4;
        const Quad<S>* qs = reinterpret_cast<const Quad<S>*>(src);
        Quad<D>* qd = reinterpret_cast<Quad<D>*>(out);
        for (int64_t j = first; j < nq; j += step) {
            const Quad<S> x = qs[j];
            Quad<D> y;
            for (int k = 0; k < 4; k++) {
                const int64_t rnd = m == STOCH ? rand_top(key, base + 4 * j + k, rbits) : 0;
                y.v[k] = (D)fast_element<W>((W)x.v[k], rnd, F, m, rbits, ENCODE);
            }
            qd[j] = y;
        }
        done = 4 * nq;
    }
    for (int64_t i = done + first; i < n; i += step) {
        const int64_t rnd = m == STOCH ? rand_top(key, base + i, rbits) : 0;
        out[i] = (D)fast_element<W>((W)src[i], rnd, F, m, rbits, ENCODE);
    }
}

// fast_loop by rounding family, as the CPU kernels split them (fast_nearest: nearest-even and
// floor-on-overflow, rounded as nearest-even; fast_stochastic; fast_directed: the others), with
// the mode fixed at compile time where the family has one.
template <typename S, typename D, bool ENCODE>
FMT_HD void fast_family(const S* src, D* out, int64_t n, const FastParams& F, int64_t mode, uint64_t key,
                        int64_t base, int64_t rbits, int64_t first, int64_t step, bool vec) {
    if (mode == RNE || mode == FLOOR_OVF)
        fast_loop<S, D, RNE, ENCODE>(src, out, n, F, mode, key, base, rbits, first, step, vec);
    else if (mode == STOCH)
        fast_loop<S, D, STOCH, ENCODE>(src, out, n, F, mode, key, base, rbits, first, step, vec);
    else
        fast_loop<S, D, -1, ENCODE>(src, out, n, F, mode, key, base, rbits, first, step, vec);
}

// The fast path over n elements: quantize (out holds input bits) or, with ``encode``, codes.
template <typename S, typename D>
FMT_HD void fast_range(const S* src, D* out, int64_t n, const FastParams& F, int64_t mode, uint64_t key,
                       int64_t base, int64_t rbits, bool encode, int64_t first, int64_t step, bool vec) {
    vec = vec && fast_aligned(src, out);
    if (encode)
        fast_family<S, D, true>(src, out, n, F, mode, key, base, rbits, first, step, vec);
    else
        fast_family<S, D, false>(src, out, n, F, mode, key, base, rbits, first, step, vec);
}

}  // namespace fmt
