"""Decoding into ml_dtypes' float8/float6/float4 dtypes.

``codec.decode(codes, dtype=T)`` with ``T`` one of ml_dtypes' float8_*, float6_* or
float4_* types is ``codec.decode(codes, dtype=np.float64)`` then rounded into ``T`` by
``FP(T)`` with its default options, which round as ml_dtypes' ``astype`` does (bit for bit,
tests/test_ml_dtypes.py): to nearest, ties to even; beyond ``T``'s range inf where ``T`` has
it, else NaN, else (float6/float4: no NaN) the largest value; NaN becomes ``T``'s canonical
NaN (where ``T`` has none, a zero, as ml_dtypes does). Where ``T`` holds every value of the
codec the result is exact. The values of FP formats, Int codecs and code books are exact in
float64, so those are rounded once, correctly.

>>> import numpy as np, ml_dtypes
>>> from fmtlib import FP
>>> y = FP("e2m1").decode(np.array([1, 7, 15], dtype=np.uint8), dtype=ml_dtypes.float8_e4m3fn)
>>> y.dtype.name, y.astype(np.float32).tolist()
('float8_e4m3fn', [0.5, 6.0, -6.0])
"""
from __future__ import annotations

import functools

import numpy as np

from .._dtypes import as_dtype, is_small_ml_float
from .ids import codec_class


def _small_target(dtype, out) -> np.dtype | None:
    """The ml_dtypes float8/6/4 dtype a decode call asks for (through ``dtype`` or ``out``), or None."""
    spec = out.dtype if isinstance(out, np.ndarray) else dtype
    if spec is None:
        return None
    try:
        dt = as_dtype(spec)
    except TypeError:
        return None    # the codec's own check names the bad dtype
    return dt if is_small_ml_float(dt) else None


def small_float_output(method):
    """Wrap a codec's ``decode(codes, dtype=..., [out=...])`` so that ml_dtypes' float8/6/4
    dtypes are accepted (the rule of the module docstring)."""
    @functools.wraps(method)
    def wrapper(self, codes, *args, **kw):
        dtype = args[0] if args else kw.get("dtype")
        target = _small_target(dtype, kw.get("out"))
        if target is None or not getattr(self, "_decodes_floats", True):
            return method(self, codes, *args, **kw)
        out = kw.pop("out", None)
        kw.pop("dtype", None)
        values = method(self, codes, np.float64, *args[1:], **kw)
        if not isinstance(values, (np.ndarray, np.generic)):
            raise _on_host_only(target)
        result = codec_class("fp")(target).encode(np.asarray(values)).view(target)
        if out is None:
            return result[()] if isinstance(values, np.generic) else result
        if out.shape != result.shape:
            raise ValueError(f"out must have shape {result.shape}, got {out.shape}")
        out[...] = result
        return out
    return wrapper


def _on_host_only(target: np.dtype) -> TypeError:
    return TypeError(f"decoding into {target.name} runs on the host (numpy); decode device arrays into float32 "
                     "and cast on the host")


def host_small_floats(device_decode):
    """Wrap a codec's ``_device_decode(data, dtype, out)``: ml_dtypes' float8/6/4 outputs
    are made on the host only, so asking for one on the device is a TypeError saying so."""
    @functools.wraps(device_decode)
    def wrapper(self, data, dtype, out):
        target = _small_target(dtype, out)
        if target is not None and getattr(self, "_decodes_floats", True):
            raise _on_host_only(target)
        return device_decode(self, data, dtype, out)
    return wrapper
