"""The accumulation models of :func:`fmtlib.ops.matmul`, in Python ints and Fractions.

Written from the model's definition (docs/gemm.md), one term and one rounding at a time; the
Numba kernels are tested against it. It reads operands through the same
:func:`fmtlib.ops.operands.operand` (codec decoding is tested on its own).

>>> import numpy as np
>>> from fmtlib.ops import Accumulate
>>> a = np.array([[1.0, 2.0**-24]], np.float32); b = np.array([[1.0], [1.0]], np.float32)
>>> float(matmul(a, b, accumulate=Accumulate("fp32"))[0, 0])     # 1 + 2**-24 ties to 1
1.0
>>> float(matmul(a, b, accumulate=Accumulate("exact"), out="fp32")[0, 0])
1.0
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ..codecs import FP
from ..formats import FloatFormat
from ..ops.accumulate import Accumulate
from ..ops.gemm import _fits_float32, plan
from ..rounding import Overflow, Rounding
from .integer import round_to_int_code
from .rounding import round_to_code
from .values import code_to_float

_FP32 = FP("fp32").format


def _fin(v) -> bool:
    return isinstance(v, Fraction)


def _num(v: float):
    """A float64 value as a Fraction; zeros (with their sign), inf and NaN stay floats."""
    return Fraction(v) if math.isfinite(v) and v != 0 else float(v)


def _add(x, y):
    """x + y with IEEE signed zeros: a float zero plus an exact Fraction zero is +0."""
    if _fin(x) and _fin(y):
        return x + y
    if not (math.isfinite(x) and math.isfinite(y)):
        return float(x) + float(y)
    if not _fin(x) and not _fin(y):
        return x + y              # two signed zeros
    f = x if _fin(x) else y       # the other is a signed zero
    return f


def _mul(x, y):
    if _fin(x) and _fin(y):
        return x * y
    return float(x) * float(y)


def _value(fmt, code: int):
    v = code_to_float(fmt, code)
    return Fraction(v) if math.isfinite(v) and v != 0 else v


def round_float(fmt: FloatFormat, x, mode: Rounding = Rounding.NEAREST_EVEN, overflow: Overflow = Overflow.IEEE):
    """``x`` rounded to ``fmt``: a Fraction, or a float for a signed zero, inf or NaN. An exact
    zero stays the Fraction 0 (+0); a nonzero value that rounds to zero keeps its sign."""
    if not _fin(x) or x == 0:
        return x
    return _value(fmt, round_to_code(fmt, x, mode, overflow))


def round_out(codec, x):
    """``x`` rounded by the output codec (FP or Int), as a float64."""
    fmt = codec.format
    if isinstance(fmt, FloatFormat):
        return float(code_to_float(fmt, round_to_code(fmt, x if _fin(x) else float(x), codec.rounding,
                                                      codec.overflow)))
    return float(fmt.value(round_to_int_code(fmt, x if _fin(x) else float(x), codec.rounding, codec.overflow)))


def _terms(A, B, i: int, j: int, K: int, unit: int, g) -> list:
    """The exact term of every unit: (sum of products) * sa * sb * g."""
    out = []
    for k0 in range(0, K, unit):
        k1 = min(K, k0 + unit)
        P = Fraction(0)
        for k in range(k0, k1):
            P = _add(P, _mul(_num(A.values[i, k]), _num(B.values[j, k])))
        sa = _num(A.scales[i, k0 // A.unit]) if A.scales.shape[1] else Fraction(1)
        sb = _num(B.scales[j, k0 // B.unit]) if B.scales.shape[1] else Fraction(1)
        t = _mul(_mul(P, _mul(sa, sb)), g)
        out.append(Fraction(0) if t == 0 else t)   # a zero term is +0
    return out


def _pairwise(vals: list, rnd):
    vals = list(vals)
    while len(vals) > 1:
        nxt = [rnd(_add(vals[2 * t], vals[2 * t + 1])) for t in range(len(vals) // 2)]
        if len(vals) % 2:
            nxt.append(vals[-1])
        vals = nxt
    return vals[0]


def sum_terms(terms: list, acc: Accumulate, chunk_units: int):
    """The model's value of a list of exact terms (Fractions, or floats for inf/NaN)."""
    if acc.exact:
        s = Fraction(0)
        for t in terms:
            s = _add(s, t)
        return s

    def rnd(x):
        return round_float(acc.format, x, acc.rounding)

    a = Fraction(0)
    for c0 in range(0, len(terms), chunk_units):
        chunk = terms[c0:c0 + chunk_units]
        if len(chunk) == 1 or acc.inner == "exact":
            s = a
            for t in chunk:
                s = _add(s, t)
            a = rnd(s)
        elif acc.inner == "sequential":
            c = Fraction(0)
            for t in chunk:
                c = rnd(_add(c, t))
            a = rnd(_add(a, c))
        else:
            a = rnd(_add(a, _pairwise([rnd(t) for t in chunk], rnd)))
    return a


def matmul(a, b, *, a_codec=None, b_codec=None, accumulate: Accumulate | str = "fp32", out="fp32",
           transpose_b: bool = False, strict: bool = False, tensor_scale: str = "block", alpha: float = 1.0,
           a_seed=None, b_seed=None) -> np.ndarray:
    """:func:`fmtlib.ops.matmul`, computed with Fractions (float64 result values)."""
    acc, oc, A, B, K, unit, chunk, alpha = plan(a, b, a_codec, b_codec, accumulate, out, transpose_b, strict,
                                                tensor_scale, alpha, a_seed, b_seed)
    g = Fraction(A.g) * Fraction(B.g)
    fold = acc.exact or tensor_scale == "block" or g == 1
    res = np.empty((A.shape[0], B.shape[0]), dtype=np.float64)
    for i in range(res.shape[0]):
        for j in range(res.shape[1]):
            v = sum_terms(_terms(A, B, i, j, K, unit, g if fold else Fraction(1)), acc, max(chunk // unit, 1))
            if acc.exact:
                v = _mul(v, Fraction(alpha))
            else:
                al = Fraction(alpha)
                if not fold and tensor_scale == "alpha":
                    al = round_float(_FP32, al * round_float(_FP32, g))
                if al != 1:
                    v = round_float(_FP32, _mul(al, v))
                if not fold and tensor_scale == "output":
                    v = _mul(_num(round_out(oc, v)), _num(round_out(oc, round_float(_FP32, g))))
            res[i, j] = round_out(oc, v)
    return res.astype(np.float32) if _fits_float32(oc) else res
