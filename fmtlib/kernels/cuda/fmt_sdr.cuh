// SDR (QRazor's significant data razoring): one group of integers at a time. A port of
// fmtlib/kernels/cpu/sdr.py. Per group the razoring point is the bit length of the OR of the
// magnitudes; the shift is f = max(0, point - keep); each magnitude keeps (m + add) >> f, at
// most 2**keep - 1 (floor on overflow). Modes: 0 nearest-even, 1 nearest-away, 2 toward zero.
#pragma once
#include "fmt_scalar.cuh"

namespace fmt {

FMT_HD int64_t sdr_kept(int64_t m, int64_t f, int64_t mode, int64_t kmax) {
    int64_t add = 0;
    if (f > 0 && mode == 1) add = (int64_t)1 << (f - 1);
    if (f > 0 && mode == 0) add = ((int64_t)1 << (f - 1)) - 1 + ((m >> f) & 1);
    int64_t k = (m + add) >> f;
    return k < kmax ? k : kmax;
}

// Group g of rows of n elements (grouped axis last, short last group): its flag, then codes
// (sign << keep | k) or, fused, the values +-(k << f). Returns (values outside [lo, hi]) and
// adds the fused results outside [olo, ohi] to *obad.
template <typename Q, typename C, typename O>
FMT_HD int64_t sdr_group(const Q* q, C* codes, uint8_t* flags, O* out, int64_t g, int64_t n, int64_t group,
                         int64_t keep, int64_t mode, int64_t lo, int64_t hi, int64_t olo, int64_t ohi, bool fused,
                         int64_t* obad) {
    int64_t ng = (n + group - 1) / group;
    int64_t r = g / ng;
    int64_t start = r * n + (g - r * ng) * group;
    int64_t end = start + group < r * n + n ? start + group : r * n + n;
    int64_t acc = 0, nbad = 0;
    for (int64_t i = start; i < end; i++) {
        int64_t v = (int64_t)q[i];
        if (v < lo || v > hi) nbad++;
        acc |= v < 0 ? -v : v;
    }
    int64_t p = bit_length(acc & 0x7FFFFFFFFFFFFFFFLL);
    int64_t f = p > keep ? p - keep : 0;
    flags[g] = (uint8_t)f;
    int64_t kmax = ((int64_t)1 << keep) - 1;
    for (int64_t i = start; i < end; i++) {
        int64_t v = (int64_t)q[i];
        int64_t k = sdr_kept(v < 0 ? -v : v, f, mode, kmax);
        if (fused) {
            int64_t w = v < 0 ? -(k << f) : (k << f);
            if (w < olo || w > ohi) (*obad)++;
            out[i] = (O)w;
        } else {
            codes[i] = (C)(k | ((k != 0 && v < 0 ? (int64_t)1 : 0) << keep));
        }
    }
    return nbad;
}

// Element i of a decode: +-(k << f) from its code and its group's flag.
template <typename C>
FMT_HD int64_t sdr_decode_one(const C* codes, const uint8_t* flags, int64_t i, int64_t n, int64_t group,
                              int64_t keep) {
    int64_t ng = (n + group - 1) / group;
    int64_t r = i / n;
    int64_t f = flags[r * ng + (i - r * n) / group];
    int64_t c = (int64_t)codes[i];
    int64_t k = (c & (((int64_t)1 << keep) - 1)) << f;
    return ((c >> keep) & 1) ? -k : k;
}

}  // namespace fmt
