"""When quantize and encode may take the fast path of :mod:`fmtlib.kernels.cpu.element`, and its constants.

The fast path rounds on the input's own bits. It needs a signed format with subnormals, no
flushing, and every value of the format (its quantum, half of it, and its max) held by
the input dtype's format with at least one mantissa bit to spare. Everything else takes
the generic kernel; both give the same bits (tests/test_fast_paths.py).
"""
from __future__ import annotations

import contextlib
from functools import lru_cache

import numpy as np

_enabled = True


@contextlib.contextmanager
def disabled():
    """Run everything on the generic kernel inside this block (tests compare the two).

    Not thread-safe: it flips a module-wide switch."""
    global _enabled
    old, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = old


def is_enabled() -> bool:
    """False inside :func:`disabled`."""
    return _enabled


def eligible(fmt, src_fmt, flush: bool) -> bool:
    """True where the fast path gives the generic path's bits."""
    return _enabled and _eligible(fmt, src_fmt, flush)


@lru_cache(maxsize=256)
def _eligible(fmt, src_fmt, flush: bool) -> bool:
    from ..formats import FloatFormat

    return (isinstance(fmt, FloatFormat) and fmt.signed and fmt.subnormals and not flush and fmt.mbits < src_fmt.mbits
            and fmt.emin >= src_fmt.emin and fmt.emax <= src_fmt.emax
            and fmt.emin - fmt.mbits - 1 >= src_fmt.emin - src_fmt.mbits)


@lru_cache(maxsize=256)
def constants(fmt, src_fmt, mode: int, overflow: int) -> tuple:
    """``(C, special)`` for the fast kernels (see the comment above ``_fast_round``)."""
    from .. import exact
    from ..rounding import Overflow, Rounding

    def bits(v: float) -> int:
        return exact.code_of(src_fmt, abs(v), v < 0)  # exact: the value is representable

    lq = fmt.emin - fmt.mbits
    # Results for overflow, inf and NaN by sign, by the specials policy (fmtlib.exact). The
    # kernels give the overflow result to the largest finite input, which rounds above max
    # (or, under the to-zero modes, to max: also their overflow result).
    rnd, ovf = Rounding(mode), Overflow(overflow)
    special = [exact.overflow_result(fmt, False, rnd, ovf), exact.overflow_result(fmt, True, rnd, ovf),
               exact.inf_result(fmt, False, ovf), exact.inf_result(fmt, True, ovf),
               exact.nan_result(fmt, False), exact.nan_result(fmt, True)]
    special = [_decode_to(src_fmt, fmt, code) for code in special]
    sign_pos = src_fmt.bits - 1
    sign_bit = -(1 << 63) if sign_pos == 63 else 1 << sign_pos
    C = (src_fmt.mbits - fmt.mbits, fmt.emin + src_fmt.bias, bits(2.0 ** lq), bits(2.0 ** (lq - 1)), lq,
         bits(fmt.max), 0 if fmt.specials == "fnuz" else sign_bit, src_fmt.mbits, sign_pos,
         src_fmt.bias + src_fmt.mbits)
    return C, np.array([_as_int64(c, src_fmt.bits) for c in special], dtype=np.int64)


def _decode_to(src_fmt, fmt, code: int) -> int:
    """The input-format bits of a code's value (NaN: the canonical NaN with the code's sign)."""
    from .. import exact

    v = exact.value(fmt, code)
    negative = bool(code & fmt.sign_mask)
    sign = src_fmt.sign_mask if negative else 0
    if isinstance(v, float) and v != v:
        return src_fmt.nan_code | sign
    if isinstance(v, float):
        return src_fmt.inf_code | sign
    return exact.code_of(src_fmt, abs(v), negative)


def _as_int64(v: int, width: int) -> int:
    """Reinterpret a ``width``-bit pattern as the int64 the kernels hold it in."""
    return v - (1 << 64) if width == 64 and v >= 1 << 63 else v


@lru_cache(maxsize=256)
def code_constants(fmt, src_fmt) -> tuple:
    """``D`` for encoding with the fast path: see ``_value_code``."""
    from .. import exact

    inf = [exact.inf_result(fmt, negative) for negative in (False, True)]
    nan = [exact.nan_result(fmt, negative) for negative in (False, True)]
    return (src_fmt.bias - fmt.bias, fmt.mbits, fmt.mag_bits, int(fmt.signed), *inf, *nan)


def mx_eligible(elem, src_fmt) -> bool:
    """True where MX blocks of ``elem`` from ``src_fmt`` may take ``mx_encode_fast``: the fast
    path applies to the element, and half its quantum is at or above the input's smallest
    normal (so anything scaled below the input's normal range rounds as "tiny")."""
    return eligible(elem, src_fmt, False) and elem.emin - elem.mbits - 1 >= src_fmt.emin


#: rounding modes of the MX 32-bit lane kernels (nearest-even, stochastic, floor-on-overflow: nearest-even
#: when saturating)
_MX32_MODES = (0, 6, 7)


def mx32_eligible(elem, src_fmt, mode: int, rand) -> bool:
    """True where MX blocks of ``elem`` from ``src_fmt`` may take the CPU's 32-bit lane kernels
    (``mx32_*`` in ``fmtlib/kernels/cpu/mx.py``): float32, bfloat16 or float16 input,
    nearest-even or stochastic rounding by fmtlib-rng-v1 (no ``rand``), and a float element that
    the fast path rounds from both the input and float32 with half its quantum at least
    2**(62 - 126), or an integer element whose max is below 2**23 and has at most the input's
    precision in bits (the proofs are in ``fmtlib/kernels/cpu/mx.py``). The device takes its port
    of them (``fmt_mx32_encode``, ``fmtlib/kernels/cuda/fmt_mx32.cuh``) where this holds."""
    return (_enabled and rand is None and mode in _MX32_MODES and lanes32_kind(src_fmt) is not None
            and _mx32_element(elem, src_fmt))


def mx32_constants(elem, src_fmt, mode: int, eshift: int) -> tuple:
    """``(K, E)`` of the MX lane kernels (the CPU's ``mx32_*`` and the device's
    ``fmt_mx32_encode``) for element ``elem``: :func:`int32_constants` for an integer element,
    else :func:`nearest32_constants`' K and :func:`encode32_constants`' E, saturating."""
    from ..integers import IntFormat
    from ..rounding import Overflow

    if isinstance(elem, IntFormat):
        return int32_constants(elem, eshift)
    return (nearest32_constants(elem, src_fmt, mode, int(Overflow.SATURATE))[0],
            encode32_constants(elem, mode, int(Overflow.SATURATE))[0])


@lru_cache(maxsize=64)
def _mx32_element(elem, src_fmt) -> bool:
    from ..integers import IntFormat

    if isinstance(elem, IntFormat):
        return elem.max.bit_length() <= min(23, src_fmt.mbits + 1)
    return (_eligible(elem, src_fmt, False) and _eligible(elem, _fp32(), False)
            and elem.emin - elem.mbits - 1 - 62 >= -126)


@lru_cache(maxsize=64)
def int32_constants(elem, eshift: int) -> tuple:
    """``(K, E)`` (uint32 arrays) of an integer element worth its code times 2**-eshift (MXINT8:
    6) for the MX lane kernels (see "integer elements" in ``fmtlib/kernels/cpu/mx.py``): K as
    :func:`nearest32_constants` gives it for a format with quantum q = 2**-eshift whose
    smallest normal is 2**23 * q (no bits dropped above it, 0 for a zero's sign, saturation at
    max * q); E = (code mask, float32 bits of -min * q, the sign-magnitude sign bit or 0, 1 for
    two's complement)."""
    def bits(v) -> int:
        return int(np.float32(v).view(np.uint32))

    q = 2.0 ** -eshift
    K = [0, bits(2.0 ** 23 * q), bits(2.0 ** 23 * q), bits(elem.max * q), 0, 150 - eshift, bits(q), 150 - eshift]
    sign_magnitude = elem.encoding == "sign_magnitude"
    E = [(1 << elem.bits) - 1, bits(-elem.min * q), 1 << (elem.bits - 1) if sign_magnitude else 0,
         int(not sign_magnitude)]
    return np.array(K, dtype=np.uint32), np.array(E, dtype=np.uint32)


#: rounding modes the threshold kernels handle (nearest-even, nearest-away, toward zero)
_TABLE_MODES = (0, 1, 2)


def table_eligible(elem, src_fmt, mode: int) -> bool:
    """True where blocks of ``elem`` may be encoded by comparing against thresholds
    (:func:`thresholds`): a signed float element with at most 16 magnitudes, none of them
    special, a nearest or toward-zero mode, and an IEEE input whose normal range holds
    every threshold at scale 1."""
    from ..formats import FloatFormat

    return (_enabled and isinstance(elem, FloatFormat) and elem.signed and elem.specials == "none"
            and elem.ebits + elem.mbits <= 4 and mode in _TABLE_MODES and src_fmt.specials == "ieee"
            and src_fmt.bits <= 32 and elem.mbits + 1 < src_fmt.mbits)


@lru_cache(maxsize=64)
def thresholds(elem, src_fmt, mode: int) -> tuple:
    """``(thr, vals_bits, vals)`` for the threshold kernels.

    ``thr[k]``: the input-format bits t such that magnitude code k+1 or above is chosen
    exactly when ``|x| bits > t`` (x at scale 1); ties to even become ``>=`` by taking one
    off. A tuple of 15, padded with int64 max. ``vals_bits``/``vals``: each magnitude's value as input bits and as float64."""
    from fractions import Fraction

    from .. import exact

    n = 1 << (elem.ebits + elem.mbits)
    mags = [exact.value(elem, c) for c in range(n)]
    thr = []
    for k in range(n - 1):
        lo, hi = Fraction(mags[k]), Fraction(mags[k + 1])
        if mode == 2:  # toward zero: k+1 from hi up
            t, inclusive = hi, True
        else:  # nearest: from the midpoint; a tie goes up under away, or to an even code
            t = (lo + hi) / 2
            inclusive = mode == 1 or (k + 1) % 2 == 0
        bits = exact.code_of(src_fmt, t)  # exact: midpoints have one bit more than elem
        thr.append(bits - 1 if inclusive else bits)
    vbits = [exact.code_of(src_fmt, m) for m in mags]
    thr += [(1 << 63) - 1] * (15 - len(thr))  # the kernels take 15: unused ones never pass
    return (tuple(thr), np.array(vbits, dtype=np.int64), np.array([float(m) for m in mags], dtype=np.float64))


def scaled_eligible(elem, dtype, mode: int) -> bool:
    """True where ``Scaled`` with a float scale may take ``scaled_encode_fast``: float32 input,
    a deterministic mode, and an integer element or a float element that the fast path rounds
    from float64 (the proof is in ``fmtlib/kernels/cpu/scaled.py``)."""
    return _enabled and dtype == np.float32 and _scaled_eligible(elem, int(mode))


@lru_cache(maxsize=256)
def _scaled_eligible(elem, mode: int) -> bool:
    from ..formats import FloatFormat
    from ..integers import IntFormat
    from ..rounding import Rounding

    if mode == Rounding.STOCHASTIC:
        return False
    return isinstance(elem, IntFormat) or (isinstance(elem, FloatFormat) and _eligible(elem, _fp64(), False))


@lru_cache(maxsize=1)
def _fp64():
    from ..catalog import parse_format

    return parse_format("fp64")


@lru_cache(maxsize=64)
def scaled_constants(elem, mode: int) -> tuple:
    """``(C, special, D)`` for ``scaled_encode_fast``: the element's fast-path constants from
    float64, saturating (those of float32 for an integer element, which ignores them)."""
    from ..formats import FloatFormat
    from ..rounding import Overflow

    fmt = elem if isinstance(elem, FloatFormat) else _fp32()
    C, special = constants(fmt, _fp64(), mode, int(Overflow.SATURATE))
    return C, special, code_constants(fmt, _fp64())


@lru_cache(maxsize=1)
def _fp32():
    from ..catalog import parse_format

    return parse_format("fp32")


def lanes32_kind(src_fmt) -> int | None:
    """0, 1 or 2 where ``src_fmt`` is float32, bfloat16 or float16 (the inputs of the 32-bit
    lane kernels ``fast_*_f32`` / ``fast_*_16``), else None."""
    if src_fmt.specials != "ieee":
        return None
    return {(8, 23): 0, (8, 7): 1, (5, 10): 2}.get((src_fmt.ebits, src_fmt.mbits))


@lru_cache(maxsize=256)
def nearest32_constants(fmt, src_fmt, mode: int, overflow: int) -> tuple:
    """``(K, special)`` (uint32 arrays) for the 32-bit lane kernels: see the comments above
    ``_nearest32_loop`` and ``_stochastic32_loop`` in ``fmtlib/kernels/cpu/element.py``."""
    from .. import exact

    f32 = _fp32()
    _, special = constants(fmt, src_fmt, mode, overflow)

    def bits(v) -> int:
        return exact.code_of(f32, v)

    lq = fmt.emin - fmt.mbits
    zero_sign = 0 if fmt.specials == "fnuz" else 1 << (src_fmt.bits - 1)
    K = [23 - fmt.mbits, bits(2.0 ** fmt.emin), bits(2.0 ** (lq + 23)), bits(fmt.max), zero_sign,
         fmt.emin + 127, bits(2.0 ** lq), 150 + lq]
    return np.array(K, dtype=np.uint32), (special & 0xFFFFFFFF).astype(np.uint32)


@lru_cache(maxsize=256)
def lanes16_constants(fmt, src_fmt) -> np.ndarray:
    """``P`` (uint16) for the 16-bit lane kernels ``fast_nearest_16``, ``fast_encode_16`` and
    ``fast_stochastic_16`` (bfloat16 or float16 input): see the comments above ``_input16`` and
    ``_stochastic16_loop`` in ``fmtlib/kernels/cpu/element.py``."""
    from .. import exact

    lq = fmt.emin - fmt.mbits
    P = [src_fmt.mbits - fmt.mbits, fmt.emin + src_fmt.bias, exact.code_of(src_fmt, float(fmt.max)),
         0 if fmt.specials == "fnuz" else 0x8000, fmt.mag_bits, int(fmt.specials != "fnuz"), fmt.max_code,
         exact.code_of(src_fmt, 2.0 ** lq), exact.code_of(src_fmt, 2.0 ** (lq - 1))]
    return np.array(P, dtype=np.uint16)


def scaled_rne_eligible(elem, scale_fmt, dtype, mode: int, global_scale: bool) -> bool:
    """True where ``scaled_encode_rne`` applies: :func:`scaled_eligible`, nearest-even or
    floor-on-overflow (Rounding 0 and 7), no global scale, and a scale format with subnormals."""
    return not global_scale and mode in (0, 7) and scale_fmt.subnormals and scaled_eligible(elem, dtype, mode)


@lru_cache(maxsize=64)
def scaled_rne_params(elem, scale_fmt) -> tuple:
    """``(F, S, M, smax, smin, scale NaN code)`` for ``scaled_encode_rne``."""
    smin = float(scale_fmt.smallest_subnormal)
    return _numbers(elem), _numbers(scale_fmt), float(elem.max), float(scale_fmt.max), smin, scale_fmt.nan_code


def _numbers(f) -> tuple:
    """(mbits, bias, emin, log2 quantum, sign shift, 1 where -0 is kept) of a float format; zeros
    for an integer one."""
    from ..formats import FloatFormat

    if not isinstance(f, FloatFormat):
        return (0,) * 6
    return (f.mbits, f.bias, f.emin, f.emin - f.mbits, f.mag_bits, int(f.specials != "fnuz"))


def scaled_sr_eligible(elem, dtype, mode: int) -> bool:
    """True where ``Scaled`` with a float scale may round stochastically on ``scaled_encode_sr``
    (the float64 fast path; the proof is in ``fmtlib/kernels/cpu/scaled.py``): float32 input,
    stochastic rounding, and an integer element or a float element that the fast path rounds
    from float64 whose quantum is a normal float64. A CPU-only choice: the device keeps the
    exact division."""
    from ..rounding import Rounding

    return _enabled and dtype == np.float32 and mode == Rounding.STOCHASTIC and _scaled_sr_element(elem)


@lru_cache(maxsize=64)
def _scaled_sr_element(elem) -> bool:
    from ..formats import FloatFormat
    from ..integers import IntFormat

    return isinstance(elem, IntFormat) or (isinstance(elem, FloatFormat) and _eligible(elem, _fp64(), False)
                                           and elem.emin - elem.mbits >= -1000)


@lru_cache(maxsize=256)
def scaled_sr_params(elem, rbits: int) -> tuple:
    """``(F, M, e1, e2)`` for ``scaled_encode_sr``: the element's numbers as
    :func:`scaled_rne_params`, its max, and the window of undecided sums (uint64): (err, 2 * err),
    err = 2**(precision + 12), or (0, 0) where precision + rbits <= 24 (decided exactly)."""
    from ..integers import IntFormat

    p = elem.bits - int(elem.signed) if isinstance(elem, IntFormat) else elem.mbits + 1
    err = 0 if p + rbits <= 24 else 1 << (p + 12)
    return _numbers(elem), float(elem.max), np.uint64(err), np.uint64(2 * err)


@lru_cache(maxsize=64)
def scaled_sr_scale(scale_fmt, global_scale: bool) -> tuple:
    """``(S, smax, smin, scale NaN code, rne_scale)`` for ``scaled_encode_sr``: with
    ``rne_scale`` (no global scale, a scale format with subnormals) the block scale is
    ``scaled_encode_rne``'s float64 one, else the exact division's (the rest then unused)."""
    if global_scale or not scale_fmt.subnormals:
        return (0,) * 6, 0.0, 0.0, 0, False
    return _numbers(scale_fmt), float(scale_fmt.max), float(scale_fmt.smallest_subnormal), scale_fmt.nan_code, True


@lru_cache(maxsize=256)
def encode32_constants(fmt, mode: int, overflow: int) -> tuple:
    """``(E, codes)`` for ``fast_encode_f32`` (``fast_encode_16`` takes the codes): (mag_bits,
    (127 - bias) << mbits, 1 where -0 is kept, the largest finite magnitude code) and the codes
    of an overflow, an inf and a NaN by sign (fmtlib.exact)."""
    E = (fmt.mag_bits, (127 - fmt.bias) << fmt.mbits, int(fmt.specials != "fnuz"), fmt.max_code)
    return np.array(E, dtype=np.uint32), _special_codes(fmt, mode, overflow)


def _special_codes(fmt, mode: int, overflow: int) -> np.ndarray:
    """The codes of an overflow, an inf and a NaN, positive then negative (fmtlib.exact)."""
    from .. import exact
    from ..rounding import Overflow, Rounding

    rnd, ovf = Rounding(mode), Overflow(overflow)
    codes = [exact.overflow_result(fmt, False, rnd, ovf), exact.overflow_result(fmt, True, rnd, ovf),
             exact.inf_result(fmt, False, ovf), exact.inf_result(fmt, True, ovf),
             exact.nan_result(fmt, False), exact.nan_result(fmt, True)]
    return np.array(codes, dtype=np.uint32)


def decode32_eligible(fmt, out_fmt) -> bool:
    """True where ``fast_decode_f32``/``fast_decode_16_f32`` decode codes of ``fmt`` into
    ``out_fmt``: float32, bfloat16 or float16 output that holds every value of the format (as
    :func:`eligible`), and a bias of at least 0 (so the kernels' scale is a float32)."""
    return lanes32_kind(out_fmt) is not None and eligible(fmt, out_fmt, False) and fmt.bias >= 0


@lru_cache(maxsize=256)
def decode32_constants(fmt, out_fmt) -> tuple:
    """``(Kd, sp)`` (uint32 arrays) for ``fast_decode_f32``/``fast_decode_16_f32``: see
    ``_decode32_loop``. The scale is 2**(127 - bias) (times 2**-112 for float16 output); the inf
    and NaN outputs are the generic rule's (the output's inf, and its NaN, with the code's sign)."""
    from .. import exact

    none = 0xFFFFFFFF
    mag_all = (1 << fmt.mag_bits) - 1
    inf_mag = fmt.inf_code & mag_all if fmt.inf_code is not None else none
    nan_lo = {"ieee": inf_mag + 1 if fmt.inf_code is not None else none, "fn": mag_all}.get(fmt.specials, none)
    fnuz_nan = fmt.sign_mask if fmt.specials == "fnuz" else none
    scale = exact.code_of(_fp32(), 2.0 ** (127 - fmt.bias - (112 if lanes32_kind(out_fmt) == 2 else 0)))
    Kd = (fmt.mbits, fmt.mag_bits, scale, inf_mag, nan_lo, fnuz_nan)
    return np.array(Kd, dtype=np.uint32), np.array((out_fmt.inf_code, out_fmt.nan_code), dtype=np.uint32)


@lru_cache(maxsize=256)
def decode16_constants(fmt, out_fmt) -> tuple | None:
    """``(P, sp)`` (uint16 arrays) for ``fast_decode_16`` (codes into bfloat16 or float16 bits
    in 16-bit lanes; see the comment above ``_decode16_loop``) where :func:`decode32_eligible`
    holds and the output's bias is the format's or at least its mantissa bits more; else None."""
    Kd, sp = decode32_constants(fmt, out_fmt)
    bd = out_fmt.bias - fmt.bias
    if lanes32_kind(out_fmt) not in (1, 2) or not (bd == 0 or bd >= fmt.mbits):
        return None
    m_out, none = out_fmt.mbits, 0xFFFF
    P = [m_out - fmt.mbits, fmt.mag_bits, bd << m_out, (1 << fmt.mbits) if bd else 0,
         ((bd - fmt.mbits - 126) << m_out) & 0xFFFF, min(int(Kd[3]), none), min(int(Kd[4]), none),
         min(int(Kd[5]), none)]
    return np.array(P, dtype=np.uint16), sp.astype(np.uint16)
