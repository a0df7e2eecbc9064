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
    """A codec from a format name (``"e2m1"``), a config dict, or a codec (returned as is)."""
    if isinstance(spec, Codec):
        return spec
    if isinstance(spec, dict):
        return from_config(spec)
    if isinstance(spec, str):
        from .codecs.fp import FP

        return FP(spec)
    raise TypeError(f"get() takes a format name, a config dict or a codec, got {type(spec).__name__}")


def from_config(config: dict[str, Any]) -> Codec:
    """Rebuild a codec from :meth:`Codec.get_config` output."""
    if not isinstance(config, dict):
        raise TypeError(f"a codec config is a dict, got {type(config).__name__}")
    cid = config.get("id")
    if cid not in codec_ids():
        raise ValueError(f"unknown codec id {cid!r} (known: {', '.join(codec_ids())})")
    try:
        return codec_class(cid).from_config(config)
    except TypeError as e:
        raise ValueError(f"bad config for codec {cid!r}: {e}") from None
