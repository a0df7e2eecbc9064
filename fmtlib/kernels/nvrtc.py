"""NVRTC through ctypes: fmtlib's CUDA sources compiled as the GPU backend compiles them
through CuPy (:mod:`fmtlib.kernels.gpu_build`), on a machine without a GPU (tests/test_nvrtc.py).

NVRTC comes from the ``nvidia-cuda-nvrtc`` wheel (in the dev extra); nothing here imports cupy
or needs a device. :func:`cupy_options` is what CuPy's compiler adds to the options it is
given; :class:`NVRTC` makes the C API calls CuPy's ``_NVRTCProgram`` makes.
"""
from __future__ import annotations

import ctypes
import importlib.util
import multiprocessing
import re
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path


def cupy_options(options, arch: str) -> tuple:
    """``options`` as ``cupy.cuda.compiler.compile_using_nvrtc`` hands them to NVRTC for
    ``arch`` (``"sm_90"``): the step ``fmtlib.kernels.gpu_build`` calls.

    It appends ``-arch=sm_XX`` (a cubin; ``compute_XX`` and PTX only for an arch past NVRTC's
    newest, or with CUPY_COMPILE_WITH_PTX=1), then ``--device-as-default-execution-space``
    (cupy/cuda/compiler.py ``_compile_using_nvrtc_no_warning``; ``--pch`` too with
    CUPY_NVRTC_USE_PCH=1, which changes no code). Left out: its ``-I`` directories (its CCCL copy,
    its own headers, the CUDA headers), which fmtlib's sources never reach: under NVRTC
    (``__CUDACC_RTC__``) they include no system header.
    """
    return tuple(options) + (f"-arch={arch}", "--device-as-default-execution-space")


def raw_module_options(options, arch: str) -> tuple:
    """``options`` as ``cupy.RawModule(code=...)`` hands them to NVRTC: ``-ftz=true`` first
    (cupy/cuda/compiler.py ``_compile_with_cache_cuda``), then what :func:`cupy_options` adds.
    fmtlib does not compile this way (tests/test_nvrtc.py shows why)."""
    return cupy_options(tuple(options) + ("-ftz=true",), arch)


def find_library() -> Path | None:
    """libnvrtc.so.N of the installed nvidia-cuda-nvrtc wheel (nvidia/cu13/lib; nvidia/cuda_nvrtc/lib
    for the CUDA 12 wheels), the newest if several; None if there is none (or not on Linux)."""
    spec = importlib.util.find_spec("nvidia")
    if spec is None or not sys.platform.startswith("linux"):
        return None
    found = [p for d in spec.submodule_search_locations for p in Path(d).glob("*/lib/libnvrtc.so.*")
             if re.fullmatch(r"libnvrtc\.so\.\d+(\.\d+)*", p.name)]
    return max(found, default=None, key=lambda p: [int(v) for v in p.name.split(".so.")[1].split(".")])


@dataclass
class Compiled:
    """One program's result: ``ok`` and the log (NVRTC's error string first on failure), the
    options it was given, the mangled name of each name expression (None: did not resolve),
    the cubin and the PTX text."""
    ok: bool
    log: str
    options: tuple
    lowered: dict = field(default_factory=dict)
    cubin: bytes = b""
    ptx: str = ""


class NVRTC:
    """The NVRTC library at ``path``."""

    def __init__(self, path) -> None:
        self.path = Path(path)
        self.lib = lib = ctypes.CDLL(str(path))
        lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        major, minor = ctypes.c_int(), ctypes.c_int()
        self._check(lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)), "nvrtcVersion")
        self.version = (major.value, minor.value)

    def _check(self, r: int, what: str) -> None:
        if r != 0:
            raise RuntimeError(f"{what}: {self.lib.nvrtcGetErrorString(r).decode()}")

    def _bytes(self, prog, size_fn: str, get_fn: str) -> bytes:
        n = ctypes.c_size_t()
        self._check(getattr(self.lib, size_fn)(prog, ctypes.byref(n)), size_fn)
        buf = ctypes.create_string_buffer(n.value)
        self._check(getattr(self.lib, get_fn)(prog, buf), get_fn)
        return buf.raw

    def compile(self, code: str, name: str, options, name_expressions) -> Compiled:
        """nvrtcCreateProgram (no headers: includes resolve through ``-I``), nvrtcAddNameExpression
        for each name expression, nvrtcCompileProgram, then the log, nvrtcGetLoweredName for each
        name expression, the cubin and the PTX."""
        lib = self.lib
        prog = ctypes.c_void_p()
        self._check(lib.nvrtcCreateProgram(ctypes.byref(prog), code.encode(), name.encode(), 0, None, None),
                    "nvrtcCreateProgram")
        try:
            for e in name_expressions:
                self._check(lib.nvrtcAddNameExpression(prog, e.encode()), f"nvrtcAddNameExpression({e})")
            options = tuple(options)
            opts = (ctypes.c_char_p * len(options))(*(o.encode() for o in options))
            r = lib.nvrtcCompileProgram(prog, len(options), opts)
            log = self._bytes(prog, "nvrtcGetProgramLogSize", "nvrtcGetProgramLog").rstrip(b"\0").decode()
            if r != 0:
                return Compiled(False, f"{lib.nvrtcGetErrorString(r).decode()}\n{log}", options)
            res = Compiled(True, log, options)
            for e in name_expressions:
                low = ctypes.c_char_p()
                r = lib.nvrtcGetLoweredName(prog, e.encode(), ctypes.byref(low))
                res.lowered[e] = low.value.decode() if r == 0 and low.value else None
            res.cubin = self._bytes(prog, "nvrtcGetCUBINSize", "nvrtcGetCUBIN")
            res.ptx = self._bytes(prog, "nvrtcGetPTXSize", "nvrtcGetPTX").rstrip(b"\0").decode()
            return res
        finally:
            lib.nvrtcDestroyProgram(ctypes.byref(prog))


_LOADED: dict = {}


def _compile_job(path: Path, args: tuple) -> Compiled:
    if path not in _LOADED:
        _LOADED[path] = NVRTC(path)
    return _LOADED[path].compile(*args)


def compile_many(path, jobs: dict, workers: int) -> dict:
    """``{key: (code, name, options, name_expressions)}`` compiled by the NVRTC at ``path`` in
    ``workers`` fresh processes (NVRTC runs one compile at a time in a process, so threads do not
    help); ``{key: Compiled}``."""
    ctx = multiprocessing.get_context("spawn")   # no fork of a threaded parent
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=ctx) as pool:
        futures = {k: pool.submit(_compile_job, Path(path), args) for k, args in jobs.items()}
        return {k: f.result() for k, f in futures.items()}
