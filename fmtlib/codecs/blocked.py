"""What every block-scaled codec shares: the ``Encoded`` record, the axis and option checks,
and moving the blocked axis last for the kernels.

The kernels see rows of ``ncols`` elements (the blocked axis moved last, C order) cut into
blocks of ``block``; a short last block covers the rest of a row. Stochastic rounding is
keyed by the element's flat index in that moved layout (for ``axis=-1``: the C-order index).
"""
from __future__ import annotations

import math
import struct

import numpy as np

from .._arrays import as_float_input, bits_view, check_out, dtype_format, is_float_dtype
from ..kernels import fast_path
from ..rounding import Rounding
from . import device
from .base import Codec
from .element import MAX_RBITS
from .records import SCALE_LAYOUTS, Encoded, Packed
from .stochastic import check_index_offset, moved_rand, random_args


def finite_amax(x: np.ndarray) -> float:
    """The largest magnitude among the finite values of a C-contiguous float array (0 if none),
    as a float, in one parallel pass without temporaries."""
    if x.size == 0:
        return 0.0
    c = _amax_masks.get(x.dtype)
    if c is None:
        from ..kernels.cpu import convert as K

        fmt = dtype_format(x.dtype)
        absmask = (1 << (fmt.bits - 1)) - 1
        if fmt.name == "bf16":   # bfloat16 is the top half of a float32
            value = lambda b: _F32.unpack(_U32.pack(b << 16))[0]  # noqa: E731
        else:
            as_float, as_bits = {16: ("<e", "<H"), 32: ("<f", "<I"), 64: ("<d", "<Q")}[fmt.bits]
            value = lambda b, f=struct.Struct(as_float), u=struct.Struct(as_bits): f.unpack(u.pack(b))[0]  # noqa: E731
        u = bits_view(x).dtype.type   # the masks in the bits' own width (the kernel's lanes)
        c = _amax_masks[x.dtype] = (K, u, u(absmask), u(absmask >> fmt.mbits << fmt.mbits), value)
    return c[4](int(c[0].finite_amax_bits(x.ravel().view(c[1]), c[2], c[3])))


#: float dtype -> (the kernels' module, the dtype of its bits, the mask of the magnitude bits, of the
#: exponent bits, bits -> Python float): finite_amax's constants (a small call's set-up)
_amax_masks: dict = {}
_F32, _U32 = struct.Struct("<f"), struct.Struct("<I")


def amax_element(x: np.ndarray) -> np.ndarray:
    """The bits of the largest magnitude of a C-contiguous float array -- an inf or NaN where it
    holds one -- as a one-element array of its bits dtype, in one parallel pass: the one-element
    block with x's scale, for the per-tensor kernels (fmtlib.kernels.cpu.element, amax_bits)."""
    from ..kernels.cpu import convert as K

    fmt = dtype_format(x.dtype)
    bits = bits_view(x)
    return np.array([K.amax_bits(bits, bits.dtype.type((1 << (fmt.bits - 1)) - 1))], dtype=bits.dtype)



def rows_last(x, axis: int, xp=np):
    """``x`` with ``axis`` moved last, C-contiguous (``x`` itself where it already is, without
    numpy's moveaxis: a few microseconds of a small call)."""
    if axis == x.ndim - 1:
        return xp.ascontiguousarray(x)
    return xp.ascontiguousarray(xp.moveaxis(x, axis, -1))

#: (id(codec), input dtype, input shape, quantize, fast path on) -> (codec, plan or None, out= dtype):
#: what a host call with every option at its default runs (:meth:`BlockCodec._plain`); the entry
#: holds the codec, so its id cannot be reused while the entry exists
_plans: dict = {}


def plain_out(out, x: np.ndarray, dtype: np.dtype) -> bool:
    """Whether ``out`` passes :func:`fmtlib._arrays.check_out`'s tests for ``x`` by its cheap ones
    alone: a plain ndarray of ``dtype`` and x's shape, C-contiguous and writeable, ``x`` itself or
    apart from it (False sends the call to the general path, which raises or decides)."""
    if type(out) is not np.ndarray or out.dtype != dtype or out.shape != x.shape:
        return False
    flags = out.flags
    return flags.c_contiguous and flags.writeable and (out is x or not np.may_share_memory(out, x))


class BlockCodec(device.RunsOnDevice, Codec):
    """Base of MX, NVFP4 and Scaled: ``block`` elements along ``axis`` share a scale."""

    @property
    def element_bits(self) -> int:
        """Bits of one element code."""
        return self.element.bits

    @property
    def element_code_dtype(self) -> np.dtype:
        """The dtype of element codes."""
        return np.dtype(self.element.code_dtype)

    def _check_block_axis(self, block, axis) -> None:
        if isinstance(block, bool) or not isinstance(block, int) or block < 1:
            raise ValueError(f"block must be a positive int, got {block!r}")
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"axis must be an int, got {type(axis).__name__}")

    def _axis(self, ndim: int) -> int:
        if ndim == 0:
            raise ValueError(f"{type(self).__name__} needs an array with at least one dimension")
        if not -ndim <= self.axis < ndim:
            raise ValueError(f"axis {self.axis} is out of range for a {ndim}-d array")
        return self.axis % ndim

    def _random(self, rounding, seed, rbits, index_offset=0, max_rbits: int = MAX_RBITS, rand=None, shape=(),
                xp=np):
        """(mode, key, rbits, base index, rand or None) for the kernels; seed, rbits and rand only
        with stochastic rounding (:func:`fmtlib.codecs.stochastic.random_args`; ``rand`` checked
        against the input's ``shape``, still in it). ``index_offset`` is added to every element's
        index, so a tensor cut into whole rows (of the moved layout) gives the same random bits
        chunk by chunk."""
        mode = self.rounding if rounding is None else Rounding.parse(rounding)
        base = check_index_offset(index_offset)
        key, rbits, rand = random_args(mode, shape, seed, rbits, rand, max_rbits, xp=xp)
        return mode, key, rbits, base, rand

    @staticmethod
    def _rand_rows(rand, axis, xp=np):
        """``rand`` (the input's shape) as the flat int64 array a block kernel reads
        (:func:`fmtlib.codecs.stochastic.moved_rand`)."""
        return moved_rand(rand, axis, xp)

    def _rows(self, x, what: str):
        """(x, axis, x with the blocked axis last and C-contiguous)."""
        x, _ = as_float_input(x, what)
        axis = self._axis(x.ndim)
        return x, axis, rows_last(x, axis)

    def _plain(self, x, fused: bool, out):
        """The result of a host call whose options are all at their defaults (the caller checks
        that), by the plan :meth:`_plan` made for this codec, x's dtype and shape, quantize or
        encode, and the fast-path switch; None where the call takes the general path: ``x`` not a
        C-contiguous ndarray, an ``out=`` that :func:`plain_out` does not pass (the general path
        raises its errors), no plan for this layout or kernel. Small calls spend most of their
        time in the set-up the plan does once (benchmarks/RESULTS.md, 2^10 latency)."""
        if type(x) is not np.ndarray or not x.flags.c_contiguous:
            return None
        k = (id(self), x.dtype, x.shape, fused, fast_path.is_enabled())
        entry = _plans.get(k)
        if entry is None:
            if len(_plans) >= 1024:
                _plans.clear()
            plan = self._plan(x, fused) if x.ndim and x.size and is_float_dtype(x.dtype) else None
            entry = _plans[k] = (self, plan, x.dtype if fused else self.element_code_dtype)
        if entry[1] is None or (out is not None and not plain_out(out, x, entry[2])):
            return None
        return entry[1](x, out)

    def _plan(self, x: np.ndarray, fused: bool):
        """``run(x, out)``: the kernels of a call with default options on arrays like ``x`` (a
        C-contiguous float ndarray of at least one element, of a dtype fmtlib reads as it is), its
        layout and kernel choice made here once; ``out`` is None or passed :func:`plain_out`.
        None where this codec has no plan for it."""
        return None

    def _last_axis(self, x: np.ndarray) -> bool:
        """Whether the blocked axis is ``x``'s last (in range): the rows are ``x`` itself."""
        return self.axis is not None and -x.ndim <= self.axis < x.ndim and self.axis % x.ndim == x.ndim - 1

    def _changed(self, **defaults) -> dict:
        """Config keywords: the attributes that differ from ``defaults`` (modes by name)."""
        kw = {}
        for k, default in defaults.items():
            v = getattr(self, k)
            if v != default:
                kw[k] = v.name.lower() if isinstance(v, Rounding) else v
        return kw

    def _record_block(self, ncols: int) -> int:
        """The block length a record of rows of ``ncols`` must have (Scaled: None = the row)."""
        return self.block

    def _record_rows(self, enc: "Encoded"):
        """(codes, scales) of a record with the blocked axis last (one row for ``axis=None``);
        checks the record fits this codec."""
        if not isinstance(enc, Encoded):
            raise TypeError(f"decode takes the Encoded record that encode returns, got {type(enc).__name__}")
        xp = device.array_module(enc.codes)   # cupy records stay on the device
        codes, scales = xp.asarray(enc.codes), xp.asarray(enc.scales)
        if enc.axis is None:
            codes, scales = codes.reshape(1, -1), scales.reshape(1, -1)
        else:
            codes = xp.ascontiguousarray(xp.moveaxis(codes, enc.axis, -1))
            scales = xp.ascontiguousarray(xp.moveaxis(scales, enc.axis, -1))
        ncols = codes.shape[-1]
        block = self._record_block(ncols)
        if enc.format != self.name or enc.block != block:
            raise ValueError(f"record is {enc.format} with block {enc.block}; this codec is {self.name}, "
                             f"block {block}")
        if (enc.tensor_amax is not None) != getattr(self, "global_scale", False):
            raise ValueError(f"record and codec disagree on the global scale (record tensor_amax="
                             f"{enc.tensor_amax}, codec global_scale={getattr(self, 'global_scale', False)})")
        want = codes.shape[:-1] + ((1,) if enc.axis is None else (-(-ncols // block),))   # one tensor scale
        if scales.shape != want:
            raise ValueError(f"scales have shape {scales.shape}; codes of shape {codes.shape} need {want}")
        return codes, scales

    @staticmethod
    def _buffers(out, x: np.ndarray, xm: np.ndarray, fused: bool, code_dtype):
        """(result, code rows, value rows) for an encode kernel: the rows it writes (the blocked
        axis last) and a one-element dummy for the ones it does not, and the array the caller
        gets: quantize's values in x's dtype, or the codes for encode's record (``code_dtype``;
        None without ``out``: the record keeps the kernel's rows). ``out`` (checked) is written
        directly where the kernel's rows are a view of it, else through a temporary
        (:meth:`_finish`)."""
        if not fused and out is None:
            return None, np.empty(xm.shape, dtype=code_dtype), np.empty(1, dtype=xm.dtype)
        o = check_out(out, x, x.dtype if fused else code_dtype)
        # xm is x's own memory or a fresh copy, so the bounds test is exact
        rows = o.reshape(xm.shape) if np.may_share_memory(xm, x) else np.empty(xm.shape, dtype=o.dtype)
        if fused:  # the rows are x in its own C order where they share its memory
            return o, np.empty(1, dtype=code_dtype), rows
        return o, rows, np.empty(1, dtype=xm.dtype)

    @classmethod
    def _out_rows(cls, out, x: np.ndarray, xm: np.ndarray, fused: bool):
        """(the array quantize returns, the rows the kernel writes): :meth:`_buffers` for quantize."""
        if not fused:
            if out is not None:
                raise ValueError("out= is for quantize")
            return None, np.empty(1, dtype=xm.dtype)
        o, _, rows = cls._buffers(out, x, xm, True, np.uint8)
        return o, rows

    @staticmethod
    def _finish(o: np.ndarray, rows: np.ndarray, restore) -> np.ndarray:
        """Copy the rows back into ``o`` unless the kernel wrote ``o`` itself."""
        if not np.may_share_memory(o, rows):   # rows: o's own memory or a fresh array (exact)
            np.copyto(o, restore(rows))
        return o

    @staticmethod
    def _decode_buffers(out, enc: Encoded, shape: tuple, dt: np.dtype):
        """(result, rows) for a decode kernel writing rows of ``shape`` (the blocked axis last):
        ``out`` (checked against the record's codes, None without it) and the rows, a view of
        ``out`` where the record's axis is already last in C order."""
        if out is None:
            return None, np.empty(shape, dtype=dt)
        codes = np.asarray(enc.codes)
        o = check_out(out, codes, dt)
        ax = None if enc.axis is None else enc.axis % max(codes.ndim, 1)
        kept = ax is None or codes.shape[ax] == 1 or math.prod(codes.shape[ax + 1:]) == 1
        return o, (o.reshape(shape) if kept else np.empty(shape, dtype=dt))

    def _encoded(self, result, codes, restore, *fields) -> Encoded:
        """The record of an encode: codes in ``result`` (the caller's ``out``) or, without it,
        the kernel's rows restored to the input's layout; ``fields`` the record's others."""
        c = restore(codes) if result is None else self._finish(result, codes, restore)
        return Encoded(c, *fields)

    # --- packing ------------------------------------------------------------------------
    def pack(self, x, *, layout=None, scale_layout: str = "row_major", **opts) -> Packed:
        """``encode(x, **opts)`` (or an ``Encoded`` record as it is) with the element codes
        packed by ``layout`` (default :func:`fmtlib.packing.default_layout`: ``fp4x2`` for
        FP4) and the scales in ``scale_layout`` (``"row_major"`` or ``"swizzled128x4"``).

        >>> import numpy as np, fmtlib
        >>> p = fmtlib.MX("mxfp4").pack(np.ones((2, 64), np.float32), scale_layout="swizzled128x4")
        >>> p.data.shape, p.scales.shape
        ((2, 32), (512,))
        >>> fmtlib.MX("mxfp4").unpack(p)[0, :4]
        array([1., 1., 1., 1.], dtype=float32)
        """
        from ..packing import Swizzled128x4, get_layout

        if scale_layout not in SCALE_LAYOUTS:
            raise ValueError(f"unknown scale_layout {scale_layout!r} (known: {', '.join(SCALE_LAYOUTS)})")
        enc = x if isinstance(x, Encoded) else self.encode(x, **opts)
        if isinstance(x, Encoded) and opts:
            raise ValueError("encode options go with float input, not with an Encoded record")
        self._record_rows(enc)
        lay = get_layout(layout, self.element_bits)
        scales = enc.scales
        if scale_layout == "swizzled128x4":
            scales = Swizzled128x4().pack(self._scale_matrix(enc.scales, enc.axis))
        return Packed(lay.pack(enc.codes), scales, tuple(enc.shape), enc.axis, enc.block, enc.format,
                      lay.get_config(), scale_layout, enc.tensor_amax, enc.scale_scales, enc.scale_offset)

    def unpack(self, packed: Packed, dtype=np.float32, *, out=None) -> np.ndarray:
        """Values of a :class:`Packed` record (what :meth:`pack` returns), as ``dtype``, into
        ``out`` when given (as :meth:`decode`)."""
        return self.decode(self.unpack_record(packed), dtype, out=out)

    def unpack_record(self, packed: Packed) -> Encoded:
        """The :class:`Encoded` record a :class:`Packed` one holds (codes unpacked, scales
        unswizzled; cupy arrays stay on the device)."""
        from ..packing import Swizzled128x4, get_layout

        if not isinstance(packed, Packed):
            raise TypeError(f"unpack takes the Packed record that pack returns, got {type(packed).__name__}")
        shape = tuple(packed.shape)
        codes = get_layout(packed.layout).unpack(packed.data, shape, dtype=np.dtype(self.element_code_dtype))
        scales = packed.scales
        xp = device.array_module(packed.scales)
        if packed.scale_layout == "swizzled128x4":
            like = np.empty(self._scales_shape(shape, packed.axis, packed.block), np.uint8)   # for its shapes
            m = Swizzled128x4().unpack(packed.scales, self._scale_matrix(like, packed.axis).shape)
            if packed.axis is None:
                scales = m.reshape(1)
            else:
                scales = xp.moveaxis(m.reshape(np.moveaxis(like, packed.axis, -1).shape), -1, packed.axis)
        elif packed.scale_layout != "row_major":
            raise ValueError(f"unknown scale_layout {packed.scale_layout!r}")
        return Encoded(codes, xp.asarray(scales), shape, packed.axis, packed.block, packed.format, packed.tensor_amax,
                       packed.scale_scales, packed.scale_offset)

    @staticmethod
    def _scales_shape(shape: tuple, axis, block: int) -> tuple:
        if axis is None:
            return (1,)
        s = list(shape)
        s[axis] = -(-s[axis] // block)
        return tuple(s)

    @staticmethod
    def _scale_matrix(scales: np.ndarray, axis) -> np.ndarray:
        """Scales as the (rows, blocks) matrix a GEMM reads: the blocked axis last, the other
        axes flattened into rows."""
        xp = device.array_module(scales)
        s = xp.asarray(scales)
        if s.dtype.itemsize != 1:
            raise ValueError(f"the 128x4 swizzle holds one-byte scales; these are {s.dtype}")
        if axis is None:
            return s.reshape(1, 1)
        m = xp.moveaxis(s, axis, -1)
        return m.reshape(-1, m.shape[-1]) if m.ndim != 2 else m

    def _check_scale_codes(self, scales: np.ndarray) -> None:
        """ValueError for a scale code outside the scale format (never truncated to a byte)."""
        if scales.size:
            lo, hi = int(scales.min()), int(scales.max())
            if lo < 0 or hi >= self.scale_format.num_codes:
                raise ValueError(f"scale code {lo if lo < 0 else hi} out of range for {self.scale_format}")

    @staticmethod
    def _check_codes(codes: np.ndarray, elem) -> None:
        if codes.size and int(codes.max()) >= elem.num_codes:
            raise ValueError(f"element code {int(codes.max())} out of range for {elem}")
