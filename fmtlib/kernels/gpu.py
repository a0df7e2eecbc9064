"""The GPU backend: CUDA kernels compiled from ``fmtlib/kernels/cuda/`` once per
process, and the codec methods they serve.

A codec method given a cupy array (or a CUDA tensor, through DLPack) runs here and returns a
cupy array; the kernels use the same scalar code as the host build that the tests check
against the Numba kernels (:mod:`fmtlib.kernels.cuda_host`). cupy stays optional: importing
fmtlib never imports it.

Served so far: ``encode``, ``quantize`` and ``decode`` of ``FP``, ``Int``, ``MX``, ``NVFP4``,
``Scaled`` with e8m0 scales and ``SDR``. Other codecs raise a TypeError naming what to do instead.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from . import fast_path, gpu_build
from .cuda_host import CUDA_DIR
from .params import kernel_params

_THREADS = 256
#: thread blocks of a launch at most (a million threads, several waves on any current GPU); the
#: kernels' grid-stride loops take the rest, so a thread's setup (loading the formats' numbers)
#: is paid once for many elements, not once per element (a test may lower it)
MAX_BLOCKS = 4096
_UINT = {1: "uint8_t", 2: "uint16_t", 4: "uint32_t", 8: "uint64_t"}
_FLOAT_BITS = {np.dtype(np.float16): np.uint16, np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}


def backend():
    """The cupy module (TypeError if cupy is not installed)."""
    try:
        import cupy
    except ImportError:   # pragma: no cover - depends on the machine
        raise TypeError("cupy arrays need cupy: pip install 'fmtlib[gpu]'") from None
    return cupy


def is_device_array(x) -> bool:
    """Whether ``x`` is a cupy array (checked by module name: cupy is never imported for it)."""
    return type(x).__module__.split(".")[0] == "cupy"


def array_module(a):
    """cupy for a cupy array, else numpy."""
    return backend() if is_device_array(a) else np


_FLOATS = ("uint16_t", "uint32_t", "uint64_t")


def _names(source: str) -> list[str]:
    if source == "convert.cu":
        return [f"fmt_convert<{s}, {d}>" for s in _UINT.values() for d in _UINT.values()]
    if source == "fast.cu":
        return [f"fmt_fast<{s}, {d}>" for s in _FLOATS for d in _UINT.values()]
    if source == "mx.cu":
        codes = ("uint8_t", "uint16_t", "uint32_t")
        return [f"fmt_mx_encode<{t}, {c}>" for t in _FLOATS for c in codes] + [
            f"fmt_mx_encode_fast<{t}, {c}>" for t in _FLOATS for c in codes[:2]] + [
            f"fmt_mx_decode<{c}, {t}>" for t in _FLOATS for c in codes]
    if source == "scaled.cu":
        codes = ("uint8_t", "uint16_t", "uint32_t")
        return [f"fmt_scaled_encode<{t}, {c}>" for t in _FLOATS for c in codes] + [
            f"fmt_scaled_decode<{c}, {t}>" for t in _FLOATS for c in codes]
    if source == "codebook.cu":
        names = []
        for c in ("uint8_t", "uint16_t"):
            names += [f"fmt_quantile_encode<{t}, {c}>" for t in _FLOATS]
            names += [f"fmt_book_scaled_encode<{t}, {c}>" for t in _FLOATS]
            names += [f"fmt_book_decode<{c}, {t}>" for t in _FLOATS]
            names.append(f"fmt_book_absmax_encode<{c}>")
        return names
    if source == "packing.cu":
        return [f"fmt_stream_{op}<{c}>" for op in ("pack", "unpack") for c in _UINT.values()]
    if source == "tensor.cu":
        codes = ("uint8_t", "uint16_t", "uint32_t")
        return ([f"fmt_amax_bits<{t}>" for t in _FLOATS]
                + [f"fmt_{k}_encode_tensor<{t}, {c}>" for k in ("mx", "scaled") for t in _FLOATS for c in codes]
                + [f"fmt_book_scaled_encode_tensor<{t}, {c}>" for t in _FLOATS for c in codes[:2]]
                + [f"fmt_book_absmax_encode_tensor<{c}>" for c in codes[:2]])
    if source == "sdr.cu":
        return [f"fmt_sdr<{c}>" for c in ("uint8_t", "uint16_t")] + [
            f"fmt_sdr_decode<{c}>" for c in ("uint8_t", "uint16_t")]
    return [f"fmt_nvfp4_encode<{t}>" for t in _FLOATS] + [f"fmt_nvfp4_decode<{t}>" for t in _FLOATS]


@lru_cache(maxsize=None)
def module(source: str):
    """The compiled module of one source file, built once per process by
    :func:`fmtlib.kernels.gpu_build.build` (NVRTC without CuPy's ``-ftz=true``, no FMA contraction:
    float32 recipes must round every operation and keep subnormals, as the CPU does)."""
    return gpu_build.build(backend(), source, _names(source))


def _launch(source: str, name: str, n: int, args: tuple) -> None:
    """Launch ``name`` with (at least) n threads, 256 per thread block (a multiple of 32, as the
    lane-group kernels need), in grid-stride loops."""
    if n == 0:
        return
    fn = module(source).get_function(name)
    blocks = max(1, min(-(-n // _THREADS), MAX_BLOCKS))
    fn((blocks,), (_THREADS,), args)


@lru_cache(maxsize=None)
def _params_on_device(params: tuple):
    return backend().asarray(np.asarray(params, dtype=np.int64))


def _bits(x):
    """The unsigned-integer view of a contiguous cupy float array."""
    dt = np.dtype(x.dtype)
    if dt not in _FLOAT_BITS:
        raise TypeError(f"the GPU backend takes float16/32/64 cupy arrays, got {dt}")
    return x.view(_FLOAT_BITS[dt])


def check_out(out, x, dtype):
    """``out`` checked as on the CPU (:func:`fmtlib._arrays.check_out`), on the device: a cupy
    array of ``dtype`` and x's shape, C-contiguous, and either x itself or not overlapping it;
    None stays None."""
    if out is None:
        return None
    if not is_device_array(out):
        raise TypeError(f"out must be a cupy array for cupy input, got {type(out).__name__}")
    dtype = np.dtype(dtype)
    if np.dtype(out.dtype) != dtype or tuple(out.shape) != tuple(x.shape):
        raise ValueError(f"out must have dtype {dtype} and shape {tuple(x.shape)}; got {out.dtype} {tuple(out.shape)}")
    if not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous")
    same = (out.__cuda_array_interface__["data"][0] == x.__cuda_array_interface__["data"][0]
            and out.dtype.itemsize == x.dtype.itemsize)
    if not same and backend().may_share_memory(out, x):
        raise ValueError("out overlaps the input without being the input itself")
    return out


def deliver(out, x, run):
    """``run()``'s result (a fused quantize in x's dtype and shape), copied into ``out`` when
    one is given (checked first: the result is computed only for a valid ``out``)."""
    if check_out(out, x, x.dtype) is None:
        return run()
    out[...] = run()
    return out


def into(out, result):
    """``result`` (a device array), or ``out`` (a cupy array of its dtype and shape,
    C-contiguous) filled with it: ``out=`` of a device decode."""
    if out is None:
        return result
    if not is_device_array(out):
        raise TypeError(f"out must be a cupy array for a record on the device, got {type(out).__name__}")
    if np.dtype(out.dtype) != np.dtype(result.dtype) or tuple(out.shape) != tuple(result.shape):
        raise ValueError(f"out must have dtype {result.dtype} and shape {tuple(result.shape)}; got {out.dtype} "
                         f"{tuple(out.shape)}")
    if not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous")
    out[...] = result
    return out


def block_out(code_dtype, out, x, fused: bool, run):
    """A record codec's device result with ``out=``: quantize's values (:func:`deliver`), or
    encode's record with its codes copied into ``out`` (x's shape, ``code_dtype``; checked
    first)."""
    if fused:
        return deliver(out, x, run)
    if check_out(out, x, code_dtype) is None:
        return run()
    import dataclasses

    rec = run()
    out[...] = rec.codes
    return dataclasses.replace(rec, codes=out)


def _rand_arg(codec, rand, axis) -> tuple:
    """(rand as the flat int64 device array a block kernel reads, use_rand) for a checked
    ``rand`` of the input's shape (None: a one-element placeholder, 0)."""
    if rand is None:
        return backend().zeros(1, dtype=np.int64), np.int32(0)
    return codec._rand_rows(rand, axis, backend()), np.int32(1)


def _float_format(dt):
    from .._arrays import dtype_format

    return dtype_format(np.dtype(dt))


def convert(src, out, Psrc: tuple, Pdst: tuple, mode: int, overflow: int, key: int, base: int, rbits: int,
            daz: bool = False, ftz: bool = False, rand=None, fused: bool = False) -> None:
    """out[i] = the code of src[i] (format Psrc) in format Pdst (unsigned views of any width);
    with ``fused``, src[i] rounded into Pdst and back into Psrc (out the same width as src).
    Stochastic bits from fmtlib-rng-v1, or ``rand[i]`` (a flat device integer array)."""
    cp = backend()
    r = cp.zeros(1, dtype=np.int64) if rand is None else rand.astype(np.int64, copy=False).reshape(-1)
    _launch("convert.cu", f"fmt_convert<{_UINT[src.dtype.itemsize]}, {_UINT[out.dtype.itemsize]}>", src.size,
            (src, out, np.int64(src.size), _params_on_device(Psrc), _params_on_device(Pdst), np.int32(mode),
             np.int32(overflow), np.uint64(key), np.int64(base), np.int32(rbits), np.int32(daz), np.int32(ftz), r,
             np.int32(rand is not None), np.int32(fused)))


def fast(src, out, src_fmt, fmt, fused: bool, mode: int, overflow: int, key: int, base: int, rbits: int) -> None:
    """The fast path (fast.cu, fmt_fast.cuh) where the CPU takes its own (fast_path.eligible):
    out[i] = src[i] (float bits of ``src_fmt``) quantized into ``fmt`` (``fused``: input bits
    back, out the same width as src) or encoded (codes). Stochastic bits from fmtlib-rng-v1.
    The constants are the CPU's (fast_path.constants, code_constants), passed by value."""
    C, special = fast_path.constants(fmt, src_fmt, int(mode), int(overflow))
    D = (0,) * 8 if fused else fast_path.code_constants(fmt, src_fmt)
    _launch("fast.cu", f"fmt_fast<{_UINT[src.dtype.itemsize]}, {_UINT[out.dtype.itemsize]}>", -(-src.size // 4),
            (src, out, np.int64(src.size), *(np.int64(c) for c in C), *(np.int64(v) for v in special),
             np.int32(not fused), *(np.int64(d) for d in D), np.int32(mode), np.uint64(key), np.int64(base),
             np.int32(rbits)))


# --- codec methods ---------------------------------------------------------------------------

def element_run(codec, fused: bool, x, rounding, overflow, seed, rbits, rand, index_offset, out):
    """FP/Int ``encode`` (codes) or ``quantize`` (values) of a cupy float array; ``rand``: a
    cupy integer array of x's shape, ``out``: a cupy array to write into (x itself works)."""
    cp = backend()
    res = check_out(out, x, x.dtype if fused else codec.code_dtype)
    mode, ovf, key, rbits, rarr = codec._options(x, rounding, overflow, seed, rbits, rand, index_offset, xp=cp)
    x = cp.ascontiguousarray(x)
    src = _bits(x).reshape(-1)
    if res is None:
        res = cp.empty_like(x) if fused else cp.empty(x.shape, dtype=codec.code_dtype)
    dst = _bits(res).reshape(-1) if fused else res.reshape(-1)
    src_fmt = _float_format(x.dtype)
    if rarr is None and fast_path.eligible(codec.format, src_fmt, codec.flush_subnormals):
        fast(src, dst, src_fmt, codec.format, fused, int(mode), int(ovf), key, int(index_offset), rbits)
        return res
    convert(src, dst, kernel_params(_float_format(x.dtype)), kernel_params(codec.format), int(mode), int(ovf), key,
            int(index_offset), rbits, codec.flush_subnormals, codec.flush_subnormals, rarr,
            fused)   # flush: inputs and results, as on the CPU
    return res


def element_decode(codec, codes, dtype, out=None):
    """FP/Int ``decode`` of a cupy code array (into ``out``, a cupy array, when given)."""
    from .._arrays import float_dtype
    from ..rounding import Overflow, Rounding

    cp = backend()
    dt = float_dtype(dtype)
    if dt not in _FLOAT_BITS:
        raise TypeError(f"the GPU backend decodes to float16/32/64, got {dt}")
    if np.dtype(codes.dtype).kind not in "iu":
        raise TypeError(f"codes must be an integer array, got {codes.dtype}")
    res = check_out(out, codes, dt)
    c = cp.ascontiguousarray(codes)
    if c.size and (int(c.min()) < 0 or int(c.max()) >= codec.format.num_codes):
        raise ValueError(f"codes out of range for {codec.format} ({codec.format.num_codes} codes)")
    res = cp.empty(c.shape, dtype=dt) if res is None else res
    src = c.astype(np.dtype(f"u{c.dtype.itemsize}"), copy=False).reshape(-1)
    convert(src, _bits(res).reshape(-1), kernel_params(codec.format), kernel_params(_float_format(dt)),
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
    from ..codecs.blocked import Encoded

    cp = backend()
    if fused:
        return cp.ascontiguousarray(cp.moveaxis(out, -1, axis))
    return Encoded(cp.moveaxis(codes, -1, axis), cp.moveaxis(scales, -1, axis), tuple(x.shape), axis, codec.block,
                   codec.name, amax)


def _mx_launch(xm, codes, scales, out, nblocks: int, block: int, elem, S: tuple, mode, key: int, base: int,
               rbits: int, fused: bool, rand: tuple, per_tensor: bool = False) -> None:
    """MX blocks, a warp per block (fmt_mx_encode_fast where the CPU takes mx_encode_fast, else
    fmt_mx_encode); ``per_tensor``: xm is one block (one row), encoded by
    fmt_amax_bits and then fmt_mx_encode_tensor over every element (:func:`_per_tensor`);
    ``rand``: the kernels' (rand, use_rand) arguments (:func:`_rand_arg`)."""
    rule, emax, mbits, M, eshift = S
    src_fmt = _float_format(xm.dtype)
    if (not per_tensor and eshift == 0 and codes.dtype.itemsize <= 2
            and fast_path.mx_eligible(elem, src_fmt)):   # the CPU's mx_encode_fast, on the device
        from ..rounding import Overflow

        C, special = fast_path.constants(elem, src_fmt, int(mode), int(Overflow.SATURATE))
        fc = (*C, *special, *fast_path.code_constants(elem, src_fmt))
        _launch("mx.cu", f"fmt_mx_encode_fast<{_UINT[xm.dtype.itemsize]}, {_UINT[codes.dtype.itemsize]}>",
                32 * nblocks, (_bits(xm).reshape(-1), codes.reshape(-1), scales.reshape(-1), _bits(out).reshape(-1),
                               np.int64(nblocks), np.int64(xm.shape[-1]), np.int64(block),
                               _params_on_device(kernel_params(src_fmt)), _params_on_device(kernel_params(elem)),
                               _params_on_device(tuple(int(v) for v in fc)), np.int32(rule), np.int32(emax),
                               np.int32(mbits), np.float64(M), np.int32(int(mode)), np.uint64(key), np.int64(base),
                               np.int32(rbits), np.int32(fused), *rand))
        return
    name, threads, span = _per_tensor("mx", xm, codes, nblocks, block, per_tensor)
    _launch("tensor.cu" if per_tensor else "mx.cu", name, threads,
            (_bits(xm).reshape(-1), codes.reshape(-1), scales.reshape(-1), _bits(out).reshape(-1), *span,
             _params_on_device(kernel_params(_float_format(xm.dtype))),
             _params_on_device(kernel_params(elem)), np.int32(rule), np.int32(emax), np.int32(mbits), np.float64(M),
             np.int32(eshift), np.int32(int(mode)), np.uint64(key), np.int64(base), np.int32(rbits), np.int32(fused),
             *rand))


#: thread blocks of fmt_amax_bits at most: enough to fill a GPU, few atomics (a grid-stride loop does the rest)
_AMAX_BLOCKS = 1024


def _amax_bits(x, finite: bool = False):
    """The largest magnitude bits of a contiguous cupy float array (``finite``: of its finite
    values; 0 if none) in a one-element device uint64 array, by the fmt_amax_bits reduction."""
    cp = backend()
    src = _bits(x).reshape(-1)
    amax = cp.zeros(1, dtype=np.uint64)
    _launch("tensor.cu", f"fmt_amax_bits<{_UINT[src.dtype.itemsize]}>", min(src.size, _THREADS * _AMAX_BLOCKS),
            (src, np.int64(src.size), _params_on_device(kernel_params(_float_format(x.dtype))), np.int32(finite),
             amax))
    return amax


def _per_tensor(kind: str, xm, codes, nblocks: int, block: int, per_tensor: bool):
    """(kernel name, threads, the span arguments) of a block encode (``fmt_{kind}_encode``: a
    warp per block; nblocks, ncols, block) or, ``per_tensor``, of one block over the whole of
    ``xm`` (``fmt_{kind}_encode_tensor``: an amax reduction first, then a thread per element;
    n and the amax)."""
    types = f"<{_UINT[xm.dtype.itemsize]}, {_UINT[codes.dtype.itemsize]}>"
    if per_tensor:
        return f"fmt_{kind}_encode_tensor{types}", xm.size, (np.int64(xm.size), _amax_bits(xm))
    return f"fmt_{kind}_encode{types}", 32 * nblocks, (np.int64(nblocks), np.int64(xm.shape[-1]), np.int64(block))


def _finite_amax(x) -> float:
    """The largest finite magnitude of a contiguous cupy float array (0.0 if none), exact."""
    if x.size == 0:
        return 0.0
    bits = np.array(int(_amax_bits(x, finite=True)[0]), dtype=_FLOAT_BITS[np.dtype(x.dtype)])
    return float(bits.view(np.dtype(x.dtype)))


def scaled_run(codec, fused: bool, x, rounding, seed, rbits, tensor_amax, index_offset, rand=None):
    """``Scaled`` ``encode`` (an Encoded record of cupy arrays) or fused ``quantize``, per block,
    channel (``block=None``) or tensor (``axis=None``): e8m0 scales through the MX kernels
    with the codec's element and scale rule, float scales through the long-division kernels."""
    from ..codecs.blocked import Encoded

    cp = backend()
    if x.ndim == 0:
        raise ValueError("Scaled needs an array with at least one dimension")
    axis, xm, block = codec._layout(x, cp)
    mode, key, rbits, base, rand = codec._random(rounding, seed, rbits, index_offset, codec._max_rbits(), rand,
                                                 tuple(x.shape), cp)
    rand = _rand_arg(codec, rand, axis)
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
        _mx_launch(xm, codes, scales, out, nblocks, block, codec.element, codec._pow2_params(), mode, key, base,
                   rbits, fused, rand, per_tensor)
    else:
        amax, R = codec._global(None, tensor_amax if tensor_amax is not None or not codec.global_scale
                                else _finite_amax(xm))
        smin = codec._smin_code()
        scales = cp.full(xm.shape[:-1] + (max(nb, 1) if axis is None else nb,), smin, dtype=np.uint32)
        bad = cp.zeros(1, dtype=np.uint64)
        name, threads, span = _per_tensor("scaled", xm, codes, nblocks, block, per_tensor)
        _launch("tensor.cu" if per_tensor else "scaled.cu", name, threads,
                (_bits(xm).reshape(-1), codes.reshape(-1), scales.reshape(-1), _bits(out).reshape(-1), *span,
                 _params_on_device(kernel_params(_float_format(xm.dtype))),
                 _params_on_device(kernel_params(codec.element)), _params_on_device(kernel_params(codec.scale_format)),
                 _params_on_device(tuple(R)), np.int64(smin),
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
    _launch("scaled.cu", f"fmt_scaled_decode<{_UINT[codes.dtype.itemsize]}, {_UINT[dt.itemsize]}>", codes.size,
            (codes.reshape(-1), scales.astype(np.uint32).reshape(-1), _bits(res).reshape(-1), np.int64(codes.size),
             np.int64(ncols), np.int64(enc.block), _params_on_device(kernel_params(codec.element)),
             _params_on_device(kernel_params(codec.scale_format)),
             _params_on_device(kernel_params(_float_format(dt))), _params_on_device(tuple(R))))
    return _restore(res, enc)


def mx_run(codec, fused: bool, x, rounding, seed, rbits, index_offset, rand=None):
    """MX ``encode`` (an Encoded record of cupy arrays) or fused ``quantize`` of a cupy array,
    blocks along the codec's axis; ``rand``: a cupy integer array of x's shape."""
    axis, xm, ncols, nblocks, codes, scales, out = _block_setup(codec, x, fused)
    mode, key, rbits, base, rand = codec._random(rounding, seed, rbits, index_offset, rand=rand, shape=tuple(x.shape),
                                                 xp=backend())
    _mx_launch(xm, codes, scales, out, nblocks, codec.block, codec.element, codec._scale_params, mode, key, base,
               rbits, fused, _rand_arg(codec, rand, axis))
    return _block_result(codec, x, fused, axis, codes, scales, out, None)


def _record_rows(codec, enc, scale_codes: int = 256, scale_name=None):
    """(codes, scales) of a record of cupy arrays with the blocked axis last (one row for
    ``axis=None``), checked by the codec (:meth:`BlockCodec._record_rows`) and for scale codes
    below ``scale_codes`` (one-byte scales come back as uint8)."""
    codes, scales = codec._record_rows(enc)
    if scales.size and (int(scales.min()) < 0 or int(scales.max()) >= scale_codes):
        bad = int(scales.max()) if int(scales.min()) >= 0 else int(scales.min())
        raise ValueError(f"scale code {bad} out of range for {scale_name or codec.scale_format}")
    return codes, scales.astype(np.uint8, copy=False) if scale_codes <= 256 else scales


def _restore(res, enc):
    """A decode's rows (blocked axis last) in the record's shape and layout."""
    return res.reshape(enc.shape) if enc.axis is None else backend().moveaxis(res, -1, enc.axis)


def _record_setup(codec, enc, dtype, n_codes: int, code_dtype="uint8", scale_codes: int = 256):
    """(output dtype, codes and scales with the blocked axis last, ncols, the output array) for
    a block decode, after checking the record against the codec (:func:`_record_rows`) and its
    codes against ``n_codes``."""
    from .._arrays import float_dtype

    cp = backend()
    dt = float_dtype(dtype)
    if dt not in _FLOAT_BITS:
        raise TypeError(f"the GPU backend decodes to float16/32/64, got {dt}")
    codes, scales = _record_rows(codec, enc, scale_codes)
    if codes.size and (int(codes.min()) < 0 or int(codes.max()) >= n_codes):
        raise ValueError(f"codes out of range for {codec.name} ({n_codes} codes)")
    return dt, codes.astype(np.dtype(code_dtype), copy=False), scales, codes.shape[-1], cp.empty(codes.shape, dtype=dt)


def mx_decode(codec, enc, dtype):
    """MX ``decode`` of an Encoded record holding cupy arrays."""
    return _mx_decode_record(codec, enc, dtype, codec._decoded_element, codec._scale_params[4])


def _mx_decode_record(codec, enc, dtype, elem, eshift: int):
    """Elements (format ``elem``) times their e8m0 block scales, as ``dtype``."""
    dt, codes, scales, ncols, res = _record_setup(codec, enc, dtype, elem.num_codes, elem.code_dtype)
    _launch("mx.cu", f"fmt_mx_decode<{_UINT[codes.dtype.itemsize]}, {_UINT[dt.itemsize]}>", codes.size,
            (codes.reshape(-1), scales.reshape(-1), _bits(res).reshape(-1), np.int64(codes.size), np.int64(ncols),
             np.int64(enc.block), _params_on_device(kernel_params(elem)),
             _params_on_device(kernel_params(_float_format(dt))), np.int32(eshift)))
    return _restore(res, enc)


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
        amax = _finite_amax(xm)
    G, ta = codec._global(amax)
    ev, sv = codec._tables()
    Ps = kernel_params(_float_format(xm.dtype))
    _launch("nvfp4.cu", f"fmt_nvfp4_encode<{_UINT[xm.dtype.itemsize]}>", 16 * nblocks,  # 16 lanes each
            (_bits(xm).reshape(-1), codes.reshape(-1), scales.reshape(-1), _bits(out).reshape(-1), np.int64(nblocks),
             np.int64(ncols), np.int64(codec.block), _params_on_device(Ps), _params_on_device(Ps),
             _params_on_device(kernel_params(codec.element)), _params_on_device(kernel_params(codec.scale_format)),
             _table_on_device(ev), _table_on_device(sv), np.int32(codec._kernel_recipe(G)), np.float32(G),
             np.float32(ta), np.int32(int(mode)), np.uint64(key), np.int64(base), np.int32(rbits), np.int32(fused),
             *_rand_arg(codec, rand, axis), *_f32_fast_constants(codec.element, int(mode))))
    return _block_result(codec, x, fused, axis, codes, scales, out, amax)


def _f32_fast_constants(elem, mode: int) -> tuple:
    """(fc, use_fast) of a kernel that rounds float32 values to ``elem`` (saturating): the fast
    path's C, special and D from float32 in device memory where fast_path.eligible holds, else a
    placeholder and 0 (the generic f32_code)."""
    from ..rounding import Overflow

    f32 = _float_format(np.float32)
    if not fast_path.eligible(elem, f32, False):
        return _params_on_device((0,) * 24), np.int32(0)
    C, special = fast_path.constants(elem, f32, mode, int(Overflow.SATURATE))
    return _params_on_device(tuple(int(v) for v in (*C, *special, *fast_path.code_constants(elem, f32)))), np.int32(1)


def nvfp4_decode(codec, enc, dtype):
    """NVFP4 ``decode`` of an Encoded record holding cupy arrays (float32 arithmetic, then dtype)."""
    dt, codes, scales, ncols, res = _record_setup(codec, enc, dtype, 16)
    G, ta = codec._global(enc.tensor_amax)
    ev, sv = codec._tables()
    _launch("nvfp4.cu", f"fmt_nvfp4_decode<{_UINT[dt.itemsize]}>", codes.size,
            (codes.reshape(-1), scales.reshape(-1), _bits(res).reshape(-1), np.int64(codes.size), np.int64(ncols),
             np.int64(codec.block), _params_on_device(kernel_params(_float_format(dt))), _table_on_device(ev),
             _table_on_device(sv), np.int32(codec._kernel_recipe(G)), np.float32(G), np.float32(ta)))
    return _restore(res, enc)


def _table_on_device(table: np.ndarray):
    return _tables_on_device(tuple(np.asarray(table, np.float32).tolist()))


@lru_cache(maxsize=None)
def _tables_on_device(values: tuple):
    return backend().asarray(np.asarray(values, dtype=np.float32))


def sdr_run(codec, fused: bool, q, mode=None):
    """SDR ``encode`` (a Razored record of cupy arrays) or ``quantize`` (values in q's dtype) of
    a cupy integer array; ``mode``: the rounding of the dropped bits (None: the codec's)."""
    from ..sdr import Razored, _dtype_bounds, _kernel_mode

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
    _launch("sdr.cu", f"fmt_sdr<{_UINT[np.dtype(codec.code_dtype).itemsize]}>", R * ng,
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
    from ..sdr import _dtype_bounds

    cp = backend()
    dt = np.dtype(dtype)
    if dt.kind not in "iu":
        raise TypeError(f"SDR decodes to integers: dtype must be an integer dtype, got {dt}")
    crows, frows = codec._record_rows(rec)   # checked by the codec, on the device
    n = crows.shape[-1]
    c = crows.astype(np.dtype(codec.code_dtype))
    flags = frows.astype(np.uint8)
    out = cp.empty(c.shape, dtype=np.int64)
    _launch("sdr.cu", f"fmt_sdr_decode<{_UINT[c.dtype.itemsize]}>", c.size,
            (c.reshape(-1), flags.reshape(-1), out.reshape(-1), np.int64(c.size), np.int64(n), np.int64(rec.group),
             np.int32(rec.keep)))
    lo, hi = _dtype_bounds(dt)
    if out.size and (int(out.min()) < lo or int(out.max()) > hi):
        raise ValueError(f"decoded values do not fit {dt}; decode with a wider dtype (np.int32)")
    moved = list(rec.shape)
    moved.append(moved.pop(rec.axis))
    return cp.ascontiguousarray(codec._restore(out, tuple(moved), rec.axis)).astype(dt)


# --- code books ------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _book_on_device(q, mode: int):
    """The threshold tables of Quantile ``q`` for ``mode`` in device memory (once per codec)."""
    from .cuda_host import book_arrays

    cp = backend()
    d, t, nlev, nan_index, code_of = book_arrays(q, mode)
    return cp.asarray(d), cp.asarray(t), nlev, nan_index, cp.asarray(code_of)


def quantile_run(q, fused: bool, x, rounding, seed, rbits, rand, index_offset, out=None):
    """Quantile ``encode`` (codes) or ``quantize`` (level values in x's dtype) of a cupy float
    array; ``rand``, ``out``: cupy arrays as in :func:`element_run`."""
    cp = backend()
    res = check_out(out, x, x.dtype if fused else q.code_dtype)
    x = cp.ascontiguousarray(x)
    src = _bits(x).reshape(-1)
    mode = q._mode_id(rounding)
    key, rbits, rarr = q._random(mode, x, seed, rbits, rand, index_offset, xp=cp)
    r = rarr if rarr is not None else cp.zeros(1, dtype=np.int64)
    d, t, nlev, nan_index, code_of = _book_on_device(q, mode)
    if res is None:
        res = cp.empty_like(x) if fused else cp.empty(x.shape, dtype=q.code_dtype)
    if fused:
        vals = cp.asarray(q.value_table(x.dtype)[list(q.codes)].view(_FLOAT_BITS[np.dtype(x.dtype)]))
    else:
        vals = cp.zeros(1, dtype=src.dtype)
    codes = res.reshape(-1) if not fused else cp.empty(1, dtype=q.code_dtype)
    out = _bits(res).reshape(-1) if fused else cp.empty(1, dtype=src.dtype)
    _launch("codebook.cu", f"fmt_quantile_encode<{_UINT[src.dtype.itemsize]}, {_UINT[q.code_dtype.itemsize]}>",
            src.size, (src, codes, out, np.int64(src.size), _params_on_device(kernel_params(_float_format(x.dtype))),
                       d, t, np.int64(nlev), np.int64(nan_index), code_of, vals, np.int32(mode), np.uint64(key),
                       np.int64(index_offset), np.int32(rbits), r, np.int32(rarr is not None), np.int32(fused)))
    return res


def _book_decode(q, codes, scales, ncols: int, block: int, absmax: bool, dtype):
    """Values of code-book codes (cupy, blocked axis last) times their float32 block scales
    (``scales`` None: none), as ``dtype``; ValueError for codes the table does not use."""
    from .._arrays import float_dtype

    cp = backend()
    dt = float_dtype(dtype)
    if dt not in _FLOAT_BITS:
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
    _launch("codebook.cu", f"fmt_book_decode<{_UINT[c.dtype.itemsize]}, {_UINT[dt.itemsize]}>", c.size,
            (c.reshape(-1), sc, _bits(res).reshape(-1), np.int64(c.size), np.int64(max(ncols, 1)), np.int64(block),
             _values_on_device(q), np.int64(q.num_codes), np.int32(absmax), np.int32(scales is not None),
             _params_on_device(kernel_params(_float_format(dt))), bad))
    if int(bad[0]):
        raise ValueError(f"{int(bad[0])} code(s) not used by this table")
    return res


@lru_cache(maxsize=None)
def _values_on_device(q):
    return backend().asarray(q.value_table(np.float64))


def quantile_decode(q, codes, dtype, out=None):
    """Quantile ``decode`` of a cupy code array (into ``out``, a cupy array, when given)."""
    return into(out, _book_decode(q, codes, None, 1, 1, False, dtype))


def book_scaled_run(codec, fused: bool, x, rounding, seed, rbits, index_offset, rand=None):
    """``Scaled`` with a Quantile element: S = fl32(amax) per block (``"fp32"``) or the
    bitsandbytes recipe (``"absmax"``); an Encoded record of cupy arrays (double-quantized
    scales are computed on the host: one per block) or fused values in x's dtype."""
    from ..codecs import codebook_scaled as cs
    from ..codecs.blocked import Encoded
    from ..rounding import Rounding

    cp = backend()
    q = codec.element_codec
    if x.ndim == 0:
        raise ValueError("Scaled needs an array with at least one dimension")
    axis, xm, block = codec._layout(x, cp)
    ncols = xm.shape[-1]
    nb = -(-ncols // block) if ncols else 0
    nblocks = (xm.size // ncols) * nb if ncols else 0
    absmax = codec.scale_mode == "absmax"
    per_tensor = axis is None and ncols > 0   # one scale: an amax reduction, then a thread per element
    fuse = fused and not codec.double_quant
    codes = cp.empty(xm.shape if not fuse else (1,), dtype=q.code_dtype)
    scales = cp.empty(xm.shape[:-1] + (nb,), dtype=np.uint32)
    if absmax:
        mode = q.rounding if rounding is None else Rounding.parse(rounding)
        if mode is not Rounding.NEAREST_EVEN or seed is not None or rbits is not None or rand is not None:
            raise ValueError("scale='absmax' is bitsandbytes' nearest recipe: no rounding, seed, rbits or rand "
                             "options (use scale='fp32' for other rounding modes)")
        codec._random(None, None, None, index_offset)   # checks index_offset
        x32 = xm if np.dtype(xm.dtype) == np.float32 else xm.astype(np.float32)
        out = cp.empty(xm.shape if fuse else (1,), dtype=np.float32)
        thr = q.thresholds if q.thresholds is not None else cs.bnb_thresholds(q.levels)
        name = f"fmt_book_absmax_encode{'_tensor' if per_tensor else ''}<{_UINT[q.code_dtype.itemsize]}>"
        span = ((np.int64(x32.size), _amax_bits(x32)) if per_tensor
                else (np.int64(nblocks), np.int64(ncols), np.int64(block)))
        _launch("tensor.cu" if per_tensor else "codebook.cu", name, x32.size if per_tensor else 32 * nblocks,
                (_bits(x32).reshape(-1), codes.reshape(-1), scales.reshape(-1), _bits(out).reshape(-1), *span,
                 _table_on_device(np.asarray(q.levels)),
                 _table_on_device(np.asarray(thr)), np.int64(len(thr)), _book_on_device(q, 0)[4],
                 np.int64(_book_on_device(q, 0)[3]), np.int32(fuse)))
        if fuse:
            out = out.astype(xm.dtype, copy=False)
    else:
        mode = q._mode_id(rounding)
        key, rbits, rand = cs.book_random(mode, x, seed, rbits, rand, index_offset, cp)
        d, t, nlev, nan_index, code_of = _book_on_device(q, mode)
        out = cp.empty_like(xm) if fuse else cp.empty(1, dtype=xm.dtype)
        name, threads, span = _per_tensor("book_scaled", xm, codes, nblocks, block, per_tensor)
        _launch("tensor.cu" if per_tensor else "codebook.cu", name, threads,
                (_bits(xm).reshape(-1), codes.reshape(-1), scales.reshape(-1), _bits(out).reshape(-1), *span,
                 _params_on_device(kernel_params(_float_format(xm.dtype))), d, t, np.int64(nlev), np.int64(nan_index),
                 code_of, np.int32(mode), np.uint64(key), np.int64(index_offset), np.int32(rbits), np.int32(fuse),
                 *_rand_arg(codec, rand, axis)))
    if fuse:
        return cp.ascontiguousarray(out.reshape(x.shape) if axis is None else cp.moveaxis(out, -1, axis))
    if axis is None and scales.size == 0:   # an empty tensor still has its one scale: that of an all-zero block
        scales = cp.asarray(np.full((1, 1), 0.0 if absmax else 2.0 ** -149, np.float32).view(np.uint32))
    restore_s = (lambda s: s.reshape(1) if axis is None else cp.moveaxis(s, -1, axis))
    codes_r = codes.reshape(x.shape) if axis is None else cp.moveaxis(codes, -1, axis)
    if codec.double_quant:
        host = cp.asnumpy(scales)
        dq, ss, off = cs.double_quantize(host.view(np.float32))
        enc = Encoded(codes_r, restore_s(cp.asarray(dq.reshape(host.shape))), tuple(x.shape), axis, block,
                      codec.name, scale_scales=cp.asarray(ss), scale_offset=off)
    else:
        enc = Encoded(codes_r, restore_s(scales), tuple(x.shape), axis, block, codec.name)
    return book_scaled_decode(codec, enc, x.dtype) if fused else enc


def book_scaled_decode(codec, enc, dtype):
    """``Scaled`` (Quantile element) ``decode`` of an Encoded record holding cupy arrays."""
    from ..codecs import codebook_scaled as cs

    cp = backend()
    dq = codec.double_quant
    codes, sm = _record_rows(codec, enc, 256 if dq else 1 << 32, "double-quantized 8-bit scales" if dq else "float32")
    ncols = codes.shape[-1]
    if dq:
        if enc.scale_scales is None or enc.scale_offset is None:
            raise ValueError("a double-quantized record needs scale_scales and scale_offset")
        h = cp.asnumpy(sm)
        ss = enc.scale_scales
        ss = cp.asnumpy(ss) if is_device_array(ss) else np.asarray(ss)
        s32 = cs.double_dequantize(h, ss, enc.scale_offset).reshape(h.shape)
        sm = cp.asarray(np.ascontiguousarray(s32).view(np.uint32))
    else:
        if enc.scale_scales is not None:
            raise ValueError("record has double-quantized scales; this codec has double_quant=False")
        sm = sm.astype(np.uint32, copy=False)
    res = _book_decode(codec.element_codec, codes, sm, ncols, enc.block, codec.scale_mode == "absmax", dtype)
    return _restore(res, enc)


# --- packing ---------------------------------------------------------------------------------

def device_codes(codes, what: str = "pack"):
    """Integer cupy codes as a C-contiguous unsigned array of the same width (signed codes are
    viewed as unsigned, so a negative code shows up as out of range)."""
    cp = backend()
    dt = np.dtype(codes.dtype)
    if dt.kind not in "iu":
        raise TypeError(f"{what} takes integer codes, got an array of dtype {dt}")
    c = cp.ascontiguousarray(codes)
    return c.view(np.dtype(f"u{dt.itemsize}")) if dt.kind == "i" else c


def stream_pack(layout, codes):
    """``BitStream.pack`` of cupy codes: a cupy uint8 array of ``layout.packed_shape``."""
    cp = backend()
    c = device_codes(codes)
    if c.ndim == 0:
        c = c.reshape(1)
    out = cp.empty(layout.packed_shape(c.shape), dtype=np.uint8)
    if c.size == 0:
        return out
    k = layout.bits
    top = int(c.max())
    if top >> k:
        raise ValueError(f"code {top} does not fit {k} bits (0..{(1 << k) - 1}; a negative signed code counts as a "
                         "large unsigned one)")
    n = c.shape[-1]
    rb = layout.row_bytes(n)
    _launch("packing.cu", f"fmt_stream_pack<{_UINT[c.dtype.itemsize]}>", out.size,
            (c.reshape(-1), out.reshape(-1), np.int64(c.size // n), np.int64(n), np.int64(rb), np.int32(k),
             np.int32(layout.order == "msb")))
    return out


def device_bytes(buf, nbytes: int, what: str):
    """A cupy uint8 buffer as a flat array of exactly ``nbytes`` bytes, or a clear error."""
    cp = backend()
    if np.dtype(buf.dtype) != np.uint8:
        raise TypeError(f"{what} reads a uint8 buffer, got dtype {buf.dtype}")
    if buf.size != nbytes:
        kind = "truncated" if buf.size < nbytes else "over-long"
        raise ValueError(f"{kind} buffer: {what} needs exactly {nbytes} bytes, got {buf.size}")
    return cp.ascontiguousarray(buf).reshape(-1)


def stream_unpack(layout, buf, shape: tuple, dtype):
    """``BitStream.unpack`` of a cupy uint8 buffer: cupy codes of ``shape``."""
    cp = backend()
    pshape = layout.packed_shape(shape)
    b = device_bytes(buf, math.prod(pshape), f"{layout.name} unpack of shape {shape}")
    out = cp.empty(shape, dtype=layout._out_dtype(dtype, layout.bits))
    if out.size == 0:
        return out
    n = shape[-1] if shape else 1
    _launch("packing.cu", f"fmt_stream_unpack<{_UINT[out.dtype.itemsize]}>", out.size,
            (b, out.reshape(-1), np.int64(out.size // n), np.int64(n), np.int64(pshape[-1]), np.int32(layout.bits),
             np.int32(layout.order == "msb")))
    return out
