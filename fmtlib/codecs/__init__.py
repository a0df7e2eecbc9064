"""Codecs: format objects with encode / decode / quantize."""
from .base import Codec
from .fp import FP

__all__ = ["Codec", "FP"]
