"""The accumulation models of :func:`fmtlib.ops.matmul`, in Python ints and Fractions.

Written from the model's definition (docs/gemm.md), one term and one rounding at a time; the
Numba kernels are tested against it. It shares no code with :mod:`fmtlib.ops`: an operand
given as float data is encoded by its codec's own ``encode`` (which the element and block
oracles judge on their own), and everything after that is worked out here from the codes --
element values from the formats' defining fields, block scales by the OCP MX v1.0 rules
(E8M0: ``2**(code - 127)``), NVFP4's per-tensor factor (torchao's or TransformerEngine's), Scaled's
effective scale ``fl32(S * G)`` -- never through a codec's ``decode`` or the operand code
of ``fmtlib.ops``. Arguments are taken as valid (``fmtlib.ops.matmul`` checks them):
codecs are codec objects, and ``out``/``accumulate`` are those objects or the names
``"fp32"``, ``"bf16"``, ``"fp16"`` (and ``"exact"``).

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
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..rounding import Overflow, Rounding
from .fields import FloatSpec, float_spec, int_value, is_float, read_float, read_int
from .integer import round_to_int_code
from .rounding import _floor_log2, round_to_code
from .sdr import decode_group
from .values import spec_largest, spec_value

#: IEEE 754 binary32, bfloat16 and binary16 by their fields: the names out= and accumulate= take
_IEEE = {"fp32": float_spec(8, 23, 127), "bf16": float_spec(8, 7, 127), "fp16": float_spec(5, 10, 15)}
_FP32 = _IEEE["fp32"]
#: OCP MX v1.0 Table 1: the element format of each MX name (mxint8: int8 read as k / 64)
_MX_ELEMENTS = {
    "mxfp8_e4m3": float_spec(4, 3, 7, specials="fn"),
    "mxfp8_e5m2": float_spec(5, 2, 15),
    "mxfp6_e3m2": float_spec(3, 2, 3, specials="none"),
    "mxfp6_e2m3": float_spec(2, 3, 1, specials="none"),
    "mxfp4_e2m1": float_spec(2, 1, 1, specials="none"),
}
_E8M0 = float_spec(8, 0, 127, signed=False, subnormals=False, specials="fn")   # OCP MX v1.0 section 5.4.1
_E4M3FN = float_spec(4, 3, 7, specials="fn")   # NVFP4's UE4M3 scale, stored as an e4m3fn byte
_E2M1 = _MX_ELEMENTS["mxfp4_e2m1"]


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


def _code_num(s: FloatSpec, code: int):
    """A code's value as :func:`_num` gives it: a Fraction, or a float for a signed zero, inf, NaN."""
    v = spec_value(s, int(code))
    if isinstance(v, Fraction) and v == 0:
        return -0.0 if int(code) & s.sign_bit else 0.0
    return v


def round_float(fmt, x, mode: Rounding = Rounding.NEAREST_EVEN, overflow: Overflow = Overflow.IEEE):
    """``x`` rounded to the float format ``fmt``: a Fraction, or a float for a signed zero,
    inf or NaN. An exact zero stays the Fraction 0 (+0); a nonzero value that rounds to zero
    keeps its sign."""
    if not _fin(x) or x == 0:
        return x
    s = read_float(fmt)
    return _code_num(s, round_to_code(s, x, mode, overflow))


@dataclass(frozen=True)
class _Out:
    """The output rounding: a float or integer format, its mode and its overflow policy."""

    fmt: object
    rounding: Rounding
    overflow: Overflow

    def round(self, x) -> float:
        """``x`` rounded to the output, as a float64."""
        x = x if _fin(x) else float(x)
        if is_float(self.fmt):
            s = read_float(self.fmt)
            code = round_to_code(s, x, self.rounding, self.overflow)
            v, negative = spec_value(s, code), bool(code & s.sign_bit)
            return math.copysign(v if isinstance(v, float) else float(v), -1.0 if negative else 1.0)
        return float(int_value(read_int(self.fmt), round_to_int_code(self.fmt, x, self.rounding, self.overflow)))

    def fits_float32(self) -> bool:
        """Whether float32 holds every value of the output format (matmul then returns float32)."""
        if not is_float(self.fmt):
            return read_int(self.fmt).bits <= 24
        s = read_float(self.fmt)
        return s.mbits <= 23 and _floor_log2(spec_largest(s)) <= 127 and s.lowest_exp - s.mbits >= -149


def _out(out) -> _Out:
    if isinstance(out, str):
        return _Out(_IEEE[out.strip().lower()], Rounding.NEAREST_EVEN, Overflow.IEEE)
    return _Out(out.format, Rounding.parse(out.rounding), Overflow.parse(out.overflow))


@dataclass(frozen=True)
class _Model:
    """An accumulation model: exact, or a float format with its mode, chunk and inner sum."""

    exact: bool
    fmt: object = None
    rounding: Rounding = Rounding.NEAREST_EVEN
    chunk: int | None = None
    inner: str = "exact"


def _model(acc) -> _Model:
    if isinstance(acc, str):
        name = acc.strip().lower()
        return _Model(True) if name == "exact" else _Model(False, _IEEE[name])
    if acc.model == "exact":
        return _Model(True)
    return _Model(False, acc.format, Rounding.parse(acc.rounding), acc.chunk, acc.inner)


@dataclass
class _Side:
    """One operand as the oracle reads it: ``rows`` (R lists of K exact values), ``scales``
    (R lists of block scales; None when unscaled), ``unit`` (the K-length of a scale; 0
    unscaled) and the per-tensor factor ``g``."""

    rows: list
    scales: list | None = None
    unit: int = 0
    g: Fraction = Fraction(1)


def _k_last(x, k_first: bool) -> np.ndarray:
    x = np.asarray(x)
    return np.ascontiguousarray(x.T if k_first else x)


def _encode(codec, rows: np.ndarray, seed):
    """The codec's own encoding of rows (K last)."""
    return codec.encode(rows) if seed is None else codec.encode(rows, seed=seed)


def _element_values(codec, codes: np.ndarray) -> list:
    """Exact values of an element codec's codes (FP, Int, Quantile)."""
    cid = codec.codec_id
    if cid == "fp":
        s = read_float(codec.format)
        return [[_code_num(s, c) for c in row] for row in codes.tolist()]
    if cid == "int":
        s = read_int(codec.format)
        return [[_num(float(int_value(s, c))) for c in row] for row in codes.tolist()]
    if cid == "quantile":
        level = dict(zip(codec.codes, codec.levels))
        level.update(codec.aliases)
        return [[_num(float(level[c])) for c in row] for row in codes.tolist()]
    raise TypeError(f"the GEMM oracle does not read {type(codec).__name__} elements")


def _record_rows(rec, k_first: bool):
    """(codes (R, K), scales (R, nb), unit) of an Encoded record, K last. A record given for
    b without ``transpose_b`` is (K, N), blocked along axis 0."""
    codes, scales = np.asarray(rec.codes), np.asarray(rec.scales)
    if rec.axis is None:   # one scale for the whole tensor: one unit spans K
        codes = codes.T if k_first else codes
        return np.ascontiguousarray(codes), np.full((codes.shape[0], 1), scales.reshape(-1)[0]), max(codes.shape[1], 1)
    axis = rec.axis % codes.ndim
    return np.moveaxis(codes, axis, -1), np.moveaxis(scales, axis, -1), rec.block


def _nearest_fp32(v: Fraction):
    """fl32(v): nearest-even float32, inf beyond its range (a Fraction or a float)."""
    return spec_value(_FP32, round_to_code(_FP32, v))


def _nvfp4_factor(codec, amax) -> Fraction:
    """NVFP4's per-tensor factor (docs/gemm.md): torchao's ``G = fl32(amax / 2688)`` (both
    torchao recipes), or
    TransformerEngine's ``fl32(amax * fl32(1 / 2688))``; 1 without a global scale or for an
    all-zero tensor (2688 = 6 * 448, the largest e2m1 times the largest e4m3)."""
    if amax is None:
        return Fraction(1)
    a = Fraction(float(amax))
    if codec.recipe != "te":
        g = _nearest_fp32(a / 2688)
        return g if g > 0 else Fraction(1)
    return _nearest_fp32(a * _nearest_fp32(Fraction(1, 2688))) if a > 0 else Fraction(1)


def _scaled_effective(codec, rec):
    """Scaled's block scale as a function of the scale code: S, or with a global scale
    ``fl32(S * G)`` (at least 2**-149) with ``G = fl32(amax / (max_elem * max_scale))`` (1 for
    amax 0, or a G that rounds to 0); a NaN scale makes its block NaN."""
    ss = read_float(codec.scale_format)
    efmt = codec.element_codec.format
    emax = spec_largest(read_float(efmt)) if is_float(efmt) else Fraction(read_int(efmt).hi)
    G = None
    if codec.global_scale and rec.tensor_amax is not None and rec.tensor_amax != 0:
        G = _nearest_fp32(Fraction(float(rec.tensor_amax)) / (emax * spec_largest(ss)))
        G = Fraction(1) if G == 0 else G

    def effective(code: int):
        S = spec_value(ss, int(code))
        if isinstance(S, float):   # an inf or NaN scale code: the block is NaN
            return float("nan")
        if S == 0:                 # a zero scale (records from elsewhere): +0 times the element
            return 0.0
        if G is None:
            return S
        D = _nearest_fp32(S * G)
        return D if D != 0 else Fraction(1, 1 << 149)
    return effective


def _block_side(x, codec, k_first: bool, seed) -> _Side:
    """An MX, NVFP4 or Scaled operand: element values, block scales and the tensor factor."""
    given = hasattr(x, "scales") or hasattr(x, "layout")
    if hasattr(x, "layout"):   # a Packed record: the codec unpacks it (packing is tested on its own)
        x = codec.unpack_record(x)
    rec = x if given else _encode(codec, _k_last(x, k_first), seed)
    codes, scales, unit = _record_rows(rec, k_first and given)
    cid, g = codec.codec_id, Fraction(1)
    if cid == "mx":
        if codec.name == "mxint8":
            rows = [[_num(((c + 128) % 256 - 128) / 64) for c in row] for row in codes.tolist()]
        else:
            s = _MX_ELEMENTS[codec.name]
            rows = [[_code_num(s, c) for c in row] for row in codes.tolist()]
        svals = [[_code_num(_E8M0, c) for c in row] for row in scales.tolist()]
    elif cid == "nvfp4":
        rows = [[_code_num(_E2M1, c) for c in row] for row in codes.tolist()]
        svals = [[_code_num(_E4M3FN, c) for c in row] for row in scales.tolist()]
        g = _nvfp4_factor(codec, rec.tensor_amax)
    elif cid == "scaled":
        rows = _element_values(codec.element_codec, codes)
        eff = _scaled_effective(codec, rec)
        svals = [[eff(c) for c in row] for row in scales.tolist()]
    else:
        raise TypeError(f"the GEMM oracle does not read {type(codec).__name__} records")
    return _Side(rows, svals, unit, g)


def _side(x, codec, k_first: bool, seed) -> _Side:
    """The operand ``x`` under ``codec`` (None: float data as it is)."""
    if codec is None:
        rows = _k_last(x, k_first).astype(np.float64)
        return _Side([[_num(v) for v in row] for row in rows.tolist()])
    cid = codec.codec_id
    if cid in ("mx", "nvfp4", "scaled"):
        return _block_side(x, codec, k_first, seed)
    if cid == "sdr":
        rec = x if hasattr(x, "keep") else codec.encode(_k_last(x, k_first))   # a Razored record, or integers
        codes = np.moveaxis(np.asarray(rec.codes), rec.axis, -1)
        flags = np.moveaxis(np.asarray(rec.flags), rec.axis, -1)
        rows = []
        for crow, frow in zip(codes.tolist(), flags.tolist()):
            vals = []
            for t, f in enumerate(frow):
                vals += decode_group(f, crow[t * rec.group:(t + 1) * rec.group], rec.keep)
            rows.append([_num(float(v)) for v in vals])
        return _Side(rows)
    xa = np.asarray(x)
    codes = _k_last(xa, k_first) if xa.dtype.kind in "iu" else np.asarray(_encode(codec, _k_last(xa, k_first), seed))
    return _Side(_element_values(codec, codes))


def _unit(A: _Side, B: _Side, K: int) -> int:
    """The K-length of one term: the scale block shorter than K (both operands' agree where
    both have one), one term spanning K where every scale spans it, else one product."""
    short = {u for u in (A.unit, B.unit) if 0 < u < K}
    if len(short) > 1:
        raise ValueError("the operands' scale blocks do not line up")
    if short:
        return short.pop()
    return max(K, 1) if A.unit or B.unit else 1


def _terms(A: _Side, B: _Side, i: int, j: int, K: int, unit: int, g) -> list:
    """The exact term of every unit: (sum of products) * sa * sb * g."""
    out = []
    for k0 in range(0, K, unit):
        k1 = min(K, k0 + unit)
        P = Fraction(0)
        for k in range(k0, k1):
            P = _add(P, _mul(A.rows[i][k], B.rows[j][k]))
        sa = A.scales[i][k0 // A.unit] if A.scales is not None else Fraction(1)
        sb = B.scales[j][k0 // B.unit] if B.scales is not None else Fraction(1)
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


def sum_terms(terms: list, acc, chunk_units: int):
    """The model's value of a list of exact terms (Fractions, or floats for inf/NaN);
    ``acc`` is an :class:`~fmtlib.ops.Accumulate` or a model name."""
    acc = _model(acc) if not isinstance(acc, _Model) else acc
    if acc.exact:
        s = Fraction(0)
        for t in terms:
            s = _add(s, t)
        return s

    def rnd(x):
        return round_float(acc.fmt, x, acc.rounding)

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


def matmul(a, b, *, a_codec=None, b_codec=None, accumulate="fp32", out="fp32", transpose_b: bool = False,
           strict: bool = False, tensor_scale: str = "block", alpha: float = 1.0, a_seed=None,
           b_seed=None) -> np.ndarray:
    """:func:`fmtlib.ops.matmul`, computed with Fractions (float64 result values; float32
    where float32 holds the output format). ``strict`` is accepted and ignored: a short last
    block is summed as zero padding would be."""
    acc, oc = _model(accumulate), _out(out)
    A = _side(a, a_codec, False, a_seed)
    B = _side(b, b_codec, not transpose_b, b_seed)
    M, N = len(A.rows), len(B.rows)
    K = len(A.rows[0]) if M else (len(B.rows[0]) if N else np.shape(a)[1])
    unit = _unit(A, B, K)
    chunk = unit if acc.chunk is None else acc.chunk
    g = A.g * B.g
    fold = acc.exact or tensor_scale == "block" or g == 1
    res = np.empty((M, N), dtype=np.float64)
    for i in range(M):
        for j in range(N):
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
                    v = _mul(_num(oc.round(v)), _num(oc.round(round_float(_FP32, g))))
            res[i, j] = oc.round(v)
    return res.astype(np.float32) if oc.fits_float32() else res
