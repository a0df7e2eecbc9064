"""Tools for checking other kernels against fmtlib: ``assert_bitexact`` and golden vectors.

>>> import numpy as np, fmtlib
>>> from fmtlib.testing import assert_bitexact
>>> x = np.linspace(-8, 8, 33, dtype=np.float32)
>>> assert_bitexact(fmtlib.FP("e2m1").encode(x), fmtlib.FP("e2m1").encode(x), fmtlib.FP("e2m1"))
"""
from .bitexact import assert_bitexact
from .vectors import CASES, SCHEMA, VERSION, GoldenVectors, load_vectors, make_vectors, save_vectors, verify_vectors

__all__ = ["assert_bitexact", "make_vectors", "save_vectors", "load_vectors", "verify_vectors", "GoldenVectors",
           "CASES", "SCHEMA", "VERSION"]
