"""``fp6_llm_linear``: the arithmetic of FP6-LLM's weight-only GEMM (usyd-fsalab/fp6_llm), as a
golden reference.

The kernel (``fp6_llm/csrc/include/kernel_matmul.cuh``, ``kernel_reduction.cuh``):

1. weights, pre-packed FP6 E3M2 (OC, IC), become float16 in registers: the bit trick, then
   ``__hmul`` by 2**(15 - bias) (exact) and by the row's float16 scale (round to nearest even):
   :meth:`fmtlib.packing.FP6LLM.dequantize`;
2. ``mma.sync.m16n8k16`` float16 x float16 -> float32 steps walk K in order, 64 per tile;
   with ``split_k`` > 1, K's 64-tiles are shared out in contiguous runs (the first
   ``tiles % split_k`` runs one tile longer), each run accumulating from 0;
3. ``split_k == 1``: the float32 accumulator is rounded to float16 (``__float2half_rn``); else
   the runs' float32 partials are summed in order from 0.0f in float32, then rounded to float16.

How one MMA step adds its 16 products to the accumulator is the ``accumulate`` model
(default: exact products summed exactly and added with one float32 rounding,
``Accumulate("fp32", chunk=16)``); NVIDIA does not document the tensor core's internal adder.

>>> import numpy as np
>>> from fmtlib import FP
>>> w = FP("e3m2").encode(np.ones((64, 64), np.float32))
>>> x = np.ones((2, 64), np.float16)
>>> fp6_llm_linear(x, w, np.full(64, 0.5, np.float16))[0, :3]
array([32., 32., 32.], dtype=float16)
"""
from __future__ import annotations

import numpy as np

from ..packing import FP6LLM
from .accumulate import Accumulate
from .gemm import matmul

TILE_K = 64   # TilingConfig::TILE_K = WARP_K = 4 MMA steps of 16


def fp6_llm_weights(weight, scales, shape=None) -> np.ndarray:
    """The float16 weights (OC, IC) the kernel multiplies: ``weight`` is E3M2 codes (OC, IC)
    or FP6-LLM's pre-packed buffer (then ``shape`` = (OC, IC)); ``scales`` float16 (OC,)."""
    layout = FP6LLM(bits=6)
    w = np.asarray(weight)
    if shape is None:
        if w.ndim != 2 or w.dtype.kind not in "iu":
            raise ValueError("weight must be E3M2 codes (OC, IC), or a pre-packed buffer with shape=(OC, IC)")
        shape = w.shape
        w = layout.pack(w)
    return layout.dequantize(w, tuple(shape), "e3m2", scales)


def fp6_llm_linear(x, weight, scales, *, shape=None, split_k: int = 1,
                   accumulate: Accumulate | str | None = None) -> np.ndarray:
    """``x @ W.T`` as FP6-LLM computes it: ``x`` float16 (tokens, IC), ``weight`` E3M2 codes
    (OC, IC) or the pre-packed buffer (with ``shape``), ``scales`` float16 (OC,); returns float16
    (tokens, OC). IC must be a multiple of 64 (the kernel asserts it)."""
    xa = np.asarray(x)
    if xa.dtype != np.float16 or xa.ndim != 2:
        raise TypeError(f"x must be a 2-D float16 array (the kernel reads half), got {xa.dtype} {xa.shape}")
    if isinstance(split_k, bool) or not isinstance(split_k, int) or split_k < 1:
        raise ValueError(f"split_k must be a positive int, got {split_k!r}")
    acc = Accumulate("fp32", chunk=16) if accumulate is None else Accumulate.parse(accumulate)
    w16 = fp6_llm_weights(weight, scales, shape)
    K = w16.shape[1]
    if xa.shape[1] != K:
        raise ValueError(f"x has {xa.shape[1]} input features, the weights {K}")
    if K % TILE_K:
        raise ValueError(f"IC = {K} is not a multiple of {TILE_K} (FP6-LLM's K tile)")
    tiles = K // TILE_K
    if split_k > tiles:
        raise ValueError(f"split_k = {split_k} exceeds the {tiles} K tiles")
    base, extra = divmod(tiles, split_k)
    total = np.zeros((xa.shape[0], w16.shape[0]), np.float32)
    start = 0
    for s in range(split_k):
        n = (base + (1 if s < extra else 0)) * TILE_K
        part = matmul(xa[:, start:start + n], w16[:, start:start + n], accumulate=acc, out="fp32", transpose_b=True)
        total = (total + part) if split_k > 1 else part   # float32 adds in run order, from 0.0f
        start += n
    return total.astype(np.float16)
