"""Significant data razoring (SDR) and the QRazor pipeline (Lee, Choi, Chang 2025,
"QRazor: Reliable and Effortless 4-bit LLM Quantization by Significant Data Razoring",
arXiv 2501.13331).

QRazor quantizes in two stages. Stage 1 maps floats to a wide integer base (int8 or int16)
with an absmax scale. Stage 2, SDR, compresses every group of those integers to
sign + ``keep`` salient bits per element and one shared shift (the "flag") per group.

- :class:`SDR`: stage 2 alone, on integer arrays. ``encode`` gives a :class:`Razored`
  record (codes and flags), ``decode`` its integers, ``quantize`` both fused.
- :func:`dot`: dot products computed from codes and flags only, as QRazor's
  decompression-free arithmetic unit does.
- :class:`QRazor`: both stages on float data.

This module gathers the three (their code: :mod:`fmtlib.codecs.sdr`,
:mod:`fmtlib.codecs.qrazor`, :mod:`fmtlib.ops.sdr_dot`).
"""
from .codecs.qrazor import QRazor, QRazored
from .codecs.sdr import MAX_BASE_BITS, MAX_FLAG_BITS, MODES, SDR, Razored
from .ops.sdr_dot import dot

__all__ = ["SDR", "Razored", "QRazor", "QRazored", "dot", "MODES", "MAX_BASE_BITS", "MAX_FLAG_BITS"]
