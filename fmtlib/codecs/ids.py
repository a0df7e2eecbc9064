"""The table of codec classes by config id. Each class enters it when it is defined
(:meth:`fmtlib.codecs.base.Codec.__init_subclass__`); code that builds a codec from an id or
a name (:func:`fmtlib.from_config`, :mod:`fmtlib.recipes`, a decode into ml_dtypes' small
floats) looks the class up here instead of importing its module, so that no import cycle
joins the codecs and the names that build them (tests/test_layers.py).

>>> codec_class("fp").__name__
'FP'
"""
from __future__ import annotations

_CODECS: dict[str, type] = {}


def codec_class(codec_id: str) -> type:
    """The codec class of config id ``codec_id`` (KeyError if none has it)."""
    return _CODECS[codec_id]


def codec_ids() -> list[str]:
    """The config ids of every codec class defined so far."""
    return list(_CODECS)
