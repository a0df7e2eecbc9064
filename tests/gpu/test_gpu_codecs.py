"""On a CUDA device: every GPU codec method gives the CPU's bits, stochastic rounding included
(same seed, same bits). Skipped, with the reason, without cupy or a device."""
import numpy as np
import pytest

from gpu_device import cupy, pytestmark  # noqa: F401  (skips without cupy or a device)

from fmtlib import FP, MX, NVFP4, SDR, Int, Quantile, Rounding, Scaled  # noqa: E402
from test_nvfp4 import tie_blocks  # noqa: E402  (tests/ is on the path: tests/conftest.py)

ELEMENT = [FP("e2m1"), FP("e3m2"), FP("e2m3"), FP("e4m3fn"), FP("e4m3"), FP("e5m2"), FP("e8m0"), FP("bf16"),
           FP("fp16"), FP("e4m3fn", overflow="saturate"), Int(8), Int(4), Int(8, signed=False)]


def all16(dtype):
    return np.arange(1 << 16, dtype=np.uint16).view(dtype)


@pytest.mark.parametrize("codec", ELEMENT, ids=repr)
@pytest.mark.parametrize("mode", list(Rounding), ids=lambda m: m.name.lower())
def test_element_codecs_match_the_cpu_on_every_float16_input(codec, mode):
    x = all16(np.float16)
    opts = {"rounding": mode}
    if mode is Rounding.STOCHASTIC:
        opts.update(seed=123, index_offset=7)
    want = codec.encode(x, **opts)
    got = codec.encode(cupy.asarray(x), **opts)
    np.testing.assert_array_equal(cupy.asnumpy(got), want)
    np.testing.assert_array_equal(cupy.asnumpy(codec.quantize(cupy.asarray(x), **opts)).view(np.uint16),
                                  codec.quantize(x, **opts).view(np.uint16))
    np.testing.assert_array_equal(cupy.asnumpy(codec.decode(got)).view(np.uint32), codec.decode(want).view(np.uint32))


FAST = ["e2m1", "e3m2", "e2m3", "e4m3fn", "e5m2", "e4m3", "e4m3fnuz", "e3m4", "bf16", "fp16"]


def random_floats(dtype, n, seed=0):
    """Random bit patterns, values over many binades and tiny ones (subnormals), both signs."""
    rng = np.random.default_rng(seed)
    ui = np.uint32 if dtype == np.float32 else np.uint64
    raw = rng.integers(0, np.iinfo(ui).max, n // 2, dtype=ui, endpoint=True).view(dtype)
    near = (rng.standard_normal(n // 4) * np.exp2(rng.integers(-40, 40, n // 4))).astype(dtype)
    tiny = rng.integers(0, 1 << 30, n - n // 2 - n // 4, dtype=ui).view(dtype)
    return np.concatenate([raw, near, -tiny])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("mode", list(Rounding), ids=lambda m: m.name.lower())
def test_fast_path_matches_the_cpu(dtype, mode):
    """The fast kernel (fmt_fast): 2**20 + 3 random patterns, aligned and one element in (no
    vector loads), encode, quantize and in-place quantize give the CPU's bits."""
    x = random_floats(dtype, (1 << 20) + 3)
    opts = {"rounding": mode}
    if mode is Rounding.STOCHASTIC:
        opts.update(seed=77, index_offset=(1 << 33) + 5)
    ui = np.uint32 if dtype == np.float32 else np.uint64
    for name in FAST:
        codec = FP(name)
        for k in (0, 1):
            xs, xd = x[k:], cupy.asarray(x)[k:]   # a device view one element in: not aligned for quads
            np.testing.assert_array_equal(cupy.asnumpy(codec.encode(xd, **opts)), codec.encode(xs, **opts),
                                          err_msg=name)
            want = codec.quantize(xs, **opts).view(ui)
            np.testing.assert_array_equal(cupy.asnumpy(codec.quantize(xd, **opts)).view(ui), want, err_msg=name)
            assert codec.quantize(xd, out=xd, **opts) is xd
            np.testing.assert_array_equal(cupy.asnumpy(xd).view(ui), want, err_msg=f"{name} in place")


@pytest.mark.parametrize("name", ["mxfp4", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp8_e4m3", "mxfp8_e5m2", "mxint8"])
@pytest.mark.parametrize("rule", ["floor", "ceil", "even", "rceil"])
@pytest.mark.parametrize("mode", ["nearest_even", "stochastic"])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_mx_matches_the_cpu(name, rule, mode, dtype):
    """Float32 and float16 input: fmt_mx32_encode (the CPU's lane kernels) where they apply."""
    rng = np.random.default_rng(0)
    lo, hi = (-60, 60) if dtype == np.float32 else (-24, 12)
    x = (rng.standard_normal((257, 96)) * np.exp2(rng.integers(lo, hi, (257, 1)))).astype(dtype)
    x[0, 0], x[1, 1] = np.inf, np.nan
    ui = np.uint32 if dtype == np.float32 else np.uint16
    c = MX(name, scale_rule=rule, rounding=mode)
    opts = {"seed": 5} if mode == "stochastic" else {}
    want, got = c.encode(x, **opts), c.encode(cupy.asarray(x), **opts)
    np.testing.assert_array_equal(cupy.asnumpy(got.codes), want.codes)
    np.testing.assert_array_equal(cupy.asnumpy(got.scales), want.scales)
    np.testing.assert_array_equal(cupy.asnumpy(c.quantize(cupy.asarray(x), **opts)).view(ui),
                                  c.quantize(x, **opts).view(ui))
    np.testing.assert_array_equal(cupy.asnumpy(c.decode(got)).view(np.uint32), c.decode(want).view(np.uint32))


@pytest.mark.parametrize("recipe", ["torchao", "torchao-0.16", "te"])
@pytest.mark.parametrize("global_scale", [True, False])
@pytest.mark.parametrize("mode", ["nearest_even", "stochastic"])
def test_nvfp4_matches_the_cpu(recipe, global_scale, mode):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((300, 64)) * np.exp2(rng.integers(-20, 20, (300, 1)))).astype(np.float32)
    x[0, 0], x[1, 1] = np.inf, np.nan
    x[2:7, :16] = tie_blocks()[:5]  # E2M1 ties: the recipes part here
    c = NVFP4(recipe=recipe, global_scale=global_scale, rounding=mode)
    opts = {"seed": 5} if mode == "stochastic" else {}
    want, got = c.encode(x, **opts), c.encode(cupy.asarray(x), **opts)
    assert got.tensor_amax == want.tensor_amax
    np.testing.assert_array_equal(cupy.asnumpy(got.codes), want.codes)
    np.testing.assert_array_equal(cupy.asnumpy(got.scales), want.scales)
    np.testing.assert_array_equal(cupy.asnumpy(c.quantize(cupy.asarray(x), **opts)).view(np.uint32),
                                  c.quantize(x, **opts).view(np.uint32))
    np.testing.assert_array_equal(cupy.asnumpy(c.decode(got)).view(np.uint32), c.decode(want).view(np.uint32))


@pytest.mark.parametrize("codec", [Scaled("e4m3", "e8m0", block=16), Scaled("bf16", "e8m0", block=None, axis=0),
                                   Scaled("int8", "e8m0", block=None, axis=None),
                                   Scaled("e2m1", "ue4m3", block=16, global_scale=True), Scaled("int8", "fp32"),
                                   Scaled("e4m3", "bf16", block=None, axis=0), Scaled("e3m2", "fp32", axis=None,
                                                                                       block=None)], ids=repr)
def test_scaled_matches_the_cpu(codec):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((128, 96)) * np.exp2(rng.integers(-30, 30, (128, 1)))).astype(np.float32)
    x[0, 0], x[1, 1] = np.inf, np.nan
    for opts in ({}, {"rounding": "stochastic", "seed": 4, "rbits": 20}):
        want, got = codec.encode(x, **opts), codec.encode(cupy.asarray(x), **opts)
        np.testing.assert_array_equal(cupy.asnumpy(got.codes), want.codes)
        np.testing.assert_array_equal(cupy.asnumpy(got.scales), want.scales)
        np.testing.assert_array_equal(cupy.asnumpy(codec.quantize(cupy.asarray(x), **opts)).view(np.uint32),
                                      codec.quantize(x, **opts).view(np.uint32))
        np.testing.assert_array_equal(cupy.asnumpy(codec.decode(got)).view(np.uint32),
                                      codec.decode(want).view(np.uint32))


@pytest.mark.parametrize("codec", [Scaled("int8", "e8m0", block=None, axis=None),
                                   Scaled("e4m3", "e8m0", block=None, axis=None, scale_rule="rceil"),
                                   Scaled("int8", "fp32", block=None, axis=None),
                                   Scaled("e2m1", "ue4m3", block=None, axis=None, global_scale=True),
                                   Scaled(Quantile.nf4(), "fp32", block=None, axis=None),
                                   Scaled(Quantile.nf4(), "absmax", block=None, axis=None)], ids=repr)
def test_per_tensor_scaling_matches_the_cpu(codec):
    """Scaled(axis=None) on 2**22 elements: fmt_amax_bits over a grid of 1024 blocks meeting in
    atomicMax, then a thread per element; the amax alone in the last element, then an inf there."""
    rng = np.random.default_rng(9)
    x = (rng.standard_normal((1024, 4096)) * np.exp2(rng.integers(-20, 20, (1024, 1)))).astype(np.float32)
    x[-1, -1] = 2 * np.abs(x).max()
    modes = [{}] if codec.scale_mode == "absmax" else [{}, {"rounding": "stochastic", "seed": 4, "index_offset": 3}]
    for inp in (x, np.where(np.arange(x.size).reshape(x.shape) == x.size - 1, np.inf, x).astype(np.float32)):
        for opts in modes:
            want, got = codec.encode(inp, **opts), codec.encode(cupy.asarray(inp), **opts)
            np.testing.assert_array_equal(cupy.asnumpy(got.codes), want.codes)
            np.testing.assert_array_equal(cupy.asnumpy(got.scales), want.scales)
            np.testing.assert_array_equal(cupy.asnumpy(codec.quantize(cupy.asarray(inp), **opts)).view(np.uint32),
                                          codec.quantize(inp, **opts).view(np.uint32))


BOOK_MODES = ["nearest_even", "nearest_away", "toward_zero", "down", "up", "stochastic"]


@pytest.mark.parametrize("q", [Quantile.nf4(), Quantile.fp4(), Quantile.dynamic(), Quantile.nf4("bitsandbytes")],
                         ids=repr)
@pytest.mark.parametrize("mode", BOOK_MODES)
def test_quantile_matches_the_cpu_on_every_float16_input(q, mode):
    if q.thresholds is not None and mode == "nearest_away":
        pytest.skip("a table with thresholds has one nearest mode")
    x = all16(np.float16)
    opts = {"rounding": mode}
    if mode == "stochastic":
        opts.update(seed=123, index_offset=7)
    want, got = q.encode(x, **opts), q.encode(cupy.asarray(x), **opts)
    np.testing.assert_array_equal(cupy.asnumpy(got), want)
    for dt in (np.float16, np.float32):
        xd = x.astype(dt)
        np.testing.assert_array_equal(cupy.asnumpy(q.quantize(cupy.asarray(xd), **opts)).view(np.uint8),
                                      q.quantize(xd, **opts).view(np.uint8))
    np.testing.assert_array_equal(cupy.asnumpy(q.decode(got)).view(np.uint32), q.decode(want).view(np.uint32))


@pytest.mark.parametrize("codec", [Scaled(Quantile.nf4(), "absmax", block=64), Scaled(Quantile.fp4(), "absmax"),
                                   Scaled(Quantile.nf4(), "absmax", block=64, double_quant=True),
                                   Scaled(Quantile.nf4(), "fp32", block=16, rounding="stochastic"),
                                   Scaled(Quantile.dynamic(), "fp32", block=None, axis=0)], ids=repr)
def test_scaled_code_books_match_the_cpu(codec):
    rng = np.random.default_rng(6)
    x = (rng.standard_normal((256, 128)) * np.exp2(rng.integers(-30, 30, (256, 1)))).astype(np.float32)
    opts = {"seed": 4} if codec.rounding is Rounding.STOCHASTIC else {}
    want, got = codec.encode(x, **opts), codec.encode(cupy.asarray(x), **opts)
    np.testing.assert_array_equal(cupy.asnumpy(got.codes), want.codes)
    np.testing.assert_array_equal(cupy.asnumpy(got.scales), want.scales)
    np.testing.assert_array_equal(cupy.asnumpy(codec.quantize(cupy.asarray(x), **opts)).view(np.uint32),
                                  codec.quantize(x, **opts).view(np.uint32))
    np.testing.assert_array_equal(cupy.asnumpy(codec.decode(got)).view(np.uint32), codec.decode(want).view(np.uint32))


def subnormal_blocks(seed=7):
    """float32 rows whose values (and so their amax, scales and scaled elements) are float32
    subnormals or just above: what a flush-to-zero float32 instruction would change."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((64, 64)) * np.exp2(rng.integers(-149, -120, (64, 1)))).astype(np.float32)


@pytest.mark.parametrize("codec", [NVFP4(recipe="torchao"), NVFP4(recipe="te"),
                                   NVFP4(recipe="torchao", global_scale=False), NVFP4(recipe="te", global_scale=False),
                                   Scaled(Quantile.nf4(), "absmax", block=64), Scaled(Quantile.nf4(), "fp32", block=16),
                                   Scaled(Quantile.nf4("bitsandbytes"), "absmax", block=64)], ids=repr)
def test_float32_subnormals_keep_the_cpus_bits(codec):
    """nvfp4.cu and codebook.cu do float32 arithmetic; compiled without CuPy's -ftz=true
    (fmtlib.kernels.gpu_build) it keeps subnormals as the CPU does."""
    x = subnormal_blocks()
    want, got = codec.encode(x), codec.encode(cupy.asarray(x))
    np.testing.assert_array_equal(cupy.asnumpy(got.codes), want.codes)
    np.testing.assert_array_equal(cupy.asnumpy(got.scales), want.scales)
    np.testing.assert_array_equal(cupy.asnumpy(codec.quantize(cupy.asarray(x))).view(np.uint32),
                                  codec.quantize(x).view(np.uint32))


@pytest.mark.parametrize("codec", [SDR(), SDR(group=32, keep=7, base="int16"), SDR(rounding="nearest_even")], ids=repr)
def test_sdr_matches_the_cpu(codec):
    fmt = codec.base.format
    q = np.random.default_rng(3).integers(fmt.min, fmt.max + 1, (257, 96)).astype(np.int32)
    want, got = codec.encode(q), codec.encode(cupy.asarray(q))
    np.testing.assert_array_equal(cupy.asnumpy(got.codes), want.codes)
    np.testing.assert_array_equal(cupy.asnumpy(got.flags), want.flags)
    np.testing.assert_array_equal(cupy.asnumpy(codec.quantize(cupy.asarray(q))), codec.quantize(q))
    np.testing.assert_array_equal(cupy.asnumpy(codec.decode(got)), codec.decode(want))


def test_torch_cuda_tensors_go_through_dlpack():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA here")
    t = torch.randn(1024, device="cuda")
    q = FP("e4m3fn").quantize(t)
    assert isinstance(q, torch.Tensor) and q.device.type == "cuda"
    np.testing.assert_array_equal(q.cpu().numpy(), FP("e4m3fn").quantize(t.cpu().numpy()))


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32])
@pytest.mark.parametrize("order", ["lsb", "msb"])
def test_bit_streams_match_the_cpu(k, order):
    from fmtlib.packing import BitStream

    lay = BitStream(k, order)
    c = np.random.default_rng(k).integers(0, 1 << k, (33, 1001), dtype=np.uint64).astype(np.uint32)
    buf = lay.pack(cupy.asarray(c))
    np.testing.assert_array_equal(cupy.asnumpy(buf), lay.pack(c))
    np.testing.assert_array_equal(cupy.asnumpy(lay.unpack(buf, c.shape)), c)


def test_packed_records_match_the_cpu():
    from fmtlib.packing import FP6LLM

    x = np.random.default_rng(5).standard_normal((256, 128)).astype(np.float32)
    for codec in (MX("mxfp4"), NVFP4()):
        p, want = codec.pack(cupy.asarray(x), scale_layout="swizzled128x4"), codec.pack(x, scale_layout="swizzled128x4")
        np.testing.assert_array_equal(cupy.asnumpy(p.data), want.data)
        np.testing.assert_array_equal(cupy.asnumpy(p.scales), want.scales)
        np.testing.assert_array_equal(cupy.asnumpy(codec.unpack(p)), codec.unpack(want))
    c = FP("e3m2").encode(x)
    buf = FP6LLM().pack(cupy.asarray(c))
    np.testing.assert_array_equal(cupy.asnumpy(buf), FP6LLM().pack(c))
    np.testing.assert_array_equal(cupy.asnumpy(FP6LLM().unpack(buf, c.shape)), c)


def test_out_and_rand_match_the_cpu():
    x = all16(np.float16).astype(np.float32)
    r = np.random.default_rng(0).integers(0, 1 << 16, x.shape).astype(np.int32)
    for codec in (FP("e2m1", rounding="stochastic"), Quantile.nf4(rounding="stochastic")):
        out = cupy.empty(x.shape, codec.code_dtype)
        assert codec.encode(cupy.asarray(x), rand=cupy.asarray(r), rbits=16, out=out) is out
        np.testing.assert_array_equal(cupy.asnumpy(out), codec.encode(x, rand=r, rbits=16))
        xd = cupy.asarray(x)
        codec.quantize(xd, rand=cupy.asarray(r), rbits=16, out=xd)
        np.testing.assert_array_equal(cupy.asnumpy(xd).view(np.uint32),
                                      codec.quantize(x, rand=r, rbits=16).view(np.uint32))


def test_qrazor_and_chains_match_the_cpu():
    from fmtlib.sdr import QRazor
    from fmtlib.transforms import Chain, Clip, Hadamard

    x = np.random.default_rng(7).standard_normal((128, 256)).astype(np.float32)
    for codec in (QRazor(SDR()), QRazor(SDR(group=32, keep=7, base="int16"), scale_axis=0),
                  Chain(Hadamard(32, seed=1), MX("mxfp4")), Chain(Clip(fraction=0.7), FP("e2m1")),
                  Chain(Hadamard(32), Clip(rms=2.5), NVFP4())):
        np.testing.assert_array_equal(cupy.asnumpy(codec.quantize(cupy.asarray(x))).view(np.uint32),
                                      codec.quantize(x).view(np.uint32))


@pytest.mark.parametrize("codec", [MX("mxfp4", rounding="stochastic"), MX("mxfp8_e4m3", axis=0, rounding="stochastic"),
                                   NVFP4(rounding="stochastic"), Scaled("e2m1", "e8m0", block=16, rounding="stochastic"),
                                   Scaled("e4m3fn", "ue4m3", block=16, global_scale=True, rounding="stochastic"),
                                   Scaled(Int(8), "fp32", block=None, axis=None, rounding="stochastic"),
                                   Scaled("e4m3", "e8m0", block=None, axis=None, rounding="stochastic"),
                                   Scaled(Quantile.nf4(), "fp32", block=None, axis=None, rounding="stochastic"),
                                   Scaled(Quantile.nf4(), "fp32", block=32, axis=0, rounding="stochastic")], ids=repr)
def test_block_rand_and_out_match_the_cpu(codec):
    """Block codecs (per block and per tensor) with the caller's random integers (rand=) and
    encode's and decode's out=: the kernels' rand argument gives the CPU's bits."""
    x = (np.random.default_rng(11).standard_normal((64, 512)) * np.float32(2.0 ** -18)).astype(np.float32)
    r = np.random.default_rng(3).integers(0, 1 << 12, x.shape).astype(np.int32)
    want = codec.encode(x, rand=r, rbits=12)
    out = cupy.zeros(x.shape, codec.element_code_dtype)
    got = codec.encode(cupy.asarray(x), rand=cupy.asarray(r), rbits=12, out=out)
    assert got.codes is out
    np.testing.assert_array_equal(cupy.asnumpy(out), want.codes)
    np.testing.assert_array_equal(cupy.asnumpy(got.scales), want.scales)
    np.testing.assert_array_equal(cupy.asnumpy(codec.quantize(cupy.asarray(x), rand=cupy.asarray(r), rbits=12))
                                  .view(np.uint32), codec.quantize(x, rand=r, rbits=12).view(np.uint32))
    d = cupy.empty(x.shape, np.float16)
    assert codec.decode(got, out=d) is d
    np.testing.assert_array_equal(cupy.asnumpy(d).view(np.uint16), codec.decode(want, np.float16).view(np.uint16))


def test_pack_and_unpack_of_sdr_qrazor_and_chains_match_the_cpu():
    from fmtlib.sdr import QRazor
    from fmtlib.transforms import Chain, Hadamard

    q = np.random.default_rng(6).integers(-128, 128, (64, 256)).astype(np.int8)
    x = np.random.default_rng(6).standard_normal((64, 256)).astype(np.float32)
    for codec, data in ((SDR(group=8), q), (QRazor(scale_axis=0), x), (Chain(Hadamard(32), MX("mxfp4")), x),
                        (Chain(Hadamard(32), FP("e2m1")), x)):
        p, want = codec.pack(cupy.asarray(data)), codec.pack(data)
        np.testing.assert_array_equal(cupy.asnumpy(p.data), want.data)
        np.testing.assert_array_equal(np.ascontiguousarray(cupy.asnumpy(codec.unpack(p))).view(np.uint8),
                                      np.ascontiguousarray(codec.unpack(want)).view(np.uint8))
