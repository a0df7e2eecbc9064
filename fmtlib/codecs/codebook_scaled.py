"""``Scaled`` with :class:`~fmtlib.Quantile` elements: blockwise NF4 / FP4 / dynamic maps.

Two scale rules (``Scaled(Quantile.nf4(), scale=..., block=64)``):

- ``"fp32"``: S = fl32(amax) per block (at least 2**-149; the table's largest magnitude is
  1), elements are the levels of x / S rounded once by the codec's rounding mode, values
  are level * S rounded once.
- ``"absmax"``: the bitsandbytes recipe (``quantize_4bit`` / ``quantize_blockwise``, torch
  backend): absmax stored as float32, y = clamp(fl32(x * fl32(1 / max(absmax, 1e-38))),
  -1, 1) -- a short last block divides, y = fl32(x / max(absmax, 1e-38)), and stores the
  clamped absmax -- then index = #{t < y} over the float32 thresholds (the table's own, or
  :func:`~fmtlib.codecs.quantile.bnb_thresholds`); values are fl32(level * absmax), then
  cast to the output dtype. ``double_quant=True`` (bitsandbytes ``compress_statistics``):
  the absmax values minus their float32 mean are themselves quantized with the 8-bit
  dynamic map in blocks of 256 (:func:`double_quantize`).

>>> import numpy as np, fmtlib
>>> q = fmtlib.Scaled(fmtlib.Quantile.nf4(), "absmax", block=4)
>>> q.encode(np.array([0.5, -2.0, 1.0, 0.0], np.float32)).codes
array([10,  0, 12,  7], dtype=uint8)
"""
from __future__ import annotations

import functools
from fractions import Fraction

import numpy as np

from .._arrays import as_float_input, check_out, float_dtype
from ..rounding import Rounding
from ..kernels import fast_path
from ..kernels.gpu import (C_UINT, amax_bits, raw_bits, book_on_device, float_format, launch, params_on_device,
                           encode_launch, table_on_device)
from ..kernels.params import kernel_params
from .blocked import Encoded, amax_element
from .device import backend, book_decode, is_device_array, rand_arg, record_rows, restore_layout
from .quantile import MAX_RBITS, Quantile, bnb_thresholds
from .stochastic import check_index_offset, moved_rand, random_args

#: scale= names for code-book elements
SCALE_MODES = ("fp32", "absmax")
#: bitsandbytes' block size for the double-quantized absmax values
DOUBLE_QUANT_BLOCK = 256


def _f32_mean(a: np.ndarray) -> float:
    """The float32 nearest to the exact mean of finite float32 values ``a`` (ties to even):
    the exact sum from the significands summed per binade (``binade_sums``).

    >>> _f32_mean(np.array([1.0, 2.0, 2.0 ** -140], np.float32))
    1.0
    """
    from .. import exact
    from ..catalog import parse_format
    from ..kernels.cpu import codebook as K

    bits = np.ascontiguousarray(a, dtype=np.float32).reshape(-1).view(np.uint32)
    total = 0
    for i in range(0, bits.size, 1 << 39):
        sums = K.binade_sums(bits[i:i + (1 << 39)]).tolist()
        total += sum(v << max(e, 1) for e, v in enumerate(sums) if v)
    return float(exact.nearest_even(parse_format("fp32"), Fraction(total, bits.size) / 2 ** 150))


def _absmax_encode(x32: np.ndarray, q: Quantile, ncols: int, block: int, fused: bool, per_tensor: bool = False):
    """(codes, absmax float32 bits, fl32 values or None) of float32 rows by the bitsandbytes
    recipe; ``per_tensor``: one row, one block (an amax pass, then the elements in parallel)."""
    from ..kernels.cpu import codebook as K

    T = q._tables()
    thr = np.asarray(q.thresholds if q.thresholds is not None else bnb_thresholds(q.levels), dtype=np.float32)
    nb = -(-ncols // block) if ncols else 0
    codes = np.empty(x32.shape, dtype=q.code_dtype)
    scales = np.empty(x32.shape[:-1] + (nb,), dtype=np.uint32)
    out = np.empty(x32.shape if fused else (1,), dtype=np.float32)
    vals32 = np.asarray(q.levels, dtype=np.float32)
    args = (x32.reshape(-1), codes.reshape(-1), scales.reshape(-1), out.reshape(-1))
    book = (T["code_of"], vals32, thr, _threshold_lut(q, thr))
    if per_tensor and ncols:
        K.scaled_absmax_encode_tensor(*args, amax_element(x32).view(np.float32), *book, T["nan_index"], fused)
    else:
        K.scaled_absmax_encode(*args, *book, ncols, block, T["nan_index"], fused)
    return codes, scales, (out if fused else None)


@functools.lru_cache(maxsize=None)
def _dynamic() -> Quantile:
    """The 8-bit dynamic map of double quantization, built once (its tables and look-up
    tables are cached on it: building them takes milliseconds)."""
    return Quantile.dynamic()


def _threshold_lut(q: Quantile, thr: np.ndarray) -> np.ndarray:
    """#{thr < y} per float32 top-16-bit prefix of y where the prefix shares one count, else -1."""
    cache = q.__dict__.setdefault("_absmax_luts", {})
    key = thr.tobytes()
    if key not in cache:
        p = np.arange(1 << 16, dtype=np.uint32) << 16
        a = np.searchsorted(thr, p.view(np.float32), side="left")
        b = np.searchsorted(thr, (p | 0xFFFF).view(np.float32), side="left")
        ok = (a == b) & ((p >> 23 & 0xFF) != 0xFF)  # the count is monotonic: equal ends, one count
        cache[key] = np.where(ok, a, -1).astype(np.int16)
    return cache[key]


def double_quantize(absmax: np.ndarray, offset: float | None = None, block: int = DOUBLE_QUANT_BLOCK):
    """bitsandbytes' double quantization of float32 block scales: (8-bit codes, float32 bits
    of the absmax of each ``block`` of them, offset). ``offset`` defaults to the float32
    mean (exactly rounded; bitsandbytes takes torch's float32 ``mean()``, which can differ
    in the last bit); codes are the dynamic map's levels of ``absmax - offset`` (float32
    subtraction) by the absmax recipe.

    >>> c, s, off = double_quantize(np.array([1.0, 2.0, 3.0], np.float32))
    >>> off, c.tolist()
    (2.0, [0, 127, 255])
    """
    a = np.ascontiguousarray(absmax, dtype=np.float32).reshape(-1)
    if a.size and not np.isfinite(a).all():
        raise ValueError("double quantization needs finite block scales: a block holds inf or NaN, and the "
                         "8-bit dynamic map that stores the scales has no NaN")
    off = (_f32_mean(a) if a.size else 0.0) if offset is None else float(np.float32(offset))
    d = (a - np.float32(off)).astype(np.float32)
    codes, scales, _ = _absmax_encode(d.reshape(1, -1), _dynamic(), d.size, block, False)
    return codes.reshape(-1), scales.reshape(-1), off


def double_dequantize(codes: np.ndarray, scale_scales: np.ndarray, offset: float,
                      block: int = DOUBLE_QUANT_BLOCK) -> np.ndarray:
    """The float32 block scales of :func:`double_quantize`'s output:
    fl32(fl32(level * absmax) + offset), as bitsandbytes' ``dequantize_blockwise`` + offset."""
    c = np.asarray(codes).reshape(-1)
    s = np.asarray(scale_scales, dtype=np.uint32).view(np.float32).reshape(-1)
    if s.size != -(-c.size // block):
        raise ValueError(f"{c.size} double-quantized scales need {-(-c.size // block)} scale scales, got {s.size}")
    lv = np.asarray(_dynamic().levels, dtype=np.float32)
    return (lv[c] * np.repeat(s, block)[:c.size]).astype(np.float32) + np.float32(offset)


def run(codec, x, fused: bool, rounding, seed, rbits, index_offset, out, rand=None):
    """Scaled.encode / quantize for a code-book element; ``out``: quantize's values or encode's
    codes, ``rand``: one random integer per element of x (:mod:`fmtlib.codecs.protocol`)."""
    from ..kernels.cpu import codebook as K

    q: Quantile = codec.element_codec
    x, _ = as_float_input(x, "quantize" if fused else "encode")
    if x.ndim == 0:
        raise ValueError("Scaled needs an array with at least one dimension")
    axis, xm, block = codec._layout(x)
    ncols = xm.shape[-1]
    nb = -(-ncols // block) if ncols else 0
    restore = (lambda r: codec._restore(r, axis, x.shape))
    if codec.scale_mode == "absmax":
        mode = q.rounding if rounding is None else Rounding.parse(rounding)
        if mode is not Rounding.NEAREST_EVEN or seed is not None or rbits is not None or rand is not None:
            raise ValueError("scale='absmax' is bitsandbytes' nearest recipe: no rounding, seed, rbits or rand "
                             "options (use scale='fp32' for other rounding modes)")
        check_index_offset(index_offset)
        x32 = xm if xm.dtype == np.float32 else xm.astype(np.float32)
        fuse = fused and not codec.double_quant and x.dtype in (np.float32, np.float64)
        codes, scales, vals = _absmax_encode(x32, q, ncols, block, fuse, axis is None)
        if fuse:
            return _deliver(out, x, restore(vals).astype(x.dtype, copy=False))
        enc = _record(codec, codes, scales, axis, block, x.shape, None if fused else out)
        if not fused:
            return enc
        # double_quant (the values take the double-quantized scales) or 16-bit input: decode the
        # record, into out where given, else into a C-contiguous array of x's shape
        if out is None:
            return _deliver(None, x, decode(codec, enc, x.dtype, checked=True))
        return decode(codec, enc, x.dtype, check_out(out, x, x.dtype), checked=True)
    mode_id = q._mode_id(rounding)
    key, rbits, rand = book_random(mode_id, x, seed, rbits, rand, index_offset)
    T = q._tables()
    tie = T["tie_away"] if mode_id == int(Rounding.NEAREST_AWAY) else T["tie"]
    src = xm if xm.dtype in (np.float32, np.float64) else xm.astype(np.float32)
    fuse = fused and x.dtype in (np.float32, np.float64)
    codes = np.empty(xm.shape if not fuse else (1,), dtype=q.code_dtype)
    scales = np.empty(xm.shape[:-1] + (nb,), dtype=np.uint32)
    res = np.empty(xm.shape if fuse else (1,), dtype=x.dtype if fuse else np.float64)
    args = (src.reshape(-1), codes.reshape(-1), scales.reshape(-1).view(np.float32), res.reshape(-1))
    book = (T["code_of"], T["lv"], mode_id, T["lv"], T["hi"], T["lo"], tie, T["dhi"], T["dlo"], T["dtie"], T["uhi"],
            T["ulo"], T["utie"], T["nan_index"])
    rnd = (np.uint64(key), int(index_offset), rbits, fuse, moved_rand(rand, axis),
           T["h16"] if fast_path.is_enabled() else T["h16"][:0])
    if axis is None and ncols:   # one scale: an amax pass, then the elements, both in parallel
        K.scaled_quantile_encode_tensor(*args, amax_element(src).view(src.dtype), *book, *rnd)
    else:
        K.scaled_quantile_encode(*args, *book, ncols, block, *rnd)
    if fuse:
        return _deliver(out, x, restore(res))
    enc = _record(codec, codes, scales, axis, block, x.shape, None if fused else out)
    return _deliver(out, x, codec.decode(enc, x.dtype)) if fused else enc


def book_random(mode_id: int, x, seed, rbits, rand, index_offset, xp=np):
    """(key, rbits, rand in x's shape or None) for a code-book block encode: the code book's
    rbits (at most 29, 29 by default, also with ``rand``)."""
    check_index_offset(index_offset)
    return random_args(Rounding(mode_id), tuple(x.shape), seed, rbits, rand, MAX_RBITS, rand_rbits=MAX_RBITS, xp=xp)


def _record(codec, codes, scales, axis, block, shape, out=None) -> Encoded:
    """The Encoded record of kernel rows (codes copied into ``out`` when given: the codes'
    dtype, the input's shape)."""
    if axis is None and scales.size == 0:   # an empty tensor still has its one scale: that of an all-zero block
        zero = 0.0 if codec.scale_mode == "absmax" else 2.0 ** -149
        scales = np.full((1, 1), zero, dtype=np.float32).view(np.uint32)
    restore_s = (lambda s: s.reshape(1) if axis is None else np.moveaxis(s, -1, axis))
    codes = codec._restore(codes, axis, shape)
    if out is not None:
        codes = _deliver(out, codes, codes)
    if not codec.double_quant:
        return Encoded(codes, restore_s(scales), shape, axis, block, codec.name)
    dq, ss, off = double_quantize(scales.view(np.float32))
    return Encoded(codes, restore_s(dq.reshape(scales.shape)), shape, axis, block, codec.name,
                   scale_scales=ss, scale_offset=off)


def _deliver(out, x, values: np.ndarray) -> np.ndarray:
    """``values`` (a buffer of ours, never x) itself when no ``out`` is given and it is
    C-contiguous with values' dtype and x's shape; else ``out`` (checked: values' dtype, x's
    shape) filled with it."""
    from .._arrays import check_out

    if out is None and values.flags.c_contiguous and values.shape == x.shape:
        return values
    o = check_out(out, x, values.dtype)
    np.copyto(o, values)
    return o


def decode(codec, enc: Encoded, dtype, into=None, checked: bool = False) -> np.ndarray:
    """Scaled.decode for a code-book element (into ``into`` when given: its dtype wins);
    ``checked``: the codes are the encoder's own, in range (no scan)."""
    from ..codecs.fp import FP
    from ..kernels.cpu import codebook as K

    dt = float_dtype(dtype if into is None else into.dtype)
    q: Quantile = codec.element_codec
    cm, sm = codec._record_rows(enc)
    if not checked:
        q.check_codes(cm)
    ncols = cm.shape[-1]
    if codec.double_quant:
        if enc.scale_scales is None or enc.scale_offset is None:
            raise ValueError("a double-quantized record needs scale_scales and scale_offset")
        if not checked and sm.size and int(sm.max()) > 255:
            raise ValueError("double-quantized scale codes are 8-bit")
        scales32 = double_dequantize(sm, enc.scale_scales, enc.scale_offset).reshape(sm.shape)
    else:
        if enc.scale_scales is not None:
            raise ValueError("record has double-quantized scales; this codec has double_quant=False")
        scales32 = np.ascontiguousarray(sm, dtype=np.uint32).view(np.float32)
    cflat = np.ascontiguousarray(cm).reshape(-1)
    if codec.scale_mode == "absmax":
        shape = np.shape(enc.codes)
        if into is not None and dt == np.float32 and (enc.axis is None or enc.axis % len(shape) == len(shape) - 1):
            out = check_out(into, np.asarray(enc.codes), np.float32)   # the rows are into's: decode in place
        else:
            out = np.empty(cm.shape, dtype=np.float32)
        K.scaled_quantile_decode(cflat, scales32.reshape(-1), out.reshape(-1), q.value_table(np.float32), ncols,
                                 enc.block)
        if out is into:
            return into
        vals = out.astype(dt, copy=False)  # bitsandbytes: float32 product, then .to(dtype)
    else:
        wide = dt if dt in (np.float32, np.float64) else np.dtype(np.float64)
        out = np.empty(cm.shape, dtype=wide)
        K.scaled_quantile_decode(cflat, scales32.reshape(-1), out.reshape(-1), q.value_table(np.float64), ncols,
                                 enc.block)
        if wide != dt:  # the exact float64 product, rounded once to the 16-bit dtype
            vals = FP("fp16" if dt == np.float16 else "bf16").encode(out).view(dt)
        else:
            vals = out
    vals = codec._restore(vals, enc.axis, np.shape(enc.codes))
    return vals if into is None else _deliver(into, np.asarray(enc.codes), vals)


def check_args(elem: Quantile, scale: str, block, axis, scale_rule, global_scale, double_quant) -> str:
    """The scale mode of a code-book Scaled codec, or a clear error."""
    mode = str(scale).lower()
    if mode not in SCALE_MODES:
        raise ValueError(f"Quantile elements take scale='fp32' or scale='absmax' (bitsandbytes), got {scale!r}")
    if elem.amax != 1.0:
        raise ValueError(f"Scaled needs a code book normalised to largest magnitude 1 (this one: {elem.amax}); "
                         "build it with Quantile.from_data(..., normalize=True) or divide the levels")
    if scale_rule != "floor" or global_scale:
        raise ValueError("scale_rule and global_scale apply to FP/Int elements, not code books")
    if double_quant and mode != "absmax":
        raise ValueError("double_quant=True is bitsandbytes' compress_statistics: it needs scale='absmax'")
    return mode


def bits_per_element(codec) -> float:
    """Element bits plus the block scale's share (8 bits + 32 per 256 blocks with double_quant)."""
    b = codec.element.bits
    if not codec.block:
        return float(b)
    if codec.double_quant:
        return b + 8 / codec.block + 32 / (codec.block * DOUBLE_QUANT_BLOCK)
    return b + 32 / codec.block


# --- on the GPU ------------------------------------------------------------------------------

def book_scaled_run(codec, fused: bool, x, rounding, seed, rbits, index_offset, rand=None):
    """``Scaled`` with a Quantile element: S = fl32(amax) per block (``"fp32"``) or the
    bitsandbytes recipe (``"absmax"``); an Encoded record of cupy arrays (double-quantized
    scales are computed on the host: one per block) or fused values in x's dtype."""
    cp = backend()
    q = codec.element_codec
    if x.ndim == 0:
        raise ValueError("Scaled needs an array with at least one dimension")
    axis, xm, block = codec._layout(x, cp)
    ncols = xm.shape[-1]
    nb = -(-ncols // block) if ncols else 0
    nblocks = (xm.size // ncols) * nb if ncols else 0
    absmax = codec.scale_mode == "absmax"
    per_tensor = axis is None and ncols > 0   # one scale: an amax reduction, then a thread per element
    fuse = fused and not codec.double_quant
    codes = cp.empty(xm.shape if not fuse else (1,), dtype=q.code_dtype)
    scales = cp.empty(xm.shape[:-1] + (nb,), dtype=np.uint32)
    if absmax:
        mode = q.rounding if rounding is None else Rounding.parse(rounding)
        if mode is not Rounding.NEAREST_EVEN or seed is not None or rbits is not None or rand is not None:
            raise ValueError("scale='absmax' is bitsandbytes' nearest recipe: no rounding, seed, rbits or rand "
                             "options (use scale='fp32' for other rounding modes)")
        codec._random(None, None, None, index_offset)   # checks index_offset
        x32 = xm if np.dtype(xm.dtype) == np.float32 else xm.astype(np.float32)
        out = cp.empty(xm.shape if fuse else (1,), dtype=np.float32)
        thr = q.thresholds if q.thresholds is not None else bnb_thresholds(q.levels)
        name = f"fmt_book_absmax_encode{'_tensor' if per_tensor else ''}<{C_UINT[q.code_dtype.itemsize]}>"
        span = ((np.int64(x32.size), amax_bits(x32)) if per_tensor
                else (np.int64(nblocks), np.int64(ncols), np.int64(block)))
        launch("tensor.cu" if per_tensor else "codebook.cu", name, x32.size if per_tensor else 32 * nblocks,
               (raw_bits(x32).reshape(-1), codes.reshape(-1), scales.reshape(-1), raw_bits(out).reshape(-1), *span,
                table_on_device(np.asarray(q.levels)),
                table_on_device(np.asarray(thr)), np.int64(len(thr)), book_on_device(q, 0)[4],
                np.int64(book_on_device(q, 0)[3]), np.int32(fuse)))
        if fuse:
            out = out.astype(xm.dtype, copy=False)
    else:
        mode = q._mode_id(rounding)
        key, rbits, rand = book_random(mode, x, seed, rbits, rand, index_offset, cp)
        d, t, nlev, nan_index, code_of = book_on_device(q, mode)
        out = cp.empty_like(xm) if fuse else cp.empty(1, dtype=xm.dtype)
        name, threads, span = encode_launch("book_scaled", xm, codes, nblocks, block, per_tensor)
        launch("tensor.cu" if per_tensor else "codebook.cu", name, threads,
               (raw_bits(xm).reshape(-1), codes.reshape(-1), scales.reshape(-1), raw_bits(out).reshape(-1), *span,
                params_on_device(kernel_params(float_format(xm.dtype))), d, t, np.int64(nlev), np.int64(nan_index),
                code_of, np.int32(mode), np.uint64(key), np.int64(index_offset), np.int32(rbits), np.int32(fuse),
                *rand_arg(codec, rand, axis)))
    if fuse:
        return cp.ascontiguousarray(out.reshape(x.shape) if axis is None else cp.moveaxis(out, -1, axis))
    if axis is None and scales.size == 0:   # an empty tensor still has its one scale: that of an all-zero block
        scales = cp.asarray(np.full((1, 1), 0.0 if absmax else 2.0 ** -149, np.float32).view(np.uint32))
    restore_s = (lambda s: s.reshape(1) if axis is None else cp.moveaxis(s, -1, axis))
    codes_r = codes.reshape(x.shape) if axis is None else cp.moveaxis(codes, -1, axis)
    if codec.double_quant:
        host = cp.asnumpy(scales)
        dq, ss, off = double_quantize(host.view(np.float32))
        enc = Encoded(codes_r, restore_s(cp.asarray(dq.reshape(host.shape))), tuple(x.shape), axis, block,
                      codec.name, scale_scales=cp.asarray(ss), scale_offset=off)
    else:
        enc = Encoded(codes_r, restore_s(scales), tuple(x.shape), axis, block, codec.name)
    return book_scaled_decode(codec, enc, x.dtype) if fused else enc


def book_scaled_decode(codec, enc, dtype):
    """``Scaled`` (Quantile element) ``decode`` of an Encoded record holding cupy arrays."""
    cp = backend()
    dq = codec.double_quant
    codes, sm = record_rows(codec, enc, 256 if dq else 1 << 32, "double-quantized 8-bit scales" if dq else "float32")
    ncols = codes.shape[-1]
    if dq:
        if enc.scale_scales is None or enc.scale_offset is None:
            raise ValueError("a double-quantized record needs scale_scales and scale_offset")
        h = cp.asnumpy(sm)
        ss = enc.scale_scales
        ss = cp.asnumpy(ss) if is_device_array(ss) else np.asarray(ss)
        s32 = double_dequantize(h, ss, enc.scale_offset).reshape(h.shape)
        sm = cp.asarray(np.ascontiguousarray(s32).view(np.uint32))
    else:
        if enc.scale_scales is not None:
            raise ValueError("record has double-quantized scales; this codec has double_quant=False")
        sm = sm.astype(np.uint32, copy=False)
    res = book_decode(codec.element_codec, codes, sm, ncols, enc.block, codec.scale_mode == "absmax", dtype)
    return restore_layout(res, enc)
