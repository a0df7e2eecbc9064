"""Element-wise conversion kernels: one generic loop per operation, any format pair.

Each takes 1-D contiguous integer views (the raw bits), the two formats' parameter
tuples (:mod:`fmtlib.kernels.params`) and the mode numbers, and writes the output
allocated by the caller. No temporaries, one pass over memory.
"""
import numpy as np
from numba import njit, prange

from ..config import PARALLEL
from .scalar import IEEE, RNE, STOCH, pack, rand_top, unpack


@njit(**PARALLEL)
def convert(src, out, Psrc, Pdst, mode, overflow, key, base, rbits, daz, ftz):
    """out[i] = code of src[i] (format Psrc) rounded into format Pdst."""
    for i in prange(src.size):
        kind, sign, sig, exp = unpack(np.int64(src[i]), Psrc, daz)
        rnd = rand_top(key, base + i, rbits) if mode == STOCH else np.int64(0)
        out[i] = pack(kind, sign, sig, exp, Pdst, mode, overflow, rnd, rbits, ftz)


@njit(**PARALLEL)
def convert_rand(src, rand, out, Psrc, Pdst, mode, overflow, rbits, daz, ftz):
    """As :func:`convert`, stochastic, with the random bits given per element in ``rand``."""
    for i in prange(src.size):
        kind, sign, sig, exp = unpack(np.int64(src[i]), Psrc, daz)
        out[i] = pack(kind, sign, sig, exp, Pdst, mode, overflow, np.int64(rand[i]), rbits, ftz)


@njit(**PARALLEL)
def roundtrip(src, out, Psrc, Pfmt, mode, overflow, key, base, rbits, daz, ftz):
    """Fused quantize: round src into format Pfmt, then back to Psrc (nearest-even)."""
    for i in prange(src.size):
        kind, sign, sig, exp = unpack(np.int64(src[i]), Psrc, daz)
        rnd = rand_top(key, base + i, rbits) if mode == STOCH else np.int64(0)
        code = pack(kind, sign, sig, exp, Pfmt, mode, overflow, rnd, rbits, ftz)
        kind, sign, sig, exp = unpack(code, Pfmt, False)
        out[i] = pack(kind, sign, sig, exp, Psrc, RNE, IEEE, np.int64(0), 1, False)


@njit(**PARALLEL)
def roundtrip_rand(src, rand, out, Psrc, Pfmt, mode, overflow, rbits, daz, ftz):
    """As :func:`roundtrip`, with the random bits given per element in ``rand``."""
    for i in prange(src.size):
        kind, sign, sig, exp = unpack(np.int64(src[i]), Psrc, daz)
        code = pack(kind, sign, sig, exp, Pfmt, mode, overflow, np.int64(rand[i]), rbits, ftz)
        kind, sign, sig, exp = unpack(code, Pfmt, False)
        out[i] = pack(kind, sign, sig, exp, Psrc, RNE, IEEE, np.int64(0), 1, False)
