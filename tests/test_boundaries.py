"""float32 and float64 inputs at and around every rounding boundary, against the oracle.

For each pair of neighbouring values of a format: the midpoint and the neighbours
themselves, each with the 1..3 nearest floats on either side; plus the overflow
threshold, max, and the smallest subnormal and half of it.
"""
from fractions import Fraction

import numpy as np
import pytest
from conftest import FP_OVERFLOWS, EXHAUSTIVE_FORMATS, MODES, first_mismatches, oracle_codes

from fmtlib import FP, Rounding
from fmtlib.reference import code_value


#: formats whose every neighbour pair is swept (up to 8 bits); wider ones below, thinned
SMALL = [n for n, f in EXHAUSTIVE_FORMATS.items() if f.bits <= 8]


def boundary_points(fmt, dtype) -> np.ndarray:
    vals = sorted({v for c in range(fmt.num_codes)
                   if isinstance(v := code_value(fmt, c), Fraction) and v >= 0})
    top = vals[-1]
    ulp_top = top - vals[-2] if len(vals) > 1 else top
    pts = set(vals)
    pts.update((a + b) / 2 for a, b in zip(vals, vals[1:]))
    pts.update([top + ulp_top / 2, top + ulp_top, 2 * top, vals[1] / 2 if len(vals) > 1 else top / 2])
    finfo = np.finfo(dtype)
    out = []
    with np.errstate(over="ignore"):
        for p in pts:
            if p > Fraction(float(finfo.max)):
                continue
            x = dtype(float(p))  # nearest float; the neighbours below reach the exact point
            lo = hi = x
            out.append(x)
            for _ in range(3):
                lo, hi = np.nextafter(lo, dtype(-np.inf)), np.nextafter(hi, dtype(np.inf))
                out += [lo, hi]
    a = np.array(out, dtype=dtype)
    a = a[np.isfinite(a)]
    return np.concatenate([a, -a, np.array([0.0, -0.0, np.inf, -np.inf, np.nan], dtype=dtype)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("overflow", FP_OVERFLOWS, ids=[o.name.lower() for o in FP_OVERFLOWS])
@pytest.mark.parametrize("mode", [m for m in MODES if m is not Rounding.STOCHASTIC],
                         ids=[m.name.lower() for m in MODES if m is not Rounding.STOCHASTIC])
@pytest.mark.parametrize("name", SMALL, ids=SMALL)
def test_boundaries(name, dtype, overflow, mode):
    fmt = EXHAUSTIVE_FORMATS[name]
    xs = boundary_points(fmt, dtype)
    got = FP(fmt).encode(xs, rounding=mode, overflow=overflow)
    want = oracle_codes(fmt, xs, mode, overflow)
    assert np.array_equal(got.astype(np.uint64), want), first_mismatches(got, want, xs)


@pytest.mark.parametrize("name", ["e5m6_b13_ieee"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_boundaries_wider_format(name, dtype):
    """A 12-bit format: every 7th neighbour pair, so the sweep stays quick."""
    fmt = EXHAUSTIVE_FORMATS[name]
    xs = boundary_points(fmt, dtype)[::7]
    for mode in (Rounding.NEAREST_EVEN, Rounding.NEAREST_AWAY, Rounding.ODD, Rounding.DOWN):
        got = FP(fmt).encode(xs, rounding=mode)
        want = oracle_codes(fmt, xs, mode)
        assert np.array_equal(got.astype(np.uint64), want), first_mismatches(got, want, xs)


def test_float64_is_not_double_rounded():
    """0.25 + 2**-50 is above the e2m1 midpoint 0.25: rounds to 0.5 (ml_dtypes, via float32, gives 0)."""
    x = np.array([0.25 + 2.0 ** -50, 0.25, -(0.25 + 2.0 ** -50)])
    assert FP("e2m1").quantize(x).tolist() == [0.5, 0.0, -0.5]
