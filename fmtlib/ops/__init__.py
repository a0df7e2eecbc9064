"""Emulated low-precision arithmetic: matrix products with declared accumulation, as golden
references for GEMM kernels (:func:`matmul`, :func:`dot`), and reference layers built on them
(:func:`fp6_llm_linear`, :mod:`fmtlib.ops.quartet`).

>>> import numpy as np
>>> from fmtlib import ops
>>> ops.dot(np.array([1.0, 2.0**-30], np.float32), np.array([1.0, 1.0], np.float32), accumulate="fp32")
1.0
"""
from . import quartet
from .accumulate import Accumulate
from .fp6_llm import fp6_llm_linear, fp6_llm_weights
from .gemm import TENSOR_SCALE, dot, matmul

__all__ = ["Accumulate", "matmul", "dot", "TENSOR_SCALE", "fp6_llm_linear", "fp6_llm_weights", "quartet"]
