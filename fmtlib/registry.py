"""Every codec reachable from a string or a JSON config, as numcodecs does it.

>>> get("e4m3fn")
FP('e4m3fn')
>>> from_config({"id": "fp", "args": ["e2m1"], "rounding": "stochastic"})
FP('e2m1', rounding='stochastic')
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._dtypes import dtype_name, integer_name
from .codecs.base import Codec, codec_class, codec_ids


def get(spec: "str | dict | Codec | type | np.dtype") -> Codec:
    """A codec from a name, a config dict, a dtype, or a codec (returned as is).

    A name means one codec everywhere (:mod:`fmtlib.recipes`): element formats have no
    scale (``"e2m1"``, ``"bf16"``, ``"int8"``, ``"nf4"``); block formats carry theirs
    (``"mxfp4"``, ``"nvfp4"``, ``"sdr"``); ``"<element>_row"`` and ``"<element>_b<N>"`` add
    a scale per row or per block of N.

    A dtype (``np.float16``, ``ml_dtypes.float8_e4m3fn``, ``np.dtype("float8_e5m2")``, ``np.int8``,
    ``ml_dtypes.int4``) gives the codec of the exactly equivalent format, or a ValueError.

    >>> get("mxfp4"), get("int4"), get("int4_row")
    (MX('mxfp4_e2m1'), Int(4), Scaled(Int(4), 'fp32', block=None))
    >>> get(np.float16), get(np.uint8)
    (FP('fp16'), Int(8, signed=False))
    """
    if isinstance(spec, Codec):
        return spec
    dname = dtype_name(spec)
    if dname is not None:   # a dtype: its float format, or its integer (ml_dtypes int4 -> Int(4))
        from .codecs import FP, Int

        ints = integer_name(dname)
        if ints is None:
            return FP(spec)
        try:
            return Int(ints[0], signed=ints[1])
        except ValueError as e:
            raise ValueError(f"dtype {dname} has no exact fmtlib integer codec: {e}") from None
    if isinstance(spec, dict):
        return from_config(spec)
    if isinstance(spec, str):
        from .recipes import lookup

        return lookup(spec)
    raise TypeError(f"get() takes a format name, a config dict, a dtype or a codec, got {type(spec).__name__}")


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
