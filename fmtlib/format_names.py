"""The names of the catalogue's formats and their aliases, as plain data (no FloatFormat):
:mod:`fmtlib.catalog` builds the formats from them, and :mod:`fmtlib.formats` reads them to
spell a format out (both import this module, neither imports the other's caller).

>>> is_named("fp8"), is_named("e5m6")
(True, False)
"""
from __future__ import annotations

# name -> (ebits, mbits, keyword arguments). Sources: ml_dtypes (float8 family, sub-byte
# MX types, e8m0fnu, e5m3fnu), OCP MX v1.0 (e2m1, e3m2, e2m3, e8m0), IEEE 754 (fp16, fp32), bf16.
_NAMED: dict[str, tuple[int, int, dict]] = {
    "e2m1": (2, 1, dict(specials="none")),
    "e3m2": (3, 2, dict(specials="none")),
    "e2m3": (2, 3, dict(specials="none")),
    "e4m3": (4, 3, dict(specials="ieee")),
    "e4m3fn": (4, 3, dict(specials="fn")),
    "e4m3fnuz": (4, 3, dict(specials="fnuz", bias=8)),
    "e4m3b11fnuz": (4, 3, dict(specials="fnuz", bias=11)),
    "e5m2": (5, 2, dict(specials="ieee")),
    "e5m2fnuz": (5, 2, dict(specials="fnuz", bias=16)),
    "e3m4": (3, 4, dict(specials="ieee")),
    "e8m0": (8, 0, dict(specials="fn", signed=False, subnormals=False)),
    "ue4m3": (4, 3, dict(specials="fn", signed=False)),
    "ue5m3": (5, 3, dict(specials="fn", signed=False)),
    "fp16": (5, 10, dict(specials="ieee")),
    "bf16": (8, 7, dict(specials="ieee")),
    "fp32": (8, 23, dict(specials="ieee")),
    "fp64": (11, 52, dict(specials="ieee")),
}

_ALIASES = {
    "fp4": "e2m1", "e2m1fn": "e2m1", "float4_e2m1fn": "e2m1", "fp4_e2m1": "e2m1",
    "fp6": "e3m2", "e3m2fn": "e3m2", "float6_e3m2fn": "e3m2", "fp6_e3m2": "e3m2",
    "e2m3fn": "e2m3", "float6_e2m3fn": "e2m3", "fp6_e2m3": "e2m3",
    "float8_e4m3": "e4m3",
    "float8_e4m3fn": "e4m3fn", "fp8_e4m3": "e4m3fn", "fp8": "e4m3fn",
    "float8_e4m3fnuz": "e4m3fnuz", "float8_e4m3b11fnuz": "e4m3b11fnuz",
    "float8_e5m2": "e5m2", "fp8_e5m2": "e5m2",
    "float8_e5m2fnuz": "e5m2fnuz",
    "float8_e3m4": "e3m4",
    "e8m0fnu": "e8m0", "float8_e8m0fnu": "e8m0", "ue8m0": "e8m0",
    "e4m3_scale": "ue4m3",
    "e5m3fnu": "ue5m3", "float8_e5m3fnu": "ue5m3",
    "float16": "fp16", "half": "fp16", "e5m10": "fp16", "binary16": "fp16",
    "bfloat16": "bf16", "e8m7": "bf16",
    "float32": "fp32", "single": "fp32", "e8m23": "fp32", "binary32": "fp32",
    "float64": "fp64", "double": "fp64", "e11m52": "fp64", "binary64": "fp64",
}


def is_named(key: str) -> bool:
    """Whether ``key`` is a catalogue name or alias (which then fixes every field)."""
    k = key.lower()
    return _ALIASES.get(k, k) in _NAMED
