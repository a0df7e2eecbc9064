"""Numba CPU kernels. Imported lazily by the codecs: importing fmtlib compiles nothing."""
