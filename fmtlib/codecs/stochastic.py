"""The random-bit keywords of every codec, checked in one place: ``seed``, ``rbits``, ``rand``
and ``index_offset`` (the rules are in :mod:`fmtlib.codecs.protocol`).

>>> import numpy as np
>>> from fmtlib.rounding import Rounding
>>> random_args(Rounding.STOCHASTIC, (2,), None, None, np.array([3, 250], np.uint8), 62)[1:]
(8, array([  3, 250], dtype=uint8))
"""
from __future__ import annotations

import secrets

import numpy as np

from ..rng import seed_key
from ..rounding import Rounding


def check_index_offset(index_offset) -> int:
    """``index_offset`` as an int, or a ValueError."""
    if isinstance(index_offset, bool) or not isinstance(index_offset, (int, np.integer)) or index_offset < 0:
        raise ValueError(f"index_offset must be a non-negative int, got {index_offset!r}")
    return int(index_offset)


def random_args(mode: Rounding, shape: tuple, seed, rbits, rand, max_rbits: int, *, rand_rbits: int | None = None,
                xp=np):
    """(key, rbits, ``rand`` as an array of ``shape``, or None) for a call in ``mode`` on an input of ``shape``.

    Without stochastic rounding every one of seed, rbits, rand must be None (ValueError naming
    the one given). With it: ``rand`` (an integer array of ``shape``, values in
    [0, 2**rbits); not with ``seed``) or ``seed`` (None: a fresh random one) and ``rbits`` in
    1..max_rbits, by default ``max_rbits`` with a seed and, with ``rand``, ``rand_rbits`` (None:
    the width of rand's dtype). ``xp``: the array module of ``rand`` (cupy on the GPU)."""
    if mode is not Rounding.STOCHASTIC:
        for name, v in (("seed", seed), ("rbits", rbits), ("rand", rand)):
            if v is not None:
                raise ValueError(f"{name}= is only used by rounding='stochastic' (rounding is {mode.name.lower()!r})")
        return 0, 1, None
    if rand is not None:
        if seed is not None:
            raise ValueError("give seed= or rand=, not both")
        rand = xp.asarray(rand)
        if np.dtype(rand.dtype).kind not in "iu":
            raise TypeError(f"rand must be an integer array, got dtype {rand.dtype}")
        if tuple(rand.shape) != tuple(shape):
            raise ValueError(f"rand has shape {tuple(rand.shape)}, the input {tuple(shape)}; they must match")
        if rbits is None:
            rbits = 8 * rand.dtype.itemsize if rand_rbits is None else rand_rbits
    rbits = max_rbits if rbits is None else rbits
    if isinstance(rbits, bool) or not isinstance(rbits, (int, np.integer)) or not 1 <= rbits <= max_rbits:
        raise ValueError(f"rbits must be an int in 1..{max_rbits}, got {rbits!r}")
    rbits = int(rbits)
    if rand is not None:
        if rand.size and (int(rand.min()) < 0 or int(rand.max()) >= (1 << rbits)):
            raise ValueError(f"rand values must be in [0, 2**{rbits}); pass rbits= for wider random integers")
        return 0, rbits, rand
    return seed_key(secrets.randbits(64) if seed is None else seed), rbits, None


def moved_rand(rand, axis, xp=np):
    """``rand`` (the input's shape) as the flat int64 array a block kernel reads: the blocked
    ``axis`` moved last, C order (``axis`` None: C order); an empty array for None."""
    if rand is None:
        return xp.zeros(0, dtype=np.int64)
    r = rand if axis is None else xp.moveaxis(rand, axis, -1)
    return xp.ascontiguousarray(r).astype(np.int64, copy=False).reshape(-1)


def no_random(who: str, rounding, seed, rbits, rand, index_offset=0) -> None:
    """For codecs that round no way but their own (SDR's dropped bits aside, transforms): a
    ValueError for any random keyword, and for ``rounding`` other than None."""
    check_index_offset(index_offset)
    if rounding is not None:
        raise ValueError(f"{who} has no rounding= option (it rounds as its config says)")
    for name, v in (("seed", seed), ("rbits", rbits), ("rand", rand)):
        if v is not None:
            raise ValueError(f"{who} has no stochastic rounding: {name}= does not apply")
