"""Error metrics for comparing a tensor with its quantized version.

Every metric takes the reference ``x`` and the approximation ``y`` (same shape) and works in
float64. ``nonfinite`` says what an element pair with an inf or NaN does:

- ``"propagate"`` (default): the metric is NaN if any element of ``x`` or ``y`` is not finite;
- ``"omit"``: the metric is taken over the pairs where both are finite (:func:`summary`
  counts the others);
- ``"raise"``: ValueError.

A metric of no elements (an empty input, or nothing finite with ``"omit"``) is NaN.

>>> import numpy as np
>>> x = np.array([1.0, 2.0, 3.0, 4.0]); y = np.array([1.0, 2.0, 3.0, 4.5])
>>> mse(x, y), round(sqnr_db(x, y), 2), max_abs_error(x, y), max_rel_error(x, y)
(0.0625, 20.79, 0.5, 0.125)
>>> mse([1.0, 2.0], [np.nan, 2.0]), mse([1.0, 2.0], [np.nan, 2.0], nonfinite="omit")
(nan, 0.0)
"""
from __future__ import annotations

import math

import numpy as np

#: values of ``nonfinite=``
NONFINITE = ("propagate", "omit", "raise")


def _pair(x, y, nonfinite: str = "propagate") -> tuple[np.ndarray, np.ndarray] | None:
    """(x, y) as flat float64 arrays of the pairs to use, or None where the metric is NaN."""
    if nonfinite not in NONFINITE:
        raise ValueError(f"nonfinite must be one of {', '.join(repr(n) for n in NONFINITE)}, got {nonfinite!r}")
    x = np.asarray(x)
    y = np.asarray(y)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    for name, a in (("x", x), ("y", y)):
        if a.dtype.kind not in "fiu":
            raise TypeError(f"{name} must be a real numeric array, got dtype {a.dtype}")
    x = x.astype(np.float64, copy=False).ravel()
    y = y.astype(np.float64, copy=False).ravel()
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.all():
        if nonfinite == "raise":
            bad = int(ok.size - np.count_nonzero(ok))
            raise ValueError(f"{bad} element pair(s) hold inf or NaN (first at flat index {int(np.argmin(ok))}); "
                             "pass nonfinite='omit' to leave them out")
        if nonfinite == "propagate":
            return None
        x, y = x[ok], y[ok]
    return (x, y) if x.size else None


def mse(x, y, *, nonfinite: str = "propagate") -> float:
    """Mean squared error, mean((x - y)**2)."""
    p = _pair(x, y, nonfinite)
    return math.nan if p is None else float(np.mean((p[0] - p[1]) ** 2))


def sqnr_db(x, y, *, nonfinite: str = "propagate") -> float:
    """Signal-to-quantization-noise ratio in dB: 10 log10(sum x**2 / sum (x - y)**2); inf if
    exact (and x is not all zeros)."""
    p = _pair(x, y, nonfinite)
    if p is None:
        return math.nan
    with np.errstate(over="ignore"):   # _sqnr handles it
        return _sqnr(p[0], p[1], p[0] - p[1])


def _sqnr(x: np.ndarray, y: np.ndarray, d: np.ndarray, d2: np.ndarray | None = None) -> float:
    """:func:`sqnr_db` of finite float64 pairs ``x, y`` with ``d = x - y`` (``d2``: its squares,
    if the caller has them). Where a square, a sum or ``d`` itself passes float64's range (values
    near 1e308), the same ratio of halves scaled by a power of two."""
    with np.errstate(over="ignore"):
        noise, signal = float(np.sum(d ** 2 if d2 is None else d2)), float(np.sum(x ** 2))
    if math.isinf(noise) or math.isinf(signal):
        xh, dh = x * 0.5, x * 0.5 - y * 0.5
        k = -math.frexp(float(max(np.max(np.abs(xh)), np.max(np.abs(dh)))))[1]
        noise, signal = float(np.sum(np.ldexp(dh, k) ** 2)), float(np.sum(np.ldexp(xh, k) ** 2))
    if noise == 0:
        return math.inf
    if not signal > 0:
        return -math.inf
    r = signal / noise   # its log, or, where the ratio itself leaves float64's range, the logs' difference
    return 10 * (math.log10(r) if 0 < r < math.inf else math.log10(signal) - math.log10(noise))


def max_abs_error(x, y, *, nonfinite: str = "propagate") -> float:
    """max |x - y|."""
    p = _pair(x, y, nonfinite)
    return math.nan if p is None else float(np.max(np.abs(p[0] - p[1])))


def _rel(x, y, nonfinite: str) -> np.ndarray | None:
    p = _pair(x, y, nonfinite)
    if p is None:
        return None
    nz = p[0] != 0
    return np.abs(p[0][nz] - p[1][nz]) / np.abs(p[0][nz]) if nz.any() else None


def max_rel_error(x, y, *, nonfinite: str = "propagate") -> float:
    """max |x - y| / |x| over the elements where x != 0 (1.0 wherever one became 0)."""
    r = _rel(x, y, nonfinite)
    return math.nan if r is None else float(np.max(r))


def median_rel_error(x, y, *, nonfinite: str = "propagate") -> float:
    """The median of |x - y| / |x| over the elements where x != 0: the typical relative error.

    >>> median_rel_error([1.0, 2.0, 4.0, 8.0], [1.0, 2.5, 4.0, 0.0])
    0.125
    """
    r = _rel(x, y, nonfinite)
    return math.nan if r is None else float(np.median(r))


def bias(x, y, *, nonfinite: str = "propagate") -> float:
    """mean(y - x): near 0 for unbiased (e.g. stochastic) rounding."""
    p = _pair(x, y, nonfinite)
    return math.nan if p is None else float(np.mean(p[1] - p[0]))


def summary(x, y) -> dict[str, float]:
    """Every metric over the pairs where x and y are both finite (``nonfinite="omit"``), with
    the counts of the others: ``nonfinite_in`` (x is inf or NaN), ``nonfinite_out`` (x is
    finite, y is not: the codec made it), ``nonfinite`` (their sum), and ``n`` (the pairs used).

    >>> s = summary([1.0, float("nan"), 3.0, 4.0], [1.0, float("nan"), float("inf"), 4.5])
    >>> s["mse"], s["nonfinite_in"], s["nonfinite_out"], s["n"]
    (0.125, 1, 1, 2)
    """
    xa, ya = np.asarray(x), np.asarray(y)
    p = _pair(xa, ya, "omit")  # validates; the pairs once, for every metric (the functions' own expressions)
    xf = np.isfinite(xa.astype(np.float64, copy=False))
    yf = np.isfinite(ya.astype(np.float64, copy=False))
    n_in = int(xf.size - np.count_nonzero(xf))
    n_out = int(np.count_nonzero(xf & ~yf))
    nan = math.nan
    m = dict(mse=nan, sqnr_db=nan, max_abs_error=nan, max_rel_error=nan, median_rel_error=nan, bias=nan)
    if p is not None:
        d = p[0] - p[1]
        d2 = d ** 2
        m.update(mse=float(np.mean(d2)), max_abs_error=float(np.max(np.abs(d))),
                 bias=float(np.mean(p[1] - p[0])), sqnr_db=_sqnr(p[0], p[1], d, d2))
        nz = p[0] != 0
        if nz.any():
            r = np.abs(d) / np.abs(p[0]) if nz.all() else np.abs(d[nz]) / np.abs(p[0][nz])
            m.update(max_rel_error=float(np.max(r)), median_rel_error=float(np.median(r)))
    return {**m, "nonfinite": n_in + n_out, "nonfinite_in": n_in, "nonfinite_out": n_out,
            "n": int(np.count_nonzero(xf & yf))}
