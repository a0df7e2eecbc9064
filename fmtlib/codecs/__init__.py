"""Codecs: format objects with encode / decode / quantize."""
from .base import Codec
from .element import ElementCodec
from .fp import FP
from .integer import Int

__all__ = ["Codec", "ElementCodec", "FP", "Int"]
