"""Constants for the float32 fast paths of :mod:`fmtlib.kernels.cpu.convert`.

The fast path takes float32 input to a signed format with subnormals and no flushing,
where float32 holds every value of the format as a normal-exponent-compatible number
(emin >= -126, mbits <= 22, max < 2**128). Everything else takes the generic path.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np


def eligible(fmt, flush: bool) -> bool:
    """True where the float32 fast paths give the generic path's bits."""
    return (fmt.signed and fmt.subnormals and not flush and fmt.mbits <= 22
            and fmt.emin >= -126 and fmt.emax <= 127)


@lru_cache(maxsize=256)
def constants(fmt, mode: int, overflow: int) -> tuple:
    """Arguments of ``quantize_f32`` after ``src, out``, up to ``special`` (see its comment)."""
    from ..catalog import parse_format
    from ..rounding import Rounding
    from .cpu import convert as K
    from .params import kernel_params

    def f32_bits(v: float) -> int:
        return int(np.array([v], np.float32).view(np.uint32)[0])

    lq = fmt.emin - fmt.mbits
    big = np.finfo(np.float32).max
    probe = np.array([big, -big, np.inf, -np.inf, np.nan, -np.nan], np.float32)
    special = np.empty(6, np.uint32)
    # float32's max gets each mode's overflow result (it rounds above max, or to max under the
    # to-zero modes, which is also what they give on overflow). Stochastic may round it down,
    # so probe with nearest-away, whose overflow result it shares.
    probe_mode = int(Rounding.NEAREST_AWAY) if mode == int(Rounding.STOCHASTIC) else mode
    K.roundtrip(probe.view(np.uint32), special, kernel_params(parse_format("fp32")), kernel_params(fmt),
                probe_mode, overflow, np.uint64(0), 0, 1, False, False)
    return (23 - fmt.mbits, fmt.emin + 127, f32_bits(2.0 ** lq), f32_bits(2.0 ** (lq - 1)), lq,
            f32_bits(fmt.max), 0 if fmt.specials == "fnuz" else 0x80000000, special.astype(np.int64))
