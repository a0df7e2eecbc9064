"""``Scaled``: any element codec with one shared scale per block, per channel or per tensor.

>>> import numpy as np
>>> x = np.array([[0.5, -1.0, 3.0, 12.0]], dtype=np.float32)
>>> q = Scaled("int8", "fp32", block=4)          # scale = fl32(12 / 127)
>>> q.encode(x).codes
array([[  5, 245,  32, 127]], dtype=uint8)
>>> Scaled("int8", "fp32", block=None, axis=0).encode(np.ones((3, 2), np.float32)).scales.shape
(1, 2)
"""
from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

import numpy as np

from .. import exact
from .._arrays import as_float_input, bits_view, dtype_format, float_dtype
from .._dtypes import dtype_name
from ..catalog import parse_format
from ..formats import FloatFormat
from ..integers import IntFormat
from ..kernels import fast_path
from . import device
from ..kernels.params import kernel_params
from ..rounding import Overflow, Rounding
from .blocked import BlockCodec, Encoded, amax_element, finite_amax, rows_last
from .element import ElementCodec
from .mx import SCALE_RULES, _lane_plan, _lane_run, lanes32, lanes32_tensor
from .stochastic import moved_rand
from .quantile import Quantile
from . import codebook_scaled, nans

_FP32 = parse_format("fp32")


def element_codec(spec) -> ElementCodec:
    """An element codec from a codec, a config dict or an element name (:func:`fmtlib.recipes.element`)."""
    from ..recipes import element
    from ..registry import get

    codec = element(spec) if isinstance(spec, str) else get(spec)
    if not isinstance(codec, (ElementCodec, Quantile)):
        raise TypeError(f"Scaled elements are FP, Int or Quantile codecs, got {type(codec).__name__}")
    return codec


def _precision(fmt) -> int:
    return fmt.bits - int(fmt.signed) if isinstance(fmt, IntFormat) else fmt.mbits + 1


@lru_cache(maxsize=64)
def _smallest_code(f) -> int:
    """The code of a float format's smallest positive value."""
    return exact.code_of(f, Fraction(f.smallest_subnormal if f.subnormals else f.smallest_normal))


@lru_cache(maxsize=64)
def _sig_exp_cached(v: float) -> tuple[int, int]:
    return _sig_exp(v)


def _sig_exp(v) -> tuple[int, int]:
    """(odd significand, exponent) of a positive dyadic number."""
    f = Fraction(v)
    num, den = f.numerator, f.denominator
    exp = -(den.bit_length() - 1)
    tz = (num & -num).bit_length() - 1
    return num >> tz, exp + tz


class Scaled(BlockCodec):
    """``element`` codes sharing one ``scale`` per ``block`` elements along ``axis``.

    - ``block=None``: one scale per channel (the whole ``axis``); ``axis=None``: one scale
      for the whole tensor (block must be None).
    - ``scale="e8m0"``: a power-of-two scale by ``scale_rule`` (the MX rules, docs/mx.md).
      Any other float format (``fp32``, ``fp16``, ``bf16``, ``ue4m3``, ...): the scale is
      ``amax / max_elem`` rounded to nearest-even in that format, at least its smallest
      positive value, and elements are ``x / scale`` rounded once (no float32 division).
    - ``global_scale=True`` (float scales): a float32 tensor scale
      ``G = fl32(amax_tensor / (max_elem * max_scale))`` divides every block scale; the
      effective scale of a block is ``fl32(S * G)`` (at least 2**-149).
    - A block with an inf or NaN gets a NaN scale and decodes to NaN (the element's
      ``nan="raise"`` refuses NaN inputs instead, ``"warn"`` warns). Elements saturate. A
      block whose scale is beyond the scale format's largest value raises ValueError.
    - An axis that is not a multiple of ``block`` ends in a shorter block (the same as
      zero-padding it); ``strict=True`` raises instead.
    - :class:`~fmtlib.Quantile` elements (NF4, FP4, dynamic maps) take ``scale="fp32"`` or
      ``scale="absmax"`` (the bitsandbytes recipe) and, with ``"absmax"``,
      ``double_quant=True``; see :mod:`fmtlib.codecs.codebook_scaled`.
    """

    codec_id = "scaled"

    def __init__(self, element="e2m1", scale: str = "fp32", *, block: int | None = 32, axis: int | None = -1,
                 scale_rule: str = "floor", global_scale: bool = False, strict: bool = False,
                 rounding: Rounding | str | None = None, double_quant: bool = False) -> None:
        elem = element_codec(element)
        if isinstance(elem, Quantile):
            self._init_codebook(elem, scale, block, axis, scale_rule, global_scale, strict, rounding, double_quant)
            return
        if double_quant:
            raise ValueError("double_quant=True is for code-book elements with scale='absmax' (bitsandbytes)")
        if getattr(elem, "flush_subnormals", False):
            raise ValueError("Scaled elements cannot flush subnormals; use FP(..., flush_subnormals=False)")
        sfmt = parse_format(scale) if isinstance(scale, str) or dtype_name(scale) else scale
        if not isinstance(sfmt, FloatFormat):
            raise TypeError(f"scale must be a float format name, got {scale!r}")
        pow2 = sfmt.name == "e8m0"
        if block is not None:
            self._check_block_axis(block, 0)
        if axis is None:
            if block is not None:
                raise ValueError("axis=None scales the whole tensor: it needs block=None")
        else:
            self._check_block_axis(1, axis)
        rule = str(scale_rule).lower()
        if rule not in SCALE_RULES:
            raise ValueError(f"unknown scale_rule {scale_rule!r} (known: {', '.join(SCALE_RULES)})")
        if rule != "floor" and not pow2:
            raise ValueError("scale_rule applies to power-of-two scales (scale='e8m0')")
        if global_scale and pow2:
            raise ValueError("global_scale needs a float scale format (fp32, ue4m3, ...), not e8m0")
        fmt = elem.format
        if _precision(fmt) > 24 or (not pow2 and sfmt.mbits > 23):
            raise ValueError("Scaled supports element and scale formats of at most 24 significant bits")
        if not pow2 and sfmt.nan_code is None:
            raise ValueError(f"scale format {sfmt} has no NaN to mark blocks holding inf or NaN")
        emax_val = float(fmt.max)
        for k, v in dict(element_codec=elem, element=fmt, scale_format=sfmt, block=block, axis=axis,
                         scale_rule=rule, global_scale=bool(global_scale), strict=bool(strict),
                         rounding=elem.rounding if rounding is None else Rounding.parse(rounding),
                         _pow2=pow2, element_max=emax_val, scale_mode=None, double_quant=False,
                         name=f"scaled:{elem!r}:{sfmt}").items():
            object.__setattr__(self, k, v)

    def _init_codebook(self, elem, scale, block, axis, scale_rule, global_scale, strict, rounding, double_quant):
        """Scaled with a :class:`Quantile` element (see :mod:`fmtlib.codecs.codebook_scaled`)."""
        if block is not None:
            self._check_block_axis(block, 0)
        if axis is None and block is not None:
            raise ValueError("axis=None scales the whole tensor: it needs block=None")
        if axis is not None:
            self._check_block_axis(1, axis)
        mode = codebook_scaled.check_args(elem, scale, block, axis, str(scale_rule).lower(), global_scale,
                                          double_quant)
        if rounding is not None:
            elem = elem.with_rounding(rounding)
        for k, v in dict(element_codec=elem, element=elem.format, scale_format=_FP32, block=block, axis=axis,
                         scale_rule="floor", global_scale=False, strict=bool(strict), rounding=elem.rounding,
                         _pow2=False, element_max=1.0, scale_mode=mode, double_quant=bool(double_quant),
                         name=f"scaled:{elem!r}:{mode}" + (":dq" if double_quant else "")).items():
            object.__setattr__(self, k, v)

    def _config_args(self):
        kw = self._changed(block=32, axis=-1, scale_rule="floor", global_scale=False, strict=False,
                           rounding=self.element_codec.rounding, double_quant=False)
        return (self.element_codec.get_config(), self.scale_mode or str(self.scale_format)), kw

    def __repr__(self) -> str:
        args, kw = self._config_args()
        parts = [repr(self.element_codec), repr(args[1])] + [f"{k}={v!r}" for k, v in kw.items()]
        return f"Scaled({', '.join(parts)})"

    @property
    def bits_per_element(self) -> float:
        """Element bits plus the scale's bits shared by a block (None: per channel/tensor)."""
        if self.scale_mode:
            return codebook_scaled.bits_per_element(self)
        return self.element.bits + (self.scale_format.bits / self.block if self.block else 0.0)

    # -- layout --------------------------------------------------------------------------------
    def _layout(self, x: np.ndarray, xp=np):
        """(axis or None, rows with the blocked axis last, block length); ``xp`` is the array
        module (cupy for the GPU backend)."""
        if self.axis is None:
            xm = xp.ascontiguousarray(x).reshape(1, -1)
            return None, xm, max(xm.shape[1], 1)
        axis = self._axis(x.ndim)
        xm = rows_last(x, axis, xp)
        n = xm.shape[-1]
        block = self.block if self.block is not None else max(n, 1)
        if self.strict and n % block:
            raise ValueError(f"axis {axis} has length {n}, not a multiple of block {block} (strict=True)")
        return axis, xm, block

    @staticmethod
    def _restore(a: np.ndarray, axis, shape):
        return a.reshape(shape) if axis is None else np.moveaxis(a, -1, axis)

    # -- the scale constants ---------------------------------------------------------------------
    def _global(self, x: np.ndarray, tensor_amax) -> tuple[float | None, tuple]:
        """(tensor amax or None, the kernels' R tuple)."""
        msig, mexp = _sig_exp_cached(self.element_max)
        if not self.global_scale:
            if tensor_amax is not None:
                raise ValueError("tensor_amax= needs global_scale=True")
            return None, (msig, mexp, 1, 0, 1)
        if tensor_amax is None:
            a = finite_amax(x)
        else:
            a = float(tensor_amax)
            if not (math.isfinite(a) and a >= 0):
                raise ValueError(f"tensor_amax must be finite and >= 0, got {tensor_amax!r}")
        return a, (msig, mexp, *self._g_sig_exp(a), 0)

    def _g_sig_exp(self, amax: float) -> tuple[int, int]:
        """(significand, exponent) of G = fl32(amax / (max_elem * max_scale)); G = 1 for amax 0
        or a G that rounds to 0."""
        if amax == 0:
            return 1, 0
        g = exact.nearest_even(_FP32, Fraction(amax) / (Fraction(self.element_max) * Fraction(self.scale_format.max)))
        if not isinstance(g, Fraction):
            raise ValueError(f"tensor amax {amax} needs a global scale beyond float32")
        return (1, 0) if g == 0 else _sig_exp(g)

    def _smin_code(self) -> int:
        """The scale format's code of its smallest positive value."""
        return _smallest_code(self.scale_format)

    def _pow2_params(self) -> tuple:
        fmt = self.element
        if isinstance(fmt, IntFormat):
            return (SCALE_RULES[self.scale_rule], fmt.max.bit_length() - 1, fmt.max.bit_length() - 2,
                    float(fmt.max), 0)
        return (SCALE_RULES[self.scale_rule], fmt.emax, fmt.mbits, float(fmt.max), 0)

    def _record_block(self, ncols: int) -> int:
        return self.block if self.block is not None else max(ncols, 1)

    def _max_rbits(self) -> int:
        from .element import MAX_RBITS

        return MAX_RBITS if self._pow2 else 60 - _precision(self.element)

    def _raise_bad_scales(self, n: int) -> None:
        """ValueError where ``n`` blocks need a scale beyond the scale format."""
        if n:
            raise ValueError(f"{n} block(s) need a scale above {self.scale_format}'s largest value "
                             f"{self.scale_format.max} (amax / {self.element_max} is too large); use a wider "
                             "scale format or global_scale=True")

    # -- encode / decode -------------------------------------------------------------------------
    # --- the same methods on the GPU (cupy data; called by fmtlib._interop.interop) -------
    def _device_run(self, fused: bool, x, rounding, seed, rbits, rand, index_offset, out, tensor_amax):
        if self.element_codec.nan != "ignore":   # the element's nan= option, checked on the input
            nans.check(self.element_codec.nan, x, repr(self))
        if self.scale_mode and tensor_amax is not None:
            raise ValueError("tensor_amax= needs global_scale=True")
        run = codebook_scaled.book_scaled_run if self.scale_mode else device.scaled_run
        extra = () if self.scale_mode else (tensor_amax,)
        return device.block_out(self.element_code_dtype, out, x, fused,
                                lambda: run(self, fused, x, rounding, seed, rbits, *extra, index_offset, rand))

    def _device_decode(self, enc, dtype, out):
        dev = codebook_scaled.book_scaled_decode if self.scale_mode else device.scaled_decode
        return device.into(out, dev(self, enc, dtype if out is None else out.dtype))

    def _plan(self, x, fused: bool):
        """Where the rows are ``x`` itself, with neither a code book, a global scale, a NaN check
        nor stochastic rounding: the lane kernel of a power-of-two scale (:func:`lanes32`, as
        MX), or ``scaled_encode_rne``."""
        from ..kernels.cpu import convert as K

        mode, ncols = int(self.rounding), x.shape[-1]
        block = self.block if self.block is not None else ncols
        if (self.scale_mode or self.global_scale or self.element_codec.nan != "ignore" or not self._last_axis(x)
                or self.rounding is Rounding.STOCHASTIC or (self.strict and ncols % block)):
            return None
        shape, axis, name, code_dtype = x.shape, x.ndim - 1, self.name, self.element.code_dtype
        sshape = shape[:-1] + (-(-ncols // block),)
        if self._pow2:
            lane = _lane_plan(self.element, dtype_format(x.dtype), mode, None, self._pow2_params(), fused)
            if lane is None:
                return None
            return _lane_run(x, lane, fused, block, code_dtype, kernel_params(dtype_format(x.dtype)),
                             lambda codes, scales: Encoded(codes, scales, shape, axis, block, name, None))
        if not fast_path.scaled_rne_eligible(self.element, self.scale_format, x.dtype, mode, False):
            return None
        Pe, params, sdt = kernel_params(self.element), fast_path.scaled_rne_params(self.element, self.scale_format), \
            self.scale_format.code_dtype
        none, nrows = np.empty(1, code_dtype if fused else x.dtype), x.size // ncols
        raise_bad = self._raise_bad_scales

        def run(x, out):   # the rne branch of _run (one flag per block of a scale beyond the format)
            scales, bad = np.empty(sshape, sdt), np.zeros(nrows * sshape[-1], np.uint8)
            r = (np.empty(shape, x.dtype if fused else code_dtype)) if out is None else out
            codes, vals = (none, r) if fused else (r, none)
            K.scaled_encode_rne(x.ravel(), codes.ravel(), scales.ravel(), bad, vals.ravel(), Pe,
                                *params, ncols, block, fused)
            raise_bad(np.count_nonzero(bad))   # 0 or 1 per block
            return r if fused else Encoded(r, scales, shape, axis, block, name, None)
        return run

    def _run(self, x, fused: bool, rounding, seed, rbits, tensor_amax, index_offset=0, out=None, rand=None):
        if rounding is None and seed is None and rbits is None and rand is None and tensor_amax is None \
                and index_offset.__class__ is int and index_offset == 0:
            r = self._plain(x, fused, out)
            if r is not None:
                return r
        from ..kernels.cpu import convert as K

        if self.element_codec.nan != "ignore":   # the element's nan= option, checked on the input
            nans.check(self.element_codec.nan, as_float_input(x)[0], repr(self))
        if self.scale_mode:
            if tensor_amax is not None:
                raise ValueError("tensor_amax= needs global_scale=True")
            return codebook_scaled.run(self, x, fused, rounding, seed, rbits, index_offset, out, rand)
        x, _ = as_float_input(x, "quantize" if fused else "encode")
        if x.ndim == 0:
            raise ValueError("Scaled needs an array with at least one dimension")
        axis, xm, block = self._layout(x)
        mode, key, rbits, base, rand = self._random(rounding, seed, rbits, index_offset, self._max_rbits(), rand,
                                                    x.shape)
        amax, R = self._global(xm, tensor_amax)
        ncols = xm.shape[-1]
        scales = np.empty(xm.shape[:-1] + (-(-ncols // block),), dtype=self.scale_format.code_dtype)
        if axis is None and ncols == 0:   # an empty tensor still has its one scale: that of an all-zero block
            scales = np.full((1, 1), 0 if self._pow2 else self._smin_code(), dtype=scales.dtype)
        result, codes, out = self._buffers(out, x, xm, fused, self.element.code_dtype)  # quantize writes no codes
        given = rand   # None: fmtlib-rng-v1 (the lane kernels' only source)
        rand = moved_rand(rand, axis)
        src_fmt = dtype_format(xm.dtype)
        Ps, Pe = kernel_params(src_fmt), kernel_params(self.element)
        args = (bits_view(xm), codes.reshape(-1), scales.reshape(-1), bits_view(out), Ps, Pe)
        tail = (ncols, block, int(mode), np.uint64(key), base, int(rbits))
        if axis is None and ncols:   # one scale: an amax pass, then the elements, both in parallel
            self._encode_tensor(xm, codes, scales, out, src_fmt, R, mode, key, base, rbits, fused, rand, given)
        elif not self._pow2:
            bad = np.zeros(scales.size, dtype=np.uint8)
            tail2 = (kernel_params(self.scale_format), R, self._smin_code(), ncols, block)
            if fast_path.scaled_rne_eligible(self.element, self.scale_format, xm.dtype, int(mode), self.global_scale):
                K.scaled_encode_rne(xm.reshape(-1), codes.reshape(-1), scales.reshape(-1), bad, out.reshape(-1), Pe,
                                    *fast_path.scaled_rne_params(self.element, self.scale_format), ncols, block, fused)
            elif fast_path.scaled_sr_eligible(self.element, xm.dtype, int(mode)):
                sr = K.scaled_encode_sr_int if isinstance(self.element, IntFormat) else K.scaled_encode_sr
                sr(xm.reshape(-1), codes.reshape(-1), scales.reshape(-1), bad, out.reshape(-1), Pe, *tail2[:3],
                   *fast_path.scaled_sr_scale(self.scale_format, self.global_scale), ncols, block,
                   *fast_path.scaled_sr_params(self.element, int(rbits)), np.uint64(key), base, int(rbits), fused, rand)
            elif fast_path.scaled_eligible(self.element, xm.dtype, int(mode)):
                K.scaled_encode_fast(xm.reshape(-1), codes.reshape(-1), scales.reshape(-1), bad, out.reshape(-1), Pe,
                                     *tail2, *fast_path.scaled_constants(self.element, int(mode)), int(mode), fused)
            else:
                K.scaled_encode(bits_view(xm), codes.reshape(-1), scales.reshape(-1), bad, bits_view(out), Ps, Pe,
                                *tail2, *tail[2:], False, fused, rand)
            self._raise_bad_scales(int(bad.sum()))
        elif lanes32(self.element, src_fmt, mode, given, args[:5], self._pow2_params(), ncols, block, key, base,
                     rbits, fused):
            pass   # the 32-bit lane kernels, as MX (the same scale rules)
        elif fast_path.table_eligible(self.element, src_fmt, int(mode)):
            thr, vbits, _ = fast_path.thresholds(self.element, src_fmt, int(mode))
            K.mx_encode_table(*args, thr, vbits, self._pow2_params(), ncols, block, int(mode), fused)
        elif fast_path.mx_eligible(self.element, src_fmt):
            C, special = fast_path.constants(self.element, src_fmt, int(mode), int(Overflow.SATURATE))
            D = fast_path.code_constants(self.element, src_fmt)
            K.mx_encode_fast(*args, C, special, D, self._pow2_params(), *tail, fused, rand)
        else:
            K.mx_encode(*args, self._pow2_params(), *tail, fused, rand)
        restore = (lambda r: self._restore(r, axis, x.shape))
        if fused:
            return self._finish(result, out, restore)
        scales = scales.reshape(1) if axis is None else np.moveaxis(scales, -1, axis)
        return self._encoded(result, codes, restore, scales, x.shape, axis, block, self.name, amax)

    def _encode_tensor(self, xm, codes, scales, out, src_fmt, R, mode, key, base, rbits, fused, rand, given) -> None:
        """The kernels of ``_run`` for one scale over the tensor ``xm`` (one row): the amax of
        the tensor by a parallel reduction, then the per-tensor kernel of the path the block
        kernels would take, over chunks of elements in parallel (the same bits). ``rand``: the
        flat random integers (empty: fmtlib-rng-v1), ``given`` the caller's (or None)."""
        from ..kernels.cpu import convert as K

        amax = amax_element(xm)
        Ps, Pe = kernel_params(src_fmt), kernel_params(self.element)
        args = (bits_view(xm), codes.reshape(-1), scales.reshape(-1), bits_view(out), amax, Ps, Pe)
        rnd = (int(mode), np.uint64(key), base, int(rbits))
        if not self._pow2:
            bad = np.zeros(1, dtype=np.uint8)
            scale = (kernel_params(self.scale_format), R, self._smin_code())
            if fast_path.scaled_rne_eligible(self.element, self.scale_format, xm.dtype, int(mode), self.global_scale):
                K.scaled_encode_rne_tensor(xm.reshape(-1), codes.reshape(-1), scales.reshape(-1), bad, out.reshape(-1),
                                           amax, Pe, *fast_path.scaled_rne_params(self.element, self.scale_format),
                                           fused)
            elif fast_path.scaled_sr_eligible(self.element, xm.dtype, int(mode)):
                sr = K.scaled_encode_sr_tensor_int if isinstance(self.element, IntFormat) else K.scaled_encode_sr_tensor
                sr(xm.reshape(-1), codes.reshape(-1), scales.reshape(-1), bad, out.reshape(-1), amax, Pe, *scale,
                   *fast_path.scaled_sr_params(self.element, int(rbits)), np.uint64(key), base, int(rbits), fused, rand)
            elif fast_path.scaled_eligible(self.element, xm.dtype, int(mode)):
                K.scaled_encode_fast_tensor(xm.reshape(-1), codes.reshape(-1), scales.reshape(-1), bad,
                                            out.reshape(-1), amax, Pe, *scale,
                                            *fast_path.scaled_constants(self.element, int(mode)), int(mode), fused)
            else:
                K.scaled_encode_tensor(*args[:3], bad, *args[3:], *scale, *rnd, False, fused, rand)
            self._raise_bad_scales(int(bad[0]))
        elif lanes32_tensor(self.element, src_fmt, mode, given, args[:4] + (Ps,), self._pow2_params(), amax, key,
                            base, rbits, fused):
            pass   # the 32-bit lane kernels, as MX (the same scale rules)
        elif fast_path.table_eligible(self.element, src_fmt, int(mode)):
            thr, vbits, _ = fast_path.thresholds(self.element, src_fmt, int(mode))
            K.mx_encode_table_tensor(*args, thr, vbits, self._pow2_params(), int(mode), fused)
        elif fast_path.mx_eligible(self.element, src_fmt):
            C, special = fast_path.constants(self.element, src_fmt, int(mode), int(Overflow.SATURATE))
            D = fast_path.code_constants(self.element, src_fmt)
            K.mx_encode_fast_tensor(*args, C, special, D, self._pow2_params(), *rnd, fused, rand)
        else:
            K.mx_encode_tensor(*args, self._pow2_params(), *rnd, fused, rand)

    def encode(self, x, *, rounding: Rounding | str | None = None, seed: int | None = None,
               rbits: int | None = None, rand=None, tensor_amax: float | None = None, index_offset: int = 0,
               out: np.ndarray | None = None) -> Encoded:
        """Element codes and scale codes of ``x`` (float16/32/64, bfloat16); ``out=`` (x's
        shape, the element code dtype, C-contiguous) receives the codes.

        Stochastic rounding takes at most ``60 - precision`` random bits with a float scale
        (the division keeps 60 bits), 62 with e8m0, 29 with a code book; random keywords as
        :meth:`MX.encode`. ``tensor_amax``: a calibrated amax for the global scale (default:
        max |x| over finite values)."""
        return self._run(x, False, rounding, seed, rbits, tensor_amax, index_offset, out, rand)

    def quantize(self, x, *, rounding: Rounding | str | None = None, seed: int | None = None,
                 rbits: int | None = None, rand=None, tensor_amax: float | None = None, index_offset: int = 0,
                 out: np.ndarray | None = None) -> np.ndarray:
        """``decode(encode(x))`` in one pass, in ``x``'s dtype; ``out=`` (x's shape and dtype,
        C-contiguous; ``x`` itself works) receives the result."""
        return self._run(x, True, rounding, seed, rbits, tensor_amax, index_offset, out, rand)

    def decode(self, enc: Encoded, dtype=np.float32, *, out: np.ndarray | None = None) -> np.ndarray:
        """Values of a record: each element times its block's effective scale, rounded once;
        ``out=`` as :meth:`MX.decode`."""
        from ..kernels.cpu import convert as K

        if self.scale_mode:
            return codebook_scaled.decode(self, enc, dtype, out)
        dt = float_dtype(dtype if out is None else out.dtype)
        cm, sm = self._record_rows(enc)
        ncols = cm.shape[-1]
        self._check_codes(cm, self.element)
        self._check_scale_codes(sm)
        result, out = self._decode_buffers(out, enc, cm.shape, dt)
        Pe, Po = kernel_params(self.element), kernel_params(dtype_format(dt))
        if self._pow2:
            K.mx_decode(cm.reshape(-1), sm.astype(np.uint8, copy=False).reshape(-1), bits_view(out), Pe, Po, ncols,
                        enc.block, 0)
        else:
            _, R = self._global(cm, enc.tensor_amax)
            K.scaled_decode(cm.reshape(-1), sm.reshape(-1), bits_view(out), Pe, kernel_params(self.scale_format),
                            Po, R, ncols, enc.block)
        restore = (lambda r: self._restore(r, enc.axis, np.shape(enc.codes)))
        return restore(out) if result is None else self._finish(result, out, restore)
