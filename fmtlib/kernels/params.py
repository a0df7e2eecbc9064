"""The tuple of integers that drives every kernel: a format's numbers, flattened.

One generic kernel serves every format; it reads the format from this tuple. Slot 11 says
which kind of format it is: 0 for a FloatFormat, 1 for an IntFormat. A FloatFormat:

====  ===========  ==========================================================
idx   name         meaning
====  ===========  ==========================================================
0     ebits        exponent field width
1     mbits        mantissa field width
2     bias         exponent bias
3     signed       1 if there is a sign bit
4     subnormals   1 if exponent field 0 holds zero and subnormals
5     specials     0 ieee, 1 fn, 2 fnuz, 3 none
6     max_code     magnitude code of the largest finite value
7     nan_code     canonical NaN code (-1: none)
8     inf_code     +inf code (-1: none)
9     emin         exponent of the smallest normal value
10    emax         floor(log2(max))
11    kind         0
====  ===========  ==========================================================

An IntFormat: (bits, sign_magnitude, signed, min, max, 0, 0, 0, 0, 0, 0, 1).
"""
from __future__ import annotations

from functools import lru_cache

SPECIALS_ID = {"ieee": 0, "fn": 1, "fnuz": 2, "none": 3}


@lru_cache(maxsize=None)
def kernel_params(fmt) -> tuple:
    """The int tuple of :mod:`fmtlib.kernels.params` for a FloatFormat or an IntFormat."""
    from ..integers import IntFormat

    if isinstance(fmt, IntFormat):
        return (fmt.bits, int(fmt.encoding == "sign_magnitude"), int(fmt.signed), fmt.min, fmt.max,
                0, 0, 0, 0, 0, 0, 1)
    return (
        fmt.ebits, fmt.mbits, fmt.bias, int(fmt.signed), int(fmt.subnormals),
        SPECIALS_ID[fmt.specials], fmt.max_code,
        -1 if fmt.nan_code is None else fmt.nan_code,
        -1 if fmt.inf_code is None else fmt.inf_code,
        fmt.emin, fmt.emax, 0,
    )
