"""The codecs' GPU side: the functions a codec's ``_device_encode``, ``_device_quantize``
and ``_device_decode`` call to run on cupy arrays, on the launches of
:mod:`fmtlib.kernels.gpu` (pure functions on cupy arrays and numbers); they return cupy
arrays or records of them.

A codec never asks where its data lives: :func:`fmtlib._interop.interop`, which wraps every
``encode``/``quantize``/``decode``, sends cupy arrays, CUDA tensors and records of cupy arrays
to the ``_device_`` methods and everything else to the host methods.

Served: ``encode``, ``quantize`` and ``decode`` of ``FP``, ``Int``, ``MX``, ``NVFP4``,
``Scaled``, ``Quantile`` (and, in their own modules, SDR: :mod:`fmtlib.codecs.sdr`; Scaled
with a code book: :mod:`fmtlib.codecs.codebook_scaled`). Other codecs raise a TypeError
naming what to do instead.

>>> import numpy as np
>>> is_device_array(np.zeros(2)), array_module(np.zeros(2)) is np
(False, True)
"""
from __future__ import annotations

import numpy as np

from .._arrays import check_out as host_check_out
from .._backend import array_module, backend, is_device_array  # noqa: F401  (for the codecs' shared helpers)
from ..kernels import fast_path
from ..kernels.gpu import (C_UINT, FLOAT_BITS, block_out, book_on_device, check_out, convert,  # noqa: F401
                           decode_lanes, deliver, encode_launch, f32_fast_constants, fast, finite_amax, float_format,
                           into, launch, mx_launch, params_on_device, raw_bits, table_on_device, values_on_device)
from ..kernels.params import kernel_params


class RunsOnDevice:
    """Mixin of a codec whose encode and quantize on the GPU are one ``_device_run(fused, x,
    **opts)``: ``opts`` are the method's keywords, by name."""

    def _device_encode(self, x, **opts):
        return self._device_run(False, x, **opts)

    def _device_quantize(self, x, **opts):
        return self._device_run(True, x, **opts)


def checked_out(out, src, dtype):
    """``out`` checked for a result of ``dtype`` and ``src``'s shape (:func:`fmtlib._arrays.check_out`;
    for a cupy ``src``, :func:`fmtlib.kernels.gpu.check_out`); None stays None."""
    if out is None:
        return None
    if is_device_array(src):
        return check_out(out, src, dtype)
    return host_check_out(out, src, dtype)


def put(out, values):
    """``values`` itself without ``out``, else ``out`` (checked by :func:`checked_out`) filled
    with them."""
    if out is None:
        return values
    out[...] = values
    return out


# --- codec methods on the GPU ----------------------------------------------------------------

def rand_arg(codec, rand, axis) -> tuple:
    """(rand as the flat int64 device array a block kernel reads, use_rand) for a checked
    ``rand`` of the input's shape (None: a one-element placeholder, 0)."""
    if rand is None:
        return backend().zeros(1, dtype=np.int64), np.int32(0)
    return codec._rand_rows(rand, axis, backend()), np.int32(1)


def element_run(codec, fused: bool, x, rounding, overflow, seed, rbits, rand, index_offset, out):
    """FP/Int ``encode`` (codes) or ``quantize`` (values) of a cupy float array; ``rand``: a
    cupy integer array of x's shape, ``out``: a cupy array to write into (x itself works)."""
    cp = backend()
    res = check_out(out, x, x.dtype if fused else codec.code_dtype)
    mode, ovf, key, rbits, rarr = codec._options(x, rounding, overflow, seed, rbits, rand, index_offset, xp=cp)
    x = cp.ascontiguousarray(x)
    src = raw_bits(x).reshape(-1)
    if res is None:
        res = cp.empty_like(x) if fused else cp.empty(x.shape, dtype=codec.code_dtype)
    dst = raw_bits(res).reshape(-1) if fused else res.reshape(-1)
    src_fmt = float_format(x.dtype)
    if rarr is None and fast_path.eligible(codec.format, src_fmt, codec.flush_subnormals):
        fast(src, dst, src_fmt, codec.format, fused, int(mode), int(ovf), key, int(index_offset), rbits)
        return res
    convert(src, dst, kernel_params(float_format(x.dtype)), kernel_params(codec.format), int(mode), int(ovf), key,
            int(index_offset), rbits, codec.flush_subnormals, codec.flush_subnormals, rarr,
            fused)   # flush: inputs and results, as on the CPU
    return res


def element_decode(codec, codes, dtype, out=None):
    """FP/Int ``decode`` of a cupy code array (into ``out``, a cupy array, when given)."""
    from .._arrays import float_dtype
    from ..rounding import Overflow, Rounding

    cp = backend()
    dt = float_dtype(dtype)
    if dt not in FLOAT_BITS:
        raise TypeError(f"the GPU backend decodes to float16/32/64, got {dt}")
    if np.dtype(codes.dtype).kind not in "iu":
        raise TypeError(f"codes must be an integer array, got {codes.dtype}")
    res = check_out(out, codes, dt)
    c = cp.ascontiguousarray(codes)
    if c.size and (int(c.min()) < 0 or int(c.max()) >= codec.format.num_codes):
        raise ValueError(f"codes out of range for {codec.format} ({codec.format.num_codes} codes)")
    res = cp.empty(c.shape, dtype=dt) if res is None else res
    src = c.astype(np.dtype(f"u{c.dtype.itemsize}"), copy=False).reshape(-1)
    out_fmt = float_format(dt)
    if not codec.flush_subnormals and fast_path.decode32_eligible(codec.format, out_fmt):   # as the CPU's FP.decode
        decode_lanes(src, raw_bits(res).reshape(-1), codec.format, out_fmt)
        return res
    convert(src, raw_bits(res).reshape(-1), kernel_params(codec.format), kernel_params(float_format(dt)),
            int(Rounding.NEAREST_EVEN), int(Overflow.IEEE), 0, 0, 1, codec.flush_subnormals, False)
    return res


def _block_setup(codec, x, fused: bool):
    """(axis, x with the blocked axis last, ncols, number of blocks, codes, scales, out) for a
    block encode: codes (or, fused, the output values) and one uint8 scale per block."""
    cp = backend()
    if x.ndim == 0:
        raise ValueError(f"{type(codec).__name__} needs an array with at least one dimension")
    axis = codec._axis(x.ndim)
    xm = cp.ascontiguousarray(cp.moveaxis(x, axis, -1))
    ncols = xm.shape[-1]
    nb = -(-ncols // codec.block)
    nblocks = (xm.size // ncols) * nb if ncols else 0
    scales = cp.empty(xm.shape[:-1] + (nb,), dtype=np.uint8)
    codes = cp.empty(xm.shape if not fused else (1,), dtype=np.uint8)
    out = cp.empty_like(xm) if fused else cp.empty(1, dtype=xm.dtype)
    return axis, xm, ncols, nblocks, codes, scales, out


def _block_result(codec, x, fused: bool, axis: int, codes, scales, out, amax):
    """The fused values in x's shape and layout (as on the CPU), or the Encoded record."""
    from .records import Encoded

    cp = backend()
    if fused:
        return cp.ascontiguousarray(cp.moveaxis(out, -1, axis))
    return Encoded(cp.moveaxis(codes, -1, axis), cp.moveaxis(scales, -1, axis), tuple(x.shape), axis, codec.block,
                   codec.name, amax)


def scaled_run(codec, fused: bool, x, rounding, seed, rbits, tensor_amax, index_offset, rand=None):
    """``Scaled`` ``encode`` (an Encoded record of cupy arrays) or fused ``quantize``, per block,
    channel (``block=None``) or tensor (``axis=None``): e8m0 scales through the MX kernels
    with the codec's element and scale rule, float scales through the long-division kernels."""
    from .records import Encoded

    cp = backend()
    if x.ndim == 0:
        raise ValueError("Scaled needs an array with at least one dimension")
    axis, xm, block = codec._layout(x, cp)
    mode, key, rbits, base, rand = codec._random(rounding, seed, rbits, index_offset, codec._max_rbits(), rand,
                                                 tuple(x.shape), cp)
    rand = rand_arg(codec, rand, axis)
    ncols = xm.shape[-1]
    nb = -(-ncols // block)
    nblocks = (xm.size // ncols) * nb if ncols else 0
    codes = cp.empty(xm.shape if not fused else (1,), dtype=codec.element.code_dtype)
    out = cp.empty_like(xm) if fused else cp.empty(1, dtype=xm.dtype)
    amax = None
    per_tensor = axis is None and ncols > 0   # one scale: an amax reduction, then a thread per element
    if codec._pow2:
        if tensor_amax is not None:
            raise ValueError("tensor_amax= needs global_scale=True")
        scales = cp.zeros(xm.shape[:-1] + (max(nb, 1) if axis is None else nb,), dtype=np.uint8)  # empty: scale 0
        mx_launch(xm, codes, scales, out, nblocks, block, codec.element, codec._pow2_params(), mode, key, base,
                  rbits, fused, rand, per_tensor)
    else:
        amax, R = codec._global(None, tensor_amax if tensor_amax is not None or not codec.global_scale
                                else finite_amax(xm))
        smin = codec._smin_code()
        scales = cp.full(xm.shape[:-1] + (max(nb, 1) if axis is None else nb,), smin, dtype=np.uint32)
        bad = cp.zeros(1, dtype=np.uint64)
        name, threads, span = encode_launch("scaled", xm, codes, nblocks, block, per_tensor)
        launch("tensor.cu" if per_tensor else "scaled.cu", name, threads,
               (raw_bits(xm).reshape(-1), codes.reshape(-1), scales.reshape(-1), raw_bits(out).reshape(-1), *span,
                params_on_device(kernel_params(float_format(xm.dtype))),
                params_on_device(kernel_params(codec.element)), params_on_device(kernel_params(codec.scale_format)),
                params_on_device(tuple(R)), np.int64(smin),
                np.int32(int(mode)), np.uint64(key), np.int64(base), np.int32(rbits), np.int32(fused), bad,
                *rand))
        codec._raise_bad_scales(int(bad[0]))
        scales = scales.astype(codec.scale_format.code_dtype)
    if fused:
        return cp.ascontiguousarray(out.reshape(x.shape) if axis is None else cp.moveaxis(out, -1, axis))
    if axis is None:
        return Encoded(codes.reshape(x.shape), scales.reshape(1), tuple(x.shape), None, block, codec.name, amax)
    return Encoded(cp.moveaxis(codes, -1, axis), cp.moveaxis(scales, -1, axis), tuple(x.shape), axis, block,
                   codec.name, amax)


def scaled_decode(codec, enc, dtype):
    """``Scaled`` ``decode`` of an Encoded record holding cupy arrays."""
    if codec._pow2:
        return _mx_decode_record(codec, enc, dtype, codec.element, 0)
    dt, codes, scales, ncols, res = _record_setup(codec, enc, dtype, codec.element.num_codes,
                                                  codec.element.code_dtype, codec.scale_format.num_codes)
    _, R = codec._global(None, enc.tensor_amax)
    launch("scaled.cu", f"fmt_scaled_decode<{C_UINT[codes.dtype.itemsize]}, {C_UINT[dt.itemsize]}>", codes.size,
           (codes.reshape(-1), scales.astype(np.uint32).reshape(-1), raw_bits(res).reshape(-1), np.int64(codes.size),
            np.int64(ncols), np.int64(enc.block), params_on_device(kernel_params(codec.element)),
            params_on_device(kernel_params(codec.scale_format)),
            params_on_device(kernel_params(float_format(dt))), params_on_device(tuple(R))))
    return restore_layout(res, enc)


def mx_run(codec, fused: bool, x, rounding, seed, rbits, index_offset, rand=None):
    """MX ``encode`` (an Encoded record of cupy arrays) or fused ``quantize`` of a cupy array,
    blocks along the codec's axis; ``rand``: a cupy integer array of x's shape."""
    axis, xm, ncols, nblocks, codes, scales, out = _block_setup(codec, x, fused)
    mode, key, rbits, base, rand = codec._random(rounding, seed, rbits, index_offset, rand=rand, shape=tuple(x.shape),
                                                 xp=backend())
    mx_launch(xm, codes, scales, out, nblocks, codec.block, codec.element, codec._scale_params, mode, key, base,
              rbits, fused, rand_arg(codec, rand, axis))
    return _block_result(codec, x, fused, axis, codes, scales, out, None)


def record_rows(codec, enc, scale_codes: int = 256, scale_name=None):
    """(codes, scales) of a record of cupy arrays with the blocked axis last (one row for
    ``axis=None``), checked by the codec (:meth:`BlockCodec._record_rows`) and for scale codes
    below ``scale_codes`` (one-byte scales come back as uint8)."""
    codes, scales = codec._record_rows(enc)
    if scales.size and (int(scales.min()) < 0 or int(scales.max()) >= scale_codes):
        bad = int(scales.max()) if int(scales.min()) >= 0 else int(scales.min())
        raise ValueError(f"scale code {bad} out of range for {scale_name or codec.scale_format}")
    return codes, scales.astype(np.uint8, copy=False) if scale_codes <= 256 else scales


def restore_layout(res, enc):
    """A decode's rows (blocked axis last) in the record's shape and layout."""
    return res.reshape(enc.shape) if enc.axis is None else backend().moveaxis(res, -1, enc.axis)


def _record_setup(codec, enc, dtype, n_codes: int, code_dtype="uint8", scale_codes: int = 256):
    """(output dtype, codes and scales with the blocked axis last, ncols, the output array) for
    a block decode, after checking the record against the codec (:func:`record_rows`) and its
    codes against ``n_codes``."""
    from .._arrays import float_dtype

    cp = backend()
    dt = float_dtype(dtype)
    if dt not in FLOAT_BITS:
        raise TypeError(f"the GPU backend decodes to float16/32/64, got {dt}")
    codes, scales = record_rows(codec, enc, scale_codes)
    if codes.size and (int(codes.min()) < 0 or int(codes.max()) >= n_codes):
        raise ValueError(f"codes out of range for {codec.name} ({n_codes} codes)")
    return dt, codes.astype(np.dtype(code_dtype), copy=False), scales, codes.shape[-1], cp.empty(codes.shape, dtype=dt)


def mx_decode(codec, enc, dtype):
    """MX ``decode`` of an Encoded record holding cupy arrays."""
    return _mx_decode_record(codec, enc, dtype, codec._decoded_element, codec._scale_params[4])


def _mx_decode_record(codec, enc, dtype, elem, eshift: int):
    """Elements (format ``elem``) times their e8m0 block scales, as ``dtype``."""
    dt, codes, scales, ncols, res = _record_setup(codec, enc, dtype, elem.num_codes, elem.code_dtype)
    launch("mx.cu", f"fmt_mx_decode<{C_UINT[codes.dtype.itemsize]}, {C_UINT[dt.itemsize]}>", codes.size,
           (codes.reshape(-1), scales.reshape(-1), raw_bits(res).reshape(-1), np.int64(codes.size), np.int64(ncols),
            np.int64(enc.block), params_on_device(kernel_params(elem)),
            params_on_device(kernel_params(float_format(dt))), np.int32(eshift)))
    return restore_layout(res, enc)


def nvfp4_run(codec, fused: bool, x, rounding, seed, rbits, tensor_amax, index_offset, rand=None):
    """NVFP4 ``encode`` (an Encoded record of cupy arrays) or fused ``quantize`` of a cupy array."""
    if np.dtype(x.dtype) == np.float64:
        raise TypeError("NVFP4 recipes compute in float32; convert float64 input first")
    axis, xm, ncols, nblocks, codes, scales, out = _block_setup(codec, x, fused)
    mode, key, rbits, base, rand = codec._random(rounding, seed, rbits, index_offset, rand=rand, shape=tuple(x.shape),
                                                 xp=backend())
    if tensor_amax is not None or not codec.global_scale:
        amax = codec._tensor_amax(None, tensor_amax)    # checks it; None without a global scale
    else:   # the finite amax, exact in float32
        amax = finite_amax(xm)
    G, ta = codec._global(amax)
    ev, sv = codec._tables()
    Ps = kernel_params(float_format(xm.dtype))
    launch("nvfp4.cu", f"fmt_nvfp4_encode<{C_UINT[xm.dtype.itemsize]}>", 16 * nblocks,  # 16 lanes each
           (raw_bits(xm).reshape(-1), codes.reshape(-1), scales.reshape(-1), raw_bits(out).reshape(-1), np.int64(nblocks),
            np.int64(ncols), np.int64(codec.block), params_on_device(Ps), params_on_device(Ps),
            params_on_device(kernel_params(codec.element)), params_on_device(kernel_params(codec.scale_format)),
            table_on_device(ev), table_on_device(sv), np.int32(codec._kernel_recipe(G)), np.float32(G),
            np.float32(ta), np.int32(int(mode)), np.uint64(key), np.int64(base), np.int32(rbits), np.int32(fused),
            *rand_arg(codec, rand, axis), *f32_fast_constants(codec.element, int(mode))))
    return _block_result(codec, x, fused, axis, codes, scales, out, amax)


def nvfp4_decode(codec, enc, dtype):
    """NVFP4 ``decode`` of an Encoded record holding cupy arrays (float32 arithmetic, then dtype)."""
    dt, codes, scales, ncols, res = _record_setup(codec, enc, dtype, 16)
    G, ta = codec._global(enc.tensor_amax)
    ev, sv = codec._tables()
    launch("nvfp4.cu", f"fmt_nvfp4_decode<{C_UINT[dt.itemsize]}>", codes.size,
           (codes.reshape(-1), scales.reshape(-1), raw_bits(res).reshape(-1), np.int64(codes.size), np.int64(ncols),
            np.int64(codec.block), params_on_device(kernel_params(float_format(dt))), table_on_device(ev),
            table_on_device(sv), np.int32(codec._kernel_recipe(G)), np.float32(G), np.float32(ta)))
    return restore_layout(res, enc)


def quantile_run(q, fused: bool, x, rounding, seed, rbits, rand, index_offset, out=None):
    """Quantile ``encode`` (codes) or ``quantize`` (level values in x's dtype) of a cupy float
    array; ``rand``, ``out``: cupy arrays as in :func:`element_run`."""
    cp = backend()
    res = check_out(out, x, x.dtype if fused else q.code_dtype)
    x = cp.ascontiguousarray(x)
    src = raw_bits(x).reshape(-1)
    mode = q._mode_id(rounding)
    key, rbits, rarr = q._random(mode, x, seed, rbits, rand, index_offset, xp=cp)
    r = rarr if rarr is not None else cp.zeros(1, dtype=np.int64)
    d, t, nlev, nan_index, code_of = book_on_device(q, mode)
    if res is None:
        res = cp.empty_like(x) if fused else cp.empty(x.shape, dtype=q.code_dtype)
    if fused:
        vals = cp.asarray(q.value_table(x.dtype)[list(q.codes)].view(FLOAT_BITS[np.dtype(x.dtype)]))
    else:
        vals = cp.zeros(1, dtype=src.dtype)
    codes = res.reshape(-1) if not fused else cp.empty(1, dtype=q.code_dtype)
    out = raw_bits(res).reshape(-1) if fused else cp.empty(1, dtype=src.dtype)
    launch("codebook.cu", f"fmt_quantile_encode<{C_UINT[src.dtype.itemsize]}, {C_UINT[q.code_dtype.itemsize]}>",
           src.size, (src, codes, out, np.int64(src.size), params_on_device(kernel_params(float_format(x.dtype))),
                      d, t, np.int64(nlev), np.int64(nan_index), code_of, vals, np.int32(mode), np.uint64(key),
                      np.int64(index_offset), np.int32(rbits), r, np.int32(rarr is not None), np.int32(fused)))
    return res


def book_decode(q, codes, scales, ncols: int, block: int, absmax: bool, dtype):
    """Values of code-book codes (cupy, blocked axis last) times their float32 block scales
    (``scales`` None: none), as ``dtype``; ValueError for codes the table does not use."""
    from .._arrays import float_dtype

    cp = backend()
    dt = float_dtype(dtype)
    if dt not in FLOAT_BITS:
        raise TypeError(f"the GPU backend decodes to float16/32/64, got {dt}")
    c = cp.ascontiguousarray(codes)
    if np.dtype(c.dtype).kind not in "iu":
        raise TypeError(f"codes must be an integer array, got dtype {c.dtype}")
    if c.size and (int(c.min()) < 0 or int(c.max()) >= q.num_codes):
        lo = int(c.min())
        raise ValueError(f"code {lo if lo < 0 else int(c.max())} out of range for {q.bits}-bit codes")
    c = c.astype(q.code_dtype, copy=False)
    res = cp.empty(c.shape, dtype=dt)
    bad = cp.zeros(1, dtype=np.uint64)
    sc = cp.zeros(1, dtype=np.uint32) if scales is None else cp.ascontiguousarray(scales).reshape(-1)
    launch("codebook.cu", f"fmt_book_decode<{C_UINT[c.dtype.itemsize]}, {C_UINT[dt.itemsize]}>", c.size,
           (c.reshape(-1), sc, raw_bits(res).reshape(-1), np.int64(c.size), np.int64(max(ncols, 1)), np.int64(block),
            values_on_device(q), np.int64(q.num_codes), np.int32(absmax), np.int32(scales is not None),
            params_on_device(kernel_params(float_format(dt))), bad))
    if int(bad[0]):
        raise ValueError(f"{int(bad[0])} code(s) not used by this table")
    return res


def quantile_decode(q, codes, dtype, out=None):
    """Quantile ``decode`` of a cupy code array (into ``out``, a cupy array, when given)."""
    return into(out, book_decode(q, codes, None, 1, 1, False, dtype))
