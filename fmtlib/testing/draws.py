"""What every golden vector set shares: the schema name and version, the case labels, the
array digests and the random inputs (:class:`Draws`, fmtlib-rng-v1).

>>> Draws(0).unit(2).dtype
dtype('float64')
"""
from __future__ import annotations

import hashlib
import math

import numpy as np

from ..rng import GAMMA, MIX1, MIX2, seed_key

SCHEMA = "fmtlib-vectors"
VERSION = 1
ROW = 64   # element vectors are (rows, 64): every layout, FP6-LLM's included, can pack them

#: case labels of the ``case`` array (per element for element codecs, per row for block codecs)
CASES = {0: "random", 1: "zero", 2: "value", 3: "subnormal_edge", 4: "midpoint", 5: "overflow", 6: "special",
         7: "tiny_block", 8: "huge_block"}
_CASE = {v: k for k, v in CASES.items()}


def sha256(a: np.ndarray) -> str:
    """sha256 of an array's bytes in C order (what the manifest records)."""
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (:func:`fmtlib.rng.mix64`) on a uint64 array, wrapping mod 2**64."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(MIX1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(MIX2)
    return z ^ (z >> np.uint64(31))


class Draws:
    """The random inputs of a vector set, drawn from fmtlib-rng-v1 (:mod:`fmtlib.rng`) keyed
    by ``data_seed``: draw ``j`` (counted from 0 over the life of the object) is
    ``rand64(seed_key(data_seed), j)``. Every number is made from those integers by integer
    operations and exact or correctly rounded float operations (no ``exp``, ``log`` or
    numpy distribution code), so every machine and every numpy version draws the same inputs.

    >>> d = Draws(0)
    >>> from fmtlib.rng import rand64, seed_key
    >>> int(d.raw(1)[0]) == rand64(seed_key(0), 0)
    True
    >>> u = Draws(1).unit(1000)
    >>> bool((u >= 0).all() and (u < 1).all())
    True
    """

    def __init__(self, seed: int) -> None:
        self.key = np.uint64(seed_key(int(seed)))
        self.count = 0

    def raw(self, n: int) -> np.ndarray:
        """The next ``n`` 64-bit random integers (uint64)."""
        i = np.arange(self.count + 1, self.count + n + 1, dtype=np.uint64)
        self.count += n
        return _mix64(self.key + i * np.uint64(GAMMA))

    def unit(self, n: int) -> np.ndarray:
        """``n`` uniform float64 values in [0, 1): the top 53 bits of each draw times 2**-53."""
        return (self.raw(n) >> np.uint64(11)).astype(np.float64) * 2.0**-53

    def integers(self, lo: int, hi: int, n: int) -> np.ndarray:
        """``n`` int64 values in [lo, hi) (a draw modulo hi - lo)."""
        return lo + (self.raw(n) % np.uint64(hi - lo)).astype(np.int64)

    def signs(self, n: int) -> np.ndarray:
        """``n`` values +1.0 or -1.0 (the top bit of a draw)."""
        return np.where(self.raw(n) >> np.uint64(63), -1.0, 1.0)

    def binades(self, lo: float, hi: float, n: int) -> np.ndarray:
        """``n`` magnitudes from ``lo`` to about ``hi`` (positive): a uniform binade
        ``2**e`` between theirs and a uniform significand in it, ``(1 + u) * 2**e`` (one
        correctly rounded addition, an exact scaling), so every binade is drawn equally often."""
        elo, ehi = math.frexp(lo)[1] - 1, math.frexp(hi)[1] - 1
        return np.ldexp(1.0 + self.unit(n), self.integers(elo, ehi + 1, n).astype(np.int32))

    def normal(self, n: int) -> np.ndarray:
        """``n`` values of mean 0 and variance 1, Gaussian-like: ``(u1 + u2 + u3 + u4 - 2) * sqrt(3)``
        (the Irwin-Hall sum of four uniforms; no tails beyond +-2 sqrt(3))."""
        u = self.unit(4 * n).reshape(4, n)
        return (((u[0] + u[1]) + u[2]) + u[3] - 2.0) * math.sqrt(3.0)
