"""The ``nan=`` option of element codecs (FP, Int, Quantile): what a NaN input does.

- ``"ignore"`` (default): the codec's rule applies (a NaN code where the format has one;
  else ±0 for FP, 0 for Int, the level of least magnitude for a code book).
- ``"warn"``: the same, with a ``RuntimeWarning`` that counts the NaNs.
- ``"raise"``: ``ValueError`` before anything is written.

``Scaled`` follows its element's option (its scales already turn a block with a NaN into NaN).

>>> import numpy as np
>>> check("raise", np.array([1.0, np.nan]), "Int(8)")
Traceback (most recent call last):
ValueError: Int(8): the input holds 1 NaN (at flat index 1), and nan='raise'; drop or replace the NaNs first
"""
from __future__ import annotations

import warnings

import numpy as np

from .._backend import is_device_array

#: the values ``nan=`` takes
POLICIES = ("ignore", "warn", "raise")
_CHUNK = 1 << 20


def parse(policy: str) -> str:
    """``policy`` checked and lower-cased."""
    p = str(policy).lower()
    if p not in POLICIES:
        raise ValueError(f"nan must be one of {', '.join(repr(q) for q in POLICIES)}, got {policy!r}")
    return p


def _count(x) -> tuple[int, int]:
    """(number of NaNs, flat index of the first) of a float array (numpy in chunks of 2**20,
    so no temporary the size of the input; cupy in one pass on the device)."""
    flat = x.reshape(-1)
    if is_device_array(x):
        mask = flat != flat
        n = int(mask.sum())
        return n, int(mask.argmax()) if n else -1
    n, first = 0, -1
    for c in range(0, flat.size, _CHUNK):
        m = np.isnan(flat[c:c + _CHUNK])
        k = int(np.count_nonzero(m))
        if k and first < 0:
            first = c + int(m.argmax())
        n += k
    return n, first


def check(policy: str, x, who: str) -> None:
    """Apply ``policy`` to the float array ``x`` about to be encoded by the codec ``who``."""
    if policy == "ignore":
        return
    n, first = _count(x)
    if not n:
        return
    at = f"at flat index {first}" + (", ..." if n > 1 else "")
    msg = f"{who}: the input holds {n} NaN{'s' if n > 1 else ''} ({at}), and nan={policy!r}"
    if policy == "raise":
        raise ValueError(msg + "; drop or replace the NaNs first")
    warnings.warn(msg + ": they are encoded by the codec's rule", RuntimeWarning, stacklevel=5)
