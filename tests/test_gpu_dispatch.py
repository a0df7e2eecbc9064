"""The GPU backend's dispatch, end to end, on a stand-in for cupy whose kernels run on the SIMT
host runner (tests/simt/): the CUDA sources gpu.py compiles, unchanged, launched with the grid,
block and arguments gpu.py gives them (checked against each kernel's C parameters), every thread
of every block, warp shuffles and atomics included. Every result, shape, view and record is
checked against the CPU codecs, bit for bit. tests/gpu/ runs the same methods on a GPU."""
import contextlib
import hashlib
import os
import types
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from conftest import needs
from fmtlib import FP, MX, NVFP4, SDR, Int, QRazor, Quantile, Rounding, Scaled
from fmtlib.transforms import Chain, Clip, Hadamard
from fmtlib.kernels import cuda_host, gpu

import simt

needs(simt.compiler() is not None, "no C++ compiler for the SIMT runner", module=True)


class DeviceArray(np.ndarray):
    """A numpy array that says it is a cupy array."""

    @property
    def __cuda_array_interface__(self):
        return {"data": (self.__array_interface__["data"][0], False)}


DeviceArray.__module__ = "cupy"


def dev(a):
    return np.ascontiguousarray(a).view(DeviceArray)


def host(a):
    return np.asarray(a).view(np.ndarray)


#: every kernel launched (its name expression), for the tests that check which path ran
launched = []
#: (grid, block) pairs each launch is run again with, its outputs compared (test_every_kernel_with_small_grids)
replays = []


def fast_launches():
    """The element fast-path launches: fast.cu's and lanes.cu's."""
    return [n for n in launched if n.startswith(("fmt_fast<", "fmt_lanes_"))]


def element_kernels(dtype, code_dtype, mode) -> list:
    """The kernels an element encode and then quantize of ``dtype`` input launch on the fast
    path: the lane kernels (lanes.cu) where the CPU takes its own (float32, bfloat16, float16
    input; nearest-even or floor-on-overflow; stochastic quantize), else fmt_fast."""
    S, D = f"uint{8 * np.dtype(dtype).itemsize}_t", f"uint{8 * np.dtype(code_dtype).itemsize}_t"
    lanes = np.dtype(dtype).itemsize in (2, 4)
    nearest = mode in (Rounding.NEAREST_EVEN, Rounding.FLOOR_ON_OVERFLOW)
    encode = f"fmt_lanes_encode<{S}, {D}>" if lanes and nearest else f"fmt_fast<{S}, {D}>"
    quantize = (f"fmt_lanes_quantize<{S}>" if lanes and (nearest or mode is Rounding.STOCHASTIC)
                else f"fmt_fast<{S}, {S}>")
    return [encode, quantize]


class Kernel(simt.Kernel):
    """A launch through the SIMT runner, recorded; with ``replays``, run again from the same
    inputs with each other configuration, every output the kernel writes compared byte for byte."""

    def __call__(self, grid, block, args, **kw):
        launched.append(self.name)
        outs = [a for a, p in zip(args, self.params) if p.startswith("*")]   # the non-const pointers
        before = [a.copy() for a in outs] if replays else []
        super().__call__(grid, block, args, **kw)
        after = [a.copy() for a in outs]
        for g, b in replays:
            for a, s in zip(outs, before):   # in place: an output that is also an input is restored too
                a[...] = s
            super().__call__(g, b, args, **kw)
            for k, (a, w) in enumerate(zip(outs, after)):
                assert np.array_equal(a.view(np.uint8), w.view(np.uint8)), \
                    f"{self.name}: output {k} differs with grid {g}, block {b} from grid {grid}, block {block}"


class FakeModule(simt.RawModule):
    def get_function(self, name):
        super().get_function(name)
        return Kernel(self, name)


def garbage(a):
    """``a`` filled with the byte 0xA5, as an uninitialised device array may hold anything: an
    element a kernel leaves unwritten does not come out right by chance."""
    a.reshape(-1).view(np.uint8).fill(0xA5)
    return dev(a)


#: the sources "compiled" by the stand-in's compile_using_nvrtc, by the handle it returns
_programs = {}


def compile_using_nvrtc(code, *, options, filename, name_expressions, cache_in_memory):
    """cupy.cuda.compiler's NVRTC step as fmtlib.kernels.gpu_build calls it: the "binary" is a
    handle to the program, which the stand-in Module builds with the SIMT runner; each name
    expression is its own lowered name (the runner looks kernels up by name expression)."""
    assert cache_in_memory and filename.endswith(".cu")
    handle = b"simt:" + hashlib.sha256(repr((code, tuple(options), list(name_expressions))).encode()).digest()
    _programs[handle] = (code, tuple(options), list(name_expressions))
    return handle, {e: e for e in name_expressions}


class Module:
    """cupy.cuda.function.Module: load() takes a handle from compile_using_nvrtc."""

    def load(self, binary):
        code, options, names = _programs[binary]
        self.module = FakeModule(code=code, options=options, name_expressions=names)

    def get_function(self, name):
        return self.module.get_function(name)


def device_arrays():
    """cupy on DeviceArray (numpy memory that says it is on the device): its array functions,
    and the compiler, Module, NVRTC version and device that fmtlib.kernels.gpu_build uses."""
    return types.SimpleNamespace(
        __version__="14.0.0",
        cuda=types.SimpleNamespace(compiler=types.SimpleNamespace(compile_using_nvrtc=compile_using_nvrtc),
                                   function=types.SimpleNamespace(Module=Module),
                                   nvrtc=types.SimpleNamespace(getVersion=lambda: (13, 0)),
                                   Device=lambda: types.SimpleNamespace(compute_capability="90")),
        asarray=dev, ascontiguousarray=dev,
        empty=lambda shape, dtype: garbage(np.empty(shape, dtype)),
        int64=np.int64,
        zeros=lambda shape, dtype: dev(np.zeros(shape, dtype)),
        full=lambda shape, v, dtype: dev(np.full(shape, v, dtype)),
        asnumpy=host, may_share_memory=np.may_share_memory,
        concatenate=lambda arrays, axis=0: dev(np.concatenate([host(a) for a in arrays], axis=axis)),
        clip=lambda a, lo, hi: dev(np.clip(host(a), host(lo) if isinstance(lo, np.ndarray) else lo,
                                           host(hi) if isinstance(hi, np.ndarray) else hi)),
        empty_like=lambda a: garbage(np.empty_like(host(a))),
        moveaxis=lambda a, s, d: np.moveaxis(a, s, d).view(DeviceArray),
        where=np.where, isfinite=np.isfinite, abs=np.abs)


def patch_backend(mp, fake) -> None:
    """``backend()`` answers ``fake()`` wherever fmtlib calls it: fmtlib._backend and every
    module that imported the function by name (the GPU launches, the codecs' seam)."""
    import sys

    from fmtlib import _backend

    real = _backend.backend
    for name, mod in list(sys.modules.items()):
        if name.split(".")[0] == "fmtlib" and getattr(mod, "backend", None) is real:
            mp.setattr(mod, "backend", fake)


CACHES = (gpu.module, gpu.params_on_device, gpu.tables_on_device, gpu.book_on_device, gpu.values_on_device)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Every module gpu.py compiles, built for the runner once (in parallel; cached on disk by
    the hash of the source, options, name expressions and headers); the stand-in's CuPy cache
    directory (a temporary one: gpu_build writes the handles there)."""
    cache = tmp_path_factory.mktemp("cupy-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CUPY_CACHE_DIR", str(cache))
        patch_backend(mp, lambda: device_arrays())
        with ThreadPoolExecutor(max(1, min(len(cuda_host.CUDA_SOURCES), len(os.sched_getaffinity(0))))) as ex:
            list(ex.map(getattr(gpu.module, "__wrapped__", gpu.module), cuda_host.CUDA_SOURCES))
    return cache


@pytest.fixture
def fake_cupy(monkeypatch, built):
    monkeypatch.setenv("CUPY_CACHE_DIR", str(built))
    cp = device_arrays()
    patch_backend(monkeypatch, lambda: cp)
    for c in CACHES:
        c.cache_clear()
    yield cp
    for c in CACHES:
        c.cache_clear()
    replays.clear()


def data(shape, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    with np.errstate(over="ignore"):   # float16 overflows to inf: a case to carry too
        x = (rng.standard_normal(shape) * np.exp2(rng.integers(-20, 20, shape))).astype(dtype)
    x.reshape(-1)[:3] = [np.inf, np.nan, 0.0]
    return x


@pytest.mark.parametrize("codec", [FP("e2m1"), FP("e4m3fn", overflow="saturate"), FP("e5m2", rounding="toward_zero"),
                                   FP("bf16"), Int(8), Int(4, rounding="stochastic"), FP("e3m2", rounding="stochastic"),
                                   FP("e4m3", flush_subnormals=True), FP("fp16", flush_subnormals=True)], ids=repr)
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_element_codecs_on_the_device_path(fake_cupy, codec, dtype):
    x = data((7, 33), dtype)
    opts = {"seed": 5, "index_offset": 3} if codec.rounding.name == "STOCHASTIC" else {}
    codes = codec.encode(dev(x), **opts)
    assert type(codes) is DeviceArray and codes.shape == x.shape and codes.dtype == codec.code_dtype
    np.testing.assert_array_equal(host(codes), codec.encode(x, **opts))
    q = codec.quantize(dev(x), **opts)
    assert q.dtype == x.dtype
    np.testing.assert_array_equal(host(q).view(np.uint8), codec.quantize(x, **opts).view(np.uint8))
    for out in (np.float32, np.float64, np.float16):
        d = codec.decode(codes, dtype=out)
        np.testing.assert_array_equal(host(d).view(np.uint8), codec.decode(host(codes), dtype=out).view(np.uint8))


FAST_CODECS = ["e2m1", "e3m2", "e2m3", "e4m3fn", "e5m2", "e4m3", "e4m3fnuz", "bf16", "fp16"]


@pytest.mark.parametrize("mode", list(Rounding), ids=lambda m: m.name.lower())
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_fast_path_on_the_device_path(fake_cupy, dtype, mode):
    """Encode and quantize take the fast path exactly where the CPU takes its own (the lane
    kernels where the CPU takes its lane kernels, else fmt_fast), with the CPU's bits: every
    mode, a size that is not a multiple of 4, and a view one element in (the kernels' unaligned
    path)."""
    from fmtlib._arrays import dtype_format
    from fmtlib.kernels import fast_path

    x = data((7, 33), dtype, seed=1)
    opts = {"seed": 5, "index_offset": 3, "rbits": 20} if mode is Rounding.STOCHASTIC else {}
    for name in FAST_CODECS:
        codec = FP(name, rounding=mode)
        fast = fast_path.eligible(codec.format, dtype_format(np.dtype(dtype)), False)
        for xs in (x, x.reshape(-1)[1:]):
            launched.clear()
            codes = codec.encode(dev(xs), **opts)
            np.testing.assert_array_equal(host(codes), codec.encode(xs, **opts), err_msg=name)
            q = codec.quantize(dev(xs), **opts)
            np.testing.assert_array_equal(host(q).view(np.uint8), codec.quantize(xs, **opts).view(np.uint8),
                                          err_msg=name)
            want = element_kernels(dtype, codes.dtype, mode) if fast else []
            assert fast_launches() == want, (name, launched)


def test_generic_kernel_where_the_cpu_has_no_fast_path(fake_cupy):
    """rand=, flush_subnormals, integer formats and formats the input cannot hold take fmt_convert."""
    x = data((6, 40), seed=9) * np.float32(2.0 ** -10)
    r = np.random.default_rng(1).integers(0, 1 << 12, x.shape).astype(np.int32)
    for codec, opts in ((FP("e2m1", rounding="stochastic"), {"rand": r, "rbits": 12}),
                        (FP("e4m3", flush_subnormals=True), {}), (Int(8), {}), (FP("e8m0"), {})):
        launched.clear()
        dopts = {k: dev(v) if isinstance(v, np.ndarray) else v for k, v in opts.items()}
        np.testing.assert_array_equal(host(codec.encode(dev(x), **dopts)), codec.encode(x, **opts))
        np.testing.assert_array_equal(host(codec.quantize(dev(x), **dopts)).view(np.uint32),
                                      codec.quantize(x, **opts).view(np.uint32))
        assert fast_launches() == [], (codec, launched)


@pytest.mark.parametrize("name,block,axis", [("mxfp4", 32, -1), ("mxfp8_e4m3", 32, 0), ("mxfp6_e3m2", 16, -1),
                                             ("mxint8", 32, 1)])
@pytest.mark.parametrize("rounding", ["nearest_even", "stochastic"])
def test_mx_on_the_device_path(fake_cupy, name, block, axis, rounding):
    c = MX(name, block=block, axis=axis, rounding=rounding)
    x = data((40, 70), seed=3)
    opts = {"seed": 9} if rounding == "stochastic" else {}
    enc = c.encode(dev(x), **opts)
    want = c.encode(x, **opts)
    assert type(enc.codes) is DeviceArray and enc.axis == want.axis and enc.shape == want.shape
    np.testing.assert_array_equal(host(enc.codes), want.codes)
    np.testing.assert_array_equal(host(enc.scales), want.scales)
    np.testing.assert_array_equal(host(c.quantize(dev(x), **opts)).view(np.uint32), c.quantize(x, **opts).view(np.uint32))
    np.testing.assert_array_equal(host(c.decode(enc)).view(np.uint32), c.decode(want).view(np.uint32))


MX_FAST = ["mxfp4", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp8_e4m3", "mxfp8_e5m2"]


@pytest.mark.parametrize("mode", list(Rounding), ids=lambda m: m.name.lower())
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_mx_fast_path_on_the_device_path(fake_cupy, dtype, mode):
    """MX encode and quantize take fmt_mx_encode_fast exactly where fast_path.mx_eligible holds
    and mx32_eligible does not (the CPU takes its threshold or exponent-shift kernel there;
    fmt_mx32_encode, the CPU's 32-bit lane kernels, takes the rest), with the CPU's
    bits: every mode, every float element, blocks from input subnormals (scaled
    up: the generic helpers) to values scaled below the input's normal range (tiny, or generic
    under stochastic rounding), inf/NaN blocks, ragged blocks, and rand=."""
    from fmtlib._arrays import dtype_format
    from fmtlib.kernels import fast_path

    rng = np.random.default_rng(17)
    lo = {np.float16: -30, np.float32: -160, np.float64: -1100}[dtype]
    e = np.clip(rng.integers(lo, 16, (24, 1)) + rng.integers(-30, 2, (24, 70)), lo, 15)
    with np.errstate(over="ignore", under="ignore"):
        x = (rng.standard_normal((24, 70)) * np.exp2(e.astype(np.float64))).astype(dtype)
    x[0, :3] = [np.inf, 1.0, 0.5]
    x[1, 40] = np.nan
    x[2] = 0
    opts = {"seed": 5, "index_offset": 3, "rbits": 20} if mode is Rounding.STOCHASTIC else {}
    r = rng.integers(0, 1 << 12, x.shape).astype(np.int32)
    for name in MX_FAST:
        codec = MX(name, rounding=mode)
        src = dtype_format(np.dtype(dtype))
        for o in ([opts, {"rand": r, "rbits": 12}] if mode is Rounding.STOCHASTIC else [opts]):
            fast = (fast_path.mx_eligible(codec.element, src)
                    and not fast_path.mx32_eligible(codec.element, src, int(mode), o.get("rand")))
            d = {k: dev(v) if isinstance(v, np.ndarray) else v for k, v in o.items()}
            launched.clear()
            enc, want = codec.encode(dev(x), **d), codec.encode(x, **o)
            np.testing.assert_array_equal(host(enc.codes), want.codes, err_msg=name)
            np.testing.assert_array_equal(host(enc.scales), want.scales, err_msg=name)
            np.testing.assert_array_equal(host(codec.quantize(dev(x), **d)).view(np.uint8),
                                          codec.quantize(x, **o).view(np.uint8), err_msg=name)
            assert [n.startswith("fmt_mx_encode_fast<") for n in launched] == [fast, fast], (name, launched)


#: codecs of power-of-two blocks for the 32-bit lane kernel (fmt_mx32_encode): every float MX
#: element, MXINT8, each scale rule, rows blocked along axis 0, ragged blocks of 16 and 8, and
#: Scaled e8m0 with an integer element (codes of 16 and 32 bits) and float ones (fp16 codes of
#: 16 bits; bf16, whose quantum is too small for the lanes: never the lane kernel), and one scale
#: per tensor (fmt_amax_bits, then fmt_mx32_encode_tensor)
MX32_CODECS = [*(MX(n) for n in MX_FAST), MX("mxint8"), MX("mxfp8_e4m3", axis=0, scale_rule="ceil"),
               MX("mxfp4", block=16, scale_rule="rceil"), MX("mxfp6_e2m3", scale_rule="even"),
               Scaled(Int(12), "e8m0", block=16, scale_rule="even"), Scaled(Int(24), "e8m0", block=16),
               Scaled("fp16", "e8m0", block=8, scale_rule="ceil"), Scaled("bf16", "e8m0", block=16),
               Scaled(Int(8), "e8m0", block=None, axis=None), Scaled("e4m3", "e8m0", block=None, axis=None,
                                                                     scale_rule="rceil")]


def mx32_data(dtype, shape=(12, 70), seed=23):
    """Rows of ``shape`` (ragged last blocks) from the input's subnormals to its largest values,
    blocks scaled below float32's normal range, inf/NaN blocks, an all-zero row, and (a 16-bit
    input) values near the input's max that the ceil rule rounds up to 2**16, inf in float16."""
    rng = np.random.default_rng(seed)
    lo, hi = {np.dtype(np.float32): (-160, 120), np.dtype(np.float16): (-30, 15)}.get(np.dtype(dtype), (-140, 120))
    e = np.clip(rng.integers(lo, hi, (shape[0], 1)) + rng.integers(-30, 2, shape), lo, hi)
    with np.errstate(over="ignore", under="ignore"):
        x = (rng.standard_normal(shape) * np.exp2(e.astype(np.float64))).astype(dtype)
    x[0, :3] = [np.inf, 1.0, 0.5]
    x[1, 40] = np.nan
    x[2] = 0
    x[3] = np.linspace(-65504, 65504, shape[1])
    x[4, 1::2] = -x[4, ::2][:x[4, 1::2].size]   # ties of sign across a block
    return x


def check_mx32(codec, x, mode, opts, lanes: bool):
    """Encode and quantize of device ``x`` by ``codec`` in ``mode``: fmt_mx32_encode (per
    tensor: fmt_mx32_encode_tensor) runs exactly where ``lanes``, and codes, scales and values
    are the CPU codec's bits (which runs its mx32 kernels there) and the CPU's generic kernel's
    (fast_path.disabled)."""
    from fmtlib.kernels import fast_path

    launched.clear()
    enc, q = codec.encode(dev(x), rounding=mode, **opts), codec.quantize(dev(x), rounding=mode, **opts)
    blocks = [n for n in launched if n.startswith("fmt_mx")]
    tensor = "_tensor" if codec.axis is None else ""
    assert [n.startswith(f"fmt_mx32_encode{tensor}<") for n in blocks] == [lanes, lanes], (codec, launched)
    want, wq = codec.encode(x, rounding=mode, **opts), codec.quantize(x, rounding=mode, **opts)
    with fast_path.disabled():
        gen, gq = codec.encode(x, rounding=mode, **opts), codec.quantize(x, rounding=mode, **opts)
    for w, wv in ((want, wq), (gen, gq)):
        np.testing.assert_array_equal(host(enc.codes), w.codes, err_msg=repr(codec))
        np.testing.assert_array_equal(host(enc.scales), w.scales, err_msg=repr(codec))
        np.testing.assert_array_equal(host(q).view(np.uint8), wv.view(np.uint8), err_msg=repr(codec))


@pytest.mark.parametrize("mode", [Rounding.NEAREST_EVEN, Rounding.STOCHASTIC, Rounding.FLOOR_ON_OVERFLOW,
                                  Rounding.TOWARD_ZERO], ids=lambda m: m.name.lower())
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_mx32_lanes_on_the_device_path(fake_cupy, dtype, mode):
    """MX and Scaled(e8m0) encode and quantize take fmt_mx32_encode exactly where
    fast_path.mx32_eligible holds (nearest-even, floor-on-overflow and stochastic without rand=;
    not toward zero), with the bits of the CPU's mx32 kernels and of its generic kernel."""
    from fmtlib._arrays import dtype_format
    from fmtlib.kernels import fast_path

    x = mx32_data(dtype)
    src = dtype_format(np.dtype(dtype))
    opts = {"seed": 5, "index_offset": 3, "rbits": 20} if mode is Rounding.STOCHASTIC else {}
    for codec in MX32_CODECS:
        check_mx32(codec, x, mode, opts, fast_path.mx32_eligible(codec.element, src, int(mode), None))
    if mode is Rounding.STOCHASTIC:   # rand= and the largest rbits
        r = np.random.default_rng(2).integers(0, 1 << 12, x.shape).astype(np.int32)
        check_mx32(MX("mxfp4"), x, mode, {"rand": r, "rbits": 12}, False)
        check_mx32(MX("mxfp8_e5m2"), x, mode, {"seed": 1, "rbits": 62}, True)


def test_mx32_lanes_in_grid_stride_loops(fake_cupy, monkeypatch):
    """fmt_mx32_encode with gpu.py's grid capped at 2 thread blocks (16 warps for 75 and 150
    blocks of 32 and 16), then replayed with one warp and with three blocks of three warps:
    each warp takes many blocks in its grid-stride loop, with the same bytes, and the CPU's."""
    monkeypatch.setattr(gpu, "MAX_BLOCKS", 2)
    replays.extend(SMALL_GRIDS)
    for dtype in (np.float32, np.float16):
        x = mx32_data(dtype, (30, 75), seed=29)
        for codec, mode, opts in ((MX("mxfp4"), Rounding.NEAREST_EVEN, {}),
                                  (MX("mxfp8_e4m3", block=16), Rounding.STOCHASTIC, {"seed": 3}),
                                  (MX("mxint8", axis=0), Rounding.STOCHASTIC, {"seed": 4, "index_offset": 7})):
            check_mx32(codec, x, mode, opts, True)


def test_mx32_lanes_of_bfloat16(fake_cupy, monkeypatch):
    """The bfloat16 kind of fmt_mx32_encode (kind 1: cupy has no bfloat16, so gpu.py reaches
    it only where an array holds bfloat16 bits): launched through gpu.py with bfloat16 viewed
    as its 16-bit bits, the CPU's bits in every eligible mode."""
    import ml_dtypes

    monkeypatch.setitem(gpu.FLOAT_BITS, np.dtype(ml_dtypes.bfloat16), np.uint16)
    x = mx32_data(ml_dtypes.bfloat16, seed=31)
    for mode, opts in ((Rounding.NEAREST_EVEN, {}), (Rounding.STOCHASTIC, {"seed": 8, "rbits": 16}),
                       (Rounding.FLOOR_ON_OVERFLOW, {})):
        for codec in (MX("mxfp4"), MX("mxfp6_e2m3", scale_rule="rceil"), MX("mxint8"),
                      Scaled(Int(8), "e8m0", block=16, scale_rule="even")):
            check_mx32(codec, x, mode, opts, True)


# --- the element lane kernels (lanes.cu) ------------------------------------------------------

#: the fast formats and small custom ones (e3m1 and e4m5 with IEEE specials; e8m15, 32-bit codes
#: from float32 only)
LANE_FORMATS = ["e2m1", "e3m2", "e2m3", "e4m3fn", "e5m2", "e4m3fnuz", "e5m2fnuz", "e3m1,specials=ieee",
                "e4m5,specials=ieee", "e8m15,specials=ieee"]
#: (rounding, rbits): nearest-even, floor-on-overflow, stochastic with 3, 33 and 62 random bits
LANE_MODES = [(Rounding.NEAREST_EVEN, None), (Rounding.FLOOR_ON_OVERFLOW, None), (Rounding.STOCHASTIC, 3),
              (Rounding.STOCHASTIC, 33), (Rounding.STOCHASTIC, 62)]


@pytest.fixture
def bf16_device(monkeypatch):
    """gpu.py with bfloat16 arrays as their 16-bit bits (cupy has no bfloat16: as the MX lane test)."""
    import ml_dtypes

    monkeypatch.setitem(gpu.FLOAT_BITS, np.dtype(ml_dtypes.bfloat16), np.uint16)
    return np.dtype(ml_dtypes.bfloat16)


def lane_inputs(dtype, names, n_random: int, seed: int = 0) -> np.ndarray:
    """Every 16-bit pattern (float16, bfloat16), or float32: random patterns over every binade,
    values near 1, tiny ones and subnormals, every value and midpoint of the formats ``names``
    with their neighbours one float32 ulp away, and the specials; both signs; 5 more elements
    than a multiple of 8 (a ragged tail after the last vector)."""
    from fmtlib.catalog import parse_format

    dt = np.dtype(dtype)
    if dt.itemsize == 2:
        bits = np.arange(1 << 16, dtype=np.uint16)
        return np.concatenate([bits, bits[[0, 1, 0x7C00, 0x7FFF, 0x8001]]]).view(dt)
    rng = np.random.default_rng(seed)
    m = n_random // 4
    raw = rng.integers(0, 1 << 32, m, dtype=np.uint64).astype(np.uint32)
    near = (rng.standard_normal(m) * np.exp2(rng.integers(-30, 30, m))).astype(np.float32).view(np.uint32)
    tiny = rng.integers(0, 1 << 25, m, dtype=np.uint64).astype(np.uint32)   # subnormals and the lowest normals
    edges = [np.array([0, 1, 0x7FFFFF, 0x800000, 0x7F7FFFFF, 0x7F800000, 0x7F800001, 0x7FC00000, 0x7FFFFFFF],
                      np.uint32)]
    for name in names:
        fmt = parse_format(name)
        if fmt.bits > 16:
            continue
        v = FP(fmt).decode(np.arange(fmt.num_codes, dtype=fmt.code_dtype), dtype=np.float64)
        v = np.unique(np.abs(v[np.isfinite(v)]))
        mids = np.concatenate([v, (v[:-1] + v[1:]) / 2, [v[-1] * 1.5, v[-1] * 2]]).astype(np.float32)
        b = mids.view(np.uint32)
        edges += [b, b + np.uint32(1), np.maximum(b, 1) - np.uint32(1)]
    x = np.concatenate([raw, near, tiny, *edges])
    x = np.concatenate([x, x ^ np.uint32(0x80000000)])
    return x[:(x.size - 5) // 8 * 8 + 5].view(np.float32)


def check_lanes(codec, x, rounding, rbits, overflow, fast: bool, out: bool = False) -> None:
    """encode and quantize of ``x`` on the device: the CPU's bits, and the kernels the CPU's plan
    implies (element_kernels where the fast path applies, ``fast``; else none of them); with
    ``out``, encode into ``out=`` and quantize in place."""
    opts = {"rounding": rounding, "overflow": overflow}
    if rbits is not None:
        opts.update(seed=11, rbits=rbits, index_offset=5)
    want_codes, want_q = codec.encode(x, **opts), codec.quantize(x, **opts)
    launched.clear()
    if out:
        codes = dev(np.zeros(x.shape, codec.code_dtype))
        assert codec.encode(dev(x), out=codes, **opts) is codes
        q = dev(x.copy())
        assert codec.quantize(q, out=q, **opts) is q
    else:
        codes, q = codec.encode(dev(x), **opts), codec.quantize(dev(x), **opts)
    what = f"{codec} {x.dtype} {rounding.name} rbits={rbits} {overflow}"
    np.testing.assert_array_equal(host(codes), want_codes, err_msg=what)
    np.testing.assert_array_equal(host(q).view(np.uint8), want_q.view(np.uint8), err_msg=what)
    want = element_kernels(x.dtype, codec.code_dtype, rounding) if fast else []
    assert fast_launches() == want, (what, launched)


def lane_eligible(codec, dtype) -> bool:
    from fmtlib._arrays import dtype_format
    from fmtlib.kernels import fast_path

    return fast_path.eligible(codec.format, dtype_format(np.dtype(dtype)), False)


def lane_sweep(dtype, names, n_random: int) -> None:
    x = lane_inputs(dtype, names, n_random)
    for name in names:
        codec = FP(name)
        eligible = lane_eligible(codec, dtype)
        for rounding, rbits in LANE_MODES:
            for overflow in ("saturate", "ieee"):
                check_lanes(codec, x, rounding, rbits, overflow, eligible)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_element_lanes_on_the_device_path(fake_cupy, bf16_device, dtype):
    """fmt_lanes_quantize and fmt_lanes_encode, launched by gpu.py where the CPU takes its lane
    kernels: every float16 and bfloat16 pattern, and float32 (random patterns, tiny values and
    subnormals, every value and midpoint of the formats and their neighbours, the specials),
    for the fast formats and small custom ones, both overflow policies, nearest-even,
    floor-on-overflow and stochastic (3, 33 and 62 random bits; a stochastic encode keeps
    fmt_fast, as the CPU keeps fast_stochastic): the CPU codec's bits."""
    dt = bf16_device if dtype == "bfloat16" else np.dtype(dtype)
    lane_sweep(dt, LANE_FORMATS, 1 << 12)


@pytest.mark.slow
def test_element_lanes_random_float32(fake_cupy):
    """The float32 sweep of the test above with 2**20 random patterns."""
    lane_sweep(np.float32, LANE_FORMATS, 1 << 20)


def test_element_lanes_in_grid_stride_loops(fake_cupy, bf16_device, monkeypatch):
    """The lane kernels with gpu.py's grid capped at 2 thread blocks (512 threads: 16 passes
    over every float16 pattern), then replayed with one warp and with three blocks of three
    warps; ragged sizes (n % 8 and n % 4 not 0), a view one element in (no vector loads: every
    element one by one), out= and in-place quantize: the same bytes, and the CPU's."""
    monkeypatch.setattr(gpu, "MAX_BLOCKS", 2)
    replays.extend(SMALL_GRIDS)
    for dtype in (np.float16, bf16_device, np.float32):
        full = lane_inputs(dtype, ["e4m3fn"], 1 << 12, seed=3)
        for x in (full, full[1:], full[:4099]):
            for codec, rounding, rbits in ((FP("e4m3fn"), Rounding.NEAREST_EVEN, None),
                                           (FP("e2m1"), Rounding.FLOOR_ON_OVERFLOW, None),
                                           (FP("e5m2"), Rounding.STOCHASTIC, 33)):
                check_lanes(codec, x, rounding, rbits, "ieee", True, out=x is not full)


def lane_codes(fmt, n_max: int = 1 << 16) -> np.ndarray:
    """Every code of ``fmt``, or (over ``n_max`` codes) a sample with both ends of each sign."""
    if fmt.num_codes <= n_max:
        return np.arange(fmt.num_codes, dtype=np.uint64)
    rng = np.random.default_rng(4)
    half = fmt.num_codes // 2
    ends = np.array([0, 1, half - 2, half - 1, half, half + 1, fmt.num_codes - 2, fmt.num_codes - 1], np.uint64)
    return np.concatenate([ends, rng.integers(0, fmt.num_codes, n_max - 8, dtype=np.uint64)])


@pytest.mark.parametrize("code_dtype", ["native", np.int32, np.int64])
def test_element_lane_decode_on_the_device_path(fake_cupy, bf16_device, code_dtype):
    """FP.decode on the device takes fmt_lanes_decode where fast_path.decode32_eligible holds (as
    the CPU's decode32): every code of each format (a sample of e8m15's) into float32, float16
    and bfloat16, codes as the codec's dtype or as int32/int64 (32- and 64-bit code loads),
    plus out=: the CPU's bits."""
    from fmtlib._arrays import dtype_format
    from fmtlib.kernels import fast_path

    for name in LANE_FORMATS:
        codec = FP(name)
        codes = lane_codes(codec.format).astype(codec.code_dtype if code_dtype == "native" else code_dtype)
        for out in (np.dtype(np.float32), np.dtype(np.float16), bf16_device):
            want = codec.decode(codes, dtype=out)
            launched.clear()
            got = codec.decode(dev(codes), dtype=out)
            np.testing.assert_array_equal(host(got).view(np.uint8), want.view(np.uint8), err_msg=f"{name} {out}")
            lanes = fast_path.decode32_eligible(codec.format, dtype_format(out))
            assert [n.split("<")[0] for n in launched] == ["fmt_lanes_decode" if lanes else "fmt_convert"], launched
            d = dev(np.zeros(codes.shape, out))
            assert codec.decode(dev(codes), out=d) is d
            np.testing.assert_array_equal(host(d).view(np.uint8), want.view(np.uint8), err_msg=f"{name} {out} out=")


def test_element_lanes_keep_fast_cu_elsewhere(fake_cupy):
    """float64 input, the directed modes, a stochastic encode and rand= keep fmt_fast or
    fmt_convert; flush_subnormals keeps the generic decode."""
    x = lane_inputs(np.float32, ["e4m3fn"], 1 << 10)
    for rounding in (Rounding.TOWARD_ZERO, Rounding.UP, Rounding.ODD, Rounding.NEAREST_AWAY):
        check_lanes(FP("e4m3fn"), x, rounding, None, "ieee", True)
        assert not any(n.startswith("fmt_lanes_") for n in launched), launched
    with np.errstate(invalid="ignore"):   # signalling NaNs
        x64 = x.astype(np.float64)
    check_lanes(FP("e4m3fn"), x64, Rounding.NEAREST_EVEN, None, "ieee", True)
    assert not any(n.startswith("fmt_lanes_") for n in launched), launched
    launched.clear()
    codes = np.arange(256, dtype=np.uint8)
    c = FP("e4m3fn", flush_subnormals=True)
    np.testing.assert_array_equal(host(c.decode(dev(codes))).view(np.uint32), c.decode(codes).view(np.uint32))
    assert [n.split("<")[0] for n in launched] == ["fmt_convert"], launched


@pytest.mark.parametrize("codec", [Scaled("e4m3", "e8m0", block=16), Scaled("bf16", "e8m0", block=None, axis=0),
                                   Scaled("int8", "e8m0", block=None, axis=None), Scaled("e2m1", "e8m0", block=32,
                                                                                          scale_rule="rceil")],
                         ids=repr)
def test_scaled_e8m0_on_the_device_path(fake_cupy, codec):
    check_scaled(codec, data((48, 40), seed=6))


def check_scaled(codec, x, tensor_amax=None):
    for opts in ({}, {"rounding": "stochastic", "seed": 2, "rbits": 20}):
        if tensor_amax is not None:
            opts["tensor_amax"] = tensor_amax
        enc, want = codec.encode(dev(x), **opts), codec.encode(x, **opts)
        assert enc.axis == want.axis and enc.block == want.block and enc.shape == want.shape
        np.testing.assert_array_equal(host(enc.codes), want.codes)
        np.testing.assert_array_equal(host(enc.scales), want.scales)
        np.testing.assert_array_equal(host(codec.quantize(dev(x), **opts)).view(np.uint32),
                                      codec.quantize(x, **opts).view(np.uint32))
        assert enc.tensor_amax == want.tensor_amax
        np.testing.assert_array_equal(host(codec.decode(enc)).view(np.uint32), codec.decode(want).view(np.uint32))
        np.testing.assert_array_equal(host(codec.decode(enc, dtype=np.float16)).view(np.uint16),
                                      codec.decode(want, dtype=np.float16).view(np.uint16))


@pytest.mark.parametrize("codec", [Scaled("e2m1", "ue4m3", block=16, global_scale=True), Scaled("int8", "fp32"),
                                   Scaled("e4m3", "bf16", block=None, axis=0), Scaled("e3m2", "fp16", block=None,
                                                                                       axis=None),
                                   Scaled("int16", "fp32", block=8, axis=1)], ids=repr)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scaled_float_scales_on_the_device_path(fake_cupy, codec, dtype):
    x = data((48, 40), dtype, seed=7)
    check_scaled(codec, x)
    if codec.global_scale:
        check_scaled(codec, x, tensor_amax=float(np.abs(x[np.isfinite(x)]).max()) * 3)
    empty = np.zeros((0, 4), dtype)
    if codec.axis is None:
        enc, want = codec.encode(dev(empty)), codec.encode(empty)
        np.testing.assert_array_equal(host(enc.scales), want.scales)
    big = np.full((2, 32), 1e30, np.float32)
    if codec.scale_format.max < 1e29 and not codec.global_scale:
        with pytest.raises(ValueError, match="need a scale above"):
            codec.encode(dev(big))


PER_TENSOR = [Scaled("int8", "e8m0", block=None, axis=None), Scaled("e4m3", "e8m0", block=None, axis=None,
                                                                  scale_rule="rceil"),
              Scaled("int8", "fp32", block=None, axis=None), Scaled("e2m1", "ue4m3", block=None, axis=None,
                                                                    global_scale=True),
              Scaled(Quantile.nf4(), "fp32", block=None, axis=None), Scaled(Quantile.nf4(), "absmax", block=None,
                                                                            axis=None)]


@pytest.mark.parametrize("codec", PER_TENSOR, ids=repr)
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_per_tensor_scaling_on_the_device_path(fake_cupy, codec, dtype):
    """Scaled(axis=None): fmt_amax_bits, then one thread per element with the one scale
    (tensor.cu), the CPU's bits. Each launch runs again with grids of one warp and of three
    blocks of three warps (every thread loops; the reduction's atomicMax meets other blocks):
    the amax in the last element, an inf or a NaN late in the tensor, all zeros, stochastic
    rounding at an index offset, and quantize into out=."""
    replays.extend(SMALL_GRIDS)
    x = data((37, 101), dtype, seed=12)[::-1].copy()   # data() puts inf, NaN, 0 first: here they come last
    finite = np.where(np.isfinite(x), x, 0).astype(dtype)
    m = np.abs(finite).max()
    last = np.where(np.abs(finite) == m, finite / 2, finite).astype(dtype)
    last[-1, -1] = -m   # the amax, alone in the last element
    book = isinstance(codec.element, Quantile)
    for inp in (x, last, np.zeros_like(x)):
        for opts in ({}, {} if codec.scale_mode == "absmax" else {"rounding": "stochastic", "seed": 4,
                                                                   "index_offset": 7}):
            launched.clear()
            enc, want = codec.encode(dev(inp), **opts), codec.encode(inp, **opts)
            assert launched[0].startswith("fmt_amax_bits<") and launched[-1].split("<")[0].endswith("_tensor"), \
                launched
            np.testing.assert_array_equal(host(enc.codes), want.codes)
            np.testing.assert_array_equal(host(enc.scales), want.scales)
            assert enc.tensor_amax == want.tensor_amax
            bits = np.dtype(f"u{x.itemsize}")
            out = dev(np.zeros_like(inp))
            assert codec.quantize(dev(inp), out=out, **opts) is out
            np.testing.assert_array_equal(host(out).view(bits), codec.quantize(inp, **opts).view(bits))
            if not book:
                np.testing.assert_array_equal(host(codec.decode(enc)).view(np.uint32),
                                              codec.decode(want).view(np.uint32))


@pytest.mark.parametrize("recipe", ["torchao", "torchao-0.16", "te"])
@pytest.mark.parametrize("global_scale", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_nvfp4_on_the_device_path(fake_cupy, recipe, global_scale, dtype):
    c = NVFP4(recipe=recipe, global_scale=global_scale, axis=0)
    x = data((64, 24), dtype, seed=4)
    for opts in ({}, {"rounding": "stochastic", "seed": 2}):
        enc, want = c.encode(dev(x), **opts), c.encode(x, **opts)
        assert enc.tensor_amax == want.tensor_amax and enc.axis == want.axis
        np.testing.assert_array_equal(host(enc.codes), want.codes)
        np.testing.assert_array_equal(host(enc.scales), want.scales)
        np.testing.assert_array_equal(host(c.quantize(dev(x), **opts)).view(np.uint8), c.quantize(x, **opts).view(np.uint8))
        np.testing.assert_array_equal(host(c.decode(enc)).view(np.uint32), c.decode(want).view(np.uint32))
    if global_scale:
        enc = c.encode(dev(x), tensor_amax=100.0)
        np.testing.assert_array_equal(host(enc.codes), c.encode(x, tensor_amax=100.0).codes)


@pytest.mark.parametrize("mode", list(Rounding), ids=lambda m: m.name.lower())
def test_nvfp4_elements_on_the_fast_and_the_generic_path(fake_cupy, mode):
    """NVFP4's element step rounds the float32 quotient with the fast path's constants (or, with
    the fast path disabled, f32_code): the CPU's bits both ways, every mode, float32 (whose
    fused output skips the generic conversion) and float16 input, every recipe."""
    from fmtlib.kernels import fast_path

    x = data((32, 48), np.float32, seed=8)
    x[np.isinf(x) | np.isnan(x)] = 3.0
    opts = {"seed": 2, "rbits": 20} if mode is Rounding.STOCHASTIC else {}
    for recipe in ("torchao", "torchao-0.16", "te"):
        c = NVFP4(recipe=recipe, rounding=mode)
        for dt in (np.float32, np.float16):
            with np.errstate(over="ignore"):   # float16: inf blocks, NaN scales
                xd = x.astype(dt)
            want = c.encode(xd, **opts), c.quantize(xd, **opts)
            for fast in (True, False):
                with (fast_path.disabled() if not fast else contextlib.nullcontext()):
                    enc, q = c.encode(dev(xd), **opts), c.quantize(dev(xd), **opts)
                np.testing.assert_array_equal(host(enc.codes), want[0].codes, err_msg=f"{recipe} {dt} {fast}")
                np.testing.assert_array_equal(host(enc.scales), want[0].scales)
                np.testing.assert_array_equal(host(q).view(np.uint8), want[1].view(np.uint8))


@pytest.mark.parametrize("codec", [SDR(), SDR(group=4, keep=5, base="int16", axis=0), SDR(rounding="toward_zero")],
                         ids=repr)
def test_sdr_on_the_device_path(fake_cupy, codec):
    rng = np.random.default_rng(8)
    fmt = codec.base.format
    q = rng.integers(fmt.min, fmt.max + 1, (12, 40)).astype(np.int16 if fmt.bits == 16 else np.int8)
    rec, want = codec.encode(dev(q)), codec.encode(q)
    assert rec.axis == want.axis and rec.shape == want.shape
    np.testing.assert_array_equal(host(rec.codes), want.codes)
    np.testing.assert_array_equal(host(rec.flags), want.flags)
    wide = q.astype(np.int32)
    got = codec.quantize(dev(wide))
    assert got.dtype == np.int32
    np.testing.assert_array_equal(host(got), codec.quantize(wide))
    np.testing.assert_array_equal(host(codec.decode(rec)), codec.decode(want))
    bad = q.astype(np.int32)
    bad[0, 0] = fmt.max + 1
    with pytest.raises(ValueError, match="outside the base"):
        codec.encode(dev(bad))


def test_device_data_goes_to_the_device_methods(fake_cupy):
    """The one seam (fmtlib._interop.interop): device data, and records holding it, go to the
    codec's ``_device_<method>`` with every argument by name (defaults filled in); host data
    to the method; a method with neither a ``_device_`` twin nor a ``_gpu_methods`` entry
    refuses device data with a TypeError."""
    import dataclasses

    from fmtlib.codecs.base import Codec

    @dataclasses.dataclass
    class Record:
        codes: object

    calls = []

    class Probe(Codec):
        def encode(self, x, *, rounding=None, out=None):
            return "host"

        def _device_encode(self, x, **opts):
            calls.append(("encode", opts))
            return x

        def decode(self, rec, dtype=np.float32, *, out=None):
            return "host"

        def _device_decode(self, rec, dtype, out):
            calls.append(("decode", {"dtype": dtype, "out": out}))
            return rec.codes

        def quantize(self, x, *, out=None):
            return "host"

        def _config_args(self):
            return (), {}

    p, x = Probe(), dev(np.ones(3, np.float32))
    assert p.encode(np.ones(3)) == "host" and p.decode(Record(np.ones(3))) == "host" and not calls
    assert p.encode(x, rounding="floor") is x
    assert p.decode(Record(x), np.float16) is x
    assert calls == [("encode", {"rounding": "floor", "out": None}), ("decode", {"dtype": np.float16, "out": None})]
    with pytest.raises(TypeError, match="does not run on the GPU"):
        p.quantize(x)
    import ml_dtypes   # ml_dtypes' float8/6/4 outputs are made on the host (fmtlib.codecs.small_floats)

    with pytest.raises(TypeError, match="float8_e4m3fn runs on the host"):
        FP("e2m1").decode(dev(np.arange(16, dtype=np.uint8)), dtype=ml_dtypes.float8_e4m3fn)


def test_sdr_range_counts_on_the_device_path(fake_cupy):
    """The out-of-range counts the SDR kernel adds up with atomics, over 12 CUDA blocks on two OS
    threads: the error gives the CPU's count."""
    q = np.random.default_rng(9).integers(-100, 100, (96, 512)).astype(np.int8)
    q[::3, ::16], q[::3, 1::16] = -128, 127   # 127 razors to 128 beside -128: 1/3 of the groups overflow int8
    errors = []
    for x in (q, dev(q)):
        with pytest.raises(ValueError, match="razored value.s. do not fit int8") as e:
            SDR().quantize(x)
        errors.append(str(e.value).split()[0])
    assert errors == [str(q[::3].size // 16)] * 2


def books():
    return [Quantile.nf4(), Quantile.nf4("bitsandbytes"), Quantile.fp4(rounding="toward_zero"),
            Quantile.dynamic(rounding="stochastic"), Quantile.normal(3, rounding="up")]


@pytest.mark.parametrize("q", books(), ids=repr)
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_quantile_on_the_device_path(fake_cupy, q, dtype):
    x = (data((9, 37), np.float64, seed=2) * 2.0 ** -18).astype(dtype)
    opts = {"seed": 4, "index_offset": 11} if q.rounding.name == "STOCHASTIC" else {}
    codes = q.encode(dev(x), **opts)
    assert type(codes) is DeviceArray and codes.dtype == q.code_dtype
    np.testing.assert_array_equal(host(codes), q.encode(x, **opts))
    got = q.quantize(dev(x), **opts)
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(host(got).view(np.uint8), q.quantize(x, **opts).view(np.uint8))
    for out in (np.float32, np.float16, np.float64):
        np.testing.assert_array_equal(host(q.decode(codes, dtype=out)).view(np.uint8),
                                      q.decode(host(codes), dtype=out).view(np.uint8))
    if opts:
        r = np.random.default_rng(0).integers(0, 1 << 10, x.shape)
        np.testing.assert_array_equal(host(q.encode(dev(x), rand=dev(r), rbits=10)), q.encode(x, rand=r, rbits=10))
        with pytest.raises(ValueError, match="seed= or rand="):
            q.encode(dev(x), rand=dev(r), rbits=10, seed=1)
        with pytest.raises(ValueError, match=r"\[0, 2\*\*10\)"):
            q.encode(dev(x), rand=dev(r * 4), rbits=10)


@pytest.mark.parametrize("codec", [Scaled(Quantile.nf4(), "absmax", block=64),
                                   Scaled(Quantile.fp4(), "absmax", block=32, axis=0),
                                   Scaled(Quantile.nf4(), "absmax", block=64, double_quant=True),
                                   Scaled(Quantile.nf4(), "fp32", block=16, rounding="stochastic"),
                                   Scaled(Quantile.dynamic(), "fp32", block=None, axis=None, rounding="down")],
                         ids=repr)
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_scaled_code_books_on_the_device_path(fake_cupy, codec, dtype):
    x = data((40, 70), dtype, seed=5)
    opts = {"seed": 3} if codec.rounding.name == "STOCHASTIC" else {}
    if codec.double_quant:   # the 8-bit map holding the scales has no NaN
        with pytest.raises(ValueError, match="finite block scales"):
            codec.encode(dev(x))
        x = np.where(np.isfinite(x), x, 1).astype(dtype)
    enc, want = codec.encode(dev(x), **opts), codec.encode(x, **opts)
    assert type(enc.codes) is DeviceArray and enc.axis == want.axis and enc.shape == want.shape
    np.testing.assert_array_equal(host(enc.codes), want.codes)
    np.testing.assert_array_equal(host(enc.scales), want.scales)
    if codec.double_quant:
        np.testing.assert_array_equal(host(enc.scale_scales), want.scale_scales)
        assert enc.scale_offset == want.scale_offset
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(host(codec.quantize(dev(x), **opts)).view(np.uint8),
                                      codec.quantize(x, **opts).view(np.uint8))
        for out in (np.float32, np.float16):
            np.testing.assert_array_equal(np.ascontiguousarray(host(codec.decode(enc, dtype=out))).view(np.uint8),
                                          np.ascontiguousarray(codec.decode(want, dtype=out)).view(np.uint8))


@pytest.mark.parametrize("codec", [FP("e2m1", rounding="stochastic"), Int(8, rounding="stochastic"),
                                   Quantile.nf4(rounding="stochastic")], ids=repr)
def test_rand_and_out_on_the_device_path(fake_cupy, codec):
    """Caller's random integers (rand=) and output arrays (out=, x itself for in-place) on the
    device give the CPU's bits."""
    x = data((6, 40), seed=9) * np.float32(2.0 ** -18)
    r = np.random.default_rng(1).integers(0, 1 << 12, x.shape).astype(np.int32)
    want = codec.encode(x, rand=r, rbits=12)
    out = dev(np.zeros(x.shape, codec.code_dtype))
    got = codec.encode(dev(x), rand=dev(r), rbits=12, out=out)
    assert got is out
    np.testing.assert_array_equal(host(out), want)
    xd = dev(x)
    assert codec.quantize(xd, rand=dev(r), rbits=12, out=xd) is xd   # in place
    np.testing.assert_array_equal(host(xd).view(np.uint32), codec.quantize(x, rand=r, rbits=12).view(np.uint32))
    with pytest.raises(ValueError, match="shape"):
        codec.encode(dev(x), rand=dev(r[:, :3]), rbits=12)
    if not isinstance(codec, Quantile):
        d = dev(np.empty(x.shape, np.float16))
        assert codec.decode(dev(want), out=d) is d
        np.testing.assert_array_equal(host(d).view(np.uint16), codec.decode(want, dtype=np.float16).view(np.uint16))


@pytest.mark.parametrize("codec", [MX("mxfp4", rounding="stochastic"), MX("mxfp8_e4m3", axis=0, rounding="stochastic"),
                                   NVFP4(rounding="stochastic"), Scaled("e2m1", "e8m0", block=16, rounding="stochastic"),
                                   Scaled("e4m3fn", "ue4m3", block=16, global_scale=True, rounding="stochastic"),
                                   Scaled(Int(8), "fp32", block=None, axis=None, rounding="stochastic"),
                                   Scaled(Quantile.nf4(), "fp32", block=32, axis=0, rounding="stochastic")], ids=repr)
def test_block_rand_and_out_on_the_device_path(fake_cupy, codec):
    """Block codecs on the device: rand= (the caller's integers, moved with the blocked axis as on
    the CPU; the kernels' rand argument), encode's out= (the codes) and decode's out= give the
    CPU's bits."""
    x = data((6, 64), seed=11) * np.float32(2.0 ** -18)
    r = np.random.default_rng(3).integers(0, 1 << 12, x.shape).astype(np.int32)
    want = codec.encode(x, rand=r, rbits=12)
    out = dev(np.zeros(x.shape, codec.element_code_dtype))
    got = codec.encode(dev(x), rand=dev(r), rbits=12, out=out)
    assert got.codes is out
    np.testing.assert_array_equal(host(out), want.codes)
    np.testing.assert_array_equal(host(got.scales), want.scales)
    np.testing.assert_array_equal(host(codec.quantize(dev(x), rand=dev(r), rbits=12)).view(np.uint32),
                                  codec.quantize(x, rand=r, rbits=12).view(np.uint32))
    d = dev(np.empty(x.shape, np.float16))
    assert codec.decode(got, out=d) is d
    np.testing.assert_array_equal(host(d).view(np.uint16), codec.decode(want, np.float16).view(np.uint16))
    with pytest.raises(TypeError, match="cupy array but the data is on the host"):
        codec.decode(want, out=d)   # a host record into a device array
    with pytest.raises(ValueError, match="shape"):
        codec.encode(dev(x), rand=dev(r[:, :3]), rbits=12)
    with pytest.raises(ValueError, match="out must have dtype"):
        codec.encode(dev(x), out=dev(np.zeros(x.shape, np.uint64)))


def test_sdr_encode_and_decode_into_out(fake_cupy):
    q = np.random.default_rng(5).integers(-128, 128, (4, 32)).astype(np.int8)
    c = SDR(group=8, axis=0)
    out = dev(np.zeros(q.shape, c.code_dtype))
    rec = c.encode(dev(q), out=out)
    assert rec.codes is out
    np.testing.assert_array_equal(host(out), c.encode(q).codes)
    d = dev(np.zeros(q.shape, np.int64))
    assert c.decode(rec, out=d) is d
    np.testing.assert_array_equal(host(d), c.decode(c.encode(q), np.int64))
    np.testing.assert_array_equal(host(c.quantize(dev(q), rounding="toward_zero")), c.quantize(q, rounding="toward_zero"))


@pytest.mark.parametrize("codec", [SDR(group=8), QRazor(scale_axis=0), Chain(Hadamard(32), MX("mxfp4")),
                                   Chain(Hadamard(32), FP("e2m1"))], ids=repr)
def test_pack_and_unpack_of_every_codec_kind_on_the_device_path(fake_cupy, codec):
    """SDR, QRazor and Chain pack on the device (the record's arrays stay there) and unpack to the
    CPU's values."""
    if isinstance(codec, SDR):
        x = np.random.default_rng(6).integers(-128, 128, (4, 64)).astype(np.int8)
    else:
        x = np.where(np.isfinite(data((4, 64), seed=6)), data((4, 64), seed=6), 0.5).astype(np.float32)
    p, want = codec.pack(dev(x)), codec.pack(x)
    assert type(p.data) is DeviceArray
    np.testing.assert_array_equal(host(p.data), want.data)
    got = codec.unpack(p)
    assert type(got) is DeviceArray
    np.testing.assert_array_equal(np.ascontiguousarray(host(got)).view(np.uint8),
                                  np.ascontiguousarray(codec.unpack(want)).view(np.uint8))


@pytest.mark.parametrize("codec", [MX("mxfp4"), NVFP4(), Scaled("e4m3", "fp32", block=16),
                                   Scaled(Quantile.nf4(), "absmax", block=64)], ids=repr)
def test_block_quantize_into_out(fake_cupy, codec):
    x = data((8, 64), seed=10)
    want = codec.quantize(x)
    out = dev(np.zeros_like(x))
    assert codec.quantize(dev(x), out=out) is out
    np.testing.assert_array_equal(host(out).view(np.uint32), want.view(np.uint32))
    xd = dev(x)
    assert codec.quantize(xd, out=xd) is xd
    np.testing.assert_array_equal(host(xd).view(np.uint32), want.view(np.uint32))
    with pytest.raises(ValueError, match="out must have dtype float32"):
        codec.quantize(dev(x), out=dev(np.zeros((8, 64), np.float16)))


def test_sdr_quantize_into_out(fake_cupy):
    q = np.random.default_rng(2).integers(-128, 128, (4, 32)).astype(np.int16)
    out = dev(np.zeros_like(q))
    assert SDR().quantize(dev(q), out=out) is out
    np.testing.assert_array_equal(host(out), SDR().quantize(q))


@pytest.mark.parametrize("k", [1, 3, 4, 6, 8, 12, 16, 24, 32])
@pytest.mark.parametrize("order", ["lsb", "msb"])
def test_bit_streams_on_the_device_path(fake_cupy, k, order):
    from fmtlib.packing import BitStream

    lay = BitStream(k, order)
    rng = np.random.default_rng(k)
    for shape, dt in (((5, 37), np.uint32), ((128,), np.uint64), ((), np.uint32), ((3, 0), np.uint32)):
        c = rng.integers(0, 1 << k, shape, dtype=np.uint64).astype(dt)
        buf = lay.pack(dev(c))
        assert type(buf) is DeviceArray
        np.testing.assert_array_equal(host(buf), lay.pack(c))
        back = lay.unpack(buf, shape)
        assert type(back) is DeviceArray and back.dtype == lay.unpack(host(buf), shape).dtype
        np.testing.assert_array_equal(host(back), c)
    if k < 32:
        with pytest.raises(ValueError, match="does not fit"):
            lay.pack(dev(np.array([1 << k], np.uint64)))
    with pytest.raises(ValueError, match="truncated buffer"):
        lay.unpack(dev(np.zeros(1, np.uint8)), (4, 40))
    with pytest.raises(TypeError, match="integer codes"):
        lay.pack(dev(np.zeros(3, np.float32)))


def test_fp6_llm_and_swizzle_on_the_device_path(fake_cupy):
    from fmtlib.packing import FP6LLM, Swizzled128x4

    rng = np.random.default_rng(0)
    c = rng.integers(0, 64, (70, 130)).astype(np.uint8)
    buf = FP6LLM().pack(dev(c))
    assert type(buf) is DeviceArray
    np.testing.assert_array_equal(host(buf), FP6LLM().pack(c))
    np.testing.assert_array_equal(host(FP6LLM().unpack(buf, c.shape)), c)
    with pytest.raises(TypeError, match="on the host"):
        FP6LLM().dequantize(buf, c.shape)
    s = rng.integers(0, 256, (2, 130, 7)).astype(np.uint8)
    sw = Swizzled128x4().pack(dev(s))
    np.testing.assert_array_equal(host(sw), Swizzled128x4().pack(s))
    np.testing.assert_array_equal(host(Swizzled128x4().unpack(sw, s.shape)), s)


@pytest.mark.parametrize("codec,layout", [(FP("e2m1"), None), (FP("e3m2"), "fp6x4"), (FP("e3m2"), "fp6_llm"),
                                          (Int(4), "fp4x2_hi"), (Quantile.nf4(), None)], ids=repr)
def test_element_pack_on_the_device_path(fake_cupy, codec, layout):
    x = data((64, 64), seed=12) * np.float32(2.0 ** -20)
    p = codec.pack(dev(x), layout=layout)
    buf = p.data
    assert type(buf) is DeviceArray
    np.testing.assert_array_equal(host(buf), codec.pack(x, layout=layout).data)
    got = codec.unpack(p)
    assert type(got) is DeviceArray
    np.testing.assert_array_equal(host(got).view(np.uint32),
                                  codec.unpack(host(buf), x.shape, layout=layout).view(np.uint32))


@pytest.mark.parametrize("codec", [MX("mxfp4"), MX("mxfp8_e4m3", axis=0), NVFP4(), Scaled("e2m1", "ue4m3", block=16,
                                                                                        global_scale=True)], ids=repr)
@pytest.mark.parametrize("scale_layout", ["row_major", "swizzled128x4"])
def test_block_pack_on_the_device_path(fake_cupy, codec, scale_layout):
    x = data((130, 64), seed=13)
    p, want = codec.pack(dev(x), scale_layout=scale_layout), codec.pack(x, scale_layout=scale_layout)
    assert type(p.data) is DeviceArray and type(p.scales) is DeviceArray and p.layout == want.layout
    np.testing.assert_array_equal(host(p.data), want.data)
    np.testing.assert_array_equal(host(p.scales), want.scales)
    assert p.tensor_amax == want.tensor_amax
    rec = codec.unpack_record(p)
    assert type(rec.codes) is DeviceArray
    np.testing.assert_array_equal(host(codec.unpack(p)).view(np.uint32), codec.unpack(want).view(np.uint32))


@pytest.mark.parametrize("scale_axis", [None, 0])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_qrazor_on_the_device_path(fake_cupy, scale_axis, dtype):
    from fmtlib.sdr import QRazor

    codec = QRazor(SDR(group=16), scale_axis=scale_axis)
    x = np.nan_to_num(data((12, 48), dtype, seed=14), nan=1.0, posinf=2.0)
    rec, want = codec.encode(dev(x)), codec.encode(x)
    assert type(rec.razored.codes) is DeviceArray
    np.testing.assert_array_equal(host(rec.razored.codes), want.razored.codes)
    np.testing.assert_array_equal(host(rec.scales), want.scales)
    dec = codec.decode(rec)
    assert type(dec) is DeviceArray
    np.testing.assert_array_equal(host(dec).view(np.uint32), codec.decode(want).view(np.uint32))
    got = codec.quantize(dev(x))
    assert type(got) is DeviceArray and got.dtype == x.dtype
    np.testing.assert_array_equal(host(got).view(np.uint8), codec.quantize(x).view(np.uint8))


@pytest.mark.parametrize("steps", [(Hadamard(32, seed=3),), (Clip(fraction=0.5),), (Clip(rms=2.0, axis=-1),),
                                   (Clip(percentile=99.0),), (Hadamard(16), Clip(3.0))], ids=repr)
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_chains_on_the_device_path(fake_cupy, steps, dtype):
    x = (data((16, 64), np.float64, seed=15) * 2.0 ** -16).astype(dtype)
    x = np.where(np.isfinite(x), x, 0.5).astype(dtype)
    for codec in (Chain(*steps, MX("mxfp4")), Chain(*steps, FP("e4m3fn"))):
        enc, want = codec.encode(dev(x)), codec.encode(x)
        got_codes = enc.codes if hasattr(enc, "codes") else enc
        want_codes = want.codes if hasattr(want, "codes") else want
        assert type(got_codes) is DeviceArray
        np.testing.assert_array_equal(host(got_codes), want_codes)
        np.testing.assert_array_equal(host(codec.quantize(dev(x))).view(np.uint8), codec.quantize(x).view(np.uint8))
        np.testing.assert_array_equal(np.ascontiguousarray(host(codec.decode(enc))).view(np.uint8),
                                      np.ascontiguousarray(codec.decode(want)).view(np.uint8))


def test_unsupported_methods_say_so(fake_cupy):
    x = dev(data((4, 32)))
    with pytest.raises(ValueError, match="code 16 out of range"):
        Quantile.nf4().decode(dev(np.array([16], np.uint8)))
    with pytest.raises(ValueError, match="1 code.s. not used"):
        Quantile([-1.0, 0.0, 0.5, 1.0], bits=3).decode(dev(np.array([0, 3, 5], np.uint8)))
    with pytest.raises(TypeError, match="out must be a cupy array"):
        FP("e2m1").quantize(x, out=np.empty((4, 32), np.float32))
    with pytest.raises(ValueError, match="out must have dtype uint8"):
        FP("e2m1").encode(x, out=dev(np.empty((4, 32), np.uint16)))
    with pytest.raises(ValueError, match="overlaps the input"):
        FP("e2m1").quantize(x.reshape(-1)[1:], out=x.reshape(-1)[:-1])
    import ml_dtypes

    with pytest.raises(TypeError, match="float16/32/64"):
        FP("e2m1").decode(FP("e2m1").encode(x), dtype=ml_dtypes.bfloat16)
    with pytest.raises(ValueError, match="out of range"):
        FP("e2m1").decode(dev(np.array([16], np.uint8)))
    import dataclasses

    enc = MX("mxfp4").encode(x)
    enc = dataclasses.replace(enc, scales=dev(host(enc.scales).astype(np.uint16) + 200))
    with pytest.raises(ValueError, match="scale code .* out of range"):   # never truncated to a byte
        MX("mxfp4").decode(enc)
    with pytest.raises(ValueError, match="record is nvfp4"):
        MX("mxfp4").decode(NVFP4().encode(x))
    with pytest.raises(TypeError, match="float64"):
        NVFP4().encode(dev(data((4, 32), np.float64)))
    sc = Scaled("e2m1", "ue4m3")
    enc = sc.encode(dev(np.ones((2, 32), np.float32)))
    enc.scales[...] = 200
    with pytest.raises(ValueError, match="scale code 200 out of range"):
        sc.decode(enc)


#: launch configurations far smaller than gpu.py's: one warp, and three blocks of three warps
SMALL_GRIDS = [((1,), (32,)), ((3,), (96,))]


def test_every_kernel_with_small_grids(fake_cupy):
    """Every kernel of fmtlib/kernels/cuda/ runs with gpu.py's launch, then again from the same
    inputs with a grid of one warp and of three blocks of three warps, so every thread takes
    many passes of its grid-stride loop; each output must be the same bytes (and the first
    launch's results are the CPU's). Rows of 101 elements leave ragged MX, NVFP4 and Scaled
    blocks and ragged CUDA blocks; 37 rows of NVFP4 blocks, an odd number, leave the last warp's
    second 16-lane group past the end."""
    import re

    from fmtlib.packing import BitStream

    replays.extend(SMALL_GRIDS)
    launched.clear()
    x = data((37, 101), seed=21)
    finite = np.where(np.isfinite(x), x, 1).astype(np.float32)
    r = np.random.default_rng(3).integers(0, 1 << 12, x.shape)
    for codec, inp in ((FP("e4m3fn"), x), (FP("e2m1", rounding="stochastic"), x), (MX("mxfp4"), x), (MX("mxint8"), x),
                       (MX("mxfp4", rounding="toward_zero"), x), (MX("mxint8", rounding="toward_zero"), x),
                       (Scaled("int8", "e8m0", block=None, axis=None, rounding="toward_zero"), finite),
                       (NVFP4(), finite), (Scaled("e4m3", "fp32", block=16), x), (Quantile.nf4(), x),
                       (Scaled(Quantile.nf4(), "fp32", block=16), x), (Scaled(Quantile.nf4(), "absmax", block=64), x),
                       *((c, finite) for c in PER_TENSOR[::2] + PER_TENSOR[-1:])):
        opts = {"seed": 1} if codec.rounding.name == "STOCHASTIC" else {}
        enc, want = codec.encode(dev(inp), **opts), codec.encode(inp, **opts)
        got_codes, want_codes = getattr(enc, "codes", enc), getattr(want, "codes", want)
        np.testing.assert_array_equal(host(got_codes), want_codes, err_msg=repr(codec))
        np.testing.assert_array_equal(host(codec.quantize(dev(inp), **opts)).view(np.uint32),
                                      codec.quantize(inp, **opts).view(np.uint32), err_msg=repr(codec))
        np.testing.assert_array_equal(np.ascontiguousarray(host(codec.decode(enc))).view(np.uint32),
                                      np.ascontiguousarray(codec.decode(want)).view(np.uint32), err_msg=repr(codec))
    c = FP("e2m1", rounding="stochastic")
    np.testing.assert_array_equal(host(c.encode(dev(x), rand=dev(r), rbits=12)), c.encode(x, rand=r, rbits=12))
    q = np.random.default_rng(4).integers(-128, 128, (37, 101)).astype(np.int8)
    rec, want = SDR().encode(dev(q)), SDR().encode(q)
    np.testing.assert_array_equal(host(rec.codes), want.codes)
    np.testing.assert_array_equal(host(SDR().decode(rec)), SDR().decode(want))
    codes = np.random.default_rng(5).integers(0, 8, (37, 101)).astype(np.uint8)
    buf = BitStream(3).pack(dev(codes))
    np.testing.assert_array_equal(host(buf), BitStream(3).pack(codes))
    np.testing.assert_array_equal(host(BitStream(3).unpack(buf, codes.shape)), codes)
    kernels = {m for p in cuda_host.CUDA_DIR.glob("*.cu") for m in re.findall(r"__global__ void (\w+)", p.read_text())}
    assert {n.split("<")[0] for n in launched} == kernels
