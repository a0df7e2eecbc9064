"""Significant data razoring (SDR), stage 2 of QRazor (Lee, Choi, Chang 2025, "QRazor:
Reliable and Effortless 4-bit LLM Quantization by Significant Data Razoring", arXiv
2501.13331): every group of integers compressed to sign + ``keep`` salient bits per element
and one shared shift (the "flag") per group.

:class:`SDR` works on integer arrays: ``encode`` gives a :class:`Razored` record (codes and
flags), ``decode`` its integers, ``quantize`` both fused. Stage 1 and the float pipeline:
:mod:`fmtlib.codecs.qrazor`; the decompression-free dot product: :mod:`fmtlib.ops.sdr_dot`;
all three through :mod:`fmtlib.sdr`.

>>> import numpy as np
>>> q = np.array([100, -37, 5, 12], dtype=np.int8)
>>> rec = SDR(group=4).encode(q)      # OR of magnitudes 0b1101101: razoring point 7, shift 4
>>> rec.flags, rec.codes
(array([4], dtype=uint8), array([ 6, 10,  0,  1], dtype=uint8))
>>> SDR(group=4).decode(rec)
array([ 96, -32,   0,  16], dtype=int32)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._arrays import check_out
from ..kernels.gpu import C_UINT, launch
from ..rounding import Rounding
from . import device
from .base import Codec
from .device import backend, checked_out, put
from .integer import Int
from .records import Packed

MODES = (Rounding.NEAREST_AWAY, Rounding.NEAREST_EVEN, Rounding.TOWARD_ZERO)
#: widest integer base: keeps every product of the dot product inside int64 (see dot)
MAX_BASE_BITS = 16
#: widest stored flag (flags are uint8)
MAX_FLAG_BITS = 8
#: unsigned input itemsize -> the signed dtype the kernels read it as
_SIGNED_WIDER = {1: np.int16, 2: np.int32, 4: np.int64, 8: np.int64}


def _int_arg(name: str, v, lo: int, hi: int | None = None) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    v = int(v)
    if v < lo or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise ValueError(f"{name} must be an int {rng}, got {v}")
    return v


def _base_codec(base) -> Int:
    """An Int codec from an Int, a name ("int8", "int16") or a config dict; signed two's
    complement (narrow or not), at most 16 bits."""
    from ..registry import get

    if not isinstance(base, (str, dict, Codec)):
        raise TypeError(f"base must be an Int codec, 'int8'/'int16' or an Int config, got {type(base).__name__}")
    try:
        codec = get(base)
    except ValueError as e:
        raise ValueError(f"base must be an Int codec, 'int8'/'int16' or an Int config, got {base!r} ({e})") from None
    if not isinstance(codec, Int):
        raise TypeError(f"base must be an Int codec (the stage-1 integers), got {type(codec).__name__}")
    fmt = codec.format
    if not fmt.signed or fmt.encoding != "twos_complement":
        raise ValueError(f"base must be a signed two's complement Int (narrow=True allowed), got {fmt}; "
                         "for a symmetric range use Int(bits, narrow=True)")
    if fmt.bits > MAX_BASE_BITS:
        raise ValueError(f"base has {fmt.bits} bits; SDR bases have at most {MAX_BASE_BITS} (int8, int16)")
    return codec


def _kernel_mode(mode: Rounding) -> int:
    from ..kernels.cpu import sdr as K

    return {Rounding.NEAREST_AWAY: K.NEAREST_AWAY, Rounding.NEAREST_EVEN: K.NEAREST_EVEN,
            Rounding.TOWARD_ZERO: K.TOWARD_ZERO}[mode]


def _dtype_bounds(dt: np.dtype) -> tuple[int, int]:
    """The range of an integer dtype, clipped to int64 (the kernels' arithmetic)."""
    info = np.iinfo(dt)
    return max(int(info.min), -(1 << 63)), min(int(info.max), (1 << 63) - 1)


def _as_int_input(q, what: str) -> np.ndarray:
    """``q`` as a native-endian integer array, or a TypeError pointing float data to QRazor."""
    if isinstance(q, (bool, np.bool_)):
        raise TypeError(f"{what} takes integers, got bool")
    a = device.array_module(q).asarray(q)   # cupy arrays stay on the device
    kind = np.dtype(a.dtype).kind
    if kind not in "iu":
        hint = (". For float data use fmtlib.sdr.QRazor (absmax scaling to the base, then SDR), or scale to "
                "integers first with fmtlib.Scaled(Int(8), 'fp32', block=None)") if kind in "fc" else ""
        raise TypeError(f"{what} takes integers of the base (any numpy integer dtype); got {a.dtype} data{hint}")
    if a.dtype.byteorder not in "=|":
        a = a.astype(a.dtype.newbyteorder("="))
    return a


def _rows(a: np.ndarray, axis: int) -> np.ndarray:
    """``a`` with ``axis`` moved last, C-contiguous, as (rows, n) (also for empty arrays; cupy
    arrays stay on the device)."""
    xp = device.array_module(a)
    m = xp.ascontiguousarray(xp.moveaxis(a, axis, -1))
    return m.reshape(math.prod(m.shape[:-1]), m.shape[-1])


def _norm_axis(axis: int, ndim: int, who: str) -> int:
    if ndim == 0:
        raise ValueError(f"{who} needs an array with at least one dimension")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for a {ndim}-d array")
    return axis % ndim


@dataclass(frozen=True, eq=False)
class Razored:
    """SDR codes of an integer tensor.

    ``codes`` has the input's shape: ``sign << keep | k`` (uint8 up to keep = 7). ``flags``
    has it too, except that the grouped ``axis`` has one entry per group (a short last group
    covers the rest of the axis): the group's shift f. An element's value is
    ``(-1)**sign * (k << f)``. ``format`` names the codec that made the record.
    """

    codes: np.ndarray
    flags: np.ndarray
    shape: tuple
    axis: int
    group: int
    keep: int
    format: str


class SDR(Codec):
    """Significant data razoring: per group of ``group`` integers along ``axis``, keep the
    sign and ``keep`` salient magnitude bits below the group's leading one.

    - ``group`` (16): elements sharing a flag. A short last group is allowed (the same as
      zero padding) unless ``strict=True``.
    - ``keep`` (3): kept magnitude bits, so codes are 1 + 3 = 4 bits (W4). 1..magnitude bits
      of the base (8 for int8: |-128| = 2**7 has 8 bits; 7 for a narrow int8).
    - ``flag_bits`` (None): stored width of the shift; default the fewest bits that hold
      every shift 0..(magnitude bits - keep): 3 for int8 and keep=3, 4 for int16.
    - ``base`` (``Int(8)``): the integers razored: ``Int(8)``, ``Int(8, narrow=True)``,
      ``Int(16)``, ``Int(16, narrow=True)`` (any signed two's complement Int of at most 16
      bits), or the names ``"int8"``/``"int16"``.
    - ``rounding`` ("nearest_away"): of the dropped bits: ``nearest_away`` (add half, shift),
      ``nearest_even`` or ``toward_zero``. Where rounding up would carry out of the kept bits
      (they are all ones) the magnitude is truncated instead (floor_on_overflow).
    - A zero kept magnitude has sign 0: no negative zero.

    >>> SDR().bits, SDR().flag_bits, SDR().bits_per_element, SDR(base="int16").flag_bits
    (4, 3, 4.1875, 4)
    """

    codec_id = "sdr"
    _decodes_floats = False   # decode gives integers

    def __init__(self, group: int = 16, keep: int = 3, flag_bits: int | None = None, base: Int | str | dict = Int(8),
                 *, axis: int = -1, strict: bool = False, rounding: Rounding | str = "nearest_away") -> None:
        base_codec = _base_codec(base)
        fmt = base_codec.format
        mag_bits = max(-fmt.min, fmt.max).bit_length()
        group = _int_arg("group", group, 1)
        if isinstance(keep, (bool, np.bool_)) or not isinstance(keep, (int, np.integer)):
            raise TypeError(f"keep must be an int, got {type(keep).__name__}")
        keep = int(keep)
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        if keep > mag_bits:
            raise ValueError(f"keep={keep} > base bits: {fmt} magnitudes have {mag_bits} bits, so keep is in "
                             f"1..{mag_bits}")
        max_shift = mag_bits - keep
        need = max_shift.bit_length()
        if flag_bits is None:
            flag_bits = need
        flag_bits = _int_arg("flag_bits", flag_bits, 0, MAX_FLAG_BITS)
        if flag_bits < need:
            raise ValueError(f"flag_bits={flag_bits} is too small: {fmt} with keep={keep} has shifts 0..{max_shift}, "
                             f"which need {need} bits")
        if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"axis must be an int, got {type(axis).__name__}")
        if not isinstance(strict, (bool, np.bool_)):
            raise TypeError(f"strict must be True or False, got {strict!r}")
        mode = Rounding.parse(rounding)
        if mode not in MODES:
            raise ValueError(f"SDR rounds the dropped bits by {', '.join(repr(m.name.lower()) for m in MODES)}; "
                             f"got {mode.name.lower()!r} (floor_on_overflow always applies)")
        code_bits = 1 + keep
        for k, v in dict(base=base_codec, group=group, keep=keep, flag_bits=flag_bits, axis=int(axis),
                         strict=bool(strict), rounding=mode, mag_bits=mag_bits, max_shift=max_shift,
                         code_dtype=np.dtype(np.uint8 if code_bits <= 8 else np.uint16 if code_bits <= 16
                                             else np.uint32),
                         name=f"sdr({fmt}, group={group}, keep={keep}, flag_bits={flag_bits})").items():
            object.__setattr__(self, k, v)

    def _config_args(self):
        kw: dict[str, Any] = {}
        if self.group != 16:
            kw["group"] = self.group
        if self.keep != 3:
            kw["keep"] = self.keep
        if self.flag_bits != self.max_shift.bit_length():
            kw["flag_bits"] = self.flag_bits
        if self.base != Int(8):
            kw["base"] = self.base.get_config()
        if self.axis != -1:
            kw["axis"] = self.axis
        if self.strict:
            kw["strict"] = True
        if self.rounding is not Rounding.NEAREST_AWAY:
            kw["rounding"] = self.rounding.name.lower()
        return (), kw

    def __repr__(self) -> str:
        _, kw = self._config_args()
        parts = [f"{k}={self.base!r}" if k == "base" else f"{k}={v!r}" for k, v in kw.items()]
        return f"SDR({', '.join(parts)})"

    # -- sizes ---------------------------------------------------------------------------------
    @property
    def bits(self) -> int:
        """Bits of an element code: the sign and ``keep`` magnitude bits."""
        return 1 + self.keep

    @property
    def bits_per_element(self) -> float:
        """Code bits plus the group's flag shared by ``group`` elements."""
        return self.bits + self.flag_bits / self.group

    def storage_bits(self, shape) -> int:
        """Bits of codes and flags of a tensor of ``shape`` (a short last group has a flag too)."""
        shape = tuple(int(s) for s in shape)
        axis = _norm_axis(self.axis, len(shape), "SDR")
        n = shape[axis]
        return math.prod(shape) * self.bits + math.prod(shape) // max(n, 1) * -(-n // self.group) * self.flag_bits

    # -- checks ----------------------------------------------------------------------------------
    def _input_rows(self, q, what: str):
        """(q, axis, rows with the grouped axis last as the kernels want them)."""
        q = _as_int_input(q, what)
        axis = _norm_axis(self.axis, q.ndim, "SDR")
        n = q.shape[axis]
        if self.strict and n % self.group:
            raise ValueError(f"axis {axis} has length {n}, not a multiple of group {self.group} (strict=True)")
        src = q
        if q.dtype.kind == "u":           # the kernels read int8/16/32/64 (fewer compiled versions)
            if q.dtype == np.uint64 and q.size and int(q.max()) > self.base.format.max:
                self._raise_range(q)
            src = q.astype(_SIGNED_WIDER[q.dtype.itemsize])
        return q, axis, _rows(src, axis)

    def _raise_range(self, q: np.ndarray):
        if device.is_device_array(q):   # an error path: find the first bad value on the host
            q = device.backend().asnumpy(q)
        fmt = self.base.format
        bad = (q < fmt.min) | (q > fmt.max) if q.dtype != np.uint64 else q > np.uint64(fmt.max)
        idx = np.unravel_index(int(np.flatnonzero(bad)[0]), q.shape)
        raise ValueError(f"{int(q[idx])} at index {tuple(int(i) for i in idx)} is outside the base {fmt} range "
                         f"{fmt.min}..{fmt.max}; SDR razors integers of its base")

    def _restore(self, rows: np.ndarray, moved_shape: tuple, axis: int) -> np.ndarray:
        return device.array_module(rows).moveaxis(rows.reshape(moved_shape), -1, axis)

    # -- the same methods on the GPU (cupy data; called by fmtlib._interop.interop) ---------------
    def _device_encode(self, q, rounding, seed, rbits, rand, index_offset, out):
        mode = self._mode(rounding, seed, rbits, rand, index_offset)
        return device.block_out(self.code_dtype, out, q, False, lambda: sdr_run(self, False, q, mode))

    def _device_quantize(self, q, rounding, seed, rbits, rand, index_offset, out):
        mode = self._mode(rounding, seed, rbits, rand, index_offset)
        return device.deliver(out, q, lambda: sdr_run(self, True, q, mode))

    def _device_decode(self, rec, dtype, out):
        return device.into(out, sdr_decode(self, rec, dtype if out is None else out.dtype))

    # -- the codec surface ------------------------------------------------------------------------

    def _mode(self, rounding, seed, rbits, rand, index_offset) -> Rounding:
        """The rounding of the dropped bits for this call (the codec's, or ``rounding``); the
        random keywords refused: SDR has no stochastic rounding."""
        from .stochastic import no_random

        no_random("SDR", None, seed, rbits, rand, index_offset)
        mode = self.rounding if rounding is None else Rounding.parse(rounding)
        if mode not in MODES:
            raise ValueError(f"SDR rounds the dropped bits by {', '.join(repr(m.name.lower()) for m in MODES)}; "
                             f"got {mode.name.lower()!r} (floor_on_overflow always applies)")
        return mode

    def encode(self, q, *, rounding: Rounding | str | None = None, seed=None, rbits=None, rand=None,
               index_offset: int = 0, out: np.ndarray | None = None) -> Razored:
        """Codes and flags of the integers ``q`` (any integer dtype, values in the base's range).
        ``rounding`` overrides the codec's rounding of the dropped bits (:data:`MODES`);
        ``out=`` (q's shape, :attr:`code_dtype`, C-contiguous) receives the codes. SDR has no
        stochastic rounding: seed, rbits and rand raise (:mod:`fmtlib.codecs.protocol`).

        >>> SDR(group=2, keep=2).encode(np.array([7, -2], dtype=np.int8)).codes  # shift 1: 7 -> 11 -> 3 (floor)
        array([3, 5], dtype=uint8)
        """
        from ..kernels.cpu import sdr as K

        mode = self._mode(rounding, seed, rbits, rand, index_offset)
        q, axis, rows = self._input_rows(q, "SDR.encode")
        o = None if out is None else check_out(out, q, self.code_dtype)
        fmt = self.base.format
        R, n = rows.shape
        direct = o is not None and axis == q.ndim - 1
        codes = o.reshape(R, n) if direct else np.empty((R, n), dtype=self.code_dtype)
        flags = np.empty((R, -(-n // self.group)), dtype=np.uint8)
        bad = K.sdr_encode(rows.reshape(-1), codes.reshape(-1), flags.reshape(-1), R, n, self.group, self.keep,
                           _kernel_mode(mode), fmt.min, fmt.max)
        if bad:
            self._raise_range(q)
        moved = np.moveaxis(q, axis, -1).shape
        c = o if direct else put(o, self._restore(codes, moved, axis))
        return Razored(c, self._restore(flags, moved[:-1] + (flags.shape[1],), axis), tuple(q.shape), axis,
                       self.group, self.keep, self.name)

    def quantize(self, q, *, rounding: Rounding | str | None = None, seed=None, rbits=None, rand=None,
                 index_offset: int = 0, out: np.ndarray | None = None) -> np.ndarray:
        """``decode(encode(q))`` in one pass, in ``q``'s dtype; ``out=`` (q's shape and dtype,
        C-contiguous; ``q`` itself works) receives the result; other keywords as :meth:`encode`.
        Raises ValueError where a result does not fit the dtype: a non-narrow base razors 127 to
        128 in a group holding -128, which int8 cannot hold.

        >>> SDR(group=4).quantize(np.array([100, -37, 5, 12], dtype=np.int16))
        array([ 96, -32,   0,  16], dtype=int16)
        """
        from ..kernels.cpu import sdr as K

        mode = self._mode(rounding, seed, rbits, rand, index_offset)
        q, axis, rows = self._input_rows(q, "SDR.quantize")
        fmt = self.base.format
        o = check_out(out, q, q.dtype)
        moved = np.moveaxis(q, axis, -1).shape
        direct = axis == q.ndim - 1 and rows.dtype == q.dtype
        orows = o.reshape(rows.shape) if direct else np.empty(rows.shape, dtype=rows.dtype)
        olo, ohi = _dtype_bounds(q.dtype)
        bad, obad = K.sdr_quantize(rows.reshape(-1), orows.reshape(-1), rows.shape[0], rows.shape[1], self.group,
                                   self.keep, _kernel_mode(mode), fmt.min, fmt.max, olo, ohi)
        if bad:
            self._raise_range(q)
        if obad:
            raise ValueError(f"{obad} razored value(s) do not fit {q.dtype} (a group holding {fmt.min} can razor "
                             f"{fmt.max} to {-fmt.min}); pass a wider array, e.g. q.astype(np.int32), or use a "
                             "narrow base")
        if not direct:
            np.copyto(o, self._restore(orows, moved, axis), casting="unsafe")   # values checked to fit
        return o

    def _record_rows(self, rec: Razored):
        """(codes rows, flags rows) of a record, checked against this codec."""
        if not isinstance(rec, Razored):
            raise TypeError(f"decode takes the Razored record that encode returns, got {type(rec).__name__}")
        if rec.format != self.name:
            raise ValueError(f"record is {rec.format}; this codec is {self.name}")
        codes, flags = _check_record(rec, "record")
        if flags.size and int(flags.max()) > self.max_shift:
            raise ValueError(f"flag {int(flags.max())} is above the largest shift {self.max_shift} of {self.name}")
        return _rows(codes, rec.axis), _rows(flags, rec.axis)

    def decode(self, rec: Razored, dtype=np.int32, *, out: np.ndarray | None = None) -> np.ndarray:
        """Integers ``(-1)**sign * (k << f)`` of a record, as ``dtype`` (an integer dtype that
        holds them: int32 or int64 always do); ``out=`` (the record's shape, C-contiguous, an
        integer dtype that wins over ``dtype``) receives them.

        >>> c = SDR(group=4)
        >>> c.decode(c.encode(np.array([3, -1, 0, 2])), dtype=np.int8)
        array([ 3, -1,  0,  2], dtype=int8)
        """
        from ..kernels.cpu import sdr as K

        dt = np.dtype(dtype if out is None else out.dtype)
        if dt.kind not in "iu":
            raise TypeError(f"SDR decodes to integers: dtype must be an integer dtype, got {dt}")
        crows, frows = self._record_rows(rec)
        o = checked_out(out, np.asarray(rec.codes), dt)
        res = np.empty(crows.shape, dtype=dt if dt in (np.int32, np.int64) else np.int64)
        lo, hi = _dtype_bounds(dt)
        if K.sdr_decode(crows.reshape(-1), frows.reshape(-1), res.reshape(-1), crows.shape[0], crows.shape[1],
                        rec.group, rec.keep, lo, hi):
            raise ValueError(f"decoded values do not fit {dt}; decode with a wider dtype (np.int32)")
        moved = np.moveaxis(np.empty(rec.shape, dtype=np.uint8), rec.axis, -1).shape
        return put(o, np.ascontiguousarray(self._restore(res, moved, rec.axis), dtype=dt))

    # -- packing ---------------------------------------------------------------------------------
    def pack(self, q, *, layout=None, **opts) -> Packed:
        """``encode(q, **opts)`` (or a :class:`Razored` record as it is) as a
        :class:`~fmtlib.Packed` record: the codes packed by ``layout`` (default
        :func:`fmtlib.packing.default_layout` of :attr:`bits`: two 4-bit codes per byte for
        keep=3), the flags (uint8, as the record has them) in ``scales``, the group in ``block``.

        >>> p = SDR(group=4).pack(np.array([100, -37, 5, 12], dtype=np.int8))
        >>> p.data, p.scales, SDR(group=4).unpack(p)
        (array([166,  16], dtype=uint8), array([4], dtype=uint8), array([ 96, -32,   0,  16], dtype=int32))
        """
        from ..packing import get_layout

        if isinstance(q, Razored):
            if opts:
                raise ValueError("encode options go with integer input, not with a Razored record")
            rec = q
        else:
            rec = self.encode(q, **opts)
        self._record_rows(rec)
        lay = get_layout(layout, self.bits)
        return Packed(lay.pack(rec.codes), rec.flags, tuple(rec.shape), rec.axis, rec.group, rec.format,
                      lay.get_config())

    def unpack_record(self, packed: Packed) -> Razored:
        """The :class:`Razored` record a :class:`~fmtlib.Packed` one holds (codes unpacked)."""
        from ..packing import get_layout

        if not isinstance(packed, Packed):
            raise TypeError(f"unpack takes the Packed record that pack returns, got {type(packed).__name__}")
        if packed.format != self.name:
            raise ValueError(f"record is {packed.format}; this codec is {self.name}")
        shape = tuple(packed.shape)
        codes = get_layout(packed.layout).unpack(packed.data, shape, dtype=self.code_dtype)
        return Razored(codes, packed.scales, shape, packed.axis, packed.block, self.keep, packed.format)

    def unpack(self, packed: Packed, dtype=np.int32, *, out: np.ndarray | None = None) -> np.ndarray:
        """Integers of a :class:`~fmtlib.Packed` record (what :meth:`pack` returns), as :meth:`decode`."""
        return self.decode(self.unpack_record(packed), dtype, out=out)


def _check_record(rec: Razored, who: str) -> tuple[np.ndarray, np.ndarray]:
    """(codes, flags) of a record whose shapes, axis, group and codes agree (numpy, or cupy for
    a record on the device)."""
    xp = device.array_module(rec.codes)
    codes, flags = xp.asarray(rec.codes), xp.asarray(rec.flags)
    shape = tuple(rec.shape)
    if tuple(codes.shape) != shape:
        raise ValueError(f"{who} codes have shape {tuple(codes.shape)}, the record says {shape}")
    if np.dtype(codes.dtype).kind not in "iu" or np.dtype(flags.dtype).kind not in "iu":
        raise TypeError(f"{who} codes and flags must be integer arrays, got {codes.dtype} and {flags.dtype}")
    if isinstance(rec.axis, bool) or not isinstance(rec.axis, (int, np.integer)) or not 0 <= rec.axis < len(shape):
        raise ValueError(f"{who} axis {rec.axis!r} is not an axis of shape {shape}")
    if isinstance(rec.group, bool) or not isinstance(rec.group, (int, np.integer)) or rec.group < 1:
        raise ValueError(f"{who} group must be a positive int, got {rec.group!r}")
    if isinstance(rec.keep, bool) or not isinstance(rec.keep, (int, np.integer)) or not 1 <= rec.keep <= MAX_BASE_BITS:
        raise ValueError(f"{who} keep must be an int in 1..{MAX_BASE_BITS}, got {rec.keep!r}")
    want = list(shape)
    want[rec.axis] = -(-shape[rec.axis] // rec.group)
    if tuple(flags.shape) != tuple(want):
        raise ValueError(f"{who} flags have shape {tuple(flags.shape)}; codes of shape {shape} in groups of {rec.group} "
                         f"along axis {rec.axis} need {tuple(want)}")
    if codes.size and (int(codes.min()) < 0 or int(codes.max()) >= 1 << (rec.keep + 1)):
        raise ValueError(f"{who} holds code {int(codes.max())}, out of range for sign + {rec.keep} bits")
    if flags.size and int(flags.min()) < 0:
        raise ValueError(f"{who} holds a negative flag")
    return codes, flags


# --- on the GPU ------------------------------------------------------------------------------

def sdr_run(codec, fused: bool, q, mode=None):
    """SDR ``encode`` (a Razored record of cupy arrays) or ``quantize`` (values in q's dtype) of
    a cupy integer array; ``mode``: the rounding of the dropped bits (None: the codec's)."""
    cp = backend()
    q, axis, rows = codec._input_rows(q, "SDR.quantize" if fused else "SDR.encode")   # the codec's checks
    dt = np.dtype(q.dtype)
    fmt = codec.base.format
    rows = rows.astype(np.int64)
    R, n = rows.shape
    moved = list(q.shape)
    moved.append(moved.pop(axis))
    moved = tuple(moved)
    ng = -(-n // codec.group)
    codes = cp.empty(rows.shape if not fused else (1,), dtype=codec.code_dtype)
    flags = cp.empty((R, ng), dtype=np.uint8)
    out = cp.empty(rows.shape if fused else (1,), dtype=np.int64)
    counts = cp.zeros(2, dtype=np.uint64)
    olo, ohi = _dtype_bounds(dt)
    launch("sdr.cu", f"fmt_sdr<{C_UINT[np.dtype(codec.code_dtype).itemsize]}>", R * ng,
           (rows.reshape(-1), codes.reshape(-1), flags.reshape(-1), out.reshape(-1), np.int64(R * ng), np.int64(n),
            np.int64(codec.group), np.int32(codec.keep), np.int32(_kernel_mode(mode or codec.rounding)),
            np.int64(fmt.min), np.int64(fmt.max), np.int64(olo), np.int64(ohi), np.int32(fused), counts))
    bad, obad = int(counts[0]), int(counts[1])
    if bad:
        codec._raise_range(q)
    if fused:
        if obad:
            raise ValueError(f"{obad} razored value(s) do not fit {dt} (a group holding {fmt.min} can razor "
                             f"{fmt.max} to {-fmt.min}); pass a wider array, or use a narrow base")
        return cp.ascontiguousarray(codec._restore(out, moved, axis)).astype(dt)
    return Razored(codec._restore(codes, moved, axis), codec._restore(flags, moved[:-1] + (ng,), axis),
                   tuple(q.shape), axis, codec.group, codec.keep, codec.name)


def sdr_decode(codec, rec, dtype):
    """SDR ``decode`` of a Razored record holding cupy arrays, as an integer ``dtype``."""
    cp = backend()
    dt = np.dtype(dtype)
    if dt.kind not in "iu":
        raise TypeError(f"SDR decodes to integers: dtype must be an integer dtype, got {dt}")
    crows, frows = codec._record_rows(rec)   # checked by the codec, on the device
    n = crows.shape[-1]
    c = crows.astype(np.dtype(codec.code_dtype))
    flags = frows.astype(np.uint8)
    out = cp.empty(c.shape, dtype=np.int64)
    launch("sdr.cu", f"fmt_sdr_decode<{C_UINT[c.dtype.itemsize]}>", c.size,
           (c.reshape(-1), flags.reshape(-1), out.reshape(-1), np.int64(c.size), np.int64(n), np.int64(rec.group),
            np.int32(rec.keep)))
    lo, hi = _dtype_bounds(dt)
    if out.size and (int(out.min()) < lo or int(out.max()) > hi):
        raise ValueError(f"decoded values do not fit {dt}; decode with a wider dtype (np.int32)")
    moved = list(rec.shape)
    moved.append(moved.pop(rec.axis))
    return cp.ascontiguousarray(codec._restore(out, tuple(moved), rec.axis)).astype(dt)
