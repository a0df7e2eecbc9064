// Code books (Quantile levels), alone or with a block scale: a port of
// fmtlib/kernels/cpu/codebook.py. y = x / S (S = 1 without a scale) becomes a level index by
// counting the thresholds it passes; thresholds are double-doubles hi + lo, compared through
// q = fl64(x / S) and, where q == hi, the exact sign of x - (hi + lo) * S from error-free
// transformations (TwoSum, Dekker's TwoProduct; built without FMA contraction). Stochastic
// rounding between neighbours a < y < b takes b iff r * (b - a) < (y - a) * 2**R.
// The bitsandbytes recipe (absmax) is plain float32 arithmetic instead.
#pragma once
#include "fmt_scalar.cuh"

namespace fmt {

// The kernels' tables in two arrays: doubles lv[n], hi, lo, dhi, dlo, uhi, ulo [n - 1 each];
// ties tie, dtie, utie [n - 1 each] (0 below, 1 above, 2 above for a positive sign).
struct Book {
    const double *lv, *hi, *lo, *dhi, *dlo, *uhi, *ulo;
    const signed char *tie, *dtie, *utie;
    int64_t n, nan_index;
};

FMT_HD Book make_book(const double* d, const signed char* t, int64_t n, int64_t nan_index) {
    int64_t m = n - 1;
    return Book{d, d + n, d + n + m, d + n + 2 * m, d + n + 3 * m, d + n + 4 * m, d + n + 5 * m,
                t, t + m, t + 2 * m, n, nan_index};
}

FMT_HD void two_sum(double a, double b, double& s, double& e) {
    s = a + b;
    double bb = s - a;
    e = (a - (s - bb)) + (b - bb);
}

FMT_HD void split(double a, double& hi, double& lo) {
    double c = 134217729.0 * a;   // 2**27 + 1, Dekker's splitter
    hi = c - (c - a);
    lo = a - hi;
}

FMT_HD void two_prod(double a, double b, double& p, double& e) {
    p = a * b;
    double ah, al, bh, bl;
    split(a, ah, al);
    split(b, bh, bl);
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

FMT_HD int64_t sign_d(double v) { return v > 0 ? 1 : (v < 0 ? -1 : 0); }

// Exact sign of t[0] + ... + t[n-1] (n <= 6; Shewchuk's Grow-Expansion).
FMT_HD int64_t sign_of_sum(const double* t, int n) {
    double e[6];
    int m = 0;
    for (int j = 0; j < n; j++) {
        double q = t[j];
        for (int i = 0; i < m; i++) {
            double s, h;
            two_sum(q, e[i], s, h);
            q = s;
            e[i] = h;
        }
        e[m++] = q;
    }
    for (int i = m - 1; i >= 0; i--)
        if (e[i] != 0) return sign_d(e[i]);
    return 0;
}

// Sign of x / S - (hi + lo), for S > 0, where fl64(x / S) == hi.
FMT_HD int64_t exact_cmp(double x, double S, double hi, double lo) {
    if (S == 1.0) return -sign_d(lo);
    double t[4], p1, p2, p3, p4;
    two_prod(hi, S, p1, p2);
    two_prod(lo, S, p3, p4);
    t[0] = x - p1;   // exact (Sterbenz)
    t[1] = -p2;
    t[2] = -p3;
    t[3] = -p4;
    return sign_of_sum(t, 4);
}

// How many of the thresholds (hi, lo, tie; m of them) y = x / S passes; q = fl64(x / S).
FMT_HD int64_t count(double x, double S, double q, const double* hi, const double* lo, const signed char* tie,
                     int64_t m, bool neg) {
    int64_t a = 0, top = m;
    while (a < top) {   // first k with hi[k] >= q
        int64_t mid = (a + top) >> 1;
        if (hi[mid] < q) a = mid + 1; else top = mid;
    }
    int64_t k = a;
    if (k < m && hi[k] == q) {
        int64_t s = exact_cmp(x, S, hi[k], lo[k]);
        if (s > 0 || (s == 0 && (tie[k] == 1 || (tie[k] == 2 && !neg)))) k += 1;
    }
    return k;
}

// i + 1 with probability (y - a) / (b - a), a = lv[i] < y < b = lv[i + 1], y = x / S.
FMT_HD int64_t stochastic_step(double x, double S, double q, const double* lv, int64_t i, int64_t r, double R) {
    double a = lv[i], b = lv[i + 1];
    double v = (q - a) / (b - a) * R;
    double qa = q < 0 ? -q : q, aa = a < 0 ? -a : a, ba = b < 0 ? -b : b;
    double margin = R * 2.8421709430404007e-14 * (qa + aa + ba) / (b - a) + 9.094947017729282e-13;   // 2**-45, 2**-40
    double rf = (double)r;
    if (rf < v - margin) return i + 1;
    if (rf > v + margin) return i;
    double wh, wl, p, e, t[6];   // exact: sign((x - a*S) * R - r*S * (b - a))
    two_sum(b, -a, wh, wl);
    double rs = rf * S;
    t[0] = x * R;
    t[1] = -(a * S) * R;
    two_prod(rs, wh, p, e);
    t[2] = -p;
    t[3] = -e;
    two_prod(rs, wl, p, e);
    t[4] = -p;
    t[5] = -e;
    return sign_of_sum(t, 6) > 0 ? i + 1 : i;
}

// Level index of y = x / S under ``mode`` (0/1 nearest, 2 toward zero, 3 down, 4 up,
// 6 stochastic with random integer r of R = 2**rbits); ``neg``: x's sign bit.
FMT_HD int64_t book_index(double x, bool neg, double S, int64_t mode, const Book& B, int64_t r, double R) {
    double q = x / S;
    if (q != q) return B.nan_index;
    int64_t m = B.n - 1;
    if (mode <= 1) return count(x, S, q, B.hi, B.lo, B.tie, m, neg);
    if (mode == 3 || (mode == 2 && !neg)) return count(x, S, q, B.dhi, B.dlo, B.dtie, m, neg);
    if (mode == 4 || mode == 2) return count(x, S, q, B.uhi, B.ulo, B.utie, m, neg);
    int64_t i = count(x, S, q, B.dhi, B.dlo, B.dtie, m, neg);   // stochastic: lv[i] <= y < lv[i + 1]
    if (i == B.n - 1) return i;
    if (q < B.lv[0] || (q == B.lv[0] && exact_cmp(x, S, B.lv[0], 0.0) <= 0)) return 0;
    if (q == B.lv[i] && exact_cmp(x, S, B.lv[i], 0.0) == 0) return i;
    return stochastic_step(x, S, q, B.lv, i, r, R);
}

// The value of float bits b (format Ps: float16/32/64) as a double (exact), and its sign bit.
FMT_HD double as_double(int64_t b, const Params& Ps, bool& neg) {
    if (Ps.p[0] == 11 && Ps.p[1] == 52) { neg = b < 0; return bits_f64((uint64_t)b); }
    if (Ps.p[0] == 8 && Ps.p[1] == 23) { neg = (b >> 31) & 1; return (double)bits_f32((uint32_t)b); }
    Value v = unpack(b, Ps, false);
    neg = v.sign != 0;
    return bits_f64((uint64_t)pack(v, fp64_params(), RNE, IEEE, 0, 1, false));
}

// Bits (format Pout) of double d, nearest-even.
FMT_HD int64_t from_double(double d, const Params& Pout) {
    return pack(unpack((int64_t)f64_bits(d), fp64_params(), false), Pout, RNE, IEEE, 0, 1, false);
}

// One element of a Quantile encode (float bits b, format Ps; r: its random integer of rbits
// bits): its level index (the caller maps it to a code or a value).
FMT_HD int64_t quantile_one(int64_t b, const Params& Ps, int64_t mode, const Book& B, int64_t r, int64_t rbits) {
    bool neg;
    double x = as_double(b, Ps, neg);
    return book_index(x, neg, 1.0, mode, B, r, (double)((int64_t)1 << rbits));
}

// The amax key of an element for a block with S = fl32(amax): the bits of |x| as a double,
// which order as magnitudes; KEY_INF and above (inf, NaN) make the block bad.
const uint64_t KEY_INF = 0x7FF0000000000000ULL;

FMT_HD uint64_t book_key(int64_t b, const Params& Ps) {
    bool neg;
    return f64_bits(as_double(b, Ps, neg)) & 0x7FFFFFFFFFFFFFFFULL;
}

// S = fl32(amax), at least 2**-149, of a block whose largest key is ``k``; -1 for a bad block.
FMT_HD double book_scale_of_key(uint64_t k) {
    if (k >= KEY_INF) return -1.0;
    double S = (double)(float)bits_f64(k);
    return S < 1.401298464324817e-45 ? 1.401298464324817e-45 : S;   // 2**-149
}

// Element i of a block with scale S (-1: inf or NaN in the block, the NaN index's code or NaN):
// the level index of x / S as a code code_of[k], or (fused) the bits (input format) of
// fl64(lv[k] * S) rounded once. Random bits as ``element_bits``.
template <typename T, typename C, typename RandT>
FMT_HD void book_scaled_at(const T* src, C* codes, T* out, int64_t i, double S, const Params& Ps, int64_t mode,
                           const Book& B, const uint16_t* code_of, uint64_t key, int64_t base, int64_t rbits,
                           bool fused, const RandT* rand) {
    if (S < 0) {
        if (fused) out[i] = (T)Ps.p[7]; else codes[i] = (C)code_of[B.nan_index];
        return;
    }
    bool neg;
    double x = as_double((int64_t)src[i], Ps, neg);
    int64_t r = element_bits(mode, rand, i, key, base, rbits);
    int64_t k = book_index(x, neg, S, mode, B, r, (double)((int64_t)1 << rbits));
    if (fused) out[i] = (T)from_double(B.lv[k] * S, Ps);
    else codes[i] = (C)code_of[k];
}

// Block t with S = fl32(amax): scales[t] = S's float32 bits (NaN for a block with inf or NaN),
// then each element.
template <typename T, typename C, typename RandT>
FMT_HD void book_scaled_block(const T* src, C* codes, uint32_t* scales, T* out, int64_t t, int64_t ncols,
                              int64_t block, const Params& Ps, int64_t mode, const Book& B, const uint16_t* code_of,
                              uint64_t key, int64_t base, int64_t rbits, bool fused, const RandT* rand) {
    int64_t start, end;
    block_span(t, ncols, block, start, end);
    auto key_of = [&](int64_t i) { return book_key((int64_t)src[i], Ps); };
    double S = book_scale_of_key(max_key<uint64_t>(start, end, 1, key_of));
    scales[t] = S < 0 ? 0x7FC00000u : f32_bits((float)S);
    for (int64_t i = start; i < end; i++)
        book_scaled_at(src, codes, out, i, S, Ps, mode, B, code_of, key, base, rbits, fused, rand);
}

// #{thr[k] < y} over m sorted float32 thresholds (NaN: m).
FMT_HD int64_t bnb_index(float y, const float* thr, int64_t m) {
    if (y != y) return m;
    int64_t a = 0, top = m;
    while (a < top) {
        int64_t mid = (a + top) >> 1;
        if (thr[mid] < y) a = mid + 1; else top = mid;
    }
    return a;
}

// Element i of a decode: value_of[codes[i]] (a double per code) times its block's scale
// (float32 bits; none: 1), rounded once into Pout; ``absmax``: bitsandbytes' float32 product
// fl32(level * absmax), then into Pout. A NaN scale gives Pout's NaN. Returns false for a code
// the table does not use (value_of NaN) or beyond it.
template <typename C>
FMT_HD bool book_decode_one(const C* codes, const uint32_t* scales, int64_t i, int64_t ncols, int64_t block,
                            const double* value_of, int64_t ncodes, bool absmax, const Params& Pout, int64_t& res) {
    int64_t c = (int64_t)codes[i];
    double v = c < ncodes ? value_of[c] : 0.0;
    if (c >= ncodes || v != v) { res = 0; return false; }
    if (!scales) { res = from_double(v, Pout); return true; }
    float S = bits_f32(scales[block_of(i, ncols, block)]);
    if (S != S) res = Pout.p[7];
    else if (absmax) res = pack(unpack((int64_t)f32_bits((float)v * S), fp32_params(), false), Pout, RNE, IEEE, 0, 1,
                                false);
    else res = from_double(v * (double)S, Pout);
    return true;
}

// The bitsandbytes recipe on float32 input. A block's absmax is the largest of its elements'
// keys (the bits of |x|; 0x7F800000 and above: inf or NaN, a bad block). AbsmaxBlock: the
// absmax stored (a short block clamps it to 1e-38: the torch backend divides by it) and the
// reciprocal a full block multiplies by; bad blocks have absmax NaN.
struct AbsmaxBlock { float amax, rcp; bool short_, bad; };

FMT_HD AbsmaxBlock absmax_of_key(uint32_t k, bool short_) {
    if (k >= 0x7F800000u) return AbsmaxBlock{bits_f32(0x7FC00000u), 0.0f, short_, true};
    const float tiny = 1e-38f;
    float amax = bits_f32(k);
    if (short_ && amax < tiny) amax = tiny;
    return AbsmaxBlock{amax, 1.0f / (amax > tiny ? amax : tiny), short_, false};
}

// Element i: y = clamp(fl32(x * rcp), -1, 1) (a short block: fl32(x / absmax)), index =
// #{thr < y}; code code_of[index], or (fused) the bits of fl32(level * absmax).
template <typename C>
FMT_HD void book_absmax_at(const uint32_t* src, C* codes, uint32_t* out, int64_t i, const AbsmaxBlock& a,
                           const float* vals32, const float* thr, int64_t m, const uint16_t* code_of,
                           int64_t nan_index, bool fused) {
    if (a.bad) {
        if (fused) out[i] = 0x7FC00000u; else codes[i] = (C)code_of[nan_index];
        return;
    }
    float x = bits_f32(src[i]);
    float y = a.short_ ? x / a.amax : x * a.rcp;
    y = y < -1.0f ? -1.0f : (y > 1.0f ? 1.0f : y);   // never NaN: x and absmax are finite
    int64_t k = bnb_index(y, thr, m);
    if (fused) out[i] = f32_bits(vals32[k] * a.amax);
    else codes[i] = (C)code_of[k];
}

// Block t: its absmax (float32 bits into scales[t]), then each element.
template <typename C>
FMT_HD void book_absmax_block(const uint32_t* src, C* codes, uint32_t* scales, uint32_t* out, int64_t t,
                              int64_t ncols, int64_t block, const float* vals32, const float* thr, int64_t m,
                              const uint16_t* code_of, int64_t nan_index, bool fused) {
    int64_t start, end;
    block_span(t, ncols, block, start, end);
    uint32_t k = max_key<uint32_t>(start, end, 1, [&](int64_t i) { return src[i] & 0x7FFFFFFFu; });
    AbsmaxBlock a = absmax_of_key(k, end - start < block);
    scales[t] = f32_bits(a.amax);
    for (int64_t i = start; i < end; i++)
        book_absmax_at(src, codes, out, i, a, vals32, thr, m, code_of, nan_index, fused);
}

}  // namespace fmt
