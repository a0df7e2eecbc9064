"""How the GPU backend builds a CUDA module: NVRTC through CuPy's compiler, without the
``-ftz=true`` that ``cupy.RawModule(code=...)`` adds, with an on-disk cache.

``cupy.RawModule(code=...)`` appends ``-ftz=true`` after the caller's options
(cupy/cuda/compiler.py ``_compile_with_cache_cuda``), and NVRTC takes the last ``-ftz``: the
float32 arithmetic of nvfp4.cu and codebook.cu would flush subnormal operands and results to
zero, unlike the CPU (tests/test_nvrtc.py shows both facts). So :func:`build` calls the step
below it, ``cupy.cuda.compiler.compile_using_nvrtc``, which adds only the ``-arch`` for the
current device (a cubin, or PTX past NVRTC's newest arch) and
``--device-as-default-execution-space``; loads the result with ``cupy.cuda.function.Module``;
and looks kernels up by the mangled names NVRTC gives the name expressions.

The cache replaces CuPy's: one file per (source and headers, options, CuPy, NVRTC, device
arch) in ``$CUPY_CACHE_DIR`` (default ``~/.cupy/kernel_cache``), written atomically and checked
by a SHA-256 of its content, so a torn or foreign file is recompiled, never loaded.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .._atomic import atomic_write
from .cuda_host import CUDA_DIR

#: NVRTC options of every fmtlib module: C++14, no FMA contraction (float32 recipes round every
#: operation), IEEE float32 (no flush to zero, correctly rounded division), headers from CUDA_DIR
OPTIONS = ("--std=c++14", "--fmad=false", "--ftz=false", "--prec-div=true", f"-I{CUDA_DIR}")

_MAGIC = b"fmtlib-cuda-module-1\n"


class Module:
    """A loaded module whose :meth:`get_function` takes the name expressions ``gpu.py`` uses
    (``"fmt_fast<uint32_t, uint8_t>"``) and returns a launchable ``cupy.cuda.function.Function``
    (called as ``fn(grid, block, args)``, like a ``RawKernel``)."""

    def __init__(self, raw, lowered: dict) -> None:
        self.raw, self.lowered = raw, dict(lowered)

    def get_function(self, name: str):
        if name not in self.lowered:
            raise KeyError(f"{name} is not a kernel this module was built with "
                           f"({len(self.lowered)} name expressions)")
        return self.raw.get_function(self.lowered[name])


def _sources_digest(source: str) -> str:
    """SHA-256 of ``source`` and of every header in CUDA_DIR (a header change must recompile)."""
    h = hashlib.sha256()
    for p in [CUDA_DIR / source] + sorted(CUDA_DIR.glob("*.cuh")):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def cache_dir() -> Path:
    """CuPy's kernel cache directory: ``$CUPY_CACHE_DIR`` or ``~/.cupy/kernel_cache``."""
    return Path(os.environ.get("CUPY_CACHE_DIR") or Path.home() / ".cupy" / "kernel_cache")


def _identity(cp) -> dict:
    """What a compiled module depends on besides the sources and options."""
    return {"cupy": cp.__version__, "nvrtc": list(cp.cuda.nvrtc.getVersion()),
            "arch": str(cp.cuda.Device().compute_capability),
            "ptx": os.environ.get("CUPY_COMPILE_WITH_PTX", "")}


def _read(path: Path):
    """(binary, mapping) from a cache file, or None when it is missing, torn or foreign."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = len(_MAGIC) + 32
    if not data.startswith(_MAGIC) or hashlib.sha256(data[head:]).digest() != data[len(_MAGIC):head]:
        return None
    body = data[head:]
    n = int.from_bytes(body[:8], "little")
    try:
        mapping = json.loads(body[8:8 + n])
    except ValueError:
        return None
    return body[8 + n:], mapping


def _write(path: Path, binary: bytes, mapping: dict) -> None:
    meta = json.dumps(mapping, sort_keys=True).encode()
    body = len(meta).to_bytes(8, "little") + meta + binary
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as f:
            f.write(_MAGIC + hashlib.sha256(body).digest() + body)
    except OSError:   # a read-only or full cache directory costs a recompile next time, nothing else
        pass


def build(cp, source: str, names: list[str]) -> Module:
    """The module of ``fmtlib/kernels/cuda/<source>`` with the kernels ``names`` (name
    expressions), compiled with :data:`OPTIONS` for the current device, from the cache when an
    identical build is there."""
    key = hashlib.sha256(json.dumps([_sources_digest(source), OPTIONS, sorted(names), _identity(cp)],
                                    sort_keys=True).encode()).hexdigest()
    path = cache_dir() / f"fmtlib-{source}-{key[:40]}.bin"
    hit = _read(path)
    if hit is not None and set(hit[1]) == set(names):
        binary, mapping = hit
    else:
        code = (CUDA_DIR / source).read_text()
        binary, mapping = cp.cuda.compiler.compile_using_nvrtc(
            code, options=OPTIONS, filename=source, name_expressions=list(names), cache_in_memory=True)
        mapping = {e: (m.decode() if isinstance(m, bytes) else m) for e, m in mapping.items()}
        _write(path, binary, mapping)
    raw = cp.cuda.function.Module()
    raw.load(bytes(binary))
    return Module(raw, mapping)
