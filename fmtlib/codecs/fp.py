"""``FP``: the EjMk minifloat codec.

>>> import numpy as np, fmtlib
>>> fmtlib.FP("e2m1").quantize(np.array([0.3, 2.5, 7.0], dtype=np.float32))
array([0.5, 2. , 6. ], dtype=float32)
"""
from __future__ import annotations

import secrets
from typing import Any

import numpy as np

from .._arrays import as_codes, as_float_input, bits_view, check_out, dtype_format, float_dtype
from ..catalog import canonical_name, default_specials, parse_format
from ..formats import FloatFormat
from ..kernels import dispatch, fast_path
from ..rng import seed_key
from ..rounding import Overflow, Rounding
from .base import Codec

MAX_RBITS = 62


def _from_format(name: str, doc: str) -> property:
    """A read-only property that forwards to ``self.format``."""
    return property(lambda self: getattr(self.format, name), doc=doc)


class FP(Codec):
    """An EjMk minifloat codec: a :class:`~fmtlib.formats.FloatFormat` plus rounding rules.

    ``spec`` is a name (``"e2m1"``, ``"e4m3fn"``, ``"bf16"``, any ``"eXmY"`` with
    ``",bias=B"``) or a FloatFormat; keyword fields (``ebits``, ``mbits``, ``bias``,
    ``signed``, ``subnormals``, ``specials``) build or override one.
    ``rounding``/``overflow`` are the defaults of every call; ``flush_subnormals=True``
    treats subnormal inputs as zero and flushes subnormal results to zero (FTZ/DAZ).

    >>> FP("e4m3fn").max
    448.0
    >>> FP(ebits=3, mbits=0, bias=2).values()[:4]
    array([0. , 0.5, 1. , 2. ])
    """

    codec_id = "fp"

    def __init__(
        self,
        spec: str | FloatFormat | None = None,
        *,
        ebits: int | None = None,
        mbits: int | None = None,
        bias: int | None = None,
        signed: bool | None = None,
        subnormals: bool | None = None,
        specials: str | None = None,
        rounding: Rounding | str = "nearest_even",
        overflow: Overflow | str = "ieee",
        flush_subnormals: bool = False,
    ) -> None:
        overrides = {k: v for k, v in dict(bias=bias, signed=signed, subnormals=subnormals,
                                           specials=specials).items() if v is not None}
        if spec is None:
            if ebits is None or mbits is None:
                raise TypeError("FP needs a format name (FP('e2m1')) or ebits= and mbits=")
            overrides.setdefault("specials", default_specials(mbits))
            fmt = FloatFormat(ebits, mbits, **overrides)
        else:
            if ebits is not None or mbits is not None:
                raise TypeError("give either a format name or ebits=/mbits=, not both")
            fmt = parse_format(spec, **overrides)
        if not fmt.name:
            name = canonical_name(fmt)
            if name:
                fmt = parse_format(name)
        object.__setattr__(self, "format", fmt)
        object.__setattr__(self, "rounding", Rounding.parse(rounding))
        object.__setattr__(self, "overflow", Overflow.parse(overflow))
        object.__setattr__(self, "flush_subnormals", bool(flush_subnormals))

    format: FloatFormat
    rounding: Rounding
    overflow: Overflow
    flush_subnormals: bool

    # --- config ---------------------------------------------------------------
    def _config_args(self):
        fmt = self.format
        kwargs: dict[str, Any] = {}
        if self.rounding is not Rounding.NEAREST_EVEN:
            kwargs["rounding"] = self.rounding.name.lower()
        if self.overflow is not Overflow.IEEE:
            kwargs["overflow"] = self.overflow.name.lower()
        if self.flush_subnormals:
            kwargs["flush_subnormals"] = True
        return ((fmt.name or fmt.spec_string(),), kwargs)

    # --- finfo-like numbers, read from the format ---------------------------------------
    bits = _from_format("bits", "Total bits of a code.")
    max = _from_format("max", "Largest finite value.")
    min = _from_format("min", "Most negative finite value (smallest value if unsigned).")
    smallest_normal = min_normal = _from_format("smallest_normal", "Smallest positive normal value.")
    smallest_subnormal = min_subnormal = _from_format("smallest_subnormal", "Smallest positive value.")
    eps = _from_format("eps", "Distance from 1.0 to the next larger value.")
    emax = _from_format("emax", "floor(log2(max)).")
    emin = _from_format("emin", "Exponent of the smallest normal value.")
    has_inf = _from_format("has_inf", "Whether the format encodes infinities.")
    has_nan = _from_format("has_nan", "Whether the format encodes NaN.")

    @property
    def code_dtype(self) -> np.dtype:
        return np.dtype(self.format.code_dtype)

    # --- options ------------------------------------------------------------------
    def _options(self, x: np.ndarray, rounding, overflow, seed, rbits, rand, index_offset):
        mode = self.rounding if rounding is None else Rounding.parse(rounding)
        ovf = self.overflow if overflow is None else Overflow.parse(overflow)
        if isinstance(index_offset, bool) or not isinstance(index_offset, (int, np.integer)) or index_offset < 0:
            raise ValueError(f"index_offset must be a non-negative int, got {index_offset!r}")
        if mode is not Rounding.STOCHASTIC:
            for name, v in (("seed", seed), ("rbits", rbits), ("rand", rand)):
                if v is not None:
                    raise ValueError(f"{name}= is only used by rounding='stochastic' (rounding is {mode.name.lower()!r})")
            return mode, ovf, 0, 1, None
        if rand is not None:
            if seed is not None:
                raise ValueError("give seed= or rand=, not both")
            rand = np.asarray(rand)
            if rand.dtype.kind not in "iu":
                raise TypeError(f"rand must be an integer array, got dtype {rand.dtype}")
            if rand.shape != x.shape:
                raise ValueError(f"rand has shape {rand.shape}, the input {x.shape}; they must match")
            if rbits is None:
                rbits = 8 * rand.dtype.itemsize
        rbits = MAX_RBITS if rbits is None else rbits
        if isinstance(rbits, bool) or not isinstance(rbits, (int, np.integer)) or not 1 <= rbits <= MAX_RBITS:
            raise ValueError(f"rbits must be an int in 1..{MAX_RBITS}, got {rbits!r}")
        rbits = int(rbits)
        if rand is not None:
            if rand.size and (int(rand.min()) < 0 or int(rand.max()) >= (1 << rbits)):
                raise ValueError(f"rand values must be in [0, 2**{rbits}); pass rbits= for wider random integers")
            return mode, ovf, 0, rbits, np.ascontiguousarray(rand).reshape(-1)
        key = seed_key(secrets.randbits(64) if seed is None else seed)
        return mode, ovf, key, rbits, None

    def _run(self, fused: bool, x, rounding, overflow, seed, rbits, rand, index_offset, out=None):
        x, scalar = as_float_input(x, "quantize" if fused else "encode")
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

        >>> FP("e2m1").encode(np.array([1.0, -6.0], dtype=np.float32))
        array([ 2, 15], dtype=uint8)
        """
        return self._run(False, x, rounding, overflow, seed, rbits, rand, index_offset, out)

    def quantize(self, x, *, rounding: Rounding | str | None = None, overflow: Overflow | str | None = None,
                 seed: int | None = None, rbits: int | None = None, rand=None, index_offset: int = 0,
                 out: np.ndarray | None = None):
        """``decode(encode(x))`` in one pass, in ``x``'s dtype (the value rounded to it if needed).

        Options as :meth:`encode`; ``out`` may be ``x`` itself (in-place quantize).

        >>> FP("e4m3fn").quantize(np.array([0.1, 500.0]))
        array([0.1015625,       nan])
        """
        return self._run(True, x, rounding, overflow, seed, rbits, rand, index_offset, out)

    def decode(self, codes, dtype=np.float32, *, out: np.ndarray | None = None) -> np.ndarray:
        """Values of ``codes`` as ``dtype`` (float64/32/16, bfloat16), rounded to nearest-even
        where the dtype cannot hold a value.

        >>> FP("e2m1").decode(np.array([2, 15], dtype=np.uint8))
        array([ 1., -6.], dtype=float32)
        """
        scalar = np.isscalar(codes)
        c = as_codes(codes, self.format)
        dt = float_dtype(dtype if out is None else out.dtype)
        out = check_out(out, c, dt)
        src = c.reshape(-1)
        if self.format.bits <= 16 and src.size > 4096 and fast_path.is_enabled():
            dispatch.gather(src, self._decode_table(dt), bits_view(out))
        else:
            dispatch.decode_codes(src, bits_view(out), self.format, dtype_format(dt), flush=self.flush_subnormals)
        return out[()] if scalar and out.ndim == 0 else out

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
        """Value of every code, in code order, as float64 (NaN for NaN codes)."""
        return self.decode(self._all_codes(), dtype=np.float64)

    def table(self) -> np.ndarray:
        """Every code with its bit string, value and class, as a structured array.

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
