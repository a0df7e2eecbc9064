"""The machinery every element-wise codec shares: FP and Int.

An element codec has a ``format`` (a FloatFormat or an IntFormat), default ``rounding``
and ``overflow``, and ``flush_subnormals``; encode/decode/quantize validate their arguments
here and hand raw bits to :mod:`fmtlib.kernels.dispatch`.
"""
from __future__ import annotations

import numpy as np

from .._arrays import as_codes, as_float_input, bits_view, check_out, dtype_format, float_dtype
from ..kernels import dispatch, fast_path
from ..rounding import Overflow, Rounding
from . import device, nans
from .base import Codec
from .records import Packed, pack_codes, unpack_codes
from .stochastic import check_index_offset, random_args

MAX_RBITS = 62


def from_format(name: str, doc: str) -> property:
    """A read-only property that forwards to ``self.format``."""
    return property(lambda self: getattr(self.format, name), doc=doc)


class ElementCodec(device.RunsOnDevice, Codec):
    """Base of :class:`~fmtlib.FP` and :class:`~fmtlib.Int`: encode, decode, quantize, tables."""

    format: object
    rounding: Rounding
    overflow: Overflow
    flush_subnormals: bool = False
    nan: str = "ignore"

    def _set(self, fmt, rounding, overflow, flush_subnormals: bool = False, nan: str = "ignore") -> None:
        object.__setattr__(self, "nan", nans.parse(nan))
        object.__setattr__(self, "format", fmt)
        object.__setattr__(self, "rounding", Rounding.parse(rounding))
        object.__setattr__(self, "overflow", self._check_overflow(Overflow.parse(overflow)))
        object.__setattr__(self, "flush_subnormals", bool(flush_subnormals))

    def _check_overflow(self, overflow: Overflow) -> Overflow:
        """Subclasses reject the policies their format cannot follow."""
        return overflow

    @property
    def code_dtype(self) -> np.dtype:
        return np.dtype(self.format.code_dtype)

    # --- options ------------------------------------------------------------------
    def _options(self, x: np.ndarray, rounding, overflow, seed, rbits, rand, index_offset, xp=np):
        """(mode, overflow, key, rbits, flat rand or None), checked; ``xp``: the array module of
        x and rand (cupy on the GPU)."""
        mode = self.rounding if rounding is None else Rounding.parse(rounding)
        ovf = self.overflow if overflow is None else self._check_overflow(Overflow.parse(overflow))
        check_index_offset(index_offset)
        key, rbits, rand = random_args(mode, x.shape, seed, rbits, rand, MAX_RBITS, xp=xp)
        return mode, ovf, key, rbits, None if rand is None else xp.ascontiguousarray(rand).reshape(-1)

    # --- the same methods on the GPU (cupy data; called by fmtlib._interop.interop) -------
    def _device_run(self, fused: bool, x, **opts):
        nans.check(self.nan, x, repr(self))
        return device.element_run(self, fused, x, **opts)

    def _device_decode(self, codes, dtype, out):
        return device.element_decode(self, codes, dtype if out is None else out.dtype, out)

    def _run(self, fused: bool, x, rounding, overflow, seed, rbits, rand, index_offset, out=None):
        x, scalar = as_float_input(x, "quantize" if fused else "encode")
        if self.nan != "ignore":
            nans.check(self.nan, x, repr(self))
        mode, ovf, key, rbits, rarr = self._options(x, rounding, overflow, seed, rbits, rand, index_offset)
        out = check_out(out, x, x.dtype if fused else self.code_dtype)
        dispatch.convert_floats(bits_view(x), bits_view(out) if fused else out.reshape(-1), dtype_format(x.dtype),
                                self.format, fused=fused, mode=int(mode), overflow=int(ovf), key=key,
                                index_offset=int(index_offset), rbits=rbits, rand=rarr,
                                flush=self.flush_subnormals)
        return out[()] if scalar and out.ndim == 0 else out

    # --- the codec surface ----------------------------------------------------------
    def encode(self, x, *, rounding: Rounding | str | None = None, overflow: Overflow | str | None = None,
               seed: int | None = None, rbits: int | None = None, rand=None, index_offset: int = 0,
               out: np.ndarray | None = None) -> np.ndarray:
        """Codes (``uint8``/``uint16``/``uint32``/``uint64``, same shape) of float data ``x``.

        ``rounding``/``overflow`` override the codec's defaults for this call. Stochastic
        rounding takes ``seed`` (random bits from fmtlib-rng-v1 keyed by seed and flat
        element index + ``index_offset``) or ``rand`` (your own integers, one per element),
        and ``rbits`` random bits (default 62, or the width of ``rand``'s dtype). ``out``: a
        C-contiguous array of the code dtype and ``x``'s shape to write into.

        >>> from fmtlib import FP
        >>> FP("e2m1").encode(np.array([1.0, -6.0], dtype=np.float32))
        array([ 2, 15], dtype=uint8)
        """
        return self._run(False, x, rounding, overflow, seed, rbits, rand, index_offset, out)

    def quantize(self, x, *, rounding: Rounding | str | None = None, overflow: Overflow | str | None = None,
                 seed: int | None = None, rbits: int | None = None, rand=None, index_offset: int = 0,
                 out: np.ndarray | None = None):
        """``decode(encode(x))`` in one pass, in ``x``'s dtype (the value rounded to it if needed).

        Options as :meth:`encode`; ``out`` may be ``x`` itself (in-place quantize).

        >>> from fmtlib import FP
        >>> FP("e4m3fn").quantize(np.array([0.1, 500.0]))
        array([0.1015625,       nan])
        """
        return self._run(True, x, rounding, overflow, seed, rbits, rand, index_offset, out)

    def decode(self, codes, dtype=np.float32, *, out: np.ndarray | None = None) -> np.ndarray:
        """Values of ``codes`` as ``dtype`` (float64/32/16, bfloat16), rounded to nearest-even
        where the dtype cannot hold a value.

        >>> from fmtlib import FP
        >>> FP("e2m1").decode(np.array([2, 15], dtype=np.uint8))
        array([ 1., -6.], dtype=float32)
        """
        scalar = np.isscalar(codes)
        c = as_codes(codes, self.format)
        dt = float_dtype(dtype if out is None else out.dtype)
        out = check_out(out, c, dt)
        src = c.reshape(-1)
        out_fmt = dtype_format(dt)
        if not self.flush_subnormals and fast_path.decode32_eligible(self.format, out_fmt):
            dispatch.decode32(src, bits_view(out), self.format, out_fmt)
        elif self.format.bits <= 16 and src.size > 4096 and fast_path.is_enabled():
            dispatch.gather(src, self._decode_table(dt), bits_view(out))
        else:
            dispatch.decode_codes(src, bits_view(out), self.format, dtype_format(dt), flush=self.flush_subnormals)
        return out[()] if scalar and out.ndim == 0 else out

    @property
    def bits_per_element(self) -> float:
        """Storage cost: the code's bits."""
        return float(self.format.bits)

    def _packed_format(self) -> str:
        """:attr:`Packed.format` of this codec's records: what its codes mean."""
        return str(self.format) + (", flush_subnormals" if self.flush_subnormals else "")

    def pack(self, x, *, layout=None, **opts) -> Packed:
        """``encode(x, **opts)`` packed by ``layout`` (a name or a :mod:`fmtlib.packing` Layout;
        default :func:`fmtlib.packing.default_layout`: ``fp4x2`` for 4-bit codes, ``fp6x4``
        for 6-bit, else a dense little-endian stream), as a :class:`~fmtlib.Packed` record
        (the bytes in ``.data``, with the shape and layout :meth:`unpack` needs).

        >>> from fmtlib import FP
        >>> FP("e2m1").pack(np.array([1.0, -6.0, 0.5], dtype=np.float32)).data
        array([242,   1], dtype=uint8)
        """
        return pack_codes(self.encode(x, **opts), layout, self.format.bits, self._packed_format())

    def unpack(self, packed, *args, dtype=None, out: np.ndarray | None = None, layout=None) -> np.ndarray:
        """``unpack(packed, dtype=np.float32, *, out=None)``: values of a :class:`~fmtlib.Packed`
        record (what :meth:`pack` returns) as ``dtype``, into ``out`` when given. The older
        ``unpack(buf, shape, *, layout=None, dtype=np.float32)`` (raw bytes, their shape and
        layout) is still accepted.

        >>> from fmtlib import FP
        >>> FP("e2m1").unpack(bytes([242, 1]), (3,))
        array([ 1. , -6. ,  0.5], dtype=float32)
        """
        codes, dtype = unpack_codes(packed, args, dtype, layout, self.format.bits, self._packed_format())
        return self.decode(codes, np.float32 if dtype is None else dtype, out=out)

    def _decode_table(self, dt: np.dtype) -> np.ndarray:
        """Output bits of every code (formats up to 16 bits), built once per dtype and codec."""
        cache = self.__dict__.setdefault("_tables", {})
        if dt.name not in cache:
            table = np.empty(self.format.num_codes, dtype=dt)
            dispatch.decode_codes(np.arange(self.format.num_codes, dtype=self.code_dtype), bits_view(table),
                                  self.format, dtype_format(dt), flush=self.flush_subnormals)
            cache[dt.name] = bits_view(table)
        return cache[dt.name]

    # --- the value table ---------------------------------------------------------------
    def _all_codes(self) -> np.ndarray:
        if self.format.bits > 16:
            raise ValueError(f"{self.format} has 2**{self.format.bits} codes; values()/table() list formats of up to 16 bits")
        return np.arange(self.format.num_codes, dtype=self.code_dtype)

    def values(self) -> np.ndarray:
        """Value of every code, in code order, as float64 (NaN for NaN and unused codes)."""
        codes = self._all_codes()
        vals = np.full(codes.size, np.nan)
        used = codes != self.format.unused_code if self.format.unused_code is not None else slice(None)
        vals[used] = self.decode(codes[used], dtype=np.float64)
        return vals

    def table(self) -> np.ndarray:
        """Every code with its bit string, value and class, as a structured array.

        >>> from fmtlib import FP
        >>> FP("e2m1").table()[3].tolist()
        (3, '0011', 1.5, 'normal')
        """
        fmt = self.format
        codes = self._all_codes()
        rows = np.empty(codes.size, dtype=[("code", "u4"), ("bits", f"U{fmt.bits}"), ("value", "f8"), ("class", "U9")])
        rows["code"] = codes
        rows["bits"] = [format(int(c), f"0{fmt.bits}b") for c in codes]
        rows["value"] = self.values()
        rows["class"] = [fmt.classify(int(c)) for c in codes]
        return rows
