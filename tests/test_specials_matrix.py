"""The NaN / inf / overflow matrix (issue 9, item 5): each specials policy x overflow policy x
rounding mode on the edge inputs, pinned to the rules of docs/rounding.md ("Overflow",
"NaN, zero and signs") for nearest-even and checked against the oracle for every mode."""
import math

import numpy as np
import pytest
from conftest import as_float64_list, oracle_codes

from fmtlib import FP, Rounding
from fmtlib.reference import round_to_code
from fmtlib.rounding import Overflow

NAN = math.nan
INF = math.inf
#: inputs, by name: zeros, infinities, NaN with payloads, max, max + ulp, the overflow tie,
#: the smallest subnormal and half of it (the tie with zero)
NAMES = ["+0", "-0", "+inf", "-inf", "nan", "-nan", "snan", "max", "-max", "max+ulp", "tie", "-tie", "tiny",
         "tiny/2", "-tiny/2"]

#: format -> (max, ulp at the top, smallest positive value)
EDGES = {"e5m2": (57344.0, 8192.0, 2.0**-16), "e4m3fn": (448.0, 32.0, 2.0**-9), "e4m3fnuz": (240.0, 16.0, 2.0**-10),
         "e2m1": (6.0, 2.0, 0.5), "e8m0": (2.0**127, 2.0**127, 2.0**-127)}

#: nearest-even results (None: NaN; "-0": negative zero) per format and overflow policy
WANT = {
    ("e5m2", "ieee"): [0, "-0", INF, -INF, None, None, None, 57344, -57344, INF, INF, -INF, 2.0**-16, 0, "-0"],
    ("e5m2", "saturate"): [0, "-0", 57344, -57344, None, None, None, 57344, -57344, 57344, 57344, -57344, 2.0**-16,
                           0, "-0"],
    # the tie 464 goes to 448, whose significand is even; inf and overflow are NaN (no inf code)
    ("e4m3fn", "ieee"): [0, "-0", None, None, None, None, None, 448, -448, None, 448, -448, 2.0**-9, 0, "-0"],
    ("e4m3fn", "saturate"): [0, "-0", 448, -448, None, None, None, 448, -448, 448, 448, -448, 2.0**-9, 0, "-0"],
    # fnuz: no -0 (it is +0), the tie 248 goes up (240 is odd) and overflows to NaN
    ("e4m3fnuz", "ieee"): [0, 0, None, None, None, None, None, 240, -240, None, None, None, 2.0**-10, 0, 0],
    ("e4m3fnuz", "saturate"): [0, 0, 240, -240, None, None, None, 240, -240, 240, 240, -240, 2.0**-10, 0, 0],
    # no inf, no NaN: overflow clamps under both policies; NaN becomes the zero of the opposite sign
    ("e2m1", "ieee"): [0, "-0", 6, -6, "-0", 0, "-0", 6, -6, 6, 6, -6, 0.5, 0, "-0"],
    ("e2m1", "saturate"): [0, "-0", 6, -6, "-0", 0, "-0", 6, -6, 6, 6, -6, 0.5, 0, "-0"],
    # unsigned, no zero: 0 and negatives are NaN (ieee) or clamp; values below 2**-127 clamp to it
    ("e8m0", "ieee"): [None, None, None, None, None, None, None, 2.0**127, None, None, None, None, 2.0**-127,
                       2.0**-127, None],
    ("e8m0", "saturate"): [2.0**-127, 2.0**-127, 2.0**127, 2.0**-127, None, None, None, 2.0**127, 2.0**-127,
                           2.0**127, 2.0**127, 2.0**-127, 2.0**-127, 2.0**-127, 2.0**-127],
}


def _inputs(name: str) -> np.ndarray:
    top, ulp, tiny = EDGES[name]
    vals = [0.0, -0.0, INF, -INF, NAN, -NAN, 0.0, top, -top, top + ulp, top + ulp / 2, -(top + ulp / 2), tiny,
            tiny / 2, -tiny / 2]
    x = np.array(vals, dtype=np.float64)
    x[NAMES.index("-nan")] = -np.abs(np.float64(NAN))
    x[NAMES.index("nan")] = np.abs(np.uint64(0x7FF8000000000123).view(np.float64))          # a payload
    x[NAMES.index("snan")] = np.uint64(0x7FF0000000000001).view(np.float64)                 # signalling
    return x


@pytest.mark.parametrize("overflow", ["ieee", "saturate"])
@pytest.mark.parametrize("name", list(EDGES))
def test_pinned_nearest_even(name, overflow):
    x = _inputs(name)
    got = FP(name).quantize(x, overflow=overflow)
    for i, (label, want) in enumerate(zip(NAMES, WANT[(name, overflow)])):
        g = got[i]
        if want is None:
            assert np.isnan(g), (label, g)
        elif want == "-0":
            assert g == 0 and np.signbit(g), (label, g)
        else:
            assert g == want and (want != 0 or not np.signbit(g)), (label, g, want)


@pytest.mark.parametrize("overflow", [Overflow.IEEE, Overflow.SATURATE], ids=["ieee", "saturate"])
@pytest.mark.parametrize("mode", list(Rounding), ids=[m.name.lower() for m in Rounding])
@pytest.mark.parametrize("name", list(EDGES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_every_mode_matches_the_oracle(name, mode, overflow, dtype):
    with np.errstate(over="ignore", invalid="ignore"):   # float32: max + ulp of e8m0 becomes inf
        x = _inputs(name).astype(dtype)
    fmt = FP(name).format
    kw, okw = {}, {}
    if mode is Rounding.STOCHASTIC:
        rand = np.arange(x.size, dtype=np.int64) * 0x2545F491 % (1 << 20)
        kw, okw = {"rand": rand, "rbits": 20}, {"rand": rand, "rbits": 20}
    got = FP(name).encode(x, rounding=mode, overflow=overflow, **kw)
    if okw:
        vals = as_float64_list(x)
        want = np.array([round_to_code(fmt, v, mode, overflow, rand=int(r), rbits=20)
                         for v, r in zip(vals, okw["rand"])], dtype=np.uint64)
    else:
        want = oracle_codes(fmt, x, mode, overflow)
    np.testing.assert_array_equal(got.astype(np.uint64), want)
