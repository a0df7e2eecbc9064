"""The SIMT host runner: CUDA kernel sources, unchanged, compiled by g++ and launched on the
CPU the way a GPU runs them (``tests/simt/simt.h``: the device side; ``tests/simt/runtime.cpp``:
threads, shuffles, barriers, the launch).

:class:`RawModule` takes what ``cupy.RawModule`` takes (the source, NVRTC options, name
expressions) and :class:`Kernel` launches like a ``cupy.RawKernel``: ``kernel(grid, block,
args)``. Before a launch, the arguments are checked against the kernel's C parameters: their
number, each scalar's kind and width (a Python int is int64, a float float64, as CuPy passes
them), and each pointer's element type against the array's dtype; arrays must be C-contiguous
device arrays (a numpy array whose type says it is cupy's). Builds are cached by the hash of
everything that goes into them (``FMTLIB_CACHE_DIR``, as fmtlib.kernels.cuda_host). For
example (``a``: a device array of int32; tests/test_simt.py runs such launches)::

    mod = RawModule(code=src, options=("--std=c++14", "--fmad=false"), name_expressions=["k<int>"])
    mod.get_function("k<int>")((4,), (256,), (a, np.int64(a.size)))
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np

from fmtlib.kernels.cuda_host import cache_dir

HERE = Path(__file__).parent
#: OS threads a launch's blocks are spread over (FMTLIB_SIMT_WORKERS, default 2: more than one, so
#: that atomics meet real concurrency)
WORKERS = int(os.environ.get("FMTLIB_SIMT_WORKERS", "2"))


def compiler() -> str | None:
    """The C++ compiler the runner builds with: $FMTLIB_SIMT_CXX, g++, c++ or clang++ (None: none)."""
    return os.environ.get("FMTLIB_SIMT_CXX") or next(
        (c for c in ("g++", "c++", "clang++") if shutil.which(c)), None)


#: NVRTC options and their g++ equivalents; options that only set device float modes the host
#: has anyway are dropped. Anything else is refused: the runner would not build what the GPU runs.
_SAME_ON_HOST = {"--fmad=false": "-ffp-contract=off", "-fmad=false": "-ffp-contract=off"}
_HOST_ANYWAY = {"--ftz=false", "-ftz=false", "--prec-div=true", "-prec-div=true", "--prec-sqrt=true",
                "-prec-sqrt=true"}


def host_options(options) -> list[str]:
    """g++ options for NVRTC ``options`` (``--std=c++14`` -> ``-std=c++14``, ``-I``/``-D`` kept,
    ``--fmad=false`` -> ``-ffp-contract=off``); ValueError for an option the host cannot honour."""
    if not any(o in _SAME_ON_HOST for o in options):
        raise ValueError("the SIMT runner builds without FMA contraction, so the GPU build must too: pass --fmad=false")
    out = []
    for o in options:
        std = re.fullmatch(r"--?std=(c\+\+\d\d)", o)
        if o in _SAME_ON_HOST:
            out.append(_SAME_ON_HOST[o])
        elif std:
            out.append(f"-std={std[1]}")
        elif re.fullmatch(r"-[ID].+", o):
            out.append(o)
        elif o not in _HOST_ANYWAY:
            raise ValueError(f"the SIMT runner has no host equivalent of the NVRTC option {o!r}")
    return out


def _build(cmd: list[str], source: str, out: Path) -> None:
    tmp = out.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")   # builds run in threads too
    r = subprocess.run(cmd + ["-o", str(tmp)], input=source, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"the SIMT runner's build failed: {' '.join(cmd)}\n{r.stderr}")
    os.replace(tmp, out)   # atomic: concurrent builds agree


def _hash(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(repr(p).encode() + b"\0")
    return h.hexdigest()[:16]


def _runtime() -> Path:
    """runtime.cpp built once (an object file every module links)."""
    cxx = compiler()
    src = (HERE / "runtime.cpp").read_text()
    out = cache_dir() / f"simt-runtime-{_hash(cxx, src, (HERE / 'simt.h').read_text())}.o"
    if not out.exists():
        _build([cxx, "-std=c++14", "-O2", "-fPIC", "-fvisibility=hidden", "-I", str(HERE), "-x", "c++", "-c", "-"],
               src, out)
    return out


def module_source(code: str, names) -> str:
    """The C++ file of a module: the prelude, the CUDA source, the table of its name expressions."""
    for n in names:
        if not re.fullmatch(r"[\w:<>, ]+", n):
            raise ValueError(f"not a name expression the runner takes: {n!r}")
    table = ",\n".join(f'    SIMT_ENTRY("{n}", {n})' for n in names)
    return (f'#include "simt.h"\n#line 1 "module.cu"\n{code}\n#line 1 "simt-table"\n'
            f"static const simt::Entry simt_entries[] = {{\n{table}\n}};\nSIMT_MODULE(simt_entries)\n")


def build(code: str, options, names) -> Path:
    """The shared library of one module (built unless the cache has it: the key hashes the
    compiler, the source, the options and every header in the ``-I`` directories)."""
    cxx = compiler()
    if cxx is None:
        raise RuntimeError("no C++ compiler (g++, c++ or clang++) for the SIMT runner")
    src = module_source(code, names)
    opts = host_options(options)
    runtime = _runtime()
    headers = [(f.name, f.read_bytes()) for o in opts if o.startswith("-I")
               for f in sorted(Path(o[2:]).iterdir()) if f.suffix in (".h", ".cuh", ".hpp", ".cu")]
    h = _hash(cxx, src, opts, (HERE / "simt.h").read_text(), runtime.name, headers)
    out = cache_dir() / f"simt-{h}.so"
    if not out.exists():   # -O1: half -O2's compile time (no contraction, no fast math: the same bits)
        _build([cxx, "-O1", "-fPIC", "-shared", "-fvisibility=hidden", "-I", str(HERE), *opts, "-x", "c++", "-",
                "-x", "none", str(runtime), "-lpthread"], src, out)
    return out


class _Entry(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("params", ctypes.POINTER(ctypes.c_char_p)), ("run", ctypes.c_void_p)]


def _code(dtype) -> str:
    dt = np.dtype(dtype)
    if dt.kind not in "biuf":
        raise TypeError(f"no C type for dtype {dt}")
    return f"{dt.kind}{dt.itemsize}"


def is_device_array(a) -> bool:
    return isinstance(a, np.ndarray) and type(a).__module__.split(".")[0] == "cupy"


class RawModule:
    """A module built from CUDA source, as ``cupy.RawModule(code=..., options=...,
    name_expressions=...)``; only the kernels the name expressions name can be launched."""

    def __init__(self, code: str | None = None, path=None, options=(), backend: str = "nvrtc",
                 translate_cucomplex: bool = False, *, enable_cooperative_groups: bool = False,
                 name_expressions=None, jitify: bool = False):
        if code is None or path is not None:
            raise ValueError("the SIMT runner builds a module from its source (code=), not from a binary (path=)")
        if backend != "nvrtc" or translate_cucomplex or enable_cooperative_groups or jitify:
            raise ValueError("the SIMT runner stands in for NVRTC without jitify, cuComplex translation or "
                             "cooperative groups")
        if not name_expressions:
            raise ValueError("the SIMT runner launches the kernels that name_expressions names; pass them")
        self.library = build(code, tuple(options), list(name_expressions))
        lib = ctypes.CDLL(str(self.library))
        lib.simt_entry.restype = ctypes.POINTER(_Entry)
        lib.simt_launch.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(ctypes.c_uint),
                                    ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self._lib, self.kernels = lib, {}
        for i in range(lib.simt_count()):
            e = lib.simt_entry(i).contents
            params = []
            while e.params[len(params)] is not None:
                params.append(e.params[len(params)].decode())
            self.kernels[e.name.decode()] = (i, tuple(params))

    def get_function(self, name: str) -> Kernel:
        if name not in self.kernels:
            raise KeyError(f"{name} is not among the module's name expressions")
        return Kernel(self, name)


class Kernel:
    """One kernel of a :class:`RawModule`; ``params``: its C parameter codes ("u8", "i4",
    "f4"; "*u1" a pointer to uint8, "const*f8" a pointer to const double)."""

    def __init__(self, module: RawModule, name: str):
        self.module, self.name = module, name
        self.index, self.params = module.kernels[name]

    def check(self, args) -> list[str]:
        """The argument codes, after checking them against the parameters (TypeError, naming the
        kernel and argument, where one does not fit)."""
        if len(args) != len(self.params):
            raise TypeError(f"{self.name} takes {len(self.params)} arguments, the launch passes {len(args)}")
        codes = []
        for i, (a, p) in enumerate(zip(args, self.params)):
            if isinstance(a, np.ndarray):
                if not is_device_array(a):
                    raise TypeError(f"{self.name} argument {i}: a host numpy array; kernels take device arrays")
                if not a.flags.c_contiguous:
                    raise TypeError(f"{self.name} argument {i}: not C-contiguous, but the kernel indexes it flat")
                got = "*" + _code(a.dtype)
                ok = p.startswith("*") or p.startswith("const*")
                ok = ok and p.rsplit("*", 1)[1] == got[1:]
            else:
                if isinstance(a, np.generic):
                    got = _code(a.dtype)
                elif isinstance(a, (bool, int, float)):   # as CuPy passes Python scalars
                    got = {bool: "b1", int: "i8", float: "f8"}[type(a)]
                else:
                    raise TypeError(f"{self.name} argument {i}: cannot pass a {type(a).__name__} to a kernel")
                ok = p == got
            if not ok:
                raise TypeError(f"{self.name} argument {i}: the kernel takes {p}, the launch passes {got}")
            codes.append(got)
        return codes

    def __call__(self, grid, block, args, shared_mem: int = 0, workers: int | None = None) -> None:
        if shared_mem:
            raise ValueError("the SIMT runner has no dynamic shared memory")
        self.check(args)
        dims = []
        for d in (grid, block):
            d = (int(d),) if isinstance(d, (int, np.integer)) else tuple(int(v) for v in d)
            if not 1 <= len(d) <= 3:
                raise ValueError(f"grid and block take 1 to 3 numbers, got {d}")
            dims.append((ctypes.c_uint * 3)(*(d + (1,) * (3 - len(d)))))
        keep, ptrs = [], (ctypes.c_void_p * max(len(args), 1))()
        for i, a in enumerate(args):
            if isinstance(a, np.ndarray):
                v = ctypes.c_void_p(a.__array_interface__["data"][0])
            else:
                v = np.array([a], dtype=np.asarray(a).dtype if isinstance(a, np.generic) else
                             {bool: np.bool_, int: np.int64, float: np.float64}[type(a)])
            keep.append(v)
            ptrs[i] = ctypes.addressof(v) if isinstance(v, ctypes.c_void_p) else v.ctypes.data
        err = ctypes.create_string_buffer(1024)
        if self.module._lib.simt_launch(self.index, dims[0], dims[1], ptrs, WORKERS if workers is None else workers,
                                        err, len(err)):
            raise RuntimeError(f"{self.name}: {err.value.decode()}")
