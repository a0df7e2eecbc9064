"""``FP``: the EjMk minifloat codec.

>>> import numpy as np, fmtlib
>>> fmtlib.FP("e2m1").quantize(np.array([0.3, 2.5, 7.0], dtype=np.float32))
array([0.5, 2. , 6. ], dtype=float32)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .._backend import is_device_array
from .._dtypes import is_bfloat16
from ..catalog import canonical_name, default_specials, parse_format
from ..formats import FloatFormat
from ..rounding import Overflow, Rounding
from .element import ElementCodec, from_format


class FP(ElementCodec):
    """An EjMk minifloat codec: a :class:`~fmtlib.formats.FloatFormat` plus rounding rules.

    ``spec`` is a name (``"e2m1"``, ``"e4m3fn"``, ``"bf16"``, any ``"eXmY"`` with
    ``",bias=B"``) or a FloatFormat; keyword fields (``ebits``, ``mbits``, ``bias``,
    ``signed``, ``subnormals``, ``specials``) build or override one.
    ``rounding``/``overflow`` are the defaults of every call (nearest-even; ``"ieee"``, as
    ml_dtypes); ``profile`` takes them from a library or instruction set instead
    (``"torch"``, ``"cuda_satfinite"``, ``"cuda_rz"``/``"cuda_rp"`` for e8m0, ``"ocp"``,
    ``"ml_dtypes"``; see :mod:`fmtlib.profiles`); ``flush_subnormals=True`` treats
    subnormal inputs as zero and flushes subnormal results to zero (FTZ/DAZ). NaN becomes
    the format's NaN, or, where it has none (e2m1, e3m2, e2m3), the zero of the opposite
    sign; ``nan="raise"`` refuses NaN inputs instead, ``"warn"`` warns (:mod:`fmtlib.codecs.nans`).

    >>> FP("e4m3fn").max
    448.0
    >>> FP("e4m3fn", profile="cuda_satfinite")
    FP('e4m3fn', overflow='saturate')
    >>> FP(ebits=3, mbits=0, bias=2).values()[:4]
    array([0. , 0.5, 1. , 2. ])
    >>> FP("e2m1", nan="raise")
    FP('e2m1', nan='raise')
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
        rounding: Rounding | str | None = None,
        overflow: Overflow | str | None = None,
        flush_subnormals: bool = False,
        profile: str | None = None,
        nan: str = "ignore",
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
        from ..profiles import fp_options, resolve

        opts = resolve({"rounding": "nearest_even", "overflow": "ieee"},
                       {"rounding": rounding, "overflow": overflow},
                       fp_options(profile, fmt) if profile is not None else {})
        self._set(fmt, opts["rounding"], opts["overflow"], flush_subnormals, nan)

    format: FloatFormat

    def _check_overflow(self, overflow: Overflow) -> Overflow:
        if overflow is Overflow.WRAP:
            raise ValueError("overflow='wrap' is for integer formats; floats use 'saturate' or 'ieee'")
        return overflow

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
        if self.nan != "ignore":
            kwargs["nan"] = self.nan
        return ((fmt.name or fmt.spec_string(),), kwargs)

    # --- finfo-like numbers, read from the format ---------------------------------------
    bits = from_format("bits", "Total bits of a code.")
    max = from_format("max", "Largest finite value.")
    min = from_format("min", "Most negative finite value (smallest value if unsigned).")
    smallest_normal = min_normal = from_format("smallest_normal", "Smallest positive normal value.")
    smallest_subnormal = min_subnormal = from_format("smallest_subnormal", "Smallest positive value.")
    tiny = from_format("tiny", "Smallest positive normal value (numpy.finfo's name for smallest_normal).")
    precision = from_format("precision", "Decimal digits of precision, floor(mbits * log10(2)), as numpy.finfo.")
    resolution = from_format("resolution", "10**-precision rounded to the format, as numpy.finfo.resolution.")
    eps = from_format("eps", "Distance from 1.0 to the next larger value.")
    emax = from_format("emax", "floor(log2(max)).")
    emin = from_format("emin", "Exponent of the smallest normal value.")
    has_inf = from_format("has_inf", "Whether the format encodes infinities.")
    has_nan = from_format("has_nan", "Whether the format encodes NaN.")


def round_once(v, dt) -> np.ndarray:
    """Exact float64 values ``v`` rounded once to nearest-even in ``dt`` (IEEE overflow to inf).
    bfloat16 and cupy arrays go through fmtlib's own FP codec: ml_dtypes' float64 -> bfloat16
    rounds through float32, and cupy's casts are not specified to round once.

    >>> round_once(np.array([1 + 2.0**-24]), np.dtype(np.float32))
    array([1.], dtype=float32)
    """
    dt = np.dtype(dt)
    if dt == np.float64:
        return v
    if is_bfloat16(dt) or is_device_array(v):
        name = "bf16" if is_bfloat16(dt) else {2: "fp16", 4: "fp32"}[dt.itemsize]
        return FP(name, overflow="ieee").encode(v).view(dt)
    return v.astype(dt)
