"""What every block-scaled codec shares: the ``Encoded`` record, the axis and option checks,
and moving the blocked axis last for the kernels.

The kernels see rows of ``ncols`` elements (the blocked axis moved last, C order) cut into
blocks of ``block``; a short last block covers the rest of a row. Stochastic rounding is
keyed by the element's flat index in that moved layout (for ``axis=-1``: the C-order index).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np

from .._arrays import as_float_input, bits_view, check_out, dtype_format
from ..rng import seed_key
from ..rounding import Rounding
from .base import Codec
from .element import MAX_RBITS


@dataclass(frozen=True, eq=False)
class Encoded:
    """Codes of a block-scaled tensor.

    ``codes`` has the input's shape; ``scales`` has it too, except that the blocked ``axis``
    has one entry per block (a short last block covers the rest of the axis). ``axis`` is
    None for one scale over the whole tensor (``scales`` then has one entry).
    ``tensor_amax`` is the float32 tensor-wide amax that two-level formats (NVFP4 with a
    global scale) derive their per-tensor scale from; None for one-level formats.
    With double quantization (bitsandbytes ``compress_statistics``), ``scales`` holds 8-bit
    codes of the block scales minus ``scale_offset``, and ``scale_scales`` the float32 bits
    of the absmax of each 256 of them.
    """

    codes: np.ndarray
    scales: np.ndarray
    shape: tuple
    axis: int | None
    block: int
    format: str
    tensor_amax: float | None = None
    scale_scales: np.ndarray | None = None
    scale_offset: float | None = None


#: scale_layout= names of BlockCodec.pack
SCALE_LAYOUTS = ("row_major", "swizzled128x4")


@dataclass(frozen=True, eq=False)
class Packed:
    """A block-scaled tensor as a kernel reads it: ``data`` holds the element codes packed by
    ``layout`` (a layout config, see :mod:`fmtlib.packing`) along the last axis of ``shape``;
    ``scales`` holds the scale codes, either as the ``Encoded`` record has them
    (``scale_layout="row_major"``) or, with the blocked axis moved last, swizzled into
    Blackwell/cuBLAS 128x4 tiles (``"swizzled128x4"``, one-byte scale formats only).
    """

    data: np.ndarray
    scales: np.ndarray
    shape: tuple
    axis: int | None
    block: int
    format: str
    layout: dict
    scale_layout: str = "row_major"
    tensor_amax: float | None = None
    scale_scales: np.ndarray | None = None
    scale_offset: float | None = None


def finite_amax(x: np.ndarray) -> float:
    """The largest magnitude among the finite values of a C-contiguous float array (0 if none),
    as a float, in one parallel pass without temporaries."""
    from ..kernels.cpu import convert as K

    if x.size == 0:
        return 0.0
    fmt = dtype_format(x.dtype)
    bits = bits_view(x)
    absmask = (1 << (fmt.bits - 1)) - 1
    top = K.finite_amax_bits(bits, absmask, absmask >> fmt.mbits << fmt.mbits)
    return float(np.array(top, dtype=bits.dtype).view(x.dtype)[()])


def amax_element(x: np.ndarray) -> np.ndarray:
    """The bits of the largest magnitude of a C-contiguous float array -- an inf or NaN where it
    holds one -- as a one-element array of its bits dtype, in one parallel pass: the one-element
    block with x's scale, for the per-tensor kernels (fmtlib.kernels.cpu.convert, amax_bits)."""
    from ..kernels.cpu import convert as K

    fmt = dtype_format(x.dtype)
    bits = bits_view(x)
    return np.array([K.amax_bits(bits, (1 << (fmt.bits - 1)) - 1)], dtype=bits.dtype)


class BlockCodec(Codec):
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

    def _random(self, rounding, seed, rbits, index_offset=0, max_rbits: int = MAX_RBITS):
        """(mode, key, rbits, base index) for the kernels; seed/rbits only with stochastic
        rounding. ``index_offset`` is added to every element's index, so a tensor cut into
        whole rows (of the moved layout) gives the same random bits chunk by chunk."""
        mode = self.rounding if rounding is None else Rounding.parse(rounding)
        if isinstance(index_offset, bool) or not isinstance(index_offset, (int, np.integer)) or index_offset < 0:
            raise ValueError(f"index_offset must be a non-negative int, got {index_offset!r}")
        if mode is not Rounding.STOCHASTIC:
            if seed is not None or rbits is not None:
                raise ValueError("seed= and rbits= are only used by rounding='stochastic'")
            return mode, 0, 1, 0
        rbits = max_rbits if rbits is None else rbits
        if isinstance(rbits, bool) or not isinstance(rbits, (int, np.integer)) or not 1 <= rbits <= max_rbits:
            raise ValueError(f"rbits must be an int in 1..{max_rbits}, got {rbits!r}")
        return mode, seed_key(secrets.randbits(64) if seed is None else seed), int(rbits), int(index_offset)

    def _rows(self, x, what: str):
        """(x, axis, x with the blocked axis last and C-contiguous)."""
        x, _ = as_float_input(x, what)
        axis = self._axis(x.ndim)
        return x, axis, np.ascontiguousarray(np.moveaxis(x, axis, -1))

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
        from ..kernels import gpu

        xp = gpu.array_module(enc.codes)   # cupy records stay on the device
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
    def _out_rows(out, x: np.ndarray, xm: np.ndarray, fused: bool):
        """(the array quantize returns, the rows the kernel writes): ``out`` (checked) is
        written directly when the kernel's rows are a view of it, else through a temporary."""
        if not fused:
            if out is not None:
                raise ValueError("out= is for quantize")
            return None, np.empty(1, dtype=xm.dtype)
        o = check_out(out, x, x.dtype)
        if np.shares_memory(xm, x):  # the rows are x in its own C order
            return o, o.reshape(xm.shape)
        return o, np.empty_like(xm)

    @staticmethod
    def _finish(o: np.ndarray, rows: np.ndarray, restore) -> np.ndarray:
        """Copy the rows back into ``o`` unless the kernel wrote ``o`` itself."""
        if not np.shares_memory(o, rows):
            np.copyto(o, restore(rows))
        return o

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

    def unpack(self, packed: Packed, dtype=np.float32) -> np.ndarray:
        """Values of a :class:`Packed` record (what :meth:`pack` returns), as ``dtype``."""
        return self.decode(self.unpack_record(packed), dtype)

    def unpack_record(self, packed: Packed) -> Encoded:
        """The :class:`Encoded` record a :class:`Packed` one holds (codes unpacked, scales
        unswizzled; cupy arrays stay on the device)."""
        from ..kernels import gpu
        from ..packing import Swizzled128x4, get_layout

        if not isinstance(packed, Packed):
            raise TypeError(f"unpack takes the Packed record that pack returns, got {type(packed).__name__}")
        shape = tuple(packed.shape)
        codes = get_layout(packed.layout).unpack(packed.data, shape, dtype=np.dtype(self.element_code_dtype))
        scales = packed.scales
        xp = gpu.array_module(packed.scales)
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
        from ..kernels import gpu

        xp = gpu.array_module(scales)
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
