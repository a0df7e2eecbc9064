"""Code-book kernels: :class:`~fmtlib.Quantile` levels, alone or with a block scale.

A value y = x / S (S = 1 without a scale) becomes the index of a level by counting the
thresholds it passes. Thresholds are exact rationals held as double-doubles ``hi + lo``
(``hi`` the nearest double); ``tie[k]`` says where y equal to threshold k goes: 0 below,
1 above, 2 above for a positive sign bit (signed zeros). The count compares the double
q = fl64(x / S) with ``hi``; rounding is monotonic, so q != hi decides, and q == hi falls
back to the exact sign of x - (hi + lo) * S from error-free transformations (TwoSum,
Dekker's TwoProduct): no float error reaches a decision.

Stochastic rounding between neighbours a < y < b takes b iff r * (b - a) < (y - a) * 2**R
for the element's R-bit random integer r (fmtlib-rng-v1), decided in double precision where
the margin is wide and exactly otherwise.

The bitsandbytes recipe (``scaled_absmax_*``) is plain float32 arithmetic instead:
y = clamp(fl32(x * fl32(1 / max(absmax, 1e-38))), -1, 1), index = #{t_k < y}.

Only :func:`convert.rand_top` comes from another module: fmtlib-rng-v1 is frozen (changing
it would change every stochastic result), so a stale Numba cache cannot arise from it.
"""
import numpy as np
from numba import njit

from ..config import SCALAR, SERIAL
from ..threads import parallel
from .borrow import borrowed
from .scalar import rand_top

_SPLIT = 134217729.0  # 2**27 + 1, Dekker's splitter
#: the exact paths: called, not inlined (they run rarely; inlining their unrolled error-free
#: sums into every caller made the code-book kernels compile for a minute). Scalars only,
#: so a call counts no references.
_CALLED = dict(cache=True, fastmath=False)
#: array indices in the kernels' loops: unsigned, so that no negative-index wraparound code
#: stops LLVM from vectorising (element indices are never negative)
U = np.uint64


@njit(**SCALAR)
def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@njit(**SCALAR)
def _split(a):
    c = _SPLIT * a
    hi = c - (c - a)
    return hi, a - hi


@njit(**SCALAR)
def _two_prod(a, b):
    """(p, e) with p + e == a * b exactly (no FMA; exact away from overflow and underflow)."""
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


@njit(**SCALAR)
def _sign(v):
    return np.int64(1) if v > 0 else (np.int64(-1) if v < 0 else np.int64(0))


@njit(**SCALAR)
def _grow(e0, e1, e2, e3, e4, q):
    """Add q to the expansion e0..e4 (Shewchuk's Grow-Expansion: each component in turn is
    TwoSummed with the running q, which carries on as the next component). Returns the six
    components; zero components beyond the expansion's length stay zero."""
    q, e0 = _two_sum(q, e0)
    q, e1 = _two_sum(q, e1)
    q, e2 = _two_sum(q, e2)
    q, e3 = _two_sum(q, e3)
    q, e4 = _two_sum(q, e4)
    return e0, e1, e2, e3, e4, q


@njit(**SCALAR)
def _top_sign(e0, e1, e2, e3, e4, e5):
    """Sign of the largest non-zero component of a non-overlapping expansion (its sum's sign)."""
    if e5 != 0:
        return _sign(e5)
    if e4 != 0:
        return _sign(e4)
    if e3 != 0:
        return _sign(e3)
    if e2 != 0:
        return _sign(e2)
    if e1 != 0:
        return _sign(e1)
    return _sign(e0)


@njit(**_CALLED)
def sign_of_sum4(t0, t1, t2, t3):
    """Exact sign of t0 + t1 + t2 + t3 (Shewchuk's Grow-Expansion: the components stay
    non-overlapping, so the largest non-zero one has the sum's sign). Scalars only, no array:
    the kernels' element loops allocate nothing (an ``np.empty`` there costs an allocation and
    reference counting of every array the inlined helpers see, per element)."""
    z = 0.0
    e0, e1, e2, e3, e4, e5 = _grow(z, z, z, z, z, t0)  # TwoSum with zeros is exact: (t0, 0, ...)
    e0, e1, e2, e3, e4, e5 = _grow(e5, z, z, z, z, t1)
    e0, e1, e2, e3, e4, e5 = _grow(e0, e5, z, z, z, t2)
    e0, e1, e2, e3, e4, e5 = _grow(e0, e1, e5, z, z, t3)
    return _top_sign(e0, e1, e2, e5, z, z)


@njit(**_CALLED)
def sign_of_sum6(t0, t1, t2, t3, t4, t5):
    """:func:`sign_of_sum4` of six doubles."""
    z = 0.0
    e0, e1, e2, e3, e4, e5 = _grow(z, z, z, z, z, t0)
    e0, e1, e2, e3, e4, e5 = _grow(e5, z, z, z, z, t1)
    e0, e1, e2, e3, e4, e5 = _grow(e0, e5, z, z, z, t2)
    e0, e1, e2, e3, e4, e5 = _grow(e0, e1, e5, z, z, t3)
    e0, e1, e2, e3, e4, e5 = _grow(e0, e1, e2, e5, z, t4)
    e0, e1, e2, e3, e4, e5 = _grow(e0, e1, e2, e3, e5, t5)
    return _top_sign(e0, e1, e2, e3, e4, e5)


@njit(**_CALLED)
def _exact_cmp(x, S, hi, lo):
    """Sign of x / S - (hi + lo), for S > 0, where fl64(x / S) == hi."""
    if S == 1.0:
        return -_sign(lo)
    p1, p2 = _two_prod(hi, S)
    p3, p4 = _two_prod(lo, S)
    return sign_of_sum4(x - p1, -p2, -p3, -p4)  # x - p1 exact: x is within a factor 2 of p1 (Sterbenz)


@njit(**SCALAR)
def _count(x, S, q, hi, lo, tie, neg):
    """How many thresholds y = x / S passes (q = fl64(x / S), not NaN)."""
    m = hi.size
    if m <= 16:  # small tables: a branch-free count
        k = 0
        for j in range(m):
            k += hi[j] < q
    else:
        lo_i = 0
        top = m
        while lo_i < top:  # first k with hi[k] >= q
            mid = (lo_i + top) >> 1
            if hi[mid] < q:
                lo_i = mid + 1
            else:
                top = mid
        k = lo_i
    if k < m and hi[k] == q:
        s = _exact_cmp(x, S, hi[k], lo[k])
        if s > 0 or (s == 0 and (tie[k] == 1 or (tie[k] == 2 and not neg))):
            k += 1
    return k


@njit(**SCALAR)
def _stochastic(x, S, q, lv, i, r, R):
    """i + 1 with probability (y - a) / (b - a), a = lv[i] < y < b = lv[i + 1], y = x / S."""
    a = lv[i]
    b = lv[i + 1]
    v = (q - a) / (b - a) * R
    margin = R * 2.0 ** -45 * (abs(q) + abs(a) + abs(b)) / (b - a) + 2.0 ** -40
    rf = np.float64(r)
    if rf < v - margin:
        return i + 1
    if rf > v + margin:
        return i
    # exact: sign((x - a*S) * R - r*S * (b - a))
    wh, wl = _two_sum(b, -a)
    rs = rf * S  # r < 2**29, S has 24 bits: exact
    p2, e2 = _two_prod(rs, wh)
    p4, e4 = _two_prod(rs, wl)
    s6 = sign_of_sum6(x * R, -(a * S) * R, -p2, -e2, -p4, -e4)  # a and S have 24 bits each: exact
    return i + 1 if s6 > 0 else i


@njit(**SCALAR)
def _index(x, S, mode, lv, hi, lo, tie, dhi, dlo, dtie, uhi, ulo, utie, nan_index, r, R):
    """Level index of y = x / S under ``mode`` (0/1 nearest via hi/lo/tie, 2 toward zero,
    3 down, 4 up, 6 stochastic). ``d*``: the thresholds of rounding down (levels 1..n-1),
    ``u*``: of rounding up (levels 0..n-2)."""
    q = x / S
    if q != q:
        return nan_index
    neg = np.int64(np.float64(x).view(np.int64)) < 0
    if mode <= 1:
        return _count(x, S, q, hi, lo, tie, neg)
    if mode == 3 or (mode == 2 and not neg):
        return _count(x, S, q, dhi, dlo, dtie, neg)
    if mode == 4 or mode == 2:
        return _count(x, S, q, uhi, ulo, utie, neg)
    # stochastic: i with lv[i] <= y < lv[i + 1]
    i = _count(x, S, q, dhi, dlo, dtie, neg)
    n = lv.size
    if i == n - 1:
        return i
    if q < lv[0] or (q == lv[0] and _exact_cmp(x, S, lv[0], 0.0) <= 0):
        return np.int64(0)  # y <= lv[0]
    if q == lv[i] and _exact_cmp(x, S, lv[i], 0.0) == 0:
        return i
    return _stochastic(x, S, q, lv, i, r, R)


@njit(**SCALAR)
def _borrow10(lv, hi, lo, tie, dhi, dlo, dtie, uhi, ulo, utie):
    """:func:`~.borrow.borrowed` views of the ten tables of :func:`_index`."""
    return (borrowed(lv), borrowed(hi), borrowed(lo), borrowed(tie), borrowed(dhi), borrowed(dlo), borrowed(dtie),
            borrowed(uhi), borrowed(ulo), borrowed(utie))


@parallel("elements")
@njit(**SERIAL)
def quantile_encode(t0, t1, src, codes, vals, out, code_of, mode, lv, hi, lo, tie, dhi, dlo, dtie, uhi, ulo, utie,
                    nan_index, key, base, rbits, rand, use_rand, fused):
    """Codes (``code_of[index]``) of float data ``src`` (float32 or float64); with ``fused``,
    the level values ``vals[index]`` into ``out`` instead."""
    # the tables as borrowed views: the inlined helpers then count no references per element
    lv, hi, lo, tie, dhi, dlo, dtie, uhi, ulo, utie = _borrow10(lv, hi, lo, tie, dhi, dlo, dtie, uhi, ulo, utie)
    R = np.float64(2.0) ** rbits
    for i in range(t0, t1):
        r = np.int64(0)
        if mode == 6:
            r = np.int64(rand[U(i)]) if use_rand else rand_top(key, base + i, rbits)
        k = _index(np.float64(src[U(i)]), 1.0, mode, lv, hi, lo, tie, dhi, dlo, dtie, uhi, ulo, utie, nan_index, r, R)
        if fused:
            out[U(i)] = vals[U(k)]
        else:
            codes[U(i)] = code_of[U(k)]


@parallel("elements")
@njit(**SERIAL)
def quantile_encode_lut(t0, t1, src, codes, vals, out, code_of, lut, mode, lv, hi, lo, tie, dhi, dlo, dtie, uhi,
                        ulo, utie, nan_index, fused):
    """:func:`quantile_encode` for float32 ``src`` in a deterministic mode, by a look-up on
    the top 16 bits (sign, exponent, 7 mantissa bits): ``lut[p]`` is the level index of every
    float32 with prefix p where they all share one (quantization is monotonic, so the two
    ends of the prefix's interval decide), else -1 and the element takes :func:`_index`."""
    # the tables as borrowed views: the inlined helpers then count no references per element
    lv, hi, lo, tie, dhi, dlo, dtie, uhi, ulo, utie = _borrow10(lv, hi, lo, tie, dhi, dlo, dtie, uhi, ulo, utie)
    for i in range(t0, t1):
        x = src[U(i)]
        k = np.int64(lut[U(np.int64(np.float32(x).view(np.uint32)) >> 16)])
        if k < 0:
            k = _index(np.float64(x), 1.0, mode, lv, hi, lo, tie, dhi, dlo, dtie, uhi, ulo, utie, nan_index,
                       np.int64(0), 1.0)
        if fused:
            out[U(i)] = vals[U(k)]
        else:
            codes[U(i)] = code_of[U(k)]


@njit(**SCALAR)
def _span(t, nb, ncols, block):
    r = t // nb
    start = r * ncols + (t - r * nb) * block
    return start, min(start + block, (r + 1) * ncols)


@njit(**SCALAR)
def _book_scale(src, start, end):
    """S = fl32(amax), at least 2**-149, of the block src[start:end]; -1 for a block holding
    inf or NaN."""
    amax = 0.0
    for i in range(start, end):
        a = abs(np.float64(src[U(i)]))
        if not a < np.inf:
            return -1.0
        if a > amax:
            amax = a
    return max(np.float64(np.float32(amax)), 2.0 ** -149)


@njit(**SCALAR)
def _below16(q, h16):
    """How many of the 16 sorted thresholds ``h16`` lie below q: a branch-free binary search
    (four steps, no data-dependent branch, so LLVM vectorises the loop around it)."""
    k = np.int64(h16[U(7)] < q) * 8
    k += np.int64(h16[U(k + 3)] < q) * 4
    k += np.int64(h16[U(k + 1)] < q) * 2
    return k + np.int64(h16[U(k)] < q)


@njit(**SCALAR)
def _book_nearest(src, codes, out, start, end, S, code_of, lvals, h16, nan_index, fused):
    """Nearest levels of src[start:end] / S for a table of at most 16 levels: ``h16`` holds the
    nearest thresholds' doubles (``hi``), padded with +inf to 16. q = fl64(x / S) on neither
    side of a threshold's double decides as :func:`_count` does (rounding is monotonic);
    returns True if some q equals one, and then the block needs the exact path."""
    on_threshold = False
    for i in range(start, end):
        q = np.float64(src[U(i)]) / S
        k = _below16(q, h16)
        on_threshold |= h16[U(k)] == q
        k = nan_index if q != q else k
        if fused:
            out[U(i)] = lvals[U(k)] * S
        else:
            codes[U(i)] = code_of[U(k)]
    return on_threshold


@njit(**SCALAR)
def _book_elements(src, codes, out, start, end, S, code_of, lvals, mode, lv, hi, lo, tie, dhi, dlo, dtie, uhi, ulo,
                   utie, nan_index, key, base, rbits, fused, rand, h16):
    """Elements src[start:end] of a block with scale S (-1: the block holds inf or NaN, every
    element is the NaN level or NaN). Stochastic rounding takes ``rand[i]``, or, where ``rand``
    is empty, fmtlib-rng-v1 keyed by ``base + i``. Nearest rounding with a 16-entry ``h16``
    (else empty) takes :func:`_book_nearest` first, and the exact loop only where it asks."""
    if S < 0:
        for i in range(start, end):
            if fused:
                out[U(i)] = np.nan
            else:
                codes[U(i)] = code_of[nan_index]
        return
    if mode <= 1 and h16.size == 16:
        if not _book_nearest(src, codes, out, start, end, S, code_of, lvals, h16, nan_index, fused):
            return
    R = np.float64(2.0) ** rbits
    for i in range(start, end):
        r = np.int64(0)
        if mode == 6:
            r = np.int64(rand[U(i)]) if rand.size else rand_top(key, base + i, rbits)
        k = _index(np.float64(src[U(i)]), S, mode, lv, hi, lo, tie, dhi, dlo, dtie, uhi, ulo, utie, nan_index, r, R)
        if fused:
            out[U(i)] = lvals[k] * S
        else:
            codes[U(i)] = code_of[k]


@parallel("blocks")
@njit(**SERIAL)
def scaled_quantile_encode(t0, t1, src, codes, scales, out, code_of, lvals, mode, lv, hi, lo, tie, dhi, dlo, dtie, uhi,
                           ulo, utie, nan_index, ncols, block, key, base, rbits, fused, rand, h16):
    """Blocks of float data ``src`` with one float32 scale each: S = fl32(amax), at least
    2**-149 (the table's largest magnitude is 1); elements are levels of x / S; ``scales``
    gets S (NaN for a block holding inf or NaN). With ``fused``, ``out`` gets
    fl64(level * S) (exact: 24-bit levels and scales)."""
    # borrowed views: the inlined helpers count no references per block or element
    src, codes, out, code_of, lvals, rand, h16 = (borrowed(src), borrowed(codes), borrowed(out), borrowed(code_of),
                                              borrowed(lvals), borrowed(rand), borrowed(h16))
    lv, hi, lo, tie, dhi, dlo, dtie, uhi, ulo, utie = _borrow10(lv, hi, lo, tie, dhi, dlo, dtie, uhi, ulo, utie)
    nb = (ncols + block - 1) // block
    for t in range(t0, t1):
        start, end = _span(t, nb, ncols, block)
        S = _book_scale(src, start, end)
        scales[U(t)] = S if S > 0 else np.nan
        _book_elements(src, codes, out, start, end, S, code_of, lvals, mode, lv, hi, lo, tie, dhi, dlo, dtie, uhi,
                       ulo, utie, nan_index, key, base, rbits, fused, rand, h16)


@parallel("blocks")
@njit(**SERIAL)
def scaled_quantile_decode(t0, t1, codes, scales, out, value_of, ncols, block):
    """level * S per element in the arithmetic of the tables' dtype: float64 ``value_of``
    gives the exact product (24-bit levels and scales), float32 ``value_of`` and ``scales``
    the bitsandbytes dequantization fl32(level * absmax). NaN scales give NaN. A task is a
    block: its scale is read once, and no element pays an index division."""
    nb = (ncols + block - 1) // block
    for t in range(t0, t1):
        start, end = _span(t, nb, ncols, block)
        S = scales[U(t)]
        for i in range(start, end):
            out[U(i)] = value_of[codes[U(i)]] * S


@njit(**SCALAR)
def _bnb_index(y, thr):
    """#{thr[k] < y}: torch.bucketize(y, thr) for sorted float32 thresholds (NaN: all)."""
    if y != y:
        return thr.size
    if thr.size <= 16:
        k = 0
        for j in range(thr.size):
            k += thr[j] < y
        return k
    lo_i = 0
    top = thr.size
    while lo_i < top:
        mid = (lo_i + top) >> 1
        if thr[mid] < y:
            lo_i = mid + 1
        else:
            top = mid
    return lo_i


@njit(**SCALAR)
def _absmax_of(src, start, end, short):
    """The absmax the block src[start:end] stores (float32): NaN where it holds inf or NaN;
    a ``short`` block's is at least 1e-38 (the torch backend divides by it)."""
    amax = np.float32(0.0)
    for i in range(start, end):
        a = abs(src[U(i)])
        if not a < np.inf:
            return np.uint32(0x7FC00000).view(np.float32)
        if a > amax:
            amax = a
    return max(amax, np.float32(1e-38)) if short else amax


@njit(**SCALAR)
def _absmax_elements(src, codes, out, start, end, amax, short, code_of, vals32, thr, lut, nan_index, fused):
    """Elements src[start:end] of a block with absmax ``amax`` (NaN: the block holds inf or NaN,
    every element is the NaN level or NaN)."""
    one = np.float32(1.0)
    if amax != amax:
        for i in range(start, end):
            if fused:
                out[U(i)] = np.float32(np.nan)
            else:
                codes[U(i)] = code_of[nan_index]
        return
    rcp = one / max(amax, np.float32(1e-38))
    for i in range(start, end):
        y = src[U(i)] / amax if short else src[U(i)] * rcp
        y = min(max(y, -one), one)
        k = np.int64(lut[np.int64(np.float32(y).view(np.uint32)) >> 16])
        if k < 0:
            k = _bnb_index(y, thr)
        if fused:
            out[U(i)] = vals32[k] * amax
        else:
            codes[U(i)] = code_of[k]


@parallel("blocks")
@njit(**SERIAL)
def scaled_absmax_encode(t0, t1, src, codes, scales, out, code_of, vals32, thr, lut, ncols, block, nan_index, fused):
    """bitsandbytes blockwise quantization of float32 ``src``: absmax per block (float32
    bits into ``scales``), y = clamp(fl32(x * fl32(1 / max(absmax, 1e-38))), -1, 1) (a short
    block: y = clamp(fl32(x / absmax'), -1, 1) with absmax' = max(absmax, 1e-38) stored),
    index = #{thr < y} (from ``lut`` on y's top 16 bits where it holds one index, as in
    :func:`quantile_encode_lut`). A block holding inf or NaN gets a NaN scale. With ``fused``, ``out``
    gets fl32(level * absmax)."""
    nb = (ncols + block - 1) // block
    for t in range(t0, t1):
        start, end = _span(t, nb, ncols, block)
        short = end - start < block  # torch backend: the tail block divides by the clamped absmax
        amax = _absmax_of(src, start, end, short)
        scales[U(t)] = np.float32(amax).view(np.uint32)
        _absmax_elements(src, codes, out, start, end, amax, short, code_of, vals32, thr, lut, nan_index, fused)


@njit(**SERIAL)
def binade_sums(bits):
    """Per biased exponent field E of float32 bits ``bits`` (uint32), the sum of the
    significands with their implicit bit (none for E = 0): exact in int64 for up to 2**39
    values. The values sum to sum(sums[E] * 2**(max(E, 1) - 150)) (double quantization's
    exact mean of the block scales)."""
    sums = np.zeros(256, np.int64)
    for i in range(bits.size):
        b = bits[i]
        e = (b >> np.uint32(23)) & np.uint32(0xFF)
        sums[e] += np.int64((b & np.uint32(0x7FFFFF)) | (np.uint32(0x800000) if e else np.uint32(0)))
    return sums


# --- per-tensor scales (Scaled(axis=None)): a reduction, then the elements in parallel ---------
# The one block is the whole tensor: fmtlib.codecs.blocked.amax_element reduces its magnitude
# bits in parallel chunks (inf or NaN bits where the tensor holds one, so the one-element block
# [amax] has the tensor's scale); each chunk of elements takes the scale from ``amax`` with the
# block kernels' own helper and runs their element loop; the chunk at 0 writes the scale. Element
# indices are the tensor's: stochastic rounding draws the same random bits.


@parallel("elements")
@njit(**SERIAL)
def scaled_quantile_encode_tensor(t0, t1, src, codes, scales, out, amax, code_of, lvals, mode, lv, hi, lo, tie, dhi,
                                  dlo, dtie, uhi, ulo, utie, nan_index, key, base, rbits, fused, rand, h16):
    """:func:`scaled_quantile_encode` of one block, the whole of ``src``, whose largest
    magnitude is ``amax[0]`` (an array of src's dtype)."""
    # borrowed views: the inlined helpers count no references per block or element
    src, codes, out, code_of, lvals, rand, h16 = (borrowed(src), borrowed(codes), borrowed(out), borrowed(code_of),
                                              borrowed(lvals), borrowed(rand), borrowed(h16))
    lv, hi, lo, tie, dhi, dlo, dtie, uhi, ulo, utie = _borrow10(lv, hi, lo, tie, dhi, dlo, dtie, uhi, ulo, utie)
    S = _book_scale(amax, 0, 1)
    if t0 == 0:
        scales[0] = S if S > 0 else np.nan
    _book_elements(src, codes, out, t0, t1, S, code_of, lvals, mode, lv, hi, lo, tie, dhi, dlo, dtie, uhi, ulo, utie,
                   nan_index, key, base, rbits, fused, rand, h16)


@parallel("elements")
@njit(**SERIAL)
def scaled_absmax_encode_tensor(t0, t1, src, codes, scales, out, amax, code_of, vals32, thr, lut, nan_index, fused):
    """:func:`scaled_absmax_encode` of one (full) block, the whole of float32 ``src``, whose
    largest magnitude is ``amax[0]`` (a float32 array)."""
    a = _absmax_of(amax, 0, 1, False)
    if t0 == 0:
        scales[0] = np.float32(a).view(np.uint32)
    _absmax_elements(src, codes, out, t0, t1, a, False, code_of, vals32, thr, lut, nan_index, fused)
