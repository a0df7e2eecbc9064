"""The GPU backend's launches: CUDA kernels compiled from ``fmtlib/kernels/cuda/`` once per
process, and the functions that launch them on cupy arrays and plain numbers.

The kernels use the same scalar code as the host build that the tests check against the
Numba kernels (:mod:`fmtlib.kernels.cuda_host`). The codec methods that call them (a codec
given a cupy array, or a CUDA tensor through DLPack) live with the codecs
(:mod:`fmtlib.codecs.device`); this module imports no codec. cupy stays optional: importing
fmtlib never imports it.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .._backend import array_module, backend, is_device_array  # noqa: F401  (the seam: fmtlib._backend)
from . import fast_path, gpu_build
from .cuda_host import CUDA_DIR
from .params import kernel_params

_THREADS = 256
#: thread blocks of a launch at most (a million threads, several waves on any current GPU); the
#: kernels' grid-stride loops take the rest, so a thread's setup (loading the formats' numbers)
#: is paid once for many elements, not once per element (a test may lower it)
MAX_BLOCKS = 4096
C_UINT = {1: "uint8_t", 2: "uint16_t", 4: "uint32_t", 8: "uint64_t"}
FLOAT_BITS = {np.dtype(np.float16): np.uint16, np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}


_FLOATS = ("uint16_t", "uint32_t", "uint64_t")
#: (input, code) types of the MX lane kernels: float32, bfloat16 and float16 input; float
#: elements of at most 16 bits, integers of at most 23 (16 from a 16-bit input)
_MX32_TYPES = [("uint16_t", "uint8_t"), ("uint16_t", "uint16_t"), ("uint32_t", "uint8_t"), ("uint32_t", "uint16_t"),
               ("uint32_t", "uint32_t")]

#: (input, code) types of the element lane kernels' encode: codes of a float format the input holds
_LANE_CODES = [("uint16_t", "uint8_t"), ("uint16_t", "uint16_t"), ("uint32_t", "uint8_t"), ("uint32_t", "uint16_t"),
               ("uint32_t", "uint32_t")]


def _names(source: str) -> list[str]:
    if source == "convert.cu":
        return [f"fmt_convert<{s}, {d}>" for s in C_UINT.values() for d in C_UINT.values()]
    if source == "fast.cu":
        return [f"fmt_fast<{s}, {d}>" for s in _FLOATS for d in C_UINT.values()]
    if source == "lanes.cu":
        lanes = ("uint16_t", "uint32_t")
        return ([f"fmt_lanes_quantize<{s}>" for s in lanes] + [f"fmt_lanes_encode<{s}, {c}>" for s, c in _LANE_CODES]
                + [f"fmt_lanes_decode<{c}, {s}>" for s in lanes for c in C_UINT.values()])
    if source == "mx.cu":
        codes = ("uint8_t", "uint16_t", "uint32_t")
        return [f"fmt_mx_encode<{t}, {c}>" for t in _FLOATS for c in codes] + [
            f"fmt_mx_encode_fast<{t}, {c}>" for t in _FLOATS for c in codes[:2]] + [
            f"fmt_mx32_encode<{t}, {c}>" for t, c in _MX32_TYPES] + [
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
        return [f"fmt_stream_{op}<{c}>" for op in ("pack", "unpack") for c in C_UINT.values()]
    if source == "tensor.cu":
        codes = ("uint8_t", "uint16_t", "uint32_t")
        return ([f"fmt_amax_bits<{t}>" for t in _FLOATS]
                + [f"fmt_{k}_encode_tensor<{t}, {c}>" for k in ("mx", "scaled") for t in _FLOATS for c in codes]
                + [f"fmt_mx32_encode_tensor<{t}, {c}>" for t, c in _MX32_TYPES]
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


def launch(source: str, name: str, n: int, args: tuple) -> None:
    """Launch ``name`` with (at least) n threads, 256 per thread block (a multiple of 32, as the
    lane-group kernels need), in grid-stride loops."""
    if n == 0:
        return
    fn = module(source).get_function(name)
    blocks = max(1, min(-(-n // _THREADS), MAX_BLOCKS))
    fn((blocks,), (_THREADS,), args)


@lru_cache(maxsize=None)
def params_on_device(params: tuple):
    return backend().asarray(np.asarray(params, dtype=np.int64))


def raw_bits(x):
    """The unsigned-integer view of a contiguous cupy float array."""
    dt = np.dtype(x.dtype)
    if dt not in FLOAT_BITS:
        raise TypeError(f"the GPU backend takes float16/32/64 cupy arrays, got {dt}")
    return x.view(FLOAT_BITS[dt])


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


def float_format(dt):
    from .._arrays import dtype_format

    return dtype_format(np.dtype(dt))


def convert(src, out, Psrc: tuple, Pdst: tuple, mode: int, overflow: int, key: int, base: int, rbits: int,
            daz: bool = False, ftz: bool = False, rand=None, fused: bool = False) -> None:
    """out[i] = the code of src[i] (format Psrc) in format Pdst (unsigned views of any width);
    with ``fused``, src[i] rounded into Pdst and back into Psrc (out the same width as src).
    Stochastic bits from fmtlib-rng-v1, or ``rand[i]`` (a flat device integer array)."""
    cp = backend()
    r = cp.zeros(1, dtype=np.int64) if rand is None else rand.astype(np.int64, copy=False).reshape(-1)
    launch("convert.cu", f"fmt_convert<{C_UINT[src.dtype.itemsize]}, {C_UINT[out.dtype.itemsize]}>", src.size,
           (src, out, np.int64(src.size), params_on_device(Psrc), params_on_device(Pdst), np.int32(mode),
            np.int32(overflow), np.uint64(key), np.int64(base), np.int32(rbits), np.int32(daz), np.int32(ftz), r,
            np.int32(rand is not None), np.int32(fused)))


def fast(src, out, src_fmt, fmt, fused: bool, mode: int, overflow: int, key: int, base: int, rbits: int) -> None:
    """The fast path where the CPU takes its own (fast_path.eligible): out[i] = src[i] (float
    bits of ``src_fmt``) quantized into ``fmt`` (``fused``: input bits back, out the same width
    as src) or encoded (codes). Where the CPU takes its lane kernels (float32, bfloat16 or
    float16 input; nearest-even or floor-on-overflow, or a stochastic quantize), the lane path
    (lanes.cu, fmt_lanes.cuh: 32-bit arithmetic); else fast.cu (fmt_fast.cuh: int64 constants).
    Stochastic bits from fmtlib-rng-v1. The constants are the CPU's, passed by value."""
    if _lanes(src, out, src_fmt, fmt, fused, int(mode), int(overflow), key, base, rbits):
        return
    C, special = fast_path.constants(fmt, src_fmt, int(mode), int(overflow))
    D = (0,) * 8 if fused else fast_path.code_constants(fmt, src_fmt)
    launch("fast.cu", f"fmt_fast<{C_UINT[src.dtype.itemsize]}, {C_UINT[out.dtype.itemsize]}>", -(-src.size // 4),
           (src, out, np.int64(src.size), *(np.int64(c) for c in C), *(np.int64(v) for v in special),
            np.int32(not fused), *(np.int64(d) for d in D), np.int32(mode), np.uint64(key), np.int64(base),
            np.int32(rbits)))


def _lane_threads(n: int, itemsize: int) -> int:
    """Threads of a lane kernel: one per 16-byte vector of the wider stream (fmt_lanes.cuh LaneWidth)."""
    return -(-n // (16 // itemsize))


def _lanes(src, out, src_fmt, fmt, fused: bool, mode: int, overflow: int, key: int, base: int, rbits: int) -> bool:
    """The lane path of :func:`fast` where the CPU's plan (fmtlib.kernels.dispatch._plan) takes
    its lane kernels: float32, bfloat16 or float16 input, nearest-even or floor-on-overflow
    (quantize and encode) or stochastic (quantize); False (nothing launched) elsewhere."""
    from ..rounding import Rounding

    kind = fast_path.lanes32_kind(src_fmt)
    nearest = mode in (int(Rounding.NEAREST_EVEN), int(Rounding.FLOOR_ON_OVERFLOW))
    if kind is None or not (nearest or (fused and mode == int(Rounding.STOCHASTIC))):
        return False
    K, special = fast_path.nearest32_constants(fmt, src_fmt, mode, overflow)
    K = tuple(np.uint32(k) for k in K)
    S = C_UINT[src.dtype.itemsize]
    if fused:
        launch("lanes.cu", f"fmt_lanes_quantize<{S}>", _lane_threads(src.size, src.dtype.itemsize),
               (src, out, np.int64(src.size), *K, *(np.uint32(v) for v in special), np.int32(kind),
                np.int32(not nearest), np.uint64(key), np.int64(base), np.int32(rbits)))
    else:
        E, codes = fast_path.encode32_constants(fmt, mode, overflow)
        launch("lanes.cu", f"fmt_lanes_encode<{S}, {C_UINT[out.dtype.itemsize]}>",
               _lane_threads(src.size, src.dtype.itemsize),
               (src, out, np.int64(src.size), *K, *(np.uint32(e) for e in E), *(np.uint32(c) for c in codes),
                np.int32(kind)))
    return True


def decode_lanes(codes, out, fmt, out_fmt) -> None:
    """Codes (unsigned, any width, in range) of ``fmt`` into float32, bfloat16 or float16 bits
    ``out`` by arithmetic in 32-bit lanes (lanes.cu fmt_lanes_decode), where
    fast_path.decode32_eligible holds (the CPU's fast_decode_* there)."""
    Kd, sp = fast_path.decode32_constants(fmt, out_fmt)
    launch("lanes.cu", f"fmt_lanes_decode<{C_UINT[codes.dtype.itemsize]}, {C_UINT[out.dtype.itemsize]}>",
           _lane_threads(codes.size, out.dtype.itemsize),
           (codes, out, np.int64(codes.size), *(np.uint32(k) for k in Kd), *(np.uint32(v) for v in sp),
            np.int32(fast_path.lanes32_kind(out_fmt))))


# --- block kernels ---------------------------------------------------------------------------


def mx_launch(xm, codes, scales, out, nblocks: int, block: int, elem, S: tuple, mode, key: int, base: int,
              rbits: int, fused: bool, rand: tuple, per_tensor: bool = False) -> None:
    """MX blocks, a warp per block (fmt_mx32_encode where fast_path.mx32_eligible holds, as the
    CPU takes its mx32 kernels; fmt_mx_encode_fast where the CPU takes mx_encode_fast, else
    fmt_mx_encode); ``per_tensor``: xm is one block (one row), encoded by
    fmt_amax_bits and then fmt_mx32_encode_tensor or fmt_mx_encode_tensor over every element
    (:func:`encode_launch`);
    ``rand``: the kernels' (rand, use_rand) arguments (:func:`_rand_arg`)."""
    from ..rounding import Rounding

    rule, emax, mbits, M, eshift = S
    src_fmt = float_format(xm.dtype)
    if not int(rand[1]) and fast_path.mx32_eligible(elem, src_fmt, int(mode), None):
        # the CPU's mx32 kernels (32-bit lanes), on the device: a warp per block, or per tensor
        # an amax reduction and then a thread per element
        stoch = int(mode) == int(Rounding.STOCHASTIC)
        types = f"<{C_UINT[xm.dtype.itemsize]}, {C_UINT[codes.dtype.itemsize]}>"
        span = ((np.int64(xm.size), amax_bits(xm)) if per_tensor else
                (np.int64(nblocks), np.int64(xm.shape[-1]), np.int64(block)))
        launch("tensor.cu" if per_tensor else "mx.cu",
               ("fmt_mx32_encode_tensor" if per_tensor else "fmt_mx32_encode") + types,
               xm.size if per_tensor else 32 * nblocks,
               (raw_bits(xm).reshape(-1), codes.reshape(-1), scales.reshape(-1), raw_bits(out).reshape(-1), *span,
                params_on_device(mx32_constants(elem, src_fmt, int(mode), eshift)),
                np.int32(fast_path.lanes32_kind(src_fmt)), np.int32(_is_int(elem)), np.int32(rule), np.int32(emax),
                np.int32(mbits), np.float64(M), np.int32(stoch), np.uint64(key), np.int64(base), np.int32(rbits),
                np.int32(fused)))
        return
    if (not per_tensor and eshift == 0 and codes.dtype.itemsize <= 2
            and fast_path.mx_eligible(elem, src_fmt)):   # the CPU's mx_encode_fast, on the device
        launch("mx.cu", f"fmt_mx_encode_fast<{C_UINT[xm.dtype.itemsize]}, {C_UINT[codes.dtype.itemsize]}>",
               32 * nblocks, (raw_bits(xm).reshape(-1), codes.reshape(-1), scales.reshape(-1), raw_bits(out).reshape(-1),
                              np.int64(nblocks), np.int64(xm.shape[-1]), np.int64(block),
                              params_on_device(kernel_params(src_fmt)), params_on_device(kernel_params(elem)),
                              _fast_constants(elem, src_fmt, int(mode)), np.int32(rule), np.int32(emax),
                              np.int32(mbits), np.float64(M), np.int32(int(mode)), np.uint64(key), np.int64(base),
                              np.int32(rbits), np.int32(fused), *rand))
        return
    name, threads, span = encode_launch("mx", xm, codes, nblocks, block, per_tensor)
    launch("tensor.cu" if per_tensor else "mx.cu", name, threads,
           (raw_bits(xm).reshape(-1), codes.reshape(-1), scales.reshape(-1), raw_bits(out).reshape(-1), *span,
            params_on_device(kernel_params(float_format(xm.dtype))),
            params_on_device(kernel_params(elem)), np.int32(rule), np.int32(emax), np.int32(mbits), np.float64(M),
            np.int32(eshift), np.int32(int(mode)), np.uint64(key), np.int64(base), np.int32(rbits), np.int32(fused),
            *rand))


def _is_int(elem) -> bool:
    from ..integers import IntFormat

    return isinstance(elem, IntFormat)


def mx32_constants(elem, src_fmt, mode: int, eshift: int) -> tuple:
    """fmt_mx32_encode's 13 numbers: the CPU lane kernels' K (8) and E (4) of ``elem``
    (fast_path.mx32_constants), then the input's NaN bits."""
    K, E = fast_path.mx32_constants(elem, src_fmt, mode, eshift)
    return tuple(int(v) for v in (*K, *E, src_fmt.nan_code))


def _fast_constants(elem, src_fmt, mode: int):
    """The fast path's 24 numbers for rounding ``src_fmt`` values to ``elem`` with saturation
    (fast_path.constants' C and special, then code_constants' D), in device memory."""
    from ..rounding import Overflow

    C, special = fast_path.constants(elem, src_fmt, mode, int(Overflow.SATURATE))
    return params_on_device(tuple(int(v) for v in (*C, *special, *fast_path.code_constants(elem, src_fmt))))


def f32_fast_constants(elem, mode: int) -> tuple:
    """(fc, use_fast) of a kernel that rounds float32 values to ``elem`` (saturating):
    :func:`_fast_constants` from float32 where fast_path.eligible holds, else a placeholder and
    0 (the generic f32_code)."""
    f32 = float_format(np.float32)
    if not fast_path.eligible(elem, f32, False):
        return params_on_device((0,) * 24), np.int32(0)
    return _fast_constants(elem, f32, mode), np.int32(1)


#: thread blocks of fmt_amax_bits at most: enough to fill a GPU, few atomics (a grid-stride loop does the rest)
_AMAX_BLOCKS = 1024


def amax_bits(x, finite: bool = False):
    """The largest magnitude bits of a contiguous cupy float array (``finite``: of its finite
    values; 0 if none) in a one-element device uint64 array, by the fmt_amax_bits reduction."""
    cp = backend()
    src = raw_bits(x).reshape(-1)
    amax = cp.zeros(1, dtype=np.uint64)
    launch("tensor.cu", f"fmt_amax_bits<{C_UINT[src.dtype.itemsize]}>", min(src.size, _THREADS * _AMAX_BLOCKS),
           (src, np.int64(src.size), params_on_device(kernel_params(float_format(x.dtype))), np.int32(finite),
            amax))
    return amax


def encode_launch(kind: str, xm, codes, nblocks: int, block: int, per_tensor: bool):
    """(kernel name, threads, the span arguments) of a block encode (``fmt_{kind}_encode``: a
    warp per block; nblocks, ncols, block) or, ``per_tensor``, of one block over the whole of
    ``xm`` (``fmt_{kind}_encode_tensor``: an amax reduction first, then a thread per element;
    n and the amax)."""
    types = f"<{C_UINT[xm.dtype.itemsize]}, {C_UINT[codes.dtype.itemsize]}>"
    if per_tensor:
        return f"fmt_{kind}_encode_tensor{types}", xm.size, (np.int64(xm.size), amax_bits(xm))
    return f"fmt_{kind}_encode{types}", 32 * nblocks, (np.int64(nblocks), np.int64(xm.shape[-1]), np.int64(block))


def finite_amax(x) -> float:
    """The largest finite magnitude of a contiguous cupy float array (0.0 if none), exact."""
    if x.size == 0:
        return 0.0
    bits = np.array(int(amax_bits(x, finite=True)[0]), dtype=FLOAT_BITS[np.dtype(x.dtype)])
    return float(bits.view(np.dtype(x.dtype)))


def table_on_device(table: np.ndarray):
    return tables_on_device(tuple(np.asarray(table, np.float32).tolist()))


@lru_cache(maxsize=None)
def tables_on_device(values: tuple):
    return backend().asarray(np.asarray(values, dtype=np.float32))


# --- code books ------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def book_on_device(q, mode: int):
    """The threshold tables of Quantile ``q`` for ``mode`` in device memory (once per codec)."""
    from .cuda_host import book_arrays

    cp = backend()
    d, t, nlev, nan_index, code_of = book_arrays(q, mode)
    return cp.asarray(d), cp.asarray(t), nlev, nan_index, cp.asarray(code_of)


@lru_cache(maxsize=None)
def values_on_device(q):
    return backend().asarray(q.value_table(np.float64))


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
    launch("packing.cu", f"fmt_stream_pack<{C_UINT[c.dtype.itemsize]}>", out.size,
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
    launch("packing.cu", f"fmt_stream_unpack<{C_UINT[out.dtype.itemsize]}>", out.size,
           (b, out.reshape(-1), np.int64(out.size // n), np.int64(n), np.int64(pshape[-1]), np.int32(layout.bits),
            np.int32(layout.order == "msb")))
    return out
