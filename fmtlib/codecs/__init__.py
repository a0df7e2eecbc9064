"""Codecs: format objects with encode / decode / quantize."""
from .base import Codec
from .element import ElementCodec
from .fp import FP
from .integer import Int
from .mx import MX, Encoded

__all__ = ["Codec", "ElementCodec", "Encoded", "FP", "Int", "MX"]
