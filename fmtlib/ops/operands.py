"""Matrix operands as the GEMM kernels read them: element values, block scale values and a
global factor, rows along M (or N) and K last.

Every rule of how a codec's codes become values stays in the codec: element values come from
its ``decode`` (MX, Scaled, element codecs) or its value tables (NVFP4), block scales from a
decode of the record with every element set to 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .._arrays import as_float_input, dtype_format
from ..codecs import FP, MX, NVFP4, Encoded, Packed, Quantile, Scaled
from ..codecs.base import Codec
from ..codecs.element import ElementCodec
from ..codecs.nvfp4 import _value_table
from ..formats import FloatFormat
from ..integers import IntFormat
from ..sdr import SDR, Razored

#: significant bits an element or scale value may have: two of them multiply exactly in float64
MAX_SIG = 26
_RANGE = 300     # |log2| of element and scale values: products stay far inside float64


@dataclass(frozen=True, eq=False)
class Operand:
    """One side of a product, rows along M (or N) and K last: ``shape`` (R, K); ``values``
    the element values (float64, computed on first use from codes and a value table where
    there is one); ``ints`` the same as int8 ``value * 2**-lsb`` where every value is one
    (else None); ``scales`` (R, nb) block scale values ((R, 0): unscaled); ``unit`` the
    K-length one scale covers (0: unscaled); ``g`` the two-level global factor (NVFP4);
    and bounds of the values' bits (``lsb``: lowest set bit, ``msb``: highest, as exponents of
    two) used to prove sums exact and to size the long accumulator."""

    shape: tuple
    ints: np.ndarray | None
    scales: np.ndarray
    unit: int
    g: float
    lsb: int
    msb: int
    sig: int
    scale_lsb: int
    scale_msb: int
    scale_sig: int
    codec: Codec
    given_values: np.ndarray | None = None
    codes: np.ndarray | None = None
    table: np.ndarray | None = None

    @cached_property
    def values(self) -> np.ndarray:
        if self.given_values is not None:
            return self.given_values
        return self.table[self.codes]


def bit_bounds(v: np.ndarray) -> tuple[int, int, int]:
    """(lowest set bit, highest set bit, most significant bits of one value) over the finite
    nonzero values of ``v``, as exponents of two; (0, 0, 1) when there are none."""
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    v = np.abs(v[np.isfinite(v) & (v != 0)])
    if v.size == 0:
        return 0, 0, 1
    m, e = np.frexp(v)
    sig = (m * 2.0 ** 53).astype(np.int64)
    tz = np.log2((sig & -sig).astype(np.float64)).astype(np.int64)
    lsb = e.astype(np.int64) - 53 + tz
    msb = e.astype(np.int64) - 1
    return int(lsb.min()), int(msb.max()), int((msb - lsb).max()) + 1


def _check_range(lsb: int, msb: int, sig: int, what: str) -> None:
    if sig > MAX_SIG:
        raise ValueError(f"{what} has values with {sig} significant bits; products are exact only up to "
                         f"{MAX_SIG} bits per value")
    if lsb < -_RANGE or msb > _RANGE:
        raise ValueError(f"{what} has values beyond 2**+-{_RANGE}")


def _element_precision(codec) -> None:
    """Refuse element formats whose products float64 cannot hold."""
    fmt = getattr(codec, "format", None)
    if isinstance(fmt, FloatFormat):
        _check_range(fmt.emin - fmt.mbits, fmt.emax, fmt.mbits + 1, f"format {fmt}")
    elif isinstance(fmt, IntFormat):
        _check_range(0, fmt.bits - 1, fmt.bits, f"format {fmt}")


def _rows_last(a: np.ndarray, axis: int) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(a, axis, -1))


def _float_rows(x, k_first: bool, what: str) -> np.ndarray:
    x, _ = as_float_input(x, what)
    if x.ndim != 2:
        raise ValueError(f"{what} must be 2-D, got shape {x.shape}")
    return np.ascontiguousarray(x.T) if k_first else x


def _int_rows(x, k_first: bool, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{what} must be 2-D, got shape {x.shape}")
    return np.ascontiguousarray(x.T) if k_first else np.ascontiguousarray(x)


def _element_operand(x, codec, k_first: bool, what: str, seed) -> Operand:
    if isinstance(x, np.ndarray) and x.dtype.kind in "iu":
        codes = _int_rows(x, k_first, what)   # codes, already encoded
    else:
        xr = _float_rows(x, k_first, what)
        opts = {} if seed is None else {"seed": seed}
        codes = codec.encode(xr, **opts)
    vals = np.asarray(codec.decode(codes, dtype=np.float64), dtype=np.float64)
    return _unscaled(vals, codec, what)


def _unscaled(vals: np.ndarray, codec, what: str) -> Operand:
    lsb, msb, sig = bit_bounds(vals)
    _check_range(lsb, msb, sig, what)
    return Operand(vals.shape, None, np.empty((vals.shape[0], 0)), 0, 1.0, lsb, msb, sig, 0, 0, 1, codec, vals)


def _block_record(x, codec, k_first: bool, what: str, seed) -> Encoded:
    """The Encoded record of a block-scaled operand (encoding float input along K)."""
    if isinstance(x, Packed):
        x = codec.unpack_record(x)
    if isinstance(x, Encoded):
        return x
    if codec.axis is not None and codec.axis not in (-1, 1):
        raise ValueError(f"{what}'s codec blocks along axis {codec.axis}; matmul blocks both operands along K "
                         "(use axis=-1: b is encoded as b.T, K last)")
    xr = _float_rows(x, k_first, what)
    opts = {} if seed is None else {"seed": seed}
    return codec.encode(xr, **opts)


def _record_rows(rec: Encoded, k_first: bool, what: str):
    """(codes (R, K), scales (R, nb), block) of a record, K last."""
    codes, scales = np.asarray(rec.codes), np.asarray(rec.scales)
    if codes.ndim != 2:
        raise ValueError(f"{what} must be 2-D, got a record of shape {codes.shape}")
    k_axis = 0 if k_first else 1
    if rec.axis is None:   # one scale for the whole tensor: one unit spans K
        codes = _rows_last(codes, k_axis)
        return codes, np.broadcast_to(scales.reshape(1, 1), (codes.shape[0], 1)), max(codes.shape[1], 1)
    if rec.axis % 2 != k_axis:
        raise ValueError(f"{what} is blocked along axis {rec.axis}; matmul needs its blocks along K (axis {k_axis})")
    return _rows_last(codes, k_axis), _rows_last(scales, k_axis), rec.block


def _one_codes(codec) -> int:
    """The element code of 1.0 (to read a block's effective scale through decode)."""
    c = np.asarray(codec.encode(np.ones(1, np.float32)))
    return int(c.reshape(-1)[0])


def _block_operand(x, codec, k_first: bool, what: str, seed) -> Operand:
    given = isinstance(x, (Encoded, Packed))
    rec = _block_record(x, codec, k_first, what, seed)
    codes, scales, block = _record_rows(rec, k_first and given, what)   # float input was encoded K last
    g = 1.0
    if isinstance(codec, MX):
        elem_table = _mx_elements(codec, np.arange(1 << codec.element_bits).reshape(1, -1), block, rec.format)[0]
        _check_codes(codes, elem_table.size, what)
        vals = None
        codec._check_scale_codes(scales)
        svals = FP("e8m0").decode(np.arange(256, dtype=np.uint8), dtype=np.float64)[scales.astype(np.intp)]
    elif isinstance(codec, NVFP4):
        if rec.format != codec.name or rec.block != codec.block:
            raise ValueError(f"record is {rec.format} with block {rec.block}; this codec is {codec.name}, "
                             f"block {codec.block}")
        if (rec.tensor_amax is not None) != codec.global_scale:
            raise ValueError("record and codec disagree on the global scale")
        elem_table = _value_table(codec.element).astype(np.float64)
        _check_codes(codes, elem_table.size, what)
        vals = None
        codec._check_scale_codes(scales)
        svals = _value_table(codec.scale_format).astype(np.float64)[scales.astype(np.intp)]
        g = nvfp4_global_factor(codec, rec.tensor_amax)
    elif isinstance(codec, Scaled):
        if codec.scale_mode:
            raise TypeError("Scaled code-book operands (NF4, FP4, dynamic maps) cannot be multiplied as a "
                            "block-scaled MMA: decode them and pass the values with an FP codec")
        elem = codec.element_codec
        _element_precision(elem)
        vals = elem.decode(codes, dtype=np.float64)
        elem_table = vals
        svals = _scaled_scales(codec, rec, codes, scales, block, elem)
    else:   # pragma: no cover - operand() dispatches only the classes above here
        raise TypeError(type(codec).__name__)
    lsb, msb, sig = bit_bounds(elem_table)
    _check_range(lsb, msb, sig, f"{what}'s elements")
    slsb, smsb, ssig = bit_bounds(svals)
    _check_range(slsb, smsb, ssig, f"{what}'s scales")
    ints = None
    finite = np.isfinite(elem_table)
    small = np.abs(np.ldexp(elem_table[finite], -lsb)).max(initial=0) <= 127
    if vals is not None:
        if small and np.isfinite(vals).all():
            ints = np.ldexp(vals, -lsb).astype(np.int8)   # exact: every value is k * 2**lsb, |k| <= 127
        vals = np.ascontiguousarray(vals, dtype=np.float64)
    elif small and finite[codes].all():
        ints = np.ldexp(np.where(finite, elem_table, 0.0), -lsb).astype(np.int8)[codes]
    return Operand(codes.shape, ints, np.ascontiguousarray(svals, dtype=np.float64), block, g, lsb, msb, sig, slsb,
                   smsb, ssig, codec, vals, codes, elem_table)


def _check_codes(codes: np.ndarray, n: int, what: str) -> None:
    if codes.size and (int(codes.min()) < 0 or int(codes.max()) >= n):
        raise ValueError(f"{what} holds element code {int(codes.max())}, out of range for {n} codes")


def _mx_elements(codec: MX, codes: np.ndarray, block: int, fmt: str) -> np.ndarray:
    """MX element values (scale 1) of codes (R, K), through the codec's own decode."""
    unit = np.full(codes.shape[:-1] + (-(-codes.shape[-1] // block),), 127, np.uint8)
    c = codes.astype(codec.element_code_dtype)
    return codec.decode(Encoded(c, unit, c.shape, c.ndim - 1, block, fmt), dtype=np.float64)


def _scaled_scales(codec: Scaled, rec: Encoded, codes, scales, block: int, elem) -> np.ndarray:
    """The effective scale of every block (R, nb): the codec's decode of the record with every
    element code set to that of 1.0 (global scales and scale formats included)."""
    one = _one_codes(elem)
    if rec.axis is None:
        ones = np.full(np.shape(rec.codes), one, dtype=codes.dtype)
        eff = codec.decode(Encoded(ones, np.asarray(rec.scales), rec.shape, None, rec.block, rec.format,
                                   rec.tensor_amax), dtype=np.float64)
        return np.full((codes.shape[0], 1), eff.reshape(-1)[0] if eff.size else 1.0)
    ones = np.full(codes.shape, one, dtype=codes.dtype)
    eff = codec.decode(Encoded(ones, scales, codes.shape, 1, block, rec.format, rec.tensor_amax), dtype=np.float64)
    return np.ascontiguousarray(eff[:, ::block])


def nvfp4_global_factor(codec: NVFP4, tensor_amax) -> float:
    """The factor an NVFP4 record's values carry beyond element x block scale: torchao's
    per-tensor scale G (``amax / 2688`` in float32), or TE's ``fl32(amax * fl32(1/2688))``;
    1 without a global scale."""
    if tensor_amax is None:
        return 1.0
    G, ta = codec._global(tensor_amax)
    if codec.recipe != "te":
        return float(G)
    return float(np.float32(ta) * np.float32(1.0 / 2688.0)) if ta > 0 else 1.0


def operand(x, codec, *, k_first: bool, what: str, seed=None) -> Operand:
    """The :class:`Operand` of ``x`` (float data, element codes, an Encoded/Packed/Razored
    record) under ``codec`` (None: float16/bfloat16/float32 data taken as it is)."""
    if codec is None:
        if isinstance(x, (Encoded, Packed, Razored)):
            raise TypeError(f"{what} is a record: pass the codec that made it")
        xr = _float_rows(x, k_first, what)
        if xr.dtype == np.float64:
            raise TypeError(f"{what} is float64 with no codec: float64 products are not exact in float64; "
                            "pass a codec (e.g. FP('fp32')) or float32 data")
        return _unscaled(xr.astype(np.float64), FP(dtype_format(xr.dtype)), what)
    if isinstance(codec, str):
        from ..registry import get

        codec = get(codec)
    if isinstance(codec, (MX, NVFP4, Scaled)):
        return _block_operand(x, codec, k_first, what, seed)
    if isinstance(codec, SDR):
        if codec.axis not in (-1, 1):
            raise ValueError(f"{what}'s SDR codec razors along axis {codec.axis}; matmul needs groups along K "
                             "(axis=-1)")
        rec = x if isinstance(x, Razored) else codec.encode(_int_rows(x, k_first, what))
        if isinstance(x, Razored) and k_first:
            raise ValueError(f"{what}: pass a Razored record of b as (N, K) with transpose_b=True")
        return _unscaled(codec.decode(rec, dtype=np.int64).astype(np.float64), codec, what)
    if isinstance(codec, (ElementCodec, Quantile)):
        _element_precision(codec)
        return _element_operand(x, codec, k_first, what, seed)
    raise TypeError(f"{type(codec).__name__} codecs cannot be multiplied: matmul takes FP, Int, Quantile, SDR, MX, "
                    f"NVFP4 and Scaled operands (apply transforms such as Hadamard to the data first)")


__all__ = ["Operand", "operand", "bit_bounds", "nvfp4_global_factor"]
