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
    """A codec from a name, a config dict, or a codec (returned as is).

    A name means one codec everywhere (:mod:`fmtlib.recipes`): element formats have no
    scale (``"e2m1"``, ``"bf16"``, ``"int8"``, ``"nf4"``); block formats carry theirs
    (``"mxfp4"``, ``"nvfp4"``, ``"sdr"``); ``"<element>_row"`` and ``"<element>_b<N>"`` add
    a scale per row or per block of N.

    >>> get("mxfp4"), get("int4"), get("int4_row")
    (MX('mxfp4_e2m1'), Int(4), Scaled(Int(4), 'fp32', block=None))
    """
    if isinstance(spec, Codec):
        return spec
    if isinstance(spec, dict):
        return from_config(spec)
    if isinstance(spec, str):
        from .recipes import lookup

        return lookup(spec)
    raise TypeError(f"get() takes a format name, a config dict or a codec, got {type(spec).__name__}")


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
