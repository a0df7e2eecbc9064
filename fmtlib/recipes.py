"""The catalogue of codec names: one name, one codec, in Python and in every CLI command.

- **Element formats** round the values they are given, with no scale: every float format
  name (``e2m1``, ``e4m3fn``, ``bf16``, any ``eXmY``; :mod:`fmtlib.catalog`), ``int<k>`` /
  ``uint<k>``, and the code books ``nf<k>``, ``nf4_bnb``, ``fp4_bnb``, ``dynamic8``.
- **Block formats** carry their own scales: ``mxfp8``, ``mxfp6``, ``mxfp4``, ``mxint8``
  (and the long ``mxfp8_e4m3`` style names), ``nvfp4``, and ``sdr`` (= ``qrazor``).
- **Scaled recipes** are an element name with a suffix: ``_row`` (one scale per row: along
  the last axis) or ``_b<N>`` (one per block of N along the last axis). Floats and ints get
  an fp32 scale amax / max (``Scaled(e, "fp32", ...)``); code books get bitsandbytes'
  absmax (``Scaled(book, "absmax", ...)``).

>>> lookup("int8_row")
Scaled(Int(8), 'fp32', block=None)
>>> lookup("nf4_b64")
Scaled(Quantile.nf4(), 'absmax', block=64)
>>> lookup("int8"), lookup("mxfp4")
(Int(8), MX('mxfp4_e2m1'))
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np

from ._dtypes import dtype_name, integer_name
from .codecs.base import Codec
from .codecs.ids import codec_class, codec_ids

_SUFFIX = re.compile(r"^(?P<elem>.+)_(?:(?P<row>row)|b(?P<block>\d+))$")
_INT = re.compile(r"(u?)int(\d+)")
_NF = re.compile(r"nf(\d)")
#: names of the codecs with their own block scales (besides the MX names)
_BLOCK_NAMES = ("nvfp4", "sdr", "qrazor")

#: names whose meaning in ``fmtlib compare`` / ``quantize`` / ``save_quantized`` (formerly: a
#: scaled recipe) differs from the element format they name everywhere now -> the recipe's name
RENAMED: dict[str, str] = {
    **{f: f + "_row" for f in ("e5m2", "e4m3fn", "e4m3", "e3m2", "e2m3", "e2m1", "e3m4", "e4m3fnuz", "e5m2fnuz")},
    **{b: b + "_b64" for b in ("nf4", "nf4_bnb", "fp4_bnb", "nf3", "nf5")},
}


def _codebook(key: str):
    """The code book a name stands for, or None: ``nf<k>`` (NormalFloat; nf4 is bitsandbytes'
    table), ``nf4_bnb`` / ``fp4_bnb`` (bitsandbytes' decision points), ``dynamic8``."""
    Quantile = codec_class("quantile")
    fixed = {"nf4": Quantile.nf4, "nf4_bnb": lambda: Quantile.nf4("bitsandbytes"),
             "fp4_bnb": lambda: Quantile.fp4("bitsandbytes"), "dynamic8": Quantile.dynamic}
    if key in fixed:
        return fixed[key]()
    m = _NF.fullmatch(key)
    return Quantile.normal(int(m.group(1))) if m and 2 <= int(m.group(1)) <= 8 else None


def element(name: str) -> Codec:
    """The element codec (FP, Int or Quantile) an element name stands for.

    >>> element("nf4"), element("uint4"), element("float8_e4m3fn")
    (Quantile.nf4(), Int(4, signed=False), FP('e4m3fn'))
    """
    FP, Int = codec_class("fp"), codec_class("int")
    key = name.strip().lower()
    m = _INT.fullmatch(key)
    if m:
        return Int(int(m.group(2)), signed=not m.group(1))
    book = _codebook(key)
    if book is not None:
        return book
    try:
        return FP(name)
    except ValueError as e:
        if _block(key) is not None:
            raise ValueError(f"{name!r} is a block format with its own scales, not an element format") from None
        raise ValueError(f"{e}; element names also take int<k>, uint<k>, nf<k>, nf4_bnb, fp4_bnb, dynamic8") from None


def _block(key: str) -> Codec | None:
    """The block codec a name stands for, or None."""
    from .codecs.mx import _MX_ALIASES, MX_ELEMENTS

    if key in MX_ELEMENTS or key in _MX_ALIASES:
        return codec_class("mx")(key)
    if key == "nvfp4":
        return codec_class("nvfp4")()
    if key in ("sdr", "qrazor"):
        return codec_class("qrazor")()
    return None


def scaled(elem: Codec, block: int | None) -> Codec:
    """The scaled recipe of an element codec: fp32 amax/max scales for FP and Int, bitsandbytes'
    absmax for code books; ``block=None``: one scale per row (the last axis)."""
    return codec_class("scaled")(elem, "absmax" if isinstance(elem, codec_class("quantile")) else "fp32", block=block)


def lookup(name: str) -> Codec:
    """The codec of a catalogue name (see the module docstring)."""
    key = name.strip().lower()
    found = _block(key)
    if found is not None:
        return found
    m = _SUFFIX.match(key)
    if m:
        block = None if m.group("row") else int(m.group("block"))
        if block == 0:
            raise ValueError(f"{name!r}: a block has at least 1 element (_b1, _b32, ...)")
        if _block(m.group("elem")) is not None:
            raise ValueError(f"{name!r}: {m.group('elem')!r} is a block format with its own scales; the _row and "
                             "_b<N> suffixes scale element formats (e4m3fn_row, int8_row, nf4_b64)")
        return scaled(element(m.group("elem")), block)
    try:
        return element(name)
    except ValueError as e:
        raise ValueError(f"{e}; codec names also take mxfp8, mxfp6, mxfp4, mxint8, nvfp4, sdr, and scaled "
                         "recipes <element>_row, <element>_b<N> (fmtlib formats lists them)") from None


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
    >>> import numpy as np
    >>> get(np.float16), get(np.uint8)
    (FP('fp16'), Int(8, signed=False))
    """
    if isinstance(spec, Codec):
        return spec
    dname = dtype_name(spec)
    if dname is not None:   # a dtype: its float format, or its integer (ml_dtypes int4 -> Int(4))
        FP, Int = codec_class("fp"), codec_class("int")
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


def for_tensors(spec: "str | dict | Codec") -> Codec:
    """:func:`lookup` for the commands that quantize tensors (``fmtlib compare``, ``fmtlib
    quantize``, :func:`fmtlib.save_quantized`), which refuse the names in :data:`RENAMED`:
    they meant a scaled recipe there before, and the bare element format everywhere else.

    >>> for_tensors("int4")
    Traceback (most recent call last):
    ValueError: 'int4' is the bare int4 format (no scale); fmtlib compare, fmtlib quantize and save_quantized used to give it one fp32 scale per row: that recipe is now 'int4_row' (fmtlib.get('int4_row'))
    """
    if isinstance(spec, str):
        key = spec.strip().lower()
        new = RENAMED.get(key) or (key + "_row" if _INT.fullmatch(key) else None)
        if new is not None:
            how = "blockwise absmax scales (block 64)" if new.endswith("_b64") else "one fp32 scale per row"
            raise ValueError(f"{spec!r} is the bare {key} format (no scale); fmtlib compare, fmtlib quantize and "
                             f"save_quantized used to give it {how}: that recipe is now {new!r} "
                             f"(fmtlib.get({new!r}))")
    return get(spec)


def python_expr(spec: "str | dict | Codec") -> str:
    """A Python expression (after ``import fmtlib``) that builds the codec of ``spec``.

    >>> python_expr("mxfp4"), python_expr(lookup("int8"))
    ("fmtlib.get('mxfp4')", "fmtlib.from_config({'id': 'int', 'args': [8]})")
    """
    if isinstance(spec, str):
        return f"fmtlib.get({spec.strip()!r})"
    return f"fmtlib.from_config({get(spec).get_config()!r})"


def entries() -> list[dict[str, Any]]:
    """The named codecs ``fmtlib formats`` lists: ``name``, ``kind`` and ``codec``, in groups
    (float formats, integers, code books, block formats, the scaled recipes of the default
    ``fmtlib compare`` shoot-out)."""
    from .catalog import names

    rows = [dict(name=n, kind="float") for n in names()]
    rows += [dict(name=n, kind="integer") for n in ("int2", "int3", "int4", "int8", "int16", "uint4", "uint8")]
    rows += [dict(name=n, kind="code book") for n in ("nf4", "nf3", "nf5", "nf4_bnb", "fp4_bnb", "dynamic8")]
    rows += [dict(name=n, kind="block") for n in ("mxfp8", "mxfp8_e5m2", "mxfp6", "mxfp6_e2m3", "mxfp4", "mxint8",
                                                   "nvfp4", "sdr")]
    rows += [dict(name=n, kind="scaled") for n in sorted(set(RENAMED.values()) | {"int8_row", "int4_row"})]
    for r in rows:
        r["codec"] = lookup(r["name"])
    return rows
