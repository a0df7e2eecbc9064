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

from functools import lru_cache

import numpy as np

#: names that mean bfloat16 where a dtype is given as a string
BFLOAT16_NAMES = ("bfloat16", "bf16")


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


def as_dtype(spec) -> np.dtype:
    """``np.dtype(spec)``, where the strings "bfloat16"/"bf16" load ml_dtypes' bfloat16.

    >>> as_dtype("bf16").name, as_dtype("float32").name
    ('bfloat16', 'float32')
    """
    if isinstance(spec, str) and spec.lower() in BFLOAT16_NAMES:
        return ml_dtype("bfloat16")
    return np.dtype(spec)
