"""``NVFP4``: NVIDIA's 4-bit block format. E2M1 elements, one UE4M3 scale per 16 elements, and
an optional FP32 per-tensor scale, computed in float32 exactly as a reference recipe does.

>>> import numpy as np
>>> x = np.array([[0.1, -1.0, 3.0, 12.0]], dtype=np.float32)
>>> enc = NVFP4(global_scale=False, block=4).encode(x)
>>> enc.scales, enc.codes   # scale e4m3(12 / 6) = 2 (code 0x40); elements 0.05 -0.5 1.5 6
(array([[64]], dtype=uint8), array([[0, 9, 3, 7]], dtype=uint8))
>>> NVFP4(global_scale=False, block=4).decode(enc)
array([[ 0., -1.,  3., 12.]], dtype=float32)
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .. import exact
from .._arrays import bits_view, dtype_format, float_dtype
from ..catalog import parse_format
from ..kernels import fast_path
from . import device
from ..kernels.params import kernel_params
from ..rounding import Rounding
from .blocked import BlockCodec, Encoded, finite_amax
from .stochastic import moved_rand

#: recipe= names -> kernel recipe ids (see fmtlib.kernels.cpu.nvfp4)
RECIPES = {"torchao": 2, "torchao-0.16": 0, "te": 1}
#: recipe= names -> the releases whose arithmetic each follows, read in their sources
#: (torchao/prototype/mx_formats/nvfp4_tensor.py nvfp4_quantize, 0.12 being torchao's first
#: NVFP4; TransformerEngine common/cast/nvfp4/core_nvfp4.cuh, whose block scale took its
#: present order in 2.14). torchao 0.17 divides without a per-tensor scale ("torchao-0.16")
#: and multiplies with one ("torchao"). The torchao ones are pinned by
#: tests/peers/fixtures/torchao-*_nvfp4, TE's by tests/test_nvfp4.py.
RECIPE_RELEASES = {"torchao": "torchao 0.18", "torchao-0.16": "torchao 0.12 to 0.16",
                   "te": "TransformerEngine 2.14 to 2.18"}
_F32_MAX = float(np.finfo(np.float32).max)
_RECIP_SAFE = np.float32(2.0 ** -120)
_F32_2688 = np.float32(2688.0)   # 448 * 6: E4M3's max times E2M1's


@lru_cache(maxsize=None)
def _value_table(fmt) -> np.ndarray:
    """float32 value of every code of ``fmt`` (exact for e2m1 and e4m3fn)."""
    return np.array([exact.to_float(fmt, c) for c in range(fmt.num_codes)], dtype=np.float32)


class NVFP4(BlockCodec):
    """NVFP4: ``block`` (16) consecutive E2M1 elements along ``axis`` share a UE4M3 scale
    (stored as its e4m3fn byte); with ``global_scale`` a float32 per-tensor scale from the
    tensor's amax lets the block scales use E4M3's whole range.

    ``recipe="torchao"`` follows pytorch/ao 0.18's ``nvfp4_quantize`` (multiply by float32
    reciprocals of the scales); ``recipe="torchao-0.16"`` follows torchao 0.12 to 0.16
    (divide by the scale); ``recipe="te"`` follows NVIDIA TransformerEngine's NVFP4 cast
    (multiply by a float32 reciprocal computed its own way). All run in float32, operation
    for operation; they give different bits in rare cases (docs/nvfp4.md). A block holding
    an inf or NaN gets the NaN scale (0x7F) and decodes to NaN; the tensor amax is taken over
    finite values.

    >>> x = np.zeros((1, 16), np.float32); x[0, :2] = 0.17578125, 0.03662109375
    >>> tuple(int(NVFP4(recipe=r, global_scale=False).encode(x).codes[0, 1]) for r in ("torchao", "torchao-0.16"))
    (3, 2)
    """

    codec_id = "nvfp4"
    name = "nvfp4"

    def __init__(self, *, recipe: str = "torchao", global_scale: bool = True, block: int = 16, axis: int = -1,
                 rounding: Rounding | str = "nearest_even") -> None:
        self._check_block_axis(block, axis)
        if str(recipe).lower() not in RECIPES:
            known = ", ".join(f"{k!r} ({v})" for k, v in RECIPE_RELEASES.items())
            raise ValueError(f"unknown NVFP4 recipe {recipe!r} (known: {known})")
        if not isinstance(global_scale, (bool, np.bool_)):
            raise TypeError(f"global_scale must be True or False, got {global_scale!r}")
        object.__setattr__(self, "recipe", str(recipe).lower())
        object.__setattr__(self, "global_scale", bool(global_scale))
        object.__setattr__(self, "block", block)
        object.__setattr__(self, "axis", axis)
        object.__setattr__(self, "rounding", Rounding.parse(rounding))
        object.__setattr__(self, "element", parse_format("e2m1"))
        object.__setattr__(self, "scale_format", parse_format("e4m3fn"))

    def _config_args(self):
        return (), self._changed(recipe="torchao", global_scale=True, block=16, axis=-1,
                                 rounding=Rounding.NEAREST_EVEN)

    @property
    def bits_per_element(self) -> float:
        """Storage cost: 4 element bits plus the 8-bit block scale shared by a block."""
        return 4 + 8 / self.block

    # -- the per-tensor number ---------------------------------------------------------------
    def _tensor_amax(self, x: np.ndarray, tensor_amax) -> float | None:
        if not self.global_scale:
            if tensor_amax is not None:
                raise ValueError("tensor_amax= needs NVFP4(global_scale=True)")
            return None
        if tensor_amax is None:
            return finite_amax(x)  # exact in float32 for float32/16 and bfloat16 input
        v = float(tensor_amax)
        if not (np.isfinite(v) and v >= 0) or v > _F32_MAX:
            raise ValueError(f"tensor_amax must be a finite float32 >= 0, got {tensor_amax!r}")
        return float(np.float32(v))

    def _global(self, amax: float | None) -> tuple[np.float32, np.float32]:
        """(G, tensor amax for the kernels): torchao's per-tensor scale or TE's S_enc (1 without
        a global scale), and the amax (-1 without one)."""
        if amax is None:
            return np.float32(1.0), np.float32(-1.0)
        a = np.float32(amax)
        if self.recipe != "te":
            # per_tensor_amax_to_scale: amax / (448 * 6) in float32. torchao divides by zero
            # for an all-zero tensor; here that tensor gets the scale 1, as in TE.
            p = a / _F32_2688
            return (p if p > 0 else np.float32(1.0)), a
        with np.errstate(divide="ignore", over="ignore"):
            s_enc = min(_F32_2688 / a, np.float32(_F32_MAX))
        return (np.float32(1.0) if a == 0 or s_enc == 0 else np.float32(s_enc)), a

    def _kernel_recipe(self, G) -> int:
        """The kernels' recipe id for the per-tensor number ``G`` (fmtlib.kernels.cpu.nvfp4).
        torchao 0.18 multiplies by fl32(1 / P); where that overflows (P below 2**-128: a tensor
        amax below 2688 * 2**-128, about 7.9e-36) torchao saturates every nonzero element and
        gives zeros the code of a NaN, so fmtlib divides there as torchao 0.16 did, with the
        same block scales and decode (docs/nvfp4.md)."""
        rid = RECIPES[self.recipe]
        if rid == 2 and G != 1 and G < _RECIP_SAFE:   # 1 / G <= 2**120 above it: finite, no check needed
            with np.errstate(divide="ignore", over="ignore"):
                if not np.isfinite(np.float32(1.0) / np.float32(G)):
                    return RECIPES["torchao-0.16"]
        return rid

    def _tables(self):
        return _value_table(self.element), _value_table(self.scale_format)

    # -- encode / decode ---------------------------------------------------------------------
    # --- the same methods on the GPU (cupy data; called by fmtlib._interop.interop) -------
    def _device_run(self, fused: bool, x, rounding, seed, rbits, rand, index_offset, out, tensor_amax):
        return device.block_out(self.element_code_dtype, out, x, fused,
                                lambda: device.nvfp4_run(self, fused, x, rounding, seed, rbits, tensor_amax,
                                                         index_offset, rand))

    def _device_decode(self, enc, dtype, out):
        return device.into(out, device.nvfp4_decode(self, enc, dtype if out is None else out.dtype))

    def _plan(self, x, fused: bool):
        """``nvfp4_encode_table`` (fused: ``nvfp4_quantize_table``) where the rows are float32 ``x``
        itself and the codec rounds by a table mode (the tensor amax, with a global scale, is
        still taken per call)."""
        from ..kernels.cpu import convert as K

        mode, f32 = int(self.rounding), dtype_format(x.dtype)
        if x.dtype != np.float32 or not self._last_axis(x) or not fast_path.table_eligible(self.element, f32, mode):
            return None
        thr = fast_path.thresholds(self.element, f32, mode)[0]
        consts = (kernel_params(self.scale_format), thr, self._tables()[1])
        shape, axis, block, ncols = x.shape, x.ndim - 1, self.block, x.shape[-1]
        sshape = shape[:-1] + (-(-ncols // block),)
        none = np.empty(1, np.uint8 if fused else x.dtype)

        def run(x, out):   # the table branch of _run
            amax = finite_amax(x) if self.global_scale else None
            G, ta = self._global(amax)
            scales = np.empty(sshape, np.uint8)
            r = np.empty(shape, x.dtype if fused else np.uint8) if out is None else out
            codes, vals = (none, r) if fused else (r, none)
            (K.nvfp4_quantize_table if fused else K.nvfp4_encode_table)(
                x.ravel(), codes.ravel(), scales.ravel(), vals.ravel(), *consts, ncols, block, self._kernel_recipe(G),
                G, ta)
            return r if fused else Encoded(r, scales, shape, axis, block, self.name, amax)
        return run

    def _run(self, x, fused: bool, rounding, seed, rbits, tensor_amax, index_offset=0, out=None, rand=None):
        if rounding is None and seed is None and rbits is None and rand is None and tensor_amax is None \
                and index_offset.__class__ is int and index_offset == 0:
            r = self._plain(x, fused, out)
            if r is not None:
                return r
        from ..kernels.cpu import convert as K

        x, axis, xm = self._rows(x, "quantize" if fused else "encode")
        if xm.dtype == np.float64:
            raise TypeError("NVFP4 recipes compute in float32; convert float64 input first "
                            "(x.astype(np.float32) rounds it)")
        mode, key, rbits, base, rand = self._random(rounding, seed, rbits, index_offset, rand=rand, shape=x.shape)
        amax = self._tensor_amax(xm, tensor_amax)
        G, ta = self._global(amax)
        ncols = xm.shape[-1]
        scales = np.empty(xm.shape[:-1] + (-(-ncols // self.block),), dtype=np.uint8)
        result, codes, out = self._buffers(out, x, xm, fused, np.uint8)  # quantize writes no codes
        src = kernel_params(dtype_format(xm.dtype))
        if xm.dtype == np.float32 and fast_path.table_eligible(self.element, dtype_format(xm.dtype), int(mode)):
            thr = fast_path.thresholds(self.element, dtype_format(xm.dtype), int(mode))[0]
            (K.nvfp4_quantize_table if fused else K.nvfp4_encode_table)(
                xm.reshape(-1), codes.reshape(-1), scales.reshape(-1), out.reshape(-1), kernel_params(self.scale_format),
                thr, self._tables()[1], ncols, self.block, self._kernel_recipe(G), G, ta)
        elif xm.dtype == np.float32 and mode == Rounding.STOCHASTIC and fast_path.mx32_eligible(
                self.element, dtype_format(xm.dtype), int(mode), rand):   # the element lane helpers
            K32, E = fast_path.mx32_constants(self.element, dtype_format(xm.dtype), int(mode), 0)
            (K.nvfp4_quantize_sr if fused else K.nvfp4_encode_sr)(
                xm.reshape(-1), codes.reshape(-1), scales.reshape(-1), out.reshape(-1), kernel_params(self.scale_format),
                K32, E, self._tables()[1], ncols, self.block, self._kernel_recipe(G), G, ta, np.uint64(key), base, rbits)
        else:
            K.nvfp4_encode(bits_view(xm), codes.reshape(-1), scales.reshape(-1), bits_view(out), src, src,
                           kernel_params(self.element), kernel_params(self.scale_format), *self._tables(), ncols,
                           self.block, self._kernel_recipe(G), G, ta, int(mode), np.uint64(key), base, rbits, fused,
                           moved_rand(rand, axis))
        restore = (lambda r: np.moveaxis(r, -1, axis))
        if fused:
            return self._finish(result, out, restore)
        return self._encoded(result, codes, restore, np.moveaxis(scales, -1, axis), x.shape, axis, self.block,
                             self.name, amax)

    def encode(self, x, *, rounding: Rounding | str | None = None, seed: int | None = None,
               rbits: int | None = None, rand=None, tensor_amax: float | None = None, index_offset: int = 0,
               out: np.ndarray | None = None) -> Encoded:
        """E2M1 codes and e4m3fn scale codes of ``x`` (float32, bfloat16, float16); ``out=``
        (x's shape, uint8, C-contiguous) receives the codes, random keywords as :meth:`MX.encode`.

        ``tensor_amax``: a calibrated amax for the global scale (default: max |x| over the
        finite values of ``x``); stored in the record."""
        return self._run(x, False, rounding, seed, rbits, tensor_amax, index_offset, out, rand)

    def quantize(self, x, *, rounding: Rounding | str | None = None, seed: int | None = None,
                 rbits: int | None = None, rand=None, tensor_amax: float | None = None, index_offset: int = 0,
                 out: np.ndarray | None = None) -> np.ndarray:
        """``decode(encode(x))`` in one pass, in ``x``'s dtype; ``out=`` (x's shape and dtype,
        C-contiguous; ``x`` itself works) receives the result."""
        return self._run(x, True, rounding, seed, rbits, tensor_amax, index_offset, out, rand)

    def decode(self, enc: Encoded, dtype=np.float32, *, out: np.ndarray | None = None) -> np.ndarray:
        """Values of a record, by the recipe's float32 arithmetic, then rounded to ``dtype``;
        ``out=`` as :meth:`MX.decode`."""
        from ..kernels.cpu import convert as K

        dt = float_dtype(dtype if out is None else out.dtype)
        codes, scales = self._record_rows(enc)
        self._check_codes(codes, self.element)
        self._check_scale_codes(scales)
        G, ta = self._global(enc.tensor_amax)
        result, rows = self._decode_buffers(out, enc, codes.shape, dt)
        K.nvfp4_decode(codes.reshape(-1), scales.astype(np.uint8, copy=False).reshape(-1), bits_view(rows),
                       kernel_params(dtype_format(dt)), *self._tables(), codes.shape[-1], self.block,
                       self._kernel_recipe(G), G, ta)
        restore = (lambda r: np.moveaxis(r, -1, enc.axis))
        return restore(rows) if result is None else self._finish(result, rows, restore)
