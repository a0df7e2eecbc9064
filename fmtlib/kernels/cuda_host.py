"""The host build of fmtlib's CUDA scalar code: compile, cache and call it through ctypes.

``fmtlib/kernels/cuda/fmt_scalar.cuh`` holds the conversions the GPU kernels run, written once
as ``__host__ __device__`` functions. Built here for the CPU (g++, or nvcc), the same code is
tested bit for bit against the Numba kernels and the oracle on machines without a GPU.

>>> lib = load()                                   # doctest: +SKIP
>>> lib.rand(key=1, base=0, n=2, rbits=8)          # doctest: +SKIP
array([..., ...])
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

CUDA_DIR = Path(__file__).parent / "cuda"
#: the device sources (compiled by nvcc in the tests)
CUDA_SOURCES = ("convert.cu", "fast.cu", "lanes.cu", "mx.cu", "nvfp4.cu", "sdr.cu", "scaled.cu", "codebook.cu",
                "packing.cu", "tensor.cu")


def sources() -> list[Path]:
    """Every CUDA/C++ source file of fmtlib."""
    return sorted(p for p in CUDA_DIR.iterdir() if p.suffix in (".cu", ".cuh", ".cpp"))


def host_compiler() -> list[str] | None:
    """The command that builds the host library: $FMTLIB_CXX, g++, c++ or nvcc (None: none found)."""
    env = os.environ.get("FMTLIB_CXX")
    if env:
        return env.split()
    for name in ("g++", "c++", "clang++"):
        if shutil.which(name):
            return [name, "-O2", "-std=c++14", "-ffp-contract=off", "-shared", "-fPIC"]
    if shutil.which("nvcc"):
        return ["nvcc", "-O2", "-std=c++14", "-fmad=false", "-shared", "-Xcompiler", "-fPIC", "-x", "cu"]
    return None


def cache_dir() -> Path:
    d = Path(os.environ.get("FMTLIB_CACHE_DIR") or Path(tempfile.gettempdir()) / f"fmtlib-{os.getuid()}")
    d.mkdir(parents=True, exist_ok=True)
    return d


def build(out_dir: Path | None = None) -> Path:
    """Compile ``host_api.cpp`` into a shared library named by the hash of the sources and the
    compiler (reused when it exists); returns its path. Raises RuntimeError without a compiler
    or when the compiler fails."""
    cmd = host_compiler()
    if cmd is None:
        raise RuntimeError("no C++ compiler (g++, c++, clang++ or nvcc) on PATH to build the CUDA host code")
    h = hashlib.sha256(" ".join(cmd).encode())
    for p in sources():
        h.update(p.name.encode() + p.read_bytes())
    out = (out_dir or cache_dir()) / f"libfmthost-{h.hexdigest()[:16]}.so"
    if not out.exists():
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        r = subprocess.run(cmd + ["-I", str(CUDA_DIR), "-o", str(tmp), str(CUDA_DIR / "host_api.cpp")],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"building the CUDA host code failed:\n{r.stderr}")
        os.replace(tmp, out)   # atomic: concurrent builds agree
    return out


def nvcc_compile(source: str, arch: str, out_dir: Path) -> Path:
    """Compile one device source (``convert.cu``) for ``arch`` (``"sm_90"``) to an object file;
    raises RuntimeError with nvcc's messages when it fails."""
    out = Path(out_dir) / f"{Path(source).stem}.{arch}.o"
    r = subprocess.run(["nvcc", "-std=c++14", "-fmad=false", f"-arch={arch}", "-I", str(CUDA_DIR), "-c", str(CUDA_DIR / source),
                        "-o", str(out)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"nvcc {source} for {arch} failed:\n{r.stderr}")
    return out


_U64P = np.ctypeslib.ndpointer(np.uint64, flags="C_CONTIGUOUS")
_I64P = np.ctypeslib.ndpointer(np.int64, flags="C_CONTIGUOUS")
_U8P = np.ctypeslib.ndpointer(np.uint8, flags="C_CONTIGUOUS")
_F32P = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
_U32P = np.ctypeslib.ndpointer(np.uint32, flags="C_CONTIGUOUS")
_U16P = np.ctypeslib.ndpointer(np.uint16, flags="C_CONTIGUOUS")
_F64P = np.ctypeslib.ndpointer(np.float64, flags="C_CONTIGUOUS")
_I8P = np.ctypeslib.ndpointer(np.int8, flags="C_CONTIGUOUS")
_I64 = ctypes.c_int64


def _rand(rand) -> tuple:
    """(array, flag) for a host function's ``rand, use_rand`` arguments."""
    if rand is None:
        return np.zeros(1, np.int64), 0
    return np.ascontiguousarray(rand, np.int64).reshape(-1), 1


def _block_buffers(src, bits_dtype, ncols: int, block: int, scale_dtype):
    """(flat source bits, zeroed codes and outputs like them, one zeroed scale per block) for a
    host block encode of rows of ``ncols`` elements."""
    s = np.ascontiguousarray(src, dtype=bits_dtype).reshape(-1)
    nblocks = (s.size // ncols) * -(-ncols // block) if ncols else 0
    return s, np.zeros_like(s), np.zeros_like(s), np.zeros(nblocks, scale_dtype)


class HostLib:
    """ctypes calls into the host build: the same arguments as the Numba ``convert`` and
    ``roundtrip`` kernels, on codes held in uint64 arrays."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        lib = ctypes.CDLL(str(path))
        lib.fmt_host_elementwise.argtypes = [_U64P, _U64P, _I64, _I64P, _I64P, _I64, _I64, ctypes.c_uint64, _I64, _I64,
                                             ctypes.c_int32, ctypes.c_int32, ctypes.c_int32, _I64P, ctypes.c_int32]
        lib.fmt_host_elementwise.restype = None
        lib.fmt_host_rand.argtypes = [ctypes.c_uint64, _I64, _I64, _I64, _I64P]
        lib.fmt_host_rand.restype = None
        lib.fmt_host_mx_encode.argtypes = [_U64P, _U64P, _U8P, _U64P, _I64, _I64, _I64, _I64P, _I64P, _I64, _I64,
                                           _I64, ctypes.c_double, _I64, _I64, ctypes.c_uint64, _I64, _I64,
                                           ctypes.c_int32, _I64P, ctypes.c_int32]
        lib.fmt_host_mx_encode.restype = None
        lib.fmt_host_mx32_encode.argtypes = [_U32P, _U32P, _U8P, _U32P, _I64, _I64, _I64, _I64P, ctypes.c_int32,
                                             ctypes.c_int32, _I64, _I64, _I64, ctypes.c_double, ctypes.c_int32,
                                             ctypes.c_uint64, _I64, ctypes.c_int32, ctypes.c_int32]
        lib.fmt_host_mx32_encode.restype = None
        lib.fmt_host_mx_decode.argtypes = [_U64P, _U8P, _U64P, _I64, _I64, _I64, _I64P, _I64P, _I64]
        lib.fmt_host_mx_decode.restype = None
        lib.fmt_host_nvfp4_encode.argtypes = [_U64P, _U64P, _U8P, _U64P, _I64, _I64, _I64, _I64P, _I64P, _I64P,
                                              _I64P, _F32P, _F32P, _I64, ctypes.c_float, ctypes.c_float, _I64,
                                              ctypes.c_uint64, _I64, _I64, ctypes.c_int32, _I64P, ctypes.c_int32]
        lib.fmt_host_nvfp4_encode.restype = None
        lib.fmt_host_nvfp4_decode.argtypes = [_U64P, _U8P, _U64P, _I64, _I64, _I64, _I64P, _F32P, _F32P, _I64,
                                              ctypes.c_float, ctypes.c_float]
        lib.fmt_host_nvfp4_decode.restype = None
        lib.fmt_host_sdr.argtypes = [_I64P, _U64P, _U8P, _I64P, _I64, _I64, _I64, _I64, _I64, _I64, _I64, _I64, _I64,
                                     ctypes.c_int32, _I64P]
        lib.fmt_host_sdr.restype = ctypes.c_int64
        lib.fmt_host_sdr_decode.argtypes = [_U64P, _U8P, _I64P, _I64, _I64, _I64, _I64]
        lib.fmt_host_sdr_decode.restype = None
        lib.fmt_host_scaled_encode.argtypes = [_U64P, _U64P, _U32P, _U64P, _I64, _I64, _I64, _I64P, _I64P, _I64P,
                                               _I64P, _I64, _I64, ctypes.c_uint64, _I64, _I64, ctypes.c_int32,
                                               _I64P, ctypes.c_int32]
        lib.fmt_host_scaled_encode.restype = ctypes.c_int64
        lib.fmt_host_scaled_decode.argtypes = [_U64P, _U32P, _U64P, _I64, _I64, _I64, _I64P, _I64P, _I64P, _I64P]
        lib.fmt_host_scaled_decode.restype = None
        lib.fmt_host_quantile_encode.argtypes = [_U64P, _U64P, _I64, _I64P, _F64P, _I8P, _I64, _I64, _U16P, _U64P,
                                                 _I64, ctypes.c_uint64, _I64, _I64, _I64P, ctypes.c_int32,
                                                 ctypes.c_int32]
        lib.fmt_host_quantile_encode.restype = None
        lib.fmt_host_book_scaled_encode.argtypes = [_U64P, _U64P, _U32P, _U64P, _I64, _I64, _I64, _I64P, _F64P, _I8P,
                                                    _I64, _I64, _U16P, _I64, ctypes.c_uint64, _I64, _I64,
                                                    ctypes.c_int32, _I64P, ctypes.c_int32]
        lib.fmt_host_book_scaled_encode.restype = None
        lib.fmt_host_book_absmax_encode.argtypes = [_U32P, _U64P, _U32P, _U32P, _I64, _I64, _I64, _F32P, _F32P, _I64,
                                                    _U16P, _I64, ctypes.c_int32]
        lib.fmt_host_book_absmax_encode.restype = None
        lib.fmt_host_book_decode.argtypes = [_U64P, ctypes.c_void_p, _U64P, _I64, _I64, _I64, _F64P, _I64,
                                             ctypes.c_int32, _I64P]
        lib.fmt_host_book_decode.restype = ctypes.c_int64
        lib.fmt_host_stream_pack.argtypes = [_U64P, _U8P, _I64, _I64, _I64, _I64, ctypes.c_int32]
        lib.fmt_host_stream_pack.restype = None
        lib.fmt_host_stream_unpack.argtypes = [_U8P, _U64P, _I64, _I64, _I64, _I64, ctypes.c_int32]
        lib.fmt_host_stream_unpack.restype = None
        lib.fmt_host_fast.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32, _I64, _I64P,
                                      _I64P, ctypes.c_void_p, _I64, ctypes.c_uint64, _I64, _I64, ctypes.c_int32]
        lib.fmt_host_fast.restype = ctypes.c_int32
        lib.fmt_host_lanes.argtypes = [ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32,
                                       _I64, _U32P, ctypes.c_int32, ctypes.c_int32, ctypes.c_uint64, _I64,
                                       ctypes.c_int32, ctypes.c_int32]
        lib.fmt_host_lanes.restype = ctypes.c_int32
        self._lib = lib

    def _call(self, fused, src, p1, p2, mode, overflow, key, base, rbits, daz, ftz, rand) -> np.ndarray:
        s = np.ascontiguousarray(src, dtype=np.uint64).reshape(-1)
        out = np.empty_like(s)
        r = np.zeros(1, np.int64) if rand is None else np.ascontiguousarray(rand, np.int64).reshape(-1)
        self._lib.fmt_host_elementwise(s, out, s.size, np.asarray(p1, np.int64), np.asarray(p2, np.int64), int(mode),
                                       int(overflow), int(key) & (2**64 - 1), int(base), int(rbits), int(bool(daz)),
                                       int(bool(ftz)), int(fused), r, int(rand is not None))
        return out

    def convert(self, src, Psrc, Pdst, mode=0, overflow=1, key=0, base=0, rbits=1, daz=False, ftz=False, rand=None):
        """Codes of ``src`` (format Psrc) in format Pdst, as uint64; stochastic bits from
        fmtlib-rng-v1 or, given, ``rand`` (one integer per element)."""
        return self._call(False, src, Psrc, Pdst, mode, overflow, key, base, rbits, daz, ftz, rand)

    def roundtrip(self, src, Psrc, Pfmt, mode=0, overflow=1, key=0, base=0, rbits=1, daz=False, ftz=False,
                  rand=None):
        """``src`` rounded into Pfmt and back into Psrc (fused quantize), as uint64."""
        return self._call(True, src, Psrc, Pfmt, mode, overflow, key, base, rbits, daz, ftz, rand)

    def mx_encode(self, src, ncols: int, block: int, Psrc, Pelem, S, mode=0, key=0, base=0, rbits=1,
                  fused=False, rand=None):
        """(codes, scales, out) of MX blocks of rows of ``ncols`` input bits; ``S`` = the
        codec's (rule, emax, mbits, M, eshift). ``out`` holds decoded bits when ``fused``;
        ``rand`` (one integer per element of src, as every block encode here takes it)
        replaces fmtlib-rng-v1."""
        s, codes, out, scales = _block_buffers(src, np.uint64, ncols, block, np.uint8)
        rule, emax, mbits, M, eshift = S
        self._lib.fmt_host_mx_encode(s, codes, scales, out, s.size, ncols, block, np.asarray(Psrc, np.int64),
                                     np.asarray(Pelem, np.int64), rule, emax, mbits, float(M), eshift, int(mode),
                                     int(key) & (2**64 - 1), int(base), int(rbits), int(bool(fused)), *_rand(rand))
        return codes, scales, out

    def mx32_encode(self, src, ncols: int, block: int, kc, kind: int, integer: bool, S, stoch: bool, key=0, base=0,
                    rbits=1, fused=False):
        """(codes, scales, out) of the MX 32-bit lane path (fmt_mx32.cuh) of rows of ``ncols``
        input bits (float32, bfloat16 or float16 by ``kind``: 0, 1, 2), as uint32; ``kc`` as
        :func:`fmtlib.kernels.gpu.mx32_constants` gives it."""
        s, codes, out, scales = _block_buffers(src, np.uint32, ncols, block, np.uint8)
        rule, emax, mbits, M, _ = S
        self._lib.fmt_host_mx32_encode(s, codes, scales, out, s.size, ncols, block, np.asarray(kc, np.int64),
                                       int(kind), int(bool(integer)), rule, emax, mbits, float(M), int(bool(stoch)),
                                       int(key) & (2**64 - 1), int(base), int(rbits), int(bool(fused)))
        return codes, scales, out

    def mx_decode(self, codes, scales, ncols: int, block: int, Pelem, Pout, eshift: int = 0) -> np.ndarray:
        """Bits (format Pout) of MX elements times their block scales."""
        c = np.ascontiguousarray(codes, dtype=np.uint64).reshape(-1)
        out = np.empty_like(c)
        self._lib.fmt_host_mx_decode(c, np.ascontiguousarray(scales, np.uint8).reshape(-1), out, c.size, ncols, block,
                                     np.asarray(Pelem, np.int64), np.asarray(Pout, np.int64), int(eshift))
        return out

    def nvfp4_encode(self, src, ncols: int, block: int, Psrc, Pout, Pelem, Pscale, elem_vals, scale_vals,
                     recipe: int, G: float, tensor_amax: float, mode=0, key=0, base=0, rbits=1, fused=False,
                     rand=None):
        """(codes, scales, out) of NVFP4 blocks, as :func:`fmtlib.kernels.cpu.nvfp4.nvfp4_encode`."""
        s, codes, out, scales = _block_buffers(src, np.uint64, ncols, block, np.uint8)
        self._lib.fmt_host_nvfp4_encode(s, codes, scales, out, s.size, ncols, block, *(np.asarray(P, np.int64) for P in
                                        (Psrc, Pout, Pelem, Pscale)), np.asarray(elem_vals, np.float32),
                                        np.asarray(scale_vals, np.float32), int(recipe), float(G), float(tensor_amax),
                                        int(mode), int(key) & (2**64 - 1), int(base), int(rbits), int(bool(fused)),
                                        *_rand(rand))
        return codes, scales, out

    def nvfp4_decode(self, codes, scales, ncols: int, block: int, Pout, elem_vals, scale_vals, recipe: int,
                     G: float, tensor_amax: float) -> np.ndarray:
        c = np.ascontiguousarray(codes, dtype=np.uint64).reshape(-1)
        out = np.empty_like(c)
        self._lib.fmt_host_nvfp4_decode(c, np.ascontiguousarray(scales, np.uint8).reshape(-1), out, c.size, ncols,
                                        block, np.asarray(Pout, np.int64), np.asarray(elem_vals, np.float32),
                                        np.asarray(scale_vals, np.float32), int(recipe), float(G), float(tensor_amax))
        return out

    def sdr(self, rows, group: int, keep: int, mode: int, lo: int, hi: int, olo: int = 0, ohi: int = 0,
            fused: bool = False):
        """(codes, flags, values, values outside [lo, hi], results outside [olo, ohi]) of SDR on
        int64 ``rows`` (R, n); ``mode`` in the SDR kernels' numbering."""
        q = np.ascontiguousarray(rows, dtype=np.int64)
        R, n = q.shape
        codes, out = np.zeros(q.shape, np.uint64), np.zeros(q.shape, np.int64)
        flags = np.zeros((R, -(-n // group)), np.uint8)
        obad = np.zeros(1, np.int64)
        bad = self._lib.fmt_host_sdr(q.reshape(-1), codes.reshape(-1), flags.reshape(-1), out.reshape(-1), R, n, group,
                                     keep, mode, lo, hi, olo, ohi, int(bool(fused)), obad)
        return codes, flags, out, int(bad), int(obad[0])

    def sdr_decode(self, codes, flags, group: int, keep: int) -> np.ndarray:
        c = np.ascontiguousarray(codes, dtype=np.uint64)
        out = np.empty(c.shape, np.int64)
        R, n = c.shape
        self._lib.fmt_host_sdr_decode(c.reshape(-1), np.ascontiguousarray(flags, np.uint8).reshape(-1),
                                      out.reshape(-1), R, n, group, keep)
        return out

    def scaled_encode(self, src, ncols: int, block: int, Psrc, Pelem, Pscale, R, smin_code: int, mode=0, key=0,
                      base=0, rbits=1, fused=False, rand=None):
        """(codes, scale codes, out, blocks whose scale is out of range) of Scaled blocks with a
        float scale, as :func:`fmtlib.kernels.cpu.scaled.scaled_encode`."""
        s, codes, out, scales = _block_buffers(src, np.uint64, ncols, block, np.uint32)
        bad = self._lib.fmt_host_scaled_encode(s, codes, scales, out, s.size, ncols, block,
                                               *(np.asarray(P, np.int64) for P in (Psrc, Pelem, Pscale, R)),
                                               int(smin_code), int(mode), int(key) & (2**64 - 1), int(base),
                                               int(rbits), int(bool(fused)), *_rand(rand))
        return codes, scales, out, int(bad)

    def scaled_decode(self, codes, scales, ncols: int, block: int, Pelem, Pscale, Pout, R) -> np.ndarray:
        c = np.ascontiguousarray(codes, dtype=np.uint64).reshape(-1)
        out = np.empty_like(c)
        self._lib.fmt_host_scaled_decode(c, np.ascontiguousarray(scales, np.uint32).reshape(-1), out, c.size, ncols,
                                         block, *(np.asarray(P, np.int64) for P in (Pelem, Pscale, Pout, R)))
        return out

    def quantile_encode(self, src, Psrc, book, mode=0, key=0, base=0, rbits=1, rand=None, vals=None):
        """Codes (or, given ``vals``, the level bits) of float bits ``src`` by a code book;
        ``book`` = :func:`book_arrays`."""
        s = np.ascontiguousarray(src, dtype=np.uint64).reshape(-1)
        out = np.empty_like(s)
        dtab, ttab, nlev, nan_index, code_of = book
        r = np.zeros(1, np.int64) if rand is None else np.ascontiguousarray(rand, np.int64).reshape(-1)
        v = np.zeros(1, np.uint64) if vals is None else np.ascontiguousarray(vals, np.uint64)
        self._lib.fmt_host_quantile_encode(s, out, s.size, np.asarray(Psrc, np.int64), dtab, ttab, nlev, nan_index,
                                           code_of, v, int(mode), int(key) & (2**64 - 1), int(base), int(rbits), r,
                                           int(rand is not None), int(vals is not None))
        return out

    def book_scaled_encode(self, src, ncols: int, block: int, Psrc, book, mode=0, key=0, base=0, rbits=1,
                           fused=False, rand=None):
        """(codes, float32 scale bits, out) of code-book blocks with S = fl32(amax)."""
        s, codes, out, scales = _block_buffers(src, np.uint64, ncols, block, np.uint32)
        dtab, ttab, nlev, nan_index, code_of = book
        self._lib.fmt_host_book_scaled_encode(s, codes, scales, out, s.size, ncols, block, np.asarray(Psrc, np.int64),
                                              dtab, ttab, nlev, nan_index, code_of, int(mode),
                                              int(key) & (2**64 - 1), int(base), int(rbits), int(bool(fused)),
                                              *_rand(rand))
        return codes, scales, out

    def book_absmax_encode(self, src32, ncols: int, block: int, vals32, thr, code_of, nan_index: int, fused=False):
        """(codes, absmax bits, out bits) of float32 bits by the bitsandbytes recipe."""
        s, out, _, scales = _block_buffers(src32, np.uint32, ncols, block, np.uint32)
        codes = np.zeros(s.size, np.uint64)
        t = np.ascontiguousarray(thr, np.float32)
        self._lib.fmt_host_book_absmax_encode(s, codes, scales, out, s.size, ncols, block,
                                              np.ascontiguousarray(vals32, np.float32), t, t.size,
                                              np.ascontiguousarray(code_of, np.uint16), int(nan_index),
                                              int(bool(fused)))
        return codes, scales, out

    def book_decode(self, codes, value_of, Pout, scales=None, ncols=1, block=1, absmax=False):
        """(output bits, codes the table does not use) of a code-book decode; ``scales``:
        float32 bits per block, or None."""
        c = np.ascontiguousarray(codes, dtype=np.uint64).reshape(-1)
        out = np.empty_like(c)
        sc = None if scales is None else np.ascontiguousarray(scales, np.uint32).reshape(-1)
        v = np.ascontiguousarray(value_of, np.float64)
        bad = self._lib.fmt_host_book_decode(c, None if sc is None else sc.ctypes.data, out, c.size, ncols, block, v,
                                             v.size, int(bool(absmax)), np.asarray(Pout, np.int64))
        return out, int(bad)

    def stream_pack(self, codes, k: int, msb: bool) -> np.ndarray:
        """(rows, ceil(n * k / 8)) bytes of (rows, n) codes in a k-bit stream."""
        c = np.ascontiguousarray(codes, dtype=np.uint64)
        rows, n = c.shape
        rb = -(-n * k // 8)
        buf = np.empty((rows, rb), np.uint8)
        self._lib.fmt_host_stream_pack(c.reshape(-1), buf.reshape(-1), rows, n, rb, k, int(bool(msb)))
        return buf

    def stream_unpack(self, buf, n: int, k: int, msb: bool) -> np.ndarray:
        b = np.ascontiguousarray(buf, dtype=np.uint8)
        rows, rb = b.shape
        codes = np.empty((rows, n), np.uint64)
        self._lib.fmt_host_stream_unpack(b.reshape(-1), codes.reshape(-1), rows, n, rb, k, int(bool(msb)))
        return codes

    def fast(self, src, C, special, D=None, mode=0, key=0, base=0, rbits=1, out=None, vec=True) -> np.ndarray:
        """The GPU fast path (``fmt::fast_range`` of fmt_fast.cuh, the loop ``fmt_fast`` runs) on
        one host thread: ``src`` (float bits: a uint16/32/64 array) quantized, or with ``D``
        encoded; ``C``, ``special``, ``D`` from :mod:`fmtlib.kernels.fast_path`. The result is
        written into ``out`` when given (a C-contiguous unsigned array of src's size, any width;
        its alignment picks the kernel's path), else into a new array of src's dtype (quantize)
        or uint64 (codes). ``vec``: quads where both arrays are aligned for them."""
        s = np.asarray(src)
        if s.dtype not in (np.uint16, np.uint32, np.uint64) or not s.flags.c_contiguous:
            raise TypeError(f"src must be a C-contiguous uint16/32/64 array, got {s.dtype}")
        if out is None:
            out = np.empty(s.size, s.dtype if D is None else np.uint64)
        if out.dtype.kind != "u" or not out.flags.c_contiguous or not out.flags.writeable or out.size != s.size:
            raise TypeError("out must be a writeable C-contiguous unsigned array of src's size")
        d = None if D is None else np.ascontiguousarray(D, np.int64)
        rc = self._lib.fmt_host_fast(s.ctypes.data, out.ctypes.data, s.dtype.itemsize, out.dtype.itemsize, s.size,
                                     np.ascontiguousarray(C, np.int64), np.ascontiguousarray(special, np.int64),
                                     None if d is None else d.ctypes.data, int(mode), int(key) & (2**64 - 1),
                                     int(base), int(rbits), int(bool(vec)))
        if rc != 0:
            raise ValueError(f"no fast kernel for {s.dtype} -> {out.dtype}")
        return out

    def lanes(self, op: str, src, consts, kind: int, out=None, stoch=False, key=0, base=0, rbits=1,
              vec=True) -> np.ndarray:
        """The GPU element lane path (fmt_lanes.cuh, the loops of lanes.cu's kernels) on one host
        thread, into ``out`` (default: src's dtype for quantize, uint32 codes, the float bits of
        ``kind`` for decode): ``op`` "quantize" (``consts``: nearest32_constants' K and special),
        "encode" (K, encode32_constants' E and codes) or "decode" (decode32_constants' Kd and
        sp; ``src`` holds codes of any unsigned width); ``kind`` 0, 1, 2: float32, bfloat16,
        float16 bits (uint32 or uint16). ``vec``: 16-byte vectors where both arrays are aligned."""
        s = np.asarray(src)
        if out is None:
            floats = np.uint32 if kind == 0 else np.uint16
            out = np.empty(s.size, {"quantize": s.dtype, "encode": np.uint32}.get(op, floats))
        o = out
        for a in (s, o):
            if a.dtype.kind != "u" or not a.flags.c_contiguous:
                raise TypeError(f"lanes takes C-contiguous unsigned arrays, got {a.dtype}")
        if o.size != s.size or not o.flags.writeable:
            raise TypeError("out must be writeable, of src's size")
        floats, codes = (o, s) if op == "decode" else (s, o)
        c = np.ascontiguousarray(np.concatenate([np.asarray(v, np.uint64).reshape(-1) for v in consts]), np.uint32)
        rc = self._lib.fmt_host_lanes({"quantize": 0, "encode": 1, "decode": 2}[op], s.ctypes.data, o.ctypes.data,
                                      floats.dtype.itemsize, codes.dtype.itemsize, s.size, c, int(kind),
                                      int(bool(stoch)), int(key) & (2**64 - 1), int(base), int(rbits), int(bool(vec)))
        if rc != 0:
            raise ValueError(f"no lane kernel for {s.dtype} -> {o.dtype}")
        return o

    def rand(self, key: int, base: int, n: int, rbits: int) -> np.ndarray:
        """fmtlib-rng-v1's top ``rbits`` for elements base .. base + n - 1."""
        out = np.empty(n, np.int64)
        self._lib.fmt_host_rand(int(key) & (2**64 - 1), int(base), int(n), int(rbits), out)
        return out


def book_arrays(q, mode: int) -> tuple:
    """(doubles, ties, levels, nan index, code of each level) of Quantile ``q``'s threshold
    tables for ``mode``, in the layout of ``fmt::make_book`` (fmt_codebook.cuh)."""
    from ..rounding import Rounding

    T = q._tables()
    tie = T["tie_away"] if mode == int(Rounding.NEAREST_AWAY) else T["tie"]
    d = np.concatenate([T[k] for k in ("lv", "hi", "lo", "dhi", "dlo", "uhi", "ulo")]).astype(np.float64)
    t = np.concatenate([tie, T["dtie"], T["utie"]]).astype(np.int8)
    return d, t, len(q.levels), int(T["nan_index"]), np.asarray(T["code_of"], np.uint16)


@lru_cache(maxsize=None)
def load() -> HostLib:
    """The host build, compiled on first use (see :func:`build`)."""
    return HostLib(build())
