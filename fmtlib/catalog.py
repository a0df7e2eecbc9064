"""The catalogue of named formats, their aliases, and parsing of ``eXmY`` strings.

>>> parse_format("e4m3fn").max
448.0
>>> parse_format("e5m6,bias=13").bias
13
"""
from __future__ import annotations

import difflib
import re

from ._dtypes import dtype_name, integer_name
from .format_names import _ALIASES, _NAMED, is_named  # noqa: F401  (is_named: part of this module's API)
from .formats import FloatFormat

_EXMY = re.compile(r"^(u?)e(\d+)m(\d+)(fnuz|fnu|fn)?$")
_SUFFIX_SPECIALS = {None: "ieee", "fn": "fn", "fnuz": "fnuz", "fnu": "fn"}


def default_specials(mbits: int, suffix: str | None = None) -> str:
    """Specials of an uncatalogued ``eXmY``: IEEE-like, or ``none`` where mbits=0 leaves no NaN code."""
    if suffix is None and mbits == 0:
        return "none"
    return _SUFFIX_SPECIALS[suffix]


def names() -> list[str]:
    """Every registered format name (aliases not included)."""
    return list(_NAMED)


def aliases() -> dict[str, str]:
    """Alias -> canonical name."""
    return dict(_ALIASES)


def _suggest(key: str) -> str:
    pool = list(_NAMED) + list(_ALIASES)
    hits = difflib.get_close_matches(key, pool, n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(h) for h in hits)}?" if hits else ""


def _parse_extras(parts: list[str], name: str) -> dict:
    kw: dict = {}
    for part in parts:
        if "=" not in part:
            raise ValueError(f"cannot parse {part!r} in format {name!r}; expected key=value")
        k, v = (t.strip() for t in part.split("=", 1))
        if k == "bias":
            try:
                kw["bias"] = int(v)
            except ValueError:
                raise ValueError(f"bias must be an integer in format {name!r}, got {v!r}") from None
        elif k in ("signed", "subnormals"):
            if v.lower() not in ("true", "false", "1", "0"):
                raise ValueError(f"{k} must be true or false in format {name!r}, got {v!r}")
            kw[k] = v.lower() in ("true", "1")
        elif k == "specials":
            kw[k] = v
        else:
            raise ValueError(
                f"unknown option {k!r} in format {name!r} (options: bias, signed, subnormals, specials)"
            )
    return kw


def _dtype_format(dname: str) -> str:
    """The catalogue name of the format a float dtype holds (its dtype name is an alias:
    float16, bfloat16, float8_e4m3fn, float4_e2m1fn, ...), or a clear error."""
    if dname.startswith(("float", "bfloat")) and dname in _ALIASES:
        return _ALIASES[dname]
    if integer_name(dname) is not None:
        raise ValueError(f"dtype {dname} is an integer type, not a float format; fmtlib.get(dtype) gives its "
                         "integer codec (fmtlib.Int)")
    floats = sorted(a for a in _ALIASES if a.startswith(("float", "bfloat")))
    raise ValueError(f"dtype {dname} has no exact fmtlib float format (float dtypes fmtlib has: {', '.join(floats)})")


def parse_format(spec: "str | FloatFormat", **overrides) -> FloatFormat:
    """A :class:`FloatFormat` from a name, an alias, an ``eXmY[fn|fnuz][,bias=B,...]`` string,
    or a float dtype (numpy's float16/32/64, ml_dtypes' bfloat16, float8_*, float6_*, float4_*).

    A bare ``eXmY`` not in the catalogue is IEEE-like (inf and NaN at the top exponent);
    ``fn``/``fnuz`` suffixes and ``u`` prefix (unsigned) follow ml_dtypes' naming.
    Keyword ``overrides`` (``bias=``, ``specials=``, ...) replace fields.

    >>> import numpy as np
    >>> parse_format(np.float16).name
    'fp16'
    """
    if isinstance(spec, FloatFormat):
        if not overrides:
            return spec
        fields = dict(ebits=spec.ebits, mbits=spec.mbits, bias=spec.bias, signed=spec.signed,
                      subnormals=spec.subnormals, specials=spec.specials)
        fields.update(overrides)
        return FloatFormat(**fields)
    dname = dtype_name(spec)
    if dname is not None:
        return parse_format(_dtype_format(dname), **overrides)
    if not isinstance(spec, str):
        raise TypeError("a format is a name such as 'e2m1', a FloatFormat or a float dtype such as "
                        f"ml_dtypes.float8_e4m3fn, got {type(spec).__name__}")
    head, *extra = [p.strip() for p in re.split(r"[,\s]+", spec.strip()) if p.strip()] or [""]
    key = head.lower()
    kw = _parse_extras(extra, spec)
    canonical = _ALIASES.get(key, key)
    if canonical in _NAMED:
        ebits, mbits, base = _NAMED[canonical]
        fields = dict(base, **kw)
        fields.update(overrides)
        name = canonical if not (kw or overrides) else ""
        return FloatFormat(ebits, mbits, name=name, **fields)
    m = _EXMY.match(key)
    if m is None:
        raise ValueError(f"unknown format {head!r}{_suggest(key)} (known: {', '.join(_NAMED)}; or any 'eXmY')")
    unsigned, e, mb, suffix = m.groups()
    fields = dict(specials=default_specials(int(mb), suffix), signed=not unsigned)
    fields.update(kw)
    fields.update(overrides)
    return FloatFormat(int(e), int(mb), **fields)


def canonical_name(fmt: FloatFormat) -> str | None:
    """The catalogue name of a format equal to ``fmt``, if any."""
    for n, (e, m, kw) in _NAMED.items():
        if FloatFormat(e, m, **kw) == fmt:
            return n
    return None
