"""Numba kernels of :mod:`fmtlib.ops`: matrix products with a declared accumulation model.

Every product of two element values is exact in float64 (each value has at most 26
significant bits). A *unit* is a run of K that shares one scale pair (a scale block; one
element for unscaled operands); its *term* is ``T = (sum of the unit's products) * sa * sb``,
exact. The models (see :mod:`fmtlib.ops.accumulate`) round sums of terms with ``rnd``, the
accumulator format's rounding. Two tools keep every rounding exact:

- ``add_round(a, b)``: TwoSum gives ``a + b`` as ``s + err`` exactly; ``s`` nudged to the odd
  neighbour when ``err != 0`` is ``a + b`` rounded to odd at 53 bits, and rounding that to
  at most 51 bits is the same as rounding ``a + b`` directly (Boldo and Melquiond, "When double
  rounding is odd", 2005), in every deterministic mode.
- a long accumulator (``limbs_*``): signed 32-bit digits in int64 words, base ``2**base``,
  sums any number of float64 values exactly (Kulisch); ``limbs_extract`` gives the sum
  rounded to odd at 53 bits.

``gemm_terms`` is the fast kernel: every term is one float64 (the caller proves it: block sums
fit 53 bits, scales are short); chunk sums that float64 cannot hold exactly fall back to the
long accumulator. ``gemm_split`` is the general kernel: each product times a scale pair held
as a double-double (NVFP4 global scales folded into the blocks) goes into the long
accumulator as up to four exact float64 parts.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..config import CALLED, SCALAR, SERIAL
from ..threads import parallel

MODEL_EXACT = 0
MODEL_FLOAT = 1
INNER_EXACT = 0
INNER_SEQUENTIAL = 1
INNER_PAIRWISE = 2

# Rounding ids as fmtlib.rounding.Rounding numbers them
_NE, _NA, _TZ, _DN, _UP, _ODD, _FOO = 0, 1, 2, 3, 4, 5, 7

_MASK32 = np.int64(0xFFFFFFFF)
_TILE_I = 8
_TILE_J = 64
_RENORM_EVERY = 1 << 24  # adds between carry propagations (each add moves < 2**33 per digit)


def _tiles(A, B, K, rows):
    """(tasks, work) of a product of A (M, K) and B (N, K) done in tasks of ``rows`` rows of A
    (the kernels below are serial over a task range; fmtlib.kernels.threads runs the ranges)."""
    M, N = A.shape[0], B.shape[0]
    return -(-M // rows), M * N * max(int(K), 1)


# --- rounding to the accumulator format -----------------------------------------------------------

@njit(**SCALAR)
def rnd(x, p, emin, maxv, mode):
    """``x`` (float64, at most 53 bits: exact or rounded to odd) rounded to ``p`` significant
    bits with exponents down to ``emin`` (gradual underflow) and largest finite ``maxv``.
    Non-finite ``x`` passes through."""
    if x == 0.0 or not math.isfinite(x):
        return x
    if p == 24 and emin == -126 and mode == _NE:   # float32: the hardware conversion is this rounding
        return float(np.float32(x))
    return rnd_any(x, p, emin, maxv, mode)


@njit(**CALLED)
def rnd_any(x, p, emin, maxv, mode):
    """:func:`rnd` for any precision and mode (finite nonzero ``x``)."""
    ax = abs(x)
    neg = x < 0.0
    m, e = math.frexp(ax)          # ax = m * 2**e, 0.5 <= m < 1
    e = max(e - 1, emin)
    q = math.ldexp(1.0, e - (p - 1))
    y = ax / q                     # exact: q is a power of two
    n = math.floor(y)
    f = y - n
    up = False
    if f != 0.0:
        if mode == _NE or mode == _FOO:
            up = f > 0.5 or (f == 0.5 and (n % 2.0) == 1.0)
        elif mode == _NA:
            up = f >= 0.5
        elif mode == _TZ:
            up = False
        elif mode == _DN:
            up = neg
        elif mode == _UP:
            up = not neg
        else:  # round to odd
            up = (n % 2.0) == 0.0
    r = (n + 1.0) * q if up else n * q
    if r > maxv:
        if mode == _FOO and n * q <= maxv:
            r = n * q
        elif mode == _NE or mode == _NA or (mode == _DN and neg) or (mode == _UP and not neg):
            r = math.inf
        else:
            r = maxv
    return -r if neg else r


@njit(**SCALAR)
def two_sum(a, b):
    """(s, err): s = fl(a + b) and a + b = s + err exactly (Knuth)."""
    s = a + b
    bb = s - a
    err = (a - (s - bb)) + (b - bb)
    return s, err


@njit(**SCALAR)
def odd53(s, err):
    """s + err (s = fl(s + err)) rounded to odd at 53 bits."""
    if err == 0.0:
        return s
    m, e = math.frexp(s)
    if (np.int64(m * 9007199254740992.0) & 1) == 1:   # already odd
        return s
    return np.nextafter(s, math.inf if err > 0.0 else -math.inf)


@njit(**SCALAR)
def add_round(a, b, p, emin, maxv, mode):
    """rnd(a + b), one rounding of the exact sum (IEEE arithmetic for inf and NaN)."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return a + b
    s, err = two_sum(a, b)
    return rnd(odd53(s, err), p, emin, maxv, mode)


@njit(**CALLED)
def two_prod(a, b):
    """(h, l): h = fl(a * b), a * b = h + l exactly (Dekker, no FMA)."""
    h = a * b
    c = 134217729.0  # 2**27 + 1
    t = c * a
    ah = t - (t - a)
    al = a - ah
    t = c * b
    bh = t - (t - b)
    bl = b - bh
    l = ((ah * bh - h) + ah * bl + al * bh) + al * bl
    return h, l


# --- the long accumulator ---------------------------------------------------------------------------

@njit(**CALLED)
def limbs_add(L, x, base):
    """L += x exactly. ``x`` finite, a multiple of 2**base, below 2**(base + 32 * (L.size - 2))."""
    if x == 0.0:
        return
    m, e = math.frexp(abs(x))
    M = np.int64(m * 9007199254740992.0)   # 53-bit integer significand: |x| = M * 2**(e - 53)
    off = e - 53 - base
    if off < 0:       # the bits below 2**base are zero: x is a multiple of 2**base
        M >>= -off
        off = 0
    d = off >> 5
    r = off & 31
    t0 = (M & _MASK32) << r
    t1 = (M >> 32) << r
    if x > 0.0:
        L[d] += t0 & _MASK32
        L[d + 1] += (t0 >> 32) + (t1 & _MASK32)
        L[d + 2] += t1 >> 32
    else:
        L[d] -= t0 & _MASK32
        L[d + 1] -= (t0 >> 32) + (t1 & _MASK32)
        L[d + 2] -= t1 >> 32


@njit(**CALLED)
def limbs_carry(L):
    """Propagate carries: every digit but the top in [0, 2**32)."""
    n = L.size
    for i in range(n - 1):
        c = L[i] >> 32
        L[i] -= c << 32
        L[i + 1] += c


@njit(**CALLED)
def limbs_extract(L, base):
    """The sum held in L rounded to odd at 53 bits, as a float64 (L is left normalized)."""
    n = L.size
    limbs_carry(L)
    neg = L[n - 1] < 0
    if neg:
        for i in range(n):
            L[i] = -L[i]
        limbs_carry(L)
    h = n - 1
    while h >= 0 and L[h] == 0:
        h -= 1
    if h < 0:
        return 0.0
    top = L[h]
    bl = 0
    v = top
    while v != 0:
        v >>= 1
        bl += 1
    d1 = L[h - 1] if h >= 1 else np.int64(0)
    d2 = L[h - 2] if h >= 2 else np.int64(0)
    sticky = False
    for i in range(h - 2):
        if L[i] != 0:
            sticky = True
            break
    # the top 53 bits from digits h (bl bits), h-1 and h-2 (bl <= 32 keeps every shift < 64)
    need = 53 - bl            # bits still wanted below the top digit, 21..52
    m = top << need
    if need <= 32:
        m |= d1 >> (32 - need)
        if (d1 & ((np.int64(1) << (32 - need)) - 1)) != 0 or d2 != 0:
            sticky = True
    else:
        m |= d1 << (need - 32)
        m |= d2 >> (64 - need)
        if (d2 & ((np.int64(1) << (64 - need)) - 1)) != 0:
            sticky = True
    if sticky:
        m |= 1
    # the top bit of digit h sits at 2**(base + 32h + bl - 1); m's last bit 52 places below
    val = math.ldexp(float(m), base + 32 * h + bl - 53)
    if neg:
        for i in range(n):
            L[i] = -L[i]
        limbs_carry(L)
    return -val if neg else val


@njit(**CALLED)
def limbs_clear(L):
    for i in range(L.size):
        L[i] = 0


# --- one unit ---------------------------------------------------------------------------------------

@njit(**SCALAR)
def unit_term(Arow, Brow, k0, k1, s, lsb):
    """The unit's exact sum of products times s (one float64: the caller proves it exact).
    Integer rows sum in int64 and are scaled by 2**lsb."""
    acc = Arow[k0] * Brow[k0]
    for k in range(k0 + 1, k1):
        acc += Arow[k] * Brow[k]
    return float(acc) * lsb * s + 0.0   # + 0.0: a zero term is +0 (so is an exact sum of zero)


@njit(**SCALAR)
def scale_of(S, r, k0, unitS):
    """Row r's scale for the unit starting at K index k0 (1 for an unscaled operand)."""
    if S.shape[1] == 0:
        return 1.0
    return S[r, k0 // unitS]


@njit(**CALLED)
def pairwise_sum(buf, n, p, emin, maxv, mode):
    """Adjacent pairs added level by level, each add rounded; an odd one out moves up."""
    while n > 1:
        h = n // 2
        for t in range(h):
            buf[t] = add_round(buf[2 * t], buf[2 * t + 1], p, emin, maxv, mode)
        if n % 2 == 1:
            buf[h] = buf[n - 1]
            h += 1
        n = h
    return buf[0]


@njit(**CALLED)
def _one_fast(A, B, SA, SB, i, j, K, unit, unitA, unitB, lsb, inner, chunk_units, p, emin, maxv, mode, base, L,
              buf):
    nunits = (K + unit - 1) // unit
    acc = 0.0
    for c0 in range(0, nunits, chunk_units):
        c1 = min(nunits, c0 + chunk_units)
        for u in range(c0, c1):
            k0 = u * unit
            buf[u - c0] = unit_term(A[i], B[j], k0, min(K, k0 + unit),
                                    scale_of(SA, i, k0, unitA) * scale_of(SB, j, k0, unitB), lsb)
        acc = chunk_step(acc, buf, c1 - c0, inner, p, emin, maxv, mode, base, L)
    return acc


@njit(**CALLED)
def chunk_step(acc, buf, n, inner, p, emin, maxv, mode, base, L):
    """The accumulator after one chunk of n exact terms buf[:n] (pairwise overwrites buf)."""
    if n == 1:
        return add_round(acc, buf[0], p, emin, maxv, mode)
    if inner == INNER_EXACT:
        s = 0.0
        for t in range(n):
            if not math.isfinite(buf[t]):
                s = math.nan
                break
            s, err = two_sum(s, buf[t])
            if err != 0.0:
                s = math.nan
                break
        if not math.isnan(s):    # the chunk's sum is exact in float64
            return add_round(acc, s, p, emin, maxv, mode)
        finite = math.isfinite(acc)
        for t in range(n):
            finite = finite and math.isfinite(buf[t])
        if not finite:
            for t in range(n):
                acc = acc + buf[t]
            return acc
        limbs_clear(L)
        limbs_add(L, acc, base)
        for t in range(n):
            limbs_add(L, buf[t], base)
        return rnd(limbs_extract(L, base), p, emin, maxv, mode)
    if inner == INNER_SEQUENTIAL:
        c = 0.0
        for t in range(n):
            c = add_round(c, buf[t], p, emin, maxv, mode)
        return add_round(acc, c, p, emin, maxv, mode)
    for t in range(n):
        buf[t] = rnd(buf[t], p, emin, maxv, mode)
    return add_round(acc, pairwise_sum(buf, n, p, emin, maxv, mode), p, emin, maxv, mode)


@parallel(lambda a: (a[0].shape[0], a[1].size))
@njit(**SERIAL)
def accumulate_partials(t0, t1, acc, P, SA, SB, u0, lsb, inner, p, emin, maxv, mode, base, ndig):
    """One chunk of the float models over a tile: acc (R, N) takes the chunk whose units
    u0, u0+1, ... have exact block sums P (n, R, N) (integer-valued, times ``lsb``); SA (R, nb)
    and SB (N, nb) hold the block scales."""
    n = P.shape[0]
    for i in range(t0, t1):
        L = np.zeros(ndig, dtype=np.int64)
        buf = np.empty(n, dtype=np.float64)
        for j in range(acc.shape[1]):
            for t in range(n):
                buf[t] = float(P[t, i, j]) * lsb * (SA[i, u0 + t] * SB[j, u0 + t]) + 0.0
            if n == 1:
                acc[i, j] = add_round(acc[i, j], buf[0], p, emin, maxv, mode)
            else:
                acc[i, j] = chunk_step(acc[i, j], buf, n, inner, p, emin, maxv, mode, base, L)


@parallel(lambda a: _tiles(a[0], a[1], a[4], _TILE_I))
@njit(**SERIAL)
def gemm_terms(t0, t1, A, B, SA, SB, K, unit, unitA, unitB, lsb, inner, chunk, p, emin, maxv, mode, base, ndig, out):
    """out[i, j] = the float model's accumulator for row i of A (M, K) and row j of B (N, K).
    SA (M, K/unitA) and SB hold scale values ((rows, 0): unscaled). Each unit's term must be
    exact as one float64; ``lsb`` scales integer element rows."""
    M = A.shape[0]
    N = B.shape[0]
    chunk_units = max(chunk // unit, 1)
    for ti in range(t0, t1):
        L = np.zeros(ndig, dtype=np.int64)
        buf = np.empty(chunk_units, dtype=np.float64)
        for j0 in range(0, N, _TILE_J):
            for i in range(ti * _TILE_I, min(M, ti * _TILE_I + _TILE_I)):
                for j in range(j0, min(N, j0 + _TILE_J)):
                    out[i, j] = _one_fast(A, B, SA, SB, i, j, K, unit, unitA, unitB, lsb, inner, chunk_units,
                                          p, emin, maxv, mode, base, L, buf)


# --- the general kernel: double-double scales, everything through the long accumulator -------------

@njit(**CALLED)
def _unit_into(L, Arow, Brow, k0, k1, sh, sl, base):
    """L += sum(A[k] * B[k]) * (sh + sl) over the unit, exactly; returns the IEEE sum of any
    non-finite parts (0.0 when there are none) and whether there were any."""
    spec = 0.0
    has_spec = False
    for k in range(k0, k1):
        pk = Arow[k] * Brow[k]
        if pk == 0.0 and math.isfinite(sh):
            continue
        h1, l1 = two_prod(pk, sh)
        if not (math.isfinite(h1) and math.isfinite(l1)):
            spec += pk * sh
            has_spec = True
            continue
        limbs_add(L, h1, base)
        limbs_add(L, l1, base)
        if sl != 0.0:
            h2, l2 = two_prod(pk, sl)
            limbs_add(L, h2, base)
            limbs_add(L, l2, base)
    return spec, has_spec


@njit(**CALLED)
def _unit_scale(SA, SB, i, j, k0, unitA, unitB, g):
    """The unit's scale product sa * sb * g as a double-double (sa * sb is exact)."""
    return two_prod(scale_of(SA, i, k0, unitA) * scale_of(SB, j, k0, unitB), g)


@njit(**CALLED)
def _limbs_round(L, base, spec, has_spec, p, emin, maxv, mode):
    if has_spec:
        return spec
    return rnd(limbs_extract(L, base), p, emin, maxv, mode)


@njit(**CALLED)
def _one_split(A, B, SA, SB, i, j, K, unit, unitA, unitB, g, model, inner, chunk_units, p, emin, maxv, mode,
               base, L, buf):
    nunits = (K + unit - 1) // unit
    if model == MODEL_EXACT:
        limbs_clear(L)
        spec = 0.0
        has_spec = False
        for u in range(nunits):
            k0 = u * unit
            sh, sl = _unit_scale(SA, SB, i, j, k0, unitA, unitB, g)
            s, hs = _unit_into(L, A[i], B[j], k0, min(K, k0 + unit), sh, sl, base)
            spec += s
            has_spec = has_spec or hs
            if (u + 1) % (_RENORM_EVERY // (4 * unit) + 1) == 0:
                limbs_carry(L)
        return spec if has_spec else limbs_extract(L, base)
    acc = 0.0
    for c0 in range(0, nunits, chunk_units):
        c1 = min(nunits, c0 + chunk_units)
        n = c1 - c0
        if n == 1 or inner == INNER_EXACT:
            limbs_clear(L)
            has_spec = not math.isfinite(acc)
            spec = acc if has_spec else 0.0
            if not has_spec:
                limbs_add(L, acc, base)
            for u in range(c0, c1):
                k0 = u * unit
                sh, sl = _unit_scale(SA, SB, i, j, k0, unitA, unitB, g)
                s, hs = _unit_into(L, A[i], B[j], k0, min(K, k0 + unit), sh, sl, base)
                spec += s
                has_spec = has_spec or hs
            acc = _limbs_round(L, base, spec, has_spec, p, emin, maxv, mode)
        else:
            for u in range(c0, c1):
                k0 = u * unit
                limbs_clear(L)
                sh, sl = _unit_scale(SA, SB, i, j, k0, unitA, unitB, g)
                s, hs = _unit_into(L, A[i], B[j], k0, min(K, k0 + unit), sh, sl, base)
                if inner == INNER_SEQUENTIAL:
                    # c = rnd(c + T): put c into the same accumulator
                    if u > c0:
                        if math.isfinite(buf[0]):
                            limbs_add(L, buf[0], base)
                        else:
                            s += buf[0]
                            hs = True
                    buf[0] = _limbs_round(L, base, s, hs, p, emin, maxv, mode)
                else:
                    buf[u - c0] = _limbs_round(L, base, s, hs, p, emin, maxv, mode)
            c = buf[0] if inner == INNER_SEQUENTIAL else pairwise_sum(buf, n, p, emin, maxv, mode)
            acc = add_round(acc, c, p, emin, maxv, mode)
    return acc


@parallel(lambda a: _tiles(a[0], a[1], a[4], 1))
@njit(**SERIAL)
def gemm_split(t0, t1, A, B, SA, SB, K, unit, unitA, unitB, g, model, inner, chunk, p, emin, maxv, mode, base, ndig,
               out):
    """As :func:`gemm_terms` for terms that need more than one float64: every product times
    the unit's scale pair and ``g`` (a float64 with at most 48 bits) is split exactly."""
    N = B.shape[0]
    chunk_units = max(chunk // unit, 1)
    for i in range(t0, t1):
        L = np.zeros(ndig, dtype=np.int64)
        buf = np.empty(chunk_units, dtype=np.float64)
        for j in range(N):
            out[i, j] = _one_split(A, B, SA, SB, i, j, K, unit, unitA, unitB, g, model, inner, chunk_units,
                                   p, emin, maxv, mode, base, L, buf)


# --- the common case, vectorised: a float32 nearest-even accumulator, chunks summed exactly ------

@parallel(lambda a: _tiles(a[0], a[1].T, a[4], 4))   # tasks of R = 4 rows
@njit(**SERIAL)
def gemm_steps_fp32(t0, t1, X, Yt, SA, SBt, K, unit, cu, lsb, Pt, base, ndig, out):
    """out (M, N) = the fp32 model with exact chunk sums: for every chunk of ``cu`` terms (scale
    blocks, or products with ``unit=1``) in K order, ``acc = fl32(acc + sum of the terms)``.

    X (M, K) and Yt (K, N) hold the elements and P (``Pt``'s dtype) a block's sums, in a type
    where every sum is exact in any order: int8 elements and int16 sums, integer-valued float32
    (value times 2**-lsb), or float64; SA (M, nb) and SBt (nb, N) the block scales. Each add is
    checked with TwoSum; a chunk that float64 did not hold exactly is redone in the long
    accumulator (``base``, ``ndig``), a non-finite one in IEEE order. Tiles of 4 rows share
    each row of Yt."""
    M = X.shape[0]
    N = Yt.shape[1]
    nb = (K + unit - 1) // unit
    R = 4
    for ti in range(t0, t1):
        i0 = ti * R
        r = min(R, M - i0)
        acc = np.zeros((R, N), dtype=np.float64)
        nxt = np.empty((R, N), dtype=np.float64)
        P = np.empty((R, N), dtype=Pt.dtype)
        Tb = np.empty((cu, R, N), dtype=np.float64)
        C = np.empty(N, dtype=np.float64)
        E = np.empty(N, dtype=np.float64)
        L = np.zeros(ndig, dtype=np.int64)
        for c0 in range(0, nb, cu):
            n = min(cu, nb - c0)
            for t in range(n):
                u = c0 + t
                P[:, :] = 0
                for k in range(u * unit, min(K, u * unit + unit)):
                    for q in range(r):
                        a = X[i0 + q, k]
                        for j in range(N):
                            P[q, j] += a * Yt[k, j]
                for q in range(r):
                    c = lsb * SA[i0 + q, u]
                    for j in range(N):
                        Tb[t, q, j] = float(P[q, j]) * c * SBt[u, j] + 0.0
            for q in range(r):
                if n == 1:                      # one term: it is the chunk's sum
                    C[:] = Tb[0, q]
                    E[:] = 0.0
                else:
                    C[:] = 0.0
                    E[:] = 0.0
                    for t in range(n):          # the chunk's sum, each add checked by TwoSum
                        for j in range(N):
                            tj = Tb[t, q, j]
                            s = C[j] + tj
                            bb = s - C[j]
                            E[j] += abs((C[j] - (s - bb)) + (tj - bb))
                            C[j] = s
                bad = False
                for j in range(N):              # acc + C; float32(s) is the rounding when s is exact
                    s = acc[q, j] + C[j]
                    bb = s - acc[q, j]
                    e = E[j] + abs((acc[q, j] - (s - bb)) + (C[j] - bb))
                    E[j] = e
                    nxt[q, j] = float(np.float32(s))
                    bad |= e != 0.0             # an inexact sum, inf or NaN (NaN != 0)
                if bad:                         # rare: redo those exactly
                    # chunk_step's exact path, written out: calling chunk_step here made the whole
                    # kernel 1.7x slower (measured), though this branch itself is rare
                    for j in range(N):
                        if E[j] != 0.0:
                            v = acc[q, j]
                            finite = math.isfinite(v)
                            for t in range(n):
                                finite = finite and math.isfinite(Tb[t, q, j])
                            if finite:
                                limbs_clear(L)
                                limbs_add(L, v, base)
                                for t in range(n):
                                    limbs_add(L, Tb[t, q, j], base)
                                nxt[q, j] = rnd(limbs_extract(L, base), 24, -126, 3.4028234663852886e38, _NE)
                            else:
                                for t in range(n):
                                    v = v + Tb[t, q, j]
                                nxt[q, j] = v
            acc, nxt = nxt, acc
        for q in range(r):
            out[i0 + q, :] = acc[q]
