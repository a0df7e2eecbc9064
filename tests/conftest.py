"""Shared lists of formats and helpers: one test body, many formats."""
from __future__ import annotations

import os

import ml_dtypes
import numpy as np
import pytest
from hypothesis import settings

# CI runs the same hypothesis examples every time (a red build must be reproducible);
# HYPOTHESIS_PROFILE=explore draws new ones on every run, EXPLORE_FACTOR times as many.
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("explore", derandomize=False, deadline=None, max_examples=2000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
EXPLORE = os.environ.get("HYPOTHESIS_PROFILE") == "explore"
EXPLORE_FACTOR = int(os.environ.get("FMTLIB_EXPLORE_FACTOR", "20"))


def examples(n: int) -> int:
    """A property test's example budget: ``n`` in CI, ``n * EXPLORE_FACTOR`` under
    ``HYPOTHESIS_PROFILE=explore`` (``FMTLIB_EXPLORE_FACTOR``, default 20)."""
    return n * EXPLORE_FACTOR if EXPLORE else n

from fmtlib import FloatFormat, Overflow, Rounding, get_format
from fmtlib.reference import round_to_code

#: CI=true (set by .ci/run): every check CI is meant to run must run, so a missing tool or
#: extra that would skip elsewhere fails there.
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def needs(ok: bool, reason: str, *, module: bool = False) -> None:
    """Skip the calling test (or module) with ``reason`` unless ``ok``; under CI=true, fail."""
    if ok:
        return
    if CI:
        pytest.fail(f"CI=true and this check cannot run: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=module)


def needs_module(name: str, reason: str, *, module: bool = False):
    """``import name`` (the module), or :func:`needs` its absence."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        needs(False, reason, module=module)

#: Formats every exhaustive test covers: the issue's list plus custom EjMk formats with odd biases.
EXHAUSTIVE_FORMATS = {
    "e2m1": get_format("e2m1"),
    "e3m2": get_format("e3m2"),
    "e2m3": get_format("e2m3"),
    "e4m3fn": get_format("e4m3fn"),
    "e5m2": get_format("e5m2"),
    "e8m0": get_format("e8m0"),
    "e3m0_b3_none": FloatFormat(3, 0, bias=3, specials="none"),
    "e1m2_b1_none": FloatFormat(1, 2, bias=1, specials="none"),
    "e5m6_b13_ieee": FloatFormat(5, 6, bias=13, specials="ieee"),
    "ue5m3_b9_fn": FloatFormat(5, 3, bias=9, signed=False, specials="fn"),
}

#: ml_dtypes types and the fmtlib format names that must match them bit for bit.
ML_DTYPES = {
    "e2m1": ml_dtypes.float4_e2m1fn,
    "e3m2": ml_dtypes.float6_e3m2fn,
    "e2m3": ml_dtypes.float6_e2m3fn,
    "e4m3": ml_dtypes.float8_e4m3,
    "e4m3fn": ml_dtypes.float8_e4m3fn,
    "e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
    "e4m3b11fnuz": ml_dtypes.float8_e4m3b11fnuz,
    "e5m2": ml_dtypes.float8_e5m2,
    "e5m2fnuz": ml_dtypes.float8_e5m2fnuz,
    "e3m4": ml_dtypes.float8_e3m4,
    "e8m0": ml_dtypes.float8_e8m0fnu,
    "fp16": np.float16,
    "bf16": ml_dtypes.bfloat16,
}
if hasattr(ml_dtypes, "float8_e5m3fnu"):   # ml_dtypes 0.7 and later (pyproject allows 0.5)
    ML_DTYPES["ue5m3"] = ml_dtypes.float8_e5m3fnu

MODES = list(Rounding)
#: the overflow policies of float formats (WRAP is for integers)
FP_OVERFLOWS = [Overflow.SATURATE, Overflow.IEEE]
INPUT_DTYPES = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16}


def all_bit_patterns(dtype) -> np.ndarray:
    """Every 16-bit pattern as an array of ``dtype``."""
    return np.arange(1 << 16, dtype=np.uint16).view(dtype)


#: Parametrize an exhaustive sweep with ``scope``: "sampled" runs in every suite, "full" (the
#: whole domain, minutes) only with ``pytest -m slow``.
SCOPES = ["sampled", pytest.param("full", marks=pytest.mark.slow)]


def float32_sweep(scope: str):
    """``(first index, float32 array)`` chunks: all 2**32 patterns in chunks of 2**26
    (``full``), or 2**22 patterns spread over the whole range with the prime stride 1021,
    so every sign, exponent and many significand bits occur (``sampled``)."""
    if scope == "full":
        step = 1 << 26
        for start in range(0, 1 << 32, step):
            yield start, np.arange(start, start + step, dtype=np.uint64).astype(np.uint32).view(np.float32)
    else:
        yield 0, (np.arange(1 << 22, dtype=np.uint64) * 1021).astype(np.uint32).view(np.float32)


def as_float64_list(xs) -> list[float]:
    """Exact float64 values of any float array (NaN payloads are irrelevant to the oracle)."""
    with np.errstate(invalid="ignore"):
        return np.asarray(xs).astype(np.float64).ravel().tolist()


def oracle_codes(fmt, xs, mode=Rounding.NEAREST_EVEN, overflow=Overflow.IEEE, **kw) -> np.ndarray:
    """The oracle's code for every element of ``xs`` (any float array)."""
    vals = as_float64_list(xs)
    return np.array([round_to_code(fmt, v, mode, overflow, **kw) for v in vals], dtype=np.uint64)


def first_mismatches(actual, expected, xs, n=5) -> str:
    bad = np.flatnonzero(np.asarray(actual, dtype=np.uint64) != np.asarray(expected, dtype=np.uint64))
    rows = [f"x={np.asarray(xs).ravel()[i]!r}: got {int(np.ravel(actual)[i]):#x}, oracle {int(np.ravel(expected)[i]):#x}"
            for i in bad[:n]]
    return f"{bad.size} mismatches; first: " + "; ".join(rows)


def float_bits(a: np.ndarray) -> np.ndarray:
    """Raw bits of a float array (for bit-exact comparison, NaN payloads included)."""
    return a.view({8: np.uint64, 4: np.uint32, 2: np.uint16}[a.dtype.itemsize])


@pytest.fixture(params=list(EXHAUSTIVE_FORMATS), ids=list(EXHAUSTIVE_FORMATS))
def exhaustive_format(request):
    return EXHAUSTIVE_FORMATS[request.param]
