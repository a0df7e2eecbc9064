"""Quartet's linear layer (arXiv 2505.14669, IST-DASLab/Quartet), stage by stage, in numpy: the
forward GEMM on Hadamard-rotated QuEST MXFP4 operands, the backward GEMMs on stochastically
rounded MXFP4 operands, returning every quantized intermediate so that a training kernel can
be checked stage by stage.

Rules (from ``quartet_qat/module/linear_fns.py`` and ``src/models/quantization/quantizers``):

- **Forward (QuEST)**: rotate groups of 32 along K with a Hadamard ``H``; per group
  ``std = sqrt(mean(x**2) - mean(x)**2)`` (1 if that is negative), scale
  ``2**floor(log2(gaussian_scale * std + 1e-8))`` with ``gaussian_scale = 2.92247856 / 6``;
  elements ``x / scale`` rounded to E2M1 (saturating at 6); the *trust mask* is
  ``|x / scale| < 6``. ``y = Q(Hx) @ Q(HW).T`` (``H`` orthonormal: this estimates ``x @ W.T``).
- **Backward**: a Hadamard ``Hb`` with random signs rotates each contraction axis; operands
  are quantized with scale ``2**(floor(log2(amax)) - 2)`` and elements
  ``stochastic_round(0.75 * x / scale)`` (the 3/4 keeps every element below 6: no clipping,
  so the rounding stays unbiased); the GEMM's epilogue multiplies by ``alpha = 16/9``.
  ``grad_x = H^T (mask_x * Q(Hb g) @ Q(Hb Wq^T).T)`` and
  ``grad_W = H^T (mask_W * Q(Hb g^T) @ Q(Hb xq^T).T)``, where ``xq``, ``Wq`` are the forward's
  quantized operands.

Our choices where the sources leave room (documented in docs/gemm.md): std in float64; element
rounding nearest-even as the Blackwell conversion does (Quartet's Triton pseudo-quantizer
breaks ties toward zero: ``rounding="toward_zero"`` is not that, so we do not offer it);
the GEMMs use :func:`fmtlib.ops.matmul` with the ``accumulate`` model you pass; the masked
gradients are rotated back in float64 and returned as float32.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x, w = rng.standard_normal((32, 64)).astype(np.float32), rng.standard_normal((32, 64)).astype(np.float32)
>>> f = forward(x, w)
>>> f.y.shape, f.x.record.codes.shape
((32, 32), (32, 64))
>>> b = backward(np.ones((32, 32), np.float32), f, seed=1)
>>> b.grad_x.shape, b.grad_w.shape
((32, 64), (32, 64))
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._arrays import as_float_input
from ..codecs import FP, MX, Encoded
from ..transforms import Hadamard
from .accumulate import Accumulate
from .gemm import matmul

GAUSSIAN_SCALE = 2.92247856 / 6.0   #: QuEST: the Gaussian MSE-optimal clip over E2M1's largest value 6
BACKWARD_PRESCALE = 0.75            #: stochastic-rounding operands are 3/4 of x / scale
BACKWARD_ALPHA = float(np.float32(16 / 9))   #: undoes the 3/4 on both operands in the GEMM epilogue
_MX4 = MX("mxfp4")
_GROUP = 32


@dataclass(frozen=True, eq=False)
class Quantized:
    """An MXFP4 operand of a Quartet GEMM: the MX ``record`` (blocks of 32 along the last axis),
    the ``rotated`` float32 input it quantizes, and for QuEST the trust ``mask``."""

    record: Encoded
    rotated: np.ndarray
    mask: np.ndarray | None = None

    def values(self) -> np.ndarray:
        """The dequantized operand (float32)."""
        return _MX4.decode(self.record)


def _groups(x: np.ndarray) -> np.ndarray:
    if x.ndim != 2 or x.shape[-1] % _GROUP:
        raise ValueError(f"Quartet operands are 2-D with a last axis that is a multiple of {_GROUP}; got {x.shape}")
    return x.reshape(x.shape[0], -1, _GROUP)


def _record(y: np.ndarray, E: np.ndarray, codec, **opts) -> Encoded:
    """MX record of elements ``y`` (already divided by 2**E) and block exponents E."""
    codes = codec.encode(y.reshape(y.shape[0], -1), **opts)
    scales = (np.clip(E, -127, 127) + 127).astype(np.uint8).reshape(y.shape[0], -1)
    return Encoded(codes, scales, codes.shape, 1, _GROUP, _MX4.name)


def quest_quantize(x, *, hadamard: Hadamard | None = None, rounding: str = "nearest_even",
                   gaussian_scale: float = GAUSSIAN_SCALE) -> Quantized:
    """QuEST MXFP4 of the rows of ``x`` (..., K): Hadamard, RMS-based power-of-two scale,
    E2M1 elements, trust mask. Returns a :class:`Quantized`."""
    x, _ = as_float_input(x, "quest_quantize")
    h = Hadamard(_GROUP) if hadamard is None else hadamard
    xh = h.forward(x.astype(np.float32))
    g = _groups(xh.astype(np.float64))
    var = (g * g).mean(axis=-1, keepdims=True) - g.mean(axis=-1, keepdims=True) ** 2
    std = np.where(var >= 0, np.sqrt(np.maximum(var, 0)), 1.0)
    E = np.frexp(gaussian_scale * std + 1e-8)[1] - 1          # floor(log2(s)), exactly
    E = np.clip(E, -127, 127)
    y = np.ldexp(g, -E)                                        # exact
    rec = _record(y, E, FP("e2m1", rounding=rounding, overflow="saturate"))
    return Quantized(rec, xh, (np.abs(y) < 6).reshape(xh.shape))


def sr_quantize(x, *, seed: int, hadamard: Hadamard | None = None) -> Quantized:
    """The backward quantizer: Hadamard, scale ``2**(floor(log2(amax)) - 2)`` per group of 32,
    elements ``0.75 * x / scale`` stochastically rounded to E2M1 (keyed by ``seed`` and the
    flat index)."""
    x, _ = as_float_input(x, "sr_quantize")
    h = Hadamard(_GROUP) if hadamard is None else hadamard
    xh = h.forward(x.astype(np.float32))
    g = _groups(xh.astype(np.float64))
    amax = np.abs(g).max(axis=-1, keepdims=True)
    E = np.where(amax > 0, np.frexp(np.where(amax > 0, amax, 1.0))[1] - 1 - 2, -127)
    E = np.clip(E, -127, 127)
    y = np.ldexp(BACKWARD_PRESCALE * g, -E)                    # 0.75 * g is exact in float64
    rec = _record(y, E, FP("e2m1", rounding="stochastic", overflow="saturate"), seed=seed)
    return Quantized(rec, xh)


@dataclass(frozen=True, eq=False)
class Forward:
    """``y`` (tokens, out) and the quantized operands ``x``, ``w`` with their trust masks."""

    y: np.ndarray
    x: Quantized
    w: Quantized
    hadamard: Hadamard


@dataclass(frozen=True, eq=False)
class Backward:
    """Gradients ``grad_x``, ``grad_w`` (float32) and the four stochastically rounded operands:
    ``g`` (rotated along out), ``wt`` (the forward's quantized W transposed, rotated along
    out), ``gt`` and ``xt`` (rotated along tokens); and the GEMM outputs before masking
    (``grad_x_rotated``, ``grad_w_rotated``)."""

    grad_x: np.ndarray
    grad_w: np.ndarray
    g: Quantized
    wt: Quantized
    gt: Quantized
    xt: Quantized
    grad_x_rotated: np.ndarray
    grad_w_rotated: np.ndarray


def forward(x, w, *, hadamard_seed: int | None = None, rounding: str = "nearest_even",
            accumulate: Accumulate | str = Accumulate("fp32", chunk=32), out="bf16") -> Forward:
    """Quartet's forward GEMM: ``x`` (tokens, K), ``w`` (out, K) as nn.Linear stores it."""
    h = Hadamard(_GROUP, seed=hadamard_seed)
    xq = quest_quantize(x, hadamard=h, rounding=rounding)
    wq = quest_quantize(w, hadamard=h, rounding=rounding)
    y = matmul(xq.record, wq.record, a_codec=_MX4, b_codec=_MX4, accumulate=accumulate, out=out, transpose_b=True)
    return Forward(y, xq, wq, h)


def backward(grad_y, fwd: Forward, *, seed: int, accumulate: Accumulate | str = Accumulate("fp32", chunk=32),
             out="bf16") -> Backward:
    """Quartet's backward GEMMs for the output gradient ``grad_y`` (tokens, out). ``seed`` sets
    the backward Hadamard's signs (``seed``) and the four stochastic roundings (``seed + 1`` ..
    ``seed + 4``: g, Wq^T, g^T, xq^T)."""
    g, _ = as_float_input(grad_y, "backward")
    g = g.astype(np.float32)
    if g.shape != fwd.y.shape:
        raise ValueError(f"grad_y has shape {g.shape}; the forward output is {fwd.y.shape}")
    hb = Hadamard(_GROUP, seed=seed)
    kw = dict(a_codec=_MX4, b_codec=_MX4, accumulate=accumulate, out=out, transpose_b=True, alpha=BACKWARD_ALPHA)
    gq = sr_quantize(g, seed=seed + 1, hadamard=hb)                                     # (T, N) along N
    wt = sr_quantize(np.ascontiguousarray(fwd.w.values().T), seed=seed + 2, hadamard=hb)   # (K, N) along N
    gx = matmul(gq.record, wt.record, **kw)                                             # (T, K), rotated by H
    gt = sr_quantize(np.ascontiguousarray(g.T), seed=seed + 3, hadamard=hb)             # (N, T) along T
    xt = sr_quantize(np.ascontiguousarray(fwd.x.values().T), seed=seed + 4, hadamard=hb)   # (K, T) along T
    gw = matmul(gt.record, xt.record, **kw)                                             # (N, K), rotated by H
    h = fwd.hadamard
    grad_x = h.inverse(np.where(fwd.x.mask, gx.astype(np.float64), 0.0)).astype(np.float32)
    grad_w = h.inverse(np.where(fwd.w.mask, gw.astype(np.float64), 0.0)).astype(np.float32)
    return Backward(grad_x, grad_w, gq, wt, gt, xt, gx, gw)


__all__ = ["forward", "backward", "quest_quantize", "sr_quantize", "Forward", "Backward", "Quantized",
           "GAUSSIAN_SCALE", "BACKWARD_PRESCALE", "BACKWARD_ALPHA"]
