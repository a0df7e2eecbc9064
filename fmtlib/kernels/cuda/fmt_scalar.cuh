// fmtlib scalar conversions, written once for the host (gcc/nvcc) and the device (nvcc).
//
// A line-for-line port of fmtlib/kernels/cpu/convert.py (unpack, pack, round_shift and the
// rest): every format is driven by the same 12 integers as the Numba kernels
// (fmtlib/kernels/params.py), so one generic function serves every format. All arithmetic
// is on int64; the RNG (fmtlib-rng-v1, SplitMix64's finalizer) on uint64.
//
// value = (-1)**sign * sig * 2**exp; kinds NUMBER, ZERO, INF, NAN.
#pragma once
#if defined(__CUDACC_RTC__)   // NVRTC (CuPy) has no host headers
typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef short int16_t;
typedef unsigned short uint16_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long long int64_t;
typedef unsigned long long uint64_t;
#else
#include <stdint.h>
#endif

#if defined(__CUDACC__)
#define FMT_HD __host__ __device__ __forceinline__
#else
#define FMT_HD static inline
#endif

namespace fmt {

enum Kind { NUMBER = 0, ZERO = 1, INF = 2, NAN_ = 3 };
enum Mode { RNE = 0, RNA = 1, RTZ = 2, DOWN = 3, UP = 4, ODD = 5, STOCH = 6, FLOOR_OVF = 7 };
enum Overflow { SATURATE = 0, IEEE = 1, WRAP = 2 };

// The 12 format numbers of fmtlib.kernels.params.kernel_params, by value.
struct Params { int64_t p[12]; };

FMT_HD Params load_params(const long long* ps) {
    Params P;
    for (int k = 0; k < 12; k++) P.p[k] = ps[k];
    return P;
}

struct Value { int64_t kind, sign, sig, exp; };

// The float32 and float64 formats' 12 numbers, and their bits (no host headers under NVRTC).
FMT_HD Params fp32_params() {
    Params P = {{8, 23, 127, 1, 1, 0, 0x7F7FFFFF, 0x7FC00000, 0x7F800000, -126, 127, 0}};
    return P;
}

FMT_HD Params fp64_params() {
    Params P = {{11, 52, 1023, 1, 1, 0, 0x7FEFFFFFFFFFFFFFLL, 0x7FF8000000000000LL, 0x7FF0000000000000LL, -1022, 1023,
                 0}};
    return P;
}

FMT_HD uint32_t f32_bits(float v) {
#if defined(__CUDA_ARCH__)
    return __float_as_uint(v);
#else
    union { float f; uint32_t u; } c; c.f = v; return c.u;
#endif
}

FMT_HD float bits_f32(uint32_t b) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(b);
#else
    union { float f; uint32_t u; } c; c.u = b; return c.f;
#endif
}

FMT_HD uint64_t f64_bits(double v) {
#if defined(__CUDA_ARCH__)
    return (uint64_t)__double_as_longlong(v);
#else
    union { double f; uint64_t u; } c; c.f = v; return c.u;
#endif
}

FMT_HD double bits_f64(uint64_t b) {
#if defined(__CUDA_ARCH__)
    return __longlong_as_double((long long)b);
#else
    union { double f; uint64_t u; } c; c.u = b; return c.f;
#endif
}


FMT_HD uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// Top rbits (1..62) bits of fmtlib-rng-v1 for element ``index``.
FMT_HD int64_t rand_top(uint64_t key, int64_t index, int64_t rbits) {
    uint64_t z = mix64(key + ((uint64_t)index + 1ULL) * 0x9E3779B97F4A7C15ULL);
    return (int64_t)(z >> (64 - rbits));
}

// The rbits random bits element ``index`` rounds with: fmtlib-rng-v1's in stochastic mode, 0
// in the others.
FMT_HD int64_t stoch_bits(int64_t mode, uint64_t key, int64_t index, int64_t rbits) {
    return mode == STOCH ? rand_top(key, index, rbits) : 0;
}

// stoch_bits of element base + i, or the caller's rand[i] when ``rand`` is given.
template <typename R>
FMT_HD int64_t element_bits(int64_t mode, const R* rand, int64_t i, uint64_t key, int64_t base, int64_t rbits) {
    if (rand) return mode == STOCH ? (int64_t)rand[i] : 0;
    return stoch_bits(mode, key, base + i, rbits);
}

FMT_HD int64_t bit_length(int64_t v) {   // of v's bits as unsigned: 0 for 0, 64 for v < 0
#if defined(__CUDA_ARCH__)
    return 64 - __clzll((long long)v);
#else
    return v ? 64 - __builtin_clzll((unsigned long long)v) : 0;
#endif
}

FMT_HD Value unpack_int(int64_t code, const Params& P) {
    int64_t bits = P.p[0];
    int64_t top = (int64_t)1 << (bits - 1);
    int64_t v;
    if (!P.p[2]) v = code;
    else if (P.p[1]) v = (code & top) ? -(code & (top - 1)) : code;    // sign-magnitude
    else v = (code & top) ? code - (top << 1) : code;
    if (v == 0) return Value{ZERO, (code == top && P.p[1]) ? 1 : 0, 0, 0};   // sign-magnitude 100..0 is -0
    return Value{NUMBER, v < 0 ? 1 : 0, v < 0 ? -v : v, 0};
}

FMT_HD int64_t int_code(int64_t v, const Params& P) {
    if (P.p[1] && v < 0) return ((int64_t)1 << (P.p[0] - 1)) | -v;   // sign-magnitude
    return v & (((int64_t)1 << P.p[0]) - 1);
}

// sig / 2**s (sig < 2**53) rounded to an integer by ``mode``; stochastic: with
// F = floor(frac * 2**rbits), round up where F + rnd >= 2**rbits.
FMT_HD int64_t round_shift(int64_t sig, int64_t s, int64_t mode, int64_t sign, int64_t rnd, int64_t rbits) {
    if (s <= 0) return sig << (-s);
    int64_t n, rem;
    bool above, tie;
    if (s > 62) { n = 0; rem = 0; above = false; tie = false; }
    else {
        n = sig >> s;
        rem = sig & (((int64_t)1 << s) - 1);
        if (rem == 0) return n;
        int64_t half = (int64_t)1 << (s - 1);
        above = rem > half;
        tie = rem == half;
    }
    if (mode == RNE || mode == FLOOR_OVF) return (above || (tie && (n & 1) == 1)) ? n + 1 : n;
    if (mode == RNA) return (above || tie) ? n + 1 : n;
    if (mode == UP) return n + 1 - sign;
    if (mode == DOWN) return n + sign;
    if (mode == ODD) return n | 1;
    if (mode == STOCH) {
        int64_t F;
        if (s <= 62) F = rbits >= s ? rem << (rbits - s) : rem >> (s - rbits);
        else { int64_t d = s - rbits; F = d < 63 ? sig >> d : 0; }
        return (F != 0 && rnd >= ((int64_t)1 << rbits) - F) ? n + 1 : n;
    }
    return n;   // toward zero
}

FMT_HD int64_t pack_int(Value x, const Params& P, int64_t mode, int64_t overflow, int64_t rnd, int64_t rbits) {
    int64_t bits = P.p[0], lo = P.p[3], hi = P.p[4];
    if (x.kind == NAN_ || x.kind == ZERO) return 0;
    if (x.kind == INF) return int_code(x.sign ? lo : hi, P);
    int64_t n;
    if (x.exp >= 0) {
        if (x.exp + bit_length(x.sig) > 62) {   // far out of range
            if (overflow == WRAP) {
                int64_t m = x.exp >= bits ? 0 : (x.sig & (((int64_t)1 << (bits - x.exp)) - 1)) << x.exp;
                return (x.sign ? -m : m) & (((int64_t)1 << bits) - 1);
            }
            return int_code(x.sign ? lo : hi, P);
        }
        n = x.sig << x.exp;
    } else {
        n = round_shift(x.sig, -x.exp, mode, x.sign, rnd, rbits);
    }
    int64_t v = x.sign ? -n : n;
    if (mode == FLOOR_OVF && (v > hi || v < lo) && x.exp < 0)
        v = x.sign ? -(x.sig >> -x.exp) : (x.sig >> -x.exp);
    if (lo <= v && v <= hi) return int_code(v, P);
    if (overflow == WRAP) return v & (((int64_t)1 << bits) - 1);
    return int_code(v > hi ? hi : lo, P);
}

// Split a code of format P into (kind, sign, sig, exp).
FMT_HD Value unpack(int64_t code, const Params& P, bool daz) {
    if (P.p[11] == 1) return unpack_int(code, P);
    int64_t ebits = P.p[0], mbits = P.p[1];
    int64_t magbits = ebits + mbits;
    int64_t magmask = ((((int64_t)1 << (magbits - 1)) - 1) << 1) | 1;
    int64_t mag = code & magmask;
    int64_t sign = P.p[3] ? (code >> magbits) & 1 : 0;
    int64_t E = mag >> mbits;
    int64_t M = mag & (((int64_t)1 << mbits) - 1);
    int64_t spec = P.p[5];
    if (spec == 0 && E == ((int64_t)1 << ebits) - 1) return Value{M == 0 ? INF : NAN_, sign, 0, 0};
    if (spec == 1 && mag == magmask) return Value{NAN_, sign, 0, 0};
    if (spec == 2 && sign == 1 && mag == 0) return Value{NAN_, sign, 0, 0};
    if (P.p[4] && E == 0) {
        if (M == 0 || daz) return Value{ZERO, sign, 0, 0};
        return Value{NUMBER, sign, M, 1 - P.p[2] - mbits};
    }
    return Value{NUMBER, sign, M | ((int64_t)1 << mbits), E - P.p[2] - mbits};
}

// A NaN's code: the format's NaN with the sign kept (fnuz: its one NaN); formats without NaN
// follow ml_dtypes: the zero of the opposite sign.
FMT_HD int64_t nan_result(int64_t sign, const Params& P) {
    if (P.p[7] >= 0) {
        if (P.p[5] == 2 || !P.p[3]) return P.p[7];
        return P.p[7] | (sign << (P.p[0] + P.p[1]));
    }
    if (!P.p[3]) return 0;
    return (1 - sign) << (P.p[0] + P.p[1]);
}

FMT_HD bool toward_zero(int64_t mode, int64_t sign) {
    return mode == RTZ || mode == ODD || mode == FLOOR_OVF || (mode == DOWN && sign == 0) || (mode == UP && sign == 1);
}

FMT_HD int64_t overflow_result(int64_t sign, const Params& P, int64_t mode, int64_t overflow) {
    int64_t smask = sign << (P.p[0] + P.p[1]);
    if (overflow == SATURATE || toward_zero(mode, sign)) return P.p[6] | smask;
    if (P.p[8] >= 0) return P.p[8] | smask;
    if (P.p[7] >= 0) return nan_result(sign, P);
    return P.p[6] | smask;
}

FMT_HD int64_t negative_unsigned(const Params& P, int64_t overflow) {
    if (overflow == IEEE && P.p[7] >= 0) return P.p[7];
    return 0;
}

// Round (kind, sign, sig * 2**exp) to a code of format P; ``rnd`` holds rbits random bits.
FMT_HD int64_t pack(Value x, const Params& P, int64_t mode, int64_t overflow, int64_t rnd, int64_t rbits, bool ftz) {
    if (P.p[11] == 1) return pack_int(x, P, mode, overflow, rnd, rbits);
    int64_t mbits = P.p[1];
    int64_t signed_ = P.p[3];
    int64_t smask = signed_ ? x.sign << (P.p[0] + mbits) : 0;
    if (x.kind == NAN_) return nan_result(x.sign, P);
    if (x.kind == INF) {
        if (x.sign && !signed_) return negative_unsigned(P, overflow);
        if (overflow == IEEE) {
            if (P.p[8] >= 0) return P.p[8] | smask;
            if (P.p[7] >= 0) return nan_result(x.sign, P);
        }
        return P.p[6] | smask;
    }
    if (x.kind == ZERO) {
        if (!P.p[4]) {   // no zero in the format
            if (overflow == IEEE && P.p[7] >= 0) return P.p[7];
            return 0;
        }
        if (P.p[5] == 2) return 0;
        return smask;
    }
    if (x.sign && !signed_) return negative_unsigned(P, overflow);
    int64_t emin = P.p[9];
    int64_t L = x.exp + bit_length(x.sig) - 1;   // floor(log2(value))
    if (L > P.p[10] + 1) return overflow_result(x.sign, P, mode, overflow);
    if (L < emin && !P.p[4]) return smask;    // no zero: clamp to the smallest magnitude
    int64_t eff = L > emin ? L : emin;
    int64_t s = eff - mbits - x.exp;
    int64_t n = round_shift(x.sig, s, mode, x.sign, rnd, rbits);
    int64_t c = ((eff - emin) << mbits) + n;
    if (!P.p[4]) c -= (int64_t)1 << mbits;
    if (ftz && P.p[4] && c < ((int64_t)1 << mbits)) c = 0;
    if (c > P.p[6]) return overflow_result(x.sign, P, mode, overflow);
    if (c == 0 && P.p[5] == 2) return 0;
    return c | smask;
}

// One element of fmtlib's convert kernel: the code of ``src`` (format Ps) in format Pd; ``rnd``
// holds the element's rbits random bits (stochastic rounding).
FMT_HD int64_t convert_rnd(int64_t src, const Params& Ps, const Params& Pd, int64_t mode, int64_t overflow,
                           int64_t rnd, int64_t rbits, bool daz, bool ftz) {
    return pack(unpack(src, Ps, daz), Pd, mode, overflow, rnd, rbits, ftz);
}

// One element of fmtlib's fused quantize: into format Pf, then back to Ps (nearest-even).
FMT_HD int64_t roundtrip_rnd(int64_t src, const Params& Ps, const Params& Pf, int64_t mode, int64_t overflow,
                             int64_t rnd, int64_t rbits, bool daz, bool ftz) {
    int64_t code = convert_rnd(src, Ps, Pf, mode, overflow, rnd, rbits, daz, ftz);
    return pack(unpack(code, Pf, false), Ps, RNE, IEEE, 0, 1, false);
}

// Order-preserving magnitude keys: a block's largest key is its amax, and a max combines keys
// in any order, so one thread or a warp's lanes may reduce them. value_key: 0 for zero,
// KEY_BAD (the largest) for inf or NaN, else (floor(log2 |x|) + 2048) << 52 | the
// significand's 52 bits below its leading one (any format up to float64).
const uint64_t KEY_BAD = ~0ULL;

FMT_HD uint64_t value_key(int64_t b, const Params& Ps) {
    Value v = unpack(b, Ps, false);
    if (v.kind == NAN_ || v.kind == INF) return KEY_BAD;
    if (v.kind != NUMBER) return 0;
    int64_t bl = bit_length(v.sig);
    uint64_t norm = (uint64_t)v.sig << (53 - bl);   // 53 bits, top bit set
    return ((uint64_t)(v.exp + bl - 1 + 2048) << 52) | (norm & ((1ULL << 52) - 1));
}

// The magnitude sig * 2**exp (sig of 53 bits) of a key other than 0 and KEY_BAD.
FMT_HD void key_value(uint64_t key, int64_t& sig, int64_t& exp) {
    sig = (int64_t)((key & ((1ULL << 52) - 1)) | (1ULL << 52));
    exp = (int64_t)(key >> 52) - 2048 - 52;
}

// The largest key(i) for i = first, first + step, ... below end (0 if none): one thread's share
// of a block's amax keys (step 1: the whole block; in a lane group, a lane's stride).
template <typename KeyT, typename KeyF>
FMT_HD KeyT max_key(int64_t first, int64_t end, int64_t step, KeyF key) {
    KeyT k = 0;
    for (int64_t i = first; i < end; i += step) {
        KeyT ki = key(i);
        k = ki > k ? ki : k;
    }
    return k;
}

// The span [start, end) of block t of rows of ncols elements, ``block`` to a block (the last
// block of a row may be shorter).
FMT_HD void block_span(int64_t t, int64_t ncols, int64_t block, int64_t& start, int64_t& end) {
    int64_t nb = (ncols + block - 1) / block;
    // a 32-bit division where both fit (a 64-bit one is a long instruction sequence on a GPU)
    int64_t r = ((t | nb) >> 31) == 0 ? (int64_t)((uint32_t)t / (uint32_t)nb) : t / nb;
    start = r * ncols + (t - r * nb) * block;
    end = start + block < r * ncols + ncols ? start + block : r * ncols + ncols;
}

// The block (index into the row-major scales) that element i of rows of ncols elements is in.
FMT_HD int64_t block_of(int64_t i, int64_t ncols, int64_t block) {
    int64_t r = i / ncols;
    return r * ((ncols + block - 1) / block) + (i - r * ncols) / block;
}

}  // namespace fmt
