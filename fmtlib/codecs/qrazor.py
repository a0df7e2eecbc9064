"""The QRazor pipeline (arXiv 2501.13331) on float data: stage 1 maps floats to a wide
integer base (int8 or int16) with an absmax scale, stage 2 razors those integers with
:class:`fmtlib.codecs.sdr.SDR`.

>>> import numpy as np
>>> QRazor().quantize(np.array([[0.5, -1.0, 2.0, 4.0]], dtype=np.float32)).dtype
dtype('float32')
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._arrays import as_float_input, float_dtype
from ..rounding import Rounding
from . import device
from .base import Codec
from .device import checked_out, put
from .fp import round_once
from .records import Packed
from .sdr import SDR, Razored, _kernel_mode, _norm_axis

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
    _gpu_methods = frozenset({"encode", "decode"})   # written for either array module; quantize: _device_quantize

    def __init__(self, sdr: SDR | dict = SDR(), scale_axis: int | None = None) -> None:
        from .scaled import Scaled
        from ..registry import get

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
        xp = device.array_module(x)   # cupy arrays stay on the device
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
        xp = device.array_module(ints)
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
        if x.dtype == np.float32:
            # |razored| <= 2**16 converts to float32 exactly, and one IEEE float32 multiply rounds
            # the exact product once (nearest-even), as round_once does from float64
            return np.multiply(razored, scales, dtype=np.float32, out=o)
        return put(o, round_once(razored * scales.astype(np.float64), x.dtype))   # int32 * float64: exact

    def _device_quantize(self, x, **opts):
        """:meth:`quantize` of cupy data: the stages one after another on the device, the
        product rounded once from float64 (the same bits as the host's float32 multiply)."""
        x, _ = as_float_input(x, "QRazor.quantize")
        o = checked_out(opts.pop("out"), x, x.dtype)
        ints, scales = self.integers(x, **opts)
        return put(o, round_once(self.sdr.quantize(ints) * scales.astype(np.float64), x.dtype))

    def _fused_eligible(self, x) -> bool:
        """Whether :meth:`quantize` of ``x`` takes :meth:`_quantize_fused`: float32 data, one
        scale, stage 1's codes as wide as the base (int8, int16: a signed view) and the groups
        along the last axis."""
        return (x.dtype == np.float32 and self.scale_axis is None
                and x.ndim >= 1 and 8 * self.stage1.element_code_dtype.itemsize == self.sdr.base.format.bits
                and _norm_axis(self.sdr.axis, x.ndim, "SDR") == x.ndim - 1)

    def _quantize_fused(self, x, o, opts) -> np.ndarray:
        """:meth:`quantize` of float32 data with one scale S in two passes instead of five:
        stage 1's codes, then razoring and fl32(razored * S) in one kernel
        (``sdr_quantize_scaled``; the same bits as the general path's float32 multiply)."""
        from ..kernels.cpu import sdr as K

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
