"""The ml_dtypes dtypes (bfloat16, float8_*), recognised by name and loaded only when used.

ml_dtypes takes about a second to import, so ``import fmtlib`` does not import it. A
bfloat16 array can only exist once ml_dtypes is loaded, so recognising one needs only its
dtype's name and module; making one (a requested output dtype, a file's BF16 tensor) loads
ml_dtypes then.

>>> import numpy as np
>>> is_bfloat16(np.dtype(np.float16)), is_bfloat16(ml_dtype("bfloat16"))
(False, True)
"""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

#: names that mean bfloat16 where a dtype is given as a string
BFLOAT16_NAMES = ("bfloat16", "bf16")
#: how the names of ml_dtypes' float8/float6/float4 types begin
SMALL_FLOAT_PREFIXES = ("float8_", "float6_", "float4_")


@lru_cache(maxsize=None)
def ml_dtype(name: str) -> np.dtype:
    """``np.dtype(ml_dtypes.<name>)``, importing ml_dtypes on first use."""
    import ml_dtypes

    return np.dtype(getattr(ml_dtypes, name))


def is_ml_dtype(dt, name: str | None = None) -> bool:
    """Whether ``dt`` is an ml_dtypes dtype (named ``name``, if given); never imports ml_dtypes."""
    dt = np.dtype(dt) if not isinstance(dt, np.dtype) else dt
    return dt.type.__module__.split(".")[0] == "ml_dtypes" and (name is None or dt.name == name)


def is_bfloat16(dt) -> bool:
    """Whether ``dt`` is ml_dtypes' bfloat16."""
    return is_ml_dtype(dt, "bfloat16")


def is_small_ml_float(dt) -> bool:
    """Whether ``dt`` is one of ml_dtypes' float8/float6/float4 dtypes, every value of which
    float32 holds exactly (bfloat16 is not one: fmtlib reads it directly)."""
    return is_ml_dtype(dt) and np.dtype(dt).name.startswith("float")


def as_dtype(spec) -> np.dtype:
    """``np.dtype(spec)``, where the strings "bfloat16"/"bf16" and ml_dtypes' float type names
    ("float8_e4m3fn", "float4_e2m1fn", ...) load ml_dtypes.

    >>> as_dtype("bf16").name, as_dtype("float32").name, as_dtype("float8_e5m2").name
    ('bfloat16', 'float32', 'float8_e5m2')
    """
    if isinstance(spec, str) and spec.lower() in BFLOAT16_NAMES:
        return ml_dtype("bfloat16")
    if isinstance(spec, str) and spec.startswith(SMALL_FLOAT_PREFIXES):
        try:
            return ml_dtype(spec)
        except AttributeError:
            raise TypeError(f"data type {spec!r} not understood (ml_dtypes has no such type)") from None
    return np.dtype(spec)


_INT_NAME = re.compile(r"(u?)int(\d+)")


def dtype_name(spec) -> str | None:
    """The name of a numpy dtype or scalar type (``np.float16``, ``ml_dtypes.float8_e4m3fn``,
    ``np.dtype("float8_e5m2")``), or None when ``spec`` is neither; never imports ml_dtypes.

    >>> dtype_name(np.float16), dtype_name(np.dtype(">f4")), dtype_name("e2m1")
    ('float16', 'float32', None)
    """
    if not (isinstance(spec, np.dtype) or (isinstance(spec, type) and issubclass(spec, np.generic))):
        return None
    try:
        return np.dtype(spec).name
    except TypeError:   # an abstract scalar type such as np.floating
        raise TypeError(f"{spec.__name__} is an abstract numpy type; give a concrete dtype such as "
                        "np.float16 or ml_dtypes.float8_e4m3fn") from None


def integer_name(name: str) -> tuple[int, bool] | None:
    """(bits, signed) of an integer dtype's name (int8, uint4, ml_dtypes' int2, ...), else None.

    >>> integer_name("uint4"), integer_name("float16")
    ((4, False), None)
    """
    m = _INT_NAME.fullmatch(name)
    return None if m is None else (int(m.group(2)), not m.group(1))
