"""The records codecs return: ``Encoded`` (a block codec's codes and scales) and ``Packed``
(what every codec's ``pack`` returns and ``unpack`` takes).

>>> import numpy as np, fmtlib
>>> p = fmtlib.FP("e2m1").pack(np.array([1.0, -6.0, 0.5], np.float32))
>>> p.data, p.shape, p.format
(array([242,   1], dtype=uint8), (3,), 'e2m1')
>>> fmtlib.FP("e2m1").unpack(p)
array([ 1. , -6. ,  0.5], dtype=float32)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
    """A tensor as a kernel or a file reads it: what ``codec.pack`` returns and ``codec.unpack``
    takes. ``data`` holds the element codes packed by ``layout`` (a layout config, see
    :mod:`fmtlib.packing`) along the last axis of ``shape``; ``format`` names the codes' meaning
    (``unpack`` refuses a record of another codec). The other fields are those of what
    ``encode`` returned:

    - element codecs (FP, Int, Quantile): none (``scales``, ``axis``, ``block`` are None);
    - block codecs (MX, NVFP4, Scaled): the ``Encoded`` record's ``scales`` either as it has
      them (``scale_layout="row_major"``) or, with the blocked axis moved last, swizzled into
      Blackwell/cuBLAS 128x4 tiles (``"swizzled128x4"``, one-byte scale formats only), and its
      ``axis``, ``block``, ``tensor_amax``, ``scale_scales``, ``scale_offset``;
    - SDR: the ``Razored`` record's ``flags`` in ``scales``, its ``axis``, its ``group`` in
      ``block``;
    - QRazor: as SDR, and the float32 stage-1 scales (``QRazored.scales``) in ``scale_scales``.
    """

    data: np.ndarray
    scales: np.ndarray | None
    shape: tuple
    axis: int | None
    block: int | None
    format: str
    layout: dict
    scale_layout: str = "row_major"
    tensor_amax: float | None = None
    scale_scales: np.ndarray | None = None
    scale_offset: float | None = None


def _shape(a) -> tuple:
    return tuple(getattr(a, "shape", np.shape(a)))


def pack_codes(codes, layout, bits: int, fmt: str) -> Packed:
    """The Packed record of an element codec's ``codes`` (``layout`` as :func:`fmtlib.packing.get_layout`
    takes it, for ``bits``-bit codes; ``fmt`` the codec's :attr:`Packed.format`)."""
    from ..packing import get_layout

    lay = get_layout(layout, bits)
    return Packed(lay.pack(codes), None, _shape(codes), None, None, fmt, lay.get_config())


def unpack_codes(packed, args: tuple, dtype, layout, bits: int, fmt: str):
    """(codes, dtype) for an element codec's ``unpack(packed, dtype=np.float32, *, out=None)``,
    or for the older ``unpack(buf, shape, *, layout=None, dtype=np.float32)`` (still accepted)."""
    from ..packing import get_layout

    if isinstance(packed, Packed):
        if len(args) > 1 or (args and dtype is not None):
            raise TypeError("unpack(packed, dtype=np.float32, *, out=None) takes a record and one dtype")
        if layout is not None:
            raise ValueError("layout= goes with a raw buffer (unpack(buf, shape, layout=...)); a Packed record "
                             "names its own layout")
        if packed.format != fmt:
            raise ValueError(f"record holds {packed.format} codes; this codec is {fmt}")
        return get_layout(packed.layout).unpack(packed.data, tuple(packed.shape)), (args[0] if args else dtype)
    if len(args) != 1:
        raise TypeError("unpack takes the Packed record pack returns (unpack(packed, dtype=np.float32, *, out=None)), "
                        "or a buffer and its shape (unpack(buf, shape, *, layout=None, dtype=np.float32))")
    return get_layout(layout, bits).unpack(packed, args[0]), dtype
