"""Counter-based random bits keyed by (seed, flat element index): ``fmtlib-rng-v1``.

The same element gets the same random bits whatever the thread count, chunking or
device, so stochastic rounding is reproducible everywhere. Element ``i`` gets output
``i`` of SplitMix64 (Steele, Lea & Flood 2014) started from a key derived from the seed:
a handful of 64-bit integer operations that CUDA C repeats exactly::

    key  = mix(seed + GAMMA)                       # once per call
    r(i) = mix(key + (i + 1) * GAMMA)              # per element, mod 2**64

    mix(z): z = (z ^ z >> 30) * 0xBF58476D1CE4E5B9
            z = (z ^ z >> 27) * 0x94D049BB133111EB
            return z ^ z >> 31

A stochastic rounding that uses ``r`` random bits takes the top ``r`` bits of ``r(i)``.

>>> rand64(seed_key(0), 0) == rand64(seed_key(0), 0)
True
"""
from __future__ import annotations

GAMMA = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB
_M64 = (1 << 64) - 1


def mix64(z: int) -> int:
    """SplitMix64's finaliser (Stafford variant 13) on a 64-bit integer."""
    z &= _M64
    z = ((z ^ (z >> 30)) * MIX1) & _M64
    z = ((z ^ (z >> 27)) * MIX2) & _M64
    return z ^ (z >> 31)


def seed_key(seed: int) -> int:
    """The per-call key derived from a user seed in ``[0, 2**64)``."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed < (1 << 64):
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return mix64(seed + GAMMA)


def rand64(key: int, index: int) -> int:
    """The 64 random bits of element ``index`` under ``key`` (pure Python reference)."""
    return mix64(key + (index + 1) * GAMMA)


def rand_bits(key: int, index: int, rbits: int) -> int:
    """The top ``rbits`` bits of :func:`rand64`: the integer stochastic rounding adds."""
    return rand64(key, index) >> (64 - rbits)
