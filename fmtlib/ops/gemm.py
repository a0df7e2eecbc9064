"""``matmul`` and ``dot``: golden references for low-precision GEMMs, bit for bit.

Operands are quantized by their codecs (or given already encoded), products of elements are
exact, and sums follow a declared :class:`~fmtlib.ops.Accumulate` model; the result is rounded
to the output codec.

>>> import numpy as np
>>> from fmtlib import MX
>>> rng = np.random.default_rng(0)
>>> a = rng.standard_normal((4, 64)).astype(np.float32)
>>> b = rng.standard_normal((64, 3)).astype(np.float32)
>>> y = matmul(a, b, a_codec=MX("mxfp4"), b_codec=MX("mxfp4"), accumulate=Accumulate("fp32", chunk=32))
>>> y.shape, y.dtype
((4, 3), dtype('float32'))
>>> bool(np.all(y == matmul(a, b, a_codec=MX("mxfp4"), b_codec=MX("mxfp4"), accumulate="exact")))
True
"""
from __future__ import annotations

import math

import numpy as np

from ..codecs import FP, Int
from ..codecs.element import ElementCodec
from ..formats import FloatFormat
from ..rounding import Rounding
from .accumulate import INNER, Accumulate
from .operands import Operand, bit_bounds, operand

#: tensor_scale= choices: where two-level (NVFP4) per-tensor scales enter the product
TENSOR_SCALE = ("block", "alpha", "output")
_MAX_OUT_BITS = 51


def _out_codec(out) -> ElementCodec:
    if isinstance(out, str):
        from ..registry import get

        out = get(out)
    if not isinstance(out, (FP, Int)):
        raise TypeError(f"out must be an FP or Int codec (or a format name), got {type(out).__name__}")
    if out.rounding is Rounding.STOCHASTIC:
        raise ValueError("the output rounding must be deterministic: a stochastic output has no single golden value")
    if _bits(out) > _MAX_OUT_BITS:
        raise ValueError(f"output format {out.format} has {_bits(out)} significant bits; matmul rounds to at most "
                         f"{_MAX_OUT_BITS}")
    return out


def _bits(codec) -> int:
    fmt = codec.format
    return fmt.mbits + 1 if isinstance(fmt, FloatFormat) else fmt.bits


def _fits_float32(codec) -> bool:
    fmt = codec.format
    if isinstance(fmt, FloatFormat):
        return fmt.mbits <= 23 and fmt.emax <= 127 and fmt.emin - fmt.mbits >= -149
    return fmt.bits <= 24


def _unit(A: Operand, B: Operand, K: int) -> int:
    """The K-length of one term: the common scale block (1 for unscaled operands)."""
    units = [u for u in (A.unit, B.unit) if 0 < u < K]
    if not units:   # unscaled, or every block spans K: one term per element or one in all
        return max(A.unit, B.unit, 1) if (A.unit or B.unit) else 1
    if len(units) == 2 and units[0] != units[1]:
        raise ValueError(f"a's blocks are {A.unit} long and b's {B.unit}: a block-scaled product needs the two "
                         "operands' scale blocks to line up (the same block size)")
    return units[0]


def _ceil_log2(n: int) -> int:
    return max(int(n - 1).bit_length(), 0)


def _sum_bits(A: Operand, B: Operand, unit: int) -> int:
    """Significant bits that hold any one unit's sum of products exactly: a product of two
    values (``unit == 1``), or the span from the lowest to the highest bit a sum of ``unit``
    products can set."""
    if unit == 1:
        return A.sig + B.sig
    return (A.msb + B.msb + 1 + _ceil_log2(unit)) - (A.lsb + B.lsb) + 1


def matmul(a, b, *, a_codec=None, b_codec=None, accumulate: Accumulate | str = "fp32", out="fp32",
           transpose_b: bool = False, strict: bool = False, tensor_scale: str = "block", alpha: float = 1.0,
           a_seed: int | None = None, b_seed: int | None = None) -> np.ndarray:
    """``a @ b`` as a low-precision kernel computes it, bit for bit, under a declared model.

    - ``a`` (M, K) and ``b`` (K, N) (or (N, K) with ``transpose_b=True``, as ``nn.Linear``
      weights are stored): float data that ``a_codec``/``b_codec`` quantize (block codecs block
      along K: ``b_codec`` sees ``b.T``), element codes (integer arrays), or records
      (``Encoded``/``Packed`` of MX, NVFP4 and Scaled, ``Razored`` of SDR, with the codec that
      made them). A codec of None takes float32/float16/bfloat16 data as it is.
    - Element products are exact. A scale block's products are summed exactly and multiplied by
      the two block scales: one *term*. ``accumulate`` (an :class:`Accumulate` or ``"exact"``,
      ``"fp32"``) sums the terms; the result is rounded to ``out`` (an FP or Int codec or
      format name, with its rounding and overflow; e.g. ``FP("e4m3", overflow="saturate")``).
    - NVFP4 per-tensor scales (``tensor_scale``): ``"block"`` multiplies each term by both
      (exactly); ``"alpha"`` scales the accumulator once, ``fl32(alpha * acc)`` with
      ``alpha = fl32(ga * gb)``, as cuBLAS's alpha does; ``"output"`` multiplies the rounded
      output by ``alpha`` rounded to the output format, in the output format (torchao's
      ``result * scale.to(dtype)``). The exact model always rounds ``ga * gb * sum`` once.
    - ``alpha`` (a float32 value): the epilogue's scale, ``fl32(alpha * acc)`` before the
      output rounding (with ``tensor_scale="alpha"``, ``fl32(alpha * fl32(ga * gb))`` is the
      one scale). The exact model takes only powers of two (it stays exact).
    - A K that is not a multiple of the block ends in a shorter block (as zero padding
      would); ``strict=True`` raises instead.

    Returns float32 values of the output format (float64 where float32 cannot hold them).
    """
    acc, oc, A, B, K, unit, chunk, alpha = plan(a, b, a_codec, b_codec, accumulate, out, transpose_b, strict,
                                                tensor_scale, alpha, a_seed, b_seed)
    g = A.g * B.g   # two float32 factors: exact in float64
    fold = g if (acc.exact or tensor_scale == "block") else 1.0
    res = _run(A, B, K, unit, chunk, acc, fold)
    if acc.exact:
        res = res * alpha    # a power of two: exact
    else:
        if fold == 1.0 and g != 1.0 and tensor_scale == "alpha":
            alpha = float(np.float32(alpha * float(np.float32(g))))
        if alpha != 1.0:
            res = (res * alpha).astype(np.float32).astype(np.float64)   # one float32 rounding of an exact product
        if fold == 1.0 and g != 1.0 and tensor_scale == "output":
            res = oc.quantize(res) * float(oc.quantize(np.array([float(np.float32(g))]))[0])
    y = oc.quantize(res)
    return y.astype(np.float32) if _fits_float32(oc) else y


def plan(a, b, a_codec, b_codec, accumulate, out, transpose_b: bool, strict: bool, tensor_scale: str, alpha,
         a_seed, b_seed) -> tuple:
    """Check matmul's arguments and read its operands: (accumulate model, output codec, a's
    Operand, b's Operand, K, unit, chunk, alpha)."""
    acc = Accumulate.parse(accumulate)
    oc = _out_codec(out)
    if tensor_scale not in TENSOR_SCALE:
        raise ValueError(f"unknown tensor_scale {tensor_scale!r} (choose from {', '.join(TENSOR_SCALE)})")
    alpha = _check_alpha(alpha, acc)
    A = operand(a, a_codec, k_first=False, what="a", seed=a_seed)
    B = operand(b, b_codec, k_first=not transpose_b, what="b", seed=b_seed)
    K = A.shape[1]
    if B.shape[1] != K:
        bs = B.shape[::-1] if not transpose_b else B.shape
        raise ValueError(f"shapes do not multiply: a is {A.shape}, b is {bs} (K = {K} and {B.shape[1]})")
    unit = _unit(A, B, K)
    if strict and unit > 1 and K % unit:
        raise ValueError(f"K = {K} is not a multiple of the block size {unit} (strict=True)")
    chunk = unit if acc.chunk is None else acc.chunk
    if chunk % unit and unit < K:
        raise ValueError(f"chunk {chunk} is not a multiple of the scale block {unit}: a term (one block's "
                         "products) cannot be split between chunks")
    g = A.g * B.g
    if not acc.exact and (alpha != 1.0 or (g != 1.0 and tensor_scale != "block")) and acc.format.mbits > 28:
        raise ValueError(f"an epilogue scale needs an accumulator of at most 29 significant bits (its product with "
                         f"a float32 scale must be exact in float64); {acc.format} has {acc.format.mbits + 1}")
    if g != 1.0 and tensor_scale == "output" and not acc.exact and _bits(oc) > 26:
        raise ValueError("tensor_scale='output' needs an output format of at most 26 significant bits")
    return acc, oc, A, B, K, unit, chunk, alpha


def _check_alpha(alpha, acc: Accumulate) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)):
        raise TypeError(f"alpha must be a float, got {alpha!r}")
    a = float(alpha)
    if not math.isfinite(a) or a == 0 or float(np.float32(a)) != a:
        raise ValueError(f"alpha must be a finite nonzero float32 value, got {alpha!r}")
    if acc.exact and math.frexp(abs(a))[0] != 0.5:
        raise ValueError(f"the exact model takes alpha as a power of two (it rounds once); got {alpha!r}")
    return a


def _run(A: Operand, B: Operand, K: int, unit: int, chunk: int, acc: Accumulate, g: float) -> np.ndarray:
    from ..kernels.cpu import gemm as G

    M, N = A.shape[0], B.shape[0]
    res = np.empty((M, N), dtype=np.float64)
    if M == 0 or N == 0:
        return res
    if acc.exact:
        model, p, emin, maxv, mode = G.MODEL_EXACT, 53, -1074, math.inf, 0
    else:
        fmt = acc.format
        model, p, emin, maxv, mode = G.MODEL_FLOAT, fmt.mbits + 1, fmt.emin, float(fmt.max), int(acc.rounding)
    inner = INNER.index(acc.inner)
    # term bounds: lowest set bit and highest, as exponents of two
    glsb, gmsb, _ = bit_bounds(np.array([g]))
    lo = A.lsb + B.lsb + A.scale_lsb + B.scale_lsb + (glsb if g != 1.0 else 0)
    hi = A.msb + B.msb + 2 + A.scale_msb + B.scale_msb + 1 + (gmsb + 1 if g != 1.0 else 0) + _ceil_log2(K + 1) + 2
    ndig = (hi - lo) // 32 + 4
    SA = A.scales if A.scales.shape[1] else np.empty((M, 0))
    SB = B.scales if B.scales.shape[1] else np.empty((N, 0))
    uA, uB = max(A.unit, 1), max(B.unit, 1)
    term_bits = _sum_bits(A, B, unit) + A.scale_sig + B.scale_sig
    steps = max(chunk // unit, 1)
    exact_chunks = steps == 1 or acc.inner == "exact"
    if g == 1.0 and term_bits <= 53 and not acc.exact and exact_chunks and (p, emin, mode) == (24, -126, 0):
        _run_fp32_steps(A, B, K, unit, steps, lo, ndig, res)
    elif g == 1.0 and term_bits <= 53 and unit > 1 and not acc.exact:
        _run_blas(A, B, K, unit, chunk, inner, (p, emin, maxv, mode, lo, ndig), res)
    elif g == 1.0 and term_bits <= 53 and not acc.exact:
        if A.ints is not None and B.ints is not None:
            X, Y, lsb = A.ints, B.ints, math.ldexp(1.0, A.lsb + B.lsb)
        else:
            X, Y, lsb = A.values, B.values, 1.0
        G.gemm_terms(X, Y, SA, SB, K, unit, uA, uB, lsb, inner, chunk, p, emin, maxv, mode, lo, ndig, res)
    else:   # the exact model, and terms that need more than one float64
        G.gemm_split(A.values, B.values, SA, SB, K, unit, uA, uB, g, model, inner, chunk, p, emin, maxv, mode, lo,
                     ndig, res)
    return res


def _unit_scales(X: Operand, rows: int, nunits: int, unit: int) -> np.ndarray:
    """The scale of every unit (rows, nunits): ones for an unscaled operand."""
    if not X.scales.shape[1]:
        return np.ones((rows, nunits))
    return np.ascontiguousarray(X.scales[:, (np.arange(nunits) * unit) // X.unit])


def _run_fp32_steps(A: Operand, B: Operand, K: int, unit: int, steps: int, base: int, ndig: int,
                    res: np.ndarray) -> None:
    """The float32 nearest-even accumulator adding exact chunk sums of ``steps`` terms (an FMA
    chain, one MMA step per scale block, or several blocks per step): vectorised over the
    output columns.

    A term's sum of products is computed exactly in the narrowest type that holds it: int16 for
    int8 element values whose block sums fit 15 bits, float32 for integer-valued sums of 24
    bits, else float64 (53 bits; one product of two values of at most 26 bits always fits).
    """
    from ..kernels.cpu import gemm as G

    M, N = res.shape
    nunits = -(-K // unit)
    SA, SB = _unit_scales(A, M, nunits, unit), _unit_scales(B, N, nunits, unit)
    width = _sum_bits(A, B, unit)
    lsb = math.ldexp(1.0, A.lsb + B.lsb)
    if A.ints is not None and B.ints is not None and width <= 15:
        X, Yt, Pt = A.ints, np.ascontiguousarray(B.ints.T), np.zeros(1, np.int16)
    elif width <= 24 and unit > 1:
        X = (A.ints if A.ints is not None else np.ldexp(A.values, -A.lsb)).astype(np.float32)
        Y = B.ints if B.ints is not None else np.ldexp(B.values, -B.lsb)
        Yt, Pt = np.ascontiguousarray(Y.T, dtype=np.float32), np.zeros(1, np.float32)
    else:
        X, Yt, Pt, lsb = A.values, np.ascontiguousarray(B.values.T), np.zeros(1, np.float64), 1.0
    with np.errstate(invalid="ignore", over="ignore"):
        G.gemm_steps_fp32(X, Yt, SA, np.ascontiguousarray(SB.T), K, unit, steps, lsb, Pt, base, ndig, res)


def _run_blas(A: Operand, B: Operand, K: int, unit: int, chunk: int, inner: int, acc_args: tuple,
              res: np.ndarray) -> None:
    """Float models over scale blocks: each block's products summed by BLAS, exactly.

    Element values divided by 2**lsb are integers; when the largest block sum has at most 24
    (53) bits, every partial sum in any order is exact in float32 (float64), so any IEEE BLAS
    gives the exact block sums. A Numba pass then adds them to the accumulators, chunk by chunk.
    """
    from ..kernels.cpu import gemm as G

    M, N = res.shape
    width = _sum_bits(A, B, unit)
    dt = np.float32 if width <= 24 else np.float64
    lsb = math.ldexp(1.0, A.lsb + B.lsb)
    nunits = -(-K // unit)
    SA, SB = _unit_scales(A, M, nunits, unit), _unit_scales(B, N, nunits, unit)
    cu = max(chunk // unit, 1)
    X = (A.ints if A.ints is not None else np.ldexp(A.values, -A.lsb)).astype(dt)
    Y = (B.ints if B.ints is not None else np.ldexp(B.values, -B.lsb)).astype(dt)
    tm = max(1, min(M, (1 << 22) // max(1, cu * N)))   # rows per tile: the block sums of a chunk stay ~32 MB
    for r0 in range(0, M, tm):
        r1 = min(M, r0 + tm)
        acc = np.zeros((r1 - r0, N))
        for c0 in range(0, nunits, cu):
            n = min(nunits, c0 + cu) - c0
            P = np.empty((n, r1 - r0, N), dtype=dt)
            with np.errstate(invalid="ignore", over="ignore"):   # inf * 0 is NaN, as the model says
                for t in range(n):
                    k0 = (c0 + t) * unit
                    np.matmul(X[r0:r1, k0:k0 + unit], Y[:, k0:k0 + unit].T, out=P[t])
            G.accumulate_partials(acc, P, SA[r0:r1], SB, c0, lsb, inner, *acc_args)
        res[r0:r1] = acc


def dot(a, b, *, a_codec=None, b_codec=None, accumulate: Accumulate | str = "fp32", out="fp32", **kw):
    """The dot product of two vectors of length K under the same rules as :func:`matmul`.

    >>> import numpy as np
    >>> dot(np.array([1.5, 2.0], np.float32), np.array([4.0, 0.25], np.float32), accumulate="exact")
    6.5
    """
    for name, v in (("a", a), ("b", b)):
        if np.ndim(v) != 1:
            raise ValueError(f"dot takes vectors; {name} has shape {np.shape(v)} (use matmul for matrices)")
    y = matmul(np.asarray(a)[None, :], np.asarray(b)[:, None], a_codec=a_codec, b_codec=b_codec,
               accumulate=accumulate, out=out, **kw)
    return float(y[0, 0])
