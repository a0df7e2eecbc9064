"""Every codec reachable from a string or a JSON config, as numcodecs does it.

>>> get("e4m3fn")
FP('e4m3fn')
>>> from_config({"id": "fp", "args": ["e2m1"], "rounding": "stochastic"})
FP('e2m1', rounding='stochastic')
"""
from __future__ import annotations

from typing import Any

from .codecs.base import Codec, codec_class, codec_ids


def get(spec: "str | dict | Codec") -> Codec:
    """A codec from a name, a config dict, or a codec (returned as is). Names: any FP format
    (``"e2m1"``, ``"bf16"``), MX formats (``"mxfp4"``, ``"mxint8"``), ``"nvfp4"``,
    integers ``"int8"``/``"uint4"``, and code books ``"nf4"``, ``"nf3"``, ``"nf4_bnb"``,
    ``"fp4_bnb"``, ``"dynamic8"``, and ``"qrazor"`` (QRazor: int8 razored to 4-bit codes).

    >>> get("mxfp4"), get("int4")
    (MX('mxfp4_e2m1'), Int(4))
    """
    if isinstance(spec, Codec):
        return spec
    if isinstance(spec, dict):
        return from_config(spec)
    if isinstance(spec, str):
        return _from_name(spec)
    raise TypeError(f"get() takes a format name, a config dict or a codec, got {type(spec).__name__}")


def _from_name(name: str) -> Codec:
    """``mx*`` names -> MX, ``nvfp4`` -> NVFP4, ``int<k>``/``uint<k>`` -> Int, else FP."""
    import re

    from .codecs import FP, MX, NVFP4, Int
    from .codecs.mx import _MX_ALIASES, MX_ELEMENTS

    key = name.strip().lower()
    if key in MX_ELEMENTS or key in _MX_ALIASES:
        return MX(key)
    if key == "nvfp4":
        return NVFP4()
    m = re.fullmatch(r"(u?)int(\d+)", key)
    if m:
        return Int(int(m.group(2)), signed=not m.group(1))
    book = _codebook(key)
    if book is not None:
        return book
    if key == "qrazor":
        from .sdr import QRazor

        return QRazor()
    try:
        return FP(name)
    except ValueError as e:
        raise ValueError(f"{e}; codec names also take {', '.join(list(MX_ELEMENTS) + list(_MX_ALIASES))}, nvfp4, "
                         "int<k>, uint<k>, nf<k>, nf4_bnb, fp4_bnb, dynamic8, qrazor") from None


def _codebook(key: str):
    """Code-book names: ``nf<k>`` (NormalFloat; nf4 is bitsandbytes' table), ``nf4_bnb`` /
    ``fp4_bnb`` (bitsandbytes' decision points), ``dynamic8`` (its 8-bit dynamic map)."""
    import re

    from .codecs import Quantile

    fixed = {"nf4": Quantile.nf4, "nf4_bnb": lambda: Quantile.nf4("bitsandbytes"),
             "fp4_bnb": lambda: Quantile.fp4("bitsandbytes"), "dynamic8": Quantile.dynamic}
    if key in fixed:
        return fixed[key]()
    m = re.fullmatch(r"nf(\d)", key)
    return Quantile.normal(int(m.group(1))) if m and 2 <= int(m.group(1)) <= 8 else None


def from_config(config: dict[str, Any]) -> Codec:
    """Rebuild a codec from :meth:`Codec.get_config` output."""
    if not isinstance(config, dict):
        raise TypeError(f"a codec config is a dict, got {type(config).__name__}")
    cid = config.get("id")
    ids = [i for i in codec_ids() if not i.startswith("layout.")]   # layouts share the config machinery
    if cid not in ids:
        hint = "; it is a layout: use fmtlib.packing.get_layout" if str(cid).startswith("layout.") else ""
        raise ValueError(f"unknown codec id {cid!r}{hint} (known: {', '.join(ids)})")
    try:
        return codec_class(cid).from_config(config)
    except TypeError as e:
        raise ValueError(f"bad config for codec {cid!r}: {e}") from None
