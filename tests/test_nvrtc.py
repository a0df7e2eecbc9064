"""The CUDA sources as CuPy compiles them, without a GPU.

- NVRTC: every .cu file of fmtlib/kernels/cuda/ through NVRTC (the ``nvidia-cuda-nvrtc`` wheel,
  called through ctypes) with the source, options and name expressions that
  ``fmtlib.kernels.gpu.module`` hands to CuPy's ``compile_using_nvrtc`` (read by running it
  against a recording stand-in for cupy, so they cannot drift), plus the options CuPy adds
  itself, for sm_90 and sm_100. Every name expression must lower to a kernel entry of the
  module, and no float32 instruction flushes subnormals.
- nvcc host build: ``host_api.cpp`` built by nvcc as CUDA (``-x cu``, the fallback command of
  ``fmtlib.kernels.cuda_host``), so that every ``__host__ __device__`` function is compiled as
  CUDA for the host too, gives the g++ build's bits (which tests/test_cuda_host.py checks
  against the Numba kernels).

Under CI=true a missing wheel or nvcc fails instead of skipping (conftest ``needs``).
"""
from __future__ import annotations

import os
import re
import shutil
import sys
import types

import numpy as np
import pytest

from conftest import needs
from fmtlib import IntFormat, Rounding, get_format
from fmtlib.kernels import cuda_host
from fmtlib.kernels import nvrtc as NV
from fmtlib.kernels.params import kernel_params

ARCHS = ("sm_90", "sm_100")
SOURCES = sorted(p.name for p in cuda_host.CUDA_DIR.glob("*.cu"))


class FakeCupy(types.ModuleType):
    """A stand-in for cupy that records what ``fmtlib.kernels.gpu_build.build`` asks of it: the
    arguments of each ``cuda.compiler.compile_using_nvrtc`` call, and the bytes each
    ``cuda.function.Module`` loads. It has no ``RawModule``: using one fails."""

    def __init__(self):
        super().__init__("cupy")
        self.__version__ = "14.0.0"
        self.compiles, self.loaded = [], []
        fake = self

        class Module:
            def load(self, binary):
                fake.loaded.append(binary)

            def get_function(self, name):
                return ("function", name)

        def compile_using_nvrtc(code, **kw):
            fake.compiles.append({"code": code, **kw})
            return b"cubin:" + kw["filename"].encode(), {e: f"_Z{len(e)}{e}" for e in kw["name_expressions"]}

        self.cuda = types.SimpleNamespace(
            compiler=types.SimpleNamespace(compile_using_nvrtc=compile_using_nvrtc),
            function=types.SimpleNamespace(Module=Module),
            nvrtc=types.SimpleNamespace(getVersion=lambda: (13, 0)),
            Device=lambda: types.SimpleNamespace(compute_capability="90"))


def gpu_module_arguments(source: str) -> dict:
    """The arguments ``fmtlib.kernels.gpu.module(source)`` gives CuPy's
    ``compile_using_nvrtc`` (code, options, filename, name_expressions, cache_in_memory),
    recorded by a stand-in cupy with an empty cache directory; gpu.module's cache is bypassed,
    so nothing of the stand-in stays behind."""
    import tempfile

    from fmtlib.kernels import gpu

    fake = FakeCupy()
    with pytest.MonkeyPatch.context() as mp, tempfile.TemporaryDirectory() as cache:
        mp.setitem(sys.modules, "cupy", fake)
        mp.setenv("CUPY_CACHE_DIR", cache)
        getattr(gpu.module, "__wrapped__", gpu.module)(source)
    (seen,) = fake.compiles
    assert set(seen) >= {"code", "options", "name_expressions"}, f"gpu.module passes {sorted(seen)}"
    return seen


@pytest.fixture(scope="module")
def nvrtc():
    path = NV.find_library()
    needs(path is not None, "the nvidia-cuda-nvrtc wheel is not installed (pip install -e '.[dev]', Linux)")
    return NV.NVRTC(path)


@pytest.fixture(scope="module")
def compiled(nvrtc):
    """Every (source, arch) with gpu.py's arguments and CuPy's options, in one process per core:
    about 40 s of CPU in all."""
    jobs = {}
    for source in SOURCES:
        kw = gpu_module_arguments(source)
        for arch in ARCHS:
            jobs[source, arch] = (kw["code"], source, NV.cupy_options(kw["options"], arch),
                                  list(kw["name_expressions"]))
    return NV.compile_many(nvrtc.path, jobs, min(len(jobs), len(os.sched_getaffinity(0)), 8))


def test_nvrtc_is_a_cuda_13_wheel(nvrtc):
    """The wheel's NVRTC knows sm_100 (CUDA 12.8 and later; the dev extra asks for 13)."""
    assert nvrtc.version >= (12, 8), f"{nvrtc.path}: NVRTC {nvrtc.version}"


def test_every_cu_file_is_compiled_by_the_backend():
    """The sources compiled here are the ones the GPU backend and the nvcc test know."""
    assert SOURCES == sorted(cuda_host.CUDA_SOURCES)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("source", SOURCES)
def test_nvrtc_compiles_as_cupy_does(compiled, source, arch):
    """NVRTC compiles the source with gpu.py's options plus CuPy's; every name expression
    lowers to a mangled name that is a kernel entry of the PTX for this arch; the cubin and PTX
    are not empty."""
    r = compiled[source, arch]
    assert r.ok, f"NVRTC {source} for {arch} with {' '.join(r.options)}:\n{r.log}"
    assert r.lowered, f"{source}: no name expressions"
    missing = [e for e, low in r.lowered.items() if not low]
    assert not missing, f"{source} for {arch}: name expressions that do not resolve: {missing}\n{r.log}"
    entries = set(re.findall(r"\.entry\s+(\w+)", r.ptx))
    not_kernels = [e for e, low in r.lowered.items() if low not in entries]
    assert not not_kernels, f"{source} for {arch}: not kernel entries of the module: {not_kernels}"
    assert re.search(rf"^\.target\s+{arch}\b", r.ptx, re.M), f"{source}: PTX is not for {arch}"
    assert len(r.cubin) > 0 and r.cubin[:4] == b"\x7fELF", f"{source} for {arch}: no cubin"


@pytest.mark.parametrize("source", SOURCES)
def test_no_fma_contraction(compiled, source):
    """``--fmad=false`` holds: no fused multiply-add in the PTX (every operation must round; without
    the option, codebook.cu's double-double arithmetic contracts to ``fma.rn.f64``)."""
    for arch in ARCHS:
        fma = sorted(set(re.findall(r"\bfma\.[\w.]+", compiled[source, arch].ptx)))
        assert not fma, f"{source} for {arch}: {fma}"


def test_cupys_ftz_overrides_the_callers(nvrtc):
    """Why fmtlib does not compile with ``cupy.RawModule(code=...)``: NVRTC takes the last
    ``-ftz``, and RawModule's ``-ftz=true`` comes after the caller's options, so a
    ``--ftz=false`` would not survive it. The options fmtlib's build hands NVRTC keep it."""
    code = 'extern "C" __global__ void k(float* a, double* d) { a[0] = a[1] * a[2]; d[0] = (double)a[3]; }'
    flushed = []
    for opts in (("--ftz=false",), ()):
        r = nvrtc.compile(code, "k.cu", NV.raw_module_options(opts, "sm_90"), [])
        assert r.ok, r.log
        flushed.append(sorted(set(re.findall(r"\b(?:mul|cvt)[\w.]*\.ftz[\w.]*", r.ptx))))
    assert "cvt.ftz.f64.f32" in flushed[0] and flushed[0] == flushed[1], flushed
    r = nvrtc.compile(code, "k.cu", NV.cupy_options(("--ftz=false",), "sm_90"), [])
    assert r.ok and ".ftz" not in r.ptx, r.log


@pytest.mark.parametrize("source", SOURCES)
def test_no_float32_flush_to_zero(compiled, source):
    """No ``.ftz`` float32 instruction (add, mul, div, rcp, compare, min/max, float<->double
    conversion) in the PTX of the options the GPU backend compiles with: float32 subnormals
    are kept, as on the CPU (nvfp4.cu, codebook.cu, mx.cu and lanes.cu do float32 arithmetic:
    NVFP4's recipes, the bitsandbytes absmax recipe, a code book's fl32(amax), the MX and the
    element lane kernels)."""
    for arch in ARCHS:
        ftz = sorted(set(re.findall(r"\b[a-z]+(?:\.\w+)*\.ftz(?:\.\w+)*", compiled[source, arch].ptx)))
        assert not ftz, f"{source} for {arch}: {ftz}"


def test_the_sources_that_need_it_flush_under_raw_modules_options(nvrtc):
    """The test above can fail: with RawModule's options, nvfp4.cu, codebook.cu, mx.cu (the MX
    lane kernel's float32 scaling) and lanes.cu (the element lane kernels' float32 rounding
    below the smallest normal, float16 widening and decode scaling) do flush."""
    from fmtlib.kernels import gpu_build

    for source in ("nvfp4.cu", "codebook.cu", "mx.cu", "lanes.cu"):
        kw = gpu_module_arguments(source)
        r = nvrtc.compile(kw["code"], source, NV.raw_module_options(gpu_build.OPTIONS, "sm_90"),
                          list(kw["name_expressions"]))
        assert r.ok, r.log
        assert re.search(r"\.ftz\.f32", r.ptx), source


# --- the build's cache ------------------------------------------------------------------------

@pytest.fixture
def fake_build(monkeypatch, tmp_path):
    """gpu_build.build against a FakeCupy, with CUPY_CACHE_DIR in tmp_path."""
    from fmtlib.kernels import gpu, gpu_build

    fake = FakeCupy()
    monkeypatch.setenv("CUPY_CACHE_DIR", str(tmp_path / "cache"))
    return fake, (lambda source="sdr.cu": gpu_build.build(fake, source, gpu._names(source))), tmp_path / "cache"


def test_build_looks_kernels_up_by_their_lowered_names(fake_build):
    fake, build, _ = fake_build
    m = build("sdr.cu")
    assert m.get_function("fmt_sdr<uint8_t>") == ("function", "_Z16fmt_sdr<uint8_t>")
    with pytest.raises(KeyError, match="fmt_nvfp4_encode<uint32_t> is not a kernel this module"):
        m.get_function("fmt_nvfp4_encode<uint32_t>")
    (call,) = fake.compiles
    assert call["options"] == gpu_build_options() and call["filename"] == "sdr.cu"
    assert fake.loaded == [b"cubin:sdr.cu"]


def gpu_build_options():
    from fmtlib.kernels import gpu_build
    return gpu_build.OPTIONS


def test_build_compiles_once_and_loads_from_the_cache(fake_build):
    fake, build, cache = fake_build
    build(), build()
    assert len(fake.compiles) == 1 and fake.loaded == [b"cubin:sdr.cu"] * 2
    (f,) = cache.iterdir()
    assert f.name.startswith("fmtlib-sdr.cu-")
    build("nvfp4.cu")
    assert len(fake.compiles) == 2 and len(list(cache.iterdir())) == 2


@pytest.mark.parametrize("damage", ["torn", "flipped", "foreign"])
def test_a_damaged_cache_file_is_recompiled_not_loaded(fake_build, damage):
    fake, build, cache = fake_build
    build()
    (f,) = cache.iterdir()
    data = f.read_bytes()
    f.write_bytes({"torn": data[:-3], "flipped": data[:-1] + bytes([data[-1] ^ 1]),
                   "foreign": b"\x7fELF" + data[4:]}[damage])
    build()
    assert len(fake.compiles) == 2 and fake.loaded == [b"cubin:sdr.cu"] * 2
    assert f.read_bytes() == data          # rewritten whole


def test_the_cache_key_covers_headers_device_and_versions(fake_build, monkeypatch, tmp_path):
    """A different device arch, CuPy or NVRTC version, or a changed header, compiles anew."""
    from fmtlib.kernels import gpu_build

    fake, build, cache = fake_build
    build()
    fake.cuda.Device = lambda: types.SimpleNamespace(compute_capability="100")
    build()
    fake.__version__ = "15.0.0"
    build()
    fake.cuda.nvrtc.getVersion = lambda: (13, 1)
    build()
    assert len(fake.compiles) == 4
    cuda = tmp_path / "cuda"
    shutil.copytree(cuda_host.CUDA_DIR, cuda)
    monkeypatch.setattr(gpu_build, "CUDA_DIR", cuda)
    build()
    assert len(fake.compiles) == 4
    with open(cuda / "fmt_scalar.cuh", "a") as f:
        f.write("\n// changed\n")
    build()
    assert len(fake.compiles) == 5


def test_an_unwritable_cache_costs_a_recompile_only(fake_build, monkeypatch):
    fake, build, cache = fake_build
    cache.parent.joinpath("cache").write_text("a file, not a directory")
    build(), build()
    assert len(fake.compiles) == 2 and fake.loaded == [b"cubin:sdr.cu"] * 2


# --- the host code built by nvcc ---------------------------------------------------------------

@pytest.fixture(scope="module")
def nvcc_lib(tmp_path_factory):
    """host_api.cpp built by nvcc with cuda_host's own nvcc command (the one it uses when no
    g++ is found), compiled afresh in a temporary directory."""
    needs(shutil.which("nvcc") is not None, "nvcc is not installed")
    which = shutil.which
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("FMTLIB_CXX", raising=False)
        mp.setattr(cuda_host.shutil, "which", lambda name, *a, **k: which(name, *a, **k) if name == "nvcc" else None)
        cmd = cuda_host.host_compiler()
        assert cmd[0] == "nvcc" and cmd[cmd.index("-x") + 1] == "cu", cmd
        path = cuda_host.build(tmp_path_factory.mktemp("nvcc-host"))
    return cuda_host.HostLib(path)


@pytest.fixture(scope="module")
def gxx_lib():
    cmd = cuda_host.host_compiler()
    needs(cmd is not None and cmd[0] != "nvcc", "no g++/c++/clang++ build to compare the nvcc build with")
    return cuda_host.load()


def _same(a, b, what):
    for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        if isinstance(x, np.ndarray):
            bad = np.flatnonzero(x.reshape(-1) != y.reshape(-1))
            assert bad.size == 0, f"{what}: {bad.size} differences, first at {bad[:5]}"
        else:
            assert x == y, f"{what}: {x} != {y}"


def _float32_sample(rng, shape):
    """float32 over the whole exponent range, with zeros, subnormals, inf and NaN."""
    x = (rng.standard_normal(shape) * np.exp2(rng.integers(-140, 120, (shape[0], 1)))).astype(np.float32)
    x[0, :5] = 0.0
    x[1, 3] = np.inf
    x[2, 0] = np.nan
    x[3] = np.float32(1e-42)
    return x


KEY, BASE = 0x1234_5678_9ABC_DEF0, 1000


def test_nvcc_host_build_elementwise(nvcc_lib, gxx_lib):
    """Every float16 pattern into e4m3fn, e2m1, e5m2 and int8 (encode and fused quantize) in
    every rounding mode, every code back to float32 and float64, and fmtlib-rng-v1: the nvcc
    build gives the g++ build's bits."""
    bits = np.arange(1 << 16, dtype=np.uint64)
    P16 = kernel_params(get_format("fp16"))
    for name, fmt in (("e4m3fn", get_format("e4m3fn")), ("e2m1", get_format("e2m1")), ("e5m2", get_format("e5m2")),
                      ("int8", IntFormat(8))):
        Pd = kernel_params(fmt)
        for mode in Rounding:
            for fn in ("convert", "roundtrip"):
                _same(getattr(nvcc_lib, fn)(bits, P16, Pd, int(mode), 0, KEY, BASE, 13),
                      getattr(gxx_lib, fn)(bits, P16, Pd, int(mode), 0, KEY, BASE, 13), f"{fn} {name} {mode.name}")
        codes = np.arange(fmt.num_codes, dtype=np.uint64)
        for out in ("fp32", "fp64"):
            Po = kernel_params(get_format(out))
            _same(nvcc_lib.convert(codes, Pd, Po), gxx_lib.convert(codes, Pd, Po), f"decode {name} {out}")
    _same(nvcc_lib.rand(KEY, 5, 1000, 29), gxx_lib.rand(KEY, 5, 1000, 29), "rand")


def test_nvcc_host_build_every_function(nvcc_lib, gxx_lib):
    """Every function of host_api.cpp: element-wise, MX (and its 32-bit lane path on float32
    rows and every bfloat16 and float16 pattern), NVFP4 (both recipes, global scale),
    Scaled with a float scale, code books (Quantile, fp32 and absmax scales, decode), SDR and
    BitStream; encode, fused quantize and decode of float32 rows with subnormals, inf and NaN,
    nearest and stochastic: the same bits from both builds."""
    from fmtlib import MX, NVFP4, Quantile, Scaled
    from fmtlib.codecs.nvfp4 import RECIPES
    from fmtlib.codecs.quantile import bnb_thresholds

    rng = np.random.default_rng(0)
    x = _float32_sample(rng, (32, 96))
    xb = x.view(np.uint32)
    P32 = kernel_params(get_format("fp32"))
    modes = (Rounding.NEAREST_EVEN, Rounding.STOCHASTIC)
    P8 = kernel_params(get_format("e4m3fn"))
    x64 = xb.reshape(-1).astype(np.uint64)
    calls = [("rand", "rand", (KEY, 0, 100, 29))]
    for fn in ("convert", "roundtrip"):
        calls += [(f"{fn} fp32 e4m3fn {m.name}", fn, (x64, P32, P8, int(m), 1, KEY, BASE, 13)) for m in Rounding]
    for mode in modes:
        key = KEY if mode is Rounding.STOCHASTIC else 0
        for name in ("mxfp4", "mxint8"):
            c = MX(name, block=32, rounding=mode)
            calls.append((f"mx {name} {mode.name}", "mx_encode",
                          (xb, 96, 32, P32, kernel_params(c.element), c._scale_params, int(mode), key, BASE, 62)))
            calls.append((f"mx {name} {mode.name} fused", "mx_encode",
                          (xb, 96, 32, P32, kernel_params(c.element), c._scale_params, int(mode), key, BASE, 62, True)))
            codes, scales, _ = gxx_lib.mx_encode(xb, 96, 32, P32, kernel_params(c.element), c._scale_params)
            calls.append((f"mx decode {name}", "mx_decode", (codes, scales, 96, 32, kernel_params(c._decoded_element),
                                                             P32, c._scale_params[4])))
        for recipe in RECIPES:
            c = NVFP4(recipe=recipe, global_scale=True, rounding=mode)
            G, ta = c._global(float(np.nanmax(np.abs(np.where(np.isfinite(x), x, 0)))))
            ev, sv = c._tables()
            args = (xb, 96, 16, P32, P32, kernel_params(c.element), kernel_params(c.scale_format), ev, sv,
                    RECIPES[recipe], G, ta, int(mode), key, BASE, 62)
            calls.append((f"nvfp4 {recipe} {mode.name}", "nvfp4_encode", args))
            calls.append((f"nvfp4 {recipe} {mode.name} fused", "nvfp4_encode", args + (True,)))
            codes, scales, _ = gxx_lib.nvfp4_encode(*args)
            calls.append((f"nvfp4 decode {recipe}", "nvfp4_decode",
                          (codes, scales, 96, 16, P32, ev, sv, RECIPES[recipe], G, ta)))
        c = Scaled("e2m1", "fp32", block=32, rounding=mode)
        _, R = c._global(x, None)
        args = (xb, 96, 32, P32, kernel_params(c.element), kernel_params(c.scale_format), R, c._smin_code(),
                int(mode), key, BASE, 20)
        calls.append((f"scaled {mode.name}", "scaled_encode", args))
        calls.append((f"scaled {mode.name} fused", "scaled_encode", args + (True,)))
        q = Quantile.nf4()
        book = cuda_host.book_arrays(q, int(mode))
        calls.append((f"quantile {mode.name}", "quantile_encode", (xb, P32, book, int(mode), key, BASE, 17)))
        calls.append((f"book scaled {mode.name}", "book_scaled_encode", (xb, 96, 32, P32, book, int(mode), key, 0, 17)))
        calls.append((f"book scaled {mode.name} fused", "book_scaled_encode",
                      (xb, 96, 32, P32, book, int(mode), key, 0, 17, True)))
    c = Scaled("e2m1", "fp32", block=32)
    codes, scales, _, _ = gxx_lib.scaled_encode(xb, 96, 32, P32, kernel_params(c.element),
                                                kernel_params(c.scale_format), c._global(x, None)[1], c._smin_code())
    calls.append(("scaled decode", "scaled_decode", (codes, scales, 96, 32, kernel_params(c.element),
                                                     kernel_params(c.scale_format), P32, c._global(x, None)[1])))
    q = Quantile.nf4()
    T = q._tables()
    absmax = (xb, 96, 32, np.asarray(q.levels, np.float32), bnb_thresholds(q.levels), T["code_of"], T["nan_index"])
    calls.append(("book absmax", "book_absmax_encode", absmax))
    calls.append(("book absmax fused", "book_absmax_encode", absmax + (True,)))
    codes, scales, _ = gxx_lib.book_absmax_encode(*absmax)
    for a in (False, True):
        calls.append((f"book decode absmax={a}", "book_decode",
                      (codes, q.value_table(np.float64), P32, scales, 96, 32, a)))
    rows = rng.integers(-128, 128, (9, 70)).astype(np.int64)
    calls.append(("sdr", "sdr", (rows, 16, 3, 0, -128, 127)))
    calls.append(("sdr fused", "sdr", (rows, 16, 3, 1, -128, 127, -2**31, 2**31 - 1, True)))
    sc, sf, _, _, _ = gxx_lib.sdr(rows, 16, 3, 0, -128, 127)
    calls.append(("sdr decode", "sdr_decode", (sc, sf, 16, 3)))
    for k in (3, 7, 13, 32):
        codes = rng.integers(0, 1 << k, (5, 37), dtype=np.uint64)
        for msb in (False, True):
            calls.append((f"pack {k} msb={msb}", "stream_pack", (codes, k, msb)))
            buf = gxx_lib.stream_pack(codes, k, msb)
            calls.append((f"unpack {k} msb={msb}", "stream_unpack", (buf, 37, k, msb)))
    from fmtlib.kernels import fast_path

    for src, bits in (("fp16", np.arange(1 << 16, dtype=np.uint16)), ("fp32", xb.reshape(-1)),
                      ("fp64", x.astype(np.float64).view(np.uint64).reshape(-1))):
        for name in ("e2m1", "e4m3fn"):
            fmt, sfmt = get_format(name), get_format(src)
            for mode in (Rounding.NEAREST_EVEN, Rounding.STOCHASTIC, Rounding.ODD):
                C, special = fast_path.constants(fmt, sfmt, int(mode), 1)
                args = (bits, C, special, None, int(mode), KEY, BASE, 20)
                calls.append((f"fast {src}->{name} {mode.name}", "fast", args))
                calls.append((f"fast encode {src}->{name} {mode.name}", "fast",
                              args[:3] + (fast_path.code_constants(fmt, sfmt),) + args[4:]))
    from fmtlib.kernels import gpu

    for src in ("fp32", "bf16", "fp16"):   # the MX 32-bit lane path: float32, bfloat16, float16 bits
        sfmt = get_format(src)
        bits = xb.astype(np.uint32) if src == "fp32" else np.arange(1 << 16, dtype=np.uint32).reshape(-1, 128)
        for name in ("mxfp4", "mxfp8_e4m3", "mxint8"):
            for mode in (Rounding.NEAREST_EVEN, Rounding.STOCHASTIC):
                c = MX(name, scale_rule="rceil" if name == "mxint8" else "floor", rounding=mode)
                stoch = mode is Rounding.STOCHASTIC
                args = (bits, bits.shape[-1], 32, gpu.mx32_constants(c.element, sfmt, int(mode), c._scale_params[4]),
                        fast_path.lanes32_kind(sfmt), name == "mxint8", c._scale_params, stoch, KEY if stoch else 0,
                        BASE, 20)
                calls.append((f"mx32 {src} {name} {mode.name}", "mx32_encode", args))
                calls.append((f"mx32 {src} {name} {mode.name} fused", "mx32_encode", args + (True,)))
    for src in ("fp32", "bf16", "fp16"):   # the element lane path: float32, bfloat16, float16 bits
        sfmt = get_format(src)
        bits = xb.reshape(-1) if src == "fp32" else np.arange(1 << 16, dtype=np.uint16)
        kind = fast_path.lanes32_kind(sfmt)
        for name in ("e2m1", "e4m3fn", "e5m2fnuz"):
            fmt = get_format(name)
            K32, special = fast_path.nearest32_constants(fmt, sfmt, 0, 1)
            E, codes = fast_path.encode32_constants(fmt, 0, 1)
            calls.append((f"lanes quantize {src}->{name}", "lanes", ("quantize", bits, (K32, special), kind)))
            calls.append((f"lanes encode {src}->{name}", "lanes", ("encode", bits, (K32, E, codes), kind)))
            Ks, sps = fast_path.nearest32_constants(fmt, sfmt, int(Rounding.STOCHASTIC), 1)
            calls.append((f"lanes stochastic {src}->{name}", "lanes",
                          ("quantize", bits, (Ks, sps), kind, None, True, KEY, BASE, 20)))
            codes = np.arange(fmt.num_codes, dtype=np.uint8)
            calls.append((f"lanes decode {name}->{src}", "lanes",
                          ("decode", codes, fast_path.decode32_constants(fmt, sfmt), kind)))
    for what, fn, args in calls:
        _same(getattr(nvcc_lib, fn)(*args), getattr(gxx_lib, fn)(*args), what)
    c_name = {"convert": "elementwise", "roundtrip": "elementwise"}
    used = {"fmt_host_" + c_name.get(fn, fn) for _, fn, _ in calls}
    defined = set(re.findall(r"\b(fmt_host_\w+)\s*\(", (cuda_host.CUDA_DIR / "host_api.cpp").read_text()))
    assert used == defined, f"not compared: {sorted(defined - used)}"
