"""The decompression-free dot product of razored tensors (QRazor's integer unit, arXiv
2501.13331): per group, the signed kept bits multiply as small integers and the sum shifts
by the two flags. Also :func:`fmtlib.sdr.dot`.

>>> import numpy as np
>>> from fmtlib.sdr import SDR
>>> c = SDR(group=2)
>>> dot(c.encode(np.array([1, 2])), c.encode(np.array([3, 4])))
11
"""
from __future__ import annotations

import numpy as np

from ..codecs.sdr import Razored, _check_record, _norm_axis, _rows

def dot(a: Razored, b: Razored, axis: int = -1):
    """Dot products of two razored tensors from codes and flags only (no decompression).

    Per group, the signed kept bits multiply as small integers, their sum is shifted left by
    the two flags, and the groups add up: the integer unit of QRazor (arXiv 2501.13331).
    Vectors give a Python int; 2-D ``a`` (M, K) and ``b`` (N, K), razored along K, give the
    (M, N) int64 matrix ``decode(a) @ decode(b).T`` (``axis`` is the razored, contracted
    axis of both: ``axis=0`` takes (K, M) and (K, N) and gives ``decode(a).T @ decode(b)``).
    The two records need the same group and K; their bases and ``keep`` may differ.

    Exact: vectors sum in Python ints. Matrices use int64, which cannot overflow when
    (keep + largest flag) of a, plus that of b, plus bit_length(K) is at most 63; records
    from SDR (bases of at most 16 bits, so keep + flag <= 16) meet that for any K < 2**31.
    Other records raise ValueError rather than overflow.

    >>> from fmtlib import SDR
    >>> c = SDR(group=2)      # decoded: [96, 0, 7, 1] . [-128, 0, 2, 2] = -12288 + 16
    >>> dot(c.encode(np.array([100, -3, 7, 1])), c.encode(np.array([-128, 5, 2, 2])))
    -12272
    """
    from ..kernels.cpu import sdr as K

    for name, r in (("a", a), ("b", b)):
        if not isinstance(r, Razored):
            raise TypeError(f"dot takes Razored records, got {type(r).__name__} for {name}")
    ca, fa = _check_record(a, "a")
    cb, fb = _check_record(b, "b")
    if ca.ndim != cb.ndim or ca.ndim not in (1, 2):
        raise ValueError(f"dot takes two vectors or two matrices, got shapes {ca.shape} and {cb.shape}")
    ax = _norm_axis(axis, ca.ndim, "dot")
    for name, r in (("a", a), ("b", b)):
        if r.axis != ax:
            raise ValueError(f"{name} is razored along axis {r.axis}; dot contracts axis {ax} (pass axis={r.axis} "
                             "or razor along the contracted axis)")
    if a.group != b.group:
        raise ValueError(f"records have group sizes {a.group} and {b.group}; dot needs the same groups")
    if ca.shape[ax] != cb.shape[ax]:
        raise ValueError(f"records have K = {ca.shape[ax]} and {cb.shape[ax]} along axis {ax}; they must match")
    ka = np.empty(ca.shape, dtype=np.int64)
    kb = np.empty(cb.shape, dtype=np.int64)
    K.signed_kept(np.ascontiguousarray(ca).reshape(-1), a.keep, ka.reshape(-1))
    K.signed_kept(np.ascontiguousarray(cb).reshape(-1), b.keep, kb.reshape(-1))
    if ca.ndim == 1:
        n = ca.shape[0]
        if n == 0:
            return 0
        # |k_a * k_b| < 2**(keep_a + keep_b) <= 2**32, so a group's sum stays far inside int64
        parts = np.add.reduceat(ka * kb, np.arange(0, n, a.group))
        shifts = fa.astype(np.int64) + fb.astype(np.int64)
        return sum(int(p) << int(s) for p, s in zip(parts.tolist(), shifts.tolist()))
    ka, kb = _rows(ka, ax), _rows(kb, ax)
    fa, fb = _rows(fa, ax), _rows(fb, ax)
    Kn = ka.shape[1]
    width = (a.keep + (int(fa.max()) if fa.size else 0)) + (b.keep + (int(fb.max()) if fb.size else 0))
    if width + Kn.bit_length() > 63:
        raise ValueError(f"products need {width} bits and K = {Kn} terms: int64 could overflow")
    out = np.empty((ka.shape[0], kb.shape[0]), dtype=np.int64)
    K.sdr_dot(ka, fa, kb, fb, a.group, out)
    return out
