"""Code books: the level tables of :class:`~fmtlib.Quantile`, from bitsandbytes and by construction.

Tables are float32 values in increasing order. bitsandbytes keeps its tables as float32
tensors (``bitsandbytes/functional.py``: ``get_4bit_type``, ``create_normal_map``,
``create_dynamic_map``); the constants here are those tensors' exact values.

>>> nf4_levels()[:3]
[-1.0, -0.6961928009986877, -0.5250730514526367]
>>> len(dynamic_levels()), dynamic_levels()[-1]
(256, 1.0)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

#: NF4 (QLoRA), bitsandbytes ``get_4bit_type("nf4")``: code i is level i.
NF4 = (
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
)

#: bitsandbytes FP4 (``get_4bit_type("fp4")``): E2M1 with bias 2 and its own bit order,
#: divided by 12. Code ``s<<3 | m`` has value ``(-1)**s * _FP4_MAG[m] / 12``.
_FP4_MAG = (0.0, 0.0625, 8.0, 12.0, 4.0, 6.0, 2.0, 3.0)

#: bitsandbytes ``create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)`` as
#: float32 bits, in increasing order (its torch float32 ``linspace`` is not reproducible with
#: numpy to the last bit, so the table is stored).
_DYNAMIC_HEX = (
    "bf7e3333bf7a999abf770000bf736666bf6fcccdbf6c3333bf68999abf650000bf616666bf5dcccdbf5a3333bf56999a"
    "bf530000bf4f6666bf4bcccdbf483333bf44999abf410000bf3d6666bf39cccdbf363334bf32999abf2f0000bf2b6666"
    "bf27cccdbf243334bf20999abf1d0000bf196666bf15cccdbf123334bf0e999abf0b0000bf076666bf03ccccbf003333"
    "bef93332bef20000beeaccccbee3999abedc6666bed53333bece0000bec6ccccbebf999abeb86666beb13333beaa0000"
    "bea2ccccbe9b999abe946666be8d3334be860000be7d9999be6f3333be60cccdbe526666be440000be35999abe273333"
    "be18cccdbe0a6666bdf80000bddb3334bdc9eb85bdc428f7bdbe6667bdb8a3d7bdb2e148bdad1eb8bda75c2abda1999a"
    "bd9bd70abd96147bbd9051ebbd8a8f5dbd84cccdbd7e147bbd728f5dbd670a3dbd5b851fbd500000bd447ae1bd38f5c3"
    "bd2d70a3bd21eb85bd166667bd0ae148bcfeb852bce7ae15bcd0a3d7bcb9999abca28f5dbc8b851fbc68f5c3bc3ae148"
    "bc1f3b64bc160418bc0ccccdbc039581bbf4bc6abbe24dd3bbcfdf3bbbbd70a4bbab020dbb989374bb8624ddbb676c8a"
    "bb428f5cbb1db22dbaf1a9fcbaa7ef9dba7765ffba59e83eba3c6a80ba1eecc1ba016f01b9c7e283b98ce705b923d70b"
    "b8ba1f4bb88aefb3b8378034b7b24206b70205ffb65a1a94b513a3b7000000003513a3b7365a1a94370205ff37b24206"
    "38378034388aefb338ba1f4b3923d70b398ce70539c7e2833a016f013a1eecc13a3c6a803a59e83e3a7765ff3aa7ef9d"
    "3af1a9fc3b1db22d3b428f5c3b676c8a3b8624dd3b9893743bab020d3bbd70a43bcfdf3b3be24dd33bf4bc6a3c039581"
    "3c0ccccd3c1604183c1f3b643c3ae1483c68f5c33c8b851f3ca28f5d3cb9999a3cd0a3d73ce7ae153cfeb8523d0ae148"
    "3d1666673d21eb853d2d70a33d38f5c33d447ae13d5000003d5b851f3d670a3d3d728f5d3d7e147b3d84cccd3d8a8f5d"
    "3d9051eb3d96147b3d9bd70a3da1999a3da75c2a3dad1eb83db2e1483db8a3d73dbe66673dc428f73dc9eb853ddb3334"
    "3df800003e0a66663e18cccd3e2733333e35999a3e4400003e5266663e60cccd3e6f33333e7d99993e8600003e8d3334"
    "3e9466663e9b999a3ea2cccc3eaa00003eb133333eb866663ebf999a3ec6cccc3ece00003ed533333edc66663ee3999a"
    "3eeacccc3ef200003ef933323f0033333f03cccc3f0766663f0b00003f0e999a3f1233343f15cccd3f1966663f1d0000"
    "3f20999a3f2433343f27cccd3f2b66663f2f00003f32999a3f3633343f39cccd3f3d66663f4100003f44999a3f483333"
    "3f4bcccd3f4f66663f5300003f56999a3f5a33333f5dcccd3f6166663f6500003f68999a3f6c33333f6fcccd3f736666"
    "3f7700003f7a999a3f7e33333f800000"
)


def nf4_levels() -> list[float]:
    """The 16 NF4 levels (bitsandbytes' constants), increasing; code = index."""
    return list(NF4)


def fp4_levels() -> tuple[list[float], list[int]]:
    """bitsandbytes FP4: (levels increasing, code of each level). ``-0`` (code 8) and ``+0``
    (code 0) are two levels; see :class:`~fmtlib.Quantile` for signed zeros."""
    pairs = []
    for code in range(16):
        v = np.float32(_FP4_MAG[code & 7]) / np.float32(12.0)
        pairs.append((float(-v if code & 8 else v), code))
    pairs.sort(key=lambda p: (p[0], not math.copysign(1.0, p[0]) < 0))
    return [p[0] for p in pairs], [p[1] for p in pairs]


def dynamic_levels() -> list[float]:
    """bitsandbytes' signed 8-bit dynamic map (256 levels, -0.99297 .. 1.0)."""
    bits = np.frombuffer(bytes.fromhex("".join(_DYNAMIC_HEX)), dtype=">u4").astype(np.uint32)
    return bits.view(np.float32).astype(np.float64).tolist()


def dynamic_exponent_levels(bits: int = 8, signed: bool = True, max_exponent_bits: int = 7) -> list[float]:
    """Dettmers' dynamic-exponent map (arXiv 1511.04561), built as bitsandbytes'
    ``create_dynamic_map`` does, in float64 and rounded once to float32: for exponent
    i = 0..max_exponent_bits-1, the means of neighbouring points of ``linspace(0.1, 1, n_i)``
    times ``10**(i - max_exponent_bits + 1)``, mirrored when signed, plus 0 and 1.

    bitsandbytes computes the linspace in torch float32, so its table can differ from this
    one in the last bit of some levels; :func:`dynamic_levels` is its exact table.
    """
    if signed and bits < 2 or not 1 <= max_exponent_bits <= bits - int(signed):
        raise ValueError(f"max_exponent_bits must be in 1..{bits - int(signed)}, got {max_exponent_bits}")
    rest = bits - 1  # bitsandbytes counts one bit as the sign even for unsigned maps
    data = []

    def means(n):
        pts = np.linspace(0.1, 1.0, n)
        return (pts[:-1] + pts[1:]) / 2.0

    i = 0
    for i in range(max_exponent_bits):
        n = 2 ** (i + rest - max_exponent_bits) + 1 if signed else 2 ** (i + rest - max_exponent_bits + 1) + 1
        m = 10.0 ** (-(max_exponent_bits - 1) + i) * means(int(n))
        data += m.tolist() + ((-m).tolist() if signed else [])
    extra = 2 ** (rest - max_exponent_bits) - 1
    if extra > 0:
        m = 10.0 ** (-(max_exponent_bits - 1) + i) * means(extra + 1)
        data += m.tolist() + ((-m).tolist() if signed else [])
    data += [0.0, 1.0]
    vals = np.unique(np.asarray(data, dtype=np.float64).astype(np.float32)).astype(np.float64)
    return (vals / vals.max()).tolist()


def normal_levels(bits: int = 4, offset: float = 0.9677083, symmetric: bool = False) -> list[float]:
    """NormalFloat levels (QLoRA, arXiv 2305.14314), built as bitsandbytes'
    ``create_normal_map``: 2**(bits-1) positive quantiles of N(0, 1) at ``linspace(offset,
    0.5, 2**(bits-1) + 1)``, 2**(bits-1) - 1 negative ones, and 0, divided by the largest,
    rounded to float32. ``symmetric=True`` (bitsandbytes ``use_extra_value=False``) takes
    2**(bits-1) - 1 levels on each side. ``bits=4`` gives NF4 to within a few float32 ulps
    (bitsandbytes' torch float32 linspace differs from numpy's in the last bit); :func:`nf4_levels` holds its exact constants.
    """
    if isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= 8:
        raise ValueError(f"bits must be an int in 2..8, got {bits!r}")
    if not 0.5 < offset < 1.0:
        raise ValueError(f"offset must be in (0.5, 1), got {offset!r}")
    ppf = NormalDist().inv_cdf
    half = 2 ** (bits - 1)
    pos_n = half if not symmetric else half - 1

    def points(n):  # bitsandbytes' quantile points are float32
        return np.linspace(offset, 0.5, n).astype(np.float32)[:-1].astype(np.float64)

    pos = [ppf(p) for p in points(pos_n + 1)]
    neg = [-ppf(p) for p in points(half)]
    vals = np.array(sorted(pos + neg + [0.0]), dtype=np.float32)
    return (vals / vals.max()).astype(np.float64).tolist()  # float32 division, as bitsandbytes


class LevelTable:
    """What a table of increasing ``levels`` with ``bits``-bit codes answers, for
    :class:`CodeBook` and :class:`fmtlib.Quantile` alike."""

    levels: tuple
    bits: int

    @property
    def num_codes(self) -> int:
        """2**bits."""
        return 1 << self.bits

    @property
    def code_dtype(self) -> np.dtype:
        """uint8 up to 8 bits, else uint16."""
        return np.dtype(np.uint8 if self.bits <= 8 else np.uint16)

    @property
    def max(self) -> float:
        """Largest level."""
        return self.levels[-1]

    @property
    def min(self) -> float:
        """Smallest level."""
        return self.levels[0]


@dataclass(frozen=True)
class CodeBook(LevelTable):
    """The format of a code book, as :class:`~fmtlib.formats.FloatFormat` is that of a
    minifloat: ``bits``-bit codes, ``codes[k]`` the code of ``levels[k]`` (float32 values,
    increasing), ``aliases`` extra (code, value) pairs that decode but are never produced.
    :attr:`fmtlib.Quantile.format` and the ``element`` of a code-book ``Scaled`` are one.

    >>> from fmtlib import Quantile
    >>> f = Quantile.nf4().format
    >>> f.bits, f.num_codes, f.max, str(f)
    (4, 16, 1.0, 'nf4')
    """

    levels: tuple
    codes: tuple
    bits: int
    aliases: tuple = ()
    name: str | None = None

    def __str__(self) -> str:
        return self.name or f"codebook({len(self.levels)} levels, {self.bits} bits)"
