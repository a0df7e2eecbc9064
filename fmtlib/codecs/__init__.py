"""Codecs: format objects with encode / decode / quantize."""
from .base import Codec
from .element import ElementCodec
from .fp import FP
from .integer import Int
from .blocked import BlockCodec
from .records import Encoded, Packed
from .mx import MX
from .nvfp4 import NVFP4
from .quantile import Quantile
from .scaled import Scaled
from .protocol import CodecProtocol

__all__ = ["Codec", "CodecProtocol", "BlockCodec", "ElementCodec", "Encoded", "Packed", "FP", "Int", "MX", "NVFP4", "Quantile", "Scaled"]
