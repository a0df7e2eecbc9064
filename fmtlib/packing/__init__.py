"""Bit-level layouts: codes (one per element) to the bytes a kernel or a file expects.

>>> import numpy as np
>>> from fmtlib import packing
>>> codes = np.array([[1, 2, 3, 4]], dtype=np.uint8)
>>> packing.pack(codes, "fp4x2")                  # torch float4_e2m1fn_x2: even element low
array([[33, 67]], dtype=uint8)
>>> packing.unpack(_, "fp4x2", (1, 4))
array([[1, 2, 3, 4]], dtype=uint8)
"""
from __future__ import annotations

import numpy as np

from .base import Layout, code_dtype
from .bitstream import PRESETS, BitStream
from .fp6_llm import FP6LLM
from .swizzle import Swizzled128x4

__all__ = ["Layout", "BitStream", "FP6LLM", "Swizzled128x4", "get_layout", "layout_names", "pack", "unpack",
           "default_layout", "code_dtype"]


def layout_names() -> list[str]:
    """The names :func:`get_layout` knows (``bits{k}_lsb`` / ``bits{k}_msb`` for any k too)."""
    return list(PRESETS) + ["fp6_llm", "fp5_llm", "swizzled128x4", "bits{k}_lsb", "bits{k}_msb"]


def get_layout(layout, bits: int | None = None) -> Layout:
    """A Layout from a Layout, a config dict or a name (``"fp4x2"``, ``"fp6x4"``, ``"bytes"``,
    ``"bits12_msb"``, ``"fp6_llm"``, ``"swizzled128x4"``; see :func:`layout_names`).
    ``"lsb"``/``"msb"`` name a dense stream of ``bits``-bit codes; None names
    :func:`default_layout` of ``bits``."""
    import difflib

    from ..codecs.base import codec_class

    if isinstance(layout, Layout):
        return layout
    if layout is None:
        if bits is None:
            raise ValueError("no layout given and no code width to pick the default from")
        return default_layout(bits)
    if isinstance(layout, dict):
        try:
            cls = codec_class(str(layout.get("id", "")))
        except KeyError:
            cls = None
        if cls is None or not issubclass(cls, Layout):
            raise ValueError(f"config {layout!r} is not a layout config (ids: layout.bitstream, layout.fp6_llm, "
                             "layout.swizzled128x4)")
        try:
            return cls.from_config(layout)
        except TypeError as e:
            raise ValueError(f"bad layout config {layout!r}: {e}") from None
    if not isinstance(layout, str):
        raise TypeError(f"layout must be a name or a Layout, got {type(layout).__name__}")
    key = layout.lower()
    if key in PRESETS:
        return BitStream(*PRESETS[key])
    if key in ("lsb", "msb"):
        if bits is None:
            raise ValueError(f"layout {layout!r} needs the code width: pass bits=")
        return BitStream(bits, key)
    if key.startswith("bits") and key.rsplit("_", 1)[-1] in ("lsb", "msb") and key[4:].split("_")[0].isdigit():
        return BitStream(int(key[4:].split("_")[0]), key.rsplit("_", 1)[-1])
    if key.endswith("_llm") and key[2:-4].isdigit() and key.startswith("fp"):
        return FP6LLM(int(key[2:-4]))
    if key == Swizzled128x4.name:
        return Swizzled128x4()
    close = difflib.get_close_matches(key, [n for n in layout_names() if "{" not in n], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown layout {layout!r}{hint} (known: {', '.join(layout_names())})")


def default_layout(bits: int) -> Layout:
    """The layout ``codec.pack`` uses for ``bits``-bit codes: ``fp4x2`` for 4 bits, ``fp6x4``
    for 6, else a dense little-endian stream (for 8, 16 and 32 bits: the plain byte view)."""
    return get_layout("fp6x4") if bits == 6 else BitStream(bits, "lsb")


def pack(codes, layout, *, bits: int | None = None) -> np.ndarray:
    """Pack integer ``codes`` into a uint8 array by ``layout`` (a name or a Layout)."""
    return get_layout(layout, bits).pack(codes)


def unpack(buf, layout, shape, *, bits: int | None = None, dtype=None) -> np.ndarray:
    """Codes of ``shape`` from a packed buffer (uint8 array or bytes) of exactly the right size."""
    return get_layout(layout, bits).unpack(buf, shape, dtype)
