"""Significant data razoring (SDR) and the QRazor pipeline (Lee, Choi, Chang 2025,
"QRazor: Reliable and Effortless 4-bit LLM Quantization by Significant Data Razoring",
arXiv 2501.13331).

QRazor quantizes in two stages. Stage 1 maps floats to a wide integer base (int8 or int16)
with an absmax scale. Stage 2, SDR, compresses every group of those integers to
sign + ``keep`` salient bits per element and one shared shift (the "flag") per group.

- :class:`SDR`: stage 2 alone, on integer arrays. ``encode`` gives a :class:`Razored`
  record (codes and flags), ``decode`` its integers, ``quantize`` both fused.
- :func:`dot`: dot products computed from codes and flags only, as QRazor's
  decompression-free arithmetic unit does.
- :class:`QRazor`: both stages on float data.

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

from ._arrays import as_float_input, check_out, checked_out, float_dtype, put, round_once
from .codecs.base import Codec
from .codecs.integer import Int
from .codecs.records import Packed
from .kernels import gpu
from .rounding import Rounding

#: rounding modes of the dropped bits (floor_on_overflow always applies on top)
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
    from .registry import get

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
    from .kernels.cpu import sdr as K

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
    a = q if gpu.is_device_array(q) else np.asarray(q)   # cupy arrays stay on the device
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
    xp = gpu.array_module(a)
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
        if gpu.is_device_array(q):   # an error path: find the first bad value on the host
            q = gpu.backend().asnumpy(q)
        fmt = self.base.format
        bad = (q < fmt.min) | (q > fmt.max) if q.dtype != np.uint64 else q > np.uint64(fmt.max)
        idx = np.unravel_index(int(np.flatnonzero(bad)[0]), q.shape)
        raise ValueError(f"{int(q[idx])} at index {tuple(int(i) for i in idx)} is outside the base {fmt} range "
                         f"{fmt.min}..{fmt.max}; SDR razors integers of its base")

    def _restore(self, rows: np.ndarray, moved_shape: tuple, axis: int) -> np.ndarray:
        return gpu.array_module(rows).moveaxis(rows.reshape(moved_shape), -1, axis)

    # -- the codec surface ------------------------------------------------------------------------
    _gpu_methods = frozenset({"encode", "quantize", "decode"})

    def _mode(self, rounding, seed, rbits, rand, index_offset) -> Rounding:
        """The rounding of the dropped bits for this call (the codec's, or ``rounding``); the
        random keywords refused: SDR has no stochastic rounding."""
        from .codecs.stochastic import no_random

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
        from .kernels.cpu import sdr as K

        mode = self._mode(rounding, seed, rbits, rand, index_offset)
        if gpu.is_device_array(q):
            return gpu.block_out(self.code_dtype, out, q, False, lambda: gpu.sdr_run(self, False, q, mode))
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
        from .kernels.cpu import sdr as K

        mode = self._mode(rounding, seed, rbits, rand, index_offset)
        if gpu.is_device_array(q):
            return gpu.deliver(out, q, lambda: gpu.sdr_run(self, True, q, mode))
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
        from .kernels.cpu import sdr as K

        if isinstance(rec, Razored) and gpu.is_device_array(rec.codes):
            return gpu.into(out, gpu.sdr_decode(self, rec, dtype if out is None else out.dtype))
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
        from .packing import get_layout

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
        from .packing import get_layout

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
    xp = gpu.array_module(rec.codes)
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


def dot(a: Razored, b: Razored, axis: int = -1):
    """Dot products of two razored tensors from codes and flags only (no decompression).

    Per group, the signed kept bits multiply as small integers, their sum is shifted left by
    the two flags, and the groups add up: the integer unit of QRazor (arXiv 2501.13331).
    Vectors give a Python int; 2-D ``a`` (M, K) and ``b`` (N, K), razored along K, give the
    (M, N) int64 matrix ``decode(a) @ decode(b).T`` (``axis`` is the razored, contracted
    axis of both: ``axis=0`` takes (K, M) and (K, N) and gives ``decode(a).T @ decode(b)``).
    The two records need the same group and K; their bases and ``keep`` may differ.

    Exact: vectors sum in Python ints. Matrices use int64, which cannot overflow when
    (keep + largest flag) of a, plus that of b, plus bit_length(K) is at most 63; records
    from SDR (bases of at most 16 bits, so keep + flag <= 16) meet that for any K < 2**31.
    Other records raise ValueError rather than overflow.

    >>> c = SDR(group=2)      # decoded: [96, 0, 7, 1] . [-128, 0, 2, 2] = -12288 + 16
    >>> dot(c.encode(np.array([100, -3, 7, 1])), c.encode(np.array([-128, 5, 2, 2])))
    -12272
    """
    from .kernels.cpu import sdr as K

    for name, r in (("a", a), ("b", b)):
        if not isinstance(r, Razored):
            raise TypeError(f"dot takes Razored records, got {type(r).__name__} for {name}")
    ca, fa = _check_record(a, "a")
    cb, fb = _check_record(b, "b")
    if ca.ndim != cb.ndim or ca.ndim not in (1, 2):
        raise ValueError(f"dot takes two vectors or two matrices, got shapes {ca.shape} and {cb.shape}")
    ax = _norm_axis(axis, ca.ndim, "dot")
    for name, r in (("a", a), ("b", b)):
        if r.axis != ax:
            raise ValueError(f"{name} is razored along axis {r.axis}; dot contracts axis {ax} (pass axis={r.axis} "
                             "or razor along the contracted axis)")
    if a.group != b.group:
        raise ValueError(f"records have group sizes {a.group} and {b.group}; dot needs the same groups")
    if ca.shape[ax] != cb.shape[ax]:
        raise ValueError(f"records have K = {ca.shape[ax]} and {cb.shape[ax]} along axis {ax}; they must match")
    ka = np.empty(ca.shape, dtype=np.int64)
    kb = np.empty(cb.shape, dtype=np.int64)
    K.signed_kept(np.ascontiguousarray(ca).reshape(-1), a.keep, ka.reshape(-1))
    K.signed_kept(np.ascontiguousarray(cb).reshape(-1), b.keep, kb.reshape(-1))
    if ca.ndim == 1:
        n = ca.shape[0]
        if n == 0:
            return 0
        # |k_a * k_b| < 2**(keep_a + keep_b) <= 2**32, so a group's sum stays far inside int64
        parts = np.add.reduceat(ka * kb, np.arange(0, n, a.group))
        shifts = fa.astype(np.int64) + fb.astype(np.int64)
        return sum(int(p) << int(s) for p, s in zip(parts.tolist(), shifts.tolist()))
    ka, kb = _rows(ka, ax), _rows(kb, ax)
    fa, fb = _rows(fa, ax), _rows(fb, ax)
    Kn = ka.shape[1]
    width = (a.keep + (int(fa.max()) if fa.size else 0)) + (b.keep + (int(fb.max()) if fb.size else 0))
    if width + Kn.bit_length() > 63:
        raise ValueError(f"products need {width} bits and K = {Kn} terms: int64 could overflow")
    out = np.empty((ka.shape[0], kb.shape[0]), dtype=np.int64)
    K.sdr_dot(ka, fa, kb, fb, a.group, out)
    return out


# ----------------------------------------------------------------------------------------------
# QRazor: absmax scaling to the base integers, then SDR
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class QRazored:
    """A QRazor-encoded float tensor: the :class:`Razored` integers and the float32
    ``scales``, shaped to broadcast against ``shape`` (all ones per tensor; the length of
    ``scale_axis`` there per channel). ``format`` names the codec."""

    razored: Razored
    scales: np.ndarray
    shape: tuple
    scale_axis: int | None
    format: str


def _int_values(codes: np.ndarray, bits: int) -> np.ndarray:
    """Two's complement ``bits``-wide codes as int32 values."""
    if bits == 8 * codes.dtype.itemsize:   # int8, int16: a signed view, converted in one pass
        return codes.view(np.dtype(f"i{codes.dtype.itemsize}")).astype(np.int32)
    v = codes.astype(np.int32)
    return v - ((v >> (bits - 1)) << bits)


class QRazor(Codec):
    """QRazor on float data: stage 1 scales by absmax to the ``sdr.base`` integers, stage 2
    razors them with ``sdr``.

    - Stage 1 is ``Scaled(sdr.base, "fp32", block=None)``: scale ``S = fl32(amax / max)``
      (max = 127 for int8, narrow or not; 32767 for int16) and ``x / S`` rounded once by the
      base's rounding (``Int`` default: nearest-even), exactly.
    - ``scale_axis=None``: one scale for the tensor; ``scale_axis=k``: one scale per index
      along axis k, over all the other axes (``scale_axis=0``: one per row of a 2-D weight,
      torch's per-channel ``ch_axis``).
    - SDR groups run along ``sdr.axis`` of the input.
    - ``quantize``/``decode`` give ``fl(razored integer * S)``, the exact product rounded once
      to the output dtype (float64, float32, float16, bfloat16).

    >>> x = np.array([[0.5, -1.0, 3.0, 12.0]], dtype=np.float32)
    >>> QRazor(SDR(group=4)).quantize(x)      # integers 5 -11 32 127 razor to 0 -16 32 112
    array([[ 0.      , -1.511811,  3.023622, 10.582677]], dtype=float32)
    """

    codec_id = "qrazor"
    _gpu_methods = frozenset({"encode", "quantize", "decode"})

    def __init__(self, sdr: SDR | dict = SDR(), scale_axis: int | None = None) -> None:
        from .codecs.scaled import Scaled
        from .registry import get

        codec = get(sdr) if isinstance(sdr, dict) else sdr
        if not isinstance(codec, SDR):
            raise TypeError(f"sdr must be an SDR codec or its config, got {type(codec).__name__}")
        if scale_axis is not None and (isinstance(scale_axis, (bool, np.bool_))
                                       or not isinstance(scale_axis, (int, np.integer))):
            raise TypeError(f"scale_axis must be None or an int, got {type(scale_axis).__name__}")
        scale_axis = None if scale_axis is None else int(scale_axis)
        stage1 = Scaled(codec.base, "fp32", block=None, axis=None if scale_axis is None else -1)
        for k, v in dict(sdr=codec, scale_axis=scale_axis, stage1=stage1,
                         name=f"qrazor({codec.name}, scale_axis={scale_axis})").items():
            object.__setattr__(self, k, v)

    def _config_args(self):
        kw: dict[str, Any] = {}
        if self.sdr != SDR():
            kw["sdr"] = self.sdr.get_config()
        if self.scale_axis is not None:
            kw["scale_axis"] = self.scale_axis
        return (), kw

    def __repr__(self) -> str:
        _, kw = self._config_args()
        parts = [f"sdr={self.sdr!r}" if k == "sdr" else f"{k}={v!r}" for k, v in kw.items()]
        return f"QRazor({', '.join(parts)})"

    @property
    def bits_per_element(self) -> float:
        """``sdr.bits_per_element``: codes and flags, without the float32 scales (their share
        depends on the shape: see :meth:`storage_bits`)."""
        return self.sdr.bits_per_element

    def storage_bits(self, shape) -> int:
        """Bits of codes, flags and float32 scales of a tensor of ``shape``."""
        shape = tuple(int(s) for s in shape)
        nscales = 1 if self.scale_axis is None else shape[_norm_axis(self.scale_axis, len(shape), "QRazor")]
        return self.sdr.storage_bits(shape) + 32 * nscales

    def integers(self, x, **opts) -> tuple[np.ndarray, np.ndarray]:
        """Stage 1 alone: (base integers as int32 in ``x``'s shape, float32 scales shaped to
        broadcast against ``x``). ``opts``: the stage-1 encode's ``rounding``, ``seed``,
        ``rbits``, ``rand`` (x's shape) and ``index_offset`` (:meth:`encode`).

        >>> QRazor().integers(np.array([0.5, -1.0, 3.0, 12.0], np.float32))
        (array([  5, -11,  32, 127], dtype=int32), array([0.09448819], dtype=float32))
        """
        x, _ = as_float_input(x, "QRazor")
        if x.ndim == 0:
            raise ValueError("QRazor needs an array with at least one dimension")
        xp = gpu.array_module(x)   # cupy arrays stay on the device
        bits = self.sdr.base.format.bits
        if self.scale_axis is None:
            enc = self.stage1.encode(x, **opts)
            return _int_values(enc.codes, bits), enc.scales.view(np.float32).reshape((1,) * x.ndim)
        ax = _norm_axis(self.scale_axis, x.ndim, "QRazor")
        xm = xp.moveaxis(x, ax, 0)
        C = xm.shape[0]
        rows = (C, math.prod(xm.shape[1:]))
        rand = opts.get("rand")
        if rand is not None:   # the random integers move with their elements
            r = xp.asarray(rand)
            opts["rand"] = xp.ascontiguousarray(xp.moveaxis(r, ax, 0)).reshape(rows) if r.shape == x.shape else r
        enc = self.stage1.encode(xp.ascontiguousarray(xm).reshape(rows), **opts)
        ints = xp.moveaxis(_int_values(enc.codes, bits).reshape(xm.shape), 0, ax)
        sshape = [1] * x.ndim
        sshape[ax] = C
        return xp.ascontiguousarray(ints), enc.scales.view(np.float32).reshape(sshape)

    def encode(self, x, *, rounding: Rounding | str | None = None, seed: int | None = None, rbits: int | None = None,
               rand=None, index_offset: int = 0, out: np.ndarray | None = None) -> QRazored:
        """The razored base integers and the scales of float data ``x``. ``rounding`` and the
        random keywords are stage 1's (``x / S`` to the base integers: the base's rounding
        unless given; stochastic keyed by the element's index with ``scale_axis`` moved first,
        C order); SDR's rounding of the dropped bits is the ``sdr`` codec's. ``out=`` (x's
        shape, the SDR code dtype) receives the razored codes."""
        opts = dict(rounding=rounding, seed=seed, rbits=rbits, rand=rand, index_offset=index_offset)
        ints, scales = self.integers(x, **opts)
        return QRazored(self.sdr.encode(ints, out=out), scales, tuple(ints.shape), self.scale_axis, self.name)

    def decode(self, rec: QRazored, dtype=np.float32, *, out: np.ndarray | None = None) -> np.ndarray:
        """Values of a record: each razored integer times its scale, rounded once to ``dtype``
        (into ``out`` when given: the record's shape, its dtype wins)."""
        if not isinstance(rec, QRazored):
            raise TypeError(f"decode takes the QRazored record that encode returns, got {type(rec).__name__}")
        if rec.format != self.name:
            raise ValueError(f"record is {rec.format}; this codec is {self.name}")
        dt = float_dtype(dtype if out is None else out.dtype)
        o = checked_out(out, rec.razored.codes, dt)
        ints = self.sdr.decode(rec.razored, dtype=np.int32)
        xp = gpu.array_module(ints)
        return put(o, round_once(ints * xp.asarray(rec.scales).astype(np.float64), dt))   # int32 * float64: exact

    def quantize(self, x, *, rounding: Rounding | str | None = None, seed: int | None = None,
                 rbits: int | None = None, rand=None, index_offset: int = 0,
                 out: np.ndarray | None = None) -> np.ndarray:
        """``decode(encode(x))``, in ``x``'s dtype (float16/bfloat16 data is computed exactly in
        float64 and rounded once at the end); keywords as :meth:`encode`, ``out=`` (x's shape
        and dtype, C-contiguous) receives the result."""
        x, _ = as_float_input(x, "QRazor.quantize")
        o = checked_out(out, x, x.dtype)
        opts = dict(rounding=rounding, seed=seed, rbits=rbits, rand=rand, index_offset=index_offset)
        if self._fused_eligible(x):
            return self._quantize_fused(x, o, opts)
        ints, scales = self.integers(x, **opts)
        razored = self.sdr.quantize(ints)
        if x.dtype == np.float32 and not gpu.is_device_array(x):
            # |razored| <= 2**16 converts to float32 exactly, and one IEEE float32 multiply rounds
            # the exact product once (nearest-even), as round_once does from float64
            return np.multiply(razored, scales, dtype=np.float32, out=o)
        return put(o, round_once(razored * scales.astype(np.float64), x.dtype))   # int32 * float64: exact

    def _fused_eligible(self, x) -> bool:
        """Whether :meth:`quantize` of ``x`` takes :meth:`_quantize_fused`: float32 host data,
        one scale, stage 1's codes as wide as the base (int8, int16: a signed view) and the
        groups along the last axis."""
        return (x.dtype == np.float32 and not gpu.is_device_array(x) and self.scale_axis is None and x.ndim >= 1
                and 8 * self.stage1.element_code_dtype.itemsize == self.sdr.base.format.bits
                and _norm_axis(self.sdr.axis, x.ndim, "SDR") == x.ndim - 1)

    def _quantize_fused(self, x, o, opts) -> np.ndarray:
        """:meth:`quantize` of float32 data with one scale S in two passes instead of five:
        stage 1's codes, then razoring and fl32(razored * S) in one kernel
        (``sdr_quantize_scaled``; the same bits as the general path's float32 multiply)."""
        from .kernels.cpu import sdr as K

        enc = self.stage1.encode(x, **opts)
        q = enc.codes.view(np.dtype(f"i{enc.codes.dtype.itemsize}"))
        q, _, rows = self.sdr._input_rows(q, "QRazor.quantize")
        res = o if o is not None else np.empty(x.shape, np.float32)
        fmt = self.sdr.base.format
        mode = self.sdr._mode(None, None, None, None, 0)
        if K.sdr_quantize_scaled(rows.reshape(-1), res.reshape(-1), rows.shape[0], rows.shape[1], self.sdr.group,
                                 self.sdr.keep, _kernel_mode(mode), fmt.min, fmt.max,
                                 enc.scales.view(np.float32).reshape(-1)[0]):
            self.sdr._raise_range(q)
        return res

    # -- packing ---------------------------------------------------------------------------------
    def pack(self, x, *, layout=None, **opts) -> Packed:
        """``encode(x, **opts)`` (or a :class:`QRazored` record as it is) as a
        :class:`~fmtlib.Packed` record: :meth:`SDR.pack`'s, with the float32 scales in
        ``scale_scales`` and this codec's name in ``format``."""
        import dataclasses

        if isinstance(x, QRazored):
            if opts:
                raise ValueError("encode options go with float input, not with a QRazored record")
            rec = x
        else:
            rec = self.encode(x, **opts)
        if rec.format != self.name:
            raise ValueError(f"record is {rec.format}; this codec is {self.name}")
        p = self.sdr.pack(rec.razored, layout=layout)
        return dataclasses.replace(p, format=self.name, scale_scales=rec.scales)

    def unpack(self, packed: Packed, dtype=np.float32, *, out: np.ndarray | None = None) -> np.ndarray:
        """Values of a :class:`~fmtlib.Packed` record (what :meth:`pack` returns), as :meth:`decode`."""
        import dataclasses

        if not isinstance(packed, Packed):
            raise TypeError(f"unpack takes the Packed record that pack returns, got {type(packed).__name__}")
        if packed.format != self.name:
            raise ValueError(f"record is {packed.format}; this codec is {self.name}")
        razored = self.sdr.unpack_record(dataclasses.replace(packed, format=self.sdr.name, scale_scales=None))
        rec = QRazored(razored, packed.scale_scales, tuple(packed.shape), self.scale_axis, self.name)
        return self.decode(rec, dtype, out=out)
