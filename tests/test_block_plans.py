"""The plans of the block codecs' small calls (fmtlib.codecs.blocked._plans): a call with every
option at its default reuses the layout and kernel choice made for its codec, input dtype and
shape, quantize or encode, and fast-path switch. Each test changes one part of that key after a
plan exists and checks the result against the general path (the plans switched off), so that a
dropped key part fails here."""
import ml_dtypes
import numpy as np
import pytest

from fmtlib import FP, MX, NVFP4, Scaled
from fmtlib.codecs import blocked
from fmtlib.kernels import fast_path
from fmtlib.kernels.cpu import convert as K

#: one codec per kind of plan: MX's lane kernel, Scaled's e8m0 lane kernel and float-scale rne
#: kernel, NVFP4's table kernel (with and without the global scale)
CODECS = {
    "mxfp4": MX("mxfp4"),
    "mxfp8": MX("mxfp8_e4m3"),
    "mxint8": MX("mxint8"),
    "e4m3fn_row": Scaled(FP("e4m3fn"), "fp32", block=None),
    "int8_b32": Scaled("int8", "fp32"),
    "e2m1_e8m0": Scaled("e2m1", "e8m0"),
    "mxfp6_rceil": MX("mxfp6_e3m2", scale_rule="rceil", block=16),
    "int4_fp16_b16": Scaled("int4", "fp16", block=16),
    "e5m2_bf16_row": Scaled(FP("e5m2"), "bf16", block=None),
    "e4m3_e8m0_even": Scaled("e4m3fn", "e8m0", scale_rule="even", block=8),
    "nvfp4": NVFP4(),
    "nvfp4_local": NVFP4(global_scale=False),
    "nvfp4_te": NVFP4(recipe="te"),
    "nvfp4_0.16": NVFP4(recipe="torchao-0.16", block=32),
}
#: the kernels the plans call (by name, looked up at each call)
PLANNED = ["mx32_quantize_f32", "mx32_encode_f32", "mx32_quantize_16", "mx32_encode_16", "mx32_int_quantize_f32",
           "mx32_int_encode_f32", "scaled_encode_rne", "nvfp4_encode_table", "nvfp4_quantize_table"]


@pytest.fixture
def ran(monkeypatch):
    """The names of the planned kernels called, in order; the plans start empty."""
    monkeypatch.setattr(blocked, "_plans", {})
    calls = []
    for name in PLANNED:
        def wrapped(*args, _f=getattr(K, name), _name=name):
            calls.append(_name)
            return _f(*args)
        monkeypatch.setattr(K, name, wrapped)
    return calls


def general(codec, method, x, **kw):
    """``codec.method(x, **kw)`` by the general path: no plan for any codec."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(blocked, "_plans", {})
        m.setattr(blocked.BlockCodec, "_plain", lambda self, x, fused, out: None)
        return getattr(codec, method)(x, **kw)


def data(shape, dtype=np.float32, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape) * np.exp2(np.random.default_rng(seed + 1).integers(
        -8, 8, shape))
    x = x.astype(dtype)
    x.reshape(-1)[:3] = [np.inf, np.nan, 0]
    return x


def bits(a):
    return a.view({1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize])


def same(a, b):
    """Equal results: arrays bit for bit (dtype and shape too), records field by field."""
    if isinstance(a, np.ndarray):
        assert type(b) is np.ndarray and a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(bits(a), bits(b))
        return
    assert type(a) is type(b)
    for f in ("codes", "scales"):
        same(getattr(a, f), getattr(b, f))
    for f in ("shape", "axis", "block", "format", "tensor_amax", "scale_scales", "scale_offset"):
        assert getattr(a, f) == getattr(b, f), f


@pytest.mark.parametrize("name", list(CODECS))
def test_plan_runs_and_equals_general_path(name, ran):
    codec = CODECS[name]
    x = data((4, 96))
    for method in ("quantize", "encode"):
        n = len(ran)
        got = getattr(codec, method)(x)
        again = getattr(codec, method)(x)
        assert len(ran) == n + 2   # the planned kernel ran
        same(got, general(codec, method, x))
        same(again, got)
    assert len(blocked._plans) == 2 and all(e[1] is not None for e in blocked._plans.values())
    o, oc = np.empty_like(x), np.empty(x.shape, codec.element_code_dtype)
    assert codec.quantize(x, out=o) is o and codec.encode(x, out=oc).codes is oc
    same(o, general(codec, "quantize", x))
    same(oc, general(codec, "encode", x).codes)
    y = x.copy()
    assert codec.quantize(y, out=y) is y   # in place
    same(y, o)


@pytest.mark.parametrize("name", list(CODECS))
def test_plan_key_codec_dtype_shape_method(name, ran):
    """A plan made for one codec, dtype, shape or method never serves another."""
    codec = CODECS[name]
    x = data((4, 64))
    codec.quantize(x)
    for other in CODECS.values():   # the same input, another codec
        same(other.quantize(x), general(other, "quantize", x))
    same(codec.encode(x), general(codec, "encode", x))   # encode after quantize
    for shape in ((2, 128), (8, 32), (256,), (2, 2, 64), (4, 48)):   # the same size or dtype, another shape
        y = data(shape, seed=3)
        same(codec.quantize(y), general(codec, "quantize", y))
    dtypes = [np.float16, ml_dtypes.bfloat16] + ([] if isinstance(codec, NVFP4) else [np.float64])
    for dt in dtypes:   # another dtype
        y = data((4, 64), dt, seed=5)
        same(codec.quantize(y), general(codec, "quantize", y))
        same(codec.encode(y), general(codec, "encode", y))


@pytest.mark.parametrize("name", list(CODECS))
def test_plan_key_fast_path_switch(name, ran):
    """Inside fast_path.disabled() no planned kernel runs (they are the fast path's), and the
    bits are the same."""
    codec = CODECS[name]
    x = data((4, 64))
    fast = codec.quantize(x), codec.encode(x)
    n = len(ran)
    assert n == 2
    with fast_path.disabled():
        slow = codec.quantize(x), codec.encode(x)
    assert len(ran) == n
    same(fast[0], slow[0])
    same(fast[1], slow[1])
    codec.quantize(x)
    assert len(ran) == n + 1


def test_call_options_take_the_general_path(ran):
    """Any option given is the general path's: rounding, random keywords, index_offset,
    tensor_amax."""
    x = data((4, 64))
    codec = MX("mxfp8_e4m3")
    codec.quantize(x)
    same(codec.quantize(x, rounding="toward_zero"), MX("mxfp8_e4m3", rounding="toward_zero").quantize(x))
    sr = codec.quantize(x, rounding="stochastic", seed=3, index_offset=64)
    same(sr, MX("mxfp8_e4m3", rounding="stochastic").quantize(x, seed=3, index_offset=64))
    with pytest.raises(ValueError, match="index_offset"):
        codec.quantize(x, index_offset=-1)
    with pytest.raises(ValueError, match="seed= is only used"):
        codec.quantize(x, seed=1)
    nv = NVFP4()
    nv.quantize(x)
    same(nv.encode(x, tensor_amax=100.0), general(nv, "encode", x, tensor_amax=100.0))
    with pytest.raises(ValueError, match="tensor_amax"):
        NVFP4(global_scale=False).quantize(x, tensor_amax=1.0)
    row = Scaled("e4m3fn", "fp32", block=None)
    row.quantize(x)
    with pytest.raises(ValueError, match="tensor_amax"):
        row.quantize(x, tensor_amax=1.0)


def test_codecs_without_a_plan(ran):
    """Another blocked axis, a NaN check, a stochastic codec, strict blocks: the general path."""
    x = data((64, 64))
    for codec in (MX("mxfp4", axis=0), Scaled(FP("e4m3fn", nan="ignore"), "fp32", axis=0),
                  MX("mxfp4", rounding="stochastic"), NVFP4(rounding="stochastic")):
        codec.quantize(x)
        assert not any(e[1] for e in blocked._plans.values())
    with pytest.raises(ValueError, match="NaN"):
        Scaled(FP("e4m3fn", nan="raise"), "fp32", block=None).quantize(x)
    with pytest.raises(ValueError, match="not a multiple of block"):
        Scaled("int8", "fp32", block=48, strict=True).quantize(x)
    with pytest.raises(ValueError, match="at least one dimension"):
        MX("mxfp4").quantize(np.float32(1.0).reshape(()))


@pytest.mark.parametrize("name", list(CODECS))
def test_bad_out_after_a_plan(name, ran):
    """With a plan in place, a bad out= gets the general path's errors."""
    codec = CODECS[name]
    x = data((4, 64))
    codec.quantize(x)
    codec.encode(x)
    bad = [np.empty(x.shape, np.float64), np.empty((4, 65), np.float32)[:, :64], np.empty((64, 4), np.float32).T,
           np.empty((2, 128), np.float32), [[0.0] * 64] * 4]
    ro = np.empty_like(x)
    ro.flags.writeable = False
    bad.append(ro)
    big = np.empty(2 * x.size, np.float32)
    big[:x.size] = x.reshape(-1)
    bad.append(big[1:x.size + 1].reshape(x.shape))   # overlaps the input, not the input itself
    for o in bad:
        with pytest.raises((ValueError, TypeError)) as e:
            codec.quantize(big[:x.size].reshape(x.shape), out=o)
        with pytest.raises(type(e.value), match=str(e.value).replace("(", r"\(").replace(")", r"\)")):
            general(codec, "quantize", big[:x.size].reshape(x.shape), out=o)
    with pytest.raises(ValueError, match="out must have dtype uint8"):
        codec.encode(x, out=np.empty(x.shape, np.float32))


def test_scale_beyond_format_raises_through_the_plan(ran):
    """The rne plan keeps the check of a scale beyond the scale format."""
    codec = Scaled("e4m3fn", "fp16", block=None)
    x = np.ones((2, 32), np.float32)
    codec.quantize(x)
    x[1, 3] = 1e9
    with pytest.raises(ValueError, match=r"1 block\(s\) need a scale above"):
        codec.quantize(x)
    assert ran == ["scaled_encode_rne"] * 2 and [e[1] is not None for e in blocked._plans.values()] == [True]


def test_finite_amax_constants_per_dtype():
    """finite_amax keeps its masks per dtype: each dtype in turn, the largest finite magnitude."""
    for dt in (np.float32, np.float16, ml_dtypes.bfloat16, np.float64, np.float32):
        x = data((3, 40), dt, seed=7)
        x[1, 5] = -np.inf
        want = float(np.max(np.abs(x[np.isfinite(x)].astype(np.float64))))
        assert blocked.finite_amax(x) == want and type(blocked.finite_amax(x)) is float
        assert blocked.finite_amax(np.array([np.nan, -np.inf], dt)) == 0.0
