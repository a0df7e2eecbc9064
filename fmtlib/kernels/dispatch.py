"""Pick and launch the CPU kernel for a conversion; the codecs call these after validating.

>>> import numpy as np
>>> from fmtlib import get_format
>>> x = np.array([0.3, 2.5], np.float32)
>>> out = np.empty(2, np.uint8)
>>> convert_floats(x.view(np.uint32), out, get_format("fp32"), get_format("e2m1"), fused=False,
...                mode=0, overflow=1, key=0, index_offset=0, rbits=1, rand=None, flush=False)
>>> out
array([1, 4], dtype=uint8)
"""
from __future__ import annotations

import numpy as np

from ..rounding import Overflow, Rounding
from . import fast_path
from .params import kernel_params


def convert_floats(src, dst, src_fmt, fmt, *, fused: bool, mode: int, overflow: int, key: int,
                   index_offset: int, rbits: int, rand, flush: bool) -> None:
    """Round float bits ``src`` (format ``src_fmt``) into ``fmt``: codes into ``dst``, or, with
    ``fused``, the rounded values back in ``src_fmt`` bits (quantize).

    ``rand`` (flat integer array) replaces the generator for stochastic rounding."""
    if rand is None:
        k = (id(fmt), id(src_fmt), fused, mode, overflow, flush, fast_path.is_enabled())
        plan = _plans.get(k)
        if plan is None:   # the entry holds fmt and src_fmt, so their ids cannot be reused while it exists
            if len(_plans) >= 1024:
                _plans.clear()
            plan = _plans[k] = (fmt, src_fmt, _plan(src_fmt, fmt, fused, mode, overflow, flush))
        plan[2](src, dst, np.uint64(key), index_offset, rbits)
        return
    from .cpu import convert as K

    if fast_path.eligible(fmt, src_fmt, flush):
        C, special = fast_path.constants(fmt, src_fmt, mode, overflow)
        D = None if fused else fast_path.code_constants(fmt, src_fmt)
        K.fast_stochastic_rand(src, rand, dst, C, special, D, rbits)
    else:
        kernel = K.roundtrip_rand if fused else K.convert_rand
        kernel(src, rand, dst, kernel_params(src_fmt), kernel_params(fmt), mode, overflow, rbits, flush, flush)


#: (id(fmt), id(src_fmt), fused, mode, overflow, flush, fast path on) -> (fmt, src_fmt, plan): the kernel
#: choice and its constants, made once (a call of 2**10 elements costs a few microseconds, and
#: choosing took as long as the kernel)
_plans: dict = {}


def _plan(src_fmt, fmt, fused: bool, mode: int, overflow: int, flush: bool):
    """``run(src, dst, key, index_offset, rbits)``: the kernel :func:`convert_floats` takes
    without ``rand``, its constants bound."""
    from .cpu import convert as K

    nearest = mode in (Rounding.NEAREST_EVEN, Rounding.FLOOR_ON_OVERFLOW)
    if fast_path.eligible(fmt, src_fmt, flush):
        C, special = fast_path.constants(fmt, src_fmt, mode, overflow)
        D = None if fused else fast_path.code_constants(fmt, src_fmt)
        kind = fast_path.lanes32_kind(src_fmt)
        if kind is not None and (nearest or (mode == Rounding.STOCHASTIC and fused)):
            K32, special32 = fast_path.nearest32_constants(fmt, src_fmt, mode, overflow)
        if nearest and kind:   # bfloat16, float16: 16-bit lanes
            P, fp16 = fast_path.lanes16_constants(fmt, src_fmt), kind == 2
            if fused:
                return lambda src, dst, key, off, rbits: K.fast_nearest_16(src, dst, P, special32, fp16)
            _, codes = fast_path.encode32_constants(fmt, mode, overflow)
            return lambda src, dst, key, off, rbits: K.fast_encode_16(src, dst, P, codes, fp16)
        if nearest and kind == 0:
            if fused:
                return lambda src, dst, key, off, rbits: K.fast_nearest_f32(src, dst, K32, special32)
            E, codes = fast_path.encode32_constants(fmt, mode, overflow)
            return lambda src, dst, key, off, rbits: K.fast_encode_f32(src, dst, K32, E, codes)
        if nearest:
            return lambda src, dst, key, off, rbits: K.fast_nearest(src, dst, C, special, D)
        if mode != Rounding.STOCHASTIC:
            return lambda src, dst, key, off, rbits: K.fast_directed(src, dst, C, special, D, mode)
        if fused and kind == 0:
            return lambda src, dst, key, off, rbits: K.fast_stochastic_f32(src, dst, K32, special32, key, off, rbits)
        if fused and kind:
            P, fp16 = fast_path.lanes16_constants(fmt, src_fmt), kind == 2
            return lambda src, dst, key, off, rbits: K.fast_stochastic_16(src, dst, P, special32, key, off, rbits,
                                                                          fp16)
        return lambda src, dst, key, off, rbits: K.fast_stochastic(src, dst, C, special, D, key, off, rbits)
    Psrc, Pfmt = kernel_params(src_fmt), kernel_params(fmt)
    name = "roundtrip" if fused else "convert"   # looked up at each call, as K.<kernel> above (tests wrap them)
    return lambda src, dst, key, off, rbits: getattr(K, name)(src, dst, Psrc, Pfmt, mode, overflow, key, off, rbits,
                                                              flush, flush)


def decode_codes(codes, dst, fmt, out_fmt, *, flush: bool) -> None:
    """Codes of ``fmt`` to ``out_fmt`` bits (nearest-even, the format's own overflow)."""
    from .cpu import convert as K

    if codes.dtype == np.uint64:
        codes = codes.view(np.int64)
    K.convert(codes, dst, kernel_params(fmt), kernel_params(out_fmt), int(Rounding.NEAREST_EVEN),
              int(Overflow.IEEE), np.uint64(0), 0, 1, flush, False)


def decode32(codes, dst, fmt, out_fmt) -> None:
    """Codes of ``fmt`` to float32/bfloat16/float16 bits by arithmetic (fast_path.decode32_eligible)."""
    from .cpu import convert as K

    kind = fast_path.lanes32_kind(out_fmt)
    narrow = fast_path.decode16_constants(fmt, out_fmt) if kind else None
    if narrow is not None:
        K.fast_decode_16(codes, dst, narrow[0], narrow[1], kind == 2)
        return
    Kd, sp = fast_path.decode32_constants(fmt, out_fmt)
    if kind == 0:
        K.fast_decode_f32(codes, dst, Kd, sp)
    else:
        K.fast_decode_16_f32(codes, dst, Kd, sp, kind == 2)


def gather(codes, table, dst) -> None:
    """``dst[i] = table[codes[i]]`` (codes already range-checked)."""
    from .cpu import convert as K

    K.gather(codes, table, dst)
