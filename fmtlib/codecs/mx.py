"""``MX``: OCP Microscaling block formats (MX v1.0): element codes plus one E8M0 scale per block.

>>> import numpy as np
>>> x = np.array([[0.1, -1.0, 3.0, 12.0]], dtype=np.float32)
>>> enc = MX("mxfp4", block=4).encode(x)
>>> enc.scales, enc.codes          # amax 12: scale 2**(floor(log2 12) - emax 2) = 2, code 127 + 1
(array([[128]], dtype=uint8), array([[0, 9, 3, 7]], dtype=uint8))
>>> MX("mxfp4", block=4).decode(enc)   # e2m1 values 0, -0.5, 1.5, 6 times 2
array([[ 0., -1.,  3., 12.]], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from .._arrays import bits_view, dtype_format, float_dtype
from ..catalog import parse_format
from ..kernels import fast_path
from . import device
from ..kernels.params import kernel_params
from ..rounding import Overflow, Rounding
from .blocked import BlockCodec, Encoded
from .stochastic import moved_rand

#: MX name -> element format (OCP MX v1.0 Table 1; names as torchao and gfloat use them).
#: MXINT8's elements are 8-bit two's complement integers k read as k / 64.
MX_ELEMENTS = {
    "mxfp8_e4m3": "e4m3fn",
    "mxfp8_e5m2": "e5m2",
    "mxfp6_e3m2": "e3m2",
    "mxfp6_e2m3": "e2m3",
    "mxfp4_e2m1": "e2m1",
    "mxint8": "int8",
}
_MX_ALIASES = {"mxfp4": "mxfp4_e2m1", "mxfp8": "mxfp8_e4m3", "mxfp6": "mxfp6_e3m2"}
_MXINT8_SHIFT = 6  # MXINT8 element value = code / 2**6

#: scale_rule= names -> kernel rule ids (fmtlib.kernels.cpu.mx: FLOOR, CEIL, EVEN, RCEIL)
SCALE_RULES = {"floor": 0, "ceil": 1, "even": 2, "rceil": 3}


def lanes32(elem, src_fmt, mode, rand, args, S, ncols: int, block: int, key, base, rbits, fused: bool,
            amax=None) -> bool:
    """Run the CPU's 32-bit lane kernel (``mx32_*``) of power-of-two block scaling where
    :func:`fmtlib.kernels.fast_path.mx32_eligible` holds, and say whether it ran: MX and
    ``Scaled(..., "e8m0")``, whose scale rules are the same (``S``: rule, element emax, mbits,
    max, eshift). ``args`` = (input bits, codes, scales, output bits, input kernel params), flat.
    ``amax`` (the tensor's amax bits, one element): per-tensor scaling, ``ncols`` the tensor's
    size in blocks of ``block`` sharing that one scale (see ``_mx32_blocks``)."""
    k = (id(elem), id(src_fmt), int(mode), rand is None, S, fused, fast_path.is_enabled())
    plan = _lane_plans.get(k)
    if plan is None:   # the entry holds elem and src_fmt, so their ids cannot be reused while it exists
        if len(_lane_plans) >= 1024:
            _lane_plans.clear()
        plan = _lane_plans[k] = (elem, src_fmt, _lane_plan(elem, src_fmt, int(mode), rand, S, fused))
    if plan[2] is None:
        return False
    plan[2](args, ncols, block, np.uint64(key), base, int(rbits), np.empty(0, args[0].dtype) if amax is None else amax)
    return True


#: (id(elem), id(src_fmt), mode, no rand, S, fused, fast path on) -> (elem, src_fmt, kernel call or
#: None): :func:`lanes32`'s choice, made once per codec and input dtype (small calls)
_lane_plans: dict = {}


def _lane_plan(elem, src_fmt, mode: int, rand, S, fused: bool):
    """``run(args, ncols, block, key, base, rbits, amax)``: the lane kernel of :func:`lanes32`
    with its constants bound, or None where it does not apply."""
    from ..integers import IntFormat
    from ..kernels.cpu import convert as K

    if not fast_path.mx32_eligible(elem, src_fmt, mode, rand):
        return None
    K32, E = fast_path.mx32_constants(elem, src_fmt, mode, S[4])
    name = "mx32_int_" if isinstance(elem, IntFormat) else "mx32_"
    name += ("quantize" if fused else "encode") + ("_sr" if mode == Rounding.STOCHASTIC else "")
    kind = fast_path.lanes32_kind(src_fmt)
    if kind == 0:
        name, extra = name + "_f32", ()
    elif isinstance(elem, IntFormat):
        name, extra = name + ("_f16" if kind == 2 else "_bf16"), ()
    else:
        name, extra = name + "_16", (kind == 2,)
    # the kernel looked up by name at each call (tests wrap kernels to see which one runs)
    return lambda args, ncols, block, key, base, rbits, amax: getattr(K, name)(*args, K32, E, S, ncols, block, key,
                                                                                base, rbits, amax, *extra)


def _lane_run(x, lane, fused: bool, block: int, code_dtype, Psrc, record):
    """``run(x, out)`` of a block codec's plan (:meth:`fmtlib.codecs.blocked.BlockCodec._plan`)
    calling ``lane`` (a :func:`_lane_plan`) on rows that are x itself; encode returns
    ``record(codes, scales)``. The one-element stand-ins for the array a call does not write are
    shared: the kernel reads neither."""
    shape, dt, bits = x.shape, x.dtype, bits_view(x).dtype
    ncols = shape[-1]
    sshape = shape[:-1] + (-(-ncols // block),)
    none, key, no_amax = np.empty(1, code_dtype if fused else dt), np.uint64(0), np.empty(0, bits)
    unwritten = none.ravel() if fused else none.ravel().view(bits)

    def run(x, out):
        scales = np.empty(sshape, np.uint8)
        if fused:
            r = np.empty(shape, dt) if out is None else out
            lane((x.ravel().view(bits), unwritten, scales.ravel(), r.ravel().view(bits), Psrc), ncols,
                 block, key, 0, 1, no_amax)
            return r
        codes = np.empty(shape, code_dtype) if out is None else out
        lane((x.ravel().view(bits), codes.ravel(), scales.ravel(), unwritten, Psrc), ncols, block, key,
             0, 1, no_amax)
        return record(codes, scales)
    return run


def lanes32_tensor(elem, src_fmt, mode, rand, args, S, amax, key, base, rbits, fused: bool) -> bool:
    """:func:`lanes32` for one scale over the whole of ``args[0]`` (``amax``: its amax bits, one
    element), written to ``args[2][0]``; the blocks of ``MX32_TENSOR_BLOCK`` elements are the
    chunks of the parallel element pass."""
    from ..kernels.cpu.mx import MX32_TENSOR_BLOCK

    n = args[0].size
    scales = np.empty(-(-n // MX32_TENSOR_BLOCK), np.uint8)
    if not lanes32(elem, src_fmt, mode, rand, (args[0], args[1], scales, *args[3:]), S, n, MX32_TENSOR_BLOCK, key,
                   base, rbits, fused, amax):
        return False
    args[2][0] = scales[0]
    return True


class MX(BlockCodec):
    """An OCP MX block format: ``block`` (32) consecutive elements along ``axis`` share a
    power-of-two scale stored as E8M0.

    The scale is ``2**(floor(log2(amax)) - emax_elem)`` (``scale_rule="floor"``, OCP; see
    :data:`SCALE_RULES` and docs/mx.md for ``ceil``, ``even``, ``rceil``), at least
    ``2**-127`` (also for an all-zero block); an inf or NaN in a block, or an exponent above
    127 (``rceil``: clamped to 127), makes its scale NaN and the block decodes to NaN. Elements are ``x / scale`` rounded (``rounding``,
    nearest-even by default; ``stochastic`` keyed by the global element index) with
    saturation. MXINT8 saturates to +-127/64 and never writes code 0x80; it decodes 0x80 as -2.
    ``profile`` picks the scale rule of an ecosystem: ``"ocp"``/``"torchao_floor"`` floor,
    ``"torchao"`` (torchao 0.18's workflows)/``"nvidia"``/``"transformer_engine"`` rceil,
    ``"torchao_even"``, ``"torchao_ceil"``
    (:mod:`fmtlib.profiles`); an explicit ``scale_rule`` wins.
    """

    codec_id = "mx"

    def __init__(self, name: str = "mxfp4", *, block: int = 32, axis: int = -1,
                 rounding: Rounding | str = "nearest_even", scale_rule: str | None = None,
                 profile: str | None = None) -> None:
        from ..integers import IntFormat
        from ..profiles import mx_options

        if scale_rule is None:
            scale_rule = mx_options(profile)["scale_rule"] if profile is not None else "floor"
        elif profile is not None:
            mx_options(profile)  # an unknown profile is an error even when scale_rule wins

        key = _MX_ALIASES.get(str(name).lower(), str(name).lower())
        if key not in MX_ELEMENTS:
            known = ", ".join(list(MX_ELEMENTS) + list(_MX_ALIASES))
            raise ValueError(f"unknown MX format {name!r} (known: {known})")
        self._check_block_axis(block, axis)
        rule = str(scale_rule).lower()
        if rule not in SCALE_RULES:
            raise ValueError(f"unknown scale_rule {scale_rule!r} (known: {', '.join(SCALE_RULES)})")
        if key == "mxint8":
            elem, decoded, shift = IntFormat(8, narrow=True), IntFormat(8), _MXINT8_SHIFT
            emax, mbits, emaxval = 0, _MXINT8_SHIFT, 127 / 64
        else:
            elem = decoded = parse_format(MX_ELEMENTS[key])
            shift, emax, mbits, emaxval = 0, elem.emax, elem.mbits, elem.max
        object.__setattr__(self, "name", key)
        object.__setattr__(self, "element", elem)
        object.__setattr__(self, "_decoded_element", decoded)
        object.__setattr__(self, "_scale_params", (SCALE_RULES[rule], emax, mbits, float(emaxval), shift))
        object.__setattr__(self, "scale_format", parse_format("e8m0"))
        object.__setattr__(self, "block", block)
        object.__setattr__(self, "axis", axis)
        object.__setattr__(self, "rounding", Rounding.parse(rounding))
        object.__setattr__(self, "scale_rule", rule)

    def _config_args(self):
        return (self.name,), self._changed(block=32, axis=-1, rounding=Rounding.NEAREST_EVEN, scale_rule="floor")

    @property
    def element_max(self) -> float:
        """The largest element value (before scaling): 6 for mxfp4, 127/64 for mxint8."""
        return self._scale_params[3]

    @property
    def bits_per_element(self) -> float:
        """Storage cost: element bits plus the scale's 8 bits shared by a block."""
        return self.element.bits + 8 / self.block

    # --- the same methods on the GPU (cupy data; called by fmtlib._interop.interop) -------
    def _device_run(self, fused: bool, x, rounding, seed, rbits, rand, index_offset, out):
        return device.block_out(self.element_code_dtype, out, x, fused,
                                lambda: device.mx_run(self, fused, x, rounding, seed, rbits, index_offset, rand))

    def _device_decode(self, enc, dtype, out):
        return device.into(out, device.mx_decode(self, enc, dtype if out is None else out.dtype))

    def _plan(self, x, fused: bool):
        """The lane kernel of :func:`lanes32` where the rows are ``x`` itself and the codec does
        not round stochastically (its call without options then has no random key)."""
        mode = int(self.rounding)
        if self.rounding is Rounding.STOCHASTIC or not self._last_axis(x):
            return None
        src_fmt = dtype_format(x.dtype)
        lane = _lane_plan(self.element, src_fmt, mode, None, self._scale_params, fused)
        if lane is None:
            return None
        shape, axis, block, name = x.shape, x.ndim - 1, self.block, self.name
        return _lane_run(x, lane, fused, block, self.element.code_dtype, kernel_params(src_fmt),
                         lambda codes, scales: Encoded(codes, scales, shape, axis, block, name))

    def _run(self, x, fused: bool, rounding, seed, rbits, index_offset=0, out=None, rand=None):
        if rounding is None and seed is None and rbits is None and rand is None and index_offset.__class__ is int \
                and index_offset == 0:
            r = self._plain(x, fused, out)
            if r is not None:
                return r
        from ..kernels.cpu import convert as K

        x, axis, xm = self._rows(x, "quantize" if fused else "encode")
        mode, key, rbits, base, rand = self._random(rounding, seed, rbits, index_offset, rand=rand, shape=x.shape)
        ncols = xm.shape[-1]
        nb = -(-ncols // self.block)
        scales = np.empty(xm.shape[:-1] + (nb,), dtype=np.uint8)
        result, codes, out = self._buffers(out, x, xm, fused, self.element.code_dtype)  # quantize writes no codes
        src_fmt = dtype_format(xm.dtype)
        args = (bits_view(xm), codes.reshape(-1), scales.reshape(-1), bits_view(out), kernel_params(src_fmt),
                kernel_params(self.element))
        # the 32-bit lane kernels where they apply (measured faster than the threshold kernel on e2m1 too:
        # benchmarks/RESULTS.md; MXINT8 too), then the threshold kernel (nearest-away, toward zero), the
        # exponent-shift kernel, the generic one
        if not lanes32(self.element, src_fmt, mode, rand, args[:5], self._scale_params, ncols, self.block, key,
                       base, rbits, fused):
            if fast_path.table_eligible(self.element, src_fmt, int(mode)):
                thr, vbits, _ = fast_path.thresholds(self.element, src_fmt, int(mode))
                K.mx_encode_table(*args, thr, vbits, self._scale_params, ncols, self.block, int(mode), fused)
            elif fast_path.mx_eligible(self.element, src_fmt):
                C, special = fast_path.constants(self.element, src_fmt, int(mode), int(Overflow.SATURATE))
                D = fast_path.code_constants(self.element, src_fmt)
                K.mx_encode_fast(*args, C, special, D, self._scale_params, ncols, self.block, int(mode),
                                 np.uint64(key), base, int(rbits), fused, moved_rand(rand, axis))
            else:
                K.mx_encode(*args, self._scale_params, ncols, self.block, int(mode), np.uint64(key), base,
                            int(rbits), fused, moved_rand(rand, axis))
        restore = (lambda r: np.moveaxis(r, -1, axis))
        if fused:
            return self._finish(result, out, restore)
        return self._encoded(result, codes, restore, np.moveaxis(scales, -1, axis), x.shape, axis, self.block,
                             self.name)

    def encode(self, x, *, rounding: Rounding | str | None = None, seed: int | None = None,
               rbits: int | None = None, rand=None, index_offset: int = 0, out: np.ndarray | None = None) -> Encoded:
        """Element codes and E8M0 scale codes of ``x`` (float16/32/64, bfloat16); ``out=`` (x's
        shape, the element code dtype, C-contiguous) receives the codes. Random keywords as
        :meth:`fmtlib.FP.encode`, keyed by the element's index with the blocked axis moved
        last (:mod:`fmtlib.codecs.protocol`)."""
        return self._run(x, False, rounding, seed, rbits, index_offset, out, rand)

    def quantize(self, x, *, rounding: Rounding | str | None = None, seed: int | None = None,
                 rbits: int | None = None, rand=None, index_offset: int = 0,
                 out: np.ndarray | None = None) -> np.ndarray:
        """``decode(encode(x))`` in one pass, in ``x``'s dtype; ``out=`` (x's shape and dtype,
        C-contiguous; ``x`` itself works) receives the result."""
        return self._run(x, True, rounding, seed, rbits, index_offset, out, rand)

    def decode(self, enc: Encoded, dtype=np.float32, *, out: np.ndarray | None = None) -> np.ndarray:
        """Values of an :class:`Encoded` record: element value times its block's scale; ``out=``
        (the record's shape, C-contiguous; its dtype wins over ``dtype``) receives them."""
        from ..kernels.cpu import convert as K

        dt = float_dtype(dtype if out is None else out.dtype)
        codes, scales = self._record_rows(enc)
        ncols = codes.shape[-1]
        elem = self._decoded_element
        self._check_codes(codes, elem)
        self._check_scale_codes(scales)
        result, rows = self._decode_buffers(out, enc, codes.shape, dt)
        K.mx_decode(codes.reshape(-1), scales.astype(np.uint8, copy=False).reshape(-1), bits_view(rows),
                    kernel_params(elem), kernel_params(dtype_format(dt)), ncols, self.block, self._scale_params[4])
        restore = (lambda r: np.moveaxis(r, -1, enc.axis))
        return restore(rows) if result is None else self._finish(result, rows, restore)
