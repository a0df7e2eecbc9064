"""Numba kernels for significant data razoring (SDR, QRazor stage 2: Lee, Choi, Chang 2025,
arXiv 2501.13331).

Every kernel works on rows: ``q`` is a flat C-order (rows, n) array with the grouped axis
last, cut into groups of ``group`` elements (a short last group covers the rest of a row);
``flags`` is (rows, ngroups), flat too. A parallel task is a run of whole groups of one row
(about ``TASK`` elements); each kernel is serial over a task range ``t0 <= t < t1``, and
:func:`fmtlib.kernels.threads.parallel` runs the ranges on a Python thread pool, adding up the
counts the chunks return (callers pass the arguments after ``t0, t1``). A task first finds each
group's shift and spreads it over the group's elements in a small buffer, then treats the
elements in one branch-free loop that LLVM vectorizes. Arithmetic is int64 throughout: input values are checked against
[lo, hi] (the base's range, at most 16 bits), and the kernels count the values outside it,
for the caller to raise.

Per group (the paper's razoring): the OR of the magnitudes gives the razoring point
p = bit_length(OR); the shift is f = max(0, p - keep); each magnitude m keeps
k = m >> f, rounded on the dropped bits by ``mode`` and never beyond 2**keep - 1
(floor_on_overflow: where rounding would carry out of the kept bits, truncate). A code is
``sign << keep | k`` with the sign cleared when k == 0. The value is ``±(k << f)``.

The mode numbers below are the kernels' own (``fmtlib.codecs.sdr`` maps Rounding members to
them); :mod:`fmtlib.kernels.threads` is plain Python.
"""
import operator

import numpy as np
from numba import njit

from ..config import CALLED, SCALAR, SERIAL
from ..threads import parallel

#: rounding of the dropped bits (the kernels' own numbering)
NEAREST_EVEN = 0
NEAREST_AWAY = 1
TOWARD_ZERO = 2


#: elements per parallel task (whole groups: a task holds max(1, TASK // group) of them)
TASK = 4096
U64 = np.uint64   # unsigned indices: no negative-index wraparound code, so loops vectorize


def _tasks(rows, n, group):
    """(tasks, elements) of (rows, n) values in groups of ``group``: as the kernels count tasks."""
    rows, n, group = int(rows), int(n), int(group)
    ngroups = -(-n // group)
    return rows * -(-ngroups // max(1, TASK // group)), rows * n


def _add_pairs(x, y):
    return x[0] + y[0], x[1] + y[1]


@njit(**SCALAR)
def _shift_of(acc, keep):
    """max(0, bit_length(acc) - keep) for 0 <= acc < 2**63, without data-dependent branches."""
    p = np.int64(0)
    for w in (32, 16, 8, 4, 2, 1):
        t = np.int64(acc >> w != 0) * w
        acc >>= t
        p += t
    return max(p + acc - keep, 0)


@njit(**SCALAR)
def _kept(m, f, away, even, kmax):
    """The kept bits of magnitude m with f bits dropped: (m + add) >> f, where nearest_away
    (away = 1) adds half, nearest_even (even = 1) adds half - 1 plus 1 when the kept part
    is odd, toward_zero adds nothing; at most kmax = 2**keep - 1 (floor_on_overflow: a
    carry out of the kept bits truncates instead). Branch-free, so the loops vectorize."""
    half = (np.int64(1) << f) >> 1
    fz = ((-f) >> 63) & 1                   # 1 if f > 0
    add = half * away + (half - fz + ((m >> f) & fz)) * even
    return min((m + add) >> f, kmax)


@njit(**SCALAR)
def _razored(v, f, away, even, kmax):
    """The razored value of v, its magnitude's kept bits (:func:`_kept`) shifted back,
    with v's sign (negated by (w ^ sg) - sg, sg = 0 or -1: branch-free)."""
    sg = v >> 63
    return ((_kept(abs(v), f, away, even, kmax) << f) ^ sg) - sg


@njit(**SCALAR)
def _chunking(n, group):
    """(groups per row, groups per task, tasks per row) of rows of n values in groups of
    ``group``: as :func:`_tasks` counts them."""
    ngroups = (n + group - 1) // group
    gpt = max(1, TASK // group)
    return ngroups, gpt, (ngroups + gpt - 1) // gpt


@njit(**SCALAR)
def _task(t, nchunks, gpt, group, n):
    """(row, first group, row offset of the task's first element, its element count)."""
    r = t // nchunks
    g0 = (t - r * nchunks) * gpt
    s0 = g0 * group
    return r, g0, s0, min(s0 + gpt * group, n) - s0


@njit(**SCALAR)
def _scan_groups(q, base, L, group, keep, lo, hi, fe, flags, fbase):
    """Shifts of the groups of q[base:base + L]: written to fe (one per element) and, when
    fbase >= 0, to flags[fbase + g]; returns the count of values outside [lo, hi]."""
    nbad = 0
    g = 0
    for gs in range(0, L, group):
        ge = min(gs + group, L)
        acc = np.int64(0)
        for i in range(gs, ge):
            v = np.int64(q[U64(base + i)])
            nbad += np.int64(v < lo) | np.int64(v > hi)
            acc |= abs(v)
        f = _shift_of(acc & 0x7FFFFFFFFFFFFFFF, keep)
        if fbase >= 0:
            flags[U64(fbase + g)] = f
        for i in range(gs, ge):
            fe[U64(i)] = f
        g += 1
    return nbad


# One task's work is a called function, not inlined into the task loop: LLVM vectorizes the
# element loops better there (measured: about 1.4x).

@njit(**CALLED)
def _encode_task(q, codes, flags, base, L, fbase, group, keep, mode, lo, hi):
    kmax = (np.int64(1) << keep) - 1
    away, even = np.int64(mode == NEAREST_AWAY), np.int64(mode == NEAREST_EVEN)
    fe = np.empty(L, dtype=np.int8)
    nbad = _scan_groups(q, base, L, group, keep, lo, hi, fe, flags, fbase)
    for i in range(L):
        v = np.int64(q[U64(base + i)])
        k = _kept(abs(v), np.int64(fe[U64(i)]), away, even, kmax)
        # the sign bit, for a negative value whose kept bits are not all zero
        codes[U64(base + i)] = k | ((((-k) >> 63) & (v >> 63) & 1) << keep)
    return nbad


@parallel(lambda a: _tasks(*a[3:6]), combine=operator.add)
@njit(**SERIAL)
def sdr_encode(t0, t1, q, codes, flags, rows, n, group, keep, mode, lo, hi):
    """Codes and flags of the integers ``q``: flat C-order (rows, n) arrays, flags
    (rows, ngroups). Returns the number of values outside [lo, hi]."""
    ngroups, gpt, nchunks = _chunking(n, group)
    bad = 0
    for t in range(t0, t1):
        r, g0, s0, L = _task(t, nchunks, gpt, group, n)
        bad += _encode_task(q, codes, flags, r * n + s0, L, r * ngroups + g0, group, keep, mode, lo, hi)
    return bad


@njit(**CALLED)
def _quantize_task(q, out, base, L, group, keep, mode, lo, hi, olo, ohi):
    kmax = (np.int64(1) << keep) - 1
    away, even = np.int64(mode == NEAREST_AWAY), np.int64(mode == NEAREST_EVEN)
    fe = np.empty(L, dtype=np.int8)
    nbad = _scan_groups(q, base, L, group, keep, lo, hi, fe, fe, -1)
    nobad = 0
    for i in range(L):
        w = _razored(np.int64(q[U64(base + i)]), np.int64(fe[U64(i)]), away, even, kmax)
        nobad += np.int64(w < olo) | np.int64(w > ohi)
        out[U64(base + i)] = w
    return nbad, nobad


@parallel(lambda a: _tasks(*a[2:5]), combine=_add_pairs)
@njit(**SERIAL)
def sdr_quantize(t0, t1, q, out, rows, n, group, keep, mode, lo, hi, olo, ohi):
    """Razored values ``±(k << f)`` of ``q`` written to ``out`` (flat C-order (rows, n)
    arrays), encode and decode fused; returns (values outside [lo, hi], results outside
    [olo, ohi])."""
    ngroups, gpt, nchunks = _chunking(n, group)
    bad = 0
    obad = 0
    for t in range(t0, t1):
        r, g0, s0, L = _task(t, nchunks, gpt, group, n)
        b, o = _quantize_task(q, out, r * n + s0, L, group, keep, mode, lo, hi, olo, ohi)
        bad += b
        obad += o
    return bad, obad


@njit(**CALLED)
def _quantize_scaled_task(q, out, base, L, group, keep, mode, lo, hi, scale):
    kmax = (np.int64(1) << keep) - 1
    away, even = np.int64(mode == NEAREST_AWAY), np.int64(mode == NEAREST_EVEN)
    fe = np.empty(L, dtype=np.int8)
    nbad = _scan_groups(q, base, L, group, keep, lo, hi, fe, fe, -1)
    for i in range(L):
        w = _razored(np.int64(q[U64(base + i)]), np.int64(fe[U64(i)]), away, even, kmax)
        out[U64(base + i)] = np.float32(w) * scale   # |w| <= 2**16: exact in float32; one rounding
    return nbad


@parallel(lambda a: _tasks(*a[2:5]), combine=operator.add)
@njit(**SERIAL)
def sdr_quantize_scaled(t0, t1, q, out, rows, n, group, keep, mode, lo, hi, scale):
    """QRazor's stage 2 and its decode in one pass: the razored values of ``q`` (as
    :func:`sdr_quantize`, a base of at most 16 bits) times the float32 ``scale``, each product
    rounded once to float32 into ``out``. Returns the number of values outside [lo, hi]."""
    ngroups, gpt, nchunks = _chunking(n, group)
    bad = 0
    for t in range(t0, t1):
        r, g0, s0, L = _task(t, nchunks, gpt, group, n)
        bad += _quantize_scaled_task(q, out, r * n + s0, L, group, keep, mode, lo, hi, scale)
    return bad


@njit(**CALLED)
def _decode_task(codes, flags, out, base, L, g, group, keep, olo, ohi):
    kmask = (np.int64(1) << keep) - 1
    fe = np.empty(L, dtype=np.int8)
    for gs in range(0, L, group):
        f = np.int8(flags[U64(g)])
        for i in range(gs, min(gs + group, L)):
            fe[U64(i)] = f
        g += 1
    nobad = 0
    for i in range(L):
        c = np.int64(codes[U64(base + i)])
        sg = -((c >> keep) & 1)
        w = (((c & kmask) << np.int64(fe[U64(i)])) ^ sg) - sg
        nobad += np.int64(w < olo) | np.int64(w > ohi)
        out[U64(base + i)] = w
    return nobad


@parallel(lambda a: _tasks(*a[3:6]), combine=operator.add)
@njit(**SERIAL)
def sdr_decode(t0, t1, codes, flags, out, rows, n, group, keep, olo, ohi):
    """Values ``±(k << f)`` of codes with their flags (flat C-order (rows, n) and
    (rows, ngroups) arrays) into ``out``; returns the number of values outside [olo, ohi]."""
    ngroups, gpt, nchunks = _chunking(n, group)
    obad = 0
    for t in range(t0, t1):
        r, g0, s0, L = _task(t, nchunks, gpt, group, n)
        obad += _decode_task(codes, flags, out, r * n + s0, L, r * ngroups + g0, group, keep, olo, ohi)
    return obad


@parallel("elements")
@njit(**SERIAL)
def signed_kept(t0, t1, codes, keep, out):
    """The signed kept bits ``±k`` of every code (any shape, flat views)."""
    kmask = (np.int64(1) << keep) - 1
    for i in range(t0, t1):
        c = np.int64(codes[i])
        k = c & kmask
        out[i] = -k if (c >> keep) & 1 else k


@parallel(lambda a: (a[5].size, a[5].size * a[0].shape[1]))
@njit(**SERIAL)
def sdr_dot(t0, t1, ka, fa, kb, fb, group, out):
    """(M, N) dot products of SDR rows without decompression: ``ka`` (M, K) and ``kb``
    (N, K) hold signed kept bits, ``fa`` (M, G) and ``fb`` (N, G) the shifts. Per group,
    the integer sum of ka * kb is shifted left by fa + fb (QRazor's decompression-free
    arithmetic unit); the caller checks that int64 cannot overflow."""
    M, K = ka.shape
    N = kb.shape[0]
    G = fa.shape[1]
    for t in range(t0, t1):
        i = t // N
        j = t - i * N
        acc = np.int64(0)
        for g in range(G):
            s = g * group
            e = min(s + group, K)
            part = np.int64(0)
            for x in range(s, e):
                part += np.int64(ka[i, x]) * np.int64(kb[j, x])
            acc += part << (np.int64(fa[i, g]) + np.int64(fb[j, g]))
        out[i, j] = acc
