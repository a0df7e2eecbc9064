"""The exact rule of :class:`~fmtlib.Quantile`: which level a real number becomes.

Written from the definitions with ``Fraction``; the kernels in
``fmtlib/kernels/cpu/codebook.py`` are tested against it.

>>> quantile_index([-1.0, 0.0, 0.5, 1.0], 0.25)    # tie between 0 (index 1) and 0.5 -> even index
2
>>> quantile_index([-1.0, 0.0, 0.5, 1.0], 0.25, thresholds=[-0.5, 0.25, 0.75])   # ties go below
1
"""
from __future__ import annotations

import math
from fractions import Fraction

from ..rounding import Rounding


def nan_index(levels) -> int:
    """The level NaN becomes: the one of least magnitude (the positive one of a pair)."""
    return min(range(len(levels)), key=lambda i: (abs(levels[i]), levels[i] < 0))


def quantile_index(levels, y, rounding: Rounding | str = Rounding.NEAREST_EVEN, *, thresholds=None,
                   rand: int | None = None, rbits: int = 24) -> int:
    """Index into ``levels`` (increasing floats) of the real number ``y`` (float or Fraction).

    - NaN: :func:`nan_index`. y at or beyond an end level: that end (all modes).
    - y equal to a level: that level. Otherwise a = levels[i] < y < b = levels[i + 1]:
    - ``nearest_even``: the nearer; a tie goes to the even index. ``nearest_away``: a tie
      goes to the larger magnitude (for a == -b: the side of y's sign bit).
    - ``thresholds`` given (nearest modes): the number of thresholds strictly below y.
    - ``down``: a; ``up``: b; ``toward_zero``: a for y > 0 (and +0), b for y < 0 (and -0).
    - ``stochastic``: b iff ``rand * (b - a) < (y - a) * 2**rbits``, ``rand`` in [0, 2**rbits).
    """
    mode = Rounding.parse(rounding)
    n = len(levels)
    if isinstance(y, float) and math.isnan(y):
        return nan_index(levels)
    neg = y < 0 or (isinstance(y, float) and math.copysign(1.0, y) < 0)
    if isinstance(y, float) and math.isinf(y):
        return n - 1 if y > 0 else 0
    v = Fraction(y)
    L = [Fraction(lv) for lv in levels]
    if v >= L[-1]:
        return n - 1
    if v <= L[0]:
        return 0
    i = max(k for k in range(n) if L[k] <= v)
    if L[i] == v:
        return i
    a, b = L[i], L[i + 1]
    if mode in (Rounding.NEAREST_EVEN, Rounding.NEAREST_AWAY):
        if thresholds is not None:
            return sum(1 for t in thresholds if Fraction(t) < v)
        da, db = v - a, b - v
        if da != db:
            return i if da < db else i + 1
        if mode is Rounding.NEAREST_EVEN:
            return i if i % 2 == 0 else i + 1
        if abs(a) != abs(b):
            return i if abs(a) > abs(b) else i + 1
        return i if neg else i + 1
    if mode is Rounding.DOWN:
        return i
    if mode is Rounding.UP:
        return i + 1
    if mode is Rounding.TOWARD_ZERO:
        return i + 1 if neg else i
    if mode is Rounding.STOCHASTIC:
        if rand is None or not 0 <= rand < (1 << rbits):
            raise ValueError(f"stochastic rounding needs rand in [0, 2**{rbits})")
        return i + 1 if rand * (b - a) < (v - a) * (1 << rbits) else i
    raise ValueError(f"rounding {mode.name.lower()!r} does not apply to a code book")
