"""fmtlib: bit-accurate emulation of low-precision number formats.

>>> import numpy as np, fmtlib
>>> fmtlib.FP("e2m1").quantize(np.array([0.2, 1.3, 5.1], dtype=np.float32))
array([0. , 1.5, 6. ], dtype=float32)
"""
from . import metrics, ops, packing, recipes, sdr
from .catalog import parse_format as get_format
from .checkpoint import load, save_quantized
from .codecs import FP, MX, NVFP4, Codec, CodecProtocol, Encoded, Int, Packed, Quantile, Scaled
from .formats import FloatFormat
from .integers import IntFormat
from .kernels.threads import num_threads, set_num_threads
from .registry import from_config, get
from .rounding import Overflow, Rounding
from .sdr import SDR, QRazor
from .search import format_search
from .transforms import Chain, Clip, Hadamard
from ._version import __version__


def __getattr__(name: str):
    """``fmtlib.dask`` imports its module (and dask) on first use, so ``import fmtlib`` stays light."""
    if name == "dask":
        from importlib import import_module

        return import_module(".dask", __name__)
    raise AttributeError(f"module 'fmtlib' has no attribute {name!r}")

__all__ = ["FP", "Int", "MX", "NVFP4", "Quantile", "Scaled", "SDR", "QRazor", "Chain", "Clip", "Hadamard", "format_search", "Encoded", "Packed", "Codec", "CodecProtocol", "FloatFormat", "IntFormat", "Overflow", "Rounding", "from_config", "get", "get_format",
           "metrics", "ops", "packing", "recipes", "sdr", "load", "save_quantized", "num_threads", "set_num_threads",
           "__version__"]
