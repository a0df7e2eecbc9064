"""Error metrics for comparing a tensor with its quantized version.

Every metric takes the reference ``x`` and the approximation ``y`` (same shape), works in
float64, and ignores elements where either is not finite (``summary`` counts them).

>>> import numpy as np
>>> x = np.array([1.0, 2.0, 3.0, 4.0]); y = np.array([1.0, 2.0, 3.0, 4.5])
>>> mse(x, y), round(sqnr_db(x, y), 2), max_abs_error(x, y), max_rel_error(x, y)
(0.0625, 20.79, 0.5, 0.125)
"""
from __future__ import annotations

import math

import numpy as np


def _pair(x, y) -> tuple[np.ndarray, np.ndarray]:
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
    return (x, y) if ok.all() else (x[ok], y[ok])


def mse(x, y) -> float:
    """Mean squared error, mean((x - y)**2)."""
    x, y = _pair(x, y)
    return float(np.mean((x - y) ** 2)) if x.size else math.nan


def sqnr_db(x, y) -> float:
    """Signal-to-quantization-noise ratio in dB: 10 log10(sum x**2 / sum (x - y)**2); inf if exact."""
    x, y = _pair(x, y)
    noise = float(np.sum((x - y) ** 2))
    signal = float(np.sum(x ** 2))
    if noise == 0:
        return math.inf
    return 10 * math.log10(signal / noise) if signal > 0 else -math.inf


def max_abs_error(x, y) -> float:
    """max |x - y|."""
    x, y = _pair(x, y)
    return float(np.max(np.abs(x - y))) if x.size else math.nan


def max_rel_error(x, y) -> float:
    """max |x - y| / |x| over the elements where x != 0."""
    x, y = _pair(x, y)
    nz = x != 0
    return float(np.max(np.abs(x[nz] - y[nz]) / np.abs(x[nz]))) if nz.any() else math.nan


def bias(x, y) -> float:
    """mean(y - x): near 0 for unbiased (e.g. stochastic) rounding."""
    x, y = _pair(x, y)
    return float(np.mean(y - x)) if x.size else math.nan


def summary(x, y) -> dict[str, float]:
    """All metrics at once, with ``nonfinite``: how many elements were left out."""
    xa, ya = np.asarray(x), np.asarray(y)
    _pair(xa, ya)  # validate
    with np.errstate(invalid="ignore"):
        nonfinite = int(np.count_nonzero(~(np.isfinite(xa.astype(np.float64)) & np.isfinite(ya.astype(np.float64)))))
    return {"mse": mse(xa, ya), "sqnr_db": sqnr_db(xa, ya), "max_abs_error": max_abs_error(xa, ya),
            "max_rel_error": max_rel_error(xa, ya), "bias": bias(xa, ya), "nonfinite": nonfinite}
